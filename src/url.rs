//! URL checks done before the browser sees a URL, and redaction for error messages.

use crate::error::{Error, Result};
use crate::text::{text, Piece::S};
use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

/// A URL as the WHATWG URL parser splits it: the parts every policy here works on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parts {
    /// The scheme, lower-case, without the `:`.
    pub(crate) scheme: String,
    /// The host as the parser serializes it (an IPv6 address in brackets), without the port.
    pub(crate) hostname: String,
    /// The host and the port, if any.
    pub(crate) host: String,
    /// The path.
    pub(crate) path: String,
    /// Whether there is a query string.
    pub(crate) query: bool,
    /// Whether there is a fragment (even an empty one).
    pub(crate) fragment: bool,
    /// The whole URL as the parser serializes it, `http`/`https` already mapped to `ws`/`wss`:
    /// what the socket connects to.
    pub(crate) href: String,
}

/// Parses `url` with the platform's WHATWG parser, as `new WebSocket(url)` does: the browser's
/// own `URL` in the browser, resolved against the document's base URL (a worker's location),
/// the `url` crate elsewhere (absolute URLs only). `http` and `https` become `ws` and `wss`.
/// `None` when it is not a URL.
#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
fn parse(url: &str) -> Option<Parts> {
    use wasm_bindgen::JsCast;
    let parts = url_parts(url).dyn_into::<js_sys::Array>().ok()?;
    Some(Parts {
        scheme: part(&parts, 0),
        hostname: part(&parts, 1),
        host: part(&parts, 2),
        path: part(&parts, 3),
        query: parts.get(4).is_truthy(),
        fragment: parts.get(5).is_truthy(),
        href: part(&parts, 6),
    })
}

/// The text at `i` of `urlParts`' answer (empty if it is not one). Out of line: one copy for
/// the five parts.
#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
#[inline(never)]
fn part(parts: &js_sys::Array, i: u32) -> String {
    parts.get(i).as_string().unwrap_or_default()
}

#[cfg(all(target_arch = "wasm32", not(feature = "npm")))]
#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/url.js")]
extern "C" {
    /// `[scheme, hostname, host, path, has query, has fragment, href]` of `url` as the
    /// browser's `URL` parses it against the base URL (`http`/`https` mapped to `ws`/`wss`),
    /// or `undefined`.
    #[wasm_bindgen(js_name = urlParts)]
    fn url_parts(url: &str) -> wasm_bindgen::JsValue;
}

/// The npm package's engine is handed URLs its class parsed with the runtime's `URL` (see
/// `src/js/mod.rs`), and links no JavaScript bindings: nothing in it parses.
#[cfg(all(target_arch = "wasm32", feature = "npm"))]
fn parse(_: &str) -> Option<Parts> {
    None
}

#[cfg(not(target_arch = "wasm32"))]
fn parse(url: &str) -> Option<Parts> {
    use crate::text::Piece::N;
    let mut parsed = ::url::Url::parse(url).ok()?;
    let mapped = match parsed.scheme() {
        "http" => Some("ws"),
        "https" => Some("wss"),
        _ => None,
    };
    if let Some(scheme) = mapped {
        // Special scheme to special scheme: the url crate allows it.
        parsed.set_scheme(scheme).ok()?;
    }
    let hostname = parsed.host_str().unwrap_or_default();
    let host = match parsed.port() {
        Some(port) => crate::text::text(&[S(hostname), S(":"), N(u64::from(port))]),
        None => hostname.to_owned(),
    };
    Some(Parts {
        scheme: parsed.scheme().to_owned(),
        hostname: hostname.to_owned(),
        host,
        path: parsed.path().to_owned(),
        query: parsed.query().is_some(),
        fragment: parsed.fragment().is_some(),
        href: parsed.as_str().to_owned(),
    })
}

