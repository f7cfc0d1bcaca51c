//! The live structure of a SQLite database, read from its pragmas.

use diesel::RunQueryDsl as _;
use diesel::sql_types::{Bool, Integer, Nullable, Text};
use tenantapi_runtime::db::DbConnection;
use tenantapi_schema::model::ColumnType;

use super::{LiveColumn, LiveForeignKey, LiveTable, Name};

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

pub(super) fn structure(
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
