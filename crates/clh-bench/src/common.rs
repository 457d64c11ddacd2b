//! What both benchmarks share: reading a log set back (`.gz` included) and counting
//! distinct records, medians, the host's description, markdown tables.

use flate2::read::MultiGzDecoder;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// 10 MiB, the rotation size of every benchmark.
pub const MAX_BYTES: u64 = 10 << 20;

/// Which records were seen: one bit per (writer, sequence number).
pub struct Tally {
    per_writer: u64,
    seen: Vec<u64>,
    /// Records seen more than once.
    pub duplicates: u64,
    /// Lines that are not a whole record (torn, cut, mixed), or name a record that
    /// was never written.
    pub garbled: u64,
}

impl Tally {
    /// Room for `writers` writers of `per_writer` records each.
    pub fn new(writers: u64, per_writer: u64) -> Self {
        let bits = writers * per_writer;
        Tally {
            per_writer,
            seen: vec![0; bits.div_ceil(64) as usize],
            duplicates: 0,
            garbled: 0,
        }
    }

    /// Record `seq` of writer `writer` was read.
    pub fn mark(&mut self, writer: u64, seq: u64) {
        let bit = writer * self.per_writer + seq;
        if seq >= self.per_writer || bit / 64 >= self.seen.len() as u64 {
            self.garbled += 1;
            return;
        }
        let (word, mask) = ((bit / 64) as usize, 1u64 << (bit % 64));
        if self.seen[word] & mask != 0 {
            self.duplicates += 1;
        } else {
            self.seen[word] |= mask;
        }
    }

    /// How many distinct records were read.
    pub fn distinct(&self) -> u64 {
        self.seen.iter().map(|w| u64::from(w.count_ones())).sum()
    }
}

/// Names in a log directory that are bookkeeping, not log content: our lock files
/// (`.__*`), multilog's and svlogd's `lock`, `state`, `newstate`, svlogd's `config`.
fn is_bookkeeping(name: &str) -> bool {
    name.starts_with(".__") || matches!(name, "lock" | "state" | "newstate" | "config")
}

/// Every log file under `dir` (recursively), sorted by name.
pub fn log_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() && !is_bookkeeping(&name) {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Call `line` with every line (without its `\n`; a last line without one is given
/// too) of every log file under `dir`, `.gz` files decompressed.
pub fn for_each_line(dir: &Path, mut line: impl FnMut(&[u8])) -> io::Result<()> {
    for path in log_files(dir)? {
        let file = File::open(&path)?;
        let gz = path.extension().is_some_and(|e| e == "gz");
        let reader: Box<dyn Read> = if gz {
            Box::new(MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        let mut reader = BufReader::with_capacity(1 << 20, reader);
        let mut buf = Vec::with_capacity(256);
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            line(&buf);
        }
    }
    Ok(())
}

/// The decimal number `digits` is made of, if it is one (no sign, no blank).
pub fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0')),
    )
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `1.23 M/s`, `456 k/s`.
pub fn rate(per_s: f64) -> String {
    if !per_s.is_finite() {
        "-".into()
    } else if per_s >= 1e6 {
        format!("{:.2} M/s", per_s / 1e6)
    } else {
        format!("{:.0} k/s", per_s / 1e3)
    }
}

/// `1.05×`, or `-` without a reference.
pub fn ratio(ours: f64, reference: f64) -> String {
    if ours.is_finite() && reference.is_finite() && reference > 0.0 {
        format!("{:.2}×", ours / reference)
    } else {
        "-".into()
    }
}

/// `1.23 s`.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// A markdown table, columns padded to their widest cell.
pub fn markdown_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(cols) {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c}{}", " ".repeat(width[i] - c.chars().count())))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(header.iter().map(|h| (*h).to_string()).collect());
    out.push_str(&line(width.iter().map(|w| "-".repeat(*w)).collect()));
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

/// The file system type `path` is on (from /proc/self/mounts: the longest mount
/// point that contains it), e.g. `ext4 (/)`.
pub fn fs_type(path: &Path) -> String {
    let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut best: Option<(usize, String)> = None;
    for m in mounts.lines() {
        let mut f = m.split_whitespace();
        let (Some(_dev), Some(point), Some(kind)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let point = point.replace("\\040", " ");
        if path.starts_with(&point) && best.as_ref().is_none_or(|(len, _)| point.len() > *len) {
            best = Some((point.len(), format!("{kind} (mounted at {point})")));
        }
    }
    best.map_or_else(|| "unknown".into(), |(_, s)| s)
}

/// The 1-minute load average.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// The closing line of a section: the file system under `base`, the load before (as
/// read when the section started) and now, and how long the section took.
pub fn conditions_line(base: &Path, load_before: &str, took: Duration) -> String {
    format!(
        "\nRuns under {} (load average {} before, {} after; {} in all).\n",
        fs_type(base),
        load_before,
        load_average(),
        secs(took)
    )
}

/// One line saying where this ran: CPUs, kernel, commit, date.
pub fn host_line() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let run = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    let commit = run("git", &["rev-parse", "--short", "HEAD"]);
    let date = run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    format!("{date}; {cpus} CPUs, Linux {kernel}; commit {commit}")
}

/// A fresh, empty directory `name` under `base` (removed first if it exists).
pub fn fresh_dir(base: &Path, name: &str) -> io::Result<PathBuf> {
    let dir = base.join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The path of program `name` on `PATH`, if it is there.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
