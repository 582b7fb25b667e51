//! The chip description: what a user writes in `chip.toml`.
//!
//! Optional fields are `Option` on purpose: [`Chip::resolve`] fills every default in place, so
//! the resolved description serializes with nothing implicit, and loading that output again gives
//! the same description (`chip show --json` → TOML → load is the identity).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::memory::MemoryKind;
use crate::precision::Precision;

/// A simulated chip. Keys carry their unit in the name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Chip {
    /// Short identifier, used in reports (`seedchip-v1`).
    pub name: String,
    /// One line for listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Core clock. Every per-cycle rate below is at this clock.
    pub clock_mhz: f64,
    /// Precisions the chip claims to compute in. Each must be served by some matrix unit.
    /// Default: every precision any matrix unit lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precisions: Option<Vec<Precision>>,
    pub cores: Cores,
    pub shared_sram: SharedSram,
    #[serde(default)]
    pub gather: Gather,
    #[serde(default)]
    pub dma: Dma,
    pub memory: Memory,
    #[serde(default)]
    pub host_link: HostLink,
    #[serde(default)]
    pub chip_links: ChipLinks,
    pub process: Process,
    #[serde(default)]
    pub cost: Cost,
}

/// Identical compute cores. A chip with different core kinds is out of scope for now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cores {
    pub count: u32,
    /// Private scratchpad per core (TPU VMEM, MTIA PE local memory, accumulators).
    pub local_sram_bytes: u64,
    pub matrix_units: Vec<MatrixUnit>,
    pub vector: VectorUnit,
}

/// A systolic matrix unit (or several identical ones per core).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatrixUnit {
    /// Units of this shape per core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    pub rows: u32,
    pub cols: u32,
    pub dataflow: Dataflow,
    /// Multiply-accumulates per cycle per unit, by operand precision. A full-rate int8 array has
    /// rows × cols; narrower operands may pack more, wider ones often run at a fraction.
    pub macs_per_cycle: BTreeMap<Precision, u64>,
}

/// Which operand stays put in the PEs: weight, output or input stationary (SCALE-Sim's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Dataflow {
    Ws,
    Os,
    Is,
}

impl Dataflow {
    pub fn name(self) -> &'static str {
        match self {
            Dataflow::Ws => "ws",
            Dataflow::Os => "os",
            Dataflow::Is => "is",
        }
    }
}

/// SIMD vector unit per core: activations, requantization, pooling, norms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VectorUnit {
    pub lanes: u32,
    /// Default: fp32, bf16, int32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precisions: Option<Vec<Precision>>,
    /// Fused multiply-adds per lane per cycle. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fma_per_lane_per_cycle: Option<u32>,
    /// exp/sigmoid/tanh results per cycle across the unit. Default lanes / 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcendentals_per_cycle: Option<u32>,
}

/// On-chip SRAM shared by all cores (TPU CMEM / unified buffer, MTIA shared SRAM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SharedSram {
    pub capacity_bytes: u64,
    pub banks: u32,
    /// Aggregate read+write bandwidth across all banks.
    pub bytes_per_cycle: u64,
}

/// SparseCore-like embedding gather engines. `engines = 0` (the default) means none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gather {
    #[serde(default)]
    pub engines: u32,
    /// Row requests each engine issues per cycle. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_requests_per_cycle: Option<u32>,
    /// Rows each engine can have in flight (outstanding memory reads being pooled). Default 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows_in_flight: Option<u32>,
    /// Pooling modes done in the engine. Default sum, mean, max.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling: Option<Vec<Pooling>>,
    /// Part of the shared SRAM set aside for hot embedding rows. Default 0 (no cache).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hot_row_cache_bytes: Option<u64>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    Sum,
    Mean,
    Max,
}

/// DMA engines moving 2-D strided blocks between memory and SRAM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dma {
    /// Default 2 per chip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engines: Option<u32>,
    /// Per engine. Default 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_cycle: Option<u64>,
    /// Outstanding requests per engine. Default 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_outstanding: Option<u32>,
}

