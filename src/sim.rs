//! Deterministic simulation testing of the reconnect machine ([`crate::machine`]), natively.
//!
//! One run = one seed. A seeded choice source draws every decision (the options, the network's
//! and the server's behaviour, the user's actions, what the environment does, and when); a
//! virtual clock (f64 ms) orders the timers and the network. A simulated driver executes the
//! machine's outputs exactly as the browser driver does: one output at a time, in order; a
//! timers table keyed by [`Timer`] (arm replaces, cancel removes); sockets keyed by
//! [`SocketId`]; URL provider calls that answer, fail or hang; and every [`Output::Emit`]
//! delivered to a simulated user who may, from inside the event (re-entrantly), send, close,
//! reconnect and read every getter. Before every machine call the driver reads the [`Link`]
//! off the machine's current socket.
//!
//! The simulated network keeps, per socket, what was handed to it and not yet acknowledged (its
//! `bufferedAmount`): a message is first *delivered* to the server, then *acked* (it leaves
//! `bufferedAmount`). A connection that dies between the two makes the machine requeue a message
//! the server already has: such "lost ack" duplicates are allowed, and counted. One that dies
//! before delivery must see the message requeued and delivered later, exactly once.
//!
//! Invariants, checked after every step ([`Sim::quiescent`]) and at every output and event
//! (each violation has a kind, in brackets):
//! 1. `[one-socket]` at most one socket CONNECTING or OPEN; `[leak]` the driver holds no socket
//!    the machine has left.
//! 2. `[exactly-once]` every message `send` accepted is, once per copy the machine held,
//!    delivered to the server, returned by `close()`, reported dropped by an `OutboxOverflow`
//!    event, or left in the buffer of the socket `close()` released (the browser flushes it
//!    before the close frame when the link allows: then it is delivered); a copy exists per
//!    lost ack only, so nothing is delivered twice otherwise and nothing vanishes. `[requeue]`
//!    a torn-down socket's unacknowledged messages are exactly what the machine requeues.
//!    `[order]` per connection, messages arrive in send order (those sent inside `open` go
//!    first, by design, and are left out of this check).
//! 3. `[backoff]` every `Reconnecting` delay lies within the jitter mode's bounds of
//!    `Backoff::ceiling(attempt - 1)` and is the retry timer's delay; `[attempts]` attempt
//!    numbers count consecutive failures, whatever failed, and "gave up" comes after exactly
//!    `max_retries + 1` of them.
//! 4. `[connect-timeout]` an attempt, URL provider included, never outlives the connect timeout.
//! 5. `[after-final]`/`[after-close]` after `close()` only its `Closed` event follows (and
//!    overflow reports of drops made before it); after `Closed`/`Failed` nothing follows, no
//!    timer is armed, no socket held; exactly one `Closed` event.
//! 6. `[memory]` in-flight never exceeds what is really unacknowledged (+1) after a send; the
//!    outbox stays within its capacity but for requeued messages; each dispatch is short.
//! 7. `[events]` the state is what the last state event announced, and state events follow
//!    legal successions (a failure reported before `Reconnecting`/`Failed`/`Offline`).
//!
//! Besides: `[timers]` the driver's timers are exactly those the machine thinks armed, and each
//! state has the timers that move it on (no state can get stuck); `[bfcache]`/`[env]` nothing
//! connects while the page is in the back/forward cache, `Offline`/`Parked` only while offline
//! / hidden; `[getters]` every getter agrees with the state; `[send]`/`[received]`/`[close]`
//! the user calls answer as documented.
//!
//! A violation ends the run with its seed; the run is then shrunk (delta debugging over the
//! recorded choices, then fewer steps, then simpler values) and replayed with a trace.
//!
//! Knobs: `SIM_SEED=<n>` replays one seed (with a trace when it fails), `SIM_SEEDS` (how many
//! seeds), `SIM_STEPS` (total step budget), `SIM_SEED_BASE` (first seed of `many`).

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use crate::backoff::{Backoff, Jitter};
use crate::error::Error;
use crate::events::{Event, State};
use crate::machine::{Config, Input, Link, Machine, Output, SocketId, Timer, SETTLE_MS};
use crate::message::{CloseEvent, Message};
use crate::options::{Heartbeat, Options};
use crate::outbox::Overflow;

// --------------------------------------------------------------------------- randomness

/// splitmix64: tiny, fast, and good enough to drive a simulation.
#[derive(Debug, Clone)]
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Where every decision of a run comes from. A run is a pure function of the sequence of
/// values drawn here, so a recorded sequence replays the run exactly, and a shortened or
/// simplified sequence is another valid run (past its end, every draw is 0, which always
/// means the simplest thing: "nothing happens", "let time pass", the smallest value).
struct Choices {
    rng: SplitMix,
    replay: Option<Vec<u64>>,
    pos: usize,
    record: Option<Vec<u64>>,
}

impl Choices {
    fn new(seed: u64, replay: Option<Vec<u64>>, record: bool) -> Self {
        Choices {
            rng: SplitMix(seed),
            replay,
            pos: 0,
            record: record.then(Vec::new),
        }
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        let raw = match &self.replay {
            Some(values) => values.get(self.pos).copied().unwrap_or(0),
            None => self.rng.next(),
        };
        self.pos += 1;
        let value = if n == 0 { 0 } else { raw % n };
        if let Some(record) = &mut self.record {
            record.push(value);
        }
        value
    }

    /// `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with `percent`% probability; a drawn 0 is false (unless `percent` is 100).
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) + percent >= 100 && percent > 0
    }

    /// An index into `weights`, proportionally (a drawn 0 picks the first non-zero weight).
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut pick = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if pick < u64::from(w) {
                return i;
            }
            pick -= u64::from(w);
        }
        0
    }
}

// --------------------------------------------------------------------------- violations

/// A broken invariant: which one (shrinking keeps a candidate only if it breaks the same one),
/// and what exactly happened.
#[derive(Debug, Clone)]
struct Violation {
    kind: &'static str,
    detail: String,
}

type Res = Result<(), Violation>;

/// `ensure!(condition, "kind", "format", args...)`: a violation unless the condition holds (the
/// message is formatted only then).
macro_rules! ensure {
    ($cond:expr, $kind:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(Violation { kind: $kind, detail: format!($($fmt)+) });
        }
    };
}

// --------------------------------------------------------------------------- setup

/// The step kinds; index 0 must be the simplest (a 0 choice means "let time pass").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    NextDue,
    Advance,
    Network,
    Send,
    Inbound,
    ServerClose,
    Abort,
    Health,
    Online,
    Visible,
    Page,
    Reconnect,
    Close,
    Getters,
}

const ACTIONS: [Action; 14] = [
    Action::NextDue,
    Action::Advance,
    Action::Network,
    Action::Send,
    Action::Inbound,
    Action::ServerClose,
    Action::Abort,
    Action::Health,
    Action::Online,
    Action::Visible,
    Action::Page,
    Action::Reconnect,
    Action::Close,
    Action::Getters,
];

/// How this run's world behaves (drawn per seed, so seeds explore different mixes).
#[derive(Debug, Clone)]
struct Personality {
    weights: [u32; ACTIONS.len()],
    /// Per event: % chance the user sends from inside it, reconnects, closes.
    reentrant_send: u64,
    reentrant_reconnect: u64,
    reentrant_close: u64,
    /// % chance the server echoes a delivered message.
    echo: u64,
    /// Handshake outcome weights: accept, refuse, hang.
    handshake: [u32; 3],
    /// Provider outcome weights: answer, fail, hang, answer with a bad URL.
    provider: [u32; 4],
    /// % chance the user's retry predicate gives a verdict instead of the default policy.
    predicate: u64,
    /// % chance an `Open` output's socket constructor throws.
    open_throws: u64,
}

/// Everything decided before the run starts.
#[derive(Debug, Clone)]
struct Setup {
    options: Options,
    config: Config,
    fixed: Option<(String, Vec<String>)>,
    machine_seed: u64,
    online: bool,
    p: Personality,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn draw_setup(c: &mut Choices) -> Setup {
    let jitter = [Jitter::None, Jitter::Full, Jitter::Equal][c.below(3) as usize];
    let initial = c.range(0, 1500);
    let backoff = Backoff {
        initial: ms(initial),
        max: ms(c.range(initial, 8000)),
        factor: 1.0 + c.below(30) as f64 / 10.0,
        jitter,
    };
    let mut options = Options::default()
        .backoff(backoff)
        .stable_after(ms(c.range(20, 3000)))
        .connect_timeout(ms(c.range(30, 2000)));
    options.max_retries = if c.chance(45) {
        None
    } else {
        Some(c.below(8) as u32)
    };
    let messages = match c.below(4) {
        0 => c.range(1, 8) as usize,
        1 => c.range(1, 40) as usize,
        2 => 1024,
        _ => c.below(3) as usize, // 0 refuses everything that is not sent at once
    };
    let bytes = if c.chance(50) {
        1 << 20
    } else {
        c.range(8, 600) as usize
    };
    let overflow =
        [Overflow::Reject, Overflow::DropOldest, Overflow::DropNewest][c.below(3) as usize];
    options = options.outbox(messages, bytes, overflow);
    if c.chance(60) {
        options = options.heartbeat(Heartbeat::new(
            "ping",
            ms(c.range(1, 1500)),
            ms(c.range(1, 800)),
        ));
    }
    if c.chance(30) {
        options = options.max_message_bytes(c.range(0, 100) as usize);
    }
    let fixed = if c.chance(40) {
        None
    } else {
        let protocols = if c.chance(30) {
            vec![String::from("v1"), String::from("v2")]
        } else {
            Vec::new()
        };
        Some((String::from("ws://sim.test/socket?token=secret"), protocols))
    };
    let mut weights = [0u32; ACTIONS.len()];
    for (i, action) in ACTIONS.iter().enumerate() {
        let (base, spread) = match action {
            Action::NextDue => (30, 40),
            Action::Advance => (5, 30),
            Action::Network => (10, 60),
            Action::Send => (5, 50),
            Action::Inbound => (0, 20),
            Action::ServerClose => (0, 8),
            Action::Abort => (0, 8),
            Action::Health => (0, 8),
            Action::Online => (0, 6),
            Action::Visible => (0, 6),
            Action::Page => (0, 5),
            Action::Reconnect => (0, 5),
            Action::Close => (0, 1),
            Action::Getters => (0, 5),
        };
        weights[i] = base + c.below(spread + 1) as u32;
    }
    let p = Personality {
        weights,
        reentrant_send: c.below(40),
        reentrant_reconnect: c.below(8),
        // Per event: most runs should live long; some users close from inside events.
        reentrant_close: u64::from(c.chance(30)),
        echo: c.below(60),
        handshake: [1 + c.below(20) as u32, c.below(6) as u32, c.below(4) as u32],
        provider: [
            1 + c.below(20) as u32,
            c.below(6) as u32,
            c.below(4) as u32,
            u32::from(c.chance(20)),
        ],
        predicate: c.below(40),
        open_throws: u64::from(c.chance(10)),
    };
    let machine_seed = c.below(u64::MAX);
    let online = !c.chance(10);
    Setup {
        config: Config::from_options(&options),
        options,
        fixed,
        machine_seed,
        online,
        p,
    }
}

// --------------------------------------------------------------------------- the network

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    Connecting,
    Open,
    Closing,
    Closed,
}

