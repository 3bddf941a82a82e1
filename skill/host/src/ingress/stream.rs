//! Stream mode: the connection manager (docs/dingtalk-events.md, "Stream mode").
//!
//! One connection serves at a time: `POST /v1.0/gateway/connections/open` (credentials and the
//! robot-message subscription) gives an endpoint and a single-use ticket, then the WebSocket
//! `endpoint?ticket=…` carries frames. Every CALLBACK frame is ACKed before the event goes to the
//! skill; pings are answered with their data. On a `disconnect` frame a new connection is opened
//! while the old one keeps serving, and the old one is closed once the new one is up. After
//! errors the manager reconnects with exponential backoff and jitter (1 s → 60 s, reset after a
//! healthy period); a socket silent for longer than `ingress.stream.silence_timeout_ms` (the host
//! probes it with a WebSocket ping at a third of that) is treated as dead.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use futures_util::{SinkExt, StreamExt};
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::frames::{self, Frame, BOT_MESSAGE_TOPIC};
use super::{Dispatcher, Source};
use crate::host_manifest::IngressSettings;
use crate::metrics::Metrics;
use crate::secret::Secret;
use crate::{neterr, redact};

/// Deadline for `connections/open`.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline for the WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing socket may take to finish the close handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(3);
/// Longest wait for one frame write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that served this long resets the backoff.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);
/// The smallest silence limit honoured (a smaller manifest value is raised to it).
const MIN_SILENCE: Duration = Duration::from_millis(300);

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

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

/// Calls `connections/open` with the app's credentials.
struct Opener {
    http: reqwest::Client,
    url: Url,
    app_key: String,
    app_secret: Secret,
}

impl Opener {
    /// `(endpoint, ticket)`.
    async fn open(&self) -> Result<(String, String), ConnectError> {
        let body = json!({
            "clientId": self.app_key,
            "clientSecret": self.app_secret.expose(),
            "subscriptions": [{"type": "CALLBACK", "topic": BOT_MESSAGE_TOPIC}],
            "ua": concat!("openclaw-skill/", env!("CARGO_PKG_VERSION")),
        });
        let response = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                ConnectError::Other(neterr::http_request(
                    "connections/open",
                    &self.url,
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
        Ok((field("endpoint")?, field("ticket")?))
    }
}

/// What a connection task reports while it runs.
#[derive(Debug)]
enum ConnEvent {
    /// The server sent a `disconnect` frame.
    Disconnect(String),
}

/// How a connection ended.
#[derive(Debug)]
enum Ending {
    /// The server closed it (or the stream ended).
    Closed(String),
    /// A transport error.
    Error(String),
    /// Nothing arrived for longer than the silence limit.
    Silent(Duration),
    /// The host closed it (replaced, or shutting down).
    ByHost,
}

impl Ending {
    fn reason(&self) -> &'static str {
        match self {
            Ending::Closed(_) => "closed",
            Ending::Error(_) => "error",
            Ending::Silent(_) => "silence",
            Ending::ByHost => "retired",
        }
    }
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Closed(why) => write!(f, "closed by the server ({why})"),
            Ending::Error(e) => write!(f, "transport error: {e}"),
            Ending::Silent(d) => write!(f, "silent for more than {} ms", d.as_millis()),
            Ending::ByHost => f.write_str("closed by the host"),
        }
    }
}

/// A serving connection.
struct Connection {
    no: u64,
    opened: Instant,
    close: Option<oneshot::Sender<()>>,
    events: mpsc::UnboundedReceiver<ConnEvent>,
    task: JoinHandle<Ending>,
}

impl Connection {
    /// Asks the connection to close (it keeps serving frames until the close completes) and
    /// waits for its end.
    async fn retire(mut self) -> (u64, Ending) {
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        (self.no, join(&mut self.task).await)
    }
}

async fn join(task: &mut JoinHandle<Ending>) -> Ending {
    task.await
        .unwrap_or_else(|e| Ending::Error(format!("connection task failed: {e}")))
}

/// What the connection tasks share.
#[derive(Clone)]
struct Serving {
    dispatcher: Dispatcher,
    metrics: Arc<Metrics>,
    intake: CancellationToken,
    silence: Duration,
}

