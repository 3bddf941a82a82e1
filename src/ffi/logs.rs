//! `set_log_level` and `next_log`: hosts pull the plugin's log records (see `crate::logging`).

use std::sync::Mutex;
use std::time::Duration;

use openclaw_skill_abi::{OcLogLevel, OcLogRecord, OcStatus, OcStr};

use super::{guard, report, required};
use crate::logging::{self, LogEntry};

/// The record last handed out: its strings stay valid until the next `next_log` call.
static CURRENT: Mutex<Option<LogEntry>> = Mutex::new(None);

/// See [`openclaw_skill_abi::OcSkillVTable::set_log_level`].
///
/// # Safety
/// None beyond the C calling convention (a plain value argument).
pub(super) unsafe extern "C" fn set_log_level(max_level: OcLogLevel) -> OcStatus {
    let result = guard(|| {
        logging::set_level(match max_level {
            OcLogLevel::OFF => log::LevelFilter::Off,
            OcLogLevel::ERROR => log::LevelFilter::Error,
            OcLogLevel::WARN => log::LevelFilter::Warn,
            OcLogLevel::INFO => log::LevelFilter::Info,
            OcLogLevel::DEBUG => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        });
        Ok(())
    });
    // SAFETY: a null `out_error` is always allowed.
    unsafe { report(result, std::ptr::null_mut()) }
}

/// See [`openclaw_skill_abi::OcSkillVTable::next_log`].
///
/// # Safety
/// `out_record` writable; one caller at a time (the previous record's strings are released).
pub(super) unsafe extern "C" fn next_log(
    timeout_ms: u32,
    out_record: *mut OcLogRecord,
) -> OcStatus {
    let mut status = OcStatus::OK;
    let result = guard(|| {
        required(out_record, "out_record")?;
        let mut current = CURRENT.lock().unwrap_or_else(|e| e.into_inner());
        *current = logging::next(Duration::from_millis(u64::from(timeout_ms)));
        let Some(entry) = current.as_ref() else {
            status = OcStatus::TIMEOUT;
            return Ok(());
        };
        let record = OcLogRecord {
            level: OcLogLevel(entry.level as u32),
            target: OcStr::borrow(&entry.target),
            message: OcStr::borrow(&entry.message),
            dropped_before: entry.dropped_before,
        };
        // SAFETY: checked non-null above; the caller passes a writable `out_record`. Its
        // strings borrow from `CURRENT`, which keeps the entry until the next call.
        unsafe { out_record.write(record) };
        Ok(())
    });
    // SAFETY: a null `out_error` is always allowed.
    match unsafe { report(result, std::ptr::null_mut()) } {
        OcStatus::OK => status,
        failed => failed,
    }
}
