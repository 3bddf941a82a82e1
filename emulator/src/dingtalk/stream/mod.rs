//! Stream mode, the server side (docs/dingtalk-events.md, "Stream mode").
//!
//! * `POST /v1.0/gateway/connections/open` checks `clientId`/`clientSecret` (HTTP 401 `authFailed`
//!   otherwise) and the subscriptions, and answers `{"endpoint":"ws://127.0.0.1:PORT/connect","ticket":…}`.
//!   Tickets are single-use and valid for [`StreamConfig::ticket_ttl`] (90 s).
//! * `GET /connect?ticket=…` upgrades to a WebSocket on the same server. Frames follow the documented shapes
//!   exactly (docs/dingtalk-events.md, "Frames", "ACK", "Ping and disconnect"): `CALLBACK` frames for robot
//!   messages ([`DingTalkEmulator::push_bot_message`]), `SYSTEM` `ping` every
//!   [`StreamConfig::ping_interval`], `SYSTEM` `disconnect` on demand ([`DingTalkEmulator::disconnect_all`])
//!   or every [`StreamConfig::disconnect_every`], followed by the TCP close after
//!   [`StreamConfig::disconnect_grace`] (10 s at DingTalk).
//! * A callback that is not ACKed (`{"code":200,"headers":{"messageId":…},…}`) within
//!   [`StreamConfig::redelivery_after`] (60 s, docs/dingtalk-events.md, "Redelivery and duplicates") is
//!   delivered again, up to [`StreamConfig::max_redeliveries`] times.
//!
//! * Card callbacks (a pressed button, see `card_callbacks`) go out the same way on topic
//!   [`CARD_CALLBACK_TOPIC`], only to connections that subscribed to it (`CALLBACK`
//!   `/v1.0/card/instances/callback`), with the same ACK and redelivery rules.
//!
//! * Several connections of the app (several hosts, or one host replacing its connection): each
//!   callback goes to **one** of them, never to all. DingTalk is reported to pick one at random
//!   (docs/dingtalk-events.md, "Redelivery and duplicates") and does not say where a redelivery goes;
//!   the emulator's rule is our deterministic reading of that: of the connections that subscribed
//!   (`CALLBACK`) to the topic, are not frozen and were not told to disconnect, new callbacks go to
//!   each in turn (round-robin by connection id, oldest first), and a redelivery goes to the next one
//!   after the connection that got the callback last, when there is another (so a host that lost an
//!   ACK, or died, does not get it again). With no such connection a callback waits for the next one
//!   that subscribes.
//!
//! Emulator choices where DingTalk is silent: a bad ticket on `/connect` is HTTP 401
//! `{"code":"invalidTicket"}`. Every frame in both directions is recorded
//! ([`DingTalkEmulator::stream_frames`]), with the departures of client frames from the documented
//! shape.

mod frames;
mod model;
mod open;
mod session;
mod tickets;

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Weak},
    time::Duration,
};

use sha2::{Digest, Sha256};
use tokio::{sync::mpsc, task::JoinSet};

pub use model::{
    Closer, FrameDirection, FrameKind, PushOptions, PushReceipt, StreamConfig, StreamConnection,
    StreamFrame, Subscription,
};
pub(crate) use open::connections_open;
pub(crate) use session::upgrade;

use super::{state::Shared, DingTalkEmulator};
use crate::{
    bounded::{self, BoundedMap},
    event::{build_bot_message, MessageSpec},
};
use frames::FrameHeaders;
use tickets::{Ticket, TicketStore};

/// The topic of robot messages (docs/dingtalk-events.md, "Opening a connection").
pub const BOT_MESSAGE_TOPIC: &str = "/v1.0/im/bot/messages/get";

/// The topic of card callbacks (docs/dingtalk-events.md, "Card callbacks"; the SDKs' `TOPIC_CARD` /
/// `Card_Callback_Router_Topic`).
pub const CARD_CALLBACK_TOPIC: &str = "/v1.0/card/instances/callback";

/// The path of the WebSocket endpoint.
pub(crate) const CONNECT_PATH: &str = "/connect";

/// A command to a connection task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Write this frame.
    Send(String),
    /// Write this `disconnect` frame, then close after `grace`.
    Disconnect { frame: String, grace: Duration },
    /// Stop reading and writing (a dead peer).
    Freeze,
}

