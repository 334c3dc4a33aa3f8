//! `Options` for a `ReSocket`: a struct with `Default` and builder methods.

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::time::Duration;

use crate::backoff::Backoff;
use crate::error::Result;
use crate::message::{CloseEvent, Message};
use crate::outbox::Overflow;

/// An application-level heartbeat (off by default).
///
/// ```
/// use std::time::Duration;
/// let hb = resocket::Heartbeat::new(r#"{"type":"ping"}"#, Duration::from_secs(10), Duration::from_secs(5));
/// assert_eq!(hb.interval, Duration::from_secs(10));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The message sent as a ping.
    pub message: Message,
    /// Quiet time (no inbound message) after which a ping is sent.
    pub interval: Duration,
    /// How long after a ping without any inbound message the link counts as dead (at least
    /// 4 ms, the browser's timer floor: a shorter one counts as 4 ms).
    pub timeout: Duration,
}

// By hand: the ping is shown by kind and size only (no payload in `Debug` output).
impl fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Heartbeat")
            .field("message", &Redacted(&self.message))
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A message or subprotocol list in `Debug` output: its shape, never its content.
pub(crate) struct Redacted<'a, T>(pub(crate) &'a T);

impl fmt::Debug for Redacted<'_, Message> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} message, {} bytes>", self.0.kind(), self.0.len())
    }
}

impl fmt::Debug for Redacted<'_, Vec<String>> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} subprotocols>", self.0.len())
    }
}

impl Heartbeat {
    /// A heartbeat sending `message` after `interval` of quiet, declaring the link dead when
    /// nothing arrives within `timeout` of a ping.
    ///
    /// ```
    /// let hb = resocket::Heartbeat::new("ping", std::time::Duration::from_secs(1), std::time::Duration::from_secs(1));
    /// assert_eq!(hb.message, resocket::Message::from("ping"));
    /// ```
    pub fn new(message: impl Into<Message>, interval: Duration, timeout: Duration) -> Self {
        Heartbeat {
            message: message.into(),
            interval,
            timeout,
        }
    }
}

/// Default capacity of a `Stream`'s inbox, in messages (see [`Options::inbox_messages`]).
pub(crate) const DEFAULT_INBOX_MESSAGES: usize = 65_536;

/// The future returned by a URL provider: the URL and the subprotocols for one attempt.
pub type UrlFuture = Pin<Box<dyn Future<Output = Result<(String, Vec<String>)>>>>;

/// A user predicate deciding whether a server close is retried.
pub type RetryPredicate = Rc<dyn Fn(&CloseEvent) -> bool>;

/// Options of a `ReSocket`. Every field has a sensible default; the builder methods set one.
///
/// ```
/// use std::time::Duration;
/// use resocket::{Options, Overflow};
/// let opts = Options::default()
///     .max_retries(5)
///     .connect_timeout(Duration::from_secs(5))
///     .outbox(256, 1 << 20, Overflow::DropOldest);
/// assert_eq!(opts.max_retries, Some(5));
/// ```
#[derive(Clone)]
pub struct Options {
    /// Backoff between attempts (default: 500 ms doubling to 30 s, full jitter).
    pub backoff: Backoff,
    /// Attempts after which the socket gives up with `Failed` (default: never).
    pub max_retries: Option<u32>,
    /// How long a connection must stay open before the attempt counter resets (default 5 s).
    pub stable_after: Duration,
    /// A socket still CONNECTING after this is closed and retried (default 10 s).
    pub connect_timeout: Duration,
    /// Decides whether a server close is retried; `None` uses [`crate::default_should_retry`].
    pub should_retry: Option<RetryPredicate>,
    /// Outbox capacity in messages (default 1024).
    pub outbox_messages: usize,
    /// Outbox capacity in payload bytes (default 4 MiB).
    pub outbox_bytes: usize,
    /// What happens when the outbox is full (default `Reject`).
    pub overflow: Overflow,
    /// Application-level heartbeat (default off).
    pub heartbeat: Option<Heartbeat>,
    /// `bufferedAmount` above which the `Sink` waits (default 1 MiB).
    pub high_water_mark: u32,
    /// Subprotocols offered (ignored when a URL provider returns its own).
    pub protocols: Vec<String>,
    /// Refuse `ws://` except to localhost (default false).
    pub secure_only: bool,
    /// Inbound messages larger than this become an error event instead (default: no limit).
    pub max_message_bytes: Option<usize>,
    /// Seed for the jitter RNG, for reproducible delays (default: random).
    pub jitter_seed: Option<u64>,
    /// Received messages the `Stream` may hold unread (default 65,536). When it is full the
    /// oldest is dropped and the stream yields one `Err(Error::Lagged)` in its place.
    pub inbox_messages: usize,
    /// Speak the resume protocol (`docs/PROTOCOL.md`): exactly-once, in-order delivery both
    /// ways across reconnects, against a server that speaks it (default off). Feature
    /// `resume` (on by default).
    #[cfg(feature = "resume")]
    pub resume: Option<Resume>,
}

