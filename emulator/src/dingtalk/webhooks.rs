//! Session webhooks: the per-message reply URLs (`sessionWebhook`) and their expiry.

use std::collections::HashMap;

/// Known session webhooks by session id.
#[derive(Debug, Default)]
pub(crate) struct WebhookStore {
    sessions: HashMap<String, Webhook>,
}

#[derive(Debug)]
struct Webhook {
    conversation_id: String,
    expires_at_epoch_ms: i64,
}

/// Why a session webhook cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebhookError {
    /// Never issued.
    Unknown,
    /// Past its `sessionWebhookExpiredTime`.
    Expired,
}

impl WebhookStore {
    /// Issues a session id for `conversation_id` valid until `expires_at_epoch_ms`.
    pub(crate) fn create(&mut self, conversation_id: &str, expires_at_epoch_ms: i64) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let webhook = Webhook {
            conversation_id: conversation_id.into(),
            expires_at_epoch_ms,
        };
        self.sessions.insert(id.clone(), webhook);
        id
    }

    /// Makes every issued webhook expired.
    pub(crate) fn expire_all(&mut self) {
        for w in self.sessions.values_mut() {
            w.expires_at_epoch_ms = i64::MIN;
        }
    }

    /// The conversation of a usable session.
    pub(crate) fn lookup(&self, id: &str, now_epoch_ms: i64) -> Result<&str, WebhookError> {
        let w = self.sessions.get(id).ok_or(WebhookError::Unknown)?;
        if now_epoch_ms >= w.expires_at_epoch_ms {
            return Err(WebhookError::Expired);
        }
        Ok(&w.conversation_id)
    }
}
