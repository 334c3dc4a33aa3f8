//! The JavaScript options object. `deliver.js` reads and checks it (every mistake, an unknown
//! key, a wrong type or an out-of-range value, is a `TypeError` naming the key, the expected
//! type and the value given) and hands over numbers; this module applies them to [`Options`].
//!
//! Read in JavaScript rather than Rust: the checks and their messages are mostly JavaScript
//! semantics (`typeof`, `Object.entries`, number formatting), and there they cost a fraction of
//! the wasm (serde-wasm-bindgen, the first version, was about 12 KB gzip; the Rust version after
//! it about 2 KB more than this).

use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use alloc::string::String;
use core::time::Duration;

use wasm_bindgen::prelude::*;

use crate::backoff::Jitter;
use crate::message::CloseEvent;
use crate::options::{Heartbeat, Options};
use crate::outbox::Overflow;
use crate::text::{text, Piece::N, Piece::S};

#[wasm_bindgen(module = "/src/js/deliver.js")]
extern "C" {
    /// A short, safe description of a JavaScript value for error messages.
    pub(crate) fn describe(value: &JsValue) -> String;
    /// `TypeError: option "key" must be EXPECTED, got VALUE` (kind `InvalidOption`).
    #[wasm_bindgen(js_name = typeError)]
    pub(crate) fn type_error(key: &str, expected: &str, got: &JsValue) -> JsValue;
    /// `TypeError: WHAT must be EXPECTED, got VALUE` (kind `InvalidArgument`).
    #[wasm_bindgen(js_name = argumentError)]
    pub(crate) fn argument_error(what: &str, expected: &str, got: &JsValue) -> JsValue;
    /// Reads the constructor's `protocols` and `options` arguments: the numbers into `out`
    /// (NaN where not given, see [`Slot`]), the rest as `[protocols, shouldRetry, heartbeat
    /// message, protocols argument error]` (each `undefined` where not given). Throws the
    /// `TypeError` for a mistake in the options.
    #[wasm_bindgen(catch)]
    fn settings(
        protocols: &JsValue,
        options: &JsValue,
        out: &mut [f64],
    ) -> Result<js_sys::Array, JsValue>;
}

/// The slots of the numbers `settings` fills in (`SLOT` in `deliver.js`).
#[derive(Clone, Copy)]
enum Slot {
    BinaryType,
    Json,
    MinDelay,
    MaxDelay,
    Factor,
    Jitter,
    MaxRetries,
    StableAfter,
    ConnectTimeout,
    OutboxMessages,
    OutboxBytes,
    Overflow,
    Heartbeat,
    Interval,
    Timeout,
    HighWaterMark,
    MaxMessageBytes,
    SecureOnly,
    JitterSeed,
}

/// How binary messages are handed to JavaScript (`WebSocket.binaryType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinaryType {
    Blob,
    ArrayBuffer,
}

impl BinaryType {
    pub(crate) fn parse(value: &JsValue, key: &str) -> Result<Self, JsValue> {
        match value.as_string().as_deref() {
            Some("blob") => Ok(BinaryType::Blob),
            Some("arraybuffer") => Ok(BinaryType::ArrayBuffer),
            _ => Err(type_error(key, "\"blob\" | \"arraybuffer\"", value)),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BinaryType::Blob => "blob",
            BinaryType::ArrayBuffer => "arraybuffer",
        }
    }
}

/// Everything the options object sets: the core's options plus the JavaScript layer's own.
#[derive(Debug)]
pub(crate) struct JsSettings {
    pub(crate) options: Options,
    /// `binaryType` (default `"blob"`, as in the browser).
    pub(crate) binary_type: BinaryType,
    /// JSON mode: `send` stringifies, `message` events carry parsed values.
    pub(crate) json: bool,
}

/// Milliseconds as whole microseconds (`as` saturates; `from_secs_f64` would add its own panic
/// paths).
fn millis(ms: f64) -> Duration {
    Duration::from_micros((ms * 1000.0) as u64)
}

/// Wraps a JavaScript `shouldRetry(event)` predicate. A throwing or non-boolean predicate
/// falls back to the default policy (and the exception is reported, not swallowed).
fn retry_predicate(f: js_sys::Function) -> crate::options::RetryPredicate {
    Rc::new(move |event: &CloseEvent| {
        let arg = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&arg, &"code".into(), &event.code.into());
        let _ = js_sys::Reflect::set(&arg, &"reason".into(), &event.reason.as_str().into());
        let _ = js_sys::Reflect::set(&arg, &"wasClean".into(), &event.was_clean.into());
        match f.call1(&JsValue::UNDEFINED, &arg) {
            Ok(v) => v
                .as_bool()
                .unwrap_or_else(|| crate::close::default_should_retry(event.code)),
            Err(e) => {
                super::report_error(&e);
                crate::close::default_should_retry(event.code)
            }
        }
    })
}

