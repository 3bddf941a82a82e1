//! The download link of a picture or file a user sent: `POST
//! /v1.0/robot/messageFiles/download` with the message's `downloadCode` and the robot code
//! answers a temporary storage URL (`docs/dingtalk-events.md`, "Inbound robot message").
//! Fetching that URL is not a DingTalk API call (`crate::attachments`).

use reqwest::Method;
use serde_json::{json, Value};

use super::caller::Caller;
use super::client::DingTalkClient;
use super::error::DingTalkError;
use super::stats::CallKind;
use crate::secret::Secret;

impl DingTalkClient {
    /// The temporary URL of the file `download_code` names. Its query is a signature, so it
    /// is a [`Secret`]: never logged, never part of an error.
    pub async fn message_file_url(
        &self,
        caller: &Caller<'_>,
        download_code: &str,
    ) -> Result<Secret, DingTalkError> {
        let body = json!({"downloadCode": download_code, "robotCode": self.robot_code});
        let v = self
            .api(
                CallKind::FileDownload,
                Method::POST,
                "/v1.0/robot/messageFiles/download",
                caller,
                &|| body.clone(),
            )
            .await?;
        v.get("downloadUrl")
            .or_else(|| v.pointer("/data/downloadUrl"))
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(Secret::new)
            .ok_or_else(|| DingTalkError::Other {
                status: 200,
                code: "downloadUrl".into(),
                message: "messageFiles/download answered without a downloadUrl".into(),
            })
    }
}
