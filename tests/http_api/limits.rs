//! Rate limits per project and per user (token buckets: defaults in the configuration,
//! overrides in the platform database, applied by running servers on refresh) and the
//! per-project cap on database work in flight.

use std::sync::Arc;

use super::*;
use tenantapi_server::accounts;
use tenantapi_server::platform::{self, LimitChange, ProjectLimitsChange};
use tenantapi_testkit::Role;

/// Projects `alpha` and `beta`, users `ann` (both projects), `bob` (alpha) and `eve` (beta).
fn limited_kit(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestKit {
    TestKit::builder(backend)
        .project(
            "alpha",
            Some(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/alpha.json")),
        )
        .project(
            "beta",
            Some(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/beta.json")),
        )
        .user("ann", &[("alpha", Role::Read), ("beta", Role::Read)])
        .user("bob", &[("alpha", Role::Read)])
        .user("eve", &[("beta", Role::Read)])
        .configure(configure)
        .build()
        .expect("test kit")
}

async fn get_as<S>(kit: &TestKit, service: &S, user: &str, path: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let authorization = format!("Token {}", kit.token(user));
    tenantapi_testkit::send(service, request("GET", path, Some(&authorization), None)).await
}

/// Five requests in a row, every one served: no limit holds them back.
async fn assert_served_repeatedly<S>(kit: &TestKit, service: &S, user: &str, path: &str)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    for _ in 0..5 {
        assert_eq!(get_as(kit, service, user, path).await.status, 200, "{path}");
    }
}

/// Sets a project's limits in the platform database and has the registry read them, as
/// `serve` does every `refresh_seconds`.
fn set_project_limits(kit: &TestKit, project: &str, change: ProjectLimitsChange) {
    let mut platform_connection = kit.platform().connect();
    platform::set_project_limits(&mut platform_connection, project, change).unwrap();
    kit.registry()
        .replace_projects(platform::enabled_projects(&mut platform_connection).unwrap());
}

fn rate(per_second: f64, burst: i32) -> ProjectLimitsChange {
    ProjectLimitsChange {
        rate_per_second: LimitChange::Set(per_second),
        rate_burst: LimitChange::Set(burst),
        max_in_flight: LimitChange::Keep,
    }
}

/// Requests refused so far, by project and reason.
fn throttled_counts(kit: &TestKit) -> Vec<(String, &'static str, u64)> {
    kit.registry()
        .throttled()
        .into_iter()
        .map(|((project, reason), count)| (project.to_string(), reason.as_str(), count))
        .collect()
}

#[track_caller]
fn assert_throttled(reply: &Reply, seconds: u32) {
    let plural = if seconds == 1 { "" } else { "s" };
    assert_eq!(
        (reply.status, reply.json.clone()),
        (
            429,
            json!({"detail": format!("Request was throttled. Expected available in {seconds} second{plural}.")})
        )
    );
    assert_eq!(
        reply.headers.get(header::RETRY_AFTER).unwrap(),
        &seconds.to_string()
    );
}

on_both_backends!(
    a_project_over_its_rate_answers_429_and_others_are_served,
    project_rate_scenario
);
async fn project_rate_scenario(backend: Backend) {
    let kit = limited_kit(backend, |_| {});
    let service = kit.service().await;
    // Half a request a second, two at once: the third waits two seconds.
    set_project_limits(&kit, "alpha", rate(0.5, 2));
    for user in ["ann", "bob"] {
        let reply = get_as(&kit, &service, user, "/api/v1/alpha/data_point/").await;
        assert_eq!(reply.status, 200, "{}", reply.json);
    }
    let throttled = get_as(&kit, &service, "ann", "/api/v1/alpha/data_point/1/").await;
    assert_throttled(&throttled, 2);
    // The project's other users share its bucket; other projects have their own.
    assert_throttled(
        &get_as(&kit, &service, "bob", "/api/v1/alpha/site/").await,
        2,
    );
    assert_eq!(
        get_as(&kit, &service, "ann", "/api/v1/beta/data_point/")
            .await
            .status,
        200
    );
    // A caller without a grant learns nothing: 404, as for a project that does not exist.
    assert_eq!(
        get_as(&kit, &service, "eve", "/api/v1/alpha/data_point/")
            .await
            .status,
        404
    );
    // Back to the default (no limit): served at once, without a new pool.
    let pool = kit.registry().pool("alpha").unwrap();
    set_project_limits(
        &kit,
        "alpha",
        ProjectLimitsChange {
            rate_per_second: LimitChange::Default,
            rate_burst: LimitChange::Default,
            max_in_flight: LimitChange::Keep,
        },
    );
    assert!(Arc::ptr_eq(&pool, &kit.registry().pool("alpha").unwrap()));
    assert_served_repeatedly(&kit, &service, "bob", "/api/v1/alpha/data_point/").await;
    // Throttled requests are counted per project and reason.
    let counted = throttled_counts(&kit);
    assert_eq!(counted, vec![("alpha".to_string(), "project_rate", 2)]);
}

on_both_backends!(
    a_users_rate_covers_all_their_projects_and_their_own_overrides_the_default,
    user_rate_scenario
);
async fn user_rate_scenario(backend: Backend) {
    // By default every user: 3 requests at once, then one every 10 s.
    let kit = limited_kit(backend, |config| {
        config.limits.user_rate_per_second = 0.1;
        config.limits.user_burst = 3;
        config.auth.cache_seconds = 1;
    });
    let service = kit.service().await;
    for path in [
        "/api/v1/alpha/data_point/",
        "/api/v1/beta/data_point/",
        "/api/v1/alpha/site/",
    ] {
        assert_eq!(get_as(&kit, &service, "ann", path).await.status, 200);
    }
    assert_throttled(
        &get_as(&kit, &service, "ann", "/api/v1/beta/site/").await,
        10,
    );
    // Other users have buckets of their own.
    assert_eq!(
        get_as(&kit, &service, "bob", "/api/v1/alpha/data_point/")
            .await
            .status,
        200
    );
    // Ann's own limit (0: none) overrides the default once her cached verdict is read again.
    accounts::set_user_limits(
        &mut kit.platform().connect(),
        "ann",
        LimitChange::Set(0.0),
        LimitChange::Keep,
    )
    .unwrap();
    tokio_sleep(kit.config().auth.cache_seconds).await;
    assert_served_repeatedly(&kit, &service, "ann", "/api/v1/beta/site/").await;
    let counted = throttled_counts(&kit);
    assert_eq!(counted, vec![("beta".to_string(), "user_rate", 1)]);
}

/// Waits out the authentication cache.
async fn tokio_sleep(seconds: u64) {
    actix_web::rt::time::sleep(std::time::Duration::from_millis(seconds * 1000 + 100)).await;
}

/// A project capped at one request's database work at a time: while a read waits on a lock,
/// the project's next read waits for its turn instead of taking a second connection; another
/// project is served meanwhile.
#[actix_web::test]
async fn a_projects_cap_on_work_in_flight_holds_its_other_requests_back() {
    use diesel::connection::SimpleConnection as _;
    let kit = limited_kit(Backend::Postgres, |_| {});
    let service = kit.service().await;
    set_project_limits(
        &kit,
        "alpha",
        ProjectLimitsChange {
            rate_per_second: LimitChange::Keep,
            rate_burst: LimitChange::Keep,
            max_in_flight: LimitChange::Set(1),
        },
    );
    let pool = kit.registry().pool("alpha").unwrap();
    assert_eq!(pool.max_in_flight(), 1);
    assert_eq!(
        get_as(&kit, &service, "bob", "/api/v1/alpha/site/")
            .await
            .status,
        200
    );
    let database = kit.database("alpha");
    let mut locker = database.connect();
    locker
        .batch_execute("BEGIN; LOCK TABLE site IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let mut observer = database.connect();
    let observed = std::thread::spawn(move || {
        wait_for_lock_waiters(&mut observer, Some("site"), 1);
        // Both requests are sent; only one reaches the database while the cap is one.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let most = locks_waiting(&mut observer, Some("site"));
        locker.batch_execute("COMMIT").unwrap();
        most
    });
    let (first, second, other) = futures_util::future::join3(
        get_as(&kit, &service, "bob", "/api/v1/alpha/site/"),
        get_as(&kit, &service, "ann", "/api/v1/alpha/site/1/"),
        async {
            // Beta is served while alpha's requests wait.
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
            let reply = get_as(&kit, &service, "eve", "/api/v1/beta/site/").await;
            (reply.status, pool.stats().waiting)
        },
    )
    .await;
    let most_waiting_on_the_lock = observed.join().unwrap();
    assert_eq!(most_waiting_on_the_lock, 1, "one request's work at a time");
    assert_eq!((first.status, second.status), (200, 200));
    assert_eq!(
        other,
        (200, 1),
        "beta served while alpha's second request waited"
    );
}

on_both_backends!(
    a_project_flooding_its_database_server_does_not_delay_another_projects_turn,
    fair_turns_scenario
);
async fn fair_turns_scenario(backend: Backend) {
    // One statement at a time against the server (every SQLite project shares one limit), so
    // that who waits behind whom is visible.
    let kit = limited_kit(backend, |config| {
        config.pool.max_in_flight_per_host = 1;
        config.pool.adaptive_in_flight = false;
    });
    let service = kit.service().await;
    // Alpha's searches count and sort 200,000 rows each: its requests stay queued while beta's
    // comes.
    kit.database("alpha").execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) \
         INSERT INTO data_point (name) SELECT 'many ' || i FROM n",
    );
    for (user, path) in [
        ("bob", "/api/v1/alpha/data_point/"),
        ("eve", "/api/v1/beta/data_point/"),
    ] {
        assert_eq!(get_as(&kit, &service, user, path).await.status, 200);
    }
    let finished = std::cell::RefCell::new(Vec::new());
    let request = |user: &'static str, path: &'static str, label: &'static str| {
        let (kit, service, finished) = (&kit, &service, &finished);
        async move {
            let reply = get_as(kit, service, user, path).await;
            assert_eq!(reply.status, 200, "{}", reply.json);
            finished.borrow_mut().push(label);
        }
    };
    // Alpha's ten requests are queued first (one per connection of its pool), then beta's one.
    let mut requests: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>> = (0..10)
        .map(|_| {
            Box::pin(request(
                "bob",
                "/api/v1/alpha/data_point/?name__icontains=many&ordering=-name",
                "alpha",
            )) as std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>
        })
        .collect();
    requests.push(Box::pin(async {
        // After alpha's requests have queued behind the one running (each counts and sorts
        // 200,000 rows: they are all still queued).
        actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
        request("eve", "/api/v1/beta/data_point/1/", "beta").await;
    }));
    futures_util::future::join_all(requests).await;
    let order = finished.into_inner();
    let beta = order.iter().position(|label| *label == "beta").unwrap();
    assert!(
        beta <= 3,
        "beta's one request waited behind {beta} of alpha's (first come first served: about 9): {order:?}"
    );
}

