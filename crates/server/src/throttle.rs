//! Rate limits per project and per user: token buckets (a rate of requests per second and a
//! burst), defaults from the configuration, overrides from the platform database. A request
//! takes a token from its user's bucket and from its project's; when either is empty it is
//! refused with DRF's 429 (`Request was throttled. Expected available in N seconds.`) and takes
//! none. Each server enforces its limits on its own: with several servers behind a load
//! balancer, a limit holds per server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tenantapi_runtime::http::error::ApiError;

/// A token bucket's settings: `per_second` tokens added each second, at most `burst` held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl RateLimit {
    /// The limit of a rate and an optional burst as stored (`0` or less: no limit); the burst
    /// defaults to one second's worth of requests, at least one.
    pub fn from_stored(per_second: f64, burst: Option<i32>) -> Option<RateLimit> {
        if per_second.is_nan() || per_second <= 0.0 {
            return None;
        }
        let burst = match burst {
            Some(burst) if burst > 0 => burst as u32,
            _ => per_second.ceil().clamp(1.0, f64::from(u32::MAX)) as u32,
        };
        Some(RateLimit { per_second, burst })
    }
}

impl RateLimit {
    /// The limit of a stored rate and burst (`None`: not set), else of the configuration's
    /// default rate and burst (a burst of 0: one second's worth).
    pub fn own_or_default(
        (own_rate, own_burst): (Option<f64>, Option<i32>),
        (default_rate, default_burst): (f64, u32),
    ) -> Option<RateLimit> {
        RateLimit::from_stored(
            own_rate.unwrap_or(default_rate),
            own_burst.or(i32::try_from(default_burst).ok()),
        )
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/s burst {}", self.per_second, self.burst)
    }
}

/// A rate as the command line takes it: requests per second (`200`, `0.5`, `200/s`) or per
/// minute, hour or day as DRF writes them (`100/min`, `1000/hour`, `5000/day`; `m`, `h`, `d`
/// too). `0` means no limit.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let (count, per) = match text.split_once('/') {
        Some((count, unit)) => {
            let seconds = match unit.trim() {
                "s" | "sec" | "second" => 1.0,
                "m" | "min" | "minute" => 60.0,
                "h" | "hour" => 3600.0,
                "d" | "day" => 86_400.0,
                other => {
                    return Err(format!(
                        "unknown period {other:?} in rate {text:?}: use s, min, hour or day"
                    ));
                }
            };
            (count, seconds)
        }
        None => (text, 1.0),
    };
    let count: f64 = count.trim().parse().map_err(|_| {
        format!("invalid rate {text:?}: a number of requests, e.g. 200, 200/s or 100/min")
    })?;
    if !count.is_finite() || count < 0.0 {
        return Err(format!(
            "invalid rate {text:?}: a number of requests, 0 or more"
        ));
    }
    Ok(count / per)
}

/// Why a request was throttled (the metric's `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ThrottleReason {
    ProjectRate,
    UserRate,
}

impl ThrottleReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleReason::ProjectRate => "project_rate",
            ThrottleReason::UserRate => "user_rate",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    /// By the platform database's id: a project removed and added again under its name starts
    /// with a bucket of its own.
    Project(i32),
    User(i32),
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn full(limit: RateLimit, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(limit.burst),
            updated: now,
        }
    }

    /// Refills for the time since it was last used; then whether a token is there, or how many
    /// seconds until one is.
    fn refill(&mut self, limit: RateLimit, now: Instant) -> Result<(), u32> {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(f64::from(limit.burst));
        self.updated = now;
        if self.tokens >= 1.0 {
            return Ok(());
        }
        let seconds = ((1.0 - self.tokens) / limit.per_second).ceil();
        Err(seconds.clamp(1.0, f64::from(u32::MAX)) as u32)
    }
}

/// The buckets of every limited project and user, and what was throttled.
#[derive(Default)]
pub struct Throttle {
    buckets: Mutex<HashMap<Key, Bucket>>,
    /// Requests refused so far, by project and reason (read by `/metrics`).
    throttled: Mutex<HashMap<(Arc<str>, ThrottleReason), u64>>,
}

/// One request's limits: its project's and its user's, each when there is one.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestLimits {
    pub project: Option<(i32, RateLimit)>,
    pub user: Option<(i32, RateLimit)>,
}

