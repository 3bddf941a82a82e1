//! Pictures and files users send, through the real `.so` against the DingTalk emulator (which
//! serves the files behind `messageFiles/download` and a signed storage URL) and the fake
//! gateway (which reads image parts as the real gateway does and describes them in its answer).

mod common;

use std::time::{Duration, Instant};

use common::{answer_of, card_of, collect, plugin, Harness};
use openclaw_dingtalk_emulator::dingtalk::{ApiKind, CardState, Fault, FaultResponse};
use openclaw_dingtalk_emulator::event::{Content, MessageSpec, Quoted, RichPart};
use openclaw_dingtalk_emulator::gateway::{GatewayRequest, ImageUrlKind};
use openclaw_skill_abi::Chunk;
use sha2::{Digest, Sha256};

/// A PNG header and 300 000 more bytes (the fake gateway checks the type, not the pixels).
fn screenshot() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend((0..300_000u32).map(|i| (i * 7 % 251) as u8));
    png
}

/// The text of the user message the gateway received.
fn user_text(request: &GatewayRequest) -> String {
    let content = &request.body["messages"].as_array().unwrap().last().unwrap()["content"];
    match content.as_str() {
        Some(text) => text.to_owned(),
        None => content[0]["text"].as_str().unwrap().to_owned(),
    }
}

fn calls_of(h: &Harness, kind: ApiKind) -> Vec<u16> {
    h.dingtalk
        .calls()
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.status)
        .collect()
}

#[test]
fn a_picture_reaches_the_model_as_an_image_part_and_the_card_shows_its_answer() {
    let h = Harness::start("attach-picture");
    let skill = h.skill(&plugin());
    let png = screenshot();
    let code = h
        .dingtalk
        .add_file("报错截图.png", "image/png", png.clone());
    let event = h.dingtalk.bot_message(MessageSpec {
        content: Content::RichText(vec![
            RichPart::Text("这张截图里的报错是什么意思？ TOKENS:3".into()),
            RichPart::PictureCode(code),
        ]),
        ..MessageSpec::group_text("cidPicture", "")
    });
    let chunks = collect(skill.handle_event(&event.to_string()).unwrap());
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    let card = h.wait_card_final(&card_of(&chunks));
    assert_eq!(card.state, CardState::Finished);
    assert!(
        card.text("content")
            .starts_with("I received 1 image: image/png, 300 016 bytes."),
        "{}",
        card.text("content")
    );
    assert!(!answer_of(&chunks).contains("未完整读取"));

    let request = &h.gateway.requests()[0];
    assert!(
        user_text(request).ends_with("这张截图里的报错是什么意思？ TOKENS:3[图片]"),
        "{}",
        user_text(request)
    );
    assert_eq!(request.images.len(), 1);
    let image = &request.images[0];
    assert_eq!(
        (image.media_type.as_str(), image.size, image.url_kind),
        ("image/png", png.len(), ImageUrlKind::DataUrl)
    );
    let sent: String = Sha256::digest(&png)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(image.sha256, sent, "the picture arrived intact");
    // One download link, one plain GET (an added Content-Type would have been refused).
    assert_eq!(calls_of(&h, ApiKind::MessageFileDownload), [200]);
    assert_eq!(calls_of(&h, ApiKind::MessageFileGet), [200]);
}

/// A Chinese service log of about 5 MB.
fn chinese_log() -> String {
    let mut log = String::new();
    let mut n = 0;
    while log.len() < 5 * 1024 * 1024 {
        n += 1;
        log.push_str(&format!(
            "2026-11-30 08:{:02}:{:02} 错误 订单服务连接数据库超时，第{n}次重试\n",
            n / 60 % 60,
            n % 60
        ));
    }
    log
}

#[test]
fn a_quoted_5_mb_chinese_log_is_cut_as_documented_and_the_card_says_so() {
    let h = Harness::start("attach-log");
    let skill = h.skill(&plugin());
    let log = chinese_log();
    let code = h
        .dingtalk
        .add_file("订单服务.log", "text/plain", log.clone().into_bytes());
    let event = h.dingtalk.bot_message(MessageSpec {
        content: Content::Reply {
            text: "帮我找出超时的原因 TOKENS:3".into(),
            quoted: Quoted::File {
                name: "订单服务.log".into(),
                download_code: Some(code),
            },
        },
        ..MessageSpec::group_text("cidLog", "")
    });
    let chunks = collect(skill.handle_event(&event.to_string()).unwrap());
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );

    // docs/manifest.md, "Pictures and files": cut at the last character boundary within
    // max_file_text_bytes (64 KiB), with a note of what was left out.
    let mut shown = 64 * 1024;
    while !log.is_char_boundary(shown) {
        shown -= 1;
    }
    assert!(shown < 64 * 1024, "the limit falls inside a character");
    let text = user_text(&h.gateway.requests()[0]);
    let block = format!(
        "[引用的文件 订单服务.log, 5.0 MB]\n```log\n{}\n```\n[引用的文件 订单服务.log 已截断 (cut): only the first {shown} of its {} bytes of text are shown; the remaining {} bytes (4.9 MB) are left out]",
        &log[..shown],
        log.len(),
        log.len() - shown
    );
    assert!(
        text.starts_with("[DingTalk group \"测试群\" | ")
            && text.contains("> [引用的文件 订单服务.log]\n\n帮我找出超时的原因 TOKENS:3\n\n")
            && text.ends_with(&block),
        "{}…{}",
        &text[..300],
        &text[text.len() - 300..]
    );

    let card = h.wait_card_final(&card_of(&chunks));
    assert_eq!(card.state, CardState::Finished);
    assert!(
        card.text("content").ends_with(
            "📎 未完整读取 (not fully read): 引用的文件 订单服务.log — 只读了前 64.0 KB (only the first 64.0 KB was read)"
        ),
        "{}",
        card.text("content")
    );
}

