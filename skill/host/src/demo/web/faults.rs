//! The faults a visitor can inject from the page: each one is something the emulator (or the
//! fake gateway) can do to the robot, so the page shows how the plugin recovers.

use std::time::Duration;

use openclaw_dingtalk_emulator::dingtalk::{ApiKind, DingTalkEmulator, Fault, FaultResponse};
use openclaw_dingtalk_emulator::gateway::{FakeGateway, ScriptedFailure};

/// One fault of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// The id the page sends (`POST /api/faults {"fault": id}`).
    pub id: &'static str,
    /// The button's label.
    pub label: &'static str,
    /// What it does, for the button's tooltip.
    pub hint: &'static str,
    /// Needs the built-in fake gateway (a real gateway cannot be told to fail).
    pub fake_gateway_only: bool,
}

/// Every fault, in the order the page shows them.
pub const CATALOG: [Kind; 7] = [
    Kind {
        id: "qps_burst",
        label: "403 限流",
        hint: "DingTalk answers the next 8 calls with HTTP 403 Forbidden.AccessDenied.QpsLimit…: the plugin slows down, learns the rate and retries",
        fake_gateway_only: false,
    },
    Kind {
        id: "server_error",
        label: "5xx",
        hint: "DingTalk answers the next 3 calls with HTTP 500 system.busy: the plugin retries with backoff",
        fake_gateway_only: false,
    },
    Kind {
        id: "gateway_timeout",
        label: "504 (已生效)",
        hint: "The next card creation and the next streaming update are applied, then answered HTTP 504: the plugin cannot tell whether they took effect and must not leave an orphan card",
        fake_gateway_only: false,
    },
    Kind {
        id: "slow_dingtalk",
        label: "钉钉变慢",
        hint: "The next 10 DingTalk calls each take 1.5 s longer: updates are merged, the card still finishes",
        fake_gateway_only: false,
    },
    Kind {
        id: "revoke_tokens",
        label: "吊销 token",
        hint: "Every access token issued so far becomes invalid: the next call gets 400 InvalidAuthentication and the plugin fetches a new token",
        fake_gateway_only: false,
    },
    Kind {
        id: "stream_disconnect",
        label: "Stream 断开",
        hint: "DingTalk sends the SYSTEM disconnect frame and closes the Stream WebSocket: the host reconnects; messages sent meanwhile are delivered after",
        fake_gateway_only: false,
    },
    Kind {
        id: "gateway_cut",
        label: "网关中断",
        hint: "The fake gateway cuts its next answer mid-stream: the card ends failed with the text received so far",
        fake_gateway_only: true,
    },
];

/// The catalog entry `id`.
pub fn find(id: &str) -> Option<&'static Kind> {
    CATALOG.iter().find(|k| k.id == id)
}

/// Applies fault `kind`; returns what it did, for the log. `fake_gateway` is `None` with a
/// real gateway (then `gateway_cut` is refused by the caller beforehand).
pub fn apply(
    kind: &Kind,
    emulator: &DingTalkEmulator,
    fake_gateway: Option<&FakeGateway>,
) -> String {
    let any = |response, count| emulator.inject(Fault::new(None, response, count));
    match kind.id {
        "qps_burst" => {
            any(FaultResponse::QpsLimit, 8);
            "the next 8 DingTalk calls are answered 403 (flow control)".into()
        }
        "server_error" => {
            any(FaultResponse::ServerError, 3);
            "the next 3 DingTalk calls are answered 500 system.busy".into()
        }
        "gateway_timeout" => {
            for api in [ApiKind::StreamingUpdate, ApiKind::CreateAndDeliver] {
                emulator.inject(Fault::new(
                    Some(api),
                    FaultResponse::AppliedGatewayTimeout,
                    1,
                ));
            }
            "the next card creation and the next streaming update are applied, then answered 504"
                .into()
        }
        "slow_dingtalk" => {
            any(FaultResponse::Latency(Duration::from_millis(1500)), 10);
            "the next 10 DingTalk calls each take 1.5 s longer".into()
        }
        "revoke_tokens" => {
            emulator.revoke_tokens();
            "every access token issued so far was revoked".into()
        }
        "stream_disconnect" => {
            let n = emulator.disconnect_all("simulator: disconnect button");
            format!("DingTalk closed {n} Stream connection(s)")
        }
        "gateway_cut" => match fake_gateway {
            Some(gateway) => {
                gateway.fail_next(ScriptedFailure::Cut);
                "the fake gateway cuts its next answer mid-stream".into()
            }
            None => "not available with a real gateway".into(),
        },
        other => format!("unknown fault {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_ids_are_unique_and_found() {
        for k in CATALOG {
            assert_eq!(find(k.id).map(|f| f.id), Some(k.id));
        }
        let mut ids: Vec<_> = CATALOG.iter().map(|k| k.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len());
        assert!(find("meteor").is_none());
    }
}
