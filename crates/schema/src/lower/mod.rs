//! Validation of the raw description and lowering into [`crate::model`].
//!
//! Tables and columns are first lowered into drafts that tolerate errors, so
//! that one pass can report every problem it finds; cross-table checks
//! (duplicates, name collisions, foreign keys, the version source) run on the
//! drafts. The model is built only when no diagnostic was reported.
//!
//! Here: the drafts and the per-table pass. `columns.rs` lowers a column (lists, generated
//! columns, `database_type`), `name_checks.rs` checks names, `defaults.rs` defaults,
//! `keys.rs` table-level keys, `foreign_keys.rs` references, `version_source.rs` the version
//! source.

use std::collections::HashMap;

use toml::Spanned;

use crate::error::Reporter;
use crate::model::{
    Column, ColumnType, DefaultValue, EnumType, ForeignKey, OnDelete, Schema, Table,
};
use crate::names;
use crate::raw::{RawFile, RawTable};

mod columns;
mod defaults;
mod enums;
mod foreign_keys;
mod keys;
mod name_checks;
mod search;
mod version_source;

use columns::lower_column;
use enums::lower_enums;
use foreign_keys::resolve_foreign_keys;
use keys::{lower_primary_key, lower_unique};
pub use name_checks::MAX_SQL_NAME_BYTES;
use name_checks::{check_sql_name, check_table_names, rust_name_of};
use version_source::lower_version_source;

/// The widest table a description may hold: PostgreSQL's limit (SQLite's default, 2,000, is
/// higher; a wider SQLite table is described with the rest of its columns ignored, as
/// `introspect` writes it). Checked here so that `gen` says so at the table's line.
pub const MAX_TABLE_COLUMNS: usize = 1_600;

/// The widest table read through diesel's `table!` (its `32-column-tables` feature, which the
/// workspace enables; `64-` and `128-column-tables` multiply diesel's trait impls, 128: a
/// 350 s build, BENCHMARKS.md). Wider tables are read by position from one statement built
/// from their metadata ([`crate::model::Table::reads_by_position`]).
pub const MAX_TYPED_TABLE_COLUMNS: usize = 32;

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
    /// As written; made `None` when it is the description's own schema (`build_table`).
    postgres_schema: Option<String>,
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
    let mut raw_tables = raw.table;
    // Search fields may name other tables' columns: resolved once every table is built.
    let searches: Vec<_> = raw_tables
        .iter_mut()
        .map(|table| table.get_mut().search.take())
        .collect();
    let mut tables: Vec<TableDraft> = raw_tables
        .into_iter()
        .map(|table| lower_table(reporter, table, &enums))
        .collect();

    check_table_names(reporter, &tables);
    let foreign_keys = resolve_foreign_keys(reporter, &tables);
    let version_source = lower_version_source(reporter, raw.version_source, &tables);

    if reporter.has_errors() {
        return None;
    }
    let mut tables: Vec<Table> = tables
        .drain(..)
        .zip(foreign_keys)
        .map(|(table, foreign_keys)| build_table(table, foreign_keys, postgres_schema.as_deref()))
        .collect();
    let searches = search::resolve_search(reporter, &tables, searches);
    if reporter.has_errors() {
        return None;
    }
    for (table, search) in tables.iter_mut().zip(searches) {
        table.search = search;
    }
    Some(Schema {
        version,
        version_source: version_source?,
        postgres_schema,
        enums,
        tables,
    })
}

fn build_table(
    table: TableDraft,
    foreign_keys: Vec<ForeignKey>,
    description_schema: Option<&str>,
) -> Table {
    let verbose_name = names::verbose_name_for(&table.sql_name);
    // Only a schema other than the description's own (or `public`) is the table's own.
    let postgres_schema = table
        .postgres_schema
        .filter(|name| name.as_str() != description_schema.unwrap_or("public"));
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
        postgres_schema,
        search: Vec::new(),
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

    if columns.len() > MAX_TABLE_COLUMNS {
        reporter.error(
            name_offset,
            format!(
                "table `{sql_name}` has {} columns; PostgreSQL holds at most {MAX_TABLE_COLUMNS} \
                 in a table, and a description must create and serve on both backends",
                columns.len()
            ),
            Some(format!(
                "leave at least {} of its columns out: remove their `[[table.column]]` entries and \
                 name them in the table's `ignore_columns`, so that the API neither reads nor \
                 writes them and drift ignores them",
                columns.len() - MAX_TABLE_COLUMNS
            )),
        );
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
    let postgres_schema = raw.postgres_schema.and_then(|name| {
        check_sql_name(reporter, "PostgreSQL schema", &name).then(|| name.into_inner())
    });
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
        postgres_schema,
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
