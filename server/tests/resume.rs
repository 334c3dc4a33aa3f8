//! `/ws/resume` (the resume adapter in the project's server) and the origin rule of `/control`.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use resocket_resume::{decode_text, Control, Frame, Message as AppMessage, PROTOCOL};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

/// A raw request with extra headers: status, headers (lower-case names), body.
async fn request(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    within(path, async {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let req =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head.to_ascii_lowercase(), body.to_owned())
    })
    .await
}

async fn open(addr: SocketAddr, path: &str, origin: Option<&str>) -> Result<Ws, String> {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(PROTOCOL));
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", HeaderValue::from_str(o).unwrap());
    }
    let (ws, resp) = within("connect", tokio_tungstenite::connect_async(req))
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        PROTOCOL
    );
    Ok(ws)
}

async fn frame(ws: &mut Ws) -> Option<Frame> {
    loop {
        match within("frame", ws.next()).await {
            Some(Ok(Message::Text(t))) => return Some(decode_text(t.as_str().to_owned()).unwrap()),
            Some(Ok(Message::Binary(b))) => {
                return Some(Frame::App(AppMessage::Binary(b.to_vec())))
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            _ => return None,
        }
    }
}

/// hello, welcome and the server's from; returns (sid, server recv, resumed).
async fn handshake(ws: &mut Ws, sid: Option<String>, recv: u64) -> (String, u64, bool) {
    ws.send(Message::text(Control::Hello { sid, recv }.encode()))
        .await
        .unwrap();
    let Some(Frame::Control(Control::Welcome {
        sid,
        recv: r,
        resumed,
        ..
    })) = frame(ws).await
    else {
        panic!("no welcome")
    };
    let Some(Frame::Control(Control::From { seq })) = frame(ws).await else {
        panic!("no from")
    };
    assert!(seq >= 1);
    (sid, r, resumed)
}

#[tokio::test]
async fn resume_endpoint_echoes_and_resumes_after_a_control_drop() {
    let srv = server().await;
    let mut ws = open(srv.addr, "/ws/resume?client=rs1", None).await.unwrap();
    let (sid, _, resumed) = handshake(&mut ws, None, 0).await;
    assert!(!resumed);
    ws.send(Message::text(Control::From { seq: 1 }.encode()))
        .await
        .unwrap();
    ws.send(Message::text("a")).await.unwrap();
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(
        frame(&mut ws).await,
        Some(Frame::App(AppMessage::from("a")))
    );
    assert_eq!(
        frame(&mut ws).await,
        Some(Frame::App(AppMessage::Binary(vec![1, 2, 3])))
    );
    // Drop the connection from the server's side: no close frame.
    let r = control(srv.addr, "/control/drop?client=rs1").await;
    assert_eq!(r["dropped"], 1);
    while frame(&mut ws).await.is_some() {}
    // Resume: the server had both messages, we had both echoes.
    let mut ws = open(srv.addr, "/ws/resume?client=rs1", None).await.unwrap();
    let (sid2, server_recv, resumed) = handshake(&mut ws, Some(sid.clone()), 2).await;
    assert!(resumed);
    assert_eq!((sid2, server_recv), (sid, 2));
    ws.send(Message::text(Control::From { seq: 3 }.encode()))
        .await
        .unwrap();
    ws.send(Message::text("b")).await.unwrap();
    assert_eq!(
        frame(&mut ws).await,
        Some(Frame::App(AppMessage::from("b")))
    );
    // The stats hold each message once, over two connections.
    let s = wait_stats(srv.addr, "rs1", |s| {
        s["messages"].as_array().is_some_and(|m| m.len() == 3)
    })
    .await;
    assert_eq!(s["total_connections"], 2);
    assert_eq!(s["messages"][0]["t"], "a");
    assert_eq!(s["messages"][2]["t"], "b");
}

#[tokio::test]
async fn ticks_carry_their_own_seq_across_a_resume() {
    let srv = server().await;
    let mut ws = open(srv.addr, "/ws/resume?client=rs2&tick=10", None)
        .await
        .unwrap();
    let (sid, _, _) = handshake(&mut ws, None, 0).await;
    let mut count = 0u64;
    while count < 5 {
        let Some(Frame::App(AppMessage::Text(t))) = frame(&mut ws).await else {
            panic!()
        };
        count += 1;
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["seq"].as_u64()),
            (Some("tick"), Some(count))
        );
    }
    drop(ws); // the network goes; ticks keep being numbered and buffered meanwhile
    tokio::time::sleep(Duration::from_millis(60)).await;
    let mut ws = open(srv.addr, "/ws/resume?client=rs2&tick=10", None)
        .await
        .unwrap();
    let (_, _, resumed) = handshake(&mut ws, Some(sid), count).await;
    assert!(resumed);
    while count < 15 {
        let Some(Frame::App(AppMessage::Text(t))) = frame(&mut ws).await else {
            panic!()
        };
        count += 1;
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_eq!(v["seq"].as_u64(), Some(count), "{t}: no hole, no repeat");
    }
}

/// The next close frame's code (skipping app and control messages), `None` if the stream ended
/// without one.
async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match within("close frame", ws.next()).await {
            Some(Ok(Message::Close(c))) => return c.map(|c| u16::from(c.code)),
            Some(Ok(_)) => continue,
            _ => return None,
        }
    }
}

