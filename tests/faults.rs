//! Fault injection: one project's sick database, or one hostile client, never degrades another
//! project. Hung and refused database addresses are loopback listeners started here; killed
//! backends, dropped databases and slow statements happen on the machine's PostgreSQL; removed
//! and replaced files on SQLite. Each test asserts what the healthy projects saw.
//!
//! The tests run one at a time (they measure latencies): each holds `ONE_AT_A_TIME` for its
//! whole run, on its own runtime, which is why a lock is held across awaits.
#![allow(clippy::await_holding_lock)]

use std::io::Read as _;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header;
use actix_web::test::TestRequest;
use base64::Engine as _;
use diesel::connection::SimpleConnection as _;
use diesel::{Connection as _, PgConnection, RunQueryDsl as _};
use serde_json::{Value, json};
use tenantapi_server::config::Config;
use tenantapi_testkit::{Backend, Reply, TestDatabase, TestKit, postgres_server_url, send};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A loopback address that accepts TCP connections and never answers: a frozen host, or a full
/// backlog behind a load balancer.
struct SilentListener {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl SilentListener {
    fn start() -> SilentListener {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                counter.fetch_add(1, Ordering::Relaxed);
                let _ = stream.set_nonblocking(true);
                let _ = stream.read(&mut [0u8; 64]);
                held.push(stream);
            }
        });
        SilentListener { port, accepted }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/frozen", self.port)
    }
}

/// A loopback TCP proxy in front of the machine's PostgreSQL that can be taken down (existing
/// connections cut, new ones refused: a restart) and brought back on the same port.
struct RestartableProxy {
    port: u16,
    up: Arc<AtomicBool>,
    /// Bumped when going down: forwarding threads of older connections stop.
    epoch: Arc<AtomicUsize>,
}

impl RestartableProxy {
    fn start(target: std::net::SocketAddr) -> RestartableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let epoch = Arc::new(AtomicUsize::new(0));
        let proxy = RestartableProxy {
            port,
            up: up.clone(),
            epoch: epoch.clone(),
        };
        std::thread::spawn(move || {
            let mut listener = Some(listener);
            loop {
                if !up.load(Ordering::Relaxed) {
                    // Down: nothing listens, so connections are refused.
                    listener = None;
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                let current = listener.get_or_insert_with(|| {
                    TcpListener::bind(("127.0.0.1", port)).expect("rebind the proxy port")
                });
                current.set_nonblocking(true).unwrap();
                match current.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let server = std::net::TcpStream::connect(target).unwrap();
                        let born = epoch.load(Ordering::Relaxed);
                        for (mut from, mut to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server, client),
                        ] {
                            let epoch = epoch.clone();
                            std::thread::spawn(move || {
                                use std::io::Write as _;
                                from.set_read_timeout(Some(Duration::from_millis(20)))
                                    .unwrap();
                                let mut buffer = [0u8; 16384];
                                while epoch.load(Ordering::Relaxed) == born {
                                    match from.read(&mut buffer) {
                                        Ok(0) => break,
                                        Ok(read) => {
                                            if to.write_all(&buffer[..read]).is_err() {
                                                break;
                                            }
                                        }
                                        Err(error)
                                            if error.kind() == std::io::ErrorKind::WouldBlock
                                                || error.kind() == std::io::ErrorKind::TimedOut => {
                                        }
                                        Err(_) => break,
                                    }
                                }
                                let _ = from.shutdown(std::net::Shutdown::Both);
                                let _ = to.shutdown(std::net::Shutdown::Both);
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        proxy
    }

    fn down(&self) {
        self.epoch.fetch_add(1, Ordering::Relaxed);
        self.up.store(false, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50));
    }

    fn up(&self) {
        self.up.store(true, Ordering::Relaxed);
    }
}

/// A loopback port where nothing listens: connections are refused.
fn refused_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("postgres://postgres@127.0.0.1:{port}/gone")
}

fn admin() -> PgConnection {
    PgConnection::establish(&format!("{}/postgres", postgres_server_url())).unwrap()
}

/// The PostgreSQL database name of a test database.
fn database_name(database: &TestDatabase) -> String {
    database.url.rsplit('/').next().unwrap().to_string()
}

/// Terminates this server's connections to `database` (what a restart or failover does);
/// returns how many.
fn kill_backends(admin: &mut PgConnection, database: &str) -> usize {
    #[derive(diesel::QueryableByName)]
    struct Killed {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        #[allow(dead_code)]
        killed: bool,
    }
    let killed: Vec<Killed> = diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity \
         WHERE datname = '{database}' AND application_name = 'tenantapi' AND state IS NOT NULL"
    ))
    .load(admin)
    .unwrap();
    killed.len()
}

/// Connections this process's server has open to databases named `like`.
fn server_connections(like: &str) -> usize {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    let counted: Vec<Count> = diesel::sql_query(format!(
        "SELECT count(*) AS count FROM pg_stat_activity \
         WHERE datname LIKE '{like}' AND application_name = 'tenantapi'"
    ))
    .load(&mut admin())
    .unwrap();
    counted[0].count as usize
}

/// What a series of requests saw.
#[derive(Debug, Default)]
struct Outcomes {
    statuses: Vec<u16>,
    latencies: Vec<Duration>,
    /// Bodies of the answers that were not 200, to say what went wrong.
    error_bodies: Vec<Value>,
}

impl Outcomes {
    fn errors(&self) -> Vec<u16> {
        self.statuses
            .iter()
            .copied()
            .filter(|status| *status != 200)
            .collect()
    }

