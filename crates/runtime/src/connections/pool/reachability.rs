//! Whether a project's database can be reached: while connecting fails, one attempt at a time
//! (the probe) finds out whether it is back, and requests wait for that attempt's outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ProjectPool;
use crate::connections::Unavailable;

/// Whether the project's database could be reached lately.
#[derive(Debug)]
pub(super) struct Reachability {
    /// Since when connecting fails; `None` while it works.
    failing_since: Option<Instant>,
    /// Failed attempts in a row, for the pause between probes.
    consecutive_failures: u32,
    /// While failing, one attempt (the probe) at a time finds out whether the database is
    /// back; requests that need a connection wait for its outcome instead of piling up.
    probing: bool,
    /// While failing, no probe starts before this.
    next_probe_at: Instant,
    /// Counts attempt outcomes, so that a waiting request knows a probe finished.
    outcomes: u64,
}

impl Default for Reachability {
    fn default() -> Self {
        Reachability {
            failing_since: None,
            consecutive_failures: 0,
            probing: false,
            next_probe_at: Instant::now(),
            outcomes: 0,
        }
    }
}

/// The pause before the next probe after `failures` failed attempts in a row: short enough that
/// a database back after a restart is served again within a second, long enough that a refused
/// address costs a few connection attempts a second, however many requests ask for it.
fn pause_after(failures: u32) -> Duration {
    let doubled = Duration::from_millis(100).saturating_mul(1 << failures.saturating_sub(1).min(8));
    doubled.min(Duration::from_millis(500))
}

/// The right to be the one connection attempt to a database not known to answer (failing, or
/// no connection open yet); given back when dropped unused.
pub struct ProbeLicence {
    pool: Arc<ProjectPool>,
    pub(super) used: bool,
}

impl Drop for ProbeLicence {
    fn drop(&mut self) {
        if !self.used {
            let mut reachability = self.pool.reachability();
            reachability.probing = false;
            drop(reachability);
            self.pool.reachability_changed.notify_waiters();
        }
    }
}

impl ProjectPool {
    pub(super) fn reachability(&self) -> std::sync::MutexGuard<'_, Reachability> {
        self.reachability
            .lock()
            .expect("reachability lock poisoned")
    }

    /// Whether the database may be connected to now. While it is failing, one request at a time
    /// gets a [`ProbeLicence`] to try; the others wait (asynchronously, holding nothing) for that
    /// attempt's outcome: connected, they go on; failed, they answer 503. So a hung database
    /// holds one attempt, a refused one costs a few attempts a second, and requests waiting
    /// when the database comes back are served without an error.
    ///
    /// The same holds while the project has no connection open, before anything is known: one
    /// request's attempt finds out whether the database answers. Otherwise a burst of requests
    /// on a database that hangs on connect would each start one (a thread each, for the whole
    /// connect timeout); a cold burst on a healthy database waits one connect for it.
    pub async fn wait_until_reachable(
        self: &Arc<Self>,
        deadline: Instant,
    ) -> Result<Option<ProbeLicence>, Unavailable> {
        let mut outcome_seen: Option<u64> = None;
        loop {
            let changed = self.reachability_changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            let wake_at = {
                let mut reachability = self.reachability();
                let outcome_came = outcome_seen.is_some_and(|seen| seen != reachability.outcomes);
                outcome_seen = Some(reachability.outcomes);
                let failing = reachability.failing_since.is_some();
                if !failing && (outcome_came || self.open_connections() > 0) {
                    return Ok(None);
                }
                if failing && outcome_came {
                    return Err(Unavailable::Unreachable);
                }
                let probe_due = !failing || Instant::now() >= reachability.next_probe_at;
                if !reachability.probing && probe_due {
                    reachability.probing = true;
                    return Ok(Some(ProbeLicence {
                        pool: self.clone(),
                        used: false,
                    }));
                }
                let wake_at = if reachability.probing {
                    deadline
                } else {
                    reachability.next_probe_at.min(deadline)
                };
                (wake_at, failing)
            };
            let (wake_at, failing) = wake_at;
            let now = Instant::now();
            if now >= deadline {
                // Not known to fail: the first attempt is still under way (a database slow, or
                // hanging, on connect).
                return Err(if failing {
                    Unavailable::Unreachable
                } else {
                    Unavailable::DidNotAnswer
                });
            }
            let _ =
                actix_web::rt::time::timeout(wake_at.saturating_duration_since(now), changed).await;
        }
    }
}

/// One connection attempt and what it teaches about the database's reachability.
pub(super) struct ConnectAttempt<'a> {
    pool: &'a ProjectPool,
    probing: bool,
    finished: bool,
}

impl<'a> ConnectAttempt<'a> {
    /// With a licence, the attempt is the probe. Without one (a retry, a version check), it
    /// may go while the database works, or become the probe when one is due.
    pub(super) fn begin(
        pool: &'a ProjectPool,
        licence: Option<ProbeLicence>,
    ) -> Result<ConnectAttempt<'a>, Unavailable> {
        if let Some(mut licence) = licence {
            licence.used = true;
            return Ok(ConnectAttempt {
                pool,
                probing: true,
                finished: false,
            });
        }
        let mut reachability = pool.reachability();
        let probing = reachability.failing_since.is_some();
        if probing {
            if reachability.probing || Instant::now() < reachability.next_probe_at {
                return Err(Unavailable::Unreachable);
            }
            reachability.probing = true;
        }
        Ok(ConnectAttempt {
            pool,
            probing,
            finished: false,
        })
    }

    pub(super) fn succeeded(mut self) {
        self.finished = true;
        let mut reachability = self.pool.reachability();
        if let Some(since) = reachability.failing_since.take() {
            tracing::info!(
                "project {}: database reachable again after {:.1} s",
                self.pool.project,
                since.elapsed().as_secs_f64()
            );
        }
        reachability.consecutive_failures = 0;
        if self.probing {
            reachability.probing = false;
        }
        reachability.outcomes += 1;
        drop(reachability);
        self.pool.reachability_changed.notify_waiters();
    }

    pub(super) fn failed(mut self) {
        self.finished = true;
        self.record_failure();
    }

    fn record_failure(&self) {
        let mut reachability = self.pool.reachability();
        let now = Instant::now();
        reachability.failing_since.get_or_insert(now);
        reachability.consecutive_failures = reachability.consecutive_failures.saturating_add(1);
        reachability.next_probe_at = now + pause_after(reachability.consecutive_failures);
        if self.probing {
            reachability.probing = false;
        }
        reachability.outcomes += 1;
        drop(reachability);
        self.pool.reachability_changed.notify_waiters();
    }
}

impl Drop for ConnectAttempt<'_> {
    fn drop(&mut self) {
        if !self.finished {
            // An early return (no budget) or a panic: nothing was learnt about the database,
            // but the next attempt must not wait for this one.
            let mut reachability = self.pool.reachability();
            if self.probing {
                reachability.probing = false;
            }
            drop(reachability);
            self.pool.reachability_changed.notify_waiters();
        }
    }
}
