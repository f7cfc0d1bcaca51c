//! The statement timeout on both backends.

use super::*;

/// Rows whose labels make `label__contains=aaa...ab` backtrack for seconds: LIKE and GLOB try
/// every start position and compare up to the pattern's length at each.
pub(super) fn slow_rows(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "INSERT INTO tag (label) SELECT repeat('a', 3000) || g FROM generate_series(1, 1500) g"
        }
        Backend::Sqlite => {
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1500) \
             INSERT INTO tag (label) SELECT replace(hex(zeroblob(1500)), '00', 'aa') || n FROM g"
        }
    }
}

/// Project `slow` with the slow rows and `other` with two tags, on the same database server.
fn slow_and_other(backend: Backend, pool_size: u32, statement_timeout_ms: u64) -> TestKit {
    let kit = TestKit::builder(backend)
        .project("slow", None)
        .project_with_rows("other", tag_rows())
        .superuser("root")
        .configure(|config| {
            config.pool.max_size = pool_size;
            config.pool.statement_timeout_ms = statement_timeout_ms;
        })
        .build()
        .unwrap();
    kit.database("slow").execute(slow_rows(backend));
    kit
}

/// A filter that backtracks for seconds over the slow rows.
pub(super) fn slow_query() -> String {
    format!("/api/v1/slow/tag/?label__contains={}b", "a".repeat(2000))
}

async fn statement_timeout_scenario(backend: Backend) {
    let _serial = one_at_a_time();
    let kit = slow_and_other(backend, 1, 300);
    let app = kit.service().await;
    let slow_query = slow_query();
    let slow = timed(&kit, &app, "GET", &slow_query, "root");
    let other = async {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        timed(&kit, &app, "GET", "/api/v1/other/tag/1/", "root").await
    };
    let ((slow, slow_took), (other, other_took)) = futures_util::future::join(slow, other).await;
    assert_eq!(
        (slow.status, slow.json),
        (
            503,
            json!({"detail": "The query took longer than the server's statement timeout and was cancelled. Narrow it (filters, page size) or try again later."})
        ),
        "{backend:?}"
    );
    assert!(slow.headers.contains_key(header::RETRY_AFTER));
    assert!(
        slow_took < Duration::from_secs(3),
        "cancelled near the timeout: {slow_took:?}"
    );
    assert_eq!(other.status, 200);
    assert!(other_took < Duration::from_millis(200), "{other_took:?}");
    // The project's only connection is usable afterwards.
    let (after, _) = timed(&kit, &app, "GET", "/api/v1/slow/tag/?page_size=1", "root").await;
    assert_eq!(after.status, 200, "{}", after.json);
    assert_eq!(kit.registry().open_connections("slow"), Some(1));
}

#[actix_web::test]
async fn the_statement_timeout_cancels_a_slow_query_on_postgres() {
    statement_timeout_scenario(Backend::Postgres).await;
}

#[actix_web::test]
async fn the_statement_timeout_interrupts_a_slow_query_on_sqlite() {
    statement_timeout_scenario(Backend::Sqlite).await;
}

/// Four slow statements of one project at once (the adaptive limit's floor is two, its start
/// four) take the database server's turns for 100 ms each at most: another project on the same
/// server is served throughout.
async fn many_slow_statements_scenario(backend: Backend) {
    let _serial = one_at_a_time();
    let kit = slow_and_other(backend, 4, 1500);
    let app = kit.service().await;
    let slow_query = slow_query();
    let slow = futures_util::future::join_all(
        (0..4).map(|_| timed(&kit, &app, "GET", &slow_query, "root")),
    );
    let other = async {
        let mut took = Vec::new();
        for _ in 0..8 {
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            let (reply, elapsed) = timed(&kit, &app, "GET", "/api/v1/other/tag/1/", "root").await;
            assert_eq!(reply.status, 200, "{backend:?}: {}", reply.json);
            took.push(elapsed);
        }
        took
    };
    let (slow, other_took) = futures_util::future::join(slow, other).await;
    for (reply, _) in &slow {
        assert_eq!(reply.status, 503, "{backend:?}: {}", reply.json);
    }
    let worst = other_took.iter().max().unwrap();
    eprintln!("{backend:?}: the other project's requests took {other_took:?}");
    assert!(
        *worst < Duration::from_millis(400),
        "{backend:?}: another project waited {worst:?} beside four slow statements"
    );
}

#[actix_web::test]
async fn many_slow_statements_of_one_project_leave_another_on_its_server_served_on_postgres() {
    many_slow_statements_scenario(Backend::Postgres).await;
}

#[actix_web::test]
async fn many_slow_statements_of_one_project_leave_another_served_on_sqlite() {
    many_slow_statements_scenario(Backend::Sqlite).await;
}

#[test]
fn the_statement_timeout_is_30_seconds_unless_the_environment_says_otherwise() {
    let settings = |environment: &[(&str, &str)]| {
        let environment: Vec<(String, String)> = environment
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        Config::load(None, |name| {
            environment
                .iter()
                .find(|(wanted, _)| wanted == name)
                .map(|(_, value)| value.clone())
        })
        .unwrap()
        .pool
        .settings()
    };
    assert_eq!(
        settings(&[]).statement_timeout,
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        settings(&[("TENANTAPI_POOL_STATEMENT_TIMEOUT_MS", "1500")]).statement_timeout,
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        settings(&[("TENANTAPI_POOL_STATEMENT_TIMEOUT_MS", "0")]).statement_timeout,
        None,
        "0 switches it off"
    );
    assert_eq!(settings(&[]).max_size, 10);
}
