//! `emit`: the program container.
//!
//! HBM layout, each block 64-byte aligned:
//!
//! ```text
//! [GEMM weights, tile-major] [vector constants] [embedding tables (4 KiB aligned)] [inputs] [outputs]
//! ```
//!
//! Weights are stored tile-major in the order the GEMM streams them (column block by column
//! block, reduction tiles within), so every weight tile is one contiguous DMA. Tables with
//! procedural parameters are written as descriptors (seed, parameter name, distribution) and
//! never materialized; tables from files or constants are stored as bytes in their row format.

use std::collections::BTreeMap;

use seedchip_ir::init::{Distribution as IrDist, ParamValues};
use seedchip_ir::{Graph, Init};
use seedchip_isa::{
    Addr, Binding, DataSegment, Direction, Distribution, F32Imm, Program, Table, TableSource,
    Target as IsaTarget, chip_fingerprint,
};

use crate::lir::{ConstId, ConstRole, KOp, Lir};
use crate::passes::Target;
use crate::passes::place_embeddings::{EmbeddingPlan, row_bytes};
use crate::passes::plan_memory::MemPlan;
use crate::passes::tile::align;
use crate::sync::{GatherHint, Stream};
use crate::verify::Hints;
use crate::{CompileOptions, Error};

/// Where everything lives in HBM.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HbmLayout {
    pub weight_at: BTreeMap<ConstId, u64>,
    pub consts_at: u64,
    pub table_at: Vec<u64>,
    pub input_at: Vec<u64>,
    pub output_at: Vec<u64>,
    pub end: u64,
}

/// Lays out HBM.
pub fn layout(lir: &Lir, t: &Target, mem: &MemPlan, batch: u64) -> Result<HbmLayout, Error> {
    let mut at = 0u64;
    let mut l = HbmLayout::default();
    for (i, c) in lir.consts.iter().enumerate() {
        if matches!(c.role, ConstRole::Weight { .. }) {
            l.weight_at.insert(ConstId(i as u32), at);
            at = align(at + c.size_bytes());
        }
    }
    l.consts_at = at;
    at = align(at + mem.consts_bytes);
    // Tables start on 4 KiB boundaries: DRAM-page friendly, and no table shares a page with
    // the data segments, which a loader writes before it registers procedural tables.
    for tb in &lir.tables {
        at = at.div_ceil(4096) * 4096;
        l.table_at.push(at);
        at = align(at + tb.rows * row_bytes(tb.dtype, tb.dim));
    }
    at = at.div_ceil(4096) * 4096;
    for io in &lir.inputs {
        l.input_at.push(at);
        at = align(at + io.binding_bytes(batch));
    }
    for io in &lir.outputs {
        l.output_at.push(at);
        at = align(at + io.binding_bytes(batch));
    }
    l.end = at;
    if at > t.hbm_bytes {
        return Err(Error::DoesNotFit {
            chip: t.name.clone(),
            what: format!("model `{}` at batch {batch}", lir.name),
            detail: format!(
                "needs {:.3} GB of off-chip memory (weights, tables, inputs, outputs), the chip \
                 has {:.3} GB",
                at as f64 / 1e9,
                t.hbm_bytes as f64 / 1e9
            ),
        });
    }
    Ok(l)
}

/// Rearranges a `k × n` row-major weight into the tile-major order the GEMM streams.
pub fn tile_major(bytes: &[u8], k: u64, n: u64, kt: u64, nt: u64, e: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut j0 = 0;
    while j0 < n {
        let ntj = nt.min(n - j0);
        let mut i0 = 0;
        while i0 < k {
            let kti = kt.min(k - i0);
            for i in i0..i0 + kti {
                let s = ((i * n + j0) * e) as usize;
                out.extend_from_slice(&bytes[s..s + (ntj * e) as usize]);
            }
            i0 += kti;
        }
        j0 += ntj;
    }
    out
}