/// A database server's connection budget while two projects wait for it: the freed connection
/// goes to the project holding none, although the other asked first (first come first served
/// gave it to the project already holding the rest). PostgreSQL only: it takes two locks on
/// one database, released one at a time, to free exactly one connection; SQLite projects share
/// a budget of the same type (`budget.rs` tests the rule on its own).
#[actix_web::test]
async fn a_freed_connection_goes_to_the_waiting_project_holding_the_fewest() {
    use diesel::connection::SimpleConnection as _;
    let kit = limited_kit(Backend::Postgres, |config| {
        config.pool.max_connections_per_host = 2;
        config.pool.project_share_percent = 50;
    });
    let service = kit.service().await;
    let database = kit.database("alpha");
    let mut site_lock = database.connect();
    site_lock
        .batch_execute("BEGIN; LOCK TABLE site IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let mut tag_lock = database.connect();
    tag_lock
        .batch_execute("BEGIN; LOCK TABLE tag IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let mut observer = database.connect();
    let unlocking = std::thread::spawn(move || {
        // Both of alpha's connections wait on the locks: the server's budget is spent.
        wait_for_lock_waiters(&mut observer, None, 2);
        // Alpha's third request and then beta's queue for a connection meanwhile.
        std::thread::sleep(std::time::Duration::from_millis(700));
        site_lock.batch_execute("COMMIT").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        tag_lock.batch_execute("COMMIT").unwrap();
    });
    let finished = std::cell::RefCell::new(Vec::new());
    let request = |user: &'static str, path: &'static str, label: &'static str, after_ms: u64| {
        let (kit, service, finished) = (&kit, &service, &finished);
        async move {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(after_ms)).await;
            let reply = get_as(kit, service, user, path).await;
            assert_eq!(reply.status, 200, "{label}: {}", reply.json);
            finished.borrow_mut().push(label);
        }
    };
    futures_util::future::join5(
        request(
            "bob",
            "/api/v1/alpha/site/",
            "alpha holding the site lock",
            0,
        ),
        request("bob", "/api/v1/alpha/tag/", "alpha holding the tag lock", 0),
        request("bob", "/api/v1/alpha/data_point/", "alpha's third", 300),
        request("eve", "/api/v1/beta/data_point/", "beta", 500),
        async {},
    )
    .await;
    unlocking.join().unwrap();
    let order = finished.into_inner();
    let position = |label: &str| order.iter().position(|done| *done == label).unwrap();
    assert!(
        position("beta") < position("alpha's third"),
        "alpha, holding a connection, got the freed one before beta, holding none: {order:?}"
    );
}

