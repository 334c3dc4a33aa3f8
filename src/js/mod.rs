//! The npm package's `ReSocket` class: the browser `WebSocket` surface over [`crate::ReSocket`].
//!
//! No policy lives here: reconnection, backoff, the outbox and close codes are the Rust core's.
//! This layer turns core events into real DOM events (`Event`, `MessageEvent`, `CloseEvent`,
//! `ErrorEvent`, `CustomEvent`) on an owned `EventTarget`, converts payloads, and parses the
//! options object. Every listener it installs is owned and removed on drop.
//!
//! The TypeScript declarations are hand-written in `resocket.d.ts` (wasm-bindgen cannot express
//! overloads, event maps or the options interface) and checked by `tsc --strict` in `npm test`.

mod options;

use alloc::borrow::ToOwned;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::string::String;
use core::cell::{Cell, RefCell};
use core::fmt;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::error::Error;
use crate::events::{Event, State};
use crate::message::{Message, ReadyState};
use crate::resocket::{js_payload_len, terminal_error, ReSocket};
use crate::sys::js_error_message;

use options::{argument_error, describe, BinaryType};

#[wasm_bindgen(module = "/src/js/deliver.js")]
extern "C" {
    /// The first stage of the message path: every socket's `onmessage`, counting and delivering
    /// in JavaScript (see `deliver.js`).
    pub(crate) type Receiver;
    #[wasm_bindgen(constructor)]
    fn new(target: &Target, json: bool, blob: bool) -> Receiver;
    #[wasm_bindgen(method)]
    pub(crate) fn attach(this: &Receiver, ws: &web_sys::WebSocket, core: &js_sys::Function);
    /// The `on<kind>` property's function, or null.
    #[wasm_bindgen(method, js_name = handlerOf)]
    fn handler_of(this: &Receiver, kind: &str) -> JsValue;
    /// Sets the `on<kind>` property: a function, or null/undefined; anything else throws a
    /// `TypeError` naming the property and the value.
    #[wasm_bindgen(method, catch, js_name = setHandler)]
    fn set_handler(this: &Receiver, kind: &str, f: &JsValue) -> Result<(), JsValue>;
    /// `addEventListener` on the socket's target, the type read as `EventTarget` reads it; a
    /// message listener turns the `onmessage` shortcut off.
    #[wasm_bindgen(method, catch, js_name = addListener)]
    fn add_listener(
        this: &Receiver,
        kind: &JsValue,
        listener: &JsValue,
        options: &JsValue,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(method, setter)]
    fn set_blob(this: &Receiver, blob: bool);
    /// The core's path for one message: parses (JSON mode) or wraps (`Blob`) it, hands it to
    /// the `onmessage` function (when it is the only message listener) or dispatches it, then
    /// to the async iterators. Throws what `JSON.parse` throws.
    #[wasm_bindgen(method, catch, js_name = deliverMessage)]
    fn deliver_message(this: &Receiver, event: &web_sys::MessageEvent) -> Result<(), JsValue>;
    /// A new async iterator over the messages from now on; one that is already over
    /// (`ended`) reports `error` once (unless undefined), then `done`.
    #[wasm_bindgen(method)]
    fn iterate(this: &Receiver, ended: bool, error: &JsValue) -> JsValue;
    /// Ends every async iterator: after their queued messages, `error` once (unless
    /// undefined), then `done`.
    #[wasm_bindgen(method, js_name = end)]
    fn end_iterators(this: &Receiver, error: &JsValue);
    #[wasm_bindgen(method, setter)]
    pub(crate) fn set_heartbeat(this: &Receiver, heartbeat: bool);
    #[wasm_bindgen(method, setter)]
    pub(crate) fn set_limit(this: &Receiver, limit: f64);
    #[wasm_bindgen(method, getter, js_name = messagesIn)]
    pub(crate) fn messages_in(this: &Receiver) -> f64;
    #[wasm_bindgen(method, getter, js_name = bytesIn)]
    pub(crate) fn bytes_in(this: &Receiver) -> f64;

    /// Dispatches an `open`, `close`, `error` or custom event on `target` (see `deliver.js`
    /// for what `a`, `b` and `c` are); never throws.
    fn fire(target: &Target, kind: &str, a: &JsValue, b: &JsValue, c: bool);
}

