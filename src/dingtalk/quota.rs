//! The monthly DingTalk call quota: DingTalk meters API calls per organisation per calendar
//! month (China time) and refuses calls once the month's quota is used up (errcode 90020,
//! `Forbidden.AccessDenied.ApiCountLimitForOrg`). See `docs/dingtalk.md` ("Monthly quota").
//!
//! With `dingtalk.monthly_call_quota` set, the plugin counts its own calls (kept in
//! `state_dir` across restarts), warns at 80 %, and stretches card update intervals as the
//! quota runs low, so answers keep arriving: from 80 % the interval grows with what is used
//! (×2 at 90 %, ×4 at 95 %); from 95 % cards get only their creation and their final update.

use std::sync::Mutex;

use serde_json::{json, Value};

/// How card-sync should adapt to the quota.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stretch {
    /// Multiply the card update interval by this.
    pub interval_factor: f64,
    /// Whether intermediate updates are allowed at all.
    pub intermediate_updates: bool,
}

impl Stretch {
    /// No quota pressure.
    pub(crate) const NONE: Stretch = Stretch {
        interval_factor: 1.0,
        intermediate_updates: true,
    };
}

/// The count of one month, as saved in the state directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MonthCount {
    /// `YYYY-MM` in China time (UTC+8).
    pub month: String,
    /// Calls sent in that month.
    pub calls: u64,
    /// DingTalk refused a call for the monthly quota in that month.
    #[serde(default)]
    pub exhausted: bool,
}

struct State {
    count: MonthCount,
    warned: bool,
    changed: bool,
    /// Calls counted here and not yet added to the hosts' shared count (`shared_state:`).
    unshared: u64,
}

/// The counter. Threads: any.
pub struct MonthlyQuota {
    quota: Option<u64>,
    state: Mutex<State>,
}

/// The current month in China time (DingTalk's billing clock), `YYYY-MM`.
pub fn china_month(now: jiff::Timestamp) -> String {
    let zoned = now.to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)));
    format!("{:04}-{:02}", zoned.year(), zoned.month())
}

