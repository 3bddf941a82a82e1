use openclaw_dingtalk_emulator::dingtalk::{ApiKind, CardState, EmulatorConfig, Template};
use serde_json::{json, Value};

use crate::common::{error_code, group_card, Dt};

fn config_with_unpublished() -> EmulatorConfig {
    let mut c = EmulatorConfig::default();
    c.templates.push(Template {
        published: false,
        ..Template::published("draft.schema", &["content"])
    });
    c
}

#[tokio::test]
async fn create_and_deliver_success() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let (status, body) = dt.create_card("card_ok").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["result"]["outTrackId"], "card_ok");
    let results = body["result"]["deliverResults"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["spaceType"], "IM_GROUP");
    assert_eq!(results[0]["spaceId"], "cidTestGroup==");
    assert_eq!(results[0]["success"], true);
    assert_eq!(results[0]["errorMsg"], "");
    assert!(results[0]["carrierId"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));

    let card = dt.emu.card("card_ok").unwrap();
    assert_eq!(card.state, CardState::Processing);
    assert!(card.delivered);
    assert_eq!(card.open_space_id, "dtv1.card//IM_GROUP.cidTestGroup==");
    assert_eq!(card.text("content"), "");
    let call = dt.emu.calls().pop().unwrap();
    assert_eq!(
        (call.kind, call.status, call.out_track_id.as_deref()),
        (ApiKind::CreateAndDeliver, 200, Some("card_ok"))
    );

    // A DM card, starting in the state its flowStatus names.
    let mut dm = group_card(&dt, "card_dm");
    dm["openSpaceId"] = json!("dtv1.card//IM_ROBOT.016650123456789");
    dm["cardData"]["cardParamMap"]["flowStatus"] = json!("2");
    dm.as_object_mut()
        .unwrap()
        .remove("imGroupOpenDeliverModel");
    dm["imRobotOpenDeliverModel"] =
        json!({"spaceType": "IM_ROBOT", "robotCode": "dingemulatorappkey"});
    let (status, body) = dt.post("/v1.0/card/instances/createAndDeliver", dm).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["deliverResults"][0]["spaceType"], "IM_ROBOT");
    assert_eq!(dt.emu.card("card_dm").unwrap().state, CardState::Inputting);
}

#[tokio::test]
async fn create_and_deliver_validation_errors() {
    let dt = Dt::start(config_with_unpublished()).await;
    assert_eq!(dt.create_card("taken").await.0, 200);
    let base = group_card(&dt, "new-card");
    let with = |path: &str, value: Value| {
        let mut b = base.clone();
        *b.pointer_mut(path).unwrap() = value;
        b
    };
    let cases = [
        (
            with("/cardTemplateId", json!("nope.schema")),
            "param.templateNotExist",
        ),
        (
            with("/cardTemplateId", json!("draft.schema")),
            "param.templateUnpublished",
        ),
        (
            with("/outTrackId", json!("taken")),
            "param.cardAlreadyExist",
        ),
        (with("/outTrackId", json!("")), "MissingoutTrackId"),
        (
            with("/openSpaceId", json!("IM_GROUP.cidTestGroup==")),
            "param.openSpaceIdInvalid",
        ),
        (
            with("/openSpaceId", json!("dtv1.card//IM_CHANNEL.x")),
            "param.openSpaceIdInvalid",
        ),
        (
            with("/cardData/cardParamMap/flowStatus", json!(1)),
            "param.cardParamMapInvalid",
        ),
        (
            with("/imGroupOpenDeliverModel", json!({"extension": {}})),
            "invalidParameter.robotCode.empty",
        ),
    ];
    for (body, expected) in cases {
        let (status, resp) = dt.post("/v1.0/card/instances/createAndDeliver", body).await;
        assert_eq!(error_code(status, &resp, 400), expected);
    }
    assert_eq!(dt.emu.cards().len(), 1, "failed calls create nothing");
    let mut no_template = base.clone();
    no_template
        .as_object_mut()
        .unwrap()
        .remove("cardTemplateId");
    let (status, resp) = dt
        .post("/v1.0/card/instances/createAndDeliver", no_template)
        .await;
    assert_eq!(error_code(status, &resp, 400), "MissingcardTemplateId");
    assert_eq!(
        resp["message"],
        "cardTemplateId is mandatory for this action."
    );
}

