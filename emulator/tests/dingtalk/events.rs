use openclaw_dingtalk_emulator::{
    dingtalk::EmulatorConfig,
    event::{callback_headers, callback_signature, Chat, Content, MessageSpec, RichPart, Sender},
};
use serde_json::{json, Value};

use crate::common::Dt;

#[tokio::test]
async fn group_text_message_is_realistic_and_replyable() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let msg = dt
        .emu
        .bot_message(MessageSpec::group_text("cidGroupA==", "你好"));
    assert_eq!(msg["msgtype"], "text");
    assert_eq!(
        msg["text"]["content"], " 你好",
        "the @mention leaves a leading space"
    );
    assert_eq!(msg["conversationType"], "2");
    assert_eq!(msg["conversationId"], "cidGroupA==");
    assert_eq!(msg["conversationTitle"], "测试群");
    assert_eq!(msg["isInAtList"], true);
    assert_eq!(msg["atUsers"][0]["dingtalkId"], msg["chatbotUserId"]);
    assert_eq!(msg["robotCode"], "dingemulatorappkey");
    assert_eq!(msg["senderStaffId"], Sender::default().staff_id);
    assert!(msg["senderId"].as_str().unwrap().starts_with("$:LWCP_v1:$"));
    let created = msg["createAt"].as_i64().unwrap();
    assert_eq!(
        msg["sessionWebhookExpiredTime"].as_i64().unwrap() - created,
        5_400_000
    );

    let url = msg["sessionWebhook"].as_str().unwrap();
    let reply: Value = dt
        .http
        .post(url)
        .json(&json!({"msgtype": "text", "text": {"content": "ok"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["errcode"], 0);
    assert_eq!(dt.emu.sent_messages()[0].target, "cidGroupA==");

    let other = dt
        .emu
        .bot_message(MessageSpec::group_text("cidGroupA==", "again"));
    assert_ne!(other["msgId"], msg["msgId"], "msgIds are unique");
}

#[tokio::test]
async fn direct_quoted_and_media_messages() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let dm = dt.emu.bot_message(MessageSpec {
        quoted_text: Some("earlier".into()),
        msg_id: Some("msgFixed==".into()),
        ..MessageSpec::direct_text("hi")
    });
    assert_eq!(dm["conversationType"], "1");
    assert!(dm["conversationId"].as_str().unwrap().starts_with("cid"));
    assert_eq!(dm["text"]["content"], "hi");
    assert_eq!(dm["text"]["isReplyMsg"], true);
    assert_eq!(dm["text"]["repliedMsg"]["content"]["content"], "earlier");
    assert_eq!(dm["msgId"], "msgFixed==");
    assert!(dm.get("conversationTitle").is_none());
    let again = dt.emu.bot_message(MessageSpec::direct_text("x"));
    assert_eq!(
        again["conversationId"], dm["conversationId"],
        "a DM's conversation is stable per sender"
    );

    let spec = |content: Content| MessageSpec {
        content,
        ..MessageSpec::group_text("cidG==", "")
    };
    let audio = dt.emu.bot_message(spec(Content::Audio {
        recognition: "语音转写".into(),
    }));
    assert_eq!(
        (
            audio["msgtype"].as_str(),
            audio["content"]["recognition"].as_str()
        ),
        (Some("audio"), Some("语音转写"))
    );
    assert!(audio["content"]["downloadCode"].is_string());
    let picture = dt.emu.bot_message(spec(Content::Picture));
    assert!(picture["content"]["downloadCode"].is_string());
    let file = dt.emu.bot_message(spec(Content::File {
        name: "报告.pdf".into(),
    }));
    assert_eq!(file["content"]["fileName"], "报告.pdf");
    let md = dt.emu.bot_message(spec(Content::Markdown {
        title: "T".into(),
        text: "**x**".into(),
    }));
    assert_eq!(
        (md["msgtype"].as_str(), md["content"]["text"].as_str()),
        (Some("markdown"), Some("**x**"))
    );
    let rich = dt.emu.bot_message(spec(Content::RichText(vec![
        RichPart::Text("看图".into()),
        RichPart::Picture,
        RichPart::At {
            name: "张三".into(),
        },
    ])));
    let parts = rich["content"]["richText"].as_array().unwrap();
    assert_eq!(parts[0], json!({"text": "看图"}));
    assert_eq!(parts[1]["type"], "picture");
    assert_eq!(
        (parts[2]["type"].as_str(), parts[2]["atName"].as_str()),
        (Some("at"), Some("张三"))
    );
    assert_eq!(rich["atUsers"].as_array().unwrap().len(), 2);
    let unknown = dt.emu.bot_message(MessageSpec {
        chat: Chat::Direct,
        ..spec(Content::Unknown("chatRecord".into()))
    });
    assert_eq!(unknown["msgtype"], "chatRecord");
}

#[test]
fn callback_headers_carry_the_signature() {
    let headers = callback_headers("emulator-app-secret", 1_577_262_236_757);
    assert!(headers.contains(&("timestamp".into(), "1577262236757".into())));
    assert!(headers.contains(&(
        "sign".into(),
        callback_signature("emulator-app-secret", 1_577_262_236_757)
    )));
}