/// The URL without what may hold secrets (userinfo, query string, fragment):
/// `scheme://host/path`, with `?…` where a query string or fragment was. A URL without a host
/// (`javascript:…`, `data:…`) is all path, any of it a payload: only its scheme is shown.
pub(crate) fn shown(parts: &Parts) -> String {
    let mut out = if parts.host.is_empty() {
        return text(&[S(&parts.scheme), S(":…")]);
    } else {
        text(&[S(&parts.scheme), S("://"), S(&parts.host), S(&parts.path)])
    };
    if parts.query || parts.fragment {
        out.push_str("?…");
    }
    out
}

/// What can be shown of a string that is not a URL at all: up to the first `?`, `#` or `@`, and
/// of something that looks like `scheme://...`, only the scheme.
fn shown_unparsed(url: &str) -> String {
    // Byte scans and checked slices (at ASCII bytes, so on char boundaries): no substring
    // searcher and no panicking slice in the wasm.
    let bytes = url.as_bytes();
    let end = bytes
        .iter()
        .position(|b| matches!(b, b'?' | b'#' | b'@'))
        .unwrap_or(bytes.len());
    let head = url.get(..end).unwrap_or_default();
    let scheme_end = head.as_bytes().windows(3).position(|w| w == b"://");
    match scheme_end {
        Some(i) => text(&[S(head.get(..i).unwrap_or_default()), S("://…")]),
        None if end < url.len() => text(&[S(head), S("…")]),
        None => head.to_owned(),
    }
}

/// Checks parsed parts: a `ws` or `wss` URL (`http` and `https` were mapped to them) without
/// a fragment (as the WebSocket standard requires); with `secure_only`, `ws` only to
/// `localhost`, `127.0.0.1` or `[::1]`. A pure function of the parts: the policy.
pub(crate) fn check(parts: &Parts, secure_only: bool) -> Result<()> {
    if parts.scheme != "ws" && parts.scheme != "wss" {
        return Err(Error::InvalidScheme {
            scheme: parts.scheme.clone(),
            url: shown(parts),
        });
    }
    if parts.fragment {
        return Err(Error::InvalidUrl {
            url: shown(parts),
            reason: "a WebSocket URL cannot have a fragment (#...)".into(),
        });
    }
    let local = matches!(parts.hostname.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    if secure_only && parts.scheme == "ws" && !local {
        return Err(Error::InsecureUrl { url: shown(parts) });
    }
    Ok(())
}

/// Parses and checks `url` (see [`validate_url`]), giving its parts.
pub(crate) fn parse_checked(url: &str, secure_only: bool) -> Result<Parts> {
    checked(url, parse(url), secure_only)
}

/// [`parse_checked`] of `url` with its parts already parsed (`None`: not a URL).
fn checked(url: &str, parts: Option<Parts>, secure_only: bool) -> Result<Parts> {
    let parts = parts.ok_or_else(|| Error::InvalidUrl {
        url: shown_unparsed(url),
        reason: "not a valid absolute URL (expected ws://host/... or wss://host/...)".into(),
    })?;
    check(&parts, secure_only)?;
    Ok(parts)
}

/// Where one attempt connects: a checked URL, how it may be shown, and the subprotocols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// The URL as parsed (resolved, `http(s)` mapped to `ws(s)`; checked).
    pub(crate) url: String,
    /// The URL without its secrets (see [`redact_url`]).
    pub(crate) shown: String,
    /// The subprotocols to offer (checked).
    pub(crate) protocols: Vec<String>,
}

/// Checks a URL and subprotocols for an attempt (see [`validate_url`], [`validate_protocols`]).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))] // natively, the simulator's
pub(crate) fn target(url: &str, protocols: Vec<String>, secure_only: bool) -> Result<Target> {
    target_of(url, parse(url), protocols, secure_only)
}

/// [`target`] of `url` with its parts already parsed (`None`: not a URL), as the npm package's
/// class hands them to its engine (the browser's `URL`, called from JavaScript).
pub(crate) fn target_of(
    url: &str,
    parts: Option<Parts>,
    protocols: Vec<String>,
    secure_only: bool,
) -> Result<Target> {
    let parts = checked(url, parts, secure_only)?;
    validate_protocols(&protocols)?;
    Ok(Target {
        shown: shown(&parts),
        url: parts.href,
        protocols,
    })
}