#[tokio::test]
async fn wrong_robot_code_fails_the_delivery_result() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let mut body = group_card(&dt, "c");
    body["imGroupOpenDeliverModel"]["robotCode"] = json!("someoneelse");
    let (status, resp) = dt.post("/v1.0/card/instances/createAndDeliver", body).await;
    assert_eq!(status, 200);
    assert_eq!(resp["result"]["deliverResults"][0]["success"], false);
    assert!(!dt.emu.card("c").unwrap().delivered);
}

#[tokio::test]
async fn missing_scopes_are_permission_denied() {
    let config = EmulatorConfig {
        granted_scopes: vec!["qyapi_robot_sendmsg".into()],
        ..EmulatorConfig::default()
    };
    let dt = Dt::start(config).await;
    let (status, body) = dt.create_card("c").await;
    assert_eq!(
        error_code(status, &body, 403),
        "Forbidden.AccessDenied.AccessTokenPermissionDenied"
    );
    assert_eq!(
        body["accessdenieddetail"],
        json!({"requiredScopes": ["Card.Instance.Write"]})
    );
    let (status, body) = dt.stream("c", "g1", "x", false).await;
    assert_eq!(
        error_code(status, &body, 403),
        "Forbidden.AccessDenied.AccessTokenPermissionDenied"
    );
    assert_eq!(
        body["accessdenieddetail"]["requiredScopes"],
        json!(["Card.Streaming.Write"])
    );
    assert!(dt.emu.cards().is_empty());
}

#[tokio::test]
async fn two_step_create_then_deliver() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let mut create = group_card(&dt, "two-step");
    create.as_object_mut().unwrap().remove("openSpaceId");
    let (status, body) = dt.post("/v1.0/card/instances", create).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"success": true, "result": "two-step"}));
    assert!(!dt.emu.card("two-step").unwrap().delivered);

    let deliver = json!({"outTrackId": "two-step", "userIdType": 1, "openSpaceId": "dtv1.card//IM_GROUP.cidG==",
                         "imGroupOpenDeliverModel": {"robotCode": "dingemulatorappkey"}});
    let (status, body) = dt
        .post("/v1.0/card/instances/deliver", deliver.clone())
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"][0]["spaceId"], "cidG==");
    let card = dt.emu.card("two-step").unwrap();
    assert!(card.delivered);
    assert_eq!(card.open_space_id, "dtv1.card//IM_GROUP.cidG==");

    let mut unknown = deliver;
    unknown["outTrackId"] = json!("nope");
    let (status, body) = dt.post("/v1.0/card/instances/deliver", unknown).await;
    assert_eq!(error_code(status, &body, 400), "param.cardNotExist");
    let kinds: Vec<ApiKind> = dt.emu.calls().iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds[1..],
        [
            ApiKind::CreateCard,
            ApiKind::DeliverCard,
            ApiKind::DeliverCard
        ]
    );
}

#[tokio::test]
async fn streaming_validation_rules() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    assert_eq!(dt.create_card("s").await.0, 200);
    let update = |patch: Value| {
        let mut b = json!({"outTrackId": "s", "guid": "g", "key": "content", "content": "hi",
                           "isFull": true, "isFinalize": false, "isError": false});
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let cases = [
        (
            json!({"outTrackId": "missing"}),
            "param.stream.outTrackId",
            "card is not exist",
        ),
        (
            json!({"guid": ""}),
            "param.stream.guidEmpty",
            "guid is empty",
        ),
        (json!({"key": ""}), "param.stream.keyEmpty", "key is empty"),
        (
            json!({"isFull": false}),
            "param.stream.isFull",
            "isFull must be true for a markdown variable",
        ),
        (
            json!({"content": "x".repeat(3001)}),
            "param.stream.content",
            "content is too large",
        ),
        (
            json!({"content": ""}),
            "param.stream.contentEmpty",
            "content is empty",
        ),
    ];
    for (patch, code, message) in cases {
        let (status, body) = dt.put("/v1.0/card/streaming", update(patch)).await;
        assert_eq!(error_code(status, &body, 400), code);
        assert_eq!(body["message"], message);
    }
    assert!(
        dt.emu.card("s").unwrap().updates.is_empty(),
        "nothing applied"
    );
    let (status, body) = dt
        .put(
            "/v1.0/card/streaming",
            update(json!({"content": "字".repeat(1000)})),
        )
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"success": true, "result": true})),
        "3000 bytes fit"
    );

    // A non-markdown variable may append.
    for (guid, piece) in [("a1", "ab"), ("a2", "cd")] {
        let body =
            update(json!({"key": "statusLine", "isFull": false, "guid": guid, "content": piece}));
        assert_eq!(dt.put("/v1.0/card/streaming", body).await.0, 200);
    }
    assert_eq!(dt.emu.card("s").unwrap().text("statusLine"), "abcd");
}

