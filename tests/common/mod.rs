//! Shared set-up for the integration tests: the real plugin `.so` (as `cargo test` leaves
//! it next to the test binary), the DingTalk emulator and the fake gateway on 127.0.0.1.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use openclaw_dingtalk_emulator::dingtalk::{DingTalkEmulator, EmulatorConfig};
use openclaw_dingtalk_emulator::event::MessageSpec;
use openclaw_dingtalk_emulator::gateway::{FakeGateway, FakeGatewayConfig};
pub use openclaw_dingtalk_emulator::manifest::TestManifest;
use openclaw_skill_abi::{Chunk, ChunkStream, Plugin, PluginError, Skill};

/// The plugin library built by this `cargo test` run.
pub fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    let path = deps.join(Plugin::library_file_name());
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Loads the real plugin through the abi_stable loader.
pub fn plugin() -> Plugin {
    Plugin::load_from_file(&plugin_path()).unwrap_or_else(|e| panic!("{e}\n{}", e.details))
}

/// Emulator + fake gateway on their own runtime (the test thread may block in plugin calls).
pub struct Harness {
    pub rt: tokio::runtime::Runtime,
    pub dingtalk: DingTalkEmulator,
    pub gateway: FakeGateway,
    pub dir: PathBuf,
}

/// A fresh scratch directory under the target dir.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        uuid_like()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

impl Harness {
    /// Default emulator and gateway.
    pub fn start(name: &str) -> Harness {
        Harness::start_with(
            name,
            EmulatorConfig::default(),
            FakeGatewayConfig::default(),
        )
    }

    /// Custom emulator and gateway configurations.
    pub fn start_with(name: &str, dt: EmulatorConfig, gw: FakeGatewayConfig) -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (dingtalk, gateway) = rt.block_on(async {
            (
                DingTalkEmulator::start(dt).await.unwrap(),
                FakeGateway::start(gw).await.unwrap(),
            )
        });
        Harness {
            rt,
            dingtalk,
            gateway,
            dir: scratch_dir(name),
        }
    }

    /// The test manifest: the emulator and the fake gateway with their credentials, a 100 ms
    /// card update interval, `state_dir` in the scratch directory. `.to_yaml()` gives the text.
    pub fn manifest(&self) -> TestManifest {
        TestManifest::for_peers(&self.dingtalk, &self.gateway).interval_ms(100)
    }

    /// Starts a skill with the default manifest.
    pub fn skill(&self, plugin: &Plugin) -> Skill {
        self.skill_with(plugin, &self.manifest().to_yaml())
    }

    /// Starts a skill with a given manifest.
    pub fn skill_with(&self, plugin: &Plugin, manifest: &str) -> Skill {
        plugin
            .init(manifest, &self.dir.join("openclaw-skill.yaml"))
            .unwrap_or_else(|e| panic!("init: {e}"))
    }

    /// A group text event JSON.
    pub fn group_text(&self, conversation: &str, text: &str) -> String {
        self.dingtalk
            .bot_message(MessageSpec::group_text(conversation, text))
            .to_string()
    }

    /// Waits (notify-based) until the card is finalized (finished or failed) in the emulator.
    pub fn wait_card_final(&self, card_id: &str) -> openclaw_dingtalk_emulator::dingtalk::Card {
        use openclaw_dingtalk_emulator::dingtalk::CardState;
        let id = card_id.to_owned();
        let dt = self.dingtalk.clone();
        let done = self.rt.block_on(self.dingtalk.wait_for(
            move |_| {
                dt.card(&id)
                    .is_some_and(|c| matches!(c.state, CardState::Finished | CardState::Failed))
            },
            Duration::from_secs(30),
        ));
        assert!(
            done,
            "card {card_id} was not finalized: {:?}",
            self.dingtalk.card(card_id)
        );
        self.dingtalk.card(card_id).unwrap()
    }
}

/// Waits (up to 30 s, re-reading every 20 ms) until the skill's `info` satisfies `pred`:
/// for counters the plugin updates right after the emulator saw the calls.
pub fn wait_info(skill: &Skill, pred: impl Fn(&serde_json::Value) -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let info: serde_json::Value = serde_json::from_str(&skill.info().unwrap()).unwrap();
        if pred(&info) {
            return true;
        }
        if std::time::Instant::now() > deadline {
            eprintln!("info never satisfied the condition: {info}");
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Collects a whole stream on a fresh current-thread runtime of the host (not the plugin's).
pub fn collect(stream: ChunkStream) -> Vec<Result<Chunk, PluginError>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), stream.collect::<Vec<_>>())
            .await
            .expect("stream did not end within 60 s")
    })
}

/// The answer text carried by the deltas.
pub fn answer_of(chunks: &[Result<Chunk, PluginError>]) -> String {
    chunks
        .iter()
        .filter_map(|c| match c {
            Ok(Chunk::Delta(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// The card id of the first `Started` chunk.
pub fn card_of(chunks: &[Result<Chunk, PluginError>]) -> String {
    match chunks.first() {
        Some(Ok(Chunk::Started { card_id })) => card_id.clone(),
        other => panic!("first chunk is not Started: {other:?}"),
    }
}

/// Builds a deliberately incompatible plugin and returns its path. `layout`: the fixture
/// in `tests/fixtures/abi-mismatch` (same contract version, other layout). `version`: the
/// fixture in `tests/fixtures/abi-version` against a copy of `skill/abi` renumbered to
/// `0.99.0`. One variant per test binary: abi_stable caches the first library it opened
/// for a root-module type, for the life of the process.
pub fn build_fixture(variant: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("abi-fixtures")
        .join(variant);
    let manifest = match variant {
        "layout" => root.join("tests/fixtures/abi-mismatch/Cargo.toml"),
        "v1" => root.join("tests/fixtures/abi-v1/Cargo.toml"),
        "version" => {
            let abi = work.join("abi-copy");
            // A fresh copy: files left from an earlier layout of the crate would break it.
            let _ = std::fs::remove_dir_all(&abi);
            copy_dir(&root.join("skill/abi"), &abi);
            let toml = std::fs::read_to_string(abi.join("Cargo.toml")).unwrap();
            let bumped = toml.replacen("version = \"0.2.0\"", "version = \"0.99.0\"", 1);
            assert_ne!(
                toml, bumped,
                "skill/abi/Cargo.toml no longer says version = \"0.2.0\"; update this test"
            );
            std::fs::write(abi.join("Cargo.toml"), bumped).unwrap();
            let fixture = work.join("fixture");
            copy_dir(&root.join("tests/fixtures/abi-version"), &fixture);
            let toml = std::fs::read_to_string(fixture.join("Cargo.toml")).unwrap();
            std::fs::write(
                fixture.join("Cargo.toml"),
                toml.replace("ABI_COPY", &abi.display().to_string()),
            )
            .unwrap();
            fixture.join("Cargo.toml")
        }
        other => panic!("unknown fixture {other}"),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(work.join("target"))
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the {variant} fixture failed");
    let name = match variant {
        "layout" => "libabi_mismatch_fixture.so",
        "v1" => "libabi_v1_fixture.so",
        _ => "libabi_version_fixture.so",
    };
    work.join("target/debug").join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
