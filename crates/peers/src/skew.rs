//! Row popularity and what an on-chip cache makes of it.
//!
//! A GPU's L2 is the only thing between an embedding gather and HBM, and it behaves like an LRU
//! cache shared by every table. Under independent lookups (the steady state of serving) the
//! hit rate of each table follows Che's approximation: there is one characteristic time `T`
//! such that a row looked up at rate `λ` is resident with probability `1 − e^{−λT}`, and `T` is
//! the time at which the expected resident bytes fill the cache. Popularity is summarized by
//! log-spaced rank buckets so tables of 10⁹ rows cost microseconds.

use serde::Serialize;

use crate::Error;

/// How a table's rows are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AccessPattern {
    Uniform,
    /// Rank `r` (1 hottest) drawn with probability ∝ `r^-alpha` over the table's rows: the zoo's
    /// generator (`seedchip_zoo::TableSampler`).
    Zipf {
        alpha: f64,
    },
    /// Ranks drawn from an unbounded Zipf law (`alpha > 1`) and folded onto the table by a hash:
    /// the mass beyond the last row spreads uniformly. The calibration file's `zipf1.05`.
    FoldedZipf {
        alpha: f64,
    },
}

impl AccessPattern {
    /// `alpha = 0` is uniform.
    pub fn zipf(alpha: f64) -> Result<AccessPattern, Error> {
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(Error::InvalidOption {
                option: "zipf alpha".into(),
                reason: format!("must be finite and >= 0 (0 = uniform), got {alpha}"),
            });
        }
        Ok(if alpha == 0.0 {
            AccessPattern::Uniform
        } else {
            AccessPattern::Zipf { alpha }
        })
    }

    /// An unbounded Zipf law only normalizes for `alpha > 1`.
    pub fn folded_zipf(alpha: f64) -> Result<AccessPattern, Error> {
        if !(alpha.is_finite() && alpha > 1.0) {
            return Err(Error::InvalidOption {
                option: "folded zipf alpha".into(),
                reason: format!("must be finite and > 1, got {alpha}"),
            });
        }
        Ok(AccessPattern::FoldedZipf { alpha })
    }

    pub fn label(&self) -> String {
        match self {
            AccessPattern::Uniform => "uniform".into(),
            AccessPattern::Zipf { alpha } => format!("zipf {alpha}"),
            AccessPattern::FoldedZipf { alpha } => format!("folded zipf {alpha}"),
        }
    }

    /// Rank buckets of a table with `rows` rows: `(rows in bucket, probability of each row)`,
    /// with `Σ count · p = 1`.
    fn buckets(&self, rows: u64) -> Vec<(f64, f64)> {
        let n = rows.max(1);
        let alpha = match *self {
            AccessPattern::Uniform => return vec![(n as f64, 1.0 / n as f64)],
            AccessPattern::Zipf { alpha } | AccessPattern::FoldedZipf { alpha } => alpha,
        };
        // Exact ranks first (where the integral approximation is worst), then ~40 buckets per
        // decade.
        const EXACT: u64 = 64;
        let mut edges: Vec<u64> = (1..=EXACT.min(n)).collect();
        let mut e = EXACT as f64;
        while (e as u64) < n {
            e *= 10f64.powf(1.0 / 40.0);
            let next = (e as u64).min(n) + 1;
            if next > *edges.last().unwrap_or(&1) {
                edges.push(next);
            }
        }
        if *edges.last().unwrap_or(&1) != n + 1 {
            edges.push(n + 1);
        }
        let mut buckets: Vec<(f64, f64)> = edges
            .windows(2)
            .map(|w| {
                let (lo, hi) = (w[0], w[1]);
                let mass = if hi - lo == 1 {
                    (lo as f64).powf(-alpha)
                } else {
                    power_integral(lo as f64 - 0.5, hi as f64 - 0.5, alpha)
                };
                ((hi - lo) as f64, mass)
            })
            .collect();
        let head: f64 = buckets.iter().map(|b| b.1).sum();
        let (total, spread) = match *self {
            AccessPattern::FoldedZipf { .. } => {
                let tail = power_integral_to_infinity(n as f64 + 0.5, alpha);
                (head + tail, tail / n as f64)
            }
            _ => (head, 0.0),
        };
        for b in &mut buckets {
            b.1 = (b.1 / b.0 + spread) / total;
        }
        buckets
    }
}

/// `∫_a^b x^-s dx`, stable near `s = 1`.
fn power_integral(a: f64, b: f64, s: f64) -> f64 {
    let one_minus_s = 1.0 - s;
    let log_ratio = (b / a).ln();
    if one_minus_s.abs() < 1e-12 {
        log_ratio
    } else {
        a.powf(one_minus_s) * (one_minus_s * log_ratio).exp_m1() / one_minus_s
    }
}

/// `∫_a^∞ x^-s dx` for `s > 1`.
fn power_integral_to_infinity(a: f64, s: f64) -> f64 {
    a.powf(1.0 - s) / (s - 1.0)
}

/// One table as a cache sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CacheStream {
    pub rows: u64,
    /// Bytes one row occupies in the cache.
    pub row_bytes: f64,
    /// Relative lookup rate (lookups per sample); only ratios between streams matter.
    pub lookups: f64,
    pub pattern: AccessPattern,
}

