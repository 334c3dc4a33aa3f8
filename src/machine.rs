//! The reconnect machine: the whole lifecycle of a `ReSocket` as one pure, sans-IO state
//! machine (the way quinn-proto, rustls and tungstenite keep protocol logic apart from IO).
//!
//! It owns every decision: the state, the attempt counter and backoff, the outbox, what is in
//! flight on the current socket, the heartbeat, the close policy, online/offline, visibility and
//! the back/forward cache, and what URL providers answered. It never touches the browser and
//! never calls user code: the driver (`resocket.rs`) feeds it [`Input`]s stamped with the time
//! and what it read off the current socket ([`Link`]), and executes the [`Output`]s it queues
//! (open, send, close or release a socket, arm or cancel a named timer, emit an event), in
//! order. Sends and closes answer directly ([`Machine::send`], [`Machine::close`]); a received
//! message is judged directly too ([`Machine::received`]), so the per-message path queues
//! nothing.
//!
//! Re-entrancy: the driver runs user code only while it delivers an [`Output::Emit`]. A user
//! call made from there that ends or restarts the lifecycle (`close`, `reconnect`) drops every
//! event and every pending socket opening still queued ("nothing of the interrupted dispatch
//! fires after it") but keeps the IO that must happen (sends, closes, releases, cancels) and
//! the overflow reports (messages already dropped are always reported).
//!
//! The simulator (`sim.rs`, native tests) drives this module alone with a virtual clock and a
//! simulated network and checks its invariants after every step.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::backoff::{retry_allowed, Backoff, Rng};
use crate::close::{default_should_retry, validate_close};
use crate::error::{Error, Result};
use crate::events::{Event, State, Stats};
use crate::heartbeat::{heartbeat_action, HeartbeatAction};
use crate::message::{CloseEvent, Message};
use crate::options::{Fallback, Heartbeat, OnReconnect, Options};
use crate::outbox::{Keep, Outbox, Pushed};
use crate::resume::{self, Bounds, Control, Frame, Inbound, Session, PROTOCOL};
use crate::text::{text, Piece::N, Piece::S};
use crate::url::Target;

/// Names one socket (one attempt) for its whole life; never reused.
pub(crate) type SocketId = u64;

/// The machine's timers. Each is armed at most once at a time: arming it again replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The connect timeout of the current attempt (URL provider included).
    Connect,
    /// The wait before the next attempt.
    Retry,
    /// The connection has been open long enough to reset the attempt counter.
    Stable,
    /// The next heartbeat check.
    Heartbeat,
    /// How long a socket we closed ourselves may take to report its close.
    Settle,
    /// Resume mode: acknowledge what was received ([`resume::ACK_DELAY_MS`] after the first
    /// message not yet acknowledged).
    Ack,
}

impl Timer {
    /// Every timer, in [`Timer::index`] order.
    pub(crate) const ALL: [Timer; 6] = [
        Timer::Connect,
        Timer::Retry,
        Timer::Stable,
        Timer::Heartbeat,
        Timer::Settle,
        Timer::Ack,
    ];

    /// A dense index, for tables of timers.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// What the driver read off the current socket (the one the machine last asked for) just
/// before the input: `bufferedAmount`, and whether it is OPEN (it may be CLOSING while the
/// machine still thinks it open: the server's close frame arrived, the close event not yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Link {
    /// The socket's `bufferedAmount` (0 without a socket).
    pub(crate) buffered: u64,
    /// Whether the socket's `readyState` is OPEN.
    pub(crate) writable: bool,
}

/// Something that happened, for the machine to act on.
#[derive(Debug)]
pub(crate) enum Input {
    /// Start the first attempt (the driver feeds this once, on the next microtask).
    Start {
        /// Whether the browser reports a network.
        online: bool,
    },
    /// The user asked for a fresh attempt now, with the backoff reset.
    Reconnect,
    /// A URL provider called for attempt `id` answered (the driver checked the URL and the
    /// subprotocols it gave: a bad one is an error here).
    Resolved {
        /// The attempt.
        id: SocketId,
        /// Where to connect, or why not.
        result: Result<Target>,
    },
    /// The browser refused to create socket `id` (its constructor threw).
    OpenFailed {
        /// The socket.
        id: SocketId,
        /// What the browser said.
        error: Error,
    },
    /// Socket `id` opened.
    Opened {
        /// The socket.
        id: SocketId,
        /// The negotiated subprotocol.
        protocol: String,
    },
    /// The `open` event has reached every listener: the outbox may be flushed now.
    OpenDelivered,
    /// Socket `id` closed (its `close` event). `retry` is the user's retry predicate's verdict,
    /// when the driver asked it (see [`Machine::asks_retry`]).
    Closed {
        /// The socket.
        id: SocketId,
        /// The close event.
        close: CloseEvent,
        /// The user's verdict; `None`: the default policy.
        retry: Option<bool>,
    },
    /// A timer fired.
    Fired(Timer),
    /// The browser went online (`true`) or offline.
    Online(bool),
    /// The page became visible (`true`) or hidden.
    Visible(bool),
    /// `pagehide` with `persisted` true: the page is going into the back/forward cache.
    PageHidden,
    /// `pageshow` with `persisted` true: the page came back from the back/forward cache.
    PageShown,
}

/// What the driver must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    /// Call the URL provider for attempt `id` and answer with [`Input::Resolved`].
    Resolve {
        /// The attempt.
        id: SocketId,
    },
    /// Create socket `id` (already validated), listening to its open, message and close.
    Open {
        /// The socket.
        id: SocketId,
        /// Where to.
        url: String,
        /// The subprotocols to offer.
        protocols: Vec<String>,
    },
    /// Send a message on socket `id`, which was writable at the input.
    Send {
        /// The socket.
        id: SocketId,
        /// The payload.
        message: Message,
    },
    /// Start socket `id`'s closing handshake and keep listening for its `close` event.
    Close {
        /// The socket.
        id: SocketId,
        /// The close code (already validated).
        code: Option<u16>,
        /// The close reason (already validated).
        reason: Option<String>,
    },
    /// Forget socket `id`: detach its listeners and drop it (closing it with 1000 if it is still
    /// connecting or open). No input about it follows.
    Release {
        /// The socket.
        id: SocketId,
    },
    /// Arm `timer` to fire after `ms` milliseconds, replacing it if it is armed.
    Arm {
        /// Which.
        timer: Timer,
        /// When.
        ms: u32,
    },
    /// Disarm `timer` (nothing if it is not armed).
    Cancel(Timer),
    /// Deliver an event to the user (subscribers, hooks).
    Emit(Event),
}

/// The options the machine works from (the user's closures stay with the driver).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) backoff: Backoff,
    pub(crate) max_retries: Option<u32>,
    pub(crate) stable_after_ms: u32,
    pub(crate) connect_timeout_ms: u32,
    pub(crate) outbox_messages: usize,
    pub(crate) outbox_bytes: usize,
    pub(crate) overflow: crate::outbox::Overflow,
    pub(crate) heartbeat: Option<Heartbeat>,
    pub(crate) max_message_bytes: Option<usize>,
    pub(crate) resume: Option<ResumeConfig>,
}

/// The machine's part of the resume options.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResumeConfig {
    pub(crate) bounds: Bounds,
    pub(crate) fallback: Fallback,
    pub(crate) requeue_on_reset: bool,
}

impl Config {
    /// The machine's part of `options`.
    pub(crate) fn from_options(options: &Options) -> Self {
        Config {
            backoff: options.backoff,
            max_retries: options.max_retries,
            stable_after_ms: duration_ms(options.stable_after),
            // No browser timer fires sooner: a shorter timeout would fail every attempt.
            connect_timeout_ms: duration_ms(options.connect_timeout).max(MIN_TIMEOUT_MS),
            outbox_messages: options.outbox_messages,
            outbox_bytes: options.outbox_bytes,
            overflow: options.overflow,
            heartbeat: options.heartbeat.clone().map(|mut hb| {
                hb.timeout = hb
                    .timeout
                    .max(Duration::from_millis(u64::from(MIN_TIMEOUT_MS)));
                hb
            }),
            max_message_bytes: options.max_message_bytes,
            #[cfg(feature = "resume")]
            resume: options.resume.as_ref().map(|r| ResumeConfig {
                bounds: Bounds {
                    messages: r.max_buffered.max(1),
                    bytes: r.max_buffered_bytes,
                    drop_oldest: r.drop_oldest,
                    on: (),
                },
                fallback: r.fallback,
                requeue_on_reset: r.requeue_on_reset,
            }),
            #[cfg(not(feature = "resume"))]
            resume: None,
        }
    }
}

/// Whether the resume protocol is built in. Without it no `ResumeConfig` or `Session` value
/// exists (see `resume::On`), but an `Option` of one still has a tag the compiler cannot see
/// through: the resume paths test this too, so that they leave the binary.
const RESUME: bool = cfg!(feature = "resume");

/// The shortest connect or heartbeat timeout, in ms: browsers clamp nested timers to 4 ms, so
/// a shorter one would fail every attempt (the JavaScript options refuse one with a
/// `TypeError`; the Rust options count it as this).
pub(crate) const MIN_TIMEOUT_MS: u32 = 4;

/// Whole milliseconds, saturating.
pub(crate) fn duration_ms(d: Duration) -> u32 {
    d.as_millis().min(u32::MAX as u128) as u32
}

/// How long a socket we closed ourselves (heartbeat timeout, `reconnect()`, back/forward
/// cache) may take to report its `close` event before it is judged from its `bufferedAmount`
/// anyway: a live link completes the closing handshake well within it, a dead one never does.
pub(crate) const SETTLE_MS: u32 = 250;

/// Why we closed a socket ourselves, and so what follows once it has settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    /// The heartbeat declared the link dead: a failed attempt, retried after the backoff.
    Dead,
    /// `reconnect()`: a fresh attempt at once, the backoff reset.
    Reconnect,
    /// The page went into the back/forward cache: park until it comes back. The state is
    /// `Parked` at once (announced at `pagehide`: a page frozen in the cache may run the
    /// socket's close event only once it is back).
    Park,
    /// Parked, and the page came back: connect once the socket has settled.
    Resume,
}

/// Where the machine is. Every flag the old driver kept beside its state is a state here.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Created; the first attempt starts on [`Input::Start`].
    Idle,
    /// The URL provider was called for attempt `id`.
    Resolving { id: SocketId, attempt: u32 },
    /// Socket `id` is connecting.
    Connecting { id: SocketId, attempt: u32 },
    /// Resume mode: socket `id` opened with the protocol and sent `hello`; the state stays
    /// `Connecting` until `welcome` (under the connect timeout), nothing else goes out.
    Greeting {
        id: SocketId,
        attempt: u32,
        protocol: String,
    },
    /// Socket `id` is open; `greeted` once the `open` event reached every listener (until then
    /// sends go straight to the socket, ahead of the outbox: authentication first); `resume`
    /// when it speaks the resume protocol (its session handshake done).
    Open {
        id: SocketId,
        protocol: String,
        greeted: bool,
        resume: bool,
    },
    /// We closed socket `id` ourselves and wait for its `close` event (or [`SETTLE_MS`]) to
    /// learn what it never sent; new sends wait in the outbox.
    Draining {
        id: SocketId,
        protocol: String,
        cause: Cause,
        resume: bool,
    },
    /// Waiting `delay` before attempt `attempt`.
    Waiting { attempt: u32, delay: Duration },
    /// The browser is offline; attempts wait for `online`.
    Offline,
    /// The page is in the back/forward cache.
    Parked,
    /// Closed by the user (terminal).
    Closed { code: u16, reason: String },
    /// Stopped for good (terminal); the outbox is kept for `close()` to hand back.
    Failed { reason: String },
}

/// A message handed to the current socket whose bytes may not all have left the browser.
#[derive(Debug)]
struct Sent {
    size: usize,
    /// `None` for a heartbeat ping (counted in `bufferedAmount`, never resent).
    message: Option<Message>,
    keep: Keep,
}

/// What to do with a received message in resume mode (see [`Machine::received_frame`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    /// Nothing: a control frame, a duplicate, a stale socket, or over the size limit.
    Drop,
    /// Deliver it as it is.
    Deliver,
    /// Deliver it without its first character (escaped app text).
    Unescape,
}

/// A received message as the resume path needs it: a text message's text, or a binary
/// message's size (always an app message; its payload need not be read).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Received<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message of this many bytes.
    Binary(usize),
}

