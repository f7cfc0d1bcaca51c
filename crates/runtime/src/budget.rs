//! The connection budget of one database server: at most `limit` connections from this process
//! to one host and port, shared first come, first served by every project database on it.
//!
//! Without it, each project's pool may keep its own `max_size` connections, and about ten busy
//! projects exhaust a PostgreSQL server's `max_connections` for everyone, including other
//! applications on that server. A connection holds a [`BudgetPermit`] from the moment it starts
//! connecting until it is closed. A request that needs a new connection while the budget is
//! spent first closes an idle connection of another project on the same server; otherwise it
//! waits in line (FIFO) until a connection is closed or handed over, within its deadline.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Instant;

use crate::database_url::DatabaseUrl;
use crate::limit::{ConcurrencyLimit, LimitSettings};

/// Something that can give back budget by closing connections nobody is using: a project's pool.
pub trait IdleConnections: Send + Sync {
    /// Closes one idle open connection, if there is one; returns whether it did.
    fn close_one_idle(&self) -> bool;
}

/// The budget of one database server.
pub struct HostBudget {
    /// `host:port`, for logs and errors.
    host: String,
    limit: usize,
    state: Mutex<BudgetState>,
    changed: Condvar,
    /// The pools of the projects on this server, asked to close an idle connection when the
    /// budget is spent.
    members: Mutex<Vec<Weak<dyn IdleConnections>>>,
    /// Where the next search for an idle connection starts, so that no project is always the
    /// first to lose its idle connections.
    next_member: AtomicUsize,
}

#[derive(Default)]
struct BudgetState {
    open: usize,
    /// Tickets of the callers waiting, in arrival order.
    waiting: VecDeque<u64>,
    next_ticket: u64,
}

/// Why no connection could be opened within the deadline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("all {limit} connections to {host} are in use")]
pub struct BudgetSpent {
    pub host: String,
    pub limit: usize,
}

/// One connection's share of its server's budget, given back when dropped.
pub struct BudgetPermit {
    budget: Arc<HostBudget>,
}

impl std::fmt::Debug for BudgetPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BudgetPermit({})", self.budget.host)
    }
}

impl Drop for BudgetPermit {
    fn drop(&mut self) {
        let mut state = self.budget.state.lock().expect("budget lock poisoned");
        state.open -= 1;
        drop(state);
        self.budget.changed.notify_all();
    }
}

