//! An adaptive limit on the database work in flight at once against one database server
//! (every project on it together), so that requests queue here, first come first served,
//! instead of as runnable threads and backends competing for the same cores.
//!
//! Measured on the 2-core machine (GET by id, 32 connections): 10 queries in flight gave
//! 18,300 req/s with a p99 of 44 ms and a 636 ms maximum; 4 gave 16,400 req/s, p99 3.6 ms,
//! maximum 14 ms (BENCHMARKS.md). No fixed number fits every server, so the limit follows the
//! latency it causes: each operation's time is compared with the best time seen for the same
//! kind of operation (its *shape*: a table's list, a key lookup, a write), and the smoothed
//! ratio says how much of the time was waiting. While operations take less than
//! [`GROW_BELOW_RATIO`] times their best and the limit is used, it grows by one per round;
//! past [`SHRINK_ABOVE_RATIO`] it shrinks by one. A server with spare cores (or a network
//! between) keeps the ratio near one and the limit climbs to its cap; a saturated one settles
//! where latency stays within about twice its floor, whatever the number of its cores.
//!
//! The rule is on the ratio, not on an estimate of the statements queued (TCP Vegas's form,
//! used before): a fixed number queued is a small delay on a large server and a large one on
//! a small server. On 2 cores with PostgreSQL local, Vegas's 3-6 queued settled at 7-8 in
//! flight for a counted list page (p99 43-51 ms, max 212-263 ms); the ratio settles at 2-3
//! (p99 11.3-11.7 ms, max 22-23 ms) for 17 % fewer pages a second, and for GET by id keeps the
//! throughput with a maximum of 6.5 ms instead of 28-30 ms (BENCHMARKS.md).
//!
//! Work waiting for a place is served fairly between projects: round robin over the projects
//! with work waiting, each project's own work in arrival order, so that a project with a
//! hundred statements queued gets no more turns than one with a single statement while both
//! wait (a first-come-first-served queue let one project's flood delay every other project on
//! the server by the whole flood). And while several projects are active (work running or
//! queued, or within the last [`ACTIVE_FOR`]), none starts more work while it has its share of
//! the limit running (the limit divided by the active projects, at least one), long work that
//! stopped counting included: a project's expensive scans then take at most its share of the
//! server's cores, and the others' short statements the rest (measured in BENCHMARKS.md,
//! `xtask/bench/neighbour.sh`).
//!
//! One tenant's slow statements must not hold the others back: an operation counts against
//! the limit for at most [`COUNTED_FOR`], then its permit is returned (it is waiting on locks
//! or scanning; holding the slot would only queue everyone else behind it), and its time is
//! not a sample.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one operation counts against the limit at most.
pub const COUNTED_FOR: Duration = Duration::from_millis(100);

/// A project whose work ended this recently is still active: its next statement is on its way
/// (a client's next request), and another project's long work must not take its share meanwhile.
pub const ACTIVE_FOR: Duration = Duration::from_millis(100);

/// Operations taking less than this many times their best leave room: the limit may grow.
pub const GROW_BELOW_RATIO: f64 = 1.5;
/// Operations taking more than this many times their best are mostly waiting: it shrinks.
pub const SHRINK_ABOVE_RATIO: f64 = 2.0;
/// Weight of a new sample in the smoothed ratio.
const SMOOTHING: f64 = 0.05;
/// A single sample counts at most this ratio (one stalled statement must not swing the limit).
const SAMPLE_CAP: f64 = 10.0;
/// A shape's best time is the least seen in the current and the previous window of this length:
/// old enough to include the lucky operations that ran alone even on a busy server, young
/// enough that a table which grew gets a new baseline.
const BEST_WINDOW: Duration = Duration::from_secs(10);

/// What kind of operation a piece of database work is, for its latency baseline.
pub type Shape = (&'static str, &'static str);

