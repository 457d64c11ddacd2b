//! `clh write`: records, rotation with several writers, options, exit codes.
#![cfg(unix)]

mod common;

use common::*;
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::process::Stdio;

/// One writer's input: `w<id> <seq> <padding>` lines, the padding varying in length.
fn lines(writer: usize, count: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..count {
        let pad = "x".repeat(10 + (i * 7 + writer * 3) % 50);
        writeln!(out, "w{writer} {i:06} {pad}").unwrap();
    }
    out
}

/// Check that the set holds every line of `writers` × `count` exactly once, whole,
/// each writer's in order.
fn check_all_lines(text: &str, writers: usize, count: usize) {
    let mut next: HashMap<usize, usize> = HashMap::new();
    let mut total = 0;
    for line in text.lines() {
        let mut parts = line.splitn(3, ' ');
        let (w, seq, pad) = (
            parts.next().unwrap(),
            parts.next().expect("torn line"),
            parts.next().expect("torn line"),
        );
        let w: usize = w.strip_prefix('w').expect("torn line").parse().unwrap();
        let seq: usize = seq.parse().unwrap();
        assert_eq!(
            pad,
            "x".repeat(10 + (seq * 7 + w * 3) % 50),
            "torn line {line:?}"
        );
        let expected = next.entry(w).or_insert(0);
        assert_eq!(
            seq, *expected,
            "writer {w}: lost, duplicated or out of order"
        );
        *expected += 1;
        total += 1;
    }
    assert_eq!(total, writers * count);
    for w in 0..writers {
        assert_eq!(next.get(&w), Some(&count), "writer {w}");
    }
}

fn concurrent_writers(extra: &[&str]) {
    const WRITERS: usize = 4;
    const LINES: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut args = vec!["--max-bytes", "8KiB", "--backups", "1000"];
    args.extend_from_slice(extra);
    let children: Vec<_> = (0..WRITERS)
        .map(|w| {
            let mut child = spawn_write(&log, &args);
            let mut stdin = child.stdin.take().unwrap();
            let input = lines(w, LINES);
            let feeder = std::thread::spawn(move || {
                // Several writes, as a producer would make them.
                for chunk in input.chunks(4096) {
                    stdin.write_all(chunk).unwrap();
                }
            });
            (child, feeder)
        })
        .collect();
    for (mut child, feeder) in children {
        feeder.join().unwrap();
        let status = wait_for(&mut child, PATIENCE * 3);
        let err = stderr_of(&mut child);
        assert!(status.success(), "{status}: {err}");
        assert!(err.is_empty(), "{err}");
    }
    let text = String::from_utf8(cat(&log)).unwrap();
    check_all_lines(&text, WRITERS, LINES);

    let names = names(dir.path());
    let backups: Vec<_> = names.iter().filter(|n| n.starts_with("app.log.")).collect();
    assert!(backups.len() > 50, "too few rotations: {names:?}");
    let gz = extra.contains(&"--gzip");
    for name in &backups {
        assert_eq!(name.ends_with(".gz"), gz, "{name}");
        if !gz {
            // A file exceeds the limit by at most one record.
            let size = fs::metadata(dir.path().join(name)).unwrap().len();
            assert!(size < 8192 + 100, "{name}: {size}");
        }
    }
    assert!(!names.iter().any(|n| n.starts_with(".__clh-")), "{names:?}");
    assert!(status(&log).contains("pending       none"));
}

#[test]
fn four_writers_rotating_one_log_lose_and_duplicate_nothing() {
    concurrent_writers(&[]);
}

#[test]
fn four_writers_rotating_and_gzipping_one_log_lose_and_duplicate_nothing() {
    concurrent_writers(&["--gzip"]);
}

#[test]
fn a_last_line_without_newline_gets_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let out = write(&log, &[], b"one\ntwo\n\nthree");
    assert!(out.status.success());
    assert_eq!(fs::read(&log).unwrap(), b"one\ntwo\n\nthree\n");
    // Empty input writes nothing (and creates no record).
    let out = write(&log, &[], b"");
    assert!(out.status.success());
    assert_eq!(fs::read(&log).unwrap(), b"one\ntwo\n\nthree\n");
}

