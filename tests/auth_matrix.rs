//! Access control over HTTP, on SQLite and PostgreSQL: who reaches which project with which
//! method, as an exact matrix of status codes; revocation within the stated bound; expired
//! tokens; hashed storage; malformed `Authorization` headers.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::{App, test};
use diesel::RunQueryDsl as _;
use serde_json::{Value, json};
use tenantapi_server::accounts;
use tenantapi_server::config::Config;
use tenantapi_server::registry::Registry;
use tenantapi_server::serve;
use tenantapi_testkit::Role;
use tenantapi_testkit::{Backend, TestKit};

struct Setup {
    kit: TestKit,
}

impl Setup {
    fn token(&self, user: &str) -> &str {
        self.kit.token(user)
    }
}

/// Projects `alpha` and `beta`; users with every kind of access; auth cache of `cache_seconds`.
fn setup(backend: Backend, cache_seconds: u64) -> Setup {
    let rows =
        json!({"data_point": [{"id": 1, "name": "first"}], "tag": [{"id": 1, "label": "first"}]});
    let kit = TestKit::builder(backend)
        .project_with_rows("alpha", rows.clone())
        .project_with_rows("beta", rows)
        .superuser("root")
        .user("reader_a", &[("alpha", Role::Read)])
        .user("writer_a", &[("alpha", Role::Write)])
        .user("writer_b", &[("beta", Role::Write)])
        .user("nogrant", &[])
        .user("inactive", &[("alpha", Role::Write)])
        .configure(|config| config.auth.cache_seconds = cache_seconds)
        .build()
        .expect("test kit");
    accounts::set_user_active(&mut kit.platform().connect(), "inactive", false).unwrap();
    Setup { kit }
}

async fn app(
    setup: &Setup,
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    setup.kit.service().await
}

struct Reply {
    status: u16,
    json: Value,
    www_authenticate: Option<String>,
}

/// `authorization` as raw bytes: some cases send headers that are not valid text.
async fn request<S>(
    app: &S,
    method: Method,
    path: &str,
    authorization: Option<&[u8]>,
    body: Option<Value>,
) -> Reply
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let mut request = tenantapi_testkit::request(method.as_str(), path, None, body);
    if let Some(authorization) = authorization {
        request = request.insert_header((
            header::AUTHORIZATION,
            header::HeaderValue::from_bytes(authorization).unwrap(),
        ));
    }
    let reply = tenantapi_testkit::send(app, request).await;
    Reply {
        status: reply.status,
        www_authenticate: reply
            .headers
            .get(header::WWW_AUTHENTICATE)
            .map(|value| value.to_str().unwrap().to_string()),
        json: reply.json,
    }
}

fn token_header(token: &str) -> Vec<u8> {
    format!("Token {token}").into_bytes()
}

/// The statuses a caller gets for list, create, retrieve, update, partial update and destroy.
fn expected_statuses(user: &str, project: &str) -> [u16; 6] {
    const SUCCESS: [u16; 6] = [200, 201, 200, 200, 200, 204];
    const READ_ONLY: [u16; 6] = [200, 403, 200, 403, 403, 403];
    const HIDDEN: [u16; 6] = [404; 6];
    const UNAUTHENTICATED: [u16; 6] = [401; 6];
    match (user, project) {
        ("inactive", _) => UNAUTHENTICATED,
        (_, "gamma") => HIDDEN,
        ("root", _) | ("writer_a", "alpha") | ("writer_b", "beta") => SUCCESS,
        ("reader_a", "alpha") => READ_ONLY,
        _ => HIDDEN,
    }
}

fn body_for(table: &str, label: &str) -> Value {
    match table {
        "data_point" => json!({"name": label}),
        _ => json!({"label": label}),
    }
}

