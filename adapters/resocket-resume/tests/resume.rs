//! The adapter over real tokio-tungstenite sockets: exactly-once both ways across dropped TCP
//! streams, the handshake's errors and close codes, the Origin allowlist, gaps.

mod common;

use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use resocket_resume::{Config, Control, Frame, Limits, Message, Origins, Resume};
use tokio_tungstenite::tungstenite::Message as WsMessage;

fn resume(edit: impl FnOnce(&mut Config)) -> Resume {
    let mut c = Config {
        origins: Origins::new(["http://app.test"]),
        ..Config::default()
    };
    edit(&mut c);
    Resume::memory(c)
}

/// Sends `total` messages with the TCP dropped every `every` sends (mid-stream: echoes and
/// sends in flight are lost with it), then checks both sides saw each message exactly once, in
/// order.
async fn faults_both_ways(total: u64, every: u64) {
    let (addr, log) = serve(resume(|_| {}), None).await;
    let mut c = Client::new(Some("http://app.test"));
    c.connect(addr).await;
    for i in 0..total {
        c.send(msg(i)).await;
        if i % every == every - 1 {
            c.pump(Duration::from_millis(2)).await;
            c.drop_link();
            c.connect(addr).await;
        }
    }
    let expected: Vec<Message> = (0..total).map(msg).collect();
    let deadline = tokio::time::Instant::now() + STEP;
    while c.received.len() < expected.len() && tokio::time::Instant::now() < deadline {
        c.pump(Duration::from_millis(50)).await;
        if c.ws.is_none() {
            c.connect(addr).await;
        }
    }
    assert_eq!(c.resets, 0);
    assert!(c.gaps.is_empty(), "{:?}", c.gaps);
    assert_eq!(log.received(), expected, "server side");
    assert_eq!(c.received, expected, "client side");
    assert_eq!(c.received, Log::sent_in_order(&[&log]), "client side");
    assert!(
        u64::from(c.resumes) >= total / every,
        "{} resumes",
        c.resumes
    );
}

#[tokio::test]
async fn nothing_lost_duplicated_or_reordered_across_dropped_links() {
    faults_both_ways(300, 7).await;
}

#[tokio::test]
async fn drops_right_after_each_send() {
    faults_both_ways(60, 1).await;
}

#[tokio::test]
async fn server_keeps_sending_while_the_client_is_away() {
    let (addr, _log) = serve(resume(|_| {}), Some(5)).await;
    let mut c = Client::new(None);
    c.connect(addr).await;
    c.pump(Duration::from_millis(60)).await;
    c.drop_link();
    // The old handler learns of the drop and stops; the ticks it sent meanwhile are buffered.
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.connect(addr).await;
    c.pump(Duration::from_millis(100)).await;
    assert!(c.gaps.is_empty());
    // Each handler numbers its own ticks from 1; the client got every one of the first handler
    // in order (up to where it stopped), then the second handler's.
    let texts: Vec<String> = c
        .received
        .iter()
        .map(|m| match m {
            Message::Text(t) => t.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    let restart = texts
        .iter()
        .skip(1)
        .position(|t| t == "tick 1")
        .map(|p| p + 1);
    let restart = restart.expect("a second handler started");
    for (i, t) in texts[..restart].iter().enumerate() {
        assert_eq!(t, &format!("tick {}", i + 1));
    }
    for (i, t) in texts[restart..].iter().enumerate() {
        assert_eq!(t, &format!("tick {}", i + 1));
    }
}

#[tokio::test]
async fn a_full_buffer_becomes_a_reported_gap() {
    let r = resume(|c| {
        c.limits = Limits {
            max_buffered_messages: 3,
            ..Limits::default()
        }
    });
    let (addr, _log) = serve(r, Some(5)).await;
    let mut c = Client::new(None);
    c.connect(addr).await;
    // Read the first tick, then vanish without acknowledging anything.
    while c.received.is_empty() {
        c.pump(Duration::from_millis(20)).await;
    }
    let got = c.recv;
    c.drop_link();
    // Meanwhile the next handler... there is none: the old one sends ticks into the buffer
    // until it notices the drop; the buffer keeps the last 3.
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.connect(addr).await;
    c.pump(Duration::from_millis(50)).await;
    if let Some(&(from, _to)) = c.gaps.first() {
        assert_eq!(
            from,
            got + 1,
            "the gap starts right after what the client had"
        );
    }
    // Whether or not the handler got ahead of the bound, every seq is accounted for: received
    // in order or reported as a gap.
    let gap_len: u64 = c.gaps.iter().map(|(f, t)| t - f + 1).sum();
    assert_eq!(c.received.len() as u64 + gap_len, c.recv);
}

#[tokio::test]
async fn unknown_session_starts_fresh_and_other_origin_cannot_resume() {
    let r = Resume::memory(Config {
        origins: Origins::new(["http://a.test", "http://b.test"]),
        ..Config::default()
    });
    let (addr, _log) = serve(r, None).await;
    let mut a = Client::new(Some("http://a.test"));
    a.connect(addr).await;
    a.send(Message::from("x")).await;
    a.pump(Duration::from_millis(30)).await;
    // Another origin presenting a's session id gets a new session.
    let mut b = Client::new(Some("http://b.test"));
    b.sid = a.sid.clone();
    b.connect(addr).await;
    assert_eq!(b.resets, 1);
    assert_ne!(b.sid, a.sid);
    // An unknown id likewise.
    let mut u = Client::new(Some("http://a.test"));
    u.sid = Some("0".repeat(32));
    u.connect(addr).await;
    assert_eq!(u.resets, 1);
    // a itself still resumes.
    a.drop_link();
    a.connect(addr).await;
    assert_eq!((a.resumes, a.resets), (1, 0));
}

#[tokio::test]
async fn origin_not_in_the_allowlist_gets_403() {
    let (addr, _log) = serve(resume(|_| {}), None).await;
    let err = open(addr, Some("https://evil.test")).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    // Without an Origin header (not a browser) it is allowed by default.
    open(addr, None).await.unwrap();
}

#[tokio::test]
async fn handshake_errors_close_with_the_protocol_codes() {
    let (addr, _log) = serve(
        resume(|c| c.hello_timeout = Duration::from_millis(200)),
        None,
    )
    .await;
    // No hello in time: 4408.
    let mut ws = open(addr, None).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(4408));
    // An app message first: 1002.
    let mut ws = open(addr, None).await.unwrap();
    ws.send(WsMessage::text("hi")).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(1002));
    // A malformed session id: 1002.
    let mut ws = open(addr, None).await.unwrap();
    ws.send(WsMessage::text(
        "\0{\"t\":\"hello\",\"sid\":\"nope\",\"recv\":0}",
    ))
    .await
    .unwrap();
    assert_eq!(close_code(&mut ws).await, Some(1002));
    // hello.recv above what the server sent: 1002.
    let mut c = Client::new(None);
    c.connect(addr).await;
    let sid = c.sid.clone();
    let mut ws = open(addr, None).await.unwrap();
    let hello = Control::Hello { sid, recv: 5 };
    ws.send(WsMessage::text(hello.encode())).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(1002));
    // An app message before the client's from: 1002.
    let mut ws = open(addr, None).await.unwrap();
    let hello = Control::Hello { sid: None, recv: 0 };
    ws.send(WsMessage::text(hello.encode())).await.unwrap();
    assert!(matches!(
        next_frame(&mut ws).await,
        Some(Frame::Control(Control::Welcome { .. }))
    ));
    ws.send(WsMessage::text("early")).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(1002));
}