#[test]
fn nul_separated_records_keep_their_newlines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let out = write(
        &log,
        &["-0", "--max-bytes", "1", "--backups", "10"],
        b"Traceback:\n  line 1\n  line 2\n\0single\0ends with newline\n\0last",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One record per file (every record makes the log reach 1 byte): whole records.
    assert_eq!(
        fs::read(dir.path().join("app.log.3")).unwrap(),
        b"Traceback:\n  line 1\n  line 2\n"
    );
    assert_eq!(fs::read(dir.path().join("app.log.2")).unwrap(), b"single\n");
    assert_eq!(
        fs::read(dir.path().join("app.log.1")).unwrap(),
        b"ends with newline\n"
    );
    assert_eq!(fs::read(&log).unwrap(), b"last\n");
}

#[test]
fn timestamps_are_rfc3339_local_time_with_milliseconds() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let before = jiff::Timestamp::now();
    let out = write(&log, &["--timestamp"], b"alpha\nbeta gamma\n");
    let after = jiff::Timestamp::now();
    assert!(out.status.success());
    let text = fs::read_to_string(&log).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    for (line, body) in lines.iter().zip(["alpha", "beta gamma"]) {
        let (stamp, rest) = line.split_once(' ').unwrap();
        assert_eq!(rest, body);
        // 2026-11-28T14:03:07.123+01:00: 29 characters, offset with a colon.
        assert_eq!(stamp.len(), 29, "{stamp}");
        assert_eq!(&stamp[10..11], "T");
        assert_eq!(&stamp[19..20], ".");
        assert_eq!(&stamp[26..27], ":");
        let t: jiff::Timestamp = stamp.parse().unwrap();
        let ms = jiff::SignedDuration::from_millis(1);
        assert!(t >= before - ms && t <= after, "{stamp}");
        let offset = jiff::tz::TimeZone::system().to_offset(t);
        assert!(
            stamp.ends_with(&offset.to_string()) || offset.seconds() == 0,
            "{stamp}"
        );
    }
}

#[test]
fn tee_copies_each_record_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let out = write(
        &log,
        &["--tee", "--max-bytes", "10", "--backups", "5"],
        b"one\ntwo\nthree",
    );
    assert!(out.status.success());
    assert_eq!(out.stdout, b"one\ntwo\nthree\n");
    assert_eq!(cat(&log), b"one\ntwo\nthree\n");
}

