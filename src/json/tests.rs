//! The reader against serde_json's: the same documents give the same values, or the same kind of
//! error at the same place. Documents are written by hand for the corners and generated (valid,
//! then broken in random places) for the rest.

use super::{from_str, Kind};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Debug;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::error::Category;
use serde_json::Value;

/// Line and column of byte `at`, as the codec writes them.
fn place(text: &str, at: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..at];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |n| n + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    (line, at - line_start + 1)
}

/// What both made of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Tally {
    ok: usize,
    syntax: usize,
    eof: usize,
    data: usize,
}

/// Reads `text` as a `T` with both readers and checks they agree: equal values, or errors of the
/// same kind. (Places are not compared: serde_json places an error after the last byte it read,
/// this reader at the byte that is wrong; `errors_are_placed_at_the_wrong_byte` checks those.)
fn same<T: DeserializeOwned + PartialEq + Debug>(text: &str, tally: &mut Tally) {
    let ours = from_str::<T>(text);
    let theirs = quietly(|| serde_json::from_str::<T>(text));
    let Ok(theirs) = theirs else {
        // serde_json 1.0.154 panics on a key that starts with a multi-byte character where a
        // `bool` key is asked for (`bool_keys_of_any_text_are_an_error`).
        assert_eq!(ours.map(|_| ()).unwrap_err().kind, Kind::Data, "{text:?}");
        tally.data += 1;
        return;
    };
    match (ours, theirs) {
        // The one difference in kind, on purpose: a number beyond `f64` (`1e309`) where an integer
        // or no number at all is asked for is a data error here, found without reading the float.
        (Err(a), Err(b))
            if a.kind == Kind::Data && b.to_string().starts_with("number out of range") =>
        {
            tally.data += 1;
        }
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b, "{text:?}");
            tally.ok += 1;
        }
        (Err(a), Err(b)) => {
            let want = match b.classify() {
                Category::Syntax => Kind::Syntax,
                Category::Eof => Kind::Eof,
                Category::Data => Kind::Data,
                Category::Io => panic!("{text:?}: {b}"),
            };
            assert_eq!(a.kind, want, "{text:?}: serde_json says {b}");
            match a.kind {
                Kind::Syntax => tally.syntax += 1,
                Kind::Eof => tally.eof += 1,
                Kind::Data => tally.data += 1,
            }
            assert!(a.at <= text.len(), "{text:?}: at {}", a.at);
        }
        (a, b) => panic!("{text:?}: ours {a:?}, serde_json {b:?}"),
    }
}