/// The reconnect machine (see the module docs).
#[derive(Debug)]
pub(crate) struct Machine {
    config: Config,
    /// The fixed URL and subprotocols; `None`: a provider answers before every attempt.
    fixed: Option<Target>,
    phase: Phase,
    next_id: SocketId,
    /// Consecutive failed attempts since the last stable connection.
    failures: u32,
    online: bool,
    outbox: Outbox,
    in_flight: VecDeque<Sent>,
    in_flight_bytes: u64,
    /// Payload bytes of the `Send` outputs for socket `.0` still queued: the driver has not
    /// handed them to the socket yet, so the `Link`'s `bufferedAmount` does not hold them (a
    /// user sending twice from inside an event, or the flush after `open`).
    queued: (SocketId, u64),
    ping_sent_at: Option<f64>,
    last_inbound: f64,
    url: String,
    stats: Stats,
    rng: Rng,
    armed: [bool; 6],
    out: VecDeque<Output>,
    /// Resume mode: the session (kept across connections).
    session: Option<Session>,
    /// Open connections lost so far (for `OnReconnect::Drop`).
    epoch: u32,
    /// The user's subprotocols of the current attempt (to name the one a server selected by
    /// its place, never by its value).
    offered: Vec<String>,
}

impl Machine {
    /// A machine for `fixed` (a checked URL and its subprotocols) or, with `None`, a
    /// URL provider; `seed` seeds the jitter.
    pub(crate) fn new(config: Config, fixed: Option<Target>, seed: u64) -> Self {
        let url = fixed
            .as_ref()
            .map(|target| target.shown.clone())
            .unwrap_or_default();
        Machine {
            outbox: Outbox::new(config.outbox_messages, config.outbox_bytes, config.overflow),
            session: config
                .resume
                .filter(|_| RESUME)
                .map(|r| Session::new(r.bounds)),
            config,
            fixed,
            phase: Phase::Idle,
            next_id: 0,
            failures: 0,
            online: true,
            in_flight: VecDeque::new(),
            in_flight_bytes: 0,
            queued: (0, 0),
            ping_sent_at: None,
            last_inbound: 0.0,
            url,
            stats: Stats::default(),
            rng: Rng::new(seed),
            armed: [false; 6],
            out: VecDeque::new(),
            epoch: 0,
            offered: Vec::new(),
        }
    }

    // ----------------------------------------------------------------------- reading

    /// The public state.
    pub(crate) fn state(&self) -> State {
        match &self.phase {
            Phase::Idle => State::Connecting { attempt: 0 },
            Phase::Resolving { attempt, .. }
            | Phase::Connecting { attempt, .. }
            | Phase::Greeting { attempt, .. } => State::Connecting { attempt: *attempt },
            Phase::Draining {
                cause: Cause::Park | Cause::Resume,
                ..
            } => State::Parked,
            Phase::Open { .. } | Phase::Draining { .. } => State::Open,
            Phase::Waiting { attempt, delay } => State::Reconnecting {
                attempt: *attempt,
                delay: *delay,
            },
            Phase::Offline => State::Offline,
            Phase::Parked => State::Parked,
            Phase::Closed { code, reason } => State::Closed {
                code: *code,
                reason: reason.clone(),
            },
            Phase::Failed { reason } => State::Failed {
                reason: reason.clone(),
            },
        }
    }

