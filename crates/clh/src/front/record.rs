//! The one way a front end hands a record over, and what becomes of a record that
//! cannot be written.
//!
//! A [`Sink`] is a [`LogWriter`] (the record is written with one `write()` under the
//! lock, as [`LogWriter::write`] does) or a [`BackgroundWriter`] (the record is queued;
//! its thread writes it, and the queue counts and announces what it drops or gives up).
//!
//! A front end has nobody to return an error to: a `tracing` writer reports from its
//! `drop`, `log::Log::log` returns nothing, env_logger ignores what its pipe returns.
//! So a record a front end could not write (the write failed; a retired background
//! writer refused it) is counted, per log and per process, and announced in that log
//! by the first record a front end writes there afterwards, on a line of its own
//! before it, the background queue's notice:
//! `concurrent_log_handler: N record(s) were not written: <reason>`. With a sync
//! writer the notice and that record go in one batch (one `write()`). A forked child
//! never announces its parent's losses.
//!
//! The common path costs one atomic load: the registry (a list per process, behind a
//! mutex held for a lookup only) is looked at only once something was lost.

use crate::background::BackgroundWriter;
use crate::error::Error;
use crate::fork::{Abandon, ForkLocal};
use crate::locking::Interrupts;
use crate::writer::{LogWriter, Progress};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};

/// Where a front end writes one record.
#[derive(Clone, Copy)]
pub(crate) enum Sink<'a> {
    Sync(&'a LogWriter),
    Background(&'a BackgroundWriter),
}

impl Sink<'_> {
    /// The log's path (the key of its losses).
    fn path(&self) -> &Path {
        match self {
            Sink::Sync(w) => w.path(),
            Sink::Background(bg) => bg.writer().path(),
        }
    }

    /// Hand `record` (one formatted record, terminator included) over whole, after
    /// the notice of records lost before it, if any. On failure, what was not written
    /// is remembered for the next record, and the error returned.
    pub(crate) fn write(&self, record: &[u8]) -> io::Result<()> {
        let announce = take_losses(self.path());
        match *self {
            Sink::Sync(w) => write_sync(w, record, announce),
            Sink::Background(bg) => write_background(bg, record, announce),
        }
    }

    /// Count one record that never got as far as a write (it could not be
    /// formatted, say), to be announced with the next one.
    #[cfg_attr(not(feature = "log"), allow(dead_code))] // only `log` formats records
    pub(crate) fn lost(&self, reason: impl FnOnce() -> String) {
        remember(self.path(), 1, reason);
    }
}

fn write_sync(w: &LogWriter, record: &[u8], announce: Option<(u64, String)>) -> io::Result<()> {
    let notice = announce.as_ref().map(|(n, why)| notice(*n, why));
    let Progress { written, result } = match &notice {
        Some(line) => w.append(&[line.as_slice(), record], Interrupts::Absorb),
        None => w.append(&[record], Interrupts::Absorb),
    };
    let Err(error) = result else {
        return Ok(());
    };
    let total = 1 + usize::from(notice.is_some());
    if written < total {
        // The record was not written; nor was the notice if nothing was.
        let (mut count, mut reason) = (1, None);
        if let Some((n, why)) = announce.filter(|_| written == 0) {
            count += n;
            reason = Some(why);
        }
        remember(w.path(), count, || {
            reason.unwrap_or_else(|| format!("writing failed: {error}"))
        });
    }
    Err(to_io(error))
}

fn write_background(
    bg: &BackgroundWriter,
    record: &[u8],
    announce: Option<(u64, String)>,
) -> io::Result<()> {
    let path = bg.writer().path();
    if let Some((n, why)) = announce {
        // Any error but `Retired` reports an earlier failure: the notice was queued.
        if let Err(Error::Retired) = bg.write(&notice(n, &why)) {
            remember(path, n, || why);
        }
    }
    match bg.write(record) {
        Ok(()) => Ok(()),
        Err(error) => {
            if matches!(error, Error::Retired) {
                remember(path, 1, || error.to_string());
            }
            // Otherwise the record was queued; the error is the thread's report.
            Err(to_io(error))
        }
    }
}

/// The line that announces `n` lost records: the background queue's notice.
fn notice(n: u64, reason: &str) -> Vec<u8> {
    format!("concurrent_log_handler: {n} record(s) were not written: {reason}\n").into_bytes()
}

/// The error as `io::Error`, with the kind of its OS error. Never `Interrupted`:
/// `write_all` would retry, and write a record that was written once again.
pub(crate) fn to_io(error: Error) -> io::Error {
    let kind = match error
        .raw_os_error()
        .map(|code| io::Error::from_raw_os_error(code).kind())
    {
        Some(io::ErrorKind::Interrupted) | None => io::ErrorKind::Other,
        Some(kind) => kind,
    };
    io::Error::new(kind, error)
}

/// Records lost in this process and not announced yet, for one log.
struct Loss {
    path: PathBuf,
    count: u64,
    reason: String,
}

/// This process's losses, by log. In a [`ForkLocal`]: a forked child starts with none
/// (the parent announces its own) and never waits on a mutex another thread of the
/// parent held at the fork, so the mutex can be waited on here: every record that
/// can be written announces what was lost before it, however busy the registry is.
struct Losses(Mutex<Vec<Loss>>);

impl Abandon for Losses {
    fn abandon(&self) {} // nothing to release: the parent's list is left as it is
}

static LOSSES: LazyLock<ForkLocal<Losses>> = LazyLock::new(|| ForkLocal::new(fresh()));
/// Whether `LOSSES` may hold something (so the common path only loads this). Set
/// and cleared with the list's mutex held.
static PENDING: AtomicBool = AtomicBool::new(false);

fn fresh() -> Losses {
    Losses(Mutex::new(Vec::new()))
}

fn losses() -> MutexGuard<'static, Vec<Loss>> {
    LOSSES
        .get(fresh)
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

fn remember(path: &Path, count: u64, reason: impl FnOnce() -> String) {
    let mut losses = losses();
    match losses.iter_mut().find(|l| l.path == path) {
        Some(loss) => loss.count += count,
        None => losses.push(Loss {
            path: path.to_owned(),
            count,
            reason: reason(),
        }),
    }
    PENDING.store(true, Ordering::Release);
}

/// The losses to announce in `path` now, if any (they are no longer remembered).
fn take_losses(path: &Path) -> Option<(u64, String)> {
    if !PENDING.load(Ordering::Acquire) {
        return None;
    }
    let mut losses = losses();
    let taken = losses
        .iter()
        .position(|l| l.path == path)
        .map(|i| losses.swap_remove(i));
    PENDING.store(!losses.is_empty(), Ordering::Release);
    taken.map(|l| (l.count, l.reason))
}