std::thread_local! {
    static QUIET: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

/// Runs `f`, catching a panic, which is not printed (the panic hook prints every other panic
/// as before, on every thread).
fn quietly<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let before = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(|q| q.get()) {
                before(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let out = std::panic::catch_unwind(core::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    out
}

#[derive(Debug, PartialEq, Deserialize)]
enum E {
    Unit,
    New(u32),
    Tup(u8, i8),
    Struct { x: u16 },
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(untagged)]
enum Untagged {
    N(i64),
    F(f64),
    S(String),
    M { x: u8 },
    V(Vec<Untagged>),
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "type")]
enum Tagged {
    A { x: u8 },
    B,
}

#[derive(Debug, PartialEq, Deserialize)]
struct Newtype(String);

#[derive(Debug, PartialEq, Deserialize)]
struct Unit;

#[derive(Debug, PartialEq, Deserialize)]
struct Flat {
    #[serde(default)]
    id: u8,
    #[serde(flatten)]
    rest: BTreeMap<String, Value>,
}

/// A field of every kind serde has.
#[derive(Debug, PartialEq, Deserialize)]
struct All {
    #[serde(default)]
    a: u8,
    #[serde(default)]
    b: i32,
    #[serde(default)]
    c: u64,
    #[serde(default)]
    d: i64,
    #[serde(default)]
    e: f64,
    #[serde(default)]
    f: f32,
    #[serde(default)]
    g: bool,
    #[serde(default)]
    h: String,
    #[serde(default)]
    i: Option<char>,
    #[serde(default)]
    j: Option<Vec<i16>>,
    #[serde(default)]
    k: Option<(u8, String)>,
    #[serde(default)]
    l: BTreeMap<String, i64>,
    #[serde(default)]
    m: BTreeMap<u32, bool>,
    #[serde(default)]
    n: BTreeMap<i64, f64>,
    #[serde(default)]
    o: Option<E>,
    #[serde(default)]
    p: Option<Untagged>,
    #[serde(default)]
    q: Option<Tagged>,
    #[serde(default)]
    r: (),
    #[serde(default)]
    s: Option<Newtype>,
    #[serde(default)]
    t: Option<Box<All>>,
    #[serde(default)]
    u: BTreeMap<bool, u8>,
    #[serde(default)]
    v: Option<Unit>,
    #[serde(default)]
    w: Option<Flat>,
    #[serde(default)]
    x: Option<i128>,
    #[serde(default)]
    y: Option<u128>,
}

/// Every target type, on one document.
fn all_same(text: &str, tallies: &mut [Tally; 6]) {
    same::<Value>(text, &mut tallies[0]);
    same::<All>(text, &mut tallies[1]);
    same::<Vec<E>>(text, &mut tallies[2]);
    same::<Vec<Untagged>>(text, &mut tallies[3]);
    same::<BTreeMap<String, Tagged>>(text, &mut tallies[4]);
    same::<(u64, Option<String>, f64)>(text, &mut tallies[5]);
}

#[test]
fn corners_read_as_serde_json_reads_them() {
    let docs = [
        "",
        " ",
        "null",
        " true ",
        "false",
        "nul",
        "tru",
        "trux",
        "0",
        "-0",
        "-",
        "01",
        "1.",
        "1.e3",
        "1e",
        "1e+",
        "1E-2",
        "-1.5e300",
        "1e309",
        "-1e309",
        "1e-400",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "123456789012345678901234567890",
        "0.1",
        "\"\"",
        "\"a",
        "\"\\",
        "\"\\u12",
        "\"\\u12g4\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud83d\"",
        "\"\\ud83dx\"",
        "\"\\ud83d\\n\"",
        "\"\\udc00\"",
        "\"\\ud83d\\u0041\"",
        "\"\\x\"",
        "\"\u{1}\"",
        "\"\u{7f}é€😀\"",
        "\"\\/\\b\\f\\n\\r\\t\"",
        "[]",
        "[",
        "[1",
        "[1,",
        "[1,]",
        "[,1]",
        "[1 2]",
        "[[[]]]",
        "{}",
        "{",
        "{\"a\"",
        "{\"a\":",
        "{\"a\":1",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{1:2}",
        "{\"a\":1}}",
        "[1]]",
        "1 2",
        "1 x",
        "\n\n  [1,\n 2,\n x]",
        "{\"a\":1,\"a\":2}",
        "{\"type\":\"A\",\"x\":1}",
        "{\"type\":\"B\"}",
        "{\"x\":[\"Unit\",{\"New\":5},{\"Tup\":[1,-1]},{\"Struct\":{\"x\":9}}]}",
        "[\"Unit\",{\"New\":5},{\"Tup\":[1,-1]},{\"Struct\":{\"x\":9}}]",
        "[\"Nope\"]",
        "[{\"New\":5,\"Unit\":null}]",
        "[{\"Unit\":null}]",
        "[{\"New\":\"5\"}]",
        "[5]",
        "[{}]",
        "[{\"Unit\"}]",
        "[{\"New\" 5}]",
        "[1, 2.5, \"s\", {\"x\": 3}, [1, [2]], {\"x\": 300}]",
        "{\"m\":{\"1\":true,\"-1\":false}}",
        "{\"m\":{\"1.5\":true}}",
        "{\"m\":{\" 1\":true}}",
        "{\"m\":{\"1 \":true}}",
        "{\"m\":{\"\":true}}",
        "{\"m\":{\"x\":true}}",
        "{\"n\":{\"-5\":1.25,\"7\":2}}",
        "{\"u\":{\"true\":1,\"false\":2}}",
        "{\"u\":{\"tru\":1}}",
        "{\"u\":{\"trux\":1}}",
        "{\"u\":{\"yes\":1}}",
        "{\"u\":{\"t",
        "{\"a\":256}",
        "{\"a\":-1}",
        "{\"a\":1.0}",
        "{\"a\":-0}",
        "{\"d\":-0}",
        "{\"e\":5}",
        "{\"e\":-0}",
        "{\"f\":1e39}",
        "{\"f\":3.4028235e38}",
        "{\"i\":\"ab\"}",
        "{\"i\":\"é\"}",
        "{\"j\":[1,2,70000]}",
        "{\"k\":[1,\"x\"]}",
        "{\"k\":[1,\"x\",2]}",
        "{\"k\":[1]}",
        "{\"r\":null}",
        "{\"r\":0}",
        "{\"s\":\"n\"}",
        "{\"t\":{\"t\":{\"a\":1}}}",
        "{\"v\":null}",
        "{\"v\":1}",
        "{\"w\":{\"id\":3,\"z\":[1,{\"q\":null}]}}",
        "{\"x\":-170141183460469231731687303715884105728}",
        "{\"x\":170141183460469231731687303715884105728}",
        "{\"y\":340282366920938463463374607431768211455}",
        "{\"y\":340282366920938463463374607431768211456}",
        "{\"y\":-1}",
        "{\"y\":1.5}",
        "{\"x\":\"1\"}",
        "{\"zz\":[1,{\"a\":[true,null,\"\\u0000\"]}],\"a\":3}",
        "{\"zz\":\"\\ud800\"}",
        "{\"zz\":[1,}",
        "{\"zz\":tru}",
        "{\"c\":\"secret\"}",
        "{\"c\":\"secret",
        "{\"c\":[1,}",
        "{\"c\":{\"a\":}",
        "[1,2,3.5e-7,null]",
        "[18446744073709551616, -0, 1e2]",
        "\u{feff}1",
        "1\u{0}",
    ];
    let mut tallies = [Tally::default(); 6];
    for doc in docs {
        all_same(doc, &mut tallies);
    }
}

#[test]
fn nesting_is_limited_as_serde_json_limits_it_and_skipping_is_not() {
    let mut tally = Tally::default();
    for n in [1, 100, 126, 127, 128, 129, 1000] {
        let arrays = format!("{}{}", "[".repeat(n), "]".repeat(n));
        same::<Value>(&arrays, &mut tally);
        let objects = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        same::<Value>(&objects, &mut tally);
        // An unknown field's value is skipped, however deep.
        let ignored = format!("{{\"zz\":{arrays},\"a\":7}}");
        same::<All>(&ignored, &mut tally);
        let mixed = format!("[{}{}]", "{\"x\":[".repeat(n), "]}".repeat(n));
        same::<Vec<Untagged>>(&mixed, &mut tally);
    }
    assert!(tally.ok >= 7 && tally.syntax >= 6, "{tally:?}");
    // Unclosed, very deep: no stack is used up, the end of the text is found.
    let deep = "[".repeat(100_000);
    assert_eq!(from_str::<Value>(&deep).unwrap_err().kind, Kind::Syntax);
    let deep_ignored = format!("{{\"zz\":{deep}");
    assert_eq!(from_str::<All>(&deep_ignored).unwrap_err().kind, Kind::Eof);
}

#[test]
fn integers_of_128_bits_and_bytes() {
    assert_eq!(
        from_str::<i128>("-170141183460469231731687303715884105728").unwrap(),
        i128::MIN
    );
    assert_eq!(
        from_str::<u128>(" 340282366920938463463374607431768211455 ").unwrap(),
        u128::MAX
    );
    assert_eq!(from_str::<i128>("-0").unwrap(), 0);
    for bad in [
        "1.5",
        "1e3",
        "-1",
        "340282366920938463463374607431768211456",
    ] {
        assert_eq!(
            from_str::<u128>(bad).unwrap_err().kind,
            Kind::Syntax,
            "{bad}"
        );
    }
    assert_eq!(from_str::<u128>("\"1\"").unwrap_err().kind, Kind::Syntax);
    #[derive(Debug, PartialEq)]
    struct Bytes(Vec<u8>);
    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<Bytes, A::Error> {
                    let mut out = Vec::new();
                    while let Some(b) = a.next_element()? {
                        out.push(b);
                    }
                    Ok(Bytes(out))
                }
            }
            d.deserialize_bytes(V)
        }
    }
    let mut tally = Tally::default();
    for doc in [
        "\"ab\"",
        "\"a\\nb\\u00e9\"",
        "[1,2,255]",
        "[256]",
        "1",
        "\"a",
    ] {
        same::<Bytes>(doc, &mut tally);
    }
    assert_eq!(tally.ok, 3, "{tally:?}");
}

