//! The route-scoped connection guard: the one place a request reaches a project database.
//!
//! An actix extractor reads `{project}` from the matched route, asks the server's
//! [`ProjectRegistry`] to resolve it for this request (which is where callers are
//! authenticated and authorized), and checks a connection out of that project's pool off
//! the async threads. Generated handlers take the guard; nothing else selects a database.

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

/// A pooled connection to the project named in the route; returned to its pool on drop.
pub struct ProjectConnection {
    pub project: Arc<str>,
    pub backend: BackendKind,
    connection: PooledDbConnection,
}

impl ProjectConnection {
    pub fn connection(&mut self) -> &mut DbConnection {
        &mut self.connection
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
                .expect("BUG: the connection guard is used on a route without {project}")
                .to_string();
            let access = registry.resolve(&request, &project).await?;
            let ProjectAccess {
                project,
                pool,
                backend,
                checkout_timeout,
            } = access;
            let checked_out = web::block(move || pool.get_timeout(checkout_timeout))
                .await
                .map_err(|error| ApiError::internal("connection checkout task failed", error))?;
            match checked_out {
                Ok(connection) => Ok(ProjectConnection {
                    project,
                    backend,
                    connection,
                }),
                Err(error) => {
                    log::warn!(
                        "project {project}: no database connection within {checkout_timeout:?}: {error}"
                    );
                    Err(ApiError::Unavailable {
                        detail: "The project database is unavailable. Try again later.".into(),
                        retry_after_seconds: 5,
                    })
                }
            }
        })
    }
}
