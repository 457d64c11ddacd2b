//! The `clh` command: many processes, one log file, from the shell.
//!
//! * `clh write PATH [options]` appends standard input to a log shared with every
//!   other writer of it (other `clh write` processes, programs using the `clh` crate,
//!   Python processes using concurrent-log-handler 0.9.31 or this project's drop-in),
//!   one record per line, rotating it by size and/or time;
//! * `clh cat PATH` prints the log's whole set, oldest record first, `.gz` backups
//!   decompressed;
//! * `clh status PATH` shows the set's files, who holds or waits for its lock, the
//!   work a killed writer left for the next one, and the next time rotation.
//!
//! One implementation, reachable two ways: the `clh` binary of this crate, and the
//! Python wheel's `clh` command through the native module. Both call [`run`], which
//! parses the arguments, runs the subcommand and returns the exit code; it prints
//! errors to standard error and never exits the process itself (except when a
//! second signal asks `clh write` to give up at once: see `signals.rs`).
//!
//! Modules: `cli` (the clap definitions and every `--help` text), `parse` (sizes,
//! octal modes, owners, times), `write` (the `write` subcommand: input cut into
//! records, batches written by a thread of their own, many records per acquisition
//! of the lock, tee, timestamps), `input` (standard input, woken by signals), `signals` (the `sigwait`
//! thread), `cat`, `status` and `proclocks` (who holds a lock, from `/proc/locks`).

mod cat;
mod cli;
mod input;
mod parse;
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
mod proclocks;
mod signals;
mod status;
mod write;

use clap::Parser;
use std::ffi::OsString;
use std::io::Write as _;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the work failed (records not written, a file not readable, …); standard
/// error says what, where and how many.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code: a usage error (unknown option, bad value); clap's convention.
pub const EXIT_USAGE: i32 = 2;

/// Parse `args` (the program name first, as `std::env::args_os()` gives them), run the
/// subcommand, and return the exit code: [`EXIT_OK`], [`EXIT_FAILURE`] or
/// [`EXIT_USAGE`]. `--help` and `--version` print to standard output and return 0;
/// errors go to standard error.
///
/// ```
/// assert_eq!(clh_cli::run(vec!["clh".into(), "--version".into()]), 0);
/// assert_eq!(clh_cli::run(vec!["clh".into(), "write".into()]), 2); // PATH missing
/// ```
pub fn run(args: Vec<OsString>) -> i32 {
    let code = match cli::Cli::try_parse_from(args) {
        Ok(cli) => match cli.command {
            cli::Command::Write(args) => write::run(args),
            cli::Command::Cat(args) => cat::run(&args),
            cli::Command::Status(args) => status::run(&args),
        },
        Err(e) => {
            // Help and version go to stdout (exit 0), usage errors to stderr (exit 2).
            let _ = e.print();
            e.exit_code()
        }
    };
    // Inside Python (the wheel's `clh`), nothing flushes Rust's stdout at exit.
    let _ = std::io::stdout().flush();
    code
}

/// Print `clh <command>: <message>` to standard error (a closed stderr is ignored:
/// there is nowhere else to say it).
pub(crate) fn report(command: &str, message: impl std::fmt::Display) {
    let _ = writeln!(std::io::stderr().lock(), "clh {command}: {message}");
}
