//! Opening a project's connections: the slots r2d2 holds, the connection in a slot (with its
//! watch, its budget share and, on SQLite, the file it opened), and the one attempt that opens
//! it within the request's deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::Connection as _;
use diesel::connection::{CacheSize, SimpleConnection as _};

use super::ProjectPool;
use super::reachability::{ConnectAttempt, ProbeLicence};
use crate::connections::Unavailable;
use crate::connections::budget::BudgetPermit;
use crate::connections::database_url::{DatabaseUrl, Pooler};
use crate::connections::db::{BackendKind, DbConnection, sqlite_path};
use crate::connections::watch::{ConnectionWatch, WatchInstrumentation};

/// A pool slot: empty, or holding an open connection.
pub struct Slot {
    pub(super) open: Option<OpenConnection>,
}

pub(super) struct OpenConnection {
    // Fields drop in order: the connection is closed before it is uncounted and before its
    // budget share is given back.
    pub(super) connection: DbConnection,
    pub(super) watch: Arc<ConnectionWatch>,
    /// Through PgBouncer in transaction mode, when the database's own statement timeout is
    /// laxer than ours: how each unit of work begins its transaction, setting ours locally.
    pub(super) transaction_begin: Option<String>,
    /// Through PgBouncer in transaction mode statements are never cached.
    statement_cache_off: bool,
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

impl ProjectPool {
    /// Opens a connection: one attempt at a time while the database is failing, within the
    /// server's budget, bounded by `deadline`. A connection lost while it was being checked
    /// (a restart racing the connect) is tried once more.
    pub(super) fn open_connection(
        &self,
        deadline: Instant,
        licence: Option<ProbeLicence>,
    ) -> Result<OpenConnection, Unavailable> {
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
            // Given up a moment before the request's own deadline, so that the request
            // answers with this reason rather than "did not answer in time".
            Some(budget) => Some(
                budget
                    .acquire(&self.project, answer_before(deadline))
                    .map_err(|spent| {
                        tracing::warn!("project {}: {spent}", self.project);
                        Unavailable::ServerAtConnectionLimit
                    })?,
            ),
            None => None,
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let url = connect_url(&self.url, remaining);
        let mut connection = match url.open_existing() {
            Ok(connection) => connection,
            Err(error) => {
                let reason = error.to_string();
                attempt.failed();
                self.connect_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("project {}: cannot connect: {reason}", self.project);
                self.hooks.on_unreachable(&self.project, &reason);
                return Err(Unavailable::Unreachable.into());
            }
        };
        attempt.succeeded();
        let watch = Arc::new(ConnectionWatch::default());
        let transaction_begin = self.configure(&mut connection, &watch)?;
        let verdict = self.hooks.on_open(&self.project, &mut connection);
        if watch.is_lost() {
            // Not the database's version speaking: the connection went away under the check.
            self.hooks
                .on_unreachable(&self.project, "connection lost while opening");
            return Err(OpenFailure::LostWhileOpening);
        }
        verdict?;
        let sqlite_file = match self.backend {
            BackendKind::Sqlite => FileIdentity::of(sqlite_path(self.url.secret())),
            BackendKind::Postgres => None,
        };
        Ok(OpenConnection {
            connection,
            watch,
            transaction_begin,
            statement_cache_off: self.url.pooler() == Ok(Pooler::Transaction),
            sqlite_file,
            _counted: Counted::new(&self.open_connections),
            _budget: budget,
        })
    }

