//! [`Resume`] (the acceptor an application keeps in its state) and [`ResumeSocket`] (what a
//! WebSocket handler uses in place of the raw socket).
//!
//! `accept` runs the handshake (docs/PROTOCOL.md section 6), then spawns a driver task that
//! owns the WebSocket: it numbers, buffers and writes what the handler sends, acknowledges and
//! de-duplicates what the client sends, and answers control frames. The handler talks to it
//! through channels, so `recv` is cancel-safe (use it in `select!`).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::frame::{decode_text, encode_app_text, Control, Frame, MAX_SEQ};
use crate::message::{Incoming, Message};
use crate::origin::Origins;
use crate::session::{Limits, MemoryStore, Opened, SessionId, SessionStore};
use crate::wire::{Wire, WireMessage};

/// How many inbound messages wait for the handler before the driver stops reading the socket.
const INBOX: usize = 64;

/// The adapter's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Session bounds (buffer, ttl, session count).
    pub limits: Limits,
    /// Which origins may connect.
    pub origins: Origins,
    /// How long the server waits for `hello` (default 10 s).
    pub hello_timeout: Duration,
    /// Acknowledge after this many messages (default 32).
    pub ack_every: u64,
    /// ... or this long after the first unacknowledged one (default 200 ms).
    pub ack_delay: Duration,
    /// The largest app message accepted from the client (default 1 MiB; larger: close 1009).
    pub max_message_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::default(),
            origins: Origins::new(Vec::<String>::new()),
            hello_timeout: Duration::from_secs(10),
            ack_every: 32,
            ack_delay: Duration::from_millis(200),
            max_message_bytes: 1 << 20,
        }
    }
}

/// The resume layer of a server: a session store and the settings. Cheap to clone; keep one in
/// the application's state and call [`Resume::accept`] on every upgraded WebSocket.
#[derive(Clone)]
pub struct Resume {
    store: Arc<dyn SessionStore>,
    config: Arc<Config>,
}

impl fmt::Debug for Resume {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resume")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Resume {
    /// A resume layer over `store`.
    pub fn new(store: impl SessionStore, config: Config) -> Self {
        Resume {
            store: Arc::new(store),
            config: Arc::new(config),
        }
    }

