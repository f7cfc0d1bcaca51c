//! Authentication of API callers: the `Authorization` header (DRF's `Token`, `Bearer`, HTTP
//! Basic), verified against the platform database, with verified results cached briefly so
//! that a request does not cost a platform round trip.
//!
//! Bound: a revoked token, a disabled user or a changed grant takes effect within
//! `auth.cache_seconds` (default 5 s), because no cached verdict is trusted longer than that
//! after it was read from the platform database.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine as _;
use sha2::Digest as _;
use tenantapi_runtime::connections::db::{ConnectionManager, DbPool};
use tenantapi_runtime::http::error::ApiError;

use crate::accounts::{self, Principal, Refusal};
use crate::secrets;

pub const NOT_PROVIDED: &str = "Authentication credentials were not provided.";
const INVALID_TOKEN: &str = "Invalid token.";
const INVALID_PASSWORD: &str = "Invalid username/password.";
const INACTIVE: &str = "User inactive or deleted.";
/// Longer headers are refused outright rather than hashed and looked up.
const MAX_CREDENTIALS_LENGTH: usize = 1024;

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

/// A verdict that credentials are valid, as read from the platform database at `read_at`.
struct Accepted {
    principal: Arc<Principal>,
    read_at: Instant,
    /// For HTTP Basic: the stored argon2 hash the password was verified against. While the
    /// user's stored hash is unchanged, a refresh needs no new argon2 verification.
    password_hash: Option<String>,
}

/// A verdict that credentials are invalid.
struct Refused {
    refusal: Refusal,
    read_at: Instant,
}

/// Verifies credentials against the platform database, through caches of verdicts.
///
/// Valid and invalid verdicts are cached apart: a flood of invalid credentials can neither
/// evict valid users' verdicts (whose cache admits by frequency and evicts by size) nor take
/// the platform connections their refreshes need (unknown credentials are looked up in a lane
/// of their own, bounded, then throttled with 429).
pub struct Authenticator {
    platform: DbPool,
    cache_for: Duration,
    accepted: moka::sync::Cache<[u8; 32], Arc<Accepted>>,
    refused: moka::sync::Cache<[u8; 32], Arc<Refused>>,
    /// Lookups of credentials not verified lately (possibly a flood of invented ones).
    unknown_lookups: Lane,
    /// argon2 verifications (about 19 MiB and tens of milliseconds each).
    password_checks: Lane,
    /// argon2 verifications each username holds now, running or waiting in `password_checks`
    /// (by a hash of the username; no entry at zero): one username's flood of guesses cannot
    /// take the places other users' first logins need.
    password_checks_by_username: std::sync::Mutex<std::collections::HashMap<[u8; 32], usize>>,
    /// Lookups sent to the platform database so far.
    platform_lookups: std::sync::atomic::AtomicU64,
    /// Verdicts answered from the caches (accepted or refused) so far.
    cache_hits: std::sync::atomic::AtomicU64,
}

/// Accepted verdicts are kept this many times `auth.cache_seconds` (at least a minute) after
/// they were read: past `cache_seconds` they are no longer trusted, but they mark the
/// credential as one that was valid, refreshed ahead of unknown ones and without argon2.
const KEEP_KNOWN_FACTOR: u32 = 12;
/// Total weight of accepted verdicts (one per verdict plus one per grant it carries).
const ACCEPTED_CAPACITY: u64 = 200_000;
/// Refused verdicts kept at most.
const REFUSED_CAPACITY: u64 = 10_000;
/// Platform connections (of 4) that lookups of unknown credentials may hold at once, and how
/// many such lookups may wait; more are throttled.
const UNKNOWN_LOOKUPS: usize = 2;
const UNKNOWN_LOOKUPS_WAITING: usize = 1024;
/// argon2 verifications at once, and how many may wait; more are throttled.
const PASSWORD_CHECKS: usize = 2;
const PASSWORD_CHECKS_WAITING: usize = 8;
/// argon2 verifications one username may have running or waiting at once; more for that
/// username alone are throttled. Two: a user who mistypes and retries at once is not refused.
const PASSWORD_CHECKS_PER_USERNAME: usize = 2;

/// A bounded line for scarce work: at most `running` at once and `waiting` in line; anyone
/// beyond is told to come back (429).
struct Lane {
    running: tokio::sync::Semaphore,
    waiting: std::sync::atomic::AtomicUsize,
    max_waiting: usize,
}

impl Lane {
    fn new(running: usize, max_waiting: usize) -> Lane {
        Lane {
            running: tokio::sync::Semaphore::new(running),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            max_waiting,
        }
    }

