//! The names of every file in a log's file set, as CLH 0.9.31 spells them.

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
