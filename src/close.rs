//! Close codes: what a client may send, and which received codes are worth a retry.

use crate::error::{Error, Result};

/// Longest close reason the WebSocket protocol allows, in UTF-8 bytes.
pub const MAX_CLOSE_REASON_BYTES: usize = 123;

/// Checks a `close(code, reason)` request the way the browser would, but as an [`Error`]
/// instead of an `InvalidAccessError`/`SyntaxError` exception.
///
/// Only 1000 and 3000-4999 may be sent by page code; the reason may be at most 123 UTF-8 bytes.
///
/// ```
/// use resocket::{validate_close, Error};
/// assert!(validate_close(Some(4000), Some("done")).is_ok());
/// assert!(validate_close(None, None).is_ok());
/// assert_eq!(validate_close(Some(1006), None), Err(Error::InvalidCloseCode { code: 1006 }));
/// let long = "x".repeat(124);
/// assert_eq!(validate_close(Some(1000), Some(&long)), Err(Error::ReasonTooLong { bytes: 124 }));
/// ```
pub fn validate_close(code: Option<u16>, reason: Option<&str>) -> Result<()> {
    if let Some(code) = code {
        if code != 1000 && !(3000..=4999).contains(&code) {
            return Err(Error::InvalidCloseCode { code });
        }
    }
    if let Some(reason) = reason {
        if reason.len() > MAX_CLOSE_REASON_BYTES {
            return Err(Error::ReasonTooLong {
                bytes: reason.len(),
            });
        }
    }
    Ok(())
}

/// The default answer to "should a close with this code from the server be retried?".
///
/// 1000 (normal closure: the server meant it) and the codes that mean "do not retry unchanged"
/// (1002 protocol error, 1003 unsupported data, 1007 invalid payload, 1008 policy violation,
/// 1009 message too big, 1010 missing extension, 1015 TLS failure) end in `Failed`.
/// Everything else retries: 1001 (going away; proxies and restarts), 1005, 1006 (dropped),
/// 1011, 1012 (restart), 1013 (try again later), 1014, and the application range 3000-4999.
///
/// ```
/// use resocket::default_should_retry;
/// assert!(default_should_retry(1006));
/// assert!(default_should_retry(1001));
/// assert!(default_should_retry(4001));
/// assert!(!default_should_retry(1000));
/// assert!(!default_should_retry(1008));
/// ```
pub fn default_should_retry(code: u16) -> bool {
    !matches!(code, 1000 | 1002 | 1003 | 1007 | 1008 | 1009 | 1010 | 1015)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_client_sendable_code_is_accepted_and_nothing_else() {
        for code in 0..=u16::MAX {
            let ok = validate_close(Some(code), None).is_ok();
            assert_eq!(
                ok,
                code == 1000 || (3000..=4999).contains(&code),
                "code {code}"
            );
        }
    }

    #[test]
    fn reason_limit_counts_utf8_bytes_not_chars() {
        let ok = "é".repeat(61); // 122 bytes
        assert!(validate_close(Some(1000), Some(&ok)).is_ok());
        let bad = "é".repeat(62); // 124 bytes, 62 chars
        assert_eq!(
            validate_close(Some(1000), Some(&bad)),
            Err(Error::ReasonTooLong { bytes: 124 })
        );
        assert!(validate_close(None, Some(&"a".repeat(123))).is_ok());
    }

    #[test]
    fn retry_policy_matches_the_design() {
        for code in [1000, 1002, 1003, 1007, 1008, 1009, 1010, 1015] {
            assert!(!default_should_retry(code), "{code} must not retry");
        }
        for code in [1001, 1005, 1006, 1011, 1012, 1013, 1014, 3000, 4000, 4999] {
            assert!(default_should_retry(code), "{code} must retry");
        }
    }
}
