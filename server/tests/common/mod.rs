//! Helpers shared by the integration tests: an in-process server, a tiny
//! HTTP client, a WebSocket client and bounded waits.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub use resocket_server::{start, Config, Running};

/// The upper bound of every single wait in the tests.
pub const STEP: Duration = Duration::from_secs(10);

/// A client WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Starts a server on a free port.
pub async fn server() -> Running {
    start(Config::default()).await.expect("server starts")
}

/// Awaits `fut`, failing the test after [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {STEP:?}: {what}"),
    }
}

/// A raw HTTP/1.1 request; returns the status and the body.
pub async fn http(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    within(&format!("{method} {path}"), async {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.expect("write request");
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.expect("read response");
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").expect("header end");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        (status, body.to_owned())
    })
    .await
}

/// A raw HTTP/1.1 request returning status, headers (lower-cased names)
/// and body.
pub async fn http_full(addr: SocketAddr, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    within(&format!("GET {path}"), async {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.expect("write request");
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.expect("read response");
        let end = buf
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("header end");
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        (status, headers, buf[end + 4..].to_vec())
    })
    .await
}

/// GET `path` and parse the JSON body (asserting 200).
pub async fn get_json(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = http(addr, "GET", path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// POST a control verb and parse the JSON reply (asserting 200 and ok).
pub async fn control(addr: SocketAddr, path: &str) -> Value {
    let (status, body) = http(addr, "POST", path).await;
    assert_eq!(status, 200, "POST {path}: {body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["ok"], true, "{v}");
    v
}

/// The stats of one client.
pub async fn stats(addr: SocketAddr, client: &str) -> Value {
    get_json(addr, &format!("/stats?client={client}")).await
}

/// Polls `check` every 20 ms until it returns true; fails after [`STEP`].
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    within(what, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Waits until the client's stats satisfy `pred`; returns them.
pub async fn wait_stats(addr: SocketAddr, client: &str, pred: impl Fn(&Value) -> bool) -> Value {
    within(&format!("stats of {client}"), async {
        loop {
            let s = stats(addr, client).await;
            if pred(&s) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Connects a WebSocket to `path` (e.g. `/ws/echo?client=a`).
pub async fn connect(addr: SocketAddr, path: &str) -> Ws {
    let url = format!("ws://{addr}{path}");
    let (ws, _) = within(&url, tokio_tungstenite::connect_async(url.clone()))
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    ws
}

/// Connects offering `protocols`; returns the socket and the protocol the
/// server selected.
pub async fn ws_protocols(addr: SocketAddr, path: &str, protocols: &str) -> (Ws, Option<String>) {
    let mut req = format!("ws://{addr}{path}")
        .into_client_request()
        .expect("request");
    if !protocols.is_empty() {
        req.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(protocols).expect("header"),
        );
    }
    let (ws, resp) = within("connect", tokio_tungstenite::connect_async(req))
        .await
        .expect("connect");
    let selected = resp
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| v.to_str().expect("ascii").to_owned());
    (ws, selected)
}

/// Tries to connect; returns the HTTP status of a refused upgrade, or
/// `Ok(socket)`.
pub async fn try_ws(addr: SocketAddr, path: &str) -> Result<Ws, u16> {
    let url = format!("ws://{addr}{path}");
    match within(&url, tokio_tungstenite::connect_async(url.clone())).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("connect {url}: unexpected error {e}"),
    }
}

/// The next data or close message (pings and pongs are skipped); fails
/// on timeout, error or end of stream.
pub async fn recv(ws: &mut Ws) -> Message {
    within("next message", async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(m)) => return m,
                Some(Err(e)) => panic!("websocket error: {e}"),
                None => panic!("websocket ended"),
            }
        }
    })
    .await
}

/// The next message as JSON text.
pub async fn recv_json(ws: &mut Ws) -> Value {
    match recv(ws).await {
        Message::Text(t) => {
            serde_json::from_str(&t).unwrap_or_else(|e| panic!("not JSON ({e}): {t}"))
        }
        other => panic!("expected text, got {other:?}"),
    }
}

/// Receives JSON messages until one has `"type" == kind`.
pub async fn recv_type(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let v = recv_json(ws).await;
        if v["type"] == kind {
            return v;
        }
    }
}

/// Asserts that no data message arrives for `d` (pings and pongs are
/// ignored).
pub async fn expect_quiet(ws: &mut Ws, d: Duration) {
    let res = tokio::time::timeout(d, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => return other,
            }
        }
    })
    .await;
    if let Ok(m) = res {
        panic!("expected no message for {d:?}, got {m:?}");
    }
}

/// Sends a text message.
pub async fn send_text(ws: &mut Ws, text: &str) {
    within("send", ws.send(Message::text(text)))
        .await
        .expect("send text");
}

/// Closes with 1000 and waits for the stream to end.
pub async fn close(mut ws: Ws) {
    within("close", async {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let _ = ws.close(Some(frame)).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// A raw WebSocket upgrade request with extra header lines; returns the
/// status and the response headers (lower-cased names). The connection is
/// then dropped.
pub async fn raw_upgrade(
    addr: SocketAddr,
    path: &str,
    extra: &[(&str, &str)],
) -> (u16, Vec<(String, String)>) {
    within(&format!("upgrade {path}"), async {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        );
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).await.expect("write request");
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut byte).await.expect("read");
            assert!(n == 1, "connection ended inside the response head");
            buf.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&buf).into_owned();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        (status, headers)
    })
    .await
}
