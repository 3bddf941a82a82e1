//! Gateway session keys: one per DingTalk conversation (or per sender in a group when
//! configured), renewed by `/new`. Generations survive restarts in `<state_dir>/sessions.json`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::event::BotMessage;

/// Session generations. Threads: any.
pub struct Sessions {
    path: PathBuf,
    per_sender: bool,
    generations: Mutex<HashMap<String, u64>>,
}

impl Sessions {
    /// Loads generations from `path` (missing = none; unreadable = moved aside once, none).
    pub fn load(path: PathBuf, per_sender: bool) -> Sessions {
        let generations = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                crate::durable::quarantine(&path, &e.to_string());
                HashMap::new()
            }),
            Err(_) => HashMap::new(),
        };
        Sessions {
            path,
            per_sender,
            generations: Mutex::new(generations),
        }
    }

    /// The conversation a message belongs to: the serialisation and session scope.
    pub fn conversation_key(&self, msg: &BotMessage) -> String {
        let sender = msg.sender.staff_id.as_deref().unwrap_or(&msg.sender.id);
        if msg.is_group() {
            if self.per_sender {
                format!("dingtalk:group:{}:user:{sender}", msg.conversation_id)
            } else {
                format!("dingtalk:group:{}", msg.conversation_id)
            }
        } else {
            format!("dingtalk:dm:{sender}")
        }
    }

    /// The gateway session key (`x-openclaw-session-key`) for a conversation key.
    pub fn session_key(&self, conversation: &str) -> String {
        let generation = self
            .generations
            .lock()
            .map(|g| g.get(conversation).copied().unwrap_or(0))
            .unwrap_or(0);
        if generation == 0 {
            conversation.to_owned()
        } else {
            format!("{conversation}:s{generation}")
        }
    }

    /// Starts a fresh session for the conversation (`/new`) and persists the change.
    pub fn renew(&self, conversation: &str) {
        let snapshot = {
            let mut g = self.generations.lock().unwrap_or_else(|e| e.into_inner());
            *g.entry(conversation.to_owned()).or_insert(0) += 1;
            serde_json::to_vec(&*g).unwrap_or_default()
        };
        if let Err(e) = crate::durable::replace(&self.path, &snapshot, true) {
            log::warn!(
                "cannot persist session generations to {}: {e}",
                self.path.display()
            );
        }
    }
}
