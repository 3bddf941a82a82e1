use std::{collections::HashMap, time::Duration};

use openclaw_dingtalk_emulator::dingtalk::{
    ApiKind, Call, EmulatorConfig, Fault, FaultResponse, QpsScope,
};
use serde_json::json;

use crate::common::{error_code, Dt};

/// Checks the fixed-window rule on the recorded calls: within each (budget, one-second window) the calls
/// before the limit was reached succeeded and every later one was refused with `code`. Returns the
/// number of refused calls.
fn check_windows(calls: &[Call], limit: usize, per_api: bool, code: &str) -> usize {
    let mut windows: HashMap<(Option<ApiKind>, u64), Vec<&Call>> = HashMap::new();
    for c in calls {
        windows
            .entry((per_api.then_some(c.kind), c.at_ms / 1000))
            .or_default()
            .push(c);
    }
    let mut refused = 0;
    for calls in windows.values() {
        for (i, c) in calls.iter().enumerate() {
            if i < limit {
                assert_ne!(c.status, 403, "call {} within the budget", c.seq);
            } else {
                assert_eq!(
                    (c.status, c.error_code.as_deref()),
                    (403, Some(code)),
                    "call {} over the budget",
                    c.seq
                );
                refused += 1;
            }
        }
    }
    refused
}

#[tokio::test]
async fn per_api_qps_limit_rejects_and_does_not_apply() {
    let dt = Dt::start(EmulatorConfig {
        qps_limit: Some(3),
        ..EmulatorConfig::default()
    })
    .await;
    assert_eq!(dt.create_card("q").await.0, 200);
    // Bounded: a burst of 5 updates normally lands in one window; retry if it straddled a boundary.
    let mut refused_body = None;
    for attempt in 0..5 {
        for i in 0..5 {
            let (status, body) = dt
                .stream(
                    "q",
                    &format!("g{attempt}-{i}"),
                    &format!("v{attempt}-{i}"),
                    false,
                )
                .await;
            if status == 403 {
                refused_body.get_or_insert(body);
            }
        }
        if refused_body.is_some() {
            break;
        }
    }
    let body = refused_body.expect("a burst over the limit is refused");
    assert_eq!(
        error_code(403, &body, 403),
        "Forbidden.AccessDenied.QpsLimitForApi"
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("请求过于频繁，限制将在 ") && message.ends_with(" 结束"),
        "{message}"
    );

    let calls = dt.emu.calls();
    check_windows(&calls, 3, true, "Forbidden.AccessDenied.QpsLimitForApi");
    let applied: Vec<String> = dt
        .emu
        .card("q")
        .unwrap()
        .updates
        .iter()
        .map(|u| u.content.clone())
        .collect();
    let succeeded: Vec<String> = calls
        .iter()
        .filter(|c| c.kind == ApiKind::StreamingUpdate && c.status == 200)
        .map(|c| c.request["content"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(applied, succeeded, "refused calls are not applied");
}

#[tokio::test]
async fn app_scope_shares_one_budget() {
    let config = EmulatorConfig {
        qps_limit: Some(2),
        qps_scope: QpsScope::App,
        ..EmulatorConfig::default()
    };
    let dt = Dt::start(config).await;
    let mut refused = 0;
    for attempt in 0..5 {
        dt.create_card(&format!("c{attempt}")).await;
        dt.stream(&format!("c{attempt}"), "g", "x", false).await;
        dt.put(
            "/v1.0/card/instances",
            json!({"outTrackId": format!("c{attempt}")}),
        )
        .await;
        refused = check_windows(
            &dt.emu.calls(),
            2,
            false,
            "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi",
        );
        if refused > 0 {
            break;
        }
    }
    assert!(
        refused > 0,
        "three calls in one window exceed a shared budget of 2"
    );
}

#[tokio::test]
async fn injected_errors_apply_to_the_next_matching_calls() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    assert_eq!(dt.create_card("f").await.0, 200);
    dt.emu.inject(Fault::new(
        Some(ApiKind::StreamingUpdate),
        FaultResponse::ServerError,
        2,
    ));
    for guid in ["a", "b"] {
        let (status, body) = dt.stream("f", guid, guid, false).await;
        assert_eq!(error_code(status, &body, 500), "system.busy");
    }
    assert_eq!(dt.stream("f", "c", "c", false).await.0, 200);
    let card = dt.emu.card("f").unwrap();
    assert_eq!(card.updates.len(), 1, "faulted calls are not applied");

    dt.emu
        .inject(Fault::new(None, FaultResponse::GatewayTimeout, 1));
    assert_eq!(
        dt.fetch_token().await,
        dt.token,
        "an any-API fault skips the token endpoints"
    );
    let (status, body) = dt.create_card("g").await;
    assert_eq!(error_code(status, &body, 504), "GatewayTimeout");
    assert!(dt.emu.card("g").is_none());

    dt.emu.inject(Fault::new(
        Some(ApiKind::AccessToken),
        FaultResponse::QpsLimit,
        1,
    ));
    let c = dt.emu.config();
    let (status, body) = dt
        .send(
            reqwest::Method::POST,
            "/v1.0/oauth2/accessToken",
            None,
            json!({"appKey": c.app_key, "appSecret": c.app_secret}),
        )
        .await;
    assert_eq!(
        error_code(status, &body, 403),
        "Forbidden.AccessDenied.QpsLimitForApi"
    );

    let statuses: Vec<u16> = dt.emu.calls().iter().map(|c| c.status).collect();
    assert_eq!(
        statuses,
        [200, 200, 500, 500, 200, 200, 504, 403],
        "faulted calls are recorded"
    );
}

#[tokio::test]
async fn latency_fault_delays_then_handles_normally() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    dt.emu.inject(Fault::new(
        Some(ApiKind::CreateAndDeliver),
        FaultResponse::Latency(Duration::from_millis(150)),
        1,
    ));
    let started = std::time::Instant::now();
    assert_eq!(dt.create_card("slow").await.0, 200);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(150));
    assert!(dt.emu.card("slow").is_some());

    assert_eq!(dt.create_card("fast").await.0, 200);
    let calls = dt.emu.calls();
    let (slow, fast) = (&calls[1], &calls[2]);
    assert!(
        slow.took_ms >= 150 && u128::from(slow.took_ms) <= elapsed.as_millis(),
        "took_ms counts the injected latency: {}",
        slow.took_ms
    );
    assert!(
        fast.at_ms >= slow.at_ms + slow.took_ms,
        "at_ms stays the arrival"
    );
    assert!(fast.took_ms < 150, "an undelayed call: {} ms", fast.took_ms);
}
