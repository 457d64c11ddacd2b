//! The `log` crate through env_logger (filters from `RUST_LOG`, its format) into a
//! shared, rotating log: `Target::Pipe` with `clh::log::Pipe`, each record one record
//! of the file, queued for a background thread; the guard writes what is queued.
//!
//! ```text
//! RUST_LOG=debug cargo run -p clh --example log_env_logger --features log -- /tmp/clh-example/env_logger.log
//! ```
#![allow(clippy::print_stdout)] // an example prints what it did
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir()
                .join("clh-example")
                .join("env_logger.log")
        });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let writer = clh::LogWriter::builder(&path)
        .max_bytes(1 << 20)
        .backup_count(3)
        .use_gzip(true)
        .open()?;
    let (shared, guard) =
        clh::BackgroundWriter::new(writer, clh::QueueOptions::default())?.with_guard();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .target(env_logger::Target::Pipe(Box::new(clh::log::Pipe::new(
            shared,
        ))))
        .init();

    let start = std::fs::metadata(&path).map_or(0, |m| m.len());
    log::info!("service starting");
    log::debug!("shown with RUST_LOG=debug");
    for job in 0..3 {
        log::info!(target: "worker", "job {job} done");
    }
    log::warn!("queue at {}%", 80);
    guard.finish()?; // as dropping it: write what is queued

    let text = std::fs::read_to_string(&path)?;
    println!("appended to {}:", path.display());
    print!("{}", text.get(start as usize..).unwrap_or(&text));
    Ok(())
}
