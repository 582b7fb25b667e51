//! The matrix unit group of a core: what one `mxu.matmul` costs, and how consecutive ones
//! overlap.
//!
//! One instruction multiplies `a[m×k] · b[k×n]` with `k ≤ rows`, `n ≤ cols` (a weight tile).
//! A core's `count` identical arrays act as one logical unit (docs/isa.md): the `m` rows of `a`
//! are split evenly over the arrays, which all hold the same tile, so an instruction costs the
//! systolic closed form ([`crate::systolic::gemm`], SCALE-Sim's stall-free cycles with fill,
//! drain and folds) of `⌈m / count⌉ × k × n` on one `rows × cols` array. `mxu.matmul.batch`
//! runs its `count` problems round-robin over the arrays (each array's problems back to back,
//! pipelined as below) or, with fewer problems than arrays, splits each problem's rows over
//! `⌊arrays / problems⌋` arrays.
//!
//! **Precision.** The closed form counts one MAC per PE per cycle. A precision whose
//! `macs_per_cycle` differs from `rows × cols` (bf16 at half rate, MTIA's 1,000 int8 MACs on a
//! 32×32 array) stretches every cycle count by `rows·cols / macs_per_cycle`, rounded up.
//!
//! **Pipelining between instructions.** An isolated matmul takes exactly the closed form. A fold
//! of a stationary dataflow (ws, is) spends `R` cycles loading its tile, `T` streaming and
//! `R + C − 2` of skew; os has no load. Back-to-back instructions overlap the way
//! double-buffered arrays (TPU v1's weight FIFO, v4's MXUs) do: the next instruction's tile
//! loads while the previous one streams, and its wavefront enters while the previous drains.
//! So instruction `i + 1` may start `busy_i − (R + C − 2) − min(R_load, T_i)` cycles after
//! instruction `i` started: the steady-state issue interval of weight-stationary tiles is
//! `max(T, R)`, the figure the compiler's cost model uses.

use std::collections::BTreeMap;

use seedchip_chip::{Dataflow, MatrixUnit, Precision};

use crate::event::Cycle;
use crate::systolic::{self, ArrayShape, Gemm};

/// A core's matrix units, as one logical unit.
#[derive(Debug, Clone)]
pub struct MatrixGroup {
    pub rows: u64,
    pub cols: u64,
    pub arrays: u64,
    pub dataflow: Dataflow,
    pub macs_per_cycle: BTreeMap<Precision, u64>,
}

impl MatrixGroup {
    /// The group of a chip's first matrix-unit entry (the ISA addresses one logical MXU per
    /// core).
    pub fn from_unit(u: &MatrixUnit) -> MatrixGroup {
        MatrixGroup {
            rows: u64::from(u.rows),
            cols: u64::from(u.cols),
            arrays: u64::from(u.count.unwrap_or(1).max(1)),
            dataflow: u.dataflow,
            macs_per_cycle: u.macs_per_cycle.clone(),
        }
    }
}

/// The cost of one matmul instruction on a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatmulCost {
    /// Cycles from start to the last result written, with nothing before or after it.
    pub busy_cycles: u64,
    /// Cycles of its tail the next instruction may overlap: the drain skew.
    pub drain_cycles: u64,
    /// Cycles of its head that may overlap the previous instruction's streaming: the
    /// stationary tile's load (0 for os).
    pub load_cycles: u64,
    /// Cycles its last fold streams.
    pub stream_cycles: u64,
    pub macs: u64,
}

/// Why a matmul cannot run on a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatmulError {
    NoPrecision(Precision),
    TooLarge {
        k: u64,
        n: u64,
        rows: u64,
        cols: u64,
    },
    Zero,
}

fn stretch(x: u64, pes: u64, macs: u64) -> u64 {
    (x * pes).div_ceil(macs)
}

fn stretch_floor(x: u64, pes: u64, macs: u64) -> u64 {
    x * pes / macs
}

