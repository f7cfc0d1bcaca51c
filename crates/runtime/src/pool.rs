//! One project's connections: an r2d2 pool of slots that this module opens itself, on the
//! requesting thread, within the request's deadline.
//!
//! r2d2 opens connections on a background thread pool and retries failed connects there
//! forever. With one helper pool shared by every project, a project whose database hangs
//! holds those threads and every other project waits behind it; with one per project, a
//! thousand projects cost a thousand threads. So r2d2 keeps what it is good at (how many
//! connections a project may have, reuse, closing idle ones) and hands out *slots*; a slot is
//! opened when a request finds it empty:
//!
//! - on the requesting thread, within the request's checkout deadline (PostgreSQL
//!   `connect_timeout`), so that connection setup of one project never waits on another's;
//! - after taking a share of the database server's [`HostBudget`];
//! - at most one attempt at a time once the project's database has failed to connect (the
//!   others answer 503 at once), so a hung database holds one thread, not one per request;
//! - with the structure version checked ([`ConnectionHooks::on_open`]), PostgreSQL's
//!   `statement_timeout` set, and a [`ConnectionWatch`] listening to every statement.
//!
//! A connection found lost is closed at once, so it is never handed out twice; a connection
//! whose SQLite file was removed or replaced is closed before it is used again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::Connection as _;
use diesel::connection::{CacheSize, SimpleConnection as _};
use scheduled_thread_pool::ScheduledThreadPool;

use crate::budget::{BudgetPermit, HostBudget, IdleConnections};
use crate::db::{BackendKind, DbConnection, redact, sqlite_path, url_password};
use crate::error::ApiError;
use crate::watch::{ConnectionWatch, LostAt, WatchInstrumentation};

/// How one project's pool behaves; the server's `[pool]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections of this project at most.
    pub max_size: u32,
    /// How long a request may wait for a connection (a free one, or a new one opened).
    pub checkout_timeout: Duration,
    /// Idle connections are closed after this long.
    pub idle_timeout: Duration,
    /// Statements running longer are cancelled; `None`: no limit.
    pub statement_timeout: Option<Duration>,
    /// Ping a connection before handing it out (one round trip more per request).
    pub test_on_checkout: bool,
    /// A connection's prepared statement cache is cleared when it holds more: distinct query
    /// shapes (filters and orderings in any combination) would otherwise grow memory without
    /// bound, in this process and in each PostgreSQL backend.
    pub max_cached_statements: usize,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_size: 10,
            checkout_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(300),
            statement_timeout: Some(Duration::from_secs(30)),
            test_on_checkout: false,
            max_cached_statements: 100,
        }
    }
}

/// What the server does with each new connection and learns from failed ones.
pub trait ConnectionHooks: Send + Sync + 'static {
    /// Runs on every newly opened connection before it is used (the structure version check);
    /// an error refuses the connection, which is closed, and is the request's answer.
    fn on_open(&self, project: &str, connection: &mut DbConnection) -> Result<(), ApiError>;

    /// A connection could not be opened; `reason` carries no password.
    fn on_unreachable(&self, project: &str, reason: &str);
}

/// Reads or writes: decides whether a request may be retried on a fresh connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// GET, HEAD, OPTIONS: retried once when the connection was lost.
    Read,
    /// Retried only when the connection was lost before anything reached the database.
    Write,
}

/// A pool slot: empty, or holding an open connection.
pub struct Slot {
    open: Option<OpenConnection>,
}

struct OpenConnection {
    // Fields drop in order: the connection is closed before it is uncounted and before its
    // budget share is given back.
    connection: DbConnection,
    watch: Arc<ConnectionWatch>,
    sqlite_file: Option<FileIdentity>,
    _counted: Counted,
    _budget: Option<BudgetPermit>,
}

