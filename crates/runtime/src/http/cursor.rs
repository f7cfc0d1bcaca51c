//! Cursor pagination, as DRF's `CursorPagination`: `?cursor=` pages through a total order by
//! position ("after this row"), so that any page costs what the first costs, and rows
//! inserted or deleted meanwhile never shift a page. Cursors are opaque to clients and signed:
//! one changed by hand, or made for another ordering, answers DRF's 404 `Invalid cursor`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use serde_json::Value;

use crate::data::convert;
use crate::data::meta::TableMeta;
use crate::data::sql::{SqlFilter, SqlOrder};
use crate::http::error::ApiError;

/// The secret cursors are signed with. Servers that share a platform database share it, so a
/// cursor made by one is valid on every other (see the server's platform module).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CursorKey(pub [u8; 32]);

impl CursorKey {
    /// A key of this process alone: its cursors are invalid on other processes and after a
    /// restart. Servers use the platform database's shared key instead.
    pub fn random() -> CursorKey {
        let mut key = [0; 32];
        getrandom::fill(&mut key).expect("the operating system's random source failed");
        CursorKey(key)
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

/// Bytes of HMAC-SHA-256 kept in a cursor: 128 bits, beyond guessing.
const SIGNATURE_BYTES: usize = 16;

/// A position in a list's order and the direction to read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// `true`: the rows before the position (a `previous` link), else the rows after it.
    pub reverse: bool,
    /// The values of the order's columns in the row at the position, as the API serves them.
    pub position: Vec<Value>,
}

impl Cursor {
    /// The cursor text: the payload and its signature, both base64url. The payload names the
    /// order it belongs to, so that a cursor is only valid with the ordering it was made for.
    pub fn encode(&self, key: &CursorKey, order: &SqlOrder) -> String {
        let payload = serde_json::json!({
            "o": order.signature(),
            "r": self.reverse,
            "p": self.position,
        });
        let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
        let signature = URL_SAFE_NO_PAD.encode(sign(key, &payload));
        format!("{payload}.{signature}")
    }

    /// Reads a cursor made by [`Cursor::encode`] for `order`; anything else is `Invalid cursor`.
    pub fn decode(text: &str, key: &CursorKey, order: &SqlOrder) -> Result<Cursor, ApiError> {
        let (payload, signature) = text.split_once('.').ok_or(ApiError::InvalidCursor)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| ApiError::InvalidCursor)?;
        let mut mac = mac(key);
        mac.update(payload.as_bytes());
        mac.verify_truncated_left(&signature)
            .map_err(|_| ApiError::InvalidCursor)?;
        if signature.len() != SIGNATURE_BYTES {
            return Err(ApiError::InvalidCursor);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| ApiError::InvalidCursor)?;
        let payload: Value =
            serde_json::from_slice(&payload).map_err(|_| ApiError::InvalidCursor)?;
        let (Some(made_for), Some(reverse), Some(position)) = (
            payload["o"].as_str(),
            payload["r"].as_bool(),
            payload["p"].as_array(),
        ) else {
            return Err(ApiError::InvalidCursor);
        };
        if made_for != order.signature() || position.len() != order.terms().len() {
            return Err(ApiError::InvalidCursor);
        }
        Ok(Cursor {
            reverse,
            position: position.clone(),
        })
    }

    /// The position of `row` (a JSON object as served) in `order`.
    pub fn position_of(order: &SqlOrder, row: &Value) -> Vec<Value> {
        order
            .terms()
            .iter()
            .map(|(name, _)| row.get(*name).cloned().unwrap_or(Value::Null))
            .collect()
    }

    /// Adds to `filter` the condition "after the position" (before it when reversed) in
    /// `order`: for terms a, b, c, `a > x OR (a = x AND (b > y OR (b = y AND c > z)))`, with `<`
    /// for descending terms. Every term is a non-null column (checked when the request was
    /// parsed), so SQL's comparisons agree with the ORDER BY on both backends.
    pub fn restrict(
        &self,
        meta: &TableMeta,
        order: &SqlOrder,
        filter: &mut SqlFilter,
    ) -> Result<(), ApiError> {
        let mut values = Vec::with_capacity(self.position.len());
        for ((name, descending), value) in order.terms().iter().zip(&self.position) {
            let column = meta.column(name).ok_or(ApiError::InvalidCursor)?;
            if value.is_null() {
                return Err(ApiError::InvalidCursor);
            }
            let value =
                convert::parse_column_json(column, value).map_err(|_| ApiError::InvalidCursor)?;
            let after = *descending == self.reverse;
            values.push((column, after, value));
        }
        filter.begin_condition();
        let last = values.len() - 1;
        for (position, (column, after, value)) in values.iter().enumerate() {
            filter
                .sql("(")
                .identifier(column.name)
                .sql(if *after { " > " } else { " < " })
                .bind_for(column, value.clone());
            if position < last {
                filter
                    .sql(" OR (")
                    .identifier(column.name)
                    .sql(" = ")
                    .bind_for(column, value.clone())
                    .sql(" AND ");
            }
        }
        for position in 0..values.len() {
            filter.sql(if position < last { "))" } else { ")" });
        }
        Ok(())
    }
}

fn mac(key: &CursorKey) -> hmac::Hmac<sha2::Sha256> {
    <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&key.0)
        .expect("HMAC takes keys of any length")
}

fn sign(key: &CursorKey, payload: &str) -> Vec<u8> {
    let mut mac = mac(key);
    mac.update(payload.as_bytes());
    mac.finalize().into_bytes()[..SIGNATURE_BYTES].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: CursorKey = CursorKey([7; 32]);

    fn order() -> SqlOrder {
        SqlOrder::new(vec![("name", true), ("id", false)])
    }

    #[test]
    fn a_cursor_reads_back() {
        let cursor = Cursor {
            reverse: true,
            position: vec![Value::from("b"), Value::from(42)],
        };
        let text = cursor.encode(&KEY, &order());
        assert!(!text.contains('='), "URL-safe without padding: {text}");
        assert_eq!(Cursor::decode(&text, &KEY, &order()).unwrap(), cursor);
    }

    #[test]
    fn a_changed_cursor_is_invalid() {
        let cursor = Cursor {
            reverse: false,
            position: vec![Value::from("b"), Value::from(42)],
        };
        let text = cursor.encode(&KEY, &order());
        let (payload, signature) = text.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"o": order().signature(), "r": false, "p": ["b", 1]}).to_string(),
        );
        for forged in [
            format!("{forged_payload}.{signature}"),
            format!("{payload}.{}", URL_SAFE_NO_PAD.encode([0u8; 16])),
            format!("{payload}.{}", &signature[..8]),
            payload.to_string(),
            "not a cursor".to_string(),
            String::new(),
        ] {
            assert!(
                matches!(
                    Cursor::decode(&forged, &KEY, &order()),
                    Err(ApiError::InvalidCursor)
                ),
                "{forged}"
            );
        }
        assert!(matches!(
            Cursor::decode(&text, &CursorKey([8; 32]), &order()),
            Err(ApiError::InvalidCursor)
        ));
    }

    #[test]
    fn a_cursor_belongs_to_its_ordering() {
        let cursor = Cursor {
            reverse: false,
            position: vec![Value::from("b"), Value::from(42)],
        };
        let text = cursor.encode(&KEY, &order());
        let other = SqlOrder::new(vec![("name", false), ("id", false)]);
        assert!(matches!(
            Cursor::decode(&text, &KEY, &other),
            Err(ApiError::InvalidCursor)
        ));
    }
}
