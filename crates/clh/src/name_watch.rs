//! Proof, in one system call, that no name a writer relies on has changed since it
//! last checked them all: the log path still names the log it has open, and the lock
//! path the lock file it holds.
//!
//! Checking both in full costs two `stat`s per record (one of a path: the dearest
//! system call a record makes, about 1 µs here; the lock file's link count, 0.4 µs).
//! But every way to change either name (a rotation by any process, ours or CLH's;
//! deleting, replacing or hard-linking the log or the lock file; `logrotate`) changes
//! the directory that holds it, and POSIX makes every such change update that
//! directory's change time. So once a writer has checked both names in full, it
//! remembers the directories' change times (read *before* the checks); while they
//! stay the same, so do the names, and one `statx` of each directory (0.4 µs) stands
//! in for both checks. The log's size then comes from its descriptor (`lseek`).
//!
//! This is sound only where a change is sure to give the directory another time:
//! - Timestamps come from a clock that ticks (every few milliseconds), and some file
//!   systems keep whole seconds: a change in the same tick or second as the time we
//!   remembered could get that very time. So a time is trusted only once it is older
//!   than [`SETTLE`] ([`SETTLE_COARSE`] for a time without nanoseconds, taken for a
//!   whole-second file system). Until then every record checks both names in full,
//!   without reading the directories.
//! - Only local file systems that keep these times honestly (`sys::open_watched_dir`);
//!   elsewhere (NFS, SMB, FUSE, overlayfs, Windows) every record checks in full.
//! - The log path must not be a symbolic link (the file it leads to may live in
//!   another directory): then every record checks in full.
//! - What the directories' times cannot show (an ancestor directory renamed, a clock
//!   stepped back onto the remembered time) lasts at most [`RECHECK`]: both names
//!   are checked in full that often whatever the times say.

use crate::paths::parent_dir;
use crate::sys::{self, ChangeTime};
use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How old a directory's change time must be before it is trusted: many clock ticks.
pub(crate) const SETTLE: Duration = Duration::from_millis(50);

/// [`SETTLE`] for a file system that keeps whole seconds.
pub(crate) const SETTLE_COARSE: Duration = Duration::from_millis(2500);

/// How long a proof lasts at most: both names are checked in full at least this often.
pub(crate) const RECHECK: Duration = Duration::from_secs(1);

/// The change times of the watched directories (the log's, and the lock file's when
/// it lives in another), as read under the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Times([Option<ChangeTime>; 2]);

/// What [`NameWatch::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// No name changed since both were last checked in full.
    Unchanged,
    /// Check both names in full; if they are as expected, hand these times (when
    /// read) to [`NameWatch::confirm`].
    CheckInFull(Option<Times>),
}

/// One process's watch on the directories of one log and its lock file.
#[derive(Debug, Default)]
pub(crate) struct NameWatch {
    /// The directories, once opened: none where watching is not sound.
    dirs: Option<Vec<File>>,
    /// The times that proved the names unchanged, and until when they may.
    proof: Option<(Times, Instant)>,
    /// Do not read the directories before this (they changed too lately, or could
    /// not be opened).
    rest_until: Option<Instant>,
    /// How many records the proof spared a full check (read by tests).
    #[cfg(test)]
    pub spared: u64,
}

impl NameWatch {
    /// Under the lock, before anything else: whether the names are proven unchanged.
    pub fn check(&mut self, log: &Path, lock: &Path) -> Reading {
        let now = Instant::now();
        if self.rest_until.is_some_and(|until| now < until) {
            return Reading::CheckInFull(None);
        }
        self.rest_until = None;
        let dirs = self.dirs.get_or_insert_with(|| open_dirs(log, lock));
        if dirs.is_empty() {
            self.dirs = None;
            self.rest_until = Some(now + RECHECK);
            return Reading::CheckInFull(None);
        }
        let mut times = Times([None; 2]);
        for (slot, dir) in times.0.iter_mut().zip(dirs.iter()) {
            match sys::change_time(dir) {
                Ok(t) => *slot = Some(t),
                Err(_) => {
                    self.forget();
                    return Reading::CheckInFull(None);
                }
            }
        }
        match self.proof {
            Some((proven, until)) if proven == times && now < until => {
                #[cfg(test)]
                {
                    self.spared += 1;
                }
                Reading::Unchanged
            }
            _ => Reading::CheckInFull(Some(times)),
        }
    }

