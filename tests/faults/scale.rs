//! 150 projects under one server's budget, version checks while projects hang, bounded prepared statements.

use super::*;

/// 150 projects on the machine's PostgreSQL (`max_connections` 100), five to each of 30
/// databases: each project has its own pool all the same, and 30 databases keep the test's
/// CREATE and DROP DATABASE (a checkpoint each) within seconds.
#[actix_web::test]
async fn the_connection_budget_holds_for_150_projects_on_one_server() {
    let _serial = one_at_a_time();
    let mut builder = TestKit::builder(Backend::Postgres).superuser("root");
    for database in 0..30 {
        builder = builder.project_with_rows(&format!("p{database:03}"), tag_rows());
    }
    let kit = builder.build().unwrap();
    let mut platform = kit.platform().connect();
    for number in 30..150 {
        let shared = kit.database(&format!("p{:03}", number % 30));
        tenantapi_server::platform::add_project(
            &mut platform,
            &format!("p{number:03}"),
            &shared.url,
        )
        .unwrap();
    }
    let registry = kit.registry();
    registry.replace_projects(tenantapi_server::platform::enabled_projects(&mut platform).unwrap());
    let checking = registry.clone();
    actix_web::web::block(move || checking.check_all_now())
        .await
        .unwrap();
    let names = registry.project_names();
    assert_eq!(names.len(), 150);
    let budget = kit.config().pool.max_connections_per_host as usize;
    assert_eq!(budget, 50, "the default");
    let app = kit.service().await;
    let prefix = database_name(kit.database("p000"));
    let like = format!("{}%", prefix.rsplit_once('_').unwrap().0);
    let paths: Vec<String> = names
        .iter()
        .map(|name| format!("/api/v1/{name}/tag/1/"))
        .collect();

    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        let like = like.clone();
        std::thread::spawn(move || {
            let (mut most, mut others_connected) = (0, true);
            while sampling.load(Ordering::Relaxed) {
                most = most.max(server_connections(&like));
                // Other clients of the database server can still connect.
                others_connected &=
                    PgConnection::establish(&format!("{}/postgres", postgres_server_url())).is_ok();
                std::thread::sleep(Duration::from_millis(20));
            }
            (most, others_connected)
        })
    };
    let started = Instant::now();
    let outcomes = load(&kit, &app, &paths, 32, 30).await;
    let took = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let (most, others_connected) = sampler.join().unwrap();
    eprintln!(
        "150 projects, 32 clients: {} requests in {took:?} ({:.0}/s), at most {most} connections, p99 {:?}",
        outcomes.statuses.len(),
        outcomes.statuses.len() as f64 / took.as_secs_f64(),
        outcomes.percentile(0.99)
    );
    assert_eq!(
        outcomes.errors(),
        Vec::<u16>::new(),
        "{:?}",
        outcomes.error_bodies
    );
    assert!(most <= budget, "{most} connections, budget {budget}");
    assert!(most > 0);
    assert!(others_connected);
    assert!(server_connections(&like) <= budget);
}

/// The budget spent by busy connections (none idle to close): a request that needs a new
/// connection waits its checkout timeout in line, then answers 503 with `Retry-After`; served
/// again once a connection is given back.
#[actix_web::test]
async fn a_spent_connection_budget_answers_503_with_retry_after_then_serves_again() {
    use super::statement_timeout::{slow_query, slow_rows};
    let _serial = one_at_a_time();
    let kit = TestKit::builder(Backend::Postgres)
        .project("slow", None)
        .project_with_rows("other", tag_rows())
        .superuser("root")
        .configure(|config| {
            config.pool.max_connections_per_host = 2;
            config.pool.max_size = 2;
            config.pool.checkout_timeout_ms = 500;
            config.pool.statement_timeout_ms = 2500;
        })
        .build()
        .unwrap();
    kit.database("slow").execute(slow_rows(Backend::Postgres));
    let app = kit.service().await;
    let slow_query = slow_query();
    let slow = futures_util::future::join_all(
        (0..2).map(|_| timed(&kit, &app, "GET", &slow_query, "root")),
    );
    let other = async {
        // Both of the server's connections busy with the slow project's statements.
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let refused = timed(&kit, &app, "GET", "/api/v1/other/tag/1/", "root").await;
        let budgets = kit.registry().connection_budgets();
        (refused, budgets)
    };
    let (slow, ((refused, took), budgets)) = futures_util::future::join(slow, other).await;
    assert_eq!(
        (refused.status, refused.json),
        (
            503,
            json!({"detail": "The project's database server has no connection to spare right now. Try again."})
        )
    );
    assert_eq!(refused.headers.get(header::RETRY_AFTER).unwrap(), "1");
    assert!(
        (Duration::from_millis(450)..Duration::from_millis(1200)).contains(&took),
        "waited its checkout timeout in line: {took:?}"
    );
    assert!(
        budgets
            .iter()
            .any(|(_, open, limit)| (*open, *limit) == (2, 2)),
        "the server's two connections in use, never more: {budgets:?}"
    );
    for (reply, _) in slow {
        assert_eq!(
            reply.status, 503,
            "the slow statements ran out their timeout"
        );
    }
    let served = kit
        .call(&app, "GET", "/api/v1/other/tag/1/", Some("root"), None)
        .await;
    assert_eq!(served.status, 200, "{}", served.json);
}