    /// Whether the state is `Closed` or `Failed`.
    pub(crate) fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Closed { .. } | Phase::Failed { .. })
    }

    /// The error for using the socket once it is over.
    pub(crate) fn over_error(&self) -> Option<Error> {
        match &self.phase {
            Phase::Closed { code, reason } => Some(Error::Closed {
                code: Some(*code),
                reason: reason.clone(),
            }),
            Phase::Failed { reason } => Some(Error::Failed {
                reason: reason.clone(),
            }),
            _ => None,
        }
    }

    /// Whether the `Sink` may hand over a message now: open and not being replaced.
    pub(crate) fn accepts(&self) -> bool {
        matches!(self.phase, Phase::Open { .. })
    }

    /// Whether we are closing the current socket ourselves (its `readyState` is CLOSING): after
    /// a heartbeat timeout or `reconnect()` (the state still `Open`), or parked.
    pub(crate) fn closing(&self) -> bool {
        matches!(self.phase, Phase::Draining { .. })
    }

    /// The socket the machine is using (connecting, open or draining), if any.
    pub(crate) fn socket(&self) -> Option<SocketId> {
        match self.phase {
            Phase::Connecting { id, .. }
            | Phase::Greeting { id, .. }
            | Phase::Open { id, .. }
            | Phase::Draining { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The subprotocol of the open socket ("" otherwise).
    pub(crate) fn protocol(&self) -> &str {
        match &self.phase {
            Phase::Draining {
                cause: Cause::Park | Cause::Resume,
                ..
            } => "",
            Phase::Open { protocol, .. } | Phase::Draining { protocol, .. } => protocol,
            _ => "",
        }
    }

    /// The URL of the current (or last) attempt, redacted.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Forgets what the current socket's `bufferedAmount` shows has left the browser, without
    /// an input (before reading the stats: an upload that stopped sends nothing more to trim
    /// by).
    pub(crate) fn observe(&mut self, link: Link) {
        if let Some(id) = self.socket() {
            self.trim_in_flight(id, link.buffered);
        }
    }

    /// Counters, with the outbox's current size.
    pub(crate) fn stats(&self) -> Stats {
        Stats {
            outbox_len: self.outbox.len(),
            outbox_bytes: self.outbox.bytes(),
            in_flight: self.in_flight.len(),
            unacked: self
                .session
                .as_ref()
                .filter(|_| RESUME)
                .map_or(0, Session::buffered),
            duplicates: self
                .session
                .as_ref()
                .filter(|_| RESUME)
                .map_or(0, |s| s.duplicates),
            ..self.stats.clone()
        }
    }

    /// Whether the outbox is empty.
    pub(crate) fn outbox_is_empty(&self) -> bool {
        self.outbox.is_empty()
    }

    /// Whether the close of socket `id` is a decision the user's retry predicate makes (it is
    /// the current socket and we did not close it ourselves).
    pub(crate) fn asks_retry(&self, id: SocketId) -> bool {
        matches!(self.phase, Phase::Connecting { id: i, .. } | Phase::Greeting { id: i, .. } | Phase::Open { id: i, .. } if i == id)
    }

    /// Which timers the machine considers armed (for the simulator's checks).
    #[cfg(test)]
    #[allow(dead_code)] // the simulator's (native only)
    pub(crate) fn armed(&self) -> [bool; 6] {
        self.armed
    }

    /// The next thing for the driver to do.
    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        let output = self.out.pop_front()?;
        if let Output::Send { id, message } = &output {
            if self.queued.0 == *id {
                self.queued.1 = self.queued.1.saturating_sub(message.len() as u64);
            }
        }
        Some(output)
    }

    /// Payload bytes handed to the current socket's `Send` outputs that the driver has not
    /// taken yet (a send from inside a listener waits for the dispatch to end): on their way
    /// to `bufferedAmount`, not yet in it.
    #[cfg_attr(not(feature = "js"), allow(dead_code))] // the npm engine's
    pub(crate) fn sends_queued(&self) -> u64 {
        match self.socket() {
            Some(id) if self.queued.0 == id => self.queued.1,
            _ => 0,
        }
    }

    /// Whether outputs are waiting.
    pub(crate) fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    // ----------------------------------------------------------------------- user calls

    /// `send`: straight to the socket when open (and nothing queued is waiting ahead of it),
    /// else into the outbox. Errors: the socket is over, the outbox refuses it.
    pub(crate) fn send(&mut self, link: Link, message: Message) -> Result<()> {
        self.send_with(0.0, link, message, OnReconnect::Replay)
    }

    /// `send` with a reconnect policy for the message (`now` matters for `Expire` only). In
    /// resume mode a message goes out with the next seq, or waits while the resend buffer is
    /// full and holds back.
    pub(crate) fn send_with(
        &mut self,
        now: f64,
        link: Link,
        message: Message,
        on: OnReconnect,
    ) -> Result<()> {
        if let Some(error) = self.over_error() {
            return Err(error);
        }
        let keep = match on {
            OnReconnect::Replay => Keep::Always,
            OnReconnect::Drop => Keep::Epoch(self.epoch),
            OnReconnect::Expire(ttl) => Keep::Until(now + ttl.as_secs_f64() * 1000.0),
        };
        if let Phase::Open {
            id,
            greeted,
            resume,
            ..
        } = self.phase
        {
            if link.writable
                && (!greeted || self.outbox.is_empty())
                && self.has_room(resume, message.len())
            {
                self.transmit(id, link, message, keep, resume);
                return Ok(());
            }
        }
        match self.outbox.push(message, keep)? {
            Pushed::Queued => {}
            Pushed::DroppedOldest(dropped) => self.emit(Event::OutboxOverflow {
                dropped: dropped.len(),
            }),
            Pushed::DroppedNewest(_) => self.emit(Event::OutboxOverflow { dropped: 1 }),
        }
        Ok(())
    }

    /// `close`: ends everything and hands back what the outbox held. After `Failed` it hands
    /// back what was queued then (once); after `Closed`, nothing. A bad code or reason is an
    /// error and changes nothing.
    pub(crate) fn close(
        &mut self,
        code: Option<u16>,
        reason: Option<&str>,
    ) -> Result<Vec<Message>> {
        validate_close(code, reason)?;
        match &self.phase {
            Phase::Closed { .. } => return Ok(Vec::new()),
            Phase::Failed { .. } => return Ok(self.outbox.drain()),
            _ => {}
        }
        self.interrupt(false);
        match self.phase {
            Phase::Connecting { id, .. } | Phase::Greeting { id, .. } | Phase::Open { id, .. } => {
                if RESUME && matches!(self.phase, Phase::Open { resume: true, .. }) {
                    // The session ends on purpose: the server forgets it at once.
                    self.push_send(id, resume::control(Control::Bye));
                }
                self.push(Output::Close {
                    id,
                    code,
                    reason: reason.map(String::from),
                });
                self.push(Output::Release { id });
            }
            Phase::Draining { id, .. } => self.push(Output::Release { id }),
            _ => {}
        }
        self.cancel_all();
        self.forget_in_flight();
        if let Some(session) = self.session.as_mut().filter(|_| RESUME) {
            session.forget();
        }
        let unsent = self.outbox.drain();
        // What was asked for: a close without a code sends a frame without one, which the
        // standard reports as 1005 (no status).
        let code = code.unwrap_or(1005);
        let reason = String::from(reason.unwrap_or_default());
        self.phase = Phase::Closed {
            code,
            reason: reason.clone(),
        };
        self.emit(Event::Closed {
            code,
            reason,
            unsent: unsent.len(),
        });
        Ok(unsent)
    }

    /// A received message on socket `id` of `len` bytes (`counted`: the JavaScript layer has
    /// counted it already). True: deliver it; false: drop it (stale socket, or over
    /// `max_message_bytes`, reported as an error event).
    pub(crate) fn received(&mut self, now: f64, id: SocketId, len: usize, counted: bool) -> bool {
        if self.socket() != Some(id) {
            return false;
        }
        if self.config.heartbeat.is_some() {
            if let Some(sent) = self.ping_sent_at.take() {
                self.stats.last_heartbeat_rtt_ms = Some(now - sent);
            }
            self.last_inbound = now;
        }
        if !counted {
            self.stats.messages_in += 1;
            self.stats.bytes_in += len as u64;
        }
        match self.config.max_message_bytes {
            Some(limit) if len > limit => {
                self.emit(Event::Error(Error::MessageTooLarge { size: len, limit }));
                false
            }
            _ => true,
        }
    }

    /// Resume mode (the driver calls this instead of [`Machine::received`] for every message
    /// when the resume option is on): a received frame on socket `id`. Control frames are
    /// acted on, duplicates discarded, app messages counted and acknowledged in time; a
    /// connection that does not speak the protocol (fallback) is judged as in plain mode.
    /// `link`: the socket as the driver read it before (a frame may arrive when the socket is
    /// already CLOSING: what it calls for is then not written).
    pub(crate) fn received_frame(
        &mut self,
        now: f64,
        link: Link,
        id: SocketId,
        frame: Received<'_>,
    ) -> Take {
        // Without the `resume` feature no phase is in resume mode (see `Driver::received`).
        let resume = RESUME
            && match &self.phase {
                Phase::Greeting { id: i, .. } => *i == id,
                Phase::Open { id: i, resume, .. } | Phase::Draining { id: i, resume, .. } => {
                    *i == id && *resume
                }
                _ => false,
            };
        if !resume {
            let len = match frame {
                Received::Text(text) => text.len(),
                Received::Binary(len) => len,
            };
            return if self.received(now, id, len, false) {
                Take::Deliver
            } else {
                Take::Drop
            };
        }
        if self.config.heartbeat.is_some() {
            if let Some(sent) = self.ping_sent_at.take() {
                self.stats.last_heartbeat_rtt_ms = Some(now - sent);
            }
            self.last_inbound = now;
        }
        match frame {
            Received::Text(text) => match resume::decode(text) {
                Err(fault) => {
                    self.protocol_error(fault);
                    Take::Drop
                }
                Ok(Frame::Control(control)) => {
                    self.control(now, link, id, control);
                    Take::Drop
                }
                Ok(Frame::App) => self.app(link, id, text.len(), Take::Deliver),
                Ok(Frame::Unescaped(app)) => self.app(link, id, app.len(), Take::Unescape),
            },
            Received::Binary(len) => self.app(link, id, len, Take::Deliver),
        }
    }

    /// An app message in resume mode (`take`: how to deliver it if it is new).
    fn app(&mut self, link: Link, id: SocketId, len: usize, take: Take) -> Take {
        if matches!(self.phase, Phase::Greeting { .. }) {
            self.protocol_error("app message before welcome");
            return Take::Drop;
        }
        let live = matches!(self.phase, Phase::Open { .. });
        let Some(session) = self.session.as_mut().filter(|_| RESUME) else {
            return Take::Drop;
        };
        let unacked = match session.inbound() {
            Err(fault) => {
                self.protocol_error(fault);
                return Take::Drop;
            }
            Ok(Inbound::Duplicate) => return Take::Drop,
            Ok(Inbound::Deliver) => session.unacked(),
        };
        // Nothing is written to a socket already CLOSING: the next `hello` acknowledges.
        let ack = (live && link.writable && unacked >= resume::ACK_EVERY).then(|| session.ack());
        self.stats.messages_in += 1;
        self.stats.bytes_in += len as u64;
        if let Some(ack) = ack {
            self.cancel(Timer::Ack);
            self.push_send(id, ack);
        } else if live && unacked == 1 {
            self.arm(Timer::Ack, resume::ACK_DELAY_MS);
        }
        match self.config.max_message_bytes {
            // Counted as received (the session moved past it), reported, not delivered.
            Some(limit) if len > limit => {
                self.emit(Event::Error(Error::MessageTooLarge { size: len, limit }));
                Take::Drop
            }
            _ => take,
        }
    }

    /// A control frame in resume mode.
    fn control(&mut self, now: f64, link: Link, id: SocketId, control: Control) {
        let greeting = matches!(self.phase, Phase::Greeting { .. });
        let live = matches!(self.phase, Phase::Open { .. });
        let Some(session) = self.session.as_mut().filter(|_| RESUME) else {
            return;
        };
        let mut reply = None;
        match control {
            Control::Welcome {
                sid,
                resumed,
                recv,
                sent,
            } if greeting => return self.welcomed(now, link, id, sid, resumed, recv, sent),
            Control::Welcome { .. } => return self.protocol_error("unexpected welcome"),
            Control::Hello { .. } => return self.protocol_error("unexpected hello"),
            _ if greeting => return self.protocol_error("control frame before welcome"),
            Control::From { seq } => match session.from(seq) {
                Err(fault) => return self.protocol_error(fault),
                Ok(Some((from, to))) => self.emit(Event::Gap { from, to }),
                Ok(None) => {}
            },
            Control::Ack { seq } => {
                if let Err(fault) = session.acked_by_server(seq) {
                    return self.protocol_error(fault);
                }
                // A resend buffer that held messages back has room again.
                if let Phase::Open {
                    greeted: true,
                    resume: true,
                    ..
                } = self.phase
                {
                    if link.writable && !self.outbox.is_empty() {
                        self.pour(now, id, link, true);
                    }
                }
            }
            Control::Ackreq => reply = (live && link.writable).then(|| (session.ack(), true)),
            Control::Ping => {
                reply = (live && link.writable).then(|| (resume::control(Control::Pong), false));
            }
            Control::Pong => {}
            Control::Bye => {
                let reset = session.forget();
                if reset.unconfirmed.0 <= reset.unconfirmed.1 {
                    self.report_reset(reset);
                }
            }
        }
        if let Some((reply, ack)) = reply {
            if ack {
                self.cancel(Timer::Ack);
            }
            self.push_send(id, reply);
        }
    }

    /// `welcome` arrived: the connection is open. Resets are reported first, then our `from`
    /// and the re-sent messages go out, then `Open` and `Resumed` (and the outbox, once
    /// `Open` has reached everyone).
    #[allow(clippy::too_many_arguments)] // the welcome's fields, and the link
    fn welcomed(
        &mut self,
        now: f64,
        link: Link,
        id: SocketId,
        sid: String,
        resumed: bool,
        recv: u64,
        sent: u64,
    ) {
        let Phase::Greeting { protocol, .. } = &self.phase else {
            return;
        };
        let protocol = protocol.clone();
        let Some(session) = self.session.as_mut().filter(|_| RESUME) else {
            return;
        };
        let welcomed = match session.welcome(sid, resumed, recv, sent) {
            Ok(welcomed) => welcomed,
            Err(fault) => return self.protocol_error(fault),
        };
        if let Some(reset) = welcomed.reset {
            self.report_reset(reset);
        }
        self.cancel(Timer::Connect);
        self.count_connect(now);
        self.phase = Phase::Open {
            id,
            protocol: protocol.clone(),
            greeted: false,
            resume: true,
        };
        self.arm_open_timers();
        // A socket already CLOSING gets nothing: the next connection re-sends it all.
        if link.writable {
            for frame in welcomed.frames {
                self.push_send(id, frame);
            }
            self.stats.messages_out += welcomed.resent;
        }
        self.emit(Event::Open { protocol });
        self.emit(Event::Resumed {
            resumed: welcomed.resumed,
            resent: if link.writable { welcomed.resent } else { 0 },
            replayed: welcomed.replayed,
        });
    }

    /// A reset (the server lost or ended the session): reported, and the unconfirmed
    /// messages re-queued ahead of the outbox or dropped, as the options say.
    fn report_reset(&mut self, reset: resume::Reset) {
        self.emit(Event::Reset {
            missed_from: reset.missed_from,
            unconfirmed: reset.unconfirmed,
        });
        let requeue = RESUME && self.config.resume.is_some_and(|r| r.requeue_on_reset);
        let dropped = reset.messages.len();
        if requeue {
            for message in reset.messages.into_iter().rev() {
                self.outbox.requeue_front(message, Keep::Always);
            }
        } else if dropped > 0 {
            self.emit(Event::Discarded {
                dropped,
                expired: 0,
            });
        }
    }

    /// The server broke the protocol (or a frame could not be read): reported, and the socket
    /// stops for good (a server that answers so would answer so again).
    fn protocol_error(&mut self, fault: resume::Fault) {
        let error = Error::Resume {
            reason: String::from(fault),
        };
        let reason = error.message();
        self.emit(Event::Error(error));
        self.fail(reason);
    }

    /// Adds counts the JavaScript layer kept (it counts messages without entering wasm).
    #[cfg_attr(not(feature = "js"), allow(dead_code))] // the npm engine's
    pub(crate) fn add_received(&mut self, messages: u64, bytes: u64) {
        self.stats.messages_in += messages;
        self.stats.bytes_in += bytes;
    }

    // ----------------------------------------------------------------------- inputs

    /// Acts on `input` at time `now` (ms, monotonic), given what the current socket shows.
    pub(crate) fn handle(&mut self, now: f64, link: Link, input: Input) {
        match input {
            Input::Start { online } => {
                self.online = online;
                if self.phase == Phase::Idle {
                    self.connect();
                }
            }
            Input::Reconnect => self.reconnect(),
            Input::Resolved { id, result } => self.resolved(id, result),
            Input::OpenFailed { id, error } => {
                if self.socket() == Some(id) {
                    self.push(Output::Release { id });
                    let reason = error.message();
                    self.emit(Event::Error(error));
                    self.fail(reason);
                }
            }
            Input::Opened { id, protocol } => self.opened(now, id, protocol),
            Input::OpenDelivered => self.flush(now, link),
            Input::Closed { id, close, retry } => self.closed(link, id, close, retry),
            Input::Fired(timer) => self.fired(now, link, timer),
            Input::Online(online) => {
                self.online = online;
                if online {
                    self.wake_up();
                } else if matches!(self.phase, Phase::Waiting { .. }) {
                    self.cancel(Timer::Retry);
                    self.phase = Phase::Offline;
                    self.emit(Event::Offline);
                }
            }
            Input::Visible(visible) => {
                if visible {
                    self.wake_up();
                }
            }
            Input::PageHidden => self.park(),
            Input::PageShown => match &mut self.phase {
                Phase::Parked => {
                    self.failures = 0;
                    self.connect();
                }
                Phase::Draining { cause, .. } if *cause == Cause::Park => {
                    *cause = Cause::Resume;
                }
                _ => {}
            },
        }
    }

    fn reconnect(&mut self) {
        if self.is_over() {
            return;
        }
        self.interrupt(true);
        match &mut self.phase {
            Phase::Open { .. } => self.drain(Cause::Reconnect),
            Phase::Draining { cause, .. } => {
                // Parked already announced: no second disconnection to report.
                *cause = match *cause {
                    Cause::Park | Cause::Resume => Cause::Resume,
                    Cause::Dead | Cause::Reconnect => Cause::Reconnect,
                };
                // The interrupted dispatch may have been the drain itself, its settle timer
                // dropped with it.
                if !self.armed[Timer::Settle.index()] {
                    self.arm(Timer::Settle, SETTLE_MS);
                }
            }
            Phase::Connecting { id, .. } | Phase::Greeting { id, .. } => {
                let id = *id;
                self.cancel(Timer::Connect);
                self.push(Output::Release { id });
                self.emit(Event::Disconnected {
                    code: 1000,
                    reason: "reconnect".into(),
                    was_clean: true,
                });
                self.failures = 0;
                self.connect();
            }
            _ => {
                // A pending retry is superseded by this attempt.
                self.cancel(Timer::Retry);
                self.failures = 0;
                self.connect();
            }
        }
    }

    fn resolved(&mut self, id: SocketId, result: Result<Target>) {
        let Phase::Resolving {
            attempt,
            id: current,
        } = self.phase
        else {
            return;
        };
        if current != id {
            return;
        }
        match result {
            Ok(Target {
                url,
                shown,
                protocols,
            }) => {
                self.url = shown;
                let protocols = self.offer(protocols);
                self.phase = Phase::Connecting { id, attempt };
                self.push(Output::Open { id, url, protocols });
            }
            // The same answer again could not work either.
            Err(error) if error.is_invalid_target() => {
                self.cancel(Timer::Connect);
                let reason = error.message();
                self.emit(Event::Error(error));
                self.fail(reason);
            }
            Err(error) => {
                self.cancel(Timer::Connect);
                self.emit(Event::Error(error));
                self.attempt_failed();
            }
        }
    }

    fn opened(&mut self, now: f64, id: SocketId, protocol: String) {
        let Phase::Connecting { id: i, attempt } = self.phase else {
            return;
        };
        if i != id {
            return;
        }
        if let Some(resume) = self.config.resume.filter(|_| RESUME) {
            if protocol == PROTOCOL {
                // Nothing but `hello` until `welcome`: the state stays `Connecting`.
                if let Some(session) = self.session.as_mut().filter(|_| RESUME) {
                    let hello = session.hello();
                    self.push_send(id, hello);
                }
                self.phase = Phase::Greeting {
                    id,
                    attempt,
                    protocol,
                };
                return;
            }
            if resume.fallback == Fallback::Fail {
                let error = Error::Resume {
                    reason: self.not_selected(&protocol),
                };
                let reason = error.message();
                self.emit(Event::Error(error));
                self.fail(reason);
                return;
            }
        }
        self.cancel(Timer::Connect);
        self.count_connect(now);
        self.phase = Phase::Open {
            id,
            protocol: protocol.clone(),
            greeted: false,
            resume: false,
        };
        self.arm_open_timers();
        self.emit(Event::Open { protocol });
    }

    /// A connection opened (for the application): counted, the heartbeat starts over.
    fn count_connect(&mut self, now: f64) {
        self.stats.connects += 1;
        if self.stats.connects > 1 {
            self.stats.reconnects += 1;
        }
        self.last_inbound = now;
        self.ping_sent_at = None;
    }

    fn arm_open_timers(&mut self) {
        self.arm(Timer::Stable, self.config.stable_after_ms);
        if let Some(hb) = &self.config.heartbeat {
            let ms = duration_ms(hb.interval);
            self.arm(Timer::Heartbeat, ms);
        }
    }

    /// Why a resume-mode connection is refused: what the server selected, named by its place
    /// among the application's subprotocols (they may carry tokens), never by its value.
    fn not_selected(&self, protocol: &str) -> String {
        const NOT: &str =
            ", not resocket.resume.v1 (the server does not speak the resume protocol)";
        if protocol.is_empty() {
            return text(&[S("the server selected no subprotocol"), S(NOT)]);
        }
        match self.offered.iter().position(|p| p == protocol) {
            Some(i) => text(&[
                S("the server selected subprotocol number "),
                N(i as u64 + 1),
                S(" of the list"),
                S(NOT),
            ]),
            None => text(&[S("the server selected another subprotocol"), S(NOT)]),
        }
    }

    /// The subprotocols to offer: in resume mode, `resocket.resume.v1` first.
    fn offer(&mut self, protocols: Vec<String>) -> Vec<String> {
        if !RESUME || self.config.resume.is_none() {
            return protocols;
        }
        self.offered = protocols;
        let mut all = Vec::with_capacity(self.offered.len() + 1);
        all.push(String::from(PROTOCOL));
        all.extend(self.offered.iter().filter(|p| *p != PROTOCOL).cloned());
        all
    }

    /// After the `open` event: the outbox goes out in order, behind what `open` listeners sent.
    fn flush(&mut self, now: f64, link: Link) {
        let Phase::Open {
            id,
            greeted,
            resume,
            ..
        } = &mut self.phase
        else {
            return;
        };
        if *greeted {
            return;
        }
        *greeted = true;
        let (id, resume) = (*id, *resume);
        if !link.writable {
            return;
        }
        self.pour(now, id, link, resume);
    }

    /// Sends the outbox in order. Messages no longer wanted (`OnReconnect::Drop` after a lost
    /// connection, `Expire` past their time) are dropped and reported; in resume mode a full
    /// resend buffer that holds back stops it (an ack pours again).
    fn pour(&mut self, now: f64, id: SocketId, link: Link, resume: bool) {
        let (mut dropped, mut expired) = (0, 0);
        while let Some((message, keep)) = self.outbox.pop() {
            match keep {
                Keep::Epoch(epoch) if epoch != self.epoch => dropped += 1,
                Keep::Until(until) if now > until => expired += 1,
                _ if !self.has_room(resume, message.len()) => {
                    self.outbox.requeue_front(message, keep);
                    break;
                }
                _ => self.transmit(id, link, message, keep, resume),
            }
        }
        if dropped + expired > 0 {
            self.emit(Event::Discarded { dropped, expired });
        }
    }

    /// Whether a message of `size` bytes may go out now (resume mode: the resend buffer).
    fn has_room(&self, resume: bool, size: usize) -> bool {
        !resume
            || self
                .session
                .as_ref()
                .filter(|_| RESUME)
                .is_none_or(|s| s.has_room(size))
    }

    fn closed(&mut self, link: Link, id: SocketId, close: CloseEvent, retry: Option<bool>) {
        match self.phase {
            Phase::Connecting { id: i, .. }
            | Phase::Greeting { id: i, .. }
            | Phase::Open { id: i, .. }
                if i == id =>
            {
                self.teardown(id, link);
                let retry = retry.unwrap_or_else(|| default_should_retry(close.code));
                let code = close.code;
                let reason = close.reason.clone();
                self.emit(Event::Disconnected {
                    code,
                    reason: close.reason,
                    was_clean: close.was_clean,
                });
                self.failures = self.failures.saturating_add(1);
                if retry {
                    self.schedule_retry();
                } else {
                    let mut pieces = [
                        S("server closed with code "),
                        N(u64::from(code)),
                        S(" ("),
                        S(&reason),
                        S("), which is not retried"),
                    ];
                    if reason.is_empty() {
                        pieces[2] = S("");
                        pieces[3] = S("");
                        pieces[4] = S(", which is not retried");
                    }
                    self.fail(text(&pieces));
                }
            }
            Phase::Draining { id: i, .. } if i == id => self.settled(link),
            _ => {}
        }
    }

    fn fired(&mut self, now: f64, link: Link, timer: Timer) {
        if !self.armed[timer.index()] {
            return; // cancelled meanwhile (a driver that could not stop it in time)
        }
        self.armed[timer.index()] = false;
        match (timer, &self.phase) {
            (Timer::Connect, Phase::Resolving { .. }) => {
                self.emit(self.timeout_error());
                self.attempt_failed();
            }
            (Timer::Connect, &Phase::Connecting { id, .. } | &Phase::Greeting { id, .. }) => {
                self.push(Output::Release { id });
                self.forget_in_flight();
                self.emit(self.timeout_error());
                self.emit(Event::Disconnected {
                    code: 1006,
                    reason: "connect timeout".into(),
                    was_clean: false,
                });
                self.attempt_failed();
            }
            (Timer::Retry, Phase::Waiting { .. }) => self.connect(),
            (Timer::Stable, Phase::Open { .. }) => self.failures = 0,
            (Timer::Heartbeat, &Phase::Open { id, .. }) => self.heartbeat(now, link, id),
            (Timer::Ack, &Phase::Open { id, .. }) => {
                if let Some(session) = self.session.as_mut().filter(|_| RESUME) {
                    if link.writable && session.unacked() > 0 {
                        let ack = session.ack();
                        self.push_send(id, ack);
                    }
                }
            }
            (Timer::Settle, Phase::Draining { .. }) => self.settled(link),
            _ => {}
        }
    }

    fn timeout_error(&self) -> Event {
        Event::Error(Error::ConnectTimeout {
            url: self.url.clone(),
            after_ms: self.config.connect_timeout_ms,
        })
    }

    fn heartbeat(&mut self, now: f64, link: Link, id: SocketId) {
        let Some(hb) = &self.config.heartbeat else {
            return;
        };
        let interval = hb.interval.as_secs_f64() * 1000.0;
        let timeout = hb.timeout.as_secs_f64() * 1000.0;
        let timeout_ms = duration_ms(hb.timeout).max(1);
        match heartbeat_action(now, self.ping_sent_at, self.last_inbound, interval, timeout) {
            HeartbeatAction::Ping => {
                if link.writable {
                    self.push_ping(id, link);
                }
                self.ping_sent_at = Some(now);
                self.arm(Timer::Heartbeat, timeout_ms);
            }
            HeartbeatAction::Wait(ms) => self.arm(Timer::Heartbeat, ms),
            HeartbeatAction::Dead { silent_ms } => {
                self.emit(Event::HeartbeatTimeout { silent_ms });
                self.drain(Cause::Dead);
            }
        }
    }

    fn wake_up(&mut self) {
        if matches!(self.phase, Phase::Waiting { .. } | Phase::Offline) {
            self.cancel(Timer::Retry);
            self.failures = 0;
            self.connect();
        }
    }

    fn park(&mut self) {
        match self.phase {
            Phase::Open { .. } => {
                self.drain(Cause::Park);
                self.announce_park();
            }
            Phase::Connecting { id, .. } | Phase::Greeting { id, .. } => {
                self.cancel(Timer::Connect);
                self.push(Output::Release { id });
                self.forget_in_flight();
                self.emit(Event::Disconnected {
                    code: 1000,
                    reason: "page hidden".into(),
                    was_clean: true,
                });
                self.enter_parked();
            }
            Phase::Idle | Phase::Resolving { .. } | Phase::Waiting { .. } | Phase::Offline => {
                self.cancel(Timer::Connect);
                self.cancel(Timer::Retry);
                self.enter_parked();
            }
            // Closing already (heartbeat, reconnect): once settled, stay parked instead.
            Phase::Draining { ref mut cause, .. }
                if matches!(*cause, Cause::Dead | Cause::Reconnect) =>
            {
                *cause = Cause::Park;
                self.announce_park();
            }
            // Parked, shown and hidden again before the socket settled: stay parked.
            Phase::Draining { ref mut cause, .. } if *cause == Cause::Resume => {
                *cause = Cause::Park
            }
            _ => {}
        }
    }

    /// The park as the page sees it, at `pagehide`: the socket is gone, the state `Parked`.
    fn announce_park(&mut self) {
        self.emit(Event::Disconnected {
            code: 1000,
            reason: "page hidden".into(),
            was_clean: true,
        });
        self.emit(Event::Parked);
    }

    fn enter_parked(&mut self) {
        self.phase = Phase::Parked;
        self.emit(Event::Parked);
    }

    // ----------------------------------------------------------------------- transitions

    /// Starts an attempt: the provider, or the socket for the fixed URL.
    fn connect(&mut self) {
        self.next_id += 1;
        let id = self.next_id;
        let attempt = self.failures;
        self.arm(Timer::Connect, self.config.connect_timeout_ms);
        match &self.fixed {
            Some(target) => {
                let (url, protocols) = (target.url.clone(), target.protocols.clone());
                let protocols = self.offer(protocols);
                self.phase = Phase::Connecting { id, attempt };
                self.push(Output::Open { id, url, protocols });
            }
            None => {
                self.phase = Phase::Resolving { id, attempt };
                self.push(Output::Resolve { id });
            }
        }
        self.emit(Event::Connecting { attempt });
    }

    /// Closes the open socket ourselves and waits for it to settle (see [`Phase::Draining`]).
    fn drain(&mut self, cause: Cause) {
        let Phase::Open {
            id,
            protocol,
            resume,
            ..
        } = &self.phase
        else {
            return;
        };
        let (id, protocol, resume) = (*id, protocol.clone(), *resume);
        let reason = match cause {
            Cause::Dead => "heartbeat timeout",
            Cause::Reconnect => "reconnect",
            Cause::Park | Cause::Resume => "page hidden",
        };
        self.cancel(Timer::Stable);
        self.cancel(Timer::Heartbeat);
        self.push(Output::Close {
            id,
            code: Some(1000),
            reason: Some(reason.into()),
        });
        self.arm(Timer::Settle, SETTLE_MS);
        self.phase = Phase::Draining {
            id,
            protocol,
            cause,
            resume,
        };
    }

    /// The socket we closed ourselves reported its close, or had its time: what it never sent
    /// goes back to the outbox, then what the cause calls for.
    fn settled(&mut self, link: Link) {
        let Phase::Draining { id, cause, .. } = self.phase else {
            return;
        };
        self.cancel(Timer::Settle);
        self.teardown(id, link);
        let (code, reason, clean) = match cause {
            Cause::Dead => (1006, "heartbeat timeout", false),
            Cause::Reconnect => (1000, "reconnect", true),
            // Announced at `pagehide` already.
            Cause::Park => {
                self.phase = Phase::Parked;
                return;
            }
            Cause::Resume => {
                self.failures = 0;
                self.connect();
                return;
            }
        };
        self.emit(Event::Disconnected {
            code,
            reason: reason.into(),
            was_clean: clean,
        });
        match cause {
            Cause::Dead => {
                self.failures = self.failures.saturating_add(1);
                self.schedule_retry();
            }
            Cause::Reconnect => {
                self.failures = 0;
                self.connect();
            }
            Cause::Park | Cause::Resume => {}
        }
    }

    /// The one teardown of a socket: it is released, its timers cancelled, and the messages it
    /// never sent (its `bufferedAmount` now) go back to the front of the outbox.
    fn teardown(&mut self, id: SocketId, link: Link) {
        if matches!(self.phase, Phase::Open { .. } | Phase::Draining { .. }) {
            self.epoch = self.epoch.wrapping_add(1);
        }
        self.push(Output::Release { id });
        for timer in [
            Timer::Connect,
            Timer::Stable,
            Timer::Heartbeat,
            Timer::Settle,
            Timer::Ack,
        ] {
            self.cancel(timer);
        }
        self.trim_in_flight(id, link.buffered);
        self.in_flight_bytes = 0;
        // Newest first, each to the front: the tail ends up in its order, ahead of the outbox.
        while let Some(sent) = self.in_flight.pop_back() {
            if let Some(message) = sent.message {
                self.stats.requeued += 1;
                self.outbox.requeue_front(message, sent.keep);
            }
        }
    }

    /// A failed attempt (provider error or timeout, connect timeout): counted, then retried.
    fn attempt_failed(&mut self) {
        self.failures = self.failures.saturating_add(1);
        self.schedule_retry();
    }

    /// After `failures` consecutive failures: wait and retry, or give up.
    fn schedule_retry(&mut self) {
        if !retry_allowed(self.config.max_retries, self.failures.saturating_sub(1)) {
            let n = self.failures;
            self.fail(text(&[
                S("gave up after "),
                N(u64::from(n)),
                S(" failed attempts"),
            ]));
            return;
        }
        if !self.online {
            self.phase = Phase::Offline;
            self.emit(Event::Offline);
            return;
        }
        let attempt = self.failures;
        let delay = self
            .config
            .backoff
            .delay(attempt.saturating_sub(1), self.rng.next_f64());
        self.phase = Phase::Waiting { attempt, delay };
        self.arm(Timer::Retry, duration_ms(delay));
        self.emit(Event::Reconnecting { attempt, delay });
    }

    /// Stops for good. The outbox is kept: `close()` hands it back.
    fn fail(&mut self, reason: String) {
        if let Some(id) = self.socket() {
            self.push(Output::Release { id });
        }
        self.cancel_all();
        self.forget_in_flight();
        self.phase = Phase::Failed {
            reason: reason.clone(),
        };
        self.emit(Event::Failed { reason });
    }

    // ----------------------------------------------------------------------- helpers

    /// A user call ends or restarts the lifecycle from inside an event: what is still queued of
    /// the interrupted dispatch is dropped, but the IO that must happen stays (a dropped arm
    /// becomes a cancel, so the timer ends up disarmed whatever the driver did before), and so
    /// do overflow reports: messages already dropped must be reported (they come before the
    /// final event of a `close()`).
    fn interrupt(&mut self, reconnecting: bool) {
        // A `reconnect()` while parked leaves the state `Parked`: its announcement stays.
        let parked = reconnecting
            && matches!(
                self.phase,
                Phase::Draining {
                    cause: Cause::Park | Cause::Resume,
                    ..
                }
            );
        let pending = core::mem::take(&mut self.out);
        for output in pending {
            match output {
                Output::Emit(Event::OutboxOverflow { .. }) => self.out.push_back(output),
                Output::Emit(Event::Parked) if parked => self.out.push_back(output),
                Output::Emit(_) | Output::Open { .. } | Output::Resolve { .. } => {}
                Output::Arm { timer, .. } => {
                    self.armed[timer.index()] = false;
                    self.out.push_back(Output::Cancel(timer));
                }
                other => self.out.push_back(other),
            }
        }
    }

    // `push`, `emit`, `arm` and `cancel` are called from dozens of places: kept out of line,
    // each call site is a call, not a copy of the queue's push (0.26 KB gzip in the wasm).
    #[inline(never)]
    fn push(&mut self, output: Output) {
        self.out.push_back(output);
    }

    #[inline(never)]
    fn emit(&mut self, event: Event) {
        self.out.push_back(Output::Emit(event));
    }

    #[inline(never)]
    fn arm(&mut self, timer: Timer, ms: u32) {
        self.armed[timer.index()] = true;
        self.push(Output::Arm { timer, ms });
    }

    #[inline(never)]
    fn cancel(&mut self, timer: Timer) {
        if self.armed[timer.index()] {
            self.armed[timer.index()] = false;
            self.push(Output::Cancel(timer));
        }
    }

    fn cancel_all(&mut self) {
        for timer in Timer::ALL {
            self.cancel(timer);
        }
    }

    fn forget_in_flight(&mut self) {
        self.in_flight.clear();
        self.in_flight_bytes = 0;
    }

    /// Forgets the messages whose bytes have all left the browser: of what was handed to
    /// socket `id`, all but the last `buffered` bytes and those of the sends still queued (the
    /// browser sends in order).
    fn trim_in_flight(&mut self, id: SocketId, buffered: u64) {
        let queued = if self.queued.0 == id {
            self.queued.1
        } else {
            0
        };
        let mut left = self
            .in_flight_bytes
            .saturating_sub(buffered.saturating_add(queued));
        while let Some(front) = self.in_flight.front() {
            let size = front.size as u64;
            if size > left {
                break;
            }
            left -= size;
            self.in_flight_bytes -= size;
            self.in_flight.pop_front();
        }
    }

    /// Hands a message to socket `id` and records it as in flight.
    /// In resume mode the message gets its seq and stays in the session's resend buffer
    /// until acknowledged instead (with an `ackreq` when the buffer passes half its bound).
    fn transmit(&mut self, id: SocketId, link: Link, message: Message, keep: Keep, resume: bool) {
        let size = message.len();
        self.stats.messages_out += 1;
        self.stats.bytes_out += size as u64;
        if resume {
            if let Some(session) = self.session.as_mut().filter(|_| RESUME) {
                let (wire, ackreq) = session.push(&message);
                self.push_send(id, wire);
                if let Some(ackreq) = ackreq {
                    self.push_send(id, ackreq);
                }
            }
            return;
        }
        self.trim_in_flight(id, link.buffered);
        self.in_flight_bytes += size as u64;
        self.in_flight.push_back(Sent {
            size,
            message: Some(message.clone()),
            keep,
        });
        self.push_send(id, message);
    }

    /// Sends the heartbeat ping: in flight too (its bytes count in `bufferedAmount`), but never
    /// resent.
    fn push_ping(&mut self, id: SocketId, link: Link) {
        if RESUME && matches!(self.phase, Phase::Open { resume: true, .. }) {
            // A control frame: never an app message (that would take a seq).
            self.push_send(id, resume::control(Control::Ping));
            return;
        }
        let Some(hb) = &self.config.heartbeat else {
            return;
        };
        let message = hb.message.clone();
        self.trim_in_flight(id, link.buffered);
        let size = message.len();
        self.in_flight_bytes += size as u64;
        self.in_flight.push_back(Sent {
            size,
            message: None,
            keep: Keep::Always,
        });
        self.push_send(id, message);
    }

    /// Queues a `Send`, counting its bytes until the driver takes it.
    fn push_send(&mut self, id: SocketId, message: Message) {
        if self.queued.0 != id {
            self.queued = (id, 0);
        }
        self.queued.1 += message.len() as u64;
        self.push(Output::Send { id, message });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::Jitter;
    use crate::outbox::Overflow;
    use alloc::vec;

    const URL: &str = "ws://test.invalid/socket";

    fn config(edit: impl FnOnce(Options) -> Options) -> Config {
        Config::from_options(&edit(Options::default()))
    }

    fn fixed(config: Config) -> Machine {
        let target = crate::url::target(URL, Vec::new(), false);
        Machine::new(config, target.ok(), 7)
    }

    fn provided(config: Config) -> Machine {
        Machine::new(config, None, 7)
    }

    /// Everything queued, as the driver would take it.
    fn outputs(m: &mut Machine) -> Vec<Output> {
        core::iter::from_fn(|| m.poll_output()).collect()
    }

    fn events(outputs: &[Output]) -> Vec<Event> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Emit(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    fn sends(outputs: &[Output]) -> Vec<Message> {
        outputs
            .iter()
            .filter_map(|o| match o {
                Output::Send { message, .. } => Some(message.clone()),
                _ => None,
            })
            .collect()
    }

    fn open_link(buffered: u64) -> Link {
        Link {
            buffered,
            writable: true,
        }
    }

    fn msg(text: &str) -> Message {
        Message::from(text)
    }

    fn closed(code: u16) -> CloseEvent {
        CloseEvent {
            code,
            reason: String::new(),
            was_clean: code != 1006,
        }
    }

    /// The id of the socket an `Open` output asks for.
    fn opened_id(outputs: &[Output]) -> SocketId {
        outputs
            .iter()
            .find_map(|o| match o {
                Output::Open { id, .. } => Some(*id),
                _ => None,
            })
            .expect("no Open output")
    }

    /// Starts `m` (fixed URL) and opens its socket, `open` event delivered: the socket's id.
    fn start_open(m: &mut Machine, now: f64) -> SocketId {
        m.handle(now, Link::default(), Input::Start { online: true });
        let id = opened_id(&outputs(m));
        open_again(m, now, id)
    }

    /// Opens socket `id` (already asked for) and delivers its `open` event.
    fn open_again(m: &mut Machine, now: f64, id: SocketId) -> SocketId {
        m.handle(
            now,
            Link::default(),
            Input::Opened {
                id,
                protocol: String::new(),
            },
        );
        outputs(m);
        m.handle(now, open_link(0), Input::OpenDelivered);
        outputs(m);
        id
    }

    #[test]
    fn reconnect_while_waiting_disarms_the_retry_timer() {
        // Found by the simulator (seed 3): the pending retry stayed armed through the new
        // attempt, a timer firing for nothing.
        let mut m = fixed(config(|o| o));
        m.handle(0.0, Link::default(), Input::Start { online: true });
        let id = opened_id(&outputs(&mut m));
        m.handle(
            5.0,
            Link::default(),
            Input::Closed {
                id,
                close: closed(1006),
                retry: None,
            },
        );
        outputs(&mut m);
        assert!(matches!(m.state(), State::Reconnecting { attempt: 1, .. }));
        m.handle(6.0, Link::default(), Input::Reconnect);
        let out = outputs(&mut m);
        assert!(out.contains(&Output::Cancel(Timer::Retry)), "{out:?}");
        assert!(!m.armed()[Timer::Retry.index()]);
        assert_eq!(m.state(), State::Connecting { attempt: 0 });
    }

    #[test]
    fn sends_queued_behind_an_event_count_as_in_flight() {
        // Found by the simulator (seed 3): two sends from inside the `open` event. The second
        // trimmed in-flight against a bufferedAmount that did not hold the first yet (its Send
        // output was still queued), so the first was taken for sent, and lost with the link.
        let mut m = fixed(config(|o| o));
        m.handle(0.0, Link::default(), Input::Start { online: true });
        let id = opened_id(&outputs(&mut m));
        m.handle(
            1.0,
            Link::default(),
            Input::Opened {
                id,
                protocol: String::new(),
            },
        );
        // The driver takes the `open` event; the user sends twice from inside it.
        while !matches!(m.poll_output(), Some(Output::Emit(Event::Open { .. }))) {}
        m.send(open_link(0), msg("auth")).unwrap();
        m.send(open_link(0), msg("subscribe")).unwrap();
        assert_eq!(m.stats().in_flight, 2);
        m.handle(1.0, open_link(0), Input::OpenDelivered);
        assert_eq!(sends(&outputs(&mut m)), vec![msg("auth"), msg("subscribe")]);
        // The link dies before either left the browser.
        m.handle(
            2.0,
            open_link(13),
            Input::Closed {
                id,
                close: closed(1006),
                retry: None,
            },
        );
        outputs(&mut m);
        assert_eq!(m.stats().requeued, 2);
        assert_eq!(
            m.close(None, None).unwrap(),
            vec![msg("auth"), msg("subscribe")]
        );
    }

    /// Takes outputs up to (and including) the first event `wanted` matches; fails the test if
    /// there is none (rather than spinning forever).
    fn take_until(m: &mut Machine, wanted: impl Fn(&Event) -> bool) {
        loop {
            match m.poll_output() {
                Some(Output::Emit(e)) if wanted(&e) => return,
                Some(_) => {}
                None => panic!("the awaited event never came"),
            }
        }
    }

    /// The connect timeout's dispatch, taken up to (and including) its `Error` event.
    fn time_out_into_error_event(m: &mut Machine) {
        m.handle(0.0, Link::default(), Input::Start { online: true });
        outputs(m);
        m.handle(10_000.0, Link::default(), Input::Fired(Timer::Connect));
        take_until(m, |e| matches!(e, Event::Error(_)));
    }

    #[test]
    fn overflow_reports_survive_an_interrupt() {
        // Found by the simulator (seed 5): a send from inside an event dropped a message and
        // queued its overflow event; reconnect() from the next event dropped that event with
        // the rest of the dispatch, and the loss was never reported.
        let full = || config(|o| o.outbox(1, 1 << 20, Overflow::DropNewest));
        let mut m = fixed(full());
        time_out_into_error_event(&mut m);
        m.send(Link::default(), msg("a")).unwrap();
        m.send(Link::default(), msg("b")).unwrap(); // dropped
        m.handle(10_000.0, Link::default(), Input::Reconnect);
        let out = events(&outputs(&mut m));
        assert!(
            out.contains(&Event::OutboxOverflow { dropped: 1 }),
            "{out:?}"
        );
        assert!(
            !out.iter().any(|e| matches!(e, Event::Reconnecting { .. })),
            "{out:?}"
        );

        // close() too: the report comes before the final event, nothing after it.
        let mut m = fixed(full());
        time_out_into_error_event(&mut m);
        m.send(Link::default(), msg("a")).unwrap();
        m.send(Link::default(), msg("b")).unwrap();
        assert_eq!(m.close(None, None).unwrap(), vec![msg("a")]);
        assert_eq!(
            events(&outputs(&mut m)),
            vec![
                Event::OutboxOverflow { dropped: 1 },
                Event::Closed {
                    code: 1005,
                    reason: String::new(),
                    unsent: 1
                }
            ]
        );
    }

    #[test]
    fn close_reports_the_code_it_sent() {
        // Issue 18: close() without a code sends a close frame without one (the server sees
        // 1005), so the state and the event say 1005, not 1000.
        for (asked, reported) in [(None, 1005), (Some(1000), 1000), (Some(4001), 4001)] {
            let mut m = fixed(config(|o| o));
            let id = start_open(&mut m, 0.0);
            m.close(asked, None).unwrap();
            let out = outputs(&mut m);
            assert!(
                out.contains(&Output::Close {
                    id,
                    code: asked,
                    reason: None
                }),
                "{out:?}"
            );
            assert!(
                events(&out).contains(&Event::Closed {
                    code: reported,
                    reason: String::new(),
                    unsent: 0
                }),
                "{out:?}"
            );
            assert_eq!(
                m.state(),
                State::Closed {
                    code: reported,
                    reason: String::new()
                }
            );
        }
    }

    #[test]
    fn pagehide_while_draining_parks() {
        // Found by the simulator (seed 34): pagehide while the heartbeat's (or reconnect()'s)
        // close was settling was ignored; the machine then retried from the back/forward cache.
        for first in [Input::Reconnect, Input::Fired(Timer::Heartbeat)] {
            let hb = Heartbeat::new("ping", Duration::from_millis(10), Duration::from_millis(10));
            let mut m = fixed(config(|o| o.heartbeat(hb)));
            let id = start_open(&mut m, 0.0);
            if matches!(first, Input::Fired(_)) {
                m.handle(10.0, open_link(0), Input::Fired(Timer::Heartbeat)); // ping
                outputs(&mut m);
            }
            m.handle(20.0, open_link(4), first);
            outputs(&mut m);
            assert!(m.closing());
            m.handle(21.0, open_link(4), Input::PageHidden);
            // Announced at pagehide: a page frozen in the cache runs the close event only later.
            assert_eq!(events(&outputs(&mut m)).last(), Some(&Event::Parked));
            assert_eq!(m.state(), State::Parked);
            let close = closed(1000);
            let retry = None;
            m.handle(22.0, open_link(4), Input::Closed { id, close, retry });
            let out = outputs(&mut m);
            assert_eq!(m.state(), State::Parked, "{out:?}");
            assert!(events(&out).is_empty(), "{out:?}");
            assert!(!out
                .iter()
                .any(|o| matches!(o, Output::Arm { .. } | Output::Open { .. })));
            m.handle(30.0, Link::default(), Input::PageShown);
            assert_eq!(m.state(), State::Connecting { attempt: 0 });
        }
    }

    #[test]
    fn reconnect_from_the_heartbeat_timeout_event_still_settles() {
        // Found by the simulator (seed 100): reconnect() from inside `heartbeattimeout`
        // interrupted the dispatch, whose Arm(Settle) became a Cancel; the machine then waited
        // forever for the close event of a dead link.
        // A 4 ms timeout: the shortest there is (MIN_TIMEOUT_MS).
        let hb = Heartbeat::new("ping", Duration::from_millis(1), Duration::from_millis(4));
        let mut m = fixed(config(|o| o.heartbeat(hb)));
        let id = start_open(&mut m, 0.0);
        m.handle(1.0, open_link(0), Input::Fired(Timer::Heartbeat)); // ping
        outputs(&mut m);
        m.handle(5.0, open_link(4), Input::Fired(Timer::Heartbeat)); // dead
        take_until(&mut m, |e| matches!(e, Event::HeartbeatTimeout { .. }));
        m.handle(5.0, open_link(4), Input::Reconnect);
        let out = outputs(&mut m);
        assert!(m.closing());
        assert!(m.armed()[Timer::Settle.index()], "{out:?}");
        let armed_last = out.iter().rev().find_map(|o| match o {
            Output::Arm { timer, .. } | Output::Cancel(timer) if *timer == Timer::Settle => {
                Some(matches!(o, Output::Arm { .. }))
            }
            _ => None,
        });
        assert_eq!(armed_last, Some(true), "{out:?}");
        // The link never answers: the settle timer moves on, to a fresh attempt.
        m.handle(255.0, open_link(4), Input::Fired(Timer::Settle));
        let out = outputs(&mut m);
        assert!(out.contains(&Output::Release { id }), "{out:?}");
        assert_eq!(m.state(), State::Connecting { attempt: 0 });
    }

    fn no_jitter() -> Backoff {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(10),
            factor: 2.0,
            jitter: Jitter::None,
        }
    }

    #[test]
    fn close_after_failed_hands_back_the_outbox_once() {
        let mut m = fixed(config(|o| o.max_retries(0)));
        m.handle(0.0, Link::default(), Input::Start { online: true });
        let id = opened_id(&outputs(&mut m));
        m.send(Link::default(), msg("a")).unwrap();
        m.send(Link::default(), msg("b")).unwrap();
        let close = closed(1006);
        m.handle(
            5.0,
            Link::default(),
            Input::Closed {
                id,
                close,
                retry: None,
            },
        );
        let out = outputs(&mut m);
        assert!(matches!(m.state(), State::Failed { .. }), "{out:?}");
        assert!(matches!(events(&out).last(), Some(Event::Failed { .. })));
        assert_eq!(m.armed(), [false; 6]);
        assert!(matches!(
            m.send(Link::default(), msg("c")),
            Err(Error::Failed { .. })
        ));
        assert_eq!(m.stats().outbox_len, 2, "the outbox is kept for close()");
        assert_eq!(m.close(None, None).unwrap(), vec![msg("a"), msg("b")]);
        assert_eq!(
            m.close(None, None).unwrap(),
            Vec::<Message>::new(),
            "only once"
        );
        assert!(outputs(&mut m).is_empty(), "no event after Failed");
        assert!(matches!(m.state(), State::Failed { .. }));
    }

    #[test]
    fn a_failing_provider_grows_the_backoff_and_fails_after_max_retries_plus_one() {
        let mut m = provided(config(|o| o.backoff(no_jitter()).max_retries(2)));
        m.handle(0.0, Link::default(), Input::Start { online: true });
        let mut now = 0.0;
        let mut delays = Vec::new();
        for attempt in 0..3 {
            let out = outputs(&mut m);
            let id = out
                .iter()
                .find_map(|o| match o {
                    Output::Resolve { id } => Some(*id),
                    _ => None,
                })
                .expect("no provider call");
            assert!(
                events(&out).contains(&Event::Connecting { attempt }),
                "{out:?}"
            );
            let result = Err(Error::Js {
                message: "401".into(),
            });
            m.handle(now, Link::default(), Input::Resolved { id, result });
            let out = events(&outputs(&mut m));
            match out.last() {
                Some(Event::Reconnecting { attempt: a, delay }) => {
                    assert_eq!(*a, attempt + 1);
                    delays.push(delay.as_millis());
                    now += delay.as_millis() as f64;
                    m.handle(now, Link::default(), Input::Fired(Timer::Retry));
                }
                Some(Event::Failed { reason }) => {
                    assert_eq!(attempt, 2, "{reason}");
                    assert_eq!(reason, "gave up after 3 failed attempts");
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(delays, vec![100, 200], "the backoff grows");
        assert!(matches!(m.state(), State::Failed { .. }));
        assert_eq!(m.armed(), [false; 6]);
    }

    #[test]
    fn a_hanging_provider_is_cut_off_by_the_connect_timeout() {
        let mut m = provided(config(|o| {
            o.backoff(no_jitter())
                .connect_timeout(Duration::from_millis(500))
                .max_retries(1)
        }));
        m.handle(0.0, Link::default(), Input::Start { online: true });
        let out = outputs(&mut m);
        assert!(out.contains(&Output::Arm {
            timer: Timer::Connect,
            ms: 500
        }));
        assert!(out.contains(&Output::Resolve { id: 1 }));
        // The provider never answers.
        m.handle(500.0, Link::default(), Input::Fired(Timer::Connect));
        let out = events(&outputs(&mut m));
        assert!(matches!(
            out.as_slice(),
            [
                Event::Error(Error::ConnectTimeout { after_ms: 500, .. }),
                Event::Reconnecting { attempt: 1, .. }
            ]
        ));
        // Its late answer changes nothing.
        let result = crate::url::target(URL, Vec::new(), false);
        m.handle(700.0, Link::default(), Input::Resolved { id: 1, result });
        assert!(outputs(&mut m).is_empty());
        assert!(matches!(m.state(), State::Reconnecting { attempt: 1, .. }));
        // The second hang uses up max_retries(1): two failed attempts.
        m.handle(700.0, Link::default(), Input::Fired(Timer::Retry));
        outputs(&mut m);
        m.handle(1200.0, Link::default(), Input::Fired(Timer::Connect));
        let out = events(&outputs(&mut m));
        assert!(
            matches!(out.last(), Some(Event::Failed { reason }) if reason == "gave up after 2 failed attempts"),
            "{out:?}"
        );
    }

    #[test]
    fn in_flight_stays_bounded_while_buffered_amount_stays_high() {
        // A Sink held near its high-water mark: bufferedAmount never reads 0. The old code kept
        // a copy of every message of the connection until it did.
        let mut m = fixed(config(|o| o));
        start_open(&mut m, 0.0);
        let payload = Message::Binary(vec![7; 100]);
        let mut most = 0;
        for i in 0..10_000u64 {
            // About 1000 bytes still buffered at every send (+/- one message).
            let buffered = 1000 + (i % 3) * 50;
            m.send(open_link(buffered), payload.clone()).unwrap();
            outputs(&mut m);
            most = most.max(m.stats().in_flight);
        }
        assert!(most <= 12, "{most} messages kept in flight");
        assert_eq!(m.stats().messages_out, 10_000);
    }

    #[test]
    fn heartbeat_pings_count_in_flight_and_are_never_requeued() {
        // The old code left pings out of in-flight: their bytes in bufferedAmount were taken
        // for the last application message, which was requeued and sent twice.
        let hb = Heartbeat::new("ping", Duration::from_millis(10), Duration::from_millis(50));
        let mut m = fixed(config(|o| o.heartbeat(hb)));
        let id = start_open(&mut m, 0.0);
        m.send(open_link(0), msg("hello")).unwrap();
        outputs(&mut m);
        // "hello" has left; the ping goes out.
        m.handle(10.0, open_link(0), Input::Fired(Timer::Heartbeat));
        assert_eq!(sends(&outputs(&mut m)), vec![msg("ping")]);
        assert_eq!(m.stats().in_flight, 1, "the ping (hello has left)");
        // The link dies with only the ping unsent.
        let close = closed(1006);
        m.handle(
            20.0,
            open_link(4),
            Input::Closed {
                id,
                close,
                retry: None,
            },
        );
        outputs(&mut m);
        assert_eq!(m.stats().requeued, 0);
        assert!(m.outbox_is_empty());
        // With the ping and "hello" both unsent, only "hello" comes back.
        let hb = Heartbeat::new("ping", Duration::from_millis(10), Duration::from_millis(50));
        let mut m = fixed(config(|o| o.heartbeat(hb)));
        let id = start_open(&mut m, 0.0);
        m.send(open_link(0), msg("hello")).unwrap();
        outputs(&mut m);
        m.handle(10.0, open_link(5), Input::Fired(Timer::Heartbeat));
        outputs(&mut m);
        let close = closed(1006);
        m.handle(
            20.0,
            open_link(9),
            Input::Closed {
                id,
                close,
                retry: None,
            },
        );
        outputs(&mut m);
        assert_eq!(m.close(None, None).unwrap(), vec![msg("hello")]);
    }

    #[test]
    fn close_from_inside_an_event_drops_the_rest_of_the_dispatch() {
        let mut m = fixed(config(|o| o));
        m.handle(0.0, Link::default(), Input::Start { online: true });
        outputs(&mut m);
        // The connect timeout's dispatch: Release, Error, Disconnected, Arm(Retry), Reconnecting.
        m.handle(10_000.0, Link::default(), Input::Fired(Timer::Connect));
        let first = m.poll_output();
        assert!(matches!(first, Some(Output::Release { .. })), "{first:?}");
        assert!(matches!(
            m.poll_output(),
            Some(Output::Emit(Event::Error(_)))
        ));
        // The user closes from inside `error`.
        assert_eq!(
            m.close(Some(4000), Some("bye")).unwrap(),
            Vec::<Message>::new()
        );
        let rest = outputs(&mut m);
        assert_eq!(
            events(&rest),
            vec![Event::Closed {
                code: 4000,
                reason: "bye".into(),
                unsent: 0
            }],
            "{rest:?}"
        );
        assert!(rest.contains(&Output::Cancel(Timer::Retry)), "{rest:?}");
        assert!(
            !rest.iter().any(|o| matches!(o, Output::Arm { .. })),
            "{rest:?}"
        );
        assert_eq!(m.armed(), [false; 6]);
        assert_eq!(
            m.state(),
            State::Closed {
                code: 4000,
                reason: "bye".into()
            }
        );
        // Nothing afterwards.
        m.handle(10_100.0, Link::default(), Input::Fired(Timer::Retry));
        m.handle(10_100.0, Link::default(), Input::Reconnect);
        assert!(outputs(&mut m).is_empty());
    }

    #[test]
    fn reconnect_while_open_drains_and_requeues_the_unsent_tail_in_order() {
        let mut m = fixed(config(|o| o));
        let id = start_open(&mut m, 0.0);
        m.send(open_link(0), msg("a")).unwrap();
        m.send(open_link(1), msg("bb")).unwrap();
        m.send(open_link(3), msg("ccc")).unwrap();
        outputs(&mut m);
        m.handle(10.0, open_link(6), Input::Reconnect);
        let out = outputs(&mut m);
        assert_eq!(
            out,
            vec![
                Output::Cancel(Timer::Stable),
                Output::Close {
                    id,
                    code: Some(1000),
                    reason: Some("reconnect".into())
                },
                Output::Arm {
                    timer: Timer::Settle,
                    ms: SETTLE_MS
                },
            ]
        );
        assert!(m.closing() && !m.accepts());
        // Sends while draining wait behind the tail.
        let closing = Link {
            buffered: 5,
            writable: false,
        };
        m.send(closing, msg("d")).unwrap();
        assert!(outputs(&mut m).is_empty());
        // The socket closes with "bb" and "ccc" never sent ("a" left).
        let close = closed(1000);
        m.handle(
            20.0,
            closing,
            Input::Closed {
                id,
                close,
                retry: None,
            },
        );
        let out = outputs(&mut m);
        assert!(out.contains(&Output::Release { id }));
        assert!(events(&out).contains(&Event::Disconnected {
            code: 1000,
            reason: "reconnect".into(),
            was_clean: true
        }));
        assert_eq!(m.stats().requeued, 2);
        assert_eq!(m.state(), State::Connecting { attempt: 0 });
        let next = opened_id(&out);
        assert_ne!(next, id);
        m.handle(
            30.0,
            Link::default(),
            Input::Opened {
                id: next,
                protocol: String::new(),
            },
        );
        outputs(&mut m);
        m.handle(30.0, open_link(0), Input::OpenDelivered);
        assert_eq!(
            sends(&outputs(&mut m)),
            vec![msg("bb"), msg("ccc"), msg("d")]
        );
    }

    #[test]
    fn pagehide_parks_and_pageshow_reconnects_at_once_with_the_outbox_kept() {
        let mut m = fixed(config(|o| o.backoff(no_jitter())));
        let id = start_open(&mut m, 0.0);
        m.handle(5.0, open_link(0), Input::PageHidden);
        let out = outputs(&mut m);
        assert!(out.contains(&Output::Close {
            id,
            code: Some(1000),
            reason: Some("page hidden".into())
        }));
        // Parked at once, as the page sees it: the socket's close event may come only after
        // the page is back from the cache.
        assert_eq!(
            events(&out),
            vec![
                Event::Disconnected {
                    code: 1000,
                    reason: "page hidden".into(),
                    was_clean: true
                },
                Event::Parked
            ]
        );
        assert_eq!(m.state(), State::Parked);
        let closing = Link {
            buffered: 0,
            writable: false,
        };
        m.send(closing, msg("kept")).unwrap();
        let close = closed(1000);
        m.handle(
            6.0,
            closing,
            Input::Closed {
                id,
                close,
                retry: None,
            },
        );
        let out = outputs(&mut m);
        assert!(events(&out).is_empty(), "{out:?}");
        assert_eq!(m.state(), State::Parked);
        assert_eq!(m.armed(), [false; 6], "nothing runs in the cache");
        // Online/visibility changes while cached change nothing.
        m.handle(7.0, Link::default(), Input::Online(true));
        m.handle(7.0, Link::default(), Input::Visible(true));
        assert!(outputs(&mut m).is_empty());
        // Shown again: a fresh attempt at once (no backoff), the outbox still there.
        m.handle(60_000.0, Link::default(), Input::PageShown);
        let out = outputs(&mut m);
        assert_eq!(events(&out), vec![Event::Connecting { attempt: 0 }]);
        let next = opened_id(&out);
        m.handle(
            60_010.0,
            Link::default(),
            Input::Opened {
                id: next,
                protocol: String::new(),
            },
        );
        outputs(&mut m);
        m.handle(60_010.0, open_link(0), Input::OpenDelivered);
        assert_eq!(sends(&outputs(&mut m)), vec![msg("kept")]);

        // Hidden while still connecting: released at once, parked.
        let mut m = fixed(config(|o| o));
        m.handle(0.0, Link::default(), Input::Start { online: true });
        let id = opened_id(&outputs(&mut m));
        m.handle(1.0, Link::default(), Input::PageHidden);
        let out = outputs(&mut m);
        assert!(out.contains(&Output::Release { id }));
        assert_eq!(m.state(), State::Parked);
        assert_eq!(m.armed(), [false; 6]);
    }

    // ----------------------------------------------------------------------- resume mode

    /// The resume protocol's client side (the cargo feature `resume`).
    #[cfg(feature = "resume")]
    mod resume_mode {
        use super::*;

        const SID: &str = "0123456789abcdef0123456789abcdef";

        fn resumable(edit: impl FnOnce(crate::Resume) -> crate::Resume) -> Machine {
            let target = crate::url::target(URL, vec![String::from("app.v1")], false);
            Machine::new(
                config(|o| o.resume(edit(crate::Resume::default()))),
                target.ok(),
                7,
            )
        }

        /// After a failure: the next socket asked for (firing the retry timer if it waits).
        fn next_socket(m: &mut Machine, now: f64) -> SocketId {
            let out = outputs(m);
            if out.iter().any(|o| matches!(o, Output::Open { .. })) {
                return opened_id(&out);
            }
            m.handle(now, Link::default(), Input::Fired(Timer::Retry));
            opened_id(&outputs(m))
        }

        fn text_of(m: &Message) -> &str {
            match m {
                Message::Text(t) => t,
                Message::Binary(_) => "<binary>",
            }
        }

        fn wire(outputs: &[Output]) -> Vec<String> {
            sends(outputs)
                .iter()
                .map(|m| String::from(text_of(m)))
                .collect()
        }

        fn frame(m: &mut Machine, now: f64, id: SocketId, text: &str) -> Take {
            m.received_frame(now, open_link(0), id, Received::Text(text))
        }

        fn welcome(resumed: bool, recv: u64, sent: u64) -> String {
            Control::Welcome {
                sid: SID.into(),
                resumed,
                recv,
                sent,
            }
            .encode()
        }

        /// Connects and opens socket the next socket with the protocol selected: its id, and
        /// the outputs up to `hello`.
        fn greet(m: &mut Machine, now: f64) -> (SocketId, Vec<Output>) {
            m.handle(now, Link::default(), Input::Start { online: true });
            let out = outputs(m);
            let id = opened_id(&out);
            reopen(m, now, id)
        }

        fn reopen(m: &mut Machine, now: f64, id: SocketId) -> (SocketId, Vec<Output>) {
            m.handle(
                now,
                open_link(0),
                Input::Opened {
                    id,
                    protocol: PROTOCOL.into(),
                },
            );
            (id, outputs(m))
        }

        #[test]
        fn resume_offers_the_protocol_first_and_says_hello_before_anything() {
            let mut m = resumable(|r| r);
            m.handle(0.0, Link::default(), Input::Start { online: true });
            let out = outputs(&mut m);
            let protocols = out.iter().find_map(|o| match o {
                Output::Open { protocols, .. } => Some(protocols.clone()),
                _ => None,
            });
            assert_eq!(protocols, Some(vec![PROTOCOL.into(), "app.v1".into()]));
            // Queued before the socket opens: it waits for `welcome`.
            m.send(Link::default(), msg("early")).unwrap();
            let (id, out) = reopen(&mut m, 1.0, opened_id(&out));
            assert_eq!(
                wire(&out),
                vec!["\0{\"t\":\"hello\",\"sid\":null,\"recv\":0}"]
            );
            assert!(events(&out).is_empty(), "no Open before welcome: {out:?}");
            assert_eq!(m.state(), State::Connecting { attempt: 0 });
            // Sends while greeting wait too.
            m.send(open_link(0), msg("\0also")).unwrap();
            assert!(outputs(&mut m).is_empty());
            assert_eq!(frame(&mut m, 2.0, id, &welcome(false, 0, 0)), Take::Drop);
            let out = outputs(&mut m);
            assert!(out.contains(&Output::Cancel(Timer::Connect)));
            assert_eq!(
                events(&out),
                vec![
                    Event::Open {
                        protocol: PROTOCOL.into()
                    },
                    Event::Resumed {
                        resumed: false,
                        resent: 0,
                        replayed: 0
                    }
                ]
            );
            assert_eq!(wire(&out), vec!["\0{\"t\":\"from\",\"seq\":1}"]);
            m.handle(2.0, open_link(0), Input::OpenDelivered);
            // The outbox, in order, the app text starting with U+0000 escaped.
            assert_eq!(wire(&outputs(&mut m)), vec!["early", "\0\0also"]);
            assert_eq!(m.state(), State::Open);
        }

        #[test]
        fn a_server_without_the_protocol_fails_clearly_or_falls_back() {
            for (selected, expected) in [
                (
                    "",
                    "the server selected no subprotocol, not resocket.resume.v1",
                ),
                (
                    "app.v1",
                    "the server selected subprotocol number 1 of the list",
                ),
            ] {
                let mut m = resumable(|r| r);
                m.handle(0.0, Link::default(), Input::Start { online: true });
                let id = opened_id(&outputs(&mut m));
                m.handle(
                    1.0,
                    open_link(0),
                    Input::Opened {
                        id,
                        protocol: selected.into(),
                    },
                );
                let out = outputs(&mut m);
                assert!(sends(&out).is_empty(), "no hello: {out:?}");
                assert!(out.contains(&Output::Release { id }));
                let State::Failed { reason } = m.state() else {
                    panic!("{:?}", m.state())
                };
                assert!(reason.contains(expected), "{reason}");
                assert!(!reason.contains("app.v1"), "named by place: {reason}");
                assert_eq!(m.armed(), [false; 6], "no reconnect loop");
            }
            // Fallback: plain mode for that connection.
            let mut m = resumable(|r| r.fallback(Fallback::Plain));
            m.handle(0.0, Link::default(), Input::Start { online: true });
            let id = opened_id(&outputs(&mut m));
            m.handle(
                1.0,
                open_link(0),
                Input::Opened {
                    id,
                    protocol: String::new(),
                },
            );
            assert_eq!(
                events(&outputs(&mut m)),
                vec![Event::Open {
                    protocol: String::new()
                }]
            );
            m.handle(1.0, open_link(0), Input::OpenDelivered);
            m.send(open_link(0), msg("\0raw")).unwrap();
            assert_eq!(
                wire(&outputs(&mut m)),
                vec!["\0raw"],
                "no escaping in plain mode"
            );
            assert_eq!(frame(&mut m, 2.0, id, "\0{\"t\":\"ping\"}"), Take::Deliver);
        }

        #[test]
        fn resume_exactly_once_across_a_drop_with_replay_gap_and_acks() {
            let mut m = resumable(|r| r);
            let (id, _) = greet(&mut m, 0.0);
            frame(&mut m, 1.0, id, &welcome(false, 0, 0));
            outputs(&mut m);
            m.handle(1.0, open_link(0), Input::OpenDelivered);
            assert_eq!(
                frame(&mut m, 1.0, id, "\0{\"t\":\"from\",\"seq\":1}"),
                Take::Drop
            );
            assert_eq!(frame(&mut m, 2.0, id, "tick 1"), Take::Deliver);
            assert_eq!(
                m.received_frame(2.0, open_link(0), id, Received::Binary(3)),
                Take::Deliver,
                "binary is an app message too"
            );
            assert_eq!(frame(&mut m, 2.0, id, "\0\0x"), Take::Unescape);
            let out = outputs(&mut m);
            assert!(out.contains(&Output::Arm {
                timer: Timer::Ack,
                ms: resume::ACK_DELAY_MS
            }));
            m.handle(202.0, open_link(0), Input::Fired(Timer::Ack));
            assert_eq!(wire(&outputs(&mut m)), vec!["\0{\"t\":\"ack\",\"seq\":3}"]);
            for s in ["a", "b", "c"] {
                m.send(open_link(0), msg(s)).unwrap();
            }
            assert_eq!(wire(&outputs(&mut m)), vec!["a", "b", "c"]);
            frame(&mut m, 203.0, id, "\0{\"t\":\"ack\",\"seq\":1}");
            assert_eq!(m.stats().unacked, 2);
            assert_eq!(m.stats().in_flight, 0, "no bufferedAmount accounting");
            // The link dies: nothing requeued (the session holds b and c).
            m.handle(
                300.0,
                open_link(9),
                Input::Closed {
                    id,
                    close: closed(1006),
                    retry: None,
                },
            );
            assert_eq!(m.stats().requeued, 0);
            let next = next_socket(&mut m, 350.0);
            m.send(Link::default(), msg("d")).unwrap();
            let (_, out) = reopen(&mut m, 400.0, next);
            assert_eq!(
                wire(&out),
                vec![format!(
                    "\0{{\"t\":\"hello\",\"sid\":\"{SID}\",\"recv\":3}}"
                )]
            );
            // The server had "b"; it holds its seqs 5 and 6 only (4 was dropped): a gap.
            frame(&mut m, 401.0, next, &welcome(true, 2, 6));
            let out = outputs(&mut m);
            assert_eq!(wire(&out), vec!["\0{\"t\":\"from\",\"seq\":3}", "c"]);
            assert!(events(&out).contains(&Event::Resumed {
                resumed: true,
                resent: 1,
                replayed: 3
            }));
            m.handle(401.0, open_link(0), Input::OpenDelivered);
            assert_eq!(wire(&outputs(&mut m)), vec!["d"]);
            frame(&mut m, 402.0, next, "\0{\"t\":\"from\",\"seq\":5}");
            assert_eq!(
                events(&outputs(&mut m)),
                vec![Event::Gap { from: 4, to: 4 }]
            );
            assert_eq!(frame(&mut m, 402.0, next, "tick 5"), Take::Deliver);
            // The server asks for an ack; pings are answered.
            frame(&mut m, 403.0, next, "\0{\"t\":\"ackreq\"}");
            frame(&mut m, 403.0, next, "\0{\"t\":\"ping\"}");
            let out = outputs(&mut m);
            assert_eq!(
                wire(&out),
                vec!["\0{\"t\":\"ack\",\"seq\":5}", "\0{\"t\":\"pong\"}"]
            );
            assert!(out.contains(&Output::Cancel(Timer::Ack)));
            // close(): bye first.
            m.close(Some(1000), None).unwrap();
            let out = outputs(&mut m);
            assert_eq!(wire(&out)[0], "\0{\"t\":\"bye\"}");
            assert!(matches!(out[1], Output::Send { .. } | Output::Close { .. }));
        }

        #[test]
        fn acks_go_out_every_32_messages_without_waiting() {
            let mut m = resumable(|r| r);
            let (id, _) = greet(&mut m, 0.0);
            frame(&mut m, 0.0, id, &welcome(false, 0, 0));
            frame(&mut m, 0.0, id, "\0{\"t\":\"from\",\"seq\":1}");
            outputs(&mut m);
            for _ in 0..64 {
                frame(&mut m, 1.0, id, "x");
            }
            assert_eq!(
                wire(&outputs(&mut m)),
                vec![
                    "\0{\"t\":\"ack\",\"seq\":32}",
                    "\0{\"t\":\"ack\",\"seq\":64}"
                ]
            );
            assert!(!m.armed()[Timer::Ack.index()]);
        }

        /// The server's close frame has arrived (the socket is CLOSING, its close event not yet):
        /// frames that arrived before it are still read, but nothing is written to that socket
        /// (the browser would discard it and log "WebSocket is already in CLOSING or CLOSED
        /// state"): no ack (every 32 messages, or the timer's), no reply to `ackreq` or `ping`, no
        /// `from`, re-sent message or outbox message after a late `welcome`, no outbox message
        /// after an ack. The next connection's `hello` and `welcome` settle it all.
        #[test]
        fn resume_writes_nothing_to_a_socket_that_is_closing() {
            let closing = Link {
                buffered: 0,
                writable: false,
            };
            let mut m = resumable(|r| r);
            let (id, _) = greet(&mut m, 0.0);
            frame(&mut m, 0.0, id, &welcome(false, 0, 0));
            frame(&mut m, 0.0, id, "\0{\"t\":\"from\",\"seq\":1}");
            m.handle(0.0, open_link(0), Input::OpenDelivered);
            m.send(open_link(0), msg("a")).unwrap();
            outputs(&mut m);
            // Held back by the buffer's room? No: by the socket. Queued while CLOSING.
            m.send(closing, msg("b")).unwrap();
            assert!(sends(&outputs(&mut m)).is_empty());
            for _ in 0..40 {
                assert_eq!(
                    m.received_frame(1.0, closing, id, Received::Text("x")),
                    Take::Deliver
                );
            }
            for control in ["ackreq", "ping"] {
                let text = format!("\0{{\"t\":\"{control}\"}}");
                m.received_frame(1.0, closing, id, Received::Text(&text));
            }
            m.received_frame(
                1.0,
                closing,
                id,
                Received::Text("\0{\"t\":\"ack\",\"seq\":1}"),
            );
            m.handle(201.0, closing, Input::Fired(Timer::Ack));
            let out = outputs(&mut m);
            assert!(sends(&out).is_empty(), "{:?}", wire(&out));
            // The close event: the next connection acknowledges all 40 in its hello.
            m.handle(
                300.0,
                closing,
                Input::Closed {
                    id,
                    close: closed(1001),
                    retry: None,
                },
            );
            let next = next_socket(&mut m, 350.0);
            let (_, out) = reopen(&mut m, 400.0, next);
            assert_eq!(
                wire(&out),
                vec![format!(
                    "\0{{\"t\":\"hello\",\"sid\":\"{SID}\",\"recv\":40}}"
                )]
            );
            // A welcome that arrives as this socket too is closing: nothing written either.
            m.received_frame(401.0, closing, next, Received::Text(&welcome(true, 1, 40)));
            let out = outputs(&mut m);
            assert!(sends(&out).is_empty(), "{:?}", wire(&out));
            m.handle(401.0, closing, Input::OpenDelivered);
            assert!(sends(&outputs(&mut m)).is_empty());
            // On the one after: `from`, then "b" (never written, so never numbered) from the outbox.
            m.handle(
                450.0,
                closing,
                Input::Closed {
                    id: next,
                    close: closed(1006),
                    retry: None,
                },
            );
            let last = next_socket(&mut m, 500.0);
            reopen(&mut m, 550.0, last);
            frame(&mut m, 551.0, last, &welcome(true, 1, 40));
            m.handle(551.0, open_link(0), Input::OpenDelivered);
            let out = outputs(&mut m);
            assert_eq!(wire(&out), vec!["\0{\"t\":\"from\",\"seq\":2}", "b"]);
        }

        #[test]
        fn a_lost_session_is_reported_and_unconfirmed_messages_requeued_or_dropped() {
            for requeue in [true, false] {
                let mut m = resumable(|r| r.requeue_on_reset(requeue));
                let (id, _) = greet(&mut m, 0.0);
                frame(&mut m, 0.0, id, &welcome(false, 0, 0));
                frame(&mut m, 0.0, id, "\0{\"t\":\"from\",\"seq\":1}");
                frame(&mut m, 0.0, id, "s1");
                m.handle(0.0, open_link(0), Input::OpenDelivered);
                m.send(open_link(0), msg("a")).unwrap();
                m.send(open_link(0), msg("b")).unwrap();
                outputs(&mut m);
                m.handle(
                    5.0,
                    open_link(0),
                    Input::Closed {
                        id,
                        close: closed(1001),
                        retry: None,
                    },
                );
                let next = next_socket(&mut m, 6.0);
                m.send(Link::default(), msg("c")).unwrap();
                let (_, _) = reopen(&mut m, 6.0, next);
                let other = Control::Welcome {
                    sid: "ffffffffffffffffffffffffffffffff".into(),
                    resumed: false,
                    recv: 0,
                    sent: 0,
                }
                .encode();
                frame(&mut m, 7.0, next, &other);
                let out = outputs(&mut m);
                let ev = events(&out);
                assert_eq!(
                    ev[0],
                    Event::Reset {
                        missed_from: 2,
                        unconfirmed: (1, 2)
                    }
                );
                m.handle(7.0, open_link(0), Input::OpenDelivered);
                let out2 = outputs(&mut m);
                if requeue {
                    assert_eq!(wire(&out2), vec!["a", "b", "c"], "as new messages, first");
                } else {
                    assert!(ev.contains(&Event::Discarded {
                        dropped: 2,
                        expired: 0
                    }));
                    assert_eq!(wire(&out2), vec!["c"]);
                }
            }
        }

        #[test]
        fn protocol_violations_fail_without_a_payload_or_sid_in_the_reason() {
            let cases: [&[&str]; 5] = [
                &["tick"],                                   // app message before welcome
                &["\0{\"t\":\"from\",\"seq\":1}"],           // control before welcome
                &["\0{\"t\":\"nope\"}"],                     // unknown t
                &["WELCOME", "x"],                           // app before from
                &["WELCOME", "\0{\"t\":\"ack\",\"seq\":9}"], // ack above sent
            ];
            for case in cases {
                let mut m = resumable(|r| r);
                let (id, _) = greet(&mut m, 0.0);
                for f in case {
                    let f = if *f == "WELCOME" {
                        welcome(false, 0, 0)
                    } else {
                        String::from(*f)
                    };
                    frame(&mut m, 1.0, id, &f);
                }
                let out = outputs(&mut m);
                let State::Failed { reason } = m.state() else {
                    panic!("{case:?}: {:?}", m.state())
                };
                assert!(reason.starts_with("resume protocol: "), "{reason}");
                assert!(
                    !reason.contains(SID) && !reason.contains("tick"),
                    "{reason}"
                );
                assert!(out.contains(&Output::Release { id }));
            }
        }

        #[test]
        fn per_message_policies_drop_on_reconnect_and_expire_and_are_reported() {
            let mut m = fixed(config(|o| o));
            let id = start_open(&mut m, 0.0);
            // Handed to the socket, then the link dies with all of them unsent.
            m.send_with(0.0, open_link(0), msg("drop"), OnReconnect::Drop)
                .unwrap();
            m.send_with(0.0, open_link(4), msg("keep"), OnReconnect::Replay)
                .unwrap();
            m.send_with(
                0.0,
                open_link(8),
                msg("ttl"),
                OnReconnect::Expire(Duration::from_millis(100)),
            )
            .unwrap();
            outputs(&mut m);
            m.handle(
                10.0,
                open_link(11),
                Input::Closed {
                    id,
                    close: closed(1006),
                    retry: None,
                },
            );
            let next = next_socket(&mut m, 15.0);
            // Sent during the outage with Drop: still goes on the next connection.
            m.send_with(20.0, Link::default(), msg("late"), OnReconnect::Drop)
                .unwrap();
            m.send_with(
                20.0,
                Link::default(),
                msg("soon"),
                OnReconnect::Expire(Duration::from_millis(1000)),
            )
            .unwrap();
            m.handle(
                500.0,
                Link::default(),
                Input::Opened {
                    id: next,
                    protocol: String::new(),
                },
            );
            outputs(&mut m);
            m.handle(500.0, open_link(0), Input::OpenDelivered);
            let out = outputs(&mut m);
            assert_eq!(sends(&out), vec![msg("keep"), msg("late"), msg("soon")]);
            assert_eq!(
                events(&out),
                vec![Event::Discarded {
                    dropped: 1,
                    expired: 1
                }]
            );
        }
    }
}