/// Blocking work submitted under the limit. It is called once: with `true` when its turn came
/// in time, with `false` when its deadline passed (or its request gave up) while it was queued,
/// so that it can answer without touching the database.
pub type Job = Box<dyn FnOnce(bool) + Send + 'static>;

/// The bounds and start of a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    pub initial: usize,
    pub min: usize,
    pub max: usize,
    /// `false`: the limit stays at `max`.
    pub adaptive: bool,
}

pub struct ConcurrencyLimit {
    /// Where it applies, for logs.
    name: String,
    settings: LimitSettings,
    state: Mutex<State>,
}

struct State {
    /// Operations that may count at once (the target).
    limit: usize,
    in_flight: usize,
    /// Work waiting for its turn: round robin between projects.
    queue: FairQueue,
    /// Work started and not ended, per project (counting or not); projects with none left out.
    running: HashMap<Arc<str>, usize>,
    /// When each project's work last started or ended, for [`ACTIVE_FOR`]; pruned as it ages.
    last_active: HashMap<Arc<str>, Instant>,
    /// The most operations in flight at once during this round.
    busiest: usize,
    round_samples: usize,
    ratio: f64,
    /// Per shape: the least time of the current window and of the previous one.
    best: HashMap<Shape, (f64, f64)>,
    window_started: Instant,
}

struct Queued {
    permit: Arc<LimitPermit>,
    deadline: Instant,
    job: Job,
}

/// Queued work by project, served round robin: each turn goes to the project after the one
/// served last, and within a project to its oldest work.
#[derive(Default)]
struct FairQueue {
    lanes: HashMap<Arc<str>, VecDeque<Queued>>,
    /// The projects with work waiting, the next to be served first.
    rotation: VecDeque<Arc<str>>,
    len: usize,
}

impl FairQueue {
    fn push_back(&mut self, queued: Queued) {
        let project = queued.permit.project.clone();
        let lane = self.lanes.entry(project.clone()).or_default();
        if lane.is_empty() {
            self.rotation.push_back(project);
        }
        lane.push_back(queued);
        self.len += 1;
    }

    /// The oldest work of the first project in turn that `may_start`, or whose oldest work is
    /// stale (past its deadline or given up: answered without a turn); that project goes to
    /// the back of the rotation.
    fn pop_next(&mut self, now: Instant, may_start: impl Fn(&str) -> bool) -> Option<Queued> {
        let position = self.rotation.iter().position(|project| {
            let front = self.lanes[project]
                .front()
                .expect("BUG: an empty lane in the rotation");
            front.deadline <= now || !front.permit.is_waiting() || may_start(project)
        })?;
        let project = self
            .rotation
            .remove(position)
            .expect("BUG: the position was found");
        let lane = self
            .lanes
            .get_mut(&project)
            .expect("BUG: a project in the rotation without a lane");
        let queued = lane
            .pop_front()
            .expect("BUG: an empty lane in the rotation");
        if lane.is_empty() {
            self.lanes.remove(&project);
        } else {
            self.rotation.push_back(project);
        }
        self.len -= 1;
        Some(queued)
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for ConcurrencyLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcurrencyLimit")
            .field("name", &self.name)
            .field("limit", &self.current())
            .finish()
    }
}

/// One operation's place under the limit. Shared between the request, which stops it counting
/// after [`COUNTED_FOR`] or when it gives up, and the job, which gives it back the moment the
/// work ends ([`LimitPermit::finish`]).
pub struct LimitPermit {
    limit: Arc<ConcurrencyLimit>,
    held: Mutex<Held>,
    /// Whose work it is: turns are shared fairly between projects.
    project: Arc<str>,
    shape: Shape,
    /// The work started (it was counted in) and has not ended: it is in `State::running`.
    running: std::sync::atomic::AtomicBool,
}

enum Held {
    Waiting,
    /// Counting since then.
    Holding(Instant),
    /// Granted, its place given back for a while (opening a connection).
    Paused,
    /// Finished, stopped counting, or given up on before it was granted.
    Done,
}

