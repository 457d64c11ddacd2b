//! Many processes appending to one log file safely, with rotation.
//!
//! `clh` is the core of `concurrent-log-handler-rs`. A [`LogWriter`] appends records
//! to a log that any number of threads and processes share, and rotates it by size,
//! speaking the on-disk protocol of the Python package concurrent-log-handler 0.9.31
//! (same lock file, same exclusive `flock`, same backup names), so processes using
//! either can share one file.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let writer = clh::LogWriter::builder(dir.path().join("app.log"))
//!     .max_bytes(1024 * 1024)
//!     .backup_count(5)
//!     .gzip(true)
//!     .open()?;
//! writer.write(b"service started\n")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Modules, each with one job: `trigger` (what decides a rotation), `rotation` (how it
//! is carried out, and crash recovery), `compress` (gzip), `lock` (the cross-process
//! lock), `writer` (the write path and fork handling), `options` (the builder),
//! `paths` (file names), `sys` (platform code) and `error`.
#![deny(missing_docs)]

mod background;
mod compress;
mod error;
mod fork;
mod lock;
mod options;
mod paths;
mod rotation;
mod schedule;
mod sys;
mod trigger;
mod writer;

pub use background::{BackgroundWriter, Overflow, QueueOptions, CLOSE_GRACE, STALL_LIMIT};
pub use error::{Error, Result, Step};
pub use options::{Builder, Clock, SystemClock};
pub use paths::{lock_path_for, Namer};
pub use schedule::{Schedule, When};
pub use sys::FileKind;
pub use writer::{Interruptible, LogWriter};
