//! The contract between the `openclaw-dingtalk` skill plugin and its hosts, and the loader
//! Rust hosts use.
//!
//! One core, two entry points exported by the plugin's `.so`:
//! - `openclaw_skill_vtable_v2()` returns [`OcSkillVTable`], the C contract described by
//!   `include/openclaw_skill.h` (C, C++, Node through koffi);
//! - the abi_stable root module [`SkillModRef`], for Rust hosts: it carries the same vtable
//!   plus an async pull, and is checked for layout and version at load time.
//!
//! The contract: [`codes`] (integer codes), [`strings`], [`records`] (chunks, log records,
//! refusals, handles), [`vtable`], [`root_module`]; the safe Rust view of a chunk ([`chunk`]).
//! [`loader`] is the safe Rust host API over them. This crate stays light: no HTTP, no
//! WebSocket, no runtime. `unsafe` code is a compile error here except in [`strings`] (reading
//! a borrowed string, releasing an owned one) and [`loader`] (calling the vtable).
#![deny(unsafe_code, unsafe_op_in_unsafe_fn)]

pub mod chunk;
pub mod codes;
#[allow(unsafe_code)] // calls into the plugin through raw function pointers
pub mod loader;
pub mod manifest_text;
pub mod records;
pub mod root_module;
pub mod secret;
#[allow(unsafe_code)] // the two string primitives every crossing rests on
pub mod strings;
pub mod vtable;

pub use chunk::{Chunk, Usage};
pub use codes::{OcChunkKind, OcFailureKind, OcLogLevel, OcStatus};
pub use loader::{
    forward_logs, ChunkStream, LoadError, LogRecord, Plugin, PluginError, Pulled, Refusal, Skill,
};
pub use records::{OcChunk, OcChunkStream, OcLogRecord, OcRefusal, OcSkill, OcUsage};
pub use root_module::{SkillMod, SkillModRef};
pub use secret::Secret;
pub use strings::{OcOwnedStr, OcStr};
pub use vtable::{OcSkillVTable, OC_SKILL_ABI_VERSION, OC_SKILL_VTABLE_V2_BASE_SIZE};

/// The abi_stable version strings of this contract crate, for plugins and test fixtures.
pub const CONTRACT_VERSION_STRINGS: abi_stable::sabi_types::VersionStrings =
    abi_stable::package_version_strings!();
