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
    assert!(
        header(&headers, "access-control-expose-headers")
            .unwrap()
            .to_ascii_lowercase()
            .contains("x-request-id")
    );
}

#[test]
fn no_cors_headers_without_allowed_origins_and_a_bad_origin_is_a_configuration_error() {
    let dir = temp_dir("no-cors");
    let log = dir.join("server.log");
    let (_server, port, token) = start(&dir, &[], &log);
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
