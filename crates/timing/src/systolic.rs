//! Systolic-array GEMM timing: compute cycles of a dense `M×K · K×N` GEMM on an `R×C` array for
//! the weight-, output- and input-stationary dataflows, with fill, drain and folding, equal to
//! what SCALE-Sim v3 computes when memory never stalls. Closed form, O(1) per GEMM.
//!
//! # The model (SCALE-Sim's)
//! The dataflow decides which operand dimensions map onto the array's rows and columns
//! (`Sr`, `Sc`) and which one streams through time (`T`):
//!
//! | dataflow | `Sr` (rows) | `Sc` (cols) | `T` (time) | cycles per fold |
//! |---|---|---|---|---|
//! | ws | K | N | M | `2R + C + T − 2` |
//! | os | M | N | K | `R + C + T − 2` |
//! | is | K | M | N | `2R + C + T − 2` |
//!
//! The GEMM is cut into `⌈Sr/R⌉ · ⌈Sc/C⌉` folds that run one after another and never overlap.
//! In a stationary-operand dataflow (ws, is) a fold spends `R` cycles loading the stationary
//! tile, `R + C − 2` cycles of skew (fill and drain) and `T` cycles streaming; in os it spends
//! `R + C − 2` cycles of skew and `T` streaming.
//!
//! SCALE-Sim's "Total Cycles" is the index of the last cycle, not the count:
//! `folds × cycles_per_fold − 1`; [`SystolicTiming::compute_cycles`] reports that number (and
//! [`SystolicTiming::busy_cycles`] the count) so that the two tools agree exactly.
//!
//! Utilizations follow SCALE-Sim's definitions (see `docs/timing.md`):
//! - mapping efficiency: mean over folds of `used PEs / (R·C)`;
//! - compute utilization: mean over folds of `used PEs · T / (R·C · fold_cycles')`, where
//!   `fold_cycles'` is SCALE-Sim's own per-fold figure: `R + C + T − 2` for os but
//!   `2R + 2C + T − 3` for ws and is (one skew more than the cycles it charges);
//! - overall utilization: `M·N·K / (compute_cycles · R·C)`.
//!
//! [`scalesim`] holds what is needed to reproduce SCALE-Sim's report files byte for byte: its
//! Python float arithmetic, its config and topology formats, and its stall-free (CALC) memory
//! model for the prefetch and DRAM columns.

use seedchip_chip::Dataflow;
use serde::Serialize;

pub mod scalesim;
pub(crate) mod stream;

/// A problem with the inputs of a systolic timing query (a user problem: bad dimensions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// User problem: a dimension is zero.
    #[error("{what} must be at least 1")]
    ZeroDimension { what: &'static str },
    /// User problem: the numbers are too large for exact 64-bit cycle arithmetic.
    #[error("{what} overflows 64-bit arithmetic")]
    Overflow { what: &'static str },
}

/// The shape of a systolic array: `rows × cols` processing elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ArrayShape {
    pub rows: u64,
    pub cols: u64,
}

/// A dense GEMM `M×K · K×N` (M = batch or output pixels, K = reduction, N = output features).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Gemm {
    pub m: u64,
    pub k: u64,
    pub n: u64,
}

/// SRAM accesses as SCALE-Sim's compute model counts them (in words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SramAccesses {
    pub ifmap_reads: u64,
    pub filter_reads: u64,
    /// What SCALE-Sim reports. For os this includes its defect: `R + C` extra writes per fold.
    pub ofmap_writes: u64,
    /// The writes a real array makes: every output once per reduction fold (`ofmap_writes`
    /// minus SCALE-Sim's os over-count).
    pub ofmap_writes_physical: u64,
}

