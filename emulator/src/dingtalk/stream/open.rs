//! `POST /v1.0/gateway/connections/open` (docs/dingtalk-events.md, "Opening a connection").

use serde_json::{json, Value};

use super::{
    super::{
        qps,
        reply::{ApiError, Reply},
        state::Shared,
        ApiKind,
    },
    tickets::Ticket,
    Subscription, CONNECT_PATH,
};

/// Checks the credentials and subscriptions and issues a single-use ticket:
/// `{"endpoint":"ws://127.0.0.1:PORT/connect","ticket":…}`.
///
/// Missing or wrong `clientId`/`clientSecret` is HTTP 401 `{"code":"authFailed","message":"鉴权失败"}`
/// (docs/dingtalk-events.md, "Opening a connection"). A missing or malformed `subscriptions` list, or an
/// `EVENT` subscription whose topic is not `*` (same section), is HTTP 400 `InvalidParameter` (emulator
/// choice of code). The call counts for flow control under the `clientId` it names, like the token endpoint
/// (and is refused with the QPS 403 over the budget); it is not metered for the monthly quota.
pub(crate) fn connections_open(
    shared: &Shared,
    at_ms: u64,
    body: &Value,
    app_key: &mut Option<String>,
) -> Reply {
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    let (client_id, client_secret) = (field("clientId"), field("clientSecret"));
    if !client_id.is_empty() {
        *app_key = Some(client_id.to_owned());
        let mut inner = shared.lock();
        if let Err(rejected) = qps::admit(
            shared,
            &mut inner.qps,
            client_id,
            ApiKind::StreamConnectionOpen,
            at_ms,
        ) {
            return rejected.into();
        }
    }
    let config = &shared.config;
    if client_id != config.app_key || client_secret != config.app_secret {
        return ApiError::new(401, "authFailed", "鉴权失败").into();
    }
    let subscriptions: Vec<Subscription> = match body
        .get("subscriptions")
        .cloned()
        .map(serde_json::from_value)
    {
        Some(Ok(subs)) => subs,
        _ => return ApiError::invalid("subscriptions").into(),
    };
    if subscriptions.iter().any(|s| {
        !matches!(s.kind.as_str(), "EVENT" | "CALLBACK") || (s.kind == "EVENT" && s.topic != "*")
    }) {
        return ApiError::invalid("subscriptions").into();
    }
    let ticket = shared.lock().stream.tickets.issue(Ticket {
        issued_at_ms: at_ms,
        app_key: client_id.to_owned(),
        subscriptions,
    });
    let endpoint = format!(
        "{}{CONNECT_PATH}",
        shared.base_url().replacen("http://", "ws://", 1)
    );
    Reply::ok(json!({ "endpoint": endpoint, "ticket": ticket }))
}
