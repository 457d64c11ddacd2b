//! Names changed under a writer whose directory has settled. A writer checks the log
//! and lock paths in full only until the directory holding them has gone unchanged
//! for a while; from then on one look at the directory's change time stands for both
//! checks (the core's `name_watch.rs`). Each test here lets the directory settle
//! first, so that the act is met by that shortcut, and must be noticed all the same.
#![cfg(target_os = "linux")]

mod common;

use clh::LogWriter;
use common::{hold, written_while_held};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Longer than the core's settling time (50 ms).
const SETTLE: Duration = Duration::from_millis(150);

/// Write, wait for the directory to settle, and write again: that record proves the
/// names unchanged, so the next one takes the shortcut.
fn settle(writer: &LogWriter) {
    writer.write(b"one\n").unwrap();
    thread::sleep(SETTLE);
    writer.write(b"two\n").unwrap();
}

#[test]
fn a_deleted_lock_file_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let w = Arc::new(LogWriter::builder(&log).open().unwrap());
    settle(&w);
    fs::remove_file(w.lock_path()).unwrap();
    let held = hold(w.lock_path());
    assert!(
        !written_while_held(&w, b"after\n", held),
        "wrote while a new lock file was held: it locked the deleted one"
    );
    assert_eq!(fs::read(&log).unwrap(), b"one\ntwo\nafter\n");
}

#[test]
fn a_lock_file_renamed_away_is_never_rotated_under() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let w = Arc::new(
        LogWriter::builder(&log)
            .max_bytes(8)
            .backup_count(5)
            .open()
            .unwrap(),
    );
    settle(&w);
    fs::rename(w.lock_path(), dir.path().join("moved.lock")).unwrap();
    let held = hold(w.lock_path());
    assert!(
        !written_while_held(&w, b"three\n", held),
        "rotated while the lock file at the path was held by someone else"
    );
    assert_eq!(
        fs::read(dir.path().join("app.log.1")).unwrap(),
        b"one\ntwo\n"
    );
    assert_eq!(fs::read(&log).unwrap(), b"three\n");
}

#[test]
fn another_writers_rotation_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let a = LogWriter::builder(&log).backup_count(5).open().unwrap();
    let b = LogWriter::builder(&log).backup_count(5).open().unwrap();
    settle(&a);
    b.rotate().unwrap();
    a.write(b"three\n").unwrap();
    assert_eq!(
        fs::read(dir.path().join("app.log.1")).unwrap(),
        b"one\ntwo\n"
    );
    assert_eq!(fs::read(&log).unwrap(), b"three\n");
}

#[test]
fn a_log_moved_deleted_or_replaced_is_noticed() {
    type Act = fn(&Path);
    let acts: [(&str, Act); 3] = [
        ("moved away", |log| {
            fs::rename(log, log.with_extension("old")).unwrap()
        }),
        ("deleted", |log| fs::remove_file(log).unwrap()),
        ("replaced", |log| {
            let new = log.with_extension("new");
            fs::write(&new, b"").unwrap();
            fs::rename(&new, log).unwrap();
        }),
    ];
    for (what, act) in acts {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        let w = LogWriter::builder(&log).open().unwrap();
        settle(&w);
        act(&log);
        w.write(b"three\n").unwrap();
        assert_eq!(fs::read(&log).unwrap(), b"three\n", "log {what}");
    }
}

#[test]
fn a_log_path_that_is_a_link_is_always_checked_in_full() {
    // The link's directory never changes when the file it leads to is moved.
    let (links, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (log, target) = (links.path().join("app.log"), files.path().join("real.log"));
    fs::write(&target, b"").unwrap();
    symlink(&target, &log).unwrap();
    let w = LogWriter::builder(&log).open().unwrap();
    settle(&w);
    fs::rename(&target, files.path().join("moved.log")).unwrap();
    fs::write(&target, b"").unwrap();
    w.write(b"three\n").unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"three\n");
    assert_eq!(
        fs::read(files.path().join("moved.log")).unwrap(),
        b"one\ntwo\n"
    );
}
