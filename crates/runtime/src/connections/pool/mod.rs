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
//! - at most one attempt at a time while the project holds no connection or its database
//!   fails to connect (the others wait for its outcome without holding a thread:
//!   `reachability.rs`), so a hung database holds one thread, not one per request;
//! - with the structure version checked ([`ConnectionHooks::on_open`]), PostgreSQL's
//!   `statement_timeout` set, and a [`ConnectionWatch`] listening to every statement.
//!
//! A connection found lost is closed at once, so it is never handed out twice; a connection
//! whose SQLite file was removed or replaced is closed before it is used again.

mod open;
mod reachability;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scheduled_thread_pool::ScheduledThreadPool;

use crate::connections::Unavailable;
use crate::connections::budget::{HostBudget, IdleConnections};
use crate::connections::database_url::DatabaseUrl;
use crate::connections::db::{BackendKind, DbConnection};
use crate::connections::limit::{ConcurrencyLimit, LimitPermit};
use crate::connections::watch::LostAt;

pub use open::NoSlotError;
use open::{Slot, SlotManager};
pub use reachability::ProbeLicence;
use reachability::Reachability;

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
    fn on_open(&self, project: &str, connection: &mut DbConnection) -> Result<(), Unavailable>;

    /// A connection could not be opened; `reason` carries no password.
    fn on_unreachable(&self, project: &str, reason: &str);

    /// Work served at structure version `served` failed in a way a version change explains
    /// (see `ApiError::puts_version_in_doubt`): reads the version again on its connection and
    /// records it. Returns what to answer instead of the work's own error: `VersionSwitched`
    /// when the database records another version this server serves (the request is served
    /// at that one), why it is not served when it records none of them; `None` to keep the
    /// work's error.
    fn on_version_doubt(
        &self,
        _project: &str,
        _connection: &mut DbConnection,
        _served: &str,
    ) -> Option<Unavailable> {
        None
    }
}

/// What a unit of work may fail with: its own errors, the database's, and this layer's reasons
/// for not serving (the HTTP layer's `ApiError` is one).
pub trait UnitOfWorkError: From<Unavailable> + From<diesel::result::Error> {}

impl<E: From<Unavailable> + From<diesel::result::Error>> UnitOfWorkError for E {}

/// Reads or writes: decides whether a request may be retried on a fresh connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// GET, HEAD, OPTIONS: retried once when the connection was lost.
    Read,
    /// Retried only when the connection was lost before anything reached the database.
    Write,
}

/// One project's pool.
pub struct ProjectPool {
    project: Arc<str>,
    backend: BackendKind,
    url: DatabaseUrl,
    settings: PoolSettings,
    slots: r2d2::Pool<SlotManager>,
    /// One per slot: requests queue here, asynchronously and first come first served, instead
    /// of racing inside r2d2, whose waiters can be overtaken by newcomers indefinitely.
    turns: Arc<tokio::sync::Semaphore>,
    /// The project's own cap on work in flight, below `max_size` (`project set-limits
    /// --max-in-flight`): a second line, in front of the turns. Replaced when the cap changes;
    /// work holding a place in the old one finishes there.
    capped_turns: std::sync::RwLock<Option<(usize, Arc<tokio::sync::Semaphore>)>>,
    /// SQLite only: one writer at a time, in arrival order. SQLite lets one connection write at
    /// a time anyway; writers that met its lock waited in its busy handler, which sleeps and
    /// retries in growing steps and lets a newcomer overtake (p99 1 s at 32 connections).
    writers: Option<Arc<tokio::sync::Semaphore>>,
    budget: Option<Arc<HostBudget>>,
    /// The in-flight limit of the database server (shared with its other projects).
    in_flight: Arc<ConcurrencyLimit>,
    reachability: Mutex<Reachability>,
    /// Woken on every connection attempt's outcome while failing.
    reachability_changed: tokio::sync::Notify,
    hooks: Arc<dyn ConnectionHooks>,
    /// Connections open now (idle or in use).
    open_connections: Arc<AtomicUsize>,
    /// Requests waiting for a turn now.
    waiting: AtomicUsize,
    /// Connection attempts that failed, since the pool was made.
    pub(super) connect_errors: AtomicU64,
    /// Statements run on the pool's connections, since it was made.
    pub(super) statements: Arc<AtomicU64>,
}

