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
