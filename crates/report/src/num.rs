//! How numbers are shown. One function for data ([`fmt_num`]) and one for axis ticks
//! ([`fmt_tick`]), both deterministic (Rust's float formatting is exact and platform-free).
//!
//! The rule a report keeps: every number in its HTML is `fmt_num(v)` of some number `v` in its
//! JSON. [`numbers_in_text`] finds the numbers in a text the way the report tests do.

/// Shows `v` with 4 significant digits (`12.35`, `0.001235`, `12346`), switching to scientific
/// notation with 3 significant digits outside `[1e-3, 1e6)` (`1.23e6`, `4.50e-5`). Trailing
/// zeros of fixed notation are dropped; integers print without a decimal point. Non-finite
/// values print as `n/a` (a report should not have any).
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    // Rounding can carry into a new digit (9999.5 -> "10000"), which is still 4-5 significant
    // digits and still what the value rounds to; keep it.
    trim_zeros(s)
}

/// An axis tick label: the shortest of `1`, `2.5`, `1e6` style that names the tick exactly
/// enough for the chart (ticks are 1, 2, 5 × 10^k, so 3 significant digits suffice).
pub fn fmt_tick(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    trim_zeros(format!("{v:.decimals$}"))
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') && !s.contains('e') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The numbers written in a text, as the strings shown: maximal runs of digits with an optional
/// fraction and exponent (`12`, `0.5`, `1.23e6`, `-4`), skipping runs glued to a letter, `_` or
/// `-`+letter on either side (identifiers such as `h100-sxm`, `dlrm-v2`, `fp8`, `910b`).
pub fn numbers_in_text(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let is_word = |c: u8| c.is_ascii_alphabetic() || c == b'_';
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut start = i;
        let mut j = i;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
            j += 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        }
        if j + 1 < b.len()
            && b[j] == b'e'
            && (b[j + 1].is_ascii_digit()
                || ((b[j + 1] == b'-' || b[j + 1] == b'+')
                    && j + 2 < b.len()
                    && b[j + 2].is_ascii_digit()))
        {
            j += 2;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        }
        let before_word = start > 0
            && (is_word(b[start - 1])
                || b[start - 1] == b'.'
                || (b[start - 1] == b'-' && start > 1 && is_word(b[start - 2])));
        let after_word = j < b.len()
            && (is_word(b[j]) || (b[j] == b'-' && j + 1 < b.len() && is_word(b[j + 1])));
        if !before_word && !after_word {
            if start > 0 && b[start - 1] == b'-' {
                start -= 1;
            }
            out.push(text[start..j].to_string());
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(12.3456), "12.35");
        assert_eq!(fmt_num(12345.6), "12346");
        assert_eq!(fmt_num(1.0), "1");
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(0.0012346), "0.001235");
        assert_eq!(fmt_num(1234567.0), "1.23e6");
        assert_eq!(fmt_num(0.00004512), "4.51e-5");
        assert_eq!(fmt_num(-3.25), "-3.25");
        assert_eq!(fmt_num(f64::NAN), "n/a");
        assert_eq!(fmt_tick(1e6), "1e6");
        assert_eq!(fmt_tick(2.5e-4), "2.5e-4");
        assert_eq!(fmt_tick(1000.0), "1000");
        assert_eq!(fmt_tick(0.2), "0.2");
    }

    #[test]
    fn finds_numbers_not_identifiers() {
        let t = "h100-sxm dlrm-v2 fp8 ascend-910b a100-80g: 12.5 ms, 1.23e6 samples/s, -4 and 3e-5 (batch 512)";
        assert_eq!(
            numbers_in_text(t),
            vec!["12.5", "1.23e6", "-4", "3e-5", "512"]
        );
    }

    #[test]
    fn every_formatted_number_is_found_whole() {
        for v in [0.0, 1.0, 12.3456, 1234567.0, 0.0000451, -7.5, 99999.9] {
            let s = fmt_num(v);
            assert_eq!(numbers_in_text(&format!(" {s} ")), vec![s.clone()], "{v}");
        }
    }
}
