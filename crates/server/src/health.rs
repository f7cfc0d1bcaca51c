//! Whether each project database may be served, and at which of the structure versions this
//! build serves: the version it records, checked when a pooled connection is opened, at
//! startup, periodically, when work fails in a way a version change explains, and by the
//! `check` command.

use std::sync::{Arc, RwLock};

use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::connections::Unavailable;
use tenantapi_runtime::connections::db::DbConnection;
use tenantapi_runtime::connections::pool::ConnectionHooks;

/// What the last look at a project database found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Not looked at yet.
    Unchecked,
    /// It records `version`, which this build serves: it is served at that version.
    Ok {
        version: &'static str,
    },
    /// It records a version this build does not serve.
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
            Health::Ok { .. } => "ok",
            Health::VersionMismatch { .. } => "version mismatch",
            Health::VersionUnreadable { .. } => "version unreadable",
            Health::Unreachable { .. } => "unreachable",
        }
    }

    /// The version the database records, if it was read.
    pub fn found_version(&self) -> Option<&str> {
        match self {
            Health::VersionMismatch { found } => Some(found),
            Health::Ok { version } => Some(version),
            _ => None,
        }
    }

    /// The version it is served at, when it is served.
    pub fn served_version(&self) -> Option<&'static str> {
        match self {
            Health::Ok { version } => Some(version),
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

/// Reads the version over an open connection and judges it against every version `api` (the
/// newest's API) serves.
pub fn judge(connection: &mut DbConnection, api: &'static GeneratedApi) -> Health {
    // Every served version reads the version the same way (`gen` makes sure of it).
    match api.served_version().read(connection, false) {
        Ok(found) => match api.at_version(&found) {
            Some(served) => Health::Ok {
                version: served.schema_version,
            },
            None => Health::VersionMismatch { found },
        },
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
        if previous.found_version() != health.found_version() {
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
pub fn refusal(health: &Health, api: &'static GeneratedApi) -> Option<Unavailable> {
    match health {
        Health::VersionMismatch { found } => Some(Unavailable::VersionMismatch {
            found: found.clone(),
            serves: api.served_versions_text(),
        }),
        Health::VersionUnreadable { .. } => Some(Unavailable::VersionUnreadable),
        Health::Unchecked | Health::Ok { .. } | Health::Unreachable { .. } => None,
    }
}

/// Checks every connection a project's pool opens, and records what opening taught: a
/// connection to a database of a version this build does not serve is never used.
#[derive(Debug)]
pub struct VersionCheckOnOpen {
    pub health: Arc<HealthCell>,
    /// The newest version's API, which lists the others.
    pub api: &'static GeneratedApi,
}

impl VersionCheckOnOpen {
    /// Verifies the structure of a project served at `version` unless it was verified since
    /// the version was last seen to change.
    fn verify_once(&self, project: &str, connection: &mut DbConnection, version: &str) {
        if self.health.drift().is_none()
            && let Some(api) = self.api.at_version(version)
        {
            self.health
                .set_drift(verify_structure(api, project, connection));
        }
    }
}

/// How a project database's live structure differs from `api`'s description (the version it
/// records; what
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
        let health = judge(connection, self.api);
        let previous = self.health.set(health.clone());
        if let Some(refused) = refusal(&health, self.api) {
            if previous != health {
                tracing::warn!(
                    "project {project}: refusing its connections: {}",
                    health.status()
                );
            }
            return Err(refused);
        }
        log_change(project, &previous, &health);
        if let Some(version) = health.served_version() {
            self.verify_once(project, connection, version);
        }
        Ok(())
    }

    fn on_version_doubt(
        &self,
        project: &str,
        connection: &mut DbConnection,
        served: &str,
    ) -> Option<Unavailable> {
        let health = judge(connection, self.api);
        let previous = self.health.set(health.clone());
        log_change(project, &previous, &health);
        let Some(now) = health.served_version() else {
            return refusal(&health, self.api);
        };
        self.verify_once(project, connection, now);
        (now != served).then(|| Unavailable::VersionSwitched {
            to: now.to_string(),
        })
    }

    fn on_unreachable(&self, _project: &str, reason: &str) {
        self.health.set(Health::Unreachable {
            reason: reason.to_string(),
        });
    }
}

/// Logs a project's health when what it is served at changes (not its first check).
pub fn log_change(project: &str, previous: &Health, health: &Health) {
    if previous == health || *previous == Health::Unchecked {
        return;
    }
    match (previous.served_version(), health) {
        (Some(from), Health::Ok { version }) => tracing::info!(
            "project {project}: its database moved from structure version {from} to {version}; serving it at {version}"
        ),
        (None, Health::Ok { version }) => {
            tracing::info!("project {project}: serving it again, at structure version {version}")
        }
        (_, other) => tracing::warn!("project {project}: {}; not serving it", other.status()),
    }
}