/// Reads the constructor's `protocols` and `options` arguments (`new ReSocket(url, protocols?,
/// options?)` or `new ReSocket(url, options)`; `undefined`/`null` options give the defaults).
pub(crate) fn parse(protocols: &JsValue, options: &JsValue) -> Result<JsSettings, JsValue> {
    let mut n = [f64::NAN; Slot::JitterSeed as usize + 1];
    let found = settings(protocols, options, &mut n)?;
    let get = |slot: Slot| Some(n[slot as usize]).filter(|v| !v.is_nan());
    // Counts and sizes: checked integers in range; -1 stands for "none".
    let count = |slot: Slot| get(slot).filter(|v| *v >= 0.0);
    let mut settings = JsSettings {
        options: Options::default(),
        binary_type: BinaryType::Blob,
        json: get(Slot::Json) == Some(1.0),
    };
    if get(Slot::BinaryType) == Some(1.0) {
        settings.binary_type = BinaryType::ArrayBuffer;
    }
    let o = &mut settings.options;
    if let Some(list) = found.get(0).dyn_ref::<js_sys::Array>() {
        o.protocols = list.iter().filter_map(|p| p.as_string()).collect();
    }
    if let Some(v) = get(Slot::MinDelay) {
        o.backoff.initial = millis(v);
    }
    if let Some(v) = get(Slot::MaxDelay) {
        o.backoff.max = millis(v);
    }
    if let Some(v) = get(Slot::Factor) {
        o.backoff.factor = v;
    }
    if let Some(v) = get(Slot::Jitter) {
        o.backoff.jitter = [Jitter::Full, Jitter::Equal, Jitter::None][v as usize % 3];
    }
    if get(Slot::MaxRetries).is_some() {
        o.max_retries = count(Slot::MaxRetries).map(|v| v as u32);
    }
    if let Some(v) = get(Slot::StableAfter) {
        o.stable_after = millis(v);
    }
    if let Some(v) = get(Slot::ConnectTimeout) {
        o.connect_timeout = millis(v);
    }
    if let Some(f) = found.get(1).dyn_ref::<js_sys::Function>() {
        o.should_retry = Some(retry_predicate(f.clone()));
    }
    if let Some(v) = get(Slot::OutboxMessages) {
        o.outbox_messages = v as usize;
    }
    if let Some(v) = get(Slot::OutboxBytes) {
        o.outbox_bytes = v as usize;
    }
    if let Some(v) = get(Slot::Overflow) {
        o.overflow = [Overflow::Reject, Overflow::DropOldest, Overflow::DropNewest][v as usize % 3];
    }
    if let Some(on) = get(Slot::Heartbeat) {
        o.heartbeat = (on == 1.0).then(|| {
            let message = found.get(2).as_string();
            Heartbeat::new(
                message.unwrap_or_else(|| r#"{"type":"ping"}"#.to_owned()),
                get(Slot::Interval).map_or(Duration::from_secs(15), millis),
                get(Slot::Timeout).map_or(Duration::from_secs(10), millis),
            )
        });
    }
    if let Some(v) = get(Slot::HighWaterMark) {
        o.high_water_mark = v as u32;
    }
    if get(Slot::MaxMessageBytes).is_some() {
        o.max_message_bytes = count(Slot::MaxMessageBytes).map(|v| v as usize);
    }
    if let Some(v) = get(Slot::SecureOnly) {
        o.secure_only = v == 1.0;
    }
    if let Some(v) = get(Slot::JitterSeed) {
        o.jitter_seed = Some(v as u64);
    }
    if o.backoff.max < o.backoff.initial {
        return Err(type_error(
            "maxDelay",
            &text(&[
                S(">= minDelay ("),
                N(o.backoff.initial.as_millis() as u64),
                S(" ms)"),
            ]),
            &JsValue::from(o.backoff.max.as_millis() as f64),
        ));
    }
    // A bad `protocols` argument is reported after every mistake in the options.
    match found.get(3) {
        error if error.is_undefined() => Ok(settings),
        error => Err(error),
    }
}
