//! Benchmark 1: `tracing_subscriber::fmt` (one format, no ANSI) into
//! tracing-appender's `rolling::never` + `non_blocking` (lossy, the default, and
//! `lossy(false)`), into ours (background and sync, size rotation at 10 MiB with gzip)
//! and into a bare `std::fs::File` opened with `O_APPEND` (the floor).
//!
//! Every run is a fresh process (this binary, `tracing-child`), so each gets its own
//! global subscriber; the 4-process runs start four of them at once on one log. The
//! time is the wall time from spawning the process(es) to their exit, which includes
//! writing what is queued and finishing the last compression. Then the files are read
//! back (`.gz` decompressed) and every distinct (writer, sequence number) counted.

use crate::common::{self, Tally};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The event's message: with the time stamp, level, target and fields, a line is
/// about 130 bytes.
const MESSAGE: &str = "bench event: the quick brown fox jumps over the lazy dog";

/// Writers compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    /// `std::fs::File` with `O_APPEND`: one `write()` per event, no lock, no rotation.
    File,
    /// tracing-appender `non_blocking(rolling::never(..))`, lossy (its default).
    TaLossy,
    /// tracing-appender `NonBlockingBuilder::default().lossy(false)`.
    TaLossless,
    /// Ours: `BackgroundWriter` (queue + thread), 10 MiB rotation, gzip.
    OursBackground,
    /// The same with `queue_overflow: Drop` (counted, announced): like for like
    /// with tracing-appender's lossy default.
    OursBackgroundDrop,
    /// Ours: `LogWriter`, one locked `write()` per event, 10 MiB rotation, gzip.
    OursSync,
}

impl Writer {
    const ALL: [Writer; 6] = [
        Writer::File,
        Writer::TaLossy,
        Writer::TaLossless,
        Writer::OursBackground,
        Writer::OursBackgroundDrop,
        Writer::OursSync,
    ];

    fn key(self) -> &'static str {
        match self {
            Writer::File => "file",
            Writer::TaLossy => "ta-lossy",
            Writer::TaLossless => "ta-lossless",
            Writer::OursBackground => "ours-bg",
            Writer::OursBackgroundDrop => "ours-bg-drop",
            Writer::OursSync => "ours-sync",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Writer::File => "`File` + `O_APPEND` (floor)",
            Writer::TaLossy => "tracing-appender non_blocking (lossy, default)",
            Writer::TaLossless => "tracing-appender non_blocking `lossy(false)`",
            Writer::OursBackground => "ours background, 10 MiB + gzip",
            Writer::OursBackgroundDrop => "ours background, 10 MiB + gzip, overflow Drop",
            Writer::OursSync => "ours sync, 10 MiB + gzip",
        }
    }

    fn from_key(key: &str) -> Option<Writer> {
        Writer::ALL.into_iter().find(|w| w.key() == key)
    }
}

/// One configuration: a writer, threads per process, processes.
#[derive(Clone, Copy, Debug)]
struct Case {
    writer: Writer,
    threads: u64,
    procs: u64,
}

impl Case {
    fn shape(&self) -> String {
        if self.procs > 1 {
            format!("{} processes", self.procs)
        } else if self.threads > 1 {
            format!("{} threads", self.threads)
        } else {
            "1 thread".into()
        }
    }
}

/// What one run gave.
#[derive(Clone, Debug)]
struct Outcome {
    elapsed: Duration,
    lost: u64,
    duplicates: u64,
    garbled: u64,
    /// Dropped records as the writer itself counted them (tracing-appender's
    /// `dropped_lines`, our `dropped_records`).
    reported_dropped: u64,
}

/// Options of the tracing benchmark.
#[derive(Clone, Debug)]
pub struct Options {
    /// Events per run (all threads and processes together).
    pub events: u64,
    /// Rounds; the table shows the median rate and the worst loss.
    pub rounds: usize,
    /// Where the runs write (one fresh directory each).
    pub base: PathBuf,
}

/// Backups for our writers: enough to keep every event of a run, so that losses
/// can be counted (nothing is deleted by rotation).
fn backups_for(events: u64) -> u32 {
    u32::try_from(events * 200 / common::MAX_BYTES + 10).unwrap_or(u32::MAX)
}

