//! The rules the API's server and its OpenAPI document share, each with one owner here: the
//! runtime enforces them, the document states them, and neither can drift from the other.
//! (The lookups and the reserved query parameters live in [`crate::model`] for the same
//! reason.) Settings an operator may change have their defaults here; the server writes the
//! configured values into the document when it starts.

use crate::model::{ColumnKind, ColumnShape};

/// Rows per page unless a request says otherwise (`api.default_page_size`).
pub const DEFAULT_PAGE_SIZE: u64 = 100;

/// The largest `page_size` a request may ask for (`api.max_page_size`).
pub const DEFAULT_MAX_PAGE_SIZE: u64 = 1000;

/// The most items one bulk create may carry (`api.max_bulk_items`).
pub const DEFAULT_MAX_BULK_ITEMS: usize = 1000;

/// The largest request body, in bytes (`api.max_body_bytes`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The most rows one read may produce, its page's and its expansions' counted as often as the
/// answer holds them (`api.max_read_rows`): a full page (100 rows) with one reverse relation
/// at its full [`MAX_REVERSE_ROWS`] per row and a forward relation of each of those rows
/// (100 + 10,000 + 10,000), with room to spare.
pub const DEFAULT_MAX_READ_ROWS: usize = 25_000;

/// Rows a reverse relation (`{table}_set`) lists per row at most: the first ones by primary key.
pub const MAX_REVERSE_ROWS: usize = 100;

/// Longest value of a text lookup (`__contains`, `__startswith`...), in characters. SQLite
/// refuses LIKE and GLOB patterns over 50,000 bytes; escaped (GLOB triples `*`, `?` and `[`)
/// and in UTF-8 (up to 4 bytes a character), 12,000 characters always fit. Both backends share
/// the limit so that the API does not depend on the backend.
pub const MAX_PATTERN_CHARACTERS: usize = 12_000;

/// Items an `__in` lookup may list.
pub const MAX_IN_ITEMS: usize = 1000;

/// Terms one `?search=` may hold: each is a condition over every search field.
pub const MAX_SEARCH_TERMS: usize = 10;

/// Longest search term, in characters: a term is a pattern like a text lookup's, and the
/// terms together stay within a request line.
pub const MAX_SEARCH_TERM_CHARACTERS: usize = 200;

/// Under this planner estimate `count=estimated` counts exactly: at most this many rows are
/// counted, which costs a few milliseconds, and small counts are where clients notice errors.
pub const EXACT_COUNT_BELOW: i64 = 10_000;

/// How a numbered page reports the rows matching its filters (`?count=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountMode {
    /// DRF's `count`: every matching row counted (the default).
    Exact,
    /// PostgreSQL's planner estimate when it is large, an exact count below
    /// [`EXACT_COUNT_BELOW`]; exact on SQLite, which keeps no estimate.
    Estimated,
    /// No count (`"count": null`); `next` comes from reading one row past the page.
    None,
}

impl CountMode {
    pub const ALL: [CountMode; 3] = [CountMode::Exact, CountMode::Estimated, CountMode::None];
    pub const DEFAULT: CountMode = CountMode::Exact;

    /// The value of `?count=` that asks for this mode.
    pub fn name(self) -> &'static str {
        match self {
            CountMode::Exact => "exact",
            CountMode::Estimated => "estimated",
            CountMode::None => "none",
        }
    }

    pub fn parse(name: &str) -> Option<CountMode> {
        CountMode::ALL.into_iter().find(|mode| mode.name() == name)
    }
}

/// Query parameters of `/{table}/aggregate/` besides the list's: a column with one of these
/// names is filtered there with `name__exact=`.
pub const AGGREGATE_PARAMETERS: &[&str] = &["group_by", "count", "sum", "avg", "min", "max"];

/// Fields one aggregate request may group by.
pub const MAX_GROUP_BY_FIELDS: usize = 8;

/// Values (counts, sums, averages, extremes) one aggregate request may compute per group.
pub const MAX_AGGREGATES: usize = 32;

