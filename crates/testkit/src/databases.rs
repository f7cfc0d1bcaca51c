//! Throwaway databases: project databases built from the generated DDL with the version row
//! written, and platform databases; dropped when their owner is dropped (also on panic), and
//! leftovers of killed runs removed by the next run.

use std::path::PathBuf;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use tenantapi_runtime::api::GeneratedApi;
use tenantapi_runtime::connections::db::DbConnection;

/// Prefix of every throwaway database and file: what leftover cleanup looks for.
const PREFIX: &str = "tenantapi_test_";

/// Which engine holds the project databases of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use: `TENANTAPI_TEST_POSTGRES`, by default the CI machine's.
pub fn postgres_server_url() -> String {
    std::env::var("TENANTAPI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

/// Unique within the machine: the process id (so parallel test processes never collide, and
/// leftovers of dead ones can be recognized) and a per-process sequence number.
fn unique_name() -> String {
    format!(
        "{PREFIX}{}_{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether the process that created a leftover named `name` is gone.
fn owner_is_gone(name: &str) -> bool {
    let Some(pid) = name
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.split('_').next())
        .and_then(|pid| pid.parse::<u32>().ok())
    else {
        return false;
    };
    pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn admin_connection(server: &str) -> PgConnection {
    PgConnection::establish(&format!("{server}/postgres")).unwrap_or_else(|error| {
        panic!(
            "PostgreSQL is unreachable at {server} ({error}). Start it (.ci/run does: pg_ctlcluster ... main start) or set TENANTAPI_TEST_POSTGRES."
        )
    })
}

/// Drops throwaway databases and files whose creating process no longer runs (killed runs).
fn clean_leftovers(server: Option<&str>) {
    static FILES: Once = Once::new();
    FILES.call_once(|| {
        if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with(PREFIX) && owner_is_gone(&name) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    });
    static DATABASES: Once = Once::new();
    if let Some(server) = server {
        DATABASES.call_once(|| {
            #[derive(diesel::QueryableByName)]
            struct Database {
                #[diesel(sql_type = diesel::sql_types::Text)]
                datname: String,
            }
            let mut admin = admin_connection(server);
            let databases: Vec<Database> = diesel::sql_query(format!(
                "SELECT datname::text FROM pg_database WHERE datname LIKE '{PREFIX}%'"
            ))
            .load(&mut admin)
            .unwrap_or_default();
            for database in databases
                .into_iter()
                .filter(|database| owner_is_gone(&database.datname))
            {
                let _ = admin.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    database.datname
                ));
            }
        });
    }
}

enum Cleanup {
    Files(PathBuf),
    Postgres { server: String, name: String },
}

fn remove_sqlite_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// A project database with the generated structure and its version row.
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    /// The generated API whose structure it holds (its PostgreSQL schema, tables, DDL).
    pub api: &'static GeneratedApi,
    cleanup: Cleanup,
}

impl TestDatabase {
    /// A database with the structure of `schema/project.toml`.
    pub fn new(backend: Backend) -> TestDatabase {
        TestDatabase::with_structure(&tenantapi_generated::API, backend)
    }

    /// A database created from `api`'s DDL, with its version row.
    pub fn with_structure(api: &'static GeneratedApi, backend: Backend) -> TestDatabase {
        let database = TestDatabase::empty_for(api, backend);
        database.execute(match backend {
            Backend::Sqlite => api.sqlite_ddl,
            Backend::Postgres => api.postgres_ddl,
        });
        database.execute(api.insert_version_sql);
        database
    }

    pub fn sqlite() -> TestDatabase {
        TestDatabase::new(Backend::Sqlite)
    }

    /// Fails with a clear message when the server is unreachable: tests never skip.
    pub fn postgres() -> TestDatabase {
        TestDatabase::new(Backend::Postgres)
    }

    /// A database with nothing in it (the platform database starts so).
    pub fn empty(backend: Backend) -> TestDatabase {
        TestDatabase::empty_for(&tenantapi_generated::API, backend)
    }

    /// An empty database that `api` will serve: the test creates its structure (as a foreign
    /// system would, with its own SQL).
    pub fn empty_for(api: &'static GeneratedApi, backend: Backend) -> TestDatabase {
        let name = unique_name();
        match backend {
            Backend::Sqlite => {
                clean_leftovers(None);
                let path = std::env::temp_dir().join(format!("{name}.db"));
                TestDatabase {
                    url: path.display().to_string(),
                    backend,
                    api,
                    cleanup: Cleanup::Files(path),
                }
            }
            Backend::Postgres => {
                let server = postgres_server_url();
                clean_leftovers(Some(&server));
                admin_connection(&server)
                    .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                    .expect("create test database");
                TestDatabase {
                    url: format!("{server}/{name}"),
                    backend,
                    api,
                    cleanup: Cleanup::Postgres { server, name },
                }
            }
        }
    }

    /// A connection as the server makes it (on PostgreSQL, the API's schema first on the path).
    pub fn connect(&self) -> DbConnection {
        DbConnection::open(self.api.project_url(&self.url).secret()).expect("open test database")
    }

    /// Runs SQL against this database.
    pub fn execute(&self, sql: &str) {
        self.connect()
            .batch_execute(sql)
            .unwrap_or_else(|error| panic!("SQL failed: {error}\n{sql}"));
    }

    /// Migrates this database as the system that owns the structure does: `ddl` (any
    /// statements, possibly none) and the new `version` record in one transaction, so that a
    /// server reading it meets either the old structure and version or the new ones.
    pub fn migrate(&self, ddl: &str, version: &str) {
        self.execute(&self.migration_sql(ddl, version));
    }

    /// The SQL [`TestDatabase::migrate`] runs, for a test that runs it elsewhere (on a thread
    /// of its own, beside requests): `ddl` and the version record in one transaction.
    pub fn migration_sql(&self, ddl: &str, version: &str) -> String {
        use tenantapi_schema::sql::{quote_identifier, quote_literal};
        format!(
            "BEGIN; {ddl}\nUPDATE {} SET {} = {}; COMMIT;",
            quote_identifier(self.api.version_table),
            quote_identifier(self.api.version_column),
            quote_literal(version)
        )
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Files(path) => remove_sqlite_files(path),
            Cleanup::Postgres { server, name } => {
                if let Ok(mut admin) = PgConnection::establish(&format!("{server}/postgres")) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
                }
            }
        }
    }
}

/// A throwaway SQLite platform database, migrated.
pub struct TestPlatform {
    pub url: String,
    path: PathBuf,
}

impl TestPlatform {
    pub fn new() -> TestPlatform {
        clean_leftovers(None);
        let path = std::env::temp_dir().join(format!("{}_platform.db", unique_name()));
        let url = path.display().to_string();
        tenantapi_server::platform::open_and_migrate(&url).expect("platform database");
        TestPlatform { url, path }
    }

    pub fn connect(&self) -> DbConnection {
        DbConnection::open(&self.url).expect("open platform database")
    }

    /// Creates a user (superuser or not) and returns a new token of theirs.
    pub fn user_with_token(&self, name: &str, superuser: bool) -> String {
        let mut connection = self.connect();
        tenantapi_server::accounts::add_user(&mut connection, name, superuser, None)
            .expect("add user");
        tenantapi_server::accounts::create_token(&mut connection, name, "test", None)
            .expect("create token")
    }
}

impl Default for TestPlatform {
    fn default() -> Self {
        TestPlatform::new()
    }
}

impl Drop for TestPlatform {
    fn drop(&mut self) {
        remove_sqlite_files(&self.path);
    }
}
