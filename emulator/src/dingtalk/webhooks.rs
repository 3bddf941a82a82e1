//! Session webhooks: the per-message reply URLs (`sessionWebhook`) and their expiry.

use crate::bounded::BoundedMap;

/// Known session webhooks by session id (at most
/// [`record_limit`](super::EmulatorConfig::record_limit) of them: the oldest issued go first).
#[derive(Debug, Default)]
pub(crate) struct WebhookStore {
    sessions: BoundedMap<String, Webhook>,
}

#[derive(Debug)]
struct Webhook {
    conversation_id: String,
    expires_at_epoch_ms: i64,
}

/// Why a session webhook cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WebhookError {
    /// Never issued (or evicted by the record limit).
    Unknown,
    /// Past its `sessionWebhookExpiredTime`.
    Expired,
}

impl WebhookStore {
    /// A store keeping at most `limit` webhooks (`None`: all).
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            sessions: BoundedMap::new(limit),
        }
    }

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

    /// How many webhooks are known.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_issued_go_beyond_the_limit() {
        let mut store = WebhookStore::new(Some(50));
        let ids: Vec<String> = (0..500)
            .map(|i| store.create(&format!("cid{i}"), i64::MAX))
            .collect();
        assert_eq!(store.len(), 50);
        assert_eq!(store.lookup(&ids[449], 0), Err(WebhookError::Unknown));
        assert_eq!(store.lookup(&ids[450], 0), Ok("cid450"));
        assert_eq!(store.lookup(&ids[499], 0), Ok("cid499"));
        store.expire_all();
        assert_eq!(store.lookup(&ids[499], 0), Err(WebhookError::Expired));
    }
}
