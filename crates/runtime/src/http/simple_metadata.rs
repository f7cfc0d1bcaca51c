//! `OPTIONS` answers in the shape of Django REST Framework's `SimpleMetadata`: the view's name
//! and description, the media types, and for callers who may write, the fields a `POST`
//! (collection) or `PUT` (item) takes.

use serde_json::{Map, Value, json};

use crate::data::meta::{ColumnKind, ColumnMeta, TableMeta};

/// Which route an `OPTIONS` request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Collection,
    Item,
}

/// The metadata document. `write_action` names the action to describe (`POST` or `PUT`) when
/// the caller may write and the route takes it (DRF omits `PUT` for a missing row too).
pub fn describe(meta: &TableMeta, route: Route, write_action: Option<&str>) -> Value {
    let mut document = Map::new();
    let suffix = match route {
        Route::Collection => "List",
        Route::Item => "Instance",
    };
    document.insert(
        "name".into(),
        Value::from(format!("{} {suffix}", title(meta.verbose_name))),
    );
    document.insert(
        "description".into(),
        Value::from(meta.doc.unwrap_or_default()),
    );
    document.insert("renders".into(), json!(["application/json"]));
    document.insert("parses".into(), json!(["application/json"]));
    if route == Route::Collection && !meta.search.is_empty() {
        // What `?search=` matches, as DRF's `search_fields` name them (`^code`, `site.name`).
        let fields: Vec<&str> = meta.search.iter().map(|field| field.written).collect();
        document.insert("search_fields".into(), json!(fields));
    }
    if let Some(action) = write_action {
        let fields: Map<String, Value> = meta
            .columns
            .iter()
            .enumerate()
            .map(|(index, column)| (column.name.to_string(), field_info(meta, index, column)))
            .collect();
        document.insert("actions".into(), json!({ action: fields }));
    }
    Value::Object(document)
}

/// Every word capitalized, as DRF names a view after its class: "Data Point".
fn title(verbose_name: &str) -> String {
    verbose_name
        .split(' ')
        .map(capitalize_first)
        .collect::<Vec<_>>()
        .join(" ")
}

fn capitalize_first(word: &str) -> String {
    let mut characters = word.chars();
    match characters.next() {
        Some(first) => first.to_uppercase().chain(characters).collect(),
        None => String::new(),
    }
}

/// DRF's field info: `type`, `required`, `read_only`, `label`, then the limits that apply,
/// a list's `child` and an enumeration's `choices`.
fn field_info(meta: &TableMeta, index: usize, column: &ColumnMeta) -> Value {
    let read_only = column.generated || column.read_only;
    let foreign_key = meta.foreign_keys.iter().any(|key| key.column == index);
    let mut info = item_info(column, foreign_key);
    let type_name = if column.array {
        "list"
    } else {
        info["type"].as_str().unwrap_or("field")
    }
    .to_string();
    let mut field = Map::new();
    field.insert("type".into(), Value::from(type_name));
    field.insert(
        "required".into(),
        Value::Bool(!read_only && column.is_required_on_create()),
    );
    field.insert("read_only".into(), Value::Bool(read_only));
    // Django's verbose name of a field: its name with spaces, the first letter capitalized.
    field.insert(
        "label".into(),
        Value::from(capitalize_first(&column.name.replace('_', " "))),
    );
    if column.array {
        field.insert("child".into(), info);
        return Value::Object(field);
    }
    let limits = info.as_object_mut().expect("field info is an object");
    limits.remove("type");
    for (key, value) in std::mem::take(limits) {
        if key == "choices" && read_only {
            continue;
        }
        field.insert(key, value);
    }
    Value::Object(field)
}

