//! The client side of the resume protocol v1 (`docs/PROTOCOL.md`), pure: the framing (control
//! frames are text starting with U+0000 followed by a small JSON object; app text starting
//! with U+0000 is escaped by one more) and the session state (session id, the sequence numbers
//! of both directions, the resend buffer, duplicates, gaps, resets and when to acknowledge).
//!
//! No browser and no time here: the machine ([`crate::machine`]) asks and acts. The JSON of the
//! control frames is written and read by hand (a few dozen lines instead of serde_json in the
//! npm package's wasm). Nothing here puts a session id or a payload in an error or in `Debug`
//! output: a session id is a capability.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::message::Message;
use crate::text::{text, Piece::N, Piece::S};

/// The subprotocol that selects the resume protocol.
pub(crate) const PROTOCOL: &str = "resocket.resume.v1";
/// The largest control frame, in UTF-8 bytes (the U+0000 prefix included).
pub(crate) const MAX_CONTROL_BYTES: usize = 1024;
/// The largest sequence number (exact in JavaScript).
pub(crate) const MAX_SEQ: u64 = (1 << 53) - 1;
/// An ack goes out after this many app messages received since the last one...
pub(crate) const ACK_EVERY: u32 = 32;
/// ...or this long after the first message not yet acknowledged, whichever comes first.
pub(crate) const ACK_DELAY_MS: u32 = 200;

/// What a protocol error says: a fixed description naming the frame type or field, never a
/// value (a session id) or a payload.
pub(crate) type Fault = &'static str;

// --------------------------------------------------------------------------- frames

/// A control frame (section 3 of the protocol).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Control {
    /// The client's first frame on every connection.
    Hello { sid: Option<String>, recv: u64 },
    /// The server's answer to `hello`.
    Welcome {
        sid: String,
        resumed: bool,
        recv: u64,
        sent: u64,
    },
    /// The next app message of this direction has this seq.
    From { seq: u64 },
    /// Every app message up to `seq` was received.
    Ack { seq: u64 },
    /// Please acknowledge now.
    Ackreq,
    /// Liveness probe.
    Ping,
    /// The answer to `ping`.
    Pong,
    /// The sender ends the session.
    Bye,
}

// By hand: the session id is never shown.
impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Control::Hello { sid, recv } => f
                .debug_struct("Hello")
                .field("sid", &sid.as_ref().map(|_| "<redacted>"))
                .field("recv", recv)
                .finish(),
            Control::Welcome {
                resumed,
                recv,
                sent,
                ..
            } => f
                .debug_struct("Welcome")
                .field("sid", &"<redacted>")
                .field("resumed", resumed)
                .field("recv", recv)
                .field("sent", sent)
                .finish(),
            Control::From { seq } => f.debug_struct("From").field("seq", seq).finish(),
            Control::Ack { seq } => f.debug_struct("Ack").field("seq", seq).finish(),
            Control::Ackreq => f.write_str("Ackreq"),
            Control::Ping => f.write_str("Ping"),
            Control::Pong => f.write_str("Pong"),
            Control::Bye => f.write_str("Bye"),
        }
    }
}

impl Control {
    /// The text frame carrying it: U+0000 and the JSON object, as the protocol writes it.
    pub(crate) fn encode(&self) -> String {
        match self {
            Control::Hello { sid, recv } => {
                let mut out = String::from("\0{\"t\":\"hello\",\"sid\":");
                match sid {
                    Some(sid) => {
                        out.push('"');
                        out.push_str(sid);
                        out.push('"');
                    }
                    None => out.push_str("null"),
                }
                out.push_str(&text(&[S(",\"recv\":"), N(*recv), S("}")]));
                out
            }
            // The client never sends one; written for the tests' server.
            Control::Welcome {
                sid,
                resumed,
                recv,
                sent,
            } => text(&[
                S("\0{\"t\":\"welcome\",\"sid\":\""),
                S(sid),
                S("\",\"resumed\":"),
                S(if *resumed { "true" } else { "false" }),
                S(",\"recv\":"),
                N(*recv),
                S(",\"sent\":"),
                N(*sent),
                S(",\"ttl\":120000}"),
            ]),
            Control::From { seq } => text(&[S("\0{\"t\":\"from\",\"seq\":"), N(*seq), S("}")]),
            Control::Ack { seq } => text(&[S("\0{\"t\":\"ack\",\"seq\":"), N(*seq), S("}")]),
            Control::Ackreq => "\0{\"t\":\"ackreq\"}".into(),
            Control::Ping => "\0{\"t\":\"ping\"}".into(),
            Control::Pong => "\0{\"t\":\"pong\"}".into(),
            Control::Bye => "\0{\"t\":\"bye\"}".into(),
        }
    }
}

