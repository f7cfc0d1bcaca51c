//! Responses: every error the server can answer, with its shape, shared by reference, and
//! the helper that adds them to an operation's own answers.

use serde_json::{Map, Value, json};

use super::{json_content, reference};

pub(super) fn responses(codes: &[(&str, &str)]) -> Map<String, Value> {
    codes
        .iter()
        .map(|(code, name)| (code.to_string(), reference("responses", name)))
        .collect()
}

/// The errors every project route can answer. 405 is the path's answer to a method the
/// document does not list for it (OpenAPI has no responses per path, so each operation names it).
pub(super) const COMMON_ERRORS: [(&str, &str); 5] = [
    ("401", "Unauthorized"),
    ("404", "NotFound"),
    ("405", "MethodNotAllowed"),
    ("429", "TooManyRequests"),
    ("503", "ServiceUnavailable"),
];

/// Errors of a write with a body.
pub(super) const BODY_ERRORS: [(&str, &str); 4] = [
    ("400", "BadRequest"),
    ("403", "Forbidden"),
    ("413", "PayloadTooLarge"),
    ("415", "UnsupportedMediaType"),
];

pub(super) fn with_errors(success: Vec<(String, Value)>, extra: &[(&str, &str)]) -> Value {
    let mut all: Map<String, Value> = success.into_iter().collect();
    all.extend(responses(extra));
    all.extend(responses(&COMMON_ERRORS));
    let mut sorted: Vec<(String, Value)> = all.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(sorted.into_iter().collect())
}

pub(super) fn shared_responses() -> Value {
    let detail = |description: &str| {
        json!({
            "description": description,
            "content": json_content(reference("schemas", "Detail"))
        })
    };
    let retry_after = json!({
        "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
    });
    let mut too_many = detail("Too many requests of this kind at once.");
    too_many["headers"] = retry_after.clone();
    let mut unavailable = detail(
        "The project's database cannot serve now (unreachable, busy, or of another structure version).",
    );
    unavailable["headers"] = retry_after;
    let mut method_not_allowed = detail(
        "The path does not answer the request's method (one this document does not list for the path): `{\"detail\": \"Method \\\"PUT\\\" not allowed.\"}`; `Allow` names the methods it answers.",
    );
    method_not_allowed["headers"] = json!({
        "Allow": {"description": "The methods this path answers, comma-separated (`GET, POST, HEAD, OPTIONS`).", "schema": {"type": "string"}}
    });
    let mut unauthorized = detail("Missing or invalid credentials.");
    unauthorized["headers"] = json!({
        "WWW-Authenticate": {"description": "How to authenticate.", "schema": {"type": "string"}}
    });
    json!({
        "BadRequest": {
            "description": "Invalid input: field errors, or a malformed request as a whole.",
            "content": json_content(json!({
                "anyOf": [
                    reference("schemas", "FieldErrors"),
                    reference("schemas", "Detail"),
                    {"type": "array", "items": reference("schemas", "FieldErrors"), "description": "A bulk create's errors, one object per item in order."}
                ]
            }))
        },
        "Unauthorized": unauthorized,
        "Forbidden": detail("The caller may read this project but not write it."),
        "NotFound": detail("No such project for this caller, no such row, or a page out of range."),
        "MethodNotAllowed": method_not_allowed,
        "PayloadTooLarge": detail("The body is larger than the server accepts."),
        "UnsupportedMediaType": detail("The body is not JSON."),
        "TooManyRequests": too_many,
        "NotModified": {
            "description": "The representation matches a tag of `If-None-Match`: the client's copy is current.",
            "headers": {"ETag": {"description": "The current entity tag.", "schema": {"type": "string"}}}
        },
        "PreconditionFailed": detail("The row changed since it was read: its ETag is not one `If-Match` names."),
        "ServiceUnavailable": unavailable
    })
}