/// An open connection.
#[derive(Debug)]
struct Live {
    tx: mpsc::UnboundedSender<Command>,
    connection_id: String,
    /// The `CALLBACK` topics it subscribed to.
    topics: Vec<String>,
    disconnecting: bool,
    frozen: bool,
}

/// A pushed callback: a robot message or a card callback (a pressed button).
#[derive(Debug)]
struct Push {
    topic: &'static str,
    /// A robot message's `msgId`.
    msg_id: Option<String>,
    /// A card callback's press (see `card_callbacks`).
    press: Option<u64>,
    data: String,
    lose_acks: u32,
    acked: bool,
    deliveries: u32,
    /// The connection that got the latest delivery (a redelivery goes to the next one).
    delivered_on: Option<u64>,
}

/// Stream-mode state (inside the emulator's one lock). Every record and store is bounded by
/// [`record_limit`](super::EmulatorConfig::record_limit) except `live` (the open sockets) and `waiting`
/// (a subset of `pushes`).
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    limit: Option<usize>,
    pub(crate) tickets: TicketStore,
    /// By id; closed ones are evicted over the limit, open ones never.
    connections: BTreeMap<u64, StreamConnection>,
    /// The id of the newest connection.
    last_connection: u64,
    live: BTreeMap<u64, Live>,
    /// The connection that got the latest first delivery: the next push goes to the live connection
    /// after it (round-robin over the app's connections).
    last_pushed_to: u64,
    frames: VecDeque<StreamFrame>,
    /// The `seq` of the newest frame.
    last_frame: u64,
    /// Pushed messages by `messageId`; ACKed ones (or past their last redelivery) are evicted first.
    pushes: BoundedMap<String, Push>,
    waiting: VecDeque<String>,
    /// Pings awaiting their reply: `messageId` → `data`.
    pings: BoundedMap<String, String>,
    /// Connection and timer tasks; they hold only a `Weak` of the emulator and end with it.
    tasks: JoinSet<()>,
}

impl StreamState {
    /// Empty state whose records keep at most `limit` entries (`None`: all).
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            limit,
            tickets: TicketStore::new(limit),
            pushes: BoundedMap::new(limit),
            pings: BoundedMap::new(limit),
            ..Self::default()
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        at_ms: u64,
        connection: u64,
        direction: FrameDirection,
        kind: FrameKind,
        message_id: Option<String>,
        msg_id: Option<String>,
        text: String,
    ) -> &mut StreamFrame {
        self.last_frame += 1;
        let frame = StreamFrame {
            seq: self.last_frame,
            at_ms,
            connection,
            direction,
            kind,
            message_id,
            msg_id,
            redelivery: false,
            ack_lost: false,
            problems: Vec::new(),
            text,
        };
        bounded::push(&mut self.frames, frame, self.limit)
    }

    fn connection_mut(&mut self, id: u64) -> Option<&mut StreamConnection> {
        self.connections.get_mut(&id)
    }

    /// Drops the oldest closed connections beyond the limit.
    fn trim_connections(&mut self) {
        let Some(limit) = bounded::effective(self.limit) else {
            return;
        };
        while self.connections.len() > limit {
            let Some(id) = self
                .connections
                .values()
                .find(|c| !c.is_open())
                .map(|c| c.id)
            else {
                break;
            };
            self.connections.remove(&id);
        }
    }

    /// The live connections a callback on `topic` may go to, in the order to try them: those opened
    /// after connection `after`, then from the oldest on, `after` itself last (round-robin by id).
    /// Connections told to disconnect and frozen ones are left out.
    fn rotation(&self, topic: &str, after: u64) -> Vec<u64> {
        let (later, earlier): (Vec<u64>, Vec<u64>) = self
            .live
            .iter()
            .filter(|(_, l)| l.topics.iter().any(|t| t == topic) && !l.disconnecting && !l.frozen)
            .map(|(id, _)| *id)
            .partition(|id| *id > after);
        later.into_iter().chain(earlier).collect()
    }

    /// Adds a pushed message; over the limit the oldest settled push goes (ACKed, or delivered with no
    /// redelivery to come), or else the oldest, and no longer waits for a connection.
    fn add_push(&mut self, message_id: String, push: Push, config: &StreamConfig) {
        let last_delivery = match config.redelivery_after {
            Some(_) => config.max_redeliveries.saturating_add(1),
            None => 1,
        };
        let evicted = self.pushes.insert_evicting(message_id, push, |p| {
            p.acked || p.deliveries >= last_delivery
        });
        for (message_id, _) in evicted {
            self.waiting.retain(|m| *m != message_id);
        }
    }
}

