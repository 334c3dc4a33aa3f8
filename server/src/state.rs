//! Shared server state: per-client statistics, the registry of live
//! WebSocket connections (the targets of the fault-injection API) and the
//! refuse window.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot, watch};

use crate::chat::Rooms;

/// Text messages up to this many bytes are stored in full in the stats.
pub const FULL_TEXT_LIMIT: usize = 64 * 1024;
/// Longer text messages keep only this many characters.
const PREFIX_CHARS: usize = 64;

/// Milliseconds since the Unix epoch (wall clock), for `ts` fields.
pub fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Locks a mutex, ignoring poisoning (a panicking connection task must not
/// take the whole server down with it).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A command sent from the control API to one connection task.
#[derive(Debug)]
pub enum Ctl {
    /// Drop the TCP stream without a close frame.
    Drop,
    /// Send a close frame with this code and reason.
    Close(u16, String),
    /// Send nothing until the instant (`None` ends a silence early).
    Silence(Option<Instant>),
    /// Read the client's messages at most this many payload bytes per
    /// second (0: no limit).
    Throttle(u64),
    /// Send a malformed text and/or binary payload.
    Malformed {
        /// Send the truncated JSON text.
        json: bool,
        /// Send the binary blob.
        binary: bool,
    },
    /// The server is shutting down: close with 1001.
    Shutdown,
}

/// A control command plus the acknowledgement the connection sends once it
/// has carried the command out.
#[derive(Debug)]
pub struct CtlMsg {
    /// The command.
    pub ctl: Ctl,
    /// Fired when the command has taken effect.
    pub ack: Option<oneshot::Sender<()>>,
}

impl CtlMsg {
    /// Acknowledges the command (a closed receiver is fine).
    pub fn ack(&mut self) {
        if let Some(ack) = self.ack.take() {
            let _ = ack.send(());
        }
    }
}

struct ConnEntry {
    client: Arc<str>,
    tx: mpsc::UnboundedSender<CtlMsg>,
}

/// One message the client sent, as kept in the stats.
#[derive(Debug, Clone)]
pub enum MsgRecord {
    /// A text message of at most [`FULL_TEXT_LIMIT`] bytes.
    Text(axum::extract::ws::Utf8Bytes),
    /// A longer text message.
    LongText {
        /// Length in bytes.
        len: usize,
        /// The first 64 characters.
        prefix: String,
    },
    /// A binary message.
    Binary {
        /// Length in bytes.
        len: usize,
        /// The first (up to) 8 bytes.
        head: Vec<u8>,
        /// FNV-1a 64 of all bytes.
        fnv: u64,
    },
}

impl MsgRecord {
    /// Builds the record of a text message.
    pub fn text(t: &axum::extract::ws::Utf8Bytes) -> Self {
        if t.len() <= FULL_TEXT_LIMIT {
            MsgRecord::Text(t.clone())
        } else {
            MsgRecord::LongText {
                len: t.len(),
                prefix: t.as_str().chars().take(PREFIX_CHARS).collect(),
            }
        }
    }

    /// Builds the record of a binary message.
    pub fn binary(b: &[u8]) -> Self {
        MsgRecord::Binary {
            len: b.len(),
            head: b[..b.len().min(8)].to_vec(),
            fnv: fnv1a64(b),
        }
    }

    fn to_json(&self) -> Value {
        match self {
            MsgRecord::Text(t) => json!({ "t": t.as_str() }),
            MsgRecord::LongText { len, prefix } => json!({ "len": len, "prefix": prefix }),
            MsgRecord::Binary { len, head, fnv } => {
                json!({ "len": len, "head": hex(head), "fnv": format!("{fnv:016x}") })
            }
        }
    }
}

/// FNV-1a, 64 bit.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Lower-case hex of the bytes.
pub fn hex(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(data.len() * 2);
    for &b in data {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

#[derive(Debug, Default)]
struct CloseRecord {
    code: Option<u16>,
    reason: String,
    at_ms: u64,
}

#[derive(Debug, Default)]
struct ClientStats {
    attempts: u64,
    refused: u64,
    total_connections: u64,
    current_connections: u64,
    max_concurrent: u64,
    bytes_in: u64,
    messages: Vec<MsgRecord>,
    tokens: Vec<Option<String>>,
    connect_times_ms: Vec<u64>,
    closes: Vec<CloseRecord>,
    /// What the application side of `/ws/resume` sent, with each message's session seq.
    sent: Vec<(u64, MsgRecord)>,
    resume: ResumeCounts,
}

/// What `/ws/resume` did for one client, across its connections.
#[derive(Debug, Default)]
struct ResumeCounts {
    /// Handshakes that started a new session.
    new_sessions: u64,
    /// Handshakes that resumed an existing session.
    resumed: u64,
    /// Buffered messages re-sent to the client at those handshakes.
    replayed: u64,
    /// Sends the session refused (superseded by another connection, gone, buffer full).
    refused_sends: u64,
}

impl ClientStats {
    fn counters(&self, client: &str) -> Map<String, Value> {
        let closes: Vec<Value> = self
            .closes
            .iter()
            .map(|c| json!({ "code": c.code, "reason": c.reason, "at_ms": c.at_ms }))
            .collect();
        let mut m = Map::new();
        m.insert("client".into(), client.into());
        m.insert("attempts".into(), self.attempts.into());
        m.insert("refused".into(), self.refused.into());
        m.insert("total_connections".into(), self.total_connections.into());
        m.insert(
            "current_connections".into(),
            self.current_connections.into(),
        );
        m.insert("max_concurrent".into(), self.max_concurrent.into());
        m.insert("message_count".into(), (self.messages.len() as u64).into());
        m.insert("bytes_in".into(), self.bytes_in.into());
        m.insert("tokens".into(), json!(self.tokens));
        m.insert("connect_times_ms".into(), json!(self.connect_times_ms));
        m.insert("closes".into(), Value::Array(closes));
        m.insert("sent_count".into(), (self.sent.len() as u64).into());
        let r = &self.resume;
        m.insert(
            "resume".into(),
            json!({
                "new_sessions": r.new_sessions,
                "resumed": r.resumed,
                "replayed": r.replayed,
                "refused_sends": r.refused_sends,
            }),
        );
        m
    }
}

#[derive(Default)]
struct StatsInner {
    /// Bumped by every reset; connections accepted before a reset do not
    /// add messages or closes to the fresh stats.
    generation: u64,
    clients: HashMap<String, ClientStats>,
    refuse_all_until: Option<Instant>,
    refuse_client_until: HashMap<String, Instant>,
}

/// Everything the handlers share.
pub struct State {
    start: Instant,
    stats: Mutex<StatsInner>,
    conns: Mutex<HashMap<u64, ConnEntry>>,
    next_conn: AtomicU64,
    /// Chat rooms.
    pub rooms: Rooms,
    /// Whether to log connections and control actions to stderr.
    pub verbose: bool,
    /// Fires when the last connection leaves the registry.
    conns_empty: watch::Sender<usize>,
    /// The origins that may call `/control/*` and open `/ws/resume` (the server's own, plus
    /// `--allow-origin`).
    pub origins: resocket_resume::Origins,
    /// The resume layer of `/ws/resume` (sessions in memory, or in Redis when configured).
    pub resume: resocket_resume::Resume,
}

/// The result of an upgrade attempt check.
pub enum Admission {
    /// Go ahead and upgrade.
    Accept,
    /// Refused by the fault-injection window.
    Refuse,
}

impl State {
    /// A fresh state; the server clock starts now. `/ws/resume` keeps its sessions in `redis`
    /// when given, else in memory.
    pub fn new(
        verbose: bool,
        origins: resocket_resume::Origins,
        redis: Option<resocket_resume::RedisStore>,
    ) -> Self {
        let config = resocket_resume::Config {
            origins: origins.clone(),
            ..resocket_resume::Config::default()
        };
        let resume = match redis {
            Some(store) => resocket_resume::Resume::new(store, config),
            None => resocket_resume::Resume::memory(config),
        };
        State {
            origins,
            resume,
            start: Instant::now(),
            stats: Mutex::default(),
            conns: Mutex::default(),
            next_conn: AtomicU64::new(1),
            rooms: Rooms::default(),
            verbose,
            conns_empty: watch::channel(0).0,
        }
    }

    /// The instant the server started (the ticker clock origin).
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Milliseconds since the server started.
    pub fn uptime_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Records an upgrade attempt and decides whether it is refused.
    pub fn admit(&self, client: &str) -> Admission {
        let now = Instant::now();
        let at = self.uptime_ms();
        let mut s = lock(&self.stats);
        let refused = s.refuse_all_until.is_some_and(|t| t > now)
            || s.refuse_client_until.get(client).is_some_and(|&t| t > now);
        let c = s.clients.entry(client.to_owned()).or_default();
        c.attempts += 1;
        c.connect_times_ms.push(at);
        if refused {
            c.refused += 1;
            Admission::Refuse
        } else {
            Admission::Accept
        }
    }

    /// Registers an accepted connection: counts it, records its token and
    /// returns the guard that unregisters it when dropped.
    pub fn accept(
        self: &Arc<Self>,
        client: &str,
        token: Option<String>,
        endpoint: &'static str,
    ) -> (ConnGuard, mpsc::UnboundedReceiver<CtlMsg>) {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let client: Arc<str> = Arc::from(client);
        let (tx, rx) = mpsc::unbounded_channel();
        let generation = {
            let mut s = lock(&self.stats);
            let generation = s.generation;
            let c = s.clients.entry(client.to_string()).or_default();
            c.total_connections += 1;
            c.current_connections += 1;
            c.max_concurrent = c.max_concurrent.max(c.current_connections);
            c.tokens.push(token);
            generation
        };
        {
            let mut conns = lock(&self.conns);
            conns.insert(
                id,
                ConnEntry {
                    client: client.clone(),
                    tx,
                },
            );
            self.conns_empty.send_replace(conns.len());
        }
        if self.verbose {
            eprintln!("[resocket-server] open #{id} {endpoint} client={client}");
        }
        let guard = ConnGuard {
            state: self.clone(),
            id,
            client,
            generation,
            close: None,
        };
        (guard, rx)
    }

    /// Records one inbound message.
    pub fn record(&self, client: &str, generation: u64, rec: MsgRecord, len: usize) {
        let mut s = lock(&self.stats);
        if s.generation != generation {
            return;
        }
        let c = s.clients.entry(client.to_owned()).or_default();
        c.bytes_in += len as u64;
        c.messages.push(rec);
    }

    /// Records one message the application side of `/ws/resume` sent (`seq`: its number in
    /// the session; `None`: the session refused it).
    pub fn record_sent(&self, client: &str, generation: u64, seq: Option<u64>, rec: MsgRecord) {
        let mut s = lock(&self.stats);
        if s.generation != generation {
            return;
        }
        let c = s.clients.entry(client.to_owned()).or_default();
        match seq {
            // In the session's order: a handler still taking what its cut connection had
            // taken may number a message just before a newer connection takes the session over
            // and record it just after that one's first sends. (Only among close neighbours: a
            // new session numbers from 1 again, after the old one's.)
            Some(seq) => {
                let later = c
                    .sent
                    .iter()
                    .rev()
                    .take_while(|(s, _)| *s > seq && *s <= seq + 64);
                let at = c.sent.len() - later.count();
                c.sent.insert(at, (seq, rec));
            }
            None => c.resume.refused_sends += 1,
        }
    }

    /// Records a `/ws/resume` handshake: whether it resumed a session, and how many buffered
    /// messages it re-sent.
    pub fn record_resume(&self, client: &str, generation: u64, resumed: bool, replayed: u64) {
        let mut s = lock(&self.stats);
        if s.generation != generation {
            return;
        }
        let c = &mut s.clients.entry(client.to_owned()).or_default().resume;
        if resumed {
            c.resumed += 1;
        } else {
            c.new_sessions += 1;
        }
        c.replayed += replayed;
    }

    /// Sends a command to every matching live connection and waits (up to
    /// `wait`) until each has carried it out. Returns how many were sent.
    pub async fn broadcast_ctl(
        &self,
        client: Option<&str>,
        make: impl Fn() -> Ctl,
        wait: Duration,
    ) -> usize {
        let mut acks = Vec::new();
        {
            let conns = lock(&self.conns);
            for entry in conns.values() {
                if client.is_some_and(|c| c != &*entry.client) {
                    continue;
                }
                let (tx, rx) = oneshot::channel();
                let msg = CtlMsg {
                    ctl: make(),
                    ack: Some(tx),
                };
                if entry.tx.send(msg).is_ok() {
                    acks.push(rx);
                }
            }
        }
        let n = acks.len();
        let _ = tokio::time::timeout(wait, async {
            for rx in acks {
                let _ = rx.await;
            }
        })
        .await;
        n
    }

    /// Waits (up to `wait`) until no connection is registered.
    pub async fn wait_no_connections(&self, wait: Duration) {
        let mut rx = self.conns_empty.subscribe();
        let _ = tokio::time::timeout(wait, rx.wait_for(|&n| n == 0)).await;
    }

    /// Starts (or with `ms == 0` cancels) a refuse window.
    pub fn refuse(&self, client: Option<&str>, ms: u64) {
        let until = (ms > 0).then(|| Instant::now() + Duration::from_millis(ms));
        let mut s = lock(&self.stats);
        match (client, until) {
            (None, Some(t)) => s.refuse_all_until = Some(t),
            (None, None) => {
                s.refuse_all_until = None;
                s.refuse_client_until.clear();
            }
            (Some(c), Some(t)) => {
                s.refuse_client_until.insert(c.to_owned(), t);
            }
            (Some(c), None) => {
                s.refuse_client_until.remove(c);
            }
        }
    }

    /// Clears all stats and the refuse window. Live connections stay
    /// counted in `current_connections` (and so in `max_concurrent`).
    pub fn reset_stats(&self) {
        let mut s = lock(&self.stats);
        s.generation += 1;
        s.refuse_all_until = None;
        s.refuse_client_until.clear();
        s.clients.retain(|_, c| c.current_connections > 0);
        for c in s.clients.values_mut() {
            *c = ClientStats {
                current_connections: c.current_connections,
                max_concurrent: c.current_connections,
                ..ClientStats::default()
            };
        }
    }

    /// The full stats of one client, at most `limit` messages from index
    /// `since` on, and (unless `limit` is 0) every message `/ws/resume`
    /// sent it.
    pub fn client_stats(&self, client: &str, since: usize, limit: usize) -> Value {
        let s = lock(&self.stats);
        let empty = ClientStats::default();
        let c = s.clients.get(client).unwrap_or(&empty);
        let mut m = c.counters(client);
        let messages: Vec<Value> = c
            .messages
            .get(since..)
            .unwrap_or(&[])
            .iter()
            .take(limit)
            .map(MsgRecord::to_json)
            .collect();
        m.insert("messages".into(), Value::Array(messages));
        let sent: Vec<Value> = c
            .sent
            .iter()
            .take(if limit == 0 { 0 } else { usize::MAX })
            .map(|(seq, rec)| {
                let mut v = rec.to_json();
                if let Value::Object(o) = &mut v {
                    o.insert("seq".into(), (*seq).into());
                }
                v
            })
            .collect();
        m.insert("sent".into(), Value::Array(sent));
        Value::Object(m)
    }

    /// The counters of every known client (no messages).
    pub fn all_stats(&self) -> Value {
        let s = lock(&self.stats);
        let mut ids: Vec<&String> = s.clients.keys().collect();
        ids.sort();
        let mut m = Map::new();
        for id in ids {
            m.insert(id.clone(), Value::Object(s.clients[id].counters(id)));
        }
        Value::Object(m)
    }

    fn end_connection(&self, guard: &ConnGuard) {
        {
            let mut s = lock(&self.stats);
            let same_gen = s.generation == guard.generation;
            let at_ms = self.uptime_ms();
            if let Some(c) = s.clients.get_mut(&*guard.client) {
                c.current_connections = c.current_connections.saturating_sub(1);
                if same_gen {
                    let (code, reason) = match &guard.close {
                        Some((code, reason)) => (Some(*code), reason.clone()),
                        None => (None, String::new()),
                    };
                    c.closes.push(CloseRecord {
                        code,
                        reason,
                        at_ms,
                    });
                }
            }
        }
        let mut conns = lock(&self.conns);
        conns.remove(&guard.id);
        self.conns_empty.send_replace(conns.len());
        if self.verbose {
            let code = guard.close.as_ref().map(|c| c.0);
            eprintln!(
                "[resocket-server] end #{} client={} close={code:?}",
                guard.id, guard.client
            );
        }
    }
}

/// Keeps one accepted connection counted; dropping it ends the connection
/// in the stats (exactly once, even if the upgrade failed or a task
/// panicked).
pub struct ConnGuard {
    state: Arc<State>,
    id: u64,
    client: Arc<str>,
    generation: u64,
    /// The close frame the client sent (`None`: the stream ended without one).
    pub close: Option<(u16, String)>,
}

impl ConnGuard {
    /// The client id.
    pub fn client(&self) -> &Arc<str> {
        &self.client
    }

    /// The stats generation the connection belongs to.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<State> {
        &self.state
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.state.end_connection(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_and_hex() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }

    #[test]
    fn long_text_keeps_prefix_chars() {
        let s = "é".repeat(FULL_TEXT_LIMIT);
        let rec = MsgRecord::text(&s.clone().into());
        match rec {
            MsgRecord::LongText { len, prefix } => {
                assert_eq!(len, s.len());
                assert_eq!(prefix.chars().count(), 64);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
