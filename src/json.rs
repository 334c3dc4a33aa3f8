//! The JSON reader behind [`Json::decode`](crate::Json): serde's data model read straight from a
//! message's text.
//!
//! serde_json (which still writes the JSON) reads it too, but its reader formats an error message
//! for every failure, quoting the values it met, which the codec would only throw away (they may
//! be secrets); and it links float-parsing tables into apps that never read a float. This reader
//! reports an error as a kind and a byte offset, reads a float only where a float is asked for
//! (with the standard library's correctly rounded parser), and links neither: the bench's minimal
//! Rust consumer is 13 KB gzip smaller with it (46.1 to 32.8 KB).
//!
//! It accepts what serde_json accepts (RFC 8259, arrays and objects nested at most 127 deep,
//! whitespace around the value) and makes the same visitor calls: the tests read thousands of
//! generated documents with both and compare. They differ on purpose in two corners:
//! - a string read as bytes must not hold a lone surrogate escape (serde_json passes it on as
//!   WTF-8);
//! - a number beyond `f64`'s range (`1e309`) where an integer or no number is asked for is a data
//!   error, found without reading the float (serde_json reads it, and calls it a syntax error).
//!
//! And they
//! place errors differently: serde_json after the last byte it read, this reader at the byte that
//! is wrong (or one past the end, where the text ends too early).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::de::{self, DeserializeSeed, Visitor};

/// What kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Not JSON.
    Syntax,
    /// JSON that ends before its value does.
    Eof,
    /// Valid JSON that is not the type asked for (or that the type refused).
    Data,
}

/// A failure: its kind, and the byte offset in the text where it was found.
#[derive(Debug)]
pub(crate) struct Error {
    pub(crate) kind: Kind,
    pub(crate) at: usize,
}

/// `Error::at` of an error a visitor raised: the reader places it where it stopped.
const UNPLACED: usize = usize::MAX;

impl Error {
    fn data() -> Self {
        Error {
            kind: Kind::Data,
            at: UNPLACED,
        }
    }

    /// The kind, in words.
    pub(crate) fn what(&self) -> &'static str {
        match self.kind {
            Kind::Syntax => "not valid JSON",
            Kind::Eof => "the JSON ends too early",
            Kind::Data => "the JSON does not match the expected type",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.what())
    }
}

impl core::error::Error for Error {}

// Every constructor, so that none formats its arguments (the defaults build a message with
// `format_args!`, quoting the value: both the code and the secret are left out).
impl de::Error for Error {
    #[cold]
    fn custom<T: fmt::Display>(_: T) -> Self {
        Self::data()
    }
    #[cold]
    fn invalid_type(_: de::Unexpected<'_>, _: &dyn de::Expected) -> Self {
        Self::data()
    }
    #[cold]
    fn invalid_value(_: de::Unexpected<'_>, _: &dyn de::Expected) -> Self {
        Self::data()
    }
    #[cold]
    fn invalid_length(_: usize, _: &dyn de::Expected) -> Self {
        Self::data()
    }
    #[cold]
    fn unknown_variant(_: &str, _: &'static [&'static str]) -> Self {
        Self::data()
    }
    #[cold]
    fn unknown_field(_: &str, _: &'static [&'static str]) -> Self {
        Self::data()
    }
    #[cold]
    fn missing_field(_: &'static str) -> Self {
        Self::data()
    }
    #[cold]
    fn duplicate_field(_: &'static str) -> Self {
        Self::data()
    }
}

type Result<T> = core::result::Result<T, Error>;

/// Reads a `T` from `text`: one JSON value, with whitespace around it and nothing else.
pub(crate) fn from_str<T: de::DeserializeOwned>(text: &str) -> Result<T> {
    let mut reader = Reader {
        text,
        at: 0,
        depth: DEPTH,
    };
    let value = T::deserialize(&mut reader).and_then(|value| match reader.ws() {
        None => Ok(value),
        Some(_) => reader.fail(Kind::Syntax),
    });
    value.map_err(|mut e| {
        if e.at == UNPLACED {
            e.at = reader.at;
        }
        e
    })
}

