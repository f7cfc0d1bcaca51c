//! Hung, refused, killed, restarted and dropped databases, and SQLite files removed or replaced.

use super::*;

#[actix_web::test]
async fn hung_refused_and_killed_databases_leave_other_projects_unaffected() {
    let _serial = one_at_a_time();
    let silent = SilentListener::start();
    let kit = TestKit::builder(Backend::Postgres)
        .project_with_rows("north", tag_rows())
        .project_with_rows("south", tag_rows())
        .project_with_rows("killed", tag_rows())
        .external_project("hung", &silent.url())
        .external_project("refused", &refused_url())
        .superuser("root")
        .configure(|config| {
            config.pool.max_size = 4;
            config.pool.checkout_timeout_ms = 1000;
        })
        .build()
        .unwrap();
    let app = kit.service().await;
    // The kit's startup check tried the hung database once already.
    let attempts_before = silent.accepted.load(Ordering::Relaxed);
    let healthy: Vec<String> = ["north", "south"]
        .iter()
        .flat_map(|project| {
            [
                format!("/api/v1/{project}/tag/1/"),
                format!("/api/v1/{project}/tag/?ordering=-label"),
            ]
        })
        .collect();
    let killed_paths = vec!["/api/v1/killed/tag/1/".to_string()];
    load(&kit, &app, &healthy, 8, 10).await; // warm-up

    // Kills while `killing`, until `done`.
    let (killing, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let killer = {
        let (killing, done) = (killing.clone(), done.clone());
        let database = database_name(kit.database("killed"));
        std::thread::spawn(move || {
            let mut admin = admin();
            let mut kills = 0;
            while !done.load(Ordering::Relaxed) {
                if killing.load(Ordering::Relaxed) {
                    kills += kill_backends(&mut admin, &database);
                }
                std::thread::sleep(Duration::from_millis(300));
            }
            kills
        })
    };
    // Rounds of the same load without the fault (the killed project's clients too, nothing
    // killed) and with it, in turn, so that the machine's own ups and downs fall on both.
    let (mut baselines, mut under_fault) = (Vec::new(), Vec::new());
    let (mut killed, mut hung, mut refused) = (Outcomes::default(), Vec::new(), Vec::new());
    for _ in 0..3 {
        let (healthy_load, _) = futures_util::future::join(
            load(&kit, &app, &healthy, 8, 25),
            load(&kit, &app, &killed_paths, 4, 15),
        )
        .await;
        baselines.push(healthy_load);

        killing.store(true, Ordering::Relaxed);
        let hung_round = futures_util::future::join_all(
            (0..20).map(|_| timed(&kit, &app, "GET", "/api/v1/hung/tag/1/", "root")),
        );
        let refused_round = async {
            let mut answers = Vec::new();
            for _ in 0..2 {
                answers.push(timed(&kit, &app, "GET", "/api/v1/refused/tag/1/", "root").await);
            }
            answers
        };
        let (healthy_load, killed_load, hung_answers, refused_answers) =
            futures_util::future::join4(
                load(&kit, &app, &healthy, 8, 25),
                load(&kit, &app, &killed_paths, 4, 15),
                hung_round,
                refused_round,
            )
            .await;
        killing.store(false, Ordering::Relaxed);
        under_fault.push(healthy_load);
        killed.extend(killed_load);
        hung.extend(hung_answers);
        refused.extend(refused_answers);
    }
    done.store(true, Ordering::Relaxed);
    let kills = killer.join().unwrap();

    assert_unaffected("healthy projects", &baselines, &under_fault);
    assert!(kills > 0, "the killer found connections to kill");
    assert_eq!(
        killed.errors(),
        Vec::<u16>::new(),
        "reads on the killed project are retried on a fresh connection ({kills} killed): {:?}",
        killed.error_bodies
    );
    for (reply, took) in hung {
        assert_eq!(reply.status, 503, "{}", reply.json);
        assert!(reply.headers.contains_key(header::RETRY_AFTER));
        assert!(
            took < Duration::from_millis(1500),
            "the hung project answers within its checkout timeout: {took:?}"
        );
    }
    // The first requests try at most the pool's size of connections at once; once those
    // failed (libpq gives up after 2 s), one probe at a time.
    let attempts = silent.accepted.load(Ordering::Relaxed) - attempts_before;
    assert!(
        attempts <= 4 + 1,
        "the hung project keeps at most its pool's worth of connection attempts: {attempts}"
    );
    for (reply, took) in refused {
        assert_eq!(
            (reply.status, reply.json),
            (
                503,
                json!({"detail": "The project database is unavailable. Try again later."})
            )
        );
        assert!(
            took < Duration::from_millis(800),
            "a refused database answers within the pause between probes: {took:?}"
        );
    }
}

/// Regression: before anything was known of a project's database, every request that found no
/// connection open started its own connection attempt, each holding a thread for
/// the whole connect timeout when the database hangs; a few dozen such projects took every
/// thread database work runs on.
#[actix_web::test]
async fn databases_that_start_hanging_cost_one_connection_attempt_each() {
    let _serial = one_at_a_time();
    let database = TestDatabase::postgres();
    database.execute("INSERT INTO tag (id, label) VALUES (1, 'one')");
    const STUCK: usize = 20;
    // Each on a database server of its own (one proxy each), as projects spread over servers
    // are: projects of one server also share its in-flight limit, which queues their attempts.
    // The same number of projects that stay healthy make the same load without the fault.
    let proxies = || -> Vec<RestartableProxy> {
        (0..STUCK)
            .map(|_| RestartableProxy::start("127.0.0.1:5432".parse().unwrap()))
            .collect()
    };
    let (stuck_servers, fresh_servers) = (proxies(), proxies());
    let mut builder = TestKit::builder(Backend::Postgres)
        .project_with_rows("north", tag_rows())
        .superuser("root")
        .configure(|config| {
            // The healthy twins' connections must fit PostgreSQL's 100: the proxies hide from
            // the per-server budget that they all lead to one server.
            config.pool.max_size = 3;
            config.pool.checkout_timeout_ms = 1000;
        });
    for (prefix, servers) in [("stuck", &stuck_servers), ("fresh", &fresh_servers)] {
        for (number, proxy) in servers.iter().enumerate() {
            let url = format!(
                "postgres://postgres@127.0.0.1:{}/{}",
                proxy.port,
                database_name(&database)
            );
            builder = builder.external_project(&format!("{prefix}{number:02}"), &url);
        }
    }
    let kit = builder.build().unwrap();
    let app = kit.service().await;
    let (kit, app) = (&kit, &app);
    let healthy = vec![
        "/api/v1/north/tag/1/".to_string(),
        "/api/v1/north/tag/?ordering=-label".to_string(),
    ];
    // Twelve requests for each project, in rounds 20 ms apart: the first round finds nothing
    // known of any of them (the startup check kept no connection).
    let bursts = |prefix: &'static str| {
        futures_util::future::join_all((0..12 * STUCK).map(move |request| async move {
            let (round, number) = (request / STUCK, request % STUCK);
            actix_web::rt::time::sleep(Duration::from_millis(20 * round as u64)).await;
            let path = format!("/api/v1/{prefix}{number:02}/tag/1/");
            timed(kit, app, "GET", &path, "root").await
        }))
    };
    load(kit, app, &healthy, 4, 10).await; // warm-up
    let (baseline, fresh) =
        futures_util::future::join(load(kit, app, &healthy, 8, 60), bursts("fresh")).await;
    let refused: Vec<_> = fresh
        .iter()
        .filter(|(reply, _)| reply.status != 200)
        .map(|(reply, took)| (reply.status, reply.json.clone(), *took))
        .collect();
    assert!(refused.is_empty(), "healthy fresh projects: {refused:?}");
    stuck_servers.iter().for_each(RestartableProxy::hang);
    let (under_fault, stuck) =
        futures_util::future::join(load(kit, app, &healthy, 8, 60), bursts("stuck")).await;

    assert_unaffected("a healthy project", &[baseline], &[under_fault]);
    for (reply, took) in stuck {
        assert_eq!(reply.status, 503, "{}", reply.json);
        assert!(reply.headers.contains_key(header::RETRY_AFTER));
        assert!(took < Duration::from_millis(1500), "{took:?}");
    }
    let attempts: usize = stuck_servers
        .iter()
        .map(|proxy| proxy.held.load(Ordering::Relaxed))
        .sum();
    assert!(
        attempts <= STUCK,
        "one connection attempt per project, not one per request: {attempts} for {STUCK} \
         projects"
    );
}

