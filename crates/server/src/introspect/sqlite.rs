//! The live structure of a SQLite database, read from its pragmas.

use diesel::RunQueryDsl as _;
use diesel::sql_types::{Bool, Integer, Nullable, Text};
use tenantapi_runtime::connections::db::DbConnection;
use tenantapi_schema::model::ColumnType;

use super::sqlite_sql::column_clauses;
use super::{LiveColumn, LiveEnum, LiveForeignKey, LiveTable, Name, RelationKind};

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
    /// 2 and 3: a generated column (virtual, stored).
    #[diesel(sql_type = Integer)]
    hidden: i32,
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

/// A declared SQLite type as a description type: our DDL's spellings and the common ones
/// (`NVARCHAR(160)`, `DATETIME`, `NUMERIC(10,2)`, `INT`...) exactly, anything else by SQLite's
/// own affinity rules (a name containing INT is an integer; CHAR, CLOB or TEXT text; BLOB or
/// nothing bytes; REAL, FLOA or DOUB a double). `rowid_key`: the column is the table's
/// `INTEGER PRIMARY KEY`, SQLite's rowid, which the database fills in: a generated key.
pub(super) fn sqlite_type(declared: &str, rowid_key: bool) -> Result<ColumnType, String> {
    let upper = declared.trim().to_ascii_uppercase();
    let (name, parameters) = match upper.split_once('(') {
        Some((name, rest)) => (name.trim(), rest.trim_end().strip_suffix(')')),
        None => (upper.as_str(), None),
    };
    let numbers: Option<Vec<u32>> = parameters.map(|inner| {
        inner
            .split(',')
            .map(|part| part.trim().parse().ok())
            .collect::<Option<Vec<u32>>>()
            .unwrap_or_default()
    });
    let length = || match numbers.as_deref() {
        Some([length]) => Some(*length),
        _ => None,
    };
    if rowid_key {
        return Ok(ColumnType::Serial);
    }
    Ok(match name {
        "SMALLINT" | "INT2" | "TINYINT" => ColumnType::SmallInt,
        "INTEGER" | "INT" | "INT4" | "MEDIUMINT" => ColumnType::Integer,
        "BIGINT" | "INT8" | "UNSIGNED BIG INT" => ColumnType::BigInt,
        "BOOLEAN" | "BOOL" => ColumnType::Boolean,
        "REAL" => ColumnType::Real,
        "DOUBLE PRECISION" | "DOUBLE" | "FLOAT" => ColumnType::Double,
        "NUMERIC" | "DECIMAL" => match numbers.as_deref() {
            Some([precision, scale]) => ColumnType::Numeric {
                precision: *precision,
                scale: *scale,
            },
            Some([precision]) => ColumnType::Numeric {
                precision: *precision,
                scale: 0,
            },
            // Without a precision SQLite keeps integers or floating point numbers.
            _ => ColumnType::Double,
        },
        "TEXT" | "CLOB" | "NTEXT" => ColumnType::Text,
        "VARCHAR" | "NVARCHAR" | "CHARACTER VARYING" | "VARYING CHARACTER" => match length() {
            Some(max_length) if max_length > 0 => ColumnType::Varchar { max_length },
            _ => ColumnType::Text,
        },
        "NATIVE CHARACTER" | "NCHAR" | "CHARACTER" | "CHAR" => match length() {
            Some(length) if length > 0 => ColumnType::Char { length },
            _ => ColumnType::Text,
        },
        "DATE" => ColumnType::Date,
        "TIME" => ColumnType::Time,
        "TIMESTAMP" | "DATETIME" => ColumnType::Timestamp,
        "TIMESTAMPTZ" => ColumnType::Timestamptz,
        "UUID" => ColumnType::Uuid,
        "JSON TEXT" | "JSON" | "JSONB" => ColumnType::Json,
        "BLOB" | "" => ColumnType::Bytes,
        // SQLite's affinity rules, in its order.
        other if other.contains("INT") => ColumnType::BigInt,
        other if other.contains("CHAR") || other.contains("CLOB") || other.contains("TEXT") => {
            ColumnType::Text
        }
        other if other.contains("BLOB") => ColumnType::Bytes,
        other if other.contains("REAL") || other.contains("FLOA") || other.contains("DOUB") => {
            ColumnType::Double
        }
        _ => return Err(declared.trim().to_string()),
    })
}

