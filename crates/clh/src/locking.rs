//! The one way to act on the log: [`Shared::locked`] takes this process's state and the
//! cross-process lock on a lock file that still has a name, and runs a
//! [`Session`] under it. The compression thread goes through it too ([`Owner`]).
//!
//! The lock file may be deleted (a cleanup job) or replaced while writers run; a writer
//! started then creates and locks a new one while older writers would go on locking the
//! deleted one. So after taking the lock a writer checks that its file still has a name
//! (one `fstat`, spared while the directory's change time proves that no name changed:
//! `name_watch.rs`); if not, it lets go, reopens the path and locks again. Before a
//! rotation the session also checks that the lock path names the file (see
//! `session.rs`): nothing is ever rotated under a stale lock.

use crate::compress::{self, Backup, Owner};
use crate::error::{Context, Error, Result, Step};
use crate::lock::LockFile;
use crate::name_watch::Reading;
use crate::process::State;
use crate::session::Session;
use crate::shared::Shared;
use crate::sys::FileId;
use std::io;
use std::path::Path;
use std::sync::PoisonError;

/// How many times in a row a writer reopens a lock file it finds deleted or replaced
/// before it reports an error (someone keeps replacing it).
pub(crate) const MAX_LOCK_REOPENS: u32 = 16;

/// What a call does when something interrupts it before it has written a record: a
/// signal during the wait for the lock, or a rotation whose backup name a deferred
/// [`Namer`] does not know yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interrupts {
    /// Carry on: wait for the lock again; write the record and rotate later.
    Absorb,
    /// Return [`Error::Interrupted`] or [`Error::NamePending`], so that the caller
    /// can run its signal handlers or ask its namer, then call again with the records
    /// not written yet.
    Return,
}

impl Shared {
    /// Run `f` with this process's state, holding the cross-process lock on a lock
    /// file that still has a name. Backups to compress are added to `to_compress`. An
    /// error `f` noted besides its result (recovery, rotation) is returned after it.
    /// Also says whether `f` found the lock file moved away from the lock path (it is
    /// then closed, so the next call locks the file at the path).
    pub fn locked<T>(
        &self,
        to_compress: &mut Vec<Backup>,
        interrupts: Interrupts,
        f: impl FnOnce(&mut Session<'_>) -> Result<T>,
    ) -> (Result<T>, bool) {
        let process = self.process();
        let mut state = process.state();
        let State {
            lock,
            log,
            time,
            recovered,
            names,
        } = &mut *state;
        let mut f = Some(f);
        let mut reopens = 0;
        let (result, unlocked, stale_lock) = loop {
            if lock.is_none() {
                match LockFile::open(&self.cfg.lock_path, &self.cfg.perms, &self.cfg.lock_temp()) {
                    Ok(opened) => *lock = Some(process.keep_lock(opened)),
                    Err(e) => return (Err(e), false),
                }
            }
            let lock_file: &LockFile = lock.as_ref().expect("lock file opened above");
            let guard = match lock_file.lock() {
                Ok(guard) => guard,
                Err(Error::Interrupted) if interrupts == Interrupts::Absorb => continue,
                Err(e) => return (Err(e), false),
            };
            let reading = names.check(&self.cfg.path, &self.cfg.lock_path);
            let unchanged = reading == Reading::Unchanged;
            if unchanged || lock_file.still_linked() {
                let mut session = Session::new(self, process, lock_file, log, time, to_compress);
                session.names_unchanged = unchanged;
                if !*recovered {
                    // A process's first look: finish what crashed processes left behind.
                    *recovered = true;
                    session.recover();
                }
                let f = f.take().expect("called once: the loop ends here");
                let result = f(&mut session);
                let log_checked = session.log_checked_in_full;
                let outcome = session.finish(result);
                if let Reading::CheckInFull(Some(times)) = reading {
                    // Both names were as expected after `times` were read.
                    if log_checked && !outcome.stale_lock && self.cfg.keep_file_open {
                        names.confirm(times);
                    }
                }
                if outcome.stale_lock {
                    names.forget();
                }
                break (outcome.result, guard.unlock(), outcome.stale_lock);
            }
            // Deleted or replaced while we were not holding it: whoever opens the path
            // now locks another file. Let go, reopen, lock that one.
            drop(guard);
            *lock = None;
            names.forget();
            self.trace("the lock file was deleted or replaced: reopening it");
            reopens += 1;
            if reopens > MAX_LOCK_REOPENS {
                let e = io::Error::other("the lock file keeps being deleted or replaced");
                return (Err(e).at(Step::Lock, &self.cfg.lock_path), false);
            }
        };
        if !self.cfg.keep_file_open {
            *log = None;
        }
        if stale_lock || unlocked.is_err() || !self.cfg.keep_file_open {
            // Closing releases the lock whatever happened to the unlock.
            *lock = None;
        }
        (
            result.and_then(|value| unlocked.map(|()| value)),
            stale_lock,
        )
    }
}

impl Owner for Shared {
    fn finish(&self, was: &Path, id: Option<FileId>, compressed: &Path) -> Result<()> {
        // Compression never rotates, so nothing new to compress comes out of this.
        let mut none = Vec::new();
        self.locked(&mut none, Interrupts::Absorb, |_| {
            let current = self.scheme().locate(was, id)?;
            self.trace(&format!("compressed {}", was.display()));
            compress::install(current, compressed)
        })
        .0
    }

    fn with_lock(&self, f: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        let mut none = Vec::new();
        self.locked(&mut none, Interrupts::Absorb, |_| f()).0
    }

    fn report(&self, error: Error) {
        *self
            .compress_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error);
    }

    fn log_path(&self) -> &Path {
        &self.cfg.path
    }
}
