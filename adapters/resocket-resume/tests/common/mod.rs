//! Shared by the integration tests: a tokio-tungstenite server running the adapter, a client
//! that speaks the resume protocol over a real tokio-tungstenite socket, and a real
//! `redis-server` on a free port.

#![allow(dead_code, clippy::result_large_err)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use resocket_resume::{
    decode_text, encode_app_text, Control, Frame, Incoming, Message, Resume, PROTOCOL,
};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Every single wait's bound.
pub const STEP: Duration = Duration::from_secs(10);

/// What the test server's handlers received, in order, across all connections, and what they
/// sent into the session (seq, message).
#[derive(Clone, Default)]
pub struct Log {
    pub received: Arc<Mutex<Vec<Message>>>,
    pub sent: Arc<Mutex<Vec<(u64, Message)>>>,
}

impl Log {
    pub fn received(&self) -> Vec<Message> {
        self.received.lock().unwrap().clone()
    }

    /// The messages the server's handlers put into the session, in seq order; asserts that no
    /// seq was used twice.
    pub fn sent_in_order(logs: &[&Log]) -> Vec<Message> {
        let mut all: Vec<(u64, Message)> = logs
            .iter()
            .flat_map(|l| l.sent.lock().unwrap().clone())
            .collect();
        all.sort_by_key(|(s, _)| *s);
        for w in all.windows(2) {
            assert_ne!(w[0].0, w[1].0, "seq {} used twice", w[0].0);
        }
        all.into_iter().map(|(_, m)| m).collect()
    }
}

