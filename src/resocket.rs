//! `ReSocket`, the long-lived reconnecting handle, and the browser driver under it.
//!
//! Every decision is the machine's ([`crate::machine`]); the driver only feeds it and executes
//! what it asks for. It owns the one browser socket at a time, its listeners, the named timers
//! and the page listeners (online/offline, visibility, back/forward cache), each removed when
//! it goes. It runs user code (event hooks, the retry predicate, the URL provider, wakers)
//! only with nothing borrowed, and never inside another dispatch: a user call made from an
//! event queues its outputs, which the dispatch that is running carries out once the current
//! event has reached every listener.
//!
//! Every browser callback holds only a `Weak` to the driver, so dropping the last user handle
//! drops the driver, which detaches every listener, clears every timer and closes the socket.

use alloc::collections::VecDeque;
use alloc::rc::{Rc, Weak};
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use futures_core::Stream;
use futures_sink::Sink;
use wasm_bindgen::prelude::*;

use crate::error::{Error, Result};
use crate::events::{Event, State, Stats};
use crate::inbox::{add_waker, Inbox, SharedInbox};
use crate::machine::{Config, Input, Link, Machine, Output, Received, SocketId, Take, Timer};
use crate::message::{CloseEvent, Message, ReadyState};
use crate::options::{OnReconnect, Options, RetryPredicate, UrlFuture};
use crate::socket::{message_from_js, payload_len, Incoming, RawSocket};
use crate::sys::{now_ms, Listener, Timeout};
use crate::url::{target, Target};

#[wasm_bindgen(module = "/src/browser.js")]
extern "C" {
    /// The page's online/offline, visibility and back/forward cache signals (see browser.js).
    type PageWatch;
    #[wasm_bindgen(constructor)]
    fn new(f: &js_sys::Function) -> PageWatch;
    #[wasm_bindgen(method)]
    fn stop(this: &PageWatch);
    /// `navigator.onLine` in a window; true elsewhere.
    #[wasm_bindgen(js_name = isOnline)]
    fn is_online() -> bool;
}

/// One `events()` subscriber's queue.
struct EventQueue {
    events: VecDeque<Event>,
    waker: Option<Waker>,
}

/// The page listeners, removed on drop.
struct Watch {
    page: PageWatch,
    _listener: Listener<dyn FnMut(u8, bool)>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.page.stop();
    }
}

/// What the driver holds of the browser: the socket and the timers.
#[derive(Default)]
struct Io {
    socket: Option<(SocketId, RawSocket)>,
    timers: [Option<Timeout>; 6],
}

/// Calls a URL provider for an attempt and, once it answers, feeds [`Input::Resolved`] to the
/// driver (held weakly meanwhile).
type Resolver = Rc<dyn Fn(&Rc<Driver>, SocketId)>;

/// Hands an event to the subscribers ([`Driver::fan_out`]).
type FanOut = fn(&Driver, &Event);

/// The browser driver of one `ReSocket` (see the module docs). Each part has its own cell,
/// borrowed only for as long as it takes to read or write it.
struct Driver {
    machine: RefCell<Machine>,
    io: RefCell<Io>,
    inbox: SharedInbox,
    /// Asks the URL provider, when there is one (see [`ReSocket::connect_with_provider`]).
    resolver: Option<Resolver>,
    should_retry: Option<RetryPredicate>,
    high_water_mark: u32,
    /// Whether received messages must be timed (a heartbeat is on).
    timed: bool,
    /// Resume mode: every received message goes through the machine's frame path.
    resume: bool,
    subscribers: RefCell<Vec<Weak<RefCell<EventQueue>>>>,
    /// [`Driver::fan_out`], once there is a subscriber.
    fan_out: Cell<Option<FanOut>>,
    /// Tasks waiting for the state to change (`Sink::poll_ready` while not open).
    state_wakers: RefCell<Vec<Waker>>,
    /// A dispatch is running: outputs queued meanwhile are carried out by it.
    pumping: Cell<bool>,
    watch: RefCell<Option<Watch>>,
}

