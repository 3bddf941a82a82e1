//! A prompt the robot answers on its own, with no inbound message (`openclaw-skill send`, a
//! schedule): where the answer's card goes, the prompt, and the route. It runs through the
//! same reply pipeline as a user's message, as a message "from the robot" ([`ROBOT_SENDER`]).

use serde_json::Value;

use super::{AppId, BotMessage, Chat, Content, EventError, Sender};

/// The sender id of the message a proactive prompt becomes.
pub const ROBOT_SENDER: &str = "openclaw-dingtalk:robot";

/// Where a proactive answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A group the robot is in (`openConversationId`, `cid…`).
    Group(String),
    /// A 1:1 chat with a user (staff id).
    User(String),
}

/// A prompt to answer into a new card of `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProactivePrompt {
    /// Where the card goes.
    pub target: Target,
    /// What the model is asked.
    pub prompt: String,
    /// The route (by name) whose agent answers; `None`: `gateway.model`.
    pub route: Option<String>,
    /// The app (by name) whose robot posts the card; `None`: the only app.
    pub app: Option<String>,
    /// Who asked, for the model and the log lines (e.g. `send`, `schedule standup`).
    pub label: String,
    /// The card gets a stop button (`"stoppable": false` for a process that cannot hear a
    /// press, such as `openclaw-skill send`). Default true.
    pub stoppable: bool,
}

impl ProactivePrompt {
    /// Reads `{"group": "cid…"} | {"user": "staffId"}, "prompt", "route"?, "app"?,
    /// "label"?, "stoppable"?`.
    pub fn parse(json: &str) -> Result<ProactivePrompt, EventError> {
        let value: Value =
            serde_json::from_str(json).map_err(|e| EventError::NotJson(e.to_string()))?;
        let text = |field: &'static str| match value.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            Some(_) => Err(EventError::Field {
                field: field.into(),
                problem: "must be a non-empty string",
            }),
        };
        let target = match (text("group")?, text("user")?) {
            (Some(cid), None) => Target::Group(cid),
            (None, Some(staff_id)) => Target::User(staff_id),
            _ => {
                return Err(EventError::Field {
                    field: "group".into(),
                    problem: "or `user` must be given, not both",
                })
            }
        };
        let prompt = text("prompt")?.ok_or(EventError::Field {
            field: "prompt".into(),
            problem: "is missing",
        })?;
        Ok(ProactivePrompt {
            target,
            prompt,
            route: text("route")?,
            app: text("app")?,
            label: text("label")?.unwrap_or_else(|| "send".to_owned()),
            stoppable: match value.get("stoppable") {
                None | Some(Value::Null) => true,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(EventError::Field {
                        field: "stoppable".into(),
                        problem: "must be true or false",
                    })
                }
            },
        })
    }

    /// The message the reply pipeline answers: from [`ROBOT_SENDER`], in the target's chat,
    /// without a session webhook (a fallback goes through the robot send APIs), for `app`.
    pub fn message(&self, app: AppId) -> BotMessage {
        let (conversation_id, chat, staff_id) = match &self.target {
            Target::Group(cid) => (
                cid.clone(),
                Chat::Group {
                    title: String::new(),
                },
                None,
            ),
            Target::User(staff_id) => (
                format!("dm:{staff_id}"),
                Chat::Direct,
                Some(staff_id.clone()),
            ),
        };
        BotMessage {
            msg_id: format!("post_{}", uuid::Uuid::new_v4().simple()),
            conversation_id,
            chat,
            sender: Sender {
                id: ROBOT_SENDER.to_owned(),
                staff_id,
                nick: self.label.clone(),
            },
            content: Content::Text(self.prompt.clone()),
            quoted: None,
            session_webhook: None,
            robot_code: None,
            app,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_prompt_becomes_a_robot_message_in_that_group() {
        let p = ProactivePrompt::parse(
            r#"{"group":"cid值班群==","prompt":"总结今天的告警","route":"oncall","label":"schedule 告警"}"#,
        )
        .unwrap();
        assert_eq!(p.target, Target::Group("cid值班群==".into()));
        assert_eq!(p.route.as_deref(), Some("oncall"));
        assert_eq!(p.app, None);
        let msg = p.message(AppId(1));
        assert_eq!(msg.app, AppId(1));
        assert!(msg.is_group());
        assert_eq!(msg.conversation_id, "cid值班群==");
        assert_eq!(msg.sender.id, ROBOT_SENDER);
        assert_eq!(msg.content, Content::Text("总结今天的告警".into()));
    }

    #[test]
    fn a_user_prompt_goes_to_their_1_to_1_chat() {
        let p = ProactivePrompt::parse(r#"{"user":"员工-7","prompt":"你好","app":"hr"}"#).unwrap();
        assert_eq!(p.app.as_deref(), Some("hr"));
        let msg = p.message(AppId(0));
        assert_eq!(msg.chat, Chat::Direct);
        assert_eq!(msg.sender.staff_id.as_deref(), Some("员工-7"));
        assert_eq!(p.label, "send");
    }

    #[test]
    fn a_bad_request_names_the_field() {
        for (json, field) in [
            (r#"{"prompt":"你好"}"#, "`group`"),
            (r#"{"group":"c","user":"u","prompt":"你好"}"#, "`group`"),
            (r#"{"group":"c"}"#, "`prompt` is missing"),
            (r#"{"group":"c","prompt":"  "}"#, "`prompt` must be"),
            (r#"{"group":"c","prompt":"x","route":3}"#, "`route`"),
            (r#"{"group":"c","prompt":"x","app":""}"#, "`app`"),
        ] {
            let err = ProactivePrompt::parse(json).unwrap_err().to_string();
            assert!(err.contains(field), "{json}: {err}");
        }
        assert!(matches!(
            ProactivePrompt::parse("不是 JSON"),
            Err(EventError::NotJson(_))
        ));
    }
}
