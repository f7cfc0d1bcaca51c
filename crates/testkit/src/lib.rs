//! A test kit for many tenants: throwaway project databases with known rows (JSON fixtures with
//! explicit keys), a throwaway platform database, users with grants and tokens, and the API
//! in-process or on a real loopback port, in a few lines.
//!
//! ```no_run
//! # async fn example() {
//! use tenantapi_testkit::{Backend, Role, TestKit};
//! let kit = TestKit::builder(Backend::Sqlite)
//!     .project("alpha", Some("tests/fixtures/alpha.json"))
//!     .project("beta", None)
//!     .user("ann", &[("alpha", Role::Write)])
//!     .build()
//!     .unwrap();
//! let app = kit.service().await;
//! let reply = kit.call(&app, "GET", "/api/v1/alpha/data_point/", Some("ann"), None).await;
//! assert_eq!(reply.status, 200);
//! # }
//! ```

mod databases;
mod server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::header;
use actix_web::{App, test};
use serde_json::Value;
use tenantapi_runtime::api::GeneratedApi;
use tenantapi_server::config::Config;
use tenantapi_server::registry::Registry;

pub use databases::{Backend, TestDatabase, TestPlatform, postgres_server_url};
pub use server::RunningServer;
pub use tenantapi_server::accounts::Role;

/// Where a project's rows come from.
#[derive(Debug, Clone)]
enum FixtureSource {
    None,
    File(PathBuf),
    Json { name: String, document: Value },
}

/// A project registered with a URL as given (no database is created): for unreachable or
/// hand-made databases.
struct ExternalProject {
    name: String,
    url: String,
}

struct UserSpec {
    name: String,
    superuser: bool,
    grants: Vec<(String, Role)>,
}

