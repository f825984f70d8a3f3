//! Progress reporting and cooperative cancellation for long jobs.
//!
//! Every long job in Chrysalis (generating, publishing, minting, checking a project) takes a
//! progress callback and a [`CancelToken`]. The CLI renders progress with indicatif, the
//! desktop app streams it through a Tauri channel; neither face needs to know how the job
//! works. Cancellation is cooperative: a job checks the token between units of work and
//! returns [`Cancelled`], so nothing is left half-written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

/// One progress report: `step` of `total` units are done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Progress {
    /// Units of work finished so far.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub step: u64,
    /// Units of work in the whole job (0 when unknown).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub total: u64,
    /// What the job is doing now, in words for a person.
    pub message: String,
}

impl Progress {
    pub fn new(step: u64, total: u64, message: impl Into<String>) -> Self {
        Self { step, total, message: message.into() }
    }
}

/// A shared flag that asks a running job to stop at its next checkpoint.
///
/// Cloning gives another handle to the same flag, so one clone can live with the job and
/// another with whoever may cancel it (a Ctrl-C handler, a UI button).
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the job to stop. Idempotent.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Returns `Err(Cancelled)` once cancellation was asked for: use it with `?` at each
    /// checkpoint of a job.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() { Err(Cancelled) } else { Ok(()) }
    }
}

/// The error a job returns when it stopped because its [`CancelToken`] was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled before it finished; nothing after the last completed step was written")]
pub struct Cancelled;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_flag() {
        let token = CancelToken::new();
        let other = token.clone();
        assert!(token.check().is_ok());
        other.cancel();
        assert!(token.is_cancelled());
        assert_eq!(token.check(), Err(Cancelled));
    }
}
