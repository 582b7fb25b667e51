//! Narrow floating-point formats and their exact conversions to and from f32.
//!
//! One algorithm serves every format: the chip's float converters are one parameterised
//! datapath, so the simulator uses one parameterised function, and a bug cannot hide in a
//! format-specific copy. Everything is integer bit manipulation on the f32 encoding: no host
//! floating-point operation decides a result, so results are the same on every platform and
//! under every compiler flag.
//!
//! Semantics (see `docs/numerics.md`):
//! - rounding is IEEE 754 round-to-nearest, ties-to-even, decided on the exact value;
//! - subnormals are produced and consumed exactly (the chip has no flush-to-zero mode);
//! - overflow is decided *after* rounding, as IEEE does: a value that rounds to the largest
//!   finite code is not an overflow;
//! - every NaN becomes the destination's canonical NaN (positive, quiet): NaN payloads and signs
//!   carry no information on the chip (like Arm's "default NaN" mode), which keeps results
//!   bit-exact without modelling payload propagation.

/// How a finite value too large for the destination, or an infinity, is converted.
///
/// Two modes because the two consumers want different things: inference kernels want
/// [`Overflow::Saturate`] (a clamped activation is a small error, an infinity poisons every sum
/// it enters), while checking tools want [`Overflow::NonSaturating`] to see that something
/// overflowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Overflow {
    /// Every non-NaN input maps to a finite code: overflow and ±infinity become ±max finite.
    /// This is PTX `cvt.satfinite` (and CUDA `__NV_SATFINITE`): ±inf also clamps.
    Saturate,
    /// IEEE behaviour: overflow and ±infinity become ±infinity, or the canonical NaN in formats
    /// without infinities (fp8 e4m3).
    NonSaturating,
}

/// How a format spends its top exponent code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Specials {
    /// IEEE 754 style: the all-ones exponent holds ±infinity (mantissa 0) and NaNs.
    Ieee,
    /// OCP FP8 "fn" style (finite, NaN-only): no infinities; the all-ones exponent is an ordinary
    /// binade except for the all-ones mantissa, which is NaN. Buys one more binade of range.
    FiniteNan,
}

/// A binary floating-point format narrower than f32: sign bit, `exp_bits` exponent bits with
/// bias `2^(exp_bits-1) - 1`, `man_bits` stored mantissa bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FloatFormat {
    name: &'static str,
    exp_bits: u32,
    man_bits: u32,
    specials: Specials,
}

/// The canonical f32 NaN (positive, quiet, zero payload) that every NaN decodes to.
pub const F32_CANONICAL_NAN_BITS: u32 = 0x7fc0_0000;

/// bfloat16: 8 exponent bits, 7 mantissa bits, IEEE specials. The f32 range with 8 significant
/// bits; the matrix unit's main float input.
pub const BF16: FloatFormat = FloatFormat::new("bf16", 8, 7, Specials::Ieee);
/// IEEE 754 binary16: 5 exponent bits, 10 mantissa bits, max 65504.
pub const F16: FloatFormat = FloatFormat::new("f16", 5, 10, Specials::Ieee);
/// OCP FP8 E4M3 ("e4m3fn"): 4 exponent bits, 3 mantissa bits, no infinities, NaN = `S.1111.111`,
/// max 448. The weight/activation fp8 format.
pub const F8E4M3: FloatFormat = FloatFormat::new("e4m3", 4, 3, Specials::FiniteNan);
/// OCP FP8 E5M2: 5 exponent bits, 2 mantissa bits, IEEE specials, max 57344. The wide-range fp8
/// format (gradients elsewhere; here, activations with outliers).
pub const F8E5M2: FloatFormat = FloatFormat::new("e5m2", 5, 2, Specials::Ieee);

