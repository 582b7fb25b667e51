//! Dense (continuous) feature generation.

use rand_distr::{Distribution, Normal, StandardNormal};

use crate::Error;
use crate::rng::stream;
use crate::sparse::Scope;

/// Rows per random stream. Fixed (not derived from the thread count) so that the output is the
/// same however the chunks are scheduled.
pub const DENSE_CHUNK_ROWS: usize = 512;

/// How dense features are distributed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DenseDist {
    /// `N(0, 1)` in every feature: what a model sees after per-feature standardisation.
    StandardNormal,
    /// `ln(1 + c)` of a heavy-tailed count `c = floor(exp(N(mu, sigma)))`, i.e. a discretised
    /// log-normal count. Criteo's 13 integer features are counts and the MLPerf DLRM
    /// preprocessing feeds the model `log(x + 1)` of them; this reproduces that shape
    /// (non-negative, mass at 0, long right tail). The parameters are illustrative, not fitted
    /// to Criteo.
    LogCounts {
        /// Mean of the underlying normal (log of the median count).
        mu: f64,
        /// Standard deviation of the underlying normal; larger means a longer tail.
        sigma: f64,
    },
}

impl Default for DenseDist {
    fn default() -> Self {
        Self::LogCounts {
            mu: 1.0,
            sigma: 1.5,
        }
    }
}

impl DenseDist {
    /// Rejects parameters that would produce NaN or infinite features.
    pub fn validate(&self) -> Result<(), Error> {
        match *self {
            Self::StandardNormal => Ok(()),
            Self::LogCounts { mu, sigma } => {
                if !(mu.is_finite() && sigma.is_finite() && sigma >= 0.0 && mu.abs() <= 20.0) {
                    return Err(Error::InvalidDense {
                        reason: format!(
                            "LogCounts needs finite mu in [-20, 20] and sigma >= 0, got mu {mu}, sigma {sigma}"
                        ),
                    });
                }
                Ok(())
            }
        }
    }

    fn fill(&self, rng: &mut rand_chacha::ChaCha8Rng, out: &mut [f32]) {
        match *self {
            Self::StandardNormal => {
                for v in out {
                    let x: f64 = StandardNormal.sample(rng);
                    *v = x as f32;
                }
            }
            Self::LogCounts { mu, sigma } => {
                let normal = Normal::new(mu, sigma).expect("validated in DenseDist::validate");
                for v in out {
                    let count = normal.sample(rng).exp().floor();
                    *v = count.ln_1p() as f32;
                }
            }
        }
    }
}

/// One dense input of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseSpec {
    /// The model's input name.
    pub name: String,
    /// Features per sample.
    pub features: usize,
    /// Their distribution.
    pub dist: DenseDist,
    /// Per pair, or drawn once per user and repeated inside a request.
    pub scope: Scope,
}

impl DenseSpec {
    /// A per-pair dense input.
    #[must_use]
    pub fn new(name: impl Into<String>, features: usize, dist: DenseDist) -> Self {
        Self {
            name: name.into(),
            features,
            dist,
            scope: Scope::Pair,
        }
    }

    /// The same input, drawn once per user.
    #[must_use]
    pub fn per_user(mut self) -> Self {
        self.scope = Scope::User;
        self
    }
}

/// Fills `out` (whole rows of `dist`) from stream `(seed, name, index)`.
pub(crate) fn generate(dist: &DenseDist, seed: u64, name: &str, index: &[u64], out: &mut [f32]) {
    let mut rng = stream(seed, name, index);
    dist.fill(&mut rng, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_counts_are_nonnegative_with_mass_at_zero() {
        let mut out = vec![0f32; 10_000];
        generate(&DenseDist::default(), 1, "dense", &[0], &mut out[..9_997]);
        let data = &out[..9_997];
        assert!(data.iter().all(|v| v.is_finite() && *v >= 0.0));
        let zeros = data.iter().filter(|v| **v == 0.0).count();
        // P(count = 0) = P(N(1, 1.5) < 0) = Φ(-2/3) ≈ 0.2525; 5σ of a binomial with n≈10^4 is
        // ≈ 0.022.
        let frac = zeros as f64 / data.len() as f64;
        assert!((frac - 0.2525).abs() < 0.022, "zero fraction {frac}");
    }

    #[test]
    fn standard_normal_moments() {
        let mut out = vec![0f32; 40_000];
        generate(&DenseDist::StandardNormal, 3, "dense", &[0], &mut out);
        let n = out.len() as f64;
        let mean = out.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = out
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n;
        // Standard errors: mean 1/√n = 0.005, variance √(2/n) ≈ 0.0071; allow 5σ.
        assert!(mean.abs() < 0.025, "mean {mean}");
        assert!((var - 1.0).abs() < 0.036, "variance {var}");
    }

    #[test]
    fn invalid_parameters_are_rejected() {
        for (mu, sigma) in [
            (f64::NAN, 1.0),
            (0.0, -1.0),
            (100.0, 1.0),
            (0.0, f64::INFINITY),
        ] {
            assert!(DenseDist::LogCounts { mu, sigma }.validate().is_err());
        }
    }
}
