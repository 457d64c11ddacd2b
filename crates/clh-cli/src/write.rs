//! `clh write`: standard input to the shared log, one record per line.
//!
//! Two threads, and no work per record where none is needed. The reading thread (the
//! caller's) reads standard input in large chunks straight into a [`Batch`] (one
//! buffer) and only looks for the last newline of each chunk: the bytes before it are
//! complete records, the bytes after it the start of the next one (the open record),
//! which moves to the next batch when this one is handed over. A batch is handed to
//! the writing thread when it holds [`BATCH_BYTES`], or as soon as the input has
//! nothing more for now (so a slow producer's lines are written at once). The writing
//! thread writes it with [`clh::LogWriter::write_lines`]: under one acquisition of the
//! log's lock, in one `write()` unless the size limit falls inside the batch, where it
//! is split at the first newline after the limit, exactly where records written one by
//! one would rotate. At most [`QUEUED_BATCHES`] batches wait between the threads; then
//! reading waits (the writer's pace: nothing is dropped), and so does whoever feeds us.
//!
//! With `--timestamp`, records are made anew: a chunk is read aside and cut at its
//! newlines into the batch, a time stamp (taken once per chunk read) in front of each.
//! With `-0`, records end at NULs and may hold newlines: they are cut the same way
//! (each gets a newline instead of its NUL, none if it ends with one), the batch keeps
//! where each ends, and the writing thread uses
//! [`clh::LogWriter::write_batch_counted`], which checks each record against the
//! triggers.
//!
//! A record of any length is written whole: the batch grows to hold it, and storage
//! that grew beyond twice the usual size is released once written.
//!
//! A batch that cannot be written (disk full, quota, EIO) is retried from its first
//! record not written (never a record twice), with pauses from 10 ms to 1 s, the
//! error reported on standard error at most every [`REPORT_EVERY`].
//!
//! At end of input or on a signal (after reading what is already waiting, for at most
//! [`DRAIN_LIMIT`]), the last unterminated line gets its newline, the last batch is
//! handed over, and the command waits until everything is written, then for pending
//! compressions. It gives up (exit 1, saying how much was not written) only when the
//! writing thread makes no progress for [`clh::STALL_LIMIT`] after the end of input or
//! after a signal: another process holding the lock, or writes failing all along.

