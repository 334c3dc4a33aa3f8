//! The `Origin` allowlist: a browser page on another site must not be able to open (or resume)
//! a session with the user's cookies (cross-site WebSocket hijacking).

use crate::error::{Error, Result};

/// Which `Origin` header values may connect.
///
/// ```
/// use resocket_resume::Origins;
/// let o = Origins::new(["https://app.example"]);
/// assert!(o.check(Some("https://app.example")).is_ok());
/// assert!(o.check(Some("https://evil.example")).is_err());
/// assert!(o.check(None).is_ok()); // a non-browser client sends no Origin
/// assert!(o.clone().require_origin(true).check(None).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    allowed: Vec<String>,
    any: bool,
    require: bool,
}

impl Origins {
    /// Exactly these origins (`scheme://host[:port]`, compared ASCII case-insensitively, a
    /// trailing `/` ignored). A `*` in place of the port (`http://127.0.0.1:*`) allows any port.
    pub fn new<I, S>(allowed: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Origins {
            allowed: allowed.into_iter().map(|s| normalize(&s.into())).collect(),
            any: false,
            require: false,
        }
    }

    /// Every origin (for servers that authenticate by other means, e.g. a token in `hello`'s
    /// URL; never with cookie-based authentication).
    pub fn any() -> Self {
        Origins {
            allowed: Vec::new(),
            any: true,
            require: false,
        }
    }

    /// Also refuse requests without an `Origin` header (only browsers send one; default: allow).
    pub fn require_origin(mut self, require: bool) -> Self {
        self.require = require;
        self
    }

    /// Adds one more allowed origin.
    pub fn with(mut self, origin: &str) -> Self {
        self.allowed.push(normalize(origin));
        self
    }

    /// Whether `origin` (the header's value, `None` when absent) may connect.
    pub fn check(&self, origin: Option<&str>) -> Result<()> {
        let ok = match origin {
            None => !self.require,
            Some(o) => {
                let o = normalize(o);
                self.any || self.allowed.iter().any(|a| matches(a, &o))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::OriginNotAllowed {
                origin: origin.map(|o| o.chars().take(200).collect()),
            })
        }
    }
}

fn normalize(o: &str) -> String {
    o.trim().trim_end_matches('/').to_ascii_lowercase()
}

fn matches(pattern: &str, origin: &str) -> bool {
    match pattern.strip_suffix(":*") {
        Some(prefix) => {
            origin == prefix
                || origin
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .is_some_and(|port| {
                        !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                    })
        }
        None => pattern == origin,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_port_wildcards() {
        let o = Origins::new(["http://127.0.0.1:8080", "http://localhost:*"]);
        assert!(o.check(Some("http://127.0.0.1:8080")).is_ok());
        assert!(o.check(Some("HTTP://127.0.0.1:8080/")).is_ok());
        assert!(o.check(Some("http://127.0.0.1:8081")).is_err());
        assert!(o.check(Some("http://localhost:5173")).is_ok());
        assert!(o.check(Some("http://localhost")).is_ok());
        assert!(o.check(Some("http://localhost.evil.com:80")).is_err());
        assert!(o.check(Some("http://localhost:80x")).is_err());
        assert!(o.check(Some("null")).is_err());
        let e = o.check(Some("https://evil.example")).unwrap_err();
        assert!(e.to_string().contains("https://evil.example"), "{e}");
        assert!(Origins::any().check(Some("https://x")).is_ok());
    }
}
