//! One column: its name, type (a list, an enum), default, reference, and what real schemas add
//! (read-only, a generated expression, a `database_type` served as text, a domain).

use toml::Spanned;

use super::ColumnDraft;
use super::defaults::{lower_default, lower_enum_default, lower_list_default};
use super::name_checks::{check_sql_name, column_rust_name_of};
use crate::error::Reporter;
use crate::model::{ColumnType, EnumType, OnDelete};
use crate::raw::RawColumn;
use crate::type_spelling::{SUPPORTED_TYPES_HELP, parse_column_type};

/// Lowers one column. Returns the draft, whether its SQL name is usable for
/// duplicate checks, and the offsets of its `name` and Rust name.
pub(super) fn lower_column(
    reporter: &mut Reporter<'_>,
    table: &str,
    table_rust_name: &str,
    column_offset: usize,
    raw: RawColumn,
    enums: &[EnumType],
) -> (ColumnDraft, bool, usize, usize) {
    let (sql_name, name_offset, name_ok) = match raw.name {
        Some(name) => {
            let ok = check_sql_name(reporter, "column", &name);
            let offset = name.span().start;
            (name.into_inner(), offset, ok)
        }
        None => {
            reporter.error(
                column_offset,
                if table.is_empty() {
                    "column without a `name`".to_owned()
                } else {
                    format!("column without a `name` in table `{table}`")
                },
                Some("add `name = \"...\"` with the column's SQL name".to_owned()),
            );
            (String::new(), column_offset, false)
        }
    };
    let (rust_name, rust_offset) = column_rust_name_of(
        reporter,
        raw.rust_name,
        &sql_name,
        name_offset,
        table_rust_name,
    );

    let (ty, array) = lower_type(reporter, table, &sql_name, column_offset, &raw.ty, enums);
    let nullable = raw.nullable.as_ref().is_some_and(|flag| *flag.get_ref());
    let enum_type = match (&raw.ty, ty) {
        (Some(name), Some(ColumnType::Enum)) => enums
            .iter()
            .position(|named| named.sql_name == element_spelling(name.get_ref())),
        _ => None,
    };
    let default = match (&raw.default, ty, enum_type) {
        (Some(default), Some(_), _) if array => lower_list_default(reporter, &sql_name, default),
        (Some(default), Some(ColumnType::Enum), Some(index)) => {
            lower_enum_default(reporter, &sql_name, &enums[index], default)
        }
        (Some(default), Some(ty), _) => lower_default(reporter, &sql_name, ty, default),
        _ => None,
    };
    let read_only = raw.read_only.as_ref().is_some_and(|flag| *flag.get_ref());
    let written = WrittenFlags {
        has_default: raw.default.is_some(),
        read_only: raw.read_only.as_ref().map(|flag| *flag.get_ref()),
    };
    let generated = lower_generated(reporter, table, &sql_name, raw.generated, written, ty);
    let domain = raw.domain.and_then(|name| {
        let ok = check_sql_name(reporter, "domain", &name);
        ok.then(|| name.into_inner())
    });
    let database_type = lower_database_type(
        reporter,
        table,
        &sql_name,
        raw.database_type,
        written,
        ty,
        array,
    );

    let on_delete = lower_on_delete(
        reporter,
        table,
        &sql_name,
        raw.on_delete,
        raw.references.is_some(),
    );

    let draft = ColumnDraft {
        sql_name,
        rust_name,
        doc: raw.doc,
        ty,
        nullable,
        default,
        references: raw.references,
        on_delete,
        enum_type,
        array,
        read_only,
        generated,
        database_type,
        domain,
    };
    (draft, name_ok, name_offset, rust_offset)
}

/// A column's `type`: the element type (a built-in or a described enum) and whether it is a
/// list (`T[]`); `None` after reporting a missing or unknown type.
fn lower_type(
    reporter: &mut Reporter<'_>,
    table: &str,
    sql_name: &str,
    column_offset: usize,
    spelling: &Option<Spanned<String>>,
    enums: &[EnumType],
) -> (Option<ColumnType>, bool) {
    let ty = match spelling {
        None => {
            reporter.error(
                column_offset,
                format!("column `{sql_name}` of table `{table}` has no `type`"),
                Some(format!("add `type = \"...\"`; {SUPPORTED_TYPES_HELP}")),
            );
            None
        }
        Some(ty) => match parse_column_type(element_spelling(ty.get_ref())) {
            Ok(parsed) => Some(parsed),
            Err(_)
                if enums
                    .iter()
                    .any(|named| named.sql_name == element_spelling(ty.get_ref())) =>
            {
                Some(ColumnType::Enum)
            }
            Err(message) => {
                reporter.error(
                    ty.span().start,
                    message,
                    Some(SUPPORTED_TYPES_HELP.to_owned()),
                );
                None
            }
        },
    };
    let array = spelling
        .as_ref()
        .is_some_and(|spelling| spelling.get_ref().trim_end().ends_with("[]"));
    if let (true, Some(element), Some(spelling)) = (array, ty, spelling)
        && !element.can_be_array_element()
    {
        reporter.error(
            spelling.span().start,
            format!(
                "column `{sql_name}` of table `{table}`: lists of `{}` are not supported",
                element.spelling()
            ),
            Some(
                "lists may hold any type but serial, bigserial, json and bytes; a `json` column \
                 holds lists of documents"
                    .to_owned(),
            ),
        );
    }
    (ty, array)
}

