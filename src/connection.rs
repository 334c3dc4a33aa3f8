//! `Connection`: exactly one browser `WebSocket`, as a `Stream` of messages and a `Sink`.
//!
//! This talks to web-sys directly rather than through gloo-net, because the reconnecting layer
//! needs what gloo-net's `WebSocket` does not expose: `bufferedAmount` (backpressure, `flush`,
//! and putting unsent messages back into the outbox), the `CloseEvent` as a value, and a
//! `Sink::poll_flush`/`poll_close` that really wait. The receive path is also leaner: one
//! `VecDeque` push and at most one wake per message, where gloo-net goes through an mpsc
//! channel (gloo-net's stream measured 24-27 us script time per message against 13-14 us for
//! raw JS, ANCHORS.md).

use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use futures_core::Stream;
use futures_sink::Sink;

use crate::close::validate_close;
use crate::error::{Error, Result};
use crate::inbox::{add_waker, Inbox, SharedInbox};
use crate::message::{CloseEvent, Message, ReadyState};
use crate::socket::{Incoming, RawSocket};
use crate::sys::Timeout;
use crate::text::{text, Piece::N, Piece::S};
use crate::url::{parse_checked, shown};

use crate::DEFAULT_HIGH_WATER_MARK;

/// How often a waiting `Sink` re-reads `bufferedAmount` (the browser has no "drained" event).
pub(crate) const DRAIN_POLL_MS: u32 = 2;

/// Options for [`Connection::open_with`].
///
/// ```
/// let opts = resocket::ConnectOptions::default()
///     .protocols(["resocket.v1"])
///     .high_water_mark(64 * 1024);
/// assert_eq!(opts.protocols, vec!["resocket.v1".to_string()]);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Subprotocols offered to the server, in order of preference.
    pub protocols: Vec<String>,
    /// `bufferedAmount` above which `poll_ready` waits for the browser to drain.
    pub high_water_mark: u32,
    /// Inbound messages larger than this become an [`Error::MessageTooLarge`] item instead.
    pub max_message_bytes: Option<usize>,
    /// Received messages the stream may hold unread (default 65,536); past that the oldest are
    /// dropped and one `Err(Error::Lagged)` item stands in their place.
    pub inbox_messages: usize,
}

// By hand: subprotocols (which may carry tokens) are counted, not shown.
impl fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("protocols", &crate::options::Redacted(&self.protocols))
            .field("high_water_mark", &self.high_water_mark)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("inbox_messages", &self.inbox_messages)
            .finish()
    }
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            protocols: Vec::new(),
            high_water_mark: DEFAULT_HIGH_WATER_MARK,
            max_message_bytes: None,
            inbox_messages: crate::options::DEFAULT_INBOX_MESSAGES,
        }
    }
}

impl ConnectOptions {
    /// Sets the subprotocols to offer.
    ///
    /// ```
    /// let o = resocket::ConnectOptions::default().protocols(["a", "b"]);
    /// assert_eq!(o.protocols.len(), 2);
    /// ```
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the backpressure high-water mark in bytes.
    ///
    /// ```
    /// let o = resocket::ConnectOptions::default().high_water_mark(1024);
    /// assert_eq!(o.high_water_mark, 1024);
    /// ```
    pub fn high_water_mark(mut self, bytes: u32) -> Self {
        self.high_water_mark = bytes;
        self
    }

    /// Sets the largest inbound message handed on.
    ///
    /// ```
    /// let o = resocket::ConnectOptions::default().max_message_bytes(1 << 16);
    /// assert_eq!(o.max_message_bytes, Some(65536));
    /// ```
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = Some(bytes);
        self
    }
}

/// Event-side state, written by the browser callbacks and read by the Stream/Sink.
struct ConnState {
    state_wakers: Vec<Waker>,
    opened: bool,
    close: Option<CloseEvent>,
    closed_locally: bool,
}

