//! The outbox: messages sent while the socket is not open, bounded in count and bytes.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::message::Message;

/// What happens when a message does not fit in the outbox.
///
/// ```
/// assert_eq!(resocket::Overflow::default(), resocket::Overflow::Reject);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// The new message is refused with [`Error::OutboxFull`] (the sender knows at once).
    #[default]
    Reject,
    /// The oldest queued messages are dropped to make room (reported as an event).
    DropOldest,
    /// The new message is dropped (reported as an event).
    DropNewest,
}

/// What [`Outbox::push`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Queued without dropping anything.
    Queued,
    /// Queued after dropping these older messages.
    DroppedOldest(Vec<Message>),
    /// Not queued: the outbox was full and the policy is `DropNewest`.
    DroppedNewest(Message),
}

/// How long a queued message stays wanted (`OnReconnect`, as the machine keeps it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Keep {
    /// Until it is sent.
    Always,
    /// While no open connection was lost since the send: the machine's count of lost
    /// connections at the send.
    Epoch(u32),
    /// Until this time (ms, the machine's clock).
    Until(f64),
}

/// An ordered, bounded queue of messages waiting for an open socket.
#[derive(Debug, Clone)]
pub(crate) struct Outbox {
    queue: VecDeque<(Message, Keep)>,
    bytes: usize,
    max_messages: usize,
    max_bytes: usize,
    overflow: Overflow,
}

impl Outbox {
    /// An empty outbox holding at most `max_messages` messages and `max_bytes` payload bytes.
    pub(crate) fn new(max_messages: usize, max_bytes: usize, overflow: Overflow) -> Self {
        Outbox {
            queue: VecDeque::new(),
            bytes: 0,
            max_messages,
            max_bytes,
            overflow,
        }
    }

    /// Queued messages.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queued payload bytes.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    fn fits(&self, extra_messages: usize, extra_bytes: usize) -> bool {
        self.queue.len() + extra_messages <= self.max_messages
            && self.bytes + extra_bytes <= self.max_bytes
    }

    /// Appends a message, applying the overflow policy when it does not fit.
    ///
    /// A message larger than the whole byte capacity is refused under every policy with
    /// [`Error::MessageExceedsOutbox`], as is any message when the capacity is zero messages.
    pub(crate) fn push(&mut self, message: Message, keep: Keep) -> Result<Pushed> {
        let size = message.len();
        if size > self.max_bytes || self.max_messages == 0 {
            return Err(Error::MessageExceedsOutbox {
                size,
                capacity: self.max_bytes,
            });
        }
        if self.fits(1, size) {
            self.push_back(message, keep);
            return Ok(Pushed::Queued);
        }
        match self.overflow {
            Overflow::Reject => Err(Error::OutboxFull {
                messages: self.queue.len(),
                bytes: self.bytes,
                size,
            }),
            Overflow::DropNewest => Ok(Pushed::DroppedNewest(message)),
            Overflow::DropOldest => {
                let mut dropped = Vec::new();
                while !self.fits(1, size) {
                    match self.pop() {
                        Some((old, _)) => dropped.push(old),
                        None => break,
                    }
                }
                self.push_back(message, keep);
                Ok(Pushed::DroppedOldest(dropped))
            }
        }
    }

    fn push_back(&mut self, message: Message, keep: Keep) {
        self.bytes += message.len();
        self.queue.push_back((message, keep));
    }

    /// Puts a message back at the front, ahead of everything queued. It was accepted once, so
    /// it is never refused here (the outbox may exceed its capacity until it is flushed).
    pub(crate) fn requeue_front(&mut self, message: Message, keep: Keep) {
        self.bytes += message.len();
        self.queue.push_front((message, keep));
    }

    /// Takes the oldest message.
    pub(crate) fn pop(&mut self) -> Option<(Message, Keep)> {
        let entry = self.queue.pop_front()?;
        self.bytes -= entry.0.len();
        Some(entry)
    }

    /// Empties the outbox, returning what was queued, oldest first.
    pub(crate) fn drain(&mut self) -> Vec<Message> {
        self.bytes = 0;
        core::mem::take(&mut self.queue)
            .into_iter()
            .map(|(message, _)| message)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Message {
        Message::from(s)
    }

    #[test]
    fn reject_policy_refuses_and_keeps_the_queue() {
        let mut o = Outbox::new(2, 100, Overflow::Reject);
        o.push(m("a"), Keep::Always).unwrap();
        o.push(m("bb"), Keep::Always).unwrap();
        assert_eq!(
            o.push(m("ccc"), Keep::Always),
            Err(Error::OutboxFull {
                messages: 2,
                bytes: 3,
                size: 3
            })
        );
        assert_eq!(o.drain(), vec![m("a"), m("bb")]);
    }

    #[test]
    fn byte_capacity_is_enforced_too() {
        let mut o = Outbox::new(100, 5, Overflow::DropOldest);
        o.push(m("aa"), Keep::Always).unwrap();
        o.push(m("bb"), Keep::Always).unwrap();
        assert_eq!(
            o.push(m("ccc"), Keep::Always).unwrap(),
            Pushed::DroppedOldest(vec![m("aa")])
        );
        assert_eq!((o.len(), o.bytes()), (2, 5));
        assert_eq!(
            o.push(m("dddddd"), Keep::Always),
            Err(Error::MessageExceedsOutbox {
                size: 6,
                capacity: 5
            })
        );
        assert_eq!(o.drain(), vec![m("bb"), m("ccc")]);
    }

    #[test]
    fn drop_newest_keeps_the_old_ones() {
        let mut o = Outbox::new(1, 100, Overflow::DropNewest);
        o.push(m("a"), Keep::Always).unwrap();
        assert_eq!(
            o.push(m("b"), Keep::Always).unwrap(),
            Pushed::DroppedNewest(m("b"))
        );
        assert_eq!(o.drain(), vec![m("a")]);
    }

    #[test]
    fn zero_capacity_refuses_everything() {
        let mut o = Outbox::new(0, 100, Overflow::DropOldest);
        assert!(matches!(
            o.push(m("a"), Keep::Always),
            Err(Error::MessageExceedsOutbox { .. })
        ));
    }

    #[test]
    fn accounting_stays_exact_through_every_operation() {
        let mut o = Outbox::new(5, 40, Overflow::DropOldest);
        let mut expected: VecDeque<Message> = VecDeque::new();
        for i in 0..50 {
            let msg = Message::Binary(vec![0; (i * 7) % 13]);
            if let Ok(Pushed::DroppedOldest(d)) = o.push(msg.clone(), Keep::Always) {
                for dropped in d {
                    assert_eq!(expected.pop_front(), Some(dropped));
                }
            }
            expected.push_back(msg);
            if i % 9 == 0 {
                assert_eq!(o.pop().map(|e| e.0), expected.pop_front());
            }
            assert_eq!(o.len(), expected.len());
            assert_eq!(o.bytes(), expected.iter().map(Message::len).sum::<usize>());
            assert!(o.len() <= 5 && o.bytes() <= 40);
        }
    }

    #[test]
    fn requeue_goes_in_front_in_order_and_may_exceed_capacity() {
        let mut o = Outbox::new(2, 100, Overflow::Reject);
        o.push(m("c"), Keep::Always).unwrap();
        o.push(m("d"), Keep::Always).unwrap();
        o.requeue_front(m("b"), Keep::Always);
        o.requeue_front(m("a"), Keep::Always);
        assert_eq!(o.len(), 4);
        assert_eq!(o.bytes(), 4);
        assert_eq!(o.drain(), vec![m("a"), m("b"), m("c"), m("d")]);
    }
}