#[test]
fn tee_into_a_closed_pipe_still_logs_everything() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let input: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    let script = format!("{CLH} write {} --tee | head -n 1", log.display());
    let mut child = std::process::Command::new("bash")
        .args(["-o", "pipefail", "-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"line 0\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tee: standard output was closed"));
    assert_eq!(fs::read_to_string(&log).unwrap().lines().count(), 20_000);
}

#[test]
fn a_line_longer_than_a_batch_is_written_whole_as_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    // Batches hold 1 MiB; reads take 256 KiB: this line spans many of both.
    let long = "L".repeat(3 * 1024 * 1024 + 17);
    let input = format!("before\n{long}\nafter\n{long}");
    let out = write(
        &log,
        &["--max-bytes", "1", "--backups", "10", "--timestamp"],
        input.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Each record rotated into a file of its own (the size limit is 1 byte).
    let body = |name: &str| {
        let text = fs::read_to_string(dir.path().join(name)).unwrap();
        let (_stamp, rest) = text.split_once(' ').unwrap();
        rest.to_owned()
    };
    assert_eq!(body("app.log.3"), "before\n");
    assert_eq!(body("app.log.2"), format!("{long}\n"));
    assert_eq!(body("app.log.1"), "after\n");
    assert_eq!(body("app.log"), format!("{long}\n"));
}

#[test]
fn files_get_the_mode_asked_for() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    // SAFETY: getuid and getgid cannot fail.
    let owner = unsafe { format!("{}:{}", libc::getuid(), libc::getgid()) };
    let out = write(&log, &["--chmod", "604", "--owner", &owner], b"x\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = fs::metadata(&log).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o604);
    let lock = fs::metadata(lock_path(&log)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(lock, 0o604);
}

#[test]
fn time_rotation_names_backups_after_their_period() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut child = spawn_write(&log, &["--when", "s", "--utc", "--backups", "0"]);
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..4 {
        writeln!(stdin, "record {i}").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    drop(stdin);
    assert!(wait_for(&mut child, PATIENCE).success());
    let backups: Vec<_> = names(dir.path())
        .into_iter()
        .filter(|n| n.starts_with("app.log.20"))
        .collect();
    assert!(backups.len() >= 2, "{backups:?}");
    let text = String::from_utf8(cat(&log)).unwrap();
    assert_eq!(text, "record 0\nrecord 1\nrecord 2\nrecord 3\n");
    // The next rotation time is in the lock file, and status shows it.
    let content = fs::read_to_string(lock_path(&log)).unwrap();
    assert!(content.trim().parse::<i64>().is_ok(), "{content:?}");
    assert!(status(&log).contains(&format!("lock file content {}", content.trim())));
}

#[test]
fn usage_errors_exit_2_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    for (args, says) in [
        (vec!["--max-bytes", "10XB"], "is not a size"),
        (vec!["--chmod", "999"], "not an octal mode"),
        (vec!["--owner", "no-such-user-here"], "no such user"),
        (
            vec!["--when", "fortnightly"],
            "expected S, M, H, D, MIDNIGHT or W0-W6",
        ),
        (vec!["--utc"], "--when"),
        (
            vec!["--at-time", "25:00", "--when", "midnight"],
            "not a time of day",
        ),
        (vec!["--interval", "0", "--when", "h"], "--interval"),
        (vec!["--when", "d", "--interval", "100000"], "too large"),
        (vec!["--bogus"], "--bogus"),
    ] {
        let out = write(&log, &args, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let out = clh().arg("write").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = clh().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!log.exists());
}

#[test]
fn a_log_that_cannot_be_opened_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = write(&dir.path().join("missing/app.log"), &[], b"x\n");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("clh write: ") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn help_and_version_exit_0() {
    for args in [
        &["--help"][..],
        &["write", "--help"],
        &["cat", "-h"],
        &["status", "--help"],
        &["--version"],
    ] {
        let out = clh().args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(!out.stdout.is_empty());
    }
    let out = clh().args(["write", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "CustomLog \"|",
        "crontab",
        "EXIT STATUS",
        "powers of 1024",
        "WRITE ERRORS",
    ] {
        assert!(help.contains(needle), "{needle}");
    }
}

#[test]
fn the_library_entry_point_returns_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nothing.log");
    let run = |args: &[&str]| {
        let mut argv = vec!["clh".into()];
        argv.extend(args.iter().map(Into::into));
        clh_cli::run(argv)
    };
    assert_eq!(run(&["status", path.to_str().unwrap()]), 0);
    assert_eq!(run(&["cat", path.to_str().unwrap()]), 1);
    assert_eq!(run(&["cat"]), 2);
    assert_eq!(run(&["frobnicate"]), 2);
}

/// Many lines through a pipe in uneven writes (batches of many records, lines cut
/// across reads): the log is the input, byte for byte.
#[test]
fn a_large_input_is_written_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let mut input = Vec::new();
    for i in 0..100_000 {
        writeln!(
            input,
            "2026-01-01 12:00:00 INFO worker-{:02} request {i:09} ok",
            i % 16
        )
        .unwrap();
    }
    let mut child = spawn_write(&log, &[]);
    let mut stdin = child.stdin.take().unwrap();
    let data = input.clone();
    let feeder = std::thread::spawn(move || {
        let mut rest = &data[..];
        let mut n = 1;
        while !rest.is_empty() {
            n = (n * 7919 + 13) % 200_000 + 1;
            let (now, later) = rest.split_at(n.min(rest.len()));
            stdin.write_all(now).unwrap();
            rest = later;
        }
    });
    feeder.join().unwrap();
    let status = wait_for(&mut child, PATIENCE);
    let err = stderr_of(&mut child);
    assert!(status.success() && err.is_empty(), "{status}: {err}");
    let got = fs::read(&log).unwrap();
    assert_eq!(got.len(), input.len());
    assert!(got == input, "the log differs from the input");
}

/// Same bytes in, same bytes out, whatever they are.
#[test]
fn bytes_are_written_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let input: &[u8] = b"latin-1 \xe9t\xe9\r\n\x00nul inside\n\xff\xfe\n";
    let out = write(&log, &[], input);
    assert!(out.status.success());
    assert_eq!(fs::read(&log).unwrap(), input);
}
