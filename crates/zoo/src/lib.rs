//! Built-in recommendation models and the workloads that drive them.
//!
//! A chip can only be judged on inputs that look like production: multi-hot bags, skewed row
//! popularity, and requests that fan out to hundreds of candidates. This crate generates such
//! inputs reproducibly — every value is a pure function of the seed and of *what* is being
//! generated, never of thread count or scheduling — and holds statistics helpers (reuse, hot-row
//! cache hit rates) that the timing model and reports build on.
//!
//! Reading order: [`rng`] (stream derivation), [`perm`] (rank → row scatter), [`sparse`]
//! (pooling, Zipf, CSR), [`dense`], [`workload`] (whole batches), [`request`], [`stats`].

pub mod dense;
pub mod perm;
pub mod request;
pub mod rng;
pub mod sparse;
pub mod stats;
pub mod workload;

pub use dense::{DenseDist, DenseSpec};
pub use perm::RowPermutation;
pub use request::{CandidateDist, MLPERF_DLRM_QUANTILES, Request, RequestGen};
pub use sparse::{Csr, Pooling, Scope, TableSampler, TableSpec};
pub use workload::{Batch, Workload, WorkloadSpec};

/// Everything that can go wrong in the zoo.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User problem: a table's rows, pooling or Zipf exponent are out of range.
    #[error("table `{table}`: {reason}")]
    InvalidTable {
        /// The table's input name.
        table: String,
        /// What is wrong and what would be valid.
        reason: String,
    },
    /// User problem: dense-feature distribution parameters are out of range.
    #[error("dense features: {reason}")]
    InvalidDense {
        /// What is wrong and what would be valid.
        reason: String,
    },
    /// User problem: the candidates-per-request distribution is out of range.
    #[error("candidates per request: {reason}")]
    InvalidCandidates {
        /// What is wrong and what would be valid.
        reason: String,
    },
}
