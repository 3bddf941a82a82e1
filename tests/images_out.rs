//! Images in answers, through the real `.so` against the DingTalk emulator (which serves
//! `media/upload` and records the uploads) and the fake gateway (whose `CHART` answer carries a
//! small PNG as a markdown `data:` image, twice, streamed in 4-character tokens).

mod common;

use common::{card_of, collect, plugin, Harness};
use openclaw_dingtalk_emulator::dingtalk::{
    ApiKind, CardState, EmulatorConfig, Fault, FaultResponse, MediaConfig,
};
use openclaw_dingtalk_emulator::gateway::{chart_png, FakeGatewayConfig};
use openclaw_skill_abi::Chunk;
use sha2::{Digest, Sha256};

/// No call the plugin made to DingTalk (card creation, every streaming update, the final
/// update) carried the image's base64.
fn assert_no_data_url_sent(h: &Harness) {
    for call in h.dingtalk.calls() {
        let body = call.request.to_string();
        assert!(
            !body.contains("data:image") && !body.contains("iVBORw0KGgo"),
            "{:?} {} carried the data URL: {body}",
            call.kind,
            call.path
        );
    }
}

/// Asks for the fake gateway's `CHART` answer in group `conversation`; checks the host's stream
/// ended `Finished` and returns the card once DingTalk holds its final state.
fn ask_for_chart(
    h: &Harness,
    skill: &openclaw_skill_abi::Skill,
    conversation: &str,
) -> openclaw_dingtalk_emulator::dingtalk::Card {
    let event = h.group_text(conversation, "画一张本季度销售图表 CHART");
    let chunks = collect(skill.handle_event(&event).unwrap());
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    h.wait_card_final(&card_of(&chunks))
}

/// The card text when neither copy of the chart could be uploaded.
const NOT_UPLOADED: &str = "这是本季度的销售图表：\n\n[图片未能上传 (image could not be uploaded): 上传失败]\n\n第四季度增长最快，其次是第二季度。\n\n再看一次同一张图：[图片未能上传 (image could not be uploaded): 上传失败]";

fn uploads(h: &Harness) -> Vec<u16> {
    h.dingtalk
        .calls()
        .iter()
        .filter(|c| c.kind == ApiKind::MediaUpload)
        .map(|c| c.status)
        .collect()
}

#[test]
fn a_chart_is_uploaded_once_and_the_card_shows_it_by_media_id() {
    let h = Harness::start("images-chart");
    let skill = h.skill(&plugin());
    let card = ask_for_chart(&h, &skill, "cidChart");
    assert_eq!(card.state, CardState::Finished);

    // The answer shows the same chart twice: one upload.
    let media = h.dingtalk.media();
    assert_eq!(media.len(), 1, "{media:?}");
    assert_eq!(uploads(&h), [200]);
    let uploaded = &media[0];
    assert_eq!(uploaded.media_type, "image");
    assert!(uploaded.media_id.starts_with("@lADP"), "{uploaded:?}");
    let bytes = h.dingtalk.media_bytes(&uploaded.media_id).unwrap();
    let png = chart_png();
    assert_eq!(bytes.len(), png.len());
    assert_eq!(Sha256::digest(&bytes), Sha256::digest(&png));

    assert_eq!(
        card.text("content"),
        format!(
            "这是本季度的销售图表：\n\n![销售图表]({0})\n\n第四季度增长最快，其次是第二季度。\n\n再看一次同一张图：![销售图表]({0})",
            uploaded.media_id
        )
    );
    assert_no_data_url_sent(&h);
}

#[test]
fn a_failed_upload_leaves_a_note_and_the_card_still_finishes() {
    let h = Harness::start("images-upload-fails");
    let skill = h.skill(&plugin());
    // Every attempt fails (the plugin tries 3 times).
    h.dingtalk.inject(Fault::new(
        Some(ApiKind::MediaUpload),
        FaultResponse::ServerError,
        10,
    ));
    let card = ask_for_chart(&h, &skill, "cidChartFails");
    assert_eq!(card.state, CardState::Finished);
    assert_eq!(card.text("content"), NOT_UPLOADED);
    assert_eq!(uploads(&h), [500, 500, 500]);
    assert!(h.dingtalk.media().is_empty());
    assert_no_data_url_sent(&h);
}

#[test]
fn an_image_dingtalk_refuses_is_not_retried_and_leaves_the_note() {
    // This DingTalk takes images of at most 64 bytes: the 104-byte chart is refused (errcode 40006).
    let dt = EmulatorConfig {
        media: MediaConfig {
            max_image_bytes: 64,
            ..MediaConfig::default()
        },
        ..EmulatorConfig::default()
    };
    let h = Harness::start_with("images-refused", dt, FakeGatewayConfig::default());
    let skill = h.skill(&plugin());
    let card = ask_for_chart(&h, &skill, "cidChartRefused");
    assert_eq!(card.state, CardState::Finished);
    assert_eq!(card.text("content"), NOT_UPLOADED);
    // One attempt for both copies: a refusal is not retried, nor tried again for the same image.
    let refused: Vec<_> = h
        .dingtalk
        .calls()
        .into_iter()
        .filter(|c| c.kind == ApiKind::MediaUpload)
        .map(|c| c.error_code)
        .collect();
    assert_eq!(refused, [Some("40006".to_owned())]);
    assert!(h.dingtalk.media().is_empty());
    assert_no_data_url_sent(&h);
}

#[test]
fn with_upload_images_off_the_card_names_the_image_without_uploading_it() {
    let h = Harness::start("images-off");
    let manifest = h.manifest().set("streaming.upload_images", false).to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let card = ask_for_chart(&h, &skill, "cidChartOff");
    assert_eq!(
        card.text("content"),
        "这是本季度的销售图表：\n\n[图片 (image) not shown]\n\n第四季度增长最快，其次是第二季度。\n\n再看一次同一张图：[图片 (image) not shown]"
    );
    assert!(uploads(&h).is_empty());
    assert_no_data_url_sent(&h);
}
