//! The wire format (docs/PROTOCOL.md sections 2 and 3): app messages as they are, control frames
//! as text frames starting with U+0000 followed by a JSON object, and app text that itself starts
//! with U+0000 escaped by one more U+0000.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::message::Message;
use crate::session::SessionId;

/// The subprotocol a server selects to speak this protocol.
pub const PROTOCOL: &str = "resocket.resume.v1";
/// The largest control frame, in bytes (the U+0000 prefix included).
pub const MAX_CONTROL_BYTES: usize = 1024;
/// The largest sequence number (exact in JavaScript).
pub const MAX_SEQ: u64 = (1 << 53) - 1;

/// A control frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
pub enum Control {
    /// Client -> server, first on every connection.
    Hello {
        /// The session to resume, or `None` for a new one.
        sid: Option<String>,
        /// The last server seq the client received in order.
        recv: u64,
    },
    /// Server -> client, the answer to `hello`.
    Welcome {
        /// The session.
        sid: String,
        /// Whether the presented session was resumed.
        resumed: bool,
        /// The last client seq the server received.
        recv: u64,
        /// The last seq the server assigned.
        sent: u64,
        /// How long (ms) a session survives without a connection.
        ttl: u64,
    },
    /// The next app message has this seq.
    From {
        /// Its seq.
        seq: u64,
    },
    /// Every app message up to `seq` was received.
    Ack {
        /// The cumulative seq.
        seq: u64,
    },
    /// Please acknowledge now.
    Ackreq,
    /// Liveness probe.
    Ping,
    /// Answer to `ping`.
    Pong,
    /// The sender ends the session.
    Bye,
}

impl Control {
    /// The frame's `t`, for error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Control::Hello { .. } => "hello",
            Control::Welcome { .. } => "welcome",
            Control::From { .. } => "from",
            Control::Ack { .. } => "ack",
            Control::Ackreq => "ackreq",
            Control::Ping => "ping",
            Control::Pong => "pong",
            Control::Bye => "bye",
        }
    }

    /// The text frame carrying this control message.
    pub fn encode(&self) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        let mut s = String::with_capacity(json.len() + 1);
        s.push('\0');
        s.push_str(&json);
        s
    }

    /// The welcome for `sid` (the only frame that carries a session id out).
    pub(crate) fn welcome(sid: &SessionId, resumed: bool, recv: u64, sent: u64, ttl: u64) -> Self {
        Control::Welcome {
            sid: sid.expose().to_owned(),
            resumed,
            recv,
            sent,
            ttl,
        }
    }
}

/// A decoded inbound frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// An app message.
    App(Message),
    /// A control frame.
    Control(Control),
}

/// Decodes a text frame: an app text message (unescaped) or a control frame. Errors name the
/// problem, never the payload.
pub fn decode_text(text: String) -> Result<Frame, Error> {
    let Some(rest) = text.strip_prefix('\0') else {
        return Ok(Frame::App(Message::Text(text)));
    };
    if rest.starts_with('\0') {
        return Ok(Frame::App(Message::Text(rest.to_owned())));
    }
    if text.len() > MAX_CONTROL_BYTES {
        return Err(Error::Protocol(format!(
            "control frame of {} bytes, at most {MAX_CONTROL_BYTES} allowed",
            text.len()
        )));
    }
    match serde_json::from_str::<Control>(rest) {
        Ok(c) => Ok(Frame::Control(c)),
        Err(e) => Err(Error::Protocol(format!(
            "malformed control frame: {}",
            describe_json_error(&e)
        ))),
    }
}

/// A description of a JSON error that names the line/column and category, without echoing
/// input (serde's messages may quote values, which could be a session id).
fn describe_json_error(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => {
            "not a known control frame (bad or missing `t` or field)"
        }
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{what} at column {}", e.column())
}

/// The text frame for an app text message (escaped when it starts with U+0000).
pub fn encode_app_text(text: &str) -> String {
    if text.starts_with('\0') {
        let mut s = String::with_capacity(text.len() + 1);
        s.push('\0');
        s.push_str(text);
        s
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_text_survives_unchanged() {
        for t in [
            "",
            "hello",
            "\0",
            "\0\0x",
            "{\"t\":\"ack\",\"seq\":1}",
            "héllo \u{1F600}",
        ] {
            let wire = encode_app_text(t);
            assert_eq!(
                decode_text(wire).unwrap(),
                Frame::App(Message::Text(t.to_owned())),
                "{t:?}"
            );
        }
        // Ordinary text goes out as it is.
        assert_eq!(encode_app_text("abc"), "abc");
    }

    #[test]
    fn control_round_trip() {
        let all = [
            Control::Hello { sid: None, recv: 0 },
            Control::Hello {
                sid: Some("0123456789abcdef0123456789abcdef".into()),
                recv: 7,
            },
            Control::Welcome {
                sid: "0123456789abcdef0123456789abcdef".into(),
                resumed: true,
                recv: 3,
                sent: 9,
                ttl: 120_000,
            },
            Control::From { seq: 4 },
            Control::Ack { seq: MAX_SEQ },
            Control::Ackreq,
            Control::Ping,
            Control::Pong,
            Control::Bye,
        ];
        for c in all {
            let wire = c.encode();
            assert!(wire.starts_with("\0{\"t\":\""), "{wire:?}");
            assert_eq!(decode_text(wire).unwrap(), Frame::Control(c));
        }
        assert_eq!(Control::Ackreq.encode(), "\0{\"t\":\"ackreq\"}");
        assert_eq!(
            Control::From { seq: 1 }.encode(),
            "\0{\"t\":\"from\",\"seq\":1}"
        );
        // Unknown fields are ignored.
        assert_eq!(
            decode_text("\0{\"t\":\"ack\",\"seq\":2,\"x\":1}".into()).unwrap(),
            Frame::Control(Control::Ack { seq: 2 })
        );
    }

    #[test]
    fn bad_control_frames_are_protocol_errors_without_the_payload() {
        let secret = "feedfacefeedfacefeedfacefeedface";
        for bad in [
            format!("\0{{\"t\":\"hello\",\"sid\":\"{secret}\"}}"),
            format!("\0{{\"t\":\"nope\",\"sid\":\"{secret}\"}}"),
            "\0[1,2]".to_owned(),
            "\0{".to_owned(),
            format!("\0{{\"t\":\"ack\",\"seq\":\"{secret}\"}}"),
            format!("\0{{\"t\":\"ping\",\"pad\":\"{}\"}}", "x".repeat(2000)),
        ] {
            let e = decode_text(bad.clone()).unwrap_err().to_string();
            assert!(!e.contains(secret), "{e}");
            assert!(e.contains("control frame"), "{e}");
        }
    }
}
