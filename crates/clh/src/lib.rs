//! Many processes appending to one log file safely, with rotation.
//!
//! `clh` is the core of `concurrent-log-handler-rs`. A [`LogWriter`] appends records
//! to a log that any number of threads and processes share, and rotates it by size
//! and/or time, speaking the on-disk protocol of the Python package
//! concurrent-log-handler 0.9.31 (same lock file, same exclusive `flock`, same backup
//! names), so processes using either can share one file. A [`BackgroundWriter`] queues
//! records and writes them from a thread of its own.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let writer = clh::LogWriter::builder(dir.path().join("app.log"))
//!     .max_bytes(1024 * 1024)
//!     .backup_count(5)
//!     .use_gzip(true)
//!     .open()?;
//! writer.write(b"service started\n")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules, each with one job, from the front to the ground:
//! * `options` (the builder: every option, default and check), `writer` (the public
//!   API), `settings` (what can change while it runs), `interruptible` (calls that hand
//!   control back), `background/` (queue, handle and worker thread);
//! * `shared` (what callers and the compression thread share), `locking` (taking the
//!   lock on the right file), `session` (writing and rotating under it), `process`
//!   (per-process state, replaced after `fork()`);
//! * `trigger/` (*what decides* a rotation: `size`, `time` with the shared schedule),
//!   `rotation/` (*how*: `numbered`, `dated`, `recovery`), `compress` (gzip off the
//!   lock), `schedule` (`when`/`interval` arithmetic);
//! * `front/` (front ends for Rust's logging ecosystems: `record` hands a record over
//!   and announces what could not be written, `shared_writer` is [`SharedWriter`]
//!   (either writer behind an `Arc`), `guard` is [`WorkerGuard`], `tracing`
//!   (feature `tracing`) makes both writers `tracing_subscriber::fmt::MakeWriter`s,
//!   `log` (feature `log`) is a `log::Log` of our own and a pipe for env_logger);
//! * `inventory` (what a set holds, from its path alone: for readers and `clh status`);
//! * `lock` (the cross-process lock), `paths` (every file name), `fork`, `trace`,
//!   `error`, and `sys/` (platform code: safe opens, permissions, identity).

mod background;
mod compress;
mod error;
mod fork;
mod front;
mod interruptible;
mod inventory;
mod lock;
mod locking;
mod name_watch;
mod options;
mod paths;
mod process;
mod rotation;
mod schedule;
mod session;
mod settings;
mod shared;
mod sys;
mod trace;
mod trigger;
mod writer;

pub use background::{
    BackgroundWriter, Overflow, QueueOptions, CLOSE_GRACE, DEFAULT_QUEUE_BYTES,
    DEFAULT_QUEUE_RECORDS, STALL_LIMIT,
};
pub use error::{Error, Result, Step};
pub use front::guard::WorkerGuard;
#[cfg(feature = "log")]
pub use front::log;
pub use front::shared_writer::SharedWriter;
#[cfg(feature = "tracing")]
pub use front::tracing;
pub use interruptible::Interruptible;
pub use inventory::{Inventory, SetFile};
pub use options::{
    Builder, Clock, SystemClock, DEFAULT_BACKUP_COUNT, DEFAULT_KEEP_FILE_OPEN, DEFAULT_MAX_BYTES,
};
pub use paths::{lock_path_for, Namer};
pub use schedule::{Schedule, When};
pub use sys::FileKind;
pub use trace::Trace;
pub use writer::LogWriter;