/// A received text frame, decoded.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// An app text message: the text as it arrived.
    App,
    /// An app text message that was escaped: its text without the escape.
    Unescaped(&'a str),
    /// A control frame.
    Control(Control),
}

/// Decodes a received text frame (a binary frame is always an app message).
pub(crate) fn decode(frame: &str) -> Result<Frame<'_>, Fault> {
    let Some(rest) = frame.strip_prefix('\0') else {
        return Ok(Frame::App);
    };
    if rest.starts_with('\0') {
        // The escape is dropped: the app text itself starts with U+0000.
        return Ok(Frame::Unescaped(rest));
    }
    if frame.len() > MAX_CONTROL_BYTES {
        return Err("control frame over 1024 bytes");
    }
    parse_control(rest.as_bytes()).map(Frame::Control)
}

/// The wire form of an app message: text starting with U+0000 gets one more in front.
pub(crate) fn escape(message: &Message) -> Message {
    match message {
        Message::Text(t) if t.starts_with('\0') => {
            let mut out = String::with_capacity(t.len() + 1);
            out.push('\0');
            out.push_str(t);
            Message::Text(out)
        }
        other => other.clone(),
    }
}

/// A JSON value as far as control frames care.
#[derive(Debug, PartialEq, Eq)]
enum Value<'a> {
    /// A string without escapes (every string a control frame needs is one).
    Str(&'a str),
    /// A non-negative integer within [`MAX_SEQ`].
    Int(u64),
    Bool(bool),
    Null,
    /// Anything else (a string with escapes, another number, an array, an object).
    Other,
}

/// A minimal JSON reader over a control frame (at most 1 KiB, so nesting is bounded too).
struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// A string, the opening quote already eaten: `Str` unless it has escapes.
    fn string(&mut self) -> Option<Value<'a>> {
        let start = self.i;
        let mut plain = true;
        loop {
            match *self.s.get(self.i)? {
                b'"' => break,
                b'\\' => {
                    plain = false;
                    self.i += 2;
                }
                c if c < 0x20 => return None,
                _ => self.i += 1,
            }
        }
        let raw = self.s.get(start..self.i)?;
        self.i += 1;
        Some(if plain {
            Value::Str(core::str::from_utf8(raw).ok()?)
        } else {
            Value::Other
        })
    }

    fn value(&mut self, depth: u32) -> Option<Value<'a>> {
        self.ws();
        let c = *self.s.get(self.i)?;
        self.i += 1;
        match c {
            b'"' => self.string(),
            b'{' | b'[' => {
                if depth > 16 {
                    return None;
                }
                let close = if c == b'{' { b'}' } else { b']' };
                if self.eat(close) {
                    return Some(Value::Other);
                }
                loop {
                    if c == b'{' {
                        if !self.eat(b'"') {
                            return None;
                        }
                        self.string()?;
                        if !self.eat(b':') {
                            return None;
                        }
                    }
                    self.value(depth + 1)?;
                    if self.eat(close) {
                        return Some(Value::Other);
                    }
                    if !self.eat(b',') {
                        return None;
                    }
                }
            }
            b't' | b'f' | b'n' => {
                let (word, value): (&[u8], _) = match c {
                    b't' => (b"rue", Value::Bool(true)),
                    b'f' => (b"alse", Value::Bool(false)),
                    _ => (b"ull", Value::Null),
                };
                if self.s.get(self.i..self.i + word.len())? != word {
                    return None;
                }
                self.i += word.len();
                Some(value)
            }
            b'-' | b'0'..=b'9' => {
                let start = self.i - 1;
                while matches!(
                    self.s.get(self.i),
                    Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                ) {
                    self.i += 1;
                }
                let raw = self.s.get(start..self.i)?;
                let integer = raw.iter().all(u8::is_ascii_digit)
                    && (raw.len() == 1 || raw[0] != b'0')
                    && raw.len() <= 16;
                if !integer {
                    // Still JSON (for an unknown field), unless it is not a number at all.
                    let ok = raw.iter().any(u8::is_ascii_digit);
                    return ok.then_some(Value::Other);
                }
                let n = raw.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                Some(if n <= MAX_SEQ {
                    Value::Int(n)
                } else {
                    Value::Other
                })
            }
            _ => None,
        }
    }
}

/// The fields of a control frame, as read.
#[derive(Default)]
struct Fields<'a> {
    t: Option<Value<'a>>,
    sid: Option<Value<'a>>,
    recv: Option<Value<'a>>,
    sent: Option<Value<'a>>,
    seq: Option<Value<'a>>,
    resumed: Option<Value<'a>>,
}

