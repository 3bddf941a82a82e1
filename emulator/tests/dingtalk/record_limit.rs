//! `record_limit`: a long session keeps only the newest records, and never drops a card in progress
//! while a finished one can go.

use openclaw_dingtalk_emulator::{
    dingtalk::{ApiKind, CardState, EmulatorConfig, SESSION_INVALID_ERRCODE},
    event::MessageSpec,
};
use serde_json::{json, Value};

use crate::common::Dt;

const LIMIT: usize = 50;

fn bounded() -> EmulatorConfig {
    EmulatorConfig {
        record_limit: Some(LIMIT),
        qps_limit: None,
        ..EmulatorConfig::default()
    }
}

#[tokio::test]
async fn calls_and_cards_keep_the_newest_and_cards_in_progress() {
    let dt = Dt::start(bounded()).await;
    for i in 0..500 {
        let id = format!("卡片{i}");
        assert_eq!(dt.create_card(&id).await.0, 200);
        // Cards 10 and 20 stay in progress (a reply still streaming); the rest finish.
        if i != 10 && i != 20 {
            let (status, body) = dt.stream(&id, &format!("g{i}"), "完成的回答", true).await;
            assert_eq!(status, 200, "{body}");
        }
    }
    let calls = dt.emu.calls();
    assert_eq!(calls.len(), LIMIT);
    let seqs: Vec<u64> = calls.iter().map(|c| c.seq).collect();
    // 1 token + 500 creates + 498 streaming updates.
    assert_eq!(seqs, (950..=999).collect::<Vec<u64>>(), "the newest calls");
    assert_eq!(
        calls.last().unwrap().out_track_id.as_deref(),
        Some("卡片499")
    );

    let cards = dt.emu.cards();
    assert_eq!(cards.len(), LIMIT);
    let ids: Vec<&str> = cards.iter().map(|c| c.out_track_id.as_str()).collect();
    let mut expected = vec!["卡片10".to_string(), "卡片20".to_string()];
    expected.extend((452..500).map(|i| format!("卡片{i}")));
    assert_eq!(ids, expected, "cards in progress are kept, then the newest");
    assert_eq!(cards[0].state, CardState::Processing);
    assert_eq!(cards[49].state, CardState::Finished);
    // A card in progress can still be finished; an evicted one is unknown.
    assert_eq!(dt.stream("卡片10", "late", "答", true).await.0, 200);
    assert_eq!(dt.stream("卡片11", "late", "答", true).await.0, 400);
    assert!(dt.emu.card("卡片11").is_none());
}

#[tokio::test]
async fn when_every_card_is_in_progress_the_oldest_goes() {
    let dt = Dt::start(EmulatorConfig {
        record_limit: Some(3),
        ..bounded()
    })
    .await;
    for i in 0..5 {
        assert_eq!(dt.create_card(&format!("进行中{i}")).await.0, 200);
    }
    let ids: Vec<String> = dt.emu.cards().into_iter().map(|c| c.out_track_id).collect();
    assert_eq!(ids, ["进行中2", "进行中3", "进行中4"]);
}

#[tokio::test]
async fn messages_and_session_webhooks_keep_the_newest() {
    let dt = Dt::start(bounded()).await;
    let mut webhooks = Vec::new();
    for i in 0..500 {
        let payload = dt
            .emu
            .bot_message(MessageSpec::group_text("cidLimit==", &format!("问题{i}")));
        let url = payload["sessionWebhook"].as_str().unwrap().to_string();
        let body = json!({"msgtype": "markdown", "markdown": {"title": "答复", "text": format!("答复{i}")}});
        let answer: Value = dt
            .http
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer["errcode"], 0,
            "a webhook works right after its message"
        );
        webhooks.push(url);
    }
    let sent = dt.emu.sent_messages();
    assert_eq!(sent.len(), LIMIT);
    assert_eq!(sent[0].text, "答复450");
    assert_eq!(sent[LIMIT - 1].text, "答复499");

    let text = json!({"msgtype": "text", "text": {"content": "迟到的回复"}});
    let post = |url: String| {
        let http = dt.http.clone();
        let text = text.clone();
        async move {
            let answer: Value = http
                .post(url)
                .json(&text)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            answer["errcode"].clone()
        }
    };
    assert_eq!(
        post(webhooks[0].clone()).await,
        SESSION_INVALID_ERRCODE,
        "the oldest webhook was evicted"
    );
    assert_eq!(post(webhooks[499].clone()).await, 0);
    assert_eq!(dt.emu.calls().len(), LIMIT);
}

#[tokio::test]
async fn applied_timeouts_keep_the_newest() {
    let dt = Dt::start(EmulatorConfig {
        applied_timeout_every: Some(1),
        ..bounded()
    })
    .await;
    for i in 0..500 {
        assert_eq!(dt.create_card(&format!("超时{i}")).await.0, 504);
    }
    let applied = dt.emu.applied_timeouts();
    assert_eq!(applied, (452..=501).collect::<Vec<u64>>());
    let calls = dt.emu.calls();
    assert_eq!(calls.len(), LIMIT);
    assert!(calls.iter().all(|c| c.kind == ApiKind::CreateAndDeliver));
    assert_eq!(dt.emu.cards().len(), LIMIT);
}

#[tokio::test]
async fn without_a_limit_everything_is_kept() {
    let dt = Dt::start(EmulatorConfig {
        record_limit: None,
        ..bounded()
    })
    .await;
    for i in 0..120 {
        assert_eq!(dt.create_card(&format!("全部{i}")).await.0, 200);
    }
    assert_eq!(dt.emu.cards().len(), 120);
    assert_eq!(dt.emu.calls().len(), 121);
}
