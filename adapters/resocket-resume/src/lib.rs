//! The server side of the resocket resume protocol (`docs/PROTOCOL.md`, subprotocol
//! [`PROTOCOL`]): exactly-once, in-order delivery of text and binary messages in both
//! directions across reconnects, for axum and anything over tokio-tungstenite.
//!
//! The handler uses a [`ResumeSocket`] in place of the raw WebSocket. Sessions live in a
//! [`SessionStore`]: [`MemoryStore`] (default, one node) or `RedisStore` (feature `redis`, any
//! number of nodes, Rust or Node: `docs/PROTOCOL.md` section 9c). [`Origins`] is the `Origin` allowlist; [`Limits`] bound what a client can
//! make the server keep.
//!
//! ```no_run
//! use axum::{extract::{State, WebSocketUpgrade}, http::{HeaderMap, StatusCode},
//!            response::{IntoResponse, Response}, routing::get, Router};
//! use resocket_resume::{origin_of, Config, Incoming, Origins, Resume, PROTOCOL};
//!
//! async fn ws(State(resume): State<Resume>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
//!     let origin = origin_of(&headers).map(str::to_owned);
//!     if resume.check_origin(origin.as_deref()).is_err() {
//!         return StatusCode::FORBIDDEN.into_response();
//!     }
//!     ws.protocols([PROTOCOL]).on_upgrade(move |socket| async move {
//!         let Ok(mut s) = resume.accept(socket, origin.as_deref()).await else { return };
//!         while let Some(Incoming::Message(m)) = s.recv().await {
//!             if s.send(m).await.is_err() { break } // echo
//!         }
//!     })
//! }
//!
//! # async fn main_() {
//! let resume = Resume::memory(Config { origins: Origins::new(["https://app.example"]), ..Config::default() });
//! let app: Router = Router::new().route("/ws", get(ws)).with_state(resume);
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

mod error;
mod frame;
mod message;
mod origin;
#[cfg(feature = "redis")]
mod redis_store;
mod session;
mod socket;
mod wire;

pub use crate::error::{Error, Result};
pub use crate::frame::{
    decode_text, encode_app_text, Control, Frame, MAX_CONTROL_BYTES, MAX_SEQ, PROTOCOL,
};
pub use crate::message::{Incoming, Message};
pub use crate::origin::Origins;
#[cfg(feature = "redis")]
pub use crate::redis_store::RedisStore;
pub use crate::session::{
    BoxFuture, Limits, MemoryStore, Opened, Overflow, SessionId, SessionStore,
};
pub use crate::socket::{Config, Resume, ResumeSocket};
pub use crate::wire::{Wire, WireMessage};

/// The `Origin` header of an upgrade request, if present and visible ASCII.
#[cfg(feature = "axum")]
pub fn origin_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
}