#[test]
fn a_download_that_times_out_does_not_hold_the_reply_and_the_card_says_what_was_not_read() {
    let h = Harness::start("attach-timeout");
    let manifest = h
        .manifest()
        .set("attachments.download_timeout_ms", 1000)
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let code = h.dingtalk.add_file(
        "白板.jpg",
        "image/jpeg",
        b"\xff\xd8\xff\xe0\0\x10JFIF".to_vec(),
    );
    // The storage answers only after 30 s.
    h.dingtalk.inject(Fault::new(
        Some(ApiKind::MessageFileGet),
        FaultResponse::Latency(Duration::from_secs(30)),
        1,
    ));
    let event = h.dingtalk.bot_message(MessageSpec {
        content: Content::PictureCode(code),
        ..MessageSpec::group_text("cidSlow", "")
    });
    let started = Instant::now();
    let chunks = collect(skill.handle_event(&event.to_string()).unwrap());
    let took = started.elapsed();
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    assert!(
        took < Duration::from_secs(15),
        "the reply waited {took:?} for a download with a 1 s deadline"
    );

    let request = &h.gateway.requests()[0];
    assert!(request.images.is_empty());
    assert!(
        user_text(request)
            .ends_with("[图片]\n\n[图片: could not be fetched: the download took longer than 1 s]"),
        "{}",
        user_text(request)
    );
    let card = h.wait_card_final(&card_of(&chunks));
    assert_eq!(card.state, CardState::Finished);
    assert!(
        card.text("content")
            .ends_with("📎 未完整读取 (not fully read): 图片 — 下载超时 (download timed out)"),
        "{}",
        card.text("content")
    );
}

#[test]
fn a_file_that_is_not_text_is_named_to_the_model_and_to_the_user() {
    let h = Harness::start("attach-pdf");
    let skill = h.skill(&plugin());
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(1_258_291, 0x20);
    let code = h.dingtalk.add_file("季度报告.pdf", "application/pdf", pdf);
    let event = h.dingtalk.bot_message(MessageSpec {
        content: Content::FileCode {
            name: "季度报告.pdf".into(),
            download_code: code,
        },
        ..MessageSpec::group_text("cidPdf", "")
    });
    let chunks = collect(skill.handle_event(&event.to_string()).unwrap());
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    assert!(
        user_text(&h.gateway.requests()[0]).ends_with(
            "[文件 季度报告.pdf]\n\n[文件 季度报告.pdf, 1.2 MB: not read: only text files are read]"
        ),
        "{}",
        user_text(&h.gateway.requests()[0])
    );
    let card = h.wait_card_final(&card_of(&chunks));
    assert!(
        card.text("content").ends_with(
            "📎 未完整读取 (not fully read): 文件 季度报告.pdf — 只读取文本文件 (only text files are read)"
        ),
        "{}",
        card.text("content")
    );
}

#[test]
fn a_picture_for_a_text_only_model_gets_the_polite_reply_and_is_never_downloaded() {
    let h = Harness::start("attach-images-off");
    let manifest = h.manifest().set("attachments.images", false).to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let code = h.dingtalk.add_file("照片.png", "image/png", screenshot());
    let event = h.dingtalk.bot_message(MessageSpec {
        content: Content::PictureCode(code),
        ..MessageSpec::group_text("cidTextOnly", "")
    });
    let chunks = collect(skill.handle_event(&event.to_string()).unwrap());
    assert!(
        matches!(chunks.as_slice(), [Ok(Chunk::Replied(t))] if t.starts_with("暂时只能处理文字、语音和文件消息")),
        "{chunks:?}"
    );
    let sent = h.dingtalk.sent_messages();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0].text.contains("请用文字描述你的问题"),
        "{:?}",
        sent[0]
    );
    assert!(calls_of(&h, ApiKind::MessageFileDownload).is_empty());
    assert!(h.gateway.requests().is_empty() && h.dingtalk.cards().is_empty());
}

#[test]
fn a_quote_dingtalk_sent_without_content_is_answered_and_named_to_the_model() {
    let h = Harness::start("attach-quote-unknown");
    let skill = h.skill(&plugin());
    let event = h.dingtalk.bot_message(MessageSpec {
        content: Content::Reply {
            text: "这个文件里说了什么？ TOKENS:2".into(),
            quoted: Quoted::Unknown,
        },
        ..MessageSpec::group_text("cidQuote", "")
    });
    let chunks = collect(skill.handle_event(&event.to_string()).unwrap());
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    assert!(
        user_text(&h.gateway.requests()[0]).ends_with(
            "> [引用的消息：钉钉未提供其内容 (DingTalk did not include the quoted message)]\n\n这个文件里说了什么？ TOKENS:2"
        ),
        "{}",
        user_text(&h.gateway.requests()[0])
    );
    assert!(calls_of(&h, ApiKind::MessageFileDownload).is_empty());
}
