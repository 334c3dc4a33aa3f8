//! The measurements, as async exports the page awaits: `open`, `flood`, `echo`, `close`,
//! `first_message`, `watch`/`watch_log` (recovery after a server restart), `cycles` (forced
//! reconnects) and `memory_bytes`. One socket at a time, kept between calls.

use std::cell::{Cell, RefCell};

use futures::{SinkExt, StreamExt};
use resocket::{Event, Events, Json, Options, ReSocket, Typed};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A flood message `{"seq":N,"v":"xx.."}`, the final `{"type":"done","count":N}`, or an echoed
/// ping `{"seq":N,"t":T}`: one struct, decoded the way an app decodes its messages.
#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    v: String,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    count: u64,
}

#[derive(Serialize)]
struct Ping {
    seq: u64,
    t: f64,
}

type Socket = Typed<Item, Ping, Json, ReSocket>;

struct Held {
    socket: Socket,
    events: Events,
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
    static LOG: RefCell<Vec<(&'static str, f64, f64)>> = const { RefCell::new(Vec::new()) };
    static LAST_MESSAGE: Cell<f64> = const { Cell::new(0.0) };
}

fn err(e: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&e.to_string()).into()
}

fn performance() -> web_sys::Performance {
    web_sys::window()
        .and_then(|w| w.performance())
        .expect("performance")
}

fn now() -> f64 {
    performance().now()
}

/// Milliseconds since the epoch with sub-millisecond precision (comparable with the driver's
/// `performance.timeOrigin + performance.now()` on the same machine).
fn epoch() -> f64 {
    let p = performance();
    p.time_origin() + p.now()
}

fn take() -> Result<Held, JsValue> {
    HELD.with(|h| h.borrow_mut().take())
        .ok_or_else(|| err("no socket: call open() first"))
}

fn put(held: Held) {
    HELD.with(|h| *h.borrow_mut() = Some(held));
}

async fn wait_open(events: &mut Events) -> Result<(), JsValue> {
    while let Some(event) = events.next().await {
        match event {
            Event::Open { .. } => return Ok(()),
            Event::Failed { reason } => return Err(err(reason)),
            _ => {}
        }
    }
    Err(err("the event stream ended before open"))
}

/// Connects with the default options and resolves once open.
#[wasm_bindgen]
pub async fn open(url: String) -> Result<(), JsValue> {
    let socket = ReSocket::connect(&url, Options::default()).map_err(err)?;
    let mut events = socket.events();
    wait_open(&mut events).await?;
    put(Held {
        socket: Typed::new(socket, Json),
        events,
    });
    Ok(())
}

/// Sends `go` to a `/ws/flood?wait=1` socket, decodes every message until the `done` marker
/// and checks that the sequence numbers run 0, 1, 2, ...; returns the count.
#[wasm_bindgen]
pub async fn flood() -> Result<f64, JsValue> {
    let mut held = take()?;
    held.socket.get_ref().send("go").map_err(err)?;
    let mut expected = 0u64;
    let mut bytes = 0usize;
    while let Some(item) = held.socket.next().await {
        let item = item.map_err(err)?;
        if item.kind.is_some() {
            if item.count != expected {
                return Err(err(format!(
                    "done after {expected}, server sent {}",
                    item.count
                )));
            }
            break;
        }
        if item.seq != expected {
            return Err(err(format!("expected seq {expected}, got {}", item.seq)));
        }
        expected += 1;
        bytes += item.v.len();
    }
    put(held);
    std::hint::black_box(bytes);
    Ok(expected as f64)
}

/// `n` sequential typed round trips on a `/ws/echo` socket; returns each in ms.
#[wasm_bindgen]
pub async fn echo(n: u32) -> Result<Vec<f64>, JsValue> {
    let mut held = take()?;
    let mut rtts = Vec::with_capacity(n as usize);
    for seq in 0..u64::from(n) {
        let t0 = now();
        // `feed`, not `send`: `send` also flushes, which waits for bufferedAmount to reach 0.
        held.socket.feed(Ping { seq, t: t0 }).await.map_err(err)?;
        loop {
            match held.socket.next().await {
                Some(Ok(item)) if item.seq == seq => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(err(e)),
                None => return Err(err("stream ended")),
            }
        }
        rtts.push(now() - t0);
    }
    put(held);
    Ok(rtts)
}

