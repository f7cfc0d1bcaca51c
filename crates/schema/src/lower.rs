//! Validation of the raw description and lowering into [`crate::model`].
//!
//! Tables and columns are first lowered into drafts that tolerate errors, so
//! that one pass can report every problem it finds; cross-table checks
//! (duplicates, name collisions, foreign keys, the version source) run on the
//! drafts. The model is built only when no diagnostic was reported.

use std::collections::HashMap;
use std::ops::Range;

use toml::Spanned;

use crate::error::Reporter;
use crate::model::{
    Column, ColumnType, DefaultValue, ForeignKey, OnDelete, Schema, Table, VersionSource,
};
use crate::names;
use crate::raw::{RawColumn, RawFile, RawTable, RawVersionSource};
use crate::types::{SUPPORTED_TYPES_HELP, parse_column_type};

/// PostgreSQL truncates identifiers longer than this many bytes.
const MAX_SQL_NAME_BYTES: usize = 63;

struct TableDraft {
    sql_name: String,
    /// Where table-level problems are reported: the `name` value, or the table itself.
    name_offset: usize,
    rust_name: String,
    /// The `rust_name` value if set, else `name_offset`.
    rust_offset: usize,
    struct_name: String,
    doc: Option<String>,
    read_only: bool,
    columns: Vec<ColumnDraft>,
    primary_key: Vec<usize>,
    unique: Vec<Vec<usize>>,
}

struct ColumnDraft {
    sql_name: String,
    rust_name: String,
    doc: Option<String>,
    /// `None` when missing or invalid (already reported).
    ty: Option<ColumnType>,
    nullable: bool,
    default: Option<DefaultValue>,
    references: Option<Spanned<String>>,
    on_delete: OnDelete,
}

/// Validates and lowers; `None` when any diagnostic was reported.
pub(crate) fn lower(raw: RawFile, reporter: &mut Reporter<'_>) -> Option<Schema> {
    let version = match raw.version {
        None => {
            reporter.error(
                0,
                "missing `version`",
                Some(
                    "add `version = \"...\"` at the top of the file: the structure version \
                     the project databases record"
                        .to_owned(),
                ),
            );
            String::new()
        }
        Some(version) => {
            if version.get_ref().trim().is_empty() {
                reporter.error(
                    version.span().start,
                    "`version` is empty",
                    Some(
                        "set `version` to the structure version the project databases record, \
                         e.g. \"2024.06.1\""
                            .to_owned(),
                    ),
                );
            }
            version.into_inner()
        }
    };

    let mut tables: Vec<TableDraft> = raw
        .table
        .into_iter()
        .map(|table| lower_table(reporter, table))
        .collect();

    check_table_names(reporter, &tables);
    let foreign_keys = resolve_foreign_keys(reporter, &tables);
    let version_source = lower_version_source(reporter, raw.version_source, &tables);

    if reporter.has_errors() {
        return None;
    }
    let tables = tables
        .drain(..)
        .zip(foreign_keys)
        .map(|(table, foreign_keys)| build_table(table, foreign_keys))
        .collect();
    Some(Schema {
        version,
        version_source: version_source?,
        tables,
    })
}

fn build_table(table: TableDraft, foreign_keys: Vec<ForeignKey>) -> Table {
    let verbose_name = names::verbose_name_for(&table.sql_name);
    Table {
        sql_name: table.sql_name,
        rust_name: table.rust_name,
        struct_name: table.struct_name,
        verbose_name,
        doc: table.doc,
        read_only: table.read_only,
        columns: table
            .columns
            .into_iter()
            .map(|column| Column {
                sql_name: column.sql_name,
                rust_name: column.rust_name,
                doc: column.doc,
                ty: column
                    .ty
                    .expect("a column without a valid type has been reported"),
                nullable: column.nullable,
                default: column.default,
            })
            .collect(),
        primary_key: table.primary_key,
        unique: table.unique,
        foreign_keys,
    }
}

