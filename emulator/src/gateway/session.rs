//! Gateway-mode sessions: per-session history and the per-session turn lock.
//!
//! The real gateway serializes requests on one session, except that two requests on a *new* session started
//! at the same moment make one fail with `internal error` (`SessionWorkStartChangedError`,
//! docs/gateway.md, "Concurrency"). The fake reproduces that as: a request on a session that has a
//! request in progress and no completed turn yet fails; on an established session it waits for the running
//! one.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use tokio::sync::{Mutex as TurnLock, OwnedMutexGuard};

/// One completed user/assistant exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Turn {
    pub(crate) user: String,
    pub(crate) assistant: String,
}

/// All sessions by internal key.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
}

/// One session.
#[derive(Debug, Default)]
pub(crate) struct Session {
    turn_lock: Arc<TurnLock<()>>,
    state: Mutex<SessionState>,
}

#[derive(Debug, Default)]
struct SessionState {
    running: usize,
    history: Vec<Turn>,
}

/// A request admitted to a session; it leaves the session on drop.
#[derive(Debug)]
pub(crate) struct Admission {
    session: Arc<Session>,
}

impl Sessions {
    /// Admits a request to the session `key`, or `None` for the new-session race.
    pub(crate) fn admit(&self, key: &str) -> Option<Admission> {
        let session = self.lock().entry(key.to_string()).or_default().clone();
        {
            let mut state = session.state();
            if state.running > 0 && state.history.is_empty() {
                return None;
            }
            state.running += 1;
        }
        Some(Admission { session })
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
        self.session.state().history.len()
    }

    /// Adds this request's completed turn to the history (call it while still holding the turn).
    pub(crate) fn complete(&self, turn: Turn) {
        self.session.state().history.push(turn);
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
        let first = sessions.admit("k").expect("first request admitted");
        assert!(
            sessions.admit("k").is_none(),
            "second request on a new busy session fails"
        );
        assert!(sessions.admit("other").is_some());
        first.complete(Turn {
            user: "u".into(),
            assistant: "a".into(),
        });
        drop(first);
        let a = sessions.admit("k").expect("established session");
        let b = sessions
            .admit("k")
            .expect("established sessions queue instead of failing");
        assert_eq!(a.completed_turns(), 1);
        drop((a, b));
    }
}
