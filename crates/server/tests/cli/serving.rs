//! `serve`: live refresh, `--strict`, the demo, and admin commands running beside it.

use super::*;

#[test]
fn serve_picks_up_project_changes_without_a_restart() {
    let dir = temp_dir("serve");
    let platform = dir.join("platform.db");
    let project = dir.join("p.db");
    // A project database with the generated structure and one row.
    let mut connection =
        tenantapi_runtime::connections::db::DbConnection::open(project.to_str().unwrap()).unwrap();
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

    let (port, _server) = serve(&platform, &[("TENANTAPI_REFRESH_SECONDS", "1")]);
    wait_until("the server answers", || {
        get(port, "/api/v1/", token).is_some_and(|(status, _)| status == 200)
    });
    assert_eq!(get(port, "/api/v1/", token).unwrap().1, "{}");
    assert_eq!(get(port, "/api/v1/late/data_point/", token).unwrap().0, 404);

    let started = Instant::now();
    add_project(&platform, "late", &project);
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
        .take(15)
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

    // Every GET line the demo prints answers as it says: 401 where it says so, else 200.
    let base = format!("http://127.0.0.1:{port}");
    let get_lines: Vec<&String> = printed
        .iter()
        .filter(|line| line.trim_start().starts_with("curl ") && !line.contains(" -X "))
        .collect();
    assert_eq!(get_lines.len(), 8, "{printed:#?}");
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
        let expected = if line.contains("# 401") { 401 } else { 200 };
        assert_eq!(status, expected, "{line}: {body}");
    }
}

#[test]
fn serve_strict_refuses_to_start_on_a_mismatch() {
    let dir = temp_dir("strict");
    let platform = dir.join("platform.db");
    let old = dir.join("old.db");
    project_database(&old, "UPDATE schema_version SET version = '2023.01.0';");
    add_project(&platform, "old", &old);
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
            "error: --strict: not starting, 1 project(s) do not match:\nproject old: structure version \"2023.01.0\", this build serves \"{}\", \"2024.04.0\"\n",
            tenantapi_generated::SCHEMA_VERSION
        )
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

    let (port, _server) = serve(
        &platform,
        &[
            ("TENANTAPI_REFRESH_SECONDS", "1"),
            ("TENANTAPI_AUTH_CACHE_SECONDS", "0"),
        ],
    );
    wait_until("the server answers", || {
        get(port, "/api/v1/", Some(&token)).is_some_and(|(status, _)| status == 200)
    });
    // The server reads the platform database (project list, every request's token, its
    // last use) while three rounds of ten commands (eight `project add`) write to it.
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
        let mut commands: Vec<Vec<String>> = (0..8)
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
            .is_some_and(|(_, body)| body.contains("\"r2p7\"") && body.contains("\"first7\""))
    });
}

/// Regression: `serve` checked every project's structure version before listening, so one hung
/// database (or a thousand projects) delayed the whole server by the check's timeout. It now
/// listens at once; the first pass runs beside serving.
#[test]
fn serve_listens_before_checking_a_hung_project() {
    let dir = temp_dir("hung-at-start");
    let platform = dir.join("platform.db");
    let healthy = dir.join("healthy.db");
    project_database(
        &healthy,
        "INSERT INTO data_point (name) VALUES ('north/electricity');",
    );
    add_project(&platform, "healthy", &healthy);
    // A database server that accepts connections and never answers.
    let hung = TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_port = hung.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in hung.incoming() {
            held.push(stream);
        }
    });
    let added = tenantapi(
        &platform,
        &[
            "project",
            "add",
            "hung",
            "--database-url",
            &format!("postgres://postgres@127.0.0.1:{hung_port}/hung"),
        ],
    );
    assert!(added.status.success(), "{}", stderr(&added));

    let started = Instant::now();
    let (port, _server) = serve(
        &platform,
        &[
            ("TENANTAPI_AUTH_REQUIRED", "false"),
            ("TENANTAPI_POOL_CHECKOUT_TIMEOUT_MS", "4000"),
            ("RUST_LOG", "off"),
        ],
    );
    wait_until("the healthy project answers", || {
        get(port, "/api/v1/healthy/data_point/", None).is_some_and(|(status, _)| status == 200)
    });
    let answered_after = started.elapsed();
    assert!(
        answered_after < Duration::from_millis(2500),
        "serving waited for the hung project's check: {answered_after:?}"
    );
}
