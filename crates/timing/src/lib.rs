//! Cycle-level timing for seedchip chips.
//!
//! - [`systolic`]: compute cycles of a dense GEMM on an R×C array per dataflow (ws/os/is), equal
//!   to SCALE-Sim's for the stall-free case.
//! - [`mem`]: off-chip memory (HBM2/2E/3/3E, LPDDR5, DDR): a detailed bank-level model and a fast
//!   curve model calibrated from it.

pub mod mem;
pub mod systolic;
