//! The read-rate limit: `/ws/slow`, the `bps` parameter, `/control/throttle`, and
//! `/ws/flood?close=CODE`. Time only bounds from one side here: the server may read later than
//! its rate allows on a busy machine, never earlier.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// A binary message of `len` bytes whose first 8 are `seq` little-endian (as `/stats` shows
/// them in `head`).
fn numbered(seq: u64, len: usize) -> Message {
    let mut v = vec![0xa5u8; len];
    v[..8].copy_from_slice(&seq.to_le_bytes());
    Message::binary(v)
}

/// The `head` of message `seq` in `/stats`.
fn head(seq: u64) -> String {
    seq.to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn count(s: &Value) -> u64 {
    s["message_count"].as_u64().expect("message_count")
}

/// Sends `msg`, failing the test if it takes longer than [`STEP`].
async fn send(ws: &mut Ws, msg: Message) {
    within("send", ws.send(msg)).await.expect("send");
}

#[tokio::test]
async fn slow_reads_at_most_bps_and_records_every_message_in_order() {
    let srv = server().await;
    // 16 KiB/s and 1 KiB messages: one message per 62.5 ms after the first.
    let (bps, size, n) = (16_384u64, 1024usize, 32u64);
    let mut ws = connect(srv.addr, &format!("/ws/slow?client=slow1&bps={bps}")).await;
    let t0 = Instant::now();
    for seq in 0..n {
        send(&mut ws, numbered(seq, size)).await;
    }
    let per_message = size as f64 / bps as f64;
    let s = within("all messages read", async {
        loop {
            let s = stats(srv.addr, "slow1").await;
            // Read no faster than the rate: the first at once, then one per `per_message` s
            // (after at most 10 ms of credit).
            let allowed = 1 + ((t0.elapsed().as_secs_f64() + 0.01) / per_message) as u64;
            assert!(
                count(&s) <= allowed,
                "read {} messages within {:?}: more than the rate allows ({allowed})",
                count(&s),
                t0.elapsed()
            );
            if count(&s) == n {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let took = t0.elapsed().as_secs_f64();
    let least = (n - 1) as f64 * per_message - 0.011;
    assert!(
        took >= least,
        "{n} messages read in {took:.3} s, the rate needs {least:.3} s"
    );
    let heads: Vec<String> = s["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["len"], size, "{m}");
            m["head"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        heads,
        (0..n).map(head).collect::<Vec<_>>(),
        "each once, in order"
    );
    assert_eq!(s["bytes_in"], n * size as u64);
    // It sends nothing.
    expect_quiet(&mut ws, Duration::from_millis(200)).await;
    close(ws).await;
}

#[tokio::test]
async fn slow_reader_stops_reading_so_the_client_feels_backpressure() {
    let srv = server().await;
    // 1 byte/s: after the first message the server reads nothing for a long time.
    let mut ws = connect(srv.addr, "/ws/slow?client=slow2&bps=1").await;
    let chunk = 64 * 1024;
    let limit: usize = 256 << 20;
    let mut sent = 0usize;
    let mut seq = 0;
    let blocked = loop {
        if sent >= limit {
            break false;
        }
        // A write that does not finish within a second: the TCP buffers are full.
        match tokio::time::timeout(Duration::from_secs(1), ws.send(numbered(seq, chunk))).await {
            Ok(r) => r.expect("send"),
            Err(_) => break true,
        }
        sent += chunk;
        seq += 1;
    };
    assert!(
        blocked,
        "writes never blocked: {} MiB sent to a reader that reads 1 byte/s",
        sent >> 20
    );
    eprintln!("slow: writes blocked after {} KiB", sent >> 10);
    let s = wait_stats(srv.addr, "slow2", |s| count(s) >= 1).await;
    assert_eq!(
        count(&s),
        1,
        "only the first message was read ({} KiB were sent)",
        sent >> 10
    );
    // Lifting the limit lets the backlog through.
    let r = control(srv.addr, "/control/throttle?client=slow2&bps=0").await;
    assert_eq!(r, json!({"ok": true, "throttled": 1, "bps": 0}));
    wait_stats(srv.addr, "slow2", |s| count(s) >= seq).await;
}

#[tokio::test]
async fn throttle_changes_the_read_rate_of_live_connections() {
    let srv = server().await;
    // /ws/slow at 1 byte/s: the second 1000-byte message would wait 1000 s.
    let mut slow = connect(srv.addr, "/ws/slow?client=thr1&bps=1").await;
    for i in 0..5 {
        send_text(&mut slow, &format!("{i}{}", "x".repeat(999))).await;
    }
    wait_stats(srv.addr, "thr1", |s| count(s) == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&stats(srv.addr, "thr1").await), 1, "still one");
    let r = control(srv.addr, "/control/throttle?client=thr1&bps=0").await;
    assert_eq!(r, json!({"ok": true, "throttled": 1, "bps": 0}));
    let s = wait_stats(srv.addr, "thr1", |s| count(s) == 5).await;
    let firsts: Vec<char> = s["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["t"].as_str().unwrap().chars().next().unwrap())
        .collect();
    assert_eq!(firsts, ['0', '1', '2', '3', '4']);

    // Any endpoint: an echo socket throttled to 1 byte/s echoes the first message, then
    // reads nothing more until the limit is lifted.
    let mut echo = connect(srv.addr, "/ws/echo?client=thr2").await;
    let r = control(srv.addr, "/control/throttle?client=thr2&bps=1").await;
    assert_eq!(r, json!({"ok": true, "throttled": 1, "bps": 1}));
    let (a, b) = ("a".repeat(500), "b".repeat(500));
    send_text(&mut echo, &a).await;
    send_text(&mut echo, &b).await;
    assert_eq!(recv(&mut echo).await, Message::text(a));
    expect_quiet(&mut echo, Duration::from_millis(300)).await;
    control(srv.addr, "/control/throttle?client=thr2&bps=0").await;
    assert_eq!(recv(&mut echo).await, Message::text(b));
    // Other clients' sockets are not touched.
    let r = control(srv.addr, "/control/throttle?client=nobody&bps=5").await;
    assert_eq!(r, json!({"ok": true, "throttled": 0, "bps": 5}));
    close(echo).await;
    close(slow).await;
}

#[tokio::test]
async fn bps_query_parameter_limits_any_endpoint() {
    let srv = server().await;
    // Echo at 2000 bytes/s: three 1000-byte messages come back no sooner than 1 s.
    let mut ws = connect(srv.addr, "/ws/echo?client=bps1&bps=2000").await;
    let t0 = Instant::now();
    for _ in 0..3 {
        send_text(&mut ws, &"e".repeat(1000)).await;
    }
    for _ in 0..3 {
        recv(&mut ws).await;
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(980),
        "{:?}",
        t0.elapsed()
    );
    close(ws).await;
}

#[tokio::test]
async fn flood_close_sends_the_close_frame_after_the_marker() {
    let srv = server().await;
    let mut ws = connect(srv.addr, "/ws/flood?client=fcl&count=5&size=32&close=4001").await;
    for seq in 0..5 {
        assert_eq!(recv_json(&mut ws).await["seq"], seq);
    }
    assert_eq!(recv_json(&mut ws).await, json!({"type":"done","count":5}));
    match recv(&mut ws).await {
        Message::Close(Some(f)) => {
            assert_eq!(u16::from(f.code), 4001);
            assert_eq!(f.reason.as_str(), "flood done");
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    while let Some(Ok(_)) = ws.next().await {}
    let s = wait_stats(srv.addr, "fcl", |s| s["current_connections"] == 0).await;
    assert_eq!(s["closes"][0]["code"], 4001, "the client echoed the close");
}

#[tokio::test]
async fn bad_rate_and_close_values_get_400() {
    let srv = server().await;
    for (path, needle) in [
        ("/ws/slow?bps=x", "bps=\"x\""),
        ("/ws/echo?bps=1000000001", "bps=\"1000000001\""),
        ("/ws/flood?close=1005", "close=1005"),
        ("/ws/flood?close=abc", "close=\"abc\""),
    ] {
        let (status, body) = http(srv.addr, "GET", path).await;
        assert_eq!(status, 400, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        let error = v["error"].as_str().expect("error");
        assert!(error.contains(needle), "{path}: {error}");
    }
    let (status, body) = http(srv.addr, "POST", "/control/throttle").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("missing bps"), "{body}");
    let (status, body) = http(srv.addr, "POST", "/control/throttle?bps=-1").await;
    assert_eq!(status, 400, "{body}");
}