impl Shared {
    /// The `appId` header of this app's frames (stable per app key).
    fn stream_app_id(&self) -> String {
        let digest = Sha256::digest(self.config.app_key.as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid::Uuid::from_bytes(bytes).to_string()
    }

    /// Spawns a stream task on the emulator's runtime; it is aborted when the emulator goes away.
    fn spawn_stream_task(
        &self,
        tasks: &mut JoinSet<()>,
        task: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        while tasks.try_join_next().is_some() {}
        match self.runtime.get() {
            Some(handle) => {
                tasks.spawn_on(task, handle);
            }
            None => log::error!("dingtalk emulator: no runtime for a stream task"),
        }
    }

    fn frame_headers<'a>(
        app_id: &'a str,
        connection_id: &'a str,
        message_id: &'a str,
        time_ms: i64,
    ) -> FrameHeaders<'a> {
        FrameHeaders {
            app_id,
            connection_id,
            message_id,
            time_ms,
        }
    }
}

/// Pushes a robot message (shared by the handle API and the control API).
pub(crate) fn push(shared: &Arc<Shared>, spec: MessageSpec, options: PushOptions) -> PushReceipt {
    let payload = build_bot_message(shared, spec);
    let msg_id = payload
        .get("msgId")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let message_id = frames::new_message_id(shared.clock.epoch_now());
    shared.lock().stream.add_push(
        message_id.clone(),
        Push {
            topic: BOT_MESSAGE_TOPIC,
            msg_id: Some(msg_id.clone()),
            press: None,
            data: payload.to_string(),
            lose_acks: options.lose_acks,
            acked: false,
            deliveries: 0,
            delivered_on: None,
        },
        &shared.config.stream,
    );
    deliver(shared, &message_id, false);
    PushReceipt { msg_id, message_id }
}

/// Pushes a card callback on [`CARD_CALLBACK_TOPIC`] (see `card_callbacks`); returns the frame's
/// `messageId`.
pub(crate) fn push_card_callback(shared: &Arc<Shared>, press: u64, data: String) -> String {
    let message_id = frames::new_message_id(shared.clock.epoch_now());
    shared.lock().stream.add_push(
        message_id.clone(),
        Push {
            topic: CARD_CALLBACK_TOPIC,
            msg_id: None,
            press: Some(press),
            data,
            lose_acks: 0,
            acked: false,
            deliveries: 0,
            delivered_on: None,
        },
        &shared.config.stream,
    );
    deliver(shared, &message_id, false);
    message_id
}

/// Sends a pushed callback on one of the app's live connections subscribed to its topic (the next one
/// in turn; a redelivery the next one after the connection that got it last), or queues it until one
/// opens.
fn deliver(shared: &Arc<Shared>, message_id: &str, redelivery: bool) {
    let now = shared.clock.now_ms();
    let epoch = shared.clock.epoch_now();
    let app_id = shared.stream_app_id();
    let config = &shared.config.stream;
    let mut inner = shared.lock();
    let st = &mut inner.stream;
    let Some(push) = st.pushes.get(message_id) else {
        return;
    };
    if push.acked {
        return;
    }
    let topic = push.topic;
    let after = match (redelivery, push.delivered_on) {
        (true, Some(last)) => last,
        _ => st.last_pushed_to,
    };
    // The first connection in turn whose task takes the frame (one that just ended is skipped).
    let sent = st.rotation(topic, after).into_iter().find_map(|id| {
        let live = st.live.get(&id)?;
        let headers = Shared::frame_headers(&app_id, &live.connection_id, message_id, epoch);
        let text = frames::callback(topic, headers, &push.data);
        live.tx
            .send(Command::Send(text.clone()))
            .ok()
            .map(|()| (id, text))
    });
    let Some((connection, text)) = sent else {
        if !st.waiting.iter().any(|m| m == message_id) {
            st.waiting.push_back(message_id.to_owned());
        }
        return;
    };
    if !redelivery {
        st.last_pushed_to = connection;
    }
    let Some(push) = st.pushes.get_mut(message_id) else {
        return;
    };
    push.deliveries += 1;
    push.delivered_on = Some(connection);
    let (n, msg_id) = (push.deliveries, push.msg_id.clone());
    let kind = if push.press.is_some() {
        FrameKind::CardCallback
    } else {
        FrameKind::Callback
    };
    let frame = st.record(
        now,
        connection,
        FrameDirection::ToClient,
        kind,
        Some(message_id.to_owned()),
        msg_id,
        text,
    );
    frame.redelivery = redelivery;
    if let Some(after) = config.redelivery_after {
        if n <= config.max_redeliveries {
            let task = redeliver_later(Arc::downgrade(shared), message_id.to_owned(), n, after);
            shared.spawn_stream_task(&mut st.tasks, task);
        }
    }
    drop(inner);
    shared.feed.bump();
}

