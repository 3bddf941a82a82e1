//! The response-body side of a streamed answer: a producer writes events into a channel that backs the
//! HTTP body, and notices when the client goes away (hyper drops the body, closing the channel).

use std::{io, sync::Arc, time::Duration};

use axum::{
    body::Body,
    http::{header, HeaderValue},
    response::Response,
};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{reject::add_gateway_headers, Recorder};

/// The client closed the connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Disconnected;

/// Where a producer writes one response body.
#[derive(Debug)]
pub(crate) struct Sink {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
    recorder: Arc<Recorder>,
    seq: u64,
    /// When the last pause was due to end: pauses follow each other on this schedule, so the
    /// time spent writing between them does not add up (100 tokens at 100 ms take 10 s).
    paced_until: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Sink {
    /// A sink and the streaming body it feeds.
    pub(crate) fn new(recorder: Arc<Recorder>, seq: u64) -> (Self, Body) {
        let (tx, rx) = mpsc::channel(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        (
            Self {
                tx,
                recorder,
                seq,
                paced_until: std::sync::Mutex::new(None),
            },
            Body::from_stream(stream),
        )
    }

    /// Writes bytes.
    pub(crate) async fn send(&self, bytes: Bytes) -> Result<(), Disconnected> {
        self.tx.send(Ok(bytes)).await.map_err(|_| Disconnected)
    }

    /// Writes a content token's event and records the token.
    pub(crate) async fn token(&self, event: Bytes, text: &str) -> Result<(), Disconnected> {
        self.send(event).await?;
        self.recorder.token(self.seq, text);
        Ok(())
    }

    /// Waits `duration` after the end of the previous pause (or from now, when that is more
    /// than `duration` ago), unless the client goes away first.
    pub(crate) async fn pause(&self, duration: Duration) -> Result<(), Disconnected> {
        let now = tokio::time::Instant::now();
        let until = {
            let mut paced = self.paced_until.lock().unwrap_or_else(|p| p.into_inner());
            let base = paced
                .filter(|t| now.saturating_duration_since(*t) < duration)
                .unwrap_or(now);
            let until = base + duration;
            *paced = Some(until);
            until
        };
        tokio::select! {
            () = tokio::time::sleep_until(until) => Ok(()),
            () = self.tx.closed() => Err(Disconnected),
        }
    }

    /// Resolves when the client has gone away.
    pub(crate) async fn closed(&self) {
        self.tx.closed().await;
    }

    /// Aborts the response: the connection is closed without the rest of the body (no final chunk).
    pub(crate) async fn cut(self) {
        let _ = self
            .tx
            .send(Err(io::Error::other("fake gateway: connection cut")))
            .await;
    }
}

/// An SSE response around `body`: `Content-Type: text/event-stream; charset=utf-8`,
/// `Cache-Control: no-cache`, chunked (no length); in gateway mode with `Connection: keep-alive` and the
/// gateway's security headers, like the captured transcript.
pub(crate) fn sse_response(body: Body, gateway: bool) -> Response {
    let mut response = Response::new(body);
    if gateway {
        add_gateway_headers(&mut response);
    }
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if gateway {
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    }
    response
}

/// A JSON response whose connection is cut halfway through the announced `Content-Length`.
pub(crate) fn truncated_json(recorder: Arc<Recorder>, seq: u64, body: String) -> Response {
    let (sink, stream_body) = Sink::new(recorder, seq);
    let length = body.len();
    let half = Bytes::from(body.into_bytes()).slice(..length / 2);
    tokio::spawn(async move {
        if sink.send(half).await.is_ok() && sink.pause(Duration::from_millis(20)).await.is_ok() {
            sink.cut().await;
        }
    });
    let mut response = Response::new(stream_body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    response
}
