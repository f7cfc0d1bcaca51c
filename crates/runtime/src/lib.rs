//! Hand-written runtime that generated code calls: connections, value types, metadata,
//! validation, query parsing, errors, the connection guard and the generic handlers.

pub mod api;
pub mod budget;
pub mod database_url;
pub mod db;
pub mod decimal;
pub mod error;
pub mod expand;
pub mod fixtures;
pub mod values;
pub mod version;
pub mod write;

pub use values::{Bytes, Decimal, Json, List, Timestamptz, Uuid};
pub mod body;
pub mod conditional;
pub mod constraint;
pub mod convert;
pub mod cursor;
pub mod guard;
pub mod handlers;
pub mod key_path;
pub mod limit;
pub mod list;
pub mod meta;
pub mod metadata;
pub mod pool;
pub mod resource;
pub mod selection;
pub mod settings;
pub mod shaping;
pub mod sql;
pub mod stored;
pub mod table_ops;
pub mod urls;
pub mod watch;

/// Crates that generated code names, so that the generated crate depends on this one only
/// for them and their versions always match.
pub mod reexports {
    pub use chrono;
    pub use serde_json;
}
