//! The wasm engine under the npm package's `ReSocket` class: the pure reconnect machine
//! ([`crate::machine`]) and nothing else.
//!
//! The class and its driver are JavaScript (`resocket.js`, the package's entry module): it
//! owns the browser sockets, the timers, the page listeners and the events, reads and checks
//! the options, and feeds the machine its inputs through [`Engine`]'s methods; it takes the
//! machine's outputs one by one with [`Engine::poll`] and carries them out. Every decision
//! (reconnection, backoff, the outbox and the in-flight accounting, close codes, the heartbeat)
//! is the machine's, the same code the Rust `ReSocket` runs. No web-sys, no closures, no
//! futures: the engine's wasm holds the policy, and the browser glue stays in JavaScript,
//! where it costs a fraction of the bytes.
//!
//! Every answer is a number: a string or bytes the class reads come back as their length (-1:
//! none), and the class reads them in the wasm's memory at [`Engine::at`] (no copy into a new
//! allocation, no wasm-bindgen return shims). URLs come parsed: the class runs the browser's
//! `URL` and hands the engine the parts (see [`parsed`]); the policy is Rust's.
//!
//! The TypeScript declarations of the class are hand-written in `resocket.d.ts` and checked by
//! `tsc --strict` in `npm test`.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::backoff::Jitter;
use crate::error::Error;
use crate::events::{Event, State};
use crate::machine::{Config, Input, Link, Machine, Output, Timer};
#[cfg(feature = "resume")]
use crate::machine::{Received, Take};
use crate::message::{CloseEvent, Message};
#[cfg(feature = "resume")]
use crate::options::{Fallback, Resume};
use crate::options::{Heartbeat, OnReconnect, Options};
use crate::outbox::Overflow;
use crate::url::{target_of, validate_protocols, Parts, Target};

mod abi;
#[cfg(feature = "npm")]
pub(crate) mod heap;

/// Milliseconds as whole microseconds (`as` saturates).
fn millis(ms: f64) -> Duration {
    Duration::from_micros((ms * 1000.0) as u64)
}

/// Subprotocols as `resocket.js` passes them: joined by newlines (a token has none).
fn protocol_list(joined: &str) -> Vec<String> {
    if joined.is_empty() {
        return Vec::new();
    }
    let mut rest = Some(joined);
    let mut list = Vec::new();
    while let Some(line) = line(&mut rest) {
        list.push(String::from(line));
    }
    list
}

/// The text up to the next newline (or the end), taken from the front of `rest`; `None` once
/// `rest` is used up. A byte loop: `str::split` links `memchr` and a pattern searcher into the
/// wasm for this alone.
fn line<'a>(rest: &mut Option<&'a str>) -> Option<&'a str> {
    let text = rest.take()?;
    match text.bytes().position(|b| b == b'\n') {
        Some(at) => {
            *rest = text.get(at + 1..);
            text.get(..at)
        }
        None => Some(text),
    }
}

/// `kind\nmessage` of an error: the class builds the JavaScript exception (a DOMException
/// where the browser throws one) from it.
fn error_text(err: &Error) -> String {
    [err.kind(), "\n", &err.message()].concat()
}

/// A URL as the class passes it: the seven parts the browser's `URL` gave (`urlParts` in
/// `src/url.js`: scheme, hostname, host, path, `true` if it has a query, `true` if it has a
/// fragment, href; all empty when it is not a URL), then the URL as given, each ended by a
/// newline (a parsed part has none; the URL as given comes last, whatever it holds).
fn parsed(text: &str) -> (Option<Parts>, &str) {
    let mut rest = Some(text);
    let mut next = || String::from(line(&mut rest).unwrap_or_default());
    let parts = Parts {
        scheme: next(),
        hostname: next(),
        host: next(),
        path: next(),
        query: next() == "true",
        fragment: next() == "true",
        href: next(),
    };
    let given = rest.unwrap_or_default();
    ((!parts.scheme.is_empty()).then_some(parts), given)
}