#[actix_web::test]
async fn each_project_is_rechecked_on_time_while_others_hang() {
    let _serial = one_at_a_time();
    let silent = SilentListener::start();
    let mut builder = TestKit::builder(Backend::Sqlite)
        .superuser("root")
        .configure(|config| {
            config.version_check_seconds = 1;
            config.pool.checkout_timeout_ms = 1000;
        });
    for number in 0..80 {
        builder = builder.project_with_rows(&format!("ok{number:02}"), tag_rows());
    }
    // More hung projects than version checks run at once (`CONCURRENT_CHECKS`, 32).
    for number in 0..40 {
        builder = builder.external_project(&format!("hung{number:02}"), &silent.url());
    }
    let kit = builder.build().unwrap();
    let registry = kit.registry();
    let app = kit.service().await;
    // Projects in use hold a connection; the others are checked when one opens.
    for number in 0..80 {
        let path = format!("/api/v1/ok{number:02}/tag/1/");
        assert_eq!(
            kit.call(&app, "GET", &path, Some("root"), None)
                .await
                .status,
            200
        );
    }
    tenantapi_server::serve::spawn_version_checks(registry.clone(), Duration::from_secs(1));
    let states = |status: &str| {
        registry
            .health_report()
            .iter()
            .filter(|(name, health)| name.starts_with("ok") && health.status() == status)
            .count()
    };
    assert_eq!(states("ok"), 80);
    for number in 0..80 {
        kit.database(&format!("ok{number:02}"))
            .execute("UPDATE schema_version SET version = 'migrated'");
    }
    let migrated_at = Instant::now();
    while states("version mismatch") < 80 && migrated_at.elapsed() < Duration::from_secs(5) {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let noticed = migrated_at.elapsed();
    assert_eq!(states("version mismatch"), 80, "after {noticed:?}");
    assert!(
        noticed < Duration::from_millis(1600),
        "every project re-checked within version_check_seconds (1 s): {noticed:?}"
    );
}

/// Regression: version checks opened a connection to every project that held none and kept it
/// (each connection is checked as it opens anyway), which with a thousand PostgreSQL projects
/// was a hundred connections a second taken from the budget of the projects in use, and with a
/// thousand SQLite projects 115 MB kept for projects nobody used.
#[actix_web::test]
async fn version_checks_open_no_connection_for_idle_healthy_projects() {
    let _serial = one_at_a_time();
    let mut builder = TestKit::builder(Backend::Sqlite)
        .superuser("root")
        .configure(|config| config.version_check_seconds = 1);
    for number in 0..12 {
        builder = builder.project_with_rows(&format!("p{number:02}"), tag_rows());
    }
    let kit = builder.build().unwrap();
    let registry = kit.registry();
    let app = kit.service().await;
    let holding = || {
        registry
            .project_names()
            .into_iter()
            .filter(|name| registry.open_connections(name) > Some(0))
            .map(|name| name.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        holding(),
        Vec::<String>::new(),
        "the startup check (run by the kit) keeps no connection"
    );
    for name in ["p00", "p01", "p02"] {
        let path = format!("/api/v1/{name}/tag/1/");
        assert_eq!(
            kit.call(&app, "GET", &path, Some("root"), None)
                .await
                .status,
            200
        );
    }
    let before = holding();
    assert_eq!(before, ["p00", "p01", "p02"]);
    let idle = ["p03".to_string()];
    tenantapi_server::serve::spawn_version_checks(registry.clone(), Duration::from_secs(1));
    actix_web::rt::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(holding(), before, "the checks opened no connection");
    assert!(
        registry
            .health_report()
            .iter()
            .all(|(_, health)| health.status() == "ok")
    );

    // Projects holding a connection are still checked on time; the others when one opens.
    let held = before[0].to_string();
    kit.database(&held)
        .execute("UPDATE schema_version SET version = 'migrated'");
    kit.database(&idle[0])
        .execute("UPDATE schema_version SET version = 'migrated'");
    let migrated_at = Instant::now();
    let status = |name: &str| {
        registry
            .health_report()
            .iter()
            .find(|(project, _)| **project == *name)
            .map(|(_, health)| health.status())
            .unwrap()
    };
    while status(&held) == "ok" && migrated_at.elapsed() < Duration::from_secs(3) {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status(&held),
        "version mismatch",
        "{:?}",
        migrated_at.elapsed()
    );
    let served = kit
        .call(
            &app,
            "GET",
            &format!("/api/v1/{}/tag/1/", idle[0]),
            Some("root"),
            None,
        )
        .await;
    assert_eq!(served.status, 503, "{}", served.json);
    assert_eq!(status(&idle[0]), "version mismatch");
}

/// This process's resident memory, in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// `count` distinct list requests: three of twelve filters in order, times ten orderings.
fn distinct_shapes(count: usize) -> Vec<String> {
    let filters = [
        "id__gt=0",
        "id__gte=1",
        "id__lt=9",
        "id__lte=8",
        "id__in=1,2",
        "id__isnull=false",
        "label__startswith=o",
        "label__istartswith=O",
        "label__endswith=e",
        "label__contains=n",
        "label__icontains=N",
        "label__isnull=false",
    ];
    let orderings = [
        "id",
        "-id",
        "label",
        "-label",
        "label,id",
        "-label,id",
        "label,-id",
        "-label,-id",
        "id,label",
        "-id,label",
    ];
    let mut shapes = Vec::new();
    for (first, second, third) in (0..12)
        .flat_map(|a| (0..12).map(move |b| (a, b)))
        .flat_map(|(a, b)| (0..12).map(move |c| (a, b, c)))
        .filter(|(a, b, c)| a != b && b != c && a != c)
    {
        for ordering in orderings {
            shapes.push(format!(
                "/api/v1/alpha/tag/?{}&{}&{}&ordering={ordering}",
                filters[first], filters[second], filters[third]
            ));
        }
    }
    shapes.truncate(count);
    shapes
}

/// Regression: every distinct query shape stayed prepared on its connection, so distinct
/// combinations of filters and orderings grew memory without bound (19 to 137 MB for 20,000).
#[actix_web::test]
async fn memory_stays_bounded_whatever_the_query_shapes() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Sqlite, |config| config.pool.max_size = 2);
    let app = kit.service().await;
    let shapes = distinct_shapes(5_000);
    assert_eq!(shapes.len(), 5_000);
    let (warm_up, measured) = shapes.split_at(1_000);
    for path in warm_up {
        assert_eq!(
            kit.call(&app, "GET", path, Some("root"), None).await.status,
            200
        );
    }
    let before = resident_bytes();
    for path in measured {
        let reply = kit.call(&app, "GET", path, Some("root"), None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.json);
    }
    let grown = resident_bytes().saturating_sub(before);
    eprintln!(
        "4,000 more distinct shapes grew resident memory by {} KiB",
        grown / 1024
    );
    assert!(
        grown < 4 << 20,
        "memory grows with distinct query shapes: {} KiB for 4,000",
        grown / 1024
    );
}