impl ConnState {
    /// The stream's last item after the socket closed: none after this side's `close`.
    fn end_error(&self, url: &str) -> Option<Error> {
        let close = self.close.as_ref()?;
        if self.closed_locally {
            return None;
        }
        Some(if self.opened {
            Error::Closed {
                code: Some(close.code),
                reason: close.reason.clone(),
            }
        } else {
            Error::ConnectFailed {
                url: String::from(url),
                detail: text(&[
                    S("closed before opening (code "),
                    N(u64::from(close.code)),
                    S(")"),
                ]),
            }
        })
    }
}

/// The socket and the state its handlers write; the socket closes when the last handle drops.
struct Conn {
    ws: RawSocket,
    shared: Rc<RefCell<ConnState>>,
    inbox: SharedInbox,
    url: String,
    high_water_mark: u32,
}

/// Exactly one browser `WebSocket`: a `Stream` of received [`Message`]s and a `Sink` of
/// messages to send.
///
/// Binary messages arrive as `ArrayBuffer` (never `Blob`, whose reads can complete out of
/// order). All event listeners are owned by the connection and removed when the last handle
/// (the connection or its [`split`](Connection::split) halves) is dropped; a connection dropped
/// while still connecting is closed. Like every web-sys type, it is `!Send`: use it from
/// `spawn_local` tasks on the thread that created it.
///
/// The stream yields `Ok(message)` for each message. When the socket closes for any reason other
/// than this side's `close`, it yields one last `Err(Error::Closed { code, reason })` (or
/// `Err(Error::ConnectFailed { .. })` if it never opened), then ends.
///
/// ```no_run
/// # async fn demo() -> Result<(), resocket::Error> {
/// use futures::{SinkExt, StreamExt};
/// use resocket::{Connection, Message};
/// let mut conn = Connection::open("ws://127.0.0.1:8080/ws/echo")?;
/// conn.send(Message::from("hello")).await?;
/// assert_eq!(conn.next().await, Some(Ok(Message::from("hello"))));
/// # Ok(()) }
/// ```
pub struct Connection {
    tx: Sender,
    rx: Receiver,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("url", &self.tx.inner.url)
            .field("ready_state", &self.ready_state())
            .finish()
    }
}

impl Connection {
    /// Opens a connection to `url` (`ws://` or `wss://`). Returns at once; the socket is
    /// CONNECTING until [`opened`](Connection::opened) resolves.
    ///
    /// ```no_run
    /// let conn = resocket::Connection::open("wss://example.com/feed")?;
    /// # Ok::<(), resocket::Error>(())
    /// ```
    pub fn open(url: &str) -> Result<Self> {
        Self::open_with(url, ConnectOptions::default())
    }

    /// Opens a connection with options (subprotocols, high-water mark, size limit).
    ///
    /// ```no_run
    /// use resocket::{Connection, ConnectOptions};
    /// let conn = Connection::open_with(
    ///     "wss://example.com/feed",
    ///     ConnectOptions::default().protocols(["v2.feed", "v1.feed"]),
    /// )?;
    /// # Ok::<(), resocket::Error>(())
    /// ```
    pub fn open_with(url: &str, options: ConnectOptions) -> Result<Self> {
        // Opened as parsed: a relative URL resolved, http(s) mapped to ws(s).
        let parts = parse_checked(url, false)?;
        let redacted = shown(&parts);
        let shared = Rc::new(RefCell::new(ConnState {
            state_wakers: Vec::new(),
            opened: false,
            close: None,
            closed_locally: false,
        }));
        let inbox = Inbox::new(options.inbox_messages);
        let on_open = {
            let shared = Rc::clone(&shared);
            move || {
                let wakers = {
                    let mut s = shared.borrow_mut();
                    s.opened = true;
                    core::mem::take(&mut s.state_wakers)
                };
                wakers.into_iter().for_each(Waker::wake);
            }
        };
        let on_message = {
            let limit = options.max_message_bytes;
            let inbox = Rc::clone(&inbox);
            move |incoming: Incoming| {
                let message = incoming.into_message();
                let item = match limit {
                    Some(limit) if message.len() > limit => Err(Error::MessageTooLarge {
                        size: message.len(),
                        limit,
                    }),
                    _ => Ok(message),
                };
                Inbox::push(&inbox, item);
            }
        };
        let on_close = {
            let shared = Rc::clone(&shared);
            let inbox = Rc::clone(&inbox);
            let url = redacted.clone();
            move |event: CloseEvent| {
                let (wakers, end) = {
                    let mut s = shared.borrow_mut();
                    s.close = Some(event);
                    (core::mem::take(&mut s.state_wakers), s.end_error(&url))
                };
                Inbox::finish(&inbox, end);
                wakers.into_iter().for_each(Waker::wake);
            }
        };
        let ws = RawSocket::open(
            &parts.href,
            &options.protocols,
            on_open,
            on_message,
            on_close,
        )?;
        let inner = Rc::new(Conn {
            ws,
            shared,
            inbox,
            url: redacted,
            high_water_mark: options.high_water_mark,
        });
        Ok(Connection {
            tx: Sender {
                inner: Rc::clone(&inner),
                drain_timer: None,
            },
            rx: Receiver { inner },
        })
    }