/// Stored rows of a non-procedural table in its row format.
fn table_bytes(graph: &Graph, tb: &crate::lir::TableRef) -> Result<Vec<u8>, Error> {
    let values = ParamValues::open(graph, tb.param, None)?;
    let fmt = tb
        .dtype
        .row_format()
        .expect("table dtypes have row formats");
    let rb = row_bytes(tb.dtype, tb.dim) as usize;
    let mut out = vec![0u8; rb * tb.rows as usize];
    let mut row = vec![0f32; tb.dim as usize];
    for r in 0..tb.rows {
        values.fill_row(r, &mut row)?;
        fmt.encode_row(&row, &mut out[r as usize * rb..(r as usize + 1) * rb])
            .map_err(|source| Error::Numerics {
                what: format!("table {} row {r}", tb.name),
                source,
            })?;
    }
    Ok(out)
}

/// Builds the program.
#[allow(clippy::too_many_arguments)]
pub fn run(
    lir: &Lir,
    graph: &Graph,
    t: &Target,
    options: &CompileOptions,
    emb: &EmbeddingPlan,
    mem: &MemPlan,
    hbm: &HbmLayout,
    streams: Vec<Stream>,
) -> Result<(Program, Hints), Error> {
    let batch = u64::from(options.batch);
    let mut p = Program::new(IsaTarget {
        chip: t.chip.name.clone(),
        fingerprint: chip_fingerprint(&t.chip),
        precision: options.precision,
        batch: options.batch,
    });
    // Weights, tile-major with each GEMM's tiles.
    let mut tiles_of = BTreeMap::new();
    for k in &lir.kernels {
        if let KOp::Gemm(g) = &k.op {
            tiles_of.insert(g.w, g.tiles.expect("tiled"));
        }
    }
    for (&cid, &at) in &hbm.weight_at {
        let c = lir.konst(cid);
        let ConstRole::Weight { k, n } = c.role else {
            unreachable!()
        };
        let e = c.dtype.size_bytes().unwrap_or(1);
        let bytes = match tiles_of.get(&cid) {
            Some(tl) => tile_major(&c.bytes(), k, n, tl.kt, tl.nt, e),
            None => c.bytes(),
        };
        p.data.push(DataSegment {
            label: c.name.clone(),
            hbm: at,
            bytes,
        });
    }
    if mem.consts_bytes > 0 {
        let mut block = vec![0u8; mem.consts_bytes as usize];
        for (cid, &off) in &mem.const_offset {
            let b = lir.konst(*cid).bytes();
            block[off as usize..off as usize + b.len()].copy_from_slice(&b);
        }
        p.data.push(DataSegment {
            label: "constants".into(),
            hbm: hbm.consts_at,
            bytes: block,
        });
    }
    for (ti, tb) in lir.tables.iter().enumerate() {
        let init = &graph.param(tb.param).init;
        let source = match init {
            Init::Procedural {
                seed,
                dist: IrDist::Uniform { bound },
            } => TableSource::Procedural {
                seed: *seed,
                param: tb.name.clone(),
                dist: Distribution::Uniform {
                    bound: F32Imm::new(*bound),
                },
            },
            _ => TableSource::Bytes(table_bytes(graph, tb)?),
        };
        p.tables.push(Table {
            name: tb.name.clone(),
            hbm: hbm.table_at[ti],
            rows: tb.rows,
            dim: u32::try_from(tb.dim)
                .map_err(|_| Error::unsupported(&tb.name, "table dim over 2^32"))?,
            dtype: tb.dtype,
            source,
        });
    }
    for (i, io) in lir.inputs.iter().enumerate() {
        p.bindings.push(Binding {
            direction: Direction::Input,
            name: io.name.clone(),
            dtype: io.dtype,
            shape: io.binding_shape(batch),
            addr: Addr::hbm(hbm.input_at[i]),
        });
    }
    for (i, io) in lir.outputs.iter().enumerate() {
        p.bindings.push(Binding {
            direction: Direction::Output,
            name: io.name.clone(),
            dtype: io.dtype,
            shape: io.binding_shape(batch),
            addr: Addr::hbm(hbm.output_at[i]),
        });
    }
    let mut hints: BTreeMap<(u32, u32), GatherHint> = BTreeMap::new();
    for s in streams {
        for (&i, &h) in &s.hints {
            hints.insert((s.core, i), h);
        }
        p.code.insert(s.core, s.code);
    }
    p.validate()?;
    let _ = emb;
    Ok((
        p,
        Hints {
            gathers: hints,
            cores: mem.cores,
        },
    ))
}
