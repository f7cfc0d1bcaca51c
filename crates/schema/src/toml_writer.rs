//! Writing a description file: the inverse of parsing, used by `tenantapi introspect` to turn a
//! live database into a description. What is written here parses back to the same model.

use std::fmt::Write as _;

use crate::model::{ColumnType, DefaultValue, EnumType, OnDelete, Schema, VersionSource};
use crate::names;

/// A description to write, by SQL names: what a description file can say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// Comment lines at the top of the file (without `#`).
    pub header: Vec<String>,
    pub version: String,
    pub version_source: VersionSource,
    /// The PostgreSQL schema of the tables, when not `public`.
    pub postgres_schema: Option<String>,
    pub enums: Vec<EnumType>,
    pub tables: Vec<DescribedTable>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedTable {
    pub name: String,
    pub doc: Option<String>,
    /// Only when it differs from the name derived from `name`.
    pub rust_name: Option<String>,
    /// Only when it is not the description's own PostgreSQL schema.
    pub postgres_schema: Option<String>,
    pub read_only: bool,
    /// Column names in key order.
    pub primary_key: Vec<String>,
    /// Unique constraints other than the primary key, by column names.
    pub unique: Vec<Vec<String>>,
    /// The default order of lists, as written (`-name` for descending).
    pub ordering: Vec<String>,
    /// `?search=` fields, as written (`^code`, `site.name`).
    pub search: Vec<String>,
    /// Live columns left out of the description, with why (written as comments).
    pub ignored_columns: Vec<(String, Option<String>)>,
    /// Anything else worth saying about the table, written as comments (without `#`).
    pub notes: Vec<String>,
    pub columns: Vec<DescribedColumn>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedColumn {
    pub name: String,
    pub doc: Option<String>,
    /// Only when it differs from the name derived from `name`.
    pub rust_name: Option<String>,
    pub ty: ColumnType,
    /// For [`ColumnType::Enum`]: the enumeration's name.
    pub enum_type: Option<String>,
    /// A list of `ty` values.
    pub array: bool,
    pub read_only: bool,
    /// The expression of a stored generated column.
    pub generated: Option<String>,
    /// The live type of a column served as its text form.
    pub database_type: Option<String>,
    /// The PostgreSQL domain of the live column.
    pub domain: Option<String>,
    pub nullable: bool,
    pub default: Option<DefaultValue>,
    /// `(table, column)` this column references.
    pub references: Option<(String, String)>,
    pub on_delete: OnDelete,
    /// What the format cannot say about this column, written as comments (without `#`).
    pub notes: Vec<String>,
}

impl From<&Schema> for Description {
    fn from(schema: &Schema) -> Description {
        let tables = schema
            .tables
            .iter()
            .map(|table| {
                let column_name = |index: usize| table.columns[index].sql_name.clone();
                DescribedTable {
                    name: table.sql_name.clone(),
                    doc: table.doc.clone(),
                    rust_name: (table.rust_name != names::rust_ident_for_sql_name(&table.sql_name))
                        .then(|| table.rust_name.clone()),
                    postgres_schema: table.postgres_schema.clone(),
                    read_only: table.read_only,
                    primary_key: table.primary_key.iter().copied().map(column_name).collect(),
                    unique: table
                        .unique
                        .iter()
                        .map(|set| set.iter().copied().map(column_name).collect())
                        .collect(),
                    ignored_columns: table
                        .ignored_columns
                        .iter()
                        .map(|name| (name.clone(), None))
                        .collect(),
                    ordering: table
                        .ordering
                        .iter()
                        .map(|&(index, descending)| {
                            let name = column_name(index);
                            if descending { format!("-{name}") } else { name }
                        })
                        .collect(),
                    search: table
                        .search
                        .iter()
                        .map(|field| schema.search_field_text(table, field))
                        .collect(),
                    notes: Vec::new(),
                    columns: table
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(index, column)| {
                            let key = table.foreign_keys.iter().find(|key| key.column == index);
                            DescribedColumn {
                                name: column.sql_name.clone(),
                                doc: column.doc.clone(),
                                rust_name: (column.rust_name
                                    != names::column_rust_ident_for_sql_name(
                                        &column.sql_name,
                                        &table.rust_name,
                                    ))
                                .then(|| column.rust_name.clone()),
                                ty: column.ty,
                                enum_type: column
                                    .enum_type
                                    .map(|index| schema.enums[index].sql_name.clone()),
                                array: column.array,
                                read_only: column.read_only,
                                generated: column.generated.clone(),
                                database_type: column.database_type.clone(),
                                domain: column.domain.clone(),
                                nullable: column.nullable,
                                default: column.default.clone(),
                                references: key.map(|key| {
                                    let referenced = &schema.tables[key.references_table];
                                    (
                                        referenced.sql_name.clone(),
                                        referenced.columns[key.references_column].sql_name.clone(),
                                    )
                                }),
                                on_delete: key.map_or(OnDelete::NoAction, |key| key.on_delete),
                                notes: Vec::new(),
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        Description {
            header: Vec::new(),
            version: schema.version.clone(),
            version_source: schema.version_source.clone(),
            postgres_schema: schema.postgres_schema.clone(),
            enums: schema.enums.clone(),
            tables,
        }
    }
}

/// A TOML string literal.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

fn quote_all(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| quote(name)).collect();
    format!("[{}]", quoted.join(", "))
}

/// A default as the description file writes it.
fn default_literal(default: &DefaultValue) -> String {
    match default {
        DefaultValue::Now => quote("now"),
        DefaultValue::Boolean(flag) => flag.to_string(),
        DefaultValue::Integer(integer) => integer.to_string(),
        // A number kept as written; one too large for a TOML integer is written as a float.
        DefaultValue::Number(text)
            if text.parse::<i64>().is_ok() || text.contains(['.', 'e', 'E']) =>
        {
            text.clone()
        }
        DefaultValue::Number(text) => format!("{text}.0"),
        DefaultValue::Text(text) => quote(text),
        DefaultValue::EmptyList => "[]".to_owned(),
    }
}

impl Description {
    /// The description file's text.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            writeln!(out, "# {line}").unwrap();
        }
        if !self.header.is_empty() {
            out.push('\n');
        }
        writeln!(out, "version = {}", quote(&self.version)).unwrap();
        if let Some(name) = &self.postgres_schema {
            writeln!(out, "postgres_schema = {}", quote(name)).unwrap();
        }
        writeln!(
            out,
            "\n[version_source]\ntable = {}\ncolumn = {}",
            quote(&self.version_source.table),
            quote(&self.version_source.column)
        )
        .unwrap();
        for named in &self.enums {
            writeln!(out, "\n[[enum]]\nname = {}", quote(&named.sql_name)).unwrap();
            if let Some(doc) = &named.doc {
                writeln!(out, "doc = {}", quote(doc)).unwrap();
            }
            writeln!(out, "values = {}", quote_all(&named.values)).unwrap();
        }
        for table in &self.tables {
            table.write(&mut out);
        }
        out
    }
}

impl DescribedTable {
    fn write(&self, out: &mut String) {
        writeln!(out, "\n[[table]]\nname = {}", quote(&self.name)).unwrap();
        for note in &self.notes {
            writeln!(out, "# {note}").unwrap();
        }
        if let Some(rust_name) = &self.rust_name {
            writeln!(out, "rust_name = {}", quote(rust_name)).unwrap();
        }
        if let Some(schema) = &self.postgres_schema {
            writeln!(out, "postgres_schema = {}", quote(schema)).unwrap();
        }
        if let Some(doc) = &self.doc {
            writeln!(out, "doc = {}", quote(doc)).unwrap();
        }
        if self.read_only {
            out.push_str("read_only = true\n");
        }
        if self.primary_key.len() > 1 {
            writeln!(out, "primary_key = {}", quote_all(&self.primary_key)).unwrap();
        }
        let multi_unique: Vec<String> = self
            .unique
            .iter()
            .filter(|set| set.len() > 1)
            .map(|set| quote_all(set))
            .collect();
        if !multi_unique.is_empty() {
            writeln!(out, "unique = [{}]", multi_unique.join(", ")).unwrap();
        }
        if !self.ordering.is_empty() {
            writeln!(out, "ordering = {}", quote_all(&self.ordering)).unwrap();
        }
        if !self.search.is_empty() {
            writeln!(out, "search = {}", quote_all(&self.search)).unwrap();
        }
        if !self.ignored_columns.is_empty() {
            for (name, reason) in &self.ignored_columns {
                if let Some(reason) = reason {
                    writeln!(out, "# ignored column {name}: {reason}").unwrap();
                }
            }
            let names: Vec<String> = self
                .ignored_columns
                .iter()
                .map(|(name, _)| name.clone())
                .collect();
            writeln!(out, "ignore_columns = {}", quote_all(&names)).unwrap();
        }
        for column in &self.columns {
            let single_key = self.primary_key.len() == 1 && self.primary_key[0] == column.name;
            let single_unique = self
                .unique
                .iter()
                .any(|set| set.len() == 1 && set[0] == column.name);
            column.write(out, single_key, single_unique);
        }
    }
}

impl DescribedColumn {
    /// The `type` as written: `varchar(20)`, `text[]`, an enum's name.
    pub fn type_spelling(&self) -> String {
        let element = match (&self.enum_type, self.ty) {
            (Some(name), ColumnType::Enum) => name.clone(),
            _ => self.ty.spelling(),
        };
        if self.array {
            format!("{element}[]")
        } else {
            element
        }
    }

    fn write(&self, out: &mut String, primary_key: bool, unique: bool) {
        writeln!(
            out,
            "\n[[table.column]]\nname = {}\ntype = {}",
            quote(&self.name),
            quote(&self.type_spelling())
        )
        .unwrap();
        if let Some(rust_name) = &self.rust_name {
            writeln!(out, "rust_name = {}", quote(rust_name)).unwrap();
        }
        if let Some(doc) = &self.doc {
            writeln!(out, "doc = {}", quote(doc)).unwrap();
        }
        if self.nullable {
            out.push_str("nullable = true\n");
        }
        if primary_key {
            out.push_str("primary_key = true\n");
        }
        if unique {
            out.push_str("unique = true\n");
        }
        if let Some(default) = &self.default {
            writeln!(out, "default = {}", default_literal(default)).unwrap();
        }
        if self.read_only {
            out.push_str("read_only = true\n");
        }
        if let Some(expression) = &self.generated {
            writeln!(out, "generated = {}", quote(expression)).unwrap();
        }
        if let Some(name) = &self.database_type {
            writeln!(out, "database_type = {}", quote(name)).unwrap();
        }
        if let Some(name) = &self.domain {
            writeln!(out, "domain = {}", quote(name)).unwrap();
        }
        if let Some((table, column)) = &self.references {
            writeln!(out, "references = {}", quote(&format!("{table}.{column}"))).unwrap();
            if self.on_delete != OnDelete::NoAction {
                writeln!(out, "on_delete = {}", quote(self.on_delete.word())).unwrap();
            }
        }
        for note in &self.notes {
            writeln!(out, "# {note}").unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_too_large_for_a_toml_integer_are_written_as_floats() {
        assert_eq!(
            default_literal(&DefaultValue::Number("1000000000000000000000".into())),
            "1000000000000000000000.0"
        );
        assert_eq!(default_literal(&DefaultValue::Number("0.5".into())), "0.5");
        assert_eq!(default_literal(&DefaultValue::Number("3".into())), "3");
        let literal = default_literal(&DefaultValue::Text("it's \"x\"".into()));
        let parsed: toml::Table = toml::from_str(&format!("d = {literal}")).unwrap();
        assert_eq!(parsed["d"].as_str(), Some("it's \"x\""));
    }
}