    fn percentile(&self, fraction: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
        sorted.get(index).copied().unwrap_or_default()
    }

    fn extend(&mut self, other: Outcomes) {
        self.statuses.extend(other.statuses);
        self.latencies.extend(other.latencies);
        self.error_bodies.extend(other.error_bodies);
    }
}

async fn timed<S>(kit: &TestKit, app: &S, method: &str, path: &str, user: &str) -> (Reply, Duration)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let started = Instant::now();
    let reply = kit.call(app, method, path, Some(user), None).await;
    (reply, started.elapsed())
}

/// `clients` concurrent clients, each sending `requests` GETs in turn over `paths`.
async fn load<S>(
    kit: &TestKit,
    app: &S,
    paths: &[String],
    clients: usize,
    requests: usize,
) -> Outcomes
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let client = |number: usize| async move {
        let mut outcomes = Outcomes::default();
        for request in 0..requests {
            let path = &paths[(number + request) % paths.len()];
            let (reply, took) = timed(kit, app, "GET", path, "root").await;
            outcomes.statuses.push(reply.status);
            outcomes.latencies.push(took);
            if reply.status != 200 {
                outcomes.error_bodies.push(reply.json);
            }
        }
        outcomes
    };
    let mut all = Outcomes::default();
    for outcomes in futures_util::future::join_all((0..clients).map(client)).await {
        all.extend(outcomes);
    }
    all
}

/// The bound on healthy latencies under a fault: 1.5 times the same load without it, plus a
/// margin for the machine's noise (two cores shared with the database and the fault itself).
fn assert_unaffected(name: &str, baseline: &Outcomes, under_fault: &Outcomes) {
    assert_eq!(
        under_fault.errors(),
        Vec::<u16>::new(),
        "{name}: errors {:?}",
        under_fault.error_bodies
    );
    let (base, fault) = (baseline.percentile(0.99), under_fault.percentile(0.99));
    eprintln!(
        "{name}: p50 {:?} -> {:?}, p99 {base:?} -> {fault:?} ({} requests)",
        baseline.percentile(0.5),
        under_fault.percentile(0.5),
        under_fault.statuses.len()
    );
    assert!(
        fault <= base.mul_f64(1.5) + Duration::from_millis(50),
        "{name}: p99 {fault:?} under the fault, {base:?} without"
    );
}

fn tag_rows() -> Value {
    json!({"tag": [{"id": 1, "label": "one"}, {"id": 2, "label": "two"}]})
}