/// Run the benchmark and return its section of the report (markdown).
pub fn run(opts: &Options) -> std::io::Result<String> {
    let mut cases = Vec::new();
    for threads in [1, 4] {
        for writer in Writer::ALL {
            cases.push(Case {
                writer,
                threads,
                procs: 1,
            });
        }
    }
    for writer in [Writer::File, Writer::OursBackground, Writer::OursSync] {
        cases.push(Case {
            writer,
            threads: 1,
            procs: 4,
        });
    }
    let mut results: Vec<Vec<Outcome>> = vec![Vec::new(); cases.len()];
    let load_before = common::load_average();
    let started = Instant::now();
    for round in 0..opts.rounds {
        // Rotate the order each round, so that no case always runs first or last.
        for i in 0..cases.len() {
            let index = (i + round * 3) % cases.len();
            let case = cases[index];
            let dir = common::fresh_dir(&opts.base, "tracing-run")?;
            let outcome = run_case(case, &dir, opts.events)?;
            println!(
                "  round {}/{}: {:<48} {:<11} {:>10}  lost {} (reported dropped {})",
                round + 1,
                opts.rounds,
                case.writer.label(),
                case.shape(),
                common::rate(opts.events as f64 / outcome.elapsed.as_secs_f64()),
                outcome.lost,
                outcome.reported_dropped
            );
            std::fs::remove_dir_all(&dir)?;
            results[index].push(outcome);
        }
    }
    let took = started.elapsed();

    // Per case: median events/s (handed to the subscriber), median written/s (events
    // found in the files afterwards), and the range of events/s.
    let events = opts.events as f64;
    let stats: Vec<(f64, f64, f64, f64)> = results
        .iter()
        .map(|runs| {
            let rates: Vec<f64> = runs
                .iter()
                .map(|o| events / o.elapsed.as_secs_f64())
                .collect();
            let written: Vec<f64> = runs
                .iter()
                .map(|o| (opts.events - o.lost) as f64 / o.elapsed.as_secs_f64())
                .collect();
            (
                common::median(&rates),
                common::median(&written),
                rates.iter().copied().fold(f64::INFINITY, f64::min),
                rates.iter().copied().fold(0.0, f64::max),
            )
        })
        .collect();
    let find = |writer: Writer, threads: u64, procs: u64| {
        cases
            .iter()
            .position(|c| c.writer == writer && c.threads == threads && c.procs == procs)
            .map_or((f64::NAN, f64::NAN, f64::NAN, f64::NAN), |i| stats[i])
    };
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let (rate, written, min, max) = stats[i];
        let lossy = find(Writer::TaLossy, case.threads, 1);
        let lossless = find(Writer::TaLossless, case.threads, 1);
        let floor = find(Writer::File, case.threads, case.procs);
        let worst = |f: fn(&Outcome) -> u64| results[i].iter().map(f).max().unwrap_or(0);
        let lost = worst(|o| o.lost);
        let extra = worst(|o| o.duplicates) + worst(|o| o.garbled);
        let reported = worst(|o| o.reported_dropped);
        let versus = |reference: f64| {
            if case.procs > 1 {
                "n/a".into()
            } else {
                common::ratio(rate, reference)
            }
        };
        rows.push(vec![
            case.writer.label().to_string(),
            case.shape(),
            common::rate(rate),
            common::rate(written),
            format!("{:.2}–{:.2}", min / 1e6, max / 1e6),
            versus(lossy.0),
            versus(lossless.0),
            common::ratio(rate, floor.0),
            if extra > 0 {
                format!("{lost} (+{extra} dup/garbled)")
            } else {
                lost.to_string()
            },
            match case.writer {
                Writer::File | Writer::OursSync => "-".into(),
                _ => reported.to_string(),
            },
        ]);
        if case.writer == Writer::OursBackground && case.procs == 1 {
            let met = rate >= lossless.0 && written >= lossy.1 && lost == 0;
            verdicts.push(format!(
                "- {}: ours background (nothing dropped) {:.2}× `lossy(false)`; against the \
                 lossy default {:.2}× in events handed in, {:.2}× in events written; {lost} \
                 lost. Target (≥ 1.0× non_blocking, 0 lost): **{}**{}",
                case.shape(),
                rate / lossless.0,
                rate / lossy.0,
                written / lossy.1,
                if met { "met" } else { "not met" },
                if met && rate < lossy.0 {
                    " (the lossy default takes events faster only by dropping them)"
                } else {
                    ""
                }
            ));
        }
    }
    let per_event = bytes_per_event(opts.events);
    let mut out = String::new();
    out.push_str(&format!(
        "### `tracing_subscriber::fmt` → writer, {} events per run\n\n",
        opts.events
    ));
    out.push_str(&format!(
        "Same `fmt()` layer (default format, no ANSI, ~{per_event} bytes an event) for every \
         writer; 1 and 4 threads in one process, or 4 processes of 1 thread writing one log \
         ({} events in all). Ours: 10 MiB size rotation, gzip on, {} backups so that nothing \
         is deleted and every event can be counted; tracing-appender: `rolling::never` (no \
         rotation, no compression). Time: wall time from spawning the process(es) to their \
         exit (writing the queue and the last compression included). Median of {} rounds \
         (range: events/s, in millions). events/s: events handed to `tracing` per second; \
         written/s: events found in the files afterwards per second; ratios are of events/s. \
         lost: worst round, counted by reading every file back (`.gz` decompressed) and \
         counting distinct (writer, sequence number); reported: what the writer itself \
         counted as dropped (ours also says so in the log: `concurrent_log_handler: N \
         record(s) were not written: the background queue was full`).\n\n",
        opts.events,
        backups_for(opts.events),
        opts.rounds
    ));
    out.push_str(&common::markdown_table(
        &[
            "writer",
            "shape",
            "events/s",
            "written/s",
            "range",
            "× non_blocking lossy",
            "× non_blocking lossless",
            "× floor",
            "lost",
            "reported dropped",
        ],
        &rows,
    ));
    out.push('\n');
    for v in &verdicts {
        out.push_str(v);
        out.push('\n');
    }
    out.push_str(&common::conditions_line(&opts.base, &load_before, took));
    Ok(out)
}

