//! The command line: clap definitions and every `--help` text (written to read like
//! a man page: `clh write --help`; `-h` gives the short form).

use crate::parse;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const ABOUT: &str = "Many processes, one log file: append with rotation, read a log set back, \
                     see its state";

const LONG_ABOUT: &str = "\
Many processes, one log file. `clh write` appends standard input to a log that any
number of processes share, rotating it by size and/or time; `clh cat` prints the
whole set back, oldest record first; `clh status` shows who holds its lock and what
is pending.

Every command speaks the on-disk protocol of the Python package
concurrent-log-handler (CLH) 0.9.31: the same lock file (`.__NAME.lock` beside the
log, an exclusive flock around every write), the same backup names. So `clh write`
processes, programs using the Rust crate `clh`, and Python processes using CLH or
its drop-in concurrent-log-handler-rs can all write one log at once.";

const AFTER_LONG_HELP: &str = "\
EXAMPLES
    job 2>&1 | clh write /var/log/job.log --max-bytes 10MiB --backups 5
    clh cat /var/log/job.log | grep ERROR
    clh status /var/log/job.log

    See `clh write --help` for Apache, cron and several writers.

EXIT STATUS
    0   success
    1   the work failed: records could not be written, a file could not be read
        (standard error says which file, which step and how many records)
    2   usage error: unknown option, bad value, missing PATH";

/// `clh`: the top level.
#[derive(Debug, Parser)]
#[command(
    name = "clh",
    bin_name = "clh",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_long_help = AFTER_LONG_HELP,
    arg_required_else_help = true,
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Append standard input to a shared log, one record per line, with
    /// rotation.
    #[command(long_about = WRITE_LONG_ABOUT, after_long_help = WRITE_AFTER_LONG_HELP)]
    Write(WriteArgs),
    /// Print a log's whole set, oldest record first (.gz backups
    /// decompressed).
    #[command(long_about = CAT_LONG_ABOUT, after_long_help = CAT_AFTER_LONG_HELP)]
    Cat(CatArgs),
    /// Show a log set's files, who holds its lock, pending work, next
    /// rotation.
    #[command(long_about = STATUS_LONG_ABOUT, after_long_help = STATUS_AFTER_LONG_HELP)]
    Status(StatusArgs),
}

const WRITE_LONG_ABOUT: &str = "\
Append standard input to the log at PATH, one record per line, shared safely with
every other writer of that log: other `clh write` processes, programs using the Rust
crate `clh`, Python processes using concurrent-log-handler (CLH 0.9.31) or its
drop-in. Each record is written whole, within one write() made under the log's
lock, so lines from many writers never mix or tear, and a rotation made by one
writer is seen by all of them. Nothing is lost or duplicated when writers rotate at the same time.

ROTATION
    By size (--max-bytes), by time (--when), or both: whichever comes first. Size
    backups are PATH.1 (newest) ... PATH.N; time backups are named after their
    period (PATH.2026-11-28, then .1, .2 ... for size rotations within a period).
    With --gzip a thread of this process compresses each backup after the rotation,
    off the lock (PATH.1.gz appears only when complete). All writers of one log
    should be given the same rotation options.

INPUT
    A record is a line, its \"\\n\" included; with -0, the bytes up to a NUL, written
    with a \"\\n\" instead of the NUL (none added if it already ends with one). The
    bytes are written as they are (any encoding). A last line without a terminator
    is written with a newline added.

    Input is read in chunks of up to 256 KiB and written in batches: every
    record read since the last batch (up to 1 MiB of them) under one acquisition
    of the lock, in one write() unless the size limit falls inside the batch. It
    is split there, at the end of the record that reaches the limit: exactly
    where records written one by one would rotate, so a log exceeds --max-bytes
    by at most one record. --when is checked before each write(). Lines are not
    looked at one by one (only with -0 or --timestamp, which remake each record),
    so a batch costs little more than copying it. When input stops for a moment
    (one line from Apache, say), what was read is written at once: batching never
    delays a record. Up to 4 batches wait in memory while the log is busy; then
    reading waits (nothing is dropped) and so does whoever writes to clh write.
    A record of any length is written whole, never cut: a record longer than a
    batch gets memory for itself, released once it is written.

STOPPING
    At end of input, or on SIGTERM, SIGINT or SIGHUP, clh write reads what is already
    waiting in its input (for at most one more second), writes every record it has
    read, waits for compressions to finish, and exits 0. A signal that the parent
    set to be ignored (nohup, background jobs of sh) stays ignored. If no record
    can be written for 10 s after a signal or after the end of input (another
    process holds the lock all along, or every write fails), it gives up, says how
    much was not written, and exits 1; a second signal at least one
    second after the first ends it at once, with exit code 1.

WRITE ERRORS
    While writing fails (disk full, quota, I/O error), the records wait in memory
    and are retried from the first one not written (none is written twice), with
    pauses from 10 ms to 1 s; the error is reported on standard error at most every
    5 s, and \"writing works again\" when it does. A rotation or a compression that
    fails is reported too; the records are written anyway.";

