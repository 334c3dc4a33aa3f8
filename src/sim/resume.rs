//! Deterministic simulation of the resume protocol's client side (docs/PROTOCOL.md): the
//! machine in resume mode against a simulated server that speaks the protocol.
//!
//! One run = one seed. The server keeps one session (bounded resend buffer, drop-oldest, acks
//! every few messages or never), loses it now and then (restart of an in-memory store), and is
//! down now and then (refused upgrades). The network keeps one FIFO per direction per
//! connection; a fault kills the connection at any point (before `hello` arrives, between
//! `hello` and `welcome`, mid-replay, mid-send), losing what is still queued both ways, acks
//! included. Both applications send all along: the client with random reconnect policies
//! (`Replay`, `Drop`, `Expire`), text (some starting with U+0000) and binary. A calm phase at
//! the end lets everything settle.
//!
//! Invariants (a violation ends the run with its seed; `SIM_SEED=<n>` replays one with a
//! trace):
//! - `[s2c-order]` the client application receives the server application's messages in
//!   order, each at most once; `[s2c-hole]` once settled, every one of them was received or
//!   reported missing: by a `Gap` (the server's buffer dropped it) or a `Reset` (the session
//!   was lost), the counts adding up exactly.
//! - `[c2s-order]` within a server session the server application takes the client's
//!   messages in send order, each at most once; across sessions only the messages a `Reset`
//!   reported unconfirmed may come twice; `[c2s-hole]` once settled, every message the client
//!   accepted was taken or reported (`Discarded`, the server's gap report of what the client's
//!   full buffer dropped), exactly when no reset happened.
//! - `[protocol]` the client's frames follow the protocol (hello first, `from` before app
//!   messages, acks never above what the server sent); `[failed]` the client never fails or
//!   reports an error against a conforming server (connect timeouts aside).

use alloc::collections::{BTreeSet, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::{env_u64, Choices, Res, Violation};
use crate::error::Error;
use crate::events::{Event, State};
use crate::machine::{Config, Input, Link, Machine, Output, Received, SocketId, Take, Timer};
use crate::message::{CloseEvent, Message};
use crate::options::{OnReconnect, Options, Resume};
use crate::resume::{decode, Control, Frame, PROTOCOL};

/// A message's id, from its payload (`c<id>`/`s<id>`, maybe after a U+0000, or binary: the tag
/// byte and 8 bytes).
fn id_of(message: &Message) -> Option<(u8, u64)> {
    match message {
        Message::Text(t) => {
            let t = t.strip_prefix('\0').unwrap_or(t);
            let tag = *t.as_bytes().first()?;
            Some((tag, t[1..].parse().ok()?))
        }
        Message::Binary(b) if b.len() == 9 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&b[1..]);
            Some((b[0], u64::from_le_bytes(n)))
        }
        Message::Binary(_) => None,
    }
}

fn payload(c: &mut Choices, tag: u8, id: u64) -> Message {
    match c.below(4) {
        0 => {
            let mut b = alloc::vec![tag];
            b.extend_from_slice(&id.to_le_bytes());
            Message::Binary(b)
        }
        1 => Message::Text(format!("\0{}{id}", char::from(tag))),
        _ => Message::Text(format!("{}{id}", char::from(tag))),
    }
}

/// The server's session.
struct Session {
    no: usize,
    sid: String,
    /// The last client seq taken, and the ids taken (seq - 1 -> id; `None`: reported gap).
    recv: u64,
    taken: Vec<Option<u64>>,
    /// The last server seq, and the buffer of unacknowledged ones.
    sent: u64,
    buffer: VecDeque<(u64, Message)>,
    /// The last client id taken in this session (the order check).
    last_taken: u64,
}

/// The one connection (the machine keeps at most one).
struct Conn {
    id: SocketId,
    open: bool,
    c2s: VecDeque<Message>,
    s2c: VecDeque<Message>,
    /// Server side: `hello` processed; the client's `from` seen; duplicates to skip.
    hello: bool,
    from: bool,
    skip: u64,
    /// The session it is attached to (after `hello`).
    session: Option<usize>,
}

