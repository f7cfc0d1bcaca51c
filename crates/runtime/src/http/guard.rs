//! The route-scoped connection guard: the one place a request reaches a project database.
//!
//! An actix extractor reads `{project}` from the matched route and asks the server's
//! [`ProjectRegistry`] to resolve it for this request (which is where callers are
//! authenticated and authorized); the handler then runs its database work through the guard,
//! which checks a connection out of that project's pool inside a blocking task. Handlers take
//! the guard; nothing else selects a database.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};

use crate::api::GeneratedApi;
use crate::connections::Unavailable;
use crate::connections::db::{BackendKind, DbConnection};
use crate::connections::limit::{COUNTED_FOR, LimitPermit, Shape};
use crate::connections::pool::{Access, PoolSettings, ProbeLicence, ProjectPool, Turn};
use crate::http::error::ApiError;

/// What the registry hands the guard for a project the caller may use.
#[derive(Clone)]
pub struct ProjectAccess {
    pub project: Arc<str>,
    pub pool: Arc<ProjectPool>,
    /// The caller may write this project (what `OPTIONS` describes as actions).
    pub may_write: bool,
    /// The API of the structure version the project's database records, as last seen.
    pub served: &'static GeneratedApi,
}

/// The structure version a project route's request was served at, in the request's
/// extensions (for the `X-Structure-Version` header).
#[derive(Debug, Clone, Copy)]
pub struct ServedAt(pub &'static str);

/// A future borrowed from the registry and the request for the duration of one call.
pub type RegistryFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + 'a>>;

/// Resolves `{project}` for a request. Implemented by the server; registered once as
/// `web::Data<dyn ProjectRegistry>`.
pub trait ProjectRegistry: Send + Sync + 'static {
    /// Authenticates the caller and returns the project's pool if the caller may use it with
    /// this request's method. A project the caller may not see is `ApiError::NotFound`,
    /// exactly like one that does not exist.
    fn resolve<'a>(
        &'a self,
        request: &'a HttpRequest,
        project: &'a str,
    ) -> RegistryFuture<'a, ProjectAccess>;

    /// Names of the projects this request's caller may see, sorted, for the API root.
    fn visible_projects<'a>(
        &'a self,
        request: &'a HttpRequest,
    ) -> RegistryFuture<'a, Vec<Arc<str>>>;
}

/// The project named in the route, resolved for this caller. Its database work runs through
/// [`ProjectConnection::run`], which is the only way a handler reaches a connection.
#[derive(Clone)]
pub struct ProjectConnection {
    pub project: Arc<str>,
    pub backend: BackendKind,
    /// The caller may write this project.
    pub may_write: bool,
    /// The API of the structure version this request is served at: the handlers take the
    /// table's operations, metadata and version checks from it.
    pub served: &'static GeneratedApi,
    pool: Arc<ProjectPool>,
}

impl ProjectConnection {
    /// The same project served at `api`'s version: a read retried after the database was
    /// found to have moved to it (`Unavailable::VersionSwitched`).
    pub fn at_version(&self, request: &HttpRequest, api: &'static GeneratedApi) -> Self {
        request
            .extensions_mut()
            .insert(ServedAt(api.schema_version));
        ProjectConnection {
            served: api,
            ..self.clone()
        }
    }

    /// Runs `work` on one of the project's connections, off the async threads. `shape` names
    /// the kind of work (table and operation) for the database server's in-flight limit.
    ///
    /// The request waits its turn (first come, first served: the project's, then the database
    /// server's in-flight limit) and for a connection (a free one, or a new one opened for it)
    /// for at most the checkout timeout, counted from this call (not from when the request
    /// arrived: a handler reads the body first, and a slow upload is no busy database), then
    /// answers 503 with `Retry-After` even if the database has not answered yet; the attempt
    /// goes on in the background, holding only this project's resources. A connection found
    /// lost is closed and `work` runs again on a fresh one when `access` allows it (see
    /// [`crate::connections::pool::CheckedOut::run`]).
    pub async fn run<T, F>(self, access: Access, shape: Shape, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        self.run_within(access, shape, work, true).await
    }

    /// [`ProjectConnection::run`] for work of many statements whose total time has no bound
    /// (an export: each of its statements is bounded by the statement timeout, and it stops
    /// when its client goes away): its answer is awaited for as long as it takes.
    pub async fn run_unbounded<T, F>(
        self,
        access: Access,
        shape: Shape,
        work: F,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        self.run_within(access, shape, work, false).await
    }

