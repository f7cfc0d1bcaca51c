//! Tests of the in-flight limit: how it adapts to latency per shape, and how queued work takes
//! its turn (in order, past its deadline, given up, long-running, panicking).

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
        let holder = limit.permit("p".into(), SHAPE);
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
        self.submit_for("p", name, ms)
    }

    /// Queues a job of `project` that reports its start, with a deadline `ms` from now.
    fn submit_for(&self, project: &str, name: &'static str, ms: u64) -> Arc<LimitPermit> {
        let permit = self.limit.permit(project.into(), SHAPE);
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
async fn a_project_with_much_work_queued_gets_no_more_turns_than_one_with_little() {
    let place = HeldPlace::new("fair");
    for name in ["noisy 1", "noisy 2", "noisy 3", "noisy 4", "noisy 5"] {
        place.submit_for("noisy", name, 5000);
    }
    place.submit_for("quiet", "quiet 1", 5000);
    place.submit_for("quiet", "quiet 2", 5000);
    place.release.send(()).unwrap();
    let order: Vec<&str> = (0..7).map(|_| place.next_start().0).collect();
    assert_eq!(
        order,
        [
            "noisy 1", "quiet 1", "noisy 2", "quiet 2", "noisy 3", "noisy 4", "noisy 5"
        ],
        "turns alternate between the projects while both wait; each project's in order"
    );
    assert_eq!(place.limit.snapshot().2, 0, "nothing left queued");
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

/// In flight now, once it settles at `expected` (jobs finish on their own threads), or after
/// a second; read without holding the lock across an assertion.
fn in_flight_settling_at(limit: &ConcurrencyLimit, expected: usize) -> usize {
    let read = || limit.state.lock().unwrap().in_flight;
    for _ in 0..100 {
        if read() == expected {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    read()
}

#[actix_web::test]
async fn paused_work_lets_queued_work_run_and_counts_in_again_without_a_sample() {
    let place = HeldPlace::new("paused");
    place.submit("next", 5000);
    // The holder opens a connection: its place goes to the queued work.
    place.holder.pause();
    assert!(place.holder.is_paused() && place.holder.counted_until().is_none());
    let (name, in_time, _) = place.next_start();
    assert_eq!((name, in_time), ("next", true));
    assert_eq!(in_flight_settling_at(&place.limit, 0), 0, "next finished");
    // Connected: counted again from now, in the place it had.
    place.holder.resume();
    assert!(place.holder.counted_until().is_some());
    assert_eq!(in_flight_settling_at(&place.limit, 1), 1);
    place.release.send(()).unwrap();
    assert_eq!(in_flight_settling_at(&place.limit, 0), 0);
    // Given up while paused: nothing to count out, and resuming counts nothing in.
    let place = HeldPlace::new("paused and given up");
    place.holder.pause();
    place.holder.stop_counting();
    place.holder.resume();
    assert!(!place.holder.is_paused() && place.holder.counted_until().is_none());
    assert_eq!(in_flight_settling_at(&place.limit, 0), 0);
    place.release.send(()).unwrap();
}

#[actix_web::test]
async fn a_panicking_job_does_not_stall_the_queue() {
    let limit = single("panic");
    let (started, starts) = std::sync::mpsc::channel();
    let (release_first, first_released) = std::sync::mpsc::channel();
    let (first_thread_tx, first_thread) = std::sync::mpsc::channel();
    let first = limit.permit("p".into(), SHAPE);
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
    let next = limit.permit("p".into(), SHAPE);
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
    let second = place.limit.permit("p".into(), SHAPE);
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

#[actix_web::test]
async fn a_project_running_its_share_starts_no_more_while_another_is_active() {
    // Four places; alone, a project may use them all.
    let limit = ConcurrencyLimit::new(
        "share",
        LimitSettings {
            initial: 4,
            min: 4,
            max: 4,
            adaptive: false,
        },
    );
    let (started, starts) = std::sync::mpsc::channel();
    let mut releases = Vec::new();
    let mut noisy = Vec::new();
    for name in ["noisy 1", "noisy 2", "noisy 3"] {
        let (release, released) = std::sync::mpsc::channel();
        let permit = limit.permit("noisy".into(), SHAPE);
        limit.submit(
            &permit,
            later(5000),
            job(name, &permit, &started, Some(released)),
        );
        assert_eq!(starts.recv_timeout(WAIT).unwrap().0, name);
        releases.push(release);
        noisy.push(permit);
    }
    // Its scans run long: they stop counting, and their places go back.
    for permit in &noisy {
        permit.stop_counting();
    }
    // Another project arrives: half the limit each while both are active. Quiet runs at once;
    // noisy, with three running, starts nothing more though places are free.
    let quiet = limit.permit("quiet".into(), SHAPE);
    let (release_quiet, quiet_released) = std::sync::mpsc::channel();
    limit.submit(
        &quiet,
        later(5000),
        job("quiet", &quiet, &started, Some(quiet_released)),
    );
    assert_eq!(starts.recv_timeout(WAIT).unwrap().0, "quiet");
    let more = limit.permit("noisy".into(), SHAPE);
    limit.submit(&more, later(5000), job("noisy 4", &more, &started, None));
    assert!(
        starts.recv_timeout(Duration::from_millis(200)).is_err(),
        "noisy started a fourth while quiet was active"
    );
    release_quiet.send(()).unwrap();
    // Quiet is still active for a moment after its work ended; when one of noisy's scans ends
    // after that, noisy may use the whole limit again.
    std::thread::sleep(ACTIVE_FOR + Duration::from_millis(50));
    releases.remove(0).send(()).unwrap();
    assert_eq!(starts.recv_timeout(WAIT).unwrap().0, "noisy 4");
    for release in releases {
        release.send(()).unwrap();
    }
}