struct World {
    c: Choices,
    now: f64,
    m: Machine,
    timers: [Option<f64>; 6],
    conn: Option<Conn>,
    inputs: VecDeque<Input>,
    /// Every session the server made (the current one is `store`).
    sessions: Vec<Session>,
    store: Option<usize>,
    /// The session the client was last welcomed into (the server's application sends there).
    attached: Option<usize>,
    down: bool,
    /// A deliberately broken server (the simulator's own test): it answers `hello` with a
    /// `from` right after the client's `recv` but replays nothing.
    broken: bool,
    ack_every: u64,
    bound: usize,
    next_id: u64,
    trace: Option<Vec<String>>,
    // What happened.
    accepted: u64,
    transmitted: BTreeSet<u64>,
    client_acked: BTreeSet<u64>,
    may_repeat: BTreeSet<u64>,
    taken: BTreeSet<u64>,
    taken_twice: u64,
    server_gaps: u64,
    discarded: u64,
    resets: u64,
    /// Client seqs reports of resets called unconfirmed.
    unconfirmed: u64,
    server_sent: u64,
    delivered: u64,
    last_delivered: u64,
    gapped: u64,
    reset_lost: u64,
    steps: u64,
}

/// What a run did, for the report.
#[derive(Debug, Default, Clone)]
pub(super) struct Tally {
    pub(super) runs: u64,
    pub(super) steps: u64,
    pub(super) c2s: u64,
    pub(super) s2c: u64,
    pub(super) connections: u64,
    pub(super) gaps: u64,
    pub(super) resets: u64,
    pub(super) discarded: u64,
    pub(super) repeats: u64,
}

impl World {
    fn new(seed: u64, trace: bool) -> Self {
        let mut c = Choices::new(seed, None, false);
        let resume = Resume::default()
            .buffer(1 + c.below(64) as usize, 1 << 20)
            .drop_oldest(!c.chance(30))
            .requeue_on_reset(!c.chance(30));
        let mut options = Options::default()
            .resume(resume)
            .outbox(4096, 1 << 24, crate::Overflow::Reject)
            .connect_timeout(Duration::from_millis(500 + c.below(2000)));
        if c.chance(30) {
            options = options.heartbeat(crate::Heartbeat::new(
                "unused",
                Duration::from_millis(50 + c.below(500)),
                Duration::from_millis(50 + c.below(500)),
            ));
        }
        let target = crate::url::target("ws://sim.invalid/", Vec::new(), false).ok();
        let m = Machine::new(Config::from_options(&options), target, seed);
        World {
            ack_every: 1 + c.below(40),
            bound: 1 + c.below(48) as usize,
            c,
            now: 0.0,
            m,
            timers: [None; 6],
            conn: None,
            inputs: VecDeque::new(),
            sessions: Vec::new(),
            store: None,
            attached: None,
            down: false,
            broken: false,
            next_id: 1,
            trace: trace.then(Vec::new),
            accepted: 0,
            transmitted: BTreeSet::new(),
            client_acked: BTreeSet::new(),
            may_repeat: BTreeSet::new(),
            taken: BTreeSet::new(),
            taken_twice: 0,
            server_gaps: 0,
            discarded: 0,
            resets: 0,
            unconfirmed: 0,
            server_sent: 0,
            delivered: 0,
            last_delivered: 0,
            gapped: 0,
            reset_lost: 0,
            steps: 0,
        }
    }

    fn log(&mut self, line: impl FnOnce() -> String) {
        if let Some(t) = &mut self.trace {
            t.push(format!("t={:.0} {}", self.now, line()));
        }
    }

    fn link(&self) -> Link {
        Link {
            buffered: 0,
            writable: self.conn.as_ref().is_some_and(|c| c.open),
        }
    }

    fn feed(&mut self, input: Input) -> Res {
        self.log(|| format!("input {input:?}"));
        let link = self.link();
        self.m.handle(self.now, link, input);
        self.drain()
    }

    /// Carries out the machine's outputs, then any inputs they caused.
    fn drain(&mut self) -> Res {
        loop {
            while let Some(output) = self.m.poll_output() {
                self.execute(output)?;
            }
            match self.inputs.pop_front() {
                Some(input) => {
                    let link = self.link();
                    self.log(|| format!("input {input:?}"));
                    self.m.handle(self.now, link, input);
                }
                None => return Ok(()),
            }
        }
    }

