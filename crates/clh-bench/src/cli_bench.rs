//! Benchmark 2: `clh write` against the log writers Debian ships for pipes —
//! `rotatelogs` (apache2-utils), `multilog` (daemontools), `svlogd` (runit) — and
//! `cat >> file` (the floor: no rotation, no lock), all fed the same file of lines
//! through a pipe (`cat input | writer`), size rotation at 10 MiB.
//!
//! Timed runs use the settings asked for (5 backups), so most lines are deleted by
//! rotation; each tool then gets one more run, untimed, with backups enough to keep
//! every line, whose files are read back to count lost lines. 4 `clh write` processes
//! share one log (the other tools cannot: see the table).

use crate::common::{self, Tally};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Backups (or files) in the timed runs.
const BACKUPS: u32 = 5;

/// Writers of the same log at once in the shared-log runs.
const SHARED: usize = 4;

/// The programs compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tool {
    Cat,
    Rotatelogs,
    Multilog,
    Svlogd,
    Clh,
    ClhGzip,
}

impl Tool {
    const ALL: [Tool; 6] = [
        Tool::Cat,
        Tool::Rotatelogs,
        Tool::Multilog,
        Tool::Svlogd,
        Tool::Clh,
        Tool::ClhGzip,
    ];

    fn program(self) -> &'static str {
        match self {
            Tool::Cat => "cat",
            Tool::Rotatelogs => "rotatelogs",
            Tool::Multilog => "multilog",
            Tool::Svlogd => "svlogd",
            Tool::Clh | Tool::ClhGzip => "clh",
        }
    }

    /// How the tool is run (`N`: the number of backups or files).
    fn shown(self) -> &'static str {
        match self {
            Tool::Cat => "`cat >> app.log` (floor: no rotation)",
            Tool::Rotatelogs => "`rotatelogs -n N app.log 10M`",
            Tool::Multilog => "`multilog s10485760 nN ./main`",
            Tool::Svlogd => "`svlogd ./sv` (config: `s10485760`, `nN`)",
            Tool::Clh => "`clh write app.log --max-bytes 10MiB --backups N`",
            Tool::ClhGzip => "`clh write … --backups N --gzip`",
        }
    }
}

/// One configuration: a tool and how many copies write one log at once.
#[derive(Clone, Copy, Debug)]
struct Case {
    tool: Tool,
    writers: usize,
}

/// Options of the CLI benchmark.
#[derive(Clone, Debug)]
pub struct Options {
    /// Lines of input.
    pub lines: u64,
    /// Timed rounds; the table shows the median.
    pub rounds: usize,
    /// Where input and runs go.
    pub base: PathBuf,
    /// The `clh` binary.
    pub clh: PathBuf,
}

/// Line `seq` of the input: its number, then 61–101 bytes in all, content varying
/// (so that gzip has work like a real log's).
fn line(seq: u64, out: &mut Vec<u8>) {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz \
                              abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz ";
    out.clear();
    write!(out, "{seq:09} clh-bench ").expect("writing to a Vec");
    let pad = 40 + (seq * 7919 % 41) as usize;
    let start = (seq % 26) as usize;
    out.extend_from_slice(&ALPHABET[start..start + pad]);
    out.push(b'\n');
}

/// The input file (made once, kept for later runs) and its 4 quarters.
fn inputs(opts: &Options) -> io::Result<(PathBuf, Vec<PathBuf>, u64)> {
    let whole = opts.base.join(format!("input-{}.txt", opts.lines));
    let parts: Vec<PathBuf> = (0..SHARED)
        .map(|k| {
            opts.base
                .join(format!("input-{}.part{k}of{SHARED}.txt", opts.lines))
        })
        .collect();
    let mut buf = Vec::with_capacity(128);
    let mut size = 0;
    for seq in 0..opts.lines {
        line(seq, &mut buf);
        size += buf.len() as u64;
    }
    let ready =
        fs::metadata(&whole).is_ok_and(|m| m.len() == size) && parts.iter().all(|p| p.exists());
    if !ready {
        println!(
            "  generating {} ({} lines, {} MB)",
            whole.display(),
            opts.lines,
            size / 1_000_000
        );
        let mut all = BufWriter::with_capacity(1 << 20, File::create(&whole)?);
        let quarter = opts.lines.div_ceil(SHARED as u64);
        let mut part = None;
        for seq in 0..opts.lines {
            if seq % quarter == 0 {
                if let Some(mut p) = part.take() {
                    BufWriter::flush(&mut p)?;
                }
                let k = (seq / quarter) as usize;
                part = Some(BufWriter::with_capacity(1 << 20, File::create(&parts[k])?));
            }
            line(seq, &mut buf);
            all.write_all(&buf)?;
            if let Some(p) = part.as_mut() {
                p.write_all(&buf)?;
            }
        }
        if let Some(mut p) = part {
            p.flush()?;
        }
        all.flush()?;
    }
    Ok((whole, parts, size))
}

