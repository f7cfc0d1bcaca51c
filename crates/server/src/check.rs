//! `check`: the release pipeline's question "may this build serve every project database?"
//! (and, with `--require-newest`, "has every project reached the newest version?"), answered
//! for all enabled projects concurrently, each within a timeout.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use tenantapi_runtime::api::GeneratedApi;

use crate::health::{Health, judge};
use crate::introspect;

/// One project's answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckRow {
    pub project: String,
    /// The structure version its database records, if it could be read.
    pub found: Option<String>,
    /// Whether this build serves `found`: [`SERVED_NEWEST`], [`SERVED_OLDER`] or
    /// [`NOT_SERVED`]; absent when the version is not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served: Option<&'static str>,
    pub status: &'static str,
    /// Structure differences (`--structure`), one per line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<String>,
    /// Why a database could not be checked; never contains its URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub const STATUS_OK: &str = "ok";
pub const STATUS_DRIFTED: &str = "drifted";
/// Served, but at an older version than the newest, under `--require-newest`.
pub const STATUS_NOT_NEWEST: &str = "not newest";

pub const SERVED_NEWEST: &str = "newest";
pub const SERVED_OLDER: &str = "yes";
pub const NOT_SERVED: &str = "no";

/// What `check` asks of each project.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Compare each live structure with its version's description.
    pub structure: bool,
    /// Count a project served at an older version as not ready (`--require-newest`): the
    /// older version's description may be dropped once every project passes.
    pub require_newest: bool,
}

/// Process exit code for a set of rows: 0 all match, 1 any mismatch or drift, 2 any unreachable.
pub fn exit_code(rows: &[CheckRow]) -> u8 {
    if rows.iter().any(|row| {
        row.status
            == Health::Unreachable {
                reason: String::new(),
            }
            .status()
    }) {
        2
    } else if rows.iter().any(|row| row.status != STATUS_OK) {
        1
    } else {
        0
    }
}

fn check_one(
    api: &'static GeneratedApi,
    project: String,
    url: &str,
    timeout: Duration,
    options: CheckOptions,
) -> CheckRow {
    let mut row = CheckRow {
        project,
        found: None,
        served: None,
        status: "unreachable",
        drift: Vec::new(),
        reason: None,
    };
    let url = api
        .project_url(url)
        .with_default_parameter("connect_timeout", &timeout.as_secs().max(2).to_string());
    let mut connection = match url.open_existing() {
        Ok(connection) => connection,
        Err(error) => {
            row.reason = Some(error.to_string());
            return row;
        }
    };
    let health = judge(&mut connection, api);
    row.found = health.found_version().map(str::to_string);
    row.status = health.status();
    row.served = match (&health, health.served_version()) {
        (_, Some(version)) if version == api.schema_version => Some(SERVED_NEWEST),
        (_, Some(_)) => Some(SERVED_OLDER),
        (Health::VersionMismatch { .. }, None) => Some(NOT_SERVED),
        _ => None,
    };
    if let Health::VersionUnreadable { reason } = &health {
        row.reason = Some(reason.clone());
    }
    if options.require_newest && row.served == Some(SERVED_OLDER) {
        row.status = STATUS_NOT_NEWEST;
    }
    // The structure is compared with the description of the version the database records;
    // one this build does not serve has none here.
    let described = health
        .served_version()
        .and_then(|version| api.at_version(version));
    if options.structure
        && let Some(described) = described
    {
        let other_schemas = described.postgres_search_path.get(1..).unwrap_or_default();
        match introspect::live_structure(&mut connection, other_schemas) {
            Ok(live) => {
                row.drift = introspect::drift(&live, described.table_metas());
                if !row.drift.is_empty() && row.status == STATUS_OK {
                    row.status = STATUS_DRIFTED;
                }
            }
            Err(error) => {
                row.drift = vec![format!("cannot introspect the database: {error}")];
                if row.status == STATUS_OK {
                    row.status = STATUS_DRIFTED;
                }
            }
        }
    }
    row
}

/// Checks every `(project, url)` concurrently (at most 32 at a time); a project that has not
/// answered within `timeout` of its turn is reported unreachable. `checked` hears of each
/// project as its row is settled (for a progress bar).
pub fn check_projects(
    api: &'static GeneratedApi,
    projects: Vec<(String, String)>,
    timeout: Duration,
    options: CheckOptions,
    checked: &dyn Fn(&CheckRow),
) -> Vec<CheckRow> {
    let mut rows = Vec::with_capacity(projects.len());
    for batch in projects.chunks(32) {
        let (sender, receiver) = mpsc::channel();
        for (index, (project, url)) in batch.iter().enumerate() {
            let sender = sender.clone();
            let (project, url) = (project.clone(), url.clone());
            // Detached: a database that hangs past the timeout must not hold the report back.
            std::thread::spawn(move || {
                let _ = sender.send((index, check_one(api, project, &url, timeout, options)));
            });
        }
        drop(sender);
        let deadline = Instant::now() + timeout + Duration::from_secs(1);
        let mut answered: Vec<Option<CheckRow>> = vec![None; batch.len()];
        while answered.iter().any(Option::is_none) {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            match receiver.recv_timeout(left) {
                Ok((index, row)) => {
                    checked(&row);
                    answered[index] = Some(row);
                }
                Err(_) => break,
            }
        }
        for (slot, (project, _)) in answered.into_iter().zip(batch) {
            rows.push(slot.unwrap_or_else(|| {
                let row = CheckRow {
                    project: project.clone(),
                    found: None,
                    served: None,
                    status: "unreachable",
                    drift: Vec::new(),
                    reason: Some(format!("no answer within {} s", timeout.as_secs())),
                };
                checked(&row);
                row
            }));
        }
    }
    rows
}

/// The human-readable report: one aligned row per project, drift lines below their project.
pub fn render_table(rows: &[CheckRow]) -> String {
    let header = ["PROJECT", "FOUND", "SERVED", "STATUS"];
    let cells: Vec<[String; 4]> = rows
        .iter()
        .map(|row| {
            [
                row.project.clone(),
                row.found.clone().unwrap_or_else(|| "-".into()),
                row.served.unwrap_or("-").to_string(),
                row.status.to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: [&str; 4]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
        .trim_end()
        .to_string()
    };
    let mut out = line(header) + "\n";
    for (cell, row) in cells.iter().zip(rows) {
        out.push_str(&line([&cell[0], &cell[1], &cell[2], &cell[3]]));
        out.push('\n');
        if let Some(reason) = &row.reason {
            out.push_str(&format!("    {reason}\n"));
        }
        for drift in &row.drift {
            out.push_str(&format!("    {drift}\n"));
        }
    }
    out.push_str(&render_rollout(rows));
    out
}

/// The rollout summary under the table: projects by the version they record, and whether this
/// build serves it.
fn render_rollout(rows: &[CheckRow]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let counts = crate::health::projects_by_version(rows.iter().map(|row| row.found.as_deref()));
    let width = counts
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("VERSION".len());
    let mut out = format!("\n{:<width$}  PROJECTS  SERVED\n", "VERSION");
    for (version, projects) in &counts {
        let served = rows
            .iter()
            .find(|row| row.found.as_deref() == Some(version.as_str()))
            .and_then(|row| row.served)
            .unwrap_or("-");
        out.push_str(&format!("{version:<width$}  {projects:<8}  {served}\n"));
    }
    out
}
