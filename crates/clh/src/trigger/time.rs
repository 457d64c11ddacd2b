//! What decides a *time* rotation: the schedule every process shares through the lock
//! file (CLH's format: the next rollover time in decimal epoch seconds).
//!
//! The protocol, run under the lock:
//! * a process reads the stored time when the one it remembers has passed;
//! * a missing, corrupt, pre-2000 or impossible value (later than the schedule allows
//!   from now: the clock stepped back) is recomputed from the log's last modification
//!   (so a restart after a missed rollover rotates at once) and stored;
//! * when the time has come, the one process that rotates stores the next one;
//! * but when the log is empty, or was written after that time, no rotation is due: a
//!   new period starts. No empty backups; no recent records named after an old period
//!   (a stale stored time); no second rotation after a process whose lock file is
//!   read-only rotated (it could not store the time: it remembers it, over the stale one).

use super::Due;
use crate::error::{Context, Notes, Result, Step};
use crate::lock::LockFile;
use crate::options::Clock;
use crate::schedule::{Schedule, MIN_VALID_TIMESTAMP};
use crate::trace::Trace;
use jiff::Timestamp;
use std::fs;
use std::path::Path;

/// What a process remembers of the shared schedule.
#[derive(Debug, Default)]
pub(crate) struct Remembered {
    /// The next rollover time, as last read from (or written to) the lock file.
    pub next: Option<Timestamp>,
    /// A next rollover time this process could not store (read-only lock file): it
    /// overrides an earlier stored one, which is stale because we rotated since.
    pub unstored: Option<Timestamp>,
}

/// The time trigger of one log, for one look under the lock.
pub(crate) struct TimeTrigger<'a> {
    pub schedule: &'a Schedule,
    pub clock: &'a dyn Clock,
    pub log: &'a Path,
    pub lock: &'a LockFile,
    pub trace: &'a Trace,
}

impl TimeTrigger<'_> {
    /// The rollover time that is due for a log of `size` bytes, if one is. Errors
    /// reading or storing the shared time are noted, not fatal to the write.
    pub fn due(&self, mem: &mut Remembered, size: u64, notes: &mut Notes) -> Option<Timestamp> {
        let now = self.clock.now();
        if mem.next.is_some_and(|next| now < next) {
            return None;
        }
        match self.shared_next(mem, now, size, notes) {
            Ok(next) if now < next => None,
            Ok(next) => {
                if size == 0 {
                    self.trace("empty log at the rollover time: no backup");
                } else if self.log_modified(now).is_some_and(|m| m >= next) {
                    self.trace("log written after the rollover time: a new period");
                } else {
                    return Some(next);
                }
                self.start_period(mem, now, notes);
                None
            }
            Err(e) => {
                // Without the shared time, keep going on our own until the next one.
                mem.next = Some(self.schedule.next_after(now));
                notes.note(e);
                None
            }
        }
    }

    /// A new period starts now (the stdlib's rule), for every process.
    pub fn start_period(&self, mem: &mut Remembered, now: Timestamp, notes: &mut Notes) {
        self.store(mem, self.schedule.next_after(now), notes);
    }

    /// The end of the period a backup made for `due` is named after.
    pub fn period_end(&self, mem: &Remembered, due: Due) -> Timestamp {
        match (due, mem.next) {
            (Due::Time(at), _) => at,
            (_, Some(next)) => next,
            (_, None) => self.schedule.next_after(self.clock.now()),
        }
    }

    fn shared_next(
        &self,
        mem: &mut Remembered,
        now: Timestamp,
        size: u64,
        notes: &mut Notes,
    ) -> Result<Timestamp> {
        let stored = self
            .lock
            .read_content()
            .at(Step::Schedule, self.lock.path())?;
        // Calendar schedules may differ from CLH's arithmetic by a DST hour.
        let slack = if self.schedule.fixed_seconds().is_some() {
            0
        } else {
            3600
        };
        let latest = self
            .schedule
            .next_after(now)
            .checked_add(jiff::SignedDuration::from_secs(slack))
            .unwrap_or(Timestamp::MAX);
        let valid = stored
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|&t| t >= MIN_VALID_TIMESTAMP)
            .and_then(|t| Timestamp::from_second(t).ok())
            .filter(|&t| t <= latest);
        let next = match valid {
            Some(next) => next.max(mem.unstored.unwrap_or(next)),
            None => {
                let modified = self
                    .log_modified(now)
                    .filter(|&m| size > 0 && m < now)
                    .unwrap_or(now);
                let next = self.schedule.next_after(modified);
                self.store(mem, next, notes);
                next
            }
        };
        mem.next = Some(next);
        Ok(next)
    }

    /// Share `next` through the lock file. A read-only lock file (another user's)
    /// keeps it in this process only; a failure to write is noted.
    fn store(&self, mem: &mut Remembered, next: Timestamp, notes: &mut Notes) {
        mem.next = Some(next);
        match self.lock.write_content(&next.as_second().to_string()) {
            Ok(true) => mem.unstored = None,
            Ok(false) => {
                mem.unstored = Some(next);
                self.trace("the lock file is read-only: the next rollover time stays in memory");
            }
            Err(e) => notes.note(crate::Error::io(Step::Schedule, self.lock.path(), e)),
        }
    }

    /// When the log was last written, if that is known and not later than `now` (a
    /// file time ahead of the clock, which stepped back or is injected, means nothing).
    fn log_modified(&self, now: Timestamp) -> Option<Timestamp> {
        fs::metadata(self.log)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|m| Timestamp::try_from(m).ok())
            .filter(|&m| m <= now && m.as_second() >= MIN_VALID_TIMESTAMP)
    }

    fn trace(&self, msg: &str) {
        self.trace.line(self.log, || msg.to_owned());
    }
}
