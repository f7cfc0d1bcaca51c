//! The tenantapi server: configuration, the platform database, the project registry and the
//! HTTP application, as a library so that tests and the test kit can build it in-process.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod check;
pub mod commands;
pub mod config;
pub mod demo;
pub mod health;
pub mod hosts;
pub mod introspect;
pub mod platform;
pub mod registry;
pub mod secrets;
pub mod serve;
