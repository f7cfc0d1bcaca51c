//! Fault injection: one project's sick database never degrades another project.

use std::io::Read;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use actix_web::dev::{Service, ServiceResponse};
use serde_json::json;
use tenantapi_testkit::{Backend, TestKit};

/// A loopback address that accepts TCP connections and never answers (a frozen host).
struct SilentListener {
    port: u16,
}

impl SilentListener {
    fn start() -> SilentListener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buffer = [0u8; 64];
                let _ = stream.set_nonblocking(true);
                let _ = stream.read(&mut buffer);
                held.push(stream);
            }
        });
        SilentListener { port }
    }
}

async fn get<S>(kit: &TestKit, app: &S, path: &str) -> (u16, Duration)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let started = Instant::now();
    let reply = kit.call(app, "GET", path, Some("root"), None).await;
    (reply.status, started.elapsed())
}

#[actix_web::test]
async fn a_hung_database_does_not_starve_other_projects() {
    let silent = SilentListener::start();
    let kit = TestKit::builder(Backend::Postgres)
        .project_with_rows("healthy", json!({"tag": [{"id": 1, "label": "a"}]}))
        .external_project(
            "hung",
            &format!("postgres://postgres@127.0.0.1:{}/x", silent.port),
        )
        .superuser("root")
        .build()
        .unwrap();
    let app = kit.service().await;
    let hung: Vec<_> = (0..20)
        .map(|_| get(&kit, &app, "/api/v1/hung/tag/1/"))
        .collect();
    let healthy = async {
        tokio_sleep(Duration::from_millis(200)).await;
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(get(&kit, &app, "/api/v1/healthy/tag/1/").await);
        }
        seen
    };
    let (hung, healthy) =
        futures_util::future::join(futures_util::future::join_all(hung), healthy).await;
    eprintln!("hung: {hung:?}");
    eprintln!("healthy: {healthy:?}");
    for (status, took) in healthy {
        assert_eq!(status, 200);
        assert!(took < Duration::from_millis(500), "{took:?}");
    }
}

async fn tokio_sleep(duration: Duration) {
    actix_web::rt::time::sleep(duration).await
}
