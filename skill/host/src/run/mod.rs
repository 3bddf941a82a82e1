//! `openclaw-skill run`: initialise the skill and feed it DingTalk events until SIGINT or
//! SIGTERM, then shut it down gracefully (replies in flight are finalized).

mod dingtalk;
mod stdin;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::host_manifest::ManifestFile;
use crate::plugin;
use crate::runtime::runtime;

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
    /// Plugin library to load [default: the search order of docs/deploy.md: the manifest's
    /// `library` key, next to the manifest, $OPENCLAW_DINGTALK_LIBRARY, the install prefix's
    /// lib/openclaw-dingtalk/, next to openclaw-skill].
    #[arg(long, value_name = "PATH")]
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

/// Runs the host until the event source ends or a signal arrives.
pub fn run(args: RunArgs) -> Result<()> {
    let manifest = ManifestFile::read(&args.manifest)?;
    let library = plugin::locate(args.library.as_deref(), Some(&manifest))?;
    let skill = plugin::start_skill(&manifest, &library)?;
    let deadline = Duration::from_millis(args.shutdown_deadline_ms);
    let runtime = runtime()?;
    let served = match args.events {
        EventSource::Stdin => runtime
            .block_on(stdin::serve(skill.clone()))
            .and_then(|()| {
                log::info!(
                    "shutting down: finalizing replies in flight (deadline {} ms)",
                    deadline.as_millis()
                );
                skill
                    .shutdown(deadline)
                    .map_err(|e| anyhow::anyhow!("{}", e.message))
            }),
        EventSource::Dingtalk => match manifest.host_settings(&skill.plugin()) {
            Ok(settings) => {
                let options = dingtalk::Options {
                    shutdown_deadline: deadline,
                    metrics_listen: args.metrics_listen.clone(),
                };
                runtime.block_on(dingtalk::run(settings, skill.clone(), options))
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