/// Checks a URL given as [`parsed`] reads it, and its subprotocols (joined by newlines), as
/// the engine will connect to them (the `secureOnly` policy, subprotocol tokens).
fn target(url: &str, protocols: &str, secure_only: bool) -> Result<Target, Error> {
    let (parts, given) = parsed(url);
    target_of(given, parts, protocol_list(protocols), secure_only)
}

/// The machine of one JavaScript `ReSocket`, and the output being carried out.
pub struct Engine {
    machine: Machine,
    /// The output [`Engine::poll`] returned last, read through the field getters.
    current: Option<Output>,
    /// Messages `close()` handed back, taken one by one.
    unsent: Vec<Message>,
    secure_only: bool,
    /// A string the engine made for the class to read (an error's text, joined subprotocols).
    out: String,
    /// Where the last string or bytes answered are, in the wasm's memory.
    at: u32,
    /// The state and counters [`Engine::info`] answers.
    info: [f64; 14],
}

impl core::fmt::Debug for Engine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// What `resocket.js` reads of the current socket before an input.
fn link(buffered: f64, writable: bool) -> Link {
    Link {
        buffered: buffered as u64,
        writable,
    }
}

impl Engine {
    /// A machine for `config` (numbers in the order `resocket.js` writes them, NaN where an
    /// option was not given), the heartbeat ping (`None`: no heartbeat), a fixed URL as
    /// [`parsed`] reads it (`None`: a URL function answers, see [`Engine::input`]) and the
    /// subprotocols. [`Engine::refused`] says whether it took them.
    pub fn new(
        config: &[f64],
        ping: Option<&str>,
        url: Option<&str>,
        protocols: &str,
        secure_only: bool,
    ) -> Engine {
        let at = |i: usize| config.get(i).copied().filter(|v| !v.is_nan());
        let mut o = Options::default();
        if let Some(v) = at(0) {
            o.backoff.initial = millis(v);
        }
        if let Some(v) = at(1) {
            o.backoff.max = millis(v);
        }
        if let Some(v) = at(2) {
            o.backoff.factor = v;
        }
        match at(3) {
            Some(1.0) => o.backoff.jitter = Jitter::Equal,
            Some(2.0) => o.backoff.jitter = Jitter::None,
            _ => {}
        }
        if let Some(v) = at(4) {
            o.max_retries = (v >= 0.0).then_some(v as u32);
        }
        if let Some(v) = at(5) {
            o.stable_after = millis(v);
        }
        if let Some(v) = at(6) {
            o.connect_timeout = millis(v);
        }
        if let Some(v) = at(7) {
            o.outbox_messages = v as usize;
        }
        if let Some(v) = at(8) {
            o.outbox_bytes = v as usize;
        }
        match at(9) {
            Some(1.0) => o.overflow = Overflow::DropOldest,
            Some(2.0) => o.overflow = Overflow::DropNewest,
            _ => {}
        }
        o.heartbeat = ping.map(|ping| {
            Heartbeat::new(
                String::from(ping),
                at(10).map_or(Duration::from_secs(15), millis),
                at(11).map_or(Duration::from_secs(10), millis),
            )
        });
        if let Some(v) = at(12) {
            o.max_message_bytes = (v >= 0.0).then_some(v as usize);
        }
        let seed = at(13).unwrap_or_default() as u64;
        #[cfg(feature = "resume")]
        if at(14) == Some(1.0) {
            let mut r = Resume::default();
            if at(15) == Some(1.0) {
                r.fallback = Fallback::Plain;
            }
            if let Some(v) = at(16) {
                r.max_buffered = v as usize;
            }
            if let Some(v) = at(17) {
                r.max_buffered_bytes = v as usize;
            }
            r.drop_oldest = at(18) != Some(0.0);
            r.requeue_on_reset = at(19) != Some(0.0);
            o.resume = Some(r);
        }
        // Without a fixed URL the subprotocols are checked all the same.
        let checked = match url {
            Some(url) => target(url, protocols, secure_only).map(Some),
            None => validate_protocols(&protocol_list(protocols)).map(|()| None),
        };
        let out = checked.as_ref().err().map(error_text).unwrap_or_default();
        let fixed = checked.ok().flatten();
        Engine {
            machine: Machine::new(Config::from_options(&o), fixed, seed),
            current: None,
            unsent: Vec::new(),
            secure_only,
            out,
            at: 0,
            info: [0.0; 14],
        }
    }

