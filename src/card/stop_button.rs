//! The stop button of a card: the card variables that show it while the answer streams and
//! hide it when the card ends, how presses reach the plugin (`callbackType`), and the line a
//! card without a button shows instead. See `docs/card-delivery.md`, "The stop button".

use serde_json::{json, Map, Value};

use crate::manifest::StopButtonStyle;

/// The action id of the stop button; a press of it arrives as a card callback whose
/// `cardPrivateData.actionIds` holds it.
pub(crate) const STOP_ACTION_ID: &str = "btn_stop";

/// The button's label.
const LABEL: &str = "停止回答";

/// Shown under a streaming answer when the card has no button (removed when the card ends).
const STOP_HINT: &str = "\n\n*发送 /stop 可停止回答 · send /stop to stop*";

/// The layout order of the default template's components, `msgButtons` last (the order
/// DingTalk's SDK sends with this template).
const ORDER: [&str; 7] = [
    "msgTitle",
    "msgContent",
    "staticMsgContent",
    "msgTextList",
    "msgImages",
    "msgSlider",
    "msgButtons",
];

/// How presses of a card's buttons reach the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CardCallbacks {
    /// No callbacks (no button).
    Off,
    /// `callbackType: STREAM`: a frame on the Stream connection.
    Stream,
    /// `callbackType: HTTP`: a signed POST to the URL registered for `route_key`.
    Http {
        /// The `callbackRouteKey`.
        route_key: String,
    },
}

impl CardCallbacks {
    /// Adds `callbackType` (and `callbackRouteKey`) to a card creation body.
    pub(crate) fn add_to(&self, body: &mut Value) {
        match self {
            CardCallbacks::Off => {}
            CardCallbacks::Stream => body["callbackType"] = json!("STREAM"),
            CardCallbacks::Http { route_key } => {
                body["callbackType"] = json!("HTTP");
                body["callbackRouteKey"] = json!(route_key);
            }
        }
    }
}

/// The stop button of every card of the skill (from the manifest). Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StopButton {
    /// Which variables show it.
    pub(crate) style: StopButtonStyle,
    /// How its presses arrive.
    pub(crate) callbacks: CardCallbacks,
}

impl StopButton {
    /// No button: the card says to send `/stop`.
    pub(crate) fn off() -> StopButton {
        StopButton {
            style: StopButtonStyle::None,
            callbacks: CardCallbacks::Off,
        }
    }

    /// Whether the card shows a button.
    pub(crate) fn shown(&self) -> bool {
        self.style != StopButtonStyle::None
    }

    /// The variables of a new card that show the button.
    pub(crate) fn add_shown(&self, params: &mut Map<String, Value>) {
        match self.style {
            StopButtonStyle::MsgButtons => {
                let button =
                    json!({"text": LABEL, "color": "gray", "id": STOP_ACTION_ID, "request": true});
                let layout = json!({"order": ORDER, "msgButtons": [button]});
                params.insert("sys_full_json_obj".into(), json!(layout.to_string()));
            }
            StopButtonStyle::StopAction => {
                params.insert("hasAction".into(), json!("true"));
                params.insert("stop_action".into(), json!("true"));
            }
            StopButtonStyle::None => {}
        }
    }

    /// The variables that hide the button of a card that ended (none without a button).
    pub(crate) fn add_hidden(&self, params: &mut Map<String, Value>) {
        match self.style {
            StopButtonStyle::MsgButtons => {
                let layout = json!({"order": ORDER});
                params.insert("sys_full_json_obj".into(), json!(layout.to_string()));
            }
            StopButtonStyle::StopAction => {
                params.insert("stop_action".into(), json!("false"));
            }
            StopButtonStyle::None => {}
        }
    }

    /// The line under a streaming answer, when the card has no button.
    pub(crate) fn streaming_hint(&self) -> &'static str {
        if self.shown() {
            ""
        } else {
            STOP_HINT
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button(style: StopButtonStyle) -> StopButton {
        StopButton {
            style,
            callbacks: CardCallbacks::Stream,
        }
    }

    #[test]
    fn msg_buttons_show_one_stop_button_and_hide_it_with_the_same_layout() {
        let b = button(StopButtonStyle::MsgButtons);
        let mut shown = Map::new();
        b.add_shown(&mut shown);
        let layout: Value =
            serde_json::from_str(shown["sys_full_json_obj"].as_str().unwrap()).unwrap();
        assert_eq!(layout["msgButtons"][0]["id"], STOP_ACTION_ID);
        assert_eq!(layout["msgButtons"][0]["text"], "停止回答");
        assert_eq!(layout["msgButtons"][0]["request"], true);
        let mut hidden = Map::new();
        b.add_hidden(&mut hidden);
        let after: Value =
            serde_json::from_str(hidden["sys_full_json_obj"].as_str().unwrap()).unwrap();
        assert!(after.get("msgButtons").is_none());
        assert_eq!(after["order"], layout["order"]);
        assert_eq!(b.streaming_hint(), "");
    }

    #[test]
    fn stop_action_templates_get_string_flags() {
        let b = button(StopButtonStyle::StopAction);
        let (mut shown, mut hidden) = (Map::new(), Map::new());
        b.add_shown(&mut shown);
        b.add_hidden(&mut hidden);
        assert_eq!(shown["hasAction"], "true");
        assert_eq!(shown["stop_action"], "true");
        assert_eq!(hidden["stop_action"], "false");
    }

    #[test]
    fn without_a_button_the_card_says_to_send_stop() {
        let b = StopButton::off();
        let mut params = Map::new();
        b.add_shown(&mut params);
        b.add_hidden(&mut params);
        assert!(params.is_empty());
        assert!(b.streaming_hint().contains("/stop"));
        let mut body = json!({});
        b.callbacks.add_to(&mut body);
        assert!(body.get("callbackType").is_none());
    }

    #[test]
    fn http_callbacks_name_their_route_key() {
        let mut body = json!({});
        CardCallbacks::Http {
            route_key: "openclaw-dingtalk".into(),
        }
        .add_to(&mut body);
        assert_eq!(body["callbackType"], "HTTP");
        assert_eq!(body["callbackRouteKey"], "openclaw-dingtalk");
    }
}
