//! Lifecycle states, events and counters of a `ReSocket` (plain data).

use alloc::string::String;
use core::time::Duration;

use crate::error::Error;

/// Where a `ReSocket` is in its life.
///
/// `Connecting -> Open -> (Reconnecting -> Connecting -> Open)* -> Closed`, plus `Offline`
/// (the browser reports no network; attempts paused) and the terminal `Failed`.
///
/// ```
/// let s = resocket::State::Reconnecting { attempt: 2, delay: std::time::Duration::from_millis(800) };
/// assert!(!s.is_terminal());
/// assert!(resocket::State::Failed { reason: "x".into() }.is_terminal());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// A socket is being opened; `attempt` counts failures since the last stable connection.
    Connecting {
        /// Consecutive failed attempts before this one.
        attempt: u32,
    },
    /// The socket is open.
    Open,
    /// Waiting `delay` before the next attempt.
    Reconnecting {
        /// The attempt number that will be made (1 for the first retry).
        attempt: u32,
        /// The scheduled wait.
        delay: Duration,
    },
    /// The browser is offline; the next attempt waits for the `online` event.
    Offline,
    /// The page is in the browser's back/forward cache: the socket was closed cleanly so the
    /// page could be cached, and reconnects at once (outbox kept) when the page is shown again.
    Parked,
    /// Closed by the user (terminal).
    Closed {
        /// The close code sent (1005, "no status", when `close` was given none).
        code: u16,
        /// The close reason sent.
        reason: String,
    },
    /// Reconnection stopped for good (terminal): retries exhausted or a fatal close code.
    Failed {
        /// Why.
        reason: String,
    },
}

impl State {
    /// Whether no further transition can happen.
    ///
    /// ```
    /// assert!(!resocket::State::Open.is_terminal());
    /// ```
    pub fn is_terminal(&self) -> bool {
        matches!(self, State::Closed { .. } | State::Failed { .. })
    }

    /// A short name: `connecting`, `open`, `reconnecting`, `offline`, `parked`, `closed` or
    /// `failed`.
    ///
    /// ```
    /// assert_eq!(resocket::State::Offline.name(), "offline");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            State::Connecting { .. } => "connecting",
            State::Open => "open",
            State::Reconnecting { .. } => "reconnecting",
            State::Offline => "offline",
            State::Parked => "parked",
            State::Closed { .. } => "closed",
            State::Failed { .. } => "failed",
        }
    }
}

