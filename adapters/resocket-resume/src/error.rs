//! The adapter's errors. They name the bad value, never a session id or a payload.

/// An error of the resume adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The `Origin` header is not in the allowlist (or missing where one is required).
    #[error("origin {origin:?} is not allowed")]
    OriginNotAllowed {
        /// The origin presented (`None`: no header).
        origin: Option<String>,
    },
    /// The peer broke the protocol (closed with 1002).
    #[error("resume protocol error: {0}")]
    Protocol(String),
    /// The peer did not send `hello` in time (closed with 4408).
    #[error("no hello within {ms} ms")]
    HelloTimeout {
        /// The limit.
        ms: u64,
    },
    /// A message over the size bound.
    #[error("message of {size} bytes, at most {limit} allowed")]
    TooLarge {
        /// The message's size.
        size: usize,
        /// The bound.
        limit: usize,
    },
    /// The session's resend buffer is full and the overflow policy is `Reject`.
    #[error("resend buffer full ({messages} messages, {bytes} bytes buffered)")]
    BufferFull {
        /// Messages buffered.
        messages: u64,
        /// Bytes buffered.
        bytes: u64,
    },
    /// The store holds its maximum number of sessions (closed with 1013).
    #[error("session limit reached ({limit} sessions)")]
    TooManySessions {
        /// The bound.
        limit: usize,
    },
    /// Another connection resumed this session (this one was closed with 4409).
    #[error("the session was resumed on another connection")]
    Superseded,
    /// The session is gone (expired or ended with `bye`).
    #[error("the session is gone (expired or ended)")]
    SessionGone,
    /// The connection ended. A message sent now is kept in the session's resend buffer and
    /// replayed when the client resumes.
    #[error("the connection is closed")]
    Disconnected,
    /// The session store failed (the cause, without keys or values).
    #[error("session store error: {0}")]
    Store(String),
    /// The operating system's random source failed.
    #[error("no random source: {0}")]
    Random(String),
    /// Writing to or reading from the WebSocket failed.
    #[error("websocket error: {0}")]
    Transport(String),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
