//! SCALE-Sim compatibility: read its config and topology files and produce its
//! `COMPUTE_REPORT.csv` and `BANDWIDTH_REPORT.csv`, digit for digit, for the stall-free case.
//!
//! The cycle and utilization columns come from the closed form in [`crate::systolic`]. The
//! percentages are recomputed with Python's float arithmetic (a left-to-right `sum()` over
//! folds, as CPython ≤ 3.11 does it) and printed with Python's `repr`, so the files compare
//! equal as text. "Total Cycles (incl. prefetch)" and the DRAM bandwidths come from
//! SCALE-Sim's CALC-mode memory model, reproduced per buffer event (see `memory`).

mod input;
mod memory;
mod pyfloat;

pub use input::{BandwidthMode, Config, InputError, Layer, parse_config, parse_topology};
pub use memory::{DramSpan, OfmapStall};
pub use pyfloat::py_repr;

use super::stream::{Operand, Stream};
use super::{ArrayShape, FoldGrid, SystolicTiming, ratio_f64, util_cycles_per_fold};
use memory::{ReadSide, Reuse};
use seedchip_chip::Dataflow;

/// Why a layer's report cannot be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayerError {
    /// User problem: the dimensions overflow exact arithmetic.
    #[error(transparent)]
    Timing(#[from] super::Error),
    /// User problem: SCALE-Sim would stall on the OFMAP buffer (its SRAM is too small).
    #[error(transparent)]
    OfmapStall(#[from] OfmapStall),
}

/// One layer's figures as SCALE-Sim reports them.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerReport {
    pub name: String,
    pub timing: SystolicTiming,
    /// "Total Cycles (incl. prefetch)": last OFMAP DRAM write minus the first read prefetch.
    pub total_cycles_incl_prefetch: i64,
    /// "Total Cycles" (= [`SystolicTiming::compute_cycles`]).
    pub total_cycles: u64,
    /// Always 0: CALC mode never stalls.
    pub stall_cycles: u64,
    /// The percentages as SCALE-Sim's Python computes them.
    pub overall_util_pct: f64,
    pub mapping_efficiency_pct: f64,
    pub compute_util_pct: f64,
    /// SRAM words per cycle.
    pub ifmap_sram_bw: f64,
    pub filter_sram_bw: f64,
    pub ofmap_sram_bw: f64,
    pub ifmap_dram: DramSpan,
    pub filter_dram: DramSpan,
    pub ofmap_dram: DramSpan,
    /// False when the IFMAP DRAM figures are an estimate: a convolution whose windows overlap
    /// (or hang over the edge) and whose IFMAP exceeds half the IFMAP SRAM; SCALE-Sim's
    /// per-address set bookkeeping is then not reproduced.
    pub ifmap_dram_exact: bool,
}

/// SCALE-Sim's mean over folds: `sum(per_fold) / len(per_fold)`, folds in its order (column
/// folds outer, row folds inner), summed left to right in f64.
fn py_mean_over_folds(grid: &FoldGrid, per_fold: impl Fn(u64, u64) -> f64) -> f64 {
    let (rf, cf) = (grid.rf, grid.cf);
    let mut acc = 0.0f64;
    for fc in 0..cf {
        acc = pyfloat::repeat_add(acc, per_fold(0, fc), rf - 1);
        acc += per_fold(rf - 1, fc);
    }
    acc / (rf * cf) as f64
}