/// serde_json's nesting limit: the 128th open array or object is refused.
const DEPTH: u8 = 128;

struct Reader<'a> {
    text: &'a str,
    /// The next byte's offset.
    at: usize,
    /// Arrays and objects that may still open, plus one.
    depth: u8,
}

/// A string's contents: a slice of the text where it had no escapes.
enum Text<'a> {
    Borrowed(&'a str),
    Owned(String),
}

/// A number, as serde_json hands it to a visitor: an integer that fits in 64 bits (`-0` is a
/// float), else a float.
enum Number {
    U(u64),
    I(i64),
    F(f64),
}

impl Number {
    fn visit<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Number::U(n) => visitor.visit_u64(n),
            Number::I(n) => visitor.visit_i64(n),
            Number::F(x) => visitor.visit_f64(x),
        }
    }
}

/// A number as read: its text, and its digits as one integer with a power of ten.
struct Scanned<'a> {
    text: &'a str,
    negative: bool,
    /// No fraction and no exponent.
    whole: bool,
    /// The digits of the integer and fraction parts, as one integer (`None`: beyond 64 bits).
    digits: Option<u64>,
    /// The power of ten `digits` are multiplied by (the exponent less the fraction's digits).
    exp: i32,
}

/// The powers of ten that are exact as `f64`s.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

impl Scanned<'_> {
    /// The integer, if it is one of 64 bits, as serde_json reads it (`-0` is a float).
    fn integer(&self) -> Option<Number> {
        let n = self.digits.filter(|_| self.whole)?;
        if !self.negative {
            Some(Number::U(n))
        } else if n == 0 || n > 1 << 63 {
            None
        } else {
            Some(Number::I((n as i64).wrapping_neg()))
        }
    }

    /// The number as the nearest `f64`: at once where the digits and the power of ten are both
    /// exact as `f64`s (one rounding, so the nearest; most numbers a server sends), else by
    /// `core`'s parser (correctly rounded too).
    fn float(&self) -> Option<f64> {
        let x = match self.digits {
            Some(d) if d <= 1 << 53 && self.exp.unsigned_abs() < 23 => {
                let power = POW10[self.exp.unsigned_abs() as usize];
                let x = if self.exp < 0 {
                    d as f64 / power
                } else {
                    d as f64 * power
                };
                if self.negative {
                    -x
                } else {
                    x
                }
            }
            _ => self.text.parse::<f64>().ok()?,
        };
        x.is_finite().then_some(x)
    }
}

/// How many bytes of `bytes` come before the first quote, backslash or control character: eight
/// at a time (a string's contents are mostly plain, and long).
fn plain(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    // The high bit of each byte of `v` below `n` (exact up to the first such byte, which is all
    // that is used).
    let below = |v: u64, n: u8| v.wrapping_sub(ONES * u64::from(n)) & !v & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    let mut done = 0;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let found = below(v ^ (ONES * u64::from(b'"')), 1)
            | below(v ^ (ONES * u64::from(b'\\')), 1)
            | below(v, 0x20);
        if found != 0 {
            return done + (found.trailing_zeros() / 8) as usize;
        }
        done += 8;
    }
    done + chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(chunks.remainder().len())
}

impl<'a> Reader<'a> {
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    #[cold]
    fn fail<T>(&self, kind: Kind) -> Result<T> {
        Err(Error { kind, at: self.at })
    }

