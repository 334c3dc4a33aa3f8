//! The WebSocket message types the adapter speaks through: tungstenite's (tokio-tungstenite
//! servers) and axum's.

/// What the adapter needs from a WebSocket message type.
pub trait WireMessage: Sized + Send + 'static {
    /// A text frame.
    fn text(text: String) -> Self;
    /// A binary frame.
    fn binary(data: Vec<u8>) -> Self;
    /// A close frame with a code and a reason (at most 123 bytes).
    fn close(code: u16, reason: &str) -> Self;
    /// What the frame is.
    fn into_wire(self) -> Wire;
}

/// A frame as the adapter sees it.
#[derive(Debug)]
pub enum Wire {
    /// Text.
    Text(String),
    /// Binary.
    Binary(Vec<u8>),
    /// The peer's close frame.
    Close,
    /// Ping or pong (the WebSocket library answers pings itself).
    Other,
}

#[cfg(feature = "tungstenite")]
impl WireMessage for tungstenite::Message {
    fn text(text: String) -> Self {
        tungstenite::Message::Text(text.into())
    }
    fn binary(data: Vec<u8>) -> Self {
        tungstenite::Message::Binary(data.into())
    }
    fn close(code: u16, reason: &str) -> Self {
        tungstenite::Message::Close(Some(tungstenite::protocol::CloseFrame {
            code: code.into(),
            reason: reason.to_owned().into(),
        }))
    }
    fn into_wire(self) -> Wire {
        match self {
            tungstenite::Message::Text(t) => Wire::Text(t.as_str().to_owned()),
            tungstenite::Message::Binary(b) => Wire::Binary(b.to_vec()),
            tungstenite::Message::Close(_) => Wire::Close,
            _ => Wire::Other,
        }
    }
}

#[cfg(feature = "axum")]
impl WireMessage for axum::extract::ws::Message {
    fn text(text: String) -> Self {
        axum::extract::ws::Message::Text(text.into())
    }
    fn binary(data: Vec<u8>) -> Self {
        axum::extract::ws::Message::Binary(data.into())
    }
    fn close(code: u16, reason: &str) -> Self {
        axum::extract::ws::Message::Close(Some(axum::extract::ws::CloseFrame {
            code,
            reason: reason.to_owned().into(),
        }))
    }
    fn into_wire(self) -> Wire {
        use axum::extract::ws::Message as M;
        match self {
            M::Text(t) => Wire::Text(t.as_str().to_owned()),
            M::Binary(b) => Wire::Binary(b.to_vec()),
            M::Close(_) => Wire::Close,
            _ => Wire::Other,
        }
    }
}
