//! What a writer does while it holds the lock: make sure the open log is the file at
//! the log path (another process may have rotated it), append records with one
//! `write()`, ask the triggers whether a rotation is due and carry it out.
//!
//! What goes wrong around a write never costs the record: a failed recovery, rotation
//! or rollover-time store is noted and reported after the record is written. Only a
//! failed lock or write loses it, and then the caller gets the error; a write that
//! fails part-way is cut back, so the file never holds a torn record.

use crate::compress::Backup;
use crate::error::{Context, Error, Notes, Result, Step};
use crate::lock::LockFile;
use crate::locking::Interrupts;
use crate::paths::{self, parent_dir, Temp};
use crate::process::{OpenLog, Process};
use crate::rotation::{self, Scheme};
use crate::shared::Shared;
use crate::sys::{self, Access, Follow, Kept};
use crate::trigger::time::{Remembered, TimeTrigger};
use crate::trigger::Due;
use std::io::{self, Seek, SeekFrom, Write};

/// One locked operation on the log.
pub(crate) struct Session<'a> {
    writer: &'a Shared,
    process: &'a Process,
    lock: &'a LockFile,
    log: &'a mut Option<Kept<OpenLog>>,
    time: &'a mut Remembered,
    to_compress: &'a mut Vec<Backup>,
    rotated: u64,
    notes: Notes,
    /// Set when a rotation found that the lock file is no longer the one at the lock
    /// path: nothing was rotated, and the caller goes on under the file at the path.
    pub stale_lock: bool,
    /// Set by the caller when the names are proven unchanged (`name_watch.rs`): the
    /// lock file still has its name and the open log is the file at the log path.
    pub names_unchanged: bool,
    /// Set when the session found the open log at the log path (not a symbolic link)
    /// by checking it in full.
    pub log_checked_in_full: bool,
}

/// How a session ended.
pub(crate) struct Outcome<T> {
    pub result: Result<T>,
    pub stale_lock: bool,
}

impl<'a> Session<'a> {
    pub fn new(
        writer: &'a Shared,
        process: &'a Process,
        lock: &'a LockFile,
        log: &'a mut Option<Kept<OpenLog>>,
        time: &'a mut Remembered,
        to_compress: &'a mut Vec<Backup>,
    ) -> Self {
        Session {
            writer,
            process,
            lock,
            log,
            time,
            to_compress,
            rotated: 0,
            notes: Notes::default(),
            stale_lock: false,
            names_unchanged: false,
            log_checked_in_full: false,
        }
    }

    /// End the session (before the lock is released): count its rotations, close the
    /// log unless it is kept open, and return `result`, or the first noted error.
    pub fn finish<T>(self, result: Result<T>) -> Outcome<T> {
        self.writer
            .num_rollovers
            .fetch_add(self.rotated, std::sync::atomic::Ordering::Relaxed);
        if !self.writer.cfg.keep_file_open {
            // Closed before the lock is released (on NFS, closing sends the data).
            *self.log = None;
        }
        Outcome {
            result: result.and_then(|value| self.notes.after(value)),
            stale_lock: self.stale_lock,
        }
    }

    pub fn note(&mut self, error: Error) {
        self.writer.trace(&format!("error: {error}"));
        self.notes.note(error);
    }

    pub fn recover(&mut self) {
        let (pending, problem) = self.writer.scheme().recover();
        self.to_compress.extend(pending);
        if let Some(e) = problem {
            self.note(e);
        }
    }

