//! Token and HTTP Basic floods.

use super::*;

#[actix_web::test]
async fn a_token_flood_leaves_valid_users_unaffected() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Sqlite, |config| config.auth.cache_seconds = 60);
    let app = kit.service().await;
    let valid = |count: usize| {
        let kit = &kit;
        let app = &app;
        async move {
            let mut outcomes = Outcomes::default();
            for _ in 0..count {
                let (reply, took) = timed(kit, app, "GET", "/api/v1/alpha/tag/1/", "root").await;
                outcomes.statuses.push(reply.status);
                outcomes.latencies.push(took);
            }
            outcomes
        }
    };
    valid(20).await;
    let baseline = valid(200).await;
    let authenticator = kit.registry();
    let lookups_before = authenticator.authenticator().unwrap().platform_lookups();

    let flood = async {
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        for batch in 0..100 {
            let requests = (0..200).map(|number| {
                let request = TestRequest::get()
                    .uri("/api/v1/alpha/tag/1/")
                    .insert_header((
                        header::AUTHORIZATION,
                        // Of the form of issued tokens, so that each costs a lookup.
                        format!("Token tap_{batch:08x}{number:032x}"),
                    ));
                send(&app, request)
            });
            for reply in futures_util::future::join_all(requests).await {
                *statuses.entry(reply.status).or_default() += 1;
            }
        }
        statuses
    };
    let started = Instant::now();
    let (under_flood, flooded) = futures_util::future::join(valid(200), flood).await;
    let flood_took = started.elapsed();
    eprintln!("20,000 random tokens in {flood_took:?}: {flooded:?}");
    assert_eq!(flooded.values().sum::<usize>(), 20_000);
    assert!(
        flooded
            .keys()
            .all(|status| *status == 401 || *status == 429),
        "{flooded:?}"
    );
    assert_eq!(under_flood.errors(), Vec::<u16>::new());
    let (base, flood) = (baseline.percentile(0.5), under_flood.percentile(0.5));
    eprintln!("valid user p50 {base:?} -> {flood:?} during the flood");
    assert!(
        flood <= base * 2 + Duration::from_millis(5),
        "valid users' latency within 2x: {base:?} -> {flood:?}"
    );
    // Their verdict stayed cached through the flood: asking again costs no lookup.
    let lookups_after_flood = authenticator.authenticator().unwrap().platform_lookups();
    assert!(
        lookups_after_flood > lookups_before,
        "the flood was looked up"
    );
    valid(5).await;
    assert_eq!(
        authenticator.authenticator().unwrap().platform_lookups(),
        lookups_after_flood,
        "the valid verdict was not evicted"
    );
    // Strings that cannot be issued tokens are refused without a lookup.
    let malformed = (0..500).map(|number| {
        let request = TestRequest::get()
            .uri("/api/v1/alpha/tag/1/")
            .insert_header((header::AUTHORIZATION, format!("Token tap_flood{number}")));
        send(&app, request)
    });
    for reply in futures_util::future::join_all(malformed).await {
        assert_eq!(
            (reply.status, reply.json),
            (401, json!({"detail": "Invalid token."}))
        );
    }
    assert_eq!(
        authenticator.authenticator().unwrap().platform_lookups(),
        lookups_after_flood,
        "malformed tokens cost no lookup"
    );
}

#[actix_web::test]
async fn a_basic_auth_flood_is_throttled_and_valid_users_still_get_in() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Sqlite, |config| config.auth.cache_seconds = 1);
    tenantapi_server::accounts::add_user(
        &mut kit.platform().connect(),
        "bob",
        true,
        Some("correct horse"),
    )
    .unwrap();
    let app = kit.service().await;
    let basic = |user: &str, password: &str| {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        TestRequest::get()
            .uri("/api/v1/alpha/tag/1/")
            .insert_header((header::AUTHORIZATION, format!("Basic {encoded}")))
    };
    assert_eq!(send(&app, basic("bob", "correct horse")).await.status, 200);
    // Past the cache period, bob is refreshed without waiting behind the flood.
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;

    let flood = (0..100).map(|number| send(&app, basic("bob", &format!("guess {number}"))));
    let bob = async {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        let reply = send(&app, basic("bob", "correct horse")).await;
        (reply, started.elapsed())
    };
    let (flooded, (bob, bob_took)) =
        futures_util::future::join(futures_util::future::join_all(flood), bob).await;
    assert_eq!(bob.status, 200, "{}", bob.json);
    assert!(bob_took < Duration::from_millis(500), "{bob_took:?}");
    let throttled: Vec<&Reply> = flooded.iter().filter(|reply| reply.status == 429).collect();
    assert!(
        !throttled.is_empty(),
        "attempts beyond the queue are throttled"
    );
    for reply in &flooded {
        assert!(
            reply.status == 401 || reply.status == 429,
            "{} {}",
            reply.status,
            reply.json
        );
    }
    assert_eq!(
        throttled[0].json,
        json!({"detail": "Request was throttled. Expected available in 1 second."})
    );
    assert_eq!(throttled[0].headers.get(header::RETRY_AFTER).unwrap(), "1");
}
