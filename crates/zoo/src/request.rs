//! Ranking requests: one user with K candidate items.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use crate::Error;
use crate::rng::stream;

/// MLPerf Inference's DLRM query-size quantiles: `mlcommons/inference`
/// `recommendation/dlrm_v2/pytorch/tools/dist_quantile.txt` (identical in the retired DLRM v1
/// benchmark). Entry `j` is the quantile at p = 0.05·(j+1); the harness draws one of the 20
/// entries uniformly (`multihot_criteo.py`, inverse-transform sampling), so a query has 100
/// pairs with probability 0.10, 200 with 0.60, 300 with 0.10 and 400–700 with 0.05 each: mean
/// 270 (reference file, section B.1).
pub const MLPERF_DLRM_QUANTILES: [u32; 20] = [
    100, 100, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 300, 300, 400, 500, 600,
    700,
];

/// The largest candidate count accepted: far above any ranking stage's fan-out, and small
/// enough that a request's batch fits in memory.
pub const MAX_CANDIDATES: u32 = 1 << 20;

/// How many candidates (user-item pairs) a request carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CandidateDist {
    /// MLPerf's aggregated-query distribution ([`MLPERF_DLRM_QUANTILES`]): 100–700, mean 270.
    #[default]
    Mlperf,
    /// Draw uniformly among these equally likely quantiles, as the MLPerf harness does with its
    /// file.
    Quantiles(Vec<u32>),
    /// Always `k`.
    Fixed(u32),
    /// Uniform on `min..=max`.
    Uniform {
        /// Fewest candidates.
        min: u32,
        /// Most candidates.
        max: u32,
    },
}

impl CandidateDist {
    /// Rejects empty ranges, zero candidates and counts beyond [`MAX_CANDIDATES`].
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |reason: String| Err(Error::InvalidCandidates { reason });
        let (min, max) = match self {
            Self::Mlperf => return Ok(()),
            Self::Quantiles(q) => {
                if q.is_empty() {
                    return bad("the quantile list is empty".into());
                }
                (*q.iter().min().unwrap_or(&0), *q.iter().max().unwrap_or(&0))
            }
            Self::Fixed(k) => (*k, *k),
            Self::Uniform { min, max } => (*min, *max),
        };
        if min == 0 {
            return bad("a request needs at least one candidate".into());
        }
        if min > max {
            return bad(format!("empty range: min {min} > max {max}"));
        }
        if max > MAX_CANDIDATES {
            return bad(format!(
                "{max} candidates exceed the limit of {MAX_CANDIDATES}"
            ));
        }
        Ok(())
    }

    /// Expected candidates per request.
    #[must_use]
    pub fn mean(&self) -> f64 {
        match self {
            Self::Mlperf => quantile_mean(&MLPERF_DLRM_QUANTILES),
            Self::Quantiles(q) => quantile_mean(q),
            Self::Fixed(k) => f64::from(*k),
            Self::Uniform { min, max } => (f64::from(*min) + f64::from(*max)) / 2.0,
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> u32 {
        match self {
            Self::Mlperf => MLPERF_DLRM_QUANTILES[rng.random_range(0..MLPERF_DLRM_QUANTILES.len())],
            Self::Quantiles(q) => q[rng.random_range(0..q.len())],
            Self::Fixed(k) => *k,
            Self::Uniform { min, max } => rng.random_range(*min..=*max),
        }
    }
}

fn quantile_mean(q: &[u32]) -> f64 {
    q.iter().map(|&v| f64::from(v)).sum::<f64>() / q.len().max(1) as f64
}

/// One ranking request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Position in the request sequence; also the batch index its inputs are generated with.
    pub id: u64,
    /// The user, uniform over the generator's user population: user-scoped features are a
    /// function of it, so repeat users see repeat features.
    pub user: u64,
    /// Candidate items to score (the batch size of this request).
    pub candidates: u32,
}

/// Generates requests with random access: request `i` comes from stream
/// `(seed, "request", [i])`, so a sharded serving simulation can produce any slice of the
/// sequence without generating what comes before it.
#[derive(Debug, Clone)]
pub struct RequestGen {
    seed: u64,
    dist: CandidateDist,
    users: u64,
}

impl RequestGen {
    /// Requests from `users` distinct users with candidate counts from `dist`.
    pub fn new(seed: u64, dist: CandidateDist, users: u64) -> Result<Self, Error> {
        dist.validate()?;
        if users == 0 {
            return Err(Error::InvalidCandidates {
                reason: "the user population is empty".into(),
            });
        }
        Ok(Self { seed, dist, users })
    }

    /// The candidate-count distribution.
    #[must_use]
    pub fn dist(&self) -> &CandidateDist {
        &self.dist
    }

    /// Request number `id`.
    #[must_use]
    pub fn request(&self, id: u64) -> Request {
        let mut rng = stream(self.seed, "request", &[id]);
        let candidates = self.dist.sample(&mut rng);
        let user = rng.random_range(0..self.users);
        Request {
            id,
            user,
            candidates,
        }
    }

    /// Requests `start..start + count`.
    #[must_use]
    pub fn requests(&self, start: u64, count: u64) -> Vec<Request> {
        (start..start.saturating_add(count))
            .map(|i| self.request(i))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlperf_quantiles_mean_is_270() {
        assert_eq!(CandidateDist::Mlperf.mean(), 270.0);
    }

    #[test]
    fn mlperf_empirical_distribution() {
        let g = RequestGen::new(11, CandidateDist::Mlperf, 1000).unwrap();
        let n = 40_000u64;
        let reqs = g.requests(0, n);
        let mut counts = std::collections::BTreeMap::new();
        for r in &reqs {
            assert!((100..=700).contains(&r.candidates));
            *counts.entry(r.candidates).or_insert(0u64) += 1;
        }
        // Probabilities from the quantile file; tolerance 5 binomial standard deviations.
        for (k, p) in [
            (100, 0.10),
            (200, 0.60),
            (300, 0.10),
            (400, 0.05),
            (500, 0.05),
            (600, 0.05),
            (700, 0.05),
        ] {
            let got = counts.get(&k).copied().unwrap_or(0) as f64 / n as f64;
            let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
            assert!((got - p).abs() < tol, "P({k}) = {got}, want {p} ± {tol}");
        }
        // Mean: one draw has variance 97,000 - 270² = 24,100 (σ ≈ 155.2), so 5σ/√n ≈ 3.9.
        let mean = reqs.iter().map(|r| f64::from(r.candidates)).sum::<f64>() / n as f64;
        assert!((mean - 270.0).abs() < 3.9, "mean {mean}");
    }

    #[test]
    fn requests_are_random_access() {
        let g = RequestGen::new(5, CandidateDist::Uniform { min: 1, max: 9 }, 10).unwrap();
        let all = g.requests(0, 50);
        assert_eq!(g.requests(20, 5), all[20..25].to_vec());
        assert_eq!(g.request(49), all[49]);
    }

    #[test]
    fn invalid_distributions() {
        for d in [
            CandidateDist::Fixed(0),
            CandidateDist::Quantiles(vec![]),
            CandidateDist::Quantiles(vec![0, 3]),
            CandidateDist::Uniform { min: 5, max: 4 },
            CandidateDist::Fixed(MAX_CANDIDATES + 1),
        ] {
            assert!(d.validate().is_err(), "{d:?}");
        }
        assert!(RequestGen::new(0, CandidateDist::Mlperf, 0).is_err());
    }
}
