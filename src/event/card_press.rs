//! A card callback: a user pressed a button of one of the plugin's cards. It arrives like a
//! robot message (the Stream frame's `data` on the card-callback topic, or the body of a
//! signed HTTP callback) and is told apart by `"type": "actionCallback"`
//! (`docs/dingtalk-events.md`, "Card callbacks").

use serde_json::Value;

use super::EventError;

/// One button press.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPress {
    /// The card (`outTrackId`, the plugin's card id).
    pub out_track_id: String,
    /// Who pressed it (`userId`: the staff id, as the plugin creates cards with `userIdType` 1).
    pub user_id: String,
    /// The pressed button's action ids (`content.cardPrivateData.actionIds`).
    pub action_ids: Vec<String>,
}

impl CardPress {
    /// Whether `event` (already JSON) is a card callback rather than a robot message.
    pub fn is_card_callback(event: &Value) -> bool {
        event.get("type").and_then(Value::as_str) == Some("actionCallback")
    }

    /// Reads a card callback. `content` is a JSON string (as DingTalk sends it) or an object.
    pub fn parse(event: &Value) -> Result<CardPress, EventError> {
        let text = |field: &'static str| {
            event
                .get(field)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or(EventError::Field {
                    field: field.into(),
                    problem: "is missing or not a non-empty string",
                })
        };
        let out_track_id = text("outTrackId")?;
        let user_id = text("userId")?;
        let content = match event.get("content") {
            Some(Value::String(s)) => serde_json::from_str(s).map_err(|_| EventError::Field {
                field: "content".into(),
                problem: "is not JSON text",
            })?,
            Some(v @ Value::Object(_)) => v.clone(),
            _ => {
                return Err(EventError::Field {
                    field: "content".into(),
                    problem: "is missing",
                })
            }
        };
        let action_ids = content
            .pointer("/cardPrivateData/actionIds")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .ok_or(EventError::Field {
                field: "content.cardPrivateData.actionIds".into(),
                problem: "is missing or not a list",
            })?;
        Ok(CardPress {
            out_track_id,
            user_id,
            action_ids,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stream_callback_with_content_as_json_text_is_read() {
        let event = json!({
            "outTrackId": "card_1", "corpId": "ding1", "userId": "员工-7", "userIdType": 1,
            "spaceType": "IM_GROUP", "spaceId": "cid1", "type": "actionCallback",
            "content": "{\"cardPrivateData\":{\"actionIds\":[\"btn_stop\"],\"params\":{}}}",
            "extension": "{}",
        });
        assert!(CardPress::is_card_callback(&event));
        let press = CardPress::parse(&event).unwrap();
        assert_eq!(press.out_track_id, "card_1");
        assert_eq!(press.user_id, "员工-7");
        assert_eq!(press.action_ids, ["btn_stop"]);
    }

    #[test]
    fn a_robot_message_is_not_a_card_callback() {
        let message = json!({"msgId": "m1", "msgtype": "text", "text": {"content": "你好"}});
        assert!(!CardPress::is_card_callback(&message));
    }

    #[test]
    fn a_malformed_callback_names_the_field() {
        let no_user = json!({"type": "actionCallback", "outTrackId": "c", "content": "{}"});
        assert!(CardPress::parse(&no_user)
            .unwrap_err()
            .to_string()
            .contains("userId"));
        let bad_content =
            json!({"type": "actionCallback", "outTrackId": "c", "userId": "u", "content": "停止"});
        assert!(CardPress::parse(&bad_content)
            .unwrap_err()
            .to_string()
            .contains("`content` is not JSON"));
        let no_ids =
            json!({"type": "actionCallback", "outTrackId": "c", "userId": "u", "content": "{}"});
        assert!(CardPress::parse(&no_ids)
            .unwrap_err()
            .to_string()
            .contains("actionIds"));
    }
}
