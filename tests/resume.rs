//! Browser tests of `ReSocket` in resume mode (docs/PROTOCOL.md) against the real server's
//! `/ws/resume` endpoint (the axum adapter: echo, and ticks that carry the seq they go out
//! under) and its fault API.
//!
//! Covers: exactly-once, in-order delivery both ways while the server drops the connection
//! without a close frame mid-traffic (the server's record of what it took, the client's echoes
//! and every tick's seq against the count of messages received); text starting with U+0000
//! and binary messages unchanged through the framing; a server that selects another of the
//! offered subprotocols failing clearly without a reconnect loop, or serving plain mode with
//! `fallback`. (A server that selects none at all never opens in a browser: when subprotocols
//! were offered, the browser fails such a connection, as any failed connection.)
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use futures::{FutureExt, StreamExt};
use resocket::{Event, Fallback, Message, Options, ReSocket, Resume, State};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn resume_options() -> Options {
    fast().resume(Resume::default())
}

/// What the stream and the event stream hold now, without waiting.
fn drain(s: &mut ReSocket, got: &mut Vec<Message>) {
    while let Some(Some(item)) = s.next().now_or_never() {
        got.push(item.expect("no error items"));
    }
}

fn text(m: &Message) -> &str {
    match m {
        Message::Text(t) => t,
        Message::Binary(_) => "<binary>",
    }
}

#[wasm_bindgen_test]
async fn exactly_once_in_order_both_ways_through_drops_mid_traffic() {
    const N: usize = 300;
    let client = client_id("resume-drops");
    let mut s = ReSocket::connect(&ws_url("resume", &client, "&tick=15"), resume_options())
        .expect("valid URL");
    let mut events = s.events();
    wait_state(&s, "open", 5000, |st| *st == State::Open).await;
    let mut got = Vec::new();
    let mut drops = 0;
    for i in 0..N {
        s.send(format!("m{i}")).unwrap();
        if i % 40 == 39 {
            // Mid-traffic: messages on the wire both ways, and ticks buffered while away.
            control("drop", &format!("client={client}")).await;
            drops += 1;
        }
        sleep(4).await;
        drain(&mut s, &mut got);
    }
    let start = js_sys::Date::now();
    while got.iter().filter(|m| text(m).starts_with('m')).count() < N {
        assert!(
            js_sys::Date::now() - start < 20_000.0,
            "echoes missing: {} of {N}",
            got.iter().filter(|m| text(m).starts_with('m')).count()
        );
        sleep(20).await;
        drain(&mut s, &mut got);
    }
    // Client -> server: what the server's handler took, exactly once and in order.
    let st = wait_for_stats(&client, 5000, |st| st["message_count"] == N).await;
    let taken: Vec<String> = st["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["t"].as_str().unwrap_or("?").to_owned())
        .collect();
    let want: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    assert_eq!(taken, want, "the server took every message once, in order");
    // Server -> client: the echoes once and in order...
    let echoes: Vec<String> = got
        .iter()
        .map(text)
        .filter(|t| t.starts_with('m'))
        .map(String::from)
        .collect();
    assert_eq!(echoes, want, "every echo once, in order");
    // ...and every tick's seq is the count of messages received up to it: no hole, no repeat.
    let mut ticks = 0;
    for (i, m) in got.iter().enumerate() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text(m)) {
            if v["type"] == "tick" {
                assert_eq!(v["seq"], i + 1, "tick at position {i}");
                ticks += 1;
            }
        }
    }
    assert!(ticks > 20, "{ticks} ticks");
    // A drop while the client is away finds no connection: count the connections instead.
    let connections = st["total_connections"].as_u64().unwrap() as usize;
    assert!(
        connections >= 4,
        "{connections} connections for {drops} drops"
    );
    // Every reconnection resumed the session; no gap, no reset.
    let mut seen = Vec::new();
    while let Some(Some(e)) = events.next().now_or_never() {
        seen.push(e);
    }
    let resumed = seen
        .iter()
        .filter(|e| matches!(e, Event::Resumed { resumed: true, .. }))
        .count();
    assert_eq!(
        resumed,
        connections - 1,
        "every reconnection resumed: {seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::Gap { .. } | Event::Reset { .. } | Event::Error(_))),
        "{seen:?}"
    );
    assert_eq!(s.stats().requeued, 0, "resume mode requeues nothing");
    s.close(Some(1000), None).unwrap();
}

#[wasm_bindgen_test]
async fn escaped_text_and_binary_pass_the_framing_unchanged() {
    let client = client_id("resume-framing");
    let mut s =
        ReSocket::connect(&ws_url("resume", &client, ""), resume_options()).expect("valid URL");
    let sent = vec![
        Message::Text("\0zero first".into()),
        Message::Text("\0{\"t\":\"bye\"}".into()),
        Message::Binary(vec![0, 0, 1, 2]),
        Message::Text(String::new()),
        Message::Text("plain".into()),
    ];
    for m in &sent {
        s.send(m.clone()).unwrap();
    }
    let mut got = Vec::new();
    within(5000, "five echoes", async {
        while got.len() < sent.len() {
            got.push(s.next().await.expect("stream open").expect("no error"));
        }
    })
    .await;
    assert_eq!(got, sent);
    assert_eq!(
        s.state(),
        State::Open,
        "a bye-looking app text is not a bye"
    );
    let st = stats(&client).await;
    assert_eq!(
        st["messages"][0]["t"], "\0zero first",
        "the server's app saw it unescaped"
    );
    s.close(Some(1000), None).unwrap();
}

#[wasm_bindgen_test]
async fn a_server_without_the_protocol_fails_clearly_without_retrying() {
    let client = client_id("resume-plain-server");
    // The echo endpoint selects "chat", the application's own subprotocol.
    let options = resume_options().protocols(["chat"]);
    let s = ReSocket::connect(&ws_url("echo", &client, ""), options).expect("valid URL");
    wait_state(&s, "failed", 5000, |st| matches!(st, State::Failed { .. })).await;
    let State::Failed { reason } = s.state() else {
        unreachable!()
    };
    assert!(
        reason.contains("selected subprotocol number 1 of the list, not resocket.resume.v1"),
        "{reason}"
    );
    sleep(400).await;
    assert_eq!(stats(&client).await["attempts"], 1, "no reconnect loop");
}

#[wasm_bindgen_test]
async fn fallback_plain_talks_plain_to_a_plain_server() {
    let client = client_id("resume-fallback");
    let options = fast()
        .protocols(["chat"])
        .resume(Resume::default().fallback(Fallback::Plain));
    let mut s = ReSocket::connect(&ws_url("echo", &client, ""), options).expect("valid URL");
    s.send("\0raw").unwrap();
    let echo = within(5000, "the echo", s.next()).await;
    assert_eq!(s.protocol(), "chat");
    assert_eq!(echo, Some(Ok(Message::Text("\0raw".into()))));
    let st = stats(&client).await;
    assert_eq!(
        st["messages"][0]["t"], "\0raw",
        "no hello, no escape on the wire"
    );
    s.close(Some(1000), None).unwrap();
}
