//! Reads the structure of a live project database (PostgreSQL catalogs, SQLite pragmas), for
//! drift detection (`check --structure`) and for writing a description from a live reference
//! database (`introspect`).

use std::collections::BTreeSet;

use diesel::RunQueryDsl as _;
use diesel::sql_types::{Bool, Integer, Nullable, Text};
use tenantapi_runtime::db::DbConnection;
use tenantapi_runtime::meta::{ColumnKind, TableMeta};
use tenantapi_schema::model::ColumnType;

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
}

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(diesel::QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    udt_name: String,
    #[diesel(sql_type = Nullable<Integer>)]
    max_length: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    precision: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    scale: Option<i32>,
    #[diesel(sql_type = Bool)]
    nullable: bool,
    #[diesel(sql_type = Nullable<Text>)]
    column_default: Option<String>,
}

#[derive(diesel::QueryableByName)]
struct PgKey {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    constraint_name: String,
    #[diesel(sql_type = Text)]
    constraint_type: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(diesel::QueryableByName)]
struct PgForeignKey {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    ref_table: String,
    #[diesel(sql_type = Text)]
    ref_column: String,
    #[diesel(sql_type = Text)]
    delete_rule: String,
}

#[derive(diesel::QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    declared_type: String,
    #[diesel(sql_type = Bool)]
    not_null: bool,
    #[diesel(sql_type = Nullable<Text>)]
    default_value: Option<String>,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

#[derive(diesel::QueryableByName)]
struct SqliteIndexColumn {
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Text)]
    origin: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(diesel::QueryableByName)]
struct SqliteForeignKey {
    #[diesel(sql_type = Integer)]
    id: i32,
    #[diesel(sql_type = Text)]
    ref_table: String,
    #[diesel(sql_type = Text)]
    from_column: String,
    #[diesel(sql_type = Nullable<Text>)]
    to_column: Option<String>,
    #[diesel(sql_type = Text)]
    on_delete: String,
}

/// Every table (and view) of the database, sorted by name.
pub fn live_structure(
    connection: &mut DbConnection,
) -> Result<Vec<LiveTable>, diesel::result::Error> {
    match connection {
        DbConnection::Pg(_) => postgres_structure(connection),
        DbConnection::Sqlite(_) => sqlite_structure(connection),
    }
}

fn postgres_type(column: &PgColumn) -> Result<ColumnType, String> {
    let serial = column
        .column_default
        .as_deref()
        .is_some_and(|default| default.starts_with("nextval("));
    Ok(match (column.udt_name.as_str(), serial) {
        ("int2", _) => ColumnType::SmallInt,
        ("int4", true) => ColumnType::Serial,
        ("int4", false) => ColumnType::Integer,
        ("int8", true) => ColumnType::BigSerial,
        ("int8", false) => ColumnType::BigInt,
        ("bool", _) => ColumnType::Boolean,
        ("float4", _) => ColumnType::Real,
        ("float8", _) => ColumnType::Double,
        ("numeric", _) => match (column.precision, column.scale) {
            (Some(precision), Some(scale)) => ColumnType::Numeric {
                precision: precision as u32,
                scale: scale as u32,
            },
            _ => return Err("numeric (without precision)".into()),
        },
        ("text", _) => ColumnType::Text,
        ("varchar", _) => match column.max_length {
            Some(max_length) => ColumnType::Varchar {
                max_length: max_length as u32,
            },
            None => ColumnType::Text,
        },
        ("date", _) => ColumnType::Date,
        ("time", _) => ColumnType::Time,
        ("timestamp", _) => ColumnType::Timestamp,
        ("timestamptz", _) => ColumnType::Timestamptz,
        ("uuid", _) => ColumnType::Uuid,
        ("json" | "jsonb", _) => ColumnType::Json,
        ("bytea", _) => ColumnType::Bytes,
        (other, _) => return Err(other.to_string()),
    })
}

