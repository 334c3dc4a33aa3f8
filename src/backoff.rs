//! Reconnect timing: exponential backoff with jitter, retry limits, and a small seeded RNG.

use core::time::Duration;

/// How randomness is applied to the exponential ceiling.
///
/// ```
/// assert_eq!(resocket::Jitter::default(), resocket::Jitter::Full);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Jitter {
    /// `random(0, ceiling)`: spreads reconnect storms the most (the default).
    #[default]
    Full,
    /// `ceiling / 2 + random(0, ceiling / 2)`.
    Equal,
    /// Exactly the ceiling (deterministic).
    None,
}

/// Exponential backoff: `ceiling(n) = min(max, initial * factor^n)` for attempt `n` (0-based),
/// then jitter.
///
/// ```
/// use std::time::Duration;
/// use resocket::{Backoff, Jitter};
/// let b = Backoff { jitter: Jitter::None, ..Backoff::default() };
/// assert_eq!(b.delay(0, 0.5), Duration::from_millis(500));
/// assert_eq!(b.delay(1, 0.5), Duration::from_millis(1000));
/// assert_eq!(b.delay(30, 0.5), Duration::from_millis(30_000)); // capped at max
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Ceiling of the first retry (default 500 ms).
    pub initial: Duration,
    /// Largest ceiling (default 30 s).
    pub max: Duration,
    /// Growth factor per attempt (default 2.0; values below 1 are treated as 1).
    pub factor: f64,
    /// Jitter mode (default full).
    pub jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: Jitter::Full,
        }
    }
}

impl Backoff {
    /// The delay ceiling for attempt `n` (0-based), before jitter.
    ///
    /// ```
    /// let b = resocket::Backoff::default();
    /// assert_eq!(b.ceiling(2).as_millis(), 2000);
    /// ```
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let initial = self.initial.as_secs_f64() * 1000.0;
        let max = self.max.as_secs_f64() * 1000.0;
        let factor = if self.factor.is_finite() {
            self.factor.max(1.0)
        } else {
            1.0
        };
        let exp = powi(factor, attempt.min(1024));
        let ms = (initial * exp).min(max);
        let ms = if ms.is_finite() { ms.max(0.0) } else { max };
        // Whole microseconds; `as` saturates, where `from_secs_f64` panics on overflow.
        Duration::from_micros((ms * 1000.0) as u64)
    }

    /// The delay for attempt `n`, given a uniform random number in `[0, 1)`.
    ///
    /// ```
    /// use resocket::{Backoff, Jitter};
    /// let b = Backoff { jitter: Jitter::Equal, ..Backoff::default() };
    /// assert_eq!(b.delay(0, 0.0).as_millis(), 250);
    /// ```
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let ceiling = self.ceiling(attempt).as_secs_f64();
        let r = if random.is_finite() {
            random.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let secs = match self.jitter {
            Jitter::Full => ceiling * r,
            Jitter::Equal => ceiling / 2.0 + ceiling / 2.0 * r,
            Jitter::None => ceiling,
        };
        // Whole milliseconds: that is what timers take.
        Duration::from_millis(round(secs * 1000.0))
    }
}

/// `base` to the power `n`, by squaring (`f64::powi` is not in `core`).
fn powi(mut base: f64, mut n: u32) -> f64 {
    let mut result = 1.0;
    while n > 0 {
        if n & 1 == 1 {
            result *= base;
        }
        base *= base;
        n >>= 1;
    }
    result
}