    async fn enter(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        if let Ok(permit) = self.running.try_acquire() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(ApiError::Throttled { wait_seconds: 1 });
        }
        // Given back however the wait ends, also when the request is dropped while queued
        // (its client went away): a place kept by a dropped waiter is lost for good.
        let _waiting = Waiting(&self.waiting);
        self.running
            .acquire()
            .await
            .map_err(|error| ApiError::internal("authentication lane closed", error))
    }
}

/// A place in a [`Lane`]'s line, given back when dropped.
struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A username's place among its argon2 verifications, given back when dropped.
struct UsernamePlace<'a> {
    counts: &'a std::sync::Mutex<std::collections::HashMap<[u8; 32], usize>>,
    key: [u8; 32],
}

impl Drop for UsernamePlace<'_> {
    fn drop(&mut self) {
        // Poisoned only by a panic while counting, which leaves nothing to give back.
        let Ok(mut held) = self.counts.lock() else {
            return;
        };
        if let std::collections::hash_map::Entry::Occupied(mut entry) = held.entry(self.key) {
            *entry.get_mut() -= 1;
            if *entry.get() == 0 {
                entry.remove();
            }
        }
    }
}

/// A turn at an argon2 verification: the lane's place and the username's.
struct PasswordTurn<'a> {
    _lane: tokio::sync::SemaphorePermit<'a>,
    _username_place: UsernamePlace<'a>,
}

/// What a lookup found.
enum Verdict {
    Accepted(Arc<Accepted>),
    Refused(Refusal),
}

impl Authenticator {
    pub fn new(platform_database_url: &str, cache_for: Duration) -> Authenticator {
        // Its own helper thread: a slow platform database never holds the threads the project
        // pools use.
        let helper = Arc::new(
            scheduled_thread_pool::ScheduledThreadPool::builder()
                .num_threads(1)
                .thread_name_pattern("tenantapi-platform-{}")
                .build(),
        );
        let platform = r2d2::Pool::builder()
            .max_size(4)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(5))
            .thread_pool(helper)
            .build_unchecked(ConnectionManager::creating(platform_database_url));
        let keep_known = (cache_for * KEEP_KNOWN_FACTOR).max(Duration::from_secs(60));
        Authenticator {
            platform,
            cache_for,
            accepted: moka::sync::Cache::builder()
                .max_capacity(ACCEPTED_CAPACITY)
                .weigher(|_, accepted: &Arc<Accepted>| {
                    1 + accepted.principal.grants.len().min(u32::MAX as usize - 1) as u32
                })
                .time_to_live(keep_known)
                .build(),
            refused: moka::sync::Cache::builder()
                .max_capacity(REFUSED_CAPACITY)
                .time_to_live(cache_for.max(Duration::from_millis(1)))
                .build(),
            unknown_lookups: Lane::new(UNKNOWN_LOOKUPS, UNKNOWN_LOOKUPS_WAITING),
            password_checks: Lane::new(PASSWORD_CHECKS, PASSWORD_CHECKS_WAITING),
            password_checks_by_username: std::sync::Mutex::default(),
            platform_lookups: std::sync::atomic::AtomicU64::new(0),
            cache_hits: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Verdicts answered from the caches since the start (cache misses are the lookups).
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.load(Ordering::Relaxed)
    }

