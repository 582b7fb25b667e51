//! Figures derived from a resolved, valid chip: the architect's first questions ("what are its
//! peaks?", "what does the die cost?").
//!
//! Area model. Each unit's area is computed from counts and per-node densities, then a documented
//! overhead covers what no unit owns (NoC, control, clocking, pad ring, white space):
//! - matrix arrays: MACs × transistor-equivalents per MAC ÷ logic density. The int8 MAC's
//!   18,500 transistor-equivalents are fitted on TPU v1's floorplan (MXU = 24 % of a ≤ 331 mm² die
//!   for 65,536 MACs at 15.3 MTr/mm²); other precisions scale by published relative MAC areas.
//!   A multi-precision unit costs its most expensive mode (shared datapath).
//! - SRAM: MiB × mm²/MiB by node (macro density, periphery included);
//! - vector lanes, gather and DMA engines, per-core control: transistor-equivalents ÷ density;
//! - memory, host and chip-to-chip PHYs: fixed areas per interface (they barely scale).
//!
//! Cost model (ttm-cas / LLMCompass): dies per wafer π(d/2)²/A − πd/√(2A); negative-binomial yield
//! (1 + A·D0/α)^−α; die cost = wafer cost ÷ (dies × yield); unit cost = die + memory + package +
//! NRE ÷ volume.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::desc::Chip;
use crate::node::{NodeParams, node_params};
use crate::precision::Precision;

/// int8 MAC with its weight/activation registers and 32-bit accumulate, fitted on TPU v1.
pub const INT8_MAC_TRANSISTORS: f64 = 18_500.0;

/// MAC area relative to int8 (multiplier area grows with mantissa width squared; fp adds
/// alignment and normalisation). Sources: Horowitz ISSCC 2014 relative costs and LLMCompass's
/// FPU transistor scaling; values are round figures, not fits.
pub fn relative_mac_area(p: Precision) -> f64 {
    match p {
        Precision::Int4 => 0.5,
        Precision::Int8 => 1.0,
        Precision::Fp8 => 1.4,
        Precision::Bf16 => 2.2,
        Precision::Fp16 => 2.6,
        Precision::Int32 => 5.0,
        Precision::Tf32 => 3.5,
        Precision::Fp32 => 6.0,
    }
}

