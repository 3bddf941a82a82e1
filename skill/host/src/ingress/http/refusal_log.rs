//! Warnings about refused HTTP callbacks, rate limited: one line per source address and reason
//! per period (a minute), then one summary line with how many more were not logged. A flood of
//! bad or replayed callbacks costs a few log lines, not one per request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One line per source and reason per this period.
pub const PERIOD: Duration = Duration::from_secs(60);
/// Sources tracked at once; refusals from further addresses share one entry.
const MAX_SOURCES: usize = 10_000;

#[derive(Debug)]
struct Entry {
    since: Instant,
    suppressed: u64,
    status: u16,
    reason: String,
}

/// The rate limiter of refusal warnings.
#[derive(Debug)]
pub struct RefusalLog {
    period: Duration,
    entries: Mutex<HashMap<(Option<IpAddr>, String), Entry>>,
}

fn source(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "other addresses".to_owned(), |ip| ip.to_string())
}

impl RefusalLog {
    /// A limiter with one line per source and reason per `period`.
    pub fn new(period: Duration) -> RefusalLog {
        RefusalLog {
            period,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// A refusal of a callback from `peer` (`kind` is the metric's reason label). Returns the
    /// line to log, or `None` while this source and reason were logged within the period.
    pub fn refused(
        &self,
        peer: IpAddr,
        status: u16,
        kind: &str,
        reason: &str,
        now: Instant,
    ) -> Option<String> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut key = (Some(peer), kind.to_owned());
        if !entries.contains_key(&key) && entries.len() >= MAX_SOURCES {
            key.0 = None;
        }
        let earlier = match entries.get_mut(&key) {
            Some(e) if now.saturating_duration_since(e.since) < self.period => {
                e.suppressed += 1;
                return None;
            }
            Some(e) => std::mem::take(&mut e.suppressed),
            None => 0,
        };
        let source = source(key.0);
        entries.insert(
            key,
            Entry {
                since: now,
                suppressed: 0,
                status,
                reason: reason.to_owned(),
            },
        );
        let mut line = format!("http callback from {source} refused with {status}: {reason}");
        if earlier > 0 {
            line.push_str(&format!(
                " ({earlier} more like it from this address were not logged)"
            ));
        }
        Some(line)
    }

    /// Ends the periods that are over: one summary line for each source and reason whose
    /// refusals were not all logged; forgets the others.
    pub fn flush(&self, now: Instant) -> Vec<String> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let mut lines = Vec::new();
        entries.retain(|(ip, _), e| {
            if now.saturating_duration_since(e.since) < self.period {
                return true;
            }
            if e.suppressed > 0 {
                lines.push(format!(
                    "http callback from {}: {} more refused with {} ({}) within {} s of the line above were not logged",
                    source(*ip),
                    e.suppressed,
                    e.status,
                    e.reason,
                    self.period.as_secs()
                ));
            }
            false
        });
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_source_and_reason_per_period_then_a_count() {
        let log = RefusalLog::new(Duration::from_secs(60));
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let b: IpAddr = "198.51.100.1".parse().unwrap();
        let t0 = Instant::now();
        let first = log
            .refused(a, 403, "replay", "replayed", t0)
            .expect("first");
        assert_eq!(
            first,
            "http callback from 203.0.113.7 refused with 403: replayed"
        );
        for i in 1..=5 {
            assert_eq!(
                log.refused(a, 403, "replay", "replayed", t0 + Duration::from_secs(i)),
                None
            );
        }
        // Another reason, another source: their own lines.
        assert!(log
            .refused(a, 403, "bad_signature", "bad signature", t0)
            .is_some());
        assert!(log.refused(b, 403, "replay", "replayed", t0).is_some());
        assert!(log.flush(t0 + Duration::from_secs(30)).is_empty());
        let summary = log.flush(t0 + Duration::from_secs(60));
        assert_eq!(summary.len(), 1, "{summary:?}");
        assert!(
            summary[0].starts_with("http callback from 203.0.113.7: 5 more refused with 403"),
            "{}",
            summary[0]
        );
        // After the period: a line again.
        assert!(log
            .refused(a, 403, "replay", "replayed", t0 + Duration::from_secs(61))
            .is_some());
    }

    #[test]
    fn a_line_after_the_period_counts_what_was_not_logged_when_not_flushed() {
        let log = RefusalLog::new(Duration::from_secs(60));
        let a: IpAddr = "::1".parse().unwrap();
        let t0 = Instant::now();
        assert!(log.refused(a, 401, "missing_signature", "m", t0).is_some());
        assert!(log.refused(a, 401, "missing_signature", "m", t0).is_none());
        let line = log
            .refused(
                a,
                401,
                "missing_signature",
                "m",
                t0 + Duration::from_secs(60),
            )
            .unwrap();
        assert!(line.ends_with("(1 more like it from this address were not logged)"));
    }
}
