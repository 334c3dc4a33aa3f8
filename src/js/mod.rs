//! The engine under the npm package's `ReSocket` class.
//!
//! The class itself is JavaScript (`resocket.js`, the package's entry module): it extends
//! `EventTarget`, reads the options, checks arguments, and owns the message path, the `on*`
//! handlers, async iteration and the `Blob` send queue. This module is what it drives: the Rust
//! core ([`crate::ReSocket`]: reconnection, backoff, the outbox, close codes, the heartbeat),
//! whose events it hands to the class's `Relay` to dispatch as DOM events. No policy lives
//! in JavaScript.
//!
//! The TypeScript declarations are hand-written in `resocket.d.ts` and checked by
//! `tsc --strict` in `npm test`.

mod options;

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use core::cell::RefCell;
use core::fmt;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::error::Error;
use crate::events::{Event, State};
use crate::message::{Message, ReadyState};
use crate::resocket::ReSocket;
use crate::socket::payload_len;

#[wasm_bindgen]
extern "C" {
    /// The class's `Relay` (`resocket.js`): the first stage of the message path (every
    /// socket's `onmessage`, counting and delivering in JavaScript) and the dispatcher of the
    /// socket's events. Its methods are looked up on the object.
    #[derive(Clone)]
    pub type Relay;
    #[wasm_bindgen(method)]
    pub(crate) fn attach(this: &Relay, ws: &web_sys::WebSocket, core: &js_sys::Function);
    /// The core's path for one message: parses (JSON mode) or wraps (`Blob`) it and delivers
    /// it. Throws what `JSON.parse` throws.
    #[wasm_bindgen(method, catch, js_name = deliverMessage)]
    fn deliver_message(this: &Relay, event: &web_sys::MessageEvent) -> Result<(), JsValue>;
    /// The socket is over: async iterators end (with `error` unless undefined) and a pending
    /// `ReSocket.connect()` rejects.
    #[wasm_bindgen(method, js_name = end)]
    fn end(this: &Relay, error: &JsValue);
    /// Dispatches an `open`, `close`, `error` or custom event (see `resocket.js` for what `a`,
    /// `b` and `c` are); never throws.
    #[wasm_bindgen(method)]
    fn fire(this: &Relay, kind: &str, a: &JsValue, b: &JsValue, c: bool);
    #[wasm_bindgen(method, setter)]
    pub(crate) fn set_heartbeat(this: &Relay, heartbeat: bool);
    #[wasm_bindgen(method, setter)]
    pub(crate) fn set_limit(this: &Relay, limit: f64);
    #[wasm_bindgen(method, setter)]
    pub(crate) fn set_resume(this: &Relay, resume: bool);
    #[wasm_bindgen(method, getter, js_name = messagesIn)]
    pub(crate) fn messages_in(this: &Relay) -> f64;
    #[wasm_bindgen(method, getter, js_name = bytesIn)]
    pub(crate) fn bytes_in(this: &Relay) -> f64;
}

/// A JavaScript exception for a crate error: the DOM's class for the same mistake where there
/// is one (`SyntaxError` for a bad URL, subprotocol or close reason, as `WebSocket` throws),
/// with the variant's name as `kind`.
pub(crate) fn js_error(err: &Error) -> JsValue {
    let message = err.message();
    let value: JsValue = match err {
        Error::InvalidUrl { .. }
        | Error::InvalidScheme { .. }
        | Error::InvalidProtocol { .. }
        | Error::ReasonTooLong { .. } => js_sys::SyntaxError::new(&message).into(),
        Error::InvalidCloseCode { .. } => js_sys::RangeError::new(&message).into(),
        Error::InvalidOption { .. } => js_sys::TypeError::new(&message).into(),
        _ => js_sys::Error::new(&message).into(),
    };
    let _ = js_sys::Reflect::set(&value, &"kind".into(), &err.kind().into());
    value
}

impl From<Error> for JsValue {
    fn from(err: Error) -> JsValue {
        js_error(&err)
    }
}

