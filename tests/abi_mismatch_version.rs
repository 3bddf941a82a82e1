//! A plugin built against an incompatible contract is refused at load time with a one-line
//! reason (abi_stable's long report stays in `LoadError::details`).
//!
//! One fixture variant per test binary: abi_stable caches the first library it opened for
//! a root-module type, for the life of the process.

mod common;

use openclaw_skill_abi::Plugin;

#[test]
fn a_plugin_built_against_another_contract_version_is_refused() {
    let version = common::build_fixture("version");
    let err =
        Plugin::load_from_file(&version).expect_err("a different contract version must be refused");
    assert!(
        err.summary.contains("incompatible package versions"),
        "{}\n{}",
        err.summary,
        err.details.lines().take(40).collect::<Vec<_>>().join("\n")
    );
    assert!(err.summary.contains("0.99.0"), "{}", err.summary);
    assert!(!err.summary.contains('\n'), "{}", err.summary);
}
