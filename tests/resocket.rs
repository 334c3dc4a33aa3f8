//! Browser tests of `ReSocket` against the real server's fault API and stats.
//!
//! Covers: reconnect after a drop without close frame with delays following the policy (jitter
//! off); refused upgrades backing off then connecting; max retries ending in `Failed` with the
//! stream ending on that error; 1008 not retried by default and retried with a predicate;
//! `close()` during a backoff wait (no attempt after it); 100 messages sent while down arriving
//! once and in order; overflow policies; 200 rapid drops with at most one socket at a time;
//! heartbeat timeout on a silent server; offline/online; URL provider per attempt; event order;
//! oversize inbound message as an error event; text and binary messages mixed, in order and
//! counted; secure_only; bursts of every length around the wake batch arriving whole and in
//! order.
#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use futures::StreamExt;
use resocket::{
    Backoff, Error, Event, Heartbeat, Jitter, Message, Options, Overflow, ReSocket, State,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

async fn open_socket(endpoint: &str, client: &str, options: Options) -> ReSocket {
    let s = ReSocket::connect(&ws_url(endpoint, client, ""), options).unwrap();
    wait_state(&s, "open", 5000, |st| *st == State::Open).await;
    s
}

/// An echo socket with a fixed retry `delay` (no jitter), dropped by the server and now
/// waiting to reconnect.
async fn waiting_to_reconnect(client: &str, delay: Duration) -> ReSocket {
    let fixed = Options::default().backoff(Backoff {
        initial: delay,
        jitter: Jitter::None,
        ..Backoff::default()
    });
    let s = open_socket("echo", client, fixed).await;
    control("drop", &format!("client={client}")).await;
    wait_state(&s, "reconnecting", 5000, |st| {
        matches!(st, State::Reconnecting { .. })
    })
    .await;
    s
}

#[wasm_bindgen_test]
async fn drop_without_close_frame_reconnects_with_the_configured_delays() {
    let client = client_id("drop");
    let s = open_socket("echo", &client, fast()).await;
    let mut events = s.events();
    let mut delays = Vec::new();
    for _ in 0..3 {
        control("drop", &format!("client={client}")).await;
        loop {
            match within(5000, "events", events.next()).await.unwrap() {
                Event::Reconnecting { delay, .. } => delays.push(delay.as_millis()),
                Event::Open { .. } => break,
                _ => {}
            }
        }
    }
    // Jitter off and a fast drop-reconnect cycle: each drop is the first failure after an
    // unstable open, so the delays grow 100, 200, 400 (stable time 5 s not reached).
    assert_eq!(delays, vec![100, 200, 400]);
    let stats = stats(&client).await;
    assert_eq!(stats["total_connections"], 4);
    assert_eq!(stats["max_concurrent"], 1);
    let times: Vec<f64> = stats["connect_times_ms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (i, want) in [100.0, 200.0, 400.0].iter().enumerate() {
        let gap = times[i + 1] - times[i];
        assert!(
            gap >= want - 5.0 && gap < want + 400.0,
            "gap {i}: {gap} ms, wanted about {want}"
        );
    }
    assert_eq!(s.stats().reconnects, 3);
}

#[wasm_bindgen_test]
async fn refused_upgrades_back_off_then_connect_and_max_retries_fail() {
    let client = client_id("refuse");
    control("refuse", "ms=1200").await;
    let s = ReSocket::connect(&ws_url("echo", &client, ""), fast()).unwrap();
    wait_state(&s, "open after refusals", 8000, |st| *st == State::Open).await;
    let st = stats(&client).await;
    assert!(st["refused"].as_u64().unwrap() >= 3, "{st}");
    assert_eq!(st["total_connections"], 1);

    // Now with a retry limit: refuse long enough to exhaust it.
    let client2 = client_id("refuse-limit");
    control("refuse", "ms=5000").await;
    let mut s2 = ReSocket::connect(&ws_url("echo", &client2, ""), fast().max_retries(2)).unwrap();
    let item = within(8000, "failure", s2.next()).await;
    assert!(matches!(item, Some(Err(Error::Failed { .. }))), "{item:?}");
    assert_eq!(s2.next().await, None, "the stream ends after Failed");
    assert!(matches!(s2.state(), State::Failed { .. }));
    let st2 = stats(&client2).await;
    assert_eq!(st2["attempts"], 3, "first attempt + 2 retries: {st2}");
    control("refuse", "ms=0").await;
    drop(s);
}

#[wasm_bindgen_test]
async fn policy_close_1008_fails_by_default_and_retries_with_a_predicate() {
    let client = client_id("c1008");
    let mut s = open_socket("echo", &client, fast()).await;
    control("close", &format!("client={client}&code=1008&reason=policy")).await;
    let item = within(5000, "failed", s.next()).await;
    assert!(
        matches!(&item, Some(Err(Error::Failed { reason })) if reason.contains("1008")),
        "{item:?}"
    );
    sleep(500).await;
    assert_eq!(stats(&client).await["attempts"], 1, "no retry after 1008");

    let client = client_id("c1008p");
    let s = open_socket("echo", &client, fast().should_retry(|ev| ev.code == 1008)).await;
    control("close", &format!("client={client}&code=1008&reason=policy")).await;
    sleep(50).await;
    wait_state(&s, "reopen", 5000, |st| *st == State::Open).await;
    assert_eq!(stats(&client).await["total_connections"], 2);
}

#[wasm_bindgen_test]
async fn close_during_backoff_makes_no_further_attempt() {
    let client = client_id("closewait");
    let s = waiting_to_reconnect(&client, Duration::from_millis(1000)).await;
    s.send("queued while down").unwrap();
    let unsent = s.close(None, None).unwrap();
    assert_eq!(
        unsent,
        vec![Message::from("queued while down")],
        "close reports what was queued"
    );
    assert!(
        matches!(s.state(), State::Closed { code: 1005, .. }),
        "close() without a code reports 1005, what was sent"
    );
    let before = stats(&client).await["attempts"].clone();
    sleep(3000).await;
    assert_eq!(
        stats(&client).await["attempts"],
        before,
        "no attempt after close()"
    );
    assert!(matches!(s.send("late"), Err(Error::Closed { .. })));
}

#[wasm_bindgen_test]
async fn messages_sent_while_down_arrive_once_in_order() {
    let client = client_id("outbox");
    let s = open_socket("echo", &client, fast()).await;
    control("refuse", "ms=600").await;
    control("drop", &format!("client={client}")).await;
    wait_state(&s, "down", 5000, |st| *st != State::Open).await;
    for i in 0..100 {
        s.send(format!("m{i}")).unwrap();
    }
    assert_eq!(s.stats().outbox_len, 100);
    wait_state(&s, "reopen", 8000, |st| *st == State::Open).await;
    s.send("after").unwrap();
    let st = wait_for_stats(&client, 5000, |st| st["message_count"] == 101).await;
    let got: Vec<String> = st["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["t"].as_str().unwrap().to_owned())
        .collect();
    let mut want: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
    want.push("after".into());
    assert_eq!(
        got, want,
        "exactly once, in order, outbox before later sends"
    );
    assert_eq!(st["max_concurrent"], 1);
}

#[wasm_bindgen_test]
async fn overflow_policies_behave_as_documented() {
    for (policy, want_err, kept) in [
        (Overflow::Reject, true, vec!["a", "b"]),
        (Overflow::DropOldest, false, vec!["b", "c"]),
        (Overflow::DropNewest, false, vec!["a", "b"]),
    ] {
        let client = client_id("overflow");
        control("refuse", "ms=100000").await;
        let s = ReSocket::connect(&ws_url("echo", &client, ""), fast().outbox(2, 1024, policy))
            .unwrap();
        let mut events = s.events();
        s.send("a").unwrap();
        s.send("b").unwrap();
        let third = s.send("c");
        assert_eq!(third.is_err(), want_err, "{policy:?}: {third:?}");
        if !want_err {
            loop {
                if let Event::OutboxOverflow { dropped } =
                    within(2000, "overflow event", events.next()).await.unwrap()
                {
                    assert_eq!(dropped, 1);
                    break;
                }
            }
        } else {
            assert!(matches!(third, Err(Error::OutboxFull { messages: 2, .. })));
        }
        let unsent = s.close(None, None).unwrap();
        let unsent: Vec<Message> = unsent;
        assert_eq!(
            unsent,
            kept.iter().map(|k| Message::from(*k)).collect::<Vec<_>>(),
            "{policy:?}"
        );
        control("refuse", "ms=0").await;
    }
}

#[wasm_bindgen_test]
async fn two_hundred_rapid_drops_never_have_two_sockets() {
    let client = client_id("storm");
    let listeners_before = resocket::live_listeners();
    let opts = Options::default().backoff(Backoff {
        initial: Duration::from_millis(1),
        max: Duration::from_millis(5),
        factor: 2.0,
        jitter: Jitter::Full,
    });
    let s = open_socket("echo", &client, opts).await;
    for _ in 0..200 {
        control("drop", &format!("client={client}")).await;
    }
    wait_state(&s, "open", 10_000, |st| *st == State::Open).await;
    let st = stats(&client).await;
    assert_eq!(st["max_concurrent"], 1, "{st}");
    assert!(st["total_connections"].as_u64().unwrap() >= 2);
    // Every socket's handlers and every timer went with it: nothing grows per reconnect.
    drop(s);
    assert_eq!(resocket::live_listeners(), listeners_before);
}

#[wasm_bindgen_test]
async fn silent_server_is_detected_by_the_heartbeat_and_replaced() {
    let client = client_id("heartbeat");
    let hb = Heartbeat::new(
        "ping",
        Duration::from_millis(200),
        Duration::from_millis(300),
    );
    let s = open_socket("echo", &client, fast().heartbeat(hb)).await;
    let mut events = s.events();
    sleep(500).await;
    assert!(
        s.stats().last_heartbeat_rtt_ms.is_some(),
        "echoed pings answer the heartbeat"
    );
    control("silence", &format!("client={client}&ms=3000")).await;
    let mut saw_timeout = false;
    loop {
        match within(5000, "heartbeat events", events.next())
            .await
            .unwrap()
        {
            Event::HeartbeatTimeout { silent_ms } => {
                assert!(silent_ms >= 300);
                saw_timeout = true;
            }
            Event::Open { .. } if saw_timeout => break,
            _ => {}
        }
    }
    assert_eq!(stats(&client).await["total_connections"], 2);
}

#[wasm_bindgen_test]
async fn offline_pauses_attempts_and_online_retries_at_once() {
    let client = client_id("offline");
    let s = waiting_to_reconnect(&client, Duration::from_secs(20)).await;
    let window = web_sys::window().unwrap();
    window
        .dispatch_event(&web_sys::Event::new("offline").unwrap())
        .unwrap();
    assert_eq!(s.state(), State::Offline);
    let before = stats(&client).await["attempts"].clone();
    sleep(300).await;
    assert_eq!(
        stats(&client).await["attempts"],
        before,
        "no attempt while offline"
    );
    let t0 = js_sys::Date::now();
    window
        .dispatch_event(&web_sys::Event::new("online").unwrap())
        .unwrap();
    wait_state(&s, "open", 3000, |st| *st == State::Open).await;
    assert!(
        js_sys::Date::now() - t0 < 2000.0,
        "online retried at once, not after the 20 s backoff"
    );
}

#[wasm_bindgen_test]
async fn url_provider_is_called_once_per_attempt_with_fresh_tokens() {
    let client = client_id("provider");
    let calls = Rc::new(Cell::new(0u32));
    let c2 = Rc::clone(&calls);
    let base = ws_url("echo", &client, "");
    let s = ReSocket::connect_with_provider(
        move || {
            let n = c2.get() + 1;
            c2.set(n);
            let url = format!("{base}&token=t{n}");
            Box::pin(async move { Ok((url, vec![])) })
        },
        fast(),
    );
    wait_state(&s, "open", 5000, |st| *st == State::Open).await;
    control("drop", &format!("client={client}")).await;
    sleep(50).await;
    wait_state(&s, "reopen", 5000, |st| *st == State::Open).await;
    assert_eq!(calls.get(), 2);
    let st = stats(&client).await;
    assert_eq!(st["tokens"], serde_json::json!(["t1", "t2"]));
    assert!(
        !s.url().contains("token"),
        "the URL shown never carries the query"
    );
}

#[wasm_bindgen_test]
async fn events_show_each_transition_in_order() {
    let client = client_id("events");
    let s = ReSocket::connect(&ws_url("echo", &client, ""), fast()).unwrap();
    let mut events = s.events();
    let mut names = Vec::new();
    while names.last() != Some(&"open") {
        names.push(within(5000, "event", events.next()).await.unwrap().name());
    }
    control("drop", &format!("client={client}")).await;
    loop {
        let e = within(5000, "event", events.next()).await.unwrap();
        names.push(e.name());
        if e.name() == "open" {
            break;
        }
    }
    s.close(Some(4000), Some("done")).unwrap();
    let rest: Vec<&str> = events.map(|e| e.name()).collect().await;
    names.extend(rest);
    assert_eq!(
        names,
        vec![
            "connecting",
            "open",
            "disconnected",
            "reconnecting",
            "connecting",
            "open",
            "closed"
        ]
    );
}

#[wasm_bindgen_test]
async fn oversize_inbound_message_is_an_error_event_and_the_socket_stays_up() {
    let client = client_id("oversize");
    let mut s = open_socket("echo", &client, fast().max_message_bytes(16)).await;
    let mut events = s.events();
    s.send("x".repeat(17)).unwrap();
    s.send("small").unwrap();
    assert_eq!(
        within(5000, "small", s.next()).await,
        Some(Ok(Message::from("small")))
    );
    let e = within(2000, "error event", events.next()).await.unwrap();
    assert!(
        matches!(
            e,
            Event::Error(Error::MessageTooLarge {
                size: 17,
                limit: 16
            })
        ),
        "{e:?}"
    );
    assert_eq!(s.state(), State::Open);
}

/// Text reaches the core as its string and binary as the browser's event: both paths, mixed,
/// keep their order, content (non-ASCII text, every byte value, empty payloads) and counts.
#[wasm_bindgen_test]
async fn text_and_binary_messages_arrive_in_order_and_are_counted() {
    let client = client_id("kinds");
    let mut s = open_socket("echo", &client, fast()).await;
    let bytes: Vec<u8> = (0..=255).collect();
    let sent = [
        Message::from("plain"),
        Message::Binary(bytes),
        Message::from("h\u{e9}llo \u{2713} \u{1f600}"),
        Message::Binary(Vec::new()),
        Message::from(""),
        Message::Binary(vec![0xff, 0]),
    ];
    for m in &sent {
        s.send(m.clone()).unwrap();
    }
    for (i, m) in sent.iter().enumerate() {
        let got = within(5000, &format!("message {i}"), s.next()).await;
        assert_eq!(got, Some(Ok(m.clone())), "message {i}");
    }
    let stats = s.stats();
    assert_eq!(stats.messages_in, sent.len() as u64);
    assert_eq!(
        stats.bytes_in,
        sent.iter().map(|m| m.len() as u64).sum::<u64>()
    );
}

#[wasm_bindgen_test]
fn secure_only_refuses_remote_plain_ws_and_errors_hide_tokens() {
    let err = ReSocket::connect(
        "ws://example.com/feed?token=s3cret",
        Options::default().secure_only(true),
    )
    .unwrap_err();
    assert!(matches!(err, Error::InsecureUrl { .. }));
    assert!(!err.to_string().contains("s3cret"));
    assert!(ReSocket::connect(
        &ws_url("echo", "x", ""),
        Options::default().secure_only(true)
    )
    .is_ok());
}

/// The stream is woken at the first message of a burst, every `WAKE_BATCH` (16) messages and
/// when the burst ends (the next browser task): bursts shorter than, as long as and longer
/// than a batch all arrive whole, in order and without waiting for anything else (no timer or
/// heartbeat is configured here that could wake the stream instead).
#[wasm_bindgen_test]
async fn bursts_of_every_length_arrive_whole_in_order_and_at_once() {
    for count in [1u64, 2, 15, 16, 17, 40, 3000] {
        let client = client_id("burst");
        let url = ws_url("flood", &client, &format!("&wait=1&size=32&count={count}"));
        let mut s = ReSocket::connect(&url, fast()).unwrap();
        wait_state(&s, "open", 5000, |st| *st == State::Open).await;
        s.send("go").unwrap();
        for seq in 0..count {
            let what = format!("message {seq} of a burst of {count}");
            match within(5000, &what, s.next()).await {
                Some(Ok(Message::Text(text))) => assert!(
                    text.starts_with(&format!("{{\"seq\":{seq},")),
                    "{what}: got {text}"
                ),
                other => panic!("{what}: got {other:?}"),
            }
        }
        let done = within(5000, "the done marker", s.next()).await;
        assert_eq!(
            done,
            Some(Ok(Message::Text(format!(
                "{{\"type\":\"done\",\"count\":{count}}}"
            )))),
            "burst of {count}"
        );
        // A server's 1000 is not retried: the stream ends with `Failed`, then `None`.
        control("close", &format!("client={client}&code=1000")).await;
        let end = within(5000, "the end", s.next()).await;
        assert!(matches!(end, Some(Err(Error::Failed { .. }))), "{end:?}");
        assert_eq!(within(5000, "the end", s.next()).await, None);
    }
}
