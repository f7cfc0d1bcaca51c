//! `[[enum]]`: named enumerations, each a list of distinct values in order, which columns name
//! as their `type`.

use toml::Spanned;

use crate::error::Reporter;
use crate::model::EnumType;
use crate::raw::RawEnum;
use crate::type_spelling::parse_column_type;

use super::name_checks::check_sql_name;

/// PostgreSQL's longest enum label, in bytes.
const MAX_LABEL_BYTES: usize = 63;

pub(super) fn lower_enums(
    reporter: &mut Reporter<'_>,
    raw: Vec<Spanned<RawEnum>>,
) -> Vec<EnumType> {
    let mut enums: Vec<EnumType> = Vec::new();
    for raw in raw {
        let offset = raw.span().start;
        let raw = raw.into_inner();
        let Some(name) = raw.name else {
            reporter.error(
                offset,
                "an `[[enum]]` has no `name`",
                Some(
                    "add `name = \"...\"`: the type's SQL name, which columns use as `type`"
                        .to_owned(),
                ),
            );
            continue;
        };
        let name_offset = name.span().start;
        if !check_sql_name(reporter, "enum", &name) {
            continue;
        }
        let name = name.into_inner();
        if parse_column_type(&name).is_ok() {
            reporter.error(
                name_offset,
                format!("enum `{name}` has the name of a built-in type"),
                Some("give the enumeration another name".to_owned()),
            );
            continue;
        }
        if enums.iter().any(|existing| existing.sql_name == name) {
            reporter.error(
                name_offset,
                format!("duplicate enum `{name}`"),
                Some("describe each enumeration once".to_owned()),
            );
            continue;
        }
        let Some(values) = raw.values else {
            reporter.error(
                name_offset,
                format!("enum `{name}` has no `values`"),
                Some("add `values = [\"...\", ...]`, in the enumeration's order".to_owned()),
            );
            continue;
        };
        let values_offset = values.span().start;
        let mut checked: Vec<String> = Vec::new();
        for value in values.into_inner() {
            let value_offset = value.span().start;
            let value = value.into_inner();
            let problem = if value.is_empty() {
                Some(format!("enum `{name}` has an empty value"))
            } else if value.len() > MAX_LABEL_BYTES {
                Some(format!(
                    "value `{value}` of enum `{name}` is longer than {MAX_LABEL_BYTES} bytes"
                ))
            } else if checked.contains(&value) {
                Some(format!("enum `{name}` lists `{value}` twice"))
            } else {
                None
            };
            match problem {
                Some(message) => reporter.error(
                    value_offset,
                    message,
                    Some("list distinct, non-empty values of at most 63 bytes".to_owned()),
                ),
                None => checked.push(value),
            }
        }
        if checked.is_empty() {
            reporter.error(
                values_offset,
                format!("enum `{name}` has no values"),
                Some("list its values, in order".to_owned()),
            );
            continue;
        }
        enums.push(EnumType {
            sql_name: name,
            doc: raw.doc,
            values: checked,
        });
    }
    enums
}
