//! The project registry: which projects exist, and one lazily connecting r2d2 pool per enabled
//! project, kept in step with the platform database while the server runs.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::HttpRequest;
use scheduled_thread_pool::ScheduledThreadPool;
use tenantapi_runtime::db::{BackendKind, ConnectionManager, DbConnection, DbPool};
use tenantapi_runtime::error::ApiError;
use tenantapi_runtime::guard::{ProjectAccess, ProjectRegistry, RegistryFuture};

use crate::accounts::{Principal, Role};
use crate::auth::Authenticator;
use crate::config::PoolConfig;
use crate::health::{Health, HealthCell, SERVED_VERSION, VersionCheckOnConnect, judge};
use crate::platform::Project;

struct ProjectEntry {
    name: Arc<str>,
    database_url: String,
    backend: BackendKind,
    pool: DbPool,
    permits: Arc<tokio::sync::Semaphore>,
    health: Arc<HealthCell>,
}

/// Enabled projects by name, each with its pool.
pub struct Registry {
    projects: RwLock<HashMap<String, Arc<ProjectEntry>>>,
    pool_config: PoolConfig,
    /// One helper thread pool for every project pool: r2d2 would start three threads per pool.
    helper_threads: Arc<ScheduledThreadPool>,
    /// `None` when authentication is switched off: every caller may do everything.
    authenticator: Option<Authenticator>,
}

/// Methods a `read` grant allows.
fn is_read_method(method: &actix_web::http::Method) -> bool {
    use actix_web::http::Method;
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The caller's role on a project, if any; superusers have every project.
fn role_on(principal: &Principal, project: &str) -> Option<Role> {
    if principal.is_superuser {
        Some(Role::Write)
    } else {
        principal.grants.get(project).copied()
    }
}

impl Registry {
    /// `auth`: the platform database URL and cache duration, or `None` to serve everyone.
    pub fn new(pool_config: PoolConfig, auth: Option<(&str, Duration)>) -> Registry {
        let helper_threads = Arc::new(
            ScheduledThreadPool::builder()
                .num_threads(2)
                .thread_name_pattern("tenantapi-pool-{}")
                .build(),
        );
        let authenticator = auth.map(|(platform_url, cache_for)| {
            Authenticator::new(platform_url, cache_for, helper_threads.clone())
        });
        Registry {
            projects: RwLock::new(HashMap::new()),
            pool_config,
            helper_threads,
            authenticator,
        }
    }

    fn build_pool(
        &self,
        project: &Arc<str>,
        database_url: &str,
        health: &Arc<HealthCell>,
    ) -> DbPool {
        // `min_idle(0)` and `build_unchecked`: no connection is opened until a request needs
        // one, so a thousand projects cost nothing at startup and a down project does not
        // delay the others.
        r2d2::Pool::builder()
            .max_size(self.pool_config.max_size)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_millis(self.pool_config.checkout_timeout_ms))
            .idle_timeout(Some(Duration::from_secs(
                self.pool_config.idle_timeout_seconds.max(1),
            )))
            .test_on_check_out(self.pool_config.test_on_checkout)
            .thread_pool(self.helper_threads.clone())
            .error_handler(Box::new(PoolErrorLogger))
            .connection_customizer(Box::new(VersionCheckOnConnect {
                project: project.clone(),
                health: health.clone(),
            }))
            .build_unchecked(ConnectionManager::new(database_url))
    }

    /// Makes the registry hold exactly `enabled`, keeping the pools of unchanged projects.
    pub fn replace_projects(&self, enabled: Vec<Project>) {
        let mut projects = self.projects.write().expect("registry lock poisoned");
        let mut next = HashMap::with_capacity(enabled.len());
        for project in enabled {
            let kept = projects
                .remove(&project.name)
                .filter(|entry| entry.database_url == project.database_url);
            let entry = kept.unwrap_or_else(|| {
                log::info!("serving project {}", project.name);
                let name: Arc<str> = Arc::from(project.name.as_str());
                let health = Arc::new(HealthCell::default());
                Arc::new(ProjectEntry {
                    backend: BackendKind::of_url(&project.database_url),
                    pool: self.build_pool(&name, &project.database_url, &health),
                    permits: Arc::new(tokio::sync::Semaphore::new(
                        self.pool_config.max_size as usize,
                    )),
                    database_url: project.database_url,
                    health,
                    name,
                })
            });
            next.insert(project.name, entry);
        }
        for name in projects.keys() {
            log::info!("no longer serving project {name}");
        }
        *projects = next;
    }

    pub fn project_names(&self) -> Vec<Arc<str>> {
        let projects = self.projects.read().expect("registry lock poisoned");
        let mut names: Vec<Arc<str>> = projects.values().map(|entry| entry.name.clone()).collect();
        names.sort();
        names
    }

    /// Every enabled project with what its last check found, sorted by name.
    pub fn health_report(&self) -> Vec<(Arc<str>, Health)> {
        let projects = self.projects.read().expect("registry lock poisoned");
        let mut report: Vec<(Arc<str>, Health)> = projects
            .values()
            .map(|entry| (entry.name.clone(), entry.health.get()))
            .collect();
        report.sort_by(|left, right| left.0.cmp(&right.0));
        report
    }

    /// Checks every enabled project's structure version now, concurrently, each within the
    /// checkout timeout. Blocking: run it off the async threads.
    pub fn check_all_now(&self) -> Vec<(Arc<str>, Health)> {
        let entries: Vec<Arc<ProjectEntry>> = self
            .projects
            .read()
            .expect("registry lock poisoned")
            .values()
            .cloned()
            .collect();
        let timeout = Duration::from_millis(self.pool_config.checkout_timeout_ms);
        for batch in entries.chunks(32) {
            std::thread::scope(|scope| {
                for entry in batch {
                    scope.spawn(move || {
                        // An idle pooled connection if there is one; otherwise a connection of
                        // its own, so that a busy pool cannot keep the check from running.
                        let health = match entry.pool.try_get() {
                            Some(mut connection) => judge(&mut connection, &SERVED_VERSION),
                            None => match DbConnection::open_existing(
                                &crate::check::with_connect_timeout(&entry.database_url, timeout),
                            ) {
                                Ok(mut connection) => judge(&mut connection, &SERVED_VERSION),
                                Err(error) => Health::Unreachable {
                                    reason: error.to_string(),
                                },
                            },
                        };
                        let previous = entry.health.set(health.clone());
                        if previous != health {
                            match &health {
                                Health::Ok => log::info!(
                                    "project {}: structure version {} matches; serving it",
                                    entry.name,
                                    SERVED_VERSION.expected
                                ),
                                other => log::warn!(
                                    "project {}: {}; not serving it",
                                    entry.name,
                                    other.status()
                                ),
                            }
                        }
                    });
                }
            });
        }
        self.health_report()
    }

    fn entry(&self, name: &str) -> Option<Arc<ProjectEntry>> {
        self.projects
            .read()
            .expect("registry lock poisoned")
            .get(name)
            .cloned()
    }
}

