//! `openclaw-skill demo --web`: the DingTalk simulator in a browser.
//!
//! The same peers as the terminal demo (the DingTalk emulator, the fake gateway or a real one
//! with `--gateway`, the real plugin and the host's real Stream-mode ingress) run until Ctrl-C,
//! and a page served from assets embedded in the binary lets a visitor chat with the robot in
//! groups and 1:1 chats, watch its AI Cards fill in from the emulator's record, see every
//! DingTalk call of a card on a timeline, and inject the faults the emulator supports.
//!
//! The page listens on 127.0.0.1 unless `--bind` says otherwise (with a warning: it has no
//! login). The emulator's record and the page's own history are bounded, so a long session
//! does not grow the process.

mod book;
mod faults;
mod routes;
mod view;

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use openclaw_skill_abi::Skill;
use tokio_util::sync::CancellationToken;

use super::peers::{Peers, RecordLimits};
use super::DemoArgs;
use crate::host_manifest::ManifestFile;
use crate::ingress::{self, Dispatcher};
use crate::metrics::Metrics;

/// Records the emulator and the fake gateway keep. The emulator's records are the page's
/// history: 250 cards (each with its update history) and 250 calls cover the newest cards of
/// the busy conversations and the last minute of calls at a message every few seconds. The
/// fake gateway's requests are not shown; a few suffice.
pub const RECORD_LIMITS: RecordLimits = RecordLimits {
    dingtalk: 250,
    gateway: 20,
};
/// How long the Stream connection may take to open.
const CONNECT_LIMIT: Duration = Duration::from_secs(15);
/// How long the skill may take to finalize replies in flight at Ctrl-C.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// The web options of `demo`.
#[derive(clap::Args, Debug)]
pub struct WebArgs {
    /// Serve the DingTalk simulator page instead of playing the terminal script.
    #[arg(long)]
    pub web: bool,
    /// The page's port (0: any free port; the URL is printed).
    #[arg(long, default_value_t = 8765, requires = "web")]
    pub port: u16,
    /// The page's address. Anything but loopback makes the page (which has no login)
    /// reachable from other machines.
    #[arg(long, default_value = "127.0.0.1", requires = "web")]
    pub bind: IpAddr,
    /// Open the page in the desktop's browser (xdg-open / open).
    #[arg(long, requires = "web")]
    pub open: bool,
}

/// Runs the simulator until SIGINT / SIGTERM; exit status 0 after a clean shutdown.
pub fn run(args: &DemoArgs) -> Result<ExitCode> {
    let library = crate::plugin::locate(args.library.as_deref(), None)?;
    let gateway = args.gateway_choice();
    let runtime = crate::runtime::runtime()?;
    let peers = runtime.block_on(Peers::start(
        &gateway,
        args.interval_ms,
        super::standup::WEB_CRON,
        Some(RECORD_LIMITS),
    ))?;
    let manifest = ManifestFile::read(&peers.manifest)?;
    let skill = crate::plugin::start_skill(&manifest, &library)?;
    let settings = manifest.host_settings(&skill.plugin())?;
    let plugin = skill.plugin();
    let app = view::AppInfo {
        robot: "OpenClaw 助理",
        app_key: peers.emulator.config().app_key.clone(),
        gateway: match &args.gateway {
            Some(url) => format!("{} (real gateway)", crate::redact::url(url)),
            None => "fake OpenClaw gateway (built in)".into(),
        },
        model: args.model.clone(),
        interval_ms: args.interval_ms,
        plugin: format!("{} {}", plugin.name(), plugin.version()),
        fake_gateway: peers.fake_gateway.is_some(),
    };
    let served = runtime.block_on(serve(&args.web, &peers, skill.clone(), settings, app));
    drop(runtime);
    drop(skill);
    drop(peers);
    served.map(|()| ExitCode::SUCCESS)
}

/// Starts the ingress and the page, waits for a signal, shuts down.
async fn serve(
    web: &WebArgs,
    peers: &Peers,
    skill: Arc<Skill>,
    settings: crate::host_manifest::HostSettings,
    app: view::AppInfo,
) -> Result<()> {
    let metrics = Metrics::new();
    // The host's notes say which message each card answers: who asked, for the stop button.
    let (observer, mut notes) = tokio::sync::mpsc::unbounded_channel();
    let dispatcher = Dispatcher::new(skill.clone(), metrics.clone()).with_observer(observer);
    let intake = CancellationToken::new();
    let mut ingress = tokio::spawn({
        let (dispatcher, intake) = (dispatcher.clone(), intake.clone());
        async move { ingress::serve(&settings, dispatcher, metrics, intake).await }
    });
    let open = |e: &openclaw_dingtalk_emulator::dingtalk::DingTalkEmulator| {
        e.stream_connections().iter().any(|c| c.is_open())
    };
    tokio::select! {
        connected = peers.emulator.wait_until(open, CONNECT_LIMIT) => anyhow::ensure!(
            connected,
            "the Stream connection to the emulator did not open within {} s",
            CONNECT_LIMIT.as_secs()
        ),
        served = &mut ingress => return Err(match served {
            Ok(Err(e)) => e.context("ingress stopped"),
            Ok(Ok(())) => anyhow::anyhow!("ingress stopped before connecting"),
            Err(e) => anyhow::anyhow!("ingress task: {e}"),
        }),
    }

    let sim = routes::Simulator::new(
        peers.emulator.clone(),
        peers.fake_gateway.clone(),
        skill.clone(),
        app,
        book::Book::new((super::script::GROUP_ID, super::script::GROUP_TITLE)),
    );
    let linker = tokio::spawn({
        let sim = sim.clone();
        async move {
            while let Some(note) = notes.recv().await {
                if let ingress::NoteKind::Card(card) = &note.kind {
                    sim.link_card(card, &note.msg_id);
                }
            }
        }
    });
    let addr = SocketAddr::new(web.bind, web.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--bind / --port)"))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}/");
    if !addr.ip().is_loopback() {
        log::warn!(
            "the simulator listens on {addr}, reachable from other machines: the page has no \
             login, and anyone who reaches it can chat as its users and inject faults"
        );
    }
    println!("simulator: {url}");
    println!(
        "  DingTalk emulator at {} · gateway: {} · Ctrl-C stops",
        peers.emulator.base_url(),
        crate::redact::url(&peers.gateway_url)
    );
    if web.open {
        open_browser(&url);
    }
    // The page's event streams end when the signal arrives, so the graceful shutdown does not
    // wait for browsers that keep them open.
    let stop = sim.stop.clone();
    let page = axum::serve(listener, routes::router(sim)).with_graceful_shutdown(async move {
        crate::runtime::shutdown_signal().await;
        stop.cancel();
    });
    let served = page.await.context("simulator page");

    println!("  shutting down: intake stopped, the skill finalizes its replies");
    intake.cancel();
    let ingress_result = match ingress.await {
        Ok(result) => result.context("ingress"),
        Err(e) => Err(anyhow::anyhow!("ingress task: {e}")),
    };
    let finished = ingress::finish(skill, &dispatcher, SHUTDOWN_DEADLINE).await;
    linker.abort();
    served?;
    ingress_result?;
    finished
}

/// Opens `url` in the desktop's browser; says so when it cannot.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    match std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(_) => {}
        Err(e) => eprintln!("  cannot start {opener} ({e}): open {url} yourself"),
    }
}
