//! Creating and delivering cards: `createAndDeliver`, and the two-step `instances` + `instances/deliver`
//! (docs/dingtalk.md, "AI Cards"; the two-step form in docs/dingtalk-events.md, "Card calls"). Both create
//! calls take `callbackType` / `callbackRouteKey` (see `card_callbacks`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{
    card_callbacks::parse_setting,
    params::{card_param_map, optional_object, optional_str, required_str},
    reply::ApiError,
    state::{Inner, Shared},
    Card, CardState,
};

/// Space types accepted in an `openSpaceId`.
const SPACE_TYPES: [&str; 4] = ["IM_GROUP", "IM_ROBOT", "IM_SINGLE", "ONE_BOX"];

/// `POST /v1.0/card/instances/createAndDeliver`.
pub(crate) fn create_and_deliver(
    shared: &Shared,
    inner: &mut Inner,
    at_ms: u64,
    body: &Value,
) -> Result<Value, ApiError> {
    let template_id = required_str(body, "cardTemplateId")?;
    let out_track_id = required_str(body, "outTrackId")?;
    let open_space_id = required_str(body, "openSpaceId")?;
    check_template(shared, template_id)?;
    let spaces = parse_open_space_id(open_space_id)?;
    let params = card_param_map(body, shared.config.max_card_value_bytes)?.unwrap_or_default();
    let callback = parse_setting(body)?;
    let results = deliver_results(shared, &inner.robot_groups, body, &spaces)?;
    if inner.cards.contains(out_track_id) {
        return Err(card_already_exists());
    }
    let mut card = new_card(out_track_id, template_id, params, at_ms);
    card.open_space_id = open_space_id.to_string();
    card.delivered = results.iter().any(|r| r["success"] == true);
    inner.cards.insert(card);
    if let Some(setting) = callback {
        inner.cards.set_callback(out_track_id, setting);
    }
    Ok(
        json!({ "success": true, "result": { "outTrackId": out_track_id, "deliverResults": results } }),
    )
}

/// `POST /v1.0/card/instances` (create without delivering) → `{"success":true,"result":"<outTrackId>"}`.
pub(crate) fn create(
    shared: &Shared,
    inner: &mut Inner,
    at_ms: u64,
    body: &Value,
) -> Result<Value, ApiError> {
    let template_id = required_str(body, "cardTemplateId")?;
    let out_track_id = required_str(body, "outTrackId")?;
    check_template(shared, template_id)?;
    if let Some(space) = optional_str(body, "openSpaceId")? {
        parse_open_space_id(space)?;
    }
    let params = card_param_map(body, shared.config.max_card_value_bytes)?.unwrap_or_default();
    let callback = parse_setting(body)?;
    if inner.cards.contains(out_track_id) {
        return Err(card_already_exists());
    }
    inner
        .cards
        .insert(new_card(out_track_id, template_id, params, at_ms));
    if let Some(setting) = callback {
        inner.cards.set_callback(out_track_id, setting);
    }
    Ok(json!({ "success": true, "result": out_track_id }))
}

/// `POST /v1.0/card/instances/deliver` → `{"success":true,"result":[<deliver result>…]}`.
pub(crate) fn deliver(shared: &Shared, inner: &mut Inner, body: &Value) -> Result<Value, ApiError> {
    let out_track_id = required_str(body, "outTrackId")?;
    let open_space_id = required_str(body, "openSpaceId")?;
    let spaces = parse_open_space_id(open_space_id)?;
    let results = deliver_results(shared, &inner.robot_groups, body, &spaces)?;
    let card = inner
        .cards
        .get_mut(out_track_id)
        .ok_or_else(card_not_found)?;
    card.open_space_id = open_space_id.to_string();
    card.delivered |= results.iter().any(|r| r["success"] == true);
    Ok(json!({ "success": true, "result": results }))
}

/// The error for an update/deliver of an unknown `outTrackId` (emulator choice of code; unpublished).
pub(crate) fn card_not_found() -> ApiError {
    ApiError::param("param.cardNotExist", "card is not exist")
}

fn card_already_exists() -> ApiError {
    ApiError::param("param.cardAlreadyExist", "card already exist")
}

