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

use std::collections::HashMap;
use std::future::Future;
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
    semaphore: Arc<tokio::sync::Semaphore>,
    state: Mutex<State>,
}

struct State {
    /// Permits in circulation (the target).
    limit: usize,
    /// Permits to forget as they come back, after the limit shrank.
    to_retire: usize,
    in_flight: usize,
    /// The most operations in flight at once during this round.
    busiest: usize,
    round_samples: usize,
    ratio: f64,
    /// Per shape: the least time of the current window and of the previous one.
    best: HashMap<Shape, (f64, f64)>,
    window_started: Instant,
}

impl std::fmt::Debug for ConcurrencyLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConcurrencyLimit")
            .field("name", &self.name)
            .field("limit", &self.current())
            .finish()
    }
}

/// The right to run one operation. Shared between the request, which stops it counting after
/// [`COUNTED_FOR`] or when it gives up, and the thread running the work, which waits for it and
/// gives it back the moment the work ends.
///
/// The wait happens on that thread, not on the async workers: a permit handed to a waiting
/// async task sits unused until the task is polled and has hopped to a blocking thread, which
/// on a busy server left the database idle half the time (measured: 4,900 req/s at a limit of
/// 2-4, against 12,400 for a pool of 2 whose waiters block on a thread).
pub struct LimitPermit {
    limit: Arc<ConcurrencyLimit>,
    held: Mutex<Held>,
    shape: Shape,
}