/// Removes what may hold secrets from a URL before it goes into an error or a log line:
/// the `user:password@` part, the query string and the fragment. The URL is parsed as the
/// browser parses it; of a string that is not a URL, only a harmless head is kept.
///
/// ```
/// assert_eq!(
///     resocket::redact_url("wss://user:pw@example.com/feed?token=abc#x"),
///     "wss://example.com/feed?…"
/// );
/// assert_eq!(resocket::redact_url("ws://localhost:8080/ws"), "ws://localhost:8080/ws");
/// ```
pub fn redact_url(url: &str) -> String {
    parse(url).map_or_else(|| shown_unparsed(url), |parts| shown(&parts))
}

/// Checks that `url` is an absolute `ws://` or `wss://` URL (or `http://`/`https://`, which
/// `WebSocket` maps to them), parsed as the browser parses it (the WHATWG URL standard: the
/// host it names is the one the socket connects to), without a fragment. In the browser,
/// relative URLs are resolved against the document's base URL first, as `new WebSocket(url)`
/// does.
///
/// With `secure_only`, `ws://` is accepted only for `localhost`, `127.0.0.1` and `[::1]`.
/// Errors name the URL without its userinfo, query string or fragment.
///
/// ```
/// use resocket::{validate_url, Error};
/// assert!(validate_url("wss://example.com/feed", true).is_ok());
/// assert!(validate_url("ws://127.0.0.1:8080/ws", true).is_ok());
/// assert!(matches!(validate_url("ws://example.com/", true), Err(Error::InsecureUrl { .. })));
/// assert!(validate_url("https://example.com/", true).is_ok()); // connects to wss://
/// assert!(matches!(validate_url("ftp://example.com/", false), Err(Error::InvalidScheme { .. })));
/// assert!(matches!(validate_url("notaurl", false), Err(Error::InvalidUrl { .. })));
/// ```
pub fn validate_url(url: &str, secure_only: bool) -> Result<()> {
    parse_checked(url, secure_only).map(|_| ())
}

