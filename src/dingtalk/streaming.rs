//! The body of a streaming card update (`PUT /v1.0/card/streaming`, `docs/dingtalk.md`,
//! "AI Cards"), built anew for every attempt.

use serde_json::{json, Value};

/// What a streaming update does to the card's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The card keeps streaming.
    No,
    /// The card is finished (`isFinalize`).
    Finished,
    /// The card failed (`isFinalize` + `isError`).
    Failed,
}

/// The body of `PUT /v1.0/card/streaming`: the full markdown (`isFull: true`, required for
/// markdown variables) with a fresh `guid` (DingTalk's idempotency key: a new one per
/// attempt, retries included).
pub fn streaming_body(out_track_id: &str, key: &str, content: &str, end: StreamEnd) -> Value {
    json!({
        "outTrackId": out_track_id,
        "guid": uuid::Uuid::new_v4().to_string(),
        "key": key,
        "content": content,
        "isFull": true,
        "isFinalize": end != StreamEnd::No,
        "isError": end == StreamEnd::Failed,
    })
}
