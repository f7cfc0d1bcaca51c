//! The HTTP application: the API root, each project's table index, the generated table routes,
//! and DRF's answers for unknown paths and missing trailing slashes.

use std::sync::Arc;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use serde_json::{Map, Value};
use tenantapi_runtime::http::error::ApiError;
use tenantapi_runtime::http::guard::ProjectRegistry;
use tenantapi_runtime::http::handlers::with_allowed;
use tenantapi_runtime::http::urls::absolute_path;

use crate::caller::Caller;
use crate::config::AppSettings;
use crate::docs::OpenApiDocument;
use crate::health::Health;
use crate::registry::Registry;

/// Where the API is mounted.
pub const API_ROOT: &str = "/api/v1";

/// Registers everything on an `App`; the registry and settings become app data.
pub fn configure(config: &mut web::ServiceConfig, registry: Arc<Registry>, settings: AppSettings) {
    let api = registry.api();
    let document = OpenApiDocument::new(api, settings.document, format!("{API_ROOT}/schema/"));
    let project_registry: Arc<dyn ProjectRegistry> = registry.clone();
    config
        .app_data(web::Data::new(document))
        .app_data(web::Data::from(project_registry))
        .app_data(web::Data::from(registry))
        .app_data(web::Data::new(settings.api))
        .app_data(web::Data::new(settings.allowed_hosts))
        .service(with_allowed(
            web::resource("/healthz").route(web::get().to(healthz)),
            &["GET"],
        ))
        .service(
            with_allowed(web::resource("/readyz").route(web::get().to(readyz)), &["GET"]).wrap(
                actix_web::middleware::from_fn(crate::hosts::require_allowed_host),
            ),
        )
        .service(
            with_allowed(
                web::resource("/metrics").route(web::get().to(crate::metrics::scrape)),
                &["GET"],
            )
            .wrap(actix_web::middleware::from_fn(
                crate::hosts::require_allowed_host,
            )),
        )
        .service(
            web::scope(API_ROOT)
                .wrap(actix_web::middleware::from_fn(structure_version_header))
                .wrap(actix_web::middleware::from_fn(
                    crate::hosts::require_allowed_host,
                ))
                .service(with_allowed(
                    web::resource("/")
                        .route(web::get().to(api_root))
                        .route(web::head().to(api_root))
                        .route(web::method(Method::OPTIONS).to(|| async {
                            describe_view(
                                "Api Root",
                                "The projects the caller may use, with their URLs.",
                            )
                        })),
                    READ_ONLY_METHODS,
                ))
                // Before `/{project}/`: these names are reserved for the API itself.
                .service(with_allowed(
                    web::resource("/schema/")
                        .route(web::get().to(crate::docs::schema))
                        .route(web::head().to(crate::docs::schema))
                        .route(web::method(Method::OPTIONS).to(|| async {
                            describe_view(
                                "Schema",
                                "The OpenAPI 3.1 document of this API (JSON; YAML with ?format=yaml).",
                            )
                        })),
                    READ_ONLY_METHODS,
                ))
                .service(with_allowed(
                    web::resource("/docs/{path:.*}")
                        .route(web::get().to(crate::docs::swagger))
                        .route(web::head().to(crate::docs::swagger))
                        .route(web::method(Method::OPTIONS).to(|| async {
                            describe_view(
                                "Docs",
                                "An interactive page over the OpenAPI document (Swagger UI).",
                            )
                        })),
                    READ_ONLY_METHODS,
                ))
                .service(with_allowed(
                    web::resource("/{project}/")
                        .route(web::get().to(project_root))
                        .route(web::head().to(project_root))
                        .route(web::method(Method::OPTIONS).to(project_options)),
                    READ_ONLY_METHODS,
                ))
                .configure(|config| {
                    tenantapi_runtime::http::handlers::register_tables(config, api)
                }),
        )
        .default_service(web::to(unmatched));
}

/// The header naming the structure version a project route's answer was produced with.
pub const STRUCTURE_VERSION_HEADER: header::HeaderName =
    header::HeaderName::from_static("x-structure-version");

/// Middleware: a project route's answer names the structure version it was produced with (the
/// one its project was resolved at, `ServedAt`),
/// except where the caller learns nothing about the project (401, 404) and where nothing was
/// produced (5xx: a 503 for another version names both in its detail).
async fn structure_version_header(
    request: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let mut response = next.call(request).await?;
    let status = response.status();
    let served_at = response
        .request()
        .extensions()
        .get::<tenantapi_runtime::http::guard::ServedAt>()
        .copied();
    if !status.is_server_error()
        && status != StatusCode::UNAUTHORIZED
        && status != StatusCode::NOT_FOUND
        && let Some(tenantapi_runtime::http::guard::ServedAt(version)) = served_at
        && let Ok(value) = header::HeaderValue::from_str(version)
    {
        response
            .headers_mut()
            .insert(STRUCTURE_VERSION_HEADER, value);
    }
    Ok(response)
}

