//! The worker thread of a background writer: take everything queued, write it as one
//! batch, repeat. A batch that cannot be written (disk full, quota, I/O error, a
//! deleted directory) is kept and retried with growing pauses, as multilog and s6-log
//! do, while the queue in front of it fills up to its bounds (then the overflow policy
//! applies). Nothing is written twice: the writer reports how many records of a batch
//! reached the file, and only the rest is retried. When writing works again, the
//! first line written says how many records were lost meanwhile, and why.
//!
//! The thread blocks every signal (they belong to the application) and never calls
//! into Python.

use super::queue::{notice, Failure, Queue, State};
use crate::error::Error;
use crate::locking::Interrupts;
use crate::sys;
use crate::writer::{LogWriter, Progress};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

/// After a small batch, how long the worker lets records gather before the next one
/// (unless a flush, a close or a half-full queue calls it earlier). Without it, a
/// worker faster than its producers would write, and be woken, once per record.
const LINGER: Duration = Duration::from_millis(2);

/// Batches smaller than this are followed by a [`LINGER`].
const SMALL_BATCH: usize = 64;

/// The first pause before retrying a failed batch, and the longest.
const RETRY_FIRST: Duration = Duration::from_millis(10);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// The worker's loop, until the queue is closed and empty.
pub(super) fn run(queue: &Queue, writer: &LogWriter) {
    sys::block_signals_in_this_thread();
    let mut last_batch = 0;
    loop {
        let mut state = queue.lock();
        if last_batch > 0 && last_batch < SMALL_BATCH && !state.closing && state.waiters == 0 {
            state = queue.wait_for(&queue.arrived, state, LINGER);
        }
        while state.records.is_empty() && state.unannounced == 0 && !state.closing {
            state.idle = true;
            state = queue.wait(&queue.arrived, state);
            state.idle = false;
        }
        if state.records.is_empty() && state.unannounced == 0 {
            // Closing, and nothing left.
            state.running = false;
            queue.progress.notify_all();
            return;
        }
        let batch = std::mem::take(&mut state.records);
        state.bytes = 0;
        last_batch = batch.len();
        if state.waiters > 0 {
            queue.progress.notify_all(); // room for blocked producers
        }
        drop(state);
        write_until_done(queue, writer, batch);
    }
}

/// Write `records`, retrying what fails until it is written or a close abandons it.
/// Lost records not yet announced are announced first, in a notice line at the front
/// of each attempt (so the first line written once writing works again says so).
fn write_until_done(queue: &Queue, writer: &LogWriter, mut records: Vec<Vec<u8>>) {
    let mut pause = RETRY_FIRST;
    // Lost records announced by the notice at the front of `records`, if one is there.
    let mut announcing: Option<(u64, String)> = None;
    loop {
        if let Some((n, reason)) = queue.lock().take_losses() {
            if let Some((total, why)) = &mut announcing {
                *total += n;
                records[0] = notice(*total, why);
            } else {
                records.insert(0, notice(n, &reason));
                announcing = Some((n, reason));
            }
        }
        let Progress { written, result } = writer.append(&records, Interrupts::Absorb);
        let notices = usize::from(announcing.is_some()).min(written);
        if notices > 0 {
            announcing = None;
        }
        records.drain(..written);
        let mut state = queue.lock();
        state.finished += (written - notices) as u64;
        let error = match result {
            Ok(()) => {
                finish(queue, &mut state);
                return;
            }
            Err(e) if records.is_empty() => {
                // Written; something around it failed (a rotation, a compression).
                let waiting = state.records.len();
                state.report(background(e, waiting, 0));
                finish(queue, &mut state);
                return;
            }
            Err(e) => e,
        };
        let held = records.len() - usize::from(announcing.is_some());
        state.failures += 1;
        let waiting = held + state.records.len();
        let lost = state.unannounced + announcing.as_ref().map_or(0, |(n, _)| *n);
        state.report(background(error.duplicate(), waiting, lost));
        if state.finished < state.abandon_until {
            // `close` gave up waiting for them: lost, and announced once writing works.
            state.finished += held as u64;
            state.given_up += held as u64;
            let (already, why) = announcing.take().unwrap_or_default();
            state.lose(held as u64 + already, || {
                if already > 0 {
                    why
                } else {
                    format!("writing still failed when the log was closed: {error}")
                }
            });
            state.failing = None;
            queue.progress.notify_all();
            return;
        }
        let since = state
            .failing
            .as_ref()
            .map_or_else(Instant::now, |f| f.since);
        state.failing = Some(Failure { since, error });
        queue.progress.notify_all(); // a flush waiting for these returns the error
        let state = queue.wait_for(&queue.arrived, state, pause);
        drop(state);
        pause = (pause * 2).min(RETRY_MAX);
    }
}

/// The batch is done: writing works (again).
fn finish(queue: &Queue, state: &mut MutexGuard<'_, State>) {
    state.failing = None;
    if state.waiters > 0 {
        queue.progress.notify_all();
    }
}

fn background(source: Error, waiting: usize, lost: u64) -> Error {
    Error::Background {
        waiting,
        lost,
        source: Box::new(source),
    }
}