/// Counts an open connection in its pool while it lives, however it ends (closed by a request,
/// by eviction, or by r2d2 dropping an idle slot).
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(counter: &Arc<AtomicUsize>) -> Counted {
        counter.fetch_add(1, Ordering::Relaxed);
        Counted(counter.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Which file a SQLite connection opened, to notice when the path names another file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileIdentity {
    path: std::path::PathBuf,
    device: u64,
    inode: u64,
}

impl FileIdentity {
    fn of(path: &str) -> Option<FileIdentity> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            let metadata = std::fs::metadata(path).ok()?;
            Some(FileIdentity {
                path: path.into(),
                device: metadata.dev(),
                inode: metadata.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = path;
            None
        }
    }

    /// Whether the path still names the file that was opened.
    fn still_current(&self) -> bool {
        FileIdentity::of(&self.path.to_string_lossy()).as_ref() == Some(self)
    }
}

/// Hands r2d2 empty slots: it never opens a connection itself.
#[derive(Debug)]
pub struct SlotManager;

/// [`SlotManager`] cannot fail; r2d2 wants an error type anyway.
#[derive(Debug, thiserror::Error)]
#[error("slots are never refused")]
pub struct NoSlotError;

impl r2d2::ManageConnection for SlotManager {
    type Connection = Slot;
    type Error = NoSlotError;

    fn connect(&self) -> Result<Slot, NoSlotError> {
        Ok(Slot { open: None })
    }

    fn is_valid(&self, _slot: &mut Slot) -> Result<(), NoSlotError> {
        Ok(())
    }

    fn has_broken(&self, _slot: &mut Slot) -> bool {
        false
    }
}

/// Whether the project's database could be reached lately.
#[derive(Debug)]
struct Reachability {
    /// Since when connecting fails; `None` while it works.
    failing_since: Option<Instant>,
    /// Failed attempts in a row, for the pause between probes.
    consecutive_failures: u32,
    /// While failing, one attempt (the probe) at a time finds out whether the database is
    /// back; requests that need a connection wait for its outcome instead of piling up.
    probing: bool,
    /// While failing, no probe starts before this.
    next_probe_at: Instant,
    /// Counts attempt outcomes, so that a waiting request knows a probe finished.
    outcomes: u64,
}

impl Default for Reachability {
    fn default() -> Self {
        Reachability {
            failing_since: None,
            consecutive_failures: 0,
            probing: false,
            next_probe_at: Instant::now(),
            outcomes: 0,
        }
    }
}

/// The pause before the next probe after `failures` failed attempts in a row: short enough that
/// a database back after a restart is served again within a second, long enough that a refused
/// address costs a few connection attempts a second, however many requests ask for it.
fn pause_after(failures: u32) -> Duration {
    let doubled = Duration::from_millis(100).saturating_mul(1 << failures.saturating_sub(1).min(8));
    doubled.min(Duration::from_millis(500))
}

/// The right to be the one connection attempt to a failing database; given back when dropped
/// unused.
pub struct ProbeLicence {
    pool: Arc<ProjectPool>,
    used: bool,
}

impl Drop for ProbeLicence {
    fn drop(&mut self) {
        if !self.used {
            let mut reachability = self.pool.reachability();
            reachability.probing = false;
            drop(reachability);
            self.pool.reachability_changed.notify_waiters();
        }
    }
}

/// One project's pool.
pub struct ProjectPool {
    project: Arc<str>,
    backend: BackendKind,
    url: String,
    password: Option<String>,
    settings: PoolSettings,
    slots: r2d2::Pool<SlotManager>,
    /// One per slot: requests queue here, asynchronously and first come first served, instead
    /// of racing inside r2d2, whose waiters can be overtaken by newcomers indefinitely.
    turns: Arc<tokio::sync::Semaphore>,
    budget: Option<Arc<HostBudget>>,
    reachability: Mutex<Reachability>,
    /// Woken on every connection attempt's outcome while failing.
    reachability_changed: tokio::sync::Notify,
    hooks: Arc<dyn ConnectionHooks>,
    /// Connections open now (idle or in use).
    open_connections: Arc<AtomicUsize>,
}

impl std::fmt::Debug for ProjectPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry credentials: never printed.
        f.debug_struct("ProjectPool")
            .field("project", &self.project)
            .field("backend", &self.backend)
            .finish()
    }
}

