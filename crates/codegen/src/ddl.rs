//! DDL that creates the described structure on PostgreSQL and on SQLite, for test databases,
//! the demo and the test kit (the external system creates production databases).

use tenantapi_schema::model::{Column, ColumnType, DefaultValue, ForeignKey, Schema, Table};
use tenantapi_schema::sql::{quote_identifier, quote_literal};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// On PostgreSQL the schema (then made the session's first), the `citext` extension, the
/// enumerations' `CREATE TYPE` and the domains' `CREATE DOMAIN` statements; then `CREATE TABLE`
/// statements in an order where referenced tables come first, and the foreign keys of cycles.
///
/// Views are created as tables of the same columns (their query is the external system's),
/// so that test databases can hold known rows; a stored generated column keeps its expression,
/// which is used verbatim on both backends.
pub fn create_tables(schema: &Schema, dialect: Dialect) -> String {
    let mut statements = Vec::new();
    if dialect == Dialect::Postgres {
        // Every schema a table lives in, the description's first: tables are created in
        // their own, and named without it in every other statement (the search path finds them).
        let path = schema.postgres_search_path();
        if !path.is_empty() {
            let mut lines: Vec<String> = path
                .iter()
                .filter(|name| **name != "public")
                .map(|name| format!("CREATE SCHEMA IF NOT EXISTS {};", quote_identifier(name)))
                .collect();
            let mut search: Vec<String> = path.iter().map(|name| quote_identifier(name)).collect();
            if !path.contains(&"public") {
                search.push("public".into());
            }
            lines.push(format!("SET search_path TO {};", search.join(", ")));
            statements.push(lines.join("\n"));
        }
        let uses_citext = schema
            .tables
            .iter()
            .flat_map(|table| &table.columns)
            .any(|column| column.ty == ColumnType::Citext);
        if uses_citext {
            statements.push("CREATE EXTENSION IF NOT EXISTS citext;".to_owned());
        }
        for named in &schema.enums {
            let values: Vec<String> = named
                .values
                .iter()
                .map(|value| quote_literal(value))
                .collect();
            statements.push(format!(
                "CREATE TYPE {} AS ENUM ({});",
                quote_identifier(&named.sql_name),
                values.join(", ")
            ));
        }
        // A domain as the description knows it: its name over the column's type. Its CHECK
        // is the external system's; columns say their own NOT NULL.
        let mut domains: Vec<&str> = Vec::new();
        for column in schema.tables.iter().flat_map(|table| &table.columns) {
            if let Some(domain) = column.domain.as_deref().filter(|_| !column.array)
                && !domains.contains(&domain)
            {
                domains.push(domain);
                statements.push(format!(
                    "CREATE DOMAIN {} AS {};",
                    quote_identifier(domain),
                    base_type(schema, column, dialect)
                ));
            }
        }
    }
    // A foreign key to a table created later (a cycle such as `store.manager_staff_id` ->
    // `staff`, `staff.store_id` -> `store`) cannot be written inline on PostgreSQL: it is added
    // once every table exists. SQLite resolves references only when rows are written.
    let mut created = vec![false; schema.tables.len()];
    let mut added_later = Vec::new();
    for index in creation_order(schema) {
        let table = &schema.tables[index];
        let (inline, later): (Vec<&ForeignKey>, Vec<&ForeignKey>) =
            table.foreign_keys.iter().partition(|foreign_key| {
                dialect == Dialect::Sqlite
                    || foreign_key.references_table == index
                    || created[foreign_key.references_table]
            });
        created[index] = true;
        statements.push(create_table(schema, table, &inline, dialect));
        for foreign_key in later {
            added_later.push(format!(
                "ALTER TABLE {} ADD {};",
                quote_identifier(&table.sql_name),
                foreign_key_constraint(schema, table, foreign_key)
            ));
        }
    }
    statements.extend(added_later);
    statements.join("\n\n") + "\n"
}

/// Tables in file order, except that a table comes after the tables it references
/// (self-references and cycles keep file order).
fn creation_order(schema: &Schema) -> Vec<usize> {
    let mut placed = vec![false; schema.tables.len()];
    let mut order = Vec::with_capacity(schema.tables.len());
    fn visit(
        schema: &Schema,
        index: usize,
        placed: &mut [bool],
        visiting: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) {
        if placed[index] || visiting.contains(&index) {
            return;
        }
        visiting.push(index);
        for foreign_key in &schema.tables[index].foreign_keys {
            visit(
                schema,
                foreign_key.references_table,
                placed,
                visiting,
                order,
            );
        }
        visiting.pop();
        if !placed[index] {
            placed[index] = true;
            order.push(index);
        }
    }
    for index in 0..schema.tables.len() {
        visit(schema, index, &mut placed, &mut Vec::new(), &mut order);
    }
    order
}

