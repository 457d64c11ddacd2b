//! *What decides* a rotation, apart from *how* it is carried out (`rotation/`):
//! `size.rs` compares the log's size with the limit; `time.rs` keeps the schedule that
//! every process shares through the lock file. Triggers only look at what the writer
//! observes under the lock.

pub(crate) mod size;
pub(crate) mod time;

use jiff::Timestamp;

/// Why a rotation is due.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Due {
    /// The shared rollover time (which ends the period being rotated) has come.
    Time(Timestamp),
    /// The size limit was reached.
    Size,
    /// `rotate()` was called.
    Forced,
}
