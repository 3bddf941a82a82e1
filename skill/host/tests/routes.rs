//! Routes: `openclaw-skill run` with the real `.so` ↔ the DingTalk emulator (Stream mode) ↔ the
//! fake gateway. A leading keyword sends a message to its route's agent with the route's
//! preamble and without the keyword; other messages go to `gateway.model`; the reply's log line
//! names the route.

mod support;

use openclaw_dingtalk_emulator::event::MessageSpec;
use openclaw_dingtalk_emulator::gateway::FakeGatewayConfig;
use serde_json::json;
use support::{quiet_stream, Env};

#[test]
fn a_keyword_route_reaches_its_agent_and_the_reply_line_names_it() {
    let env = Env::start_with(
        "routes",
        quiet_stream(),
        FakeGatewayConfig {
            agents: vec!["main".into(), "hr".into(), "oncall".into()],
            ..FakeGatewayConfig::default()
        },
    );
    let manifest = env.write(env.manifest().stream_ingress().set(
        "routes",
        json!([
            {"name": "hr", "match": {"keyword": "/hr"}, "model": "openclaw/hr",
             "preamble": "你是公司的人事助手。"},
            {"name": "oncall", "match": {"conversations": ["cid值班群=="]}, "model": "agent:oncall"},
        ]),
    ));
    let mut host = env.host(&manifest, &[]);
    env.wait_connections(1);

    let hr = env
        .dt
        .push_bot_message(MessageSpec::group_text("cid人事==", "/hr 年假怎么算？"));
    env.wait_card_finished("cid人事==");
    let plain = env
        .dt
        .push_bot_message(MessageSpec::group_text("cid普通群==", "今天天气如何"));
    env.wait_card_finished("cid普通群==");
    let alert = env
        .dt
        .push_bot_message(MessageSpec::group_text("cid值班群==", "服务告警了"));
    let oncall = env
        .dt
        .push_bot_message(MessageSpec::group_text("cid值班群==", "/hr 这条归人事"));
    env.wait("two finished cards in the on-call group", |e| {
        e.cards()
            .iter()
            .filter(|c| {
                c.open_space_id.ends_with("cid值班群==")
                    && c.state == openclaw_dingtalk_emulator::dingtalk::CardState::Finished
            })
            .count()
            == 2
    });

    let requests = env.gw.requests();
    let by_text = |needle: &str| {
        requests
            .iter()
            .find(|r| {
                r.body["messages"]
                    .as_array()
                    .and_then(|m| m.last())
                    .and_then(|m| m["content"].as_str())
                    .is_some_and(|c| c.contains(needle))
            })
            .unwrap_or_else(|| panic!("no request with {needle:?}"))
    };
    let to_hr = by_text("年假怎么算");
    assert_eq!(to_hr.body["model"], "openclaw/hr");
    assert_eq!(
        to_hr.body["messages"][0],
        json!({"role": "system", "content": "你是公司的人事助手。"})
    );
    let text = to_hr.body["messages"][1]["content"].as_str().unwrap();
    assert!(
        text.ends_with("\n年假怎么算？"),
        "the keyword is stripped: {text:?}"
    );
    let to_default = by_text("今天天气如何");
    assert_eq!(to_default.body["model"], "openclaw/main");
    assert_eq!(
        to_default.body["messages"][0]["role"], "user",
        "no preamble"
    );
    assert_eq!(by_text("服务告警了").body["model"], "agent:oncall");
    // The first route that matches wins: `/hr` comes first, so the on-call group's `/hr`
    // message goes to HR.
    assert_eq!(by_text("这条归人事").body["model"], "openclaw/hr");

    for (msg, route) in [
        (&hr, "hr"),
        (&plain, "default"),
        (&alert, "oncall"),
        (&oncall, "hr"),
    ] {
        host.wait_log("the reply line", |m| {
            m.starts_with("reply msg=")
                && m.contains(msg.as_str())
                && m.contains(&format!(" route={route} "))
        });
    }
    host.sigterm();
    assert!(host.wait_exit().success());
}