/// Parses the JSON object of a control frame (unknown fields ignored).
fn parse_control(json: &[u8]) -> Result<Control, Fault> {
    const BAD: Fault = "control frame is not a JSON object";
    let mut r = Reader { s: json, i: 0 };
    let mut f = Fields::default();
    if !r.eat(b'{') {
        return Err(BAD);
    }
    if !r.eat(b'}') {
        loop {
            if !r.eat(b'"') {
                return Err(BAD);
            }
            let key = r.string().ok_or(BAD)?;
            if !r.eat(b':') {
                return Err(BAD);
            }
            let value = r.value(0).ok_or(BAD)?;
            // Unknown fields are ignored (forward compatibility).
            let slot = match key {
                Value::Str("t") => Some(&mut f.t),
                Value::Str("sid") => Some(&mut f.sid),
                Value::Str("recv") => Some(&mut f.recv),
                Value::Str("sent") => Some(&mut f.sent),
                Value::Str("seq") => Some(&mut f.seq),
                Value::Str("resumed") => Some(&mut f.resumed),
                _ => None,
            };
            if let Some(slot) = slot {
                *slot = Some(value);
            }
            if r.eat(b'}') {
                break;
            }
            if !r.eat(b',') {
                return Err(BAD);
            }
        }
    }
    r.ws();
    if r.i != json.len() {
        return Err(BAD);
    }
    let int = |v: &Option<Value<'_>>, fault: Fault| match v {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(fault),
    };
    Ok(match f.t {
        Some(Value::Str("welcome")) => Control::Welcome {
            sid: match f.sid {
                Some(Value::Str(sid)) if valid_sid(sid) => String::from(sid),
                _ => return Err("welcome: malformed sid"),
            },
            resumed: match f.resumed {
                Some(Value::Bool(b)) => b,
                _ => return Err("welcome: resumed is not a boolean"),
            },
            recv: int(&f.recv, "welcome: recv is not a sequence number")?,
            sent: int(&f.sent, "welcome: sent is not a sequence number")?,
        },
        Some(Value::Str("from")) => Control::From {
            seq: int(&f.seq, "from: seq is not a sequence number")?,
        },
        Some(Value::Str("ack")) => Control::Ack {
            seq: int(&f.seq, "ack: seq is not a sequence number")?,
        },
        Some(Value::Str("ackreq")) => Control::Ackreq,
        Some(Value::Str("ping")) => Control::Ping,
        Some(Value::Str("pong")) => Control::Pong,
        Some(Value::Str("bye")) => Control::Bye,
        Some(Value::Str("hello")) => Control::Hello {
            sid: match f.sid {
                Some(Value::Str(sid)) if valid_sid(sid) => Some(String::from(sid)),
                Some(Value::Null) => None,
                _ => return Err("hello: malformed sid"),
            },
            recv: int(&f.recv, "hello: recv is not a sequence number")?,
        },
        _ => return Err("control frame without a known t"),
    })
}

/// 32 lowercase hex characters.
fn valid_sid(sid: &str) -> bool {
    sid.len() == 32 && sid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

// --------------------------------------------------------------------------- session

/// The session's part of the options (see [`crate::Resume`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// The resend buffer's bound, in messages.
    pub(crate) messages: usize,
    /// The resend buffer's bound, in payload bytes.
    pub(crate) bytes: usize,
    /// A full buffer drops its oldest message (true) or holds new ones back in the outbox.
    pub(crate) drop_oldest: bool,
    /// Proof that the protocol is built in: without the `resume` feature no value of it
    /// exists, so no session either, and the compiler drops every resume path.
    pub(crate) on: On,
}

/// Built with the `resume` feature: sessions exist.
#[cfg(feature = "resume")]
pub(crate) type On = ();

/// Built without the `resume` feature: no value, so no [`Bounds`] and no [`Session`].
#[cfg(not(feature = "resume"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum On {}

/// Server messages that will never arrive: seqs `from ..= to` (section 4).
pub(crate) type Gap = (u64, u64);

/// The old session is gone (section 6.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reset {
    /// The first server seq the client may never see (the count is unknown).
    pub(crate) missed_from: u64,
    /// The client's own messages the server may or may not have got: seqs `.0 ..= .1` (empty
    /// when `.0 > .1`), oldest first.
    pub(crate) unconfirmed: (u64, u64),
    /// Those messages, for the machine to re-queue as new ones or drop.
    pub(crate) messages: Vec<Message>,
}

