//! `GET /ws/resume`: the resume protocol (docs/PROTOCOL.md) through the `resocket-resume`
//! adapter, with an in-memory session store. Every text and binary message is echoed; with
//! `tick=MS` the server also sends `{"type":"tick","seq":S}` every MS ms, where `S` is the seq
//! the tick itself goes out under, so a client that counts every message of the session finds
//! its count equal to `S` at each tick (any hole or repeat shows). Gaps the client reports are
//! answered with `{"type":"gap","from":F,"to":T}`. With `symbols=A,B` the ticks are the
//! ticker's (`symbol`, `price`, `ts`, for the symbols in turn) and `ping`, `subscribe` and
//! `unsubscribe` get the ticker's answers instead of their echo, and the ticks go on into the
//! session while the client is away (replayed when it resumes; at most 120 s): the dashboard's
//! feed with resume. With `flood=N&size=S` the text `go` is answered with N messages of S
//! bytes, `{"seq":I,"v":"x..."}` as `/ws/flood` sends them, then `{"type":"done","count":N}`
//! (the bench). The connection shows in `/stats` like every endpoint (messages recorded as the
//! handler takes them, so exactly once per session), and so does what the handler sent (each
//! message with its seq in the session) and each handshake's outcome: both sides' records, for
//! the resume soak. `/control/drop` ends the connection without a close frame, `/control/close`
//! with that close frame (the session stays resumable either way); the other verbs are
//! acknowledged and do nothing here.

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
use crate::ticker::{self, Market};
use crate::ws::params;

/// The longest tick interval, in ms.
const MAX_TICK_MS: u64 = 60_000;
/// How long a market feed (`symbols=`) goes on ticking into a session without a connection:
/// the adapter's default session ttl.
const DETACHED_TICKS: Duration = Duration::from_secs(120);

type Q = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;
type Upgrade = Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>;

