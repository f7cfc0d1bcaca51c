//! `demo`: two SQLite project databases with different sample rows, created from the generated
//! DDL under a data directory, registered in a SQLite platform database, ready to serve.

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::connections::db::DbConnection;

use crate::accounts::{self, AccountError, Role};
use crate::platform::{self, PlatformError};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot create {path}: {source}")]
    CreateDirectory {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the demo database {path}: {message}")]
    Database { path: PathBuf, message: String },
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Account(#[from] AccountError),
}

/// The demo projects and the rows that tell them apart.
const PROJECTS: &[(&str, &str)] = &[
    (
        "acme",
        "INSERT INTO site (code, name, external_ref, latitude, longitude, commissioned_on) VALUES
           ('ACM-N', 'Acme North', '2f1d6a3e-8c4b-4b7e-9d2a-1e5f0c3b7a11', 47.61, 8.53, '2019-04-01'),
           ('ACM-S', 'Acme South', '9a7c2e14-3b5d-4f6a-8e1c-0d2b4a6c8e22', 46.95, 7.44, NULL);
         INSERT INTO data_point (name, unit, site_id, type) VALUES
           ('north/electricity', 'kWh', 1, 'measured'),
           ('north/water', 'm3', 1, 'measured'),
           ('south/electricity', 'kWh', 2, 'measured'),
           ('total/electricity', 'kWh', NULL, 'computed');
         INSERT INTO reading (data_point_id, measured_at, value, quality) VALUES
           (1, '2024-06-01 00:00:00', 1520.250000, 0),
           (1, '2024-06-02 00:00:00', 1544.750000, 0),
           (3, '2024-06-01 00:00:00', 870.000000, 2);
         INSERT INTO tag (label, color) VALUES ('energy', '#f5a623'), ('billing', NULL);
         INSERT INTO data_point_tag (data_point_id, tag_id) VALUES (1, 1), (1, 2), (3, 1);
         INSERT INTO \"maintenance-window\" (site_id, starts_at, daily_start, details, \"self\") VALUES
           (2, '2024-07-01 06:00:00', '06:00:00', '{\"crew\": 2, \"reason\": \"meter swap\"}', 'ops@acme');",
    ),
    (
        "globex",
        "INSERT INTO site (code, name, external_ref, latitude, longitude, commissioned_on) VALUES
           ('GLX-HQ', 'Globex Headquarters', '5b8e1f20-7d3c-4a9b-b6e4-2c1a0f9d8e33', 40.71, -74.01, '2021-09-15');
         INSERT INTO data_point (name, unit, site_id, type) VALUES
           ('hq/gas', 'm3', 1, 'measured'),
           ('hq/heat', 'MWh', 1, 'computed');
         INSERT INTO reading (data_point_id, measured_at, value) VALUES
           (1, '2024-06-01 12:00:00', 42.125000);
         INSERT INTO tag (label) VALUES ('heating');
         INSERT INTO data_point_tag (data_point_id, tag_id) VALUES (2, 1);",
    ),
];

pub struct DemoSetup {
    pub platform_database_url: String,
    pub projects: Vec<String>,
    /// A fresh token of [`DEMO_USER`], created at each start (earlier ones are revoked).
    pub token: String,
}

/// The demo's API user: write on `acme`, read on `globex`.
pub const DEMO_USER: &str = "demo";

/// Creates what is missing under `data_dir`; existing databases are kept, so a restarted demo
/// keeps the rows written through the API.
///
/// The demo's rows are written for the structure of `schema/project.toml`.
pub fn prepare(api: &'static GeneratedApi, data_dir: &Path) -> Result<DemoSetup, DemoError> {
    let projects_dir = data_dir.join("projects");
    std::fs::create_dir_all(&projects_dir).map_err(|source| DemoError::CreateDirectory {
        path: projects_dir.clone(),
        source,
    })?;
    let platform_database_url = data_dir.join("platform.db").display().to_string();
    let (mut platform, _) = platform::open_and_migrate(&platform_database_url)?;
    let mut names = Vec::new();
    for (name, rows) in PROJECTS {
        let path = projects_dir.join(format!("{name}.db"));
        if !path.exists() {
            create_project_database(api, &path, rows)?;
        }
        platform::add_project(&mut platform, name, &path.display().to_string())?;
        platform::set_enabled(&mut platform, name, true)?;
        names.push(name.to_string());
    }
    accounts::add_user(&mut platform, DEMO_USER, false, None)?;
    accounts::set_user_active(&mut platform, DEMO_USER, true)?;
    accounts::grant(&mut platform, DEMO_USER, "acme", Role::Write)?;
    accounts::grant(&mut platform, DEMO_USER, "globex", Role::Read)?;
    for token in accounts::list_tokens(&mut platform, DEMO_USER)? {
        accounts::revoke_token(&mut platform, &token.prefix)?;
    }
    let token = accounts::create_token(&mut platform, DEMO_USER, "demo", None)?;
    Ok(DemoSetup {
        platform_database_url,
        projects: names,
        token,
    })
}

fn create_project_database(
    api: &'static GeneratedApi,
    path: &Path,
    rows: &str,
) -> Result<(), DemoError> {
    let failed = |message: String| DemoError::Database {
        path: path.to_path_buf(),
        message,
    };
    let mut connection = DbConnection::open(&path.display().to_string())
        .map_err(|error| failed(error.to_string()))?;
    let script = format!(
        "BEGIN;\n{}\n{};\n{}\nCOMMIT;",
        api.sqlite_ddl, api.insert_version_sql, rows
    );
    if let Err(error) = connection.batch_execute(&script) {
        drop(connection);
        let _ = std::fs::remove_file(path);
        return Err(failed(error.to_string()));
    }
    Ok(())
}

/// Commands that work against the demo as started.
pub fn curl_lines(base: &str, token: &str) -> Vec<String> {
    let auth = format!("-H 'Authorization: Token {token}'");
    let json = "-H 'Content-Type: application/json'";
    vec![
        format!("curl {auth} {base}/api/v1/"),
        format!("curl {auth} {base}/api/v1/acme/"),
        format!("curl {auth} '{base}/api/v1/acme/data_point/?ordering=-name&unit=kWh'"),
        format!("curl {auth} {base}/api/v1/globex/data_point/"),
        format!("curl {auth} {base}/api/v1/acme/data_point_tag/1,2/"),
        format!(
            "curl {auth} '{base}/api/v1/acme/reading/?value__gte=1000&measured_at__lt=2024-06-02T00:00:00Z'"
        ),
        format!(
            "curl {auth} -X POST {json} -d '{{\"name\": \"north/gas\", \"unit\": \"m3\", \"site_id\": 1}}' {base}/api/v1/acme/data_point/"
        ),
        format!(
            "curl {auth} -X PATCH {json} -d '{{\"unit\": null}}' {base}/api/v1/acme/data_point/2/"
        ),
        format!("curl {auth} -X DELETE {base}/api/v1/acme/data_point_tag/3,1/"),
        format!(
            "curl {auth} -X POST {json} -d '{{\"name\": \"x\"}}' {base}/api/v1/globex/data_point/   # 403: read only"
        ),
        format!("curl {base}/api/v1/acme/data_point/   # 401: no credentials"),
        format!("curl {auth} -X OPTIONS {base}/api/v1/acme/data_point/   # fields, as DRF"),
        format!("curl {base}/api/v1/schema/   # the OpenAPI 3.1 document"),
        format!("open {base}/api/v1/docs/ in a browser; Authorize with: Token {token}"),
    ]
}
