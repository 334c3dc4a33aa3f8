//! The machinery every WebSocket endpoint shares: the reader half (stats,
//! close observation, an optional read-rate limit), the writer half with
//! fault injection (drop, close, silence, malformed payloads, throttle) and
//! the connection lifecycle.

use std::collections::VecDeque;
use std::future::Future;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};

use crate::state::{ConnGuard, Ctl, CtlMsg, MsgRecord};

/// How long a server-initiated close waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(3);
/// Capacity of the inbound queue from the reader to the endpoint.
const INBOUND_QUEUE: usize = 1024;
/// The most reading time a rate-limited reader may have saved up (see [`pace`]).
const PACE_CREDIT: Duration = Duration::from_millis(10);

/// The truncated JSON text sent by `/control/malformed?kind=json`.
pub const MALFORMED_TEXT: &str = "{\"type\":\"tick\",\"seq\":";

/// Why an endpoint's writer stopped.
#[derive(Debug)]
pub enum End {
    /// Drop the TCP stream now, without a close frame; then acknowledge.
    Drop(CtlMsg),
    /// A close frame was sent; wait for the client's.
    CloseSent,
    /// Writing failed (the peer is gone or closing).
    Error,
    /// The reader finished (the inbound queue closed).
    ReaderGone,
}

/// What an endpoint gets: the outbound side and the inbound queue, as
/// separate fields so both can be awaited in one `select!`.
pub struct Conn {
    /// The outbound side.
    pub out: Out,
    /// Messages the client sent (text and binary only), in order.
    pub inbound: mpsc::Receiver<Message>,
}

impl Conn {
    /// Handles control commands (and discards inbound messages) until the
    /// reader finishes; used after an endpoint has nothing more to send.
    pub async fn idle(&mut self) -> Result<(), End> {
        loop {
            tokio::select! {
                c = self.out.next_ctl() => self.out.apply(c).await?,
                m = self.inbound.recv() => if m.is_none() { return Ok(()) },
            }
        }
    }
}

/// The writer half of a connection plus its fault-injection state.
pub struct Out {
    sink: SplitSink<WebSocket, Message>,
    ctl: mpsc::UnboundedReceiver<CtlMsg>,
    silent_until: Option<Instant>,
    urgent: VecDeque<Message>,
    pending_acks: Vec<CtlMsg>,
    /// The reader's rate limit in bytes per second (0: none).
    read_rate: watch::Sender<u64>,
}

impl Out {
    /// Whether the connection is currently silenced.
    pub fn is_silent(&mut self) -> bool {
        match self.silent_until {
            Some(t) if t > Instant::now() => true,
            Some(_) => {
                self.silent_until = None;
                false
            }
            None => false,
        }
    }

    /// When the current silence ends, if any.
    pub fn silent_until(&mut self) -> Option<Instant> {
        if self.is_silent() {
            self.silent_until
        } else {
            None
        }
    }

    /// Waits for the next control command (never returns if the control
    /// channel is closed, which only happens when the server is gone).
    pub async fn next_ctl(&mut self) -> CtlMsg {
        match self.ctl.recv().await {
            Some(m) => m,
            None => std::future::pending().await,
        }
    }