impl Driver {
    /// What the machine needs to know of the current socket before an input.
    fn link(&self) -> Link {
        match &self.io.borrow().socket {
            Some((_, socket)) => Link {
                buffered: u64::from(socket.buffered_amount()),
                writable: socket.ready_state() == ReadyState::Open,
            },
            None => Link::default(),
        }
    }

    /// Feeds one input and carries out what it calls for.
    fn input(self: &Rc<Self>, input: Input) {
        let link = self.link();
        self.machine.borrow_mut().handle(now_ms(), link, input);
        self.pump();
    }

    /// Carries out the machine's outputs in order, unless a dispatch further up the stack is
    /// already doing so (then it will, once the event it is delivering has reached everyone).
    fn pump(self: &Rc<Self>) {
        if self.pumping.replace(true) {
            return;
        }
        loop {
            let output = self.machine.borrow_mut().poll_output();
            let Some(output) = output else { break };
            self.execute(output);
        }
        self.pumping.set(false);
        self.settle_waiters();
    }

    /// After a dispatch: wakes the tasks waiting for a state change, and ends the streams once
    /// the socket is over.
    fn settle_waiters(&self) {
        let wakers = core::mem::take(&mut *self.state_wakers.borrow_mut());
        wakers.into_iter().for_each(Waker::wake);
        let over = {
            let machine = self.machine.borrow();
            machine.is_over().then(|| match machine.state() {
                State::Failed { reason } => Some(Error::Failed { reason }),
                _ => None,
            })
        };
        if let Some(error) = over {
            if !self.inbox.borrow().is_finished() {
                Inbox::finish(&self.inbox, error);
                let subscribers = core::mem::take(&mut *self.subscribers.borrow_mut());
                for queue in subscribers.iter().filter_map(Weak::upgrade) {
                    let waker = queue.borrow_mut().waker.take();
                    if let Some(w) = waker {
                        w.wake();
                    }
                }
            }
        }
    }

    fn execute(self: &Rc<Self>, output: Output) {
        match output {
            Output::Resolve { id } => self.resolve(id),
            Output::Open { id, url, protocols } => self.open(id, &url, &protocols),
            Output::Send { id, message } => {
                if let Some((_, socket)) = self.io.borrow().socket.as_ref().filter(|s| s.0 == id) {
                    // Cannot fail on an OPEN socket (the machine sends only then).
                    let _ = socket.send(&message);
                }
            }
            Output::Close { id, code, reason } => {
                if let Some((_, socket)) = self.io.borrow().socket.as_ref().filter(|s| s.0 == id) {
                    // Validated by the machine: cannot fail.
                    let _ = socket.close(code, reason.as_deref());
                }
            }
            Output::Release { id } => {
                let released = {
                    let mut io = self.io.borrow_mut();
                    match io.socket.take() {
                        Some((current, socket)) if current == id => Some(socket),
                        other => {
                            io.socket = other;
                            None
                        }
                    }
                };
                // Dropped with nothing borrowed: its handlers go, a live socket is closed.
                drop(released);
            }
            Output::Arm { timer, ms } => {
                let weak = Rc::downgrade(self);
                let timeout = Timeout::new(ms, move || {
                    if let Some(driver) = weak.upgrade() {
                        driver.fired(timer);
                    }
                });
                let old = self.io.borrow_mut().timers[timer.index()].replace(timeout);
                drop(old);
            }
            Output::Cancel(timer) => {
                let old = self.io.borrow_mut().timers[timer.index()].take();
                drop(old);
            }
            Output::Emit(event) => self.deliver(&event),
        }
    }

    /// Calls the URL provider (user code: nothing borrowed) and feeds its answer back.
    fn resolve(self: &Rc<Self>, id: SocketId) {
        if let Some(resolver) = self.resolver.clone() {
            resolver(self, id);
        }
    }

