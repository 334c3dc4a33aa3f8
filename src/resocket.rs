//! `ReSocket`: the long-lived, reconnecting handle.
//!
//! The driver is event-driven: the browser callbacks of the current socket, its timers and the
//! window's online/offline/visibility listeners call into one `Core` behind `Rc<RefCell<..>>`.
//! Every callback holds only a `Weak` to it, so dropping the last user handle drops the core,
//! which detaches every listener, clears every timer and closes the socket. Only the URL
//! provider runs as a `spawn_local` task (it is async), and it too holds a `Weak`.

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::rc::{Rc, Weak};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use futures_core::Stream;
use futures_sink::Sink;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::backoff::{retry_allowed, Rng};
use crate::close::{default_should_retry, validate_close};
use crate::error::{Error, Result};
use crate::events::{Event, State, Stats};
use crate::heartbeat::{heartbeat_action, HeartbeatAction};
use crate::message::{CloseEvent, Message, ReadyState};
use crate::options::{Options, UrlFuture, UrlSource};
use crate::outbox::{unsent_tail, Outbox, Pushed};
use crate::socket::{Incoming, RawSocket};
use crate::sys::{now_ms, Listener, Timeout, WakeBatch};
use crate::text::{text, Piece::N, Piece::S};
use crate::url::{redact_url, validate_url};