/// What a `welcome` calls for.
#[derive(Debug)]
pub(crate) struct Welcomed {
    /// Whether the presented session was resumed.
    pub(crate) resumed: bool,
    /// The session was lost (a reset to report), if it was.
    pub(crate) reset: Option<Reset>,
    /// Frames to send now, in order: the client's `from`, then the buffered messages the
    /// server lacks (wire form).
    pub(crate) frames: Vec<Message>,
    /// How many buffered messages are re-sent.
    pub(crate) resent: u64,
    /// How many server messages the client has not received yet (replayed next, or
    /// reported as a gap when the server no longer holds them).
    pub(crate) replayed: u64,
}

/// What an inbound app message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// The next one in order: deliver it.
    Deliver,
    /// One the client has already delivered (the sender re-sent it): discard it.
    Duplicate,
}

/// One session of the resume protocol, as the client keeps it across connections
/// (section 4), and the state of the current connection's handshake.
pub(crate) struct Session {
    bounds: Bounds,
    sid: Option<String>,
    /// The last server seq received in order and delivered.
    recv: u64,
    /// The last seq given to a message of ours.
    sent: u64,
    /// The last seq of ours the server acknowledged.
    acked: u64,
    /// Our messages `sent - buffer.len() + 1 ..= sent`, in wire form, until acknowledged.
    buffer: VecDeque<Message>,
    buffer_bytes: usize,
    /// An `ackreq` went out since the last ack.
    ackreq_sent: bool,
    /// This connection's server `from` arrived.
    from_seen: bool,
    /// Server messages still to discard as duplicates (a `from` below what we have).
    skip: u64,
    /// App messages delivered since our last ack.
    unacked: u32,
    /// Buffered messages dropped by the bound (drop-oldest) since the session began.
    pub(crate) evicted: u64,
    /// Duplicates discarded.
    pub(crate) duplicates: u64,
}

// By hand: the session id is never shown.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid.as_ref().map(|_| "<redacted>"))
            .field("recv", &self.recv)
            .field("sent", &self.sent)
            .field("acked", &self.acked)
            .field("buffered", &self.buffer.len())
            .finish()
    }
}

impl Session {
    /// No session yet: the first `hello` asks for one.
    pub(crate) fn new(bounds: Bounds) -> Self {
        Session {
            bounds,
            sid: None,
            recv: 0,
            sent: 0,
            acked: 0,
            buffer: VecDeque::new(),
            buffer_bytes: 0,
            ackreq_sent: false,
            from_seen: false,
            skip: 0,
            unacked: 0,
            evicted: 0,
            duplicates: 0,
        }
    }

    /// The last server seq delivered in order.
    #[cfg(test)]
    pub(crate) fn recv(&self) -> u64 {
        self.recv
    }

    /// The last seq given to a message of ours.
    #[cfg(test)]
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// The last seq of ours the server acknowledged.
    #[cfg(test)]
    pub(crate) fn acked(&self) -> u64 {
        self.acked
    }

    /// Messages held until acknowledged.
    pub(crate) fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The `hello` that opens every connection; the connection's receive state starts over.
    pub(crate) fn hello(&mut self) -> Message {
        self.from_seen = false;
        self.skip = 0;
        Message::Text(
            Control::Hello {
                sid: self.sid.clone(),
                recv: self.recv,
            }
            .encode(),
        )
    }

    /// Acts on the server's `welcome` (section 6.4).
    pub(crate) fn welcome(
        &mut self,
        sid: String,
        resumed: bool,
        recv: u64,
        sent: u64,
    ) -> Result<Welcomed, Fault> {
        let mut reset = None;
        if self.sid.is_some() && (!resumed || self.sid.as_deref() != Some(sid.as_str())) {
            let messages: Vec<Message> = self.buffer.drain(..).map(unescape).collect();
            reset = Some(Reset {
                missed_from: self.recv + 1,
                unconfirmed: (self.acked + 1, self.sent),
                messages,
            });
            self.recv = 0;
            self.sent = 0;
            self.acked = 0;
            self.buffer_bytes = 0;
            self.ackreq_sent = false;
        }
        if recv > self.sent {
            return Err("welcome: recv above the client's sent");
        }
        let resumed = resumed && reset.is_none() && self.sid.is_some();
        if resumed && sent < self.recv {
            return Err("welcome: sent below the client's recv");
        }
        self.sid = Some(sid);
        self.acknowledged(recv);
        let first = self.sent - self.buffer.len() as u64 + 1;
        let mut frames = Vec::with_capacity(self.buffer.len() + 1);
        frames.push(Message::Text(Control::From { seq: first }.encode()));
        frames.extend(self.buffer.iter().cloned());
        // An `ackreq` sent before may have been lost with its connection: ask again.
        self.ackreq_sent = false;
        if let Some(ackreq) = self.ackreq_if_half_full() {
            frames.push(ackreq);
        }
        self.unacked = 0;
        Ok(Welcomed {
            resumed,
            reset,
            resent: self.buffer.len() as u64,
            replayed: sent.saturating_sub(self.recv),
            frames,
        })
    }

