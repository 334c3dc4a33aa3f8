//! The WebSocket endpoints against a real tungstenite client.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

#[tokio::test]
async fn echo_is_byte_exact_for_text_and_binary() {
    let srv = server().await;
    let mut ws = connect(srv.addr, "/ws/echo?client=echo1").await;
    let big_text: String = "résumé ✓ 日本語 🚀 ".repeat(40_000);
    assert!(big_text.len() > 1 << 20);
    let texts = [
        "".to_string(),
        "hello".into(),
        "héllo ✓ 日本 🚀".into(),
        big_text,
    ];
    for t in &texts {
        within("send", ws.send(Message::text(t.clone())))
            .await
            .unwrap();
        match recv(&mut ws).await {
            Message::Text(got) => assert!(got.as_str() == t, "text of {} bytes differs", t.len()),
            other => panic!("expected text, got {other:?}"),
        }
    }
    let bins = [
        Vec::new(),
        (0..=255u8).collect(),
        pseudo_random((1 << 20) + 7, 42),
    ];
    for b in &bins {
        within("send", ws.send(Message::binary(b.clone())))
            .await
            .unwrap();
        match recv(&mut ws).await {
            Message::Binary(got) => {
                assert!(got[..] == b[..], "binary of {} bytes differs", b.len())
            }
            other => panic!("expected binary, got {other:?}"),
        }
    }
    close(ws).await;
}

#[tokio::test]
async fn echo_selects_the_first_offered_known_subprotocol() {
    let srv = server().await;
    for (offered, expected) in [
        (&["nope", "resocket.v1"][..], Some("resocket.v1")),
        (&["json, chat"][..], Some("json")),
        (&["chat", "resocket.v2, json"][..], Some("chat")),
        (&["resocket.v2"][..], Some("resocket.v2")),
        (&["nope"][..], None),
        (&[][..], None),
    ] {
        // Several header lines and comma lists both count, in order.
        let extra: Vec<(&str, &str)> = offered
            .iter()
            .map(|p| ("Sec-WebSocket-Protocol", *p))
            .collect();
        let (status, headers) = raw_upgrade(srv.addr, "/ws/echo?client=proto", &extra).await;
        assert_eq!(status, 101, "offered {offered:?}");
        let selected = headers
            .iter()
            .find(|(k, _)| k == "sec-websocket-protocol")
            .map(|(_, v)| v.as_str());
        assert_eq!(selected, expected, "offered {offered:?}");
    }
    // A real client agrees.
    let (ws, selected) = ws_protocols(srv.addr, "/ws/echo?client=proto", "nope, resocket.v1").await;
    assert_eq!(selected.as_deref(), Some("resocket.v1"));
    close(ws).await;
}

#[derive(Deserialize, Debug)]
struct Tick {
    #[serde(rename = "type")]
    kind: String,
    seq: u64,
    symbol: String,
    price: f64,
    ts: u64,
}

async fn next_tick(ws: &mut Ws) -> Tick {
    loop {
        let v = recv_json(ws).await;
        if v["type"] == "tick" {
            return serde_json::from_value(v).expect("tick shape");
        }
    }
}