/// After `after`, delivers the message again unless delivery `n` was ACKed (or superseded).
async fn redeliver_later(shared: Weak<Shared>, message_id: String, n: u32, after: Duration) {
    tokio::time::sleep(after).await;
    let Some(shared) = shared.upgrade() else {
        return;
    };
    let due = shared
        .lock()
        .stream
        .pushes
        .get(&message_id)
        .is_some_and(|p| !p.acked && p.deliveries == n);
    if due {
        deliver(&shared, &message_id, true);
    }
}

/// Registers a connection whose handshake is being answered; returns its id and `connectionId`.
fn connection_opened(
    shared: &Arc<Shared>,
    ticket: Ticket,
    tx: mpsc::UnboundedSender<Command>,
) -> (u64, String) {
    let now = shared.clock.now_ms();
    let connection_id = uuid::Uuid::new_v4().simple().to_string();
    let topics: Vec<String> = ticket
        .subscriptions
        .iter()
        .filter(|s| s.kind == "CALLBACK")
        .map(|s| s.topic.clone())
        .collect();
    let (id, waiting) = {
        let mut inner = shared.lock();
        let st = &mut inner.stream;
        st.last_connection += 1;
        let id = st.last_connection;
        let connection = StreamConnection {
            id,
            connection_id: connection_id.clone(),
            app_key: ticket.app_key,
            subscriptions: ticket.subscriptions,
            opened_at_ms: now,
            disconnect_sent_at_ms: None,
            closed_at_ms: None,
            closed_by: None,
        };
        st.connections.insert(id, connection);
        st.trim_connections();
        st.live.insert(
            id,
            Live {
                tx,
                connection_id: connection_id.clone(),
                topics: topics.clone(),
                disconnecting: false,
                frozen: false,
            },
        );
        let (waiting, other): (Vec<String>, Vec<String>) = st.waiting.drain(..).partition(|m| {
            st.pushes
                .get(m)
                .is_some_and(|p| topics.iter().any(|t| t == p.topic))
        });
        st.waiting.extend(other);
        (id, waiting)
    };
    shared.feed.bump();
    for message_id in waiting {
        deliver(shared, &message_id, false);
    }
    (id, connection_id)
}

