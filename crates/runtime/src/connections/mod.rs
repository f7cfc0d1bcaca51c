//! Project databases: connections and their URLs, one pool per project, the connection budget
//! and the fair shares that schedule work on them, lost-connection watching, and the structure
//! version each database records. Imports nothing from `data` or `http`.

pub mod budget;
pub mod database_url;
pub mod db;
pub mod failure;
pub mod limit;
pub mod pool;
pub mod transaction;
pub mod unavailable;
pub mod version;
pub mod watch;

pub use failure::{DatabaseFailure, classify};
pub use unavailable::Unavailable;
