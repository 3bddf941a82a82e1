//! The plugin's log records wait here until a host pulls them (`next_log`).
//!
//! The `log` crate's global logger is per `.so`, so the plugin installs its own: it puts each
//! record into a bounded, process-wide queue and returns at once. No plugin thread ever waits
//! for a host to write a log line (inside the Node gateway that would stall card updates
//! behind the gateway's event loop). When the queue is full a new record is dropped and
//! counted; the next record handed out says how many were lost, and `info` counts them all.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Condvar, Mutex, Once};
use std::time::{Duration, Instant};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Records kept at most (a few MB at the longest lines the plugin writes).
const CAPACITY: usize = 8192;

/// One record, owned by the queue until handed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogEntry {
    /// Severity.
    pub level: Level,
    /// The module that logged it.
    pub target: String,
    /// The message.
    pub message: String,
    /// Records dropped since the previous entry was handed out.
    pub dropped_before: u64,
}

struct Queue {
    entries: Mutex<VecDeque<LogEntry>>,
    ready: Condvar,
    /// Dropped since the last entry was handed out.
    dropped: AtomicU64,
    /// Dropped since the process started.
    dropped_total: AtomicU64,
    /// Whether a host has ever pulled: until then panics also go to stderr.
    drained: AtomicBool,
}

static QUEUE: Queue = Queue {
    entries: Mutex::new(VecDeque::new()),
    ready: Condvar::new(),
    dropped: AtomicU64::new(0),
    dropped_total: AtomicU64::new(0),
    drained: AtomicBool::new(false),
};

impl Queue {
    fn push(&self, entry: LogEntry) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= CAPACITY {
            self.dropped.fetch_add(1, Relaxed);
            self.dropped_total.fetch_add(1, Relaxed);
            return;
        }
        entries.push_back(entry);
        drop(entries);
        self.ready.notify_one();
    }

    fn pull(&self, timeout: Duration) -> Option<LogEntry> {
        self.drained.store(true, Relaxed);
        let deadline = Instant::now() + timeout;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(mut entry) = entries.pop_front() {
                entry.dropped_before = self.dropped.swap(0, Relaxed);
                return Some(entry);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            entries = self
                .ready
                .wait_timeout(entries, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

struct QueueLogger;

impl Log for QueueLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        QUEUE.push(LogEntry {
            level: record.level(),
            target: record.target().to_owned(),
            message: record.args().to_string(),
            dropped_before: 0,
        });
    }

    fn flush(&self) {}
}

static LOGGER: QueueLogger = QueueLogger;
static INSTALL: Once = Once::new();

/// Makes the queue this `.so`'s logger (once per process; later calls do nothing), at level
/// INFO until a host sets another, and logs panics through it (also to stderr while no host
/// has pulled a record).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(LevelFilter::Info);
        }
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            log::error!(target: "openclaw_dingtalk::panic", "plugin panic: {info}");
            if !QUEUE.drained.load(Relaxed) {
                default_hook(info);
            }
        }));
    });
}

/// Sets the most verbose level recorded (process-wide).
pub(crate) fn set_level(level: LevelFilter) {
    install();
    log::set_max_level(level);
}

/// The next record, waiting at most `timeout`.
pub(crate) fn next(timeout: Duration) -> Option<LogEntry> {
    install();
    QUEUE.pull(timeout)
}

/// Records dropped since the process started (the queue was full).
pub(crate) fn dropped_total() -> u64 {
    QUEUE.dropped_total.load(Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking_the_logger() {
        let queue = Queue {
            entries: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            dropped: AtomicU64::new(0),
            dropped_total: AtomicU64::new(0),
            drained: AtomicBool::new(false),
        };
        let entry = |i: usize| LogEntry {
            level: Level::Info,
            target: "t".into(),
            message: format!("回复 {i}"),
            dropped_before: 0,
        };
        for i in 0..CAPACITY + 5 {
            queue.push(entry(i));
        }
        let first = queue.pull(Duration::ZERO).unwrap();
        assert_eq!(first.message, "回复 0");
        assert_eq!(first.dropped_before, 5);
        assert_eq!(queue.pull(Duration::ZERO).unwrap().dropped_before, 0);
        assert_eq!(queue.dropped_total.load(Relaxed), 5);
        while queue.pull(Duration::ZERO).is_some() {}
        assert_eq!(queue.pull(Duration::from_millis(1)), None);
    }
}
