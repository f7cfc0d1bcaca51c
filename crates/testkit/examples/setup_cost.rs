//! Benchmark (run by `xtask/bench/testkit.sh`): how long a two-project test setup takes, with
//! 1,000 fixture rows per project, on PostgreSQL and SQLite; and whether creating PostgreSQL
//! databases from a template would be faster than running the DDL.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::{Value, json};
use tenantapi_testkit::{Backend, Role, TestKit, postgres_server_url};

/// 200 data points and 800 readings: 1,000 rows with foreign keys, numerics and timestamps.
fn rows(project: &str) -> Value {
    let points: Vec<Value> = (1..=200)
        .map(|id| json!({"id": id, "name": format!("{project}-{id:04}"), "unit": "kWh"}))
        .collect();
    let readings: Vec<Value> = (1..=800)
        .map(|id| {
            json!({
                "id": id,
                "data_point_id": (id - 1) % 200 + 1,
                "measured_at": format!("2024-06-{:02}T{:02}:00:00Z", (id - 1) / 200 + 1, (id - 1) % 24),
                "value": format!("{}.250000", id),
            })
        })
        .collect();
    json!({"reading": readings, "data_point": points})
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(5);
    let (alpha, beta) = (rows("alpha"), rows("beta"));
    println!("| setup ({runs} runs) | median |");
    println!("|---|---:|");
    for (label, backend) in [
        ("PostgreSQL", Backend::Postgres),
        ("SQLite", Backend::Sqlite),
    ] {
        let mut samples = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let kit = TestKit::builder(backend)
                .project_with_rows("alpha", alpha.clone())
                .project_with_rows("beta", beta.clone())
                .user("ann", &[("alpha", Role::Write), ("beta", Role::Read)])
                .build()
                .expect("kit");
            samples.push(started.elapsed());
            drop(kit);
        }
        println!(
            "| two {label} projects, 1,000 fixture rows each, one user | {:.0} ms |",
            median(samples).as_secs_f64() * 1000.0
        );
    }

    // One project database: CREATE DATABASE + the generated DDL, or a copy of a template.
    let server = postgres_server_url();
    let mut admin = PgConnection::establish(&format!("{server}/postgres")).expect("PostgreSQL");
    let template = format!("tenantapi_bench_template_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {template}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {template}"))
        .unwrap();
    {
        let mut connection = PgConnection::establish(&format!("{server}/{template}")).unwrap();
        connection
            .batch_execute(tenantapi_generated::ddl::POSTGRES)
            .unwrap();
        connection
            .batch_execute(tenantapi_generated::INSERT_VERSION_SQL)
            .unwrap();
    }
    let mut with_ddl = Vec::new();
    let mut from_template = Vec::new();
    for run in 0..runs {
        let name = format!("tenantapi_bench_ddl_{}_{run}", std::process::id());
        let started = Instant::now();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let mut connection = PgConnection::establish(&format!("{server}/{name}")).unwrap();
        connection
            .batch_execute(tenantapi_generated::ddl::POSTGRES)
            .unwrap();
        connection
            .batch_execute(tenantapi_generated::INSERT_VERSION_SQL)
            .unwrap();
        with_ddl.push(started.elapsed());
        drop(connection);
        admin
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .unwrap();

        let name = format!("tenantapi_bench_tpl_{}_{run}", std::process::id());
        let started = Instant::now();
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .unwrap();
        from_template.push(started.elapsed());
        admin
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .unwrap();
    }
    admin
        .batch_execute(&format!("DROP DATABASE {template} WITH (FORCE)"))
        .unwrap();
    println!(
        "| one PostgreSQL project database: CREATE DATABASE + generated DDL + version row | {:.0} ms |",
        median(with_ddl).as_secs_f64() * 1000.0
    );
    println!(
        "| one PostgreSQL project database: CREATE DATABASE ... TEMPLATE | {:.0} ms |",
        median(from_template).as_secs_f64() * 1000.0
    );
}
