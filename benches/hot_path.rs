//! The plugin's per-token hot path, measured piece by piece and end to end:
//! SSE bytes → events → chunks (and their C view) → draft → card markdown → request body.
//!
//! `cargo bench --bench hot_path` prints the time per 1,000 tokens for each stage.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use openclaw_dingtalk::bench_support::{
    normalize_for_card, parse_event_data, streaming_body, GatewayEvent, StreamEnd,
};
use openclaw_skill_abi::Chunk;

const TOKENS: usize = 1000;
/// Tokens between two card updates (300 ms interval at ~33 tokens/s ≈ 10).
const TOKENS_PER_UPDATE: usize = 10;

/// A realistic gateway stream: role chunk, `TOKENS` content chunks of ~4 chars, finish, usage, [DONE].
fn sse_stream() -> Vec<u8> {
    let mut s = String::new();
    let head = r#"{"id":"chatcmpl_4f2d8c1a-6b3e-4d59-9a7f-2e81c0b5d736","object":"chat.completion.chunk","created":1795543609,"model":"openclaw/default","choices":[{"index":0,"delta":"#;
    s.push_str(&format!(
        "data: {head}{{\"role\":\"assistant\"}},\"finish_reason\":null}}]}}\n\n"
    ));
    for i in 0..TOKENS {
        let token = match i % 4 {
            0 => "你好，",
            1 => " the",
            2 => "\\n- ",
            _ => "数据",
        };
        s.push_str(&format!(
            "data: {head}{{\"content\":\"{token}\"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    s.push_str(&format!(
        "data: {head}{{}},\"finish_reason\":\"stop\"}}]}}\n\n"
    ));
    s.push_str("data: [DONE]\n\n");
    s.into_bytes()
}

fn parse_all(bytes: &[u8], rt: &tokio::runtime::Runtime) -> Vec<String> {
    // Network-sized pieces, as reqwest would hand them over.
    let pieces: Vec<Result<bytes_chunk::Bytes, std::io::Error>> = bytes
        .chunks(1400)
        .map(|c| Ok(bytes_chunk::Bytes::copy_from_slice(c)))
        .collect();
    rt.block_on(async move {
        let mut events = futures_util::stream::iter(pieces).eventsource();
        let mut deltas = Vec::with_capacity(TOKENS);
        while let Some(Ok(ev)) = events.next().await {
            if ev.data == "[DONE]" {
                break;
            }
            for e in parse_event_data(&ev.data).unwrap() {
                if let GatewayEvent::Delta(t) = e {
                    deltas.push(t);
                }
            }
        }
        deltas
    })
}

mod bytes_chunk {
    pub use bytes::Bytes;
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let stream = sse_stream();
    let deltas = parse_all(&stream, &rt);
    assert_eq!(deltas.len(), TOKENS);

    let mut group = c.benchmark_group("per_1000_tokens");
    group.throughput(Throughput::Elements(TOKENS as u64));
    group.bench_function("sse_bytes_to_deltas", |b| {
        b.iter(|| parse_all(&stream, &rt))
    });
    group.bench_function("delta_to_chunk_and_c_view", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for d in &deltas {
                let chunk = Chunk::Delta(d.clone());
                n += chunk.as_oc().text.len;
            }
            n
        })
    });
    group.bench_function(
        BenchmarkId::new("card_updates", format!("every_{TOKENS_PER_UPDATE}_tokens")),
        |b| {
            b.iter(|| {
                let mut draft = String::new();
                let mut bytes = 0usize;
                for (i, d) in deltas.iter().enumerate() {
                    draft.push_str(d);
                    if i % TOKENS_PER_UPDATE == TOKENS_PER_UPDATE - 1 {
                        let content = normalize_for_card(&draft);
                        let body = streaming_body(
                            "card_0123456789abcdef",
                            "content",
                            &content,
                            StreamEnd::No,
                        );
                        bytes += serde_json::to_vec(&body).unwrap().len();
                    }
                }
                bytes
            })
        },
    );
    group.bench_function("end_to_end", |b| {
        b.iter(|| {
            let deltas = parse_all(&stream, &rt);
            let mut draft = String::new();
            let mut bytes = 0usize;
            for (i, d) in deltas.into_iter().enumerate() {
                draft.push_str(&d);
                let chunk = Chunk::Delta(d);
                bytes += chunk.as_oc().text.len;
                if i % TOKENS_PER_UPDATE == TOKENS_PER_UPDATE - 1 {
                    let body = streaming_body(
                        "card_0123456789abcdef",
                        "content",
                        &normalize_for_card(&draft),
                        StreamEnd::No,
                    );
                    bytes += serde_json::to_vec(&body).unwrap().len();
                }
            }
            bytes
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
