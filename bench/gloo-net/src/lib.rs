//! Benchmark client: gloo-net's `WebSocket` read as a `Stream` and decoded with serde_json, the
//! Rust/wasm peer in ANCHORS.md (one socket, no reconnect). Driven by
//! `bench/pages/clients/gloo-net.js`; the `minimal` feature builds only a small consumer, used
//! for the size comparison.

#[cfg(not(feature = "minimal"))]
mod harness;

#[cfg(feature = "minimal")]
mod minimal {
    use futures::{SinkExt, StreamExt};
    use gloo_net::websocket::{futures::WebSocket, Message};
    use serde::{Deserialize, Serialize};
    use wasm_bindgen::prelude::*;

    #[derive(Deserialize)]
    struct Item {
        #[serde(default)]
        seq: u64,
        #[serde(default)]
        v: String,
    }

    #[derive(Serialize)]
    struct Hello<'a> {
        r#type: &'a str,
    }

    /// Connects, sends one typed message and hands every decoded item's `seq` and `v` to
    /// `on_item`.
    #[wasm_bindgen]
    pub async fn run(url: String, on_item: js_sys::Function) -> Result<(), JsValue> {
        let mut ws = WebSocket::open(&url).map_err(|e| JsValue::from_str(&e.to_string()))?;
        let hello = serde_json::to_string(&Hello { r#type: "hello" })
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        ws.feed(Message::Text(hello))
            .await
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        while let Some(Ok(message)) = ws.next().await {
            let decoded = match &message {
                Message::Text(text) => serde_json::from_str::<Item>(text),
                Message::Bytes(bytes) => serde_json::from_slice::<Item>(bytes),
            };
            if let Ok(item) = decoded {
                let _ = on_item.call2(&JsValue::NULL, &(item.seq as f64).into(), &item.v.into());
            }
        }
        Ok(())
    }
}