use crate::cli::WriteArgs;
use crate::input::{is_closed_pipe, Event, Input, Ready};
use crate::signals::Watch;
use crate::{report, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};
use clh::{Error, LogWriter, Schedule};
use crossbeam_channel::{self as channel, RecvTimeoutError, SendTimeoutError};
use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How much is read from standard input at once (a pipe gives at most its buffer,
/// 64 KiB on Linux, per read; a file gives this).
const READ_SIZE: usize = 256 * 1024;

/// A batch is handed to the writing thread once it holds this many bytes.
pub const BATCH_BYTES: usize = 1024 * 1024;

/// How many batches may wait for the writing thread before reading waits.
pub const QUEUED_BATCHES: usize = 4;

/// After a signal, how long we keep reading what is already waiting in the input.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// How long one wait (for room between the threads, for the writing thread to end)
/// lasts before signals and progress are looked at.
const SLICE: Duration = Duration::from_millis(100);

/// A failure that lasts is reported at most this often.
pub const REPORT_EVERY: Duration = Duration::from_secs(5);

/// The first pause before a failed batch is retried, and the longest.
const RETRY_FIRST: Duration = Duration::from_millis(10);
const RETRY_MAX: Duration = Duration::from_secs(1);

/// The time stamp's format: RFC 3339, local time, milliseconds.
const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3f%:z";

/// `clh write`: returns the exit code.
pub fn run(args: WriteArgs) -> i32 {
    // First of all, so that every thread started later inherits the blocked mask.
    let watch = Watch::start().unwrap_or_else(|e| {
        report(
            "write",
            format_args!("cannot watch for signals ({e}): they keep their usual effect"),
        );
        Watch::none()
    });
    let code = write(&args, &watch);
    watch.stop();
    code
}

fn write(args: &WriteArgs, watch: &Watch) -> i32 {
    let writer = match open(args) {
        Ok(writer) => Arc::new(writer),
        Err(e) => {
            report("write", &e);
            return match e {
                Error::InvalidOption { .. } => EXIT_USAGE,
                _ => EXIT_FAILURE,
            };
        }
    };
    let shared = Arc::new(Shared::default());
    let (to_writer, batches) = channel::bounded::<Batch>(QUEUED_BATCHES);
    let (to_pool, pool) = channel::unbounded::<Batch>();
    let (ended, end) = channel::bounded::<()>(0);
    let spawned = {
        let writer = Arc::clone(&writer);
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("clh-write".into())
            .spawn(move || {
                // Dropped when the thread ends, however it ends: wakes the waiter.
                let _ended = ended;
                write_loop(&writer, &batches, &to_pool, &shared);
            })
    };
    let thread = match spawned {
        Ok(thread) => thread,
        Err(e) => {
            report(
                "write",
                format_args!("cannot start the writing thread: {e}"),
            );
            return EXIT_FAILURE;
        }
    };

    let mut records = Records::new(args, to_writer, pool, &shared, watch);
    #[cfg(unix)]
    let mut input = Input::stdin(watch.wake_fd());
    #[cfg(not(unix))]
    let mut input = Input::stdin();
    let mut failed = false;
    let read_failed = |e: io::Error| {
        report("write", format_args!("reading standard input: {e}"));
        true
    };
    loop {
        if records.stalled {
            break;
        }
        // Nothing to read now: what was read goes to the log before we wait.
        let ready = match input.poll(false) {
            Ok(Ready::Nothing) => {
                records.idle();
                input.poll(true)
            }
            other => other,
        };
        match ready {
            Ok(Ready::Input) => {
                if input.blocking() {
                    records.idle(); // the read may wait
                }
                match input.read(records.target()) {
                    Ok(Some(Event::Data(n))) => records.filled(n),
                    Ok(Some(Event::Eof)) => break,
                    Ok(None) => {}
                    Err(e) => {
                        failed = read_failed(e);
                        break;
                    }
                }
            }
            Ok(Ready::Nothing) => {}
            Ok(Ready::Signal) => {
                // Take what is already waiting (the last lines Apache wrote before
                // it sent SIGTERM), for a bounded time.
                input.ignore_signals();
                let deadline = Instant::now() + DRAIN_LIMIT;
                while !input.blocking() && Instant::now() < deadline && !records.stalled {
                    match input.poll(false) {
                        Ok(Ready::Input) => {}
                        Ok(_) => break,
                        Err(e) => {
                            failed = read_failed(e);
                            break;
                        }
                    }
                    match input.read(records.target()) {
                        Ok(Some(Event::Data(n))) => records.filled(n),
                        Ok(_) => break,
                        Err(e) => {
                            failed = read_failed(e);
                            break;
                        }
                    }
                }
                break;
            }
            Err(e) => {
                failed = read_failed(e);
                break;
            }
        }
    }
    records.finish();
    let (read, stalled) = (records.read_bytes, records.stalled);
    drop(records); // closes the channel: the writing thread ends after the last batch

    // Wait for the writing thread while it makes progress.
    let mut progress = Progress::new(&shared);
    let finished = !stalled
        && loop {
            match end.recv_timeout(SLICE) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => break true,
                Err(RecvTimeoutError::Timeout) => {
                    if progress.idle_for() >= clh::STALL_LIMIT {
                        break false;
                    }
                }
            }
        };
    if !finished {
        // Another process holds the lock and does not let go, or every write fails.
        // Joining would wait for as long: leave the thread (it ends with the process,
        // or at its next retry) and say how much was not written.
        shared.give_up.store(true, Ordering::SeqCst);
        let written = shared.written.load(Ordering::SeqCst);
        let why = shared.failure().unwrap_or_else(|| {
            "waiting for the log's lock, which another process held all along".to_owned()
        });
        report(
            "write",
            format_args!(
                "{} of the {read} bytes of records read were not written: no progress for {} s ({why})",
                read.saturating_sub(written),
                clh::STALL_LIMIT.as_secs()
            ),
        );
        return EXIT_FAILURE;
    }
    if thread.join().is_err() {
        report("write", "the writing thread panicked");
        failed = true;
    }
    let written = shared.written.load(Ordering::SeqCst);
    if written < read {
        report(
            "write",
            format_args!(
                "{} of the {read} bytes of records read were not written",
                read - written
            ),
        );
        failed = true;
    }
    // Pending compressions (and, with gzip, those a killed writer left).
    if let Err(e) = writer.close() {
        report("write", format_args!("{e} (every record was written)"));
    }
    if failed {
        EXIT_FAILURE
    } else {
        EXIT_OK
    }
}

