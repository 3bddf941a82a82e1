//! `ocdt-bench`: the `openclaw-skill` host with the real plugin, against the DingTalk
//! emulator and a fake gateway with scripted token pacing, under load and under faults.
//! Prints one table row per run as it ends, then a second table (one row per run) with the figures
//! about DingTalk's real limits: cards (finished/all), plain fallback messages, orphan cards,
//! conversations answered more than once, answer characters no card shows, 403s (and their share of
//! all DingTalk calls), card calls by kind, and p50/p99 of first text after the first model token,
//! first text after the card exists, and last model token to finalized card. See the README's
//! "Figures" section for the goals. A run fails the harness (non-zero exit) on stuck cards,
//! duplicates or errors; the limit runs (plugin manifest at its defaults) also on orphan cards,
//! conversations answered twice and incomplete answers. Missed latency goals never fail it.
//!
//! ```sh
//! cargo build --release -p openclaw-dingtalk -p openclaw-skill -p openclaw-dingtalk-bench
//! target/release/ocdt-bench                 # every run (--list shows them)
//! target/release/ocdt-bench --smoke         # the small CI workload
//! target/release/ocdt-bench --run learn-app5 --run one-15s-1000 --dump /tmp/records
//! target/release/ocdt-bench --run hosts3-redis --run hosts3-alone   # needs redis-server
//! ```
//!
//! The `hosts3-*` runs start three hosts of one app in Stream mode (and, for `hosts3-redis`, a
//! `redis-server` they share) and print a table per host before their rows.
#![deny(unsafe_code)]

mod host;
mod hosts;
mod measure;
mod peers;
mod runs;

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

/// Load and fault harness for openclaw-dingtalk.
#[derive(Parser, Debug)]
#[command(name = "ocdt-bench", version, about)]
pub struct Args {
    /// The host binary (default: `openclaw-skill` next to this binary).
    #[arg(long)]
    pub host: Option<PathBuf>,
    /// The plugin (default: `libopenclaw_dingtalk.so` next to this binary).
    #[arg(long)]
    pub plugin: Option<PathBuf>,
    /// Run only these runs (by name); default all.
    #[arg(long = "run")]
    pub runs: Vec<String>,
    /// The small workload CI runs.
    #[arg(long)]
    pub smoke: bool,
    /// List the runs and exit.
    #[arg(long)]
    pub list: bool,
    /// Write each run's records (emulator calls, cards, messages; gateway requests; the bench
    /// timeline) as JSON into `DIR/<run>/`, to check figures by hand.
    #[arg(long, value_name = "DIR")]
    pub dump: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    runs::main(args)
}
