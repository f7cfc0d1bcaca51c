//! `GET /metrics` in Prometheus' text format: requests and their latency, counted as they
//! finish; pools, connection budgets, version states and the authentication cache, read when
//! scraped. Labels are bounded: a project label only for enabled projects, a table label only
//! for described tables, methods and status classes from closed sets; never keys or queries.

use std::sync::Mutex;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::{HttpResponse, web};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};
use tenantapi_runtime::http::error::ApiError;

use crate::caller::Caller;
use crate::registry::Registry;

/// Latency buckets in seconds: a GET by id takes about a millisecond, a checkout gives up
/// after 5 s, a statement after 30 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Every metric this server exports, in one registry of its own.
pub struct Metrics {
    registry: prometheus::Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGaugeVec,
    pool_max_connections: IntGaugeVec,
    pool_waiting: IntGaugeVec,
    connect_errors: IntCounterVec,
    project_state: IntGaugeVec,
    projects_by_version: IntGaugeVec,
    host_connections: IntGaugeVec,
    host_connection_limit: IntGaugeVec,
    host_in_flight: IntGaugeVec,
    auth_cache_hits: IntCounter,
    auth_cache_misses: IntCounter,
    throttled: IntCounterVec,
    /// Scrapes read the current state into the gauges one at a time.
    scraping: Mutex<()>,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(
    registry: &prometheus::Registry,
    metric: T,
) -> T {
    registry
        .register(Box::new(metric.clone()))
        .expect("BUG: metric names are unique");
    metric
}

impl Metrics {
    pub fn new(version: &str, structure_version: &str) -> Metrics {
        let registry = prometheus::Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                IntCounterVec::new(Opts::new(name, help), labels).expect("BUG: valid metric"),
            )
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register(
                &registry,
                IntGaugeVec::new(Opts::new(name, help), labels).expect("BUG: valid metric"),
            )
        };
        let build = register(
            &registry,
            IntGauge::with_opts(
                Opts::new(
                    "tenantapi_build_info",
                    "The build serving, and the structure version it serves (always 1).",
                )
                .const_label("version", version)
                .const_label("structure_version", structure_version),
            )
            .expect("BUG: valid metric"),
        );
        build.set(1);
        Metrics {
            requests: counter(
                "tenantapi_http_requests_total",
                "HTTP requests answered, by project (empty: none or not enabled), table (empty: \
                 none or not described), method and status class.",
                &["project", "table", "method", "status"],
            ),
            latency: register(
                &registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "tenantapi_http_request_duration_seconds",
                        "Time from a request's arrival to its answer, by project.",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                    &["project"],
                )
                .expect("BUG: valid metric"),
            ),
            pool_connections: gauge(
                "tenantapi_pool_connections",
                "A project's database connections: open (idle or in use), in_use (held by a \
                 request), idle.",
                &["project", "state"],
            ),
            pool_max_connections: gauge(
                "tenantapi_pool_max_connections",
                "Connections a project's pool may open (pool.max_size).",
                &["project"],
            ),
            pool_waiting: gauge(
                "tenantapi_pool_waiting_requests",
                "Requests waiting for one of the project's connections.",
                &["project"],
            ),
            connect_errors: counter(
                "tenantapi_pool_connect_errors_total",
                "Failed attempts to connect to a project's database (since its pool was made).",
                &["project"],
            ),
            project_state: gauge(
                "tenantapi_project_state",
                "1 for each project's current structure-version state (ok, unchecked, \
                 version_mismatch, version_unreadable, unreachable, ...).",
                &["project", "state"],
            ),
            projects_by_version: gauge(
                "tenantapi_projects_by_version",
                "Enabled projects by the structure version their database records, as last \
                 checked (\"unknown\": not checked yet, unreachable or unreadable): how far a \
                 rollout has reached.",
                &["version"],
            ),
            host_connections: gauge(
                "tenantapi_host_connections",
                "Connections open to a database server (host:port; \"SQLite files\": every SQLite \
                 file), all its projects together.",
                &["host"],
            ),
            host_connection_limit: gauge(
                "tenantapi_host_connection_limit",
                "The connection budget of a database server (pool.max_connections_per_host, \
                 pool.max_sqlite_connections).",
                &["host"],
            ),
            host_in_flight: gauge(
                "tenantapi_host_statements",
                "Database work against a server (host:port; \"SQLite files\": every SQLite \
                 project): the adaptive in-flight limit, the work counting against it now, and \
                 the work queued for a turn.",
                &["host", "state"],
            ),
            auth_cache_hits: register(
                &registry,
                IntCounter::new(
                    "tenantapi_auth_cache_hits_total",
                    "Credentials answered from the authentication cache.",
                )
                .expect("BUG: valid metric"),
            ),
            auth_cache_misses: register(
                &registry,
                IntCounter::new(
                    "tenantapi_auth_cache_misses_total",
                    "Credentials looked up in the platform database.",
                )
                .expect("BUG: valid metric"),
            ),
            throttled: counter(
                "tenantapi_throttled_total",
                "Requests refused with 429 by a rate limit, by project and reason \
                 (project_rate: the project's; user_rate: the caller's).",
                &["project", "reason"],
            ),
            registry,
            scraping: Mutex::new(()),
        }
    }

    /// Counts one answered request. `project` and `table` are what the route matched; they
    /// become labels only when they name an enabled project and a described table.
    pub fn observe(
        &self,
        registry: &Registry,
        method: &Method,
        project: Option<&str>,
        table: Option<&str>,
        status: u16,
        elapsed: Duration,
    ) {
        let project = project
            .filter(|name| registry.is_project(name))
            .unwrap_or("");
        let table = table
            .filter(|name| registry.api().table(name).is_some())
            .unwrap_or("");
        self.requests
            .with_label_values(&[project, table, method_label(method), status_class(status)])
            .inc();
        self.latency
            .with_label_values(&[project])
            .observe(elapsed.as_secs_f64());
    }

    /// The text a scrape gets: the counters as they are, the gauges read now.
    pub fn render(&self, registry: &Registry) -> String {
        let _one_scrape = self
            .scraping
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Removed projects and servers drop out of the gauges.
        for gauges in [
            &self.pool_connections,
            &self.pool_max_connections,
            &self.pool_waiting,
            &self.project_state,
            &self.projects_by_version,
            &self.host_connections,
            &self.host_connection_limit,
            &self.host_in_flight,
        ] {
            gauges.reset();
        }
        for (project, stats) in registry.pool_stats() {
            let open = stats.open as i64;
            let in_use = stats.in_use.min(stats.open) as i64;
            for (state, value) in [("open", open), ("in_use", in_use), ("idle", open - in_use)] {
                self.pool_connections
                    .with_label_values(&[&*project, state])
                    .set(value);
            }
            self.pool_max_connections
                .with_label_values(&[&*project])
                .set(stats.max_size as i64);
            self.pool_waiting
                .with_label_values(&[&*project])
                .set(stats.waiting as i64);
            sync_counter(
                &self.connect_errors.with_label_values(&[&*project]),
                stats.connect_errors,
                || {
                    let _ = self.connect_errors.remove_label_values(&[&*project]);
                    self.connect_errors.with_label_values(&[&*project])
                },
            );
        }
        let report = registry.health_report();
        for (project, health) in &report {
            self.project_state
                .with_label_values(&[&**project, health.status()])
                .set(1);
        }
        let found = report.iter().map(|(_, health)| health.found_version());
        for (version, projects) in crate::health::projects_by_version(found) {
            self.projects_by_version
                .with_label_values(&[&version])
                .set(projects as i64);
        }
        for (host, open, limit) in registry.connection_budgets() {
            self.host_connections
                .with_label_values(&[&host])
                .set(open as i64);
            self.host_connection_limit
                .with_label_values(&[&host])
                .set(limit as i64);
        }
        for (host, limit, in_flight, queued) in registry.in_flight_limits() {
            for (state, value) in [
                ("limit", limit),
                ("in_flight", in_flight),
                ("queued", queued),
            ] {
                self.host_in_flight
                    .with_label_values(&[&*host, state])
                    .set(value as i64);
            }
        }
        for ((project, reason), total) in registry.throttled() {
            if !registry.is_project(&project) {
                continue;
            }
            let labels = [&*project, reason.as_str()];
            sync_counter(&self.throttled.with_label_values(&labels), total, || {
                let _ = self.throttled.remove_label_values(&labels);
                self.throttled.with_label_values(&labels)
            });
        }
        if let Some(authenticator) = registry.authenticator() {
            sync_counter(&self.auth_cache_hits, authenticator.cache_hits(), || {
                self.auth_cache_hits.clone()
            });
            sync_counter(
                &self.auth_cache_misses,
                authenticator.platform_lookups(),
                || self.auth_cache_misses.clone(),
            );
        }
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|error| {
                tracing::error!("cannot encode the metrics: {error}");
                String::new()
            })
    }
}

