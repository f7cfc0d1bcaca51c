//! Serving PostgreSQL projects through PgBouncer (Debian's package, started here on a free
//! loopback port in front of the machine's server): session mode as is, transaction mode when
//! the project's URL says `pgbouncer=transaction` (no statement cache, the statement timeout set
//! per transaction, nothing left behind in the server's sessions), and a clear error for each
//! configuration that cannot work.
//!
//! These tests need the `pgbouncer` binary, which a fresh machine does not have:
//! `.ci/pgbouncer-checks.sh` installs it and runs them (`cargo test -p tenantapi-tests --test
//! pgbouncer -- --ignored`).

use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::{Connection as _, PgConnection, QueryDsl as _, RunQueryDsl as _};
use serde_json::{Value, json};
use tenantapi_runtime::connections::database_url::DatabaseUrl;
use tenantapi_runtime::connections::watch::is_statement_cache_moved;
use tenantapi_testkit::{Backend, TestDatabase, TestKit, postgres_server_url};

/// A PgBouncer process in front of the test PostgreSQL server, stopped when dropped.
struct Bouncer {
    process: Child,
    port: u16,
    dir: PathBuf,
}

impl Bouncer {
    /// PgBouncer with `pool_mode` and `pool_size` server connections per database and user.
    fn start(pool_mode: &str, pool_size: u32) -> Bouncer {
        let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .find(|path| Path::new(path).is_file())
            .unwrap_or_else(|| {
                panic!(
                    "pgbouncer is not installed; `apt-get install pgbouncer` or \
                     .ci/pgbouncer-checks.sh installs it"
                )
            });
        let (host, port) = server_address();
        let listen_port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!(
            "tenantapi-pgbouncer-{}-{listen_port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let users = dir.join("users.txt");
        std::fs::write(&users, "\"postgres\" \"\"\n").unwrap();
        let config = dir.join("pgbouncer.ini");
        std::fs::write(
            &config,
            format!(
                "[databases]\n\
                 * = host={host} port={port}\n\
                 [pgbouncer]\n\
                 listen_addr = 127.0.0.1\n\
                 listen_port = {listen_port}\n\
                 unix_socket_dir =\n\
                 auth_type = trust\n\
                 auth_file = {users}\n\
                 pool_mode = {pool_mode}\n\
                 default_pool_size = {pool_size}\n\
                 max_client_conn = 500\n",
                users = users.display()
            ),
        )
        .unwrap();
        let mut command = Command::new(binary);
        command
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        run_as_postgres_when_root(&mut command);
        let mut process = command.spawn().expect("start pgbouncer");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", listen_port)).is_err() {
            if let Ok(Some(status)) = process.try_wait() {
                let mut output = String::new();
                let _ = process.stderr.take().unwrap().read_to_string(&mut output);
                panic!("pgbouncer exited ({status}): {output}");
            }
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not listen in 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Bouncer {
            process,
            port: listen_port,
            dir,
        }
    }

    /// `database`'s URL with PgBouncer in place of the server, plus `parameters`.
    fn url(&self, database: &TestDatabase, parameters: &str) -> String {
        let name = database_name(database);
        let separator = if parameters.is_empty() { "" } else { "?" };
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}{separator}{parameters}",
            self.port
        )
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn database_name(database: &TestDatabase) -> &str {
    database.url.rsplit('/').next().unwrap()
}

/// A query that runs for seconds unless cancelled (`label__contains` backtracks over long
/// labels); what it answered and how long it took.
async fn slow_query<S>(
    kit: &TestKit,
    app: &S,
    database: &TestDatabase,
) -> (tenantapi_testkit::Reply, Duration)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    database.execute(
        "INSERT INTO tag (label) SELECT repeat('a', 3000) || g FROM generate_series(1, 1500) g",
    );
    let path = format!("/api/v1/p/tag/?label__contains={}b", "a".repeat(2000));
    let started = Instant::now();
    let reply = kit.call(app, "GET", &path, Some("root"), None).await;
    (reply, started.elapsed())
}

/// Host and port of the test PostgreSQL server (`postgres://user@host:port`).
fn server_address() -> (String, u16) {
    let server = postgres_server_url();
    let authority = server
        .rsplit('@')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    match authority.rsplit_once(':') {
        Some((host, port)) => (host.to_string(), port.parse().unwrap()),
        None => (authority, 5432),
    }
}