impl Throttle {
    /// Takes a token from each bucket `limits` names, or none when one of them is empty: then
    /// the 429 to answer, with the seconds until a token is back in it.
    pub fn admit(&self, project: &Arc<str>, limits: RequestLimits) -> Result<(), ApiError> {
        if limits.project.is_none() && limits.user.is_none() {
            return Ok(());
        }
        let now = Instant::now();
        let checks = [
            limits
                .user
                .map(|(id, limit)| (Key::User(id), limit, ThrottleReason::UserRate)),
            limits
                .project
                .map(|(id, limit)| (Key::Project(id), limit, ThrottleReason::ProjectRate)),
        ];
        let mut buckets = self.buckets.lock().expect("throttle lock poisoned");
        for (key, limit, reason) in checks.iter().flatten() {
            let bucket = buckets
                .entry(*key)
                .or_insert_with(|| Bucket::full(*limit, now));
            if let Err(wait_seconds) = bucket.refill(*limit, now) {
                drop(buckets);
                *self
                    .throttled
                    .lock()
                    .expect("throttle lock poisoned")
                    .entry((project.clone(), *reason))
                    .or_default() += 1;
                return Err(ApiError::Throttled { wait_seconds });
            }
        }
        for (key, _, _) in checks.iter().flatten() {
            if let Some(bucket) = buckets.get_mut(key) {
                bucket.tokens -= 1.0;
            }
        }
        Ok(())
    }

    /// Forgets the buckets of projects no longer served.
    pub fn keep_projects(&self, ids: &[i32]) {
        // A set: a thousand projects' buckets against a thousand ids on every refresh.
        let served: std::collections::HashSet<i32> = ids.iter().copied().collect();
        self.buckets
            .lock()
            .expect("throttle lock poisoned")
            .retain(|key, _| match key {
                Key::Project(id) => served.contains(id),
                Key::User(_) => true,
            });
    }

    /// Requests refused so far, by project and reason.
    pub fn throttled(&self) -> Vec<((Arc<str>, ThrottleReason), u64)> {
        let mut counts: Vec<_> = self
            .throttled
            .lock()
            .expect("throttle lock poisoned")
            .iter()
            .map(|(key, count)| (key.clone(), *count))
            .collect();
        counts.sort_by(|left, right| {
            left.0
                .0
                .cmp(&right.0.0)
                .then(left.0.1.as_str().cmp(right.0.1.as_str()))
        });
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_per_second_or_as_drf_writes_them() {
        for (text, expected) in [
            ("200", 200.0),
            ("0.5", 0.5),
            ("200/s", 200.0),
            ("120/min", 2.0),
            ("3600/hour", 1.0),
            ("86400/day", 1.0),
            ("0", 0.0),
        ] {
            assert_eq!(parse_rate(text), Ok(expected), "{text}");
        }
        for wrong in ["fast", "-1", "10/week", "", "inf"] {
            assert!(parse_rate(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn a_stored_rate_of_zero_is_no_limit_and_the_burst_defaults_to_a_second() {
        assert_eq!(RateLimit::from_stored(0.0, Some(5)), None);
        assert_eq!(
            RateLimit::from_stored(2.5, None),
            Some(RateLimit {
                per_second: 2.5,
                burst: 3
            })
        );
        assert_eq!(RateLimit::from_stored(0.1, None).unwrap().burst, 1);
        assert_eq!(RateLimit::from_stored(10.0, Some(40)).unwrap().burst, 40);
    }

    #[test]
    fn a_bucket_lets_its_burst_through_then_one_request_per_token() {
        let throttle = Throttle::default();
        let project: Arc<str> = Arc::from("p");
        let limits = RequestLimits {
            project: Some((
                1,
                RateLimit {
                    per_second: 1.0,
                    burst: 3,
                },
            )),
            user: None,
        };
        for _ in 0..3 {
            assert!(throttle.admit(&project, limits).is_ok());
        }
        match throttle.admit(&project, limits) {
            Err(ApiError::Throttled { wait_seconds }) => assert_eq!(wait_seconds, 1),
            other => panic!("expected a throttle, got {other:?}"),
        }
        assert_eq!(
            throttle.throttled(),
            vec![((project.clone(), ThrottleReason::ProjectRate), 1)]
        );
    }

    #[test]
    fn a_refused_request_takes_no_token_from_the_other_bucket() {
        let throttle = Throttle::default();
        let project: Arc<str> = Arc::from("p");
        let one = RateLimit {
            per_second: 0.001,
            burst: 1,
        };
        let generous = RateLimit {
            per_second: 0.001,
            burst: 2,
        };
        let spent_project = RequestLimits {
            project: Some((1, one)),
            user: Some((7, generous)),
        };
        assert!(throttle.admit(&project, spent_project).is_ok());
        // The project is empty now; the user still has one token, which the refusals keep.
        for _ in 0..5 {
            assert!(throttle.admit(&project, spent_project).is_err());
        }
        let other_project = RequestLimits {
            project: Some((2, one)),
            user: Some((7, generous)),
        };
        assert!(throttle.admit(&project, other_project).is_ok());
        match throttle.admit(
            &Arc::from("q"),
            RequestLimits {
                project: Some((3, one)),
                user: Some((7, generous)),
            },
        ) {
            Err(ApiError::Throttled { wait_seconds }) => {
                assert!(wait_seconds >= 999, "{wait_seconds}")
            }
            other => panic!("expected the user's throttle, got {other:?}"),
        }
    }
}
