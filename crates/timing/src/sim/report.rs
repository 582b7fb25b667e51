//! What a simulation reports (`seedchip sim --json`). Plain data, maps ordered, so the same run
//! serializes to the same bytes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::energy::EnergyReport;
use crate::units::memctl::MemorySummary;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    pub schema_version: u32,
    pub chip: String,
    pub clock_mhz: f64,
    pub precision: String,
    pub batch: u32,
    /// Cycles from the first instruction's start to the last one's completion (core clock).
    pub cycles: u64,
    pub latency_us: f64,
    pub throughput_samples_per_s: f64,
    pub instructions: u64,
    /// Kernel events processed (a measure of the simulator's own work).
    pub events: u64,
    pub queues: Vec<QueueReport>,
    pub engines: Vec<EngineReport>,
    pub matrix: MatrixReport,
    pub vector: VectorReport,
    pub gather: GatherReport,
    pub dma: DmaReport,
    pub shared_sram: SramReport,
    pub memory: MemoryReport,
    pub energy: EnergyReport,
    pub roofline: Roofline,
}

/// One in-order queue of one core. Every cycle of the run is one of: busy (an instruction of
/// the queue executing), stalled on a semaphore (the next instruction is next in program order
/// but its wait is not satisfied), stalled on its unit (waiting for an engine, or for the matrix
/// units to accept another tile), or idle (nothing left, or not yet dispatched work).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueReport {
    pub core: u32,
    pub queue: String,
    pub instructions: u64,
    pub busy_cycles: u64,
    pub stall_semaphore_cycles: u64,
    pub stall_unit_cycles: u64,
    pub idle_cycles: u64,
    pub utilization: f64,
}

/// A chip-wide gather or DMA engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineReport {
    pub name: String,
    /// `gather` or `dma`.
    pub kind: String,
    pub jobs: u64,
    pub busy_cycles: u64,
    pub utilization: f64,
    /// Rows issued (gather jobs) or bytes moved (DMA jobs).
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatrixReport {
    pub instructions: u64,
    pub macs: BTreeMap<String, u64>,
    /// Chip-wide peak MACs per cycle by precision.
    pub peak_macs_per_cycle: BTreeMap<String, u64>,
    /// MACs over (peak × cycles), summed over precisions.
    pub utilization: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VectorReport {
    pub instructions: u64,
    pub elements: u64,
    pub lane_ops: u64,
    pub transcendentals: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GatherReport {
    pub instructions: u64,
    pub bags: u64,
    /// Ids read (every occurrence).
    pub lookups: u64,
    /// Distinct rows per instruction, summed: what the engines fetched after coalescing.
    pub rows_fetched: u64,
    /// `lookups − rows_fetched`: duplicate ids within an instruction served by one fetch.
    pub coalesced: u64,
    /// Fetched rows served by the hot-row cache in shared SRAM.
    pub cache_hits: u64,
    /// `cache_hits / rows_fetched`.
    pub cache_hit_rate: f64,
    /// Lookups whose row was cached (funcsim's `gather_cached_rows`).
    pub cached_lookups: u64,
    /// `cached_lookups / lookups`.
    pub cache_hit_rate_lookups: f64,
    pub rows_from_memory: u64,
    pub bytes_from_memory: u64,
    /// Distinct (table, row) pairs over the whole run.
    pub distinct_rows: u64,
    pub engines: u32,
    /// True when the chip has no gather engines and gathers ran on the DMA engines.
    pub on_dma_engines: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DmaReport {
    pub instructions: u64,
    /// Bytes by `src->dst` space.
    pub bytes: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SramReport {
    pub banks: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Bank-cycles serving bytes, over (banks × cycles).
    pub utilization: f64,
    /// Cycles accesses took beyond a conflict-free spread over all banks, summed.
    pub conflict_cycles: u64,
    /// Bytes read and written in the cores' local SRAMs (not bandwidth-limited in the model).
    pub local_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryReport {
    #[serde(flatten)]
    pub summary: MemorySummary,
    /// Bytes requested over the run's time.
    pub achieved_gbps: f64,
    pub utilization: f64,
}

/// The chip's bound for this program: the slowest of compute, off-chip traffic and lookups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Roofline {
    pub compute_cycles: f64,
    /// Minimum off-chip bytes: data segments (weights, constants) once, model inputs and outputs
    /// bound in HBM once, every distinct embedding row touched once.
    pub min_offchip_bytes: u64,
    pub memory_cycles: f64,
    pub lookups: u64,
    pub gather_cycles: f64,
    pub bound_cycles: f64,
    /// `compute`, `memory` or `gather`.
    pub bound: String,
    /// Bound cycles over simulated cycles: simulated throughput over the chip's bound.
    pub roofline_fraction: f64,
    /// Bytes the run moved off chip (requested): at least `min_offchip_bytes`.
    pub offchip_bytes: u64,
}
