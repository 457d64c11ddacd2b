//! The `log` crate through `clh::log::Logger`: a level filter and a simple format
//! (RFC 3339 time, level, target, message), each record one record of a shared,
//! rotating log, written synchronously (one `write()` under the lock per record).
//!
//! ```text
//! cargo run -p clh --example log_logger --features log -- /tmp/clh-example/logger.log
//! ```
#![allow(clippy::print_stdout)] // an example prints what it did
use std::path::PathBuf;

mod db {
    pub fn connect() {
        log::info!("connected to {}", "db.internal:5432");
        log::debug!("pool size {}", 8); // below the filter: not written
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("clh-example").join("logger.log"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let writer = clh::LogWriter::builder(&path)
        .max_bytes(1 << 20)
        .backup_count(3)
        .use_gzip(true)
        .open()?;
    clh::log::Logger::new(writer)
        .level(log::LevelFilter::Info)
        .init()?;

    let start = std::fs::metadata(&path).map_or(0, |m| m.len());
    log::info!("service starting, version {}", env!("CARGO_PKG_VERSION"));
    db::connect();
    log::warn!("disk at {}%", 91);
    log::error!("a message over\ntwo lines is still one record");

    let text = std::fs::read_to_string(&path)?;
    println!("appended to {}:", path.display());
    print!("{}", text.get(start as usize..).unwrap_or(&text));
    Ok(())
}
