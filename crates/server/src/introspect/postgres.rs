//! The live structure of a PostgreSQL database, read from its catalogs.

use diesel::RunQueryDsl as _;
use diesel::sql_types::{Bool, Integer, Nullable, Text};
use tenantapi_runtime::db::DbConnection;
use tenantapi_schema::model::ColumnType;

use super::{LiveColumn, LiveForeignKey, LiveTable, Name};

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
    /// `GENERATED ... AS IDENTITY`: a key the database fills in, like a serial.
    #[diesel(sql_type = Bool)]
    identity: bool,
    /// The column's domain (if it has one) forbids NULL.
    #[diesel(sql_type = Bool)]
    domain_not_null: bool,
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

fn postgres_type(column: &PgColumn) -> Result<ColumnType, String> {
    // Keys defaulting to a sequence (`serial`, or a hand-made `nextval(...)`) and identity
    // columns are all filled in by the database.
    let serial = column.identity
        || column
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

pub(super) fn structure(
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
         column_default::text, is_identity = 'YES' AS identity, \
         COALESCE((SELECT t.typnotnull FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                   WHERE t.typname = c.domain_name AND n.nspname = c.domain_schema), false) AS domain_not_null \
         FROM information_schema.columns c WHERE table_schema = current_schema() \
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
                nullable: column.nullable && !column.domain_not_null,
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
