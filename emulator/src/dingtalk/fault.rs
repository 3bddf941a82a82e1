//! Injected faults: queued failure responses applied to the next matching calls.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ApiKind;

/// A queued fault. JSON form (control API): `{"api":"StreamingUpdate","response":"ServerError","count":2}`,
/// `{"api":null,"response":{"Latency":300},"count":1}` (latency in milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// The API it applies to; `None` = any API except the token endpoints and the file storage
    /// ([`ApiKind::MessageFileGet`], which takes only faults that name it).
    pub api: Option<ApiKind>,
    /// What the faulted call gets.
    pub response: FaultResponse,
    /// How many calls it applies to.
    pub count: u32,
}

impl Fault {
    /// A fault for the next `count` calls of `api` (any non-token API when `None`).
    pub fn new(api: Option<ApiKind>, response: FaultResponse, count: u32) -> Self {
        Self {
            api,
            response,
            count,
        }
    }

    fn matches(&self, kind: ApiKind) -> bool {
        match self.api {
            Some(api) => api == kind,
            None => !kind.is_token() && kind != ApiKind::MessageFileGet,
        }
    }
}

/// The response of a faulted call. Error faults are recorded with their status and not applied (except
/// [`FaultResponse::AppliedGatewayTimeout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultResponse {
    /// HTTP 500 `{"code":"system.busy",…}` (the documented transient server error).
    ServerError,
    /// HTTP 504 Gateway Timeout, as when DingTalk's backend does not answer within 3 s
    /// (docs/dingtalk.md, "Ambiguous failures").
    GatewayTimeout,
    /// The ambiguous failure: the call is handled normally (and applied, if valid), then answered with the
    /// same HTTP 504 as [`FaultResponse::GatewayTimeout`]. A client cannot tell it from a timeout that was
    /// not applied; [`DingTalkEmulator::applied_timeouts`](super::DingTalkEmulator::applied_timeouts)
    /// tells which recorded 504s were applied.
    AppliedGatewayTimeout,
    /// HTTP 403 with the configured QPS code, as if flow control had rejected the call.
    QpsLimit,
    /// Wait this long (milliseconds in JSON), then handle the call normally.
    Latency(#[serde(with = "millis")] Duration),
}

/// The FIFO of pending faults.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    pending: Vec<Fault>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, fault: Fault) {
        if fault.count > 0 {
            self.pending.push(fault);
        }
    }

    /// Takes one use of the oldest fault that matches `kind`.
    pub(crate) fn take(&mut self, kind: ApiKind) -> Option<FaultResponse> {
        if kind == ApiKind::Control {
            return None;
        }
        let index = self.pending.iter().position(|f| f.matches(kind))?;
        let fault = &mut self.pending[index];
        let response = fault.response;
        fault.count -= 1;
        if fault.count == 0 {
            self.pending.remove(index);
        }
        Some(response)
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_apply_in_order_and_count_down() {
        let mut q = FaultQueue::default();
        q.push(Fault::new(
            Some(ApiKind::StreamingUpdate),
            FaultResponse::ServerError,
            2,
        ));
        q.push(Fault::new(None, FaultResponse::GatewayTimeout, 1));
        assert_eq!(
            q.take(ApiKind::AccessToken),
            None,
            "token endpoints only match explicit faults"
        );
        assert_eq!(
            q.take(ApiKind::CreateAndDeliver),
            Some(FaultResponse::GatewayTimeout)
        );
        assert_eq!(q.take(ApiKind::CreateAndDeliver), None);
        assert_eq!(
            q.take(ApiKind::StreamingUpdate),
            Some(FaultResponse::ServerError)
        );
        assert_eq!(
            q.take(ApiKind::StreamingUpdate),
            Some(FaultResponse::ServerError)
        );
        assert_eq!(q.take(ApiKind::StreamingUpdate), None);
    }

    #[test]
    fn fault_json_form() {
        let f: Fault =
            serde_json::from_str(r#"{"api":null,"response":{"Latency":300},"count":1}"#).unwrap();
        assert_eq!(
            f,
            Fault::new(None, FaultResponse::Latency(Duration::from_millis(300)), 1)
        );
        let json = serde_json::to_value(Fault::new(
            Some(ApiKind::GroupSend),
            FaultResponse::QpsLimit,
            3,
        ))
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!({"api":"GroupSend","response":"QpsLimit","count":3})
        );
        let f: Fault = serde_json::from_str(
            r#"{"api":"CreateAndDeliver","response":"AppliedGatewayTimeout","count":2}"#,
        )
        .unwrap();
        assert_eq!(
            f,
            Fault::new(
                Some(ApiKind::CreateAndDeliver),
                FaultResponse::AppliedGatewayTimeout,
                2
            )
        );
    }
}