/// A column's `on_delete` (`no_action` without one), which needs a `references`.
fn lower_on_delete(
    reporter: &mut Reporter<'_>,
    table: &str,
    sql_name: &str,
    on_delete: Option<Spanned<String>>,
    has_references: bool,
) -> OnDelete {
    match on_delete {
        None => OnDelete::NoAction,
        Some(action) => {
            let offset = action.span().start;
            let word = action.get_ref().as_str();
            let parsed = OnDelete::from_word(word);
            if parsed.is_none() {
                let words: Vec<String> = OnDelete::ALL
                    .iter()
                    .map(|action| format!("\"{}\"", action.word()))
                    .collect();
                reporter.error(
                    offset,
                    format!("unknown `on_delete` action `{word}` on column `{sql_name}`"),
                    Some(format!(
                        "use one of {} (no_action is the default)",
                        words.join(", ")
                    )),
                );
            }
            if !has_references {
                reporter.error(
                    offset,
                    format!(
                        "`on_delete` on column `{sql_name}` of table `{table}`, which has no \
                         `references`"
                    ),
                    Some(
                        "add `references = \"table.column\"` to the column, or remove `on_delete`"
                            .to_owned(),
                    ),
                );
            }
            // `set_null` on a column that may not be null is what real databases hold
            // (PostgreSQL and SQLite accept it): described as it is, a delete of a referenced
            // row then fails on the column, which the API answers with 400 naming it.
            parsed.unwrap_or(OnDelete::NoAction)
        }
    }
}

/// The element type's spelling of a list type (`text` of `text[]`), or the spelling itself.
fn element_spelling(spelling: &str) -> &str {
    let trimmed = spelling.trim_end();
    trimmed.strip_suffix("[]").map_or(trimmed, str::trim_end)
}

/// What else a column says, for the checks of `generated` and `database_type`.
#[derive(Clone, Copy)]
struct WrittenFlags {
    has_default: bool,
    read_only: Option<bool>,
}

/// `generated = "<expression>"`: a stored generated column.
fn lower_generated(
    reporter: &mut Reporter<'_>,
    table: &str,
    column: &str,
    expression: Option<Spanned<String>>,
    written: WrittenFlags,
    ty: Option<ColumnType>,
) -> Option<String> {
    let expression = expression?;
    let offset = expression.span().start;
    if expression.get_ref().trim().is_empty() {
        reporter.error(
            offset,
            format!("`generated` of column `{column}` of table `{table}` is empty"),
            Some(
                "write the SQL expression the database computes the column from, or remove \
                 `generated`"
                    .to_owned(),
            ),
        );
        return None;
    }
    if written.has_default {
        reporter.error(
            offset,
            format!("column `{column}` of table `{table}` has both `generated` and `default`"),
            Some("a generated column takes no default: remove `default`".to_owned()),
        );
    }
    if matches!(ty, Some(ColumnType::Serial | ColumnType::BigSerial)) {
        reporter.error(
            offset,
            format!("column `{column}` of table `{table}` is a serial and `generated`"),
            Some("use `integer` or `bigint` for a generated column".to_owned()),
        );
    }
    Some(expression.get_ref().trim().to_owned())
}

/// `database_type = "tsvector"`: a column of a type the format cannot express, served
/// read-only as its text form.
fn lower_database_type(
    reporter: &mut Reporter<'_>,
    table: &str,
    column: &str,
    database_type: Option<Spanned<String>>,
    written: WrittenFlags,
    ty: Option<ColumnType>,
    array: bool,
) -> Option<String> {
    let database_type = database_type?;
    let offset = database_type.span().start;
    let name = database_type.get_ref().trim();
    let plausible = !name.is_empty()
        && name.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, '_' | ' ' | '(' | ')' | ',' | '[' | ']' | '.' | '"')
        });
    if !plausible {
        reporter.error(
            offset,
            format!("`database_type` of column `{column}` of table `{table}` is not a type name"),
            Some(
                "write the live column's type as the database names it, e.g. \"tsvector\""
                    .to_owned(),
            ),
        );
        return None;
    }
    if ty != Some(ColumnType::Text) || array {
        reporter.error(
            offset,
            format!(
                "column `{column}` of table `{table}` has a `database_type` but a type other \
                 than `text`"
            ),
            Some(
                "a column with a `database_type` is served as its text form: set `type = \
                 \"text\"`"
                    .to_owned(),
            ),
        );
    }
    if written.read_only == Some(false) {
        reporter.error(
            offset,
            format!(
                "column `{column}` of table `{table}` has a `database_type` and `read_only = \
                 false`"
            ),
            Some(
                "a column served as its text form is always read-only: remove `read_only = false`"
                    .to_owned(),
            ),
        );
    }
    if written.has_default {
        reporter.error(
            offset,
            format!("column `{column}` of table `{table}` has a `database_type` and a `default`"),
            Some(
                "the API never writes such a column, so a default says nothing: remove \
                 `default`"
                    .to_owned(),
            ),
        );
    }
    Some(name.to_owned())
}
