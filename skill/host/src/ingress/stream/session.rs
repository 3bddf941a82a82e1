//! Serving one Stream socket: the frame loop. Every CALLBACK frame is ACKed before its event goes
//! to the skill; pings are answered with their data; a `disconnect` frame is reported to the
//! manager (which opens the next connection while this one keeps serving); the socket closes
//! when the manager asks, when intake stops, or when [`Liveness`] finds it silent.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Bytes, Message};
use tokio_util::sync::CancellationToken;

use super::liveness::{Liveness, Verdict};
use super::socket::Ws;
use crate::ingress::dispatch::Dispatcher;
use crate::ingress::event::Source;
use crate::ingress::frames::{self, Frame, BOT_MESSAGE_TOPIC, CARD_CALLBACK_TOPIC};
use crate::metrics::Metrics;

/// How long a closing socket may take to finish the close handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(3);
/// Longest wait for one frame write.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the connection tasks share (cheap to clone).
#[derive(Clone)]
pub struct Serving {
    /// Where events go.
    pub dispatcher: Dispatcher,
    /// Frame counts.
    pub metrics: Arc<Metrics>,
    /// Cancelled when intake stops: sockets close, callbacks are left un-ACKed.
    pub intake: CancellationToken,
    /// The silence limit.
    pub silence: Duration,
    /// The app key (not a secret), named in the connection log lines.
    pub app_key: String,
}

/// What a connection task reports while it runs.
#[derive(Debug)]
pub enum ConnEvent {
    /// The server sent a `disconnect` frame.
    Disconnect(String),
}

/// How a connection ended.
#[derive(Debug)]
pub enum Ending {
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
    /// The `reason` label of `openclaw_stream_reconnects_total`.
    pub fn reason(&self) -> &'static str {
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

/// Writes one text frame within [`WRITE_TIMEOUT`].
async fn write(ws: &mut Ws, text: String) -> Result<(), Ending> {
    match tokio::time::timeout(WRITE_TIMEOUT, ws.send(Message::text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Ending::Error(format!("write: {e}"))),
        Err(_) => Err(Ending::Error("write timed out".into())),
    }
}

/// Serves one socket (connection number `no`) until it ends; returns how. `close` asks it to
/// close (it keeps serving frames until the close completes); `events` tells the manager about
/// `disconnect` frames. Runs as its own task.
pub async fn serve_socket(
    mut ws: Ws,
    no: u64,
    serving: Serving,
    mut close: oneshot::Receiver<()>,
    events: mpsc::UnboundedSender<ConnEvent>,
) -> Ending {
    let mut liveness = Liveness::new(serving.silence, Instant::now());
    let mut closing: Option<Instant> = None;
    let mut close_asked = false;
    let mut server_closed: Option<String> = None;
    loop {
        let deadline = match closing {
            Some(at) => at + CLOSE_WAIT,
            None => liveness.deadline(),
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
                liveness.heard(Instant::now());
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
                match liveness.expired() {
                    Verdict::Silent => return Ending::Silent(liveness.limit()),
                    // Idle: probe the peer; any frame (or the pong) counts as life.
                    Verdict::Probe => {
                        if let Err(e) = tokio::time::timeout(WRITE_TIMEOUT, ws.send(Message::Ping(Bytes::new()))).await {
                            return Ending::Error(format!("ping: {e}"));
                        }
                    }
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
            serving.metrics.stream_frame("unreadable");
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
    serving.metrics.stream_frame(kind);
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
            if topic == BOT_MESSAGE_TOPIC || topic == CARD_CALLBACK_TOPIC {
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
