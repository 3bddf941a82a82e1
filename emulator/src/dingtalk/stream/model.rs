//! Stream-mode configuration and records: frames and connections as the emulator saw them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the Stream server behaves.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    /// How long a ticket from `connections/open` may be used. Default 90 s (docs/dingtalk-events.md,
    /// "Tickets").
    pub ticket_ttl: Duration,
    /// Interval of `SYSTEM` `ping` frames on each connection; `None` = never. Default 30 s.
    pub ping_interval: Option<Duration>,
    /// Each connection is sent a `disconnect` frame this long after it opened (DingTalk rebalances
    /// periodically); `None` = never (the default).
    pub disconnect_every: Option<Duration>,
    /// Time between a `disconnect` frame and the server closing the connection. Default 10 s
    /// (docs/dingtalk-events.md, "Ping and disconnect").
    pub disconnect_grace: Duration,
    /// A robot message not ACKed this long after it was sent is sent again; `None` = never.
    /// Default 60 s (docs/dingtalk-events.md, "Redelivery and duplicates").
    pub redelivery_after: Option<Duration>,
    /// At most this many redeliveries per message. Default 3.
    pub max_redeliveries: u32,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            ticket_ttl: Duration::from_secs(90),
            ping_interval: Some(Duration::from_secs(30)),
            disconnect_every: None,
            disconnect_grace: Duration::from_secs(10),
            redelivery_after: Some(Duration::from_secs(60)),
            max_redeliveries: 3,
        }
    }
}

/// One entry of `subscriptions` in `connections/open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// `EVENT` or `CALLBACK`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The topic (`*` for EVENT).
    pub topic: String,
}

/// Which way a frame went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FrameDirection {
    /// Server → client.
    ToClient,
    /// Client → server.
    FromClient,
}

/// What a recorded frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FrameKind {
    /// A `CALLBACK` frame carrying a robot message.
    Callback,
    /// A `SYSTEM` `ping`.
    Ping,
    /// A `SYSTEM` `disconnect`.
    Disconnect,
    /// The client's ACK of a callback.
    Ack,
    /// The client's reply to a ping.
    Pong,
    /// A client frame that answers nothing the server sent (or is unreadable).
    Unmatched,
    /// A `CALLBACK` frame carrying a card callback (a pressed button, topic
    /// `/v1.0/card/instances/callback`).
    CardCallback,
    /// The client's ACK of a card callback (its `data` may update the card).
    CardAck,
}

/// One frame on one connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamFrame {
    /// Order of recording, from 1.
    pub seq: u64,
    /// When, in ms since the emulator started.
    pub at_ms: u64,
    /// The connection ([`StreamConnection::id`]).
    pub connection: u64,
    /// Which way.
    pub direction: FrameDirection,
    /// What it is.
    pub kind: FrameKind,
    /// `headers.messageId` (of the frame, or of the frame an answer refers to).
    pub message_id: Option<String>,
    /// For robot-message callbacks and their ACKs: the message's `msgId` (`None` for card callbacks).
    pub msg_id: Option<String>,
    /// A callback sent again because no ACK came in time.
    pub redelivery: bool,
    /// An ACK the emulator ignored on purpose ([`PushOptions::lose_acks`]).
    pub ack_lost: bool,
    /// How a client frame departs from the documented shape (empty when it follows it).
    pub problems: Vec<String>,
    /// The frame as sent or received.
    pub text: String,
}

/// Who closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Closer {
    /// The server (after a `disconnect` frame's grace, or on shutdown).
    Server,
    /// The client (close frame, reset, or end of stream).
    Client,
}

/// One WebSocket connection, open or closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamConnection {
    /// Order of opening, from 1.
    pub id: u64,
    /// The `connectionId` header of its frames.
    pub connection_id: String,
    /// The app it was opened for.
    pub app_key: String,
    /// What it subscribed to.
    pub subscriptions: Vec<Subscription>,
    /// When the WebSocket handshake was answered, in ms since the emulator started.
    pub opened_at_ms: u64,
    /// When it was sent a `disconnect` frame.
    pub disconnect_sent_at_ms: Option<u64>,
    /// When it closed.
    pub closed_at_ms: Option<u64>,
    /// Who closed it.
    pub closed_by: Option<Closer>,
}

impl StreamConnection {
    /// Still open.
    pub fn is_open(&self) -> bool {
        self.closed_at_ms.is_none()
    }
}

/// How a robot message is pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushOptions {
    /// Ignore this many ACKs of the message, as if they were lost on the way: the message is delivered
    /// again after [`StreamConfig::redelivery_after`].
    #[serde(default)]
    pub lose_acks: u32,
}

/// What [`DingTalkEmulator::push_bot_message_with`] pushed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushReceipt {
    /// The robot message's `msgId`.
    pub msg_id: String,
    /// The frame's `headers.messageId` (the same on every redelivery).
    pub message_id: String,
}