fn create_table(
    schema: &Schema,
    table: &Table,
    foreign_keys: &[&ForeignKey],
    dialect: Dialect,
) -> String {
    let sqlite_rowid_key = dialect == Dialect::Sqlite
        && table.primary_key.len() == 1
        && table.columns[table.primary_key[0]].is_generated();
    let mut lines = Vec::new();
    for (index, column) in table.columns.iter().enumerate() {
        let mut line = format!(
            "    {} {}",
            quote_identifier(&column.sql_name),
            column_definition_type(schema, column, dialect)
        );
        if sqlite_rowid_key && table.primary_key[0] == index {
            // Only `INTEGER PRIMARY KEY` makes SQLite generate the key; AUTOINCREMENT never
            // reuses a deleted row's key, as a PostgreSQL sequence does not.
            line.push_str(" NOT NULL PRIMARY KEY AUTOINCREMENT");
            lines.push(line);
            continue;
        }
        if !column.nullable {
            line.push_str(" NOT NULL");
        }
        if let Some(default) = &column.default {
            line.push_str(" DEFAULT ");
            line.push_str(&default_expression(column, default, dialect));
        }
        if let Some(expression) = &column.generated {
            line.push_str(&format!(" GENERATED ALWAYS AS ({expression}) STORED"));
        }
        if let (Some(index), Dialect::Sqlite, false) = (column.enum_type, dialect, column.array) {
            // SQLite has no enumerations: TEXT that accepts only the values.
            let values: Vec<String> = schema.enums[index]
                .values
                .iter()
                .map(|value| quote_literal(value))
                .collect();
            line.push_str(&format!(
                " CHECK ({} IN ({}))",
                quote_identifier(&column.sql_name),
                values.join(", ")
            ));
        }
        lines.push(line);
    }
    if !table.primary_key.is_empty() && !sqlite_rowid_key {
        lines.push(format!(
            "    PRIMARY KEY ({})",
            column_list(table, &table.primary_key)
        ));
    }
    for unique in &table.unique {
        lines.push(format!("    UNIQUE ({})", column_list(table, unique)));
    }
    for foreign_key in foreign_keys {
        lines.push(format!(
            "    {}",
            foreign_key_constraint(schema, table, foreign_key)
        ));
    }
    let name = match (&table.postgres_schema, dialect) {
        (Some(own), Dialect::Postgres) => {
            format!(
                "{}.{}",
                quote_identifier(own),
                quote_identifier(&table.sql_name)
            )
        }
        _ => quote_identifier(&table.sql_name),
    };
    format!("CREATE TABLE {name} (\n{}\n);", lines.join(",\n"))
}

/// `FOREIGN KEY (...) REFERENCES ... ON DELETE ...`, inside `CREATE TABLE` or after `ADD`.
fn foreign_key_constraint(schema: &Schema, table: &Table, foreign_key: &ForeignKey) -> String {
    let referenced = &schema.tables[foreign_key.references_table];
    format!(
        "FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
        quote_identifier(&table.columns[foreign_key.column].sql_name),
        quote_identifier(&referenced.sql_name),
        quote_identifier(&referenced.columns[foreign_key.references_column].sql_name),
        foreign_key.on_delete.sql()
    )
}

