//! Yew chat over `resocket-yew`: send and receive on the server's chat endpoint, with an
//! outbox indicator while disconnected (messages sent then go out on the next connection).
//!
//! The page is served by the project's server (`/yew/` in the tests) and connects to the same
//! origin's `/ws/chat`; `?client=ID` keys the server's stats and is the chat name, `?room=R`
//! picks the room. "Unmount" removes the component: its socket closes and its listeners go
//! away, which the footer shows with `resocket::live_listeners()`.
use std::rc::Rc;

use gloo_timers::callback::Interval;
use resocket_yew::{resocket, use_resocket_with, Options, State};
use serde::{Deserialize, Serialize};
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// What `/ws/chat` sends.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ChatIn {
    Chat {
        from: String,
        text: String,
        id: u64,
    },
    Join {
        name: String,
        online: u32,
    },
    Leave {
        name: String,
        online: u32,
    },
    Error {
        message: String,
    },
    #[serde(other)]
    Other,
}

/// What we send.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum ChatOut {
    Chat { text: String },
}

/// Every line received, in order (at most the last 200).
#[derive(Default, PartialEq)]
struct ChatLog {
    lines: Vec<ChatIn>,
}

impl Reducible for ChatLog {
    type Action = ChatIn;

    fn reduce(self: Rc<Self>, line: ChatIn) -> Rc<Self> {
        let keep = self.lines.len().saturating_sub(199);
        let mut lines = self.lines[keep..].to_vec();
        lines.push(line);
        Rc::new(ChatLog { lines })
    }
}

#[derive(Properties, PartialEq)]
struct ChatProps {
    url: AttrValue,
}

#[component]
fn Chat(props: &ChatProps) -> Html {
    let log = use_reducer(ChatLog::default);
    let chat = use_resocket_with::<ChatIn, ChatOut, _>(&props.url, Options::default(), {
        let log = log.dispatcher();
        move |line: &ChatIn| log.dispatch(line.clone())
    });

    let input = use_node_ref();
    let send_error = use_state(|| None::<String>);
    let onsubmit = {
        let (chat, input, send_error) = (chat.clone(), input.clone(), send_error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let Some(field) = input.cast::<HtmlInputElement>() else {
                return;
            };
            let text = field.value();
            if text.trim().is_empty() {
                return;
            }
            match chat.send(ChatOut::Chat { text }) {
                Ok(()) => {
                    field.set_value("");
                    send_error.set(None);
                }
                Err(error) => send_error.set(Some(error.to_string())),
            }
        })
    };

    let waiting = chat.stats.outbox_len;
    html! {
        <section id="chat">
            <p>
                <span id="state" class={chat.state.name()}>{ describe(&chat.state) }</span>
                { " reconnects: " }<span id="reconnects">{ chat.stats.reconnects }</span>
            </p>
            <p id="outbox" class={classes!((waiting > 0).then_some("pending"))}>
                if waiting > 0 {
                    { format!("{waiting} message(s) waiting for the connection") }
                } else {
                    { "outbox empty" }
                }
            </p>
            <ul id="log">
                { for log.lines.iter().map(line) }
            </ul>
            <form {onsubmit}>
                <input id="text" ref={input} placeholder="Say something" autocomplete="off" />
                <button id="send" type="submit">{ "Send" }</button>
            </form>
            <p id="error">
                { (*send_error).clone().or_else(|| chat.error.as_ref().map(|e| e.to_string())) }
            </p>
        </section>
    }
}

/// One line of the log.
fn line(line: &ChatIn) -> Html {
    match line {
        ChatIn::Chat { from, text, id } => html! {
            <li class="chat" data-id={id.to_string()}><b>{ from }</b>{ ": " }{ text }</li>
        },
        ChatIn::Join { name, online } => html! {
            <li class="presence">{ format!("{name} joined ({online} online)") }</li>
        },
        ChatIn::Leave { name, online } => html! {
            <li class="presence">{ format!("{name} left ({online} online)") }</li>
        },
        ChatIn::Error { message } => html! { <li class="server-error">{ message }</li> },
        ChatIn::Other => html! {},
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
fn App() -> Html {
    let url = use_memo((), |_| chat_url());
    let mounted = use_state(|| true);
    let listeners = use_state_eq(resocket::live_listeners);
    {
        let listeners = listeners.setter();
        use_effect_with((), move |_| {
            let interval = Interval::new(100, move || listeners.set(resocket::live_listeners()));
            move || drop(interval)
        });
    }
    let toggle = {
        let mounted = mounted.clone();
        Callback::from(move |_| mounted.set(!*mounted))
    };
    html! {
        <>
            <h1>{ "resocket + Yew: chat" }</h1>
            <button id="toggle" onclick={toggle}>{ if *mounted { "Unmount" } else { "Mount" } }</button>
            if *mounted {
                <Chat url={AttrValue::from((*url).clone())} />
            } else {
                <p id="unmounted">{ "unmounted" }</p>
            }
            <footer>{ "live resocket listeners: " }<span id="listeners">{ *listeners }</span></footer>
        </>
    }
}

/// `ws(s)://<this host>/ws/chat?client=<?client=, default yew-chat>&room=<?room=, default lobby>`.
fn chat_url() -> String {
    let location = web_sys::window().map(|w| w.location());
    let get = |f: fn(&web_sys::Location) -> Result<String, wasm_bindgen::JsValue>| {
        location
            .as_ref()
            .and_then(|l| f(l).ok())
            .unwrap_or_default()
    };
    let scheme = if get(web_sys::Location::protocol) == "https:" {
        "wss"
    } else {
        "ws"
    };
    let host = get(web_sys::Location::host);
    let search = get(web_sys::Location::search);
    let client = query_value(&search, "client").unwrap_or("yew-chat");
    let room = query_value(&search, "room").unwrap_or("lobby");
    format!("{scheme}://{host}/ws/chat?client={client}&room={room}")
}

/// The value of `key` in a `?a=1&b=2` query string, if it is a safe id.
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
    yew::Renderer::<App>::new().render();
}