impl ConcurrencyLimit {
    pub fn new(name: impl Into<String>, settings: LimitSettings) -> Arc<ConcurrencyLimit> {
        let min = settings.min.max(1);
        let max = settings.max.max(min);
        let settings = LimitSettings {
            min,
            max,
            initial: if settings.adaptive {
                settings.initial.clamp(min, max)
            } else {
                max
            },
            adaptive: settings.adaptive,
        };
        Arc::new(ConcurrencyLimit {
            name: name.into(),
            settings,
            state: Mutex::new(State {
                limit: settings.initial,
                in_flight: 0,
                queue: FairQueue::default(),
                running: HashMap::new(),
                last_active: HashMap::new(),
                busiest: 0,
                round_samples: 0,
                ratio: 1.0,
                best: HashMap::new(),
                window_started: Instant::now(),
            }),
        })
    }

    /// The operations that may be in flight at once now.
    pub fn current(&self) -> usize {
        self.state.lock().expect("limit lock poisoned").limit
    }

    /// `(limit, in flight, queued)` now, for metrics.
    pub fn snapshot(&self) -> (usize, usize, usize) {
        let state = self.state.lock().expect("limit lock poisoned");
        (state.limit, state.in_flight, state.queue.len())
    }

    /// A place for one operation of kind `shape` of `project`; [`ConcurrencyLimit::submit`]
    /// queues its work.
    pub fn permit(self: &Arc<Self>, project: Arc<str>, shape: Shape) -> Arc<LimitPermit> {
        Arc::new(LimitPermit {
            limit: self.clone(),
            held: Mutex::new(Held::Waiting),
            project,
            shape,
            running: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Runs `job` on a blocking thread when its turn comes: round robin between projects,
    /// first come first served within one.
    ///
    /// Below the limit it starts a thread at once. Otherwise it waits in the queue, and the
    /// thread whose work ends next runs it in turn: a request waiting here is a queued closure,
    /// not a parked thread, so a turn passes without waking anyone (a parked thread per waiting
    /// request cost a context switch and two futex calls per request: BENCHMARKS.md). `job`
    /// must call [`LimitPermit::finish`] on `permit` when its database work ends.
    ///
    /// Must be called from the async runtime (it spawns blocking threads).
    pub fn submit(self: &Arc<Self>, permit: &Arc<LimitPermit>, deadline: Instant, job: Job) {
        self.state
            .lock()
            .expect("limit lock poisoned")
            .queue
            .push_back(Queued {
                permit: permit.clone(),
                deadline,
                job,
            });
        self.start_what_fits();
    }

    /// Starts a thread for each queued job the free places allow.
    fn start_what_fits(self: &Arc<Self>) {
        while let Some((job, _)) = self.next_job() {
            self.start_thread(job);
        }
    }

    fn start_thread(self: &Arc<Self>, first: Job) {
        // Blocking threads run inside the runtime too, so this works from a job's thread; only
        // a request dropped after the runtime (at shutdown) finds none, and its queue goes with
        // the process.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::debug!("{}: no runtime to start queued work on", self.name);
            return;
        };
        let limit = self.clone();
        // The handle is not awaited: the job answers its request through its own channel.
        drop(runtime.spawn_blocking(move || {
            let mut job = first;
            loop {
                // A job that panics has dropped its answer (its request sees the task fail and
                // gives its place back); this thread goes on with the queue.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(true)));
                let Some((next, room_for_more)) = limit.next_job() else {
                    return;
                };
                job = next;
                // The limit grew meanwhile: the new places start threads of their own.
                if room_for_more {
                    limit.start_what_fits();
                }
            }
        }));
    }

    /// The next queued job whose turn has come, counted in. Jobs whose deadline passed, or
    /// whose request gave up, are answered on the way without counting, before the next one
    /// is counted in (its time starts when it can run). With it, whether more queued work
    /// could start now.
    fn next_job(&self) -> Option<(Job, bool)> {
        loop {
            let (queued, counted, room_for_more) = {
                let mut state = self.state.lock().expect("limit lock poisoned");
                if state.in_flight >= state.limit {
                    return None;
                }
                let now = Instant::now();
                let share = Self::share(&mut state, now);
                let running = std::mem::take(&mut state.running);
                let next = state.queue.pop_next(now, |project| {
                    share.is_none_or(|share| running.get(project).copied().unwrap_or(0) < share)
                });
                state.running = running;
                let queued = next?;
                let counted =
                    queued.deadline > Instant::now() && Self::count_in(&mut state, &queued.permit);
                let room_for_more = state.in_flight < state.limit && !state.queue.is_empty();
                (queued, counted, room_for_more)
            };
            // Outside the lock: the permit may be the last reference to its request's place,
            // and answering may log.
            let Queued { permit, job, .. } = queued;
            drop(permit);
            if counted {
                return Some((job, room_for_more));
            }
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(false)));
        }
    }

