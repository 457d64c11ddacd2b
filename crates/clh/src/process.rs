//! What a writer keeps per process: the open lock file and log, what it remembers of
//! the shared schedule, whether it has recovered. A forked child gets its own (through
//! [`ForkLocal`](crate::fork::ForkLocal)); the parent's is abandoned: its files closed
//! without unlocking, even when the fork caught a thread holding its mutex.

use crate::fork::Abandon;
use crate::lock::LockFile;
use crate::name_watch::NameWatch;
use crate::sys::{self, FileId, HasHandle, Kept, Published};
use crate::trigger::time::Remembered;
use std::fs::File;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One process's state of one writer.
#[derive(Default)]
pub(crate) struct Process {
    lock_handle: Arc<Published>,
    log_handle: Arc<Published>,
    state: Mutex<State>,
}

/// The state, guarded by the process's mutex (held across one locked operation).
#[derive(Default)]
pub(crate) struct State {
    pub lock: Option<Kept<LockFile>>,
    pub log: Option<Kept<OpenLog>>,
    pub time: Remembered,
    /// Whether this process has looked for what crashed processes left behind.
    pub recovered: bool,
    /// What proves the log and lock paths unchanged without checking them.
    pub names: NameWatch,
}

/// The log as this process has it open, and which file that is.
#[derive(Debug)]
pub(crate) struct OpenLog {
    pub file: File,
    pub id: Option<FileId>,
    /// Whether the log path was a symbolic link when the log was opened (its
    /// directory's change time then proves nothing: see `name_watch.rs`).
    pub via_link: bool,
}

impl HasHandle for OpenLog {
    fn raw_handle(&self) -> i64 {
        sys::raw_handle(&self.file)
    }
}

impl Process {
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keep `lock` open in this process.
    pub fn keep_lock(&self, lock: LockFile) -> Kept<LockFile> {
        Kept::new(lock, &self.lock_handle)
    }

    /// Keep `log` open in this process.
    pub fn keep_log(&self, log: OpenLog) -> Kept<OpenLog> {
        Kept::new(log, &self.log_handle)
    }
}

impl Abandon for Process {
    /// In a forked child: close what the parent had open, without unlocking (that
    /// would release the parent's lock).
    fn abandon(&self) {
        match self.state.try_lock() {
            Ok(mut state) => {
                // Dropping closes; `LockFile` only unlocks through a guard.
                state.lock = None;
                state.log = None;
                state.names = NameWatch::default();
            }
            Err(_) => {
                // A thread that does not exist here holds the mutex: the files stay
                // leaked inside it, so closing their published handles is the only close.
                self.lock_handle.close_inherited();
                self.log_handle.close_inherited();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fork::ForkLocal;

    #[test]
    fn dropping_a_kept_file_withdraws_its_handle() {
        let dir = tempfile::tempdir().unwrap();
        let process = Process::default();
        let file = File::create(dir.path().join("a")).unwrap();
        let kept = process.keep_log(OpenLog {
            file,
            id: None,
            via_link: false,
        });
        assert!(kept.raw_handle() >= 0);
        drop(kept);
        // Nothing is published any more: abandoning closes nothing twice.
        process.log_handle.close_inherited();
    }

    #[test]
    fn a_fresh_value_replaces_nothing_in_the_same_process() {
        let local = ForkLocal::new(Process::default());
        let first: *const Process = local.get(Process::default);
        let again: *const Process = local.get(Process::default);
        assert_eq!(first, again);
    }
}
