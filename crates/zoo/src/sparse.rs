//! Sparse (categorical) ids: pooling factors, Zipf popularity over a permuted row space, CSR
//! output.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Zipf};

use crate::Error;
use crate::perm::RowPermutation;
use crate::rng::stream_key;

/// Samples per random stream when generating one table's bags. Fixed (never derived from the
/// thread count) so that results do not depend on scheduling.
pub const SPARSE_CHUNK_SAMPLES: usize = 512;

/// The largest pooling factor accepted. A bag of a million lookups is not a recommendation
/// workload, and the bound keeps the expected-mean computation of
/// [`Pooling::NormalClipped`] cheap.
pub const MAX_POOLING: u32 = 1_000_000;

/// The largest table accepted: Zipf ranks are drawn as `f64`, which is exact for integers up to
/// 2^53.
pub const MAX_ROWS: u64 = 1 << 53;

/// How many ids one sample looks up in a table (the bag size, "hotness").
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pooling {
    /// Always `n` ids: MLPerf DLRM-v2's synthetic multi-hot Criteo uses a fixed hotness per
    /// table.
    Fixed(u32),
    /// Uniform on `min..=max`: DeepRecSys-style variable lookups.
    Uniform {
        /// Smallest bag.
        min: u32,
        /// Largest bag.
        max: u32,
    },
    /// `round(N(mean, std_dev))` clamped to `min..=max`: bags that vary around a mean but stay
    /// bounded. With clamping the mean of the result can differ from `mean`; see
    /// [`Pooling::expected_mean`].
    NormalClipped {
        /// Mean before rounding and clamping.
        mean: f64,
        /// Standard deviation before rounding and clamping.
        std_dev: f64,
        /// Smallest bag.
        min: u32,
        /// Largest bag.
        max: u32,
    },
}

impl Pooling {
    /// Rejects empty ranges, NaN and bags beyond [`MAX_POOLING`].
    pub fn validate(&self) -> Result<(), String> {
        let (min, max) = match *self {
            Self::Fixed(n) => (n, n),
            Self::Uniform { min, max } => (min, max),
            Self::NormalClipped {
                mean,
                std_dev,
                min,
                max,
            } => {
                if !(mean.is_finite() && std_dev.is_finite() && std_dev >= 0.0) {
                    return Err(format!(
                        "normal pooling needs finite mean and std_dev >= 0, got mean {mean}, std_dev {std_dev}"
                    ));
                }
                (min, max)
            }
        };
        if min > max {
            return Err(format!("pooling range is empty: min {min} > max {max}"));
        }
        if max > MAX_POOLING {
            return Err(format!(
                "pooling factor {max} exceeds the limit of {MAX_POOLING}"
            ));
        }
        Ok(())
    }

    /// The exact expected bag size, which is what the generator's empirical mean converges to.
    #[must_use]
    pub fn expected_mean(&self) -> f64 {
        match *self {
            Self::Fixed(n) => f64::from(n),
            Self::Uniform { min, max } => (f64::from(min) + f64::from(max)) / 2.0,
            Self::NormalClipped {
                mean,
                std_dev,
                min,
                max,
            } => normal_clipped_mean(mean, std_dev, min, max),
        }
    }

