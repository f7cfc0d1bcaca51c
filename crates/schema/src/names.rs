//! Derivation of Rust identifiers and human names from SQL names: the one place this happens.
//!
//! Renderers never derive names themselves; they read the names stored in the
//! [`crate::model`] by the lowering step, which calls the functions here.

/// Strict keywords of Rust edition 2024.
const STRICT_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true", "try", "type",
    "unsafe", "use", "where", "while",
];

/// Keywords reserved for future use.
const RESERVED_KEYWORDS: &[&str] = &[
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield",
];

/// Weak (contextual) keywords, avoided as well.
const WEAK_KEYWORDS: &[&str] = &["union", "raw", "safe"];

/// Names that diesel's `table!` macro defines inside every table module.
const DIESEL_RESERVED: &[&str] = &[
    "table",
    "star",
    "all_columns",
    "columns",
    "dsl",
    "is_nullable",
];

/// Whether `word` is a Rust keyword, a name diesel's `table!` reserves, or `_`
/// (which is a pattern, not an identifier).
pub fn is_reserved_word(word: &str) -> bool {
    word == "_"
        || STRICT_KEYWORDS.contains(&word)
        || RESERVED_KEYWORDS.contains(&word)
        || WEAK_KEYWORDS.contains(&word)
        || DIESEL_RESERVED.contains(&word)
}

/// The snake_case Rust identifier for a SQL table or column name.
///
/// ASCII letters are lowercased, every character outside `[a-z0-9_]` becomes
/// `_`, underscores inside the name are one at a time (rustc's snake case: `Größe` ->
/// `gr_e`, not `gr__e`), a leading digit gets a `_` prefix, and a keyword or diesel-reserved
/// name gets a `_` suffix: `type` -> `type_`, `maintenance-window` ->
/// `maintenance_window`. For any non-empty input the result satisfies
/// [`is_valid_rust_ident`]; an empty input gives an empty string.
pub fn rust_ident_for_sql_name(sql_name: &str) -> String {
    let replaced: String = sql_name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Leading and trailing underscores stay (`twin-` -> `twin_` beside `twin`).
    let body = replaced.trim_matches('_');
    let leading = &replaced[..replaced.len() - replaced.trim_start_matches('_').len()];
    let trailing = if body.is_empty() {
        ""
    } else {
        &replaced[replaced.trim_end_matches('_').len()..]
    };
    let mut ident = String::from(leading);
    let mut previous_underscore = false;
    for c in body.chars() {
        if !(c == '_' && previous_underscore) {
            ident.push(c);
        }
        previous_underscore = c == '_';
    }
    ident.push_str(trailing);
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert(0, '_');
    }
    if is_reserved_word(&ident) {
        ident.push('_');
    }
    ident
}

/// The Rust identifier for a column of the table whose Rust name is `table_rust_name`: as
/// [`rust_ident_for_sql_name`], with a `_` suffix when it would equal the table's, which
/// diesel's `table!` refuses (`address.address` in real schemas gives `address_`).
pub fn column_rust_ident_for_sql_name(sql_name: &str, table_rust_name: &str) -> String {
    let mut ident = rust_ident_for_sql_name(sql_name);
    if !ident.is_empty() && ident == table_rust_name {
        ident.push('_');
    }
    ident
}

/// The CamelCase type name for a snake_case Rust identifier: `data_point` -> `DataPoint`.
///
/// Empty parts between underscores are dropped; a name that would start with a
/// digit gets a `T` prefix, and `Self` becomes `SelfTable`. An identifier made
/// only of underscores gives an empty string.
pub fn struct_name_for(rust_ident: &str) -> String {
    let mut name = String::with_capacity(rust_ident.len());
    for part in rust_ident.split('_').filter(|part| !part.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            name.push(first.to_ascii_uppercase());
            name.extend(chars);
        }
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 'T');
    }
    if name == "Self" {
        name = "SelfTable".to_owned();
    }
    name
}

/// The human name used in messages, DRF style: `data_point` -> "data point".
pub fn verbose_name_for(sql_name: &str) -> String {
    sql_name
        .chars()
        .map(|c| if c == '_' || c == '-' { ' ' } else { c })
        .collect()
}

/// The name filters reach a foreign key's row through (`?site__code=` on `site_id`): the
/// column's name without a trailing `_id`, as Django names the relation, else the column's.
pub fn relation_name(foreign_key_column: &str) -> &str {
    foreign_key_column
        .strip_suffix("_id")
        .filter(|stem| !stem.is_empty())
        .unwrap_or(foreign_key_column)
}

/// The module of the generated crate that holds an older structure version's code:
/// `v` and the version with every character that is not an ASCII letter or digit as `_`
/// (`2024.04.0` -> `v2024_04_0`). Two versions that map to one module cannot be served
/// together; `gen` says so.
pub fn version_module_name(version: &str) -> String {
    let mut name = String::from("v");
    name.extend(version.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_lowercase()
        } else {
            '_'
        }
    }));
    name
}

/// Whether `s` may be used as a `rust_name` override: snake_case ASCII
/// (`[a-z_][a-z0-9_]*`) and not a keyword or diesel-reserved name.
pub fn is_valid_rust_ident(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    (first.is_ascii_lowercase() || first == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !is_reserved_word(s)
}

/// What of a table name stays as it is in a URL path segment: letters, digits and
/// `-._~$` (RFC 3986's unreserved characters, and `$`, which real schemas use).
const SEGMENT_ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'$');

