//! Validation of the raw description and lowering into [`crate::model`].
//!
//! Tables and columns are first lowered into drafts that tolerate errors, so
//! that one pass can report every problem it finds; cross-table checks
//! (duplicates, name collisions, foreign keys, the version source) run on the
//! drafts. The model is built only when no diagnostic was reported.
//!
//! Here: the drafts and the per-table pass. `naming.rs` checks names, `defaults.rs` defaults,
//! `keys.rs` table-level keys, `foreign_keys.rs` references, `version_source.rs` the version
//! source.

use std::collections::HashMap;

use toml::Spanned;

use crate::error::Reporter;
use crate::model::{
    Column, ColumnType, DefaultValue, EnumType, ForeignKey, OnDelete, Schema, Table,
};
use crate::names;
use crate::raw::{RawColumn, RawFile, RawTable};
use crate::types::{SUPPORTED_TYPES_HELP, parse_column_type};

mod defaults;
mod enums;
mod foreign_keys;
mod keys;
mod naming;
mod version_source;

use defaults::lower_default;
use enums::lower_enums;
use foreign_keys::resolve_foreign_keys;
use keys::{lower_primary_key, lower_unique};
use naming::{check_sql_name, check_table_names, column_rust_name_of, rust_name_of};
use version_source::lower_version_source;

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
    ordering: Vec<(usize, bool)>,
    ignored_columns: Vec<String>,
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
    enum_type: Option<usize>,
    array: bool,
    read_only: bool,
    generated: Option<String>,
    database_type: Option<String>,
    domain: Option<String>,
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

    let postgres_schema = raw.postgres_schema.and_then(|name| {
        let ok = check_sql_name(reporter, "PostgreSQL schema", &name);
        let name = name.into_inner();
        // `public` is every connection's default: saying it changes nothing.
        (ok && name != "public").then_some(name)
    });
    let enums = lower_enums(reporter, raw.enums);
    let mut tables: Vec<TableDraft> = raw
        .table
        .into_iter()
        .map(|table| lower_table(reporter, table, &enums))
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
        postgres_schema,
        enums,
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
                enum_type: column.enum_type,
                array: column.array,
                read_only: column.read_only,
                generated: column.generated,
                database_type: column.database_type,
                domain: column.domain,
            })
            .collect(),
        primary_key: table.primary_key,
        ordering: table.ordering,
        ignored_columns: table.ignored_columns,
        unique: table.unique,
        foreign_keys,
    }
}

fn lower_table(
    reporter: &mut Reporter<'_>,
    raw: Spanned<RawTable>,
    enums: &[EnumType],
) -> TableDraft {
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
        let (column, names_ok, name_offset, rust_offset) = lower_column(
            reporter,
            &sql_name,
            &rust_name,
            column_offset,
            raw_column,
            enums,
        );

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

    let ignored_columns = lower_ignored_columns(reporter, &sql_name, raw.ignore_columns, &columns);
    let ordering = lower_ordering(reporter, &sql_name, name_offset, raw.ordering, &columns);
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
        ordering,
        ignored_columns,
    }
}

/// `ordering`: column names, `-` before a name for descending, like DRF's `Meta.ordering`.
fn lower_ordering(
    reporter: &mut Reporter<'_>,
    table: &str,
    name_offset: usize,
    ordering: Option<Spanned<Vec<Spanned<String>>>>,
    columns: &[ColumnDraft],
) -> Vec<(usize, bool)> {
    let Some(ordering) = ordering else {
        return Vec::new();
    };
    if ordering.get_ref().is_empty() {
        reporter.error(
            ordering.span().start.max(name_offset),
            format!("`ordering` of table `{table}` is empty"),
            Some("list at least one column, or remove `ordering`".to_owned()),
        );
        return Vec::new();
    }
    let mut terms: Vec<(usize, bool)> = Vec::new();
    for term in ordering.into_inner() {
        let offset = term.span().start;
        let written = term.into_inner();
        let (name, descending) = match written.strip_prefix('-') {
            Some(name) => (name, true),
            None => (written.as_str(), false),
        };
        match columns.iter().position(|column| column.sql_name == name) {
            None => reporter.error(
                offset,
                format!(
                    "`ordering` of table `{table}` names the column `{name}`, which the table \
                     does not have"
                ),
                Some(format!("columns of `{table}` are {}", column_list(columns))),
            ),
            Some(index) if terms.iter().any(|(seen, _)| *seen == index) => reporter.error(
                offset,
                format!("`ordering` of table `{table}` names the column `{name}` twice"),
                Some("remove the repeated name".to_owned()),
            ),
            Some(index) if !columns[index].is_orderable() => reporter.error(
                offset,
                format!(
                    "`ordering` of table `{table}` names the column `{name}`, whose values \
                     have no order"
                ),
                Some("order by columns that are not json or served as text".to_owned()),
            ),
            Some(index) => terms.push((index, descending)),
        }
    }
    terms
}

