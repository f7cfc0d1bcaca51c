//! The structure of a live project database (PostgreSQL catalogs in `postgres.rs`, SQLite
//! pragmas in `sqlite.rs`), for drift detection (`drift.rs`, `check --structure`) and for writing
//! a description from a live reference database (`introspect`, through the description
//! format's own writer).

mod drift;
mod postgres;
mod sqlite;
mod sqlite_sql;

use diesel::sql_types::Text;
use tenantapi_runtime::connections::db::DbConnection;
use tenantapi_schema::model::{ColumnType, DefaultValue, EnumType, OnDelete, VersionSource};
use tenantapi_schema::toml_writer::{DescribedColumn, DescribedTable, Description};

pub use drift::drift;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    pub name: String,
    /// The portable type (of the items, for an array), or the database's own spelling when it
    /// has none.
    pub ty: Result<ColumnType, String>,
    /// The database's own spelling of the type (`character varying(20)[]`, `NVARCHAR(40)`).
    pub live_type: String,
    /// A PostgreSQL array (of `ty` items).
    pub array: bool,
    /// A generated column's expression, as the database prints it.
    pub generated: Option<String>,
    /// The PostgreSQL domain the column is declared with (`ty` is its base type).
    pub domain: Option<String>,
    pub nullable: bool,
    /// The default as the database spells it (`'x'::character varying`, `(date('now'))`).
    pub default: Option<String>,
    /// SQLite's `INTEGER PRIMARY KEY AUTOINCREMENT`: always 64 bits, whatever the description
    /// said (serial or bigserial), so either reading is correct.
    pub sqlite_rowid_key: bool,
    /// A PostgreSQL enum column's type: its name and values in order.
    pub enum_type: Option<LiveEnum>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEnum {
    /// The type's name on PostgreSQL; on SQLite (no enum types) `table_column`.
    pub name: String,
    pub values: Vec<String>,
    /// Whether the database names the type (PostgreSQL), so that drift compares names too.
    pub named: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveForeignKey {
    pub column: String,
    pub references_table: String,
    pub references_column: String,
    /// `no_action`, `restrict`, `cascade`, `set_null` (or the database's word for others).
    pub on_delete: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTable {
    pub name: String,
    /// The PostgreSQL schema holding it, unless it is the connection's first (`None` on
    /// SQLite).
    pub schema: Option<String>,
    pub columns: Vec<LiveColumn>,
    pub primary_key: Vec<String>,
    /// Unique constraints other than the primary key.
    pub unique: Vec<Vec<String>>,
    pub foreign_keys: Vec<LiveForeignKey>,
    /// PostgreSQL partitions of this table: not resources of their own, read through it.
    pub partitions: usize,
    pub kind: RelationKind,
    /// False for a PostgreSQL materialized view created `WITH NO DATA` and never refreshed:
    /// reading it fails until the database's owner refreshes it.
    pub populated: bool,
    pub backend: tenantapi_runtime::connections::db::BackendKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
    MaterializedView,
}

#[derive(diesel::QueryableByName)]
pub(crate) struct Name {
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
}

/// Every table (and view) of the database, sorted by name: on PostgreSQL those of the
/// connection's first schema and of `other_schemas` (the rest of a description's search path).
pub fn live_structure(
    connection: &mut DbConnection,
    other_schemas: &[&str],
) -> Result<Vec<LiveTable>, diesel::result::Error> {
    match connection {
        DbConnection::Pg(_) => postgres::structure(connection, other_schemas),
        DbConnection::Sqlite(_) => sqlite::structure(connection),
    }
}

/// A live default as the description file writes it (`"now"`, a number, a string, a boolean),
/// or `None` when the description format cannot express it.
fn description_default(raw: &str, ty: ColumnType) -> Option<DefaultValue> {
    let raw = raw.trim();
    let lower = raw.to_ascii_lowercase();
    let is_now = [
        "current_timestamp",
        "now()",
        "current_date",
        "localtime",
        "localtimestamp",
        "current_time",
    ]
    .contains(&lower.as_str())
        || lower.contains("'now'");
    if is_now {
        return Some(DefaultValue::Now);
    }
    // PostgreSQL decorates literals with casts: 'x'::character varying, '0'::numeric.
    let literal = match raw.split_once("::") {
        Some((literal, _cast)) => literal.trim(),
        None => raw,
    };
    let unquoted = literal
        .strip_prefix('\'')
        .and_then(|rest| rest.strip_suffix('\''))
        .map(|text| text.replace("''", "'"));
    match ty {
        ColumnType::Boolean => match unquoted
            .as_deref()
            .unwrap_or(literal)
            .to_ascii_lowercase()
            .as_str()
        {
            "true" | "1" | "t" => Some(DefaultValue::Boolean(true)),
            "false" | "0" | "f" => Some(DefaultValue::Boolean(false)),
            _ => None,
        },
        ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt => unquoted
            .as_deref()
            .unwrap_or(literal)
            .trim_matches(['(', ')'])
            .parse::<i64>()
            .ok()
            .map(DefaultValue::Integer),
        ColumnType::Real | ColumnType::Double | ColumnType::Numeric { .. } => {
            let text = unquoted
                .as_deref()
                .unwrap_or(literal)
                .trim_matches(['(', ')']);
            if let Ok(integer) = text.parse::<i64>() {
                Some(DefaultValue::Number(integer.to_string()))
            } else {
                text.parse::<f64>()
                    .ok()
                    .filter(|value| value.is_finite())
                    .map(|value| DefaultValue::Number(format!("{value}")))
            }
        }
        ColumnType::Text
        | ColumnType::Varchar { .. }
        | ColumnType::Char { .. }
        | ColumnType::Citext
        | ColumnType::Uuid
        | ColumnType::Enum => unquoted.map(DefaultValue::Text),
        _ => None,
    }
}

/// A description written from a live database, and what the user should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspection {
    /// The description file's text.
    pub text: String,
    /// One line per construct the description serves differently from the database
    /// (`table.column: type — what happens`), for standard error.
    pub notices: Vec<String>,
}

/// Whether a column default as the catalogs spell it is `NULL` (`NULL`, `(NULL)`, PostgreSQL's
/// `NULL::numeric`): no default, since a row written without the column holds NULL either way.
pub(super) fn is_null_default(value: &str) -> bool {
    let value = value.trim().trim_start_matches('(').trim_end_matches(')');
    let value = value.split("::").next().unwrap_or_default().trim();
    value.eq_ignore_ascii_case("null")
}

/// Removes the last columns of `table` past the widest table the generated code compiles,
/// keeping its keys, unique sets, the version column and any column another table references;
/// the names removed, in table order.
fn leave_out_past_the_widest(
    table: &LiveTable,
    live: &[LiveTable],
    version_column: &str,
    columns: &mut Vec<DescribedColumn>,
) -> Vec<String> {
    let kept = |name: &str| {
        table.primary_key.iter().any(|key| key == name)
            || table.unique.iter().flatten().any(|column| column == name)
            || name == version_column
            || live
                .iter()
                .flat_map(|other| &other.foreign_keys)
                .any(|key| key.references_table == table.name && key.references_column == name)
    };
    let mut excess = columns
        .len()
        .saturating_sub(tenantapi_schema::MAX_TABLE_COLUMNS);
    let mut left_out = Vec::new();
    for index in (0..columns.len()).rev() {
        if excess == 0 {
            break;
        }
        if !kept(&columns[index].name) {
            left_out.push(columns.remove(index).name);
            excess -= 1;
        }
    }
    left_out.reverse();
    left_out
}

/// One live column as the description says it, noting what it cannot say; `Err` with its
/// `ignore_columns` entry when `--skip-unsupported` leaves it out.
fn describe_column(
    table: &LiveTable,
    column: &LiveColumn,
    skip_unsupported: bool,
    notices: &mut Vec<String>,
    enums: &mut Vec<EnumType>,
) -> Result<DescribedColumn, (String, Option<String>)> {
    let (ty, database_type) = match &column.ty {
        Ok(ty) => (*ty, None),
        Err(_) if skip_unsupported => {
            notices.push(format!(
                "{}.{}: {} — left out (ignore_columns)",
                table.name, column.name, column.live_type
            ));
            return Err((
                column.name.clone(),
                Some(format!("type {} has no description type", column.live_type)),
            ));
        }
        Err(_) => {
            notices.push(format!(
                "{}.{}: {} — served read-only as its text form; leave it out with \
                 --skip-unsupported",
                table.name, column.name, column.live_type
            ));
            (ColumnType::Text, Some(column.live_type.clone()))
        }
    };
    let mut notes = Vec::new();
    let default = match &column.default {
        _ if database_type.is_some() || column.generated.is_some() => None,
        Some(raw) if column.array => {
            let empty = ["'{}'", "'[]'", "array[]", "'{}'::"]
                .iter()
                .any(|form| raw.to_ascii_lowercase().starts_with(form));
            if !empty {
                notes.push(format!(
                    "default {raw} cannot be expressed; creates must send this column"
                ));
            }
            empty.then_some(DefaultValue::EmptyList)
        }
        Some(_) if matches!(ty, ColumnType::Serial | ColumnType::BigSerial) => None,
        Some(raw) => {
            let described = description_default(raw, ty);
            if described.is_none() {
                notes.push(format!(
                    "default {raw} cannot be expressed; creates must send this column"
                ));
            }
            described
        }
        None => None,
    };
    let key = table
        .foreign_keys
        .iter()
        .find(|key| key.column == column.name);
    let on_delete = match key.map(|key| key.on_delete.as_str()) {
        None => OnDelete::NoAction,
        Some(word) => OnDelete::from_word(word).unwrap_or_else(|| {
            notes.push(format!(
                "on delete {word} cannot be expressed; the description says no_action"
            ));
            OnDelete::NoAction
        }),
    };
    if on_delete.writes_the_column() && !column.nullable {
        let note = format!(
            "on delete {} into a column that may not be null: deleting a referenced {} \
             row fails (the API answers 400 naming this table), as in the database",
            on_delete.word(),
            key.map_or("", |key| key.references_table.as_str())
        );
        notices.push(format!("{}.{}: {note}", table.name, column.name));
        notes.push(note);
    }
    if let Some(live) = &column.enum_type
        && !enums
            .iter()
            .any(|named: &EnumType| named.sql_name == live.name)
    {
        enums.push(EnumType {
            sql_name: live.name.clone(),
            doc: None,
            values: live.values.clone(),
        });
    }
    Ok(DescribedColumn {
        name: column.name.clone(),
        doc: None,
        rust_name: None,
        ty,
        enum_type: column.enum_type.as_ref().map(|live| live.name.clone()),
        array: column.array,
        // Implied by `database_type`, but said where a reader looks.
        read_only: database_type.is_some(),
        generated: column.generated.clone(),
        domain: column.domain.clone().filter(|_| database_type.is_none()),
        database_type,
        // Whatever its columns' types say, a view's query (an outer join) may yield
        // NULL in any of them.
        nullable: column.nullable || table.kind != RelationKind::Table,
        default,
        references: key.map(|key| (key.references_table.clone(), key.references_column.clone())),
        on_delete,
        notes,
    })
}

/// A description of `live` in the format of `schema/project.toml`.
///
/// Columns of types the format cannot express (`tsvector`, `interval`...) are served
/// read-only as the database's text form (`database_type`), each with a notice; with
/// `skip_unsupported` they are left out through `ignore_columns` instead, with a comment each.
/// Views get the list route in the order of all their columns, as `ordering` says. What cannot
/// be served at all (a table without columns) is an error listing every such construct.
pub fn render_description(
    live: &[LiveTable],
    version: &str,
    version_table: &str,
    version_column: &str,
    postgres_schema: Option<&str>,
    skip_unsupported: bool,
) -> Result<Introspection, String> {
    let mut unsupported = Vec::new();
    for table in live.iter().filter(|table| table.columns.is_empty()) {
        unsupported.push(format!(
            "{}: a table without columns — add a column, or drop the table",
            table.name
        ));
    }
    if !unsupported.is_empty() {
        return Err(format!(
            "{} construct(s) cannot be served:\n{}",
            unsupported.len(),
            unsupported.join("\n")
        ));
    }
    let mut notices = Vec::new();
    let mut tables = Vec::new();
    let mut enums: Vec<EnumType> = Vec::new();
    for table in live {
        let mut columns = Vec::new();
        let mut ignored_columns = Vec::new();
        for column in &table.columns {
            match describe_column(table, column, skip_unsupported, &mut notices, &mut enums) {
                Ok(described) => columns.push(described),
                Err(left_out) => ignored_columns.push(left_out),
            }
        }
        let mut notes = Vec::new();
        if table.partitions > 0 {
            notes.push(format!(
                "partitioned: its {} partition(s) are read and written through it, not served on their own",
                table.partitions
            ));
        }
        match table.kind {
            RelationKind::View => notes.push("a view: served read-only".into()),
            RelationKind::MaterializedView => {
                notes.push("a materialized view: served read-only".into());
                if !table.populated {
                    notices.push(format!(
                        "{0}: a materialized view that holds no data yet (WITH NO DATA) — its \
                         list answers 503 until the database runs REFRESH MATERIALIZED VIEW {0}",
                        table.name
                    ));
                }
            }
            RelationKind::Table if table.primary_key.is_empty() => {
                notes.push("no primary key: served read-only, as a list only".into())
            }
            RelationKind::Table => {}
        }
        if columns.len() > tenantapi_schema::MAX_TABLE_COLUMNS {
            let left_out = leave_out_past_the_widest(table, live, version_column, &mut columns);
            notices.push(format!(
                "{}: {} columns, more than the {} a description holds (PostgreSQL's limit) — \
                 served without {} (ignore_columns; the keys and referenced columns kept)",
                table.name,
                columns.len() + left_out.len(),
                tenantapi_schema::MAX_TABLE_COLUMNS,
                left_out.join(", ")
            ));
            ignored_columns.extend(left_out.into_iter().map(|name| {
                (
                    name,
                    Some(format!(
                        "a description holds at most {} columns in a table (PostgreSQL's limit)",
                        tenantapi_schema::MAX_TABLE_COLUMNS
                    )),
                )
            }));
        }
        // Without a key, rows are told apart by all their columns: a stable order for pages.
        let ordering: Vec<String> = if table.primary_key.is_empty() {
            columns
                .iter()
                .filter(|column| column.database_type.is_none() && column.ty != ColumnType::Json)
                .map(|column| column.name.clone())
                .collect()
        } else {
            Vec::new()
        };
        let Some(first) = columns.first() else {
            // --skip-unsupported left nothing to serve.
            notices.push(format!(
                "{}: every column left out — the table is not described",
                table.name
            ));
            continue;
        };
        if table.primary_key.is_empty() && ordering.is_empty() {
            // Pagila-like views of one unbounded sum: still served, in the database's order
            // of the first column (what the API falls back to without `ordering`).
            notes.push(format!(
                "no column the description can order by: lists follow {} as the database \
                 orders it",
                first.name
            ));
        }
        tables.push(DescribedTable {
            search: Vec::new(),
            name: table.name.clone(),
            doc: None,
            rust_name: None,
            postgres_schema: table.schema.clone(),
            read_only: table.primary_key.is_empty()
                || table.name == version_table
                || table.kind != RelationKind::Table,
            primary_key: table.primary_key.clone(),
            unique: table.unique.clone(),
            ordering,
            ignored_columns,
            notes,
            columns,
        });
    }
    if !unsupported.is_empty() {
        return Err(format!(
            "{} construct(s) cannot be served:\n{}",
            unsupported.len(),
            unsupported.join("\n")
        ));
    }
    give_distinct_rust_names(&mut tables);
    let description = Description {
        header: vec![
            "Written by `tenantapi introspect` from a live reference database. Review it, add `doc`".into(),
            "text where useful, then run `cargo xtask gen`.".into(),
        ],
        version: version.to_string(),
        version_source: VersionSource {
            table: version_table.to_string(),
            column: version_column.to_string(),
        },
        postgres_schema: postgres_schema
            .filter(|name| *name != "public")
            .map(str::to_string),
        enums,
        tables,
    };
    Ok(Introspection {
        text: description.to_toml(),
        notices,
    })
}
/// Rust names derived from different SQL names can meet (`Order ID` and `order_id`, `a-b`
/// and `a_b`), which `gen` refuses: the later of two gets a `rust_name` with a number, so that
/// what introspection writes generates.
fn give_distinct_rust_names(tables: &mut [DescribedTable]) {
    let table_names = distinct_rust_names(
        tables.iter().map(|table| table.name.as_str()),
        tenantapi_schema::names::rust_ident_for_sql_name,
    );
    for (table, rust_name) in tables.iter_mut().zip(table_names) {
        let table_rust_name = rust_name
            .clone()
            .unwrap_or_else(|| tenantapi_schema::names::rust_ident_for_sql_name(&table.name));
        table.rust_name = rust_name;
        let column_names = distinct_rust_names(
            table.columns.iter().map(|column| column.name.as_str()),
            |name| tenantapi_schema::names::column_rust_ident_for_sql_name(name, &table_rust_name),
        );
        for (column, rust_name) in table.columns.iter_mut().zip(column_names) {
            column.rust_name = rust_name;
        }
    }
}

/// For each name, `None` when its derived Rust name is its own, else a free numbered one.
fn distinct_rust_names<'a>(
    names: impl Iterator<Item = &'a str>,
    derive: impl Fn(&str) -> String,
) -> Vec<Option<String>> {
    let derived: Vec<String> = names.map(derive).collect();
    let mut taken = std::collections::HashSet::new();
    derived
        .iter()
        .map(|base| {
            if taken.insert(base.clone()) {
                return None;
            }
            let stem = base.trim_end_matches('_');
            let chosen = (2..)
                .map(|number| format!("{stem}_{number}"))
                .find(|candidate| !derived.contains(candidate) && !taken.contains(candidate))
                .expect("a free number");
            taken.insert(chosen.clone());
            Some(chosen)
        })
        .collect()
}
