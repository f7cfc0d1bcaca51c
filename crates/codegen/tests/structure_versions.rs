//! `gen` and the structure lock: a structure changed under an unchanged `version` is refused
//! at the description's `version` line, with nothing written; a new version is recorded;
//! cosmetic edits pass. Each case works in a directory of its own under the target directory.

use std::path::{Path, PathBuf};

use tenantapi_codegen::{GenerateError, GenerateJob, generate};

const FIXTURE: &str = include_str!("fixtures/minimal/schema.toml");

/// A fresh workspace root holding `schema/project.toml`, generated once.
fn generated_workspace(case: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("structure-{case}"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("schema")).unwrap();
    std::fs::write(root.join("schema/project.toml"), FIXTURE).unwrap();
    generate(&job(&root)).expect("the fixture generates");
    root
}

fn job(root: &Path) -> GenerateJob {
    GenerateJob {
        workspace_root: root.to_path_buf(),
        schema: PathBuf::from("schema/project.toml"),
        out: PathBuf::from("generated"),
        crate_name: "structure-check".into(),
        check: false,
    }
}

fn edit(root: &Path, from: &str, to: &str) {
    let path = root.join("schema/project.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "the fixture holds {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

const NEW_COLUMN: &str = "[[table.column]]\nname = \"note\"\ntype = \"text\"\nnullable = true\n\n[[table.column]]\nname = \"name\"";

/// Regression: a column added under the same `version` generated without a word, and the
/// server then answered 500 "no such column" for every project database of that version.
#[test]
fn a_column_added_without_a_new_version_is_refused_at_the_version_line() {
    let root = generated_workspace("refused");
    let lib_before = std::fs::read_to_string(root.join("generated/src/lib.rs")).unwrap();
    let lock_before = std::fs::read_to_string(root.join("schema/project.structure.lock")).unwrap();
    edit(&root, "[[table.column]]\nname = \"name\"", NEW_COLUMN);
    match generate(&job(&root)) {
        Err(GenerateError::StructureChanged {
            location,
            version,
            differences,
            ..
        }) => {
            assert_eq!(location, "schema/project.toml:2");
            assert_eq!(version, "1");
            assert_eq!(differences, ["table data_point changed"]);
        }
        other => panic!("expected the structure change to be refused, got {other:?}"),
    }
    let check = generate(&GenerateJob {
        check: true,
        ..job(&root)
    });
    assert!(
        matches!(check, Err(GenerateError::StructureChanged { .. })),
        "gen --check refuses it too"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("generated/src/lib.rs")).unwrap(),
        lib_before,
        "nothing was written"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("schema/project.structure.lock")).unwrap(),
        lock_before
    );

    edit(&root, "version = \"1\"", "version = \"2\"");
    generate(&job(&root)).expect("a new version is accepted");
    let lock = std::fs::read_to_string(root.join("schema/project.structure.lock")).unwrap();
    assert!(
        lock.contains("[\"1\"]") && lock.contains("[\"2\"]"),
        "both versions are recorded:\n{lock}"
    );

    // Back to version 1 with version 2's structure: the lock remembers 1.
    edit(&root, "version = \"2\"", "version = \"1\"");
    assert!(matches!(
        generate(&job(&root)),
        Err(GenerateError::StructureChanged { .. })
    ));
}

#[test]
fn cosmetic_edits_keep_the_version() {
    let root = generated_workspace("cosmetic");
    edit(
        &root,
        "name = \"data_point\"",
        "name = \"data_point\"\ndoc = \"A measured quantity.\"\nordering = [\"-name\"]",
    );
    let outcome = generate(&job(&root)).expect("docs and ordering are no structure change");
    assert!(
        outcome
            .changes
            .iter()
            .all(|change| !change.to_string().contains("structure.lock")),
        "the lock is unchanged: {:?}",
        outcome.changes
    );
}