    /// Make sure the open log is the file now at the log's path (another process may
    /// have rotated it, or it may not exist yet) and return its size. When the names
    /// are proven unchanged, only the size is asked, of the open log (`lseek`).
    pub fn current_size(&mut self) -> Result<u64> {
        let path = &self.writer.cfg.path;
        if self.names_unchanged {
            if let Some(open) = self.log.as_ref() {
                return (&open.file).seek(SeekFrom::End(0)).at(Step::Stat, path);
            }
        }
        let on_disk = match sys::probe(path) {
            Ok(found) => Some(found),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).at(Step::Stat, path),
        };
        if let (Some((id, size)), Some(open)) = (on_disk, self.log.as_ref()) {
            if id.is_some() && id == open.id {
                self.log_checked_in_full = !open.via_link;
                return Ok(size);
            }
        }
        *self.log = None;
        let dir = parent_dir(path);
        let temp = || paths::temp_path(path, dir, Temp::New);
        let perms = &self.writer.cfg.perms;
        let file = sys::open_or_create(path, Access::Append, Follow::ToRegular, perms, &temp)
            .at(Step::OpenLog, path)?;
        let meta = file.metadata().at(Step::Stat, path)?;
        let id = sys::file_id(&meta);
        let via_link = std::fs::symlink_metadata(path).map_or(true, |m| m.is_symlink());
        self.log_checked_in_full = !via_link;
        let open = OpenLog { file, id, via_link };
        *self.log = Some(self.process.keep_log(open));
        Ok(meta.len())
    }

    /// Rotate in the middle of a batch. A failed rotation is noted and the batch goes
    /// on, except a stale lock (the caller goes on under the new lock) and, with
    /// [`Interrupts::Return`], a name not known yet (what came before is written);
    /// without it, a name not known yet means rotating at a later write.
    fn rotate_in_batch(&mut self, due: Due, interrupts: Interrupts) -> Result<()> {
        match self.rotate(due) {
            Ok(()) => Ok(()),
            Err(e) if self.stale_lock => Err(e),
            Err(e @ Error::NamePending { .. }) if interrupts == Interrupts::Return => Err(e),
            Err(Error::NamePending { .. }) => Ok(()),
            Err(e) => {
                self.note(e);
                Ok(())
            }
        }
    }

    /// Write `records` in as few `write()`s as possible: one, unless a rotation falls
    /// inside the batch (each record is checked against the triggers as if written
    /// alone); `written` counts those in the file. A failed rotation is noted (the
    /// records are still written), except that a stale lock, and with
    /// [`Interrupts::Return`] a name not known yet, stop the batch before the record.
    pub fn write_records<R: AsRef<[u8]>>(
        &mut self,
        records: &[R],
        interrupts: Interrupts,
        written: &mut usize,
    ) -> Result<()> {
        let mut chunk = Vec::new();
        let mut size = self.current_size()?;
        // Records `start..i` wait to be written in one chunk of `pending` bytes.
        let (mut start, mut pending) = (0, 0);
        for (i, record) in records.iter().enumerate() {
            if let Some(due) = self.due(size + pending) {
                self.append(&records[start..i], size, &mut chunk)?;
                *written = i;
                (start, pending) = (i, 0);
                self.rotate_in_batch(due, interrupts)?;
                size = self.current_size()?;
            }
            pending += record.as_ref().len() as u64;
        }
        self.append(&records[start..], size, &mut chunk)?;
        *written = records.len();
        Ok(())
    }

    /// Write `data`, records that follow each other, each ending with its first
    /// newline (a last one may lack it), as [`write_records`](Self::write_records)
    /// would write them one by one, but without looking at each record: the size
    /// limit's place is found with one search for the newline after it, and what comes
    /// before goes out in one `write()`. The triggers are asked before each `write()`
    /// (the time trigger as if the records before the next size limit were one).
    /// `written` counts the bytes in the file: whole records only.
    pub fn write_lines(
        &mut self,
        data: &[u8],
        interrupts: Interrupts,
        written: &mut usize,
    ) -> Result<()> {
        let mut chunk = Vec::new();
        let mut size = self.current_size()?;
        while *written < data.len() {
            let rest = &data[*written..];
            if let Some(due) = self.due(size) {
                self.rotate_in_batch(due, interrupts)?;
                size = self.current_size()?;
            }
            // The records that start before the limit go into this file (the first
            // one whatever its size): up to the first newline at or after the limit.
            let max = self.writer.size.max_bytes();
            let room = if max == 0 {
                rest.len()
            } else {
                usize::try_from(max.saturating_sub(size))
                    .unwrap_or(usize::MAX)
                    .max(1)
            };
            let take = match rest.get(room - 1..) {
                Some(after) => after
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| room + i),
                None => rest.len(),
            };
            size = self.append(&[&rest[..take]], size, &mut chunk)?;
            *written += take;
        }
        Ok(())
    }

    /// Append `records` to the open log, whose size is `size`, in one `write()`
    /// (preceded by the header if the file is new). Returns the new size. On failure,
    /// whatever part reached the file is cut off again.
    fn append<R: AsRef<[u8]>>(
        &mut self,
        records: &[R],
        size: u64,
        chunk: &mut Vec<u8>,
    ) -> Result<u64> {
        let header = &self.writer.cfg.header;
        let with_header = size == 0 && !header.is_empty();
        let bytes: &[u8] = match records {
            [] => return Ok(size),
            [one] if !with_header => one.as_ref(),
            _ => {
                chunk.clear();
                if with_header {
                    chunk.extend_from_slice(header);
                }
                for r in records {
                    chunk.extend_from_slice(r.as_ref());
                }
                chunk
            }
        };
        let path = &self.writer.cfg.path;
        let open = self.log.as_mut().expect("current_size opened the log");
        if let Err(e) = open.file.write_all(bytes) {
            let _ = open.file.set_len(size);
            return Err(e).at(Step::Write, path);
        }
        Ok(size + bytes.len() as u64)
    }

    /// Whether a rotation is due for a log of `size` bytes, and why.
    pub fn due(&mut self, size: u64) -> Option<Due> {
        if let Some(trigger) = self.time_trigger() {
            if let Some(at) = trigger.due(self.time, size, &mut self.notes) {
                return Some(Due::Time(at));
            }
        }
        self.writer.size.is_due(size).then_some(Due::Size)
    }

    fn time_trigger(&self) -> Option<TimeTrigger<'a>> {
        let cfg = &self.writer.cfg;
        cfg.schedule.as_ref().map(|schedule| TimeTrigger {
            schedule,
            clock: &*cfg.clock,
            log: &cfg.path,
            lock: self.lock,
            trace: &cfg.trace,
        })
    }

    /// Rotate the log now, for `due`. The lock path must still name our lock file
    /// (else [`Self::stale_lock`] is set and nothing is done); what killed processes
    /// left is recovered first.
    pub fn rotate(&mut self, due: Due) -> Result<()> {
        let writer = self.writer;
        // The names are about to change: from here on, the log is checked in full.
        self.names_unchanged = false;
        if !self.lock.is_at_path() {
            self.stale_lock = true;
            writer.trace("the lock file was moved or replaced: relocking before rotating");
            let e = io::Error::other("the lock file is no longer at its path");
            return Err(e).at(Step::Lock, &writer.cfg.lock_path);
        }
        let scheme = writer.scheme();
        let (pending, problem) = scheme.recover();
        self.to_compress.extend(pending);
        if let Some(e) = problem {
            self.note(e);
        }
        let result = match &scheme {
            Scheme::Numbered(_) if scheme.set().backup_count == 0 => self.truncate().map(|()| None),
            Scheme::Numbered(numbered) => {
                *self.log = None;
                numbered
                    .rotate()
                    .and_then(|backup| rotation::compress_next(&numbered.set, backup))
            }
            Scheme::Dated(dated) => {
                let trigger = self.time_trigger().expect("a dated scheme has a schedule");
                let stamp = dated.schedule.format(
                    dated
                        .schedule
                        .period_start(trigger.period_end(self.time, due)),
                );
                *self.log = None;
                let result = dated
                    .rotate(&stamp)
                    .and_then(|backup| rotation::compress_next(&dated.set, backup));
                let postponed = matches!(result, Err(Error::NamePending { .. }));
                if !postponed && !matches!(due, Due::Size) {
                    trigger.start_period(self.time, writer.cfg.clock.now(), &mut self.notes);
                }
                result
            }
        };
        if result.is_ok() || !writer.cfg.path.exists() {
            self.rotated += 1;
        }
        self.to_compress.extend(result?);
        Ok(())
    }

    /// `backup_count == 0` without a schedule: empty the log in place (CLH's rule),
    /// through the descriptor we write with (so a log path that is a symbolic link
    /// truncates the file it leads to, the one being written).
    fn truncate(&mut self) -> Result<()> {
        self.writer.trace("truncating (backup count 0)");
        let path = &self.writer.cfg.path;
        let open = self.log.as_ref().expect("current_size opened the log");
        open.file.set_len(0).at(Step::Truncate, path)
    }
}
