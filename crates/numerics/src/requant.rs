//! Fixed-point requantization: int32 accumulator → int8/uint8 output, integers only.
//!
//! An int8 layer computes `acc = Σ (a - za)·w (+ bias)` in int32 at scale `s_a·s_w`; its output
//! wants scale `s_out`, so `q_out = za_out + acc · M` with `M = s_a·s_w / s_out`. The chip has no
//! float unit on this path (it is in every layer's epilogue and must be cheap), so `M` is stored
//! as a Q31 integer `m` in `[2^30, 2^31)` and a shift, the gemmlowp/TFLite scheme:
//!
//! ```text
//! M ≈ m · 2^-31 · 2^-right_shift
//! right_shift >= 0 (M < 1, the usual case):
//!   y   = srdhm(acc, m)               = round(acc·m / 2^31)      (one 64-bit product)
//!   z   = rounding_shift_right(y, right_shift)
//! right_shift < 0 (M in [1, 2^31)):
//!   z   = saturate_i32(round(acc·m / 2^(31 + right_shift)))
//! out = clamp(z + zero_point, qmin, qmax)
//! ```
//!
//! **Every rounding is round-half-away-from-zero**, so requantization is sign-symmetric
//! (`f(-x) = -f(x)` before the zero point, saturation aside), matching gemmlowp's
//! `RoundingDivideByPOT`. gemmlowp's own `SaturatingRoundingDoublingHighMul` (like Arm
//! `VQRDMULH`) breaks ties toward +∞ instead; we do not copy that asymmetry, so results can
//! differ from TFLite's reference kernels by one on exact ties of the first step. The M < 1 path
//! keeps the two-step structure (two roundings: total error below 1 output unit, see the tests);
//! the M ≥ 1 path folds TFLite's left shift into the product's shift, which equals
//! `srdhm(acc << ls, m)` whenever `acc << ls` fits int32 and saturates correctly when it does not
//! (a saturating shift *before* a multiply by m/2^31 < 1 would not).
//! Float→int quantization elsewhere in this crate rounds half-to-even instead, like every float
//! conversion; the two rules live on different units and are each documented.
//!
//! Shifts up to 62 are exact (the arithmetic is 64-bit), so multipliers down to 2^-63 work; below
//! that the multiplier is stored as 0, which gives 0 for every int32 input — also the correctly
//! rounded answer.

use crate::{Error, Result};

/// A real multiplier encoded as a Q31 integer and a right shift. Fields are private so the
/// invariants (`multiplier` is 0 or in `[2^30, 2^31)`, `right_shift` in `[-31, 62]`) always hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QuantizedMultiplier {
    multiplier: i32,
    right_shift: i32,
}

/// Largest right shift: with 64-bit intermediates, `|y| + 2^(s-1)` never overflows for s ≤ 62.
pub const MAX_RIGHT_SHIFT: i32 = 62;
/// Largest left shift (multipliers up to 2^31).
pub const MAX_LEFT_SHIFT: i32 = 31;

impl QuantizedMultiplier {
    /// The multiplier that maps everything to 0.
    pub const ZERO: QuantizedMultiplier = QuantizedMultiplier {
        multiplier: 0,
        right_shift: 0,
    };

    /// Builds from raw fields, as read from a program or written by hand.
    ///
    /// # Errors
    /// [`Error::InvalidFixedPoint`] if the fields break the invariants.
    pub fn new(multiplier: i32, right_shift: i32) -> Result<Self> {
        let ok = if multiplier == 0 {
            right_shift == 0
        } else {
            multiplier >= 1 << 30 && (-MAX_LEFT_SHIFT..=MAX_RIGHT_SHIFT).contains(&right_shift)
        };
        if ok {
            Ok(Self {
                multiplier,
                right_shift,
            })
        } else {
            Err(Error::InvalidFixedPoint {
                multiplier,
                right_shift,
            })
        }
    }

