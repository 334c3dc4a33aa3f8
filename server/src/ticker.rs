//! `/ws/ticker`: price ticks on a server-wide clock.
//!
//! Tick `k` is due at `server_start + k * 1000 / rate` ms and carries
//! `seq = k`; a connection starts at the next due tick, so a client that
//! reconnects sees a gap equal to the ticks it missed. Tick `k` is for
//! `symbols[k % len]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::Message;
use serde_json::{Map, Value};

use crate::conn::{Conn, End, Out};
use crate::params::{shorten, ApiError, Params};
use crate::state::{epoch_ms, fnv1a64, State};
use crate::ws::{error_msg, parse_object, pong};

/// Symbols streamed when the query names none.
pub const DEFAULT_SYMBOLS: &str = "BTC,ETH,SOL,ADA,DOT";
/// The most symbols one connection may follow.
pub const MAX_SYMBOLS: usize = 32;

/// Parameters of one ticker connection.
#[derive(Debug, Clone)]
pub struct TickerParams {
    /// Ticks per second.
    pub rate: u64,
    /// The symbols, in order.
    pub symbols: Vec<String>,
}

/// Whether `s` is a valid symbol: 1..=12 characters of `[A-Z0-9]`.
pub fn valid_symbol(s: &str) -> bool {
    (1..=12).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Parses `rate` and `symbols` from the query.
pub fn parse(p: &Params) -> Result<TickerParams, ApiError> {
    let rate = p.int("rate", 10, 1..=1000)?;
    let symbols = parse_symbols(p)?;
    Ok(TickerParams { rate, symbols })
}

/// Parses `symbols` from the query (default [`DEFAULT_SYMBOLS`]): distinct, in order.
pub fn parse_symbols(p: &Params) -> Result<Vec<String>, ApiError> {
    let raw = p.raw("symbols").unwrap_or(DEFAULT_SYMBOLS);
    let mut symbols: Vec<String> = Vec::new();
    for s in raw.split(',') {
        if !valid_symbol(s) {
            return Err(ApiError::bad(format!(
                "invalid symbols={}: symbol {} must be 1..=12 characters of [A-Z0-9]",
                shorten(raw),
                shorten(s)
            )));
        }
        if !symbols.iter().any(|x| x == s) {
            symbols.push(s.to_owned());
        }
    }
    if symbols.len() > MAX_SYMBOLS {
        return Err(ApiError::bad(format!(
            "invalid symbols={}: at most {MAX_SYMBOLS} symbols allowed",
            shorten(raw)
        )));
    }
    Ok(symbols)
}

/// The deterministic price of `symbol` at tick `k`: a base derived from
/// the symbol, slow and fast sine waves and a little hashed noise, rounded
/// to 2 decimals.
pub fn price(symbol: &str, k: u64) -> f64 {
    let h = fnv1a64(symbol.as_bytes());
    let magnitude = 10f64.powi((h % 5) as i32);
    let base = magnitude * (1.0 + ((h >> 8) % 900) as f64 / 100.0);
    let phase = |shift: u32| ((h >> shift) % 6283) as f64 / 1000.0;
    let t = k as f64;
    let wave = 0.04 * (t / 211.0 + phase(20)).sin()
        + 0.015 * (t / 37.0 + phase(32)).sin()
        + 0.004 * (t / 7.3 + phase(44)).sin();
    let noise_hash = fnv1a64(&(h ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15)).to_le_bytes());
    let noise = ((noise_hash % 2001) as f64 - 1000.0) / 1000.0 * 0.001;
    let p = base * (1.0 + wave + noise);
    (p * 100.0).round() / 100.0
}

/// The JSON text of tick `k`.
pub fn tick_text(k: u64, symbol: &str) -> String {
    format!(
        "{{\"type\":\"tick\",\"seq\":{k},\"symbol\":\"{symbol}\",\"price\":{:.2},\"ts\":{}}}",
        price(symbol, k),
        epoch_ms()
    )
}

/// The first tick due at or after `elapsed` since the server start.
fn next_due(elapsed: Duration, rate: u64) -> u64 {
    let us = elapsed.as_micros() as u64;
    us.saturating_mul(rate).div_ceil(1_000_000)
}

fn due(start: Instant, k: u64, rate: u64) -> Instant {
    start + Duration::from_micros(k.saturating_mul(1_000_000) / rate)
}

