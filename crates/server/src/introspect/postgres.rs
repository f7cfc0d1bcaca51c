//! The live structure of a PostgreSQL database, read from its catalogs.

use diesel::RunQueryDsl as _;
use diesel::sql_types::{BigInt, Bool, Integer, Nullable, Text};
use tenantapi_runtime::connections::db::DbConnection;
use tenantapi_schema::model::ColumnType;

use super::{LiveColumn, LiveEnum, LiveForeignKey, LiveTable, RelationKind};

#[derive(diesel::QueryableByName)]
struct PgColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    /// The type's name; an array's item type; a domain's base type.
    #[diesel(sql_type = Text)]
    udt_name: String,
    #[diesel(sql_type = BigInt)]
    udt_oid: i64,
    /// `format_type`: the spelling PostgreSQL itself shows (`character varying(20)[]`).
    #[diesel(sql_type = Text)]
    live_type: String,
    #[diesel(sql_type = Bool)]
    is_array: bool,
    /// Declared with several dimensions (`integer[][]`): not a list of scalars.
    #[diesel(sql_type = Bool)]
    multidimensional: bool,
    /// The domain the column is declared with, if any.
    #[diesel(sql_type = Nullable<Text>)]
    domain: Option<String>,
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
    /// `GENERATED ALWAYS AS (...) STORED`: the expression the database computes it from.
    #[diesel(sql_type = Nullable<Text>)]
    generated: Option<String>,
    /// The column's type is an enum (`udt_name` is its name).
    #[diesel(sql_type = Bool)]
    is_enum: bool,
}

#[derive(diesel::QueryableByName)]
struct PgEnumValue {
    #[diesel(sql_type = BigInt)]
    type_oid: i64,
    #[diesel(sql_type = Text)]
    label: String,
}

#[derive(diesel::QueryableByName)]
struct PgRelation {
    #[diesel(sql_type = Text)]
    name: String,
    /// Its schema, unless it is the connection's first.
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    schema: Option<String>,
    /// Partitions of this (partitioned) table, which are not resources of their own.
    #[diesel(sql_type = Integer)]
    partitions: i32,
    /// `r`, `p` (partitioned), `v` or `m`.
    #[diesel(sql_type = Text)]
    relkind: String,
    /// False for a materialized view created `WITH NO DATA` and not refreshed since.
    #[diesel(sql_type = Bool)]
    populated: bool,
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
    if column.is_enum {
        return Ok(ColumnType::Enum);
    }
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
            // DRF's DecimalField needs both; served as text until the description says them.
            _ => return Err(column.live_type.clone()),
        },
        ("text", _) => ColumnType::Text,
        ("varchar", _) => match column.max_length {
            Some(max_length) => ColumnType::Varchar {
                max_length: max_length as u32,
            },
            None => ColumnType::Text,
        },
        // `bpchar` without a length is unbounded text (blank-trimmed in comparisons).
        ("bpchar", _) => match column.max_length {
            Some(length) => ColumnType::Char {
                length: length as u32,
            },
            None => ColumnType::Text,
        },
        ("citext", _) => ColumnType::Citext,
        ("date", _) => ColumnType::Date,
        ("time", _) => ColumnType::Time,
        ("timestamp", _) => ColumnType::Timestamp,
        ("timestamptz", _) => ColumnType::Timestamptz,
        ("uuid", _) => ColumnType::Uuid,
        ("json" | "jsonb", _) => ColumnType::Json,
        ("bytea", _) => ColumnType::Bytes,
        _ => return Err(column.live_type.clone()),
    })
}

