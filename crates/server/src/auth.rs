//! Authentication of API callers: the `Authorization` header (DRF's `Token`, `Bearer`, HTTP
//! Basic), verified against the platform database, with verified results cached briefly so
//! that a request does not cost a platform round trip.
//!
//! Bound: a revoked token, a disabled user or a changed grant takes effect within
//! `auth.cache_seconds` (default 5 s), because every cached verdict is dropped that long after
//! it was read from the platform database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine as _;
use sha2::Digest as _;
use tenantapi_runtime::db::{ConnectionManager, DbPool};
use tenantapi_runtime::error::ApiError;

use crate::accounts::{self, Principal, Refusal};

pub const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
const INVALID_TOKEN: &str = "Invalid token.";
const INVALID_PASSWORD: &str = "Invalid username/password.";
const INACTIVE: &str = "User inactive or deleted.";
/// Longer headers are refused outright rather than hashed and looked up.
const MAX_CREDENTIALS_LENGTH: usize = 1024;
/// Entries kept at most; an attacker cycling through invalid tokens cannot grow memory past it.
const MAX_CACHE_ENTRIES: usize = 10_000;

/// What the `Authorization` header carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    Token(String),
    Basic { username: String, password: String },
}

impl Credentials {
    /// Cache key: a hash, so that secrets are not kept in memory longer than needed.
    fn cache_key(&self) -> [u8; 32] {
        let mut hasher = sha2::Sha256::new();
        match self {
            Credentials::Token(token) => {
                hasher.update(b"token\0");
                hasher.update(token.as_bytes());
            }
            Credentials::Basic { username, password } => {
                // Length-prefixed, so that no two (username, password) pairs share a key.
                hasher.update(b"basic\0");
                hasher.update((username.len() as u64).to_le_bytes());
                hasher.update(username.as_bytes());
                hasher.update(password.as_bytes());
            }
        }
        hasher.finalize().into()
    }
}

fn not_authenticated(message: &str) -> ApiError {
    ApiError::NotAuthenticated(message.to_string())
}

