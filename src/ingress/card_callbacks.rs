//! Card callbacks (a user pressed a card's stop button), on the ingress side: the Stream topic
//! they arrive on, and in HTTP mode the route DingTalk posts them to: its key, the secret they
//! are signed with, and how cards name it. See `docs/dingtalk-events.md`, "Card callbacks".

#[cfg(test)]
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::card::{CardCallbacks, StopButton};
use crate::manifest::{DingTalkConfig, IngressMode, Manifest, StopButtonStyle};
use crate::secret::Secret;

/// The Stream topic of card callbacks.
pub(crate) const CARD_CALLBACK_TOPIC: &str = "/v1.0/card/instances/callback";

/// The `callbackRouteKey` the plugin registers (HTTP mode) and creates its cards with; with
/// several apps each app's is this with `-<name>` appended.
pub(crate) const ROUTE_KEY: &str = "openclaw-dingtalk";

fn hmac(key: &[u8], message: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail here.
    let mut mac = match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts any key length"),
    };
    mac.update(message);
    mac
}

/// The `apiSecret` the HTTP card-callback route is registered with: derived from the app
/// secret, so every process of the app (and every restart) registers and checks the same one
/// without another setting.
pub(crate) fn api_secret(app_secret: &Secret) -> Secret {
    let digest = hmac(
        app_secret.expose().as_bytes(),
        b"openclaw-dingtalk card callbacks",
    )
    .finalize()
    .into_bytes();
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    Secret::new(hex)
}

/// The `x-ddpaas-signature` DingTalk sends with a card callback signed at `timestamp` (the
/// header's exact text): `Base64(HmacSHA256(key = apiSecret, message = timestamp))`.
pub(crate) fn card_signature_mac(api_secret: &str, timestamp: &str) -> Hmac<Sha256> {
    hmac(api_secret.as_bytes(), timestamp.as_bytes())
}

/// The signature header value for `timestamp` (tests sign callbacks with it).
#[cfg(test)]
pub(crate) fn card_signature(api_secret: &str, timestamp: &str) -> String {
    B64.encode(
        card_signature_mac(api_secret, timestamp)
            .finalize()
            .into_bytes(),
    )
}

/// The stop button of the cards of `app` and how its presses arrive: over the app's Stream
/// connection, or (HTTP mode) at `ingress.http.card_callback_url` under [`ROUTE_KEY`] (with
/// several apps, `ROUTE_KEY-<name>`).
pub(crate) fn stop_button(manifest: &Manifest, app: &DingTalkConfig) -> StopButton {
    let style = manifest.stop_button_style(app);
    if style == StopButtonStyle::None {
        return StopButton::off();
    }
    let callbacks = match manifest.ingress.mode {
        IngressMode::Stream => CardCallbacks::Stream,
        IngressMode::Http if manifest.several_apps() => CardCallbacks::Http {
            route_key: format!("{ROUTE_KEY}-{}", app.name),
        },
        IngressMode::Http => CardCallbacks::Http {
            route_key: ROUTE_KEY.to_owned(),
        },
    };
    StopButton { style, callbacks }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn manifest(extra: &str) -> Manifest {
        let text = format!(
            "name: 客服\nversion: \"1\"\ngateway:\n  endpoint: http://127.0.0.1:1\ndingtalk:\n  app_key: k\n  app_secret: 钉钉-secret\n{extra}"
        );
        Manifest::load_with(&text, Path::new("."), |_| None).unwrap()
    }

    #[test]
    fn the_default_template_gets_a_msg_buttons_stop_button_over_stream() {
        let m = manifest("");
        let b = stop_button(&m, &m.apps[0]);
        assert_eq!(b.style, StopButtonStyle::MsgButtons);
        assert_eq!(b.callbacks, CardCallbacks::Stream);
    }

    #[test]
    fn another_template_has_no_button_unless_the_manifest_names_its_style() {
        let own = manifest("  card_template_id: 我的模板.schema\n");
        assert_eq!(stop_button(&own, &own.apps[0]), StopButton::off());
        let named =
            manifest("  card_template_id: 我的模板.schema\n  card_stop_button: stop_action\n");
        assert_eq!(
            stop_button(&named, &named.apps[0]).style,
            StopButtonStyle::StopAction
        );
    }

    #[test]
    fn http_mode_needs_the_public_callback_url_for_a_button() {
        let without = manifest("ingress:\n  mode: http\n");
        assert_eq!(stop_button(&without, &without.apps[0]), StopButton::off());
        let with = manifest(
            "ingress:\n  mode: http\n  http:\n    card_callback_url: https://bot.example.com/dingtalk/callback\n",
        );
        assert_eq!(
            stop_button(&with, &with.apps[0]).callbacks,
            CardCallbacks::Http {
                route_key: ROUTE_KEY.into()
            }
        );
    }

    #[test]
    fn with_several_apps_each_app_has_its_own_route_key() {
        let text = "name: 客服\nversion: \"1\"\ngateway:\n  endpoint: http://127.0.0.1:1\napps:\n  - name: hr\n    app_key: k1\n    app_secret: s1\n  - name: it\n    app_key: k2\n    app_secret: s2\ningress:\n  mode: http\n  http:\n    card_callback_url: https://bot.example.com/dingtalk/callback\n";
        let m = Manifest::load_with(text, Path::new("."), |_| None).unwrap();
        assert_eq!(
            stop_button(&m, &m.apps[1]).callbacks,
            CardCallbacks::Http {
                route_key: "openclaw-dingtalk-it".into()
            }
        );
    }

    #[test]
    fn the_api_secret_is_stable_per_app_and_never_the_app_secret() {
        let a = api_secret(&Secret::new("钉钉-secret".to_owned()));
        let b = api_secret(&Secret::new("钉钉-secret".to_owned()));
        let other = api_secret(&Secret::new("another".to_owned()));
        assert_eq!(a.expose(), b.expose());
        assert_ne!(a.expose(), other.expose());
        assert_eq!(a.expose().len(), 32);
        assert!(!a.expose().contains("钉钉"));
    }

    #[test]
    fn card_signatures_match_an_independent_hmac() {
        // HmacSHA256(key = "secret", message = "1700000000000"), Base64, computed with
        // Python's hmac/hashlib/base64.
        assert_eq!(
            card_signature("secret", "1700000000000"),
            "T+LOEv1r7F4GSLI7+/8Vi6X8GLOiFLTCBzFGcUSKleE="
        );
    }
}
