//! Whether each project database may be served: its structure version, checked when a pooled
//! connection is opened, at startup, periodically, and by the `check` command.

use std::sync::{Arc, RwLock};

use tenantapi_runtime::api::GeneratedApi;
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
pub struct HealthCell {
    health: RwLock<Option<Health>>,
    /// How the live structure differs from the description of the version it records, as
    /// verified on the first connection after the version was last seen to change (`None`:
    /// not verified yet; empty: no difference).
    drift: RwLock<Option<Vec<String>>>,
}

impl HealthCell {
    pub fn get(&self) -> Health {
        self.health
            .read()
            .expect("health lock poisoned")
            .clone()
            .unwrap_or(Health::Unchecked)
    }

    /// Records `health`; returns the previous value so that changes can be logged once. A
    /// version seen to change is verified again.
    pub fn set(&self, health: Health) -> Health {
        let mut slot = self.health.write().expect("health lock poisoned");
        let previous = slot.replace(health.clone()).unwrap_or(Health::Unchecked);
        if previous.found_version("") != health.found_version("") {
            *self.drift.write().expect("drift lock poisoned") = None;
        }
        previous
    }

    /// The differences found by the last verification, if the structure was verified.
    pub fn drift(&self) -> Option<Vec<String>> {
        self.drift.read().expect("drift lock poisoned").clone()
    }

    pub fn set_drift(&self, lines: Vec<String>) {
        *self.drift.write().expect("drift lock poisoned") = Some(lines);
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
    /// The API whose description the live structure is verified against.
    pub api: &'static GeneratedApi,
}

/// How a project database's live structure differs from `api`'s description (what
/// `check --structure` reports), logged when it does. Verified once per project and version
/// (on its first connection, or by the first check that finds the version matching): the
/// project stays served, and the statements that meet a missing table or column answer 503
/// naming it. A structure that cannot be read is logged, not held against the project.
pub fn verify_structure(
    api: &'static GeneratedApi,
    project: &str,
    connection: &mut DbConnection,
) -> Vec<String> {
    let other_schemas = api.postgres_search_path.get(1..).unwrap_or_default();
    let lines = match crate::introspect::live_structure(connection, other_schemas) {
        Ok(live) => crate::introspect::drift(&live, api.table_metas()),
        Err(error) => {
            tracing::warn!("project {project}: cannot read its structure to verify it: {error}");
            Vec::new()
        }
    };
    if !lines.is_empty() {
        tracing::warn!(
            "project {project}: its structure differs from the description of version {} \
             ({} difference(s): {}); statements that meet a missing table or column answer \
             503 (`tenantapi check --structure` lists them all)",
            api.schema_version,
            lines.len(),
            lines.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        );
    }
    lines
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
        if self.health.drift().is_none() {
            self.health
                .set_drift(verify_structure(self.api, project, connection));
        }
        Ok(())
    }

    fn on_unreachable(&self, _project: &str, reason: &str) {
        self.health.set(Health::Unreachable {
            reason: reason.to_string(),
        });
    }
}