/// The connection manager.
struct Manager {
    opener: Opener,
    serving: Serving,
    backoff: Backoff,
    next_no: u64,
    /// Whether `connections/open` may return a plain `ws://` endpoint (only when
    /// `dingtalk.api_base_url` is a loopback test URL).
    plain_ws_allowed: bool,
}

/// Serves Stream mode until `intake` is cancelled. Fails only when DingTalk refuses the
/// credentials of the very first connection (a configuration error).
pub async fn run(
    settings: &IngressSettings,
    dispatcher: Dispatcher,
    metrics: Arc<Metrics>,
    intake: CancellationToken,
) -> Result<()> {
    // No redirects: the request carries the app secret, and it goes to api_base_url only.
    let http = reqwest::Client::builder()
        .timeout(OPEN_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| anyhow::anyhow!("HTTP client: {e}"))?;
    let silence = Duration::from_millis(settings.stream.silence_timeout_ms).max(MIN_SILENCE);
    let open_url = format!("{}/v1.0/gateway/connections/open", settings.api_base_url);
    let open_url = Url::parse(&open_url).map_err(|e| {
        anyhow::anyhow!(
            "dingtalk.api_base_url {}: {e}",
            redact::url(&settings.api_base_url)
        )
    })?;
    let plain_ws_allowed = is_loopback_test_url(&open_url);
    let mut manager = Manager {
        opener: Opener {
            http,
            url: open_url,
            app_key: settings.app_key.clone(),
            app_secret: settings.app_secret.clone(),
        },
        serving: Serving {
            dispatcher,
            metrics,
            intake,
            silence,
        },
        backoff: Backoff::reconnect(),
        next_no: 1,
        plain_ws_allowed,
    };
    log::info!(
        "stream mode: app {} via {} (silence limit {} ms)",
        settings.app_key,
        redact::url(&settings.api_base_url),
        silence.as_millis()
    );
    manager.serve().await
}

impl Manager {
    async fn serve(&mut self) -> Result<()> {
        let intake = self.serving.intake.clone();
        let Some(mut current) = self.establish(true).await? else {
            return Ok(());
        };
        let mut retiring: JoinSet<(u64, Ending)> = JoinSet::new();
        // Set once `current`'s task has been joined while shutting down: it must not be joined
        // again by `retire` (a JoinHandle polled after completion panics).
        let mut current_ended = false;
        loop {
            tokio::select! {
                _ = intake.cancelled() => break,
                Some(done) = retiring.join_next(), if !retiring.is_empty() => {
                    if let Ok((no, ending)) = done {
                        log::info!("stream #{no}: {ending}");
                    }
                }
                event = current.events.recv() => match event {
                    Some(ConnEvent::Disconnect(reason)) => {
                        let asked = Instant::now();
                        log::info!(
                            "stream #{}: server disconnect ({reason}); opening a new connection first",
                            current.no
                        );
                        self.serving.metrics.inc("openclaw_stream_reconnects_total", &[("reason", "disconnect")]);
                        let Some(next) = self.establish(false).await? else { break };
                        log::info!(
                            "stream #{}: serving, {} ms after the disconnect frame; closing #{}",
                            next.no,
                            asked.elapsed().as_millis(),
                            current.no
                        );
                        let old = std::mem::replace(&mut current, next);
                        retiring.spawn(old.retire());
                    }
                    None => {
                        let ending = join(&mut current.task).await;
                        let up = current.opened.elapsed();
                        self.serving.metrics.set_stream_connected(false);
                        if intake.is_cancelled() {
                            log::info!("stream #{}: {ending}", current.no);
                            current_ended = true;
                            break;
                        }
                        self.serving.metrics.inc("openclaw_stream_reconnects_total", &[("reason", ending.reason())]);
                        if up >= HEALTHY_AFTER {
                            self.backoff.reset();
                        }
                        let delay = self.backoff.next_delay();
                        log::warn!(
                            "stream #{}: {ending} after {} s; reconnecting in {} ms",
                            current.no,
                            up.as_secs(),
                            delay.as_millis()
                        );
                        if !pause(delay, &intake).await {
                            return Ok(());
                        }
                        let Some(next) = self.establish(false).await? else { return Ok(()) };
                        current = next;
                    }
                }
            }
        }
        // Shutting down: close the sockets (callbacks that arrive now are left un-ACKed, so
        // DingTalk redelivers them).
        self.serving.metrics.set_stream_connected(false);
        if !current_ended {
            retiring.spawn(current.retire());
        }
        while let Some(done) = retiring.join_next().await {
            if let Ok((no, ending)) = done {
                log::info!("stream #{no}: {ending}");
            }
        }
        Ok(())
    }