/// A table's URL path segment: its SQL name, percent-encoded where a URL needs it
/// (`Order Details` -> `Order%20Details`, `Straße` -> `Stra%C3%9Fe`); names of letters, digits,
/// `_` and `-` stay as they are. The routes match the decoded segment against the SQL name.
pub fn url_segment(sql_name: &str) -> std::borrow::Cow<'_, str> {
    percent_encoding::utf8_percent_encode(sql_name, SEGMENT_ESCAPED).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_modules_are_rust_identifiers() {
        assert_eq!(version_module_name("2024.04.0"), "v2024_04_0");
        assert_eq!(version_module_name("Release-7 beta"), "vrelease_7_beta");
        assert!(is_valid_rust_ident(&version_module_name("1.0+build.5")));
    }

    #[test]
    fn rust_ident_keeps_plain_names() {
        assert_eq!(rust_ident_for_sql_name("data_point"), "data_point");
        assert_eq!(rust_ident_for_sql_name("id"), "id");
    }

    #[test]
    fn rust_ident_lowercases_and_replaces() {
        assert_eq!(
            rust_ident_for_sql_name("maintenance-window"),
            "maintenance_window"
        );
        assert_eq!(rust_ident_for_sql_name("DataPoint"), "datapoint");
        assert_eq!(rust_ident_for_sql_name("price$usd"), "price_usd");
        assert_eq!(rust_ident_for_sql_name("café"), "caf_");
        // rustc's snake case has no `__` inside a name: `Größe` was `gr__e`, which
        // `non_snake_case` refused in the generated crate.
        assert_eq!(rust_ident_for_sql_name("Größe"), "gr_e");
        assert_eq!(rust_ident_for_sql_name("Order  Details"), "order_details");
        assert_eq!(rust_ident_for_sql_name("a__b"), "a_b");
        assert_eq!(rust_ident_for_sql_name("__meta__"), "__meta__");
    }

    #[test]
    fn rust_ident_prefixes_leading_digit() {
        assert_eq!(rust_ident_for_sql_name("2fa"), "_2fa");
    }

    #[test]
    fn rust_ident_escapes_keywords() {
        assert_eq!(rust_ident_for_sql_name("type"), "type_");
        assert_eq!(rust_ident_for_sql_name("self"), "self_");
        assert_eq!(rust_ident_for_sql_name("Self"), "self_");
        assert_eq!(rust_ident_for_sql_name("gen"), "gen_");
        assert_eq!(rust_ident_for_sql_name("union"), "union_");
        assert_eq!(rust_ident_for_sql_name("raw"), "raw_");
        assert_eq!(rust_ident_for_sql_name("_"), "__");
        assert_eq!(rust_ident_for_sql_name("-"), "__");
    }

    #[test]
    fn rust_ident_escapes_diesel_names() {
        for name in [
            "table",
            "star",
            "all_columns",
            "columns",
            "dsl",
            "is_nullable",
        ] {
            assert_eq!(rust_ident_for_sql_name(name), format!("{name}_"));
        }
    }

    #[test]
    fn rust_ident_results_are_valid() {
        for name in [
            "type",
            "self",
            "2fa",
            "a-b",
            "_",
            "$",
            "X",
            "table",
            "Ünïcode",
        ] {
            let ident = rust_ident_for_sql_name(name);
            assert!(is_valid_rust_ident(&ident), "{name} -> {ident}");
        }
        assert_eq!(rust_ident_for_sql_name(""), "");
    }

    #[test]
    fn a_column_named_like_its_table_gets_a_suffix() {
        assert_eq!(
            column_rust_ident_for_sql_name("address", "address"),
            "address_"
        );
        assert_eq!(column_rust_ident_for_sql_name("City", "city"), "city_");
        assert_eq!(
            column_rust_ident_for_sql_name("address", "customer"),
            "address"
        );
        assert_eq!(column_rust_ident_for_sql_name("type", "type_"), "type__");
    }

    #[test]
    fn struct_names() {
        assert_eq!(struct_name_for("data_point"), "DataPoint");
        assert_eq!(struct_name_for("maintenance_window"), "MaintenanceWindow");
        assert_eq!(struct_name_for("site"), "Site");
        assert_eq!(struct_name_for("a__b_"), "AB");
        assert_eq!(struct_name_for("_2fa"), "T2fa");
        assert_eq!(struct_name_for("self_"), "SelfTable");
        assert_eq!(struct_name_for("type_"), "Type");
        assert_eq!(struct_name_for("__"), "");
    }

    #[test]
    fn verbose_names() {
        assert_eq!(verbose_name_for("data_point"), "data point");
        assert_eq!(verbose_name_for("maintenance-window"), "maintenance window");
        assert_eq!(verbose_name_for("site"), "site");
    }

    #[test]
    fn valid_idents() {
        assert!(is_valid_rust_ident("site"));
        assert!(is_valid_rust_ident("_private"));
        assert!(is_valid_rust_ident("type_"));
        assert!(is_valid_rust_ident("a1_b2"));
        assert!(is_valid_rust_ident("__"));
    }

    #[test]
    fn invalid_idents() {
        for s in [
            "",
            "_",
            "1a",
            "Site",
            "data-point",
            "a b",
            "type",
            "self",
            "gen",
            "table",
            "columns",
            "dsl",
            "café",
        ] {
            assert!(!is_valid_rust_ident(s), "{s:?} should be invalid");
        }
    }
}
