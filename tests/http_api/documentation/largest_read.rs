//! The largest read the document allows, sent on a real socket: the bound the generator puts
//! on a read's query values keeps it under the HTTP layer's URL limit.

use super::super::*;
use super::kit_with_roles;

/// `GET target` on a real socket (the HTTP layer's own limits apply): the status, the
/// `Content-Type` and the body.
fn get_over_tcp(
    address: std::net::SocketAddr,
    target: &str,
    authorization: &str,
) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {address}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let end = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a head");
    let head = String::from_utf8_lossy(&answer[..end]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, answer[end + 4..].to_vec())
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The largest read the document allows passes the HTTP layer (whose limit on a URL is 64 KiB)
/// and is answered by the API: every free-text parameter at its `maxLength` in characters of
/// four UTF-8 bytes, every list of choices whole, comma-encoded. Values a column refuses are
/// DRF's 400 naming them; without them the read answers 200.
#[::core::prelude::v1::test]
fn the_largest_read_the_document_allows_is_answered() {
    let kit = kit_with_roles(Backend::Sqlite, |_| {});
    let server = kit.serve();
    let authorization = format!("Token {}", kit.token("writer"));
    let (status, _, body) = get_over_tcp(server.address, "/api/v1/schema/", &authorization);
    assert_eq!(status, 200);
    let document: Value = serde_json::from_slice(&body).unwrap();
    let mut widest = 0;
    for table in tenantapi_generated::API.table_metas() {
        let template = format!("/{{project}}/{}/", table.name);
        let mut query: Vec<(String, String)> = Vec::new();
        for parameter in document["paths"][&template]["get"]["parameters"]
            .as_array()
            .unwrap()
        {
            let schema = &parameter["schema"];
            let name = parameter["name"].as_str().unwrap_or_default().to_owned();
            if name == "format" {
                // `csv` and `ndjson` ask for an export, which is no page of rows.
                continue;
            }
            if let Some(choices) = schema["items"]["enum"].as_array() {
                let all: Vec<&str> = choices.iter().map(|c| c.as_str().unwrap()).collect();
                query.push((name, all.join(",")));
            } else if parameter["in"] == "query"
                && schema["type"] == "string"
                && schema.get("enum").is_none()
                && schema.get("format").is_none()
                && schema.get("pattern").is_none()
            {
                let length = schema["maxLength"].as_u64().expect("bounded") as usize;
                query.push((name, "\u{1F600}".repeat(length)));
            } else if parameter["in"] == "query" {
                // A long value of its kind; patterns are left out.
                let value = match (&schema["type"], schema["format"].as_str()) {
                    (_, _) if schema["enum"].is_array() => schema["enum"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(Value::as_str)
                        .max_by_key(|choice| choice.len())
                        .map(str::to_owned),
                    (kind, _) if kind == "integer" => Some("-2147483648".to_owned()),
                    (kind, _) if kind == "number" => Some("-1.7976931348623157e308".to_owned()),
                    (kind, _) if kind == "boolean" => Some("false".to_owned()),
                    (_, Some("uuid")) => Some("00000000-0000-4000-8000-000000000000".to_owned()),
                    (_, Some("date")) => Some("2024-01-01".to_owned()),
                    _ => None,
                };
                query.extend(value.map(|value| (name, value)));
            }
        }
        let mut refused = std::collections::HashSet::new();
        let mut largest = 0;
        for attempt in 0..2 {
            let encoded: Vec<String> = query
                .iter()
                .filter(|(name, _)| !refused.contains(name))
                .map(|(name, value)| format!("{name}={}", percent_encode(value)))
                .collect();
            let target = format!("/api/v1/alpha/{}/?{}", table.name, encoded.join("&"));
            largest = largest.max(target.len());
            let (status, content_type, body) =
                get_over_tcp(server.address, &target, &authorization);
            assert_eq!(
                content_type,
                "application/json",
                "{}: {status} from the HTTP layer for {} bytes",
                table.name,
                target.len()
            );
            let answer: Value = serde_json::from_slice(&body).unwrap();
            match (status, attempt) {
                (200, _) => break,
                (400, 0) => refused.extend(
                    answer
                        .as_object()
                        .unwrap()
                        .keys()
                        .filter(|key| *key != "detail")
                        .cloned(),
                ),
                _ => panic!("{}: {status} {answer}", table.name),
            }
        }
        widest = widest.max(largest);
    }
    assert!(widest > 40_000, "the widest read took only {widest} bytes");
}
