//! Tests of parsing list requests: unknown fields named, filter values, paging, count modes,
//! cursor ordering, and pattern escaping.

use super::*;
use crate::data::meta::ColumnMeta;

const COLUMNS: &[ColumnMeta] = &[
    ColumnMeta::plain("a", ColumnKind::Integer),
    ColumnMeta::plain("b", ColumnKind::Text),
    ColumnMeta {
        nullable: true,
        ..ColumnMeta::plain("doc", ColumnKind::Json)
    },
];
const META: TableMeta = TableMeta {
    primary_key: &[0, 1],
    ..TableMeta::plain("pair", COLUMNS)
};

fn parse(query: &str) -> Result<ListRequest, ApiError> {
    parse_list_request(&META, BackendKind::Postgres, query, PageSettings::default())
}

#[test]
fn unknown_filters_and_lookups_are_named_in_the_error() {
    let Err(ApiError::BadRequest(message)) = parse("colour=red&a__contains=1&b__regex=x") else {
        panic!()
    };
    assert!(
        message.starts_with("Unknown filter parameter(s): a__contains, b__regex, colour."),
        "{message}"
    );
}

#[test]
fn unknown_ordering_fields_are_rejected() {
    let Err(ApiError::BadRequest(message)) = parse("ordering=-a,zzz") else {
        panic!()
    };
    assert!(
        message.starts_with("Unknown ordering field(s): zzz."),
        "{message}"
    );
}

#[test]
fn bad_filter_values_are_field_errors() {
    let Err(ApiError::Validation(errors)) = parse("a__gt=x&doc__isnull=perhaps") else {
        panic!()
    };
    assert_eq!(
        errors.messages("a__gt"),
        Some(&[convert::INVALID_INTEGER.to_string()][..])
    );
    assert_eq!(
        errors.messages("doc__isnull"),
        Some(&[convert::INVALID_BOOLEAN.to_string()][..])
    );
}

#[test]
fn paging_parameters_follow_drf() {
    let numbered = |page, count| Paging::Numbered { page, count };
    let request = parse("page=2&page_size=5000").unwrap();
    assert_eq!(
        (request.paging, request.page_size),
        (numbered(PageNumber::Number(2), CountMode::Exact), 1000)
    );
    assert_eq!(parse("page_size=abc").unwrap().page_size, 100);
    assert_eq!(
        parse("page=last").unwrap().paging,
        numbered(PageNumber::Last, CountMode::Exact)
    );
    assert!(matches!(parse("page=0"), Err(ApiError::InvalidPage)));
    assert!(matches!(parse("page=x"), Err(ApiError::InvalidPage)));
}

#[test]
fn count_modes_are_named_or_rejected() {
    assert_eq!(
        parse("count=estimated&page=3").unwrap().paging,
        Paging::Numbered {
            page: PageNumber::Number(3),
            count: CountMode::Estimated
        }
    );
    assert_eq!(
        parse("count=none").unwrap().paging,
        Paging::Numbered {
            page: PageNumber::Number(1),
            count: CountMode::None
        }
    );
    let Err(ApiError::BadRequest(message)) = parse("count=fast") else {
        panic!()
    };
    assert!(
        message.starts_with("Unknown count mode \"fast\"."),
        "{message}"
    );
    let Err(ApiError::BadRequest(message)) = parse("count=none&page=last") else {
        panic!()
    };
    assert!(message.starts_with("page=last needs a count"), "{message}");
}

#[test]
fn cursor_paging_excludes_page_numbers_and_needs_non_null_ordering() {
    assert_eq!(
        parse("cursor=").unwrap().paging,
        Paging::Cursor(String::new())
    );
    assert!(matches!(
        parse("cursor=&page=2"),
        Err(ApiError::BadRequest(_))
    ));
    assert!(matches!(
        parse("cursor=&count=none"),
        Err(ApiError::BadRequest(_))
    ));
    assert!(parse("cursor=&ordering=-b").is_ok());
}

#[test]
fn a_column_named_like_a_parameter_is_filtered_with_exact() {
    // `count` is a parameter; `count__exact` the column's filter.
    assert_eq!(Lookup::Exact.parameter("count"), "count__exact");
    assert_eq!(Lookup::Exact.parameter("a"), "a");
    assert!(parse("a__exact=1").is_ok());
}

#[test]
fn like_patterns_escape_wildcards() {
    assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
    assert_eq!(escape_glob("a*b?[c]"), "a[*]b[?][[]c]");
}

/// Regression: a text filter's statement was kept prepared, and PostgreSQL's generic plan of
/// `LIKE $1` read the whole table where a trigram index served the pattern (2.4 req/s against
/// 1,634 on 1,000,000 rows, `xtask/bench/search.sh`).
#[test]
fn pattern_filters_are_planned_for_their_pattern_not_kept_prepared() {
    for query in [
        "b__icontains=x",
        "b__contains=x",
        "b__startswith=x",
        "b__endswith=x",
    ] {
        let request = parse(query).unwrap();
        assert!(!request.filter.may_be_kept_prepared(), "{query}");
    }
    let exact = parse("b=x&a__gte=1").unwrap();
    assert!(
        exact.filter.may_be_kept_prepared(),
        "other filters stay prepared"
    );
}
