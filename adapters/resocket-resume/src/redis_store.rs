//! Sessions in Redis, so a client can resume on any node that shares the Redis.
//!
//! Per session: a hash `PREFIX:s:SID` (origin, epoch, recv, sent, first, bytes) and a list
//! `PREFIX:b:SID` of the buffered server messages (seqs `first ..= sent`, each a kind byte `t`
//! or `b` and the payload); a sorted set `PREFIX:all` (sid -> expiry) bounds the session count.
//! Every operation is one Lua script, so it is atomic and checks the caller's epoch; expiry is
//! Redis's own (`PEXPIRE`), refreshed on every write and while a connection is attached.
//! The Node adapter's `RedisStore` (adapters/resocket-resume-ws/redis-store.mjs) uses the same
//! layout and scripts, so Rust and Node nodes share one Redis: a change to one is a change to
//! both (tests/e2e/resume-cluster.test.mjs runs a mixed pair).

use std::fmt;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Script, Value};

use crate::error::{Error, Result};
use crate::message::Message;
use crate::session::{BoxFuture, Limits, Opened, SessionId, SessionStore};

const PRELUDE: &str = r#"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function check(epoch)
  if redis.call('EXISTS', KEYS[1]) == 0 then return -3 end
  if redis.call('HGET', KEYS[1], 'epoch') ~= epoch then return -1 end
  return 1
end
local function trim(upto)
  local first = tonumber(redis.call('HGET', KEYS[1], 'first'))
  local len = redis.call('LLEN', KEYS[2])
  local n = upto - first + 1
  if n <= 0 then return end
  if n > len then n = len end
  if n > 0 then
    local bytes = 0
    for _, v in ipairs(redis.call('LRANGE', KEYS[2], 0, n - 1)) do bytes = bytes + #v - 1 end
    redis.call('LTRIM', KEYS[2], n, -1)
    redis.call('HINCRBY', KEYS[1], 'bytes', -bytes)
  end
  redis.call('HSET', KEYS[1], 'first', first + n)
end
local function keep(ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('ZADD', KEYS[3], now_ms() + ttl, ARGV[1])
end
"#;

const OPEN: &str = r#"
local ttl = tonumber(ARGV[5])
if ARGV[2] == 'resume' then
  if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HGET', KEYS[1], 'origin') == ARGV[3] then
    local sent = tonumber(redis.call('HGET', KEYS[1], 'sent'))
    local recv = tonumber(ARGV[4])
    if recv > sent then return {-5, sent} end
    trim(recv)
    local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
    keep(ttl)
    local out = {1, epoch, tonumber(redis.call('HGET', KEYS[1], 'recv')), sent,
                 tonumber(redis.call('HGET', KEYS[1], 'first'))}
    for _, v in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do table.insert(out, v) end
    return out
  end
  return {0}
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now_ms())
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[6]) then return {-2} end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'origin', ARGV[3], 'epoch', 1, 'recv', 0, 'sent', 0, 'first', 1, 'bytes', 0)
keep(ttl)
return {1, 1, 0, 0, 1}
"#;

