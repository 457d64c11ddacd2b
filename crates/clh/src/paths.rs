//! The names of every file in a log's file set, as CLH 0.9.31 spells them.

use crate::schedule::Schedule;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Maps the default name of a backup (`app.log.3`) to the name to use instead,
/// like `logging.handlers.BaseRotatingHandler.namer`. `.gz` is appended afterwards.
pub type Namer = Arc<dyn Fn(&Path) -> PathBuf + Send + Sync>;

/// CLH's lock file for `log`: drop a trailing `.log`, add `.lock`, prefix the name
/// with `.__`, and place it in `lock_dir` if given, else beside the log.
///
/// ```
/// use std::path::Path;
/// assert_eq!(clh::lock_path_for(Path::new("/var/log/app.log"), None),
///            Path::new("/var/log/.__app.lock"));
/// assert_eq!(clh::lock_path_for(Path::new("/x/app.txt"), Some(Path::new("/locks"))),
///            Path::new("/locks/.__app.txt.lock"));
/// ```
pub fn lock_path_for(log: &Path, lock_dir: Option<&Path>) -> PathBuf {
    let name = log
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".log").unwrap_or(&name);
    let lock_name = format!(".__{stem}.lock");
    match lock_dir {
        Some(dir) => dir.join(lock_name),
        None => log.with_file_name(lock_name),
    }
}

/// `path` with `suffix` appended to its file name.
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Names of the numbered backups: slot `k` is `app.log.k` (through the namer), plus
/// `.gz` when compressed. Slot 1 is the newest.
#[derive(Clone)]
pub(crate) struct BackupNames {
    log: PathBuf,
    namer: Option<Namer>,
}

impl BackupNames {
    pub fn new(log: &Path, namer: Option<Namer>) -> Self {
        BackupNames {
            log: log.to_owned(),
            namer,
        }
    }

    /// The uncompressed name of slot `k`.
    pub fn plain(&self, k: u32) -> PathBuf {
        let default = with_suffix(&self.log, &format!(".{k}"));
        match &self.namer {
            Some(namer) => namer(&default),
            None => default,
        }
    }

    /// The name of slot `k`, compressed or not.
    pub fn slot(&self, k: u32, gz: bool) -> PathBuf {
        let plain = self.plain(k);
        if gz {
            with_suffix(&plain, ".gz")
        } else {
            plain
        }
    }
}

impl BackupNames {
    /// The uncompressed name of a dated backup: `app.log.<stamp>[.<counter>]` (through the namer).
    pub fn dated(&self, stamp: &str, counter: Option<u32>) -> PathBuf {
        let suffix = match counter {
            Some(c) => format!(".{stamp}.{c}"),
            None => format!(".{stamp}"),
        };
        let default = with_suffix(&self.log, &suffix);
        match &self.namer {
            Some(namer) => namer(&default),
            None => default,
        }
    }

    /// If `file_name` (in the log's directory) is a dated backup, its sort key
    /// `(stamp, counter)`. Only names this writer would produce count, so retention
    /// never deletes anything else.
    pub fn parse_dated(&self, file_name: &str, schedule: &Schedule) -> Option<(String, u32)> {
        let plain = file_name.strip_suffix(".gz").unwrap_or(file_name);
        match &self.namer {
            None => {
                let log_name = self.log.file_name()?.to_string_lossy().into_owned();
                let rest = plain.strip_prefix(&log_name)?.strip_prefix('.')?;
                if schedule.matches(rest) {
                    return Some((rest.to_owned(), 0));
                }
                let (stamp, counter) = rest.rsplit_once('.')?;
                let counter: u32 = counter.parse().ok().filter(|c| *c > 0)?;
                schedule.matches(stamp).then(|| (stamp.to_owned(), counter))
            }
            // With a namer, a name is ours only if the namer maps a dated default name to
            // it: find a stamp inside it, then check by renaming that default again.
            Some(_) => {
                let path = self.log.with_file_name(plain);
                let width = schedule.format(jiff::Timestamp::UNIX_EPOCH).len();
                (0..plain.len().saturating_sub(width - 1))
                    .filter_map(|i| plain.get(i..i + width))
                    .filter(|stamp| schedule.matches(stamp))
                    .find_map(|stamp| {
                        (0..=MAX_COUNTER_SEARCH)
                            .map(|c| (c > 0).then_some(c))
                            .find(|c| self.dated(stamp, *c) == path)
                            .map(|c| (stamp.to_owned(), c.unwrap_or(0)))
                    })
            }
        }
    }
}

/// How many same-period counters a namer'd backup name is checked against.
const MAX_COUNTER_SEARCH: u32 = 64;

/// Prefix of the names a log is renamed to while it is being rotated:
/// `app.log.rotate.` (CLH uses the same prefix, so its orphans are recovered too).
pub(crate) fn rotating_prefix(log: &Path) -> String {
    let name = log
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{name}.rotate.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_names_follow_clh() {
        assert_eq!(
            lock_path_for(Path::new("/a/b.log"), None),
            Path::new("/a/.__b.lock")
        );
        assert_eq!(
            lock_path_for(Path::new("/a/b"), None),
            Path::new("/a/.__b.lock")
        );
        assert_eq!(
            lock_path_for(Path::new("/a/b.log.txt"), None),
            Path::new("/a/.__b.log.txt.lock")
        );
        assert_eq!(
            lock_path_for(Path::new("/a/.log"), None),
            Path::new("/a/.__.lock")
        );
    }

    #[test]
    fn backup_names_with_and_without_namer() {
        let names = BackupNames::new(Path::new("/d/app.log"), None);
        assert_eq!(names.slot(1, false), Path::new("/d/app.log.1"));
        assert_eq!(names.slot(12, true), Path::new("/d/app.log.12.gz"));
        let namer: Namer = Arc::new(|p: &Path| with_suffix(p, ".bak"));
        let names = BackupNames::new(Path::new("/d/app.log"), Some(namer));
        assert_eq!(names.slot(2, true), Path::new("/d/app.log.2.bak.gz"));
    }
}