    fn execute(&mut self, output: Output) -> Res {
        match output {
            Output::Open { id, protocols, .. } => {
                ensure!(
                    protocols.first().map(String::as_str) == Some(PROTOCOL),
                    "protocol",
                    "resume mode offers {protocols:?}"
                );
                ensure!(self.conn.is_none(), "protocol", "a second socket");
                self.conn = Some(Conn {
                    id,
                    open: false,
                    c2s: VecDeque::new(),
                    s2c: VecDeque::new(),
                    hello: false,
                    from: false,
                    skip: 0,
                    session: None,
                });
            }
            Output::Send { id, message } => {
                if let Some(conn) = self.conn.as_mut().filter(|c| c.id == id && c.open) {
                    if let Some((b'c', n)) = wire_id(&message) {
                        self.transmitted.insert(n);
                    }
                    conn.c2s.push_back(message);
                }
            }
            Output::Close { id, .. } => {
                if self.conn.as_ref().is_some_and(|c| c.id == id) {
                    // A clean close: what was queued reaches the server first.
                    while self.conn.as_ref().is_some_and(|c| !c.c2s.is_empty()) {
                        self.server_step()?;
                    }
                    self.conn = None;
                    self.inputs.push_back(Input::Closed {
                        id,
                        close: CloseEvent {
                            code: 1000,
                            reason: String::new(),
                            was_clean: true,
                        },
                        retry: None,
                    });
                }
            }
            Output::Release { id } => {
                if self.conn.as_ref().is_some_and(|c| c.id == id) {
                    self.conn = None;
                }
            }
            Output::Arm { timer, ms } => {
                self.timers[timer.index()] = Some(self.now + f64::from(ms))
            }
            Output::Cancel(timer) => self.timers[timer.index()] = None,
            Output::Resolve { .. } => {}
            Output::Emit(event) => self.event(event)?,
        }
        Ok(())
    }

    fn event(&mut self, event: Event) -> Res {
        self.log(|| format!("event {event:?}"));
        match event {
            Event::Gap { from, to } => self.gapped += to - from + 1,
            Event::Reset {
                missed_from,
                unconfirmed: (from, to),
            } => {
                self.resets += 1;
                self.unconfirmed += (to + 1).saturating_sub(from);
                let old = self.attached.take();
                if let Some(s) = old.and_then(|i| self.sessions.get(i)) {
                    self.reset_lost += s.sent.saturating_sub(missed_from - 1);
                }
                let unconfirmed: Vec<u64> = self
                    .transmitted
                    .difference(&self.client_acked)
                    .copied()
                    .collect();
                self.may_repeat.extend(unconfirmed);
            }
            // The driver delivers `Open`, then tells the machine it reached everyone.
            Event::Open { .. } => self.inputs.push_back(Input::OpenDelivered),
            Event::Resumed { .. } => {
                self.attached = self.conn.as_ref().and_then(|c| c.session);
            }
            Event::Discarded { dropped, expired } => {
                self.discarded += (dropped + expired) as u64;
            }
            Event::Failed { reason } => {
                return Err(Violation {
                    kind: "failed",
                    detail: reason,
                })
            }
            Event::Error(Error::ConnectTimeout { .. }) => {}
            Event::Error(e) => {
                return Err(Violation {
                    kind: "failed",
                    detail: e.message(),
                })
            }
            _ => {}
        }
        Ok(())
    }

    // ----------------------------------------------------------------------- the server

    fn session(&mut self) -> Option<&mut Session> {
        let i = self.conn.as_ref()?.session?;
        self.sessions.get_mut(i)
    }

