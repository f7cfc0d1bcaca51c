//! Database URLs whose passwords never show: `Display` and `Debug` replace the password (as
//! written, and percent-decoded) by `***`, and `redact` does the same to any text, such as a
//! connection error (`db.rs` opens connections from a URL). A URL also names its backend and
//! server, and says whether it reaches PostgreSQL through PgBouncer, and in which pool mode.

/// Which database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Postgres,
    Sqlite,
}

impl BackendKind {
    /// `postgres://` and `postgresql://` URLs are PostgreSQL; anything else is a SQLite path
    /// or `sqlite://` / `file:` URL.
    pub fn of_url(url: &str) -> BackendKind {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            BackendKind::Postgres
        } else {
            BackendKind::Sqlite
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Postgres => "postgres",
            BackendKind::Sqlite => "sqlite",
        })
    }
}

/// A project or platform database: a `postgres://` URL or a SQLite path (`sqlite://`, `file:`).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    text: String,
    /// Where the password sits in `text`, if it has one: in the user information, or as a
    /// `password=` parameter.
    password: Option<std::ops::Range<usize>>,
    /// The schemas the described tables live in, in search path order, when they cannot
    /// travel in the URL's `options` (PgBouncer refuses that startup parameter); empty if none.
    pooled_search_path: Vec<String>,
}

/// Our own URL parameter naming the PgBouncer pool mode between us and the database; libpq
/// never sees it.
pub const POOLER_PARAMETER: &str = "pgbouncer";

/// How a PostgreSQL URL reaches its database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooler {
    /// Straight to PostgreSQL (or a pooler that keeps sessions, unannounced).
    Direct,
    /// PgBouncer with `pool_mode = session`: a server connection for the client's lifetime,
    /// but no `options` startup parameter.
    Session,
    /// PgBouncer with `pool_mode = transaction`: each transaction may run on another server
    /// connection, so nothing may rely on session state (settings, prepared statements).
    Transaction,
}

/// Why a connection could not be opened; the text carries no password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(pub(crate) String);

impl DatabaseUrl {
    pub fn new(text: impl Into<String>) -> DatabaseUrl {
        let text = text.into();
        let password = password_range(&text);
        DatabaseUrl {
            text,
            password,
            pooled_search_path: Vec::new(),
        }
    }

    /// The pooler the URL announces with `pgbouncer=session|transaction`; SQLite is direct.
    pub fn pooler(&self) -> Result<Pooler, ConnectError> {
        if self.backend() != BackendKind::Postgres {
            return Ok(Pooler::Direct);
        }
        match self.parameter(POOLER_PARAMETER) {
            None => Ok(Pooler::Direct),
            Some("session") => Ok(Pooler::Session),
            Some("transaction") => Ok(Pooler::Transaction),
            Some(other) => Err(ConnectError(format!(
                "{POOLER_PARAMETER}={other} in the database URL: expected \
                 {POOLER_PARAMETER}=session or {POOLER_PARAMETER}=transaction (the pool_mode \
                 PgBouncer uses for this database), or no {POOLER_PARAMETER} parameter for a \
                 direct connection"
            ))),
        }
    }

    pub fn backend(&self) -> BackendKind {
        BackendKind::of_url(&self.text)
    }

    /// The URL with its password, to connect with or to store; never to show.
    pub fn secret(&self) -> &str {
        &self.text
    }

    /// The schemas to put on the search path after connecting, through PgBouncer (see
    /// [`DatabaseUrl::with_search_path`]); empty if none.
    pub(crate) fn pooled_search_path(&self) -> &[String] {
        &self.pooled_search_path
    }

    fn password(&self) -> Option<&str> {
        self.password.clone().map(|range| &self.text[range])
    }