/// The timing of one GEMM on one array: SCALE-Sim's figures, stall-free.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SystolicTiming {
    pub dataflow: Dataflow,
    pub array: ArrayShape,
    pub gemm: Gemm,
    /// Folds along the array's rows (`⌈Sr/R⌉`) and columns (`⌈Sc/C⌉`).
    pub row_folds: u64,
    pub col_folds: u64,
    pub folds: u64,
    pub cycles_per_fold: u64,
    /// SCALE-Sim's "Total Cycles": `folds × cycles_per_fold − 1`.
    pub compute_cycles: u64,
    /// Cycles the array is busy: `folds × cycles_per_fold`.
    pub busy_cycles: u64,
    /// Multiply-accumulates: `M·N·K`.
    pub macs: u64,
    /// Mean over folds of used PEs / all PEs, as a fraction (exact, then rounded once).
    pub mapping_efficiency: f64,
    /// Mean over folds of SCALE-Sim's per-fold compute utilization, as a fraction.
    pub compute_utilization: f64,
    /// `macs / (compute_cycles · R·C)`, as a fraction.
    pub overall_utilization: f64,
    pub sram: SramAccesses,
}

/// Which operand dimension maps where, for a dataflow: `(Sr, Sc, T)`.
pub(crate) fn spatio_temporal(dataflow: Dataflow, g: Gemm) -> (u64, u64, u64) {
    match dataflow {
        Dataflow::Ws => (g.k, g.n, g.m),
        Dataflow::Os => (g.m, g.n, g.k),
        Dataflow::Is => (g.k, g.m, g.n),
    }
}

/// The fold grid of a GEMM on an array: `rf × cf` folds, the last ones partial.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FoldGrid {
    pub rows: u64,
    pub cols: u64,
    /// Row folds, and the rows used in the last one.
    pub rf: u64,
    pub r_last: u64,
    /// Column folds, and the columns used in the last one.
    pub cf: u64,
    pub c_last: u64,
    /// The streamed dimension.
    pub t: u64,
}

impl FoldGrid {
    pub fn new(dataflow: Dataflow, array: ArrayShape, g: Gemm) -> FoldGrid {
        let (sr, sc, t) = spatio_temporal(dataflow, g);
        let rf = sr.div_ceil(array.rows);
        let cf = sc.div_ceil(array.cols);
        FoldGrid {
            rows: array.rows,
            cols: array.cols,
            rf,
            r_last: sr - (rf - 1) * array.rows,
            cf,
            c_last: sc - (cf - 1) * array.cols,
            t,
        }
    }

    /// Rows used in row fold `fr`.
    pub fn used_rows(&self, fr: u64) -> u64 {
        if fr + 1 == self.rf {
            self.r_last
        } else {
            self.rows
        }
    }

    /// Columns used in column fold `fc`.
    pub fn used_cols(&self, fc: u64) -> u64 {
        if fc + 1 == self.cf {
            self.c_last
        } else {
            self.cols
        }
    }
}

/// Cycles of one fold as SCALE-Sim charges them.
pub(crate) fn cycles_per_fold(dataflow: Dataflow, r: u64, c: u64, t: u64) -> u64 {
    match dataflow {
        Dataflow::Os => r + c + t - 2,
        Dataflow::Ws | Dataflow::Is => 2 * r + c + t - 2,
    }
}

/// The denominator cycles SCALE-Sim uses for a fold's compute utilization (one more skew than
/// it charges for ws and is).
pub(crate) fn util_cycles_per_fold(dataflow: Dataflow, r: u64, c: u64, t: u64) -> u64 {
    match dataflow {
        Dataflow::Os => r + c + t - 2,
        Dataflow::Ws | Dataflow::Is => 2 * r + 2 * c + t - 3,
    }
}

fn checked(v: Option<u128>, what: &'static str) -> Result<u64, Error> {
    v.and_then(|v| u64::try_from(v).ok())
        .ok_or(Error::Overflow { what })
}

