//! Prometheus metrics (text exposition format 0.0.4, encoded by `prometheus-client`), served on
//! `GET /metrics` when `ingress.metrics_listen` (or `--metrics-listen`) is set (`endpoint.rs`).
//!
//! The host counts what it sees (events by source and result, HTTP callback refusals, Stream
//! connections, reconnects and frames, and per-reply timings from the chunk streams); the skill's
//! own counters (replies by outcome, DingTalk calls by kind, 403 QpsLimit answers, the learned
//! budget, card staleness) are read from `Skill::info` at scrape time (`skill.rs`).

mod endpoint;
mod host;
mod skill;

pub use endpoint::serve;
pub use host::Metrics;
