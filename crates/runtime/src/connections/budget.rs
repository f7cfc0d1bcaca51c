//! The connection budget of one database server: at most `limit` connections from this process
//! to one host and port, shared first come, first served by every project database on it.
//!
//! Without it, each project's pool may keep its own `max_size` connections, and about ten busy
//! projects exhaust a PostgreSQL server's `max_connections` for everyone, including other
//! applications on that server. A connection holds a [`BudgetPermit`] from the moment it starts
//! connecting until it is closed. A request that needs a new connection while the budget is
//! spent first closes an idle connection of another project on the same server (of the project
//! holding the most connections first); otherwise it waits in line until a connection is
//! closed or handed over, within its deadline.
//!
//! The budget is shared fairly between projects while they wait for it: the next connection
//! goes to the waiting project that holds the fewest (first come first served between equals),
//! and a project holding its share (`pool.project_share_percent` of the budget) gets none while
//! another project waits, so that one tenant's slow statements cannot hold every connection of
//! a server other tenants use.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Instant;

use crate::connections::database_url::DatabaseUrl;
use crate::connections::limit::{ConcurrencyLimit, LimitSettings};

/// Something that can give back budget by closing connections nobody is using: a project's pool.
pub trait IdleConnections: Send + Sync {
    /// Whose connections these are (the budget counts each project's).
    fn project(&self) -> &Arc<str>;

    /// Closes one idle open connection, if there is one; returns whether it did.
    fn close_one_idle(&self) -> bool;
}

/// The budget of one database server.
pub struct HostBudget {
    /// `host:port`, for logs and errors.
    host: String,
    limit: usize,
    /// Connections one project may hold while another project waits for one.
    share: usize,
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
    /// Connections open (or opening) per project; projects holding none are left out.
    held: HashMap<Arc<str>, usize>,
    /// The callers waiting, in arrival order: their ticket and project.
    waiting: VecDeque<(u64, Arc<str>)>,
    next_ticket: u64,
}

impl BudgetState {
    fn held_by(&self, project: &str) -> usize {
        self.held.get(project).copied().unwrap_or(0)
    }

    /// The ticket whose turn is next: of the waiters whose project holds less than `share`, the
    /// one whose project holds the fewest (the earliest between equals); if every waiter's
    /// project holds its share, the earliest.
    fn next_in_line(&self, share: usize) -> Option<u64> {
        self.waiting
            .iter()
            .map(|(ticket, project)| (self.held_by(project), *ticket))
            .filter(|(held, _)| *held < share)
            .min()
            .map(|(_, ticket)| ticket)
            .or_else(|| self.waiting.front().map(|(ticket, _)| *ticket))
    }

    fn count_in(&mut self, project: &Arc<str>) {
        self.open += 1;
        *self.held.entry(project.clone()).or_default() += 1;
    }
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
    project: Arc<str>,
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
        if let Some(held) = state.held.get_mut(&self.project) {
            *held -= 1;
            if *held == 0 {
                state.held.remove(&self.project);
            }
        }
        drop(state);
        self.budget.changed.notify_all();
    }
}