/// Parses the header, with DRF's messages for malformed ones. `Ok(None)`: no credentials.
pub fn parse_authorization(request: &HttpRequest) -> Result<Option<Credentials>, ApiError> {
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    // DRF splits the header on runs of whitespace: `Token  abc` is `Token` and `abc`.
    let parts: Vec<&[u8]> = value
        .as_bytes()
        .split(|byte| byte.is_ascii_whitespace())
        .filter(|part| !part.is_empty())
        .collect();
    let Some(scheme) = parts.first() else {
        return Ok(None);
    };
    let token_scheme =
        scheme.eq_ignore_ascii_case(b"token") || scheme.eq_ignore_ascii_case(b"bearer");
    let basic_scheme = scheme.eq_ignore_ascii_case(b"basic");
    if !token_scheme && !basic_scheme {
        // Like DRF: a scheme no authenticator knows is no credentials at all.
        return Ok(None);
    }
    let kind = if token_scheme { "token" } else { "basic" };
    if parts.len() == 1 {
        return Err(not_authenticated(&format!(
            "Invalid {kind} header. No credentials provided."
        )));
    }
    if parts.len() > 2 {
        let what = if token_scheme {
            "Token string"
        } else {
            "Credentials string"
        };
        return Err(not_authenticated(&format!(
            "Invalid {kind} header. {what} should not contain spaces."
        )));
    }
    let rest = parts[1];
    if rest.len() > MAX_CREDENTIALS_LENGTH {
        return Err(not_authenticated(if token_scheme {
            INVALID_TOKEN
        } else {
            INVALID_PASSWORD
        }));
    }
    let Ok(text) = std::str::from_utf8(rest) else {
        return Err(not_authenticated(&format!(
            "Invalid {kind} header. Token string should not contain invalid characters."
        )));
    };
    if token_scheme {
        return Ok(Some(Credentials::Token(text.to_string())));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .ok_or_else(|| {
            not_authenticated("Invalid basic header. Credentials not correctly base64 encoded.")
        })?;
    let Some((username, password)) = decoded.split_once(':') else {
        return Err(not_authenticated(
            "Invalid basic header. Credentials not correctly base64 encoded.",
        ));
    };
    Ok(Some(Credentials::Basic {
        username: username.to_string(),
        password: password.to_string(),
    }))
}

struct CachedVerdict {
    verdict: Result<Arc<Principal>, Refusal>,
    read_at: Instant,
}

/// Verifies credentials against the platform database, through a short-lived cache.
pub struct Authenticator {
    platform: DbPool,
    cache_for: Duration,
    /// Read on every request by every worker, written only on a miss: a read-write lock.
    cache: RwLock<HashMap<[u8; 32], CachedVerdict>>,
    password_checks: tokio::sync::Semaphore,
}

impl Authenticator {
    pub fn new(
        platform_database_url: &str,
        cache_for: Duration,
        helper_threads: Arc<scheduled_thread_pool::ScheduledThreadPool>,
    ) -> Authenticator {
        let platform = r2d2::Pool::builder()
            .max_size(4)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(5))
            .thread_pool(helper_threads)
            .build_unchecked(ConnectionManager::creating(platform_database_url));
        Authenticator {
            platform,
            cache_for,
            cache: RwLock::new(HashMap::new()),
            password_checks: tokio::sync::Semaphore::new(2),
        }
    }

    /// The caller of this request, or the 401 to answer.
    pub async fn authenticate(&self, request: &HttpRequest) -> Result<Arc<Principal>, ApiError> {
        let credentials =
            parse_authorization(request)?.ok_or_else(|| not_authenticated(NOT_PROVIDED))?;
        let key = credentials.cache_key();
        let verdict = match self.cached(&key) {
            Some(verdict) => verdict,
            None => {
                // Stamped before the lookup: the verdict is as old as the moment it was read.
                let read_at = Instant::now();
                let verdict = self.verify(credentials).await?;
                self.remember(key, verdict.clone(), read_at);
                verdict
            }
        };
        match verdict {
            Ok(principal) => Ok(principal),
            Err(Refusal::InvalidToken) => Err(not_authenticated(INVALID_TOKEN)),
            Err(Refusal::InvalidPassword) => Err(not_authenticated(INVALID_PASSWORD)),
            Err(Refusal::Inactive) => Err(not_authenticated(INACTIVE)),
        }
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Result<Arc<Principal>, Refusal>> {
        let cache = self.cache.read().expect("auth cache lock poisoned");
        let entry = cache.get(key)?;
        if entry.read_at.elapsed() >= self.cache_for {
            return None;
        }
        if let Ok(principal) = &entry.verdict
            && principal
                .expires_at
                .is_some_and(|expiry| expiry <= accounts::now_seconds())
        {
            return Some(Err(Refusal::InvalidToken));
        }
        Some(entry.verdict.clone())
    }

    fn remember(&self, key: [u8; 32], verdict: Result<Arc<Principal>, Refusal>, read_at: Instant) {
        let mut cache = self.cache.write().expect("auth cache lock poisoned");
        // A slow lookup must not replace what a later one read.
        if cache
            .get(&key)
            .is_some_and(|existing| existing.read_at >= read_at)
        {
            return;
        }
        if cache.len() >= MAX_CACHE_ENTRIES {
            let cache_for = self.cache_for;
            cache.retain(|_, entry| entry.read_at.elapsed() < cache_for);
            if cache.len() >= MAX_CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, CachedVerdict { verdict, read_at });
    }

    async fn verify(
        &self,
        credentials: Credentials,
    ) -> Result<Result<Arc<Principal>, Refusal>, ApiError> {
        // A password costs an argon2 verification (about 19 MiB and tens of milliseconds):
        // at most two at a time, so that Basic requests (cached or not, e.g. an attacker
        // cycling passwords) cannot take every platform connection from token lookups.
        let _password_turn = match &credentials {
            Credentials::Basic { .. } => Some(
                self.password_checks
                    .acquire()
                    .await
                    .map_err(|error| ApiError::internal("password check queue closed", error))?,
            ),
            Credentials::Token(_) => None,
        };
        let platform = self.platform.clone();
        let verdict = actix_web::web::block(move || {
            let mut connection = platform.get().map_err(|error| {
                log::warn!("platform database unavailable for authentication: {error}");
                ApiError::Unavailable {
                    detail: "Authentication is unavailable. Try again later.".into(),
                    retry_after_seconds: 5,
                }
            })?;
            let verdict = match &credentials {
                Credentials::Token(token) => accounts::authenticate_token(&mut connection, token),
                Credentials::Basic { username, password } => {
                    accounts::authenticate_password(&mut connection, username, password)
                }
            };
            verdict.map_err(|error| ApiError::internal("authentication lookup failed", error))
        })
        .await
        .map_err(|error| ApiError::internal("authentication task failed", error))??;
        Ok(verdict.map(Arc::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn parse(header: &[u8]) -> Result<Option<Credentials>, String> {
        let request = TestRequest::default()
            .insert_header((
                header::AUTHORIZATION,
                actix_web::http::header::HeaderValue::from_bytes(header).unwrap(),
            ))
            .to_http_request();
        parse_authorization(&request).map_err(|error| match error {
            ApiError::NotAuthenticated(message) => message,
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn token_schemes_follow_drf() {
        assert_eq!(
            parse(b"Token abc"),
            Ok(Some(Credentials::Token("abc".into())))
        );
        assert_eq!(
            parse(b"Bearer abc"),
            Ok(Some(Credentials::Token("abc".into())))
        );
        assert_eq!(
            parse(b"token abc"),
            Ok(Some(Credentials::Token("abc".into())))
        );
        assert_eq!(
            parse(b"Token"),
            Err("Invalid token header. No credentials provided.".into())
        );
        assert_eq!(
            parse(b"Token a b"),
            Err("Invalid token header. Token string should not contain spaces.".into())
        );
        assert_eq!(
            parse(b"Token \xff\xfe"),
            Err("Invalid token header. Token string should not contain invalid characters.".into())
        );
        assert_eq!(
            parse(&[b"Token ".as_slice(), &[b'a'; 5000]].concat()),
            Err(INVALID_TOKEN.into())
        );
        assert_eq!(
            parse(b"Digest abc"),
            Ok(None),
            "unknown schemes are no credentials"
        );
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("ann:pa:ss");
        assert_eq!(
            parse(format!("Basic {encoded}").as_bytes()),
            Ok(Some(Credentials::Basic {
                username: "ann".into(),
                password: "pa:ss".into()
            }))
        );
        assert_eq!(
            parse(b"Basic !!!"),
            Err("Invalid basic header. Credentials not correctly base64 encoded.".into())
        );
        let no_colon = base64::engine::general_purpose::STANDARD.encode("ann");
        assert_eq!(
            parse(format!("Basic {no_colon}").as_bytes()),
            Err("Invalid basic header. Credentials not correctly base64 encoded.".into())
        );
    }
}
