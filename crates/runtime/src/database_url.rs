//! Database URLs whose passwords never show: `Display`, `Debug` and every connection error they
//! produce have the password (as written, and percent-decoded) replaced by `***`. A URL also
//! says whether it reaches PostgreSQL through PgBouncer, and in which pool mode.

use diesel::Connection as _;
use diesel::RunQueryDsl as _;
use diesel::connection::{CacheSize, SimpleConnection as _};

use crate::db::{BackendKind, DbConnection};

/// A project or platform database: a `postgres://` URL or a SQLite path (`sqlite://`, `file:`).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    text: String,
    /// Where the password sits in `text`, if it has one: in the user information, or as a
    /// `password=` parameter.
    password: Option<std::ops::Range<usize>>,
    /// The schema the described tables live in, when it cannot travel in the URL's `options`
    /// (PgBouncer refuses that startup parameter).
    pooled_schema: Option<String>,
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
pub struct ConnectError(String);

impl DatabaseUrl {
    pub fn new(text: impl Into<String>) -> DatabaseUrl {
        let text = text.into();
        let password = password_range(&text);
        DatabaseUrl {
            text,
            password,
            pooled_schema: None,
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
        let separator = if self.text.contains('?') { '&' } else { '?' };
        DatabaseUrl {
            pooled_schema: self.pooled_schema.clone(),
            ..DatabaseUrl::new(format!("{}{separator}{name}={value}", self.text))
        }
    }

    /// The same URL with `schema` first on its PostgreSQL search path (then `public`, where
    /// extensions such as `citext` usually live), through libpq's `options` startup parameter:
    /// no round trip, and every connection made from the URL resolves the described tables.
    /// SQLite has no schemas; a URL that sets `options` itself is left as it is.
    ///
    /// Through PgBouncer, which refuses `options`, the schema is set after connecting instead
    /// (session mode) or must be the role's own first schema (transaction mode, which cannot
    /// keep a setting from one transaction to the next).
    pub fn with_search_path(&self, schema: Option<&str>) -> DatabaseUrl {
        let Some(schema) = schema else {
            return self.clone();
        };
        if self.has_parameter(POOLER_PARAMETER) {
            return DatabaseUrl {
                pooled_schema: Some(schema.to_string()),
                ..self.clone()
            };
        }
        let quoted = tenantapi_schema::sql::quote_identifier(schema);
        let option = format!("-csearch_path={quoted},public");
        // libpq takes spaces in `options` as separators unless escaped with a backslash.
        let escaped = option.replace('\\', "\\\\").replace(' ', "\\ ");
        self.with_default_parameter("options", &percent_encode(&escaped))
    }

    /// Where a PostgreSQL URL's database name is: the path after the authority, up to the
    /// query. `None` for SQLite, or a URL that names no database (libpq then uses the user's).
    fn database_range(&self) -> Option<std::ops::Range<usize>> {
        if self.backend() != BackendKind::Postgres {
            return None;
        }
        let after_scheme = self.text.find("://")? + 3;
        let rest = &self.text[after_scheme..];
        let slash = rest
            .find(['/', '?', '#'])
            .filter(|&at| rest.as_bytes()[at] == b'/')?;
        let start = after_scheme + slash + 1;
        let end = self.text[start..]
            .find(['?', '#'])
            .map_or(self.text.len(), |at| start + at);
        (end > start).then_some(start..end)
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
            pooled_schema: self.pooled_schema.clone(),
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
        let (_, query) = self.text.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }

    /// The URL libpq is given: without our own parameters.
    fn for_libpq(&self) -> String {
        let Some((base, query)) = self.text.split_once('?') else {
            return self.text.clone();
        };
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| pair.split('=').next() != Some(POOLER_PARAMETER))
            .collect();
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    }

    /// Opens a connection to a database that must already exist (a mistyped SQLite path is an
    /// error, not a new empty database).
    pub fn open_existing(&self) -> Result<DbConnection, ConnectError> {
        self.connect(true)
    }

    /// Opens a connection, creating a missing SQLite file (our own platform database).
    pub fn open(&self) -> Result<DbConnection, ConnectError> {
        self.connect(false)
    }

    fn connect(&self, existing: bool) -> Result<DbConnection, ConnectError> {
        let pooler = self.pooler()?;
        let url = match pooler {
            Pooler::Direct => self.text.clone(),
            Pooler::Session | Pooler::Transaction => self.for_libpq(),
        };
        let opened = if existing {
            DbConnection::open_existing(&url)
        } else {
            DbConnection::open(&url)
        };
        let mut connection = opened.map_err(|error| self.connect_error(&error))?;
        self.prepare_session(pooler, &mut connection)?;
        Ok(connection)
    }

