//! Drops redeliveries: DingTalk resends an un-ACKed event about 60 s later, and several
//! Stream connections can each receive it. Bounded by a TTL and a capacity.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Ids with the time they were first seen, plus the same in arrival order for expiry.
#[derive(Default)]
struct Seen {
    at: HashMap<String, Instant>,
    order: VecDeque<(Instant, String)>,
}

/// Remembers message ids. Threads: any.
pub struct Dedup {
    ttl: Duration,
    capacity: usize,
    seen: Mutex<Seen>,
}

impl Dedup {
    /// Remembers ids for `ttl`, at most `capacity` of them (the oldest go first).
    pub fn new(ttl: Duration, capacity: usize) -> Dedup {
        Dedup {
            ttl,
            capacity: capacity.max(1),
            seen: Mutex::new(Seen::default()),
        }
    }

    /// How long an id is remembered.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// True the first time `id` is seen (within the TTL), false for a duplicate.
    pub fn first_time(&self, id: &str) -> bool {
        self.first_time_at(id, Instant::now())
    }

    fn first_time_at(&self, id: &str, now: Instant) -> bool {
        let mut guard = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let Seen { at: map, order } = &mut *guard;
        while let Some((at, old)) = order.front() {
            if now.duration_since(*at) < self.ttl && map.len() < self.capacity {
                break;
            }
            if map.get(old) == Some(at) {
                map.remove(old);
            }
            order.pop_front();
        }
        if map.contains_key(id) {
            return false;
        }
        map.insert(id.to_owned(), now);
        order.push_back((now, id.to_owned()));
        true
    }

    /// How many ids are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.lock().map(|g| g.at.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_dropped_within_the_ttl_and_memory_stays_bounded() {
        let d = Dedup::new(Duration::from_secs(60), 3);
        let t0 = Instant::now();
        assert!(d.first_time_at("a", t0));
        assert!(!d.first_time_at("a", t0 + Duration::from_secs(59)));
        assert!(
            d.first_time_at("a", t0 + Duration::from_secs(61)),
            "remembered past the TTL"
        );
        for i in 0..100 {
            d.first_time_at(&format!("m{i}"), t0 + Duration::from_secs(62));
        }
        assert!(d.len() <= 3, "capacity exceeded: {}", d.len());
    }
}
