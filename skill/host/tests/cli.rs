//! The `openclaw-skill` command line as an operator meets it: usage errors and `check`.

mod support;

use std::process::Command;

fn host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_openclaw-skill"))
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn an_unknown_log_level_is_a_usage_error_listing_the_levels() {
    let out = host()
        .args(["--log-level", "verbose", "check", "openclaw-skill.yaml"])
        .output()
        .expect("run openclaw-skill");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("'verbose'"), "{stderr}");
    assert!(
        stderr.contains("off, error, warn, info, debug, trace"),
        "{stderr}"
    );
    // A known level in any case is accepted (this run then fails on the missing manifest).
    let out = host()
        .args([
            "--log-level",
            "DEBUG",
            "check",
            "/nonexistent/openclaw-skill.yaml",
        ])
        .output()
        .expect("run openclaw-skill");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot read manifest"), "{stderr}");
}

#[test]
fn check_shows_urls_without_their_credentials() {
    let dir = scratch("check-redact");
    let manifest = support::TestManifest::new(
        "https://bob:pa55word@api.dingtalk.com",
        "http://alice:hunter2@127.0.0.1:18789",
    )
    .with(|m| {
        m.name = "redact".into();
        m.dingtalk.oapi_base_url = None;
    })
    .write(&dir);
    let out = host()
        .arg("check")
        .arg(&manifest)
        .arg("--library")
        .arg(support::plugin_path())
        .output()
        .expect("run openclaw-skill");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("\"http://***@127.0.0.1:18789\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"https://***@api.dingtalk.com\""),
        "{stdout}"
    );
    for secret in ["alice", "hunter2", "bob", "pa55word"] {
        assert!(!stdout.contains(secret), "{secret} in\n{stdout}");
        assert!(!stderr.contains(secret), "{secret} in\n{stderr}");
    }
}

/// `demo` is listed exactly when the host was built with it; without it, it says so.
#[test]
fn demo_is_there_when_built_with_it() {
    let out = host().arg("--help").output().expect("run openclaw-skill");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    let listed = help.lines().any(|l| l.trim_start().starts_with("demo "));
    assert_eq!(listed, cfg!(feature = "demo"), "{help}");
    if !cfg!(feature = "demo") {
        let out = host()
            .args(["demo", "--plain"])
            .output()
            .expect("run openclaw-skill");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("built without the demo (cargo feature `demo`"),
            "{stderr}"
        );
    }
}

/// The variables the manifest `init` writes reads.
const INIT_VARIABLES: [&str; 4] = [
    "OPENCLAW_GATEWAY_URL",
    "OPENCLAW_API_KEY",
    "DINGTALK_APP_KEY",
    "DINGTALK_APP_SECRET",
];

/// `openclaw-skill` without any of the manifest's variables (or a plugin path) from outside.
fn clean_host() -> Command {
    let mut cmd = host();
    for var in INIT_VARIABLES {
        cmd.env_remove(var);
    }
    cmd.env_remove("DINGTALK_ROBOT_CODE")
        .env_remove("OPENCLAW_DINGTALK_LIBRARY");
    cmd
}

#[test]
fn init_writes_a_manifest_that_check_accepts_once_the_variables_are_set() {
    for mode in ["stream", "http"] {
        let dir = scratch(&format!("init-{mode}"));
        let _ = std::fs::remove_dir_all(&dir);
        let out = clean_host()
            .args(["init", "--mode", mode, "--dir"])
            .arg(&dir)
            .output()
            .expect("run openclaw-skill");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest = dir.join("openclaw-skill.yaml");
        let template = dir.join("openclaw-dingtalk.env.example");
        assert!(template.is_file(), "{stdout}");
        for step in ["cp ", "openclaw-skill check ", "openclaw-skill run "] {
            assert!(stdout.contains(step), "no {step:?} step in\n{stdout}");
        }
        let text = std::fs::read_to_string(&manifest).unwrap();
        if mode == "http" {
            assert!(text.contains("listen: \"127.0.0.1:8790\""), "{text}");
            // Another process may hold 8790 on a shared test machine: check binds the
            // address, so this run binds a free port instead.
            std::fs::write(&manifest, text.replace("127.0.0.1:8790", "127.0.0.1:0")).unwrap();
        }

        // Without the variables: all four are listed, in one run.
        let out = clean_host()
            .arg("check")
            .arg(&manifest)
            .env("OPENCLAW_DINGTALK_LIBRARY", support::plugin_path())
            .output()
            .expect("run openclaw-skill");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "{} problems in the manifest:",
                INIT_VARIABLES.len()
            )),
            "{stderr}"
        );
        for var in INIT_VARIABLES {
            assert!(
                stderr.contains(&format!("environment variable {var} is not set")),
                "{mode}: {var} not listed in\n{stderr}"
            );
        }

        // With them (the values of the env template, filled in): valid.
        let mut cmd = clean_host();
        cmd.arg("check")
            .arg(&manifest)
            .env("OPENCLAW_DINGTALK_LIBRARY", support::plugin_path());
        for line in std::fs::read_to_string(&template).unwrap().lines() {
            if let Some((var, value)) = line.split_once('=').filter(|_| !line.starts_with('#')) {
                let value = if value.is_empty() {
                    format!("{var}-值")
                } else {
                    value.to_owned()
                };
                cmd.env(var, value);
            }
        }
        let out = cmd.output().expect("run openclaw-skill");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{mode}: {stdout}\n{stderr}");
        assert!(stdout.contains("is valid"), "{stdout}");
        assert!(
            stdout.contains(&format!("\"mode\": \"{mode}\"")),
            "{stdout}"
        );
        for secret in ["OPENCLAW_API_KEY-值", "DINGTALK_APP_SECRET-值"] {
            assert!(!stdout.contains(secret), "{secret} in\n{stdout}");
        }
        assert!(
            stdout.contains("\"app_key\": \"DINGTALK_APP_KEY-值\""),
            "{stdout}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn init_never_overwrites_without_force() {
    let dir = scratch("init-force");
    let manifest = dir.join("openclaw-skill.yaml");
    std::fs::write(&manifest, "# 我的配置 (mine)\n").unwrap();
    let _ = std::fs::remove_file(dir.join("openclaw-dingtalk.env.example"));
    let out = clean_host()
        .args(["init", "--dir"])
        .arg(&dir)
        .output()
        .expect("run openclaw-skill");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        "# 我的配置 (mine)\n"
    );
    assert!(
        !dir.join("openclaw-dingtalk.env.example").exists(),
        "nothing is written when one file exists"
    );

    let out = clean_host()
        .args(["init", "--force", "--dir"])
        .arg(&dir)
        .output()
        .expect("run openclaw-skill");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read_to_string(&manifest)
        .unwrap()
        .contains("${OPENCLAW_API_KEY}"));
    let _ = std::fs::remove_dir_all(&dir);
}