#[tokio::test]
async fn streaming_is_idempotent_per_guid_and_moves_the_state() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    assert_eq!(dt.create_card("s").await.0, 200);
    assert_eq!(dt.stream("s", "g1", "Hel", false).await.0, 200);
    assert_eq!(dt.emu.card("s").unwrap().state, CardState::Inputting);
    assert_eq!(
        dt.stream("s", "g1", "Hel", false).await,
        (200, json!({"success": true, "result": true}))
    );
    assert_eq!(dt.stream("s", "g2", "Hello", false).await.0, 200);
    assert_eq!(dt.stream("s", "g3", "Hello!", true).await.0, 200);
    let card = dt.emu.card("s").unwrap();
    assert_eq!(
        card.updates.len(),
        3,
        "the repeated guid was not applied twice"
    );
    assert_eq!(card.text("content"), "Hello!");
    assert_eq!(card.state, CardState::Finished);
    assert!(card.updates[2].finalize);
    assert_eq!(card.updates[0].via, ApiKind::StreamingUpdate);

    assert_eq!(dt.create_card("f").await.0, 200);
    let body = json!({"outTrackId": "f", "guid": "e", "key": "content", "content": "出错了", "isFull": true, "isError": true});
    assert_eq!(dt.put("/v1.0/card/streaming", body).await.0, 200);
    let card = dt.emu.card("f").unwrap();
    assert_eq!(card.state, CardState::Failed);
    assert!(card.updates[0].error);
}

#[tokio::test]
async fn instances_update_replaces_or_merges() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    assert_eq!(dt.create_card("i").await.0, 200);
    assert_eq!(dt.stream("i", "g1", "streamed", false).await.0, 200);
    let update = |map: Value, by_key: bool| {
        json!({"outTrackId": "i", "cardData": {"cardParamMap": map},
               "cardUpdateOptions": {"updateCardDataByKey": by_key, "updatePrivateDataByKey": false}, "userIdType": 1})
    };
    let (status, body) = dt
        .put("/v1.0/card/instances", update(json!({"b": "2"}), false))
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"success": true, "result": true}))
    );
    let card = dt.emu.card("i").unwrap();
    assert_eq!(card.param_map.len(), 1, "replaced: {:?}", card.param_map);
    assert_eq!(
        card.text("content"),
        "",
        "the streamed value is gone with the replaced data"
    );

    let full = json!({"flowStatus": "3", "content": "final answer"});
    assert_eq!(
        dt.put("/v1.0/card/instances", update(full, true)).await.0,
        200
    );
    let card = dt.emu.card("i").unwrap();
    assert_eq!(card.text("b"), "2", "merged");
    assert_eq!(card.text("content"), "final answer");
    assert_eq!(card.state, CardState::Finished);
    let last = card.updates.last().unwrap();
    assert_eq!(
        (last.via, last.finalize),
        (ApiKind::UpdateCardInstance, true)
    );

    assert_eq!(
        dt.put(
            "/v1.0/card/instances",
            update(json!({"flowStatus": "5"}), true)
        )
        .await
        .0,
        200
    );
    assert_eq!(dt.emu.card("i").unwrap().state, CardState::Failed);

    let (status, body) = dt
        .put("/v1.0/card/instances", update(json!({"n": 5}), true))
        .await;
    assert_eq!(error_code(status, &body, 400), "param.cardParamMapInvalid");
    let mut unknown = update(json!({}), true);
    unknown["outTrackId"] = json!("nope");
    let (status, body) = dt.put("/v1.0/card/instances", unknown).await;
    assert_eq!(error_code(status, &body, 400), "param.cardNotExist");
}

