//! What the application sends and receives, and what it is told about gaps.

/// An application message: text or binary, exactly as the peer's application sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl Message {
    /// The payload size in bytes (what the buffer bounds count).
    ///
    /// ```
    /// assert_eq!(resocket_resume::Message::from("héllo").len(), 6);
    /// ```
    pub fn len(&self) -> usize {
        match self {
            Message::Text(t) => t.len(),
            Message::Binary(b) => b.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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

/// What [`crate::ResumeSocket::recv`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// The next application message, in order, exactly once.
    Message(Message),
    /// The client's messages `from ..= to` are gone for good (its buffer no longer held them
    /// at the resume): the application is told instead of seeing a silent hole.
    Gap {
        /// The first missing seq.
        from: u64,
        /// The last missing seq.
        to: u64,
    },
}