/// Why a kit could not be built: bad fixtures (file, table, row, column) or setup failures.
#[derive(Debug, thiserror::Error)]
pub enum TestKitError {
    #[error("cannot read fixture file {path}: {source}")]
    ReadFixture {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Fixture(#[from] tenantapi_runtime::data::fixtures::FixtureError),
    #[error("setting up the test platform failed: {0}")]
    Setup(String),
    #[error("project {project}: structure version {version:?} is not served (served: {served})")]
    UnservedVersion {
        project: String,
        version: String,
        served: String,
    },
}

/// Describes the tenants of a test; [`TestKitBuilder::build`] creates them.
pub struct TestKitBuilder {
    api: &'static GeneratedApi,
    backend: Backend,
    projects: Vec<(String, FixtureSource)>,
    /// Projects made at another served version than the newest, by name.
    versions: BTreeMap<String, String>,
    external_projects: Vec<ExternalProject>,
    users: Vec<UserSpec>,
    config: Config,
}

impl TestKitBuilder {
    /// A project whose database has the structure of `version` (a served one: the newest or
    /// one of `schema/previous/`) and records it, with `rows` in fixture format (`Value::Null`:
    /// none). `TestDatabase::migrate` moves it to another version inside the test.
    pub fn project_at_version(mut self, name: &str, version: &str, rows: Value) -> Self {
        let source = match rows {
            Value::Null => FixtureSource::None,
            document => FixtureSource::Json {
                name: format!("rows of project {name}"),
                document,
            },
        };
        self.projects.push((name.to_string(), source));
        self.versions.insert(name.to_string(), version.to_string());
        self
    }

    /// Serve another generated API than the one of `schema/project.toml` (its projects'
    /// databases are created from its DDL).
    pub fn api(mut self, api: &'static GeneratedApi) -> Self {
        self.api = api;
        self
    }

    /// A project whose database the test provides (or that is unreachable on purpose).
    pub fn external_project(mut self, name: &str, database_url: &str) -> Self {
        self.external_projects.push(ExternalProject {
            name: name.to_string(),
            url: database_url.to_string(),
        });
        self
    }

    /// A project with rows from a JSON fixture file (relative paths are from the current
    /// directory, which `cargo test` sets to the crate under test), or empty.
    pub fn project(mut self, name: &str, fixture_file: Option<&str>) -> Self {
        let source = match fixture_file {
            Some(path) => FixtureSource::File(PathBuf::from(path)),
            None => FixtureSource::None,
        };
        self.projects.push((name.to_string(), source));
        self
    }

    /// A project with rows given inline, in fixture format (`{"table": [{"id": 1, ...}]}`).
    pub fn project_with_rows(mut self, name: &str, rows: Value) -> Self {
        let source = FixtureSource::Json {
            name: format!("rows of project {name}"),
            document: rows,
        };
        self.projects.push((name.to_string(), source));
        self
    }

    /// A user with grants, and a token (see [`TestKit::token`]).
    pub fn user(mut self, name: &str, grants: &[(&str, Role)]) -> Self {
        let grants = grants
            .iter()
            .map(|(project, role)| (project.to_string(), *role))
            .collect();
        self.users.push(UserSpec {
            name: name.to_string(),
            superuser: false,
            grants,
        });
        self
    }

    /// A user who may use every project.
    pub fn superuser(mut self, name: &str) -> Self {
        self.users.push(UserSpec {
            name: name.to_string(),
            superuser: true,
            grants: Vec::new(),
        });
        self
    }

    /// Adjusts the server configuration (pool sizes, auth cache, page sizes...).
    pub fn configure(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// Creates the databases, loads the fixtures, creates users, grants and tokens.
    pub fn build(self) -> Result<TestKit, TestKitError> {
        let platform = TestPlatform::new();
        let mut platform_connection = platform.connect();
        let setup = |error: &dyn std::fmt::Display| TestKitError::Setup(error.to_string());
        // Databases are created and filled in parallel: PostgreSQL's CREATE DATABASE takes tens
        // of milliseconds, and some tests need a hundred projects.
        let mut projects = Vec::with_capacity(self.projects.len());
        for (name, source) in self.projects {
            let api =
                match self.versions.get(&name) {
                    None => self.api,
                    Some(version) => self.api.at_version(version).ok_or_else(|| {
                        TestKitError::UnservedVersion {
                            project: name.clone(),
                            version: version.clone(),
                            served: self.api.served_versions_text(),
                        }
                    })?,
                };
            projects.push((name, source, api));
        }
        let created = create_databases(self.backend, projects)?;
        let mut databases = BTreeMap::new();
        for (project, database) in created {
            tenantapi_server::platform::add_project(
                &mut platform_connection,
                &project,
                &database.url,
            )
            .map_err(|e| setup(&e))?;
            databases.insert(project, database);
        }
        for project in &self.external_projects {
            tenantapi_server::platform::add_project(
                &mut platform_connection,
                &project.name,
                &project.url,
            )
            .map_err(|e| setup(&e))?;
        }
        let mut tokens = BTreeMap::new();
        for user in self.users {
            tokens.insert(
                user.name.clone(),
                platform.user_with_token(&user.name, user.superuser),
            );
            for (project, role) in user.grants {
                tenantapi_server::accounts::grant(
                    &mut platform_connection,
                    &user.name,
                    &project,
                    role,
                )
                .map_err(|e| setup(&e))?;
            }
        }
        let mut config = self.config;
        config.platform_database_url = platform.url.clone();
        let registry =
            tenantapi_server::serve::load_registry(self.api, &config, &mut platform_connection)
                .map_err(|e| setup(&e))?;
        registry.check_all_now();
        Ok(TestKit {
            platform,
            databases,
            tokens,
            registry,
            config,
        })
    }
}

/// How many databases are created (or dropped) at once.
const PARALLEL_DATABASES: usize = 8;

/// Creates one database per project and loads its rows, `PARALLEL_DATABASES` at a time; the
/// result keeps the projects' order. The first error wins.
fn create_databases(
    backend: Backend,
    projects: Vec<(String, FixtureSource, &'static GeneratedApi)>,
) -> Result<Vec<(String, TestDatabase)>, TestKitError> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<TestDatabase, TestKitError>>>> = projects
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL_DATABASES.min(projects.len()) {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((_, source, api)) = projects.get(index) else {
                        break;
                    };
                    let result = create_database(api, backend, source);
                    *results[index].lock().expect("result slot") = Some(result);
                }
            });
        }
    });
    projects
        .into_iter()
        .zip(results)
        .map(|((project, _, _), result)| {
            let database = result
                .into_inner()
                .expect("result slot")
                .expect("every project was created")?;
            Ok((project, database))
        })
        .collect()
}

fn create_database(
    api: &'static GeneratedApi,
    backend: Backend,
    source: &FixtureSource,
) -> Result<TestDatabase, TestKitError> {
    let database = TestDatabase::with_structure(api, backend);
    let (file, text) = match source {
        FixtureSource::None => (String::new(), None),
        FixtureSource::File(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|source| TestKitError::ReadFixture {
                    path: path.display().to_string(),
                    source,
                })?;
            (path.display().to_string(), Some(text))
        }
        FixtureSource::Json { name, document } => (name.clone(), Some(document.to_string())),
    };
    if let Some(text) = text {
        load_fixture_text(&database, &file, &text)?;
    }
    Ok(database)
}

