//! Gateway-mode sessions: per-session history and the per-session turn lock.
//!
//! The real gateway serializes requests on one session, except that two requests on a *new* session started
//! at the same moment make one fail with `internal error` (`SessionWorkStartChangedError`,
//! docs/gateway.md, "Concurrency"). The fake reproduces that as: a request on a session that has a
//! request in progress and no completed turn yet fails; on an established session it waits for the running
//! one.
//!
//! With [`record_limit`](super::FakeGatewayConfig::record_limit) a history keeps its newest turns (the
//! count of completed turns is kept apart), and sessions without a caller's key are dropped once idle.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::{Mutex as TurnLock, OwnedMutexGuard};

use crate::bounded;

/// One completed user/assistant exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Turn {
    pub(crate) user: String,
    pub(crate) assistant: String,
}

/// All sessions by internal key.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    limit: Option<usize>,
    map: Mutex<HashMap<String, Arc<Session>>>,
}

/// One session.
#[derive(Debug, Default)]
pub(crate) struct Session {
    /// Keyed by a random id nobody can name again (no session key, no `user`).
    ephemeral: bool,
    turn_lock: Arc<TurnLock<()>>,
    state: Mutex<SessionState>,
}

#[derive(Debug, Default)]
struct SessionState {
    running: usize,
    /// Turns completed so far (the history may keep fewer).
    completed: usize,
    history: VecDeque<Turn>,
}

/// A request admitted to a session; it leaves the session on drop.
#[derive(Debug)]
pub(crate) struct Admission {
    session: Arc<Session>,
    limit: Option<usize>,
}

impl Sessions {
    /// No sessions yet; histories keep at most `limit` turns (`None`: all).
    pub(crate) fn new(limit: Option<usize>) -> Self {
        Self {
            limit: bounded::effective(limit),
            map: Mutex::default(),
        }
    }

    /// Admits a request to the session `key`, or `None` for the new-session race. `ephemeral`: the key is
    /// random (the request named no session); with a limit such a session is dropped once idle.
    pub(crate) fn admit(&self, key: &str, ephemeral: bool) -> Option<Admission> {
        let session = {
            let mut map = self.lock();
            if self.limit.is_some() {
                map.retain(|_, s| !(s.ephemeral && s.state().running == 0));
            }
            map.entry(key.to_string())
                .or_insert_with(|| {
                    Arc::new(Session {
                        ephemeral,
                        ..Session::default()
                    })
                })
                .clone()
        };
        {
            let mut state = session.state();
            if state.running > 0 && state.completed == 0 {
                return None;
            }
            state.running += 1;
        }
        Some(Admission {
            session,
            limit: self.limit,
        })
    }

    /// How many sessions are known.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Session {
    fn state(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Admission {
    /// Waits for the session's turn (requests on one session run one after another).
    pub(crate) async fn turn(&self) -> OwnedMutexGuard<()> {
        self.session.turn_lock.clone().lock_owned().await
    }

    /// Completed turns so far.
    pub(crate) fn completed_turns(&self) -> usize {
        self.session.state().completed
    }

    /// Adds this request's completed turn to the history (call it while still holding the turn); the
    /// oldest turns beyond the limit go.
    pub(crate) fn complete(&self, turn: Turn) {
        let mut state = self.session.state();
        state.completed += 1;
        bounded::push(&mut state.history, turn, self.limit);
    }

    /// The turns the history keeps.
    #[cfg(test)]
    fn history(&self) -> Vec<Turn> {
        self.session.state().history.iter().cloned().collect()
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let mut state = self.session.state();
        state.running = state.running.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_session_race_and_history() {
        let sessions = Sessions::default();
        let first = sessions.admit("k", false).expect("first request admitted");
        assert!(
            sessions.admit("k", false).is_none(),
            "second request on a new busy session fails"
        );
        assert!(sessions.admit("other", false).is_some());
        first.complete(Turn {
            user: "u".into(),
            assistant: "a".into(),
        });
        drop(first);
        let a = sessions.admit("k", false).expect("established session");
        let b = sessions
            .admit("k", false)
            .expect("established sessions queue instead of failing");
        assert_eq!(a.completed_turns(), 1);
        drop((a, b));
    }

    #[test]
    fn a_limit_keeps_the_newest_turns_and_forgets_keyless_sessions() {
        let sessions = Sessions::new(Some(50));
        for i in 0..500 {
            let a = sessions
                .admit("agent:main:dingtalk:group:cid1", false)
                .unwrap();
            assert_eq!(a.completed_turns(), i, "turns go on counting");
            a.complete(Turn {
                user: format!("问题{i}"),
                assistant: format!("回答{i}"),
            });
        }
        let a = sessions
            .admit("agent:main:dingtalk:group:cid1", false)
            .unwrap();
        let history = a.history();
        assert_eq!(history.len(), 50);
        assert_eq!(history[0].user, "问题450");
        assert_eq!(history[49].assistant, "回答499");
        assert_eq!(a.completed_turns(), 500);
        drop(a);
        for i in 0..500 {
            let e = sessions
                .admit(&format!("agent:main:openai:{i}"), true)
                .unwrap();
            e.complete(Turn {
                user: "一次性".into(),
                assistant: "回答".into(),
            });
        }
        assert!(sessions.len() <= 2, "{}", sessions.len());
        let unbounded = Sessions::default();
        for i in 0..100 {
            drop(unbounded.admit(&format!("agent:main:openai:{i}"), true));
        }
        assert_eq!(unbounded.len(), 100, "without a limit nothing is forgotten");
    }
}
