//! What a connection brings back to its pool, below HTTP: no request's work can leave a
//! transaction open on it, so the next request's work (or behind PgBouncer in transaction mode,
//! another client's) never runs inside one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl as _;
use diesel::connection::TransactionManager as _;
use tenantapi_runtime::connections::db::DbConnection;
use tenantapi_runtime::connections::pool::{Access, ProjectPool};
use tenantapi_runtime::http::error::ApiError;

use super::*;

type Manager = <DbConnection as diesel::Connection>::TransactionManager;

/// Runs `work` as one unit of work on a connection of `pool`, on a thread of its own (the
/// work may panic), and checks the connection back in.
fn unit_of_work(
    pool: &Arc<ProjectPool>,
    work: impl FnMut(&mut DbConnection) -> Result<(), ApiError> + Send + 'static,
) -> std::thread::Result<Result<(), ApiError>> {
    let pool = pool.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut checked = pool.checkout(deadline, None, None)?;
        checked.run(Access::Write, work)
    })
    .join()
}

fn insert_tag(connection: &mut DbConnection, id: i32) -> Result<(), ApiError> {
    diesel::sql_query(format!(
        "INSERT INTO tag (id, label) VALUES ({id}, 'tag {id}')"
    ))
    .execute(connection)?;
    Ok(())
}

/// Tags with these ids that another connection sees (committed ones).
fn committed_tags(kit: &TestKit, ids: &[i32]) -> Vec<i32> {
    #[derive(diesel::QueryableByName)]
    struct Tag {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
    }
    let ids: Vec<String> = ids.iter().map(i32::to_string).collect();
    let tags: Vec<Tag> = diesel::sql_query(format!(
        "SELECT id FROM tag WHERE id IN ({}) ORDER BY id",
        ids.join(", ")
    ))
    .load(&mut kit.database("alpha").connect())
    .unwrap();
    tags.into_iter().map(|tag| tag.id).collect()
}

on_both_backends!(
    a_connection_is_never_checked_in_inside_a_transaction,
    check_in_scenario
);
/// Issue 24: work that panicked inside a transaction, or returned without committing, gave its
/// connection back with the transaction open; the next unit of work on it ran inside that
/// transaction (diesel made its BEGIN a savepoint), so its writes were never committed.
async fn check_in_scenario(backend: Backend) {
    // One connection: every unit of work below gets the same one.
    let fixture = kit(backend, &[], |config| config.pool.max_size = 1);
    let pool = fixture.registry().pool("alpha").expect("project alpha");

    let panicked = unit_of_work(&pool, |connection| {
        diesel::Connection::transaction(connection, |connection| {
            insert_tag(connection, 100)?;
            panic!("a bug inside a unit of work");
        })
    });
    assert!(panicked.is_err(), "the work panicked");
    insert_then_check(&fixture, &pool, 101, &[100]);

    let uncommitted = unit_of_work(&pool, |connection| {
        Manager::begin_transaction(connection)?;
        insert_tag(connection, 102)
    });
    assert!(matches!(uncommitted, Ok(Ok(()))));
    insert_then_check(&fixture, &pool, 103, &[100, 102]);
    assert_eq!(pool.open_connections(), 1, "rolled back, not closed");
}

/// Writes tag `id` in a unit of work of its own, outside any transaction, and checks that
/// another connection sees it and none of `rolled_back`.
fn insert_then_check(kit: &TestKit, pool: &Arc<ProjectPool>, id: i32, rolled_back: &[i32]) {
    let inserted = unit_of_work(pool, move |connection| insert_tag(connection, id));
    assert!(matches!(inserted, Ok(Ok(()))), "{inserted:?}");
    let mut ids = rolled_back.to_vec();
    ids.push(id);
    assert_eq!(committed_tags(kit, &ids), vec![id]);
}
