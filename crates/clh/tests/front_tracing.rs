//! The `tracing` front end with the real tracing-subscriber fmt layer: processes
//! (this test binary, re-executed) sharing one log with rotation and gzip, through
//! both writers; every event one whole record, none lost; the guard writing what is
//! queued; the drop policy counted and announced; an event handed over in pieces;
//! a record that could not be written announced by the next.

#![allow(clippy::print_stdout)] // the multi-process tests print what they found

mod frames;

use clh::{BackgroundWriter, LogWriter, Overflow, QueueOptions, SharedWriter};
use frames::{
    assert_complete, assert_fleet, assert_loss_announced, message, parse, run_children, set_text,
    CHILD,
};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::thread;
use std::time::Duration;
use tracing::Dispatch;
use tracing_subscriber::fmt::MakeWriter;

const PROCESSES: usize = 4;
const THREADS: usize = 2;
const EVENTS: u32 = 1_500;

fn open(log: &Path) -> LogWriter {
    LogWriter::builder(log)
        .max_bytes(64 * 1024)
        .backup_count(1000)
        .use_gzip(true)
        .open()
        .unwrap()
}

fn queue(records: usize, overflow: Overflow) -> QueueOptions {
    let mut opts = QueueOptions::default();
    opts.queue_records = records;
    opts.queue_overflow = overflow;
    opts
}

fn dispatch(writer: SharedWriter) -> Dispatch {
    Dispatch::new(tracing_subscriber::fmt().with_writer(writer).finish())
}

/// Emit the framed events of writers `<child>.<thread>` from `THREADS` threads.
fn emit_events(child: usize) {
    thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                let id = format!("{child}.{t}");
                for i in 0..EVENTS {
                    tracing::info!("{}", message(&id, i));
                }
            });
        }
    });
}

#[test]
#[ignore = "a child process of processes_share_one_log_every_event_whole_none_lost"]
fn child_logs_framed_events() {
    let Ok(spec) = std::env::var(CHILD) else {
        return; // run by hand: nothing to do
    };
    let (log, rest) = spec.split_once('|').unwrap();
    let (child, mode) = rest.split_once('|').unwrap();
    let child: usize = child.parse().unwrap();
    let writer = open(Path::new(log));
    // A global subscriber, as an application has: it is never dropped.
    if mode == "background" {
        let (shared, guard) = BackgroundWriter::new(writer, QueueOptions::default())
            .unwrap()
            .with_guard();
        tracing::dispatcher::set_global_default(dispatch(shared)).unwrap();
        emit_events(child);
        guard.finish().unwrap();
    } else {
        let shared = SharedWriter::from(writer);
        tracing::dispatcher::set_global_default(dispatch(shared.clone())).unwrap();
        emit_events(child);
        shared.writer().close().unwrap(); // this process's compressions
    }
}

#[test]
fn processes_share_one_log_every_event_whole_none_lost() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let specs: Vec<String> = (0..PROCESSES)
        .map(|n| {
            let mode = if n % 2 == 0 { "sync" } else { "background" };
            format!("{}|{n}|{mode}", log.display())
        })
        .collect();
    run_children("child_logs_framed_events", &specs);

    assert_fleet(&log, PROCESSES, THREADS, EVENTS);
}

#[test]
fn dropping_the_guard_writes_what_is_queued() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    // Hold the cross-process lock: the events wait in the queue.
    let lock = fs::File::create(dir.path().join(".__app.lock")).unwrap();
    lock.lock().unwrap();
    let (shared, guard) = BackgroundWriter::new(open(&log), QueueOptions::default())
        .unwrap()
        .with_guard();
    let dispatch = dispatch(shared);
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..1000 {
            tracing::info!("{}", message("g", i));
        }
    });
    assert!(!log.exists() || fs::read(&log).unwrap().is_empty());
    let release = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        lock.unlock().unwrap();
    });
    drop(guard); // waits for the lock, then writes all
                 // The subscriber still holds the writer: the guard wrote them.
    let parsed = parse(&set_text(&log).0);
    assert_complete(&parsed, &["g".to_owned()], 1000);
    release.join().unwrap();
    drop(dispatch);
}

