//! Whether each project database may be served: its structure version, checked when a pooled
//! connection is opened, at startup, periodically, and by the `check` command.

use std::sync::{Arc, RwLock};

use tenantapi_runtime::connections::Unavailable;
use tenantapi_runtime::connections::db::DbConnection;
use tenantapi_runtime::connections::pool::ConnectionHooks;
use tenantapi_runtime::connections::version::StructureVersion;

/// What the last look at a project database found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Not looked at yet.
    Unchecked,
    Ok,
    VersionMismatch {
        found: String,
    },
    /// Connected, but the version could not be read (missing table, no row, several rows).
    VersionUnreadable {
        reason: String,
    },
    Unreachable {
        reason: String,
    },
}

impl Health {
    /// The word operators see in `/readyz` and `check`.
    pub fn status(&self) -> &'static str {
        match self {
            Health::Unchecked => "unchecked",
            Health::Ok => "ok",
            Health::VersionMismatch { .. } => "version mismatch",
            Health::VersionUnreadable { .. } => "version unreadable",
            Health::Unreachable { .. } => "unreachable",
        }
    }

    /// The version the database records, if it was read (`expected` when it matched).
    pub fn found_version<'a>(&'a self, expected: &'a str) -> Option<&'a str> {
        match self {
            Health::VersionMismatch { found } => Some(found),
            Health::Ok => Some(expected),
            _ => None,
        }
    }
}

/// The label of projects whose recorded version is not known (not checked yet, unreachable,
/// version unreadable) in a rollout summary.
pub const UNKNOWN_VERSION: &str = "unknown";

/// How far a rollout has reached: the number of projects by the structure version they record
/// (as last seen; [`UNKNOWN_VERSION`] where it is not known), in version order.
pub fn projects_by_version<'a>(
    found: impl IntoIterator<Item = Option<&'a str>>,
) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for version in found {
        *counts
            .entry(version.unwrap_or(UNKNOWN_VERSION).to_string())
            .or_insert(0) += 1;
    }
    counts
}

/// Reads the version over an open connection and judges it.
pub fn judge(connection: &mut DbConnection, version: &StructureVersion) -> Health {
    match version.read(connection, false) {
        Ok(found) if found == version.expected => Health::Ok,
        Ok(found) => Health::VersionMismatch { found },
        Err(error) => Health::VersionUnreadable {
            reason: error.to_string(),
        },
    }
}

/// A project's health, shared by its pool's customizer, the guard and the periodic check.
#[derive(Debug, Default)]
pub struct HealthCell(RwLock<Option<Health>>);

impl HealthCell {
    pub fn get(&self) -> Health {
        self.0
            .read()
            .expect("health lock poisoned")
            .clone()
            .unwrap_or(Health::Unchecked)
    }

    /// Records `health`; returns the previous value so that changes can be logged once.
    pub fn set(&self, health: Health) -> Health {
        let mut slot = self.0.write().expect("health lock poisoned");
        slot.replace(health).unwrap_or(Health::Unchecked)
    }
}

/// The 503 a caller granted on the project gets while its database cannot be served, if so.
pub fn refusal(health: &Health, version: &StructureVersion) -> Option<Unavailable> {
    match health {
        Health::VersionMismatch { found } => Some(version.mismatch(found)),
        Health::VersionUnreadable { .. } => Some(Unavailable::VersionUnreadable),
        Health::Unchecked | Health::Ok | Health::Unreachable { .. } => None,
    }
}

/// Checks every connection a project's pool opens, and records what opening taught: a
/// connection to a database of another structure version is never used.
#[derive(Debug)]
pub struct VersionCheckOnOpen {
    pub health: Arc<HealthCell>,
    pub version: StructureVersion,
}

impl ConnectionHooks for VersionCheckOnOpen {
    fn on_open(&self, project: &str, connection: &mut DbConnection) -> Result<(), Unavailable> {
        let health = judge(connection, &self.version);
        let previous = self.health.set(health.clone());
        if let Some(refused) = refusal(&health, &self.version) {
            if previous != health {
                tracing::warn!(
                    "project {project}: refusing its connections: {}",
                    health.status()
                );
            }
            return Err(refused);
        }
        if previous != Health::Ok && previous != Health::Unchecked {
            tracing::info!("project {project}: structure version matches again; serving it");
        }
        Ok(())
    }

    fn on_unreachable(&self, _project: &str, reason: &str) {
        self.health.set(Health::Unreachable {
            reason: reason.to_string(),
        });
    }
}
