//! Time rotation with an injected clock: no test sleeps through real periods.
//!
//! Test clocks are set before the tests run in real time: file times (which the writer
//! compares with the clock) are then always later than the clock, and ignored.

mod common;

use clh::{Clock, LogWriter, Schedule, When};
use common::read_set;
use jiff::Timestamp;
use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A clock the test moves by hand.
#[derive(Clone)]
struct TestClock(Arc<AtomicI64>);

impl TestClock {
    fn at(iso: &str) -> Self {
        TestClock(Arc::new(AtomicI64::new(
            iso.parse::<Timestamp>().unwrap().as_second(),
        )))
    }
    fn set(&self, iso: &str) {
        self.0.store(
            iso.parse::<Timestamp>().unwrap().as_second(),
            Ordering::SeqCst,
        );
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_second(self.0.load(Ordering::SeqCst)).unwrap()
    }
}

fn utc(when: When, interval: u32) -> Schedule {
    Schedule::new(when, interval).unwrap().utc(true)
}

fn open(path: &Path, schedule: Schedule, clock: &TestClock, backups: u32) -> LogWriter {
    LogWriter::builder(path)
        .schedule(schedule)
        .backup_count(backups)
        .clock(clock.clone())
        .open()
        .unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<_> = read_set(dir)
        .into_keys()
        .filter(|n| !n.starts_with(".__"))
        .collect();
    v.sort();
    v
}

fn lock_content(dir: &Path) -> String {
    fs::read_to_string(dir.join(".__app.lock")).unwrap()
}

#[test]
fn midnight_rotation_names_the_day_and_shares_the_next_time() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let clock = TestClock::at("2025-11-26T22:00:00Z");
    let a = open(&log, utc(When::Midnight, 1), &clock, 0);
    let b = open(&log, utc(When::Midnight, 1), &clock, 0);
    a.write(b"a before\n").unwrap();
    b.write(b"b before\n").unwrap();
    let midnight = "2025-11-27T00:00:00Z"
        .parse::<Timestamp>()
        .unwrap()
        .as_second();
    assert_eq!(lock_content(dir.path()), midnight.to_string());
    clock.set("2025-11-27T00:00:01Z");
    b.write(b"b after\n").unwrap();
    a.write(b"a after\n").unwrap();
    let set = read_set(dir.path());
    assert_eq!(set["app.log.2025-11-26"], b"a before\nb before\n");
    assert_eq!(set["app.log"], b"b after\na after\n");
    assert_eq!(
        a.num_rollovers() + b.num_rollovers(),
        1,
        "exactly one rotation per period"
    );
    let next = "2025-11-28T00:00:00Z"
        .parse::<Timestamp>()
        .unwrap()
        .as_second();
    assert_eq!(lock_content(dir.path()), next.to_string());
}

#[test]
fn size_rotations_inside_a_period_get_counters_and_retention_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let clock = TestClock::at("2025-11-26T10:00:00Z");
    let w = LogWriter::builder(&log)
        .schedule(utc(When::Hour, 1))
        .max_bytes(10)
        .backup_count(3)
        .use_gzip(true)
        .clock(clock.clone())
        .open()
        .unwrap();
    for i in 0..3 {
        w.write(format!("ten bytes{i}\n").as_bytes()).unwrap();
    }
    clock.set("2025-11-26T11:00:00Z");
    w.write(b"next hour\n").unwrap();
    w.wait_for_compression().unwrap();
    // Period 10:00-11:00: two size rotations (base name, then .1), then the hour ends (.2).
    assert_eq!(
        names(dir.path()),
        [
            "app.log",
            "app.log.2025-11-26_10.1.gz",
            "app.log.2025-11-26_10.2.gz",
            "app.log.2025-11-26_10.gz"
        ]
    );
    clock.set("2025-11-26T12:00:00Z");
    w.write(b"noon\n").unwrap();
    w.wait_for_compression().unwrap();
    // Retention: the oldest (the base name, counter 0) went; 3 remain.
    assert_eq!(
        names(dir.path()),
        [
            "app.log",
            "app.log.2025-11-26_10.1.gz",
            "app.log.2025-11-26_10.2.gz",
            "app.log.2025-11-26_11.gz"
        ]
    );
}