/// An fp32 FMA lane with its register slice.
pub const VECTOR_LANE_TRANSISTORS: f64 = 120_000.0;
/// Row address generation, request queues and a pooling datapath per gather engine.
pub const GATHER_ENGINE_TRANSISTORS: f64 = 3.0e6;
pub const DMA_ENGINE_TRANSISTORS: f64 = 1.0e6;
/// Scalar control processor, instruction memory and queues per core.
pub const CORE_CONTROL_TRANSISTORS: f64 = 20.0e6;
/// PCIe PHY + controller per lane (LLMCompass: 0.64 mm² per PCIe5 lane).
pub const HOST_PHY_MM2_PER_LANE: f64 = 0.64;
/// Chip-to-chip SerDes per GB/s per direction (LLMCompass: NVLink4 link, 0.965 mm² per 25 GB/s).
pub const CHIP_LINK_MM2_PER_GBPS: f64 = 0.965 / 25.0;

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Area {
    pub matrix_mm2: f64,
    pub sram_mm2: f64,
    pub vector_mm2: f64,
    pub gather_mm2: f64,
    pub dma_mm2: f64,
    pub control_mm2: f64,
    pub memory_phy_mm2: f64,
    pub host_phy_mm2: f64,
    pub chip_link_phy_mm2: f64,
    pub overhead_mm2: f64,
    /// Sum of the above.
    pub estimated_mm2: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DieCost {
    pub wafer_cost_usd: f64,
    pub wafer_diameter_mm: f64,
    pub defect_density_per_cm2: f64,
    pub yield_cluster_alpha: f64,
    pub dies_per_wafer: f64,
    pub die_yield: f64,
    pub good_dies_per_wafer: f64,
    pub die_cost_usd: f64,
    pub memory_cost_usd: f64,
    pub package_usd: f64,
    pub nre_per_unit_usd: f64,
    pub unit_cost_usd: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Derived {
    /// Dense peak, 2 ops per MAC, by precision.
    pub peak_ops_per_s: BTreeMap<Precision, f64>,
    /// The same in tera-ops per second, for reading.
    pub peak_tops: BTreeMap<Precision, f64>,
    pub macs_per_cycle: BTreeMap<Precision, u64>,
    pub vector_flops_per_s: f64,
    pub memory_bandwidth_gbps: f64,
    pub memory_capacity_bytes: u64,
    pub memory_channels: u64,
    pub memory_bus_width_bits: u64,
    /// Peak ops per byte of off-chip bandwidth: below this a kernel is memory-bound.
    pub machine_balance_ops_per_byte: BTreeMap<Precision, f64>,
    pub local_sram_total_bytes: u64,
    pub shared_sram_bytes: u64,
    pub sram_total_bytes: u64,
    pub shared_sram_bandwidth_gbps: f64,
    pub gather_rows_per_s: f64,
    pub host_link_gbps: f64,
    pub chip_link_total_gbps: f64,
    pub tdp_w: f64,
    pub peak_tops_per_w: BTreeMap<Precision, f64>,
    /// Area used for cost: the given floorplan area, else the estimate.
    pub area_mm2: f64,
    pub area_source: AreaSource,
    pub area: Area,
    pub dies_per_wafer: f64,
    pub die_yield: f64,
    pub unit_cost_usd: f64,
    pub cost: DieCost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AreaSource {
    Estimate,
    Given,
}

/// Gross dies on a round wafer, with the edge-loss term.
pub fn dies_per_wafer(wafer_diameter_mm: f64, die_area_mm2: f64) -> f64 {
    let d = wafer_diameter_mm;
    let a = die_area_mm2;
    std::f64::consts::PI * (d / 2.0).powi(2) / a - std::f64::consts::PI * d / (2.0 * a).sqrt()
}

/// Negative-binomial (clustered-defect) yield.
pub fn negative_binomial_yield(die_area_mm2: f64, d0_per_cm2: f64, alpha: f64) -> f64 {
    let area_cm2 = die_area_mm2 / 100.0;
    (1.0 + area_cm2 * d0_per_cm2 / alpha).powf(-alpha)
}

/// Derived figures. Panics if the chip was not resolved and validated: callers get chips from
/// [`crate::from_toml_str`] or [`crate::presets::get`], which do both.
pub fn derive(chip: &Chip) -> Derived {
    let node = node_params(chip.process.node_nm).unwrap_or_else(|| {
        panic!(
            "derive() on an unvalidated chip: node {}",
            chip.process.node_nm
        )
    });
    let clock_hz = chip.clock_mhz * 1e6;
    let cores = u64::from(chip.cores.count);

    let mut macs_per_cycle: BTreeMap<Precision, u64> = BTreeMap::new();
    for unit in &chip.cores.matrix_units {
        let n = u64::from(unit.count.unwrap_or(1));
        for (&p, &m) in &unit.macs_per_cycle {
            *macs_per_cycle.entry(p).or_default() += cores * n * m;
        }
    }
    let peak_ops_per_s: BTreeMap<Precision, f64> = macs_per_cycle
        .iter()
        .map(|(&p, &m)| (p, 2.0 * m as f64 * clock_hz))
        .collect();
    let peak_tops = peak_ops_per_s
        .iter()
        .map(|(&p, &o)| (p, o / 1e12))
        .collect();

    let mem = &chip.memory;
    let bw_gbps = mem.bandwidth_gbps.expect("resolved memory has a bandwidth");
    let machine_balance_ops_per_byte = peak_ops_per_s
        .iter()
        .map(|(&p, &o)| (p, o / (bw_gbps * 1e9)))
        .collect();
    let tdp_w = chip.process.tdp_w;
    let peak_tops_per_w = peak_ops_per_s
        .iter()
        .map(|(&p, &o)| (p, o / 1e12 / tdp_w))
        .collect();

    let v = &chip.cores.vector;
    let vector_flops_per_s = 2.0
        * cores as f64
        * f64::from(v.lanes)
        * f64::from(v.fma_per_lane_per_cycle.unwrap_or(1))
        * clock_hz;

    let local_sram_total_bytes = cores * chip.cores.local_sram_bytes;
    let shared = chip.shared_sram.capacity_bytes;
    let g = &chip.gather;
    let gather_rows_per_s =
        f64::from(g.engines) * f64::from(g.row_requests_per_cycle.unwrap_or(1)) * clock_hz;
    let chip_link_total_gbps =
        f64::from(chip.chip_links.count) * chip.chip_links.bandwidth_gbps.unwrap_or(0.0);

    let area = estimate_area(chip, &node);
    let (area_mm2, area_source) = match chip.process.die_area_mm2 {
        Some(a) => (a, AreaSource::Given),
        None => (area.estimated_mm2, AreaSource::Estimate),
    };
    let cost = die_cost(chip, &node, area_mm2);

    Derived {
        peak_ops_per_s,
        peak_tops,
        macs_per_cycle,
        vector_flops_per_s,
        memory_bandwidth_gbps: bw_gbps,
        memory_capacity_bytes: mem.capacity_bytes,
        memory_channels: mem.total_channels().unwrap_or(0),
        memory_bus_width_bits: mem.bus_width_bits().unwrap_or(0),
        machine_balance_ops_per_byte,
        local_sram_total_bytes,
        shared_sram_bytes: shared,
        sram_total_bytes: local_sram_total_bytes + shared,
        shared_sram_bandwidth_gbps: chip.shared_sram.bytes_per_cycle as f64 * clock_hz / 1e9,
        gather_rows_per_s,
        host_link_gbps: chip
            .host_link
            .bandwidth_gbps
            .unwrap_or_else(|| chip.host_link.derived_bandwidth_gbps()),
        chip_link_total_gbps,
        tdp_w,
        peak_tops_per_w,
        area_mm2,
        area_source,
        dies_per_wafer: cost.dies_per_wafer,
        die_yield: cost.die_yield,
        unit_cost_usd: cost.unit_cost_usd,
        area,
        cost,
    }
}

fn estimate_area(chip: &Chip, node: &NodeParams) -> Area {
    let per_mm2 = node.logic_density_mtr_per_mm2 * 1e6;
    let cores = f64::from(chip.cores.count);
    let matrix_transistors: f64 = chip
        .cores
        .matrix_units
        .iter()
        .map(|u| {
            let widest = u
                .macs_per_cycle
                .iter()
                .map(|(&p, &m)| m as f64 * relative_mac_area(p))
                .fold(0.0, f64::max);
            f64::from(u.count.unwrap_or(1)) * widest * INT8_MAC_TRANSISTORS
        })
        .sum();
    let matrix_mm2 = cores * matrix_transistors / per_mm2;
    let sram_bytes =
        cores * chip.cores.local_sram_bytes as f64 + chip.shared_sram.capacity_bytes as f64;
    let sram_mm2 = sram_bytes / (1024.0 * 1024.0) * node.sram_mm2_per_mib;
    let vector_mm2 = cores * f64::from(chip.cores.vector.lanes) * VECTOR_LANE_TRANSISTORS / per_mm2;
    let gather_mm2 = f64::from(chip.gather.engines) * GATHER_ENGINE_TRANSISTORS / per_mm2;
    let dma_mm2 = f64::from(chip.dma.engines.unwrap_or(0)) * DMA_ENGINE_TRANSISTORS / per_mm2;
    let control_mm2 = cores * CORE_CONTROL_TRANSISTORS / per_mm2;
    let mem = &chip.memory;
    let phy = mem.kind.defaults().phy_mm2;
    let memory_phy_mm2 = if mem.kind.is_hbm() {
        f64::from(mem.stacks.unwrap_or(0)) * phy
    } else {
        mem.bus_width_bits().unwrap_or(0) as f64 / 32.0 * phy
    };
    let host_phy_mm2 = f64::from(chip.host_link.lanes) * HOST_PHY_MM2_PER_LANE;
    let chip_link_phy_mm2 = f64::from(chip.chip_links.count)
        * chip.chip_links.bandwidth_gbps.unwrap_or(0.0)
        * CHIP_LINK_MM2_PER_GBPS;
    let units = matrix_mm2
        + sram_mm2
        + vector_mm2
        + gather_mm2
        + dma_mm2
        + control_mm2
        + memory_phy_mm2
        + host_phy_mm2
        + chip_link_phy_mm2;
    let overhead_mm2 = units * chip.process.area_overhead_fraction.unwrap_or(0.0);
    Area {
        matrix_mm2,
        sram_mm2,
        vector_mm2,
        gather_mm2,
        dma_mm2,
        control_mm2,
        memory_phy_mm2,
        host_phy_mm2,
        chip_link_phy_mm2,
        overhead_mm2,
        estimated_mm2: units + overhead_mm2,
    }
}

fn die_cost(chip: &Chip, node: &NodeParams, area_mm2: f64) -> DieCost {
    let p = &chip.process;
    let wafer_cost_usd = p.wafer_cost_usd.unwrap_or(node.wafer_cost_usd);
    let wafer_diameter_mm = p.wafer_diameter_mm.unwrap_or(300.0);
    let d0 = p
        .defect_density_per_cm2
        .unwrap_or(node.defect_density_per_cm2);
    let alpha = p.yield_cluster_alpha.unwrap_or(3.0);
    let dpw = dies_per_wafer(wafer_diameter_mm, area_mm2);
    let y = negative_binomial_yield(area_mm2, d0, alpha);
    let good = dpw * y;
    let die_cost_usd = wafer_cost_usd / good;
    let c = &chip.cost;
    let memory_cost_usd =
        chip.memory.capacity_bytes as f64 / 1e9 * c.memory_usd_per_gb.unwrap_or(0.0);
    let package_usd = c.package_usd.unwrap_or(0.0);
    let nre_per_unit_usd = c.nre_usd.unwrap_or(0.0) / c.volume_units.unwrap_or(1) as f64;
    DieCost {
        wafer_cost_usd,
        wafer_diameter_mm,
        defect_density_per_cm2: d0,
        yield_cluster_alpha: alpha,
        dies_per_wafer: dpw,
        die_yield: y,
        good_dies_per_wafer: good,
        die_cost_usd,
        memory_cost_usd,
        package_usd,
        nre_per_unit_usd,
        unit_cost_usd: die_cost_usd + memory_cost_usd + package_usd + nre_per_unit_usd,
    }
}