    /// `text` with this URL's password, as written and percent-decoded, replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let Some(password) = self.password() else {
            return text.to_string();
        };
        let mut redacted = text.replace(password, "***");
        let decoded = percent_decode(password);
        if decoded != password && !decoded.is_empty() {
            redacted = redacted.replace(&decoded, "***");
        }
        redacted
    }

    /// The same URL with `name=value` added unless it sets `name` already; PostgreSQL only
    /// (SQLite paths take no parameters).
    pub fn with_default_parameter(&self, name: &str, value: &str) -> DatabaseUrl {
        if self.backend() != BackendKind::Postgres || self.has_parameter(name) {
            return self.clone();
        }
        let separator = if self.query().is_some() { '&' } else { '?' };
        DatabaseUrl {
            pooled_search_path: self.pooled_search_path.clone(),
            ..DatabaseUrl::new(format!("{}{separator}{name}={value}", self.text))
        }
    }

    /// The same URL with `path`'s schemas first on its PostgreSQL search path, in order (then
    /// `public`, where extensions such as `citext` usually live), through libpq's `options`
    /// startup parameter: no round trip, and every connection made from the URL resolves the
    /// described tables. An empty `path` changes nothing; SQLite has no schemas; a URL that
    /// sets `options` itself is left as it is.
    ///
    /// Through PgBouncer, which refuses `options`, the path is set after connecting instead
    /// (session mode) or must be the role's own (transaction mode, which cannot keep a setting
    /// from one transaction to the next).
    pub fn with_search_path(&self, path: &[&str]) -> DatabaseUrl {
        if path.is_empty() {
            return self.clone();
        }
        if self.has_parameter(POOLER_PARAMETER) {
            return DatabaseUrl {
                pooled_search_path: path.iter().map(|name| name.to_string()).collect(),
                ..self.clone()
            };
        }
        let option = format!("-csearch_path={}", search_path_setting(path));
        // libpq takes spaces in `options` as separators unless escaped with a backslash.
        let escaped = option.replace('\\', "\\\\").replace(' ', "\\ ");
        self.with_default_parameter("options", &percent_encode(&escaped))
    }

    /// Where a PostgreSQL URL's database name is: the path after the host, up to the query.
    /// `None` for SQLite, or a URL that names no database (libpq then uses the user's).
    fn database_range(&self) -> Option<std::ops::Range<usize>> {
        if self.backend() != BackendKind::Postgres {
            return None;
        }
        let host = host_start(&self.text);
        let rest = &self.text[host..];
        let slash = rest
            .find(['/', '?', '#'])
            .filter(|&at| rest.as_bytes()[at] == b'/')?;
        let start = host + slash + 1;
        let end = self.text[start..]
            .find(['?', '#'])
            .map_or(self.text.len(), |at| start + at);
        (end > start).then_some(start..end)
    }

    /// The database server a PostgreSQL URL points at, as `host:port` (the host in lowercase,
    /// `host=` and `port=` parameters applied, libpq's defaults filled in); `None` for SQLite,
    /// whose databases are files of this process.
    pub fn server(&self) -> Option<String> {
        if self.backend() != BackendKind::Postgres {
            return None;
        }
        let host = host_start(&self.text);
        let rest = &self.text[host..];
        let host_port = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
        let (mut host, mut port) = match host_port.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, port),
            _ => (host_port, ""),
        };
        // Parameters override the authority, as in libpq.
        for pair in self.query().into_iter().flat_map(|query| query.split('&')) {
            if let Some(value) = pair.strip_prefix("host=") {
                host = value;
            } else if let Some(value) = pair.strip_prefix("port=") {
                port = value;
            }
        }
        let host = if host.is_empty() { "localhost" } else { host };
        let port = if port.is_empty() { "5432" } else { port };
        Some(format!("{}:{port}", host.to_ascii_lowercase()))
    }

    /// The PostgreSQL database the URL names, percent-decoded.
    pub fn postgres_database(&self) -> Option<String> {
        self.database_range()
            .map(|range| percent_decode(&self.text[range]))
    }

    /// The same server, credentials and parameters with another database (PostgreSQL URLs
    /// that name one; others are returned unchanged).
    pub fn with_postgres_database(&self, database: &str) -> DatabaseUrl {
        let Some(range) = self.database_range() else {
            return self.clone();
        };
        DatabaseUrl {
            pooled_search_path: self.pooled_search_path.clone(),
            ..DatabaseUrl::new(format!(
                "{}{}{}",
                &self.text[..range.start],
                percent_encode(database),
                &self.text[range.end..]
            ))
        }
    }

    pub fn has_parameter(&self, name: &str) -> bool {
        self.parameter(name).is_some()
    }

    fn parameter(&self, name: &str) -> Option<&str> {
        self.query()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }

    /// The query string, after the `?` that follows the user information (a `?` inside a
    /// password starts nothing).
    fn query(&self) -> Option<&str> {
        query_start(&self.text).map(|start| &self.text[start..])
    }

    /// The URL libpq is given: without our own parameters.
    pub(crate) fn for_libpq(&self) -> String {
        let Some(start) = query_start(&self.text) else {
            return self.text.clone();
        };
        let base = &self.text[..start - 1];
        let kept: Vec<&str> = self.text[start..]
            .split('&')
            .filter(|pair| pair.split('=').next() != Some(POOLER_PARAMETER))
            .collect();
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.password.clone() {
            Some(range) => write!(
                f,
                "{}***{}",
                &self.text[..range.start],
                &self.text[range.end..]
            ),
            None => f.write_str(&self.text),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Unreserved URL characters; every other byte is written `%XX`.
const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

/// Where the authority (`user:password@host:port`) starts: after the scheme's `://`; a path
/// without a scheme (SQLite) starts at 0.
fn authority_start(text: &str) -> usize {
    text.find("://").map_or(0, |position| position + 3)
}

/// Where the `@` that ends the user information (`user:password`) is, if there is one.
///
/// libpq reads the user information up to the first `@` before any `/`, so `?` and `#` belong
/// to it (`postgres://u:a?b@h/db` is password `a?b`). Unencoded `@` in passwords are common, so
/// the last `@` counts, up to the path or to a `?` after the first `@` (which starts the query:
/// `postgres://u:pw@h?application_name=a@b` is password `pw`).
fn userinfo_end(text: &str) -> Option<usize> {
    let start = authority_start(text);
    let rest = &text[start..];
    let path = rest.find('/').unwrap_or(rest.len());
    let first_at = rest[..path].find('@')?;
    let query = rest[first_at..].find('?').map(|at| first_at + at);
    let end = query.map_or(path, |query| query.min(path));
    rest[..end].rfind('@').map(|at| start + at)
}

/// Where the host starts: after the user information, or at the authority.
fn host_start(text: &str) -> usize {
    userinfo_end(text).map_or(authority_start(text), |at| at + 1)
}

/// Where the query string starts (after its `?`): the first `?` after the user information.
fn query_start(text: &str) -> Option<usize> {
    let host = host_start(text);
    text[host..].find('?').map(|at| host + at + 1)
}

/// Where the password is: in the user information (`scheme://user:password@host...`, see
/// [`userinfo_end`]), or a `password=` parameter.
fn password_range(text: &str) -> Option<std::ops::Range<usize>> {
    if let Some(at) = userinfo_end(text) {
        let start = authority_start(text);
        if let Some(colon) = text[start..at].find(':')
            && start + colon + 1 < at
        {
            return Some(start + colon + 1..at);
        }
    }
    let query_start = query_start(text)?;
    let mut position = query_start;
    for pair in text[query_start..].split('&') {
        if let Some(value) = pair.strip_prefix("password=")
            && !value.is_empty()
        {
            let start = position + "password=".len();
            return Some(start..start + value.len());
        }
        position += pair.len() + 1;
    }
    None
}

/// Lossy: a `%` without two hex digits stays as it is, bytes that are not UTF-8 become U+FFFD.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// A search path's value: `path`'s schemas quoted, in order, then `public` unless listed.
pub(crate) fn search_path_setting<S: AsRef<str>>(path: &[S]) -> String {
    let mut names: Vec<String> = path
        .iter()
        .map(|name| tenantapi_schema::sql::quote_identifier(name.as_ref()))
        .collect();
    if !path.iter().any(|name| name.as_ref() == "public") {
        names.push("public".into());
    }
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        DatabaseUrl::new(text).to_string()
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            shown("postgres://app:s3cret@db:5432/p"),
            "postgres://app:***@db:5432/p"
        );
        assert_eq!(shown("postgres://app:p@ss@db/p"), "postgres://app:***@db/p");
        assert_eq!(
            shown("postgres://app@db/p?password=s3cret&sslmode=require"),
            "postgres://app@db/p?password=***&sslmode=require"
        );
        assert_eq!(shown("postgres://app@db/p"), "postgres://app@db/p");
        assert_eq!(shown("data/p.db"), "data/p.db");
    }

    #[test]
    fn an_at_sign_in_the_query_is_not_the_end_of_a_password() {
        assert_eq!(
            shown("postgres://app:pw@db/p?options=-c%20x=a@b"),
            "postgres://app:***@db/p?options=-c%20x=a@b"
        );
        assert_eq!(
            shown("postgres://db/p?application_name=a@b"),
            "postgres://db/p?application_name=a@b"
        );
    }

    /// Regression: the user information ended at the first `?` or `#`, but libpq reads it up
    /// to the `@`, so `postgres://u:a?b@h/db` connected with password `a?b` and showed it.
    #[test]
    fn a_question_mark_or_hash_in_a_password_does_not_end_it() {
        assert_eq!(shown("postgres://u:a?b@h/db"), "postgres://u:***@h/db");
        assert_eq!(shown("postgres://u:a#b@h"), "postgres://u:***@h");
        assert_eq!(
            shown("postgres://u:a?b#c@h:5433"),
            "postgres://u:***@h:5433"
        );
        assert_eq!(
            shown("postgres://u:pw@h?application_name=a@b"),
            "postgres://u:***@h?application_name=a@b"
        );
        let url = DatabaseUrl::new("postgres://u:a?b@h/db?sslmode=require");
        assert_eq!(url.redact("password a?b refused"), "password *** refused");
        assert_eq!(url.postgres_database().as_deref(), Some("db"));
        assert_eq!(url.parameter("sslmode"), Some("require"));
        assert_eq!(url.server().as_deref(), Some("h:5432"));
        assert_eq!(
            DatabaseUrl::new("postgres://u:a?b@h/db")
                .with_default_parameter("connect_timeout", "5")
                .secret(),
            "postgres://u:a?b@h/db?connect_timeout=5"
        );
        assert_eq!(
            DatabaseUrl::new("postgres://u:a?b@h/db?pgbouncer=session").for_libpq(),
            "postgres://u:a?b@h/db"
        );
    }

    #[test]
    fn servers_are_host_and_port() {
        let server = |text: &str| DatabaseUrl::new(text).server();
        assert_eq!(
            server("postgres://u:p@DB.example.com:6432/app").as_deref(),
            Some("db.example.com:6432")
        );
        assert_eq!(
            server("postgresql://u@db/app?sslmode=require").as_deref(),
            Some("db:5432")
        );
        assert_eq!(
            server("postgres://u:p@w:rd@[::1]:5433/app").as_deref(),
            Some("[::1]:5433")
        );
        assert_eq!(
            server("postgres:///app?host=/run/postgresql&port=5433").as_deref(),
            Some("/run/postgresql:5433")
        );
        assert_eq!(
            server("postgres://u@db?port=6543").as_deref(),
            Some("db:6543")
        );
        assert_eq!(server("data/app.db"), None);
    }

    #[test]
    fn postgres_database_is_read_and_replaced_keeping_the_rest() {
        let url =
            DatabaseUrl::new("postgres://app:p%2Fw@db.example:5433/tenant%20one?sslmode=require");
        assert_eq!(url.postgres_database().as_deref(), Some("tenant one"));
        let other = url.with_postgres_database("postgres");
        assert_eq!(
            other.secret(),
            "postgres://app:p%2Fw@db.example:5433/postgres?sslmode=require"
        );
        assert_eq!(
            DatabaseUrl::new("postgres://app@host").postgres_database(),
            None
        );
        assert_eq!(
            DatabaseUrl::new("postgres://app@host/?x=1").postgres_database(),
            None
        );
        assert_eq!(DatabaseUrl::new("data/acme.db").postgres_database(), None);
    }

    #[test]
    fn percent_encoded_passwords_are_redacted_both_ways() {
        let url = DatabaseUrl::new("postgres://app:p%40ss%2Fw@db/p");
        assert_eq!(url.to_string(), "postgres://app:***@db/p");
        assert_eq!(
            url.redact("auth failed for p@ss/w and p%40ss%2Fw"),
            "auth failed for *** and ***"
        );
    }

    #[test]
    fn parameters_are_added_unless_present() {
        let url = DatabaseUrl::new("postgres://u@h/db");
        assert_eq!(
            url.with_default_parameter("connect_timeout", "5")
                .with_default_parameter("connect_timeout", "9")
                .secret(),
            "postgres://u@h/db?connect_timeout=5"
        );
        assert_eq!(
            DatabaseUrl::new("data/p.db")
                .with_default_parameter("connect_timeout", "5")
                .secret(),
            "data/p.db"
        );
    }

    #[test]
    fn the_pooler_parameter_is_ours_and_checked() {
        let pooler = |text: &str| DatabaseUrl::new(text).pooler();
        assert_eq!(pooler("postgres://u@h/db"), Ok(Pooler::Direct));
        assert_eq!(
            pooler("postgres://u@h/db?pgbouncer=session"),
            Ok(Pooler::Session)
        );
        assert_eq!(
            pooler("postgres://u@h/db?sslmode=disable&pgbouncer=transaction"),
            Ok(Pooler::Transaction)
        );
        assert_eq!(pooler("data/p.db?pgbouncer=nonsense"), Ok(Pooler::Direct));
        let refused = pooler("postgres://u@h/db?pgbouncer=true").unwrap_err();
        assert!(
            refused.to_string().contains("pgbouncer=true")
                && refused.to_string().contains("pgbouncer=transaction"),
            "{refused}"
        );
        assert_eq!(
            DatabaseUrl::new("postgres://u@h/db?pgbouncer=transaction&sslmode=disable").for_libpq(),
            "postgres://u@h/db?sslmode=disable"
        );
        assert_eq!(
            DatabaseUrl::new("postgres://u@h/db?pgbouncer=session").for_libpq(),
            "postgres://u@h/db"
        );
    }

    #[test]
    fn pooled_urls_carry_the_schema_beside_the_url() {
        let pooled = DatabaseUrl::new("postgres://u@h/db?pgbouncer=session")
            .with_search_path(&["app", "sales"]);
        assert_eq!(pooled.secret(), "postgres://u@h/db?pgbouncer=session");
        assert_eq!(pooled.pooled_search_path, ["app", "sales"]);
        assert_eq!(
            pooled
                .with_default_parameter("connect_timeout", "2")
                .pooled_search_path,
            ["app", "sales"]
        );
        let direct = DatabaseUrl::new("postgres://u@h/db").with_search_path(&["app", "sales"]);
        assert!(direct.secret().contains("options="), "{}", direct.secret());
        assert!(direct.pooled_search_path.is_empty());
    }

    #[test]
    fn a_search_path_lists_the_schemas_then_public() {
        assert_eq!(search_path_setting(&["app"]), r#""app",public"#);
        assert_eq!(
            search_path_setting(&["app", "Sales"]),
            r#""app","Sales",public"#
        );
        assert_eq!(
            search_path_setting(&["public", "sales"]),
            r#""public","sales""#
        );
    }
}