    /// Applies a control command. Terminal commands (drop, close) end the
    /// writer; the others take effect and are acknowledged.
    pub async fn apply(&mut self, mut msg: CtlMsg) -> Result<(), End> {
        match msg.ctl {
            Ctl::Drop => return Err(End::Drop(msg)),
            Ctl::Close(code, ref reason) => {
                let frame = CloseFrame {
                    code,
                    reason: Utf8Bytes::from(reason.as_str()),
                };
                let _ = self.sink.send(Message::Close(Some(frame))).await;
                msg.ack();
                return Err(End::CloseSent);
            }
            Ctl::Shutdown => {
                let frame = CloseFrame {
                    code: 1001,
                    reason: Utf8Bytes::from_static("server shutting down"),
                };
                let _ = self.sink.send(Message::Close(Some(frame))).await;
                msg.ack();
                return Err(End::CloseSent);
            }
            Ctl::Silence(until) => {
                self.silent_until = until;
                msg.ack();
            }
            Ctl::Throttle(bps) => {
                self.read_rate.send_replace(bps);
                msg.ack();
            }
            Ctl::Malformed { json, binary } => {
                if json {
                    self.urgent.push_back(Message::Text(MALFORMED_TEXT.into()));
                }
                if binary {
                    self.urgent
                        .push_back(Message::Binary(malformed_blob().into()));
                }
                self.pending_acks.push(msg);
                self.flush_urgent().await?;
            }
        }
        Ok(())
    }

    /// Sends the queued injected payloads (they ignore silence).
    async fn flush_urgent(&mut self) -> Result<(), End> {
        while let Some(m) = self.urgent.pop_front() {
            self.sink.send(m).await.map_err(|_| End::Error)?;
        }
        for mut a in self.pending_acks.drain(..) {
            a.ack();
        }
        Ok(())
    }

    /// Sends one message and flushes it, unless the connection is silent:
    /// then the message is discarded and `Ok(false)` returned. Control
    /// commands that arrive while the send waits for the socket are handled.
    pub async fn send(&mut self, msg: Message) -> Result<bool, End> {
        self.transmit(msg, true).await
    }

    /// Like [`Out::send`] but only buffers the message (call
    /// [`Out::flush`] after a batch).
    pub async fn feed(&mut self, msg: Message) -> Result<bool, End> {
        self.transmit(msg, false).await
    }

    /// Flushes buffered messages.
    pub async fn flush(&mut self) -> Result<(), End> {
        loop {
            tokio::select! {
                biased;
                c = self.ctl.recv() => match c {
                    Some(c) => self.apply(c).await?,
                    None => std::future::pending().await,
                },
                r = self.sink.flush() => return r.map_err(|_| End::Error),
            }
        }
    }

    async fn transmit(&mut self, msg: Message, flush: bool) -> Result<bool, End> {
        loop {
            if self.is_silent() {
                return Ok(false);
            }
            // `feed` completes in the same poll that hands the message to
            // the socket, so cancelling it for a control command never
            // leaves a half-sent message behind (no duplicates on retry).
            let ctl = tokio::select! {
                biased;
                c = self.ctl.recv() => c,
                r = self.sink.feed(msg.clone()) => {
                    r.map_err(|_| End::Error)?;
                    break;
                }
            };
            match ctl {
                Some(c) => self.apply(c).await?,
                None => std::future::pending().await,
            }
        }
        if flush {
            self.flush().await?;
        }
        Ok(true)
    }
}

/// A deterministic, random-looking 61-byte blob (not valid UTF-8, not JSON).
fn malformed_blob() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = vec![0xff, 0xfe, 0x00];
    while out.len() < 61 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push((x >> 24) as u8);
    }
    out
}

/// Reads until the stream ends, recording every text and binary message in
/// the stats and forwarding it to the endpoint, at most `rate` payload bytes
/// per second when a limit is set (see [`pace`]). Returns the close frame the
/// client sent, if any (`1005` for a close frame without a status code).
async fn read_loop(
    mut stream: SplitStream<WebSocket>,
    tx: mpsc::Sender<Message>,
    guard_info: (
        std::sync::Arc<crate::state::State>,
        std::sync::Arc<str>,
        u64,
    ),
    mut rate: watch::Receiver<u64>,
) -> Option<(u16, String)> {
    let (state, client, generation) = guard_info;
    let mut close = None;
    let mut next = tokio::time::Instant::now();
    while let Some(item) = stream.next().await {
        let len = match item {
            Ok(Message::Text(t)) => {
                let len = t.len();
                state.record(&client, generation, MsgRecord::text(&t), len);
                let _ = tx.send(Message::Text(t)).await;
                len
            }
            Ok(Message::Binary(b)) => {
                let len = b.len();
                state.record(&client, generation, MsgRecord::binary(&b), len);
                let _ = tx.send(Message::Binary(b)).await;
                len
            }
            Ok(Message::Close(frame)) => {
                close = Some(match frame {
                    Some(f) => (f.code, f.reason.as_str().to_owned()),
                    None => (1005, String::new()),
                });
                0
            }
            Ok(Message::Ping(_) | Message::Pong(_)) => 0,
            Err(_) => break,
        };
        pace(&mut rate, &mut next, len).await;
    }
    close
}