fn check_template(shared: &Shared, template_id: &str) -> Result<(), ApiError> {
    match shared.config.templates.iter().find(|t| t.id == template_id) {
        None => Err(ApiError::param(
            "param.templateNotExist",
            "template is not exist",
        )),
        Some(t) if !t.published => Err(ApiError::param(
            "param.templateUnpublished",
            "template is unpublished",
        )),
        Some(_) => Ok(()),
    }
}

fn new_card(
    out_track_id: &str,
    template_id: &str,
    params: BTreeMap<String, String>,
    at_ms: u64,
) -> Card {
    let state = params
        .get("flowStatus")
        .and_then(|v| CardState::from_flow_status(v))
        .unwrap_or(CardState::Processing);
    Card {
        out_track_id: out_track_id.into(),
        template_id: template_id.into(),
        open_space_id: String::new(),
        created_at_ms: at_ms,
        param_map: params,
        state,
        updates: Vec::new(),
        delivered: false,
    }
}

/// Parses `dtv1.card//{SPACE_TYPE}.{spaceId}[;…]` into `(type, id)` pairs.
pub(crate) fn parse_open_space_id(value: &str) -> Result<Vec<(String, String)>, ApiError> {
    let invalid = || ApiError::param("param.openSpaceIdInvalid", "openSpaceId is invalid");
    let rest = value.strip_prefix("dtv1.card//").ok_or_else(invalid)?;
    rest.split(';')
        .map(|space| {
            let (kind, id) = space.split_once('.').ok_or_else(invalid)?;
            if !SPACE_TYPES.contains(&kind) || id.trim().is_empty() {
                return Err(invalid());
            }
            Ok((kind.to_string(), id.to_string()))
        })
        .collect()
}

/// One deliver result per space. A group space needs `imGroupOpenDeliverModel.robotCode`
/// (`invalidParameter.robotCode.empty` otherwise); a robot code other than the app's fails that space's
/// delivery (`success:false`), which clients must check (SOIMY throws on it).
/// One result per space. A group space needs the app's robot code and a group the robot is a
/// member of; otherwise its result is `success: false` with an `errorMsg` (the emulator's
/// words: DingTalk's are unpublished), and the card is not delivered there.
fn deliver_results(
    shared: &Shared,
    robot_groups: &std::collections::BTreeSet<String>,
    body: &Value,
    spaces: &[(String, String)],
) -> Result<Vec<Value>, ApiError> {
    spaces
        .iter()
        .map(|(kind, id)| {
            let robot_code = match kind.as_str() {
                "IM_GROUP" => {
                    let model = optional_object(body, "imGroupOpenDeliverModel")?;
                    let code = model.map(|m| optional_str(m, "robotCode")).transpose()?.flatten();
                    match code {
                        Some(c) if !c.is_empty() => Some(c),
                        _ => {
                            return Err(ApiError::param("invalidParameter.robotCode.empty", "robotCode is empty"))
                        }
                    }
                }
                "IM_ROBOT" => {
                    let model = optional_object(body, "imRobotOpenDeliverModel")?;
                    model.map(|m| optional_str(m, "robotCode")).transpose()?.flatten().filter(|c| !c.is_empty())
                }
                _ => None,
            };
            let error = if robot_code.is_some_and(|c| c != shared.config.robot_code) {
                "robot is not exist"
            } else if kind == "IM_GROUP" && !robot_groups.contains(id) {
                "robot is not in the group"
            } else {
                ""
            };
            let ok = error.is_empty();
            Ok(json!({
                "spaceType": kind,
                "spaceId": id,
                "success": ok,
                "carrierId": if ok { uuid::Uuid::new_v4().simple().to_string() } else { String::new() },
                "errorMsg": error,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_space_ids() {
        assert_eq!(
            parse_open_space_id("dtv1.card//IM_GROUP.cid1==").unwrap(),
            [("IM_GROUP".into(), "cid1==".into())]
        );
        assert_eq!(
            parse_open_space_id("dtv1.card//IM_ROBOT.u1;ONE_BOX.cid2")
                .unwrap()
                .len(),
            2
        );
        for bad in [
            "IM_GROUP.cid",
            "dtv1.card//IM_GROUP.",
            "dtv1.card//GROUP.x",
            "dtv1.card//",
            "dtv1.card//IM_ROBOT",
        ] {
            assert!(parse_open_space_id(bad).is_err(), "{bad}");
        }
    }
}
