//! Generated workloads must have the statistics that were asked for. Every test uses a fixed
//! seed; each tolerance is a stated number of standard errors (or a concentration bound) for
//! its sample size, so a correct generator fails with negligible probability and a biased one
//! fails reliably.

use seedchip_zoo::stats::{
    fit_zipf_exponent, hit_rate_empirical_hottest, hit_rate_known_hottest, rank_counts,
    unique_fraction,
};
use seedchip_zoo::{Pooling, TableSpec, Workload, WorkloadSpec};

fn workload(tables: Vec<TableSpec>, seed: u64) -> Workload {
    Workload::new(
        WorkloadSpec {
            dense: vec![],
            tables,
        },
        seed,
    )
    .expect("valid spec")
}

#[test]
fn fixed_pooling_is_exact() {
    // MLPerf DLRM-v2's multi-hot sizes (reference file, section B.1): every bag has exactly
    // the table's hotness.
    let hotness = [
        3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1,
    ];
    let tables = hotness
        .iter()
        .enumerate()
        .map(|(t, &h)| TableSpec::new(format!("t{t}"), 40_000_000, Pooling::Fixed(h), 1.0))
        .collect();
    let b = workload(tables, 1).batch(0, 1000);
    for (csr, &h) in b.sparse.iter().zip(&hotness) {
        assert!(csr.pooling_factors().all(|p| p == u64::from(h)));
    }
    assert_eq!(b.lookups(), 214 * 1000);
}

#[test]
fn variable_pooling_means_match() {
    let n = 20_000usize;
    let cases = [
        // Uniform on 0..=20: σ² = (21² − 1)/12 = 36.7, σ = 6.06.
        (Pooling::Uniform { min: 0, max: 20 }, 6.06),
        // DeepRecSys-like 80 ± uniform spread: σ = √((81² − 1)/12) = 23.4.
        (Pooling::Uniform { min: 40, max: 120 }, 23.4),
        // Clamped one side, so the expected mean (≈ 10.18) differs from `mean`; σ ≤ 6.
        (
            Pooling::NormalClipped {
                mean: 10.0,
                std_dev: 6.0,
                min: 1,
                max: 40,
            },
            6.0,
        ),
        // Symmetric clamp: the mean is exactly 20.
        (
            Pooling::NormalClipped {
                mean: 20.0,
                std_dev: 8.0,
                min: 5,
                max: 35,
            },
            8.0,
        ),
    ];
    for (i, (pooling, sigma)) in cases.into_iter().enumerate() {
        let w = workload(
            vec![TableSpec::new("t", 1000, pooling, 0.0)],
            100 + i as u64,
        );
        let csr = &w.batch(0, n).sparse[0];
        let mean = csr.lookups() as f64 / n as f64;
        let want = pooling.expected_mean();
        // 5 standard errors of a mean of n draws.
        let tol = 5.0 * sigma / (n as f64).sqrt();
        assert!(
            (mean - want).abs() < tol,
            "{pooling:?}: mean {mean}, want {want} ± {tol}"
        );
        let max = u64::from(pooling.max());
        assert!(csr.pooling_factors().all(|p| p <= max));
    }
    let clipped = Pooling::NormalClipped {
        mean: 10.0,
        std_dev: 6.0,
        min: 1,
        max: 40,
    };
    // E ≈ 10 + σ·φ(1.5) − 9·Φ(−1.5) ≈ 10.18.
    assert!(
        clipped.expected_mean() > 10.1,
        "clamping at 1 must raise the mean"
    );
}

/// Lookups of one table with Zipf(`alpha`) popularity over `rows`.
fn zipf_trace(rows: u64, alpha: f64, lookups: usize, seed: u64) -> (Workload, seedchip_zoo::Csr) {
    let w = workload(
        vec![TableSpec::new("t", rows, Pooling::Fixed(10), alpha)],
        seed,
    );
    let csr = w.batch(0, lookups / 10).sparse.remove(0);
    (w, csr)
}

#[test]
fn zipf_head_slope_matches_alpha() {
    // 300,000 lookups over 10^6 rows; fit over the 100 hottest ranks. The rank-100 count is
    // ≥ ~200 for these exponents, so per-point log-count noise is ≤ 0.07 and the slope's
    // standard error is ≈ 0.005; the tolerance 0.03 is ~6 of them.
    for (i, alpha) in [0.8, 1.05, 1.2].into_iter().enumerate() {
        let (w, csr) = zipf_trace(1_000_000, alpha, 300_000, 7 + i as u64);
        let counts = rank_counts(&csr, &w.tables()[0], 100);
        let fitted = fit_zipf_exponent(&counts).expect("head has counts");
        assert!(
            (fitted - alpha).abs() < 0.03,
            "alpha {alpha}: fitted {fitted}"
        );
    }
}