/// The read-rate limit: after a message of `len` bytes the reader stops
/// reading the socket for `len / bps` seconds, counted from when the previous
/// message's time was used up (`next`). Timers wake late by a millisecond or
/// so; counting from `next` makes up for that, while an idle client builds up
/// at most [`PACE_CREDIT`] of credit. Meanwhile the TCP stream is not read, so
/// the client's send buffers fill: the browser's `bufferedAmount` rises. A
/// rate change (the `throttle` control verb) takes effect at once, 0 lifting
/// the limit.
async fn pace(rate: &mut watch::Receiver<u64>, next: &mut tokio::time::Instant, len: usize) {
    let now = tokio::time::Instant::now();
    let start = (*next).max(now.checked_sub(PACE_CREDIT).unwrap_or(now));
    loop {
        let bps = *rate.borrow_and_update();
        if bps == 0 || len == 0 {
            *next = start;
            return;
        }
        let due = start + Duration::from_secs_f64(len as f64 / bps as f64);
        tokio::select! {
            () = tokio::time::sleep_until(due) => {
                *next = due;
                return;
            }
            changed = rate.changed() => {
                if changed.is_err() {
                    // The writer is gone (the connection is ending): keep the pace.
                    tokio::time::sleep_until(due).await;
                    *next = due;
                    return;
                }
            }
        }
    }
}

/// Runs one accepted connection to its end: the endpoint writer `body`
/// alongside the reader, then the close bookkeeping (via the guard).
/// `body` returns `Ok(())` when the inbound queue closed (the reader is
/// done) and `Err` when it stopped for another reason. `bps` is the reader's
/// initial rate limit in payload bytes per second (0: none).
pub async fn run<F, Fut>(
    socket: WebSocket,
    ctl: mpsc::UnboundedReceiver<CtlMsg>,
    mut guard: ConnGuard,
    bps: u64,
    body: F,
) where
    F: FnOnce(Conn) -> Fut,
    Fut: Future<Output = Result<(), End>>,
{
    let (sink, stream) = socket.split();
    let (tx, rx) = mpsc::channel(INBOUND_QUEUE);
    let (read_rate, rate) = watch::channel(bps);
    let info = (
        guard.state().clone(),
        guard.client().clone(),
        guard.generation(),
    );
    let mut reader = Box::pin(read_loop(stream, tx, info, rate));
    let conn = Conn {
        out: Out {
            sink,
            ctl,
            silent_until: None,
            urgent: VecDeque::new(),
            pending_acks: Vec::new(),
            read_rate,
        },
        inbound: rx,
    };
    let writer = body(conn);
    let end = tokio::select! {
        close = &mut reader => {
            guard.close = close;
            return;
        }
        end = writer => end.err().unwrap_or(End::ReaderGone),
    };
    match end {
        End::Drop(mut msg) => {
            // Dropping the reader drops the last half of the socket: the
            // TCP stream closes without a close frame.
            drop(reader);
            guard.close = None;
            drop(guard);
            msg.ack();
        }
        End::CloseSent | End::Error | End::ReaderGone => {
            guard.close = tokio::time::timeout(CLOSE_WAIT, reader)
                .await
                .ok()
                .flatten();
        }
    }
}