/// The state shared by a [`JsCore`] and the core's hooks.
struct Engine {
    socket: ReSocket,
    /// The class's relay while the socket is not over. It reaches the JavaScript object
    /// that owns this one, so it is let go of at the end: a closed socket can be collected.
    relay: RefCell<Option<Relay>>,
    /// The socket itself while it is not closed or failed: a deliberate reference cycle. Like a
    /// browser `WebSocket`, a `ReSocket` with listeners keeps running when the page drops its
    /// last reference; [`Engine::end`] breaks the cycle once it is closed or has failed.
    keep_alive: RefCell<Option<Rc<Engine>>>,
}

impl Engine {
    fn fire(&self, kind: &str, a: &JsValue, b: &JsValue, c: bool) {
        // Cloned out: a listener may close the socket, which ends it (and takes the relay).
        let relay = self.relay.borrow().clone();
        if let Some(relay) = relay {
            relay.fire(kind, a, b, c);
        }
    }

    fn dispatch_custom(&self, kind: &str, detail: &JsValue) {
        self.fire(kind, detail, &JsValue::UNDEFINED, false);
    }

    fn dispatch_close(&self, code: u16, reason: &str, was_clean: bool) {
        self.fire("close", &code.into(), &reason.into(), was_clean);
    }

    fn dispatch_error(&self, err: &Error) {
        self.fire("error", &err.message().into(), &js_error(err), false);
    }

    fn on_event(self: &Rc<Self>, event: &Event) {
        // The state's detail, built only for the events that change it (`reconnecting` and
        // `offline` carry it too), from the event itself: the state may have moved on since, if
        // a listener called back into the socket.
        let detail = if let Some(state) = event_state(event) {
            let detail = state_detail(&state);
            if let Event::Closed { unsent, .. } = event {
                set(&detail, "unsent", &(*unsent as u32).into());
            }
            self.dispatch_custom("statechange", &detail);
            detail
        } else {
            JsValue::UNDEFINED
        };
        match event {
            Event::Open { .. } => {
                self.fire("open", &JsValue::UNDEFINED, &JsValue::UNDEFINED, false)
            }
            Event::Disconnected {
                code,
                reason,
                was_clean,
            } => self.dispatch_close(*code, reason, *was_clean),
            Event::Reconnecting { .. } => self.dispatch_custom("reconnecting", &detail),
            Event::Offline => self.dispatch_custom("offline", &detail),
            Event::Parked => self.dispatch_custom("parked", &detail),
            Event::Closed { code, reason, .. } => {
                self.dispatch_close(*code, reason, true);
                self.end(JsValue::UNDEFINED);
            }
            Event::Failed { reason } => {
                let err = Error::Failed {
                    reason: reason.clone(),
                };
                self.dispatch_error(&err);
                self.end(js_error(&err));
            }
            Event::OutboxOverflow { dropped } => {
                let detail = js_sys::Object::new();
                set(&detail, "dropped", &(*dropped as u32).into());
                self.dispatch_custom("outboxoverflow", &detail);
            }
            Event::HeartbeatTimeout { silent_ms } => {
                let detail = js_sys::Object::new();
                set(&detail, "silentMs", &(*silent_ms).into());
                self.dispatch_custom("heartbeattimeout", &detail);
            }
            Event::Error(err) => self.dispatch_error(err),
            Event::Resumed {
                resumed,
                resent,
                replayed,
            } => {
                let detail = js_sys::Object::new();
                set(&detail, "resumed", &(*resumed).into());
                set(&detail, "resent", &(*resent as f64).into());
                set(&detail, "replayed", &(*replayed as f64).into());
                self.dispatch_custom("resumed", &detail);
            }
            Event::Gap { from, to } => {
                let detail = js_sys::Object::new();
                set(&detail, "from", &(*from as f64).into());
                set(&detail, "to", &(*to as f64).into());
                self.dispatch_custom("gap", &detail);
            }
            Event::Reset {
                missed_from,
                unconfirmed,
            } => {
                let detail = js_sys::Object::new();
                set(&detail, "missedFrom", &(*missed_from as f64).into());
                let range = js_sys::Array::of2(
                    &(unconfirmed.0 as f64).into(),
                    &(unconfirmed.1 as f64).into(),
                );
                set(&detail, "unconfirmed", &range);
                self.dispatch_custom("reset", &detail);
            }
            Event::Discarded { dropped, expired } => {
                let detail = js_sys::Object::new();
                set(&detail, "dropped", &(*dropped as u32).into());
                set(&detail, "expired", &(*expired as u32).into());
                self.dispatch_custom("discarded", &detail);
            }
            Event::Connecting { .. } => {}
        }
    }

