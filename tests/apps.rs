//! Several DingTalk apps in one skill, through the real `.so`: each app is its own tenant of
//! DingTalk's limits (an emulator each, with its own credentials and robot). An event goes to
//! the app whose robot it names; one app's 403 storm leaves the other's budget, cards and
//! replies alone; the same group with both robots is two conversations; a post names its app.

mod common;

use std::time::Duration;

use common::{card_of, collect, plugin, wait_info, Harness};
use openclaw_dingtalk_emulator::dingtalk::{
    CardState, DingTalkEmulator, EmulatorConfig, Fault, FaultResponse,
};
use openclaw_dingtalk_emulator::event::{callback_headers, MessageSpec};
use openclaw_skill_abi::{Chunk, OcStatus, Plugin, Skill};

/// A second DingTalk app (the IT help-desk robot): its own key, secret and robot code.
fn it_app(h: &Harness) -> DingTalkEmulator {
    h.rt.block_on(DingTalkEmulator::start(EmulatorConfig {
        app_key: "ding-it-helpdesk".into(),
        app_secret: "运维-app-secret".into(),
        robot_code: "ding-it-robot".into(),
        ..EmulatorConfig::default()
    }))
    .expect("second emulator")
}

/// The two-robot set-up of a test: the HR app on the harness's emulator, the IT app on its
/// own, and a skill serving both (`name` names the scratch directory).
fn two_apps(name: &str) -> (Harness, DingTalkEmulator, Plugin, Skill) {
    let h = Harness::start(name);
    let it = it_app(&h);
    let manifest = h
        .manifest()
        .apps(&[("hr", &h.dingtalk), ("it", &it)])
        .to_yaml();
    let plugin = plugin();
    let skill = h.skill_with(&plugin, &manifest);
    (h, it, plugin, skill)
}

/// A group text event of `emulator`'s robot.
fn group_text(emulator: &DingTalkEmulator, conversation: &str, text: &str) -> String {
    emulator
        .bot_message(MessageSpec::group_text(conversation, text))
        .to_string()
}

