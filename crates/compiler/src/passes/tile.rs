//! `tile`: how many cores, and how every GEMM is cut for the array and for SRAM.
//!
//! The cost model (docs/compiler.md, "Tiling search") estimates cycles per core:
//!
//! * a `mxu.matmul` of `m × k × n` costs `max(m·k·n / macs, ⌈m / units⌉ + rows + cols)`:
//!   the array's peak, or streaming `m` rows through one unit plus fill and drain;
//! * bytes from HBM cost `bytes / (HBM bytes per cycle / active cores)`;
//! * epilogue vector work costs `elements · ops / lanes`;
//! * a GEMM takes the largest of its matrix, DMA and vector times (they overlap: weight tiles
//!   are double-buffered) plus the first weight tile's load.
//!
//! Weight tiles always use the whole array (`kt = min(k, rows)`, `nt = min(n, cols)`): a
//! smaller tile only wastes PEs and instructions. What is searched is `mt`, the rows of `a`
//! per accumulator tile, and the number of weight buffers: the accumulators of one output
//! column block (`mt × nt`, double-buffered so the epilogue of one block overlaps the products
//! of the next) must fit the workspace with the weight buffers, and every extra `m` chunk
//! streams the weights again. The search tries `mt = M, ⌈M/2⌉, ⌈M/4⌉, ...` and 2 or 3 weight
//! buffers and keeps the cheapest.
//!
//! Cores: samples are split evenly (data parallel); each core streams every weight, so more
//! cores divide the MACs but multiply weight traffic. The pass picks the core count with the
//! lowest estimate `max(MACs / (cores · macs per core), (cores · weight bytes + other bytes) /
//! HBM bytes per cycle)`, preferring more cores on ties.

use seedchip_isa::DType;

use crate::lir::{Base, Gemm, GemmTiles, KOp, Lir, MatPrecision, OutConv};
use crate::passes::Target;

/// Estimated cycles of one matmul instruction.
pub fn matmul_cycles(t: &Target, p: MatPrecision, m: u64, k: u64, n: u64) -> f64 {
    let macs = t.macs(p).max(1) as f64;
    let peak = (m * k * n) as f64 / macs;
    let stream = m.div_ceil(t.units.max(1)) as f64 + (t.rows + t.cols) as f64;
    peak.max(stream)
}

fn elem(p: MatPrecision) -> u64 {
    p.dtype().size_bytes().unwrap_or(1)
}

/// Rows of `a` per sample (the GEMM's `m` for one sample).
pub fn rows_per_sample(g: &Gemm) -> u64 {
    g.a.numel() / g.k.max(1)
}

/// Vector instructions an epilogue runs per accumulator tile.
pub fn epilogue_ops(g: &Gemm) -> u64 {
    let Some(e) = &g.epilogue else { return 1 };
    if let Some(r) = &e.requant {
        return 1 + u64::from(r.bias.is_some()) + u64::from(r.relu);
    }
    let mut n = 0;
    if e.dequant.is_some() {
        n += 2;
    }
    n += u64::from(e.bias.is_some());
    n += u64::from(e.act != seedchip_ir::Activation::None);
    n += match e.out {
        OutConv::None => 1,
        OutConv::Bf16 => 1,
        OutConv::Quant { .. } => 2,
    };
    n
}

/// Workspace bytes of a tiling: double-buffered accumulators plus the weight buffers.
pub fn gemm_workspace(p: MatPrecision, t: &GemmTiles) -> u64 {
    let acc = p.acc().size_bytes().unwrap_or(4);
    2 * align(t.mt * t.acc_cols * acc) + t.w_buffers * align(t.kt * t.nt * elem(p))
}

/// Cycles from a DMA request to HBM to its first data, for the cost model.
const MEMORY_LATENCY_CYCLES: f64 = 300.0;

pub fn align(x: u64) -> u64 {
    x.div_ceil(64) * 64
}

