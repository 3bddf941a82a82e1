//! Loading the plugin and driving it safely from a Rust host.
//!
//! - [`Plugin`] (`plugin.rs`): finding and loading the `.so` (layout and version checked by
//!   abi_stable, an ABI v1 plugin named as such) and the calls that need no running skill;
//! - [`Skill`] (`skill.rs`): a running skill: events, HTTP callbacks, the Stream open request;
//! - [`ChunkStream`] (`stream.rs`): one reply's chunks, blocking or as an async `Stream`;
//! - [`forward_logs`] (`logs.rs`): the thread that drains the plugin's log queue into `log`;
//! - `error.rs`: what can go wrong, as values.
//!
//! The wrappers own their handles and release them on drop.

mod error;
mod logs;
mod plugin;
mod skill;
mod stream;

pub use error::{LoadError, PluginError};
pub use logs::{forward_logs, LogRecord};
pub use plugin::Plugin;
pub use skill::{Refusal, Skill};
pub use stream::{ChunkStream, Pulled};
