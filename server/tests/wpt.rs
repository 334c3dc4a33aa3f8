//! `/ws/wpt/echo`, the peer of the ported web-platform-tests, against a real
//! tungstenite client: the subprotocol it selects, the echo, the close after
//! `Goodbye`, and the reply to a client's close (same code and reason, or
//! none).

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

const PATH: &str = "/ws/wpt/echo";

/// Sends a close frame (or an empty one) and returns the server's reply.
async fn close_reply(ws: &mut Ws, frame: Option<CloseFrame>) -> Option<CloseFrame> {
    within("close", ws.close(frame)).await.expect("send close");
    match recv(ws).await {
        Message::Close(reply) => reply,
        other => panic!("expected the close reply, got {other:?}"),
    }
}

#[tokio::test]
async fn selects_echo_only_when_offered() {
    let srv = server().await;
    for offered in ["echo", "chat, echo", "echo, chat"] {
        let (ws, got) = ws_protocols(srv.addr, PATH, offered).await;
        assert_eq!(got.as_deref(), Some("echo"), "offered {offered:?}");
        close(ws).await;
    }
    // Nothing selected otherwise (tungstenite refuses that answer to an
    // offer, as browsers do not: read the raw handshake).
    for offered in [&[("Sec-WebSocket-Protocol", "chat")][..], &[]] {
        let (status, headers) = raw_upgrade(srv.addr, PATH, offered).await;
        assert_eq!(status, 101, "offered {offered:?}");
        let selected = headers.iter().find(|(k, _)| k == "sec-websocket-protocol");
        assert_eq!(selected, None, "offered {offered:?}");
    }
}

#[tokio::test]
async fn echoes_text_and_binary_unchanged() {
    let srv = server().await;
    let mut ws = connect(srv.addr, PATH).await;
    let big = "c".repeat(0x10000);
    for text in [
        "",
        "Message to send",
        "\u{a5}\u{a5}",
        "\u{10407}",
        big.as_str(),
    ] {
        send_text(&mut ws, text).await;
        assert_eq!(recv(&mut ws).await, Message::text(text));
    }
    let bytes: Vec<u8> = (0..=255u8).cycle().take(65_000).collect();
    within("send", ws.send(Message::binary(bytes.clone())))
        .await
        .expect("send binary");
    assert_eq!(recv(&mut ws).await, Message::binary(bytes));
    close(ws).await;
}

#[tokio::test]
async fn goodbye_is_echoed_then_the_server_closes_with_1000() {
    let srv = server().await;
    let mut ws = connect(srv.addr, PATH).await;
    send_text(&mut ws, "Goodbye").await;
    assert_eq!(recv(&mut ws).await, Message::text("Goodbye"));
    match recv(&mut ws).await {
        Message::Close(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::Normal);
            assert_eq!(frame.reason.as_str(), "");
        }
        other => panic!("expected a close frame with 1000, got {other:?}"),
    }
    // The client's reply completes the handshake: the stream ends.
    within("end", async { while let Some(Ok(_)) = ws.next().await {} }).await;
}

#[tokio::test]
async fn a_client_close_is_answered_with_its_code_and_reason() {
    let srv = server().await;
    for (code, reason) in [(1000, "Clean Close"), (3000, ""), (4999, "\u{fffd}")] {
        let mut ws = connect(srv.addr, PATH).await;
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let reply = close_reply(&mut ws, Some(frame)).await.expect("a code");
        assert_eq!(u16::from(reply.code), code);
        assert_eq!(reply.reason.as_str(), reason);
    }
    // Without a code (the browser's close() with no argument): none back,
    // which the browser reports as 1005.
    let mut ws = connect(srv.addr, PATH).await;
    assert_eq!(close_reply(&mut ws, None).await, None);
}