/// Checks a SQL table or column name; `kind` is "table" or "column".
fn check_sql_name(reporter: &mut Reporter<'_>, kind: &str, name: &Spanned<String>) -> bool {
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
fn rust_name_of(
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

/// A valid identifier close to `text`, for help messages.
fn suggestion(text: &str) -> String {
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

fn lower_table(reporter: &mut Reporter<'_>, raw: Spanned<RawTable>) -> TableDraft {
    let table_offset = raw.span().start;
    let raw = raw.into_inner();

    let (sql_name, name_offset, name_ok) = match raw.name {
        Some(name) => {
            let ok = check_sql_name(reporter, "table", &name);
            let offset = name.span().start;
            (name.into_inner(), offset, ok)
        }
        None => {
            reporter.error(
                table_offset,
                "table without a `name`",
                Some("add `name = \"...\"` with the table's SQL name".to_owned()),
            );
            (String::new(), table_offset, false)
        }
    };
    let (rust_name, rust_offset) = rust_name_of(reporter, raw.rust_name, &sql_name, name_offset);
    let struct_name = names::struct_name_for(&rust_name);
    if name_ok && struct_name.is_empty() {
        reporter.error(
            rust_offset,
            format!("table `{sql_name}` gives no usable Rust type name"),
            Some("set `rust_name` to a snake_case identifier containing a letter".to_owned()),
        );
    }
    if raw.column.is_empty() && !sql_name.is_empty() {
        reporter.error(
            name_offset,
            format!("table `{sql_name}` has no columns"),
            Some("describe its columns with `[[table.column]]` entries".to_owned()),
        );
    }

    let mut columns = Vec::with_capacity(raw.column.len());
    let mut column_primary_key = Vec::new();
    let mut column_unique = Vec::new();
    // Per column: where `nullable = true` is written, to report a nullable primary key.
    let mut nullable_offsets = Vec::with_capacity(raw.column.len());
    let mut first_by_sql_name: HashMap<String, usize> = HashMap::new();
    let mut first_by_rust_name: HashMap<String, (usize, String)> = HashMap::new();

    for raw_column in raw.column {
        let index = columns.len();
        let column_offset = raw_column.span().start;
        let raw_column = raw_column.into_inner();
        if raw_column
            .primary_key
            .as_ref()
            .is_some_and(|flag| *flag.get_ref())
        {
            column_primary_key.push(index);
        }
        if raw_column.unique {
            column_unique.push(index);
        }
        nullable_offsets.push(
            raw_column
                .nullable
                .as_ref()
                .filter(|flag| *flag.get_ref())
                .map(|flag| flag.span().start),
        );
        let (column, names_ok, name_offset, rust_offset) =
            lower_column(reporter, &sql_name, column_offset, raw_column);

        if names_ok {
            if let Some(&first) = first_by_sql_name.get(&column.sql_name) {
                reporter.error(
                    name_offset,
                    format!(
                        "duplicate column `{}` in table `{sql_name}`: it is already described \
                         at line {}",
                        column.sql_name,
                        reporter.line(first)
                    ),
                    Some("rename or remove one of the two columns".to_owned()),
                );
            } else {
                first_by_sql_name.insert(column.sql_name.clone(), name_offset);
                if let Some((first, first_name)) = first_by_rust_name.get(&column.rust_name) {
                    reporter.error(
                        rust_offset,
                        format!(
                            "columns `{first_name}` (line {}) and `{}` of table `{sql_name}` \
                             both map to the Rust name `{}`",
                            reporter.line(*first),
                            column.sql_name,
                            column.rust_name
                        ),
                        Some(
                            "set `rust_name` on one of the two columns to a distinct snake_case \
                             identifier"
                                .to_owned(),
                        ),
                    );
                } else {
                    first_by_rust_name.insert(
                        column.rust_name.clone(),
                        (rust_offset, column.sql_name.clone()),
                    );
                }
            }
        }
        columns.push(column);
    }

    let primary_key = lower_primary_key(
        reporter,
        &sql_name,
        name_offset,
        raw.read_only,
        raw.primary_key,
        &columns,
        &column_primary_key,
        &nullable_offsets,
    );
    let unique = lower_unique(
        reporter,
        &sql_name,
        raw.unique,
        &columns,
        &column_unique,
        &primary_key,
    );

    TableDraft {
        sql_name,
        name_offset,
        rust_name,
        rust_offset,
        struct_name,
        doc: raw.doc,
        read_only: raw.read_only,
        columns,
        primary_key,
        unique,
    }
}

/// Lowers one column. Returns the draft, whether its SQL name is usable for
/// duplicate checks, and the offsets of its `name` and Rust name.
fn lower_column(
    reporter: &mut Reporter<'_>,
    table: &str,
    column_offset: usize,
    raw: RawColumn,
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
    let (rust_name, rust_offset) = rust_name_of(reporter, raw.rust_name, &sql_name, name_offset);

    let ty = match &raw.ty {
        None => {
            reporter.error(
                column_offset,
                format!("column `{sql_name}` of table `{table}` has no `type`"),
                Some(format!("add `type = \"...\"`; {SUPPORTED_TYPES_HELP}")),
            );
            None
        }
        Some(ty) => match parse_column_type(ty.get_ref()) {
            Ok(parsed) => Some(parsed),
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
    let nullable = raw.nullable.is_some_and(|flag| flag.into_inner());
    let default = match (&raw.default, ty) {
        (Some(default), Some(ty)) => lower_default(reporter, &sql_name, ty, default),
        _ => None,
    };

    let on_delete = match raw.on_delete {
        None => OnDelete::NoAction,
        Some(action) => {
            let offset = action.span().start;
            let parsed = match action.get_ref().as_str() {
                "no_action" => Some(OnDelete::NoAction),
                "restrict" => Some(OnDelete::Restrict),
                "cascade" => Some(OnDelete::Cascade),
                "set_null" => Some(OnDelete::SetNull),
                other => {
                    reporter.error(
                        offset,
                        format!("unknown `on_delete` action `{other}` on column `{sql_name}`"),
                        Some(
                            "use one of \"no_action\" (the default), \"restrict\", \"cascade\" \
                             or \"set_null\""
                                .to_owned(),
                        ),
                    );
                    None
                }
            };
            if raw.references.is_none() {
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
            } else if parsed == Some(OnDelete::SetNull) && !nullable {
                reporter.error(
                    offset,
                    format!(
                        "`on_delete = \"set_null\"` on column `{sql_name}` of table `{table}`, \
                         which is not nullable"
                    ),
                    Some(
                        "add `nullable = true` to the column, or choose \"no_action\", \
                         \"restrict\" or \"cascade\""
                            .to_owned(),
                    ),
                );
            }
            parsed.unwrap_or(OnDelete::NoAction)
        }
    };

    let draft = ColumnDraft {
        sql_name,
        rust_name,
        doc: raw.doc,
        ty,
        nullable,
        default,
        references: raw.references,
        on_delete,
    };
    (draft, name_ok, name_offset, rust_offset)
}

/// The default as written, shortened for messages.
fn excerpt(text: &str) -> String {
    let text = text.trim();
    let first_line = text.lines().next().unwrap_or_default();
    if first_line.chars().count() > 40 || first_line.len() != text.len() {
        let short: String = first_line.chars().take(40).collect();
        format!("{short}...")
    } else {
        first_line.to_owned()
    }
}

fn lower_default(
    reporter: &mut Reporter<'_>,
    column: &str,
    ty: ColumnType,
    default: &Spanned<toml::Value>,
) -> Option<DefaultValue> {
    match default_value(ty, default.get_ref()) {
        Ok(value) => Some(value),
        Err(help) => {
            let span: Range<usize> = default.span();
            let written = excerpt(reporter.source().get(span.clone()).unwrap_or_default());
            reporter.error(
                span.start,
                format!(
                    "unsupported default `{written}` for column `{column}` of type `{}`",
                    ty.spelling()
                ),
                Some(help),
            );
            None
        }
    }
}

/// What a default of this type may be, for help messages.
fn accepted_defaults(ty: ColumnType) -> String {
    match ty {
        ColumnType::SmallInt => format!("an integer between {} and {}", i16::MIN, i16::MAX),
        ColumnType::Integer => format!("an integer between {} and {}", i32::MIN, i32::MAX),
        ColumnType::BigInt => "an integer".to_owned(),
        ColumnType::Serial | ColumnType::BigSerial | ColumnType::Json | ColumnType::Bytes => {
            "absent".to_owned()
        }
        ColumnType::Boolean => "`true` or `false`".to_owned(),
        ColumnType::Real => "a finite number within the range of `real`".to_owned(),
        ColumnType::Double => "a finite number".to_owned(),
        ColumnType::Numeric { precision, scale } => format!(
            "a finite number with at most {} digits before the decimal point",
            precision - scale
        ),
        ColumnType::Text => "a string".to_owned(),
        ColumnType::Varchar { max_length } => {
            format!("a string of at most {max_length} characters")
        }
        ColumnType::Date | ColumnType::Time | ColumnType::Timestamp | ColumnType::Timestamptz => {
            "\"now\" (the current date or time when the row is inserted)".to_owned()
        }
        ColumnType::Uuid => {
            "a UUID string in canonical form, e.g. \"67e55044-10b1-426f-9247-bb680e5fe0c8\""
                .to_owned()
        }
    }
}

/// The lowered default, or the help text explaining why it is not supported.
fn default_value(ty: ColumnType, value: &toml::Value) -> Result<DefaultValue, String> {
    use toml::Value;

    let spelling = ty.spelling();
    let expected = || {
        format!(
            "defaults of `{spelling}` columns must be {}",
            accepted_defaults(ty)
        )
    };
    match ty {
        ColumnType::Serial | ColumnType::BigSerial => {
            return Err(format!(
                "`{spelling}` columns take no default: the database generates their values; \
                 remove `default`"
            ));
        }
        ColumnType::Json | ColumnType::Bytes => {
            return Err(format!(
                "defaults are not supported on `{spelling}` columns; remove `default` (set \
                 `nullable = true` if the column may be left out)"
            ));
        }
        _ => {}
    }

    match value {
        Value::Boolean(flag) if ty == ColumnType::Boolean => Ok(DefaultValue::Boolean(*flag)),
        Value::Integer(integer) => {
            let integer = *integer;
            match ty {
                ColumnType::SmallInt if i16::try_from(integer).is_err() => Err(expected()),
                ColumnType::Integer if i32::try_from(integer).is_err() => Err(expected()),
                ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt => {
                    Ok(DefaultValue::Integer(integer))
                }
                ColumnType::Real | ColumnType::Double => {
                    Ok(DefaultValue::Number(integer.to_string()))
                }
                ColumnType::Numeric { precision, scale } => {
                    let text = integer.to_string();
                    if fits_numeric(&text, precision, scale) {
                        Ok(DefaultValue::Number(text))
                    } else {
                        Err(expected())
                    }
                }
                _ => Err(expected()),
            }
        }
        Value::Float(float) => {
            let float = *float;
            let fits = match ty {
                ColumnType::Real => float.is_finite() && float.abs() <= f64::from(f32::MAX),
                ColumnType::Double => float.is_finite(),
                ColumnType::Numeric { precision, scale } => {
                    float.is_finite() && fits_numeric(&format!("{float}"), precision, scale)
                }
                _ => false,
            };
            if fits {
                Ok(DefaultValue::Number(format!("{float}")))
            } else {
                Err(expected())
            }
        }
        Value::String(text) => match ty {
            ColumnType::Date
            | ColumnType::Time
            | ColumnType::Timestamp
            | ColumnType::Timestamptz
                if text == "now" =>
            {
                Ok(DefaultValue::Now)
            }
            _ if text == "now" => Err(format!(
                "\"now\" is only supported on date, time, timestamp and timestamptz columns; {}",
                expected()
            )),
            ColumnType::Text => Ok(DefaultValue::Text(text.clone())),
            ColumnType::Varchar { max_length } if text.chars().count() <= max_length as usize => {
                Ok(DefaultValue::Text(text.clone()))
            }
            ColumnType::Uuid if is_canonical_uuid(text) => Ok(DefaultValue::Text(text.clone())),
            _ => Err(expected()),
        },
        Value::Datetime(_) => Err(format!(
            "TOML dates and times are not supported as defaults; {}",
            expected()
        )),
        Value::Array(_) | Value::Table(_) => Err(format!(
            "arrays and tables are not supported as defaults; {}",
            expected()
        )),
        Value::Boolean(_) => Err(expected()),
    }
}

/// Whether a decimal number, as text, fits `numeric(precision, scale)` before
/// the decimal point (digits after it are rounded by the database).
fn fits_numeric(text: &str, precision: u32, scale: u32) -> bool {
    let unsigned = text.trim_start_matches(['-', '+']);
    let integer_part = unsigned.split('.').next().unwrap_or_default();
    let significant = integer_part.trim_start_matches('0');
    significant.len() <= (precision - scale) as usize
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` with hexadecimal digits.
fn is_canonical_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, c)| match index {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Column names of a table, for help messages.
fn column_list(columns: &[ColumnDraft]) -> String {
    let names: Vec<String> = columns
        .iter()
        .filter(|column| !column.sql_name.is_empty())
        .map(|column| format!("`{}`", column.sql_name))
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Resolves a list of column names written in a table-level key (`what` is
/// `primary_key` or `unique`). Returns `None` when a name was missing or repeated.
fn resolve_column_list(
    reporter: &mut Reporter<'_>,
    table: &str,
    what: &str,
    list: &[Spanned<String>],
    columns: &[ColumnDraft],
) -> Option<Vec<usize>> {
    let mut indices = Vec::with_capacity(list.len());
    let mut ok = true;
    for name in list {
        let offset = name.span().start;
        let name = name.get_ref();
        match columns.iter().position(|column| &column.sql_name == name) {
            None => {
                reporter.error(
                    offset,
                    format!("`{what}` of table `{table}` names the column `{name}`, which the table does not have"),
                    Some(format!("columns of `{table}` are {}", column_list(columns))),
                );
                ok = false;
            }
            Some(index) if indices.contains(&index) => {
                reporter.error(
                    offset,
                    format!("`{what}` of table `{table}` names the column `{name}` twice"),
                    Some("remove the repeated name".to_owned()),
                );
                ok = false;
            }
            Some(index) => indices.push(index),
        }
    }
    ok.then_some(indices)
}

#[allow(clippy::too_many_arguments)]
fn lower_primary_key(
    reporter: &mut Reporter<'_>,
    table: &str,
    name_offset: usize,
    read_only: bool,
    table_key: Option<Spanned<Vec<Spanned<String>>>>,
    columns: &[ColumnDraft],
    column_key: &[usize],
    nullable_offsets: &[Option<usize>],
) -> Vec<usize> {
    let declared = table_key.is_some() || !column_key.is_empty();
    let key = match table_key {
        None => column_key.to_vec(),
        Some(list) => {
            let offset = list.span().start;
            if let Some(&first) = column_key.first() {
                reporter.error(
                    offset,
                    format!(
                        "table `{table}` declares its primary key twice: with `primary_key = [...]` \
                         and with `primary_key = true` on column `{}`",
                        columns[first].sql_name
                    ),
                    Some(
                        "keep only one of the two forms: `primary_key = [...]` on the table, or \
                         `primary_key = true` on the key columns"
                            .to_owned(),
                    ),
                );
            }
            if list.get_ref().is_empty() {
                reporter.error(
                    offset,
                    format!("`primary_key` of table `{table}` is empty"),
                    Some(
                        "list the key columns, e.g. `primary_key = [\"id\"]`, or remove \
                         `primary_key`"
                            .to_owned(),
                    ),
                );
            }
            resolve_column_list(reporter, table, "primary_key", list.get_ref(), columns)
                .unwrap_or_default()
        }
    };

    for &index in &key {
        if let Some(offset) = nullable_offsets[index] {
            reporter.error(
                offset,
                format!(
                    "primary key column `{}` of table `{table}` is nullable",
                    columns[index].sql_name
                ),
                Some("remove `nullable = true`: primary key columns cannot be null".to_owned()),
            );
        }
    }

    if !declared && !read_only && !table.is_empty() && !columns.is_empty() {
        reporter.error(
            name_offset,
            format!("table `{table}` has no primary key"),
            Some(
                "add `primary_key = true` to a column, or `primary_key = [\"a\", \"b\"]` to the \
                 table, or set `read_only = true` if it is a view"
                    .to_owned(),
            ),
        );
    }
    key
}

fn lower_unique(
    reporter: &mut Reporter<'_>,
    table: &str,
    table_unique: Vec<Spanned<Vec<Spanned<String>>>>,
    columns: &[ColumnDraft],
    column_unique: &[usize],
    primary_key: &[usize],
) -> Vec<Vec<usize>> {
    let mut candidates: Vec<Vec<usize>> = column_unique.iter().map(|&index| vec![index]).collect();
    for set in table_unique {
        if set.get_ref().is_empty() {
            reporter.error(
                set.span().start,
                format!("empty unique constraint in table `{table}`"),
                Some(
                    "list the columns whose combination is unique, e.g. `unique = [[\"a\", \
                     \"b\"]]`"
                        .to_owned(),
                ),
            );
            continue;
        }
        if let Some(indices) =
            resolve_column_list(reporter, table, "unique", set.get_ref(), columns)
        {
            candidates.push(indices);
        }
    }

    let mut unique: Vec<Vec<usize>> = Vec::with_capacity(candidates.len());
    let mut seen: Vec<Vec<usize>> = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        if candidate.len() == 1 && primary_key == candidate.as_slice() {
            continue;
        }
        let mut sorted = candidate.clone();
        sorted.sort_unstable();
        if seen.contains(&sorted) {
            continue;
        }
        seen.push(sorted);
        unique.push(candidate);
    }
    unique
}

