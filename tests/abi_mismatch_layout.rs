//! A plugin built against an incompatible contract is refused at load time with a one-line
//! reason (abi_stable's long report stays in `LoadError::details`).
//!
//! One fixture variant per test binary: abi_stable caches the first library it opened for
//! a root-module type, for the life of the process.

mod common;

use openclaw_skill_abi::Plugin;

#[test]
fn a_plugin_with_a_different_layout_is_refused_with_a_one_line_reason() {
    let layout = common::build_fixture("layout");
    let err = Plugin::load_from_file(&layout).expect_err("a different layout must be refused");
    assert!(
        err.summary.contains("incompatible ABI layout"),
        "{}",
        err.summary
    );
    assert!(
        !err.summary.contains('\n'),
        "summary must be one line: {}",
        err.summary
    );
    assert!(
        err.details.lines().count() > 5,
        "the full report is kept for debug logs"
    );
}
