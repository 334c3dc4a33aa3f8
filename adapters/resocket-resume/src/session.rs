//! Session ids, the bounds on a session, and the [`SessionStore`] interface with its in-memory
//! implementation.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::message::Message;

/// A boxed future, as the store's methods return (so `dyn SessionStore` works).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A session id: 128 random bits as 32 lowercase hex characters. It is a capability, so its
/// `Debug` and `Display` print `SessionId(..)`, never the value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// A new id from the operating system's CSPRNG.
    pub fn random() -> Result<Self> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
        let mut s = String::with_capacity(32);
        for b in bytes {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 15)]));
        }
        Ok(SessionId(s))
    }

    /// Parses a presented id: exactly 32 lowercase hex characters. The error never repeats it.
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(SessionId(s.to_owned()))
        } else {
            Err(Error::Protocol(format!(
                "malformed session id ({} characters; expected 32 lowercase hex)",
                s.chars().count()
            )))
        }
    }

    /// The id's text, for the `welcome` frame and store keys only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

/// What a full resend buffer does with one more message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overflow {
    /// Drop the oldest buffered message (if the client lacks it at the next resume it reports a
    /// gap with the exact range).
    #[default]
    DropOldest,
    /// Refuse the new message: `send` answers [`Error::BufferFull`].
    Reject,
}

/// The bounds of one session, and of a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The most messages the resend buffer holds (default 1,024).
    pub max_buffered_messages: u64,
    /// The most payload bytes the resend buffer holds (default 1 MiB); also the largest message.
    pub max_buffered_bytes: u64,
    /// What a full buffer does.
    pub overflow: Overflow,
    /// How long a session survives without a connection (default 120 s).
    pub ttl: Duration,
    /// The most sessions a store holds (default 10,000).
    pub max_sessions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_buffered_messages: 1024,
            max_buffered_bytes: 1 << 20,
            overflow: Overflow::DropOldest,
            ttl: Duration::from_secs(120),
            max_sessions: 10_000,
        }
    }
}

/// What opening a session (the server's side of `hello`) gives.
#[derive(Debug)]
pub struct Opened {
    /// The session (new or resumed).
    pub sid: SessionId,
    /// This connection's claim on the session; later calls with an older epoch fail with
    /// [`Error::Superseded`].
    pub epoch: u64,
    /// Whether the presented session was resumed.
    pub resumed: bool,
    /// The last client seq the server received.
    pub recv: u64,
    /// The last seq the server assigned.
    pub sent: u64,
    /// The buffered server messages above the client's `recv`, oldest first, with the seq of the
    /// first (`sent + 1` when empty).
    pub replay_from: u64,
    /// Those messages.
    pub replay: Vec<Message>,
}

/// Where sessions live: in memory ([`MemoryStore`]) or shared between nodes (`RedisStore`).
/// Every call but `open` names the session and the caller's epoch, and fails with
/// [`Error::Superseded`] once another connection has opened the session, or
/// [`Error::SessionGone`] once it expired or was removed.
pub trait SessionStore: Send + Sync + 'static {
    /// Resumes `sid` when it exists, has not expired and was created from `origin`; otherwise
    /// creates a new session (or fails with [`Error::TooManySessions`]). On resume: the epoch
    /// moves on, buffered messages `<= client_recv` are dropped (`client_recv` above `sent` is
    /// [`Error::Protocol`]) and the rest are returned for replay.
    fn open<'a>(
        &'a self,
        sid: Option<&'a SessionId>,
        origin: &'a str,
        client_recv: u64,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<Opened>>;

    /// Appends an outgoing message to the resend buffer; returns its seq.
    fn push<'a>(
        &'a self,
        sid: &'a SessionId,
        epoch: u64,
        message: &'a Message,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<u64>>;

    /// The client acknowledged every server message up to `seq`: drop them from the buffer.
    /// `seq` above `sent` is [`Error::Protocol`].
    fn ack<'a>(&'a self, sid: &'a SessionId, epoch: u64, seq: u64) -> BoxFuture<'a, Result<()>>;

    /// The client message `seq` was received and is being handed to the application.
    fn received<'a>(
        &'a self,
        sid: &'a SessionId,
        epoch: u64,
        seq: u64,
    ) -> BoxFuture<'a, Result<()>>;

    /// Keeps the session for `ttl` from now (called while attached, and when the connection
    /// ends).
    fn touch<'a>(
        &'a self,
        sid: &'a SessionId,
        epoch: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<()>>;

    /// Ends the session (`bye`).
    fn remove<'a>(&'a self, sid: &'a SessionId, epoch: u64) -> BoxFuture<'a, Result<()>>;
}

