//! The structure of a live project database (PostgreSQL catalogs in `postgres.rs`, SQLite
//! pragmas in `sqlite.rs`), for drift detection (`drift.rs`, `check --structure`) and for writing
//! a description from a live reference database (`introspect`, through the description
//! format's own writer).

mod drift;
mod postgres;
mod sqlite;

use diesel::sql_types::Text;
use tenantapi_runtime::db::DbConnection;
use tenantapi_schema::model::{ColumnType, DefaultValue, EnumType, OnDelete, VersionSource};
use tenantapi_schema::write::{DescribedColumn, DescribedTable, Description};

pub use drift::drift;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveColumn {
    pub name: String,
    /// The portable type, or the database's own spelling when it has none.
    pub ty: Result<ColumnType, String>,
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
    pub columns: Vec<LiveColumn>,
    pub primary_key: Vec<String>,
    /// Unique constraints other than the primary key.
    pub unique: Vec<Vec<String>>,
    pub foreign_keys: Vec<LiveForeignKey>,
    /// PostgreSQL partitions of this table: not resources of their own, read through it.
    pub partitions: usize,
}

#[derive(diesel::QueryableByName)]
pub(crate) struct Name {
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
}

/// Every table (and view) of the database, sorted by name.
pub fn live_structure(
    connection: &mut DbConnection,
) -> Result<Vec<LiveTable>, diesel::result::Error> {
    match connection {
        DbConnection::Pg(_) => postgres::structure(connection),
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
        ColumnType::Text | ColumnType::Varchar { .. } | ColumnType::Uuid | ColumnType::Enum => {
            unquoted.map(DefaultValue::Text)
        }
        _ => None,
    }
}

/// What to do about a column whose type the description format cannot express.
fn unsupported_advice(database_type: &str) -> String {
    format!(
        "{database_type} cannot be described; leave the column out with `ignore_columns` (what \
         `--skip-unsupported` writes), or change its type in the database"
    )
}

/// A description of `live` in the format of `schema/project.toml`. Columns whose type the
/// format cannot express are an error listing every one of them (`table.column: type — what
/// to do`, one per line), or with `skip_unsupported` are left out through `ignore_columns`,
/// each with a comment saying why.
pub fn render_description(
    live: &[LiveTable],
    version: &str,
    version_table: &str,
    version_column: &str,
    skip_unsupported: bool,
) -> Result<String, String> {
    let mut unsupported = Vec::new();
    for table in live {
        for column in &table.columns {
            if let Err(database_type) = &column.ty {
                unsupported.push(format!(
                    "{}.{}: {database_type} — {}",
                    table.name,
                    column.name,
                    unsupported_advice(database_type)
                ));
            }
        }
    }
    if !unsupported.is_empty() && !skip_unsupported {
        return Err(format!(
            "{} column(s) cannot be described (run with --skip-unsupported to leave them out):\n{}",
            unsupported.len(),
            unsupported.join("\n")
        ));
    }
    let mut tables = Vec::new();
    let mut enums: Vec<EnumType> = Vec::new();
    for table in live {
        let mut columns = Vec::new();
        let mut ignored_columns = Vec::new();
        for column in &table.columns {
            let ty = match &column.ty {
                Ok(ty) => *ty,
                Err(database_type) => {
                    ignored_columns.push((
                        column.name.clone(),
                        Some(format!("type {database_type} cannot be described")),
                    ));
                    continue;
                }
            };
            let mut notes = Vec::new();
            let default = match &column.default {
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
                None | Some("no_action") => OnDelete::NoAction,
                Some("restrict") => OnDelete::Restrict,
                Some("cascade") => OnDelete::Cascade,
                Some("set_null") => OnDelete::SetNull,
                Some(other) => {
                    notes.push(format!(
                        "on delete {other} cannot be expressed; the description says no_action"
                    ));
                    OnDelete::NoAction
                }
            };
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
            columns.push(DescribedColumn {
                name: column.name.clone(),
                doc: None,
                rust_name: None,
                ty,
                enum_type: column.enum_type.as_ref().map(|live| live.name.clone()),
                nullable: column.nullable,
                default,
                references: key
                    .map(|key| (key.references_table.clone(), key.references_column.clone())),
                on_delete,
                notes,
            });
        }
        tables.push(DescribedTable {
            name: table.name.clone(),
            doc: None,
            rust_name: None,
            read_only: table.primary_key.is_empty() || table.name == version_table,
            primary_key: table.primary_key.clone(),
            unique: table.unique.clone(),
            ignored_columns,
            notes: match table.partitions {
                0 => Vec::new(),
                count => vec![format!(
                    "partitioned: its {count} partition(s) are read and written through it, not served on their own"
                )],
            },
            columns,
        });
    }
    Ok(Description {
        header: vec![
            "Written by `tenantapi introspect` from a live reference database. Review it, add `doc`".into(),
            "text where useful, then run `cargo xtask gen`.".into(),
        ],
        version: version.to_string(),
        version_source: VersionSource {
            table: version_table.to_string(),
            column: version_column.to_string(),
        },
        enums,
        tables,
    }
    .to_toml())
}
