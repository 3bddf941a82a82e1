//! The contract between the `openclaw-dingtalk` skill plugin and its hosts.
//!
//! One core, two entry points exported by the plugin's `.so`:
//! - `openclaw_skill_vtable_v1()` returns [`OcSkillVTable`], the C contract described by
//!   `include/openclaw_skill.h` (C, C++, Node through koffi);
//! - the abi_stable root module [`SkillModRef`], for Rust hosts: it carries the same vtable
//!   plus an async pull, and is checked for layout and version at load time.
//!
//! [`Plugin`], [`Skill`] and [`ChunkStream`] are the safe Rust host API over both.
//! This crate stays light: no HTTP, no WebSocket, no runtime.

pub mod chunk;
pub mod loader;
pub mod manifest_text;
pub mod root_module;
pub mod secret;
pub mod types;
pub mod vtable;

pub use chunk::{Chunk, Usage};
pub use loader::{
    host_log_sink, library_path, ChunkStream, LoadError, Plugin, PluginError, Pulled, Skill,
};
pub use root_module::{SkillMod, SkillModRef};
pub use secret::Secret;
pub use types::*;
pub use vtable::OcSkillVTable;

/// The abi_stable version strings of this contract crate, for plugins and test fixtures.
pub const CONTRACT_VERSION_STRINGS: abi_stable::sabi_types::VersionStrings =
    abi_stable::package_version_strings!();