    /// The largest bag this pooling can produce.
    #[must_use]
    pub fn max(&self) -> u32 {
        match *self {
            Self::Fixed(n) => n,
            Self::Uniform { max, .. } | Self::NormalClipped { max, .. } => max,
        }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> u32 {
        match *self {
            Self::Fixed(n) => n,
            Self::Uniform { min, max } => rng.random_range(min..=max),
            Self::NormalClipped {
                mean,
                std_dev,
                min,
                max,
            } => {
                let x = Normal::new(mean, std_dev)
                    .expect("validated in Pooling::validate")
                    .sample(rng)
                    .round();
                x.clamp(f64::from(min), f64::from(max)) as u32
            }
        }
    }
}

/// Standard normal CDF through `erfc`, accurate to ~1e-7 absolute: plenty for an expected bag
/// size that is compared with a sampled mean.
fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// Complementary error function, Numerical Recipes' Chebyshev fit (`erfcc`), |relative error|
/// < 1.2e-7 everywhere.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

fn normal_clipped_mean(mean: f64, std_dev: f64, min: u32, max: u32) -> f64 {
    let (lo, hi) = (f64::from(min), f64::from(max));
    if std_dev == 0.0 {
        return mean.round().clamp(lo, hi);
    }
    // P(result <= k) for k in [min, max): P(X < k + 0.5); `round` sends ties away from zero, a
    // measure-zero event for a continuous X.
    let cdf = |k: f64| normal_cdf((k + 0.5 - mean) / std_dev);
    // E[result] = min + Σ_{k=min}^{max-1} P(result > k). Terms beyond 12σ from the mean are
    // 0 or 1 to within 1e-32, so only the window around the mean is summed.
    let window_lo = (mean - 12.0 * std_dev).floor().max(lo).min(hi);
    let window_hi = (mean + 12.0 * std_dev).ceil().min(hi);
    let mut expected = lo;
    if window_lo > lo {
        expected += window_lo - lo; // P(result > k) = 1 below the window.
    }
    let mut k = window_lo;
    while k < window_hi {
        expected += 1.0 - cdf(k);
        k += 1.0;
    }
    expected
}

/// One embedding table as the workload generator sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    /// The model's name for the table's id input.
    pub name: String,
    /// Rows in the table; ids are in `[0, rows)`.
    pub rows: u64,
    /// Bag size per sample.
    pub pooling: Pooling,
    /// Zipf exponent of row popularity: rank `r` (1 hottest) is drawn with probability
    /// ∝ `r^-alpha`. 0 is uniform.
    pub alpha: f64,
    /// Whether the ids belong to the user (identical for every candidate of a request) or to
    /// the user-item pair.
    pub scope: Scope,
    /// The embedding table the ids index. It keys the popularity permutation, so inputs that
    /// read the same table (a candidate item and an item history) agree on which rows are hot.
    pub table: String,
}

/// Which entity a sparse feature describes, which decides what repeats inside a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Different for every candidate (item ids, cross features; every MLPerf DLRM table).
    #[default]
    Pair,
    /// Drawn once per user and repeated for each of the user's candidates (user id, behaviour
    /// history).
    User,
}

impl TableSpec {
    /// A per-pair table.
    #[must_use]
    pub fn new(name: impl Into<String>, rows: u64, pooling: Pooling, alpha: f64) -> Self {
        let name = name.into();
        Self {
            table: name.clone(),
            name,
            rows,
            pooling,
            alpha,
            scope: Scope::Pair,
        }
    }

    /// The same input, reading embedding table `table` (shared popularity with other inputs of
    /// that table).
    #[must_use]
    pub fn on_table(mut self, table: impl Into<String>) -> Self {
        self.table = table.into();
        self
    }

    /// The same table, drawn once per user.
    #[must_use]
    pub fn per_user(mut self) -> Self {
        self.scope = Scope::User;
        self
    }
}

/// Draws ids for one table: a Zipf rank, mapped to a row through the table's permutation.
#[derive(Debug, Clone)]
pub struct TableSampler {
    spec: TableSpec,
    zipf: Option<Zipf<f64>>,
    perm: RowPermutation,
    /// `H(rows, alpha)`, the Zipf normaliser, computed once.
    harmonic_total: f64,
}

impl TableSampler {
    /// A sampler for `spec` in a workload with seed `seed`. The permutation key is
    /// [`stream_key`]`(seed, "perm/" + spec.table, [])`, so a table's hot rows are the same in
    /// every batch of a run and for every input reading it, and change with the seed.
    pub fn new(spec: TableSpec, seed: u64) -> Result<Self, Error> {
        let bad = |reason: String| Error::InvalidTable {
            table: spec.name.clone(),
            reason,
        };
        if spec.rows == 0 {
            return Err(bad("a table needs at least one row".into()));
        }
        if spec.rows > MAX_ROWS {
            return Err(bad(format!(
                "{} rows exceed the limit of 2^53 (Zipf ranks are drawn as f64)",
                spec.rows
            )));
        }
        spec.pooling.validate().map_err(bad)?;
        if !(spec.alpha.is_finite() && spec.alpha >= 0.0) {
            return Err(bad(format!(
                "Zipf alpha must be finite and >= 0 (0 = uniform), got {}",
                spec.alpha
            )));
        }
        let zipf = if spec.alpha == 0.0 {
            None
        } else {
            Some(Zipf::new(spec.rows as f64, spec.alpha).map_err(|e| bad(e.to_string()))?)
        };
        let perm = RowPermutation::new(
            spec.rows,
            stream_key(seed, &format!("perm/{}", spec.table), &[]),
        );
        let harmonic_total = generalized_harmonic(spec.rows, spec.alpha);
        Ok(Self {
            spec,
            zipf,
            perm,
            harmonic_total,
        })
    }