/// The link under a socket: alive, silent (no data either way, nothing acked, the close
/// handshake never completes), or dead (the same, and only a TCP abort ends it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Alive,
    Silent,
    Dead,
}

/// Something handed to a socket and not yet acknowledged.
#[derive(Debug, Clone, Copy)]
struct Item {
    /// The application message's id; `None` for a heartbeat ping.
    msg: Option<u64>,
    size: u64,
    /// Whether the browser will ever put it on the wire (not when sent while closing/closed).
    wire: bool,
}

/// A simulated browser socket and the server connection behind it.
#[derive(Debug)]
struct Sock {
    id: SocketId,
    ready: Ready,
    health: Health,
    /// What is in `bufferedAmount`, oldest first: everything here is not fully acknowledged.
    buf: VecDeque<Item>,
    buf_bytes: u64,
    /// How many items of `buf` (from the front) the server has received.
    delivered: usize,
    /// Bytes of `buf[0]` already acknowledged (a message leaves the buffer byte by byte).
    acked_front: u64,
    /// We started the closing handshake (buffered data still goes out before the close frame).
    client_closing: bool,
    /// The server started it (nothing more is delivered).
    server_closing: bool,
    offered: Vec<String>,
    protocol: String,
    /// The last in-order message the server received on this connection (order check).
    last_in_order: Option<u64>,
    /// Whether the server answers heartbeat pings (some never do: only traffic proves life).
    pongs: bool,
}

impl Sock {
    fn new(id: SocketId, offered: Vec<String>) -> Self {
        Sock {
            id,
            ready: Ready::Connecting,
            health: Health::Alive,
            buf: VecDeque::new(),
            buf_bytes: 0,
            delivered: 0,
            acked_front: 0,
            client_closing: false,
            server_closing: false,
            offered,
            protocol: String::new(),
            last_in_order: None,
            pongs: true,
        }
    }

    /// `bufferedAmount`.
    fn buffered(&self) -> u64 {
        self.buf_bytes - self.acked_front
    }

    /// Application messages not fully acknowledged (what the machine must requeue).
    fn unacked_app(&self) -> (usize, usize) {
        self.buf
            .iter()
            .filter(|i| i.msg.is_some())
            .fold((0, 0), |(n, b), i| (n + 1, b + i.size as usize))
    }

    /// Items that can still reach the server now.
    fn deliverable(&self) -> usize {
        if self.health != Health::Alive || self.server_closing {
            return 0;
        }
        match self.ready {
            Ready::Open | Ready::Closing => self
                .buf
                .iter()
                .skip(self.delivered)
                .take_while(|i| i.wire)
                .count(),
            _ => 0,
        }
    }

    /// Bytes the network may acknowledge now (of delivered items only).
    fn ackable(&self) -> u64 {
        let delivered: u64 = self.buf.iter().take(self.delivered).map(|i| i.size).sum();
        delivered - self.acked_front
    }

    /// Acknowledges `n` bytes (of delivered items), popping whole items.
    fn ack(&mut self, mut n: u64) {
        while n > 0 && self.delivered > 0 {
            let size = self.buf[0].size;
            let take = n.min(size - self.acked_front);
            self.acked_front += take;
            n -= take;
            if self.acked_front == size {
                self.buf.pop_front();
                self.buf_bytes -= size;
                self.acked_front = 0;
                self.delivered -= 1;
            }
        }
    }
}

/// Something the world will do at a given time.
#[derive(Debug)]
enum Due {
    /// The handshake of socket `id` ends: opened, or refused (1006 before open).
    Handshake { id: SocketId, accept: bool },
    /// Socket `id`'s closing handshake completes with this close event.
    CloseDone { id: SocketId, close: CloseEvent },
    /// The URL provider called for attempt `id` answers.
    Provider {
        id: SocketId,
        result: crate::error::Result<(String, Vec<String>)>,
    },
    /// The connection under socket `id` is torn down (1006, no close frame).
    Abort { id: SocketId },
}

#[derive(Debug)]
struct Pending {
    at: f64,
    seq: u64,
    due: Due,
}

/// One message handed to `send`.
#[derive(Debug, Clone, Copy, Default)]
struct Rec {
    accepted: bool,
    /// Sent from inside the `open` event: goes ahead of the outbox (excluded from the order
    /// check).
    priority: bool,
    /// Times the server received it.
    delivered: u32,
    /// Times a connection died after delivering it but before acknowledging it (each one
    /// legitimately makes the machine hold one more copy).
    lost_acks: u32,
    /// Handed back by `close()`.
    returned: u32,
    /// Left in the browser's buffer of a socket closed by `close()` whose link never delivered
    /// it.
    stranded: u32,
}

/// Per-run counters, summed over runs for the report.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counters {
    pub(crate) runs: u64,
    pub(crate) steps: u64,
    pub(crate) sent: u64,
    pub(crate) rejected: u64,
    pub(crate) delivered: u64,
    pub(crate) duplicates: u64,
    pub(crate) lost_acks: u64,
    pub(crate) dropped: u64,
    pub(crate) returned: u64,
    pub(crate) stranded: u64,
    pub(crate) opens: u64,
    pub(crate) failed_runs: u64,
    pub(crate) gave_up: u64,
    pub(crate) events: u64,
    /// Events by kind, in [`EVENT_KINDS`] order.
    pub(crate) by_kind: [u64; EVENT_KINDS.len()],
    pub(crate) reentrant_calls: u64,
}

/// The event kinds, for the report.
const EVENT_KINDS: [&str; 11] = [
    "connecting",
    "open",
    "disconnected",
    "reconnecting",
    "offline",
    "parked",
    "closed",
    "failed",
    "outboxoverflow",
    "heartbeattimeout",
    "error",
];

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.runs += o.runs;
        self.steps += o.steps;
        self.sent += o.sent;
        self.rejected += o.rejected;
        self.delivered += o.delivered;
        self.duplicates += o.duplicates;
        self.lost_acks += o.lost_acks;
        self.dropped += o.dropped;
        self.returned += o.returned;
        self.stranded += o.stranded;
        self.opens += o.opens;
        self.failed_runs += o.failed_runs;
        self.gave_up += o.gave_up;
        self.events += o.events;
        for (mine, theirs) in self.by_kind.iter_mut().zip(o.by_kind) {
            *mine += theirs;
        }
        self.reentrant_calls += o.reentrant_calls;
    }
}

/// A deliberately false invariant, to prove the simulator reports and shrinks failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Real,
    /// "No connection ever dies holding an unacknowledged message" (false: that is the whole
    /// point of the requeue).
    FalseNoRequeue,
}

/// The id an application message carries in its first 8 bytes.
fn message_id(message: &Message) -> Option<u64> {
    match message {
        Message::Binary(bytes) if bytes.len() >= 8 => {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(&bytes[..8]);
            Some(u64::from_le_bytes(raw))
        }
        _ => None,
    }
}

// --------------------------------------------------------------------------- the simulation

struct Sim {
    c: Choices,
    m: Machine,
    s: Setup,
    mode: Mode,
    now: f64,
    seq: u64,
    /// Armed timers: when they fire, arming order (ties), and how late (throttling).
    timers: [Option<(f64, u64, f64)>; 6],
    agenda: Vec<Pending>,
    /// Sockets the driver holds (not released).
    socks: Vec<Sock>,
    /// Sockets released by `close()` while closing: the browser still flushes them.
    zombies: Vec<Sock>,
    highest_id: SocketId,
    online: bool,
    visible: bool,
    hidden: bool,
    /// The user called `reconnect()` while the page was hidden (then a socket may open).
    reconnected_while_hidden: bool,
    recs: Vec<Rec>,
    dropped_reported: u64,
    // The event stream.
    announced: Option<State>,
    /// A `Disconnected`/`Error`/`HeartbeatTimeout` since the last state event.
    failure_reported: bool,
    /// An `open` event without its `Disconnected` yet.
    open_unmatched: bool,
    final_delivered: bool,
    closed_events: u32,
    /// `close()` returned Ok from a live state: only its `Closed` event may follow.
    close_called: bool,
    expected_unsent: Option<usize>,
    /// While the user handles the `open` event (sends then are "priority").
    in_open_event: bool,
    // The attempt model (invariant 3).
    prev: Option<State>,
    reset_pending: bool,
    pending_attempt: Option<u32>,
    cur_attempt: u32,
    stable_reached: bool,
    attempt_started: f64,
    // Memory bounds.
    transmitted: bool,
    outbox_allow: usize,
    outbox_allow_bytes: usize,
    trace: Option<Vec<String>>,
    k: Counters,
}

