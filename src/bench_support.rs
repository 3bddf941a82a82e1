//! Not part of the plugin's interface: the per-token hot path (SSE payload → events, card
//! markdown, the streaming update's body), re-exported for `benches/hot_path.rs` only, which
//! lives outside the crate and cannot reach its internal modules. Hidden from the docs; may
//! change with any release.

pub use crate::card::markdown::normalize_for_card;
pub use crate::dingtalk::{streaming_body, StreamEnd};
pub use crate::gateway::{parse_event_data, GatewayEvent};