#[tokio::test]
async fn ticker_sends_contiguous_ticks_and_handles_subscribe_and_ping() {
    let srv = server().await;
    let mut ws = connect(srv.addr, "/ws/ticker?client=tick1&symbols=BTC,ETH&rate=100").await;
    let syms = ["BTC", "ETH"];
    let first = next_tick(&mut ws).await;
    let mut last = first.seq;
    assert_eq!(first.kind, "tick");
    for _ in 0..10 {
        let t = next_tick(&mut ws).await;
        assert_eq!(t.seq, last + 1, "contiguous seq");
        assert_eq!(t.symbol, syms[(t.seq % 2) as usize]);
        assert!(t.price > 0.0);
        assert_eq!((t.price * 100.0).round() / 100.0, t.price, "2 decimals");
        assert!(t.ts > 1_600_000_000_000);
        assert_eq!(t.price, resocket_server::price(&t.symbol, t.seq));
        last = t.seq;
    }

    send_text(&mut ws, r#"{"type":"subscribe","symbols":["XRP"]}"#).await;
    let v = recv_type(&mut ws, "subscribed").await;
    assert_eq!(v["symbols"], json!(["BTC", "ETH", "XRP"]));
    // Ticks after the reply follow the new list.
    let syms3 = ["BTC", "ETH", "XRP"];
    for _ in 0..6 {
        let t = next_tick(&mut ws).await;
        assert_eq!(t.symbol, syms3[(t.seq % 3) as usize], "seq {}", t.seq);
    }

    send_text(&mut ws, r#"{"type":"ping","id":7,"t":"x"}"#).await;
    let pong = recv_type(&mut ws, "pong").await;
    assert_eq!(pong, json!({"type":"pong","id":7,"t":"x"}));

    send_text(&mut ws, "not json").await;
    let err = recv_type(&mut ws, "error").await;
    assert!(
        err["message"].as_str().unwrap().contains("invalid JSON"),
        "{err}"
    );
    send_text(&mut ws, r#"{"type":"subscribe","symbols":["bad!"]}"#).await;
    let err = recv_type(&mut ws, "error").await;
    assert!(err["message"].as_str().unwrap().contains("bad!"), "{err}");
    within("send", ws.send(Message::binary(vec![1, 2, 3])))
        .await
        .unwrap();
    recv_type(&mut ws, "error").await;

    send_text(
        &mut ws,
        r#"{"type":"unsubscribe","symbols":["BTC","ETH","XRP"]}"#,
    )
    .await;
    let v = recv_type(&mut ws, "subscribed").await;
    assert_eq!(v["symbols"], json!([]));
    // An empty set sends nothing.
    expect_quiet(&mut ws, Duration::from_millis(150)).await;
    close(ws).await;
}

#[tokio::test]
async fn ticker_reconnect_sees_a_gap_of_the_missed_ticks() {
    let srv = server().await;
    let path = "/ws/ticker?client=tick2&symbols=BTC&rate=100";
    let mut ws1 = connect(srv.addr, path).await;
    let a = next_tick(&mut ws1).await.seq;
    let closed_at = Instant::now();
    close(ws1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ws2 = connect(srv.addr, path).await;
    let b = next_tick(&mut ws2).await.seq;
    let away_ms = closed_at.elapsed().as_millis() as u64;
    // At 100/s, being away >= 300 ms skips at least ~30 ticks and at most
    // the time away (plus a tick of slack).
    assert!(b >= a + 25, "gap too small: {a} -> {b}");
    assert!(
        b <= a + away_ms / 10 + 3,
        "gap too large: {a} -> {b} after {away_ms} ms"
    );
    close(ws2).await;
}

#[tokio::test]
async fn chat_broadcasts_to_the_room_with_presence() {
    let srv = server().await;
    let mut alice = connect(srv.addr, "/ws/chat?client=c-alice&room=r1&name=alice").await;
    let j = recv_type(&mut alice, "join").await;
    assert_eq!(
        (j["name"].as_str(), j["online"].as_u64()),
        (Some("alice"), Some(1))
    );

    // Default name = client id.
    let mut bob = connect(srv.addr, "/ws/chat?client=c-bob&room=r1").await;
    let j = recv_type(&mut alice, "join").await;
    assert_eq!(
        (j["name"].as_str(), j["online"].as_u64()),
        (Some("c-bob"), Some(2))
    );
    recv_type(&mut bob, "join").await;

    let mut carol = connect(srv.addr, "/ws/chat?client=c-carol&room=r2&name=carol").await;
    recv_type(&mut carol, "join").await;

    send_text(&mut alice, r#"{"type":"chat","text":"hi ✓"}"#).await;
    let a1 = recv_type(&mut alice, "chat").await;
    let b1 = recv_type(&mut bob, "chat").await;
    assert_eq!(a1, b1);
    assert_eq!(a1["from"], "alice");
    assert_eq!(a1["text"], "hi ✓");
    assert!(a1["ts"].as_u64().unwrap() > 1_600_000_000_000);

    send_text(&mut bob, "plain words").await;
    let a2 = recv_type(&mut alice, "chat").await;
    let b2 = recv_type(&mut bob, "chat").await;
    assert_eq!(a2, b2);
    assert_eq!(a2["text"], "plain words");
    assert_eq!(a2["from"], "c-bob");
    assert!(a2["id"].as_u64().unwrap() > a1["id"].as_u64().unwrap());

    // Another room does not see r1's messages: carol's own line is the
    // first chat she gets.
    send_text(&mut carol, "only r2").await;
    let c = recv_type(&mut carol, "chat").await;
    assert_eq!(c["text"], "only r2");

    send_text(&mut bob, r#"{"type":"ping","n":1}"#).await;
    assert_eq!(
        recv_type(&mut bob, "pong").await,
        json!({"type":"pong","n":1})
    );
    send_text(&mut bob, r#"{"type":"dance"}"#).await;
    recv_type(&mut bob, "error").await;

    close(bob).await;
    let l = recv_type(&mut alice, "leave").await;
    assert_eq!(
        (l["name"].as_str(), l["online"].as_u64()),
        (Some("c-bob"), Some(1))
    );
    close(alice).await;
    close(carol).await;
}

#[derive(Deserialize)]
struct FloodText {
    seq: u64,
    v: String,
}

/// Reads a text flood of `count` messages of `size` bytes plus the marker.
async fn read_text_flood(ws: &mut Ws, count: u64, size: usize) {
    for i in 0..count {
        match recv(ws).await {
            Message::Text(t) => {
                assert_eq!(t.len(), size, "message {i}");
                let m: FloodText = serde_json::from_str(&t).expect("flood json");
                assert_eq!(m.seq, i);
                assert!(m.v.bytes().all(|b| b == b'x'));
            }
            other => panic!("message {i}: expected text, got {other:?}"),
        }
    }
    assert_eq!(recv_json(ws).await, json!({"type":"done","count":count}));
}

#[tokio::test]
async fn flood_sends_exact_text_messages_then_marker() {
    let srv = server().await;
    let mut ws = connect(srv.addr, "/ws/flood?client=fl1&count=500&size=100").await;
    read_text_flood(&mut ws, 500, 100).await;
    close(ws).await;

    let mut ws = connect(srv.addr, "/ws/flood?client=fl1&count=3&size=16").await;
    read_text_flood(&mut ws, 3, 16).await;
    close(ws).await;

    // Defaults: 1000 messages of 64 bytes.
    let mut ws = connect(srv.addr, "/ws/flood?client=fl1").await;
    read_text_flood(&mut ws, 1000, 64).await;
    close(ws).await;
}

#[tokio::test]
async fn flood_sends_exact_binary_messages_then_marker() {
    let srv = server().await;
    for (count, size) in [(300u64, 16usize), (5, 1 << 20)] {
        let path = format!("/ws/flood?client=fl2&count={count}&size={size}&binary=1");
        let mut ws = connect(srv.addr, &path).await;
        for i in 0..count {
            match recv(&mut ws).await {
                Message::Binary(b) => {
                    assert_eq!(b.len(), size);
                    assert_eq!(u64::from_le_bytes(b[..8].try_into().unwrap()), i);
                }
                other => panic!("expected binary, got {other:?}"),
            }
        }
        assert_eq!(
            recv_json(&mut ws).await,
            json!({"type":"done","count":count})
        );
        close(ws).await;
    }
}

#[tokio::test]
async fn flood_with_wait_starts_after_the_first_inbound_message() {
    let srv = server().await;
    let mut ws = connect(srv.addr, "/ws/flood?client=fl3&count=20&size=32&wait=1").await;
    expect_quiet(&mut ws, Duration::from_millis(200)).await;
    send_text(&mut ws, "go").await;
    read_text_flood(&mut ws, 20, 32).await;
    let s = stats(srv.addr, "fl3").await;
    assert_eq!(s["messages"], json!([{"t":"go"}]));
    close(ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_pushes_50k_small_messages_quickly() {
    let srv = server().await;
    let mut ws = connect(srv.addr, "/ws/flood?client=fl4&count=50000&size=64&wait=1").await;
    send_text(&mut ws, "go").await;
    let t0 = Instant::now();
    let mut n = 0u64;
    within("flood", async {
        while let Some(m) = ws.next().await {
            match m.expect("message") {
                Message::Text(t) if t.starts_with("{\"type\":\"done\"") => break,
                Message::Text(t) => {
                    assert_eq!(t.len(), 64);
                    n += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    let took = t0.elapsed();
    eprintln!("flood: 50000 x 64 B in {took:?}");
    assert_eq!(n, 50_000);
    // Generous for debug builds on a loaded machine; release is ~10x faster.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    close(ws).await;
}

#[tokio::test]
async fn bad_query_values_get_400_naming_the_value() {
    let srv = server().await;
    let cases = [
        ("/ws/ticker?rate=0", "rate=\"0\""),
        ("/ws/ticker?rate=fast", "rate=\"fast\""),
        ("/ws/ticker?rate=1001", "rate=\"1001\""),
        ("/ws/ticker?symbols=btc", "\"btc\""),
        ("/ws/ticker?symbols=BTC,,ETH", "symbols="),
        ("/ws/flood?size=15", "size=\"15\""),
        ("/ws/flood?size=16&count=100", "size=16"),
        ("/ws/flood?count=10000001", "count=\"10000001\""),
        ("/ws/flood?binary=2", "binary=\"2\""),
        ("/ws/flood?wait=yes", "wait=\"yes\""),
        ("/ws/echo?client=", "client="),
        ("/ws/chat?room=", "room="),
        ("/control/close?code=1006", "code=1006"),
        ("/control/close?code=99999", "code=\"99999\""),
        ("/control/refuse", "missing ms"),
        ("/control/silence?ms=-1", "ms=\"-1\""),
        ("/control/malformed?kind=xml", "kind=\"xml\""),
        ("/stats?since=x", "since=\"x\""),
    ];
    for (path, needle) in cases {
        let (status, body) = http(srv.addr, "GET", path).await;
        assert_eq!(status, 400, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).expect("json error body");
        assert_eq!(v["ok"], false);
        let msg = v["error"].as_str().unwrap();
        assert!(msg.contains(needle), "{path}: {msg:?} lacks {needle:?}");
    }
    // The same through a real WebSocket handshake; not counted as attempts.
    assert_eq!(
        try_ws(srv.addr, "/ws/ticker?client=bad&rate=0").await.err(),
        Some(400)
    );
    assert_eq!(stats(srv.addr, "bad").await["attempts"], 0);
    // Unknown control verbs are 404.
    assert_eq!(http(srv.addr, "POST", "/control/explode").await.0, 404);
}