    /// The server's `from` on this connection: a gap to report, if the server skipped
    /// messages we never got.
    pub(crate) fn from(&mut self, seq: u64) -> Result<Option<Gap>, Fault> {
        if seq == 0 {
            return Err("from: seq 0");
        }
        self.from_seen = true;
        let expect = self.recv + 1;
        self.skip = expect.saturating_sub(seq);
        if seq > expect {
            self.recv = seq - 1;
            return Ok(Some((expect, seq - 1)));
        }
        Ok(None)
    }

    /// An app message arrived (after `from`).
    pub(crate) fn inbound(&mut self) -> Result<Inbound, Fault> {
        if !self.from_seen {
            return Err("app message before from");
        }
        if self.skip > 0 {
            self.skip -= 1;
            self.duplicates += 1;
            return Ok(Inbound::Duplicate);
        }
        if self.recv >= MAX_SEQ {
            return Err("sequence number past 2^53 - 1");
        }
        self.recv += 1;
        self.unacked += 1;
        Ok(Inbound::Deliver)
    }

    /// App messages delivered since the last ack (the machine acks at [`ACK_EVERY`], or
    /// [`ACK_DELAY_MS`] after the first).
    pub(crate) fn unacked(&self) -> u32 {
        self.unacked
    }

    /// Our `ack` frame, now.
    pub(crate) fn ack(&mut self) -> Message {
        self.unacked = 0;
        Message::Text(Control::Ack { seq: self.recv }.encode())
    }

    /// The server's `ack`.
    pub(crate) fn acked_by_server(&mut self, seq: u64) -> Result<(), Fault> {
        if seq > self.sent {
            return Err("ack: seq above the client's sent");
        }
        self.acknowledged(seq);
        Ok(())
    }

    /// Drops the buffered messages up to `seq`.
    fn acknowledged(&mut self, seq: u64) {
        if seq <= self.acked {
            return;
        }
        self.acked = seq;
        self.ackreq_sent = false;
        let first = self.sent - self.buffer.len() as u64 + 1;
        let drop = seq.saturating_add(1).saturating_sub(first) as usize;
        for _ in 0..drop.min(self.buffer.len()) {
            if let Some(m) = self.buffer.pop_front() {
                self.buffer_bytes -= m.len();
            }
        }
    }

    /// Whether a message of `size` bytes can get a seq now (a full buffer holds new messages
    /// back unless it drops its oldest).
    pub(crate) fn has_room(&self, size: usize) -> bool {
        self.bounds.drop_oldest
            || self.buffer.is_empty()
            || (self.buffer.len() < self.bounds.messages
                && self.buffer_bytes + size <= self.bounds.bytes)
    }

    /// Gives `message` the next seq and buffers it; returns its wire form and, when the
    /// buffer passed half its bound, an `ackreq` to send after it.
    pub(crate) fn push(&mut self, message: &Message) -> (Message, Option<Message>) {
        let wire = escape(message);
        self.sent += 1;
        self.buffer_bytes += wire.len();
        self.buffer.push_back(wire.clone());
        while self.buffer.len() > 1
            && (self.buffer.len() > self.bounds.messages || self.buffer_bytes > self.bounds.bytes)
        {
            if let Some(m) = self.buffer.pop_front() {
                self.buffer_bytes -= m.len();
                self.evicted += 1;
            }
        }
        let ackreq = self.ackreq_if_half_full();
        (wire, ackreq)
    }

    /// An `ackreq` once the buffer passed half its bound (once until an ack).
    fn ackreq_if_half_full(&mut self) -> Option<Message> {
        let half = self.buffer.len() * 2 > self.bounds.messages
            || self.buffer_bytes * 2 > self.bounds.bytes;
        (half && !self.ackreq_sent).then(|| {
            self.ackreq_sent = true;
            Message::Text(Control::Ackreq.encode())
        })
    }

    /// `bye` or `close()`: the session is forgotten; returns the messages never confirmed.
    pub(crate) fn forget(&mut self) -> Reset {
        let reset = Reset {
            missed_from: self.recv + 1,
            unconfirmed: (self.acked + 1, self.sent),
            messages: self.buffer.drain(..).map(unescape).collect(),
        };
        *self = Session {
            evicted: self.evicted,
            duplicates: self.duplicates,
            ..Session::new(self.bounds)
        };
        reset
    }
}

