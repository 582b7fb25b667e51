//! Energy: per-action energies by process node, static power, and the breakdown of a run.
//!
//! Every figure comes from `../shared/reference/hardware-and-workloads.md` §D (cited per
//! constant below as D.1–D.4); `(D)` marks a value derived here by stated arithmetic and `(U)`
//! an assumption where no primary number exists. A run's energy is the sum of:
//!
//! | component | counted as |
//! |---|---|
//! | `matrix` | MACs per precision × (multiply + accumulate) × (1 + [`EnergyOptions::pe_overhead`]) |
//! | `vector` | vector lane operations (an fp32 FMA, or an int32 add for integer dtypes) and transcendentals ([`crate::units::vpu::TRANSCENDENTAL_FMAS`] FMAs each) |
//! | `gather` | pooling: one fp32 add per element of every pooled row, plus an fp32 FMA per element to dequantise `emb8` rows |
//! | `sram_local`, `sram_shared` | bytes read and written × pJ per byte at the array's bank size |
//! | `noc` | bytes crossing the chip × wire pJ per byte per mm × half the die side |
//! | `memory_io`, `memory_core` | DRAM bits moved × pJ/bit, interface and core (array, activation) apart |
//! | `static` | [`EnergyOptions::static_fraction_of_tdp`] × TDP × run time |
//!
//! **Logic energy and node scaling** (a parameter, [`LogicEnergy`], because the two published
//! methods differ about 3× at 7 nm, D.2): `Tpuv4i` (default) anchors on Horowitz's 45 nm table
//! (D.1) and the TPUv4i paper's 7 nm table (D.2a) and interpolates log-log in the node between
//! them (below 7 nm it scales the 7 nm value by Stillmaker–Baas' 7→5 nm factor); `StillmakerBaas`
//! scales the 45 nm table by the Stillmaker–Baas energy factors (D.2b: 45→16 nm 0.174, 45→7 nm
//! 0.094, 45→5 nm 0.080; other nodes log-log interpolated), the optimistic bound.

use std::collections::BTreeMap;

use seedchip_chip::{Chip, MemoryKind, Precision};
use serde::Serialize;

/// How logic (and SRAM) energies scale from the published anchors to a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogicEnergy {
    /// Horowitz 45 nm and TPUv4i 7 nm measured tables, interpolated: realistic silicon.
    Tpuv4i,
    /// Horowitz 45 nm × Stillmaker–Baas scaling: optimistic.
    StillmakerBaas,
}

impl LogicEnergy {
    pub fn name(self) -> &'static str {
        match self {
            LogicEnergy::Tpuv4i => "tpuv4i",
            LogicEnergy::StillmakerBaas => "stillmaker-baas",
        }
    }

    pub fn parse(s: &str) -> Option<LogicEnergy> {
        match s {
            "tpuv4i" => Some(LogicEnergy::Tpuv4i),
            "stillmaker-baas" | "stillmaker" => Some(LogicEnergy::StillmakerBaas),
            _ => None,
        }
    }
}

/// The model's free parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyOptions {
    pub logic: LogicEnergy,
    /// Energy of a processing element beyond its multiplier and adder — operand, weight and
    /// partial-sum pipeline registers, in-array wires, the array's clock tree — as a multiple of
    /// the datapath energy. The tables of D.1/D.2 are datapath only. A systolic PE latches about
    /// 50 bits per cycle (activation, weight, partial sum); at Aladdin's 0.009 pJ per register
    /// bit at 40 nm (D.2c), scaled to 7 nm by Stillmaker–Baas (0.119, D.2b), that is 0.054 pJ,
    /// about half the int8 MAC's 0.10 pJ; the array's clock tree adds about as much again.
    /// Default 1.25, checked against three published chips by the test
    /// `energy_power_matches_published_chips` (TPU v1 45 W against ~40 W busy, MTIA v1 30 W
    /// against 25 W, TPU v4i 135 W against 175 W: all within 30 %, one parameter set).
    pub pe_overhead: f64,
    /// Static (leakage and always-on) power as a fraction of TDP (U: 7 nm-class accelerators
    /// leak 10–30 % of their power budget). Default 0.2.
    pub static_fraction_of_tdp: f64,
    /// On-chip wire energy (D.4: 18–110 fJ/bit/mm; this is the geometric mean, 44.5 fJ/bit/mm,
    /// = 0.356 pJ per byte per mm). Wires barely scale with the node, so it is not scaled.
    pub wire_pj_per_byte_mm: f64,
}

impl Default for EnergyOptions {
    fn default() -> Self {
        EnergyOptions {
            logic: LogicEnergy::Tpuv4i,
            pe_overhead: 1.25,
            static_fraction_of_tdp: 0.2,
            wire_pj_per_byte_mm: 0.356,
        }
    }
}

