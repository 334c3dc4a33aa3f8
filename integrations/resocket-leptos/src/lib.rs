//! # resocket-leptos
//!
//! A typed, reconnecting WebSocket for [Leptos](https://leptos.dev) 0.8 components, built on
//! [`resocket::ReSocket`]: signals for the latest message, the connection state and the
//! counters, and a `send` that queues while the link is down.
//!
//! ```no_run
//! use leptos::prelude::*;
//! use resocket_leptos::{use_resocket, Options};
//!
//! #[derive(Clone, serde::Deserialize)]
//! struct Tick { seq: u64, symbol: String, price: f64 }
//!
//! #[component]
//! fn Ticker() -> impl IntoView {
//!     let feed = use_resocket::<Tick, ()>("wss://example.com/ws/ticker", Options::default());
//!     view! {
//!         <span class=move || feed.state.get().name()>{move || feed.state.get().name()}</span>
//!         {move || feed.message.get().map(|t| format!("{} {:.2}", t.symbol, t.price))}
//!     }
//! }
//! ```
//!
//! Cleanup is tied to the component: when its reactive owner is cleaned up (the component
//! unmounts), the socket is closed with code 1000, the task that feeds the signals is aborted,
//! and every browser listener resocket installed is removed ([`resocket::live_listeners`]
//! returns to where it was).
//!
//! Messages are JSON ([`resocket::Json`]): incoming text/binary messages decode into `In`,
//! values passed to [`UseResocket::send`] encode from `Out`. A message that fails to decode
//! sets [`UseResocket::error`] and the stream goes on.
//!
//! This crate builds for `wasm32-unknown-unknown` only, like [`resocket::ReSocket`].
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

use std::fmt;
use std::marker::PhantomData;

use futures_util::future::{abortable, AbortHandle};
use futures_util::stream::{self, StreamExt};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{de::DeserializeOwned, Serialize};

pub use resocket::{self, Error, Event, Options, ReSocket, State, Stats};
use resocket::{Codec, Events, Json, Typed};

/// What [`use_resocket`] returns: signals that follow the socket, and methods to use it.
///
/// It is `Copy` (every field is an arena handle), so move it into as many closures of the
/// view as you like. The signals stop changing once the component is cleaned up.
pub struct UseResocket<In: 'static, Out: 'static> {
    /// The latest message received and decoded, `None` until the first one.
    pub message: ReadSignal<Option<In>>,
    /// The connection state: `connecting`, `open`, `reconnecting`, `offline`, `closed` or
    /// `failed` (see [`State::name`], handy as a CSS class).
    pub state: ReadSignal<State>,
    /// The socket's counters, refreshed on every message, event and send. `outbox_len` says
    /// how many sends wait for the next connection; `reconnects` counts reconnections.
    pub stats: ReadSignal<Stats>,
    /// The latest error: a message that did not decode, an oversize message, an invalid URL.
    /// It stays until the next error; compare with `state` to decide what to show.
    pub error: ReadSignal<Option<Error>>,
    set_stats: WriteSignal<Stats>,
    socket: StoredValue<Option<ReSocket>, LocalStorage>,
    _out: PhantomData<fn(Out)>,
}

impl<In, Out> Clone for UseResocket<In, Out> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<In, Out> Copy for UseResocket<In, Out> {}

impl<In, Out> fmt::Debug for UseResocket<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UseResocket")
            .field("state", &self.state.try_get_untracked())
            .field("stats", &self.stats.try_get_untracked())
            .finish_non_exhaustive()
    }
}

impl<In, Out: Serialize> UseResocket<In, Out> {
    /// Encodes `value` as JSON and sends it: at once when open, else it waits in the outbox
    /// and goes out, in order, on the next connection (see [`ReSocket::send`]).
    ///
    /// Errors: `Encode` when the value does not serialize, `OutboxFull` when the outbox is
    /// full, `Closed`/`Failed` after the end (including after the component was cleaned up).
    ///
    /// ```no_run
    /// # fn demo(chat: resocket_leptos::UseResocket<String, String>) {
    /// if let Err(error) = chat.send("hello".to_string()) {
    ///     leptos::logging::warn!("not sent: {error}");
    /// }
    /// # }
    /// ```
    pub fn send(&self, value: Out) -> Result<(), Error> {
        let message = Json.encode(&value)?;
        let stats = self.with_socket(|socket| socket.send(message).map(|()| socket.stats()))?;
        self.set_stats.try_set(stats);
        Ok(())
    }
}

impl<In, Out> UseResocket<In, Out> {
    /// Forces a fresh attempt now, with the backoff reset (see [`ReSocket::reconnect`]).
    ///
    /// ```no_run
    /// # fn demo(feed: resocket_leptos::UseResocket<u32, ()>) {
    /// feed.reconnect();
    /// # }
    /// ```
    pub fn reconnect(&self) {
        let _ = self.with_socket(|socket| {
            socket.reconnect();
            Ok(())
        });
    }

    /// Closes for good (code 1000) before the component goes away; returns how many queued
    /// messages were never sent. Cleanup does this by itself.
    ///
    /// ```no_run
    /// # fn demo(feed: resocket_leptos::UseResocket<u32, ()>) {
    /// let unsent = feed.close().unwrap_or(0);
    /// # }
    /// ```
    pub fn close(&self) -> Result<usize, Error> {
        self.with_socket(|socket| socket.close(Some(1000), None).map(|unsent| unsent.len()))
    }

    fn with_socket<T>(&self, f: impl FnOnce(&ReSocket) -> Result<T, Error>) -> Result<T, Error> {
        self.socket
            .try_with_value(|socket| match socket {
                Some(socket) => f(socket),
                None => Err(gone()),
            })
            .unwrap_or_else(|| Err(gone()))
    }
}