type Shared = Rc<RefCell<Core>>;
/// An `online`/`offline`/`visibilitychange` listener, removed when the core drops.
type WindowListener = (&'static str, Listener<dyn FnMut()>);

#[wasm_bindgen(module = "/src/browser.js")]
extern "C" {
    /// Adds (or removes) `f` as a `name` listener of the window, or for `visibilitychange` of
    /// its document; false where there is none (a worker).
    #[wasm_bindgen(js_name = onWindow)]
    fn on_window(name: &str, f: &js_sys::Function, add: bool) -> bool;
    /// `navigator.onLine` in a window; true elsewhere.
    #[wasm_bindgen(js_name = isOnline)]
    fn is_online() -> bool;
    /// Whether the window's document is visible.
    #[wasm_bindgen(js_name = isVisible)]
    fn is_visible() -> bool;
}

/// A synchronous event hook (used by the JavaScript layer, whose handlers run in the event).
pub(crate) type EventHook = Box<dyn Fn(&Event)>;
/// A synchronous message hook: when set, messages go to it instead of the stream, as the
/// browser's `MessageEvent` (its data a string or an `ArrayBuffer`), never copied into wasm.
pub(crate) type MessageHook = Rc<dyn Fn(web_sys::MessageEvent)>;

struct EventQueue {
    events: VecDeque<Event>,
    waker: Option<Waker>,
}

struct Core {
    options: Options,
    source: UrlSource,
    url: String,
    state: State,
    socket: Option<RawSocket>,
    generation: u64,
    failures: u32,
    ever_opened: bool,
    outbox: Outbox,
    /// Sizes and copies of what was handed to the current socket since `bufferedAmount` was
    /// last seen at 0: the candidates for requeueing if the socket dies.
    in_flight: VecDeque<Message>,
    /// Inside the synchronous `open` event dispatch: sends go straight to the socket.
    in_open_dispatch: bool,
    /// The heartbeat declared the socket dead; it is kept for [`ACK_SETTLE_MS`] before it is
    /// judged, and nothing more is sent on it.
    dying: bool,
    inbox: VecDeque<Result<Message>>,
    recv_waker: Option<Waker>,
    /// Batches the wakes of `recv_waker` during a burst of messages.
    batch: WakeBatch,
    state_wakers: Vec<Waker>,
    subscribers: Vec<Weak<RefCell<EventQueue>>>,
    hooks: Vec<EventHook>,
    message_hook: Option<MessageHook>,
    /// The JavaScript layer's first stage, attached to every socket as its `onmessage`: it
    /// counts and delivers in JavaScript, calling `on_message` only when the core has work to do.
    #[cfg(feature = "js")]
    receiver: Option<crate::js::Receiver>,
    stats: Stats,
    rng: Rng,
    retry_timer: Option<Timeout>,
    connect_timer: Option<Timeout>,
    stable_timer: Option<Timeout>,
    heartbeat_timer: Option<Timeout>,
    ping_sent_at: Option<f64>,
    last_inbound: f64,
    window_listeners: Vec<WindowListener>,
    end_reported: bool,
}

impl Drop for Core {
    fn drop(&mut self) {
        for (name, listener) in self.window_listeners.drain(..) {
            on_window(name, listener.function(), false);
        }
    }
}

/// Pending wakes and events, delivered after the `RefCell` borrow ends (never inside it).
#[derive(Default)]
struct Outbound {
    wakers: Vec<Waker>,
    events: Vec<Event>,
    /// Flush the outbox of this socket generation once the events are delivered.
    flush_after_events: Option<u64>,
}

impl Core {
    fn emit(&mut self, out: &mut Outbound, event: Event) {
        out.events.push(event);
    }

    fn set_state(&mut self, out: &mut Outbound, state: State) {
        self.state = state;
        out.wakers.append(&mut self.state_wakers);
        if self.state.is_terminal() {
            out.wakers.extend(self.recv_waker.take());
        }
    }

    fn retry_policy(&self, event: &CloseEvent) -> bool {
        match &self.options.should_retry {
            Some(predicate) => predicate(event),
            None => default_should_retry(event.code),
        }
    }

    /// Cancels every timer and bumps the generation, so no callback of the previous socket,
    /// timer or URL provider can act any more.
    fn invalidate_socket_callbacks(&mut self) {
        self.generation += 1;
        self.retry_timer = None;
        self.connect_timer = None;
        self.stable_timer = None;
        self.heartbeat_timer = None;
    }

    /// Whether the current socket accepts data. It may be CLOSING while the state is still
    /// `Open` (the server's close frame arrived, the close event not yet): a send then would be
    /// discarded by the browser, so messages wait in the outbox instead.
    fn socket_open(&self) -> bool {
        !self.dying
            && self
                .socket
                .as_ref()
                .is_some_and(|s| s.ready_state() == ReadyState::Open)
    }

    fn send_on_socket(&mut self, message: Message) -> Result<()> {
        let Some(socket) = &self.socket else {
            return Err(Error::NotOpen);
        };
        if socket.buffered_amount() == 0 {
            self.in_flight.clear();
        }
        socket.send(&message)?;
        self.stats.messages_out += 1;
        self.stats.bytes_out += message.len() as u64;
        self.in_flight.push_back(message);
        Ok(())
    }
}

/// The browser task after a burst of messages (see [`WakeBatch`]): wakes the stream if
/// messages wait for it.
fn end_burst(weak: &Weak<RefCell<Core>>) {
    let Some(core) = weak.upgrade() else { return };
    let waker = {
        let c = &mut *core.borrow_mut();
        c.batch.end(c.inbox.len(), &mut c.recv_waker)
    };
    if let Some(w) = waker {
        w.wake();
    }
}

/// Delivers what a core operation produced: events to subscribers and hooks, then wakers.
/// Messages held back for a batch are woken first, so a consumer sees them before the event.
fn deliver(core: &Shared, out: Outbound) {
    if !out.events.is_empty() {
        let (subscribers, hook_count, held) = {
            let mut c = core.borrow_mut();
            c.subscribers.retain(|s| s.strong_count() > 0);
            let held = if c.inbox.is_empty() {
                None
            } else {
                c.recv_waker.take()
            };
            (c.subscribers.clone(), c.hooks.len(), held)
        };
        if let Some(w) = held {
            w.wake();
        }
        for event in &out.events {
            for sub in subscribers.iter().filter_map(Weak::upgrade) {
                let waker = {
                    let mut q = sub.borrow_mut();
                    q.events.push_back(event.clone());
                    q.waker.take()
                };
                if let Some(w) = waker {
                    w.wake();
                }
            }
            if hook_count > 0 {
                // Hooks are taken out while they run, so they may call back into the socket.
                let hooks = core::mem::take(&mut core.borrow_mut().hooks);
                for hook in &hooks {
                    hook(event);
                }
                let mut c = core.borrow_mut();
                let added = core::mem::replace(&mut c.hooks, hooks);
                c.hooks.extend(added);
            }
        }
    }
    if let Some(generation) = out.flush_after_events {
        with_core(&Rc::downgrade(core), |_, c, out| {
            flush_outbox(c, out, generation)
        });
    }
    out.wakers.into_iter().for_each(Waker::wake);
}

fn with_core(weak: &Weak<RefCell<Core>>, f: impl FnOnce(&Shared, &mut Core, &mut Outbound)) {
    let Some(core) = weak.upgrade() else { return };
    let mut out = Outbound::default();
    {
        let mut c = core.borrow_mut();
        f(&core, &mut c, &mut out);
    }
    deliver(&core, out);
}

/// Starts an attempt: resolves the URL (provider or fixed), then opens a socket.
fn connect(core: &Shared, c: &mut Core, out: &mut Outbound) {
    c.retry_timer = None;
    c.generation += 1;
    let generation = c.generation;
    let attempt = c.failures;
    c.set_state(out, State::Connecting { attempt });
    c.emit(out, Event::Connecting { attempt });
    match c.source.clone() {
        UrlSource::Fixed(url) => {
            let protocols = c.options.protocols.clone();
            open_socket(core, c, out, generation, &url, &protocols);
        }
        UrlSource::Provider(provider) => {
            let weak = Rc::downgrade(core);
            let future: UrlFuture = provider();
            wasm_bindgen_futures::spawn_local(async move {
                let result = future.await;
                with_core(&weak, |core, c, out| {
                    if c.generation != generation || c.state.is_terminal() {
                        return; // closed or superseded while the provider ran
                    }
                    match result {
                        Ok((url, protocols)) => {
                            open_socket(core, c, out, generation, &url, &protocols)
                        }
                        Err(error) => {
                            c.emit(out, Event::Error(error));
                            schedule_retry(core, c, out);
                        }
                    }
                });
            });
        }
    }
}

fn open_socket(
    core: &Shared,
    c: &mut Core,
    out: &mut Outbound,
    generation: u64,
    url: &str,
    protocols: &[String],
) {
    if let Err(error) = validate_url(url, c.options.secure_only) {
        c.emit(out, Event::Error(error.clone()));
        fail(c, out, error.message());
        return;
    }
    c.url = redact_url(url);
    let weak = Rc::downgrade(core);
    let (w_open, w_msg, w_close) = (weak.clone(), weak.clone(), weak.clone());
    let socket = RawSocket::open(
        url,
        protocols,
        move || with_core(&w_open, |core, c, out| on_open(core, c, out, generation)),
        move |incoming| on_message(&w_msg, generation, incoming),
        move |event| {
            with_core(&w_close, |core, c, out| {
                on_close(core, c, out, generation, event)
            })
        },
    );
    match socket {
        Ok(socket) => {
            #[cfg(feature = "js")]
            if let Some(receiver) = &c.receiver {
                socket.route_messages(receiver);
            }
            c.socket = Some(socket);
            c.in_flight.clear();
            c.dying = false;
            let timeout = duration_ms(c.options.connect_timeout);
            let weak = weak.clone();
            c.connect_timer = Some(Timeout::new(timeout, move || {
                with_core(&weak, |core, c, out| {
                    if c.generation != generation
                        || c.state
                            != (State::Connecting {
                                attempt: c.failures,
                            })
                    {
                        return;
                    }
                    c.emit(
                        out,
                        Event::Error(Error::ConnectTimeout {
                            url: c.url.clone(),
                            after_ms: timeout,
                        }),
                    );
                    socket_lost(
                        core,
                        c,
                        out,
                        CloseEvent {
                            code: 1006,
                            reason: "connect timeout".into(),
                            was_clean: false,
                        },
                        true,
                    );
                })
            }));
        }
        Err(error) => {
            c.emit(out, Event::Error(error.clone()));
            fail(c, out, error.message());
        }
    }
}

fn duration_ms(d: Duration) -> u32 {
    d.as_millis().min(u32::MAX as u128) as u32
}

fn on_open(core: &Shared, c: &mut Core, out: &mut Outbound, generation: u64) {
    if c.generation != generation {
        return;
    }
    c.connect_timer = None;
    c.stats.connects += 1;
    if c.ever_opened {
        c.stats.reconnects += 1;
    }
    c.ever_opened = true;
    c.last_inbound = now_ms();
    c.ping_sent_at = None;
    let protocol = c
        .socket
        .as_ref()
        .map(RawSocket::protocol)
        .unwrap_or_default();
    c.set_state(out, State::Open);
    c.emit(out, Event::Open { protocol });
    // The attempt counter resets only once the connection has proven stable.
    let weak = Rc::downgrade(core);
    c.stable_timer = Some(Timeout::new(
        duration_ms(c.options.stable_after),
        move || {
            with_core(&weak, |_, c, _| {
                if c.generation == generation && c.state == State::Open {
                    c.failures = 0;
                }
            })
        },
    ));
    schedule_heartbeat(core, c, generation, 0);
    c.in_open_dispatch = true;
    out.flush_after_events = Some(generation);
}

/// Flushes the outbox after the `open` event has been delivered: messages sent by `open`
/// handlers go first (authentication, say), then the outbox in order, then later sends.
fn flush_outbox(c: &mut Core, out: &mut Outbound, generation: u64) {
    c.in_open_dispatch = false;
    if c.generation != generation || c.state != State::Open {
        return;
    }
    while c.socket_open() {
        let Some(message) = c.outbox.pop() else {
            break;
        };
        if let Err(error) = c.send_on_socket(message.clone()) {
            c.outbox.requeue_front(vec![message]);
            c.emit(out, Event::Error(error));
            break;
        }
    }
    c.stats.outbox_len = c.outbox.len();
    out.wakers.append(&mut c.state_wakers);
}

/// The size of a payload the browser handed over: bytes of an `ArrayBuffer`, UTF-16 code units
/// of a string (equal to its UTF-8 bytes for ASCII; measuring exactly would mean copying it).
pub(crate) fn js_payload_len(data: &JsValue) -> usize {
    match data.dyn_ref::<js_sys::JsString>() {
        Some(text) => text.length() as usize,
        None => data.unchecked_ref::<js_sys::ArrayBuffer>().byte_length() as usize,
    }
}

fn on_message(weak: &Weak<RefCell<Core>>, generation: u64, incoming: Incoming) {
    let Some(core) = weak.upgrade() else { return };
    let mut event = None;
    let mut hook = None;
    let waker = {
        let mut c = core.borrow_mut();
        if c.generation != generation {
            return;
        }
        if c.options.heartbeat.is_some() {
            let now = now_ms();
            if let Some(sent) = c.ping_sent_at.take() {
                c.stats.last_heartbeat_rtt_ms = Some(now - sent);
            }
            c.last_inbound = now;
        }
        // With a message hook (the JavaScript layer) the payload stays a JavaScript value.
        let (len, item) = match (incoming, &c.message_hook) {
            (Incoming::Event(received), Some(hook)) => (
                js_payload_len(&received.data()),
                Err((hook.clone(), received)),
            ),
            (incoming, _) => {
                let message = incoming.into_message();
                (message.len(), Ok(message))
            }
        };
        // A receiver has counted the message already.
        #[cfg(feature = "js")]
        let counted = c.receiver.is_some();
        #[cfg(not(feature = "js"))]
        let counted = false;
        if !counted {
            c.stats.messages_in += 1;
            c.stats.bytes_in += len as u64;
        }
        match (c.options.max_message_bytes, item) {
            (Some(limit), _) if len > limit => {
                event = Some(Event::Error(Error::MessageTooLarge { size: len, limit }));
                None
            }
            (_, Ok(message)) => {
                c.inbox.push_back(Ok(message));
                let c = &mut *c;
                c.batch.on_message(c.inbox.len(), &mut c.recv_waker, || {
                    let weak = weak.clone();
                    move || end_burst(&weak)
                })
            }
            (_, Err(to_hook)) => {
                hook = Some(to_hook);
                None
            }
        }
    };
    // Called with no borrow held: the hook may send, close or read state.
    if let Some((hook, received)) = hook {
        hook(received);
    }
    if let Some(event) = event {
        deliver(
            &core,
            Outbound {
                events: vec![event],
                ..Outbound::default()
            },
        );
    }
    if let Some(w) = waker {
        w.wake();
    }
}

fn on_close(core: &Shared, c: &mut Core, out: &mut Outbound, generation: u64, event: CloseEvent) {
    if c.generation != generation {
        return;
    }
    let retry = c.retry_policy(&event);
    socket_lost(core, c, out, event, retry);
}

/// The current socket is gone (closed, timed out or declared dead): requeue what it never
/// sent, then retry once or fail. Every failure path funnels through here exactly once per
/// socket, because the socket is taken out first and its handlers are detached with it.
fn socket_lost(core: &Shared, c: &mut Core, out: &mut Outbound, event: CloseEvent, retry: bool) {
    let Some(socket) = c.socket.take() else {
        return;
    };
    let buffered = socket.buffered_amount();
    drop(socket);
    c.invalidate_socket_callbacks();
    c.in_open_dispatch = false;
    c.dying = false;
    let sizes: Vec<usize> = c.in_flight.iter().map(Message::len).collect();
    let unsent = unsent_tail(&sizes, u64::from(buffered));
    // The last `unsent` messages handed to the socket.
    while c.in_flight.len() > unsent {
        c.in_flight.pop_front();
    }
    let tail: Vec<Message> = core::mem::take(&mut c.in_flight).into_iter().collect();
    c.stats.requeued += tail.len() as u64;
    c.outbox.requeue_front(tail);
    c.stats.outbox_len = c.outbox.len();
    let code = event.code;
    c.emit(
        out,
        Event::Disconnected {
            code: event.code,
            reason: event.reason.clone(),
            was_clean: event.was_clean,
        },
    );
    c.failures = c.failures.saturating_add(1);
    if retry {
        schedule_retry(core, c, out);
    } else {
        let reason = if event.reason.is_empty() {
            text(&[
                S("server closed with code "),
                N(u64::from(code)),
                S(", which is not retried"),
            ])
        } else {
            text(&[
                S("server closed with code "),
                N(u64::from(code)),
                S(" ("),
                S(&event.reason),
                S("), which is not retried"),
            ])
        };
        fail(c, out, reason);
    }
}

fn fail(c: &mut Core, out: &mut Outbound, reason: String) {
    c.socket = None;
    c.invalidate_socket_callbacks();
    c.set_state(
        out,
        State::Failed {
            reason: reason.clone(),
        },
    );
    c.emit(out, Event::Failed { reason });
}

fn schedule_retry(core: &Shared, c: &mut Core, out: &mut Outbound) {
    // `failures` counts attempts that failed since the last stable connection.
    if !retry_allowed(c.options.max_retries, c.failures.saturating_sub(1)) {
        let n = c.failures;
        fail(
            c,
            out,
            text(&[S("gave up after "), N(u64::from(n)), S(" failed attempts")]),
        );
        return;
    }
    if !is_online() {
        c.set_state(out, State::Offline);
        c.emit(out, Event::Offline);
        return;
    }
    let attempt = c.failures;
    let delay = c
        .options
        .backoff
        .delay(attempt.saturating_sub(1), c.rng.next_f64());
    c.set_state(out, State::Reconnecting { attempt, delay });
    c.emit(out, Event::Reconnecting { attempt, delay });
    let weak = Rc::downgrade(core);
    c.retry_timer = Some(Timeout::new(duration_ms(delay), move || {
        with_core(&weak, |core, c, out| {
            if matches!(c.state, State::Reconnecting { .. }) {
                connect(core, c, out);
            }
        })
    }));
}

/// How long a socket the heartbeat declared dead is kept before its unsent tail is judged
/// from `bufferedAmount` (acknowledgements of a live link arrive well within it).
const ACK_SETTLE_MS: u32 = 250;

fn schedule_heartbeat(core: &Shared, c: &mut Core, generation: u64, delay: u32) {
    let Some(hb) = &c.options.heartbeat else {
        return;
    };
    let delay = if delay == 0 {
        duration_ms(hb.interval)
    } else {
        delay
    };
    let weak = Rc::downgrade(core);
    c.heartbeat_timer = Some(Timeout::new(delay, move || {
        with_core(&weak, |core, c, out| {
            heartbeat_tick(core, c, out, generation)
        })
    }));
}

fn heartbeat_tick(core: &Shared, c: &mut Core, out: &mut Outbound, generation: u64) {
    if c.generation != generation || c.state != State::Open {
        return;
    }
    let Some(hb) = c.options.heartbeat.clone() else {
        return;
    };
    let now = now_ms();
    let interval = hb.interval.as_secs_f64() * 1000.0;
    let timeout = hb.timeout.as_secs_f64() * 1000.0;
    match heartbeat_action(now, c.ping_sent_at, c.last_inbound, interval, timeout) {
        HeartbeatAction::Ping => {
            if let Some(socket) = c.socket.as_ref().filter(|_| c.socket_open()) {
                // The ping bypasses the outbox and the in-flight record: it is never resent.
                let _ = socket.send(&hb.message);
            }
            c.ping_sent_at = Some(now);
            schedule_heartbeat(core, c, generation, duration_ms(hb.timeout).max(1));
        }
        HeartbeatAction::Wait(ms) => schedule_heartbeat(core, c, generation, ms),
        HeartbeatAction::Dead { silent_ms } => {
            c.emit(out, Event::HeartbeatTimeout { silent_ms });
            // The browser lowers `bufferedAmount` only when the network acknowledges a send, a
            // little after it: judged at once, a message sent just before would count as unsent
            // although it left, and be sent twice. New sends go to the outbox meanwhile.
            c.dying = true;
            let weak = Rc::downgrade(core);
            c.heartbeat_timer = Some(Timeout::new(ACK_SETTLE_MS, move || {
                with_core(&weak, |core, c, out| {
                    if c.generation != generation {
                        return; // the socket closed by itself meanwhile
                    }
                    socket_lost(
                        core,
                        c,
                        out,
                        CloseEvent {
                            code: 1006,
                            reason: "heartbeat timeout".into(),
                            was_clean: false,
                        },
                        true,
                    );
                })
            }));
        }
    }
}

/// Called on `online` and on the page becoming visible: if the socket is down, try now with
/// the backoff reset.
fn wake_up(core: &Shared, c: &mut Core, out: &mut Outbound) {
    if matches!(c.state, State::Reconnecting { .. } | State::Offline) {
        c.failures = 0;
        connect(core, c, out);
    }
}

fn on_offline(c: &mut Core, out: &mut Outbound) {
    if matches!(c.state, State::Reconnecting { .. }) {
        c.retry_timer = None;
        c.set_state(out, State::Offline);
        c.emit(out, Event::Offline);
    }
}

fn install_window_listeners(core: &Shared) {
    let mut listeners = Vec::new();
    for name in ["online", "offline", "visibilitychange"] {
        let weak = Rc::downgrade(core);
        let listener = Listener::new(Closure::new(move || {
            with_core(&weak, |core, c, out| match name {
                "offline" => on_offline(c, out),
                "online" => wake_up(core, c, out),
                _ if is_visible() => wake_up(core, c, out),
                _ => {}
            })
        }) as Closure<dyn FnMut()>);
        if on_window(name, listener.function(), true) {
            listeners.push((name, listener));
        }
    }
    core.borrow_mut().window_listeners = listeners;
}

/// A reconnecting WebSocket: a `Stream` of received messages and a `Sink` of messages that
/// survives drops, restarts and flaky networks.
///
/// - At most one browser socket is CONNECTING or OPEN at any instant; one failure (whatever
///   mix of `error`/`close` events) schedules exactly one retry, after [`Options::backoff`].
/// - Messages sent while not open wait in a bounded outbox and are flushed in order on the next
///   open, before anything sent later. Messages a dying socket never sent (its
///   `bufferedAmount` at close) go back to the front of the outbox. Bytes that did leave the
///   browser may still be lost with the connection: only an application acknowledgement can
///   prove delivery.
/// - [`close`](ReSocket::close) ends everything and returns what was still queued.
/// - Clones share one connection; the connection closes when the last clone is dropped.
///
/// The stream ends after `close` (with `None`) or on `Failed` (one `Err(Error::Failed)`
/// item, then `None`).
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
    core: Shared,
    drain_timer: Option<Rc<Timeout>>,
}

