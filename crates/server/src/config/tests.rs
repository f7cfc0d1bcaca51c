//! Tests of loading the configuration: the file, the environment over it, and the messages that
//! name a bad value or key.

use super::*;

fn environment(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    }
}

#[test]
fn environment_overrides_file_and_defaults() {
    let dir = std::env::temp_dir().join(format!("tenantapi-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("server.toml");
    std::fs::write(&file, "bind = \"0.0.0.0:9000\"\n[pool]\nmax_size = 4\n").unwrap();
    let config = Config::load(
        Some(&file),
        environment(&[
            ("TENANTAPI_POOL_MAX_SIZE", "7"),
            ("TENANTAPI_MAX_PAGE_SIZE", "500"),
        ]),
    )
    .unwrap();
    assert_eq!(config.bind, "0.0.0.0:9000");
    assert_eq!(config.pool.max_size, 7);
    assert_eq!(config.api.max_page_size, 500);
    assert_eq!(config.api.default_page_size, 100);
}

#[test]
fn http_workers_default_to_half_the_cores_and_follow_the_setting() {
    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(Config::default().http_workers(), (cores / 2).max(1));
    let config = Config::load(None, environment(&[("TENANTAPI_WORKERS", "3")])).unwrap();
    assert_eq!(config.http_workers(), 3);
}

#[test]
fn bad_values_name_what_is_wrong() {
    let error =
        Config::load(None, environment(&[("TENANTAPI_POOL_MAX_SIZE", "many")])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment variable TENANTAPI_POOL_MAX_SIZE=\"many\" is invalid: a non-negative integer"
    );
    let error = Config::load(
        None,
        environment(&[
            ("TENANTAPI_DEFAULT_PAGE_SIZE", "500"),
            ("TENANTAPI_MAX_PAGE_SIZE", "100"),
        ]),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid configuration: api.default_page_size must not exceed api.max_page_size"
    );
}

#[test]
fn unknown_keys_in_the_file_are_rejected() {
    let dir = std::env::temp_dir().join(format!("tenantapi-config-unknown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("server.toml");
    std::fs::write(&file, "bnd = \"x\"\n").unwrap();
    let error = Config::load(Some(&file), environment(&[])).unwrap_err();
    assert!(error.to_string().contains("unknown field `bnd`"), "{error}");
}

/// Issue 24: whether the docs page keeps the token in the browser is a setting, in the file and
/// in the environment, off by default.
#[test]
fn the_docs_page_persists_authorization_only_when_set() {
    assert!(!Config::default().api.docs_persist_authorization);
    assert!(
        !Config::default()
            .app_settings()
            .document
            .persist_authorization
    );
    let dir = std::env::temp_dir().join(format!("tenantapi-config-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("server.toml");
    std::fs::write(&file, "[api]\ndocs_persist_authorization = true\n").unwrap();
    let from_file = Config::load(Some(&file), environment(&[])).unwrap();
    assert!(from_file.app_settings().document.persist_authorization);
    let from_environment = Config::load(
        Some(&file),
        environment(&[("TENANTAPI_DOCS_PERSIST_AUTHORIZATION", "false")]),
    )
    .unwrap();
    assert!(!from_environment.api.docs_persist_authorization);
    let error = Config::load(
        None,
        environment(&[("TENANTAPI_DOCS_PERSIST_AUTHORIZATION", "sometimes")]),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment variable TENANTAPI_DOCS_PERSIST_AUTHORIZATION=\"sometimes\" is invalid: true or false"
    );
}