/// Loads fixture text (`file` names it in errors) into a database built from the DDL.
pub fn load_fixture_text(
    database: &TestDatabase,
    file: &str,
    text: &str,
) -> Result<usize, TestKitError> {
    let fixtures = tenantapi_runtime::data::fixtures::parse(
        file,
        text,
        &database.api.table_metas().collect::<Vec<_>>(),
    )?;
    Ok(tenantapi_runtime::data::fixtures::load(
        &mut database.connect(),
        &fixtures,
        file,
    )?)
}

/// The tenants of one test. Dropping it drops every database it created.
pub struct TestKit {
    platform: TestPlatform,
    databases: BTreeMap<String, TestDatabase>,
    tokens: BTreeMap<String, String>,
    registry: Arc<Registry>,
    config: Config,
}

impl Drop for TestKit {
    fn drop(&mut self) {
        // Dropped in parallel, like they were created.
        let databases: Vec<TestDatabase> =
            std::mem::take(&mut self.databases).into_values().collect();
        let databases = std::sync::Mutex::new(databases);
        std::thread::scope(|scope| {
            for _ in 0..PARALLEL_DATABASES {
                scope.spawn(|| {
                    loop {
                        let database = databases.lock().map(|mut left| left.pop());
                        match database {
                            Ok(Some(database)) => drop(database),
                            _ => break,
                        }
                    }
                });
            }
        });
    }
}

/// A response, with its body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: header::HeaderMap,
    pub body: Vec<u8>,
    pub json: Value,
}

impl TestKit {
    pub fn builder(backend: Backend) -> TestKitBuilder {
        TestKitBuilder {
            api: &tenantapi_generated::API,
            backend,
            projects: Vec::new(),
            versions: BTreeMap::new(),
            external_projects: Vec::new(),
            users: Vec::new(),
            config: Config::default(),
        }
    }

    /// The token of a user declared on the builder.
    pub fn token(&self, user: &str) -> &str {
        self.tokens
            .get(user)
            .unwrap_or_else(|| panic!("no user {user} was declared on the test kit"))
    }

    pub fn database(&self, project: &str) -> &TestDatabase {
        self.databases
            .get(project)
            .unwrap_or_else(|| panic!("no project {project} was declared on the test kit"))
    }

    pub fn platform(&self) -> &TestPlatform {
        &self.platform
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The whole application, in-process.
    pub async fn service(
        &self,
    ) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> + use<>
    {
        let registry = self.registry.clone();
        let settings = self.config.app_settings();
        test::init_service(
            App::new().configure(move |config| {
                tenantapi_server::app::configure(config, registry, settings)
            }),
        )
        .await
    }

    /// Sends a request as `user` (by name; `None`: no credentials) with an optional JSON body.
    pub async fn call<S>(
        &self,
        service: &S,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> Reply
    where
        S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
    {
        let authorization = user.map(|user| format!("Token {}", self.token(user)));
        send(
            service,
            request(method, path, authorization.as_deref(), body),
        )
        .await
    }

    /// The application on a real loopback port, until the returned handle is dropped.
    pub fn serve(&self) -> RunningServer {
        server::start(self.registry.clone(), self.config.app_settings())
    }
}

/// A request with an optional `Authorization` header value (`"Token ..."`, `"Basic ..."`) and an
/// optional JSON body, for [`send`].
pub fn request(
    method: &str,
    path: &str,
    authorization: Option<&str>,
    body: Option<Value>,
) -> test::TestRequest {
    let method = actix_web::http::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
    let mut request = test::TestRequest::default().method(method).uri(path);
    if let Some(authorization) = authorization {
        request = request.insert_header((header::AUTHORIZATION, authorization.to_string()));
    }
    if let Some(body) = body {
        request = request
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .set_payload(body.to_string());
    }
    request
}

/// Runs one scenario on both backends: `on_both_backends!(module_name, scenario)` makes
/// `module_name::sqlite` and `module_name::postgres` tests calling `scenario(Backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $scenario:ident) => {
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$scenario($crate::Backend::Sqlite).await;
            }
            #[actix_web::test]
            async fn postgres() {
                super::$scenario($crate::Backend::Postgres).await;
            }
        }
    };
}

/// Sends a prepared request to an in-process service.
pub async fn send<S>(service: &S, request: test::TestRequest) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let response = test::call_service(service, request.to_request()).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = test::read_body(response).await.to_vec();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        json,
    }
}

/// The directory of fixture files next to a crate: `fixtures_dir(env!("CARGO_MANIFEST_DIR"))`.
pub fn fixtures_dir(manifest_dir: &str) -> PathBuf {
    Path::new(manifest_dir).join("fixtures")
}

/// Every row of a database (but the version table) in fixture format.
pub fn dump(database: &TestDatabase) -> Value {
    tenantapi_runtime::data::fixtures::dump(
        &mut database.connect(),
        database.api.tables,
        &[database.api.version_table],
    )
    .expect("dump the test database")
}
