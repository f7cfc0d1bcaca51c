//! Hand-written runtime that generated code calls, in three layers that import only downward:
//! `http` (Django REST Framework's conventions over the generic handlers) uses `data` (table
//! descriptions, values, SQL, validation and writes), which uses `connections` (project
//! databases, their pools, scheduling and structure version). `api` is what a generated crate
//! hands the server.

pub mod api;
pub mod connections;
pub mod data;
pub mod http;

pub use data::values::{Bytes, Decimal, Json, List, Timestamptz, Uuid};

/// Crates that generated code names, so that the generated crate depends on this one only
/// for them and their versions always match.
pub mod reexports {
    pub use chrono;
    pub use serde_json;
}