/// A buffered message back in its app form.
fn unescape(wire: Message) -> Message {
    match wire {
        Message::Text(t) if t.starts_with("\0\0") => {
            Message::Text(String::from(t.strip_prefix('\0').unwrap_or(&t)))
        }
        other => other,
    }
}

/// A control frame as a message.
pub(crate) fn control(c: Control) -> Message {
    Message::Text(c.encode())
}

#[cfg(all(test, feature = "resume"))]
mod tests {
    use super::*;
    use alloc::string::ToString;

    const SID: &str = "0123456789abcdef0123456789abcdef";
    const SID2: &str = "fedcba9876543210fedcba9876543210";

    fn t(s: &str) -> Message {
        Message::Text(s.to_string())
    }

    fn bounds(messages: usize, drop_oldest: bool) -> Bounds {
        Bounds {
            messages,
            bytes: 1 << 20,
            drop_oldest,
            on: (),
        }
    }

    #[test]
    fn app_text_round_trips_through_the_escape() {
        for s in [
            "",
            "a",
            "\0",
            "\0\0x",
            "\0{\"t\":\"ack\",\"seq\":1}",
            "h\u{e9}llo",
        ] {
            let wire = escape(&t(s));
            let Message::Text(w) = &wire else {
                unreachable!()
            };
            match decode(w).unwrap() {
                Frame::App => assert_eq!(w, s),
                Frame::Unescaped(u) => assert_eq!(u, s),
                other => panic!("{other:?}"),
            }
            assert_eq!(unescape(wire), t(s));
        }
        // Binary is never touched; ordinary text is not copied into a new form.
        assert_eq!(
            escape(&Message::Binary(vec![0, 0])),
            Message::Binary(vec![0, 0])
        );
        assert_eq!(escape(&t("abc")), t("abc"));
    }

    #[test]
    fn control_frames_round_trip_as_the_protocol_writes_them() {
        let all = [
            Control::Hello { sid: None, recv: 0 },
            Control::Hello {
                sid: Some(SID.into()),
                recv: MAX_SEQ,
            },
            Control::Welcome {
                sid: SID.into(),
                resumed: true,
                recv: 3,
                sent: 9,
            },
            Control::From { seq: 4 },
            Control::Ack { seq: 7 },
            Control::Ackreq,
            Control::Ping,
            Control::Pong,
            Control::Bye,
        ];
        for c in all {
            let wire = c.encode();
            assert!(wire.starts_with("\0{\"t\":\""), "{wire:?}");
            assert_eq!(decode(&wire), Ok(Frame::Control(c)));
        }
        assert_eq!(
            Control::Hello { sid: None, recv: 0 }.encode(),
            "\0{\"t\":\"hello\",\"sid\":null,\"recv\":0}"
        );
        assert_eq!(
            Control::From { seq: 1 }.encode(),
            "\0{\"t\":\"from\",\"seq\":1}"
        );
    }

    #[test]
    fn the_adapters_frames_and_unknown_fields_are_read() {
        // As serde_json writes them (the Rust adapter), spaces and unknown fields of any JSON
        // type included.
        let welcome = "\0{\"t\":\"welcome\",\"sid\":\"0123456789abcdef0123456789abcdef\",\"resumed\":false,\"recv\":0,\"sent\":0,\"ttl\":120000}";
        assert_eq!(
            decode(welcome),
            Ok(Frame::Control(Control::Welcome {
                sid: SID.into(),
                resumed: false,
                recv: 0,
                sent: 0
            }))
        );
        let odd = "\0 { \"x\" : [1, {\"y\": \"a\\\"b\"}, -2.5e3, null] , \"seq\" : 12 ,\"t\":\"ack\", \"z\":{} } ";
        assert_eq!(decode(odd), Ok(Frame::Control(Control::Ack { seq: 12 })));
    }

