//! `log` (feature `log`): two ways to send the `log` crate's records to a shared,
//! rotating file, each record as one record of the file.
//!
//! * [`Logger`], a `log::Log` of our own: a level filter and a simple format, one
//!   line per record: RFC 3339 time (UTC, microseconds), level, target, message
//!   (`2026-05-01T12:00:00.123456Z INFO  app::db: connected`); or a format of yours.
//! * [`Pipe`], for env_logger (filters from `RUST_LOG`, its formats):
//!   `env_logger::Target::Pipe(Box::new(clh::log::Pipe::new(writer)))`. Each `write`
//!   call on the pipe becomes one record. env_logger formats a record into a buffer
//!   of its own and writes it to its pipe with one `write_all` (then `flush`),
//!   holding the pipe's mutex (env_logger 0.11, `writer/buffer.rs`,
//!   `BufferWriter::print`); `write_all` calls `write` once, since the pipe takes
//!   every byte it is given.
//!
//! Both write to a [`SharedWriter`](crate::SharedWriter): a
//! [`LogWriter`](crate::LogWriter) (each record written with one `write()` under the
//! lock) or a [`BackgroundWriter`](crate::BackgroundWriter) (queued; keep the
//! [`WorkerGuard`](crate::WorkerGuard) of
//! [`BackgroundWriter::with_guard`](crate::BackgroundWriter::with_guard) in `main`,
//! since a global logger is never dropped: dropping the guard writes what is queued).
//! `log` has no way to return an error: a record that cannot be written is counted
//! and announced in the log by the next one written there
//! (`concurrent_log_handler: N record(s) were not written: ...`).
//!
//! ```no_run
//! let writer = clh::LogWriter::builder("/var/log/app/app.log")
//!     .max_bytes(10 << 20)
//!     .backup_count(5)
//!     .use_gzip(true)
//!     .open()?;
//! let (background, _guard) =
//!     clh::BackgroundWriter::new(writer, clh::QueueOptions::default())?.with_guard();
//! clh::log::Logger::new(background).level(log::LevelFilter::Info).init()?;
//! log::info!("started");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::front::shared_writer::SharedWriter;
use ::log::{LevelFilter, Log, Metadata, Record, SetLoggerError};
use std::cell::RefCell;
use std::fmt;
use std::io::{self, Write as _};

/// A record formatter: append one record, its terminator included, to the buffer.
type FormatFn = dyn Fn(&mut Vec<u8>, &Record<'_>) -> io::Result<()> + Send + Sync;

/// A `log::Log` that writes each record enabled by its level filter as one record
/// of the file ([`default_format`] unless [`format`](Logger::format) says otherwise).
///
/// ```
/// use log::Log;
/// # let dir = tempfile::tempdir()?;
/// let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
/// let logger = clh::log::Logger::new(writer).level(log::LevelFilter::Info);
/// // `logger.init()` installs it; here it is called directly.
/// let args = format_args!("connected");
/// logger.log(&log::Record::builder().level(log::Level::Info).target("app::db").args(args).build());
/// let args = format_args!("not written");
/// logger.log(&log::Record::builder().level(log::Level::Debug).args(args).build());
/// let text = std::fs::read_to_string(dir.path().join("app.log"))?;
/// assert!(text.ends_with("Z INFO  app::db: connected\n"), "{text}");
/// assert_eq!(text.lines().count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Logger {
    output: SharedWriter,
    level: LevelFilter,
    format: Option<Box<FormatFn>>,
}

