//! `tracing` events as JSON lines (tracing-subscriber's `json` format), one record per
//! event, read back and parsed.
//!
//! ```text
//! cargo run -p clh --example tracing_json --features tracing -- /tmp/clh-example/events.json.log
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
                .join("events.json.log")
        });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let writer = clh::LogWriter::builder(&path)
        .max_bytes(1 << 20)
        .backup_count(3)
        .open()?;
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_writer(writer) // each event: one write() under the lock
        .finish();

    let start = std::fs::metadata(&path).map_or(0, |m| m.len());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request", id = 7, path = "/checkout");
        let _entered = span.enter();
        tracing::info!(user = "alice", items = 3, "cart priced");
        tracing::warn!(latency_ms = 812, "slow payment provider");
        tracing::info!(
            note = "a message\nwith a newline stays one line of JSON",
            "done"
        );
    });

    // Read back what this run appended: one JSON object per line.
    let text = std::fs::read_to_string(&path)?;
    let ours = text.get(start as usize..).unwrap_or(&text);
    println!("appended to {}:", path.display());
    for line in ours.lines() {
        let event: serde_json::Value = serde_json::from_str(line)?;
        println!(
            "  {} {:5} {:<24} span={}",
            event["timestamp"].as_str().unwrap_or("?"),
            event["level"].as_str().unwrap_or("?"),
            event["message"].as_str().unwrap_or("?"),
            event["span"]["name"]
        );
    }
    Ok(())
}
