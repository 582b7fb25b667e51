//! Embedding sharding across chips when a model's tables exceed one chip's memory.
//!
//! A replica becomes a group of chips: the home chip runs the dense layers and holds the
//! tables placed on it; the others hold the rest and send their pooled results to the home
//! chip over the chip-to-chip links. Two layouts:
//!
//! * **table-wise**: whole tables packed onto chips (first-fit decreasing); a remote table
//!   sends its pooled vector per sample (bf16, 2 bytes per element);
//! * **row-wise**: every table's rows split evenly; each remote chip sends a partial pooled sum
//!   of every table per sample (fp32, 4 bytes per element, summed on the home chip).
//!
//! `auto` picks table-wise when every table fits one chip and row-wise otherwise. Tables are
//! counted in the compiler's int8 row-wise format (`dim + 8` bytes per row: the compiler's
//! fallback when bf16 tables do not fit). Memory per chip left for tables: capacity less
//! [`RESERVE_FRACTION`] (program, activations, staging) less the dense weights.
//!
//! Service time: the program is timed on a virtual chip with the group's total capacity (so one
//! chip's gather engines and memory do every lookup: conservative, since shards gather in
//! parallel), and the transfer is added serially: `2·latency + bytes/bandwidth`, with the
//! chip's link figures (`chip_links`: count × GB/s per direction into the home chip, one-way
//! latency `latency_ns`, 500 ns default) or, without chip links, the host link at
//! [`HOST_HOP_LATENCY_US`] per hop.

use seedchip_chip::Chip;
use seedchip_ir::{Dim, Graph, Op, ValueId};
use serde::Serialize;

use crate::Error;

/// Share of a chip's memory kept for the program, activations and staging buffers.
pub const RESERVE_FRACTION: f64 = 0.10;
/// One-way latency of a transfer through the host (PCIe to host memory and back out), µs.
pub const HOST_HOP_LATENCY_US: f64 = 2.0;
/// Default one-way chip-link latency when the chip file gives none (the chip format's default).
pub const DEFAULT_LINK_LATENCY_NS: f64 = 500.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    Auto,
    TableWise,
    RowWise,
}

impl Strategy {
    pub fn parse(s: &str) -> Option<Strategy> {
        match s {
            "auto" => Some(Strategy::Auto),
            "table" | "table-wise" => Some(Strategy::TableWise),
            "row" | "row-wise" => Some(Strategy::RowWise),
            _ => None,
        }
    }
}

/// One embedding table as the sharder sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableInfo {
    pub name: String,
    pub rows: u64,
    pub dim: u64,
    pub bytes: f64,
    /// Elements this table's lookups produce per sample (pooled: `dim` per bag).
    pub out_elems_per_sample: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShardPlan {
    /// `none`, `table-wise` or `row-wise`.
    pub layout: &'static str,
    pub chips: u32,
    pub table_bytes: f64,
    pub dense_bytes: f64,
    pub usable_bytes_per_chip: f64,
    /// Table bytes on each chip (home first).
    pub bytes_per_chip: Vec<f64>,
    /// Bytes the home chip receives per sample.
    pub remote_bytes_per_sample: f64,
    /// `chip links` or `host link`.
    pub link: &'static str,
    pub link_gbps: f64,
    pub link_latency_us: f64,
}

impl ShardPlan {
    /// Added service time of a batch, seconds.
    pub fn comm_s(&self, pairs: u32) -> f64 {
        if self.chips <= 1 {
            return 0.0;
        }
        2.0 * self.link_latency_us * 1e-6
            + f64::from(pairs) * self.remote_bytes_per_sample / (self.link_gbps * 1e9)
    }

    /// The chip the group is timed as: the same chip with the group's memory capacity.
    pub fn virtual_chip(&self, chip: &Chip) -> Chip {
        let mut c = chip.clone();
        c.memory.capacity_bytes = chip
            .memory
            .capacity_bytes
            .saturating_mul(u64::from(self.chips));
        c
    }
}

