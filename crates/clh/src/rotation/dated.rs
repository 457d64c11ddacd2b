//! Dated backups (time rotation): rename `app.log` → `app.log.<stamp>`, where the stamp
//! is the start of the period that ended, plus `.1`, `.2`… for further rotations in the
//! same period (always one more than the highest counter: reusing a name that retention
//! freed would sort it oldest), then delete the oldest beyond `backup_count` (0 keeps
//! all). Only names this writer would produce count, so retention never deletes
//! anything else.

use super::BackupSet;
use crate::error::{Context, Error, Result, Step};
use crate::paths::parent_dir;
use crate::schedule::Schedule;
use crate::sys;
use std::fs;
use std::io;
use std::path::PathBuf;

pub(crate) struct Dated<'a> {
    pub set: BackupSet<'a>,
    pub schedule: &'a Schedule,
}

impl Dated<'_> {
    /// Rename the log to the next dated name for `stamp`, then apply retention. A name
    /// a deferred namer does not know yet postpones the rotation before anything is
    /// renamed ([`Error::NamePending`]).
    pub fn rotate(&self, stamp: &str) -> Result<PathBuf> {
        let last = self
            .backups_keyed()?
            .into_iter()
            .filter(|((s, _), _)| s == stamp)
            .map(|((_, counter), _)| counter)
            .max();
        let target = self.set.names.dated(stamp, last.map(|c| c + 1))?;
        if super::taken(&target) {
            let e = io::Error::new(io::ErrorKind::AlreadyExists, "backup name taken");
            return Err(e).at(Step::Rotate, &target);
        }
        fs::rename(self.set.log, &target).at(Step::Rotate, self.set.log)?;
        match self.apply_retention() {
            // Unsure which files are ours: delete nothing this time.
            Err(Error::NamePending { .. }) => {}
            other => other?,
        }
        Ok(target)
    }

    /// Keep the newest `backup_count` dated backups (0: keep all).
    fn apply_retention(&self) -> Result<()> {
        let keep = self.set.backup_count as usize;
        if keep == 0 {
            return Ok(());
        }
        let backups = self.backups()?;
        let excess = backups.len().saturating_sub(keep);
        for old in &backups[..excess] {
            self.set.trace(|| format!("removing {}", old.display()));
            sys::remove_if_present(old).at(Step::Retention, old)?;
        }
        Ok(())
    }

    /// Uncompressed dated backups.
    pub fn plain_backups(&self) -> Result<Vec<PathBuf>> {
        Ok(self
            .backups()?
            .into_iter()
            .filter(|p| p.extension().is_none_or(|e| e != "gz"))
            .collect())
    }

    /// Dated backups of this log, oldest first (by time, then counter).
    fn backups(&self) -> Result<Vec<PathBuf>> {
        Ok(self
            .backups_keyed()?
            .into_iter()
            .map(|(_, path)| path)
            .collect())
    }

    /// Dated backups with their `(stamp, counter)`, oldest first. With a deferred
    /// namer, every name it does not know yet is asked for before the first
    /// [`Error::NamePending`] is returned, so one round of answers is enough.
    fn backups_keyed(&self) -> Result<Vec<((String, u32), PathBuf)>> {
        let dir = parent_dir(self.set.log);
        let mut found = Vec::new();
        let mut pending = None;
        for entry in fs::read_dir(dir).at(Step::Rotate, dir)? {
            let entry = entry.at(Step::Rotate, dir)?;
            match self
                .set
                .names
                .parse_dated(&entry.file_name(), self.schedule)
            {
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
}
