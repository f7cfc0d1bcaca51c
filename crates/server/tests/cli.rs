//! The `tenantapi` binary as operators and the README use it: project commands and their exit
//! codes, `serve` picking up project changes while running, and the demo.

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
    let mut connection = tenantapi_runtime::db::DbConnection::open(path.to_str().unwrap()).unwrap();
    diesel::connection::SimpleConnection::batch_execute(
        &mut connection,
        &format!(
            "{}\n{};\n{rows}",
            tenantapi_generated::ddl::SQLITE,
            tenantapi_generated::INSERT_VERSION_SQL
        ),
    )
    .unwrap();
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn project_commands_are_idempotent_with_clear_errors() {
    let dir = temp_dir("projects");
    let platform = dir.join("platform.db");
    let added = tenantapi(
        &platform,
        &[
            "project",
            "add",
            "acme",
            "--database-url",
            "postgres://app:s3cret@db.internal/acme",
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    assert_eq!(stdout(&added), "added project acme\n");
    let again = tenantapi(
        &platform,
        &[
            "project",
            "add",
            "acme",
            "--database-url",
            "postgres://app:s3cret@db.internal/acme",
        ],
    );
    assert!(again.status.success());
    assert_eq!(
        stdout(&again),
        "project acme already exists with this database URL\n"
    );

    let listed = tenantapi(&platform, &["project", "list"]);
    assert_eq!(
        stdout(&listed),
        "acme\tenabled\tpostgres://app:***@db.internal/acme\n",
        "password hidden"
    );

    let conflicting = tenantapi(
        &platform,
        &["project", "add", "acme", "--database-url", "other.db"],
    );
    assert_eq!(conflicting.status.code(), Some(1));
    assert_eq!(
        stderr(&conflicting),
        "error: project acme already exists with another database URL; remove it first to change its database\n"
    );
    let invalid = tenantapi(
        &platform,
        &["project", "add", "Bad Name", "--database-url", "x.db"],
    );
    assert_eq!(invalid.status.code(), Some(1));
    assert!(
        stderr(&invalid).starts_with("error: invalid project name \"Bad Name\""),
        "{}",
        stderr(&invalid)
    );
    for command in ["enable", "disable", "remove"] {
        let unknown = tenantapi(&platform, &["project", command, "nope"]);
        assert_eq!(
            (unknown.status.code(), stderr(&unknown)),
            (Some(1), "error: no project named nope\n".to_string())
        );
    }
    assert!(
        tenantapi(&platform, &["project", "disable", "acme"])
            .status
            .success()
    );
    assert_eq!(
        stdout(&tenantapi(&platform, &["project", "list"])),
        "acme\tdisabled\tpostgres://app:***@db.internal/acme\n"
    );
    assert!(
        tenantapi(&platform, &["project", "remove", "acme"])
            .status
            .success()
    );
    assert_eq!(stdout(&tenantapi(&platform, &["project", "list"])), "");
}

#[test]
fn invalid_configuration_exits_2_naming_the_setting() {
    let dir = temp_dir("config");
    let output = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
        .args(["project", "list"])
        .env("TENANTAPI_PLATFORM_DATABASE_URL", dir.join("platform.db"))
        .env("TENANTAPI_POOL_MAX_SIZE", "lots")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: environment variable TENANTAPI_POOL_MAX_SIZE=\"lots\" is invalid: a non-negative integer\n"
    );
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

#[test]
fn serve_picks_up_project_changes_without_a_restart() {
    let dir = temp_dir("serve");
    let platform = dir.join("platform.db");
    let project = dir.join("p.db");
    // A project database with the generated structure and one row.
    let mut connection =
        tenantapi_runtime::db::DbConnection::open(project.to_str().unwrap()).unwrap();
    diesel::connection::SimpleConnection::batch_execute(
        &mut connection,
        &format!(
            "{}\n{};\nINSERT INTO data_point (name) VALUES ('north/electricity');",
            tenantapi_generated::ddl::SQLITE,
            tenantapi_generated::INSERT_VERSION_SQL
        ),
    )
    .unwrap();
    drop(connection);

    assert!(
        tenantapi(&platform, &["user", "add", "root", "--superuser"])
            .status
            .success()
    );
    let created = tenantapi(&platform, &["token", "create", "root"]);
    let token = stdout(&created).trim().to_string();
    let token = Some(token.as_str());

    let port = free_port();
    let _server = Running(
        Command::new(env!("CARGO_BIN_EXE_tenantapi"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("TENANTAPI_PLATFORM_DATABASE_URL", &platform)
            .env("TENANTAPI_REFRESH_SECONDS", "1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("the server answers", || {
        get(port, "/api/v1/", token).is_some_and(|(status, _)| status == 200)
    });
    assert_eq!(get(port, "/api/v1/", token).unwrap().1, "{}");
    assert_eq!(get(port, "/api/v1/late/data_point/", token).unwrap().0, 404);

    let started = Instant::now();
    assert!(
        tenantapi(
            &platform,
            &[
                "project",
                "add",
                "late",
                "--database-url",
                project.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    wait_until("the added project is served", || {
        get(port, "/api/v1/late/data_point/", token).is_some_and(|(status, _)| status == 200)
    });
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "picked up within the refresh interval"
    );
    let (_, body) = get(port, "/api/v1/late/data_point/", token).unwrap();
    assert!(body.contains("north/electricity"), "{body}");

    assert!(
        tenantapi(&platform, &["project", "disable", "late"])
            .status
            .success()
    );
    wait_until("the disabled project is gone", || {
        get(port, "/api/v1/late/data_point/", token).is_some_and(|(status, _)| status == 404)
    });
}

#[test]
fn demo_serves_two_projects_with_different_rows() {
    let dir = temp_dir("demo");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
        .args(["demo", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Running(child);
    let printed: Vec<String> = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .take(12)
        .map(Result::unwrap)
        .collect();
    let token = printed
        .iter()
        .find_map(|line| {
            Some(
                line.split("Authorization: Token ")
                    .nth(1)?
                    .split('\'')
                    .next()?
                    .to_string(),
            )
        })
        .unwrap_or_else(|| panic!("no token in {printed:#?}"));
    let token = Some(token.as_str());
    wait_until("the demo answers", || {
        get(port, "/api/v1/", token).is_some_and(|(status, _)| status == 200)
    });
    let (_, acme) = get(port, "/api/v1/acme/data_point/", token).unwrap();
    let (_, globex) = get(port, "/api/v1/globex/data_point/", token).unwrap();
    assert!(acme.starts_with("{\"count\":4,"), "{acme}");
    assert!(globex.starts_with("{\"count\":2,"), "{globex}");

    // Every GET line the demo prints answers as it says: 200 with the token, 401 without.
    let base = format!("http://127.0.0.1:{port}");
    let get_lines: Vec<&String> = printed
        .iter()
        .filter(|line| line.trim_start().starts_with("curl ") && !line.contains(" -X "))
        .collect();
    assert_eq!(get_lines.len(), 7, "{printed:#?}");
    for line in get_lines {
        let command = line.split('#').next().unwrap();
        let url = command
            .split_whitespace()
            .last()
            .unwrap()
            .trim_matches('\'');
        let path = url
            .strip_prefix(&base)
            .unwrap_or_else(|| panic!("{url} is not on {base}"));
        let with_token = command.contains("Authorization");
        let (status, body) = get(port, path, if with_token { token } else { None }).unwrap();
        assert_eq!(status, if with_token { 200 } else { 401 }, "{line}: {body}");
    }
}

#[test]
fn account_commands_are_idempotent_with_clear_errors() {
    let dir = temp_dir("accounts");
    let platform = dir.join("platform.db");
    assert!(
        tenantapi(
            &platform,
            &["project", "add", "acme", "--database-url", "a.db"]
        )
        .status
        .success()
    );

    assert_eq!(
        stdout(&tenantapi(&platform, &["user", "add", "ann"])),
        "saved user ann\n"
    );
    assert_eq!(
        stdout(&tenantapi(&platform, &["user", "add", "ann"])),
        "user ann already exists as requested\n"
    );
    let with_password = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
        .args(["user", "add", "bob", "--password-stdin"])
        .env("TENANTAPI_PLATFORM_DATABASE_URL", &platform)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"hunter2 but longer\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(with_password.status.success());

    assert_eq!(
        stdout(&tenantapi(
            &platform,
            &["grant", "ann", "acme", "--role", "read"]
        )),
        "ann may now read acme\n"
    );
    assert_eq!(
        stdout(&tenantapi(
            &platform,
            &["grant", "ann", "acme", "--role", "read"]
        )),
        "ann already has read on acme\n"
    );
    assert_eq!(
        stdout(&tenantapi(
            &platform,
            &["grant", "ann", "acme", "--role", "write"]
        )),
        "ann may now write acme\n"
    );
    assert_eq!(
        stdout(&tenantapi(&platform, &["revoke", "ann", "acme"])),
        "revoked ann on acme\n"
    );
    assert_eq!(
        stdout(&tenantapi(&platform, &["revoke", "ann", "acme"])),
        "ann had no grant on acme\n"
    );
    for (args, message) in [
        (
            &["grant", "nobody", "acme", "--role", "read"][..],
            "error: no user named nobody\n",
        ),
        (
            &["grant", "ann", "nowhere", "--role", "read"][..],
            "error: no project named nowhere\n",
        ),
        (
            &["revoke", "nobody", "acme"][..],
            "error: no user named nobody\n",
        ),
        (
            &["user", "disable", "nobody"][..],
            "error: no user named nobody\n",
        ),
        (
            &["token", "create", "nobody"][..],
            "error: no user named nobody\n",
        ),
        (
            &["token", "list", "nobody"][..],
            "error: no user named nobody\n",
        ),
        (
            &["token", "revoke", "tap_00000000"][..],
            "error: no token with prefix tap_00000000\n",
        ),
        (
            &["user", "add", "bad name"][..],
            "error: invalid username \"bad name\": use 1 to 150 letters, digits or @.+-_\n",
        ),
    ] {
        let output = tenantapi(&platform, args);
        assert_eq!(
            (output.status.code(), stderr(&output)),
            (Some(1), message.to_string()),
            "{args:?}"
        );
    }
    let bad_role = tenantapi(&platform, &["grant", "ann", "acme", "--role", "admin"]);
    assert_eq!(
        bad_role.status.code(),
        Some(2),
        "clap rejects an unknown role"
    );

    // A token is printed once; listings show its prefix, never the token.
    let created = tenantapi(
        &platform,
        &[
            "token",
            "create",
            "ann",
            "--name",
            "ci",
            "--expires-in",
            "30",
        ],
    );
    let token = stdout(&created).trim().to_string();
    assert!(token.starts_with("tap_") && token.len() == 44, "{token}");
    let listed = stdout(&tenantapi(&platform, &["token", "list", "ann"]));
    let prefix = &token[..12];
    assert!(
        listed.starts_with(&format!("{prefix}\tci\tactive\t")),
        "{listed}"
    );
    assert!(
        !listed.contains(&token[12..]),
        "the listing leaks the token: {listed}"
    );
    assert_eq!(
        stdout(&tenantapi(&platform, &["token", "revoke", prefix])),
        format!("revoked token {prefix}\n")
    );
    assert_eq!(
        stdout(&tenantapi(&platform, &["token", "revoke", prefix])),
        format!("token {prefix} was already revoked\n")
    );
    assert!(stdout(&tenantapi(&platform, &["token", "list", "ann"])).contains("\trevoked\t"));
    assert_eq!(
        stdout(&tenantapi(&platform, &["user", "disable", "ann"])),
        "disabled ann\n"
    );
    assert_eq!(
        stdout(&tenantapi(&platform, &["user", "disable", "ann"])),
        "ann is already disabled\n"
    );
}

#[test]
fn check_exit_codes_tell_match_mismatch_and_unreachable_apart() {
    let dir = temp_dir("check");
    let platform = dir.join("platform.db");
    let (good, old) = (dir.join("good.db"), dir.join("old.db"));
    project_database(&good, "");
    project_database(&old, "UPDATE schema_version SET version = '2023.01.0';");
    let expected = tenantapi_generated::SCHEMA_VERSION;

    assert!(
        tenantapi(
            &platform,
            &[
                "project",
                "add",
                "good",
                "--database-url",
                good.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let all_match = tenantapi(&platform, &["check"]);
    assert_eq!(all_match.status.code(), Some(0), "{}", stdout(&all_match));
    assert_eq!(
        stdout(&all_match),
        format!("PROJECT  EXPECTED   FOUND      STATUS\ngood     {expected}  {expected}  ok\n")
    );

    assert!(
        tenantapi(
            &platform,
            &[
                "project",
                "add",
                "old",
                "--database-url",
                old.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let mismatch = tenantapi(&platform, &["check", "--format", "json"]);
    assert_eq!(mismatch.status.code(), Some(1));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&mismatch)).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([
            {"project": "good", "expected": expected, "found": expected, "status": "ok"},
            {"project": "old", "expected": expected, "found": "2023.01.0", "status": "version mismatch"},
        ])
    );

    assert!(
        tenantapi(
            &platform,
            &[
                "project",
                "add",
                "down",
                "--database-url",
                "postgres://app:s3cret@127.0.0.1:9/x"
            ]
        )
        .status
        .success()
    );
    let unreachable = tenantapi(&platform, &["check", "--timeout", "3"]);
    assert_eq!(unreachable.status.code(), Some(2));
    let report = stdout(&unreachable);
    assert!(
        report.contains("down") && report.contains("unreachable"),
        "{report}"
    );
    assert!(
        !report.contains("s3cret"),
        "no password in the report: {report}"
    );

    let one = tenantapi(
        &platform,
        &[
            "check",
            "--database-url",
            good.to_str().unwrap(),
            "--structure",
        ],
    );
    assert_eq!(one.status.code(), Some(0), "{}", stdout(&one));
    let drifted = dir.join("drifted.db");
    project_database(&drifted, "ALTER TABLE site ADD COLUMN region TEXT;");
    let drift = tenantapi(
        &platform,
        &[
            "check",
            "--database-url",
            drifted.to_str().unwrap(),
            "--structure",
        ],
    );
    assert_eq!(drift.status.code(), Some(1));
    assert!(
        stdout(&drift).contains("drifted\n    table site: extra column region\n"),
        "{}",
        stdout(&drift)
    );

    let bad_platform = tenantapi(&dir.join("missing/dir/platform.db"), &["check"]);
    assert_eq!(
        bad_platform.status.code(),
        Some(2),
        "a platform database that cannot be opened is a configuration error"
    );
}

#[test]
fn serve_strict_refuses_to_start_on_a_mismatch() {
    let dir = temp_dir("strict");
    let platform = dir.join("platform.db");
    let old = dir.join("old.db");
    project_database(&old, "UPDATE schema_version SET version = '2023.01.0';");
    assert!(
        tenantapi(
            &platform,
            &[
                "project",
                "add",
                "old",
                "--database-url",
                old.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let output = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
        .args([
            "serve",
            "--strict",
            "--bind",
            &format!("127.0.0.1:{}", free_port()),
        ])
        .env("TENANTAPI_PLATFORM_DATABASE_URL", &platform)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "error: --strict: not starting, 1 project(s) do not match:\nproject old: structure version \"2023.01.0\", expected \"{}\"\n",
            tenantapi_generated::SCHEMA_VERSION
        )
    );
}

#[test]
fn introspect_writes_a_description_that_loads() {
    let dir = temp_dir("introspect");
    let reference = dir.join("reference.db");
    project_database(&reference, "");
    let out = dir.join("described.toml");
    let output = tenantapi(
        &dir.join("platform.db"),
        &[
            "introspect",
            "--database-url",
            reference.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let described = tenantapi_schema::load_file(&out).unwrap();
    assert_eq!(described.version, tenantapi_generated::SCHEMA_VERSION);
    assert_eq!(described.tables.len(), tenantapi_generated::TABLES.len());
    let missing = tenantapi(
        &dir.join("platform.db"),
        &[
            "introspect",
            "--database-url",
            reference.to_str().unwrap(),
            "--version-table",
            "nope",
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).starts_with("error: nope.version: cannot read the structure version"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn fixtures_load_and_dump_from_the_command_line() {
    let dir = temp_dir("fixtures");
    let platform = dir.join("platform.db");
    let project = dir.join("p.db");
    project_database(&project, "");
    assert!(
        tenantapi(
            &platform,
            &[
                "project",
                "add",
                "acme",
                "--database-url",
                project.to_str().unwrap()
            ]
        )
        .status
        .success()
    );
    let file = dir.join("acme.json");
    std::fs::write(&file, r#"{"data_point": [{"id": 4, "name": "m", "site_id": 2}], "site": [{"id": 2, "code": "S", "name": "South", "external_ref": "6f1c1f4e-2b8c-4c7e-9a51-0d3e5b8f2a10"}]}"#).unwrap();
    let loaded = tenantapi(
        &platform,
        &[
            "fixtures",
            "load",
            "--project",
            "acme",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(
        (loaded.status.code(), stdout(&loaded)),
        (Some(0), "loaded 2 rows into acme\n".to_string()),
        "{}",
        stderr(&loaded)
    );
    let dumped: serde_json::Value = serde_json::from_str(&stdout(&tenantapi(
        &platform,
        &["fixtures", "dump", "--project", "acme"],
    )))
    .unwrap();
    assert_eq!(
        dumped["data_point"],
        serde_json::json!([{"id": 4, "name": "m", "unit": null, "site_id": 2, "type": "measured"}])
    );
    assert_eq!(dumped["site"][0]["code"], "S");
    assert!(
        dumped.get("schema_version").is_none(),
        "the version table is not dumped"
    );

    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"tag": [{"id": 1}]}"#).unwrap();
    let refused = tenantapi(
        &platform,
        &[
            "fixtures",
            "load",
            "--project",
            "acme",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        stderr(&refused),
        format!(
            "error: {}: table tag, row 0: column label: This field is required.\n",
            bad.display()
        )
    );
    let unknown = tenantapi(&platform, &["fixtures", "dump", "--project", "nope"]);
    assert_eq!(
        (unknown.status.code(), stderr(&unknown)),
        (Some(1), "error: no project named nope\n".to_string())
    );
}

/// Regression: two `project add` at once on the SQLite platform database failed with
/// "database is locked" (a deferred transaction that reads, then writes, cannot wait for the
/// lock). Admin commands, and a running server's reads and token bookkeeping, now wait for
/// each other.
#[test]
fn admin_commands_run_concurrently_with_each_other_and_a_running_server() {
    let dir = temp_dir("concurrent");
    let platform = dir.join("platform.db");
    let project = dir.join("p.db");
    project_database(&project, "");
    let project_url = project.to_str().unwrap().to_string();
    let in_parallel = |commands: Vec<Vec<String>>| {
        let children: Vec<_> = commands
            .into_iter()
            .map(|args| {
                let platform = platform.clone();
                std::thread::spawn(move || {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    (args.join(" "), tenantapi(&platform, &args))
                })
            })
            .collect();
        for child in children {
            let (command, output) = child.join().unwrap();
            assert!(output.status.success(), "{command}: {}", stderr(&output));
        }
    };
    // Eight commands racing to create and migrate a new platform database.
    in_parallel(
        (0..8)
            .map(|number| {
                [
                    "project",
                    "add",
                    &format!("first{number}"),
                    "--database-url",
                    &project_url,
                ]
                .map(String::from)
                .to_vec()
            })
            .collect(),
    );
    assert!(
        tenantapi(&platform, &["user", "add", "root", "--superuser"])
            .status
            .success()
    );
    let token = stdout(&tenantapi(&platform, &["token", "create", "root"]))
        .trim()
        .to_string();

    let port = free_port();
    let _server = Running(
        Command::new(env!("CARGO_BIN_EXE_tenantapi"))
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("TENANTAPI_PLATFORM_DATABASE_URL", &platform)
            .env("TENANTAPI_REFRESH_SECONDS", "1")
            .env("TENANTAPI_AUTH_CACHE_SECONDS", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("the server answers", || {
        get(port, "/api/v1/", Some(&token)).is_some_and(|(status, _)| status == 200)
    });
    // The server reads the platform database (project list, every request's token, its
    // last use) while three rounds of eight commands write to it.
    let polling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let poller = {
        let polling = polling.clone();
        let token = token.clone();
        std::thread::spawn(move || {
            let mut answers = Vec::new();
            while polling.load(std::sync::atomic::Ordering::Relaxed) {
                answers.push(get(port, "/api/v1/", Some(&token)).map(|(status, _)| status));
            }
            answers
        })
    };
    for round in 0..3 {
        let mut commands: Vec<Vec<String>> = (0..6)
            .map(|number| {
                [
                    "project",
                    "add",
                    &format!("r{round}p{number}"),
                    "--database-url",
                    &project_url,
                ]
                .map(String::from)
                .to_vec()
            })
            .collect();
        commands.push(
            ["user", "add", &format!("user{round}")]
                .map(String::from)
                .to_vec(),
        );
        commands.push(["token", "create", "root"].map(String::from).to_vec());
        in_parallel(commands);
    }
    polling.store(false, std::sync::atomic::Ordering::Relaxed);
    let answers = poller.join().unwrap();
    assert!(!answers.is_empty());
    assert!(
        answers.iter().all(|answer| *answer == Some(200)),
        "the server kept answering: {answers:?}"
    );
    wait_until("every added project is served", || {
        get(port, "/api/v1/", Some(&token))
            .is_some_and(|(_, body)| body.contains("\"r2p5\"") && body.contains("\"first7\""))
    });
}
