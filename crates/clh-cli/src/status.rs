//! `clh status`: a log set's files, its lock's holders and waiters, pending work, and
//! the next time rotation, read without taking the lock.

use crate::cli::StatusArgs;
use crate::input::is_closed_pipe;
use crate::{report, EXIT_FAILURE, EXIT_OK};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write as _};
use std::path::Path;

/// `clh status`: returns the exit code.
pub fn run(args: &StatusArgs) -> i32 {
    let set = match clh::Inventory::of(&args.path, args.lock_dir.as_deref()) {
        Ok(set) => set,
        Err(e) => {
            report("status", e);
            return EXIT_FAILURE;
        }
    };
    let locks = Locks::read();
    let text = render(&args.path, &set, &locks, jiff::Timestamp::now());
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => EXIT_OK,
        Err(e) if is_closed_pipe(&e) => EXIT_OK,
        Err(e) => {
            report("status", format_args!("writing standard output: {e}"));
            EXIT_FAILURE
        }
    }
}

/// Label column width.
const W: usize = 14;

fn render(path: &Path, set: &clh::Inventory, locks: &Locks, now: jiff::Timestamp) -> String {
    let mut s = String::new();
    let log = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let _ = writeln!(s, "{:W$}{}", "log", log.display());
    let _ = writeln!(s, "{:W$}{}", "lock file", set.lock_path.display());

    // Files.
    let total: u64 = set.files.iter().map(|f| f.size).sum();
    if set.files.is_empty() {
        let _ = writeln!(s, "{:W$}none yet", "files");
    } else {
        let _ = writeln!(
            s,
            "{:W$}{} (oldest first), {} on disk",
            "files",
            set.files.len(),
            human(total)
        );
        let width = set
            .files
            .iter()
            .map(|f| f.size.to_string().len())
            .max()
            .unwrap_or(1);
        let name_width = set
            .files
            .iter()
            .map(|f| name(&f.path).len())
            .max()
            .unwrap_or(1);
        for f in &set.files {
            let note = if f.live {
                "live log".to_owned()
            } else if f.gz {
                match gzip_size(&f.path) {
                    Some(n) => format!("gzip, {} before compression", human(n)),
                    None => "gzip".to_owned(),
                }
            } else {
                "not compressed".to_owned()
            };
            let _ = writeln!(
                s,
                "{:W$}{:>width$}  {:>9}  {:name_width$}  {note}",
                "",
                f.size,
                human(f.size),
                name(&f.path)
            );
        }
    }

    // The lock.
    let lock = lock_state(&set.lock_path, locks);
    let _ = writeln!(s, "{:W$}{}", "lock", lock.summary);
    if !lock.waiters.is_empty() {
        let _ = writeln!(s, "{:W$}{}", "waiting", lock.waiters.join(", "));
    }

    // Pending work.
    if set.pending.is_empty() {
        let _ = writeln!(s, "{:W$}none", "pending");
    } else {
        for (i, p) in set.pending.iter().enumerate() {
            let label = if i == 0 { "pending" } else { "" };
            let _ = writeln!(s, "{label:W$}{}: {}", name(p), pending_note(path, p, locks));
        }
    }

    // The next time rotation.
    let _ = writeln!(
        s,
        "{:W$}{}",
        "next rotation",
        next_rotation(set.lock_content.as_deref(), now)
    );
    s
}

fn name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Bytes, in the largest binary unit that keeps the number at least 1.
fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The uncompressed size a gzip file's trailer records (modulo 4 GiB, as gzip's).
fn gzip_size(path: &Path) -> Option<u64> {
    let mut file = File::open(path).ok()?;
    if file.metadata().ok()?.len() < 18 {
        return None;
    }
    file.seek(SeekFrom::End(-4)).ok()?;
    let mut isize = [0u8; 4];
    file.read_exact(&mut isize).ok()?;
    Some(u64::from(u32::from_le_bytes(isize)))
}

/// What the lock file and the lock are like.
struct LockState {
    summary: String,
    waiters: Vec<String>,
}

fn lock_state(lock_path: &Path, locks: &Locks) -> LockState {
    let waiters = Vec::new();
    let meta = match fs::symlink_metadata(lock_path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return LockState {
                summary: "no lock file (no writer has run yet, or it was removed)".into(),
                waiters,
            }
        }
        Err(e) => {
            return LockState {
                summary: format!("cannot look at the lock file: {e}"),
                waiters,
            }
        }
    };
    if !meta.is_file() {
        return LockState {
            summary: "the lock file is not a regular file: writers refuse it".into(),
            waiters,
        };
    }
    match locks.on(&meta) {
        Some(entries) => {
            let holders: Vec<String> = entries.iter().filter(|e| !e.waiting).map(process).collect();
            let waiters = entries.iter().filter(|e| e.waiting).map(process).collect();
            let summary = if holders.is_empty() {
                "free".to_owned()
            } else {
                format!("held by {}", holders.join(", "))
            };
            LockState { summary, waiters }
        }
        None => LockState {
            summary: try_lock(lock_path),
            waiters,
        },
    }
}