    /// Encodes a real multiplier: `m = round_half_even(frac · 2^31)` where `M = frac · 2^e`,
    /// `frac ∈ [0.5, 1)`, computed exactly from the f64 bits (no libm, no host rounding mode).
    ///
    /// # Errors
    /// [`Error::MultiplierOutOfRange`] if `real` is NaN, infinite, negative, or rounds to 2^31
    /// or more.
    pub fn from_real(real: f64) -> Result<Self> {
        if !real.is_finite() || real < 0.0 {
            return Err(Error::MultiplierOutOfRange { multiplier: real });
        }
        let bits = real.to_bits();
        let exp_field = ((bits >> 52) & 0x7ff) as i32;
        if exp_field == 0 {
            // Zero or an f64 subnormal (< 2^-1022): far below 2^-63.
            return Ok(Self::ZERO);
        }
        // real = sig · 2^(exp_field - 1075), sig in [2^52, 2^53).
        let sig = (bits & ((1 << 52) - 1)) | (1 << 52);
        // frac = sig / 2^53; m = frac · 2^31 = sig / 2^22, rounded half to even.
        let kept = sig >> 22;
        let rem = sig & ((1 << 22) - 1);
        let half = 1 << 21;
        let mut m = if rem > half || (rem == half && kept & 1 == 1) {
            kept + 1
        } else {
            kept
        };
        // real = frac · 2^e with e = exp_field - 1022.
        let mut e = exp_field - 1022;
        if m == 1 << 31 {
            m = 1 << 30;
            e += 1;
        }
        let right_shift = -e;
        if right_shift < -MAX_LEFT_SHIFT {
            return Err(Error::MultiplierOutOfRange { multiplier: real });
        }
        if right_shift > MAX_RIGHT_SHIFT {
            return Ok(Self::ZERO);
        }
        Ok(Self {
            multiplier: m as i32,
            right_shift,
        })
    }

    /// The Q31 multiplier field.
    pub const fn multiplier(&self) -> i32 {
        self.multiplier
    }

    /// The right shift field (negative: left shift before the multiply).
    pub const fn right_shift(&self) -> i32 {
        self.right_shift
    }

    /// The real number this encoding stands for (exact: a 31-bit integer times a power of two).
    pub fn to_f64(&self) -> f64 {
        f64::from(self.multiplier) * 2f64.powi(-31 - self.right_shift)
    }

    /// `x · M`, rounded as described in the module docs. Total: defined for every int32.
    #[inline]
    pub fn apply(&self, x: i32) -> i32 {
        if self.multiplier == 0 {
            return 0;
        }
        if self.right_shift < 0 {
            // |x·m| < 2^62: exact in i64; one rounding, then saturation.
            let p = i64::from(x) * i64::from(self.multiplier);
            saturate_i32(div_pow2_round_half_away(p, (31 + self.right_shift) as u32))
        } else {
            rounding_shift_right(srdhm(x, self.multiplier), self.right_shift as u32)
        }
    }
}

fn saturate_i32(v: i64) -> i32 {
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// Saturating rounding doubling high multiply: `round(a·b / 2^31)`, ties away from zero. Saturates
/// in its one overflow case, `a = b = i32::MIN` (result would be 2^31), to `i32::MAX`.
#[inline]
pub fn srdhm(a: i32, b: i32) -> i32 {
    let p = i64::from(a) * i64::from(b);
    // |p| ≤ 2^62, so p ± 2^30 cannot overflow i64.
    saturate_i32(div_pow2_round_half_away(p, 31))
}

/// `round(x / 2^shift)`, ties away from zero, exact for every shift in `0..=62` (larger shifts
/// behave like 62: the result is 0). Matches gemmlowp's `RoundingDivideByPOT` on its domain
/// (shift ≤ 31) and extends it.
#[inline]
pub fn rounding_shift_right(x: i32, shift: u32) -> i32 {
    // |result| ≤ |x| ≤ 2^31; only x = i32::MIN, shift = 0 reaches 2^31 in magnitude, and that
    // returns x itself.
    div_pow2_round_half_away(i64::from(x), shift.min(62)) as i32
}

#[inline]
fn div_pow2_round_half_away(v: i64, shift: u32) -> i64 {
    if shift == 0 {
        return v;
    }
    let half = 1i64 << (shift - 1);
    let mag = (v.unsigned_abs() + half as u64) >> shift;
    if v < 0 { -(mag as i64) } else { mag as i64 }
}

/// One requantized value: `clamp(m.apply(acc) + zero_point, qmin, qmax)` (the addition is exact:
/// done in 64 bits before the clamp). This is `vpu.requant` in docs/isa.md.
#[inline]
pub fn requantize(acc: i32, m: QuantizedMultiplier, zero_point: i32, qmin: i32, qmax: i32) -> i32 {
    let v = i64::from(m.apply(acc)) + i64::from(zero_point);
    v.clamp(i64::from(qmin), i64::from(qmax)) as i32
}

/// The epilogue of an int8 layer: multiplier(s), output zero point and clamp range. The range is
/// also where a fused ReLU/ReLU6 lives (`qmin = zero_point` clamps negatives to real 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requantizer {
    multipliers: Vec<QuantizedMultiplier>,
    zero_point: i32,
    qmin: i32,
    qmax: i32,
}