#[tokio::test]
async fn stats_record_what_the_handler_sent_and_control_close_sends_its_frame() {
    let srv = server().await;
    let mut ws = open(srv.addr, "/ws/resume?client=rs4", None).await.unwrap();
    let (sid, _, _) = handshake(&mut ws, None, 0).await;
    ws.send(Message::text(Control::From { seq: 1 }.encode()))
        .await
        .unwrap();
    ws.send(Message::text("x")).await.unwrap();
    ws.send(Message::binary(vec![9u8; 20])).await.unwrap();
    assert_eq!(
        frame(&mut ws).await,
        Some(Frame::App(AppMessage::from("x")))
    );
    assert!(frame(&mut ws).await.is_some());
    // A retrying close code from the fault API arrives as that close frame.
    let r = control(srv.addr, "/control/close?client=rs4&code=4500&reason=soak").await;
    assert_eq!(r["closed"], 1);
    assert_eq!(close_code(&mut ws).await, Some(4500));
    // The session is still there: the client had 1 message back (of 2), the server replays
    // the other, and the record holds it once.
    let mut ws = open(srv.addr, "/ws/resume?client=rs4", None).await.unwrap();
    let (_, server_recv, resumed) = handshake(&mut ws, Some(sid), 1).await;
    assert!(resumed);
    assert_eq!(server_recv, 2);
    assert_eq!(
        frame(&mut ws).await,
        Some(Frame::App(AppMessage::Binary(vec![9u8; 20])))
    );
    let s = wait_stats(srv.addr, "rs4", |s| s["resume"]["resumed"] == 1).await;
    assert_eq!(s["sent_count"], 2);
    assert_eq!(s["sent"][0]["seq"], 1);
    assert_eq!(s["sent"][0]["t"], "x");
    assert_eq!(s["sent"][1]["seq"], 2);
    assert_eq!(s["sent"][1]["len"], 20);
    assert_eq!(
        s["resume"],
        serde_json::json!({ "new_sessions": 1, "resumed": 1, "replayed": 1, "refused_sends": 0 })
    );
    assert_eq!(s["message_count"], 2);
    // The counters only: no messages, no sent list.
    let (_, body) = http(srv.addr, "GET", "/stats?client=rs4&limit=0").await;
    let s: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s["sent"], serde_json::json!([]));
    assert_eq!(s["sent_count"], 2);
}

#[tokio::test]
async fn resume_endpoint_refuses_foreign_origins() {
    let srv = server().await;
    let e = open(
        srv.addr,
        "/ws/resume?client=rs3",
        Some("https://evil.example"),
    )
    .await
    .unwrap_err();
    assert!(e.contains("403"), "{e}");
    let own = format!("http://127.0.0.1:{}", srv.addr.port());
    open(srv.addr, "/ws/resume?client=rs3", Some(&own))
        .await
        .unwrap();
}

#[tokio::test]
async fn control_refuses_cross_site_requests() {
    let srv = server().await;
    let port = srv.addr.port();
    let mut ws = connect(srv.addr, "/ws/echo?client=cs").await;
    // Another site's page: refused, and nothing happened.
    let (status, _, body) = request(
        srv.addr,
        "/control/drop?client=cs",
        &[("Origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("https://evil.example"), "{body}");
    let (status, _, _) = request(
        srv.addr,
        "/control/drop?client=cs",
        &[("Origin", &format!("http://127.0.0.1:{}", port + 1))],
    )
    .await;
    assert_eq!(status, 403);
    // <img src> from another site: no Origin, but Sec-Fetch-Site says so.
    let (status, _, _) = request(
        srv.addr,
        "/control/drop?client=cs",
        &[("Sec-Fetch-Site", "cross-site")],
    )
    .await;
    assert_eq!(status, 403);
    ws.send(Message::text("alive")).await.unwrap();
    assert!(matches!(
        within("echo", ws.next()).await,
        Some(Ok(Message::Text(_)))
    ));
    // The server's own pages: allowed, and the answer names that origin (not `*`).
    for own in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let (status, head, _) = request(
            srv.addr,
            "/control/silence?client=cs&ms=0",
            &[("Origin", &own)],
        )
        .await;
        assert_eq!(status, 200);
        assert!(
            head.contains(&format!("access-control-allow-origin: {own}")),
            "{head}"
        );
    }
    // Non-browser clients (no Origin) and same-origin GETs are allowed.
    let (status, head, _) = request(
        srv.addr,
        "/control/silence?ms=0",
        &[("Sec-Fetch-Site", "same-origin")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(!head.contains("access-control-allow-origin: *"), "{head}");
    assert_eq!(
        control(srv.addr, "/control/drop?client=cs").await["dropped"],
        1
    );
    // /stats stays readable from anywhere.
    let (status, head, _) =
        request(srv.addr, "/stats", &[("Origin", "https://evil.example")]).await;
    assert_eq!(status, 200);
    assert!(head.contains("access-control-allow-origin: *"), "{head}");
}

#[tokio::test]
async fn allow_origin_adds_origins_with_port_wildcards() {
    let srv = start(Config {
        allow_origins: vec!["http://127.0.0.1:*".into()],
        ..Config::default()
    })
    .await
    .unwrap();
    let (status, head, _) = request(
        srv.addr,
        "/control/silence?ms=0",
        &[("Origin", "http://127.0.0.1:9")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        head.contains("access-control-allow-origin: http://127.0.0.1:9"),
        "{head}"
    );
    let (status, _, _) = request(
        srv.addr,
        "/control/silence?ms=0",
        &[("Origin", "http://localhost:9")],
    )
    .await;
    assert_eq!(status, 403);
}
