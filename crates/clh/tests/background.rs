//! The background writer: queueing, group commit, flush, overflow, errors, exit.

mod common;

use clh::{BackgroundWriter, LogWriter, Overflow, QueueOptions};
use common::lines_in_order;
use std::fs;
use std::sync::Arc;
use std::thread;

/// Queue options with these bounds (the struct is `#[non_exhaustive]`).
fn queue(records: usize, bytes: usize, overflow: Overflow) -> QueueOptions {
    let mut opts = QueueOptions::default();
    opts.queue_records = records;
    opts.queue_bytes = bytes;
    opts.queue_overflow = overflow;
    opts
}

fn background(path: &std::path::Path, opts: QueueOptions) -> BackgroundWriter {
    let w = LogWriter::builder(path)
        .max_bytes(4096)
        .backup_count(1000)
        .use_gzip(true)
        .open()
        .unwrap();
    BackgroundWriter::new(w, opts).unwrap()
}

#[test]
fn threads_through_the_queue_lose_nothing_and_rotate_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let bg = Arc::new(background(
        &log,
        queue(64, clh::DEFAULT_QUEUE_BYTES, Overflow::Block),
    ));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let bg = Arc::clone(&bg);
            thread::spawn(move || {
                for i in 0..3000 {
                    bg.write(format!("t{t}-{i:04} {}\n", "y".repeat(i % 90)).as_bytes())
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    bg.close().unwrap();
    let lines = lines_in_order(dir.path(), "app.log");
    assert_eq!(lines.len(), 12_000);
    let mut seen: Vec<_> = lines
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 12_000, "duplicates");
    // Per thread, order is kept.
    for t in 0..4 {
        let mine: Vec<_> = lines
            .iter()
            .filter(|l| l.starts_with(&format!("t{t}-")))
            .collect();
        assert!(mine.windows(2).all(|w| w[0] < w[1]));
    }
    // Size limits hold inside batches: every backup but ones holding one big batch tail
    // is at most max_bytes plus one record.
    for (name, data) in common::read_set(dir.path()) {
        if name.ends_with(".gz") {
            assert!(data.len() <= 4096 + 120, "{name} has {} bytes", data.len());
        }
    }
}

#[test]
fn flush_waits_for_everything_queued_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let bg = background(&log, QueueOptions::default());
    for i in 0..500 {
        bg.write(format!("{i}\n").as_bytes()).unwrap();
    }
    bg.flush().unwrap();
    assert_eq!(lines_in_order(dir.path(), "app.log").len(), 500);
}

#[test]
fn drop_policy_counts_exactly_and_says_so_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    // Hold the cross-process lock so the writer thread cannot drain: the queue fills.
    let lock = fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.path().join(".__app.lock"))
        .unwrap();
    lock.lock().unwrap();
    let opts = queue(10, 1 << 20, Overflow::Drop);
    let bg = background(&log, opts);
    // The thread takes the first record and blocks on the lock; 10 more fill the queue.
    bg.write(b"first\n").unwrap();
    while bg.try_write(b"probe\n").unwrap() && bg.dropped_records() == 0 {
        // wait until the thread has taken "first" and the queue holds 10
    }
    let before = bg.dropped_records();
    for _ in 0..25 {
        bg.write(b"dropped\n").unwrap();
    }
    assert_eq!(bg.dropped_records(), before + 25);
    lock.unlock().unwrap();
    bg.flush().unwrap();
    bg.write(b"after\n").unwrap();
    bg.close().unwrap();
    let text = fs::read_to_string(&log).unwrap();
    assert!(!text.contains("dropped\n"), "a dropped record was written");
    let notice = format!(
        "{} record(s) were not written: the background queue was full\n",
        before + 25
    );
    assert!(text.contains(&notice), "no drop notice in {text:?}");
    assert!(text.ends_with("after\n"));
}

#[test]
fn errors_of_the_thread_reach_the_caller_and_it_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("logs");
    fs::create_dir(&sub).unwrap();
    let w = LogWriter::builder(sub.join("app.log"))
        .keep_file_open(false)
        .open()
        .unwrap();
    let bg = BackgroundWriter::new(w, QueueOptions::default()).unwrap();
    bg.write(b"before\n").unwrap();
    bg.flush().unwrap();
    fs::remove_dir_all(&sub).unwrap();
    bg.write(b"no directory\n").unwrap();
    let err = bg.flush().unwrap_err();
    assert!(err.to_string().contains("background writer"), "{err}");
    assert!(err.to_string().contains("logs"), "{err}");
    fs::create_dir(&sub).unwrap();
    bg.write(b"after\n").unwrap();
    // A retry that was already under way when the directory came back may still fail.
    let flushed = (0..20).any(|_| bg.flush().is_ok());
    assert!(flushed, "writing did not resume");
    // The record that could not be written was kept and retried, not lost.
    assert_eq!(
        fs::read(sub.join("app.log")).unwrap(),
        b"no directory\nafter\n"
    );
}

#[test]
fn dropping_the_writer_writes_what_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    {
        let bg = background(&log, QueueOptions::default());
        for i in 0..2000 {
            bg.write(format!("{i}\n").as_bytes()).unwrap();
        }
    }
    assert_eq!(lines_in_order(dir.path(), "app.log").len(), 2000);
}

#[test]
fn zero_bounds_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let w = LogWriter::builder(dir.path().join("a.log")).open().unwrap();
    let err = BackgroundWriter::new(w, queue(10, 0, Overflow::Block)).unwrap_err();
    assert!(err.to_string().contains("queue_bytes"), "{err}");
}
