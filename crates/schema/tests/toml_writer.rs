//! Writing a description: parse → write → parse gives the same model, for the project's own
//! description, the snapshot fixtures (keywords, dashes, composite keys, every type and
//! default, docs, `rust_name` overrides) and the real-world sample's descriptions.

use tenantapi_schema::toml_writer::Description;

fn round_trip(path: &str) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"));
    let parsed = tenantapi_schema::parse_str(path, &text).unwrap_or_else(|error| panic!("{error}"));
    let written = Description::from(&parsed).to_toml();
    let reparsed = tenantapi_schema::parse_str("written.toml", &written)
        .unwrap_or_else(|error| panic!("{error}\n---\n{written}"));
    assert_eq!(reparsed, parsed, "{path} written as:\n{written}");
}

#[test]
fn the_project_description_round_trips() {
    round_trip(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schema/project.toml"
    ));
}

#[test]
fn the_snapshot_fixtures_round_trip() {
    for case in ["minimal", "keys_and_names"] {
        round_trip(&format!(
            "{}/../codegen/tests/fixtures/{case}/schema.toml",
            env!("CARGO_MANIFEST_DIR")
        ));
    }
}

/// Enums, lists, char/citext, generated and read-only columns, text forms, domains, views with
/// an ordering and a PostgreSQL schema: the descriptions introspection writes from the
/// real-world sample.
#[test]
fn the_real_world_descriptions_round_trip() {
    for name in ["schema.toml", "sqlite.toml"] {
        round_trip(&format!(
            "{}/../../tests/realworld/{name}",
            env!("CARGO_MANIFEST_DIR")
        ));
    }
}

#[test]
fn rust_name_overrides_round_trip() {
    let text = "version = \"1\"\n[version_source]\ntable = \"v\"\ncolumn = \"n\"\n\
                [[table]]\nname = \"v\"\nread_only = true\ncolumn = [{ name = \"n\", type = \"text\" }]\n\
                [[table]]\nname = \"t\"\nrust_name = \"other\"\n\
                column = [{ name = \"id\", type = \"serial\", primary_key = true }, \
                          { name = \"x\", type = \"numeric(10, 2)\", rust_name = \"y\", default = 1.5 }]\n";
    let parsed = tenantapi_schema::parse_str("inline.toml", text).unwrap();
    let written = Description::from(&parsed).to_toml();
    assert!(written.contains("rust_name = \"other\""), "{written}");
    assert_eq!(
        tenantapi_schema::parse_str("w.toml", &written).unwrap(),
        parsed
    );
}