/// The model's embedding tables (each table once, in parameter order).
pub fn tables(graph: &Graph) -> Vec<TableInfo> {
    let mut out: Vec<(ValueId, TableInfo)> = Vec::new();
    for n in &graph.nodes {
        if !matches!(n.op, Op::EmbeddingBag { .. } | Op::Embedding) {
            continue;
        }
        let t = n.inputs[0];
        let ty = graph.ty(t);
        let (rows, dim) = match ty.shape.as_slice() {
            [Dim::Fixed(r), Dim::Fixed(d)] => (*r, *d),
            _ => continue,
        };
        let out_elems: f64 = graph
            .ty(n.outputs[0])
            .shape
            .iter()
            .map(|d| {
                if let Dim::Fixed(x) = d {
                    *x as f64
                } else {
                    1.0
                }
            })
            .product();
        if let Some((_, info)) = out.iter_mut().find(|(v, _)| *v == t) {
            info.out_elems_per_sample += out_elems;
            continue;
        }
        out.push((
            t,
            TableInfo {
                name: graph.value_name(t).to_string(),
                rows,
                dim,
                bytes: rows as f64 * (dim + 8) as f64,
                out_elems_per_sample: out_elems,
            },
        ));
    }
    out.into_iter().map(|(_, i)| i).collect()
}

fn link(chip: &Chip) -> (&'static str, f64, f64) {
    let l = &chip.chip_links;
    match l.bandwidth_gbps {
        Some(bw) if l.count > 0 && bw > 0.0 => (
            "chip links",
            f64::from(l.count) * bw,
            l.latency_ns.unwrap_or(DEFAULT_LINK_LATENCY_NS) / 1e3,
        ),
        _ => (
            "host link",
            chip.host_link
                .bandwidth_gbps
                .unwrap_or_else(|| chip.host_link.derived_bandwidth_gbps()),
            HOST_HOP_LATENCY_US,
        ),
    }
}

/// First-fit decreasing of `sizes` into `bins` bins of `cap`; the bin of each item.
fn pack(sizes: &[f64], bins: usize, cap: f64) -> Option<Vec<usize>> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| sizes[b].total_cmp(&sizes[a]).then(a.cmp(&b)));
    let mut fill = vec![0.0; bins];
    let mut at = vec![0; sizes.len()];
    for i in order {
        let b = (0..bins).find(|&b| fill[b] + sizes[i] <= cap)?;
        fill[b] += sizes[i];
        at[i] = b;
    }
    Some(at)
}

