//! `serve`: migrate the platform database, load the enabled projects, keep them in step with
//! the platform database, and serve HTTP until stopped.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, middleware, web};
use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::connections::database_url::DatabaseUrl;
use tenantapi_runtime::connections::db::DbConnection;

use crate::config::Config;
use crate::health::Health;
use crate::platform::{self, PlatformError};
use crate::registry::Registry;

/// The most threads each HTTP worker runs database work on (they are made when needed and end
/// when idle); see where it is set.
const BLOCKING_THREADS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Server(std::io::Error),
    #[error("--strict: not starting, {} project(s) do not match:\n{}", .0.len(), .0.join("\n"))]
    Strict(Vec<String>),
}

/// Builds the registry from the platform database's enabled projects.
pub fn load_registry(
    api: &'static GeneratedApi,
    config: &Config,
    platform: &mut DbConnection,
) -> Result<Arc<Registry>, PlatformError> {
    let auth = config.auth.required.then(|| {
        (
            config.platform_database_url.as_str(),
            Duration::from_secs(config.auth.cache_seconds),
        )
    });
    let registry = Arc::new(Registry::new(
        api,
        config.pool.clone(),
        config.limits.clone(),
        auth,
    ));
    registry.replace_projects(platform::enabled_projects(platform)?);
    Ok(registry)
}

/// Re-reads the project list every `refresh_seconds`, so that `project add/disable/enable/remove`
/// take effect in a running server without a restart.
fn spawn_refresh(registry: Arc<Registry>, platform_url: String, every: Duration) {
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(every);
        interval.tick().await;
        let mut connection: Option<DbConnection> = None;
        loop {
            interval.tick().await;
            let url = platform_url.clone();
            let taken = connection.take();
            let result = web::block(move || {
                let mut platform = match taken {
                    Some(platform) => platform,
                    None => DatabaseUrl::new(url.as_str())
                        .open()
                        .map_err(|error| error.to_string())?,
                };
                let enabled =
                    platform::enabled_projects(&mut platform).map_err(|error| error.to_string());
                Ok::<_, String>((platform, enabled))
            })
            .await;
            match result {
                Ok(Ok((platform, Ok(enabled)))) => {
                    registry.replace_projects(enabled);
                    connection = Some(platform);
                }
                // The connection is dropped and reopened next time; projects keep being served.
                Ok(Ok((_, Err(error)))) | Ok(Err(error)) => {
                    tracing::warn!(
                        "cannot refresh the project list from the platform database: {error}"
                    )
                }
                Err(error) => tracing::error!("project list refresh task failed: {error}"),
            }
        }
    });
}

/// Checks every project's structure version again every `every`, so that a database migrated
/// while the server runs stops being served within that bound, and comes back by itself. Each
/// project keeps its own schedule; a slow or hung project delays no other project's check.
pub fn spawn_version_checks(registry: Arc<Registry>, every: Duration) {
    let tick = (every / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    let running = Arc::new(tokio::sync::Semaphore::new(
        crate::registry::CONCURRENT_CHECKS,
    ));
    actix_web::rt::spawn(async move {
        let mut interval = actix_web::rt::time::interval(tick);
        interval.tick().await;
        loop {
            interval.tick().await;
            registry.start_due_checks(every, tick, &running);
        }
    });
}

/// Projects that are not served, one line each, for `serve --strict` (`served`: the versions
/// this build serves, as messages name them).
pub fn mismatch_lines(report: &[(Arc<str>, Health)], served: &str) -> Vec<String> {
    report
        .iter()
        .filter(|(_, health)| !matches!(health, Health::Ok { .. }))
        .map(|(name, health)| match health {
            Health::VersionMismatch { found } => {
                format!("project {name}: structure version {found:?}, this build serves {served}")
            }
            Health::VersionUnreadable { reason } => format!("project {name}: {reason}"),
            Health::Unreachable { .. } => format!("project {name}: database unreachable"),
            other => format!("project {name}: {}", other.status()),
        })
        .collect()
}

/// `metrics_bind`: `GET /metrics` without credentials, and nothing else, for a scraper on a
/// private network.
fn spawn_metrics_listener(
    bind: &str,
    metrics: web::Data<crate::metrics::Metrics>,
    registry: Arc<Registry>,
) -> Result<(), ServeError> {
    let registry = web::Data::from(registry);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .app_data(registry.clone())
            .route("/metrics", web::get().to(crate::metrics::scrape_private))
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(tenantapi_runtime::http::error::ApiError::NotFound)
            }))
    })
    .workers(1)
    .shutdown_timeout(1)
    .bind(bind)
    .map_err(|source| ServeError::Bind {
        bind: bind.to_string(),
        source,
    })?
    .run();
    actix_web::rt::spawn(server);
    tracing::info!("metrics without credentials on http://{bind}/metrics");
    Ok(())
}

