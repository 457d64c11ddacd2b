//! Background writing: records go into a bounded in-memory queue and one thread per
//! log drains it in batches, taking the cross-process lock once per batch and
//! writing each batch with one `write()` (group commit). Rotation is still checked
//! record by record inside the batch ([`LogWriter::write_batch`]).
//!
//! The queue is bounded in records and in bytes. When it is full, [`Overflow::Block`]
//! (the default) makes the caller wait, so no record is ever lost; [`Overflow::Drop`]
//! drops the record instead, counts it, and writes a line saying how many records were
//! dropped as soon as it can. Errors of the thread (disk full, permissions) are handed
//! to the next caller; the thread keeps going and recovers when the cause goes away.
//!
//! The queue is a `Mutex<Vec>` with condition variables rather than a channel because
//! it must be bounded in bytes as well as records and is drained whole in one step.

use crate::error::{Error, Result, Step};
use crate::fork::{Abandon, ForkLocal};
use crate::writer::LogWriter;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// What to do with a record when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Wait for room (the default): nothing is ever lost.
    #[default]
    Block,
    /// Drop the record, count it, and log how many were dropped once there is room.
    Drop,
}

/// Bounds of a background writer's queue.
///
/// ```
/// let opts = clh::QueueOptions { max_records: 10_000, max_bytes: 8 << 20, overflow: clh::Overflow::Block };
/// assert_eq!(opts, clh::QueueOptions::default());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueOptions {
    /// At most this many records wait in memory.
    pub max_records: usize,
    /// At most this many bytes wait in memory (a single larger record is still accepted
    /// into an empty queue).
    pub max_bytes: usize,
    /// What happens to a record that does not fit.
    pub overflow: Overflow,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            max_records: 10_000,
            max_bytes: 8 << 20,
            overflow: Overflow::Block,
        }
    }
}

/// A [`LogWriter`] whose records are written by a thread of its own.
///
/// `write` only queues (a memory copy); [`flush`](Self::flush) waits until everything
/// queued before it is written; dropping the writer flushes and joins the thread.
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
    queue: ForkLocal<Queue>,
}

struct Queue {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when records arrive (or on close).
    arrived: Condvar,
    /// Signalled when the thread takes a batch (room) or finishes one (written).
    progress: Condvar,
}

#[derive(Default)]
struct State {
    records: Vec<Vec<u8>>,
    bytes: usize,
    /// Records accepted so far, and records the thread has finished with.
    accepted: u64,
    finished: u64,
    /// Drops not yet reported in the log, and all drops ever.
    unreported_drops: u64,
    dropped: u64,
    error: Option<Error>,
    closing: bool,
    /// Set by `retire`: new records are refused with `Error::Retired`.
    retired: bool,
    /// The thread waits for a first record: a producer must wake it.
    idle: bool,
    /// Callers waiting on `progress` (blocked producers and flushers): only then does
    /// the thread signal it (a signal costs a system call).
    waiters: usize,
}

impl Abandon for Queue {
    /// The parent's thread does not exist in the child; its records are the parent's.
    fn abandon(&self) {}
}

impl BackgroundWriter {
    /// Wrap `writer`; the thread starts with the first record. Zero bounds are an error.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bad = clh::QueueOptions { max_records: 0, ..Default::default() };
    /// assert!(clh::BackgroundWriter::new(w, bad).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(writer: impl Into<Arc<LogWriter>>, options: QueueOptions) -> Result<Self> {
        if options.max_records == 0 {
            return Err(Error::invalid("max_records", 0, "must be at least 1"));
        }
        if options.max_bytes == 0 {
            return Err(Error::invalid("max_bytes", 0, "must be at least 1"));
        }
        Ok(BackgroundWriter {
            writer: writer.into(),
            options,
            queue: ForkLocal::new(Queue::new()),
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
    /// call (the record itself was still queued).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bg = clh::BackgroundWriter::new(w, Default::default())?;
    /// bg.write(b"hello\n")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&self, record: &[u8]) -> Result<()> {
        self.enqueue(record, true).map(|_| ())
    }

    /// Queue one record if that needs no waiting: `Ok(false)` means the queue is full
    /// and the policy is [`Overflow::Block`] (call [`write`](Self::write) to wait).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bg = clh::BackgroundWriter::new(w, Default::default())?;
    /// assert!(bg.try_write(b"hello\n")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_write(&self, record: &[u8]) -> Result<bool> {
        self.enqueue(record, false)
    }