/// Runs one ticker connection.
pub async fn run(mut conn: Conn, state: Arc<State>, p: TickerParams) -> Result<(), End> {
    let TickerParams { rate, mut symbols } = p;
    let start = state.start();
    let mut k = next_due(start.elapsed(), rate);
    loop {
        tokio::select! {
            biased;
            c = conn.out.next_ctl() => conn.out.apply(c).await?,
            m = conn.inbound.recv() => match m {
                Some(m) => inbound(&mut conn.out, &mut symbols, m).await?,
                None => return Ok(()),
            },
            _ = tokio::time::sleep_until(due(start, k, rate).into()) => {
                if let Some(until) = conn.out.silent_until() {
                    // Ticks due while silent are skipped, not delayed.
                    k = k.max(next_due(until.saturating_duration_since(start), rate));
                    continue;
                }
                if !symbols.is_empty() {
                    let sym = &symbols[(k % symbols.len() as u64) as usize];
                    conn.out.send(Message::Text(tick_text(k, sym).into())).await?;
                }
                k += 1;
            }
        }
    }
}

async fn inbound(out: &mut Out, symbols: &mut Vec<String>, msg: Message) -> Result<(), End> {
    let Some(obj) = parse_object(out, msg).await? else {
        return Ok(());
    };
    let kind = obj.get("type").and_then(Value::as_str).map(str::to_owned);
    let reply = match kind.as_deref() {
        Some(kind) => match request(symbols, kind, obj) {
            Some(reply) => reply,
            None => error_msg(&format!("unknown message type {}", shorten(kind))),
        },
        None => error_msg("missing string field \"type\""),
    };
    out.send(reply).await?;
    Ok(())
}

/// The answer to a ticker request of type `kind` (`ping`, `subscribe`, `unsubscribe`), applied
/// to `symbols`; `None` for any other type.
fn request(symbols: &mut Vec<String>, kind: &str, obj: Map<String, Value>) -> Option<Message> {
    if kind == "ping" {
        return Some(pong(obj));
    }
    if kind != "subscribe" && kind != "unsubscribe" {
        return None;
    }
    let list = match symbol_list(obj.get("symbols")) {
        Ok(list) => list,
        Err(e) => return Some(error_msg(&e)),
    };
    if kind == "subscribe" {
        let mut next = symbols.clone();
        for s in list {
            if !next.contains(&s) {
                next.push(s);
            }
        }
        if next.len() > MAX_SYMBOLS {
            return Some(error_msg(&format!(
                "at most {MAX_SYMBOLS} symbols per connection"
            )));
        }
        *symbols = next;
    } else {
        symbols.retain(|s| !list.contains(s));
    }
    let reply = serde_json::json!({ "type": "subscribed", "symbols": symbols });
    Some(Message::Text(reply.to_string().into()))
}

/// The ticker's feed carried by another endpoint (`/ws/resume?symbols=`): ticks for the
/// symbols in turn, and the answers to the ticker's requests. The endpoint numbers the ticks.
#[derive(Debug, Clone)]
pub struct Market {
    symbols: Vec<String>,
    ticks: u64,
}

impl Market {
    /// A feed of `symbols`, starting with the first.
    pub fn new(symbols: Vec<String>) -> Self {
        Market { symbols, ticks: 0 }
    }

    /// The next tick's JSON text, carrying `seq` (its price is the ticker's at `seq`); `None`
    /// while no symbol is subscribed.
    pub fn tick(&mut self, seq: u64) -> Option<String> {
        if self.symbols.is_empty() {
            return None;
        }
        let sym = &self.symbols[(self.ticks % self.symbols.len() as u64) as usize];
        self.ticks += 1;
        Some(tick_text(seq, sym))
    }

    /// The answer to a ticker request in `text` (a JSON object of type `ping`, `subscribe` or
    /// `unsubscribe`) as JSON text; `None` for any other message.
    pub fn answer(&mut self, text: &str) -> Option<String> {
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(text) else {
            return None;
        };
        let kind = obj.get("type").and_then(Value::as_str)?.to_owned();
        match request(&mut self.symbols, &kind, obj)? {
            Message::Text(t) => Some(t.as_str().to_owned()),
            _ => None,
        }
    }
}

