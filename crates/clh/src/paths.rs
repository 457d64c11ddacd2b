//! The names of every file in a log's file set: the lock file, numbered and dated
//! backups as CLH 0.9.31 spells them, CLH's in-flight rotation names, and our own
//! hidden temporaries. Names are built from the log name's bytes, never from a lossy
//! conversion, so a name that is not valid UTF-8 keeps its bytes (as CLH keeps them).

use crate::error::{Error, Result};
use crate::schedule::Schedule;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Maps the default name of a backup (`app.log.3`) to the name to use instead, like
/// `logging.handlers.BaseRotatingHandler.namer`; `.gz` is appended afterwards.
///
/// A *deferred* namer may not know a name yet: a rotation that needs it is then
/// postponed (the record is still written), so that a namer which must not run under
/// the cross-process lock (a Python function, which may itself log) can be asked
/// outside it and its answer kept for the next try.
///
/// ```
/// use std::path::{Path, PathBuf};
/// let namer = clh::Namer::new(|p: &Path| PathBuf::from(format!("{}.old", p.display())));
/// ```
#[derive(Clone)]
pub struct Namer(Arc<NameFn>);

/// What a [`Namer`] calls: the default name in, the name to use (or `None`) out.
type NameFn = dyn Fn(&Path) -> Option<PathBuf> + Send + Sync;

impl Namer {
    /// A namer that always knows the name.
    ///
    /// ```
    /// let namer = clh::Namer::new(|p: &std::path::Path| p.with_extension("bak"));
    /// ```
    pub fn new(f: impl Fn(&Path) -> PathBuf + Send + Sync + 'static) -> Self {
        Namer(Arc::new(move |p: &Path| Some(f(p))))
    }

    /// A namer that answers `None` for a name it does not know yet; the rotation
    /// needing it is postponed until it does.
    ///
    /// ```
    /// let namer = clh::Namer::deferred(|_: &std::path::Path| None);
    /// ```
    pub fn deferred(f: impl Fn(&Path) -> Option<PathBuf> + Send + Sync + 'static) -> Self {
        Namer(Arc::new(f))
    }

    fn name(&self, default: PathBuf) -> Result<PathBuf> {
        (self.0)(&default).ok_or(Error::NamePending { default })
    }
}

/// `name`'s bytes (the platform's encoding of an `OsStr`).
fn bytes(name: &OsStr) -> &[u8] {
    name.as_encoded_bytes()
}

