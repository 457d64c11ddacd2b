//! How a rotation is carried out: rename the log away, compress it, shift the
//! numbered backups, and finish whatever a killed process left half done.
//!
//! Every function here runs with the cross-process lock held. Each step is a single
//! atomic rename (or the creation of a file that is renamed into place), so a kill
//! between any two steps leaves a state that [`Rotation::recover`] completes:
//!
//! 1. `app.log` → `app.log.rotate.<unique>` (the log is now absent).
//! 2. With gzip: `app.log.rotate.<u>` → `app.log.rotate.<u>.gz.part` → `….gz`,
//!    then the uncompressed file is removed.
//! 3. Make room at slot 1: find the first free slot `g` (or drop the oldest, slot N,
//!    when all are taken) and rename `k` → `k+1` for `k = g-1 … 1`.
//! 4. `app.log.rotate.<u>[.gz]` → `app.log.1[.gz]`.
//!
//! Recovery rule: any `app.log.rotate.*` file found under the lock is an interrupted
//! rotation (ours or CLH's, which uses the same prefix). A `.gz.part` is deleted; a
//! `.gz` whose uncompressed file still exists may be partial and is deleted; what
//! remains is inserted into the backup series, oldest first, by steps 2 to 4.

use crate::compress::{self, PARTIAL};
use crate::error::{Context, Result, Step};
use crate::paths::{rotating_prefix, with_suffix, BackupNames};
use crate::schedule::Schedule;
use crate::sys;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

static ROTATE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The parameters of a rotation of one log.
pub(crate) struct Rotation<'a> {
    pub log: &'a Path,
    pub names: BackupNames,
    pub backup_count: u32,
    pub gzip: bool,
    pub debug: bool,
}

/// Where a rotated log goes.
pub(crate) enum Target<'a> {
    /// Into slot 1 of the numbered series (size rotation, CLH's `ConcurrentRotatingFileHandler`).
    Numbered,
    /// To `app.log.<stamp>` (plus `.1`, `.2`… if taken), keeping the newest
    /// `backup_count` (0: all) names the schedule recognises (timed rotation).
    Dated {
        stamp: String,
        schedule: &'a Schedule,
    },
}