fn symbol_list(v: Option<&Value>) -> Result<Vec<String>, String> {
    let Some(Value::Array(items)) = v else {
        return Err("\"symbols\" must be an array of strings".into());
    };
    items
        .iter()
        .map(|item| match item.as_str() {
            Some(s) if valid_symbol(s) => Ok(s.to_owned()),
            _ => Err(format!(
                "invalid symbol {item}: must be 1..=12 characters of [A-Z0-9]"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_is_deterministic_and_smooth() {
        for sym in ["BTC", "ETH", "X"] {
            let mut last = price(sym, 0);
            assert!(last > 0.0);
            for k in 1..5000 {
                let p = price(sym, k);
                assert_eq!(p, price(sym, k));
                assert!(p > 0.0);
                assert!((p - last).abs() / last < 0.01, "{sym} {k}: {last} -> {p}");
                assert_eq!((p * 100.0).round() / 100.0, p);
                last = p;
            }
        }
        assert_ne!(price("BTC", 7), price("ETH", 7));
    }

    #[test]
    fn due_and_next_due_agree() {
        let start = Instant::now();
        for rate in [1, 3, 7, 10, 333, 1000] {
            for us in [0u64, 1, 999, 1000, 123_456, 7_654_321] {
                let e = Duration::from_micros(us);
                let k = next_due(e, rate);
                assert!(due(start, k, rate) >= start + e);
                if k > 0 {
                    assert!(due(start, k - 1, rate) < start + e);
                }
            }
        }
    }

    #[test]
    fn tick_shape() {
        let v: Value = serde_json::from_str(&tick_text(42, "BTC")).unwrap();
        assert_eq!(v["type"], "tick");
        assert_eq!(v["seq"], 42);
        assert_eq!(v["symbol"], "BTC");
        assert!(v["price"].as_f64().unwrap() > 0.0);
        assert!(v["ts"].as_u64().unwrap() > 1_600_000_000_000);
    }

    #[test]
    fn market_ticks_and_answers() {
        let mut m = Market::new(vec!["BTC".into(), "ETH".into()]);
        let t: Value = serde_json::from_str(&m.tick(7).unwrap()).unwrap();
        assert_eq!(
            (t["seq"].as_u64(), t["symbol"].as_str()),
            (Some(7), Some("BTC"))
        );
        let t: Value = serde_json::from_str(&m.tick(9).unwrap()).unwrap();
        assert_eq!(
            (t["seq"].as_u64(), t["symbol"].as_str()),
            (Some(9), Some("ETH"))
        );
        assert_eq!(
            m.answer(r#"{"type":"ping","id":3}"#).unwrap(),
            r#"{"id":3,"type":"pong"}"#
        );
        let r = m
            .answer(r#"{"type":"subscribe","symbols":["XRP"]}"#)
            .unwrap();
        assert_eq!(r, r#"{"symbols":["BTC","ETH","XRP"],"type":"subscribed"}"#);
        let r = m
            .answer(r#"{"type":"unsubscribe","symbols":["BTC","ETH","XRP"]}"#)
            .unwrap();
        assert_eq!(r, r#"{"symbols":[],"type":"subscribed"}"#);
        assert_eq!(m.tick(10), None);
        let r = m
            .answer(r#"{"type":"subscribe","symbols":["bad"]}"#)
            .unwrap();
        assert!(r.contains("\"error\""), "{r}");
        // Anything else is not the feed's: the endpoint echoes it.
        for other in ["hello", "{\"type\":\"chat\"}", "[1]", "{\"seq\":1}"] {
            assert_eq!(m.answer(other), None, "{other}");
        }
    }

    #[test]
    fn symbols_validation() {
        let p = |s: &str| Params([("symbols".to_string(), s.to_string())].into());
        assert_eq!(parse(&p("BTC,ETH,BTC")).unwrap().symbols, ["BTC", "ETH"]);
        assert!(parse(&p("btc")).is_err());
        assert!(parse(&p("")).is_err());
        assert!(parse(&p("ABCDEFGHIJKLM")).is_err());
        let many: Vec<String> = (0..33).map(|i| format!("S{i}")).collect();
        assert!(parse(&p(&many.join(","))).is_err());
        assert_eq!(parse(&Params::default()).unwrap().symbols.len(), 5);
    }
}