/// Fraction digits of the average of a `numeric` column (at least; more when the column's
/// scale is larger): PostgreSQL's own `avg` shows 16 for values below 10,000.
pub const AVERAGE_DECIMAL_SCALE: u32 = 16;

/// What `/{table}/aggregate/` computes per group, each named by its query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `count=`: rows (`count=` or `count=*`), non-null values (`count=field`) or distinct
    /// non-null values (`count=distinct:field`).
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

impl Aggregate {
    pub const ALL: [Aggregate; 5] = [
        Aggregate::Count,
        Aggregate::Sum,
        Aggregate::Avg,
        Aggregate::Min,
        Aggregate::Max,
    ];

    /// The query parameter that asks for it, also the suffix of its results' names.
    pub fn parameter(self) -> &'static str {
        match self {
            Aggregate::Count => "count",
            Aggregate::Sum => "sum",
            Aggregate::Avg => "avg",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
        }
    }

    /// Whether it applies to a column of this shape: counts to every column, sums and averages
    /// to numbers, extremes to numbers, text, dates and times (enumerations, whose order
    /// differs between the backends, UUIDs and booleans have none in PostgreSQL).
    pub fn applies_to(self, shape: ColumnShape) -> bool {
        if shape.array || shape.text_form {
            return self == Aggregate::Count;
        }
        match self {
            Aggregate::Count => true,
            Aggregate::Sum | Aggregate::Avg => shape.kind.is_number(),
            Aggregate::Min | Aggregate::Max => {
                shape.kind.is_number()
                    || shape.kind.is_textual()
                    || matches!(
                        shape.kind,
                        ColumnKind::Date
                            | ColumnKind::Time
                            | ColumnKind::Timestamp
                            | ColumnKind::Timestamptz
                    )
            }
        }
    }

    /// The name of its result for `field`, as Django names an aggregate's (`value__sum`);
    /// `distinct` counts are `field__count_distinct`.
    pub fn result_name(self, field: &str, distinct: bool) -> String {
        if distinct {
            format!("{field}__count_distinct")
        } else {
            format!("{field}__{}", self.parameter())
        }
    }
}

/// Whether `?group_by=` may name a column of this shape, and `count=distinct:` count it: the
/// columns a list may order by, single values that compare for equality.
pub fn is_groupable(shape: ColumnShape) -> bool {
    shape.is_orderable()
}

/// The name a table that references another becomes a relation of that other table by
/// (`{child}_set`, as Django names it), if it does: when it references the table through
/// exactly one foreign key (with several, which one would be ambiguous) and has a primary key
/// (the child rows listed per row are bounded by it). Forward relations are named by
/// [`crate::names::relation_name`].
pub fn reverse_relation_name(
    child: &str,
    keys_referencing: usize,
    child_has_primary_key: bool,
) -> Option<String> {
    (keys_referencing == 1 && child_has_primary_key).then(|| format!("{child}_set"))
}

// The defaults agree with each other, checked when the crate compiles: the read bound holds a
// full page with a reverse relation at its full size and a forward relation of each child.
const _: () =
    assert!(DEFAULT_PAGE_SIZE as usize * (1 + 2 * MAX_REVERSE_ROWS) <= DEFAULT_MAX_READ_ROWS);
const _: () = assert!(DEFAULT_PAGE_SIZE <= DEFAULT_MAX_PAGE_SIZE);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_modes_round_trip_through_their_names() {
        for mode in CountMode::ALL {
            assert_eq!(CountMode::parse(mode.name()), Some(mode));
        }
        assert_eq!(CountMode::parse("Exact"), None);
        assert_eq!(CountMode::DEFAULT.name(), "exact");
    }

    #[test]
    fn a_child_is_a_reverse_relation_only_through_one_key_and_with_a_primary_key() {
        assert_eq!(
            reverse_relation_name("reading", 1, true).as_deref(),
            Some("reading_set")
        );
        assert_eq!(reverse_relation_name("transfer", 2, true), None);
        assert_eq!(reverse_relation_name("audit_log", 1, false), None);
        assert_eq!(reverse_relation_name("site", 0, true), None);
    }
}