/// One project `alpha` with two tags, and the superuser `root`.
fn alpha_kit(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestKit {
    TestKit::builder(backend)
        .project_with_rows("alpha", tag_rows())
        .superuser("root")
        .configure(configure)
        .build()
        .unwrap()
}

#[actix_web::test]
async fn hung_refused_and_killed_databases_leave_other_projects_unaffected() {
    let _serial = one_at_a_time();
    let silent = SilentListener::start();
    let kit = TestKit::builder(Backend::Postgres)
        .project_with_rows("north", tag_rows())
        .project_with_rows("south", tag_rows())
        .project_with_rows("killed", tag_rows())
        .external_project("hung", &silent.url())
        .external_project("refused", &refused_url())
        .superuser("root")
        .configure(|config| {
            config.pool.max_size = 4;
            config.pool.checkout_timeout_ms = 1000;
        })
        .build()
        .unwrap();
    let app = kit.service().await;
    // The kit's startup check tried the hung database once already.
    let attempts_before = silent.accepted.load(Ordering::Relaxed);
    let healthy: Vec<String> = ["north", "south"]
        .iter()
        .flat_map(|project| {
            [
                format!("/api/v1/{project}/tag/1/"),
                format!("/api/v1/{project}/tag/?ordering=-label"),
            ]
        })
        .collect();
    let killed_paths = vec!["/api/v1/killed/tag/1/".to_string()];
    load(&kit, &app, &healthy, 8, 10).await; // warm-up
    // The same load without the fault: the killed project's clients too, nothing killed.
    let (baseline, _) = futures_util::future::join(
        load(&kit, &app, &healthy, 8, 60),
        load(&kit, &app, &killed_paths, 4, 40),
    )
    .await;

    let killing = Arc::new(AtomicBool::new(true));
    let killer = {
        let killing = killing.clone();
        let database = database_name(kit.database("killed"));
        std::thread::spawn(move || {
            let mut admin = admin();
            let mut kills = 0;
            while killing.load(Ordering::Relaxed) {
                kills += kill_backends(&mut admin, &database);
                std::thread::sleep(Duration::from_millis(300));
            }
            kills
        })
    };
    let hung = async {
        let mut answers = Vec::new();
        for _ in 0..3 {
            let round = (0..20).map(|_| timed(&kit, &app, "GET", "/api/v1/hung/tag/1/", "root"));
            answers.extend(futures_util::future::join_all(round).await);
        }
        answers
    };
    let refused = async {
        let mut answers = Vec::new();
        for _ in 0..6 {
            answers.push(timed(&kit, &app, "GET", "/api/v1/refused/tag/1/", "root").await);
        }
        answers
    };
    let (under_fault, killed, hung, refused) = futures_util::future::join4(
        load(&kit, &app, &healthy, 8, 60),
        load(&kit, &app, &killed_paths, 4, 40),
        hung,
        refused,
    )
    .await;
    killing.store(false, Ordering::Relaxed);
    let kills = killer.join().unwrap();

    assert_unaffected("healthy projects", &baseline, &under_fault);
    assert!(kills > 0, "the killer found connections to kill");
    assert_eq!(
        killed.errors(),
        Vec::<u16>::new(),
        "reads on the killed project are retried on a fresh connection ({kills} killed): {:?}",
        killed.error_bodies
    );
    for (reply, took) in hung {
        assert_eq!(reply.status, 503, "{}", reply.json);
        assert!(reply.headers.contains_key(header::RETRY_AFTER));
        assert!(
            took < Duration::from_millis(1500),
            "the hung project answers within its checkout timeout: {took:?}"
        );
    }
    // The first requests try at most the pool's size of connections at once; once those
    // failed (libpq gives up after 2 s), one probe at a time.
    let attempts = silent.accepted.load(Ordering::Relaxed) - attempts_before;
    assert!(
        attempts <= 4 + 1,
        "the hung project keeps at most its pool's worth of connection attempts: {attempts}"
    );
    for (reply, took) in refused {
        assert_eq!(
            (reply.status, reply.json),
            (
                503,
                json!({"detail": "The project database is unavailable. Try again later."})
            )
        );
        assert!(
            took < Duration::from_millis(800),
            "a refused database answers within the pause between probes: {took:?}"
        );
    }
}

#[actix_web::test]
async fn a_restarted_database_is_served_again_at_once_and_writes_are_not_lost() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Postgres, |config| config.pool.max_size = 4);
    let app = kit.service().await;
    let database = database_name(kit.database("alpha"));
    let warm_up = (0..8).map(|_| timed(&kit, &app, "GET", "/api/v1/alpha/tag/1/", "root"));
    futures_util::future::join_all(warm_up).await;
    let open = kit.registry().open_connections("alpha").unwrap();
    assert!(open >= 2, "several pooled connections: {open}");

    // Every connection killed; the database accepts new ones at once.
    assert_eq!(kill_backends(&mut admin(), &database), open);
    for _ in 0..2 * open {
        let (reply, took) = timed(&kit, &app, "GET", "/api/v1/alpha/tag/1/", "root").await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
    // No broken connection was handed out twice: only fresh ones remain.
    assert!(kit.registry().open_connections("alpha").unwrap() <= 4);

    // A write on a killed connection is retried only because nothing had reached the database.
    kill_backends(&mut admin(), &database);
    let created = kit
        .call(
            &app,
            "POST",
            "/api/v1/alpha/tag/",
            Some("root"),
            Some(json!({"label": "after restart"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);

    // A write whose connection dies inside its transaction is not applied, and says so.
    let mut locker = PgConnection::establish(&kit.database("alpha").url).unwrap();
    locker
        .batch_execute("BEGIN; SELECT version FROM schema_version FOR UPDATE;")
        .unwrap();
    let write = kit.call(
        &app,
        "POST",
        "/api/v1/alpha/tag/",
        Some("root"),
        Some(json!({"label": "in doubt"})),
    );
    let terminator = async {
        // Wait until the write waits for the version row, then kill its backend.
        for _ in 0..200 {
            actix_web::rt::time::sleep(Duration::from_millis(10)).await;
            let waiting: Vec<Killed> = diesel::sql_query(format!(
                "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity \
                 WHERE datname = '{database}' AND application_name = 'tenantapi' \
                 AND wait_event_type = 'Lock'"
            ))
            .load(&mut admin())
            .unwrap();
            if !waiting.is_empty() {
                return true;
            }
        }
        false
    };
    #[derive(diesel::QueryableByName)]
    struct Killed {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        #[allow(dead_code)]
        killed: bool,
    }
    let (reply, terminated) = futures_util::future::join(write, terminator).await;
    locker.batch_execute("ROLLBACK").unwrap();
    assert!(terminated, "the write was seen waiting for its lock");
    assert_eq!(
        (reply.status, reply.json),
        (
            503,
            json!({"detail": "The connection to the project database was lost during the write, which was not applied. Try again."})
        )
    );
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    let list = kit
        .call(
            &app,
            "GET",
            "/api/v1/alpha/tag/?label=in%20doubt",
            Some("root"),
            None,
        )
        .await;
    assert_eq!(list.json["count"], 0, "not applied");
}

#[actix_web::test]
async fn a_database_back_after_a_restart_is_served_within_a_second() {
    let _serial = one_at_a_time();
    let database = TestDatabase::postgres();
    database.execute("INSERT INTO tag (id, label) VALUES (1, 'one')");
    let server: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = RestartableProxy::start(server);
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/{}",
        proxy.port,
        database_name(&database)
    );
    let kit = TestKit::builder(Backend::Postgres)
        .external_project("alpha", &url)
        .superuser("root")
        .build()
        .unwrap();
    let app = kit.service().await;
    let warm = (0..4).map(|_| timed(&kit, &app, "GET", "/api/v1/alpha/tag/1/", "root"));
    for (reply, _) in futures_util::future::join_all(warm).await {
        assert_eq!(reply.status, 200, "{}", reply.json);
    }

    proxy.down();
    for _ in 0..3 {
        let (reply, took) = timed(&kit, &app, "GET", "/api/v1/alpha/tag/1/", "root").await;
        assert_eq!(reply.status, 503, "{}", reply.json);
        assert!(reply.headers.contains_key(header::RETRY_AFTER));
        assert!(
            took < Duration::from_secs(1),
            "a down database answers at once: {took:?}"
        );
    }
    // Clients keep asking every 50 ms; the database comes back after a second.
    let up_at = async {
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        proxy.up();
        Instant::now()
    };
    let clients = async {
        let mut seen = Vec::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            let (reply, _) = timed(&kit, &app, "GET", "/api/v1/alpha/tag/1/", "root").await;
            seen.push((Instant::now(), reply.status));
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        seen
    };
    let (up_at, seen) = futures_util::future::join(up_at, clients).await;
    let first_served = seen
        .iter()
        .find(|(_, status)| *status == 200)
        .map(|(at, _)| *at)
        .expect("served again");
    assert!(
        first_served.saturating_duration_since(up_at) < Duration::from_secs(1),
        "served {:?} after the database came back",
        first_served.saturating_duration_since(up_at)
    );
    assert!(
        seen.iter()
            .filter(|(at, _)| *at > first_served)
            .all(|(_, status)| *status == 200),
        "{seen:?}"
    );
}

#[actix_web::test]
async fn a_dropped_and_recreated_database_answers_503_then_serves_again() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Postgres, |_| {});
    let app = kit.service().await;
    let database = database_name(kit.database("alpha"));
    assert_eq!(
        kit.call(&app, "GET", "/api/v1/alpha/tag/1/", Some("root"), None)
            .await
            .status,
        200
    );
    admin()
        .batch_execute(&format!("DROP DATABASE \"{database}\" WITH (FORCE)"))
        .unwrap();
    for (method, body) in [("GET", None), ("POST", Some(json!({"label": "x"})))] {
        let path = if method == "GET" {
            "/api/v1/alpha/tag/1/"
        } else {
            "/api/v1/alpha/tag/"
        };
        let reply = kit.call(&app, method, path, Some("root"), body).await;
        assert_eq!(reply.status, 503, "{method}: {}", reply.json);
        assert!(reply.headers.contains_key(header::RETRY_AFTER));
    }
    admin()
        .batch_execute(&format!("CREATE DATABASE \"{database}\""))
        .unwrap();
    kit.database("alpha")
        .execute(tenantapi_generated::ddl::POSTGRES);
    kit.database("alpha")
        .execute(tenantapi_generated::INSERT_VERSION_SQL);
    let back = kit
        .call(&app, "GET", "/api/v1/alpha/tag/", Some("root"), None)
        .await;
    assert_eq!((back.status, back.json["count"].clone()), (200, json!(0)));
}

