//! Gateway session keys: one per DingTalk conversation (or per sender in a group when
//! configured), renewed by `/new`. Generations survive restarts in `<state_dir>/sessions.json`.
//! With several apps a key names the app (`dingtalk:<app>:group:<cid>`): two robots in one
//! group are two conversations.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::event::BotMessage;

/// Session generations. Threads: any.
pub struct Sessions {
    path: PathBuf,
    per_sender: bool,
    /// The apps' names, by [`AppId`](crate::event::AppId), when keys name them (several apps); else empty.
    app_names: Vec<String>,
    generations: Mutex<HashMap<String, u64>>,
}

impl Sessions {
    /// Loads generations from `path` (missing = none; unreadable = moved aside once, none).
    /// `app_names` (by [`AppId`](crate::event::AppId)) are named in the keys when there are several.
    pub fn load(path: PathBuf, per_sender: bool, app_names: Vec<String>) -> Sessions {
        let app_names = if app_names.len() > 1 {
            app_names
        } else {
            Vec::new()
        };
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
            app_names,
            generations: Mutex::new(generations),
        }
    }

    /// The conversation a message belongs to: the serialisation and session scope.
    pub fn conversation_key(&self, msg: &BotMessage) -> String {
        let sender = msg.sender.staff_id.as_deref().unwrap_or(&msg.sender.id);
        if msg.is_group() && self.per_sender {
            format!("{}:user:{sender}", self.chat_key(msg))
        } else {
            self.chat_key(msg)
        }
    }

    /// The key of the chat a message is in, whoever wrote it (`conversation.per_sender_sessions`
    /// aside): the conversation of a card the robot posts on its own.
    pub fn chat_key(&self, msg: &BotMessage) -> String {
        let prefix = match self.app_names.get(msg.app.0) {
            Some(app) => format!("dingtalk:{app}"),
            None => "dingtalk".to_owned(),
        };
        if msg.is_group() {
            format!("{prefix}:group:{}", msg.conversation_id)
        } else {
            let sender = msg.sender.staff_id.as_deref().unwrap_or(&msg.sender.id);
            format!("{prefix}:dm:{sender}")
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

    /// Takes the generation other hosts agreed on (`shared_state:`), persisting it when it
    /// differs from this host's.
    pub fn set_generation(&self, conversation: &str, generation: u64) {
        let snapshot = {
            let mut g = self.generations.lock().unwrap_or_else(|e| e.into_inner());
            if g.get(conversation).copied().unwrap_or(0) == generation {
                return;
            }
            g.insert(conversation.to_owned(), generation);
            serde_json::to_vec(&*g).unwrap_or_default()
        };
        if let Err(e) = crate::durable::replace(&self.path, &snapshot, false) {
            log::warn!(
                "cannot persist session generations to {}: {e}",
                self.path.display()
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::AppId;

    fn message(group: bool, app: usize) -> BotMessage {
        let mut msg = BotMessage::parse(&format!(
            r#"{{"msgId":"m1","conversationId":"cid群==","conversationType":"{}","senderId":"s","senderStaffId":"员工1","senderNick":"张三","msgtype":"text","text":{{"content":"你好"}}}}"#,
            if group { 2 } else { 1 }
        ))
        .unwrap();
        msg.app = AppId(app);
        msg
    }

    fn sessions(per_sender: bool, apps: &[&str]) -> Sessions {
        // Never written: these tests make no `/new`.
        let path = std::env::temp_dir().join("ocdt-sessions-never-written.json");
        let names = apps.iter().map(|a| (*a).to_owned()).collect();
        Sessions::load(path, per_sender, names)
    }

    #[test]
    fn one_app_keeps_the_keys_it_always_had() {
        let s = sessions(false, &["default"]);
        assert_eq!(
            s.conversation_key(&message(true, 0)),
            "dingtalk:group:cid群=="
        );
        assert_eq!(s.conversation_key(&message(false, 0)), "dingtalk:dm:员工1");
        let s = sessions(true, &["default"]);
        assert_eq!(
            s.conversation_key(&message(true, 0)),
            "dingtalk:group:cid群==:user:员工1"
        );
        assert_eq!(s.chat_key(&message(true, 0)), "dingtalk:group:cid群==");
    }

    #[test]
    fn with_several_apps_two_robots_in_one_group_are_two_conversations() {
        let s = sessions(false, &["hr", "it"]);
        assert_eq!(
            s.conversation_key(&message(true, 0)),
            "dingtalk:hr:group:cid群=="
        );
        assert_eq!(
            s.conversation_key(&message(true, 1)),
            "dingtalk:it:group:cid群=="
        );
        assert_eq!(
            s.conversation_key(&message(false, 1)),
            "dingtalk:it:dm:员工1"
        );
    }
}