/// CLH's lock file for `log`: drop a trailing `.log`, add `.lock`, prefix the name
/// with `.__`, and place it in `lock_dir` if given, else beside the log. A name that
/// is not valid UTF-8 keeps its bytes.
///
/// ```
/// use std::path::Path;
/// assert_eq!(clh::lock_path_for(Path::new("/var/log/app.log"), None),
///            Path::new("/var/log/.__app.lock"));
/// assert_eq!(clh::lock_path_for(Path::new("/x/app.txt"), Some(Path::new("/locks"))),
///            Path::new("/locks/.__app.txt.lock"));
/// ```
pub fn lock_path_for(log: &Path, lock_dir: Option<&Path>) -> PathBuf {
    let name = log.file_name().unwrap_or_default();
    let stem = bytes(name).strip_suffix(b".log").unwrap_or(bytes(name));
    let mut lock_name = OsString::from(".__");
    // SAFETY: `stem` is `name`'s encoded bytes, whole or cut just before the ASCII
    // substring ".log": a boundary `OsStr::from_encoded_bytes_unchecked` allows.
    lock_name.push(unsafe { OsStr::from_encoded_bytes_unchecked(stem) });
    lock_name.push(".lock");
    match lock_dir {
        Some(dir) => dir.join(lock_name),
        None => log.with_file_name(lock_name),
    }
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// `path` with `suffix` appended to its file name.
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The log's file name followed by `.`: every default backup name starts with it.
fn dotted(log: &Path) -> Vec<u8> {
    let mut prefix = bytes(log.file_name().unwrap_or_default()).to_vec();
    prefix.push(b'.');
    prefix
}

/// Whether `file_name` is one of CLH's in-flight rotation names for `log`
/// (`app.log.rotate.<random>`, plus `.gz` or `.part` while CLH compresses it).
pub(crate) fn is_clh_rotating(log: &Path, file_name: &OsStr) -> bool {
    let mut prefix = dotted(log);
    prefix.extend_from_slice(b"rotate.");
    bytes(file_name).starts_with(&prefix)
}

/// What a hidden temporary is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Temp {
    /// A new log or lock file, built here before it is linked to its name.
    New,
    /// A compressed backup being written.
    Gzip,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh hidden temporary in `dir` for `log`'s file set:
/// `.__clh-<crc32 of the log name>.<new|gz>.<pid>.<n>`. Short whatever the log's name
/// (a 250-byte log name still leaves room), and recognisable by [`is_temp_of`]. Its
/// creator holds a `flock` on it while it lives, so recovery removes only abandoned ones.
pub(crate) fn temp_path(log: &Path, dir: &Path, kind: Temp) -> PathBuf {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let kind = match kind {
        Temp::New => "new",
        Temp::Gzip => "gz",
    };
    dir.join(format!(
        "{}{kind}.{}.{n}",
        temp_prefix(log),
        std::process::id()
    ))
}

fn temp_prefix(log: &Path) -> String {
    let mut crc = flate2::Crc::new();
    crc.update(bytes(log.file_name().unwrap_or_default()));
    format!(".__clh-{:08x}.", crc.sum())
}

/// Whether `file_name` is one of `log`'s hidden temporaries.
pub(crate) fn is_temp_of(log: &Path, file_name: &OsStr) -> bool {
    bytes(file_name).starts_with(temp_prefix(log).as_bytes())
}

/// Names of the backups: numbered slots (`app.log.k`, slot 1 the newest) and dated
/// names (`app.log.<stamp>[.<counter>]`), each through the namer, plus `.gz` when
/// compressed. A deferred namer's unknown name is [`Error::NamePending`].
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

    fn named(&self, default: PathBuf) -> Result<PathBuf> {
        match &self.namer {
            Some(namer) => namer.name(default),
            None => Ok(default),
        }
    }

    /// The name of slot `k`, compressed or not.
    pub fn slot(&self, k: u32, gz: bool) -> Result<PathBuf> {
        let plain = self.named(with_suffix(&self.log, &format!(".{k}")))?;
        Ok(if gz {
            with_suffix(&plain, ".gz")
        } else {
            plain
        })
    }

    /// The uncompressed name of a dated backup: `app.log.<stamp>[.<counter>]`.
    pub fn dated(&self, stamp: &str, counter: Option<u32>) -> Result<PathBuf> {
        let suffix = match counter {
            Some(c) => format!(".{stamp}.{c}"),
            None => format!(".{stamp}"),
        };
        self.named(with_suffix(&self.log, &suffix))
    }

    /// If `file_name` (in the log's directory) is a dated backup, its sort key
    /// `(stamp, counter)`. Only names this writer would produce count, so retention
    /// never deletes anything else. With a deferred namer, a name it does not know yet
    /// is [`Error::NamePending`].
    pub fn parse_dated(
        &self,
        file_name: &OsStr,
        schedule: &Schedule,
    ) -> Result<Option<(String, u32)>> {
        let raw = bytes(file_name);
        let plain = raw.strip_suffix(b".gz").unwrap_or(raw);
        if self.namer.is_none() {
            let Some(rest) = plain.strip_prefix(dotted(&self.log).as_slice()) else {
                return Ok(None);
            };
            let Ok(rest) = std::str::from_utf8(rest) else {
                return Ok(None);
            };
            if schedule.matches(rest) {
                return Ok(Some((rest.to_owned(), 0)));
            }
            let key = rest.rsplit_once('.').and_then(|(stamp, counter)| {
                let counter: u32 = counter.parse().ok().filter(|c| *c > 0)?;
                schedule.matches(stamp).then(|| (stamp.to_owned(), counter))
            });
            return Ok(key);
        }
        // With a namer, a name is ours only if the namer maps a dated default name to
        // it: find a stamp inside it, then check by naming that default again.
        // SAFETY: `plain` is `file_name`'s bytes, whole or without the ASCII ".gz".
        let path = self
            .log
            .with_file_name(unsafe { OsStr::from_encoded_bytes_unchecked(plain) });
        let text = String::from_utf8_lossy(plain);
        let width = schedule.format(jiff::Timestamp::UNIX_EPOCH).len();
        let stamps = (0..text.len().saturating_sub(width - 1))
            .filter_map(|i| text.get(i..i + width))
            .filter(|stamp| schedule.matches(stamp));
        // Ask for every name before reporting one as pending: a deferred namer then
        // learns them all in one round.
        let mut pending = None;
        for stamp in stamps {
            for counter in (0..=MAX_COUNTER_SEARCH).map(|c| (c > 0).then_some(c)) {
                match self.dated(stamp, counter) {
                    Ok(name) if name == path => {
                        return Ok(Some((stamp.to_owned(), counter.unwrap_or(0))));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        pending.get_or_insert(e);
                    }
                }
            }
        }
        pending.map_or(Ok(None), Err)
    }
}

/// How many same-period counters a namer'd backup name is checked against.
const MAX_COUNTER_SEARCH: u32 = 64;

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

    #[cfg(unix)]
    #[test]
    fn a_name_that_is_not_utf8_keeps_its_bytes() {
        use std::os::unix::ffi::OsStrExt;
        let log = Path::new(OsStr::from_bytes(b"/d/app\xff.log"));
        let lock = lock_path_for(log, None);
        assert_eq!(lock.as_os_str().as_bytes(), b"/d/.__app\xff.lock");
        let temp = temp_path(log, Path::new("/d"), Temp::Gzip);
        assert!(is_temp_of(log, temp.file_name().unwrap()));
        assert!(!is_temp_of(
            Path::new("/d/app.log"),
            temp.file_name().unwrap()
        ));
    }

    #[test]
    fn temporaries_stay_short_for_long_names() {
        let long = format!("/d/{}.log", "x".repeat(246));
        let temp = temp_path(Path::new(&long), Path::new("/d"), Temp::New);
        assert!(temp.file_name().unwrap().len() < 64, "{temp:?}");
    }

    #[test]
    fn backup_names_with_and_without_namer() {
        let names = BackupNames::new(Path::new("/d/app.log"), None);
        assert_eq!(names.slot(1, false).unwrap(), Path::new("/d/app.log.1"));
        assert_eq!(names.slot(12, true).unwrap(), Path::new("/d/app.log.12.gz"));
        let namer = Namer::new(|p: &Path| with_suffix(p, ".bak"));
        let names = BackupNames::new(Path::new("/d/app.log"), Some(namer));
        assert_eq!(
            names.slot(2, true).unwrap(),
            Path::new("/d/app.log.2.bak.gz")
        );
        let unknown = Namer::deferred(|_| None);
        let names = BackupNames::new(Path::new("/d/app.log"), Some(unknown));
        assert!(matches!(
            names.slot(1, false),
            Err(Error::NamePending { .. })
        ));
    }
}
