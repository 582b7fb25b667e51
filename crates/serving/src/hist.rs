//! Latency percentiles: an HDR-style log-linear histogram, exact on small runs.
//!
//! Values are recorded in nanoseconds. Below 2^10 ns every value has its own bucket; above,
//! each power of two is split into 512 equal sub-buckets, so a bucket's width is at most
//! 1/512 of its lower bound (relative error ≤ 0.2 %) with fixed memory whatever the run length,
//! and histograms of shards merge by adding counts. Up to `exact_limit` samples are also kept
//! as values, and percentiles then come from them exactly (nearest rank).

use serde::Serialize;

const SUB_BITS: u32 = 10;
const HALF: usize = 1 << (SUB_BITS - 1);
const BUCKETS: usize = (64 - SUB_BITS as usize + 2) * HALF;

/// The nearest-rank percentiles reported everywhere, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub mean_ms: f64,
    pub max_ms: f64,
    /// Whether the figures are exact (all samples kept) or from the histogram buckets.
    pub exact: bool,
}

#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
    sum_ns: f64,
    max_ns: u64,
    exact: Option<Vec<u64>>,
    exact_limit: usize,
}

fn index(v: u64) -> usize {
    if v < (1 << SUB_BITS) {
        v as usize
    } else {
        let msb = 63 - v.leading_zeros();
        let shift = msb - (SUB_BITS - 1);
        (shift as usize) * HALF + (v >> shift) as usize
    }
}

/// Lower bound and width of bucket `i`.
fn bucket_range(i: usize) -> (u64, u64) {
    if i < (1 << SUB_BITS) {
        (i as u64, 1)
    } else {
        let shift = (i / HALF - 1) as u32;
        let sub = (i - shift as usize * HALF) as u64;
        (sub << shift, 1 << shift)
    }
}

impl LatencyHistogram {
    /// Keeps every sample while there are at most `exact_limit` of them.
    pub fn new(exact_limit: usize) -> LatencyHistogram {
        LatencyHistogram {
            counts: vec![0; BUCKETS],
            total: 0,
            sum_ns: 0.0,
            max_ns: 0,
            exact: Some(Vec::new()),
            exact_limit,
        }
    }

    #[inline]
    pub fn record_s(&mut self, seconds: f64) {
        self.record_ns((seconds * 1e9).round().max(0.0) as u64);
    }

    #[inline]
    pub fn record_ns(&mut self, ns: u64) {
        self.counts[index(ns)] += 1;
        self.total += 1;
        self.sum_ns += ns as f64;
        self.max_ns = self.max_ns.max(ns);
        if let Some(v) = &mut self.exact {
            if v.len() < self.exact_limit {
                v.push(ns);
            } else {
                self.exact = None;
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// Adds another histogram's counts (the exact samples are kept only if both have them and
    /// the sum stays under the limit).
    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum_ns += other.sum_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
        self.exact = match (self.exact.take(), &other.exact) {
            (Some(mut a), Some(b)) if a.len() + b.len() <= self.exact_limit => {
                a.extend_from_slice(b);
                Some(a)
            }
            _ => None,
        };
    }

    /// Nearest-rank quantile from the buckets: the midpoint of the bucket holding rank
    /// ⌈q·n⌉ (clamped to the largest value seen), in ns.
    pub fn bucket_quantile_ns(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, w) = bucket_range(i);
                return (lo as f64 + (w as f64 - 1.0) / 2.0).min(self.max_ns as f64);
            }
        }
        self.max_ns as f64
    }

    /// Exact nearest-rank quantile when the samples were kept, in ns.
    pub fn exact_quantile_ns(&self, q: f64) -> Option<f64> {
        let v = self.exact.as_ref()?;
        if v.is_empty() {
            return Some(0.0);
        }
        let mut s = v.clone();
        s.sort_unstable();
        let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
        Some(s[rank - 1] as f64)
    }

    pub fn percentiles(&self) -> Percentiles {
        let qs = [0.5, 0.9, 0.99, 0.999];
        let (vals, exact): (Vec<f64>, bool) = match &self.exact {
            Some(v) => {
                let mut s = v.clone();
                s.sort_unstable();
                let at = |q: f64| -> f64 {
                    if s.is_empty() {
                        return 0.0;
                    }
                    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
                    s[rank - 1] as f64
                };
                (qs.iter().map(|&q| at(q)).collect(), true)
            }
            None => (
                qs.iter().map(|&q| self.bucket_quantile_ns(q)).collect(),
                false,
            ),
        };
        let ms = |ns: f64| ns / 1e6;
        Percentiles {
            p50_ms: ms(vals[0]),
            p90_ms: ms(vals[1]),
            p99_ms: ms(vals[2]),
            p999_ms: ms(vals[3]),
            mean_ms: if self.total == 0 {
                0.0
            } else {
                ms(self.sum_ns / self.total as f64)
            },
            max_ms: ms(self.max_ns as f64),
            exact,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut next = 0u64;
        for i in 0..BUCKETS - HALF {
            let (lo, w) = bucket_range(i);
            assert_eq!(lo, next, "bucket {i}");
            assert_eq!(index(lo), i);
            assert_eq!(index(lo + w - 1), i);
            assert!(w == 1 || (w as f64) / (lo as f64) <= 1.0 / HALF as f64 + 1e-12);
            next = lo.saturating_add(w);
            if next == u64::MAX {
                break;
            }
        }
        assert!(index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn bucket_and_exact_percentiles_agree() {
        let mut s = crate::rng::Stream::new(3, "hist");
        let mut h = LatencyHistogram::new(1 << 20);
        for _ in 0..100_000 {
            h.record_s(s.exponential(0.004) + 0.001);
        }
        for q in [0.5, 0.9, 0.99, 0.999] {
            let e = h.exact_quantile_ns(q).unwrap();
            let b = h.bucket_quantile_ns(q);
            assert!((b - e).abs() / e < 2.0 / HALF as f64, "q {q}: {b} vs {e}");
        }
        assert!(h.percentiles().exact);
    }

    #[test]
    fn small_exact_percentiles_are_nearest_rank() {
        let mut h = LatencyHistogram::new(100);
        for ms in 1..=10 {
            h.record_s(ms as f64 / 1000.0);
        }
        let p = h.percentiles();
        assert_eq!(p.p50_ms, 5.0);
        assert_eq!(p.p90_ms, 9.0);
        assert_eq!(p.p99_ms, 10.0);
        assert_eq!(p.max_ms, 10.0);
        assert!((p.mean_ms - 5.5).abs() < 1e-12);
    }

    #[test]
    fn over_the_limit_falls_back_to_buckets_and_merges() {
        let mut a = LatencyHistogram::new(10);
        let mut b = LatencyHistogram::new(10);
        for i in 0..20u64 {
            a.record_ns(1_000_000 + i);
            b.record_ns(2_000_000 + i);
        }
        assert!(!a.percentiles().exact);
        a.merge(&b);
        assert_eq!(a.count(), 40);
        let p = a.percentiles();
        assert!((p.p90_ms - 2.0).abs() < 0.01, "{p:?}");
    }
}
