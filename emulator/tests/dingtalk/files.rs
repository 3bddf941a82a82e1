//! Files users send: `add_file` → `downloadCode` in the message → `messageFiles/download` → temporary
//! OSS-style URL → bytes.

use std::time::Duration;

use openclaw_dingtalk_emulator::{
    dingtalk::{ApiKind, EmulatorConfig, Fault, FaultResponse, MediaConfig},
    event::{Content, MessageSpec, Quoted, RichPart},
};
use serde_json::{json, Value};

use crate::common::{client, error_code, Dt};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n-not-really-a-png-";

async fn download_url(dt: &Dt, code: &str) -> String {
    let (status, body) = dt
        .post(
            "/v1.0/robot/messageFiles/download",
            json!({"downloadCode": code, "robotCode": dt.emu.config().robot_code}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["downloadUrl"]
        .as_str()
        .expect("downloadUrl")
        .to_string()
}

#[tokio::test]
async fn a_picture_downloads_through_a_temporary_url() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let code = dt.emu.add_file("cat.png", "image/png", PNG.to_vec());
    let msg = dt.emu.bot_message(MessageSpec {
        content: Content::PictureCode(code.clone()),
        ..MessageSpec::direct_text("")
    });
    assert_eq!(msg["msgtype"], "picture");
    assert_eq!(msg["content"]["downloadCode"], code.as_str());
    let url = download_url(&dt, &code).await;
    assert!(url.starts_with(&dt.emu.base_url()), "{url}");
    for param in ["Expires=", "OSSAccessKeyId=", "Signature="] {
        assert!(url.contains(param), "{url}");
    }
    // A plain GET, no token.
    let resp = client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PNG);
    let kinds: Vec<ApiKind> = dt.emu.calls().iter().map(|c| c.kind).collect();
    assert!(kinds.ends_with(&[ApiKind::MessageFileDownload, ApiKind::MessageFileGet]));
    assert_eq!(dt.emu.calls().last().unwrap().status, 200);
}