fn open(args: &WriteArgs) -> clh::Result<LogWriter> {
    let mut builder = LogWriter::builder(&args.path)
        .max_bytes(args.max_bytes)
        .backup_count(args.backups)
        .use_gzip(args.gzip);
    if let Some(dir) = &args.lock_dir {
        builder = builder.lock_file_directory(dir);
    }
    if let Some(mode) = args.chmod {
        builder = builder.chmod(mode);
    }
    if let Some((uid, gid)) = args.owner {
        builder = builder.owner(uid, gid);
    }
    if let Some(umask) = args.umask {
        builder = builder.umask(umask);
    }
    if let Some(when) = args.when {
        let mut schedule = Schedule::new(when, args.interval)?.utc(args.utc);
        if let Some(at) = args.at_time {
            schedule = schedule.at_time(at);
        }
        builder = builder.schedule(schedule);
    }
    if args.debug {
        builder = builder.trace(clh::Trace::to(|line: &str| {
            let _ = writeln!(io::stderr().lock(), "{line}");
        }));
    }
    builder.open()
}

/// Complete records back to back, then possibly the start of a record not complete
/// yet (the open record), which moves to the next batch.
#[derive(Debug, Default)]
struct Batch {
    /// Initialised storage (zeroed once, when allocated): bytes `..len` are used.
    buf: Vec<u8>,
    len: usize,
    /// Bytes `..complete` are complete records, `complete..len` the open record.
    complete: usize,
    /// Whether records are lines (they end at their first newline); else `ends` says
    /// where each ends (`-0`: records may hold newlines).
    lines: bool,
    ends: Vec<usize>,
}

impl Batch {
    fn new(lines: bool) -> Batch {
        Batch {
            buf: vec![0; BATCH_BYTES + 2 * READ_SIZE],
            len: 0,
            complete: 0,
            lines,
            ends: Vec::new(),
        }
    }

    /// The complete records.
    fn data(&self) -> &[u8] {
        &self.buf[..self.complete]
    }

    /// The open record so far (empty if none).
    fn open(&self) -> &[u8] {
        &self.buf[self.complete..self.len]
    }

    /// At least `n` writable bytes after those used (growing the storage if needed).
    fn spare(&mut self, n: usize) -> &mut [u8] {
        if self.buf.len() < self.len + n {
            self.buf.resize(self.len + n, 0);
        }
        &mut self.buf[self.len..]
    }

    fn extend(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        self.spare(n)[..n].copy_from_slice(bytes);
        self.len += n;
    }

    /// The open record is complete.
    fn end_record(&mut self) {
        self.complete = self.len;
        if !self.lines {
            self.ends.push(self.len);
        }
    }

    /// The complete records, one slice each.
    fn records(&self) -> Vec<&[u8]> {
        if self.lines {
            return self.data().split_inclusive(|&b| b == b'\n').collect();
        }
        let mut start = 0;
        self.ends
            .iter()
            .map(|&end| {
                let record = &self.buf[start..end];
                start = end;
                record
            })
            .collect()
    }

    /// How many complete records start at or after byte `from` (for messages).
    fn records_from(&self, from: usize) -> usize {
        if self.lines {
            memchr::memchr_iter(b'\n', &self.buf[from..self.complete]).count()
        } else {
            self.ends.iter().filter(|&&end| end > from).count()
        }
    }

    /// Whether its storage is worth keeping for another batch (not grown for a long
    /// record).
    fn reusable(&self) -> bool {
        self.buf.len() <= 2 * (BATCH_BYTES + 2 * READ_SIZE)
    }

    fn clear(&mut self) {
        self.len = 0;
        self.complete = 0;
        self.ends.clear();
    }
}

/// What the two threads share.
#[derive(Debug, Default)]
struct Shared {
    /// Bytes of records written so far.
    written: AtomicU64,
    /// Set when the reading thread gave up waiting: stop retrying.
    give_up: AtomicBool,
    /// The error that keeps records from being written, while it lasts.
    failure: Mutex<Option<String>>,
}

