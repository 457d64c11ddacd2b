//! The queue a background writer's callers and its worker thread share: records
//! waiting in memory, the counters `flush` waits on, the failure being retried, and
//! what is to be said in the log about records that were not written.
//!
//! One mutex guards it, held only for memory operations (never across a write, a
//! wait for the cross-process lock, or a join), with two condition variables:
//! `arrived` wakes the worker, `progress` wakes callers waiting for room or for a flush.

use crate::error::Error;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

/// How often, at most, a failure of the worker is reported to callers while it lasts.
pub(super) const REPORT_INTERVAL: Duration = Duration::from_secs(5);

pub(super) struct Queue {
    state: Mutex<State>,
    /// Signalled when records arrive, or when close, abandon or flush needs the worker.
    pub arrived: Condvar,
    /// Signalled when the worker takes records (room), finishes them, fails, or stops.
    pub progress: Condvar,
}

#[derive(Default)]
pub(super) struct State {
    /// Records waiting for the worker, and their size.
    pub records: Vec<Vec<u8>>,
    pub bytes: usize,
    /// Records accepted so far, and records the worker is done with (written, or
    /// given up at close).
    pub accepted: u64,
    pub finished: u64,
    /// All records the drop policy has dropped (the `dropped` counter).
    pub dropped: u64,
    /// Records lost (dropped, or given up) and not yet announced in the log, and why.
    pub unannounced: u64,
    pub loss_reason: Option<String>,
    /// Set while the worker cannot write the records it holds and keeps retrying.
    pub failing: Option<Failure>,
    /// Failed write attempts so far (a flush returns when one happens while it waits).
    pub failures: u64,
    /// An error for the next caller, and when the last one was handed out.
    pub error: Option<Error>,
    pub last_report: Option<Instant>,
    /// Set by `close`: the worker stops once the queue is empty.
    pub closing: bool,
    /// Set by `close` when writing fails: records up to this count of accepted ones
    /// are given up (lost, and announced later) at their next failed attempt.
    pub abandon_until: u64,
    /// Records given up that way, ever.
    pub given_up: u64,
    /// Set by `retire`: new records are refused with `Error::Retired`.
    pub retired: bool,
    /// Whether a worker thread is alive (set by whoever starts it, cleared by the
    /// worker itself as it stops).
    pub running: bool,
    /// The worker waits for a first record: a producer must wake it.
    pub idle: bool,
    /// Callers waiting on `progress` (blocked producers and flushers): only then does
    /// the worker signal it (a signal costs a system call).
    pub waiters: usize,
}

/// A write failure the worker keeps retrying.
pub(super) struct Failure {
    pub since: Instant,
    pub error: Error,
}

impl State {
    /// Hand `error` to the next caller unless one was handed out less than
    /// [`REPORT_INTERVAL`] ago.
    pub fn report(&mut self, error: Error) {
        let now = Instant::now();
        if self
            .last_report
            .is_none_or(|t| now.duration_since(t) >= REPORT_INTERVAL)
        {
            self.error = Some(error);
            self.last_report = Some(now);
        }
    }

    /// Count `n` records as lost, to be announced in the log once writing works.
    pub fn lose(&mut self, n: u64, reason: impl FnOnce() -> String) {
        self.unannounced += n;
        self.loss_reason.get_or_insert_with(reason);
    }

    /// Records lost and not yet announced, and why (they are then the caller's to
    /// announce: see [`notice`]).
    pub fn take_losses(&mut self) -> Option<(u64, String)> {
        if self.unannounced == 0 {
            return None;
        }
        let n = std::mem::take(&mut self.unannounced);
        Some((n, self.loss_reason.take().unwrap_or_default()))
    }

    /// Why a record is dropped now.
    pub fn drop_reason(&self) -> String {
        match &self.failing {
            Some(f) => format!(
                "the background queue was full while writing failed: {}",
                f.error
            ),
            None => "the background queue was full".to_owned(),
        }
    }
}

impl Queue {
    pub fn new() -> Self {
        Queue {
            state: Mutex::default(),
            arrived: Condvar::new(),
            progress: Condvar::new(),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, if nobody holds it right now (for callers that must not wait).
    pub fn try_lock(&self) -> Option<MutexGuard<'_, State>> {
        match self.state.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    pub fn wait<'a>(&self, cv: &Condvar, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
    }

    pub fn wait_for<'a>(
        &self,
        cv: &Condvar,
        guard: MutexGuard<'a, State>,
        timeout: Duration,
    ) -> MutexGuard<'a, State> {
        cv.wait_timeout(guard, timeout)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }
}

/// The line that announces `n` lost records in the log.
pub(super) fn notice(n: u64, reason: &str) -> Vec<u8> {
    format!("concurrent_log_handler: {n} record(s) were not written: {reason}\n").into_bytes()
}
