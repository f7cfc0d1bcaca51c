//! Tables as data: the static descriptions generated code emits, value types and their
//! conversions from JSON and stored values, SQL building, validation, constraint violations
//! explained per field, and the writes. Imports from `connections`, never from `http`.

pub mod aggregate;
pub mod constraint;
pub mod convert;
pub mod decimal;
pub mod export_rows;
pub mod field_errors;
pub mod fixtures;
pub mod meta;
pub mod resource;
pub mod sql;
pub mod stored;
pub mod table_ops;
pub mod values;
pub mod write;
pub mod write_error;
