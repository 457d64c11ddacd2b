//! `tracing` to a log that rotates by size and gzips its backups: every event is one
//! record, written by a background thread; the guard writes what is queued at the end.
//!
//! ```text
//! cargo run -p clh --example tracing_rotation --features tracing -- /tmp/clh-example/tracing.log
//! ```
#![allow(clippy::print_stdout)] // an example prints what it did
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("clh-example").join("tracing.log"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let writer = clh::LogWriter::builder(&path)
        .max_bytes(64 * 1024)
        .backup_count(5)
        .use_gzip(true)
        .open()?;
    // The subscriber holds `shared` for the life of the process; `guard` stays here.
    let (shared, guard) =
        clh::BackgroundWriter::new(writer, clh::QueueOptions::default())?.with_guard();
    tracing_subscriber::fmt()
        .with_writer(shared.clone())
        .with_max_level(tracing::Level::DEBUG)
        .init();

    for batch in 0..4 {
        let span = tracing::info_span!("batch", batch);
        let _entered = span.enter();
        for order in 0..2_500 {
            tracing::info!(
                order,
                customer = "acme",
                amount_cents = 1999,
                "order processed"
            );
        }
        tracing::debug!("batch done");
    }
    guard.finish()?; // as dropping it: write what is queued, finish compressions

    let set = clh::Inventory::of(&path, None)?;
    println!(
        "10004 events -> {} ({} rotations by this process); the set now:",
        path.display(),
        shared.writer().num_rollovers()
    );
    for file in &set.files {
        println!("  {:>8} bytes  {}", file.size, file.path.display());
    }
    Ok(())
}