    /// Wait until every record queued before this call has been written (or has
    /// failed, which is then reported here).
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
        let queue = self.queue();
        let mut state = queue.shared.lock();
        let target = state.accepted;
        state.waiters += 1;
        while state.finished < target {
            queue.shared.arrived.notify_one(); // cut a linger short
            state = queue.shared.wait(&queue.shared.progress, state);
        }
        state.waiters -= 1;
        state.error.take().map_or(Ok(()), Err)
    }

    /// How many records the [`Overflow::Drop`] policy has dropped in this process.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let w = clh::LogWriter::builder(dir.path().join("a.log")).open()?;
    /// let bg = clh::BackgroundWriter::new(w, Default::default())?;
    /// assert_eq!(bg.dropped(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dropped(&self) -> u64 {
        self.queue().shared.lock().dropped
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
        let queue = self.queue();
        queue.shared.lock().retired = true;
        queue.shared.progress.notify_all(); // blocked producers must see it
    }

    /// Flush, stop the thread, then close the writer (which finishes compressions).
    /// The writer stays usable: a later write starts a new thread.
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
        let flushed = self.flush();
        self.queue().stop();
        let closed = self.writer.close();
        flushed.and(closed)
    }

    fn queue(&self) -> &Queue {
        self.queue.get(Queue::new)
    }

    fn enqueue(&self, record: &[u8], wait: bool) -> Result<bool> {
        let queue = self.queue();
        let mut state = queue.shared.lock();
        let opts = &self.options;
        let fits = |s: &State| {
            s.records.is_empty()
                || (s.records.len() < opts.max_records && s.bytes + record.len() <= opts.max_bytes)
        };
        if state.retired {
            return Err(Error::Retired);
        }
        if !fits(&state) {
            match opts.overflow {
                Overflow::Drop => {
                    state.dropped += 1;
                    state.unreported_drops += 1;
                    return state.error.take().map_or(Ok(true), Err);
                }
                Overflow::Block if !wait => return Ok(false),
                Overflow::Block => {
                    state.waiters += 1;
                    while !fits(&state) && !state.retired {
                        queue.shared.arrived.notify_one();
                        state = queue.shared.wait(&queue.shared.progress, state);
                    }
                    state.waiters -= 1;
                    if state.retired {
                        return Err(Error::Retired);
                    }
                }
            }
        }
        state.closing = false;
        state.records.push(record.to_vec());
        state.bytes += record.len();
        state.accepted += 1;
        let first = state.records.len() == 1;
        // Wake the thread if it waits for work, or if the queue is half full.
        let wake = state.idle || state.records.len() >= opts.max_records / 2;
        let error = state.error.take();
        drop(state);
        if first {
            queue.ensure_thread(&self.writer)?;
        }
        if wake || first {
            queue.shared.arrived.notify_one();
        }
        error.map_or(Ok(true), Err)
    }
}

impl Drop for BackgroundWriter {
    /// Write what is queued and stop the thread (an error can only be dropped here).
    fn drop(&mut self) {
        let _ = self.close();
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

impl Queue {
    fn new() -> Self {
        Queue {
            shared: Arc::new(Shared {
                state: Mutex::default(),
                arrived: Condvar::new(),
                progress: Condvar::new(),
            }),
            thread: Mutex::new(None),
        }
    }

    fn ensure_thread(&self, writer: &Arc<LogWriter>) -> Result<()> {
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if thread.as_ref().is_some_and(|t| !t.is_finished()) {
            return Ok(());
        }
        let shared = Arc::clone(&self.shared);
        let for_thread = Arc::clone(writer);
        let spawned = std::thread::Builder::new()
            .name("clh-writer".into())
            .spawn(move || drain(&shared, &for_thread));
        *thread = Some(spawned.map_err(|e| Error::io(Step::Write, writer.path(), e))?);
        Ok(())
    }

    /// Ask the thread to finish (after the queue is empty) and join it.
    fn stop(&self) {
        self.shared.lock().closing = true;
        self.shared.arrived.notify_all();
        if let Some(handle) = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = handle.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, cv: &Condvar, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
    }
}

/// How long the thread pauses after a failed batch before the next one, so that a
/// persistent error (disk full) does not spin.
const ERROR_PAUSE: Duration = Duration::from_millis(50);

/// After a small batch, how long the thread lets records gather before the next one
/// (unless a flush, a close or a half-full queue calls it earlier). Without it, a
/// thread faster than its producers would write, and be woken, once per record.
const LINGER: Duration = Duration::from_millis(2);

/// The writer thread: take everything queued, write it as one batch, repeat.
fn drain(shared: &Shared, writer: &LogWriter) {
    let mut last_batch = 0;
    loop {
        let mut state = shared.lock();
        if last_batch > 0 && last_batch < 64 && !state.closing && state.waiters == 0 {
            state = shared
                .arrived
                .wait_timeout(state, LINGER)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        while state.records.is_empty() && state.unreported_drops == 0 && !state.closing {
            state.idle = true;
            state = shared.wait(&shared.arrived, state);
            state.idle = false;
        }
        if state.records.is_empty() && state.unreported_drops == 0 {
            return; // closing, and nothing left
        }
        let mut batch = std::mem::take(&mut state.records);
        let count = batch.len() as u64;
        state.bytes = 0;
        let drops = std::mem::take(&mut state.unreported_drops);
        if state.waiters > 0 {
            shared.progress.notify_all(); // room for blocked producers
        }
        drop(state);
        if drops > 0 {
            let notice = format!(
                "concurrent_log_handler: {drops} record(s) dropped: the background queue was full\n"
            );
            batch.insert(0, notice.into_bytes());
        }
        let result = writer.write_batch(&batch);
        let failed = result.is_err();
        let mut state = shared.lock();
        state.finished += count;
        if let Err(e) = result {
            state.error = Some(Error::Background {
                records: batch.len(),
                source: Box::new(e),
            });
        }
        if state.waiters > 0 {
            shared.progress.notify_all();
        }
        drop(state);
        last_batch = count;
        if failed {
            std::thread::sleep(ERROR_PAUSE);
        }
    }
}