/// Records a client frame and applies it (ACK or ping reply).
fn client_frame(shared: &Shared, connection: u64, text: &str) {
    let now = shared.clock.now_ms();
    let reply = frames::read_client_reply(text);
    let mut problems = reply.problems.clone();
    let mut inner = shared.lock();
    let st = &mut inner.stream;
    let mut ack_lost = false;
    // A card callback ACKed for the first time: its press and the ACK's `data`.
    let mut card_ack: Option<(u64, Option<String>)> = None;
    let (kind, msg_id) = match reply.message_id.as_deref() {
        Some(mid) if st.pushes.contains_key(mid) => {
            if reply.code != Some(200) {
                problems.push("an ACK must have code 200".into());
            }
            let push = st.pushes.get_mut(mid).map(|p| {
                if p.lose_acks > 0 {
                    p.lose_acks -= 1;
                    ack_lost = true;
                } else if problems.is_empty() {
                    if let (Some(press), false) = (p.press, p.acked) {
                        card_ack = Some((press, reply.data.clone()));
                    }
                    p.acked = true;
                }
                (p.msg_id.clone(), p.press.is_some())
            });
            match push {
                Some((msg_id, true)) => (FrameKind::CardAck, msg_id),
                Some((msg_id, false)) => (FrameKind::Ack, msg_id),
                None => (FrameKind::Ack, None),
            }
        }
        Some(mid) => match st.pings.remove(mid) {
            Some(data) => {
                if reply.code != Some(200) {
                    problems.push("a ping reply must have code 200".into());
                }
                if reply.data.as_deref() != Some(data.as_str()) {
                    problems.push(format!("a ping reply must echo the ping's data {data}"));
                }
                (FrameKind::Pong, None)
            }
            None => {
                problems.push(format!("messageId {mid} answers no frame the server sent"));
                (FrameKind::Unmatched, None)
            }
        },
        None => (FrameKind::Unmatched, None),
    };
    let frame = st.record(
        now,
        connection,
        FrameDirection::FromClient,
        kind,
        reply.message_id,
        msg_id,
        text.to_owned(),
    );
    frame.problems = problems;
    frame.ack_lost = ack_lost;
    if let Some((press, data)) = card_ack {
        super::card_callbacks::stream_acked(shared, &mut inner, press, data.as_deref(), now);
    }
    drop(inner);
    shared.feed.bump();
}

/// Builds and records a ping for a connection; returns the frame to write.
fn ping(shared: &Shared, connection: u64) -> Option<String> {
    let now = shared.clock.now_ms();
    let epoch = shared.clock.epoch_now();
    let app_id = shared.stream_app_id();
    let message_id = frames::new_message_id(epoch);
    let opaque = uuid::Uuid::new_v4().to_string();
    let mut inner = shared.lock();
    let st = &mut inner.stream;
    let connection_id = st.live.get(&connection)?.connection_id.clone();
    let headers = Shared::frame_headers(&app_id, &connection_id, &message_id, epoch);
    let (text, data) = frames::ping(headers, &opaque);
    st.pings.insert(message_id.clone(), data);
    st.record(
        now,
        connection,
        FrameDirection::ToClient,
        FrameKind::Ping,
        Some(message_id),
        None,
        text.clone(),
    );
    drop(inner);
    shared.feed.bump();
    Some(text)
}

/// Sends `disconnect` to one connection (`Some(id)`) or all; returns how many were told.
fn disconnect(shared: &Shared, only: Option<u64>, reason: &str, grace: Duration) -> usize {
    let now = shared.clock.now_ms();
    let epoch = shared.clock.epoch_now();
    let app_id = shared.stream_app_id();
    let mut inner = shared.lock();
    let st = &mut inner.stream;
    let targets: Vec<u64> = st
        .live
        .iter()
        .filter(|(id, l)| !l.disconnecting && only.is_none_or(|o| o == **id))
        .map(|(id, _)| *id)
        .collect();
    for id in &targets {
        let message_id = frames::new_message_id(epoch);
        let Some(live) = st.live.get_mut(id) else {
            continue;
        };
        live.disconnecting = true;
        let headers = Shared::frame_headers(&app_id, &live.connection_id, &message_id, epoch);
        let frame = frames::disconnect(headers, reason);
        let _ = live.tx.send(Command::Disconnect {
            frame: frame.clone(),
            grace,
        });
        st.record(
            now,
            *id,
            FrameDirection::ToClient,
            FrameKind::Disconnect,
            Some(message_id),
            None,
            frame,
        );
        if let Some(c) = st.connection_mut(*id) {
            c.disconnect_sent_at_ms = Some(now);
        }
    }
    drop(inner);
    shared.feed.bump();
    targets.len()
}

/// Marks a connection closed.
fn connection_closed(shared: &Shared, id: u64, by: Closer) {
    let now = shared.clock.now_ms();
    {
        let mut inner = shared.lock();
        let st = &mut inner.stream;
        st.live.remove(&id);
        if let Some(c) = st.connection_mut(id) {
            if c.closed_at_ms.is_none() {
                c.closed_at_ms = Some(now);
                c.closed_by = Some(by);
            }
        }
        st.trim_connections();
    }
    shared.feed.bump();
}

