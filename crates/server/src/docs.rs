//! The API's own documentation: the OpenAPI document of each served structure version,
//! generated with the code, adjusted once to this server's configuration and served at
//! `/api/v1/schema/` (the newest; `?version=V` any served one), and Swagger UI over them at
//! `/api/v1/docs/`, with a switch between versions (its assets are compiled into the binary).

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::http::error::ApiError;

use crate::caller::Caller;
use crate::config::DocumentSettings;
use crate::registry::Registry;

/// The document as served, and whether it needs credentials. It is rendered on first use and
/// kept: a 500-table document is 16 MB of JSON, and parsing it when each worker started kept
/// 220 MB resident in a server nobody had asked for its documentation yet.
pub struct OpenApiDocument {
    /// Each served version's API with its document once rendered, newest first.
    versions: Vec<(&'static GeneratedApi, OnceLock<web::Bytes>)>,
    settings: DocumentSettings,
    public: bool,
    swagger: Arc<utoipa_swagger_ui::Config<'static>>,
}

impl OpenApiDocument {
    /// `schema_url`: where the app serves the document, for Swagger UI to fetch it.
    pub fn new(
        api: &'static GeneratedApi,
        settings: DocumentSettings,
        schema_url: String,
    ) -> OpenApiDocument {
        // Swagger UI's configuration borrows its names and URLs for as long as it lives, which
        // is the process: a few short strings per version, made once per worker.
        let leak = |text: String| -> &'static str { Box::leak(text.into_boxed_str()) };
        let urls: Vec<utoipa_swagger_ui::Url<'static>> = api
            .versions()
            .map(|version| {
                let newest = version.schema_version == api.schema_version;
                let name = if newest {
                    leak(format!(
                        "structure version {} (newest)",
                        version.schema_version
                    ))
                } else {
                    leak(format!("structure version {}", version.schema_version))
                };
                let url = if newest {
                    leak(schema_url.clone())
                } else {
                    leak(format!("{schema_url}?version={}", version.schema_version))
                };
                utoipa_swagger_ui::Url::with_primary(name, url, newest)
            })
            .collect();
        let swagger = utoipa_swagger_ui::Config::new(urls)
            .try_it_out_enabled(true)
            .persist_authorization(settings.persist_authorization)
            .display_operation_id(true)
            .filter(true);
        OpenApiDocument {
            versions: api
                .versions()
                .map(|version| (version, OnceLock::new()))
                .collect(),
            settings,
            public: settings.public_schema,
            swagger: Arc::new(swagger),
        }
    }

    /// Whether `request` may read the documentation: anyone while it is public (or
    /// authentication is off), else any valid credentials (401 otherwise).
    async fn authorize(&self, request: &HttpRequest, registry: &Registry) -> Result<(), ApiError> {
        if !self.public {
            Caller::of(request, registry.authenticator())
                .await?
                .require_authenticated()?;
        }
        Ok(())
    }

    /// The JSON text (a cheap handle to it) of the document of `version` (`None`: the newest),
    /// or `None` when that version is not served. Blocking the first time: call it off the
    /// async threads.
    pub fn json(&self, version: Option<&str>) -> Option<web::Bytes> {
        let (api, rendered) = match version {
            None => self.versions.first()?,
            Some(version) => self
                .versions
                .iter()
                .find(|(api, _)| api.schema_version == version)?,
        };
        Some(rendered.get_or_init(|| render(api, self.settings)).clone())
    }

    /// The served versions as an error message names them.
    fn served_text(&self) -> String {
        self.versions
            .iter()
            .map(|(api, _)| format!("{:?}", api.schema_version))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The generated document with what the configuration decides: the largest and the default
/// page size, the most rows of a bulk create, and no security requirement when authentication
/// is off.
fn render(api: &GeneratedApi, settings: DocumentSettings) -> web::Bytes {
    let mut document: Value =
        serde_json::from_str(api.openapi_json).expect("BUG: the generated document is JSON");
    if let Some(page_size) = document
        .pointer_mut("/components/parameters/PageSize")
        .and_then(Value::as_object_mut)
    {
        page_size.insert(
            "description".into(),
            Value::from(format!(
                "Rows per page (default {}); larger values are capped at {}.",
                settings.default_page_size, settings.max_page_size
            )),
        );
        if let Some(schema) = page_size.get_mut("schema") {
            schema["maximum"] = Value::from(settings.max_page_size);
        }
    }
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for bulk in paths.values_mut().filter_map(|path| {
            path.pointer_mut("/post/requestBody/content/application~1json/schema/oneOf/1")
        }) {
            bulk["maxItems"] = Value::from(settings.max_bulk_items);
        }
    }
    if !settings.auth_required
        && let Some(root) = document.as_object_mut()
    {
        root.remove("security");
    }
    let mut json = serde_json::to_string_pretty(&document).expect("JSON serializes");
    json.push('\n');
    web::Bytes::from(json)
}

/// The last value of a query parameter.
fn query_value(request: &HttpRequest, parameter: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(request.query_string())
        .unwrap_or_default()
        .into_iter()
        .rev()
        .find(|(name, _)| name == parameter)
        .map(|(_, value)| value)
}

/// Whether the client asked for YAML: `?format=yaml`, or an `Accept` naming YAML and not JSON.
/// `Err` for another `format`, which DRF answers with 404.
fn wants_yaml(request: &HttpRequest) -> Result<bool, ApiError> {
    let format = query_value(request, "format");
    match format.as_deref() {
        Some("yaml") => return Ok(true),
        Some("json") => return Ok(false),
        Some(_) => return Err(ApiError::NotFound),
        None => {}
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    Ok(accept.contains("yaml") && !accept.contains("json"))
}

/// `GET /api/v1/schema/`: the OpenAPI document of the newest version, or with `?version=V` of
/// any served one (400 naming the served versions otherwise), JSON or (with `?format=yaml`)
/// YAML. YAML 1.2 is a superset of JSON, so the same text serves both without a YAML
/// serializer.
pub async fn schema(
    request: HttpRequest,
    document: web::Data<OpenApiDocument>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    document.authorize(&request, &registry).await?;
    let content_type = if wants_yaml(&request)? {
        "application/yaml"
    } else {
        "application/json"
    };
    let version = query_value(&request, "version");
    let document = document.into_inner();
    let json = web::block({
        let version = version.clone();
        let document = document.clone();
        move || document.json(version.as_deref())
    })
    .await
    .map_err(|error| ApiError::internal("rendering the OpenAPI document", error))?
    .ok_or_else(|| {
        ApiError::BadRequest(format!(
            "?version={}: this server serves no such structure version; it serves {}.",
            version.as_deref().unwrap_or_default(),
            document.served_text()
        ))
    })?;
    Ok(HttpResponse::Ok().content_type(content_type).body(json))
}

/// `GET /api/v1/docs/...`: Swagger UI (its page, scripts and styles) over the document, under
/// the same rule as the document: without credentials only when `api.public_schema` is on.
pub async fn swagger(
    request: HttpRequest,
    path: web::Path<String>,
    document: web::Data<OpenApiDocument>,
    registry: web::Data<Registry>,
) -> Result<HttpResponse, ApiError> {
    document.authorize(&request, &registry).await?;
    match utoipa_swagger_ui::serve(&path, document.swagger.clone()) {
        Ok(Some(file)) => Ok(HttpResponse::Ok()
            .content_type(file.content_type)
            .body(file.bytes.into_owned())),
        Ok(None) => Err(ApiError::NotFound),
        Err(error) => Err(ApiError::internal("serving Swagger UI", error)),
    }
}
