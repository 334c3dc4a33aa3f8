//! Regression tests for the reconnect-core defects of issue 17 that show in the browser, run
//! against the real server (its fault API and per-client stats), through the public API only.
//!
//! Covers: `close()` after `Failed` handing back the outbox and `Sink::poll_close` flushing it
//! (defect 2); a failing URL provider counting as a failed attempt (growing backoff, `Failed`
//! after `max_retries`) and a hanging one cut off by the connect timeout (defect 4);
//! `should_retry` and the URL provider reading the socket without a panic, their verdicts
//! honoured (defect 5).
#![cfg(target_arch = "wasm32")]

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use common::*;
use futures::{SinkExt, StreamExt};
use resocket::{Backoff, Error, Event, Jitter, Message, Options, ReSocket, State};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Retries after 100, 200, 400, 400... ms: no jitter, so delays can be compared exactly.
fn fast() -> Options {
    Options::default().backoff(Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(400),
        factor: 2.0,
        jitter: Jitter::None,
    })
}

/// Polls the socket's state until `f` accepts it, failing the test after `ms`.
async fn wait_state(s: &ReSocket, what: &str, ms: u64, f: impl Fn(&State) -> bool) {
    let start = js_sys::Date::now();
    while !f(&s.state()) {
        assert!(
            js_sys::Date::now() - start < ms as f64,
            "timed out waiting for {what}; state {:?}",
            s.state()
        );
        sleep(10).await;
    }
}

/// Polls `f` until it holds; false if it still does not after `ms` (the caller asserts, with
/// the values it observed).
async fn eventually(ms: u64, f: impl Fn() -> bool) -> bool {
    let start = js_sys::Date::now();
    while !f() {
        if js_sys::Date::now() - start > ms as f64 {
            return false;
        }
        sleep(10).await;
    }
    true
}