/// Run `case` into `dir` keeping `backups` backups (or files), fed `feeds` (one per
/// writer); return the wall time from spawning the first feeder to the exit of the
/// last writer.
fn run_case(
    opts: &Options,
    case: Case,
    dir: &Path,
    backups: u32,
    feeds: &[PathBuf],
) -> io::Result<Duration> {
    let log = dir.join("app.log");
    if case.tool == Tool::Svlogd {
        fs::create_dir_all(dir.join("sv"))?;
        fs::write(
            dir.join("sv/config"),
            format!("s{}\nn{backups}\n", common::MAX_BYTES),
        )?;
    }
    let command = || -> io::Result<Command> {
        let mut c;
        match case.tool {
            Tool::Cat => {
                c = Command::new("cat");
                c.stdout(OpenOptions::new().append(true).create(true).open(&log)?);
            }
            Tool::Rotatelogs => {
                c = Command::new("rotatelogs");
                c.args(["-n", &backups.to_string()]).arg(&log).arg("10M");
            }
            Tool::Multilog => {
                c = Command::new("multilog");
                c.arg(format!("s{}", common::MAX_BYTES))
                    .arg(format!("n{backups}"))
                    .arg(dir.join("main"));
            }
            Tool::Svlogd => {
                c = Command::new(common::which("svlogd").unwrap_or_else(|| "svlogd".into()));
                c.arg(dir.join("sv"));
            }
            Tool::Clh | Tool::ClhGzip => {
                c = Command::new(&opts.clh);
                c.arg("write").arg(&log).args([
                    "--max-bytes",
                    "10MiB",
                    "--backups",
                    &backups.to_string(),
                ]);
                if case.tool == Tool::ClhGzip {
                    c.arg("--gzip");
                }
            }
        }
        Ok(c)
    };
    let started = Instant::now();
    let mut feeders: Vec<Child> = Vec::new();
    let mut writers: Vec<Child> = Vec::new();
    for feed in feeds {
        let mut feeder = Command::new("cat")
            .arg(feed)
            .stdout(Stdio::piped())
            .spawn()?;
        let pipe = feeder.stdout.take().expect("piped");
        feeders.push(feeder);
        writers.push(command()?.stdin(Stdio::from(pipe)).spawn()?);
    }
    let mut failed = None;
    for mut w in writers {
        let status = w.wait()?;
        if !status.success() {
            failed = Some(status);
        }
    }
    let elapsed = started.elapsed();
    for mut f in feeders {
        f.wait()?;
    }
    if let Some(status) = failed {
        return Err(io::Error::other(format!(
            "{} exited with {status}",
            case.tool.program()
        )));
    }
    Ok(elapsed)
}

/// What the files under `dir` hold: (lost, duplicated, torn or foreign lines).
fn count(dir: &Path, lines: u64) -> io::Result<(u64, u64, u64)> {
    let mut tally = Tally::new(1, lines);
    let mut expected = Vec::with_capacity(128);
    common::for_each_line(dir, |l| {
        let seq = l.get(..9).and_then(common::parse_u64);
        match seq {
            Some(seq) if seq < lines => {
                line(seq, &mut expected);
                if expected[..expected.len() - 1] == *l {
                    tally.mark(0, seq);
                } else {
                    tally.garbled += 1;
                }
            }
            _ => tally.garbled += 1,
        }
    })?;
    Ok((lines - tally.distinct(), tally.duplicates, tally.garbled))
}