/// One session's state, shared by the in-memory store (the Redis store keeps the same fields).
#[derive(Debug)]
struct Session {
    origin: String,
    epoch: u64,
    recv: u64,
    sent: u64,
    /// The seq of `buffer[0]`.
    first: u64,
    buffer: VecDeque<Message>,
    bytes: u64,
    expires: Instant,
}

impl Session {
    fn trim_to(&mut self, seq: u64) {
        while self.first <= seq {
            match self.buffer.pop_front() {
                Some(m) => {
                    self.bytes -= m.len() as u64;
                    self.first += 1;
                }
                None => {
                    self.first = self.sent + 1;
                    break;
                }
            }
        }
    }

    fn push(&mut self, message: &Message, limits: &Limits) -> Result<u64> {
        let size = message.len() as u64;
        if size > limits.max_buffered_bytes {
            return Err(Error::TooLarge {
                size: message.len(),
                limit: usize::try_from(limits.max_buffered_bytes).unwrap_or(usize::MAX),
            });
        }
        let over = |s: &Session| {
            s.buffer.len() as u64 + 1 > limits.max_buffered_messages
                || s.bytes + size > limits.max_buffered_bytes
        };
        if limits.overflow == Overflow::Reject && over(self) {
            return Err(Error::BufferFull {
                messages: self.buffer.len() as u64,
                bytes: self.bytes,
            });
        }
        while over(self) {
            match self.buffer.pop_front() {
                Some(m) => {
                    self.bytes -= m.len() as u64;
                    self.first += 1;
                }
                None => break,
            }
        }
        if self.buffer.is_empty() {
            self.first = self.sent + 1;
        }
        self.sent += 1;
        self.bytes += size;
        self.buffer.push_back(message.clone());
        Ok(self.sent)
    }
}

/// Sessions in this process's memory (the default): fast, lost with the process, one node only.
#[derive(Debug, Default)]
pub struct MemoryStore {
    sessions: Mutex<HashMap<SessionId, Session>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sessions it holds (expired ones included until the next `open` sweeps them).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds no session.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SessionId, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn with<T>(
        &self,
        sid: &SessionId,
        epoch: u64,
        f: impl FnOnce(&mut Session) -> Result<T>,
    ) -> Result<T> {
        let mut map = self.lock();
        let now = Instant::now();
        match map.get_mut(sid) {
            Some(s) if s.expires <= now => {
                map.remove(sid);
                Err(Error::SessionGone)
            }
            Some(s) if s.epoch != epoch => Err(Error::Superseded),
            Some(s) => f(s),
            None => Err(Error::SessionGone),
        }
    }

