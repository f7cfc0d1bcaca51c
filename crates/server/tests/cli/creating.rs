//! `project create`, `ddl`, `completions` and `--version`: the commands that need no existing
//! project database.

use super::*;

fn create(platform: &Path, name: &str, url: &str) -> Output {
    tenantapi(
        platform,
        &["project", "create", name, "--database-url", url],
    )
}

/// What `project list` prints, to show that a refused command changed nothing.
fn project_list(platform: &Path) -> String {
    let output = tenantapi(platform, &["project", "list"]);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

#[test]
fn project_create_makes_a_served_sqlite_database_and_refuses_what_exists() {
    let dir = temp_dir("create-sqlite");
    let platform = dir.join("platform.db");
    let database = dir.join("acme.db");
    let url = database.to_str().unwrap();

    let output = create(&platform, "acme", url);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!(
            "created SQLite file {url} with structure version {}, and added project acme\n",
            tenantapi_generated::SCHEMA_VERSION
        )
    );
    // The new database is what `check` accepts and holds no rows.
    let check = tenantapi(&platform, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
    let dump = tenantapi(&platform, &["fixtures", "dump", "--project", "acme"]);
    assert!(dump.status.success(), "{}", stderr(&dump));
    assert_eq!(dump.stdout.trim_ascii(), b"{}");

    // Refusals change nothing: neither the file nor the platform database.
    let listed = project_list(&platform);
    let before = std::fs::read(&database).unwrap();
    let again = create(&platform, "acme", dir.join("other.db").to_str().unwrap());
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("project acme already exists"),
        "{}",
        stderr(&again)
    );
    assert!(!dir.join("other.db").exists());
    let taken = create(&platform, "beta", url);
    assert_eq!(taken.status.code(), Some(1));
    assert!(
        stderr(&taken).contains(&format!("the SQLite file {url} already exists"))
            && stderr(&taken).contains("project add"),
        "{}",
        stderr(&taken)
    );
    assert_eq!(std::fs::read(&database).unwrap(), before);
    let nowhere = dir.join("missing").join("gamma.db");
    let missing = create(&platform, "gamma", nowhere.to_str().unwrap());
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("does not exist; create it first"),
        "{}",
        stderr(&missing)
    );
    let bad_name = create(
        &platform,
        "Not A Name",
        dir.join("delta.db").to_str().unwrap(),
    );
    assert_eq!(bad_name.status.code(), Some(1));
    assert!(!dir.join("delta.db").exists());
    assert_eq!(project_list(&platform), listed);
}

