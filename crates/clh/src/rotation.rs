//! How a rotation is carried out: renames and retention under the lock, and the
//! recovery of whatever a killed process left half done. Compression is not done
//! here: a rotation hands the new uncompressed backup to [`crate::compress`], which
//! gzips it off the lock.
//!
//! Every function here runs with the cross-process lock held, and every step is one
//! atomic rename, so the lock is held for microseconds, not for a compression.
//!
//! Numbered backups (size rotation, CLH's scheme; `app.log.1` is the newest):
//! 1. make room at slot 1: find the first free slot `g` (or delete the oldest, slot
//!    N, when all are taken) and rename `k` → `k+1` for `k = g-1 … 1` (both the
//!    plain and the `.gz` name of a slot move together);
//! 2. rename `app.log` → `app.log.1`.
//!
//! A kill between two renames leaves a gap that step 1 simply continues from, or a
//! free slot 1 and the log still in place. `backup_count == 0` truncates instead.
//!
//! Dated backups (time rotation): rename `app.log` → `app.log.<stamp>` (adding `.1`,
//! `.2`… if taken), then delete the oldest beyond `backup_count`.
//!
//! Recovery (under the lock, before every rotation and when a process first writes):
//! * `app.log.rotate.*` files are CLH's interrupted rotations: a `.gz` beside its
//!   source may be partial and is deleted; the rest go into slot 1, oldest first.
//! * A backup `X` beside `X.gz` is an interrupted compression: if `X.gz` is complete
//!   (its gzip trailer's length matches `X`), `X` goes; otherwise `X.gz` goes.
//! * With gzip on, every uncompressed backup that no compressor holds (`flock`) is
//!   handed to the compressor; abandoned compressor temporaries are deleted.

use crate::compress::{self, Backup};
use crate::error::{Context, Error, Result, Step};
use crate::paths::{self, with_suffix, BackupNames};
use crate::schedule::Schedule;
use crate::sys::{self, Access, Follow};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The parameters of a rotation of one log.
pub(crate) struct Rotation<'a> {
    pub log: &'a Path,
    pub names: BackupNames,
    pub backup_count: u32,
    pub gzip: bool,
    pub debug: bool,
    /// `Some` for dated backups (time rotation), `None` for numbered ones.
    pub schedule: Option<&'a Schedule>,
}