fn postgres_structure(
    connection: &mut DbConnection,
) -> Result<Vec<LiveTable>, diesel::result::Error> {
    let names: Vec<Name> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type IN ('BASE TABLE', 'VIEW') ORDER BY table_name",
    )
    .load(connection)?;
    let columns: Vec<PgColumn> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, udt_name::text, character_maximum_length::int AS max_length, \
         numeric_precision::int AS precision, numeric_scale::int AS scale, is_nullable = 'YES' AS nullable, \
         column_default::text FROM information_schema.columns WHERE table_schema = current_schema() \
         ORDER BY table_name, ordinal_position",
    )
    .load(connection)?;
    let keys: Vec<PgKey> = diesel::sql_query(
        "SELECT tc.table_name::text, tc.constraint_name::text, tc.constraint_type::text, kcu.column_name::text \
         FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu \
         ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema AND tc.table_name = kcu.table_name \
         WHERE tc.table_schema = current_schema() AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') \
         ORDER BY tc.table_name, tc.constraint_name, kcu.ordinal_position",
    )
    .load(connection)?;
    let foreign_keys: Vec<PgForeignKey> = diesel::sql_query(
        "SELECT cl.relname::text AS table_name, att.attname::text AS column_name, rcl.relname::text AS ref_table, \
         ratt.attname::text AS ref_column, con.confdeltype::text AS delete_rule FROM pg_constraint con \
         JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_namespace ns ON ns.oid = cl.relnamespace \
         JOIN pg_class rcl ON rcl.oid = con.confrelid \
         JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1] \
         JOIN pg_attribute ratt ON ratt.attrelid = con.confrelid AND ratt.attnum = con.confkey[1] \
         WHERE con.contype = 'f' AND ns.nspname = current_schema() AND array_length(con.conkey, 1) = 1 \
         ORDER BY cl.relname, att.attnum",
    )
    .load(connection)?;
    let mut tables = Vec::new();
    for Name { name } in names {
        let mut table = LiveTable {
            name: name.clone(),
            columns: Vec::new(),
            primary_key: Vec::new(),
            unique: Vec::new(),
            foreign_keys: Vec::new(),
        };
        for column in columns.iter().filter(|column| column.table_name == name) {
            table.columns.push(LiveColumn {
                name: column.column_name.clone(),
                ty: postgres_type(column),
                nullable: column.nullable,
                default: column
                    .column_default
                    .clone()
                    .filter(|default| !default.starts_with("nextval(")),
                sqlite_rowid_key: false,
            });
        }
        let mut constraint_names: Vec<&str> = Vec::new();
        for key in keys.iter().filter(|key| key.table_name == name) {
            if !constraint_names.contains(&key.constraint_name.as_str()) {
                constraint_names.push(&key.constraint_name);
            }
        }
        for constraint in constraint_names {
            let members: Vec<&PgKey> = keys
                .iter()
                .filter(|key| key.table_name == name && key.constraint_name == constraint)
                .collect();
            let columns: Vec<String> = members.iter().map(|key| key.column_name.clone()).collect();
            if members[0].constraint_type == "PRIMARY KEY" {
                table.primary_key = columns;
            } else {
                table.unique.push(columns);
            }
        }
        for key in foreign_keys.iter().filter(|key| key.table_name == name) {
            table.foreign_keys.push(LiveForeignKey {
                column: key.column_name.clone(),
                references_table: key.ref_table.clone(),
                references_column: key.ref_column.clone(),
                on_delete: match key.delete_rule.as_str() {
                    "a" => "no_action",
                    "r" => "restrict",
                    "c" => "cascade",
                    "n" => "set_null",
                    "d" => "set_default",
                    _ => "unknown",
                }
                .into(),
            });
        }
        tables.push(table);
    }
    Ok(tables)
}

/// Our SQLite DDL's declared types, read back; other spellings by SQLite's affinity words.
fn sqlite_type(declared: &str, autoincrement_key: bool) -> Result<ColumnType, String> {
    let upper = declared.trim().to_ascii_uppercase();
    let parameters = |text: &str| -> Option<Vec<u32>> {
        let inner = text.split_once('(')?.1.strip_suffix(')')?;
        inner
            .split(',')
            .map(|part| part.trim().parse().ok())
            .collect()
    };
    Ok(match upper.as_str() {
        "INTEGER" if autoincrement_key => ColumnType::Serial,
        "SMALLINT" => ColumnType::SmallInt,
        "INTEGER" | "INT" => ColumnType::Integer,
        "BIGINT" => ColumnType::BigInt,
        "BOOLEAN" => ColumnType::Boolean,
        "REAL" => ColumnType::Real,
        "DOUBLE PRECISION" | "DOUBLE" => ColumnType::Double,
        "TEXT" => ColumnType::Text,
        "DATE" => ColumnType::Date,
        "TIME" => ColumnType::Time,
        "TIMESTAMP" => ColumnType::Timestamp,
        "TIMESTAMPTZ" => ColumnType::Timestamptz,
        "UUID" => ColumnType::Uuid,
        "JSON TEXT" | "JSON" | "JSONB" => ColumnType::Json,
        "BLOB" => ColumnType::Bytes,
        varchar if varchar.starts_with("VARCHAR(") => match parameters(varchar).as_deref() {
            Some([max_length]) => ColumnType::Varchar {
                max_length: *max_length,
            },
            _ => return Err(declared.to_string()),
        },
        numeric if numeric.starts_with("NUMERIC(") || numeric.starts_with("DECIMAL(") => {
            match parameters(numeric).as_deref() {
                Some([precision, scale]) => ColumnType::Numeric {
                    precision: *precision,
                    scale: *scale,
                },
                _ => return Err(declared.to_string()),
            }
        }
        _ => return Err(declared.to_string()),
    })
}