    fn open(self: &Rc<Self>, id: SocketId, url: &str, protocols: &[String]) {
        let (w_open, w_msg, w_close) = (
            Rc::downgrade(self),
            Rc::downgrade(self),
            Rc::downgrade(self),
        );
        let socket = RawSocket::open(
            url,
            protocols,
            move || {
                if let Some(driver) = w_open.upgrade() {
                    driver.opened(id);
                }
            },
            move |incoming| {
                if let Some(driver) = w_msg.upgrade() {
                    driver.received(id, incoming);
                }
            },
            move |event| {
                if let Some(driver) = w_close.upgrade() {
                    driver.closed(id, event);
                }
            },
        );
        match socket {
            Ok(socket) => {
                let old = self.io.borrow_mut().socket.replace((id, socket));
                drop(old);
            }
            Err(error) => self.input(Input::OpenFailed { id, error }),
        }
    }

    fn opened(self: &Rc<Self>, id: SocketId) {
        let protocol = match &self.io.borrow().socket {
            Some((current, socket)) if *current == id => socket.protocol(),
            _ => return,
        };
        self.input(Input::Opened { id, protocol });
    }

    /// The per-message path: the machine judges it (stale socket, size limit, heartbeat
    /// activity, counters), then it goes to the inbox.
    fn received(self: &Rc<Self>, id: SocketId, incoming: Incoming) {
        let now = if self.timed { now_ms() } else { 0.0 };
        // Without the `resume` feature no frame is ever a control frame: the check folds away,
        // and with it the control frame decoder.
        if cfg!(feature = "resume") && self.resume {
            self.received_frame(now, id, incoming);
            return;
        }
        let (accept, queued) = {
            let mut machine = self.machine.borrow_mut();
            let accept = machine.received(now, id, incoming.len(), false);
            (accept, machine.has_output())
        };
        if queued {
            self.pump();
        }
        if !accept {
            return;
        }
        Inbox::push(&self.inbox, Ok(incoming.into_message()));
    }

    /// Resume mode's message path: the machine reads every text message (control frames,
    /// the U+0000 escape) and counts every app message; a binary payload is never copied for
    /// it. What it keeps goes on as in plain mode (an escaped text without its escape).
    fn received_frame(self: &Rc<Self>, now: f64, id: SocketId, incoming: Incoming) {
        let (event, text) = match incoming {
            Incoming::Text(text) => (None, Some(text)),
            Incoming::Event(event) => {
                let text = event.data().as_string();
                (Some(event), text)
            }
        };
        let frame = match (&text, &event) {
            (Some(text), _) => Received::Text(text),
            (None, Some(event)) => Received::Binary(payload_len(&event.data())),
            (None, None) => return,
        };
        let link = self.link();
        let (take, queued) = {
            let mut machine = self.machine.borrow_mut();
            let take = machine.received_frame(now, link, id, frame);
            (take, machine.has_output())
        };
        // Events first (a gap before the message after it), acks and replies out.
        if queued {
            self.pump();
        }
        let unescaped = match take {
            Take::Drop => return,
            Take::Deliver => None,
            Take::Unescape => text
                .as_deref()
                .map(|t| String::from(t.strip_prefix('\0').unwrap_or(t))),
        };
        let message = match (unescaped, text, event) {
            (Some(text), _, _) | (None, Some(text), _) => Message::Text(text),
            (None, None, Some(event)) => message_from_js(&event.data()),
            (None, None, None) => return,
        };
        Inbox::push(&self.inbox, Ok(message));
    }

    fn closed(self: &Rc<Self>, id: SocketId, close: CloseEvent) {
        let asks = self.machine.borrow().asks_retry(id);
        // The user's predicate, with nothing borrowed: it may read the socket or close it.
        let retry = match &self.should_retry {
            Some(predicate) if asks => Some(predicate(&close)),
            _ => None,
        };
        self.input(Input::Closed { id, close, retry });
    }

    fn fired(self: &Rc<Self>, timer: Timer) {
        // Kept until the input is done: this very timer's closure is running.
        let fired = self.io.borrow_mut().timers[timer.index()].take();
        self.input(Input::Fired(timer));
        drop(fired);
    }