impl FloatFormat {
    /// Builds a format, checking at compile time (all formats are constants) that the one
    /// conversion algorithm is exact for it: the format must sit inside f32, with fewer
    /// mantissa bits and no larger exponent range, so every code is an f32 value and every
    /// rounding shift is positive.
    pub const fn new(name: &'static str, exp_bits: u32, man_bits: u32, specials: Specials) -> Self {
        assert!(exp_bits >= 2 && exp_bits <= 8, "exp_bits must be in 2..=8");
        assert!(
            man_bits >= 1 && man_bits <= 22,
            "man_bits must be in 1..=22"
        );
        assert!(
            !matches!(specials, Specials::FiniteNan) || exp_bits < 8,
            "a finite-NaN format with 8 exponent bits would exceed the f32 range"
        );
        Self {
            name,
            exp_bits,
            man_bits,
            specials,
        }
    }

    /// Short name used in dtypes, ISA mnemonics and reports.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Number of exponent bits.
    pub const fn exp_bits(&self) -> u32 {
        self.exp_bits
    }

    /// Number of stored mantissa (fraction) bits.
    pub const fn man_bits(&self) -> u32 {
        self.man_bits
    }

    /// Special-value convention.
    pub const fn specials(&self) -> Specials {
        self.specials
    }

    /// Total width of a code in bits.
    pub const fn width_bits(&self) -> u32 {
        1 + self.exp_bits + self.man_bits
    }

    /// Exponent bias.
    pub const fn bias(&self) -> i32 {
        (1 << (self.exp_bits - 1)) - 1
    }

    /// Unbiased exponent of the smallest normal number (also the exponent of the subnormals'
    /// scale).
    pub const fn emin(&self) -> i32 {
        1 - self.bias()
    }

    const fn mask(&self) -> u32 {
        (1 << self.width_bits()) - 1
    }

    const fn sign_bit(&self) -> u32 {
        1 << (self.exp_bits + self.man_bits)
    }

    const fn exp_all_ones(&self) -> u32 {
        ((1 << self.exp_bits) - 1) << self.man_bits
    }

    /// Largest finite magnitude code (sign bit clear).
    pub const fn max_finite_bits(&self) -> u32 {
        match self.specials {
            Specials::Ieee => self.exp_all_ones() - 1,
            Specials::FiniteNan => self.exp_all_ones() | ((1 << self.man_bits) - 2),
        }
    }

    /// Code of +infinity, if the format has one.
    pub const fn infinity_bits(&self) -> Option<u32> {
        match self.specials {
            Specials::Ieee => Some(self.exp_all_ones()),
            Specials::FiniteNan => None,
        }
    }

    /// The canonical NaN every NaN converts to: positive, and for IEEE formats quiet (top
    /// mantissa bit set, rest zero); for e4m3 the only positive NaN code.
    pub const fn canonical_nan_bits(&self) -> u32 {
        match self.specials {
            Specials::Ieee => self.exp_all_ones() | (1 << (self.man_bits - 1)),
            Specials::FiniteNan => self.exp_all_ones() | ((1 << self.man_bits) - 1),
        }
    }

    /// Whether `bits` (low `width_bits` are used) is a NaN code.
    pub const fn is_nan(&self, bits: u32) -> bool {
        let mag = bits & self.mask() & !self.sign_bit();
        match self.specials {
            Specials::Ieee => mag > self.exp_all_ones(),
            Specials::FiniteNan => mag == self.exp_all_ones() | ((1 << self.man_bits) - 1),
        }
    }

    /// Largest finite value, as f32.
    pub fn max_finite(&self) -> f32 {
        self.decode(self.max_finite_bits())
    }

    /// Smallest positive normal value, as f32.
    pub fn min_positive_normal(&self) -> f32 {
        self.decode(1 << self.man_bits)
    }

    /// Smallest positive subnormal value, as f32.
    pub fn min_positive_subnormal(&self) -> f32 {
        self.decode(1)
    }

