//! The HTTP contract of the generated API, over HTTP, on SQLite and on PostgreSQL: two projects
//! with different rows behind one set of routes, DRF's paging, filters, status codes and
//! messages, constraint errors under concurrent writes, and an unavailable project.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::test;
use serde_json::{Value, json};
use tenantapi_server::config::Config;
use tenantapi_server::platform;
use tenantapi_testkit::{Backend, Reply, TestDatabase, TestKit, on_both_backends, request};

/// Two projects, `alpha` and `beta`, on `backend`, with the rows of `fixtures/*.json`, and a
/// superuser whose token every request carries (these tests are about the API, not access).
fn kit(
    backend: Backend,
    extra_projects: &[(&str, &str)],
    configure: impl FnOnce(&mut Config),
) -> TestKit {
    let mut builder = TestKit::builder(backend)
        .project(
            "alpha",
            Some(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/alpha.json")),
        )
        .project(
            "beta",
            Some(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/beta.json")),
        )
        .superuser("tester")
        .configure(|config| {
            config.api.max_page_size = 200;
            config.api.max_body_bytes = 4096;
            configure(config);
        });
    for (name, url) in extra_projects {
        builder = builder.external_project(name, url);
    }
    builder.build().expect("test kit")
}

/// The in-process app and the token every request carries.
struct Client<S> {
    service: S,
    authorization: String,
}

async fn app(
    kit: &TestKit,
) -> Client<impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>>
{
    Client {
        service: kit.service().await,
        authorization: format!("Token {}", kit.token("tester")),
    }
}

async fn call<S>(app: &Client<S>, method: Method, path: &str, body: Option<Value>) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    tenantapi_testkit::send(
        &app.service,
        request(method.as_str(), path, Some(&app.authorization), body),
    )
    .await
}

async fn get<S>(app: &Client<S>, path: &str) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    call(app, Method::GET, path, None).await
}

async fn send<S>(app: &Client<S>, request: test::TestRequest) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let request = request.insert_header((header::AUTHORIZATION, app.authorization.clone()));
    tenantapi_testkit::send(&app.service, request).await
}

/// Asserts an answer's status and that its `detail` message passes `check`; shows the answer
/// when either fails.
#[track_caller]
fn assert_detail(reply: &Reply, status: u16, check: impl FnOnce(&str) -> bool) {
    let detail = reply.json["detail"].as_str();
    assert!(
        reply.status == status && detail.is_some_and(check),
        "expected status {status} and a matching detail, got {}: {}",
        reply.status,
        reply.json
    );
}

/// Lock requests waiting (not granted) on the PostgreSQL database `observer` is connected to:
/// on `table`, or on anything.
fn locks_waiting(
    observer: &mut tenantapi_runtime::connections::db::DbConnection,
    table: Option<&str>,
) -> i64 {
    use diesel::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        waiting: i64,
    }
    let on = match table {
        Some(table) => format!("relation = '{table}'::regclass AND"),
        None => String::new(),
    };
    diesel::sql_query(format!(
        "SELECT COUNT(*) AS waiting FROM pg_locks WHERE {on} NOT granted"
    ))
    .load::<Waiting>(observer)
    .unwrap()[0]
        .waiting
}

/// Waits (10 s at most) until at least `count` lock requests wait (see [`locks_waiting`]).
#[track_caller]
fn wait_for_lock_waiters(
    observer: &mut tenantapi_runtime::connections::db::DbConnection,
    table: Option<&str>,
    count: i64,
) {
    let started = std::time::Instant::now();
    while locks_waiting(observer, table) < count {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{count} lock requests never waited"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn names(reply: &Reply) -> Vec<String> {
    reply.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["name"].as_str().unwrap().to_string())
        .collect()
}

mod aggregates;
mod bulk;
mod check_in;
mod conditional;
mod documentation;
mod expand;
mod export;
mod large_lists;
mod limits;
mod projects;
mod read_bounds;
mod reading;
mod request_errors;
mod schema_check;
mod search;
mod structure_versions;
mod values;
mod wide;
mod writing;
