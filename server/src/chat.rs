//! `/ws/chat`: rooms with broadcast, join and leave notices.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, Utf8Bytes};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;

use crate::conn::{Conn, End, Out};
use crate::params::shorten;
use crate::state::{epoch_ms, lock, State};
use crate::ws::{error_msg, pong};

/// How many messages a room buffers for a slow member before it skips.
const ROOM_BUFFER: usize = 4096;

struct Room {
    tx: broadcast::Sender<Utf8Bytes>,
    online: usize,
}

/// All chat rooms plus the global message id counter.
#[derive(Default)]
pub struct Rooms {
    rooms: Mutex<HashMap<String, Room>>,
    seq: AtomicU64,
}

#[derive(Serialize)]
struct ChatOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    from: &'a str,
    text: &'a str,
    ts: u64,
    id: u64,
}

#[derive(Serialize)]
struct Presence<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    ts: u64,
    online: usize,
}

fn presence(kind: &'static str, name: &str, online: usize) -> Utf8Bytes {
    let p = Presence {
        kind,
        name,
        ts: epoch_ms(),
        online,
    };
    serde_json::to_string(&p).unwrap_or_default().into()
}

/// A member of a room; dropping it leaves the room (with a notice).
struct Member {
    state: Arc<State>,
    room: String,
    name: String,
    rx: broadcast::Receiver<Utf8Bytes>,
}

impl Member {
    fn join(state: Arc<State>, room: String, name: String) -> Member {
        let rx = {
            let mut rooms = lock(&state.rooms.rooms);
            let r = rooms.entry(room.clone()).or_insert_with(|| Room {
                tx: broadcast::channel(ROOM_BUFFER).0,
                online: 0,
            });
            r.online += 1;
            let rx = r.tx.subscribe();
            let _ = r.tx.send(presence("join", &name, r.online));
            rx
        };
        Member {
            state,
            room,
            name,
            rx,
        }
    }

    fn say(&self, text: &str) {
        let mut rooms = lock(&self.state.rooms.rooms);
        if let Some(r) = rooms.get_mut(&self.room) {
            let id = self.state.rooms.seq.fetch_add(1, Ordering::Relaxed) + 1;
            let out = ChatOut {
                kind: "chat",
                from: &self.name,
                text,
                ts: epoch_ms(),
                id,
            };
            let _ =
                r.tx.send(serde_json::to_string(&out).unwrap_or_default().into());
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let mut rooms = lock(&self.state.rooms.rooms);
        if let Some(r) = rooms.get_mut(&self.room) {
            r.online = r.online.saturating_sub(1);
            if r.online == 0 {
                rooms.remove(&self.room);
            } else {
                let _ = r.tx.send(presence("leave", &self.name, r.online));
            }
        }
    }
}

/// Runs one chat connection.
pub async fn run(mut conn: Conn, state: Arc<State>, room: String, name: String) -> Result<(), End> {
    let mut member = Member::join(state, room, name);
    loop {
        tokio::select! {
            biased;
            c = conn.out.next_ctl() => conn.out.apply(c).await?,
            m = conn.inbound.recv() => match m {
                Some(m) => inbound(&mut conn.out, &member, m).await?,
                None => return Ok(()),
            },
            r = member.rx.recv() => match r {
                Ok(text) => {
                    conn.out.send(Message::Text(text)).await?;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
        }
    }
}

async fn inbound(out: &mut Out, member: &Member, msg: Message) -> Result<(), End> {
    let text = match msg {
        Message::Text(t) => t,
        _ => {
            out.send(error_msg("binary messages are not supported; send text"))
                .await?;
            return Ok(());
        }
    };
    let obj = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(obj)) => obj,
        // Plain (non-object) text is a chat line as it is.
        _ => {
            member.say(&text);
            return Ok(());
        }
    };
    match obj.get("type").and_then(Value::as_str) {
        Some("chat") => match obj.get("text").and_then(Value::as_str) {
            Some(t) => member.say(t),
            None => {
                out.send(error_msg("chat message needs a string field \"text\""))
                    .await?;
            }
        },
        Some("ping") => {
            out.send(pong(obj)).await?;
        }
        Some(other) => {
            let e = format!("unknown message type {}", shorten(other));
            out.send(error_msg(&e)).await?;
        }
        None => {
            out.send(error_msg("missing string field \"type\"")).await?;
        }
    }
    Ok(())
}