fn sqlite_structure(
    connection: &mut DbConnection,
) -> Result<Vec<LiveTable>, diesel::result::Error> {
    let names: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .load(connection)?;
    let mut tables = Vec::new();
    for Name { name } in names {
        let autoincrement: Vec<Name> = diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE name = ? AND upper(sql) LIKE '%AUTOINCREMENT%'",
        )
        .bind::<Text, _>(&name)
        .load(connection)?;
        let columns: Vec<SqliteColumn> = diesel::sql_query(
            "SELECT name, type AS declared_type, \"notnull\" AS not_null, dflt_value AS default_value, pk FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind::<Text, _>(&name)
        .load(connection)?;
        let mut primary_key: Vec<(i32, String)> = columns
            .iter()
            .filter(|column| column.pk > 0)
            .map(|column| (column.pk, column.name.clone()))
            .collect();
        primary_key.sort();
        let single_integer_key = primary_key.len() == 1;
        let mut table = LiveTable {
            name: name.clone(),
            columns: columns
                .iter()
                .map(|column| {
                    let rowid_key =
                        single_integer_key && column.pk == 1 && !autoincrement.is_empty();
                    LiveColumn {
                        name: column.name.clone(),
                        ty: sqlite_type(&column.declared_type, rowid_key),
                        // An INTEGER PRIMARY KEY can never be NULL, whatever it declares.
                        nullable: !column.not_null && column.pk == 0,
                        default: column.default_value.clone(),
                        sqlite_rowid_key: rowid_key,
                    }
                })
                .collect(),
            primary_key: primary_key.into_iter().map(|(_, column)| column).collect(),
            unique: Vec::new(),
            foreign_keys: Vec::new(),
        };
        let index_columns: Vec<SqliteIndexColumn> = diesel::sql_query(
            "SELECT il.name AS index_name, il.origin AS origin, ii.name AS column_name \
             FROM pragma_index_list(?) AS il, pragma_index_info(il.name) AS ii \
             WHERE il.\"unique\" = 1 ORDER BY il.name, ii.seqno",
        )
        .bind::<Text, _>(&name)
        .load(connection)?;
        let mut index_names: Vec<&str> = Vec::new();
        for column in &index_columns {
            if column.origin == "u" && !index_names.contains(&column.index_name.as_str()) {
                index_names.push(&column.index_name);
            }
        }
        for index in index_names {
            table.unique.push(
                index_columns
                    .iter()
                    .filter(|column| column.index_name == index)
                    .map(|column| column.column_name.clone())
                    .collect(),
            );
        }
        let foreign_keys: Vec<SqliteForeignKey> = diesel::sql_query(
            "SELECT id, \"table\" AS ref_table, \"from\" AS from_column, \"to\" AS to_column, on_delete \
             FROM pragma_foreign_key_list(?) ORDER BY id, seq",
        )
        .bind::<Text, _>(&name)
        .load(connection)?;
        for key in &foreign_keys {
            // Composite foreign keys are outside the description format.
            if foreign_keys
                .iter()
                .filter(|other| other.id == key.id)
                .count()
                != 1
            {
                continue;
            }
            table.foreign_keys.push(LiveForeignKey {
                column: key.from_column.clone(),
                references_table: key.ref_table.clone(),
                references_column: key.to_column.clone().unwrap_or_default(),
                on_delete: key.on_delete.to_ascii_lowercase().replace(' ', "_"),
            });
        }
        tables.push(table);
    }
    Ok(tables)
}