/// Without `/proc/locks`: whether the lock is free, by trying it (and letting go at
/// once). Who holds it is not known there.
fn try_lock(lock_path: &Path) -> String {
    let Ok(file) = File::open(lock_path) else {
        return "unknown (the lock file cannot be opened)".into();
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = file.unlock();
            "free".into()
        }
        Err(fs::TryLockError::WouldBlock) => {
            "held by another process (which one is shown on Linux only)".into()
        }
        Err(fs::TryLockError::Error(e)) => format!("unknown ({e})"),
    }
}

/// `pid 4242 (gunicorn)`.
fn process(entry: &crate::proclocks::Entry) -> String {
    if entry.pid <= 0 {
        return "a process (pid unknown)".into();
    }
    let comm = fs::read_to_string(format!("/proc/{}/comm", entry.pid)).ok();
    match comm.as_deref().map(str::trim) {
        Some(comm) if !comm.is_empty() => format!("pid {} ({comm})", entry.pid),
        _ => format!("pid {}", entry.pid),
    }
}

/// Why a file is pending, and what the next writer does with it.
fn pending_note(log: &Path, pending: &Path, locks: &Locks) -> String {
    let file_name = name(pending);
    let log_name = name(log);
    if file_name.starts_with(".__clh-") {
        let what = if file_name.contains(".gz.") {
            "compression"
        } else {
            "new file"
        };
        let held = fs::symlink_metadata(pending)
            .ok()
            .and_then(|meta| locks.on(&meta))
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| !e.waiting)
                    .map(process)
                    .collect::<Vec<_>>()
            });
        return match held {
            Some(holders) if !holders.is_empty() => {
                format!("temporary of a {what} in progress ({})", holders.join(", "))
            }
            Some(_) => format!(
                "temporary of a {what} that a writer left when it died: the next writer removes it"
            ),
            None => format!(
                "temporary of a {what} (in progress, or left by a writer that died: then the next writer removes it)"
            ),
        };
    }
    if file_name.starts_with(&format!("{log_name}.rotate.")) {
        return "a rotation that a killed CLH process left half done: the next writer moves it into the backups".into();
    }
    "not compressed yet, beside gzipped backups: a writer with gzip on compresses it".into()
}

/// The lock file's content shown as a time.
fn next_rotation(content: Option<&str>, now: jiff::Timestamp) -> String {
    let text = content.map(str::trim).unwrap_or("");
    if text.is_empty() {
        return "none stored (the log is rotated by size only, or no timed writer has run yet)"
            .into();
    }
    let seconds = text
        .parse::<i64>()
        .ok()
        .or_else(|| text.parse::<f64>().ok().map(|f| f as i64));
    let Some(at) = seconds.and_then(|s| jiff::Timestamp::from_second(s).ok()) else {
        return format!(
            "the lock file holds {text:?}, not a time: the next timed writer recomputes it"
        );
    };
    let local = at
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    let delta = at.as_second() - now.as_second();
    let when = if delta >= 0 {
        format!("in {}", duration(delta))
    } else {
        format!("{} ago: the next write rotates", duration(-delta))
    };
    format!("{local} ({when}; lock file content {text})")
}

/// `2d 3h`, `3h 5m`, `5m 2s`, `42s`.
fn duration(seconds: i64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// The system's table of file locks, where there is one (Linux).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
struct Locks(Option<Vec<crate::proclocks::Entry>>);

impl Locks {
    fn read() -> Self {
        if cfg!(target_os = "linux") {
            Locks(
                fs::read_to_string("/proc/locks")
                    .ok()
                    .map(|text| crate::proclocks::parse(&text)),
            )
        } else {
            Locks(None)
        }
    }

    /// The `flock` entries on this file, if the table is known.
    #[cfg(target_os = "linux")]
    fn on(&self, meta: &fs::Metadata) -> Option<Vec<crate::proclocks::Entry>> {
        use std::os::unix::fs::MetadataExt;
        let entries = self.0.as_ref()?;
        let dev = meta.dev();
        Some(crate::proclocks::flocks_on(
            entries,
            libc::major(dev),
            libc::minor(dev),
            meta.ino(),
        ))
    }

    #[cfg(not(target_os = "linux"))]
    fn on(&self, _meta: &fs::Metadata) -> Option<Vec<crate::proclocks::Entry>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(10 << 20), "10.0 MiB");
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(302), "5m 2s");
        assert_eq!(duration(3 * 3600 + 300), "3h 5m");
        assert_eq!(duration(2 * 86_400 + 3 * 3600), "2d 3h");
    }

    #[test]
    fn the_next_rotation_comes_from_the_lock_file() {
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        assert!(next_rotation(None, now).starts_with("none stored"));
        assert!(next_rotation(Some(""), now).starts_with("none stored"));
        let shown = next_rotation(Some("1800003600\n"), now);
        assert!(
            shown.contains("(in 1h 0m; lock file content 1800003600)"),
            "{shown}"
        );
        let utc = jiff::Timestamp::from_second(1_800_003_600).unwrap();
        let local = utc.to_zoned_datetime(jiff::tz::TimeZone::system());
        assert!(shown.starts_with(&local.strftime("%Y-%m-%dT%H:%M:%S").to_string()));
        assert!(next_rotation(Some("1799999990"), now).contains("10s ago"));
        assert!(next_rotation(Some("soon"), now).contains("not a time"));
    }
}
