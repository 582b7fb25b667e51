//! Off-chip memory timing (HBM2/2E/3/3E, LPDDR5, DDR3/4/5).
//!
//! - [`MemConfig::from_chip`] turns a chip's `[memory]` table into cycle counts (the model's
//!   clock is the DRAM command clock, tCK = 2 / data rate), deriving the parameters the chip
//!   format does not carry.
//! - [`detailed`]: bank-level model — pseudo-channels, bank groups, row buffers, open/closed
//!   page, FR-FCFS with a hit cap, read/write queues with write drain, turnaround, tFAW/tRRD,
//!   all-bank refresh — event-driven, deterministic. [`simulate`] runs a batch;
//!   [`DetailedMemory`] also runs incrementally under an event kernel.
//! - [`fast`]: bandwidth/latency curves calibrated by running the detailed model, for sweeps.
//! - [`trace`]: the request type, seeded synthetic traces, DRAMsim3's text trace format.
//!
//! `docs/memory-model.md` describes the model, its simplifications, the DRAMsim3 comparison and
//! the fast-vs-detailed disagreement.

pub mod config;
pub mod detailed;
pub mod fast;
pub mod mapping;
pub mod stats;
pub mod trace;

#[cfg(test)]
mod reference;

pub use config::{DramTiming, MemConfig, RefreshMode, default_memory};
pub use detailed::{Completion, DetailedMemory, Outcome, RequestId, simulate};
pub use fast::{Calibration, FastMemory, Pattern};
pub use mapping::{AddressMapping, Decoder, Field, Location};
pub use stats::{LatencySummary, MemStats};
pub use trace::{Arrivals, Op, Request};

/// Errors of the memory model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Internal: the chip was not resolved (call `Chip::resolve` first), so a key has no value.
    #[error("memory key `{key}` has no value: resolve the chip before building a memory model")]
    Unresolved { key: &'static str },
    /// User: a memory organisation or setting the model cannot represent.
    #[error("unsupported memory configuration: {0}")]
    Unsupported(String),
    /// User: a malformed trace line.
    #[error("trace line {line}: {message}")]
    Trace { line: usize, message: String },
}
