//! `npm run bench` step: the cost of decoding one message with resocket's `Json::decode` (the
//! crate's own JSON reader) against `serde_json::from_str`, natively (release, opt-level "s",
//! LTO, as the wasm builds), for the bench's flood messages and two richer types. Prints a table
//! and writes it as its section of the results file given as the first argument.

use resocket::{Codec, Json, Message};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

/// The bench clients' type (`bench/rust-stream`).
#[derive(Deserialize)]
#[allow(dead_code)]
struct Item {
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    v: String,
}

/// A dashboard tick: floats, an enum, an escaped string, a map.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Tick {
    symbol: String,
    price: f64,
    qty: f64,
    side: Side,
    note: String,
    venues: BTreeMap<String, u32>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
enum Side {
    Buy,
    Sell,
}

/// Nanoseconds per decode: the median of 7 runs of `n` decodes over `texts`.
fn per_message<T: DeserializeOwned>(texts: &[String], n: usize, ours: bool) -> f64 {
    let messages: Vec<Message> = texts.iter().map(|t| Message::Text(t.clone())).collect();
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for i in 0..n {
                let value: T = if ours {
                    Json.decode(&messages[i % messages.len()]).expect("valid")
                } else {
                    serde_json::from_str(&texts[i % texts.len()]).expect("valid")
                };
                black_box(value);
            }
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[3]
}

fn main() {
    let flood = |size: usize| -> Vec<String> {
        (0..1000)
            .map(|i| {
                let head = format!("{{\"seq\":{},\"v\":\"", 10_000_000 + i);
                format!(
                    "{head}{}\"}}",
                    "x".repeat(size.saturating_sub(head.len() + 2))
                )
            })
            .collect()
    };
    let ticks: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                "{{\"symbol\":\"BTC-USD\",\"price\":{}.{:02},\"qty\":0.{:04},\"side\":\"{}\",\
                 \"note\":\"fill \\\"{i}\\\" \\u00e9\",\"venues\":{{\"a\":{i},\"b\":7}}}}",
                60_000 + i,
                i % 100,
                i,
                if i % 2 == 0 { "Buy" } else { "Sell" }
            )
        })
        .collect();
    let values: Vec<String> = ticks
        .iter()
        .map(|t| format!("[{t},{t},null,true]"))
        .collect();
    type Case = (&'static str, Vec<String>, fn(&[String], usize, bool) -> f64);
    let cases: Vec<Case> = vec![
        (
            "flood message, 64 B, as `Item`",
            flood(64),
            per_message::<Item>,
        ),
        (
            "flood message, 256 B, as `Item`",
            flood(256),
            per_message::<Item>,
        ),
        (
            "flood message, 4 KB, as `Item`",
            flood(4096),
            per_message::<Item>,
        ),
        (
            "dashboard tick (floats, enum, escapes, map), as a struct",
            ticks,
            per_message::<Tick>,
        ),
        (
            "two ticks in an array, as `serde_json::Value`",
            values,
            per_message::<serde_json::Value>,
        ),
    ];
    let mut rows = Vec::new();
    for (name, texts, run) in cases {
        let bytes = texts.iter().map(String::len).sum::<usize>() / texts.len();
        let n = (20_000_000 / bytes.max(1)).clamp(20_000, 400_000);
        let ours = run(&texts, n, true);
        let theirs = run(&texts, n, false);
        let row = format!(
            "| {name} | {bytes} | {ours:.0} | {theirs:.0} | {:.2}x |",
            ours / theirs
        );
        println!("[json-decode] {row}");
        rows.push(row);
    }
    let section = format!(
        "<!-- json-decode:start -->\n## Decoding a message: `Json::decode` against serde_json\n\n\
         Natively (release, opt-level s, LTO), median of 7 runs, ns per message \
         (`bench/json-decode`):\n\n\
         | message | bytes | resocket `Json::decode` | `serde_json::from_str` | ratio |\n\
         |---|---|---|---|---|\n{}\n<!-- json-decode:end -->\n",
        rows.join("\n")
    );
    if let Some(file) = std::env::args().nth(1) {
        let old = std::fs::read_to_string(&file).unwrap_or_default();
        let next = match (
            old.find("<!-- json-decode:start"),
            old.find("<!-- json-decode:end -->"),
        ) {
            (Some(a), Some(b)) if a < b => {
                let end = b + "<!-- json-decode:end -->\n".len();
                format!(
                    "{}{section}{}",
                    &old[..a],
                    old.get(end..).unwrap_or_default()
                )
            }
            _ => format!("{}\n\n{section}", old.trim_end()),
        };
        std::fs::write(&file, next).expect("results file is writable");
        println!("[json-decode] wrote its section of {file}");
    }
}
