//! SQL fragments built at run time from validated input: WHERE filters and ORDER BY lists
//! that generated queries accept in place of typed diesel expressions.
//!
//! Identifiers come only from generated table metadata and are quoted by the backend;
//! every value is a bind parameter.

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types;

use crate::db::MultiBackend;
use crate::meta::{ColumnMeta, TableMeta};
use crate::values::{Decimal, Json, Timestamptz, Uuid};

/// A value bound to a filter or key lookup, typed by its column's kind.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    SmallInt(i16),
    Integer(i32),
    BigInt(i64),
    Boolean(bool),
    Real(f32),
    Double(f64),
    /// Exact decimal text, validated.
    Numeric(String),
    Text(String),
    Date(chrono::NaiveDate),
    Time(chrono::NaiveTime),
    Timestamp(chrono::NaiveDateTime),
    Timestamptz(chrono::DateTime<chrono::Utc>),
    Uuid(uuid::Uuid),
    Json(serde_json::Value),
    Bytes(Vec<u8>),
}

/// Owned bind forms of the values whose SQL type needs a wrapper.
#[derive(Debug, Clone, PartialEq)]
enum Bind {
    Plain(SqlValue),
    Numeric(Decimal<0>),
    Timestamptz(Timestamptz),
    Uuid(Uuid),
    Json(Json),
}

