//! `?fields=` and `?omit=` on reads: which fields of each row a GET returns (drf-flex-fields'
//! parameter names), also inside expansions (`fields=id,site.name` with `expand=site`). Only
//! when asked: a read without them is served as it comes from the database.

use serde_json::{Map, Value};

use crate::data::meta::TableMeta;
use crate::data::table_ops::TableOps;
use crate::http::error::ApiError;
use crate::http::expand;
use crate::http::list;

/// The fields a read keeps, at the top and inside expanded rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelection {
    /// `fields=`: only these, if given.
    only: Option<Vec<String>>,
    /// `omit=`: never these.
    omit: Vec<String>,
    /// Selections inside an expanded field (a key holding a row, or a `_set` list).
    nested: Vec<(String, FieldSelection)>,
}

/// The selection a query string asks for; `None` when it names none. Unknown names are 400,
/// naming them and the fields they could be, as unknown filters are.
pub fn parse(
    meta: &'static TableMeta,
    all: &[&'static TableOps],
    pairs: &[(String, String)],
) -> Result<Option<FieldSelection>, ApiError> {
    let mut selection = FieldSelection::default();
    for parameter in ["fields", "omit"] {
        let Some(text) = list::joined_values(pairs, parameter) else {
            continue;
        };
        let mut unknown = Vec::new();
        for path in text
            .split(',')
            .map(str::trim)
            .filter(|path| !path.is_empty())
        {
            // A field inside the deepest expansion is one step past it; deeper paths cannot
            // name anything a read returns, and each step costs a look at every relation.
            let steps = path.split('.').count();
            if steps > expand::MAX_DEPTH + 1 {
                return Err(ApiError::BadRequest(format!(
                    "{parameter}={path} goes {} fields deep; fields inside expansions go at \
                     most {} deep (expansions go at most {} relations deep).",
                    steps,
                    expand::MAX_DEPTH + 1,
                    expand::MAX_DEPTH
                )));
            }
            if !selection.add(meta, all, parameter, path) {
                unknown.push(path);
            }
        }
        if !unknown.is_empty() {
            let mut fields: Vec<String> = meta
                .columns
                .iter()
                .map(|column| column.name.to_string())
                .collect();
            fields.extend(
                expand::relations(meta, all)
                    .into_iter()
                    .map(|(name, _)| format!("{name}.<field>")),
            );
            return Err(ApiError::BadRequest(format!(
                "Unknown field(s) in {parameter}: {}. Fields of {}: {}.",
                unknown.join(", "),
                meta.verbose_name,
                fields.join(", ")
            )));
        }
    }
    Ok((selection != FieldSelection::default()).then_some(selection))
}

impl FieldSelection {
    /// Adds `path` (`name`, or `relation.path`) to `fields` or `omit`; false if it names no
    /// field of `meta`.
    fn add(
        &mut self,
        meta: &'static TableMeta,
        all: &[&'static TableOps],
        parameter: &str,
        path: &str,
    ) -> bool {
        let (head, tail) = match path.split_once('.') {
            Some((head, tail)) => (head, Some(tail)),
            None => (path, None),
        };
        let relation = expand::relations(meta, all)
            .into_iter()
            .find(|(name, _)| name == head)
            .map(|(_, relation)| relation);
        let field = match (&relation, tail) {
            (_, None) if meta.column(head).is_some() => head.to_string(),
            // A reverse relation's list is a field of its own once expanded.
            (Some(relation), None) if relation.field() == head => head.to_string(),
            (Some(relation), Some(_)) => relation.field().to_string(),
            _ => return false,
        };
        match (tail, relation) {
            (None, _) => {
                let list = if parameter == "fields" {
                    self.only.get_or_insert_with(Vec::new)
                } else {
                    &mut self.omit
                };
                if !list.contains(&field) {
                    list.push(field);
                }
                true
            }
            (Some(tail), Some(relation)) => {
                if parameter == "fields" {
                    let only = self.only.get_or_insert_with(Vec::new);
                    if !only.contains(&field) {
                        only.push(field.clone());
                    }
                }
                let position = match self.nested.iter().position(|(name, _)| *name == field) {
                    Some(position) => position,
                    None => {
                        self.nested.push((field, FieldSelection::default()));
                        self.nested.len() - 1
                    }
                };
                self.nested[position]
                    .1
                    .add(relation.rows_of().meta, all, parameter, tail)
            }
            (Some(_), None) => false,
        }
    }

    fn keeps(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|kept| kept == name))
            && !self.omit.iter().any(|left_out| left_out == name)
    }

    /// Keeps only the selected fields of `row`, also inside its expanded fields.
    pub(crate) fn select(&self, row: &mut Map<String, Value>) {
        row.retain(|name, _| self.keeps(name));
        for (field, nested) in &self.nested {
            match row.get_mut(field) {
                Some(Value::Object(inner)) => nested.select(inner),
                Some(Value::Array(items)) => {
                    for item in items {
                        if let Value::Object(inner) = item {
                            nested.select(inner);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}