/// What a resume-mode `ReSocket` does when the server does not select the
/// `resocket.resume.v1` subprotocol.
///
/// ```
/// assert_eq!(resocket::Fallback::default(), resocket::Fallback::Fail);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fallback {
    /// Stop: the state becomes `Failed`, with an error naming what the server selected.
    #[default]
    Fail,
    /// Use that connection in plain mode (no sequence numbers, no control frames). Checked
    /// again on every connection.
    Plain,
}

/// The resume protocol's options (see [`Options::resume`]).
///
/// ```
/// let r = resocket::Resume::default().buffer(256, 1 << 16).fallback(resocket::Fallback::Plain);
/// assert_eq!((r.max_buffered, r.fallback), (256, resocket::Fallback::Plain));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// When the server does not speak the protocol (default `Fail`).
    pub fallback: Fallback,
    /// Sent messages kept until the server acknowledges them (default 1024).
    pub max_buffered: usize,
    /// Payload bytes kept until acknowledged (default 1 MiB).
    pub max_buffered_bytes: usize,
    /// A full resend buffer drops its oldest message (`true`, the default: the server reports
    /// the gap if it lacks it) or holds new messages back in the outbox until an
    /// acknowledgement makes room (`false`).
    pub drop_oldest: bool,
    /// After a reset (the server lost the session), the messages it may not have received
    /// are sent again as new messages (`true`, the default) or dropped (reported by a
    /// `Discarded` event). The `Reset` event reports them either way.
    pub requeue_on_reset: bool,
}

impl Default for Resume {
    fn default() -> Self {
        Resume {
            fallback: Fallback::Fail,
            max_buffered: 1024,
            max_buffered_bytes: 1 << 20,
            drop_oldest: true,
            requeue_on_reset: true,
        }
    }
}

impl Resume {
    /// Sets what happens when the server does not speak the protocol.
    ///
    /// ```
    /// let r = resocket::Resume::default().fallback(resocket::Fallback::Plain);
    /// assert_eq!(r.fallback, resocket::Fallback::Plain);
    /// ```
    pub fn fallback(mut self, fallback: Fallback) -> Self {
        self.fallback = fallback;
        self
    }

    /// Bounds the resend buffer (at least one message is always kept).
    ///
    /// ```
    /// assert_eq!(resocket::Resume::default().buffer(8, 100).max_buffered_bytes, 100);
    /// ```
    pub fn buffer(mut self, messages: usize, bytes: usize) -> Self {
        self.max_buffered = messages;
        self.max_buffered_bytes = bytes;
        self
    }

    /// Whether a full resend buffer drops its oldest message (else new ones wait).
    ///
    /// ```
    /// assert!(!resocket::Resume::default().drop_oldest(false).drop_oldest);
    /// ```
    pub fn drop_oldest(mut self, on: bool) -> Self {
        self.drop_oldest = on;
        self
    }

