//! Background writing: records go into a bounded in-memory queue and one thread per
//! log drains it in batches, taking the cross-process lock once per batch and
//! writing each batch with one `write()` (group commit). Rotation is still checked
//! record by record inside the batch ([`LogWriter::write_batch`]).
//!
//! The queue is bounded in records and in bytes. When it is full, [`Overflow::Block`]
//! (the default) makes the caller wait, so no record is ever lost; [`Overflow::Drop`]
//! drops the record instead, counts it, and the log gets a line saying how many
//! records were not written, and why, as soon as writing works.
//!
//! Failures are survived, never amplified: a batch that cannot be written is kept and
//! retried (see `worker.rs`), errors reach callers rate-limited and with counts, and
//! nothing here ever waits without a bound while a write is failing or stalled:
//! [`flush`](BackgroundWriter::flush) returns the failure instead of waiting it out,
//! and [`close`](BackgroundWriter::close) gives up (counting and announcing the lost
//! records) after [`STALL_LIMIT`] without progress. No lock is held across a join.
//!
//! Files: `mod.rs` is the handle callers use, `queue.rs` the state it shares with the
//! thread, `worker.rs` the thread's loop.

mod queue;
mod worker;

use crate::error::{Error, Result, Step};
use crate::fork::{Abandon, ForkLocal};
use crate::writer::LogWriter;
use queue::{Queue, State};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long `flush` and `close` wait for a worker that makes no progress at all
/// (blocked on a lock another process holds, say) before they give up and report it.
pub const STALL_LIMIT: Duration = Duration::from_secs(10);

/// How long `close` lets a failing worker retry before it gives its records up.
pub const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// How often a waiting caller looks at the clock (for the limits above).
const TICK: Duration = Duration::from_millis(100);

/// What to do with a record when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Wait for room (the default): nothing is ever lost.
    #[default]
    Block,
    /// Drop the record, count it, and log how many were not written once there is room.
    Drop,
}

/// Default of [`QueueOptions::queue_records`].
pub const DEFAULT_QUEUE_RECORDS: usize = 10_000;
/// Default of [`QueueOptions::queue_bytes`] (8 MiB).
pub const DEFAULT_QUEUE_BYTES: usize = 8 << 20;

/// Bounds of a background writer's queue (the Python handlers' `queue_records`,
/// `queue_bytes` and `queue_overflow`).
///
/// ```
/// let mut opts = clh::QueueOptions::default();
/// assert_eq!(opts.queue_records, clh::DEFAULT_QUEUE_RECORDS);
/// opts.queue_overflow = clh::Overflow::Drop;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueOptions {
    /// At most this many records wait in memory.
    pub queue_records: usize,
    /// At most this many bytes wait in memory (a single larger record is still accepted
    /// into an empty queue).
    pub queue_bytes: usize,
    /// What happens to a record that does not fit.
    pub queue_overflow: Overflow,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            queue_records: DEFAULT_QUEUE_RECORDS,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            queue_overflow: Overflow::Block,
        }
    }
}

impl QueueOptions {
    /// Fail unless both bounds are at least 1 (the error names the option).
    ///
    /// ```
    /// let mut opts = clh::QueueOptions::default();
    /// opts.queue_bytes = 0;
    /// assert!(opts.check().unwrap_err().to_string().contains("queue_bytes"));
    /// ```
    pub fn check(&self) -> Result<()> {
        for (option, value) in [
            ("queue_records", self.queue_records),
            ("queue_bytes", self.queue_bytes),
        ] {
            if value == 0 {
                return Err(Error::invalid(option, 0, "must be at least 1"));
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Overflow {
    type Err = Error;

    /// `"block"` or `"drop"` (the error names the value).
    ///
    /// ```
    /// assert_eq!("drop".parse::<clh::Overflow>().unwrap(), clh::Overflow::Drop);
    /// assert!("spill".parse::<clh::Overflow>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "block" => Ok(Overflow::Block),
            "drop" => Ok(Overflow::Drop),
            other => Err(Error::invalid(
                "queue_overflow",
                format!("{other:?}"),
                "must be 'block' or 'drop'",
            )),
        }
    }
}

/// How long a caller may wait for room in the queue.
#[derive(Debug, Clone, Copy)]
enum Wait {
    No,
    For(Duration),
    Forever,
}

/// A [`LogWriter`] whose records are written by a thread of its own.
///
/// `write` only queues (a memory copy); [`flush`](Self::flush) waits until everything
/// queued before it is written; dropping the writer flushes and stops the thread.
/// After `fork()`, the child gets an empty queue and a thread of its own: the
/// parent's queued records are written once, by the parent.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// let writer = clh::LogWriter::builder(dir.path().join("app.log")).max_bytes(1 << 20).open()?;
/// let background = clh::BackgroundWriter::new(writer, clh::QueueOptions::default())?;
/// background.write(b"queued, then written by the writer thread\n")?;
/// background.flush()?;
/// assert!(std::fs::read(dir.path().join("app.log"))?.starts_with(b"queued"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BackgroundWriter {
    writer: Arc<LogWriter>,
    options: QueueOptions,
    worker: ForkLocal<Worker>,
}

/// This process's queue and the handle of its thread.
struct Worker {
    queue: Arc<Queue>,
    /// Locked only to store or take the handle, never across a join.
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Abandon for Worker {
    /// The parent's thread does not exist in the child; its records are the parent's.
    fn abandon(&self) {}
}

impl BackgroundWriter {
    /// Wrap `writer`; the thread starts with the first record. Zero bounds are an error.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let mut bad = clh::QueueOptions::default();
    /// bad.queue_records = 0;
    /// assert!(clh::BackgroundWriter::new(w, bad).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(writer: impl Into<Arc<LogWriter>>, options: QueueOptions) -> Result<Self> {
        options.check()?;
        Ok(BackgroundWriter {
            writer: writer.into(),
            options,
            worker: ForkLocal::new(Worker::new()),
        })
    }