/// Cost of `count` problems of `m × k × n` (`count = 1` for a plain matmul).
pub fn matmul_cost(
    g: &MatrixGroup,
    precision: Precision,
    m: u64,
    k: u64,
    n: u64,
    count: u64,
) -> Result<MatmulCost, MatmulError> {
    let rate = *g
        .macs_per_cycle
        .get(&precision)
        .ok_or(MatmulError::NoPrecision(precision))?;
    if k > g.rows || n > g.cols {
        return Err(MatmulError::TooLarge {
            k,
            n,
            rows: g.rows,
            cols: g.cols,
        });
    }
    if m == 0 || k == 0 || n == 0 || count == 0 || rate == 0 {
        return Err(MatmulError::Zero);
    }
    let (per_array_problems, m_per_array) = if count >= g.arrays {
        (count.div_ceil(g.arrays), m)
    } else {
        let arrays_per_problem = g.arrays / count;
        (1, m.div_ceil(arrays_per_problem))
    };
    let array = ArrayShape {
        rows: g.rows,
        cols: g.cols,
    };
    let t = systolic::gemm(
        g.dataflow,
        array,
        Gemm {
            m: m_per_array,
            k,
            n,
        },
    )
    .expect("dimensions checked non-zero and within the array");
    let skew = g.rows + g.cols - 2;
    let load = match g.dataflow {
        Dataflow::Os => 0,
        Dataflow::Ws | Dataflow::Is => g.rows,
    };
    let stream = match g.dataflow {
        Dataflow::Ws => m_per_array,
        Dataflow::Os => k,
        Dataflow::Is => n,
    };
    let one = t.busy_cycles;
    let interval = one - skew - load.min(stream);
    let busy = one + (per_array_problems - 1) * interval;
    let pes = g.rows * g.cols;
    Ok(MatmulCost {
        busy_cycles: stretch(busy, pes, rate),
        drain_cycles: stretch_floor(skew, pes, rate),
        load_cycles: stretch_floor(load, pes, rate),
        stream_cycles: stretch_floor(stream, pes, rate),
        macs: m * k * n * count,
    })
}

/// Issue state of a core's matrix units.
#[derive(Debug, Clone, Default)]
pub struct MxuState {
    last: Option<(Cycle, MatmulCost)>,
}

impl MxuState {
    /// The earliest cycle an instruction of cost `next` may start.
    pub fn ready_at(&self, next: &MatmulCost) -> Cycle {
        match self.last {
            None => 0,
            Some((start, c)) => {
                start + c.busy_cycles - c.drain_cycles - next.load_cycles.min(c.stream_cycles)
            }
        }
    }

    /// Records a start; returns the completion cycle (never before the previous completion,
    /// so the queue completes in order).
    pub fn start(&mut self, at: Cycle, cost: MatmulCost) -> Cycle {
        let prev_done = self.last.map_or(0, |(s, c)| s + c.busy_cycles);
        self.last = Some((at, cost));
        (at + cost.busy_cycles).max(prev_done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(dataflow: Dataflow, arrays: u64) -> MatrixGroup {
        MatrixGroup {
            rows: 128,
            cols: 128,
            arrays,
            dataflow,
            macs_per_cycle: [(Precision::Int8, 16384), (Precision::Bf16, 8192)]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn isolated_matmul_is_the_closed_form() {
        let g = group(Dataflow::Ws, 1);
        let c = matmul_cost(&g, Precision::Int8, 256, 128, 128, 1).unwrap();
        assert_eq!(c.busy_cycles, 2 * 128 + 128 + 256 - 2);
        // Four arrays split m.
        let g4 = group(Dataflow::Ws, 4);
        let c4 = matmul_cost(&g4, Precision::Int8, 1024, 128, 128, 1).unwrap();
        assert_eq!(c4.busy_cycles, c.busy_cycles);
        // Half-rate bf16 doubles every count.
        let b = matmul_cost(&g, Precision::Bf16, 256, 128, 128, 1).unwrap();
        assert_eq!(b.busy_cycles, 2 * c.busy_cycles);
    }

    #[test]
    fn back_to_back_weight_stationary_tiles_issue_every_max_t_r() {
        let g = group(Dataflow::Ws, 1);
        for m in [64u64, 128, 256, 1000] {
            let c = matmul_cost(&g, Precision::Int8, m, 128, 128, 1).unwrap();
            let mut s = MxuState::default();
            let d0 = s.start(0, c);
            let r1 = s.ready_at(&c);
            assert_eq!(r1, m.max(128), "m = {m}");
            let d1 = s.start(r1, c);
            assert!(d1 >= d0);
        }
    }

    #[test]
    fn batched_problems_pipeline_per_array() {
        let g = group(Dataflow::Ws, 4);
        let one = matmul_cost(&g, Precision::Int8, 32, 128, 32, 1).unwrap();
        let eight = matmul_cost(&g, Precision::Int8, 32, 128, 32, 8).unwrap();
        // 8 problems on 4 arrays: two each; the second overlaps the first's load and skew.
        let single = 2 * 128 + 128 + 32 - 2;
        assert_eq!(eight.busy_cycles, single + 128);
        assert_eq!(eight.macs, 8 * 32 * 128 * 32);
        assert!(one.busy_cycles < single);
    }

    #[test]
    fn rejects_tiles_larger_than_the_array() {
        let g = group(Dataflow::Os, 1);
        assert!(matches!(
            matmul_cost(&g, Precision::Int8, 8, 129, 8, 1),
            Err(MatmulError::TooLarge { .. })
        ));
        assert_eq!(
            matmul_cost(&g, Precision::Fp16, 8, 8, 8, 1),
            Err(MatmulError::NoPrecision(Precision::Fp16))
        );
    }
}
