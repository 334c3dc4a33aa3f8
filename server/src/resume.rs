//! `GET /ws/resume`: the resume protocol (docs/PROTOCOL.md) through the `resocket-resume`
//! adapter, with an in-memory session store. Every text and binary message is echoed; with
//! `tick=MS` the server also sends `{"type":"tick","seq":S}` every MS ms, where `S` is the seq
//! the tick itself goes out under, so a client that counts every message of the session finds
//! its count equal to `S` at each tick (any hole or repeat shows). Gaps the client reports are
//! answered with `{"type":"gap","from":F,"to":T}`. The connection shows in `/stats` like every
//! endpoint (messages recorded as the handler takes them, so exactly once per session), and
//! `/control/drop` and `/control/close` end it without a close frame (the session stays
//! resumable); the other verbs are acknowledged and do nothing here.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::task::AtomicWaker;
use futures_util::{Sink, Stream};
use resocket_resume::{origin_of, Incoming, Message, PROTOCOL};

use crate::params::ApiError;
use crate::state::{Admission, Ctl, MsgRecord, State};
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
    let socket = Killable {
        inner: socket,
        kill: kill.clone(),
    };
    let Ok(mut s) = state.resume.accept(socket, origin.as_deref()).await else {
        return;
    };
    let (client, generation) = (guard.client().clone(), guard.generation());
    let period = Duration::from_millis(if tick_ms == 0 { 3_600_000 } else { tick_ms });
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            c = ctl.recv() => {
                let Some(mut c) = c else { continue };
                let end = matches!(c.ctl, Ctl::Drop | Ctl::Close(..) | Ctl::Shutdown);
                if end {
                    kill.fire();
                    // Let the driver see it and drop the socket.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                // No break: `recv` drains what the connection had taken (one that this select
                // cancelled may already count as received in a Redis store), then ends.
                c.ack();
            }
            m = s.recv() => match m {
                Some(Incoming::Message(m)) => {
                    let rec = match &m {
                        Message::Text(t) => MsgRecord::text(&t.as_str().into()),
                        Message::Binary(b) => MsgRecord::binary(b),
                    };
                    state.record(&client, generation, rec, m.len());
                    if s.send(m).await.is_err() {
                        break;
                    }
                }
                Some(Incoming::Gap { from, to }) => {
                    let v = serde_json::json!({ "type": "gap", "from": from, "to": to });
                    if s.send(v.to_string()).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            _ = tick.tick(), if tick_ms > 0 => {
                let seq = s.last_sent() + 1;
                let v = serde_json::json!({ "type": "tick", "seq": seq });
                if s.send(v.to_string()).await.is_err() {
                    break;
                }
            }
        }
    }
    guard.close = None;
}

/// Ends a [`Killable`] socket: its stream ends and its writes fail, so the adapter's driver
/// stops and drops the TCP stream without a close frame.
#[derive(Clone, Default)]
struct Kill(Arc<(AtomicBool, AtomicWaker)>);

impl Kill {
    fn fire(&self) {
        self.0 .0.store(true, Ordering::Release);
        self.0 .1.wake();
    }

    fn fired(&self, cx: &mut Context<'_>) -> bool {
        self.0 .1.register(cx.waker());
        self.0 .0.load(Ordering::Acquire)
    }
}

/// A WebSocket that [`Kill`] can cut.
struct Killable {
    inner: WebSocket,
    kill: Kill,
}

fn killed() -> axum::Error {
    axum::Error::new(std::io::Error::other("dropped by /control"))
}

impl Stream for Killable {
    type Item = Result<WsMessage, axum::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.kill.fired(cx) {
            return Poll::Ready(None);
        }
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl Sink<WsMessage> for Killable {
    type Error = axum::Error;
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.kill.fired(cx) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_ready(cx)
    }
    fn start_send(mut self: Pin<&mut Self>, item: WsMessage) -> Result<(), Self::Error> {
        Pin::new(&mut self.inner).start_send(item)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.kill.fired(cx) {
            return Poll::Ready(Err(killed()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.kill.fired(cx) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_close(cx)
    }
}
