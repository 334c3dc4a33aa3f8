//! # resocket-yew
//!
//! A typed, reconnecting WebSocket for [Yew](https://yew.rs) 0.23 function components, built on
//! [`resocket::ReSocket`]: a hook whose handle carries the latest message, the connection state
//! and the counters (each change re-renders the component), and a `send` that queues while the
//! link is down.
//!
//! ```no_run
//! use yew::prelude::*;
//! use resocket_yew::{use_resocket, Options};
//!
//! #[derive(serde::Deserialize)]
//! struct Tick { seq: u64, symbol: String, price: f64 }
//!
//! #[component]
//! fn Ticker() -> Html {
//!     let feed = use_resocket::<Tick, ()>("wss://example.com/ws/ticker", Options::default());
//!     html! {
//!         <p class={feed.state.name()}>
//!             { feed.message.as_ref().map(|t| format!("{} {:.2}", t.symbol, t.price)) }
//!         </p>
//!     }
//! }
//! ```
//!
//! Cleanup is tied to the component: when it unmounts (or `url` changes), the socket is closed
//! with code 1000, the task that feeds the handle is aborted, and every browser listener
//! resocket installed is removed ([`resocket::live_listeners`] returns to where it was).
//!
//! Messages are JSON ([`resocket::Json`]): incoming text/binary messages decode into `In`,
//! values passed to [`UseResocketHandle::send`] encode from `Out`. A message that fails to
//! decode sets [`UseResocketHandle::error`] and the stream goes on.
//!
//! This crate builds for `wasm32-unknown-unknown` only, like [`resocket::ReSocket`].
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::rc::Rc;

use futures_util::future::{abortable, AbortHandle};
use futures_util::stream::{self, StreamExt};
use serde::{de::DeserializeOwned, Serialize};
use yew::platform::spawn_local;
use yew::prelude::*;

pub use resocket::{self, Error, Event, Options, ReSocket, State, Stats};
use resocket::{Codec, Events, Json, Typed};

/// What [`use_resocket`] returns for one render: the socket's latest message, state, counters
/// and error as plain values, and methods to use the socket.
///
/// Cloning is cheap; a clone moved into a callback keeps working across renders (it always
/// talks to the component's current socket).
pub struct UseResocketHandle<In, Out> {
    /// The latest message received and decoded, `None` until the first one.
    pub message: Option<Rc<In>>,
    /// The connection state: `connecting`, `open`, `reconnecting`, `offline`, `closed` or
    /// `failed` (see [`State::name`], handy as a CSS class).
    pub state: State,
    /// The socket's counters, refreshed on every message, event and send. `outbox_len` says
    /// how many sends wait for the next connection; `reconnects` counts reconnections.
    pub stats: Stats,
    /// The latest error: a message that did not decode, an oversize message, an invalid URL.
    /// It stays until the next error; compare with `state` to decide what to show.
    pub error: Option<Error>,
    socket: Rc<RefCell<Option<ReSocket>>>,
    set_stats: UseStateSetter<Stats>,
    _out: PhantomData<fn(Out)>,
}

impl<In, Out> Clone for UseResocketHandle<In, Out> {
    fn clone(&self) -> Self {
        UseResocketHandle {
            message: self.message.clone(),
            state: self.state.clone(),
            stats: self.stats.clone(),
            error: self.error.clone(),
            socket: Rc::clone(&self.socket),
            set_stats: self.set_stats.clone(),
            _out: PhantomData,
        }
    }
}

impl<In, Out> fmt::Debug for UseResocketHandle<In, Out> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UseResocketHandle")
            .field("state", &self.state)
            .field("stats", &self.stats)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<In, Out: Serialize> UseResocketHandle<In, Out> {
    /// Encodes `value` as JSON and sends it: at once when open, else it waits in the outbox
    /// and goes out, in order, on the next connection (see [`ReSocket::send`]).
    ///
    /// Errors: `Encode` when the value does not serialize, `OutboxFull` when the outbox is
    /// full, `Closed`/`Failed` after the end (including after the component unmounted).
    ///
    /// ```no_run
    /// # fn demo(chat: resocket_yew::UseResocketHandle<String, String>) {
    /// if let Err(error) = chat.send("hello".to_string()) {
    ///     yew::platform::spawn_local(async move { let _ = error; }); // show it somewhere
    /// }
    /// # }
    /// ```
    pub fn send(&self, value: Out) -> Result<(), Error> {
        let message = Json.encode(&value)?;
        let stats = self.with_socket(|socket| socket.send(message).map(|()| socket.stats()))?;
        self.set_stats.set(stats);
        Ok(())
    }
}