#[tokio::test]
async fn the_stop_button_shows_until_the_card_data_removes_it() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let order = json!([
        "msgTitle",
        "msgContent",
        "staticMsgContent",
        "msgTextList",
        "msgImages",
        "msgSlider",
        "msgButtons"
    ]);
    let live = json!({"order": order, "msgButtons": [{"text": "停止回答", "color": "gray", "id": "btn_stop", "request": true}]});
    let mut body = group_card(&dt, "b");
    body["cardData"]["cardParamMap"]["sys_full_json_obj"] = json!(live.to_string());
    let (status, answer) = dt.post("/v1.0/card/instances/createAndDeliver", body).await;
    assert_eq!(status, 200, "{answer}");
    let buttons = dt.emu.card("b").unwrap().buttons();
    assert_eq!(
        buttons
            .iter()
            .map(|b| (b.id.as_str(), b.text.as_str()))
            .collect::<Vec<_>>(),
        [("btn_stop", "停止回答")]
    );
    assert_eq!(dt.stream("b", "g1", "正在回答", false).await.0, 200);
    assert_eq!(
        dt.emu.card("b").unwrap().buttons().len(),
        1,
        "streaming keeps it"
    );

    // The reply ended: the same object without `msgButtons`, by key.
    let ended = json!({"order": order}).to_string();
    let update = json!({"outTrackId": "b", "cardData": {"cardParamMap": {"sys_full_json_obj": ended}},
                        "cardUpdateOptions": {"updateCardDataByKey": true}});
    assert_eq!(dt.put("/v1.0/card/instances", update).await.0, 200);
    let card = dt.emu.card("b").unwrap();
    assert!(card.buttons().is_empty(), "{:?}", card.param_map);
    assert_eq!(
        card.text("content"),
        "正在回答",
        "the rest of the data stays"
    );

    // The other style: `stop_action` "true" at creation, "false" at the end.
    let mut body = group_card(&dt, "s");
    body["cardData"]["cardParamMap"]["hasAction"] = json!("true");
    body["cardData"]["cardParamMap"]["stop_action"] = json!("true");
    assert_eq!(
        dt.post("/v1.0/card/instances/createAndDeliver", body)
            .await
            .0,
        200
    );
    assert_eq!(dt.emu.card("s").unwrap().buttons()[0].id, "btn_stop");
    let update = json!({"outTrackId": "s", "cardData": {"cardParamMap": {"stop_action": "false"}},
                        "cardUpdateOptions": {"updateCardDataByKey": true}});
    assert_eq!(dt.put("/v1.0/card/instances", update).await.0, 200);
    assert!(dt.emu.card("s").unwrap().buttons().is_empty());
}

#[tokio::test]
async fn a_group_the_robot_is_not_in_is_refused() {
    let dt = Dt::start(EmulatorConfig::default()).await;
    let mut card = group_card(&dt, "card_stranger");
    card["openSpaceId"] = json!("dtv1.card//IM_GROUP.cid陌生群==");
    let (status, body) = dt
        .post("/v1.0/card/instances/createAndDeliver", card.clone())
        .await;
    assert_eq!(status, 200, "{body}");
    let result = &body["result"]["deliverResults"][0];
    assert_eq!(result["success"], false);
    assert_eq!(result["errorMsg"], "robot is not in the group");
    assert!(!dt.emu.card("card_stranger").unwrap().delivered);
    let send = json!({"robotCode": dt.emu.config().robot_code, "openConversationId": "cid陌生群==",
        "msgKey": "sampleText", "msgParam": "{\"content\":\"你好\"}"});
    let (status, body) = dt
        .post("/v1.0/robot/groupMessages/send", send.clone())
        .await;
    assert_eq!(
        error_code(status, &body, 400),
        "invalidParameter.openConversationId.invalid"
    );

    // Once the robot is added (here: a message @-mentioning it there), the same calls go through.
    dt.emu
        .bot_message(openclaw_dingtalk_emulator::event::MessageSpec::group_text(
            "cid陌生群==",
            "你好",
        ));
    assert!(dt.emu.robot_groups().contains(&"cid陌生群==".to_string()));
    card["outTrackId"] = json!("card_member");
    let (_, body) = dt.post("/v1.0/card/instances/createAndDeliver", card).await;
    assert_eq!(
        body["result"]["deliverResults"][0]["success"], true,
        "{body}"
    );
    let (status, _) = dt.post("/v1.0/robot/groupMessages/send", send).await;
    assert_eq!(status, 200);
}
