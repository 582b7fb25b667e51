//! Fixed-point requantization against an exact i128 reference of the documented semantics, and
//! against the real product it approximates.

use seedchip_numerics::requant::{MAX_LEFT_SHIFT, MAX_RIGHT_SHIFT};
use seedchip_numerics::{QuantizedMultiplier, Requantizer, rounding_shift_right, srdhm};

use crate::Rng;

/// round(v / 2^s), ties away from zero, via Euclidean division (independent of the
/// implementation's sign-magnitude trick).
fn ref_div_pow2(v: i128, s: u32) -> i128 {
    let d = 1i128 << s;
    let q = v.div_euclid(d);
    let r = v.rem_euclid(d);
    match (2 * r).cmp(&d) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Less => q,
        // A tie: floor is toward -inf, so positive values go up (away), negative stay (away).
        std::cmp::Ordering::Equal => {
            if v > 0 {
                q + 1
            } else {
                q
            }
        }
    }
}

fn sat(v: i128) -> i32 {
    v.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

fn ref_srdhm(a: i32, b: i32) -> i32 {
    sat(ref_div_pow2(i128::from(a) * i128::from(b), 31))
}

fn ref_apply(x: i32, m: i32, rs: i32) -> i32 {
    if m == 0 {
        return 0;
    }
    let p = i128::from(x) * i128::from(m);
    if rs < 0 {
        sat(ref_div_pow2(p, (31 + rs) as u32))
    } else {
        sat(ref_div_pow2(
            i128::from(sat(ref_div_pow2(p, 31))),
            rs as u32,
        ))
    }
}

const EDGE_X: [i32; 12] = [
    i32::MIN,
    i32::MIN + 1,
    i32::MAX,
    i32::MAX - 1,
    0,
    1,
    -1,
    2,
    -2,
    1 << 30,
    -(1 << 30),
    65535,
];

fn random_x(rng: &mut Rng) -> i32 {
    match rng.below(4) {
        0 => EDGE_X[rng.below(EDGE_X.len() as u64) as usize],
        1 => rng.below(2001) as i32 - 1000,
        2 => (rng.next_u32() as i32) >> rng.below(31),
        _ => rng.next_u32() as i32,
    }
}

#[test]
fn srdhm_matches_reference() {
    let mut rng = Rng::new(1);
    for &a in &EDGE_X {
        for &b in &EDGE_X {
            assert_eq!(srdhm(a, b), ref_srdhm(a, b), "{a} {b}");
        }
    }
    for _ in 0..200_000 {
        let (a, b) = (random_x(&mut rng), random_x(&mut rng));
        assert_eq!(srdhm(a, b), ref_srdhm(a, b), "{a} {b}");
    }
}

#[test]
fn rounding_shift_matches_reference_for_every_shift() {
    let mut rng = Rng::new(2);
    for s in 0..=70u32 {
        for &x in &EDGE_X {
            assert_eq!(
                rounding_shift_right(x, s),
                ref_div_pow2(i128::from(x), s) as i32,
                "{x} >> {s}"
            );
        }
        for _ in 0..2_000 {
            let x = random_x(&mut rng);
            // Exact ties of this shift, and their neighbours.
            let tie = if (1..=31).contains(&s) {
                let t = (x >> s << s) | (1 << (s - 1));
                [t, t.wrapping_add(1), t.wrapping_sub(1)]
            } else {
                [x, x, x]
            };
            for v in [x].into_iter().chain(tie) {
                assert_eq!(
                    rounding_shift_right(v, s),
                    ref_div_pow2(i128::from(v), s) as i32,
                    "{v} >> {s}"
                );
            }
        }
    }
}

#[test]
fn apply_matches_reference_for_every_shift() {
    let mut rng = Rng::new(3);
    for rs in -MAX_LEFT_SHIFT..=MAX_RIGHT_SHIFT {
        for mi in 0..40 {
            let m = match mi {
                0 => 1 << 30,
                1 => i32::MAX,
                2 => (1 << 30) | 1,
                _ => (1 << 30) | (rng.next_u32() as i32 & ((1 << 30) - 1)),
            };
            let q = QuantizedMultiplier::new(m, rs).unwrap();
            for &x in &EDGE_X {
                assert_eq!(q.apply(x), ref_apply(x, m, rs), "x {x} m {m} rs {rs}");
            }
            for _ in 0..200 {
                let x = random_x(&mut rng);
                assert_eq!(q.apply(x), ref_apply(x, m, rs), "x {x} m {m} rs {rs}");
            }
        }
    }
}

/// |apply(x)·2^T - x·m| in units where T = 31 + rs: one rounding (≤ 2^(T-1)) for rs ≤ 0, two
/// (≤ 2^(T-1) + 2^30) for rs > 0 — i.e. at most 1/2 + 2^-(rs+1) output units.
#[test]
fn apply_is_within_documented_error_of_the_exact_product() {
    let mut rng = Rng::new(4);
    for _ in 0..300_000 {
        // Log-uniform multipliers over the whole range.
        let e = rng.range_f32(-70.0, 31.0);
        let real = 2f64.powf(f64::from(e));
        let q = match QuantizedMultiplier::from_real(real) {
            Ok(q) => q,
            Err(_) => continue, // rounded up to 2^31
        };
        // Encoding error: relative ≤ 2^-31 (or the zero multiplier below 2^-63).
        if q.multiplier() == 0 {
            assert!(real < 2f64.powi(-63), "{real}");
        } else {
            assert!((q.to_f64() - real).abs() <= real * 2f64.powi(-31), "{real}");
        }
        let x = random_x(&mut rng);
        let y = q.apply(x);
        let t = 31 + q.right_shift();
        let exact = i128::from(x) * i128::from(q.multiplier());
        if q.multiplier() == 0 {
            assert_eq!(y, 0);
            continue;
        }
        let scaled = i128::from(y) << t;
        let err2 = 2 * (scaled - exact).abs();
        let one = 1i128 << t;
        let saturated = y == i32::MAX || y == i32::MIN;
        if saturated {
            // Then the exact product is at or beyond the saturated end.
            if y == i32::MAX {
                assert!(2 * exact >= (2 * i128::from(i32::MAX) - 1) << t);
            } else {
                assert!(2 * exact <= (2 * i128::from(i32::MIN) + 1) << t);
            }
        } else if q.right_shift() <= 0 {
            assert!(err2 <= one, "x {x} M {real}");
        } else {
            assert!(err2 <= one + (1i128 << 31), "x {x} M {real}");
        }
        // Sign symmetry (no saturation possible when M < 1).
        if q.right_shift() > 0 && x != i32::MIN {
            assert_eq!(q.apply(-x), -y);
        }
    }
}

#[test]
fn typical_layer_multipliers() {
    // s_a = 0.02, s_w = 0.003, s_out = 0.05: M = 0.0012.
    let q = QuantizedMultiplier::from_real(0.02 * 0.003 / 0.05).unwrap();
    assert_eq!(q.right_shift(), 9);
    for acc in [-100_000i32, -12_345, -417, 0, 417, 12_345, 100_000] {
        let want = (f64::from(acc) * 0.0012).round();
        assert!((f64::from(q.apply(acc)) - want).abs() <= 1.0);
    }
    // 417 · 0.0012 = 0.5004 → 1 ; -417 → -1.
    assert_eq!(q.apply(417), 1);
    assert_eq!(q.apply(-417), -1);
}

#[test]
fn requantizer_per_channel_matches_scalar_path() {
    let mut rng = Rng::new(5);
    let channels = 7;
    let mults: Vec<_> = (0..channels)
        .map(|_| QuantizedMultiplier::from_real(f64::from(rng.range_f32(1e-5, 0.9))).unwrap())
        .collect();
    let r = Requantizer::new(mults.clone(), 3, -128, 127).unwrap();
    let accs: Vec<i32> = (0..channels * 50)
        .map(|_| random_x(&mut rng) >> 8)
        .collect();
    let mut out = vec![0u8; accs.len()];
    r.apply_to_bytes(&accs, &mut out).unwrap();
    for (i, (&a, &o)) in accs.iter().zip(&out).enumerate() {
        let c = i % channels;
        let want = (i64::from(mults[c].apply(a)) + 3).clamp(-128, 127) as i8;
        assert_eq!(o as i8, want);
    }
    // Fused ReLU: qmin = zero point.
    let relu = Requantizer::new(vec![mults[0]], -20, -20, 127).unwrap();
    assert_eq!(relu.apply(-1_000_000, 0), -20);
}