    /// Delivers an event to the subscribers (their wakers are user code: nothing borrowed).
    fn deliver(self: &Rc<Self>, event: &Event) {
        Inbox::wake_if_waiting(&self.inbox);
        if let Some(fan_out) = self.fan_out.get() {
            fan_out(self, event);
        }
        if let Event::Open { .. } = event {
            let link = self.link();
            self.machine
                .borrow_mut()
                .handle(now_ms(), link, Input::OpenDelivered);
        }
    }

    /// Queues a copy of `event` for each subscriber and wakes it. Only [`ReSocket::events`]
    /// names it (as `Driver::fan_out`): an app that never subscribes does not link it, nor
    /// the copying of events.
    fn fan_out(&self, event: &Event) {
        let subscribers = {
            let mut subscribers = self.subscribers.borrow_mut();
            subscribers.retain(|s| s.strong_count() > 0);
            subscribers.clone()
        };
        for queue in subscribers.iter().filter_map(Weak::upgrade) {
            let waker = {
                let mut q = queue.borrow_mut();
                q.events.push_back(event.clone());
                q.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    fn watch_page(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let listener = Listener::new(Closure::new(move |kind: u8, flag: bool| {
            let Some(driver) = weak.upgrade() else { return };
            driver.input(match (kind, flag) {
                (0, online) => Input::Online(online),
                (1, visible) => Input::Visible(visible),
                (2, true) => Input::PageHidden,
                (3, true) => Input::PageShown,
                _ => return,
            });
        }) as Closure<dyn FnMut(u8, bool)>);
        let page = PageWatch::new(listener.function());
        *self.watch.borrow_mut() = Some(Watch {
            page,
            _listener: listener,
        });
    }
}

/// A reconnecting WebSocket: a `Stream` of received messages and a `Sink` of messages that
/// survives drops, restarts and flaky networks.
///
/// - At most one browser socket is CONNECTING or OPEN at any instant; one failure (whatever
///   mix of `error`/`close` events) schedules exactly one retry, after [`Options::backoff`].
/// - Messages sent while not open wait in a bounded outbox and are flushed in order on the next
///   open, before anything sent later. Messages a lost socket never sent (its `bufferedAmount`
///   at close) go back to the front of the outbox. Bytes that did leave the browser may still
///   be lost with the connection: only an application acknowledgement can prove delivery.
/// - [`close`](ReSocket::close) ends everything and returns what was still queued; after
///   `Failed` it returns what was queued when it failed.
/// - Clones share one connection; the connection closes when the last clone is dropped.
///
/// The stream ends after `close` (with `None`) or on `Failed` (one `Err(Error::Failed)`
/// item, then `None`). It holds at most [`Options::inbox_messages`] unread messages; past that
/// the oldest are dropped and one `Err(Error::Lagged)` item stands in their place.
///
/// During a burst of messages the stream's task is woken for the first message, then every 16
/// messages or when the burst's browser task is over, not once per message (a lone message is
/// never delayed; see the README's "Behaviour you can rely on").
///
/// ```no_run
/// # async fn demo() -> Result<(), resocket::Error> {
/// use futures::StreamExt;
/// let mut socket = resocket::ReSocket::connect("ws://127.0.0.1:8080/ws/ticker", Default::default())?;
/// socket.send("hello")?; // queued while connecting, never dropped silently
/// while let Some(Ok(message)) = socket.next().await {
///     println!("{message:?}");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ReSocket {
    driver: Rc<Driver>,
    drain_timer: Option<Rc<Timeout>>,
}

impl fmt::Debug for ReSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let machine = self.driver.machine.borrow();
        f.debug_struct("ReSocket")
            .field("url", &machine.url())
            .field("state", &machine.state())
            .finish()
    }
}

impl ReSocket {
    /// Starts connecting to `url` with `options`. Fails at once for an invalid URL.
    ///
    /// ```no_run
    /// let socket = resocket::ReSocket::connect("wss://example.com/feed", resocket::Options::default())?;
    /// # Ok::<(), resocket::Error>(())
    /// ```
    pub fn connect(url: &str, options: Options) -> Result<Self> {
        let target = target(url, options.protocols.clone(), options.secure_only)?;
        Ok(Self::start(Some(target), None, options))
    }