pub(super) fn structure(
    connection: &mut DbConnection,
    other_schemas: &[&str],
) -> Result<Vec<LiveTable>, diesel::result::Error> {
    // The other schemas as one JSON text bind (the connection type binds no arrays).
    let others = serde_json::to_string(other_schemas).expect("names serialize");
    // Tables, partitioned tables, views and materialized views; partitions belong to their
    // parent, which is the one resource.
    let relations: Vec<PgRelation> = diesel::sql_query(
        "SELECT c.relname::text AS name, \
         CASE WHEN n.nspname <> current_schema() THEN n.nspname::text END AS schema, \
         c.relkind::text AS relkind, c.relispopulated AS populated, \
         (SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid \
          WHERE i.inhparent = c.oid AND p.relispartition)::int AS partitions \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE (n.nspname = current_schema() OR n.nspname IN (SELECT jsonb_array_elements_text($1::jsonb))) \
         AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition \
         ORDER BY c.relname",
    )
    .bind::<Text, _>(&others)
    .load(connection)?;
    // Statements name tables without their schema, so a name must be in one schema only.
    for pair in relations.windows(2) {
        if pair[0].name == pair[1].name {
            let schema = |relation: &PgRelation| {
                relation
                    .schema
                    .clone()
                    .unwrap_or_else(|| "the first schema".into())
            };
            return Err(diesel::result::Error::QueryBuilderError(
                format!(
                    "table {} is in two of the schemas read ({} and {}): tables are named \
                     without their schema, through the search path, so a name may be in one \
                     of them only; read one of the two schemas at a time",
                    pair[0].name,
                    schema(&pair[0]),
                    schema(&pair[1])
                )
                .into(),
            ));
        }
    }
    // From the catalogs rather than information_schema, which leaves out materialized views;
    // a domain is read as its base type, with its length, precision and NOT NULL; an array as
    // its item type (PostgreSQL does not enforce dimensions: every array is a list).
    let columns: Vec<PgColumn> = diesel::sql_query(
        "WITH col AS ( \
           SELECT c.relname, a.attname, a.attnum, et.typname AS base, et.oid AS base_oid, \
                  format_type(a.atttypid, a.atttypmod) AS live_type, \
                  CASE WHEN t.typtype = 'd' THEN t.typname::text END AS domain, \
                  bt.typcategory = 'A' AND bt.typelem <> 0 AS is_array, \
                  a.attndims > 1 AS multidimensional, \
                  COALESCE(NULLIF(t.typtypmod, -1), a.atttypmod) AS typmod, \
                  NOT (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)) AS nullable, \
                  CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END AS column_default, \
                  a.attidentity <> '' AS identity, \
                  CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END AS generated, \
                  et.typtype = 'e' AS is_enum \
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
           JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid \
           JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END \
           JOIN pg_type et ON et.oid = CASE WHEN bt.typcategory = 'A' AND bt.typelem <> 0 \
                                       THEN bt.typelem ELSE bt.oid END \
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
           WHERE (n.nspname = current_schema() OR n.nspname IN (SELECT jsonb_array_elements_text($1::jsonb))) \
             AND c.relkind IN ('r', 'p', 'v', 'm') \
             AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped) \
         SELECT relname::text AS table_name, attname::text AS column_name, base::text AS udt_name, \
           base_oid::int8 AS udt_oid, live_type, domain, is_array, multidimensional, \
           CASE WHEN base IN ('varchar', 'bpchar') AND typmod > 4 THEN typmod - 4 END AS max_length, \
           CASE WHEN base = 'numeric' AND typmod > 4 THEN ((typmod - 4) >> 16) & 65535 END AS precision, \
           CASE WHEN base = 'numeric' AND typmod > 4 THEN (typmod - 4) & 65535 END AS scale, \
           nullable, column_default, identity, generated, is_enum \
         FROM col ORDER BY relname, attnum",
    )
    .bind::<Text, _>(&others)
    .load(connection)?;
    // By type, wherever the type lives (an enumeration may sit in another schema).
    let enum_values: Vec<PgEnumValue> = diesel::sql_query(
        "SELECT e.enumtypid::int8 AS type_oid, e.enumlabel::text AS label FROM pg_enum e \
         ORDER BY e.enumtypid, e.enumsortorder",
    )
    .load(connection)?;
    let keys: Vec<PgKey> = diesel::sql_query(
        "SELECT tc.table_name::text, tc.constraint_name::text, tc.constraint_type::text, kcu.column_name::text \
         FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu \
         ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema AND tc.table_name = kcu.table_name \
         WHERE (tc.table_schema = current_schema() OR tc.table_schema IN (SELECT jsonb_array_elements_text($1::jsonb))) \
         AND tc.constraint_type IN ('PRIMARY KEY', 'UNIQUE') \
         ORDER BY tc.table_name, tc.constraint_name, kcu.ordinal_position",
    )
    .bind::<Text, _>(&others)
    .load(connection)?;
    let foreign_keys: Vec<PgForeignKey> = diesel::sql_query(
        "SELECT cl.relname::text AS table_name, att.attname::text AS column_name, rcl.relname::text AS ref_table, \
         ratt.attname::text AS ref_column, con.confdeltype::text AS delete_rule FROM pg_constraint con \
         JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_namespace ns ON ns.oid = cl.relnamespace \
         JOIN pg_class rcl ON rcl.oid = con.confrelid \
         JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1] \
         JOIN pg_attribute ratt ON ratt.attrelid = con.confrelid AND ratt.attnum = con.confkey[1] \
         WHERE con.contype = 'f' AND (ns.nspname = current_schema() OR ns.nspname IN (SELECT jsonb_array_elements_text($1::jsonb))) \
         AND array_length(con.conkey, 1) = 1 \
         ORDER BY cl.relname, att.attnum",
    )
    .bind::<Text, _>(&others)
    .load(connection)?;
    let mut tables = Vec::new();
    for PgRelation {
        name,
        schema,
        partitions,
        relkind,
        populated,
    } in relations
    {
        let mut table = LiveTable {
            name: name.clone(),
            schema,
            columns: Vec::new(),
            primary_key: Vec::new(),
            unique: Vec::new(),
            foreign_keys: Vec::new(),
            partitions: partitions as usize,
            populated,
            backend: tenantapi_runtime::connections::db::BackendKind::Postgres,
            kind: match relkind.as_str() {
                "v" => RelationKind::View,
                "m" => RelationKind::MaterializedView,
                _ => RelationKind::Table,
            },
        };
        for column in columns.iter().filter(|column| column.table_name == name) {
            let ty = match postgres_type(column) {
                // Lists of documents or byte strings, and arrays of arrays, are served as one
                // text value.
                Ok(item)
                    if column.is_array
                        && (!item.can_be_array_element() || column.multidimensional) =>
                {
                    Err(column.live_type.clone())
                }
                other => other,
            };
            table.columns.push(LiveColumn {
                name: column.column_name.clone(),
                // An array of a type without a description type is one text value.
                array: column.is_array && ty.is_ok(),
                ty,
                live_type: column.live_type.clone(),
                generated: column.generated.clone(),
                domain: column.domain.clone(),
                nullable: column.nullable,
                enum_type: column.is_enum.then(|| LiveEnum {
                    named: true,
                    name: column.udt_name.clone(),
                    values: enum_values
                        .iter()
                        .filter(|value| value.type_oid == column.udt_oid)
                        .map(|value| value.label.clone())
                        .collect(),
                }),
                default: column.column_default.clone().filter(|default| {
                    !default.starts_with("nextval(") && !super::is_null_default(default)
                }),
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
