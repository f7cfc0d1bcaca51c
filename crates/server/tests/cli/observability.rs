//! What an operator sees of a running server: request ids, the access log in JSON, secrets
//! kept out of the logs, and CORS for browser clients.

use super::*;

/// One HTTP/1.1 request; returns the status, the headers (names lowercased) and the body.
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut text =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    stream.write_all(text.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(found, _)| found == name)
        .map(|(_, value)| value.as_str())
}

/// A platform with project `acme` (SQLite, created by `project create`), a superuser's token,
/// and a server on a free port with `environment` set; its standard error goes to `log`.
fn start(dir: &Path, environment: &[(&str, &str)], log: &Path) -> (Running, u16, String) {
    let platform = dir.join("platform.db");
    let created = tenantapi(
        &platform,
        &[
            "project",
            "create",
            "acme",
            "--database-url",
            dir.join("acme.db").to_str().unwrap(),
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(
        tenantapi(&platform, &["user", "add", "root", "--superuser"])
            .status
            .success()
    );
    let token = stdout(&tenantapi(&platform, &["token", "create", "root"]))
        .trim()
        .to_string();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tenantapi"));
    command
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("TENANTAPI_PLATFORM_DATABASE_URL", &platform)
        .env("TENANTAPI_REFRESH_SECONDS", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    for (name, value) in environment {
        command.env(name, value);
    }
    let server = Running(command.spawn().unwrap());
    wait_until("the server answers", || {
        get(port, "/api/v1/acme/data_point/", Some(&token)).is_some_and(|(status, _)| status == 200)
    });
    (server, port, token)
}

#[test]
fn json_logs_name_each_request_by_its_id_and_never_show_secrets() {
    let dir = temp_dir("json-logs");
    let log = dir.join("server.log");
    let (server, port, token) = start(
        &dir,
        &[
            ("TENANTAPI_LOG_FORMAT", "json"),
            ("TENANTAPI_ACCESS_LOG", "true"),
        ],
        &log,
    );
    let authorization = format!("Token {token}");
    // A project whose database refuses connections, with a password in its URL.
    let refused = free_port();
    let platform = dir.join("platform.db");
    let added = tenantapi(
        &platform,
        &[
            "project",
            "add",
            "broken",
            "--database-url",
            &format!("postgres://app:Pa55-w0rd-xyz@127.0.0.1:{refused}/broken"),
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));

    let (status, headers, body) = request(
        port,
        "GET",
        "/api/v1/acme/data_point/?name=filter-value-kept-out&ordering=-name",
        &[
            ("Authorization", &authorization),
            ("X-Request-Id", "client-id-1"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "x-request-id"), Some("client-id-1"));
    // An id that could forge log lines is replaced by one of ours.
    let (_, headers, _) = request(
        port,
        "GET",
        "/api/v1/acme/data_point/",
        &[("Authorization", &authorization), ("X-Request-Id", "a\"b")],
    );
    let generated = header(&headers, "x-request-id").unwrap().to_string();
    assert_ne!(generated, "a\"b");
    assert!(generated.len() >= 16, "{generated}");
    wait_until("the broken project is registered", || {
        let (status, _, _) = request(
            port,
            "GET",
            "/api/v1/broken/data_point/",
            &[
                ("Authorization", &authorization),
                ("X-Request-Id", "broken-1"),
            ],
        );
        status == 503
    });
    drop(server);

    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [token.as_str(), "Pa55-w0rd-xyz", "filter-value-kept-out"] {
        assert!(!text.contains(secret), "the log shows {secret:?}:\n{text}");
    }
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}")))
        .collect();
    let of_request = |id: &str| -> Vec<&serde_json::Value> {
        events
            .iter()
            .filter(|event| event["span"]["request_id"] == id)
            .collect()
    };
    let access = of_request("client-id-1");
    assert_eq!(access.len(), 1, "{access:?}");
    let access = access[0];
    assert_eq!(access["target"], "tenantapi::access");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["route"], "/api/v1/{project}/{table}/");
    assert_eq!(access["project"], "acme");
    assert_eq!(access["table"], "data_point");
    assert_eq!(access["status"], 200);
    assert!(access["bytes"].as_u64().unwrap() > 0, "{access}");
    assert!(access["duration_ms"].as_f64().unwrap() > 0.0, "{access}");
    assert_eq!(of_request(&generated).len(), 1);
    // The database error is logged inside the request that met it.
    let broken = of_request("broken-1");
    assert!(
        broken.iter().any(|event| event["level"] == "WARN"
            && event["message"]
                .as_str()
                .unwrap()
                .contains("project broken: cannot connect")),
        "{broken:?}"
    );
    assert!(
        broken
            .iter()
            .any(|event| event["target"] == "tenantapi::access" && event["status"] == 503)
    );
}

#[test]
fn cors_answers_the_preflight_of_allowed_origins_only() {
    let dir = temp_dir("cors");
    let log = dir.join("server.log");
    let (_server, port, token) = start(
        &dir,
        &[(
            "TENANTAPI_CORS_ALLOWED_ORIGINS",
            "https://app.example.com, http://localhost:3000",
        )],
        &log,
    );
    let preflight = |origin: &str| {
        request(
            port,
            "OPTIONS",
            "/api/v1/acme/data_point/",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "authorization, content-type",
                ),
            ],
        )
    };
    let (status, headers, _) = preflight("https://app.example.com");
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let methods = header(&headers, "access-control-allow-methods").unwrap();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed_headers = header(&headers, "access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed_headers.contains("authorization") && allowed_headers.contains("content-type"));

    let (_, headers, _) = preflight("https://evil.example.com");
    assert_eq!(header(&headers, "access-control-allow-origin"), None);

    let (status, headers, _) = request(
        port,
        "GET",
        "/api/v1/acme/data_point/",
        &[
            ("Origin", "http://localhost:3000"),
            ("Authorization", &format!("Token {token}")),
        ],
    );
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    let exposed = header(&headers, "access-control-expose-headers")
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("x-structure-version"),
        "{exposed}"
    );
    assert_eq!(
        header(&headers, "x-structure-version"),
        Some(tenantapi_generated::SCHEMA_VERSION)
    );
}