    /// Both names were checked in full after `times` were read, and were as expected
    /// (the log path, not a symbolic link, names the open log): trust `times` from now
    /// on if they are old enough, else rest until they are.
    pub fn confirm(&mut self, times: Times) {
        let now = Instant::now();
        let wall = SystemTime::now();
        let wait = times
            .0
            .iter()
            .flatten()
            .map(|&t| settle_left(t, wall))
            .max()
            .unwrap_or_default();
        if wait.is_zero() {
            self.proof = Some((times, now + RECHECK));
        } else {
            self.proof = None;
            self.rest_until = Some(now + wait.min(RECHECK));
        }
    }

    /// Trust nothing until the next [`confirm`](Self::confirm), and open the
    /// directories again (the lock file or the log moved to another place).
    pub fn forget(&mut self) {
        self.proof = None;
        self.dirs = None;
    }
}

/// The log's directory, and the lock file's if it is another; none when either
/// cannot be watched.
fn open_dirs(log: &Path, lock: &Path) -> Vec<File> {
    let (log_dir, lock_dir) = (parent_dir(log), parent_dir(lock));
    let wanted: &[&Path] = if log_dir == lock_dir {
        &[log_dir]
    } else {
        &[log_dir, lock_dir]
    };
    let opened: Option<Vec<File>> = wanted
        .iter()
        .map(|dir| sys::open_watched_dir(dir).ok().flatten())
        .collect();
    opened.unwrap_or_default()
}