    /// The server takes one frame from the client.
    fn server_step(&mut self) -> Res {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let Some(frame) = conn.c2s.pop_front() else {
            return Ok(());
        };
        let control = match &frame {
            Message::Text(t) => match decode(t) {
                Ok(Frame::Control(c)) => Some(c),
                Ok(_) => None,
                Err(f) => {
                    return Err(Violation {
                        kind: "protocol",
                        detail: format!("client frame: {f}"),
                    })
                }
            },
            Message::Binary(_) => None,
        };
        let hello = conn.hello;
        self.log(|| format!("server takes {frame:?}"));
        match control {
            Some(Control::Hello { sid, recv }) if !hello => self.hello(sid, recv),
            _ if !hello => Err(Violation {
                kind: "protocol",
                detail: "first frame not hello".into(),
            }),
            Some(Control::Hello { .. }) => Err(Violation {
                kind: "protocol",
                detail: "second hello".into(),
            }),
            Some(Control::From { seq }) => {
                let Some(s) = self.session() else {
                    return Ok(());
                };
                let expect = s.recv + 1;
                let (gap, skip) = (seq.saturating_sub(expect), expect.saturating_sub(seq));
                s.recv += gap;
                s.taken.extend(core::iter::repeat_n(None, gap as usize));
                self.server_gaps += gap;
                if let Some(conn) = self.conn.as_mut() {
                    conn.from = true;
                    conn.skip = skip;
                }
                Ok(())
            }
            Some(Control::Ack { seq }) => {
                let Some(s) = self.session() else {
                    return Ok(());
                };
                ensure!(seq <= s.sent, "protocol", "ack {seq} above sent {}", s.sent);
                s.buffer.retain(|(n, _)| *n > seq);
                Ok(())
            }
            Some(Control::Ackreq) => {
                self.server_ack();
                Ok(())
            }
            Some(Control::Ping) => {
                self.push_to_client(Message::Text(Control::Pong.encode()));
                Ok(())
            }
            Some(Control::Bye) => {
                self.store = None;
                Ok(())
            }
            Some(other) => Err(Violation {
                kind: "protocol",
                detail: format!("client sent {other:?}"),
            }),
            None => self.take(frame),
        }
    }

    fn hello(&mut self, sid: Option<String>, recv: u64) -> Res {
        let found = self
            .store
            .filter(|&i| sid.as_deref() == Some(self.sessions[i].sid.as_str()));
        let i = match found {
            Some(i) => {
                let s = &mut self.sessions[i];
                ensure!(
                    recv <= s.sent,
                    "protocol",
                    "hello recv {recv} above sent {}",
                    s.sent
                );
                s.buffer.retain(|(n, _)| *n > recv);
                i
            }
            None => {
                let no = self.sessions.len();
                self.sessions.push(Session {
                    no,
                    sid: format!("{:032x}", 0xabc0_0000 + no as u64),
                    recv: 0,
                    taken: Vec::new(),
                    sent: 0,
                    buffer: VecDeque::new(),
                    last_taken: 0,
                });
                self.store = Some(no);
                no
            }
        };
        let s = &self.sessions[i];
        let mut out = Vec::new();
        out.push(
            Control::Welcome {
                sid: s.sid.clone(),
                resumed: found.is_some(),
                recv: s.recv,
                sent: s.sent,
            }
            .encode(),
        );
        let mut first = s.buffer.front().map_or(s.sent + 1, |(n, _)| *n);
        let mut replay: Vec<Message> = s.buffer.iter().map(|(_, m)| m.clone()).collect();
        if self.broken && found.is_some() {
            first = recv + 1;
            replay.clear();
        }
        out.push(Control::From { seq: first }.encode());
        let no = s.no;
        if let Some(conn) = self.conn.as_mut() {
            conn.hello = true;
            conn.session = Some(no);
            conn.s2c.extend(out.into_iter().map(Message::Text));
            conn.s2c.extend(replay);
        }
        Ok(())
    }

    /// An app message from the client.
    fn take(&mut self, frame: Message) -> Res {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        ensure!(
            conn.from,
            "protocol",
            "app message before the client's from"
        );
        if conn.skip > 0 {
            conn.skip -= 1;
            return Ok(());
        }
        let Some((b'c', id)) = wire_id(&frame) else {
            return Err(Violation {
                kind: "protocol",
                detail: format!("not a client message: {frame:?}"),
            });
        };
        let Some(i) = conn.session else {
            return Ok(());
        };
        let s = &mut self.sessions[i];
        ensure!(
            id > s.last_taken,
            "c2s-order",
            "id {id} taken after {} in one session",
            s.last_taken
        );
        s.last_taken = id;
        s.recv += 1;
        s.taken.push(Some(id));
        let recv = s.recv;
        if !self.taken.insert(id) {
            ensure!(
                self.may_repeat.contains(&id),
                "c2s-order",
                "id {id} taken twice without a reset reporting it"
            );
            self.taken_twice += 1;
        }
        if recv % self.ack_every == 0 {
            self.server_ack();
        }
        Ok(())
    }

