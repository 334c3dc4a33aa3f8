//! The WebSocket endpoints: the shared upgrade path (validation, stats,
//! refuse window, subprotocol selection, read-rate limit) plus echo, flood
//! and slow. The ticker and chat endpoints live in their own modules.

use std::future::Future;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, Utf8Bytes, WebSocketUpgrade};
use axum::extract::{Query, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::conn::{self, Conn, End, Out};
use crate::params::{ApiError, Params};
use crate::state::{Admission, State};

/// The largest message and frame the server accepts.
pub const MAX_MESSAGE: usize = 64 << 20;
/// The subprotocols the server knows; it picks the first one the client
/// offered that is in this set.
pub const PROTOCOLS: [&str; 4] = ["resocket.v1", "resocket.v2", "chat", "json"];
/// The longest accepted `token` value, in bytes.
const MAX_TOKEN: usize = 8192;
/// The largest read-rate limit (`bps`), in bytes per second.
pub const MAX_BPS: u64 = 1_000_000_000;
/// The default read rate of `/ws/slow`, in bytes per second.
const SLOW_BPS: u64 = 64 * 1024;

type Upgrade = Result<WebSocketUpgrade, WebSocketUpgradeRejection>;
type Q = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// Turns the raw query into [`Params`], or a 400.
pub fn params(q: Q) -> Result<Params, ApiError> {
    match q {
        Ok(Query(pairs)) => Ok(Params(pairs.into_iter().collect())),
        Err(e) => Err(ApiError::bad(format!("invalid query string: {e}"))),
    }
}

/// The first offered subprotocol (in the client's order) that the server
/// supports.
pub fn select_protocol(headers: &HeaderMap) -> Option<&'static str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|offered| PROTOCOLS.iter().copied().find(|&p| p == offered))
}

/// The parameters every endpoint takes.
struct Common {
    client: String,
    token: Option<String>,
    /// The reader's rate limit in bytes per second (0: none).
    bps: u64,
}

fn common(p: &Params) -> Result<Common, ApiError> {
    let client = p.client()?.to_owned();
    let token = match p.raw("token") {
        Some(t) if t.len() > MAX_TOKEN => {
            return Err(ApiError::bad(format!(
                "invalid token: {} bytes, at most {MAX_TOKEN} allowed",
                t.len()
            )))
        }
        t => t.map(str::to_owned),
    };
    let bps = p.int("bps", 0, 0..=MAX_BPS)?;
    Ok(Common { client, token, bps })
}

/// The shared upgrade path: count the attempt, apply the refuse window,
/// pick the subprotocol, register the connection and run `body` on it.
fn upgrade<F, Fut>(
    state: Arc<State>,
    headers: &HeaderMap,
    ws: Upgrade,
    c: Common,
    endpoint: &'static str,
    body: F,
) -> Response
where
    F: FnOnce(Conn) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), End>> + Send + 'static,
{
    let mut ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if let Admission::Refuse = state.admit(&c.client) {
        return ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "refusing WebSocket upgrades (fault injection: /control/refuse)".into(),
        )
        .into_response();
    }
    if let Some(p) = select_protocol(headers) {
        ws.set_selected_protocol(HeaderValue::from_static(p));
    }
    let (guard, ctl) = state.accept(&c.client, c.token, endpoint);
    let bps = c.bps;
    ws.max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| conn::run(socket, ctl, guard, bps, body))
}

/// An `{"type":"error","message":...}` reply.
pub fn error_msg(message: &str) -> Message {
    let v = serde_json::json!({ "type": "error", "message": message });
    Message::Text(v.to_string().into())
}

/// The pong for a ping object: the same object with `"type":"pong"`.
pub fn pong(mut obj: Map<String, Value>) -> Message {
    obj.insert("type".into(), Value::from("pong"));
    Message::Text(Value::Object(obj).to_string().into())
}

/// Parses an inbound control message as a JSON object, or answers the
/// client with an error and returns `None`.
pub async fn parse_object(out: &mut Out, msg: Message) -> Result<Option<Map<String, Value>>, End> {
    let text = match msg {
        Message::Text(t) => t,
        _ => {
            out.send(error_msg(
                "binary messages are not supported here; send JSON text",
            ))
            .await?;
            return Ok(None);
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(obj)) => Ok(Some(obj)),
        Ok(_) => {
            out.send(error_msg("expected a JSON object")).await?;
            Ok(None)
        }
        Err(e) => {
            out.send(error_msg(&format!("invalid JSON: {e}"))).await?;
            Ok(None)
        }
    }
}