impl Rotation<'_> {
    /// Rotate the log (which must exist) to `target`.
    pub fn rotate_to(&self, target: &Target<'_>) -> Result<()> {
        match target {
            Target::Numbered => self.rotate(),
            Target::Dated { stamp, schedule } => self.rotate_dated(stamp, schedule),
        }
    }

    /// Rename the log straight to its dated name (one atomic step: nothing to recover
    /// but an unfinished compression), then apply retention.
    fn rotate_dated(&self, stamp: &str, schedule: &Schedule) -> Result<()> {
        self.recover_dated(schedule)?;
        let base = self.names.dated(stamp, None);
        let mut target = base.clone();
        let mut counter = 0;
        while self.taken(&target) {
            counter += 1;
            target = self.names.dated(stamp, Some(counter));
        }
        fs::rename(self.log, &target).at(Step::Rotate, self.log)?;
        self.trace(&format!("backup {}", target.display()));
        let compressed = if self.gzip {
            compress::gzip(&target).map(|_| ())
        } else {
            Ok(())
        };
        if self.backup_count > 0 {
            for old in self
                .dated_backups(schedule)?
                .into_iter()
                .rev()
                .skip(self.backup_count as usize)
            {
                self.trace(&format!("removing {}", old.display()));
                remove_if_present(&old)?;
            }
        }
        compressed
    }

    fn taken(&self, name: &Path) -> bool {
        fs::symlink_metadata(name).is_ok() || fs::symlink_metadata(with_suffix(name, ".gz")).is_ok()
    }

    /// Dated backups of this log, oldest first (by time, then counter).
    fn dated_backups(&self, schedule: &Schedule) -> Result<Vec<PathBuf>> {
        let dir = parent_dir(self.log);
        let mut found = Vec::new();
        for entry in fs::read_dir(dir).at(Step::Rotate, dir)? {
            let entry = entry.at(Step::Rotate, dir)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(key) = self.names.parse_dated(&name, schedule) {
                found.push((key, entry.path()));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, path)| path).collect())
    }

    /// A dated backup beside its `.gz` is an interrupted compression (ours renames the
    /// `.gz` into place complete; CLH's writes it in place, so it may be partial): the
    /// `.gz` goes and, with gzip on, the backup is compressed again. Leftover
    /// `.gz.part` files are removed.
    fn recover_dated(&self, schedule: &Schedule) -> Result<()> {
        for path in self.dated_backups(schedule)? {
            let name = path.to_string_lossy();
            if name.ends_with(".gz") {
                continue;
            }
            let gz = with_suffix(&path, ".gz");
            remove_if_present(&with_suffix(&gz, PARTIAL))?;
            if fs::symlink_metadata(&gz).is_ok() {
                self.trace(&format!("recovering {}", path.display()));
                remove_if_present(&gz)?;
                if self.gzip {
                    compress::gzip(&path)?;
                }
            }
        }
        Ok(())
    }

    /// Rotate the log (which must exist). With `backup_count == 0` it is truncated.
    pub fn rotate(&self) -> Result<()> {
        self.recover()?;
        if self.backup_count == 0 {
            self.trace("truncating (backup count 0)");
            return OpenOptions::new()
                .write(true)
                .open(self.log)
                .and_then(|f| f.set_len(0))
                .at(Step::Truncate, self.log);
        }
        let rotating = self.rotating_name();
        fs::rename(self.log, &rotating).at(Step::Rotate, self.log)?;
        self.trace(&format!("renamed to {}", rotating.display()));
        self.insert(&rotating)
    }

    /// Finish every rotation that a killed process left half done, and remove
    /// temporary files left by a creation that was interrupted. Returns how many
    /// interrupted rotations were finished.
    pub fn recover(&self) -> Result<usize> {
        let dir = parent_dir(self.log);
        let prefix = rotating_prefix(self.log);
        let temp_prefix = sys::temp_prefix(self.log);
        let mut raw = Vec::new();
        let mut gz = Vec::new();
        for entry in fs::read_dir(dir).at(Step::Recover, dir)? {
            let entry = entry.at(Step::Recover, dir)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(&temp_prefix) {
                remove_if_present(&entry.path())?;
            } else if let Some(rest) = name.strip_prefix(&prefix) {
                if rest.ends_with(PARTIAL) {
                    remove_if_present(&entry.path())?;
                } else if rest.ends_with(".gz") {
                    gz.push(entry.path());
                } else {
                    raw.push(entry.path());
                }
            }
        }
        let mut orphans = Vec::new();
        for path in gz {
            let uncompressed = path.with_extension("");
            if raw.contains(&uncompressed) {
                // CLH writes its .gz in place: with the source still there it may be partial.
                remove_if_present(&path)?;
            } else {
                orphans.push(path);
            }
        }
        orphans.extend(raw);
        orphans.sort_by_key(|p| (modified(p), p.clone()));
        for path in &orphans {
            self.trace(&format!("recovering {}", path.display()));
            self.insert(path)?;
        }
        Ok(orphans.len())
    }

    /// Put a rotated file (`…rotate.<u>` or `…rotate.<u>.gz`) into slot 1.
    fn insert(&self, rotated: &Path) -> Result<()> {
        if self.backup_count == 0 {
            // No backups kept: an orphan's records have nowhere to go but away.
            return fs::remove_file(rotated).at(Step::Recover, rotated);
        }
        let is_gz = rotated.extension().is_some_and(|e| e == "gz");
        let (source, gz, compress_error) = if is_gz || !self.gzip {
            (rotated.to_owned(), is_gz, None)
        } else {
            match compress::gzip(rotated) {
                Ok(done) => (done, true, None),
                // Keep the records uncompressed rather than not rotate (as CLH does).
                Err(e) => (rotated.to_owned(), false, Some(e)),
            }
        };
        self.make_room()?;
        let target = self.names.slot(1, gz);
        fs::rename(&source, &target).at(Step::Rotate, &source)?;
        self.trace(&format!("backup {}", target.display()));
        compress_error.map_or(Ok(()), Err)
    }

    /// Make slot 1 free, keeping at most `backup_count` backups.
    fn make_room(&self) -> Result<()> {
        let n = self.backup_count;
        let gap = match (1..=n).find(|&k| !self.occupied(k)) {
            Some(gap) => gap,
            None => {
                for gz in [false, true] {
                    remove_if_present(&self.names.slot(n, gz))?;
                }
                n
            }
        };
        for k in (1..gap).rev() {
            for gz in [false, true] {
                let from = self.names.slot(k, gz);
                match fs::rename(&from, self.names.slot(k + 1, gz)) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    other => other.at(Step::Rotate, &from)?,
                }
            }
        }
        Ok(())
    }

    fn occupied(&self, k: u32) -> bool {
        [false, true]
            .iter()
            .any(|&gz| fs::symlink_metadata(self.names.slot(k, gz)).is_ok())
    }

    fn rotating_name(&self) -> PathBuf {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = ROTATE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "{}{}-{:x}-{}",
            rotating_prefix(self.log),
            std::process::id(),
            nanos,
            n
        );
        self.log.with_file_name(name)
    }

    fn trace(&self, msg: &str) {
        if self.debug {
            println!("[clh {}] {}: {msg}", std::process::id(), self.log.display());
        }
    }
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e).at(Step::Recover, path),
        _ => Ok(()),
    }
}