/// Stillmaker–Baas energy factor relative to 45 nm (D.2b), log-log interpolated between the
/// published points and held flat outside them.
pub fn stillmaker_factor(node_nm: u32) -> f64 {
    const POINTS: [(f64, f64); 4] = [(45.0, 1.0), (16.0, 0.174), (7.0, 0.094), (5.0, 0.080)];
    let x = f64::from(node_nm.max(1));
    if x >= POINTS[0].0 {
        return POINTS[0].1;
    }
    for w in POINTS.windows(2) {
        let ((x0, y0), (x1, y1)) = (w[0], w[1]);
        if x <= x0 && x >= x1 {
            let t = (x / x0).ln() / (x1 / x0).ln();
            return y0 * (y1 / y0).powf(t);
        }
    }
    POINTS[3].1
}

/// One energy (pJ) published at 45 nm (D.1) and measured at 7 nm (D.2a), at a node.
fn scaled(logic: LogicEnergy, node_nm: u32, e45: f64, e7: f64) -> f64 {
    match logic {
        LogicEnergy::StillmakerBaas => e45 * stillmaker_factor(node_nm),
        LogicEnergy::Tpuv4i => {
            let x = f64::from(node_nm.max(1));
            if x >= 45.0 {
                e45
            } else if x >= 7.0 {
                let t = (x / 45.0).ln() / (7.0f64 / 45.0).ln();
                e45 * (e7 / e45).powf(t)
            } else {
                e7 * stillmaker_factor(node_nm) / stillmaker_factor(7)
            }
        }
    }
}

/// Datapath ops: (45 nm Horowitz, 7 nm TPUv4i) pJ.
mod op {
    pub const INT8_MULT: (f64, f64) = (0.2, 0.07);
    pub const INT32_ADD: (f64, f64) = (0.1, 0.03);
    pub const FP16_MULT: (f64, f64) = (1.1, 0.34);
    /// 45 nm bf16 is not in Horowitz's table (D): fp16's scaled by TPUv4i's bf16/fp16 ratio
    /// at 7 nm (0.21 / 0.34).
    pub const BF16_MULT: (f64, f64) = (1.1 * 0.21 / 0.34, 0.21);
    pub const FP32_MULT: (f64, f64) = (3.7, 1.31);
    pub const FP32_ADD: (f64, f64) = (0.9, 0.38);
}

/// SRAM read energy per byte at array sizes 8 KiB, 32 KiB, 1 MiB: Horowitz 45 nm 64-bit reads of
/// 10/20/100 pJ (D.1) and TPUv4i 7 nm 7.5/8.5/14 pJ (D.2a), divided by 8 bytes.
const SRAM_ANCHORS: [(f64, (f64, f64)); 3] = [
    (8192.0, (1.25, 7.5 / 8.0)),
    (32768.0, (2.5, 8.5 / 8.0)),
    (1048576.0, (12.5, 14.0 / 8.0)),
];

/// Banks a core's local SRAM is split into for the energy of one access (U: the chip format
/// does not say; 16 keeps a 16 MiB scratchpad at the 1 MiB anchor).
pub const LOCAL_SRAM_BANKS: u64 = 16;

/// DRAM energy per bit, interface (I/O) and core (array, activation, on-die data path), by
/// kind. Totals (D.3): HBM2 3.9 (O'Connor et al., MICRO 2017), HBM2E 6.0 (Micron device
/// average), HBM3E 3.9 (Samsung, U), HBM3 4.84 (D: geometric mean of HBM2E and HBM3E, no
/// published figure), LPDDR5 5.0 (U: the commonly assumed 4–6), DDR3/DDR4/DDR5 20 (Horowitz's
/// 20–40 pJ/bit for a DRAM access, low end; no DDR5-specific figure). The I/O share (U): 25 %
/// for HBM (short interposer wires, TSVs), 40 % for LPDDR5 (package-on-board), 50 % for DDR
/// (board traces and terminations).
pub fn dram_pj_per_bit(kind: MemoryKind) -> (f64, f64) {
    let (total, io_share) = match kind {
        MemoryKind::Hbm2 => (3.9, 0.25),
        MemoryKind::Hbm2e => (6.0, 0.25),
        MemoryKind::Hbm3 => ((6.0f64 * 3.9).sqrt(), 0.25),
        MemoryKind::Hbm3e => (3.9, 0.25),
        MemoryKind::Lpddr5 => (5.0, 0.4),
        MemoryKind::Ddr5 | MemoryKind::Ddr4 | MemoryKind::Ddr3 => (20.0, 0.5),
    };
    (total * io_share, total * (1.0 - io_share))
}