pub(super) fn structure(
    connection: &mut DbConnection,
) -> Result<Vec<LiveTable>, diesel::result::Error> {
    let views: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'view' AND name NOT LIKE 'sqlite_%'",
    )
    .load(connection)?;
    let names: Vec<Name> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .load(connection)?;
    let mut tables = Vec::new();
    for Name { name } in names {
        let is_view = views.iter().any(|view| view.name == name);
        let definition: Vec<Name> = diesel::sql_query(
            "SELECT sql AS name FROM sqlite_master WHERE name = ? AND sql IS NOT NULL",
        )
        .bind::<Text, _>(&name)
        .load(connection)?;
        let definition = definition.first().map_or("", |row| row.name.as_str());
        let clauses = if is_view {
            Default::default()
        } else {
            column_clauses(definition)
        };
        // `table_xinfo` lists generated columns too (hidden 2 and 3); 1 is a virtual table's.
        let columns: Vec<SqliteColumn> = diesel::sql_query(
            "SELECT name, type AS declared_type, \"notnull\" AS not_null, dflt_value AS default_value, pk, hidden \
             FROM pragma_table_xinfo(?) WHERE hidden <> 1 ORDER BY cid",
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
            schema: None,
            columns: columns
                .iter()
                .map(|column| {
                    let found = clauses
                        .get(&column.name.to_ascii_lowercase())
                        .cloned()
                        .unwrap_or_default();
                    let enum_type = found.check_in.clone().map(|values| LiveEnum {
                        name: check_list_enum_name(&name, &column.name),
                        values,
                        named: false,
                    });
                    // SQLite makes an `INTEGER PRIMARY KEY` (exactly that type name) an alias
                    // of the rowid, which it fills in, with or without AUTOINCREMENT.
                    let rowid_key = single_integer_key
                        && column.pk == 1
                        && column.declared_type.trim().eq_ignore_ascii_case("INTEGER");
                    let declared = sqlite_type(&column.declared_type, rowid_key);
                    let ty = match (&enum_type, declared) {
                        (Some(_), Ok(ty)) if ty.kind().is_textual() => Ok(ColumnType::Enum),
                        (_, Ok(ty)) if found.collate_nocase && ty.kind().is_textual() => {
                            Ok(ColumnType::Citext)
                        }
                        // A view's computed column declares no type; SQLite reads any value as
                        // text.
                        (_, Ok(ColumnType::Bytes))
                            if is_view && column.declared_type.trim().is_empty() =>
                        {
                            Ok(ColumnType::Text)
                        }
                        (_, ty) => ty,
                    };
                    LiveColumn {
                        name: column.name.clone(),
                        ty,
                        live_type: column.declared_type.trim().to_string(),
                        array: false,
                        domain: None,
                        generated: if column.hidden >= 2 {
                            found.generated.clone().or_else(|| Some(String::new()))
                        } else {
                            None
                        },
                        // An INTEGER PRIMARY KEY can never be NULL, whatever it declares.
                        nullable: !column.not_null && column.pk == 0,
                        // `DEFAULT NULL` is no default: a row written without the column holds
                        // NULL either way (PostgreSQL records none for it), and drift agrees.
                        default: column
                            .default_value
                            .clone()
                            .filter(|value| !super::is_null_default(value)),
                        sqlite_rowid_key: rowid_key,
                        enum_type,
                    }
                })
                .collect(),
            primary_key: primary_key.into_iter().map(|(_, column)| column).collect(),
            unique: Vec::new(),
            foreign_keys: Vec::new(),
            partitions: 0,
            populated: true,
            backend: tenantapi_runtime::connections::db::BackendKind::Sqlite,
            kind: if is_view {
                RelationKind::View
            } else {
                RelationKind::Table
            },
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

/// SQLite has no enum types: a column's CHECK list is described as an `[[enum]]` named after
/// its table and column, with what an enum's name may not hold (a space, a letter outside
/// ASCII: `Survey Answer`, `Größe`) as `_`, within PostgreSQL's 63 bytes.
fn check_list_enum_name(table: &str, column: &str) -> String {
    let mut name: String = format!("{table}_{column}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$') {
                c
            } else {
                '_'
            }
        })
        .collect();
    name.truncate(tenantapi_schema::MAX_SQL_NAME_BYTES);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_follow_common_spellings_and_sqlites_affinity() {
        let cases = [
            ("NVARCHAR(160)", ColumnType::Varchar { max_length: 160 }),
            ("varchar(20)", ColumnType::Varchar { max_length: 20 }),
            ("CHARACTER(20)", ColumnType::Char { length: 20 }),
            ("NCHAR(2)", ColumnType::Char { length: 2 }),
            ("DATETIME", ColumnType::Timestamp),
            (
                "NUMERIC(10,2)",
                ColumnType::Numeric {
                    precision: 10,
                    scale: 2,
                },
            ),
            (
                "DECIMAL(5)",
                ColumnType::Numeric {
                    precision: 5,
                    scale: 0,
                },
            ),
            ("DECIMAL", ColumnType::Double),
            ("INT", ColumnType::Integer),
            ("INTEGER", ColumnType::Integer),
            ("BOOLEAN", ColumnType::Boolean),
            ("BLOB", ColumnType::Bytes),
            ("", ColumnType::Bytes),
            ("REAL", ColumnType::Real),
            ("DOUBLE", ColumnType::Double),
            ("FLOAT", ColumnType::Double),
            ("UNSIGNED BIG INT", ColumnType::BigInt),
            ("BIGINTEGER", ColumnType::BigInt),
            ("LONGTEXT", ColumnType::Text),
            ("NVARCHAR", ColumnType::Text),
            ("JSON TEXT", ColumnType::Json),
            ("VARCHAR(255)", ColumnType::Varchar { max_length: 255 }),
        ];
        for (declared, expected) in cases {
            assert_eq!(sqlite_type(declared, false), Ok(expected), "{declared}");
        }
        assert_eq!(sqlite_type("INTEGER", true), Ok(ColumnType::Serial));
        assert_eq!(sqlite_type("MONEY", false), Err("MONEY".to_string()));
    }
}