    async fn run_within<T, F>(
        self,
        access: Access,
        shape: Shape,
        work: F,
        bounded: bool,
    ) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let settings = self.pool.settings().clone();
        let deadline = Instant::now() + settings.checkout_timeout;
        let licence = self.pool.wait_until_reachable(deadline).await?;
        let turn = self.pool.take_turn(deadline, access).await?;
        let submitted = self.submit(access, shape, work, deadline, licence, turn);
        self.await_answer(submitted, access, &settings, deadline, bounded)
            .await
    }

    /// Hands `work` to the database server's in-flight limit as a job that checks a connection
    /// out and runs it on a blocking thread, unless its request gave up first.
    fn submit<T, F>(
        &self,
        access: Access,
        shape: Shape,
        work: F,
        deadline: Instant,
        licence: Option<ProbeLicence>,
        turn: Turn,
    ) -> Submitted<T>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        // Set, not signalled: waking this task when the connection is checked out cost one
        // more context switch of the HTTP worker per request (a third of them). Whoever moves
        // it from `PENDING` first decides: the job, to run the work (`CONNECTED`), or this
        // request at its deadline, to answer 503 (`ABANDONED`), after which the work never
        // runs, so that a client told to retry cannot have its first write applied too.
        let progress = Arc::new(AtomicU8::new(PENDING));
        let job_progress = progress.clone();
        let pool = self.pool.clone();
        let limit = self.pool.in_flight().clone();
        let permit = limit.permit(self.project.clone(), shape);
        // The licence to be the project's one connection attempt (if this request got it)
        // goes with the job, unless the request gives up first: a job still queued then must
        // not keep the project's other requests waiting for an attempt nobody will make.
        // Shared only when there is one: most requests carry none, and pay nothing for it.
        let licence = licence.map(|licence| Arc::new(Mutex::new(Some(licence))));
        let job_licence = licence.clone();
        // Given up on when this request is (answered early, or dropped with its client): a
        // queued job of a request nobody waits for is skipped, a running one stops counting.
        let in_flight = GiveUpOnDrop { permit, licence };
        let counted = in_flight.permit.clone();
        let project = self.project.clone();
        let served = self.served.schema_version;
        let (answer, answered) = tokio::sync::oneshot::channel();
        // The blocking thread logs inside the request's span, so that its events carry the
        // request id.
        let span = tracing::Span::current();
        let job = move |in_time: bool| {
            let _entered = span.enter();
            let _turn = turn;
            if !in_time {
                // Its request answered already unless it is still waiting for this.
                if !answer.is_closed() {
                    tracing::warn!(
                        "project {project}: its database server is busy; no turn in time"
                    );
                }
                let _ = answer.send(Err(Unavailable::NoConnectionFree.into()));
                return;
            }
            // Opening a connection is not a statement: it neither holds one of the server's
            // in-flight places (a project whose connections keep being killed held them while
            // reconnecting, and the others queued) nor is its time a sample of the work's.
            let licence = job_licence
                .and_then(|licence| licence.lock().expect("licence lock poisoned").take());
            let outcome = pool.checkout(deadline, licence, Some(counted.clone()));
            let outcome = outcome.map_err(ApiError::from).and_then(|mut checked| {
                job_progress
                    .compare_exchange(PENDING, CONNECTED, Ordering::AcqRel, Ordering::Acquire)
                    .map_err(|_| ApiError::from(Unavailable::DidNotAnswer))?;
                match checked.run(access, work) {
                    // Served at a version the database may have just left: if it moved to one
                    // this server serves, the request is answered as switched (a read is
                    // served again at the new version, a write answered 503 to retry).
                    Err(error) if error.puts_version_in_doubt() => {
                        match checked.recheck_version(served) {
                            Some(reason) => Err(reason.into()),
                            None => Err(error),
                        }
                    }
                    other => other,
                }
            });
            counted.finish();
            let _ = answer.send(outcome);
        };
        limit.submit(&in_flight.permit, deadline, Box::new(job));
        Submitted {
            progress,
            in_flight,
            answered,
        }
    }

    /// Waits for the job's answer: 503 at the checkout deadline if no connection was had by
    /// then (and the work then never runs), or when the database stops answering.
    async fn await_answer<T>(
        &self,
        submitted: Submitted<T>,
        access: Access,
        settings: &PoolSettings,
        deadline: Instant,
        bounded: bool,
    ) -> Result<T, ApiError> {
        let Submitted {
            progress,
            in_flight: giving_up,
            answered: mut task,
        } = submitted;
        let in_flight = &giving_up.permit;
        // Statements are bounded by the statement timeout on the server; this bounds a server
        // that stops answering.
        let answer_by = settings
            .statement_timeout
            .filter(|_| bounded)
            .map(|statement_timeout| deadline + statement_timeout * 2 + settings.checkout_timeout);
        loop {
            // Wake for whichever comes first: the checkout deadline (until connected), the end
            // of the permit's counted time (checked again while it is still awaited), the
            // answer bound.
            let now = Instant::now();
            let mut wake = answer_by.unwrap_or(now + Duration::from_secs(3600));
            if progress.load(Ordering::Acquire) == PENDING {
                wake = wake.min(deadline);
            }
            if let Some(until) = in_flight.counted_until() {
                wake = wake.min(until);
            } else if in_flight.is_waiting() || in_flight.is_paused() {
                wake = wake.min(now + COUNTED_FOR);
            }
            let wait = wake.saturating_duration_since(now);
            if let Ok(outcome) = actix_web::rt::time::timeout(wait, &mut task).await {
                return outcome.map_err(|error| {
                    ApiError::internal(
                        "database task ended without an answer (it panicked, or the server is \
                         shutting down)",
                        error,
                    )
                })?;
            }
            let now = Instant::now();
            // Most work ends well within the time it counts against the limit; longer work
            // stops counting, so that one tenant's slow statements do not hold the others back.
            if in_flight.counted_until().is_some_and(|until| now >= until) {
                in_flight.stop_counting();
            }
            if now >= deadline
                && progress
                    .compare_exchange(PENDING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                let still_queued = in_flight.is_waiting();
                giving_up.give_up();
                if still_queued {
                    tracing::warn!(
                        "project {}: its database server is busy; no turn within {:?}",
                        self.project,
                        settings.checkout_timeout
                    );
                    return Err(Unavailable::NoConnectionFree.into());
                }
                tracing::warn!(
                    "project {}: no database connection within {:?}",
                    self.project,
                    settings.checkout_timeout
                );
                return Err(Unavailable::DidNotAnswer.into());
            }
            if answer_by.is_some_and(|by| now >= by) {
                tracing::warn!(
                    "project {}: the database did not answer in time",
                    self.project
                );
                return Err(match access {
                    Access::Read => Unavailable::DidNotAnswer,
                    Access::Write => Unavailable::WriteOutcomeUnknown,
                }
                .into());
            }
        }
    }
}

