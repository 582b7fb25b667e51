//! The units the event kernel drives: matrix and vector units (pure cost functions plus issue
//! state), the shared SRAM's banks, and the memory controllers. The gather and DMA engines,
//! which interleave with the memory request by request, are in [`crate::sim`] next to the
//! kernel loop.

pub mod memctl;
pub mod mxu;
pub mod sram;
pub mod vpu;