#[actix_web::test]
async fn a_restarted_database_is_served_again_at_once_and_writes_are_not_lost() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Postgres, |config| config.pool.max_size = 4);
    let app = kit.service().await;
    let database = database_name(kit.database("alpha"));
    let warm_up = (0..8).map(|_| timed(&kit, &app, "GET", "/api/v1/alpha/tag/1/", "root"));
    futures_util::future::join_all(warm_up).await;
    let open = kit.registry().open_connections("alpha").unwrap();
    assert!(open >= 2, "several pooled connections: {open}");

    // Every connection killed; the database accepts new ones at once.
    assert_eq!(kill_backends(&mut admin(), &database), open);
    for _ in 0..2 * open {
        let (reply, took) = timed(&kit, &app, "GET", "/api/v1/alpha/tag/1/", "root").await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        assert!(took < Duration::from_secs(1), "{took:?}");
    }
    // No broken connection was handed out twice: only fresh ones remain.
    assert!(kit.registry().open_connections("alpha").unwrap() <= 4);

    // A write on a killed connection is retried only because nothing had reached the database.
    kill_backends(&mut admin(), &database);
    let created = kit
        .call(
            &app,
            "POST",
            "/api/v1/alpha/tag/",
            Some("root"),
            Some(json!({"label": "after restart"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);

    // A write whose connection dies inside its transaction is not applied, and says so.
    // (Another transaction's uncommitted row with the same unique label makes it wait there;
    // a migration holding the version row would not: writes are refused instead.)
    let mut locker = PgConnection::establish(&kit.database("alpha").url).unwrap();
    locker
        .batch_execute("BEGIN; INSERT INTO tag (label) VALUES ('in doubt');")
        .unwrap();
    // Wait until the write waits for that row, then kill its backend.
    let (reply, rows) = write_killed_when(&kit, &app, "in doubt", "wait_event_type = 'Lock'").await;
    locker.batch_execute("ROLLBACK").unwrap();
    assert_eq!(
        (reply.status, reply.json),
        (
            503,
            json!({"detail": "The connection to the project database was lost during the write, which was not applied. Try again."})
        )
    );
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(rows, 0, "not applied");
}

#[actix_web::test]
async fn a_write_whose_connection_dies_while_committing_may_have_been_applied_and_says_so() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Postgres, |config| config.pool.max_size = 2);
    let app = kit.service().await;
    // A deferred constraint trigger runs at COMMIT: the connection is killed there.
    kit.database("alpha").execute(
        "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$; \
         CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON tag DEFERRABLE INITIALLY \
         DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();",
    );
    let (reply, rows) = write_killed_when(
        &kit,
        &app,
        "committing",
        "state = 'active' AND query ILIKE 'COMMIT%'",
    )
    .await;
    assert_eq!(
        (reply.status, reply.json),
        (
            503,
            json!({"detail": "The connection to the project database was lost while the write was being committed: it may or may not have been applied. Read the row before trying again."})
        )
    );
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    // Not retried blindly: at most the one row (here none: the backend died before its commit
    // record), never two.
    assert!(rows <= 1, "{rows} rows");
}