    /// Waits until the socket is open. Fails with [`Error::ConnectFailed`] if it closes first.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), resocket::Error> {
    /// let conn = resocket::Connection::open("ws://127.0.0.1:8080/ws/echo")?;
    /// conn.opened().await?;
    /// # Ok(()) }
    /// ```
    pub async fn opened(&self) -> Result<()> {
        self.tx.opened().await
    }

    /// Sends a message now. Fails if the socket is not open (no silent drop).
    ///
    /// ```no_run
    /// # fn demo(conn: &resocket::Connection) -> Result<(), resocket::Error> {
    /// conn.send_now(&resocket::Message::from("hi"))?;
    /// # Ok(()) }
    /// ```
    pub fn send_now(&self, message: &Message) -> Result<()> {
        self.tx.send_now(message)
    }

    /// Starts the closing handshake with an optional code (1000 or 3000-4999) and reason
    /// (at most 123 UTF-8 bytes). Bad values give an error; the socket is left untouched.
    ///
    /// ```no_run
    /// # fn demo(conn: &resocket::Connection) -> Result<(), resocket::Error> {
    /// conn.close(Some(4000), Some("done"))?;
    /// # Ok(()) }
    /// ```
    pub fn close(&self, code: Option<u16>, reason: Option<&str>) -> Result<()> {
        self.tx.close(code, reason)
    }

    /// The socket's ready state.
    ///
    /// ```no_run
    /// # fn demo(conn: &resocket::Connection) {
    /// if conn.ready_state() == resocket::ReadyState::Open { /* ... */ }
    /// # }
    /// ```
    pub fn ready_state(&self) -> ReadyState {
        self.tx.ready_state()
    }

    /// Bytes queued by `send` that the browser has not yet handed to the network.
    ///
    /// ```no_run
    /// # fn demo(conn: &resocket::Connection) { let pending = conn.buffered_amount(); }
    /// ```
    pub fn buffered_amount(&self) -> u32 {
        self.tx.buffered_amount()
    }

    /// The subprotocol the server selected (empty if none).
    ///
    /// ```no_run
    /// # fn demo(conn: &resocket::Connection) { println!("{}", conn.protocol()); }
    /// ```
    pub fn protocol(&self) -> String {
        self.tx.inner.ws.protocol()
    }

    /// The extensions the server selected (empty if none).
    ///
    /// ```no_run
    /// # fn demo(conn: &resocket::Connection) { println!("{}", conn.extensions()); }
    /// ```
    pub fn extensions(&self) -> String {
        self.tx.inner.ws.extensions()
    }

    /// The URL this connection was opened with, without query string or credentials.
    ///
    /// ```no_run
    /// # fn demo(conn: &resocket::Connection) { println!("{}", conn.url()); }
    /// ```
    pub fn url(&self) -> &str {
        &self.tx.inner.url
    }

