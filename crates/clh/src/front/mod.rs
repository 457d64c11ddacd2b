//! Front ends for Rust's logging ecosystems: they turn an event of `tracing` or a
//! record of `log` into one record of a [`LogWriter`](crate::LogWriter) or a
//! [`BackgroundWriter`](crate::BackgroundWriter), whole, and never lose one silently.
//!
//! * `record.rs`: the one way a front end hands a record over (`Sink`), and what it
//!   does when a record cannot be written: counted, and announced in the log at the
//!   next record that can be (`concurrent_log_handler: N record(s) were not written:
//!   ...`, the background queue's notice).
//! * `shared_writer.rs`: [`SharedWriter`](crate::SharedWriter), either writer behind
//!   an `Arc`, cheap to clone: what front ends hold.
//! * `guard.rs`: [`WorkerGuard`](crate::WorkerGuard), which writes what a shared background writer has
//!   queued when it is dropped (for writers held by a global subscriber or logger,
//!   which are never dropped).
//! * `tracing.rs` (feature `tracing`): `tracing_subscriber::fmt::MakeWriter` for both
//!   writers; an event reaches the file as one record.
//! * `log.rs` (feature `log`): a `log::Log` of our own, and a pipe for env_logger's
//!   `Target::Pipe`.

pub(crate) mod guard;
#[cfg(feature = "log")]
pub mod log;
#[cfg(any(feature = "tracing", feature = "log"))]
mod record;
pub(crate) mod shared_writer;
#[cfg(feature = "tracing")]
pub mod tracing;