/// POSTs a tag labelled `label` to `alpha` and kills the write's backend once it meets
/// `condition` (see [`terminate_when`]); the answer, and how many such tags exist afterwards.
async fn write_killed_when<S>(kit: &TestKit, app: &S, label: &str, condition: &str) -> (Reply, u64)
where
    S: Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error>,
{
    let database = database_name(kit.database("alpha"));
    let write = kit.call(
        app,
        "POST",
        "/api/v1/alpha/tag/",
        Some("root"),
        Some(json!({ "label": label })),
    );
    let (reply, terminated) =
        futures_util::future::join(write, terminate_when(&database, condition)).await;
    assert!(terminated, "the write was seen meeting {condition}");
    let path = format!("/api/v1/alpha/tag/?label={}", label.replace(' ', "%20"));
    let list = kit.call(app, "GET", &path, Some("root"), None).await;
    (reply, list.json["count"].as_u64().unwrap())
}

#[actix_web::test]
async fn a_database_back_after_a_restart_is_served_within_a_second() {
    let _serial = one_at_a_time();
    let database = TestDatabase::postgres();
    database.execute("INSERT INTO tag (id, label) VALUES (1, 'one')");
    let server: std::net::SocketAddr = "127.0.0.1:5432".parse().unwrap();
    let proxy = RestartableProxy::start(server);
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/{}",
        proxy.port,
        database_name(&database)
    );
    let kit = TestKit::builder(Backend::Postgres)
        .external_project("alpha", &url)
        .superuser("root")
        .build()
        .unwrap();
    let app = kit.service().await;
    let warm = (0..4).map(|_| timed(&kit, &app, "GET", "/api/v1/alpha/tag/1/", "root"));
    for (reply, _) in futures_util::future::join_all(warm).await {
        assert_eq!(reply.status, 200, "{}", reply.json);
    }

    proxy.down();
    for _ in 0..3 {
        let (reply, took) = timed(&kit, &app, "GET", "/api/v1/alpha/tag/1/", "root").await;
        assert_eq!(reply.status, 503, "{}", reply.json);
        assert!(reply.headers.contains_key(header::RETRY_AFTER));
        assert!(
            took < Duration::from_secs(1),
            "a down database answers at once: {took:?}"
        );
    }
    // Clients keep asking every 50 ms; the database comes back after a second.
    let up_at = async {
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        proxy.up();
        Instant::now()
    };
    let clients = async {
        let mut seen = Vec::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            let (reply, _) = timed(&kit, &app, "GET", "/api/v1/alpha/tag/1/", "root").await;
            seen.push((Instant::now(), reply.status));
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        seen
    };
    let (up_at, seen) = futures_util::future::join(up_at, clients).await;
    let first_served = seen
        .iter()
        .find(|(_, status)| *status == 200)
        .map(|(at, _)| *at)
        .expect("served again");
    assert!(
        first_served.saturating_duration_since(up_at) < Duration::from_secs(1),
        "served {:?} after the database came back",
        first_served.saturating_duration_since(up_at)
    );
    assert!(
        seen.iter()
            .filter(|(at, _)| *at > first_served)
            .all(|(_, status)| *status == 200),
        "{seen:?}"
    );
}

