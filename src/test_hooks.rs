//! Test-only fault injection (feature `test-hooks`, never in a release build): an event whose
//! JSON (or, for card-sync, the answer) contains `__oc_test__:<hook>` makes the plugin panic at that point, so tests can see
//! that a panic inside the plugin reaches the host as an error and not as an abort.

/// Where to panic.
#[derive(Debug, Clone, Copy)]
pub enum Hook {
    /// Inside `handle_event`.
    HandleEvent,
    /// Inside the next poll of the chunk stream.
    Poll,
    /// Inside the reply task (the stream then ends with an internal failure).
    ReplyTask,
    /// Inside card-sync, as the answer ends (the card must still be finalized).
    CardSync,
}

impl Hook {
    fn marker(self) -> &'static str {
        match self {
            Hook::HandleEvent => "__oc_test__:panic_in_handle_event",
            Hook::Poll => "__oc_test__:panic_in_poll",
            Hook::ReplyTask => "__oc_test__:panic_in_reply_task",
            Hook::CardSync => "__oc_test__:panic_in_card_sync",
        }
    }
}

/// Whether `text` asks for `hook`.
pub fn has(text: &str, hook: Hook) -> bool {
    text.contains(hook.marker())
}

/// Panics when `text` asks for `hook`.
pub fn check(text: &str, hook: Hook) {
    if has(text, hook) {
        panic!("test hook: {}", hook.marker());
    }
}