/// How `graph`'s tables spread over copies of `chip` (one chip when they fit).
pub fn plan(
    graph: &Graph,
    chip: &Chip,
    strategy: Strategy,
    dense_bytes_per_param: f64,
) -> Result<ShardPlan, Error> {
    let tables = tables(graph);
    let table_bytes: f64 = tables.iter().map(|t| t.bytes).sum();
    let stats = seedchip_ir::analysis::stats(graph);
    let dense_bytes = stats.dense_params as f64 * dense_bytes_per_param;
    let capacity = chip.memory.capacity_bytes as f64;
    let usable = capacity * (1.0 - RESERVE_FRACTION) - dense_bytes;
    let (link_name, link_gbps, link_latency_us) = link(chip);
    if usable <= 0.0 {
        return Err(Error::Compile(format!(
            "the dense weights of `{}` ({:.2} GB) leave no room for tables on `{}` ({:.2} GB)",
            graph.name,
            dense_bytes / 1e9,
            chip.name,
            capacity / 1e9
        )));
    }
    let mut plan = ShardPlan {
        layout: "none",
        chips: 1,
        table_bytes,
        dense_bytes,
        usable_bytes_per_chip: usable,
        bytes_per_chip: vec![table_bytes],
        remote_bytes_per_sample: 0.0,
        link: link_name,
        link_gbps,
        link_latency_us,
    };
    if table_bytes <= usable {
        return Ok(plan);
    }
    let biggest = tables.iter().map(|t| t.bytes).fold(0.0, f64::max);
    let layout = match strategy {
        Strategy::Auto if biggest <= usable => Strategy::TableWise,
        Strategy::Auto => Strategy::RowWise,
        s => s,
    };
    let min_chips = (table_bytes / usable).ceil() as usize;
    match layout {
        Strategy::TableWise => {
            if biggest > usable {
                return Err(Error::invalid(
                    "sharding",
                    format!(
                        "table-wise sharding cannot place a {:.2} GB table on `{}` ({:.2} GB usable per chip); use row-wise",
                        biggest / 1e9,
                        chip.name,
                        usable / 1e9
                    ),
                ));
            }
            let sizes: Vec<f64> = tables.iter().map(|t| t.bytes).collect();
            let (bins, at) = (min_chips..=min_chips * 2 + 1)
                .find_map(|n| pack(&sizes, n, usable).map(|a| (n, a)))
                .expect("first-fit decreasing fits in at most 2·optimal + 1 bins");
            let mut per = vec![0.0; bins];
            let mut remote = 0.0;
            for (t, &b) in tables.iter().zip(&at) {
                per[b] += t.bytes;
                if b != 0 {
                    remote += 2.0 * t.out_elems_per_sample;
                }
            }
            plan.layout = "table-wise";
            plan.chips = bins as u32;
            plan.bytes_per_chip = per;
            plan.remote_bytes_per_sample = remote;
        }
        _ => {
            let n = min_chips;
            let out: f64 = tables.iter().map(|t| t.out_elems_per_sample).sum();
            plan.layout = "row-wise";
            plan.chips = n as u32;
            plan.bytes_per_chip = vec![table_bytes / n as f64; n];
            plan.remote_bytes_per_sample = (n - 1) as f64 * 4.0 * out;
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dlrm() -> Graph {
        seedchip_zoo::get("dlrm-v2", &seedchip_zoo::ZooOptions::default()).unwrap()
    }

    #[test]
    fn dlrm_v2_fits_seedchip_v1_and_not_tpu_v4i() {
        let g = dlrm();
        let t = tables(&g);
        assert_eq!(t.len(), 26);
        let rows: u64 = t.iter().map(|x| x.rows).sum();
        assert_eq!(rows, 204_184_588);
        let v1 = seedchip_chip::presets::get("seedchip-v1").unwrap();
        let p = plan(&g, &v1, Strategy::Auto, 1.0).unwrap();
        assert_eq!(p.chips, 1);
        assert_eq!(p.comm_s(100), 0.0);
        let v4i = seedchip_chip::presets::get("tpu-v4i").unwrap();
        let tw = plan(&g, &v4i, Strategy::TableWise, 1.0).unwrap();
        let rw = plan(&g, &v4i, Strategy::RowWise, 1.0).unwrap();
        // 27.7 GB of emb8 tables over ~7.7 GB usable: 4 chips row-wise; five 5.1 GB tables
        // and the rest pack into at least as many table-wise.
        assert_eq!(rw.chips, 4);
        assert!(tw.chips >= rw.chips);
        assert_eq!(tw.layout, "table-wise");
        assert!((tw.bytes_per_chip.iter().sum::<f64>() - tw.table_bytes).abs() < 1.0);
        assert!(
            tw.bytes_per_chip
                .iter()
                .all(|&b| b <= tw.usable_bytes_per_chip)
        );
        // Row-wise sends 3 partial sums of 26 x 128 fp32 per sample.
        assert_eq!(rw.remote_bytes_per_sample, 3.0 * 4.0 * 26.0 * 128.0);
        assert!(tw.remote_bytes_per_sample <= 2.0 * 26.0 * 128.0);
        assert!(rw.comm_s(1000) > rw.comm_s(1));
        let vc = rw.virtual_chip(&v4i);
        assert_eq!(vc.memory.capacity_bytes, 4 * v4i.memory.capacity_bytes);
    }
}
