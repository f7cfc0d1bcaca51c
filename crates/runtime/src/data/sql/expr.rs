//! The diesel side of run-time SQL: how filters, orders, statements and expressions walk their
//! pieces into a query on each backend, and the expression traits that let generated queries
//! take them in place of typed diesel expressions.

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types;

use super::{
    Bind, IntegerQuery, Piece, SqlFilter, SqlOrder, SqlStatement, SqlValue, TextForm, TextQuery,
    TotalCount,
};
use crate::connections::db::MultiBackend;

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

impl diesel::query_builder::Query for IntegerQuery {
    type SqlType = sql_types::BigInt;
}

impl QueryId for IntegerQuery {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Conn> diesel::RunQueryDsl<Conn> for IntegerQuery {}

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
                            Bind::Numeric(v) => pass.push_bind_param::<crate::data::values::sql_types::PortableNumeric, _>(v)?,
                            Bind::Timestamptz(v) => pass.push_bind_param::<crate::data::values::sql_types::PortableTimestamptz, _>(v)?,
                            Bind::Uuid(v) => pass.push_bind_param::<crate::data::values::sql_types::PortableUuid, _>(v)?,
                            Bind::Json(v) => pass.push_bind_param::<crate::data::values::sql_types::PortableJson, _>(v)?,
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
                if !self.keep_prepared {
                    pass.unsafe_to_cache_prepared();
                }
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
