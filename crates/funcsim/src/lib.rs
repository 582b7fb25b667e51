//! `seedchip-funcsim`: the bit-exact functional simulator of SCISA programs.
//!
//! A compiled program must compute what the model computes, bit for bit and reproducibly,
//! before any silicon exists; this crate is where that is decided. It executes a
//! [`seedchip_isa::Program`] exactly as docs/isa.md specifies — memories as byte arrays,
//! queues and semaphores, every rounding where the ISA puts it — and reports a broken program
//! as a typed [`Fault`] (core, PC, instruction, offending value), never a panic.
//!
//! ```no_run
//! # fn demo(chip: &seedchip_chip::Chip, program: &seedchip_isa::Program,
//! #         dense: &seedchip_ref::Tensor) -> Result<(), Box<dyn std::error::Error>> {
//! use seedchip_funcsim::{Limits, Machine};
//! let mut m = Machine::new(chip, program)?;
//! m.write_input("dense", dense)?;
//! let stats = m.run(&Limits::default())?;
//! let prob = m.read_output("prob")?;
//! println!("{} instructions, {:?}", stats.instructions, prob.shape());
//! # Ok(()) }
//! ```
//!
//! Reading order: [`machine`] (loading, bindings, the dispatch loop) → `exec` (one `match` arm
//! per instruction) → `kernels` (matrix arithmetic; `igemm` is the exact int8 kernel) → `mem`
//! (sparse HBM, procedural tables) → `codec` (conversions) → [`fault`]. `races` implements
//! `--check-races`, `origin` traces indices back to inputs.
//!
//! Determinism: results do not depend on the thread count. Parallel work is split across
//! independent outputs (matmul rows, gather bags, elementwise elements); no float reduction is
//! ever split or reordered.

mod codec;
mod decode;
mod defer;
mod error;
mod exec;
pub mod fault;
mod igemm;
mod kernels;
pub mod machine;
mod mem;
mod origin;
mod races;
mod vnni;

pub use error::Error;
pub use fault::{Blocked, Fault, FaultKind, IndexOrigin, Region, Site};
pub use machine::{DEFAULT_MAX_STEPS, Limits, Machine, Options, SpaceBytes, Stats};
