//! Framed, numbered records for the front ends' tests, and the checks that read a log
//! set back: every record whole (its frame and payload intact, across the line break
//! some payloads carry), none lost, none repeated, each writer's in its order. Also
//! the re-execution of the test binary as child processes.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

/// The variable that tells a re-executed test binary it is a child, and what to do.
pub const CHILD: &str = "CLH_FRONT_CHILD";

/// The message of record `i` of writer `id` ("child.thread"): `BEGIN id.i <payload>
/// END id.i`, the payload 0 to 199 bytes, every tenth across a line break.
pub fn message(id: &str, i: u32) -> String {
    format!("BEGIN {id}.{i} {} END {id}.{i}", payload(id, i))
}

fn payload(id: &str, i: u32) -> String {
    let len = (i as usize * 7 + id.len()) % 200;
    let c = char::from(b'a' + (i % 26) as u8);
    let mut p: String = std::iter::repeat_n(c, len).collect();
    if i % 10 == 3 {
        p.insert(len / 2, '\n');
    }
    p
}

/// What a log set holds, once parsed.
#[derive(Debug, Default)]
pub struct Parsed {
    /// `(writer id, record number)` in file order.
    pub records: Vec<(String, u32)>,
    /// Other lines (notices of lost records).
    pub others: Vec<String>,
}

/// Parse `text`: every framed record must be whole, its payload intact; lines without
/// a frame are kept in `others`.
pub fn parse(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut open: Option<(String, u32, String)> = None;
    for line in text.lines() {
        if let Some((id, i, mut so_far)) = open.take() {
            let end = format!(" END {id}.{i}");
            assert!(
                line.ends_with(&end),
                "record {id}.{i} torn: its second line is {line:?}"
            );
            so_far.push('\n');
            so_far.push_str(line);
            check_payload(&id, i, &so_far);
            parsed.records.push((id, i));
            continue;
        }
        let Some(at) = line.find("BEGIN ") else {
            parsed.others.push(line.to_owned());
            continue;
        };
        let frame = &line[at..];
        let key = frame["BEGIN ".len()..].split(' ').next().unwrap();
        let (id, i) = key.rsplit_once('.').unwrap();
        let i: u32 = i.parse().unwrap();
        if frame.ends_with(&format!(" END {key}")) {
            check_payload(id, i, frame);
            parsed.records.push((id.to_owned(), i));
        } else {
            open = Some((id.to_owned(), i, frame.to_owned()));
        }
    }
    assert!(open.is_none(), "the last record is torn: {open:?}");
    parsed
}

fn check_payload(id: &str, i: u32, frame: &str) {
    assert_eq!(frame, message(id, i), "record {id}.{i} corrupted");
}

/// Every writer in `ids` has records `0..count`, each once, in order.
pub fn assert_complete(parsed: &Parsed, ids: &[String], count: u32) {
    let mut next: HashMap<&str, u32> = HashMap::new();
    for (id, i) in &parsed.records {
        let expected = next.entry(id.as_str()).or_insert(0);
        assert_eq!(
            *i, *expected,
            "writer {id}: record {i} lost before, repeated or out of order"
        );
        *expected += 1;
    }
    for id in ids {
        assert_eq!(
            next.get(id.as_str()),
            Some(&count),
            "writer {id}: records lost"
        );
    }
    assert_eq!(next.len(), ids.len(), "records of unknown writers");
}

/// The text of the log set at `log`, oldest file first (gzipped ones decompressed);
/// also checks that no work was left pending (an uncompressed backup, a temporary).
pub fn set_text(log: &Path) -> (String, clh::Inventory) {
    let set = clh::Inventory::of(log, None).unwrap();
    assert!(
        set.pending.is_empty(),
        "work left pending: {:?}",
        set.pending
    );
    let mut text = String::new();
    for file in &set.files {
        let raw = std::fs::read(&file.path).unwrap();
        if file.gz {
            flate2::read::GzDecoder::new(&raw[..])
                .read_to_string(&mut text)
                .unwrap();
        } else {
            text.push_str(std::str::from_utf8(&raw).unwrap());
        }
    }
    (text, set)
}

/// Run the test `name` of this binary in one child process per spec (the spec in
/// [`CHILD`]), all at once, and wait for them all to succeed.
pub fn run_children(name: &str, specs: &[String]) {
    let me = std::env::current_exe().unwrap();
    let children: Vec<_> = specs
        .iter()
        .map(|spec| {
            Command::new(&me)
                .args(["--exact", name, "--ignored", "--nocapture"])
                .env(CHILD, spec)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (child, spec) in children.into_iter().zip(specs) {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child {spec} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "child {spec} ran no test"
        );
    }
}

/// The whole check of a fleet's log set (`processes` processes of `threads` threads,
/// writer ids `"process.thread"`, `count` records each): no stray line, every record
/// whole, once and in its writer's order, many rotations and every backup gzipped.
/// Returns the parsed set and its text; prints what was found.
pub fn assert_fleet(log: &Path, processes: usize, threads: usize, count: u32) -> (Parsed, String) {
    let (text, set) = set_text(log);
    let parsed = parse(&text);
    assert!(parsed.others.is_empty(), "stray lines: {:?}", parsed.others);
    let ids: Vec<String> = (0..processes)
        .flat_map(|n| (0..threads).map(move |t| format!("{n}.{t}")))
        .collect();
    assert_complete(&parsed, &ids, count);
    assert_eq!(parsed.records.len(), processes * threads * count as usize);
    let gz = set.files.iter().filter(|f| f.gz).count();
    assert!(gz >= 10, "expected many gzipped backups, found {gz}");
    assert_eq!(gz, set.files.len() - 1, "every backup is gzipped");
    println!(
        "{} of {} records found, whole, in {} files ({gz} .gz)",
        parsed.records.len(),
        processes * threads * count as usize,
        set.files.len()
    );
    (parsed, text)
}

/// The lines of the log at `log` after two records were lost to a missing directory
/// (named `logs`) and one more was written: the notice of the two, then that record.
pub fn assert_loss_announced(log: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0]
            .starts_with("concurrent_log_handler: 2 record(s) were not written: writing failed: "),
        "{text}"
    );
    assert!(
        lines[0].contains("logs"),
        "the reason names the file: {text}"
    );
    lines
}
