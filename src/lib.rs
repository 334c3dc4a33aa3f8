//! # resocket
//!
//! A WebSocket client for Rust/wasm frontends and JavaScript apps that survives flaky networks:
//! the browser `WebSocket` as a typed async `Stream`/`Sink`.
//!
//! A typed round trip, in five lines:
//!
//! ```no_run
//! # #[cfg(target_arch = "wasm32")]
//! # async fn demo() -> Result<(), resocket::Error> {
//! use futures::{SinkExt, StreamExt};
//! let conn = resocket::Connection::open("ws://127.0.0.1:8080/ws/echo")?;
//! let mut socket = resocket::Typed::<Vec<u32>, Vec<u32>, _, _>::new(conn, resocket::Json);
//! socket.send(vec![1, 2, 3]).await?;
//! assert_eq!(socket.next().await, Some(Ok(vec![1, 2, 3])));
//! # Ok(()) }
//! ```
//!
//! ## Layers
//! - [`Connection`]: exactly one browser `WebSocket` (wasm32 only), a `Stream` of
//!   [`Message`]s and a `Sink` with real backpressure (`poll_ready` waits while connecting and
//!   above a `bufferedAmount` high-water mark, `poll_flush` waits for `bufferedAmount == 0`).
//! - [`ReSocket`]: the long-lived, reconnecting handle (wasm32 only): the same `Stream`/`Sink`
//!   surviving drops, restarts and flaky networks, with [`Options`] for backoff, outbox,
//!   heartbeat and close policy. Its whole lifecycle is one pure, sans-IO state machine that the
//!   browser driver feeds and obeys, checked natively by a deterministic simulator.
//! - [`Typed`] with a [`Codec`] ([`Json`] by default): user types in and out; a decode failure is
//!   an `Err` item, never a panic and never the end of the stream.
//! - Pure policy functions ([`validate_close`], [`default_should_retry`], [`validate_url`],
//!   [`redact_url`]) that also build and test natively.
//!
//! ## Threads
//! Browser objects are `!Send`; so are the handles here. Use them from `spawn_local` tasks on
//! the thread that created them. resocket never wraps them in a panicking `SendWrapper`.
#![no_std]
// No unsafe code, but for the npm engine's wasm exports (feature `js`, src/js/abi.rs: the
// `#[export_name]`s and the one static they share).
#![cfg_attr(not(feature = "js"), forbid(unsafe_code))]
#![cfg_attr(feature = "js", deny(unsafe_code))]
#![deny(missing_docs, missing_debug_implementations)]
// The npm package's engine (feature `npm`) is the machine driven by its JavaScript class: what
// only the Rust driver (or, without `resume`, the resume protocol) reaches is dead in that build
// alone. Every other build checks for dead code.
#![cfg_attr(all(target_arch = "wasm32", feature = "npm"), allow(dead_code))]

extern crate alloc;
// The crate needs only `core` and `alloc`. Every build but the npm package's own wasm (feature
// `npm`, release: debug assertions off) links std as usual: an app links it anyway, and it
// brings the panic handler. The npm build has its own (below) and so links no std at all.
// Debug builds link std even with `npm`: `--all-features --all-targets` checks build the tests,
// whose dev-dependencies link std, and two panic handlers do not link.
#[cfg(not(any(
    test,
    all(
        target_arch = "wasm32",
        feature = "npm",
        not(target_feature = "atomics"),
        not(debug_assertions)
    )
)))]
extern crate std;
#[cfg(test)]
#[macro_use]
extern crate std;

mod backoff;
mod close;
mod codec;
mod error;
mod events;
mod heartbeat;
#[cfg(feature = "json")]
mod json;
// The machine's driver is wasm32-only; natively the tests and the simulator drive it.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod machine;
mod message;
mod options;
mod outbox;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
// Without the `resume` feature no session can exist (`resume::On` has no value): the module
// still compiles, but every path through it is dead, and the compiler says so.
#[cfg_attr(not(feature = "resume"), allow(unreachable_code, unused_variables))]
mod resume;
#[cfg(test)]
mod sim;
mod text;
mod typed;
mod url;

// The Rust driver (the browser glue of `ReSocket` and `Connection`): on wasm32, but not in the
// npm package's own wasm (feature `npm`), whose engine is driven by its JavaScript class and
// must link neither wasm-bindgen nor js-sys (see src/js/abi.rs).
#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
mod connection;
#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
mod inbox;
#[cfg(all(target_arch = "wasm32", feature = "js"))]
mod js;
#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
mod resocket;
#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
mod socket;
#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
mod sys;

pub use backoff::{Backoff, Jitter};
/// Default high-water mark of `bufferedAmount` above which a `Sink` waits: 1 MiB.
pub const DEFAULT_HIGH_WATER_MARK: u32 = 1 << 20;

pub use close::{default_should_retry, validate_close, MAX_CLOSE_REASON_BYTES};
pub use codec::Codec;
#[cfg(feature = "json")]
pub use codec::Json;
pub use error::{Error, Result};
pub use events::{Event, State, Stats};
pub use message::{CloseEvent, Message, ReadyState};
pub use options::{Fallback, Heartbeat, OnReconnect, Options, Resume, RetryPredicate, UrlFuture};
pub use outbox::Overflow;
pub use typed::Typed;
pub use url::{redact_url, validate_url};

#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
pub use connection::{ConnectOptions, Connection, Receiver, Sender};
#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
pub use resocket::{Events, ReSocket};
#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
pub use sys::live_listeners;

/// The npm package's allocator (feature `npm`): smaller than dlmalloc in the wasm.
#[cfg(all(
    target_arch = "wasm32",
    feature = "npm",
    not(target_feature = "atomics"),
    not(test)
))]
#[global_allocator]
static ALLOCATOR: js::heap::Heap = js::heap::Heap::new();

/// The npm package's panic handler (feature `npm`, release builds): the wasm traps
/// (`unreachable`), which JS sees as a `RuntimeError`, like a panic under std's
/// `panic = "abort"`, but without std's panic machinery (hook, message formatting, file paths)
/// in the wasm.
#[cfg(all(
    target_arch = "wasm32",
    feature = "npm",
    not(target_feature = "atomics"),
    not(test),
    not(debug_assertions)
))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
