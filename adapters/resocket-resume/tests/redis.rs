//! The Redis store against a real `redis-server` (started here on a free port, stopped on
//! drop): two adapter instances (two "nodes", each with its own connection and no shared
//! memory) over one Redis, and a client alternating between them.

mod common;

use std::time::Duration;

use common::*;
use resocket_resume::{
    Config, Error, Limits, Message, Origins, Overflow, RedisStore, Resume, SessionStore,
};

async fn node(redis: &Redis, prefix: &str) -> Resume {
    let store = RedisStore::connect(&redis.url())
        .await
        .expect("redis")
        .with_prefix(prefix);
    Resume::new(
        store,
        Config {
            origins: Origins::new(["http://app.test"]),
            ..Config::default()
        },
    )
}

#[tokio::test]
async fn a_client_alternating_between_two_nodes_loses_and_duplicates_nothing() {
    let redis = Redis::start().await;
    let (a, log_a) = serve(node(&redis, "t1").await, None).await;
    let (b, log_b) = serve(node(&redis, "t1").await, None).await;
    let mut c = Client::new(Some("http://app.test"));
    let nodes = [a, b];
    let mut at = 0;
    c.connect(nodes[at]).await;
    let total = 200u64;
    for i in 0..total {
        c.send(msg(i)).await;
        if i % 9 == 8 {
            c.pump(Duration::from_millis(3)).await;
            c.drop_link();
            at = 1 - at;
            c.connect(nodes[at]).await;
        }
    }
    let expected: Vec<Message> = (0..total).map(msg).collect();
    let deadline = tokio::time::Instant::now() + STEP;
    let done = |c: &Client| {
        log_a.received().len() + log_b.received().len() >= expected.len()
            && c.received.len() >= Log::sent_in_order(&[&log_a, &log_b]).len()
    };
    while !done(&c) && tokio::time::Instant::now() < deadline {
        c.pump(Duration::from_millis(50)).await;
        if c.ws.is_none() {
            at = 1 - at;
            c.connect(nodes[at]).await;
        }
    }
    assert_eq!((c.resets, c.gaps.len()), (0, 0));
    assert!(c.resumes >= 20, "{} resumes", c.resumes);
    // Each node saw part of the stream; together, every message exactly once, in order.
    let (la, lb) = (log_a.received(), log_b.received());
    assert!(!la.is_empty() && !lb.is_empty());
    let mut merged: Vec<Message> = la.iter().chain(lb.iter()).cloned().collect();
    assert_eq!(
        merged.len(),
        expected.len(),
        "server side: nothing lost, nothing twice"
    );
    merged.sort_by_key(|m| expected.iter().position(|e| e == m));
    assert_eq!(merged, expected);
    // The client got every message the nodes put into the session, once, in order (an echo
    // whose handler lost the session before sending it was refused with Superseded, never
    // numbered).
    assert_eq!(
        c.received,
        Log::sent_in_order(&[&log_a, &log_b]),
        "client side"
    );
}

#[tokio::test]
async fn store_semantics_match_the_memory_store() {
    let redis = Redis::start().await;
    let store = RedisStore::connect(&redis.url())
        .await
        .unwrap()
        .with_prefix("t2");
    let l = Limits {
        max_buffered_messages: 3,
        max_buffered_bytes: 10,
        max_sessions: 2,
        ..Limits::default()
    };
    let o = store.open(None, "o", 0, &l).await.unwrap();
    assert!(!o.resumed);
    for (i, m) in ["aaaa", "bbbb", "cc", "dddd"].into_iter().enumerate() {
        assert_eq!(
            store
                .push(&o.sid, o.epoch, &Message::from(m), &l)
                .await
                .unwrap(),
            i as u64 + 1
        );
    }
    store.received(&o.sid, o.epoch, 5).await.unwrap();
    // Drop-oldest kept seqs 2..=4 (3 messages, 10 bytes).
    let r = store.open(Some(&o.sid), "o", 0, &l).await.unwrap();
    assert_eq!(
        (r.resumed, r.epoch, r.recv, r.sent, r.replay_from),
        (true, 2, 5, 4, 2)
    );
    assert_eq!(
        r.replay,
        vec![
            Message::from("bbbb"),
            Message::from("cc"),
            Message::from("dddd")
        ]
    );
    assert_eq!(
        store.push(&o.sid, o.epoch, &Message::from("x"), &l).await,
        Err(Error::Superseded)
    );
    store.ack(&r.sid, r.epoch, 3).await.unwrap();
    assert!(matches!(
        store.ack(&r.sid, r.epoch, 9).await,
        Err(Error::Protocol(_))
    ));
    let r2 = store.open(Some(&r.sid), "o", 3, &l).await.unwrap();
    assert_eq!((r2.replay_from, r2.replay.len()), (4, 1));
    assert!(matches!(
        store.open(Some(&r.sid), "o", 7, &l).await,
        Err(Error::Protocol(_))
    ));
    // Binary survives byte for byte.
    let bin = Message::Binary(vec![0, 255, 116, 98]);
    store.push(&r2.sid, r2.epoch, &bin, &l).await.unwrap();
    let r3 = store.open(Some(&r2.sid), "o", 4, &l).await.unwrap();
    assert_eq!(r3.replay, vec![bin]);
    // Another origin: a new session, and the limit of 2 sessions holds.
    assert!(
        !store
            .open(Some(&r3.sid), "evil", 0, &l)
            .await
            .unwrap()
            .resumed
    );
    assert_eq!(
        store.open(None, "o", 0, &l).await.unwrap_err(),
        Error::TooManySessions { limit: 2 }
    );
    // Reject policy.
    let lr = Limits {
        overflow: Overflow::Reject,
        max_buffered_messages: 1,
        max_sessions: 10,
        ..Limits::default()
    };
    let s = store.open(None, "o", 0, &lr).await.unwrap();
    store
        .push(&s.sid, s.epoch, &Message::from("1"), &lr)
        .await
        .unwrap();
    assert!(matches!(
        store.push(&s.sid, s.epoch, &Message::from("2"), &lr).await,
        Err(Error::BufferFull { messages: 1, .. })
    ));
    // Expiry is Redis's own; remove ends it at once.
    store
        .touch(&s.sid, s.epoch, Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(store.ack(&s.sid, s.epoch, 0).await, Err(Error::SessionGone));
    store.remove(&r3.sid, r3.epoch).await.unwrap();
    assert!(
        !store
            .open(Some(&r3.sid), "o", 0, &lr)
            .await
            .unwrap()
            .resumed
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_without_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/");
    let e = RedisStore::connect(&url).await.unwrap_err().to_string();
    assert!(!e.contains("hunter2") && e.contains("store"), "{e}");
}