#[actix_web::test]
async fn a_removed_or_replaced_sqlite_file_is_never_written() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Sqlite, |_| {});
    let app = kit.service().await;
    let path = kit.database("alpha").url.clone();
    assert_eq!(
        kit.call(&app, "GET", "/api/v1/alpha/tag/1/", Some("root"), None)
            .await
            .status,
        200
    );
    // Keep the old file reachable to inspect it, then remove it as an operator would.
    let kept = format!("{path}.kept");
    std::fs::hard_link(&path, &kept).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    for (method, target, body) in [
        ("GET", "/api/v1/alpha/tag/1/", None),
        ("POST", "/api/v1/alpha/tag/", Some(json!({"label": "lost"}))),
    ] {
        let reply = kit.call(&app, method, target, Some("root"), body).await;
        assert_eq!(reply.status, 503, "{method} after removal: {}", reply.json);
    }

    // A different database put in its place is served, and writes go into it.
    let replacement = TestDatabase::sqlite();
    replacement.execute("INSERT INTO tag (id, label) VALUES (7, 'replacement')");
    std::fs::copy(&replacement.url, &path).unwrap();
    let listed = kit
        .call(&app, "GET", "/api/v1/alpha/tag/", Some("root"), None)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.json);
    assert_eq!(
        (
            listed.json["count"].clone(),
            listed.json["results"][0]["label"].clone()
        ),
        (json!(1), json!("replacement"))
    );
    let created = kit
        .call(
            &app,
            "POST",
            "/api/v1/alpha/tag/",
            Some("root"),
            Some(json!({"label": "new"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);

    let mut old = diesel::SqliteConnection::establish(&kept).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Label {
        #[diesel(sql_type = diesel::sql_types::Text)]
        label: String,
    }
    let labels: Vec<Label> = diesel::sql_query("SELECT label FROM tag ORDER BY id")
        .load(&mut old)
        .unwrap();
    let labels: Vec<String> = labels.into_iter().map(|row| row.label).collect();
    assert_eq!(
        labels,
        vec!["one", "two"],
        "nothing was written into the old file"
    );
    drop(old);
    let _ = std::fs::remove_file(&kept);
}

/// Rows whose labels make `label__contains=aaa...ab` backtrack for seconds: LIKE and GLOB try
/// every start position and compare up to the pattern's length at each.
fn slow_rows(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => {
            "INSERT INTO tag (label) SELECT repeat('a', 3000) || g FROM generate_series(1, 1500) g"
        }
        Backend::Sqlite => {
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1500) \
             INSERT INTO tag (label) SELECT replace(hex(zeroblob(1500)), '00', 'aa') || n FROM g"
        }
    }
}

