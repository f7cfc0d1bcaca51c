//! `api.allowed_hosts`, Django's ALLOWED_HOSTS: the API builds absolute URLs from the Host
//! header, which must not be an attacker's choice, so other hosts get 400.

use std::sync::Arc;

use actix_web::{HttpRequest, web};
use tenantapi_runtime::http::error::ApiError;

/// Host names the API answers for: `api.example.com`, `.example.com` (the domain and its
/// subdomains) or `*`. Empty: any host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Arc<[String]>);

impl AllowedHosts {
    pub fn new(patterns: &[String]) -> AllowedHosts {
        AllowedHosts(
            patterns
                .iter()
                .map(|pattern| pattern.to_ascii_lowercase())
                .collect(),
        )
    }

    /// Whether `host` (as the client sent it, port included or not) may be served.
    pub fn allows(&self, host: &str) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let name = match host.rsplit_once(':') {
            // A bracketed IPv6 address keeps its colons.
            Some((name, port))
                if port.bytes().all(|byte| byte.is_ascii_digit()) && !name.ends_with(':') =>
            {
                name
            }
            _ => host,
        }
        .to_ascii_lowercase();
        self.0.iter().any(|pattern| {
            pattern == "*"
                || *pattern == name
                || pattern
                    .strip_prefix('.')
                    .is_some_and(|domain| name == domain || name.ends_with(pattern.as_str()))
        })
    }

    /// 400 for a request whose Host is not allowed.
    pub fn check(&self, request: &HttpRequest) -> Result<(), ApiError> {
        let host = request.connection_info().host().to_string();
        if self.allows(&host) {
            return Ok(());
        }
        Err(ApiError::BadRequest(format!(
            "Invalid host \"{host}\": it is not in api.allowed_hosts."
        )))
    }
}

/// Middleware refusing hosts outside `api.allowed_hosts` (registered as app data) with 400.
pub async fn require_allowed_host(
    request: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let hosts = request
        .app_data::<web::Data<AllowedHosts>>()
        .expect("BUG: AllowedHosts were not registered");
    if let Err(error) = hosts.check(request.request()) {
        return Ok(request.error_response(error));
    }
    Ok(next.call(request).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(patterns: &[&str]) -> AllowedHosts {
        AllowedHosts::new(
            &patterns
                .iter()
                .map(|host| host.to_string())
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn allowed_hosts_follow_django() {
        assert!(hosts(&[]).allows("anything:1234"));
        let exact = hosts(&["api.example.com"]);
        assert!(exact.allows("api.example.com"));
        assert!(exact.allows("API.example.com:8000"));
        assert!(!exact.allows("evil.com"));
        assert!(!exact.allows("api.example.com.evil.com"));
        let domain = hosts(&[".example.com"]);
        assert!(domain.allows("example.com") && domain.allows("a.b.example.com:443"));
        assert!(!domain.allows("badexample.com"));
        assert!(hosts(&["*"]).allows("whatever"));
        assert!(hosts(&["[::1]"]).allows("[::1]:8000"));
    }
}
