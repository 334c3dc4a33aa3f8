//! `for await (const data of socket)`: an async iterator over received messages.
//!
//! Each iterator gets every message from its creation on (several may run side by side, like
//! several `message` listeners). Messages wait in the iterator's queue until `next()` is
//! called; `return()` (a `break` out of the loop) detaches it.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use core::cell::RefCell;
use core::fmt;

use wasm_bindgen::prelude::*;

/// How an iterator ends.
enum End {
    Done,
    /// The next `next()` rejects with this error, later ones report `done`.
    Error(JsValue),
}

/// The queue of one iterator.
#[derive(Default)]
pub(crate) struct IterState {
    queue: VecDeque<JsValue>,
    waiters: VecDeque<(js_sys::Function, js_sys::Function)>,
    end: Option<End>,
}

fn result(value: &JsValue, done: bool) -> JsValue {
    let out: JsValue = js_sys::Object::new().into();
    let _ = js_sys::Reflect::set(&out, &"value".into(), value);
    let _ = js_sys::Reflect::set(&out, &"done".into(), &done.into());
    out
}

/// Hands `value` to the oldest waiting `next()`, or queues it.
pub(crate) fn push(state: &Rc<RefCell<IterState>>, value: JsValue) {
    let waiter = {
        let mut s = state.borrow_mut();
        if s.end.is_some() {
            return;
        }
        match s.waiters.pop_front() {
            Some(w) => Some(w),
            None => {
                s.queue.push_back(value.clone());
                None
            }
        }
    };
    if let Some((resolve, _)) = waiter {
        let _ = resolve.call1(&JsValue::UNDEFINED, &result(&value, false));
    }
}

/// Ends the iterator: queued messages are still delivered, then `done` (or the error, once).
pub(crate) fn finish(state: &Rc<RefCell<IterState>>, error: Option<JsValue>) {
    let waiters = {
        let mut s = state.borrow_mut();
        if s.end.is_some() {
            return;
        }
        s.end = Some(error.map_or(End::Done, End::Error));
        // Waiters exist only while the queue is empty.
        core::mem::take(&mut s.waiters)
    };
    for (resolve, reject) in waiters {
        settle_end(state, &resolve, &reject);
    }
}

/// Settles one `next()` at the end: the error once, then `done`.
fn settle_end(
    state: &Rc<RefCell<IterState>>,
    resolve: &js_sys::Function,
    reject: &js_sys::Function,
) {
    let error = {
        let mut s = state.borrow_mut();
        match s.end.take() {
            Some(End::Error(e)) => {
                s.end = Some(End::Done);
                Some(e)
            }
            other => {
                s.end = other;
                None
            }
        }
    };
    match error {
        Some(e) => {
            let _ = reject.call1(&JsValue::UNDEFINED, &e);
        }
        None => {
            let _ = resolve.call1(&JsValue::UNDEFINED, &result(&JsValue::UNDEFINED, true));
        }
    }
}

/// The async iterator returned by `socket[Symbol.asyncIterator]()`.
#[wasm_bindgen(skip_typescript)]
pub struct MessageIterator {
    state: Rc<RefCell<IterState>>,
}

impl fmt::Debug for MessageIterator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageIterator")
            .field("queued", &self.state.borrow().queue.len())
            .finish()
    }
}

impl MessageIterator {
    pub(crate) fn new() -> (Self, Rc<RefCell<IterState>>) {
        let state = Rc::new(RefCell::new(IterState::default()));
        (
            MessageIterator {
                state: Rc::clone(&state),
            },
            state,
        )
    }
}

#[wasm_bindgen]
impl MessageIterator {
    /// The next message: `{ value, done: false }`, or `{ done: true }` after `close()`; rejects
    /// once with the reason after a failure.
    #[wasm_bindgen(skip_typescript)]
    pub fn next(&self) -> js_sys::Promise {
        let state = Rc::clone(&self.state);
        js_sys::Promise::new(&mut |resolve, reject| {
            let queued = {
                let mut s = state.borrow_mut();
                match s.queue.pop_front() {
                    Some(v) => Some(v),
                    None if s.end.is_none() => {
                        s.waiters.push_back((resolve.clone(), reject.clone()));
                        return;
                    }
                    None => None,
                }
            };
            match queued {
                Some(v) => {
                    let _ = resolve.call1(&JsValue::UNDEFINED, &result(&v, false));
                }
                None => settle_end(&state, &resolve, &reject),
            }
        })
    }

    /// Stops the iteration (`break` calls it): queued messages are dropped, pending `next()`
    /// calls resolve with `done`.
    #[wasm_bindgen(js_name = "return", skip_typescript)]
    pub fn stop(&self) -> js_sys::Promise {
        self.state.borrow_mut().queue.clear();
        finish(&self.state, None);
        self.state.borrow_mut().end = Some(End::Done);
        js_sys::Promise::resolve(&result(&JsValue::UNDEFINED, true))
    }

    /// An iterator is itself iterable.
    #[wasm_bindgen(js_name = "[Symbol.asyncIterator]", skip_typescript)]
    pub fn iter(&self) -> MessageIterator {
        MessageIterator {
            state: Rc::clone(&self.state),
        }
    }
}