impl HostBudget {
    pub fn new(host: impl Into<String>, limit: usize) -> Arc<HostBudget> {
        Arc::new(HostBudget {
            host: host.into(),
            limit: limit.max(1),
            state: Mutex::new(BudgetState::default()),
            changed: Condvar::new(),
            members: Mutex::new(Vec::new()),
            next_member: AtomicUsize::new(0),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Connections open (or opening) now.
    pub fn open_connections(&self) -> usize {
        self.state.lock().expect("budget lock poisoned").open
    }

    /// Whether someone waits for a connection: then a connection that is checked in is closed
    /// rather than kept idle, so that the budget goes to the next in line.
    pub fn has_waiters(&self) -> bool {
        !self
            .state
            .lock()
            .expect("budget lock poisoned")
            .waiting
            .is_empty()
    }

    /// Registers a project's pool as a source of idle connections to close.
    pub fn join(&self, member: Weak<dyn IdleConnections>) {
        let mut members = self.members.lock().expect("budget members lock poisoned");
        members.retain(|member| member.strong_count() > 0);
        members.push(member);
    }

    /// A permit for one more connection, waiting in line until `deadline` if the budget is
    /// spent. Blocking: call it off the async threads.
    pub fn acquire(self: &Arc<Self>, deadline: Instant) -> Result<BudgetPermit, BudgetSpent> {
        let mut state = self.state.lock().expect("budget lock poisoned");
        if state.waiting.is_empty() && state.open < self.limit {
            state.open += 1;
            return Ok(self.permit());
        }
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push_back(ticket);
        loop {
            let first_in_line = state.waiting.front() == Some(&ticket);
            if first_in_line && state.open < self.limit {
                state.waiting.pop_front();
                state.open += 1;
                drop(state);
                // The next in line may find room too.
                self.changed.notify_all();
                return Ok(self.permit());
            }
            if first_in_line {
                drop(state);
                let made_room = self.close_an_idle_connection();
                state = self.state.lock().expect("budget lock poisoned");
                if made_room {
                    continue;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                state.waiting.retain(|waiting| *waiting != ticket);
                drop(state);
                self.changed.notify_all();
                return Err(BudgetSpent {
                    host: self.host.clone(),
                    limit: self.limit,
                });
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .expect("budget lock poisoned")
                .0;
        }
    }

    fn permit(self: &Arc<Self>) -> BudgetPermit {
        BudgetPermit {
            budget: self.clone(),
        }
    }

    /// Asks the projects on this server, in turn, to close one idle connection.
    fn close_an_idle_connection(&self) -> bool {
        let members: Vec<Arc<dyn IdleConnections>> = self
            .members
            .lock()
            .expect("budget members lock poisoned")
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        if members.is_empty() {
            return false;
        }
        let start = self.next_member.fetch_add(1, Ordering::Relaxed);
        (0..members.len()).any(|offset| members[(start + offset) % members.len()].close_one_idle())
    }
}

/// The budgets of every database server, created on first use.
pub struct Budgets {
    limit: usize,
    by_server: Mutex<HashMap<String, Arc<HostBudget>>>,
    /// How much database work may be in flight against one server at once.
    in_flight: LimitSettings,
    in_flight_by_server: Mutex<HashMap<String, Arc<ConcurrencyLimit>>>,
    /// SQLite projects run their statements in this process, on its cores: one limit for all.
    in_flight_local: Arc<ConcurrencyLimit>,
    /// SQLite connections live in this process's memory (about 115 KB each) and hold its file
    /// descriptors: one budget for all SQLite projects bounds both.
    local: Arc<HostBudget>,
}

impl Budgets {
    pub fn new(limit_per_server: usize, sqlite_limit: usize, in_flight: LimitSettings) -> Budgets {
        Budgets {
            limit: limit_per_server,
            by_server: Mutex::new(HashMap::new()),
            in_flight,
            in_flight_by_server: Mutex::new(HashMap::new()),
            in_flight_local: ConcurrencyLimit::new("SQLite projects", in_flight),
            local: HostBudget::new("SQLite files".to_string(), sqlite_limit),
        }
    }

    /// The in-flight limit of the server `url` points at (one shared by every SQLite project).
    pub fn in_flight_for_url(&self, url: &str) -> Arc<ConcurrencyLimit> {
        let Some(server) = DatabaseUrl::new(url).server() else {
            return self.in_flight_local.clone();
        };
        let mut by_server = self
            .in_flight_by_server
            .lock()
            .expect("budgets lock poisoned");
        by_server
            .entry(server.clone())
            .or_insert_with(|| ConcurrencyLimit::new(server, self.in_flight))
            .clone()
    }

    /// The budget of the server `url` points at (one shared by every SQLite project).
    pub fn for_url(&self, url: &str) -> Option<Arc<HostBudget>> {
        let Some(server) = DatabaseUrl::new(url).server() else {
            return Some(self.local.clone());
        };
        let mut by_server = self.by_server.lock().expect("budgets lock poisoned");
        Some(
            by_server
                .entry(server.clone())
                .or_insert_with(|| HostBudget::new(server, self.limit))
                .clone(),
        )
    }

    /// `(server, limit, in flight, queued)` of every server's in-flight limit, sorted; SQLite
    /// projects' under the same name as their connection budget.
    pub fn in_flight_report(&self) -> Vec<(String, usize, usize, usize)> {
        let by_server = self
            .in_flight_by_server
            .lock()
            .expect("budgets lock poisoned");
        let mut report: Vec<_> = by_server
            .iter()
            .map(|(server, limit)| (server.clone(), limit))
            .chain([(self.local.host.clone(), &self.in_flight_local)])
            .map(|(server, limit)| {
                let (current, in_flight, queued) = limit.snapshot();
                (server, current, in_flight, queued)
            })
            .collect();
        report.sort();
        report
    }

    /// `(server, open connections, limit)` for every server seen, sorted.
    pub fn report(&self) -> Vec<(String, usize, usize)> {
        let by_server = self.by_server.lock().expect("budgets lock poisoned");
        let mut report: Vec<_> = by_server
            .values()
            .chain([&self.local])
            .map(|budget| (budget.host.clone(), budget.open_connections(), budget.limit))
            .collect();
        report.sort();
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sqlite_projects_share_one_budget_of_their_own() {
        let settings = LimitSettings {
            initial: 4,
            min: 2,
            max: 64,
            adaptive: true,
        };
        let budgets = Budgets::new(50, 7, settings);
        let first = budgets.for_url("data/a.db").unwrap();
        let second = budgets.for_url("sqlite:///srv/b.db").unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!((first.host(), first.limit), ("SQLite files", 7));
        let postgres = budgets.for_url("postgres://u@db:5432/x").unwrap();
        assert_eq!((postgres.host(), postgres.limit), ("db:5432", 50));
        assert_eq!(budgets.report().len(), 2);
    }

    #[test]
    fn a_spent_budget_makes_callers_wait_then_refuses() {
        let budget = HostBudget::new("db:5432", 2);
        let first = budget.acquire(Instant::now()).unwrap();
        let _second = budget.acquire(Instant::now()).unwrap();
        let started = Instant::now();
        let refused = budget.acquire(started + Duration::from_millis(50));
        assert!(refused.is_err());
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(
            !budget.has_waiters(),
            "a caller that gave up leaves the line"
        );
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || budget.acquire(Instant::now() + Duration::from_secs(5)))
        };
        while !budget.has_waiters() {
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(first);
        let handed_over = waiter.join().unwrap();
        assert!(handed_over.is_ok());
        assert_eq!(budget.open_connections(), 2);
    }

    #[test]
    fn waiters_are_served_in_arrival_order() {
        let budget = HostBudget::new("db:5432", 1);
        let held = budget.acquire(Instant::now()).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for number in 0..4 {
            let shared = budget.clone();
            let order = order.clone();
            threads.push(std::thread::spawn(move || {
                let permit = shared
                    .acquire(Instant::now() + Duration::from_secs(5))
                    .unwrap();
                order.lock().unwrap().push(number);
                drop(permit);
            }));
            // Each waiter is in line before the next arrives.
            while budget.state.lock().unwrap().waiting.len() < number + 1 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(held);
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    }

    struct OneIdle(Mutex<Option<BudgetPermit>>);

    impl IdleConnections for OneIdle {
        fn close_one_idle(&self) -> bool {
            self.0.lock().unwrap().take().is_some()
        }
    }

    #[test]
    fn idle_connections_of_other_projects_are_closed_before_waiting() {
        let budget = HostBudget::new("db:5432", 1);
        let idle = Arc::new(OneIdle(Mutex::new(Some(
            budget.acquire(Instant::now()).unwrap(),
        ))));
        let member: Arc<dyn IdleConnections> = idle.clone();
        budget.join(Arc::downgrade(&member));
        let started = Instant::now();
        let permit = budget.acquire(started + Duration::from_secs(5)).unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(
            idle.0.lock().unwrap().is_none(),
            "the idle connection was closed"
        );
        drop(permit);
        assert_eq!(budget.open_connections(), 0);
    }
}