    /// Lookups sent to the platform database since the start: what the caches save.
    pub fn platform_lookups(&self) -> u64 {
        self.platform_lookups
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The caller named by `credentials`, or the 401 to answer.
    pub async fn verify(&self, credentials: Credentials) -> Result<Arc<Principal>, ApiError> {
        let key = credentials.cache_key();
        let known = self.accepted.get(&key);
        if let Some(accepted) = &known
            && accepted.read_at.elapsed() < self.cache_for
        {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return principal_of(accepted);
        }
        if known.is_none()
            && let Some(refused) = self.refused.get(&key)
            && refused.read_at.elapsed() < self.cache_for
        {
            self.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Err(refusal_error(refused.refusal));
        }
        // Stamped before the lookup: the verdict is as old as the moment it was read.
        let read_at = Instant::now();
        let verdict = match (known, &credentials) {
            // Valid lately: refreshed on the platform pool's other connections, never behind a
            // flood (and, for a password, without argon2 unless the stored hash changed).
            (Some(known), _) => self.look_up(credentials, Some(known), read_at).await?,
            // Unknown passwords wait for an argon2 turn before anything else, so that a flood
            // of guesses is throttled before it costs a lookup.
            (None, Credentials::Basic { username, .. }) => {
                let turn = self.password_turn(username).await?;
                self.look_up_with_turn(credentials, None, read_at, Some(turn))
                    .await?
            }
            // Only what has the form of an issued token can be one: a flood of anything else
            // costs no lookup, no queue place and no cache entry.
            (None, Credentials::Token(token)) if !secrets::could_be_a_token(token) => {
                return Err(refusal_error(Refusal::InvalidToken));
            }
            (None, Credentials::Token(_)) => {
                let _turn = self.unknown_lookups.enter().await?;
                self.look_up(credentials, None, read_at).await?
            }
        };
        match verdict {
            Verdict::Accepted(accepted) => {
                self.remember_accepted(key, accepted.clone());
                principal_of(&accepted)
            }
            Verdict::Refused(refusal) => {
                self.accepted.invalidate(&key);
                self.refused
                    .insert(key, Arc::new(Refused { refusal, read_at }));
                Err(refusal_error(refusal))
            }
        }
    }

    /// Keeps the newer of two verdicts: a slow lookup must not replace what a later one read.
    fn remember_accepted(&self, key: [u8; 32], accepted: Arc<Accepted>) {
        self.refused.invalidate(&key);
        self.accepted
            .entry(key)
            .and_compute_with(|existing| match existing {
                Some(existing) if existing.value().read_at >= accepted.read_at => {
                    moka::ops::compute::Op::Nop
                }
                _ => moka::ops::compute::Op::Put(accepted),
            });
    }

    /// A turn at an argon2 verification for `username`: one of the username's own places
    /// first, then a place in the lane everyone shares. Both are given back when the turn is
    /// dropped, also when the request is dropped while it waits.
    async fn password_turn(&self, username: &str) -> Result<PasswordTurn<'_>, ApiError> {
        let username_place = self.take_username_place(username)?;
        let lane = self.password_checks.enter().await?;
        Ok(PasswordTurn {
            _lane: lane,
            _username_place: username_place,
        })
    }

    fn take_username_place(&self, username: &str) -> Result<UsernamePlace<'_>, ApiError> {
        let key: [u8; 32] = sha2::Sha256::digest(username.as_bytes()).into();
        let mut held = self
            .password_checks_by_username
            .lock()
            .expect("password check counts poisoned");
        let count = held.entry(key).or_insert(0);
        if *count >= PASSWORD_CHECKS_PER_USERNAME {
            return Err(ApiError::Throttled { wait_seconds: 1 });
        }
        *count += 1;
        Ok(UsernamePlace {
            counts: &self.password_checks_by_username,
            key,
        })
    }

    async fn look_up(
        &self,
        credentials: Credentials,
        known: Option<Arc<Accepted>>,
        read_at: Instant,
    ) -> Result<Verdict, ApiError> {
        self.look_up_with_turn(credentials, known, read_at, None)
            .await
    }

    /// `password_turn`: an argon2 turn already taken (unknown Basic credentials).
    async fn look_up_with_turn(
        &self,
        credentials: Credentials,
        known: Option<Arc<Accepted>>,
        read_at: Instant,
        mut password_turn: Option<PasswordTurn<'_>>,
    ) -> Result<Verdict, ApiError> {
        match credentials {
            Credentials::Token(token) => {
                let verdict = self
                    .on_platform(move |connection| accounts::authenticate_token(connection, &token))
                    .await?;
                Ok(match verdict {
                    Ok(principal) => Verdict::Accepted(Arc::new(Accepted {
                        principal: Arc::new(principal),
                        read_at,
                        password_hash: None,
                    })),
                    Err(refusal) => Verdict::Refused(refusal),
                })
            }
            Credentials::Basic { username, password } => {
                let looked_up = username.clone();
                let account = self
                    .on_platform(move |connection| {
                        accounts::password_account(connection, &looked_up)
                    })
                    .await?;
                let stored_hash = account
                    .as_ref()
                    .and_then(|account| account.password_hash.clone());
                let unchanged = known.as_ref().is_some_and(|known| {
                    stored_hash.is_some() && known.password_hash == stored_hash
                });
                let verdict = if let (true, Some(account)) = (unchanged, &account) {
                    // Verified against this very hash before, and the password hashes to the
                    // same cache key: no second argon2 verification needed.
                    account.if_password_matches.clone()
                } else {
                    if password_turn.is_none() {
                        password_turn = Some(self.password_turn(&username).await?);
                    }
                    let verdict = actix_web::web::block(move || {
                        accounts::verify_account_password(account.as_ref(), &password)
                    })
                    .await
                    .map_err(|error| ApiError::internal("password check task failed", error))?;
                    drop(password_turn);
                    verdict
                };
                Ok(match verdict {
                    Ok(principal) => Verdict::Accepted(Arc::new(Accepted {
                        principal: Arc::new(principal),
                        read_at,
                        password_hash: stored_hash,
                    })),
                    Err(refusal) => Verdict::Refused(refusal),
                })
            }
        }
    }

    /// Runs a platform database lookup off the async threads.
    async fn on_platform<T: Send + 'static>(
        &self,
        lookup: impl FnOnce(
            &mut tenantapi_runtime::connections::db::DbConnection,
        ) -> Result<T, accounts::AccountError>
        + Send
        + 'static,
    ) -> Result<T, ApiError> {
        let platform = self.platform.clone();
        self.platform_lookups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let span = tracing::Span::current();
        actix_web::web::block(move || {
            let _entered = span.enter();
            let mut connection = platform.get().map_err(|error| {
                tracing::warn!("platform database unavailable for authentication: {error}");
                ApiError::authentication_unavailable()
            })?;
            lookup(&mut connection)
                .map_err(|error| ApiError::internal("authentication lookup failed", error))
        })
        .await
        .map_err(|error| ApiError::internal("authentication task failed", error))?
    }
}