#[wasm_bindgen(typescript_custom_section)]
const TYPESCRIPT: &str = include_str!("resocket.d.ts");

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = reportError, catch)]
    fn report_error_global(error: &JsValue) -> Result<(), JsValue>;

    /// The socket's own `EventTarget`, with `removeEventListener` taking the caller's listener
    /// and options untouched (a function or a `{ handleEvent }` object; a boolean or an options
    /// bag). Listeners are added through the `Receiver` (`add_listener`).
    #[wasm_bindgen(extends = web_sys::EventTarget, js_name = EventTarget)]
    type Target;
    #[wasm_bindgen(constructor, catch, js_class = EventTarget)]
    fn new() -> Result<Target, JsValue>;
    #[wasm_bindgen(method, catch, js_class = EventTarget, js_name = removeEventListener)]
    fn remove_listener(
        this: &Target,
        kind: &JsValue,
        listener: &JsValue,
        options: &JsValue,
    ) -> Result<(), JsValue>;
}

/// Reports an exception thrown by user code the way the browser reports one thrown by a
/// listener (`reportError`: the console and the window's `error` event), without unwinding
/// through Rust.
pub(crate) fn report_error(error: &JsValue) {
    if report_error_global(error).is_err() {
        web_sys::console::error_1(error);
    }
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

/// Sends waiting behind a `Blob` being read: a `Blob` is read asynchronously, and everything
/// sent after it must wait so that the order of `send` calls is the order on the wire.
enum Pending {
    /// A `Blob` whose bytes are not read yet (`None`) or are (`Some`).
    Blob(web_sys::Blob, Option<Message>),
    Ready(Message),
}

impl Pending {
    fn bytes(&self) -> f64 {
        match self {
            Pending::Blob(blob, _) => blob.size(),
            Pending::Ready(m) => m.len() as f64,
        }
    }
}

/// The state shared by a `ReSocket` JavaScript object and the core's hooks.
struct Inner {
    socket: ReSocket,
    target: Target,
    /// The URL as given (a provider's URL: the latest, without its query string).
    url: Option<String>,
    json: bool,
    binary_type: Cell<BinaryType>,
    pending: RefCell<VecDeque<Pending>>,
    /// The socket's first-stage `onmessage` (see `deliver.js`), kept in step with the handler,
    /// the listeners, `binaryType` and the iterators.
    receiver: Receiver,
    /// The socket itself while it is not closed or failed: a deliberate reference cycle. Like a
    /// browser `WebSocket`, a `ReSocket` with listeners keeps running when the page drops its
    /// last reference; [`Inner::end`] breaks the cycle (and the socket can be collected) once
    /// it is closed or has failed.
    keep_alive: RefCell<Option<Rc<Inner>>>,
}

impl Inner {
    fn dispatch_custom(&self, kind: &str, detail: &JsValue) {
        fire(&self.target, kind, detail, &JsValue::UNDEFINED, false);
    }

    fn dispatch_close(&self, code: u16, reason: &str, was_clean: bool) {
        fire(
            &self.target,
            "close",
            &code.into(),
            &reason.into(),
            was_clean,
        );
    }

    fn dispatch_error(&self, err: &Error) {
        fire(
            &self.target,
            "error",
            &err.message().into(),
            &js_error(err),
            false,
        );
    }

    fn on_event(self: &Rc<Self>, event: &Event) {
        let changes_state = !matches!(
            event,
            Event::Disconnected { .. }
                | Event::OutboxOverflow { .. }
                | Event::HeartbeatTimeout { .. }
                | Event::Error(_)
        );
        // The state's detail, built only for the events that change it (`reconnecting` and
        // `offline` carry it too).
        let detail = if changes_state {
            let detail = state_detail(&self.socket.state());
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
                fire(
                    &self.target,
                    "open",
                    &JsValue::UNDEFINED,
                    &JsValue::UNDEFINED,
                    false,
                );
            }
            Event::Disconnected {
                code,
                reason,
                was_clean,
            } => self.dispatch_close(*code, reason, *was_clean),
            Event::Reconnecting { .. } => self.dispatch_custom("reconnecting", &detail),
            Event::Offline => self.dispatch_custom("offline", &detail),
            Event::Closed { code, reason, .. } => {
                self.dispatch_close(*code, reason, true);
                self.end(None);
            }
            Event::Failed { reason } => {
                let err = Error::Failed {
                    reason: reason.clone(),
                };
                self.dispatch_error(&err);
                self.end(Some(js_error(&err)));
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
            Event::Connecting { .. } => {}
        }
    }

    /// The socket is closed or failed: iterators end (with `error` after a failure) and the
    /// socket stops keeping itself alive on the next microtask (never while it is dispatching).
    fn end(self: &Rc<Self>, error: Option<JsValue>) {
        self.receiver
            .end_iterators(&error.unwrap_or(JsValue::UNDEFINED));
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
        if let Err(e) = self.receiver.deliver_message(&event) {
            self.dispatch_error(&Error::Decode {
                message: js_error_message(&e),
                kind: "text",
                size: js_payload_len(&event.data()),
            });
        }
    }

    /// Sends now (or into the outbox), or behind a `Blob` still being read.
    fn enqueue(&self, message: Message) -> Result<(), JsValue> {
        {
            let mut pending = self.pending.borrow_mut();
            if !pending.is_empty() {
                if let Some(err) = terminal_error(&self.socket.state()) {
                    return Err(js_error(&err));
                }
                pending.push_back(Pending::Ready(message));
                return Ok(());
            }
        }
        self.socket.send(message).map_err(|e| js_error(&e))
    }

    /// Sends the front of the pending queue while it is ready. Errors here have no caller to
    /// throw to, so they become `error` events.
    fn drain_pending(&self) {
        loop {
            let next = {
                let mut pending = self.pending.borrow_mut();
                match pending.front_mut() {
                    Some(Pending::Ready(_)) | Some(Pending::Blob(_, Some(_))) => {
                        match pending.pop_front() {
                            Some(Pending::Ready(m)) | Some(Pending::Blob(_, Some(m))) => m,
                            _ => return,
                        }
                    }
                    _ => return,
                }
            };
            if let Err(err) = self.socket.send(next) {
                self.dispatch_error(&err);
            }
        }
    }

    fn send_blob(self: &Rc<Self>, blob: web_sys::Blob) -> Result<(), JsValue> {
        if let Some(err) = terminal_error(&self.socket.state()) {
            return Err(js_error(&err));
        }
        self.pending
            .borrow_mut()
            .push_back(Pending::Blob(blob.clone(), None));
        let weak = Rc::downgrade(self);
        wasm_bindgen_futures::spawn_local(async move {
            let read = JsFuture::from(blob.array_buffer()).await;
            let Some(inner) = weak.upgrade() else { return };
            let message = match read {
                Ok(buffer) => Message::Binary(js_sys::Uint8Array::new(&buffer).to_vec()),
                Err(e) => {
                    // An unreadable Blob is dropped from the queue and reported.
                    inner.pending.borrow_mut().retain(
                        |p| !matches!(p, Pending::Blob(b, None) if JsValue::from(b) == JsValue::from(&blob)),
                    );
                    inner.dispatch_error(&Error::Encode {
                        message: ["could not read Blob: ", &js_error_message(&e)].concat(),
                    });
                    inner.drain_pending();
                    return;
                }
            };
            for p in inner.pending.borrow_mut().iter_mut() {
                if let Pending::Blob(b, slot @ None) = p {
                    if JsValue::from(&*b) == JsValue::from(&blob) {
                        *slot = Some(message);
                        break;
                    }
                }
            }
            inner.drain_pending();
        });
        Ok(())
    }
}

fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = js_sys::Reflect::set(target, &key.into(), value);
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
        State::Open | State::Offline => {}
    }
    detail
}

