//! The HTTP API in Django REST Framework's conventions: the connection guard, the generic
//! handlers, request parsing (lists, bodies, cursors, conditions, field selection,
//! expansions), `OPTIONS` answers, and the one error type with its mapping of every lower
//! layer's errors to HTTP.

pub mod aggregate;
pub mod body;
pub mod conditional;
pub mod cursor;
pub mod error;
pub mod expand;
pub mod guard;
pub mod handlers;
pub mod key_path;
pub mod list;
pub mod selection;
pub mod settings;
pub mod shaping;
pub mod simple_metadata;
pub mod urls;
