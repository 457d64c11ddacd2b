//! Where a writer's traces go (CLH's `debug=True`: locking, rotation, recovery): a
//! sink the front end chooses. The library itself never prints.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// A sink for trace lines, or none (the default: tracing costs nothing then).
///
/// ```
/// let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
/// let seen = lines.clone();
/// let trace = clh::Trace::to(move |line: &str| seen.lock().unwrap().push(line.to_owned()));
/// # let dir = tempfile::tempdir()?;
/// let writer = clh::LogWriter::builder(dir.path().join("a.log"))
///     .max_bytes(1).backup_count(1).trace(trace).open()?;
/// writer.write(b"one\n")?;
/// writer.write(b"two\n")?;
/// assert!(lines.lock().unwrap().iter().any(|l| l.contains("backup")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct Trace(Option<Arc<Sink>>);

/// What a [`Trace`] calls with each line.
type Sink = dyn Fn(&str) + Send + Sync;

impl Trace {
    /// Send each trace line to `sink` (it must not log through this writer).
    pub fn to(sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Trace(Some(Arc::new(sink)))
    }

    /// Whether lines go anywhere.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// Trace `msg()` about `log` as `[clh <pid>] <log>: <msg>` (built only when on).
    pub(crate) fn line(&self, log: &Path, msg: impl FnOnce() -> String) {
        if let Some(sink) = &self.0 {
            sink(&format!(
                "[clh {}] {}: {}",
                std::process::id(),
                log.display(),
                msg()
            ));
        }
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_on() {
            "Trace(on)"
        } else {
            "Trace(off)"
        })
    }
}
