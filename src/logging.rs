//! Bridges the plugin's `log` records to the host's logger through the [`OcLogSink`] given to
//! `init`. The `log` crate's global logger is per `.so`, so without this bridge the plugin's
//! records would go nowhere.

use std::sync::{Once, RwLock};

use log::{LevelFilter, Log, Metadata, Record};
use openclaw_skill_abi::{OcLogSink, OcStr};

/// The current sink. Replaced by each `init`; the latest skill's sink receives all records.
static SINK: RwLock<Option<SinkCell>> = RwLock::new(None);
static INSTALL: Once = Once::new();

#[derive(Clone, Copy)]
struct SinkCell(OcLogSink);

// SAFETY: the C contract requires the host's `log` function and `user` pointer to be usable
// from any thread for the life of the process.
unsafe impl Send for SinkCell {}
// SAFETY: as above.
unsafe impl Sync for SinkCell {}

struct Bridge;

impl Log for Bridge {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Some(SinkCell(sink)) = *SINK.read().unwrap_or_else(|e| e.into_inner()) else {
            return;
        };
        let Some(log_fn) = sink.log else { return };
        let message = record.args().to_string();
        let target = record.target();
        // SAFETY: the host promised `log` is callable from any thread with its own `user`
        // pointer; both strings outlive the call.
        unsafe {
            log_fn(
                sink.user,
                record.level() as u32,
                OcStr::borrow(target),
                OcStr::borrow(&message),
            )
        };
    }

    fn flush(&self) {}
}

static BRIDGE: Bridge = Bridge;

/// Installs the bridge (once per process) and makes `sink` the destination of every record.
/// A null sink keeps the current one.
pub fn install(sink: Option<OcLogSink>) {
    INSTALL.call_once(|| {
        let _ = log::set_logger(&BRIDGE);
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            log::error!(target: "openclaw_dingtalk::panic", "plugin panic: {info}");
            if SINK.read().map(|s| s.is_none()).unwrap_or(true) {
                default_hook(info);
            }
        }));
    });
    if let Some(sink) = sink {
        let level = match sink.max_level {
            0 => LevelFilter::Off,
            1 => LevelFilter::Error,
            2 => LevelFilter::Warn,
            3 => LevelFilter::Info,
            4 => LevelFilter::Debug,
            _ => LevelFilter::Trace,
        };
        log::set_max_level(if sink.log.is_some() {
            level
        } else {
            LevelFilter::Off
        });
        *SINK.write().unwrap_or_else(|e| e.into_inner()) = Some(SinkCell(sink));
    }
}