    /// A resume layer with an in-memory store (one node).
    ///
    /// ```
    /// use resocket_resume::{Config, Origins, Resume};
    /// let resume = Resume::memory(Config {
    ///     origins: Origins::new(["https://app.example"]),
    ///     ..Config::default()
    /// });
    /// assert!(resume.check_origin(Some("https://evil.example")).is_err());
    /// ```
    pub fn memory(config: Config) -> Self {
        Self::new(MemoryStore::new(), config)
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Checks the upgrade request's `Origin` (call it before upgrading and answer 403 on error).
    pub fn check_origin(&self, origin: Option<&str>) -> Result<()> {
        self.config.origins.check(origin)
    }

    /// Runs the handshake on an upgraded WebSocket (which selected [`crate::PROTOCOL`]) and
    /// returns the socket the handler uses. `origin` is the upgrade request's `Origin` header;
    /// the session is bound to it. On error the WebSocket has been closed with the code of
    /// docs/PROTOCOL.md section 8.
    pub async fn accept<W, M, E>(&self, mut ws: W, origin: Option<&str>) -> Result<ResumeSocket>
    where
        W: Stream<Item = std::result::Result<M, E>> + Sink<M, Error = E> + Send + Unpin + 'static,
        M: WireMessage,
        E: fmt::Display + Send + 'static,
    {
        let config = self.config.clone();
        if let Err(e) = config.origins.check(origin) {
            close(&mut ws, 1008, "origin not allowed").await;
            return Err(e);
        }
        let ms = u64::try_from(config.hello_timeout.as_millis()).unwrap_or(u64::MAX);
        let hello = match tokio::time::timeout(config.hello_timeout, read_hello(&mut ws)).await {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                close_for(&mut ws, &e).await;
                return Err(e);
            }
            Err(_) => {
                close(&mut ws, 4408, "no hello in time").await;
                return Err(Error::HelloTimeout { ms });
            }
        };
        let (sid, client_recv) = hello;
        let opened = match self
            .store
            .open(
                sid.as_ref(),
                origin.unwrap_or(""),
                client_recv,
                &config.limits,
            )
            .await
        {
            Ok(o) => o,
            Err(e) => {
                close_for(&mut ws, &e).await;
                return Err(e);
            }
        };
        let Opened {
            sid,
            epoch,
            resumed,
            recv,
            sent,
            replay_from,
            replay,
        } = opened;
        let ttl = u64::try_from(config.limits.ttl.as_millis()).unwrap_or(u64::MAX);
        let replayed = replay.len() as u64;
        let mut frames = vec![
            M::text(Control::welcome(&sid, resumed, recv, sent, ttl).encode()),
            M::text(Control::From { seq: replay_from }.encode()),
        ];
        frames.extend(replay.into_iter().map(to_wire::<M>));
        for f in frames {
            if let Err(e) = ws.feed(f).await {
                return Err(Error::Transport(e.to_string()));
            }
        }
        if let Err(e) = ws.flush().await {
            return Err(Error::Transport(e.to_string()));
        }
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let (in_tx, in_rx) = mpsc::channel(INBOX);
        let delivered = Arc::new(AtomicU64::new(recv));
        let driver = Driver {
            ws,
            store: self.store.clone(),
            config: config.clone(),
            sid: sid.clone(),
            epoch,
            expect: recv + 1,
            got_from: false,
            skip: 0,
            unacked_in: 0,
            ack_due: None,
            sent,
            acked: client_recv,
            asked_ack: false,
            pending: None,
            in_tx,
            delivered: delivered.clone(),
            acked_in: recv,
            cmd_rx,
            _marker: std::marker::PhantomData,
        };
        tokio::spawn(driver.run());
        Ok(ResumeSocket {
            cmd_tx,
            in_rx,
            taken: None,
            delivered,
            store: self.store.clone(),
            config,
            sid,
            epoch,
            resumed,
            replayed,
            last_sent: sent,
        })
    }
}

/// The server's end of one connection of a resumable session: what the handler uses in place of
/// the raw WebSocket.
pub struct ResumeSocket {
    cmd_tx: mpsc::Sender<Cmd>,
    in_rx: mpsc::Receiver<(u64, Incoming)>,
    /// An item taken off the channel whose `received` is being stored (a cancelled `recv`).
    taken: Option<Taken>,
    delivered: Arc<AtomicU64>,
    store: Arc<dyn SessionStore>,
    config: Arc<Config>,
    sid: SessionId,
    epoch: u64,
    resumed: bool,
    replayed: u64,
    last_sent: u64,
}

impl fmt::Debug for ResumeSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResumeSocket")
            .field("resumed", &self.resumed)
            .field("replayed", &self.replayed)
            .field("last_sent", &self.last_sent)
            .finish_non_exhaustive()
    }
}

impl ResumeSocket {
    /// Whether the client resumed an existing session (false: a new one).
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// How many buffered messages were re-sent to the client at the handshake.
    pub fn replayed(&self) -> u64 {
        self.replayed
    }

    /// The seq of the last message sent in this session (0: none yet); the next `send` gets
    /// `last_sent() + 1` when this handler is the only sender.
    pub fn last_sent(&self) -> u64 {
        self.last_sent
    }

