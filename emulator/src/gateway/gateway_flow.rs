//! Gateway-mode answers (docs/gateway.md, "Streaming", "In-stream errors").
//!
//! Streamed: the role chunk goes out at once (also while the request waits for its session's turn), then
//! one chunk per token, the finish chunk, the usage chunk when `stream_options.include_usage`, `[DONE]`.
//! Upstream failures keep HTTP 200 and end with an error event and `[DONE]`:
//!
//! | trigger | after the role chunk |
//! |---|---|
//! | `FAIL500` | `failure_silence`, then `upstream provider error` (`api_error`) |
//! | `FAILMID` | two tokens, `failure_silence`, then `upstream provider timeout` (`api_error`) |
//! | `FAIL401` | at once `401 bad upstream key` (`authentication_error`); for `upstream_key_cooldown` afterwards every request fails at once with the "temporarily disabled" error, as the real gateway does |
//! | `SILENT` | nothing, until the client goes away |
//! | `CUT` | two tokens, then the connection is closed without `[DONE]` (a crash or network cut) |
//!
//! Not streamed (`stream` falsy): the `chat.completion` JSON after the whole answer was "generated". The
//! reference documents only the 500 case (HTTP 502 `upstream provider error`); the fake answers every
//! scripted upstream failure with 502 and the stream's error object, `CUT` truncates the JSON body, and
//! the new-session race is HTTP 500 `internal error`.

use std::{sync::Arc, time::Duration};

use axum::response::Response;

use super::{
    reject::{add_gateway_headers, json_response},
    reply_text::default_reply,
    request::ChatRequest,
    script::{Script, ScriptedFailure},
    session::{Admission, Turn},
    sse::{self, Framer, Usage},
    stream::{truncated_json, Disconnected, Sink},
    App, RequestOutcome,
};

/// The three `reasoning_content` deltas of `REASON`.
pub(crate) const REASONING: [&str; 3] = [
    "Thinking about the question. ",
    "Checking the details. ",
    "Composing the answer.",
];

/// The error of a request made while the upstream key is disabled after a 401.
const KEY_DISABLED: &str = "Inline API key for provider \"fake\" is temporarily disabled after a provider auth/billing failure. Retry after about 1 minute, or switch to a different auth profile/API key.";

/// One admitted gateway-mode request.
pub(crate) struct Job {
    pub(crate) app: Arc<App>,
    pub(crate) seq: u64,
    pub(crate) framer: Framer,
    pub(crate) script: Script,
    pub(crate) request: ChatRequest,
    /// `None`: the new-session race (see `session`).
    pub(crate) admission: Option<Admission>,
}

impl Job {
    fn interval(&self) -> Duration {
        self.script.interval(self.app.config.token_interval)
    }

    /// The scripted failure, or the key-disabled state left by an earlier `FAIL401`.
    fn failure(&self) -> Option<Outcome> {
        if self.app.upstream_key_disabled() {
            return Some(Outcome::Error(KEY_DISABLED, "api_error"));
        }
        match self.script.failure? {
            ScriptedFailure::Fail500 => Some(Outcome::SilenceThen(0, "upstream provider error")),
            ScriptedFailure::FailMid => Some(Outcome::SilenceThen(2, "upstream provider timeout")),
            ScriptedFailure::Fail401 => {
                self.app.disable_upstream_key();
                Some(Outcome::Error(
                    "401 bad upstream key",
                    "authentication_error",
                ))
            }
            ScriptedFailure::Silent => Some(Outcome::Silent),
            ScriptedFailure::Cut => Some(Outcome::Cut),
        }
    }

    /// The scripted tokens, after a sentence describing the request's images (if any).
    fn tokens(&self, admission: &Admission) -> Vec<String> {
        let tokens = self.script.tokens(|| {
            default_reply(
                self.request.last_user_text(),
                admission.completed_turns() + 1,
            )
        });
        super::images::with_description(
            &self.request.images,
            self.app.config.image_description,
            tokens,
        )
    }
}

