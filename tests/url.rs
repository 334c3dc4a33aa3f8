//! URL policy in the browser, differentially: over a corpus of adversarial URLs, the crate's
//! decision (`validate_url` with `secure_only`, and the host `redact_url` names) is compared
//! with what the browser's own WHATWG parser, `new URL()`, makes of the same string, resolved
//! against the page as `new WebSocket()` resolves it (issue 18: `ws://evil.com\@localhost/`
//! passed `secure_only` as localhost while the browser connected to evil.com).
#![cfg(target_arch = "wasm32")]

use resocket::{redact_url, validate_url, Error};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

// The reference, written against the standard's text only: parse with the page's `URL`
// against the document, map http(s) to ws(s), refuse other schemes and fragments, and under
// secure_only let plain ws through only to a loopback name. `[verdict, scheme://host]`.
#[wasm_bindgen(inline_js = r#"
export function reference(s) {
  let u;
  try { u = new URL(s, document.baseURI); } catch { return ['invalid', '']; }
  let scheme = u.protocol.slice(0, -1);
  if (scheme === 'http') scheme = 'ws';
  if (scheme === 'https') scheme = 'wss';
  const origin = `${scheme}://${u.host}`;
  if (scheme !== 'ws' && scheme !== 'wss') return ['scheme', origin];
  if (u.href.includes('#')) return ['fragment', origin];
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  if (scheme === 'ws' && !local) return ['insecure', origin];
  return ['ok', origin];
}
"#)]
extern "C" {
    fn reference(s: &str) -> js_sys::Array;
}

const CORPUS: &[&str] = &[
    // Backslashes are slashes in special URLs: the authority ends at the first one.
    "ws://evil.com\\@localhost/",
    "ws://localhost\\@evil.com/",
    "ws://evil.com\\\\localhost/",
    "ws:\\\\evil.com\\x",
    "ws://evil.com/\\..\\@localhost",
    // Userinfo: everything before the last @ of the authority.
    "ws://localhost@evil.com/",
    "ws://evil.com@localhost/",
    "ws://localhost:pass@evil.com/",
    "ws://user:pa@ss@localhost/",
    "ws://[::1]:80@evil.com/",
    // Tabs and newlines are stripped anywhere; leading and trailing spaces trimmed.
    "ws://local\thost/",
    "ws://loc\nalhost:8080/",
    "ws://localhost\n.evil.com/",
    " ws://localhost/ ",
    "\tws://evil.com/",
    "ws://evil\r.com/",
    // Delimiters that end the host before an @.
    "ws://evil.com#@localhost",
    "ws://evil.com?@localhost/",
    "ws://evil.com;@localhost/",
    // Host canonicalisation: IPv4 forms, case, percent-encoding, full-width letters.
    "ws://0x7f.0.0.1/",
    "ws://2130706433/",
    "ws://127.1/",
    "ws://0177.0.0.1/",
    "ws://LOCALHOST/",
    "ws://%6cocalhost/",
    "ws://\u{ff4c}\u{ff4f}\u{ff43}\u{ff41}\u{ff4c}\u{ff48}\u{ff4f}\u{ff53}\u{ff54}/",
    // Trailing dots and look-alikes.
    "ws://localhost./",
    "ws://127.0.0.1./",
    "ws://localhost.evil.com/",
    "ws://127.0.0.1.evil.com/",
    "ws://localhost:80.evil.com/",
    // IPv6.
    "ws://[::1]/",
    "ws://[0:0:0:0:0:0:0:1]:9/",
    "ws://[::ffff:127.0.0.1]/",
    "ws://[::1/",
    "ws://[::1]x/",
    // Schemes, relative and scheme-relative URLs, fragments.
    "wss://evil.com/",
    "WSS://Evil.COM:443/x",
    "http://localhost/feed",
    "https://evil.com/feed",
    "http://evil.com/feed",
    "ftp://localhost/",
    "javascript:alert(1)",
    "/relative?token=x",
    "relative",
    "//evil.com/x",
    "ws:evil.com",
    "ws:/evil.com",
    "ws://localhost/#frag",
    "ws://localhost/#",
    "ws://h:99999/",
    "",
];

