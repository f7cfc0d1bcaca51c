//! Conditional requests (RFC 9110 §13): the ETag of a row (strong, from its JSON as served)
//! and of a list page (weak), `If-None-Match` on reads (304) and `If-Match` on writes (412).

use actix_web::http::header::{self, HeaderName};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::http::error::ApiError;

/// A strong ETag of a representation: the first 128 bits of its SHA-256, in hex and quotes.
pub fn strong_etag(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(34);
    tag.push('"');
    for byte in &digest[..16] {
        tag.push(char::from(HEX[usize::from(byte >> 4)]));
        tag.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    tag.push('"');
    tag
}

/// A weak ETag (`W/"..."`): for list pages, whose bytes follow the request's URL (links).
pub fn weak_etag(body: &[u8]) -> String {
    format!("W/{}", strong_etag(body))
}

/// An `If-Match` or `If-None-Match` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `*`: any current representation.
    Any,
    /// Entity tags as sent, each with its quotes and `W/` prefix if weak.
    Tags(Vec<String>),
}

impl Condition {
    /// Strong comparison (`If-Match`): both tags strong and identical.
    pub fn matches_strong(&self, etag: &str) -> bool {
        match self {
            Condition::Any => true,
            Condition::Tags(tags) => {
                !etag.starts_with("W/") && tags.iter().any(|tag| tag.as_str() == etag)
            }
        }
    }

    /// Weak comparison (`If-None-Match`): the opaque tags equal, `W/` or not.
    pub fn matches_weak(&self, etag: &str) -> bool {
        match self {
            Condition::Any => true,
            Condition::Tags(tags) => {
                let opaque = etag.trim_start_matches("W/");
                tags.iter()
                    .any(|tag| tag.trim_start_matches("W/") == opaque)
            }
        }
    }
}

/// The request's `If-Match`, if it sent one; a malformed one is 400.
pub fn if_match(request: &HttpRequest) -> Result<Option<Condition>, ApiError> {
    condition(request, header::IF_MATCH)
}

/// The request's `If-None-Match`, if it sent one; a malformed one is 400.
pub fn if_none_match(request: &HttpRequest) -> Result<Option<Condition>, ApiError> {
    condition(request, header::IF_NONE_MATCH)
}

fn condition(request: &HttpRequest, name: HeaderName) -> Result<Option<Condition>, ApiError> {
    let mut values = request.headers().get_all(&name).peekable();
    if values.peek().is_none() {
        return Ok(None);
    }
    let mut tags = Vec::new();
    for value in values {
        let text = value.to_str().ok();
        match text.map(str::trim) {
            Some("*") => return Ok(Some(Condition::Any)),
            Some(text) => match parse_tags(text) {
                Some(parsed) => tags.extend(parsed),
                None => return Err(invalid(&name)),
            },
            None => return Err(invalid(&name)),
        }
    }
    Ok(Some(Condition::Tags(tags)))
}

fn invalid(name: &HeaderName) -> ApiError {
    let shown = match *name {
        header::IF_MATCH => "If-Match",
        _ => "If-None-Match",
    };
    ApiError::BadRequest(format!(
        "Invalid {shown} header: expected \"*\" or entity tags as the ETag header gives them, \
         e.g. \"3f2a...\" (with the quotes) or W/\"3f2a...\", separated by commas."
    ))
}

/// `#entity-tag`: tags separated by commas, each `"..."` or `W/"..."` (commas may appear
/// inside the quotes). `None` if anything else is there.
fn parse_tags(text: &str) -> Option<Vec<String>> {
    let mut tags = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let weak = rest.starts_with("W/");
        let prefix = if weak { 2 } else { 0 };
        let opaque = rest[prefix..].strip_prefix('"')?;
        let end = opaque.find('"')?;
        if opaque[..end]
            .bytes()
            .any(|byte| byte < 0x21 || byte == 0x7f)
        {
            return None;
        }
        let tag_length = prefix + 1 + end + 1;
        tags.push(rest[..tag_length].to_string());
        rest = rest[tag_length..].trim_start();
        match rest.strip_prefix(',') {
            Some(more) => rest = more.trim_start(),
            None if rest.is_empty() => {}
            None => return None,
        }
    }
    (!tags.is_empty()).then_some(tags)
}

/// 304 Not Modified for a representation the client already has.
pub fn not_modified(etag: String) -> HttpResponse {
    HttpResponse::NotModified()
        .insert_header((header::ETAG, etag))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_stable_quoted_and_distinct() {
        let tag = strong_etag(b"{\"id\":1}");
        assert_eq!(tag, strong_etag(b"{\"id\":1}"));
        assert_ne!(tag, strong_etag(b"{\"id\":2}"));
        assert_eq!(tag.len(), 34);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_eq!(weak_etag(b"x"), format!("W/{}", strong_etag(b"x")));
        // SHA-256("abc") begins ba7816bf 8f01cfea 414140de 5dae2223 (FIPS 180-2's example).
        assert_eq!(strong_etag(b"abc"), "\"ba7816bf8f01cfea414140de5dae2223\"");
    }

    #[test]
    fn entity_tag_lists_parse_as_rfc_9110_writes_them() {
        assert_eq!(
            parse_tags(r#""a", W/"b" ,"c,d""#),
            Some(vec!["\"a\"".into(), "W/\"b\"".into(), "\"c,d\"".into()])
        );
        assert_eq!(parse_tags(r#""""#), Some(vec!["\"\"".into()]));
        // Empty list elements are allowed (RFC 9110 §5.6.1).
        assert_eq!(parse_tags(r#""a", "#), Some(vec![r#""a""#.to_string()]));
        for malformed in ["a", r#""a"x"#, r#"W/a"#, r#""a b""#, r#""open"#, "", ","] {
            assert_eq!(parse_tags(malformed), None, "{malformed:?}");
        }
    }

    #[test]
    fn strong_comparison_refuses_weak_tags_and_weak_comparison_ignores_the_prefix() {
        let strong = strong_etag(b"row");
        let condition = Condition::Tags(vec![format!("W/{strong}")]);
        assert!(!condition.matches_strong(&strong));
        assert!(condition.matches_weak(&strong));
        assert!(Condition::Tags(vec![strong.clone()]).matches_strong(&strong));
        assert!(Condition::Any.matches_strong(&strong));
        assert!(!Condition::Tags(vec!["\"other\"".into()]).matches_weak(&strong));
    }
}