    /// What a pooled connection needs before its first statement.
    fn prepare_session(
        &self,
        pooler: Pooler,
        connection: &mut DbConnection,
    ) -> Result<(), ConnectError> {
        match (pooler, &self.pooled_schema) {
            (Pooler::Direct, _) | (Pooler::Session, None) => Ok(()),
            (Pooler::Session, Some(schema)) => connection
                .batch_execute(&format!(
                    "SET search_path TO {}, public",
                    tenantapi_schema::sql::quote_identifier(schema)
                ))
                .map_err(|error| {
                    ConnectError(self.redact(&format!("cannot set the search path: {error}")))
                }),
            (Pooler::Transaction, schema) => {
                // Named prepared statements live in one server connection, which the next
                // transaction may not get; uncached statements are parsed, bound and run in
                // one exchange.
                connection.set_prepared_statement_cache_size(CacheSize::Disabled);
                match schema {
                    Some(schema) => self.require_first_schema(connection, schema),
                    None => Ok(()),
                }
            }
        }
    }

    fn require_first_schema(
        &self,
        connection: &mut DbConnection,
        schema: &str,
    ) -> Result<(), ConnectError> {
        #[derive(diesel::QueryableByName)]
        struct CurrentSchema {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            name: Option<String>,
        }
        let found = diesel::sql_query("SELECT current_schema() AS name")
            .get_result::<CurrentSchema>(connection)
            .map_err(|error| {
                ConnectError(self.redact(&format!("cannot read the current schema: {error}")))
            })?
            .name;
        if found.as_deref() == Some(schema) {
            return Ok(());
        }
        let quoted = tenantapi_schema::sql::quote_identifier(schema);
        Err(ConnectError(format!(
            "the described tables live in schema {schema}, but this connection's first schema \
             is {}; through PgBouncer in transaction mode the search path cannot be set per \
             connection, so set it for the role (ALTER ROLE <user> IN DATABASE <database> SET \
             search_path = {quoted}, public) or use {POOLER_PARAMETER}=session",
            found.as_deref().unwrap_or("(none)")
        )))
    }

    fn connect_error(&self, error: &diesel::ConnectionError) -> ConnectError {
        let text = error.to_string();
        if text.contains("unsupported startup parameter: options") {
            // PgBouncer, unannounced, refusing the search path the URL carries.
            return ConnectError(self.redact(&format!(
                "{}: the URL leads to PgBouncer, which refuses the search path this server \
                 sends when connecting; add {POOLER_PARAMETER}=session or \
                 {POOLER_PARAMETER}=transaction to the URL (the pool_mode PgBouncer uses for \
                 this database)",
                text.trim_end()
            )));
        }
        ConnectError(self.redact(&text))
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

/// Every byte but unreserved URL characters as `%XX`.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Where the password is: `scheme://user:password@host...` (the user information ends at the
/// last `@` before the path or the query, since unencoded `@` in passwords are common), or a
/// `password=` parameter.
fn password_range(text: &str) -> Option<std::ops::Range<usize>> {
    let after_scheme = text.find("://").map_or(0, |position| position + 3);
    let rest = &text[after_scheme..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if let Some(at) = authority.rfind('@')
        && let Some(colon) = authority[..at].find(':')
        && colon + 1 < at
    {
        return Some(after_scheme + colon + 1..after_scheme + at);
    }
    let query_start = text.find('?')? + 1;
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

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |byte: u8| (byte as char).to_digit(16);
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).copied().and_then(hex),
                bytes.get(index + 2).copied().and_then(hex),
            )
        {
            decoded.push((high * 16 + low) as u8);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
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
        let pooled =
            DatabaseUrl::new("postgres://u@h/db?pgbouncer=session").with_search_path(Some("app"));
        assert_eq!(pooled.secret(), "postgres://u@h/db?pgbouncer=session");
        assert_eq!(pooled.pooled_schema.as_deref(), Some("app"));
        assert_eq!(
            pooled
                .with_default_parameter("connect_timeout", "2")
                .pooled_schema
                .as_deref(),
            Some("app")
        );
        let direct = DatabaseUrl::new("postgres://u@h/db").with_search_path(Some("app"));
        assert!(direct.secret().contains("options="), "{}", direct.secret());
        assert_eq!(direct.pooled_schema, None);
    }

    #[test]
    fn connection_errors_carry_no_password() {
        let url = DatabaseUrl::new("postgres://app:s3cret@127.0.0.1:9/nothing?connect_timeout=2");
        let error = url
            .open_existing()
            .err()
            .expect("nothing listens on port 9");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
