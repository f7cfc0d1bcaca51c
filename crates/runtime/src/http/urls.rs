//! Absolute URLs as the client addressed this server: DRF builds its links (`next`,
//! `previous`, `Location`, the API roots) from the request's scheme and Host.

use actix_web::HttpRequest;

/// The absolute URL of this request with `page` replaced (or removed), as DRF builds links.
pub fn page_url(request: &HttpRequest, page: Option<u64>) -> String {
    with_parameter(request, "page", page.map(|page| page.to_string()))
}

/// The absolute URL of this request with `cursor` replaced.
pub fn cursor_url(request: &HttpRequest, cursor: &str) -> String {
    with_parameter(request, "cursor", Some(cursor.to_string()))
}

/// The absolute URL of this request with the parameter `name` replaced (or removed).
fn with_parameter(request: &HttpRequest, name: &str, value: Option<String>) -> String {
    let mut pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(request.query_string()).unwrap_or_default();
    pairs.retain(|(key, _)| key != name);
    if let Some(value) = value {
        pairs.push((name.into(), value));
    }
    let base = absolute_path(request, request.path());
    if pairs.is_empty() {
        base
    } else {
        format!(
            "{base}?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }
}

/// `scheme://host` plus `path`, as the client addressed this server.
pub fn absolute_path(request: &HttpRequest, path: &str) -> String {
    let info = request.connection_info();
    format!("{}://{}{}", info.scheme(), info.host(), path)
}