/// Every API's `qps_limited` count in an app's `info.apps[i].dingtalk_budget`.
fn refused_403(budget: &serde_json::Value) -> u64 {
    budget["apis"]
        .as_object()
        .map(|apis| {
            apis.values()
                .filter_map(|a| a["qps_limited"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn one_apps_403_storm_leaves_the_other_apps_budget_and_replies_alone() {
    let (h, it, _plugin, skill) = two_apps("apps-storm");

    // The HR app's DingTalk refuses every card call with 403 QpsLimit, without end.
    h.dingtalk
        .inject(Fault::new(None, FaultResponse::QpsLimit, u32::MAX));
    let hr_reply = skill
        .handle_event(&group_text(&h.dingtalk, "cid人事群==", "年假怎么算？"))
        .unwrap();
    assert!(
        wait_info(&skill, |i| refused_403(&i["apps"][0]["dingtalk_budget"])
            >= 3),
        "the HR app learns from its 403s"
    );

    // Meanwhile the IT robot answers in full.
    let chunks = collect(
        skill
            .handle_event(&group_text(&it, "cid研发群==", "服务器怎么重启？"))
            .unwrap(),
    );
    let card = card_of(&chunks);
    assert!(
        matches!(chunks.last(), Some(Ok(Chunk::Finished { .. }))),
        "{chunks:?}"
    );
    let it_card = it
        .card(&card)
        .expect("the IT card is in the IT app's DingTalk");
    assert_eq!(it_card.state, CardState::Finished);
    assert!(
        it.calls().iter().all(|c| c.status == 200),
        "{:?}",
        it.calls()
    );
    assert!(
        h.dingtalk.cards().is_empty(),
        "the storm let no HR card through"
    );

    let info: serde_json::Value = serde_json::from_str(&skill.info().unwrap()).unwrap();
    let apps = info["apps"].as_array().expect("info.apps");
    assert_eq!(apps.len(), 2);
    assert_eq!(
        (apps[0]["name"].as_str(), apps[1]["name"].as_str()),
        (Some("hr"), Some("it"))
    );
    assert!(refused_403(&apps[0]["dingtalk_budget"]) >= 3, "{info}");
    assert_eq!(refused_403(&apps[1]["dingtalk_budget"]), 0, "{info}");
    assert_eq!(
        apps[1]["dingtalk_calls"]["qps_limited"], 0,
        "no IT call was refused: {info}"
    );

    // The HR reply is still waiting for its app's DingTalk to take a card.
    drop(hr_reply);
    skill.shutdown(Duration::from_secs(2)).unwrap();
}

#[test]
fn two_robots_in_one_group_are_two_conversations_and_an_unknown_robot_is_refused() {
    let (h, it, _plugin, skill) = two_apps("apps-sessions");

    for (emulator, text) in [
        (&h.dingtalk, "请假流程是什么？"),
        (&it, "VPN 连不上怎么办？"),
    ] {
        let chunks = collect(
            skill
                .handle_event(&group_text(emulator, "cid全员群==", text))
                .unwrap(),
        );
        let card = card_of(&chunks);
        assert_eq!(emulator.card(&card).unwrap().state, CardState::Finished);
    }
    let keys: Vec<Option<String>> = h
        .gateway
        .requests()
        .iter()
        .map(|r| r.headers.get("x-openclaw-session-key").cloned())
        .collect();
    assert_eq!(
        keys,
        [
            Some("dingtalk:hr:group:cid全员群==".to_owned()),
            Some("dingtalk:it:group:cid全员群==".to_owned()),
        ]
    );

    let stranger = serde_json::json!({
        "msgId": "m-陌生", "conversationId": "cid全员群==", "conversationType": "2",
        "senderId": "u1", "senderStaffId": "员工1", "senderNick": "张三", "isInAtList": true,
        "msgtype": "text", "text": {"content": "你好"}, "robotCode": "ding-unknown-robot",
    });
    let Err(err) = skill.handle_event(&stranger.to_string()) else {
        panic!("an event of an unknown robot was taken");
    };
    assert_eq!(err.status, OcStatus::INVALID_ARGUMENT);
    assert!(
        err.message.contains("`ding-unknown-robot`") && err.message.contains("hr, it"),
        "{}",
        err.message
    );
    skill.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn a_post_goes_out_through_the_app_it_names_and_must_name_one() {
    let (h, it, _plugin, skill) = two_apps("apps-post");
    it.add_robot_to_group("cid运维值班==");

    let chunks = collect(
        skill
            .post_prompt(r#"{"group":"cid运维值班==","prompt":"总结今天的告警","app":"it"}"#)
            .unwrap(),
    );
    let card = card_of(&chunks);
    assert_eq!(it.card(&card).unwrap().state, CardState::Finished);
    assert!(h.dingtalk.cards().is_empty());

    for (request, expected) in [
        (
            r#"{"group":"cid运维值班==","prompt":"总结"}"#,
            "`app` is required: this skill serves several apps (hr, it)",
        ),
        (
            r#"{"group":"cid运维值班==","prompt":"总结","app":"财务"}"#,
            "no app named `财务` (apps: hr, it)",
        ),
    ] {
        let Err(err) = skill.post_prompt(request) else {
            panic!("{request} was taken");
        };
        assert_eq!(err.status, OcStatus::INVALID_ARGUMENT);
        assert!(err.message.contains(expected), "{}", err.message);
    }
    skill.shutdown(Duration::from_secs(5)).unwrap();
}

#[test]
fn each_app_has_its_own_stream_open_body_and_signs_its_own_callbacks() {
    let (h, it, _plugin, skill) = two_apps("apps-ingress");

    let body: serde_json::Value =
        serde_json::from_str(skill.stream_open_request_app("it").unwrap().expose()).unwrap();
    assert_eq!(body["clientId"], "ding-it-helpdesk");
    assert_eq!(body["clientSecret"], "运维-app-secret");
    let first: serde_json::Value =
        serde_json::from_str(skill.stream_open_request().unwrap().expose()).unwrap();
    assert_eq!(first["clientId"], h.dingtalk.config().app_key.as_str());
    let err = skill.stream_open_request_app("财务").unwrap_err();
    assert!(
        err.message
            .contains("no app is named `财务` (apps: hr, it)"),
        "{}",
        err.message
    );

    // An HTTP callback signed with the IT app's secret, its event without a robotCode: the
    // secret that signed it says whose robot it is.
    let mut event: serde_json::Value =
        serde_json::from_str(&group_text(&it, "cid回调群==", "打印机坏了")).unwrap();
    event.as_object_mut().unwrap().remove("robotCode");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let signed = callback_headers("运维-app-secret", now);
    let pairs: Vec<(&str, &str)> = signed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let chunks = collect(skill.handle_callback(pairs, &event.to_string()).unwrap());
    let card = card_of(&chunks);
    assert_eq!(it.card(&card).unwrap().state, CardState::Finished);
    assert!(h.dingtalk.cards().is_empty());
    skill.shutdown(Duration::from_secs(5)).unwrap();
}