async fn statement_timeout_scenario(backend: Backend) {
    let _serial = one_at_a_time();
    let kit = TestKit::builder(backend)
        .project("slow", None)
        .project_with_rows("other", tag_rows())
        .superuser("root")
        .configure(|config| {
            config.pool.max_size = 1;
            config.pool.statement_timeout_ms = 300;
        })
        .build()
        .unwrap();
    kit.database("slow").execute(slow_rows(backend));
    let app = kit.service().await;
    let slow_query = format!("/api/v1/slow/tag/?label__contains={}b", "a".repeat(2000));
    let slow = timed(&kit, &app, "GET", &slow_query, "root");
    let other = async {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        timed(&kit, &app, "GET", "/api/v1/other/tag/1/", "root").await
    };
    let ((slow, slow_took), (other, other_took)) = futures_util::future::join(slow, other).await;
    assert_eq!(
        (slow.status, slow.json),
        (
            503,
            json!({"detail": "The query took longer than the server's statement timeout and was cancelled. Narrow it (filters, page size) or try again later."})
        ),
        "{backend:?}"
    );
    assert!(slow.headers.contains_key(header::RETRY_AFTER));
    assert!(
        slow_took < Duration::from_secs(3),
        "cancelled near the timeout: {slow_took:?}"
    );
    assert_eq!(other.status, 200);
    assert!(other_took < Duration::from_millis(200), "{other_took:?}");
    // The project's only connection is usable afterwards.
    let (after, _) = timed(&kit, &app, "GET", "/api/v1/slow/tag/?page_size=1", "root").await;
    assert_eq!(after.status, 200, "{}", after.json);
    assert_eq!(kit.registry().open_connections("slow"), Some(1));
}

