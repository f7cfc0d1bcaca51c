//! Filters and orderings on real-world types: enums, lists, citext, char(n), text forms, views.

use super::*;

on_both_backends!(filters_on_real_world_types, filters_scenario);
async fn filters_scenario(backend: Backend) {
    let database = sample(backend);
    let kit = kit(&database);
    let service = kit.service().await;
    let get = |path: &str| format!("/api/v1/store/{path}");

    let reply = call!(kit, service, "GET", &get("film/?rating=PG"));
    assert_eq!(titles(&reply), ["ACADEMY DINOSAUR"], "an enum value");
    let reply = call!(kit, service, "GET", &get("film/?rating__in=G,NC-17"));
    assert_eq!(titles(&reply), ["ACE GOLDFINGER", "ADAPTATION HOLES"]);
    let reply = call!(kit, service, "GET", &get("film/?rating=X"));
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json,
        json!({"rating": ["\"X\" is not a valid choice."]})
    );
    let reply = call!(kit, service, "GET", &get("film/?rating__isnull=true"));
    assert_eq!(titles(&reply), ["AFFAIR PREJUDICE"]);

    let reply = call!(
        kit,
        service,
        "GET",
        &get("film/?special_features__contains=Trailers")
    );
    assert_eq!(
        titles(&reply),
        ["ACE GOLDFINGER", "ADAPTATION HOLES"],
        "a list item"
    );
    let reply = call!(
        kit,
        service,
        "GET",
        &get("film/?special_features__contains=Trailers,Deleted%20Scenes")
    );
    assert_eq!(titles(&reply), ["ACE GOLDFINGER"], "every item");
    let reply = call!(kit, service, "GET", &get("film/?special_features__gt=a"));
    assert_eq!(
        reply.status, 400,
        "lists take no range lookups: {}",
        reply.json
    );
    let reply = call!(
        kit,
        service,
        "GET",
        &get("customer/?favourite_films__contains=3")
    );
    assert_eq!(reply.json["count"], 1, "{}", reply.json);
    assert_eq!(reply.json["results"][0]["first_name"], "Mary");
    let reply = call!(
        kit,
        service,
        "GET",
        &get("customer/?favourite_films__contains=x")
    );
    assert_eq!(
        reply.json,
        json!({"favourite_films__contains": ["A valid integer is required."]})
    );

    let reply = call!(
        kit,
        service,
        "GET",
        &get("customer/?email=MARY.SMITH@EXAMPLE.COM")
    );
    assert_eq!(
        reply.json["count"], 1,
        "citext compares without case: {}",
        reply.json
    );
    let reply = call!(
        kit,
        service,
        "GET",
        &get("customer/?email__startswith=PATRICIA")
    );
    assert_eq!(reply.json["count"], 1, "{}", reply.json);
    let reply = call!(
        kit,
        service,
        "GET",
        &get("customer/?postal%20code=SW1A%201AA")
    );
    assert_eq!(
        reply.json["count"], 1,
        "a column named with a space: {}",
        reply.json
    );
    assert_eq!(reply.json["results"][0]["postal code"], "SW1A 1AA");
    let reply = call!(kit, service, "GET", &get("language/?name=English"));
    assert_eq!(
        reply.json["count"], 1,
        "char(n) compares as the database does: {}",
        reply.json
    );

    let reply = call!(kit, service, "GET", &get("film/?release_year__gte=2007"));
    assert_eq!(
        titles(&reply),
        ["ADAPTATION HOLES"],
        "a domain over integer"
    );
    let reply = call!(kit, service, "GET", &get("film/?fulltext__isnull=false"));
    assert_eq!(reply.json["count"], 4, "{}", reply.json);
    let reply = call!(kit, service, "GET", &get("film/?fulltext=x"));
    assert_eq!(
        reply.status, 400,
        "a text form is not compared: {}",
        reply.json
    );

    let reply = call!(kit, service, "GET", &get("film_list/?ordering=-length"));
    let lengths: Vec<Value> = reply.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["length"].clone())
        .collect();
    let expected = match backend {
        // NULL sorts first descending on PostgreSQL, last on SQLite.
        Backend::Postgres => json!([null, 117, 86, 48]),
        Backend::Sqlite => json!([117, 86, 48, null]),
    };
    assert_eq!(Value::Array(lengths), expected);
    let reply = call!(kit, service, "GET", &get("film/?ordering=rating"));
    let expected = match backend {
        // PostgreSQL orders an enum by its declared values (NULL last); SQLite by text (NULL
        // first).
        Backend::Postgres => [
            "ACE GOLDFINGER",
            "ACADEMY DINOSAUR",
            "ADAPTATION HOLES",
            "AFFAIR PREJUDICE",
        ],
        Backend::Sqlite => [
            "AFFAIR PREJUDICE",
            "ACE GOLDFINGER",
            "ADAPTATION HOLES",
            "ACADEMY DINOSAUR",
        ],
    };
    assert_eq!(titles(&reply), expected);
    let reply = call!(kit, service, "GET", &get("film/?ordering=special_features"));
    assert_eq!(reply.status, 400, "lists have no order: {}", reply.json);
}

