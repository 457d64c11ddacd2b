//! What a log's file set holds now, found from its path alone (for `clh cat` and
//! `clh status`, and anyone who wants to read a set back): the backups oldest first —
//! numbered (`app.log.N`, N = 1 the newest) or dated (`app.log.<stamp>[.<counter>]` with
//! the stdlib's suffixes, by time then counter), compressed or not — then the live log;
//! and the work a writer left pending (an uncompressed backup beside gzipped ones, our
//! temporaries, CLH's interrupted rotations), which the next writer finishes.
//!
//! Read without the lock: a snapshot that a rotation may change under the reader.

use crate::error::{Context, Result, Step};
use crate::paths::{self, lock_path_for, parent_dir};
use crate::schedule::{Schedule, When};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

/// One file of a log's set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its size on disk (compressed size for a `.gz`).
    pub size: u64,
    /// Whether it is gzipped.
    pub gz: bool,
    /// Whether it is the live log (the last file of the set).
    pub live: bool,
}

/// A log's file set as found on disk (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Backups oldest first, then the live log (if it exists).
    pub files: Vec<SetFile>,
    /// Files a writer left to finish: uncompressed backups while others are
    /// compressed, hidden temporaries, CLH's `app.log.rotate.*`.
    pub pending: Vec<PathBuf>,
    /// The lock file's path, and its content (a timed log's next rollover time).
    pub lock_path: PathBuf,
    /// The lock file's content, if it could be read.
    pub lock_content: Option<String>,
}

/// How a backup name sorts: dated before numbered never mix in one set, so each kind
/// sorts on its own key, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Age {
    /// `(stamp, counter)`: later stamps and counters are newer.
    Dated(String, u32),
    /// Slot `k`: larger is older, so the key is reversed.
    Numbered(std::cmp::Reverse<u32>),
}

impl Inventory {
    /// Look at the set of the log at `path` (with its lock file in `lock_dir`, if
    /// given).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let log = dir.path().join("app.log");
    /// let writer = clh::LogWriter::builder(&log).max_bytes(4).backup_count(3).open()?;
    /// for r in ["one\n", "two\n", "three\n"] { writer.write(r.as_bytes())?; }
    /// let set = clh::Inventory::of(&log, None)?;
    /// let names: Vec<_> = set.files.iter().map(|f| f.path.file_name().unwrap().to_owned()).collect();
    /// assert_eq!(names, ["app.log.2", "app.log.1", "app.log"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of(path: &Path, lock_dir: Option<&Path>) -> Result<Self> {
        let path = std::path::absolute(path).at(Step::Check, path)?;
        let dir = parent_dir(&path);
        let log_name = path.file_name().unwrap_or_default().to_owned();
        let schedules: Vec<Schedule> = [When::Second, When::Minute, When::Hour, When::Day]
            .into_iter()
            .filter_map(|w| Schedule::new(w, 1).ok())
            .collect();
        let mut backups: Vec<(Age, SetFile)> = Vec::new();
        let mut pending = Vec::new();
        for entry in fs::read_dir(dir).at(Step::Check, dir)? {
            let entry = entry.at(Step::Check, dir)?;
            let name = entry.file_name();
            if paths::is_temp_of(&path, &name) || paths::is_clh_rotating(&path, &name) {
                pending.push(entry.path());
                continue;
            }
            let Some((age, gz)) = backup_age(&log_name, &name, &schedules) else {
                continue;
            };
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            backups.push((
                age,
                SetFile {
                    path: entry.path(),
                    size,
                    gz,
                    live: false,
                },
            ));
        }
        backups.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.gz.cmp(&b.1.gz)));
        if backups.iter().any(|(_, f)| f.gz) {
            pending.extend(
                backups
                    .iter()
                    .filter(|(_, f)| !f.gz)
                    .map(|(_, f)| f.path.clone()),
            );
        }
        let mut files: Vec<SetFile> = backups.into_iter().map(|(_, f)| f).collect();
        if let Ok(meta) = fs::metadata(&path) {
            files.push(SetFile {
                path: path.clone(),
                size: meta.len(),
                gz: false,
                live: true,
            });
        }
        pending.sort();
        let lock_path = lock_path_for(&path, lock_dir);
        let lock_content = fs::read_to_string(&lock_path).ok();
        Ok(Inventory {
            files,
            pending,
            lock_path,
            lock_content,
        })
    }
}

/// If `name` is a backup of `log_name`, its age key and whether it is gzipped.
fn backup_age(log_name: &OsStr, name: &OsStr, schedules: &[Schedule]) -> Option<(Age, bool)> {
    let name = name.as_encoded_bytes();
    let (plain, gz) = match name.strip_suffix(b".gz") {
        Some(plain) => (plain, true),
        None => (name, false),
    };
    let rest = plain
        .strip_prefix(log_name.as_encoded_bytes())?
        .strip_prefix(b".")?;
    let rest = std::str::from_utf8(rest).ok()?;
    if let Ok(k) = rest.parse::<u32>() {
        return (k > 0).then_some((Age::Numbered(std::cmp::Reverse(k)), gz));
    }
    let dated = |text: &str| schedules.iter().any(|s| s.matches(text));
    if dated(rest) {
        return Some((Age::Dated(rest.to_owned(), 0), gz));
    }
    let (stamp, counter) = rest.rsplit_once('.')?;
    let counter: u32 = counter.parse().ok().filter(|c| *c > 0)?;
    dated(stamp).then(|| (Age::Dated(stamp.to_owned(), counter), gz))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The set's file names, in its order.
    fn names(set: &Inventory) -> Vec<String> {
        set.files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn backups_sort_oldest_first_and_others_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "app.log",
            "app.log.1.gz",
            "app.log.3.gz",
            "app.log.2",
            "app.log.notes",
            "other.log.1",
        ] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        let set = Inventory::of(&dir.path().join("app.log"), None).unwrap();
        let names = names(&set);
        assert_eq!(
            names,
            ["app.log.3.gz", "app.log.2", "app.log.1.gz", "app.log"]
        );
        assert_eq!(set.pending, [dir.path().join("app.log.2")]);
        assert!(set.files.last().unwrap().live);
    }

    #[test]
    fn dated_backups_sort_by_time_then_counter() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "app.log.2026-11-27",
            "app.log.2026-11-26.1.gz",
            "app.log.2026-11-26.gz",
            "app.log.2026-11-27.2",
        ] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        let set = Inventory::of(&dir.path().join("app.log"), None).unwrap();
        let names = names(&set);
        assert_eq!(
            names,
            [
                "app.log.2026-11-26.gz",
                "app.log.2026-11-26.1.gz",
                "app.log.2026-11-27",
                "app.log.2026-11-27.2"
            ]
        );
    }
}
