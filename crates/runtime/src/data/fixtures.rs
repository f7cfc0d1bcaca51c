//! Fixtures: rows with explicit keys, per table, in JSON, checked against the generated
//! metadata, loaded in foreign-key order in one transaction; and the reverse, a dump.
//!
//! The format is one JSON object per project database: table name to a list of rows, each row
//! an object of column values in the API's JSON forms:
//! `{"site": [{"id": 1, "code": "N"}], "data_point": [{"id": 1, "name": "meter", "site_id": 1}]}`.

use diesel::RunQueryDsl as _;
use serde_json::{Map, Value};

use crate::connections::db::DbConnection;
use crate::data::convert;
use crate::data::meta::TableMeta;
use crate::data::resource::Resource;
use crate::data::sql::{SqlFilter, SqlOrder, SqlStatement, SqlValue};
use crate::data::table_ops::TableOps;
use tenantapi_schema::sql::{quote_identifier, quote_literal};

/// A fixture that does not fit the structure, named by file, table, row and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct FixtureError {
    pub file: String,
    pub message: String,
}

impl From<diesel::result::Error> for FixtureError {
    /// Only the transaction's own BEGIN or COMMIT fails this way; row errors carry their place.
    fn from(error: diesel::result::Error) -> Self {
        FixtureError {
            file: String::new(),
            message: format!("transaction failed: {error}"),
        }
    }
}

/// One table's rows, each a list of (column index, value).
#[derive(Debug, Clone, PartialEq)]
pub struct TableFixture {
    pub meta: &'static TableMeta,
    pub rows: Vec<FixtureRow>,
}

/// Every table's rows, in an order where referenced tables come first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Fixtures {
    pub tables: Vec<TableFixture>,
}

impl Fixtures {
    pub fn row_count(&self) -> usize {
        self.tables.iter().map(|table| table.rows.len()).sum()
    }
}