fn message_to_js(message: Message) -> JsValue {
    match message {
        Message::Text(t) => t.into(),
        Message::Binary(b) => js_sys::Uint8Array::from(&b[..]).buffer().into(),
    }
}

/// A URL given as a `URL` object (or anything with a string form that is not a string).
fn url_string(value: &JsValue) -> Option<String> {
    if let Some(s) = value.as_string() {
        return Some(s);
    }
    if value.is_object() && !value.is_function() {
        let href = js_sys::Reflect::get(value, &"href".into()).ok()?;
        return href.as_string();
    }
    None
}

const URL_EXPECTED: &str = "a string, a URL or a function returning one (or a promise of one)";

/// A reconnecting WebSocket for JavaScript: the browser `WebSocket` API, plus reconnection,
/// a send queue, JSON mode, async iteration and lifecycle events.
#[wasm_bindgen(js_name = ReSocket, skip_typescript)]
pub struct JsReSocket {
    inner: Rc<Inner>,
}

impl fmt::Debug for JsReSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReSocket")
            .field("socket", &self.inner.socket)
            .finish()
    }
}

#[wasm_bindgen(js_class = ReSocket)]
impl JsReSocket {
    /// `new ReSocket(url, protocols?, options?)` or `new ReSocket(url, options)`.
    #[wasm_bindgen(constructor, skip_typescript)]
    pub fn new(url: JsValue, protocols: JsValue, options: JsValue) -> Result<JsReSocket, JsValue> {
        let settings = options::parse(&protocols, &options)?;
        crate::socket::validate_protocols(&settings.options.protocols)?;
        let (socket, fixed_url) = if let Some(f) = url.dyn_ref::<js_sys::Function>() {
            (url_provider(f.clone(), settings.options), None)
        } else {
            let url_str =
                url_string(&url).ok_or_else(|| argument_error("url", URL_EXPECTED, &url))?;
            (
                ReSocket::connect(&url_str, settings.options)?,
                Some(url_str),
            )
        };
        let target = Target::new()?;
        let receiver = Receiver::new(
            &target,
            settings.json,
            settings.binary_type == BinaryType::Blob,
        );
        let inner = Rc::new(Inner {
            socket,
            target,
            url: fixed_url,
            json: settings.json,
            binary_type: Cell::new(settings.binary_type),
            pending: RefCell::default(),
            receiver,
            keep_alive: RefCell::new(None),
        });
        let weak = Rc::downgrade(&inner);
        inner.socket.add_hook(Box::new(move |event| {
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
        inner
            .socket
            .set_receiver(inner.receiver.clone().unchecked_into());
        *inner.keep_alive.borrow_mut() = Some(Rc::clone(&inner));
        Ok(JsReSocket { inner })
    }

    /// Creates a socket and resolves with it once it is first open; rejects if it is closed or
    /// fails before that.
    #[wasm_bindgen(skip_typescript)]
    pub fn connect(url: JsValue, options: JsValue) -> js_sys::Promise {
        let socket = match JsReSocket::new(url, options, JsValue::UNDEFINED) {
            Ok(socket) => socket,
            Err(e) => return js_sys::Promise::reject(&e),
        };
        let mut settle = None;
        let promise = js_sys::Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
        let settle = RefCell::new(settle);
        // A weak reference: the hook lives in the core, which the socket owns. `keep_alive`
        // keeps the socket until it is closed or failed.
        let weak = Rc::downgrade(&socket.inner);
        socket.inner.socket.add_hook(Box::new(move |event| {
            let outcome = match event {
                Event::Open { .. } => match weak.upgrade() {
                    Some(inner) => Ok(JsValue::from(JsReSocket { inner })),
                    None => return,
                },
                Event::Failed { reason } => Err(Error::Failed {
                    reason: reason.clone(),
                }),
                Event::Closed { code, reason, .. } => Err(Error::Closed {
                    code: Some(*code),
                    reason: reason.clone(),
                }),
                _ => return,
            };
            let Some((resolve, reject)) = settle.borrow_mut().take() else {
                return;
            };
            let _ = match outcome {
                Ok(value) => resolve.call1(&JsValue::UNDEFINED, &value),
                Err(err) => reject.call1(&JsValue::UNDEFINED, &js_error(&err)),
            };
        }));
        promise
    }

    /// `WebSocket.CONNECTING` (0).
    #[wasm_bindgen(getter = CONNECTING, skip_typescript)]
    pub fn connecting(&self) -> u16 {
        0
    }
    /// `WebSocket.OPEN` (1).
    #[wasm_bindgen(getter = OPEN, skip_typescript)]
    pub fn open(&self) -> u16 {
        1
    }
    /// `WebSocket.CLOSING` (2).
    #[wasm_bindgen(getter = CLOSING, skip_typescript)]
    pub fn closing(&self) -> u16 {
        2
    }
    /// `WebSocket.CLOSED` (3).
    #[wasm_bindgen(getter = CLOSED, skip_typescript)]
    pub fn closed(&self) -> u16 {
        3
    }

    /// 0 while connecting or waiting to reconnect, 1 open, 2 closing, 3 closed or failed.
    #[wasm_bindgen(getter = readyState, skip_typescript)]
    pub fn ready_state(&self) -> u16 {
        match self.inner.socket.state() {
            State::Open => match self.inner.socket.ready_state() {
                ReadyState::Closing => 2,
                _ => 1,
            },
            State::Closed { .. } | State::Failed { .. } => 3,
            _ => 0,
        }
    }

    /// `connecting`, `open`, `reconnecting`, `offline`, `closed` or `failed`.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn state(&self) -> String {
        self.inner.socket.state().name().to_owned()
    }

    /// Counters since creation.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn stats(&self) -> JsValue {
        let s = self.inner.socket.stats();
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
        let pending = self.inner.pending.borrow().len();
        set(
            &out,
            "outboxLength",
            &((s.outbox_len + pending) as u32).into(),
        );
        out
    }

    /// The URL as given (for a URL function: the last one used, without its query string).
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn url(&self) -> String {
        self.inner
            .url
            .clone()
            .unwrap_or_else(|| self.inner.socket.url())
    }

    /// The subprotocol the server selected ("" while not open).
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn protocol(&self) -> String {
        self.inner.socket.protocol()
    }

    /// The extensions the server selected ("" while not open).
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn extensions(&self) -> String {
        self.inner.socket.extensions()
    }

    /// Bytes not yet handed to the network: the socket's `bufferedAmount`, plus the outbox,
    /// plus sends waiting behind a `Blob` being read.
    #[wasm_bindgen(getter = bufferedAmount, skip_typescript)]
    pub fn buffered_amount(&self) -> f64 {
        let pending: f64 = self.inner.pending.borrow().iter().map(Pending::bytes).sum();
        f64::from(self.inner.socket.buffered_amount())
            + self.inner.socket.stats().outbox_bytes as f64
            + pending
    }

    /// `"blob"` (the default, as in the browser) or `"arraybuffer"`.
    #[wasm_bindgen(getter = binaryType, skip_typescript)]
    pub fn binary_type(&self) -> String {
        self.inner.binary_type.get().as_str().to_owned()
    }

    /// Sets how binary messages are delivered; anything else is a `TypeError`.
    #[wasm_bindgen(setter = binaryType, skip_typescript)]
    pub fn set_binary_type(&self, value: JsValue) -> Result<(), JsValue> {
        let parsed = BinaryType::parse(&value, "binaryType")?;
        self.inner.binary_type.set(parsed);
        self.inner.receiver.set_blob(parsed == BinaryType::Blob);
        Ok(())
    }

    /// Sends a string, `ArrayBuffer`, typed array / `DataView` or `Blob` (in JSON mode: any
    /// JSON-serialisable value; binary types still go as binary). While the socket is down the
    /// message waits in the outbox.
    #[wasm_bindgen(skip_typescript)]
    pub fn send(&self, data: JsValue) -> Result<(), JsValue> {
        if let Some(text) = data.as_string() {
            if !self.inner.json {
                return self.inner.enqueue(Message::Text(text));
            }
        }
        if let Some(buffer) = data.dyn_ref::<js_sys::ArrayBuffer>() {
            let bytes = js_sys::Uint8Array::new(buffer).to_vec();
            return self.inner.enqueue(Message::Binary(bytes));
        }
        if js_sys::ArrayBuffer::is_view(&data) {
            let view: &js_sys::Uint8Array = data.unchecked_ref();
            let bytes = js_sys::Uint8Array::new_with_byte_offset_and_length(
                &view.buffer(),
                view.byte_offset(),
                view.byte_length(),
            )
            .to_vec();
            return self.inner.enqueue(Message::Binary(bytes));
        }
        if let Some(blob) = data.dyn_ref::<web_sys::Blob>() {
            return self.inner.send_blob(blob.clone());
        }
        if self.inner.json {
            let text = js_sys::JSON::stringify(&data)
                .map_err(|e| {
                    js_error(&Error::Encode {
                        message: [
                            "cannot send ",
                            &describe(&data),
                            " as JSON: ",
                            &js_error_message(&e),
                        ]
                        .concat(),
                    })
                })?
                .as_string()
                .ok_or_else(|| {
                    argument_error(
                        "send() data in JSON mode",
                        "a JSON-serialisable value",
                        &data,
                    )
                })?;
            return self.inner.enqueue(Message::Text(text));
        }
        Err(argument_error(
            "send() data",
            "a string, ArrayBuffer, ArrayBufferView or Blob",
            &data,
        ))
    }

    /// Closes for good: no reconnection after it. `code` is 1000 or 3000-4999, `reason` at most
    /// 123 UTF-8 bytes. Returns the messages that were queued and never sent.
    #[wasm_bindgen(skip_typescript)]
    pub fn close(&self, code: JsValue, reason: JsValue) -> Result<js_sys::Array, JsValue> {
        let code = if code.is_undefined() {
            None
        } else {
            match code.as_f64() {
                Some(n) if (0.0..=65535.0).contains(&n) && n == f64::from(n as u16) => {
                    Some(n as u16)
                }
                _ => {
                    return Err(argument_error(
                        "close code",
                        "1000 or an integer in 3000-4999",
                        &code,
                    ))
                }
            }
        };
        let reason = if reason.is_undefined() {
            None
        } else {
            Some(
                reason
                    .as_string()
                    .ok_or_else(|| argument_error("close reason", "a string", &reason))?,
            )
        };
        let unsent = self.inner.socket.close(code, reason.as_deref())?;
        let out = js_sys::Array::new();
        for message in unsent {
            out.push(&message_to_js(message));
        }
        let pending = core::mem::take(&mut *self.inner.pending.borrow_mut());
        for pending in pending {
            out.push(&match pending {
                Pending::Blob(blob, _) => blob.into(),
                Pending::Ready(m) => message_to_js(m),
            });
        }
        Ok(out)
    }

    /// Closes the current socket (if any) and connects again now, with the backoff reset.
    #[wasm_bindgen(skip_typescript)]
    pub fn reconnect(&self) {
        self.inner.socket.reconnect();
    }

    /// `EventTarget.addEventListener`.
    #[wasm_bindgen(js_name = addEventListener, skip_typescript)]
    pub fn add_event_listener(
        &self,
        kind: JsValue,
        listener: JsValue,
        options: JsValue,
    ) -> Result<(), JsValue> {
        self.inner.receiver.add_listener(&kind, &listener, &options)
    }

    /// `EventTarget.removeEventListener`.
    #[wasm_bindgen(js_name = removeEventListener, skip_typescript)]
    pub fn remove_event_listener(
        &self,
        kind: JsValue,
        listener: JsValue,
        options: JsValue,
    ) -> Result<(), JsValue> {
        self.inner
            .target
            .remove_listener(&kind, &listener, &options)
    }

    /// `EventTarget.dispatchEvent`.
    #[wasm_bindgen(js_name = dispatchEvent, skip_typescript)]
    pub fn dispatch_event(&self, event: &web_sys::Event) -> Result<bool, JsValue> {
        self.inner.target.dispatch_event(event)
    }

    /// `for await (const data of socket)`: every message from now on; ends after `close()`,
    /// throws after a failure.
    #[wasm_bindgen(js_name = "[Symbol.asyncIterator]", skip_typescript)]
    pub fn async_iterator(&self) -> JsValue {
        let (ended, error) = match self.inner.socket.state() {
            State::Closed { .. } => (true, JsValue::UNDEFINED),
            State::Failed { reason } => (true, js_error(&Error::Failed { reason })),
            _ => (false, JsValue::UNDEFINED),
        };
        self.inner.receiver.iterate(ended, &error)
    }

    /// The `open` handler.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn onopen(&self) -> JsValue {
        self.inner.receiver.handler_of("open")
    }
    /// Sets the `open` handler.
    #[wasm_bindgen(setter, skip_typescript)]
    pub fn set_onopen(&self, f: JsValue) -> Result<(), JsValue> {
        self.inner.receiver.set_handler("open", &f)
    }
    /// The `message` handler.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn onmessage(&self) -> JsValue {
        self.inner.receiver.handler_of("message")
    }
    /// Sets the `message` handler.
    #[wasm_bindgen(setter, skip_typescript)]
    pub fn set_onmessage(&self, f: JsValue) -> Result<(), JsValue> {
        self.inner.receiver.set_handler("message", &f)
    }
    /// The `close` handler.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn onclose(&self) -> JsValue {
        self.inner.receiver.handler_of("close")
    }
    /// Sets the `close` handler.
    #[wasm_bindgen(setter, skip_typescript)]
    pub fn set_onclose(&self, f: JsValue) -> Result<(), JsValue> {
        self.inner.receiver.set_handler("close", &f)
    }
    /// The `error` handler.
    #[wasm_bindgen(getter, skip_typescript)]
    pub fn onerror(&self) -> JsValue {
        self.inner.receiver.handler_of("error")
    }
    /// Sets the `error` handler.
    #[wasm_bindgen(setter, skip_typescript)]
    pub fn set_onerror(&self, f: JsValue) -> Result<(), JsValue> {
        self.inner.receiver.set_handler("error", &f)
    }
}

/// A socket whose URL comes from a JavaScript function, called before every attempt; it may
/// return a string, a `URL`, or a promise of either.
fn url_provider(f: js_sys::Function, options: crate::options::Options) -> ReSocket {
    let protocols = options.protocols.clone();
    ReSocket::connect_with_provider(
        move || {
            let called = f.call0(&JsValue::UNDEFINED);
            let protocols = protocols.clone();
            Box::pin(async move {
                let value = called.map_err(|e| Error::from_js(&e))?;
                // A promise (or any thenable) is awaited; a plain value passes through.
                let value = JsFuture::from(js_sys::Promise::resolve(&value))
                    .await
                    .map_err(|e| Error::from_js(&e))?;
                let url = url_string(&value).ok_or_else(|| Error::InvalidOption {
                    key: "url".into(),
                    expected: "the URL function to return a string or a URL".into(),
                    got: describe(&value),
                })?;
                Ok((url, protocols))
            })
        },
        options,
    )
}
