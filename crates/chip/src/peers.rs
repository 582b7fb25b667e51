//! Datasheet records of peer devices: GPUs and other products that seedchip compares against but
//! does not simulate. Figures come from ../shared/reference/hardware-and-workloads.md §A (dense
//! peaks, no sparsity doubling); `contested` marks devices whose figures come from leaks or
//! disagreeing secondary sources, and `notes` says what is uncertain.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::Precision;

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Peer {
    pub name: &'static str,
    pub vendor: &'static str,
    pub product: &'static str,
    /// Dense peak in TFLOPS / TOPS by precision (2 ops per MAC).
    pub peak_tops: BTreeMap<Precision, f64>,
    pub memory_kind: &'static str,
    pub memory_capacity_gb: f64,
    /// GB/s (10^9 bytes per second).
    pub memory_bandwidth_gbps: f64,
    /// Last-level on-chip cache or SRAM, MB.
    pub on_chip_mb: Option<f64>,
    pub tdp_w: Option<f64>,
    pub process: &'static str,
    pub die_area_mm2: Option<f64>,
    pub price_usd: Option<f64>,
    pub price_note: &'static str,
    pub contested: bool,
    pub notes: &'static str,
    pub sources: &'static str,
}

impl Peer {
    /// Peak ops per byte of memory bandwidth at a precision.
    pub fn machine_balance_ops_per_byte(&self, p: Precision) -> Option<f64> {
        let tops = self.peak_tops.get(&p)?;
        Some(tops * 1e12 / (self.memory_bandwidth_gbps * 1e9))
    }
}

fn peaks(list: &[(Precision, f64)]) -> BTreeMap<Precision, f64> {
    list.iter().copied().collect()
}

const NVIDIA_DATASHEETS: &str = "NVIDIA datasheets as reproduced in reference §A.1 \
    (H100/H200/A100/L4 datasheets; B200 from the HGX B200 / GB200 NVL72 spec table, sparse values halved)";