impl fmt::Debug for ReSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.core.borrow();
        f.debug_struct("ReSocket")
            .field("url", &c.url)
            .field("state", &c.state)
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
        validate_url(url, options.secure_only)?;
        crate::socket::validate_protocols(&options.protocols)?;
        Ok(Self::start(
            UrlSource::Fixed(url.to_owned()),
            redact_url(url),
            options,
        ))
    }

    /// Starts connecting with a URL provider, called before every attempt (refresh a token in
    /// the query string, pick a server). It returns the URL and the subprotocols to offer.
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
        Self::start(
            UrlSource::Provider(Rc::new(provider)),
            String::new(),
            options,
        )
    }

    fn start(source: UrlSource, url: String, options: Options) -> Self {
        let seed = options
            .jitter_seed
            .unwrap_or_else(|| (js_sys::Math::random() * u64::MAX as f64) as u64);
        let core = Rc::new(RefCell::new(Core {
            outbox: Outbox::new(
                options.outbox_messages,
                options.outbox_bytes,
                options.overflow,
            ),
            options,
            source,
            url,
            state: State::Connecting { attempt: 0 },
            socket: None,
            generation: 0,
            failures: 0,
            ever_opened: false,
            in_flight: VecDeque::new(),
            in_open_dispatch: false,
            dying: false,
            inbox: VecDeque::new(),
            recv_waker: None,
            batch: WakeBatch::default(),
            state_wakers: Vec::new(),
            subscribers: Vec::new(),
            hooks: Vec::new(),
            message_hook: None,
            #[cfg(feature = "js")]
            receiver: None,
            stats: Stats::default(),
            rng: Rng::new(seed),
            retry_timer: None,
            connect_timer: None,
            stable_timer: None,
            heartbeat_timer: None,
            ping_sent_at: None,
            last_inbound: 0.0,
            window_listeners: Vec::new(),
            end_reported: false,
        }));
        install_window_listeners(&core);
        // The first attempt starts on the next microtask, so event subscribers and hooks
        // registered right after construction see `Connecting` too.
        let weak = Rc::downgrade(&core);
        wasm_bindgen_futures::spawn_local(async move {
            with_core(&weak, |core, c, out| {
                if !c.state.is_terminal() {
                    connect(core, c, out);
                }
            });
        });
        ReSocket {
            core,
            drain_timer: None,
        }
    }

    /// The current state.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { println!("{:?}", s.state()); }
    /// ```
    pub fn state(&self) -> State {
        self.core.borrow().state.clone()
    }

    /// Counters since creation.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { println!("{} reconnects", s.stats().reconnects); }
    /// ```
    pub fn stats(&self) -> Stats {
        let c = self.core.borrow();
        #[allow(unused_mut)]
        let mut stats = Stats {
            outbox_len: c.outbox.len(),
            outbox_bytes: c.outbox.bytes(),
            ..c.stats.clone()
        };
        #[cfg(feature = "js")]
        if let Some(receiver) = &c.receiver {
            stats.messages_in += receiver.messages_in() as u64;
            stats.bytes_in += receiver.bytes_in() as u64;
        }
        stats
    }

    /// The URL of the current (or last) attempt, without query string or credentials.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { println!("{}", s.url()); }
    /// ```
    pub fn url(&self) -> String {
        self.core.borrow().url.clone()
    }

    /// The current socket's ready state (`Closed` while between sockets).
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { let _ = s.ready_state(); }
    /// ```
    pub fn ready_state(&self) -> ReadyState {
        let c = self.core.borrow();
        match (&c.state, &c.socket) {
            (State::Open, Some(s)) => s.ready_state(),
            (State::Connecting { .. }, _) => ReadyState::Connecting,
            _ => ReadyState::Closed,
        }
    }

    /// The current socket's `bufferedAmount` (0 while between sockets).
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { let _ = s.buffered_amount(); }
    /// ```
    pub fn buffered_amount(&self) -> u32 {
        self.core
            .borrow()
            .socket
            .as_ref()
            .map_or(0, RawSocket::buffered_amount)
    }

    /// The negotiated subprotocol of the current socket.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { let _ = s.protocol(); }
    /// ```
    pub fn protocol(&self) -> String {
        self.core
            .borrow()
            .socket
            .as_ref()
            .map(RawSocket::protocol)
            .unwrap_or_default()
    }

    /// The negotiated extensions of the current socket.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { let _ = s.extensions(); }
    /// ```
    pub fn extensions(&self) -> String {
        self.core
            .borrow()
            .socket
            .as_ref()
            .map(RawSocket::extensions)
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
        self.core
            .borrow_mut()
            .subscribers
            .push(Rc::downgrade(&queue));
        Events {
            queue,
            core: Rc::downgrade(&self.core),
        }
    }

    /// Calls `hook` synchronously for every event (the JavaScript layer's handlers).
    #[cfg_attr(not(feature = "js"), allow(dead_code))]
    pub(crate) fn add_hook(&self, hook: EventHook) {
        self.core.borrow_mut().hooks.push(hook);
    }

    /// Hands every received message to `hook`, synchronously, instead of the `Stream`.
    #[cfg_attr(not(feature = "js"), allow(dead_code))]
    pub(crate) fn set_message_hook(&self, hook: MessageHook) {
        self.core.borrow_mut().message_hook = Some(hook);
    }

    /// Makes `receiver` the `onmessage` of the current and every later socket (see
    /// `src/js/resocket.js`); it calls the core's handler, and so the message hook, only when
    /// the core has work to do (a heartbeat, `max_message_bytes`).
    #[cfg(feature = "js")]
    pub(crate) fn set_receiver(&self, receiver: crate::js::Receiver) {
        let mut c = self.core.borrow_mut();
        receiver.set_heartbeat(c.options.heartbeat.is_some());
        if let Some(limit) = c.options.max_message_bytes {
            receiver.set_limit(limit as f64);
        }
        if let Some(socket) = &c.socket {
            socket.route_messages(&receiver);
        }
        c.receiver = Some(receiver);
    }

    /// Lets go of the receiver once the socket is over (its counters are kept): the receiver
    /// reaches the JavaScript object that owns this socket, which must be free to be collected.
    #[cfg(feature = "js")]
    pub(crate) fn detach_receiver(&self) {
        let mut c = self.core.borrow_mut();
        if let Some(receiver) = c.receiver.take() {
            c.stats.messages_in += receiver.messages_in() as u64;
            c.stats.bytes_in += receiver.bytes_in() as u64;
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
        let message = message.into();
        let mut out = Outbound::default();
        let result = {
            let mut c = self.core.borrow_mut();
            send_inner(&mut c, &mut out, message)
        };
        deliver(&self.core, out);
        result
    }

    /// Closes for good with an optional code (1000 or 3000-4999) and reason (at most 123
    /// UTF-8 bytes): no attempt after it, timers cancelled, the stream ends. Returns the
    /// messages still queued, which were never sent. Bad code/reason: an error, nothing closed.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) -> Result<(), resocket::Error> {
    /// let unsent = s.close(Some(1000), Some("bye"))?;
    /// println!("{} messages were never sent", unsent.len());
    /// # Ok(()) }
    /// ```
    pub fn close(&self, code: Option<u16>, reason: Option<&str>) -> Result<Vec<Message>> {
        validate_close(code, reason)?;
        let mut out = Outbound::default();
        let unsent = {
            let mut c = self.core.borrow_mut();
            if c.state.is_terminal() {
                return Ok(Vec::new());
            }
            if let Some(socket) = c.socket.take() {
                if matches!(
                    socket.ready_state(),
                    ReadyState::Open | ReadyState::Connecting
                ) {
                    let _ = socket.close(code, reason);
                }
                // Dropped here: handlers detached; the browser completes the close by itself.
            }
            c.invalidate_socket_callbacks();
            let unsent = c.outbox.drain();
            c.stats.outbox_len = 0;
            let code = code.unwrap_or(1000);
            let reason = reason.unwrap_or_default().to_owned();
            c.set_state(
                &mut out,
                State::Closed {
                    code,
                    reason: reason.clone(),
                },
            );
            c.emit(
                &mut out,
                Event::Closed {
                    code,
                    reason,
                    unsent: unsent.len(),
                },
            );
            unsent
        };
        deliver(&self.core, out);
        Ok(unsent)
    }

    /// Forces a fresh attempt now (closing the current socket if any) with the backoff reset.
    /// Does nothing after `close` or `Failed`.
    ///
    /// ```no_run
    /// # fn demo(s: &resocket::ReSocket) { s.reconnect(); }
    /// ```
    pub fn reconnect(&self) {
        with_core(&Rc::downgrade(&self.core), |core, c, out| {
            if c.state.is_terminal() {
                return;
            }
            if let Some(socket) = c.socket.take() {
                let _ = socket.close(Some(1000), Some("reconnect"));
                drop(socket);
                c.emit(
                    out,
                    Event::Disconnected {
                        code: 1000,
                        reason: "reconnect".into(),
                        was_clean: true,
                    },
                );
            }
            c.failures = 0;
            connect(core, c, out);
        });
    }
}