    /// The underlying writer (for rotation, paths, counters).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bg = clh::BackgroundWriter::new(w, Default::default())?;
    /// assert!(bg.writer().path().ends_with("a.log"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn writer(&self) -> &LogWriter {
        &self.writer
    }

    /// Queue one record, waiting for room if the queue is full and the policy is
    /// [`Overflow::Block`]. Returns an error the writer thread met since the last
    /// report (the record itself was still queued).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bg = clh::BackgroundWriter::new(w, Default::default())?;
    /// bg.write(b"hello\n")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, record: &[u8]) -> Result<()> {
        self.enqueue(record, Wait::Forever).map(|_| ())
    }

    /// Queue one record if that needs no waiting at all (neither for room nor for
    /// another thread using the queue): `Ok(false)` means it was not queued; call
    /// [`write`](Self::write) or [`write_within`](Self::write_within) to wait.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bg = clh::BackgroundWriter::new(w, Default::default())?;
    /// assert!(bg.try_write(b"hello\n")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_write(&self, record: &[u8]) -> Result<bool> {
        self.enqueue(record, Wait::No)
    }

    /// Queue one record, waiting at most `timeout` for room: `Ok(false)` means the
    /// queue stayed full (a caller that must react to signals waits in slices).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bg = clh::BackgroundWriter::new(w, Default::default())?;
    /// assert!(bg.write_within(b"hello\n", std::time::Duration::from_millis(50))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_within(&self, record: &[u8], timeout: Duration) -> Result<bool> {
        self.enqueue(record, Wait::For(timeout))
    }

    /// Wait until every record queued before this call has been written. If writing
    /// fails meanwhile, or the writer makes no progress for [`STALL_LIMIT`], return
    /// that error instead of waiting it out: the records stay queued and are retried.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bg = clh::BackgroundWriter::new(w, Default::default())?;
    /// bg.write(b"x\n")?;
    /// bg.flush()?;
    /// assert_eq!(std::fs::read(dir.path().join("a.log"))?, b"x\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        self.wait_written(None)
    }

    /// How many records the [`Overflow::Drop`] policy has dropped in this process.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bg = clh::BackgroundWriter::new(w, Default::default())?;
    /// assert_eq!(bg.dropped_records(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dropped_records(&self) -> u64 {
        self.worker().queue.lock().dropped
    }

    /// Refuse new records from now on (they get [`Error::Retired`]), for a writer that
    /// is being replaced: records already queued are still written by
    /// [`flush`](Self::flush) or [`close`](Self::close). A caller that gets
    /// `Retired` should flush this writer, then write through the replacement, which
    /// keeps each thread's records in order across the switch.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bg = clh::BackgroundWriter::new(w, Default::default())?;
    /// bg.retire();
    /// assert!(matches!(bg.write(b"x\n"), Err(clh::Error::Retired)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn retire(&self) {
        let queue = &self.worker().queue;
        queue.lock().retired = true;
        queue.progress.notify_all(); // blocked producers must see it
    }

    /// Write what is queued, let the thread stop once the queue is empty, and close
    /// the writer (which finishes compressions). If writing keeps failing for
    /// [`CLOSE_GRACE`], the records still queued are given up: counted, reported
    /// here, and announced in the log once writing works. Never waits longer than
    /// [`STALL_LIMIT`] for a writer that makes no progress. The writer stays usable:
    /// a later write starts a new thread.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bg = clh::BackgroundWriter::new(w, Default::default())?;
    /// bg.write(b"last words\n")?;
    /// bg.close()?;
    /// assert_eq!(std::fs::read(dir.path().join("a.log"))?, b"last words\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) -> Result<()> {
        let flushed = self.wait_written(Some(CLOSE_GRACE));
        let queue = &self.worker().queue;
        queue.lock().closing = true;
        queue.arrived.notify_all();
        let closed = self.writer.close();
        flushed.and(closed)
    }

    fn worker(&self) -> &Worker {
        self.worker.get(Worker::new)
    }

    fn enqueue(&self, record: &[u8], wait: Wait) -> Result<bool> {
        let worker = self.worker();
        let queue = &worker.queue;
        let mut state = match wait {
            Wait::No => match queue.try_lock() {
                Some(state) => state,
                None => return Ok(false),
            },
            Wait::For(_) | Wait::Forever => queue.lock(),
        };
        let opts = &self.options;
        let fits = |s: &State| {
            s.records.is_empty()
                || (s.records.len() < opts.queue_records
                    && s.bytes + record.len() <= opts.queue_bytes)
        };
        if state.retired {
            return Err(Error::Retired);
        }
        if !fits(&state) {
            match (opts.queue_overflow, wait) {
                (Overflow::Drop, _) => {
                    state.dropped += 1;
                    let reason = state.drop_reason();
                    state.lose(1, || reason);
                    return state.error.take().map_or(Ok(true), Err);
                }
                (Overflow::Block, Wait::No) => return Ok(false),
                (Overflow::Block, _) => {
                    let deadline = match wait {
                        Wait::For(timeout) => Some(Instant::now() + timeout),
                        _ => None,
                    };
                    state.waiters += 1;
                    while !fits(&state) && !state.retired {
                        let now = Instant::now();
                        if deadline.is_some_and(|d| now >= d) {
                            break;
                        }
                        if state.failing.is_none() {
                            queue.arrived.notify_one();
                        }
                        let slice = deadline.map_or(TICK, |d| (d - now).min(TICK));
                        state = queue.wait_for(&queue.progress, state, slice);
                    }
                    state.waiters -= 1;
                    if state.retired {
                        return Err(Error::Retired);
                    }
                    if !fits(&state) {
                        return Ok(false);
                    }
                }
            }
        }
        state.closing = false;
        state.records.push(record.to_vec());
        state.bytes += record.len();
        state.accepted += 1;
        let start = !state.running;
        state.running = true;
        // Wake the thread if it waits for work, or if the queue is half full (but
        // not while it pauses between retries of a failed batch).
        let wake = state.idle
            || (state.failing.is_none() && state.records.len() >= opts.queue_records / 2);
        let error = state.error.take();
        drop(state);
        if start {
            worker.start(&self.writer)?;
        }
        if wake || start {
            queue.arrived.notify_one();
        }
        error.map_or(Ok(true), Err)
    }

    /// Wait until the records accepted so far are written. Returns early with the
    /// failure if writing fails meanwhile (with `grace`: only once it has failed for
    /// that long, and the records up to here are then given up), or with a stall
    /// error after [`STALL_LIMIT`] without progress.
    fn wait_written(&self, grace: Option<Duration>) -> Result<()> {
        let queue = &self.worker().queue;
        let mut state = queue.lock();
        let target = state.accepted;
        let failures_before = state.failures;
        let given_up_before = state.given_up;
        let mut progress = (state.finished, Instant::now());
        state.waiters += 1;
        let result = loop {
            if state.finished >= target {
                break Ok(());
            }
            let now = Instant::now();
            if state.finished != progress.0 {
                progress = (state.finished, now);
            }
            if let Some(failing) = &state.failing {
                match grace {
                    None if state.failures > failures_before => {
                        break Err(self.failure(&state, failing.error.duplicate()));
                    }
                    // Give up what was queued so far; wait for the worker to do so.
                    Some(grace)
                        if now.duration_since(failing.since) >= grace
                            && state.abandon_until < target =>
                    {
                        state.abandon_until = target;
                        queue.arrived.notify_all();
                    }
                    _ => {}
                }
            } else {
                queue.arrived.notify_one(); // cut a linger short
            }
            if now.duration_since(progress.1) >= STALL_LIMIT {
                let e = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the background writer made no progress for {} s (another process may hold the lock); the records stay queued",
                        STALL_LIMIT.as_secs()
                    ),
                );
                break Err(self.failure(&state, Error::io(Step::Write, self.writer.path(), e)));
            }
            state = queue.wait_for(&queue.progress, state, TICK);
        };
        state.waiters -= 1;
        let given_up = state.given_up - given_up_before;
        if given_up > 0 {
            // Given up at close: say so now (the log will say so once it can).
            let e = io::Error::other(format!(
                "writing kept failing until the log was closed: {given_up} record(s) were not written"
            ));
            return Err(self.failure(&state, Error::io(Step::Write, self.writer.path(), e)));
        }
        match result {
            Ok(()) => state.error.take().map_or(Ok(()), Err),
            Err(e) => {
                state.error = None; // reported here
                Err(e)
            }
        }
    }

    fn failure(&self, state: &MutexGuard<'_, State>, source: Error) -> Error {
        Error::Background {
            waiting: (state.accepted - state.finished) as usize,
            lost: state.unannounced,
            source: Box::new(source),
        }
    }
}

