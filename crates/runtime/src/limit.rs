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
//! One tenant's slow statements must not hold the others back: an operation counts against
//! the limit for at most [`COUNTED_FOR`], then its permit is returned (it is waiting on locks
//! or scanning; holding the slot would only queue everyone else behind it), and its time is
//! not a sample.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one operation counts against the limit at most.
pub const COUNTED_FOR: Duration = Duration::from_millis(100);

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
    /// Work waiting for its turn, first come first served.
    queue: VecDeque<Queued>,
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
    shape: Shape,
}

enum Held {
    Waiting,
    /// Counting since then.
    Holding(Instant),
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
                queue: VecDeque::new(),
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

    /// A place for one operation of kind `shape`; [`ConcurrencyLimit::submit`] queues its work.
    pub fn permit(self: &Arc<Self>, shape: Shape) -> Arc<LimitPermit> {
        Arc::new(LimitPermit {
            limit: self.clone(),
            held: Mutex::new(Held::Waiting),
            shape,
        })
    }

    /// Runs `job` on a blocking thread when its turn comes, first come first served.
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
                let queued = state.queue.pop_front()?;
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

    /// Counts `permit` in, unless its request gave up on it (`false`).
    fn count_in(state: &mut State, permit: &LimitPermit) -> bool {
        let mut held = permit.held.lock().expect("permit lock poisoned");
        if !matches!(*held, Held::Waiting) {
            return false;
        }
        *held = Held::Holding(Instant::now());
        state.in_flight += 1;
        state.busiest = state.busiest.max(state.in_flight);
        true
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
            Held::Waiting | Held::Done => None,
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
            Held::Waiting | Held::Done => None,
        }
    }

    /// The operation finished: its time is a sample, and its place goes back. Called by the
    /// job on its thread, which then runs the next queued job itself.
    pub fn finish(&self) {
        if let Some(started) = self.take() {
            let seconds = started.elapsed().as_secs_f64();
            self.limit.count_out(Some((self.shape, seconds)));
        }
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape = ("t", "list");

    fn settings() -> LimitSettings {
        LimitSettings {
            initial: 4,
            min: 1,
            max: 16,
            adaptive: true,
        }
    }

    /// Feeds `rounds` rounds of samples at `concurrency` in flight, each taking
    /// `time(concurrency)` seconds.
    fn run(limit: &Arc<ConcurrencyLimit>, rounds: usize, time: impl Fn(usize) -> f64) {
        for _ in 0..rounds {
            let mut state = limit.state.lock().unwrap();
            let current = state.limit;
            state.busiest = current;
            for _ in 0..current {
                limit.learn(&mut state, SHAPE, time(current));
            }
        }
    }

    #[test]
    fn grows_while_time_does_not_rise() {
        let limit = ConcurrencyLimit::new("remote", settings());
        run(&limit, 200, |_| 0.001);
        assert_eq!(
            limit.current(),
            16,
            "a server with spare capacity: up to the cap"
        );
    }

    #[test]
    fn settles_where_queueing_starts_on_a_saturated_server() {
        // Two cores: with n in flight each operation takes n/2 of its time alone.
        let limit = ConcurrencyLimit::new(
            "local",
            LimitSettings {
                initial: 2,
                ..settings()
            },
        );
        run(&limit, 2000, |n| 0.001 * (n as f64 / 2.0).max(1.0));
        // Two served at once and one or two waiting: latency between 1.5 and 2 times the best.
        let settled = limit.current();
        assert!((3..=4).contains(&settled), "settled at {settled}");
    }

    #[test]
    fn shrinks_when_the_server_slows_down() {
        let limit = ConcurrencyLimit::new("shared", settings());
        run(&limit, 200, |_| 0.001);
        assert_eq!(limit.current(), 16);
        // Another client now loads the server: every operation takes five times as long.
        run(&limit, 400, |_| 0.005);
        assert_eq!(limit.current(), 1, "yields while the slowdown is new");
        // Two windows later the slower time is the baseline: the load is the server's normal,
        // and the limit climbs back instead of starving this server's projects.
        for _ in 0..2 {
            let mut state = limit.state.lock().unwrap();
            state.window_started -= BEST_WINDOW;
            limit.learn(&mut state, SHAPE, 0.005);
        }
        run(&limit, 400, |_| 0.005);
        assert_eq!(limit.current(), 16);
    }

    #[test]
    fn shapes_have_their_own_baselines() {
        let limit = ConcurrencyLimit::new("mixed", settings());
        for _ in 0..2000 {
            let mut state = limit.state.lock().unwrap();
            state.busiest = state.limit;
            limit.learn(&mut state, ("t", "retrieve"), 0.0002);
            limit.learn(&mut state, ("t", "list"), 0.005);
        }
        assert!(
            limit.current() > 4,
            "a slow shape alone is not queueing: {}",
            limit.current()
        );
    }

    #[test]
    fn a_fixed_limit_stays_at_its_maximum() {
        let limit = ConcurrencyLimit::new(
            "fixed",
            LimitSettings {
                adaptive: false,
                ..settings()
            },
        );
        assert_eq!(limit.current(), 16);
    }

    fn single(name: &str) -> Arc<ConcurrencyLimit> {
        ConcurrencyLimit::new(
            name,
            LimitSettings {
                initial: 1,
                min: 1,
                max: 1,
                adaptive: false,
            },
        )
    }

    /// A job that reports (its name, whether its turn came in time, its thread), then waits
    /// for `release` before it finishes.
    fn job(
        name: &'static str,
        permit: &Arc<LimitPermit>,
        started: &std::sync::mpsc::Sender<(&'static str, bool, std::thread::ThreadId)>,
        release: Option<std::sync::mpsc::Receiver<()>>,
    ) -> Job {
        let permit = permit.clone();
        let started = started.clone();
        Box::new(move |in_time| {
            started
                .send((name, in_time, std::thread::current().id()))
                .unwrap();
            if let Some(release) = release {
                release.recv().unwrap();
            }
            permit.finish();
        })
    }

    fn later(ms: u64) -> Instant {
        Instant::now() + Duration::from_millis(ms)
    }

    const WAIT: Duration = Duration::from_secs(5);

    type Start = (&'static str, bool, std::thread::ThreadId);

    /// A limit of one whose place is held by a running job until `release`.
    struct HeldPlace {
        limit: Arc<ConcurrencyLimit>,
        started: std::sync::mpsc::Sender<Start>,
        starts: std::sync::mpsc::Receiver<Start>,
        release: std::sync::mpsc::Sender<()>,
        holder: Arc<LimitPermit>,
        holder_thread: std::thread::ThreadId,
    }

    impl HeldPlace {
        fn new(name: &str) -> HeldPlace {
            let limit = single(name);
            let (started, starts) = std::sync::mpsc::channel();
            let (release, released) = std::sync::mpsc::channel();
            let holder = limit.permit(SHAPE);
            limit.submit(
                &holder,
                later(5000),
                job("holder", &holder, &started, Some(released)),
            );
            let (_, _, holder_thread) = starts.recv_timeout(WAIT).unwrap();
            HeldPlace {
                limit,
                started,
                starts,
                release,
                holder,
                holder_thread,
            }
        }

        /// Queues a job that reports its start, with a deadline `ms` from now.
        fn submit(&self, name: &'static str, ms: u64) -> Arc<LimitPermit> {
            let permit = self.limit.permit(SHAPE);
            self.limit
                .submit(&permit, later(ms), job(name, &permit, &self.started, None));
            permit
        }

        fn next_start(&self) -> Start {
            self.starts.recv_timeout(WAIT).unwrap()
        }
    }

    #[actix_web::test]
    async fn queued_work_runs_in_order_on_the_thread_whose_work_ends() {
        let place = HeldPlace::new("handoff");
        let second = place.submit("second", 5000);
        let third = place.submit("third", 5000);
        assert!(
            place
                .starts
                .recv_timeout(Duration::from_millis(100))
                .is_err(),
            "a second job ran beside the first one under a limit of one"
        );
        assert!(second.is_waiting() && third.is_waiting());
        place.release.send(()).unwrap();
        for name in ["second", "third"] {
            let (ran, in_time, thread) = place.next_start();
            assert_eq!((ran, in_time), (name, true));
            assert_eq!(
                thread, place.holder_thread,
                "{name} was handed to another thread"
            );
        }
    }

    #[actix_web::test]
    async fn work_whose_deadline_passed_in_the_queue_is_answered_without_its_turn() {
        let place = HeldPlace::new("deadline");
        place.submit("late", 20);
        std::thread::sleep(Duration::from_millis(50));
        place.release.send(()).unwrap();
        let (name, in_time, _) = place.next_start();
        assert_eq!((name, in_time), ("late", false));
        assert_eq!(place.limit.state.lock().unwrap().in_flight, 0);
    }

    #[actix_web::test]
    async fn work_given_up_while_queued_is_skipped_and_counts_nothing() {
        let place = HeldPlace::new("abandoned");
        let abandoned = place.submit("abandoned", 5000);
        abandoned.stop_counting();
        place.submit("next", 5000);
        place.release.send(()).unwrap();
        let (name, in_time, _) = place.next_start();
        assert_eq!((name, in_time), ("abandoned", false));
        let (name, in_time, _) = place.next_start();
        assert_eq!((name, in_time), ("next", true));
    }

    #[actix_web::test]
    async fn a_long_operation_stops_counting_and_the_queue_goes_on_beside_it() {
        let place = HeldPlace::new("long");
        place.submit("next", 5000);
        assert!(place.holder.counted_until().is_some());
        place.holder.stop_counting();
        let (name, in_time, thread) = place.next_start();
        assert_eq!((name, in_time), ("next", true));
        assert_ne!(
            thread, place.holder_thread,
            "the long operation's thread is still busy"
        );
        place.release.send(()).unwrap();
    }

    #[actix_web::test]
    async fn a_panicking_job_does_not_stall_the_queue() {
        let limit = single("panic");
        let (started, starts) = std::sync::mpsc::channel();
        let (release_first, first_released) = std::sync::mpsc::channel();
        let (first_thread_tx, first_thread) = std::sync::mpsc::channel();
        let first = limit.permit(SHAPE);
        let panicking = first.clone();
        limit.submit(
            &first,
            later(5000),
            Box::new(move |_| {
                first_thread_tx.send(std::thread::current().id()).unwrap();
                first_released.recv().unwrap();
                // Its place goes back first, so that only this thread's loop can start the
                // next job: if the panic ended the loop, nothing would.
                panicking.finish();
                panic!("BUG in a handler");
            }),
        );
        let first_thread = first_thread.recv_timeout(WAIT).unwrap();
        let next = limit.permit(SHAPE);
        limit.submit(&next, later(5000), job("next", &next, &started, None));
        release_first.send(()).unwrap();
        let (name, in_time, thread) = starts.recv_timeout(WAIT).unwrap();
        assert_eq!((name, in_time), ("next", true));
        assert_eq!(thread, first_thread, "the panicking job's thread went on");
    }

    #[actix_web::test]
    async fn places_added_by_a_growing_limit_start_the_queued_work_at_once() {
        let place = HeldPlace::new("growing");
        let (release_second, second_released) = std::sync::mpsc::channel::<()>();
        let second = place.limit.permit(SHAPE);
        place.limit.submit(
            &second,
            later(5000),
            job("second", &second, &place.started, Some(second_released)),
        );
        place.submit("third", 5000);
        place.submit("fourth", 5000);
        // What `learn` does on a finishing thread when latency stays low: more places while
        // the queue waits, and no new request to start them.
        place.limit.state.lock().unwrap().limit = 3;
        place.release.send(()).unwrap();
        // The holder's thread takes the second job, which blocks; the third and fourth can
        // only start on threads of their own.
        let mut ran: Vec<_> = (0..3).map(|_| place.next_start().0).collect();
        ran.sort();
        assert_eq!(ran, ["fourth", "second", "third"]);
        release_second.send(()).unwrap();
    }
}