/// `@` on a column described as `database_type = "tsvector"` (the description's search entry
/// `@fulltext`) matches the stored vector as it is: the same rows as the database's own
/// `fulltext @@ plainto_tsquery(term)` for each term, and a GIN index on the column serves it
/// (a `to_tsvector` of its text could not use one). The sample's description has no search
/// entries (it is what introspection writes), so the film table's metadata is given one here.
#[test]
fn a_full_text_search_matches_a_tsvector_column_as_it_is() {
    use diesel::connection::SimpleConnection as _;
    use tenantapi_runtime::connections::db::BackendKind;
    use tenantapi_runtime::data::meta::{SearchFieldMeta, SearchMode};
    use tenantapi_runtime::data::sql::SqlStatement;
    use tenantapi_runtime::data::sql::positional;
    use tenantapi_runtime::http::list::{PageSettings, parse_list_request_with_relations};

    let database = sample(Backend::Postgres);
    let film: &'static TableMeta = Box::leak(Box::new(TableMeta {
        search: &[SearchFieldMeta {
            mode: SearchMode::FullText,
            via: None,
            column: "fulltext",
            written: "@fulltext",
        }],
        ..tenantapi_realworld::tables::film::META
    }));
    let mut connection = database.connect();
    connection
        .batch_execute("SET search_path TO store, public")
        .unwrap();
    let search = |connection: &mut _, terms: &str| {
        let pairs = vec![("search".to_string(), terms.to_string())];
        let filter = parse_list_request_with_relations(
            film,
            BackendKind::Postgres,
            &pairs,
            PageSettings::default(),
            &|_| None,
        )
        .expect("a valid search")
        .filter;
        let count = positional::count(connection, film, filter.clone()).unwrap();
        (count, filter)
    };
    for (terms, expected) in [
        ("dramas scientist", 1),
        ("astounding", 2),
        ("astounding lumberjacks", 1),
        ("dinosaur", 1),
        ("goldfinger database", 1),
        ("unicorn", 0),
    ] {
        let (count, _) = search(&mut connection, terms);
        let own: Vec<i64> = diesel::RunQueryDsl::load(
            {
                let mut statement = SqlStatement::new();
                statement.sql("SELECT COUNT(*) FROM film WHERE TRUE");
                for term in terms.split(' ') {
                    statement
                        .sql(" AND fulltext @@ plainto_tsquery(")
                        .bind(tenantapi_runtime::data::sql::SqlValue::Text(term.into()))
                        .sql(")");
                }
                statement.returning_integer()
            },
            &mut connection,
        )
        .unwrap();
        assert_eq!((count, own[0]), (expected, expected), "search={terms}");
    }

    connection
        .batch_execute(
            "CREATE INDEX film_fulltext_gin ON film USING gin (fulltext); ANALYZE film; \
             SET enable_seqscan = off",
        )
        .unwrap();
    let (_, filter) = search(&mut connection, "astounding");
    let mut explain = SqlStatement::new();
    explain
        .sql("EXPLAIN SELECT 1 FROM film WHERE ")
        .condition(&filter);
    let plan: Vec<String> =
        diesel::RunQueryDsl::load(explain.returning_text(), &mut connection).unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("film_fulltext_gin"), "{plan}");
}
