//! `clh status`: files, lock holders and waiters, pending work, next rotation.
#![cfg(unix)]

mod common;

use common::*;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

fn put(dir: &Path, name: &str, data: &[u8]) {
    fs::write(dir.join(name), data).unwrap();
}

/// The status of a live writer waiting for the lock that this test process holds.
#[cfg(target_os = "linux")]
#[test]
fn shows_who_holds_the_lock_and_who_waits() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    assert!(write(&log, &[], b"hello\n").status.success());
    let free = status(&log);
    assert!(free.contains("lock          free\n"), "{free}");

    let lock = File::open(lock_path(&log)).unwrap();
    lock.lock().unwrap();
    let mut child = spawn_write(&log, &[]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"waits for the lock\n").unwrap();
    let me = format!("held by pid {}", std::process::id());
    let waiter = format!("waiting       pid {} (clh)", child.id());
    let mut shown = String::new();
    wait_until("the writer to wait for the lock", || {
        shown = status(&log);
        shown.contains(&waiter)
    });
    assert!(shown.contains(&me), "{shown}");
    lock.unlock().unwrap();
    drop(stdin);
    assert!(wait_for(&mut child, PATIENCE).success());
    assert_eq!(
        fs::read_to_string(&log).unwrap(),
        "hello\nwaits for the lock\n"
    );
    let after = status(&log);
    assert!(after.contains("lock          free\n"), "{after}");
    assert!(!after.contains("waiting"), "{after}");
}

#[test]
fn shows_files_pending_work_and_the_next_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let log = d.join("app.log");
    let compressed = gzip(&b"y".repeat(100_000));
    put(d, "app.log.3.gz", &compressed);
    put(d, "app.log.2.gz", &compressed);
    put(d, "app.log.1", &b"z".repeat(2048));
    put(d, "app.log", b"live\n");
    put(d, "app.log.rotate.1764316800123", b"left by CLH\n");
    let mut crc = flate2::Crc::new();
    crc.update(b"app.log");
    let temp = format!(".__clh-{:08x}.gz.999999.0", crc.sum());
    put(d, &temp, b"");
    put(d, ".__app.lock", b"1900000000");

    let shown = status(&log);
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(
        lines[0],
        format!("log           {}", log.display()),
        "{shown}"
    );
    assert_eq!(
        lines[1],
        format!("lock file     {}", d.join(".__app.lock").display())
    );
    assert!(
        lines[2].starts_with("files         4 (oldest first), "),
        "{shown}"
    );
    assert!(
        lines[3].contains("app.log.3.gz") && lines[3].contains("gzip, 97.7 KiB before compression"),
        "{shown}"
    );
    assert!(lines[4].contains("app.log.2.gz"), "{shown}");
    assert!(
        lines[5].contains("2048")
            && lines[5].contains("2.0 KiB")
            && lines[5].contains("app.log.1 ")
            && lines[5].contains("not compressed"),
        "{shown}"
    );
    assert!(
        lines[6].contains("app.log ") && lines[6].contains("live log"),
        "{shown}"
    );
    assert!(
        shown.contains("lock          free\n") || !cfg!(target_os = "linux"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("{temp}: temporary of a compression")),
        "{shown}"
    );
    assert!(shown.contains("app.log.1: not compressed yet"), "{shown}");
    assert!(
        shown.contains(
            "app.log.rotate.1764316800123: a rotation that a killed CLH process left half done"
        ),
        "{shown}"
    );

    let at = jiff::Timestamp::from_second(1_900_000_000).unwrap();
    let local = at
        .to_zoned_datetime(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string();
    assert!(
        shown.contains(&format!("next rotation {local} (in ")),
        "{shown}"
    );
    assert!(shown.contains("lock file content 1900000000)"), "{shown}");
}

#[test]
fn a_log_not_written_yet() {
    let dir = tempfile::tempdir().unwrap();
    let shown = status(&dir.path().join("app.log"));
    assert!(shown.contains("files         none yet"), "{shown}");
    assert!(shown.contains("lock          no lock file"), "{shown}");
    assert!(shown.contains("pending       none"), "{shown}");
    assert!(shown.contains("next rotation none stored"), "{shown}");
    let out = clh()
        .arg("status")
        .arg(dir.path().join("missing/app.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn the_lock_file_in_another_directory() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let locks = dir.path().join("locks");
    let out = write(
        &log,
        &["--lock-dir", locks.to_str().unwrap(), "--when", "midnight"],
        b"x\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = clh()
        .arg("status")
        .arg(&log)
        .arg("--lock-dir")
        .arg(&locks)
        .output()
        .unwrap();
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.contains(&format!(
            "lock file     {}",
            locks.join(".__app.lock").display()
        )),
        "{shown}"
    );
    assert!(shown.contains("next rotation 20"), "{shown}");
    assert!(shown.contains(" (in "), "{shown}");
}
