//! Every code of every narrow format: decode against the oracle crates, re-encode to itself, and
//! every midpoint (and its neighbours) between adjacent codes rounds as ties-to-even says.

use seedchip_numerics::float::F32_CANONICAL_NAN_BITS;
use seedchip_numerics::{BF16, F8E4M3, F8E5M2, F16, FloatFormat, Overflow, Specials};

type Oracle = fn(u32) -> f32;

fn oracle_decode(fmt: &FloatFormat) -> Oracle {
    match fmt.name() {
        "bf16" => |b| half::bf16::from_bits(b as u16).to_f32(),
        "f16" => |b| half::f16::from_bits(b as u16).to_f32(),
        "e4m3" => |b| float8::F8E4M3::from_bits(b as u8).to_f32(),
        "e5m2" => |b| float8::F8E5M2::from_bits(b as u8).to_f32(),
        other => panic!("no oracle for {other}"),
    }
}

/// Oracle encoders and the overflow mode each one implements: `half` is IEEE (overflow → inf),
/// `float8`'s `from_f32` always saturates (CUDA `__NV_SATFINITE`).
fn oracle_encode(fmt: &FloatFormat) -> (fn(f32) -> u32, Overflow) {
    match fmt.name() {
        "bf16" => (
            |x| u32::from(half::bf16::from_f32(x).to_bits()),
            Overflow::NonSaturating,
        ),
        "f16" => (
            |x| u32::from(half::f16::from_f32(x).to_bits()),
            Overflow::NonSaturating,
        ),
        "e4m3" => (
            |x| u32::from(float8::F8E4M3::from_f32(x).to_bits()),
            Overflow::Saturate,
        ),
        "e5m2" => (
            |x| u32::from(float8::F8E5M2::from_f32(x).to_bits()),
            Overflow::Saturate,
        ),
        other => panic!("no oracle for {other}"),
    }
}

const FORMATS: [FloatFormat; 4] = [BF16, F16, F8E4M3, F8E5M2];

#[test]
fn every_code_decodes_like_the_oracle_and_reencodes_to_itself() {
    for fmt in FORMATS {
        let oracle = oracle_decode(&fmt);
        let sign = 1u32 << (fmt.width_bits() - 1);
        let mut nan_codes = 0u32;
        for code in 0..(1u32 << fmt.width_bits()) {
            let ours = fmt.decode(code);
            let theirs = oracle(code);
            if theirs.is_nan() {
                nan_codes += 1;
                assert!(fmt.is_nan(code), "{} {code:#x}", fmt.name());
                assert_eq!(
                    ours.to_bits(),
                    F32_CANONICAL_NAN_BITS,
                    "{} {code:#x}",
                    fmt.name()
                );
            } else {
                assert!(!fmt.is_nan(code));
                assert_eq!(ours.to_bits(), theirs.to_bits(), "{} {code:#x}", fmt.name());
            }
            for ov in [Overflow::Saturate, Overflow::NonSaturating] {
                let expect = if fmt.is_nan(code) {
                    fmt.canonical_nan_bits()
                } else if ours.is_infinite() && ov == Overflow::Saturate {
                    (code & sign) | fmt.max_finite_bits()
                } else {
                    code
                };
                assert_eq!(
                    fmt.encode(ours, ov),
                    expect,
                    "{} {code:#x} {ov:?}",
                    fmt.name()
                );
            }
        }
        let expected_nans = match fmt.specials() {
            Specials::Ieee => 2 * ((1 << fmt.man_bits()) - 1),
            Specials::FiniteNan => 2,
        };
        assert_eq!(nan_codes, expected_nans, "{}", fmt.name());
    }
}

#[test]
fn positive_codes_are_strictly_increasing() {
    for fmt in FORMATS {
        let top = fmt.infinity_bits().unwrap_or(fmt.max_finite_bits());
        let mut prev = fmt.decode(0);
        for code in 1..=top {
            let v = fmt.decode(code);
            assert!(v > prev, "{} {code:#x}", fmt.name());
            // The negative code mirrors it exactly.
            assert_eq!(-v, fmt.decode(code | (1 << (fmt.width_bits() - 1))));
            prev = v;
        }
    }
}

fn next_up(x: f32) -> f32 {
    // Positive finite x only.
    f32::from_bits(x.to_bits() + 1)
}