    #[test]
    fn bad_control_frames_are_faults_that_never_quote_the_frame() {
        let secret = "feedfacefeedfacefeedfacefeedface";
        let pad = "x".repeat(2000);
        let cases = [
            format!("\0{{\"t\":\"welcome\",\"sid\":\"{secret}X\",\"resumed\":true,\"recv\":0,\"sent\":0}}"),
            format!("\0{{\"t\":\"nope\",\"sid\":\"{secret}\"}}"),
            "\0[1,2]".to_string(),
            "\0{".to_string(),
            "\0".to_string(),
            "\0{\"t\":\"ack\"}".to_string(),
            "\0{\"t\":\"ack\",\"seq\":-1}".to_string(),
            "\0{\"t\":\"ack\",\"seq\":1.5}".to_string(),
            "\0{\"t\":\"ack\",\"seq\":9007199254740992}".to_string(),
            "\0{\"t\":\"ack\",\"seq\":01}".to_string(),
            "\0{\"t\":\"ack\",\"seq\":1} x".to_string(),
            "\0{\"t\":\"ack\",\"seq\":1,}".to_string(),
            "\0{\"t\":\"a\\u0063k\",\"seq\":1}".to_string(),
            "\0{\"t\":\"ping\",\"n\":tru}".to_string(),
            format!("\0{{\"t\":\"ping\",\"pad\":\"{pad}\"}}"),
            format!("\0{{\"t\":\"ping\",\"deep\":{}{}}}", "[".repeat(40), "]".repeat(40)),
        ];
        for case in cases {
            let fault = decode(&case).unwrap_err();
            assert!(!fault.contains(secret) && !fault.is_empty(), "{case:?}");
        }
        // The largest sequence number is fine.
        assert_eq!(
            decode("\0{\"t\":\"ack\",\"seq\":9007199254740991}"),
            Ok(Frame::Control(Control::Ack { seq: MAX_SEQ }))
        );
    }

    #[test]
    fn debug_output_never_shows_the_session_id() {
        let c = Control::Welcome {
            sid: SID.into(),
            resumed: true,
            recv: 1,
            sent: 2,
        };
        assert!(!format!("{c:?}").contains(SID));
        let mut s = Session::new(bounds(8, true));
        s.hello();
        s.welcome(SID.into(), false, 0, 0).unwrap();
        assert!(!format!("{s:?}").contains(SID));
        let hello = s.hello();
        assert!(
            matches!(&hello, Message::Text(h) if h.contains(SID)),
            "hello carries it"
        );
        assert!(!format!(
            "{:?}",
            decode(
                &Control::Hello {
                    sid: Some(SID.into()),
                    recv: 0
                }
                .encode()
            )
        )
        .contains(SID));
    }

    /// The worked example of section 10, from the client's side.
    #[test]
    fn worked_example() {
        let mut s = Session::new(bounds(1024, true));
        assert_eq!(s.hello(), t("\0{\"t\":\"hello\",\"sid\":null,\"recv\":0}"));
        let w = s.welcome(SID.into(), false, 0, 0).unwrap();
        assert!(!w.resumed && w.reset.is_none());
        assert_eq!(w.frames, vec![t("\0{\"t\":\"from\",\"seq\":1}")]);
        assert_eq!(s.from(1), Ok(None));
        assert_eq!(s.push(&t("a")).0, t("a"));
        assert_eq!(s.push(&t("b")).0, t("b"));
        assert_eq!(s.inbound(), Ok(Inbound::Deliver)); // tick 1
        assert_eq!(s.inbound(), Ok(Inbound::Deliver)); // tick 2
        assert_eq!(s.acked_by_server(2), Ok(()));
        assert_eq!(s.ack(), t("\0{\"t\":\"ack\",\"seq\":2}"));
        s.push(&t("c"));
        assert_eq!(s.buffered(), 1);
        // The connection drops; the next one.
        assert_eq!(
            s.hello(),
            t("\0{\"t\":\"hello\",\"sid\":\"0123456789abcdef0123456789abcdef\",\"recv\":2}")
        );
        let w = s.welcome(SID.into(), true, 2, 4).unwrap();
        assert!(w.resumed && w.reset.is_none());
        assert_eq!((w.resent, w.replayed), (1, 2));
        assert_eq!(w.frames, vec![t("\0{\"t\":\"from\",\"seq\":3}"), t("c")]);
        assert_eq!(s.from(3), Ok(None));
        assert_eq!(s.inbound(), Ok(Inbound::Deliver));
        assert_eq!(s.inbound(), Ok(Inbound::Deliver));
        assert_eq!(s.recv(), 4);
        // With a buffer of one, the server would have sent from 4: a gap of exactly tick 3.
        let mut s2 = Session::new(bounds(8, true));
        s2.hello();
        s2.welcome(SID.into(), false, 0, 0).unwrap();
        s2.from(1).unwrap();
        s2.inbound().unwrap();
        s2.inbound().unwrap();
        s2.hello();
        s2.welcome(SID.into(), true, 0, 4).unwrap();
        assert_eq!(s2.from(4), Ok(Some((3, 3))));
        assert_eq!(s2.inbound(), Ok(Inbound::Deliver));
        assert_eq!(s2.recv(), 4);
    }

