//! `check`, `introspect` and `fixtures` from the command line.

use super::*;

#[test]
fn check_exit_codes_tell_match_mismatch_and_unreachable_apart() {
    let dir = temp_dir("check");
    let platform = dir.join("platform.db");
    let (good, old) = (dir.join("good.db"), dir.join("old.db"));
    let previous = dir.join("previous.db");
    project_database(&good, "");
    project_database(&old, "UPDATE schema_version SET version = '2023.01.0';");
    project_database_at(
        &tenantapi_generated::previous::v2024_04_0::API,
        &previous,
        "",
    );
    let expected = tenantapi_generated::SCHEMA_VERSION;

    add_project(&platform, "good", &good);
    let all_match = tenantapi(&platform, &["check"]);
    assert_eq!(all_match.status.code(), Some(0), "{}", stdout(&all_match));
    assert_eq!(
        stdout(&all_match),
        format!(
            "PROJECT  FOUND      SERVED  STATUS\ngood     {expected}  newest  ok\n\n\
             VERSION    PROJECTS  SERVED\n{expected}  1         newest\n"
        )
    );

    // A project at the older served version is served: the check passes, unless the newest
    // is required everywhere.
    add_project(&platform, "previous", &previous);
    let rollout = tenantapi(&platform, &["check", "--structure"]);
    assert_eq!(rollout.status.code(), Some(0), "{}", stdout(&rollout));
    assert_eq!(
        stdout(&rollout),
        format!(
            "PROJECT   FOUND      SERVED  STATUS\ngood      {expected}  newest  ok\nprevious  2024.04.0  yes     ok\n\n\
             VERSION    PROJECTS  SERVED\n2024.04.0  1         yes\n{expected}  1         newest\n"
        ),
        "the older project's structure is compared with its own version's description"
    );
    let newest_required = tenantapi(&platform, &["check", "--require-newest"]);
    assert_eq!(
        newest_required.status.code(),
        Some(1),
        "{}",
        stdout(&newest_required)
    );
    assert!(
        stdout(&newest_required).contains("previous  2024.04.0  yes     not newest\n"),
        "{}",
        stdout(&newest_required)
    );

    add_project(&platform, "old", &old);
    let mismatch = tenantapi(&platform, &["check", "--format", "json"]);
    assert_eq!(mismatch.status.code(), Some(1));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&mismatch)).unwrap();
    assert_eq!(
        rows,
        serde_json::json!([
            {"project": "good", "found": expected, "served": "newest", "status": "ok"},
            {"project": "old", "found": "2023.01.0", "served": "no", "status": "version mismatch"},
            {"project": "previous", "found": "2024.04.0", "served": "yes", "status": "ok"},
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
    // The rollout so far: one project on the served version, one on an older, one not known.
    let summary = report.find("VERSION ").map_or("", |start| &report[start..]);
    assert_eq!(
        summary,
        format!(
            "VERSION    PROJECTS  SERVED\n2023.01.0  1         no\n2024.04.0  1         yes\n{expected}  1         newest\nunknown    1         -\n"
        ),
        "{report}"
    );
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
    let message = stderr(&missing);
    assert!(
        message.starts_with("error: nope.version: cannot read the structure version"),
        "{message}"
    );
    // Pagila and Chinook record no version: the message says what to run, or which flags.
    assert!(
        message.contains(
            "    CREATE TABLE \"nope\" (\"version\" varchar(64) PRIMARY KEY);\n    \
             INSERT INTO \"nope\" (\"version\") VALUES ('1');\n"
        ) && message.contains("--version-table and --version-column"),
        "{message}"
    );
    let reference = reference.to_str().unwrap();
    let mut connection = tenantapi_runtime::connections::db::DbConnection::open(reference).unwrap();
    diesel::connection::SimpleConnection::batch_execute(
        &mut connection,
        "CREATE TABLE nope (version TEXT);",
    )
    .unwrap();
    let empty = tenantapi(
        &dir.join("platform.db"),
        &[
            "introspect",
            "--database-url",
            reference,
            "--version-table",
            "nope",
        ],
    );
    assert_eq!(empty.status.code(), Some(1));
    assert!(
        stderr(&empty).contains(
            "nope.version: the structure version table holds no row.\n\
             tenantapi serves a database only while it records"
        ) && stderr(&empty).contains("INSERT INTO \"nope\" (\"version\") VALUES ('1');"),
        "{}",
        stderr(&empty)
    );
}

#[test]
fn fixtures_load_and_dump_from_the_command_line() {
    let dir = temp_dir("fixtures");
    let platform = dir.join("platform.db");
    let project = dir.join("p.db");
    project_database(&project, "");
    add_project(&platform, "acme", &project);
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
