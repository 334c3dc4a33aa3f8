//! The JavaScript options object. `resocket.js` reads and checks it (every mistake, an unknown
//! key, a wrong type or an out-of-range value, is a `TypeError` naming the key, the expected
//! type and the value given) and hands over numbers; this module applies them to [`Options`].
//!
//! Read in JavaScript rather than Rust: the checks and their messages are mostly JavaScript
//! semantics (`typeof`, `Object.entries`, number formatting), and there they cost a fraction of
//! the wasm (serde-wasm-bindgen, the first version, was about 12 KB gzip; the Rust version after
//! it about 2 KB more than this).

use alloc::borrow::ToOwned;
use alloc::rc::Rc;
use core::time::Duration;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::backoff::Jitter;
use crate::message::CloseEvent;
use crate::options::{Heartbeat, Options};
use crate::outbox::Overflow;
use crate::text::{text, Piece::N, Piece::S};

/// The slots of the numbers `settings` fills in (`SLOT` in `resocket.js`).
#[derive(Clone, Copy)]
enum Slot {
    // `binaryType` and `json` are the JavaScript class's own (`resocket.js` reads them).
    #[allow(dead_code)]
    BinaryType,
    #[allow(dead_code)]
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

/// Milliseconds as whole microseconds (`as` saturates; `from_secs_f64` would add its own panic
/// paths).
fn millis(ms: f64) -> Duration {
    Duration::from_micros((ms * 1000.0) as u64)
}

/// Wraps the JavaScript `shouldRetry` predicate (`resocket.js` wraps the user's function: it
/// gets `{ code, reason, wasClean }` and its exception is reported). Anything but a boolean
/// falls back to the default policy.
fn retry_predicate(f: js_sys::Function) -> crate::options::RetryPredicate {
    Rc::new(move |event: &CloseEvent| {
        f.call3(
            &JsValue::UNDEFINED,
            &event.code.into(),
            &event.reason.as_str().into(),
            &event.was_clean.into(),
        )
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or_else(|| crate::close::default_should_retry(event.code))
    })
}

/// Applies the options `resocket.js` read and checked (`settings()` there): `n` holds the
/// numbers (NaN where not given, see [`Slot`]), `found` is `[protocols, shouldRetry,
/// heartbeat message, protocols argument error]` (each `undefined` where not given).
pub(crate) fn parse(n: &[f64], found: &js_sys::Array) -> Result<Options, JsValue> {
    let get = |slot: Slot| n.get(slot as usize).copied().filter(|v| !v.is_nan());
    // Counts and sizes: checked integers in range; -1 stands for "none".
    let count = |slot: Slot| get(slot).filter(|v| *v >= 0.0);
    let mut o = Options::default();
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
        // The message and `kind` of the option errors `resocket.js` throws.
        let error = js_sys::TypeError::new(&text(&[
            S("option \"maxDelay\" must be >= minDelay ("),
            N(o.backoff.initial.as_millis() as u64),
            S(" ms), got "),
            N(o.backoff.max.as_millis() as u64),
        ]));
        let _ = js_sys::Reflect::set(&error, &"kind".into(), &"InvalidOption".into());
        return Err(error.into());
    }
    // A bad `protocols` argument is reported after every mistake in the options.
    match found.get(3) {
        error if error.is_undefined() => Ok(o),
        error => Err(error),
    }
}