impl Requantizer {
    /// One multiplier per output channel (per-channel weights), or exactly one for the whole
    /// tensor. `qmin..=qmax` must lie within i8 or u8 so the result fits one byte.
    ///
    /// # Errors
    /// [`Error::InvalidRange`] for an empty or out-of-byte range, [`Error::ZeroPointOutOfRange`],
    /// [`Error::ShapeMismatch`] for an empty multiplier list.
    pub fn new(
        multipliers: Vec<QuantizedMultiplier>,
        zero_point: i32,
        qmin: i32,
        qmax: i32,
    ) -> Result<Self> {
        if multipliers.is_empty() {
            return Err(Error::ShapeMismatch {
                what: "requantizer multipliers",
                expected: 1,
                actual: 0,
            });
        }
        let fits_i8 = qmin >= -128 && qmax <= 127;
        let fits_u8 = qmin >= 0 && qmax <= 255;
        if qmin >= qmax || !(fits_i8 || fits_u8) {
            return Err(Error::InvalidRange {
                qmin,
                qmax,
                lo: -128,
                hi: 255,
            });
        }
        if !(qmin..=qmax).contains(&zero_point) {
            return Err(Error::ZeroPointOutOfRange {
                zero_point,
                qmin,
                qmax,
            });
        }
        Ok(Self {
            multipliers,
            zero_point,
            qmin,
            qmax,
        })
    }

    /// Number of channels (1 when per-tensor).
    pub fn channels(&self) -> usize {
        self.multipliers.len()
    }

    /// The multipliers.
    pub fn multipliers(&self) -> &[QuantizedMultiplier] {
        &self.multipliers
    }

    /// Output zero point.
    pub const fn zero_point(&self) -> i32 {
        self.zero_point
    }

    /// Output clamp range.
    pub const fn range(&self) -> (i32, i32) {
        (self.qmin, self.qmax)
    }

    /// Requantizes one accumulator of channel `channel` (ignored when per-tensor).
    ///
    /// # Panics
    /// If `channel >= channels()` for a per-channel requantizer (a caller bug: channel indices
    /// come from the program's shapes, which are checked before execution).
    #[inline]
    pub fn apply(&self, acc: i32, channel: usize) -> i32 {
        let m = if self.multipliers.len() == 1 {
            self.multipliers[0]
        } else {
            self.multipliers[channel]
        };
        requantize(acc, m, self.zero_point, self.qmin, self.qmax)
    }

