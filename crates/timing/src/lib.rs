//! Cycle-level timing for seedchip chips.
//!
//! - [`systolic`]: compute cycles of a dense GEMM on an R×C array per dataflow (ws/os/is), equal
//!   to SCALE-Sim's for the stall-free case.
//! - [`mem`]: off-chip memory (HBM2/2E/3/3E, LPDDR5, DDR): a detailed bank-level model and a fast
//!   curve model calibrated from it.
//! - [`event`]: the deterministic `(cycle, seq)` event kernel.
//! - [`units`]: matrix and vector unit costs, shared SRAM banks, the memory controllers.
//! - [`shadow`]: the data-movement shadow that gives gathers their index values.
//! - [`energy`]: per-action energies by node, static power, breakdowns.
//! - [`sim`]: a compiled program through all of the above (`seedchip sim`).

pub mod energy;
pub mod event;
pub mod mem;
pub mod shadow;
pub mod sim;
pub mod systolic;
pub mod units;
