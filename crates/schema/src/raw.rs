//! The description file as written: TOML deserialized with source spans, not yet validated.
//!
//! Every key is optional here so that missing keys are reported by validation,
//! with a location and a fix, instead of by serde one at a time.

use serde::Deserialize;
use toml::Spanned;

use crate::error::Reporter;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub version: Option<Spanned<String>>,
    pub version_source: Option<Spanned<RawVersionSource>>,
    pub postgres_schema: Option<Spanned<String>>,
    #[serde(default, rename = "enum")]
    pub enums: Vec<Spanned<RawEnum>>,
    #[serde(default)]
    pub table: Vec<Spanned<RawTable>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnum {
    pub name: Option<Spanned<String>>,
    pub doc: Option<String>,
    pub values: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVersionSource {
    pub table: Option<Spanned<String>>,
    pub column: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTable {
    pub name: Option<Spanned<String>>,
    pub doc: Option<String>,
    #[serde(default)]
    pub read_only: bool,
    pub rust_name: Option<Spanned<String>>,
    pub postgres_schema: Option<Spanned<String>>,
    pub primary_key: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub unique: Vec<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub ignore_columns: Vec<Spanned<String>>,
    pub ordering: Option<Spanned<Vec<Spanned<String>>>>,
    /// `?search=` fields, DRF's `search_fields`: `name`, `^code`, `=ref`, `@body`, `site.name`.
    pub search: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub column: Vec<Spanned<RawColumn>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawColumn {
    pub name: Option<Spanned<String>>,
    #[serde(rename = "type")]
    pub ty: Option<Spanned<String>>,
    pub nullable: Option<Spanned<bool>>,
    pub default: Option<Spanned<toml::Value>>,
    pub primary_key: Option<Spanned<bool>>,
    #[serde(default)]
    pub unique: bool,
    pub references: Option<Spanned<String>>,
    pub on_delete: Option<Spanned<String>>,
    pub doc: Option<String>,
    pub rust_name: Option<Spanned<String>>,
    pub read_only: Option<Spanned<bool>>,
    pub generated: Option<Spanned<String>>,
    pub database_type: Option<Spanned<String>>,
    pub domain: Option<Spanned<String>>,
}

/// Deserializes the file; a TOML syntax error, a wrongly typed value or an
/// unknown key stops at once with a single diagnostic.
pub(crate) fn parse(reporter: &mut Reporter<'_>) -> Option<RawFile> {
    match toml::from_str::<RawFile>(reporter.source()) {
        Ok(raw) => Some(raw),
        Err(error) => {
            let offset = error.span().map_or(0, |span| span.start);
            let (message, help) = describe(error.message());
            reporter.error(offset, message, help);
            None
        }
    }
}

/// Turns a deserializer message into a diagnostic message and help.
fn describe(message: &str) -> (String, Option<String>) {
    let message = message.trim();
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let (key, expected) = rest.split_once(", expected").unwrap_or((rest, ""));
        let allowed = backticked(expected);
        let help = if allowed.is_empty() {
            "no keys are allowed here".to_owned()
        } else {
            format!("allowed keys here are {}", allowed.join(", "))
        };
        return (format!("unknown key {key}"), Some(help));
    }
    let mut text = message.to_owned();
    if let Some(first) = text.chars().next()
        && first.is_uppercase()
        && !text.chars().nth(1).is_some_and(char::is_uppercase)
    {
        text = first.to_lowercase().chain(text.chars().skip(1)).collect();
    }
    while text.ends_with('.') {
        text.pop();
    }
    (text, None)
}

/// The `` `quoted` `` words of a serde "expected ..." list, quotes included.
fn backticked(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('`') {
        let Some(length) = rest[start + 1..].find('`') else {
            break;
        };
        let end = start + 1 + length + 1;
        words.push(&rest[start..end]);
        rest = &rest[end..];
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_unknown_fields() {
        let (message, help) = describe("unknown field `nam`, expected one of `name`, `doc`");
        assert_eq!(message, "unknown key `nam`");
        assert_eq!(help.as_deref(), Some("allowed keys here are `name`, `doc`"));
        let (_, help) = describe("unknown field `x`, expected `table` or `column`");
        assert_eq!(
            help.as_deref(),
            Some("allowed keys here are `table`, `column`")
        );
    }

    #[test]
    fn lowercases_other_messages() {
        assert_eq!(describe("Invalid type.").0, "invalid type");
        assert_eq!(describe("TOML thing").0, "TOML thing");
    }
}