/// What the API's own read-only routes answer.
const READ_ONLY_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS"];

/// DRF's metadata of a view without a body: name, description, media types.
fn describe_view(name: &str, description: &str) -> HttpResponse {
    tenantapi_runtime::http::handlers::options_response(
        serde_json::json!({
            "name": name,
            "description": description,
            "renders": ["application/json"],
            "parses": ["application/json"],
        }),
        READ_ONLY_METHODS,
    )
}

/// `OPTIONS /api/v1/{project}/`, through the same checks as its GET (404 if not granted).
async fn project_options(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    registry.resolve(&request, &path).await?;
    Ok(describe_view(
        "Project Root",
        "The project's tables, with the URLs of their lists.",
    ))
}

/// `GET /healthz`: the process is alive and answering.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// `GET /readyz`: 200 when every enabled project is served, 503 otherwise. Anyone gets the
/// verdict and counts; a superuser (or anyone, with authentication off) also gets each
/// project's state from its last check (never URLs or credentials). Invalid credentials are
/// 401, as everywhere.
async fn readyz(caller: Caller, registry: web::Data<Registry>) -> Result<HttpResponse, ApiError> {
    let detailed = caller.is_superuser();
    let report = registry.health_report();
    let ready_count = report
        .iter()
        .filter(|(_, health)| matches!(health, Health::Ok { .. } | Health::Unchecked))
        .count();
    let ready = ready_count == report.len();
    let mut body = serde_json::json!({
        "ready": ready,
        "counts": {"projects": report.len(), "ready": ready_count, "not_ready": report.len() - ready_count},
    });
    if detailed {
        let mut projects = Map::new();
        let mut drift = registry.structure_drift();
        for (name, health) in &report {
            let mut state = Map::new();
            state.insert("status".into(), Value::from(health.status()));
            if let Some(lines) = drift.remove(name) {
                state.insert("structure_drift".into(), Value::from(lines));
            }
            if let Some(version) = health.served_version() {
                state.insert("version".into(), Value::from(version));
            }
            if let Health::VersionMismatch { found } = health {
                state.insert("expected".into(), served_versions(registry.api()));
                state.insert("found".into(), Value::from(found.as_str()));
            }
            projects.insert(name.to_string(), Value::Object(state));
        }
        body["version"] = Value::from(registry.api().schema_version);
        body["served_versions"] = served_versions(registry.api());
        body["projects"] = Value::Object(projects);
        body["versions"] = serde_json::json!(crate::health::projects_by_version(
            report.iter().map(|(_, health)| health.found_version())
        ));
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok(HttpResponse::build(status).json(body))
}

/// The versions this build serves, newest first, as JSON.
fn served_versions(api: &'static tenantapi_runtime::api::GeneratedApi) -> Value {
    Value::from(
        api.versions()
            .map(|version| version.schema_version)
            .collect::<Vec<_>>(),
    )
}

/// `GET /api/v1/`: the projects the caller may use, by name, with their URLs (DRF's API root).
async fn api_root(
    request: HttpRequest,
    registry: web::Data<dyn ProjectRegistry>,
) -> Result<HttpResponse, ApiError> {
    let names = registry.visible_projects(&request).await?;
    let mut body = Map::new();
    for name in names {
        let url = absolute_path(&request, &format!("{API_ROOT}/{name}/"));
        body.insert(name.to_string(), Value::String(url));
    }
    Ok(HttpResponse::Ok().json(body))
}

/// `GET /api/v1/{project}/`: the tables of the version the project is served at, with their
/// URLs.
async fn project_root(
    request: HttpRequest,
    registry: web::Data<Registry>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let access = registry.resolve(&request, &path).await?;
    let mut body = Map::new();
    for table in access.served.table_metas() {
        let url = absolute_path(
            &request,
            &format!(
                "{API_ROOT}/{}/{}/",
                access.project,
                tenantapi_schema::names::url_segment(table.name)
            ),
        );
        body.insert(table.name.to_string(), Value::String(url));
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Unknown paths are 404 `{"detail": "Not found."}`; a path that lacks only its trailing slash
/// is redirected to it, as Django's APPEND_SLASH does (308 keeps the method and body of writes).
async fn unmatched(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = request.path();
    if path.starts_with(API_ROOT) && !path.ends_with('/') {
        let mut location = format!("{path}/");
        if !request.query_string().is_empty() {
            location.push('?');
            location.push_str(request.query_string());
        }
        let status = if matches!(*request.method(), Method::GET | Method::HEAD) {
            StatusCode::MOVED_PERMANENTLY
        } else {
            StatusCode::PERMANENT_REDIRECT
        };
        return Ok(HttpResponse::build(status)
            .insert_header((header::LOCATION, location))
            .finish());
    }
    Err(ApiError::NotFound)
}
