//! What the compiler decided, for people and for tools (`seedchip compile --json`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::CompileOptions;
use crate::lir::{ConstRole, KOp, Lir};
use crate::passes::Target;
use crate::passes::place_embeddings::{EmbeddingPlan, row_bytes};
use crate::passes::plan_memory::MemPlan;
use crate::passes::quantize::Ranges;
use crate::sync::queue_index;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GemmReport {
    pub node: String,
    /// Rows per micro-batch.
    pub m: u64,
    pub k: u64,
    pub n: u64,
    pub kt: u64,
    pub nt: u64,
    pub mt: u64,
    pub weight_buffers: u64,
    /// Columns of one accumulator (`nt` times the column blocks one epilogue covers).
    pub acc_cols: u64,
    pub precision: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableReport {
    pub name: String,
    pub rows: u64,
    pub dim: u64,
    pub format: String,
    pub bytes: u64,
    pub cached_rows: u64,
    /// Share of the profiled lookups that hit the cached rows.
    pub profile_hit_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub model: String,
    pub chip: String,
    pub precision: String,
    pub batch: u32,
    pub cores: u32,
    pub micro_batch: u64,
    /// Whether the next micro-batch's loads and gathers run during this one's compute
    /// (double-buffered; see docs/compiler.md "Memory planning").
    pub pipelined: bool,
    pub gemms: Vec<GemmReport>,
    pub tables: Vec<TableReport>,
    /// Bytes of SRAM: local per core (high-water mark) and shared in total.
    pub local_sram_bytes: u64,
    pub shared_sram_bytes: u64,
    pub workspace_bytes: u64,
    pub constants_bytes: u64,
    pub cache_bytes: u64,
    pub weight_bytes: u64,
    /// Instructions per queue (`dma`, `gather`, `mxu`, `vpu`, `ctl`), summed over cores.
    pub instructions: BTreeMap<String, u64>,
    pub instructions_total: u64,
    /// Conversions folded into GEMM epilogues.
    pub fused_epilogues: usize,
    pub calibrated_values: usize,
}

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lir: &Lir,
        t: &Target,
        options: &CompileOptions,
        emb: &EmbeddingPlan,
        mem: &MemPlan,
        program: &seedchip_isa::Program,
        folded: usize,
        ranges: &Ranges,
    ) -> Report {
        let mut gemms = Vec::new();
        for k in &lir.kernels {
            if let KOp::Gemm(g) = &k.op {
                let tl = g.tiles.expect("tiled");
                gemms.push(GemmReport {
                    node: k.node.clone(),
                    m: mem.mb * crate::passes::tile::rows_per_sample(g),
                    k: g.k,
                    n: g.width(),
                    kt: tl.kt,
                    nt: tl.nt,
                    mt: tl.mt,
                    weight_buffers: tl.w_buffers,
                    acc_cols: tl.acc_cols,
                    precision: g.precision.map_or("bf16".into(), |p| p.dtype().to_string()),
                });
            }
        }
        let tables = lir
            .tables
            .iter()
            .enumerate()
            .map(|(i, tb)| TableReport {
                name: tb.name.clone(),
                rows: tb.rows,
                dim: tb.dim,
                format: tb.dtype.to_string(),
                bytes: tb.rows * row_bytes(tb.dtype, tb.dim),
                cached_rows: tb.hot_rows.len() as u64,
                profile_hit_rate: emb.hit_rate.get(&i).copied().unwrap_or(0.0),
            })
            .collect();
        let names = ["dma", "gather", "mxu", "vpu", "ctl"];
        let mut instructions: BTreeMap<String, u64> =
            names.iter().map(|n| (n.to_string(), 0)).collect();
        let mut total = 0;
        for code in program.code.values() {
            for i in &code.insts {
                *instructions
                    .get_mut(names[queue_index(i.inst.queue())])
                    .expect("every queue named") += 1;
                total += 1;
            }
        }
        Report {
            model: lir.name.clone(),
            chip: t.name.clone(),
            precision: options.precision.name().to_string(),
            batch: options.batch,
            cores: mem.cores,
            micro_batch: mem.mb,
            pipelined: mem.pipelined,
            gemms,
            tables,
            local_sram_bytes: mem.local_used,
            shared_sram_bytes: mem.shared_used,
            workspace_bytes: mem.arenas.iter().map(|a| a.1).sum(),
            constants_bytes: mem.consts_bytes,
            cache_bytes: emb.cache_bytes,
            weight_bytes: lir
                .consts
                .iter()
                .filter(|c| matches!(c.role, ConstRole::Weight { .. }))
                .map(|c| c.size_bytes())
                .sum(),
            instructions,
            instructions_total: total,
            fused_epilogues: folded,
            calibrated_values: ranges.len(),
        }
    }
}