/// The error for a socket that never started or whose component is gone.
fn gone() -> Error {
    Error::Closed {
        code: None,
        reason: "the component owning this socket was cleaned up or never connected".into(),
    }
}

/// Opens a reconnecting socket to `url` for the current component; see [`UseResocket`].
///
/// `In` is what the server sends (decoded from JSON), `Out` what you send (use `()` if you
/// send nothing). Call it inside a component (it needs the reactive owner for cleanup). An
/// invalid URL does not panic: the state starts as `Failed` and `error` says why.
///
/// ```no_run
/// # use leptos::prelude::*;
/// # #[derive(Clone, serde::Deserialize)] struct Tick { seq: u64 }
/// let feed = resocket_leptos::use_resocket::<Tick, ()>(
///     "ws://127.0.0.1:8080/ws/ticker",
///     resocket_leptos::Options::default().max_retries(20),
/// );
/// let latest_seq = move || feed.message.get().map(|t| t.seq);
/// ```
pub fn use_resocket<In, Out>(url: &str, options: Options) -> UseResocket<In, Out>
where
    In: DeserializeOwned + Send + Sync + 'static,
    Out: 'static,
{
    use_resocket_with(url, options, |_: &In| {})
}

/// Like [`use_resocket`], and also calls `on_message` with every decoded message, in order.
///
/// Use it to keep a history (a chat log, a price board): the `message` signal holds only the
/// latest value, and several messages arriving between two renders would otherwise be seen
/// as one.
///
/// ```no_run
/// # use leptos::prelude::*;
/// # #[derive(Clone, serde::Deserialize)] struct Tick { symbol: String, price: f64 }
/// let board = RwSignal::new(std::collections::BTreeMap::<String, f64>::new());
/// let feed = resocket_leptos::use_resocket_with::<Tick, ()>(
///     "ws://127.0.0.1:8080/ws/ticker",
///     resocket_leptos::Options::default(),
///     move |tick| board.update(|b| { b.insert(tick.symbol.clone(), tick.price); }),
/// );
/// ```
pub fn use_resocket_with<In, Out>(
    url: &str,
    options: Options,
    on_message: impl Fn(&In) + 'static,
) -> UseResocket<In, Out>
where
    In: DeserializeOwned + Send + Sync + 'static,
    Out: 'static,
{
    let (message, set_message) = signal(None::<In>);
    let (stats, set_stats) = signal(Stats::default());
    let (error, set_error) = signal(None::<Error>);
    let connected = ReSocket::connect(url, options);
    let (state, set_state) = signal(match &connected {
        Ok(socket) => socket.state(),
        Err(err) => State::Failed {
            reason: err.to_string(),
        },
    });
    let socket = match connected {
        Ok(socket) => socket,
        Err(err) => {
            set_error.set(Some(err));
            return UseResocket {
                message,
                state,
                stats,
                error,
                set_stats,
                socket: StoredValue::new_local(None),
                _out: PhantomData,
            };
        }
    };
    // Subscribed now, before the first attempt (which starts on the next microtask).
    let events = socket.events();
    let feed = Feed {
        socket: socket.clone(),
        set_message,
        set_state,
        set_stats,
        set_error,
    };
    let (task, abort) = abortable(feed.run(events, on_message));
    spawn_local(async move {
        let _ = task.await;
    });
    let stored = StoredValue::new_local(Some(socket));
    on_cleanup(move || shutdown(stored, &abort));
    UseResocket {
        message,
        state,
        stats,
        error,
        set_stats,
        socket: stored,
        _out: PhantomData,
    }
}

/// Cleanup: closes the socket and drops the handle, then stops the task feeding the signals
/// (which drops the last handle, so the socket's listeners go away with it).
fn shutdown(stored: StoredValue<Option<ReSocket>, LocalStorage>, abort: &AbortHandle) {
    if let Some(Some(socket)) = stored.try_update_value(Option::take) {
        let _ = socket.close(Some(1000), Some("unmounted"));
    }
    abort.abort();
}

/// The task that turns the socket's messages and events into signal updates.
struct Feed<In: 'static> {
    socket: ReSocket,
    set_message: WriteSignal<Option<In>>,
    set_state: WriteSignal<State>,
    set_stats: WriteSignal<Stats>,
    set_error: WriteSignal<Option<Error>>,
}

enum Incoming<In> {
    Message(Result<In, Error>),
    Event(Event),
}

impl<In: DeserializeOwned + Send + Sync + 'static> Feed<In> {
    async fn run(self, events: Events, on_message: impl Fn(&In)) {
        let messages = Typed::<In, (), Json, ReSocket>::new(self.socket.clone(), Json);
        let mut incoming =
            stream::select(messages.map(Incoming::Message), events.map(Incoming::Event));
        self.sync();
        while let Some(item) = incoming.next().await {
            match item {
                Incoming::Message(Ok(value)) => {
                    on_message(&value);
                    self.set_message.try_set(Some(value));
                }
                Incoming::Message(Err(error)) | Incoming::Event(Event::Error(error)) => {
                    self.set_error.try_set(Some(error));
                }
                Incoming::Event(_) => {}
            }
            self.sync();
        }
    }

    /// Copies the socket's state (when it changed) and counters into the signals.
    fn sync(&self) {
        let state = self.socket.state();
        self.set_state.try_maybe_update(|current| {
            let changed = *current != state;
            if changed {
                *current = state;
            }
            (changed, ())
        });
        self.set_stats.try_set(self.socket.stats());
    }
}