    /// Opens a connection, retrying with backoff; `None` when intake stopped first. With
    /// `first`, refused credentials are an error (nothing could ever work); later they are
    /// retried like any failure.
    async fn establish(&mut self, first: bool) -> Result<Option<Connection>> {
        let intake = self.serving.intake.clone();
        loop {
            let attempt = tokio::select! {
                _ = intake.cancelled() => return Ok(None),
                attempt = self.connect() => attempt,
            };
            match attempt {
                Ok(conn) => {
                    self.serving
                        .metrics
                        .inc("openclaw_stream_connects_total", &[("result", "ok")]);
                    self.serving.metrics.set_stream_connected(true);
                    return Ok(Some(conn));
                }
                Err(e) => {
                    let auth = matches!(e, ConnectError::Auth(_));
                    self.serving.metrics.inc(
                        "openclaw_stream_connects_total",
                        &[("result", if auth { "auth_failed" } else { "error" })],
                    );
                    if auth && first {
                        anyhow::bail!(
                            "DingTalk refused the app credentials ({e}): check dingtalk.app_key and dingtalk.app_secret"
                        );
                    }
                    let delay = self.backoff.next_delay();
                    log::warn!(
                        "stream: cannot connect ({e}); retrying in {} ms",
                        delay.as_millis()
                    );
                    if !pause(delay, &intake).await {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// One attempt: `connections/open`, then the WebSocket handshake.
    async fn connect(&mut self) -> Result<Connection, ConnectError> {
        let (endpoint, ticket) = self.opener.open().await?;
        let shown = redact::url(&endpoint);
        let mut url = Url::parse(&endpoint).map_err(|e| {
            ConnectError::Other(format!(
                "connections/open returned an endpoint that is not a URL ({shown:?}): {e}"
            ))
        })?;
        check_endpoint(&url, self.plain_ws_allowed).map_err(ConnectError::Other)?;
        url.query_pairs_mut().append_pair("ticket", &ticket);
        let ws = open_socket(&url)
            .await
            .map_err(|e| ConnectError::Other(format!("WebSocket {shown}: {e}")))?;
        let no = self.next_no;
        self.next_no += 1;
        log::info!("stream #{no}: connected to {shown} (ticket ***)");
        let (close_tx, close_rx) = oneshot::channel();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(serve_socket(
            ws,
            no,
            self.serving.clone(),
            close_rx,
            events_tx,
        ));
        Ok(Connection {
            no,
            opened: Instant::now(),
            close: Some(close_tx),
            events: events_rx,
            task,
        })
    }
}

/// Whether `url` is a test URL on this machine (`127.0.0.0/8`, `[::1]` or `localhost`), where
/// the emulator may hand out a plain `ws://` Stream endpoint.
fn is_loopback_test_url(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The Stream endpoint must be `wss://` (DingTalk's is); plain `ws://` only for a loopback test
/// setup. Anything else would send the ticket (and every message) unencrypted, or nowhere
/// sensible.
fn check_endpoint(endpoint: &Url, plain_ws_allowed: bool) -> Result<(), String> {
    match endpoint.scheme() {
        "wss" => Ok(()),
        "ws" if plain_ws_allowed => Ok(()),
        scheme => Err(format!(
            "connections/open returned the Stream endpoint {scheme}://{}, which is not wss://: \
             refusing to connect (plain ws:// is accepted only when dingtalk.api_base_url is a \
             loopback test URL)",
            endpoint.host_str().unwrap_or("?")
        )),
    }
}

/// DNS, TCP, then the TLS and WebSocket handshakes, within [`HANDSHAKE_TIMEOUT`]; each failure
/// says which step failed and why (the ticket in `url` is never shown).
async fn open_socket(url: &Url) -> Result<Ws, String> {
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let late = |step: String| {
        format!(
            "{step} did not finish within {} ms (the WebSocket connect deadline)",
            HANDSHAKE_TIMEOUT.as_millis()
        )
    };
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("no port for scheme {}", url.scheme()))?;
    let addrs: Vec<std::net::SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![(ip, port).into()],
        Some(url::Host::Ipv6(ip)) => vec![(ip, port).into()],
        Some(url::Host::Domain(name)) => {
            tokio::time::timeout_at(deadline, tokio::net::lookup_host((name, port)))
                .await
                .map_err(|_| late(format!("the DNS lookup of {name}")))?
                .map_err(|e| neterr::dns(name, &e))?
                .collect()
        }
        None => return Err("the endpoint has no host".into()),
    };
    let mut failures = Vec::new();
    let mut socket = None;
    for addr in addrs {
        match tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(addr)).await {
            Err(_) => return Err(late(format!("the TCP connect to {addr}"))),
            Ok(Ok(s)) => {
                socket = Some(s);
                break;
            }
            Ok(Err(e)) => failures.push(neterr::tcp(&addr, &e)),
        }
    }
    let Some(socket) = socket else {
        return Err(if failures.is_empty() {
            format!("{} resolved to no address", neterr::target(url))
        } else {
            failures.join("; ")
        });
    };
    let handshake =
        tokio_tungstenite::client_async_tls_with_config(url.as_str(), socket, None, None);
    let (ws, _) = tokio::time::timeout_at(deadline, handshake)
        .await
        .map_err(|_| late(format!("the handshake with {}", neterr::target(url))))?
        .map_err(|e| neterr::ws_handshake(url, &e))?;
    Ok(ws)
}

/// Sleeps for `delay`; false when intake stopped first.
async fn pause(delay: Duration, intake: &CancellationToken) -> bool {
    tokio::select! {
        _ = intake.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}

async fn write(ws: &mut Ws, text: String) -> Result<(), Ending> {
    match tokio::time::timeout(WRITE_TIMEOUT, ws.send(Message::text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Ending::Error(format!("write: {e}"))),
        Err(_) => Err(Ending::Error("write timed out".into())),
    }
}

/// Serves one socket until it ends; returns how.
async fn serve_socket(
    mut ws: Ws,
    no: u64,
    serving: Serving,
    mut close: oneshot::Receiver<()>,
    events: mpsc::UnboundedSender<ConnEvent>,
) -> Ending {
    let silence = serving.silence;
    let keepalive = silence / 3;
    let mut last_rx = Instant::now();
    let mut probed = false;
    let mut closing: Option<Instant> = None;
    let mut close_asked = false;
    let mut server_closed: Option<String> = None;
    loop {
        let deadline = match closing {
            Some(at) => at + CLOSE_WAIT,
            None if probed => last_rx + silence,
            None => last_rx + keepalive,
        };
        tokio::select! {
            asked = &mut close, if !close_asked => {
                close_asked = true;
                if asked.is_ok() && closing.is_none() {
                    closing = Some(Instant::now());
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, ws.close(None)).await;
                }
            }
            _ = serving.intake.cancelled(), if closing.is_none() => {
                closing = Some(Instant::now());
                let _ = tokio::time::timeout(WRITE_TIMEOUT, ws.close(None)).await;
            }
            message = ws.next() => {
                last_rx = Instant::now();
                probed = false;
                match message {
                    None => {
                        return match (closing, server_closed) {
                            (Some(_), _) => Ending::ByHost,
                            (None, why) => Ending::Closed(why.unwrap_or_else(|| "end of stream".into())),
                        };
                    }
                    Some(Err(e)) => {
                        return if closing.is_some() { Ending::ByHost } else { Ending::Error(e.to_string()) };
                    }
                    Some(Ok(Message::Text(text))) => {
                        if let Err(ending) = on_text(&mut ws, no, text.as_str(), &serving, &events).await {
                            return ending;
                        }
                    }
                    Some(Ok(Message::Close(frame))) => {
                        // tungstenite answers the close; keep reading until the stream ends.
                        server_closed = Some(frame.map_or_else(
                            || "close frame".to_owned(),
                            |f| format!("close {} {}", u16::from(f.code), f.reason),
                        ));
                    }
                    Some(Ok(_)) => {}
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                if closing.is_some() {
                    return Ending::ByHost;
                }
                if probed {
                    return Ending::Silent(silence);
                }
                // Idle: probe the peer; any frame (or the pong) counts as life.
                probed = true;
                if let Err(e) = tokio::time::timeout(WRITE_TIMEOUT, ws.send(Message::Ping(Bytes::new()))).await {
                    return Ending::Error(format!("ping: {e}"));
                }
            }
        }
    }
}

/// Handles one text frame. ACKs come before the skill sees the event.
async fn on_text(
    ws: &mut Ws,
    no: u64,
    text: &str,
    serving: &Serving,
    events: &mpsc::UnboundedSender<ConnEvent>,
) -> Result<(), Ending> {
    let frame = match frames::parse(text) {
        Ok(frame) => frame,
        Err(e) => {
            serving
                .metrics
                .inc("openclaw_stream_frames_total", &[("type", "unreadable")]);
            log::warn!("stream #{no}: unreadable frame ignored: {e}");
            return Ok(());
        }
    };
    let kind = match &frame {
        Frame::Callback { .. } => "callback",
        Frame::Event { .. } => "event",
        Frame::Ping { .. } => "ping",
        Frame::Disconnect { .. } => "disconnect",
        Frame::System { .. } => "system",
    };
    serving
        .metrics
        .inc("openclaw_stream_frames_total", &[("type", kind)]);
    match frame {
        Frame::Callback {
            message_id,
            topic,
            data,
        } => {
            if serving.intake.is_cancelled() {
                log::info!(
                    "stream #{no}: callback {message_id} left un-ACKed while shutting down (DingTalk redelivers it)"
                );
                return Ok(());
            }
            let acked = write(ws, frames::ack(&message_id)).await;
            // Even when the ACK could not be written the event goes to the skill: a redelivery
            // is dropped by the skill's msgId dedup, a lost event would not come back soon.
            if topic == BOT_MESSAGE_TOPIC {
                // Refusals are logged and counted by the dispatcher; the socket serves on.
                let _ = serving.dispatcher.deliver(Source::Stream, &data);
            } else {
                log::debug!("stream #{no}: callback on topic {topic} ACKed and ignored");
            }
            acked?;
        }
        Frame::Event { message_id, topic } => {
            log::debug!("stream #{no}: event {topic} ACKed and ignored");
            write(ws, frames::event_ack(&message_id)).await?;
        }
        Frame::Ping { message_id, data } => write(ws, frames::pong(&message_id, &data)).await?,
        Frame::Disconnect { reason } => {
            let _ = events.send(ConnEvent::Disconnect(reason));
        }
        Frame::System { topic } => log::debug!("stream #{no}: system frame {topic}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_test_urls() {
        for base in [
            "http://127.0.0.1:8080/v1.0/gateway/connections/open",
            "http://127.1.2.3:1/",
            "https://localhost/x",
            "http://[::1]:9/",
        ] {
            assert!(is_loopback_test_url(&url(base)), "{base}");
        }
        for base in [
            "https://api.dingtalk.com/v1.0/gateway/connections/open",
            "http://10.0.0.1/",
            "http://localhost.example.com/",
            "http://[::2]/",
        ] {
            assert!(!is_loopback_test_url(&url(base)), "{base}");
        }
    }

    #[test]
    fn the_stream_endpoint_must_be_wss_unless_testing_on_loopback() {
        let wss = url("wss://wss-open-connection.dingtalk.com:443/connect");
        assert_eq!(check_endpoint(&wss, false), Ok(()));
        assert_eq!(check_endpoint(&wss, true), Ok(()));
        let ws = url("ws://evil.example.com/connect");
        let refused = check_endpoint(&ws, false).unwrap_err();
        assert!(
            refused.starts_with(
                "connections/open returned the Stream endpoint ws://evil.example.com, which is not wss://: refusing to connect"
            ),
            "{refused}"
        );
        assert_eq!(
            check_endpoint(&url("ws://127.0.0.1:5/connect"), true),
            Ok(())
        );
        let http = check_endpoint(&url("http://127.0.0.1:5/"), true).unwrap_err();
        assert!(http.contains("endpoint http://127.0.0.1"), "{http}");
    }

    #[tokio::test]
    async fn a_refused_websocket_names_the_address() {
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = dead.local_addr().unwrap().port();
        drop(dead);
        let Err(e) = open_socket(&url(&format!("ws://127.0.0.1:{port}/connect?ticket=T0P"))).await
        else {
            panic!("connected to a closed port")
        };
        assert!(
            e.starts_with(&format!("connection refused by 127.0.0.1:{port}: ")),
            "{e}"
        );
        assert!(!e.contains("T0P"), "the ticket is never shown: {e}");
    }
}
