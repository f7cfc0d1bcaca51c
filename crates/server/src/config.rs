//! Server configuration: a TOML file, then environment variables, each checked before use.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tenantapi_runtime::connections::pool::PoolSettings;

/// Everything `serve` needs, after defaults, file and environment were applied.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub bind: String,
    /// Our own database (projects, users, grants, tokens): a `postgres://` URL or a SQLite path.
    pub platform_database_url: String,
    /// HTTP worker threads; default: half the cores, at least one ([`Config::http_workers`]).
    pub workers: Option<usize>,
    /// How often `serve` re-reads the project list from the platform database.
    pub refresh_seconds: u64,
    /// Log one access event per request (method, route template, project, table, status,
    /// duration, bytes, request id).
    pub access_log: bool,
    /// How log events are written to standard error: `text` lines or `json` objects, one per
    /// line. `RUST_LOG` filters them (default `info`).
    pub log_format: LogFormat,
    /// Count requests and serve `GET /metrics` (Prometheus' text format) to superusers.
    pub metrics: bool,
    /// Also serve `GET /metrics` on this address without credentials (a private network's
    /// scraper); nothing else is served there.
    pub metrics_bind: Option<String>,
    /// How often every project's structure version is checked again: the bound within which a
    /// database migrated while the server runs stops being served (and comes back).
    pub version_check_seconds: u64,
    pub pool: PoolConfig,
    pub api: ApiConfig,
    pub auth: AuthConfig,
    pub limits: LimitsConfig,
}

/// Default rate limits (token buckets) of every project and every user; `project set-limits`
/// and `user set-limits` override them one by one in the platform database. A rate of 0 is no
/// limit; a burst of 0 is one second's worth of requests.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests per second one project is served, all its users together.
    pub project_rate_per_second: f64,
    pub project_burst: u32,
    /// Requests per second one user is served, all the projects together.
    pub user_rate_per_second: f64,
    pub user_burst: u32,
}

impl Default for LimitsConfig {
    /// Off: what a project or a user may send is the operator's decision; the database
    /// servers are shared fairly between projects without it.
    fn default() -> Self {
        LimitsConfig {
            project_rate_per_second: 0.0,
            project_burst: 0,
            user_rate_per_second: 0.0,
            user_burst: 0,
        }
    }
}

/// How log events are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(()),
        }
    }
}

/// What the HTTP application needs from the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppSettings {
    /// Paging and body limits, for the generic handlers.
    pub api: tenantapi_runtime::http::settings::ApiSettings,
    pub allowed_hosts: crate::hosts::AllowedHosts,
    /// The configuration the OpenAPI document is adjusted to.
    pub document: DocumentSettings,
    /// Browser origins allowed to call the API (CORS); empty: no CORS headers.
    pub cors_allowed_origins: Vec<String>,
}

/// What of the configuration the served OpenAPI document depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentSettings {
    pub default_page_size: u64,
    pub max_page_size: u64,
    pub max_bulk_items: usize,
    pub auth_required: bool,
    pub public_schema: bool,
    /// Swagger UI's `persistAuthorization`: keep what was entered in "Authorize" (an API
    /// token) in the browser's localStorage across reloads.
    pub persist_authorization: bool,
}

impl Default for DocumentSettings {
    fn default() -> Self {
        Config::default().app_settings().document
    }
}

/// Callers and their grants.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `false` serves every project to anyone, for benchmarks and closed networks only.
    pub required: bool,
    /// How long a verified credential is trusted without asking the platform database again:
    /// the bound within which a revoked token, a disabled user or a changed grant takes effect.
    pub cache_seconds: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            required: true,
            cache_seconds: 5,
        }
    }
}