impl Shared {
    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_failure(&self, failure: Option<String>) -> Option<String> {
        std::mem::replace(
            &mut *self.failure.lock().unwrap_or_else(PoisonError::into_inner),
            failure,
        )
    }
}

/// How long the writing thread has gone without writing a record.
struct Progress<'a> {
    shared: &'a Shared,
    seen: u64,
    since: Instant,
}

impl<'a> Progress<'a> {
    fn new(shared: &'a Shared) -> Self {
        Progress {
            shared,
            seen: shared.written.load(Ordering::SeqCst),
            since: Instant::now(),
        }
    }

    fn idle_for(&mut self) -> Duration {
        let now = self.shared.written.load(Ordering::SeqCst);
        if now != self.seen {
            self.seen = now;
            self.since = Instant::now();
        }
        self.since.elapsed()
    }
}

/// Reports of one kind, at most one every [`REPORT_EVERY`] (the count of those left
/// out is given with the next one).
#[derive(Default)]
struct Reports {
    last: Option<Instant>,
    left_out: u64,
}

impl Reports {
    fn report(&mut self, message: impl std::fmt::Display) {
        if self.last.is_some_and(|last| last.elapsed() < REPORT_EVERY) {
            self.left_out += 1;
            return;
        }
        self.last = Some(Instant::now());
        match std::mem::take(&mut self.left_out) {
            0 => report("write", message),
            n => report(
                "write",
                format_args!("{message} ({n} similar report(s) left out)"),
            ),
        }
    }
}

/// The writing thread: each batch, whole, until the channel closes.
fn write_loop(
    writer: &LogWriter,
    batches: &channel::Receiver<Batch>,
    pool: &channel::Sender<Batch>,
    shared: &Shared,
) {
    let mut reports = Reports::default();
    for mut batch in batches {
        if !write_batch(writer, &batch, shared, &mut reports) {
            return;
        }
        if batch.reusable() {
            batch.clear();
            let _ = pool.send(batch);
        }
    }
}

/// Write every record of `batch`, retrying what fails; `false` if told to give up.
fn write_batch(writer: &LogWriter, batch: &Batch, shared: &Shared, reports: &mut Reports) -> bool {
    let records = if batch.lines {
        Vec::new()
    } else {
        batch.records()
    };
    // Bytes and (with `-0`) records written so far.
    let (mut done, mut done_records) = (0, 0);
    let mut pause = RETRY_FIRST;
    loop {
        let (bytes, result) = if batch.lines {
            writer.write_lines(&batch.data()[done..])
        } else {
            let (n, result) = writer.write_batch_counted(&records[done_records..]);
            done_records += n;
            let end = done_records
                .checked_sub(1)
                .map_or(0, |last| batch.ends[last]);
            (end - done, result)
        };
        done += bytes;
        shared.written.fetch_add(bytes as u64, Ordering::SeqCst);
        match result {
            Ok(()) => {
                recovered(shared, reports);
                return true;
            }
            Err(e) if done == batch.complete => {
                // Written; something around the records failed (a rotation, a
                // compression): the next records try again.
                recovered(shared, reports);
                reports.report(format_args!("{e} (the records were written)"));
                return true;
            }
            Err(e) => {
                reports.report(format_args!(
                    "{e}: {} record(s) not written yet, retrying",
                    batch.records_from(done)
                ));
                shared.set_failure(Some(e.to_string()));
            }
        }
        let until = Instant::now() + pause;
        loop {
            if shared.give_up.load(Ordering::SeqCst) {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(20)));
        }
        pause = (pause * 2).min(RETRY_MAX);
    }
}

fn recovered(shared: &Shared, reports: &mut Reports) {
    if shared.set_failure(None).is_some() {
        *reports = Reports::default();
        report("write", "writing works again");
    }
}

/// The reading thread's side: cuts input into records, fills batches, hands them over.
struct Records<'a> {
    to_writer: channel::Sender<Batch>,
    pool: channel::Receiver<Batch>,
    shared: &'a Shared,
    watch: &'a Watch,
    separator: u8,
    time_zone: Option<jiff::tz::TimeZone>,
    /// The time stamp of the chunk being cut (with its space); empty without
    /// `--timestamp`.
    stamp: Vec<u8>,
    tee: Option<io::Stdout>,
    /// The batch being filled.
    batch: Batch,
    /// Where input is read when records are not written as read (`-0`,
    /// `--timestamp`); otherwise it is read straight into the batch.
    scratch: Vec<u8>,
    /// Bytes of complete records read, handed over or not.
    read_bytes: u64,
    /// The writing thread made no progress for too long after a signal, or ended:
    /// batches are no longer handed over.
    stalled: bool,
}