fn next_down(x: f32) -> f32 {
    f32::from_bits(x.to_bits() - 1)
}

/// Checks one value against the expected code in both modes and against the oracle.
fn check(fmt: &FloatFormat, x: f32, expect_ns: u32, expect_sat: u32) {
    let (oracle, oracle_mode) = oracle_encode(fmt);
    for (sign_f, sign_b) in [(1.0f32, 0u32), (-1.0, 1 << (fmt.width_bits() - 1))] {
        let xs = sign_f * x;
        let with_sign = |c: u32| {
            if fmt.is_nan(c) { c } else { c | sign_b }
        };
        let ns = with_sign(expect_ns);
        let sat = with_sign(expect_sat);
        assert_eq!(
            fmt.encode(xs, Overflow::NonSaturating),
            ns,
            "{} {xs:e} ns",
            fmt.name()
        );
        assert_eq!(
            fmt.encode(xs, Overflow::Saturate),
            sat,
            "{} {xs:e} sat",
            fmt.name()
        );
        let want = if oracle_mode == Overflow::Saturate {
            sat
        } else {
            ns
        };
        assert_eq!(oracle(xs), want, "oracle {} {xs:e}", fmt.name());
    }
}

#[test]
fn midpoints_round_to_even_and_neighbours_round_to_nearest() {
    for fmt in FORMATS {
        let max = fmt.max_finite_bits();
        let mut checked = 0u32;
        for c in 0..max {
            let lo = fmt.decode(c);
            let hi = fmt.decode(c + 1);
            let mid64 = (f64::from(lo) + f64::from(hi)) / 2.0;
            let mid = mid64 as f32;
            // Midpoints need one more bit than the format: always exact in f32.
            assert_eq!(f64::from(mid), mid64, "{} {c:#x}", fmt.name());
            let even = if c % 2 == 0 { c } else { c + 1 };
            check(&fmt, mid, even, even);
            check(&fmt, next_up(mid), c + 1, c + 1);
            check(&fmt, next_down(mid), c, c);
            // Codes themselves are fixed points.
            check(&fmt, hi, c + 1, c + 1);
            checked += 1;
        }
        assert_eq!(checked, max);

        // Above the largest finite value: the midpoint to the would-be next code decides
        // overflow, with ties to even.
        let top = fmt.decode(max);
        let step = top - fmt.decode(max - 1);
        let mid = top + step / 2.0;
        let overflow_ns = match fmt.specials() {
            Specials::Ieee => fmt.infinity_bits().unwrap(),
            Specials::FiniteNan => fmt.canonical_nan_bits(),
        };
        // IEEE max has an odd mantissa (all ones): the tie overflows. e4m3's max (S.1111.110)
        // is even: the tie stays at max.
        let tie = if max % 2 == 0 { max } else { overflow_ns };
        check(&fmt, mid, tie, max);
        check(&fmt, next_down(mid), max, max);
        check(&fmt, next_up(mid), overflow_ns, max);
        if fmt.name() != "bf16" {
            check(&fmt, 1e30, overflow_ns, max);
        }
        check(&fmt, f32::MAX, overflow_ns, max);
    }
}

#[test]
fn documented_overflow_thresholds() {
    // The numbers docs/numerics.md quotes, stated independently of the code paths above.
    assert_eq!(F8E4M3.encode(464.0, Overflow::NonSaturating), 0x7e);
    assert_eq!(F8E4M3.encode(464.000_03, Overflow::NonSaturating), 0x7f);
    assert_eq!(F8E5M2.encode(61_439.996, Overflow::NonSaturating), 0x7b);
    assert_eq!(F8E5M2.encode(61_440.0, Overflow::NonSaturating), 0x7c);
    assert_eq!(F16.encode(65_519.996, Overflow::NonSaturating), 0x7bff);
    assert_eq!(F16.encode(65_520.0, Overflow::NonSaturating), 0x7c00);
    // bf16: max 0x7f7f = (2 - 2^-7)·2^127; the tie at (2 - 2^-8)·2^127 overflows.
    let tie = f32::from_bits(0x7f7f_8000);
    assert_eq!(BF16.encode(tie, Overflow::NonSaturating), 0x7f80);
    assert_eq!(BF16.encode(next_down(tie), Overflow::NonSaturating), 0x7f7f);
}
