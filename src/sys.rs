//! The few browser facilities every layer needs: owned timers, error messages and a
//! count of live listeners. Every call into web-sys that is not about the socket itself is here.

use alloc::boxed::Box;
use alloc::string::String;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::Waker;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    // Bound on the global object so they work in windows and workers alike.
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, ms: i32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// The count behind [`live_listeners`]. An atomic only to be a safe `static` (a `no_std`
/// crate has no `thread_local!`): on wasm32 without shared memory it is a plain integer.
static LIVE_LISTENERS: AtomicUsize = AtomicUsize::new(0);

/// How many resocket event listeners and timers are alive right now (for leak checks).
///
/// Every browser callback resocket installs counts here while it exists, and stops counting
/// when it is removed. After every `Connection` / `ReSocket` has been dropped it is back to what
/// it was before: nothing is leaked with `Closure::forget`.
///
/// ```no_run
/// let before = resocket::live_listeners();
/// // open and drop connections ...
/// assert_eq!(resocket::live_listeners(), before);
/// ```
///
/// In a multi-threaded wasm build (shared memory), the count covers every thread.
pub fn live_listeners() -> usize {
    LIVE_LISTENERS.load(Ordering::Relaxed)
}

/// A `Closure` counted in [`live_listeners`]; dropping it frees the closure.
pub(crate) struct Listener<F: ?Sized> {
    closure: Closure<F>,
}

impl<F: ?Sized + wasm_bindgen::closure::WasmClosure> Listener<F> {
    pub(crate) fn new(closure: Closure<F>) -> Self {
        LIVE_LISTENERS.fetch_add(1, Ordering::Relaxed);
        Listener { closure }
    }

    /// The closure as a JS function, to hand to the browser.
    pub(crate) fn function(&self) -> &js_sys::Function {
        self.closure.as_ref().unchecked_ref()
    }
}

impl<F: ?Sized> Drop for Listener<F> {
    fn drop(&mut self) {
        // Every `Listener` counted one in `new`.
        LIVE_LISTENERS.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<F: ?Sized> core::fmt::Debug for Listener<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Listener")
    }
}

/// A one-shot `setTimeout` that is cleared when dropped.
#[derive(Debug)]
pub(crate) struct Timeout {
    handle: JsValue,
    _callback: Listener<dyn FnMut()>,
}

impl Timeout {
    /// Calls `f` once after `ms` milliseconds unless the `Timeout` is dropped first.
    pub(crate) fn new(ms: u32, f: impl FnOnce() + 'static) -> Self {
        Self::boxed(ms, Box::new(f))
    }

    /// The non-generic part of [`Timeout::new`]: one closure type for every timer.
    fn boxed(ms: u32, f: Box<dyn FnOnce()>) -> Self {
        let callback = Listener::new(Closure::once(f) as Closure<dyn FnMut()>);
        let handle = set_timeout(callback.function(), ms.min(i32::MAX as u32) as i32);
        Timeout {
            handle,
            _callback: callback,
        }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        clear_timeout(&self.handle);
    }
}

#[wasm_bindgen(module = "/src/browser.js")]
extern "C" {
    #[wasm_bindgen(js_name = errorMessage)]
    fn error_message(value: &JsValue) -> String;
    type Turn;
    #[wasm_bindgen(constructor)]
    fn new(f: &js_sys::Function) -> Turn;
    #[wasm_bindgen(method)]
    fn mark(this: &Turn);
    #[wasm_bindgen(method)]
    fn stop(this: &Turn);
}

/// Calls `f` once the browser has finished the task that is running now and the tasks already
/// queued ahead of a posted message (a `MessageChannel` round trip, which, unlike a timer, is
/// not throttled in background tabs). Reusable: each [`TurnMarker::mark`] schedules one call.
/// Dropping it closes the channel and frees `f`.
pub(crate) struct TurnMarker {
    turn: Turn,
    _callback: Listener<dyn FnMut()>,
}

impl TurnMarker {
    pub(crate) fn new(f: impl FnMut() + 'static) -> Self {
        let callback = Listener::new(Closure::new(f) as Closure<dyn FnMut()>);
        let turn = Turn::new(callback.function());
        TurnMarker {
            turn,
            _callback: callback,
        }
    }

    /// Schedules one call of the callback after the current task.
    pub(crate) fn mark(&self) {
        self.turn.mark();
    }
}

impl Drop for TurnMarker {
    fn drop(&mut self) {
        self.turn.stop();
    }
}

/// How many messages of a burst may wait before a stream is woken anyway.
pub(crate) const WAKE_BATCH: usize = 16;

/// Wake batching for a stream of received messages.
///
/// A browser delivers a burst of messages as back-to-back tasks, each followed by a microtask
/// checkpoint, and an async executor (wasm-bindgen-futures) polls a woken task in a microtask
/// it queues per wake: waking the stream for every message costs a `queueMicrotask` and a poll
/// per message. So the first message of a burst wakes the stream at once (no added latency for
/// a lone message), and later messages of the same burst wake it every [`WAKE_BATCH`] messages
/// or when the burst is over (the next browser task, [`TurnMarker`]), whichever comes first;
/// the consumer then takes them in one poll loop.
#[derive(Default)]
pub(crate) struct WakeBatch {
    marker: Option<TurnMarker>,
    open: bool,
}

impl WakeBatch {
    /// After a message was queued (`queued` now waiting): the consumer's `waker`, taken, when
    /// it must be woken now. Otherwise `on_end`, made once and called after the burst, must
    /// wake it through [`WakeBatch::end`].
    pub(crate) fn on_message<F: FnMut() + 'static>(
        &mut self,
        queued: usize,
        waker: &mut Option<Waker>,
        on_end: impl FnOnce() -> F,
    ) -> Option<Waker> {
        if waker.is_none() || (self.open && queued < WAKE_BATCH) {
            return None;
        }
        if !self.open {
            self.open = true;
            self.marker
                .get_or_insert_with(|| TurnMarker::new(on_end()))
                .mark();
        }
        waker.take()
    }

    /// The burst is over (the next message wakes the consumer at once): the consumer's
    /// `waker`, taken, if `queued` messages wait for it.
    pub(crate) fn end(&mut self, queued: usize, waker: &mut Option<Waker>) -> Option<Waker> {
        self.open = false;
        if queued == 0 {
            None
        } else {
            waker.take()
        }
    }
}

/// Milliseconds from a monotonic clock (`performance.now()`).
pub(crate) fn now_ms() -> f64 {
    performance_now()
}

/// A readable message for a thrown JS value (`name: message` of an `Error`, a string, or its
/// JSON form; see `errorMessage` in `src/browser.js`, which reads it in one call, without the
/// five imports and the string copies it takes from Rust).
pub(crate) fn js_error_message(value: &JsValue) -> String {
    error_message(value)
}