    #[test]
    fn a_from_below_what_was_received_discards_exactly_the_duplicates() {
        let mut s = Session::new(bounds(8, true));
        s.hello();
        s.welcome(SID.into(), false, 0, 0).unwrap();
        s.from(1).unwrap();
        for _ in 0..5 {
            s.inbound().unwrap();
        }
        s.hello();
        s.welcome(SID.into(), true, 0, 7).unwrap();
        assert_eq!(s.from(3), Ok(None));
        let got: Vec<_> = (0..5).map(|_| s.inbound().unwrap()).collect();
        use Inbound::*;
        assert_eq!(got, vec![Duplicate, Duplicate, Duplicate, Deliver, Deliver]);
        assert_eq!((s.recv(), s.duplicates), (7, 3));
    }

    #[test]
    fn protocol_faults() {
        let mut s = Session::new(bounds(8, true));
        s.hello();
        assert!(
            s.welcome(SID.into(), false, 1, 0).is_err(),
            "recv above sent"
        );
        let mut s = Session::new(bounds(8, true));
        s.hello();
        s.welcome(SID.into(), false, 0, 0).unwrap();
        assert!(s.inbound().is_err(), "app message before from");
        assert!(s.from(0).is_err());
        s.from(1).unwrap();
        s.push(&t("a"));
        assert!(s.acked_by_server(2).is_err(), "ack above sent");
        assert_eq!(s.acked_by_server(1), Ok(()));
        assert_eq!(
            s.acked_by_server(0),
            Ok(()),
            "a late duplicate ack is ignored"
        );
        s.inbound().unwrap();
        s.hello();
        assert!(
            s.welcome(SID.into(), true, 1, 0).is_err(),
            "sent below our recv"
        );
    }

    #[test]
    fn a_lost_session_is_a_reset_with_both_ranges_and_the_unconfirmed_messages() {
        let mut s = Session::new(bounds(8, true));
        s.hello();
        s.welcome(SID.into(), false, 0, 0).unwrap();
        s.from(1).unwrap();
        s.inbound().unwrap();
        s.inbound().unwrap();
        for m in ["a", "\0b", "c"] {
            s.push(&t(m));
        }
        s.acked_by_server(1).unwrap();
        s.hello();
        let w = s.welcome(SID2.into(), false, 0, 0).unwrap();
        let reset = w.reset.unwrap();
        assert_eq!(reset.missed_from, 3);
        assert_eq!(reset.unconfirmed, (2, 3));
        assert_eq!(
            reset.messages,
            vec![t("\0b"), t("c")],
            "app form, unescaped"
        );
        assert!(!w.resumed);
        assert_eq!((s.recv(), s.sent(), s.acked(), s.buffered()), (0, 0, 0, 0));
        assert_eq!(w.frames, vec![t("\0{\"t\":\"from\",\"seq\":1}")]);
        // The same sid but not resumed is a reset too; `resumed` with another sid as well.
        for (sid, resumed) in [(SID2, false), (SID, true)] {
            s.push(&t("x"));
            s.hello();
            let w = s.welcome(sid.into(), resumed, 0, 0).unwrap();
            assert_eq!(w.reset.unwrap().unconfirmed, (1, 1));
        }
    }

    #[test]
    fn the_buffer_is_bounded_drops_the_oldest_and_asks_for_an_ack_once() {
        let mut s = Session::new(bounds(4, true));
        s.hello();
        s.welcome(SID.into(), false, 0, 0).unwrap();
        let mut ackreqs = 0;
        for i in 0..10 {
            let (_, ackreq) = s.push(&t(&i.to_string()));
            ackreqs += usize::from(ackreq.is_some());
            assert!(s.buffered() <= 4);
        }
        assert_eq!((ackreqs, s.evicted, s.sent()), (1, 6, 10));
        s.acked_by_server(7).unwrap();
        assert_eq!(s.buffered(), 3);
        // Resuming: `from` jumps past the evicted ones (the server reports the gap).
        s.hello();
        let w = s.welcome(SID.into(), true, 5, 0).unwrap();
        assert_eq!(w.frames[0], t("\0{\"t\":\"from\",\"seq\":8}"));
        assert_eq!(w.frames[1..4], [t("7"), t("8"), t("9")]);
        // Still past half its bound: it asks for an ack again (the last ackreq may have been
        // lost with its connection; found by the simulator: a held-back outbox waited forever).
        assert_eq!(w.frames[4..], [t("\0{\"t\":\"ackreq\"}")]);
        // Holding back instead: no room once full.
        let mut s = Session::new(bounds(2, false));
        s.hello();
        s.welcome(SID.into(), false, 0, 0).unwrap();
        s.push(&t("a"));
        assert!(s.has_room(1));
        s.push(&t("b"));
        assert!(!s.has_room(1));
        s.acked_by_server(1).unwrap();
        assert!(s.has_room(1));
    }
}
