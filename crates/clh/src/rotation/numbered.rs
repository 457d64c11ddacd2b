//! Numbered backups (size rotation, CLH's scheme; `app.log.1` is the newest):
//! 1. make room at slot 1: find the first free slot `g` (or delete the oldest, slot N,
//!    when all are taken) and rename `k` → `k+1` for `k = g-1 … 1` (both the plain and
//!    the `.gz` name of a slot move together);
//! 2. rename `app.log` → `app.log.1`.
//!
//! A kill between two renames leaves a gap that step 1 simply continues from, or a free
//! slot 1 and the log still in place.

use super::{taken, BackupSet};
use crate::error::{Context, Result, Step};
use crate::sys;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub(crate) struct Numbered<'a> {
    pub set: BackupSet<'a>,
}

impl Numbered<'_> {
    /// Rename the log to slot 1, after making room. Returns the new backup's name.
    pub fn rotate(&self) -> Result<PathBuf> {
        self.make_room()?;
        let backup = self.set.names.slot(1, false)?;
        fs::rename(self.set.log, &backup).at(Step::Rotate, self.set.log)?;
        Ok(backup)
    }

    /// Make slot 1 free, keeping at most `backup_count` backups.
    pub fn make_room(&self) -> Result<()> {
        let n = self.set.backup_count;
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
                    self.set
                        .trace(|| format!("recovering an interrupted shift at slot {gap}"));
                }
                gap
            }
            None => {
                for gz in [false, true] {
                    let oldest = self.set.names.slot(n, gz)?;
                    sys::remove_if_present(&oldest).at(Step::Retention, &oldest)?;
                }
                n
            }
        };
        for k in (1..gap).rev() {
            for gz in [false, true] {
                let from = self.set.names.slot(k, gz)?;
                match fs::rename(&from, self.set.names.slot(k + 1, gz)?) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    other => other.at(Step::Rotate, &from)?,
                }
            }
        }
        Ok(())
    }

    /// Move a file (CLH's interrupted rotation) into slot 1, after making room.
    pub fn adopt(&self, orphan: &Path) -> Result<()> {
        let is_gz = orphan.extension().is_some_and(|e| e == OsStr::new("gz"));
        self.make_room()?;
        fs::rename(orphan, self.set.names.slot(1, is_gz)?).at(Step::Recover, orphan)
    }

    /// Uncompressed backups: slots up to the first empty one.
    pub fn plain_backups(&self) -> Result<Vec<PathBuf>> {
        let mut plain = Vec::new();
        for k in 1..=self.set.backup_count {
            if !self.occupied(k)? {
                break;
            }
            let p = self.set.names.slot(k, false)?;
            if fs::symlink_metadata(&p).is_ok() {
                plain.push(p);
            }
        }
        Ok(plain)
    }

    /// The slot whose uncompressed file passes `same`.
    pub fn find(&self, same: impl Fn(&Path) -> bool) -> Result<Option<PathBuf>> {
        for k in 1..=self.set.backup_count {
            let p = self.set.names.slot(k, false)?;
            if same(&p) {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }

    fn occupied(&self, k: u32) -> Result<bool> {
        Ok(taken(&self.set.names.slot(k, false)?))
    }
}
