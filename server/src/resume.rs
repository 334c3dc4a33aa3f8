//! `GET /ws/resume`: the resume protocol (docs/PROTOCOL.md) through the `resocket-resume`
//! adapter, with an in-memory session store. Every text and binary message is echoed; with
//! `tick=MS` the server also sends `{"type":"tick","seq":S}` every MS ms, where `S` is the seq
//! the tick itself goes out under, so a client that counts every message of the session finds
//! its count equal to `S` at each tick (any hole or repeat shows). Gaps the client reports are
//! answered with `{"type":"gap","from":F,"to":T}`. The connection shows in `/stats` like every
//! endpoint (messages recorded as the handler takes them, so exactly once per session), and so
//! does what the handler sent (each message with its seq in the session) and each handshake's
//! outcome: both sides' records, for the resume soak. `/control/drop` ends the connection
//! without a close frame, `/control/close` with that close frame (the session stays resumable
//! either way); the other verbs are acknowledged and do nothing here.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::task::AtomicWaker;
use futures_util::{Sink, Stream};
use resocket_resume::{origin_of, Incoming, Message, ResumeSocket, PROTOCOL};

use crate::params::ApiError;
use crate::state::{lock, Admission, Ctl, MsgRecord, State};
use crate::ws::params;

/// The longest tick interval, in ms.
const MAX_TICK_MS: u64 = 60_000;

type Q = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;
type Upgrade = Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>;

/// `GET /ws/resume?client=ID&tick=MS`.
pub async fn resume(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    q: Q,
    ws: Upgrade,
) -> Response {
    let parsed = params(q).and_then(|p| {
        let client = p.client()?.to_owned();
        let tick = p.int("tick", 0, 0..=MAX_TICK_MS)?;
        Ok((client, tick))
    });
    let (client, tick) = match parsed {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let origin = origin_of(&headers).map(str::to_owned);
    if let Err(e) = state.resume.check_origin(origin.as_deref()) {
        return ApiError(StatusCode::FORBIDDEN, e.to_string()).into_response();
    }
    let ws = match ws {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    if let Admission::Refuse = state.admit(&client) {
        return ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "refusing WebSocket upgrades (fault injection: /control/refuse)".into(),
        )
        .into_response();
    }
    let (guard, ctl) = state.accept(&client, None, "resume");
    ws.protocols([PROTOCOL])
        .on_upgrade(move |socket| run(socket, state, origin, guard, ctl, tick))
}

async fn run(
    socket: WebSocket,
    state: Arc<State>,
    origin: Option<String>,
    mut guard: crate::state::ConnGuard,
    mut ctl: tokio::sync::mpsc::UnboundedReceiver<crate::state::CtlMsg>,
    tick_ms: u64,
) {
    let kill = Kill::default();
    let socket = Killable::new(socket, kill.clone());
    let Ok(mut s) = state.resume.accept(socket, origin.as_deref()).await else {
        return;
    };
    let (client, generation) = (guard.client().clone(), guard.generation());
    state.record_resume(&client, generation, s.resumed(), s.replayed());
    let log = Log {
        state: &state,
        client: &client,
        generation,
    };
    let period = Duration::from_millis(if tick_ms == 0 { 3_600_000 } else { tick_ms });
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            c = ctl.recv() => {
                let Some(mut c) = c else { continue };
                let end = match &c.ctl {
                    Ctl::Drop | Ctl::Shutdown => Some(None),
                    Ctl::Close(code, reason) => Some(Some((*code, reason.clone()))),
                    _ => None,
                };
                if let Some(close) = &end {
                    kill.fire(close.clone());
                    // Let the driver see it and drop the socket.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                c.ack();
                if end.is_some() {
                    break;
                }
            }
            m = s.recv() => match m {
                Some(Incoming::Message(m)) => {
                    state.record(&client, generation, record_of(&m), m.len());
                    if !log.send(&mut s, m).await {
                        break;
                    }
                }
                Some(Incoming::Gap { from, to }) => {
                    let v = serde_json::json!({ "type": "gap", "from": from, "to": to });
                    if !log.send(&mut s, v.to_string()).await {
                        break;
                    }
                }
                None => break,
            },
            _ = tick.tick(), if tick_ms > 0 => {
                let seq = s.last_sent() + 1;
                let v = serde_json::json!({ "type": "tick", "seq": seq });
                if !log.send(&mut s, v.to_string()).await {
                    break;
                }
            }
        }
    }
    guard.close = None;
}

/// The stats of the connection's client.
struct Log<'a> {
    state: &'a State,
    client: &'a str,
    generation: u64,
}