/// The timing of a dense GEMM on an `R×C` array with the given dataflow. O(1).
pub fn gemm(dataflow: Dataflow, array: ArrayShape, g: Gemm) -> Result<SystolicTiming, Error> {
    for (v, what) in [
        (array.rows, "array rows"),
        (array.cols, "array columns"),
        (g.m, "M"),
        (g.k, "K"),
        (g.n, "N"),
    ] {
        if v == 0 {
            return Err(Error::ZeroDimension { what });
        }
    }
    // Everything below is computed in u128 and checked once into u64.
    let (r, c) = (array.rows as u128, array.cols as u128);
    let (m, k, n) = (g.m as u128, g.k as u128, g.n as u128);
    if r > 1 << 20 || c > 1 << 20 || m > 1 << 40 || k > 1 << 40 || n > 1 << 40 {
        return Err(Error::Overflow {
            what: "array or GEMM dimension",
        });
    }
    let grid = FoldGrid::new(dataflow, array, g);
    let (rf, cf, t) = (grid.rf as u128, grid.cf as u128, grid.t as u128);
    let folds = rf * cf;
    let cpf = cycles_per_fold(dataflow, grid.rows, grid.cols, grid.t) as u128;
    let busy = checked(folds.checked_mul(cpf), "busy cycles")?;
    let macs = checked(m.checked_mul(n).and_then(|v| v.checked_mul(k)), "MACs")?;
    let pes = r * c;

    // Means over folds, exactly: Σ used PEs over folds = Sr·Sc (each PE tile used once).
    let (sr, sc, _) = spatio_temporal(dataflow, g);
    let used_sum = sr as u128 * sc as u128;
    let mapping_efficiency = ratio_f64(used_sum, folds * pes);
    let ucpf = util_cycles_per_fold(dataflow, grid.rows, grid.cols, grid.t) as u128;
    let compute_utilization = ratio_f64(used_sum * t, folds * pes * ucpf);
    let compute_cycles = busy - 1;
    let overall_utilization = if compute_cycles == 0 {
        f64::INFINITY
    } else {
        ratio_f64(macs as u128, compute_cycles as u128 * pes)
    };

    let sram = sram_accesses(dataflow, array, g, &grid)?;
    Ok(SystolicTiming {
        dataflow,
        array,
        gemm: g,
        row_folds: grid.rf,
        col_folds: grid.cf,
        folds: checked(Some(folds), "folds")?,
        cycles_per_fold: cpf as u64,
        compute_cycles,
        busy_cycles: busy,
        macs,
        mapping_efficiency,
        compute_utilization,
        overall_utilization,
        sram,
    })
}

/// SRAM reads and writes as SCALE-Sim's compute model counts them: each fold reads its slice of
/// each operand (the streamed operand once per column or row fold) and writes its outputs.
fn sram_accesses(
    dataflow: Dataflow,
    array: ArrayShape,
    g: Gemm,
    grid: &FoldGrid,
) -> Result<SramAccesses, Error> {
    let (m, k, n) = (g.m as u128, g.k as u128, g.n as u128);
    let (rf, cf) = (grid.rf as u128, grid.cf as u128);
    let (ifmap, filter, ofmap_phys, extra) = match dataflow {
        // ws: the ifmap streams once per column fold; outputs leave once per row fold.
        Dataflow::Ws => (cf * m * k, k * n, rf * m * n, 0),
        // os: the ifmap streams once per column fold, the filter once per row fold; SCALE-Sim
        // adds `R + C` phantom writes per fold (it counts the skewed tile's shape).
        Dataflow::Os => (
            cf * m * k,
            rf * k * n,
            m * n,
            rf * cf * (array.rows as u128 + array.cols as u128),
        ),
        // is: the filter streams once per column fold; outputs leave once per row fold.
        Dataflow::Is => (k * m, cf * k * n, rf * m * n, 0),
    };
    Ok(SramAccesses {
        ifmap_reads: checked(Some(ifmap), "SRAM reads")?,
        filter_reads: checked(Some(filter), "SRAM reads")?,
        ofmap_writes: checked(Some(ofmap_phys + extra), "SRAM writes")?,
        ofmap_writes_physical: checked(Some(ofmap_phys), "SRAM writes")?,
    })
}