const WRITE_AFTER_LONG_HELP: &str = "\
EXAMPLES
    Apache (a site's config or apache2.conf): Apache starts the command once and
    pipes every access-log line to it; clh write rotates without restarting Apache
    (a rotation is a few renames; compression runs on a thread of its own). At a
    stop or restart Apache closes the pipe or sends SIGTERM; clh write then writes
    every line it has read and exits.

        CustomLog \"|/usr/local/bin/clh write /var/log/apache2/access.log --max-bytes 10MiB --backups 5\" combined
        ErrorLog  \"|/usr/local/bin/clh write /var/log/apache2/error.log --max-bytes 10MiB --backups 5\"

    cron (crontab -e): each run appends its output and errors to one log; runs that
    overlap share it safely. Give the full path: cron's PATH is short.

        */5 * * * * /usr/local/bin/job 2>&1 | /usr/local/bin/clh write /var/log/job.log --max-bytes 1MiB --backups 10 --timestamp

    Several writers into one log, at the same time (any mix of clh write,
    Python processes using concurrent-log-handler, programs using the clh crate):

        worker-a 2>&1 | clh write /var/log/app.log --max-bytes 50MiB --backups 20 --gzip &
        worker-b 2>&1 | clh write /var/log/app.log --max-bytes 50MiB --backups 20 --gzip &

    Daily at midnight, local time, keeping 30 days, compressed:

        service 2>&1 | clh write /var/log/service.log --when midnight --backups 30 --gzip

    Records that contain newlines (a stack trace stays one record):

        find /srv -name '*.core' -print0 | clh write -0 /var/log/cores.log

    See the lines as they are logged, with a time stamp:

        tail -F /var/log/syslog | grep --line-buffered sshd | clh write sshd.log --timestamp --tee

EXIT STATUS
    0   every record read was written (also after SIGTERM, SIGINT or SIGHUP)
    1   the log or its lock file could not be opened or created (permission
        denied, missing directory, bad --owner), standard input could not be
        read, or records could not be written for 10 s after the end of input
        or a signal (standard error says how much and why); also after a second
        signal (see STOPPING)
    2   usage error: unknown option, bad size, mode, owner, time or --when,
        --interval/--utc/--at-time without --when

    Errors go to standard error, one line each, starting with \"clh write: \".
    Failures that did not cost a record (a write that failed and then worked, a
    rotation or a compression that failed) are reported there but leave the exit
    status 0.";

/// `clh write`'s options: the builder's, with CLH's defaults.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// The log file (created if missing; its directory must exist).
    #[arg(verbatim_doc_comment, value_name = "PATH")]
    pub path: PathBuf,

    /// Rotate before a write once the log has reached SIZE; 0 never rotates
    /// by size.
    ///
    /// SIZE: a number of bytes, optionally followed by K, M, G, T or KiB,
    /// MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000);
    /// case-insensitive. A log exceeds SIZE by at most one record.
    #[arg(verbatim_doc_comment, long, value_name = "SIZE", value_parser = parse::size, default_value = "0")]
    pub max_bytes: u64,

    /// Backups to keep: PATH.1 (newest) to PATH.N.
    ///
    /// With size rotation only, 0 (the default, as CLH's backupCount)
    /// truncates the log at each rotation instead of keeping it: give
    /// --backups to keep old records. With --when, 0 keeps every dated
    /// backup.
    #[arg(verbatim_doc_comment, long, value_name = "N", default_value_t = clh::DEFAULT_BACKUP_COUNT)]
    pub backups: u32,

    /// Gzip each backup after the rotation, off the lock (PATH.1.gz).
    #[arg(verbatim_doc_comment, long)]
    pub gzip: bool,

    /// Also rotate by time: S, M, H, D (seconds, minutes, hours, days of 24
    /// hours), MIDNIGHT or W0-W6 (weekly, 0 is Monday), as Python's
    /// TimedRotatingFileHandler; case-insensitive.
    ///
    /// Local time (DST included) unless --utc. The next rotation time is
    /// shared through the lock file, so exactly one writer rotates per
    /// period.
    #[arg(verbatim_doc_comment, long, value_name = "WHEN", value_parser = parse::when)]
    pub when: Option<clh::When>,

    /// Rotate every N units of --when (for MIDNIGHT and W0-W6 too: every N
    /// days or weeks).
    #[arg(
        verbatim_doc_comment,
        long,
        value_name = "N",
        default_value_t = 1,
        requires = "when",
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub interval: u32,

    /// Use UTC instead of local time for --when.
    #[arg(verbatim_doc_comment, long, requires = "when")]
    pub utc: bool,

    /// Time of day for MIDNIGHT and W0-W6 (default 00:00), 24-hour clock.
    #[arg(verbatim_doc_comment, long, value_name = "HH:MM[:SS]", requires = "when", value_parser = parse::at_time)]
    pub at_time: Option<jiff::civil::Time>,

    /// Exact permission bits (octal, like 640) for every file created: log,
    /// lock file, backups. Set before the file appears under its name.
    #[arg(verbatim_doc_comment, long, value_name = "MODE", value_parser = parse::mode)]
    pub chmod: Option<u32>,

    /// Owner of every file created: USER, USER:GROUP or :GROUP, names or
    /// numeric ids (needs the privilege to chown). USER alone also sets
    /// USER's login group.
    #[arg(verbatim_doc_comment, long, value_name = "USER[:GROUP]", value_parser = parse::owner)]
    pub owner: Option<(u32, u32)>,

    /// Create files with mode 666 minus MASK (octal, like 027); ignored
    /// with --chmod. The process umask is not changed.
    #[arg(verbatim_doc_comment, long, value_name = "MASK", value_parser = parse::umask)]
    pub umask: Option<u32>,

    /// Put the lock file (.__NAME.lock) in DIR, created if missing, instead
    /// of beside the log. Every writer of the log must use the same DIR.
    #[arg(verbatim_doc_comment, long, value_name = "DIR")]
    pub lock_dir: Option<PathBuf>,

    /// Records end at NUL bytes instead of newlines (each is written with a
    /// newline instead of its NUL).
    #[arg(verbatim_doc_comment, short = '0', long = "null")]
    pub null: bool,

    /// Start each record with the local time, RFC 3339 with milliseconds,
    /// and a space: 2026-11-28T14:03:07.123+01:00 (the time the line was
    /// read).
    #[arg(verbatim_doc_comment, long)]
    pub timestamp: bool,

    /// Copy each record, as written to the log, to standard output too.
    ///
    /// If standard output fails (a closed pipe), copying stops with a
    /// warning and the log still gets every record.
    #[arg(verbatim_doc_comment, long)]
    pub tee: bool,

    /// Trace locking, rotation and recovery to standard error (CLH's
    /// debug=True).
    #[arg(verbatim_doc_comment, long)]
    pub debug: bool,
}

