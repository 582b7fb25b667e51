//! Software stacks: how the same model reaches the device.
//!
//! * `eager` — a framework calls one op at a time, as the calibration measured: every kernel
//!   pays the host dispatch path (fitted), and a kernel shorter than the host's time per call
//!   leaves the GPU waiting.
//! * `graph` (default) — the same kernels captured once and replayed (CUDA Graphs): one host
//!   call per batch, kernels back to back with only [`GRAPH_KERNEL_GAP_US`] between them.
//! * `tuned` — a vendor inference engine as in NVIDIA's MLPerf submissions (TensorRT plus
//!   custom plugins), replayed like `graph`, with these assumed fusions and gains:
//!   - bias, activation, residual and DCNv2 cross-layer elementwise work fused into the
//!     producing GEMM's epilogue; concatenations eliminated (producers write in place);
//!   - all pooled embedding bags of a model in one table-batched gather kernel (FBGEMM TBE /
//!     NVIDIA's DLRM plugin) with [`TUNED_GATHER_IN_FLIGHT_GAIN`]× the framework kernel's
//!     lookups in flight (a warp per bag, vector loads, unrolled prefetch of several rows,
//!     against one thread per element and one row at a time), still capped by bandwidth;
//!   - the dot interaction as one batched GEMM with its triangle extraction fused; attention
//!     as one flash-style kernel (scores never reach HBM; causal masks skip half the work);
//!   - int32 indices and one packed host-to-device copy per batch.
//!
//!   GEMM efficiency is the fitted cuBLAS curve: for DLRM-sized GEMMs an engine's kernels are
//!   no faster than cuBLAS's, and the gains of int8/fp8 come from the datasheet peak.
//!
//! `graph` and `tuned` overlap the next batch's input copy with the current batch's kernels
//! (a second stream), so their throughput is bound by the longer of the two; `eager` runs a
//! batch at a time.

use serde::Serialize;

/// Time between two kernels replayed from a captured graph, µs. Not measured here: the
/// calibration is eager only. NVIDIA's "Getting Started with CUDA Graphs" shows a graph
/// removing most of a ~1 µs per-kernel overhead; 1 µs covers the remaining node dispatch plus
/// the ramp-down and ramp-up of consecutive kernels.
pub const GRAPH_KERNEL_GAP_US: f64 = 1.0;

/// Lookups in flight of a tuned table-batched gather kernel relative to a framework's
/// embedding-bag kernel (see the module docs).
pub const TUNED_GATHER_IN_FLIGHT_GAIN: f64 = 4.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stack {
    Eager,
    #[default]
    Graph,
    Tuned,
}

impl Stack {
    pub const ALL: [Stack; 3] = [Stack::Eager, Stack::Graph, Stack::Tuned];

    pub fn name(self) -> &'static str {
        match self {
            Stack::Eager => "eager",
            Stack::Graph => "graph",
            Stack::Tuned => "tuned",
        }
    }

    pub fn parse(s: &str) -> Option<Stack> {
        Stack::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Whether elementwise work, concatenations and embedding bags are fused.
    pub fn fuses(self) -> bool {
        self == Stack::Tuned
    }

    /// Whether kernels replay from a captured graph (one host call per batch).
    pub fn replays(self) -> bool {
        self != Stack::Eager
    }

    pub fn gather_in_flight_gain(self) -> f64 {
        if self.fuses() {
            TUNED_GATHER_IN_FLIGHT_GAIN
        } else {
            1.0
        }
    }
}

impl std::fmt::Display for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_graph_is_default() {
        for s in Stack::ALL {
            assert_eq!(Stack::parse(s.name()), Some(s));
        }
        assert_eq!(Stack::default(), Stack::Graph);
        assert_eq!(Stack::parse("trt"), None);
    }
}