/// Checks subprotocol names the way the browser would, as an [`Error`] instead of a
/// `SyntaxError`.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn validate_protocols(protocols: &[String]) -> Result<()> {
    for (i, p) in protocols.iter().enumerate() {
        // A token's bytes: visible ASCII but the separators (a byte of a non-ASCII character
        // is not ASCII). A byte test, not a search in a string of separators.
        let valid_byte = |b: u8| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')'
                        | b'<'
                        | b'>'
                        | b'@'
                        | b','
                        | b';'
                        | b':'
                        | b'\\'
                        | b'"'
                        | b'/'
                        | b'['
                        | b']'
                        | b'?'
                        | b'='
                        | b'{'
                        | b'}'
                )
        };
        let reason = if p.is_empty() {
            Some("empty")
        } else if !p.bytes().all(valid_byte) {
            Some("contains a character not allowed in a token")
        } else if protocols.iter().take(i).any(|q| q.eq_ignore_ascii_case(p)) {
            // As the browser: `echo` and `ECHO` are the same subprotocol.
            Some("offered twice")
        } else {
            None
        };
        if let Some(reason) = reason {
            // Named by its place in the list: a subprotocol may carry a token.
            return Err(Error::InvalidProtocol {
                index: i,
                reason: reason.into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn redaction_never_keeps_query_fragment_or_credentials() {
        for url in [
            "wss://h/p?token=secret",
            "wss://h/p#token=secret",
            "ws://u:secret@h/p?x=secret",
            "relative/path?secret",
            "/feed?token=secret&next=https://app",
            "wss://user:pa/ss@host",
            "wss://user:p#ss@host",
            "ws://[bad?token=secret",
            "javascript:alert('secret')",
            "data:text/plain,secret",
        ] {
            let shown = redact_url(url);
            assert!(
                !shown.contains("secret") && !shown.contains(":pa") && !shown.contains("p#ss"),
                "{url}: {shown}"
            );
        }
        assert_eq!(redact_url("wss://h/a@b"), "wss://h/a@b");
        assert_eq!(redact_url("WSS://Example.COM:443/x"), "wss://example.com/x");
        assert_eq!(redact_url("ws://h:8080/x?y"), "ws://h:8080/x?…");
    }

    #[test]
    fn accepts_valid_urls() {
        for url in [
            "ws://localhost:8080/ws/echo?client=a",
            "WSS://example.com",
            "wss://[2001:db8::1]:443/x",
            "ws://[::1]/",
            "wss://user:pw@example.com/",
        ] {
            assert!(validate_url(url, false).is_ok(), "{url}");
        }
    }

    #[test]
    fn rejects_bad_urls_naming_them_without_secrets() {
        for url in [
            "",
            "ws://",
            "ws://:80/x",
            "ws://h:99999/",
            "ws://[::1/",
            "wss://exa mple.com/",
            "notaurl",
        ] {
            let err = validate_url(url, false).unwrap_err();
            assert!(matches!(err, Error::InvalidUrl { .. }), "{url}: {err:?}");
            assert!(
                err.to_string().contains("not a valid absolute URL"),
                "{err}"
            );
        }
        let err = validate_url("ftp://example.com/?token=s3cret", false).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidScheme {
                scheme: "ftp".into(),
                url: "ftp://example.com/?…".into()
            }
        );
        // As the standard reads it, `localhost:8080` is a URL of scheme `localhost`.
        let err = validate_url("localhost:8080", false).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidScheme {
                scheme: "localhost".into(),
                url: "localhost:…".into()
            }
        );
        // The scheme is the parsed one: nothing before a `://` in the query is taken for it.
        let err = validate_url("/feed?token=SECRET&next=https://app", false).unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        let err = validate_url("wss://h/p#frag", false).unwrap_err();
        assert!(err.to_string().contains("fragment"), "{err}");
    }

    #[test]
    fn secure_only_judges_the_parsed_host() {
        assert!(validate_url("ws://localhost/", true).is_ok());
        assert!(validate_url("ws://[::1]:80/", true).is_ok());
        assert!(validate_url("wss://example.com/", true).is_ok());
        for url in [
            "ws://example.com/",
            "ws://evil.com\\@localhost/",
            "ws://localhost.evil.com/",
        ] {
            let err = validate_url(url, true).unwrap_err();
            assert!(matches!(err, Error::InsecureUrl { .. }), "{url}: {err:?}");
        }
    }

    #[test]
    fn protocols_repeated_in_another_case_are_refused() {
        let list = |l: &[&str]| l.iter().map(|p| String::from(*p)).collect::<Vec<_>>();
        assert!(validate_protocols(&list(&["echo", "chat"])).is_ok());
        assert_eq!(
            validate_protocols(&list(&["echo", "eCho"])),
            Err(Error::InvalidProtocol {
                index: 1,
                reason: "offered twice".into()
            })
        );
    }

    #[test]
    fn http_urls_map_to_ws_as_the_browser_does() {
        let parts = parse_checked("http://example.com/feed?x", true);
        assert!(matches!(parts, Err(Error::InsecureUrl { .. })), "{parts:?}");
        let parts = parse_checked("HTTPS://example.com:443/feed", true).unwrap();
        assert_eq!(parts.href, "wss://example.com/feed");
        assert_eq!(redact_url("http://h:8080/x?secret"), "ws://h:8080/x?…");
    }

    #[test]
    fn secure_only_allows_only_local_plain_ws() {
        assert!(validate_url("ws://127.0.0.1:1/", true).is_ok());
        assert_eq!(
            validate_url("ws://example.com/?t=1", true),
            Err(Error::InsecureUrl {
                url: "ws://example.com/?…".into()
            })
        );
        assert!(validate_url("ws://example.com/", false).is_ok());
    }
}