    /// The next message from the client, in order and exactly once across reconnects, or a gap
    /// report; `None` once this connection has ended (the session stays resumable for its ttl).
    ///
    /// Cancel-safe: a `recv` cancelled (e.g. by another `select!` branch) while it records the
    /// message in the store keeps the message, and the next `recv` returns it. So after a
    /// cancelled `recv`, call `recv` until it returns `None` before dropping the socket: with
    /// a store that takes time (Redis) the message may already count as received, and the
    /// client will not send it again.
    pub async fn recv(&mut self) -> Option<Incoming> {
        if self.taken.is_none() {
            let (seq, item) = self.in_rx.recv().await?;
            // Received means handed to the handler: recorded first, so a message the handler
            // never took is re-sent by the client after a resume, and one it took never is.
            // The record runs as its own task, so a cancelled `recv` leaves it to finish with an
            // outcome the next call reads (cancelling it could leave it done or not, unknown).
            let (store, sid, epoch) = (self.store.clone(), self.sid.clone(), self.epoch);
            let record = tokio::spawn(async move { store.received(&sid, epoch, seq).await });
            self.taken = Some(Taken { seq, item, record });
        }
        let outcome = match self.taken.as_mut() {
            Some(t) => (&mut t.record)
                .await
                .unwrap_or_else(|e| Err(Error::Store(format!("recording a message: {e}")))),
            None => return None,
        };
        match outcome {
            Ok(()) => {
                let t = self.taken.take()?;
                self.delivered.fetch_max(t.seq, Ordering::Release);
                Some(t.item)
            }
            // Another connection has the session (it gets this message again) or it is gone.
            Err(_) => {
                self.taken = None;
                self.in_rx.close();
                None
            }
        }
    }

    /// Sends a message: numbered, kept until the client acknowledges it, re-sent after a
    /// resume. `Ok(seq)` once it is in the session, whether or not this connection is still up
    /// (the end of the connection shows as `recv` returning `None`). Errors: the message is not
    /// in the session: [`Error::Superseded`] (another connection took the session over: its
    /// handler sends from now on), [`Error::SessionGone`], [`Error::BufferFull`],
    /// [`Error::TooLarge`], [`Error::Store`].
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<u64> {
        let message = message.into();
        let (tx, rx) = oneshot::channel();
        match self.cmd_tx.send(Cmd::Send(message, tx)).await {
            Ok(()) => {
                let r = rx.await.unwrap_or(Err(Error::Disconnected));
                if let Ok(seq) = r {
                    self.last_sent = seq;
                }
                r
            }
            Err(mpsc::error::SendError(Cmd::Send(message, _))) => {
                let seq = self
                    .store
                    .push(&self.sid, self.epoch, &message, &self.config.limits)
                    .await?;
                self.last_sent = seq;
                Ok(seq)
            }
            Err(_) => Err(Error::Disconnected),
        }
    }

    /// Ends the session on purpose: `bye`, then close 1000; the session is removed.
    pub async fn close(self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self.cmd_tx.send(Cmd::Close(tx)).await.is_ok() {
            if let Ok(r) = rx.await {
                return r;
            }
        }
        self.store.remove(&self.sid, self.epoch).await
    }
}

/// A message taken off the connection, and the task recording it as received.
struct Taken {
    seq: u64,
    item: Incoming,
    record: tokio::task::JoinHandle<Result<()>>,
}

enum Cmd {
    Send(Message, oneshot::Sender<Result<u64>>),
    Close(oneshot::Sender<Result<()>>),
}

async fn read_hello<W, M, E>(ws: &mut W) -> Result<(Option<SessionId>, u64)>
where
    W: Stream<Item = std::result::Result<M, E>> + Unpin,
    M: WireMessage,
    E: fmt::Display,
{
    loop {
        let frame = match ws.next().await {
            Some(Ok(m)) => m.into_wire(),
            Some(Err(e)) => return Err(Error::Transport(e.to_string())),
            None => return Err(Error::Disconnected),
        };
        match frame {
            Wire::Other => continue,
            Wire::Close => return Err(Error::Disconnected),
            Wire::Binary(_) => {
                return Err(Error::Protocol(
                    "expected hello, got a binary app message".into(),
                ))
            }
            Wire::Text(t) => {
                return match decode_text(t)? {
                    Frame::Control(Control::Hello { sid, recv }) => {
                        if recv > MAX_SEQ {
                            return Err(Error::Protocol(format!(
                                "hello.recv {recv} is above 2^53-1"
                            )));
                        }
                        let sid = sid.as_deref().map(SessionId::parse).transpose()?;
                        Ok((sid, recv))
                    }
                    Frame::Control(c) => {
                        Err(Error::Protocol(format!("expected hello, got {}", c.name())))
                    }
                    Frame::App(_) => Err(Error::Protocol(
                        "expected hello, got a text app message".into(),
                    )),
                }
            }
        }
    }
}