#[test]
fn no_cors_headers_or_metrics_when_off_and_a_bad_origin_is_a_configuration_error() {
    let dir = temp_dir("no-cors");
    let log = dir.join("server.log");
    let (_server, port, token) = start(&dir, &[("TENANTAPI_METRICS", "false")], &log);
    let (status, _, _) = request(
        port,
        "GET",
        "/metrics",
        &[("Authorization", &format!("Token {token}"))],
    );
    assert_eq!(status, 404, "metrics are off");
    let (status, headers, _) = request(
        port,
        "GET",
        "/api/v1/acme/data_point/",
        &[
            ("Origin", "https://app.example.com"),
            ("Authorization", &format!("Token {token}")),
        ],
    );
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "access-control-allow-origin"), None);

    let output = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
        .args(["project", "list"])
        .env("TENANTAPI_PLATFORM_DATABASE_URL", dir.join("platform.db"))
        .env("TENANTAPI_CORS_ALLOWED_ORIGINS", "https://app.example.com/")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output)
            .contains("api.cors_allowed_origins: \"https://app.example.com/\" has a path"),
        "{}",
        stderr(&output)
    );
}

/// The value of the sample of `name` whose labels are exactly `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (found_name, found_labels) = match series.split_once('{') {
                Some((found_name, rest)) => (found_name, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if found_name != name {
                return None;
            }
            let mut found: Vec<(String, String)> = found_labels
                .split(',')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap();
                    (key.to_string(), value.trim_matches('"').to_string())
                })
                .collect();
            let mut wanted: Vec<(String, String)> = labels
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect();
            found.sort();
            wanted.sort();
            (found == wanted).then(|| value.parse().unwrap())
        })
}

