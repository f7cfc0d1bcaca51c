//! The project registry: which projects exist, one lazily connecting pool per enabled project
//! (sharing its database server's connection budget), kept in step with the platform database
//! while the server runs, and each project's structure version checked on its own schedule.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use actix_web::{HttpMessage as _, HttpRequest};
use scheduled_thread_pool::ScheduledThreadPool;
use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::connections::budget::Budgets;
use tenantapi_runtime::connections::pool::{PoolSettings, ProjectPool};
use tenantapi_runtime::http::error::ApiError;
use tenantapi_runtime::http::guard::{ProjectAccess, ProjectRegistry, RegistryFuture};

use crate::accounts::{Role, UserLimits};
use crate::auth::Authenticator;
use crate::caller::{Caller, role_on};
use crate::config::{LimitsConfig, PoolConfig};
use crate::health::{Health, HealthCell, VersionCheckOnOpen, judge, refusal};
use crate::platform::{Project, ProjectLimits};
use crate::throttle::{RateLimit, RequestLimits, Throttle, ThrottleReason};

struct ProjectEntry {
    /// The project's id in the platform database: what grants name and rate limits are kept
    /// by (a project removed and added again under its name gets a new one).
    id: i32,
    name: Arc<str>,
    /// The project's rate limit, its own or the default (read on every request).
    rate: std::sync::RwLock<Option<RateLimit>>,
    database_url: String,
    pool: Arc<ProjectPool>,
    health: Arc<HealthCell>,
    /// A version check of this project is running: the next one waits for it.
    checking: AtomicBool,
    /// When the last version check started.
    last_check: Mutex<Option<Instant>>,
}

/// Enabled projects by name, each with its pool.
pub struct Registry {
    /// The newest version's generated API; each project is served at the version it records,
    /// among those this API lists.
    api: &'static GeneratedApi,
    projects: RwLock<HashMap<String, Arc<ProjectEntry>>>,
    pool_settings: PoolSettings,
    /// One budget per database server (host and port), shared by its projects' pools.
    budgets: Budgets,
    /// r2d2's bookkeeping for every project pool (making empty slots, closing idle ones). No
    /// connection is ever opened on these threads, so one project cannot hold them.
    helper_threads: Arc<ScheduledThreadPool>,
    /// Version checks of unreachable projects running now (at most half of
    /// `CONCURRENT_CHECKS`), so that however many projects hang, the others' checks find room.
    unreachable_checks: Arc<AtomicUsize>,
    /// `None` when authentication is switched off: every caller may do everything.
    authenticator: Option<Authenticator>,
    /// The default rate limits; projects' and users' own ones override them.
    limits: LimitsConfig,
    throttle: Throttle,
}