impl<'a> Records<'a> {
    fn new(
        args: &WriteArgs,
        to_writer: channel::Sender<Batch>,
        pool: channel::Receiver<Batch>,
        shared: &'a Shared,
        watch: &'a Watch,
    ) -> Self {
        let as_read = !args.null && !args.timestamp;
        Records {
            to_writer,
            pool,
            shared,
            watch,
            separator: if args.null { 0 } else { b'\n' },
            time_zone: args.timestamp.then(jiff::tz::TimeZone::system),
            stamp: Vec::new(),
            tee: args.tee.then(io::stdout),
            batch: Batch::new(!args.null),
            scratch: if as_read {
                Vec::new()
            } else {
                vec![0; READ_SIZE]
            },
            read_bytes: 0,
            stalled: false,
        }
    }

    /// Whether records are written as read (lines, no stamp).
    fn as_read(&self) -> bool {
        self.scratch.is_empty()
    }

    /// Where the next read goes.
    fn target(&mut self) -> &mut [u8] {
        if self.as_read() {
            &mut self.batch.spare(READ_SIZE)[..READ_SIZE]
        } else {
            &mut self.scratch
        }
    }

    /// `n` bytes were read into [`target`](Self::target): the records they complete
    /// join the batch, which is handed over once it is full.
    fn filled(&mut self, n: usize) {
        if self.as_read() {
            // Lines as they are: only where the last one ends matters here.
            let batch = &mut self.batch;
            let start = batch.len;
            batch.len += n;
            if let Some(i) = memchr::memrchr(b'\n', &batch.buf[start..batch.len]) {
                batch.complete = start + i + 1;
            }
        } else {
            let chunk = std::mem::take(&mut self.scratch);
            self.cut(&chunk[..n]);
            self.scratch = chunk;
        }
        if self.batch.complete >= BATCH_BYTES {
            self.hand_over();
        }
    }

    /// Cut a chunk into records made anew: a stamp in front, the separator replaced.
    fn cut(&mut self, chunk: &[u8]) {
        self.take_stamp();
        let mut start = 0;
        for end in memchr::memchr_iter(self.separator, chunk) {
            self.piece(&chunk[start..end]);
            self.end_record();
            start = end + 1;
        }
        if start < chunk.len() {
            self.piece(&chunk[start..]);
        }
    }

    /// Bytes of a record: the stamp first if they open it.
    fn piece(&mut self, bytes: &[u8]) {
        if self.batch.open().is_empty() {
            self.batch.extend(&self.stamp);
        }
        self.batch.extend(bytes);
    }

    /// The open record is complete: it ends with a newline, its own (a line's), or
    /// one instead of its NUL (none added if it ends with one), or the one a last
    /// line lacked.
    fn end_record(&mut self) {
        if !self.batch.open().ends_with(b"\n") {
            self.batch.extend(b"\n");
        }
        self.batch.end_record();
    }

    /// Nothing more to read for now: what was read goes to the log now.
    fn idle(&mut self) {
        self.hand_over();
        self.flush_tee();
    }

    /// The input has ended: a last record without a terminator is a record too.
    fn finish(&mut self) {
        if !self.batch.open().is_empty() {
            self.end_record();
        }
        self.hand_over();
        self.flush_tee();
    }

    fn take_stamp(&mut self) {
        if let Some(tz) = &self.time_zone {
            let now = jiff::Timestamp::now().to_zoned_datetime(tz.clone());
            self.stamp.clear();
            let _ = write!(self.stamp, "{} ", now.strftime(TIMESTAMP_FORMAT));
        }
    }

    /// Hand the complete records to the writing thread (after the tee); the open
    /// record moves to the next batch.
    fn hand_over(&mut self) {
        let complete = self.batch.complete;
        if complete == 0 {
            return;
        }
        let lines = self.batch.lines;
        let mut next = self.pool.try_recv().unwrap_or_else(|_| Batch::new(lines));
        next.extend(self.batch.open());
        self.batch.len = complete;
        let batch = std::mem::replace(&mut self.batch, next);
        self.read_bytes += complete as u64;
        self.tee(batch.data());
        self.send(batch);
    }