    /// The close event, once the socket has closed.
    ///
    /// ```no_run
    /// # fn demo(conn: &resocket::Connection) {
    /// if let Some(ev) = conn.close_event() { println!("closed with {}", ev.code); }
    /// # }
    /// ```
    pub fn close_event(&self) -> Option<CloseEvent> {
        self.tx.close_event()
    }

    /// Splits into a cloneable sending half and a receiving half, usable from separate
    /// `spawn_local` tasks. The socket closes when every half has been dropped.
    ///
    /// ```no_run
    /// # fn demo(conn: resocket::Connection) {
    /// let (tx, rx) = conn.split();
    /// let tx2 = tx.clone();
    /// # }
    /// ```
    pub fn split(self) -> (Sender, Receiver) {
        (self.tx, self.rx)
    }
}

impl Stream for Connection {
    type Item = Result<Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

impl Sink<Message> for Connection {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.tx).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Message) -> Result<()> {
        Pin::new(&mut self.tx).start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.tx).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.tx).poll_close(cx)
    }
}

/// The receiving half of a [`Connection`]: a `Stream` of messages (see `Connection`).
///
/// ```no_run
/// # async fn demo(conn: resocket::Connection) {
/// use futures::StreamExt;
/// let (_tx, mut rx) = conn.split();
/// while let Some(Ok(msg)) = rx.next().await { println!("{msg:?}"); }
/// # }
/// ```
pub struct Receiver {
    inner: Rc<Conn>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("url", &self.inner.url)
            .finish()
    }
}

impl Stream for Receiver {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.inbox.borrow_mut().poll(cx)
    }
}

/// The sending half of a [`Connection`]: a cloneable `Sink` of messages.
///
/// `poll_ready` waits while the socket is CONNECTING and while `bufferedAmount` is above the
/// high-water mark; `poll_flush` resolves when `bufferedAmount` is 0; `poll_close` sends a
/// 1000 close frame and resolves once the socket is closed. Sending on a closed socket is an
/// [`Error::Closed`], never a silent drop.
///
/// ```no_run
/// # async fn demo(conn: resocket::Connection) -> Result<(), resocket::Error> {
/// use futures::SinkExt;
/// let (mut tx, _rx) = conn.split();
/// tx.send(resocket::Message::from("hi")).await?;
/// tx.flush().await?; // every byte handed to the network
/// # Ok(()) }
/// ```
pub struct Sender {
    inner: Rc<Conn>,
    drain_timer: Option<Timeout>,
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        Sender {
            inner: Rc::clone(&self.inner),
            drain_timer: None,
        }
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("url", &self.inner.url)
            .field("ready_state", &self.ready_state())
            .finish()
    }
}

impl Sender {
    /// Waits until the socket is open. Fails with [`Error::ConnectFailed`] if it closes first.
    ///
    /// ```no_run
    /// # async fn demo(tx: resocket::Sender) -> Result<(), resocket::Error> {
    /// tx.opened().await?;
    /// # Ok(()) }
    /// ```
    pub async fn opened(&self) -> Result<()> {
        core::future::poll_fn(|cx| {
            let mut s = self.inner.shared.borrow_mut();
            if s.opened {
                Poll::Ready(Ok(()))
            } else if let Some(close) = &s.close {
                Poll::Ready(Err(Error::ConnectFailed {
                    url: self.inner.url.clone(),
                    detail: text(&[
                        S("closed before opening (code "),
                        N(u64::from(close.code)),
                        S(")"),
                    ]),
                }))
            } else {
                add_waker(&mut s.state_wakers, cx.waker());
                Poll::Pending
            }
        })
        .await
    }

    /// The socket's ready state.
    ///
    /// ```no_run
    /// # fn demo(tx: &resocket::Sender) { let _ = tx.ready_state(); }
    /// ```
    pub fn ready_state(&self) -> ReadyState {
        self.inner.ws.ready_state()
    }