    /// The table this sampler draws for.
    #[must_use]
    pub fn spec(&self) -> &TableSpec {
        &self.spec
    }

    /// The rank-to-row permutation.
    #[must_use]
    pub fn permutation(&self) -> &RowPermutation {
        &self.perm
    }

    /// A popularity rank in `[0, rows)`, 0 hottest.
    pub fn sample_rank(&self, rng: &mut ChaCha8Rng) -> u64 {
        match &self.zipf {
            None => rng.random_range(0..self.spec.rows),
            // Zipf returns an integer-valued float in [1, rows].
            Some(z) => (z.sample(rng) as u64 - 1).min(self.spec.rows - 1),
        }
    }

    /// A row id.
    pub fn sample_row(&self, rng: &mut ChaCha8Rng) -> u64 {
        self.perm.apply(self.sample_rank(rng))
    }

    /// The row holding popularity rank `rank` (0 hottest).
    #[must_use]
    pub fn row_of_rank(&self, rank: u64) -> u64 {
        self.perm.apply(rank)
    }

    /// The popularity rank (0 hottest) of `row`.
    #[must_use]
    pub fn rank_of_row(&self, row: u64) -> u64 {
        self.perm.invert(row)
    }

    /// Probability that one lookup hits one of the `k` hottest rows: `H(k, α) / H(rows, α)`,
    /// i.e. the hit rate of an ideal cache pinned to those rows.
    #[must_use]
    pub fn expected_hit_rate(&self, k: u64) -> f64 {
        let k = k.min(self.spec.rows);
        generalized_harmonic(k, self.spec.alpha) / self.harmonic_total
    }

    /// Probability of drawing rank `rank` (0 hottest).
    #[must_use]
    pub fn rank_probability(&self, rank: u64) -> f64 {
        let r = (rank + 1) as f64;
        r.powf(-self.spec.alpha) / self.harmonic_total
    }

    /// Appends one bag to `indices` and returns its length.
    pub(crate) fn sample_bag(&self, rng: &mut ChaCha8Rng, indices: &mut Vec<u64>) -> u32 {
        let n = self.spec.pooling.sample(rng);
        indices.reserve(n as usize);
        for _ in 0..n {
            indices.push(self.sample_row(rng));
        }
        n
    }
}

/// `H(n, s) = Σ_{i=1..n} i^-s`: exact summation up to 10^4 terms, then the Euler–Maclaurin
/// tail (integral, endpoint and first derivative terms), whose error at that cut-off is below
/// 1e-15 relative, so tables of 10^9 rows cost microseconds.
#[must_use]
pub fn generalized_harmonic(n: u64, s: f64) -> f64 {
    const EXACT: u64 = 10_000;
    if n <= EXACT {
        return (1..=n).map(|i| (i as f64).powf(-s)).sum();
    }
    let head: f64 = (1..EXACT).map(|i| (i as f64).powf(-s)).sum();
    let (a, b) = (EXACT as f64, n as f64);
    let f = |x: f64| x.powf(-s);
    let df = |x: f64| -s * x.powf(-s - 1.0);
    // ∫_a^b x^-s dx, written with expm1 so that s → 1 stays accurate.
    let one_minus_s = 1.0 - s;
    let log_ratio = (b / a).ln();
    let integral = if one_minus_s.abs() < 1e-12 {
        log_ratio
    } else {
        a.powf(one_minus_s) * (one_minus_s * log_ratio).exp_m1() / one_minus_s
    };
    head + integral + (f(a) + f(b)) / 2.0 + (df(b) - df(a)) / 12.0
}

/// One table's ids for a batch, in compressed sparse row form: sample `i` looks up
/// `indices[offsets[i]..offsets[i + 1]]`. This is the layout of PyTorch's `EmbeddingBag` and
/// FBGEMM's TBE inputs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Csr {
    /// Row ids, bag after bag.
    pub indices: Vec<u64>,
    /// `batch + 1` offsets into `indices`, starting at 0.
    pub offsets: Vec<u64>,
}