    /// Starts connecting with a URL provider, called before every attempt (refresh a token in
    /// the query string, pick a server). It returns the URL and the subprotocols to offer. A
    /// provider that fails counts as a failed attempt; one that does not answer within the
    /// connect timeout is given up on, and the attempt retried.
    ///
    /// ```no_run
    /// let socket = resocket::ReSocket::connect_with_provider(
    ///     || Box::pin(async { Ok(("wss://example.com/feed?token=fresh".to_string(), vec![])) }),
    ///     resocket::Options::default(),
    /// );
    /// ```
    pub fn connect_with_provider(
        provider: impl Fn() -> UrlFuture + 'static,
        options: Options,
    ) -> Self {
        // Built here, so that an app that never calls this links neither the task nor the
        // provider's URL check.
        let secure_only = options.secure_only;
        let resolver: Resolver = Rc::new(move |driver, id| {
            let future = provider();
            let weak = Rc::downgrade(driver);
            wasm_bindgen_futures::spawn_local(async move {
                // Refuse `ws://` but to localhost, as `connect` does.
                let result = future
                    .await
                    .and_then(|(url, protocols)| target(&url, protocols, secure_only));
                if let Some(driver) = weak.upgrade() {
                    driver.input(Input::Resolved { id, result });
                }
            });
        });
        Self::start(None, Some(resolver), options)
    }