/// A request's turn at one of its project's connections, given back when dropped.
pub struct Turn {
    _turn: tokio::sync::OwnedSemaphorePermit,
    _cap: Option<tokio::sync::OwnedSemaphorePermit>,
    _writer: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// A pool's state at one moment, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections at most (`pool.max_size`).
    pub max_size: usize,
    /// Connections open, idle or in use.
    pub open: usize,
    /// Requests holding a turn: checking out a connection or using one.
    pub in_use: usize,
    /// Requests waiting for a turn.
    pub waiting: usize,
    /// Failed connection attempts so far.
    pub connect_errors: u64,
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
        url: DatabaseUrl,
        settings: PoolSettings,
        budget: Option<Arc<HostBudget>>,
        in_flight: Arc<ConcurrencyLimit>,
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
        let writers = (url.backend() == BackendKind::Sqlite)
            .then(|| Arc::new(tokio::sync::Semaphore::new(1)));
        let pool = Arc::new(ProjectPool {
            backend: url.backend(),
            url,
            turns: Arc::new(tokio::sync::Semaphore::new(settings.max_size as usize)),
            capped_turns: std::sync::RwLock::new(None),
            writers,
            settings,
            slots,
            budget,
            in_flight,
            reachability: Mutex::new(Reachability::default()),
            reachability_changed: tokio::sync::Notify::new(),
            hooks,
            open_connections: Arc::new(AtomicUsize::new(0)),
            waiting: AtomicUsize::new(0),
            connect_errors: AtomicU64::new(0),
            statements: Arc::new(AtomicU64::new(0)),
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

    /// What the pool holds and who waits, now.
    pub fn stats(&self) -> PoolStats {
        let max_size = self.settings.max_size as usize;
        PoolStats {
            max_size,
            open: self.open_connections(),
            in_use: max_size.saturating_sub(self.turns.available_permits()),
            waiting: self.waiting.load(Ordering::Relaxed),
            connect_errors: self.connect_errors.load(Ordering::Relaxed),
        }
    }

    /// Statements run on this project's connections so far (every statement, the
    /// transaction's own included): what tests count queries with.
    pub fn statements_run(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The in-flight limit of this project's database server.
    pub fn in_flight(&self) -> &Arc<ConcurrencyLimit> {
        &self.in_flight
    }

    /// Caps the project's work in flight at `cap` (at most `max_size`; `None`: `max_size`).
    pub fn set_max_in_flight(&self, cap: Option<usize>) {
        let max_size = self.settings.max_size as usize;
        let cap = cap
            .map(|cap| cap.clamp(1, max_size))
            .filter(|cap| *cap < max_size);
        let mut capped = self.capped_turns.write().expect("turn cap lock poisoned");
        if capped.as_ref().map(|(current, _)| *current) == cap {
            return;
        }
        *capped = cap.map(|cap| (cap, Arc::new(tokio::sync::Semaphore::new(cap))));
    }

    /// The project's cap on work in flight now.
    pub fn max_in_flight(&self) -> usize {
        self.capped_turns
            .read()
            .expect("turn cap lock poisoned")
            .as_ref()
            .map_or(self.settings.max_size as usize, |(cap, _)| *cap)
    }

    /// Waits (asynchronously, in arrival order) for this project's turn at a connection,
    /// within its cap on work in flight; a write to a SQLite project first for its turn as the
    /// one writer.
    pub async fn take_turn(&self, deadline: Instant, access: Access) -> Result<Turn, Unavailable> {
        let writer = match (&self.writers, access) {
            (Some(writers), Access::Write) => Some(self.wait_in_line(writers, deadline).await?),
            _ => None,
        };
        let capped = self
            .capped_turns
            .read()
            .expect("turn cap lock poisoned")
            .as_ref()
            .map(|(_, line)| line.clone());
        let cap = match capped {
            Some(line) => Some(self.wait_in_line(&line, deadline).await?),
            None => None,
        };
        let turn = self.wait_in_line(&self.turns, deadline).await?;
        Ok(Turn {
            _turn: turn,
            _cap: cap,
            _writer: writer,
        })
    }

    async fn wait_in_line(
        &self,
        line: &Arc<tokio::sync::Semaphore>,
        deadline: Instant,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, Unavailable> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let turn = line.clone().try_acquire_owned();
        if let Ok(turn) = turn {
            return Ok(turn);
        }
        // Counted while waiting, also when the request is dropped meanwhile.
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        match actix_web::rt::time::timeout(wait, line.clone().acquire_owned()).await {
            Ok(Ok(turn)) => Ok(turn),
            Ok(Err(_closed)) => Err(Unavailable::Unreachable),
            Err(_elapsed) => {
                tracing::warn!(
                    "project {}: no database connection free within {:?}",
                    self.project,
                    self.settings.checkout_timeout
                );
                Err(Unavailable::NoConnectionFree)
            }
        }
    }

    /// A slot with an open connection, opened now if needed. `counted` is the work's place in
    /// the server's in-flight limit: given back while a connection opens (now, or when a lost
    /// one is replaced), since connecting is not a statement and its time no sample. Blocking:
    /// call it off the async threads, after [`ProjectPool::take_turn`].
    pub fn checkout(
        self: &Arc<Self>,
        deadline: Instant,
        licence: Option<ProbeLicence>,
        counted: Option<Arc<LimitPermit>>,
    ) -> Result<CheckedOut, Unavailable> {
        // An open idle connection first, wherever r2d2's stack holds it: slots made empty
        // (after idle connections were closed) must not cause new connections while open ones
        // wait underneath.
        let slot = match self.take_slot(|slot| slot.open.is_some()) {
            Some(slot) => slot,
            None => {
                let wait = deadline.saturating_duration_since(Instant::now());
                self.slots
                    .get_timeout(wait.max(Duration::from_millis(1)))
                    .map_err(|_| Unavailable::NoConnectionFree)?
            }
        };
        let mut checked = CheckedOut {
            pool: self.clone(),
            slot,
            counted,
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
            counted: None,
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

    /// Runs `work` on a connection outside the request path (the version checks): an idle one
    /// if there is one, else a connection of its own, closed afterwards. A check thus never
    /// waits for a busy pool, and leaves nothing open: at a thousand projects, the connections
    /// the startup check kept were 115 MB of SQLite schemas and most of a PostgreSQL server's
    /// connection budget, for projects nobody had asked for yet.
    pub fn with_connection<T, E: UnitOfWorkError>(
        self: &Arc<Self>,
        deadline: Instant,
        work: impl FnMut(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        if let Some(mut checked) = self.checkout_idle() {
            return checked.run(Access::Read, work);
        }
        let mut work = work;
        let mut own = self.open_connection(deadline, None)?;
        work(&mut own.connection)
    }
}

impl IdleConnections for ProjectPool {
    fn project(&self) -> &Arc<str> {
        &self.project
    }

    fn close_one_idle(&self) -> bool {
        let Some(mut slot) = self.take_slot(|slot| slot.open.is_some()) else {
            return false;
        };
        slot.open = None;
        tracing::debug!(
            "project {}: closed an idle connection to make room for another project",
            self.project
        );
        true
    }
}

/// A slot checked out for one request, its connection open. Returned to the pool on drop,
/// never inside a transaction (one left open is rolled back): closed instead when it was lost,
/// when that rollback failed, or when another project waits for the server's budget.
pub struct CheckedOut {
    pool: Arc<ProjectPool>,
    slot: r2d2::PooledConnection<SlotManager>,
    /// The work's place in the server's in-flight limit, paused while a connection opens.
    counted: Option<Arc<LimitPermit>>,
}

impl CheckedOut {
    /// After work failed in a way a structure version change explains: what to answer
    /// instead, if the version is why (`ConnectionHooks::on_version_doubt`).
    pub fn recheck_version(&mut self, served: &str) -> Option<Unavailable> {
        let open = self.slot.open.as_mut()?;
        self.pool
            .hooks
            .on_version_doubt(&self.pool.project, &mut open.connection, served)
    }

    fn ensure_open(
        &mut self,
        deadline: Instant,
        licence: Option<ProbeLicence>,
    ) -> Result<(), Unavailable> {
        let ping = self.pool.settings.test_on_checkout;
        if let Some(open) = self.slot.open.as_mut() {
            if !open.is_stale(ping) {
                return Ok(());
            }
            self.slot.open = None;
        }
        if let Some(counted) = &self.counted {
            counted.pause();
        }
        let opened = self.pool.open_connection(deadline, licence);
        if let Some(counted) = &self.counted {
            counted.resume();
        }
        self.slot.open = Some(opened?);
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
    pub fn run<T, E: UnitOfWorkError>(
        &mut self,
        access: Access,
        mut work: impl FnMut(&mut DbConnection) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut retried = false;
        loop {
            let open = self
                .slot
                .open
                .as_mut()
                .expect("BUG: a checked-out slot without a connection");
            open.watch.begin_attempt();
            let result = match &open.transaction_begin {
                Some(begin) => crate::connections::transaction::in_transaction(
                    &mut open.connection,
                    begin,
                    &mut work,
                ),
                None => work(&mut open.connection),
            };
            let Some(lost_at) = open.watch.lost_at() else {
                return result;
            };
            if open.watch.saw_stale_plan() {
                tracing::warn!(
                    "project {}: a prepared statement returns other column types than when it \
                     was prepared (a migration changed a column's type); closed the connection",
                    self.pool.project
                );
            } else if open.watch.saw_unannounced_pooler() {
                tracing::error!(
                    "project {}: a prepared statement was missing or doubled on the database \
                     server, which happens behind a connection pooler in transaction mode; if \
                     its database URL leads to PgBouncer with pool_mode = transaction, add \
                     {}=transaction to the URL (`tenantapi project set-url`); closed the \
                     connection",
                    self.pool.project,
                    crate::connections::database_url::POOLER_PARAMETER,
                );
            } else {
                tracing::warn!(
                    "project {}: database connection lost ({lost_at:?}); closed it",
                    self.pool.project
                );
            }
            self.slot.open = None;
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
                    (Access::Write, LostAt::Commit) => Unavailable::WriteOutcomeUnknown,
                    (Access::Write, _) => Unavailable::WriteNotApplied,
                    (Access::Read, _) => Unavailable::Unreachable,
                }
                .into());
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
        if keep && let Some(rolled_back) = open.roll_back_open_transaction() {
            if rolled_back {
                tracing::warn!(
                    "project {}: a unit of work left a transaction open (it panicked, or \
                     returned without committing); rolled it back",
                    self.pool.project
                );
            } else {
                tracing::warn!(
                    "project {}: a unit of work left a transaction open that could not be \
                     rolled back; closed the connection",
                    self.pool.project
                );
            }
            keep = rolled_back;
        }
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