    /// The socket is closed or failed: the relay ends the iterators (with `error` after a
    /// failure) and is let go of, and the socket stops keeping itself alive on the next
    /// microtask (never while it is dispatching).
    fn end(self: &Rc<Self>, error: JsValue) {
        let relay = self.relay.borrow_mut().take();
        if let Some(relay) = relay {
            // Its counters are kept: the socket is over, and the relay let go of.
            self.socket
                .add_received(relay.messages_in() as u64, relay.bytes_in() as u64);
            relay.end(&error);
        }
        let me = Rc::downgrade(self);
        wasm_bindgen_futures::spawn_local(async move {
            if let Some(inner) = me.upgrade() {
                // Taken out before it is dropped: the last reference may be this one.
                let kept = inner.keep_alive.borrow_mut().take();
                drop(kept);
            }
        });
    }

    fn on_message(&self, event: web_sys::MessageEvent) {
        let relay = self.relay.borrow().clone();
        let Some(relay) = relay else { return };
        if relay.deliver_message(&event).is_err() {
            // Not JSON.parse's own message: it quotes the payload.
            self.dispatch_error(&Error::Decode {
                message: "not valid JSON".into(),
                kind: "text",
                size: payload_len(&event.data()),
            });
        }
    }
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(target, &key.into(), value);
}

/// The state an event announces (`None` for the events that do not change it).
fn event_state(event: &Event) -> Option<State> {
    Some(match event {
        Event::Connecting { attempt } => State::Connecting { attempt: *attempt },
        Event::Open { .. } => State::Open,
        Event::Reconnecting { attempt, delay } => State::Reconnecting {
            attempt: *attempt,
            delay: *delay,
        },
        Event::Offline => State::Offline,
        Event::Parked => State::Parked,
        Event::Closed { code, reason, .. } => State::Closed {
            code: *code,
            reason: reason.clone(),
        },
        Event::Failed { reason } => State::Failed {
            reason: reason.clone(),
        },
        _ => return None,
    })
}

/// `{ state, attempt?, delay?, code?, reason? }` for `statechange` and `reconnecting`.
fn state_detail(state: &State) -> JsValue {
    let detail: JsValue = js_sys::Object::new().into();
    set(&detail, "state", &state.name().into());
    match state {
        State::Connecting { attempt } => set(&detail, "attempt", &(*attempt).into()),
        State::Reconnecting { attempt, delay } => {
            set(&detail, "attempt", &(*attempt).into());
            set(&detail, "delay", &(delay.as_secs_f64() * 1000.0).into());
        }
        State::Closed { code, reason } => {
            set(&detail, "code", &(*code).into());
            set(&detail, "reason", &reason.as_str().into());
        }
        State::Failed { reason } => set(&detail, "reason", &reason.as_str().into()),
        State::Open | State::Offline | State::Parked => {}
    }
    detail
}

fn message_to_js(message: Message) -> JsValue {
    match message {
        Message::Text(t) => t.into(),
        Message::Binary(b) => js_sys::Uint8Array::from(&b[..]).buffer().into(),
    }
}

/// The engine of one JavaScript `ReSocket` (`resocket.js` creates it and checks every
/// argument before it gets here).
#[wasm_bindgen(js_name = Core, skip_typescript)]
pub struct JsCore {
    inner: Rc<Engine>,
}

impl fmt::Debug for JsCore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("socket", &self.inner.socket)
            .finish()
    }
}