    /// Bytes queued in the browser but not yet sent.
    ///
    /// ```no_run
    /// # fn demo(tx: &resocket::Sender) { let _ = tx.buffered_amount(); }
    /// ```
    pub fn buffered_amount(&self) -> u32 {
        self.inner.ws.buffered_amount()
    }

    /// The close event, once the socket has closed.
    ///
    /// ```no_run
    /// # fn demo(tx: &resocket::Sender) { let _ = tx.close_event(); }
    /// ```
    pub fn close_event(&self) -> Option<CloseEvent> {
        self.inner.shared.borrow().close.clone()
    }

    fn closed_error(&self) -> Error {
        let s = self.inner.shared.borrow();
        Error::Closed {
            code: s.close.as_ref().map(|c| c.code),
            reason: s
                .close
                .as_ref()
                .map(|c| c.reason.clone())
                .unwrap_or_default(),
        }
    }

    /// Sends a message now. Fails with [`Error::NotOpen`] while connecting and
    /// [`Error::Closed`] once closing or closed.
    ///
    /// ```no_run
    /// # fn demo(tx: &resocket::Sender) -> Result<(), resocket::Error> {
    /// tx.send_now(&resocket::Message::Binary(vec![1, 2, 3]))?;
    /// # Ok(()) }
    /// ```
    pub fn send_now(&self, message: &Message) -> Result<()> {
        match self.ready_state() {
            ReadyState::Open => {}
            ReadyState::Connecting => return Err(Error::NotOpen),
            ReadyState::Closing | ReadyState::Closed => return Err(self.closed_error()),
        }
        self.inner.ws.send(message)
    }

    /// Starts the closing handshake; see [`Connection::close`].
    ///
    /// ```no_run
    /// # fn demo(tx: &resocket::Sender) -> Result<(), resocket::Error> {
    /// tx.close(None, None)?;
    /// # Ok(()) }
    /// ```
    pub fn close(&self, code: Option<u16>, reason: Option<&str>) -> Result<()> {
        validate_close(code, reason)?;
        self.inner.shared.borrow_mut().closed_locally = true;
        self.inner.ws.close(code, reason)
    }

    /// Registers the waker to be woken once the browser has had a moment to drain.
    fn wait_for_drain(&mut self, cx: &Context<'_>) {
        let waker = cx.waker().clone();
        self.drain_timer = Some(Timeout::new(DRAIN_POLL_MS, move || waker.wake()));
    }

    /// Registers the waker for the next open/close event.
    fn wait_for_state(&self, cx: &Context<'_>) {
        add_waker(&mut self.inner.shared.borrow_mut().state_wakers, cx.waker());
    }
}

impl Sink<Message> for Sender {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match self.ready_state() {
            ReadyState::Connecting => {
                self.wait_for_state(cx);
                Poll::Pending
            }
            ReadyState::Open if self.buffered_amount() > self.inner.high_water_mark => {
                self.wait_for_drain(cx);
                Poll::Pending
            }
            ReadyState::Open => Poll::Ready(Ok(())),
            ReadyState::Closing | ReadyState::Closed => Poll::Ready(Err(self.closed_error())),
        }
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<()> {
        self.send_now(&item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.buffered_amount() == 0 {
            return Poll::Ready(Ok(()));
        }
        match self.ready_state() {
            ReadyState::Open | ReadyState::Connecting => {
                self.wait_for_drain(cx);
                Poll::Pending
            }
            // Bytes that were never sent cannot be sent any more.
            ReadyState::Closing | ReadyState::Closed => Poll::Ready(Err(self.closed_error())),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match self.ready_state() {
            ReadyState::Closed => Poll::Ready(Ok(())),
            ReadyState::Closing => {
                self.wait_for_state(cx);
                Poll::Pending
            }
            ReadyState::Connecting | ReadyState::Open => {
                self.close(None, None)?;
                self.wait_for_state(cx);
                Poll::Pending
            }
        }
    }
}
