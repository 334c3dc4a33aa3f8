//! The one error type of the crate.

use alloc::string::String;
use core::fmt;

use crate::text::{text, Piece::N, Piece::S};

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
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be parsed (the URL is shown without query string or credentials).
    InvalidUrl {
        /// The supplied URL, redacted.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The URL scheme is not `ws` or `wss`.
    InvalidScheme {
        /// The scheme found.
        scheme: String,
        /// The supplied URL, redacted.
        url: String,
    },
    /// `secure_only` is set and the URL is a `ws://` URL to a host other than localhost.
    InsecureUrl {
        /// The supplied URL, redacted.
        url: String,
    },
    /// A subprotocol name is not a valid token, or is offered twice. The name itself is not
    /// kept (apps put tokens in subprotocols): only its place in the list.
    InvalidProtocol {
        /// The rejected subprotocol's index in the list offered (from 0).
        index: usize,
        /// Why it was rejected.
        reason: String,
    },
    /// A message was sent on a socket that is still connecting (use the `Sink`, which waits).
    NotOpen,
    /// A close code other than 1000 or 3000-4999 was given to `close`.
    InvalidCloseCode {
        /// The rejected code.
        code: u16,
    },
    /// A close reason longer than 123 UTF-8 bytes was given to `close`.
    ReasonTooLong {
        /// Length of the rejected reason in UTF-8 bytes.
        bytes: usize,
    },
    /// A value could not be encoded into a message.
    Encode {
        /// What the codec reported.
        message: String,
    },
    /// A received message could not be decoded. The stream goes on after this item.
    Decode {
        /// What the codec reported.
        message: String,
        /// `"text"` or `"binary"`.
        kind: &'static str,
        /// Size of the payload in bytes (the payload itself is not kept).
        size: usize,
    },
    /// A received message is larger than the configured `max_message_bytes`.
    MessageTooLarge {
        /// Size of the message in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The connection is closed; nothing more can be sent on it.
    Closed {
        /// The close code, if a close frame was seen.
        code: Option<u16>,
        /// The close reason (may be empty).
        reason: String,
    },
    /// The browser could not open the connection (or it closed before opening).
    ConnectFailed {
        /// The URL, redacted.
        url: String,
        /// What happened.
        detail: String,
    },
    /// The socket stayed in CONNECTING longer than the connect timeout.
    ConnectTimeout {
        /// The URL, redacted.
        url: String,
        /// The timeout that elapsed.
        after_ms: u32,
    },
    /// The outbox is full and the overflow policy is `Reject`.
    OutboxFull {
        /// Messages already queued.
        messages: usize,
        /// Bytes already queued.
        bytes: usize,
        /// Size of the rejected message.
        size: usize,
    },
    /// A single message is larger than the outbox's byte capacity, so it can never be queued.
    MessageExceedsOutbox {
        /// Size of the message.
        size: usize,
        /// The outbox byte capacity.
        capacity: usize,
    },
    /// An option had a bad value.
    InvalidOption {
        /// The option's name.
        key: String,
        /// What is allowed.
        expected: String,
        /// What was supplied.
        got: String,
    },
    /// Reconnection stopped for good: retries exhausted or a close the policy treats as fatal.
    Failed {
        /// Why reconnection stopped.
        reason: String,
    },
    /// The `Stream` fell behind: its inbox was full (see `Options::inbox_messages`), so this
    /// many of the oldest received messages were dropped where this item stands.
    Lagged {
        /// How many messages were dropped.
        dropped: u64,
    },
    /// Resume mode: the server broke the resume protocol, or does not speak it. The reason
    /// names the frame type or what the server selected, never a payload or a session id.
    Resume {
        /// What went wrong.
        reason: String,
    },
    /// An unexpected JavaScript exception, with its message.
    Js {
        /// The exception's message.
        message: String,
    },
}

impl Error {
    /// The message `Display` shows: built from pieces (see `text`), so reporting an error
    /// does not link `core::fmt`'s machinery into the wasm.
    pub(crate) fn message(&self) -> String {
        match self {
            Error::InvalidUrl { url, reason } => {
                text(&[S("invalid WebSocket URL `"), S(url), S("`: "), S(reason)])
            }
            Error::InvalidScheme { scheme, url } => text(&[
                S("invalid WebSocket URL scheme `"),
                S(scheme),
                S("` (expected `ws` or `wss`) in `"),
                S(url),
                S("`"),
            ]),
            Error::InsecureUrl { url } => text(&[
                S("insecure URL `"),
                S(url),
                S("` refused: `secure_only` allows ws:// only to localhost"),
            ]),
            Error::InvalidProtocol { index, reason } => text(&[
                S("invalid subprotocol (number "),
                N(*index as u64 + 1),
                S(" in the list): "),
                S(reason),
            ]),
            Error::NotOpen => "the connection is not open yet (still connecting)".into(),
            Error::InvalidCloseCode { code } => text(&[
                S("invalid close code "),
                N(u64::from(*code)),
                S(": only 1000 and 3000-4999 may be sent by a client"),
            ]),
            Error::ReasonTooLong { bytes } => text(&[
                S("close reason is "),
                N(*bytes as u64),
                S(" UTF-8 bytes long; at most 123 are allowed"),
            ]),
            Error::Encode { message } => text(&[S("could not encode message: "), S(message)]),
            Error::Decode {
                message,
                kind,
                size,
            } => text(&[
                S("could not decode "),
                S(kind),
                S(" message of "),
                N(*size as u64),
                S(" bytes: "),
                S(message),
            ]),
            Error::MessageTooLarge { size, limit } => text(&[
                S("received message of "),
                N(*size as u64),
                S(" bytes exceeds the limit of "),
                N(*limit as u64),
                S(" bytes"),
            ]),
            Error::Closed { code, reason } => match (code, reason.is_empty()) {
                (Some(code), true) => text(&[
                    S("the connection is closed (code "),
                    N(u64::from(*code)),
                    S(")"),
                ]),
                (Some(code), false) => text(&[
                    S("the connection is closed (code "),
                    N(u64::from(*code)),
                    S(", reason `"),
                    S(reason),
                    S("`)"),
                ]),
                (None, _) => "the connection is closed".into(),
            },
            Error::ConnectFailed { url, detail } => {
                text(&[S("could not connect to `"), S(url), S("`: "), S(detail)])
            }
            Error::ConnectTimeout { url, after_ms } => text(&[
                S("connection to `"),
                S(url),
                S("` timed out after "),
                N(u64::from(*after_ms)),
                S(" ms"),
            ]),
            Error::OutboxFull {
                messages,
                bytes,
                size,
            } => text(&[
                S("outbox full ("),
                N(*messages as u64),
                S(" messages, "),
                N(*bytes as u64),
                S(" bytes queued); message of "),
                N(*size as u64),
                S(" bytes rejected"),
            ]),
            Error::MessageExceedsOutbox { size, capacity } => text(&[
                S("message of "),
                N(*size as u64),
                S(" bytes is larger than the outbox capacity of "),
                N(*capacity as u64),
                S(" bytes"),
            ]),
            Error::InvalidOption { key, expected, got } => text(&[
                S("invalid option `"),
                S(key),
                S("`: expected "),
                S(expected),
                S(", got "),
                S(got),
            ]),
            Error::Failed { reason } => text(&[S("connection failed for good: "), S(reason)]),
            Error::Lagged { dropped } => text(&[
                S("the stream fell behind: "),
                N(*dropped),
                S(" received messages were dropped (inbox full)"),
            ]),
            Error::Resume { reason } => text(&[S("resume protocol: "), S(reason)]),
            Error::Js { message } => text(&[S("JavaScript error: "), S(message)]),
        }
    }
}

impl Error {
    /// Whether this says a URL or its subprotocols cannot be used at all (retrying the same
    /// one cannot help).
    pub(crate) fn is_invalid_target(&self) -> bool {
        matches!(
            self,
            Error::InvalidUrl { .. }
                | Error::InvalidScheme { .. }
                | Error::InsecureUrl { .. }
                | Error::InvalidProtocol { .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for Error {}

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
            Error::Lagged { .. } => "Lagged",
            Error::Resume { .. } => "Resume",
            Error::Js { .. } => "Js",
        }
    }
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
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
    use alloc::boxed::Box;
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

    /// Every variant's message, as the crate has always written it (these strings were the
    /// `#[error]` formats before messages were built without `core::fmt`).
    #[test]
    fn every_message_is_unchanged() {
        let s = |v: &str| v.to_string();
        let cases = [
            (
                Error::InvalidUrl {
                    url: s("u"),
                    reason: s("r"),
                },
                "invalid WebSocket URL `u`: r",
            ),
            (
                Error::InvalidScheme {
                    scheme: s("http"),
                    url: s("http://h/"),
                },
                "invalid WebSocket URL scheme `http` (expected `ws` or `wss`) in `http://h/`",
            ),
            (
                Error::InsecureUrl { url: s("ws://h/") },
                "insecure URL `ws://h/` refused: `secure_only` allows ws:// only to localhost",
            ),
            (
                Error::InvalidProtocol {
                    index: 1,
                    reason: s("r"),
                },
                "invalid subprotocol (number 2 in the list): r",
            ),
            (
                Error::NotOpen,
                "the connection is not open yet (still connecting)",
            ),
            (
                Error::InvalidCloseCode { code: 1001 },
                "invalid close code 1001: only 1000 and 3000-4999 may be sent by a client",
            ),
            (
                Error::ReasonTooLong { bytes: 124 },
                "close reason is 124 UTF-8 bytes long; at most 123 are allowed",
            ),
            (
                Error::Encode { message: s("m") },
                "could not encode message: m",
            ),
            (
                Error::MessageTooLarge {
                    size: 2048,
                    limit: 1024,
                },
                "received message of 2048 bytes exceeds the limit of 1024 bytes",
            ),
            (
                Error::Closed {
                    code: Some(1000),
                    reason: String::new(),
                },
                "the connection is closed (code 1000)",
            ),
            (
                Error::ConnectFailed {
                    url: s("ws://h/"),
                    detail: s("d"),
                },
                "could not connect to `ws://h/`: d",
            ),
            (
                Error::ConnectTimeout {
                    url: s("ws://h/"),
                    after_ms: 10000,
                },
                "connection to `ws://h/` timed out after 10000 ms",
            ),
            (
                Error::OutboxFull {
                    messages: 3,
                    bytes: 30,
                    size: 7,
                },
                "outbox full (3 messages, 30 bytes queued); message of 7 bytes rejected",
            ),
            (
                Error::MessageExceedsOutbox {
                    size: 9,
                    capacity: 8,
                },
                "message of 9 bytes is larger than the outbox capacity of 8 bytes",
            ),
            (
                Error::InvalidOption {
                    key: s("k"),
                    expected: s("e"),
                    got: s("g"),
                },
                "invalid option `k`: expected e, got g",
            ),
            (
                Error::Failed { reason: s("r") },
                "connection failed for good: r",
            ),
            (Error::Js { message: s("m") }, "JavaScript error: m"),
            (
                Error::Decode {
                    message: s("m"),
                    kind: "binary",
                    size: 0,
                },
                "could not decode binary message of 0 bytes: m",
            ),
        ];
        for (error, want) in cases {
            assert_eq!(error.to_string(), want);
            assert_eq!(error.message(), want);
        }
        // The std error trait is the core one: `?` into `Box<dyn Error>` works.
        let boxed: Box<dyn std::error::Error> = Box::new(Error::NotOpen);
        assert_eq!(
            boxed.to_string(),
            "the connection is not open yet (still connecting)"
        );
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