#[tokio::test]
async fn the_session_limit_answers_1013_and_bye_frees_a_session() {
    let r = resume(|c| c.limits.max_sessions = 1);
    let (addr, _log) = serve(r, None).await;
    let mut a = Client::new(None);
    a.connect(addr).await;
    let mut ws = open(addr, None).await.unwrap();
    let hello = Control::Hello { sid: None, recv: 0 };
    ws.send(WsMessage::text(hello.encode())).await.unwrap();
    assert_eq!(close_code(&mut ws).await, Some(1013));
    // bye ends a's session: the server closes with 1000 and the slot is free.
    a.ws.as_mut()
        .unwrap()
        .send(WsMessage::text(Control::Bye.encode()))
        .await
        .unwrap();
    assert_eq!(close_code(a.ws.as_mut().unwrap()).await, Some(1000));
    let mut b = Client::new(None);
    b.connect(addr).await;
    assert!(b.sid.is_some());
}

#[tokio::test]
async fn ping_pong_ackreq_and_duplicate_from() {
    let (addr, log) = serve(resume(|_| {}), None).await;
    let mut c = Client::new(None);
    c.connect(addr).await;
    let ws = c.ws.as_mut().unwrap();
    assert_eq!(
        next_frame(ws).await,
        Some(Frame::Control(Control::From { seq: 1 }))
    );
    ws.send(WsMessage::text(Control::Ping.encode()))
        .await
        .unwrap();
    assert_eq!(next_frame(ws).await, Some(Frame::Control(Control::Pong)));
    c.send(Message::from("one")).await;
    let ws = c.ws.as_mut().unwrap();
    // The echo of "one" (the handler took it), then ackreq: the ack for it comes at once.
    assert_eq!(next_frame(ws).await, Some(Frame::App(Message::from("one"))));
    ws.send(WsMessage::text(Control::Ackreq.encode()))
        .await
        .unwrap();
    assert_eq!(
        next_frame(ws).await,
        Some(Frame::Control(Control::Ack { seq: 1 }))
    );
    // A second connection whose from repeats seq 1: the repeat is discarded.
    c.received.clear();
    c.recv = 1;
    c.drop_link();
    let mut ws = open(addr, None).await.unwrap();
    let hello = Control::Hello {
        sid: c.sid.clone(),
        recv: 1,
    };
    ws.send(WsMessage::text(hello.encode())).await.unwrap();
    assert!(matches!(
        next_frame(&mut ws).await,
        Some(Frame::Control(Control::Welcome { recv: 1, .. }))
    ));
    assert_eq!(
        next_frame(&mut ws).await,
        Some(Frame::Control(Control::From { seq: 2 }))
    );
    ws.send(WsMessage::text(Control::From { seq: 1 }.encode()))
        .await
        .unwrap();
    ws.send(WsMessage::text("one")).await.unwrap();
    ws.send(WsMessage::text("two")).await.unwrap();
    assert_eq!(
        next_frame(&mut ws).await,
        Some(Frame::App(Message::from("two")))
    );
    assert_eq!(
        log.received(),
        vec![Message::from("one"), Message::from("two")]
    );
}
