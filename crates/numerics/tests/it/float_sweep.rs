//! Large deterministic sweeps of f32 inputs against the oracle crates, with every intentional
//! difference spelled out and asserted.
//!
//! Intentional differences (the oracles are references for rounding, not for chip policy):
//! 1. NaN: `half` keeps the NaN's sign and payload, `float8` keeps the sign (and for e5m2 part
//!    of the payload); the chip always produces the positive canonical NaN.
//! 2. Overflow: `half` implements only IEEE overflow (→ ±inf), which is our
//!    `Overflow::NonSaturating`; in `Overflow::Saturate` we return ±max where it returns ±inf.
//! 3. `float8::from_f32` always saturates (±inf and overflow → ±max, like CUDA's
//!    `__NV_SATFINITE`), which is our `Overflow::Saturate`; in `Overflow::NonSaturating` we
//!    return ±inf (e5m2) or NaN (e4m3) above the overflow threshold.

use seedchip_numerics::{BF16, F8E4M3, F8E5M2, F16, FloatFormat, Overflow};

use crate::Rng;

const N_RANDOM_BITS: usize = 300_000;
const N_IN_RANGE: usize = 300_000;

/// Overflow threshold of the fp8 formats (|x| at or above which rounding leaves the finite
/// range), written down independently: e4m3 overflows strictly above 464, e5m2 at 61440 and up.
fn fp8_overflows(fmt: &FloatFormat, x: f32) -> bool {
    let a = x.abs();
    match fmt.name() {
        "e4m3" => a > 464.0,
        "e5m2" => a >= 61440.0,
        _ => unreachable!(),
    }
}

fn compare(fmt: &FloatFormat, x: f32) {
    let sat = fmt.encode(x, Overflow::Saturate);
    let ns = fmt.encode(x, Overflow::NonSaturating);
    let sign = if x.is_sign_negative() {
        1u32 << (fmt.width_bits() - 1)
    } else {
        0
    };
    if x.is_nan() {
        assert_eq!(sat, fmt.canonical_nan_bits());
        assert_eq!(ns, fmt.canonical_nan_bits());
    }
    match fmt.name() {
        "bf16" | "f16" => {
            let (o, inf) = if fmt.name() == "bf16" {
                let h = half::bf16::from_f32(x);
                (u32::from(h.to_bits()), h.is_infinite())
            } else {
                let h = half::f16::from_f32(x);
                (u32::from(h.to_bits()), h.is_infinite())
            };
            if x.is_nan() {
                assert!(fmt.is_nan(o), "{} oracle NaN {x:?}", fmt.name());
                return;
            }
            assert_eq!(ns, o, "{} {x:e} ({:#010x})", fmt.name(), x.to_bits());
            let want_sat = if inf { sign | fmt.max_finite_bits() } else { o };
            assert_eq!(sat, want_sat, "{} sat {x:e}", fmt.name());
        }
        _ => {
            let o = if fmt.name() == "e4m3" {
                u32::from(float8::F8E4M3::from_f32(x).to_bits())
            } else {
                u32::from(float8::F8E5M2::from_f32(x).to_bits())
            };
            if x.is_nan() {
                assert!(fmt.is_nan(o), "{} oracle NaN {x:?}", fmt.name());
                return;
            }
            assert_eq!(sat, o, "{} {x:e} ({:#010x})", fmt.name(), x.to_bits());
            let want_ns = if fp8_overflows(fmt, x) {
                match fmt.infinity_bits() {
                    Some(inf) => sign | inf,
                    None => fmt.canonical_nan_bits(),
                }
            } else {
                o
            };
            assert_eq!(ns, want_ns, "{} ns {x:e}", fmt.name());
        }
    }
}

#[test]
fn random_bit_patterns_match_the_oracles() {
    let mut rng = Rng::new(0x5eed_c41f);
    for fmt in [BF16, F16, F8E4M3, F8E5M2] {
        for _ in 0..N_RANDOM_BITS {
            compare(&fmt, f32::from_bits(rng.next_u32()));
        }
    }
}

#[test]
fn random_values_in_each_formats_range_match_the_oracles() {
    // Uniform bit patterns are mostly far outside fp8/f16 range; this sweep draws exponents
    // from just below the smallest subnormal to just above the largest finite value, with
    // random mantissas, and extra low mantissa bits near ties.
    let mut rng = Rng::new(0xf8f8_1616);
    for fmt in [BF16, F16, F8E4M3, F8E5M2] {
        let lo = fmt.emin() - fmt.man_bits() as i32 - 3;
        let hi = (fmt.bias() + 2).min(127);
        let span = (hi - lo + 1) as u64;
        for i in 0..N_IN_RANGE {
            let e = lo + rng.below(span) as i32;
            let biased = (e + 127).clamp(0, 254) as u32;
            let mut man = rng.next_u32() & 0x007f_ffff;
            if i % 4 == 0 {
                // Put the mantissa within a few f32 ulps of a tie for the destination.
                let keep = 23 - fmt.man_bits();
                let tie = 1u32 << (keep - 1);
                let jitter = rng.below(5) as u32;
                man = (man & !((1 << keep) - 1)) | (tie + jitter).saturating_sub(2);
            }
            let sign = rng.next_u32() & 0x8000_0000;
            compare(&fmt, f32::from_bits(sign | (biased << 23) | man));
        }
    }
}

#[test]
fn oracle_differences_are_the_documented_ones() {
    // 1. NaN payload/sign.
    let neg_nan = f32::from_bits(0xffc0_0001);
    assert_eq!(half::f16::from_f32(neg_nan).to_bits() & 0x8000, 0x8000);
    assert_eq!(F16.encode(neg_nan, Overflow::NonSaturating), 0x7e00);
    assert_eq!(float8::F8E4M3::from_f32(neg_nan).to_bits(), 0xff);
    assert_eq!(F8E4M3.encode(neg_nan, Overflow::Saturate), 0x7f);
    // 2. half never saturates.
    assert!(half::f16::from_f32(1e6).is_infinite());
    assert_eq!(F16.encode(1e6, Overflow::Saturate), 0x7bff);
    // 3. float8 always saturates, infinities included.
    assert_eq!(float8::F8E5M2::from_f32(f32::INFINITY).to_bits(), 0x7b);
    assert_eq!(F8E5M2.encode(f32::INFINITY, Overflow::Saturate), 0x7b);
    assert_eq!(F8E5M2.encode(f32::INFINITY, Overflow::NonSaturating), 0x7c);
    assert_eq!(float8::F8E4M3::from_f32(1000.0).to_bits(), 0x7e);
    assert_eq!(F8E4M3.encode(1000.0, Overflow::NonSaturating), 0x7f);
}

#[test]
fn format_to_format_conversion_is_single_rounding() {
    // bf16 → e4m3 through the exact f32 value equals a direct f32 → e4m3 of that value; and
    // every e4m3 value is exactly representable in bf16 and f16 (so widening is lossless).
    for code in 0..=0xffu32 {
        if F8E4M3.is_nan(code) {
            continue;
        }
        let v = F8E4M3.decode(code);
        for wide in [BF16, F16] {
            let w = F8E4M3.convert(code, &wide, Overflow::NonSaturating);
            assert_eq!(wide.decode(w), v);
            assert_eq!(wide.convert(w, &F8E4M3, Overflow::NonSaturating), code);
        }
    }
    for code in 0..=0xffffu32 {
        let v = BF16.decode(code);
        for ov in [Overflow::Saturate, Overflow::NonSaturating] {
            assert_eq!(BF16.convert(code, &F8E5M2, ov), F8E5M2.encode(v, ov));
        }
    }
}
