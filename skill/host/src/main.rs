//! `openclaw-skill`: the host for the openclaw-dingtalk skill plugin.
//!
//! It finds `libopenclaw_dingtalk.so` (the search order in `plugin.rs`), loads it through the
//! stable ABI, writes starter manifests (`init`), checks manifests, and runs the skill.
#![deny(unsafe_code)]

mod check;
#[cfg(feature = "demo")]
mod demo;
mod host_manifest;
mod ingress;
mod init;
mod logger;
mod metrics;
mod neterr;
mod plugin;
#[cfg(test)]
mod proptest_config;
mod redact;
mod run;
mod runtime;
mod secret;
mod send;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::logger::LogFormat;

/// The values of `--log-level` (an unknown one is a usage error, exit status 2).
const LOG_LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// Host for the openclaw-dingtalk skill: DingTalk robot messages in, OpenClaw Gateway
/// answers streamed into live AI Cards.
#[derive(Parser, Debug)]
#[command(name = "openclaw-skill", version, about, long_about = None)]
struct Cli {
    /// Log format on stderr.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        global = true,
        display_order = 100
    )]
    log_format: LogFormat,
    /// Log level (overridden by RUST_LOG, which also takes per-module directives).
    #[arg(
        long,
        default_value = "info",
        global = true,
        display_order = 101,
        ignore_case = true,
        value_parser = LOG_LEVELS
    )]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a commented openclaw-skill.yaml and the template of the environment file it reads
    /// (openclaw-dingtalk.env.example), then print the next steps. Never overwrites without
    /// --force.
    Init(init::InitArgs),
    /// Find and load the plugin, have it validate MANIFEST (every problem at once); print what
    /// was loaded (plugin and ABI versions, the configuration with secrets redacted).
    Check {
        /// Path of openclaw-skill.yaml.
        manifest: PathBuf,
        /// Plugin library to load [default: the search order of docs/deploy.md: the manifest's
        /// `library` key, next to the manifest, $OPENCLAW_DINGTALK_LIBRARY, the install
        /// prefix's lib/openclaw-dingtalk/, next to openclaw-skill].
        #[arg(long, value_name = "PATH")]
        library: Option<PathBuf>,
    },
    /// Run the skill: receive DingTalk events and answer them.
    Run(run::RunArgs),
    /// Stream one answer to PROMPT into a new AI Card of a group (--group CID) or a 1:1 chat
    /// (--user STAFF_ID), with no inbound message: the answer's text on standard output, exit
    /// status 0 when the card finished.
    Send(send::SendArgs),
    /// Show the robot at work without a DingTalk tenant or a gateway: a scripted group chat
    /// through the real plugin and ingress, against the built-in DingTalk emulator and fake
    /// gateway on 127.0.0.1.
    #[cfg(feature = "demo")]
    Demo(demo::DemoArgs),
    /// Not in this build: it says so (the host was built without the `demo` feature).
    #[cfg(not(feature = "demo"))]
    #[command(hide = true, disable_help_flag = true)]
    Demo {
        /// Whatever was given; ignored.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// What `demo` says in a build without it.
#[cfg(not(feature = "demo"))]
const NO_DEMO: &str =
    "this openclaw-skill was built without the demo (cargo feature `demo`, on by \
     default): build it with `cargo build --release -p openclaw-skill` to get it";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match &cli.command {
        // The demo's live display shares the terminal: warnings only unless --verbose.
        #[cfg(feature = "demo")]
        Command::Demo(args) => args.log_level(&cli.log_level),
        _ => &cli.log_level,
    }
    .to_ascii_lowercase();
    logger::init(cli.log_format, &level);
    let result = match cli.command {
        Command::Init(args) => init::init(&args).map(|()| ExitCode::SUCCESS),
        Command::Check { manifest, library } => {
            check::check(&manifest, library.as_deref()).map(|()| ExitCode::SUCCESS)
        }
        Command::Run(args) => run::run(args).map(|()| ExitCode::SUCCESS),
        Command::Send(args) => send::send(args),
        #[cfg(feature = "demo")]
        Command::Demo(args) => demo::run(args, &level),
        #[cfg(not(feature = "demo"))]
        Command::Demo { .. } => {
            eprintln!("openclaw-skill: {NO_DEMO}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("openclaw-skill: {}", redact::urls(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
