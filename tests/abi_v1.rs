//! A plugin of the 0.1 series (skill ABI v1) is refused at load time with a message that names
//! the old ABI and says to rebuild, instead of abi_stable's layout report.

mod common;

use openclaw_skill_abi::Plugin;

#[test]
fn a_plugin_built_against_abi_v1_is_refused_with_a_rebuild_hint() {
    let v1 = common::build_fixture("v1");
    let err = Plugin::load_from_file(&v1).expect_err("an ABI v1 plugin must be refused");
    assert!(
        err.summary.contains("built against skill ABI v1")
            && err.summary.contains("this host speaks ABI v2")
            && err.summary.contains("rebuild the plugin"),
        "{}",
        err.summary
    );
    assert!(!err.summary.contains('\n'), "one line: {}", err.summary);
}