/// Per-action energies for one chip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyParams {
    pub node_nm: u32,
    pub logic: LogicEnergy,
    /// Per MAC, PE overhead included.
    pub mac_pj: BTreeMap<Precision, f64>,
    pub fp32_fma_pj: f64,
    pub int32_op_pj: f64,
    pub local_sram_pj_per_byte: f64,
    pub shared_sram_pj_per_byte: f64,
    pub noc_pj_per_byte: f64,
    /// Average on-chip distance: half the side of a square die of the chip's area.
    pub noc_mm: f64,
    pub memory_io_pj_per_bit: f64,
    pub memory_core_pj_per_bit: f64,
    pub static_w: f64,
}

/// SRAM pJ per byte for an array (bank) of `bytes`, log-log interpolated between the anchors,
/// extended past 1 MiB with the last segment's slope and held flat below 8 KiB.
pub fn sram_pj_per_byte(logic: LogicEnergy, node_nm: u32, bytes: u64) -> f64 {
    let at = |i: usize| {
        let (_, (e45, e7)) = SRAM_ANCHORS[i];
        scaled(logic, node_nm, e45, e7)
    };
    let x = (bytes.max(1) as f64).max(SRAM_ANCHORS[0].0);
    let seg = if x <= SRAM_ANCHORS[1].0 { 0 } else { 1 };
    let (x0, x1) = (SRAM_ANCHORS[seg].0, SRAM_ANCHORS[seg + 1].0);
    let (y0, y1) = (at(seg), at(seg + 1));
    let t = (x / x0).ln() / (x1 / x0).ln();
    y0 * (y1 / y0).powf(t)
}

impl EnergyParams {
    pub fn for_chip(chip: &Chip, opts: &EnergyOptions) -> EnergyParams {
        let node = chip.process.node_nm;
        let e = |(a, b): (f64, f64)| scaled(opts.logic, node, a, b);
        let pe = 1.0 + opts.pe_overhead;
        let acc32 = e(op::FP32_ADD);
        let mut mac_pj = BTreeMap::new();
        mac_pj.insert(Precision::Int8, (e(op::INT8_MULT) + e(op::INT32_ADD)) * pe);
        // fp8: a 4-bit significand product is no larger than an int8 multiply (D: bound).
        mac_pj.insert(Precision::Fp8, (e(op::INT8_MULT) + acc32) * pe);
        mac_pj.insert(Precision::Bf16, (e(op::BF16_MULT) + acc32) * pe);
        mac_pj.insert(Precision::Fp16, (e(op::FP16_MULT) + acc32) * pe);
        mac_pj.insert(Precision::Fp32, (e(op::FP32_MULT) + acc32) * pe);
        let shared_bank =
            chip.shared_sram.capacity_bytes / u64::from(chip.shared_sram.banks.max(1));
        let local_bank = chip.cores.local_sram_bytes / LOCAL_SRAM_BANKS;
        let area = seedchip_chip::derive(chip).area_mm2;
        let noc_mm = area.sqrt() / 2.0;
        let (io, core) = dram_pj_per_bit(chip.memory.kind);
        EnergyParams {
            node_nm: node,
            logic: opts.logic,
            mac_pj,
            fp32_fma_pj: e(op::FP32_MULT) + e(op::FP32_ADD),
            int32_op_pj: e(op::INT32_ADD),
            local_sram_pj_per_byte: sram_pj_per_byte(opts.logic, node, local_bank),
            shared_sram_pj_per_byte: sram_pj_per_byte(opts.logic, node, shared_bank),
            noc_pj_per_byte: opts.wire_pj_per_byte_mm * noc_mm,
            noc_mm,
            memory_io_pj_per_bit: io,
            memory_core_pj_per_bit: core,
            static_w: opts.static_fraction_of_tdp * chip.process.tdp_w,
        }
    }
}

/// Actions a run performed, counted by the simulator.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Actions {
    pub macs: BTreeMap<Precision, u64>,
    pub vector_float_ops: u64,
    pub vector_int_ops: u64,
    pub transcendentals: u64,
    /// Row elements pooled by gather engines (one fp32 add each).
    pub pooled_elements: u64,
    /// `emb8` elements dequantised (one fp32 FMA each).
    pub dequantized_elements: u64,
    pub local_sram_bytes: u64,
    pub shared_sram_bytes: u64,
    pub noc_bytes: u64,
    pub dram_bytes: u64,
}

/// Energy of a run, by component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyReport {
    pub logic: LogicEnergy,
    pub params: EnergyParams,
    /// pJ per component; `total_pj` is their sum.
    pub breakdown_pj: BTreeMap<String, f64>,
    pub total_pj: f64,
    pub dynamic_pj: f64,
    pub seconds: f64,
    pub average_power_w: f64,
    pub static_power_w: f64,
    pub energy_per_inference_uj: f64,
    pub inferences_per_s: f64,
    pub inferences_per_s_per_w: f64,
}