/// Brings a counter up to `total`, a count kept elsewhere. A total below the counter means the
/// source started again (a project's pool was replaced): the series starts again too.
fn sync_counter(counter: &IntCounter, total: u64, restart: impl FnOnce() -> IntCounter) {
    let current = counter.get();
    if total >= current {
        counter.inc_by(total - current);
    } else {
        restart().inc_by(total);
    }
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// `GET /metrics` on the main listener: superusers only (anyone with authentication off),
/// 404 when metrics are off.
pub async fn scrape(
    caller: Caller,
    registry: web::Data<Registry>,
    metrics: Option<web::Data<Metrics>>,
) -> Result<HttpResponse, ApiError> {
    let metrics = metrics.ok_or(ApiError::NotFound)?;
    caller.require_superuser()?;
    render_response(metrics, registry).await
}

/// `GET /metrics` on `metrics_bind`, a private listener: no credentials.
pub async fn scrape_private(
    registry: web::Data<Registry>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, ApiError> {
    render_response(metrics, registry).await
}

async fn render_response(
    metrics: web::Data<Metrics>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    // A thousand projects make a few hundred kilobytes of text: off the async threads.
    let text = web::block(move || metrics.render(&registry))
        .await
        .map_err(|error| ApiError::internal("metrics task failed", error))?;
    Ok(HttpResponse::Ok()
        .content_type(prometheus::TEXT_FORMAT)
        .body(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_closed_sets() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(
            method_label(&Method::from_bytes(b"PROPFIND").unwrap()),
            "other"
        );
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(503), "5xx");
    }

    #[test]
    fn synced_counters_follow_their_source_and_restart_with_it() {
        let counter = IntCounter::new("c", "c").unwrap();
        sync_counter(&counter, 5, || unreachable!());
        sync_counter(&counter, 7, || unreachable!());
        assert_eq!(counter.get(), 7);
        let fresh = IntCounter::new("c", "c").unwrap();
        sync_counter(&counter, 2, || fresh.clone());
        assert_eq!(fresh.get(), 2);
    }
}