    /// Whether unconfirmed messages are sent again after a reset (else dropped).
    ///
    /// ```
    /// assert!(!resocket::Resume::default().requeue_on_reset(false).requeue_on_reset);
    /// ```
    pub fn requeue_on_reset(mut self, on: bool) -> Self {
        self.requeue_on_reset = on;
        self
    }
}

/// How a message sent with `ReSocket::send_with` behaves if it has not left by the time a
/// connection is lost (it waits in the outbox, or was handed to a socket that died with it).
///
/// ```
/// assert_eq!(resocket::OnReconnect::default(), resocket::OnReconnect::Replay);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnReconnect {
    /// Sent on the next connection (the default, as `send`).
    #[default]
    Replay,
    /// Dropped once a connection that was open is lost before the message went out: it is
    /// only ever sent on the connection that was open (or the next to open) when it was sent.
    Drop,
    /// Dropped if it has not gone out within this time of the send.
    Expire(Duration),
}

impl Default for Options {
    fn default() -> Self {
        Options {
            backoff: Backoff::default(),
            max_retries: None,
            stable_after: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            should_retry: None,
            outbox_messages: 1024,
            outbox_bytes: 4 << 20,
            overflow: Overflow::Reject,
            heartbeat: None,
            high_water_mark: crate::DEFAULT_HIGH_WATER_MARK,
            protocols: Vec::new(),
            secure_only: false,
            max_message_bytes: None,
            jitter_seed: None,
            inbox_messages: DEFAULT_INBOX_MESSAGES,
            #[cfg(feature = "resume")]
            resume: None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Options");
        d.field("backoff", &self.backoff)
            .field("max_retries", &self.max_retries)
            .field("stable_after", &self.stable_after)
            .field("connect_timeout", &self.connect_timeout)
            .field(
                "should_retry",
                &self.should_retry.as_ref().map(|_| "custom"),
            )
            .field("outbox_messages", &self.outbox_messages)
            .field("outbox_bytes", &self.outbox_bytes)
            .field("overflow", &self.overflow)
            .field("heartbeat", &self.heartbeat)
            .field("high_water_mark", &self.high_water_mark)
            .field("protocols", &Redacted(&self.protocols))
            .field("secure_only", &self.secure_only)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("jitter_seed", &self.jitter_seed)
            .field("inbox_messages", &self.inbox_messages);
        #[cfg(feature = "resume")]
        d.field("resume", &self.resume);
        d.finish()
    }
}

impl Options {
    /// Sets the backoff.
    ///
    /// ```
    /// let o = resocket::Options::default().backoff(resocket::Backoff { jitter: resocket::Jitter::None, ..Default::default() });
    /// assert_eq!(o.backoff.jitter, resocket::Jitter::None);
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Gives up after `n` consecutive failed attempts.
    ///
    /// ```
    /// assert_eq!(resocket::Options::default().max_retries(3).max_retries, Some(3));
    /// ```
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }

    /// Sets the stable time after which the attempt counter resets.
    ///
    /// ```
    /// let o = resocket::Options::default().stable_after(std::time::Duration::from_secs(1));
    /// assert_eq!(o.stable_after.as_secs(), 1);
    /// ```
    pub fn stable_after(mut self, d: Duration) -> Self {
        self.stable_after = d;
        self
    }

    /// Sets the connect timeout (at least 4 ms, the browser's timer floor: a shorter one counts
    /// as 4 ms).
    ///
    /// ```
    /// let o = resocket::Options::default().connect_timeout(std::time::Duration::from_secs(2));
    /// assert_eq!(o.connect_timeout.as_secs(), 2);
    /// ```
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Overrides which server closes are retried.
    ///
    /// ```
    /// // Retry everything but 4003 (say, "banned").
    /// let o = resocket::Options::default().should_retry(|ev| ev.code != 4003);
    /// assert!(o.should_retry.is_some());
    /// ```
    pub fn should_retry(mut self, f: impl Fn(&CloseEvent) -> bool + 'static) -> Self {
        self.should_retry = Some(Rc::new(f));
        self
    }