/// Checks fixture text against `tables` (the generated crate's `TABLES`) and types every value.
pub fn parse(
    file: &str,
    text: &str,
    tables: &[&'static TableMeta],
) -> Result<Fixtures, FixtureError> {
    let fail = |message: String| FixtureError {
        file: file.to_string(),
        message,
    };
    let document: Value = serde_json::from_str(text).map_err(|error| {
        fail(format!(
            "invalid JSON at line {} column {}: {error}",
            error.line(),
            error.column()
        ))
    })?;
    let Value::Object(document) = document else {
        return Err(fail(
            "expected an object of table names to lists of rows".into(),
        ));
    };
    let mut parsed = Vec::new();
    for (table_name, rows) in document {
        let Some(meta) = tables.iter().copied().find(|meta| meta.name == table_name) else {
            let known: Vec<&str> = tables.iter().map(|meta| meta.name).collect();
            return Err(fail(format!(
                "unknown table \"{table_name}\"; the tables are {}",
                known.join(", ")
            )));
        };
        let Value::Array(rows) = rows else {
            return Err(fail(format!("table {table_name}: expected a list of rows")));
        };
        let mut typed_rows = Vec::with_capacity(rows.len());
        for (index, row) in rows.into_iter().enumerate() {
            typed_rows.push(
                parse_row(meta, row).map_err(|message| {
                    fail(format!("table {table_name}, row {index}: {message}"))
                })?,
            );
        }
        parsed.push(TableFixture {
            meta,
            rows: typed_rows,
        });
    }
    Ok(Fixtures {
        tables: in_reference_order(parsed),
    })
}

fn parse_row(
    meta: &'static TableMeta,
    row: Value,
) -> Result<Vec<(usize, Option<SqlValue>)>, String> {
    let Value::Object(row) = row else {
        return Err("expected an object of column values".into());
    };
    let mut values = Vec::with_capacity(row.len());
    for (name, value) in &row {
        let index = meta
            .column_index(name)
            .ok_or_else(|| format!("unknown column \"{name}\""))?;
        let column = &meta.columns[index];
        if column.computed {
            return Err(format!(
                "column {name} is computed by the database (a generated column); leave it out"
            ));
        }
        if value.is_null() {
            if !column.nullable {
                return Err(format!("column {name}: This field may not be null."));
            }
            values.push((index, None));
            continue;
        }
        let typed = convert::parse_column_json(column, value)
            .map_err(|message| format!("column {name}: {message}"))?;
        values.push((index, Some(typed)));
    }
    for column in meta
        .columns
        .iter()
        .filter(|column| column.is_required_on_create())
    {
        if !row.contains_key(column.name) {
            return Err(format!("column {}: This field is required.", column.name));
        }
    }
    Ok(values)
}

/// Referenced tables first; file order otherwise (self-references and cycles keep it).
fn in_reference_order(tables: Vec<TableFixture>) -> Vec<TableFixture> {
    let mut remaining = tables;
    let mut ordered: Vec<TableFixture> = Vec::with_capacity(remaining.len());
    while !remaining.is_empty() {
        let ready = remaining.iter().position(|table| {
            table.meta.foreign_keys.iter().all(|key| {
                key.references_table == table.meta.name
                    || !remaining
                        .iter()
                        .any(|other| other.meta.name == key.references_table)
            })
        });
        ordered.push(remaining.remove(ready.unwrap_or(0)));
    }
    ordered
}

/// Inserts every row in one transaction, then moves PostgreSQL's key sequences past the
/// explicit keys so that the next insert through the API does not collide.
pub fn load(
    connection: &mut DbConnection,
    fixtures: &Fixtures,
    file: &str,
) -> Result<usize, FixtureError> {
    load_with_progress(connection, fixtures, file, &mut |_| {})
}

/// [`load`], telling `rows_loaded` how many rows are in after each statement (for a progress
/// bar).
pub fn load_with_progress(
    connection: &mut DbConnection,
    fixtures: &Fixtures,
    file: &str,
    rows_loaded: &mut dyn FnMut(usize),
) -> Result<usize, FixtureError> {
    use diesel::Connection as _;
    let mut rows_in = 0;
    let fail = |message: String| FixtureError {
        file: file.to_string(),
        message,
    };
    connection.transaction::<_, FixtureError, _>(|connection| {
        for table in &fixtures.tables {
            let mut start = 0;
            while start < table.rows.len() {
                let end = batch_end(&table.rows, start);
                let batch = &table.rows[start..end];
                // One statement per batch; if it fails (inside a savepoint), the rows are
                // inserted one by one so that the error names the row that caused it.
                let inserted =
                    connection.transaction(|connection| insert_rows(connection, table.meta, batch));
                if inserted.is_err() {
                    for (offset, row) in batch.iter().enumerate() {
                        connection
                            .transaction(|connection| {
                                insert_rows(connection, table.meta, std::slice::from_ref(row))
                            })
                            .map_err(|error| {
                                fail(format!(
                                    "table {}, row {}: {error}",
                                    table.meta.name,
                                    start + offset
                                ))
                            })?;
                    }
                }
                rows_in += end - start;
                rows_loaded(rows_in);
                start = end;
            }
        }
        if let DbConnection::Pg(_) = connection {
            for table in &fixtures.tables {
                reset_sequences(connection, table.meta)
                    .map_err(|error| fail(format!("table {}: {error}", table.meta.name)))?;
            }
        }
        Ok(fixtures.row_count())
    })
}

/// Rows per INSERT: well under both backends' limits on bind parameters.
const ROWS_PER_STATEMENT: usize = 100;

type FixtureRow = Vec<(usize, Option<SqlValue>)>;

/// The end of the batch starting at `start`: consecutive rows that set the same columns.
fn batch_end(rows: &[FixtureRow], start: usize) -> usize {
    let columns = |row: &FixtureRow| row.iter().map(|(column, _)| *column).collect::<Vec<_>>();
    let first = columns(&rows[start]);
    if first.is_empty() {
        // `DEFAULT VALUES` inserts one row per statement.
        return start + 1;
    }
    let mut end = start + 1;
    while end < rows.len() && end - start < ROWS_PER_STATEMENT && columns(&rows[end]) == first {
        end += 1;
    }
    end
}

/// One INSERT for rows that all set the same columns.
fn insert_rows(
    connection: &mut DbConnection,
    meta: &'static TableMeta,
    rows: &[FixtureRow],
) -> diesel::QueryResult<usize> {
    let mut statement = SqlStatement::new();
    statement.sql("INSERT INTO ").identifier(meta.name);
    let Some(first) = rows.first().filter(|row| !row.is_empty()) else {
        statement.sql(" DEFAULT VALUES");
        return statement.execute(connection);
    };
    statement.sql(" (");
    for (position, (column, _)) in first.iter().enumerate() {
        if position > 0 {
            statement.sql(", ");
        }
        statement.identifier(meta.columns[*column].name);
    }
    statement.sql(")");
    // Explicit keys into PostgreSQL identity columns (GENERATED ALWAYS) need the override;
    // for sequence defaults it changes nothing.
    let sets_generated = first
        .iter()
        .any(|(column, _)| meta.columns[*column].generated);
    if sets_generated && connection.backend() == crate::connections::db::BackendKind::Postgres {
        statement.sql(" OVERRIDING SYSTEM VALUE");
    }
    statement.sql(" VALUES ");
    for (row_position, row) in rows.iter().enumerate() {
        statement.sql(if row_position > 0 { ", (" } else { "(" });
        for (position, (column, value)) in row.iter().enumerate() {
            if position > 0 {
                statement.sql(", ");
            }
            match value {
                Some(value) => statement.bind_for(&meta.columns[*column], value.clone()),
                None => statement.sql("NULL"),
            };
        }
        statement.sql(")");
    }
    statement.execute(connection)
}

fn reset_sequences(
    connection: &mut DbConnection,
    meta: &'static TableMeta,
) -> diesel::QueryResult<()> {
    for column in meta.columns.iter().filter(|column| column.generated) {
        let table = quote_identifier(meta.name);
        let quoted_column = quote_identifier(column.name);
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence({}, {}), COALESCE(MAX({quoted_column}), 0) + 1, false) FROM {table}",
            quote_literal(&table),
            quote_literal(column.name),
        );
        diesel::sql_query(sql).execute(connection)?;
    }
    Ok(())
}