// Strings go back as `JsValue`s, converted on the way: a `String` return would take a
// multi-value return and a free call through the glue for each getter.
#[wasm_bindgen(js_class = Core)]
impl JsCore {
    /// Starts connecting. `url` is a string, or a function returning a promise of one (called
    /// before every attempt); `settings` is the options object as `settings()` in
    /// `resocket.js` read them; `relay` gets the messages and events.
    #[wasm_bindgen(constructor)]
    pub fn new(url: JsValue, settings: JsValue, relay: Relay) -> Result<JsCore, JsValue> {
        let options = options::parse(&settings)?;
        crate::url::validate_protocols(&options.protocols)?;
        // The relay hands a message to the core only when the core has work to do.
        relay.set_heartbeat(options.heartbeat.is_some());
        relay.set_resume(options.resume.is_some());
        if let Some(limit) = options.max_message_bytes {
            relay.set_limit(limit as f64);
        }
        let socket = match url.dyn_into::<js_sys::Function>() {
            Ok(f) => url_provider(f, options),
            Err(url) => ReSocket::connect(&url.as_string().unwrap_or_default(), options)?,
        };
        // The option `WebSocket` (resocket.js checked it is a function), before the first
        // attempt (the next microtask).
        socket.set_socket_class(js_sys::Reflect::get(&settings, &"WebSocket".into())?);
        let inner = Rc::new(Engine {
            socket,
            relay: RefCell::new(Some(relay)),
            keep_alive: RefCell::new(None),
        });
        let weak = Rc::downgrade(&inner);
        inner.socket.add_hook(Rc::new(move |event| {
            if let Some(inner) = weak.upgrade() {
                inner.on_event(event);
            }
        }));
        let weak = Rc::downgrade(&inner);
        inner.socket.set_message_hook(Rc::new(move |message| {
            if let Some(inner) = weak.upgrade() {
                inner.on_message(message);
            }
        }));
        // Every socket's `onmessage` is the relay's while the socket is not over.
        let weak = Rc::downgrade(&inner);
        inner.socket.set_socket_hook(Box::new(move |ws, handler| {
            let relay = weak
                .upgrade()
                .and_then(|inner| inner.relay.borrow().clone());
            if let Some(relay) = relay {
                relay.attach(ws, handler);
            }
        }));
        *inner.keep_alive.borrow_mut() = Some(Rc::clone(&inner));
        Ok(JsCore { inner })
    }

    /// 0 while connecting or waiting to reconnect, 1 open, 2 closing, 3 closed or failed.
    #[wasm_bindgen(getter = readyState)]
    pub fn ready_state(&self) -> u16 {
        match self.inner.socket.state() {
            State::Open => match self.inner.socket.ready_state() {
                ReadyState::Closing | ReadyState::Closed => 2,
                _ => 1,
            },
            State::Closed { .. } | State::Failed { .. } => 3,
            _ => 0,
        }
    }

