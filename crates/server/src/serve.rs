//! `serve`: migrate the platform database, load the enabled projects, keep them in step with
//! the platform database, and serve HTTP until stopped.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, middleware, web};
use tenantapi_runtime::db::DbConnection;
use tenantapi_runtime::guard::ProjectRegistry;

use crate::config::Config;
use crate::platform::{self, PlatformError};
use crate::registry::Registry;

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
}

/// Builds the registry from the platform database's enabled projects.
pub fn load_registry(
    config: &Config,
    platform: &mut DbConnection,
) -> Result<Arc<Registry>, PlatformError> {
    let auth = config.auth.required.then(|| {
        (
            config.platform_database_url.as_str(),
            Duration::from_secs(config.auth.cache_seconds),
        )
    });
    let registry = Arc::new(Registry::new(config.pool.clone(), auth));
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
                    None => DbConnection::open(&url).map_err(|error| error.to_string())?,
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
                    log::warn!(
                        "cannot refresh the project list from the platform database: {error}"
                    )
                }
                Err(error) => log::error!("project list refresh task failed: {error}"),
            }
        }
    });
}

pub async fn serve(config: Config) -> Result<(), ServeError> {
    let platform_url = config.platform_database_url.clone();
    let (mut platform, applied) = web::block(move || platform::open_and_migrate(&platform_url))
        .await
        .map_err(|error| ServeError::Server(std::io::Error::other(error.to_string())))??;
    for migration in applied {
        log::info!("applied platform migration {migration}");
    }
    let registry = load_registry(&config, &mut platform)?;
    drop(platform);
    if !config.auth.required {
        log::warn!(
            "authentication is OFF (auth.required = false): anyone who reaches {} may read and write every project",
            config.bind
        );
    }
    log::info!(
        "{} enabled project(s); listening on http://{}",
        registry.project_names().len(),
        config.bind
    );
    spawn_refresh(
        registry.clone(),
        config.platform_database_url.clone(),
        Duration::from_secs(config.refresh_seconds),
    );

    let settings = config.api_settings();
    let access_log = config.access_log;
    let registry: Arc<dyn ProjectRegistry> = registry;
    let registry = web::Data::from(registry);
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(middleware::Condition::new(
                access_log,
                middleware::Logger::default(),
            ))
            .configure(|service| crate::app::configure(service, registry.clone(), settings))
    })
    .shutdown_timeout(10);
    if let Some(workers) = config.workers {
        server = server.workers(workers);
    }
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
