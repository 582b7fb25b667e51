//! Whole-model input batches: dense inputs plus one CSR per sparse input.

use rayon::prelude::*;

use crate::Error;
use crate::dense::{DENSE_CHUNK_ROWS, DenseSpec, generate};
use crate::request::Request;
use crate::rng::stream;
use crate::sparse::{Csr, SPARSE_CHUNK_SAMPLES, Scope, TableSampler, TableSpec};

/// What a model consumes, as far as input generation is concerned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkloadSpec {
    /// Dense inputs, in the model's input order.
    pub dense: Vec<DenseSpec>,
    /// Sparse inputs, in the model's input order.
    pub tables: Vec<TableSpec>,
}

/// A validated [`WorkloadSpec`] bound to a seed.
///
/// Every value it produces is a pure function of `(seed, batch or user, input, chunk)`:
///
/// | what | stream |
/// |---|---|
/// | rows `512c..512(c+1)` of dense input `d`, batch `b` | `(seed, "dense", [d, b, c])` |
/// | dense input `d` of user `u` | `(seed, "user_dense", [d, u])` |
/// | bags `512c..512(c+1)` of sparse input `t`, batch `b` | `(seed, "sparse", [b, t, c])` |
/// | the bag of sparse input `t` for user `u` | `(seed, "user", [t, u])` |
/// | popularity permutation of embedding table `name` | key `(seed, "perm/" + name, [])` |
///
/// Chunk sizes are constants, so the output does not depend on the number of threads, and a
/// smaller batch is a prefix of a larger one with the same index.
#[derive(Debug, Clone)]
pub struct Workload {
    seed: u64,
    dense: Vec<DenseSpec>,
    samplers: Vec<TableSampler>,
}

/// One batch of model inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Samples (user-item pairs) in the batch.
    pub batch_size: usize,
    /// One row-major `[batch_size, features]` array per dense input, in
    /// [`WorkloadSpec::dense`] order.
    pub dense: Vec<Vec<f32>>,
    /// One CSR per sparse input, in [`WorkloadSpec::tables`] order.
    pub sparse: Vec<Csr>,
}

impl Batch {
    /// Total embedding-row lookups in the batch.
    #[must_use]
    pub fn lookups(&self) -> usize {
        self.sparse.iter().map(Csr::lookups).sum()
    }
}

/// Where a user's features come from when a batch is generated.
#[derive(Clone, Copy)]
enum Users {
    /// Every sample is its own user (plain batches).
    PerSample,
    /// All samples belong to this user (one request).
    One(u64),
}