fn to_wire<M: WireMessage>(m: Message) -> M {
    match m {
        Message::Text(t) => M::text(encode_app_text(&t)),
        Message::Binary(b) => M::binary(b),
    }
}

/// The close code and reason for an error (section 8 of the protocol).
fn close_code(e: &Error) -> Option<(u16, &'static str)> {
    Some(match e {
        Error::Protocol(_) => (1002, "resume protocol error"),
        Error::OriginNotAllowed { .. } => (1008, "origin not allowed"),
        Error::TooLarge { .. } => (1009, "message too large"),
        Error::TooManySessions { .. } => (1013, "too many sessions"),
        Error::HelloTimeout { .. } => (4408, "no hello in time"),
        Error::Superseded => (4409, "session resumed on another connection"),
        Error::Store(_) | Error::SessionGone | Error::Random(_) | Error::BufferFull { .. } => {
            (1011, "session store error")
        }
        Error::Disconnected | Error::Transport(_) => return None,
    })
}

async fn close_for<W, M, E>(ws: &mut W, e: &Error)
where
    W: Sink<M, Error = E> + Unpin,
    M: WireMessage,
{
    if let Some((code, reason)) = close_code(e) {
        close(ws, code, reason).await;
    }
}

async fn close<W, M, E>(ws: &mut W, code: u16, reason: &str)
where
    W: Sink<M, Error = E> + Unpin,
    M: WireMessage,
{
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.send(M::close(code, reason))).await;
}

/// Owns the WebSocket after the handshake.
struct Driver<W, M> {
    ws: W,
    store: Arc<dyn SessionStore>,
    config: Arc<Config>,
    sid: SessionId,
    epoch: u64,
    /// The seq the next client app message gets.
    expect: u64,
    got_from: bool,
    /// Duplicates still to discard (a `from` below `expect`).
    skip: u64,
    unacked_in: u64,
    ack_due: Option<Instant>,
    sent: u64,
    acked: u64,
    asked_ack: bool,
    pending: Option<(u64, Incoming)>,
    in_tx: mpsc::Sender<(u64, Incoming)>,
    /// The last client seq the handler has taken (what acks may cover).
    delivered: Arc<AtomicU64>,
    /// The last seq acknowledged to the client.
    acked_in: u64,
    cmd_rx: mpsc::Receiver<Cmd>,
    _marker: std::marker::PhantomData<fn() -> M>,
}

/// How the driver's loop ended.
enum Stop {
    /// The connection ended (or the handler went away): keep the session for its ttl.
    Detach,
    /// Close with this error's code; keep the session unless it is another's now.
    Fail(Error),
    /// `bye` (either side): the session is over.
    Bye,
}