/// Run the benchmark and return its section of the report (markdown).
pub fn run(opts: &Options) -> io::Result<String> {
    fs::create_dir_all(&opts.base)?;
    let (whole, parts, size) = inputs(opts)?;
    let mut cases: Vec<Case> = Vec::new();
    let mut skipped = Vec::new();
    for tool in Tool::ALL {
        let found = match tool {
            Tool::Clh | Tool::ClhGzip => opts.clh.is_file(),
            _ => common::which(tool.program()).is_some(),
        };
        if found {
            cases.push(Case { tool, writers: 1 });
        } else {
            skipped.push(tool);
        }
    }
    for tool in [Tool::Cat, Tool::Clh] {
        if !skipped.contains(&tool) {
            cases.push(Case {
                tool,
                writers: SHARED,
            });
        }
    }
    let whole_feed = [whole];
    let feeds = |case: &Case| -> &[PathBuf] {
        if case.writers == 1 {
            &whole_feed
        } else {
            &parts
        }
    };
    let load_before = common::load_average();
    let started = Instant::now();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for round in 0..opts.rounds {
        for i in 0..cases.len() {
            let index = (i + round * 3) % cases.len();
            let case = cases[index];
            let dir = common::fresh_dir(&opts.base, "cli-run")?;
            let t = run_case(opts, case, &dir, BACKUPS, feeds(&case))?;
            println!(
                "  round {}/{}: {} × {:<10} {:>10}",
                round + 1,
                opts.rounds,
                case.writers,
                case.tool.program(),
                common::rate(opts.lines as f64 / t.as_secs_f64()),
            );
            fs::remove_dir_all(&dir)?;
            times[index].push(t);
        }
    }
    // The loss check: every line kept (backups for the whole input and then some).
    let keep = u32::try_from(size / common::MAX_BYTES + 5).unwrap_or(u32::MAX);
    let mut losses = Vec::new();
    for case in &cases {
        let dir = common::fresh_dir(&opts.base, "cli-check")?;
        run_case(opts, *case, &dir, keep, feeds(case))?;
        let counted = count(&dir, opts.lines)?;
        println!(
            "  check: {} × {:<10} lost {}, duplicated {}, torn or mixed lines {}",
            case.writers,
            case.tool.program(),
            counted.0,
            counted.1,
            counted.2
        );
        fs::remove_dir_all(&dir)?;
        losses.push(counted);
    }
    let took = started.elapsed();

    let rate_of = |i: usize| {
        let rates: Vec<f64> = times[i]
            .iter()
            .map(|t| opts.lines as f64 / t.as_secs_f64())
            .collect();
        common::median(&rates)
    };
    let find = |tool: Tool, writers: usize| {
        cases
            .iter()
            .position(|c| c.tool == tool && c.writers == writers)
            .map_or(f64::NAN, rate_of)
    };
    // The best round: these runs last a fraction of a second, and other work on the
    // machine only ever slows a run down.
    let best = |tool: Tool, writers: usize| {
        cases
            .iter()
            .position(|c| c.tool == tool && c.writers == writers)
            .map_or(f64::NAN, |i| {
                times[i]
                    .iter()
                    .map(|t| opts.lines as f64 / t.as_secs_f64())
                    .fold(0.0, f64::max)
            })
    };
    let floor = find(Tool::Cat, 1);
    let (fastest_tool, fastest) = [Tool::Rotatelogs, Tool::Multilog, Tool::Svlogd]
        .into_iter()
        .map(|t| (t, find(t, 1)))
        .filter(|(_, r)| r.is_finite())
        .fold((None, f64::NAN), |(bt, br), (t, r)| {
            if br.is_nan() || r > br {
                (Some(t), r)
            } else {
                (bt, br)
            }
        });
    let mut rows = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let r = rate_of(i);
        let (lost, dup, torn) = losses[i];
        let rates: Vec<f64> = times[i]
            .iter()
            .map(|t| opts.lines as f64 / t.as_secs_f64())
            .collect();
        let min = rates.iter().copied().fold(f64::INFINITY, f64::min);
        let max = rates.iter().copied().fold(0.0, f64::max);
        let what = if case.writers == 1 {
            case.tool.shown().to_string()
        } else if case.tool == Tool::Cat {
            format!("{SHARED} × `cat >> app.log` at once (no rotation)")
        } else {
            format!("{SHARED} × `clh write` at once, one log, ¼ of the lines each")
        };
        rows.push(vec![
            what,
            common::rate(r),
            format!("{:.2}–{:.2}", min / 1e6, max / 1e6),
            common::ratio(r, fastest),
            common::ratio(r, floor),
            lost.to_string(),
            if dup + torn > 0 {
                format!("{dup} / {torn}")
            } else {
                "0".into()
            },
        ]);
    }
    let mut cannot = Vec::new();
    for tool in [Tool::Rotatelogs, Tool::Multilog, Tool::Svlogd] {
        if skipped.contains(&tool) {
            continue;
        }
        let why = match tool {
            Tool::Rotatelogs => {
                "no lock: each copy counts its own bytes and, at its rotation, truncates \
                 the file the others are writing (`-n`): lines of the others are lost"
            }
            _ => {
                "it locks its directory: a second copy exits at once (111, `unable to \
                 lock directory`)"
            }
        };
        rows.push(vec![
            format!("{SHARED} × {} into one log", tool.program()),
            "cannot share".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
        cannot.push(format!("- {SHARED} × {}: {why}.\n", tool.program()));
    }
    for tool in &skipped {
        rows.push(vec![
            tool.shown().to_string(),
            "not installed: skipped".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
        ]);
    }

    let fastest_name = fastest_tool.map_or("none", Tool::program);
    let mut out = String::new();
    out.push_str(&format!(
        "### `clh write` and Debian's pipe loggers, {} lines ({} MB)\n\n",
        opts.lines,
        size / 1_000_000
    ));
    out.push_str(&format!(
        "Each writer is fed one file of {}–{} byte lines (a sequence number, then text) \
         through a pipe: `cat input | WRITER`; size rotation at 10 MiB, N = {BACKUPS} in \
         the timed runs (rotatelogs' `-n` counts the live file, multilog's `n` too; \
         svlogd's and ours do not). Time: wall time from starting the pipeline to the \
         writer's exit (for {SHARED} writers, the last one's). Median of {} rounds (range \
         in M lines/s). Lost, and duplicated / torn-or-mixed lines, come from one more \
         run per row with N = {} (nothing deleted), whose files are read back (`.gz` \
         decompressed) and every line compared with the input. Reference: the fastest \
         of rotatelogs, multilog and svlogd ({fastest_name}), and `cat >> file`.\n\n",
        61, 101, opts.rounds, keep
    ));
    out.push_str(&common::markdown_table(
        &[
            "writer",
            "lines/s",
            "range",
            "× fastest of the three",
            "× floor (cat)",
            "lost",
            "dup / torn",
        ],
        &rows,
    ));
    out.push('\n');
    for line in &cannot {
        out.push_str(line);
    }
    let torn = |tool: Tool, writers: usize| {
        cases
            .iter()
            .position(|c| c.tool == tool && c.writers == writers)
            .map_or(0, |i| losses[i].2)
    };
    if torn(Tool::Rotatelogs, 1) > 0 {
        out.push_str(
            "- rotatelogs writes what each `read()` returns, whole lines or not, and checks \
             the size between reads: at each rotation a line is cut in two, one half in \
             each file (its lost and torn lines above).\n",
        );
    }
    if torn(Tool::Cat, SHARED) > 0 {
        out.push_str(&format!(
            "- {SHARED} × `cat >> app.log`: each `write()` is atomic (`O_APPEND`), but cat \
             writes what it read, not whole lines: lines of different writers get mixed.\n"
        ));
    }
    let clh = find(Tool::Clh, 1);
    if clh.is_finite() {
        let met = clh >= fastest && clh >= 0.5 * floor;
        let best_fastest = fastest_tool.map_or(f64::NAN, |t| best(t, 1));
        out.push_str(&format!(
            "- `clh write`: {:.2}× {fastest_name}, {:.2}× `cat >> file` (best rounds: \
             {:.2}× and {:.2}×): target (≥ 1.0× the fastest of the three, ≥ 0.5× the \
             floor) **{}**\n",
            clh / fastest,
            clh / floor,
            best(Tool::Clh, 1) / best_fastest,
            best(Tool::Clh, 1) / best(Tool::Cat, 1),
            if met { "met" } else { "not met" }
        ));
    }
    if let Some(i) = cases
        .iter()
        .position(|c| c.tool == Tool::Clh && c.writers == SHARED)
    {
        let (lost, dup, torn) = losses[i];
        out.push_str(&format!(
            "- {SHARED} × `clh write` into one log: {lost} lost, {dup} duplicated, {torn} torn: target (0 lost) **{}**\n",
            if lost == 0 && dup == 0 && torn == 0 {
                "met"
            } else {
                "not met"
            }
        ));
    }
    out.push_str(&common::conditions_line(&opts.base, &load_before, took));
    Ok(out)
}
