//! The HTTP side of DingTalk calls: the shared `reqwest` client (timeouts, no redirects),
//! transport failures typed for retrying, and URL origins (session webhooks are checked
//! against the configured ones).

use std::time::Duration;

use reqwest::Url;

use super::error::DingTalkError;
use crate::network::Network;

/// Deadline of one DingTalk call (DingTalk itself answers 504 after 3 s).
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline for connecting to DingTalk.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP client every DingTalk call goes through.
pub(super) fn http_client(network: &Network) -> Result<reqwest::Client, DingTalkError> {
    network
        .client_builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(CALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(transport_error)
}

/// A transport failure: never applied when no connection was made.
pub(super) fn transport_error(e: reqwest::Error) -> DingTalkError {
    let (connect, timeout) = (e.is_connect(), e.is_timeout());
    let text = crate::net_error::describe(e);
    if connect {
        DingTalkError::Connect(text)
    } else if timeout {
        DingTalkError::Transport(format!(
            "no answer within {} s: {text}",
            CALL_TIMEOUT.as_secs()
        ))
    } else {
        DingTalkError::Transport(text)
    }
}

/// `scheme://host[:port]` of `url`.
pub(super) fn origin(url: &Url) -> String {
    format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""))
        + &url.port().map(|p| format!(":{p}")).unwrap_or_default()
}
