//! Card staleness: how long answer text waited before a card update made it visible.
//! Recorded per successful update (from the arrival of the oldest text it carried), exposed
//! through `info` as a cumulative-free histogram the host turns into Prometheus buckets.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds of the buckets, in milliseconds (a last, unbounded bucket follows).
const BOUNDS_MS: [u64; 9] = [50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000];

/// The histogram. Threads: any (atomics).
#[derive(Debug, Default)]
pub struct Staleness {
    counts: [AtomicU64; BOUNDS_MS.len() + 1],
    sum_ms: AtomicU64,
}

impl Staleness {
    /// Records one update that made text visible `waited` after it arrived.
    pub fn record(&self, waited: Duration) {
        let ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_MS
            .iter()
            .position(|&b| ms <= b)
            .unwrap_or(BOUNDS_MS.len());
        self.counts[bucket].fetch_add(1, Relaxed);
        self.sum_ms.fetch_add(ms, Relaxed);
    }

    /// `{"bounds_ms": [...], "counts": [... one more than bounds ...], "sum_ms": n, "count": n}`.
    pub fn to_json(&self) -> serde_json::Value {
        let counts: Vec<u64> = self.counts.iter().map(|c| c.load(Relaxed)).collect();
        serde_json::json!({
            "bounds_ms": BOUNDS_MS,
            "count": counts.iter().sum::<u64>(),
            "counts": counts,
            "sum_ms": self.sum_ms.load(Relaxed),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_land_in_the_right_bucket() {
        let s = Staleness::default();
        s.record(Duration::from_millis(40));
        s.record(Duration::from_millis(300));
        s.record(Duration::from_secs(60));
        let j = s.to_json();
        assert_eq!(j["counts"][0], 1);
        assert_eq!(j["counts"][3], 1);
        assert_eq!(j["counts"][9], 1);
        assert_eq!(j["count"], 3);
        assert_eq!(j["sum_ms"], 60_340);
    }
}