/// `x` rounded half away from zero, for `x >= 0`; saturating like `as` (`f64::round` is not in
/// `core`).
fn round(x: f64) -> u64 {
    let whole = x as u64;
    if x - whole as f64 >= 0.5 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

/// Whether another attempt is allowed after `failures` consecutive failures.
pub(crate) fn retry_allowed(max_retries: Option<u32>, failures: u32) -> bool {
    max_retries.is_none_or(|max| failures < max)
}

/// A small xorshift64* generator: seeded for reproducible jitter in tests, from the browser's
/// `Math.random` otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is remapped to a fixed non-zero state).
    pub(crate) fn new(seed: u64) -> Self {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next number, uniform in `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn ms(d: Duration) -> u128 {
        d.as_millis()
    }

    #[test]
    fn huge_delays_saturate_instead_of_panicking() {
        // Duration::MAX in f64 rounds above u64::MAX seconds: `from_secs_f64` panicked here.
        let b = Backoff {
            initial: Duration::MAX,
            max: Duration::MAX,
            ..Backoff::default()
        };
        assert!(b.ceiling(3) > Duration::from_secs(1 << 40));
        assert!(b.delay(3, 0.5) > Duration::from_secs(1 << 40));
    }

    #[test]
    fn ceiling_grows_then_caps() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            factor: 3.0,
            jitter: Jitter::None,
        };
        let got: Vec<u128> = (0..5).map(|n| ms(b.ceiling(n))).collect();
        assert_eq!(got, vec![100, 300, 900, 1000, 1000]);
        assert_eq!(
            ms(b.ceiling(u32::MAX)),
            1000,
            "no overflow at huge attempts"
        );
    }

    #[test]
    fn core_float_helpers_match_std() {
        for x in [
            0.0,
            0.4,
            0.5,
            1.5,
            2.49,
            1000.5,
            1e20,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert_eq!(round(x), x.round() as u64, "{x}");
        }
        for (base, n) in [(2.0, 10), (1.5, 7), (1.1, 100), (3.0, 1024), (1.0, 0)] {
            let (ours, std) = (powi(base, n), base.powi(n as i32));
            assert!(
                ours == std || (ours / std - 1.0).abs() < 1e-12,
                "{base}^{n}"
            );
        }
    }

    #[test]
    fn odd_factors_do_not_panic_or_shrink() {
        for factor in [0.0, 0.5, -2.0, f64::NAN, f64::INFINITY] {
            let b = Backoff {
                factor,
                jitter: Jitter::None,
                ..Backoff::default()
            };
            assert_eq!(ms(b.delay(5, 0.3)), 500, "factor {factor}");
        }
        let b = Backoff {
            factor: 1e300,
            jitter: Jitter::None,
            ..Backoff::default()
        };
        assert_eq!(ms(b.delay(3, 0.0)), 30_000);
    }

    #[test]
    fn jitter_modes_stay_in_their_ranges() {
        let mut rng = Rng::new(42);
        for attempt in 0..12 {
            for _ in 0..200 {
                let r = rng.next_f64();
                let ceiling = ms(Backoff::default().ceiling(attempt));
                let full = ms(Backoff::default().delay(attempt, r));
                assert!(full <= ceiling);
                let equal = ms(Backoff {
                    jitter: Jitter::Equal,
                    ..Backoff::default()
                }
                .delay(attempt, r));
                assert!(equal >= ceiling / 2 && equal <= ceiling);
            }
        }
        assert_eq!(ms(Backoff::default().delay(0, f64::NAN)), 0);
        assert_eq!(ms(Backoff::default().delay(0, 7.0)), 500);
    }

    #[test]
    fn full_jitter_spreads_evenly() {
        let mut rng = Rng::new(1234);
        let b = Backoff::default();
        let n = 10_000;
        let mean: f64 = (0..n)
            .map(|_| ms(b.delay(3, rng.next_f64())) as f64)
            .sum::<f64>()
            / n as f64;
        assert!((mean - 2000.0).abs() < 60.0, "mean {mean}");
    }

    #[test]
    fn retry_limits() {
        assert!(retry_allowed(Some(1), 0));
        assert!(!retry_allowed(Some(1), 1));
        assert!(!retry_allowed(Some(0), 0));
        assert!(retry_allowed(None, 0));
    }

    #[test]
    fn rng_is_reproducible_and_uniformish() {
        let a: Vec<f64> = {
            let mut r = Rng::new(99);
            (0..5).map(|_| r.next_f64()).collect()
        };
        let mut r = Rng::new(99);
        assert_eq!(a, (0..5).map(|_| r.next_f64()).collect::<Vec<_>>());
        let mut r = Rng::new(5);
        let below_half = (0..10_000).filter(|_| r.next_f64() < 0.5).count();
        assert!((4800..5200).contains(&below_half), "{below_half}");
    }
}