/// PgBouncer refuses to run as root; CI runs as root, so it runs as the `postgres` user there.
fn run_as_postgres_when_root(command: &mut Command) {
    use std::os::unix::process::CommandExt as _;
    let id = |args: &[&str]| -> Option<u32> {
        let output = Command::new("id").args(args).output().ok()?;
        String::from_utf8(output.stdout).ok()?.trim().parse().ok()
    };
    if id(&["-u"]) == Some(0) {
        let uid = id(&["-u", "postgres"]).expect("a postgres user to run pgbouncer as");
        let gid = id(&["-g", "postgres"]).expect("the postgres user's group");
        command.uid(uid).gid(gid);
    }
}

/// A test kit over one PostgreSQL project database, served at `url(database)`.
fn kit_through(url: String, change: impl FnOnce(&mut tenantapi_server::config::Config)) -> TestKit {
    TestKit::builder(Backend::Postgres)
        .external_project("p", &url)
        .superuser("root")
        .configure(change)
        .build()
        .unwrap()
}

/// Creates, reads, lists, updates and deletes through the API; what each answered.
async fn crud_round<S>(kit: &TestKit, app: &S, round: usize) -> Vec<(u16, Value)>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let root = Some("root");
    let name = format!("bounced-{round}");
    let created = kit
        .call(
            app,
            "POST",
            "/api/v1/p/data_point/",
            root,
            Some(json!({"name": name, "unit": "kWh"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);
    let id = created.json["id"].as_i64().unwrap();
    let path = format!("/api/v1/p/data_point/{id}/");
    let mut answers = vec![(created.status, created.json.clone())];
    let read = kit.call(app, "GET", &path, root, None).await;
    answers.push((read.status, read.json));
    let listed = kit
        .call(
            app,
            "GET",
            &format!("/api/v1/p/data_point/?name={name}"),
            root,
            None,
        )
        .await;
    answers.push((listed.status, listed.json["results"].clone()));
    let patched = kit
        .call(app, "PATCH", &path, root, Some(json!({"unit": "MWh"})))
        .await;
    answers.push((patched.status, patched.json["unit"].clone()));
    let deleted = kit.call(app, "DELETE", &path, root, None).await;
    answers.push((deleted.status, deleted.json));
    let gone = kit.call(app, "GET", &path, root, None).await;
    answers.push((gone.status, Value::Null));
    answers
}

fn expected_crud(round: usize, id: i64) -> Vec<(u16, Value)> {
    let row = json!({"id": id, "name": format!("bounced-{round}"), "unit": "kWh",
                     "site_id": null, "type": "measured"});
    vec![
        (201, row.clone()),
        (200, row.clone()),
        (200, json!([row])),
        (200, json!("MWh")),
        (204, Value::Null),
        (404, Value::Null),
    ]
}

/// Runs `rounds` CRUD rounds, `parallel` at a time; each must answer exactly as directly.
async fn crud_rounds<S>(kit: &TestKit, app: &S, rounds: usize, parallel: usize)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    for batch in (0..rounds).collect::<Vec<_>>().chunks(parallel) {
        let answers =
            futures_util::future::join_all(batch.iter().map(|round| crud_round(kit, app, *round)))
                .await;
        for (round, answer) in batch.iter().zip(answers) {
            let id = answer[0].1["id"].as_i64().unwrap();
            assert_eq!(answer, expected_crud(*round, id), "round {round}");
        }
    }
}

#[actix_web::test]
#[ignore = "needs the pgbouncer binary: run .ci/pgbouncer-checks.sh"]
async fn session_mode_serves_with_or_without_the_url_saying_so() {
    let bouncer = Bouncer::start("session", 4);
    for parameters in ["", "pgbouncer=session"] {
        let database = TestDatabase::postgres();
        let kit = kit_through(bouncer.url(&database, parameters), |config| {
            config.pool.max_size = 4;
        });
        let app = kit.service().await;
        crud_rounds(&kit, &app, 24, 8).await;
    }
}

#[actix_web::test]
#[ignore = "needs the pgbouncer binary: run .ci/pgbouncer-checks.sh"]
async fn transaction_mode_serves_when_the_url_says_so() {
    // Fewer server connections than the project's pool: transactions of different pool
    // connections interleave on the same server connections.
    let bouncer = Bouncer::start("transaction", 2);
    let database = TestDatabase::postgres();
    let kit = kit_through(bouncer.url(&database, "pgbouncer=transaction"), |config| {
        config.pool.max_size = 6;
        config.pool.statement_timeout_ms = 400;
    });
    let app = kit.service().await;
    crud_rounds(&kit, &app, 60, 6).await;
    assert!(
        kit.registry().open_connections("p").unwrap() > 1,
        "the pool used several connections"
    );

    // The statement timeout still cancels a slow query ...
    let (slow, took) = slow_query(&kit, &app, &database).await;
    assert_eq!(slow.status, 503, "{}", slow.json);
    assert!(
        slow.json["detail"]
            .as_str()
            .unwrap()
            .contains("statement timeout"),
        "{}",
        slow.json
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    // ... and leaves nothing behind in the server sessions other clients of PgBouncer get.
    for _ in 0..4 {
        let mut other_client =
            PgConnection::establish(&bouncer.url(&database, "")).expect("connect via pgbouncer");
        #[derive(diesel::QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            statement_timeout: String,
        }
        let setting = diesel::sql_query("SHOW statement_timeout")
            .get_result::<Setting>(&mut other_client)
            .unwrap();
        assert_eq!(setting.statement_timeout, "0");
    }
    let after = kit
        .call(
            &app,
            "GET",
            "/api/v1/p/tag/?page_size=1",
            Some("root"),
            None,
        )
        .await;
    assert_eq!(after.status, 200, "{}", after.json);
}

#[actix_web::test]
#[ignore = "needs the pgbouncer binary: run .ci/pgbouncer-checks.sh"]
async fn a_database_statement_timeout_as_strict_as_ours_is_kept() {
    let bouncer = Bouncer::start("transaction", 2);
    let database = TestDatabase::postgres();
    let name = database_name(&database);
    database.execute(&format!(
        "ALTER DATABASE \"{name}\" SET statement_timeout = 200"
    ));
    let kit = kit_through(bouncer.url(&database, "pgbouncer=transaction"), |config| {
        config.pool.statement_timeout_ms = 60_000
    });
    let app = kit.service().await;
    let (slow, took) = slow_query(&kit, &app, &database).await;
    assert_eq!(slow.status, 503, "{}", slow.json);
    assert!(
        took < Duration::from_secs(5),
        "the database's 200 ms, not our 60 s: {took:?}"
    );
}

#[test]
#[ignore = "needs the pgbouncer binary: run .ci/pgbouncer-checks.sh"]
fn transaction_mode_unannounced_is_recognized_by_its_prepared_statements() {
    // One server connection shared by two clients, each with diesel's statement cache: the
    // second prepares a statement under the name the first already used on that connection.
    let bouncer = Bouncer::start("transaction", 1);
    let database = TestDatabase::postgres();
    let run = |url: &DatabaseUrl| {
        let mut connection = url.open_existing().unwrap();
        tenantapi_generated::schema::tag::table
            .select(tenantapi_generated::schema::tag::id)
            .load::<i32>(&mut connection)
            .map(|_| connection)
    };
    let unannounced = DatabaseUrl::new(bouncer.url(&database, ""));
    let _first = run(&unannounced).unwrap();
    let Err(error) = run(&unannounced) else {
        panic!("a second cached statement of the same name on one server connection")
    };
    assert!(is_statement_cache_moved(&error), "{error}");

    let announced = DatabaseUrl::new(bouncer.url(&database, "pgbouncer=transaction"));
    let _first = run(&announced).unwrap();
    let _second = run(&announced).unwrap();
    let _third = run(&announced).unwrap();
}

async fn list_languages(kit: &TestKit) -> tenantapi_testkit::Reply {
    let app = kit.service().await;
    kit.call(&app, "GET", "/api/v1/p/language/", Some("root"), None)
        .await
}

#[actix_web::test]
#[ignore = "needs the pgbouncer binary: run .ci/pgbouncer-checks.sh"]
async fn tables_outside_public_need_a_session_or_the_roles_search_path() {
    let api = &tenantapi_realworld::API;
    let sql = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("realworld/postgres.sql"),
    )
    .unwrap();
    let database = TestDatabase::empty_for(api, Backend::Postgres);
    database.execute(&sql);
    let kit_for = |url: String| {
        TestKit::builder(Backend::Postgres)
            .api(api)
            .external_project("p", &url)
            .superuser("root")
            .build()
            .unwrap()
    };

    // Unannounced, PgBouncer refuses the search path sent at connection time.
    let session = Bouncer::start("session", 2);
    let refused = DatabaseUrl::new(session.url(&database, ""))
        .with_search_path(&["store"])
        .open_existing()
        .err()
        .expect("PgBouncer refuses the options startup parameter");
    assert!(
        refused.to_string().contains("pgbouncer=session"),
        "{refused}"
    );
    // Session mode sets it after connecting.
    let kit = kit_for(session.url(&database, "pgbouncer=session"));
    let served = list_languages(&kit).await;
    assert_eq!(served.status, 200, "{}", served.json);
    assert!(
        served.json["count"].as_i64().unwrap() > 0,
        "{}",
        served.json
    );
    drop(kit);

    // Transaction mode cannot keep a setting: the role's search path must find the tables.
    let transaction = Bouncer::start("transaction", 2);
    let url = transaction.url(&database, "pgbouncer=transaction");
    let refused = DatabaseUrl::new(url.clone())
        .with_search_path(&["store"])
        .open_existing()
        .err()
        .expect("the role's first schema is public");
    assert!(refused.to_string().contains("ALTER ROLE"), "{refused}");
    let kit = kit_for(url.clone());
    assert_eq!(list_languages(&kit).await.status, 503);
    drop(kit);
    let name = database_name(&database);
    database.execute(&format!(
        "ALTER ROLE postgres IN DATABASE \"{name}\" SET search_path = store, sales, public"
    ));
    // A role setting applies to new server sessions (PgBouncer's RECONNECT, or a restart).
    drop(transaction);
    let transaction = Bouncer::start("transaction", 2);
    let kit = kit_for(transaction.url(&database, "pgbouncer=transaction"));
    let served = list_languages(&kit).await;
    assert_eq!(served.status, 200, "{}", served.json);
    assert!(
        served.json["count"].as_i64().unwrap() > 0,
        "{}",
        served.json
    );
}

