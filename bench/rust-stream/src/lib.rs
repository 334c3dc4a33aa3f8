//! Benchmark client: resocket's reconnecting `ReSocket` read as a typed JSON `Stream`
//! (`resocket::Typed` + `resocket::Json`), the way a Yew or Leptos app would use it.
//! Driven by `bench/pages/clients/rust-stream.js`; the `minimal` feature builds only a small
//! consumer, used for the size comparison.

#[cfg(not(feature = "minimal"))]
mod harness;

#[cfg(feature = "minimal")]
mod minimal {
    use futures::{SinkExt, StreamExt};
    use resocket::{Json, Options, ReSocket, Typed};
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
    /// `on_item`, reconnecting on failure.
    #[wasm_bindgen]
    pub async fn run(url: String, on_item: js_sys::Function) -> Result<(), JsValue> {
        let socket = ReSocket::connect(&url, Options::default())
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        let mut typed: Typed<Item, Hello, _, _> = Typed::new(socket, Json);
        typed
            .feed(Hello { r#type: "hello" })
            .await
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        while let Some(item) = typed.next().await {
            if let Ok(item) = item {
                let _ = on_item.call2(&JsValue::NULL, &(item.seq as f64).into(), &item.v.into());
            }
        }
        Ok(())
    }
}