/// Differences between a live database and the structure the code was generated from, one
/// line each: missing and extra tables and columns, types, nullability, defaults (present or
/// not), foreign keys, primary keys and uniques.
pub fn drift(live: &[LiveTable], described: &[&TableMeta]) -> Vec<String> {
    let mut lines = Vec::new();
    for meta in described {
        let Some(table) = live.iter().find(|table| table.name == meta.name) else {
            lines.push(format!("missing table {}", meta.name));
            continue;
        };
        for column in meta.columns {
            let Some(found) = table.columns.iter().find(|found| found.name == column.name) else {
                lines.push(format!(
                    "table {}: missing column {}",
                    meta.name, column.name
                ));
                continue;
            };
            let integer_key_kinds = [ColumnKind::Integer, ColumnKind::BigInt];
            match &found.ty {
                Ok(ty) if ty.kind() == column.kind => {}
                Ok(_) if found.sqlite_rowid_key && integer_key_kinds.contains(&column.kind) => {}
                Ok(ty) => lines.push(format!(
                    "table {}: column {}: type {}, expected {}",
                    meta.name,
                    column.name,
                    ty.spelling(),
                    column.kind.spelling()
                )),
                Err(other) => lines.push(format!(
                    "table {}: column {}: type {other}, expected {}",
                    meta.name,
                    column.name,
                    column.kind.spelling()
                )),
            }
            if found.nullable != column.nullable {
                let (is, expected) = if found.nullable {
                    ("nullable", "NOT NULL")
                } else {
                    ("NOT NULL", "nullable")
                };
                lines.push(format!(
                    "table {}: column {}: {is}, expected {expected}",
                    meta.name, column.name
                ));
            }
        }
        for (index, column) in meta.columns.iter().enumerate() {
            let Some(found) = table.columns.iter().find(|found| found.name == column.name) else {
                continue;
            };
            // Generated keys have the sequence (or rowid) as their default, which is not one.
            let has_default = found.default.is_some() && !column.generated;
            if column.has_default && !has_default && !column.generated {
                lines.push(format!(
                    "table {}: column {}: no default, expected one",
                    meta.name, column.name
                ));
            }
            if !column.has_default && has_default {
                lines.push(format!(
                    "table {}: column {}: has a default, expected none",
                    meta.name, column.name
                ));
            }
            let expected_key = meta.foreign_keys.iter().find(|key| key.column == index);
            let found_key = table
                .foreign_keys
                .iter()
                .find(|key| key.column == column.name);
            match (expected_key, found_key) {
                (Some(expected), Some(found))
                    if expected.references_table == found.references_table
                        && expected.references_column == found.references_column
                        && expected.on_delete == found.on_delete => {}
                (Some(expected), Some(found)) => lines.push(format!(
                    "table {}: column {}: references {}.{} on delete {}, expected {}.{} on delete {}",
                    meta.name,
                    column.name,
                    found.references_table,
                    found.references_column,
                    found.on_delete,
                    expected.references_table,
                    expected.references_column,
                    expected.on_delete
                )),
                (Some(expected), None) => lines.push(format!(
                    "table {}: column {}: missing foreign key to {}.{}",
                    meta.name, column.name, expected.references_table, expected.references_column
                )),
                (None, Some(found)) => lines.push(format!(
                    "table {}: column {}: extra foreign key to {}.{}",
                    meta.name, column.name, found.references_table, found.references_column
                )),
                (None, None) => {}
            }
        }
        for extra in table
            .columns
            .iter()
            .filter(|found| meta.column(&found.name).is_none())
        {
            lines.push(format!("table {}: extra column {}", meta.name, extra.name));
        }
        let expected_key: Vec<&str> = meta
            .primary_key_columns()
            .map(|column| column.name)
            .collect();
        if !expected_key.is_empty() && table.primary_key != expected_key {
            lines.push(format!(
                "table {}: primary key ({}), expected ({})",
                meta.name,
                table.primary_key.join(", "),
                expected_key.join(", ")
            ));
        }
        let as_sets = |sets: Vec<Vec<String>>| -> BTreeSet<BTreeSet<String>> {
            sets.into_iter()
                .map(|set| set.into_iter().collect())
                .collect()
        };
        let expected_unique = as_sets(
            meta.unique
                .iter()
                .map(|set| {
                    set.iter()
                        .map(|&index| meta.columns[index].name.to_string())
                        .collect()
                })
                .collect(),
        );
        let found_unique = as_sets(table.unique.clone());
        for missing in expected_unique.difference(&found_unique) {
            lines.push(format!(
                "table {}: missing unique ({})",
                meta.name,
                missing.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        for extra in found_unique.difference(&expected_unique) {
            lines.push(format!(
                "table {}: extra unique ({})",
                meta.name,
                extra.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    for table in live
        .iter()
        .filter(|table| described.iter().all(|meta| meta.name != table.name))
    {
        lines.push(format!("extra table {}", table.name));
    }
    lines
}

/// A live default as the description file writes it (`"now"`, a number, a string, a boolean),
/// or `None` when the description format cannot express it.
fn description_default(raw: &str, ty: ColumnType) -> Option<toml::Value> {
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
        return Some(toml::Value::String("now".into()));
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
            "true" | "1" | "t" => Some(toml::Value::Boolean(true)),
            "false" | "0" | "f" => Some(toml::Value::Boolean(false)),
            _ => None,
        },
        ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt => unquoted
            .as_deref()
            .unwrap_or(literal)
            .trim_matches(['(', ')'])
            .parse::<i64>()
            .ok()
            .map(toml::Value::Integer),
        ColumnType::Real | ColumnType::Double | ColumnType::Numeric { .. } => {
            let text = unquoted
                .as_deref()
                .unwrap_or(literal)
                .trim_matches(['(', ')']);
            if let Ok(integer) = text.parse::<i64>() {
                Some(toml::Value::Integer(integer))
            } else {
                text.parse::<f64>()
                    .ok()
                    .filter(|value| value.is_finite())
                    .map(toml::Value::Float)
            }
        }
        ColumnType::Text | ColumnType::Varchar { .. } | ColumnType::Uuid => {
            unquoted.map(toml::Value::String)
        }
        _ => None,
    }
}

/// Writes a description of `live` in the format of `schema/project.toml`.
pub fn render_description(
    live: &[LiveTable],
    version: &str,
    version_table: &str,
    version_column: &str,
) -> Result<String, String> {
    use std::fmt::Write as _;
    let quote = |text: &str| toml::Value::String(text.to_string()).to_string();
    let mut out = String::new();
    out.push_str("# Written by `tenantapi introspect` from a live reference database. Review it, add `doc`\n");
    out.push_str("# text where useful, then run `cargo xtask gen`.\n\n");
    writeln!(out, "version = {}", quote(version)).unwrap();
    writeln!(
        out,
        "\n[version_source]\ntable = {}\ncolumn = {}",
        quote(version_table),
        quote(version_column)
    )
    .unwrap();
    for table in live {
        writeln!(out, "\n[[table]]\nname = {}", quote(&table.name)).unwrap();
        if table.primary_key.is_empty() || table.name == version_table {
            out.push_str("read_only = true\n");
        }
        if table.primary_key.len() > 1 {
            let columns: Vec<String> = table
                .primary_key
                .iter()
                .map(|column| quote(column))
                .collect();
            writeln!(out, "primary_key = [{}]", columns.join(", ")).unwrap();
        }
        let multi_unique: Vec<String> = table
            .unique
            .iter()
            .filter(|set| set.len() > 1)
            .map(|set| {
                format!(
                    "[{}]",
                    set.iter()
                        .map(|column| quote(column))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        if !multi_unique.is_empty() {
            writeln!(out, "unique = [{}]", multi_unique.join(", ")).unwrap();
        }
        for column in &table.columns {
            let ty = column
                .ty
                .clone()
                .map_err(|other| format!("table {}: column {} has type {other}, which the description format cannot express", table.name, column.name))?;
            writeln!(
                out,
                "\n[[table.column]]\nname = {}\ntype = {}",
                quote(&column.name),
                quote(&ty.spelling())
            )
            .unwrap();
            if column.nullable {
                out.push_str("nullable = true\n");
            }
            if table.primary_key.len() == 1 && table.primary_key[0] == column.name {
                out.push_str("primary_key = true\n");
            }
            if table
                .unique
                .iter()
                .any(|set| set.len() == 1 && set[0] == column.name)
            {
                out.push_str("unique = true\n");
            }
            if let Some(raw) = &column.default
                && !matches!(ty, ColumnType::Serial | ColumnType::BigSerial)
            {
                match description_default(raw, ty) {
                    Some(value) => writeln!(out, "default = {value}").unwrap(),
                    None => writeln!(
                        out,
                        "# default {raw} cannot be expressed; creates must send this column"
                    )
                    .unwrap(),
                }
            }
            if let Some(key) = table
                .foreign_keys
                .iter()
                .find(|key| key.column == column.name)
            {
                writeln!(
                    out,
                    "references = {}",
                    quote(&format!(
                        "{}.{}",
                        key.references_table, key.references_column
                    ))
                )
                .unwrap();
                if key.on_delete != "no_action" {
                    writeln!(out, "on_delete = {}", quote(&key.on_delete)).unwrap();
                }
            }
        }
    }
    Ok(out)
}