#[actix_web::test]
async fn a_dropped_and_recreated_database_answers_503_then_serves_again() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Postgres, |_| {});
    let app = kit.service().await;
    let database = database_name(kit.database("alpha"));
    assert_eq!(
        kit.call(&app, "GET", "/api/v1/alpha/tag/1/", Some("root"), None)
            .await
            .status,
        200
    );
    admin()
        .batch_execute(&format!("DROP DATABASE \"{database}\" WITH (FORCE)"))
        .unwrap();
    for (method, body) in [("GET", None), ("POST", Some(json!({"label": "x"})))] {
        let path = if method == "GET" {
            "/api/v1/alpha/tag/1/"
        } else {
            "/api/v1/alpha/tag/"
        };
        let reply = kit.call(&app, method, path, Some("root"), body).await;
        assert_eq!(reply.status, 503, "{method}: {}", reply.json);
        assert!(reply.headers.contains_key(header::RETRY_AFTER));
    }
    admin()
        .batch_execute(&format!("CREATE DATABASE \"{database}\""))
        .unwrap();
    kit.database("alpha")
        .execute(tenantapi_generated::ddl::POSTGRES);
    kit.database("alpha")
        .execute(tenantapi_generated::INSERT_VERSION_SQL);
    let back = kit
        .call(&app, "GET", "/api/v1/alpha/tag/", Some("root"), None)
        .await;
    assert_eq!((back.status, back.json["count"].clone()), (200, json!(0)));
}

