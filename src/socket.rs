//! `RawSocket`: one browser `WebSocket` with owned handlers; the only place that creates one.
//! `Connection` and `ReSocket` both build on it.

use alloc::borrow::ToOwned;
use alloc::string::String;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, WebSocket};

use crate::error::{Error, Result};
use crate::message::{CloseEvent, Message, ReadyState};
use crate::sys::{js_error_message, Listener};
use crate::url::{redact_url, validate_protocols};

/// A received payload (a string or an `ArrayBuffer`) as a [`Message`], copied into wasm.
pub(crate) fn message_from_js(data: &JsValue) -> Message {
    match data.as_string() {
        Some(text) => Message::Text(text),
        None => Message::Binary(js_sys::Uint8Array::new(data).to_vec()),
    }
}

/// The size of a payload the browser handed over (see [`Incoming::len`]).
pub(crate) fn payload_len(data: &JsValue) -> usize {
    match data.dyn_ref::<js_sys::JsString>() {
        Some(text) => text.length() as usize,
        None => data.unchecked_ref::<js_sys::ArrayBuffer>().byte_length() as usize,
    }
}

/// A received message as the socket hands it on: a text message's text, already copied into
/// wasm, or the browser's event (any other message).
pub(crate) enum Incoming {
    /// A text message.
    Text(String),
    /// The event, its payload still in JavaScript.
    Event(MessageEvent),
}

impl Incoming {
    /// The payload's size: bytes of a text message's UTF-8 and of an `ArrayBuffer`; for a
    /// string still in JavaScript, its UTF-16 code units (equal to its UTF-8 bytes for ASCII;
    /// measuring exactly would mean copying it).
    pub(crate) fn len(&self) -> usize {
        match self {
            Incoming::Text(text) => text.len(),
            Incoming::Event(event) => payload_len(&event.data()),
        }
    }

    /// The message, copied into wasm.
    pub(crate) fn into_message(self) -> Message {
        match self {
            Incoming::Text(text) => Message::Text(text),
            Incoming::Event(event) => message_from_js(&event.data()),
        }
    }
}

#[wasm_bindgen(module = "/src/browser.js")]
extern "C" {
    /// `new WebSocket(url, protocols)` with the global class, binary type `arraybuffer`, its
    /// handlers set: `open`, `close` (given the close event) and `message`, called as
    /// `message(text)` when the payload is a string, else `message(undefined, event)` (one call
    /// into wasm per message instead of three: the closure, reading `data`, copying the
    /// string; and no event handle for a text message). Throws when there is no such class
    /// (Node.js before 22). One call instead of five, with fewer imports.
    #[wasm_bindgen(catch)]
    fn socket(
        url: &str,
        protocols: Option<js_sys::Array>,
        open: &js_sys::Function,
        message: &js_sys::Function,
        close: &js_sys::Function,
    ) -> Result<WebSocket, JsValue>;
    /// Removes the handlers `socket` set, then closes the socket with code 1000 if it is still
    /// connecting or open.
    fn detach(ws: &WebSocket);
}

/// One browser `WebSocket` (binary type `ArrayBuffer`) whose three handlers are owned here.
/// Dropping it detaches the handlers first, then closes a socket still connecting or open.
pub(crate) struct RawSocket {
    ws: WebSocket,
    _on_open: Listener<dyn FnMut()>,
    _on_message: Listener<dyn FnMut(Option<String>, Option<MessageEvent>)>,
    _on_close: Listener<dyn FnMut(web_sys::CloseEvent)>,
}

impl RawSocket {
    /// Creates the socket. `url` must already have passed `validate_url`.
    /// No `error` listener: an error event is always followed by a close event, which carries
    /// everything actionable, so failures are handled exactly once.
    pub(crate) fn open(
        url: &str,
        protocols: &[String],
        on_open: impl FnMut() + 'static,
        mut on_message: impl FnMut(Incoming) + 'static,
        mut on_close: impl FnMut(CloseEvent) + 'static,
    ) -> Result<Self> {
        validate_protocols(protocols)?;
        let on_open = Listener::new(Closure::new(on_open) as Closure<dyn FnMut()>);
        // A text message comes as its text, already copied (see `socket` in src/browser.js),
        // any other as the browser's event.
        let on_message = Listener::new(Closure::new(
            move |text: Option<String>, event: Option<MessageEvent>| match (text, event) {
                (Some(text), _) => on_message(Incoming::Text(text)),
                (None, Some(event)) => on_message(Incoming::Event(event)),
                (None, None) => {}
            },
        )
            as Closure<dyn FnMut(Option<String>, Option<MessageEvent>)>);
        let on_close = Listener::new(Closure::new(move |event: web_sys::CloseEvent| {
            on_close(CloseEvent {
                code: event.code(),
                reason: event.reason(),
                was_clean: event.was_clean(),
            })
        }) as Closure<dyn FnMut(web_sys::CloseEvent)>);
        let list = (!protocols.is_empty())
            .then(|| protocols.iter().map(|p| JsValue::from_str(p)).collect());
        let ws = socket(
            url,
            list,
            on_open.function(),
            on_message.function(),
            on_close.function(),
        )
        .map_err(|e| {
            // The browser's message repeats the URL, query string included: keep only its
            // kind, what comes before the first colon (a byte scan, not a string searcher).
            let message = js_error_message(&e);
            let kind = message.bytes().position(|b| b == b':');
            Error::InvalidUrl {
                url: redact_url(url),
                reason: kind
                    .and_then(|end| message.get(..end))
                    .unwrap_or(&message)
                    .to_owned(),
            }
        })?;
        Ok(RawSocket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        })
    }

    pub(crate) fn ready_state(&self) -> ReadyState {
        ReadyState::from_u16(self.ws.ready_state())
    }

    pub(crate) fn buffered_amount(&self) -> u32 {
        self.ws.buffered_amount()
    }

    pub(crate) fn protocol(&self) -> String {
        self.ws.protocol()
    }

    pub(crate) fn extensions(&self) -> String {
        self.ws.extensions()
    }

    /// Sends on an open socket (the caller checks the state).
    pub(crate) fn send(&self, message: &Message) -> Result<()> {
        match message {
            Message::Text(text) => self.ws.send_with_str(text),
            Message::Binary(bytes) => self.ws.send_with_u8_array(bytes),
        }
        .map_err(|e| Error::from_js(&e))
    }

    /// Starts the closing handshake; the code and reason must already be validated.
    pub(crate) fn close(&self, code: Option<u16>, reason: Option<&str>) -> Result<()> {
        match (code, reason) {
            (None, None) => self.ws.close(),
            (code, Some(reason)) => self
                .ws
                .close_with_code_and_reason(code.unwrap_or(1000), reason),
            (Some(code), None) => self.ws.close_with_code(code),
        }
        .map_err(|e| Error::from_js(&e))
    }
}

impl Drop for RawSocket {
    fn drop(&mut self) {
        // Detach first so no handler can run into freed closures; then close a socket that is
        // still connecting or open (see `detach`). The closures are dropped after this body.
        detach(&self.ws);
    }
}
