//! `openclaw-skill` installed like other Rust services: the binary in `PREFIX/bin`, the plugin in
//! `PREFIX/lib/openclaw-dingtalk/`, run from a directory outside the checkout with nothing
//! pointing at the plugin. The host must find it there (the search order in
//! `skill/host/src/plugin.rs`, docs/deploy.md).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary install root outside the checkout, removed on drop.
struct Root(PathBuf);

impl Root {
    fn new(name: &str) -> Root {
        let dir = std::env::temp_dir().join(format!(
            "openclaw-skill-install-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("elsewhere")).expect("scratch dir");
        std::fs::create_dir_all(dir.join("tmp")).expect("scratch dir");
        Root(dir)
    }

    /// Installs `from` at `rel` (a hard link when possible: the files are large; a link is a
    /// file of its own to the process that runs it).
    fn install(&self, from: &Path, rel: &str) -> PathBuf {
        let to = self.0.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).expect("mkdir");
        if std::fs::hard_link(from, &to).is_err() {
            std::fs::copy(from, &to).expect("copy");
        }
        to
    }

    /// The installed host and plugin: `usr/local/bin/openclaw-skill` and
    /// `usr/local/lib/openclaw-dingtalk/libopenclaw_dingtalk.so`.
    fn layout(&self) -> (PathBuf, PathBuf) {
        let bin = self.install(
            Path::new(env!("CARGO_BIN_EXE_openclaw-skill")),
            "usr/local/bin/openclaw-skill",
        );
        let lib = self.install(
            &support::plugin_path(),
            "usr/local/lib/openclaw-dingtalk/libopenclaw_dingtalk.so",
        );
        (bin, lib)
    }

    /// `bin ARGS…` from `elsewhere/`, with nothing from the environment pointing at a plugin.
    fn run(&self, bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        Command::new(bin)
            .args(args)
            .current_dir(self.0.join("elsewhere"))
            .env_remove("OPENCLAW_DINGTALK_LIBRARY")
            .env_remove("RUST_LOG")
            .env_remove("OPENCLAW_API_KEY")
            .env("TMPDIR", self.0.join("tmp"))
            .envs(env.iter().copied())
            .output()
            .expect("run the installed openclaw-skill")
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[cfg(feature = "demo")]
#[test]
fn the_installed_demo_finds_the_plugin_in_the_install_prefix() {
    let root = Root::new("demo");
    let (bin, lib) = root.layout();
    let out = root.run(&bin, &["demo", "--plain"], &[]);
    let context = text(&out);
    assert_eq!(out.status.code(), Some(0), "{context}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(") from {}\n", lib.display())),
        "the plugin from the prefix\n{context}"
    );
    assert!(stdout.contains("已开始新会话。"), "{context}");
    assert_eq!(
        std::fs::read_dir(root.0.join("tmp")).unwrap().count(),
        0,
        "the demo's temporary directory is removed"
    );

    // Without the plugin in the prefix: every place looked at is named.
    std::fs::remove_file(&lib).unwrap();
    let out = root.run(&bin, &["demo", "--plain"], &[]);
    let context = text(&out);
    assert_eq!(out.status.code(), Some(1), "{context}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for place in [
        "$OPENCLAW_DINGTALK_LIBRARY (not set)".to_owned(),
        format!("{} (the install prefix of ", lib.display()),
        format!(
            "{} (next to openclaw-skill",
            bin.with_file_name("libopenclaw_dingtalk.so").display()
        ),
    ] {
        assert!(stderr.contains(&place), "{place} not listed\n{context}");
    }
}

#[test]
fn the_installed_host_checks_the_production_manifest_with_the_plugin_in_the_prefix() {
    let root = Root::new("check");
    let (bin, lib) = root.layout();
    let manifest = root.install(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/openclaw-skill.yaml"),
        "etc/openclaw-dingtalk/openclaw-skill.yaml",
    );
    let state = root.0.join("state");
    let manifest_arg = manifest.to_str().expect("UTF-8 path");
    let out = root.run(
        &bin,
        &["check", manifest_arg],
        &[
            ("OPENCLAW_GATEWAY_URL", "http://127.0.0.1:18789"),
            ("OPENCLAW_API_KEY", "install-test-key"),
            ("DINGTALK_APP_KEY", "dinginstalltest"),
            ("DINGTALK_APP_SECRET", "安装-secret"),
            ("STATE_DIRECTORY", state.to_str().expect("UTF-8 path")),
        ],
    );
    let context = text(&out);
    assert!(out.status.success(), "{context}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "library:  {} (the install prefix of ",
            lib.display()
        )),
        "{context}"
    );
    assert!(
        stdout.contains(&format!("\"state_dir\": \"{}\"", state.display())),
        "{context}"
    );
    assert!(state.is_dir(), "check creates the state directory");
    for secret in ["install-test-key", "安装-secret"] {
        assert!(!context.contains(secret), "{secret} shown\n{context}");
    }
}