    /// What one project may have running while others are active: `None` while at most one
    /// project is (it may use the whole limit).
    fn share(state: &mut State, now: Instant) -> Option<usize> {
        state
            .last_active
            .retain(|_, at| now.saturating_duration_since(*at) < ACTIVE_FOR);
        // Counted without allocating: this runs for every turn.
        let running = &state.running;
        let queued = &state.queue.lanes;
        let active = running.len()
            + queued
                .keys()
                .filter(|project| !running.contains_key(*project))
                .count()
            + state
                .last_active
                .keys()
                .filter(|project| !running.contains_key(*project) && !queued.contains_key(*project))
                .count();
        (active > 1).then(|| (state.limit / active).max(1))
    }

    /// Counts `permit` in, unless its request gave up on it (`false`).
    fn count_in(state: &mut State, permit: &LimitPermit) -> bool {
        let mut held = permit.held.lock().expect("permit lock poisoned");
        if !matches!(*held, Held::Waiting) {
            return false;
        }
        let now = Instant::now();
        *held = Held::Holding(now);
        state.in_flight += 1;
        state.busiest = state.busiest.max(state.in_flight);
        permit
            .running
            .store(true, std::sync::atomic::Ordering::Release);
        *state.running.entry(permit.project.clone()).or_default() += 1;
        state.last_active.insert(permit.project.clone(), now);
        true
    }

    /// The work of `permit` ended (counting or not): it no longer runs for its project.
    fn work_ended(&self, permit: &LimitPermit) {
        if !permit
            .running
            .swap(false, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let mut state = self.state.lock().expect("limit lock poisoned");
        if let Some(running) = state.running.get_mut(&permit.project) {
            *running -= 1;
            if *running == 0 {
                state.running.remove(&permit.project);
            }
        }
        state
            .last_active
            .insert(permit.project.clone(), Instant::now());
    }

    fn count_out(&self, sample: Option<(Shape, f64)>) {
        let mut state = self.state.lock().expect("limit lock poisoned");
        state.in_flight = state.in_flight.saturating_sub(1);
        if let Some((shape, seconds)) = sample
            && self.settings.adaptive
        {
            self.learn(&mut state, shape, seconds);
        }
    }

    fn learn(&self, state: &mut State, shape: Shape, seconds: f64) {
        let seconds = seconds.max(1e-6);
        if state.window_started.elapsed() >= BEST_WINDOW {
            state.window_started = Instant::now();
            for (current, previous) in state.best.values_mut() {
                *previous = *current;
                *current = f64::INFINITY;
            }
        }
        let (current, previous) = state.best.entry(shape).or_insert((seconds, seconds));
        *current = current.min(seconds);
        let best = current.min(*previous);
        let sample = (seconds / best).min(SAMPLE_CAP);
        state.ratio = state.ratio * (1.0 - SMOOTHING) + sample * SMOOTHING;
        state.round_samples += 1;
        if state.round_samples < state.limit {
            return;
        }
        // One round: as many samples as the limit.
        let before = state.limit;
        let used = state.busiest >= state.limit;
        if state.ratio < GROW_BELOW_RATIO && used && state.limit < self.settings.max {
            state.limit += 1;
        } else if state.ratio > SHRINK_ABOVE_RATIO && state.limit > self.settings.min {
            state.limit -= 1;
        }
        if state.limit != before {
            tracing::debug!(
                "{}: in-flight limit {} -> {} (latency {:.2}x the best)",
                self.name,
                before,
                state.limit,
                state.ratio
            );
        }
        state.round_samples = 0;
        state.busiest = state.in_flight;
    }
}

impl LimitPermit {
    /// While the permit is held: when it stops counting ([`COUNTED_FOR`] after it was granted).
    pub fn counted_until(&self) -> Option<Instant> {
        match &*self.held.lock().expect("permit lock poisoned") {
            Held::Holding(started) => Some(*started + COUNTED_FOR),
            Held::Waiting | Held::Paused | Held::Done => None,
        }
    }