impl Log<'_> {
    /// Sends one message and records it (with its seq, or as refused) as the application's;
    /// false once the handler should stop.
    async fn send(&self, s: &mut ResumeSocket, m: impl Into<Message>) -> bool {
        let m = m.into();
        let rec = record_of(&m);
        let r = s.send(m).await;
        self.state
            .record_sent(self.client, self.generation, r.as_ref().ok().copied(), rec);
        r.is_ok()
    }
}

fn record_of(m: &Message) -> MsgRecord {
    match m {
        Message::Text(t) => MsgRecord::text(&t.as_str().into()),
        Message::Binary(b) => MsgRecord::binary(b),
    }
}

/// Ends a [`Killable`] socket: its stream ends and its writes fail, so the adapter's driver
/// stops and drops the TCP stream; with a close frame, that frame goes out first.
#[derive(Clone, Default)]
struct Kill(Arc<KillState>);

#[derive(Default)]
struct KillState {
    fired: AtomicBool,
    waker: AtomicWaker,
    close: Mutex<Option<(u16, String)>>,
}

impl Kill {
    fn fire(&self, close: Option<(u16, String)>) {
        *lock(&self.0.close) = close;
        self.0.fired.store(true, Ordering::Release);
        self.0.waker.wake();
    }

    fn fired(&self, cx: &mut Context<'_>) -> bool {
        self.0.waker.register(cx.waker());
        self.0.fired.load(Ordering::Acquire)
    }

    fn take_close(&self) -> Option<(u16, String)> {
        lock(&self.0.close).take()
    }
}

/// Where a killed [`Killable`] is with its close frame.
enum Ending {
    /// The close frame still to be written.
    Send(WsMessage),
    /// Written; being flushed.
    Flush,
    /// Nothing more goes out.
    Done,
}

/// A WebSocket that [`Kill`] can cut.
struct Killable {
    inner: WebSocket,
    kill: Kill,
    ending: Option<Ending>,
}

impl Killable {
    fn new(inner: WebSocket, kill: Kill) -> Self {
        Killable {
            inner,
            kill,
            ending: None,
        }
    }

    /// `Ready(false)`: not killed. Killed: `Pending` while the close frame (if any) goes out,
    /// then `Ready(true)`. A failed write of the close frame ends it too.
    fn poll_killed(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        if !self.kill.fired(cx) {
            return Poll::Ready(false);
        }
        loop {
            let inner = Pin::new(&mut self.inner);
            self.ending = Some(match self.ending.take() {
                None => match self.kill.take_close() {
                    Some((code, reason)) => {
                        Ending::Send(WsMessage::Close(Some(axum::extract::ws::CloseFrame {
                            code,
                            reason: reason.into(),
                        })))
                    }
                    None => Ending::Done,
                },
                Some(Ending::Send(frame)) => match inner.poll_ready(cx) {
                    Poll::Pending => {
                        self.ending = Some(Ending::Send(frame));
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok(())) => match Pin::new(&mut self.inner).start_send(frame) {
                        Ok(()) => Ending::Flush,
                        Err(_) => Ending::Done,
                    },
                    Poll::Ready(Err(_)) => Ending::Done,
                },
                Some(Ending::Flush) => match inner.poll_flush(cx) {
                    Poll::Pending => {
                        self.ending = Some(Ending::Flush);
                        return Poll::Pending;
                    }
                    Poll::Ready(_) => Ending::Done,
                },
                Some(Ending::Done) => {
                    self.ending = Some(Ending::Done);
                    return Poll::Ready(true);
                }
            });
        }
    }
}

fn killed() -> axum::Error {
    axum::Error::new(std::io::Error::other("dropped by /control"))
}

impl Stream for Killable {
    type Item = Result<WsMessage, axum::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.poll_killed(cx) {
            Poll::Ready(false) => Pin::new(&mut self.inner).poll_next(cx),
            Poll::Ready(true) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Sink<WsMessage> for Killable {
    type Error = axum::Error;
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.poll_killed(cx) {
            Poll::Ready(false) => Pin::new(&mut self.inner).poll_ready(cx),
            Poll::Ready(true) => Poll::Ready(Err(killed())),
            Poll::Pending => Poll::Pending,
        }
    }
    fn start_send(mut self: Pin<&mut Self>, item: WsMessage) -> Result<(), Self::Error> {
        Pin::new(&mut self.inner).start_send(item)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.poll_killed(cx) {
            Poll::Ready(false) => Pin::new(&mut self.inner).poll_flush(cx),
            Poll::Ready(true) => Poll::Ready(Err(killed())),
            Poll::Pending => Poll::Pending,
        }
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        match self.poll_killed(cx) {
            Poll::Ready(false) => Pin::new(&mut self.inner).poll_close(cx),
            Poll::Ready(true) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }
}