    /// `connecting`, `open`, `reconnecting`, `offline`, `closed` or `failed`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> JsValue {
        self.inner.socket.state().name().into()
    }

    /// The error for using the socket once it is closed or failed (undefined before).
    #[wasm_bindgen(getter)]
    pub fn over(&self) -> JsValue {
        self.inner
            .socket
            .over_error()
            .map_or(JsValue::UNDEFINED, |e| js_error(&e))
    }

    /// Counters since creation (`outboxLength` without the class's `Blob` queue).
    #[wasm_bindgen(getter)]
    pub fn stats(&self) -> JsValue {
        let mut s = self.inner.socket.stats();
        // The relay's own counts, while it is attached (folded in at the end).
        if let Some(relay) = &*self.inner.relay.borrow() {
            s.messages_in += relay.messages_in() as u64;
            s.bytes_in += relay.bytes_in() as u64;
        }
        let out: JsValue = js_sys::Object::new().into();
        set(&out, "connects", &s.connects.into());
        set(&out, "reconnects", &s.reconnects.into());
        set(&out, "messagesIn", &(s.messages_in as f64).into());
        set(&out, "messagesOut", &(s.messages_out as f64).into());
        set(&out, "bytesIn", &(s.bytes_in as f64).into());
        set(&out, "bytesOut", &(s.bytes_out as f64).into());
        set(&out, "requeued", &(s.requeued as f64).into());
        set(
            &out,
            "lastHeartbeatRttMs",
            &s.last_heartbeat_rtt_ms.map_or(JsValue::NULL, JsValue::from),
        );
        set(&out, "outboxLength", &(s.outbox_len as u32).into());
        set(&out, "inFlight", &(s.in_flight as u32).into());
        set(&out, "unacked", &(s.unacked as u32).into());
        set(&out, "duplicates", &(s.duplicates as f64).into());
        out
    }

    /// The URL of the latest attempt, without its query string.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> JsValue {
        self.inner.socket.url().into()
    }

    /// The subprotocol the server selected ("" while not open).
    #[wasm_bindgen(getter)]
    pub fn protocol(&self) -> JsValue {
        self.inner.socket.protocol().into()
    }

    /// The extensions the server selected ("" while not open).
    #[wasm_bindgen(getter)]
    pub fn extensions(&self) -> JsValue {
        self.inner.socket.extensions().into()
    }

    /// Bytes not yet handed to the network: the socket's `bufferedAmount`, the outbox, and
    /// sends from inside a listener on their way to the socket (as the browser counts a
    /// `send()` in `bufferedAmount` at once).
    #[wasm_bindgen(getter)]
    pub fn buffered(&self) -> f64 {
        f64::from(self.inner.socket.buffered_amount()) + self.inner.socket.unsent_bytes() as f64
    }

    /// Sends a string as text or a `Uint8Array` as binary, now or into the outbox. `policy`
    /// (checked by `resocket.js`): undefined to replay after a reconnect, -1 to drop, else a
    /// time to live in ms.
    pub fn send(&self, data: JsValue, policy: Option<f64>) -> Result<(), JsValue> {
        let message = match data.as_string() {
            Some(text) => Message::Text(text),
            None => Message::Binary(data.unchecked_into::<js_sys::Uint8Array>().to_vec()),
        };
        let on = match policy {
            None => crate::options::OnReconnect::Replay,
            Some(ms) if ms < 0.0 => crate::options::OnReconnect::Drop,
            Some(ms) => crate::options::OnReconnect::Expire(core::time::Duration::from_micros(
                (ms * 1000.0) as u64,
            )),
        };
        self.inner
            .socket
            .send_with(message, on)
            .map_err(|e| js_error(&e))
    }

    /// Closes for good; returns the messages that were queued and never sent (strings and
    /// `ArrayBuffer`s).
    pub fn close(
        &self,
        code: Option<u16>,
        reason: Option<String>,
    ) -> Result<js_sys::Array, JsValue> {
        let unsent = self.inner.socket.close(code, reason.as_deref())?;
        let out = js_sys::Array::new();
        for message in unsent {
            out.push(&message_to_js(message));
        }
        Ok(out)
    }

    /// Closes the current socket (if any) and connects again now, with the backoff reset.
    pub fn reconnect(&self) {
        self.inner.socket.reconnect();
    }
}

/// A socket whose URL comes from a JavaScript function, called before every attempt; it
/// returns a promise of a string (`resocket.js` wraps the user's function, which may return a
/// string, a `URL` or a promise of either, and rejects anything else).
fn url_provider(f: js_sys::Function, options: crate::options::Options) -> ReSocket {
    let protocols = options.protocols.clone();
    ReSocket::connect_with_provider(
        move || {
            let called = f.call0(&JsValue::UNDEFINED);
            let protocols = protocols.clone();
            Box::pin(async move {
                let value = called.map_err(|e| Error::from_js(&e))?;
                let url = JsFuture::from(js_sys::Promise::from(value))
                    .await
                    .map_err(|e| Error::from_js(&e))?;
                Ok((url.as_string().unwrap_or_default(), protocols))
            })
        },
        options,
    )
}