    fn server_ack(&mut self) {
        if let Some(recv) = self.session().map(|s| s.recv) {
            self.push_to_client(Message::Text(Control::Ack { seq: recv }.encode()));
        }
    }

    fn push_to_client(&mut self, message: Message) {
        if let Some(conn) = self.conn.as_mut().filter(|c| c.hello) {
            conn.s2c.push_back(message);
        }
    }

    /// The server's application sends one message into the session the client is attached to.
    fn server_send(&mut self) {
        let Some(i) = self.attached.filter(|&i| self.store == Some(i)) else {
            return;
        };
        let id = self.next_id;
        self.next_id += 1;
        let message = payload(&mut self.c, b's', id);
        let s = &mut self.sessions[i];
        s.sent += 1;
        let wire = crate::resume::escape(&message);
        s.buffer.push_back((s.sent, wire.clone()));
        while s.buffer.len() > self.bound {
            s.buffer.pop_front();
        }
        self.server_sent += 1;
        if self.conn.as_ref().is_some_and(|c| c.session == Some(i)) {
            self.push_to_client(wire);
        }
    }

    // ----------------------------------------------------------------------- the client

    /// The client takes one frame from the server.
    fn client_step(&mut self) -> Res {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let Some(frame) = conn.s2c.pop_front() else {
            return Ok(());
        };
        let (id, session) = (conn.id, conn.session);
        // Acks the client reads confirm the ids the server took up to them.
        if let Message::Text(t) = &frame {
            let acked = match decode(t) {
                Ok(Frame::Control(Control::Ack { seq })) => Some(seq),
                Ok(Frame::Control(Control::Welcome { recv, .. })) => Some(recv),
                _ => None,
            };
            if let (Some(seq), Some(i)) = (acked, session) {
                let ids = self.sessions[i].taken.iter().take(seq as usize).flatten();
                self.client_acked.extend(ids);
            }
        }
        let received = match &frame {
            Message::Text(t) => Received::Text(t),
            Message::Binary(b) => Received::Binary(b.len()),
        };
        let link = self.link();
        let take = self.m.received_frame(self.now, link, id, received);
        self.log(|| format!("client takes {frame:?}: {take:?}"));
        if take != Take::Drop {
            let Some((b's', n)) = wire_id(&frame) else {
                return Err(Violation {
                    kind: "s2c-order",
                    detail: format!("delivered a non-app frame {frame:?}"),
                });
            };
            let escaped = matches!(&frame, Message::Text(t) if t.starts_with("\0\0"));
            ensure!(
                escaped == (take == Take::Unescape),
                "s2c-order",
                "{frame:?} delivered as {take:?}"
            );
            ensure!(
                n > self.last_delivered,
                "s2c-order",
                "server message {n} delivered after {}",
                self.last_delivered
            );
            self.last_delivered = n;
            self.delivered += 1;
        }
        self.drain()
    }

    fn client_send(&mut self) -> Res {
        let id = self.next_id;
        self.next_id += 1;
        let message = payload(&mut self.c, b'c', id);
        let on = match self.c.below(10) {
            0 => OnReconnect::Drop,
            1 => OnReconnect::Expire(Duration::from_millis(self.c.below(3000))),
            _ => OnReconnect::Replay,
        };
        let link = self.link();
        if self.m.send_with(self.now, link, message, on).is_ok() {
            self.accepted += 1;
        }
        self.drain()
    }

    /// The connection dies without a close frame: what is queued both ways is lost.
    fn kill(&mut self) -> Res {
        let Some(conn) = self.conn.take() else {
            return Ok(());
        };
        self.log(|| format!("kill socket {}", conn.id));
        self.feed(Input::Closed {
            id: conn.id,
            close: CloseEvent {
                code: 1006,
                reason: String::new(),
                was_clean: false,
            },
            retry: None,
        })
    }

    fn accept(&mut self) -> Res {
        let Some(conn) = self.conn.as_mut().filter(|c| !c.open) else {
            return Ok(());
        };
        let id = conn.id;
        if self.down {
            self.conn = None;
            return self.feed(Input::Closed {
                id,
                close: CloseEvent {
                    code: 1006,
                    reason: String::new(),
                    was_clean: false,
                },
                retry: None,
            });
        }
        conn.open = true;
        self.feed(Input::Opened {
            id,
            protocol: PROTOCOL.into(),
        })
    }

