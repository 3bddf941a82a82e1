//! Time helpers: a monotonic "ms since start" clock plus wall-clock formatting.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A server's clock: monotonic milliseconds since the server started, anchored to the wall clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    start_epoch_ms: i64,
}

impl Clock {
    /// A clock starting now.
    pub(crate) fn start() -> Self {
        Self {
            start: Instant::now(),
            start_epoch_ms: epoch_ms_now(),
        }
    }

    /// The instant the clock started: `at_ms` readings count from it.
    pub(crate) fn started_at(&self) -> Instant {
        self.start
    }

    /// Milliseconds since the clock started.
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The current wall-clock time in epoch milliseconds, on this clock (consistent with [`Clock::epoch_ms_at`]).
    pub(crate) fn epoch_now(&self) -> i64 {
        self.epoch_ms_at(self.now_ms())
    }

    /// The wall-clock epoch milliseconds of a clock reading.
    pub(crate) fn epoch_ms_at(&self, at_ms: u64) -> i64 {
        self.start_epoch_ms
            .saturating_add(i64::try_from(at_ms).unwrap_or(i64::MAX))
    }
}

/// The current wall-clock time in epoch milliseconds.
pub(crate) fn epoch_ms_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Formats epoch milliseconds as `YYYY-MM-DD HH:MM:SS` in China Standard Time (UTC+8), the form DingTalk
/// uses in its flow-control messages ("限制将在 2026-09-21 12:00:04 结束").
pub(crate) fn format_beijing(epoch_ms: i64) -> String {
    let secs = epoch_ms.div_euclid(1000) + 8 * 3600;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// The calendar month `(year, month)` of epoch milliseconds in China Standard Time (UTC+8).
pub(crate) fn beijing_month(epoch_ms: i64) -> (i64, i64) {
    let days = (epoch_ms.div_euclid(1000) + 8 * 3600).div_euclid(86_400);
    let (y, m, _) = civil_from_days(days);
    (y, m)
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_beijing_time() {
        // 1795543609 s is "Tue, 24 Nov 2026 18:06:49 GMT" (the success capture in
        // docs/gateway.md, "Transcripts").
        assert_eq!(format_beijing(1_795_543_609_000), "2026-11-25 02:06:49");
        assert_eq!(format_beijing(0), "1970-01-01 08:00:00");
        assert_eq!(format_beijing(951_782_400_000), "2000-02-29 08:00:00");
        // 2026-03-31 16:00:00 UTC is already April 1st in Beijing.
        assert_eq!(beijing_month(1_774_972_800_000), (2026, 4));
        assert_eq!(beijing_month(1_774_972_799_999), (2026, 3));
    }
}
