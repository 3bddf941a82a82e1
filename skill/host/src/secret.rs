//! Secrets never show in Debug, Display, logs or errors: the contract crate's type, shared with
//! the plugin.

pub use openclaw_skill_abi::Secret;
