//! Plain data shared by every layer: messages, close events and ready states.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

/// One WebSocket message.
///
/// ```
/// use resocket::Message;
/// let m = Message::from("hello");
/// assert_eq!(m.len(), 5);
/// assert!(matches!(m, Message::Text(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A UTF-8 text message.
    Text(String),
    /// A binary message (received as an `ArrayBuffer`).
    Binary(Vec<u8>),
}

impl Message {
    /// The payload's bytes (UTF-8 for text).
    ///
    /// ```
    /// assert_eq!(resocket::Message::Text("hi".into()).as_bytes(), b"hi");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) => bytes,
        }
    }

    /// Payload size in bytes (UTF-8 bytes for text).
    ///
    /// ```
    /// assert_eq!(resocket::Message::Binary(vec![1, 2, 3]).len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        match self {
            Message::Text(s) => s.len(),
            Message::Binary(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    ///
    /// ```
    /// assert!(resocket::Message::Text(String::new()).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `"text"` or `"binary"`.
    ///
    /// ```
    /// assert_eq!(resocket::Message::from(vec![0u8]).kind(), "binary");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Text(_) => "text",
            Message::Binary(_) => "binary",
        }
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s)
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.to_owned())
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(b)
    }
}

impl From<&[u8]> for Message {
    fn from(b: &[u8]) -> Self {
        Message::Binary(b.to_vec())
    }
}

/// The browser's `CloseEvent` as a plain value.
///
/// ```
/// let ev = resocket::CloseEvent { code: 4001, reason: "bye".into(), was_clean: true };
/// assert_eq!(ev.code, 4001);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseEvent {
    /// Close code (1006 when the connection ended without a close frame).
    pub code: u16,
    /// Close reason sent by the peer (may be empty).
    pub reason: String,
    /// Whether the closing handshake completed.
    pub was_clean: bool,
}

/// The browser WebSocket `readyState`.
///
/// ```
/// assert_eq!(resocket::ReadyState::from_u16(1), resocket::ReadyState::Open);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadyState {
    /// `CONNECTING` (0).
    Connecting,
    /// `OPEN` (1).
    Open,
    /// `CLOSING` (2).
    Closing,
    /// `CLOSED` (3).
    Closed,
}

impl ReadyState {
    /// Maps the numeric `readyState`; unknown values count as `Closed`.
    ///
    /// ```
    /// assert_eq!(resocket::ReadyState::from_u16(9), resocket::ReadyState::Closed);
    /// ```
    pub fn from_u16(value: u16) -> Self {
        match value {
            0 => ReadyState::Connecting,
            1 => ReadyState::Open,
            2 => ReadyState::Closing,
            _ => ReadyState::Closed,
        }
    }

    /// The numeric `readyState` value.
    ///
    /// ```
    /// assert_eq!(resocket::ReadyState::Closing.as_u16(), 2);
    /// ```
    pub fn as_u16(self) -> u16 {
        match self {
            ReadyState::Connecting => 0,
            ReadyState::Open => 1,
            ReadyState::Closing => 2,
            ReadyState::Closed => 3,
        }
    }
}