/// Off-chip memory. For HBM, `stacks` × `channels` (per stack); for the DDR family, `channels`
/// in total. Omitted fields take the kind's datasheet-class defaults (see `memory.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Memory {
    pub kind: MemoryKind,
    /// HBM only: stacks on the package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacks: Option<u32>,
    /// HBM: channels per stack (default by kind). DDR family: channels in total (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_width_bits: Option<u32>,
    /// Pseudo-channels per channel (HBM2E/HBM3 split a channel in two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudo_channels: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_rate_mtps: Option<f64>,
    pub capacity_bytes: u64,
    /// Peak bandwidth in GB/s (10^9 bytes per second). Optional: when given it must agree with
    /// channels × width × data rate, which catches unit slips in hand-written files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_gbps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_groups: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banks_per_group: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_policy: Option<PagePolicy>,
    #[serde(default)]
    pub timing: MemoryTiming,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PagePolicy {
    Open,
    Closed,
}

/// DRAM timing parameters in nanoseconds (burst length in beats).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemoryTiming {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trcd_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trp_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcl_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tras_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trrd_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tfaw_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tccd_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trfc_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trefi_ns: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_length: Option<u32>,
}

/// Link to the host CPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostLink {
    pub kind: HostLinkKind,
    pub lanes: u32,
    /// Per direction, GB/s. Optional; checked against kind × lanes when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_gbps: Option<f64>,
}

impl Default for HostLink {
    fn default() -> Self {
        HostLink {
            kind: HostLinkKind::Pcie5,
            lanes: 16,
            bandwidth_gbps: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HostLinkKind {
    Pcie3,
    Pcie4,
    Pcie5,
    Pcie6,
}

impl HostLinkKind {
    /// Usable GB/s per lane per direction after line coding (128b/130b; PCIe 6 FLIT overhead).
    pub fn gbps_per_lane(self) -> f64 {
        match self {
            HostLinkKind::Pcie3 => 0.985,
            HostLinkKind::Pcie4 => 1.969,
            HostLinkKind::Pcie5 => 3.938,
            HostLinkKind::Pcie6 => 7.563,
        }
    }
}

/// Chip-to-chip links (ICI, NVLink-class) for sharded embeddings and multi-chip serving.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChipLinks {
    #[serde(default)]
    pub count: u32,
    /// Per link per direction, GB/s. Required when count > 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_gbps: Option<f64>,
    /// One-way latency. Default 500 ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ns: Option<f64>,
}

/// Silicon process and power envelope; inputs to the area, yield and cost models.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// Foundry node class: 28, 16, 10, 7 or 5.
    pub node_nm: u32,
    pub tdp_w: f64,
    /// Die area from a floorplan. When given it replaces the area estimate in the cost model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub die_area_mm2: Option<f64>,
    /// NoC, control, clocking, pad ring and white space as a fraction of the summed unit areas.
    /// Default 0.30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area_overhead_fraction: Option<f64>,
    /// Defect density D0. Default by node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defect_density_per_cm2: Option<f64>,
    /// Clustering parameter α of the negative-binomial yield model. Default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yield_cluster_alpha: Option<f64>,
    /// Processed wafer price. Default by node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wafer_cost_usd: Option<f64>,
    /// Default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wafer_diameter_mm: Option<f64>,
}

/// Everything besides the die that makes a unit's cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cost {
    /// Default by memory kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_usd_per_gb: Option<f64>,
    /// Substrate, assembly and test; with HBM also the 2.5-D interposer. Default by memory kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_usd: Option<f64>,
    /// One-time engineering cost amortized over `volume_units` (default: mask set + IP by node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nre_usd: Option<f64>,
    /// Units built. Default 100,000 (the low end of the seeds' plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_units: Option<u64>,
}
