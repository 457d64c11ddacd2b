//! Integration tests of the write path: threads, processes, rotation, recovery,
//! permissions and error reporting, on real files.

mod common;

use common::{lines_in_order, read_set, strays};
use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::thread;

fn writer(path: &Path, max_bytes: u64, backups: u32, gzip: bool) -> clh::LogWriter {
    clh::LogWriter::builder(path)
        .max_bytes(max_bytes)
        .backup_count(backups)
        .use_gzip(gzip)
        .open()
        .unwrap()
}

/// Check that `lines` hold exactly the ids `expected`, each once and whole.
fn assert_exactly_once(lines: &[String], expected: &HashSet<String>) {
    let mut seen = HashSet::new();
    for line in lines {
        let id = line.split(' ').next().unwrap().to_owned();
        assert!(line.ends_with(" end"), "torn record: {line:?}");
        assert!(seen.insert(id.clone()), "duplicated record {id}");
    }
    let lost: Vec<_> = expected.difference(&seen).collect();
    assert!(
        lost.is_empty(),
        "{} lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert_eq!(seen.len(), expected.len());
}

fn record(id: &str, pad: usize) -> String {
    format!("{id} {} end\n", "x".repeat(pad))
}

#[test]
fn threads_rotating_with_gzip_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let w = Arc::new(writer(&log, 8 * 1024, 10_000, true));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let w = Arc::clone(&w);
            thread::spawn(move || {
                for i in 0..2000 {
                    w.write(record(&format!("t{t}-{i}"), i % 300).as_bytes())
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    w.wait_for_compression().unwrap();
    let expected = (0..4)
        .flat_map(|t| (0..2000).map(move |i| format!("t{t}-{i}")))
        .collect();
    assert_exactly_once(&lines_in_order(dir.path(), "app.log"), &expected);
    assert!(w.num_rollovers() > 10);
    assert!(strays(dir.path(), "app.log", ".__app.lock").is_empty());
}

#[test]
fn backups_are_ordered_newest_first_and_capped() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let w = writer(&log, 10, 3, false);
    for i in 0..6 {
        w.write(format!("rec{i}-padding\n").as_bytes()).unwrap();
    }
    let set = read_set(dir.path());
    assert_eq!(set["app.log"], b"rec5-padding\n");
    assert_eq!(set["app.log.1"], b"rec4-padding\n");
    assert_eq!(set["app.log.3"], b"rec2-padding\n");
    assert!(!set.contains_key("app.log.4"));
    assert_eq!(w.num_rollovers(), 5);
}

#[test]
fn backup_count_zero_truncates() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let w = writer(&log, 10, 0, false);
    w.write(b"first record\n").unwrap();
    w.write(b"second record\n").unwrap();
    assert_eq!(fs::read(&log).unwrap(), b"second record\n");
    assert_eq!(read_set(dir.path()).len(), 2, "only the log and its lock");
}

#[test]
fn oversized_record_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let w = writer(&log, 100, 5, false);
    let big = record("big", 10_000);
    w.write(b"small\n").unwrap();
    w.write(big.as_bytes()).unwrap();
    w.write(b"after\n").unwrap();
    let set = read_set(dir.path());
    // The size before a write decides (CLH's rule): the big record joins "small".
    assert_eq!(set["app.log.1"], [b"small\n", big.as_bytes()].concat());
    assert_eq!(set["app.log"], b"after\n");
}

#[test]
fn another_writers_rotation_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let a = writer(&log, 0, 5, false);
    let b = writer(&log, 0, 5, false);
    a.write(b"a1\n").unwrap();
    b.rotate().unwrap();
    a.write(b"a2\n").unwrap();
    assert_eq!(fs::read(&log).unwrap(), b"a2\n");
    assert_eq!(fs::read(dir.path().join("app.log.1")).unwrap(), b"a1\n");
}