fn principal_of(accepted: &Accepted) -> Result<Arc<Principal>, ApiError> {
    if accepted
        .principal
        .expires_at
        .is_some_and(|expiry| expiry <= accounts::now_seconds())
    {
        return Err(not_authenticated(INVALID_TOKEN));
    }
    Ok(accepted.principal.clone())
}

fn refusal_error(refusal: Refusal) -> ApiError {
    not_authenticated(match refusal {
        Refusal::InvalidToken => INVALID_TOKEN,
        Refusal::InvalidPassword => INVALID_PASSWORD,
        Refusal::Inactive => INACTIVE,
    })
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

    /// Polls `future` once, without a runtime: whether it is still waiting.
    fn poll_once<F: std::future::Future>(
        future: std::pin::Pin<&mut F>,
    ) -> std::task::Poll<F::Output> {
        future.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    }

    /// Issue 24: a request dropped while queued for a lane (its client went away) kept its
    /// place in line for good, so a few rounds of impatient clients left a lane that throttled
    /// everyone.
    #[test]
    fn lane_waiters_dropped_in_line_give_their_places_back() {
        let lane = Lane::new(1, 2);
        let mut running = Box::pin(lane.enter());
        let std::task::Poll::Ready(Ok(_running)) = poll_once(running.as_mut()) else {
            panic!("a free lane admits at once");
        };
        for round in 0..3 {
            let mut waiters: Vec<_> = (0..2).map(|_| Box::pin(lane.enter())).collect();
            for waiter in &mut waiters {
                assert!(
                    poll_once(waiter.as_mut()).is_pending(),
                    "round {round}: a place in line is free"
                );
            }
            drop(waiters);
        }
        let mut first = Box::pin(lane.enter());
        let mut second = Box::pin(lane.enter());
        assert!(poll_once(first.as_mut()).is_pending());
        assert!(poll_once(second.as_mut()).is_pending());
        let mut third = Box::pin(lane.enter());
        assert!(matches!(
            poll_once(third.as_mut()),
            std::task::Poll::Ready(Err(ApiError::Throttled { wait_seconds: 1 }))
        ));
    }

    /// Issue 24: one username's argon2 checks take at most its own places; others still find
    /// theirs, and a username's places come back as its checks end.
    #[test]
    fn one_username_holds_at_most_its_own_password_checks() {
        let authenticator = Authenticator::new("unused-platform.db", Duration::from_secs(5));
        let mallory: Vec<_> = (0..PASSWORD_CHECKS_PER_USERNAME)
            .map(|_| authenticator.take_username_place("mallory").unwrap())
            .collect();
        assert!(matches!(
            authenticator.take_username_place("mallory"),
            Err(ApiError::Throttled { wait_seconds: 1 })
        ));
        let carol = authenticator.take_username_place("carol").unwrap();
        drop(mallory);
        let again = authenticator.take_username_place("mallory").unwrap();
        drop((carol, again));
        assert!(
            authenticator
                .password_checks_by_username
                .lock()
                .unwrap()
                .is_empty(),
            "no entry is kept for a username without checks"
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
