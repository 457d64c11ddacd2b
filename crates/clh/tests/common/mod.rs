//! Helpers shared by the integration tests: reading a whole log file set back.

#![allow(dead_code)]

use clh::LogWriter;
use flate2::read::GzDecoder;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Every file in `dir` with its (decompressed) content, by file name.
pub fn read_set(dir: &Path) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let raw = fs::read(entry.path()).unwrap();
        let data = if name.ends_with(".gz") {
            let mut d = Vec::new();
            GzDecoder::new(&raw[..])
                .read_to_end(&mut d)
                .unwrap_or_else(|e| panic!("{name} does not decompress: {e}"));
            d
        } else {
            raw
        };
        out.insert(name, data);
    }
    out
}

/// All lines of the log and its numbered backups, oldest first.
pub fn lines_in_order(dir: &Path, log_name: &str) -> Vec<String> {
    let set = read_set(dir);
    let mut backups: Vec<(u32, &Vec<u8>)> = set
        .iter()
        .filter_map(|(name, data)| {
            let rest = name.strip_prefix(log_name)?.strip_prefix('.')?;
            let n = rest.strip_suffix(".gz").unwrap_or(rest);
            Some((n.parse().ok()?, data))
        })
        .collect();
    backups.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    let mut lines = Vec::new();
    for (_, data) in backups
        .iter()
        .map(|(n, d)| (n, *d))
        .chain(set.get(log_name).map(|d| (&0, d)))
    {
        lines.extend(String::from_utf8_lossy(data).lines().map(str::to_owned));
    }
    lines
}

/// Names in `dir` that are not the log, its lock file or a numbered backup.
pub fn strays(dir: &Path, log_name: &str, lock_name: &str) -> Vec<String> {
    read_set(dir)
        .into_keys()
        .filter(|name| {
            if name == log_name || name == lock_name {
                return false;
            }
            let Some(rest) = name
                .strip_prefix(log_name)
                .and_then(|r| r.strip_prefix('.'))
            else {
                return true;
            };
            rest.strip_suffix(".gz")
                .unwrap_or(rest)
                .parse::<u32>()
                .is_err()
        })
        .collect()
}

/// Take the lock on the file now at `lock_path` through a descriptor of our own
/// (another open file description: it excludes a writer as another process would).
pub fn hold(lock_path: &Path) -> File {
    let f = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(lock_path)
        .unwrap();
    f.lock().unwrap();
    f
}

/// Write `record` with `writer` on a thread, let `held` go after 300 ms, and say
/// whether the write had finished before that.
pub fn written_while_held(writer: &Arc<LogWriter>, record: &'static [u8], held: File) -> bool {
    let writer = Arc::clone(writer);
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    let t = thread::spawn(move || {
        writer.write(record).unwrap();
        flag.store(true, Ordering::SeqCst);
    });
    thread::sleep(Duration::from_millis(300));
    let early = done.load(Ordering::SeqCst);
    held.unlock().unwrap();
    t.join().unwrap();
    early
}
