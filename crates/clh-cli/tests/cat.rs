//! `clh cat`: the whole set, oldest record first, `.gz` read transparently.
#![cfg(unix)]

mod common;

use common::*;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

fn put(dir: &Path, name: &str, data: &[u8]) {
    fs::write(dir.join(name), data).unwrap();
}

#[test]
fn numbered_backups_oldest_first_plain_and_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put(d, "app.log.12.gz", &gzip(b"twelve\n"));
    put(d, "app.log.10", b"ten\n");
    put(d, "app.log.9.gz", &gzip(b"nine\n"));
    // Two gzip members (as `cat a.gz b.gz` makes): read as one stream.
    let mut two = gzip(b"two, first member\n");
    two.extend(gzip(b"two, second member\n"));
    put(d, "app.log.2.gz", &two);
    // A compression not finished yet: the plain file is read, once.
    put(d, "app.log.1", b"one\n");
    put(d, "app.log.1.gz", &gzip(b"one\n")[..10]);
    put(d, "app.log", b"live\n");
    // Not part of the set.
    put(d, "app.log.old", b"no\n");
    put(d, "other.log.1", b"no\n");
    put(d, ".__app.lock", b"");
    assert_eq!(
        String::from_utf8(cat(&d.join("app.log"))).unwrap(),
        "twelve\nten\nnine\ntwo, first member\ntwo, second member\none\nlive\n"
    );
}

#[test]
fn dated_backups_by_period_then_counter() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put(d, "app.log.2026-11-27.1", b"27, size rotation 1\n");
    put(d, "app.log.2026-11-26.gz", &gzip(b"26\n"));
    put(d, "app.log.2026-11-27", b"27\n");
    put(
        d,
        "app.log.2026-11-26.2.gz",
        &gzip(b"26, size rotation 2\n"),
    );
    put(
        d,
        "app.log.2026-11-26.1.gz",
        &gzip(b"26, size rotation 1\n"),
    );
    put(d, "app.log.2026-11-27.10", b"27, size rotation 10\n");
    put(d, "app.log", b"live\n");
    assert_eq!(
        String::from_utf8(cat(&d.join("app.log"))).unwrap(),
        "26\n26, size rotation 1\n26, size rotation 2\n27\n27, size rotation 1\n27, size rotation 10\nlive\n"
    );
    // Hourly names, without a live log.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put(d, "h.log.2026-11-27_10.gz", &gzip(b"10h\n"));
    put(d, "h.log.2026-11-27_09", b"9h\n");
    put(d, "h.log.2026-11-28_00.gz", &gzip(b"0h next day\n"));
    assert_eq!(
        String::from_utf8(cat(&d.join("h.log"))).unwrap(),
        "9h\n10h\n0h next day\n"
    );
}

#[test]
fn a_set_written_by_clh_write_reads_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let input: String = (0..5000).map(|i| format!("record {i:05}\n")).collect();
    let out = write(
        &log,
        &["--max-bytes", "2KiB", "--backups", "100", "--gzip"],
        input.as_bytes(),
    );
    assert!(out.status.success());
    assert!(names(dir.path()).iter().any(|n| n.ends_with(".gz")));
    assert_eq!(String::from_utf8(cat(&log)).unwrap(), input);
}

#[test]
fn a_closed_pipe_ends_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let line = "x".repeat(99) + "\n";
    put(
        dir.path(),
        "app.log.1.gz",
        &gzip(line.repeat(50_000).as_bytes()),
    );
    put(dir.path(), "app.log", line.repeat(50_000).as_bytes());
    let script = format!("{CLH} cat {} | head -n 2", log.display());
    let out = Command::new("bash")
        .args(["-o", "pipefail", "-c", &script])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(out.stdout, line.repeat(2).as_bytes());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The reader closing at once, before anything was read.
    let mut child = clh()
        .arg("cat")
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
}

#[test]
fn a_corrupt_backup_is_reported_and_the_rest_still_printed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put(d, "app.log.3", b"three\n");
    let mut broken = gzip(&b"two\n".repeat(1000));
    broken.truncate(broken.len() / 2);
    put(d, "app.log.2.gz", &broken);
    put(d, "app.log.1.gz", b"not gzip at all");
    put(d, "app.log", b"live\n");
    let out = clh().arg("cat").arg(d.join("app.log")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "three");
    assert!(lines.len() > 100, "too little of the damaged file");
    // Its records up to the damage, the last one perhaps cut, then the live log's
    // on a line of its own.
    assert!(lines[1..lines.len() - 1]
        .iter()
        .all(|l| "two".starts_with(l)));
    assert_eq!(lines[lines.len() - 1], "live");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("decompressing") && err.contains("app.log.2.gz"),
        "{err}"
    );
    assert!(err.contains("app.log.1.gz"), "{err}");
}

#[test]
fn a_planted_fifo_is_skipped_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put(d, "app.log.2", b"two\n");
    let fifo =
        std::ffi::CString::new(d.join("app.log.1").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::os::unix::fs::symlink("/etc/hostname", d.join("app.log.3")).unwrap();
    put(d, "app.log", b"live\n");
    let out = clh().arg("cat").arg(d.join("app.log")).output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "two\nlive\n");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("not a regular file"), "{err}");
}

#[test]
fn no_set_at_all_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = clh()
        .arg("cat")
        .arg(dir.path().join("app.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no file of this log's set exists"));
    let out = clh()
        .arg("cat")
        .arg(dir.path().join("no/such/dir/app.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
