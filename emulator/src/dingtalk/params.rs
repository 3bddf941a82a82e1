//! Reading request parameters with DingTalk's validation errors (never panicking on client input).

use std::collections::BTreeMap;

use serde_json::Value;

use super::reply::ApiError;

/// A required, non-empty string parameter.
pub(crate) fn required_str<'a>(body: &'a Value, name: &str) -> Result<&'a str, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Err(ApiError::missing(name)),
        Some(Value::String(s)) if s.is_empty() => Err(ApiError::missing(name)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::invalid(name)),
    }
}

/// An optional string parameter.
pub(crate) fn optional_str<'a>(body: &'a Value, name: &str) -> Result<Option<&'a str>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::invalid(name)),
    }
}

/// An optional boolean parameter (absent = false).
pub(crate) fn flag(body: &Value, name: &str) -> Result<bool, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid(name)),
    }
}

/// An optional object parameter.
pub(crate) fn optional_object<'a>(
    body: &'a Value,
    name: &str,
) -> Result<Option<&'a Value>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(ApiError::invalid(name)),
    }
}

/// `cardData.cardParamMap`: a `Map<String,String>` in which every value must be a string
/// (dingtalk-api.md §5.1). `None` when the request carries no card data.
///
/// A non-string value is rejected with `param.cardParamMapInvalid` (emulator choice of code; the real
/// code is unpublished). The documented per-value size (≤ 1 KB) is *not* enforced: the plugins in use put
/// whole answers into card variables via `PUT /v1.0/card/instances` without failures being reported.
pub(crate) fn card_param_map(body: &Value) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    let Some(card_data) = optional_object(body, "cardData")? else {
        return Ok(None);
    };
    let Some(map) = optional_object(card_data, "cardParamMap")? else {
        return Ok(None);
    };
    let mut out = BTreeMap::new();
    for (key, value) in map.as_object().into_iter().flatten() {
        let Value::String(s) = value else {
            return Err(ApiError::param(
                "param.cardParamMapInvalid",
                format!("cardParamMap value of key \"{key}\" must be a string"),
            ));
        };
        out.insert(key.clone(), s.clone());
    }
    Ok(Some(out))
}
