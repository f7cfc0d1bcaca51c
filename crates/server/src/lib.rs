//! The tenantapi server: configuration, the platform database, the project registry, the HTTP
//! application and the command line, as a library over any generated API
//! (`tenantapi_runtime::api::GeneratedApi`), so that tests, the test kit and other generated
//! crates build it in-process or into their own binary.

pub mod access;
pub mod accounts;
pub mod app;
pub mod auth;
pub mod caller;
pub mod check;
pub mod cli;
pub mod commands;
pub mod config;
pub mod create_database;
pub mod demo;
pub mod docs;
pub mod health;
pub mod hosts;
pub mod introspect;
pub mod logging;
pub mod metrics;
pub mod platform;
pub mod progress;
pub mod registry;
pub mod secrets;
pub mod serve;
pub mod throttle;