/// The error for using a socket in a terminal state (`None` while it is alive).
pub(crate) fn terminal_error(state: &State) -> Option<Error> {
    match state {
        State::Closed { code, reason } => Some(Error::Closed {
            code: Some(*code),
            reason: reason.clone(),
        }),
        State::Failed { reason } => Some(Error::Failed {
            reason: reason.clone(),
        }),
        _ => None,
    }
}

impl ReSocket {
    /// Ready when open and `done`; re-checked on a short timer while open (the browser has no
    /// "drained" event), on the next state change while not open; an error once terminal.
    fn poll_open_until(&mut self, cx: &Context<'_>, state: State, done: bool) -> Poll<Result<()>> {
        if let Some(error) = terminal_error(&state) {
            return Poll::Ready(Err(error));
        }
        match state {
            State::Open if done => Poll::Ready(Ok(())),
            State::Open => {
                let waker = cx.waker().clone();
                self.drain_timer = Some(Rc::new(Timeout::new(
                    crate::connection::DRAIN_POLL_MS,
                    move || waker.wake(),
                )));
                Poll::Pending
            }
            _ => {
                self.core.borrow_mut().state_wakers.push(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

fn send_inner(c: &mut Core, out: &mut Outbound, message: Message) -> Result<()> {
    if let Some(error) = terminal_error(&c.state) {
        return Err(error);
    }
    let direct =
        c.state == State::Open && (c.outbox.is_empty() || c.in_open_dispatch) && c.socket_open();
    if direct {
        return c.send_on_socket(message);
    }
    match c.outbox.push(message)? {
        Pushed::Queued => {}
        Pushed::DroppedOldest(dropped) => c.emit(
            out,
            Event::OutboxOverflow {
                dropped: dropped.len(),
            },
        ),
        Pushed::DroppedNewest(_) => c.emit(out, Event::OutboxOverflow { dropped: 1 }),
    }
    c.stats.outbox_len = c.outbox.len();
    Ok(())
}

impl Stream for ReSocket {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut c = self.core.borrow_mut();
        if let Some(item) = c.inbox.pop_front() {
            return Poll::Ready(Some(item));
        }
        match c.state.clone() {
            State::Closed { .. } => Poll::Ready(None),
            State::Failed { reason } => {
                if c.end_reported {
                    Poll::Ready(None)
                } else {
                    c.end_reported = true;
                    Poll::Ready(Some(Err(Error::Failed { reason })))
                }
            }
            _ => {
                c.recv_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Sink<Message> for ReSocket {
    type Error = Error;

    /// Waits while not open (connecting, reconnecting, offline) and while `bufferedAmount` is
    /// above the high-water mark.
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let (state, drained) = {
            let c = self.core.borrow();
            let buffered = c.socket.as_ref().map_or(0, RawSocket::buffered_amount);
            (c.state.clone(), buffered <= c.options.high_water_mark)
        };
        self.poll_open_until(cx, state, drained)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<()> {
        self.send(item)
    }

    /// Resolves once the outbox is empty and the socket's `bufferedAmount` is 0.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let (state, pending) = {
            let c = self.core.borrow();
            let buffered = c.socket.as_ref().map_or(0, RawSocket::buffered_amount);
            (c.state.clone(), !c.outbox.is_empty() || buffered > 0)
        };
        if !pending {
            return Poll::Ready(Ok(()));
        }
        self.poll_open_until(cx, state, false)
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.close(None, None).map(|_| ()).into()
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
    core: Weak<RefCell<Core>>,
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
            .core
            .upgrade()
            .is_none_or(|c| c.borrow().state.is_terminal());
        if ended {
            return Poll::Ready(None);
        }
        q.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
