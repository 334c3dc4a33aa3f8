//! The JavaScript options object, read key by key so that every mistake (unknown key, wrong
//! type, out-of-range value) is a `TypeError` naming the key, the expected type and the value
//! given.
//!
//! Read with js-sys checks rather than serde-wasm-bindgen: serde's type-mismatch path formats
//! its message with Rust's float printer, about 12 KB gzip of the npm package (measured), for
//! an error message this module replaces with its own anyway.

use std::rc::Rc;
use std::time::Duration;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::backoff::Jitter;
use crate::message::{CloseEvent, Message};
use crate::options::{Heartbeat, Options};
use crate::outbox::Overflow;

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

/// The option keys, in the order the TypeScript `ReSocketOptions` lists them.
const KEYS: &str = "protocols, binaryType, json, minDelay, maxDelay, factor, jitter, maxRetries, \
    stableAfter, connectTimeout, shouldRetry, outboxMessages, outboxBytes, overflow, heartbeat, \
    highWaterMark, maxMessageBytes, secureOnly, jitterSeed";

/// A short, safe description of a JavaScript value for error messages.
pub(crate) fn describe(value: &JsValue) -> String {
    if let Some(s) = value.as_string() {
        let mut shown: String = s.chars().take(40).collect();
        if shown.len() < s.len() {
            shown.push('…');
        }
        return format!("\"{shown}\"");
    }
    if let Some(n) = value.as_f64() {
        // JavaScript's own number formatting (Rust's float formatting would add kilobytes).
        return String::from(
            js_sys::Number::from(n)
                .to_string_with_radix(10)
                .unwrap_or_default(),
        );
    }
    if let Some(b) = value.as_bool() {
        return b.to_string();
    }
    if value.is_null() {
        return "null".into();
    }
    if value.is_undefined() {
        return "undefined".into();
    }
    if js_sys::Array::is_array(value) {
        return "an array".into();
    }
    if value.is_function() {
        return "a function".into();
    }
    if value.is_bigint() {
        return "a bigint".into();
    }
    if value.is_symbol() {
        return "a symbol".into();
    }
    let name = value
        .dyn_ref::<js_sys::Object>()
        .map(|o| String::from(o.constructor().name()))
        .unwrap_or_default();
    match name.as_str() {
        "" | "Object" => "an object".into(),
        other => format!("a {other}"),
    }
}

/// `TypeError: option "key" must be EXPECTED, got VALUE`.
pub(crate) fn type_error(key: &str, expected: &str, got: &JsValue) -> JsValue {
    let message = format!("option \"{key}\" must be {expected}, got {}", describe(got));
    let err = js_sys::TypeError::new(&message);
    let _ = js_sys::Reflect::set(&err, &"kind".into(), &"InvalidOption".into());
    err.into()
}

/// A number (JavaScript has only doubles).
fn number(key: &str, value: &JsValue, expected: &str) -> Result<f64, JsValue> {
    value
        .as_f64()
        .ok_or_else(|| type_error(key, expected, value))
}

/// A finite, non-negative number (JavaScript has only doubles).
fn non_negative(key: &str, value: &JsValue, expected: &str) -> Result<f64, JsValue> {
    let n = number(key, value, expected)?;
    if n.is_finite() && n >= 0.0 {
        Ok(n)
    } else {
        Err(type_error(key, expected, value))
    }
}

fn millis(key: &str, value: &JsValue) -> Result<Duration, JsValue> {
    const EXPECTED: &str = "a non-negative number of milliseconds";
    let ms = non_negative(key, value, EXPECTED)?;
    // Whole microseconds (`as` saturates; `from_secs_f64` would add its own panic paths).
    Ok(Duration::from_micros((ms * 1000.0) as u64))
}

/// A non-negative integer no larger than `max`.
fn integer(key: &str, value: &JsValue, max: u64) -> Result<f64, JsValue> {
    let expected = format!("a non-negative integer (at most {max})");
    let n = non_negative(key, value, &expected)?;
    if n.fract() == 0.0 && n <= max as f64 {
        Ok(n)
    } else {
        Err(type_error(key, &expected, value))
    }
}

fn boolean(key: &str, value: &JsValue) -> Result<bool, JsValue> {
    value
        .as_bool()
        .ok_or_else(|| type_error(key, "a boolean", value))
}

/// `protocols`: a string or an array of strings (validated later, like the browser does).
pub(crate) fn protocols(key: &str, value: &JsValue) -> Result<Vec<String>, JsValue> {
    const EXPECTED: &str = "a string or an array of strings";
    if let Some(s) = value.as_string() {
        return Ok(vec![s]);
    }
    if value.is_undefined() || value.is_null() {
        return Ok(Vec::new());
    }
    let strings = value
        .dyn_ref::<js_sys::Array>()
        .ok_or_else(|| type_error(key, EXPECTED, value))?;
    strings
        .iter()
        .map(|s| {
            s.as_string()
                .ok_or_else(|| type_error(key, EXPECTED, value))
        })
        .collect()
}

/// Whether `value` is a plain options object (not an array, string or other primitive).
pub(crate) fn is_options_object(value: &JsValue) -> bool {
    value.is_object() && !js_sys::Array::is_array(value) && !value.is_function()
}