#[test]
fn a_restart_after_a_missed_rollover_rotates_on_the_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let clock = TestClock::at("2025-11-26T10:00:00Z");
    open(&log, utc(When::Midnight, 1), &clock, 0)
        .write(b"yesterday\n")
        .unwrap();
    // The process stops; it is started again two days later.
    clock.set("2025-11-28T09:00:00Z");
    let w = open(&log, utc(When::Midnight, 1), &clock, 0);
    w.write(b"today\n").unwrap();
    let set = read_set(dir.path());
    assert_eq!(set["app.log.2025-11-26"], b"yesterday\n");
    assert_eq!(set["app.log"], b"today\n");
}

#[test]
fn corrupt_or_implausible_lock_contents_are_recomputed_never_used() {
    for junk in ["", "garbage", "12", "-5", "99999999999", "\u{0}\u{ff}"] {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        fs::write(dir.path().join(".__app.lock"), junk).unwrap();
        let clock = TestClock::at("2025-11-26T10:00:00Z");
        let w = open(&log, utc(When::Hour, 1), &clock, 0);
        w.write(b"one\n").unwrap();
        assert_eq!(
            names(dir.path()),
            ["app.log"],
            "junk {junk:?} caused a rotation"
        );
        let expected = "2025-11-26T11:00:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_second();
        assert_eq!(
            lock_content(dir.path()),
            expected.to_string(),
            "junk {junk:?}"
        );
        assert!(!names(dir.path())
            .iter()
            .any(|n| n.contains("1969") || n.contains("1970")));
    }
}

#[test]
fn the_clock_stepping_back_neither_rotates_nor_stalls_a_new_process() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let clock = TestClock::at("2025-11-26T10:00:00Z");
    open(&log, utc(When::Hour, 1), &clock, 0)
        .write(b"before\n")
        .unwrap();
    // The clock steps back a day: a new process must not wait a day and a day for the stored time.
    clock.set("2025-11-25T10:00:00Z");
    let w = open(&log, utc(When::Hour, 1), &clock, 0);
    w.write(b"stepped back\n").unwrap();
    assert_eq!(names(dir.path()), ["app.log"]);
    let expected = "2025-11-25T11:00:00Z"
        .parse::<Timestamp>()
        .unwrap()
        .as_second();
    assert_eq!(lock_content(dir.path()), expected.to_string());
    clock.set("2025-11-25T11:00:00Z");
    w.write(b"an hour later\n").unwrap();
    assert_eq!(names(dir.path()), ["app.log", "app.log.2025-11-25_10"]);
}

#[test]
fn local_midnight_across_dst_with_at_time() {
    let tz = jiff::tz::TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
    let schedule = Schedule::new(When::Midnight, 1)
        .unwrap()
        .time_zone(tz)
        .at_time(jiff::civil::time(1, 30, 0, 0));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    // Sat 2026-10-31 12:00 EDT.
    let clock = TestClock::at("2026-10-31T16:00:00Z");
    let w = open(&log, schedule, &clock, 0);
    w.write(b"sat\n").unwrap();
    // 01:30 EDT on Sunday 2026-11-01 (the first of the two 01:30s) is 05:30Z.
    assert_eq!(
        lock_content(dir.path()),
        "2026-11-01T05:30:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_second()
            .to_string()
    );
    clock.set("2026-11-01T05:30:00Z");
    w.write(b"sun\n").unwrap();
    // The next 01:30 is Monday 01:30 EST = 06:30Z (a 25-hour day).
    assert_eq!(
        lock_content(dir.path()),
        "2026-11-02T06:30:00Z"
            .parse::<Timestamp>()
            .unwrap()
            .as_second()
            .to_string()
    );
    assert!(read_set(dir.path()).contains_key("app.log.2026-10-31"));
}

#[test]
fn retention_never_touches_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    for other in [
        "app.log.notes",
        "app.log.2026-13-45",
        "app.log.2026-01-01.bak",
        "other.log.2026-01-01",
    ] {
        fs::write(dir.path().join(other), b"keep me").unwrap();
    }
    let clock = TestClock::at("2025-11-26T10:00:00Z");
    let w = open(&log, utc(When::Day, 1), &clock, 1);
    for day in 26..30 {
        clock.set(&format!("2025-11-{day}T10:00:01Z"));
        w.write(b"x\n").unwrap();
    }
    let left = names(dir.path());
    for other in [
        "app.log.notes",
        "app.log.2026-13-45",
        "app.log.2026-01-01.bak",
        "other.log.2026-01-01",
    ] {
        assert!(
            left.contains(&other.to_string()),
            "{other} was deleted: {left:?}"
        );
    }
    assert_eq!(
        left.iter()
            .filter(|n| n.starts_with("app.log.2025-11"))
            .count(),
        1
    );
}