/// Issue 24: a unit of work that panicked inside the transaction it is wrapped in (transaction
/// mode) gave its connection back with that transaction open, and PgBouncer kept the server
/// connection for it: the next client waited for a transaction nobody would end (or, with a
/// free server connection, ran inside it). The pool now rolls it back at check-in.
#[::core::prelude::v1::test]
#[ignore = "needs the pgbouncer binary: run .ci/pgbouncer-checks.sh"]
fn a_panic_inside_a_unit_of_work_leaves_no_transaction_to_the_next_client() {
    let bouncer = Bouncer::start("transaction", 1);
    let database = TestDatabase::postgres();
    let kit = kit_through(bouncer.url(&database, "pgbouncer=transaction"), |config| {
        config.pool.max_size = 1;
    });
    let pool = kit.registry().pool("p").unwrap();
    let worker = pool.clone();
    let panicked = std::thread::spawn(move || {
        let mut checked = worker
            .checkout(Instant::now() + Duration::from_secs(5), None, None)
            .unwrap();
        checked.run(
            tenantapi_runtime::connections::pool::Access::Read,
            |connection| -> Result<(), tenantapi_runtime::http::error::ApiError> {
                diesel::sql_query("SELECT 1").execute(connection)?;
                panic!("a bug inside a unit of work")
            },
        )
    })
    .join();
    assert!(panicked.is_err(), "the work panicked");

    // Another client of PgBouncer, on its one server connection.
    let url = bouncer.url(&database, "");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let answered = PgConnection::establish(&url).and_then(|mut other_client| {
            #[derive(diesel::QueryableByName)]
            struct Setting {
                #[diesel(sql_type = diesel::sql_types::Text)]
                statement_timeout: String,
            }
            diesel::sql_query("SHOW statement_timeout")
                .get_result::<Setting>(&mut other_client)
                .map(|setting| setting.statement_timeout)
                .map_err(|error| diesel::ConnectionError::BadConnection(error.to_string()))
        });
        let _ = sender.send(answered);
    });
    let answered = receiver
        .recv_timeout(Duration::from_secs(5))
        .expect("the other client got the server connection");
    assert_eq!(
        answered.unwrap(),
        "0",
        "nothing of the panicked transaction"
    );
}