/// Per-project connection pools.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Connections per project at most; none are opened before a request needs one.
    pub max_size: u32,
    /// How long a request waits for a connection before answering 503.
    pub checkout_timeout_ms: u64,
    /// Idle connections are closed after this long.
    pub idle_timeout_seconds: u64,
    /// Ping each connection when it is checked out (one round trip more per request).
    pub test_on_checkout: bool,
    /// Connections to one database server (host and port) at most, all its projects together:
    /// keeps this server from exhausting the database server's `max_connections`.
    pub max_connections_per_host: u32,
    /// Percent of a database server's connections (of `max_connections_per_host`, and of
    /// `max_sqlite_connections` for SQLite projects) that one project may hold while another
    /// project waits for one; below it, waiting projects holding the fewest go first.
    pub project_share_percent: u8,
    /// SQLite connections at most, all SQLite projects together: each holds about 115 KB of
    /// this process's memory and its file descriptors. Past it, a project that needs a
    /// connection closes another project's idle one; below the number of busy projects that
    /// costs an open per request (measured: 1,000 projects round-robin under a budget of 256
    /// served 852 req/s, against 13,363 with every project keeping its connection).
    pub max_sqlite_connections: u32,
    /// Statements running longer are cancelled (PostgreSQL's `statement_timeout`; SQLite is
    /// interrupted) and the request answers 503. 0: no limit.
    pub statement_timeout_ms: u64,
    /// Prepared statements a connection keeps before its cache is cleared.
    pub max_cached_statements: u32,
    /// Database work in flight against one database server at once, all its projects
    /// together, at most (requests beyond wait their turn, within the checkout timeout).
    pub max_in_flight_per_host: u32,
    /// Let the in-flight limit follow the latency it causes (from 4, between 2 and
    /// `max_in_flight_per_host`); `false` keeps it at `max_in_flight_per_host`.
    pub adaptive_in_flight: bool,
}

impl PoolConfig {
    pub fn settings(&self) -> PoolSettings {
        PoolSettings {
            max_size: self.max_size,
            checkout_timeout: Duration::from_millis(self.checkout_timeout_ms),
            idle_timeout: Duration::from_secs(self.idle_timeout_seconds),
            statement_timeout: (self.statement_timeout_ms > 0)
                .then(|| Duration::from_millis(self.statement_timeout_ms)),
            test_on_checkout: self.test_on_checkout,
            max_cached_statements: self.max_cached_statements as usize,
        }
    }

