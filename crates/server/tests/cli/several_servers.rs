//! Two `serve` processes on one PostgreSQL platform database behave as one service: what the
//! command line changes reaches both within the documented bounds (`auth.cache_seconds` for
//! credentials and grants, `refresh_seconds` for projects).

use super::*;

/// A PostgreSQL database on the machine's server for this test, dropped at the end.
struct PlatformDatabase {
    name: String,
    url: String,
}

const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

impl PlatformDatabase {
    fn new(name: &str) -> PlatformDatabase {
        let name = format!("tenantapi_cli_{name}_{}", std::process::id());
        admin_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        admin_sql(&format!("CREATE DATABASE {name}"));
        PlatformDatabase {
            url: format!("{POSTGRES}/{name}"),
            name,
        }
    }
}

impl Drop for PlatformDatabase {
    fn drop(&mut self) {
        admin_sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn admin_sql(sql: &str) {
    let mut connection =
        tenantapi_runtime::connections::db::DbConnection::open(&format!("{POSTGRES}/postgres"))
            .unwrap();
    diesel::connection::SimpleConnection::batch_execute(&mut connection, sql).unwrap();
}

/// Waits until both servers answer `path` with `status`; how long that took.
fn both_answer(ports: [u16; 2], path: &str, token: &str, status: u16) -> Duration {
    let started = Instant::now();
    wait_until(&format!("both servers answer {status} to {path}"), || {
        ports.iter().all(|port| {
            get(*port, path, Some(token)).is_some_and(|(answered, _)| answered == status)
        })
    });
    started.elapsed()
}

#[test]
fn two_servers_on_one_platform_database_apply_every_change() {
    let dir = temp_dir("several");
    let platform_database = PlatformDatabase::new("several");
    let platform = Path::new(&platform_database.url);
    let project = dir.join("p.db");
    project_database(
        &project,
        "INSERT INTO data_point (name) VALUES ('north/electricity');",
    );
    add_project(platform, "p", &project);
    let ok = |args: &[&str]| {
        let output = tenantapi(platform, args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        stdout(&output)
    };
    ok(&["user", "add", "alice"]);
    ok(&["grant", "alice", "p", "--role", "read"]);
    let token = ok(&["token", "create", "alice"]).trim().to_string();

    let servers = [(), ()].map(|()| {
        serve(
            &platform_database.url,
            &[
                ("TENANTAPI_REFRESH_SECONDS", "1"),
                ("TENANTAPI_AUTH_CACHE_SECONDS", "1"),
            ],
        )
    });
    let ports = [servers[0].0, servers[1].0];
    let list = "/api/v1/p/data_point/";
    both_answer(ports, list, &token, 200);
    // The documented bound is the cache time (1 s here) plus a request's own time; the
    // assertions allow for a loaded machine.
    let bound = Duration::from_secs(4);

    ok(&["revoke", "alice", "p"]);
    let took = both_answer(ports, list, &token, 404);
    assert!(took < bound, "revoking a grant took {took:?}");
    ok(&["grant", "alice", "p", "--role", "read"]);
    let took = both_answer(ports, list, &token, 200);
    assert!(took < bound, "granting took {took:?}");

    ok(&["project", "disable", "p"]);
    let took = both_answer(ports, list, &token, 404);
    assert!(took < bound, "disabling the project took {took:?}");
    ok(&["project", "enable", "p"]);
    both_answer(ports, list, &token, 200);

    ok(&["user", "disable", "alice"]);
    let took = both_answer(ports, list, &token, 401);
    assert!(took < bound, "disabling the user took {took:?}");
    ok(&["user", "enable", "alice"]);
    both_answer(ports, list, &token, 200);

    let prefix: String = token.chars().take(12).collect();
    ok(&["token", "revoke", &prefix]);
    let took = both_answer(ports, list, &token, 401);
    assert!(took < bound, "revoking the token took {took:?}");
}
