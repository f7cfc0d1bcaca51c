//! What wraps every request: its id and access event, and CORS. Every request runs inside a
//! `request` span carrying its id (the client's `X-Request-Id` when valid, a new one otherwise,
//! echoed in the response), so every event it causes names it; one access event per request
//! when `access_log` is on. Browser origins in `api.cors_allowed_origins` get CORS headers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use crate::registry::Registry;

/// The header a request id travels in, both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id accepted from a client; longer ones are replaced, not truncated.
const MAX_CLIENT_ID_LENGTH: usize = 128;

/// Whether the access event is logged (`access_log`); the span and the header always are.
#[derive(Debug, Clone, Copy)]
pub struct AccessLog(pub bool);

/// A client's id is kept when it is 1 to 128 characters a log line can carry unquoted and a
/// header can echo: letters, digits and `-_.:/+=@`. Anything else could forge log lines or
/// break their parsers, so it is replaced.
fn valid_client_id(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let valid = (1..=MAX_CLIENT_ID_LENGTH).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&byte));
    valid.then_some(text)
}

/// A new id: this process's random prefix and a counter, unique across processes and restarts
/// without a random draw per request.
fn new_request_id() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            // The clock is a poorer source, but ids stay unique within this process.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_nanos() as u64);
            bytes = nanos.to_le_bytes();
        }
        crate::secrets::hex(&bytes)
    });
    format!("{prefix}-{:08x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Middleware: the request span, the response header and the access event.
pub async fn track(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(valid_client_id)
        .map_or_else(new_request_id, str::to_string);
    let span = tracing::info_span!("request", request_id = %request_id);
    let logged = request
        .app_data::<web::Data<AccessLog>>()
        .is_some_and(|access_log| access_log.0);
    let method = request.method().clone();
    // Handlers' errors arrive here as responses; an `Err` is a failure inside actix itself.
    let mut response = next.call(request).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let metrics = response
        .request()
        .app_data::<web::Data<crate::metrics::Metrics>>()
        .zip(response.request().app_data::<web::Data<Registry>>());
    if !logged && metrics.is_none() {
        return Ok(response);
    }
    let elapsed = started.elapsed();
    let request = response.request();
    let status = response.status().as_u16();
    let info = request.match_info();
    let (project, table) = (info.get("project"), info.get("table"));
    if let Some((metrics, registry)) = metrics {
        metrics.observe(registry, &method, project, table, status, elapsed);
    }
    if logged {
        let bytes = match response.response().body().size() {
            BodySize::Sized(bytes) => Some(bytes),
            BodySize::None => Some(0),
            BodySize::Stream => None,
        };
        // The route's template, never the raw path or query: filter values and keys may be
        // personal data.
        let route = request.match_pattern();
        let route = route.as_deref().unwrap_or("(no route)");
        span.in_scope(|| {
            tracing::info!(
                target: "tenantapi::access",
                method = %method,
                route,
                project = project.unwrap_or(""),
                table = table.unwrap_or(""),
                status,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                bytes,
                "{method} {route} {status}",
            )
        });
    }
    Ok(response)
}

/// CORS for the configured origins (applied only when there are some): preflights for every
/// method the API serves, with the headers a client sends; the request id and `Retry-After`
/// readable by scripts. Other origins get no CORS headers (as django-cors-headers does), so
/// browsers keep them out while the API's own pages and non-browser clients are unaffected.
pub fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut cors = actix_cors::Cors::default();
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors.allowed_methods(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allowed_headers([
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::CONTENT_TYPE,
            actix_web::http::header::ACCEPT,
            REQUEST_ID_HEADER,
        ])
        .expose_headers([
            REQUEST_ID_HEADER,
            actix_web::http::header::RETRY_AFTER,
            crate::app::STRUCTURE_VERSION_HEADER,
        ])
        .block_on_origin_mismatch(false)
        .max_age(3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_kept_only_when_safe_to_log_and_echo() {
        for kept in ["abc", "0f9c-11ee:a/b+c=d@e_f.g", &"x".repeat(128)] {
            assert_eq!(
                valid_client_id(&HeaderValue::from_str(kept).unwrap()),
                Some(kept)
            );
        }
        for replaced in ["", "a b", "a\"b", "line\tbreak", "é", &"x".repeat(129)] {
            let Ok(value) = HeaderValue::from_str(replaced) else {
                continue;
            };
            assert_eq!(valid_client_id(&value), None, "{replaced:?}");
        }
    }

    #[test]
    fn new_ids_are_distinct_and_valid() {
        let first = new_request_id();
        let second = new_request_id();
        assert_ne!(first, second);
        assert_eq!(first.len(), 16 + 1 + 8);
        assert!(valid_client_id(&HeaderValue::from_str(&first).unwrap()).is_some());
    }
}
