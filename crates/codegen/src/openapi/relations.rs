//! A table's relations as the runtime's `expand` finds them (`runtime::expand::relations`): its
//! foreign keys, and the tables that reference it through exactly one key and have a primary
//! key (`{table}_set`). `expand`, `fields`/`omit` and the shaped row schemas all list these.

use tenantapi_schema::model::{Schema, Table};

pub(super) struct Relation {
    /// What `expand=` names it by: the key column's name without `_id`, or `{table}_set`.
    pub name: String,
    /// The row field the expansion writes: the key column's, or the list's (the same name).
    pub field: String,
    /// The table whose rows it brings (an index into `Schema::tables`).
    pub rows_of: usize,
    /// A reverse relation (a list added to the row) rather than a key replaced by a row.
    pub reverse: bool,
}

/// `table`'s relations, in the runtime's order: its foreign keys, then the referencing tables.
pub(super) fn relations(schema: &Schema, table: &Table) -> Vec<Relation> {
    let mut found: Vec<Relation> = table
        .foreign_keys
        .iter()
        .map(|foreign_key| {
            let field = &table.columns[foreign_key.column].sql_name;
            Relation {
                name: tenantapi_schema::names::relation_name(field).to_owned(),
                field: field.clone(),
                rows_of: foreign_key.references_table,
                reverse: false,
            }
        })
        .collect();
    for (index, child) in schema.tables.iter().enumerate() {
        let references = child
            .foreign_keys
            .iter()
            .filter(|foreign_key| {
                schema.tables[foreign_key.references_table].sql_name == table.sql_name
            })
            .count();
        if let Some(name) = tenantapi_schema::api_rules::reverse_relation_name(
            &child.sql_name,
            references,
            !child.primary_key.is_empty(),
        ) {
            found.push(Relation {
                field: name.clone(),
                name,
                rows_of: index,
                reverse: true,
            });
        }
    }
    found
}
