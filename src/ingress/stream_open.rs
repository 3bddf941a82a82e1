//! The Stream-mode `connections/open` request body: the app's credentials and the topics the
//! skill subscribes to, robot messages and card callbacks (docs/dingtalk-events.md, "Opening
//! a connection").

use serde_json::json;

use super::card_callbacks::CARD_CALLBACK_TOPIC;
use crate::manifest::DingTalkConfig;
use crate::secret::Secret;

/// The topic of robot messages.
pub(crate) const BOT_MESSAGE_TOPIC: &str = "/v1.0/im/bot/messages/get";

/// The JSON body of `app`'s connection, which carries its app secret: hand it to the host as
/// a secret.
pub(crate) fn stream_open_body(app: &DingTalkConfig) -> Secret {
    Secret::new(
        json!({
            "clientId": app.app_key,
            "clientSecret": app.app_secret.expose(),
            "subscriptions": [
                {"type": "CALLBACK", "topic": BOT_MESSAGE_TOPIC},
                {"type": "CALLBACK", "topic": CARD_CALLBACK_TOPIC},
            ],
            "ua": concat!("openclaw-dingtalk/", env!("CARGO_PKG_VERSION")),
        })
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::manifest::Manifest;

    #[test]
    fn the_body_subscribes_to_robot_messages_and_card_callbacks_with_the_apps_credentials() {
        let text = "name: 客服\nversion: \"1\"\ngateway:\n  endpoint: http://127.0.0.1:1\ndingtalk:\n  app_key: ding-key\n  app_secret: 秘密-secret\n  card_template_id: tpl\n";
        let manifest = Manifest::load_with(text, Path::new("."), |_| None).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(stream_open_body(&manifest.apps[0]).expose()).unwrap();
        assert_eq!(body["clientId"], "ding-key");
        assert_eq!(body["clientSecret"], "秘密-secret");
        assert_eq!(body["subscriptions"][0]["topic"], BOT_MESSAGE_TOPIC);
        assert_eq!(body["subscriptions"][0]["type"], "CALLBACK");
        assert_eq!(body["subscriptions"][1]["topic"], CARD_CALLBACK_TOPIC);
        assert_eq!(body["subscriptions"][1]["type"], "CALLBACK");
    }
}