/// Duplicate table names, and Rust names or generated type names shared by two tables.
fn check_table_names(reporter: &mut Reporter<'_>, tables: &[TableDraft]) {
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

fn types_compatible(a: ColumnType, b: ColumnType) -> bool {
    match (a, b) {
        (a, b) if a.is_integer() && b.is_integer() => true,
        (ColumnType::Varchar { .. }, ColumnType::Varchar { .. }) => true,
        (a, b) => a == b,
    }
}

/// Resolves `references` into foreign keys, per table.
fn resolve_foreign_keys(
    reporter: &mut Reporter<'_>,
    tables: &[TableDraft],
) -> Vec<Vec<ForeignKey>> {
    let mut table_by_name: HashMap<&str, usize> = HashMap::new();
    for (index, table) in tables.iter().enumerate() {
        if !table.sql_name.is_empty() {
            table_by_name.entry(&table.sql_name).or_insert(index);
        }
    }

    let mut all = Vec::with_capacity(tables.len());
    for table in tables {
        let mut foreign_keys = Vec::new();
        for (column_index, column) in table.columns.iter().enumerate() {
            let Some(reference) = &column.references else {
                continue;
            };
            let offset = reference.span().start;
            let text = reference.get_ref();
            let owner = format!("{}.{}", table.sql_name, column.sql_name);
            let parts = text
                .split_once('.')
                .filter(|(t, c)| !t.is_empty() && !c.is_empty() && !c.contains('.'));
            let Some((target_table, target_column)) = parts else {
                reporter.error(
                    offset,
                    format!("malformed reference `{text}` on column `{owner}`"),
                    Some(
                        "write the referenced table and column separated by a dot, e.g. \
                         `references = \"site.id\"`"
                            .to_owned(),
                    ),
                );
                continue;
            };
            let Some(&target_index) = table_by_name.get(target_table) else {
                reporter.error(
                    offset,
                    format!(
                        "column `{owner}` references the table `{target_table}`, which is not \
                         described in this file"
                    ),
                    Some(format!(
                        "describe `{target_table}` with a `[[table]]` entry, or reference one of \
                         the described tables"
                    )),
                );
                continue;
            };
            let target = &tables[target_index];
            let Some(target_column_index) = target
                .columns
                .iter()
                .position(|candidate| candidate.sql_name == target_column)
            else {
                reporter.error(
                    offset,
                    format!(
                        "column `{owner}` references `{text}`, but table `{target_table}` has no \
                         column `{target_column}`"
                    ),
                    Some(format!(
                        "columns of `{target_table}` are {}",
                        column_list(&target.columns)
                    )),
                );
                continue;
            };
            let referenced = &target.columns[target_column_index];

            let is_key = target.primary_key == [target_column_index]
                || target
                    .unique
                    .iter()
                    .any(|set| set.as_slice() == [target_column_index]);
            if !is_key {
                reporter.error(
                    offset,
                    format!(
                        "column `{owner}` references `{text}`, which is neither a single-column \
                         primary key nor unique"
                    ),
                    Some(format!(
                        "reference the primary key of `{target_table}`, or add `unique = true` to \
                         its column `{target_column}`"
                    )),
                );
            }
            if let (Some(own_type), Some(referenced_type)) = (column.ty, referenced.ty)
                && !types_compatible(own_type, referenced_type)
            {
                reporter.error(
                    offset,
                    format!(
                        "column `{owner}` of type `{}` references `{text}` of type `{}`",
                        own_type.spelling(),
                        referenced_type.spelling()
                    ),
                    Some(
                        "give both columns the same type; smallint, integer, bigint, serial and \
                         bigserial are compatible with each other, and varchar lengths may differ"
                            .to_owned(),
                    ),
                );
            }
            foreign_keys.push(ForeignKey {
                column: column_index,
                references_table: target_index,
                references_column: target_column_index,
                on_delete: column.on_delete,
            });
        }
        all.push(foreign_keys);
    }
    all
}

fn lower_version_source(
    reporter: &mut Reporter<'_>,
    raw: Option<Spanned<RawVersionSource>>,
    tables: &[TableDraft],
) -> Option<VersionSource> {
    let Some(raw) = raw else {
        reporter.error(
            0,
            "missing `[version_source]`",
            Some(
                "add a `[version_source]` section with `table = \"...\"` and `column = \"...\"`: \
                 where the project databases record their structure version"
                    .to_owned(),
            ),
        );
        return None;
    };
    let section_offset = raw.span().start;
    let raw = raw.into_inner();
    let mut missing = |key: &str| {
        reporter.error(
            section_offset,
            format!("`[version_source]` has no `{key}`"),
            Some(format!(
                "add `{key} = \"...\"` naming the {key} that holds the structure version"
            )),
        );
    };
    let table_name = raw.table.or_else(|| {
        missing("table");
        None
    });
    let column_name = raw.column.or_else(|| {
        missing("column");
        None
    });
    let (table_name, column_name) = (table_name?, column_name?);

    let Some(table) = tables
        .iter()
        .find(|table| &table.sql_name == table_name.get_ref())
    else {
        reporter.error(
            table_name.span().start,
            format!(
                "`version_source` names the table `{}`, which is not described in this file",
                table_name.get_ref()
            ),
            Some(
                "describe that table with a `[[table]]` entry (with `read_only = true` if the API \
                 must not write it), or name a described table"
                    .to_owned(),
            ),
        );
        return None;
    };
    if table.column_index(column_name.get_ref()).is_none() {
        reporter.error(
            column_name.span().start,
            format!(
                "`version_source` names the column `{}`, which table `{}` does not have",
                column_name.get_ref(),
                table.sql_name
            ),
            Some(format!(
                "columns of `{}` are {}",
                table.sql_name,
                column_list(&table.columns)
            )),
        );
        return None;
    }
    Some(VersionSource {
        table: table_name.into_inner(),
        column: column_name.into_inner(),
    })
}

impl TableDraft {
    fn column_index(&self, sql_name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|column| column.sql_name == sql_name)
    }
}
