//! `clh write` and SIGTERM, SIGINT, SIGHUP while its input is still open: everything
//! read so far is written, and it exits 0.
#![cfg(unix)]

mod common;

use common::*;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn contains(log: &Path, needle: &str) -> bool {
    fs::read_to_string(log).is_ok_and(|t| t.contains(needle))
}

/// Start a writer, make sure it runs (its first record is in the log), send more
/// lines and an unterminated one, then the signal, with standard input still open.
fn signal_while_input_is_open(sig: i32, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut args = vec!["--max-bytes", "4KiB", "--backups", "100"];
    args.extend_from_slice(extra);
    let mut child = spawn_write(&log, &args);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    wait_until("the first record", || contains(&log, "first\n"));
    let mut expected = String::from("first\n");
    for i in 0..2000 {
        let line = format!("line {i:04} of the input still open\n");
        stdin.write_all(line.as_bytes()).unwrap();
        expected.push_str(&line);
    }
    stdin.write_all(b"no newline yet").unwrap();
    expected.push_str("no newline yet\n");
    // Right away: much of it is still in the pipe, unread.
    signal(&child, sig);
    let status = wait_for(&mut child, PATIENCE);
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(0), "{status}: {err}");
    assert!(err.is_empty(), "{err}");
    drop(stdin);
    let mut got = String::from_utf8(cat(&log)).unwrap();
    if extra.contains(&"--timestamp") {
        got = got
            .lines()
            .map(|l| l.split_once(' ').unwrap().1.to_owned() + "\n")
            .collect();
    }
    assert_same(&got, &expected);
}

/// Compare texts line by line, showing the first difference only.
fn assert_same(got: &str, expected: &str) {
    let (g, e): (Vec<_>, Vec<_>) = (got.lines().collect(), expected.lines().collect());
    if let Some(i) = (0..g.len().max(e.len())).find(|&i| g.get(i) != e.get(i)) {
        panic!(
            "line {i} differs: got {:?}, expected {:?} ({} lines against {})",
            g.get(i),
            e.get(i),
            g.len(),
            e.len()
        );
    }
    assert_eq!(got.ends_with('\n'), expected.ends_with('\n'));
}

#[test]
fn sigterm_writes_everything_read_and_exits_0() {
    signal_while_input_is_open(libc::SIGTERM, &[]);
}

#[test]
fn sigint_writes_everything_read_and_exits_0() {
    signal_while_input_is_open(libc::SIGINT, &["--gzip"]);
}

#[test]
fn sighup_writes_everything_read_and_exits_0() {
    signal_while_input_is_open(libc::SIGHUP, &["--timestamp"]);
}

#[test]
fn a_signal_before_any_input_exits_0_with_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut child = spawn_write(&log, &[]);
    // The lock file is created when the writer opens: it is running by then.
    wait_until("the lock file", || lock_path(&log).exists());
    std::thread::sleep(Duration::from_millis(50)); // into its wait for input
    signal(&child, libc::SIGTERM);
    assert_eq!(wait_for(&mut child, PATIENCE).code(), Some(0));
}

#[test]
fn an_ignored_sighup_stays_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    // As nohup does: SIGHUP ignored by the parent, inherited through exec.
    let script = format!("trap '' HUP; exec {CLH} write {}", log.display());
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"before\n").unwrap();
    wait_until("the first record", || contains(&log, "before\n"));
    signal(&child, libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(200));
    assert!(child.try_wait().unwrap().is_none(), "SIGHUP ended it");
    stdin.write_all(b"after\n").unwrap();
    drop(stdin);
    assert_eq!(wait_for(&mut child, PATIENCE).code(), Some(0));
    assert_eq!(fs::read_to_string(&log).unwrap(), "before\nafter\n");
}

/// Another process holds the lock for good: after a signal, clh write waits a
/// bounded time for it, then gives up with exit code 1, saying so.
#[test]
fn a_writer_stuck_behind_the_lock_gives_up_after_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut child = spawn_write(&log, &[]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    wait_until("the first record", || contains(&log, "first\n"));
    let lock = File::open(lock_path(&log)).unwrap();
    lock.lock().unwrap();
    stdin.write_all(b"second\n").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    signal(&child, libc::SIGTERM);
    let status = wait_for(&mut child, Duration::from_secs(40));
    let took = start.elapsed();
    let err = stderr_of(&mut child);
    lock.unlock().unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("no progress"), "{err}");
    assert!(took >= clh::STALL_LIMIT, "{took:?}");
    assert_eq!(fs::read_to_string(&log).unwrap(), "first\n");
}

/// The same, but a second signal (a second after the first) ends it at once.
#[test]
fn a_second_signal_ends_a_stuck_writer_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut child = spawn_write(&log, &[]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    wait_until("the first record", || contains(&log, "first\n"));
    let lock = File::open(lock_path(&log)).unwrap();
    lock.lock().unwrap();
    stdin.write_all(b"second\n").unwrap();
    signal(&child, libc::SIGINT);
    std::thread::sleep(Duration::from_millis(1200));
    assert!(child.try_wait().unwrap().is_none(), "gave up too early");
    signal(&child, libc::SIGINT);
    let status = wait_for(&mut child, PATIENCE);
    let err = stderr_of(&mut child);
    lock.unlock().unwrap();
    // Exit code 1 either way; only the second signal's exit says this (giving up on
    // the stuck lock says "no progress").
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("SIGINT after SIGINT: exiting at once"),
        "{err}"
    );
}

/// Two signals close together (Ctrl-C pressed twice) are one request: nothing lost.
#[test]
fn two_signals_close_together_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut child = spawn_write(&log, &[]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    wait_until("the first record", || contains(&log, "first\n"));
    let mut expected = String::from("first\n");
    for i in 0..500 {
        let line = format!("line {i}\n");
        stdin.write_all(line.as_bytes()).unwrap();
        expected.push_str(&line);
    }
    signal(&child, libc::SIGINT);
    signal(&child, libc::SIGTERM);
    assert_eq!(wait_for(&mut child, PATIENCE).code(), Some(0));
    assert_same(&fs::read_to_string(&log).unwrap(), &expected);
}