    /// Send a batch, waiting for room (the writer's pace) as long as it makes
    /// progress; after a signal, give up once it made none for the stall limit.
    fn send(&mut self, mut batch: Batch) {
        if self.stalled {
            return;
        }
        let mut progress = Progress::new(self.shared);
        loop {
            match self.to_writer.send_timeout(batch, SLICE) {
                Ok(()) => return,
                Err(SendTimeoutError::Timeout(back)) => {
                    batch = back;
                    let signalled = self
                        .watch
                        .received()
                        .is_some_and(|received| received.at.elapsed() >= clh::STALL_LIMIT);
                    if signalled && progress.idle_for() >= clh::STALL_LIMIT {
                        self.stalled = true;
                        return;
                    }
                }
                Err(SendTimeoutError::Disconnected(_)) => {
                    // The writing thread is gone (it panicked): said at its join.
                    self.stalled = true;
                    return;
                }
            }
        }
    }

    fn tee(&mut self, bytes: &[u8]) {
        let Some(out) = &mut self.tee else {
            return;
        };
        if let Err(e) = out.write_all(bytes) {
            self.tee_failed(&e);
        }
    }

    fn flush_tee(&mut self) {
        if let Some(out) = &mut self.tee {
            if let Err(e) = out.flush() {
                self.tee_failed(&e);
            }
        }
    }

    fn tee_failed(&mut self, e: &io::Error) {
        let why = if is_closed_pipe(e) {
            "standard output was closed".to_owned()
        } else {
            format!("writing standard output: {e}")
        };
        report(
            "write",
            format_args!("--tee: {why}: no more copies (the log still gets every record)"),
        );
        self.tee = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    /// The records `clh write EXTRA…` makes of input read in `chunks`.
    fn cut(extra: &[&str], chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut argv = vec!["clh", "write", "x.log"];
        argv.extend_from_slice(extra);
        let crate::cli::Command::Write(args) = crate::cli::Cli::parse_from(argv).command else {
            unreachable!()
        };
        let shared = Shared::default();
        let watch = Watch::none();
        let (to_writer, batches) = channel::unbounded();
        let (_to_pool, pool) = channel::unbounded();
        let mut records = Records::new(&args, to_writer, pool, &shared, &watch);
        for chunk in chunks {
            let target = records.target();
            target[..chunk.len()].copy_from_slice(chunk);
            records.filled(chunk.len());
            records.idle();
        }
        records.finish();
        let read = records.read_bytes;
        drop(records);
        let all: Vec<Vec<u8>> = batches
            .iter()
            .flat_map(|b| {
                b.records()
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(all.iter().map(Vec::len).sum::<usize>() as u64, read);
        all
    }

    #[test]
    fn lines_across_chunks_and_a_last_line_without_newline() {
        let got = cut(&[], &[b"one\ntw", b"o\n\nthr", b"e", b"e"]);
        assert_eq!(got, [&b"one\n"[..], b"two\n", b"\n", b"three\n"]);
    }

    #[test]
    fn nul_separated_records() {
        let got = cut(&["-0"], &[b"a\nb\0c\n\0", b"\0d"]);
        assert_eq!(got, [&b"a\nb\n"[..], b"c\n", b"\n", b"d\n"]);
    }

    #[test]
    fn stamps_open_records_even_empty_ones() {
        let got = cut(&["--timestamp"], &[b"a\n\nb", b"c\n"]);
        assert_eq!(got.len(), 3);
        let stamp_len = "2026-11-28T14:03:07.123+01:00 ".len();
        for (record, body) in got.iter().zip([&b"a\n"[..], b"\n", b"bc\n"]) {
            assert_eq!(&record[stamp_len..], body);
            assert_eq!(record[stamp_len - 1], b' ');
        }
    }

    #[test]
    fn a_record_longer_than_a_batch_is_whole() {
        let long = vec![b'x'; 3 * BATCH_BYTES];
        let mut input = b"short\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\nend\n");
        let chunks: Vec<&[u8]> = input.chunks(READ_SIZE).collect();
        let got = cut(&[], &chunks);
        let mut expected = long.clone();
        expected.push(b'\n');
        assert_eq!(got, [b"short\n".to_vec(), expected, b"end\n".to_vec()]);
    }
}
