//! The real description, `schema/project.toml`, loads and lowers as expected.

use std::path::PathBuf;

use tenantapi_schema::model::{ColumnType, DefaultValue, OnDelete, Schema, Table};

fn example() -> Schema {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schema/project.toml");
    match tenantapi_schema::load_file(&path) {
        Ok(schema) => schema,
        Err(error) => panic!("schema/project.toml does not load:\n{error}"),
    }
}

fn table<'a>(schema: &'a Schema, sql_name: &str) -> &'a Table {
    schema
        .tables
        .iter()
        .find(|table| table.sql_name == sql_name)
        .unwrap_or_else(|| panic!("no table `{sql_name}`"))
}

fn table_index(schema: &Schema, sql_name: &str) -> usize {
    schema
        .tables
        .iter()
        .position(|table| table.sql_name == sql_name)
        .unwrap()
}

#[test]
fn version_and_source() {
    let schema = example();
    assert_eq!(schema.version, "2024.07.1");
    assert_eq!(schema.version_source.table, "schema_version");
    assert_eq!(schema.version_source.column, "version");
}

#[test]
fn tables_in_file_order() {
    let schema = example();
    let names: Vec<&str> = schema
        .tables
        .iter()
        .map(|table| table.sql_name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "schema_version",
            "site",
            "data_point",
            "reading",
            "tag",
            "data_point_tag",
            "maintenance-window",
        ]
    );
}

#[test]
fn schema_version_is_read_only() {
    let schema = example();
    let schema_version = table(&schema, "schema_version");
    assert!(schema_version.read_only);
    assert_eq!(schema_version.primary_key, [0]);
    assert_eq!(schema_version.columns[1].default, Some(DefaultValue::Now));
    assert!(schema.tables[1..].iter().all(|table| !table.read_only));
}

#[test]
fn data_point_columns() {
    let schema = example();
    let data_point = table(&schema, "data_point");
    assert_eq!(data_point.rust_name, "data_point");
    assert_eq!(data_point.struct_name, "DataPoint");
    assert_eq!(data_point.verbose_name, "data point");
    assert_eq!(
        data_point.doc.as_deref(),
        Some("A measured quantity, such as the energy meter of one building.")
    );
    let columns: Vec<(&str, ColumnType, bool)> = data_point
        .columns
        .iter()
        .map(|column| (column.sql_name.as_str(), column.ty, column.nullable))
        .collect();
    assert_eq!(
        columns,
        [
            ("id", ColumnType::Serial, false),
            ("name", ColumnType::Varchar { max_length: 255 }, false),
            ("unit", ColumnType::Varchar { max_length: 20 }, true),
            ("site_id", ColumnType::Integer, true),
            ("type", ColumnType::Varchar { max_length: 16 }, false),
        ]
    );
    assert_eq!(data_point.primary_key, [0]);
    assert_eq!(data_point.unique, [vec![1]]);
    assert!(data_point.columns[0].is_generated());
}

#[test]
fn keyword_column_names_are_escaped() {
    let schema = example();
    let type_column = table(&schema, "data_point").column("type").unwrap();
    assert_eq!(type_column.rust_name, "type_");
    assert_eq!(
        type_column.default,
        Some(DefaultValue::Text("measured".to_owned()))
    );
    let self_column = table(&schema, "maintenance-window").column("self").unwrap();
    assert_eq!(self_column.rust_name, "self_");
}

#[test]
fn maintenance_window_names() {
    let schema = example();
    let window = table(&schema, "maintenance-window");
    assert_eq!(window.rust_name, "maintenance_window");
    assert_eq!(window.struct_name, "MaintenanceWindow");
    assert_eq!(window.verbose_name, "maintenance window");
    assert_eq!(
        window.column("priority").unwrap().default,
        Some(DefaultValue::Integer(3))
    );
    assert_eq!(window.foreign_keys.len(), 1);
    assert_eq!(window.foreign_keys[0].on_delete, OnDelete::Restrict);
}

#[test]
fn data_point_tag_has_a_composite_primary_key() {
    let schema = example();
    let data_point_tag = table(&schema, "data_point_tag");
    let key: Vec<&str> = data_point_tag
        .primary_key_columns()
        .map(|column| column.sql_name.as_str())
        .collect();
    assert_eq!(key, ["data_point_id", "tag_id"]);
    assert_eq!(data_point_tag.foreign_keys.len(), 2);
    assert!(data_point_tag.unique.is_empty());
}

#[test]
fn reading_has_a_composite_unique() {
    let schema = example();
    let reading = table(&schema, "reading");
    assert_eq!(reading.unique, [vec![1, 2]]);
    assert_eq!(
        reading.column("value").unwrap().ty,
        ColumnType::Numeric {
            precision: 18,
            scale: 6
        }
    );
    assert_eq!(
        reading.column("quality").unwrap().default,
        Some(DefaultValue::Integer(0))
    );
    let foreign_key = &reading.foreign_keys[0];
    assert_eq!(foreign_key.column, 1);
    assert_eq!(
        foreign_key.references_table,
        table_index(&schema, "data_point")
    );
    assert_eq!(foreign_key.on_delete, OnDelete::Cascade);
}

#[test]
fn nullable_site_reference_sets_null() {
    let schema = example();
    let data_point = table(&schema, "data_point");
    assert_eq!(data_point.foreign_keys.len(), 1);
    let foreign_key = &data_point.foreign_keys[0];
    let column = &data_point.columns[foreign_key.column];
    assert_eq!(column.sql_name, "site_id");
    assert!(column.nullable);
    let site_index = table_index(&schema, "site");
    assert_eq!(foreign_key.references_table, site_index);
    let site = &schema.tables[site_index];
    assert_eq!(site.columns[foreign_key.references_column].sql_name, "id");
    assert_eq!(foreign_key.on_delete, OnDelete::SetNull);
}

#[test]
fn site_defaults_and_uniques() {
    let schema = example();
    let site = table(&schema, "site");
    assert_eq!(site.unique, [vec![1], vec![3]]);
    assert_eq!(
        site.column("is_active").unwrap().default,
        Some(DefaultValue::Boolean(true))
    );
    let tag = table(&schema, "tag");
    assert_eq!(
        tag.column("weight").unwrap().default,
        Some(DefaultValue::Number("1".to_owned()))
    );
}