/// How much longer the change time `t` must age before it is trusted.
fn settle_left(t: ChangeTime, wall: SystemTime) -> Duration {
    let (secs, nanos) = t;
    let settle = if nanos == 0 { SETTLE_COARSE } else { SETTLE };
    let Ok(secs) = u64::try_from(secs) else {
        return Duration::ZERO; // before 1970: long settled
    };
    let changed = UNIX_EPOCH + Duration::new(secs, nanos);
    match wall.duration_since(changed) {
        Ok(age) => settle.saturating_sub(age),
        // A time in the future (the clock was stepped back): not before a recheck.
        Err(_) => RECHECK,
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::fs;

    /// A watch on `dir` whose times have settled, confirmed once.
    fn settled(dir: &Path) -> (NameWatch, std::path::PathBuf, std::path::PathBuf) {
        let (log, lock) = (dir.join("a.log"), dir.join(".__a.lock"));
        fs::write(&log, b"").unwrap();
        fs::write(&lock, b"").unwrap();
        std::thread::sleep(SETTLE + Duration::from_millis(20));
        let mut watch = NameWatch::default();
        let Reading::CheckInFull(Some(times)) = watch.check(&log, &lock) else {
            panic!("a first check reads the times and asks for a full check");
        };
        watch.confirm(times);
        (watch, log, lock)
    }

    #[test]
    fn every_change_of_a_name_ends_the_proof_and_writes_do_not() {
        type Change = fn(&Path, &Path);
        let changes: [(&str, Change); 6] = [
            ("rename the log", |log, _| {
                fs::rename(log, log.with_extension("log.1")).unwrap()
            }),
            ("delete the lock file", |_, lock| {
                fs::remove_file(lock).unwrap()
            }),
            ("rename a file over the log", |log, _| {
                let other = log.with_extension("new");
                fs::write(&other, b"").unwrap();
                fs::rename(&other, log).unwrap();
            }),
            ("hard-link the log", |log, _| {
                fs::hard_link(log, log.with_extension("link")).unwrap()
            }),
            ("create a file beside", |log, _| {
                fs::write(log.with_extension("other"), b"").unwrap()
            }),
            ("delete the log", |log, _| fs::remove_file(log).unwrap()),
        ];
        for (what, change) in changes {
            let dir = tempfile::tempdir().unwrap();
            let (mut watch, log, lock) = settled(dir.path());
            fs::OpenOptions::new()
                .append(true)
                .open(&log)
                .and_then(|mut f| std::io::Write::write_all(&mut f, b"a record\n"))
                .unwrap();
            assert_eq!(
                watch.check(&log, &lock),
                Reading::Unchanged,
                "{what}: a write is no change"
            );
            change(&log, &lock);
            assert!(
                matches!(watch.check(&log, &lock), Reading::CheckInFull(Some(_))),
                "{what}: not seen"
            );
        }
    }

    #[test]
    fn a_fresh_change_is_not_trusted_until_it_settles() {
        let dir = tempfile::tempdir().unwrap();
        let (mut watch, log, lock) = settled(dir.path());
        fs::rename(&log, log.with_extension("log.1")).unwrap();
        fs::write(&log, b"").unwrap();
        let Reading::CheckInFull(Some(times)) = watch.check(&log, &lock) else {
            panic!("the change must be seen");
        };
        watch.confirm(times);
        // Too fresh: full checks, without even reading the directory.
        assert_eq!(watch.check(&log, &lock), Reading::CheckInFull(None));
        std::thread::sleep(SETTLE + Duration::from_millis(20));
        let Reading::CheckInFull(Some(times)) = watch.check(&log, &lock) else {
            panic!("settled: the times are read again");
        };
        watch.confirm(times);
        assert_eq!(watch.check(&log, &lock), Reading::Unchanged);
    }

    #[test]
    fn a_lock_file_elsewhere_is_watched_too() {
        let (logs, locks) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (log, lock) = (logs.path().join("a.log"), locks.path().join(".__a.lock"));
        fs::write(&log, b"").unwrap();
        fs::write(&lock, b"").unwrap();
        std::thread::sleep(SETTLE + Duration::from_millis(20));
        let mut watch = NameWatch::default();
        let Reading::CheckInFull(Some(times)) = watch.check(&log, &lock) else {
            panic!("a first check asks for a full check");
        };
        watch.confirm(times);
        assert_eq!(watch.check(&log, &lock), Reading::Unchanged);
        fs::remove_file(&lock).unwrap();
        assert!(matches!(
            watch.check(&log, &lock),
            Reading::CheckInFull(Some(_))
        ));
    }

    #[test]
    fn times_without_nanoseconds_and_from_the_future_wait() {
        let wall = SystemTime::now();
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap();
        let now = wall.duration_since(UNIX_EPOCH).unwrap();
        assert_eq!(settle_left((secs(now) - 60, 5), wall), Duration::ZERO);
        assert!(settle_left((secs(now), 0), wall) > SETTLE);
        assert_eq!(settle_left((secs(now) + 60, 5), wall), RECHECK);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod wiring {
    use super::*;
    use crate::LogWriter;

    /// How many records of `writer` took the shortcut.
    fn spared(writer: &LogWriter) -> u64 {
        writer.shared.process().state().names.spared
    }

    #[test]
    fn a_settled_writer_spares_its_records_the_full_checks() {
        let dir = tempfile::tempdir().unwrap();
        let writer = LogWriter::builder(dir.path().join("a.log"))
            .backup_count(2)
            .open()
            .unwrap();
        writer.write(b"one\n").unwrap();
        writer.write(b"two\n").unwrap();
        assert_eq!(spared(&writer), 0, "a fresh directory is not trusted");
        std::thread::sleep(SETTLE + Duration::from_millis(20));
        for _ in 0..10 {
            writer.write(b"more\n").unwrap();
        }
        // The first record after settling checks in full and proves the rest.
        assert_eq!(spared(&writer), 9);
        // The rotation's own lock is taken under the proof (a rotation checks the
        // lock path in full anyway); renaming the log ends it.
        writer.rotate().unwrap();
        assert_eq!(spared(&writer), 10);
        writer.write(b"after\n").unwrap();
        writer.write(b"after\n").unwrap();
        assert_eq!(spared(&writer), 10, "a rotation ends the proof");
    }

    #[test]
    fn a_writer_that_closes_its_log_never_takes_the_shortcut() {
        let dir = tempfile::tempdir().unwrap();
        let writer = LogWriter::builder(dir.path().join("a.log"))
            .keep_file_open(false)
            .open()
            .unwrap();
        writer.write(b"one\n").unwrap();
        std::thread::sleep(SETTLE + Duration::from_millis(20));
        for _ in 0..10 {
            writer.write(b"more\n").unwrap();
        }
        assert_eq!(spared(&writer), 0);
    }
}
