//! Leptos ticker: typed JSON ticks from the resocket server, through `resocket-leptos`.
//!
//! The page is served by the project's server (`/leptos/` in the tests) and connects to the
//! same origin's `/ws/ticker`; `?client=ID` keys the server's stats and fault injection.
//! "Unmount" removes the component: its socket closes and its listeners go away, which the
//! footer shows with `resocket::live_listeners()`.
use std::collections::BTreeMap;
use std::time::Duration;

use leptos::prelude::*;
use resocket_leptos::{resocket, use_resocket_with, Options, State};
use serde::{Deserialize, Serialize};

/// What `/ws/ticker` sends.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Feed {
    Tick {
        seq: u64,
        symbol: String,
        price: f64,
    },
    Subscribed {
        symbols: Vec<String>,
    },
}

/// What the ticker accepts.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Command {
    Subscribe { symbols: Vec<String> },
}

#[component]
fn Ticker(url: String) -> impl IntoView {
    // The price board: symbol -> (last seq, last price), updated by every tick.
    let board = RwSignal::new(BTreeMap::<String, (u64, f64)>::new());
    let ticker = use_resocket_with::<Feed, Command>(&url, Options::default(), move |feed| {
        if let Feed::Tick { seq, symbol, price } = feed {
            board.update(|b| {
                b.insert(symbol.clone(), (*seq, *price));
            });
        }
    });

    let symbol = RwSignal::new(String::new());
    let send_error = RwSignal::new(None::<String>);
    let subscribe = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let symbols = vec![symbol.get_untracked().trim().to_uppercase()];
        send_error.set(
            ticker
                .send(Command::Subscribe { symbols })
                .err()
                .map(|e| e.to_string()),
        );
    };
    let last = move || match ticker.message.get() {
        Some(Feed::Tick { seq, symbol, price }) => format!("#{seq} {symbol} {price:.2}"),
        Some(Feed::Subscribed { symbols }) => format!("subscribed: {}", symbols.join(",")),
        None => "waiting for the first tick".into(),
    };

    view! {
        <section id="ticker">
            <p>
                <span id="state" class=move || ticker.state.get().name()>
                    {move || describe(&ticker.state.get())}
                </span>
                " ticks: " <span id="count">{move || ticker.stats.get().messages_in}</span>
                " reconnects: " <span id="reconnects">{move || ticker.stats.get().reconnects}</span>
            </p>
            <p id="last">{last}</p>
            <table id="board">
                <For
                    each=move || board.get().into_iter()
                    key=|(symbol, (seq, _))| (symbol.clone(), *seq)
                    children=|(symbol, (seq, price))| view! {
                        <tr class="row" data-symbol=symbol.clone() data-seq=seq>
                            <td>{symbol.clone()}</td>
                            <td>{format!("{price:.2}")}</td>
                            <td>"#"{seq}</td>
                        </tr>
                    }
                />
            </table>
            <form on:submit=subscribe>
                <input id="symbol" placeholder="XRP" bind:value=symbol />
                <button id="subscribe" type="submit">"Subscribe"</button>
            </form>
            <p id="error">
                {move || send_error.get().or_else(|| ticker.error.get().map(|e| e.to_string()))}
            </p>
        </section>
    }
}

/// The state badge's text.
fn describe(state: &State) -> String {
    match state {
        State::Reconnecting { attempt, delay } => {
            format!(
                "reconnecting (attempt {attempt} in {} ms)",
                delay.as_millis()
            )
        }
        State::Connecting { attempt } if *attempt > 0 => format!("connecting (attempt {attempt})"),
        other => other.name().to_string(),
    }
}

#[component]
fn App() -> impl IntoView {
    let url = ticker_url();
    let mounted = RwSignal::new(true);
    let listeners = RwSignal::new(resocket::live_listeners());
    if let Ok(handle) = set_interval_with_handle(
        move || listeners.set(resocket::live_listeners()),
        Duration::from_millis(100),
    ) {
        on_cleanup(move || handle.clear());
    }
    view! {
        <h1>"resocket + Leptos: ticker"</h1>
        <button id="toggle" on:click=move |_| mounted.update(|m| *m = !*m)>
            {move || if mounted.get() { "Unmount" } else { "Mount" }}
        </button>
        <Show when=move || mounted.get() fallback=|| view! { <p id="unmounted">"unmounted"</p> }>
            <Ticker url=url.clone() />
        </Show>
        <footer>"live resocket listeners: " <span id="listeners">{move || listeners.get()}</span></footer>
    }
}

/// `ws(s)://<this host>/ws/ticker?client=<?client= of the page, default leptos-ticker>&rate=20`.
fn ticker_url() -> String {
    let location = location();
    let scheme = match location.protocol().as_deref() {
        Ok("https:") => "wss",
        _ => "ws",
    };
    let host = location.host().unwrap_or_else(|_| "127.0.0.1:8080".into());
    let search = location.search().unwrap_or_default();
    let client = query_value(&search, "client").unwrap_or("leptos-ticker");
    format!("{scheme}://{host}/ws/ticker?client={client}&rate=20&symbols=BTC,ETH,SOL")
}

/// The value of `key` in a `?a=1&b=2` query string, if it is a safe client id.
fn query_value<'a>(search: &'a str, key: &str) -> Option<&'a str> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn main() {
    leptos::mount::mount_to_body(App);
}
