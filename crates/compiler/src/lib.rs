//! `seedchip-compiler`: an IR graph, a chip description and a precision in, a SCISA
//! [`Program`](seedchip_isa::Program) out.
//!
//! The pipeline (one module per pass under [`passes`], named by verb; docs/compiler.md explains
//! each):
//!
//! 1. [`passes::legalize`]: composite ops → plain ops → [`lir`] kernels over strided views;
//! 2. [`passes::quantize`]: operand encodings (bf16 / int8 / fp8), calibration on the f32
//!    reference, weight quantization, conversions;
//! 3. [`passes::fuse`]: bias, activation and (re)quantization into GEMM epilogues;
//! 4. [`passes::place_embeddings`]: table row formats, hot rows for the gather cache, the
//!    gather strategy of chips without gather engines;
//! 5. [`passes::schedule`] (ordering): loads and gathers early, so they overlap compute;
//! 6. [`passes::tile`]: cores, GEMM tiles, from a cost model;
//! 7. [`passes::plan_memory`]: micro-batch size and SRAM addresses by liveness;
//! 8. [`passes::schedule`] (emission): per-core instruction streams with semaphores derived
//!    from memory footprints, so DMA and gathers overlap compute;
//! 9. [`passes::emit`]: the program container (data, procedural tables, bindings, symbols).
//!
//! [`verify`] checks the compiler's own invariants after every pass when
//! [`CompileOptions::verify`] is set (the default in tests and debug builds).

pub mod error;
pub mod inputs;
pub mod lir;
pub mod passes;
pub mod report;
pub mod sync;
pub mod verify;

use std::collections::BTreeMap;

use seedchip_chip::{Chip, Precision};
use seedchip_ir::Graph;
use seedchip_isa::Program;

pub use error::Error;
pub use inputs::{RaggedBinding, pack_ragged};
pub use report::Report;

/// How embedding tables are stored in HBM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableFormat {
    /// By precision: `emb8` for int8/fp8; `bf16` for bf16 unless the tables do not fit HBM,
    /// then `emb8`.
    #[default]
    Auto,
    F32,
    Bf16,
    Emb8,
}

/// What to compile for.
#[derive(Debug, Clone, PartialEq)]
pub struct CompileOptions {
    pub precision: Precision,
    /// Samples per program run.
    pub batch: u32,
    /// Seed of calibration and access-profile inputs.
    pub seed: u64,
    pub table_format: TableFormat,
    /// Use at most this many cores (default: what the cost model picks, up to all).
    pub max_cores: Option<u32>,
    /// Most samples run through the f32 reference to calibrate int8/fp8 activations; fewer
    /// when a sample costs many MACs (about 2^32 MACs in all, at least 64 samples).
    pub calibration_samples: u32,
    /// Calibrate on these model inputs (by input name) instead of generated ones: a
    /// deployment's own representative data, whose ranges generated inputs may not match.
    pub calibration_inputs: Option<BTreeMap<String, seedchip_ref::Tensor>>,
    /// Samples generated to profile embedding-row popularity for the hot-row cache.
    pub profile_samples: u32,
    /// Upper bound on `dma.copy` instructions that fill the hot-row cache (coalesced runs).
    pub max_cache_fills: u32,
    /// Capacity (most ids per batch) of ragged index inputs, by input name; without an entry,
    /// `batch × max(1, round(2 × mean pooling))` (docs/compiler.md, "Ragged bags").
    pub ragged_ids: BTreeMap<String, u64>,
    /// Run [`verify`] after every pass.
    pub verify: bool,
}

impl CompileOptions {
    pub fn new(precision: Precision, batch: u32) -> CompileOptions {
        CompileOptions {
            precision,
            batch,
            seed: 0,
            table_format: TableFormat::Auto,
            max_cores: None,
            calibration_samples: 4096,
            calibration_inputs: None,
            profile_samples: 4096,
            max_cache_fills: 1024,
            ragged_ids: BTreeMap::new(),
            verify: cfg!(debug_assertions),
        }
    }
}

/// A compiled program and what the compiler decided on the way.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub program: Program,
    pub report: Report,
    /// Facts the program's bytes do not carry that [`verify::program`] needs: for each
    /// gather, how many ids it reads and how long its cache map is.
    pub hints: verify::Hints,
    /// Ragged embedding inputs and how the program binds them ([`Compiled::program_inputs`]
    /// packs model inputs for it).
    pub ragged: Vec<RaggedBinding>,
}

/// Compiles `graph` for `chip`.
pub fn compile(graph: &Graph, chip: &Chip, options: &CompileOptions) -> Result<Compiled, Error> {
    passes::run(graph, chip, options)
}
