//! Upstream-mode answers: the fake *model* behind a real gateway (docs/gateway.md,
//! "Fake upstream model").
//!
//! Streams `{"role":"assistant","content":""}`, the tokens, a `finish_reason:"stop"` chunk, a usage chunk
//! (always) and `[DONE]`. `FAIL500` → HTTP 500 JSON, `FAIL401` → HTTP 401 JSON (message `bad upstream key`,
//! which the gateway reports as `401 bad upstream key`), `FAILMID`/`CUT` → two tokens then the connection
//! closes without `[DONE]`, `SILENT` → the role chunk and nothing more. The default reply echoes the user's
//! words of the current turn and numbers it 1 + the assistant messages in `messages`. A non-streaming
//! request (the gateway never sends one) gets the `chat.completion` JSON.

use std::{sync::Arc, time::Duration};

use axum::response::Response;

use super::{
    gateway_flow::REASONING,
    reject::json_response,
    reply_text::default_reply,
    request::UpstreamRequest,
    script::{Script, ScriptedFailure},
    sse::{self, Framer, Usage},
    stream::{truncated_json, Disconnected, Sink},
    App, RequestOutcome,
};

/// One upstream-mode request.
pub(crate) struct UpstreamJob {
    pub(crate) app: Arc<App>,
    pub(crate) seq: u64,
    pub(crate) framer: Framer,
    pub(crate) script: Script,
    pub(crate) request: UpstreamRequest,
}

impl UpstreamJob {
    fn interval(&self) -> Duration {
        self.script.interval(self.app.config.token_interval)
    }

    /// The scripted tokens, after a sentence describing the current turn's images (if any).
    fn tokens(&self) -> Vec<String> {
        let tokens = self
            .script
            .tokens(|| default_reply(&self.request.echo_text, self.request.assistant_turns + 1));
        super::images::with_description(
            &self.request.images,
            self.app.config.image_description,
            tokens,
        )
    }

    fn usage(&self, completion_tokens: usize) -> Usage {
        Usage::new(self.request.prompt_words, completion_tokens as u64)
    }
}

/// The HTTP error answer of `FAIL500` / `FAIL401`, if scripted.
pub(crate) fn early_failure(script: &Script) -> Option<(u16, Response)> {
    let (status, message, kind, code) = match script.failure? {
        ScriptedFailure::Fail500 => (
            500,
            "The server had an error while processing your request.",
            "server_error",
            None,
        ),
        ScriptedFailure::Fail401 => (
            401,
            "bad upstream key",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        _ => return None,
    };
    let body = serde_json::json!({ "error": { "message": message, "type": kind, "param": null, "code": code } });
    Some((status, json_response(status, body.to_string())))
}

/// Produces a streamed answer into `sink`; returns how it ended.
pub(crate) async fn stream(job: UpstreamJob, sink: Sink) -> RequestOutcome {
    run_stream(&job, sink)
        .await
        .unwrap_or(RequestOutcome::ClientDisconnected)
}

async fn run_stream(job: &UpstreamJob, sink: Sink) -> Result<RequestOutcome, Disconnected> {
    let f = &job.framer;
    sink.send(f.role(true)).await?;
    let tokens = job.tokens();
    match job.script.failure {
        Some(ScriptedFailure::FailMid | ScriptedFailure::Cut) => {
            emit(&sink, job, &tokens[..2.min(tokens.len())]).await?;
            sink.pause(job.interval()).await?;
            sink.cut().await;
            return Ok(RequestOutcome::FailedInStream("connection cut".into()));
        }
        Some(ScriptedFailure::Silent) => {
            sink.closed().await;
            return Err(Disconnected);
        }
        _ => {}
    }
    if job.script.reason {
        for r in REASONING {
            sink.pause(job.interval()).await?;
            sink.send(f.reasoning(r)).await?;
        }
    }
    emit(&sink, job, &tokens).await?;
    sink.send(f.finish()).await?;
    sink.send(f.usage(job.usage(tokens.len()))).await?;
    sink.send(sse::done()).await?;
    Ok(RequestOutcome::Completed)
}

async fn emit(sink: &Sink, job: &UpstreamJob, tokens: &[String]) -> Result<(), Disconnected> {
    for t in tokens {
        sink.pause(job.interval()).await?;
        sink.token(job.framer.content(t), t).await?;
    }
    Ok(())
}

/// Answers without streaming.
pub(crate) async fn json(job: UpstreamJob) -> (Response, RequestOutcome) {
    if job.script.failure == Some(ScriptedFailure::Silent) {
        std::future::pending::<()>().await;
    }
    let tokens = job.tokens();
    for t in &tokens {
        tokio::time::sleep(job.interval()).await;
        job.app.recorder.token(job.seq, t);
    }
    let body = job
        .framer
        .completion(&tokens.concat(), job.usage(tokens.len()));
    if matches!(
        job.script.failure,
        Some(ScriptedFailure::FailMid | ScriptedFailure::Cut)
    ) {
        let response = truncated_json(job.app.recorder.clone(), job.seq, body);
        return (
            response,
            RequestOutcome::FailedInStream("connection cut".into()),
        );
    }
    (json_response(200, body), RequestOutcome::Completed)
}
