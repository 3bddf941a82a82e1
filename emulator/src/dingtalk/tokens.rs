//! Access tokens: issuing (new and legacy endpoints), validating, revoking.
//!
//! DingTalk documents that fetching a token again while the current one is valid returns the same token with
//! a renewed lifetime, and a new token once it has expired; the emulator does the same. Tokens from both
//! endpoints are interchangeable (docs/dingtalk-events.md, "Access tokens": clients pass the v1.0 token to
//! oapi and back).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{
    qps,
    reply::{ApiError, Reply},
    state::Shared,
    ApiKind,
};

/// Issued tokens by value.
#[derive(Debug, Default)]
pub(crate) struct TokenStore {
    tokens: HashMap<String, Issued>,
}

#[derive(Debug)]
struct Issued {
    app_key: String,
    expires_at_ms: u64,
}

impl TokenStore {
    /// Returns the app's valid token (renewing it) or a new one.
    pub(crate) fn issue(&mut self, app_key: &str, now_ms: u64, ttl_ms: u64) -> String {
        let expires_at_ms = now_ms.saturating_add(ttl_ms);
        if let Some((token, issued)) = self
            .tokens
            .iter_mut()
            .find(|(_, t)| t.app_key == app_key && now_ms < t.expires_at_ms)
        {
            issued.expires_at_ms = expires_at_ms;
            return token.clone();
        }
        self.tokens.retain(|_, t| now_ms < t.expires_at_ms);
        let token = uuid::Uuid::new_v4().simple().to_string();
        self.tokens.insert(
            token.clone(),
            Issued {
                app_key: app_key.into(),
                expires_at_ms,
            },
        );
        token
    }

    /// The app a valid, unexpired token belongs to.
    pub(crate) fn validate(&self, token: &str, now_ms: u64) -> Option<&str> {
        self.tokens
            .get(token)
            .filter(|t| now_ms < t.expires_at_ms)
            .map(|t| t.app_key.as_str())
    }

    /// Invalidates every issued token.
    pub(crate) fn revoke_all(&mut self) {
        self.tokens.clear();
    }
}

/// `POST /v1.0/oauth2/accessToken {appKey, appSecret}` → `{"accessToken","expireIn"}`.
pub(crate) fn access_token(
    shared: &Shared,
    at_ms: u64,
    body: &Value,
    app_key: &mut Option<String>,
) -> Reply {
    let Some(obj) = body.as_object() else {
        return ApiError::invalid("body").into();
    };
    let key = obj
        .get("appKey")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let secret = obj
        .get("appSecret")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if key.is_empty() {
        return ApiError::missing("appKey").into();
    }
    if secret.is_empty() {
        return ApiError::missing("appSecret").into();
    }
    *app_key = Some(key.to_string());
    let mut inner = shared.lock();
    if let Err(rejected) = qps::admit(shared, &mut inner.qps, key, ApiKind::AccessToken, at_ms) {
        return rejected.into();
    }
    let config = &shared.config;
    if key != config.app_key || secret != config.app_secret {
        return ApiError::new(
            400,
            "invalidClientIdOrSecret",
            "无效的clientId或者clientSecret",
        )
        .into();
    }
    let ttl_ms = u64::try_from(config.token_ttl.as_millis()).unwrap_or(u64::MAX);
    let token = inner.tokens.issue(key, at_ms, ttl_ms);
    Reply::ok(json!({ "accessToken": token, "expireIn": config.token_ttl.as_secs() }))
}

/// `GET /gettoken?appkey=&appsecret=` → `{"errcode":0,"access_token","expires_in","errmsg":"ok"}`.
///
/// Bad credentials get errcode 40089 "不合法的corpid或corpsecret" (the code DingTalk's gettoken is widely
/// reported to return for a wrong AppKey/AppSecret); flow control answers in the legacy form errcode 90018
/// (docs/dingtalk.md, "Rate limits", lists 90018/90002 as the legacy flow-control codes).
pub(crate) fn legacy_token(
    shared: &Shared,
    at_ms: u64,
    query: &Value,
    app_key: &mut Option<String>,
) -> Reply {
    let get = |name: &str| {
        query
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (key, secret) = (get("appkey"), get("appsecret"));
    let config = &shared.config;
    let mut inner = shared.lock();
    if !key.is_empty() {
        *app_key = Some(key.clone());
        if let Err(rejected) = qps::admit(
            shared,
            &mut inner.qps,
            &key,
            ApiKind::LegacyAccessToken,
            at_ms,
        ) {
            let msg = format!(
                "当前应用调用该接口次数超过了限制，处罚将在 {} 结束",
                rejected.until
            );
            return Reply::legacy(90018, &msg, Map::new());
        }
    }
    if key != config.app_key || secret != config.app_secret {
        return Reply::legacy(40089, "不合法的corpid或corpsecret", Map::new());
    }
    let ttl_ms = u64::try_from(config.token_ttl.as_millis()).unwrap_or(u64::MAX);
    let token = inner.tokens.issue(&key, at_ms, ttl_ms);
    let mut extra = Map::new();
    extra.insert("access_token".into(), token.into());
    extra.insert("expires_in".into(), config.token_ttl.as_secs().into());
    Reply::legacy(0, "ok", extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_token_while_valid_then_new() {
        let mut store = TokenStore::default();
        let a = store.issue("app", 0, 1000);
        assert_eq!(store.issue("app", 500, 1000), a, "reissued while valid");
        assert_eq!(store.validate(&a, 1400), Some("app"), "lifetime renewed");
        assert_eq!(store.validate(&a, 1500), None, "expired");
        let b = store.issue("app", 1500, 1000);
        assert_ne!(a, b);
        store.revoke_all();
        assert_eq!(store.validate(&b, 1501), None);
    }
}