/// Methods a `read` grant allows.
fn is_read_method(method: &actix_web::http::Method) -> bool {
    use actix_web::http::Method;
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// How many version checks run at once; a hung project holds one for its connect timeout.
pub const CONCURRENT_CHECKS: usize = 32;

impl Registry {
    /// `auth`: the platform database URL and cache duration, or `None` to serve everyone.
    pub fn new(
        api: &'static GeneratedApi,
        pool_config: PoolConfig,
        limits: LimitsConfig,
        auth: Option<(&str, Duration)>,
    ) -> Registry {
        let helper_threads = Arc::new(
            ScheduledThreadPool::builder()
                .num_threads(2)
                .thread_name_pattern("tenantapi-pool-{}")
                .build(),
        );
        let authenticator =
            auth.map(|(platform_url, cache_for)| Authenticator::new(platform_url, cache_for));
        Registry {
            api,
            projects: RwLock::new(HashMap::new()),
            budgets: Budgets::new(
                pool_config.max_connections_per_host as usize,
                pool_config.max_sqlite_connections as usize,
                pool_config.project_share_percent,
                pool_config.in_flight(),
            ),
            pool_settings: pool_config.settings(),
            helper_threads,
            unreachable_checks: Arc::new(AtomicUsize::new(0)),
            authenticator,
            limits,
            throttle: Throttle::default(),
        }
    }

    /// A project's rate limit: its own, else the configuration's default.
    fn project_rate(&self, limits: &ProjectLimits) -> Option<RateLimit> {
        RateLimit::own_or_default(
            (limits.rate_per_second, limits.rate_burst),
            (
                self.limits.project_rate_per_second,
                self.limits.project_burst,
            ),
        )
    }

    /// A user's rate limit: their own, else the configuration's default.
    fn user_rate(&self, limits: &UserLimits) -> Option<RateLimit> {
        RateLimit::own_or_default(
            (limits.rate_per_second, limits.rate_burst),
            (self.limits.user_rate_per_second, self.limits.user_burst),
        )
    }

    /// Requests refused by rate limits so far, by project and reason.
    pub fn throttled(&self) -> Vec<((Arc<str>, ThrottleReason), u64)> {
        self.throttle.throttled()
    }

    /// Makes the registry hold exactly `enabled`, keeping the pools of unchanged projects (same
    /// id, same URL: a project added again under its name is a new one).
    pub fn replace_projects(&self, enabled: Vec<Project>) {
        let mut projects = self.projects.write().expect("registry lock poisoned");
        let mut next = HashMap::with_capacity(enabled.len());
        self.throttle
            .keep_projects(&enabled.iter().map(|project| project.id).collect::<Vec<_>>());
        for project in enabled {
            let rate = self.project_rate(&project.limits);
            let max_in_flight = project
                .limits
                .max_in_flight
                .and_then(|cap| usize::try_from(cap).ok());
            let kept = projects.remove(&project.name).filter(|entry| {
                entry.database_url == project.database_url && entry.id == project.id
            });
            if let Some(entry) = &kept {
                // Limits change without a new pool: its connections stay.
                *entry.rate.write().expect("rate lock poisoned") = rate;
                entry.pool.set_max_in_flight(max_in_flight);
            }
            let entry = kept.unwrap_or_else(|| {
                tracing::info!("serving project {}", project.name);
                let name: Arc<str> = Arc::from(project.name.as_str());
                let health = Arc::new(HealthCell::default());
                let pool = ProjectPool::new(
                    name.clone(),
                    self.api.project_url(&project.database_url),
                    self.pool_settings.clone(),
                    self.budgets.for_url(&project.database_url),
                    self.budgets.in_flight_for_url(&project.database_url),
                    Arc::new(VersionCheckOnOpen {
                        health: health.clone(),
                        api: self.api,
                    }),
                    self.helper_threads.clone(),
                );
                pool.set_max_in_flight(max_in_flight);
                Arc::new(ProjectEntry {
                    id: project.id,
                    rate: std::sync::RwLock::new(rate),
                    database_url: project.database_url,
                    pool,
                    health,
                    checking: AtomicBool::new(false),
                    last_check: Mutex::new(None),
                    name,
                })
            });
            next.insert(project.name, entry);
        }
        for name in projects.keys() {
            tracing::info!("no longer serving project {name}");
        }
        *projects = next;
    }

    /// The newest version's generated API, which lists the other versions served.
    pub fn api(&self) -> &'static GeneratedApi {
        self.api
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

    /// The projects whose live structure was found to differ from the description of the
    /// version they record (on their first connection), with the differences.
    pub fn structure_drift(&self) -> std::collections::HashMap<Arc<str>, Vec<String>> {
        let projects = self.projects.read().expect("registry lock poisoned");
        projects
            .values()
            .filter_map(|entry| {
                let lines = entry.health.drift()?;
                (!lines.is_empty()).then(|| (entry.name.clone(), lines))
            })
            .collect()
    }

    /// Whether `name` is an enabled project (metrics label only those: a client's invented
    /// names must not create series).
    pub fn is_project(&self, name: &str) -> bool {
        self.entry(name).is_some()
    }

    /// Every enabled project's pool state, sorted by name.
    pub fn pool_stats(&self) -> Vec<(Arc<str>, tenantapi_runtime::connections::pool::PoolStats)> {
        let projects = self.projects.read().expect("registry lock poisoned");
        let mut stats: Vec<_> = projects
            .values()
            .map(|entry| (entry.name.clone(), entry.pool.stats()))
            .collect();
        stats.sort_by(|left, right| left.0.cmp(&right.0));
        stats
    }

    /// Connections open now, per database server: `(host:port, open, budget)`.
    pub fn connection_budgets(&self) -> Vec<(String, usize, usize)> {
        self.budgets.report()
    }

    /// `(server, limit, in flight, queued)` of every database server's in-flight limit.
    pub fn in_flight_limits(&self) -> Vec<(String, usize, usize, usize)> {
        self.budgets.in_flight_report()
    }

    /// A project's pool (for tests and diagnostics; requests get theirs through the guard).
    pub fn pool(&self, project: &str) -> Option<Arc<ProjectPool>> {
        Some(self.entry(project)?.pool.clone())
    }

    /// Connections of one project open now (idle or in use).
    pub fn open_connections(&self, project: &str) -> Option<usize> {
        Some(self.entry(project)?.pool.open_connections())
    }

    pub fn authenticator(&self) -> Option<&Authenticator> {
        self.authenticator.as_ref()
    }

    fn entries(&self) -> Vec<Arc<ProjectEntry>> {
        self.projects
            .read()
            .expect("registry lock poisoned")
            .values()
            .cloned()
            .collect()
    }

    /// How long one version check may take: a hung database must not hold a check for longer
    /// than the interval it is meant to keep.
    fn check_timeout(&self, every: Duration) -> Duration {
        self.pool_settings.checkout_timeout.min(every)
    }

    /// Checks every enabled project's structure version now, `CONCURRENT_CHECKS` at a time,
    /// each within the checkout timeout, and waits for all. Blocking: run it off the async
    /// threads.
    pub fn check_all_now(&self) -> Vec<(Arc<str>, Health)> {
        let entries = self.entries();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let timeout = self.pool_settings.checkout_timeout;

        // Workers take the next project when done, so a slow project delays no other.
        std::thread::scope(|scope| {
            for _ in 0..CONCURRENT_CHECKS.min(entries.len()) {
                scope.spawn(|| {
                    while let Some(entry) = entries.get(next.fetch_add(1, Ordering::Relaxed)) {
                        check_project(entry, timeout, self.api);
                    }
                });
            }
        });
        self.health_report()
    }

    /// Starts a version check of every project whose last check started `every` ago (less one
    /// `tick`, the caller's period), unless one is still running, at most `CONCURRENT_CHECKS`
    /// at a time. Each project keeps its own schedule: slow or hung projects delay no other.
    ///
    /// A project found healthy that holds no connection now is not checked: every connection
    /// is checked as it opens, so nothing unchecked can be served, and checking it would open a
    /// connection for nothing. With a thousand PostgreSQL projects such checks were a hundred
    /// connections a second, which took the connection budget from the projects in use.
    pub fn start_due_checks(
        self: &Arc<Self>,
        every: Duration,
        tick: Duration,
        running: &Arc<tokio::sync::Semaphore>,
    ) {
        let timeout = self.check_timeout(every);
        let api = self.api;
        let now = Instant::now();
        // Whether each is unreachable is read once: requests change health meanwhile, and a
        // sort key that changes under the sort is no order.
        let mut due: Vec<(bool, Option<Instant>, Arc<ProjectEntry>)> = self
            .entries()
            .into_iter()
            .filter(|entry| !entry.checking.load(Ordering::Relaxed))
            .filter(|entry| {
                entry.pool.open_connections() > 0
                    || !matches!(entry.health.get(), Health::Ok { .. })
            })
            .map(|entry| {
                let last = *entry.last_check.lock().expect("check lock poisoned");
                (is_unreachable(&entry), last, entry)
            })
            .filter(|(_, last, _)| last.is_none_or(|last| now.duration_since(last) + tick >= every))
            .collect();
        // Reachable projects first, then the longest unchecked. An unreachable project's check
        // is a connection attempt that may hang for its whole timeout; those may take at most
        // half the places, so that however many projects hang, the others are checked on time.
        due.sort_by_key(|(unreachable, last, _)| (*unreachable, *last));
        for (unreachable, _, entry) in due {
            if unreachable
                && self.unreachable_checks.load(Ordering::Relaxed) >= CONCURRENT_CHECKS / 2
            {
                // The rest are unreachable too (they sort last).
                break;
            }
            let Ok(slot) = running.clone().try_acquire_owned() else {
                break;
            };
            let running =
                RunningCheck::start(entry, unreachable.then(|| self.unreachable_checks.clone()));
            actix_web::rt::task::spawn_blocking(move || {
                check_project(&running.entry, timeout, api);
                drop((running, slot));
            });
        }
    }

    fn entry(&self, name: &str) -> Option<Arc<ProjectEntry>> {
        self.projects
            .read()
            .expect("registry lock poisoned")
            .get(name)
            .cloned()
    }
}

/// A version check under way: marks its project (and counts it among the unreachable ones)
/// until dropped, also when the check panics.
struct RunningCheck {
    entry: Arc<ProjectEntry>,
    unreachable_checks: Option<Arc<AtomicUsize>>,
}

impl RunningCheck {
    fn start(entry: Arc<ProjectEntry>, unreachable_checks: Option<Arc<AtomicUsize>>) -> Self {
        entry.checking.store(true, Ordering::Relaxed);
        if let Some(counter) = &unreachable_checks {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        RunningCheck {
            entry,
            unreachable_checks,
        }
    }
}

impl Drop for RunningCheck {
    fn drop(&mut self) {
        self.entry.checking.store(false, Ordering::Relaxed);
        if let Some(counter) = &self.unreachable_checks {
            counter.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn is_unreachable(entry: &ProjectEntry) -> bool {
    matches!(entry.health.get(), Health::Unreachable { .. })
}

/// Reads one project's structure version (on an idle pooled connection, or a new one) and
/// records it, logging changes.
fn check_project(entry: &ProjectEntry, timeout: Duration, api: &'static GeneratedApi) {
    let previous = entry.health.get();
    let deadline = Instant::now() + timeout;
    *entry.last_check.lock().expect("check lock poisoned") = Some(Instant::now());
    let checked = entry.pool.with_connection(deadline, |connection| {
        let health = judge(connection, api);
        // A version found served for the first time (or again, or another one) has its
        // structure verified too, unless the connection opened for this check has just done
        // it (`on_open`).
        let changed = health.found_version() != entry.health.get().found_version();
        let drift = health
            .served_version()
            .and_then(|version| api.at_version(version))
            .filter(|_| changed || entry.health.drift().is_none())
            .map(|served| crate::health::verify_structure(served, &entry.name, connection));
        Ok::<_, ApiError>((health, drift))
    });
    let health = match checked {
        Ok((health, drift)) => {
            entry.health.set(health.clone());
            if let Some(lines) = drift {
                entry.health.set_drift(lines);
            }
            health
        }
        // Opening a connection recorded why it failed (unreachable, version refused); a check
        // that could not run at all (another attempt under way, no budget) leaves it as it was.
        Err(_) => entry.health.get(),
    };
    if previous != health {
        match &health {
            Health::Ok { version } if previous == Health::Unchecked => tracing::info!(
                "project {}: structure version {version} is served; serving it",
                entry.name,
            ),
            _ => crate::health::log_change(&entry.name, &previous, &health),
        }
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
            let caller = Caller::of(request, self.authenticator()).await?;
            let principal = caller.require_authenticated()?;
            let entry = self.entry(project).ok_or(ApiError::NotFound)?;
            let mut may_write = true;
            let mut limits = RequestLimits {
                project: (*entry.rate.read().expect("rate lock poisoned"))
                    .map(|rate| (entry.id, rate)),
                user: None,
            };
            if let Some(principal) = principal {
                // A project the caller has no grant on is indistinguishable from a missing one.
                let role = role_on(principal, entry.id).ok_or(ApiError::NotFound)?;
                if role == Role::Read && !is_read_method(request.method()) {
                    return Err(ApiError::PermissionDenied);
                }
                may_write = role == Role::Write;
                limits.user = self
                    .user_rate(&principal.limits)
                    .map(|rate| (principal.user_id, rate));
            }
            // Only a caller allowed on the project learns that it is throttled.
            self.throttle.admit(&entry.name, limits)?;
            // Only now, to a caller allowed on the project, is its version state revealed.
            let mut health = entry.health.get();
            if health == Health::Unchecked {
                // A project added while serving: which version it is served at is read now
                // (once; its pool bounds the wait), not guessed.
                let (checked, api) = (entry.clone(), self.api);
                let timeout = self.pool_settings.checkout_timeout;
                health = actix_web::web::block(move || {
                    check_project(&checked, timeout, api);
                    checked.health.get()
                })
                .await
                .map_err(|error| ApiError::internal("version check task", error))?;
            }
            if let Some(refused) = refusal(&health, self.api) {
                return Err(refused.into());
            }
            // Not known now (unreachable): the newest, which a first statement corrects.
            let served = health
                .served_version()
                .and_then(|version| self.api.at_version(version))
                .unwrap_or(self.api);
            request
                .extensions_mut()
                .insert(tenantapi_runtime::http::guard::ServedAt(
                    served.schema_version,
                ));
            Ok(ProjectAccess {
                project: entry.name.clone(),
                pool: entry.pool.clone(),
                may_write,
                served,
            })
        })
    }

    fn visible_projects<'a>(
        &'a self,
        request: &'a HttpRequest,
    ) -> RegistryFuture<'a, Vec<Arc<str>>> {
        Box::pin(async move {
            let caller = Caller::of(request, self.authenticator()).await?;
            let Some(principal) = caller.require_authenticated()? else {
                return Ok(self.project_names());
            };
            let mut names: Vec<Arc<str>> = self
                .entries()
                .into_iter()
                .filter(|entry| role_on(principal, entry.id).is_some())
                .map(|entry| entry.name.clone())
                .collect();
            names.sort();
            Ok(names)
        })
    }
}