/// Pearson's statistic over `observed` with `expected` counts.
fn chi_square(observed: &[u64], expected: &[f64]) -> f64 {
    observed
        .iter()
        .zip(expected)
        .map(|(&o, &e)| (o as f64 - e).powi(2) / e)
        .sum()
}

#[test]
fn zipf_rank_frequencies_pass_chi_square() {
    // Bins: each of the 100 hottest ranks, plus one bin for the rest (df = 100). The χ²(100)
    // statistic has mean 100 and sd √200 ≈ 14.1; the bound 100 + 6·14.1 ≈ 185 is exceeded by
    // a correct generator with probability < 1e-6, while a 2 % error in α gives ≈ 270
    // (α = 0.7) to ≈ 1,500 (α ≥ 1) at this sample size (checked when writing the test).
    let n = 300_000usize;
    for (i, alpha) in [0.0, 0.7, 1.0, 1.3].into_iter().enumerate() {
        let (w, csr) = zipf_trace(1_000_000, alpha, n, 21 + i as u64);
        let sampler = &w.tables()[0];
        let head = 100usize;
        let mut observed = rank_counts(&csr, sampler, head);
        observed.push(n as u64 - observed.iter().sum::<u64>());
        let mut expected: Vec<f64> = (0..head as u64)
            .map(|r| n as f64 * sampler.rank_probability(r))
            .collect();
        expected.push(n as f64 * (1.0 - sampler.expected_hit_rate(head as u64)));
        let stat = chi_square(&observed, &expected);
        assert!(stat < 185.0, "alpha {alpha}: chi-square {stat}");
    }
}

#[test]
fn uniform_popularity_spreads_over_the_row_space() {
    // α = 0 over 10^6 rows: 100 equal row-id bins, 3,000 expected per bin, χ²(99) bound
    // 99 + 6·√198 ≈ 184.
    let n = 300_000usize;
    let (_, csr) = zipf_trace(1_000_000, 0.0, n, 5);
    let mut observed = vec![0u64; 100];
    for &row in &csr.indices {
        observed[(row / 10_000) as usize] += 1;
    }
    let stat = chi_square(&observed, &[n as f64 / 100.0; 100]);
    assert!(stat < 184.0, "chi-square {stat}");
}

#[test]
fn skewed_rows_are_scattered_not_clustered() {
    // With α = 1.2 most lookups hit a few hundred ranks; the permutation must still spread
    // them over the whole row range (else caches and DRAM pages would look unrealistically
    // good). Same row-id bins as the uniform test, weaker requirement: every tenth of the
    // table receives some of the 1,000 hottest rows.
    let (w, _) = zipf_trace(40_000_000, 1.2, 10, 3);
    let sampler = &w.tables()[0];
    let mut deciles = [0u32; 10];
    for rank in 0..1000 {
        deciles[(sampler.row_of_rank(rank) / 4_000_000) as usize] += 1;
    }
    // Each decile expects 100 of them (binomial sd 9.5); require > 50.
    assert!(deciles.iter().all(|&d| d > 50), "{deciles:?}");
}

#[test]
fn known_hottest_cache_hit_rate_matches_theory() {
    let n = 300_000usize;
    let (w, csr) = zipf_trace(1_000_000, 1.05, n, 77);
    let sampler = &w.tables()[0];
    for k in [10u64, 1_000, 100_000] {
        let got = hit_rate_known_hottest(&csr, sampler, k);
        let p = sampler.expected_hit_rate(k);
        // 5 binomial standard errors.
        let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
        assert!(
            (got - p).abs() < tol,
            "k {k}: hit rate {got}, want {p} ± {tol}"
        );
        // The oracle cache (hottest rows of this very trace) can only do better.
        assert!(hit_rate_empirical_hottest(&csr, k as usize) >= got);
    }
    assert_eq!(hit_rate_known_hottest(&csr, sampler, 1_000_000), 1.0);
}

#[test]
fn unique_fraction_matches_expected_distinct_rows() {
    // E[distinct] = Σ_r 1 − (1 − p_r)^N. Distinct count changes by at most 1 per draw, so by
    // McDiarmid P(|X − E X| ≥ t) ≤ 2·exp(−2t²/N); t = 4√N makes that 2.5e-14. N = 100,000 gives
    // a fraction tolerance of 4/√N ≈ 0.0126.
    let n = 100_000usize;
    for (i, alpha) in [0.0, 0.9, 1.2].into_iter().enumerate() {
        let rows = 200_000u64;
        let (w, csr) = zipf_trace(rows, alpha, n, 300 + i as u64);
        let sampler = &w.tables()[0];
        let expected_distinct: f64 = (0..rows)
            .map(|r| 1.0 - (1.0 - sampler.rank_probability(r)).powi(n as i32))
            .sum();
        let want = expected_distinct / n as f64;
        let got = unique_fraction(&csr);
        let tol = 4.0 / (n as f64).sqrt();
        assert!(
            (got - want).abs() < tol,
            "alpha {alpha}: unique fraction {got}, want {want} ± {tol}"
        );
    }
}