    fn fire_next(&mut self) -> Res {
        let next = Timer::ALL
            .iter()
            .filter_map(|&t| self.timers[t.index()].map(|at| (at, t)))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((at, timer)) = next {
            self.now = self.now.max(at);
            self.timers[timer.index()] = None;
            self.feed(Input::Fired(timer))?;
        }
        Ok(())
    }

    fn step(&mut self, faults: bool) -> Res {
        self.steps += 1;
        let weights: [u32; 11] = if faults {
            [6, 10, 6, 18, 18, 6, 3, 1, 2, 1, 2]
        } else {
            [3, 0, 0, 30, 30, 10, 0, 0, 0, 0, 2]
        };
        match self.c.weighted(&weights) {
            0 => self.fire_next()?,
            1 => self.client_send()?,
            2 => self.server_send(),
            3 => self.server_step()?,
            4 => self.client_step()?,
            5 => self.accept()?,
            6 => self.kill()?,
            7 => {
                self.log(|| "server loses the session".into());
                self.store = None;
            }
            8 => self.down = !self.down && self.c.chance(50),
            9 => self.feed(Input::Reconnect)?,
            // The server's 200 ms ack timer.
            _ => self.server_ack(),
        }
        if self.c.chance(20) {
            self.now += self.c.below(50) as f64;
        }
        Ok(())
    }

    /// No more faults: everything settles, then nothing may be missing unreported.
    fn settle(&mut self) -> Res {
        self.down = false;
        for _ in 0..20_000 {
            let conn_idle = self
                .conn
                .as_ref()
                .is_some_and(|c| c.open && c.hello && c.c2s.is_empty() && c.s2c.is_empty());
            if conn_idle && self.m.state() == State::Open && self.m.outbox_is_empty() {
                if self.timers[Timer::Ack.index()].is_some() {
                    self.fire_next()?;
                    continue;
                }
                return self.check_settled();
            }
            if conn_idle && self.m.state() == State::Open {
                // The outbox waits for room in a full resend buffer: the server's ack timer.
                self.server_ack();
                continue;
            }
            if self.conn.as_ref().is_some_and(|c| !c.open) {
                self.accept()?;
            } else if self.conn.as_ref().is_some_and(|c| !c.c2s.is_empty()) {
                self.server_step()?;
            } else if self.conn.as_ref().is_some_and(|c| !c.s2c.is_empty()) {
                self.client_step()?;
            } else {
                self.fire_next()?;
            }
        }
        Err(Violation {
            kind: "settle",
            detail: format!("never settled: state {:?}", self.m.state()),
        })
    }

    fn check_settled(&mut self) -> Res {
        // Server -> client: received, or reported by a gap or a reset, exactly.
        let reported = self.delivered + self.gapped + self.reset_lost;
        ensure!(
            reported == self.server_sent,
            "s2c-hole",
            "server sent {}, client got {} + gaps {} + lost in resets {}",
            self.server_sent,
            self.delivered,
            self.gapped,
            self.reset_lost
        );
        // Client -> server: taken, or reported.
        let accounted = self.taken.len() as u64 + self.discarded + self.server_gaps;
        if self.resets == 0 {
            ensure!(
                accounted == self.accepted,
                "c2s-hole",
                "client accepted {}, server took {} + discarded {} + server gaps {}",
                self.accepted,
                self.taken.len(),
                self.discarded,
                self.server_gaps
            );
        } else {
            // Reported by a reset's unconfirmed range: re-sent (maybe taken twice), dropped
            // (and counted by `Discarded`), or dropped from a full buffer before it.
            let accounted = accounted + self.unconfirmed;
            ensure!(
                accounted >= self.accepted,
                "c2s-hole",
                "client accepted {}, server took {} + discarded {} + server gaps {} \
                 (after {} resets)",
                self.accepted,
                self.taken.len(),
                self.discarded,
                self.server_gaps,
                self.resets
            );
        }
        Ok(())
    }
}

/// The id of an app message as it is on the wire (escaped text included).
fn wire_id(message: &Message) -> Option<(u8, u64)> {
    match message {
        Message::Text(t) if t.starts_with("\0\0") => id_of(&Message::Text(String::from(&t[1..]))),
        Message::Text(t) if t.starts_with('\0') => None,
        other => id_of(other),
    }
}

