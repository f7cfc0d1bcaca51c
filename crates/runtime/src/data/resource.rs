//! The trait generated code implements once per table: its metadata and its typed diesel reads.

use crate::connections::db::DbConnection;
use crate::data::meta::TableMeta;
use crate::data::sql::{SqlFilter, SqlOrder};

/// One table as the runtime sees it: its metadata and its diesel queries.
///
/// Generated code implements this once per table, with nothing but the typed diesel calls;
/// everything that is the same for every table (parsing, validation, paging, errors) is in
/// this crate and reaches the database only through these functions.
pub trait Resource: 'static {
    const META: &'static TableMeta;
    /// The read model, serialized as a response row; read by position from a statement that
    /// selects (or returns) `META`'s columns in order (`sql::positional`).
    type Row: serde::Serialize
        + diesel::deserialize::QueryableByName<crate::connections::db::MultiBackend>
        + Send
        + 'static;

    fn count(connection: &mut DbConnection, filter: SqlFilter) -> diesel::QueryResult<i64>;

    /// The rows matching `filter`, in `order` and within its window.
    fn load(
        connection: &mut DbConnection,
        filter: SqlFilter,
        order: SqlOrder,
    ) -> diesel::QueryResult<Vec<Self::Row>>;

    /// Like `load`, each row with the number of rows `filter` matches in all (one statement).
    fn load_counted(
        connection: &mut DbConnection,
        filter: SqlFilter,
        order: SqlOrder,
    ) -> diesel::QueryResult<Vec<(Self::Row, i64)>>;

    /// The row matching `filter` (a primary key filter), if any.
    fn load_one(
        connection: &mut DbConnection,
        filter: SqlFilter,
    ) -> diesel::QueryResult<Option<Self::Row>> {
        Ok(
            Self::load(connection, filter, SqlOrder::by_primary_key(Self::META))?
                .into_iter()
                .next(),
        )
    }
}
