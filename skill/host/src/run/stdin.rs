//! `run --events stdin`: one raw event per line on standard input, each reply's chunks as JSON
//! lines on standard output.

use std::sync::Arc;

use anyhow::Result;
use futures_util::StreamExt;
use openclaw_skill_abi::{Chunk, ChunkStream, Skill};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::task::JoinSet;

use crate::runtime::shutdown_signal;

/// Reads events from stdin until EOF or a signal; prints chunks as JSON lines.
pub async fn serve(skill: Arc<Skill>) -> Result<()> {
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

/// Prints the chunks of event number `event` as JSON lines.
async fn print_chunks(event: u64, mut stream: ChunkStream) {
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
fn chunk_json(event: u64, chunk: &Chunk) -> serde_json::Value {
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