/// Something that happened to a `ReSocket`, in order.
///
/// ```
/// let e = resocket::Event::OutboxOverflow { dropped: 3 };
/// assert_eq!(e.name(), "outboxoverflow");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// An attempt started.
    Connecting {
        /// Consecutive failed attempts before this one.
        attempt: u32,
    },
    /// The socket opened.
    Open {
        /// The negotiated subprotocol (may be empty).
        protocol: String,
    },
    /// A socket ended (server close, drop, connect timeout or heartbeat timeout).
    Disconnected {
        /// Close code (1006 without a close frame).
        code: u16,
        /// Close reason (may be empty).
        reason: String,
        /// Whether the closing handshake completed.
        was_clean: bool,
    },
    /// The next attempt is scheduled after `delay`.
    Reconnecting {
        /// The attempt number that will be made.
        attempt: u32,
        /// The wait before it.
        delay: Duration,
    },
    /// The browser went offline; attempts are paused.
    Offline,
    /// The page went into the back/forward cache; the socket was closed and waits for the page
    /// to be shown again.
    Parked,
    /// Closed by the user; `unsent` messages were still queued (see `ReSocket::close`).
    Closed {
        /// The close code sent (1005, "no status", when `close` was given none).
        code: u16,
        /// The close reason sent.
        reason: String,
        /// How many queued messages were never sent.
        unsent: usize,
    },
    /// Reconnection stopped for good.
    Failed {
        /// Why.
        reason: String,
    },
    /// The outbox overflowed and messages were dropped (policies `DropOldest`/`DropNewest`).
    OutboxOverflow {
        /// How many messages were dropped.
        dropped: usize,
    },
    /// No inbound message arrived within the heartbeat timeout; the socket is being replaced.
    HeartbeatTimeout {
        /// Milliseconds since the ping was sent.
        silent_ms: u32,
    },
    /// A non-fatal error, e.g. an inbound message over `max_message_bytes`.
    Error(Error),
    /// Resume mode: the session handshake completed on a new connection (right after its
    /// `Open`).
    Resumed {
        /// Whether the server resumed the session presented (false for a new session).
        resumed: bool,
        /// How many sent but unacknowledged messages were sent again, ahead of the outbox.
        resent: u64,
        /// How many server messages the client had not received yet: replayed now, or
        /// reported by a `Gap` where the server no longer holds them.
        replayed: u64,
    },
    /// Resume mode: server messages `from ..= to` will never arrive (the server no longer
    /// held them). Messages after them arrive as usual.
    Gap {
        /// The first missing server sequence number.
        from: u64,
        /// The last missing one.
        to: u64,
    },
    /// Resume mode: the server lost the session (restart, expiry, bounds) or ended it (`bye`).
    /// Server messages from `missed_from` on may never arrive (how many is unknown); the
    /// client's own messages `unconfirmed.0 ..= unconfirmed.1` (none when `.0 > .1`) may or
    /// may not have been received: they are sent again as new messages, or dropped and
    /// reported by `Discarded`, as `Resume::requeue_on_reset` says. A new session starts.
    Reset {
        /// The first server sequence number that may be lost.
        missed_from: u64,
        /// The client's sequence numbers that were not confirmed (inclusive range).
        unconfirmed: (u64, u64),
    },
    /// Messages were dropped instead of sent: `dropped` by `OnReconnect::Drop` after a lost
    /// connection (or by a reset with `requeue_on_reset(false)`), `expired` by
    /// `OnReconnect::Expire`.
    Discarded {
        /// Dropped on reconnect.
        dropped: usize,
        /// Expired.
        expired: usize,
    },
}

impl Event {
    /// A lower-case name, also used as the JavaScript event type.
    ///
    /// ```
    /// assert_eq!(resocket::Event::Offline.name(), "offline");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Event::Connecting { .. } => "connecting",
            Event::Open { .. } => "open",
            Event::Disconnected { .. } => "disconnected",
            Event::Reconnecting { .. } => "reconnecting",
            Event::Offline => "offline",
            Event::Parked => "parked",
            Event::Closed { .. } => "closed",
            Event::Failed { .. } => "failed",
            Event::OutboxOverflow { .. } => "outboxoverflow",
            Event::HeartbeatTimeout { .. } => "heartbeattimeout",
            Event::Error(_) => "error",
            Event::Resumed { .. } => "resumed",
            Event::Gap { .. } => "gap",
            Event::Reset { .. } => "reset",
            Event::Discarded { .. } => "discarded",
        }
    }
}

/// Counters of a `ReSocket` since it was created.
///
/// ```
/// let s = resocket::Stats::default();
/// assert_eq!(s.connects, 0);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Sockets that opened.
    pub connects: u32,
    /// Sockets that opened after the first (reconnections).
    pub reconnects: u32,
    /// Messages received.
    pub messages_in: u64,
    /// Messages handed to the browser.
    pub messages_out: u64,
    /// Payload bytes received.
    pub bytes_in: u64,
    /// Payload bytes handed to the browser.
    pub bytes_out: u64,
    /// Messages put back into the outbox because a dying socket never sent them.
    pub requeued: u64,
    /// Round trip of the last heartbeat (ping sent to the next inbound message), in ms.
    pub last_heartbeat_rtt_ms: Option<f64>,
    /// Messages now waiting in the outbox.
    pub outbox_len: usize,
    /// Messages handed to the current socket whose bytes may not all have left the browser
    /// (its `bufferedAmount`): the ones put back into the outbox if the socket dies now.
    pub in_flight: usize,
    /// Payload bytes now waiting in the outbox.
    pub outbox_bytes: usize,
    /// Resume mode: sent messages kept until the server acknowledges them (its resend buffer).
    pub unacked: usize,
    /// Resume mode: received messages discarded as duplicates.
    pub duplicates: u64,
}