#[actix_web::test]
async fn the_statement_timeout_cancels_a_slow_query_on_postgres() {
    statement_timeout_scenario(Backend::Postgres).await;
}

#[actix_web::test]
async fn the_statement_timeout_interrupts_a_slow_query_on_sqlite() {
    statement_timeout_scenario(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_token_flood_leaves_valid_users_unaffected() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Sqlite, |config| config.auth.cache_seconds = 60);
    let app = kit.service().await;
    let valid = |count: usize| {
        let kit = &kit;
        let app = &app;
        async move {
            let mut outcomes = Outcomes::default();
            for _ in 0..count {
                let (reply, took) = timed(kit, app, "GET", "/api/v1/alpha/tag/1/", "root").await;
                outcomes.statuses.push(reply.status);
                outcomes.latencies.push(took);
            }
            outcomes
        }
    };
    valid(20).await;
    let baseline = valid(200).await;
    let authenticator = kit.registry();
    let lookups_before = authenticator.authenticator().unwrap().platform_lookups();

    let flood = async {
        let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
        for batch in 0..100 {
            let requests = (0..200).map(|number| {
                let request = TestRequest::get()
                    .uri("/api/v1/alpha/tag/1/")
                    .insert_header((
                        header::AUTHORIZATION,
                        format!("Token tap_flood{batch}x{number}x{}", "f".repeat(30)),
                    ));
                send(&app, request)
            });
            for reply in futures_util::future::join_all(requests).await {
                *statuses.entry(reply.status).or_default() += 1;
            }
        }
        statuses
    };
    let started = Instant::now();
    let (under_flood, flooded) = futures_util::future::join(valid(200), flood).await;
    let flood_took = started.elapsed();
    eprintln!("20,000 random tokens in {flood_took:?}: {flooded:?}");
    assert_eq!(flooded.values().sum::<usize>(), 20_000);
    assert!(
        flooded
            .keys()
            .all(|status| *status == 401 || *status == 429),
        "{flooded:?}"
    );
    assert_eq!(under_flood.errors(), Vec::<u16>::new());
    let (base, flood) = (baseline.percentile(0.5), under_flood.percentile(0.5));
    eprintln!("valid user p50 {base:?} -> {flood:?} during the flood");
    assert!(
        flood <= base * 2 + Duration::from_millis(5),
        "valid users' latency within 2x: {base:?} -> {flood:?}"
    );
    // Their verdict stayed cached through the flood: asking again costs no lookup.
    let lookups_after_flood = authenticator.authenticator().unwrap().platform_lookups();
    assert!(
        lookups_after_flood > lookups_before,
        "the flood was looked up"
    );
    valid(5).await;
    assert_eq!(
        authenticator.authenticator().unwrap().platform_lookups(),
        lookups_after_flood,
        "the valid verdict was not evicted"
    );
}

