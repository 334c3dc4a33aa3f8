//! The one error type of the crate.

use alloc::format;
use alloc::string::String;
use thiserror::Error as ThisError;

/// Everything that can go wrong in resocket.
///
/// Variants carry the offending value (redacted where it could hold a secret: URLs never include
/// their query string or user info), so a message always says *what* was wrong.
///
/// ```
/// use resocket::Error;
/// let err = resocket::validate_close(Some(1001), None).unwrap_err();
/// assert_eq!(err, Error::InvalidCloseCode { code: 1001 });
/// assert!(err.to_string().contains("1001"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, ThisError)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be parsed (the URL is shown without query string or credentials).
    #[error("invalid WebSocket URL `{url}`: {reason}")]
    InvalidUrl {
        /// The supplied URL, redacted.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The URL scheme is not `ws` or `wss`.
    #[error("invalid WebSocket URL scheme `{scheme}` (expected `ws` or `wss`) in `{url}`")]
    InvalidScheme {
        /// The scheme found.
        scheme: String,
        /// The supplied URL, redacted.
        url: String,
    },
    /// `secure_only` is set and the URL is a `ws://` URL to a host other than localhost.
    #[error("insecure URL `{url}` refused: `secure_only` allows ws:// only to localhost")]
    InsecureUrl {
        /// The supplied URL, redacted.
        url: String,
    },
    /// A subprotocol name is not a valid token, or is offered twice.
    #[error("invalid subprotocol `{protocol}`: {reason}")]
    InvalidProtocol {
        /// The rejected subprotocol.
        protocol: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A message was sent on a socket that is still connecting (use the `Sink`, which waits).
    #[error("the connection is not open yet (still connecting)")]
    NotOpen,
    /// A close code other than 1000 or 3000-4999 was given to `close`.
    #[error("invalid close code {code}: only 1000 and 3000-4999 may be sent by a client")]
    InvalidCloseCode {
        /// The rejected code.
        code: u16,
    },
    /// A close reason longer than 123 UTF-8 bytes was given to `close`.
    #[error("close reason is {bytes} UTF-8 bytes long; at most 123 are allowed")]
    ReasonTooLong {
        /// Length of the rejected reason in UTF-8 bytes.
        bytes: usize,
    },
    /// A value could not be encoded into a message.
    #[error("could not encode message: {message}")]
    Encode {
        /// What the codec reported.
        message: String,
    },
    /// A received message could not be decoded. The stream goes on after this item.
    #[error("could not decode {kind} message of {size} bytes: {message}")]
    Decode {
        /// What the codec reported.
        message: String,
        /// `"text"` or `"binary"`.
        kind: &'static str,
        /// Size of the payload in bytes (the payload itself is not kept).
        size: usize,
    },
    /// A received message is larger than the configured `max_message_bytes`.
    #[error("received message of {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// Size of the message in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The connection is closed; nothing more can be sent on it.
    #[error("the connection is closed{}", close_suffix(*code, reason))]
    Closed {
        /// The close code, if a close frame was seen.
        code: Option<u16>,
        /// The close reason (may be empty).
        reason: String,
    },
    /// The browser could not open the connection (or it closed before opening).
    #[error("could not connect to `{url}`: {detail}")]
    ConnectFailed {
        /// The URL, redacted.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The socket stayed in CONNECTING longer than the connect timeout.
    #[error("connection to `{url}` timed out after {after_ms} ms")]
    ConnectTimeout {
        /// The URL, redacted.
        url: String,
        /// The timeout that elapsed.
        after_ms: u32,
    },
    /// The outbox is full and the overflow policy is `Reject`.
    #[error(
        "outbox full ({messages} messages, {bytes} bytes queued); message of {size} bytes rejected"
    )]
    OutboxFull {
        /// Messages already queued.
        messages: usize,
        /// Bytes already queued.
        bytes: usize,
        /// Size of the rejected message.
        size: usize,
    },
    /// A single message is larger than the outbox's byte capacity, so it can never be queued.
    #[error("message of {size} bytes is larger than the outbox capacity of {capacity} bytes")]
    MessageExceedsOutbox {
        /// Size of the message.
        size: usize,
        /// The outbox byte capacity.
        capacity: usize,
    },
    /// An option had a bad value.
    #[error("invalid option `{key}`: expected {expected}, got {got}")]
    InvalidOption {
        /// The option's name.
        key: String,
        /// What is allowed.
        expected: String,
        /// What was supplied.
        got: String,
    },
    /// Reconnection stopped for good: retries exhausted or a close the policy treats as fatal.
    #[error("connection failed for good: {reason}")]
    Failed {
        /// Why reconnection stopped.
        reason: String,
    },
    /// An unexpected JavaScript exception, with its message.
    #[error("JavaScript error: {message}")]
    Js {
        /// The exception's message.
        message: String,
    },
}

fn close_suffix(code: Option<u16>, reason: &str) -> String {
    match (code, reason.is_empty()) {
        (Some(code), true) => format!(" (code {code})"),
        (Some(code), false) => format!(" (code {code}, reason `{reason}`)"),
        (None, _) => String::new(),
    }
}

impl Error {
    /// The variant's name, e.g. `"InvalidCloseCode"`: a stable, matchable label (the
    /// JavaScript layer sets it as the `kind` property of the errors it throws).
    ///
    /// ```
    /// assert_eq!(resocket::Error::NotOpen.kind(), "NotOpen");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidUrl { .. } => "InvalidUrl",
            Error::InvalidScheme { .. } => "InvalidScheme",
            Error::InsecureUrl { .. } => "InsecureUrl",
            Error::InvalidProtocol { .. } => "InvalidProtocol",
            Error::NotOpen => "NotOpen",
            Error::InvalidCloseCode { .. } => "InvalidCloseCode",
            Error::ReasonTooLong { .. } => "ReasonTooLong",
            Error::Encode { .. } => "Encode",
            Error::Decode { .. } => "Decode",
            Error::MessageTooLarge { .. } => "MessageTooLarge",
            Error::Closed { .. } => "Closed",
            Error::ConnectFailed { .. } => "ConnectFailed",
            Error::ConnectTimeout { .. } => "ConnectTimeout",
            Error::OutboxFull { .. } => "OutboxFull",
            Error::MessageExceedsOutbox { .. } => "MessageExceedsOutbox",
            Error::InvalidOption { .. } => "InvalidOption",
            Error::Failed { .. } => "Failed",
            Error::Js { .. } => "Js",
        }
    }
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(target_arch = "wasm32")]
impl Error {
    /// Turns a JavaScript exception into [`Error::Js`], keeping its message.
    pub(crate) fn from_js(value: &wasm_bindgen::JsValue) -> Self {
        Error::Js {
            message: crate::sys::js_error_message(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn closed_message_mentions_code_and_reason() {
        let e = Error::Closed {
            code: Some(4001),
            reason: "bye".into(),
        };
        assert_eq!(
            e.to_string(),
            "the connection is closed (code 4001, reason `bye`)"
        );
        let e = Error::Closed {
            code: None,
            reason: String::new(),
        };
        assert_eq!(e.to_string(), "the connection is closed");
    }

    #[test]
    fn decode_message_has_size_not_payload() {
        let e = Error::Decode {
            message: "expected value".into(),
            kind: "text",
            size: 9,
        };
        assert_eq!(
            e.to_string(),
            "could not decode text message of 9 bytes: expected value"
        );
    }
}
