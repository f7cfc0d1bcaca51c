//! SQL spelling of the description's names and values, shared by the generator (DDL, the
//! version statements) and the server (hand-built catalog and sequence queries): the one place
//! identifiers and literals are quoted.

/// `name` as a double-quoted SQL identifier (PostgreSQL and SQLite alike).
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a single-quoted SQL string literal.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The query that reads a structure version: one row, one text column named `version`.
pub fn select_version(table: &str, column: &str) -> String {
    format!(
        "SELECT CAST({} AS TEXT) AS version FROM {}",
        quote_identifier(column),
        quote_identifier(table)
    )
}

/// The statement that records a structure version in an empty version table.
pub fn insert_version(table: &str, column: &str, version: &str) -> String {
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quote_identifier(table),
        quote_identifier(column),
        quote_literal(version)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_are_quoted_with_their_quotes_doubled() {
        assert_eq!(quote_identifier("type"), "\"type\"");
        assert_eq!(quote_identifier("odd\"name"), "\"odd\"\"name\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(
            select_version("schema_version", "version"),
            "SELECT CAST(\"version\" AS TEXT) AS version FROM \"schema_version\""
        );
        assert_eq!(
            insert_version("v", "n", "2024.06.1"),
            "INSERT INTO \"v\" (\"n\") VALUES ('2024.06.1')"
        );
    }
}
