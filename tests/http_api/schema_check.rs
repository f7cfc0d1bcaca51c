//! Answers checked against the served OpenAPI document: a JSON Schema check of the keywords
//! the generator writes (types, properties, `required`, `additionalProperties`, lists, `anyOf`/
//! `oneOf`/`allOf`, `$ref`, enums, lengths, bounds, patterns). A keyword it does not know is
//! an error, so that the check never passes by ignoring what the document says. Formats are
//! annotations, as in JSON Schema 2020-12 by default; schemathesis validates with Python's
//! `jsonschema` in `.ci/api-checks.sh`.
//!
//! Why not the maintained `jsonschema` crate: these tests need the keywords above and nothing
//! else (no remote references, no format assertions), a full validator's dependencies would be
//! built with every test build on two cores, and the complete check of every answer against
//! the document already runs in CI through schemathesis. (A judgement, not a measurement of
//! the crate's build cost.)

use serde_json::Value;

/// Keywords that only describe.
const ANNOTATIONS: [&str; 7] = [
    "description",
    "readOnly",
    "default",
    "format",
    "contentEncoding",
    "title",
    "examples",
];

/// The 200 schema of `method` on `path` (a key of `paths`) for `application/json`.
pub fn ok_schema<'a>(document: &'a Value, path: &str, method: &str) -> &'a Value {
    let schema = &response(document, path, method, "200")["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "no 200 schema for {method} {path}");
    schema
}

/// The response `status` of `method` on `path`, its `$ref` resolved.
pub fn response<'a>(document: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let mut response = &document["paths"][path][method]["responses"][status];
    if let Some(reference) = response["$ref"].as_str() {
        response = document
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("unresolved {reference}"));
    }
    assert!(
        response.is_object(),
        "{method} {path} documents no {status}"
    );
    response
}

/// Whether `instance` is valid against `schema`, a schema of `document`; the error names the
/// place and the rule broken.
pub fn check(document: &Value, schema: &Value, instance: &Value) -> Result<(), String> {
    check_at(document, schema, instance, "$")
}

fn check_at(document: &Value, schema: &Value, instance: &Value, at: &str) -> Result<(), String> {
    let Some(keywords) = schema.as_object() else {
        return match schema {
            Value::Bool(true) => Ok(()),
            _ => Err(format!("{at}: the schema {schema} admits nothing")),
        };
    };
    for (keyword, value) in keywords {
        match keyword.as_str() {
            "$ref" => {
                let target = value
                    .as_str()
                    .and_then(|reference| reference.strip_prefix('#'))
                    .and_then(|pointer| document.pointer(pointer))
                    .ok_or_else(|| format!("{at}: unresolved $ref {value}"))?;
                check_at(document, target, instance, at)?;
            }
            "type" => {
                let types: Vec<&str> = match value {
                    Value::String(one) => vec![one.as_str()],
                    Value::Array(several) => several.iter().filter_map(Value::as_str).collect(),
                    _ => return Err(format!("{at}: malformed type {value}")),
                };
                if !types.iter().any(|ty| has_type(instance, ty)) {
                    return Err(format!("{at}: {instance} is not of type {value}"));
                }
            }
            "properties" => {
                if let (Some(properties), Some(object)) = (value.as_object(), instance.as_object())
                {
                    for (name, field) in object {
                        if let Some(property) = properties.get(name) {
                            check_at(document, property, field, &format!("{at}.{name}"))?;
                        }
                    }
                }
            }
            "required" => {
                if let Some(object) = instance.as_object() {
                    for name in value.as_array().into_iter().flatten() {
                        let name = name.as_str().unwrap_or_default();
                        if !object.contains_key(name) {
                            return Err(format!("{at}: the required field {name} is missing"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(object) = instance.as_object() {
                    let known = keywords.get("properties").and_then(Value::as_object);
                    for (name, field) in object {
                        if !known.is_some_and(|known| known.contains_key(name)) {
                            check_at(document, value, field, &format!("{at}.{name}"))
                                .map_err(|error| format!("{error} (an additional property)"))?;
                        }
                    }
                }
            }
            "items" => {
                for (position, item) in instance.as_array().into_iter().flatten().enumerate() {
                    check_at(document, value, item, &format!("{at}[{position}]"))?;
                }
            }
            "maxItems" | "minItems" => {
                if let Some(items) = instance.as_array() {
                    let bound = value.as_u64().unwrap_or_default() as usize;
                    let fits = if keyword == "maxItems" {
                        items.len() <= bound
                    } else {
                        items.len() >= bound
                    };
                    if !fits {
                        return Err(format!(
                            "{at}: {} items break {keyword} {bound}",
                            items.len()
                        ));
                    }
                }
            }
            "maxLength" => {
                if let Some(text) = instance.as_str()
                    && text.chars().count() as u64 > value.as_u64().unwrap_or_default()
                {
                    return Err(format!("{at}: {instance} is longer than {value}"));
                }
            }
            "minimum" | "maximum" => {
                if let (Some(number), Some(bound)) = (instance.as_f64(), value.as_f64()) {
                    let fits = if keyword == "minimum" {
                        number >= bound
                    } else {
                        number <= bound
                    };
                    if !fits {
                        return Err(format!("{at}: {instance} breaks {keyword} {value}"));
                    }
                }
            }
            "pattern" => {
                if let Some(text) = instance.as_str() {
                    let pattern = regex::Regex::new(value.as_str().unwrap_or_default())
                        .map_err(|error| format!("{at}: pattern {value}: {error}"))?;
                    if !pattern.is_match(text) {
                        return Err(format!("{at}: {instance} does not match {value}"));
                    }
                }
            }
            "enum" => {
                if !value
                    .as_array()
                    .is_some_and(|values| values.contains(instance))
                {
                    return Err(format!("{at}: {instance} is not one of {value}"));
                }
            }
            "const" => {
                if value != instance {
                    return Err(format!("{at}: {instance} is not {value}"));
                }
            }
            "anyOf" | "oneOf" | "allOf" => {
                let outcomes: Vec<Result<(), String>> = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|branch| check_at(document, branch, instance, at))
                    .collect();
                let passed = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
                let fits = match keyword.as_str() {
                    "anyOf" => passed > 0,
                    "oneOf" => passed == 1,
                    _ => passed == outcomes.len(),
                };
                if !fits {
                    let reasons: Vec<String> =
                        outcomes.into_iter().filter_map(Result::err).collect();
                    return Err(format!(
                        "{at}: {keyword} with {passed} of {} branches passing: {}",
                        value.as_array().map_or(0, Vec::len),
                        reasons.join("; ")
                    ));
                }
            }
            annotation if ANNOTATIONS.contains(&annotation) => {}
            unknown => return Err(format!("{at}: the check does not know keyword {unknown}")),
        }
    }
    Ok(())
}

fn has_type(instance: &Value, ty: &str) -> bool {
    match ty {
        "object" => instance.is_object(),
        "array" => instance.is_array(),
        "string" => instance.is_string(),
        "boolean" => instance.is_boolean(),
        "null" => instance.is_null(),
        "number" => instance.is_number(),
        "integer" => {
            instance.is_i64()
                || instance.is_u64()
                || instance
                    .as_f64()
                    .is_some_and(|number| number.fract() == 0.0)
        }
        _ => false,
    }
}
