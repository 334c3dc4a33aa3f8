//! The fault-injection control API.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

/// Reads until the stream ends; returns whether a close frame came first.
async fn ends_with_close_frame(ws: &mut Ws) -> Option<(u16, String)> {
    within("stream end", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(f))) => {
                    // Keep polling so tungstenite flushes its close reply.
                    while let Some(Ok(_)) = ws.next().await {}
                    return f.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(other)) => panic!("unexpected message {other:?}"),
                // Reset without a closing handshake, or EOF: no close frame.
                Some(Err(WsError::Protocol(_) | WsError::Io(_))) | None => return None,
                Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => return None,
                Some(Err(e)) => panic!("unexpected error {e}"),
            }
        }
    })
    .await
}

async fn echo_roundtrip(ws: &mut Ws, text: &str) {
    send_text(ws, text).await;
    match recv(ws).await {
        Message::Text(t) => assert_eq!(t.as_str(), text),
        other => panic!("expected echo, got {other:?}"),
    }
}

#[tokio::test]
async fn drop_ends_the_stream_without_a_close_frame() {
    let srv = server().await;
    let mut a = connect(srv.addr, "/ws/echo?client=drop-a").await;
    let mut b = connect(srv.addr, "/ws/echo?client=drop-b").await;
    echo_roundtrip(&mut a, "x").await;

    let r = control(srv.addr, "/control/drop?client=drop-a").await;
    assert_eq!(r, json!({"ok":true,"dropped":1}));
    assert_eq!(ends_with_close_frame(&mut a).await, None);
    // The reply comes after the drop took effect.
    let s = stats(srv.addr, "drop-a").await;
    assert_eq!(s["current_connections"], 0);
    assert_eq!(
        s["closes"],
        json!([{"code":null,"reason":"","at_ms":s["closes"][0]["at_ms"]}])
    );

    // Other clients are untouched.
    echo_roundtrip(&mut b, "still here").await;
    // Without client= it hits everyone.
    let mut c = connect(srv.addr, "/ws/ticker?client=drop-c").await;
    let r = control(srv.addr, "/control/drop").await;
    assert_eq!(r["dropped"], 2);
    assert_eq!(ends_with_close_frame(&mut b).await, None);
    assert_eq!(ends_with_close_frame(&mut c).await, None);
    assert_eq!(control(srv.addr, "/control/drop").await["dropped"], 0);
}