#[wasm_bindgen_test]
fn secure_only_decides_as_the_browsers_parser_sees_the_url() {
    let mut disagreements = Vec::new();
    for url in CORPUS {
        let expected = reference(url);
        let verdict = expected.get(0).as_string().unwrap_or_default();
        let origin = expected.get(1).as_string().unwrap_or_default();
        let ours = match validate_url(url, true) {
            Ok(()) => "ok",
            Err(Error::InvalidUrl { reason, .. }) if reason.contains("fragment") => "fragment",
            Err(Error::InvalidUrl { .. }) => "invalid",
            Err(Error::InvalidScheme { .. }) => "scheme",
            Err(Error::InsecureUrl { .. }) => "insecure",
            Err(other) => panic!("{url:?}: unexpected {other:?}"),
        };
        if ours != verdict {
            disagreements.push(format!(
                "{url:?}: crate {ours}, browser {verdict} ({origin})"
            ));
            continue;
        }
        // The host the crate names is the one the browser would connect to.
        if matches!(verdict.as_str(), "ok" | "insecure" | "fragment") {
            let shown = redact_url(url);
            let host_part = shown.split('/').take(3).collect::<Vec<_>>().join("/");
            if host_part != origin {
                disagreements.push(format!("{url:?}: crate names {shown}, browser {origin}"));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} URLs judged differently:\n{}",
        disagreements.len(),
        CORPUS.len(),
        disagreements.join("\n")
    );
}

#[wasm_bindgen_test]
fn the_bypass_of_issue_18_is_refused() {
    // The browser connects to evil.com here, in plain text.
    assert!(matches!(
        validate_url("ws://evil.com\\@localhost/", true),
        Err(Error::InsecureUrl { .. })
    ));
    assert_eq!(
        redact_url("ws://evil.com\\@localhost/"),
        "ws://evil.com/@localhost/"
    );
}

#[wasm_bindgen_test]
async fn no_secret_in_the_rust_apis_debug_output_url_or_errors() {
    use futures::StreamExt;
    use resocket::{ConnectOptions, Connection, Event, Options, ReSocket};
    const M: &str = "Zq7SECRETzq7";
    let url = format!("ws://user:{M}@127.0.0.1:9/x?token={M}");
    let options = Options::default()
        .protocols([format!("bearer.{M}")])
        .max_retries(0);
    let mut shown = vec![format!("{options:?}")];
    let socket = ReSocket::connect(&url, options).unwrap();
    let mut events = socket.events();
    shown.push(format!("{socket:?}"));
    shown.push(socket.url());
    let conn = Connection::open_with(&url, ConnectOptions::default().protocols([M])).unwrap();
    shown.push(format!("{conn:?}"));
    shown.push(format!("{:?}", conn.opened().await));
    // Port 9 refuses: every event up to Failed, with its errors.
    let deadline = js_sys::Date::now() + 10_000.0;
    while js_sys::Date::now() < deadline {
        let next =
            futures::future::select(events.next(), gloo_timers::future::TimeoutFuture::new(200))
                .await;
        if let futures::future::Either::Left((Some(event), _)) = next {
            let done = matches!(event, Event::Failed { .. });
            shown.push(format!("{event:?}"));
            if let Event::Error(e) = &event {
                shown.push(e.to_string());
            }
            if done {
                break;
            }
        }
    }
    shown.push(format!("{:?}", socket.state()));
    for (url, what) in [
        (format!("ws://h/#{M}"), "fragment"),
        (format!("ftp://h/?{M}"), "scheme"),
        (format!("ws://[{M}/"), "unparsable"),
        (format!("ws://h.example/?{M}"), "insecure"),
    ] {
        let err = ReSocket::connect(&url, Options::default().secure_only(true)).unwrap_err();
        shown.push(format!("{what}: {err} {err:?}"));
    }
    let err = ReSocket::connect("ws://h/", Options::default().protocols([M, M])).unwrap_err();
    shown.push(format!("{err} {err:?}"));
    let all = shown.join("\n");
    assert!(all.contains("Failed"), "the socket never failed:\n{all}");
    assert!(!all.contains(M), "the marker leaked:\n{all}");
}
