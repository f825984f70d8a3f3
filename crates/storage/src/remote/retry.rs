//! Retries with exponential backoff and full jitter, honouring `429 Retry-After`.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use chrysalis_core::CancelToken;

use super::{RemoteError, sleep_cancellable};

/// How often and how patiently to retry a request that failed for a reason that may pass
/// (network trouble, `429`, `5xx`). Other failures (`401`, a CID mismatch, `400`) are never
/// retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff; each retry doubles it.
    pub base_delay: Duration,
    /// Backoffs never exceed this.
    pub max_delay: Duration,
    /// The longest `Retry-After` we wait for; a server asking for more fails the request
    /// (publish again later resumes it).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy { max_attempts: 1, ..Self::default() }
    }

    /// The wait before retry number `retry` (1-based) after `error`: the server's
    /// `Retry-After` when it gave one (plus up to 10% jitter so clients do not stampede),
    /// else a random duration in `[0, min(max_delay, base * 2^(retry-1))]` ("full jitter").
    pub fn delay(&self, retry: u32, error: &RemoteError) -> Duration {
        if let Some(after) = error.retry_after() {
            let jitter = after.mul_f64(0.1 * random_unit());
            return after.min(self.max_retry_after) + jitter;
        }
        let exp = self.base_delay.saturating_mul(1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX));
        exp.min(self.max_delay).mul_f64(random_unit())
    }

    /// Runs `op` until it succeeds, fails for good, or the attempts run out. `op` gets the
    /// attempt number (1-based). Cancellation is checked before every attempt and during
    /// every wait.
    pub fn run<T>(
        &self,
        cancel: &CancelToken,
        what: &str,
        mut op: impl FnMut(u32) -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        let mut attempt = 1;
        loop {
            cancel.check()?;
            match op(attempt) {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && attempt < self.max_attempts => {
                    if let Some(after) = e.retry_after()
                        && after > self.max_retry_after
                    {
                        return Err(e);
                    }
                    let wait = self.delay(attempt, &e);
                    tracing::info!(what, attempt, wait_ms = wait.as_millis() as u64, "retrying after: {e}");
                    sleep_cancellable(wait, cancel)?;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A uniform number in `[0, 1)`. Jitter needs no cryptographic quality: a per-thread
/// splitmix64 seeded from std's randomly keyed hasher.
pub(crate) fn random_unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn random_u64() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut h = RandomState::new().build_hasher();
            h.write_u64(std::process::id() as u64);
            h.finish()
        });
    }
    STATE.with(|s| {
        let mut z = s.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        s.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::BackendKind;

    fn server_error() -> RemoteError {
        RemoteError::Server { backend: BackendKind::Kubo, status: 503, what: "add".into(), message: "busy".into() }
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..Default::default()
        };
        for _ in 0..200 {
            assert!(p.delay(1, &server_error()) <= Duration::from_millis(100));
            assert!(p.delay(3, &server_error()) <= Duration::from_millis(400));
            assert!(p.delay(30, &server_error()) <= Duration::from_secs(1));
        }
        // Full jitter actually varies.
        let samples: std::collections::HashSet<_> = (0..50).map(|_| p.delay(4, &server_error())).collect();
        assert!(samples.len() > 10);
    }

    #[test]
    fn retry_after_is_honoured() {
        let p = RetryPolicy::default();
        let e = RemoteError::RateLimited { backend: BackendKind::Psa, retry_after: Some(Duration::from_secs(2)) };
        let d = p.delay(1, &e);
        assert!(d >= Duration::from_secs(2) && d <= Duration::from_millis(2200), "{d:?}");
    }

    #[test]
    fn retries_only_what_may_pass() {
        let p = RetryPolicy { base_delay: Duration::from_millis(1), ..Default::default() };
        let cancel = CancelToken::new();
        let mut calls = 0;
        let r = p.run(&cancel, "x", |_| {
            calls += 1;
            if calls < 3 { Err(server_error()) } else { Ok(7) }
        });
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls, 3);

        let mut calls = 0;
        let r: Result<(), _> = p.run(&cancel, "x", |_| {
            calls += 1;
            Err(RemoteError::Unauthorized { backend: BackendKind::Psa, status: 401, hint: String::new() })
        });
        assert_eq!(r.unwrap_err().kind(), "unauthorized");
        assert_eq!(calls, 1);

        let mut calls = 0;
        let r: Result<(), _> = p.run(&cancel, "x", |_| {
            calls += 1;
            Err(server_error())
        });
        assert_eq!(r.unwrap_err().kind(), "server");
        assert_eq!(calls, p.max_attempts);
    }

    #[test]
    fn cancel_stops_retrying() {
        let p = RetryPolicy {
            base_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(60),
            ..Default::default()
        };
        let cancel = CancelToken::new();
        let c2 = cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            c2.cancel();
        });
        let r: Result<(), _> = p.run(&cancel, "x", |_| Err(server_error()));
        t.join().unwrap();
        // Either the wait was tiny (jitter) and the next check saw the cancel, or the wait
        // itself was cancelled: both end in Cancelled or the last error, never a 60 s wait.
        let e = r.unwrap_err();
        assert!(matches!(e.kind(), "cancelled" | "server"), "{e}");
    }
}
