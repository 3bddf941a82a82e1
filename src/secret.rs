//! Secrets never show in Debug, Display, logs or errors; the type lives in the contract crate
//! so the plugin and the hosts share it.

pub use openclaw_skill_abi::Secret;
