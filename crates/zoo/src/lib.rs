//! Built-in recommendation models and the workloads that drive them.
//!
//! A chip can only be judged on inputs that look like production: multi-hot bags, skewed row
//! popularity, and requests that fan out to hundreds of candidates. This crate generates such
//! inputs reproducibly — every value is a pure function of the seed and of *what* is being
//! generated, never of thread count or scheduling — and holds statistics helpers (reuse, hot-row
//! cache hit rates) that the timing model and reports build on.
//!
//! Reading order: [`models`] (the registry: [`list`], [`get`]), then the generators: [`rng`]
//! (stream derivation), [`perm`] (rank → row scatter), [`sparse`] (pooling, Zipf, CSR),
//! [`dense`], [`workload`] (whole batches), [`request`], [`inputs`] (a graph's inputs), and
//! [`stats`].

pub mod dense;
pub mod inputs;
pub mod models;
pub mod perm;
pub mod request;
pub mod rng;
pub mod sparse;
pub mod stats;
pub mod workload;

pub use dense::{DenseDist, DenseSpec};
pub use inputs::{GraphWorkload, InputOptions, InputTensor, TensorData};
pub use models::{ModelInfo, ZooOptions, get, info, list};
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
    /// User problem: no built-in model has this name.
    #[error("unknown model `{name}`; built-in models are: {valid}")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// Every valid name, comma-separated.
        valid: String,
    },
    /// User problem: [`ZooOptions`] are out of range.
    #[error("zoo options: {reason}")]
    InvalidOptions {
        /// What is wrong and what would be valid.
        reason: String,
    },
    /// User problem: a graph input the generator cannot produce values for.
    #[error("input `{input}`: {reason}")]
    UnsupportedInput {
        /// The graph input's name.
        input: String,
        /// Why, and what is supported.
        reason: String,
    },
    /// Internal bug: a built-in model failed to build or verify.
    #[error("built-in model `{model}` is malformed (a zoo bug)")]
    ModelBuild {
        /// The zoo name.
        model: String,
        /// The builder's or verifier's report.
        #[source]
        source: seedchip_ir::Error,
    },
}