impl Worker {
    fn new() -> Self {
        Worker {
            queue: Arc::new(Queue::new()),
            thread: Mutex::new(None),
        }
    }

    /// Start the worker thread (the caller has set `running`).
    fn start(&self, writer: &Arc<LogWriter>) -> Result<()> {
        let queue = Arc::clone(&self.queue);
        let for_thread = Arc::clone(writer);
        let spawned = std::thread::Builder::new()
            .name("clh-writer".into())
            .spawn(move || worker::run(&queue, &for_thread));
        match spawned {
            Ok(handle) => {
                // A previous handle belongs to a thread that has stopped: dropping it
                // detaches what is already over.
                *self.handle() = Some(handle);
                Ok(())
            }
            Err(e) => {
                self.queue.lock().running = false;
                Err(Error::io(Step::Write, writer.path(), e))
            }
        }
    }

    fn handle(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.thread.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Join the thread if it stops within [`STALL_LIMIT`] (it does once the queue is
    /// closed and empty); otherwise leave it be.
    fn join_if_stopping(&self) {
        let deadline = Instant::now() + STALL_LIMIT;
        let mut state = self.queue.lock();
        while state.running && Instant::now() < deadline {
            state = self.queue.wait_for(&self.queue.progress, state, TICK);
        }
        let stopped = !state.running;
        drop(state);
        let handle = self.handle().take();
        if let (true, Some(handle)) = (stopped, handle) {
            let _ = handle.join();
        }
    }
}

impl Drop for BackgroundWriter {
    /// Write what is queued and stop the thread (an error can only be dropped here).
    fn drop(&mut self) {
        let _ = self.close();
        self.worker().join_if_stopping();
    }
}

impl std::fmt::Debug for BackgroundWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundWriter")
            .field("writer", &self.writer)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(dir: &std::path::Path) -> BackgroundWriter {
        let w = LogWriter::builder(dir.join("a.log")).open().unwrap();
        BackgroundWriter::new(w, QueueOptions::default()).unwrap()
    }

    #[test]
    fn try_write_never_waits_for_a_queue_another_thread_holds() {
        let dir = tempfile::tempdir().unwrap();
        let bg = writer(dir.path());
        let held = bg.worker().queue.lock();
        assert!(
            !bg.try_write(b"x\n").unwrap(),
            "queued while the queue was held"
        );
        drop(held);
        assert!(bg.try_write(b"x\n").unwrap());
        bg.flush().unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.log")).unwrap(), b"x\n");
    }

    #[test]
    fn a_full_queue_makes_write_within_time_out() {
        let dir = tempfile::tempdir().unwrap();
        let w = LogWriter::builder(dir.path().join("a.log")).open().unwrap();
        let opts = QueueOptions {
            queue_records: 1,
            ..QueueOptions::default()
        };
        let bg = BackgroundWriter::new(w, opts).unwrap();
        // Hold the cross-process lock: the worker takes one record and waits for it.
        let lock = std::fs::File::open(dir.path().join(".__a.lock")).unwrap();
        lock.lock().unwrap();
        bg.write(b"taken by the worker\n").unwrap();
        let start = Instant::now();
        while bg.write_within(b"fills the queue\n", TICK).unwrap() {
            assert!(start.elapsed() < STALL_LIMIT, "the queue never filled");
        }
        lock.unlock().unwrap();
        bg.flush().unwrap();
    }
}
