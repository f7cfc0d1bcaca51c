//! Validation messages by field, Django REST Framework's `{"field": ["message"]}`: what a value
//! refused by its column's rules, or by a constraint of the database, tells the client.

use std::collections::BTreeMap;

use crate::data::convert::InvalidValue;

/// Validation messages by field, DRF's `{"field": ["message"]}`; a list field's item errors
/// are keyed by the item's position, `{"field": {"0": ["message"]}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, FieldError>);

/// The errors of one field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum FieldError {
    Messages(Vec<String>),
    /// Messages by item position (a list field, DRF's ListField).
    Items(BTreeMap<usize, Vec<String>>),
}

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> FieldErrors {
        let mut errors = FieldErrors::new();
        errors.add(field, message);
        errors
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        match self
            .0
            .entry(field.into())
            .or_insert_with(|| FieldError::Messages(Vec::new()))
        {
            FieldError::Messages(messages) => messages.push(message.into()),
            // A field whose items are wrong already says what to fix.
            FieldError::Items(_) => {}
        }
    }

    /// Records why a value was refused: one message, or messages per list item.
    pub fn add_invalid(&mut self, field: impl Into<String>, invalid: InvalidValue) {
        match invalid {
            InvalidValue::Message(message) => self.add(field, message),
            InvalidValue::Items(items) => {
                self.0.insert(
                    field.into(),
                    FieldError::Items(
                        items
                            .into_iter()
                            .map(|(position, message)| (position, vec![message]))
                            .collect(),
                    ),
                );
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// The messages of a field without item errors.
    pub fn messages(&self, field: &str) -> Option<&[String]> {
        match self.0.get(field)? {
            FieldError::Messages(messages) => Some(messages),
            FieldError::Items(_) => None,
        }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields: Vec<&str> = self.0.keys().map(String::as_str).collect();
        write!(f, "invalid fields: {}", fields.join(", "))
    }
}
