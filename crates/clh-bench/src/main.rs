//! `clh-bench`: the benchmarks of `make bench-rust` (not tests: nothing here fails
//! on a slow figure; targets are reported as met or not).
//!
//! ```text
//! clh-bench [all|tracing|cli] [--events N] [--lines N] [--rounds N] [--cli-rounds N]
//!           [--clh PATH] [--dir DIR] [--out FILE]
//! ```
//!
//! * `tracing`: `tracing_subscriber::fmt` into tracing-appender, into ours and into
//!   a bare `File` (see `tracing_bench.rs`).
//! * `cli`: `clh write` against rotatelogs, multilog, svlogd and `cat` (see
//!   `cli_bench.rs`); `--clh` defaults to the `clh` beside this binary.
//!
//! Both print a markdown table; `--out` also writes them to a file (with where and
//! when they ran).

// A benchmark's job is to print its figures.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli_bench;
mod common;
mod tracing_bench;

use std::path::PathBuf;
use std::process::ExitCode;

fn usage() -> &'static str {
    "usage: clh-bench [all|tracing|cli] [--events N (1000000)] [--lines N (2000000)] \
     [--rounds N (3, tracing)] [--cli-rounds N (9)] [--clh PATH] [--dir DIR] [--out FILE]"
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("tracing-child") {
        return match tracing_bench::child(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tracing-child: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clh-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let mut what = "all".to_string();
    let (mut events, mut lines) = (1_000_000u64, 2_000_000u64);
    // The `clh write` runs are short (a fraction of a second): more of them.
    let (mut rounds, mut cli_rounds) = (3usize, 9usize);
    let mut clh = None;
    let mut dir = std::env::temp_dir().join("clh-bench-rust");
    let mut out = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        let number = |v: String| {
            v.replace('_', "")
                .parse::<u64>()
                .map_err(|e| format!("{a}: {e}"))
        };
        match a.as_str() {
            "all" | "tracing" | "cli" => what = a.clone(),
            "--events" => events = number(value()?)?,
            "--lines" => lines = number(value()?)?,
            "--rounds" => rounds = number(value()?)?.max(1) as usize,
            "--cli-rounds" => cli_rounds = number(value()?)?.max(1) as usize,
            "--clh" => clh = Some(PathBuf::from(value()?)),
            "--dir" => dir = PathBuf::from(value()?),
            "--out" => out = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    let clh = match clh {
        Some(p) => p,
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("clh"),
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut report = format!(
        "## Rust benchmarks (`make bench-rust`)\n\n{}. Figures from one run of \
         `make bench-rust` on a shared machine: read the ratios, not the absolute \
         rates.\n\n",
        common::host_line()
    );
    if what == "all" || what == "tracing" {
        println!("tracing benchmark: {events} events a run, {rounds} rounds");
        let section = tracing_bench::run(&tracing_bench::Options {
            events,
            rounds,
            base: dir.clone(),
        })
        .map_err(|e| format!("tracing benchmark: {e}"))?;
        println!("\n{section}");
        report.push_str(&section);
        report.push('\n');
    }
    if what == "all" || what == "cli" {
        println!("clh write benchmark: {lines} lines, {cli_rounds} rounds");
        let section = cli_bench::run(&cli_bench::Options {
            lines,
            rounds: cli_rounds,
            base: dir.clone(),
            clh,
        })
        .map_err(|e| format!("clh write benchmark: {e}"))?;
        println!("\n{section}");
        report.push_str(&section);
    }
    if let Some(out) = out {
        std::fs::write(&out, report).map_err(|e| format!("{}: {e}", out.display()))?;
        println!("written to {}", out.display());
    }
    Ok(())
}