pub async fn serve(
    api: &'static GeneratedApi,
    config: Config,
    strict: bool,
) -> Result<(), ServeError> {
    let platform_url = config.platform_database_url.clone();
    let (mut platform, applied) = web::block(move || platform::open_and_migrate(&platform_url))
        .await
        .map_err(|error| ServeError::Server(std::io::Error::other(error.to_string())))??;
    for migration in applied {
        tracing::info!("applied platform migration {migration}");
    }
    let registry = load_registry(api, &config, &mut platform)?;
    let cursor_key = platform::cursor_key(&mut platform)?;
    drop(platform);
    let checking = registry.clone();
    if strict {
        let report = web::block(move || checking.check_all_now())
            .await
            .map_err(|error| ServeError::Server(std::io::Error::other(error.to_string())))?;
        let failing = mismatch_lines(&report, &api.served_versions_text());
        if !failing.is_empty() {
            return Err(ServeError::Strict(failing));
        }
    } else {
        // Every connection is version-checked as it opens, so serving need not wait for the
        // first pass over every project: with a thousand projects it kept `serve` from
        // listening for up to 3.5 s. The pass runs beside serving and logs what it finds.
        actix_web::rt::spawn(async move {
            if let Err(error) = web::block(move || checking.check_all_now()).await {
                tracing::error!("the first structure-version check failed: {error}");
            }
        });
    }
    if !config.auth.required {
        tracing::warn!(
            "authentication is OFF (auth.required = false): anyone who reaches {} may read and write every project",
            config.bind
        );
    }
    tracing::info!(
        "{} enabled project(s); listening on http://{}",
        registry.project_names().len(),
        config.bind
    );
    spawn_version_checks(
        registry.clone(),
        Duration::from_secs(config.version_check_seconds),
    );
    spawn_refresh(
        registry.clone(),
        config.platform_database_url.clone(),
        Duration::from_secs(config.refresh_seconds),
    );

    let mut settings = config.app_settings();
    settings.api.cursor_key = cursor_key;
    let access_log = crate::access::AccessLog(config.access_log);
    let metrics = config.metrics.then(|| {
        web::Data::new(crate::metrics::Metrics::new(
            env!("CARGO_PKG_VERSION"),
            api.schema_version,
        ))
    });
    if let (Some(bind), Some(metrics)) = (&config.metrics_bind, &metrics) {
        spawn_metrics_listener(bind, metrics.clone(), registry.clone())?;
    }
    let server = HttpServer::new(move || {
        let mut app = App::new().app_data(web::Data::new(access_log));
        if let Some(metrics) = &metrics {
            app = app.app_data(metrics.clone());
        }
        app.wrap(middleware::Condition::new(
            !settings.cors_allowed_origins.is_empty(),
            crate::access::cors(&settings.cors_allowed_origins),
        ))
        // Outermost, so that every response (CORS refusals too) carries its request id.
        .wrap(middleware::from_fn(crate::access::track))
        .configure(|service| crate::app::configure(service, registry.clone(), settings.clone()))
    })
    .shutdown_timeout(10)
    .workers(config.http_workers())
    // Database work runs on these threads. What bounds it is each project's pool (at most
    // `max_size` at once) and the version checks, not this cap: actix's default (512 divided
    // by the cores) let a few dozen projects whose databases hang on connect take every
    // thread, and the healthy projects' work queued behind them.
    .worker_max_blocking_threads(BLOCKING_THREADS);
    server
        .bind(&config.bind)
        .map_err(|source| ServeError::Bind {
            bind: config.bind.clone(),
            source,
        })?
        .run()
        .await
        .map_err(ServeError::Server)
}