on_both_backends!(
    a_project_capped_at_one_runs_one_requests_database_work_at_a_time,
    capped_project_scenario
);
async fn capped_project_scenario(backend: Backend) {
    let kit = limited_kit(backend, |_| {});
    let service = kit.service().await;
    kit.database("alpha").execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) \
         INSERT INTO data_point (name) SELECT 'many ' || i FROM n",
    );
    let pool = kit.registry().pool("alpha").unwrap();
    let heavy = "/api/v1/alpha/data_point/?name__icontains=many&ordering=-name";
    // Three heavy reads at once, with the project's turns in use sampled meanwhile.
    let most_in_use = || async {
        let sampled = std::cell::Cell::new(0);
        let done = std::cell::Cell::new(false);
        let requests = async {
            let replies = futures_util::future::join3(
                get_as(&kit, &service, "bob", heavy),
                get_as(&kit, &service, "bob", heavy),
                get_as(&kit, &service, "ann", heavy),
            )
            .await;
            done.set(true);
            replies
        };
        let sampler = async {
            while !done.get() {
                sampled.set(sampled.get().max(pool.stats().in_use));
                actix_web::rt::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        };
        let ((first, second, third), ()) = futures_util::future::join(requests, sampler).await;
        assert_eq!((first.status, second.status, third.status), (200, 200, 200));
        sampled.get()
    };
    assert!(
        most_in_use().await > 1,
        "uncapped, the project's reads run side by side"
    );
    set_project_limits(
        &kit,
        "alpha",
        ProjectLimitsChange {
            rate_per_second: LimitChange::Keep,
            rate_burst: LimitChange::Keep,
            max_in_flight: LimitChange::Set(1),
        },
    );
    assert_eq!(most_in_use().await, 1, "capped at one: one at a time");
}