fn entries(value: &JsValue, what: &str) -> Result<Vec<(String, JsValue)>, JsValue> {
    if !is_options_object(value) {
        let err = js_sys::TypeError::new(&format!(
            "{what} must be an object, got {}",
            describe(value)
        ));
        let _ = js_sys::Reflect::set(&err, &"kind".into(), &"InvalidOption".into());
        return Err(err.into());
    }
    let object: &js_sys::Object = value.unchecked_ref();
    Ok(js_sys::Object::entries(object)
        .iter()
        .filter_map(|pair| {
            let pair: js_sys::Array = pair.dyn_into().ok()?;
            Some((pair.get(0).as_string()?, pair.get(1)))
        })
        .collect())
}

fn heartbeat(value: &JsValue) -> Result<Option<Heartbeat>, JsValue> {
    if value.is_null() || value.is_undefined() || value.as_bool() == Some(false) {
        return Ok(None);
    }
    let mut hb = Heartbeat::new(
        r#"{"type":"ping"}"#,
        Duration::from_secs(15),
        Duration::from_secs(10),
    );
    for (key, v) in entries(value, "option \"heartbeat\"")? {
        let name = format!("heartbeat.{key}");
        match key.as_str() {
            "message" => {
                hb.message = Message::Text(
                    v.as_string()
                        .ok_or_else(|| type_error(&name, "a string", &v))?,
                );
            }
            "interval" => hb.interval = millis(&name, &v)?,
            "timeout" => hb.timeout = millis(&name, &v)?,
            _ => return Err(unknown(&name, "message, interval, timeout")),
        }
    }
    if hb.interval.is_zero() {
        return Err(type_error(
            "heartbeat.interval",
            "a positive number of milliseconds",
            &JsValue::from(0),
        ));
    }
    Ok(Some(hb))
}

fn unknown(key: &str, known: &str) -> JsValue {
    let err = js_sys::TypeError::new(&format!("unknown option \"{key}\" (known: {known})"));
    let _ = js_sys::Reflect::set(&err, &"kind".into(), &"InvalidOption".into());
    err.into()
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

/// Reads an options object (`undefined`/`null` give the defaults).
pub(crate) fn parse(value: &JsValue) -> Result<JsSettings, JsValue> {
    let mut settings = JsSettings {
        options: Options::default(),
        binary_type: BinaryType::Blob,
        json: false,
    };
    if value.is_undefined() || value.is_null() {
        return Ok(settings);
    }
    let o = &mut settings.options;
    for (key, v) in entries(value, "options")? {
        let k = key.as_str();
        if v.is_undefined() {
            continue; // `{ maxRetries: undefined }` means "the default", as in most JS APIs
        }
        match k {
            "protocols" => o.protocols = protocols(k, &v)?,
            "binaryType" => settings.binary_type = BinaryType::parse(&v, k)?,
            "json" => settings.json = boolean(k, &v)?,
            "minDelay" => o.backoff.initial = millis(k, &v)?,
            "maxDelay" => o.backoff.max = millis(k, &v)?,
            "factor" => {
                const EXPECTED: &str = "a number >= 1";
                let f = non_negative(k, &v, EXPECTED)?;
                if f < 1.0 {
                    return Err(type_error(k, EXPECTED, &v));
                }
                o.backoff.factor = f;
            }
            "jitter" => {
                o.backoff.jitter = match v.as_string().as_deref() {
                    Some("full") => Jitter::Full,
                    Some("equal") => Jitter::Equal,
                    Some("none") => Jitter::None,
                    _ => return Err(type_error(k, "\"full\" | \"equal\" | \"none\"", &v)),
                }
            }
            "maxRetries" => {
                o.max_retries = if v.is_null() || v.as_f64() == Some(f64::INFINITY) {
                    None
                } else {
                    Some(integer(k, &v, u64::from(u32::MAX))? as u32)
                }
            }
            "stableAfter" => o.stable_after = millis(k, &v)?,
            "connectTimeout" => o.connect_timeout = millis(k, &v)?,
            "shouldRetry" => {
                let f = v
                    .dyn_ref::<js_sys::Function>()
                    .ok_or_else(|| type_error(k, "a function (event) => boolean", &v))?;
                o.should_retry = Some(retry_predicate(f.clone()));
            }
            "outboxMessages" => o.outbox_messages = integer(k, &v, 1_000_000_000)? as usize,
            "outboxBytes" => o.outbox_bytes = integer(k, &v, u64::from(u32::MAX))? as usize,
            "overflow" => {
                o.overflow = match v.as_string().as_deref() {
                    Some("reject") => Overflow::Reject,
                    Some("drop-oldest") => Overflow::DropOldest,
                    Some("drop-newest") => Overflow::DropNewest,
                    _ => {
                        return Err(type_error(
                            k,
                            "\"reject\" | \"drop-oldest\" | \"drop-newest\"",
                            &v,
                        ))
                    }
                }
            }
            "heartbeat" => o.heartbeat = heartbeat(&v)?,
            "highWaterMark" => o.high_water_mark = integer(k, &v, u64::from(u32::MAX))? as u32,
            "maxMessageBytes" => {
                o.max_message_bytes = if v.is_null() {
                    None
                } else {
                    Some(integer(k, &v, u64::from(u32::MAX))? as usize)
                }
            }
            "secureOnly" => o.secure_only = boolean(k, &v)?,
            "jitterSeed" => o.jitter_seed = Some(integer(k, &v, 9_007_199_254_740_991)? as u64),
            _ => return Err(unknown(k, KEYS)),
        }
    }
    if o.backoff.max < o.backoff.initial {
        return Err(type_error(
            "maxDelay",
            &format!(">= minDelay ({} ms)", o.backoff.initial.as_millis() as u64),
            &JsValue::from(o.backoff.max.as_millis() as f64),
        ));
    }
    Ok(settings)
}