#[actix_web::test]
async fn a_basic_auth_flood_is_throttled_and_valid_users_still_get_in() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Sqlite, |config| config.auth.cache_seconds = 1);
    tenantapi_server::accounts::add_user(
        &mut kit.platform().connect(),
        "bob",
        true,
        Some("correct horse"),
    )
    .unwrap();
    let app = kit.service().await;
    let basic = |user: &str, password: &str| {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        TestRequest::get()
            .uri("/api/v1/alpha/tag/1/")
            .insert_header((header::AUTHORIZATION, format!("Basic {encoded}")))
    };
    assert_eq!(send(&app, basic("bob", "correct horse")).await.status, 200);
    // Past the cache period, bob is refreshed without waiting behind the flood.
    actix_web::rt::time::sleep(Duration::from_millis(1100)).await;

    let flood = (0..100).map(|number| send(&app, basic("bob", &format!("guess {number}"))));
    let bob = async {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        let reply = send(&app, basic("bob", "correct horse")).await;
        (reply, started.elapsed())
    };
    let (flooded, (bob, bob_took)) =
        futures_util::future::join(futures_util::future::join_all(flood), bob).await;
    assert_eq!(bob.status, 200, "{}", bob.json);
    assert!(bob_took < Duration::from_millis(500), "{bob_took:?}");
    let throttled: Vec<&Reply> = flooded.iter().filter(|reply| reply.status == 429).collect();
    assert!(
        !throttled.is_empty(),
        "attempts beyond the queue are throttled"
    );
    for reply in &flooded {
        assert!(
            reply.status == 401 || reply.status == 429,
            "{} {}",
            reply.status,
            reply.json
        );
    }
    assert_eq!(
        throttled[0].json,
        json!({"detail": "Request was throttled. Expected available in 1 second."})
    );
    assert_eq!(throttled[0].headers.get(header::RETRY_AFTER).unwrap(), "1");
}

/// 150 projects on the machine's PostgreSQL (`max_connections` 100), five to each of 30
/// databases: each project has its own pool all the same, and 30 databases keep the test's
/// CREATE and DROP DATABASE (a checkpoint each) within seconds.
#[actix_web::test]
async fn the_connection_budget_holds_for_150_projects_on_one_server() {
    let _serial = one_at_a_time();
    let mut builder = TestKit::builder(Backend::Postgres).superuser("root");
    for database in 0..30 {
        builder = builder.project_with_rows(&format!("p{database:03}"), tag_rows());
    }
    let kit = builder.build().unwrap();
    let mut platform = kit.platform().connect();
    for number in 30..150 {
        let shared = kit.database(&format!("p{:03}", number % 30));
        tenantapi_server::platform::add_project(
            &mut platform,
            &format!("p{number:03}"),
            &shared.url,
        )
        .unwrap();
    }
    let registry = kit.registry();
    registry.replace_projects(tenantapi_server::platform::enabled_projects(&mut platform).unwrap());
    let checking = registry.clone();
    actix_web::web::block(move || checking.check_all_now())
        .await
        .unwrap();
    let names = registry.project_names();
    assert_eq!(names.len(), 150);
    let budget = kit.config().pool.max_connections_per_host as usize;
    assert_eq!(budget, 50, "the default");
    let app = kit.service().await;
    let prefix = database_name(kit.database("p000"));
    let like = format!("{}%", prefix.rsplit_once('_').unwrap().0);
    let paths: Vec<String> = names
        .iter()
        .map(|name| format!("/api/v1/{name}/tag/1/"))
        .collect();

    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        let like = like.clone();
        std::thread::spawn(move || {
            let (mut most, mut others_connected) = (0, true);
            while sampling.load(Ordering::Relaxed) {
                most = most.max(server_connections(&like));
                // Other clients of the database server can still connect.
                others_connected &=
                    PgConnection::establish(&format!("{}/postgres", postgres_server_url())).is_ok();
                std::thread::sleep(Duration::from_millis(20));
            }
            (most, others_connected)
        })
    };
    let started = Instant::now();
    let outcomes = load(&kit, &app, &paths, 32, 30).await;
    let took = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let (most, others_connected) = sampler.join().unwrap();
    eprintln!(
        "150 projects, 32 clients: {} requests in {took:?} ({:.0}/s), at most {most} connections, p99 {:?}",
        outcomes.statuses.len(),
        outcomes.statuses.len() as f64 / took.as_secs_f64(),
        outcomes.percentile(0.99)
    );
    assert_eq!(
        outcomes.errors(),
        Vec::<u16>::new(),
        "{:?}",
        outcomes.error_bodies
    );
    assert!(most <= budget, "{most} connections, budget {budget}");
    assert!(most > 0);
    assert!(others_connected);
    assert!(server_connections(&like) <= budget);
}

