//! Hand-written runtime that generated code calls: connections, value types, metadata,
//! validation, query parsing, errors, the connection guard and the generic handlers.

pub mod db;
pub mod error;
pub mod decimal;
pub mod values;

pub use values::{Bytes, Decimal, Json, Timestamptz, Uuid, absent_or_nullable};
pub mod meta;
pub mod sql;
pub mod body;
pub mod convert;
pub mod list;
pub mod constraint;
pub mod guard;
pub mod handlers;