    /// Whether the constructor refused the URL or the subprotocols: the length of the error
    /// (`kind\nmessage`, at [`Engine::at`]), or -1.
    fn refused(&mut self) -> f64 {
        if self.out.is_empty() {
            return -1.0;
        }
        self.at = self.out.as_ptr() as u32;
        self.out.len() as f64
    }

    /// Where the string or bytes of the last answer are, in the wasm's memory (read at once:
    /// the next call may move them).
    pub fn at(&self) -> u32 {
        self.at
    }

    /// Answers a string the engine made (kept until the next one): its length, or -1.
    fn answer(&mut self, text: Option<String>) -> f64 {
        let Some(text) = text else {
            return -1.0;
        };
        self.out = text;
        self.at = self.out.as_ptr() as u32;
        self.out.len() as f64
    }

    /// An error as an answer: `kind\nmessage`, or -1 for none.
    fn error(&mut self, result: Result<(), Error>) -> f64 {
        match result {
            Ok(()) => -1.0,
            Err(e) => self.answer(Some(error_text(&e))),
        }
    }

    /// Feeds one input, or makes one user call; `kind` says which (the other arguments as
    /// each needs them; `s` and `t` strings):
    /// 0 start (`a`: online), 1 `reconnect()`, 2 the URL function answered attempt `id` with
    /// URL `s` (as [`parsed`] reads it) and subprotocols `t`, 3 it failed with message `s`,
    /// 4 the socket class refused socket `id` (`s`: the shown URL, `t`: why), 5 socket `id`
    /// opened with protocol `s`, 6 the `open` event reached every listener, 7 socket `id`
    /// closed with code `a`, reason `s`, clean if `b & 1`, the user's verdict in `b >> 1`
    /// (0 none, 1 no, 2 yes), 8 timer `a` fired, 9 a page signal `a` (0 online/offline,
    /// 1 visible/hidden, 2 pagehide into the back/forward cache, 3 pageshow from it) with flag
    /// `b`, 10 send text `s` (`a`: after a reconnect 0 replay, 1 drop, 2 expire after `b` ms),
    /// 11 `close()` with code `a` (0: none) and reason `s` (given if `b` is 1; the messages it
    /// hands back are taken with kind 16), 12 add the class's counts (`a` messages, `b`
    /// bytes). The error of a send (`kind\nmessage`): its length, or -1. Then the questions,
    /// answered by the number returned (each its own kind: one export is fewer bytes than
    /// five): 13 whether the user's retry predicate is to be asked about socket `id`'s close
    /// (1), 14 [`Engine::pending`], 15 [`Engine::info`], 16 [`Engine::next_unsent`].
    #[allow(clippy::too_many_arguments)]
    pub fn input(
        &mut self,
        kind: u8,
        now: f64,
        buffered: f64,
        writable: bool,
        id: f64,
        a: f64,
        b: f64,
        s: Option<&str>,
        t: Option<&str>,
    ) -> f64 {
        let id = id as u64;
        let s = String::from(s.unwrap_or_default());
        let t = t.unwrap_or_default();
        let input = match kind {
            0 => Input::Start { online: a != 0.0 },
            1 => Input::Reconnect,
            2 => Input::Resolved {
                id,
                result: target(&s, t, self.secure_only),
            },
            3 => Input::Resolved {
                id,
                result: Err(Error::Js { message: s }),
            },
            4 => Input::OpenFailed {
                id,
                error: Error::InvalidUrl {
                    url: s,
                    reason: t.into(),
                },
            },
            5 => Input::Opened { id, protocol: s },
            6 => Input::OpenDelivered,
            7 => {
                let verdict = (b as u8) >> 1;
                Input::Closed {
                    id,
                    close: CloseEvent {
                        code: a as u16,
                        reason: s,
                        was_clean: (b as u8) & 1 == 1,
                    },
                    retry: (verdict != 0).then_some(verdict == 2),
                }
            }
            8 => match Timer::ALL.get(a as usize) {
                Some(timer) => Input::Fired(*timer),
                None => return -1.0,
            },
            9 => match a as u8 {
                0 => Input::Online(b != 0.0),
                1 => Input::Visible(b != 0.0),
                2 => Input::PageHidden,
                _ => Input::PageShown,
            },
            10 => return self.send(now, buffered, writable, Message::Text(s), a, b),
            13 => return f64::from(u8::from(self.machine.asks_retry(id))),
            14 => return self.pending(buffered, writable),
            15 => return f64::from(self.info(buffered, writable)),
            16 => return f64::from(self.next_unsent()),
            11 => {
                let code = (a != 0.0).then_some(a as u16);
                let reason = (b != 0.0).then_some(s.as_str());
                self.unsent = self.machine.close(code, reason).unwrap_or_default();
                self.unsent.reverse();
                return -1.0;
            }
            _ => {
                self.machine.add_received(a as u64, b as u64);
                return -1.0;
            }
        };
        self.machine.handle(now, link(buffered, writable), input);
        -1.0
    }

