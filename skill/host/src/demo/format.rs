//! Words and numbers as the demo writes them: card states and durations.

use std::time::Duration;

use openclaw_dingtalk_emulator::dingtalk::CardState;

/// A card state as the status line names it.
pub fn state_name(state: CardState) -> &'static str {
    match state {
        CardState::Processing => "processing",
        CardState::Inputting => "typing",
        CardState::Finished => "finished",
        CardState::Failed => "failed",
    }
}

/// `processing → typing → finished`.
pub fn states_line(states: &[CardState]) -> String {
    states
        .iter()
        .map(|s| state_name(*s))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// `2.61 s`, or `45 ms` under a second.
pub fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        millis(d)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// `12 ms`, or `<1 ms` (the records have millisecond resolution).
pub fn millis(d: Duration) -> String {
    match d.as_millis() {
        0 => "<1 ms".to_owned(),
        ms => format!("{ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names() {
        assert_eq!(
            states_line(&[
                CardState::Processing,
                CardState::Inputting,
                CardState::Finished
            ]),
            "processing → typing → finished"
        );
    }
}
