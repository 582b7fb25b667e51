//! The vector unit of a core: cycles of one 2-D `vpu` instruction.
//!
//! The unit has `lanes` lanes, each doing `fma_per_lane_per_cycle` lane operations per cycle,
//! and a transcendental pipeline producing `transcendentals_per_cycle` results per cycle.
//! Lanes hold one element each whatever the dtype (no sub-word packing). A 2-D operand whose
//! rows are contiguous for every operand is processed as one flat vector; otherwise each row
//! starts a new lane group, so `rows × ⌈cols / lanes⌉` issue slots are spent (a narrow strided
//! tile wastes lanes, as on real SIMD units). Every instruction also pays
//! [`PIPELINE_CYCLES`] of pipeline fill. Instructions of one queue run one after another.
//!
//! Lane operations per element: 1 for arithmetic, compare, copy, convert and reductions; 2 for
//! requantisation (a fixed-point multiply, then shift, round and add the zero point).
//! Transcendentals (sigmoid, tanh, gelu, silu, exp, rsqrt, recip) use the transcendental
//! pipeline.

/// Pipeline depth of the vector unit (operand read, up to a 4-stage FMA, write back). A round
/// figure, not a chip key.
pub const PIPELINE_CYCLES: u64 = 8;

/// fp32 FMAs a transcendental costs in energy terms: the chip's own implementations
/// (`crates/numerics`, range reduction plus a polynomial) take about this many.
pub const TRANSCENDENTAL_FMAS: u64 = 8;

/// The vector unit's rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorRates {
    pub lanes: u64,
    pub fma_per_lane: u64,
    pub transcendentals_per_cycle: u64,
}

/// What kind of work an instruction does per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VecWork {
    /// Lane operations per element.
    Lane(u64),
    Transcendental,
}

/// Cycles and element counts of one instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VecCost {
    pub cycles: u64,
    pub elements: u64,
    /// Lane operations done (for energy): elements × ops per element.
    pub lane_ops: u64,
    pub transcendentals: u64,
}

pub fn vector_cost(
    r: &VectorRates,
    work: VecWork,
    rows: u64,
    cols: u64,
    contiguous: bool,
) -> VecCost {
    let elements = rows * cols;
    let (issue, lane_ops, transcendentals) = match work {
        VecWork::Lane(ops) => {
            let per_cycle = (r.lanes * r.fma_per_lane).max(1);
            let slots = if contiguous {
                (elements * ops).div_ceil(per_cycle)
            } else {
                rows * (cols * ops).div_ceil(per_cycle)
            };
            (slots, elements * ops, 0)
        }
        VecWork::Transcendental => {
            let per_cycle = r.transcendentals_per_cycle.max(1);
            let slots = if contiguous {
                elements.div_ceil(per_cycle)
            } else {
                rows * cols.div_ceil(per_cycle)
            };
            (slots, 0, elements)
        }
    };
    VecCost {
        cycles: PIPELINE_CYCLES + issue,
        elements,
        lane_ops,
        transcendentals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_strided_tiles() {
        let r = VectorRates {
            lanes: 512,
            fma_per_lane: 1,
            transcendentals_per_cycle: 128,
        };
        let flat = vector_cost(&r, VecWork::Lane(1), 64, 1024, true);
        assert_eq!(flat.cycles, PIPELINE_CYCLES + 128);
        // 64 rows of 100 strided: one issue slot per row.
        let strided = vector_cost(&r, VecWork::Lane(1), 64, 100, false);
        assert_eq!(strided.cycles, PIPELINE_CYCLES + 64);
        let t = vector_cost(&r, VecWork::Transcendental, 64, 1024, true);
        assert_eq!(t.cycles, PIPELINE_CYCLES + 512);
        assert_eq!(t.transcendentals, 65536);
        let rq = vector_cost(&r, VecWork::Lane(2), 1, 1024, true);
        assert_eq!((rq.cycles, rq.lane_ops), (PIPELINE_CYCLES + 4, 2048));
    }
}
