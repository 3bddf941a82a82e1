//! Handing events to the skill: each accepted event's reply is followed in a task (see
//! `follow.rs`), each refusal logged and counted.

use std::sync::Arc;
use std::time::Duration;

use openclaw_skill_abi::{ChunkStream, OcStatus, PluginError, Skill};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

use super::event::{Route, Source};
use super::follow::{follow, NoteKind, Notes, Observer};
use crate::metrics::Metrics;

/// Why the skill did not take an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The event is not a robot message the skill can read (answered 400 over HTTP).
    Invalid(String),
    /// The skill is shutting down (answered 503 over HTTP, so DingTalk retries).
    ShuttingDown,
    /// Anything else (answered 500).
    Failed(String),
}

/// Hands events to the skill and follows each reply in a task (for logs and metrics, and for an
/// optional observer: the reply runs in the plugin whether or not it is followed). Cheap to
/// clone; the clones share the skill, the metrics and the set of followers.
#[derive(Clone)]
pub struct Dispatcher {
    skill: Arc<Skill>,
    metrics: Arc<Metrics>,
    followers: TaskTracker,
    observer: Option<Observer>,
}

impl Dispatcher {
    /// A dispatcher for `skill`.
    pub fn new(skill: Arc<Skill>, metrics: Arc<Metrics>) -> Dispatcher {
        Dispatcher {
            skill,
            metrics,
            followers: TaskTracker::new(),
            observer: None,
        }
    }

    /// The same dispatcher, also telling `observer` what each reply does.
    #[cfg(feature = "demo")]
    pub fn with_observer(mut self, observer: Observer) -> Dispatcher {
        self.observer = Some(observer);
        self
    }

    /// The skill events go to.
    pub fn skill(&self) -> &Arc<Skill> {
        &self.skill
    }

    /// Hands one raw event (the robot message JSON) to the skill. Fast: the reply runs in the
    /// plugin. Never panics, whatever the event holds. Call it on the runtime (the follower is
    /// spawned on it).
    pub fn deliver(&self, source: Source, event: &str) -> Result<(), Refusal> {
        let received = Instant::now();
        let taken = self.skill.handle_event(event);
        self.taken(source, event, received, taken)
    }

    /// What the skill did with `event`, handed to it at `received` by someone else (a callback
    /// gate): counts it, then follows the reply or logs the refusal, as [`Dispatcher::deliver`].
    pub fn taken(
        &self,
        source: Source,
        event: &str,
        received: Instant,
        taken: Result<ChunkStream, PluginError>,
    ) -> Result<(), Refusal> {
        let route = Route::of(event);
        let outcome = match &taken {
            Ok(_) => "accepted",
            Err(e) if e.status == OcStatus::INVALID_ARGUMENT => "invalid",
            Err(e) if e.status == OcStatus::SHUTTING_DOWN => "shutting_down",
            Err(_) => "error",
        };
        self.metrics.ingress_event(source.as_str(), outcome);
        let notes = Notes::new(&route, self.observer.clone());
        match taken {
            Ok(stream) => {
                let follow = follow(stream, source, route, received, self.metrics.clone(), notes);
                self.followers.spawn(follow);
                Ok(())
            }
            Err(e) => {
                notes.send(NoteKind::Refused(e.message.clone()));
                log::warn!(
                    "event source={} msg={} conv={} outcome=refused status={:?}: {}",
                    source.as_str(),
                    route.msg(),
                    route.conv(),
                    e.status,
                    e.message
                );
                Err(match e.status {
                    OcStatus::INVALID_ARGUMENT => Refusal::Invalid(e.message),
                    OcStatus::SHUTTING_DOWN => Refusal::ShuttingDown,
                    _ => Refusal::Failed(e.message),
                })
            }
        }
    }

    /// Waits (at most `limit`) for the replies being followed to end.
    pub async fn wait_followers(&self, limit: Duration) -> bool {
        self.followers.close();
        tokio::time::timeout(limit, self.followers.wait())
            .await
            .is_ok()
    }
}