#[test]
fn bool_keys_of_any_text_are_an_error() {
    // serde_json 1.0.154 reads the key's first byte as a `t` or `f` would be read, then the rest
    // as a string: from inside `é` (a `&str` that is not UTF-8), and panics quoting it.
    for doc in ["{\"é\":1}", "{\"€\":1}", "{\"😀x\":1}", "{\"yes\":1}"] {
        let err = from_str::<BTreeMap<bool, u8>>(doc).unwrap_err();
        assert_eq!((err.kind, err.at), (Kind::Data, 1), "{doc}");
    }
    assert_eq!(
        from_str::<BTreeMap<bool, u8>>("{\"true\":1,\"false\":0}").unwrap(),
        BTreeMap::from([(true, 1), (false, 0)])
    );
}

/// xorshift64*: the same documents on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "7",
    "127",
    "128",
    "255",
    "256",
    "-129",
    "65535",
    "70000",
    "2147483648",
    "4294967296",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "1.5",
    "-2.25e3",
    "1e2",
    "1E+2",
    "5e-324",
    "1e308",
    "1e-400",
    "0.1",
    "3.4028235e38",
    "123456789012345678901234567890",
    "9007199254740993",
    "2.5e-7",
];
const STRINGS: &[&str] = &[
    "",
    "a",
    "x",
    "é",
    "€😀",
    "\\n",
    "\\u00e9",
    "\\ud83d\\ude00",
    "\\\"",
    "\\\\",
    "\\/",
    "true",
    "1",
    "-5",
    "1.5",
    "Unit",
    "New",
    "Tup",
    "Struct",
    "A",
    "B",
    "type",
    "ab",
    "\\t\\r",
];
const KEYS: &[&str] = &[
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s",
    "t", "u", "v", "w", "x", "y", "zz", "type", "id", "Unit", "New", "Tup", "Struct", "1", "-5",
    "true", "false", "1.5", "é",
];
const BREAKS: &[&str] = &[
    ",", "]", "}", "[", "{", ":", "\"", "\\", "1", "-", "e", ".", " ", "\n", "null", "tru",
    "\u{1}", "\\u", "\\ud800", "0", "x",
];

