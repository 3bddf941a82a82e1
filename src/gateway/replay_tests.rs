//! The gateway SSE client against byte-for-byte replays of the real gateway's responses
//! (emulator/transcripts, reconstructed from captures of the real gateway; see
//! docs/gateway.md, "Transcripts") and against the fake gateway for cancellation.
//! (Was `tests/gateway_client.rs`; unit tests now, as the client is internal to the crate.)

use std::time::Duration;

use super::client::{ChatRequest, GatewayClient};
use super::error::{Deadline, GatewayError};
use super::events::GatewayEvent;
use crate::manifest::GatewayConfig;
use crate::secret::Secret;
use futures_util::StreamExt;
use openclaw_dingtalk_emulator::gateway::{FakeGateway, FakeGatewayConfig, RequestOutcome};
use openclaw_dingtalk_emulator::replay::{transcript, ReplayServer, ReplayStep};
use openclaw_skill_abi::Usage;

fn config(endpoint: &str) -> GatewayConfig {
    GatewayConfig {
        endpoint: endpoint.to_owned(),
        auth_token: Secret::new("fake-gateway-token"),
        model: "openclaw/main".into(),
        include_usage: true,
        connect_timeout_ms: 2_000,
        first_byte_timeout_ms: 5_000,
        idle_timeout_ms: 5_000,
        total_timeout_ms: 30_000,
        retries: 2,
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        session_key: "dingtalk:group:cidT".into(),
        model: None,
        system: None,
        user_message: "hi".into(),
    }
}

async fn run(config: GatewayConfig) -> Vec<Result<GatewayEvent, GatewayError>> {
    let client = GatewayClient::new(&config, &Default::default()).unwrap();
    client.stream_chat(request()).collect().await
}

async fn replay(name: &str) -> ReplayServer {
    ReplayServer::start(transcript(name), true).await.unwrap()
}

fn text_of(events: &[Result<GatewayEvent, GatewayError>]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(GatewayEvent::Delta(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn the_success_transcript_yields_every_delta_and_ends_cleanly() {
    let server = replay("success").await;
    let events = run(config(&server.base_url())).await;
    assert_eq!(text_of(&events), "Hello from the fake upstream.");
    assert!(events.iter().all(Result::is_ok), "{events:?}");
    assert_eq!(
        events.last(),
        Some(&Ok(GatewayEvent::FinishReason("stop".into())))
    );

    let sent = server.last_request().unwrap();
    let lower = sent.to_ascii_lowercase();
    assert!(sent.starts_with("POST /v1/chat/completions "), "{sent}");
    assert!(
        lower.contains("authorization: bearer fake-gateway-token"),
        "{sent}"
    );
    assert!(
        lower.contains("x-openclaw-session-key: dingtalk:group:cidt"),
        "{sent}"
    );
    assert!(
        lower.contains("x-openclaw-message-channel: dingtalk"),
        "{sent}"
    );
    assert!(
        sent.contains(r#""stream":true"#) && sent.contains(r#""include_usage":true"#),
        "{sent}"
    );
    assert!(sent.contains(r#""model":"openclaw/main""#), "{sent}");
}

#[tokio::test]
async fn the_usage_chunk_is_reported() {
    let server = replay("usage").await;
    let events = run(config(&server.base_url())).await;
    assert!(
        events.contains(&Ok(GatewayEvent::Usage(Usage {
            prompt_tokens: 5,
            completion_tokens: 6,
            total_tokens: 11
        }))),
        "{events:?}"
    );
    assert_eq!(text_of(&events), "Hello from the fake upstream.");
}

#[tokio::test]
async fn an_error_inside_the_200_stream_carries_the_gateways_message() {
    let server = replay("in_stream_error").await;
    let events = run(config(&server.base_url())).await;
    assert_eq!(
        events.last(),
        Some(&Err(GatewayError::InStream {
            message: "upstream provider error".into(),
            kind: "api_error".into()
        }))
    );
    assert_eq!(server.connections(), 1, "an in-stream error is not retried");
}

#[tokio::test]
async fn a_stream_cut_before_done_is_an_error_after_the_text_received() {
    let server = replay("cut").await;
    let events = run(config(&server.base_url())).await;
    assert_eq!(text_of(&events), "Hello from");
    assert_eq!(events.last(), Some(&Err(GatewayError::Truncated)));
}

#[tokio::test]
async fn slow_tokens_pass_and_an_idle_gap_longer_than_the_deadline_fails() {
    let server = replay("slow_tokens").await;
    let events = run(config(&server.base_url())).await;
    assert_eq!(text_of(&events), "Hello from the fake upstream.");

    let server = replay("slow_tokens").await;
    let mut tight = config(&server.base_url());
    tight.idle_timeout_ms = 50;
    let events = run(tight).await;
    assert_eq!(
        events.last(),
        Some(&Err(GatewayError::Timeout(Deadline::Idle))),
        "{events:?}"
    );
}

#[tokio::test]
async fn http_errors_before_the_stream_are_typed_and_4xx_is_not_retried() {
    let server = replay("unauthorized_401").await;
    let events = run(config(&server.base_url())).await;
    assert_eq!(
        events,
        vec![Err(GatewayError::Status {
            status: 401,
            message: "Unauthorized".into()
        })]
    );
    assert_eq!(server.connections(), 1);

    let server = replay("bad_request_400").await;
    let events = run(config(&server.base_url())).await;
    assert_eq!(
        events,
        vec![Err(GatewayError::Status {
            status: 400,
            message: "Missing user message in `messages`.".into()
        })]
    );
}

#[tokio::test]
async fn a_5xx_before_the_first_byte_is_retried_with_backoff() {
    let body = r#"{"error":{"message":"upstream provider error","type":"api_error"}}"#;
    let raw = format!(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let server = ReplayServer::start(vec![ReplayStep::now(raw)], true)
        .await
        .unwrap();
    let events = run(config(&server.base_url())).await;
    assert_eq!(
        events,
        vec![Err(GatewayError::Status {
            status: 502,
            message: "upstream provider error".into()
        })]
    );
    assert_eq!(server.connections(), 3, "one try plus gateway.retries = 2");
}

#[tokio::test]
async fn an_unreachable_gateway_is_a_connect_error_with_its_cause() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut cfg = config(&format!("http://{addr}"));
    cfg.retries = 0;
    let events = run(cfg).await;
    match events.as_slice() {
        [Err(e @ GatewayError::Connect(cause))] => {
            assert!(cause.to_lowercase().contains("refused"), "{cause}");
            assert!(
                e.user_reason()
                    .contains("could not connect to the model service"),
                "{}",
                e.user_reason()
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn dropping_the_consumer_cancels_the_gateway_request() {
    let gateway = FakeGateway::start(FakeGatewayConfig::default())
        .await
        .unwrap();
    let client = GatewayClient::new(&config(&gateway.base_url()), &Default::default()).unwrap();
    let mut req = request();
    req.user_message = "TOKENS:100 PACE:50".into();
    let mut stream = Box::pin(client.stream_chat(req));
    assert!(matches!(
        stream.next().await,
        Some(Ok(GatewayEvent::Delta(_)))
    ));
    drop(stream);
    let cancelled = gateway
        .wait_for(
            |r| {
                r.first()
                    .is_some_and(|r| r.outcome == RequestOutcome::ClientDisconnected)
            },
            Duration::from_secs(10),
        )
        .await;
    assert!(
        cancelled,
        "{:?}",
        gateway.requests().first().map(|r| &r.outcome)
    );
}
