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
use resocket::{Error, Event, Message, Options, ReSocket, State};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

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

// ------------------------------------------------------------------------------------------
// Defects 3 and 7: what the socket keeps while it works. A `Sink` flood against a slow reader
// (in-flight messages and wasm memory stay bounded), a `Stream` nobody polls during a flood (the
// inbox keeps its capacity's worth and reports the rest as `Err(Lagged)`), and `poll_ready`
// polled again and again while not open (one waker kept per task, not one per poll).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::{select, Either};
use futures::task::ArcWake;
use futures::{FutureExt, Sink};
use resocket::{ConnectOptions, Connection};
use wasm_bindgen::JsCast;

/// The byte length of this test binary's wasm memory (it only grows).
fn wasm_memory_bytes() -> u32 {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length()
}

/// A binary message of `size` bytes whose first 8 are `seq` little-endian: `/stats` shows
/// them as its `head`.
fn numbered(seq: u64, size: usize) -> Message {
    let mut bytes = vec![0x5a; size];
    bytes[..8].copy_from_slice(&seq.to_le_bytes());
    Message::Binary(bytes)
}

/// The `head` `/stats` shows for `numbered(seq, _)`.
fn numbered_head(seq: u64) -> String {
    seq.to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The server's count of the messages `client` sent, without the messages themselves.
async fn server_message_count(client: &str) -> u64 {
    let url = format!("{}/stats?client={client}&since={}", http(), u64::MAX);
    let response = gloo_net::http::Request::get(&url)
        .send()
        .await
        .expect("the test server answers");
    let stats: serde_json::Value = response.json().await.expect("JSON");
    stats["message_count"].as_u64().expect("message_count")
}

/// Defect 3: the old core kept a copy of every message handed to the socket until
/// `bufferedAmount` read 0 at a send, which a `Sink` held near its high-water mark never sees:
/// memory grew with every message of the connection. Against `/ws/slow` (the server reads at a
/// limited rate, so TCP backpressure keeps `bufferedAmount` high), `stats().in_flight` stays
/// within what the browser's buffer can hold (high-water mark / message size, plus the message
/// just sent and a partly sent one), the wasm memory does not grow with the bytes sent, and
/// every message still reaches the server exactly once, in order.
///
/// Phase 1: the server reads the first message, then nothing (1 byte/s): the Sink fills every
/// buffer on the way until it waits. Phase 2: the server reads at 1 MiB/s, under backpressure,
/// while 2,048 more messages go out. Then the limit is lifted and the backlog drains. Bounded
/// by message counts; the one timer (a `feed` still waiting after 1 s ends phase 1) only
/// decides when phase 2 starts, never the verdict.
#[wasm_bindgen_test]
async fn sink_flood_against_a_slow_reader_keeps_in_flight_and_memory_bounded() {
    const SIZE: usize = 1024;
    const MARK: u32 = 512 * 1024;
    const PHASE_2: u64 = 2048;
    // Every buffer between the Sink and the server (Chromium's, both kernels') holds a few MiB.
    const FILL_LIMIT: u64 = 64 * 1024;
    let bound = MARK as usize / SIZE + 8;
    let client = client_id("slow-flood");
    let mut s = ReSocket::connect(
        &ws_url("slow", &client, "&bps=1"),
        Options::default().high_water_mark(MARK),
    )
    .unwrap();
    wait_state(&s, "open", 10_000, |st| *st == State::Open).await;
    let memory_before = wasm_memory_bytes();
    let mut sent = 0u64;
    let mut max_in_flight = 0usize;
    let mut check = |s: &ReSocket, sent: u64| {
        let stats = s.stats();
        max_in_flight = max_in_flight.max(stats.in_flight);
        assert!(
            stats.in_flight <= bound,
            "after {sent} messages: {} in flight with bufferedAmount {} (at most {bound}: \
             {MARK} bytes of {SIZE}-byte messages, and a few)",
            stats.in_flight,
            s.buffered_amount()
        );
        assert_eq!(
            stats.outbox_len, 0,
            "the Sink hands every message to the open socket"
        );
        assert_eq!(stats.messages_out, sent);
    };

    // Phase 1: fill until a `feed` still waits after a second.
    let blocked = loop {
        assert!(
            sent < FILL_LIMIT,
            "{sent} messages of {SIZE} bytes and the Sink never waited for a reader that reads nothing"
        );
        let feed = s.feed(numbered(sent, SIZE));
        let timer = sleep(1000);
        futures::pin_mut!(feed, timer);
        match select(feed, timer).await {
            Either::Left((result, _)) => {
                result.unwrap();
                sent += 1;
                check(&s, sent);
            }
            Either::Right(((), feed)) => {
                // Phase 2: the reader reads 1 MiB/s; the waiting `feed` goes out once the
                // browser's buffer is below the mark again.
                control("throttle", &format!("client={client}&bps=1048576")).await;
                within(60_000, "the waiting feed", feed).await.unwrap();
                sent += 1;
                break sent;
            }
        }
    };
    check(&s, sent);
    within(120_000, "phase 2's messages", async {
        for _ in 0..PHASE_2 {
            s.feed(numbered(sent, SIZE)).await.unwrap();
            sent += 1;
            check(&s, sent);
        }
    })
    .await;
    let memory_after = wasm_memory_bytes();
    // Whenever the Sink waited, `bufferedAmount` was above the mark: the messages it covered
    // were in flight then (the old core kept those, and every one before them).
    assert!(
        max_in_flight >= MARK as usize / SIZE - 1,
        "in flight peaked at {max_in_flight}: the flood never reached the high-water mark"
    );
    let growth = memory_after.saturating_sub(memory_before);
    assert!(
        growth < 4 << 20,
        "wasm memory grew by {growth} bytes while {sent} messages of {SIZE} bytes were sent \
         ({blocked} before the Sink first waited)"
    );

    control("throttle", &format!("client={client}&bps=0")).await;
    let start = js_sys::Date::now();
    while server_message_count(&client).await < sent {
        assert!(
            js_sys::Date::now() - start < 60_000.0,
            "the server read {} of {sent} messages",
            server_message_count(&client).await
        );
        sleep(50).await;
    }
    let st = stats(&client).await;
    let heads: Vec<String> = st["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            assert_eq!(m["len"], SIZE, "{m}");
            m["head"].as_str().unwrap_or("<not binary>").to_owned()
        })
        .collect();
    assert_eq!(
        heads.len() as u64,
        sent,
        "each message reached the server once"
    );
    assert!(
        heads
            .iter()
            .zip(0..)
            .all(|(head, seq)| *head == numbered_head(seq)),
        "in order"
    );
    assert_eq!(st["total_connections"], 1, "on one connection");
    assert!(s.stats().in_flight <= bound);
    s.close(None, None).unwrap();
}

