//! `job 2>&1 | clh write …` run as cron runs it: `sh -c` with cron's minimal
//! environment (`env -i PATH=/usr/bin:/bin SHELL=/bin/sh HOME=… LOGNAME=…`), no
//! terminal, standard input from /dev/null; several runs one after the other, and
//! two that overlap (a job that outlasts its interval). Every line of every run,
//! standard output and standard error alike, must be in the log once.
#![cfg(unix)]

mod common;

use common::*;
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const LINES: usize = 400;

fn cron_run(home: &Path, log: &Path, run: usize) -> Child {
    // The job: lines on stdout and stderr, in bursts, as a real job's output comes.
    let job = format!(
        "i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); echo \"run {run} out $i\"; \
         echo \"run {run} err $i\" >&2; done"
    );
    let line = format!(
        "({job}) 2>&1 | {CLH} write {} --max-bytes 4KiB --backups 500 --gzip --timestamp",
        log.display()
    );
    Command::new("env")
        .args(["-i", "PATH=/usr/bin:/bin", "SHELL=/bin/sh", "LOGNAME=cron"])
        .arg(format!("HOME={}", home.display()))
        .args(["/bin/sh", "-c", &line])
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped()) // cron mails whatever comes out: nothing should
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "cron would mail: {out:?}"
    );
}

#[test]
fn cron_runs_lose_nothing() {
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("job.log");
    for run in 0..3 {
        finish(cron_run(home.path(), &log, run));
    }
    let overlapping: Vec<_> = (3..5).map(|run| cron_run(home.path(), &log, run)).collect();
    overlapping.into_iter().for_each(finish);

    let text = String::from_utf8(cat(&log)).unwrap();
    let mut seen = HashSet::new();
    for line in text.lines() {
        // "<timestamp> run R out|err I"
        let (_stamp, body) = line.split_once(' ').unwrap();
        assert!(seen.insert(body.to_owned()), "duplicated: {body}");
    }
    for run in 0..5 {
        for i in 1..=LINES {
            for stream in ["out", "err"] {
                let body = format!("run {run} {stream} {i}");
                assert!(seen.contains(&body), "lost: {body}");
            }
        }
    }
    assert_eq!(seen.len(), 5 * LINES * 2);
}
