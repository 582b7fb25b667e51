//! funcsim integration tests: hand-written programs (`tests/programs/*.s`) per instruction
//! class with independently computed expectations, the documented faults, and property tests.

mod dma;
mod faults;
mod gather;
mod mxu;
mod props;
mod support;
mod sync;
mod vpu;