impl ProjectPool {
    /// A pool that opens nothing until a request needs it. `helper_threads` only runs r2d2's
    /// bookkeeping (making empty slots, closing idle ones), never a connection attempt.
    pub fn new(
        project: Arc<str>,
        url: &str,
        settings: PoolSettings,
        budget: Option<Arc<HostBudget>>,
        hooks: Arc<dyn ConnectionHooks>,
        helper_threads: Arc<ScheduledThreadPool>,
    ) -> Arc<ProjectPool> {
        let slots = r2d2::Pool::builder()
            .max_size(settings.max_size)
            // Slots are free; keeping all of them means a request always finds one.
            .min_idle(Some(settings.max_size))
            .connection_timeout(settings.checkout_timeout)
            .idle_timeout(Some(settings.idle_timeout.max(Duration::from_secs(1))))
            .test_on_check_out(false)
            .thread_pool(helper_threads)
            .build_unchecked(SlotManager);
        let pool = Arc::new(ProjectPool {
            backend: BackendKind::of_url(url),
            password: url_password(url),
            url: url.to_string(),
            turns: Arc::new(tokio::sync::Semaphore::new(settings.max_size as usize)),
            settings,
            slots,
            budget,
            reachability: Mutex::new(Reachability::default()),
            reachability_changed: tokio::sync::Notify::new(),
            hooks,
            open_connections: Arc::new(AtomicUsize::new(0)),
            project,
        });
        if let Some(budget) = &pool.budget {
            let member: Arc<dyn IdleConnections> = pool.clone();
            budget.join(Arc::downgrade(&member));
        }
        pool
    }

    pub fn project(&self) -> &Arc<str> {
        &self.project
    }

    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    /// Connections of this project open now.
    pub fn open_connections(&self) -> usize {
        self.open_connections.load(Ordering::Relaxed)
    }