/// `GET /ws/echo`: every text and binary message is sent back unchanged.
pub async fn echo(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    q: Q,
    ws: Upgrade,
) -> Response {
    let c = match params(q).and_then(|p| common(&p)) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    upgrade(state, &headers, ws, c, "echo", echo_loop)
}

async fn echo_loop(mut conn: Conn) -> Result<(), End> {
    loop {
        tokio::select! {
            biased;
            c = conn.out.next_ctl() => conn.out.apply(c).await?,
            m = conn.inbound.recv() => match m {
                Some(m) => {
                    conn.out.send(m).await?;
                }
                None => return Ok(()),
            },
        }
    }
}

/// `GET /ws/slow?bps=N`: a slow reader. It sends nothing and reads the
/// client's messages (recorded in the stats like every endpoint's) at most
/// `bps` payload bytes per second (default 64 KiB/s), so a client that sends
/// faster sees TCP backpressure: its `bufferedAmount` stays high.
pub async fn slow(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    q: Q,
    ws: Upgrade,
) -> Response {
    let parsed = params(q).and_then(|p| {
        let mut c = common(&p)?;
        c.bps = p.int("bps", SLOW_BPS, 0..=MAX_BPS)?;
        Ok(c)
    });
    let c = match parsed {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    upgrade(state, &headers, ws, c, "slow", |mut conn| async move {
        conn.idle().await
    })
}

/// `GET /ws/ticker`.
pub async fn ticker(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    q: Q,
    ws: Upgrade,
) -> Response {
    let parsed = params(q).and_then(|p| Ok((common(&p)?, crate::ticker::parse(&p)?)));
    let (c, tp) = match parsed {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let st = state.clone();
    upgrade(state, &headers, ws, c, "ticker", move |conn| {
        crate::ticker::run(conn, st, tp)
    })
}

/// `GET /ws/chat`.
pub async fn chat(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    q: Q,
    ws: Upgrade,
) -> Response {
    let parsed = params(q).and_then(|p| {
        let c = common(&p)?;
        let room = p.text("room")?.unwrap_or("lobby").to_owned();
        let name = p.text("name")?.unwrap_or(&c.client).to_owned();
        Ok((c, room, name))
    });
    let (c, room, name) = match parsed {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let st = state.clone();
    upgrade(state, &headers, ws, c, "chat", move |conn| {
        crate::chat::run(conn, st, room, name)
    })
}

/// Parameters of `/ws/flood`.
#[derive(Debug, Clone, Copy)]
struct Flood {
    count: u64,
    size: usize,
    binary: bool,
    wait: bool,
    /// Close with this code after the `done` marker.
    close: Option<u16>,
}

fn digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// `{"seq":` + digits + `,"v":"` + `"}`.
const TEXT_OVERHEAD: usize = 15;

fn parse_flood(p: &Params) -> Result<Flood, ApiError> {
    let count = p.int("count", 1000, 0..=10_000_000)?;
    let size = p.int("size", 64, 16..=1 << 20)? as usize;
    let binary = p.flag("binary")?;
    let wait = p.flag("wait")?;
    let close = match p.raw("close") {
        None => None,
        Some(_) => {
            let code = p.int("close", 1000, 0..=u64::from(u16::MAX))? as u16;
            if !crate::control::sendable_close_code(code) {
                return Err(ApiError::bad(format!(
                    "invalid close={code}: a close frame may carry 1000-1003, 1007-1014 or 3000-4999"
                )));
            }
            Some(code)
        }
    };
    if !binary {
        let need = TEXT_OVERHEAD + digits(count.saturating_sub(1));
        if size < need {
            return Err(ApiError::bad(format!(
                "invalid size={size}: text messages with count={count} need size >= {need}"
            )));
        }
    }
    Ok(Flood {
        count,
        size,
        binary,
        wait,
        close,
    })
}

/// `GET /ws/flood`.
pub async fn flood(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    q: Q,
    ws: Upgrade,
) -> Response {
    let parsed = params(q).and_then(|p| Ok((common(&p)?, parse_flood(&p)?)));
    let (c, f) = match parsed {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    upgrade(state, &headers, ws, c, "flood", move |conn| {
        flood_loop(conn, f)
    })
}

/// Builds the flood messages, reusing the padding and the binary template.
struct FloodGen {
    size: usize,
    pad: String,
    template: Vec<u8>,
}

impl FloodGen {
    fn new(f: Flood) -> Self {
        let template = if f.binary {
            (0..f.size)
                .map(|i| (i as u8).wrapping_mul(31) ^ 0x5a)
                .collect()
        } else {
            Vec::new()
        };
        let pad = if f.binary {
            String::new()
        } else {
            "x".repeat(f.size)
        };
        FloodGen {
            size: f.size,
            pad,
            template,
        }
    }

    fn text(&self, seq: u64) -> Message {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let mut n = seq;
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let num = std::str::from_utf8(&buf[i..]).unwrap_or("0");
        let mut s = String::with_capacity(self.size);
        s.push_str("{\"seq\":");
        s.push_str(num);
        s.push_str(",\"v\":\"");
        let pad = self.size.saturating_sub(s.len() + 2);
        s.push_str(&self.pad[..pad]);
        s.push_str("\"}");
        Message::Text(Utf8Bytes::from(s))
    }

    fn binary(&self, seq: u64) -> Message {
        let mut v = self.template.clone();
        v[..8].copy_from_slice(&seq.to_le_bytes());
        Message::Binary(v.into())
    }
}

/// Waits while the connection is silent (handling control commands).
/// Returns `Ok(false)` if the reader finished meanwhile.
async fn wait_silence(conn: &mut Conn) -> Result<bool, End> {
    while let Some(until) = conn.out.silent_until() {
        tokio::select! {
            biased;
            c = conn.out.next_ctl() => conn.out.apply(c).await?,
            _ = tokio::time::sleep_until(until.into()) => {}
            m = conn.inbound.recv() => if m.is_none() { return Ok(false) },
        }
    }
    Ok(true)
}

async fn flood_loop(mut conn: Conn, f: Flood) -> Result<(), End> {
    if f.wait {
        loop {
            tokio::select! {
                biased;
                c = conn.out.next_ctl() => conn.out.apply(c).await?,
                m = conn.inbound.recv() => match m {
                    Some(_) => break,
                    None => return Ok(()),
                },
            }
        }
    }
    let gen = FloodGen::new(f);
    let batch = ((256 * 1024) / f.size).clamp(1, 256) as u64;
    let mut seq = 0;
    while seq < f.count {
        if !wait_silence(&mut conn).await? {
            return Ok(());
        }
        // Inbound is ignored here; keep the reader from stalling.
        loop {
            match conn.inbound.try_recv() {
                Ok(_) => {}
                Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => return Ok(()),
            }
        }
        let end = (seq + batch).min(f.count);
        while seq < end {
            let msg = if f.binary {
                gen.binary(seq)
            } else {
                gen.text(seq)
            };
            if !conn.out.feed(msg).await? {
                break; // silenced meanwhile: resend this seq later
            }
            seq += 1;
        }
        conn.out.flush().await?;
    }
    let done = format!("{{\"type\":\"done\",\"count\":{}}}", f.count);
    loop {
        if !wait_silence(&mut conn).await? {
            return Ok(());
        }
        if conn.out.send(Message::Text(done.clone().into())).await? {
            break;
        }
    }
    if let Some(code) = f.close {
        let close = crate::state::CtlMsg {
            ctl: crate::state::Ctl::Close(code, "flood done".into()),
            ack: None,
        };
        conn.out.apply(close).await?;
    }
    conn.idle().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_selection_follows_client_order() {
        let mut h = HeaderMap::new();
        h.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("nope, json"),
        );
        h.append(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("resocket.v1"),
        );
        assert_eq!(select_protocol(&h), Some("json"));
        assert_eq!(select_protocol(&HeaderMap::new()), None);
    }

    #[test]
    fn flood_text_has_exact_size() {
        for (size, seq) in [(16usize, 0u64), (22, 9_999_999), (64, 123), (1000, 5)] {
            let f = Flood {
                count: 10,
                size,
                binary: false,
                wait: false,
                close: None,
            };
            let Message::Text(t) = FloodGen::new(f).text(seq) else {
                panic!("not text")
            };
            assert_eq!(t.len(), size, "{t}");
            let v: Value = serde_json::from_str(&t).unwrap();
            assert_eq!(v["seq"], seq);
        }
    }

    #[test]
    fn flood_size_check() {
        let p = |pairs: &[(&str, &str)]| {
            Params(
                pairs
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            )
        };
        assert!(parse_flood(&p(&[("size", "16"), ("count", "10")])).is_ok());
        let e = parse_flood(&p(&[("size", "16"), ("count", "11")])).unwrap_err();
        assert!(e.1.contains("size=16"), "{}", e.1);
        assert!(parse_flood(&p(&[("size", "16"), ("count", "11"), ("binary", "1")])).is_ok());
        assert!(parse_flood(&p(&[("size", "15")])).is_err());
    }
}
