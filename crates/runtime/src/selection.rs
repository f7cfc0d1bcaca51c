//! `?fields=` and `?omit=` on reads: which fields of each row a GET returns (drf-flex-fields'
//! parameter names). Only when asked: a read without them is served as it comes from the
//! database, with no extra work.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::list;
use crate::meta::TableMeta;

/// The fields a read keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSelection {
    /// `fields=`: only these (in the table's order), if given.
    only: Option<Vec<&'static str>>,
    /// `omit=`: never these.
    omit: Vec<&'static str>,
}

/// The selection a query string asks for; `None` when it names none. Unknown names are 400,
/// naming them and the table's fields, as unknown filters are.
pub fn parse(meta: &TableMeta, query_string: &str) -> Result<Option<FieldSelection>, ApiError> {
    let pairs = list::query_pairs(query_string)?;
    let names = |parameter: &str| -> Result<Option<Vec<&'static str>>, ApiError> {
        let Some(text) = list::last_value(&pairs, parameter) else {
            return Ok(None);
        };
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for name in text
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            match meta.column(name) {
                Some(column) => found.push(column.name),
                None => unknown.push(name),
            }
        }
        if !unknown.is_empty() {
            let fields: Vec<&str> = meta.columns.iter().map(|column| column.name).collect();
            return Err(ApiError::BadRequest(format!(
                "Unknown field(s) in {parameter}: {}. Fields of {}: {}.",
                unknown.join(", "),
                meta.verbose_name,
                fields.join(", ")
            )));
        }
        Ok((!found.is_empty()).then_some(found))
    };
    let only = names("fields")?;
    let omit = names("omit")?.unwrap_or_default();
    if only.is_none() && omit.is_empty() {
        return Ok(None);
    }
    Ok(Some(FieldSelection { only, omit }))
}

impl FieldSelection {
    fn keeps(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.contains(&name)) && !self.omit.contains(&name)
    }

    fn select(&self, row: &mut Map<String, Value>) {
        row.retain(|name, _| self.keeps(name));
    }

    /// One row's JSON with only the selected fields.
    pub fn apply_to_row(&self, json: &str) -> Result<String, ApiError> {
        let mut row: Map<String, Value> = serde_json::from_str(json)
            .map_err(|error| ApiError::internal("reading a served row", error))?;
        self.select(&mut row);
        serde_json::to_string(&row).map_err(|error| ApiError::internal("row serialization", error))
    }

    /// A page's JSON with only the selected fields in each of its `results`.
    pub fn apply_to_page(&self, json: &str) -> Result<String, ApiError> {
        let mut page: Map<String, Value> = serde_json::from_str(json)
            .map_err(|error| ApiError::internal("reading a served page", error))?;
        if let Some(Value::Array(rows)) = page.get_mut("results") {
            for row in rows {
                if let Value::Object(row) = row {
                    self.select(row);
                }
            }
        }
        serde_json::to_string(&page)
            .map_err(|error| ApiError::internal("page serialization", error))
    }
}
