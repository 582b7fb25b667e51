//! Python float arithmetic as SCALE-Sim (CPython 3.11 and older) performs it, so that report
//! columns come out digit for digit: left-to-right `sum()` over per-fold values, and `repr`.

/// `n` successive `s = s + x` in f64, in O(number of binades crossed) rather than O(n).
///
/// Inside one binade of the accumulator the rounding of `s + x` is the same every step (after
/// at most one step that settles a round-half-to-even tie), so the increment is constant until
/// the sum nears the next power of two; we jump over those steps exactly.
pub(crate) fn repeat_add(mut s: f64, x: f64, mut n: u64) -> f64 {
    if x == 0.0 || !x.is_finite() || !s.is_finite() || x < 0.0 || s < 0.0 {
        // Not needed by SCALE-Sim's non-negative values: step plainly.
        for _ in 0..n {
            s += x;
        }
        return s;
    }
    let exponent = |v: f64| {
        if v == 0.0 {
            i32::MIN
        } else {
            (v.to_bits() >> 52) as i32
        }
    };
    while n > 0 {
        // Two plain steps give a settled increment if they stay within one binade.
        let s1 = s + x;
        n -= 1;
        if n == 0 {
            return s1;
        }
        let s2 = s1 + x;
        n -= 1;
        if n == 0 {
            return s2;
        }
        let s3 = s2 + x;
        n -= 1;
        s = s3;
        if n == 0 {
            return s;
        }
        let e = exponent(s1);
        if exponent(s2) != e || exponent(s3) != e || s1 < x {
            continue;
        }
        let inc = s3 - s2; // exact: same binade
        if inc == 0.0 {
            return s; // x is below half an ulp: the sum never moves again
        }
        // Next power of two above s: the steps stay exact while s + k·inc + x < bound.
        let bound = f64::from_bits(((e as u64) + 1) << 52);
        let room = ((bound - s) / inc).floor();
        if room < 3.0 {
            continue;
        }
        let k = ((room as u64).saturating_sub(2)).min(n);
        s += k as f64 * inc; // exact: a multiple of the ulp below the bound
        n -= k;
    }
    s
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation when the
/// decimal exponent is in `-4 ..= 15`, else `d.ddde±XX`.
pub fn py_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` prints the shortest round-trip digits: "d.ddde[-]x".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if x < 0.0 { "-" } else { "" };
    let nd = digits.len() as i32;
    let body = if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point >= nd {
            format!("{}{}.0", digits, "0".repeat((point - nd) as usize))
        } else {
            let (a, b) = digits.split_at(point as usize);
            format!("{a}.{b}")
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let m = if rest.is_empty() {
            first.to_string()
        } else {
            format!("{first}.{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{esign}{:02}", exp.abs())
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_matches_python() {
        for (x, want) in [
            (100.0, "100.0"),
            (60.9375, "60.9375"),
            (32.213656387665196, "32.213656387665196"),
            (0.1, "0.1"),
            (1e-4, "0.0001"),
            (1.5e-5, "1.5e-05"),
            (1e16, "1e+16"),
            (1.2345e16, "1.2345e+16"),
            (123456789012345.0, "123456789012345.0"),
            (1234567890123456.0, "1234567890123456.0"),
            (-2.5, "-2.5"),
            (4.0, "4.0"),
            (1e22, "1e+22"),
            (0.0, "0.0"),
        ] {
            assert_eq!(py_repr(x), want, "{x:e}");
        }
    }

    #[test]
    fn repeat_add_equals_plain_loop() {
        // Values like SCALE-Sim's per-fold fractions, including ones that tie on rounding.
        let xs = [
            0.609375,
            1.0 / 3.0,
            0.1,
            29.0 / 1024.0,
            0.7 + 2f64.powi(-40),
            1.0,
            3.0 * 2f64.powi(-53),
            0.999_999_999_9,
        ];
        for &x in &xs {
            for &s0 in &[0.0, 0.3, 1.0 / 7.0, 1234.5] {
                for &n in &[0u64, 1, 2, 3, 4, 5, 17, 1000, 4097, 100_000] {
                    let mut plain = s0;
                    for _ in 0..n {
                        plain += x;
                    }
                    assert_eq!(repeat_add(s0, x, n), plain, "s0={s0} x={x} n={n}");
                }
            }
        }
    }
}