const CAT_LONG_ABOUT: &str = "\
Print the whole set of the log at PATH to standard output, oldest record first: the
backups from the oldest to the newest, then the live log. Numbered backups
(PATH.N ... PATH.1) and dated ones (PATH.2026-11-27, PATH.2026-11-27.1, ...) are
found from PATH alone; .gz backups are decompressed on the fly (several gzip members
are read as one stream). A backup found both plain and gzipped (a compression that
has not finished) is printed once, from the plain file.

The files are opened together, then printed: a snapshot. A rotation that happens at
that moment is retried (up to 5 times); records written after the snapshot, to the
live log, are printed up to the end of the file when it is read. No lock is taken:
writers never wait for a reader.

A closed pipe (`clh cat app.log | head`) ends quietly with exit code 0.";

const CAT_AFTER_LONG_HELP: &str = "\
EXAMPLES
    clh cat /var/log/apache2/access.log | grep -c ' 404 '
    clh cat /var/log/app.log | less
    clh cat /var/log/app.log | tail -n 100

EXIT STATUS
    0   the set was printed (also when the reader closed the pipe early)
    1   no file of the set exists, or a file could not be read or decompressed
        (the others are still printed; standard error names the file)
    2   usage error";

/// `clh cat`'s arguments.
#[derive(Debug, Args)]
pub struct CatArgs {
    /// The log file whose set to print.
    #[arg(verbatim_doc_comment, value_name = "PATH")]
    pub path: PathBuf,

    /// Where the log's lock file lives, if not beside the log (as given to
    /// `clh write --lock-dir`).
    #[arg(verbatim_doc_comment, long, value_name = "DIR")]
    pub lock_dir: Option<PathBuf>,
}

const STATUS_LONG_ABOUT: &str = "\
Show the state of the log set at PATH, read without taking its lock:

  * its files, oldest first, with their sizes, and for .gz backups the size before
    compression (from the gzip trailer);
  * its lock file, and which processes hold the lock and which wait for it, with
    pids and process names (Linux: from /proc/locks; elsewhere only whether it is
    held);
  * the work a writer left pending, which the next writer finishes: a backup not
    compressed yet, a temporary file of a compression in progress (or of a killed
    writer), a rotation that a killed CLH process left half done;
  * the next time rotation, if the log is rotated by time: the lock file's content
    (epoch seconds) shown as local RFC 3339 time.";

const STATUS_AFTER_LONG_HELP: &str = "\
EXAMPLES
    clh status /var/log/apache2/access.log
    watch -n 1 clh status /var/log/app.log

EXIT STATUS
    0   the state was shown (also when no file of the set exists yet)
    1   the log's directory could not be read
    2   usage error";

/// `clh status`'s arguments.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The log file whose set to show.
    #[arg(verbatim_doc_comment, value_name = "PATH")]
    pub path: PathBuf,

    /// Where the log's lock file lives, if not beside the log (as given to
    /// `clh write --lock-dir`).
    #[arg(verbatim_doc_comment, long, value_name = "DIR")]
    pub lock_dir: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn schedule_options_need_when() {
        for extra in [
            ["--utc"].as_slice(),
            &["--interval", "2"],
            &["--at-time", "03:00"],
        ] {
            let mut args = vec!["clh", "write", "x.log"];
            args.extend_from_slice(extra);
            let err = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{extra:?}");
        }
        assert!(Cli::try_parse_from(["clh", "write", "x.log", "--when", "h", "--utc"]).is_ok());
    }
}
