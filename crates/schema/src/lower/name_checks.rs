//! Name checks: SQL names PostgreSQL and SQLite both accept, Rust names that are valid and
//! unique, duplicate tables.

use std::collections::HashMap;

use toml::Spanned;

use crate::error::Reporter;
use crate::names;

use super::TableDraft;

/// PostgreSQL truncates identifiers longer than this many bytes.
pub const MAX_SQL_NAME_BYTES: usize = 63;

/// Checks a SQL name; `kind` is "table", "column", "enum", "domain" or "PostgreSQL schema".
/// Table names are URL segments and keep to a safe set of characters; column names may be
/// anything printable.
pub(super) fn check_sql_name(
    reporter: &mut Reporter<'_>,
    kind: &str,
    name: &Spanned<String>,
) -> bool {
    let offset = name.span().start;
    let text = name.get_ref();
    let problem = if text.is_empty() {
        Some((
            format!("{kind} name is empty"),
            format!("give the {kind} its SQL name"),
        ))
    } else if text.len() > MAX_SQL_NAME_BYTES {
        Some((
            format!(
                "{kind} name `{text}` is {} bytes long, more than PostgreSQL's limit of \
                 {MAX_SQL_NAME_BYTES}",
                text.len()
            ),
            format!("shorten the {kind} name to at most {MAX_SQL_NAME_BYTES} bytes"),
        ))
    } else if kind == "column"
        && let Some(bad) = text.chars().find(|c| c.is_control())
    {
        Some((
            format!(
                "{kind} name `{}` contains the control character {bad:?}",
                text.escape_debug()
            ),
            "column names may contain any printable character".to_owned(),
        ))
    } else if kind == "column" {
        // Columns are only ever quoted identifiers, JSON keys and (encoded) query parameters:
        // real schemas' `zip code` or `1st` serve as they are.
        None
    } else if kind == "table"
        && let Some(bad) = text.chars().find(|c| c.is_control() || *c == '/')
    {
        Some((
            format!(
                "table name `{}` contains the character {bad:?}",
                text.escape_debug()
            ),
            "table names are URL path segments: any printable character but `/`".to_owned(),
        ))
    } else if kind == "table" {
        // Tables are quoted identifiers and (encoded) URL path segments: real schemas'
        // `Order Details` or `Straße` serve as they are (`names::url_segment`).
        None
    } else if let Some(bad) = text
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$')))
    {
        Some((
            format!("{kind} name `{text}` contains the character {bad:?}"),
            "SQL names may only contain ASCII letters, digits, `_`, `-` and `$`".to_owned(),
        ))
    } else if text.starts_with(|c: char| c.is_ascii_digit()) {
        Some((
            format!("{kind} name `{text}` starts with a digit"),
            "start the name with an ASCII letter or `_`".to_owned(),
        ))
    } else {
        None
    };
    match problem {
        Some((message, help)) => {
            reporter.error(offset, message, Some(help));
            false
        }
        None => true,
    }
}

/// The Rust name of a table or column: the checked override, or derived from the SQL name.
/// Returns the name and the offset to report collisions at.
pub(super) fn rust_name_of(
    reporter: &mut Reporter<'_>,
    rust_name: Option<Spanned<String>>,
    sql_name: &str,
    name_offset: usize,
) -> (String, usize) {
    match rust_name {
        Some(rust_name) => {
            let offset = rust_name.span().start;
            let text = rust_name.into_inner();
            if !names::is_valid_rust_ident(&text) {
                let message = if names::is_reserved_word(&text) {
                    format!(
                        "`rust_name` `{text}` is a Rust keyword or a name diesel reserves in \
                         `table!`"
                    )
                } else {
                    format!("`rust_name` `{text}` is not a valid snake_case Rust identifier")
                };
                reporter.error(
                    offset,
                    message,
                    Some(format!(
                        "use lowercase ASCII letters, digits and `_`, not starting with a digit \
                         and not a keyword, e.g. `{}`",
                        suggestion(&text)
                    )),
                );
            }
            (text, offset)
        }
        None => (names::rust_ident_for_sql_name(sql_name), name_offset),
    }
}

/// The Rust name of a column of the table whose Rust name is `table_rust_name`: the checked
/// override, or derived by [`names::column_rust_ident_for_sql_name`] (never the table's name,
/// which diesel's `table!` refuses). An override equal to the table's Rust name is reported.
pub(super) fn column_rust_name_of(
    reporter: &mut Reporter<'_>,
    rust_name: Option<Spanned<String>>,
    sql_name: &str,
    name_offset: usize,
    table_rust_name: &str,
) -> (String, usize) {
    let Some(rust_name) = rust_name else {
        return (
            names::column_rust_ident_for_sql_name(sql_name, table_rust_name),
            name_offset,
        );
    };
    let (name, offset) = rust_name_of(reporter, Some(rust_name), sql_name, name_offset);
    if name == table_rust_name {
        reporter.error(
            offset,
            format!("`rust_name` `{name}` of column `{sql_name}` is its table's Rust name"),
            Some(format!(
                "diesel's `table!` cannot name a column like its table: use e.g. `{name}_`"
            )),
        );
    }
    (name, offset)
}

/// A valid identifier close to `text`, for help messages.
pub(super) fn suggestion(text: &str) -> String {
    let mut ident = String::new();
    for (index, c) in text.chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 && !ident.ends_with('_') {
            ident.push('_');
        }
        ident.push(c);
    }
    let ident = names::rust_ident_for_sql_name(&ident);
    if ident.is_empty() {
        "my_name".to_owned()
    } else {
        ident
    }
}

/// Duplicate table names, and Rust names or generated type names shared by two tables.
pub(super) fn check_table_names(reporter: &mut Reporter<'_>, tables: &[TableDraft]) {
    // Tables already reported (or unnamed): left out of later checks to avoid noise.
    let mut skip: Vec<bool> = tables
        .iter()
        .map(|table| table.sql_name.is_empty())
        .collect();

    let mut first_by_sql_name: HashMap<&str, usize> = HashMap::new();
    for (index, table) in tables.iter().enumerate() {
        if skip[index] {
            continue;
        }
        if let Some(&first) = first_by_sql_name.get(table.sql_name.as_str()) {
            reporter.error(
                table.name_offset,
                format!(
                    "duplicate table `{}`: it is already described at line {}",
                    table.sql_name,
                    reporter.line(tables[first].name_offset)
                ),
                Some("rename or remove one of the two `[[table]]` entries".to_owned()),
            );
            skip[index] = true;
        } else {
            first_by_sql_name.insert(&table.sql_name, index);
        }
    }

    let mut first_by_rust_name: HashMap<&str, usize> = HashMap::new();
    for (index, table) in tables.iter().enumerate() {
        if skip[index] || table.rust_name.is_empty() {
            continue;
        }
        if let Some(&first) = first_by_rust_name.get(table.rust_name.as_str()) {
            reporter.error(
                table.rust_offset,
                format!(
                    "tables `{}` (line {}) and `{}` both map to the Rust name `{}`",
                    tables[first].sql_name,
                    reporter.line(tables[first].name_offset),
                    table.sql_name,
                    table.rust_name
                ),
                Some(
                    "set `rust_name` on one of the two tables to a distinct snake_case identifier"
                        .to_owned(),
                ),
            );
            skip[index] = true;
        } else {
            first_by_rust_name.insert(&table.rust_name, index);
        }
    }
}
