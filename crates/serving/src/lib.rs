//! Recommendation serving simulation, capacity planning and total cost of ownership.
//!
//! A request is one user with K candidate items (MLPerf's 100–700-pair distribution by
//! default). Requests arrive ([`arrivals`]: Poisson, a diurnal profile, bursts or a trace file),
//! pass through one or more stages ([`engine::Stage`]: e.g. two-tower retrieval → DLRM ranking
//! → re-ranking), where a dynamic batcher ([`engine::Batching`]: max batch in user-item pairs,
//! max wait, splitting of large requests) feeds replicas whose per-batch service time comes from
//! a [`service::ServiceTime`] (a timed table with jitter, built from the cycle-level timing
//! simulator through [`chipsim`] or a peer model through [`device`]; or a closed form for
//! validation). The discrete-event core
//! ([`engine::simulate`]) orders events by `(time, seq)` and draws from seeded, named RNG
//! streams, so a configuration and seed give the same latencies, byte for byte.
//! [`hist::LatencyHistogram`] keeps HDR-style log-linear buckets (exact nearest rank on small
//! runs). [`search::max_qps`] finds the largest arrival rate that holds a p99 SLA;
//! [`shard`] splits embedding tables over chips when they exceed one chip's memory;
//! [`plan`] sizes fleets and prices them from a workload file.
//!
//! Reading order: [`rng`] → [`arrivals`] → [`service`] → [`engine`] → [`hist`] → [`search`] →
//! [`theory`] (closed forms the tests compare with) → [`chipsim`] → [`device`] → [`shard`] →
//! [`plan`]. Numbers and assumptions: `docs/serving.md`.

pub mod arrivals;
pub mod chipsim;
pub mod device;
pub mod engine;
pub mod hist;
pub mod plan;
pub mod rng;
pub mod search;
pub mod service;
pub mod shard;
pub mod theory;

pub use arrivals::{Arrivals, Burst, Diurnal};
pub use engine::{Batching, PairRule, ServeConfig, ServeReport, Stage, StageReport, simulate};
pub use hist::LatencyHistogram;
pub use service::{ServiceTable, ServiceTime, Variance};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User: a configuration value is out of range (names the option and why).
    #[error("{option}: {reason}")]
    Invalid { option: String, reason: String },
    /// User: a trace file cannot be read or parsed (file:line).
    #[error("{path}:{line}: {reason}")]
    Trace {
        path: String,
        line: usize,
        reason: String,
    },
    /// User: a workload file is malformed (file:line:col and the key when known).
    #[error("{path}:{line}:{col}: {reason}")]
    Workload {
        path: String,
        line: usize,
        col: usize,
        reason: String,
    },
    /// User: the model cannot be compiled for the chip (the compiler's message).
    #[error("{0}")]
    Compile(String),
    /// Internal: a compiled program the timing model rejects (a compiler or timing bug).
    #[error("cannot time the program: {0}")]
    Timing(String),
    /// User: a peer device or its model rejects the request.
    #[error(transparent)]
    Peer(#[from] seedchip_peers::Error),
    /// User: input generation for the model failed.
    #[error("cannot generate inputs: {0}")]
    Inputs(String),
    /// User: I/O on a named file.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn invalid(option: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            option: option.into(),
            reason: reason.into(),
        }
    }
}
