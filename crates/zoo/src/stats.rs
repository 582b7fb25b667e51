//! Statistics of generated id streams: what a cache or a deduplicating gather engine would see.
//!
//! All functions sort instead of hashing so that their results (and any output built from
//! them) are independent of hash seeds.

use crate::sparse::{Csr, TableSampler};

/// Distinct rows over lookups in one table's batch (1.0 = no reuse). A gather engine that
/// deduplicates within a batch reads only this fraction of the rows it is asked for. 0 for an
/// empty batch.
#[must_use]
pub fn unique_fraction(csr: &Csr) -> f64 {
    if csr.indices.is_empty() {
        return 0.0;
    }
    let mut ids = csr.indices.clone();
    ids.sort_unstable();
    ids.dedup();
    ids.len() as f64 / csr.indices.len() as f64
}

/// Fraction of lookups that hit a cache pinned to the `k` rows the generator made hottest
/// (ranks `0..k`): the hit rate of a static hot-row cache loaded from offline popularity.
#[must_use]
pub fn hit_rate_known_hottest(csr: &Csr, sampler: &TableSampler, k: u64) -> f64 {
    if csr.indices.is_empty() {
        return 0.0;
    }
    let hits = csr
        .indices
        .iter()
        .filter(|&&row| sampler.rank_of_row(row) < k)
        .count();
    hits as f64 / csr.indices.len() as f64
}

/// Per-row lookup counts, most frequent first; ties broken by ascending row id.
#[must_use]
pub fn row_counts(csr: &Csr) -> Vec<(u64, u64)> {
    let mut ids = csr.indices.clone();
    ids.sort_unstable();
    let mut counts: Vec<(u64, u64)> = Vec::new();
    for id in ids {
        match counts.last_mut() {
            Some((row, n)) if *row == id => *n += 1,
            _ => counts.push((id, 1)),
        }
    }
    counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    counts
}

/// Fraction of lookups that hit a cache holding the `k` rows most frequent *in this batch*:
/// an oracle upper bound for any `k`-row cache on this trace (it knows the future).
#[must_use]
pub fn hit_rate_empirical_hottest(csr: &Csr, k: usize) -> f64 {
    if csr.indices.is_empty() {
        return 0.0;
    }
    let hits: u64 = row_counts(csr).iter().take(k).map(|&(_, n)| n).sum();
    hits as f64 / csr.indices.len() as f64
}

/// Lookup counts of popularity ranks `0..head` (rank 0 hottest), for checking a generator's
/// rank-frequency curve.
#[must_use]
pub fn rank_counts(csr: &Csr, sampler: &TableSampler, head: usize) -> Vec<u64> {
    let mut counts = vec![0u64; head];
    for &row in &csr.indices {
        let rank = sampler.rank_of_row(row);
        if let Some(c) = usize::try_from(rank).ok().and_then(|r| counts.get_mut(r)) {
            *c += 1;
        }
    }
    counts
}

/// Least-squares estimate of the Zipf exponent from rank counts (`counts[i]` = lookups of
/// rank `i + 1`): minus the slope of `ln(count)` against `ln(rank)`. Ranks with zero count are
/// skipped (their log is undefined); `None` if fewer than two ranks remain.
#[must_use]
pub fn fit_zipf_exponent(counts: &[u64]) -> Option<f64> {
    let points: Vec<(f64, f64)> = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(i, &c)| (((i + 1) as f64).ln(), (c as f64).ln()))
        .collect();
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    Some(-sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr(ids: &[u64]) -> Csr {
        Csr {
            indices: ids.to_vec(),
            offsets: vec![0, ids.len() as u64],
        }
    }

    #[test]
    fn unique_fraction_counts_distinct() {
        assert_eq!(unique_fraction(&csr(&[])), 0.0);
        assert_eq!(unique_fraction(&csr(&[1, 2, 3, 4])), 1.0);
        assert_eq!(unique_fraction(&csr(&[7, 7, 7, 9])), 0.5);
    }

    #[test]
    fn empirical_hit_rate() {
        let c = csr(&[5, 5, 5, 2, 2, 9, 1, 5]);
        assert_eq!(row_counts(&c), vec![(5, 4), (2, 2), (1, 1), (9, 1)]);
        assert_eq!(hit_rate_empirical_hottest(&c, 0), 0.0);
        assert_eq!(hit_rate_empirical_hottest(&c, 1), 0.5);
        assert_eq!(hit_rate_empirical_hottest(&c, 2), 0.75);
        assert_eq!(hit_rate_empirical_hottest(&c, 100), 1.0);
    }

    #[test]
    fn exponent_fit_recovers_exact_power_law() {
        let counts: Vec<u64> = (1..=50)
            .map(|r| (1e9 * (r as f64).powf(-1.3)).round() as u64)
            .collect();
        let a = fit_zipf_exponent(&counts).unwrap();
        assert!((a - 1.3).abs() < 1e-6, "{a}");
        assert_eq!(fit_zipf_exponent(&[5]), None);
        assert_eq!(fit_zipf_exponent(&[5, 0, 0]), None);
    }
}