/// Every row of `R`'s table, by primary key (or every column), as the API shows it.
pub fn read_all_rows<R: Resource>(
    connection: &mut DbConnection,
) -> diesel::QueryResult<Vec<Value>> {
    let meta = R::META;
    let rows = R::load(
        connection,
        SqlFilter::all(),
        SqlOrder::completed(meta, Vec::new()),
    )?;
    rows.into_iter()
        .map(|row| {
            serde_json::to_value(row)
                .map_err(|error| diesel::result::Error::SerializationError(Box::new(error)))
        })
        .collect()
}

/// Every table's rows in fixture format, but for `skip` (the version table, which databases
/// built from the DDL already hold); tables without rows are left out.
pub fn dump(
    connection: &mut DbConnection,
    tables: &[&TableOps],
    skip: &[&str],
) -> diesel::QueryResult<Value> {
    dump_with_progress(connection, tables, skip, &mut |_| {})
}

/// [`dump`], telling `reading` the name of each table before it is read (for a progress bar).
pub fn dump_with_progress(
    connection: &mut DbConnection,
    tables: &[&TableOps],
    skip: &[&str],
    reading: &mut dyn FnMut(&str),
) -> diesel::QueryResult<Value> {
    let mut document = Map::new();
    for table in tables
        .iter()
        .filter(|table| !skip.contains(&table.meta.name))
    {
        reading(table.meta.name);
        let mut rows = (table.read_all)(connection)?;
        // Generated columns are the database's to compute: a dump loads back without them.
        for row in &mut rows {
            if let Value::Object(fields) = row {
                for column in table.meta.columns.iter().filter(|column| column.computed) {
                    fields.remove(column.name);
                }
            }
        }
        if !rows.is_empty() {
            document.insert(table.meta.name.to_string(), Value::Array(rows));
        }
    }
    Ok(Value::Object(document))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::meta::{ColumnKind, ColumnMeta, ForeignKeyMeta};

    static PARENT: TableMeta = TableMeta {
        primary_key: &[0],
        ..TableMeta::plain(
            "parent",
            &[
                ColumnMeta {
                    generated: true,
                    ..ColumnMeta::plain("id", ColumnKind::Integer)
                },
                ColumnMeta::plain("name", ColumnKind::Varchar { max_length: 3 }),
            ],
        )
    };
    static CHILD: TableMeta = TableMeta {
        primary_key: &[0],
        foreign_keys: &[ForeignKeyMeta {
            column: 1,
            references_table: "parent",
            references_column: "id",
            on_delete: "cascade",
        }],
        ..TableMeta::plain(
            "child",
            &[
                ColumnMeta {
                    generated: true,
                    ..ColumnMeta::plain("id", ColumnKind::Integer)
                },
                ColumnMeta {
                    nullable: true,
                    ..ColumnMeta::plain("parent_id", ColumnKind::Integer)
                },
            ],
        )
    };
    static TABLES: &[&TableMeta] = &[&PARENT, &CHILD];

    fn error_of(text: &str) -> String {
        parse("f.json", text, TABLES).unwrap_err().to_string()
    }

    #[test]
    fn referenced_tables_load_first_whatever_the_file_order() {
        let fixtures = parse(
            "f.json",
            r#"{"child": [{"id": 1, "parent_id": 7}], "parent": [{"id": 7, "name": "p"}]}"#,
            TABLES,
        )
        .unwrap();
        let order: Vec<&str> = fixtures
            .tables
            .iter()
            .map(|table| table.meta.name)
            .collect();
        assert_eq!(order, ["parent", "child"]);
        assert_eq!(fixtures.row_count(), 2);
    }

    #[test]
    fn errors_name_the_file_table_row_and_column() {
        assert_eq!(
            error_of(r#"{"parents": []}"#),
            "f.json: unknown table \"parents\"; the tables are parent, child"
        );
        assert_eq!(
            error_of(r#"{"parent": [{"id": 1, "name": "a"}, {"id": 2, "nme": "b"}]}"#),
            "f.json: table parent, row 1: unknown column \"nme\""
        );
        assert_eq!(
            error_of(r#"{"parent": [{"id": "one", "name": "a"}]}"#),
            "f.json: table parent, row 0: column id: A valid integer is required."
        );
        assert_eq!(
            error_of(r#"{"parent": [{"id": 1, "name": "abcd"}]}"#),
            "f.json: table parent, row 0: column name: Ensure this field has no more than 3 characters."
        );
        assert_eq!(
            error_of(r#"{"parent": [{"id": 1}]}"#),
            "f.json: table parent, row 0: column name: This field is required."
        );
        assert_eq!(
            error_of(r#"{"parent": {"id": 1}}"#),
            "f.json: table parent: expected a list of rows"
        );
        assert!(
            error_of("{\"parent\": [").starts_with("f.json: invalid JSON at line 1 column 12"),
            "{}",
            error_of("{\"parent\": [")
        );
    }
}