    /// The in-flight limit of each database server.
    pub fn in_flight(&self) -> tenantapi_runtime::connections::limit::LimitSettings {
        let max = self.max_in_flight_per_host as usize;
        tenantapi_runtime::connections::limit::LimitSettings {
            initial: 4.min(max),
            min: 2.min(max),
            max,
            adaptive: self.adaptive_in_flight,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub default_page_size: u64,
    pub max_page_size: u64,
    pub max_body_bytes: usize,
    /// Rows one bulk create (a POST whose body is a JSON list) may carry; more is 400.
    pub max_bulk_items: usize,
    /// Rows one read may produce: its page's and every row `expand` adds, counted as often as
    /// the answer holds them; more is 400. At least `max_page_size`.
    pub max_read_rows: usize,
    /// Host names the API answers for, as Django's ALLOWED_HOSTS (`api.example.com`,
    /// `.example.com`, `*`); other hosts get 400. Empty: any host.
    pub allowed_hosts: Vec<String>,
    /// Serve the OpenAPI document (`/api/v1/schema/`) and the docs page without credentials:
    /// they describe the structure only, never a project.
    pub public_schema: bool,
    /// Browser origins (`https://app.example.com`) allowed to call the API across origins
    /// (CORS): their preflights are answered and their responses carry CORS headers. Empty
    /// (the default): no CORS headers, so browsers keep other origins out.
    pub cors_allowed_origins: Vec<String>,
    /// Let the docs page keep the token entered in "Authorize" in the browser's localStorage
    /// (Swagger UI's `persistAuthorization`), where any script of the page's origin can read
    /// it, and where it outlives the tab. Off by default: the token is asked for again after a
    /// reload.
    pub docs_persist_authorization: bool,
}

impl Config {
    /// The HTTP worker threads `serve` runs: `workers`, or half the cores (at least one).
    ///
    /// Half, not actix's one per core: a request's database work runs on a blocking thread
    /// that costs about as much CPU as the worker's part (20 µs each for a GET by id), so one
    /// worker per core leaves the workers competing with the blocking threads (and a local
    /// database) for the same cores. Measured on 2 cores, GET by id at 32 connections: two
    /// workers 24,700-26,400 req/s with a p99 of 9.5-12.4 ms, one worker 23,400-23,900 req/s
    /// with a p99 of 2.6-2.8 ms; with queued work run by the finishing thread
    /// ([`tenantapi_runtime::connections::limit`]), two workers 25,100-27,700 req/s (p99 2.7-2.9 ms), one
    /// worker 30,600-33,400 (p99 2.1-2.3 ms) (BENCHMARKS.md).
    pub fn http_workers(&self) -> usize {
        self.workers.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
            (cores / 2).max(1)
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8000".into(),
            platform_database_url: "data/platform.db".into(),
            workers: None,
            refresh_seconds: 5,
            access_log: false,
            log_format: LogFormat::Text,
            metrics: true,
            metrics_bind: None,
            version_check_seconds: 10,
            pool: PoolConfig::default(),
            api: ApiConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
        }
    }
}

impl Default for PoolConfig {
    /// A pool's own settings default as the runtime's [`PoolSettings`] do; the server-wide
    /// ones are the server's.
    fn default() -> Self {
        let pool = PoolSettings::default();
        PoolConfig {
            max_size: pool.max_size,
            checkout_timeout_ms: pool.checkout_timeout.as_millis() as u64,
            idle_timeout_seconds: pool.idle_timeout.as_secs(),
            test_on_checkout: pool.test_on_checkout,
            max_connections_per_host: 50,
            project_share_percent: 50,
            max_sqlite_connections: 2048,
            statement_timeout_ms: pool
                .statement_timeout
                .map_or(0, |timeout| timeout.as_millis() as u64),
            max_cached_statements: u32::try_from(pool.max_cached_statements).unwrap_or(u32::MAX),
            max_in_flight_per_host: 64,
            adaptive_in_flight: true,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        use tenantapi_schema::api_rules as rules;
        ApiConfig {
            default_page_size: rules::DEFAULT_PAGE_SIZE,
            max_page_size: rules::DEFAULT_MAX_PAGE_SIZE,
            max_body_bytes: rules::DEFAULT_MAX_BODY_BYTES,
            max_bulk_items: rules::DEFAULT_MAX_BULK_ITEMS,
            max_read_rows: rules::DEFAULT_MAX_READ_ROWS,
            allowed_hosts: Vec::new(),
            public_schema: true,
            cors_allowed_origins: Vec::new(),
            docs_persist_authorization: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {name}={value:?} is invalid: {expected}")]
    Environment {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Environment variables that override the file, with the setting each one sets.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("TENANTAPI_BIND", "bind"),
    ("TENANTAPI_PLATFORM_DATABASE_URL", "platform_database_url"),
    ("TENANTAPI_WORKERS", "workers"),
    ("TENANTAPI_REFRESH_SECONDS", "refresh_seconds"),
    ("TENANTAPI_ACCESS_LOG", "access_log"),
    ("TENANTAPI_LOG_FORMAT", "log_format"),
    ("TENANTAPI_METRICS", "metrics"),
    ("TENANTAPI_METRICS_BIND", "metrics_bind"),
    ("TENANTAPI_VERSION_CHECK_SECONDS", "version_check_seconds"),
    ("TENANTAPI_POOL_MAX_SIZE", "pool.max_size"),
    (
        "TENANTAPI_LIMITS_PROJECT_RATE_PER_SECOND",
        "limits.project_rate_per_second",
    ),
    ("TENANTAPI_LIMITS_PROJECT_BURST", "limits.project_burst"),
    (
        "TENANTAPI_LIMITS_USER_RATE_PER_SECOND",
        "limits.user_rate_per_second",
    ),
    ("TENANTAPI_LIMITS_USER_BURST", "limits.user_burst"),
    (
        "TENANTAPI_POOL_CHECKOUT_TIMEOUT_MS",
        "pool.checkout_timeout_ms",
    ),
    (
        "TENANTAPI_POOL_IDLE_TIMEOUT_SECONDS",
        "pool.idle_timeout_seconds",
    ),
    ("TENANTAPI_POOL_TEST_ON_CHECKOUT", "pool.test_on_checkout"),
    (
        "TENANTAPI_POOL_MAX_CONNECTIONS_PER_HOST",
        "pool.max_connections_per_host",
    ),
    (
        "TENANTAPI_POOL_MAX_SQLITE_CONNECTIONS",
        "pool.max_sqlite_connections",
    ),
    (
        "TENANTAPI_POOL_PROJECT_SHARE_PERCENT",
        "pool.project_share_percent",
    ),
    (
        "TENANTAPI_POOL_STATEMENT_TIMEOUT_MS",
        "pool.statement_timeout_ms",
    ),
    (
        "TENANTAPI_POOL_MAX_CACHED_STATEMENTS",
        "pool.max_cached_statements",
    ),
    (
        "TENANTAPI_POOL_MAX_IN_FLIGHT_PER_HOST",
        "pool.max_in_flight_per_host",
    ),
    (
        "TENANTAPI_POOL_ADAPTIVE_IN_FLIGHT",
        "pool.adaptive_in_flight",
    ),
    ("TENANTAPI_DEFAULT_PAGE_SIZE", "api.default_page_size"),
    ("TENANTAPI_MAX_PAGE_SIZE", "api.max_page_size"),
    ("TENANTAPI_MAX_BODY_BYTES", "api.max_body_bytes"),
    ("TENANTAPI_MAX_BULK_ITEMS", "api.max_bulk_items"),
    ("TENANTAPI_MAX_READ_ROWS", "api.max_read_rows"),
    ("TENANTAPI_ALLOWED_HOSTS", "api.allowed_hosts"),
    ("TENANTAPI_PUBLIC_SCHEMA", "api.public_schema"),
    ("TENANTAPI_CORS_ALLOWED_ORIGINS", "api.cors_allowed_origins"),
    (
        "TENANTAPI_DOCS_PERSIST_AUTHORIZATION",
        "api.docs_persist_authorization",
    ),
    ("TENANTAPI_AUTH_REQUIRED", "auth.required"),
    ("TENANTAPI_AUTH_CACHE_SECONDS", "auth.cache_seconds"),
];

impl Config {
    /// Defaults, then the file (when given), then the environment.
    pub fn load(
        file: Option<&Path>,
        environment: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let display = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: display.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|error| ConfigError::Parse {
                    path: display,
                    message: error.to_string(),
                })?
            }
            None => Config::default(),
        };
        for (name, setting) in ENVIRONMENT {
            if let Some(value) = environment(name) {
                config.set(name, setting, value)?;
            }
        }
        config.validate()?;
        Ok(config)
    }

    fn set(&mut self, name: &'static str, setting: &str, value: String) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(
            name: &'static str,
            value: &str,
            expected: &'static str,
        ) -> Result<T, ConfigError> {
            value.trim().parse().map_err(|_| ConfigError::Environment {
                name,
                value: value.to_string(),
                expected,
            })
        }
        const NUMBER: &str = "a non-negative integer";
        const BOOLEAN: &str = "true or false";
        const RATE: &str = "a number of requests per second, 0 or more";
        match setting {
            "bind" => self.bind = value,
            "platform_database_url" => self.platform_database_url = value,
            "workers" => self.workers = Some(parse(name, &value, NUMBER)?),
            "refresh_seconds" => self.refresh_seconds = parse(name, &value, NUMBER)?,
            "access_log" => self.access_log = parse(name, &value, BOOLEAN)?,
            "log_format" => self.log_format = parse(name, &value, "text or json")?,
            "metrics" => self.metrics = parse(name, &value, BOOLEAN)?,
            "metrics_bind" => {
                self.metrics_bind = Some(value.trim().to_string()).filter(|bind| !bind.is_empty())
            }
            "version_check_seconds" => self.version_check_seconds = parse(name, &value, NUMBER)?,
            "pool.max_size" => self.pool.max_size = parse(name, &value, NUMBER)?,
            "limits.project_rate_per_second" => {
                self.limits.project_rate_per_second = parse(name, &value, RATE)?
            }
            "limits.project_burst" => self.limits.project_burst = parse(name, &value, NUMBER)?,
            "limits.user_rate_per_second" => {
                self.limits.user_rate_per_second = parse(name, &value, RATE)?
            }
            "limits.user_burst" => self.limits.user_burst = parse(name, &value, NUMBER)?,
            "pool.checkout_timeout_ms" => {
                self.pool.checkout_timeout_ms = parse(name, &value, NUMBER)?
            }
            "pool.idle_timeout_seconds" => {
                self.pool.idle_timeout_seconds = parse(name, &value, NUMBER)?
            }
            "pool.test_on_checkout" => self.pool.test_on_checkout = parse(name, &value, BOOLEAN)?,
            "pool.max_connections_per_host" => {
                self.pool.max_connections_per_host = parse(name, &value, NUMBER)?
            }
            "pool.statement_timeout_ms" => {
                self.pool.statement_timeout_ms = parse(name, &value, NUMBER)?
            }
            "pool.max_cached_statements" => {
                self.pool.max_cached_statements = parse(name, &value, NUMBER)?
            }
            "pool.max_sqlite_connections" => {
                self.pool.max_sqlite_connections = parse(name, &value, NUMBER)?
            }
            "pool.project_share_percent" => {
                self.pool.project_share_percent = parse(name, &value, NUMBER)?
            }
            "pool.max_in_flight_per_host" => {
                self.pool.max_in_flight_per_host = parse(name, &value, NUMBER)?
            }
            "pool.adaptive_in_flight" => {
                self.pool.adaptive_in_flight = parse(name, &value, BOOLEAN)?
            }
            "api.default_page_size" => self.api.default_page_size = parse(name, &value, NUMBER)?,
            "api.max_page_size" => self.api.max_page_size = parse(name, &value, NUMBER)?,
            "api.max_body_bytes" => self.api.max_body_bytes = parse(name, &value, NUMBER)?,
            "api.max_bulk_items" => self.api.max_bulk_items = parse(name, &value, NUMBER)?,
            "api.max_read_rows" => self.api.max_read_rows = parse(name, &value, NUMBER)?,
            "api.allowed_hosts" => {
                self.api.allowed_hosts = value
                    .split(',')
                    .map(str::trim)
                    .filter(|host| !host.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "api.public_schema" => self.api.public_schema = parse(name, &value, BOOLEAN)?,
            "api.cors_allowed_origins" => {
                self.api.cors_allowed_origins = value
                    .split(',')
                    .map(str::trim)
                    .filter(|origin| !origin.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "api.docs_persist_authorization" => {
                self.api.docs_persist_authorization = parse(name, &value, BOOLEAN)?
            }
            "auth.required" => self.auth.required = parse(name, &value, BOOLEAN)?,
            "auth.cache_seconds" => self.auth.cache_seconds = parse(name, &value, NUMBER)?,
            other => unreachable!("ENVIRONMENT names an unknown setting {other}"),
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: &str| Err(ConfigError::Invalid(message.to_string()));
        if self.pool.max_size == 0 {
            return invalid("pool.max_size must be at least 1");
        }
        if self.pool.checkout_timeout_ms == 0 {
            return invalid("pool.checkout_timeout_ms must be at least 1");
        }
        for (name, rate) in [
            (
                "limits.project_rate_per_second",
                self.limits.project_rate_per_second,
            ),
            (
                "limits.user_rate_per_second",
                self.limits.user_rate_per_second,
            ),
        ] {
            if !rate.is_finite() || rate < 0.0 {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be a number of requests per second, 0 (no limit) or more"
                )));
            }
        }
        if !(1..=100).contains(&self.pool.project_share_percent) {
            return invalid("pool.project_share_percent must be between 1 and 100");
        }
        if self.pool.max_connections_per_host == 0 {
            return invalid("pool.max_connections_per_host must be at least 1");
        }
        if self.pool.max_sqlite_connections == 0 {
            return invalid("pool.max_sqlite_connections must be at least 1");
        }
        if self.pool.max_in_flight_per_host == 0 {
            return invalid("pool.max_in_flight_per_host must be at least 1");
        }
        if self.api.default_page_size == 0 || self.api.max_page_size == 0 {
            return invalid("api.default_page_size and api.max_page_size must be at least 1");
        }
        if self.api.default_page_size > self.api.max_page_size {
            return invalid("api.default_page_size must not exceed api.max_page_size");
        }
        if self.api.max_body_bytes == 0 {
            return invalid("api.max_body_bytes must be at least 1");
        }
        if self.api.max_bulk_items == 0 {
            return invalid("api.max_bulk_items must be at least 1");
        }
        if (self.api.max_read_rows as u64) < self.api.max_page_size {
            return invalid(
                "api.max_read_rows must be at least api.max_page_size (a full page is one read)",
            );
        }
        if self.version_check_seconds == 0 {
            return invalid("version_check_seconds must be at least 1");
        }
        if self.refresh_seconds == 0 {
            return invalid("refresh_seconds must be at least 1");
        }
        if self.workers == Some(0) {
            return invalid("workers must be at least 1");
        }
        if self.metrics_bind.is_some() && !self.metrics {
            return invalid("metrics_bind needs metrics = true");
        }
        for origin in &self.api.cors_allowed_origins {
            check_origin(origin).map_err(ConfigError::Invalid)?;
        }
        Ok(())
    }

    pub fn checkout_timeout(&self) -> Duration {
        Duration::from_millis(self.pool.checkout_timeout_ms)
    }

    pub fn app_settings(&self) -> AppSettings {
        AppSettings {
            api: tenantapi_runtime::http::settings::ApiSettings {
                pages: tenantapi_runtime::http::list::PageSettings {
                    default_page_size: self.api.default_page_size,
                    max_page_size: self.api.max_page_size,
                },
                max_body_bytes: self.api.max_body_bytes,
                max_bulk_items: self.api.max_bulk_items,
                max_read_rows: self.api.max_read_rows,
                // `serve` replaces it with the platform database's shared key.
                cursor_key: tenantapi_runtime::http::cursor::CursorKey::random(),
            },
            allowed_hosts: crate::hosts::AllowedHosts::new(&self.api.allowed_hosts),
            document: DocumentSettings {
                default_page_size: self.api.default_page_size,
                max_page_size: self.api.max_page_size,
                max_bulk_items: self.api.max_bulk_items,
                auth_required: self.auth.required,
                public_schema: self.api.public_schema,
                persist_authorization: self.api.docs_persist_authorization,
            },
            cors_allowed_origins: self.api.cors_allowed_origins.clone(),
        }
    }
}

/// An origin as browsers send it: `scheme://host` with an optional port, nothing after.
fn check_origin(origin: &str) -> Result<(), String> {
    let problem = |why: &str| {
        Err(format!(
            "api.cors_allowed_origins: {origin:?} {why}; write origins as browsers send them, \
             e.g. https://app.example.com or http://localhost:3000"
        ))
    };
    let Some((scheme, rest)) = origin.split_once("://") else {
        return problem("has no scheme");
    };
    if scheme != "http" && scheme != "https" {
        return problem("is not http or https");
    }
    if rest.is_empty() {
        return problem("has no host");
    }
    if rest.contains(['/', '?', '#', ' ']) {
        return problem("has a path, query or space (an origin ends after the host and port)");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
