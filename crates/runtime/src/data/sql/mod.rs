//! SQL fragments built at run time from validated input: WHERE filters and ORDER BY lists
//! that generated queries accept in place of typed diesel expressions.
//!
//! Identifiers come only from generated table metadata and are quoted by the backend;
//! every value is a bind parameter.

use diesel::sql_types;

use crate::connections::db::BackendKind;
use crate::data::meta::{ColumnKind, ColumnMeta, TableMeta};
use crate::data::values::{Decimal, Json, Timestamptz, Uuid};

mod expr;
pub mod positional;
mod value;

pub use value::SqlValue;

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
            SqlValue::List(items) => {
                Bind::Plain(SqlValue::Text(SqlValue::List(items).to_json().to_string()))
            }
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
        for c in item.to_text().chars() {
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
                sqlite: Some(SqlValue::List(items).to_json().to_string()),
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

/// The builder methods that filters and statements share: both are lists of pieces.
macro_rules! piece_builders {
    () => {
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

        /// The column's value as filters compare it and aggregates group it. A SQLite boolean
        /// column may hold the text other applications wrote (`'t'`, `'TRUE'`, `'0'`), which
        /// reads serve as `true` or `false` (`stored.rs`): taken as the 0 or 1 it is served
        /// as, so that `?is_active=true` finds every row the list shows as `true`, and one
        /// group holds them. (No index on the column helps then; on a boolean, rarely one.)
        pub fn compared_column(
            &mut self,
            backend: BackendKind,
            column: &'static ColumnMeta,
        ) -> &mut Self {
            if backend != BackendKind::Sqlite || column.kind != ColumnKind::Boolean || column.array
            {
                return self.identifier(column.name);
            }
            self.sql("(CASE WHEN typeof(")
                .identifier(column.name)
                .sql(") = 'text' THEN CASE lower(")
                .identifier(column.name)
                .sql(
                    ") WHEN 't' THEN 1 WHEN 'true' THEN 1 WHEN '1' THEN 1 \
                     WHEN 'f' THEN 0 WHEN 'false' THEN 0 WHEN '0' THEN 0 END ELSE ",
                )
                .identifier(column.name)
                .sql(" END)")
        }

        /// SQL text made at run time from trusted parts (numbers, fixed words), never input.
        pub fn owned_sql(&mut self, sql: String) -> &mut Self {
            self.pieces.push(Piece::OwnedSql(sql));
            self
        }
    };
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

    piece_builders!();

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

    /// Whether a statement holding this condition may be kept prepared (its text does not
    /// vary with the request's values, as an `__in` list's does).
    pub fn may_be_kept_prepared(&self) -> bool {
        !self.uncacheable
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
/// `diesel::RunQueryDsl::execute`. Statements vary with their data, so none is kept prepared
/// unless its builder bounds how many texts it makes ([`SqlStatement::keep_prepared`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlStatement {
    pieces: Vec<Piece>,
    keep_prepared: bool,
}

impl SqlStatement {
    pub fn new() -> SqlStatement {
        SqlStatement::default()
    }

    piece_builders!();

    /// Lets diesel keep this statement prepared on the connection, keyed by its text: for a
    /// builder that makes few distinct texts (`write::guarded`, which bounds them per table),
    /// so that PostgreSQL parses and plans each once per connection instead of every time.
    pub fn keep_prepared(&mut self) -> &mut Self {
        self.keep_prepared = true;
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

/// A statement whose result rows are one text each (`EXPLAIN`'s lines).
#[derive(Debug, Clone, PartialEq)]
pub struct TextQuery(SqlStatement);

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
