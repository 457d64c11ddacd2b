//! Several processes of one program logging through `tracing` to one file, rotated at
//! 32 KiB and gzipped: the program starts copies of itself, each logs numbered events,
//! then the parent reads the whole set back (oldest file first) and checks that every
//! event of every process is there exactly once, whole, and in its process's order.
//!
//! ```text
//! cargo run -p clh --example tracing_processes --features tracing
//! ```
#![allow(clippy::print_stdout)] // an example prints what it did
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

const PROCESSES: u32 = 4;
const EVENTS: u32 = 2_000;
const CHILD: &str = "CLH_EXAMPLE_CHILD";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join("clh-example-tracing-processes");
    let log = dir.join("app.log");
    if let Ok(n) = std::env::var(CHILD) {
        return child(&log, n.parse()?);
    }
    // A fresh set for every run (this directory belongs to the example).
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let me = std::env::current_exe()?;
    let children: Vec<_> = (0..PROCESSES)
        .map(|n| Command::new(&me).env(CHILD, n.to_string()).spawn())
        .collect::<Result<_, _>>()?;
    for mut child in children {
        assert!(child.wait()?.success(), "a child failed");
    }
    check(&log)
}

/// One process: events `p<n> e<i> ... end` through the fmt layer, to the shared log.
fn child(log: &Path, n: u32) -> Result<(), Box<dyn std::error::Error>> {
    let writer = clh::LogWriter::builder(log)
        .max_bytes(32 * 1024)
        .backup_count(1000)
        .use_gzip(true)
        .open()?;
    let shared = clh::SharedWriter::from(writer);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(shared.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..EVENTS {
            let pad = "x".repeat((i % 50) as usize);
            tracing::info!(pid = std::process::id(), "p{n} e{i} {pad} end");
        }
    });
    shared.writer().close()?; // finish this process's compressions
    Ok(())
}

fn check(log: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let set = clh::Inventory::of(log, None)?;
    let mut next: HashMap<u32, u32> = HashMap::new();
    let mut records = 0;
    for file in &set.files {
        let raw = std::fs::read(&file.path)?;
        let text = if file.gz {
            let mut s = String::new();
            flate2::read::GzDecoder::new(&raw[..]).read_to_string(&mut s)?;
            s
        } else {
            String::from_utf8(raw)?
        };
        for line in text.lines() {
            // "<time>  INFO tracing_processes: p<n> e<i> xxx end pid=<pid>"
            let event = line.split(": ").nth(1).ok_or("a torn line")?;
            let mut words = event.split(' ');
            let n: u32 = words
                .next()
                .and_then(|w| w.strip_prefix('p'))
                .ok_or("torn")?
                .parse()?;
            let i: u32 = words
                .next()
                .and_then(|w| w.strip_prefix('e'))
                .ok_or("torn")?
                .parse()?;
            let pad = words.next().ok_or("torn")?;
            let whole = pad.len() as u32 == i % 50 && event.contains(" end pid=");
            assert!(whole, "a torn record: {line:?}");
            let expected = next.entry(n).or_insert(0);
            assert_eq!(
                i, *expected,
                "process {n}: event {i} out of order or repeated"
            );
            *expected += 1;
            records += 1;
        }
    }
    for n in 0..PROCESSES {
        assert_eq!(next.get(&n), Some(&EVENTS), "process {n} lost events");
    }
    let gz = set.files.iter().filter(|f| f.gz).count();
    println!(
        "{PROCESSES} processes x {EVENTS} events: {records} records in {} files ({gz} gzipped backups) \
         under {}; every event present once, whole, in its process's order",
        set.files.len(),
        log.parent().unwrap_or(log).display()
    );
    Ok(())
}