/// `GET /ws/resume?client=ID&tick=MS&symbols=A,B&flood=N&size=S`.
pub async fn resume(
    AxState(state): AxState<Arc<State>>,
    headers: HeaderMap,
    q: Q,
    ws: Upgrade,
) -> Response {
    let parsed = params(q).and_then(|p| {
        let client = p.client()?.to_owned();
        let tick = p.int("tick", 0, 0..=MAX_TICK_MS)?;
        let market = match p.raw("symbols") {
            Some(_) => Some(Market::new(ticker::parse_symbols(&p)?)),
            None => None,
        };
        let flood = Flood::parse(&p)?;
        Ok((client, tick, Extras { market, flood }))
    });
    let (client, tick, extras) = match parsed {
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
        .on_upgrade(move |socket| run(socket, state, origin, guard, ctl, tick, extras))
}

async fn run(
    socket: WebSocket,
    state: Arc<State>,
    origin: Option<String>,
    mut guard: crate::state::ConnGuard,
    mut ctl: tokio::sync::mpsc::UnboundedReceiver<crate::state::CtlMsg>,
    tick_ms: u64,
    mut extras: Extras,
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
    let mut shutdown = false;
    // Every `break` below leaves no message half-taken: a `recv` that `select!` cancelled may
    // already count its message as received in the store (Redis), so after the loop the socket
    // is ended and `recv` drained to `None`, each message it still gives taken (recorded and
    // answered, into the session) like any other.
    loop {
        tokio::select! {
            c = ctl.recv() => {
                let Some(mut c) = c else { continue };
                let end = match &c.ctl {
                    Ctl::Drop | Ctl::Shutdown => Some(None),
                    Ctl::Close(code, reason) => Some(Some((*code, reason.clone()))),
                    _ => None,
                };
                shutdown |= matches!(c.ctl, Ctl::Shutdown);
                match end {
                    Some(close) => {
                        kill.fire(close);
                        // Acknowledged once the driver has seen it and dropped the socket;
                        // meanwhile this loop goes on taking what the connection had taken,
                        // without delay (a reply held back here could find the session
                        // already resumed on another connection, and be refused).
                        tokio::spawn(async move {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            c.ack();
                        });
                    }
                    None => c.ack(),
                }
            }
            m = s.recv() => match m {
                Some(incoming) => {
                    if !take(&mut s, incoming, &mut extras, &log).await {
                        break;
                    }
                }
                None => break,
            },
            _ = tick.tick(), if tick_ms > 0 => {
                if let Some(text) = extras.tick(s.last_sent() + 1) {
                    if !log.send(&mut s, text).await {
                        break;
                    }
                }
            }
        }
    }
    kill.end();
    while let Some(incoming) = s.recv().await {
        take(&mut s, incoming, &mut extras, &log).await;
    }
    guard.close = None;
    drop(guard); // the connection is over (stats)
    if tick_ms > 0 && extras.market.is_some() && !shutdown {
        // The market goes on while the client is away: ticks go into the session, replayed
        // when it resumes, until another connection has taken it over (`Superseded`), it is
        // gone, or the session's ttl has passed.
        let until = tokio::time::Instant::now() + DETACHED_TICKS;
        while tokio::time::Instant::now() < until {
            tick.tick().await;
            let Some(text) = extras.tick(s.last_sent() + 1) else {
                continue;
            };
            if s.send(text).await.is_err() {
                break;
            }
        }
    }
}

/// Takes one message from the client (recorded in the stats) and answers it; false once the
/// handler should stop.
async fn take(
    s: &mut ResumeSocket,
    incoming: Incoming,
    extras: &mut Extras,
    log: &Log<'_>,
) -> bool {
    match incoming {
        Incoming::Message(m) => {
            log.state
                .record(log.client, log.generation, record_of(&m), m.len());
            match extras.answer(&m) {
                Answer::Echo => log.send(s, m).await,
                Answer::Reply(text) => log.send(s, text).await,
                Answer::Flood(f) => f.run(s).await.is_ok(),
            }
        }
        Incoming::Gap { from, to } => {
            let v = serde_json::json!({ "type": "gap", "from": from, "to": to });
            log.send(s, v.to_string()).await
        }
    }
}

/// What `symbols=` and `flood=` add to the echo.
struct Extras {
    market: Option<Market>,
    flood: Option<Flood>,
}

enum Answer {
    Echo,
    Reply(String),
    Flood(Flood),
}

impl Extras {
    /// The tick sent under `seq`: the ticker's with `symbols=`, else `{"type":"tick","seq":S}`.
    fn tick(&mut self, seq: u64) -> Option<String> {
        match &mut self.market {
            Some(market) => market.tick(seq),
            None => Some(serde_json::json!({ "type": "tick", "seq": seq }).to_string()),
        }
    }

    fn answer(&mut self, m: &Message) -> Answer {
        let Message::Text(text) = m else {
            return Answer::Echo;
        };
        match (&self.flood, &mut self.market) {
            (Some(f), _) if text == "go" => Answer::Flood(*f),
            (_, Some(market)) => market.answer(text).map_or(Answer::Echo, Answer::Reply),
            _ => Answer::Echo,
        }
    }
}

/// `flood=N&size=S`: N text messages of S bytes on `go`, then the `done` marker.
#[derive(Debug, Clone, Copy)]
struct Flood {
    count: u64,
    size: usize,
}

impl Flood {
    fn parse(p: &crate::params::Params) -> Result<Option<Flood>, ApiError> {
        if p.raw("flood").is_none() {
            return Ok(None);
        }
        let count = p.int("flood", 0, 1..=10_000_000)?;
        // `{"seq":` + 8 digits + `,"v":"` + `"}` fits in 32 bytes.
        let size = p.int("size", 64, 32..=1 << 20)? as usize;
        Ok(Some(Flood { count, size }))
    }

    async fn run(self, s: &mut resocket_resume::ResumeSocket) -> resocket_resume::Result<()> {
        let pad = "x".repeat(self.size);
        for seq in 0..self.count {
            let head = format!("{{\"seq\":{seq},\"v\":\"");
            let fill = self.size.saturating_sub(head.len() + 2);
            s.send(format!("{head}{}\"}}", &pad[..fill])).await?;
        }
        s.send(format!("{{\"type\":\"done\",\"count\":{}}}", self.count))
            .await
            .map(drop)
    }
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

    /// Cuts the connection without a close frame, unless it was cut already (a close frame
    /// asked for stays).
    fn end(&self) {
        if !self.0.fired.load(Ordering::Acquire) {
            self.fire(None);
        }
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
