//! JavaScript bindings (`#[wasm_bindgen]` exports). No logic lives only here: every export
//! forwards to the Rust API.

use std::cell::RefCell;
use std::rc::Rc;

use futures_util::StreamExt;
use wasm_bindgen::prelude::*;

use crate::connection::{Connection, Sender};
use crate::error::Error;
use crate::message::Message;

impl From<Error> for JsValue {
    fn from(err: Error) -> JsValue {
        js_sys::Error::new(&err.to_string()).into()
    }
}

#[derive(Default)]
struct Handlers {
    onopen: Option<js_sys::Function>,
    onmessage: Option<js_sys::Function>,
    onclose: Option<js_sys::Function>,
}

/// A WebSocket for JavaScript, with the browser `WebSocket`'s handler properties.
#[wasm_bindgen(js_name = ReSocket)]
#[derive(Debug)]
pub struct JsReSocket {
    sender: Sender,
    handlers: Rc<RefCell<Handlers>>,
}

impl std::fmt::Debug for Handlers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Handlers")
    }
}

fn call(handler: &Option<js_sys::Function>, event: &JsValue) {
    if let Some(f) = handler {
        // A throwing user handler must not stop delivery; report it like the browser would.
        if let Err(e) = f.call1(&JsValue::NULL, event) {
            web_sys::console::error_1(&e);
        }
    }
}

fn event(kind: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let obj = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&obj, &"type".into(), &kind.into());
    for (k, v) in fields {
        let _ = js_sys::Reflect::set(&obj, &(*k).into(), v);
    }
    obj.into()
}

#[wasm_bindgen(js_class = ReSocket)]
impl JsReSocket {
    /// Opens a socket to `url`. Throws an `Error` naming the bad value for an invalid URL.
    #[wasm_bindgen(constructor)]
    pub fn new(url: &str) -> Result<JsReSocket, JsValue> {
        let conn = Connection::open(url)?;
        let (sender, mut receiver) = conn.split();
        let handlers = Rc::new(RefCell::new(Handlers::default()));
        let pump_handlers = Rc::clone(&handlers);
        let opened = sender.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if opened.opened().await.is_ok() {
                let h = pump_handlers.borrow().onopen.clone();
                call(&h, &event("open", &[]));
            }
            drop(opened);
            while let Some(item) = receiver.next().await {
                if let Ok(message) = item {
                    let data = match message {
                        Message::Text(t) => JsValue::from(t),
                        Message::Binary(b) => js_sys::Uint8Array::from(&b[..]).buffer().into(),
                    };
                    let h = pump_handlers.borrow().onmessage.clone();
                    call(&h, &event("message", &[("data", data)]));
                }
            }
            let h = pump_handlers.borrow().onclose.clone();
            call(&h, &event("close", &[]));
        });
        Ok(JsReSocket { sender, handlers })
    }

    /// Called when the socket opens.
    #[wasm_bindgen(setter)]
    pub fn set_onopen(&self, f: Option<js_sys::Function>) {
        self.handlers.borrow_mut().onopen = f;
    }

    /// Called with `{ data }` for each message (a string, or an ArrayBuffer for binary).
    #[wasm_bindgen(setter)]
    pub fn set_onmessage(&self, f: Option<js_sys::Function>) {
        self.handlers.borrow_mut().onmessage = f;
    }

    /// Called when the socket has closed.
    #[wasm_bindgen(setter)]
    pub fn set_onclose(&self, f: Option<js_sys::Function>) {
        self.handlers.borrow_mut().onclose = f;
    }

    /// `readyState`: 0 CONNECTING, 1 OPEN, 2 CLOSING, 3 CLOSED.
    #[wasm_bindgen(getter = readyState)]
    pub fn ready_state(&self) -> u16 {
        self.sender.ready_state().as_u16()
    }

    /// Sends a string.
    pub fn send(&self, data: &str) -> Result<(), JsValue> {
        Ok(self.sender.send_now(&Message::from(data))?)
    }

    /// Closes with an optional code (1000 or 3000-4999) and reason (at most 123 bytes).
    pub fn close(&self, code: Option<u16>, reason: Option<String>) -> Result<(), JsValue> {
        Ok(self.sender.close(code, reason.as_deref())?)
    }
}