/// Reproduces SCALE-Sim's report figures for one layer.
pub fn layer_report(config: &Config, layer: &Layer) -> Result<LayerReport, LayerError> {
    let df = config.dataflow;
    let array = ArrayShape {
        rows: config.array_rows,
        cols: config.array_cols,
    };
    let g = layer.gemm();
    let timing = super::gemm(df, array, g)?;
    let grid = FoldGrid::new(df, array, g);
    let pes = (array.rows * array.cols) as u128;

    let total = timing.compute_cycles;
    let mapping = py_mean_over_folds(&grid, |fr, fc| {
        ratio_f64((grid.used_rows(fr) * grid.used_cols(fc)) as u128, pes)
    });
    let ucpf = util_cycles_per_fold(df, grid.rows, grid.cols, grid.t) as u128;
    let compute = py_mean_over_folds(&grid, |fr, fc| {
        let used = (grid.used_rows(fr) * grid.used_cols(fc)) as u128;
        ratio_f64(used * grid.t as u128, pes * ucpf)
    });
    let overall = ratio_f64(timing.macs as u128 * 100, total as u128 * pes);
    let sram_bw = |words: u64| ratio_f64(words as u128, total as u128);

    let (ifmap_reuse, filter_reuse) = match df {
        Dataflow::Ws => (Reuse::Cyclic, Reuse::Unique),
        Dataflow::Os => (Reuse::Cyclic, Reuse::Repeated),
        Dataflow::Is => (Reuse::Unique, Reuse::Cyclic),
    };
    let ifmap_stream = Stream::new(df, Operand::Ifmap, grid);
    let filter_stream = Stream::new(df, Operand::Filter, grid);
    let ofmap_stream = Stream::new(df, Operand::Ofmap, grid);
    let ifmap = memory::read_buffer(ReadSide {
        stream: &ifmap_stream,
        sram_kb: config.ifmap_sram_kb,
        unique: layer.ifmap_unique(),
        reuse: ifmap_reuse,
        distinct: layer.ifmap_distinct(),
    });
    let filter = memory::read_buffer(ReadSide {
        stream: &filter_stream,
        sram_kb: config.filter_sram_kb,
        unique: g.k as u128 * g.n as u128,
        reuse: filter_reuse,
        distinct: true,
    });
    let ofmap = memory::ofmap_buffer(&ofmap_stream, config.ofmap_sram_kb)?;
    let first_read = ifmap.span.start_cycle.min(filter.span.start_cycle);

    Ok(LayerReport {
        name: layer.name.clone(),
        total_cycles_incl_prefetch: ofmap.stop_cycle - first_read,
        total_cycles: total,
        stall_cycles: 0,
        overall_util_pct: overall,
        mapping_efficiency_pct: mapping * 100.0,
        compute_util_pct: compute * 100.0,
        ifmap_sram_bw: sram_bw(timing.sram.ifmap_reads),
        filter_sram_bw: sram_bw(timing.sram.filter_reads),
        ofmap_sram_bw: sram_bw(timing.sram.ofmap_writes),
        ifmap_dram: ifmap.span,
        filter_dram: filter.span,
        ofmap_dram: ofmap,
        ifmap_dram_exact: ifmap.exact,
        timing,
    })
}

/// `COMPUTE_REPORT.csv` exactly as SCALE-Sim writes it.
pub fn compute_report_csv(reports: &[LayerReport]) -> String {
    let mut out = String::from(
        "LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, Overall Util %, \
         Mapping Efficiency %, Compute Util %,\n",
    );
    for (id, r) in reports.iter().enumerate() {
        out.push_str(&format!(
            "{id}, {}, {}, {}, {}, {}, {},\n",
            r.total_cycles_incl_prefetch,
            r.total_cycles,
            r.stall_cycles,
            py_repr(r.overall_util_pct),
            py_repr(r.mapping_efficiency_pct),
            py_repr(r.compute_util_pct),
        ));
    }
    out
}

/// `BANDWIDTH_REPORT.csv` exactly as SCALE-Sim writes it (without sparsity).
pub fn bandwidth_report_csv(reports: &[LayerReport]) -> String {
    let mut out = String::from(
        "LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, Avg IFMAP DRAM BW, \
         Avg FILTER DRAM BW, Avg OFMAP DRAM BW,\n",
    );
    for (id, r) in reports.iter().enumerate() {
        out.push_str(&format!(
            "{id}, {}, {}, {}, {}, {}, {},\n",
            py_repr(r.ifmap_sram_bw),
            py_repr(r.filter_sram_bw),
            py_repr(r.ofmap_sram_bw),
            py_repr(r.ifmap_dram.bandwidth()),
            py_repr(r.filter_dram.bandwidth()),
            py_repr(r.ofmap_dram.bandwidth()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first case run through SCALE-Sim v3.0.0 while writing this module (8×4 array, ws,
    /// 64/64/32 kB SRAMs, CALC): its two report files, verbatim.
    #[test]
    fn reproduces_a_scalesim_run_verbatim() {
        let cfg = Config {
            run_name: "t1".into(),
            array_rows: 8,
            array_cols: 4,
            ifmap_sram_kb: 64,
            filter_sram_kb: 64,
            ofmap_sram_kb: 32,
            dataflow: Dataflow::Ws,
            bandwidth: BandwidthMode::Calc,
            ramulator_trace: false,
            custom_layout: false,
        };
        let layers = parse_topology("Layer,M,N,K,\ng1, 20, 9, 13,\ng2, 5, 3, 30,\n", true).unwrap();
        let reports: Vec<_> = layers
            .iter()
            .map(|l| layer_report(&cfg, l).unwrap())
            .collect();
        assert_eq!(
            compute_report_csv(&reports),
            "LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute Util %,\n\
             0, 382, 227, 0, 32.213656387665196, 60.9375, 29.725609756097565,\n\
             1, 171, 91, 0, 15.453296703296703, 70.3125, 13.521634615384615,\n"
        );
        assert_eq!(
            bandwidth_report_csv(&reports),
            "LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, Avg IFMAP DRAM BW, Avg FILTER DRAM BW, Avg OFMAP DRAM BW,\n\
             0, 3.436123348017621, 0.5154185022026432, 1.5859030837004404, 3.9393939393939394, 1.7727272727272727, 4.0,\n\
             1, 1.6483516483516483, 0.989010989010989, 0.6593406593406593, 2.272727272727273, 1.3636363636363635, 4.0,\n"
        );
    }
}