    /// A message of `len` on socket `id` (already counted by the class): whether to deliver it.
    pub fn received(&mut self, now: f64, id: f64, len: f64) -> bool {
        self.machine.received(now, id as u64, len as usize, true)
    }

    /// Sends binary data now or into the outbox (`policy` and `ttl` as for text, see
    /// [`Engine::input`]): the error's length as there, or -1.
    pub fn send_binary(
        &mut self,
        now: f64,
        buffered: f64,
        writable: bool,
        bytes: &[u8],
        policy: f64,
        ttl: f64,
    ) -> f64 {
        self.send(
            now,
            buffered,
            writable,
            Message::Binary(bytes.to_vec()),
            policy,
            ttl,
        )
    }

    fn send(
        &mut self,
        now: f64,
        buffered: f64,
        writable: bool,
        message: Message,
        policy: f64,
        ttl: f64,
    ) -> f64 {
        let on = match policy as u8 {
            0 => OnReconnect::Replay,
            1 => OnReconnect::Drop,
            _ => OnReconnect::Expire(millis(ttl)),
        };
        let result = self
            .machine
            .send_with(now, link(buffered, writable), message, on);
        self.error(result)
    }

    #[cfg(feature = "resume")]
    /// Resume mode's message path: a text message (`text`) or a binary one of `len` bytes on
    /// socket `id` (`buffered` and `writable` as the driver read the socket), read by the
    /// machine (control frames, the U+0000 escape, counting): 0 drop it, 1 deliver it, 2
    /// deliver it without its first character.
    pub fn frame(
        &mut self,
        now: f64,
        buffered: f64,
        writable: bool,
        id: f64,
        text: Option<&str>,
        len: f64,
    ) -> u8 {
        let frame = match text {
            Some(text) => Received::Text(text),
            None => Received::Binary(len as usize),
        };
        let link = link(buffered, writable);
        match self.machine.received_frame(now, link, id as u64, frame) {
            Take::Drop => 0,
            Take::Deliver => 1,
            Take::Unescape => 2,
        }
    }

    /// Makes the next message `close()` handed back the current output, read with
    /// [`Engine::payload`]: 1 text, 2 binary, 0 none left.
    fn next_unsent(&mut self) -> u8 {
        let Some(message) = self.unsent.pop() else {
            return 0;
        };
        let kind = if matches!(message, Message::Text(_)) {
            1
        } else {
            2
        };
        self.current = Some(Output::Send { id: 0, message });
        kind
    }