    fn reachability(&self) -> std::sync::MutexGuard<'_, Reachability> {
        self.reachability
            .lock()
            .expect("reachability lock poisoned")
    }

    /// Whether the database may be connected to now. While it is failing, one request at a time
    /// gets a [`ProbeLicence`] to try; the others wait (asynchronously, holding nothing) for that
    /// attempt's outcome: connected, they go on; failed, they answer 503. So a hung database
    /// holds one attempt, a refused one costs a few attempts a second, and requests waiting
    /// when the database comes back are served without an error.
    pub async fn wait_until_reachable(
        self: &Arc<Self>,
        deadline: Instant,
    ) -> Result<Option<ProbeLicence>, ApiError> {
        let mut outcome_seen: Option<u64> = None;
        loop {
            let changed = self.reachability_changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            let wake_at = {
                let mut reachability = self.reachability();
                if reachability.failing_since.is_none() {
                    return Ok(None);
                }
                match outcome_seen {
                    Some(seen) if seen != reachability.outcomes => {
                        return Err(ApiError::project_unavailable());
                    }
                    _ => outcome_seen = Some(reachability.outcomes),
                }
                if !reachability.probing && Instant::now() >= reachability.next_probe_at {
                    reachability.probing = true;
                    return Ok(Some(ProbeLicence {
                        pool: self.clone(),
                        used: false,
                    }));
                }
                if reachability.probing {
                    deadline
                } else {
                    reachability.next_probe_at.min(deadline)
                }
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(ApiError::project_unavailable());
            }
            let _ =
                actix_web::rt::time::timeout(wake_at.saturating_duration_since(now), changed).await;
        }
    }

    /// Waits (asynchronously, in arrival order) for this project's turn at a connection.
    pub async fn take_turn(
        &self,
        deadline: Instant,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        let wait = deadline.saturating_duration_since(Instant::now());
        match actix_web::rt::time::timeout(wait, self.turns.clone().acquire_owned()).await {
            Ok(Ok(turn)) => Ok(turn),
            Ok(Err(_closed)) => Err(ApiError::project_unavailable()),
            Err(_elapsed) => {
                log::warn!(
                    "project {}: no database connection free within {:?}",
                    self.project,
                    self.settings.checkout_timeout
                );
                Err(ApiError::no_connection_free())
            }
        }
    }

    /// A slot with an open connection, opened now if needed. Blocking: call it off the async
    /// threads, after [`ProjectPool::take_turn`].
    pub fn checkout(
        self: &Arc<Self>,
        deadline: Instant,
        licence: Option<ProbeLicence>,
    ) -> Result<CheckedOut, ApiError> {
        // An open idle connection first, wherever r2d2's stack holds it: slots made empty
        // (after idle connections were closed) must not cause new connections while open ones
        // wait underneath.
        let slot = match self.take_slot(|slot| slot.open.is_some()) {
            Some(slot) => slot,
            None => {
                let wait = deadline.saturating_duration_since(Instant::now());
                self.slots
                    .get_timeout(wait.max(Duration::from_millis(1)))
                    .map_err(|_| ApiError::no_connection_free())?
            }
        };
        let mut checked = CheckedOut {
            pool: self.clone(),
            slot,
        };
        checked.ensure_open(deadline, licence)?;
        Ok(checked)
    }

    /// An idle slot whose connection is open and usable, if there is one; never opens one.
    pub fn checkout_idle(self: &Arc<Self>) -> Option<CheckedOut> {
        let slot =
            self.take_slot(|slot| slot.open.as_mut().is_some_and(|open| !open.is_stale(false)))?;
        Some(CheckedOut {
            pool: self.clone(),
            slot,
        })
    }

    /// The first idle slot that `wanted` accepts; the slots passed over go back to the pool.
    fn take_slot(
        &self,
        mut wanted: impl FnMut(&mut Slot) -> bool,
    ) -> Option<r2d2::PooledConnection<SlotManager>> {
        let mut passed_over = Vec::new();
        while passed_over.len() < self.settings.max_size as usize {
            let mut slot = self.slots.try_get()?;
            if wanted(&mut slot) {
                return Some(slot);
            }
            passed_over.push(slot);
        }
        None
    }

    /// Runs `work` on a connection outside the request path (the periodic version check): an
    /// idle one if there is one, else an empty slot opened now, else (every slot in use) a
    /// connection of its own, so that a busy pool cannot keep the check from running.
    pub fn with_connection<T>(
        self: &Arc<Self>,
        deadline: Instant,
        work: impl FnMut(&mut DbConnection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        if let Some(mut checked) = self.checkout_idle() {
            return checked.run(Access::Read, work);
        }
        if let Some(slot) = self.slots.try_get() {
            let mut checked = CheckedOut {
                pool: self.clone(),
                slot,
            };
            checked.ensure_open(deadline, None)?;
            return checked.run(Access::Read, work);
        }
        let mut work = work;
        let mut own = self.open_connection(deadline, None)?;
        work(&mut own.connection)
    }

    /// Opens a connection: one attempt at a time while the database is failing, within the
    /// server's budget, bounded by `deadline`. A connection lost while it was being checked
    /// (a restart racing the connect) is tried once more.
    fn open_connection(
        &self,
        deadline: Instant,
        licence: Option<ProbeLicence>,
    ) -> Result<OpenConnection, ApiError> {
        match self.try_open_connection(deadline, licence) {
            Err(OpenFailure::LostWhileOpening) => self
                .try_open_connection(deadline.max(Instant::now() + Duration::from_secs(2)), None)
                .map_err(OpenFailure::into_error),
            other => other.map_err(OpenFailure::into_error),
        }
    }

    fn try_open_connection(
        &self,
        deadline: Instant,
        licence: Option<ProbeLicence>,
    ) -> Result<OpenConnection, OpenFailure> {
        let attempt = ConnectAttempt::begin(self, licence)?;
        let budget = match &self.budget {
            Some(budget) => Some(budget.acquire(deadline).map_err(|spent| {
                log::warn!("project {}: {spent}", self.project);
                ApiError::server_at_connection_limit()
            })?),
            None => None,
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let url = connect_url(&self.url, remaining);
        let mut connection = match DbConnection::open_existing(&url) {
            Ok(connection) => connection,
            Err(error) => {
                let reason = redact(&error.to_string(), self.password.as_deref());
                attempt.failed();
                log::warn!("project {}: cannot connect: {reason}", self.project);
                self.hooks.on_unreachable(&self.project, &reason);
                return Err(ApiError::project_unavailable().into());
            }
        };
        attempt.succeeded();
        let watch = Arc::new(ConnectionWatch::default());
        self.configure(&mut connection, &watch)?;
        let verdict = self.hooks.on_open(&self.project, &mut connection);
        if watch.is_lost() {
            // Not the database's version speaking: the connection went away under the check.
            self.hooks
                .on_unreachable(&self.project, "connection lost while opening");
            return Err(OpenFailure::LostWhileOpening);
        }
        verdict?;
        let sqlite_file = match self.backend {
            BackendKind::Sqlite => FileIdentity::of(sqlite_path(&self.url)),
            BackendKind::Postgres => None,
        };
        Ok(OpenConnection {
            connection,
            watch,
            sqlite_file,
            _counted: Counted::new(&self.open_connections),
            _budget: budget,
        })
    }

    /// Sets up a new connection: the watch first, so that a connection lost from here on is
    /// known as such; then PostgreSQL's statement timeout.
    fn configure(
        &self,
        connection: &mut DbConnection,
        watch: &Arc<ConnectionWatch>,
    ) -> Result<(), OpenFailure> {
        connection.set_instrumentation(WatchInstrumentation {
            watch: watch.clone(),
            sqlite_statement_timeout: match connection {
                DbConnection::Sqlite(_) => self.settings.statement_timeout,
                DbConnection::Pg(_) => None,
            },
        });
        if let (DbConnection::Pg(_), Some(timeout)) =
            (&*connection, self.settings.statement_timeout)
            && let Err(error) = connection.batch_execute(&format!(
                "SET statement_timeout = {}",
                timeout.as_millis().max(1)
            ))
        {
            if watch.is_lost() {
                return Err(OpenFailure::LostWhileOpening);
            }
            log::warn!(
                "project {}: cannot set the statement timeout: {error}",
                self.project
            );
            return Err(ApiError::project_unavailable().into());
        }
        Ok(())
    }
}

impl IdleConnections for ProjectPool {
    fn close_one_idle(&self) -> bool {
        let Some(mut slot) = self.take_slot(|slot| slot.open.is_some()) else {
            return false;
        };
        slot.open = None;
        log::debug!(
            "project {}: closed an idle connection to make room for another project",
            self.project
        );
        true
    }
}

impl OpenConnection {
    /// Whether this connection must not be used again.
    fn is_stale(&mut self, ping: bool) -> bool {
        if self.watch.is_lost() {
            return true;
        }
        if let Some(file) = &self.sqlite_file
            && !file.still_current()
        {
            return true;
        }
        ping && {
            use diesel::r2d2::R2D2Connection as _;
            self.connection.ping().is_err()
        }
    }

    fn clear_statement_cache(&mut self) -> bool {
        self.connection
            .set_prepared_statement_cache_size(CacheSize::Disabled);
        // PostgreSQL keeps prepared statements until the session ends or they are deallocated.
        let deallocated = match self.connection {
            DbConnection::Pg(_) => self.connection.batch_execute("DEALLOCATE ALL").is_ok(),
            DbConnection::Sqlite(_) => true,
        };
        self.connection
            .set_prepared_statement_cache_size(CacheSize::Unbounded);
        self.watch.cache_cleared();
        deallocated
    }
}

/// Why a connection could not be opened.
enum OpenFailure {
    Refused(ApiError),
    LostWhileOpening,
}

impl From<ApiError> for OpenFailure {
    fn from(error: ApiError) -> Self {
        OpenFailure::Refused(error)
    }
}

impl OpenFailure {
    fn into_error(self) -> ApiError {
        match self {
            OpenFailure::Refused(error) => error,
            OpenFailure::LostWhileOpening => ApiError::project_unavailable(),
        }
    }
}

/// One connection attempt and what it teaches about the database's reachability.
struct ConnectAttempt<'a> {
    pool: &'a ProjectPool,
    probing: bool,
    finished: bool,
}