/// Starts a server on 127.0.0.1 whose handler records every message it receives and echoes it;
/// with `tick_ms`, it also sends `tick N` (N counting per handler) that often.
pub async fn serve(resume: Resume, tick_ms: Option<u64>) -> (SocketAddr, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Log::default();
    let log2 = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let resume = resume.clone();
            let log = log2.clone();
            tokio::spawn(async move {
                let origin = Arc::new(Mutex::new(None::<String>));
                let o2 = origin.clone();
                let r2 = resume.clone();
                let cb = move |req: &Request,
                               mut resp: Response|
                      -> Result<Response, ErrorResponse> {
                    let o = req
                        .headers()
                        .get("origin")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    if r2.check_origin(o.as_deref()).is_err() {
                        let mut e = ErrorResponse::new(Some("origin not allowed".into()));
                        *e.status_mut() = StatusCode::FORBIDDEN;
                        return Err(e);
                    }
                    *o2.lock().unwrap() = o;
                    let offered = req
                        .headers()
                        .get("sec-websocket-protocol")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    if offered.split(',').any(|p| p.trim() == PROTOCOL) {
                        resp.headers_mut()
                            .insert("sec-websocket-protocol", HeaderValue::from_static(PROTOCOL));
                    }
                    Ok(resp)
                };
                let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await else {
                    return;
                };
                let origin = origin.lock().unwrap().clone();
                let Ok(mut s) = resume.accept(ws, origin.as_deref()).await else {
                    return;
                };
                let mut tick =
                    tokio::time::interval(Duration::from_millis(tick_ms.unwrap_or(3_600_000)));
                tick.tick().await;
                let mut n = 0u64;
                loop {
                    tokio::select! {
                        m = s.recv() => match m {
                            Some(Incoming::Message(m)) => {
                                log.received.lock().unwrap().push(m.clone());
                                match s.send(m.clone()).await {
                                    Ok(seq) => log.sent.lock().unwrap().push((seq, m)),
                                    Err(_) => return,
                                }
                            }
                            Some(Incoming::Gap { from, to }) => {
                                log.received.lock().unwrap().push(Message::from(format!("GAP {from}-{to}")));
                            }
                            None => return,
                        },
                        _ = tick.tick(), if tick_ms.is_some() => {
                            n += 1;
                            let m = Message::from(format!("tick {n}"));
                            match s.send(m.clone()).await {
                                Ok(seq) => log.sent.lock().unwrap().push((seq, m)),
                                Err(_) => return,
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, log)
}

/// A client WebSocket.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket offering the resume protocol, with an optional Origin.
pub async fn open(
    addr: SocketAddr,
    origin: Option<&str>,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let mut req = format!("ws://{addr}/").into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(PROTOCOL));
    if let Some(o) = origin {
        req.headers_mut()
            .insert("origin", HeaderValue::from_str(o).unwrap());
    }
    let (ws, resp) = tokio::time::timeout(STEP, tokio_tungstenite::connect_async(req))
        .await
        .expect("connect in time")?;
    assert_eq!(
        resp.headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        Some(PROTOCOL)
    );
    Ok(ws)
}

/// A client speaking the resume protocol, as docs/PROTOCOL.md describes the client's side.
pub struct Client {
    pub origin: Option<String>,
    pub ws: Option<Ws>,
    pub sid: Option<String>,
    /// Last server seq received in order.
    pub recv: u64,
    /// Last client seq assigned.
    pub sent: u64,
    /// Unacknowledged client messages, seqs `sent - len + 1 ..= sent`.
    pub buffer: VecDeque<Message>,
    pub received: Vec<Message>,
    pub gaps: Vec<(u64, u64)>,
    pub resets: u32,
    pub resumes: u32,
    /// The next server seq expected on this connection.
    expect: u64,
    skip: u64,
    unacked_in: u64,
}

impl Client {
    pub fn new(origin: Option<&str>) -> Self {
        Client {
            origin: origin.map(str::to_owned),
            ws: None,
            sid: None,
            recv: 0,
            sent: 0,
            buffer: VecDeque::new(),
            received: Vec::new(),
            gaps: Vec::new(),
            resets: 0,
            resumes: 0,
            expect: 1,
            skip: 0,
            unacked_in: 0,
        }
    }

    /// Connects and runs the handshake: hello, welcome, the server's from, our from and replay.
    pub async fn connect(&mut self, addr: SocketAddr) {
        let mut ws = open(addr, self.origin.as_deref()).await.expect("connect");
        let hello = Control::Hello {
            sid: self.sid.clone(),
            recv: self.recv,
        };
        ws.send(WsMessage::text(hello.encode())).await.unwrap();
        let welcome = match next_frame(&mut ws).await {
            Some(Frame::Control(c @ Control::Welcome { .. })) => c,
            other => panic!("expected welcome, got {other:?}"),
        };
        let Control::Welcome {
            sid,
            resumed,
            recv,
            sent,
            ..
        } = welcome
        else {
            unreachable!()
        };
        assert!(sid.len() == 32);
        if self.sid.is_some() && (!resumed || self.sid.as_deref() != Some(&sid)) {
            self.resets += 1;
            self.recv = 0;
            self.sent = 0;
            self.buffer.clear();
        } else if resumed {
            self.resumes += 1;
        }
        assert!(sent >= self.recv);
        self.sid = Some(sid);
        // Drop what the server has.
        let first = self.sent + 1 - self.buffer.len() as u64;
        assert!(
            recv <= self.sent,
            "server recv {recv} above our sent {}",
            self.sent
        );
        for _ in first..=recv {
            self.buffer.pop_front();
        }
        self.expect = self.recv + 1;
        self.skip = 0;
        self.ws = Some(ws);
        let first = self.sent + 1 - self.buffer.len() as u64;
        self.write(WsMessage::text(Control::From { seq: first }.encode()))
            .await;
        let replay: Vec<Message> = self.buffer.iter().cloned().collect();
        for m in replay {
            self.write(to_ws(&m)).await;
        }
    }

    /// Drops the TCP stream without a close frame (what a network failure looks like).
    pub fn drop_link(&mut self) {
        self.ws = None;
    }

    async fn write(&mut self, m: WsMessage) {
        if let Some(ws) = &mut self.ws {
            if ws.send(m).await.is_err() {
                self.ws = None;
            }
        }
    }

    /// Sends an app message (buffered until acknowledged).
    pub async fn send(&mut self, m: Message) {
        self.sent += 1;
        self.buffer.push_back(m.clone());
        self.write(to_ws(&m)).await;
    }

    /// Reads for `dur` (or until the link breaks), handling control frames.
    pub async fn pump(&mut self, dur: Duration) {
        let deadline = tokio::time::Instant::now() + dur;
        while self.ws.is_some() {
            let Some(ws) = &mut self.ws else { break };
            let f = match tokio::time::timeout_at(deadline, ws.next()).await {
                Err(_) => break,
                Ok(Some(Ok(m))) => m,
                Ok(_) => {
                    self.ws = None;
                    break;
                }
            };
            let frame = match f {
                WsMessage::Text(t) => decode_text(t.as_str().to_owned()).expect("valid frame"),
                WsMessage::Binary(b) => Frame::App(Message::Binary(b.to_vec())),
                WsMessage::Close(_) => {
                    self.ws = None;
                    break;
                }
                _ => continue,
            };
            match frame {
                Frame::App(m) => {
                    if self.skip > 0 {
                        self.skip -= 1;
                        continue;
                    }
                    self.received.push(m);
                    self.recv = self.expect;
                    self.expect += 1;
                    self.unacked_in += 1;
                    if self.unacked_in >= 8 {
                        self.ack().await;
                    }
                }
                Frame::Control(Control::From { seq }) => {
                    if seq > self.expect {
                        self.gaps.push((self.expect, seq - 1));
                        self.recv = seq - 1;
                        self.expect = seq;
                    } else {
                        self.skip = self.expect - seq;
                    }
                }
                Frame::Control(Control::Ack { seq }) => {
                    let first = self.sent + 1 - self.buffer.len() as u64;
                    for _ in first..=seq {
                        self.buffer.pop_front();
                    }
                }
                Frame::Control(Control::Ackreq) => self.ack().await,
                Frame::Control(Control::Ping) => {
                    self.write(WsMessage::text(Control::Pong.encode())).await
                }
                Frame::Control(other) => panic!("unexpected {other:?}"),
            }
        }
    }

    pub async fn ack(&mut self) {
        self.unacked_in = 0;
        let seq = self.recv;
        self.write(WsMessage::text(Control::Ack { seq }.encode()))
            .await;
    }
}

/// The next protocol frame (skipping pings), or `None` at the end.
pub async fn next_frame(ws: &mut Ws) -> Option<Frame> {
    loop {
        match tokio::time::timeout(STEP, ws.next())
            .await
            .expect("frame in time")
        {
            Some(Ok(WsMessage::Text(t))) => {
                return Some(decode_text(t.as_str().to_owned()).unwrap())
            }
            Some(Ok(WsMessage::Binary(b))) => return Some(Frame::App(Message::Binary(b.to_vec()))),
            Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => continue,
        }
    }
}

/// Reads until the close frame; returns its code (None: no close frame).
pub async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(STEP, ws.next())
            .await
            .expect("close in time")
        {
            Some(Ok(WsMessage::Close(f))) => return f.map(|f| u16::from(f.code)),
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => return None,
        }
    }
}

pub fn to_ws(m: &Message) -> WsMessage {
    match m {
        Message::Text(t) => WsMessage::text(encode_app_text(t)),
        Message::Binary(b) => WsMessage::binary(b.clone()),
    }
}

/// The i-th test message: text, binary, and text that starts with U+0000, in turn.
pub fn msg(i: u64) -> Message {
    match i % 3 {
        0 => Message::from(format!("c{i}")),
        1 => Message::Binary(i.to_le_bytes().to_vec()),
        _ => Message::from(format!("\0c{i}")),
    }
}

/// A real `redis-server` on a free 127.0.0.1 port with a temporary directory; killed on drop.
pub struct Redis {
    pub port: u16,
    child: tokio::process::Child,
    dir: std::path::PathBuf,
}

impl Redis {
    pub async fn start() -> Redis {
        let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir =
            std::env::temp_dir().join(format!("resocket-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = tokio::process::Command::new(&bin)
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin} (run scripts/setup.sh to install it): {e}")
            });
        let r = Redis { port, child, dir };
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server did not listen on {port} within 5 s");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