/// `a / b` rounded once to the nearest f64 (ties to even), as Python's `int / int` does.
pub(crate) fn ratio_f64(a: u128, b: u128) -> f64 {
    assert!(b != 0, "ratio_f64: division by zero");
    const EXACT: u128 = 1 << 53;
    if a < EXACT && b < EXACT {
        // Both convert exactly; IEEE division rounds once.
        return a as f64 / b as f64;
    }
    if a == 0 {
        return 0.0;
    }
    // Long division until the quotient has at least 55 significant bits, then fold the
    // remainder into a sticky bit and let the integer → f64 conversion round once (to nearest,
    // ties to even). `2r ≥ b` is tested as `r ≥ b − r` so nothing overflows.
    let (mut q, mut r) = (a / b, a % b);
    let mut shift = 0i32;
    while q < 1 << 55 {
        let bit = r >= b - r;
        r = if bit { r - (b - r) } else { r + r };
        q = 2 * q + u128::from(bit);
        shift += 1;
    }
    (q | u128::from(r != 0)) as f64 * 2f64.powi(-shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(df: Dataflow, r: u64, c: u64, m: u64, k: u64, n: u64) -> SystolicTiming {
        gemm(df, ArrayShape { rows: r, cols: c }, Gemm { m, k, n }).unwrap()
    }

    #[test]
    fn cycles_follow_fold_formulas() {
        // ws on 8x4, M=20 K=13 N=9: 2 row folds x 3 col folds, 2*8+4+20-2 = 38 per fold.
        let ws = t(Dataflow::Ws, 8, 4, 20, 13, 9);
        assert_eq!((ws.row_folds, ws.col_folds, ws.cycles_per_fold), (2, 3, 38));
        assert_eq!(ws.compute_cycles, 6 * 38 - 1);
        // os: folds over M and N, R + C + K - 2 per fold.
        let os = t(Dataflow::Os, 8, 4, 20, 13, 9);
        assert_eq!((os.row_folds, os.col_folds, os.cycles_per_fold), (3, 3, 23));
        // is: folds over K and M, 2R + C + N - 2 per fold.
        let is = t(Dataflow::Is, 8, 4, 20, 13, 9);
        assert_eq!((is.row_folds, is.col_folds, is.cycles_per_fold), (2, 5, 27));
        assert_eq!(is.compute_cycles, 10 * 27 - 1);
    }

    #[test]
    fn utilizations_match_scalesim_definitions() {
        // SCALE-Sim v3 on this case reports 32.213656387665196, 60.9375, 29.725609756097565.
        let ws = t(Dataflow::Ws, 8, 4, 20, 13, 9);
        assert_eq!(ws.overall_utilization * 100.0, 32.213656387665196);
        assert_eq!(ws.mapping_efficiency * 100.0, 60.9375);
        assert!((ws.compute_utilization * 100.0 - 29.725609756097565).abs() < 1e-12);
        // A GEMM that tiles exactly maps every PE.
        let full = t(Dataflow::Os, 16, 16, 64, 100, 32);
        assert_eq!(full.mapping_efficiency, 1.0);
        assert!(full.compute_utilization < 1.0 && full.compute_utilization > 0.5);
    }

    #[test]
    fn sram_counts_include_the_os_overcount() {
        let os = t(Dataflow::Os, 8, 4, 20, 13, 9);
        assert_eq!(os.sram.ofmap_writes_physical, 180);
        assert_eq!(os.sram.ofmap_writes, 180 + 9 * 12);
        let ws = t(Dataflow::Ws, 8, 4, 20, 13, 9);
        assert_eq!(
            (
                ws.sram.ifmap_reads,
                ws.sram.filter_reads,
                ws.sram.ofmap_writes
            ),
            (780, 117, 360)
        );
    }

    #[test]
    fn rejects_zero_dimensions() {
        let e = gemm(
            Dataflow::Ws,
            ArrayShape { rows: 8, cols: 8 },
            Gemm { m: 0, k: 1, n: 1 },
        );
        assert_eq!(e.unwrap_err(), Error::ZeroDimension { what: "M" });
    }

    #[test]
    fn ratio_is_correctly_rounded() {
        assert_eq!(ratio_f64(1, 3), 1.0 / 3.0);
        assert_eq!(ratio_f64(117, 192), 0.609375);
        // Large operands: compare against exact rational reasoning on a power-of-two ratio and
        // on a value whose quotient is known to 60 bits.
        assert_eq!(ratio_f64(3 << 80, 1 << 80), 3.0);
        assert_eq!(ratio_f64(1 << 100, 3 << 100), 1.0 / 3.0);
        assert_eq!(ratio_f64(u128::MAX, u128::MAX), 1.0);
        let a: u128 = (1 << 70) + 1;
        let b: u128 = 3 << 20;
        // (2^70 + 1) / (3·2^20) = 2^50/3 + tiny; f64 of 2^50/3 rounds the same way.
        assert_eq!(ratio_f64(a, b), (1u64 << 50) as f64 / 3.0);
    }
}