on_both_backends!(
    sqlite_writers_take_turns_in_the_server_and_postgres_writers_do_not,
    writer_turns_scenario
);
/// Issue 26: SQLite lets one connection write at a time, and writers that met its lock waited
/// in its busy handler (POST p99 1 s at 32 connections): a SQLite project's writes now take
/// turns in the server, one at a time in arrival order, while reads do not wait for them.
/// PostgreSQL writers run side by side.
async fn writer_turns_scenario(backend: Backend) {
    use std::time::{Duration, Instant};
    use tenantapi_runtime::connections::pool::Access;
    let kit = kit(backend, &[], |_| {});
    let pool = kit.registry().pool("alpha").unwrap();
    let soon = || Instant::now() + Duration::from_millis(200);
    let first = pool.take_turn(soon(), Access::Write).await.expect("a turn");
    let second = pool.take_turn(soon(), Access::Write).await;
    let read = pool.take_turn(soon(), Access::Read).await;
    assert!(
        read.is_ok(),
        "{backend:?}: a read does not wait for the writer"
    );
    match backend {
        Backend::Sqlite => assert_eq!(
            second.err(),
            Some(tenantapi_runtime::connections::Unavailable::NoConnectionFree),
            "a second writer waits for the first"
        ),
        Backend::Postgres => assert!(second.is_ok(), "writers side by side"),
    }
    drop(first);
    assert!(
        pool.take_turn(soon(), Access::Write).await.is_ok(),
        "{backend:?}: the next writer's turn"
    );
}