/// The text of every message the server received from `client`, in order.
fn texts(stats: &serde_json::Value) -> Vec<String> {
    stats["messages"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|m| m["t"].as_str().unwrap_or("<not text>").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// What a callback saw of the socket it belongs to: the state's name and the connects count.
type Seen = Rc<RefCell<Vec<(&'static str, u32)>>>;

/// Reads everything a user callback could read on `socket` (state, stats, ready state, URL,
/// `Debug`) and records what it saw.
fn read_everything(socket: &ReSocket, seen: &Seen) {
    let state = socket.state();
    let stats = socket.stats();
    let _ = (socket.ready_state(), socket.url(), format!("{socket:?}"));
    seen.borrow_mut().push((state.name(), stats.connects));
}

/// Defect 2: the messages still in the outbox when the socket gave up were never sent; once
/// it is `Failed` (here: `max_retries` used up against refused upgrades) `close()` must hand
/// them back, as it does while the socket is alive, instead of an empty list.
#[wasm_bindgen_test]
async fn close_after_failed_returns_the_messages_still_queued() {
    let client = client_id("failed-outbox");
    control("refuse", &format!("client={client}&ms=60000")).await;
    let s = ReSocket::connect(&ws_url("echo", &client, ""), fast().max_retries(1)).unwrap();
    // Queued: the socket is connecting and every upgrade is refused.
    s.send("q1").unwrap();
    s.send("q2").unwrap();
    wait_state(&s, "failed", 10_000, |st| {
        matches!(st, State::Failed { .. })
    })
    .await;
    let unsent = s.close(None, None).unwrap();
    control("refuse", &format!("client={client}&ms=0")).await;
    let st = stats(&client).await;
    assert_eq!(st["message_count"], 0, "nothing reached the server: {st}");
    assert_eq!(
        unsent,
        vec![Message::from("q1"), Message::from("q2")],
        "close() after Failed hands back the messages that were never sent"
    );
}

/// Defect 2: closing through the `Sink` (`SinkExt::close`) flushes first: what was queued
/// while the socket could not connect is delivered before the close completes, not dropped
/// (today `poll_close` calls `close()` at once and discards what it returns).
#[wasm_bindgen_test]
async fn sink_close_flushes_the_outbox_before_closing() {
    let client = client_id("sink-close");
    // Refused for a while: the messages wait in the outbox (`start_send` is `send`; the Sink's
    // `poll_ready` itself waits while not open, so the queue is filled with `send`).
    control("refuse", &format!("client={client}&ms=800")).await;
    let mut s = ReSocket::connect(&ws_url("echo", &client, ""), fast()).unwrap();
    let want: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
    for m in &want {
        s.send(m.as_str()).unwrap();
    }
    let closed = within(15_000, "SinkExt::close", SinkExt::close(&mut s)).await;
    assert!(closed.is_ok(), "{closed:?}");
    assert!(
        matches!(s.state(), State::Closed { .. }),
        "closed after the Sink's close: {:?}",
        s.state()
    );
    let st = wait_for_stats(&client, 3000, |st| st["message_count"] == 5).await;
    assert_eq!(
        texts(&st),
        want,
        "every message queued before the Sink's close reached the server, once, in order"
    );
}

/// Defect 4: a URL provider that fails is a failed attempt like a refused socket: the backoff
/// grows (100, 200 ms) and with `max_retries(2)` the socket is `Failed` after exactly three
/// provider calls. Today its error schedules a retry without counting a failure: 100 ms
/// forever.
#[wasm_bindgen_test]
async fn failing_url_provider_grows_the_backoff_and_reaches_max_retries() {
    let calls = Rc::new(Cell::new(0u32));
    let counter = Rc::clone(&calls);
    let s = ReSocket::connect_with_provider(
        move || {
            counter.set(counter.get() + 1);
            Box::pin(async {
                Err(Error::Js {
                    message: "no token".into(),
                })
            })
        },
        fast().max_retries(2),
    );
    let mut events = s.events();
    let mut delays = Vec::new();
    let mut failed = false;
    // Bounded: without the fix the events never end, with it they end after `Failed`.
    while !failed && delays.len() < 6 {
        match within(10_000, "the provider's retries", events.next()).await {
            Some(Event::Reconnecting { delay, .. }) => delays.push(delay.as_millis()),
            Some(Event::Failed { .. }) | None => failed = true,
            Some(_) => {}
        }
    }
    assert_eq!(
        delays,
        vec![100, 200],
        "one retry per failed provider call, the delay doubling, then Failed"
    );
    assert!(matches!(s.state(), State::Failed { .. }), "{:?}", s.state());
    sleep(600).await;
    assert_eq!(
        calls.get(),
        3,
        "first attempt + 2 retries, none after Failed"
    );
}

/// Defect 4: a URL provider that never resolves is cut off by the connect timeout (an
/// `Error(ConnectTimeout)` event) and retried, instead of leaving the socket `Connecting`
/// forever (today the timer is armed only once a browser socket exists).
#[wasm_bindgen_test]
async fn hanging_url_provider_is_cut_off_by_the_connect_timeout() {
    let calls = Rc::new(Cell::new(0u32));
    let counter = Rc::clone(&calls);
    let s = ReSocket::connect_with_provider(
        move || {
            counter.set(counter.get() + 1);
            Box::pin(futures::future::pending())
        },
        fast().connect_timeout(Duration::from_millis(300)),
    );
    let mut events = s.events();
    let timed_out = within(5000, "an Error(ConnectTimeout) event", async {
        loop {
            match events.next().await {
                Some(Event::Error(Error::ConnectTimeout { after_ms, .. })) => break after_ms,
                Some(_) => {}
                None => panic!("the events ended: {:?}", s.state()),
            }
        }
    })
    .await;
    assert_eq!(timed_out, 300);
    assert!(
        eventually(5000, || calls.get() >= 2).await,
        "the provider is called again after the timeout: {} call(s), state {:?}",
        calls.get(),
        s.state()
    );
    s.close(None, None).unwrap();
}

/// Defect 5: `should_retry` runs with the socket free to be read: reading its state, stats
/// and `Debug` inside the predicate does not panic (today: "already mutably borrowed", inside
/// the browser's close event), and its verdict holds: a 4000 the default policy would retry is
/// not retried when the predicate says no.
#[wasm_bindgen_test]
async fn should_retry_may_read_the_socket_and_its_verdict_holds() {
    let client = client_id("predicate-reads");
    // The predicate reaches the socket through a slot filled after construction.
    let slot: Rc<RefCell<Option<ReSocket>>> = Rc::default();
    let seen: Seen = Rc::default();
    let (in_slot, in_seen) = (Rc::clone(&slot), Rc::clone(&seen));
    let options = fast().should_retry(move |_| {
        if let Some(socket) = in_slot.borrow().as_ref() {
            read_everything(socket, &in_seen);
        }
        false
    });
    let s = ReSocket::connect(&ws_url("echo", &client, ""), options).unwrap();
    *slot.borrow_mut() = Some(s.clone());
    wait_state(&s, "open", 5000, |st| *st == State::Open).await;
    control("close", &format!("client={client}&code=4000&reason=bye")).await;
    assert!(
        eventually(5000, || seen.borrow().len() == 1).await,
        "should_retry ran to its end once after reading the socket: saw {:?}",
        seen.borrow()
    );
    wait_state(&s, "failed", 5000, |st| matches!(st, State::Failed { .. })).await;
    sleep(500).await;
    assert_eq!(
        stats(&client).await["attempts"],
        1,
        "the predicate's false is honoured: no further attempt"
    );
    // The slot's clone lives inside the socket's own options: let go of it.
    slot.borrow_mut().take();
}

/// Defect 5: the URL provider runs with the socket free to be read (today it runs inside
/// `connect` with the core mutably borrowed, and any read panics). It reads on its second
/// call, made by the retry after a drop: on today's code the first call runs inside the
/// futures executor, where a panic would stall every later test of this binary.
#[wasm_bindgen_test]
async fn url_provider_may_read_the_socket() {
    let client = client_id("provider-reads");
    let slot: Rc<RefCell<Option<ReSocket>>> = Rc::default();
    let seen: Seen = Rc::default();
    let calls = Rc::new(Cell::new(0u32));
    let (in_slot, in_seen, counter) = (Rc::clone(&slot), Rc::clone(&seen), Rc::clone(&calls));
    let url = ws_url("echo", &client, "");
    let s = ReSocket::connect_with_provider(
        move || {
            counter.set(counter.get() + 1);
            if counter.get() > 1 {
                if let Some(socket) = in_slot.borrow().as_ref() {
                    read_everything(socket, &in_seen);
                }
            }
            let url = url.clone();
            Box::pin(async move { Ok((url, vec![])) })
        },
        fast(),
    );
    *slot.borrow_mut() = Some(s.clone());
    wait_state(&s, "open", 5000, |st| *st == State::Open).await;
    control("drop", &format!("client={client}")).await;
    assert!(
        eventually(5000, || seen.borrow().len() == 1).await,
        "the provider's second call read the socket and returned: saw {:?}",
        seen.borrow()
    );
    wait_state(&s, "reopened", 5000, |st| *st == State::Open).await;
    assert_eq!(calls.get(), 2);
    assert_eq!(stats(&client).await["total_connections"], 2);
    slot.borrow_mut().take();
    s.close(None, None).unwrap();
}
