//! Counting DingTalk API calls (they are metered per org per month), per reply and in total.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The kinds of DingTalk call the plugin makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// `POST /v1.0/oauth2/accessToken`.
    Token = 0,
    /// `POST /v1.0/card/instances/createAndDeliver`.
    CreateCard = 1,
    /// `PUT /v1.0/card/streaming`.
    StreamingUpdate = 2,
    /// `PUT /v1.0/card/instances`.
    UpdateInstance = 3,
    /// `POST <sessionWebhook>`.
    SessionWebhook = 4,
    /// Robot send APIs (group / 1:1).
    RobotSend = 5,
    /// `POST /v1.0/robot/messageFiles/download`: a user's picture or file → temporary URL.
    FileDownload = 6,
    /// `POST <oapi>/media/upload?type=image`: an image of the answer → media id for the card.
    MediaUpload = 7,
    /// `POST /v1.0/card/callbacks/register`: where DingTalk posts card button presses (HTTP mode).
    CallbackRegister = 8,
}

impl CallKind {
    /// All kinds, in index order.
    pub const ALL: [CallKind; 9] = [
        CallKind::Token,
        CallKind::CreateCard,
        CallKind::StreamingUpdate,
        CallKind::UpdateInstance,
        CallKind::SessionWebhook,
        CallKind::RobotSend,
        CallKind::FileDownload,
        CallKind::MediaUpload,
        CallKind::CallbackRegister,
    ];

    /// Short name used in logs and `info`.
    pub fn name(self) -> &'static str {
        match self {
            CallKind::Token => "token",
            CallKind::CreateCard => "create",
            CallKind::StreamingUpdate => "stream",
            CallKind::UpdateInstance => "instance",
            CallKind::SessionWebhook => "webhook",
            CallKind::RobotSend => "robot_send",
            CallKind::FileDownload => "download",
            CallKind::MediaUpload => "media",
            CallKind::CallbackRegister => "callback_register",
        }
    }
}

/// Call counters. Threads: any (atomics).
#[derive(Debug, Default)]
pub struct CallStats {
    by_kind: [AtomicU64; CallKind::ALL.len()],
    qps_limited: AtomicU64,
    failed: AtomicU64,
}

impl CallStats {
    /// Counts one call that was sent.
    pub fn record(&self, kind: CallKind) {
        self.by_kind[kind as usize].fetch_add(1, Relaxed);
    }

    /// Counts a `403 QpsLimit` answer.
    pub fn record_qps_limited(&self) {
        self.qps_limited.fetch_add(1, Relaxed);
    }

    /// Counts a failed call (any error).
    pub fn record_failed(&self) {
        self.failed.fetch_add(1, Relaxed);
    }

    /// Calls of one kind.
    pub fn count(&self, kind: CallKind) -> u64 {
        self.by_kind[kind as usize].load(Relaxed)
    }

    /// All calls.
    pub fn total(&self) -> u64 {
        self.by_kind.iter().map(|c| c.load(Relaxed)).sum()
    }

    /// `403 QpsLimit` answers.
    pub fn qps_limited(&self) -> u64 {
        self.qps_limited.load(Relaxed)
    }

    /// Failed calls.
    pub fn failed(&self) -> u64 {
        self.failed.load(Relaxed)
    }

    /// `create=1 stream=5 …` for the per-reply log line.
    pub fn summary(&self) -> String {
        let mut s = format!("calls={}", self.total());
        for kind in CallKind::ALL {
            let n = self.count(kind);
            if n > 0 {
                s.push_str(&format!(" {}={n}", kind.name()));
            }
        }
        if self.qps_limited() > 0 {
            s.push_str(&format!(" qps403={}", self.qps_limited()));
        }
        s
    }

    /// As JSON, for `info`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut by_kind = serde_json::Map::new();
        for kind in CallKind::ALL {
            by_kind.insert(kind.name().into(), self.count(kind).into());
        }
        serde_json::json!({
            "total": self.total(),
            "by_kind": by_kind,
            "qps_limited": self.qps_limited(),
            "failed": self.failed(),
        })
    }
}