    /// Sets the outbox capacity and overflow policy.
    ///
    /// ```
    /// let o = resocket::Options::default().outbox(10, 1000, resocket::Overflow::DropNewest);
    /// assert_eq!(o.outbox_messages, 10);
    /// ```
    pub fn outbox(mut self, messages: usize, bytes: usize, overflow: Overflow) -> Self {
        self.outbox_messages = messages;
        self.outbox_bytes = bytes;
        self.overflow = overflow;
        self
    }

    /// Sets how many received messages the `Stream` may hold unread.
    ///
    /// ```
    /// assert_eq!(resocket::Options::default().inbox(100).inbox_messages, 100);
    /// ```
    pub fn inbox(mut self, messages: usize) -> Self {
        self.inbox_messages = messages;
        self
    }

    /// Turns the heartbeat on.
    ///
    /// ```
    /// use std::time::Duration;
    /// let o = resocket::Options::default()
    ///     .heartbeat(resocket::Heartbeat::new("ping", Duration::from_secs(10), Duration::from_secs(5)));
    /// assert!(o.heartbeat.is_some());
    /// ```
    pub fn heartbeat(mut self, heartbeat: Heartbeat) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    /// Sets the backpressure high-water mark.
    ///
    /// ```
    /// assert_eq!(resocket::Options::default().high_water_mark(10).high_water_mark, 10);
    /// ```
    pub fn high_water_mark(mut self, bytes: u32) -> Self {
        self.high_water_mark = bytes;
        self
    }

    /// Sets the subprotocols offered.
    ///
    /// ```
    /// assert_eq!(resocket::Options::default().protocols(["v1"]).protocols, vec!["v1".to_string()]);
    /// ```
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Refuses `ws://` except to localhost.
    ///
    /// ```
    /// assert!(resocket::Options::default().secure_only(true).secure_only);
    /// ```
    pub fn secure_only(mut self, on: bool) -> Self {
        self.secure_only = on;
        self
    }

    /// Limits the size of inbound messages handed on.
    ///
    /// ```
    /// assert_eq!(resocket::Options::default().max_message_bytes(10).max_message_bytes, Some(10));
    /// ```
    pub fn max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = Some(bytes);
        self
    }

    /// Turns the resume protocol on (see [`Resume`] and `docs/PROTOCOL.md`): the socket offers
    /// the `resocket.resume.v1` subprotocol first, and against a server that selects it
    /// delivers every message exactly once and in order in both directions across reconnects,
    /// or reports what it cannot (`Gap`, `Reset` events).
    ///
    /// ```
    /// let o = resocket::Options::default().resume(resocket::Resume::default());
    /// assert!(o.resume.is_some());
    /// ```
    #[cfg(feature = "resume")]
    pub fn resume(mut self, resume: Resume) -> Self {
        self.resume = Some(resume);
        self
    }

    /// Seeds the jitter RNG (reproducible delays, for tests).
    ///
    /// ```
    /// assert_eq!(resocket::Options::default().jitter_seed(1).jitter_seed, Some(1));
    /// ```
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter_seed = Some(seed);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn debug_output_shows_no_subprotocol_or_ping_payload() {
        // Issue 18: subprotocols may carry tokens and a ping is a payload.
        let options = Options::default()
            .protocols(["bearer.SECRET-1"])
            .heartbeat(Heartbeat::new(
                "ping SECRET-2",
                Duration::from_secs(1),
                Duration::from_secs(1),
            ));
        let shown = format!("{options:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<1 subprotocols>"), "{shown}");
        assert!(shown.contains("<text message, 13 bytes>"), "{shown}");
    }
}