    /// Converts f32 to this format, round-to-nearest-even, subnormals exact, overflow per
    /// `overflow`, NaN to the canonical NaN. Returns the code in the low `width_bits` bits.
    #[inline]
    pub fn encode(&self, x: f32, overflow: Overflow) -> u32 {
        let bits = x.to_bits();
        let sign = if bits >> 31 == 1 { self.sign_bit() } else { 0 };
        let abs = bits & 0x7fff_ffff;
        if abs > 0x7f80_0000 {
            return self.canonical_nan_bits();
        }
        if abs == 0x7f80_0000 {
            return self.overflow_code(sign, overflow);
        }
        if abs == 0 {
            return sign;
        }
        // |x| = sig * 2^e exactly.
        let f32_exp = (abs >> 23) as i32;
        let (sig, e) = if f32_exp == 0 {
            (u64::from(abs), -149)
        } else {
            (u64::from((abs & 0x007f_ffff) | 0x0080_0000), f32_exp - 150)
        };
        // floor(log2 |x|), then the quantum (ulp exponent) of the destination at that
        // magnitude: below the normal range the quantum stops shrinking (subnormals).
        let k = e + (63 - sig.leading_zeros() as i32);
        let man = self.man_bits as i32;
        let q = k.max(self.emin()) - man;
        let shift = q - e;
        // Guaranteed by `new`: the destination never has a finer quantum than f32.
        debug_assert!(shift >= 1);
        // n = |x| / 2^q rounded to nearest, ties to even.
        let n = if shift >= 64 {
            0
        } else {
            let kept = sig >> shift;
            let rem = sig & ((1u64 << shift) - 1);
            let half = 1u64 << (shift - 1);
            if rem > half || (rem == half && kept & 1 == 1) {
                kept + 1
            } else {
                kept
            }
        };
        if n == 0 {
            return sign;
        }
        // Normal numbers have n in [2^man, 2^(man+1)]; subnormals (q at its floor) n <= 2^man.
        // In both cases the magnitude code is (binade index << man) + n, and a carry out of the
        // mantissa lands on the next binade's code, as it must.
        let binade = (q - (self.emin() - man)) as u64;
        let code = (binade << man) + n;
        if code > u64::from(self.max_finite_bits()) {
            return self.overflow_code(sign, overflow);
        }
        sign | code as u32
    }

    const fn overflow_code(&self, sign: u32, overflow: Overflow) -> u32 {
        match (overflow, self.specials) {
            (Overflow::Saturate, _) => sign | self.max_finite_bits(),
            (Overflow::NonSaturating, Specials::Ieee) => sign | self.exp_all_ones(),
            (Overflow::NonSaturating, Specials::FiniteNan) => self.canonical_nan_bits(),
        }
    }

    /// Converts a code (low `width_bits` bits; higher bits are ignored) to f32. Exact for every
    /// non-NaN code; NaN codes give the canonical f32 NaN.
    #[inline]
    pub fn decode(&self, bits: u32) -> f32 {
        let bits = bits & self.mask();
        if self.is_nan(bits) {
            return f32::from_bits(F32_CANONICAL_NAN_BITS);
        }
        let sign = if bits & self.sign_bit() != 0 {
            0x8000_0000
        } else {
            0
        };
        let mag = bits & !self.sign_bit();
        if Some(mag) == self.infinity_bits() {
            return f32::from_bits(sign | 0x7f80_0000);
        }
        let man = self.man_bits as i32;
        let exp_field = (mag >> self.man_bits) as i32;
        let frac = mag & ((1 << self.man_bits) - 1);
        // |value| = n * 2^p.
        let (n, p) = if exp_field == 0 {
            (frac, self.emin() - man)
        } else {
            (frac | (1 << self.man_bits), exp_field - self.bias() - man)
        };
        if n == 0 {
            return f32::from_bits(sign);
        }
        let msb = 31 - n.leading_zeros() as i32;
        let k = p + msb;
        let f = if k >= -126 {
            (((k + 127) as u32) << 23) | ((n << (23 - msb)) & 0x007f_ffff)
        } else {
            // Below f32's normal range (only bf16 reaches here): an f32 subnormal, exact because
            // bf16's quantum 2^-133 is a multiple of f32's 2^-149.
            n << (p + 149)
        };
        f32::from_bits(sign | f)
    }