/// A job handed to the in-flight limit, as its request waits for it.
struct Submitted<T> {
    progress: Arc<AtomicU8>,
    in_flight: GiveUpOnDrop,
    answered: tokio::sync::oneshot::Receiver<Result<T, ApiError>>,
}

/// Where a request's database work stands (see `ProjectConnection::run`).
const PENDING: u8 = 0;
const CONNECTED: u8 = 1;
const ABANDONED: u8 = 2;

/// When the request lets go of its work: stops the permit counting and gives back a probe
/// licence the job has not taken; no-ops once the work finished.
struct GiveUpOnDrop {
    permit: Arc<LimitPermit>,
    licence: Option<Arc<Mutex<Option<ProbeLicence>>>>,
}

impl GiveUpOnDrop {
    fn give_up(&self) {
        self.permit.stop_counting();
        if let Some(licence) = &self.licence {
            drop(licence.lock().expect("licence lock poisoned").take());
        }
    }
}

impl Drop for GiveUpOnDrop {
    fn drop(&mut self) {
        self.give_up();
    }
}

impl FromRequest for ProjectConnection {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ProjectConnection, ApiError>>>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        Box::pin(async move {
            let registry = request
                .app_data::<web::Data<dyn ProjectRegistry>>()
                .expect("BUG: web::Data<dyn ProjectRegistry> was not registered")
                .clone();
            let project = request
                .match_info()
                .get("project")
                .expect("BUG: the connection guard is used on a route without {project}");
            let ProjectAccess {
                project,
                pool,
                may_write,
                served,
            } = registry.resolve(&request, project).await?;
            request
                .extensions_mut()
                .insert(ServedAt(served.schema_version));
            Ok(ProjectConnection {
                project,
                backend: pool.backend(),
                may_write,
                served,
                pool,
            })
        })
    }
}