#[actix_web::test]
async fn a_removed_or_replaced_sqlite_file_is_never_written() {
    let _serial = one_at_a_time();
    let kit = alpha_kit(Backend::Sqlite, |_| {});
    let app = kit.service().await;
    let path = kit.database("alpha").url.clone();
    assert_eq!(
        kit.call(&app, "GET", "/api/v1/alpha/tag/1/", Some("root"), None)
            .await
            .status,
        200
    );
    // Keep the old file reachable to inspect it, then remove it as an operator would.
    let kept = format!("{path}.kept");
    std::fs::hard_link(&path, &kept).unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
    for (method, target, body) in [
        ("GET", "/api/v1/alpha/tag/1/", None),
        ("POST", "/api/v1/alpha/tag/", Some(json!({"label": "lost"}))),
    ] {
        let reply = kit.call(&app, method, target, Some("root"), body).await;
        assert_eq!(reply.status, 503, "{method} after removal: {}", reply.json);
    }

    // A different database put in its place is served, and writes go into it.
    let replacement = TestDatabase::sqlite();
    replacement.execute("INSERT INTO tag (id, label) VALUES (7, 'replacement')");
    std::fs::copy(&replacement.url, &path).unwrap();
    let listed = kit
        .call(&app, "GET", "/api/v1/alpha/tag/", Some("root"), None)
        .await;
    assert_eq!(listed.status, 200, "{}", listed.json);
    assert_eq!(
        (
            listed.json["count"].clone(),
            listed.json["results"][0]["label"].clone()
        ),
        (json!(1), json!("replacement"))
    );
    let created = kit
        .call(
            &app,
            "POST",
            "/api/v1/alpha/tag/",
            Some("root"),
            Some(json!({"label": "new"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.json);

    let mut old = diesel::SqliteConnection::establish(&kept).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Label {
        #[diesel(sql_type = diesel::sql_types::Text)]
        label: String,
    }
    let labels: Vec<Label> = diesel::sql_query("SELECT label FROM tag ORDER BY id")
        .load(&mut old)
        .unwrap();
    let labels: Vec<String> = labels.into_iter().map(|row| row.label).collect();
    assert_eq!(
        labels,
        vec!["one", "two"],
        "nothing was written into the old file"
    );
    drop(old);
    let _ = std::fs::remove_file(&kept);
}

/// A write whose connection opens only after its request was answered 503 (at the checkout
/// deadline) must never run: the client, told to try again, would otherwise have its first
/// write applied as well. The job and the request race on one atomic (`http/guard.rs`); the
/// job that loses checks its connection in without running the work.
#[actix_web::test]
async fn a_write_whose_connection_opens_after_its_deadline_never_runs() {
    let _serial = one_at_a_time();
    let database = TestDatabase::postgres();
    let proxy = RestartableProxy::start("127.0.0.1:5432".parse().unwrap());
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/{}",
        proxy.port,
        database_name(&database)
    );
    let kit = TestKit::builder(Backend::Postgres)
        .external_project("alpha", &url)
        .superuser("root")
        .configure(|config| config.pool.checkout_timeout_ms = 500)
        .build()
        .unwrap();
    let app = kit.service().await;
    // No connection is open (the startup check keeps none); the next one takes 1.5 s.
    proxy.delay(Duration::from_millis(1500));
    let started = Instant::now();
    let reply = kit
        .call(
            &app,
            "POST",
            "/api/v1/alpha/tag/",
            Some("root"),
            Some(json!({"id": 7, "label": "late"})),
        )
        .await;
    assert_eq!(reply.status, 503, "{}", reply.json);
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "answered at the deadline, not when the connection opened: {:?}",
        started.elapsed()
    );
    // The connection opens meanwhile; the work it was for must not run.
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        count: i64,
    }
    let written = diesel::sql_query("SELECT count(*) AS count FROM tag")
        .get_result::<Count>(&mut database.connect())
        .unwrap()
        .count;
    assert_eq!(written, 0, "the write answered 503 was applied after all");
    // The connection it opened serves the next request.
    proxy.delay(Duration::ZERO);
    let retried = kit
        .call(
            &app,
            "POST",
            "/api/v1/alpha/tag/",
            Some("root"),
            Some(json!({"id": 7, "label": "late"})),
        )
        .await;
    assert_eq!(retried.status, 201, "{}", retried.json);
}