/// The type and limits of one value of `column` (one item, for a list).
fn item_info(column: &ColumnMeta, foreign_key: bool) -> Value {
    let range = |min: i64, max: i64| json!({"type": "integer", "min_value": min, "max_value": max});
    let mut info = match column.kind {
        // DRF's PrimaryKeyRelatedField is a plain "field".
        _ if foreign_key => json!({"type": "field"}),
        ColumnKind::SmallInt => range(i16::MIN.into(), i16::MAX.into()),
        ColumnKind::Integer => range(i32::MIN.into(), i32::MAX.into()),
        ColumnKind::BigInt => range(i64::MIN, i64::MAX),
        ColumnKind::Boolean => json!({"type": "boolean"}),
        ColumnKind::Real | ColumnKind::Double => json!({"type": "float"}),
        ColumnKind::Numeric { precision, scale } => {
            json!({"type": "decimal", "max_digits": precision, "decimal_places": scale})
        }
        ColumnKind::Varchar { max_length: length } | ColumnKind::Char { length } => {
            json!({"type": "string", "max_length": length})
        }
        ColumnKind::Text | ColumnKind::Citext | ColumnKind::Uuid | ColumnKind::Bytes => {
            json!({"type": "string"})
        }
        ColumnKind::Date => json!({"type": "date"}),
        ColumnKind::Time => json!({"type": "time"}),
        ColumnKind::Timestamp | ColumnKind::Timestamptz => json!({"type": "datetime"}),
        ColumnKind::Json => json!({"type": "field"}),
        ColumnKind::Enum => json!({"type": "choice"}),
    };
    if column.database_type.is_some() {
        info = json!({"type": "string"});
    }
    if let Some(named) = column.enum_type {
        info["choices"] = named
            .values
            .iter()
            .map(|value| json!({"value": value, "display_name": value}))
            .collect();
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::meta::{EnumMeta, ForeignKeyMeta};

    static KIND: EnumMeta = EnumMeta {
        name: "kind",
        values: &["a", "b"],
    };

    static TABLE: TableMeta = TableMeta {
        name: "data_point",
        verbose_name: "data point",
        doc: Some("A measured quantity."),
        read_only: false,
        columns: &[
            ColumnMeta {
                generated: true,
                ..ColumnMeta::plain("id", ColumnKind::Integer)
            },
            ColumnMeta::plain("name", ColumnKind::Varchar { max_length: 20 }),
            ColumnMeta {
                nullable: true,
                ..ColumnMeta::plain("site_id", ColumnKind::Integer)
            },
            ColumnMeta {
                has_default: true,
                enum_type: Some(&KIND),
                ..ColumnMeta::plain("kind", ColumnKind::Enum)
            },
            ColumnMeta {
                array: true,
                has_default: true,
                ..ColumnMeta::plain(
                    "scale",
                    ColumnKind::Numeric {
                        precision: 5,
                        scale: 2,
                    },
                )
            },
        ],
        primary_key: &[0],
        ordering: &[],
        unique: &[],
        foreign_keys: &[ForeignKeyMeta {
            column: 2,
            references_table: "site",
            references_column: "id",
            on_delete: "no_action",
        }],
        ignored_columns: &[],
        search: &[],
    };

    #[test]
    fn follows_drf_simple_metadata() {
        assert_eq!(
            describe(&TABLE, Route::Collection, Some("POST")),
            json!({
                "name": "Data Point List",
                "description": "A measured quantity.",
                "renders": ["application/json"],
                "parses": ["application/json"],
                "actions": {"POST": {
                    "id": {"type": "integer", "required": false, "read_only": true, "label": "Id",
                           "min_value": -2147483648, "max_value": 2147483647},
                    "name": {"type": "string", "required": true, "read_only": false, "label": "Name", "max_length": 20},
                    "site_id": {"type": "field", "required": false, "read_only": false, "label": "Site id"},
                    "kind": {"type": "choice", "required": false, "read_only": false, "label": "Kind",
                             "choices": [{"value": "a", "display_name": "a"}, {"value": "b", "display_name": "b"}]},
                    "scale": {"type": "list", "required": false, "read_only": false, "label": "Scale",
                              "child": {"type": "decimal", "max_digits": 5, "decimal_places": 2}}
                }}
            })
        );
        let item = describe(&TABLE, Route::Item, None);
        assert_eq!(item["name"], "Data Point Instance");
        assert!(item.get("actions").is_none());
    }
}
