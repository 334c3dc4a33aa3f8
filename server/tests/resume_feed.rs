//! What `/ws/resume` adds to its echo: the ticker's market (`symbols=`, the dashboard's resume
//! feed), which keeps ticking into the session while no connection has it; the flood on `go`
//! (`flood=N&size=S`, the bench); and the 400s naming a bad value of either.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use resocket_resume::{decode_text, Control, Frame, Message as AppMessage, PROTOCOL};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

async fn open(addr: SocketAddr, path: &str) -> Ws {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(PROTOCOL));
    within("connect", tokio_tungstenite::connect_async(req))
        .await
        .unwrap()
        .0
}

async fn frame(ws: &mut Ws) -> Option<Frame> {
    loop {
        match within("frame", ws.next()).await {
            Some(Ok(Message::Text(t))) => return Some(decode_text(t.as_str().to_owned()).unwrap()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Binary(_))) => panic!("binary frame"),
            _ => return None,
        }
    }
}

async fn text(ws: &mut Ws) -> String {
    match frame(ws).await {
        Some(Frame::App(AppMessage::Text(t))) => t,
        other => panic!("expected an app text message, got {other:?}"),
    }
}

/// hello, welcome, the server's `from` and ours; returns (sid, the server's `sent`).
async fn handshake(ws: &mut Ws, sid: Option<String>, recv: u64, from: u64) -> (String, u64) {
    ws.send(Message::text(Control::Hello { sid, recv }.encode()))
        .await
        .unwrap();
    let Some(Frame::Control(Control::Welcome { sid, sent, .. })) = frame(ws).await else {
        panic!("no welcome")
    };
    let Some(Frame::Control(Control::From { .. })) = frame(ws).await else {
        panic!("no from")
    };
    ws.send(Message::text(Control::From { seq: from }.encode()))
        .await
        .unwrap();
    (sid, sent)
}

#[tokio::test]
async fn market_feed_answers_like_the_ticker_and_ticks_on_while_away() {
    let srv = server().await;
    let path = "/ws/resume?client=feed1&tick=10&symbols=BTC,ETH";
    let mut ws = open(srv.addr, path).await;
    let (sid, _) = handshake(&mut ws, None, 0, 1).await;
    ws.send(Message::text(r#"{"type":"ping","id":7}"#))
        .await
        .unwrap();
    ws.send(Message::text(r#"{"type":"subscribe","symbols":["SOL"]}"#))
        .await
        .unwrap();
    ws.send(Message::text("not the feed's")).await.unwrap();
    // Every message of the session counts; a tick carries its own number.
    let (mut count, mut symbols, mut answers) = (0u64, Vec::new(), Vec::new());
    while count < 12 || answers.len() < 3 {
        let t = text(&mut ws).await;
        count += 1;
        match serde_json::from_str::<Value>(&t) {
            Ok(v) if v["type"] == "tick" => {
                assert_eq!(v["seq"].as_u64(), Some(count), "{t}");
                assert!(v["price"].as_f64().unwrap() > 0.0);
                symbols.push(v["symbol"].as_str().unwrap().to_owned());
            }
            _ => answers.push(t),
        }
    }
    assert_eq!(
        answers,
        [
            r#"{"id":7,"type":"pong"}"#,
            r#"{"symbols":["BTC","ETH","SOL"],"type":"subscribed"}"#,
            "not the feed's"
        ]
    );
    assert_eq!(&symbols[..2], ["BTC", "ETH"]);
    assert!(symbols.iter().any(|s| s == "SOL"), "{symbols:?}");

    // Dropped (no close frame): the market goes on into the session.
    assert_eq!(
        control(srv.addr, "/control/drop?client=feed1").await["dropped"],
        1
    );
    while frame(&mut ws).await.is_some() {}
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ws = open(srv.addr, path).await;
    let (sid2, sent) = handshake(&mut ws, Some(sid.clone()), count, 4).await;
    assert_eq!(sid2, sid);
    assert!(
        sent >= count + 10,
        "ticked while away: sent {sent} after {count}"
    );
    // Replayed, then live: no hole, no repeat.
    while count < sent + 5 {
        let t = text(&mut ws).await;
        count += 1;
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["seq"].as_u64(), Some(count), "{t}");
    }
    let s = stats(srv.addr, "feed1").await;
    assert_eq!(s["max_concurrent"], 1);
}

#[tokio::test]
async fn flood_answers_go_with_n_messages_of_s_bytes() {
    let srv = server().await;
    let mut ws = open(srv.addr, "/ws/resume?client=feed2&flood=300&size=40").await;
    handshake(&mut ws, None, 0, 1).await;
    ws.send(Message::text("go")).await.unwrap();
    for i in 0..300u64 {
        let t = text(&mut ws).await;
        assert_eq!(t.len(), 40, "{t}");
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["seq"].as_u64(), Some(i));
    }
    assert_eq!(text(&mut ws).await, r#"{"type":"done","count":300}"#);
    // Anything but `go` is echoed.
    ws.send(Message::text("again?")).await.unwrap();
    assert_eq!(text(&mut ws).await, "again?");
}

#[tokio::test]
async fn bad_feed_and_flood_values_are_named() {
    let srv = server().await;
    for (query, name, value) in [
        ("symbols=btc", "symbols", "btc"),
        ("symbols=", "symbols", ""),
        ("flood=0", "flood", "0"),
        ("flood=x", "flood", "x"),
        ("flood=10&size=8", "size", "8"),
    ] {
        let (status, body) = http(srv.addr, "GET", &format!("/ws/resume?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        let error = serde_json::from_str::<Value>(&body).unwrap()["error"].to_string();
        assert!(
            error.contains(name) && error.contains(value),
            "{query}: {error}"
        );
    }
}