    /// Skips whitespace; the next byte.
    fn ws(&mut self) -> Option<u8> {
        while let Some(b) = self.byte() {
            if !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(b);
            }
            self.at += 1;
        }
        None
    }

    /// The first byte of the next value (whitespace skipped).
    fn start(&mut self) -> Result<u8> {
        match self.ws() {
            Some(b) => Ok(b),
            None => self.fail(Kind::Eof),
        }
    }

    /// Reads the bytes of `word`.
    fn word(&mut self, word: &[u8]) -> Result<()> {
        for &want in word {
            match self.byte() {
                Some(b) if b == want => self.at += 1,
                Some(_) => return self.fail(Kind::Syntax),
                None => return self.fail(Kind::Eof),
            }
        }
        Ok(())
    }

    /// Reads `byte` after whitespace.
    fn require(&mut self, byte: u8) -> Result<()> {
        match self.ws() {
            Some(b) if b == byte => {
                self.at += 1;
                Ok(())
            }
            Some(_) => self.fail(Kind::Syntax),
            None => self.fail(Kind::Eof),
        }
    }

    /// Reads digits into `n` (`None` once beyond 64 bits); how many.
    fn digits(&mut self, n: &mut Option<u64>) -> i32 {
        let start = self.at;
        while let Some(d @ b'0'..=b'9') = self.byte() {
            *n = n
                .and_then(|n| n.checked_mul(10))
                .and_then(|n| n.checked_add(u64::from(d - b'0')));
            self.at += 1;
        }
        i32::try_from(self.at - start).unwrap_or(i32::MAX)
    }

    /// Reads one digit or more (`digits`). `eof`: what a number cut short is.
    fn some_digits(&mut self, n: &mut Option<u64>, eof: Kind) -> Result<i32> {
        match self.byte() {
            Some(b'0'..=b'9') => Ok(self.digits(n)),
            Some(_) => self.fail(Kind::Syntax),
            None => self.fail(eof),
        }
    }

    /// Reads a number. `eof`: what a number cut short by the end of the text is (serde_json
    /// calls it the end of the text where it reads the number, a syntax error where it skips
    /// it).
    fn number(&mut self, eof: Kind) -> Result<Scanned<'a>> {
        let start = self.at;
        let negative = self.byte() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let mut digits = Some(0);
        match self.byte() {
            Some(b'0') => {
                self.at += 1;
                if let Some(b'0'..=b'9') = self.byte() {
                    return self.fail(Kind::Syntax);
                }
            }
            Some(b'1'..=b'9') => {
                self.digits(&mut digits);
            }
            Some(_) => return self.fail(Kind::Syntax),
            None => return self.fail(eof),
        }
        let mut whole = true;
        let mut exp: i32 = 0;
        if self.byte() == Some(b'.') {
            self.at += 1;
            whole = false;
            exp = -self.some_digits(&mut digits, eof)?;
        }
        if let Some(b'e' | b'E') = self.byte() {
            self.at += 1;
            whole = false;
            let minus = self.byte() == Some(b'-');
            if let Some(b'+' | b'-') = self.byte() {
                self.at += 1;
            }
            // Only whether the exponent is small matters (else `core` reads the text).
            let mut e = Some(0);
            self.some_digits(&mut e, eof)?;
            let e = e.and_then(|e| i32::try_from(e).ok()).unwrap_or(i32::MAX);
            exp = if minus {
                exp.saturating_sub(e)
            } else {
                exp.saturating_add(e)
            };
        }
        Ok(Scanned {
            text: self.text.get(start..self.at).unwrap_or_default(),
            negative,
            whole,
            digits,
            exp,
        })
    }

    /// Reads a number where an integer is asked for. A float (or an integer beyond 64 bits) is
    /// a data error, found without reading the float (which would link the float parser into
    /// every app that reads an integer): serde_json hands it to the visitor as an `f64`, which
    /// no integer visitor takes.
    fn integer(&mut self) -> Result<Number> {
        let start = self.at;
        match self.number(Kind::Eof)?.integer() {
            Some(n) => Ok(n),
            None => Err(Error {
                kind: Kind::Data,
                at: start,
            }),
        }
    }

    /// Reads a number where any number (or a float) is asked for.
    fn any_number(&mut self) -> Result<Number> {
        let start = self.at;
        let number = self.number(Kind::Eof)?;
        if let Some(n) = number.integer() {
            return Ok(n);
        }
        match number.float() {
            Some(x) => Ok(Number::F(x)),
            None => Err(Error {
                kind: Kind::Syntax,
                at: start,
            }),
        }
    }

    /// Reads an integer of up to 128 bits (what `i128` and `u128` ask for). Anything else is a
    /// syntax error, as serde_json has it.
    fn wide(&mut self, signed: bool) -> Result<(bool, u128)> {
        let start = self.at;
        let Scanned {
            text,
            negative,
            whole,
            ..
        } = self.number(Kind::Syntax)?;
        let mut n: u128 = 0;
        for d in text.trim_start_matches('-').bytes() {
            match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u128::from(d.wrapping_sub(b'0'))))
            {
                Some(next) if whole && (signed || !negative) => n = next,
                _ => {
                    return Err(Error {
                        kind: Kind::Syntax,
                        at: start,
                    })
                }
            }
        }
        Ok((negative, n))
    }

    /// Reads four hex digits (fewer than four bytes left is the end of the text, as serde_json
    /// has it, whatever they are).
    fn hex4(&mut self) -> Result<u32> {
        if self.text.len() - self.at < 4 {
            self.at = self.text.len();
            return self.fail(Kind::Eof);
        }
        let mut n = 0;
        for _ in 0..4 {
            let Some(b) = self.byte() else {
                return self.fail(Kind::Eof);
            };
            let Some(d) = char::from(b).to_digit(16) else {
                return self.fail(Kind::Syntax);
            };
            n = n * 16 + d;
            self.at += 1;
        }
        Ok(n)
    }

    /// Reads an escape (after its backslash). `keep`: the character is wanted, so a `\u`
    /// surrogate must be half of a pair (serde_json checks the same where it keeps the string;
    /// a string it skips may hold lone surrogates).
    fn escape(&mut self, keep: bool) -> Result<char> {
        let Some(b) = self.byte() else {
            return self.fail(Kind::Eof);
        };
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                self.at += 1;
                let high = self.hex4()?;
                if !keep {
                    return Ok(' ');
                }
                let code = if (0xD800..0xDC00).contains(&high) {
                    self.word(b"\\u")?;
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return self.fail(Kind::Syntax);
                    }
                    0x1_0000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    high
                };
                return match char::from_u32(code) {
                    Some(c) => Ok(c),
                    None => self.fail(Kind::Syntax),
                };
            }
            _ => return self.fail(Kind::Syntax),
        };
        self.at += 1;
        Ok(c)
    }

    /// Reads a string (the reader is at its opening quote). `keep: false` only checks it.
    fn string(&mut self, keep: bool) -> Result<Text<'a>> {
        self.at += 1;
        let mut owned: Option<String> = None;
        let mut from = self.at;
        loop {
            match self.byte() {
                Some(b'"') => {
                    let rest = self.text.get(from..self.at).unwrap_or_default();
                    self.at += 1;
                    return Ok(match owned {
                        None => Text::Borrowed(rest),
                        Some(mut s) => {
                            s.push_str(rest);
                            Text::Owned(s)
                        }
                    });
                }
                Some(b'\\') => {
                    let done = self.text.get(from..self.at).unwrap_or_default();
                    self.at += 1;
                    let c = self.escape(keep)?;
                    if keep {
                        let s = owned.get_or_insert_with(String::new);
                        s.push_str(done);
                        s.push(c);
                    }
                    from = self.at;
                }
                Some(0..=0x1f) => return self.fail(Kind::Syntax),
                Some(_) => {
                    self.at += plain(self.text.as_bytes().get(self.at..).unwrap_or_default())
                }
                None => return self.fail(Kind::Eof),
            }
        }
    }

    /// Reads an object's key and its colon (the reader is before the key).
    fn skip_key(&mut self) -> Result<()> {
        match self.ws() {
            Some(b'"') => {}
            Some(_) => return self.fail(Kind::Syntax),
            None => return self.fail(Kind::Eof),
        }
        self.string(false)?;
        self.require(b':')
    }

    /// Reads through one value, checking its syntax, building nothing. Not recursive, and its
    /// nesting is not limited (it holds a byte per open array or object), as serde_json's.
    fn skip(&mut self) -> Result<()> {
        // The closing byte of each open array or object.
        let mut open: Vec<u8> = Vec::new();
        loop {
            match self.start()? {
                open_byte @ (b'[' | b'{') => {
                    // `]` and `}` follow `[` and `{` by two in ASCII.
                    let close = open_byte + 2;
                    self.at += 1;
                    if self.ws() == Some(close) {
                        self.at += 1;
                    } else {
                        if close == b'}' {
                            self.skip_key()?;
                        }
                        open.push(close);
                        continue;
                    }
                }
                b'"' => {
                    self.string(false)?;
                }
                b't' => self.word(b"true")?,
                b'f' => self.word(b"false")?,
                b'n' => self.word(b"null")?,
                b'-' | b'0'..=b'9' => {
                    self.number(Kind::Syntax)?;
                }
                _ => return self.fail(Kind::Syntax),
            }
            // After a value: close what ends here, up to the next element.
            loop {
                let Some(&close) = open.last() else {
                    return Ok(());
                };
                match self.ws() {
                    Some(b',') => {
                        self.at += 1;
                        if close == b'}' {
                            self.skip_key()?;
                        }
                        break;
                    }
                    Some(b) if b == close => {
                        self.at += 1;
                        open.pop();
                    }
                    Some(_) => return self.fail(Kind::Syntax),
                    None => return self.fail(Kind::Eof),
                }
            }
        }
    }

    /// The value ahead is not of the type asked for: a data error at its start, once it is
    /// known to be valid JSON. As serde_json, a string, number or literal is read through first
    /// (`"abc` is the end of the text, `tru` not JSON), as a value is read where it is kept (a
    /// lone surrogate escape is not JSON, `1e` ends too early); an array or object is not.
    #[cold]
    fn mismatch<T>(&mut self) -> Result<T> {
        let start = self.at;
        match self.byte() {
            Some(b'"') => {
                self.string(true)?;
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number(Kind::Eof)?;
            }
            Some(b'[' | b'{') => {}
            _ => self.skip()?,
        }
        Err(Error {
            kind: Kind::Data,
            at: start,
        })
    }

    /// Opens an array or object (the reader is at its bracket).
    fn enter(&mut self) -> Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            return self.fail(Kind::Syntax);
        }
        self.at += 1;
        Ok(())
    }

    fn seq<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        self.enter()?;
        let value = visitor.visit_seq(Seq {
            reader: self,
            first: true,
        })?;
        self.depth += 1;
        self.require(b']')?;
        Ok(value)
    }

    fn map<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        self.enter()?;
        let value = visitor.visit_map(Map {
            reader: self,
            first: true,
        })?;
        self.depth += 1;
        self.require(b'}')?;
        Ok(value)
    }

    fn str<V: Visitor<'a>>(&mut self, visitor: V) -> Result<V::Value> {
        match self.string(true)? {
            Text::Borrowed(s) => visitor.visit_borrowed_str(s),
            Text::Owned(s) => visitor.visit_string(s),
        }
    }
}