impl<'a> ConnectAttempt<'a> {
    /// With a licence, the attempt is the probe. Without one (a retry, a version check), it
    /// may go while the database works, or become the probe when one is due.
    fn begin(
        pool: &'a ProjectPool,
        licence: Option<ProbeLicence>,
    ) -> Result<ConnectAttempt<'a>, ApiError> {
        if let Some(mut licence) = licence {
            licence.used = true;
            return Ok(ConnectAttempt {
                pool,
                probing: true,
                finished: false,
            });
        }
        let mut reachability = pool.reachability();
        let probing = reachability.failing_since.is_some();
        if probing {
            if reachability.probing || Instant::now() < reachability.next_probe_at {
                return Err(ApiError::project_unavailable());
            }
            reachability.probing = true;
        }
        Ok(ConnectAttempt {
            pool,
            probing,
            finished: false,
        })
    }

    fn succeeded(mut self) {
        self.finished = true;
        let mut reachability = self.pool.reachability();
        if let Some(since) = reachability.failing_since.take() {
            log::info!(
                "project {}: database reachable again after {:.1} s",
                self.pool.project,
                since.elapsed().as_secs_f64()
            );
        }
        reachability.consecutive_failures = 0;
        if self.probing {
            reachability.probing = false;
        }
        reachability.outcomes += 1;
        drop(reachability);
        self.pool.reachability_changed.notify_waiters();
    }

    fn failed(mut self) {
        self.finished = true;
        self.record_failure();
    }

    fn record_failure(&self) {
        let mut reachability = self.pool.reachability();
        let now = Instant::now();
        reachability.failing_since.get_or_insert(now);
        reachability.consecutive_failures = reachability.consecutive_failures.saturating_add(1);
        reachability.next_probe_at = now + pause_after(reachability.consecutive_failures);
        if self.probing {
            reachability.probing = false;
        }
        reachability.outcomes += 1;
        drop(reachability);
        self.pool.reachability_changed.notify_waiters();
    }
}

