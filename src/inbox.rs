//! The inbox: received messages waiting for a `Stream` consumer. `Connection` and `ReSocket`
//! share it (one type, one receive path, one way to end).
//!
//! It is bounded: a consumer that never reads (a `Sink`-only user) or falls far behind does not
//! make it grow without end. When it is full the oldest message is dropped, and the consumer
//! gets one `Err(Error::Lagged { dropped })` item where the gap is, never a silent hole.

use alloc::collections::VecDeque;
use alloc::rc::{Rc, Weak};
use alloc::vec::Vec;
use core::cell::RefCell;
use core::task::{Context, Poll, Waker};

use crate::error::{Error, Result};
use crate::message::Message;
use crate::sys::WakeBatch;

/// How a stream ends, once its socket is over.
enum End {
    /// Still running.
    Running,
    /// Over: this item (an error) is yielded once after the queue, then `None`.
    Error(Error),
    /// Over: `None` after the queue.
    Done,
}

/// Received messages, their consumer's waker, and how the stream ends.
pub(crate) struct Inbox {
    queue: VecDeque<Result<Message>>,
    waker: Option<Waker>,
    /// Batches the consumer's wakes during a burst of messages.
    batch: WakeBatch,
    capacity: usize,
    /// Messages dropped since the consumer last read.
    lagged: u64,
    end: End,
}

/// An inbox shared by a socket's callbacks and its stream.
pub(crate) type SharedInbox = Rc<RefCell<Inbox>>;

impl Inbox {
    /// An empty inbox of `capacity` messages (at least one).
    pub(crate) fn new(capacity: usize) -> SharedInbox {
        Rc::new(RefCell::new(Inbox {
            queue: VecDeque::new(),
            waker: None,
            batch: WakeBatch::default(),
            capacity: capacity.max(1),
            lagged: 0,
            end: End::Running,
        }))
    }

    /// Queues a received item and wakes the consumer when the batch says so (after the borrow).
    pub(crate) fn push(this: &SharedInbox, item: Result<Message>) {
        let waker = {
            let inbox = &mut *this.borrow_mut();
            if inbox.queue.len() >= inbox.capacity {
                inbox.queue.pop_front();
                inbox.lagged += 1;
            }
            inbox.queue.push_back(item);
            inbox
                .batch
                .on_message(inbox.queue.len(), &mut inbox.waker, || {
                    let weak = Rc::downgrade(this);
                    move || end_burst(&weak)
                })
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The socket is over: the stream ends after what is queued, with `error` first if given.
    /// Only the first call counts.
    pub(crate) fn finish(this: &SharedInbox, error: Option<Error>) {
        let waker = {
            let mut inbox = this.borrow_mut();
            if !matches!(inbox.end, End::Running) {
                return;
            }
            inbox.end = error.map_or(End::Done, End::Error);
            inbox.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Whether the stream has been told it is over.
    pub(crate) fn is_finished(&self) -> bool {
        !matches!(self.end, End::Running)
    }

    /// Wakes a consumer that has messages waiting (held back by the batch): before an event is
    /// delivered, so a consumer sees the messages that came before it first.
    pub(crate) fn wake_if_waiting(this: &SharedInbox) {
        let waker = {
            let mut inbox = this.borrow_mut();
            if inbox.queue.is_empty() {
                None
            } else {
                inbox.waker.take()
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next item for the stream.
    pub(crate) fn poll(&mut self, cx: &Context<'_>) -> Poll<Option<Result<Message>>> {
        if self.lagged > 0 {
            let dropped = core::mem::take(&mut self.lagged);
            return Poll::Ready(Some(Err(Error::Lagged { dropped })));
        }
        if let Some(item) = self.queue.pop_front() {
            return Poll::Ready(Some(item));
        }
        match core::mem::replace(&mut self.end, End::Done) {
            End::Running => {
                self.end = End::Running;
                if !self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    self.waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            End::Error(error) => Poll::Ready(Some(Err(error))),
            End::Done => Poll::Ready(None),
        }
    }
}

/// The browser task after a burst of messages (see [`WakeBatch`]): wakes the stream if
/// messages wait for it.
fn end_burst(weak: &Weak<RefCell<Inbox>>) {
    let Some(inbox) = weak.upgrade() else { return };
    let waker = {
        let inbox = &mut *inbox.borrow_mut();
        inbox.batch.end(inbox.queue.len(), &mut inbox.waker)
    };
    if let Some(w) = waker {
        w.wake();
    }
}

/// Adds `waker` to `wakers` unless one that wakes the same task is there already: a task that
/// polls again and again while it waits does not make the list grow.
pub(crate) fn add_waker(wakers: &mut Vec<Waker>, waker: &Waker) {
    if !wakers.iter().any(|w| w.will_wake(waker)) {
        wakers.push(waker.clone());
    }
}