/// Methods that read as `$to` reads (serde asks for each width and kind by name; JSON reads
/// them alike).
macro_rules! forward {
    ($to:ident: $($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.$to(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Reader<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b'n' => {
                self.word(b"null")?;
                visitor.visit_unit()
            }
            b't' => {
                self.word(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.word(b"false")?;
                visitor.visit_bool(false)
            }
            b'-' | b'0'..=b'9' => self.any_number()?.visit(visitor),
            b'"' => self.str(visitor),
            b'[' => self.seq(visitor),
            b'{' => self.map(visitor),
            _ => self.fail(Kind::Syntax),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b't' => {
                self.word(b"true")?;
                visitor.visit_bool(true)
            }
            b'f' => {
                self.word(b"false")?;
                visitor.visit_bool(false)
            }
            _ => self.mismatch(),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b'-' | b'0'..=b'9' => self.integer()?.visit(visitor),
            _ => self.mismatch(),
        }
    }

    forward!(deserialize_i64: deserialize_i8 deserialize_i16 deserialize_i32 deserialize_u8
        deserialize_u16 deserialize_u32 deserialize_u64);

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b'-' | b'0'..=b'9' => {
                let start = self.at;
                let (negative, n) = self.wide(true)?;
                let n = match i128::try_from(n) {
                    Ok(n) if !negative => n,
                    Ok(n) => -n,
                    Err(_) if negative && n == 1 << 127 => i128::MIN,
                    Err(_) => {
                        return Err(Error {
                            kind: Kind::Syntax,
                            at: start,
                        })
                    }
                };
                visitor.visit_i128(n)
            }
            // As serde_json: it reads a number, and this is none.
            _ => self.fail(Kind::Syntax),
        }
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b'-' | b'0'..=b'9' => visitor.visit_u128(self.wide(false)?.1),
            _ => self.fail(Kind::Syntax),
        }
    }

    /// Read as an `f64` (which the visitor narrows); beyond `f32`'s range, an error (as
    /// serde_json reads an `f32` exactly).
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b'-' | b'0'..=b'9' => {
                let start = self.at;
                match self.any_number()? {
                    Number::F(x) if (x as f32).is_infinite() => Err(Error {
                        kind: Kind::Syntax,
                        at: start,
                    }),
                    n => n.visit(visitor),
                }
            }
            _ => self.mismatch(),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b'-' | b'0'..=b'9' => self.any_number()?.visit(visitor),
            _ => self.mismatch(),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b'"' => self.str(visitor),
            _ => self.mismatch(),
        }
    }

    forward!(deserialize_str: deserialize_char deserialize_string deserialize_identifier);

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b'"' => match self.string(true)? {
                Text::Borrowed(s) => visitor.visit_borrowed_bytes(s.as_bytes()),
                Text::Owned(s) => visitor.visit_byte_buf(s.into_bytes()),
            },
            b'[' => self.seq(visitor),
            _ => self.mismatch(),
        }
    }

    forward!(deserialize_bytes: deserialize_byte_buf);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.ws() {
            Some(b'n') => {
                self.word(b"null")?;
                visitor.visit_none()
            }
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b'n' => {
                self.word(b"null")?;
                visitor.visit_unit()
            }
            _ => self.mismatch(),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b'[' => self.seq(visitor),
            _ => self.mismatch(),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.start()? {
            b'{' => self.map(visitor),
            _ => self.mismatch(),
        }
    }

    /// An object, or (as serde_json reads it) an array of the fields in order.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.start()? {
            b'{' => self.map(visitor),
            b'[' => self.seq(visitor),
            _ => self.mismatch(),
        }
    }

    /// `"Variant"` (a unit variant) or `{"Variant": value}`.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.start()? {
            b'"' => visitor.visit_enum(UnitVariant(self)),
            b'{' => {
                self.enter()?;
                let value = visitor.visit_enum(Variant(&mut *self))?;
                self.depth += 1;
                self.require(b'}')?;
                Ok(value)
            }
            _ => self.fail(Kind::Syntax),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }
}

