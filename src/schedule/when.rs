//! When a schedule fires: its cron pattern (5 fields, or 6 with seconds first) read in its
//! IANA time zone, the next tick after a moment, and which missed tick (if any) a start
//! catches up on.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::Cron;

/// A schedule's timing. Cheap to clone; threads: any.
#[derive(Debug, Clone)]
pub struct When {
    cron: Cron,
    zone: Tz,
}

impl When {
    /// Parses `pattern` in `time_zone`; `Err` says what is wrong with which.
    pub fn parse(pattern: &str, time_zone: &str) -> Result<When, WhenError> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(pattern)
            .map_err(|e| WhenError::Cron(e.to_string()))?;
        let zone = Tz::from_str(time_zone).map_err(|_| WhenError::TimeZone)?;
        Ok(When { cron, zone })
    }

    /// The first tick strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.zone), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The latest tick at or before `now`.
    pub fn latest_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&now.with_timezone(&self.zone), true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The tick to run at a start, given the last tick run (`None`: the schedule never ran
    /// here, so nothing was missed): the latest tick after it, if it is at most `grace` old.
    /// Returns `(tick to run, ticks skipped as too old)`.
    pub fn catch_up(
        &self,
        last_run: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> (Option<DateTime<Utc>>, bool) {
        let (Some(last), Some(latest)) = (last_run, self.latest_until(now)) else {
            return (None, false);
        };
        if latest <= last {
            return (None, false);
        }
        if now - latest <= grace {
            (Some(latest), false)
        } else {
            (None, true)
        }
    }

    /// The time zone's name.
    pub fn zone(&self) -> Tz {
        self.zone
    }
}

/// Why a schedule's timing is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WhenError {
    /// The cron pattern does not parse.
    #[error("is not a cron pattern of 5 fields (minute hour day month weekday) or 6 (seconds first): {0}")]
    Cron(String),
    /// The time zone is not an IANA name.
    #[error("is not an IANA time zone name such as Asia/Shanghai")]
    TimeZone,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_weekday_morning_in_shanghai_is_early_utc() {
        let when = When::parse("30 9 * * 1-5", "Asia/Shanghai").unwrap();
        // Friday 2026-11-27 02:00 UTC is 10:00 in Shanghai: the next tick is Monday 09:30.
        assert_eq!(
            when.next_after(at("2026-11-27T02:00:00Z")),
            Some(at("2026-11-30T01:30:00Z"))
        );
        assert_eq!(
            when.latest_until(at("2026-11-30T01:30:00Z")),
            Some(at("2026-11-30T01:30:00Z")),
            "a tick at exactly now counts"
        );
    }

    #[test]
    fn six_fields_have_seconds() {
        let when = When::parse("*/5 * * * * *", "UTC").unwrap();
        assert_eq!(
            when.next_after(at("2026-11-30T00:00:01Z")),
            Some(at("2026-11-30T00:00:05Z"))
        );
    }

    #[test]
    fn only_the_latest_missed_tick_within_the_grace_runs() {
        let when = When::parse("0 * * * *", "UTC").unwrap();
        let grace = chrono::Duration::seconds(900);
        let last = at("2026-11-30T05:00:00Z");
        // Down from 05:10 to 08:05: 06:00, 07:00 and 08:00 were missed; 08:00 is 5 min old.
        assert_eq!(
            when.catch_up(Some(last), at("2026-11-30T08:05:00Z"), grace),
            (Some(at("2026-11-30T08:00:00Z")), false)
        );
        // Back at 08:20: the latest missed one is 20 min old, too old.
        assert_eq!(
            when.catch_up(Some(last), at("2026-11-30T08:20:00Z"), grace),
            (None, true)
        );
        // Nothing missed, or never ran here.
        assert_eq!(
            when.catch_up(
                Some(at("2026-11-30T08:00:00Z")),
                at("2026-11-30T08:05:00Z"),
                grace
            ),
            (None, false)
        );
        assert_eq!(
            when.catch_up(None, at("2026-11-30T08:05:00Z"), grace),
            (None, false)
        );
    }

    #[test]
    fn bad_patterns_and_zones_say_what_is_wrong() {
        assert!(matches!(
            When::parse("每天 9 点", "Asia/Shanghai"),
            Err(WhenError::Cron(_))
        ));
        assert_eq!(
            When::parse("0 9 * * *", "Beijing").unwrap_err(),
            WhenError::TimeZone
        );
    }
}
