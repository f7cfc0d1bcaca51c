//! Project and account commands: idempotent, with one clear line for each mistake.

use super::*;

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
        "error: project acme already exists with another database URL; `tenantapi project set-url acme --database-url URL` changes it\n"
    );
    let moved = tenantapi(
        &platform,
        &[
            "project",
            "set-url",
            "acme",
            "--database-url",
            "postgres://app:s3cret@pgbouncer.internal:6432/acme?pgbouncer=transaction",
        ],
    );
    assert!(moved.status.success(), "{}", stderr(&moved));
    assert_eq!(stdout(&moved), "changed the database URL of acme\n");
    assert_eq!(
        stdout(&tenantapi(&platform, &["project", "list"])),
        "acme\tenabled\tpostgres://app:***@pgbouncer.internal:6432/acme?pgbouncer=transaction\n"
    );
    let misspelt = tenantapi(
        &platform,
        &[
            "project",
            "set-url",
            "acme",
            "--database-url",
            "postgres://app@db/acme?pgbouncer=yes",
        ],
    );
    assert_eq!(misspelt.status.code(), Some(1));
    assert!(
        stderr(&misspelt).contains(
            "pgbouncer=yes in the database URL: expected pgbouncer=session or pgbouncer=transaction"
        ),
        "{}",
        stderr(&misspelt)
    );
    let unknown = tenantapi(
        &platform,
        &["project", "set-url", "nope", "--database-url", "x.db"],
    );
    assert_eq!(
        (unknown.status.code(), stderr(&unknown)),
        (Some(1), "error: no project named nope\n".to_string())
    );
    assert!(
        tenantapi(
            &platform,
            &[
                "project",
                "set-url",
                "acme",
                "--database-url",
                "postgres://app:s3cret@db.internal/acme"
            ],
        )
        .status
        .success()
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
fn limits_are_set_per_project_and_user_shown_by_list_and_refused_when_wrong() {
    let dir = temp_dir("limits");
    let platform = dir.join("platform.db");
    let added = tenantapi(
        &platform,
        &["project", "add", "acme", "--database-url", "acme.db"],
    );
    assert!(added.status.success(), "{}", stderr(&added));
    let set = tenantapi(
        &platform,
        &[
            "project",
            "set-limits",
            "acme",
            "--rate",
            "120/min",
            "--burst",
            "10",
            "--max-in-flight",
            "4",
        ],
    );
    assert!(set.status.success(), "{}", stderr(&set));
    assert_eq!(
        stdout(&set),
        "limits of acme: rate 2/s, burst 10, max in flight 4\n"
    );
    assert_eq!(
        stdout(&tenantapi(&platform, &["project", "list"])),
        "acme\tenabled\tacme.db\tlimits: rate 2/s, burst 10, max in flight 4\n"
    );
    // One limit back to the configuration's default; the others kept.
    let partly = tenantapi(
        &platform,
        &["project", "set-limits", "acme", "--burst", "default"],
    );
    assert_eq!(
        stdout(&partly),
        "limits of acme: rate 2/s, burst default, max in flight 4\n"
    );
    for (args, message) in [
        (
            &["project", "set-limits", "acme"][..],
            "error: nothing to change: give --rate, --burst or --max-in-flight (a value, or `default`)\n",
        ),
        (
            &["project", "set-limits", "acme", "--max-in-flight", "11"][..],
            "error: --max-in-flight 11 is more than pool.max_size (10): a project never has more work in flight than connections\n",
        ),
        (
            &["project", "set-limits", "nowhere", "--rate", "5"][..],
            "error: no project named nowhere\n",
        ),
        (
            &["user", "set-limits", "nobody", "--rate", "5"][..],
            "error: no user named nobody\n",
        ),
    ] {
        let refused = tenantapi(&platform, args);
        assert_eq!(refused.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&refused), message, "{args:?}");
    }
    for args in [
        &["project", "set-limits", "acme", "--rate", "fast"][..],
        &["project", "set-limits", "acme", "--rate", "10/week"][..],
        &["project", "set-limits", "acme", "--burst", "0"][..],
    ] {
        let refused = tenantapi(&platform, args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: clap refuses it");
        assert!(stderr(&refused).contains("invalid value"), "{args:?}");
    }
    assert_eq!(
        stdout(&tenantapi(&platform, &["project", "list"])),
        "acme\tenabled\tacme.db\tlimits: rate 2/s, burst default, max in flight 4\n",
        "refused commands changed nothing"
    );
    assert!(
        tenantapi(&platform, &["user", "add", "ann"])
            .status
            .success()
    );
    let user = tenantapi(
        &platform,
        &["user", "set-limits", "ann", "--rate", "0", "--burst", "3"],
    );
    assert!(user.status.success(), "{}", stderr(&user));
    assert_eq!(stdout(&user), "limits of user ann: rate none, burst 3\n");
}
