//! Aggregate reads (`/{table}/aggregate/`): the statement for one page of groups, each result
//! read by what it is (a group's value as rows serve it, a count, an exact sum...), and the
//! exact sum of decimals SQLite lacks.

use diesel::connection::LoadConnection as _;
use diesel::deserialize::{self, FromSql};
use diesel::row::{Field as _, Row as _};
use diesel::sqlite::SqliteAggregateFunction;

use crate::connections::db::{BackendKind, DbConnection, MultiBackend, MultiRawValue};
use crate::data::decimal::ExactSum;
use crate::data::meta::{ColumnKind, ColumnMeta, TableMeta};
use crate::data::sql::positional::Returning;
use crate::data::sql::{SqlFilter, SqlStatement};
use crate::data::values::{AnyScaleDecimal, Timestamptz, Uuid, sql_types};

pub use tenantapi_schema::api_rules::AVERAGE_DECIMAL_SCALE;

/// One value of each group's object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// A `group_by` field: the group's value, as rows serve it.
    Group(&'static ColumnMeta),
    /// `count=`: the group's rows.
    Rows,
    /// `count=field`: the group's non-null values of the field.
    Count(&'static ColumnMeta),
    /// `count=distinct:field`: its distinct non-null values.
    CountDistinct(&'static ColumnMeta),
    Sum(&'static ColumnMeta),
    Avg(&'static ColumnMeta),
    Min(&'static ColumnMeta),
    Max(&'static ColumnMeta),
}

impl Measure {
    /// Selected as two values (a sum and a count), divided here: an average of a `numeric`
    /// column, which stays exact.
    fn is_decimal_average(self) -> bool {
        matches!(self, Measure::Avg(column) if matches!(column.kind, ColumnKind::Numeric { .. }))
    }
}

/// A value of each group's object, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedMeasure {
    pub name: String,
    pub measure: Measure,
}

/// An aggregate request over one table, as SQL.
#[derive(Debug, Clone)]
pub struct AggregateQuery {
    pub table: &'static TableMeta,
    pub backend: BackendKind,
    /// The `group_by` fields first, in their order, then what is computed per group.
    pub measures: Vec<NamedMeasure>,
    pub filter: SqlFilter,
    /// Indices into `measures`, with `true` for descending: the groups' order, completed by
    /// every group field so that pages never overlap.
    pub order: Vec<(usize, bool)>,
}

/// A page of groups: how many groups there are in all (`None`: the page is empty), and each
/// group's object as JSON text.
pub struct GroupPage {
    pub groups: Option<i64>,
    pub objects: Vec<String>,
}

impl AggregateQuery {
    fn groups(&self) -> impl Iterator<Item = &'static ColumnMeta> + '_ {
        self.measures
            .iter()
            .filter_map(|named| match named.measure {
                Measure::Group(column) => Some(column),
                _ => None,
            })
    }

    /// `SELECT results[, COUNT(*) OVER ()] FROM table WHERE filter GROUP BY groups ORDER BY order
    /// LIMIT limit OFFSET offset`: one page, and when `counted` the number of groups.
    fn page_statement(&self, limit: u64, offset: u64, counted: bool) -> SqlStatement {
        let mut statement = SqlStatement::new();
        statement.sql("SELECT ");
        for (index, named) in self.measures.iter().enumerate() {
            if index > 0 {
                statement.sql(", ");
            }
            self.push_result(&mut statement, named.measure);
        }
        if counted {
            statement.sql(", COUNT(*) OVER ()");
        }
        statement.sql(" FROM ");
        self.push_grouped_rows(&mut statement);
        statement.sql(" ORDER BY ");
        for (position, &(index, descending)) in self.order.iter().enumerate() {
            if position > 0 {
                statement.sql(", ");
            }
            self.push_order_value(&mut statement, index);
            statement.sql(if descending { " DESC" } else { " ASC" });
            // PostgreSQL's own placement of NULLs, spelled out so that SQLite's is the same;
            // not for a field that is never null, so that SQLite may read groups in the
            // order of an index on it (it places NULLs first).
            let never_null =
                matches!(self.measures[index].measure, Measure::Group(column) if !column.nullable);
            if !never_null {
                statement.sql(if descending {
                    " NULLS FIRST"
                } else {
                    " NULLS LAST"
                });
            }
        }
        // Numbers, not input text.
        statement.owned_sql(format!(" LIMIT {limit} OFFSET {offset}"));
        statement
    }

    /// `table WHERE filter GROUP BY groups`.
    fn push_grouped_rows(&self, statement: &mut SqlStatement) {
        statement
            .identifier(self.table.name)
            .sql(" WHERE ")
            .condition(&self.filter);
        for (position, column) in self.groups().enumerate() {
            statement.sql(if position == 0 { " GROUP BY " } else { ", " });
            statement.compared_column(self.backend, column);
        }
    }

    /// What one result selects (a decimal average: its sum, then its count).
    fn push_result(&self, statement: &mut SqlStatement, measure: Measure) {
        let backend = self.backend;
        match measure {
            Measure::Group(column) | Measure::Min(column) | Measure::Max(column) => {
                let function = match measure {
                    Measure::Min(_) => "MIN(",
                    Measure::Max(_) => "MAX(",
                    _ => "(",
                };
                statement
                    .sql(function)
                    .compared_column(backend, column)
                    .sql(")");
            }
            Measure::Rows => {
                statement.sql("COUNT(*)");
            }
            Measure::Count(column) => {
                statement.sql("COUNT(").identifier(column.name).sql(")");
            }
            Measure::CountDistinct(column) => {
                statement
                    .sql("COUNT(DISTINCT ")
                    .compared_column(backend, column)
                    .sql(")");
            }
            Measure::Sum(column) => self.push_sum(statement, column),
            Measure::Avg(column) if measure.is_decimal_average() => {
                self.push_sum(statement, column);
                statement.sql(", COUNT(").identifier(column.name).sql(")");
            }
            Measure::Avg(column) => {
                let (open, close) = match backend {
                    BackendKind::Postgres => ("CAST(AVG(", ") AS DOUBLE PRECISION)"),
                    BackendKind::Sqlite => ("AVG(", ")"),
                };
                statement.sql(open).identifier(column.name).sql(close);
            }
        }
    }

    /// An exact sum of integers or decimals (PostgreSQL's `numeric`, the function registered
    /// on SQLite), a double's of floating-point numbers.
    fn push_sum(&self, statement: &mut SqlStatement, column: &'static ColumnMeta) {
        let floating = matches!(column.kind, ColumnKind::Real | ColumnKind::Double);
        let (open, close) = match (self.backend, floating) {
            (BackendKind::Postgres, true) => ("CAST(SUM(", ") AS DOUBLE PRECISION)"),
            (BackendKind::Postgres, false) => ("CAST(SUM(", ") AS NUMERIC)"),
            (BackendKind::Sqlite, true) => ("SUM(", ")"),
            (BackendKind::Sqlite, false) => (SQLITE_DECIMAL_SUM_CALL, ")"),
        };
        statement.sql(open).identifier(column.name).sql(close);
    }

    /// What the groups are ordered by for result `index`: its position in the select list,
    /// or for a decimal average (two values there) the database's own average.
    fn push_order_value(&self, statement: &mut SqlStatement, index: usize) {
        let measure = self.measures[index].measure;
        if let Measure::Avg(column) = measure
            && measure.is_decimal_average()
        {
            statement.sql("AVG(").identifier(column.name).sql(")");
            return;
        }
        statement.owned_sql(self.select_position(index).to_string());
    }

    /// The select-list position (from 1) of result `index`'s first value.
    fn select_position(&self, index: usize) -> usize {
        1 + self.measures[..index]
            .iter()
            .map(|named| 1 + usize::from(named.measure.is_decimal_average()))
            .sum::<usize>()
    }

    /// The number of groups (for `page=last`).
    pub fn count_groups(&self, connection: &mut DbConnection) -> diesel::QueryResult<i64> {
        let mut statement = SqlStatement::new();
        statement.sql("SELECT COUNT(*) FROM (SELECT 1 AS one FROM ");
        self.push_grouped_rows(&mut statement);
        statement.sql(") AS grouped");
        let counts: Vec<i64> =
            diesel::RunQueryDsl::load(statement.returning_integer(), connection)?;
        Ok(counts.first().copied().unwrap_or(0))
    }

    /// Whether the groups are ordered by their fields alone (not by a result).
    fn ordered_by_groups(&self) -> bool {
        self.groups().next().is_some()
            && self
                .order
                .iter()
                .all(|&(index, _)| matches!(self.measures[index].measure, Measure::Group(_)))
    }

    /// Up to `limit` groups after the first `offset`, each as a JSON object, with the number of
    /// groups in all (`None` when the page is empty).
    ///
    /// Ordered by a result, every group is computed to find the page's, and the window counts
    /// them in the same statement. Ordered by the group fields, the database can stop after
    /// the page's groups (reading an index on them in order: 0.04 s instead of 0.43 s for the
    /// first 100 of 10,000 groups over 1,000,000 rows, `xtask/bench/aggregate.sh`); the groups
    /// are then counted apart, in the same snapshot, without computing their results, and only
    /// when the page does not tell their number.
    pub fn read_page(
        &self,
        connection: &mut DbConnection,
        limit: u64,
        offset: u64,
    ) -> diesel::QueryResult<GroupPage> {
        if !self.ordered_by_groups() {
            return self.read_groups(connection, limit, offset, true);
        }
        crate::connections::transaction::read_in_one_snapshot(connection, |connection| {
            let mut page = self.read_groups(connection, limit, offset, false)?;
            let read = page.objects.len() as u64;
            page.groups = match read {
                0 => None,
                read if read < limit => Some((offset + read) as i64),
                _ => Some(self.count_groups(connection)?),
            };
            Ok(page)
        })
    }

    /// The page's groups; their number too when `counted` (else `groups` is `None`).
    fn read_groups(
        &self,
        connection: &mut DbConnection,
        limit: u64,
        offset: u64,
        counted: bool,
    ) -> diesel::QueryResult<GroupPage> {
        let statement = self.page_statement(limit, offset, counted);
        if let DbConnection::Sqlite(sqlite) = connection {
            // Here rather than when the connection opens, which is the connections layer's
            // and knows nothing of decimals: registering costs microseconds a request.
            register_sqlite_functions(sqlite)?;
        }
        let mut page = GroupPage {
            groups: None,
            objects: Vec::new(),
        };
        for row in connection.load(Returning(statement))? {
            let row = row?;
            let fields: Vec<_> = (0..row.field_count())
                .map(|position| row.get(position))
                .collect();
            let value = |position: usize| {
                fields
                    .get(position)
                    .and_then(|field| field.as_ref())
                    .and_then(|field| field.value())
            };
            let mut object = String::from("{");
            let mut position = 0;
            for (index, named) in self.measures.iter().enumerate() {
                if index > 0 {
                    object.push(',');
                }
                object.push_str(&serde_json::to_string(&named.name).map_err(serialization)?);
                object.push(':');
                let json = if named.measure.is_decimal_average() {
                    position += 2;
                    decimal_average(named.measure, value(position - 2), value(position - 1))
                } else {
                    position += 1;
                    result_json(named.measure, value(position - 1))
                };
                object.push_str(&json.map_err(diesel::result::Error::DeserializationError)?);
            }
            object.push('}');
            page.objects.push(object);
            if counted {
                page.groups = Some(read::<diesel::sql_types::BigInt, i64>(value(position))?);
            }
        }
        Ok(page)
    }
}

fn serialization(error: serde_json::Error) -> diesel::result::Error {
    diesel::result::Error::SerializationError(Box::new(error))
}

fn read<ST, T>(value: Option<MultiRawValue<'_>>) -> diesel::QueryResult<T>
where
    T: FromSql<ST, MultiBackend>,
{
    let value = value.ok_or_else(|| {
        diesel::result::Error::DeserializationError(Box::new(diesel::result::UnexpectedNullError))
    })?;
    T::from_sql(value).map_err(diesel::result::Error::DeserializationError)
}

/// A value (or NULL) as the JSON text rows show such a value in.
fn json_of<ST, T>(value: Option<MultiRawValue<'_>>) -> deserialize::Result<String>
where
    T: FromSql<ST, MultiBackend> + serde::Serialize,
{
    match value {
        None => Ok("null".into()),
        Some(value) => Ok(serde_json::to_string(&T::from_sql(value)?)?),
    }
}

/// One result's JSON text.
fn result_json(measure: Measure, value: Option<MultiRawValue<'_>>) -> deserialize::Result<String> {
    match measure {
        Measure::Group(column) | Measure::Min(column) | Measure::Max(column) => {
            column_json(column, value)
        }
        Measure::Rows | Measure::Count(_) | Measure::CountDistinct(_) => {
            json_of::<diesel::sql_types::BigInt, i64>(value)
        }
        Measure::Sum(column) | Measure::Avg(column) => match column.kind {
            ColumnKind::Real | ColumnKind::Double => {
                json_of::<diesel::sql_types::Double, f64>(value)
            }
            // A sum of integers is an integer, of any size: JSON numbers have no bound.
            ColumnKind::Numeric { scale, .. } => decimal_json(value, scale as usize, true),
            _ => decimal_json(value, 0, false),
        },
    }
}

/// An exact decimal result at `scale`: a string like the rows' decimals (`quoted`), or the
/// integer's digits.
fn decimal_json(
    value: Option<MultiRawValue<'_>>,
    scale: usize,
    quoted: bool,
) -> deserialize::Result<String> {
    let Some(value) = value else {
        return Ok("null".into());
    };
    let text =
        match <AnyScaleDecimal as FromSql<sql_types::PortableNumeric, MultiBackend>>::from_sql(
            value,
        )?
        .0
        {
            Some(digits) => digits.to_scale(scale),
            // As rows show PostgreSQL's NaN.
            None => return Ok("\"NaN\"".into()),
        };
    Ok(if quoted { format!("\"{text}\"") } else { text })
}

/// The average of a `numeric` column from its exact sum and its count.
fn decimal_average(
    measure: Measure,
    sum: Option<MultiRawValue<'_>>,
    count: Option<MultiRawValue<'_>>,
) -> deserialize::Result<String> {
    let (Measure::Avg(column), Some(sum), Some(count)) = (measure, sum, count) else {
        return Ok("null".into());
    };
    let ColumnKind::Numeric { scale, .. } = column.kind else {
        unreachable!("only numeric columns have decimal averages")
    };
    let count = <i64 as FromSql<diesel::sql_types::BigInt, MultiBackend>>::from_sql(count)?;
    let sum =
        <AnyScaleDecimal as FromSql<sql_types::PortableNumeric, MultiBackend>>::from_sql(sum)?;
    match (sum.0, u64::try_from(count)) {
        (Some(sum), Ok(count)) if count > 0 => Ok(format!(
            "\"{}\"",
            sum.divided_by(count, scale.max(AVERAGE_DECIMAL_SCALE) as usize)
        )),
        (None, _) => Ok("\"NaN\"".into()),
        _ => Ok("null".into()),
    }
}

/// A column's value (a group's, an extreme) as JSON text, read as rows read that column.
fn column_json(
    column: &'static ColumnMeta,
    value: Option<MultiRawValue<'_>>,
) -> deserialize::Result<String> {
    use sql_types::*;
    match column.kind {
        ColumnKind::SmallInt => json_of::<PortableSmallInt, i16>(value),
        ColumnKind::Integer => json_of::<PortableInteger, i32>(value),
        ColumnKind::BigInt => json_of::<PortableBigInt, i64>(value),
        ColumnKind::Boolean => json_of::<PortableBool, bool>(value),
        ColumnKind::Real => json_of::<PortableFloat, f32>(value),
        ColumnKind::Double => json_of::<PortableDouble, f64>(value),
        ColumnKind::Numeric { scale, .. } => decimal_json(value, scale as usize, true),
        ColumnKind::Text
        | ColumnKind::Varchar { .. }
        | ColumnKind::Char { .. }
        | ColumnKind::Citext
        | ColumnKind::Enum => json_of::<PortableText, String>(value),
        ColumnKind::Date => json_of::<PortableDate, chrono::NaiveDate>(value),
        ColumnKind::Time => json_of::<PortableTime, chrono::NaiveTime>(value),
        ColumnKind::Timestamp => json_of::<PortableTimestamp, chrono::NaiveDateTime>(value),
        ColumnKind::Timestamptz => json_of::<PortableTimestamptz, Timestamptz>(value),
        ColumnKind::Uuid => json_of::<PortableUuid, Uuid>(value),
        ColumnKind::Json | ColumnKind::Bytes => {
            Err(format!("BUG: {} is neither groupable nor has extremes", column.name).into())
        }
    }
}

/// The SQLite function [`DecimalSum`] is registered as, with its opening parenthesis.
const SQLITE_DECIMAL_SUM_CALL: &str = "tenantapi_decimal_sum(";

/// Registers the functions aggregates call on an SQLite connection (again: the same function).
fn register_sqlite_functions(connection: &mut diesel::SqliteConnection) -> diesel::QueryResult<()> {
    use diesel::sql_types::{Nullable, Text};
    connection
        .register_aggregate_function::<(Nullable<sql_types::PortableNumeric>,), Nullable<Text>, _, _, DecimalSum>(
            SQLITE_DECIMAL_SUM_CALL.trim_end_matches('('),
        )
}

/// `tenantapi_decimal_sum(x)`: the exact sum of integers or decimals, as text; NULL when every
/// value is NULL (as `SUM`). Each value is read as a `numeric` column's value is (a REAL to the
/// 15 significant digits SQLite keeps exact); one that is no number fails the statement, as it
/// would fail a read of its row.
#[derive(Debug, Default)]
struct DecimalSum {
    sum: ExactSum,
    any: bool,
}

impl SqliteAggregateFunction<(Option<AnyScaleDecimal>,)> for DecimalSum {
    type Output = Option<String>;

    fn step(&mut self, (value,): (Option<AnyScaleDecimal>,)) {
        if let Some(AnyScaleDecimal(Some(digits))) = value {
            self.any = true;
            self.sum.add(&digits);
        }
    }

    fn finalize(aggregator: Option<Self>) -> Option<String> {
        let aggregator = aggregator.filter(|aggregator| aggregator.any)?;
        let total = aggregator.sum.total();
        Some(total.to_scale(total.fraction.len()))
    }
}