impl Rotation<'_> {
    /// Rotate the log (which must exist, and `backup_count > 0` without a schedule):
    /// to slot 1, or to `app.log.<stamp>` with a schedule. Returns the new backup if it
    /// is to be compressed. A name the namer does not know yet postpones the rotation
    /// before anything is renamed ([`Error::NamePending`]).
    pub fn rotate(&self, stamp: Option<&str>) -> Result<Option<Backup>> {
        let backup = match (self.schedule, stamp) {
            (Some(schedule), Some(stamp)) => {
                // After every backup of this period, even if retention removed the
                // first ones (reusing a freed name would sort it oldest).
                let last = self
                    .dated_backups_keyed(schedule)?
                    .into_iter()
                    .filter(|((s, _), _)| s == stamp)
                    .map(|((_, counter), _)| counter)
                    .max();
                let target = match last {
                    None => self.names.dated(stamp, None)?,
                    Some(c) => self.names.dated(stamp, Some(c + 1))?,
                };
                if taken(&target) {
                    let e = io::Error::new(io::ErrorKind::AlreadyExists, "backup name taken");
                    return Err(e).at(Step::Rotate, &target);
                }
                target
            }
            _ => {
                self.make_room()?;
                self.names.slot(1, false)?
            }
        };
        fs::rename(self.log, &backup).at(Step::Rotate, self.log)?;
        self.trace(&format!("backup {}", backup.display()));
        if let Some(schedule) = self.schedule {
            match self.apply_retention(schedule) {
                // Unsure which files are ours: delete nothing this time.
                Err(Error::NamePending { .. }) => {}
                other => other?,
            }
        }
        if self.gzip {
            return Backup::open(backup).map(Some);
        }
        Ok(None)
    }

    /// Finish what killed processes left behind. Returns the uncompressed backups that
    /// should be compressed (none unless gzip is on), and the first problem met: a
    /// file that cannot be recovered is left as it is and the others are still handled.
    pub fn recover(&self) -> (Vec<Backup>, Option<Error>) {
        let mut problem = None;
        let mut note = |result: Result<()>| {
            if let Err(e) = result {
                if !matches!(e, Error::NamePending { .. }) {
                    self.trace(&format!("recovery: {e}"));
                    problem.get_or_insert(e);
                }
            }
        };
        if self.schedule.is_none() {
            note(self.recover_clh_orphans());
        }
        note(self.remove_abandoned_temporaries());
        let mut to_compress = Vec::new();
        if !self.gzip {
            // Only gzip writers leave compressions half done (all sharers use one setting).
            return (to_compress, problem);
        }
        let plain = match self.plain_backups() {
            Ok(plain) => plain,
            Err(e) => {
                note(Err(e));
                Vec::new()
            }
        };
        for plain in plain {
            match self.recover_compression(&plain) {
                Ok(Some(backup)) => to_compress.push(backup),
                Ok(None) => {}
                Err(e) => note(Err(e)),
            }
        }
        (to_compress, problem)
    }

    /// An uncompressed backup `plain` that no compressor holds: settle `X` + `X.gz`
    /// (keep the complete one) and return `X` if it still needs compressing.
    fn recover_compression(&self, plain: &Path) -> Result<Option<Backup>> {
        let file = match sys::open_file(plain, Access::ReadOnly, Follow::Never) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).at(Step::Recover, plain),
        };
        if file.try_lock().is_err() {
            return Ok(None); // a compressor is working on it
        }
        let _ = file.unlock();
        let gz = with_suffix(plain, ".gz");
        if fs::symlink_metadata(&gz).is_ok() {
            self.trace(&format!("recovering {}", plain.display()));
            let len = file.metadata().at(Step::Recover, plain)?.len();
            if compress::is_complete(&gz, len) {
                remove_if_present(plain)?;
                return Ok(None);
            }
            remove_if_present(&gz)?;
        }
        self.trace(&format!(
            "compressing {} (found uncompressed)",
            plain.display()
        ));
        Ok(Some(Backup {
            path: plain.to_owned(),
            file,
        }))
    }

    /// Where the uncompressed backup with identity `id`, first named `was`, is now
    /// (numbered backups move one slot per rotation).
    pub fn locate(&self, was: &Path, id: Option<sys::FileId>) -> Result<Option<PathBuf>> {
        let same = |p: &Path| fs::symlink_metadata(p).ok().and_then(|m| sys::file_id(&m)) == id;
        if fs::symlink_metadata(was).is_ok() && (id.is_none() || same(was)) {
            return Ok(Some(was.to_owned()));
        }
        if self.schedule.is_some() || id.is_none() {
            return Ok(None);
        }
        for k in 1..=self.backup_count {
            let p = self.names.slot(k, false)?;
            if same(&p) {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    /// Uncompressed backups: numbered slots up to the first empty one, or dated names.
    fn plain_backups(&self) -> Result<Vec<PathBuf>> {
        match self.schedule {
            Some(schedule) => Ok(self
                .dated_backups(schedule)?
                .into_iter()
                .filter(|p| p.extension().is_none_or(|e| e != "gz"))
                .collect()),
            None => {
                let mut plain = Vec::new();
                for k in 1..=self.backup_count {
                    if !self.occupied(k)? {
                        break;
                    }
                    let p = self.names.slot(k, false)?;
                    if fs::symlink_metadata(&p).is_ok() {
                        plain.push(p);
                    }
                }
                Ok(plain)
            }
        }
    }

    /// Delete our hidden temporaries that nobody holds: their creator (which keeps a
    /// `flock` on each while it lives) died, or they were planted. Any of our names
    /// that is not a regular file is removed too (unlinking never follows a link).
    fn remove_abandoned_temporaries(&self) -> Result<()> {
        let dir = parent_dir(self.log);
        for entry in fs::read_dir(dir).at(Step::Recover, dir)? {
            let entry = entry.at(Step::Recover, dir)?;
            if !paths::is_temp_of(self.log, &entry.file_name()) {
                continue;
            }
            let path = entry.path();
            let abandoned = match sys::open_file(&path, Access::ReadOnly, Follow::Never) {
                Ok(file) => file.try_lock().is_ok(),
                Err(e) => e.kind() == io::ErrorKind::InvalidInput, // not a regular file
            };
            if abandoned {
                remove_if_present(&path)?;
            }
        }
        Ok(())
    }

    /// CLH renames the log to `app.log.rotate.<random>` and gzips it there, under its
    /// lock: any such file seen under the lock is a rotation its writer died in.
    fn recover_clh_orphans(&self) -> Result<()> {
        let dir = parent_dir(self.log);
        let mut raw = Vec::new();
        let mut gz = Vec::new();
        for entry in fs::read_dir(dir).at(Step::Recover, dir)? {
            let entry = entry.at(Step::Recover, dir)?;
            let name = entry.file_name();
            if !paths::is_clh_rotating(self.log, &name) {
                continue;
            }
            let name = name.as_encoded_bytes();
            if name.ends_with(b".gz") {
                gz.push(entry.path());
            } else if name.ends_with(b".part") {
                remove_if_present(&entry.path())?;
            } else {
                raw.push(entry.path());
            }
        }
        let mut orphans = Vec::new();
        for path in gz {
            if raw.contains(&path.with_extension("")) {
                remove_if_present(&path)?; // written in place: may be partial
            } else {
                orphans.push(path);
            }
        }
        orphans.extend(raw);
        orphans.sort_by_key(|p| (modified(p), p.clone()));
        for orphan in &orphans {
            self.trace(&format!("recovering {}", orphan.display()));
            if self.backup_count == 0 {
                remove_if_present(orphan)?;
                continue;
            }
            let is_gz = orphan.extension().is_some_and(|e| e == "gz");
            self.make_room()?;
            fs::rename(orphan, self.names.slot(1, is_gz)?).at(Step::Recover, orphan)?;
        }
        Ok(())
    }

    /// Make slot 1 free, keeping at most `backup_count` backups.
    fn make_room(&self) -> Result<()> {
        let n = self.backup_count;
        let mut gap = None;
        for k in 1..=n {
            if !self.occupied(k)? {
                gap = Some(k);
                break;
            }
        }
        let gap = match gap {
            Some(gap) => {
                if gap < n && self.occupied(gap + 1)? {
                    // Backups above a hole: a shift that a killed writer left half done.
                    self.trace(&format!("recovering an interrupted shift at slot {gap}"));
                }
                gap
            }
            None => {
                for gz in [false, true] {
                    remove_if_present(&self.names.slot(n, gz)?)?;
                }
                n
            }
        };
        for k in (1..gap).rev() {
            for gz in [false, true] {
                let from = self.names.slot(k, gz)?;
                match fs::rename(&from, self.names.slot(k + 1, gz)?) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    other => other.at(Step::Rotate, &from)?,
                }
            }
        }
        Ok(())
    }

    fn occupied(&self, k: u32) -> Result<bool> {
        Ok(taken(&self.names.slot(k, false)?))
    }

    /// Keep the newest `backup_count` dated backups (0: keep all).
    fn apply_retention(&self, schedule: &Schedule) -> Result<()> {
        if self.backup_count == 0 {
            return Ok(());
        }
        let backups = self.dated_backups(schedule)?;
        let excess = backups.len().saturating_sub(self.backup_count as usize);
        for old in &backups[..excess] {
            self.trace(&format!("removing {}", old.display()));
            remove_if_present(old)?;
        }
        Ok(())
    }

    /// Dated backups of this log, oldest first (by time, then counter).
    fn dated_backups(&self, schedule: &Schedule) -> Result<Vec<PathBuf>> {
        Ok(self
            .dated_backups_keyed(schedule)?
            .into_iter()
            .map(|(_, path)| path)
            .collect())
    }

    /// Dated backups with their `(stamp, counter)`, oldest first. With a deferred
    /// namer, every name it does not know yet is asked for before the first
    /// [`Error::NamePending`] is returned, so one round of answers is enough.
    fn dated_backups_keyed(&self, schedule: &Schedule) -> Result<Vec<((String, u32), PathBuf)>> {
        let dir = parent_dir(self.log);
        let mut found = Vec::new();
        let mut pending = None;
        for entry in fs::read_dir(dir).at(Step::Rotate, dir)? {
            let entry = entry.at(Step::Rotate, dir)?;
            let name: OsString = entry.file_name();
            match self.names.parse_dated(&name, schedule) {
                Ok(Some(key)) => found.push((key, entry.path())),
                Ok(None) => {}
                Err(e @ Error::NamePending { .. }) => {
                    pending.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = pending {
            return Err(e);
        }
        found.sort();
        Ok(found)
    }

    pub fn trace(&self, msg: &str) {
        if self.debug {
            println!("[clh {}] {}: {msg}", std::process::id(), self.log.display());
        }
    }
}

/// Whether `name` or `name.gz` exists (as anything: a planted link still takes a slot).
fn taken(name: &Path) -> bool {
    fs::symlink_metadata(name).is_ok() || fs::symlink_metadata(with_suffix(name, ".gz")).is_ok()
}

/// The directory holding `path` (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    fs::symlink_metadata(path).and_then(|m| m.modified()).ok()
}

pub(crate) fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e).at(Step::Recover, path),
        _ => Ok(()),
    }
}
