//! Stop requests between hosts. DingTalk hands `/stop` and stop-button presses to whichever
//! host it picks, not necessarily the one streaming the answer. A host that has nothing to
//! stop itself asks the others on a Redis channel (`<key_prefix>:stops`); the host running
//! the reply acts on it and says how many replies it stopped, and the asking host answers the
//! user from that (or, with no answer within [`ANSWER_WITHIN`], as if nothing ran).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::{SharedState, Unavailable};
use crate::runtime::runtime;

/// How long the asking host waits for the host that runs the reply.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// How long the channel's listener waits before subscribing again after Redis went away.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// What another host is asked to stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub(crate) enum StopRequest {
    /// Every reply in the conversation `key` (`/stop`).
    Conversation {
        /// The conversation key (it names the app when there are several).
        key: String,
    },
    /// A press of the stop button of `card` by `user`.
    Press {
        /// The card's `outTrackId`.
        card: String,
        /// The staff id of who pressed.
        user: String,
    },
}

/// A message on the channel.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Message {
    Ask {
        id: String,
        from: String,
        request: StopRequest,
    },
    Done {
        id: String,
        to: String,
        stopped: usize,
    },
}

/// Acts on a request from another host, here: how many replies it stopped (or presses it
/// handled). Called on the plugin runtime.
pub(crate) type StopHandler = Arc<dyn Fn(StopRequest) -> BoxFuture<'static, usize> + Send + Sync>;

/// This host's end of the channel. Threads: any.
pub(crate) struct SharedStops {
    /// Weak: the shared state holds these stops.
    state: Weak<SharedState>,
    /// This host's id.
    host: String,
    channel: String,
    /// Requests this host asked, by id, waiting for the first answer.
    pending: Mutex<HashMap<String, oneshot::Sender<usize>>>,
}

impl SharedStops {
    /// Subscribes to the channel (again after every Redis outage) until `stop` is
    /// cancelled; requests from other hosts go to `handler`.
    pub(crate) fn start(
        state: Arc<SharedState>,
        handler: StopHandler,
        stop: CancellationToken,
    ) -> Arc<SharedStops> {
        let stops = Arc::new(SharedStops {
            channel: state.key(&["stops"]),
            host: state.host().to_owned(),
            state: Arc::downgrade(&state),
            pending: Mutex::new(HashMap::new()),
        });
        runtime().spawn(listen(
            Arc::downgrade(&stops),
            state.client(),
            handler,
            stop,
        ));
        stops
    }

    /// Asks the other hosts to act on `request`: how many replies one of them stopped, 0
    /// when none answered within [`ANSWER_WITHIN`] or Redis is down.
    pub(crate) async fn ask(&self, request: StopRequest) -> usize {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (answer, answered) = oneshot::channel();
        self.pending_map().insert(id.clone(), answer);
        let listeners = self.publish(Message::Ask {
            id: id.clone(),
            from: self.host.clone(),
            request,
        });
        // This host hears its own request too: with no other listener nobody can answer.
        let stopped = match listeners.await {
            Ok(n) if n > 1 => tokio::time::timeout(ANSWER_WITHIN, answered)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or(0),
            _ => 0,
        };
        self.pending_map().remove(&id);
        stopped
    }

    /// Tells the other hosts to act on `request`, without waiting for them (this host has
    /// answered the user already).
    pub(crate) async fn tell(&self, request: StopRequest) {
        let _ = self
            .publish(Message::Ask {
                id: uuid::Uuid::new_v4().simple().to_string(),
                from: self.host.clone(),
                request,
            })
            .await;
    }

    /// Publishes `message` on the channel: how many hosts (this one included) heard it.
    async fn publish(&self, message: Message) -> Result<usize, Unavailable> {
        let Some(state) = self.state.upgrade() else {
            return Err(Unavailable);
        };
        let payload = serde_json::to_string(&message).unwrap_or_default();
        let channel = self.channel.clone();
        state
            .run(|mut c| async move {
                redis::cmd("PUBLISH")
                    .arg(channel)
                    .arg(payload)
                    .query_async::<usize>(&mut c)
                    .await
            })
            .await
    }

    fn pending_map(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<usize>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One message from the channel.
    fn heard(self: &Arc<Self>, payload: &str, handler: &StopHandler) {
        let Ok(message) = serde_json::from_str::<Message>(payload) else {
            log::warn!("shared state: an unreadable stop request on the channel was ignored");
            return;
        };
        match message {
            Message::Ask { id, from, request } if from != self.host => {
                let stops = self.clone();
                let act = handler(request);
                runtime().spawn(async move {
                    let stopped = act.await;
                    if stopped > 0 {
                        stops.answer(id, from, stopped).await;
                    }
                });
            }
            Message::Done { id, to, stopped } if to == self.host => {
                if let Some(answer) = self.pending_map().remove(&id) {
                    let _ = answer.send(stopped);
                }
            }
            _ => {}
        }
    }

    async fn answer(&self, id: String, to: String, stopped: usize) {
        let _ = self.publish(Message::Done { id, to, stopped }).await;
    }
}

/// Listens on the channel until `stop` is cancelled or the stops are dropped, subscribing
/// again [`RESUBSCRIBE_AFTER`] each time the connection is lost.
async fn listen(
    stops: Weak<SharedStops>,
    client: redis::Client,
    handler: StopHandler,
    stop: CancellationToken,
) {
    loop {
        let Some(channel) = stops.upgrade().map(|s| s.channel.clone()) else {
            return;
        };
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub.into_on_message())
        };
        let subscribed = tokio::select! {
            () = stop.cancelled() => return,
            s = tokio::time::timeout(RESUBSCRIBE_AFTER * 5, subscribed) => s,
        };
        if let Ok(Ok(mut messages)) = subscribed {
            loop {
                let message = tokio::select! {
                    () = stop.cancelled() => return,
                    m = messages.next() => m,
                };
                let Some(message) = message else {
                    break;
                };
                let Some(stops) = stops.upgrade() else {
                    return;
                };
                if let Ok(payload) = message.get_payload::<String>() {
                    stops.heard(&payload, &handler);
                }
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(RESUBSCRIBE_AFTER) => {}
        }
    }
}