    /// Sets up a new connection: the watch first, so that a connection lost from here on is
    /// known as such; then PostgreSQL's statement timeout. Returns how units of work must
    /// begin their transaction, when the timeout has to be set in each.
    fn configure(
        &self,
        connection: &mut DbConnection,
        watch: &Arc<ConnectionWatch>,
    ) -> Result<Option<String>, OpenFailure> {
        connection.set_instrumentation(WatchInstrumentation {
            watch: watch.clone(),
            statements: self.statements.clone(),
            sqlite_statement_timeout: match connection {
                DbConnection::Sqlite(_) => self.settings.statement_timeout,
                DbConnection::Pg(_) => None,
            },
        });
        let (DbConnection::Pg(_), Some(timeout)) = (&*connection, self.settings.statement_timeout)
        else {
            return Ok(None);
        };
        let millis = timeout.as_millis().max(1);
        let configured = if self.url.pooler() == Ok(Pooler::Transaction) {
            // A session setting would stay behind on whichever server connection ran it. The
            // database's own default serves when it is as strict as ours (PgBouncer's advice:
            // set it on the role); otherwise each unit of work sets ours in its transaction.
            database_statement_timeout(connection).map(|current| {
                (current == 0 || current > millis)
                    .then(|| format!("BEGIN; SET LOCAL statement_timeout = {millis}"))
            })
        } else {
            connection
                .batch_execute(&format!("SET statement_timeout = {millis}"))
                .map(|()| None)
        };
        configured.map_err(|error| {
            if watch.is_lost() {
                return OpenFailure::LostWhileOpening;
            }
            tracing::warn!(
                "project {}: cannot set the statement timeout: {error}",
                self.project
            );
            Unavailable::Unreachable.into()
        })
    }
}

impl OpenConnection {
    /// Whether this connection must not be used again.
    pub(super) fn is_stale(&mut self, ping: bool) -> bool {
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

    /// Rolls back a transaction diesel still counts open on the connection (work that
    /// panicked inside one, or returned without committing), so that the next unit of work,
    /// which may be another request's (or behind PgBouncer in transaction mode, another
    /// client's), does not run inside it. `None`: there was none; `Some(false)`: it could not
    /// be rolled back, and the connection must be closed.
    pub(super) fn roll_back_open_transaction(&mut self) -> Option<bool> {
        use diesel::connection::TransactionManager as _;
        type Manager = <DbConnection as diesel::Connection>::TransactionManager;
        let depth = match Manager::transaction_manager_status_mut(&mut self.connection)
            .transaction_depth()
        {
            Ok(None) => return None,
            Ok(Some(depth)) => depth.get(),
            // diesel lost track of the transaction (a failed BEGIN, COMMIT or ROLLBACK): what
            // the session holds is unknown.
            Err(_) => return Some(false),
        };
        for _ in 0..depth {
            if let Err(error) = Manager::rollback_transaction(&mut self.connection) {
                tracing::warn!("rolling back a transaction left open failed: {error}");
                return Some(false);
            }
        }
        let closed = matches!(
            Manager::transaction_manager_status_mut(&mut self.connection).transaction_depth(),
            Ok(None)
        );
        Some(closed)
    }

    pub(super) fn clear_statement_cache(&mut self) -> bool {
        if self.statement_cache_off {
            // Its cache is off: there is nothing to clear, and nothing to turn back on.
            self.watch.cache_cleared();
            return true;
        }
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

/// The statement timeout PostgreSQL applies to this connection by default, in milliseconds
/// (0: none).
fn database_statement_timeout(connection: &mut DbConnection) -> diesel::QueryResult<u128> {
    use diesel::RunQueryDsl as _;
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        millis: i64,
    }
    let setting = diesel::sql_query(
        "SELECT setting::bigint AS millis FROM pg_settings WHERE name = 'statement_timeout'",
    )
    .get_result::<Setting>(connection)?;
    Ok(u128::try_from(setting.millis).unwrap_or(0))
}

/// Why a connection could not be opened.
enum OpenFailure {
    Refused(Unavailable),
    LostWhileOpening,
}

impl From<Unavailable> for OpenFailure {
    fn from(error: Unavailable) -> Self {
        OpenFailure::Refused(error)
    }
}

impl OpenFailure {
    fn into_error(self) -> Unavailable {
        match self {
            OpenFailure::Refused(error) => error,
            OpenFailure::LostWhileOpening => Unavailable::Unreachable,
        }
    }
}

/// The URL to connect with: PostgreSQL gets a `connect_timeout` (whole seconds, at least 2,
/// libpq's minimum) unless the URL sets one, and identifies itself as `tenantapi`.
fn connect_url(url: &DatabaseUrl, remaining: Duration) -> DatabaseUrl {
    let seconds = remaining.as_secs_f64().ceil().max(2.0) as u64;
    url.with_default_parameter("connect_timeout", &seconds.to_string())
        .with_default_parameter("application_name", "tenantapi")
}

/// How much earlier than its request's deadline work that waits on the request's behalf gives
/// up, so that its own reason reaches the request in time.
const ANSWER_MARGIN: Duration = Duration::from_millis(50);

fn answer_before(deadline: Instant) -> Instant {
    deadline.checked_sub(ANSWER_MARGIN).unwrap_or(deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_get_a_connect_timeout_and_a_name() {
        let connect = |url: &str, remaining| connect_url(&DatabaseUrl::new(url), remaining);
        assert_eq!(
            connect("postgres://u@h/db", Duration::from_millis(4200)).secret(),
            "postgres://u@h/db?connect_timeout=5&application_name=tenantapi"
        );
        assert_eq!(
            connect(
                "postgres://u@h/db?connect_timeout=9",
                Duration::from_millis(100)
            )
            .secret(),
            "postgres://u@h/db?connect_timeout=9&application_name=tenantapi"
        );
        assert_eq!(
            connect("postgres://u@h/db?application_name=x", Duration::ZERO).secret(),
            "postgres://u@h/db?application_name=x&connect_timeout=2"
        );
        assert_eq!(connect("data/p.db", Duration::ZERO).secret(), "data/p.db");
    }
}
