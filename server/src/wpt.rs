//! The peer the ported web-platform-tests (`tests/e2e/wpt.test.mjs`) need
//! where `/ws/echo` differs from the WPT server's `echo` handler: it selects
//! the subprotocol `echo` when offered, and closes with 1000 after echoing
//! the text `Goodbye` (the WPT's "server-initiated close" case).
//!
//! A close from the client is answered with the same code and reason (no
//! code when it sent none), which is how the WPT's close-code cases see
//! their own code and reason in the `close` event. These sockets are not
//! counted in `/stats` and `/control` does not reach them: the WPT cases
//! need a plain peer, nothing more.

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;

use crate::ws::MAX_MESSAGE;

/// The subprotocol the WPT `echo` handler accepts.
const PROTOCOL: &str = "echo";
/// The text after whose echo the server closes.
const GOODBYE: &str = "Goodbye";
/// The code of that server-initiated close.
const NORMAL: u16 = 1000;

/// `GET /ws/wpt/echo`: echo, subprotocol `echo`, `Goodbye` closes.
pub async fn echo(ws: WebSocketUpgrade) -> Response {
    ws.protocols([PROTOCOL])
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(echo_loop)
}

async fn echo_loop(mut socket: WebSocket) {
    // `recv` ends after the close handshake; reading on after a close frame
    // arrived is what sends the reply the WebSocket layer queued for it (the
    // client's own code and reason).
    while let Some(Ok(message)) = socket.recv().await {
        let goodbye = matches!(&message, Message::Text(t) if t.as_str() == GOODBYE);
        let reply = match message {
            Message::Text(_) | Message::Binary(_) => message,
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => continue,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
        if goodbye {
            let frame = CloseFrame {
                code: NORMAL,
                reason: "".into(),
            };
            if socket.send(Message::Close(Some(frame))).await.is_err() {
                return;
            }
        }
    }
}