impl Csr {
    /// Number of bags.
    #[must_use]
    pub fn batch(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Total ids.
    #[must_use]
    pub fn lookups(&self) -> usize {
        self.indices.len()
    }

    /// The ids of bag `i`.
    #[must_use]
    pub fn bag(&self, i: usize) -> &[u64] {
        &self.indices[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Bag sizes, sample by sample.
    pub fn pooling_factors(&self) -> impl Iterator<Item = u64> + '_ {
        self.offsets.windows(2).map(|w| w[1] - w[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    #[test]
    fn harmonic_matches_direct_sum_across_cutoff() {
        for s in [0.0, 0.5, 0.99, 1.0, 1.01, 1.2, 2.0] {
            for n in [1u64, 10, 10_000, 10_001, 123_457, 1_000_000] {
                let direct: f64 = (1..=n).map(|i| (i as f64).powf(-s)).sum();
                let fast = generalized_harmonic(n, s);
                assert!(
                    ((fast - direct) / direct).abs() < 1e-10,
                    "H({n}, {s}): {fast} vs {direct}"
                );
            }
        }
    }

    #[test]
    fn erfc_known_values() {
        // erfc(0) = 1, erfc(1) = 0.157299207..., erfc(-1) = 1.842700792...
        assert!((erfc(0.0) - 1.0).abs() < 2e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 2e-7);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 2e-7);
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 2e-7);
    }

    #[test]
    fn normal_clipped_mean_cases() {
        // Symmetric clamp around an integer mean: the mean is preserved by symmetry.
        let m = normal_clipped_mean(20.0, 5.0, 10, 30);
        assert!((m - 20.0).abs() < 1e-6, "{m}");
        // No clamping in effect: also the mean.
        let m = normal_clipped_mean(50.0, 2.0, 0, 1000);
        assert!((m - 50.0).abs() < 1e-6, "{m}");
        // One-sided clamp at 0 pulls the mean up.
        let m = normal_clipped_mean(1.0, 3.0, 0, 100);
        assert!(m > 1.5, "{m}");
        // Degenerate.
        assert_eq!(normal_clipped_mean(2.4, 0.0, 0, 9), 2.0);
        assert_eq!(normal_clipped_mean(50.0, 0.0, 0, 9), 9.0);
    }

    #[test]
    fn pooling_validation() {
        assert!(Pooling::Fixed(0).validate().is_ok());
        assert!(Pooling::Uniform { min: 3, max: 2 }.validate().is_err());
        assert!(Pooling::Fixed(MAX_POOLING + 1).validate().is_err());
        let bad = Pooling::NormalClipped {
            mean: f64::NAN,
            std_dev: 1.0,
            min: 0,
            max: 3,
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn sampler_rejects_bad_tables() {
        let ok = TableSpec::new("t", 10, Pooling::Fixed(1), 1.0);
        assert!(TableSampler::new(ok.clone(), 0).is_ok());
        for spec in [
            TableSpec {
                rows: 0,
                ..ok.clone()
            },
            TableSpec {
                rows: MAX_ROWS + 1,
                ..ok.clone()
            },
            TableSpec {
                alpha: -0.5,
                ..ok.clone()
            },
            TableSpec {
                alpha: f64::NAN,
                ..ok.clone()
            },
        ] {
            let err = TableSampler::new(spec, 0).unwrap_err();
            assert!(err.to_string().contains("table `t`"), "{err}");
        }
    }

    #[test]
    fn ranks_and_rows_stay_in_range() {
        for rows in [1u64, 2, 3, 1000] {
            for alpha in [0.0, 0.5, 1.0, 3.0] {
                let s = TableSampler::new(TableSpec::new("t", rows, Pooling::Fixed(1), alpha), 1)
                    .unwrap();
                let mut rng = stream(1, "t", &[]);
                for _ in 0..2000 {
                    let r = s.sample_rank(&mut rng);
                    assert!(r < rows);
                    let row = s.row_of_rank(r);
                    assert_eq!(s.rank_of_row(row), r);
                }
            }
        }
    }

    #[test]
    fn csr_accessors() {
        let c = Csr {
            indices: vec![5, 6, 7],
            offsets: vec![0, 2, 2, 3],
        };
        assert_eq!(c.batch(), 3);
        assert_eq!(c.bag(0), &[5, 6]);
        assert!(c.bag(1).is_empty());
        assert_eq!(c.pooling_factors().collect::<Vec<_>>(), vec![2, 0, 1]);
    }
}
