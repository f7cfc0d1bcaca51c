//! Database URLs whose passwords never show: `Display`, `Debug` and every connection error they
//! produce have the password (as written, and percent-decoded) replaced by `***`.

use crate::db::{BackendKind, DbConnection};

/// A project or platform database: a `postgres://` URL or a SQLite path (`sqlite://`, `file:`).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    text: String,
    /// Where the password sits in `text`, if it has one: in the user information, or as a
    /// `password=` parameter.
    password: Option<std::ops::Range<usize>>,
}

/// Why a connection could not be opened; the text carries no password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(String);

impl DatabaseUrl {
    pub fn new(text: impl Into<String>) -> DatabaseUrl {
        let text = text.into();
        let password = password_range(&text);
        DatabaseUrl { text, password }
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
        DatabaseUrl::new(format!("{}{separator}{name}={value}", self.text))
    }

    /// The same URL with `schema` first on its PostgreSQL search path (then `public`, where
    /// extensions such as `citext` usually live), through libpq's `options` startup parameter:
    /// no round trip, and every connection made from the URL resolves the described tables.
    /// SQLite has no schemas; a URL that sets `options` itself is left as it is.
    pub fn with_search_path(&self, schema: Option<&str>) -> DatabaseUrl {
        let Some(schema) = schema else {
            return self.clone();
        };
        let quoted = tenantapi_schema::sql::quote_identifier(schema);
        let option = format!("-csearch_path={quoted},public");
        // libpq takes spaces in `options` as separators unless escaped with a backslash.
        let escaped = option.replace('\\', "\\\\").replace(' ', "\\ ");
        self.with_default_parameter("options", &percent_encode(&escaped))
    }

    pub fn has_parameter(&self, name: &str) -> bool {
        self.text.split_once('?').is_some_and(|(_, query)| {
            query
                .split('&')
                .any(|pair| pair.split('=').next() == Some(name))
        })
    }

    /// Opens a connection to a database that must already exist (a mistyped SQLite path is an
    /// error, not a new empty database).
    pub fn open_existing(&self) -> Result<DbConnection, ConnectError> {
        DbConnection::open_existing(&self.text).map_err(|error| self.connect_error(&error))
    }

    /// Opens a connection, creating a missing SQLite file (our own platform database).
    pub fn open(&self) -> Result<DbConnection, ConnectError> {
        DbConnection::open(&self.text).map_err(|error| self.connect_error(&error))
    }

    fn connect_error(&self, error: &diesel::ConnectionError) -> ConnectError {
        ConnectError(self.redact(&error.to_string()))
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
    fn connection_errors_carry_no_password() {
        let url = DatabaseUrl::new("postgres://app:s3cret@127.0.0.1:9/nothing?connect_timeout=2");
        let error = url
            .open_existing()
            .err()
            .expect("nothing listens on port 9");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
