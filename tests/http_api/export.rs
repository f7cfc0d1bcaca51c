//! Whole-table export over HTTP on SQLite and PostgreSQL: CSV (RFC 4180) and NDJSON, by
//! `?format=` and by `Accept`, with filters, search, ordering and field selection; every row of
//! a table larger than a batch exactly once; what exports refuse; and a client that goes away
//! mid-export gets its connection released.

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use actix_web::http::header;
use serde_json::{Value, json};
use tenantapi_testkit::{Backend, TestKit, on_both_backends, request};

fn kit(backend: Backend, data_points: usize) -> TestKit {
    let mut rows = vec![
        json!({"id": 1, "name": "boiler, feed", "unit": "kWh", "site_id": 1}),
        json!({"id": 2, "name": "say \"hi\"", "unit": null, "site_id": null}),
        json!({"id": 3, "name": "chiller", "unit": "m3", "site_id": 1}),
    ];
    rows.extend((4..=data_points).map(|id| json!({"id": id, "name": format!("point {id:05}")})));
    TestKit::builder(backend)
        .project_with_rows(
            "alpha",
            json!({
                "site": [{"id": 1, "code": "N1", "name": "North",
                          "external_ref": "11111111-2222-4333-8444-555555555555"}],
                "data_point": rows,
            }),
        )
        .superuser("tester")
        .build()
        .expect("test kit")
}

on_both_backends!(exports_follow_the_list, export_scenario);

async fn export_scenario(backend: Backend) {
    let kit = kit(backend, 3);
    let service = kit.service().await;
    let csv = kit
        .call(
            &service,
            "GET",
            "/api/v1/alpha/data_point/?format=csv",
            Some("tester"),
            None,
        )
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.headers.get(header::CONTENT_TYPE).unwrap(),
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        csv.headers.get(header::CONTENT_DISPOSITION).unwrap(),
        "attachment; filename=\"data_point.csv\""
    );
    assert_eq!(
        String::from_utf8(csv.body.clone()).unwrap(),
        "id,name,unit,site_id,type\r\n\
         1,\"boiler, feed\",kWh,1,measured\r\n\
         2,\"say \"\"hi\"\"\",,,measured\r\n\
         3,chiller,m3,1,measured\r\n"
    );
    // `Accept` asks for it too; filters, search, ordering and fields apply.
    let by_accept = tenantapi_testkit::send(
        &service,
        request(
            "GET",
            "/api/v1/alpha/data_point/?search=er&ordering=-id&fields=id,name",
            Some(&format!("Token {}", kit.token("tester"))),
            None,
        )
        .insert_header((header::ACCEPT, "text/csv")),
    )
    .await;
    assert_eq!(
        String::from_utf8(by_accept.body).unwrap(),
        "id,name\r\n3,chiller\r\n1,\"boiler, feed\"\r\n"
    );
    // NDJSON: the list's rows, one a line.
    let ndjson = tenantapi_testkit::send(
        &service,
        request(
            "GET",
            "/api/v1/alpha/data_point/?unit__isnull=false",
            Some(&format!("Token {}", kit.token("tester"))),
            None,
        )
        .insert_header((header::ACCEPT, "application/x-ndjson")),
    )
    .await;
    assert_eq!(
        ndjson.headers.get(header::CONTENT_TYPE).unwrap(),
        "application/x-ndjson"
    );
    let list = kit
        .call(
            &service,
            "GET",
            "/api/v1/alpha/data_point/?unit__isnull=false",
            Some("tester"),
            None,
        )
        .await;
    let lines: Vec<Value> = String::from_utf8(ndjson.body)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(Value::from(lines), list.json["results"]);

    // What an export refuses.
    for query in [
        "format=csv&page=2",
        "format=csv&page_size=10",
        "format=ndjson&cursor=",
        "format=csv&expand=site",
        "format=csv&ordering=unit",
    ] {
        let refused = kit
            .call(
                &service,
                "GET",
                &format!("/api/v1/alpha/data_point/?{query}"),
                Some("tester"),
                None,
            )
            .await;
        assert_eq!(refused.status, 400, "{query}: {}", refused.json);
    }
    let unknown = kit
        .call(
            &service,
            "GET",
            "/api/v1/alpha/data_point/?format=xml",
            Some("tester"),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404, "as DRF's unknown format");
}

on_both_backends!(
    an_export_larger_than_a_batch_sends_every_row_once,
    large_export_scenario
);

async fn large_export_scenario(backend: Backend) {
    let kit = kit(backend, 2_500);
    let service = kit.service().await;
    let reply = kit
        .call(
            &service,
            "GET",
            "/api/v1/alpha/data_point/?format=ndjson",
            Some("tester"),
            None,
        )
        .await;
    let ids: Vec<i64> = String::from_utf8(reply.body)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, (1..=2_500).collect::<Vec<i64>>());
    let descending = kit
        .call(
            &service,
            "GET",
            "/api/v1/alpha/data_point/?format=csv&ordering=-id&fields=id",
            Some("tester"),
            None,
        )
        .await;
    let text = String::from_utf8(descending.body).unwrap();
    let ids: Vec<i64> = text.lines().skip(1).map(|id| id.parse().unwrap()).collect();
    assert_eq!(
        ids,
        (1..=2_500).rev().collect::<Vec<i64>>(),
        "ordered by -id across batches"
    );
}

/// A real socket (the kit's server on a loopback port), so that the client can go away.
mod a_client_that_goes_away_releases_the_export_s_connection {
    #[test]
    fn sqlite() {
        super::client_goes_away_scenario(tenantapi_testkit::Backend::Sqlite);
    }
    #[test]
    fn postgres() {
        super::client_goes_away_scenario(tenantapi_testkit::Backend::Postgres);
    }
}

/// Sends a request on a new connection to `server` and returns the start of the answer.
fn raw_get(server: &tenantapi_testkit::RunningServer, path: &str, token: &str) -> String {
    let mut stream = std::net::TcpStream::connect(server.address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Token {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut start = [0u8; 4096];
    let read = stream.read(&mut start).unwrap();
    String::from_utf8_lossy(&start[..read]).into_owned()
}

fn client_goes_away_scenario(backend: Backend) {
    let kit = kit(backend, 100_000);
    let server = kit.serve();
    let pool = kit.registry().pool("alpha").unwrap();
    let statements_before = pool.statements_run();
    let mut stream = std::net::TcpStream::connect(server.address).unwrap();
    write!(
        stream,
        "GET /api/v1/alpha/data_point/?format=ndjson HTTP/1.1\r\nHost: localhost\r\nAuthorization: Token {}\r\n\r\n",
        kit.token("tester")
    )
    .unwrap();
    let mut first = [0u8; 4096];
    let read = stream.read(&mut first).unwrap();
    assert!(
        String::from_utf8_lossy(&first[..read]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&first[..read])
    );
    drop(stream);
    let started = Instant::now();
    loop {
        let stats = pool.stats();
        if stats.in_use == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the export still holds its connection: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // It stopped: the whole export is a hundred batches of 1,000 rows.
    let statements = pool.statements_run() - statements_before;
    assert!(
        statements < 80,
        "{statements} statements ran for an export whose client left after 4 KiB"
    );
    // Served again at once, from the released connection.
    let again = raw_get(&server, "/api/v1/alpha/data_point/1/", kit.token("tester"));
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
}