struct Seq<'r, 'a> {
    reader: &'r mut Reader<'a>,
    first: bool,
}

impl<'de> de::SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let r = &mut *self.reader;
        match r.ws() {
            Some(b']') => return Ok(None),
            Some(b',') if !self.first => {
                r.at += 1;
                if r.ws() == Some(b']') {
                    return r.fail(Kind::Syntax);
                }
            }
            Some(_) if self.first => {}
            Some(_) => return r.fail(Kind::Syntax),
            None => return r.fail(Kind::Eof),
        }
        self.first = false;
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

struct Map<'r, 'a> {
    reader: &'r mut Reader<'a>,
    first: bool,
}

impl<'de> de::MapAccess<'de> for Map<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let r = &mut *self.reader;
        match r.ws() {
            Some(b'}') => return Ok(None),
            Some(b',') if !self.first => r.at += 1,
            Some(_) if self.first => {}
            Some(_) => return r.fail(Kind::Syntax),
            None => return r.fail(Kind::Eof),
        }
        self.first = false;
        match r.ws() {
            Some(b'"') => seed.deserialize(Key(&mut *self.reader)).map(Some),
            Some(_) => r.fail(Kind::Syntax),
            None => r.fail(Kind::Eof),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value> {
        self.reader.require(b':')?;
        seed.deserialize(&mut *self.reader)
    }
}

