//! The schedules' clock: the wall clock, or in a `test-hooks` build with
//! `OCDT_TEST_CLOCK_FILE` set, the time written in that file (epoch milliseconds), so a test
//! moves time forward by writing the file instead of waiting for real minutes.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How often a test clock is read while waiting.
#[cfg(feature = "test-hooks")]
const TEST_CLOCK_POLL: Duration = Duration::from_millis(50);

/// Now, by the schedules' clock.
pub(crate) fn now() -> DateTime<Utc> {
    #[cfg(feature = "test-hooks")]
    if let Some(t) = test_now() {
        return t;
    }
    Utc::now()
}

/// Waits until the schedules' clock reaches `t` (at once when it has).
pub(crate) async fn wait_until(t: DateTime<Utc>) {
    loop {
        let left = (t - now()).to_std().unwrap_or_default();
        if left.is_zero() {
            return;
        }
        #[cfg(feature = "test-hooks")]
        let left = if test_now().is_some() {
            left.min(TEST_CLOCK_POLL)
        } else {
            left
        };
        // A long wait is cut in pieces, so a wall clock that jumps is noticed within a minute.
        tokio::time::sleep(left.min(Duration::from_secs(60))).await;
    }
}

/// The test clock's time, when one is configured and readable.
#[cfg(feature = "test-hooks")]
fn test_now() -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    let path = std::env::var_os("OCDT_TEST_CLOCK_FILE")?;
    let text = std::fs::read_to_string(path).ok()?;
    Utc.timestamp_millis_opt(text.trim().parse().ok()?).single()
}
