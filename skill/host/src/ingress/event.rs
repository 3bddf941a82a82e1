//! What the host itself knows about an event: where it came from and the ids its log lines
//! name (the skill parses the event).

use serde::Deserialize;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Stream-mode CALLBACK frame.
    Stream,
    /// A signed HTTP callback.
    Http,
}

impl Source {
    /// `stream` or `http`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Stream => "stream",
            Source::Http => "http",
        }
    }
}

/// The fields the host reads from an event, for its log line only.
#[derive(Debug, Default, Deserialize)]
pub struct Route {
    /// The event's `msgId`.
    #[serde(rename = "msgId")]
    pub msg_id: Option<String>,
    /// The event's `conversationId`.
    #[serde(rename = "conversationId")]
    pub conversation_id: Option<String>,
    /// A card callback's card (`outTrackId`), named instead of a message id.
    #[serde(rename = "outTrackId")]
    pub out_track_id: Option<String>,
}

impl Route {
    /// The ids of `event` (none when it is not JSON or lacks them).
    pub fn of(event: &str) -> Route {
        serde_json::from_str(event).unwrap_or_default()
    }

    /// The `msgId` (a card callback's `outTrackId`), or `-` for a log line.
    pub fn msg(&self) -> &str {
        self.msg_id
            .as_deref()
            .or(self.out_track_id.as_deref())
            .unwrap_or("-")
    }

    /// The `conversationId`, or `-` for a log line.
    pub fn conv(&self) -> &str {
        self.conversation_id.as_deref().unwrap_or("-")
    }
}
