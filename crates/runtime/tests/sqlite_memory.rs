//! What an idle SQLite connection costs, in a process of its own (SQLite's memory counter is
//! process-wide, so no other test may share it).

use diesel::connection::SimpleConnection as _;
use tenantapi_runtime::db::DbConnection;

/// SQLite's own count of the memory it holds, in bytes.
fn sqlite_memory_used() -> i64 {
    let (mut current, mut highest) = (0i64, 0i64);
    // SAFETY: two valid out-pointers; SQLITE_STATUS_MEMORY_USED is a 64-bit counter.
    let status = unsafe {
        libsqlite3_sys::sqlite3_status64(
            libsqlite3_sys::SQLITE_STATUS_MEMORY_USED,
            &mut current,
            &mut highest,
            0,
        )
    };
    assert_eq!(status, libsqlite3_sys::SQLITE_OK);
    current
}

/// Regression: each connection's page cache began with 20 pages allocated and written at once
/// (about 84 KB), most of an idle connection's cost; a thousand projects paid 84 MB for it.
#[test]
fn idle_sqlite_connections_hold_no_bulk_page_cache() {
    let dir = std::env::temp_dir().join(format!("tenantapi-sqlite-memory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("p.db");
    let url = path.to_str().unwrap().to_string();
    DbConnection::open(&url)
        .unwrap()
        .batch_execute(
            "CREATE TABLE data_point (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
             INSERT INTO data_point (name) VALUES ('one'), ('two');",
        )
        .unwrap();
    let before = sqlite_memory_used();
    let connections: Vec<DbConnection> = (0..50)
        .map(|_| {
            let mut connection = DbConnection::open(&url).unwrap();
            connection
                .batch_execute("SELECT name FROM data_point WHERE id = 1")
                .unwrap();
            connection
        })
        .collect();
    let each = (sqlite_memory_used() - before) / connections.len() as i64;
    drop(connections);
    let _ = std::fs::remove_dir_all(&dir);
    // 110 KB or more with the bulk allocation; about 40 KB without.
    assert!(each < 70_000, "{each} bytes a connection");
}
