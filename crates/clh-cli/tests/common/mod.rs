//! Helpers for the `clh` command's tests: run the built binary, feed it, wait for it.
#![allow(dead_code)] // each test file uses some of them

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const CLH: &str = env!("CARGO_BIN_EXE_clh");

/// How long a test waits for something that takes milliseconds when all is well.
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn clh() -> Command {
    Command::new(CLH)
}

/// `clh write LOG ARGS…` with `input` on standard input, run to the end.
pub fn write(log: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = clh()
        .arg("write")
        .arg(log)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    out
}

/// `clh write LOG ARGS…` started with a pipe on standard input, left running.
pub fn spawn_write(log: &Path, args: &[&str]) -> Child {
    clh()
        .arg("write")
        .arg(log)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `clh cat LOG`: its standard output (the command must succeed).
pub fn cat(log: &Path) -> Vec<u8> {
    let out = clh().arg("cat").arg(log).output().unwrap();
    assert!(
        out.status.success(),
        "clh cat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `clh status LOG`: its standard output.
pub fn status(log: &Path) -> String {
    let out = clh().arg("status").arg(log).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Wait until `check` holds, or fail after [`PATIENCE`].
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Wait for a child to exit, or kill it and fail after `limit`.
pub fn wait_for(child: &mut Child, limit: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("clh did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Everything a child wrote on standard error (after it exited).
pub fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut err) = child.stderr.take() {
        use std::io::Read;
        let _ = err.read_to_string(&mut text);
    }
    text
}

#[cfg(unix)]
pub fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on a child we started and have not reaped.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill failed");
}

/// The lock file of `log` (beside it).
pub fn lock_path(log: &Path) -> PathBuf {
    clh::lock_path_for(log, None)
}

/// A gzip file of `data` (one member).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Names of the files in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
