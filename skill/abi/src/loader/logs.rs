//! Draining the plugin's log queue into the host's `log` logger.
//!
//! The plugin never calls into the host to log: its records wait in a bounded queue inside
//! the plugin, and the host pulls them (`next_log`), as it pulls reply chunks. A Rust host
//! calls [`forward_logs`] once; one thread then moves every record into `log`.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::error::PluginError;
use super::plugin::Plugin;
use crate::codes::{OcLogLevel, OcStatus};
use crate::records::OcLogRecord;

/// One plugin log record, copied out of the plugin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// Severity (`None` for a level this build does not know).
    pub level: Option<log::Level>,
    /// The plugin module that logged it.
    pub target: String,
    /// The message.
    pub message: String,
    /// Records the plugin dropped (queue full) just before this one.
    pub dropped_before: u64,
}

/// `next_log` hands out strings valid until the next call: one caller at a time per process.
static PULL: Mutex<()> = Mutex::new(());

impl Plugin {
    /// Sets the most verbose level the plugin records (process-wide).
    pub fn set_log_level(&self, level: log::LevelFilter) -> Result<(), PluginError> {
        // SAFETY: a plain value argument; callable from any thread.
        let status = unsafe { (self.vtable.set_log_level)(OcLogLevel(level as u32)) };
        self.result(status, crate::strings::OcOwnedStr::empty())
    }

    /// Waits at most `timeout` for the plugin's next log record.
    pub fn next_log(&self, timeout: Duration) -> Result<Option<LogRecord>, PluginError> {
        let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
        let _one_at_a_time = PULL.lock().unwrap_or_else(|e| e.into_inner());
        let mut record = OcLogRecord::empty();
        // SAFETY: `record` is a valid local; calls are serialised by `PULL`.
        let status = unsafe { (self.vtable.next_log)(ms, &mut record) };
        match status {
            OcStatus::OK => Ok(Some(copy(&record))),
            OcStatus::TIMEOUT => Ok(None),
            status => Err(PluginError {
                status,
                message: format!("next_log failed with {status:?}"),
            }),
        }
    }

    /// Forwards every record already queued into `log`, without waiting.
    pub fn flush_logs(&self) {
        while let Ok(Some(record)) = self.next_log(Duration::ZERO) {
            emit(&record);
        }
    }
}

/// Copies a record while its strings are valid (under `PULL`).
fn copy(record: &OcLogRecord) -> LogRecord {
    let level = match record.level {
        OcLogLevel::ERROR => Some(log::Level::Error),
        OcLogLevel::WARN => Some(log::Level::Warn),
        OcLogLevel::INFO => Some(log::Level::Info),
        OcLogLevel::DEBUG => Some(log::Level::Debug),
        OcLogLevel::TRACE => Some(log::Level::Trace),
        _ => None,
    };
    // SAFETY: the strings stay valid until the next `next_log`, which `PULL` holds off.
    let text = |s: crate::strings::OcStr| unsafe { s.as_str() }.unwrap_or("<invalid utf-8>");
    LogRecord {
        level,
        target: text(record.target).to_owned(),
        message: text(record.message).to_owned(),
        dropped_before: record.dropped_before,
    }
}

/// Writes one plugin record through this process's `log` logger.
fn emit(record: &LogRecord) {
    if record.dropped_before > 0 {
        log::warn!(
            target: "openclaw_dingtalk::log",
            "{} plugin log record(s) were dropped: the host did not drain the log queue fast enough",
            record.dropped_before
        );
    }
    let level = record.level.unwrap_or(log::Level::Info);
    log::log!(target: &record.target, level, "{}", record.message);
}

/// Starts (once per process) the thread that moves the plugin's log records into this
/// process's `log` logger, at the logger's current maximum level. Later calls only update
/// the level. The thread runs for the life of the process.
pub fn forward_logs(plugin: Plugin) -> Result<(), PluginError> {
    static STARTED: OnceLock<()> = OnceLock::new();
    plugin.set_log_level(log::max_level())?;
    STARTED.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("plugin-log".into())
            .spawn(move || loop {
                match plugin.next_log(Duration::from_millis(250)) {
                    Ok(Some(record)) => emit(&record),
                    Ok(None) => {}
                    Err(e) => {
                        log::error!("stopped forwarding the plugin's log: {e}");
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            log::error!("cannot start the plugin's log thread: {e}");
        }
    });
    Ok(())
}