#[test]
fn metrics_count_known_traffic_exactly_for_superusers_and_a_private_listener() {
    let dir = temp_dir("metrics");
    let log = dir.join("server.log");
    let private_port = free_port();
    let (_server, port, root) = start(
        &dir,
        &[(
            "TENANTAPI_METRICS_BIND",
            &format!("127.0.0.1:{private_port}"),
        )],
        &log,
    );
    let platform = dir.join("platform.db");
    assert!(
        tenantapi(&platform, &["user", "add", "ann"])
            .status
            .success()
    );
    assert!(
        tenantapi(&platform, &["grant", "ann", "acme", "--role", "read"])
            .status
            .success()
    );
    let ann = stdout(&tenantapi(&platform, &["token", "create", "ann"]))
        .trim()
        .to_string();
    let as_root = format!("Token {root}");
    let as_ann = format!("Token {ann}");

    for _ in 0..3 {
        assert_eq!(
            request(
                port,
                "GET",
                "/api/v1/acme/site/",
                &[("Authorization", &as_root)]
            )
            .0,
            200
        );
    }
    assert_eq!(
        request(
            port,
            "GET",
            "/api/v1/acme/site/999/",
            &[("Authorization", &as_root)]
        )
        .0,
        404
    );
    for _ in 0..2 {
        // Invented project names are counted, but never become a label.
        assert_eq!(
            request(
                port,
                "GET",
                "/api/v1/invented-name/site/",
                &[("Authorization", &as_root)]
            )
            .0,
            404
        );
    }
    assert_eq!(
        request(
            port,
            "POST",
            "/api/v1/acme/site/",
            &[
                ("Authorization", &as_ann),
                ("Content-Type", "application/json"),
                ("Content-Length", "2")
            ]
        )
        .0,
        403
    );

    assert_eq!(request(port, "GET", "/metrics", &[]).0, 401);
    assert_eq!(
        request(port, "GET", "/metrics", &[("Authorization", &as_ann)]).0,
        403
    );
    let (status, headers, text) = request(port, "GET", "/metrics", &[("Authorization", &as_root)]);
    assert_eq!(status, 200);
    assert!(
        header(&headers, "content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );

    let requests = |project: &str, method: &str, status: &str| {
        sample(
            &text,
            "tenantapi_http_requests_total",
            &[
                ("project", project),
                ("table", "site"),
                ("method", method),
                ("status", status),
            ],
        )
    };
    assert_eq!(requests("acme", "GET", "2xx"), Some(3.0), "{text}");
    assert_eq!(requests("acme", "GET", "4xx"), Some(1.0), "{text}");
    assert_eq!(requests("", "GET", "4xx"), Some(2.0), "{text}");
    assert_eq!(requests("acme", "POST", "4xx"), Some(1.0), "{text}");
    assert!(!text.contains("invented-name"), "{text}");
    // Every request to acme is in its latency histogram (and the start's readiness polls).
    let acme_total: f64 = text
        .lines()
        .filter(|line| {
            line.starts_with("tenantapi_http_requests_total{") && line.contains("project=\"acme\"")
        })
        .map(|line| line.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum();
    assert_eq!(
        sample(
            &text,
            "tenantapi_http_request_duration_seconds_count",
            &[("project", "acme")]
        ),
        Some(acme_total)
    );
    assert!(acme_total >= 5.0 + 1.0);
    assert_eq!(
        sample(
            &text,
            "tenantapi_build_info",
            &[
                ("version", env!("CARGO_PKG_VERSION")),
                ("structure_version", tenantapi_generated::SCHEMA_VERSION)
            ],
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "tenantapi_project_state",
            &[("project", "acme"), ("state", "ok")]
        ),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            "tenantapi_projects_by_version",
            &[("version", tenantapi_generated::SCHEMA_VERSION)]
        )
        .is_some_and(|projects| projects >= 1.0),
        "the rollout summary counts acme under the served version"
    );
    assert_eq!(
        sample(
            &text,
            "tenantapi_pool_max_connections",
            &[("project", "acme")]
        ),
        Some(10.0)
    );
    assert_eq!(
        sample(
            &text,
            "tenantapi_pool_waiting_requests",
            &[("project", "acme")]
        ),
        Some(0.0)
    );
    let open = sample(
        &text,
        "tenantapi_pool_connections",
        &[("project", "acme"), ("state", "open")],
    )
    .unwrap();
    let idle = sample(
        &text,
        "tenantapi_pool_connections",
        &[("project", "acme"), ("state", "idle")],
    )
    .unwrap();
    assert!(
        open >= 1.0 && idle == open,
        "open {open}, idle {idle}: nothing in use between requests"
    );
    assert_eq!(
        sample(
            &text,
            "tenantapi_pool_connect_errors_total",
            &[("project", "acme")]
        ),
        Some(0.0)
    );
    assert!(
        sample(
            &text,
            "tenantapi_host_connection_limit",
            &[("host", "SQLite files")]
        )
        .is_some(),
        "{text}"
    );
    // The SQLite projects' in-flight limit: within its bounds (2 to 64 by default), nothing
    // counting or queued between requests.
    let limit = sample(
        &text,
        "tenantapi_host_statements",
        &[("host", "SQLite files"), ("state", "limit")],
    )
    .unwrap();
    assert!((2.0..=64.0).contains(&limit), "limit {limit}");
    for state in ["in_flight", "queued"] {
        assert_eq!(
            sample(
                &text,
                "tenantapi_host_statements",
                &[("host", "SQLite files"), ("state", state)]
            ),
            Some(0.0),
            "{state}"
        );
    }
    assert!(sample(&text, "tenantapi_auth_cache_hits_total", &[]).unwrap() >= 5.0);
    assert!(sample(&text, "tenantapi_auth_cache_misses_total", &[]).unwrap() >= 2.0);

    // The private listener: no credentials, nothing but the metrics.
    let (status, _, private) = request(private_port, "GET", "/metrics", &[]);
    assert_eq!(status, 200);
    assert_eq!(
        sample(
            &private,
            "tenantapi_http_requests_total",
            &[
                ("project", "acme"),
                ("table", "site"),
                ("method", "GET"),
                ("status", "2xx")
            ]
        ),
        Some(3.0)
    );
    assert_eq!(
        request(
            private_port,
            "GET",
            "/api/v1/",
            &[("Authorization", &as_root)]
        )
        .0,
        404
    );
}
