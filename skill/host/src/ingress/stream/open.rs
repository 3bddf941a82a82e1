//! `POST /v1.0/gateway/connections/open`: the request that gives a Stream endpoint and a
//! single-use ticket for one WebSocket connection (docs/dingtalk-events.md, "Stream mode").

use std::time::Duration;

use reqwest::{StatusCode, Url};
use serde_json::Value;

use super::super::network::Network;
use crate::neterr;
use crate::secret::Secret;

/// Deadline for `connections/open`.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The `connections/open` request, as its provider built it: where to `POST` and the JSON body
/// (it carries the app's credentials, hence a [`Secret`]). Built once per `run`; the Stream
/// client sends it as it is for every connection.
#[derive(Debug, Clone)]
pub struct OpenRequest {
    /// The `connections/open` URL (on `dingtalk.api_base_url`).
    pub url: Url,
    /// The JSON body.
    pub body: Secret,
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub enum ConnectError {
    /// `connections/open` refused the app credentials (HTTP 401).
    Auth(String),
    /// Any other failure (network, status, malformed answer, handshake).
    Other(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Auth(m) => write!(f, "credentials refused: {m}"),
            ConnectError::Other(m) => f.write_str(m),
        }
    }
}

/// What `connections/open` answered.
#[derive(Debug)]
pub struct Ticket {
    /// The WebSocket endpoint.
    pub endpoint: String,
    /// The single-use ticket (a credential: never logged).
    pub ticket: String,
}

/// Sends the [`OpenRequest`]. Shared by the connection manager only (one attempt at a time).
pub struct Opener {
    http: reqwest::Client,
    request: OpenRequest,
    network: Network,
}

impl Opener {
    /// An opener for `request`. No redirects: the body carries the app secret, and it goes to
    /// the request's URL only.
    pub fn new(request: OpenRequest, network: Network) -> anyhow::Result<Opener> {
        let http = network
            .http_client()
            .timeout(OPEN_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("HTTP client: {e}"))?;
        Ok(Opener {
            http,
            request,
            network,
        })
    }

    /// The TLS connector for the WebSocket this opener's tickets are for.
    pub fn ws_connector(&self) -> Option<tokio_tungstenite::Connector> {
        self.network.ws_connector()
    }

    /// Asks for an endpoint and a ticket.
    pub async fn open(&self) -> Result<Ticket, ConnectError> {
        let url = &self.request.url;
        let response = self
            .http
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(self.request.body.expose().to_owned())
            .send()
            .await
            .map_err(|e| {
                ConnectError::Other(neterr::http_request(
                    "connections/open",
                    url,
                    e,
                    OPEN_TIMEOUT,
                ))
            })?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let code = || {
            answer
                .get("code")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        if status == StatusCode::UNAUTHORIZED {
            return Err(ConnectError::Auth(format!("HTTP 401 {}", code())));
        }
        if !status.is_success() {
            return Err(ConnectError::Other(format!(
                "connections/open answered HTTP {} {}",
                status.as_u16(),
                code()
            )));
        }
        let field = |name: &str| {
            answer
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| {
                    ConnectError::Other(format!("connections/open answer has no `{name}`"))
                })
        };
        Ok(Ticket {
            endpoint: field("endpoint")?,
            ticket: field("ticket")?,
        })
    }
}