#[actix_web::test]
async fn each_project_is_rechecked_on_time_while_others_hang() {
    let _serial = one_at_a_time();
    let silent = SilentListener::start();
    let mut builder = TestKit::builder(Backend::Sqlite)
        .superuser("root")
        .configure(|config| {
            config.version_check_seconds = 1;
            config.pool.checkout_timeout_ms = 1000;
        });
    for number in 0..80 {
        builder = builder.project_with_rows(&format!("ok{number:02}"), tag_rows());
    }
    for number in 0..20 {
        builder = builder.external_project(&format!("hung{number:02}"), &silent.url());
    }
    let kit = builder.build().unwrap();
    let registry = kit.registry();
    let _app = kit.service().await;
    tenantapi_server::serve::spawn_version_checks(registry.clone(), Duration::from_secs(1));
    let states = |status: &str| {
        registry
            .health_report()
            .iter()
            .filter(|(name, health)| name.starts_with("ok") && health.status() == status)
            .count()
    };
    assert_eq!(states("ok"), 80);
    for number in 0..80 {
        kit.database(&format!("ok{number:02}"))
            .execute("UPDATE schema_version SET version = 'migrated'");
    }
    let migrated_at = Instant::now();
    while states("version mismatch") < 80 && migrated_at.elapsed() < Duration::from_secs(5) {
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let noticed = migrated_at.elapsed();
    assert_eq!(states("version mismatch"), 80, "after {noticed:?}");
    assert!(
        noticed < Duration::from_millis(1600),
        "every project re-checked within version_check_seconds (1 s): {noticed:?}"
    );
}

#[actix_web::test]
async fn prepared_statements_stay_bounded_whatever_the_query_shapes() {
    let _serial = one_at_a_time();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let kit = alpha_kit(backend, |config| {
            config.pool.max_size = 1;
            config.pool.max_cached_statements = 50;
        });
        let app = kit.service().await;
        let filters = [
            "id__gt=0",
            "id__lt=9",
            "label__startswith=o",
            "label__isnull=false",
        ];
        let orderings = ["id", "-id", "label", "-label", "label,id", "-label,-id"];
        let mut shapes = 0;
        for first in 0..filters.len() {
            for second in 0..filters.len() {
                for ordering in orderings {
                    for page_size in [1, 2] {
                        let path = format!(
                            "/api/v1/alpha/tag/?{}&{}&ordering={ordering}&page_size={page_size}",
                            filters[first], filters[second]
                        );
                        let reply = kit.call(&app, "GET", &path, Some("root"), None).await;
                        assert_eq!(reply.status, 200, "{path}: {}", reply.json);
                        shapes += 1;
                    }
                }
            }
        }
        assert!(shapes >= 150);
        let pool = kit.registry().pool("alpha").unwrap();
        let mut checked = pool
            .checkout_idle()
            .expect("the project's one connection is idle");
        assert!(
            checked.cached_statements() <= 50,
            "{backend:?}: {} cached statements",
            checked.cached_statements()
        );
        if backend == Backend::Postgres {
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                count: i64,
            }
            let prepared: Vec<Count> =
                diesel::sql_query("SELECT count(*) AS count FROM pg_prepared_statements")
                    .load(checked.connection())
                    .unwrap();
            assert!(
                prepared[0].count <= 52,
                "PostgreSQL keeps {} prepared statements",
                prepared[0].count
            );
        }
    }
}
