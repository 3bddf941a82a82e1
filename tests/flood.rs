//! Flood control through the real `.so`: one noisy sender or conversation gets a single
//! busy notice and no cards, while everybody else is answered as usual.

mod common;

use common::{collect, plugin, Harness};
use openclaw_dingtalk_emulator::event::{MessageSpec, Sender};
use openclaw_skill_abi::Chunk;

fn from(sender: &str, conversation: &str, text: &str) -> MessageSpec {
    MessageSpec {
        sender: Sender {
            staff_id: sender.into(),
            nick: format!("用户{sender}"),
        },
        ..MessageSpec::group_text(conversation, text)
    }
}

fn terminal_kinds(
    chunks: &[Vec<Result<Chunk, openclaw_skill_abi::PluginError>>],
) -> (usize, usize, usize) {
    let mut finished = 0;
    let mut replied = 0;
    let mut skipped = 0;
    for c in chunks {
        match c.last() {
            Some(Ok(Chunk::Finished { .. })) => finished += 1,
            Some(Ok(Chunk::Replied(_))) => replied += 1,
            Some(Ok(Chunk::Skipped(_))) => skipped += 1,
            other => panic!("unexpected end {other:?}"),
        }
    }
    (finished, replied, skipped)
}

#[test]
fn a_full_conversation_queue_gets_one_busy_notice_and_no_cards_while_others_are_answered() {
    let h = Harness::start("flood-queue");
    let manifest = h
        .manifest()
        .with(|m| {
            m.conversation.max_queued = Some(2);
            m.conversation.sender_messages_per_minute = Some(1000);
        })
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let noisy: Vec<_> = (0..10)
        .map(|i| {
            let event = h.dingtalk.bot_message(from(
                "noisy",
                "cidNoisy",
                &format!("第{i}个问题 TOKENS:5 PACE:100"),
            ));
            skill.handle_event(&event.to_string()).unwrap()
        })
        .collect();
    let calm = skill
        .handle_event(
            &h.dingtalk
                .bot_message(from("calm", "cidCalm", "你好 TOKENS:3"))
                .to_string(),
        )
        .unwrap();
    let calm = collect(calm);
    assert!(
        matches!(calm.first(), Some(Ok(Chunk::Started { .. }))),
        "{calm:?}"
    );
    assert!(
        matches!(calm.last(), Some(Ok(Chunk::Finished { .. }))),
        "{calm:?}"
    );
    let noisy: Vec<_> = noisy.into_iter().map(collect).collect();
    let (finished, replied, skipped) = terminal_kinds(&noisy);
    assert_eq!(finished, 3, "the running reply and two queued ones");
    assert_eq!(replied, 1, "one busy notice");
    assert_eq!(
        skipped, 6,
        "the other busy messages are not answered at all"
    );
    let noisy_cards = h
        .dingtalk
        .cards()
        .iter()
        .filter(|c| c.open_space_id.ends_with("cidNoisy"))
        .count();
    assert_eq!(noisy_cards, 3, "no card for a message over the queue limit");
    let notices: Vec<_> = h
        .dingtalk
        .sent_messages()
        .into_iter()
        .filter(|m| m.text.contains("请稍后再发"))
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let info: serde_json::Value = serde_json::from_str(&skill.info().unwrap()).unwrap();
    assert_eq!(info["replies"]["busy"], 7, "{info}");
}

#[test]
fn a_sender_over_its_rate_is_held_back_alone_and_stop_still_works() {
    let h = Harness::start("flood-sender");
    let manifest = h
        .manifest()
        .with(|m| m.conversation.sender_messages_per_minute = Some(3))
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let noisy: Vec<_> = (0..5)
        .map(|i| {
            let event =
                h.dingtalk
                    .bot_message(from("noisy", &format!("cidRate{i}"), "问 TOKENS:2"));
            collect(skill.handle_event(&event.to_string()).unwrap())
        })
        .collect();
    let (finished, replied, skipped) = terminal_kinds(&noisy);
    assert_eq!(
        (finished, replied + skipped),
        (3, 2),
        "three answered, two held back"
    );
    assert_eq!(replied, 2, "one notice in each of the two conversations");
    // Another sender is not affected, and `/stop` is never held back.
    let other = collect(
        skill
            .handle_event(
                &h.dingtalk
                    .bot_message(from("other", "cidRate0", "你好 TOKENS:2"))
                    .to_string(),
            )
            .unwrap(),
    );
    assert!(
        matches!(other.last(), Some(Ok(Chunk::Finished { .. }))),
        "{other:?}"
    );
    let stop = collect(
        skill
            .handle_event(
                &h.dingtalk
                    .bot_message(from("noisy", "cidRate0", "/stop"))
                    .to_string(),
            )
            .unwrap(),
    );
    assert!(
        matches!(stop.last(), Some(Ok(Chunk::Replied(t))) if t.contains("没有")),
        "{stop:?}"
    );
}

#[test]
fn refusals_are_rate_limited_per_conversation() {
    let h = Harness::start("flood-refused");
    let manifest = h
        .manifest()
        .with(|m| {
            m.conversation.access.policy = Some("allowlist".into());
            m.conversation.access.allowed_groups = Some(vec!["cidSomewhereElse".into()]);
        })
        .to_yaml();
    let skill = h.skill_with(&plugin(), &manifest);
    let refused: Vec<_> = (0..4)
        .map(|i| {
            let event = h
                .dingtalk
                .bot_message(from(&format!("u{i}"), "cidClosed", "hello"));
            collect(skill.handle_event(&event.to_string()).unwrap())
        })
        .collect();
    let (_, replied, skipped) = terminal_kinds(&refused);
    assert_eq!((replied, skipped), (1, 3));
    assert_eq!(h.dingtalk.sent_messages().len(), 1);
    assert!(h.dingtalk.cards().is_empty());
}
