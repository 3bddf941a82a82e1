//! Silence detection for one Stream socket: after a third of the silence limit without a frame
//! the host probes the peer with a WebSocket ping; a socket still silent at the full limit is
//! dead. Any frame (the pong included) counts as life. Pure state: the session owns the clock
//! and the socket.

use std::time::Duration;

use tokio::time::Instant;

/// The smallest silence limit honoured (a smaller manifest value is raised to it).
pub const MIN_SILENCE: Duration = Duration::from_millis(300);

/// What to do when [`Liveness::deadline`] passes without a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send a ping: the socket has been idle for a third of the limit.
    Probe,
    /// The socket is dead: silent for the whole limit, the probe unanswered.
    Silent,
}

/// The silence state of one socket.
#[derive(Debug, Clone)]
pub struct Liveness {
    silence: Duration,
    last_heard: Instant,
    probed: bool,
}

impl Liveness {
    /// A socket opened at `now` with a silence limit of `silence` (at least [`MIN_SILENCE`]).
    pub fn new(silence: Duration, now: Instant) -> Liveness {
        Liveness {
            silence: silence.max(MIN_SILENCE),
            last_heard: now,
            probed: false,
        }
    }

    /// The silence limit in force.
    pub fn limit(&self) -> Duration {
        self.silence
    }

    /// A frame arrived at `now`.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
        self.probed = false;
    }

    /// When to act if nothing is heard before: the probe, or the end of the limit.
    pub fn deadline(&self) -> Instant {
        if self.probed {
            self.last_heard + self.silence
        } else {
            self.last_heard + self.silence / 3
        }
    }

    /// The deadline passed without a frame.
    pub fn expired(&mut self) -> Verdict {
        if self.probed {
            Verdict::Silent
        } else {
            self.probed = true;
            Verdict::Probe
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_at_a_third_then_silent_at_the_limit_unless_heard() {
        let t0 = Instant::now();
        let mut l = Liveness::new(Duration::from_secs(90), t0);
        assert_eq!(l.deadline(), t0 + Duration::from_secs(30));
        assert_eq!(l.expired(), Verdict::Probe);
        assert_eq!(l.deadline(), t0 + Duration::from_secs(90));
        // The pong (any frame) resets both.
        l.heard(t0 + Duration::from_secs(31));
        assert_eq!(l.deadline(), t0 + Duration::from_secs(61));
        assert_eq!(l.expired(), Verdict::Probe);
        assert_eq!(l.expired(), Verdict::Silent);
    }

    #[test]
    fn a_tiny_limit_is_raised() {
        let l = Liveness::new(Duration::from_millis(10), Instant::now());
        assert_eq!(l.limit(), MIN_SILENCE);
    }
}
