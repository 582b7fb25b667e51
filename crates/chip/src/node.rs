//! Per-node silicon parameters for the area and cost models.
//!
//! Sources (see ../shared/reference/hardware-and-workloads.md §D.5):
//! - wafer cost, defect density D0, mask set, IP cost and logic density: Princeton `ttm-cas`
//!   `supply_chain_model.py` (as used by LLMCompass), wafer costs from CSET (Khan & Mann 2020);
//! - SRAM macro density: LLMCompass bit-cell areas (1.70e-7 / 1.25e-7 mm² per bit at 7 / 5 nm,
//!   periphery included); 28 nm from TPU v1's floorplan (28 MiB of buffers ≈ 35 % of ≤ 331 mm²);
//!   16 and 10 nm interpolated geometrically between those anchors (D).

use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct NodeParams {
    pub node_nm: u32,
    pub wafer_cost_usd: f64,
    pub defect_density_per_cm2: f64,
    pub mask_set_usd: f64,
    pub ip_usd: f64,
    pub logic_density_mtr_per_mm2: f64,
    pub sram_mm2_per_mib: f64,
}

const NODES: [NodeParams; 5] = [
    NodeParams {
        node_nm: 28,
        wafer_cost_usd: 2891.0,
        defect_density_per_cm2: 0.05,
        mask_set_usd: 1.2e6,
        ip_usd: 0.0,
        logic_density_mtr_per_mm2: 15.3,
        sram_mm2_per_mib: 4.1,
    },
    NodeParams {
        node_nm: 16,
        wafer_cost_usd: 3984.0,
        defect_density_per_cm2: 0.10,
        mask_set_usd: 2.82e6,
        ip_usd: 0.0,
        logic_density_mtr_per_mm2: 28.9,
        sram_mm2_per_mib: 2.6,
    },
    NodeParams {
        node_nm: 10,
        wafer_cost_usd: 5992.0,
        defect_density_per_cm2: 0.12,
        mask_set_usd: 4.74e6,
        ip_usd: 0.0,
        logic_density_mtr_per_mm2: 52.5,
        sram_mm2_per_mib: 1.9,
    },
    NodeParams {
        node_nm: 7,
        wafer_cost_usd: 9346.0,
        defect_density_per_cm2: 0.15,
        mask_set_usd: 10.5e6,
        ip_usd: 2.34e6,
        logic_density_mtr_per_mm2: 96.3,
        sram_mm2_per_mib: 1.43,
    },
    NodeParams {
        node_nm: 5,
        wafer_cost_usd: 16988.0,
        defect_density_per_cm2: 0.20,
        mask_set_usd: 18.1e6,
        ip_usd: 2.64e6,
        logic_density_mtr_per_mm2: 171.3,
        sram_mm2_per_mib: 1.05,
    },
];

/// Parameters for a node class, or `None` for a node we have no sourced numbers for.
pub fn node_params(node_nm: u32) -> Option<NodeParams> {
    NODES.iter().copied().find(|n| n.node_nm == node_nm)
}

/// The nodes with parameters, for error messages.
pub fn known_nodes() -> Vec<u32> {
    NODES.iter().map(|n| n.node_nm).collect()
}