/// One run: `steps` steps with faults, then the calm phase.
fn run(seed: u64, steps: u64, trace: bool) -> (Result<(), Violation>, World) {
    let mut w = World::new(seed, trace);
    let result = (|| {
        w.feed(Input::Start { online: true })?;
        for _ in 0..steps {
            w.step(true)?;
        }
        w.settle()
    })();
    (result, w)
}

/// Runs seeds `first..first + seeds` within a budget of `steps` steps.
pub(super) fn explore(first: u64, seeds: u64, budget: u64) -> (Tally, Result<(), String>) {
    let mut tally = Tally::default();
    for seed in first..first.saturating_add(seeds) {
        if tally.steps >= budget {
            break;
        }
        let steps = 200 + seed % 1800;
        let (result, w) = run(seed, steps, false);
        tally.runs += 1;
        tally.steps += w.steps;
        tally.c2s += w.taken.len() as u64;
        tally.s2c += w.delivered;
        tally.connections += w.m.stats().connects as u64;
        tally.gaps += w.gapped;
        tally.resets += w.resets;
        tally.discarded += w.discarded;
        tally.repeats += w.taken_twice;
        if let Err(v) = result {
            let (_, w) = run(seed, steps, true);
            let trace = w.trace.unwrap_or_default();
            let tail = trace[trace.len().saturating_sub(60)..].join("\n  ");
            return (
                tally,
                Err(format!(
                    "[{}] {}\nseed {seed}: SIM_SEED={seed} cargo test -p resocket --lib \
                     sim::resume -- --nocapture\n  {tail}",
                    v.kind, v.detail
                )),
            );
        }
    }
    (tally, Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs in `cargo test` (and `npm test`'s simulation layer): bounded.
    #[test]
    fn bounded_resume_seeds() {
        let (first, seeds) = match env_u64("SIM_SEED") {
            Some(seed) => (seed, 1),
            None => (0, env_u64("SIM_SEEDS").unwrap_or(5_000)),
        };
        let budget = env_u64("SIM_STEPS").unwrap_or(1_000_000);
        let (t, result) = explore(first, seeds, budget);
        std::println!(
            "sim resume: {} seeds, {} steps; delivered {} client->server and {} \
             server->client messages over {} connections; {} server messages reported by gaps, \
             {} resets, {} messages discarded, {} re-sent after a reset and taken twice; {}",
            t.runs,
            t.steps,
            t.c2s,
            t.s2c,
            t.connections,
            t.gaps,
            t.resets,
            t.discarded,
            t.repeats,
            if result.is_ok() {
                "0 violations"
            } else {
                "a violation"
            }
        );
        if let Err(report) = result {
            panic!("{report}");
        }
    }

    /// `npm run sim`: `SIM_STEPS` steps (default 10 million) from `SIM_SEED_BASE` on.
    #[test]
    #[ignore]
    fn many_resume() {
        let budget = env_u64("SIM_STEPS").unwrap_or(10_000_000);
        let first = env_u64("SIM_SEED_BASE").unwrap_or(1_000_000);
        let (t, result) = explore(first, u64::MAX, budget);
        std::println!(
            "sim resume many: {} seeds from {first}, {} steps; delivered {} client->server and \
             {} server->client messages over {} connections; {} gap-reported, {} resets, {} \
             discarded; {}",
            t.runs,
            t.steps,
            t.c2s,
            t.s2c,
            t.connections,
            t.gaps,
            t.resets,
            t.discarded,
            if result.is_ok() {
                "0 violations"
            } else {
                "a violation"
            }
        );
        if let Err(report) = result {
            panic!("{report}");
        }
    }

    /// The simulator can fail: a server that resumes without replaying (and hides it with a
    /// `from` that does not jump) makes a silent hole, which is caught.
    #[test]
    fn a_server_that_skips_its_replay_is_caught() {
        let mut caught = false;
        for seed in 0..300 {
            let mut w = World::new(seed, false);
            w.broken = true;
            let result = (|| {
                w.feed(Input::Start { online: true })?;
                for _ in 0..600 {
                    w.step(true)?;
                }
                w.settle()
            })();
            if let Err(v) = result {
                assert!(v.kind.starts_with("s2c"), "{}: {}", v.kind, v.detail);
                caught = true;
                break;
            }
        }
        assert!(caught, "a silent hole went unnoticed");
    }
}
