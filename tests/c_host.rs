//! A C host, compiled from `tests/c/host.c` with the system `cc` against
//! `include/openclaw_skill.h` alone, dlopens the real `.so` and runs
//! check_manifest → init → handle_event → next_chunk … → info → shutdown → skill_free, pulling
//! the plugin's log records with next_log on a second thread.

mod common;

use std::path::Path;
use std::process::Command;

use common::{plugin_path, Harness};
use openclaw_dingtalk_emulator::dingtalk::CardState;

#[test]
fn a_c_host_drives_the_plugin_through_the_header_alone() {
    let h = Harness::start("c-host");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = h.dir.join("c-host");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(root.join("include"))
        .arg(root.join("tests/c/host.c"))
        .arg("-o")
        .arg(&exe)
        .args(["-ldl", "-lpthread"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    assert!(
        out.status.success(),
        "C host did not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let manifest = h.manifest().write(&h.dir);
    let event = h.dir.join("event.json");
    std::fs::write(&event, h.group_text("cidFromC", "TOKENS:4")).unwrap();

    let out = Command::new(&exe)
        .arg(plugin_path())
        .arg(&manifest)
        .arg(&event)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "C host failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("plugin openclaw-dingtalk "),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(&format!("check_manifest error: {}: ", manifest.display()))
            && lines[1].contains("missing field"),
        "{stdout}"
    );
    let chunks: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("chunk "))
        .copied()
        .collect();
    assert!(chunks[0].starts_with("chunk STARTED card_"), "{stdout}");
    assert_eq!(
        &chunks[1..],
        [
            "chunk DELTA t1 ",
            "chunk DELTA t2 ",
            "chunk DELTA t3 ",
            "chunk DELTA t4 ",
            "chunk FINISHED "
        ]
    );
    let logs: u64 = lines
        .iter()
        .find_map(|l| l.strip_prefix("log records "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(logs > 0, "the C host pulls the plugin's log records");
    let first_info = lines
        .iter()
        .find_map(|l| l.strip_prefix("first info log "))
        .unwrap();
    assert!(
        first_info.starts_with("skill ") && first_info.contains(" ready: gateway "),
        "the first INFO record is the skill's start line: {stdout}"
    );
    assert_eq!(lines.last(), Some(&"done"));

    let card_id = chunks[0].trim_start_matches("chunk STARTED ");
    assert_eq!(
        h.dingtalk.card(card_id).map(|c| c.state),
        Some(CardState::Finished)
    );
}
