//! AI Card calls: `createAndDeliver`, `PUT /v1.0/card/streaming`, `PUT /v1.0/card/instances`,
//! and the registration of the card-callback route (`docs/dingtalk.md`, "AI Cards").

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::caller::Caller;
use super::client::DingTalkClient;
use super::error::DingTalkError;
use super::stats::CallKind;
use super::streaming::{streaming_body, StreamEnd};
use super::targets::CardSpace;
use crate::card::CardCallbacks;
use crate::secret::Secret;

impl DingTalkClient {
    /// Creates an AI Card and delivers it to `space` in one call, its button presses
    /// reported as `callbacks` says. `param.cardAlreadyExist`
    /// counts as success: the `outTrackId` is ours and fresh, so an earlier attempt that
    /// looked failed (504, timeout) created it.
    pub async fn create_and_deliver(
        &self,
        caller: &Caller<'_>,
        out_track_id: &str,
        template_id: &str,
        space: &CardSpace,
        params: &Map<String, Value>,
        callbacks: &CardCallbacks,
    ) -> Result<(), DingTalkError> {
        let mut body = json!({
            "cardTemplateId": template_id,
            "outTrackId": out_track_id,
            "cardData": {"cardParamMap": params},
            "userIdType": 1,
        });
        callbacks.add_to(&mut body);
        match space {
            CardSpace::Group(cid) => {
                body["openSpaceId"] = json!(format!("dtv1.card//IM_GROUP.{cid}"));
                body["imGroupOpenSpaceModel"] = json!({"supportForward": true});
                body["imGroupOpenDeliverModel"] = json!({"robotCode": self.robot_code});
            }
            CardSpace::Direct(staff_id) => {
                body["openSpaceId"] = json!(format!("dtv1.card//IM_ROBOT.{staff_id}"));
                body["imRobotOpenSpaceModel"] = json!({"supportForward": true});
                body["imRobotOpenDeliverModel"] =
                    json!({"spaceType": "IM_ROBOT", "robotCode": self.robot_code});
            }
        }
        let v = match self
            .api(
                CallKind::CreateCard,
                Method::POST,
                "/v1.0/card/instances/createAndDeliver",
                caller,
                &|| body.clone(),
            )
            .await
        {
            Err(e) if e.card_already_exists() => {
                log::info!("card {out_track_id}: an earlier attempt had created it; carrying on");
                return Ok(());
            }
            other => other?,
        };
        let failed = v
            .pointer("/result/deliverResults")
            .and_then(Value::as_array)
            .and_then(|results| {
                results
                    .iter()
                    .find(|r| r.get("success").and_then(Value::as_bool) == Some(false))
            });
        if let Some(r) = failed {
            return Err(DingTalkError::Param {
                code: "deliverResults".into(),
                message: r
                    .get("errorMsg")
                    .and_then(Value::as_str)
                    .unwrap_or("delivery failed")
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// `PUT /v1.0/card/streaming` with the full markdown that `content` renders when the
    /// budget lets the call go (so the newest text is sent), and a fresh `guid`. Returns
    /// the text sent.
    pub async fn stream_card(
        &self,
        caller: &Caller<'_>,
        out_track_id: &str,
        key: &str,
        content: &(dyn Fn() -> String + Sync),
        end: StreamEnd,
    ) -> Result<String, DingTalkError> {
        let sent = std::sync::Mutex::new(String::new());
        self.api(
            CallKind::StreamingUpdate,
            Method::PUT,
            "/v1.0/card/streaming",
            caller,
            &|| {
                let text = content();
                let body = streaming_body(out_track_id, key, &text, end);
                *sent.lock().unwrap_or_else(|e| e.into_inner()) = text;
                body
            },
        )
        .await?;
        Ok(sent.into_inner().unwrap_or_else(|e| e.into_inner()))
    }

    /// `POST /v1.0/card/callbacks/register`: DingTalk posts the presses of cards created with
    /// `callbackRouteKey = route_key` to `url`, signed with `api_secret`. Replaces an earlier
    /// registration of the key (`forceUpdate`).
    pub async fn register_card_callbacks(
        &self,
        caller: &Caller<'_>,
        route_key: &str,
        url: &str,
        api_secret: &Secret,
    ) -> Result<(), DingTalkError> {
        self.api(
            CallKind::CallbackRegister,
            Method::POST,
            "/v1.0/card/callbacks/register",
            caller,
            &|| {
                json!({
                    "callbackRouteKey": route_key,
                    "callbackUrl": url,
                    "apiSecret": api_secret.expose(),
                    "forceUpdate": true,
                })
            },
        )
        .await
        .map(drop)
    }

    /// `PUT /v1.0/card/instances`, merging `params` into the card data by key.
    pub async fn update_card_data(
        &self,
        caller: &Caller<'_>,
        out_track_id: &str,
        params: &Map<String, Value>,
    ) -> Result<(), DingTalkError> {
        let body = json!({
            "outTrackId": out_track_id,
            "cardData": {"cardParamMap": params},
            "cardUpdateOptions": {"updateCardDataByKey": true},
            "userIdType": 1,
        });
        self.api(
            CallKind::UpdateInstance,
            Method::PUT,
            "/v1.0/card/instances",
            caller,
            &|| body.clone(),
        )
        .await
        .map(drop)
    }
}