impl Workload {
    /// Validates every input.
    pub fn new(spec: WorkloadSpec, seed: u64) -> Result<Self, Error> {
        for d in &spec.dense {
            d.dist.validate().map_err(|e| match e {
                Error::InvalidDense { reason } => Error::InvalidDense {
                    reason: format!("input `{}`: {reason}", d.name),
                },
                other => other,
            })?;
        }
        let samplers = spec
            .tables
            .into_iter()
            .map(|table| TableSampler::new(table, seed))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            seed,
            dense: spec.dense,
            samplers,
        })
    }

    /// The seed everything is derived from.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// One sampler per sparse input, in input order (for popularity ranks and statistics).
    #[must_use]
    pub fn tables(&self) -> &[TableSampler] {
        &self.samplers
    }

    /// The dense inputs.
    #[must_use]
    pub fn dense(&self) -> &[DenseSpec] {
        &self.dense
    }

    /// Batch number `batch_index` of `batch_size` independent samples; user-scoped inputs are
    /// drawn per sample, as if every sample came from a different user.
    #[must_use]
    pub fn batch(&self, batch_index: u64, batch_size: usize) -> Batch {
        self.generate(batch_index, batch_size, Users::PerSample)
    }

    /// The inputs of one request: `candidates` samples whose per-pair inputs are those of batch
    /// `request.id` and whose user-scoped inputs are the request user's, repeated for every
    /// candidate (what a serving system can deduplicate).
    #[must_use]
    pub fn request_batch(&self, request: &Request) -> Batch {
        self.generate(
            request.id,
            request.candidates as usize,
            Users::One(request.user),
        )
    }

    fn generate(&self, batch_index: u64, batch_size: usize, users: Users) -> Batch {
        Batch {
            batch_size,
            dense: self
                .dense
                .iter()
                .enumerate()
                .map(|(d, spec)| self.dense_input(d, spec, batch_index, batch_size, users))
                .collect(),
            sparse: self.sparse_inputs(batch_index, batch_size, users),
        }
    }

    fn dense_input(
        &self,
        d: usize,
        spec: &DenseSpec,
        batch_index: u64,
        batch_size: usize,
        users: Users,
    ) -> Vec<f32> {
        let f = spec.features;
        let mut out = vec![0f32; batch_size * f];
        if f == 0 || batch_size == 0 {
            return out;
        }
        if let (Scope::User, Users::One(u)) = (spec.scope, users) {
            let mut row = vec![0f32; f];
            generate(
                &spec.dist,
                self.seed,
                "user_dense",
                &[d as u64, u],
                &mut row,
            );
            for chunk in out.chunks_exact_mut(f) {
                chunk.copy_from_slice(&row);
            }
            return out;
        }
        out.par_chunks_mut(DENSE_CHUNK_ROWS * f)
            .enumerate()
            .for_each(|(c, chunk)| {
                generate(
                    &spec.dist,
                    self.seed,
                    "dense",
                    &[d as u64, batch_index, c as u64],
                    chunk,
                );
            });
        out
    }

    fn is_shared(sampler: &TableSampler, users: Users) -> bool {
        matches!(users, Users::One(_)) && sampler.spec().scope == Scope::User
    }

    fn sparse_inputs(&self, batch_index: u64, batch_size: usize, users: Users) -> Vec<Csr> {
        let chunks = batch_size.div_ceil(SPARSE_CHUNK_SAMPLES);
        // One job per (input, chunk); a user-scoped input in a request is a single job.
        let jobs: Vec<(usize, usize)> = self
            .samplers
            .iter()
            .enumerate()
            .flat_map(|(t, s)| {
                let n = if Self::is_shared(s, users) { 1 } else { chunks };
                (0..n).map(move |c| (t, c))
            })
            .collect();
        let parts: Vec<(Vec<u32>, Vec<u64>)> = jobs
            .par_iter()
            .map(|&(t, c)| {
                let sampler = &self.samplers[t];
                match users {
                    Users::One(u) if Self::is_shared(sampler, users) => {
                        let mut rng = stream(self.seed, "user", &[t as u64, u]);
                        let mut ids = Vec::new();
                        let len = sampler.sample_bag(&mut rng, &mut ids);
                        (vec![len], ids)
                    }
                    _ => {
                        let mut rng =
                            stream(self.seed, "sparse", &[batch_index, t as u64, c as u64]);
                        let first = c * SPARSE_CHUNK_SAMPLES;
                        let last = (first + SPARSE_CHUNK_SAMPLES).min(batch_size);
                        let mut lens = Vec::with_capacity(last - first);
                        let mut ids = Vec::new();
                        for _ in first..last {
                            lens.push(sampler.sample_bag(&mut rng, &mut ids));
                        }
                        (lens, ids)
                    }
                }
            })
            .collect();

        let mut out: Vec<Csr> = Vec::with_capacity(self.samplers.len());
        let mut parts = parts.into_iter();
        for (t, sampler) in self.samplers.iter().enumerate() {
            let mut csr = Csr {
                indices: Vec::new(),
                offsets: Vec::with_capacity(batch_size + 1),
            };
            csr.offsets.push(0);
            let n_parts = if Self::is_shared(sampler, users) {
                1
            } else {
                chunks
            };
            let shared = Self::is_shared(sampler, users);
            for _ in 0..n_parts {
                let (lens, ids) = parts
                    .next()
                    .unwrap_or_else(|| panic!("missing generation job for input {t}"));
                if shared {
                    let len = u64::from(lens[0]);
                    csr.indices.reserve(ids.len() * batch_size);
                    for i in 0..batch_size as u64 {
                        csr.indices.extend_from_slice(&ids);
                        csr.offsets.push((i + 1) * len);
                    }
                } else {
                    let mut end = *csr.offsets.last().unwrap_or(&0);
                    for len in lens {
                        end += u64::from(len);
                        csr.offsets.push(end);
                    }
                    csr.indices.extend_from_slice(&ids);
                }
            }
            out.push(csr);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dense::DenseDist;
    use crate::request::{CandidateDist, RequestGen};
    use crate::sparse::Pooling;

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            dense: vec![
                DenseSpec::new("x", 3, DenseDist::StandardNormal),
                DenseSpec::new("user_x", 2, DenseDist::default()).per_user(),
            ],
            tables: vec![
                TableSpec::new("item", 1000, Pooling::Fixed(2), 1.0),
                TableSpec::new("hist", 1000, Pooling::Uniform { min: 0, max: 4 }, 1.0)
                    .on_table("item")
                    .per_user(),
            ],
        }
    }

    #[test]
    fn shapes_are_consistent() {
        let w = Workload::new(spec(), 1).unwrap();
        for n in [0usize, 1, 511, 512, 513, 1500] {
            let b = w.batch(0, n);
            assert_eq!(b.dense[0].len(), n * 3);
            assert_eq!(b.dense[1].len(), n * 2);
            for csr in &b.sparse {
                assert_eq!(csr.offsets.len(), n + 1);
                assert_eq!(*csr.offsets.last().unwrap() as usize, csr.indices.len());
                assert!(csr.indices.iter().all(|&i| i < 1000));
            }
            assert_eq!(b.sparse[0].lookups(), 2 * n);
        }
    }

    #[test]
    fn batches_differ_and_repeat() {
        let w = Workload::new(spec(), 1).unwrap();
        assert_eq!(w.batch(3, 100), w.batch(3, 100));
        assert_ne!(w.batch(3, 100), w.batch(4, 100));
        let other_seed = Workload::new(spec(), 2).unwrap();
        assert_ne!(w.batch(3, 100), other_seed.batch(3, 100));
        // Two dense inputs never share a stream.
        assert_ne!(w.batch(0, 10).dense[0][..6], w.batch(0, 10).dense[1][..6]);
    }

    #[test]
    fn prefix_stability() {
        // A smaller batch is a prefix of a larger one with the same index: chunks are fixed.
        let w = Workload::new(spec(), 9).unwrap();
        let small = w.batch(0, 700);
        let big = w.batch(0, 1100);
        assert_eq!(small.dense[0][..], big.dense[0][..700 * 3]);
        assert_eq!(small.sparse[0].indices[..], big.sparse[0].indices[..1400]);
    }

    #[test]
    fn inputs_of_one_table_share_hot_rows() {
        let w = Workload::new(spec(), 4).unwrap();
        let (a, b) = (&w.tables()[0], &w.tables()[1]);
        for rank in 0..10 {
            assert_eq!(a.row_of_rank(rank), b.row_of_rank(rank));
        }
    }

    #[test]
    fn user_features_repeat_inside_a_request() {
        let w = Workload::new(spec(), 4).unwrap();
        let g = RequestGen::new(4, CandidateDist::Fixed(37), 3).unwrap();
        let reqs = g.requests(0, 20);
        for r in &reqs {
            let b = w.request_batch(r);
            assert_eq!(b.batch_size, 37);
            let first = b.sparse[1].bag(0).to_vec();
            let dense_first = b.dense[1][..2].to_vec();
            for i in 0..37 {
                assert_eq!(b.sparse[1].bag(i), &first[..]);
                assert_eq!(b.dense[1][2 * i..2 * i + 2], dense_first[..]);
            }
            // Per-pair inputs still vary across candidates.
            assert_ne!(b.dense[0][..3], b.dense[0][3..6]);
            // Same user, same user features, in any request.
            for other in reqs.iter().filter(|o| o.user == r.user) {
                let ob = w.request_batch(other);
                assert_eq!(ob.sparse[1].bag(0), &first[..]);
                assert_eq!(ob.dense[1][..2], dense_first[..]);
            }
        }
    }

    #[test]
    fn invalid_specs_are_rejected() {
        let mut s = spec();
        s.tables[1].rows = 0;
        let err = Workload::new(s, 0).unwrap_err();
        assert!(err.to_string().contains("hist"), "{err}");
        let mut s = spec();
        s.dense[1].dist = DenseDist::LogCounts {
            mu: f64::NAN,
            sigma: 1.0,
        };
        let err = Workload::new(s, 0).unwrap_err();
        assert!(err.to_string().contains("user_x"), "{err}");
    }
}
