//! What the fake gateway received and how each request ended.

use std::{
    collections::{BTreeMap, VecDeque},
    fs::{File, OpenOptions},
    io::Write,
    path::Path,
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use super::images::ImagePart;
use crate::{bounded, clock::Clock, notify::ChangeFeed};

/// One request to the fake gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayRequest {
    /// Order of recording, from 1.
    pub seq: u64,
    /// Arrival time in ms since the server started.
    pub at_ms: u64,
    /// Request headers with lower-case names; `authorization` is redacted to `Bearer ***`.
    pub headers: BTreeMap<String, String>,
    /// The JSON body (`null` when absent, a string when it was not JSON).
    pub body: serde_json::Value,
    /// Gateway mode: the internal session key, as the real gateway forms it
    /// (`agent:main:openai-user:<user>`, `agent:main:<x-openclaw-session-key>`, `agent:main:openai:<uuid>`).
    pub session_key: Option<String>,
    /// HTTP status answered.
    pub status: u16,
    /// How the request ended (so far).
    pub outcome: RequestOutcome,
    /// Content tokens written, with their time in ms since the server started.
    pub emitted_tokens: Vec<(u64, String)>,
    /// The images of the request's active user turn (as the gateway resolves them; empty for refused
    /// requests).
    #[serde(default)]
    pub images: Vec<ImagePart>,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestOutcome {
    /// Still being answered.
    InProgress,
    /// Answered in full (`[DONE]` written, or the JSON reply sent).
    Completed,
    /// Ended with an error after the response started (in-stream error event, or a cut connection).
    FailedInStream(String),
    /// Refused with an error status before any answer began (the 4xx table; upstream-mode `FAIL500`/`FAIL401`).
    Rejected,
    /// The client went away before the answer was complete; production stopped.
    ClientDisconnected,
}

/// Thread-safe request log with change notification and an optional JSONL mirror; keeps the newest
/// `record_limit` records (the file gets all).
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) clock: Clock,
    records: Mutex<Records>,
    pub(crate) feed: ChangeFeed,
    file: Option<Mutex<File>>,
}

/// The kept records (sorted by `seq`) and the newest `seq` handed out.
#[derive(Debug)]
struct Records {
    limit: Option<usize>,
    last_seq: u64,
    list: VecDeque<GatewayRequest>,
}

impl Records {
    fn get_mut(&mut self, seq: u64) -> Option<&mut GatewayRequest> {
        let i = self.list.binary_search_by_key(&seq, |r| r.seq).ok()?;
        self.list.get_mut(i)
    }
}

impl Recorder {
    pub(crate) fn new(record_path: Option<&Path>, limit: Option<usize>) -> std::io::Result<Self> {
        let file = match record_path {
            Some(path) => Some(Mutex::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
            None => None,
        };
        Ok(Self {
            clock: Clock::start(),
            records: Mutex::new(Records {
                limit,
                last_seq: 0,
                list: VecDeque::new(),
            }),
            feed: ChangeFeed::new(),
            file,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a new record (its `seq` is assigned here) and appends it to the JSONL file.
    pub(crate) fn push(&self, mut record: GatewayRequest) -> u64 {
        let (seq, line) = {
            let mut records = self.lock();
            records.last_seq += 1;
            record.seq = records.last_seq;
            let line = serde_json::to_string(&record).unwrap_or_default();
            let seq = record.seq;
            let limit = records.limit;
            bounded::push(&mut records.list, record, limit);
            (seq, line)
        };
        if let Some(file) = &self.file {
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = writeln!(file, "{line}") {
                log::warn!("fake gateway: cannot append to the record file: {e}");
            }
        }
        self.feed.bump();
        seq
    }

    /// Changes a record (unless it was evicted already) and wakes waiters.
    pub(crate) fn update(&self, seq: u64, change: impl FnOnce(&mut GatewayRequest)) {
        if let Some(record) = self.lock().get_mut(seq) {
            change(record);
        }
        self.feed.bump();
    }

    /// Notes a content token written now.
    pub(crate) fn token(&self, seq: u64, text: &str) {
        let at = self.clock.now_ms();
        self.update(seq, |r| r.emitted_tokens.push((at, text.to_string())));
    }

    /// Sets the final outcome (unless one was set already).
    pub(crate) fn finish(&self, seq: u64, outcome: RequestOutcome) {
        self.update(seq, |r| {
            if r.outcome == RequestOutcome::InProgress {
                r.outcome = outcome;
            }
        });
    }

    /// All records in order.
    pub(crate) fn all(&self) -> Vec<GatewayRequest> {
        self.lock().list.iter().cloned().collect()
    }

    /// Waits until `pred(records)` holds; false on timeout.
    pub(crate) async fn wait_for(
        &self,
        pred: impl Fn(&[GatewayRequest]) -> bool,
        timeout: Duration,
    ) -> bool {
        self.feed.wait_until(|| pred(&self.all()), timeout).await
    }
}