    fn start(fixed: Option<Target>, resolver: Option<Resolver>, options: Options) -> Self {
        let seed = options
            .jitter_seed
            .unwrap_or_else(|| (js_sys::Math::random() * u64::MAX as f64) as u64);
        let machine = Machine::new(Config::from_options(&options), fixed, seed);
        let driver = Rc::new(Driver {
            machine: RefCell::new(machine),
            io: RefCell::new(Io::default()),
            inbox: Inbox::new(options.inbox_messages),
            resolver,
            should_retry: options.should_retry.clone(),
            high_water_mark: options.high_water_mark,
            timed: options.heartbeat.is_some(),
            #[cfg(feature = "resume")]
            resume: options.resume.is_some(),
            #[cfg(not(feature = "resume"))]
            resume: false,
            subscribers: RefCell::new(Vec::new()),
            fan_out: Cell::new(None),
            state_wakers: RefCell::new(Vec::new()),
            pumping: Cell::new(false),
            watch: RefCell::new(None),
        });
        driver.watch_page();
        // The first attempt starts on the next microtask, so event subscribers and hooks
        // registered right after construction see `Connecting` too.
        let weak = Rc::downgrade(&driver);
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(driver) = weak.upgrade() {
                driver.input(Input::Start {
                    online: is_online(),
                });
            }
        });
        ReSocket {
            driver,
            drain_timer: None,
        }
    }

    /// The current state.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { println!("{:?}", s.state()); }
    /// ```
    pub fn state(&self) -> State {
        self.driver.machine.borrow().state()
    }

    /// Counters since creation.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { println!("{} reconnects", s.stats().reconnects); }
    /// ```
    pub fn stats(&self) -> Stats {
        let link = self.driver.link();
        let mut machine = self.driver.machine.borrow_mut();
        machine.observe(link);
        machine.stats()
    }

    /// The URL of the current (or last) attempt, without query string or credentials.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { println!("{}", s.url()); }
    /// ```
    pub fn url(&self) -> String {
        String::from(self.driver.machine.borrow().url())
    }

    /// The current socket's ready state: `Closing` while this side closes it (`reconnect()`, a
    /// heartbeat timeout), `Closed` while between sockets.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { let _ = s.ready_state(); }
    /// ```
    pub fn ready_state(&self) -> ReadyState {
        let (state, closing) = {
            let machine = self.driver.machine.borrow();
            (machine.state(), machine.closing())
        };
        match state {
            State::Open if closing => ReadyState::Closing,
            State::Open => self
                .driver
                .io
                .borrow()
                .socket
                .as_ref()
                .map_or(ReadyState::Closed, |(_, s)| s.ready_state()),
            State::Connecting { .. } => ReadyState::Connecting,
            _ => ReadyState::Closed,
        }
    }

    /// The current socket's `bufferedAmount` (0 while between sockets).
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { let _ = s.buffered_amount(); }
    /// ```
    pub fn buffered_amount(&self) -> u32 {
        self.driver
            .io
            .borrow()
            .socket
            .as_ref()
            .map_or(0, |(_, s)| s.buffered_amount())
    }

    /// The negotiated subprotocol of the current socket.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { let _ = s.protocol(); }
    /// ```
    pub fn protocol(&self) -> String {
        String::from(self.driver.machine.borrow().protocol())
    }

    /// The negotiated extensions of the current socket.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { let _ = s.extensions(); }
    /// ```
    pub fn extensions(&self) -> String {
        self.driver
            .io
            .borrow()
            .socket
            .as_ref()
            .map(|(_, s)| s.extensions())
            .unwrap_or_default()
    }

    /// A stream of lifecycle events from now on, in order.
    ///
    /// ```no_run
    /// # async fn demo(s: resocket::ReSocket) {
    /// use futures::StreamExt;
    /// let mut events = s.events();
    /// while let Some(event) = events.next().await { println!("{event:?}"); }
    /// # }
    /// ```
    pub fn events(&self) -> Events {
        let queue = Rc::new(RefCell::new(EventQueue {
            events: VecDeque::new(),
            waker: None,
        }));
        self.driver
            .subscribers
            .borrow_mut()
            .push(Rc::downgrade(&queue));
        self.driver.fan_out.set(Some(Driver::fan_out));
        Events {
            queue,
            driver: Rc::downgrade(&self.driver),
        }
    }

    /// Sends a message: at once when open, else into the outbox. Errors: `Closed`/`Failed`
    /// after the end, `OutboxFull` (policy `Reject`), `MessageExceedsOutbox`. With the drop
    /// policies, an `OutboxOverflow` event reports what was dropped.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) -> Result<(), resocket::Error> {
    /// s.send("hello")?;
    /// s.send(vec![1u8, 2, 3])?;
    /// # Ok(()) }
    /// ```
    pub fn send(&self, message: impl Into<Message>) -> Result<()> {
        let link = self.driver.link();
        let result = self.driver.machine.borrow_mut().send(link, message.into());
        self.driver.pump();
        result
    }

    /// Sends a message with a policy for a reconnect ([`OnReconnect`]): replayed on the next
    /// connection (as [`send`](ReSocket::send)), dropped once an open connection is lost
    /// before it went out, or dropped once it has waited longer than a time to live. A dropped
    /// or expired message is reported by a `Discarded` event. In resume mode the policy
    /// applies while the message waits in the outbox; once sent it has a sequence number and
    /// the session delivers it.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) -> Result<(), resocket::Error> {
    /// use resocket::OnReconnect;
    /// s.send_with(r#"{"unsubscribe":"prices"}"#, OnReconnect::Drop)?;
    /// s.send_with("cursor at 3,4", OnReconnect::Expire(std::time::Duration::from_secs(2)))?;
    /// # Ok(()) }
    /// ```
    pub fn send_with(&self, message: impl Into<Message>, on: OnReconnect) -> Result<()> {
        let now = match on {
            OnReconnect::Expire(_) => now_ms(),
            _ => 0.0,
        };
        let link = self.driver.link();
        let result = self
            .driver
            .machine
            .borrow_mut()
            .send_with(now, link, message.into(), on);
        self.driver.pump();
        result
    }

    /// Closes for good with an optional code (1000 or 3000-4999) and reason (at most 123
    /// UTF-8 bytes): no attempt after it, timers cancelled, the stream ends. Returns the
    /// messages still queued, which were never sent (messages already handed to the socket,
    /// `Stats::in_flight`, are sent by the browser before its close frame on a live link, and
    /// lost with a dead one). After `Failed`, the state stays `Failed`
    /// and this returns the messages that were queued when it failed (once). Bad code/reason:
    /// an error, nothing closed. The `Closed` state and event carry the code sent: `code`, or
    /// 1005 (no status, as the server sees it) without one.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) -> Result<(), resocket::Error> {
    /// let unsent = s.close(Some(1000), Some("bye"))?;
    /// println!("{} messages were never sent", unsent.len());
    /// # Ok(()) }
    /// ```
    pub fn close(&self, code: Option<u16>, reason: Option<&str>) -> Result<Vec<Message>> {
        let result = self.driver.machine.borrow_mut().close(code, reason);
        self.driver.pump();
        result
    }

    /// Forces a fresh attempt now with the backoff reset. An open socket is closed first, and
    /// what it never sent goes back to the outbox (the new attempt starts once it has closed,
    /// within 250 ms). Does nothing after `close` or `Failed`.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { s.reconnect(); }
    /// ```
    pub fn reconnect(&self) {
        self.driver.input(Input::Reconnect);
    }

    /// Ready when open and `done()`; re-checked on a short timer while open (the browser has no
    /// "drained" event), on the next state change while not open; an error once over.
    fn poll_open_until(
        &mut self,
        cx: &Context<'_>,
        done: impl Fn(&Self) -> bool,
    ) -> Poll<Result<()>> {
        let (over, accepts) = {
            let machine = self.driver.machine.borrow();
            (machine.over_error(), machine.accepts())
        };
        if let Some(error) = over {
            return Poll::Ready(Err(error));
        }
        if accepts {
            if done(self) {
                return Poll::Ready(Ok(()));
            }
            let waker = cx.waker().clone();
            self.drain_timer = Some(Rc::new(Timeout::new(
                crate::connection::DRAIN_POLL_MS,
                move || waker.wake(),
            )));
        } else {
            add_waker(&mut self.driver.state_wakers.borrow_mut(), cx.waker());
        }
        Poll::Pending
    }

    /// Whether the outbox is empty and the socket's buffer drained.
    fn flushed(&self) -> bool {
        self.driver.machine.borrow().outbox_is_empty() && self.buffered_amount() == 0
    }
}