impl Sim {
    fn new(c: Choices, mode: Mode, trace: bool) -> Self {
        let mut c = c;
        let s = draw_setup(&mut c);
        // The driver checks a fixed URL before the machine exists (the sim's are valid).
        let fixed = s
            .fixed
            .clone()
            .and_then(|(url, protocols)| crate::url::target(&url, protocols, false).ok());
        let m = Machine::new(s.config.clone(), fixed, s.machine_seed);
        let online = s.online;
        let mut sim = Sim {
            c,
            m,
            s,
            mode,
            now: 0.0,
            seq: 0,
            timers: [None; 6],
            agenda: Vec::new(),
            socks: Vec::new(),
            zombies: Vec::new(),
            highest_id: 0,
            online,
            visible: true,
            hidden: false,
            reconnected_while_hidden: false,
            recs: Vec::new(),
            dropped_reported: 0,
            announced: None,
            failure_reported: false,
            open_unmatched: false,
            final_delivered: false,
            closed_events: 0,
            close_called: false,
            expected_unsent: None,
            in_open_event: false,
            prev: None,
            reset_pending: true,
            pending_attempt: None,
            cur_attempt: 0,
            stable_reached: false,
            attempt_started: 0.0,
            transmitted: false,
            outbox_allow: 0,
            outbox_allow_bytes: 0,
            trace: trace.then(Vec::new),
            k: Counters::default(),
        };
        if sim.trace.is_some() {
            let line = format!(
                "setup: {:?}\n       fixed url: {:?}, online: {}, personality: {:?}",
                sim.s.options, sim.s.fixed, sim.s.online, sim.s.p
            );
            sim.log(|| line);
        }
        sim
    }