#[tokio::test]
async fn a_content_type_header_breaks_the_signature_as_at_oss() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let code = dt
        .emu
        .add_file("a.pdf", "application/pdf", b"%PDF-1.4".to_vec());
    let url = download_url(&dt, &code).await;
    let resp = client()
        .get(&url)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.headers()["content-type"], "application/xml");
    let xml = resp.text().await.unwrap();
    assert!(xml.contains("<Code>SignatureDoesNotMatch</Code>"), "{xml}");
    assert!(
        xml.contains("application/json"),
        "the string to sign shows it: {xml}"
    );
    let last = dt.emu.calls().last().cloned().unwrap();
    assert_eq!(
        (last.kind, last.status, last.error_code.as_deref()),
        (ApiKind::MessageFileGet, 403, Some("SignatureDoesNotMatch"))
    );
    // A tampered signature fails the same way; the right request still works.
    let tampered = url.replace("Signature=", "Signature=x");
    assert_eq!(client().get(&tampered).send().await.unwrap().status(), 403);
    assert_eq!(client().get(&url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn urls_expire() {
    let dt = Dt::start(EmulatorConfig {
        media: MediaConfig {
            download_url_ttl: Duration::from_secs(1),
            ..MediaConfig::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let code = dt.emu.add_file("a.txt", "text/plain", b"hello".to_vec());
    let url = download_url(&dt, &code).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let resp = client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let xml = resp.text().await.unwrap();
    assert!(xml.contains("<Code>AccessDenied</Code>"), "{xml}");
    assert!(xml.contains("Request has expired."), "{xml}");
    // A new URL for the same code works.
    let fresh = download_url(&dt, &code).await;
    assert_eq!(client().get(&fresh).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn unknown_codes_and_foreign_robots_are_refused() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    // The code of an unregistered picture names no file.
    let msg = dt.emu.bot_message(MessageSpec {
        content: Content::Picture,
        ..MessageSpec::direct_text("")
    });
    let invented = msg["content"]["downloadCode"].as_str().unwrap();
    let robot = dt.emu.config().robot_code.clone();
    let (status, body) = dt
        .post(
            "/v1.0/robot/messageFiles/download",
            json!({"downloadCode": invented, "robotCode": robot}),
        )
        .await;
    assert_eq!(
        error_code(status, &body, 400),
        "invalidParameter.downloadCode.invalid"
    );
    let code = dt.emu.add_file("a.txt", "text/plain", b"x".to_vec());
    for (body, expected) in [
        (
            json!({"downloadCode": code, "robotCode": "dingOtherRobot"}),
            "invalidParameter.robotCode.invalid",
        ),
        (
            json!({"downloadCode": code}),
            "invalidParameter.robotCode.empty",
        ),
        (
            json!({"downloadCode": "", "robotCode": robot}),
            "invalidParameter.downloadCode.empty",
        ),
    ] {
        let (status, answer) = dt.post("/v1.0/robot/messageFiles/download", body).await;
        assert_eq!(error_code(status, &answer, 400), expected);
    }
    // The token header is required, like on every v1.0 call.
    let (status, answer) = dt
        .send(
            reqwest::Method::POST,
            "/v1.0/robot/messageFiles/download",
            None,
            json!({"downloadCode": code, "robotCode": robot}),
        )
        .await;
    assert_eq!(
        error_code(status, &answer, 400),
        "Missingx-acs-dingtalk-access-token"
    );
    // Metered: the app's monthly count includes the calls with a valid token.
    assert_eq!(dt.emu.monthly_calls(), 4);
}

#[tokio::test]
async fn an_injected_latency_lets_a_client_time_out() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let code = dt.emu.add_file("a.txt", "text/plain", b"slow".to_vec());
    let url = download_url(&dt, &code).await;
    // A fault for any API does not touch the storage; one that names it does.
    dt.emu
        .inject(Fault::new(None, FaultResponse::ServerError, 1));
    assert_eq!(client().get(&url).send().await.unwrap().status(), 200);
    dt.emu.inject(Fault::new(
        Some(ApiKind::MessageFileGet),
        FaultResponse::Latency(Duration::from_millis(600)),
        1,
    ));
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let err = impatient.get(&url).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(
        dt.emu
            .wait_for(
                |calls| calls
                    .iter()
                    .any(|c| c.kind == ApiKind::MessageFileGet && c.took_ms >= 600),
                crate::common::WAIT
            )
            .await
    );
    dt.emu.inject(Fault::new(
        Some(ApiKind::MessageFileGet),
        FaultResponse::ServerError,
        1,
    ));
    let resp = client().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 500);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("<Code>InternalError</Code>"));
}

#[tokio::test]
async fn files_rich_text_and_quotes_carry_their_codes() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let pdf = dt
        .emu
        .add_file("报告.pdf", "application/pdf", b"%PDF".to_vec());
    let png = dt.emu.add_file("p.png", "image/png", PNG.to_vec());
    let spec = |content: Content| MessageSpec {
        content,
        ..MessageSpec::group_text("cidFiles==", "")
    };
    let file = dt.emu.bot_message(spec(Content::FileCode {
        name: "报告.pdf".into(),
        download_code: pdf.clone(),
    }));
    assert_eq!(file["msgtype"], "file");
    assert_eq!(file["content"]["downloadCode"], pdf.as_str());
    assert_eq!(file["content"]["fileName"], "报告.pdf");
    let rich = dt.emu.bot_message(spec(Content::RichText(vec![
        RichPart::Text("看".into()),
        RichPart::PictureCode(png.clone()),
    ])));
    assert_eq!(
        rich["content"]["richText"][1],
        json!({"type": "picture", "downloadCode": png})
    );
    let quote = |quoted: Quoted| {
        let m = dt.emu.bot_message(spec(Content::Reply {
            text: "这是什么".into(),
            quoted,
        }));
        assert_eq!(m["msgtype"], "text");
        assert_eq!(m["text"]["content"], " 这是什么");
        assert_eq!(m["text"]["isReplyMsg"], true);
        m
    };
    let m = quote(Quoted::Picture {
        download_code: Some(png.clone()),
    });
    let replied = &m["text"]["repliedMsg"];
    assert_eq!(replied["msgType"], "picture");
    assert_eq!(replied["content"]["downloadCode"], png.as_str());
    for key in ["msgId", "senderId", "createdAt"] {
        assert!(!replied[key].is_null(), "{key} in {replied}");
    }
    let m = quote(Quoted::File {
        name: "报告.pdf".into(),
        download_code: Some(pdf.clone()),
    });
    assert_eq!(m["text"]["repliedMsg"]["msgType"], "file");
    assert_eq!(m["text"]["repliedMsg"]["content"]["fileName"], "报告.pdf");
    assert_eq!(
        m["text"]["repliedMsg"]["content"]["downloadCode"],
        pdf.as_str()
    );
    let m = quote(Quoted::RichText(vec![
        RichPart::At {
            name: "小王".into(),
        },
        RichPart::PictureCode(png.clone()),
    ]));
    assert_eq!(
        m["text"]["repliedMsg"]["content"]["richText"],
        json!([{"msgType": "text", "content": "@小王"}, {"msgType": "picture", "downloadCode": png}])
    );
    let m = quote(Quoted::Unknown);
    assert_eq!(m["text"]["repliedMsg"]["msgType"], "unknownMsgType");
    assert!(m["text"]["repliedMsg"].get("content").is_none());
    assert_eq!(m["originalMsgId"], m["text"]["repliedMsg"]["msgId"]);
    // Every code registered above downloads.
    for code in [&pdf, &png] {
        let url = download_url(&dt, code).await;
        assert_eq!(client().get(&url).send().await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn the_control_api_registers_files() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let resp = client()
        .post(dt.url("/__emulator/files"))
        .json(&json!({"name": "a.png", "contentType": "image/png", "base64": "iVBORw0KGgo="}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let url = download_url(&dt, body["downloadCode"].as_str().unwrap()).await;
    let bytes = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), b"\x89PNG\r\n\x1a\n");
    // The spec's JSON form names the code too.
    let spec: MessageSpec = serde_json::from_value(json!({
        "chat": "Direct", "sender": {"staff_id": "u1", "nick": "n"},
        "content": {"PictureCode": "abc"}, "quoted_text": null, "msg_id": null
    }))
    .unwrap();
    assert_eq!(spec.content, Content::PictureCode("abc".into()));
}