/// Closes the held socket.
#[wasm_bindgen]
pub fn close() -> Result<(), JsValue> {
    let held = take()?;
    held.socket.get_ref().close(None, None).map_err(err)?;
    Ok(())
}

/// Connects and resolves with the first decoded message (the page times the whole call,
/// including the wasm start-up before it).
#[wasm_bindgen]
pub async fn first_message(url: String) -> Result<f64, JsValue> {
    let socket = ReSocket::connect(&url, Options::default()).map_err(err)?;
    let mut typed: Socket = Typed::new(socket, Json);
    let item = typed
        .next()
        .await
        .ok_or_else(|| err("stream ended"))?
        .map_err(err)?;
    typed.get_ref().close(None, None).map_err(err)?;
    Ok(item.seq as f64)
}

/// Connects to a stream (a fast ticker) and logs, until `close()`: each scheduled retry
/// (`sched`, epoch ms, delay ms), each open, each disconnect, and the first message after a gap
/// of more than 50 ms (`msg`). Resolves once the first connection is open.
#[wasm_bindgen]
pub async fn watch(url: String) -> Result<(), JsValue> {
    LOG.with(|l| l.borrow_mut().clear());
    let socket = ReSocket::connect(&url, Options::default()).map_err(err)?;
    let mut events = socket.events();
    let mut log_events = socket.events();
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(event) = log_events.next().await {
            let entry = match event {
                Event::Reconnecting { delay, .. } => ("sched", epoch(), delay.as_secs_f64() * 1e3),
                Event::Open { .. } => ("open", epoch(), 0.0),
                Event::Disconnected { code, .. } => ("disc", epoch(), f64::from(code)),
                _ => continue,
            };
            LOG.with(|l| l.borrow_mut().push(entry));
        }
    });
    let mut messages = socket.clone();
    wasm_bindgen_futures::spawn_local(async move {
        while let Some(item) = messages.next().await {
            if item.is_err() {
                continue;
            }
            let t = epoch();
            if t - LAST_MESSAGE.get() > 50.0 {
                LOG.with(|l| l.borrow_mut().push(("msg", t, 0.0)));
            }
            LAST_MESSAGE.set(t);
        }
    });
    wait_open(&mut events).await?;
    put(Held {
        socket: Typed::new(socket, Json),
        events,
    });
    Ok(())
}

/// The `watch` log as JSON: `[[kind, epoch_ms, value], ...]`.
#[wasm_bindgen]
pub fn watch_log() -> String {
    LOG.with(|l| {
        let entries: Vec<String> = l
            .borrow()
            .iter()
            .map(|(k, t, d)| format!("[\"{k}\",{t},{d}]"))
            .collect();
        format!("[{}]", entries.join(","))
    })
}

/// `n` forced reconnects of the held socket (`ReSocket::reconnect`), each waiting for the new
/// socket to open and for one echoed message.
#[wasm_bindgen]
pub async fn cycles(n: u32) -> Result<(), JsValue> {
    let mut held = take()?;
    for seq in 0..u64::from(n) {
        held.socket.get_ref().reconnect();
        wait_open(&mut held.events).await?;
        held.socket.feed(Ping { seq, t: 0.0 }).await.map_err(err)?;
        loop {
            match held.socket.next().await {
                Some(Ok(item)) if item.seq == seq => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(err(e)),
                None => return Err(err("stream ended")),
            }
        }
    }
    put(held);
    Ok(())
}

/// Bytes of wasm linear memory (it only grows).
#[wasm_bindgen]
pub fn memory_bytes() -> f64 {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as f64
}