/// An object's key (the reader is at its opening quote): a string, which numbers and `bool`s
/// are read from where the key's type asks for one (`{"1": ...}` as a `BTreeMap<u32, _>`), as
/// serde_json reads keys.
struct Key<'r, 'a>(&'r mut Reader<'a>);

impl Key<'_, '_> {
    /// Reads the key's number (`integer`: only an integer is wanted) and its closing quote.
    fn number(self, integer: bool) -> Result<Number> {
        let r = self.0;
        r.at += 1;
        let Some(b'-' | b'0'..=b'9') = r.byte() else {
            return r.fail(Kind::Syntax);
        };
        let n = if integer {
            r.integer()?
        } else {
            r.any_number()?
        };
        match r.byte() {
            Some(b'"') => {
                r.at += 1;
                Ok(n)
            }
            _ => r.fail(Kind::Syntax),
        }
    }
}

impl<'de> de::Deserializer<'de> for Key<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.0.str(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.number(true)?.visit(visitor)
    }

    forward!(deserialize_i64: deserialize_i8 deserialize_i16 deserialize_i32 deserialize_u8
        deserialize_u16 deserialize_u32 deserialize_u64);
    forward!(deserialize_f64: deserialize_f32);

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.number(false)?.visit(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let r = self.0;
        r.at += 1;
        match r.byte() {
            Some(b't') => {
                r.word(b"true\"")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                r.word(b"false\"")?;
                visitor.visit_bool(false)
            }
            _ => {
                r.at -= 1;
                r.mismatch()
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_enum(self.0, name, variants, visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_bytes(self.0, visitor)
    }

    forward!(deserialize_bytes: deserialize_byte_buf);

    serde::forward_to_deserialize_any! {
        i128 u128 char str string unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

/// `"Variant"`: the reader is at the string.
struct UnitVariant<'r, 'a>(&'r mut Reader<'a>);

impl<'de> de::EnumAccess<'de> for UnitVariant<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self)> {
        let variant = seed.deserialize(&mut *self.0)?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value> {
        Err(Error::data())
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value> {
        Err(Error::data())
    }
    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], _: V) -> Result<V::Value> {
        Err(Error::data())
    }
}

/// `{"Variant": value}`: the reader is past the `{`.
struct Variant<'r, 'a>(&'r mut Reader<'a>);

impl<'de> de::EnumAccess<'de> for Variant<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self)> {
        match self.0.ws() {
            Some(b'"') => {}
            Some(_) => return self.0.fail(Kind::Syntax),
            None => return self.0.fail(Kind::Eof),
        }
        let variant = seed.deserialize(Key(&mut *self.0))?;
        self.0.require(b':')?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for Variant<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        de::Deserialize::deserialize(self.0)
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self.0)
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(self.0, visitor)
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_struct(self.0, "", fields, visitor)
    }
}

#[cfg(test)]
mod tests;