async fn isolation_matrix(backend: Backend) {
    let setup = setup(backend, 5);
    let app = app(&setup).await;
    let mut mismatches = Vec::new();
    let mut cells = 0;
    for user in [
        "root", "reader_a", "writer_a", "writer_b", "nogrant", "inactive",
    ] {
        let authorization = token_header(setup.token(user));
        for project in ["alpha", "beta", "gamma"] {
            for table in ["data_point", "tag"] {
                let expected = expected_statuses(user, project);
                let collection = format!("/api/v1/{project}/{table}/");
                let label = format!("{user}-{project}");
                let list =
                    request(&app, Method::GET, &collection, Some(&authorization), None).await;
                let created = request(
                    &app,
                    Method::POST,
                    &collection,
                    Some(&authorization),
                    Some(body_for(table, &label)),
                )
                .await;
                // Write to the row this caller created when it could create one; else to row 1.
                let id = created.json["id"].as_i64().unwrap_or(1);
                let detail = format!("/api/v1/{project}/{table}/{id}/");
                let retrieved =
                    request(&app, Method::GET, &detail, Some(&authorization), None).await;
                let updated = request(
                    &app,
                    Method::PUT,
                    &detail,
                    Some(&authorization),
                    Some(body_for(table, &format!("{label}-put"))),
                )
                .await;
                let patched = request(
                    &app,
                    Method::PATCH,
                    &detail,
                    Some(&authorization),
                    Some(body_for(table, &format!("{label}-patch"))),
                )
                .await;
                let destroyed =
                    request(&app, Method::DELETE, &detail, Some(&authorization), None).await;
                let actual = [
                    list.status,
                    created.status,
                    retrieved.status,
                    updated.status,
                    patched.status,
                    destroyed.status,
                ];
                cells += actual.len();
                if actual != expected {
                    mismatches.push(format!(
                        "{user} on {project}/{table}: expected {expected:?}, got {actual:?}"
                    ));
                }
            }
        }
    }
    assert_eq!(cells, 6 * 3 * 2 * 6);
    assert!(
        mismatches.is_empty(),
        "isolation matrix on {backend:?}:\n{}",
        mismatches.join("\n")
    );

    // Refused writes changed nothing: row 1 of each table is still there, as it was.
    let root = token_header(setup.token("root"));
    for project in ["alpha", "beta"] {
        let point = request(
            &app,
            Method::GET,
            &format!("/api/v1/{project}/data_point/1/"),
            Some(&root),
            None,
        )
        .await;
        assert_eq!(point.json["name"], "first", "{project}");
        let tag = request(
            &app,
            Method::GET,
            &format!("/api/v1/{project}/tag/1/"),
            Some(&root),
            None,
        )
        .await;
        assert_eq!(tag.json["label"], "first", "{project}");
    }

    // The messages behind the codes.
    let reader = token_header(setup.token("reader_a"));
    let forbidden = request(
        &app,
        Method::DELETE,
        "/api/v1/alpha/tag/1/",
        Some(&reader),
        None,
    )
    .await;
    assert_eq!(
        forbidden.json,
        json!({"detail": "You do not have permission to perform this action."})
    );
    let hidden = request(&app, Method::GET, "/api/v1/beta/tag/", Some(&reader), None).await;
    assert_eq!(
        hidden.json,
        json!({"detail": "Not found."}),
        "an ungranted project looks missing"
    );
    let inactive = request(
        &app,
        Method::GET,
        "/api/v1/alpha/tag/",
        Some(&token_header(setup.token("inactive"))),
        None,
    )
    .await;
    assert_eq!(
        inactive.json,
        json!({"detail": "User inactive or deleted."})
    );
    let anonymous = request(&app, Method::GET, "/api/v1/alpha/tag/", None, None).await;
    assert_eq!(
        (
            anonymous.status,
            anonymous.json,
            anonymous.www_authenticate.as_deref()
        ),
        (
            401,
            json!({"detail": "Authentication credentials were not provided."}),
            Some("Token")
        )
    );

    // The API root lists what each caller may see, and the project index follows grants.
    for (user, visible) in [
        ("root", json!(["alpha", "beta"])),
        ("reader_a", json!(["alpha"])),
        ("nogrant", json!([])),
    ] {
        let root_listing = request(
            &app,
            Method::GET,
            "/api/v1/",
            Some(&token_header(setup.token(user))),
            None,
        )
        .await;
        let names: Vec<&String> = root_listing.json.as_object().unwrap().keys().collect();
        assert_eq!(json!(names), visible, "{user}");
    }
    assert_eq!(
        request(&app, Method::GET, "/api/v1/beta/", Some(&reader), None)
            .await
            .status,
        404
    );
    assert_eq!(
        request(&app, Method::GET, "/api/v1/alpha/", Some(&reader), None)
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn isolation_matrix_on_sqlite() {
    isolation_matrix(Backend::Sqlite).await;
}

#[actix_web::test]
async fn isolation_matrix_on_postgres() {
    isolation_matrix(Backend::Postgres).await;
}

#[actix_web::test]
async fn revoked_tokens_and_grants_stop_working_within_the_cache_bound() {
    let setup = setup(Backend::Sqlite, 1);
    let app = app(&setup).await;
    let writer = token_header(setup.token("writer_a"));
    assert_eq!(
        request(&app, Method::GET, "/api/v1/alpha/tag/", Some(&writer), None)
            .await
            .status,
        200
    );

    let mut connection = setup.kit.platform().connect();
    accounts::revoke(&mut connection, "writer_a", "alpha").unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        request(&app, Method::GET, "/api/v1/alpha/tag/", Some(&writer), None)
            .await
            .status,
        404,
        "grant removed"
    );

    let root_token = setup.token("root").to_string();
    let root = token_header(&root_token);
    assert_eq!(
        request(&app, Method::GET, "/api/v1/alpha/tag/", Some(&root), None)
            .await
            .status,
        200
    );
    accounts::revoke_token(
        &mut connection,
        &tenantapi_server::secrets::token_prefix(&root_token),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let revoked = request(&app, Method::GET, "/api/v1/alpha/tag/", Some(&root), None).await;
    assert_eq!(
        (revoked.status, revoked.json),
        (401, json!({"detail": "Invalid token."}))
    );

    let reader = token_header(setup.token("reader_a"));
    assert_eq!(
        request(&app, Method::GET, "/api/v1/alpha/tag/", Some(&reader), None)
            .await
            .status,
        200
    );
    accounts::set_user_active(&mut connection, "reader_a", false).unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(
        request(&app, Method::GET, "/api/v1/alpha/tag/", Some(&reader), None)
            .await
            .status,
        401,
        "user disabled"
    );
}

#[actix_web::test]
async fn expired_tokens_are_refused_and_only_hashes_are_stored() {
    let setup = setup(Backend::Sqlite, 5);
    let app = app(&setup).await;
    let mut connection = setup.kit.platform().connect();
    let token =
        accounts::create_token(&mut connection, "writer_a", "short-lived", Some(1)).unwrap();
    let authorization = token_header(&token);
    assert_eq!(
        request(
            &app,
            Method::GET,
            "/api/v1/alpha/tag/",
            Some(&authorization),
            None
        )
        .await
        .status,
        200
    );

    // Nothing the platform database holds about the token contains it.
    #[derive(diesel::QueryableByName)]
    struct StoredToken {
        #[diesel(sql_type = diesel::sql_types::Text)]
        prefix: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        token_hash: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let tenantapi_runtime::connections::db::DbConnection::Sqlite(sqlite) = &mut connection else {
        unreachable!()
    };
    let stored: Vec<StoredToken> =
        diesel::sql_query("SELECT prefix, token_hash, name FROM api_tokens")
            .load(sqlite)
            .unwrap();
    assert_eq!(stored.len(), 6 + 1, "six users' tokens and the new one");
    let secret_part = &token[tenantapi_server::secrets::token_prefix(&token).len()..];
    for row in &stored {
        for column in [&row.prefix, &row.token_hash, &row.name] {
            assert!(
                !column.contains(secret_part),
                "a stored column holds the token: {column}"
            );
        }
    }
    assert!(
        stored
            .iter()
            .any(|row| row.token_hash == tenantapi_server::secrets::token_hash(&token))
    );

    // Let the token expire in the database; a fresh server (empty cache) refuses it.
    diesel::sql_query("UPDATE api_tokens SET expires_at = 1 WHERE name = 'short-lived'")
        .execute(sqlite)
        .unwrap();
    let fresh = setup_reusing(&setup);
    let app = fresh_app(&fresh).await;
    let expired = request(
        &app,
        Method::GET,
        "/api/v1/alpha/tag/",
        Some(&authorization),
        None,
    )
    .await;
    assert_eq!(
        (expired.status, expired.json),
        (401, json!({"detail": "Invalid token."}))
    );
}

/// A new registry (and so an empty credential cache) over the same platform database.
fn setup_reusing(setup: &Setup) -> Arc<Registry> {
    let config = Config {
        platform_database_url: setup.kit.platform().url.clone(),
        ..Config::default()
    };
    let registry: Arc<Registry> = serve::load_registry(
        &tenantapi_generated::API,
        &config,
        &mut setup.kit.platform().connect(),
    )
    .unwrap();
    registry
}

async fn fresh_app(
    registry: &Arc<Registry>,
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    let registry = registry.clone();
    let settings = Config::default().app_settings();
    test::init_service(
        App::new()
            .configure(move |config| tenantapi_server::app::configure(config, registry, settings)),
    )
    .await
}

#[actix_web::test]
async fn malformed_authorization_headers_are_401_never_500() {
    let setup = setup(Backend::Sqlite, 5);
    let app = app(&setup).await;
    let huge = [b"Token ".as_slice(), &[b'x'; 6000]].concat();
    let huge_basic = [b"Basic ".as_slice(), &[b'Q'; 6000]].concat();
    let cases: Vec<(&[u8], &str)> = vec![
        (
            b"Digest abc",
            "Authentication credentials were not provided.",
        ),
        (b"", "Authentication credentials were not provided."),
        (b"Token", "Invalid token header. No credentials provided."),
        (b"Token ", "Invalid token header. No credentials provided."),
        (
            b"Bearer a b",
            "Invalid token header. Token string should not contain spaces.",
        ),
        (
            b"Token \xc3\x28",
            "Invalid token header. Token string should not contain invalid characters.",
        ),
        (b"Token not-a-token", "Invalid token."),
        (&huge, "Invalid token."),
        (b"Basic", "Invalid basic header. No credentials provided."),
        (
            b"Basic %%%",
            "Invalid basic header. Credentials not correctly base64 encoded.",
        ),
        (&huge_basic, "Invalid username/password."),
        (b"Basic cm9vdDp3cm9uZw==", "Invalid username/password."),
    ];
    for (header, message) in cases {
        let reply = request(&app, Method::GET, "/api/v1/alpha/tag/", Some(header), None).await;
        assert_eq!(
            (reply.status, reply.json),
            (401, json!({"detail": message})),
            "{:?}",
            String::from_utf8_lossy(header)
        );
        assert!(reply.www_authenticate.is_some());
    }

    // HTTP Basic with a real password works; a wrong one does not.
    let mut connection = setup.kit.platform().connect();
    accounts::add_user(&mut connection, "ann", false, Some("s3cret pass")).unwrap();
    accounts::grant(&mut connection, "ann", "alpha", Role::Read).unwrap();
    use base64::Engine as _;
    let basic = |credentials: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
        .into_bytes()
    };
    assert_eq!(
        request(
            &app,
            Method::GET,
            "/api/v1/alpha/tag/",
            Some(&basic("ann:s3cret pass")),
            None
        )
        .await
        .status,
        200
    );
    assert_eq!(
        request(
            &app,
            Method::GET,
            "/api/v1/alpha/tag/",
            Some(&basic("ann:wrong")),
            None
        )
        .await
        .status,
        401
    );
    assert_eq!(
        request(
            &app,
            Method::GET,
            "/api/v1/alpha/tag/",
            Some(&basic("nobody:x")),
            None
        )
        .await
        .status,
        401
    );
}

/// Issue 24: grants were cached by project name, so a project removed and added again under
/// its name, with another database, was reachable with grants of the old one until the cached
/// verdict expired. Grants name the project's platform id, which the new one does not share.
#[actix_web::test]
async fn a_project_added_again_under_its_name_is_not_reached_with_cached_grants() {
    // Cached verdicts are trusted for an hour: only their key can keep the old grant out.
    let setup = setup(Backend::Sqlite, 3600);
    let app = app(&setup).await;
    let writer = token_header(setup.token("writer_a"));
    let root = token_header(setup.token("root"));
    let list = "/api/v1/alpha/tag/";
    assert_eq!(
        request(&app, Method::GET, list, Some(&writer), None)
            .await
            .status,
        200
    );

    let replacement = tenantapi_testkit::TestDatabase::new(Backend::Sqlite);
    let mut connection = setup.kit.platform().connect();
    tenantapi_server::platform::remove_project(&mut connection, "alpha").unwrap();
    tenantapi_server::platform::add_project(&mut connection, "alpha", &replacement.url).unwrap();
    let registry = setup.kit.registry();
    registry
        .replace_projects(tenantapi_server::platform::enabled_projects(&mut connection).unwrap());
    registry.check_all_now();

    let reply = request(&app, Method::GET, list, Some(&writer), None).await;
    assert_eq!(reply.status, 404, "{}", reply.json);
    // The new project is served (to a superuser): it is the grant that is missing.
    let reply = request(&app, Method::GET, list, Some(&root), None).await;
    assert_eq!((reply.status, &reply.json["count"]), (200, &json!(0)));
}

/// Issue 24: every first HTTP Basic login waits for an argon2 check in one lane (2 running,
/// 8 waiting), and one client's flood of wrong passwords for one username took all of its
/// places, so every other user's first login got 429 while the flood lasted. A username now
/// holds at most its own few places; beyond them that username alone is throttled.
///
/// On SQLite only: the platform database and the credentials are what matter here, and the
/// test kit's platform database is SQLite for both backends.
#[actix_web::test]
async fn one_usernames_password_flood_leaves_other_users_first_basic_login_alone() {
    use base64::Engine as _;
    let setup = setup(Backend::Sqlite, 5);
    let mut connection = setup.kit.platform().connect();
    accounts::add_user(&mut connection, "mallory", false, Some("not guessed")).unwrap();
    accounts::add_user(&mut connection, "carol", false, Some("carol's password")).unwrap();
    accounts::grant(&mut connection, "carol", "alpha", Role::Read).unwrap();
    let app = app(&setup).await;
    let basic = |credentials: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
        .into_bytes()
    };
    let list = "/api/v1/alpha/tag/";
    let guesses: Vec<Vec<u8>> = (0..40)
        .map(|number| basic(&format!("mallory:guess {number}")))
        .collect();
    let flood = futures_util::future::join_all(
        guesses
            .iter()
            .map(|guess| request(&app, Method::GET, list, Some(guess), None)),
    );
    let carol_credentials = basic("carol:carol's password");
    // Polled after every guess was (join polls in order): the guesses are in line first.
    let carol = request(&app, Method::GET, list, Some(&carol_credentials), None);
    let (flooded, carol) = futures_util::future::join(flood, carol).await;

    assert_eq!(carol.status, 200, "{}", carol.json);
    let throttled: Vec<&Reply> = flooded.iter().filter(|reply| reply.status == 429).collect();
    assert!(
        throttled.len() >= 40 - 2,
        "mallory holds at most two places"
    );
    assert_eq!(
        throttled[0].json,
        json!({"detail": "Request was throttled. Expected available in 1 second."})
    );
    for reply in &flooded {
        assert!(
            reply.status == 401 || reply.status == 429,
            "{} {}",
            reply.status,
            reply.json
        );
    }
}