#[test]
fn interrupted_rotations_are_finished_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A shift interrupted halfway: slot 2 was moved to 3, slot 1 not yet moved.
    fs::write(d.join("app.log.1.gz"), gz(b"older\n")).unwrap();
    fs::write(d.join("app.log.3.gz"), gz(b"oldest\n")).unwrap();
    // A rotated log not yet inserted, with a compression cut short beside it.
    fs::write(d.join("app.log.rotate.7-1"), b"newest\n").unwrap();
    fs::write(d.join("app.log.rotate.7-1.gz.part"), b"garbage").unwrap();
    // A CLH orphan: partial .gz beside its source (the source wins).
    fs::write(d.join("app.log.rotate.12345678"), b"newer\n").unwrap();
    fs::write(d.join("app.log.rotate.12345678.gz"), b"partial").unwrap();
    set_mtime(&d.join("app.log.rotate.12345678"), 1_000);
    set_mtime(&d.join("app.log.rotate.7-1"), 2_000);
    let w = writer(&d.join("app.log"), 1000, 10, true);
    w.write(b"live\n").unwrap();
    w.wait_for_compression().unwrap();
    let lines = lines_in_order(d, "app.log");
    assert_eq!(lines, ["oldest", "older", "newer", "newest", "live"]);
    assert!(
        strays(d, "app.log", ".__app.lock").is_empty(),
        "{:?}",
        strays(d, "app.log", ".__app.lock")
    );
}

#[cfg(unix)]
#[test]
fn files_get_the_requested_mode_from_the_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let w = clh::LogWriter::builder(&log)
        .max_bytes(10)
        .backup_count(2)
        .use_gzip(true)
        .chmod(0o640)
        .open()
        .unwrap();
    w.write(b"one record here\n").unwrap();
    w.write(b"two\n").unwrap();
    w.wait_for_compression().unwrap();
    for name in ["app.log", ".__app.lock", "app.log.1.gz"] {
        let mode = fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o640, "{name}");
    }
    let u = dir.path().join("u.log");
    let w = clh::LogWriter::builder(&u).umask(0o077).open().unwrap();
    w.write(b"x\n").unwrap();
    assert_eq!(
        fs::metadata(&u).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn bad_options_are_rejected_at_open_naming_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let err = clh::LogWriter::builder(dir.path().join("a.log"))
        .chmod(0o17777)
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("0o17777"), "{err}");
    let err = clh::LogWriter::builder(dir.path().join("a.log"))
        .umask(0o1000)
        .open()
        .unwrap_err();
    assert!(err.to_string().contains("umask"), "{err}");
    let err = clh::LogWriter::builder(dir.path()).open().unwrap_err();
    assert!(err.to_string().contains("is a directory"), "{err}");
    let missing = dir.path().join("missing").join("a.log");
    let err = clh::LogWriter::builder(&missing).open().unwrap_err();
    assert_eq!(err.io_error().unwrap().kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn a_deleted_directory_is_reported_then_survived() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("logs");
    fs::create_dir(&sub).unwrap();
    let w = clh::LogWriter::builder(sub.join("app.log"))
        .keep_file_open(false)
        .open()
        .unwrap();
    w.write(b"before\n").unwrap();
    fs::remove_dir_all(&sub).unwrap();
    let err = w.write(b"lost with its directory\n").unwrap_err();
    assert!(err.to_string().contains("logs"), "{err}");
    fs::create_dir(&sub).unwrap();
    w.write(b"after\n").unwrap();
    assert_eq!(fs::read(sub.join("app.log")).unwrap(), b"after\n");
}

/// Worker mode: when the test binary is re-run with CLH_WORKER set, it is one of
/// several processes writing to the same log.
#[test]
fn processes_rotating_one_log_lose_nothing() {
    if let Ok(spec) = std::env::var("CLH_WORKER") {
        let (path, id) = spec.split_once('|').unwrap();
        let w = writer(Path::new(path), 16 * 1024, 10_000, id.ends_with('1'));
        for i in 0..3000 {
            w.write(record(&format!("p{id}-{i}"), (i * 7) % 200).as_bytes())
                .unwrap();
        }
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|p| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "processes_rotating_one_log_lose_nothing",
                    "--nocapture",
                ])
                .env("CLH_WORKER", format!("{}|{p}", log.display()))
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let expected = (0..4)
        .flat_map(|p| (0..3000).map(move |i| format!("p{p}-{i}")))
        .collect();
    assert_exactly_once(&lines_in_order(dir.path(), "app.log"), &expected);
    assert!(strays(dir.path(), "app.log", ".__app.lock").is_empty());
}

fn gz(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn set_mtime(path: &Path, secs: u64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}
