//! The host's logger: human-readable lines or JSON lines (for log shippers) on stderr. The
//! plugin's records arrive here through the log sink bridge.
//!
//! Every record is written to stderr in one piece, counted (so `demo` can say how many log
//! lines it wrote) and, while a live terminal display is registered with [`set_suspend`],
//! written with that display suspended so a log line never tears it.
//!
//! The userinfo of any URL in a record (`https://user:pass@host`) is written as `***`, whoever
//! logged it (the host or the plugin).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};

use clap::ValueEnum;

use crate::redact;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `2026-11-25T12:00:00Z INFO target: message`
    Text,
    /// One JSON object per line: `ts`, `level`, `target`, `msg`.
    Json,
}

/// Runs a closure with a live display out of the way (cleared, redrawn after).
pub type Suspend = Arc<dyn Fn(&mut dyn FnMut()) + Send + Sync>;

/// Lines written so far.
static LINES: AtomicU64 = AtomicU64::new(0);
/// The live display's suspender, while there is one.
static SUSPEND: RwLock<Option<Suspend>> = RwLock::new(None);

/// Installs the logger; `RUST_LOG` overrides `default_level`.
pub fn init(format: LogFormat, default_level: &str) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level));
    builder.target(env_logger::Target::Pipe(Box::new(Stderr)));
    match format {
        LogFormat::Text => builder.format(|buf, record| {
            let msg = record.args().to_string();
            writeln!(
                buf,
                "{} {:5} {}: {}",
                buf.timestamp_millis(),
                record.level(),
                record.target(),
                redact::urls(&msg)
            )
        }),
        LogFormat::Json => builder.format(|buf, record| {
            let line = serde_json::json!({
                "ts": buf.timestamp_millis().to_string(),
                "level": record.level().as_str(),
                "target": record.target(),
                "msg": redact::urls(&record.args().to_string()),
            });
            writeln!(buf, "{line}")
        }),
    };
    let _ = builder.try_init();
}

/// How many log lines (host and plugin) were written so far.
#[cfg(feature = "demo")]
pub fn lines_written() -> u64 {
    LINES.load(Relaxed)
}

/// Registers (or with `None` removes) the live display that log lines must not tear.
#[cfg(feature = "demo")]
pub fn set_suspend(suspend: Option<Suspend>) {
    *SUSPEND.write().unwrap_or_else(|p| p.into_inner()) = suspend;
}

/// stderr, one formatted record per write.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let suspend = SUSPEND.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut result = Ok(());
        let mut write = || result = std::io::stderr().lock().write_all(buf);
        match suspend {
            Some(suspend) => suspend(&mut write),
            None => write(),
        }
        result?;
        let lines = buf.iter().filter(|&&b| b == b'\n').count() as u64;
        LINES.fetch_add(lines, Relaxed);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
