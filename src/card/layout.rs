//! The text of one card: which part of the answer the current card shows, rendered as card
//! markdown within the card's size limit (reasoning above it on the first card, a code fence
//! reopened on a follow-up card), and how a full card hands over to the next one.

use super::markdown::{normalize_for_card, open_fence, split_point};

/// Appended to a card whose answer continues in the next card.
const CONTINUED: &str = "\n\n*（续下一张卡片 · continued below）*";
/// Closes a code fence left open at a cut.
const FENCE_CLOSE: &str = "\n```";
/// At most this share of a card shows the reasoning (its newest part).
const REASONING_SHARE: usize = 3;

/// One card's part of the answer, rendered.
pub(super) struct Part {
    /// The card markdown.
    pub(super) text: String,
    /// Where the part ends in the full text, when it does not reach its end.
    pub(super) cut: Option<usize>,
}

/// Where the current card's part of the answer starts and how large a card may be. Owned
/// by one card-sync task.
pub(super) struct Layout {
    /// The size limit this reply uses (lowered when DingTalk refuses a value as too large).
    pub(super) max_bytes: usize,
    /// Byte offset of the current card's part of the answer.
    pub(super) offset: usize,
    /// A code fence to reopen at the top of the current (follow-up) card.
    reopen: String,
    /// Show the reasoning above the answer (first card only).
    show_reasoning: bool,
}

impl Layout {
    /// The first card of a reply.
    pub(super) fn new(max_bytes: usize, show_reasoning: bool) -> Layout {
        Layout {
            max_bytes,
            offset: 0,
            reopen: String::new(),
            show_reasoning,
        }
    }

    /// The current card's part of `full`: its reasoning (first card only, when shown), the
    /// reopened code fence, and as much of the answer as fits in `max_bytes` once rendered
    /// as card markdown (room is kept for the continuation note).
    pub(super) fn part(&self, full: &str, reasoning: &str) -> Part {
        let mut head = String::new();
        if self.show_reasoning && self.offset == 0 && !reasoning.is_empty() {
            let share = self.max_bytes / REASONING_SHARE;
            let shown = if reasoning.len() > share {
                let mut start = reasoning.len() - share;
                while !reasoning.is_char_boundary(start) {
                    start += 1;
                }
                format!("…{}", &reasoning[start..])
            } else {
                reasoning.to_owned()
            };
            for line in shown.lines() {
                head.push_str("> ");
                head.push_str(line);
                head.push('\n');
            }
            head.push('\n');
        }
        let rest = &full[self.offset.min(full.len())..];
        let reserve = CONTINUED.len() + FENCE_CLOSE.len();
        let mut room = self
            .max_bytes
            .saturating_sub(reserve + head.len() + self.reopen.len())
            .max(64);
        loop {
            let cut = split_point(rest, room);
            let body = &rest[..cut.unwrap_or(rest.len())];
            let text = normalize_for_card(&format!("{head}{}{body}", self.reopen));
            // Normalising adds `<br>`s: shrink the room by what it added until it fits.
            let over = (text.len() + reserve).saturating_sub(self.max_bytes);
            if over == 0 || room <= 64 {
                return Part {
                    text,
                    cut: cut.map(|c| self.offset + c),
                };
            }
            room = room.saturating_sub(over).max(64);
        }
    }

    /// The final text of the current card when its part `text` ends at `cut` in `full`: a
    /// code fence left open is closed and the continuation note added. Also returns the
    /// fence the next card reopens (empty when none).
    pub(super) fn closing(&self, mut text: String, full: &str, cut: usize) -> (String, String) {
        let raw = format!("{}{}", self.reopen, &full[self.offset..cut]);
        let reopen = match open_fence(&raw) {
            Some(fence) => {
                text.push_str(FENCE_CLOSE);
                format!("{fence}\n")
            }
            None => String::new(),
        };
        text.push_str(CONTINUED);
        (text, reopen)
    }

    /// Moves on to the next card: its part starts at `cut` and reopens `reopen`.
    pub(super) fn next_card(&mut self, cut: usize, reopen: String) {
        self.offset = cut;
        self.reopen = reopen;
    }
}