    /// Converts a code of `self` to a code of `to`, through the exact f32 value (so exactly one
    /// rounding happens, in the final encode).
    #[inline]
    pub fn convert(&self, bits: u32, to: &FloatFormat, overflow: Overflow) -> u32 {
        to.encode(self.decode(bits), overflow)
    }

    /// Bytes per code in memory.
    pub const fn size_bytes(&self) -> usize {
        self.width_bits().div_ceil(8) as usize
    }

    /// Encodes `xs` into `out` as little-endian codes (the chip's memory byte order).
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] if `out.len() != xs.len() * size_bytes()`.
    pub fn encode_slice(
        &self,
        xs: &[f32],
        overflow: Overflow,
        out: &mut [u8],
    ) -> crate::Result<()> {
        let w = self.size_bytes();
        check_len("encoded float bytes", xs.len() * w, out.len())?;
        for (x, chunk) in xs.iter().zip(out.chunks_exact_mut(w)) {
            let code = self.encode(*x, overflow);
            chunk.copy_from_slice(&code.to_le_bytes()[..w]);
        }
        Ok(())
    }

    /// Decodes little-endian codes from `bytes` into `out`.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] if `bytes.len() != out.len() * size_bytes()`.
    pub fn decode_slice(&self, bytes: &[u8], out: &mut [f32]) -> crate::Result<()> {
        let w = self.size_bytes();
        check_len("encoded float bytes", out.len() * w, bytes.len())?;
        for (y, chunk) in out.iter_mut().zip(bytes.chunks_exact(w)) {
            let mut le = [0u8; 4];
            le[..w].copy_from_slice(chunk);
            *y = self.decode(u32::from_le_bytes(le));
        }
        Ok(())
    }
}

pub(crate) fn check_len(what: &'static str, expected: usize, actual: usize) -> crate::Result<()> {
    if expected == actual {
        Ok(())
    } else {
        Err(crate::Error::ShapeMismatch {
            what,
            expected,
            actual,
        })
    }
}

/// f32 → bf16 bits.
#[inline]
pub fn f32_to_bf16(x: f32, overflow: Overflow) -> u16 {
    BF16.encode(x, overflow) as u16
}

/// bf16 bits → f32 (exact; NaN → canonical).
#[inline]
pub fn bf16_to_f32(bits: u16) -> f32 {
    BF16.decode(u32::from(bits))
}

/// f32 → IEEE binary16 bits.
#[inline]
pub fn f32_to_f16(x: f32, overflow: Overflow) -> u16 {
    F16.encode(x, overflow) as u16
}

/// IEEE binary16 bits → f32 (exact; NaN → canonical).
#[inline]
pub fn f16_to_f32(bits: u16) -> f32 {
    F16.decode(u32::from(bits))
}

/// f32 → fp8 e4m3 bits.
#[inline]
pub fn f32_to_f8e4m3(x: f32, overflow: Overflow) -> u8 {
    F8E4M3.encode(x, overflow) as u8
}

/// fp8 e4m3 bits → f32 (exact; NaN → canonical).
#[inline]
pub fn f8e4m3_to_f32(bits: u8) -> f32 {
    F8E4M3.decode(u32::from(bits))
}

/// f32 → fp8 e5m2 bits.
#[inline]
pub fn f32_to_f8e5m2(x: f32, overflow: Overflow) -> u8 {
    F8E5M2.encode(x, overflow) as u8
}