    /// Granted, and its place given back for a while ([`LimitPermit::pause`]).
    pub fn is_paused(&self) -> bool {
        matches!(
            *self.held.lock().expect("permit lock poisoned"),
            Held::Paused
        )
    }

    /// Gives the place back while the work does something that is not a statement (opening a
    /// connection: its time is no sample, and other work may run meanwhile).
    pub fn pause(&self) {
        let mut held = self.held.lock().expect("permit lock poisoned");
        if matches!(*held, Held::Holding(_)) {
            *held = Held::Paused;
            drop(held);
            self.limit.count_out(None);
            self.limit.start_what_fits();
        }
    }

    /// Counts the paused work in again, from now, without waiting for a place: it had one
    /// (so the limit is passed by at most the work coming back from pauses at once).
    pub fn resume(&self) {
        let mut held = self.held.lock().expect("permit lock poisoned");
        if matches!(*held, Held::Paused) {
            *held = Held::Holding(Instant::now());
            drop(held);
            let mut state = self.limit.state.lock().expect("limit lock poisoned");
            state.in_flight += 1;
            state.busiest = state.busiest.max(state.in_flight);
        }
    }

    /// Not granted yet, nor given up on.
    pub fn is_waiting(&self) -> bool {
        matches!(
            *self.held.lock().expect("permit lock poisoned"),
            Held::Waiting
        )
    }

    /// Marks the permit done; when it was counting, since when.
    fn take(&self) -> Option<Instant> {
        let mut held = self.held.lock().expect("permit lock poisoned");
        match std::mem::replace(&mut *held, Held::Done) {
            Held::Holding(started) => Some(started),
            Held::Waiting | Held::Paused | Held::Done => None,
        }
    }

    /// The operation finished: its time is a sample, and its place goes back. Called by the
    /// job on its thread, which then runs the next queued job itself.
    pub fn finish(&self) {
        if let Some(started) = self.take() {
            let seconds = started.elapsed().as_secs_f64();
            self.limit.count_out(Some((self.shape, seconds)));
        }
        self.limit.work_ended(self);
    }

    /// The operation has run too long to be a sample, or its request gave up: its place goes
    /// back without one, and queued work starts on new threads as the places allow (the
    /// thread still busy with this operation cannot take it).
    pub fn stop_counting(&self) {
        if self.take().is_some() {
            self.limit.count_out(None);
            self.limit.start_what_fits();
        }
    }
}

impl Drop for LimitPermit {
    fn drop(&mut self) {
        // Normally finished or stopped already; a permit still counting when its last owner
        // lets go gives its place back like a request that gave up.
        self.stop_counting();
        if self.running.load(std::sync::atomic::Ordering::Acquire) {
            // Its job ended without finishing (it panicked): its project's work no longer runs.
            self.limit.work_ended(self);
            self.limit.start_what_fits();
        }
    }
}

#[cfg(test)]
mod tests;