    fn open_now(
        &self,
        sid: Option<&SessionId>,
        origin: &str,
        client_recv: u64,
        limits: &Limits,
    ) -> Result<Opened> {
        let mut map = self.lock();
        let now = Instant::now();
        if let Some(sid) = sid {
            if let Some(s) = map.get_mut(sid) {
                if s.expires > now && s.origin == origin {
                    if client_recv > s.sent {
                        return Err(Error::Protocol(format!(
                            "hello.recv {client_recv} is above the {} messages the server sent",
                            s.sent
                        )));
                    }
                    s.trim_to(client_recv);
                    s.epoch += 1;
                    s.expires = now + limits.ttl;
                    return Ok(Opened {
                        sid: sid.clone(),
                        epoch: s.epoch,
                        resumed: true,
                        recv: s.recv,
                        sent: s.sent,
                        replay_from: s.first,
                        replay: s.buffer.iter().cloned().collect(),
                    });
                }
            }
        }
        map.retain(|_, s| s.expires > now);
        if map.len() >= limits.max_sessions {
            return Err(Error::TooManySessions {
                limit: limits.max_sessions,
            });
        }
        let sid = SessionId::random()?;
        map.insert(
            sid.clone(),
            Session {
                origin: origin.to_owned(),
                epoch: 1,
                recv: 0,
                sent: 0,
                first: 1,
                buffer: VecDeque::new(),
                bytes: 0,
                expires: now + limits.ttl,
            },
        );
        Ok(Opened {
            sid,
            epoch: 1,
            resumed: false,
            recv: 0,
            sent: 0,
            replay_from: 1,
            replay: Vec::new(),
        })
    }
}

impl SessionStore for MemoryStore {
    fn open<'a>(
        &'a self,
        sid: Option<&'a SessionId>,
        origin: &'a str,
        client_recv: u64,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<Opened>> {
        let r = self.open_now(sid, origin, client_recv, limits);
        Box::pin(async move { r })
    }