/// Energy of `actions` over `seconds` for `inferences` samples.
pub fn energy(p: &EnergyParams, a: &Actions, seconds: f64, inferences: u64) -> EnergyReport {
    let mut b = BTreeMap::new();
    let matrix: f64 = a
        .macs
        .iter()
        .map(|(prec, &n)| n as f64 * p.mac_pj.get(prec).copied().unwrap_or(0.0))
        .sum();
    b.insert("matrix".to_string(), matrix);
    let vector = a.vector_float_ops as f64 * p.fp32_fma_pj
        + a.vector_int_ops as f64 * p.int32_op_pj
        + (a.transcendentals * crate::units::vpu::TRANSCENDENTAL_FMAS) as f64 * p.fp32_fma_pj;
    b.insert("vector".to_string(), vector);
    let fp32_add = p.fp32_fma_pj - scaled(p.logic, p.node_nm, op::FP32_MULT.0, op::FP32_MULT.1);
    b.insert(
        "gather".to_string(),
        a.pooled_elements as f64 * fp32_add + a.dequantized_elements as f64 * p.fp32_fma_pj,
    );
    b.insert(
        "sram_local".to_string(),
        a.local_sram_bytes as f64 * p.local_sram_pj_per_byte,
    );
    b.insert(
        "sram_shared".to_string(),
        a.shared_sram_bytes as f64 * p.shared_sram_pj_per_byte,
    );
    b.insert("noc".to_string(), a.noc_bytes as f64 * p.noc_pj_per_byte);
    let bits = a.dram_bytes as f64 * 8.0;
    b.insert("memory_io".to_string(), bits * p.memory_io_pj_per_bit);
    b.insert("memory_core".to_string(), bits * p.memory_core_pj_per_bit);
    let dynamic: f64 = b.values().sum();
    let stat = p.static_w * seconds * 1e12;
    b.insert("static".to_string(), stat);
    let total: f64 = b.values().sum();
    let power = if seconds > 0.0 {
        total * 1e-12 / seconds
    } else {
        0.0
    };
    let n = inferences.max(1) as f64;
    let ips = if seconds > 0.0 { n / seconds } else { 0.0 };
    EnergyReport {
        logic: p.logic,
        params: p.clone(),
        breakdown_pj: b,
        total_pj: total,
        dynamic_pj: dynamic,
        seconds,
        average_power_w: power,
        static_power_w: p.static_w,
        energy_per_inference_uj: total * 1e-6 / n,
        inferences_per_s: ips,
        inferences_per_s_per_w: if power > 0.0 { ips / power } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_reproduced() {
        // 45 nm is Horowitz, 7 nm is TPUv4i, in the default mode.
        assert!((scaled(LogicEnergy::Tpuv4i, 45, 0.2, 0.07) - 0.2).abs() < 1e-12);
        assert!((scaled(LogicEnergy::Tpuv4i, 7, 0.2, 0.07) - 0.07).abs() < 1e-12);
        assert!((stillmaker_factor(7) - 0.094).abs() < 1e-12);
        assert!((stillmaker_factor(16) - 0.174).abs() < 1e-12);
        let s28 = stillmaker_factor(28);
        assert!(s28 < 1.0 && s28 > 0.174);
        // SRAM: 1 MiB at 7 nm is 14 pJ per 64-bit read.
        let e = sram_pj_per_byte(LogicEnergy::Tpuv4i, 7, 1 << 20);
        assert!((e - 1.75).abs() < 1e-9);
        assert!(sram_pj_per_byte(LogicEnergy::Tpuv4i, 7, 4 << 20) > e);
        assert!(
            sram_pj_per_byte(LogicEnergy::StillmakerBaas, 7, 8192)
                < sram_pj_per_byte(LogicEnergy::Tpuv4i, 7, 8192)
        );
    }

    #[test]
    fn breakdown_sums_to_total() {
        let chip = seedchip_chip::presets::get("seedchip-v1").unwrap();
        let p = EnergyParams::for_chip(&chip, &EnergyOptions::default());
        let mut a = Actions::default();
        a.macs.insert(Precision::Int8, 1_000_000);
        a.vector_float_ops = 1000;
        a.dram_bytes = 4096;
        a.noc_bytes = 4096;
        a.shared_sram_bytes = 100;
        let r = energy(&p, &a, 1e-6, 8);
        let sum: f64 = r.breakdown_pj.values().sum();
        assert_eq!(sum, r.total_pj);
        assert!((r.breakdown_pj["static"] - p.static_w * 1e-6 * 1e12).abs() < 1e-6);
        assert!((r.average_power_w - r.total_pj * 1e-12 / 1e-6).abs() < 1e-9);
    }
}
