//! Snapshot tests: each fixture description under `tests/fixtures/<case>/schema.toml` renders
//! exactly the crate checked in beside it under `expected/`. Those crates are workspace
//! members, so `cargo build --workspace` compiles every snapshot too.
//!
//! After an intended change: `UPDATE_SNAPSHOTS=1 cargo test -p tenantapi-codegen --test snapshots`.

use std::path::{Path, PathBuf};

use tenantapi_codegen::{GenerateJob, generate};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn check_snapshot(case: &str) {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let fixture = PathBuf::from("crates/codegen/tests/fixtures").join(case);
    let job = GenerateJob {
        workspace_root: workspace_root(),
        schema: fixture.join("schema.toml"),
        out: fixture.join("expected"),
        crate_name: format!("snapshot-{}", case.replace('_', "-")),
        check: !update,
    };
    let outcome =
        generate(&job).unwrap_or_else(|error| panic!("fixture {case} must be valid:\n{error}"));
    assert!(
        outcome.files >= 7,
        "a crate has a manifest, rustfmt.toml, lib, schema, ddl and table modules"
    );
    if !update {
        let changes: Vec<String> = outcome.changes.iter().map(ToString::to_string).collect();
        assert!(
            changes.is_empty(),
            "snapshot {case} is stale:\n  {}\nRun `UPDATE_SNAPSHOTS=1 cargo test -p tenantapi-codegen --test snapshots` and review the diff.",
            changes.join("\n  ")
        );
    }
}

#[test]
fn minimal_snapshot() {
    check_snapshot("minimal");
}

#[test]
fn keys_and_names_snapshot() {
    check_snapshot("keys_and_names");
}

/// The product's own generated crate must match `schema/project.toml`, as `cargo xtask gen --check` does.
#[test]
fn generated_crate_is_up_to_date() {
    let outcome = generate(&GenerateJob::project(&workspace_root(), true))
        .expect("schema/project.toml is valid");
    let changes: Vec<String> = outcome.changes.iter().map(ToString::to_string).collect();
    assert!(
        changes.is_empty(),
        "crates/generated is stale:\n  {}\nRun `cargo xtask gen` locally, and commit the changes.",
        changes.join("\n  ")
    );
}