impl Stream for ReSocket {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.driver.inbox.borrow_mut().poll(cx)
    }
}

impl Sink<Message> for ReSocket {
    type Error = Error;

    /// Waits while not open (connecting, reconnecting, offline) and while `bufferedAmount` is
    /// above the high-water mark.
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let mark = self.driver.high_water_mark;
        self.poll_open_until(cx, |s| s.buffered_amount() <= mark)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<()> {
        self.send(item)
    }

    /// Resolves once the outbox is empty and the socket's `bufferedAmount` is 0.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.flushed() {
            return Poll::Ready(Ok(()));
        }
        self.poll_open_until(cx, Self::flushed)
    }

    /// Flushes (everything queued goes out first), then closes. If the socket fails first, the
    /// error is returned and the queued messages stay for [`ReSocket::close`] to hand back.
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let over = self.driver.machine.borrow().over_error();
        if let Some(Error::Closed { .. }) = over {
            return Poll::Ready(Ok(()));
        }
        match self.as_mut().poll_flush(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(self.close(None, None).map(|_| ())),
            other => other,
        }
    }
}

/// The lifecycle events of a [`ReSocket`], from subscription on. Ends when the socket is
/// closed or failed and every event has been read.
///
/// ```no_run
/// # async fn demo(s: resocket::ReSocket) {
/// use futures::StreamExt;
/// let events: Vec<resocket::Event> = s.events().take(2).collect().await;
/// # }
/// ```
pub struct Events {
    queue: Rc<RefCell<EventQueue>>,
    driver: Weak<Driver>,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("queued", &self.queue.borrow().events.len())
            .finish()
    }
}

impl Stream for Events {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut q = self.queue.borrow_mut();
        if let Some(event) = q.events.pop_front() {
            return Poll::Ready(Some(event));
        }
        let ended = self
            .driver
            .upgrade()
            .is_none_or(|d| d.machine.borrow().is_over());
        if ended {
            return Poll::Ready(None);
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