impl From<SqlValue> for Bind {
    fn from(value: SqlValue) -> Bind {
        match value {
            SqlValue::Numeric(text) => Bind::Numeric(Decimal(text)),
            SqlValue::Timestamptz(instant) => Bind::Timestamptz(Timestamptz(instant)),
            SqlValue::Uuid(uuid) => Bind::Uuid(Uuid(uuid)),
            SqlValue::Json(value) => Bind::Json(Json(value)),
            other => Bind::Plain(other),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Sql(&'static str),
    OwnedSql(String),
    Identifier(&'static str),
    Bind(Bind),
    /// A value of a named enumeration: bound as text, cast to the type on PostgreSQL (which
    /// has no implicit cast from text to an enum; SQLite stores enums as text).
    EnumBind(String, &'static str),
}

impl Piece {
    /// A bind for a value of `column`.
    fn bind_for(column: &ColumnMeta, value: SqlValue) -> Piece {
        match (column.enum_type, value) {
            (Some(named), SqlValue::Text(text)) => Piece::EnumBind(text, named.name),
            (_, value) => Piece::Bind(value.into()),
        }
    }
}

/// Whether a backend needs enum binds cast to their type.
trait CastsEnums {
    fn casts_enums(&self) -> bool;
}

impl CastsEnums for MultiBackend {
    fn casts_enums(&self) -> bool {
        matches!(self, MultiBackend::Pg(_))
    }
}

impl CastsEnums for diesel::pg::Pg {
    fn casts_enums(&self) -> bool {
        true
    }
}

impl CastsEnums for diesel::sqlite::Sqlite {
    fn casts_enums(&self) -> bool {
        false
    }
}

/// A boolean SQL condition; several conditions are joined with AND.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlFilter {
    pieces: Vec<Piece>,
    conditions: usize,
    /// Lists of varying length make distinct statements: do not fill the statement cache.
    uncacheable: bool,
}

impl SqlFilter {
    /// A filter that matches every row.
    pub fn all() -> SqlFilter {
        SqlFilter::default()
    }

    /// Starts a new condition ANDed with the previous ones.
    pub fn begin_condition(&mut self) -> &mut Self {
        if self.conditions > 0 {
            self.pieces.push(Piece::Sql(" AND "));
        }
        self.conditions += 1;
        self
    }

    pub fn sql(&mut self, sql: &'static str) -> &mut Self {
        self.pieces.push(Piece::Sql(sql));
        self
    }

    pub fn owned_sql(&mut self, sql: String) -> &mut Self {
        self.pieces.push(Piece::OwnedSql(sql));
        self
    }

    pub fn identifier(&mut self, name: &'static str) -> &mut Self {
        self.pieces.push(Piece::Identifier(name));
        self
    }

    pub fn bind(&mut self, value: SqlValue) -> &mut Self {
        self.pieces.push(Piece::Bind(value.into()));
        self
    }

    /// Binds a value of `column` (an enum value is cast to its type where needed).
    pub fn bind_for(&mut self, column: &ColumnMeta, value: SqlValue) -> &mut Self {
        self.pieces.push(Piece::bind_for(column, value));
        self
    }

    pub fn mark_uncacheable(&mut self) -> &mut Self {
        self.uncacheable = true;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.conditions == 0
    }
}

/// A whole statement built from pieces (fixture inserts, maintenance statements); run it with
/// `diesel::RunQueryDsl::execute`. Statements vary with their data, so none is cached.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlStatement {
    pieces: Vec<Piece>,
}

impl SqlStatement {
    pub fn new() -> SqlStatement {
        SqlStatement::default()
    }

    pub fn sql(&mut self, sql: &'static str) -> &mut Self {
        self.pieces.push(Piece::Sql(sql));
        self
    }

    pub fn identifier(&mut self, name: &'static str) -> &mut Self {
        self.pieces.push(Piece::Identifier(name));
        self
    }

    pub fn bind(&mut self, value: SqlValue) -> &mut Self {
        self.pieces.push(Piece::Bind(value.into()));
        self
    }

    /// Binds a value of `column` (an enum value is cast to its type where needed).
    pub fn bind_for(&mut self, column: &ColumnMeta, value: SqlValue) -> &mut Self {
        self.pieces.push(Piece::bind_for(column, value));
        self
    }

    /// Appends a filter's condition (for `UPDATE ... WHERE` and `DELETE ... WHERE`).
    pub fn condition(&mut self, filter: &SqlFilter) -> &mut Self {
        if filter.pieces.is_empty() {
            self.pieces.push(Piece::Sql("1 = 1"));
        } else {
            self.pieces.push(Piece::Sql("("));
            self.pieces.extend(filter.pieces.iter().cloned());
            self.pieces.push(Piece::Sql(")"));
        }
        self
    }

    /// This statement as a query that yields one BIGINT per row: for `... RETURNING CAST(key AS BIGINT)`.
    pub fn returning_integer(self) -> IntegerQuery {
        IntegerQuery(self)
    }
}

/// A statement whose result rows are one BIGINT each.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegerQuery(SqlStatement);

impl diesel::query_builder::Query for IntegerQuery {
    type SqlType = sql_types::BigInt;
}

impl QueryId for IntegerQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> diesel::RunQueryDsl<Conn> for IntegerQuery {}

impl QueryId for SqlStatement {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> diesel::RunQueryDsl<Conn> for SqlStatement {}

/// An ORDER BY list.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlOrder {
    terms: Vec<(&'static str, bool)>,
}

impl SqlOrder {
    /// `terms` are column names with `true` for descending; never empty, so that pages are stable.
    pub fn new(terms: Vec<(&'static str, bool)>) -> SqlOrder {
        assert!(
            !terms.is_empty(),
            "an ORDER BY list needs at least one column"
        );
        SqlOrder { terms }
    }

    /// By the primary key, ascending: how a single row is looked up.
    pub fn by_primary_key(meta: &TableMeta) -> SqlOrder {
        SqlOrder::new(
            meta.primary_key_columns()
                .map(|column| (column.name, false))
                .collect(),
        )
    }
}

/// Walks a list of pieces on one backend: SQL text, quoted identifiers, typed binds.
trait WalkPieces<DB: diesel::backend::Backend> {
    fn walk_pieces<'b>(&'b self, pass: &mut AstPass<'_, 'b, DB>) -> diesel::QueryResult<()>;
}

macro_rules! fragment_for_backend {
    ($backend:ty) => {
        impl WalkPieces<$backend> for [Piece] {
            fn walk_pieces<'b>(&'b self, pass: &mut AstPass<'_, 'b, $backend>) -> diesel::QueryResult<()> {
                for piece in self {
                    match piece {
                        Piece::Sql(sql) => pass.push_sql(sql),
                        Piece::OwnedSql(sql) => pass.push_sql(sql),
                        Piece::Identifier(name) => pass.push_identifier(name)?,
                        Piece::Bind(bind) => match bind {
                            Bind::Plain(SqlValue::SmallInt(v)) => pass.push_bind_param::<sql_types::SmallInt, _>(v)?,
                            Bind::Plain(SqlValue::Integer(v)) => pass.push_bind_param::<sql_types::Integer, _>(v)?,
                            Bind::Plain(SqlValue::BigInt(v)) => pass.push_bind_param::<sql_types::BigInt, _>(v)?,
                            Bind::Plain(SqlValue::Boolean(v)) => pass.push_bind_param::<sql_types::Bool, _>(v)?,
                            Bind::Plain(SqlValue::Real(v)) => pass.push_bind_param::<sql_types::Float, _>(v)?,
                            Bind::Plain(SqlValue::Double(v)) => pass.push_bind_param::<sql_types::Double, _>(v)?,
                            Bind::Plain(SqlValue::Text(v)) => pass.push_bind_param::<sql_types::Text, _>(v)?,
                            Bind::Plain(SqlValue::Date(v)) => pass.push_bind_param::<sql_types::Date, _>(v)?,
                            Bind::Plain(SqlValue::Time(v)) => pass.push_bind_param::<sql_types::Time, _>(v)?,
                            Bind::Plain(SqlValue::Timestamp(v)) => pass.push_bind_param::<sql_types::Timestamp, _>(v)?,
                            Bind::Plain(SqlValue::Bytes(v)) => pass.push_bind_param::<sql_types::Binary, _>(v)?,
                            Bind::Numeric(v) => pass.push_bind_param::<crate::values::sql_types::PortableNumeric, _>(v)?,
                            Bind::Timestamptz(v) => pass.push_bind_param::<crate::values::sql_types::PortableTimestamptz, _>(v)?,
                            Bind::Uuid(v) => pass.push_bind_param::<crate::values::sql_types::PortableUuid, _>(v)?,
                            Bind::Json(v) => pass.push_bind_param::<crate::values::sql_types::PortableJson, _>(v)?,
                            Bind::Plain(other) => unreachable!("{other:?} is converted to a typed bind"),
                        },
                        Piece::EnumBind(value, type_name) => {
                            if pass.backend().casts_enums() {
                                pass.push_sql("CAST(");
                                pass.push_bind_param::<sql_types::Text, _>(value)?;
                                pass.push_sql(" AS ");
                                pass.push_identifier(type_name)?;
                                pass.push_sql(")");
                            } else {
                                pass.push_bind_param::<sql_types::Text, _>(value)?;
                            }
                        }
                    }
                }
                Ok(())
            }
        }

        impl QueryFragment<$backend> for SqlFilter {
            fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, $backend>) -> diesel::QueryResult<()> {
                if self.uncacheable {
                    pass.unsafe_to_cache_prepared();
                }
                if self.pieces.is_empty() {
                    pass.push_sql("1 = 1");
                    return Ok(());
                }
                pass.push_sql("(");
                self.pieces.walk_pieces(&mut pass)?;
                pass.push_sql(")");
                Ok(())
            }
        }

        impl QueryFragment<$backend> for IntegerQuery {
            fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, $backend>) -> diesel::QueryResult<()> {
                self.0.walk_ast(pass)
            }
        }

        impl QueryFragment<$backend> for SqlStatement {
            fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, $backend>) -> diesel::QueryResult<()> {
                pass.unsafe_to_cache_prepared();
                self.pieces.walk_pieces(&mut pass)
            }
        }
        impl QueryFragment<$backend> for SqlOrder {
            fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, $backend>) -> diesel::QueryResult<()> {
                for (position, (name, descending)) in self.terms.iter().enumerate() {
                    if position > 0 {
                        pass.push_sql(", ");
                    }
                    pass.push_identifier(name)?;
                    pass.push_sql(if *descending { " DESC" } else { " ASC" });
                }
                Ok(())
            }
        }
    };
}

fragment_for_backend!(MultiBackend);
fragment_for_backend!(diesel::pg::Pg);
fragment_for_backend!(diesel::sqlite::Sqlite);

impl Expression for SqlFilter {
    type SqlType = sql_types::Bool;
}

impl<QuerySource> AppearsOnTable<QuerySource> for SqlFilter {}

impl<GroupBy> ValidGrouping<GroupBy> for SqlFilter {
    type IsAggregate = is_aggregate::Never;
}

impl QueryId for SqlFilter {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Expression for SqlOrder {
    type SqlType = sql_types::Untyped;
}

impl<QuerySource> AppearsOnTable<QuerySource> for SqlOrder {}

impl<GroupBy> ValidGrouping<GroupBy> for SqlOrder {
    type IsAggregate = is_aggregate::Never;
}

impl QueryId for SqlOrder {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}
