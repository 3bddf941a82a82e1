//! `openclaw-skill send`: one answer into a new AI Card of a group or a 1:1 chat, with no
//! inbound message, through the manifest's configuration (apps, gateway, routes). For operators
//! and scripts (incident bots, CI notifications): the answer's text goes to standard output as
//! it streams, and the exit status says whether the card finished.
//!
//! The process runs its own skill next to a running host that may share the `state_dir` (the
//! card journal keeps each process's cards apart), without the manifest's `schedules:` (the
//! running host runs those). It has no ingress, so its card gets no stop button;
//! SIGINT/SIGTERM finalize the card as interrupted.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use futures_util::StreamExt;
use openclaw_skill_abi::Chunk;

use crate::host_manifest::ManifestFile;
use crate::plugin;
use crate::runtime::{runtime, shutdown_signal};

/// `send` options.
#[derive(Args, Debug)]
pub struct SendArgs {
    /// Path of openclaw-skill.yaml.
    pub manifest: PathBuf,
    /// The group (its `openConversationId`, `cid…`; the robot must be a member).
    #[arg(
        long,
        value_name = "CID",
        conflicts_with = "user",
        required_unless_present = "user"
    )]
    pub group: Option<String>,
    /// The user (staff id) whose 1:1 chat with the robot gets the card.
    #[arg(long, value_name = "STAFF_ID")]
    pub user: Option<String>,
    /// The route (by name, from `routes:`) whose agent answers [default: gateway.model].
    #[arg(long)]
    pub route: Option<String>,
    /// The app (by name, from `apps:`) whose robot posts the card; required when the manifest
    /// has several [default: the only app].
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Plugin library to load [default: the search order of docs/deploy.md].
    #[arg(long, value_name = "PATH")]
    pub library: Option<PathBuf>,
    /// How long the answer may take before the card is finalized as interrupted.
    #[arg(long, default_value_t = 600_000, value_name = "MS")]
    pub timeout_ms: u64,
    /// The prompt (several words are joined with spaces).
    #[arg(required = true, num_args = 1.., value_name = "PROMPT")]
    pub prompt: Vec<String>,
}

/// Sends the prompt; exit status 0 when the card finished, 1 otherwise.
pub fn send(args: SendArgs) -> Result<ExitCode> {
    let prompt = args.prompt.join(" ");
    if prompt.trim().is_empty() {
        bail!("the prompt is empty");
    }
    let mut manifest = ManifestFile::read(&args.manifest)?;
    // The running host runs the schedules; this process would post their cards twice.
    manifest.text = without_schedules(&manifest.text);
    let library = plugin::locate(args.library.as_deref(), Some(&manifest))?;
    let skill = plugin::start_skill(&manifest, &library)?;
    let mut request = serde_json::json!({
        "prompt": prompt,
        "label": "openclaw-skill send",
        "stoppable": false,
    });
    match (&args.group, &args.user) {
        (Some(group), _) => request["group"] = group.as_str().into(),
        (None, Some(user)) => request["user"] = user.as_str().into(),
        (None, None) => bail!("give --group CID or --user STAFF_ID"),
    }
    if let Some(route) = &args.route {
        request["route"] = route.as_str().into();
    }
    if let Some(app) = &args.app {
        request["app"] = app.as_str().into();
    }
    let mut stream = match skill.post_prompt(&request.to_string()) {
        Ok(stream) => stream,
        Err(e) => {
            let _ = skill.shutdown(Duration::from_secs(1));
            bail!("{}", e.message);
        }
    };
    let runtime = runtime()?;
    let outcome = runtime.block_on(async {
        let follow = async {
            let mut out = std::io::stdout();
            let mut ended = None;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(Chunk::Started { card_id }) => log::info!("send: card {card_id}"),
                    Ok(Chunk::Delta(text)) => {
                        let _ = out.write_all(text.as_bytes());
                        let _ = out.flush();
                    }
                    Ok(Chunk::Finished { .. }) => ended = Some(Ok(())),
                    Ok(Chunk::Failed { kind, message }) => {
                        ended = Some(Err(format!("{kind:?}: {message}")))
                    }
                    Ok(other) if other.is_terminal() => {
                        ended = Some(Err(format!("ended without a card: {other:?}")))
                    }
                    Ok(_) => {}
                    Err(e) => ended = Some(Err(e.message)),
                }
            }
            let _ = writeln!(out);
            ended.unwrap_or_else(|| Err("the reply ended without a terminal chunk".into()))
        };
        tokio::select! {
            ended = follow => ended,
            () = tokio::time::sleep(Duration::from_millis(args.timeout_ms)) => {
                Err(format!("no end within --timeout-ms {}", args.timeout_ms))
            }
            () = shutdown_signal() => Err("interrupted by a signal".to_owned()),
        }
    });
    // Anything still running (a timeout, a signal) is finalized as interrupted.
    let _ = skill.shutdown(Duration::from_secs(10));
    drop(runtime);
    match outcome {
        Ok(()) => {
            log::info!("send: the card finished");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("openclaw-skill send: the card did not finish: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `text` with its top-level `schedules:` block blanked out line by line (so every other key
/// keeps its line for error messages).
fn without_schedules(text: &str) -> String {
    let mut inside = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let top_level = !line.starts_with([' ', '\t', '#', '\n', '\r']) && !line.trim().is_empty();
        if top_level {
            inside = line.starts_with("schedules:");
        }
        if inside {
            out.push_str(if line.ends_with('\n') { "\n" } else { "" });
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedules_block_is_blanked_and_every_other_line_kept() {
        let text = "name: b\nschedules:\n  - name: 站会\n    # 注释\n\n    cron: \"0 9 * * *\"\nstate_dir: x\n";
        assert_eq!(without_schedules(text), "name: b\n\n\n\n\n\nstate_dir: x\n");
        assert_eq!(without_schedules("name: b\n"), "name: b\n");
    }
}
