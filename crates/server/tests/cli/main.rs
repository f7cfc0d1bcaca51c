//! The `tenantapi` binary as operators and the README use it: project and account commands
//! and their exit codes, `serve` (live refresh, `--strict`, concurrent admin commands), the
//! demo, `check`, `introspect` and `fixtures`.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tenantapi-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn tenantapi(platform: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenantapi"))
        .args(args)
        .env("TENANTAPI_PLATFORM_DATABASE_URL", platform)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tenantapi")
}

/// A SQLite project database with the generated structure, its version row, and `rows`.
fn project_database(path: &Path, rows: &str) {
    project_database_at(&tenantapi_generated::API, path, rows);
}

/// A SQLite project database with the structure of `api`'s version, recording it.
fn project_database_at(api: &tenantapi_runtime::api::GeneratedApi, path: &Path, rows: &str) {
    let mut connection =
        tenantapi_runtime::connections::db::DbConnection::open(path.to_str().unwrap()).unwrap();
    diesel::connection::SimpleConnection::batch_execute(
        &mut connection,
        &format!("{}\n{};\n{rows}", api.sqlite_ddl, api.insert_version_sql),
    )
    .unwrap();
}

/// `project add NAME --database-url PATH`, which must succeed.
fn add_project(platform: &Path, name: &str, database: &Path) {
    let output = tenantapi(
        platform,
        &[
            "project",
            "add",
            name,
            "--database-url",
            database.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running `tenantapi` process, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tenantapi serve` on a free port over the platform database `platform`, with `settings`
/// (environment variables, applied after `RUST_LOG=warn`): the port and the running server.
fn serve(platform: impl AsRef<OsStr>, settings: &[(&str, &str)]) -> (u16, Running) {
    let port = free_port();
    let server = Running(
        Command::new(env!("CARGO_BIN_EXE_tenantapi"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("TENANTAPI_PLATFORM_DATABASE_URL", platform)
            .env("RUST_LOG", "warn")
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    (port, server)
}

/// A plain HTTP/1.1 GET, with a token if given; returns the status and the body.
fn get(port: u16, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let authorization = token
        .map(|token| format!("Authorization: Token {token}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{authorization}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if condition() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting until {what}");
}

mod checks_and_fixtures;
mod creating;
mod observability;
mod projects_and_accounts;
mod serving;
mod several_servers;
