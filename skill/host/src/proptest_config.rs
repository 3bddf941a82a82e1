//! Cases per property test: 2,000 in a normal run; the soak (`scripts/soak.sh`) sets
//! `OCDT_PROPTEST_CASES` and runs the properties again and again for minutes.

/// The configuration every property test of the host uses.
pub fn config() -> proptest::prelude::ProptestConfig {
    let cases = std::env::var("OCDT_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    proptest::prelude::ProptestConfig {
        cases,
        ..proptest::prelude::ProptestConfig::default()
    }
}
