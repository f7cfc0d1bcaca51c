//! SQL fragments built at run time from validated input: WHERE filters and ORDER BY lists
//! that generated queries accept in place of typed diesel expressions.
//!
//! Identifiers come only from generated table metadata and are quoted by the backend;
//! every value is a bind parameter.

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types;

use crate::convert;
use crate::db::MultiBackend;
use crate::meta::{ColumnKind, ColumnMeta, TableMeta};
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
    /// A list column's items (never null: the API refuses null items).
    List(Vec<SqlValue>),
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
            // Lists are bound through `Piece::bind_for`, which knows the column's type; as a
            // plain bind a list is its JSON text.
            SqlValue::List(items) => Bind::Plain(SqlValue::Text(
                convert::to_json(&SqlValue::List(items)).to_string(),
            )),
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
    /// A value bound as text that PostgreSQL must cast to the column's type, which it does not
    /// do implicitly from a text parameter (enumerations, arrays, `citext` and `bpchar`, whose
    /// comparisons differ from text's); SQLite stores all of them as text.
    CastText {
        postgres: String,
        /// The SQLite text when it differs (a list: JSON instead of an array literal).
        sqlite: Option<String>,
        cast: PgType,
    },
}

/// A PostgreSQL type to cast a text bind to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PgType {
    name: &'static str,
    /// A user-defined name (an enumeration or a live type): quoted as an identifier.
    named: bool,
    array: bool,
}

impl PgType {
    /// The type of `column`'s values (of its items, for a list), if binds need a cast.
    fn of(column: &ColumnMeta) -> Option<PgType> {
        let (name, named) = match (column.enum_type, column.database_type, column.kind) {
            (Some(named), _, _) => (named.name, true),
            // Written verbatim (`tsvector`, `numeric(10,2)[]`): it is the description's text.
            (None, Some(live), _) => (live, false),
            (None, None, ColumnKind::Citext) => ("citext", false),
            (None, None, ColumnKind::Char { .. }) => ("bpchar", false),
            (None, None, kind) if column.array => (postgres_scalar_type(kind), false),
            _ => return None,
        };
        Some(PgType {
            name,
            named,
            array: column.array,
        })
    }
}

/// PostgreSQL's name of a kind's type, for array casts.
fn postgres_scalar_type(kind: ColumnKind) -> &'static str {
    match kind {
        ColumnKind::SmallInt => "int2",
        ColumnKind::Integer => "int4",
        ColumnKind::BigInt => "int8",
        ColumnKind::Boolean => "bool",
        ColumnKind::Real => "float4",
        ColumnKind::Double => "float8",
        ColumnKind::Numeric { .. } => "numeric",
        ColumnKind::Text | ColumnKind::Enum => "text",
        ColumnKind::Varchar { .. } => "varchar",
        ColumnKind::Char { .. } => "bpchar",
        ColumnKind::Citext => "citext",
        ColumnKind::Date => "date",
        ColumnKind::Time => "time",
        ColumnKind::Timestamp => "timestamp",
        ColumnKind::Timestamptz => "timestamptz",
        ColumnKind::Uuid => "uuid",
        ColumnKind::Json => "jsonb",
        ColumnKind::Bytes => "bytea",
    }
}

/// A list as a PostgreSQL array literal: `{"a","b \"c\""}`, every item quoted.
fn postgres_array_literal(items: &[SqlValue]) -> String {
    let mut literal = String::from("{");
    for (position, item) in items.iter().enumerate() {
        if position > 0 {
            literal.push(',');
        }
        literal.push('"');
        for c in convert::to_text(item).chars() {
            if c == '"' || c == '\\' {
                literal.push('\\');
            }
            literal.push(c);
        }
        literal.push('"');
    }
    literal.push('}');
    literal
}

impl Piece {
    /// A bind for a value of `column`.
    fn bind_for(column: &ColumnMeta, value: SqlValue) -> Piece {
        let Some(cast) = PgType::of(column) else {
            return Piece::Bind(value.into());
        };
        match value {
            SqlValue::List(items) => Piece::CastText {
                postgres: postgres_array_literal(&items),
                sqlite: Some(convert::to_json(&SqlValue::List(items)).to_string()),
                cast,
            },
            SqlValue::Text(text) => Piece::CastText {
                postgres: text,
                sqlite: None,
                cast,
            },
            other => Piece::Bind(other.into()),
        }
    }
}

/// Whether a backend casts text binds to the column's type (PostgreSQL).
trait CastsText {
    fn casts_text(&self) -> bool;
}

