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

/// `root` with the fixture (version 1) moved to `schema/previous/1.toml` and a version 2 that
/// adds a column to `data_point` as `schema/project.toml`, generated.
fn two_versions(case: &str) -> PathBuf {
    let root = generated_workspace(case);
    std::fs::create_dir_all(root.join("schema/previous")).unwrap();
    std::fs::write(root.join("schema/previous/1.toml"), FIXTURE).unwrap();
    edit(&root, "version = \"1\"", "version = \"2\"");
    edit(&root, "[[table.column]]\nname = \"name\"", NEW_COLUMN);
    generate(&job(&root)).expect("two versions generate");
    root
}

fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|error| panic!("{path}: {error}"))
}

#[test]
fn an_older_description_is_compiled_beside_the_newest_sharing_identical_tables() {
    let root = two_versions("two-versions");
    let lib = read(&root, "generated/src/lib.rs");
    assert!(lib.contains("pub mod previous;"), "{lib}");
    assert!(lib.contains("previous: &[&previous::v1::API]"), "{lib}");
    let module = read(&root, "generated/src/previous/v1/mod.rs");
    assert!(
        module.contains("pub const SCHEMA_VERSION: &str = \"1\";"),
        "{module}"
    );
    assert!(module.contains("schema/previous/1.toml"), "{module}");
    let tables = read(&root, "generated/src/previous/v1/tables/mod.rs");
    // The version table is generated identically in both: shared. `data_point` differs.
    assert!(
        tables.contains("pub use crate::tables::schema_version;"),
        "{tables}"
    );
    assert!(tables.contains("pub mod data_point;"), "{tables}");
    assert!(
        !root
            .join("generated/src/previous/v1/tables/schema_version.rs")
            .exists()
    );
    let data_point = read(&root, "generated/src/previous/v1/tables/data_point.rs");
    assert!(
        data_point.contains("crate::previous::v1::schema::data_point"),
        "its diesel table is its version's"
    );
    assert!(!data_point.contains("note"), "version 1 has no note column");
    let schema = read(&root, "generated/src/previous/v1/schema.rs");
    assert!(
        schema.contains("data_point (id)") && !schema.contains("schema_version ("),
        "only the tables of its own: {schema}"
    );
    assert!(read(&root, "generated/src/tables/data_point.rs").contains("note"));
    let lock = read(&root, "schema/project.structure.lock");
    assert!(
        lock.contains("[\"1\"]") && lock.contains("[\"2\"]"),
        "{lock}"
    );
    assert!(
        generate(&GenerateJob {
            check: true,
            ..job(&root)
        })
        .unwrap()
        .changes
        .is_empty(),
        "gen --check covers every version"
    );

    // Deleting the description stops serving the version at the next gen.
    std::fs::remove_file(root.join("schema/previous/1.toml")).unwrap();
    let outcome = generate(&job(&root)).unwrap();
    assert!(
        outcome
            .changes
            .iter()
            .any(|change| change.to_string() == "no longer generated: src/previous/v1/mod.rs"),
        "{:?}",
        outcome.changes
    );
    assert!(!root.join("generated/src/previous/v1/mod.rs").exists());
    let lib = read(&root, "generated/src/lib.rs");
    assert!(
        !lib.contains("pub mod previous") && lib.contains("previous: &[]"),
        "{lib}"
    );
}

#[test]
fn an_older_description_changed_under_its_version_is_refused_at_its_line() {
    let root = two_versions("previous-changed");
    let path = root.join("schema/previous/1.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("[[table.column]]\nname = \"name\"", NEW_COLUMN, 1),
    )
    .unwrap();
    match generate(&job(&root)) {
        Err(GenerateError::StructureChanged {
            location, version, ..
        }) => {
            assert_eq!(location, "schema/previous/1.toml:2");
            assert_eq!(version, "1");
        }
        other => panic!("expected the change to be refused, got {other:?}"),
    }
}

#[test]
fn descriptions_that_cannot_be_served_together_are_refused_at_their_line() {
    let root = two_versions("not-together");
    let lib_before = read(&root, "generated/src/lib.rs");
    let copy = root.join("schema/previous/copy.toml");
    let message = |root: &Path| match generate(&job(root)) {
        Err(error @ GenerateError::Versions(_)) => error.to_string(),
        other => panic!("expected the versions to be refused, got {other:?}"),
    };

    // The newest version described twice.
    std::fs::write(&copy, FIXTURE.replace("version = \"1\"", "version = \"2\"")).unwrap();
    let twice = message(&root);
    assert!(
        twice.starts_with(
            "schema/previous/copy.toml:2: version \"2\" is also the version of schema/project.toml"
        ),
        "{twice}"
    );
    assert!(twice.ends_with("nothing was written"), "{twice}");

    // Another place to read the version from.
    std::fs::write(
        &copy,
        FIXTURE
            .replace("version = \"1\"", "version = \"0\"")
            .replace(
                "table = \"schema_version\"\ncolumn = \"version\"",
                "table = \"data_point\"\ncolumn = \"name\"",
            ),
    )
    .unwrap();
    let elsewhere = message(&root);
    assert!(
        elsewhere.starts_with("schema/previous/copy.toml:4: [version_source] is data_point.name here but schema_version.version in schema/project.toml"),
        "{elsewhere}"
    );

    // Two versions that would share a module name.
    std::fs::write(
        &copy,
        FIXTURE.replace("version = \"1\"", "version = \"1.0\""),
    )
    .unwrap();
    std::fs::write(
        root.join("schema/previous/other.toml"),
        FIXTURE.replace("version = \"1\"", "version = \"1-0\""),
    )
    .unwrap();
    let collision = message(&root);
    assert!(collision.contains("module `v1_0`"), "{collision}");
    assert_eq!(
        read(&root, "generated/src/lib.rs"),
        lib_before,
        "nothing was written"
    );
}