enum Held {
    Waiting,
    Holding(tokio::sync::OwnedSemaphorePermit, Instant),
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
            semaphore: Arc::new(tokio::sync::Semaphore::new(settings.initial)),
            state: Mutex::new(State {
                limit: settings.initial,
                to_retire: 0,
                in_flight: 0,
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

    /// A place in the queue for one operation of kind `shape`; [`LimitPermit::wait`] takes it.
    pub fn permit(self: &Arc<Self>, shape: Shape) -> Arc<LimitPermit> {
        Arc::new(LimitPermit {
            limit: self.clone(),
            held: Mutex::new(Held::Waiting),
            shape,
        })
    }

    fn count_in(&self) {
        let mut state = self.state.lock().expect("limit lock poisoned");
        state.in_flight += 1;
        state.busiest = state.busiest.max(state.in_flight);
    }

    /// Returns a permit to circulation, or retires it when the limit shrank.
    fn count_out(&self, permit: tokio::sync::OwnedSemaphorePermit, sample: Option<(Shape, f64)>) {
        let mut state = self.state.lock().expect("limit lock poisoned");
        state.in_flight = state.in_flight.saturating_sub(1);
        if let Some((shape, seconds)) = sample
            && self.settings.adaptive
        {
            self.learn(&mut state, shape, seconds);
        }
        if state.to_retire > 0 {
            state.to_retire -= 1;
            permit.forget();
        } else {
            drop(permit);
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
            if state.to_retire > 0 {
                state.to_retire -= 1;
            } else {
                self.semaphore.add_permits(1);
            }
        } else if state.ratio > SHRINK_ABOVE_RATIO && state.limit > self.settings.min {
            state.limit -= 1;
            state.to_retire += 1;
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
    /// Blocks this thread until the permit is granted (first come, first served) or `deadline`
    /// passes; `false` then. Granted after the request stopped counting, it goes straight back.
    pub fn wait(&self, deadline: Instant) -> bool {
        let acquire = self.limit.semaphore.clone().acquire_owned();
        let Some(Ok(permit)) = block_on_until(acquire, deadline) else {
            return false;
        };
        let mut held = self.held.lock().expect("permit lock poisoned");
        if matches!(*held, Held::Waiting) {
            self.limit.count_in();
            *held = Held::Holding(permit, Instant::now());
        }
        true
    }

    /// While the permit is held: when it stops counting ([`COUNTED_FOR`] after it was granted).
    pub fn counted_until(&self) -> Option<Instant> {
        match &*self.held.lock().expect("permit lock poisoned") {
            Held::Holding(_, started) => Some(*started + COUNTED_FOR),
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

    fn take(&self) -> Option<(tokio::sync::OwnedSemaphorePermit, Instant)> {
        let mut held = self.held.lock().expect("permit lock poisoned");
        match std::mem::replace(&mut *held, Held::Done) {
            Held::Holding(permit, started) => Some((permit, started)),
            Held::Waiting | Held::Done => None,
        }
    }

    /// The operation finished: its time is a sample, and the permit goes back.
    pub fn finish(&self) {
        if let Some((permit, started)) = self.take() {
            let seconds = started.elapsed().as_secs_f64();
            self.limit.count_out(permit, Some((self.shape, seconds)));
        }
    }

    /// The operation has run too long to be a sample, or its request gave up: the permit goes
    /// back without one.
    pub fn stop_counting(&self) {
        if let Some((permit, _)) = self.take() {
            self.limit.count_out(permit, None);
        }
    }
}

impl Drop for LimitPermit {
    fn drop(&mut self) {
        self.stop_counting();
    }
}

/// Polls `future` on this thread, parking between wake-ups, until it is ready or `deadline`.
fn block_on_until<F: Future>(future: F, deadline: Instant) -> Option<F::Output> {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return Some(output);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        std::thread::park_timeout(left);
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

    #[test]
    fn permits_queue_and_retire_when_the_limit_shrinks() {
        // Not adaptive, so that the samples do not move the limit set by hand below.
        let limit = ConcurrencyLimit::new(
            "queue",
            LimitSettings {
                initial: 2,
                min: 1,
                max: 2,
                adaptive: false,
            },
        );
        let deadline = Instant::now() + Duration::from_millis(50);
        let first = limit.permit(SHAPE);
        let second = limit.permit(SHAPE);
        assert!(first.wait(deadline) && second.wait(deadline));
        assert!(!limit.permit(SHAPE).wait(deadline), "full");
        {
            let mut state = limit.state.lock().unwrap();
            state.limit = 1;
            state.to_retire = 1;
        }
        first.finish();
        let later = Instant::now() + Duration::from_millis(50);
        assert!(
            !limit.permit(SHAPE).wait(later),
            "the returned permit was retired"
        );
        second.finish();
        assert!(
            limit
                .permit(SHAPE)
                .wait(Instant::now() + Duration::from_millis(50))
        );
    }

    #[test]
    fn a_waiter_is_woken_when_a_permit_comes_back() {
        let limit = ConcurrencyLimit::new(
            "handoff",
            LimitSettings {
                initial: 1,
                min: 1,
                max: 1,
                adaptive: false,
            },
        );
        let holder = limit.permit(SHAPE);
        assert!(holder.wait(Instant::now() + Duration::from_millis(50)));
        let waiter = limit.permit(SHAPE);
        let waiting = std::thread::spawn(move || {
            let started = Instant::now();
            let granted = waiter.wait(Instant::now() + Duration::from_secs(5));
            (granted, started.elapsed())
        });
        std::thread::sleep(Duration::from_millis(30));
        holder.finish();
        let (granted, waited) = waiting.join().unwrap();
        assert!(
            granted && waited < Duration::from_secs(1),
            "waited {waited:?}"
        );
    }

    #[test]
    fn a_permit_given_up_before_it_is_granted_goes_straight_back() {
        let limit = ConcurrencyLimit::new(
            "abandoned",
            LimitSettings {
                initial: 1,
                min: 1,
                max: 1,
                adaptive: false,
            },
        );
        let abandoned = limit.permit(SHAPE);
        abandoned.stop_counting();
        assert!(abandoned.wait(Instant::now() + Duration::from_millis(50)));
        drop(abandoned);
        assert!(
            limit
                .permit(SHAPE)
                .wait(Instant::now() + Duration::from_millis(50))
        );
        assert_eq!(limit.state.lock().unwrap().in_flight, 0);
    }
}
