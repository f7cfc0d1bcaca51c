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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
/// connections cut, new ones refused: a restart) and brought back on the same port, or made to
/// hang.
struct RestartableProxy {
    port: u16,
    up: Arc<AtomicBool>,
    /// Bumped when going down: forwarding threads of older connections stop.
    epoch: Arc<AtomicUsize>,
    /// Hanging: new connections are accepted and never answered.
    silent: Arc<AtomicBool>,
    /// Connections accepted while hanging.
    held: Arc<AtomicUsize>,
    /// New connections reach the database only this many milliseconds after they are
    /// accepted (a slow network): the client's connect succeeds, its handshake waits.
    delay_ms: Arc<AtomicU64>,
}

impl RestartableProxy {
    fn start(target: std::net::SocketAddr) -> RestartableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let epoch = Arc::new(AtomicUsize::new(0));
        let silent = Arc::new(AtomicBool::new(false));
        let held = Arc::new(AtomicUsize::new(0));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let proxy = RestartableProxy {
            port,
            up: up.clone(),
            epoch: epoch.clone(),
            silent: silent.clone(),
            held: held.clone(),
            delay_ms: delay_ms.clone(),
        };
        std::thread::spawn(move || {
            let mut listener = Some(listener);
            let mut hanging = Vec::new();
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
                    Ok((client, _)) if silent.load(Ordering::Relaxed) => {
                        held.fetch_add(1, Ordering::Relaxed);
                        hanging.push(client);
                    }
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let delay = Duration::from_millis(delay_ms.load(Ordering::Relaxed));
                        let epoch = epoch.clone();
                        std::thread::spawn(move || {
                            std::thread::sleep(delay);
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
                                                if error.kind()
                                                    == std::io::ErrorKind::WouldBlock
                                                    || error.kind()
                                                        == std::io::ErrorKind::TimedOut => {}
                                            Err(_) => break,
                                        }
                                    }
                                    let _ = from.shutdown(std::net::Shutdown::Both);
                                    let _ = to.shutdown(std::net::Shutdown::Both);
                                });
                            }
                        });
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

    /// From now on new connections are accepted and never answered (a frozen host); those
    /// already open keep working.
    fn hang(&self) {
        self.silent.store(true, Ordering::Relaxed);
    }

    /// From now on new connections reach the database `delay` after they are accepted.
    fn delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::Relaxed);
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

/// Polls (every 10 ms, for up to 2 s) for this server's connections to `database` that meet
/// `condition` (SQL over `pg_stat_activity`) and terminates them; whether any were found.
async fn terminate_when(database: &str, condition: &str) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Killed {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        #[allow(dead_code)]
        killed: bool,
    }
    for _ in 0..200 {
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
        let killed: Vec<Killed> = diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity \
             WHERE datname = '{database}' AND application_name = 'tenantapi' AND {condition}"
        ))
        .load(&mut admin())
        .unwrap();
        if !killed.is_empty() {
            return true;
        }
    }
    false
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

/// The bound on healthy latencies under a fault: 1.5 times the same load without it, plus 5 ms
/// for the machine's noise (a scheduler's time slice on two cores shared with the database,
/// the test's own client and the fault itself). Compares the median of the rounds' p99s, the
/// rounds with and without the fault having run in turn: one hiccup of the machine's (another
/// process's burst) is one round's, not the verdict.
fn assert_unaffected(name: &str, baselines: &[Outcomes], under_fault: &[Outcomes]) {
    for round in under_fault {
        assert_eq!(
            round.errors(),
            Vec::<u16>::new(),
            "{name}: errors {:?}",
            round.error_bodies
        );
    }
    let median_p99 = |rounds: &[Outcomes]| {
        let mut p99s: Vec<Duration> = rounds.iter().map(|round| round.percentile(0.99)).collect();
        p99s.sort();
        p99s[p99s.len() / 2]
    };
    let (base, fault) = (median_p99(baselines), median_p99(under_fault));
    let p99s = |rounds: &[Outcomes]| {
        rounds
            .iter()
            .map(|round| round.percentile(0.99))
            .collect::<Vec<_>>()
    };
    eprintln!(
        "{name}: p99 per round {:?} -> {:?} ({} requests under the fault)",
        p99s(baselines),
        p99s(under_fault),
        under_fault
            .iter()
            .map(|round| round.statuses.len())
            .sum::<usize>()
    );
    assert!(
        fault <= base.mul_f64(1.5) + Duration::from_millis(5),
        "{name}: median p99 {fault:?} under the fault, {base:?} without"
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

mod floods;
mod scale;
mod sick_databases;
mod statement_timeout;
