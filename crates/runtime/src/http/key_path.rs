//! The `{pk}` segment of a row's URL: a key filter parsed from it, and written from a row.

use crate::data::convert;
use crate::data::meta::TableMeta;
use crate::data::sql::SqlFilter;
use crate::http::error::ApiError;

/// Parses the `{pk}` path segment: the key value, or for a composite key the values in key
/// order separated by commas (`/data_point_tag/3,7/`); a comma inside a value is `%2C`.
/// A malformed key is a missing row (404), as in DRF.
pub fn parse_primary_key(meta: &TableMeta, segment: &str) -> Result<SqlFilter, ApiError> {
    let parts: Vec<&str> = if meta.primary_key.len() == 1 {
        vec![segment]
    } else {
        segment.split(',').collect()
    };
    if parts.len() != meta.primary_key.len() {
        return Err(ApiError::NotFound);
    }
    let mut filter = SqlFilter::all();
    for (column, part) in meta.primary_key_columns().zip(parts) {
        let decoded = percent_decode(part).ok_or(ApiError::NotFound)?;
        let value = convert::parse_column_text(column, &decoded).map_err(|_| ApiError::NotFound)?;
        filter.equals(column, value);
    }
    Ok(filter)
}

/// The `{pk}` path segment of a row, the inverse of [`parse_primary_key`].
pub fn primary_key_segment(meta: &TableMeta, row: &serde_json::Value) -> Option<String> {
    let parts: Option<Vec<String>> = meta
        .primary_key_columns()
        .map(|column| {
            let value = row.get(column.name)?;
            let text = match value {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            Some(percent_encode_segment(&text))
        })
        .collect();
    parts.map(|parts| parts.join(","))
}

/// A key segment decoded strictly: a `%` not followed by two hex digits, or bytes that are not
/// UTF-8, name no row (the crate's own decoder would keep a stray `%` as it is).
fn percent_decode(text: &str) -> Option<String> {
    let well_formed = text.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// What a key value keeps unescaped in a URL: unreserved characters, and `:` and `+` (times).
const KEY_SEGMENT_KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':')
    .remove(b'+');

fn percent_encode_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, KEY_SEGMENT_KEPT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::meta::{ColumnKind, ColumnMeta};
    use crate::data::sql::SqlValue;

    const META: TableMeta = TableMeta {
        primary_key: &[0, 1],
        ..TableMeta::plain(
            "pair",
            &[
                ColumnMeta::plain("a", ColumnKind::Integer),
                ColumnMeta::plain("b", ColumnKind::Text),
            ],
        )
    };

    #[test]
    fn composite_keys_split_on_commas_and_decode() {
        let filter = parse_primary_key(&META, "7,a%2Cb").unwrap();
        let mut expected = SqlFilter::all();
        expected
            .begin_condition()
            .identifier("a")
            .sql(" = ")
            .bind(SqlValue::Integer(7));
        expected
            .begin_condition()
            .identifier("b")
            .sql(" = ")
            .bind(SqlValue::Text("a,b".into()));
        assert_eq!(filter, expected);
        assert!(matches!(
            parse_primary_key(&META, "7"),
            Err(ApiError::NotFound)
        ));
        assert!(matches!(
            parse_primary_key(&META, "x,y"),
            Err(ApiError::NotFound)
        ));
        let row = serde_json::json!({"a": 7, "b": "a,b"});
        assert_eq!(primary_key_segment(&META, &row).as_deref(), Some("7,a%2Cb"));
    }

    #[test]
    fn malformed_escapes_and_non_utf8_keys_name_no_row() {
        for segment in ["7,a%2", "7,a%zz", "7,%", "7,%FF"] {
            assert!(
                matches!(parse_primary_key(&META, segment), Err(ApiError::NotFound)),
                "{segment}"
            );
        }
        assert!(parse_primary_key(&META, "7,%C3%9F%3A").is_ok());
        let row = serde_json::json!({"a": 7, "b": "Straße 1/2 10:00+01"});
        assert_eq!(
            primary_key_segment(&META, &row).as_deref(),
            Some("7,Stra%C3%9Fe%201%2F2%2010:00+01")
        );
    }
}