impl MonthlyQuota {
    /// A counter for `quota` calls a month (`None`: count only), continuing `saved`.
    pub fn new(quota: Option<u64>, saved: MonthCount) -> MonthlyQuota {
        MonthlyQuota {
            quota,
            state: Mutex::new(State {
                count: saved,
                warned: false,
                changed: false,
                unshared: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn roll(state: &mut State) {
        let month = china_month(jiff::Timestamp::now());
        if state.count.month != month {
            if !state.count.month.is_empty() && state.count.exhausted {
                log::info!(
                    "DingTalk monthly call quota: a new month ({month}) began; calls resume"
                );
            }
            state.count = MonthCount {
                month,
                calls: 0,
                exhausted: false,
            };
            state.warned = false;
            state.changed = true;
            state.unshared = 0;
        }
    }

    /// The month and the calls counted since the last [`MonthlyQuota::shared_total`], to add
    /// to the count all hosts share.
    pub fn take_unshared(&self) -> (String, u64) {
        let mut state = self.lock();
        Self::roll(&mut state);
        (
            state.count.month.clone(),
            std::mem::take(&mut state.unshared),
        )
    }

    /// Calls taken by [`MonthlyQuota::take_unshared`] that could not be added (Redis is down):
    /// they are added with the next ones.
    pub fn give_back_unshared(&self, month: &str, calls: u64) {
        let mut state = self.lock();
        if state.count.month == month {
            state.unshared += calls;
        }
    }

    /// The count of `month` across all hosts after this host's calls were added: the month's
    /// count becomes it (plus calls counted meanwhile) when that is more than this host knew.
    pub fn shared_total(&self, month: &str, total: u64) {
        let mut state = self.lock();
        if state.count.month == month {
            let calls = total + state.unshared;
            if calls > state.count.calls {
                state.count.calls = calls;
                state.changed = true;
            }
        }
    }

    /// Counts one call about to be sent.
    pub fn count_call(&self) {
        let mut state = self.lock();
        Self::roll(&mut state);
        state.count.calls += 1;
        state.unshared += 1;
        state.changed = true;
        if let Some(quota) = self.quota {
            if !state.warned && state.count.calls * 5 >= quota * 4 {
                state.warned = true;
                log::warn!(
                    "DingTalk monthly call quota: {} of {quota} calls used in {} (80 %); card updates are being spaced out to save calls",
                    state.count.calls,
                    state.count.month
                );
            }
        }
    }

    /// DingTalk refused a call for the monthly quota. Logged once per month.
    pub fn exhausted(&self, message: &str) {
        let mut state = self.lock();
        Self::roll(&mut state);
        if !state.count.exhausted {
            state.count.exhausted = true;
            state.changed = true;
            log::error!(
                "DingTalk monthly API call quota exhausted ({message}): no card or message can be sent until the quota resets next month (China time) or is raised; {} calls counted this month",
                state.count.calls
            );
        }
    }

    /// Whether DingTalk has refused calls for the quota this month.
    #[cfg(test)]
    pub fn is_exhausted(&self) -> bool {
        let mut state = self.lock();
        Self::roll(&mut state);
        state.count.exhausted
    }

    /// How card-sync should adapt now.
    pub fn stretch(&self) -> Stretch {
        let mut state = self.lock();
        Self::roll(&mut state);
        if state.count.exhausted {
            return Stretch {
                interval_factor: 1.0,
                intermediate_updates: false,
            };
        }
        let Some(quota) = self.quota.filter(|q| *q > 0) else {
            return Stretch::NONE;
        };
        let left = 1.0 - state.count.calls as f64 / quota as f64;
        if left >= 0.2 {
            Stretch::NONE
        } else if left > 0.05 {
            Stretch {
                interval_factor: 0.2 / left,
                intermediate_updates: true,
            }
        } else {
            Stretch {
                interval_factor: 1.0,
                intermediate_updates: false,
            }
        }
    }

    /// The count to save, if it changed since the last call.
    pub fn take_changed(&self) -> Option<MonthCount> {
        let mut state = self.lock();
        std::mem::take(&mut state.changed).then(|| state.count.clone())
    }

    /// The current count.
    pub fn count(&self) -> MonthCount {
        let mut state = self.lock();
        Self::roll(&mut state);
        state.count.clone()
    }

    /// For `info` and `/metrics`.
    pub fn snapshot(&self) -> Value {
        let count = self.count();
        json!({
            "month": count.month,
            "calls": count.calls,
            "quota": self.quota,
            "exhausted": count.exhausted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(month_calls: u64, quota: u64) -> MonthlyQuota {
        MonthlyQuota::new(
            Some(quota),
            MonthCount {
                month: china_month(jiff::Timestamp::now()),
                calls: month_calls,
                exhausted: false,
            },
        )
    }

    #[test]
    fn the_month_is_counted_in_china_time() {
        // 2026-10-31 16:30 UTC is 2026-11-01 00:30 in Beijing.
        let ts: jiff::Timestamp = "2026-10-31T16:30:00Z".parse().unwrap();
        assert_eq!(china_month(ts), "2026-11");
        let ts: jiff::Timestamp = "2026-10-31T15:59:59Z".parse().unwrap();
        assert_eq!(china_month(ts), "2026-10");
    }

    #[test]
    fn intervals_stretch_from_eighty_percent_and_updates_stop_near_the_end() {
        assert_eq!(at(7_000, 10_000).stretch(), Stretch::NONE);
        let s = at(9_000, 10_000).stretch();
        assert!((s.interval_factor - 2.0).abs() < 1e-9 && s.intermediate_updates);
        assert!(!at(9_600, 10_000).stretch().intermediate_updates);
    }

    #[test]
    fn a_count_from_an_earlier_month_starts_over() {
        let q = MonthlyQuota::new(
            Some(10),
            MonthCount {
                month: "2001-01".into(),
                calls: 10,
                exhausted: true,
            },
        );
        assert!(!q.is_exhausted());
        q.count_call();
        assert_eq!(q.count().calls, 1);
        assert_eq!(q.stretch(), Stretch::NONE);
    }

    #[test]
    fn exhaustion_stops_intermediate_updates_and_is_saved() {
        let q = at(5, 10_000);
        q.exhausted("errcode 90020");
        assert!(q.is_exhausted());
        assert!(!q.stretch().intermediate_updates);
        assert!(q.take_changed().unwrap().exhausted);
    }
}