/// The size of one formatted event, measured on a sample run in memory.
fn bytes_per_event(events: u64) -> usize {
    use std::sync::{Arc, Mutex};
    let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = Arc::clone(&buf);
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || Capture(Arc::clone(&sink)))
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(w = 3u64, seq = events / 2, "{}", MESSAGE);
    });
    let n = buf.lock().map_or(0, |b| b.len());
    n
}

struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Run one case in fresh process(es) writing into `dir`, then count what is there.
fn run_case(case: Case, dir: &Path, events: u64) -> std::io::Result<Outcome> {
    let exe = std::env::current_exe()?;
    let per_proc = events / case.procs;
    let started = Instant::now();
    let children: Vec<_> = (0..case.procs)
        .map(|id| {
            Command::new(&exe)
                .arg("tracing-child")
                .args(["--writer", case.writer.key()])
                .args(["--threads", &case.threads.to_string()])
                .args(["--events", &per_proc.to_string()])
                .args(["--id", &id.to_string()])
                .args(["--backups", &backups_for(events).to_string()])
                .arg("--dir")
                .arg(dir)
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<std::io::Result<_>>()?;
    let mut reported_dropped = 0;
    for child in children {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "tracing-child {} failed: {}",
                case.writer.key(),
                out.status
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        reported_dropped += text
            .trim()
            .strip_prefix("dropped ")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    let elapsed = started.elapsed();

    let writers = case.procs * case.threads;
    let per_writer = events / writers;
    let mut tally = Tally::new(writers, per_writer);
    common::for_each_line(dir, |line| match parse_event(line) {
        Some((w, seq)) => tally.mark(w, seq),
        // Our announcement of dropped records (overflow Drop): not an event.
        None if line.starts_with(b"concurrent_log_handler: ") => {}
        None => tally.garbled += 1,
    })?;
    Ok(Outcome {
        elapsed,
        lost: writers * per_writer - tally.distinct(),
        duplicates: tally.duplicates,
        garbled: tally.garbled,
        reported_dropped,
    })
}

/// `(writer, seq)` from a line ending `<MESSAGE> w=<writer> seq=<seq>`.
fn parse_event(line: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(line).ok()?;
    let (head, seq) = text.rsplit_once(" seq=")?;
    let (head, w) = head.rsplit_once(" w=")?;
    if !head.ends_with(MESSAGE) {
        return None;
    }
    Some((
        common::parse_u64(w.as_bytes())?,
        common::parse_u64(seq.as_bytes())?,
    ))
}

/// `tracing-child`: log `--events` events from `--threads` threads with `--writer`
/// into `--dir`, then print `dropped N`. Writer numbers are `id * threads + t`.
pub fn child(args: &[String]) -> Result<(), String> {
    let mut writer = None;
    let (mut threads, mut events, mut id, mut backups) = (1u64, 0u64, 0u64, 10u32);
    let mut dir = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--writer" => {
                let v = value()?;
                writer = Some(Writer::from_key(&v).ok_or(format!("unknown writer {v}"))?);
            }
            "--threads" => threads = value()?.parse().map_err(|e| format!("{e}"))?,
            "--events" => events = value()?.parse().map_err(|e| format!("{e}"))?,
            "--id" => id = value()?.parse().map_err(|e| format!("{e}"))?,
            "--backups" => backups = value()?.parse().map_err(|e| format!("{e}"))?,
            "--dir" => dir = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let writer = writer.ok_or("--writer is required")?;
    let dir = dir.ok_or("--dir is required")?;
    let path = dir.join("app.log");
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let ours = || {
        clh::LogWriter::builder(&path)
            .max_bytes(common::MAX_BYTES)
            .backup_count(backups)
            .use_gzip(true)
            .open()
    };
    let per_thread = events / threads;
    let emit = move || {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let w = id * threads + t;
                std::thread::spawn(move || {
                    for seq in 0..per_thread {
                        tracing::info!(w, seq, "{}", MESSAGE);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("an event thread panicked");
        }
    };
    let fmt = || tracing_subscriber::fmt().with_ansi(false);
    let dropped = match writer {
        Writer::File => {
            let file = OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
                .map_err(|e| err(&e))?;
            set_global(fmt().with_writer(file).finish())?;
            emit();
            0
        }
        Writer::TaLossy | Writer::TaLossless => {
            let appender = tracing_appender::rolling::never(&dir, "app.log");
            let (non_blocking, guard) =
                tracing_appender::non_blocking::NonBlockingBuilder::default()
                    .lossy(writer == Writer::TaLossy)
                    .finish(appender);
            let counter = non_blocking.error_counter();
            set_global(fmt().with_writer(non_blocking).finish())?;
            emit();
            drop(guard); // writes what is queued (waiting at most 1 s: its design)
            counter.dropped_lines() as u64
        }
        Writer::OursBackground | Writer::OursBackgroundDrop => {
            let mut queue = clh::QueueOptions::default();
            if writer == Writer::OursBackgroundDrop {
                queue.queue_overflow = clh::Overflow::Drop;
            }
            let background = clh::BackgroundWriter::new(ours().map_err(|e| err(&e))?, queue)
                .map_err(|e| err(&e))?;
            let (shared, guard) = background.with_guard();
            set_global(fmt().with_writer(shared).finish())?;
            emit();
            let dropped = guard.dropped_records();
            guard.finish().map_err(|e| err(&e))?; // the queue, then compressions
            dropped
        }
        Writer::OursSync => {
            let shared = clh::SharedWriter::from(ours().map_err(|e| err(&e))?);
            set_global(fmt().with_writer(shared.clone()).finish())?;
            emit();
            shared.writer().close().map_err(|e| err(&e))?; // waits for compressions
            0
        }
    };
    println!("dropped {dropped}");
    Ok(())
}

fn set_global(subscriber: impl tracing::Subscriber + Send + Sync + 'static) -> Result<(), String> {
    tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())
}