/// How a failing request ends.
enum Outcome {
    /// Error event at once.
    Error(&'static str, &'static str),
    /// This many tokens, `failure_silence`, then the error (`api_error`).
    SilenceThen(usize, &'static str),
    Silent,
    Cut,
}

/// Produces a streamed answer into `sink`; returns how it ended.
pub(crate) async fn stream(job: Job, sink: Sink) -> RequestOutcome {
    run_stream(&job, sink)
        .await
        .unwrap_or(RequestOutcome::ClientDisconnected)
}

async fn run_stream(job: &Job, sink: Sink) -> Result<RequestOutcome, Disconnected> {
    let f = &job.framer;
    sink.send(f.role(false)).await?;
    let Some(admission) = &job.admission else {
        return fail(&sink, "internal error", "api_error").await;
    };
    let _turn = tokio::select! {
        guard = admission.turn() => guard,
        () = sink.closed() => return Err(Disconnected),
    };
    let tokens = job.tokens(admission);
    match job.failure() {
        Some(Outcome::Error(message, kind)) => return fail(&sink, message, kind).await,
        Some(Outcome::SilenceThen(n, message)) => {
            emit(&sink, job, &tokens[..n.min(tokens.len())]).await?;
            sink.pause(job.app.config.failure_silence).await?;
            return fail(&sink, message, "api_error").await;
        }
        Some(Outcome::Silent) => {
            sink.closed().await;
            return Err(Disconnected);
        }
        Some(Outcome::Cut) => {
            emit(&sink, job, &tokens[..2.min(tokens.len())]).await?;
            sink.pause(job.interval()).await?;
            sink.cut().await;
            return Ok(RequestOutcome::FailedInStream("connection cut".into()));
        }
        None => {}
    }
    if job.script.reason {
        for r in REASONING {
            sink.pause(job.interval()).await?;
            sink.send(f.reasoning(r)).await?;
        }
    }
    emit(&sink, job, &tokens).await?;
    sink.send(f.finish()).await?;
    if job.request.include_usage {
        sink.send(f.usage(Usage::new(job.request.prompt_words, tokens.len() as u64)))
            .await?;
    }
    admission.complete(Turn {
        user: job.request.last_user_text().into(),
        assistant: tokens.concat(),
    });
    sink.send(sse::done()).await?;
    Ok(RequestOutcome::Completed)
}

async fn fail(sink: &Sink, message: &str, kind: &str) -> Result<RequestOutcome, Disconnected> {
    sink.send(sse::error_event(message, kind)).await?;
    sink.send(sse::done()).await?;
    Ok(RequestOutcome::FailedInStream(message.into()))
}

async fn emit(sink: &Sink, job: &Job, tokens: &[String]) -> Result<(), Disconnected> {
    for t in tokens {
        sink.pause(job.interval()).await?;
        sink.token(job.framer.content(t), t).await?;
    }
    Ok(())
}

/// Answers without streaming; the caller's guard records a disconnect if this future is dropped.
pub(crate) async fn json(job: Job) -> (Response, RequestOutcome) {
    let Some(admission) = &job.admission else {
        return error_json(500, "internal error", "api_error");
    };
    let _turn = admission.turn().await;
    let tokens = job.tokens(admission);
    let silence = job.app.config.failure_silence;
    match job.failure() {
        Some(Outcome::Error(message, kind)) => return error_json(502, message, kind),
        Some(Outcome::SilenceThen(n, message)) => {
            generate(&job, &tokens[..n.min(tokens.len())]).await;
            tokio::time::sleep(silence).await;
            return error_json(502, message, "api_error");
        }
        Some(Outcome::Silent) => std::future::pending::<()>().await,
        Some(Outcome::Cut) | None => {}
    }
    generate(&job, &tokens).await;
    let text = tokens.concat();
    let body = job.framer.completion(
        &text,
        Usage::new(job.request.prompt_words, tokens.len() as u64),
    );
    if job.script.failure == Some(ScriptedFailure::Cut) {
        let response = truncated_json(job.app.recorder.clone(), job.seq, body);
        return (
            response,
            RequestOutcome::FailedInStream("connection cut".into()),
        );
    }
    admission.complete(Turn {
        user: job.request.last_user_text().into(),
        assistant: text,
    });
    let mut response = json_response(200, body);
    add_gateway_headers(&mut response);
    (response, RequestOutcome::Completed)
}

/// Waits one interval per token, recording them as generated.
async fn generate(job: &Job, tokens: &[String]) {
    for t in tokens {
        tokio::time::sleep(job.interval()).await;
        job.app.recorder.token(job.seq, t);
    }
}

fn error_json(status: u16, message: &str, kind: &str) -> (Response, RequestOutcome) {
    let body = serde_json::json!({ "error": { "message": message, "type": kind } }).to_string();
    let mut response = json_response(status, body);
    add_gateway_headers(&mut response);
    (response, RequestOutcome::FailedInStream(message.into()))
}
