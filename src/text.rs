//! Messages built from pieces, without `core::fmt`'s formatting machinery.
//!
//! Every error message of the crate is text and integers. Building them with `format!` links
//! `core::fmt::write`, padding and the integer printers into every wasm binary that reports an
//! error; these few lines do the same job in a fraction of the size.

use alloc::string::String;

/// One piece of a message: text, or an unsigned integer written in decimal.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Piece<'a> {
    /// Text, as is.
    S(&'a str),
    /// An integer, in decimal.
    N(u64),
}

/// The pieces, joined.
pub(crate) fn text(pieces: &[Piece<'_>]) -> String {
    let mut out = String::new();
    for piece in pieces {
        match *piece {
            Piece::S(s) => out.push_str(s),
            Piece::N(n) => push_number(&mut out, n),
        }
    }
    out
}

/// Appends `n` in decimal (no table, no indexing: the smallest code for a few numbers per
/// message).
fn push_number(out: &mut String, n: u64) {
    if n >= 10 {
        push_number(out, n / 10);
    }
    out.push(char::from(b'0' + (n % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn numbers_match_display() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            1000,
            4999,
            65535,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            assert_eq!(text(&[Piece::N(n)]), n.to_string());
        }
    }

    #[test]
    fn pieces_join_in_order() {
        use Piece::{N, S};
        assert_eq!(text(&[S("a "), N(12), S(" b"), N(0)]), "a 12 b0");
        assert_eq!(text(&[]), "");
    }
}