impl HostBudget {
    /// `share_percent`: the part of `limit` one project may hold while others wait (at least
    /// one connection).
    pub fn new(host: impl Into<String>, limit: usize, share_percent: u8) -> Arc<HostBudget> {
        let limit = limit.max(1);
        Arc::new(HostBudget {
            host: host.into(),
            limit,
            share: (limit * usize::from(share_percent.min(100)) / 100).max(1),
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

    /// Connections one project may hold while another project waits for one.
    pub fn share(&self) -> usize {
        self.share
    }

    /// Connections `project` holds (open or opening) now.
    pub fn held_by(&self, project: &str) -> usize {
        self.state
            .lock()
            .expect("budget lock poisoned")
            .held_by(project)
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

    /// A permit for one more connection of `project`, waiting in line until `deadline` if the
    /// budget is spent. Blocking: call it off the async threads.
    pub fn acquire(
        self: &Arc<Self>,
        project: &Arc<str>,
        deadline: Instant,
    ) -> Result<BudgetPermit, BudgetSpent> {
        let mut state = self.state.lock().expect("budget lock poisoned");
        if state.waiting.is_empty() && state.open < self.limit {
            state.count_in(project);
            return Ok(self.permit(project));
        }
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push_back((ticket, project.clone()));
        loop {
            let my_turn = state.next_in_line(self.share) == Some(ticket);
            if my_turn && state.open < self.limit {
                state.waiting.retain(|(waiting, _)| *waiting != ticket);
                state.count_in(project);
                drop(state);
                // The next in line may find room too.
                self.changed.notify_all();
                return Ok(self.permit(project));
            }
            if my_turn {
                drop(state);
                let made_room = self.close_an_idle_connection(project);
                state = self.state.lock().expect("budget lock poisoned");
                if made_room {
                    continue;
                }
            }
            let now = Instant::now();
            if now >= deadline {
                state.waiting.retain(|(waiting, _)| *waiting != ticket);
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

    fn permit(self: &Arc<Self>, project: &Arc<str>) -> BudgetPermit {
        BudgetPermit {
            budget: self.clone(),
            project: project.clone(),
        }
    }

    /// Asks the other projects on this server to close one idle connection: those holding the
    /// most connections first, and in turn between equals.
    fn close_an_idle_connection(&self, for_project: &str) -> bool {
        let members: Vec<Arc<dyn IdleConnections>> = self
            .members
            .lock()
            .expect("budget members lock poisoned")
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|member| &**member.project() != for_project)
            .collect();
        if members.is_empty() {
            return false;
        }
        let start = self.next_member.fetch_add(1, Ordering::Relaxed);
        let mut order: Vec<(usize, Arc<dyn IdleConnections>)> = {
            let state = self.state.lock().expect("budget lock poisoned");
            (0..members.len())
                .map(|offset| {
                    let member = members[(start + offset) % members.len()].clone();
                    (state.held_by(member.project()), member)
                })
                .collect()
        };
        // Stable: the rotation stays the order between projects holding as many.
        order.sort_by_key(|(held, _)| std::cmp::Reverse(*held));
        order.iter().any(|(_, member)| member.close_one_idle())
    }
}

/// The budgets of every database server, created on first use.
pub struct Budgets {
    limit: usize,
    share_percent: u8,
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
    pub fn new(
        limit_per_server: usize,
        sqlite_limit: usize,
        share_percent: u8,
        in_flight: LimitSettings,
    ) -> Budgets {
        Budgets {
            limit: limit_per_server,
            share_percent,
            by_server: Mutex::new(HashMap::new()),
            in_flight,
            in_flight_by_server: Mutex::new(HashMap::new()),
            in_flight_local: ConcurrencyLimit::new("SQLite projects", in_flight),
            local: HostBudget::new("SQLite files".to_string(), sqlite_limit, share_percent),
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
                .or_insert_with(|| HostBudget::new(server, self.limit, self.share_percent))
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
        let budgets = Budgets::new(50, 7, 50, settings);
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
        let budget = HostBudget::new("db:5432", 2, 100);
        let first = budget.acquire(&project("a"), Instant::now()).unwrap();
        let _second = budget.acquire(&project("a"), Instant::now()).unwrap();
        let started = Instant::now();
        let refused = budget.acquire(&project("a"), started + Duration::from_millis(50));
        assert!(refused.is_err());
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(
            !budget.has_waiters(),
            "a caller that gave up leaves the line"
        );
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || {
                budget.acquire(&project("b"), Instant::now() + Duration::from_secs(5))
            })
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
        let budget = HostBudget::new("db:5432", 1, 100);
        let held = budget.acquire(&project("a"), Instant::now()).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for number in 0..4 {
            let shared = budget.clone();
            let order = order.clone();
            threads.push(std::thread::spawn(move || {
                let permit = shared
                    .acquire(&project("b"), Instant::now() + Duration::from_secs(5))
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

    fn project(name: &str) -> Arc<str> {
        Arc::from(name)
    }

    /// A project's idle connections, each a permit held until closed.
    struct Idle(Arc<str>, Mutex<Vec<BudgetPermit>>);

    impl IdleConnections for Idle {
        fn project(&self) -> &Arc<str> {
            &self.0
        }

        fn close_one_idle(&self) -> bool {
            self.1.lock().unwrap().pop().is_some()
        }
    }

    #[test]
    fn idle_connections_of_other_projects_are_closed_before_waiting() {
        let budget = HostBudget::new("db:5432", 1, 100);
        let idle = Arc::new(Idle(
            project("a"),
            Mutex::new(vec![budget.acquire(&project("a"), Instant::now()).unwrap()]),
        ));
        let member: Arc<dyn IdleConnections> = idle.clone();
        budget.join(Arc::downgrade(&member));
        let started = Instant::now();
        let permit = budget
            .acquire(&project("b"), started + Duration::from_secs(5))
            .unwrap();
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(
            idle.1.lock().unwrap().is_empty(),
            "the idle connection was closed"
        );
        drop(permit);
        assert_eq!(budget.open_connections(), 0);
    }

    /// A waiter of `name`, in line once this returns; its permit is sent when granted.
    fn waiter(
        budget: &Arc<HostBudget>,
        name: &str,
        granted: &std::sync::mpsc::Sender<(String, BudgetPermit)>,
    ) {
        let in_line = budget.state.lock().unwrap().waiting.len() + 1;
        let (shared, granted, name) = (budget.clone(), granted.clone(), name.to_string());
        std::thread::spawn(move || {
            let permit = shared
                .acquire(&project(&name), Instant::now() + Duration::from_secs(5))
                .unwrap();
            granted.send((name, permit)).unwrap();
        });
        while budget.state.lock().unwrap().waiting.len() < in_line {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn the_next_connection_goes_to_the_waiting_project_holding_the_fewest() {
        let budget = HostBudget::new("db:5432", 4, 100);
        let mut noisy: Vec<BudgetPermit> = (0..3)
            .map(|_| budget.acquire(&project("noisy"), Instant::now()).unwrap())
            .collect();
        let quiet = budget.acquire(&project("quiet"), Instant::now()).unwrap();
        let (granted, grants) = std::sync::mpsc::channel();
        // The noisy project asks first, twice; then the quiet one.
        waiter(&budget, "noisy", &granted);
        waiter(&budget, "noisy", &granted);
        waiter(&budget, "quiet", &granted);
        drop(noisy.pop());
        let (first, first_permit) = grants.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(first, "quiet", "quiet holds one, noisy two: quiet first");
        drop(quiet);
        let (second, _second_permit) = grants.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(second, "noisy");
        drop(first_permit);
        let (third, _third_permit) = grants.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(third, "noisy");
    }

    #[test]
    fn a_project_at_its_share_waits_while_another_project_waits() {
        // Share 50 % of 4: two connections while another project waits.
        let budget = HostBudget::new("db:5432", 4, 50);
        assert_eq!(budget.share(), 2);
        let held: Vec<BudgetPermit> = (0..4)
            .map(|_| budget.acquire(&project("noisy"), Instant::now()).unwrap())
            .collect();
        let (granted, grants) = std::sync::mpsc::channel();
        waiter(&budget, "noisy", &granted);
        waiter(&budget, "quiet", &granted);
        let mut held = held.into_iter();
        drop(held.next());
        // Noisy still holds three, over its share: quiet's turn although noisy asked first.
        let (first, _quiet) = grants.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(first, "quiet");
        drop(held.next());
        // With nobody else waiting, noisy gets the next one past its share.
        let (second, _noisy) = grants.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(second, "noisy");
        assert_eq!(budget.held_by("noisy"), 3);
        assert_eq!(budget.held_by("quiet"), 1);
    }

    #[test]
    fn idle_connections_of_the_project_holding_the_most_are_closed_first() {
        let budget = HostBudget::new("db:5432", 4, 100);
        let few = Arc::new(Idle(
            project("few"),
            Mutex::new(vec![
                budget.acquire(&project("few"), Instant::now()).unwrap(),
            ]),
        ));
        let many = Arc::new(Idle(
            project("many"),
            Mutex::new(
                (0..3)
                    .map(|_| budget.acquire(&project("many"), Instant::now()).unwrap())
                    .collect(),
            ),
        ));
        for member in [few.clone(), many.clone()] {
            let member: Arc<dyn IdleConnections> = member;
            budget.join(Arc::downgrade(&member));
            std::mem::forget(member);
        }
        let _permit = budget
            .acquire(&project("new"), Instant::now() + Duration::from_secs(5))
            .unwrap();
        assert_eq!(many.1.lock().unwrap().len(), 2, "one of many's closed");
        assert_eq!(few.1.lock().unwrap().len(), 1, "few's kept");
    }
}
