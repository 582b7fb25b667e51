//! Whole-model input batches: dense features plus one CSR per table.

use rayon::prelude::*;

use crate::Error;
use crate::dense::{DENSE_CHUNK_ROWS, DenseDist, generate_chunk};
use crate::request::Request;
use crate::rng::stream;
use crate::sparse::{Csr, SPARSE_CHUNK_SAMPLES, Scope, TableSampler, TableSpec};

/// What a model consumes, as far as input generation is concerned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorkloadSpec {
    /// Dense features per sample (0 for models without a dense input).
    pub dense_features: usize,
    /// Their distribution.
    pub dense: DenseDist,
    /// Sparse inputs, in the model's input order.
    pub tables: Vec<TableSpec>,
}

/// A validated [`WorkloadSpec`] bound to a seed.
///
/// Every value it produces is a pure function of `(seed, batch or request, table, chunk)`:
/// dense chunk `c` of batch `b` draws from stream `(seed, "dense", [b, c])`, the bags of
/// chunk `c` of table `t` from `(seed, "sparse", [b, t, c])`, user-scoped bags of user `u`
/// from `(seed, "user", [t, u])`, and table `t`'s popularity permutation is keyed by
/// `(seed, "perm", [t])`. Chunk sizes are constants, so the output does not depend on the
/// number of threads.
#[derive(Debug, Clone)]
pub struct Workload {
    seed: u64,
    dense_features: usize,
    dense: DenseDist,
    samplers: Vec<TableSampler>,
}

/// One batch of model inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Samples (user-item pairs) in the batch.
    pub batch_size: usize,
    /// Dense features per sample.
    pub dense_features: usize,
    /// Row-major `[batch_size, dense_features]`.
    pub dense: Vec<f32>,
    /// One CSR per table, in [`WorkloadSpec::tables`] order.
    pub sparse: Vec<Csr>,
}

impl Batch {
    /// Total embedding-row lookups in the batch.
    #[must_use]
    pub fn lookups(&self) -> usize {
        self.sparse.iter().map(Csr::lookups).sum()
    }
}