    /// Requantizes a row-major `[rows, channels]` accumulator block into bytes (each result's
    /// low byte: two's complement for i8 ranges, plain for u8 ranges), the layout the vector
    /// unit writes to SRAM.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `accs` is not a whole number of rows or `out` differs in length.
    pub fn apply_to_bytes(&self, accs: &[i32], out: &mut [u8]) -> Result<()> {
        let c = self.channels();
        if !accs.len().is_multiple_of(c) {
            return Err(Error::ShapeMismatch {
                what: "accumulators (a multiple of the channel count)",
                expected: accs.len().div_ceil(c) * c,
                actual: accs.len(),
            });
        }
        crate::float::check_len("requantized output bytes", accs.len(), out.len())?;
        for (row_in, row_out) in accs.chunks_exact(c).zip(out.chunks_exact_mut(c)) {
            for (ch, (a, o)) in row_in.iter().zip(row_out.iter_mut()).enumerate() {
                *o = self.apply(*a, ch) as u8;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srdhm_examples() {
        assert_eq!(srdhm(i32::MIN, i32::MIN), i32::MAX);
        assert_eq!(srdhm(i32::MIN, i32::MAX), -i32::MAX);
        assert_eq!(srdhm(i32::MAX, i32::MAX), i32::MAX - 1);
        // 3 · 2^30 / 2^31 = 1.5 → 2 ; -1.5 → -2 (away from zero, both signs).
        assert_eq!(srdhm(3, 1 << 30), 2);
        assert_eq!(srdhm(-3, 1 << 30), -2);
        assert_eq!(srdhm(1, 1 << 30), 1);
        assert_eq!(srdhm(-1, 1 << 30), -1);
        assert_eq!(srdhm(0, i32::MIN), 0);
    }

    #[test]
    fn rounding_shift_examples() {
        assert_eq!(rounding_shift_right(5, 1), 3);
        assert_eq!(rounding_shift_right(-5, 1), -3);
        assert_eq!(rounding_shift_right(7, 2), 2);
        assert_eq!(rounding_shift_right(-6, 2), -2);
        assert_eq!(rounding_shift_right(i32::MIN, 0), i32::MIN);
        assert_eq!(rounding_shift_right(i32::MIN, 31), -1);
        assert_eq!(rounding_shift_right(i32::MIN, 32), -1);
        assert_eq!(rounding_shift_right(i32::MIN, 33), 0);
        assert_eq!(rounding_shift_right(i32::MAX, 31), 1);
        assert_eq!(rounding_shift_right(i32::MAX, 32), 0);
        assert_eq!(rounding_shift_right(i32::MIN, 200), 0);
    }

    #[test]
    fn from_real_examples() {
        let half = QuantizedMultiplier::from_real(0.5).unwrap();
        assert_eq!((half.multiplier(), half.right_shift()), (1 << 30, 0));
        let one = QuantizedMultiplier::from_real(1.0).unwrap();
        assert_eq!((one.multiplier(), one.right_shift()), (1 << 30, -1));
        let q = QuantizedMultiplier::from_real(0.75 / 1024.0).unwrap();
        assert_eq!((q.multiplier(), q.right_shift()), (3 << 29, 10));
        // Just below 1 rounds up to 1.0 → renormalised.
        let nearly = QuantizedMultiplier::from_real(1.0 - 1e-12).unwrap();
        assert_eq!((nearly.multiplier(), nearly.right_shift()), (1 << 30, -1));
        assert_eq!(
            QuantizedMultiplier::from_real(0.0).unwrap(),
            QuantizedMultiplier::ZERO
        );
        assert_eq!(
            QuantizedMultiplier::from_real(1e-300).unwrap(),
            QuantizedMultiplier::ZERO
        );
        assert_eq!(
            QuantizedMultiplier::from_real(2f64.powi(-63))
                .unwrap()
                .right_shift(),
            62
        );
        assert_eq!(
            QuantizedMultiplier::from_real(2f64.powi(-64)).unwrap(),
            QuantizedMultiplier::ZERO
        );
        let big = QuantizedMultiplier::from_real(2f64.powi(31) - 1.0).unwrap();
        assert_eq!(big.right_shift(), -31);
        for bad in [f64::NAN, f64::INFINITY, -0.5, 2f64.powi(31)] {
            assert!(QuantizedMultiplier::from_real(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn apply_examples() {
        let half = QuantizedMultiplier::from_real(0.5).unwrap();
        assert_eq!(half.apply(5), 3);
        assert_eq!(half.apply(-5), -3);
        assert_eq!(half.apply(i32::MIN), -(1 << 30));
        let one = QuantizedMultiplier::from_real(1.0).unwrap();
        for x in [0, 1, -1, 12345, i32::MAX, i32::MIN] {
            assert_eq!(one.apply(x), x);
        }
        let four = QuantizedMultiplier::from_real(4.0).unwrap();
        assert_eq!(four.apply(1 << 29), i32::MAX);
        assert_eq!(four.apply((1 << 29) - 1), i32::MAX - 3);
        assert_eq!(four.apply(-(1 << 29)), i32::MIN);
        assert_eq!(four.apply(-3), -12);
        assert_eq!(QuantizedMultiplier::ZERO.apply(i32::MIN), 0);
    }

    #[test]
    fn new_checks_invariants() {
        assert!(QuantizedMultiplier::new(1 << 30, 0).is_ok());
        assert!(QuantizedMultiplier::new(i32::MAX, 62).is_ok());
        assert!(QuantizedMultiplier::new((1 << 30) - 1, 0).is_err());
        assert!(QuantizedMultiplier::new(-(1 << 30), 0).is_err());
        assert!(QuantizedMultiplier::new(1 << 30, 63).is_err());
        assert!(QuantizedMultiplier::new(1 << 30, -32).is_err());
        assert!(QuantizedMultiplier::new(0, 3).is_err());
        assert!(QuantizedMultiplier::new(0, 0).is_ok());
    }

    #[test]
    fn requantizer_clamps_and_checks() {
        let m = QuantizedMultiplier::from_real(0.25).unwrap();
        let r = Requantizer::new(vec![m], -10, -128, 127).unwrap();
        assert_eq!(r.apply(40, 0), 0);
        assert_eq!(r.apply(1_000_000, 0), 127);
        assert_eq!(r.apply(-1_000_000, 0), -128);
        let mut out = [0u8; 3];
        r.apply_to_bytes(&[40, -1_000_000, 1_000_000], &mut out)
            .unwrap();
        assert_eq!(out, [0, 0x80, 0x7f]);
        assert!(r.apply_to_bytes(&[1, 2], &mut out).is_err());
        assert!(Requantizer::new(vec![m], 0, 0, 300).is_err());
        assert!(Requantizer::new(vec![m], 0, 5, 5).is_err());
        assert!(Requantizer::new(vec![m], -1, 0, 255).is_err());
        assert!(Requantizer::new(vec![], 0, 0, 255).is_err());
        let pc = Requantizer::new(vec![m, QuantizedMultiplier::ZERO], 3, 0, 255).unwrap();
        let mut out = [0u8; 4];
        pc.apply_to_bytes(&[8, 8, 400, 400], &mut out).unwrap();
        assert_eq!(out, [5, 3, 103, 3]);
        assert!(pc.apply_to_bytes(&[1, 2, 3], &mut [0u8; 3]).is_err());
    }
}
