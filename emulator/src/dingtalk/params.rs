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
/// (docs/dingtalk.md, "AI Cards"). `None` when the request carries no card data.
///
/// A non-string value is rejected with `param.cardParamMapInvalid`; a value longer than `max_bytes` UTF-8
/// bytes with `param.cardParamMapValueTooLarge` (both emulator choices of code: the real codes are
/// unpublished). DingTalk's docs give ≤ 1 KB per value for card creation and about 3 K in total for a
/// streamed variable; the emulator applies one configurable byte limit to every value
/// ([`EmulatorConfig::max_card_value_bytes`](super::EmulatorConfig::max_card_value_bytes), 3000 by
/// default), the size beyond which cards are reported to break.
pub(crate) fn card_param_map(
    body: &Value,
    max_bytes: usize,
) -> Result<Option<BTreeMap<String, String>>, ApiError> {
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
        if s.len() > max_bytes {
            return Err(value_too_large(key, s.len(), max_bytes));
        }
        out.insert(key.clone(), s.clone());
    }
    Ok(Some(out))
}

/// The error for a `cardParamMap` value over the byte limit (emulator choice of code and message).
pub(crate) fn value_too_large(key: &str, bytes: usize, max_bytes: usize) -> ApiError {
    ApiError::param(
        "param.cardParamMapValueTooLarge",
        format!(
            "cardParamMap value of key \"{key}\" is too large: {bytes} bytes, at most {max_bytes}"
        ),
    )
}
