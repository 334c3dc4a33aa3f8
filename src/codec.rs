//! Codecs turn [`Message`]s into user types and back.

use serde::{de::DeserializeOwned, Serialize};

#[cfg(feature = "json")]
use crate::error::Error;
use crate::error::Result;
use crate::message::Message;

/// Converts user types to and from [`Message`]s for the typed layer.
///
/// A decode failure is returned as an error (the typed stream yields it as an `Err` item and
/// goes on); it never panics.
///
/// ```
/// # #[cfg(feature = "json")] {
/// use resocket::{Codec, Json, Message};
/// let msg = Json.encode(&vec![1, 2, 3]).unwrap();
/// assert_eq!(msg, Message::Text("[1,2,3]".into()));
/// let back: Vec<u8> = Json.decode(&msg).unwrap();
/// assert_eq!(back, vec![1, 2, 3]);
/// # }
/// ```
pub trait Codec {
    /// Encodes `value` into a message.
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Message>;
    /// Decodes a message into a `T`.
    fn decode<T: DeserializeOwned>(&self, message: &Message) -> Result<T>;
}

/// JSON: encodes to text messages (through serde_json); decodes text and binary (UTF-8 JSON)
/// with the crate's own reader, which accepts what serde_json accepts and reports what went
/// wrong and where (line and column), never the values it met.
///
/// ```
/// use resocket::{Codec, Json, Message, Error};
/// let err = Json.decode::<Vec<u32>>(&Message::Text("[1, x]".into())).unwrap_err();
/// assert!(matches!(err, Error::Decode { size: 6, kind: "text", .. }));
/// assert_eq!(
///     err.to_string(),
///     "could not decode text message of 6 bytes: not valid JSON (line 1, column 5)"
/// );
/// ```
#[cfg(feature = "json")]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Json;

#[cfg(feature = "json")]
impl Codec for Json {
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Message> {
        // serde_json's message may quote the value; only the fact is kept.
        serde_json::to_string(value)
            .map(Message::Text)
            .map_err(|_| Error::Encode {
                message: "the value cannot be written as JSON".into(),
            })
    }

    fn decode<T: DeserializeOwned>(&self, message: &Message) -> Result<T> {
        // One reader for both kinds of message: a binary message is checked for UTF-8 first, as
        // JSON must be.
        let text = match message {
            Message::Text(text) => Ok(text.as_str()),
            Message::Binary(bytes) => core::str::from_utf8(bytes).map_err(|e| {
                let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
                placed("not valid JSON", valid, valid.len())
            }),
        };
        text.and_then(|text| {
            crate::json::from_str(text).map_err(|e| placed(e.what(), text.as_bytes(), e.at))
        })
        .map_err(|reason| Error::Decode {
            message: reason,
            kind: message.kind(),
            size: message.len(),
        })
    }
}

/// `what` went wrong at byte `at` of `bytes`: with the line and column (1-based, the column in
/// bytes) of that byte.
#[cfg(feature = "json")]
#[cold]
fn placed(what: &str, bytes: &[u8], at: usize) -> alloc::string::String {
    use crate::text::{text, Piece::N, Piece::S};
    let before = bytes.get(..at).unwrap_or(bytes);
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    text(&[
        S(what),
        S(" (line "),
        N(line as u64),
        S(", column "),
        N((before.len() - line_start + 1) as u64),
        S(")"),
    ])
}

#[cfg(all(test, feature = "json"))]
mod tests {
    use super::*;
    use alloc::string::{String, ToString};
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Tick {
        seq: u64,
        symbol: String,
    }

    #[test]
    fn json_round_trip_text_and_binary() {
        let t = Tick {
            seq: 7,
            symbol: "BTC".into(),
        };
        let m = Json.encode(&t).unwrap();
        assert_eq!(Json.decode::<Tick>(&m).unwrap(), t);
        let Message::Text(text) = m else {
            panic!("json encodes to text")
        };
        let bin = Message::Binary(text.into_bytes());
        assert_eq!(Json.decode::<Tick>(&bin).unwrap(), t);
    }

    #[test]
    fn decode_error_reports_size_and_kind_without_payload() {
        let secret = r#"{"seq":"secret-token"}"#;
        let err = Json
            .decode::<Tick>(&Message::Text(secret.into()))
            .unwrap_err();
        // serde_json's own message quotes the value (`invalid type: string "secret-token"`).
        let shown = alloc::format!("{err} {err:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("does not match"), "{shown}");
        let bad = Json
            .decode::<Tick>(&Message::Text(r#"{"seq": secret}"#.into()))
            .unwrap_err();
        let shown = alloc::format!("{bad} {bad:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("not valid JSON (line 1"), "{shown}");
        match &err {
            Error::Decode { kind, size, .. } => {
                assert_eq!(*kind, "text");
                assert_eq!(*size, secret.len());
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = Json
            .decode::<Tick>(&Message::Binary(vec![0xff, 0xfe]))
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Decode {
                kind: "binary",
                size: 2,
                ..
            }
        ));
    }

    #[test]
    fn binary_not_utf8_is_not_valid_json_where_serde_json_says() {
        let cases: [&[u8]; 6] = [
            b"\xff\xfe",
            b"{\"seq\":1,\"symbol\":\"\xff\"}",
            b"{\"seq\":1,\n \"symbol\":\"ab\xc3\"}",
            b"\n\n  \xe2\x82",
            b"{\"seq\":1,\"symbol\":\"\xed\xa0\x80\"}",
            b"{\"seq\":\n2,\xf0",
        ];
        for bytes in cases {
            let want = serde_json::from_slice::<Tick>(bytes).unwrap_err();
            assert_eq!(want.classify(), serde_json::error::Category::Syntax);
            let got = Json
                .decode::<Tick>(&Message::Binary(bytes.to_vec()))
                .unwrap_err();
            let Error::Decode {
                message,
                kind,
                size,
            } = got
            else {
                panic!("{got:?}")
            };
            assert_eq!((kind, size), ("binary", bytes.len()));
            assert_eq!(
                message,
                alloc::format!(
                    "not valid JSON (line {}, column {})",
                    want.line(),
                    want.column()
                ),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn hostile_keys_are_a_decode_error_not_a_panic() {
        // serde_json 1.0.154 panics here (it reads the key from inside `é`): in a wasm app, a
        // panic aborts the app, so one message from a hostile server would end it.
        use alloc::collections::BTreeMap;
        let err = Json
            .decode::<BTreeMap<bool, u8>>(&Message::Text("{\"é\":1}".into()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not decode text message of 8 bytes: the JSON does not match the expected type (line 1, column 2)"
        );
    }

    #[test]
    fn encode_error_is_an_error() {
        use alloc::collections::BTreeMap;
        let mut bad = BTreeMap::new();
        bad.insert(vec![1u8], 1); // JSON object keys must be strings
        assert!(matches!(Json.encode(&bad), Err(Error::Encode { .. })));
    }
}
