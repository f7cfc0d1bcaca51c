//! Throwaway project databases for the integration tests: SQLite files and PostgreSQL
//! databases created from the generated DDL, removed when dropped.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use tenantapi_runtime::db::DbConnection;

/// Where the PostgreSQL tests connect: `TENANTAPI_TEST_POSTGRES`, by default the CI machine's server.
pub fn postgres_server_url() -> String {
    std::env::var("TENANTAPI_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

static SEQUENCE: AtomicU32 = AtomicU32::new(0);

fn unique_suffix() -> String {
    format!(
        "{}_{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// A project database holding the generated structure and its version row.
pub struct TestDatabase {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { server: String, name: String },
}

impl TestDatabase {
    pub fn sqlite() -> TestDatabase {
        let path = std::env::temp_dir().join(format!("tenantapi_test_{}.db", unique_suffix()));
        let url = path.display().to_string();
        let database = TestDatabase {
            url,
            cleanup: Cleanup::File(path),
        };
        database.create_structure(tenantapi_generated::ddl::SQLITE);
        database
    }

    /// Fails with a clear message when the server is unreachable: these tests never skip.
    pub fn postgres() -> TestDatabase {
        let server = postgres_server_url();
        let name = format!("tenantapi_test_{}", unique_suffix());
        let mut admin = PgConnection::establish(&format!("{server}/postgres")).unwrap_or_else(|error| {
            panic!(
                "PostgreSQL is unreachable at {server} ({error}). Start it (.ci/run does: pg_ctlcluster ... main start) or set TENANTAPI_TEST_POSTGRES."
            )
        });
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .expect("create test database");
        let database = TestDatabase {
            url: format!("{server}/{name}"),
            cleanup: Cleanup::Postgres { server, name },
        };
        database.create_structure(tenantapi_generated::ddl::POSTGRES);
        database
    }

    fn create_structure(&self, ddl: &str) {
        let mut connection = self.connect();
        connection
            .batch_execute(ddl)
            .expect("generated DDL applies");
        connection
            .batch_execute(tenantapi_generated::INSERT_VERSION_SQL)
            .expect("version row");
    }

    pub fn connect(&self) -> DbConnection {
        DbConnection::open(&self.url).expect("open test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Postgres { server, name } => {
                if let Ok(mut admin) = PgConnection::establish(&format!("{server}/postgres")) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
                }
            }
        }
    }
}

/// Which engine holds the project databases of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl TestDatabase {
    pub fn new(backend: Backend) -> TestDatabase {
        match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres(),
        }
    }

    /// Runs SQL (fixtures) against this database.
    pub fn execute(&self, sql: &str) {
        self.connect()
            .batch_execute(sql)
            .unwrap_or_else(|error| panic!("fixture SQL failed: {error}\n{sql}"));
    }
}

/// A throwaway SQLite platform database.
pub struct TestPlatform {
    pub url: String,
    path: std::path::PathBuf,
}

impl TestPlatform {
    pub fn new() -> TestPlatform {
        let path = std::env::temp_dir().join(format!("tenantapi_platform_{}.db", unique_suffix()));
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
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}
