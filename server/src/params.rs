//! Query-string parameters and the error reply for bad ones.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error reply: the status plus a message, sent as
/// `{"ok":false,"error":MESSAGE}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl ApiError {
    /// A 400 Bad Request with this message.
    pub fn bad(msg: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, msg.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "ok": false, "error": self.1 }))).into_response()
    }
}

/// The longest accepted value of a free-form string parameter (`client`,
/// `room`, `name`, `token`), in bytes.
pub const MAX_STR: usize = 256;

/// Parsed query parameters (the last value wins for repeated keys).
#[derive(Debug, Default)]
pub struct Params(pub HashMap<String, String>);

impl Params {
    /// The raw value of a parameter.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// An integer parameter in `range`, or `default` when absent.
    pub fn int(
        &self,
        name: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, ApiError> {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(ApiError::bad(format!(
                    "invalid {name}={v:?}: expected an integer in {}..={}",
                    range.start(),
                    range.end()
                ))),
            },
        }
    }

    /// A `0`/`1` flag (also `false`/`true`), `false` when absent.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.raw(name) {
            None => Ok(false),
            Some("0" | "false") => Ok(false),
            Some("1" | "true") => Ok(true),
            Some(v) => Err(ApiError::bad(format!(
                "invalid {name}={v:?}: expected 0 or 1"
            ))),
        }
    }

    /// A non-empty string of at most [`MAX_STR`] bytes without control
    /// characters, or `None` when absent.
    pub fn text(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.raw(name) {
            None => Ok(None),
            Some(v) if v.is_empty() || v.len() > MAX_STR || v.chars().any(char::is_control) => {
                Err(ApiError::bad(format!(
                    "invalid {name}={}: expected 1..={MAX_STR} bytes without control characters",
                    shorten(v)
                )))
            }
            Some(v) => Ok(Some(v)),
        }
    }

    /// The `client` id (default `anon`).
    pub fn client(&self) -> Result<&str, ApiError> {
        Ok(self.text("client")?.unwrap_or("anon"))
    }
}

/// Quotes a value for an error message, cutting very long ones.
pub fn shorten(v: &str) -> String {
    if v.chars().count() > 40 {
        let head: String = v.chars().take(40).collect();
        format!("{head:?}... ({} bytes)", v.len())
    } else {
        format!("{v:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn ints() {
        assert_eq!(p(&[]).int("rate", 10, 1..=1000).unwrap(), 10);
        assert_eq!(p(&[("rate", "20")]).int("rate", 10, 1..=1000).unwrap(), 20);
        let e = p(&[("rate", "0")]).int("rate", 10, 1..=1000).unwrap_err();
        assert!(e.1.contains("rate=\"0\""), "{}", e.1);
        assert!(p(&[("rate", "x")]).int("rate", 10, 1..=1000).is_err());
        assert!(p(&[("rate", "-1")]).int("rate", 10, 1..=1000).is_err());
    }

    #[test]
    fn flags_and_text() {
        assert!(p(&[("wait", "1")]).flag("wait").unwrap());
        assert!(!p(&[]).flag("wait").unwrap());
        assert!(p(&[("wait", "yes")]).flag("wait").is_err());
        assert_eq!(p(&[]).client().unwrap(), "anon");
        assert!(p(&[("client", "")]).client().is_err());
        assert!(p(&[("client", "a\nb")]).client().is_err());
        assert!(p(&[("client", &"x".repeat(300))]).client().is_err());
    }
}