impl ColumnDraft {
    /// Whether both databases can sort by it.
    fn is_orderable(&self) -> bool {
        self.database_type.is_none() && self.ty.is_some_and(|ty| ty != ColumnType::Json)
    }
}

/// The default of an enum column: one of its values.
fn lower_enum_default(
    reporter: &mut Reporter<'_>,
    column: &str,
    named: &EnumType,
    default: &Spanned<toml::Value>,
) -> Option<DefaultValue> {
    match default.get_ref() {
        toml::Value::String(value) if named.values.contains(value) => {
            Some(DefaultValue::Text(value.clone()))
        }
        _ => {
            reporter.error(
                default.span().start,
                format!(
                    "the default of column `{column}` is not a value of enum `{}`",
                    named.sql_name
                ),
                Some(format!(
                    "use one of {}",
                    named
                        .values
                        .iter()
                        .map(|value| format!("\"{value}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
            None
        }
    }
}

/// `ignore_columns`: names of live columns the description leaves out; none may also be
/// described, nor named twice.
fn lower_ignored_columns(
    reporter: &mut Reporter<'_>,
    table: &str,
    names: Vec<Spanned<String>>,
    columns: &[ColumnDraft],
) -> Vec<String> {
    let mut ignored: Vec<String> = Vec::new();
    for name in names {
        let offset = name.span().start;
        let name = name.into_inner();
        if columns.iter().any(|column| column.sql_name == name) {
            reporter.error(
                offset,
                format!("table `{table}` both describes and ignores the column `{name}`"),
                Some("remove it from `ignore_columns` or remove its `[[table.column]]`".to_owned()),
            );
        } else if ignored.contains(&name) {
            reporter.error(
                offset,
                format!("`ignore_columns` of table `{table}` names `{name}` twice"),
                Some("name each ignored column once".to_owned()),
            );
        } else if name.is_empty() {
            reporter.error(
                offset,
                format!("`ignore_columns` of table `{table}` holds an empty name"),
                Some("name the live column to leave out".to_owned()),
            );
        } else {
            ignored.push(name);
        }
    }
    ignored
}

/// Lowers one column. Returns the draft, whether its SQL name is usable for
/// duplicate checks, and the offsets of its `name` and Rust name.
fn lower_column(
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

    let ty = match &raw.ty {
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
    let array = raw
        .ty
        .as_ref()
        .is_some_and(|spelling| spelling.get_ref().trim_end().ends_with("[]"));
    if let (true, Some(element), Some(spelling)) = (array, ty, &raw.ty)
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
        enum_type,
        array,
        read_only,
        generated,
        database_type,
        domain,
    };
    (draft, name_ok, name_offset, rust_offset)
}

/// The element type's spelling of a list type (`text` of `text[]`), or the spelling itself.
fn element_spelling(spelling: &str) -> &str {
    let trimmed = spelling.trim_end();
    trimmed.strip_suffix("[]").map_or(trimmed, str::trim_end)
}

/// The default of a list column: only the empty list.
fn lower_list_default(
    reporter: &mut Reporter<'_>,
    column: &str,
    default: &Spanned<toml::Value>,
) -> Option<DefaultValue> {
    match default.get_ref() {
        toml::Value::Array(items) if items.is_empty() => Some(DefaultValue::EmptyList),
        _ => {
            reporter.error(
                default.span().start,
                format!("unsupported default for the list column `{column}`"),
                Some(
                    "a list column's default can only be the empty list, `default = []`".to_owned(),
                ),
            );
            None
        }
    }
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

impl TableDraft {
    fn column_index(&self, sql_name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|column| column.sql_name == sql_name)
    }
}