    fn push<'a>(
        &'a self,
        sid: &'a SessionId,
        epoch: u64,
        message: &'a Message,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<u64>> {
        let r = self.with(sid, epoch, |s| s.push(message, limits));
        Box::pin(async move { r })
    }

    fn ack<'a>(&'a self, sid: &'a SessionId, epoch: u64, seq: u64) -> BoxFuture<'a, Result<()>> {
        let r = self.with(sid, epoch, |s| {
            if seq > s.sent {
                return Err(Error::Protocol(format!(
                    "ack {seq} is above the {} messages the server sent",
                    s.sent
                )));
            }
            s.trim_to(seq);
            Ok(())
        });
        Box::pin(async move { r })
    }

    fn received<'a>(
        &'a self,
        sid: &'a SessionId,
        epoch: u64,
        seq: u64,
    ) -> BoxFuture<'a, Result<()>> {
        let r = self.with(sid, epoch, |s| {
            s.recv = s.recv.max(seq);
            Ok(())
        });
        Box::pin(async move { r })
    }

    fn touch<'a>(
        &'a self,
        sid: &'a SessionId,
        epoch: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<()>> {
        let r = self.with(sid, epoch, |s| {
            s.expires = Instant::now() + ttl;
            Ok(())
        });
        Box::pin(async move { r })
    }

    fn remove<'a>(&'a self, sid: &'a SessionId, epoch: u64) -> BoxFuture<'a, Result<()>> {
        let r = self.with(sid, epoch, |_| Ok(())).map(|()| {
            self.lock().remove(sid);
        });
        Box::pin(async move { r })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(messages: u64, bytes: u64, overflow: Overflow) -> Limits {
        Limits {
            max_buffered_messages: messages,
            max_buffered_bytes: bytes,
            overflow,
            ..Limits::default()
        }
    }

    fn block<T>(f: BoxFuture<'_, T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn ids_are_random_hex_and_never_printed() {
        let a = SessionId::random().unwrap();
        let b = SessionId::random().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 32);
        assert_eq!(SessionId::parse(a.expose()).unwrap(), a);
        assert_eq!(format!("{a:?}"), "SessionId(..)");
        for bad in [
            "",
            "ABCDEF0123456789abcdef0123456789",
            "xyz",
            &"a".repeat(33),
        ] {
            let e = SessionId::parse(bad).unwrap_err().to_string();
            assert!(!bad.is_empty() && !e.contains(bad) || bad.is_empty(), "{e}");
        }
    }

    #[test]
    fn resume_trims_and_replays() {
        let store = MemoryStore::new();
        let l = Limits::default();
        let o = block(store.open(None, "o", 0, &l)).unwrap();
        assert!(!o.resumed);
        for i in 1..=5u64 {
            let seq = block(store.push(&o.sid, o.epoch, &Message::from(format!("m{i}")), &l));
            assert_eq!(seq.unwrap(), i);
        }
        block(store.ack(&o.sid, o.epoch, 2)).unwrap();
        block(store.received(&o.sid, o.epoch, 7)).unwrap();
        let r = block(store.open(Some(&o.sid), "o", 3, &l)).unwrap();
        assert!(r.resumed);
        assert_eq!((r.epoch, r.recv, r.sent, r.replay_from), (2, 7, 5, 4));
        assert_eq!(r.replay, vec![Message::from("m4"), Message::from("m5")]);
        // The old connection lost the session.
        assert_eq!(
            block(store.push(&o.sid, o.epoch, &Message::from("x"), &l)),
            Err(Error::Superseded)
        );
        // recv beyond sent is a protocol error naming the numbers.
        let e = block(store.open(Some(&o.sid), "o", 9, &l)).unwrap_err();
        assert!(e.to_string().contains("9"), "{e}");
        assert!(matches!(
            block(store.ack(&r.sid, r.epoch, 6)),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn other_origin_or_unknown_id_starts_fresh() {
        let store = MemoryStore::new();
        let l = Limits::default();
        let o = block(store.open(None, "https://a", 0, &l)).unwrap();
        let other = block(store.open(Some(&o.sid), "https://evil", 0, &l)).unwrap();
        assert!(!other.resumed);
        assert_ne!(other.sid, o.sid);
        let unknown = SessionId::random().unwrap();
        assert!(
            !block(store.open(Some(&unknown), "https://a", 0, &l))
                .unwrap()
                .resumed
        );
        // The original is untouched.
        assert!(
            block(store.open(Some(&o.sid), "https://a", 0, &l))
                .unwrap()
                .resumed
        );
    }

    #[test]
    fn bounds_drop_oldest_or_reject() {
        let store = MemoryStore::new();
        let l = limits(3, 10, Overflow::DropOldest);
        let o = block(store.open(None, "", 0, &l)).unwrap();
        for m in ["aaaa", "bbbb", "cc", "dddd"] {
            block(store.push(&o.sid, o.epoch, &Message::from(m), &l)).unwrap();
        }
        let r = block(store.open(Some(&o.sid), "", 0, &l)).unwrap();
        assert_eq!(r.replay_from, 2);
        assert_eq!(r.replay.len(), 3);
        let big = Message::Binary(vec![0; 11]);
        assert!(matches!(
            block(store.push(&r.sid, r.epoch, &big, &l)),
            Err(Error::TooLarge {
                size: 11,
                limit: 10
            })
        ));
        let l = limits(2, 100, Overflow::Reject);
        let o = block(store.open(None, "", 0, &l)).unwrap();
        block(store.push(&o.sid, o.epoch, &Message::from("1"), &l)).unwrap();
        block(store.push(&o.sid, o.epoch, &Message::from("2"), &l)).unwrap();
        assert!(matches!(
            block(store.push(&o.sid, o.epoch, &Message::from("3"), &l)),
            Err(Error::BufferFull { messages: 2, .. })
        ));
        block(store.ack(&o.sid, o.epoch, 1)).unwrap();
        assert_eq!(
            block(store.push(&o.sid, o.epoch, &Message::from("3"), &l)).unwrap(),
            3
        );
    }

    #[test]
    fn session_limit_and_expiry() {
        let store = MemoryStore::new();
        let l = Limits {
            max_sessions: 2,
            ttl: Duration::from_millis(30),
            ..Limits::default()
        };
        let a = block(store.open(None, "", 0, &l)).unwrap();
        block(store.open(None, "", 0, &l)).unwrap();
        assert_eq!(
            block(store.open(None, "", 0, &l)).unwrap_err(),
            Error::TooManySessions { limit: 2 }
        );
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(
            block(store.ack(&a.sid, a.epoch, 0)),
            Err(Error::SessionGone)
        );
        assert!(!block(store.open(Some(&a.sid), "", 0, &l)).unwrap().resumed);
        block(store.open(None, "", 0, &l)).unwrap();
        assert_eq!(store.len(), 2);
    }
}
