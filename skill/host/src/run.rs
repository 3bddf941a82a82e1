//! `openclaw-skill run`: initialise the skill and feed it DingTalk events until SIGINT or
//! SIGTERM, then shut it down gracefully (replies in flight are finalized).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use openclaw_skill_abi::{Chunk, Skill};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::task::JoinSet;

use crate::host_manifest::ManifestFile;

/// Where events come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventSource {
    /// DingTalk itself, as `ingress.mode` says: Stream mode (an outbound WebSocket, the
    /// default) or signed HTTP callbacks on `ingress.http.listen`.
    Dingtalk,
    /// One DingTalk robot event (JSON) per line on standard input; each reply's chunks are
    /// printed as JSON lines on standard output. For driving the pipeline by hand.
    Stdin,
}

/// `run` options.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Path of openclaw-skill.yaml.
    pub manifest: PathBuf,
    /// Plugin library to load instead of the one the manifest points at.
    #[arg(long)]
    pub library: Option<PathBuf>,
    /// Where DingTalk events come from.
    #[arg(long, value_enum, default_value = "dingtalk")]
    pub events: EventSource,
    /// How long shutdown (SIGINT/SIGTERM) may take to finalize replies in flight.
    #[arg(long, default_value_t = 10_000)]
    pub shutdown_deadline_ms: u64,
    /// Serve Prometheus metrics on GET /metrics at this address (overrides
    /// `ingress.metrics_listen`; port 0 picks a free port, the log says which).
    #[arg(long)]
    pub metrics_listen: Option<String>,
}

/// Loads the plugin for `manifest` (`library` overrides where it is) and initialises a skill
/// with the manifest; the plugin's log records go to this process's logger.
pub fn start_skill(manifest: &ManifestFile, library: Option<&Path>) -> Result<Arc<Skill>> {
    let plugin = crate::load_plugin(manifest, library)?;
    log::info!(
        "loaded plugin {} {} (skill ABI v{})",
        plugin.name(),
        plugin.version(),
        plugin.abi_version()
    );
    let skill = plugin
        .init(&manifest.text, &manifest.path)
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    Ok(Arc::new(skill))
}

/// The host's tokio runtime (ingress, followers; `demo` also runs its peers on it).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// Runs the host until the event source ends or a signal arrives.
pub fn run(args: RunArgs) -> Result<()> {
    let manifest = ManifestFile::read(&args.manifest)?;
    let skill = start_skill(&manifest, args.library.as_deref())?;
    let deadline = Duration::from_millis(args.shutdown_deadline_ms);
    let runtime = runtime()?;
    let served = match args.events {
        EventSource::Stdin => runtime.block_on(serve_stdin(skill.clone())).and_then(|()| {
            log::info!(
                "shutting down: finalizing replies in flight (deadline {} ms)",
                deadline.as_millis()
            );
            skill
                .shutdown(deadline)
                .map_err(|e| anyhow::anyhow!("{}", e.message))
        }),
        EventSource::Dingtalk => match manifest.ingress() {
            Ok(settings) => {
                let options = crate::ingress::Options {
                    shutdown_deadline: deadline,
                    metrics_listen: args.metrics_listen.clone(),
                };
                runtime.block_on(crate::ingress::run(settings, skill.clone(), options))
            }
            Err(e) => {
                let _ = skill.shutdown(deadline);
                Err(e)
            }
        },
    };
    if let Ok(info) = skill.info() {
        log::info!("final counters: {info}");
    }
    // Followers still parked on the runtime are dropped here, before the skill.
    drop(runtime);
    served
}

/// Reads events from stdin until EOF or a signal; prints chunks as JSON lines.
async fn serve_stdin(skill: Arc<Skill>) -> Result<()> {
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut replies = JoinSet::new();
    let mut n = 0u64;
    loop {
        tokio::select! {
            line = lines.next_line() => match line? {
                None => break,
                Some(line) if line.trim().is_empty() => continue,
                Some(line) => {
                    n += 1;
                    match skill.handle_event(&line) {
                        Ok(stream) => { replies.spawn(print_chunks(n, stream)); }
                        Err(e) => println!("{}", serde_json::json!({"event": n, "error": e.message, "status": format!("{:?}", e.status)})),
                    }
                }
            },
            _ = shutdown_signal() => {
                log::info!("signal received: no more events");
                replies.abort_all();
                return Ok(());
            }
        }
    }
    while replies.join_next().await.is_some() {}
    Ok(())
}

async fn print_chunks(event: u64, mut stream: openclaw_skill_abi::ChunkStream) {
    while let Some(item) = stream.next().await {
        let line = match item {
            Ok(chunk) => chunk_json(event, &chunk),
            Err(e) => {
                serde_json::json!({"event": event, "error": e.message, "status": format!("{:?}", e.status)})
            }
        };
        println!("{line}");
    }
}

/// A chunk as one JSON line.
pub fn chunk_json(event: u64, chunk: &Chunk) -> serde_json::Value {
    use serde_json::json;
    match chunk {
        Chunk::Started { card_id } => {
            json!({"event": event, "kind": "started", "card_id": card_id})
        }
        Chunk::Delta(t) => json!({"event": event, "kind": "delta", "text": t}),
        Chunk::Reasoning(t) => json!({"event": event, "kind": "reasoning", "text": t}),
        Chunk::Finished { usage } => {
            json!({"event": event, "kind": "finished", "usage": usage.map(|u| json!({
            "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens, "total_tokens": u.total_tokens}))})
        }
        Chunk::Failed { kind, message } => {
            json!({"event": event, "kind": "failed", "failure": format!("{kind:?}"), "message": message})
        }
        Chunk::Replied(t) => json!({"event": event, "kind": "replied", "text": t}),
        Chunk::Skipped(t) => json!({"event": event, "kind": "skipped", "text": t}),
        Chunk::Other { kind, text } => {
            json!({"event": event, "kind": format!("{kind:?}"), "text": text})
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
