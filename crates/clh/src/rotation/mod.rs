//! *How* a rotation is carried out, apart from *what decides* it (`trigger/`): renames
//! and retention under the lock, and the recovery of whatever a killed process left half
//! done. Compression is not done here: a rotation hands the new uncompressed backup to
//! [`crate::compress`], which gzips it off the lock.
//!
//! Every function here runs with the cross-process lock held, and every step is one
//! atomic rename, so the lock is held for microseconds, not for a compression.
//!
//! * `numbered.rs`: size rotation, CLH's scheme (`app.log.1` is the newest);
//! * `dated.rs`: time rotation (`app.log.<period start>[.<counter>]`, retention);
//! * `recovery.rs`: what crashed processes left, for either scheme.
//!
//! `backup_count == 0` without a schedule truncates the log instead; the write path
//! does that through its own descriptor.

mod dated;
mod numbered;
mod recovery;

pub(crate) use dated::Dated;
pub(crate) use numbered::Numbered;

use crate::compress::Backup;
use crate::error::Result;
use crate::paths::{with_suffix, BackupNames};
use crate::sys::FileId;
use crate::trace::Trace;
use std::fs;
use std::path::{Path, PathBuf};

/// A log's set of backups, as one rotation sees it (the options are read once).
pub(crate) struct BackupSet<'a> {
    pub log: &'a Path,
    pub names: BackupNames,
    pub backup_count: u32,
    pub gzip: bool,
    pub trace: &'a Trace,
}

impl BackupSet<'_> {
    pub fn trace(&self, msg: impl FnOnce() -> String) {
        self.trace.line(self.log, msg);
    }
}

/// The scheme a log's backups follow.
pub(crate) enum Scheme<'a> {
    Numbered(Numbered<'a>),
    Dated(Dated<'a>),
}

impl<'a> Scheme<'a> {
    pub fn set(&self) -> &BackupSet<'a> {
        match self {
            Scheme::Numbered(n) => &n.set,
            Scheme::Dated(d) => &d.set,
        }
    }

    /// Uncompressed backups of this log.
    pub fn plain_backups(&self) -> Result<Vec<PathBuf>> {
        match self {
            Scheme::Numbered(n) => n.plain_backups(),
            Scheme::Dated(d) => d.plain_backups(),
        }
    }

    /// Where the uncompressed backup with identity `id`, first named `was`, is now.
    pub fn locate(&self, was: &Path, id: Option<FileId>) -> Result<Option<PathBuf>> {
        let same = same_file(id);
        if id.is_none() && matches!(self, Scheme::Numbered(_)) {
            // Without file identity (Windows) a numbered backup may have shifted since:
            // leave it uncompressed rather than put its compression under another's name.
            return Ok(None);
        }
        if fs::symlink_metadata(was).is_ok() && (id.is_none() || same(was)) {
            return Ok(Some(was.to_owned()));
        }
        match self {
            // Numbered backups move one slot per rotation: follow the inode.
            Scheme::Numbered(n) if id.is_some() => n.find(same),
            _ => Ok(None),
        }
    }

    /// Finish what killed processes left behind: the uncompressed backups to compress
    /// (none unless gzip is on) and the first problem met (see `recovery.rs`).
    pub fn recover(&self) -> (Vec<Backup>, Option<crate::Error>) {
        recovery::recover(self)
    }
}

/// A test for "is the file at this path the one with identity `id`".
fn same_file(id: Option<FileId>) -> impl Fn(&Path) -> bool {
    move |p: &Path| {
        fs::symlink_metadata(p)
            .ok()
            .and_then(|m| crate::sys::file_id(&m))
            == id
    }
}

/// After renaming the log to `backup`: the backup to compress, if gzip is on.
pub(crate) fn compress_next(set: &BackupSet<'_>, backup: PathBuf) -> Result<Option<Backup>> {
    set.trace(|| format!("backup {}", backup.display()));
    if set.gzip {
        return Backup::open(backup).map(Some);
    }
    Ok(None)
}

/// Whether `name` or `name.gz` exists (as anything: a planted link still takes a slot).
fn taken(name: &Path) -> bool {
    fs::symlink_metadata(name).is_ok() || fs::symlink_metadata(with_suffix(name, ".gz")).is_ok()
}
