//! Several threads appending to one rotating, compressed log.
//!
//! ```text
//! cargo run -p clh --example threads -- /tmp/clh-example/app.log
//! ```
#![allow(clippy::print_stdout)] // an example prints what it did
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;

fn main() -> Result<(), clh::Error> {
    let path: PathBuf = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("clh-example").join("app.log"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create the example's directory");
    }
    let writer = Arc::new(
        clh::LogWriter::builder(&path)
            .max_bytes(256 * 1024)
            .backup_count(10)
            .use_gzip(true)
            .open()?,
    );
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let writer = Arc::clone(&writer);
            thread::spawn(move || -> Result<(), clh::Error> {
                for i in 0..10_000 {
                    writer.write(format!("thread {t} record {i}\n").as_bytes())?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().expect("writer thread panicked")?;
    }
    println!(
        "wrote 40000 records to {} ({} rotations by this process)",
        path.display(),
        writer.num_rollovers()
    );
    Ok(())
}