fn space(rng: &mut Rng, out: &mut String) {
    if rng.chance(20) {
        out.push_str(rng.pick(&[" ", "\n", "\t", "\r\n", "  "]));
    }
}

fn string(rng: &mut Rng, out: &mut String) {
    out.push('"');
    for _ in 0..rng.below(3) {
        out.push_str(rng.pick(STRINGS));
    }
    out.push('"');
}

/// `open`, fewer than `most` items (each written by `item`) with commas between, `close`.
fn list(
    rng: &mut Rng,
    out: &mut String,
    [open, close]: [char; 2],
    most: usize,
    mut item: impl FnMut(&mut Rng, &mut String),
) {
    out.push(open);
    for i in 0..rng.below(most) {
        if i > 0 {
            out.push(',');
        }
        item(rng, out);
    }
    out.push(close);
}

/// `"key":` (a key of `KEYS`), with whitespace around where `spaced`.
fn key(rng: &mut Rng, out: &mut String, spaced: bool) -> &'static str {
    if spaced {
        space(rng, out);
    }
    let key = rng.pick(KEYS);
    out.push('"');
    out.push_str(key);
    out.push('"');
    if spaced {
        space(rng, out);
    }
    out.push(':');
    key
}

/// A random JSON value, nested at most `depth` deep.
fn value(rng: &mut Rng, depth: usize, out: &mut String) {
    space(rng, out);
    match rng.below(if depth == 0 { 4 } else { 6 }) {
        0 => out.push_str(rng.pick(&["null", "true", "false"])),
        1 => out.push_str(rng.pick(NUMBERS)),
        2 | 3 => string(rng, out),
        4 => list(rng, out, ['[', ']'], 4, |rng, out| {
            value(rng, depth - 1, out)
        }),
        _ => list(rng, out, ['{', '}'], 4, |rng, out| {
            key(rng, out, true);
            value(rng, depth - 1, out);
        }),
    }
    space(rng, out);
}