    /// The next output, as a number (0: none): 1 resolve, 2 open, 3 send, 4 close, 5 release,
    /// 6 arm, 7 cancel, then the events: 10 connecting, 11 open, 12 disconnected,
    /// 13 reconnecting, 14 offline, 15 parked, 16 closed, 17 failed, 18 outboxoverflow,
    /// 19 heartbeattimeout, 20 error, 21 resumed, 22 gap, 23 reset, 24 discarded. Its fields:
    /// [`Engine::num`] and [`Engine::text`].
    pub fn poll(&mut self) -> u8 {
        self.current = self.machine.poll_output();
        match &self.current {
            None => 0,
            Some(Output::Resolve { .. }) => 1,
            Some(Output::Open { .. }) => 2,
            Some(Output::Send { .. }) => 3,
            Some(Output::Close { .. }) => 4,
            Some(Output::Release { .. }) => 5,
            Some(Output::Arm { .. }) => 6,
            Some(Output::Cancel(_)) => 7,
            Some(Output::Emit(event)) => match event {
                Event::Connecting { .. } => 10,
                Event::Open { .. } => 11,
                Event::Disconnected { .. } => 12,
                Event::Reconnecting { .. } => 13,
                Event::Offline => 14,
                Event::Parked => 15,
                Event::Closed { .. } => 16,
                Event::Failed { .. } => 17,
                Event::OutboxOverflow { .. } => 18,
                Event::HeartbeatTimeout { .. } => 19,
                Event::Resumed { .. } => 21,
                Event::Gap { .. } => 22,
                Event::Reset { .. } => 23,
                Event::Discarded { .. } => 24,
                _ => 20,
            },
        }
    }

    /// A number of the current output: 0 its socket, 1 [`Engine::a`], 2 [`Engine::b`],
    /// 3 a third: whether a session was resumed (1), the end of a reset's unconfirmed range;
    /// 4 whether a `send` output is text (1); 5 the state (see [`Engine::state`]).
    pub fn num(&self, i: u8) -> f64 {
        match i {
            5 => f64::from(self.state()),
            0 => self.id(),
            1 => self.a(),
            2 => self.b(),
            4 => f64::from(u8::from(matches!(
                &self.current,
                Some(Output::Send {
                    message: Message::Text(_),
                    ..
                })
            ))),
            _ => match &self.current {
                Some(Output::Emit(Event::Resumed { resumed, .. })) => f64::from(u8::from(*resumed)),
                Some(Output::Emit(Event::Reset { unconfirmed, .. })) => unconfirmed.1 as f64,
                _ => 0.0,
            },
        }
    }

    fn id(&self) -> f64 {
        match &self.current {
            Some(
                Output::Resolve { id }
                | Output::Open { id, .. }
                | Output::Send { id, .. }
                | Output::Close { id, .. }
                | Output::Release { id },
            ) => *id as f64,
            _ => 0.0,
        }
    }

    /// The current output's first number: a timer's index, a close code (0: none), an
    /// attempt, a count.
    fn a(&self) -> f64 {
        match &self.current {
            Some(Output::Arm { timer, .. } | Output::Cancel(timer)) => timer.index() as f64,
            Some(Output::Close { code, .. }) => f64::from(code.unwrap_or(0)),
            Some(Output::Emit(event)) => match event {
                Event::Connecting { attempt } | Event::Reconnecting { attempt, .. } => {
                    f64::from(*attempt)
                }
                Event::Disconnected { code, .. } | Event::Closed { code, .. } => f64::from(*code),
                Event::OutboxOverflow { dropped } | Event::Discarded { dropped, .. } => {
                    *dropped as f64
                }
                Event::HeartbeatTimeout { silent_ms } => f64::from(*silent_ms),
                Event::Resumed { resent, .. } => *resent as f64,
                Event::Gap { from, .. } => *from as f64,
                Event::Reset { missed_from, .. } => *missed_from as f64,
                _ => 0.0,
            },
            _ => 0.0,
        }
    }

    /// The current output's second number: a timer's delay, a retry delay in ms, whether a
    /// close was clean (1), the messages a close left unsent.
    fn b(&self) -> f64 {
        match &self.current {
            Some(Output::Arm { ms, .. }) => f64::from(*ms),
            Some(Output::Emit(event)) => match event {
                Event::Reconnecting { delay, .. } => delay.as_secs_f64() * 1000.0,
                Event::Disconnected { was_clean, .. } => f64::from(u8::from(*was_clean)),
                Event::Closed { unsent, .. } => *unsent as f64,
                Event::Resumed { replayed, .. } => *replayed as f64,
                Event::Gap { to, .. } => *to as f64,
                Event::Reset { unconfirmed, .. } => unconfirmed.0 as f64,
                Event::Discarded { expired, .. } => *expired as f64,
                _ => 0.0,
            },
            _ => 0.0,
        }
    }

