//! `clh cat`: a log's whole set, oldest record first, `.gz` decompressed.
//!
//! The set is found by [`clh::Inventory`]; every file is opened before anything is
//! printed (open descriptors keep their content through renames and deletions), and
//! the listing is taken again to check that no rotation or compression moved a file
//! in between, else it starts over (a few times at most). A backup found both plain
//! and gzipped (a compression not finished yet, or a partial `.gz` that CLH left) is
//! read from the plain file, which is always complete. No lock is taken.

use crate::cli::CatArgs;
use crate::input::is_closed_pipe;
use crate::{report, EXIT_FAILURE, EXIT_OK};
use flate2::read::MultiGzDecoder;
use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// How many times the set is listed and opened before what was opened last is used.
const ATTEMPTS: usize = 5;

/// `clh cat`: returns the exit code.
pub fn run(args: &CatArgs) -> i32 {
    let files = match snapshot(&args.path, args.lock_dir.as_deref()) {
        Ok(files) => files,
        Err(e) => {
            report("cat", e);
            return EXIT_FAILURE;
        }
    };
    if files.is_empty() {
        report(
            "cat",
            format_args!("{}: no file of this log's set exists", args.path.display()),
        );
        return EXIT_FAILURE;
    }
    let mut out = BufWriter::with_capacity(128 * 1024, io::stdout().lock());
    let mut failed = false;
    let mut line_open = false;
    for file in files {
        match print(file.file, file.gz, &mut out, &mut line_open) {
            Ok(()) => {}
            Err(Failure::Read(e)) => {
                let what = if file.gz { "decompressing" } else { "reading" };
                report("cat", format_args!("{what} {}: {e}", file.path.display()));
                failed = true;
                // What a damaged file gave ends its line: the next file's records
                // start on lines of their own.
                if line_open {
                    if let Err(e) = out.write_all(b"\n") {
                        return output_failed(&e);
                    }
                    line_open = false;
                }
            }
            Err(Failure::Write(e)) => return output_failed(&e),
        }
    }
    if let Err(e) = out.flush() {
        return output_failed(&e);
    }
    if failed {
        EXIT_FAILURE
    } else {
        EXIT_OK
    }
}

/// A closed pipe is the reader's choice (`| head`): quiet, exit 0.
fn output_failed(e: &io::Error) -> i32 {
    if is_closed_pipe(e) {
        return EXIT_OK;
    }
    report("cat", format_args!("writing standard output: {e}"));
    EXIT_FAILURE
}

enum Failure {
    Read(io::Error),
    Write(io::Error),
}

/// Copy one file to `out`; `line_open` tells whether the last byte was not a newline.
fn print(file: File, gz: bool, out: &mut impl Write, line_open: &mut bool) -> Result<(), Failure> {
    let mut reader: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            64 * 1024,
            file,
        )))
    } else {
        Box::new(file)
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Read(e)),
        };
        out.write_all(&buf[..n]).map_err(Failure::Write)?;
        *line_open = buf[n - 1] != b'\n';
    }
}

/// One file of the set, opened.
struct Opened {
    path: PathBuf,
    gz: bool,
    file: File,
}

/// Open every file of the set, oldest first, checking that the set did not change
/// while they were opened.
fn snapshot(path: &Path, lock_dir: Option<&Path>) -> clh::Result<Vec<Opened>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let last = attempt == ATTEMPTS;
        let listed = readable(clh::Inventory::of(path, lock_dir)?);
        let mut opened = Vec::with_capacity(listed.len());
        // Not regular files (a planted FIFO or link): never read.
        let mut skipped = Vec::new();
        let mut moved = false;
        for file in &listed {
            match open(&file.path, file.live) {
                Ok(Some(f)) => opened.push(Opened {
                    path: file.path.clone(),
                    gz: file.gz,
                    file: f,
                }),
                Ok(None) => skipped.push(file.path.clone()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    moved = true;
                    if !last {
                        break;
                    }
                }
                Err(e) => {
                    return Err(clh::Error::Io {
                        step: clh::Step::Check,
                        path: file.path.clone(),
                        source: e,
                    })
                }
            }
        }
        if !moved && !last {
            let mut again = readable(clh::Inventory::of(path, lock_dir)?);
            again.retain(|f| !skipped.contains(&f.path));
            moved = !same(&opened, &again);
        }
        if !moved || last {
            for path in skipped {
                report(
                    "cat",
                    format_args!("{}: not a regular file, skipped", path.display()),
                );
            }
            return Ok(opened);
        }
    }
}

/// The files to read: a `.gz` whose plain file is there too is left out.
fn readable(set: clh::Inventory) -> Vec<clh::SetFile> {
    let plain: HashSet<PathBuf> = set
        .files
        .iter()
        .filter(|f| !f.gz)
        .map(|f| f.path.clone())
        .collect();
    set.files
        .into_iter()
        .filter(|f| !(f.gz && plain.contains(&without_gz(&f.path))))
        .collect()
}

fn without_gz(path: &Path) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    let bytes = name.as_encoded_bytes();
    if let Some(stem) = bytes.strip_suffix(b".gz") {
        // SAFETY: cut just before the ASCII ".gz", a boundary that
        // `from_encoded_bytes_unchecked` allows.
        name = unsafe { OsString::from_encoded_bytes_unchecked(stem.to_vec()) };
    }
    PathBuf::from(name)
}

/// Whether the files opened are still the set, name for name and file for file.
fn same(opened: &[Opened], listed: &[clh::SetFile]) -> bool {
    opened.len() == listed.len()
        && opened.iter().zip(listed).all(|(o, l)| {
            o.path == l.path
                && match (o.file.metadata(), fs::symlink_metadata(&l.path)) {
                    (Ok(a), Ok(b)) => identity(&a) == identity(&b) || l.live,
                    _ => false,
                }
        })
}

#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_: &fs::Metadata) -> Option<(u64, u64)> {
    None
}

/// Open a file of the set for reading: a backup is never followed if it is a link,
/// and nothing but a regular file is read (`Ok(None)` otherwise). The live log may
/// be a link to a regular file, as writers allow.
fn open(path: &Path, live: bool) -> io::Result<Option<File>> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if live { 0 } else { libc::O_NOFOLLOW };
        options.custom_flags(libc::O_NONBLOCK | nofollow);
    }
    #[cfg(not(unix))]
    let _ = live;
    let file = match options.open(path) {
        Ok(file) => file,
        #[cfg(unix)]
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(file.metadata()?.is_file().then_some(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_both_plain_and_gzipped_is_read_once_from_the_plain_file() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["app.log.2.gz", "app.log.1", "app.log.1.gz", "app.log"] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        let set = clh::Inventory::of(&dir.path().join("app.log"), None).unwrap();
        let names: Vec<_> = readable(set)
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["app.log.2.gz", "app.log.1", "app.log"]);
    }
}