/// A value of the shape the target types read, mostly.
fn shaped(rng: &mut Rng, depth: usize, out: &mut String) {
    match rng.below(8) {
        0 => value(rng, depth, out),
        // As `Vec<E>`.
        1 => list(rng, out, ['[', ']'], 4, |rng, out| {
            out.push_str(rng.pick(&[
                "\"Unit\"",
                "{\"New\":5}",
                "{\"Tup\":[1,-1]}",
                "{\"Struct\":{\"x\":9}}",
                "{\"Unit\":null}",
                "{\"New\":70000}",
                "\"Nope\"",
                "{\"Struct\":[3]}",
            ]))
        }),
        // As the tuple.
        2 => {
            out.push('[');
            out.push_str(rng.pick(NUMBERS));
            out.push(',');
            if rng.chance(50) {
                string(rng, out);
            } else {
                out.push_str("null");
            }
            out.push(',');
            out.push_str(rng.pick(NUMBERS));
            out.push(']');
        }
        // As `All` (or, with a `type`, a map of `Tagged`).
        _ => list(rng, out, ['{', '}'], 6, |rng, out| {
            match (key(rng, out, true), rng.chance(80)) {
                ("a" | "b" | "c" | "d" | "e" | "f" | "x" | "y", true) => {
                    out.push_str(rng.pick(NUMBERS))
                }
                ("g", true) => out.push_str(rng.pick(&["true", "false"])),
                ("h" | "i" | "s", true) => string(rng, out),
                ("j" | "k", true) => {
                    out.push('[');
                    out.push_str(rng.pick(NUMBERS));
                    out.push(',');
                    if rng.chance(50) {
                        string(rng, out);
                    } else {
                        out.push_str(rng.pick(NUMBERS));
                    }
                    out.push(']');
                }
                ("l" | "m" | "n" | "u", true) => list(rng, out, ['{', '}'], 3, |rng, out| {
                    key(rng, out, false);
                    out.push_str(rng.pick(&["1", "true", "-2.5", "300", "false"]));
                }),
                ("t" | "w", true) if depth > 0 => shaped(rng, depth - 1, out),
                ("type", true) => out.push_str(rng.pick(&["\"A\"", "\"B\"", "\"C\""])),
                _ => value(rng, depth.min(2), out),
            }
        }),
    }
}

/// Breaks `doc` in a random place: cut, a byte range removed, or a token put in.
fn break_it(rng: &mut Rng, doc: &mut String) {
    let boundaries: Vec<usize> = (0..=doc.len())
        .filter(|&i| doc.is_char_boundary(i))
        .collect();
    let at = boundaries[rng.below(boundaries.len())];
    match rng.below(3) {
        0 => doc.truncate(at),
        1 => {
            let ahead: Vec<usize> = boundaries
                .iter()
                .copied()
                .filter(|&i| i >= at)
                .take(4)
                .collect();
            doc.replace_range(at..ahead[rng.below(ahead.len())], "");
        }
        _ => doc.insert_str(at, rng.pick(BREAKS)),
    }
}