impl<In, Out> UseResocketHandle<In, Out> {
    /// Forces a fresh attempt now, with the backoff reset (see [`ReSocket::reconnect`]).
    ///
    /// ```no_run
    /// # fn demo(feed: resocket_yew::UseResocketHandle<u32, ()>) {
    /// feed.reconnect();
    /// # }
    /// ```
    pub fn reconnect(&self) {
        let _ = self.with_socket(|socket| {
            socket.reconnect();
            Ok(())
        });
    }

    /// Closes for good (code 1000) before the component unmounts; returns how many queued
    /// messages were never sent. Unmounting does this by itself.
    ///
    /// ```no_run
    /// # fn demo(feed: resocket_yew::UseResocketHandle<u32, ()>) {
    /// let unsent = feed.close().unwrap_or(0);
    /// # }
    /// ```
    pub fn close(&self) -> Result<usize, Error> {
        self.with_socket(|socket| socket.close(Some(1000), None).map(|unsent| unsent.len()))
    }

    fn with_socket<T>(&self, f: impl FnOnce(&ReSocket) -> Result<T, Error>) -> Result<T, Error> {
        // A clone, so no borrow is held while resocket runs (it never calls back synchronously,
        // but the component may re-render from a wake).
        let socket = self.socket.borrow().clone();
        match socket {
            Some(socket) => f(&socket),
            None => Err(Error::Closed {
                code: None,
                reason: "the component owning this socket unmounted or never connected".into(),
            }),
        }
    }
}

/// Opens a reconnecting socket to `url` for this component; see [`UseResocketHandle`].
///
/// `In` is what the server sends (decoded from JSON), `Out` what you send (use `()` if you
/// send nothing). The socket opens after the first render and closes on unmount; a new `url`
/// closes the old socket and opens a new one (`options` are read then). An invalid URL does
/// not panic: the state becomes `Failed` and `error` says why.
///
/// ```no_run
/// # use yew::prelude::*;
/// # #[derive(serde::Deserialize)] struct Tick { seq: u64 }
/// # #[component]
/// # fn Feed() -> Html {
/// let feed = resocket_yew::use_resocket::<Tick, ()>(
///     "ws://127.0.0.1:8080/ws/ticker",
///     resocket_yew::Options::default().max_retries(20),
/// );
/// html! { <p>{ feed.message.as_ref().map(|t| t.seq) }</p> }
/// # }
/// ```
#[hook]
pub fn use_resocket<In, Out>(url: &str, options: Options) -> UseResocketHandle<In, Out>
where
    In: DeserializeOwned + 'static,
    Out: 'static,
{
    use_resocket_with(url, options, |_: &In| {})
}

/// Like [`use_resocket`], and also calls `on_message` with every decoded message, in order.
///
/// Use it to keep a history (a chat log, a price board): the handle holds only the latest
/// message, and several messages arriving between two renders would otherwise be seen as one.
/// The closure of the latest render is the one called.
///
/// ```no_run
/// # use yew::prelude::*;
/// # #[derive(serde::Deserialize)] struct Line { text: String }
/// # #[component]
/// # fn Chat() -> Html {
/// let log = use_mut_ref(Vec::<String>::new);
/// let chat = resocket_yew::use_resocket_with::<Line, String, _>(
///     "ws://127.0.0.1:8080/ws/chat",
///     resocket_yew::Options::default(),
///     { let log = log.clone(); move |line: &Line| log.borrow_mut().push(line.text.clone()) },
/// );
/// # html! {}
/// # }
/// ```
#[hook]
pub fn use_resocket_with<In, Out, F>(
    url: &str,
    options: Options,
    on_message: F,
) -> UseResocketHandle<In, Out>
where
    In: DeserializeOwned + 'static,
    Out: 'static,
    F: Fn(&In) + 'static,
{
    let message = use_state(|| None::<Rc<In>>);
    let state = use_state_eq(|| State::Connecting { attempt: 0 });
    let stats = use_state_eq(Stats::default);
    let error = use_state_eq(|| None::<Error>);
    let socket = use_mut_ref(|| None::<ReSocket>);
    let handler = use_mut_ref(|| -> Rc<dyn Fn(&In)> { Rc::new(|_: &In| {}) });
    *handler.borrow_mut() = Rc::new(on_message);

    let setters = Setters {
        message: message.setter(),
        state: state.setter(),
        stats: stats.setter(),
        error: error.setter(),
    };
    {
        let socket = Rc::clone(&socket);
        let setters = setters.clone();
        use_effect_with(url.to_owned(), move |url| {
            let abort = start(url, options, &socket, setters, handler);
            move || shutdown(&socket, abort)
        });
    }

    UseResocketHandle {
        message: (*message).clone(),
        state: (*state).clone(),
        stats: (*stats).clone(),
        error: (*error).clone(),
        socket,
        set_stats: setters.stats,
        _out: PhantomData,
    }
}

