//! URL checks done before the browser sees a URL, and redaction for error messages.

use crate::error::{Error, Result};
use alloc::borrow::ToOwned;
use alloc::string::String;

/// Removes what may hold secrets from a URL before it goes into an error or a log line:
/// the query string, the fragment and any `user:password@` part.
///
/// ```
/// assert_eq!(
///     resocket::redact_url("wss://user:pw@example.com/feed?token=abc#x"),
///     "wss://example.com/feed?…"
/// );
/// assert_eq!(resocket::redact_url("ws://localhost:8080/ws"), "ws://localhost:8080/ws");
/// ```
pub fn redact_url(url: &str) -> String {
    // Checked slicing throughout (`get`, `split_*`): no panicking index paths in the wasm.
    let (base, had_query) = match url.split_once(['?', '#']) {
        Some((base, _)) => (base, true),
        None => (url, false),
    };
    let split = scheme_end(base).and_then(|i| base.split_at_checked(i + 3));
    let mut out = match split {
        Some((scheme, rest)) => {
            let authority = rest.split('/').next().unwrap_or_default();
            match authority.rsplit_once('@') {
                Some((_, host)) => {
                    let mut out = String::from(scheme);
                    out.push_str(host);
                    out.push_str(rest.get(authority.len()..).unwrap_or_default());
                    out
                }
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    if had_query {
        out.push_str("?…");
    }
    out
}

/// Where `://` starts in `url`, if it does (a byte scan: no substring searcher in the wasm).
fn scheme_end(url: &str) -> Option<usize> {
    url.as_bytes().windows(3).position(|w| w == b"://")
}

/// `c` as `char::escape_default` writes it (`\t`, `\'`, `\u{a0}`, printable ASCII as is),
/// without `core::fmt`.
fn escape(c: char) -> String {
    match c {
        '\t' => "\\t".into(),
        '\r' => "\\r".into(),
        '\n' => "\\n".into(),
        '\\' | '\'' | '"' => ['\\', c].iter().collect(),
        ' '..='~' => c.into(),
        _ => {
            let mut out = String::from("\\u{");
            let code = u32::from(c);
            let digits = (32 - code.leading_zeros()).div_ceil(4).max(1);
            for k in (0..digits).rev() {
                let d = (code >> (4 * k)) & 0xf;
                out.push(char::from_digit(d, 16).unwrap_or('0'));
            }
            out.push('}');
            out
        }
    }
}

/// Checks that `url` is an absolute `ws://` or `wss://` URL with a host.
///
/// With `secure_only`, `ws://` is accepted only for `localhost`, `127.0.0.1` and `[::1]`.
/// The browser still parses the URL fully when the socket is created; this catches the
/// mistakes it would accept silently (Chromium resolves `"notaurl"` against the page).
///
/// ```
/// use resocket::{validate_url, Error};
/// assert!(validate_url("wss://example.com/feed", true).is_ok());
/// assert!(validate_url("ws://127.0.0.1:8080/ws", true).is_ok());
/// assert!(matches!(validate_url("ws://example.com/", true), Err(Error::InsecureUrl { .. })));
/// assert!(matches!(validate_url("http://example.com/", false), Err(Error::InvalidScheme { .. })));
/// assert!(matches!(validate_url("notaurl", false), Err(Error::InvalidUrl { .. })));
/// ```
pub fn validate_url(url: &str, secure_only: bool) -> Result<()> {
    let redacted = || redact_url(url);
    let Some(sep) = scheme_end(url) else {
        return Err(Error::InvalidUrl {
            url: redacted(),
            reason: "not an absolute URL (expected ws://host/... or wss://host/...)".into(),
        });
    };
    // `sep` is where the ASCII `://` starts, so both halves are on char boundaries.
    let given_scheme = url.get(..sep).unwrap_or_default();
    let scheme = given_scheme.to_ascii_lowercase();
    if scheme != "ws" && scheme != "wss" {
        return Err(Error::InvalidScheme {
            scheme: given_scheme.to_owned(),
            url: redacted(),
        });
    }
    let rest = url.get(sep + 3..).unwrap_or_default();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(stripped) = host_port.strip_prefix('[') {
        match stripped.find(']') {
            Some(end) => host_port.get(..end + 2).unwrap_or(host_port),
            None => {
                return Err(Error::InvalidUrl {
                    url: redacted(),
                    reason: "unterminated IPv6 address".into(),
                })
            }
        }
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    if host.is_empty() {
        return Err(Error::InvalidUrl {
            url: redacted(),
            reason: "missing host".into(),
        });
    }
    if !host.starts_with('[') {
        if let Some(bad) = host.chars().find(|&c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '%' | '<' | '>' | '\\' | '^' | '|' | '"' | '`' | '{' | '}'
                )
        }) {
            return Err(Error::InvalidUrl {
                url: redacted(),
                reason: ["invalid character '", &escape(bad), "' in host"].concat(),
            });
        }
    }
    let after_host = host_port.get(host.len()..).unwrap_or_default();
    if let Some(port) = after_host.strip_prefix(':') {
        if !port.is_empty() && port.parse::<u16>().is_err() {
            return Err(Error::InvalidUrl {
                url: redacted(),
                reason: ["invalid port `", port, "`"].concat(),
            });
        }
    }
    if secure_only && scheme == "ws" {
        let local = matches!(
            host.to_ascii_lowercase().as_str(),
            "localhost" | "127.0.0.1" | "[::1]"
        );
        if !local {
            return Err(Error::InsecureUrl { url: redacted() });
        }
    }
    Ok(())
}

/// Checks subprotocol names the way the browser would, as an [`Error`] instead of a
/// `SyntaxError`.
pub(crate) fn validate_protocols(protocols: &[String]) -> Result<()> {
    for (i, p) in protocols.iter().enumerate() {
        let valid_char = |c: char| c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c);
        let reason = if p.is_empty() {
            Some("empty")
        } else if !p.chars().all(valid_char) {
            Some("contains a character not allowed in a token")
        } else if protocols[..i].contains(p) {
            Some("offered twice")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(Error::InvalidProtocol {
                protocol: p.clone(),
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
    fn escape_matches_escape_default() {
        for c in [
            '\t',
            '\r',
            '\n',
            '\\',
            '\'',
            '"',
            ' ',
            'a',
            '~',
            '%',
            '\0',
            '\u{7f}',
            '\u{a0}',
            '\u{2028}',
            '\u{3000}',
            '\u{10ffff}',
            '\u{1}',
        ] {
            assert_eq!(escape(c), c.escape_default().to_string(), "{c:?}");
        }
    }

    #[test]
    fn redaction_never_keeps_query_or_credentials() {
        for url in [
            "wss://h/p?token=secret",
            "wss://h/p#token=secret",
            "ws://u:secret@h/p?x=secret",
            "relative/path?secret",
        ] {
            assert!(!redact_url(url).contains("secret"), "{url}");
        }
        assert_eq!(redact_url("wss://h/a@b"), "wss://h/a@b");
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
    fn rejects_bad_urls_naming_them() {
        let cases = [
            ("", "not an absolute URL"),
            ("localhost:8080", "not an absolute URL"),
            ("ws://", "missing host"),
            ("ws://:80/x", "missing host"),
            ("ws://h:99999/", "invalid port `99999`"),
            ("ws://[::1/", "unterminated IPv6"),
            ("wss://exa mple.com/", "invalid character ' ' in host"),
            ("ws://a|b/", "invalid character '|' in host"),
        ];
        for (url, want) in cases {
            let err = validate_url(url, false).unwrap_err();
            assert!(err.to_string().contains(want), "{url}: {err}");
        }
        let err = validate_url("https://example.com/?token=s3cret", false).unwrap_err();
        assert_eq!(
            err,
            Error::InvalidScheme {
                scheme: "https".into(),
                url: "https://example.com/?…".into()
            }
        );
        assert!(!err.to_string().contains("s3cret"));
    }

    #[test]
    fn secure_only_allows_only_local_plain_ws() {
        assert!(validate_url("ws://localhost/", true).is_ok());
        assert!(validate_url("ws://127.0.0.1:1/", true).is_ok());
        assert!(validate_url("ws://[::1]:9/", true).is_ok());
        assert!(validate_url("wss://example.com/", true).is_ok());
        assert_eq!(
            validate_url("ws://example.com/?t=1", true),
            Err(Error::InsecureUrl {
                url: "ws://example.com/?…".into()
            })
        );
        assert!(validate_url("ws://example.com/", false).is_ok());
    }
}