#[test]
fn generated_documents_read_as_serde_json_reads_them() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut tallies = [Tally::default(); 6];
    let mut doc = String::new();
    for round in 0..30_000 {
        doc.clear();
        if round % 2 == 0 {
            shaped(&mut rng, 3, &mut doc);
        } else {
            value(&mut rng, 4, &mut doc);
        }
        if rng.chance(40) {
            break_it(&mut rng, &mut doc);
        }
        all_same(&doc, &mut tallies);
    }
    // Every target was read, and refused in every way, many times (a `Value` takes any JSON).
    for (target, tally) in tallies.iter().enumerate() {
        let data = if target == 0 { 50 } else { tally.data };
        let least = [tally.ok, tally.syntax, tally.eof, data];
        assert!(least.iter().all(|&n| n >= 50), "target {target}: {tally:?}");
    }
}

#[test]
fn errors_are_placed_at_the_wrong_byte() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Tick {
        seq: u64,
    }
    let cases: [(&str, Kind, (usize, usize)); 8] = [
        ("{oops", Kind::Syntax, (1, 2)),
        ("[1,\n 2,\n x]", Kind::Syntax, (3, 2)),
        ("\"abc", Kind::Eof, (1, 5)),
        ("", Kind::Eof, (1, 1)),
        ("{\"seq\":\n  \"secret\"}", Kind::Data, (2, 3)),
        ("{\"seq\": 1.5}", Kind::Data, (1, 9)),
        ("{}", Kind::Data, (1, 2)),
        ("{\"seq\":1} x", Kind::Syntax, (1, 11)),
    ];
    for (doc, kind, at) in cases {
        let err = if doc.starts_with('[') {
            from_str::<Vec<u8>>(doc).unwrap_err()
        } else {
            from_str::<Tick>(doc).unwrap_err()
        };
        assert_eq!((err.kind, place(doc, err.at)), (kind, at), "{doc:?}");
    }
}

#[test]
fn plain_runs_end_at_the_first_quote_backslash_or_control_character() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let kinds: [&[u8]; 4] = [
        b"\"\\\x00\x1f\x01",
        b"a !~\x20\x7f",
        "é€😀".as_bytes(),
        b"\x80\xff",
    ];
    for _ in 0..20_000 {
        let len = rng.below(40);
        let mut bytes = Vec::with_capacity(len);
        for _ in 0..len {
            let from = kinds[if rng.chance(5) { 0 } else { 1 + rng.below(3) }];
            bytes.push(from[rng.below(from.len())]);
        }
        let want = bytes
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .unwrap_or(bytes.len());
        assert_eq!(super::plain(&bytes), want, "{bytes:?}");
    }
}

#[test]
fn floats_are_the_nearest_f64_as_core_reads_them() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut fast = 0;
    for _ in 0..50_000 {
        let mut text = String::new();
        if rng.chance(30) {
            text.push('-');
        }
        let int_digits = 1 + rng.below(18);
        for i in 0..int_digits {
            let d = if i == 0 && int_digits > 1 {
                1 + rng.below(9)
            } else {
                rng.below(10)
            };
            text.push(char::from(b'0' + d as u8));
        }
        if rng.chance(70) {
            text.push('.');
            for _ in 0..1 + rng.below(12) {
                text.push(char::from(b'0' + rng.below(10) as u8));
            }
        }
        if rng.chance(50) {
            text.push_str(rng.pick(&["e", "E", "e+", "e-", "E-"]));
            text.push_str(&format!("{}", rng.below(40)));
        }
        let want: f64 = text.parse().unwrap();
        let got = from_str::<f64>(&text);
        if want.is_finite() {
            let got = got.unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{text}");
            fast += usize::from(text.len() < 16);
        } else {
            assert_eq!(got.unwrap_err().kind, Kind::Syntax, "{text}");
        }
    }
    assert!(fast > 10_000, "{fast}");
}