#[test]
fn the_drop_policy_counts_and_the_log_says_how_many() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lock = fs::File::create(dir.path().join(".__app.lock")).unwrap();
    lock.lock().unwrap();
    let (shared, guard) = BackgroundWriter::new(open(&log), queue(10, Overflow::Drop))
        .unwrap()
        .with_guard();
    let dispatch = dispatch(shared);
    let mut emitted = 0;
    tracing::dispatcher::with_default(&dispatch, || {
        // The thread takes what is queued and waits for the lock; the queue fills.
        while guard.dropped_records() == 0 {
            tracing::info!("{}", message("d", emitted));
            emitted += 1;
            assert!(emitted < 100_000, "the queue never filled");
        }
        for _ in 0..25 {
            tracing::info!("{}", message("d", emitted));
            emitted += 1;
        }
    });
    let dropped = guard.dropped_records();
    assert!(dropped >= 26, "{dropped} dropped");
    lock.unlock().unwrap();
    guard.writer().flush().unwrap(); // room again
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("after"));
    assert_eq!(guard.dropped_records(), dropped);
    guard.finish().unwrap();

    let text = fs::read_to_string(&log).unwrap();
    let parsed = parse(&text);
    assert_eq!(parsed.records.len() as u64 + dropped, u64::from(emitted));
    let notice = format!(
        "concurrent_log_handler: {dropped} record(s) were not written: the background queue was full"
    );
    assert_eq!(parsed.others.len(), 2, "{:?}", parsed.others);
    assert_eq!(parsed.others[0], notice);
    assert!(parsed.others[1].ends_with(" after"), "{:?}", parsed.others);
    drop(dispatch);
}

#[test]
fn an_event_handed_over_in_pieces_is_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let sync = open(&log);
    let background = BackgroundWriter::new(open(&log), QueueOptions::default()).unwrap();
    thread::scope(|s| {
        for t in 0..8 {
            let (sync, background) = (&sync, &background);
            s.spawn(move || {
                let id = format!("p{t}");
                for i in 0..300 {
                    let mut w = if t % 2 == 0 {
                        sync.make_writer()
                    } else {
                        background.make_writer()
                    };
                    // Byte by byte for some, a few pieces for the others.
                    let text = format!("{}\n", message(&id, i));
                    let piece = if i % 50 == 0 { 1 } else { 16 };
                    for chunk in text.as_bytes().chunks(piece) {
                        w.write_all(chunk).unwrap();
                        thread::yield_now();
                    }
                    if i % 2 == 0 {
                        w.flush().unwrap(); // written here; the drop writes nothing more
                    }
                }
            });
        }
    });
    background.close().unwrap();
    sync.close().unwrap(); // its compressions too
    let parsed = parse(&set_text(&log).0);
    assert!(parsed.others.is_empty(), "{:?}", parsed.others);
    let ids: Vec<String> = (0..8).map(|t| format!("p{t}")).collect();
    assert_complete(&parsed, &ids, 300);
}

#[test]
fn a_flush_writes_whole_lines_and_a_drop_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let writer = open(&log);
    let mut w = writer.make_writer();
    w.write_all(b"first ").unwrap();
    w.flush().unwrap(); // an unfinished line: kept
    assert!(!log.exists() || fs::read(&log).unwrap().is_empty());
    w.write_all(b"record\nsecond ").unwrap();
    w.flush().unwrap(); // the complete line only
    assert_eq!(fs::read(&log).unwrap(), b"first record\n");
    w.write_all(b"record").unwrap();
    drop(w); // the rest, as it is
    assert_eq!(fs::read(&log).unwrap(), b"first record\nsecond record");
    drop(writer.make_writer()); // nothing handed over: nothing written
    assert_eq!(fs::read(&log).unwrap(), b"first record\nsecond record");
}

#[test]
fn an_event_that_could_not_be_written_is_announced_by_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("logs");
    fs::create_dir(&sub).unwrap();
    let writer = LogWriter::builder(sub.join("app.log"))
        .keep_file_open(false)
        .open()
        .unwrap();
    let dispatch = dispatch(SharedWriter::from(writer));
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("before");
        fs::remove_dir_all(&sub).unwrap();
        tracing::info!("lost one");
        tracing::info!("lost two");
        fs::create_dir(&sub).unwrap();
        tracing::info!("after");
    });
    let lines = assert_loss_announced(&sub.join("app.log"));
    assert!(lines[1].ends_with(" after"), "{lines:?}");
}