    /// A string (or bytes) the class reads: its length (at [`Engine::at`]), or -1 for none.
    /// 0 [`Engine::s`], 1 [`Engine::t`], 2 [`Engine::payload`], 3 the URL of the current (or
    /// last) attempt, redacted, 4 the error for using the socket once it is closed or failed,
    /// 5 [`Engine::refused`].
    pub fn text(&mut self, i: u8) -> f64 {
        match i {
            0 => self.s(),
            1 => self.t(),
            2 => self.payload(),
            3 => {
                let url = String::from(self.machine.url());
                self.answer(Some(url))
            }
            4 => {
                let over = self.machine.over_error().map(|e| error_text(&e));
                self.answer(over)
            }
            _ => self.refused(),
        }
    }

    /// The current output's string: a URL, a close reason, a subprotocol, an error's
    /// message.
    fn s(&mut self) -> f64 {
        let text = match &self.current {
            Some(Output::Open { url, .. }) => Some(url.as_str()),
            Some(Output::Close { reason, .. }) => reason.as_deref(),
            Some(Output::Emit(event)) => match event {
                Event::Open { protocol } => Some(protocol.as_str()),
                Event::Disconnected { reason, .. }
                | Event::Closed { reason, .. }
                | Event::Failed { reason } => Some(reason.as_str()),
                Event::Error(err) => return self.answer(Some(err.message())),
                _ => None,
            },
            _ => None,
        };
        let (at, n) = text.map_or((0, -1.0), |t| (t.as_ptr() as u32, t.len() as f64));
        self.at = at;
        n
    }

    /// The current output's second string: the subprotocols to offer (joined by newlines),
    /// an error's kind.
    fn t(&mut self) -> f64 {
        let text = match &self.current {
            Some(Output::Open { protocols, .. }) => protocols.join("\n"),
            Some(Output::Emit(Event::Error(err))) => err.kind().into(),
            _ => return -1.0,
        };
        self.answer(Some(text))
    }

    /// The message of the current `send` output (UTF-8 for text; see
    /// [`Engine::next_unsent`]).
    fn payload(&mut self) -> f64 {
        let bytes = match &self.current {
            Some(Output::Send { message, .. }) => Some(message.as_bytes()),
            _ => None,
        };
        let (at, n) = bytes.map_or((0, -1.0), |b| (b.as_ptr() as u32, b.len() as f64));
        self.at = at;
        n
    }

    /// The state: 0 connecting, 1 open, 2 reconnecting, 3 offline, 4 parked, 5 closed,
    /// 6 failed.
    fn state(&self) -> u8 {
        match self.machine.state() {
            State::Connecting { .. } => 0,
            State::Open => 1,
            State::Reconnecting { .. } => 2,
            State::Offline => 3,
            State::Parked => 4,
            State::Closed { .. } => 5,
            State::Failed { .. } => 6,
        }
    }

    /// Bytes sent but not on the socket yet: the outbox and sends waiting for the dispatch to
    /// end.
    fn pending(&mut self, buffered: f64, writable: bool) -> f64 {
        self.machine.observe(link(buffered, writable));
        (self.machine.stats().outbox_bytes as u64 + self.machine.sends_queued()) as f64
    }

    /// The state and the counters, 14 numbers at the address answered: [`Engine::state`],
    /// [`Engine::pending`], connects, reconnects, messages in and out, bytes in and out,
    /// requeued, the last heartbeat round trip (-1: none), outbox length, in flight,
    /// unacknowledged (resume mode), duplicates discarded (resume mode).
    fn info(&mut self, buffered: f64, writable: bool) -> u32 {
        let pending = self.pending(buffered, writable);
        let s = self.machine.stats();
        self.info = [
            f64::from(self.state()),
            pending,
            f64::from(s.connects),
            f64::from(s.reconnects),
            s.messages_in as f64,
            s.messages_out as f64,
            s.bytes_in as f64,
            s.bytes_out as f64,
            s.requeued as f64,
            s.last_heartbeat_rtt_ms.unwrap_or(-1.0),
            s.outbox_len as f64,
            s.in_flight as f64,
            s.unacked as f64,
            s.duplicates as f64,
        ];
        self.info.as_ptr() as u32
    }
}