impl Workload {
    /// Validates every table and the dense distribution.
    pub fn new(spec: WorkloadSpec, seed: u64) -> Result<Self, Error> {
        spec.dense.validate()?;
        let samplers = spec
            .tables
            .into_iter()
            .enumerate()
            .map(|(t, table)| TableSampler::new(table, seed, t))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            seed,
            dense_features: spec.dense_features,
            dense: spec.dense,
            samplers,
        })
    }

    /// The seed everything is derived from.
    #[must_use]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// One sampler per table, in input order (for popularity ranks and statistics).
    #[must_use]
    pub fn tables(&self) -> &[TableSampler] {
        &self.samplers
    }

    /// Dense features per sample.
    #[must_use]
    pub fn dense_features(&self) -> usize {
        self.dense_features
    }

    /// Batch number `batch_index` of `batch_size` independent samples; user-scoped tables are
    /// drawn per sample, as if every sample came from a different user.
    #[must_use]
    pub fn batch(&self, batch_index: u64, batch_size: usize) -> Batch {
        Batch {
            batch_size,
            dense_features: self.dense_features,
            dense: self.dense_batch(batch_index, batch_size),
            sparse: self.sparse_batch(batch_index, batch_size, None),
        }
    }

    /// The inputs of one request: `candidates` samples whose per-pair features come from batch
    /// index `request.id` and whose user-scoped bags are the request user's, repeated for every
    /// candidate (what a serving system can deduplicate).
    #[must_use]
    pub fn request_batch(&self, request: &Request) -> Batch {
        let n = request.candidates as usize;
        Batch {
            batch_size: n,
            dense_features: self.dense_features,
            dense: self.dense_batch(request.id, n),
            sparse: self.sparse_batch(request.id, n, Some(request.user)),
        }
    }

    fn dense_batch(&self, batch_index: u64, batch_size: usize) -> Vec<f32> {
        let f = self.dense_features;
        let mut out = vec![0f32; batch_size * f];
        if f == 0 {
            return out;
        }
        out.par_chunks_mut(DENSE_CHUNK_ROWS * f)
            .enumerate()
            .for_each(|(c, chunk)| {
                generate_chunk(&self.dense, self.seed, batch_index, c, f, chunk)
            });
        out
    }

    fn sparse_batch(&self, batch_index: u64, batch_size: usize, user: Option<u64>) -> Vec<Csr> {
        let chunks = batch_size.div_ceil(SPARSE_CHUNK_SAMPLES);
        // One job per (table, chunk); a user-scoped table in a request is a single job.
        let jobs: Vec<(usize, usize)> = self
            .samplers
            .iter()
            .enumerate()
            .flat_map(|(t, s)| {
                let n = if user.is_some() && s.spec().scope == Scope::User {
                    1
                } else {
                    chunks
                };
                (0..n).map(move |c| (t, c))
            })
            .collect();
        let parts: Vec<(Vec<u32>, Vec<u64>)> = jobs
            .par_iter()
            .map(|&(t, c)| {
                let sampler = &self.samplers[t];
                match user {
                    Some(u) if sampler.spec().scope == Scope::User => {
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
            if user.is_some() && sampler.spec().scope == Scope::User {
                let (lens, ids) = parts
                    .next()
                    .unwrap_or_else(|| panic!("missing user job for table {t}"));
                let len = u64::from(lens[0]);
                csr.indices.reserve(ids.len() * batch_size);
                for i in 0..batch_size as u64 {
                    csr.indices.extend_from_slice(&ids);
                    csr.offsets.push((i + 1) * len);
                }
            } else {
                for _ in 0..chunks {
                    let (lens, ids) = parts
                        .next()
                        .unwrap_or_else(|| panic!("missing chunk job for table {t}"));
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
    use crate::request::{CandidateDist, RequestGen};
    use crate::sparse::Pooling;

    fn spec() -> WorkloadSpec {
        WorkloadSpec {
            dense_features: 3,
            dense: DenseDist::StandardNormal,
            tables: vec![
                TableSpec::new("item", 1000, Pooling::Fixed(2), 1.0),
                TableSpec::new("hist", 50, Pooling::Uniform { min: 0, max: 4 }, 0.0).per_user(),
            ],
        }
    }

    #[test]
    fn shapes_are_consistent() {
        let w = Workload::new(spec(), 1).unwrap();
        for n in [0usize, 1, 511, 512, 513, 1500] {
            let b = w.batch(0, n);
            assert_eq!(b.dense.len(), n * 3);
            for csr in &b.sparse {
                assert_eq!(csr.offsets.len(), n + 1);
                assert_eq!(*csr.offsets.last().unwrap() as usize, csr.indices.len());
            }
            assert_eq!(b.sparse[0].lookups(), 2 * n);
            assert!(b.sparse[0].indices.iter().all(|&i| i < 1000));
            assert!(b.sparse[1].indices.iter().all(|&i| i < 50));
        }
    }

    #[test]
    fn batches_differ_and_repeat() {
        let w = Workload::new(spec(), 1).unwrap();
        assert_eq!(w.batch(3, 100), w.batch(3, 100));
        assert_ne!(w.batch(3, 100), w.batch(4, 100));
        let other_seed = Workload::new(spec(), 2).unwrap();
        assert_ne!(w.batch(3, 100), other_seed.batch(3, 100));
    }

    #[test]
    fn prefix_stability() {
        // A smaller batch is a prefix of a larger one with the same index: chunks are fixed.
        let w = Workload::new(spec(), 9).unwrap();
        let small = w.batch(0, 700);
        let big = w.batch(0, 1100);
        assert_eq!(small.dense[..], big.dense[..700 * 3]);
        assert_eq!(small.sparse[0].indices[..], big.sparse[0].indices[..1400]);
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
            for i in 0..37 {
                assert_eq!(b.sparse[1].bag(i), &first[..]);
            }
            // Same user, same history, in any request.
            for other in reqs.iter().filter(|o| o.user == r.user) {
                assert_eq!(w.request_batch(other).sparse[1].bag(0), &first[..]);
            }
        }
    }

    #[test]
    fn invalid_specs_are_rejected() {
        let mut s = spec();
        s.tables[1].rows = 0;
        let err = Workload::new(s, 0).unwrap_err();
        assert!(err.to_string().contains("hist"), "{err}");
    }
}