impl DingTalkEmulator {
    /// Pushes a robot message as a `CALLBACK` frame on one open connection of the app (the next one in
    /// turn, see the module doc), or on the next one to open; returns its `msgId`.
    pub fn push_bot_message(&self, spec: MessageSpec) -> String {
        self.push_bot_message_with(spec, PushOptions::default())
            .msg_id
    }

    /// [`push_bot_message`](Self::push_bot_message) with options.
    pub fn push_bot_message_with(&self, spec: MessageSpec, options: PushOptions) -> PushReceipt {
        push(&self.shared, spec, options)
    }

    /// Sends the `SYSTEM` `disconnect` frame to every open connection, then closes each one after
    /// [`StreamConfig::disconnect_grace`]; returns how many connections were told.
    pub fn disconnect_all(&self, reason: &str) -> usize {
        self.disconnect_all_after(reason, self.shared.config.stream.disconnect_grace)
    }

    /// [`disconnect_all`](Self::disconnect_all) with its own grace period.
    pub fn disconnect_all_after(&self, reason: &str, grace: Duration) -> usize {
        disconnect(&self.shared, None, reason, grace)
    }

    /// Makes every open connection a dead peer: the server stops reading and writing on it (no pings, no
    /// answers to WebSocket pings, no TCP close). Returns how many connections were frozen.
    pub fn freeze_connections(&self) -> usize {
        freeze(&self.shared)
    }

    /// Every Stream frame so far (the newest [`record_limit`](super::EmulatorConfig::record_limit) ones),
    /// in order.
    pub fn stream_frames(&self) -> Vec<StreamFrame> {
        control::frames(&self.shared)
    }

    /// Every Stream connection so far (open ones, and the newest closed ones within
    /// [`record_limit`](super::EmulatorConfig::record_limit)), in opening order.
    pub fn stream_connections(&self) -> Vec<StreamConnection> {
        control::connections(&self.shared)
    }

    /// Waits until `pred(frames)` holds, re-checking after every change; false on timeout.
    pub async fn wait_for_frames(
        &self,
        pred: impl Fn(&[StreamFrame]) -> bool,
        timeout: Duration,
    ) -> bool {
        self.shared
            .feed
            .wait_until(|| pred(&self.stream_frames()), timeout)
            .await
    }

    /// Waits until `pred(self)` holds, re-checking after every recorded change (calls, cards, frames,
    /// connections); false on timeout.
    pub async fn wait_until(
        &self,
        pred: impl Fn(&DingTalkEmulator) -> bool,
        timeout: Duration,
    ) -> bool {
        self.shared.feed.wait_until(|| pred(self), timeout).await
    }
}

/// Freezes every open connection.
fn freeze(shared: &Shared) -> usize {
    let mut inner = shared.lock();
    let mut n = 0;
    for live in inner.stream.live.values_mut().filter(|l| !l.frozen) {
        live.frozen = true;
        let _ = live.tx.send(Command::Freeze);
        n += 1;
    }
    n
}

/// Control-API entry points.
pub(crate) mod control {
    use super::*;

    /// `POST /__emulator/stream/push`.
    pub(crate) fn push(
        shared: &Arc<Shared>,
        spec: MessageSpec,
        options: PushOptions,
    ) -> PushReceipt {
        super::push(shared, spec, options)
    }

    /// `POST /__emulator/stream/disconnect`.
    pub(crate) fn disconnect(
        shared: &Shared,
        reason: Option<&str>,
        grace: Option<Duration>,
    ) -> usize {
        super::disconnect(
            shared,
            None,
            reason.unwrap_or("connection is expired"),
            grace.unwrap_or(shared.config.stream.disconnect_grace),
        )
    }

    /// `POST /__emulator/stream/freeze`.
    pub(crate) fn freeze(shared: &Shared) -> usize {
        super::freeze(shared)
    }

    /// `GET /__emulator/stream/frames`.
    pub(crate) fn frames(shared: &Shared) -> Vec<StreamFrame> {
        shared.lock().stream.frames.iter().cloned().collect()
    }

    /// `GET /__emulator/stream/connections`.
    pub(crate) fn connections(shared: &Shared) -> Vec<StreamConnection> {
        shared.lock().stream.connections.values().cloned().collect()
    }
}
