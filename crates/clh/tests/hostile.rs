//! The core against a hostile or careless world: lock files deleted under running
//! writers, signals during lock waits, links and FIFOs planted in the log's directory.
//! (The Python suite runs the same scenarios across processes: tests/python/test_reliability_*.py.)
#![cfg(unix)]

mod common;

use clh::{Error, FileKind, LogWriter};
use common::{hold, written_while_held};
use std::fs;
use std::os::unix::fs::symlink;
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn a_deleted_lock_file_is_reopened_so_old_and_new_writers_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let old = Arc::new(LogWriter::builder(&log).open().unwrap());
    old.write(b"before\n").unwrap();
    fs::remove_file(old.lock_path()).unwrap();
    // A writer started now creates a new lock file; someone holds it.
    let held = hold(old.lock_path());
    assert!(
        !written_while_held(&old, b"after\n", held),
        "the old writer wrote while the new lock file was held: it locked the deleted one"
    );
    assert_eq!(fs::read(&log).unwrap(), b"before\nafter\n");
}

#[test]
fn a_lock_file_renamed_away_is_never_rotated_under() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let old = Arc::new(
        LogWriter::builder(&log)
            .max_bytes(10)
            .backup_count(5)
            .open()
            .unwrap(),
    );
    old.write(b"0123456789 first\n").unwrap();
    // Renamed away (it keeps its name elsewhere), and a new one made at the path.
    fs::rename(old.lock_path(), dir.path().join("moved.lock")).unwrap();
    let held = hold(old.lock_path());
    assert!(
        !written_while_held(&old, b"second, after a rotation\n", held),
        "rotated while the lock file at the path was held by someone else"
    );
    assert_eq!(
        fs::read(dir.path().join("app.log.1")).unwrap(),
        b"0123456789 first\n"
    );
    assert_eq!(fs::read(&log).unwrap(), b"second, after a rotation\n");
}

extern "C" fn ignore(_: libc::c_int) {}

/// Install a SIGUSR1 handler without `SA_RESTART`, so a blocking `flock` returns EINTR.
fn interrupting_handler() {
    // SAFETY: a handler that does nothing, installed with a zeroed, then filled, sigaction.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = ignore as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = 0;
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
    }
}

/// Send SIGUSR1 to `thread` every 5 ms until `stop`.
fn pester(thread: libc::pthread_t, stop: Arc<AtomicBool>) -> thread::JoinHandle<u32> {
    let thread = thread as usize;
    thread::spawn(move || {
        let mut sent = 0;
        while !stop.load(Ordering::SeqCst) {
            // SAFETY: the target thread lives until `stop` is set by its joiner.
            unsafe { libc::pthread_kill(thread as libc::pthread_t, libc::SIGUSR1) };
            sent += 1;
            thread::sleep(Duration::from_millis(5));
        }
        sent
    })
}

#[test]
fn signals_during_a_lock_wait_are_waited_through_or_returned() {
    interrupting_handler();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let writer = Arc::new(LogWriter::builder(&log).open().unwrap());
    for interruptible in [false, true] {
        let held = hold(writer.lock_path());
        let w = Arc::clone(&writer);
        let t = thread::spawn(move || {
            let mut interrupted = 0;
            loop {
                let result = if interruptible {
                    w.interruptible().write(b"x\n")
                } else {
                    w.write(b"x\n")
                };
                match result {
                    Err(Error::Interrupted) => interrupted += 1,
                    other => break other.map(|()| interrupted),
                }
            }
        });
        let stop = Arc::new(AtomicBool::new(false));
        let pest = pester(t.as_pthread_t(), Arc::clone(&stop));
        thread::sleep(Duration::from_millis(300));
        held.unlock().unwrap();
        let interrupted = t.join().unwrap().expect("the write failed");
        stop.store(true, Ordering::SeqCst);
        assert!(pest.join().unwrap() > 10);
        if interruptible {
            assert!(interrupted > 0, "no interruption was returned");
        } else {
            assert_eq!(interrupted, 0);
        }
    }
    assert_eq!(fs::read(&log).unwrap(), b"x\nx\n");
}

#[test]
fn a_lock_file_that_is_a_link_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    symlink(&victim, dir.path().join(".__app.lock")).unwrap();
    let err = LogWriter::builder(dir.path().join("app.log"))
        .chmod(0o600)
        .open()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotRegular {
                kind: FileKind::Symlink,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(err.raw_os_error(), Some(libc::ELOOP));
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
}

#[test]
fn a_fifo_among_the_backups_never_blocks_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let fifo = std::ffi::CString::new(dir.path().join("app.log.1").to_str().unwrap()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let writer = LogWriter::builder(&log)
        .max_bytes(10)
        .backup_count(3)
        .use_gzip(true)
        .open()
        .unwrap();
    let start = Instant::now();
    let mut refused = 0;
    for i in 0..6 {
        match writer.write(format!("record {i}\n").as_bytes()) {
            Ok(()) => {}
            Err(Error::NotRegular {
                kind: FileKind::Fifo,
                ..
            }) => refused += 1,
            Err(e) => panic!("{e}"),
        }
    }
    writer.wait_for_compression().unwrap_or(());
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(refused > 0, "the FIFO was never reported");
    let kinds: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_type().unwrap())
        .collect();
    assert!(
        kinds.iter().any(std::os::unix::fs::FileTypeExt::is_fifo),
        "the FIFO was removed"
    );
}
