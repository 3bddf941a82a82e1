//! The peers every run talks to: the DingTalk emulator and the fake gateway, on their own
//! runtime, and the timeline that puts both records on the bench's clock.

use std::time::{Duration, Instant};

use anyhow::Result;
use openclaw_dingtalk_emulator::dingtalk::{DingTalkEmulator, EmulatorConfig};
use openclaw_dingtalk_emulator::gateway::{FakeGateway, FakeGatewayConfig};

use crate::measure::Timeline;

/// The running peers. Owned by one run; dropped at its end.
pub struct Peers {
    /// The runtime they serve on (kept alive with them).
    pub rt: tokio::runtime::Runtime,
    /// The DingTalk emulator.
    pub dt: DingTalkEmulator,
    /// The fake gateway (a failed stream goes silent for 500 ms, as a cut connection does).
    pub gw: FakeGateway,
    /// Both records on the bench's clock, which began at `bench_start`.
    pub timeline: Timeline,
}

impl Peers {
    /// Starts the emulator with `dingtalk` and the fake gateway.
    pub fn start(dingtalk: EmulatorConfig, bench_start: Instant) -> Result<Peers> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-peers")
            .enable_all()
            .build()?;
        let (dt, gw) = rt.block_on(async {
            let dt = DingTalkEmulator::start(dingtalk).await?;
            let gw = FakeGateway::start(FakeGatewayConfig {
                failure_silence: Duration::from_millis(500),
                ..FakeGatewayConfig::default()
            })
            .await?;
            Ok::<_, std::io::Error>((dt, gw))
        })?;
        // Both records count milliseconds from their server's start instant: one timeline.
        let since = |t: Instant| t.saturating_duration_since(bench_start).as_secs_f64() * 1000.0;
        let timeline = Timeline {
            dingtalk_origin_ms: since(dt.started_at()),
            gateway_origin_ms: since(gw.started_at()),
        };
        Ok(Peers {
            rt,
            dt,
            gw,
            timeline,
        })
    }
}