const PUSH: &str = r#"
local c = check(ARGV[2]); if c ~= 1 then return {c} end
local size = #ARGV[3] - 1
local maxm = tonumber(ARGV[4])
local maxb = tonumber(ARGV[5])
if size > maxb then return {-6} end
local len = redis.call('LLEN', KEYS[2])
local bytes = tonumber(redis.call('HGET', KEYS[1], 'bytes'))
if ARGV[6] == '1' and (len + 1 > maxm or bytes + size > maxb) then return {-4, len, bytes} end
while len > 0 and (len + 1 > maxm or bytes + size > maxb) do
  local v = redis.call('LPOP', KEYS[2])
  bytes = bytes - (#v - 1)
  len = len - 1
  redis.call('HINCRBY', KEYS[1], 'first', 1)
end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('HSET', KEYS[1], 'bytes', bytes + size)
local sent = redis.call('HINCRBY', KEYS[1], 'sent', 1)
keep(tonumber(ARGV[7]))
return {1, sent}
"#;

const ACK: &str = r#"
local c = check(ARGV[2]); if c ~= 1 then return {c} end
local sent = tonumber(redis.call('HGET', KEYS[1], 'sent'))
local seq = tonumber(ARGV[3])
if seq > sent then return {-5, sent} end
trim(seq)
return {1}
"#;

const RECEIVED: &str = r#"
local c = check(ARGV[2]); if c ~= 1 then return {c} end
local seq = tonumber(ARGV[3])
if seq > tonumber(redis.call('HGET', KEYS[1], 'recv')) then redis.call('HSET', KEYS[1], 'recv', seq) end
return {1}
"#;

const TOUCH: &str = r#"
local c = check(ARGV[2]); if c ~= 1 then return {c} end
keep(tonumber(ARGV[3]))
return {1}
"#;

const REMOVE: &str = r#"
local c = check(ARGV[2]); if c ~= 1 then return {c} end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return {1}
"#;

struct Scripts {
    open: Script,
    push: Script,
    ack: Script,
    received: Script,
    touch: Script,
    remove: Script,
}

impl Scripts {
    fn new() -> Self {
        let s = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Scripts {
            open: s(OPEN),
            push: s(PUSH),
            ack: s(ACK),
            received: s(RECEIVED),
            touch: s(TOUCH),
            remove: s(REMOVE),
        }
    }
}

/// Sessions in Redis: any node sharing the Redis (and the prefix) can resume any session,
/// a Node one on the `ws` adapter's `RedisStore` too. No TLS (`rediss://`).
///
/// ```no_run
/// # async fn demo() -> resocket_resume::Result<()> {
/// use resocket_resume::{Config, RedisStore, Resume};
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?;
/// let resume = Resume::new(store, Config::default());
/// # let _ = resume; Ok(()) }
/// ```
pub struct RedisStore {
    con: ConnectionManager,
    prefix: String,
    scripts: Scripts,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// The error's kind and what went wrong (refused, timed out, dropped, the server's detail);
/// never the URL.
fn store_err(e: redis::RedisError) -> Error {
    let detail = if e.is_connection_refusal() {
        "connection refused"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_connection_dropped() {
        "connection dropped"
    } else {
        e.detail().unwrap_or("")
    };
    Error::Store(format!("redis: {:?}: {detail}", e.kind()))
}

impl RedisStore {
    /// Connects (and reconnects as needed) to the Redis at `url` (`redis://host:port/db`). The
    /// error never repeats the URL (it may hold a password).
    pub async fn connect(url: &str) -> Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::Store(format!("invalid Redis URL: {:?}", e.kind())))?;
        let con = client.get_connection_manager().await.map_err(store_err)?;
        Ok(RedisStore {
            con,
            prefix: "resocket:resume".into(),
            scripts: Scripts::new(),
        })
    }

    /// Uses `prefix` for the keys (default `resocket:resume`), e.g. one per application.
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    fn keys(&self, sid: &SessionId) -> [String; 3] {
        let id = sid.expose();
        [
            format!("{}:s:{id}", self.prefix),
            format!("{}:b:{id}", self.prefix),
            format!("{}:all", self.prefix),
        ]
    }

    async fn run(&self, script: &Script, sid: &SessionId, args: &[&[u8]]) -> Result<Vec<Value>> {
        let [a, b, c] = self.keys(sid);
        let mut inv = script.key(a);
        inv.key(b).key(c).arg(sid.expose());
        for arg in args {
            inv.arg(*arg);
        }
        let mut con = self.con.clone();
        inv.invoke_async::<Vec<Value>>(&mut con)
            .await
            .map_err(store_err)
    }
}

fn int(v: Option<&Value>) -> Result<i64> {
    match v {
        Some(Value::Int(n)) => Ok(*n),
        _ => Err(Error::Store("redis: unexpected script reply".into())),
    }
}

fn uint(v: Option<&Value>) -> Result<u64> {
    u64::try_from(int(v)?).map_err(|_| Error::Store("redis: negative counter".into()))
}

/// Maps a script's status (the first element) to the adapter's errors.
fn status(reply: &[Value], limits: Option<&Limits>, what: &str) -> Result<()> {
    match int(reply.first())? {
        1 => Ok(()),
        -1 => Err(Error::Superseded),
        -3 => Err(Error::SessionGone),
        -2 => Err(Error::TooManySessions {
            limit: limits.map_or(0, |l| l.max_sessions),
        }),
        -4 => Err(Error::BufferFull {
            messages: uint(reply.get(1))?,
            bytes: uint(reply.get(2))?,
        }),
        -5 => Err(Error::Protocol(format!(
            "{what} is above the {} messages the server sent",
            uint(reply.get(1))?
        ))),
        -6 => Err(Error::TooLarge {
            size: 0,
            limit: limits.map_or(0, |l| {
                usize::try_from(l.max_buffered_bytes).unwrap_or(usize::MAX)
            }),
        }),
        n => Err(Error::Store(format!("redis: unexpected script status {n}"))),
    }
}

fn encode(m: &Message) -> Vec<u8> {
    let (kind, data) = match m {
        Message::Text(t) => (b't', t.as_bytes()),
        Message::Binary(b) => (b'b', b.as_slice()),
    };
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(kind);
    v.extend_from_slice(data);
    v
}

fn decode(v: &Value) -> Result<Message> {
    let corrupt = || Error::Store("redis: corrupt buffered message".into());
    let Value::BulkString(b) = v else {
        return Err(corrupt());
    };
    match b.split_first() {
        Some((b't', rest)) => String::from_utf8(rest.to_vec())
            .map(Message::Text)
            .map_err(|_| corrupt()),
        Some((b'b', rest)) => Ok(Message::Binary(rest.to_vec())),
        _ => Err(corrupt()),
    }
}

fn ms(d: Duration) -> String {
    d.as_millis().max(1).to_string()
}

impl SessionStore for RedisStore {
    fn open<'a>(
        &'a self,
        sid: Option<&'a SessionId>,
        origin: &'a str,
        client_recv: u64,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<Opened>> {
        Box::pin(async move {
            let ttl = ms(limits.ttl);
            let max = limits.max_sessions.to_string();
            let recv = client_recv.to_string();
            if let Some(sid) = sid {
                let args: [&[u8]; 5] = [
                    b"resume",
                    origin.as_bytes(),
                    recv.as_bytes(),
                    ttl.as_bytes(),
                    max.as_bytes(),
                ];
                let reply = self.run(&self.scripts.open, sid, &args).await?;
                if int(reply.first())? != 0 {
                    status(&reply, Some(limits), &format!("hello.recv {client_recv}"))?;
                    let replay = reply
                        .get(5..)
                        .unwrap_or(&[])
                        .iter()
                        .map(decode)
                        .collect::<Result<Vec<_>>>()?;
                    return Ok(Opened {
                        sid: sid.clone(),
                        epoch: uint(reply.get(1))?,
                        resumed: true,
                        recv: uint(reply.get(2))?,
                        sent: uint(reply.get(3))?,
                        replay_from: uint(reply.get(4))?,
                        replay,
                    });
                }
            }
            let sid = SessionId::random()?;
            let args: [&[u8]; 5] = [
                b"create",
                origin.as_bytes(),
                b"0",
                ttl.as_bytes(),
                max.as_bytes(),
            ];
            let reply = self.run(&self.scripts.open, &sid, &args).await?;
            status(&reply, Some(limits), "hello.recv")?;
            Ok(Opened {
                sid,
                epoch: 1,
                resumed: false,
                recv: 0,
                sent: 0,
                replay_from: 1,
                replay: Vec::new(),
            })
        })
    }

    fn push<'a>(
        &'a self,
        sid: &'a SessionId,
        epoch: u64,
        message: &'a Message,
        limits: &'a Limits,
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let epoch = epoch.to_string();
            let entry = encode(message);
            let maxm = limits.max_buffered_messages.to_string();
            let maxb = limits.max_buffered_bytes.to_string();
            let reject: &[u8] = if limits.overflow == crate::Overflow::Reject {
                b"1"
            } else {
                b"0"
            };
            let ttl = ms(limits.ttl);
            let args: [&[u8]; 6] = [
                epoch.as_bytes(),
                &entry,
                maxm.as_bytes(),
                maxb.as_bytes(),
                reject,
                ttl.as_bytes(),
            ];
            let reply = self.run(&self.scripts.push, sid, &args).await?;
            status(&reply, Some(limits), "push").map_err(|e| match e {
                Error::TooLarge { limit, .. } => Error::TooLarge {
                    size: message.len(),
                    limit,
                },
                e => e,
            })?;
            uint(reply.get(1))
        })
    }

    fn ack<'a>(&'a self, sid: &'a SessionId, epoch: u64, seq: u64) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (epoch, s) = (epoch.to_string(), seq.to_string());
            let reply = self
                .run(&self.scripts.ack, sid, &[epoch.as_bytes(), s.as_bytes()])
                .await?;
            status(&reply, None, &format!("ack {seq}"))
        })
    }

    fn received<'a>(
        &'a self,
        sid: &'a SessionId,
        epoch: u64,
        seq: u64,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (epoch, s) = (epoch.to_string(), seq.to_string());
            let reply = self
                .run(
                    &self.scripts.received,
                    sid,
                    &[epoch.as_bytes(), s.as_bytes()],
                )
                .await?;
            status(&reply, None, "received")
        })
    }

    fn touch<'a>(
        &'a self,
        sid: &'a SessionId,
        epoch: u64,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (epoch, t) = (epoch.to_string(), ms(ttl));
            let reply = self
                .run(&self.scripts.touch, sid, &[epoch.as_bytes(), t.as_bytes()])
                .await?;
            status(&reply, None, "touch")
        })
    }

    fn remove<'a>(&'a self, sid: &'a SessionId, epoch: u64) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let epoch = epoch.to_string();
            let reply = self
                .run(&self.scripts.remove, sid, &[epoch.as_bytes()])
                .await?;
            status(&reply, None, "remove")
        })
    }
}