#[tokio::test]
async fn close_sends_the_code_and_reason() {
    let srv = server().await;
    let mut a = connect(srv.addr, "/ws/echo?client=close-a").await;
    let r = control(
        srv.addr,
        "/control/close?client=close-a&code=4001&reason=bye",
    )
    .await;
    assert_eq!(r, json!({"ok":true,"closed":1}));
    assert_eq!(
        ends_with_close_frame(&mut a).await,
        Some((4001, "bye".to_string()))
    );
    // tungstenite echoes the code; the server records the client's frame.
    let s = wait_stats(srv.addr, "close-a", |s| s["current_connections"] == 0).await;
    assert_eq!(s["closes"][0]["code"], 4001);
    assert_eq!(s["closes"][0]["reason"], "bye");

    for (code, reason) in [(1000u16, ""), (1012, "restart"), (3000, "x")] {
        let mut ws = connect(srv.addr, "/ws/ticker?client=close-b").await;
        let path = format!("/control/close?client=close-b&code={code}&reason={reason}");
        assert_eq!(control(srv.addr, &path).await["closed"], 1);
        assert_eq!(
            ends_with_close_frame(&mut ws).await,
            Some((code, reason.to_string()))
        );
    }
    let long = "r".repeat(124);
    let (status, _) = http(srv.addr, "POST", &format!("/control/close?reason={long}")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn refuse_gives_503_then_recovers() {
    let srv = server().await;
    let r = control(srv.addr, "/control/refuse?ms=400").await;
    assert_eq!(r, json!({"ok":true,"refusing_ms":400}));
    let t0 = Instant::now();
    assert_eq!(
        try_ws(srv.addr, "/ws/echo?client=ref").await.err(),
        Some(503)
    );
    let s = stats(srv.addr, "ref").await;
    assert_eq!(
        (s["attempts"].as_u64(), s["refused"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(s["total_connections"], 0);

    let mut ws = within("recover", async {
        loop {
            match try_ws(srv.addr, "/ws/echo?client=ref").await {
                Ok(ws) => return ws,
                Err(503) => tokio::time::sleep(Duration::from_millis(25)).await,
                Err(other) => panic!("status {other}"),
            }
        }
    })
    .await;
    assert!(
        t0.elapsed() >= Duration::from_millis(350),
        "recovered too early"
    );
    echo_roundtrip(&mut ws, "back").await;
    let s = stats(srv.addr, "ref").await;
    assert_eq!(s["total_connections"], 1);
    assert_eq!(
        s["attempts"].as_u64(),
        Some(s["refused"].as_u64().unwrap() + 1)
    );

    // Per client, and ms=0 cancels.
    control(srv.addr, "/control/refuse?ms=60000&client=ref2").await;
    assert_eq!(
        try_ws(srv.addr, "/ws/echo?client=ref2").await.err(),
        Some(503)
    );
    assert!(try_ws(srv.addr, "/ws/echo?client=other").await.is_ok());
    control(srv.addr, "/control/refuse?ms=0&client=ref2").await;
    assert!(try_ws(srv.addr, "/ws/echo?client=ref2").await.is_ok());
}

#[tokio::test]
async fn silence_stops_output_then_resumes() {
    let srv = server().await;
    let mut echo = connect(srv.addr, "/ws/echo?client=sil").await;
    let mut tick = connect(srv.addr, "/ws/ticker?client=sil&rate=100&symbols=BTC").await;
    let before = recv_json(&mut tick).await["seq"].as_u64().unwrap();

    let r = control(srv.addr, "/control/silence?client=sil&ms=500").await;
    assert_eq!(r, json!({"ok":true,"silenced":2,"ms":500}));
    let t0 = Instant::now();
    // Drain ticks that were already in flight before the silence.
    within("drain", async {
        while tokio::time::timeout(Duration::from_millis(30), tick.next())
            .await
            .is_ok()
        {}
    })
    .await;
    send_text(&mut echo, "lost").await;
    send_text(&mut echo, r#"{"type":"ping"}"#).await;
    expect_quiet(&mut echo, Duration::from_millis(250)).await;
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "machine too slow for this check"
    );
    // Inbound is still recorded.
    let s = stats(srv.addr, "sil").await;
    assert_eq!(
        s["messages"],
        json!([{"t":"lost"},{"t":"{\"type\":\"ping\"}"}])
    );

    // After the window: ticks resume with a gap, echo works again.
    let after = recv_json(&mut tick).await["seq"].as_u64().unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(450),
        "ticked during silence"
    );
    assert!(after >= before + 40, "expected a gap: {before} -> {after}");
    echo_roundtrip(&mut echo, "heard").await;

    // ms=0 ends a silence early.
    control(srv.addr, "/control/silence?client=sil&ms=60000").await;
    send_text(&mut echo, "lost too").await;
    expect_quiet(&mut echo, Duration::from_millis(100)).await;
    control(srv.addr, "/control/silence?client=sil&ms=0").await;
    echo_roundtrip(&mut echo, "heard again").await;
}

#[tokio::test]
async fn malformed_payloads_arrive() {
    let srv = server().await;
    let mut ws = connect(srv.addr, "/ws/echo?client=mal").await;
    let r = control(srv.addr, "/control/malformed?client=mal&kind=json").await;
    assert_eq!(r, json!({"ok":true,"sent":1}));
    match recv(&mut ws).await {
        Message::Text(t) => {
            assert_eq!(t.as_str(), "{\"type\":\"tick\",\"seq\":");
            assert_eq!(t.as_str(), resocket_server::MALFORMED_TEXT);
            assert!(serde_json::from_str::<Value>(&t).is_err());
        }
        other => panic!("expected text, got {other:?}"),
    }
    control(srv.addr, "/control/malformed?client=mal&kind=binary").await;
    let blob = match recv(&mut ws).await {
        Message::Binary(b) => b,
        other => panic!("expected binary, got {other:?}"),
    };
    assert!(blob.len() >= 16);
    assert!(std::str::from_utf8(&blob).is_err());
    // Default kind is both, text first.
    control(srv.addr, "/control/malformed?client=mal").await;
    assert!(matches!(recv(&mut ws).await, Message::Text(_)));
    assert!(matches!(recv(&mut ws).await, Message::Binary(_)));
    // The socket still works.
    echo_roundtrip(&mut ws, "ok").await;
}

#[tokio::test]
async fn reset_clears_stats_refuse_and_silence() {
    let srv = server().await;
    let mut ws = connect(srv.addr, "/ws/echo?client=rst&token=t0").await;
    echo_roundtrip(&mut ws, "before").await;
    control(srv.addr, "/control/silence?ms=60000").await;
    control(srv.addr, "/control/refuse?ms=60000").await;
    assert_eq!(
        try_ws(srv.addr, "/ws/echo?client=rst2").await.err(),
        Some(503)
    );

    assert_eq!(
        control(srv.addr, "/control/reset").await,
        json!({"ok":true})
    );
    let s = stats(srv.addr, "rst").await;
    assert_eq!(s["attempts"], 0);
    assert_eq!(s["message_count"], 0);
    assert_eq!(s["messages"], json!([]));
    assert_eq!(s["tokens"], json!([]));
    // The live socket still counts as connected.
    assert_eq!(s["current_connections"], 1);
    assert_eq!(stats(srv.addr, "rst2").await["refused"], 0);

    // Silence and refuse are cancelled.
    echo_roundtrip(&mut ws, "after").await;
    let ws2 = try_ws(srv.addr, "/ws/echo?client=rst2")
        .await
        .expect("not refused");
    // Messages of connections from before the reset are not recorded.
    let s = stats(srv.addr, "rst").await;
    assert_eq!(s["messages"], json!([]));
    close(ws).await;
    close(ws2).await;
    let s = wait_stats(srv.addr, "rst", |s| s["current_connections"] == 0).await;
    assert_eq!(s["closes"], json!([]));
}

#[tokio::test]
async fn control_accepts_get_and_post_only() {
    let srv = server().await;
    assert_eq!(http(srv.addr, "GET", "/control/drop").await.0, 200);
    assert_eq!(http(srv.addr, "POST", "/control/drop").await.0, 200);
    assert_eq!(http(srv.addr, "DELETE", "/control/drop").await.0, 405);
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001_and_frees_the_port() {
    let srv = server().await;
    let addr = srv.addr;
    let mut ws = connect(addr, "/ws/echo?client=sd").await;
    echo_roundtrip(&mut ws, "x").await;
    let (ws_end, done) = tokio::join!(
        ends_with_close_frame(&mut ws),
        within("shutdown", srv.shutdown())
    );
    done.expect("clean shutdown");
    assert_eq!(ws_end.map(|c| c.0), Some(1001));
    // Restart on the same port immediately.
    let again = start(Config {
        port: addr.port(),
        ..Config::default()
    })
    .await
    .expect("rebind the same port");
    let mut ws = connect(again.addr, "/ws/echo?client=sd").await;
    echo_roundtrip(&mut ws, "again").await;
    within("ws send", ws.send(Message::text("bye")))
        .await
        .unwrap();
}