impl Drop for ConnectAttempt<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // An early return (no budget) or a panic: nothing was learnt about the database,
            // but the next attempt must not wait for this one.
            let mut reachability = self.pool.reachability();
            if self.probing {
                reachability.probing = false;
            }
            drop(reachability);
            self.pool.reachability_changed.notify_waiters();
        }
    }
}

/// The URL to connect with: PostgreSQL gets a `connect_timeout` (whole seconds, at least 2,
/// libpq's minimum) unless the URL sets one, and identifies itself as `tenantapi`.
fn connect_url(url: &str, remaining: Duration) -> String {
    if BackendKind::of_url(url) != BackendKind::Postgres {
        return url.to_string();
    }
    let mut url = url.to_string();
    if !url_has_parameter(&url, "connect_timeout") {
        let seconds = remaining.as_secs_f64().ceil().max(2.0) as u64;
        push_parameter(&mut url, &format!("connect_timeout={seconds}"));
    }
    if !url_has_parameter(&url, "application_name") {
        push_parameter(&mut url, "application_name=tenantapi");
    }
    url
}

fn url_has_parameter(url: &str, name: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query
            .split('&')
            .any(|pair| pair.split('=').next() == Some(name))
    })
}

fn push_parameter(url: &mut String, parameter: &str) {
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(parameter);
}

