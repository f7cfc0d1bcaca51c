//! What a generated crate hands the server: the structure versions it serves, each with its
//! tables, DDL and OpenAPI document. The server is written against this, not against one
//! generated crate, so that any description compiles into a serving binary.

use crate::connections::database_url::DatabaseUrl;
use crate::connections::version::StructureVersion;
use crate::data::meta::TableMeta;
use crate::data::table_ops::TableOps;

/// One structure version's API: the generated crate's `API` static is the newest version's,
/// and lists the older versions it also serves in `previous`.
pub struct GeneratedApi {
    /// Structure version the code was generated for; a project database must record it.
    pub schema_version: &'static str,
    /// Table and column where a project database records its structure version.
    pub version_table: &'static str,
    pub version_column: &'static str,
    /// Reads the recorded version as a column named `version` (one row expected).
    pub select_version_sql: &'static str,
    /// Records the version in a database created from the DDL.
    pub insert_version_sql: &'static str,
    /// The PostgreSQL schemas of the tables, in search path order (empty: all in `public`).
    pub postgres_search_path: &'static [&'static str],
    /// Every table, in description order: its metadata and its operations, one descriptor
    /// each (routes, expansions, fixture dumps and the server's checks all read this list).
    pub tables: &'static [&'static TableOps],
    /// The older versions served beside this one (`schema/previous/`, in file name order):
    /// on the newest version's API only, empty on theirs.
    pub previous: &'static [&'static GeneratedApi],
    /// Creates the structure on PostgreSQL and on SQLite (test databases, demos, the kit).
    pub postgres_ddl: &'static str,
    pub sqlite_ddl: &'static str,
    /// The OpenAPI 3.1 document, as generated (the server adjusts its configurable parts).
    pub openapi_json: &'static str,
}

impl std::fmt::Debug for GeneratedApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedApi")
            .field("schema_version", &self.schema_version)
            .field("tables", &self.tables.len())
            .field(
                "previous",
                &self
                    .previous
                    .iter()
                    .map(|api| api.schema_version)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl GeneratedApi {
    /// Every version this build serves: this one (the newest) first, then `previous`.
    pub fn versions(&'static self) -> impl Iterator<Item = &'static GeneratedApi> {
        std::iter::once(self).chain(self.previous.iter().copied())
    }

    /// The API of a served version, if `version` is one.
    pub fn at_version(&'static self, version: &str) -> Option<&'static GeneratedApi> {
        self.versions().find(|api| api.schema_version == version)
    }

    /// The served versions as messages name them: `"2024.07.1", "2024.04.0"`.
    pub fn served_versions_text(&'static self) -> String {
        self.versions()
            .map(|api| format!("{:?}", api.schema_version))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The version this API serves and how to read it.
    pub fn served_version(&self) -> StructureVersion {
        StructureVersion {
            expected: self.schema_version,
            select_sql: self.select_version_sql,
        }
    }

    /// A project database's URL as this API connects to it: on PostgreSQL with the described
    /// schemas on the search path.
    pub fn project_url(&self, url: &str) -> DatabaseUrl {
        DatabaseUrl::new(url).with_search_path(self.postgres_search_path)
    }

    pub fn table(&self, name: &str) -> Option<&'static TableMeta> {
        self.table_metas().find(|table| table.name == name)
    }

    /// Every table's metadata, in description order.
    pub fn table_metas(&self) -> impl Iterator<Item = &'static TableMeta> + '_ {
        self.tables.iter().map(|table| table.meta)
    }
}