/// Every peer, in listing order.
pub fn all() -> Vec<Peer> {
    use Precision::*;
    vec![
        Peer {
            name: "h100-sxm",
            vendor: "NVIDIA",
            product: "H100 SXM5 80GB",
            peak_tops: peaks(&[
                (Fp32, 67.0),
                (Tf32, 494.7),
                (Bf16, 989.4),
                (Fp16, 989.4),
                (Fp8, 1978.9),
                (Int8, 1978.9),
            ]),
            memory_kind: "hbm3",
            memory_capacity_gb: 80.0,
            memory_bandwidth_gbps: 3350.0,
            on_chip_mb: Some(50.0),
            tdp_w: Some(700.0),
            process: "TSMC 4N",
            die_area_mm2: Some(814.0),
            price_usd: Some(30_678.0),
            price_note: "street price quoted by y-ic.de (U); ranges $25-31k",
            contested: false,
            notes: "132 SMs; tensor peaks imply 1.83 GHz",
            sources: NVIDIA_DATASHEETS,
        },
        Peer {
            name: "h200",
            vendor: "NVIDIA",
            product: "H200 SXM 141GB",
            peak_tops: peaks(&[
                (Fp32, 67.0),
                (Tf32, 494.7),
                (Bf16, 989.4),
                (Fp16, 989.4),
                (Fp8, 1978.9),
                (Int8, 1978.9),
            ]),
            memory_kind: "hbm3e",
            memory_capacity_gb: 141.0,
            memory_bandwidth_gbps: 4800.0,
            on_chip_mb: Some(50.0),
            tdp_w: Some(700.0),
            process: "TSMC 4N",
            die_area_mm2: Some(814.0),
            price_usd: None,
            price_note: "no public price",
            contested: false,
            notes: "same GH100 die as H100 with 6 HBM3e stacks",
            sources: NVIDIA_DATASHEETS,
        },
        Peer {
            name: "h20",
            vendor: "NVIDIA",
            product: "H20 96GB (China)",
            peak_tops: peaks(&[
                (Fp32, 44.0),
                (Tf32, 74.0),
                (Bf16, 148.0),
                (Fp16, 148.0),
                (Fp8, 296.0),
                (Int8, 296.0),
            ]),
            memory_kind: "hbm3",
            memory_capacity_gb: 96.0,
            memory_bandwidth_gbps: 4000.0,
            on_chip_mb: Some(60.0),
            tdp_w: Some(400.0),
            process: "TSMC 4N (cut-down GH100)",
            die_area_mm2: Some(814.0),
            price_usd: Some(12_000.0),
            price_note: "press reports, no vendor price (U): Reuters (Jan 2024) $12-15k per card from distributors, SemiAnalysis/FT (Jul 2024) average $12k; lower end used",
            contested: true,
            notes: "CONTESTED: every figure is from a leaked NVIDIA sheet (TweakTown 2024); 78 SMs only \
                    from Geekbench; memory reported as HBM3 or HBM3e; no official datasheet",
            sources: "reference §A.1 and §A.4 (TweakTown, willitrunai.com, zangshuxian.com)",
        },
        Peer {
            name: "a100-80g",
            vendor: "NVIDIA",
            product: "A100 SXM 80GB",
            peak_tops: peaks(&[
                (Fp32, 19.5),
                (Tf32, 156.0),
                (Bf16, 312.0),
                (Fp16, 312.0),
                (Int8, 624.0),
            ]),
            memory_kind: "hbm2e",
            memory_capacity_gb: 80.0,
            memory_bandwidth_gbps: 2039.0,
            on_chip_mb: Some(40.0),
            tdp_w: Some(400.0),
            process: "TSMC N7",
            die_area_mm2: Some(826.0),
            price_usd: Some(24_875.0),
            price_note: "DGX A100 (8 GPUs) launched at $199k; per-GPU share of a whole server",
            contested: false,
            notes: "no fp8; 108 SMs at 1.41 GHz",
            sources: NVIDIA_DATASHEETS,
        },
        Peer {
            name: "l4",
            vendor: "NVIDIA",
            product: "L4 24GB",
            peak_tops: peaks(&[
                (Fp32, 30.3),
                (Tf32, 60.0),
                (Bf16, 121.0),
                (Fp16, 121.0),
                (Fp8, 242.5),
                (Int8, 242.5),
            ]),
            memory_kind: "gddr6",
            memory_capacity_gb: 24.0,
            memory_bandwidth_gbps: 300.0,
            on_chip_mb: Some(48.0),
            tdp_w: Some(72.0),
            process: "TSMC 4N",
            die_area_mm2: Some(294.0),
            price_usd: None,
            price_note: "no public price",
            contested: false,
            notes: "AD104; low-power inference card",
            sources: NVIDIA_DATASHEETS,
        },
        Peer {
            name: "b200",
            vendor: "NVIDIA",
            product: "B200 (HGX, 1 kW)",
            peak_tops: peaks(&[
                (Fp32, 80.0),
                (Tf32, 1100.0),
                (Bf16, 2250.0),
                (Fp16, 2250.0),
                (Fp8, 4500.0),
                (Int8, 4500.0),
            ]),
            memory_kind: "hbm3e",
            memory_capacity_gb: 180.0,
            memory_bandwidth_gbps: 7700.0,
            on_chip_mb: None,
            tdp_w: Some(1000.0),
            process: "TSMC 4NP, two reticle-sized dies",
            die_area_mm2: None,
            price_usd: None,
            price_note: "no public price",
            contested: true,
            notes: "CONTESTED: HGX (1.0 kW, 180 GB, 7.7 TB/s) and GB200 (1.2 kW, 186 GB, 8 TB/s) figures \
                    differ; early material said 192 GB; FP32 75, 80 or 90 TF by source",
            sources: "reference §A.1 and §A.4",
        },
        Peer {
            name: "ascend-910b",
            vendor: "Huawei",
            product: "Ascend 910B",
            peak_tops: peaks(&[(Bf16, 320.0), (Fp16, 320.0), (Int8, 640.0)]),
            memory_kind: "hbm2e",
            memory_capacity_gb: 64.0,
            memory_bandwidth_gbps: 1600.0,
            on_chip_mb: None,
            tdp_w: Some(400.0),
            process: "SMIC 7 nm-class (N+1/N+2)",
            die_area_mm2: None,
            price_usd: Some(16_700.0),
            price_note: "press report, no vendor price (U): Reuters (Jan 2024) about 120,000 yuan per card (~$16,700 at 7.2 CNY/USD)",
            contested: true,
            notes: "CONTESTED: no official datasheet; fp16 280-376 TF by SKU (910B1-B4, 320 most cited); \
                    bandwidth quoted as 1.6 TB/s, 1.2 TB/s or 400 GB/s; TDP 310-400 W; no fp8",
            sources: "reference §A.2 and §A.4 (boardor.com, besthub.dev)",
        },
        Peer {
            name: "inferentia2",
            vendor: "AWS",
            product: "Inferentia2",
            peak_tops: peaks(&[
                (Fp32, 47.5),
                (Tf32, 190.0),
                (Bf16, 190.0),
                (Fp16, 190.0),
                (Fp8, 190.0),
                (Int8, 380.0),
            ]),
            memory_kind: "hbm",
            memory_capacity_gb: 34.36,
            memory_bandwidth_gbps: 880.5,
            on_chip_mb: None,
            tdp_w: None,
            process: "not published",
            die_area_mm2: None,
            price_usd: None,
            price_note: "sold only as cloud instances",
            contested: false,
            notes: "2 NeuronCore-v2; 32 GiB and 820 GiB/s as published (converted to GB); TDP not published",
            sources: "AWS Neuron docs, inferentia2.html (reference §A.2)",
        },
    ]
}

pub fn get(name: &str) -> Option<Peer> {
    all().into_iter().find(|p| p.name == name)
}

pub fn names() -> Vec<&'static str> {
    all().iter().map(|p| p.name).collect()
}