/// fp8 e5m2 bits → f32 (exact; NaN → canonical).
#[inline]
pub fn f8e5m2_to_f32(bits: u8) -> f32 {
    F8E5M2.decode(u32::from(bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Overflow::{NonSaturating as Ns, Saturate as Sat};

    #[test]
    fn format_constants() {
        assert_eq!(BF16.max_finite(), f32::from_bits(0x7f7f_0000));
        assert_eq!(F16.max_finite(), 65504.0);
        assert_eq!(F8E4M3.max_finite(), 448.0);
        assert_eq!(F8E5M2.max_finite(), 57344.0);
        assert_eq!(F8E4M3.min_positive_subnormal(), 2f32.powi(-9));
        assert_eq!(F8E5M2.min_positive_subnormal(), 2f32.powi(-16));
        assert_eq!(F16.min_positive_subnormal(), 2f32.powi(-24));
        assert_eq!(BF16.min_positive_subnormal(), f32::from_bits(1 << 16));
        assert_eq!(F8E4M3.min_positive_normal(), 2f32.powi(-6));
        assert_eq!(F8E4M3.canonical_nan_bits(), 0x7f);
        assert_eq!(F8E5M2.canonical_nan_bits(), 0x7e);
        assert_eq!(F16.canonical_nan_bits(), 0x7e00);
        assert_eq!(BF16.canonical_nan_bits(), 0x7fc0);
        assert!(F8E4M3.is_nan(0xff) && F8E4M3.is_nan(0x7f) && !F8E4M3.is_nan(0x7e));
        assert!(F8E5M2.is_nan(0xfd) && !F8E5M2.is_nan(0x7c) && !F8E5M2.is_nan(0xfc));
        assert_eq!(F8E4M3.size_bytes(), 1);
        assert_eq!(BF16.size_bytes(), 2);
    }

    #[test]
    fn simple_values() {
        assert_eq!(f32_to_bf16(1.0, Sat), 0x3f80);
        assert_eq!(f32_to_f16(1.0, Sat), 0x3c00);
        assert_eq!(f32_to_f8e4m3(1.0, Sat), 0x38);
        assert_eq!(f32_to_f8e5m2(1.0, Sat), 0x3c);
        assert_eq!(f32_to_f8e4m3(-448.0, Ns), 0xfe);
        assert_eq!(f32_to_f16(-0.0, Ns), 0x8000);
        assert_eq!(f8e4m3_to_f32(0x01), 2f32.powi(-9));
        assert_eq!(f8e5m2_to_f32(0xfb), -57344.0);
        assert_eq!(bf16_to_f32(0xff80), f32::NEG_INFINITY);
    }

    #[test]
    fn ties_go_to_even() {
        // 1 + 2^-8 is exactly halfway between bf16 1.0 (even) and 1 + 2^-7 (odd).
        assert_eq!(f32_to_bf16(1.0 + 2f32.powi(-8), Ns), 0x3f80);
        // 1 + 3*2^-8 is halfway between 1+2^-7 (odd) and 1+2^-6 (even).
        assert_eq!(f32_to_bf16(1.0 + 3.0 * 2f32.powi(-8), Ns), 0x3f82);
        // e4m3: 17 is halfway between 16 (0x58, even) and 18 (0x59).
        assert_eq!(f32_to_f8e4m3(17.0, Ns), 0x58);
        assert_eq!(f32_to_f8e4m3(19.0, Ns), 0x5a);
        // Smallest e4m3 subnormal is 2^-9: exactly half of it ties to zero, anything above
        // rounds up.
        assert_eq!(f32_to_f8e4m3(2f32.powi(-10), Ns), 0x00);
        assert_eq!(f32_to_f8e4m3(-2f32.powi(-10), Ns), 0x80);
        assert_eq!(
            f32_to_f8e4m3(f32::from_bits(2f32.powi(-10).to_bits() + 1), Ns),
            0x01
        );
        assert_eq!(f32_to_f8e4m3(3.0 * 2f32.powi(-10), Ns), 0x02);
    }

    #[test]
    fn overflow_modes() {
        // e4m3: 464 is the midpoint of 448 (even mantissa) and the would-be 480: stays 448.
        assert_eq!(f32_to_f8e4m3(464.0, Ns), 0x7e);
        assert_eq!(f32_to_f8e4m3(464.01, Ns), 0x7f);
        assert_eq!(f32_to_f8e4m3(-464.01, Ns), 0x7f);
        assert_eq!(f32_to_f8e4m3(-1e9, Sat), 0xfe);
        assert_eq!(f32_to_f8e4m3(f32::INFINITY, Ns), 0x7f);
        assert_eq!(f32_to_f8e4m3(f32::NEG_INFINITY, Sat), 0xfe);
        // e5m2: 61440 is the midpoint of 57344 (odd mantissa) and 65536 (= inf): overflows.
        assert_eq!(f32_to_f8e5m2(61439.996, Ns), 0x7b);
        assert_eq!(f32_to_f8e5m2(61440.0, Ns), 0x7c);
        assert_eq!(f32_to_f8e5m2(61440.0, Sat), 0x7b);
        assert_eq!(f32_to_f8e5m2(f32::NEG_INFINITY, Ns), 0xfc);
        assert_eq!(f32_to_f8e5m2(f32::NEG_INFINITY, Sat), 0xfb);
        assert_eq!(f32_to_f16(65520.0, Ns), 0x7c00);
        assert_eq!(f32_to_f16(65519.996, Ns), 0x7bff);
        assert_eq!(f32_to_bf16(f32::MAX, Ns), 0x7f80);
        assert_eq!(f32_to_bf16(f32::MAX, Sat), 0x7f7f);
        assert_eq!(f32_to_bf16(f32::INFINITY, Sat), 0x7f7f);
    }

    #[test]
    fn nan_is_canonical() {
        let nans = [
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7f80_0001),
            f32::from_bits(0xffff_ffff),
        ];
        for x in nans {
            for ov in [Sat, Ns] {
                assert_eq!(f32_to_bf16(x, ov), 0x7fc0);
                assert_eq!(f32_to_f16(x, ov), 0x7e00);
                assert_eq!(f32_to_f8e4m3(x, ov), 0x7f);
                assert_eq!(f32_to_f8e5m2(x, ov), 0x7e);
            }
        }
        assert_eq!(bf16_to_f32(0xffc1).to_bits(), F32_CANONICAL_NAN_BITS);
        assert_eq!(f8e4m3_to_f32(0xff).to_bits(), F32_CANONICAL_NAN_BITS);
    }

    #[test]
    fn f32_subnormals_into_bf16_are_exact() {
        for bits in [
            1u32 << 16,
            0x0001_8000,
            0x007f_0000,
            0x0000_8000,
            0x0000_8001,
        ] {
            let x = f32::from_bits(bits);
            let code = f32_to_bf16(x, Ns);
            let expect = {
                // bf16 is the top half of f32; RNE on the dropped 16 bits.
                let low = bits & 0xffff;
                let hi = bits >> 16;
                if low > 0x8000 || (low == 0x8000 && hi & 1 == 1) {
                    hi + 1
                } else {
                    hi
                }
            };
            assert_eq!(u32::from(code), expect, "bits {bits:#x}");
        }
        // The smallest f32 subnormal is far below half of bf16's smallest: rounds to zero.
        assert_eq!(f32_to_bf16(f32::from_bits(1), Ns), 0);
    }

    #[test]
    fn high_bits_are_ignored_on_decode() {
        assert_eq!(F8E4M3.decode(0x138), 1.0);
    }

    #[test]
    fn convert_between_formats() {
        // f16 max 65504 does not fit e4m3.
        assert_eq!(F16.convert(0x7bff, &F8E4M3, Sat), 0x7e);
        assert_eq!(F16.convert(0x7bff, &F8E4M3, Ns), 0x7f);
        assert_eq!(F8E4M3.convert(0x38, &BF16, Sat), 0x3f80);
    }

    #[test]
    fn slices_are_little_endian() {
        let mut bytes = [0u8; 4];
        BF16.encode_slice(&[1.0, -2.0], Sat, &mut bytes).unwrap();
        assert_eq!(bytes, [0x80, 0x3f, 0x00, 0xc0]);
        let mut back = [0f32; 2];
        BF16.decode_slice(&bytes, &mut back).unwrap();
        assert_eq!(back, [1.0, -2.0]);
        assert!(BF16.encode_slice(&[1.0], Sat, &mut bytes).is_err());
        assert!(F8E5M2.decode_slice(&bytes, &mut back).is_err());
    }
}