#[actix_web::test]
async fn prepared_statements_stay_bounded_whatever_the_query_shapes() {
    let _serial = one_at_a_time();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let kit = alpha_kit(backend, |config| {
            config.pool.max_size = 1;
            config.pool.max_cached_statements = 50;
        });
        let app = kit.service().await;
        let filters = [
            "id__gt=0",
            "id__lt=9",
            "label__startswith=o",
            "label__isnull=false",
        ];
        let orderings = ["id", "-id", "label", "-label", "label,id", "-label,-id"];
        let mut shapes = 0;
        for first in 0..filters.len() {
            for second in 0..filters.len() {
                for ordering in orderings {
                    for page_size in [1, 2] {
                        let path = format!(
                            "/api/v1/alpha/tag/?{}&{}&ordering={ordering}&page_size={page_size}",
                            filters[first], filters[second]
                        );
                        let reply = kit.call(&app, "GET", &path, Some("root"), None).await;
                        assert_eq!(reply.status, 200, "{path}: {}", reply.json);
                        shapes += 1;
                    }
                }
            }
        }
        assert!(shapes >= 150);
        let pool = kit.registry().pool("alpha").unwrap();
        let mut checked = pool
            .checkout_idle()
            .expect("the project's one connection is idle");
        assert!(
            checked.cached_statements() <= 50,
            "{backend:?}: {} cached statements",
            checked.cached_statements()
        );
        if backend == Backend::Postgres {
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                count: i64,
            }
            let prepared: Vec<Count> =
                diesel::sql_query("SELECT count(*) AS count FROM pg_prepared_statements")
                    .load(checked.connection())
                    .unwrap();
            assert!(
                prepared[0].count <= 52,
                "PostgreSQL keeps {} prepared statements",
                prepared[0].count
            );
        }
    }
}