/// Drops the PostgreSQL database a test created, whatever the test's outcome.
struct DropDatabase {
    server: String,
    name: String,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        if let Ok(mut admin) = diesel::PgConnection::establish(&format!("{}/postgres", self.server))
        {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

#[test]
fn project_create_makes_a_postgres_database_and_refuses_an_existing_one() {
    let server = std::env::var("TENANTAPI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("tenantapi_cli_create_{}", std::process::id());
    let _cleanup = DropDatabase {
        server: server.clone(),
        name: name.clone(),
    };
    let dir = temp_dir("create-postgres");
    let platform = dir.join("platform.db");
    let url = format!("{server}/{name}");

    let output = create(&platform, "acme", &url);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with(&format!("created PostgreSQL database {name} on 127.0.0.1")),
        "{}",
        stdout(&output)
    );
    let check = tenantapi(&platform, &["check", "--structure"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));

    let listed = project_list(&platform);
    let again = create(&platform, "beta", &url);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains(&format!("PostgreSQL database {name} on 127.0.0.1"))
            && stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(project_list(&platform), listed);
    // The existing database kept its structure: still what `check` accepts.
    let check = tenantapi(&platform, &["check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));

    let pooled = create(
        &platform,
        "gamma",
        &format!("{url}_2?pgbouncer=transaction"),
    );
    assert_eq!(pooled.status.code(), Some(1));
    assert!(
        stderr(&pooled).contains("create the database with a direct URL"),
        "{}",
        stderr(&pooled)
    );
}

#[test]
fn ddl_prints_the_structure_and_its_version_record_without_configuration() {
    for (backend, ddl) in [
        ("postgres", tenantapi_generated::ddl::POSTGRES),
        ("sqlite", tenantapi_generated::ddl::SQLITE),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
            .args(["ddl", "--backend", backend])
            // A broken configuration does not matter to a command that reads none.
            .env("TENANTAPI_WORKERS", "not a number")
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        let text = stdout(&output);
        assert!(text.starts_with(ddl.trim_end()), "{backend}: {text}");
        assert!(
            text.trim_end()
                .ends_with(&format!("{};", tenantapi_generated::INSERT_VERSION_SQL)),
            "{backend}: {text}"
        );
    }
    // What it prints is a script SQLite runs as it is.
    let dir = temp_dir("ddl");
    let output = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
        .args(["ddl", "--backend", "sqlite"])
        .output()
        .unwrap();
    let mut connection =
        tenantapi_runtime::connections::db::DbConnection::open(dir.join("x.db").to_str().unwrap())
            .unwrap();
    diesel::connection::SimpleConnection::batch_execute(&mut connection, &stdout(&output)).unwrap();

    let unknown = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
        .args(["ddl", "--backend", "mysql"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("possible values: postgres, sqlite"));
}

#[test]
fn ddl_and_project_create_take_an_older_served_version() {
    let previous = &tenantapi_generated::previous::v2024_04_0::API;
    let output = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
        .args([
            "ddl",
            "--backend",
            "sqlite",
            "--structure-version",
            "2024.04.0",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with(previous.sqlite_ddl.trim_end()), "{text}");
    assert!(text.contains("'2024.04.0'") && !text.contains("maintenance-window"));

    let unserved = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
        .args([
            "ddl",
            "--backend",
            "sqlite",
            "--structure-version",
            "1999.1",
        ])
        .output()
        .unwrap();
    assert_eq!(unserved.status.code(), Some(1));
    assert_eq!(
        stderr(&unserved),
        format!(
            "error: --structure-version 1999.1: this build serves no such version; it serves \"{}\", \"2024.04.0\"\n",
            tenantapi_generated::SCHEMA_VERSION
        )
    );

    let dir = temp_dir("create-previous");
    let platform = dir.join("platform.db");
    let database = dir.join("old.db");
    let created = tenantapi(
        &platform,
        &[
            "project",
            "create",
            "old",
            "--database-url",
            database.to_str().unwrap(),
            "--structure-version",
            "2024.04.0",
        ],
    );
    assert!(created.status.success(), "{}", stderr(&created));
    let check = tenantapi(&platform, &["check", "--structure"]);
    assert_eq!(check.status.code(), Some(0), "{}", stdout(&check));
    assert!(
        stdout(&check).contains("old      2024.04.0  yes     ok"),
        "{}",
        stdout(&check)
    );
}

#[test]
fn version_names_the_structure_version_and_completions_cover_the_commands() {
    let output = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        stdout(&output),
        format!(
            "tenantapi {} (structure versions \"{}\", \"2024.04.0\")\n",
            env!("CARGO_PKG_VERSION"),
            tenantapi_generated::SCHEMA_VERSION
        )
    );
    for shell in ["bash", "zsh", "fish"] {
        let output = Command::new(env!("CARGO_BIN_EXE_tenantapi"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(output.status.success(), "{shell}: {}", stderr(&output));
        let script = stdout(&output);
        for word in ["project", "create", "set-url", "fixtures", "database-url"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
}

#[test]
fn check_shows_progress_on_a_terminal_and_nothing_when_piped() {
    let dir = temp_dir("progress");
    let platform = dir.join("platform.db");
    for name in ["p1", "p2", "p3"] {
        let created = create(
            &platform,
            name,
            dir.join(format!("{name}.db")).to_str().unwrap(),
        );
        assert!(created.status.success(), "{}", stderr(&created));
    }
    let piped = tenantapi(&platform, &["check"]);
    assert_eq!(piped.status.code(), Some(0));
    assert_eq!(
        stderr(&piped),
        "",
        "no progress when standard error is not a terminal"
    );

    // `script` runs the command on a pseudo-terminal and copies what it draws.
    let command = format!(
        "TENANTAPI_PLATFORM_DATABASE_URL={} {} check",
        platform.display(),
        env!("CARGO_BIN_EXE_tenantapi")
    );
    let Ok(on_terminal) = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
    else {
        panic!("`script` (util-linux) is needed to test progress on a terminal");
    };
    let shown = stdout(&on_terminal);
    assert!(on_terminal.status.success(), "{shown}");
    assert!(shown.contains("/3 projects"), "{shown:?}");
    assert!(shown.contains("p3") && shown.contains("ok"), "{shown:?}");
}
