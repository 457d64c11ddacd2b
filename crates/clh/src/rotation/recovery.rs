//! Recovery: finish what killed processes left behind, under the lock, at a process's
//! first write and before every rotation.
//!
//! * `app.log.rotate.*` files are CLH's interrupted rotations (numbered logs only): a
//!   `.gz` beside its source may be partial and is deleted; the rest go into slot 1,
//!   oldest first.
//! * Our hidden temporaries that no live process holds (their creator keeps a `flock`
//!   on each), or that are not regular files, are deleted.
//! * A backup `X` beside `X.gz` is an interrupted compression: if `X.gz` is complete
//!   (its gzip trailer's length matches `X`), `X` goes; otherwise `X.gz` goes. With gzip
//!   on, every uncompressed backup that no compressor holds is handed to the compressor.
//!
//! A file that cannot be recovered (a FIFO or a link where a backup should be) is left
//! as it is and reported; recovery goes on with the others.

use super::{Numbered, Scheme};
use crate::compress::{self, Backup};
use crate::error::{Context, Error, Result, Step};
use crate::paths::{self, parent_dir, with_suffix};
use crate::sys::{self, Access, Follow};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Recover the log set of `scheme`: the backups to compress, and the first problem met.
pub(super) fn recover(scheme: &Scheme<'_>) -> (Vec<Backup>, Option<Error>) {
    let set = scheme.set();
    let mut problem = None;
    let mut note = |result: Result<()>| {
        if let Err(e) = result {
            if !matches!(e, Error::NamePending { .. }) {
                set.trace(|| format!("recovery: {e}"));
                problem.get_or_insert(e);
            }
        }
    };
    if let Scheme::Numbered(numbered) = scheme {
        note(adopt_clh_orphans(numbered));
    }
    note(remove_abandoned_temporaries(set.log));
    let mut to_compress = Vec::new();
    if !set.gzip {
        // Only gzip writers leave compressions half done (all sharers use one setting).
        return (to_compress, problem);
    }
    let plain = scheme.plain_backups().unwrap_or_else(|e| {
        note(Err(e));
        Vec::new()
    });
    for plain in plain {
        match recover_compression(scheme, &plain) {
            Ok(Some(backup)) => to_compress.push(backup),
            Ok(None) => {}
            Err(e) => note(Err(e)),
        }
    }
    (to_compress, problem)
}

/// An uncompressed backup `plain` that no compressor holds: settle `X` + `X.gz` (keep
/// the complete one) and return `X` if it still needs compressing.
fn recover_compression(scheme: &Scheme<'_>, plain: &Path) -> Result<Option<Backup>> {
    let file = match sys::open_file(plain, Access::ReadOnly, Follow::Never) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).at(Step::Recover, plain),
    };
    if file.try_lock().is_err() {
        return Ok(None); // a compressor is working on it
    }
    let _ = file.unlock();
    let set = scheme.set();
    let gz = with_suffix(plain, ".gz");
    if fs::symlink_metadata(&gz).is_ok() {
        set.trace(|| format!("recovering {}", plain.display()));
        let len = file.metadata().at(Step::Recover, plain)?.len();
        // Keep the complete one: the compression if its trailer matches, else the backup.
        let compressed = compress::is_complete(&gz, len);
        let redundant = if compressed { plain } else { gz.as_path() };
        sys::remove_if_present(redundant).at(Step::Recover, redundant)?;
        if compressed {
            return Ok(None);
        }
    }
    set.trace(|| format!("compressing {} (found uncompressed)", plain.display()));
    Ok(Some(Backup {
        path: plain.to_owned(),
        file,
    }))
}

/// Delete `log`'s hidden temporaries that nobody holds: their creator died, or they
/// were planted. Any of our names that is not a regular file is removed too
/// (unlinking never follows a link).
fn remove_abandoned_temporaries(log: &Path) -> Result<()> {
    let dir = parent_dir(log);
    for entry in fs::read_dir(dir).at(Step::Recover, dir)? {
        let entry = entry.at(Step::Recover, dir)?;
        if !paths::is_temp_of(log, &entry.file_name()) {
            continue;
        }
        let path = entry.path();
        let abandoned = match sys::open_file(&path, Access::ReadOnly, Follow::Never) {
            Ok(file) => file.try_lock().is_ok(),
            Err(e) => e.kind() == io::ErrorKind::InvalidInput, // not a regular file
        };
        if abandoned {
            sys::remove_if_present(&path).at(Step::Recover, &path)?;
        }
    }
    Ok(())
}

/// CLH renames the log to `app.log.rotate.<random>` and gzips it there, under its lock:
/// any such file seen under the lock is a rotation its writer died in.
fn adopt_clh_orphans(numbered: &Numbered<'_>) -> Result<()> {
    let log = numbered.set.log;
    let dir = parent_dir(log);
    let mut raw = Vec::new();
    let mut gz = Vec::new();
    for entry in fs::read_dir(dir).at(Step::Recover, dir)? {
        let entry = entry.at(Step::Recover, dir)?;
        let name = entry.file_name();
        if !paths::is_clh_rotating(log, &name) {
            continue;
        }
        let name = name.as_encoded_bytes();
        if name.ends_with(b".gz") {
            gz.push(entry.path());
        } else if name.ends_with(b".part") {
            sys::remove_if_present(&entry.path()).at(Step::Recover, &entry.path())?;
        } else {
            raw.push(entry.path());
        }
    }
    let mut orphans: Vec<PathBuf> = Vec::new();
    for path in gz {
        if raw.contains(&path.with_extension("")) {
            // Written in place: may be partial.
            sys::remove_if_present(&path).at(Step::Recover, &path)?;
        } else {
            orphans.push(path);
        }
    }
    orphans.extend(raw);
    orphans.sort_by_key(|p| (modified(p), p.clone()));
    for orphan in &orphans {
        numbered
            .set
            .trace(|| format!("recovering {}", orphan.display()));
        if numbered.set.backup_count == 0 {
            sys::remove_if_present(orphan).at(Step::Recover, orphan)?;
        } else {
            numbered.adopt(orphan)?;
        }
    }
    Ok(())
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::symlink_metadata(path).and_then(|m| m.modified()).ok()
}