/// The tiling search for one GEMM over `m` rows (one micro-batch) within `budget` bytes.
pub fn search_gemm(
    t: &Target,
    g: &Gemm,
    m: u64,
    budget: u64,
    cores: u32,
) -> Option<(GemmTiles, f64)> {
    let p = g.precision.unwrap_or(MatPrecision::Bf16);
    // Tile shapes follow the whole weight (its tile-major layout is shared by the column
    // slices of a split GEMM); the rest of the cost follows this kernel's columns.
    let kt = g.k.min(t.rows).max(1);
    let nt = g.n.min(t.cols).max(1);
    let width = g.width();
    let k_tiles = g.k.div_ceil(kt);
    let n_tiles = width.div_ceil(nt);
    let hbm = t.hbm_bytes_per_cycle / f64::from(cores.max(1));
    // A weight tile's DMA: its bytes at the slower of one engine and this core's HBM share,
    // plus the memory's latency.
    let tile_bytes = (kt * nt * elem(p)) as f64;
    let dma_tile = tile_bytes / t.dma_bytes_per_cycle.min(hbm).max(1e-9) + MEMORY_LATENCY_CYCLES;
    let stretch = (t.units * t.rows * t.cols) as f64 / t.macs(p).max(1) as f64;
    // Accumulators as wide as the vector unit (whole column blocks, at most `n`), or one
    // block.
    let wide = (t.lanes / nt).max(1).min(n_tiles) * nt;
    let wide = if wide >= n_tiles * nt { width } else { wide };
    let mut best: Option<(GemmTiles, f64)> = None;
    let mut mt = m.max(1);
    loop {
        for (acc_cols, wb) in [wide, nt]
            .into_iter()
            .flat_map(|a| [2u64, 3, 4, 6, 8].map(|wb| (a, wb)))
        {
            let tiles = GemmTiles {
                kt,
                nt,
                mt,
                w_buffers: wb,
                acc_cols,
            };
            if gemm_workspace(p, &tiles) > budget {
                continue;
            }
            let chunks = m.div_ceil(mt);
            let last = m - (chunks - 1) * mt;
            // Consecutive tiles issue every `max(rows streamed, array rows)` cycles; a weight
            // buffer is free again only when the product reading it has drained, so `wb`
            // buffers sustain that rate only if they cover one tile's load plus one tile's
            // full latency.
            let per_chunk = |rows: u64| {
                let interval = (rows.div_ceil(t.units.max(1)).max(t.rows)) as f64 * stretch;
                let latency = interval + (t.rows + t.cols) as f64 * stretch;
                let paced = (dma_tile + latency) / (wb - 1) as f64;
                (k_tiles * n_tiles) as f64 * interval.max(paced)
            };
            let mxu = (chunks - 1) as f64 * per_chunk(mt) + per_chunk(last);
            let wbytes = (chunks * g.k * width * elem(p)) as f64;
            let dma = wbytes / hbm.max(1e-9);
            // The epilogue's steps on the accumulator are flat vectors; its last step writes a
            // column slice of the output, one lane group per row unless it covers whole rows.
            let lanes = t.lanes.max(1) as f64;
            let ops = epilogue_ops(g) as f64;
            let last = if acc_cols >= width {
                (m * width) as f64 / lanes
            } else {
                (m * acc_cols.div_ceil(t.lanes.max(1))) as f64 * width.div_ceil(acc_cols) as f64
            };
            let vpu = (m * width) as f64 * (ops - 1.0).max(0.0) / lanes + last;
            let cost = mxu.max(dma).max(vpu) + dma_tile;
            if best.as_ref().is_none_or(|(_, c)| cost < *c * (1.0 - 1e-9)) {
                best = Some((tiles, cost));
            }
        }
        if mt == 1 {
            break;
        }
        mt = mt.div_ceil(2);
    }
    best
}

/// Sets tiles on every GEMM for micro-batch `mb`; returns the largest GEMM workspace, or
/// `None` when some GEMM cannot fit `budget`.
pub fn assign(lir: &mut Lir, t: &Target, mb: u64, budget: u64, cores: u32) -> Option<u64> {
    let mut need = 0;
    for k in &mut lir.kernels {
        if let KOp::Gemm(g) = &mut k.op {
            let m = mb * rows_per_sample(g);
            let (tiles, _) = search_gemm(t, g, m, budget, cores)?;
            need = need.max(gemm_workspace(
                g.precision.unwrap_or(MatPrecision::Bf16),
                &tiles,
            ));
            g.tiles = Some(tiles);
        }
    }
    Some(need)
}

/// Total MACs per sample and weight bytes, for the core-count estimate.
pub fn model_costs(lir: &Lir) -> (u64, u64, u64) {
    let mut macs = 0u64;
    let mut weights = 0u64;
    let mut other = 0u64;
    for k in &lir.kernels {
        match &k.op {
            KOp::Gemm(g) => {
                macs += rows_per_sample(g) * g.k * g.width();
                // A split GEMM's slices share one weight: each counts its columns' share.
                weights += lir.konst(g.w).size_bytes() * g.width() / g.n.max(1);
            }
            KOp::Bmm(b) => {
                let kk = *b.a.shape().last().unwrap_or(&1);
                macs += b.dst.numel() * kk;
            }
            KOp::Gather { table, hotness, .. } => {
                let tb = &lir.tables[*table];
                other += hotness * tb.dtype.row_bytes(tb.dim).unwrap_or(4 * tb.dim);
            }
            KOp::Load { dst, .. } => {
                other += dst.numel() * 4;
            }
            _ => {}
        }
    }
    (macs, weights, other)
}

/// The core count with the lowest estimated time for `batch` samples.
pub fn choose_cores(
    lir: &Lir,
    t: &Target,
    batch: u64,
    precision: MatPrecision,
    max: Option<u32>,
) -> u32 {
    let (macs, weights, other) = model_costs(lir);
    let limit = t.cores.min(max.unwrap_or(u32::MAX)).max(1);
    let limit = limit.min(u32::try_from(batch.max(1)).unwrap_or(u32::MAX));
    let mut best = (f64::INFINITY, 1u32);
    for c in 1..=limit {
        let per_core = batch.div_ceil(u64::from(c));
        let compute = (per_core * macs) as f64 / t.macs(precision).max(1) as f64;
        let bytes = (u64::from(c) * weights + batch * other) as f64;
        let mem = bytes / t.hbm_bytes_per_cycle.max(1e-9);
        let est = compute.max(mem);
        if est <= best.0 * (1.0 + 1e-9) {
            best = (est, c);
        }
    }
    best.1
}

/// Dtype of a view's base, for workspace sizing of other kernels.
pub fn base_dtype(lir: &Lir, b: Base) -> DType {
    match b {
        Base::Tensor(t) => lir.tensor(t).dtype,
        Base::Const(c) => lir.konst(c).dtype,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_cost_is_peak_or_streaming() {
        let t = Target::from_chip(&seedchip_chip::presets::get("seedchip-v1").unwrap());
        // 1024 rows through 4 units of 128x128 bf16 (8192 MACs/cycle each).
        let c = matmul_cycles(&t, MatPrecision::Bf16, 1024, 128, 128);
        assert_eq!(c, (1024.0 * 128.0 * 128.0 / 32768.0f64).max(256.0 + 256.0));
        // A single row is fill and drain.
        assert_eq!(
            matmul_cycles(&t, MatPrecision::Bf16, 1, 128, 128),
            1.0 + 256.0
        );
    }
}