impl CastsText for MultiBackend {
    fn casts_text(&self) -> bool {
        matches!(self, MultiBackend::Pg(_))
    }
}

impl CastsText for diesel::pg::Pg {
    fn casts_text(&self) -> bool {
        true
    }
}

impl CastsText for diesel::sqlite::Sqlite {
    fn casts_text(&self) -> bool {
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

    /// Adds the condition `column = value`.
    pub fn equals(&mut self, column: &ColumnMeta, value: SqlValue) -> &mut Self {
        self.begin_condition()
            .identifier(column.name)
            .sql(" = ")
            .bind_for(column, value)
    }

    /// Appends `other`'s condition as SQL, for a subquery's `WHERE` (one condition that
    /// matches every row when `other` has none).
    pub fn append(&mut self, other: SqlFilter) -> &mut Self {
        if other.pieces.is_empty() {
            self.pieces.push(Piece::Sql("1 = 1"));
        } else {
            self.pieces.extend(other.pieces);
        }
        self.uncacheable |= other.uncacheable;
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

    /// This statement as a query that yields one text per row.
    pub fn returning_text(self) -> TextQuery {
        TextQuery(self)
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

/// A statement whose result rows are one text each (`EXPLAIN`'s lines).
#[derive(Debug, Clone, PartialEq)]
pub struct TextQuery(SqlStatement);

impl diesel::query_builder::Query for TextQuery {
    type SqlType = sql_types::Text;
}

impl QueryId for TextQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> diesel::RunQueryDsl<Conn> for TextQuery {}

impl QueryId for SqlStatement {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> diesel::RunQueryDsl<Conn> for SqlStatement {}

/// An ORDER BY list, with the window of rows to return (`LIMIT ... OFFSET ...`).
///
/// The window is written as literal numbers, not binds: PostgreSQL plans a statement whose
/// LIMIT is a parameter anew on every execution (it never settles on a generic plan), which
/// cost a third of its CPU under GET by id. A first page keeps one text per page size and is
/// cached; deeper pages would make one statement per offset and are not.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlOrder {
    terms: Vec<(&'static str, bool)>,
    /// `(limit, offset)`; `None`: every row.
    window: Option<(u64, u64)>,
}

impl SqlOrder {
    /// `terms` are column names with `true` for descending; never empty, so that pages are stable.
    pub fn new(terms: Vec<(&'static str, bool)>) -> SqlOrder {
        assert!(
            !terms.is_empty(),
            "an ORDER BY list needs at least one column"
        );
        SqlOrder {
            terms,
            window: None,
        }
    }

    /// The columns, with `true` for descending.
    pub fn terms(&self) -> &[(&'static str, bool)] {
        &self.terms
    }

    /// The same columns in the opposite direction (to read backwards from a cursor).
    pub fn reversed(mut self) -> SqlOrder {
        for (_, descending) in &mut self.terms {
            *descending = !*descending;
        }
        self
    }

    /// A text that differs between any two orders (column names may hold any character).
    pub fn signature(&self) -> String {
        serde_json::to_string(&self.terms).expect("names and flags serialize")
    }

    /// Only `limit` rows after the first `offset`.
    pub fn window(mut self, limit: u64, offset: u64) -> SqlOrder {
        self.window = Some((limit, offset));
        self
    }

    /// `requested` (or, when empty, the table's own `ordering`), completed so that the order
    /// is total: by the primary key, or without one by every orderable column. Pages then never
    /// overlap or skip rows.
    pub fn completed(meta: &TableMeta, requested: Vec<(&'static str, bool)>) -> SqlOrder {
        let mut terms = if requested.is_empty() {
            meta.ordering.to_vec()
        } else {
            requested
        };
        let tie_breakers: Vec<&'static str> = if meta.has_primary_key() {
            meta.primary_key_columns()
                .map(|column| column.name)
                .collect()
        } else {
            meta.ordering
                .iter()
                .map(|(name, _)| *name)
                .chain(
                    meta.columns
                        .iter()
                        .filter(|column| column.is_orderable() && column.kind.is_ordered())
                        .map(|column| column.name),
                )
                .collect()
        };
        for name in tie_breakers {
            if !terms.iter().any(|(existing, _)| *existing == name) {
                terms.push((name, false));
            }
        }
        if terms.is_empty() {
            terms.push((meta.columns[0].name, false));
        }
        SqlOrder::new(terms)
    }

    /// By the primary key, ascending, one row: how a single row is looked up.
    pub fn by_primary_key(meta: &TableMeta) -> SqlOrder {
        SqlOrder::new(
            meta.primary_key_columns()
                .map(|column| (column.name, false))
                .collect(),
        )
        .window(1, 0)
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
                        Piece::CastText { postgres, sqlite, cast } => {
                            if pass.backend().casts_text() {
                                pass.push_sql("CAST(");
                                pass.push_bind_param::<sql_types::Text, _>(postgres)?;
                                pass.push_sql(" AS ");
                                if cast.named {
                                    pass.push_identifier(cast.name)?;
                                } else {
                                    pass.push_sql(cast.name);
                                }
                                pass.push_sql(if cast.array { "[])" } else { ")" });
                            } else {
                                pass.push_bind_param::<sql_types::Text, _>(sqlite.as_ref().unwrap_or(postgres))?;
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

        impl QueryFragment<$backend> for TextQuery {
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
                if let Some((limit, offset)) = self.window {
                    if offset > 0 {
                        pass.unsafe_to_cache_prepared();
                    }
                    // Numbers, not input text: nothing to quote.
                    pass.push_sql(&format!(" LIMIT {limit} OFFSET {offset}"));
                }
                Ok(())
            }
        }

        impl QueryFragment<$backend> for TotalCount {
            fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, $backend>) -> diesel::QueryResult<()> {
                pass.push_sql("(SELECT COUNT(*) FROM ");
                pass.push_identifier(self.table)?;
                pass.push_sql(" WHERE ");
                self.filter.walk_ast(pass.reborrow())?;
                pass.push_sql(")");
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

/// `(SELECT COUNT(*) FROM table WHERE filter)`: the number of rows a list's filter matches,
/// selected beside each row of the page, so that a page and its count are one statement (one
/// round trip) instead of two.
#[derive(Debug, Clone)]
pub struct TotalCount {
    table: &'static str,
    filter: SqlFilter,
}

impl TotalCount {
    pub fn of(table: &'static str, filter: SqlFilter) -> TotalCount {
        TotalCount { table, filter }
    }
}

impl Expression for TotalCount {
    type SqlType = sql_types::BigInt;
}

impl<QuerySource> AppearsOnTable<QuerySource> for TotalCount {}

impl<QuerySource> diesel::expression::SelectableExpression<QuerySource> for TotalCount {}

impl<GroupBy> ValidGrouping<GroupBy> for TotalCount {
    type IsAggregate = is_aggregate::Never;
}

impl QueryId for TotalCount {
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

/// `CAST(column AS TEXT)`: how a column of a type the description cannot express (`tsvector`)
/// is selected, as the database's text form. `ST` is `Text` or `Nullable<Text>`.
#[derive(Debug, Clone, Copy)]
pub struct TextForm<ST = sql_types::Text> {
    column: &'static str,
    sql_type: std::marker::PhantomData<ST>,
}

impl<ST> TextForm<ST> {
    pub const fn of(column: &'static str) -> TextForm<ST> {
        TextForm {
            column,
            sql_type: std::marker::PhantomData,
        }
    }
}

impl<ST: sql_types::SqlType + diesel::expression::TypedExpressionType> Expression for TextForm<ST> {
    type SqlType = ST;
}

impl<ST, QuerySource> AppearsOnTable<QuerySource> for TextForm<ST> where TextForm<ST>: Expression {}

impl<ST, QuerySource> diesel::expression::SelectableExpression<QuerySource> for TextForm<ST> where
    TextForm<ST>: Expression
{
}

impl<ST, GroupBy> ValidGrouping<GroupBy> for TextForm<ST> {
    type IsAggregate = is_aggregate::Never;
}

impl<ST> QueryId for TextForm<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST> QueryFragment<MultiBackend> for TextForm<ST> {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, MultiBackend>) -> diesel::QueryResult<()> {
        pass.push_sql("CAST(");
        pass.push_identifier(self.column)?;
        pass.push_sql(" AS TEXT)");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_literals_quote_every_item() {
        let items = vec![
            SqlValue::Text("plain".into()),
            SqlValue::Text("with \"quotes\" and \\ backslash".into()),
            SqlValue::Text("a,b {c}".into()),
            SqlValue::Text(String::new()),
        ];
        assert_eq!(
            postgres_array_literal(&items),
            r#"{"plain","with \"quotes\" and \\ backslash","a,b {c}",""}"#
        );
        assert_eq!(postgres_array_literal(&[]), "{}");
        assert_eq!(
            postgres_array_literal(&[SqlValue::Integer(1), SqlValue::Boolean(false)]),
            r#"{"1","false"}"#
        );
    }
}
