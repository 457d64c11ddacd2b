//! What a writer's callers and its compression thread share: the configuration, the
//! triggers' state, the namer, the per-process state and the counters. How they act on
//! the log under the lock is `locking.rs` and `session.rs`.

use crate::error::{Error, Result};
use crate::fork::ForkLocal;
use crate::lock::LockFile;
use crate::options::Config;
use crate::paths::{self, parent_dir, BackupNames, Namer, Temp};
use crate::process::Process;
use crate::rotation::{BackupSet, Dated, Numbered, Scheme};
use crate::trigger::size::SizeTrigger;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, PoisonError, RwLock};

/// See the module docs.
pub(crate) struct Shared {
    pub cfg: Config,
    pub size: SizeTrigger,
    pub namer: RwLock<Option<Namer>>,
    /// The per-process state; replaced in a child after `fork()`.
    process: ForkLocal<Process>,
    pub num_rollovers: AtomicU64,
    /// An error of the compression thread, handed to the next caller.
    pub compress_error: Mutex<Option<Error>>,
}

impl Shared {
    pub fn new(cfg: Config, namer: Option<Namer>) -> Result<Self> {
        let process = Process::default();
        // Open the lock file now: a bad lock directory or permissions fail here.
        let lock = LockFile::open(&cfg.lock_path, &cfg.perms, &cfg.lock_temp())?;
        if cfg.keep_file_open {
            process.state().lock = Some(process.keep_lock(lock));
        }
        Ok(Shared {
            size: SizeTrigger::new(cfg.max_bytes),
            cfg,
            namer: RwLock::new(namer),
            process: ForkLocal::new(process),
            num_rollovers: AtomicU64::new(0),
            compress_error: Mutex::new(None),
        })
    }

    /// This process's state, replacing the parent's after a fork.
    pub fn process(&self) -> &Process {
        self.process.get(Process::default)
    }

    /// The backups of this log as a rotation sees them now (options read once).
    pub fn backup_set(&self) -> BackupSet<'_> {
        let namer = self
            .namer
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        BackupSet {
            log: &self.cfg.path,
            names: BackupNames::new(&self.cfg.path, namer),
            backup_count: self.cfg.backup_count(),
            gzip: self.cfg.use_gzip(),
            trace: &self.cfg.trace,
        }
    }

    /// The scheme this log's backups follow: numbered, or dated with a schedule.
    pub fn scheme(&self) -> Scheme<'_> {
        let set = self.backup_set();
        match &self.cfg.schedule {
            None => Scheme::Numbered(Numbered { set }),
            Some(schedule) => Scheme::Dated(Dated { set, schedule }),
        }
    }

    pub fn trace(&self, msg: &str) {
        self.cfg.trace.line(&self.cfg.path, || msg.to_owned());
    }
}

impl Config {
    /// Fresh temporaries for creating the lock file, beside it.
    pub(crate) fn lock_temp(&self) -> impl Fn() -> PathBuf + '_ {
        move || paths::temp_path(&self.path, parent_dir(&self.lock_path), Temp::New)
    }
}
