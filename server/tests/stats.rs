//! `/stats`, `/health` and static files.

mod common;

use common::*;
use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

fn fnv1a64(data: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[tokio::test]
async fn stats_record_messages_tokens_and_closes_in_order() {
    let srv = server().await;
    let mut a = connect(srv.addr, "/ws/echo?client=st1&token=t1").await;
    send_text(&mut a, "héllo").await;
    recv(&mut a).await;
    let bin = vec![1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    within("send", a.send(Message::binary(bin.clone())))
        .await
        .unwrap();
    recv(&mut a).await;
    let long = "ab".repeat(40_000);
    send_text(&mut a, &long).await;
    recv(&mut a).await;
    close(a).await;

    let mut b = connect(srv.addr, "/ws/ticker?client=st1&token=t2&rate=1").await;
    send_text(&mut b, r#"{"type":"ping"}"#).await;
    recv_type(&mut b, "pong").await;
    close(b).await;
    let c = connect(srv.addr, "/ws/flood?client=st1&count=0").await;
    drop(c);

    let s = wait_stats(srv.addr, "st1", |s| {
        s["closes"].as_array().unwrap().len() == 3
    })
    .await;
    assert_eq!(s["client"], "st1");
    assert_eq!(s["attempts"], 3);
    assert_eq!(s["refused"], 0);
    assert_eq!(s["total_connections"], 3);
    assert_eq!(s["current_connections"], 0);
    assert_eq!(s["max_concurrent"], 1);
    assert_eq!(s["tokens"], json!(["t1", "t2", null]));
    assert_eq!(s["message_count"], 4);
    let bytes_in = "héllo".len() + bin.len() + long.len() + r#"{"type":"ping"}"#.len();
    assert_eq!(s["bytes_in"], bytes_in);
    assert_eq!(
        s["messages"],
        json!([
            {"t": "héllo"},
            {"len": 10, "head": "0102030405060708", "fnv": fnv1a64(&bin)},
            {"len": 80_000, "prefix": "ab".repeat(32)},
            {"t": "{\"type\":\"ping\"}"},
        ])
    );
    let times: Vec<u64> = s["connect_times_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(times.len(), 3);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let closes = s["closes"].as_array().unwrap();
    assert_eq!(closes[0]["code"], 1000);
    assert_eq!(closes[1]["code"], 1000);
    // Dropped by the client without a close frame.
    assert_eq!(closes[2]["code"], Value::Null);
    assert!(closes[0]["at_ms"].as_u64().unwrap() >= times[0]);

    // since=K returns messages from index K; the count stays the total.
    let s = get_json(srv.addr, "/stats?client=st1&since=3").await;
    assert_eq!(s["messages"], json!([{"t": "{\"type\":\"ping\"}"}]));
    assert_eq!(s["message_count"], 4);
    let s = get_json(srv.addr, "/stats?client=st1&since=99").await;
    assert_eq!(s["messages"], json!([]));
    // limit=N: at most N of them.
    let s = get_json(srv.addr, "/stats?client=st1&since=1&limit=1").await;
    assert_eq!(
        s["messages"],
        json!([{"len": 10, "head": "0102030405060708", "fnv": fnv1a64(&bin)}])
    );
    let s = get_json(srv.addr, "/stats?client=st1&limit=0").await;
    assert_eq!(
        (s["messages"].clone(), s["message_count"].clone()),
        (json!([]), json!(4))
    );

    // Unknown clients have zero stats.
    let s = stats(srv.addr, "nobody").await;
    assert_eq!(
        (s["attempts"].as_u64(), s["messages"].clone()),
        (Some(0), json!([]))
    );
}

#[tokio::test]
async fn max_concurrent_counts_overlapping_sockets() {
    let srv = server().await;
    let a = connect(srv.addr, "/ws/echo?client=mc").await;
    let b = connect(srv.addr, "/ws/ticker?client=mc&rate=1").await;
    let s = stats(srv.addr, "mc").await;
    assert_eq!(
        (
            s["current_connections"].as_u64(),
            s["max_concurrent"].as_u64()
        ),
        (Some(2), Some(2))
    );
    close(a).await;
    let s = wait_stats(srv.addr, "mc", |s| s["current_connections"] == 1).await;
    assert_eq!(s["max_concurrent"], 2);
    close(b).await;
    wait_stats(srv.addr, "mc", |s| s["current_connections"] == 0).await;
    // Sequential reconnects never raise it above 1.
    for _ in 0..3 {
        let c = connect(srv.addr, "/ws/echo?client=mc-seq").await;
        close(c).await;
        wait_stats(srv.addr, "mc-seq", |s| s["current_connections"] == 0).await;
    }
    let s = stats(srv.addr, "mc-seq").await;
    assert_eq!(
        (
            s["total_connections"].as_u64(),
            s["max_concurrent"].as_u64()
        ),
        (Some(3), Some(1))
    );
    // The default client id.
    let d = connect(srv.addr, "/ws/echo").await;
    assert_eq!(stats(srv.addr, "anon").await["current_connections"], 1);
    close(d).await;
}

#[tokio::test]
async fn stats_without_client_maps_all_clients() {
    let srv = server().await;
    let mut a = connect(srv.addr, "/ws/echo?client=all-a").await;
    send_text(&mut a, "1").await;
    recv(&mut a).await;
    let b = connect(srv.addr, "/ws/echo?client=all-b").await;
    let all = get_json(srv.addr, "/stats").await;
    assert_eq!(all["all-a"]["message_count"], 1);
    assert_eq!(all["all-a"]["current_connections"], 1);
    assert_eq!(all["all-b"]["attempts"], 1);
    assert!(all["all-a"].get("messages").is_none());
    close(a).await;
    close(b).await;
}

#[tokio::test]
async fn health_and_static_files() {
    let dir = std::env::temp_dir().join(format!("resocket-static-{}", std::process::id()));
    let www = dir.join("www");
    let pkg = dir.join("pkg");
    std::fs::create_dir_all(www.join("sub")).unwrap();
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(www.join("index.html"), "<h1>home</h1>").unwrap();
    std::fs::write(www.join("sub/index.html"), "sub").unwrap();
    std::fs::write(pkg.join("app_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
    std::fs::write(pkg.join("app.js"), "export {}").unwrap();

    let srv = start(Config {
        static_mounts: vec![("/".into(), www.clone()), ("/pkg".into(), pkg.clone())],
        ..Config::default()
    })
    .await
    .unwrap();
    assert_eq!(
        http(srv.addr, "GET", "/health").await,
        (200, "ok".to_string())
    );

    let (status, headers, body) = http_full(srv.addr, "/").await;
    assert_eq!((status, body.as_slice()), (200, &b"<h1>home</h1>"[..]));
    assert!(headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("text/html")));
    let (status, headers, body) = http_full(srv.addr, "/pkg/app_bg.wasm").await;
    assert_eq!(status, 200);
    assert_eq!(body, b"\0asm\x01\0\0\0");
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/wasm"),
        "{headers:?}"
    );
    let (status, headers, _) = http_full(srv.addr, "/pkg/app.js").await;
    assert_eq!(status, 200);
    assert!(headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.contains("javascript")));
    let (status, headers, _) = http_full(srv.addr, "/sub").await;
    assert_eq!(status, 307);
    assert!(headers.iter().any(|(k, v)| k == "location" && v == "/sub/"));
    assert_eq!(
        http(srv.addr, "GET", "/sub/").await,
        (200, "sub".to_string())
    );
    assert_eq!(http(srv.addr, "GET", "/missing.txt").await.0, 404);
    // API routes take precedence over the `/` mount.
    assert_eq!(http(srv.addr, "GET", "/health").await.1, "ok");
    let _ = std::fs::remove_dir_all(&dir);
}