/// Steady-state LRU hit rate of each stream sharing a cache of `capacity_bytes` (Che's
/// approximation). Streams that all fit hit always; an empty cache never hits.
pub fn lru_hit_rates(streams: &[CacheStream], capacity_bytes: f64) -> Vec<f64> {
    if streams.is_empty() {
        return Vec::new();
    }
    if capacity_bytes <= 0.0 {
        return vec![0.0; streams.len()];
    }
    let total_bytes: f64 = streams.iter().map(|s| s.rows as f64 * s.row_bytes).sum();
    if total_bytes <= capacity_bytes {
        return vec![1.0; streams.len()];
    }
    let buckets: Vec<Vec<(f64, f64)>> = streams.iter().map(|s| s.pattern.buckets(s.rows)).collect();
    let rates: Vec<f64> = streams.iter().map(|s| s.lookups.max(0.0)).collect();
    let occupancy = |t: f64| -> f64 {
        streams
            .iter()
            .zip(&buckets)
            .zip(&rates)
            .map(|((s, bs), &l)| {
                s.row_bytes
                    * bs.iter()
                        .map(|&(count, p)| count * -(-l * p * t).exp_m1())
                        .sum::<f64>()
            })
            .sum()
    };
    // Bisection on log T: occupancy grows monotonically from 0 to `total_bytes`; 64 halvings of
    // a 138-wide interval leave T exact to 1e-17 relative.
    let (mut lo, mut hi) = (1e-30f64.ln(), 1e30f64.ln());
    for _ in 0..64 {
        let mid = 0.5 * (lo + hi);
        if occupancy(mid.exp()) > capacity_bytes {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let t = (0.5 * (lo + hi)).exp();
    buckets
        .iter()
        .zip(&rates)
        .map(|(bs, &l)| {
            bs.iter()
                .map(|&(count, p)| count * p * -(-l * p * t).exp_m1())
                .sum::<f64>()
                .clamp(0.0, 1.0)
        })
        .collect()
}

/// Fraction of lookups that land in the `k` most popular rows: the hit rate of a static cache
/// holding them (a partly resident table keeps its hottest rows on the device).
pub fn top_k_fraction(pattern: AccessPattern, rows: u64, k: f64) -> f64 {
    if k >= rows as f64 {
        return 1.0;
    }
    if k <= 0.0 {
        return 0.0;
    }
    let mut left = k;
    let mut mass = 0.0;
    for (count, p) in pattern.buckets(rows) {
        let take = count.min(left);
        mass += take * p;
        left -= take;
        if left <= 0.0 {
            break;
        }
    }
    mass.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(rows: u64, pattern: AccessPattern) -> CacheStream {
        CacheStream {
            rows,
            row_bytes: 256.0,
            lookups: 1.0,
            pattern,
        }
    }

    #[test]
    fn buckets_are_normalized() {
        for p in [
            AccessPattern::Uniform,
            AccessPattern::Zipf { alpha: 1.0 },
            AccessPattern::Zipf { alpha: 0.6 },
            AccessPattern::FoldedZipf { alpha: 1.05 },
        ] {
            for rows in [1, 3, 100, 1_000_000, 40_000_000] {
                let total: f64 = p.buckets(rows).iter().map(|b| b.0 * b.1).sum();
                assert!((total - 1.0).abs() < 1e-9, "{p:?} {rows}: {total}");
                let count: f64 = p.buckets(rows).iter().map(|b| b.0).sum();
                assert_eq!(count, rows as f64);
            }
        }
    }

    #[test]
    fn uniform_hit_rate_is_the_resident_fraction() {
        let h = lru_hit_rates(
            &[stream(1_000_000, AccessPattern::Uniform)],
            256.0 * 250_000.0,
        );
        assert!((h[0] - 0.25).abs() < 1e-6, "{h:?}");
    }

    #[test]
    fn skew_raises_hit_rate_and_small_tables_always_hit() {
        let cap = 256.0 * 100_000.0;
        let u = lru_hit_rates(&[stream(10_000_000, AccessPattern::Uniform)], cap)[0];
        let z = lru_hit_rates(
            &[stream(10_000_000, AccessPattern::Zipf { alpha: 1.0 })],
            cap,
        )[0];
        let f = lru_hit_rates(
            &[stream(
                10_000_000,
                AccessPattern::FoldedZipf { alpha: 1.05 },
            )],
            cap,
        )[0];
        assert!(u < f && f < z, "{u} {f} {z}");
        // LRU never beats the static cache of the same size holding the hottest rows.
        let top = top_k_fraction(AccessPattern::Zipf { alpha: 1.0 }, 10_000_000, 100_000.0);
        assert!(z < top, "{z} {top}");
        assert_eq!(
            lru_hit_rates(&[stream(10, AccessPattern::Uniform)], cap),
            [1.0]
        );
        assert_eq!(
            lru_hit_rates(&[stream(10, AccessPattern::Uniform)], 0.0),
            [0.0]
        );
    }

    #[test]
    fn streams_share_the_cache() {
        let cap = 256.0 * 100_000.0;
        let big = stream(10_000_000, AccessPattern::Zipf { alpha: 1.0 });
        let alone = lru_hit_rates(&[big], cap)[0];
        let shared = lru_hit_rates(&[big, big], cap);
        assert!(shared[0] < alone);
        assert!((shared[0] - shared[1]).abs() < 1e-12);
    }

    #[test]
    fn top_k_of_zipf_matches_harmonic_ratio() {
        let exact = seedchip_zoo::sparse::generalized_harmonic(1000, 1.0)
            / seedchip_zoo::sparse::generalized_harmonic(1_000_000, 1.0);
        let got = top_k_fraction(AccessPattern::Zipf { alpha: 1.0 }, 1_000_000, 1000.0);
        assert!((got - exact).abs() < 2e-3, "{got} vs {exact}");
    }

    #[test]
    fn bad_alphas_are_rejected() {
        assert!(AccessPattern::zipf(-1.0).is_err());
        assert!(AccessPattern::zipf(f64::NAN).is_err());
        assert_eq!(AccessPattern::zipf(0.0).unwrap(), AccessPattern::Uniform);
        assert!(AccessPattern::folded_zipf(1.0).is_err());
    }
}
