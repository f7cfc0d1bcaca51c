//! The route-scoped connection guard: the one place a request reaches a project database.
//!
//! An actix extractor reads `{project}` from the matched route and asks the server's
//! [`ProjectRegistry`] to resolve it for this request (which is where callers are
//! authenticated and authorized); the handler then checks a connection out of that project's
//! pool inside its blocking task. Generated handlers take the guard; nothing else selects a
//! database.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use crate::db::{BackendKind, DbConnection, DbPool, PooledDbConnection};
use crate::error::ApiError;

/// What the registry hands the guard for a project the caller may use.
#[derive(Clone)]
pub struct ProjectAccess {
    pub project: Arc<str>,
    pub pool: DbPool,
    pub backend: BackendKind,
    /// How long to wait for a free connection before answering 503.
    pub checkout_timeout: Duration,
    /// One permit per pooled connection. Requests queue here, asynchronously and first come
    /// first served, instead of racing inside r2d2, whose waiters can be overtaken
    /// indefinitely by newcomers (seen as 0.5 s p99 latencies under load).
    pub permits: Arc<tokio::sync::Semaphore>,
}

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

/// The project named in the route, resolved for this caller, and its pooled connection:
/// checked out on first use, inside the handler's blocking task (so that checkout and query
/// cost one hop off the async threads, not two), and returned to the pool on drop.
pub struct ProjectConnection {
    pub project: Arc<str>,
    pub backend: BackendKind,
    pool: DbPool,
    checkout_timeout: Duration,
    permits: Arc<tokio::sync::Semaphore>,
    // Declared before the permit: the connection goes back to the pool before the permit is
    // released, so that the next request in line finds it there.
    connection: Option<PooledDbConnection>,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

fn unavailable() -> ApiError {
    ApiError::Unavailable {
        detail: "The project database is unavailable. Try again later.".into(),
        retry_after_seconds: 5,
    }
}

impl ProjectConnection {
    /// Waits (asynchronously, in arrival order) for this project's turn at a connection,
    /// within the checkout timeout. Handlers call it just before their blocking task.
    pub async fn reserve(&mut self) -> Result<(), ApiError> {
        if self.permit.is_some() {
            return Ok(());
        }
        let permit = actix_web::rt::time::timeout(
            self.checkout_timeout,
            self.permits.clone().acquire_owned(),
        )
        .await;
        match permit {
            Ok(Ok(permit)) => {
                self.permit = Some(permit);
                Ok(())
            }
            Ok(Err(_closed)) => Err(unavailable()),
            Err(_elapsed) => {
                log::warn!(
                    "project {}: no database connection free within {:?}",
                    self.project,
                    self.checkout_timeout
                );
                Err(unavailable())
            }
        }
    }

    /// The connection, checked out within the pool's timeout (503 otherwise).
    ///
    /// Blocking: call it only inside `web::block`, after [`ProjectConnection::reserve`].
    pub fn connection(&mut self) -> Result<&mut DbConnection, ApiError> {
        debug_assert!(self.permit.is_some(), "BUG: connection() before reserve()");
        if self.connection.is_none() {
            let connection = self
                .pool
                .get_timeout(self.checkout_timeout)
                .map_err(|error| {
                    log::warn!(
                        "project {}: no database connection within {:?}: {error}",
                        self.project,
                        self.checkout_timeout
                    );
                    unavailable()
                })?;
            self.connection = Some(connection);
        }
        Ok(self.connection.as_mut().expect("checked out above"))
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
                backend,
                checkout_timeout,
                permits,
            } = registry.resolve(&request, project).await?;
            Ok(ProjectConnection {
                project,
                backend,
                pool,
                checkout_timeout,
                permits,
                connection: None,
                permit: None,
            })
        })
    }
}