/// The text of a received message.
fn text_of(item: Option<Result<Message, Error>>) -> String {
    match item {
        Some(Ok(Message::Text(t))) => t,
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// The flood message `seq` of `/ws/flood?size=SIZE` starts like this.
fn flood_prefix(seq: u64) -> String {
    format!("{{\"seq\":{seq},")
}

/// Defect 7: the inbox is bounded. A `ReSocket` with `inbox(100)` that nobody polls while a
/// flood of 1,000 messages (and its `done` marker) arrives keeps the last 100 and reports the
/// 901 dropped before them as one `Err(Lagged)` item, first; the old inbox held all 1,001.
#[wasm_bindgen_test]
async fn unpolled_resocket_keeps_its_inbox_capacity_and_reports_the_gap() {
    let (count, capacity) = (1000u64, 100usize);
    let client = client_id("inbox-resocket");
    let mut s = ReSocket::connect(
        &ws_url("flood", &client, &format!("&count={count}&size=32")),
        Options::default().inbox(capacity),
    )
    .unwrap();
    // Not polled: wait for the flood and its marker to have arrived.
    assert!(
        eventually(20_000, || s.stats().messages_in == count + 1).await,
        "{} of {} messages arrived",
        s.stats().messages_in,
        count + 1
    );
    let dropped = count + 1 - capacity as u64;
    assert_eq!(
        within(1000, "the first item", s.next()).await,
        Some(Err(Error::Lagged { dropped })),
        "the gap comes first"
    );
    for seq in dropped..count {
        let text = text_of(within(1000, "a kept message", s.next()).await);
        assert!(
            text.starts_with(&flood_prefix(seq)),
            "expected seq {seq}: {text}"
        );
    }
    let done = text_of(within(1000, "the marker", s.next()).await);
    assert_eq!(done, format!("{{\"type\":\"done\",\"count\":{count}}}"));
    assert!(s.next().now_or_never().is_none(), "nothing more is queued");
    s.close(None, None).unwrap();
}

/// Defect 7: the same for a `Connection` opened with `inbox_messages: 100`. The flood closes
/// the socket after its marker (`close=1000`), so the close event says everything arrived;
/// the stream then yields the gap, the last 100 messages, the close, and ends.
#[wasm_bindgen_test]
async fn unpolled_connection_keeps_its_inbox_capacity_and_reports_the_gap() {
    let (count, capacity) = (1000u64, 100usize);
    let client = client_id("inbox-connection");
    let mut conn = Connection::open_with(
        &ws_url(
            "flood",
            &client,
            &format!("&count={count}&size=32&close=1000"),
        ),
        ConnectOptions {
            inbox_messages: capacity,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(
        eventually(20_000, || conn.close_event().is_some()).await,
        "the server's close after the flood never came: {:?}",
        conn.ready_state()
    );
    let dropped = count + 1 - capacity as u64;
    assert_eq!(
        within(1000, "the first item", conn.next()).await,
        Some(Err(Error::Lagged { dropped }))
    );
    for seq in dropped..count {
        let text = text_of(within(1000, "a kept message", conn.next()).await);
        assert!(
            text.starts_with(&flood_prefix(seq)),
            "expected seq {seq}: {text}"
        );
    }
    let done = text_of(within(1000, "the marker", conn.next()).await);
    assert_eq!(done, format!("{{\"type\":\"done\",\"count\":{count}}}"));
    assert!(
        matches!(
            within(1000, "the close", conn.next()).await,
            Some(Err(Error::Closed {
                code: Some(1000),
                ..
            }))
        ),
        "the server's close ends the stream"
    );
    assert_eq!(within(1000, "the end", conn.next()).await, None);
}

/// Defect 7 with the default capacity (65,536): a flood of 70,000 messages into a `ReSocket`
/// and a `Connection` that nobody polls. Written against the API the old core had too, so it
/// also runs there: the old inbox kept all 70,001 messages, so its first item was `seq 0`.
#[wasm_bindgen_test]
async fn unpolled_streams_stay_within_the_default_inbox() {
    let count = 70_000u64;
    let dropped = count + 1 - 65_536;
    let lagged = format!("Lagged {{ dropped: {dropped} }}");
    let query = format!("&count={count}&size=24");

    let client = client_id("inbox-default");
    let mut s = ReSocket::connect(&ws_url("flood", &client, &query), Options::default()).unwrap();
    assert!(
        eventually(60_000, || s.stats().messages_in == count + 1).await,
        "{} of {} messages arrived",
        s.stats().messages_in,
        count + 1
    );
    match within(1000, "the first item", s.next()).await {
        Some(Err(e)) => assert_eq!(format!("{e:?}"), lagged),
        other => panic!("expected Err({lagged}) first, got {other:?}"),
    }
    let first_kept = text_of(within(1000, "the first kept message", s.next()).await);
    assert!(
        first_kept.starts_with(&flood_prefix(dropped)),
        "{first_kept}"
    );
    s.close(None, None).unwrap();

    let client = client_id("inbox-default-conn");
    let mut conn =
        Connection::open(&ws_url("flood", &client, &format!("{query}&close=1000"))).unwrap();
    assert!(
        eventually(60_000, || conn.close_event().is_some()).await,
        "the server's close after the flood never came"
    );
    match within(1000, "the first item", conn.next()).await {
        Some(Err(e)) => assert_eq!(format!("{e:?}"), lagged),
        other => panic!("expected Err({lagged}) first, got {other:?}"),
    }
    let first_kept = text_of(within(1000, "the first kept message", conn.next()).await);
    assert!(
        first_kept.starts_with(&flood_prefix(dropped)),
        "{first_kept}"
    );
}

/// A waker that counts its wakes; `Arc::strong_count` of it tells how many clones exist.
struct CountingWake(AtomicUsize);

impl ArcWake for CountingWake {
    fn wake_by_ref(arc: &Arc<Self>) {
        arc.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountingWake {
    fn new() -> Arc<Self> {
        Arc::new(CountingWake(AtomicUsize::new(0)))
    }

    fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Clones of `counter`'s waker held elsewhere: all but the test's own `Arc` and `waker`.
fn clones_held(counter: &Arc<CountingWake>) -> usize {
    Arc::strong_count(counter) - 2
}

/// Defect 7: `Sink::poll_ready` polled again and again while the socket is not open used to
/// push one waker clone per poll into the state wakers (1,000 polls: 1,000 clones, until the
/// next state change). One task's waker is kept once, woken at the state change, then let go.
#[wasm_bindgen_test]
async fn resocket_poll_ready_while_not_open_keeps_one_waker_per_task() {
    let client = client_id("wakers-resocket");
    control("refuse", &format!("client={client}&ms=60000")).await;
    let mut s = ReSocket::connect(&ws_url("echo", &client, ""), fast()).unwrap();
    let counter = CountingWake::new();
    let waker = futures::task::waker(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    // Connecting (its first attempt is refused), then reconnecting, then connecting again.
    for round in 0..3 {
        assert!(
            !matches!(s.state(), State::Open),
            "round {round}: {:?}",
            s.state()
        );
        let wakes = counter.wakes();
        for _ in 0..1000 {
            assert!(Pin::new(&mut s).poll_ready(&mut cx).is_pending());
        }
        assert!(
            clones_held(&counter) <= 1,
            "round {round}, {:?}: {} waker clones held after 1,000 polls by one task",
            s.state(),
            clones_held(&counter)
        );
        assert!(
            eventually(10_000, || counter.wakes() > wakes).await,
            "round {round}: the state change woke the task ({:?})",
            s.state()
        );
        assert_eq!(clones_held(&counter), 0, "woken, then let go");
    }
    control("refuse", &format!("client={client}&ms=0")).await;
    s.close(None, None).unwrap();
}

/// Defect 7: the same for a `Connection` while CONNECTING, through both of its waits on the
/// open/close events: the Sink's `poll_ready` and `opened()`. One task: one clone, whichever
/// it polls.
#[wasm_bindgen_test]
async fn connection_poll_ready_and_opened_while_connecting_keep_one_waker_per_task() {
    let client = client_id("wakers-connection");
    control("refuse", &format!("client={client}&ms=60000")).await;
    let mut conn = Connection::open(&ws_url("echo", &client, "")).unwrap();
    let counter = CountingWake::new();
    let waker = futures::task::waker(Arc::clone(&counter));
    let mut cx = Context::from_waker(&waker);
    {
        let mut opened = Box::pin(conn.opened());
        for _ in 0..1000 {
            assert!(opened.as_mut().poll(&mut cx).is_pending());
        }
    }
    for _ in 0..1000 {
        assert!(Pin::new(&mut conn).poll_ready(&mut cx).is_pending());
    }
    assert!(
        clones_held(&counter) <= 1,
        "{} waker clones held after 2,000 polls by one task",
        clones_held(&counter)
    );
    // The refused upgrade closes the socket: the task is woken and the clone let go.
    assert!(
        eventually(10_000, || counter.wakes() > 0).await,
        "the close woke the task"
    );
    assert_eq!(clones_held(&counter), 0, "woken, then let go");
    assert!(matches!(
        Pin::new(&mut conn).poll_ready(&mut cx),
        Poll::Ready(Err(_))
    ));
    control("refuse", &format!("client={client}&ms=0")).await;
}

/// `Stats::in_flight` (and the copies behind it) follows `bufferedAmount` when nothing more is
/// sent: once the browser has handed everything to the network, nothing is left in flight. (The
/// record was trimmed only by the next send, so after an upload it kept its last copies.)
#[wasm_bindgen_test]
async fn in_flight_empties_once_the_socket_drained_without_another_send() {
    let client = client_id("in-flight-drain");
    let s = ReSocket::connect(&ws_url("echo", &client, ""), Options::default()).unwrap();
    wait_state(&s, "open", 10_000, |st| *st == State::Open).await;
    let payload = "x".repeat(64 * 1024);
    for _ in 0..32 {
        s.send(payload.as_str()).unwrap();
    }
    let drained = eventually(10_000, || s.buffered_amount() == 0).await;
    assert!(drained, "the socket never drained");
    assert_eq!(
        s.stats().in_flight,
        0,
        "bufferedAmount is 0: every message has left the browser"
    );
    s.close(None, None).unwrap();
}

/// `secure_only` judges the host the browser will connect to: the WHATWG parser reads `\` as
/// `/` in a ws/wss URL, so `ws://evil.com\@localhost/` goes to `evil.com` in plain text and must
/// be refused (a hand parser ending the authority only at `/ ? #` took it for localhost).
#[wasm_bindgen_test]
fn secure_only_judges_the_host_the_browser_connects_to() {
    for url in [
        "ws://evil.com\\@localhost/",
        "ws://evil.com\\@127.0.0.1:8080/feed",
    ] {
        let err = ReSocket::connect(url, Options::default().secure_only(true)).unwrap_err();
        assert!(matches!(err, Error::InsecureUrl { .. }), "{url}: {err:?}");
        assert!(err.to_string().contains("evil.com"), "{err}");
    }
    // The host it names is the parsed one, with nothing of the userinfo.
    let err = ReSocket::connect(
        "ws://user:pa55@evil.com/?token=s3cret",
        Options::default().secure_only(true),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("pa55") && !text.contains("s3cret"), "{text}");
}