/// A slot checked out for one request, its connection open. Returned to the pool on drop:
/// closed instead when it was lost, or when another project waits for the server's budget.
pub struct CheckedOut {
    pool: Arc<ProjectPool>,
    slot: r2d2::PooledConnection<SlotManager>,
}

impl CheckedOut {
    fn ensure_open(
        &mut self,
        deadline: Instant,
        licence: Option<ProbeLicence>,
    ) -> Result<(), ApiError> {
        let ping = self.pool.settings.test_on_checkout;
        if let Some(open) = self.slot.open.as_mut() {
            if !open.is_stale(ping) {
                return Ok(());
            }
            self.slot.open = None;
        }
        let open = self.pool.open_connection(deadline, licence)?;
        self.slot.open = Some(open);
        Ok(())
    }

    /// Prepared statements cached on this connection now.
    pub fn cached_statements(&self) -> usize {
        self.slot
            .open
            .as_ref()
            .map_or(0, |open| open.watch.cached_statements())
    }

    pub fn connection(&mut self) -> &mut DbConnection {
        &mut self
            .slot
            .open
            .as_mut()
            .expect("BUG: a checked-out slot without a connection")
            .connection
    }

    /// Runs `work` on the connection. A lost connection is closed; a read is then retried once
    /// on a fresh connection, a write only if nothing had reached the database.
    pub fn run<T>(
        &mut self,
        access: Access,
        mut work: impl FnMut(&mut DbConnection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut retried = false;
        loop {
            let open = self
                .slot
                .open
                .as_mut()
                .expect("BUG: a checked-out slot without a connection");
            open.watch.begin_attempt();
            let result = work(&mut open.connection);
            let Some(lost_at) = open.watch.lost_at() else {
                return result;
            };
            self.slot.open = None;
            log::warn!(
                "project {}: database connection lost ({lost_at:?}); closed it",
                self.pool.project
            );
            // A read is retried even if `work` made something of the failure (an answer read
            // over a dying connection is not to be trusted).
            let may_retry = !retried
                && match access {
                    Access::Read => true,
                    Access::Write => lost_at == LostAt::FirstStatement,
                };
            if !may_retry {
                if result.is_ok() && access == Access::Write {
                    return result;
                }
                return Err(match (access, lost_at) {
                    (Access::Write, LostAt::Commit) => ApiError::write_outcome_unknown(),
                    (Access::Write, _) => ApiError::write_not_applied(),
                    (Access::Read, _) => ApiError::project_unavailable(),
                });
            }
            retried = true;
            self.ensure_open(Instant::now() + self.pool.settings.checkout_timeout, None)?;
        }
    }
}

impl Drop for CheckedOut {
    fn drop(&mut self) {
        let Some(open) = self.slot.open.as_mut() else {
            return;
        };
        let mut keep = !open.watch.is_lost();
        if keep && open.watch.cached_statements() > self.pool.settings.max_cached_statements {
            keep = open.clear_statement_cache();
        }
        if keep
            && let Some(budget) = &self.pool.budget
            && budget.has_waiters()
        {
            // Someone waits for this server's budget: hand this connection's share over.
            keep = false;
        }
        if !keep {
            self.slot.open = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_a_connect_timeout_and_a_name() {
        assert_eq!(
            connect_url("postgres://u@h/db", Duration::from_millis(4200)),
            "postgres://u@h/db?connect_timeout=5&application_name=tenantapi"
        );
        assert_eq!(
            connect_url(
                "postgres://u@h/db?connect_timeout=9",
                Duration::from_millis(100)
            ),
            "postgres://u@h/db?connect_timeout=9&application_name=tenantapi"
        );
        assert_eq!(
            connect_url("postgres://u@h/db?application_name=x", Duration::ZERO),
            "postgres://u@h/db?application_name=x&connect_timeout=2"
        );
        assert_eq!(connect_url("data/p.db", Duration::ZERO), "data/p.db");
    }
}
