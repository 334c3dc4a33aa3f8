//! The measurements, as async exports the page awaits: `open`, `flood`, `echo`, `close`,
//! `first_message`, `cycles` and `memory_bytes`. gloo-net has no reconnect: no recovery
//! measurement, and `cycles` reconnects the way an app has to (close, open a new socket).
//! Mirrors bench/rust-stream/src/harness.rs line for line where the APIs allow.

use std::cell::RefCell;

use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message, State};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// See bench/rust-stream/src/harness.rs.
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

thread_local! {
    static HELD: RefCell<Option<WebSocket>> = const { RefCell::new(None) };
    static URL: RefCell<String> = const { RefCell::new(String::new()) };
}

fn err(e: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&e.to_string()).into()
}

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .expect("performance")
        .now()
}

fn take() -> Result<WebSocket, JsValue> {
    HELD.with(|h| h.borrow_mut().take())
        .ok_or_else(|| err("no socket: call open() first"))
}

fn put(ws: WebSocket) {
    HELD.with(|h| *h.borrow_mut() = Some(ws));
}

/// The typed receive step: the next message decoded as an `Item`.
async fn next_item(ws: &mut WebSocket) -> Result<Item, JsValue> {
    match ws.next().await {
        Some(Ok(Message::Text(text))) => serde_json::from_str(&text).map_err(err),
        Some(Ok(Message::Bytes(bytes))) => serde_json::from_slice(&bytes).map_err(err),
        Some(Err(e)) => Err(err(e)),
        None => Err(err("stream ended")),
    }
}

fn encode(ping: &Ping) -> Result<Message, JsValue> {
    serde_json::to_string(ping).map(Message::Text).map_err(err)
}

/// Connects and resolves once open (the Sink's `poll_ready` waits while connecting).
#[wasm_bindgen]
pub async fn open(url: String) -> Result<(), JsValue> {
    put(connect(&url).await?);
    URL.with(|u| *u.borrow_mut() = url);
    Ok(())
}

async fn connect(url: &str) -> Result<WebSocket, JsValue> {
    let mut ws = WebSocket::open(url).map_err(err)?;
    futures::future::poll_fn(|cx| ws.poll_ready_unpin(cx))
        .await
        .map_err(err)?;
    if !matches!(ws.state(), State::Open) {
        return Err(err("the socket did not open"));
    }
    Ok(ws)
}

/// See bench/rust-stream/src/harness.rs `flood`.
#[wasm_bindgen]
pub async fn flood() -> Result<f64, JsValue> {
    let mut ws = take()?;
    ws.feed(Message::Text("go".into())).await.map_err(err)?;
    let mut expected = 0u64;
    let mut bytes = 0usize;
    loop {
        let item = next_item(&mut ws).await?;
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
    put(ws);
    std::hint::black_box(bytes);
    Ok(expected as f64)
}

/// See bench/rust-stream/src/harness.rs `echo`.
#[wasm_bindgen]
pub async fn echo(n: u32) -> Result<Vec<f64>, JsValue> {
    let mut ws = take()?;
    let mut rtts = Vec::with_capacity(n as usize);
    for seq in 0..u64::from(n) {
        let t0 = now();
        ws.feed(encode(&Ping { seq, t: t0 })?).await.map_err(err)?;
        while next_item(&mut ws).await?.seq != seq {}
        rtts.push(now() - t0);
    }
    put(ws);
    Ok(rtts)
}

/// Closes the held socket.
#[wasm_bindgen]
pub fn close() -> Result<(), JsValue> {
    take()?.close(None, None).map_err(err)
}

/// Connects and resolves with the first decoded message.
#[wasm_bindgen]
pub async fn first_message(url: String) -> Result<f64, JsValue> {
    let mut ws = WebSocket::open(&url).map_err(err)?;
    let item = next_item(&mut ws).await?;
    ws.close(None, None).map_err(err)?;
    Ok(item.seq as f64)
}

/// `n` app-level reconnects: close the socket, open a new one to the same URL, one echo.
#[wasm_bindgen]
pub async fn cycles(n: u32) -> Result<(), JsValue> {
    let url = URL.with(|u| u.borrow().clone());
    let mut ws = take()?;
    for seq in 0..u64::from(n) {
        ws.close(None, None).map_err(err)?;
        ws = connect(&url).await?;
        ws.feed(encode(&Ping { seq, t: 0.0 })?).await.map_err(err)?;
        while next_item(&mut ws).await?.seq != seq {}
    }
    put(ws);
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