fn column_list(table: &Table, indices: &[usize]) -> String {
    indices
        .iter()
        .map(|&index| quote_identifier(&table.columns[index].sql_name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A column's type in `CREATE TABLE`: lists are arrays on PostgreSQL and JSON text on SQLite;
/// enumerations and domains are their type on PostgreSQL.
fn column_definition_type(schema: &Schema, column: &Column, dialect: Dialect) -> String {
    match (&column.domain, dialect) {
        (Some(domain), Dialect::Postgres) if !column.array => quote_identifier(domain),
        _ => base_type(schema, column, dialect),
    }
}

/// A column's type without its domain.
fn base_type(schema: &Schema, column: &Column, dialect: Dialect) -> String {
    if let Some(live) = &column.database_type {
        return match dialect {
            Dialect::Postgres => live.clone(),
            Dialect::Sqlite => "TEXT".into(),
        };
    }
    match (column.enum_type, dialect, column.array) {
        (Some(index), Dialect::Postgres, array) => {
            quote_identifier(&schema.enums[index].sql_name) + if array { "[]" } else { "" }
        }
        (None, Dialect::Postgres, true) => column_type(column.ty, dialect) + "[]",
        // TEXT affinity keeps the JSON byte for byte.
        (_, Dialect::Sqlite, true) => "TEXT".into(),
        _ => column_type(column.ty, dialect),
    }
}

fn column_type(ty: ColumnType, dialect: Dialect) -> String {
    match (ty, dialect) {
        (ColumnType::SmallInt, _) => "SMALLINT".into(),
        (ColumnType::Integer, _) => "INTEGER".into(),
        (ColumnType::BigInt, _) => "BIGINT".into(),
        (ColumnType::Serial, Dialect::Postgres) => "SERIAL".into(),
        (ColumnType::BigSerial, Dialect::Postgres) => "BIGSERIAL".into(),
        (ColumnType::Serial | ColumnType::BigSerial, Dialect::Sqlite) => "INTEGER".into(),
        (ColumnType::Boolean, _) => "BOOLEAN".into(),
        (ColumnType::Real, _) => "REAL".into(),
        (ColumnType::Double, _) => "DOUBLE PRECISION".into(),
        (ColumnType::Numeric { precision, scale }, _) => format!("NUMERIC({precision}, {scale})"),
        (ColumnType::Text, _) => "TEXT".into(),
        (ColumnType::Varchar { max_length }, _) => format!("VARCHAR({max_length})"),
        (ColumnType::Char { length }, _) => format!("CHAR({length})"),
        (ColumnType::Citext, Dialect::Postgres) => "CITEXT".into(),
        // Equality, uniqueness and sorting ignore (ASCII) case, as with PostgreSQL's citext.
        (ColumnType::Citext, Dialect::Sqlite) => "TEXT COLLATE NOCASE".into(),
        (ColumnType::Date, _) => "DATE".into(),
        (ColumnType::Time, _) => "TIME".into(),
        (ColumnType::Timestamp, _) => "TIMESTAMP".into(),
        (ColumnType::Timestamptz, _) => "TIMESTAMPTZ".into(),
        (ColumnType::Uuid, _) => "UUID".into(),
        (ColumnType::Json, Dialect::Postgres) => "JSONB".into(),
        // TEXT affinity keeps documents byte for byte; a plain JSON type name would let
        // SQLite turn `1.50` into the number 1.5.
        (ColumnType::Json, Dialect::Sqlite) => "JSON TEXT".into(),
        (ColumnType::Bytes, Dialect::Postgres) => "BYTEA".into(),
        (ColumnType::Bytes, Dialect::Sqlite) => "BLOB".into(),
        // Named where the column is written (the enumeration's type on PostgreSQL).
        (ColumnType::Enum, _) => "TEXT".into(),
    }
}

fn default_expression(column: &Column, default: &DefaultValue, dialect: Dialect) -> String {
    match (default, dialect) {
        (DefaultValue::Now, Dialect::Postgres) => match column.ty {
            ColumnType::Date => "CURRENT_DATE".into(),
            ColumnType::Time => "LOCALTIME".into(),
            ColumnType::Timestamp => "LOCALTIMESTAMP".into(),
            _ => "CURRENT_TIMESTAMP".into(),
        },
        // The text forms the runtime writes and reads: UTC, `YYYY-MM-DD HH:MM:SS.SSS`.
        (DefaultValue::Now, Dialect::Sqlite) => match column.ty {
            ColumnType::Date => "(date('now'))".into(),
            ColumnType::Time => "(strftime('%H:%M:%f', 'now'))".into(),
            _ => "(strftime('%Y-%m-%d %H:%M:%f', 'now'))".into(),
        },
        (DefaultValue::Boolean(value), Dialect::Postgres) => {
            if *value { "TRUE" } else { "FALSE" }.into()
        }
        (DefaultValue::Boolean(value), Dialect::Sqlite) => if *value { "1" } else { "0" }.into(),
        (DefaultValue::Integer(value), _) => value.to_string(),
        (DefaultValue::Number(text), _) => text.clone(),
        (DefaultValue::Text(text), _) => quote_literal(text),
        (DefaultValue::EmptyList, Dialect::Postgres) => "'{}'".into(),
        (DefaultValue::EmptyList, Dialect::Sqlite) => "'[]'".into(),
    }
}