impl Logger {
    /// Log to `output` (a [`SharedWriter`], or either writer, owned or in an `Arc`), records up to [`LevelFilter::Info`] by default.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let logger = clh::log::Logger::new(writer);
    /// assert_eq!(logger.max_level(), log::LevelFilter::Info);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(output: impl Into<SharedWriter>) -> Self {
        Logger {
            output: output.into(),
            level: LevelFilter::Info,
            format: None,
        }
    }

    /// Write records of this level and more severe ones only.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let logger = clh::log::Logger::new(writer).level(log::LevelFilter::Debug);
    /// assert_eq!(logger.max_level(), log::LevelFilter::Debug);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn level(mut self, level: LevelFilter) -> Self {
        self.level = level;
        self
    }

    /// Format records with `format` instead of [`default_format`]: it appends one
    /// record, its terminator included, to the buffer (which it finds empty). A
    /// record it fails to format is counted and announced as not written.
    ///
    /// ```
    /// use log::Log;
    /// use std::io::Write;
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let pid = std::process::id();
    /// let logger = clh::log::Logger::new(writer).format(move |buf, record| {
    ///     writeln!(buf, "[{pid}] {} {}", record.level(), record.args())
    /// });
    /// logger.log(&log::Record::builder().args(format_args!("hello")).build());
    /// let text = std::fs::read_to_string(dir.path().join("app.log"))?;
    /// assert_eq!(text, format!("[{pid}] INFO hello\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn format(
        mut self,
        format: impl Fn(&mut Vec<u8>, &Record<'_>) -> io::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.format = Some(Box::new(format));
        self
    }

    /// The level filter.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let logger = clh::log::Logger::new(writer).level(log::LevelFilter::Warn);
    /// assert_eq!(logger.max_level(), log::LevelFilter::Warn);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_level(&self) -> LevelFilter {
        self.level
    }

    /// Where records go.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let logger = clh::log::Logger::new(writer);
    /// assert!(matches!(logger.output(), clh::SharedWriter::Sync(_)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn output(&self) -> &SharedWriter {
        &self.output
    }

    /// Install this logger for the process (`log::set_boxed_logger`) and set
    /// `log::max_level` to its filter. Fails if a logger is installed already.
    ///
    /// ```no_run
    /// let writer = clh::LogWriter::builder("/var/log/app/app.log").open()?;
    /// clh::log::Logger::new(writer).init()?;
    /// log::warn!("disk at 91%");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn init(self) -> Result<(), SetLoggerError> {
        let level = self.level;
        ::log::set_boxed_logger(Box::new(self))?;
        ::log::set_max_level(level);
        Ok(())
    }

    fn write(&self, buf: &mut Vec<u8>, record: &Record<'_>) {
        let sink = self.output.sink();
        let formatted = match &self.format {
            Some(format) => format(buf, record),
            None => default_format(buf, record),
        };
        match formatted {
            Ok(()) => {
                // A failure is remembered and announced by the sink.
                let _ = sink.write(buf);
            }
            Err(e) => sink.lost(|| format!("formatting a record failed: {e}")),
        }
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    /// Format the record into a buffer of this thread's and write it as one record.
    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        thread_local! {
            static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        }
        // A logger called while formatting (a `Display` that logs) gets a fresh buffer.
        let reused = BUF.try_with(|buf| match buf.try_borrow_mut() {
            Ok(mut buf) => {
                buf.clear();
                self.write(&mut buf, record);
                true
            }
            Err(_) => false,
        });
        if reused != Ok(true) {
            self.write(&mut Vec::new(), record);
        }
    }

    /// Wait until what was handed to a background writer is written.
    fn flush(&self) {
        let _ = self.output.flush();
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("output", &self.output)
            .field("level", &self.level)
            .field(
                "format",
                &self.format.as_ref().map_or("default", |_| "custom"),
            )
            .finish()
    }
}

/// [`Logger`]'s default format: RFC 3339 time (UTC, microseconds), level (padded to
/// 5), target, message, newline.
///
/// ```
/// let mut buf = Vec::new();
/// let args = format_args!("connected");
/// let record = log::Record::builder().level(log::Level::Warn).target("app::db").args(args).build();
/// clh::log::default_format(&mut buf, &record)?;
/// let line = String::from_utf8(buf)?;
/// let (time, rest) = line.split_once(' ').unwrap();
/// assert!(time.parse::<jiff::Timestamp>().is_ok());
/// assert_eq!(rest, "WARN  app::db: connected\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn default_format(buf: &mut Vec<u8>, record: &Record<'_>) -> io::Result<()> {
    writeln!(
        buf,
        "{:.6} {:<5} {}: {}",
        jiff::Timestamp::now(),
        record.level(),
        record.target(),
        record.args()
    )
}

/// An `io::Write` for env_logger's `Target::Pipe` (or any writer that hands over one
/// whole record per `write` call): each `write` becomes one record. `flush` does
/// nothing, since every record is handed over by its `write` (to wait for a
/// background writer, use [`SharedWriter::flush`] or its guard).
///
/// ```
/// use log::Log;
/// # let dir = tempfile::tempdir()?;
/// let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
/// let logger = env_logger::Builder::new()
///     .target(env_logger::Target::Pipe(Box::new(clh::log::Pipe::new(writer))))
///     .filter_level(log::LevelFilter::Info)
///     .build(); // `.init()` installs it; here it is called directly.
/// logger.log(&log::Record::builder().args(format_args!("through env_logger")).build());
/// let text = std::fs::read_to_string(dir.path().join("app.log"))?;
/// assert!(text.ends_with("through env_logger\n"), "{text}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pipe {
    output: SharedWriter,
}

impl Pipe {
    /// A pipe to `output` (a [`SharedWriter`], or either writer, owned or in an `Arc`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let pipe = clh::log::Pipe::new(std::sync::Arc::new(writer));
    /// assert!(matches!(pipe.output(), clh::SharedWriter::Sync(_)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(output: impl Into<SharedWriter>) -> Self {
        Pipe {
            output: output.into(),
        }
    }

    /// Where records go.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = clh::LogWriter::builder(dir.path().join("app.log")).open()?;
    /// let pipe = clh::log::Pipe::new(writer);
    /// assert!(pipe.output().flush().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn output(&self) -> &SharedWriter {
        &self.output
    }
}

impl io::Write for Pipe {
    /// Write `buf` as one record (a background writer queues it). A failure is
    /// returned, and also announced in the log by the next record written there.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.output.sink().write(buf)?;
        Ok(buf.len())
    }

    /// Nothing to do: every record was handed over by its `write`.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
