//! Helpers shared by the browser tests: the real server's address (handed in at build time by
//! `npm test` through `RESOCKET_TEST_SERVER`), its stats and fault-injection API, and timing.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::Value;

/// Base WebSocket URL of the test server, e.g. `ws://127.0.0.1:40123`.
pub fn server() -> &'static str {
    option_env!("RESOCKET_TEST_SERVER").unwrap_or("ws://127.0.0.1:8080")
}

/// HTTP base URL of the test server.
pub fn http() -> String {
    server().replacen("ws://", "http://", 1)
}

/// A client id no other test uses, so the server's per-client stats belong to one test.
pub fn client_id(name: &str) -> String {
    format!("{name}-{}", (js_sys::Math::random() * 1e12) as u64)
}

/// `ws://.../ws/{endpoint}?client={client}{extra}`.
pub fn ws_url(endpoint: &str, client: &str, extra: &str) -> String {
    format!("{}/ws/{endpoint}?client={client}{extra}", server())
}

async fn get_json(path: &str) -> Value {
    let url = format!("{}{path}", http());
    let response = gloo_net::http::Request::get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("test server not reachable at {url}: {e}"));
    assert!(response.ok(), "{url} answered {}", response.status());
    response.json().await.expect("server answers JSON")
}

/// The server's stats for one client.
pub async fn stats(client: &str) -> Value {
    get_json(&format!("/stats?client={client}")).await
}

/// Calls the fault-injection API, e.g. `control("close", "client=a&code=4001&reason=bye")`.
pub async fn control(verb: &str, query: &str) -> Value {
    get_json(&format!("/control/{verb}?{query}")).await
}

/// Sleeps on the browser's timer.
pub async fn sleep(ms: u64) {
    gloo_timers::future::sleep(Duration::from_millis(ms)).await;
}

/// Polls `stats(client)` until `check` accepts it, for at most `timeout_ms`; returns the last
/// stats either way, so the caller asserts on real values.
pub async fn wait_for_stats(
    client: &str,
    timeout_ms: u64,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let start = js_sys::Date::now();
    loop {
        let s = stats(client).await;
        if check(&s) || js_sys::Date::now() - start > timeout_ms as f64 {
            return s;
        }
        sleep(20).await;
    }
}

/// Awaits `fut` for at most `ms`, failing the test with `what` on timeout. Also when `fut` is
/// only found ready because the timer woke the task: its own wake never came.
pub async fn within<T>(ms: u64, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    use futures::future::{select, Either};
    let start = js_sys::Date::now();
    let fut = std::pin::pin!(fut);
    let timer = std::pin::pin!(sleep(ms));
    match select(fut, timer).await {
        Either::Left((value, _)) if js_sys::Date::now() - start < ms as f64 => value,
        _ => panic!("timed out after {ms} ms waiting for {what}"),
    }
}

/// Retries after 100, 200, 400, 400... ms: no jitter, so delays can be compared exactly.
pub fn fast() -> resocket::Options {
    resocket::Options::default().backoff(resocket::Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(400),
        factor: 2.0,
        jitter: resocket::Jitter::None,
    })
}

/// Polls the socket's state until `f` accepts it, failing the test after `ms`.
pub async fn wait_state(
    s: &resocket::ReSocket,
    what: &str,
    ms: u64,
    f: impl Fn(&resocket::State) -> bool,
) {
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
