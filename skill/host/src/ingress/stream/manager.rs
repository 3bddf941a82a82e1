//! The connection manager: one connection serves at a time. On a `disconnect` frame a new
//! connection is opened while the old one keeps serving, and the old one is closed once the new
//! one is up; after errors the manager reconnects with the [`Reconnect`] delays.

use anyhow::Result;
use reqwest::Url;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::open::{ConnectError, Opener};
use super::reconnect::Reconnect;
use super::session::{serve_socket, ConnEvent, Ending, Serving};
use super::socket::{check_endpoint, open_socket};
use crate::redact;

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

/// How a connection task ended (a panicked task counts as a transport error).
async fn join(task: &mut JoinHandle<Ending>) -> Ending {
    task.await
        .unwrap_or_else(|e| Ending::Error(format!("connection task failed: {e}")))
}

/// Sleeps for `delay`; false when intake stopped first.
async fn pause(delay: std::time::Duration, intake: &CancellationToken) -> bool {
    tokio::select! {
        _ = intake.cancelled() => false,
        _ = tokio::time::sleep(delay) => true,
    }
}

/// The connection manager. Runs on one task; each connection's socket is served by its own.
pub struct Manager {
    opener: Opener,
    serving: Serving,
    reconnect: Reconnect,
    next_no: u64,
    /// Whether `connections/open` may return a plain `ws://` endpoint (only when its own URL is
    /// a loopback test URL).
    plain_ws_allowed: bool,
}

impl Manager {
    /// A manager opening connections with `opener` and serving them with `serving`.
    pub fn new(opener: Opener, serving: Serving, plain_ws_allowed: bool) -> Manager {
        Manager {
            opener,
            serving,
            reconnect: Reconnect::new(),
            next_no: 1,
            plain_ws_allowed,
        }
    }

    /// Serves until intake stops; then closes the sockets (callbacks that arrive meanwhile are
    /// left un-ACKed, so DingTalk redelivers them). Fails only when the credentials of the very
    /// first connection are refused.
    pub async fn serve(&mut self) -> Result<()> {
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
                        self.serving.metrics.stream_reconnect("disconnect");
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
                        self.serving
                            .metrics
                            .set_stream_connected(&self.serving.app_key, false);
                        if intake.is_cancelled() {
                            log::info!("stream #{}: {ending}", current.no);
                            current_ended = true;
                            break;
                        }
                        self.serving.metrics.stream_reconnect(ending.reason());
                        self.reconnect.connection_ended(up);
                        let delay = self.reconnect.next_delay();
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
        self.serving
            .metrics
            .set_stream_connected(&self.serving.app_key, false);
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

    /// Opens a connection, retrying with the reconnect delays; `None` when intake stopped
    /// first. With `first`, refused credentials are an error (nothing could ever work); later
    /// they are retried like any failure.
    async fn establish(&mut self, first: bool) -> Result<Option<Connection>> {
        let intake = self.serving.intake.clone();
        loop {
            let attempt = tokio::select! {
                _ = intake.cancelled() => return Ok(None),
                attempt = self.connect() => attempt,
            };
            match attempt {
                Ok(conn) => {
                    self.serving.metrics.stream_connect("ok");
                    self.serving
                        .metrics
                        .set_stream_connected(&self.serving.app_key, true);
                    return Ok(Some(conn));
                }
                Err(e) => {
                    let auth = matches!(e, ConnectError::Auth(_));
                    self.serving
                        .metrics
                        .stream_connect(if auth { "auth_failed" } else { "error" });
                    if auth && first {
                        anyhow::bail!(
                            "DingTalk refused the app credentials ({e}): check dingtalk.app_key and dingtalk.app_secret"
                        );
                    }
                    let delay = self.reconnect.next_delay();
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

    /// One attempt: `connections/open`, then the WebSocket handshake; the socket is then served
    /// by its own task.
    async fn connect(&mut self) -> Result<Connection, ConnectError> {
        let ticket = self.opener.open().await?;
        let shown = redact::url(&ticket.endpoint);
        let mut url = Url::parse(&ticket.endpoint).map_err(|e| {
            ConnectError::Other(format!(
                "connections/open returned an endpoint that is not a URL ({shown:?}): {e}"
            ))
        })?;
        check_endpoint(&url, self.plain_ws_allowed).map_err(ConnectError::Other)?;
        url.query_pairs_mut().append_pair("ticket", &ticket.ticket);
        let ws = open_socket(&url, self.opener.ws_connector())
            .await
            .map_err(|e| ConnectError::Other(format!("WebSocket {shown}: {e}")))?;
        let no = self.next_no;
        self.next_no += 1;
        log::info!(
            "stream #{no}: connected (app {}) to {shown} (ticket ***)",
            self.serving.app_key
        );
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