/// The component's state setters, used by the task that follows the socket.
struct Setters<In> {
    message: UseStateSetter<Option<Rc<In>>>,
    state: UseStateSetter<State>,
    stats: UseStateSetter<Stats>,
    error: UseStateSetter<Option<Error>>,
}

impl<In> Clone for Setters<In> {
    fn clone(&self) -> Self {
        Setters {
            message: self.message.clone(),
            state: self.state.clone(),
            stats: self.stats.clone(),
            error: self.error.clone(),
        }
    }
}

type Handler<In> = Rc<RefCell<Rc<dyn Fn(&In)>>>;

/// Connects and spawns the task feeding the setters; returns its abort handle.
fn start<In: DeserializeOwned + 'static>(
    url: &str,
    options: Options,
    slot: &RefCell<Option<ReSocket>>,
    setters: Setters<In>,
    handler: Handler<In>,
) -> Option<AbortHandle> {
    let socket = match ReSocket::connect(url, options) {
        Ok(socket) => socket,
        Err(error) => {
            setters.state.set(State::Failed {
                reason: error.to_string(),
            });
            setters.error.set(Some(error));
            return None;
        }
    };
    // Subscribed now, before the first attempt (which starts on the next microtask).
    let events = socket.events();
    *slot.borrow_mut() = Some(socket.clone());
    let (task, abort) = abortable(run(socket, events, setters, handler));
    spawn_local(async move {
        let _ = task.await;
    });
    Some(abort)
}

/// Unmount: closes the socket and drops the component's handle, then stops the task (which
/// drops the last handle, so the socket's listeners go away with it).
fn shutdown(slot: &RefCell<Option<ReSocket>>, abort: Option<AbortHandle>) {
    let socket = slot.borrow_mut().take();
    if let Some(socket) = socket {
        let _ = socket.close(Some(1000), Some("unmounted"));
    }
    if let Some(abort) = abort {
        abort.abort();
    }
}

enum Incoming<In> {
    Message(Result<In, Error>),
    Event(Event),
}

/// Turns the socket's messages and events into state updates until both streams end.
async fn run<In: DeserializeOwned + 'static>(
    socket: ReSocket,
    events: Events,
    setters: Setters<In>,
    handler: Handler<In>,
) {
    let messages = Typed::<In, (), Json, ReSocket>::new(socket.clone(), Json);
    let mut incoming = stream::select(messages.map(Incoming::Message), events.map(Incoming::Event));
    sync(&socket, &setters);
    while let Some(item) = incoming.next().await {
        match item {
            Incoming::Message(Ok(value)) => {
                // Cloned out first: the handler may cause a render that replaces it.
                let on_message = Rc::clone(&handler.borrow());
                on_message(&value);
                setters.message.set(Some(Rc::new(value)));
            }
            Incoming::Message(Err(error)) | Incoming::Event(Event::Error(error)) => {
                setters.error.set(Some(error));
            }
            Incoming::Event(_) => {}
        }
        sync(&socket, &setters);
    }
}

/// Copies the socket's state and counters into the component (re-rendering on change only).
fn sync<In>(socket: &ReSocket, setters: &Setters<In>) {
    setters.state.set(socket.state());
    setters.stats.set(socket.stats());
}