impl ProjectRegistry for Registry {
    fn resolve<'a>(
        &'a self,
        request: &'a HttpRequest,
        project: &'a str,
    ) -> RegistryFuture<'a, ProjectAccess> {
        Box::pin(async move {
            // Authentication first: without valid credentials nothing, not even whether a
            // project exists, is revealed.
            let principal = match &self.authenticator {
                Some(authenticator) => Some(authenticator.authenticate(request).await?),
                None => None,
            };
            let entry = self.entry(project).ok_or(ApiError::NotFound)?;
            if let Some(principal) = principal {
                // A project the caller has no grant on is indistinguishable from a missing one.
                let role = role_on(&principal, project).ok_or(ApiError::NotFound)?;
                if role == Role::Read && !is_read_method(request.method()) {
                    return Err(ApiError::PermissionDenied);
                }
            }
            // Only now, to a caller allowed on the project, is its version state revealed.
            match entry.health.get() {
                Health::VersionMismatch { found } => {
                    return Err(ApiError::Unavailable {
                        detail: SERVED_VERSION.mismatch_detail(&found),
                        retry_after_seconds: 30,
                    });
                }
                Health::VersionUnreadable { .. } => {
                    return Err(ApiError::Unavailable {
                        detail: "The project database's structure version cannot be read. It is unavailable until it can."
                            .into(),
                        retry_after_seconds: 30,
                    });
                }
                Health::Unchecked | Health::Ok | Health::Unreachable { .. } => {}
            }
            Ok(ProjectAccess {
                project: entry.name.clone(),
                pool: entry.pool.clone(),
                backend: entry.backend,
                checkout_timeout: Duration::from_millis(self.pool_config.checkout_timeout_ms),
                permits: entry.permits.clone(),
            })
        })
    }

    fn visible_projects<'a>(
        &'a self,
        request: &'a HttpRequest,
    ) -> RegistryFuture<'a, Vec<Arc<str>>> {
        Box::pin(async move {
            let mut names = self.project_names();
            if let Some(authenticator) = &self.authenticator {
                let principal = authenticator.authenticate(request).await?;
                names.retain(|name| role_on(&principal, name).is_some());
            }
            Ok(names)
        })
    }
}

/// r2d2 reports connection failures here; URLs never appear, only the cause.
#[derive(Debug)]
struct PoolErrorLogger;

impl r2d2::HandleError<tenantapi_runtime::db::ManagerError> for PoolErrorLogger {
    fn handle_error(&self, error: tenantapi_runtime::db::ManagerError) {
        log::warn!("project database connection failed: {error}");
    }
}