impl<W, M, E> Driver<W, M>
where
    W: Stream<Item = std::result::Result<M, E>> + Sink<M, Error = E> + Send + Unpin + 'static,
    M: WireMessage,
    E: fmt::Display + Send + 'static,
{
    async fn run(mut self) {
        let touch_every = (self.config.limits.ttl / 3).max(Duration::from_secs(1));
        let mut touch = tokio::time::interval_at(Instant::now() + touch_every, touch_every);
        let stop = loop {
            let ack_due = self.ack_due;
            let step = tokio::select! {
                biased;
                cmd = self.cmd_rx.recv() => match cmd {
                    Some(Cmd::Send(m, reply)) => {
                        let (r, link_ok) = match self.send_app(m).await {
                            Ok((seq, ok)) => (Ok(seq), ok),
                            Err(e) => (Err(e), true),
                        };
                        let stop = match &r {
                            Err(e @ (Error::Superseded | Error::SessionGone | Error::Store(_))) => {
                                Some(Stop::Fail(e.clone()))
                            }
                            _ => None,
                        };
                        let _ = reply.send(r);
                        let stop = stop.or((!link_ok).then_some(Stop::Detach));
                        match stop {
                            Some(s) => Err(s),
                            None => Ok(()),
                        }
                    }
                    Some(Cmd::Close(reply)) => {
                        let _ = self.write(M::text(Control::Bye.encode())).await;
                        let r = self.store.remove(&self.sid, self.epoch).await;
                        close(&mut self.ws, 1000, "session ended").await;
                        let _ = reply.send(r);
                        return;
                    }
                    // The handler is gone: the connection goes, the session stays.
                    None => {
                        close(&mut self.ws, 1001, "handler ended").await;
                        Err(Stop::Detach)
                    }
                },
                permit = self.in_tx.clone().reserve_owned(), if self.pending.is_some() => {
                    match (permit, self.pending.take()) {
                        (Ok(p), Some(item)) => { p.send(item); Ok(()) }
                        _ => Ok(()),
                    }
                },
                frame = self.ws.next(), if self.pending.is_none() => match frame {
                    Some(Ok(m)) => self.on_frame(m.into_wire()).await,
                    Some(Err(_)) | None => Err(Stop::Detach),
                },
                () = sleep_until(ack_due), if ack_due.is_some() => self.send_ack().await,
                _ = touch.tick() => {
                    match self.store.touch(&self.sid, self.epoch, self.config.limits.ttl).await {
                        Ok(()) => Ok(()),
                        Err(e) => Err(Stop::Fail(e)),
                    }
                }
            };
            if let Err(stop) = step {
                break stop;
            }
        };
        match stop {
            Stop::Detach => {
                let _ = self
                    .store
                    .touch(&self.sid, self.epoch, self.config.limits.ttl)
                    .await;
            }
            Stop::Fail(e) => {
                close_for(&mut self.ws, &e).await;
                let _ = self
                    .store
                    .touch(&self.sid, self.epoch, self.config.limits.ttl)
                    .await;
            }
            Stop::Bye => {
                let _ = self.store.remove(&self.sid, self.epoch).await;
                close(&mut self.ws, 1000, "session ended").await;
            }
        }
        // Drain what the handler still sends into the store (the handle does that itself once
        // the channel is closed).
        self.cmd_rx.close();
        while let Some(cmd) = self.cmd_rx.recv().await {
            match cmd {
                Cmd::Send(m, reply) => {
                    let r = self
                        .store
                        .push(&self.sid, self.epoch, &m, &self.config.limits)
                        .await;
                    let _ = reply.send(r);
                }
                Cmd::Close(reply) => {
                    let _ = reply.send(self.store.remove(&self.sid, self.epoch).await);
                }
            }
        }
    }

    async fn write(&mut self, m: M) -> std::result::Result<(), Stop> {
        self.ws.send(m).await.map_err(|_| Stop::Detach)
    }

    /// Buffers and writes one message: its seq, and whether the connection is still up.
    async fn send_app(&mut self, m: Message) -> Result<(u64, bool)> {
        let seq = self
            .store
            .push(&self.sid, self.epoch, &m, &self.config.limits)
            .await?;
        self.sent = seq;
        if self.ws.send(to_wire::<M>(m)).await.is_err() {
            return Ok((seq, false));
        }
        let half = self.config.limits.max_buffered_messages / 2;
        if !self.asked_ack && self.sent - self.acked > half.max(1) {
            self.asked_ack = true;
            if self
                .ws
                .send(M::text(Control::Ackreq.encode()))
                .await
                .is_err()
            {
                return Ok((seq, false));
            }
        }
        Ok((seq, true))
    }

    /// Acknowledges what the handler has taken; re-arms the timer for the rest.
    async fn send_ack(&mut self) -> std::result::Result<(), Stop> {
        self.unacked_in = 0;
        let seq = self.delivered.load(Ordering::Acquire);
        self.ack_due = (seq + 1 < self.expect).then(|| Instant::now() + self.config.ack_delay);
        if seq <= self.acked_in {
            return Ok(());
        }
        self.acked_in = seq;
        self.write(M::text(Control::Ack { seq }.encode())).await
    }

    async fn on_frame(&mut self, frame: Wire) -> std::result::Result<(), Stop> {
        let decoded = match frame {
            Wire::Other => return Ok(()),
            Wire::Close => return Err(Stop::Detach),
            Wire::Binary(b) => Frame::App(Message::Binary(b)),
            Wire::Text(t) => decode_text(t).map_err(Stop::Fail)?,
        };
        match decoded {
            Frame::App(m) => self.on_app(m).await,
            Frame::Control(c) => self.on_control(c).await,
        }
    }

    async fn on_app(&mut self, m: Message) -> std::result::Result<(), Stop> {
        if !self.got_from {
            return Err(Stop::Fail(Error::Protocol(
                "app message before the client's from".into(),
            )));
        }
        if m.len() > self.config.max_message_bytes {
            return Err(Stop::Fail(Error::TooLarge {
                size: m.len(),
                limit: self.config.max_message_bytes,
            }));
        }
        if self.skip > 0 {
            self.skip -= 1;
            return Ok(());
        }
        let seq = self.expect;
        self.expect += 1;
        self.deliver(seq, Incoming::Message(m));
        self.unacked_in += 1;
        if self.unacked_in >= self.config.ack_every {
            self.send_ack().await?;
        } else if self.ack_due.is_none() {
            self.ack_due = Some(Instant::now() + self.config.ack_delay);
        }
        Ok(())
    }

    fn deliver(&mut self, seq: u64, item: Incoming) {
        if let Err(mpsc::error::TrySendError::Full(item)) = self.in_tx.try_send((seq, item)) {
            self.pending = Some(item);
        }
    }

    async fn on_control(&mut self, c: Control) -> std::result::Result<(), Stop> {
        match c {
            Control::From { seq } => {
                if self.got_from {
                    return Err(Stop::Fail(Error::Protocol(
                        "a second from on one connection".into(),
                    )));
                }
                if seq == 0 || seq > MAX_SEQ {
                    return Err(Stop::Fail(Error::Protocol(format!(
                        "from.seq {seq} out of range 1..2^53"
                    ))));
                }
                self.got_from = true;
                if seq > self.expect {
                    let gap = Incoming::Gap {
                        from: self.expect,
                        to: seq - 1,
                    };
                    self.expect = seq;
                    self.deliver(seq - 1, gap);
                } else {
                    self.skip = self.expect - seq;
                }
                Ok(())
            }
            Control::Ack { seq } => {
                if seq > self.acked {
                    self.store
                        .ack(&self.sid, self.epoch, seq)
                        .await
                        .map_err(Stop::Fail)?;
                    self.acked = seq;
                    self.asked_ack = false;
                }
                Ok(())
            }
            Control::Ackreq => {
                // At once, even when nothing new was taken since the last ack.
                self.acked_in = self
                    .acked_in
                    .min(self.delivered.load(Ordering::Acquire).saturating_sub(1));
                self.send_ack().await
            }
            Control::Ping => self.write(M::text(Control::Pong.encode())).await,
            Control::Pong => Ok(()),
            Control::Bye => Err(Stop::Bye),
            Control::Hello { .. } | Control::Welcome { .. } => Err(Stop::Fail(Error::Protocol(
                format!("unexpected {} after the handshake", c.name()),
            ))),
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