    fn log(&mut self, line: impl FnOnce() -> String) {
        if let Some(trace) = &mut self.trace {
            let text = line();
            trace.push(format!("t={:>9.1} {}", self.now, text));
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn schedule(&mut self, delay: f64, due: Due) {
        let seq = self.next_seq();
        self.agenda.push(Pending {
            at: self.now + delay,
            seq,
            due,
        });
    }

    fn held(&self, id: SocketId) -> Option<&Sock> {
        self.socks.iter().find(|s| s.id == id)
    }

    fn held_mut(&mut self, id: SocketId) -> Option<&mut Sock> {
        self.socks.iter_mut().find(|s| s.id == id)
    }

    /// What the driver reads off the machine's current socket before every call.
    fn link(&self) -> Link {
        match self.m.socket().and_then(|id| self.held(id)) {
            Some(s) => Link {
                buffered: s.buffered(),
                writable: s.ready == Ready::Open,
            },
            None => Link::default(),
        }
    }

    // ----------------------------------------------------------------------- machine calls

    /// Feeds an input (the outputs are executed by the caller's `drain`). Checks that a
    /// socket torn down by it had exactly its unacknowledged messages requeued.
    fn feed(&mut self, input: Input) -> Res {
        let before = self
            .m
            .socket()
            .and_then(|id| self.held(id).map(|s| (id, s.unacked_app())));
        let requeued_before = self.m.stats().requeued;
        let link = self.link();
        self.m.handle(self.now, link, input);
        if let Some((id, (count, bytes))) = before {
            if self.m.socket() != Some(id) {
                let got = self.m.stats().requeued - requeued_before;
                ensure!(
                    got == count as u64,
                    "requeue",
                    "socket {id} was torn down with {count} unacknowledged messages \
                     (bufferedAmount {}), the machine requeued {got}",
                    link.buffered
                );
                ensure!(
                    self.mode != Mode::FalseNoRequeue || count == 0,
                    "false-invariant",
                    "socket {id} died holding {count} unacknowledged messages"
                );
                self.outbox_allow += count;
                self.outbox_allow_bytes += bytes;
            }
        }
        Ok(())
    }

    /// Executes every queued output, in order, delivering events to the user.
    fn drain(&mut self) -> Res {
        let mut budget = 64 + self.m.stats().outbox_len;
        while let Some(output) = self.m.poll_output() {
            ensure!(
                budget > 0,
                "memory",
                "the output queue keeps growing within one dispatch (last: {output:?})"
            );
            budget -= 1;
            match output {
                Output::Resolve { id } => self.exec_resolve(id)?,
                Output::Open { id, url, protocols } => self.exec_open(id, url, protocols)?,
                Output::Send { id, message } => self.exec_send(id, message)?,
                Output::Close { id, code, reason } => self.exec_close(id, code, reason)?,
                Output::Release { id } => self.exec_release(id),
                Output::Arm { timer, ms } => self.exec_arm(timer, ms)?,
                Output::Cancel(timer) => {
                    self.log(|| format!("driver: cancel {timer:?}"));
                    self.timers[timer.index()] = None;
                }
                Output::Emit(event) => {
                    budget += 16 + self.m.stats().outbox_len;
                    self.deliver(event)?;
                }
            }
        }
        Ok(())
    }

    fn exec_resolve(&mut self, id: SocketId) -> Res {
        ensure!(
            !self.hidden || self.reconnected_while_hidden,
            "bfcache",
            "URL provider called for attempt {id} while the page is in the back/forward cache"
        );
        ensure!(id > self.highest_id, "ids", "attempt id {id} reused");
        self.highest_id = id;
        self.attempt_started = self.now;
        let outcome = self.c.weighted(&self.s.p.provider);
        let delay = self
            .c
            .below(self.s.config.connect_timeout_ms as u64 * 6 / 5 + 1) as f64;
        let result = match outcome {
            0 => Some(Ok((
                String::from("wss://sim.test/provided?token=secret"),
                if self.c.chance(30) {
                    vec![String::from("v1")]
                } else {
                    Vec::new()
                },
            ))),
            1 => Some(Err(Error::Js {
                message: String::from("token endpoint: 503"),
            })),
            2 => None,
            _ => Some(Ok((
                String::from("http://sim.test/not-a-websocket"),
                Vec::new(),
            ))),
        };
        self.log(|| format!("driver: URL provider for attempt {id}: {result:?} after {delay} ms"));
        if let Some(result) = result {
            self.schedule(delay, Due::Provider { id, result });
        }
        Ok(())
    }

    fn exec_open(&mut self, id: SocketId, url: String, protocols: Vec<String>) -> Res {
        ensure!(
            !self.hidden || self.reconnected_while_hidden,
            "bfcache",
            "socket {id} opened while the page is in the back/forward cache"
        );
        ensure!(
            crate::url::validate_url(&url, false).is_ok(),
            "url",
            "socket {id} opened with an invalid URL {url:?}"
        );
        let live = self
            .socks
            .iter()
            .filter(|s| matches!(s.ready, Ready::Connecting | Ready::Open))
            .count();
        ensure!(
            live == 0,
            "one-socket",
            "socket {id} opened while {live} other socket(s) are connecting or open"
        );
        // A provider's attempt started at its Resolve (same id); a fixed URL's starts here.
        let provided = self.s.fixed.is_none();
        ensure!(
            id > self.highest_id || (provided && id == self.highest_id),
            "ids",
            "socket id {id} reused (highest so far {})",
            self.highest_id
        );
        if !provided {
            self.attempt_started = self.now;
        }
        self.highest_id = id;
        self.k.opens += 1;
        if self.c.chance(self.s.p.open_throws) {
            self.log(|| format!("driver: new WebSocket({id}) throws"));
            return self.feed(Input::OpenFailed {
                id,
                error: Error::Js {
                    message: String::from("SecurityError: port blocked"),
                },
            });
        }
        let mut sock = Sock::new(id, protocols);
        sock.pongs = !self.c.chance(15);
        self.socks.push(sock);
        let outcome = if self.online {
            self.c.weighted(&self.s.p.handshake)
        } else {
            1 + self.c.below(2) as usize
        };
        let delay =
            self.c
                .below(self.s.config.connect_timeout_ms as u64 * 13 / 10 + 1) as f64;
        self.log(|| {
            format!(
                "driver: open socket {id} ({})",
                ["accepted", "refused", "hangs"][outcome]
            )
        });
        match outcome {
            0 => self.schedule(delay, Due::Handshake { id, accept: true }),
            1 => self.schedule(delay, Due::Handshake { id, accept: false }),
            _ => {}
        }
        Ok(())
    }

    fn exec_send(&mut self, id: SocketId, message: Message) -> Res {
        let msg = match &message {
            Message::Text(text) if text == "ping" => None,
            other => match message_id(other) {
                Some(msg) => Some(msg),
                None => {
                    return Err(Violation {
                        kind: "send",
                        detail: format!(
                            "socket {id}: sent something never handed to send: {other:?}"
                        ),
                    })
                }
            },
        };
        if let Some(msg) = msg {
            ensure!(
                self.recs.get(msg as usize).is_some_and(|r| r.accepted),
                "exactly-once",
                "message #{msg} sent on socket {id} but send() had refused it"
            );
        }
        let current = self.m.socket() == Some(id);
        let Some(sock) = self.held_mut(id) else {
            return Err(Violation {
                kind: "send",
                detail: format!("send on socket {id}, which the driver does not hold"),
            });
        };
        ensure!(
            sock.ready != Ready::Connecting,
            "send",
            "send on socket {id} while CONNECTING (the browser throws)"
        );
        // The browser counts bytes sent while closing or closed, but never sends them.
        let wire = sock.ready == Ready::Open;
        let size = message.len() as u64;
        sock.buf.push_back(Item { msg, size, wire });
        sock.buf_bytes += size;
        if current {
            self.transmitted = true;
        }
        self.log(|| match msg {
            Some(m) => format!("driver: send #{m} ({size} B) on socket {id}"),
            None => format!("driver: send ping on socket {id}"),
        });
        Ok(())
    }

    fn exec_close(&mut self, id: SocketId, code: Option<u16>, reason: Option<String>) -> Res {
        self.log(|| format!("driver: close socket {id} ({code:?}, {reason:?})"));
        ensure!(
            crate::close::validate_close(code, reason.as_deref()).is_ok(),
            "close",
            "socket {id} closed with an invalid code/reason {code:?} {reason:?}"
        );
        let delay = self.c.range(1, 600) as f64;
        let Some(sock) = self.held_mut(id) else {
            return Ok(());
        };
        match sock.ready {
            Ready::Connecting => {
                // The browser fails the connection: a 1006 close event follows.
                sock.ready = Ready::Closed;
                let close = CloseEvent {
                    code: 1006,
                    reason: String::new(),
                    was_clean: false,
                };
                self.schedule(1.0, Due::CloseDone { id, close });
            }
            Ready::Open => {
                sock.ready = Ready::Closing;
                sock.client_closing = true;
                let close = CloseEvent {
                    code: code.unwrap_or(1005),
                    reason: reason.unwrap_or_default(),
                    was_clean: true,
                };
                self.schedule(delay, Due::CloseDone { id, close });
            }
            Ready::Closing | Ready::Closed => {}
        }
        Ok(())
    }

    fn exec_release(&mut self, id: SocketId) {
        self.log(|| format!("driver: release socket {id}"));
        let Some(i) = self.socks.iter().position(|s| s.id == id) else {
            return; // never created (its Open was dropped) or released already
        };
        let sock = self.socks.remove(i);
        if matches!(self.m.state(), State::Closed { .. }) {
            // Released by close(): the machine forgot what the socket holds; the browser still
            // sends its buffer before the close frame, if the link lets it.
            if sock.client_closing
                && sock.health == Health::Alive
                && sock.deliverable() == sock.buf.len() - sock.delivered
            {
                self.zombies.push(sock);
            } else {
                for item in sock.buf.iter().skip(sock.delivered) {
                    if let Some(m) = item.msg {
                        self.recs[m as usize].stranded += 1;
                        self.k.stranded += 1;
                    }
                }
            }
            return;
        }
        // Torn down (its unacknowledged messages were requeued): what the server received
        // but never acknowledged will legitimately arrive twice.
        for item in sock.buf.iter().take(sock.delivered) {
            if let Some(m) = item.msg {
                self.recs[m as usize].lost_acks += 1;
            }
        }
    }

    fn exec_arm(&mut self, timer: Timer, ms: u32) -> Res {
        self.log(|| format!("driver: arm {timer:?} in {ms} ms"));
        let cfg = &self.s.config;
        let ok = match timer {
            Timer::Connect => ms == cfg.connect_timeout_ms,
            Timer::Stable => ms == cfg.stable_after_ms,
            Timer::Settle => ms == SETTLE_MS,
            Timer::Heartbeat => cfg.heartbeat.as_ref().is_some_and(|hb| {
                let most = hb.interval.max(hb.timeout).as_millis() as u32 + 1;
                ms >= 1 && ms <= most
            }),
            Timer::Retry => true, // checked against the Reconnecting event
            Timer::Ack => cfg.resume.is_some() && ms == crate::resume::ACK_DELAY_MS,
        };
        ensure!(
            ok,
            "timers",
            "{timer:?} armed for {ms} ms with config {cfg:?}"
        );
        let seq = self.next_seq();
        // A hidden tab's timers are throttled: they fire late, never early.
        let late = if !self.visible && self.c.chance(50) {
            self.c.below(1500) as f64
        } else {
            0.0
        };
        self.timers[timer.index()] = Some((self.now + f64::from(ms) + late, seq, late));
        Ok(())
    }

    // ----------------------------------------------------------------------- events

    /// Delivers one event to the user (who may act from inside it), checking the event stream.
    fn deliver(&mut self, event: Event) -> Res {
        self.k.events += 1;
        if let Some(i) = EVENT_KINDS.iter().position(|&k| k == event.name()) {
            self.k.by_kind[i] += 1;
        }
        self.log(|| format!("EVENT {event:?}"));
        ensure!(
            !self.final_delivered,
            "after-final",
            "event {event:?} after the final Closed/Failed event"
        );
        ensure!(
            // Overflow reports of drops made before close() may still come first.
            !self.close_called
                || matches!(event, Event::Closed { .. } | Event::OutboxOverflow { .. }),
            "after-close",
            "event {event:?} after close() returned"
        );
        let state = match &event {
            Event::Connecting { attempt } => Some(State::Connecting { attempt: *attempt }),
            Event::Open { .. } => Some(State::Open),
            Event::Reconnecting { attempt, delay } => Some(State::Reconnecting {
                attempt: *attempt,
                delay: *delay,
            }),
            Event::Offline => Some(State::Offline),
            Event::Parked => Some(State::Parked),
            Event::Closed { code, reason, .. } => Some(State::Closed {
                code: *code,
                reason: reason.clone(),
            }),
            Event::Failed { reason } => Some(State::Failed {
                reason: reason.clone(),
            }),
            _ => None,
        };
        match &event {
            Event::Disconnected { .. } => {
                self.failure_reported = true;
                self.open_unmatched = false;
            }
            Event::Error(_) | Event::HeartbeatTimeout { .. } => self.failure_reported = true,
            Event::OutboxOverflow { dropped } => {
                ensure!(*dropped > 0, "events", "an overflow that dropped nothing");
                ensure!(
                    self.s.config.overflow != Overflow::Reject,
                    "events",
                    "an overflow event under the Reject policy"
                );
                self.dropped_reported += *dropped as u64;
            }
            Event::Reconnecting { attempt, delay } => {
                self.check_delay(*attempt, *delay)?;
            }
            Event::Closed { unsent, .. } => {
                self.closed_events += 1;
                ensure!(
                    self.closed_events == 1,
                    "after-final",
                    "{} Closed events",
                    self.closed_events
                );
                ensure!(
                    Some(*unsent) == self.expected_unsent,
                    "events",
                    "Closed reports {unsent} unsent, close() returned {:?}",
                    self.expected_unsent
                );
            }
            Event::Open { protocol } => {
                let actual = self
                    .m
                    .socket()
                    .and_then(|id| self.held(id))
                    .map(|s| s.protocol.clone());
                ensure!(
                    actual.is_none() || actual.as_deref() == Some(protocol.as_str()),
                    "events",
                    "open event with protocol {protocol:?}, the socket negotiated {actual:?}"
                );
                ensure!(
                    !self.open_unmatched,
                    "events",
                    "a second open event without a disconnected event between"
                );
                self.open_unmatched = true;
            }
            _ => {}
        }
        if let Some(state) = state {
            self.check_state_event(&state)?;
            if state.is_terminal() {
                self.final_delivered = true;
            }
            self.announced = Some(state);
            self.failure_reported = false;
        }
        if matches!(event, Event::Closed { .. }) {
            self.close_called = false; // its one event has come
        }
        // The user, from inside the event.
        let is_open = matches!(event, Event::Open { .. });
        self.in_open_event = is_open;
        let acted = self.user_in_event();
        self.in_open_event = false;
        acted?;
        if is_open {
            // The driver's answer once the `open` event has reached every listener.
            self.feed(Input::OpenDelivered)?;
        }
        Ok(())
    }

    /// Legal successions of announced states (invariant 7).
    fn check_state_event(&self, new: &State) -> Res {
        let Some(prev) = &self.announced else {
            ensure!(
                matches!(
                    new,
                    State::Connecting { attempt: 0 } | State::Parked | State::Closed { .. }
                ),
                "events",
                "first state event is {new:?}"
            );
            return Ok(());
        };
        use State as S;
        let ok = match (prev, new) {
            (_, S::Closed { .. }) => true,
            (S::Connecting { .. }, S::Open) => true,
            (_, S::Open) => false,
            (
                S::Connecting { .. } | S::Open,
                S::Reconnecting { .. } | S::Failed { .. } | S::Offline,
            ) => self.failure_reported,
            (S::Reconnecting { .. }, S::Offline) => true,
            (_, S::Reconnecting { .. } | S::Failed { .. } | S::Offline) => false,
            (S::Parked, S::Parked) => false,
            (_, S::Parked) => true,
            (_, S::Connecting { .. }) => true,
        };
        ensure!(
            ok,
            "events",
            "state event {new:?} after {prev:?} (failure reported since: {})",
            self.failure_reported
        );
        Ok(())
    }

    /// Invariant 3: every delay within the backoff's bounds for its attempt.
    fn check_delay(&self, attempt: u32, delay: Duration) -> Res {
        ensure!(
            attempt >= 1,
            "backoff",
            "Reconnecting with attempt {attempt}"
        );
        let backoff = &self.s.config.backoff;
        let ceiling = backoff.ceiling(attempt - 1).as_secs_f64() * 1000.0;
        let got = delay.as_secs_f64() * 1000.0;
        let (lo, hi) = match backoff.jitter {
            Jitter::Full => (0.0, ceiling),
            Jitter::Equal => (ceiling / 2.0, ceiling),
            Jitter::None => (ceiling, ceiling),
        };
        ensure!(
            (lo - 1.0..=hi + 1.0).contains(&got),
            "backoff",
            "attempt {attempt}: delay {got} ms outside [{lo}, {hi}] ({backoff:?})"
        );
        let armed = self.timers[Timer::Retry.index()].map(|(at, _, late)| at - late - self.now);
        ensure!(
            armed.is_some_and(|ms| (ms - got).abs() < 1.0),
            "backoff",
            "Reconnecting after {got} ms but the retry timer fires in {armed:?} ms"
        );
        Ok(())
    }

    // ----------------------------------------------------------------------- the user

    fn user_in_event(&mut self) -> Res {
        if self.c.chance(50) {
            self.read_getters()?;
        }
        if self.c.chance(self.s.p.reentrant_send) {
            self.k.reentrant_calls += 1;
            let n = self.c.range(1, 3) as usize;
            self.user_send(n)?;
        }
        if self.c.chance(self.s.p.reentrant_reconnect) {
            self.k.reentrant_calls += 1;
            self.user_reconnect()?;
        }
        if self.c.chance(self.s.p.reentrant_close) {
            self.k.reentrant_calls += 1;
            self.user_close()?;
        }
        Ok(())
    }

    fn user_send(&mut self, n: usize) -> Res {
        for _ in 0..n {
            let msg = self.recs.len() as u64;
            let size = match self.c.below(10) {
                0..=6 => 8 + self.c.below(24),
                7 | 8 => 8 + self.c.below(200),
                _ => 8 + self.c.below(1200),
            } as usize;
            let mut payload = vec![0u8; size];
            payload[..8].copy_from_slice(&msg.to_le_bytes());
            let over = self.m.over_error();
            let link = self.link();
            let result = self.m.send(link, Message::Binary(payload));
            let accepted = result.is_ok();
            self.log(|| format!("user: send #{msg} ({size} B) -> {result:?}"));
            match result {
                Ok(()) => {
                    ensure!(
                        over.is_none(),
                        "send",
                        "send accepted after the end ({over:?})"
                    );
                    self.k.sent += 1;
                }
                Err(error) => {
                    self.k.rejected += 1;
                    let expected = match &over {
                        Some(over) => error == *over,
                        None => match error {
                            Error::OutboxFull { .. } => self.s.config.overflow == Overflow::Reject,
                            Error::MessageExceedsOutbox { .. } => {
                                size > self.s.config.outbox_bytes
                                    || self.s.config.outbox_messages == 0
                            }
                            _ => false,
                        },
                    };
                    ensure!(
                        expected,
                        "send",
                        "send refused with {error:?} (over: {over:?})"
                    );
                }
            }
            self.recs.push(Rec {
                accepted,
                priority: self.in_open_event,
                ..Rec::default()
            });
        }
        Ok(())
    }

    fn user_reconnect(&mut self) -> Res {
        self.log(|| String::from("user: reconnect()"));
        if !self.m.is_over() {
            self.reset_pending = true;
            if self.hidden {
                self.reconnected_while_hidden = true;
            }
        }
        self.feed(Input::Reconnect)
    }

    /// `close()` with a random (sometimes invalid) code and reason.
    fn user_close(&mut self) -> Res {
        let code = match self.c.below(6) {
            0 => None,
            1 => Some(1000),
            2 => Some(4000 + self.c.below(999) as u16),
            3 => Some(3000),
            4 => Some(1006), // refused: not a code page code may send
            _ => Some(1001),
        };
        let reason = match self.c.below(4) {
            0 => None,
            1 => Some(String::from("bye")),
            2 => Some("x".repeat(124)), // refused: too long
            _ => Some(String::new()),
        };
        self.close_with(code, reason.as_deref())
    }

    fn close_with(&mut self, code: Option<u16>, reason: Option<&str>) -> Res {
        let before = self.m.state();
        let valid = crate::close::validate_close(code, reason).is_ok();
        let requeued = self.m.stats().requeued;
        let result = self.m.close(code, reason);
        self.log(|| match &result {
            Ok(returned) => format!(
                "user: close({code:?}, {reason:?}) -> Ok, {} messages back: {:?}",
                returned.len(),
                returned.iter().filter_map(message_id).collect::<Vec<_>>()
            ),
            Err(error) => format!("user: close({code:?}, {reason:?}) -> {error:?}"),
        });
        ensure!(
            self.m.stats().requeued == requeued,
            "requeue",
            "close() requeued messages"
        );
        let returned = match result {
            Err(error) => {
                ensure!(!valid, "close", "close({code:?}) refused: {error:?}");
                ensure!(
                    self.m.state() == before,
                    "close",
                    "a refused close() changed the state"
                );
                return Ok(());
            }
            Ok(returned) => returned,
        };
        ensure!(valid, "close", "close({code:?}, {reason:?}) accepted");
        match &before {
            State::Closed { .. } => {
                ensure!(
                    returned.is_empty(),
                    "close",
                    "close() after Closed returned messages"
                );
            }
            State::Failed { .. } => {}
            _ => {
                self.close_called = true;
                self.expected_unsent = Some(returned.len());
                ensure!(
                    matches!(self.m.state(), State::Closed { .. }),
                    "close",
                    "close() left the state at {:?}",
                    self.m.state()
                );
            }
        }
        for message in returned {
            let Some(msg) = message_id(&message) else {
                return Err(Violation {
                    kind: "close",
                    detail: format!("close() returned {message:?}"),
                });
            };
            let msg = msg as usize;
            let rec = &mut self.recs[msg];
            rec.returned += 1;
            self.k.returned += 1;
            ensure!(
                rec.accepted && rec.delivered + rec.returned + rec.stranded <= 1 + rec.lost_acks,
                "exactly-once",
                "close() returned message #{msg}: {rec:?}"
            );
        }
        Ok(())
    }

    /// Reads every getter and checks they agree with each other.
    fn read_getters(&mut self) -> Res {
        let m = &self.m;
        let state = m.state();
        let stats = m.stats();
        let _ = (m.url(), m.has_output());
        ensure!(
            m.is_over() == state.is_terminal() && m.over_error().is_some() == m.is_over(),
            "getters",
            "is_over {} / over_error {:?} with state {state:?}",
            m.is_over(),
            m.over_error()
        );
        ensure!(
            !m.accepts() || (state == State::Open && !m.closing()),
            "getters",
            "accepts() in {state:?} (closing {})",
            m.closing()
        );
        ensure!(
            !m.closing() || matches!(state, State::Open | State::Parked),
            "getters",
            "closing() in {state:?}"
        );
        ensure!(
            state != State::Open || m.socket().is_some(),
            "getters",
            "open without a socket"
        );
        ensure!(
            m.protocol().is_empty() || state == State::Open,
            "getters",
            "protocol {:?} in {state:?}",
            m.protocol()
        );
        ensure!(
            m.outbox_is_empty() == (stats.outbox_len == 0),
            "getters",
            "outbox_is_empty {} with {} queued",
            m.outbox_is_empty(),
            stats.outbox_len
        );
        ensure!(
            m.stats().in_flight == 0
                || state == State::Open
                || (state == State::Parked && m.closing()),
            "getters",
            "{} in flight in {state:?}",
            m.stats().in_flight
        );
        if let Some(id) = m.socket() {
            let asks =
                matches!(state, State::Connecting { .. }) || (state == State::Open && !m.closing());
            ensure!(
                m.asks_retry(id) == asks,
                "getters",
                "asks_retry({id}) = {} in {state:?} (closing {})",
                m.asks_retry(id),
                m.closing()
            );
        }
        Ok(())
    }

    // ----------------------------------------------------------------------- the world

    /// A socket reports its close (with the user's retry predicate asked when the machine
    /// says so; it reads the state, as a user's predicate may).
    fn report_close(&mut self, id: SocketId, close: CloseEvent) -> Res {
        let retry = if self.m.asks_retry(id) && self.c.chance(self.s.p.predicate) {
            let _ = (self.m.state(), self.m.stats());
            Some(!self.c.chance(10))
        } else {
            None
        };
        self.log(|| format!("net: socket {id} closed {close:?}, predicate {retry:?}"));
        self.feed(Input::Closed { id, close, retry })
    }

    /// A message from the server on socket `id`.
    fn inbound(&mut self, id: SocketId, len: usize) -> Res {
        let limit_ok = self.s.config.max_message_bytes.is_none_or(|l| len <= l);
        let expected = self.m.socket() == Some(id) && limit_ok;
        let counted = self.c.chance(10);
        if counted {
            self.m.add_received(1, len as u64);
        }
        let got = self.m.received(self.now, id, len, counted);
        self.log(|| format!("net: {len} B in on socket {id} -> {got}"));
        ensure!(
            got == expected,
            "received",
            "received({id}, {len}) = {got}, expected {expected}"
        );
        Ok(())
    }

    fn sock(&self, zombie: bool, i: usize) -> &Sock {
        if zombie {
            &self.zombies[i]
        } else {
            &self.socks[i]
        }
    }

    /// The server receives the next item of socket `i` (held or zombie): every copy of a
    /// message beyond the first needs a lost ack, and messages arrive in send order.
    fn server_receives(&mut self, zombie: bool, i: usize) -> Result<Item, Violation> {
        let sock = if zombie {
            &mut self.zombies[i]
        } else {
            &mut self.socks[i]
        };
        let id = sock.id;
        let item = sock.buf[sock.delivered];
        sock.delivered += 1;
        let Some(msg) = item.msg else {
            return Ok(item);
        };
        let rec = &mut self.recs[msg as usize];
        rec.delivered += 1;
        self.k.delivered += 1;
        if rec.delivered > 1 {
            self.k.duplicates += 1;
        }
        if let Some(trace) = &mut self.trace {
            let line = format!("t={:>9.1} net: server got #{msg} on socket {id}", self.now);
            trace.push(line);
        }
        ensure!(
            rec.delivered + rec.returned + rec.stranded <= 1 + rec.lost_acks,
            "exactly-once",
            "message #{msg} delivered again on socket {id} without a lost ack: {rec:?}"
        );
        if !rec.priority {
            ensure!(
                sock.last_in_order.is_none_or(|last| last < msg),
                "order",
                "socket {id}: message #{msg} arrived after #{:?}",
                sock.last_in_order
            );
            sock.last_in_order = Some(msg);
        }
        Ok(item)
    }

    /// The network moves data on one socket (held or zombie): deliveries, then acks.
    fn tick(&mut self, zombie: bool, i: usize) -> Res {
        let sock = self.sock(zombie, i);
        let (id, n) = (sock.id, sock.deliverable() as u64);
        let replies = !zombie && sock.ready == Ready::Open;
        let deliver_n = if self.c.chance(40) {
            n
        } else {
            self.c.below(n + 1)
        };
        let mut inbound: Vec<usize> = Vec::new();
        for _ in 0..deliver_n {
            let echo = self.c.chance(self.s.p.echo);
            let item = self.server_receives(zombie, i)?;
            match item.msg {
                None if self.sock(zombie, i).pongs => inbound.push(4),
                Some(_) if echo => inbound.push(item.size as usize),
                _ => {}
            }
        }
        let sock = self.sock(zombie, i);
        let ackable = if sock.health == Health::Alive {
            sock.ackable()
        } else {
            0
        };
        let ack = if self.c.chance(50) {
            ackable
        } else {
            self.c.below(ackable + 1)
        };
        if zombie {
            self.zombies[i].ack(ack);
        } else {
            self.socks[i].ack(ack);
        }
        if replies {
            for len in inbound {
                if self.held(id).is_some_and(|s| s.ready == Ready::Open) {
                    self.inbound(id, len)?;
                    self.drain()?;
                }
            }
        }
        Ok(())
    }

    /// The next thing due: a timer or an agenda entry, earliest first (ties in arming order).
    fn next_due(&self) -> Option<(f64, Option<usize>, Option<Timer>)> {
        let mut best: Option<(f64, u64, Option<usize>, Option<Timer>)> = None;
        for timer in Timer::ALL {
            if let Some((at, seq, _)) = self.timers[timer.index()] {
                if best.is_none_or(|(a, s, _, _)| (at, seq) < (a, s)) {
                    best = Some((at, seq, None, Some(timer)));
                }
            }
        }
        for (i, p) in self.agenda.iter().enumerate() {
            if best.is_none_or(|(a, s, _, _)| (p.at, p.seq) < (a, s)) {
                best = Some((p.at, p.seq, Some(i), None));
            }
        }
        best.map(|(at, _, i, t)| (at, i, t))
    }

    /// Processes the next due thing if it is due by `until`; false if nothing was.
    fn fire_next(&mut self, until: f64) -> Result<bool, Violation> {
        let Some((at, index, timer)) = self.next_due() else {
            return Ok(false);
        };
        if at > until {
            return Ok(false);
        }
        self.now = self.now.max(at);
        if let Some(timer) = timer {
            self.timers[timer.index()] = None;
            if timer == Timer::Stable && self.m.state() == State::Open && !self.m.closing() {
                self.stable_reached = true;
            }
            self.log(|| format!("timer: {timer:?} fires"));
            self.feed(Input::Fired(timer))?;
        } else if let Some(index) = index {
            let pending = self.agenda.swap_remove(index);
            self.process(pending.due)?;
        }
        self.drain()?;
        self.quiescent()?;
        Ok(true)
    }

    fn process(&mut self, due: Due) -> Res {
        match due {
            Due::Provider { id, result } => {
                self.log(|| format!("provider: attempt {id} answers {result:?}"));
                // As the driver does: the URL and subprotocols it gave are checked first.
                let result =
                    result.and_then(|(url, protocols)| crate::url::target(&url, protocols, false));
                self.feed(Input::Resolved { id, result })
            }
            Due::Handshake { id, accept } => {
                let pick = self.c.chance(60);
                let Some(sock) = self.held_mut(id) else {
                    return Ok(());
                };
                if sock.ready != Ready::Connecting {
                    return Ok(());
                }
                if accept {
                    sock.ready = Ready::Open;
                    sock.protocol = match sock.offered.first() {
                        Some(p) if pick => p.clone(),
                        _ => String::new(),
                    };
                    let protocol = sock.protocol.clone();
                    self.log(|| format!("net: socket {id} open ({protocol:?})"));
                    self.feed(Input::Opened { id, protocol })
                } else {
                    sock.ready = Ready::Closed;
                    let close = CloseEvent {
                        code: 1006,
                        reason: String::new(),
                        was_clean: false,
                    };
                    self.report_close(id, close)
                }
            }
            Due::CloseDone { id, close } => {
                let Some(i) = self.socks.iter().position(|s| s.id == id) else {
                    return Ok(());
                };
                let sock = &self.socks[i];
                if sock.ready == Ready::Closed && sock.client_closing {
                    return Ok(());
                }
                if sock.client_closing && !sock.server_closing {
                    if sock.health != Health::Alive {
                        return Ok(()); // the handshake never completes
                    }
                    // A completed closing handshake means everything before it went out.
                    let all = sock.deliverable();
                    for _ in 0..all {
                        self.server_receives(false, i)?;
                    }
                    let sock = &mut self.socks[i];
                    let ackable = sock.ackable();
                    sock.ack(ackable);
                }
                self.socks[i].ready = Ready::Closed;
                self.report_close(id, close)
            }
            Due::Abort { id } => self.abort(id),
        }
    }

    /// The TCP connection under socket `id` is gone: 1006, no close frame.
    fn abort(&mut self, id: SocketId) -> Res {
        let Some(sock) = self.held_mut(id) else {
            return Ok(());
        };
        if sock.ready == Ready::Closed {
            return Ok(());
        }
        sock.ready = Ready::Closed;
        let close = CloseEvent {
            code: 1006,
            reason: String::new(),
            was_clean: false,
        };
        self.report_close(id, close)
    }

    /// One step of the world.
    fn step(&mut self) -> Res {
        let action = ACTIONS[self.c.weighted(&self.s.p.weights)];
        // No page script runs while the page is in the back/forward cache.
        let user_action = matches!(
            action,
            Action::Send
                | Action::Reconnect
                | Action::Close
                | Action::Getters
                | Action::Online
                | Action::Visible
        );
        if self.hidden && user_action {
            if self.c.chance(30) {
                self.hidden = false;
                self.log(|| String::from("env: pageshow (persisted)"));
                if matches!(self.m.state(), State::Parked) || self.m.closing() {
                    self.reset_pending = true;
                }
                self.feed(Input::PageShown)?;
                self.drain()?;
                return self.quiescent();
            }
            return self.advance();
        }
        let current = self
            .m
            .socket()
            .and_then(|id| self.held(id))
            .map(|s| (s.id, s.ready));
        match action {
            Action::NextDue => {
                if !self.fire_next(f64::INFINITY)? {
                    self.now += 1000.0;
                }
                return Ok(());
            }
            Action::Advance => return self.advance(),
            Action::Network => {
                for i in 0..self.socks.len() {
                    if i < self.socks.len() && self.c.chance(80) {
                        self.tick(false, i)?;
                    }
                }
                let mut i = 0;
                while i < self.zombies.len() {
                    self.tick(true, i)?;
                    if self.zombies[i].buf.is_empty() {
                        self.zombies.swap_remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
            Action::Send => {
                let n = self.c.range(1, 4) as usize;
                self.user_send(n)?;
            }
            Action::Inbound => {
                if let Some((id, Ready::Open)) = current {
                    if self.held(id).is_some_and(|s| s.health == Health::Alive) {
                        let len = self.c.range(0, 150) as usize;
                        self.inbound(id, len)?;
                    }
                }
            }
            Action::ServerClose => {
                if let Some((id, Ready::Open)) = current {
                    let codes: [(u16, &str); 10] = [
                        (1001, "going away"),
                        (1011, "internal error"),
                        (4000, "app restart"),
                        (1012, "service restart"),
                        (3000, ""),
                        (4999, "custom"),
                        (1013, "try again later"),
                        (1000, "bye"),
                        (1008, "policy"),
                        (1002, "protocol error"),
                    ];
                    // The last three are fatal under the default policy: rarer.
                    let (code, reason) = codes[self.c.weighted(&[5, 5, 5, 4, 3, 3, 3, 1, 1, 1])];
                    let delay = self.c.below(80) as f64;
                    if let Some(sock) = self.held_mut(id) {
                        if sock.health == Health::Alive {
                            sock.ready = Ready::Closing;
                            sock.server_closing = true;
                            let close = CloseEvent {
                                code,
                                reason: String::from(reason),
                                was_clean: true,
                            };
                            self.log(|| format!("server: closes socket {id} with {code}"));
                            self.schedule(delay, Due::CloseDone { id, close });
                        }
                    }
                }
            }
            Action::Abort => {
                if let Some((id, _)) = current {
                    self.log(|| format!("net: TCP abort under socket {id}"));
                    self.abort(id)?;
                }
            }
            Action::Health => {
                if let Some((id, _)) = current {
                    let roll = self.c.below(3);
                    if let Some(sock) = self.held_mut(id) {
                        sock.health = match (sock.health, roll) {
                            (Health::Alive, 0) => Health::Silent,
                            (Health::Alive, _) => Health::Dead,
                            (Health::Silent, 0) => Health::Alive,
                            (Health::Silent, _) => Health::Dead,
                            (Health::Dead, _) => Health::Dead,
                        };
                        let health = sock.health;
                        self.log(|| format!("net: link under socket {id} is {health:?}"));
                    }
                }
            }
            Action::Online => {
                self.online = !self.online;
                let online = self.online;
                self.log(|| format!("env: online = {online}"));
                if !online {
                    let ids: Vec<SocketId> = self.socks.iter().map(|s| s.id).collect();
                    for id in ids {
                        if self.c.chance(50) {
                            let delay = self.c.below(3000) as f64;
                            self.schedule(delay, Due::Abort { id });
                        }
                    }
                }
                if self.online
                    && matches!(self.m.state(), State::Reconnecting { .. } | State::Offline)
                {
                    self.reset_pending = true;
                }
                self.feed(Input::Online(online))?;
            }
            Action::Visible => {
                self.visible = !self.visible;
                let visible = self.visible;
                self.log(|| format!("env: visible = {visible}"));
                if visible && matches!(self.m.state(), State::Reconnecting { .. } | State::Offline)
                {
                    self.reset_pending = true;
                }
                self.feed(Input::Visible(visible))?;
            }
            Action::Page => {
                self.hidden = !self.hidden;
                if self.hidden {
                    self.reconnected_while_hidden = false;
                    self.log(|| String::from("env: pagehide (persisted)"));
                    self.feed(Input::PageHidden)?;
                } else {
                    self.log(|| String::from("env: pageshow (persisted)"));
                    if matches!(self.m.state(), State::Parked) || self.m.closing() {
                        self.reset_pending = true;
                    }
                    self.feed(Input::PageShown)?;
                }
            }
            Action::Reconnect => self.user_reconnect()?,
            Action::Close => self.user_close()?,
            Action::Getters => self.read_getters()?,
        }
        self.drain()?;
        self.quiescent()
    }

    /// Lets up to a random amount of time pass, firing what comes due, in order.
    fn advance(&mut self) -> Res {
        let until = self.now + self.c.below(300) as f64;
        while self.fire_next(until)? {}
        self.now = self.now.max(until);
        Ok(())
    }

    // ----------------------------------------------------------------------- invariants

    /// Everything that must hold once a dispatch is over.
    fn quiescent(&mut self) -> Res {
        let m = &self.m;
        ensure!(!m.has_output(), "driver", "outputs left after a dispatch");
        let state = m.state();
        let stats = m.stats();
        let closing = m.closing();

        // 1. At most one socket connecting or open, and only the machine's.
        let live = self
            .socks
            .iter()
            .filter(|s| matches!(s.ready, Ready::Connecting | Ready::Open))
            .count();
        ensure!(live <= 1, "one-socket", "{live} sockets connecting or open");
        for sock in &self.socks {
            ensure!(
                m.socket() == Some(sock.id),
                "leak",
                "the driver holds socket {} ({:?}) the machine has left (current {:?}, {state:?})",
                sock.id,
                sock.ready,
                m.socket()
            );
        }

        // Timers: the driver's table is exactly what the machine thinks armed, and each state
        // has the timers that move it on (no state can get stuck).
        let armed = m.armed();
        for timer in Timer::ALL {
            ensure!(
                armed[timer.index()] == self.timers[timer.index()].is_some(),
                "timers",
                "{timer:?}: machine thinks armed {}, driver has {:?}",
                armed[timer.index()],
                self.timers[timer.index()]
            );
        }
        let on = |t: Timer| armed[t.index()];
        let heartbeat = self.s.config.heartbeat.is_some();
        // The ack timer runs only in resume mode, while open, with something to acknowledge.
        let ack = self.s.config.resume.is_some() && on(Timer::Ack);
        let expected: [bool; 6] = match &state {
            State::Connecting { .. } => [true, false, false, false, false, false],
            State::Open | State::Parked if closing => [false, false, false, false, true, false],
            State::Open => [false, false, on(Timer::Stable), heartbeat, false, ack],
            State::Reconnecting { .. } => [false, true, false, false, false, false],
            _ => [false; 6],
        };
        ensure!(
            armed == expected,
            "timers",
            "in {state:?} (closing {closing}) timers {armed:?}, expected {expected:?} \
             [Connect, Retry, Stable, Heartbeat, Settle, Ack]"
        );
        if state == State::Open && !closing && !self.stable_reached {
            ensure!(
                on(Timer::Stable),
                "timers",
                "open, not yet stable, no Stable timer"
            );
        }

        // 4. An attempt (provider included) never outlives the connect timeout.
        if matches!(state, State::Connecting { .. }) {
            // Measured from the attempt's start, less what throttling delayed its timer.
            let late = self.timers[Timer::Connect.index()].map_or(0.0, |(_, _, late)| late);
            let age = self.now - self.attempt_started - late;
            ensure!(
                (f64::NEG_INFINITY..=f64::from(self.s.config.connect_timeout_ms) + 1e-6)
                    .contains(&age),
                "connect-timeout",
                "connecting for {age} ms, connect timeout {} ms",
                self.s.config.connect_timeout_ms
            );
        }

        // 5. The end: nothing left alive.
        if state.is_terminal() {
            ensure!(
                self.socks.is_empty() && self.timers.iter().all(Option::is_none),
                "after-final",
                "{state:?} with sockets {:?} and timers {:?}",
                self.socks.iter().map(|s| s.id).collect::<Vec<_>>(),
                self.timers
            );
            ensure!(
                m.stats().in_flight == 0,
                "after-final",
                "{state:?} with in-flight messages"
            );
        }
        if matches!(state, State::Closed { .. }) {
            ensure!(
                self.closed_events == 1,
                "after-final",
                "Closed with {} Closed events",
                self.closed_events
            );
        }

        // 6. Bounded memory.
        if self.transmitted {
            self.transmitted = false;
            let real = m
                .socket()
                .and_then(|id| self.held(id))
                .map_or(0, |s| s.buf.len());
            ensure!(
                m.stats().in_flight <= real + 1,
                "memory",
                "{} messages in flight, {real} really unacknowledged",
                m.stats().in_flight
            );
        }
        self.outbox_allow = self.outbox_allow.min(stats.outbox_len);
        self.outbox_allow_bytes = self.outbox_allow_bytes.min(stats.outbox_bytes);
        ensure!(
            stats.outbox_len <= self.s.config.outbox_messages + self.outbox_allow
                && stats.outbox_bytes <= self.s.config.outbox_bytes + self.outbox_allow_bytes,
            "memory",
            "outbox {} messages / {} B over its capacity {} / {} (+{} requeued / {} B)",
            stats.outbox_len,
            stats.outbox_bytes,
            self.s.config.outbox_messages,
            self.s.config.outbox_bytes,
            self.outbox_allow,
            self.outbox_allow_bytes
        );
        ensure!(
            self.agenda.len() <= 64 && self.zombies.len() <= 4,
            "memory",
            "{} agenda entries, {} zombies",
            self.agenda.len(),
            self.zombies.len()
        );

        // 7. The state is what the events announced.
        if self.prev.is_some() || self.announced.is_some() {
            ensure!(
                self.announced.as_ref() == Some(&state),
                "events",
                "state {state:?}, last announced {:?}",
                self.announced
            );
        }

        // Environment: offline only when offline, parked only while hidden, nothing opened
        // while hidden (unless the user asked).
        ensure!(
            state != State::Offline || !self.online,
            "env",
            "Offline while the browser is online"
        );
        // (Shown again while the parked socket is still settling: it connects once settled.)
        ensure!(
            state != State::Parked || self.hidden || self.m.closing(),
            "env",
            "Parked while the page is shown"
        );
        if self.hidden && !self.reconnected_while_hidden {
            ensure!(
                !matches!(state, State::Connecting { .. } | State::Reconnecting { .. }),
                "bfcache",
                "{state:?} while the page is in the back/forward cache"
            );
        }

        self.check_attempts(&state)?;
        self.prev = Some(state);
        Ok(())
    }

    /// Invariant 3: attempt numbers count consecutive failures, whatever failed, and `Failed`
    /// for exhausted retries comes after exactly `max_retries + 1` of them.
    fn check_attempts(&mut self, state: &State) -> Res {
        let max = self.s.config.max_retries;
        // The failures that an attempt ending now has made.
        let failures = |sim: &Sim| -> u32 {
            match &sim.prev {
                Some(State::Open) if sim.stable_reached => 1,
                _ => sim.cur_attempt + 1,
            }
        };
        let changed = self.prev.as_ref() != Some(state);
        match state {
            State::Connecting { attempt } if changed || self.reset_pending => {
                let expected = if self.reset_pending {
                    Some(0)
                } else {
                    self.pending_attempt
                };
                ensure!(
                    Some(*attempt) == expected,
                    "attempts",
                    "attempt {attempt} after {:?}, expected {expected:?}",
                    self.prev
                );
                self.cur_attempt = *attempt;
                self.reset_pending = false;
                self.pending_attempt = None;
            }
            State::Open if changed => self.stable_reached = false,
            State::Reconnecting { attempt, .. } if changed => {
                let expected = failures(self);
                ensure!(
                    *attempt == expected,
                    "attempts",
                    "Reconnecting attempt {attempt} after {:?} (attempt {}, stable {}), \
                     expected {expected}",
                    self.prev,
                    self.cur_attempt,
                    self.stable_reached
                );
                ensure!(
                    max.is_none_or(|max| *attempt <= max),
                    "attempts",
                    "retrying attempt {attempt} with max_retries {max:?}"
                );
                self.pending_attempt = Some(*attempt);
                self.reset_pending = false;
            }
            State::Offline if changed => {
                if matches!(self.prev, Some(State::Connecting { .. } | State::Open)) {
                    let n = failures(self);
                    ensure!(
                        max.is_none_or(|max| n <= max),
                        "attempts",
                        "Offline after failure {n} with max_retries {max:?} (should be Failed)"
                    );
                }
                self.pending_attempt = None;
                self.reset_pending = false;
            }
            // The next attempt after a park, whatever starts it, has the backoff reset.
            State::Parked if changed => {
                self.pending_attempt = None;
                self.reset_pending = true;
            }
            State::Failed { reason } if changed => {
                if let Some(n) = reason
                    .strip_prefix("gave up after ")
                    .and_then(|r| r.split(' ').next())
                {
                    self.k.gave_up += 1;
                    let n: u32 = n.parse().unwrap_or(u32::MAX);
                    let expected = failures(self);
                    ensure!(
                        max.is_some_and(|max| n == max + 1) && n == expected,
                        "attempts",
                        "{reason:?} after {:?} (attempt {}), max_retries {max:?}, \
                         expected {expected} failures",
                        self.prev,
                        self.cur_attempt
                    );
                } else if matches!(self.prev, Some(State::Connecting { .. } | State::Open)) {
                    // A fatal close, a bad URL or a constructor that threw: not a count.
                }
            }
            _ => {}
        }
        Ok(())
    }

    // ----------------------------------------------------------------------- the end

    /// Closes (if the run did not), lets the world settle, and checks the accounting.
    fn finish(&mut self) -> Res {
        self.hidden = false;
        let was_failed = matches!(self.m.state(), State::Failed { .. });
        if !matches!(self.m.state(), State::Closed { .. }) {
            self.close_with(Some(1000), Some("end of run"))?;
            self.drain()?;
            self.quiescent()?;
        }
        // Only once: a second close() hands back nothing.
        let again = self.m.close(None, None);
        ensure!(
            again.as_ref().is_ok_and(Vec::is_empty),
            "close",
            "a second close() returned {again:?}"
        );
        ensure!(
            !self.m.has_output(),
            "after-final",
            "a second close() queued outputs"
        );
        // The world goes on: nothing may reach the user any more.
        for _ in 0..64 {
            if !self.fire_next(f64::INFINITY)? {
                break;
            }
        }
        // The browser flushes the sockets close() left closing, if their link lets it.
        for i in 0..self.zombies.len() {
            while self.zombies[i].deliverable() > 0 {
                self.server_receives(true, i)?;
            }
        }
        for sock in core::mem::take(&mut self.zombies) {
            for item in sock.buf.iter().skip(sock.delivered) {
                if let Some(m) = item.msg {
                    self.recs[m as usize].stranded += 1;
                    self.k.stranded += 1;
                }
            }
        }
        // 2. Exactly once: every copy the machine held has one fate.
        let mut fates_missing: u64 = 0;
        for (msg, rec) in self.recs.iter().enumerate() {
            if !rec.accepted {
                ensure!(
                    rec.delivered == 0 && rec.returned == 0,
                    "exactly-once",
                    "refused message #{msg} reached the server or came back: {rec:?}"
                );
                continue;
            }
            let copies = 1 + rec.lost_acks;
            let fates = rec.delivered + rec.returned + rec.stranded;
            ensure!(fates <= copies, "exactly-once", "message #{msg}: {rec:?}");
            fates_missing += u64::from(copies - fates);
            self.k.lost_acks += u64::from(rec.lost_acks);
        }
        ensure!(
            fates_missing == self.dropped_reported,
            "exactly-once",
            "{fates_missing} message copies neither delivered, returned by close() nor left in \
             a closed socket's buffer, {} reported dropped (failed before close: {was_failed})",
            self.dropped_reported
        );
        self.k.dropped += self.dropped_reported;
        if was_failed {
            self.k.failed_runs += 1;
        }
        Ok(())
    }
}

// --------------------------------------------------------------------------- running

/// How one run ended.
struct Outcome {
    steps: u64,
    result: Result<(), Violation>,
    record: Option<Vec<u64>>,
    trace: Option<Vec<String>>,
    counters: Counters,
}

/// The number of steps of the run for `seed` (not a choice: shrinking keeps it).
fn run_length(seed: u64, cap: u64) -> u64 {
    let mut rng = SplitMix(seed ^ 0x5EED_5EED_5EED_5EED);
    let n = 50 + rng.next() % 2500;
    n.min(cap)
}

/// One run: `steps` steps of the world from `seed` (or from recorded choices), then the end.
fn run(
    seed: u64,
    steps: u64,
    replay: Option<Vec<u64>>,
    record: bool,
    trace: bool,
    mode: Mode,
) -> Outcome {
    let choices = Choices::new(seed, replay, record);
    let mut sim = Sim::new(choices, mode, trace);
    let mut done = 0;
    let result = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| -> Res {
        // Page code runs before the first attempt starts (on the next microtask): sends are
        // common, a reconnect(), close() or pagehide rare.
        if sim.c.chance(30) {
            let n = sim.c.range(1, 3) as usize;
            sim.user_send(n)?;
            sim.drain()?;
        }
        match sim.c.below(40) {
            1 => sim.user_reconnect()?,
            2 => sim.user_close()?,
            3 => {
                sim.hidden = true;
                sim.log(|| String::from("env: pagehide (persisted) before the start"));
                sim.feed(Input::PageHidden)?;
            }
            _ => {}
        }
        sim.drain()?;
        let online = sim.online;
        sim.log(|| format!("env: start (online {online})"));
        sim.feed(Input::Start { online })?;
        sim.drain()?;
        sim.quiescent()?;
        // A few steps after the end (nothing may happen then), not a whole idle run.
        let mut after_end = 0;
        while done < steps && after_end < 20 {
            done += 1;
            sim.step()?;
            if matches!(sim.m.state(), State::Closed { .. }) {
                break;
            }
            if sim.m.is_over() {
                after_end += 1;
            }
        }
        sim.finish()
    }));
    let result = match result {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(Violation {
                kind: "panic",
                detail: message,
            })
        }
    };
    sim.k.runs = 1;
    sim.k.steps = done;
    Outcome {
        steps: done,
        result,
        record: sim.c.record.take(),
        trace: sim.trace.take(),
        counters: sim.k,
    }
}

/// Delta debugging over the recorded choices: drops chunks (halving their size) while the
/// run still breaks the same invariant, then zeroes single choices. Returns the shortest
/// failing choice list, its step count and violation.
fn shrink(
    seed: u64,
    steps: u64,
    choices: Vec<u64>,
    kind: &'static str,
    mode: Mode,
) -> (Vec<u64>, u64, Violation) {
    let fails = |candidate: &[u64], steps: u64| -> Option<(u64, Violation)> {
        let out = run(seed, steps, Some(candidate.to_vec()), false, false, mode);
        match out.result {
            Err(v) if v.kind == kind => Some((out.steps, v)),
            _ => None,
        }
    };
    let Some((mut best_steps, mut best_violation)) = fails(&choices, steps) else {
        return (
            choices,
            steps,
            Violation {
                kind,
                detail: String::from("(did not reproduce from its recorded choices)"),
            },
        );
    };
    let mut best = choices;
    let mut budget = 3000;
    let mut chunk = best.len().div_ceil(2).max(1);
    while budget > 0 {
        let mut i = 0;
        let mut improved = false;
        while i < best.len() && budget > 0 {
            budget -= 1;
            let end = (i + chunk).min(best.len());
            let mut candidate = best[..i].to_vec();
            candidate.extend_from_slice(&best[end..]);
            match fails(&candidate, best_steps) {
                Some((steps, violation)) => {
                    best = candidate;
                    best_steps = steps;
                    best_violation = violation;
                    improved = true;
                }
                None => i += chunk,
            }
        }
        if chunk == 1 && !improved {
            break;
        }
        if !improved {
            chunk = chunk.div_ceil(2);
        }
    }
    // Fewer steps: the tail of a run that fails only at its end is often idle.
    while budget > 0 && best_steps > 1 {
        budget -= 1;
        match fails(&best, best_steps / 2) {
            Some((steps, violation)) => {
                best_steps = steps;
                best_violation = violation;
            }
            None => break,
        }
    }
    // Simpler values: zero each choice that is not zero yet.
    let mut i = 0;
    while i < best.len() && budget > 0 {
        if best[i] != 0 {
            budget -= 1;
            let mut candidate = best.clone();
            candidate[i] = 0;
            if let Some((steps, violation)) = fails(&candidate, best_steps) {
                best = candidate;
                best_steps = steps;
                best_violation = violation;
            }
        }
        i += 1;
    }
    (best, best_steps, best_violation)
}

/// Runs `seed`; on a violation, shrinks it and returns a report (seed, violation, the shrunk
/// run's trace).
fn check_seed(seed: u64, cap: u64, mode: Mode, counters: &mut Counters) -> Result<(), String> {
    let steps = run_length(seed, cap);
    let out = run(seed, steps, None, false, false, mode);
    counters.add(&out.counters);
    let Err(violation) = out.result else {
        return Ok(());
    };
    // Record the failing run's choices, then shrink them (quietly: panics are expected).
    let recorded = run(seed, steps, None, true, false, mode);
    let choices = recorded.record.unwrap_or_default();
    // Shrinking a panic replays it many times: silence the (process-wide) hook meanwhile, and
    // only then, so other tests' panics still print.
    let quiet = violation.kind == "panic";
    let hook = quiet.then(|| {
        let hook = std::panic::take_hook();
        std::panic::set_hook(alloc::boxed::Box::new(|_| {}));
        hook
    });
    let (shrunk, shrunk_steps, shrunk_violation) =
        shrink(seed, out.steps, choices.clone(), violation.kind, mode);
    if let Some(hook) = hook {
        std::panic::set_hook(hook);
    }
    let replay = run(seed, shrunk_steps, Some(shrunk.clone()), false, true, mode);
    let trace = replay.trace.unwrap_or_default();
    let mut report = format!(
        "simulation failed: seed {seed} (replay with SIM_SEED={seed})\n\
         violation [{}] at step {}: {}\n\
         shrunk from {} choices / {} steps to {} choices / {} steps: [{}] {}\n\
         shrunk schedule ({} lines):\n",
        violation.kind,
        out.steps,
        violation.detail,
        choices.len(),
        out.steps,
        shrunk.len(),
        shrunk_steps,
        shrunk_violation.kind,
        shrunk_violation.detail,
        trace.len(),
    );
    for line in &trace {
        report.push_str("  ");
        report.push_str(line);
        report.push('\n');
    }
    Err(report)
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Runs seeds from `first` until `seeds` seeds or `steps` steps, whichever comes first.
fn explore(first: u64, seeds: u64, steps: u64, mode: Mode) -> (Counters, f64, Result<(), String>) {
    let mut counters = Counters::default();
    let start = std::time::Instant::now();
    let mut result = Ok(());
    if let Some(seed) = env_u64("SIM_SEED") {
        result = check_seed(seed, u64::MAX, mode, &mut counters);
        if result.is_ok() {
            // Show what the run did.
            let out = run(seed, run_length(seed, u64::MAX), None, false, true, mode);
            for line in out.trace.unwrap_or_default() {
                println!("  {line}");
            }
        }
    } else {
        let mut seed = first;
        while counters.runs < seeds && counters.steps < steps {
            let cap = steps - counters.steps;
            result = check_seed(seed, cap, mode, &mut counters);
            if result.is_err() {
                break;
            }
            seed += 1;
        }
    }
    (counters, start.elapsed().as_secs_f64(), result)
}

fn report(label: &str, k: &Counters, secs: f64) {
    println!(
        "sim {label}: {} seeds, {} steps in {:.1} s ({:.0} steps/s); {} messages sent \
         ({} refused), {} deliveries ({} lost-ack duplicates of {} lost acks), {} dropped by \
         overflow events, {} returned by close(), {} left in a closed socket's buffer; {} \
         sockets opened, {} events ({} user calls from inside events), {} runs ended Failed \
         ({} gave up after max_retries)",
        k.runs,
        k.steps,
        secs,
        k.steps as f64 / secs.max(1e-9),
        k.sent,
        k.rejected,
        k.delivered,
        k.duplicates,
        k.lost_acks,
        k.dropped,
        k.returned,
        k.stranded,
        k.opens,
        k.events,
        k.reentrant_calls,
        k.failed_runs,
        k.gave_up,
    );
    let kinds: Vec<String> = EVENT_KINDS
        .iter()
        .zip(k.by_kind)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    println!("sim {label}: events by kind: {}", kinds.join(", "));
}

#[cfg(feature = "resume")]
mod resume;

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs in plain `cargo test`: a bounded number of seeds.
    #[test]
    fn bounded_seeds() {
        let seeds = env_u64("SIM_SEEDS").unwrap_or(10_000);
        let steps = env_u64("SIM_STEPS").unwrap_or(3_000_000);
        let (k, secs, result) = explore(0, seeds, steps, Mode::Real);
        report("bounded", &k, secs);
        if let Err(report) = result {
            panic!("{report}");
        }
    }

    /// `SIM_STEPS=10000000 cargo test --release --lib sim::tests::many -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn many() {
        let steps = env_u64("SIM_STEPS").unwrap_or(10_000_000);
        let seeds = env_u64("SIM_SEEDS").unwrap_or(u64::MAX);
        let first = env_u64("SIM_SEED_BASE").unwrap_or(1_000_000);
        println!("sim many: seeds from {first}, budget {steps} steps");
        let (k, secs, result) = explore(first, seeds, steps, Mode::Real);
        report("many", &k, secs);
        if let Err(report) = result {
            panic!("{report}");
        }
    }

    /// The simulator can fail: a deliberately false invariant ("no connection ever dies
    /// holding an unacknowledged message") is caught, reported with its seed, and shrunk to a
    /// short schedule.
    #[test]
    fn a_false_invariant_is_caught_and_shrunk() {
        let mut k = Counters::default();
        let mut caught = None;
        for seed in 0..200 {
            if let Err(report) = check_seed(seed, 3000, Mode::FalseNoRequeue, &mut k) {
                caught = Some(report);
                break;
            }
        }
        let report = caught.expect("a false invariant went unnoticed");
        assert!(report.contains("[false-invariant]"), "{report}");
        assert!(report.contains("SIM_SEED="), "{report}");
        let lines = report.lines().filter(|l| l.starts_with("  t=")).count();
        assert!(
            lines < 80,
            "the schedule was not shrunk ({lines} lines):\n{report}"
        );
    }

    #[test]
    fn the_same_seed_replays_the_same_run() {
        let a = run(42, 400, None, true, false, Mode::Real);
        let b = run(42, 400, a.record.clone(), true, false, Mode::Real);
        assert!(a.result.is_ok() && b.result.is_ok());
        assert_eq!(a.record, b.record);
        assert_eq!(a.counters.delivered, b.counters.delivered);
        assert_eq!(a.counters.events, b.counters.events);
    }
}
