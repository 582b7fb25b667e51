//! `seedchip-ref`: the f32 reference executor for `seedchip-ir` graphs.
//!
//! It is two things: the numerical oracle every other executor (the bit-exact functional
//! simulator, peers' measurements) is checked against, and a real CPU backend. Hence:
//! * deterministic: identical output bits for any thread count, and for a sample alone or in
//!   any batch (see [`kernels`] and [`gemm`]);
//! * memory-frugal: large embedding tables are never materialized, rows are computed from the
//!   procedural initializer (or read from the weight file) as they are gathered;
//! * fast: its own GEMM ([`gemm`]: weights packed once, SIMD microkernel chosen at run time,
//!   bias and activation fused), per-sample parallel bags and interactions.
//!
//! [`oracle`] is a second, deliberately naive f64 interpreter used to check this one.
//!
//! Entry points: [`Executor::new`] + [`Executor::run`], [`npz`] for inputs and outputs,
//! [`synthetic_inputs`] for quick uniform inputs.

pub mod exec;
pub mod gemm;
pub mod kernels;
pub mod npz;
pub mod oracle;
pub mod synth;
pub mod tensor;

pub use exec::{Executor, Options};
pub use synth::synthetic_inputs;
pub use tensor::{Tensor, TensorData};

/// Errors of the reference executor.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User: the graph is invalid, or a parameter's values cannot be produced (weight files).
    #[error(transparent)]
    Ir(#[from] seedchip_ir::Error),
    /// User: an input the graph declares was not supplied.
    #[error("missing input '{name}' (expected {ty})")]
    MissingInput { name: String, ty: String },
    /// User: an input name the graph does not declare (usually a typo).
    #[error("unknown input '{name}'; the model's inputs are: {expected}")]
    UnknownInput { name: String, expected: String },
    /// User: wrong dtype, rank or fixed dimension.
    #[error("input '{name}' is {got}, expected {expected} (B = batch, ? = any length)")]
    InputType {
        name: String,
        expected: String,
        got: String,
    },
    /// User: inputs disagree on the batch size.
    #[error("input '{name}' has batch {got}, but '{first}' has batch {expected}")]
    BatchMismatch {
        name: String,
        got: usize,
        expected: usize,
        first: String,
    },
    /// User: batch size 0.
    #[error("the batch is empty (batch size 0)")]
    EmptyBatch,
    /// User: NaN or infinity in an f32 input.
    #[error("input '{name}' holds a non-finite value ({value}) at flat index {index}")]
    NonFinite {
        name: String,
        index: usize,
        value: f32,
    },
    /// User: an embedding index outside `[0, rows)`.
    #[error(
        "{node}: index {index} at position {position} of input '{input}' (sample {sample}) is outside the table's {rows} rows"
    )]
    IndexOutOfRange {
        node: String,
        input: String,
        sample: usize,
        position: usize,
        index: i64,
        rows: u64,
    },
    /// User: malformed ragged offsets.
    #[error("{node}: offsets input '{input}': {message}")]
    BadOffsets {
        node: String,
        input: String,
        message: String,
    },
    /// User: a graph feature this executor does not implement.
    #[error("{node}: {message}")]
    Unsupported { node: String, message: String },
    /// User: a value would not fit in memory addressing.
    #[error("%{value} would have shape {shape}, too large to allocate")]
    TooLarge { value: String, shape: String },
    /// User: unreadable or malformed `.npz` / `.npy` file.
    #[error("{path}: {message}")]
    Npz { path: String, message: String },
    /// Internal: a bug in this crate.
    #[error("internal error in the reference executor: {0}")]
    Internal(String),
}
