//! The JavaScript options object. `resocket.js` reads and checks it (every mistake, an unknown
//! key, a wrong type or an out-of-range value, is a `TypeError` naming the key, the expected
//! type and the value given) and hands over one plain object of the checked options, by name;
//! this module applies it to [`Options`].
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
use crate::options::{Fallback, Heartbeat, Options, Resume};
use crate::outbox::Overflow;
use crate::text::{text, Piece::N, Piece::S};

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

/// One option of the object `settings()` in `resocket.js` built (undefined where not given).
fn get(o: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(o, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A number option, where given.
fn num(o: &JsValue, key: &str) -> Option<f64> {
    get(o, key).as_f64()
}

/// A count or size option where -1 stands for "none": `Some(None)` for none.
fn limit(o: &JsValue, key: &str) -> Option<Option<f64>> {
    num(o, key).map(|v| (v >= 0.0).then_some(v))
}

/// Applies the options `resocket.js` read and checked (`settings()` there): one plain object
/// holding each option given under its own name, already checked, plus `protocolsError`.
pub(crate) fn parse(s: &JsValue) -> Result<Options, JsValue> {
    let mut o = Options::default();
    if let Some(list) = get(s, "protocols").dyn_ref::<js_sys::Array>() {
        o.protocols = list.iter().filter_map(|p| p.as_string()).collect();
    }
    if let Some(v) = num(s, "minDelay") {
        o.backoff.initial = millis(v);
    }
    if let Some(v) = num(s, "maxDelay") {
        o.backoff.max = millis(v);
    }
    if let Some(v) = num(s, "factor") {
        o.backoff.factor = v;
    }
    match get(s, "jitter").as_string().as_deref() {
        Some("equal") => o.backoff.jitter = Jitter::Equal,
        Some("none") => o.backoff.jitter = Jitter::None,
        _ => {}
    }
    if let Some(v) = limit(s, "maxRetries") {
        o.max_retries = v.map(|v| v as u32);
    }
    if let Some(v) = num(s, "stableAfter") {
        o.stable_after = millis(v);
    }
    if let Some(v) = num(s, "connectTimeout") {
        o.connect_timeout = millis(v);
    }
    if let Some(f) = get(s, "shouldRetry").dyn_ref::<js_sys::Function>() {
        o.should_retry = Some(retry_predicate(f.clone()));
    }
    if let Some(v) = num(s, "outboxMessages") {
        o.outbox_messages = v as usize;
    }
    if let Some(v) = num(s, "outboxBytes") {
        o.outbox_bytes = v as usize;
    }
    match get(s, "overflow").as_string().as_deref() {
        Some("drop-oldest") => o.overflow = Overflow::DropOldest,
        Some("drop-newest") => o.overflow = Overflow::DropNewest,
        _ => {}
    }
    let heartbeat = get(s, "heartbeat");
    if heartbeat.is_null() {
        o.heartbeat = None;
    } else if heartbeat.is_object() {
        o.heartbeat = Some(Heartbeat::new(
            get(&heartbeat, "message")
                .as_string()
                .unwrap_or_else(|| r#"{"type":"ping"}"#.to_owned()),
            num(&heartbeat, "interval").map_or(Duration::from_secs(15), millis),
            num(&heartbeat, "timeout").map_or(Duration::from_secs(10), millis),
        ));
    }
    if let Some(v) = num(s, "highWaterMark") {
        o.high_water_mark = v as u32;
    }
    if let Some(v) = limit(s, "maxMessageBytes") {
        o.max_message_bytes = v.map(|v| v as usize);
    }
    if let Some(v) = get(s, "secureOnly").as_bool() {
        o.secure_only = v;
    }
    if let Some(v) = num(s, "jitterSeed") {
        o.jitter_seed = Some(v as u64);
    }
    let resume = get(s, "resume");
    if resume.is_object() {
        let mut r = Resume::default();
        if get(&resume, "fallback").as_string().as_deref() == Some("plain") {
            r.fallback = Fallback::Plain;
        }
        if let Some(v) = num(&resume, "maxBuffered") {
            r.max_buffered = v as usize;
        }
        if let Some(v) = num(&resume, "maxBufferedBytes") {
            r.max_buffered_bytes = v as usize;
        }
        if get(&resume, "overflow").as_string().as_deref() == Some("wait") {
            r.drop_oldest = false;
        }
        if get(&resume, "onReset").as_string().as_deref() == Some("drop") {
            r.requeue_on_reset = false;
        }
        o.resume = Some(r);
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
    match get(s, "protocolsError") {
        error if error.is_undefined() => Ok(o),
        error => Err(error),
    }
}
