//! A device's per-batch service time, power and price for serving: a simulated chip (compiled
//! and timed, sharded when its tables do not fit) or a peer (its calibrated model).

use seedchip_chip::{Chip, Precision};
use seedchip_ir::Graph;
use serde::Serialize;

use crate::Error;
use crate::chipsim::{ChipPoint, PeerPoint, TimeOptions, chip_service_table, peer_service_table};
use crate::service::ServiceTable;
use crate::shard::{self, ShardPlan, Strategy};

/// Which device serves.
#[derive(Debug, Clone)]
pub enum Device {
    /// A chip described by a preset or TOML file, simulated cycle by cycle.
    Simulated(Box<Chip>),
    /// A peer device (GPU or other product) by name.
    Peer(String),
}

impl Device {
    /// A peer name, else a chip preset or TOML path.
    pub fn resolve(name: &str) -> Result<Device, seedchip_chip::Error> {
        if seedchip_peers::device::names().contains(&name) {
            return Ok(Device::Peer(name.to_string()));
        }
        seedchip_chip::resolve_name_or_path(name).map(|c| Device::Simulated(Box::new(c)))
    }

    pub fn name(&self) -> &str {
        match self {
            Device::Simulated(c) => &c.name,
            Device::Peer(n) => n,
        }
    }
}

/// How to obtain service times.
#[derive(Debug, Clone)]
pub struct DeviceOptions {
    pub time: TimeOptions,
    /// Batch sizes to time (pairs).
    pub batch_points: Vec<u32>,
    pub shard: Strategy,
    /// Software stack of peers.
    pub stack: seedchip_peers::Stack,
}

/// A device ready to serve a model.
#[derive(Debug, Clone, Serialize)]
pub struct DeviceService {
    pub device: String,
    /// `simulated` or `peer`.
    pub kind: &'static str,
    pub precision: Precision,
    pub table: ServiceTable,
    /// Chips per replica (more than one when tables are sharded).
    pub chips_per_replica: u32,
    pub shard: Option<ShardPlan>,
    /// Average power of one chip while busy at the largest timed batch, W (≤ TDP).
    pub busy_power_w: f64,
    pub tdp_w: f64,
    /// Unit price: the chip cost model's unit cost for simulated chips, the datasheet record's
    /// price for peers (`None` when unpublished).
    pub unit_price_usd: Option<f64>,
    pub price_source: String,
    pub chip_points: Vec<ChipPoint>,
    pub peer_points: Vec<PeerPoint>,
}

/// Times `graph` on `device` at the requested batch sizes.
pub fn service(
    graph: &Graph,
    device: &Device,
    opts: &DeviceOptions,
) -> Result<DeviceService, Error> {
    match device {
        Device::Simulated(chip) => {
            let dense_bytes = match opts.time.precision {
                Precision::Int8 | Precision::Fp8 => 1.0,
                _ => 2.0,
            };
            let plan = shard::plan(graph, chip, opts.shard, dense_bytes)?;
            let timed_chip = if plan.chips > 1 {
                plan.virtual_chip(chip)
            } else {
                (**chip).clone()
            };
            let (mut table, points) =
                chip_service_table(graph, &timed_chip, &opts.batch_points, &opts.time)?;
            if plan.chips > 1 {
                table = table.with_added(
                    |b| plan.comm_s(b),
                    &format!(
                        "{} over {} chips, {:.0} B per sample over the {}",
                        plan.layout, plan.chips, plan.remote_bytes_per_sample, plan.link
                    ),
                )?;
            }
            let derived = seedchip_chip::derive(chip);
            let busy = points
                .last()
                .map_or(derived.tdp_w, |p| p.average_power_w.min(derived.tdp_w));
            Ok(DeviceService {
                device: chip.name.clone(),
                kind: "simulated",
                precision: opts.time.precision,
                table,
                chips_per_replica: plan.chips,
                shard: (plan.chips > 1).then_some(plan),
                busy_power_w: busy,
                tdp_w: derived.tdp_w,
                unit_price_usd: Some(derived.unit_cost_usd),
                price_source: format!(
                    "chip cost model: die ${:.0} (yield {:.2}), memory ${:.0}, package ${:.0}, NRE share ${:.0}",
                    derived.cost.die_cost_usd,
                    derived.cost.die_yield,
                    derived.cost.memory_cost_usd,
                    derived.cost.package_usd,
                    derived.cost.nre_per_unit_usd
                ),
                chip_points: points,
                peer_points: Vec::new(),
            })
        }
        Device::Peer(name) => {
            let (table, points) = peer_service_table(
                graph,
                name,
                &opts.batch_points,
                opts.time.precision,
                opts.stack,
            )?;
            let rec = seedchip_chip::peers::get(name).expect("resolved peer has a record");
            let tdp = rec.tdp_w.unwrap_or(0.0);
            let busy = points
                .last()
                .and_then(|p| p.average_power_w)
                .map_or(tdp, |w| if tdp > 0.0 { w.min(tdp) } else { w });
            Ok(DeviceService {
                device: name.clone(),
                kind: "peer",
                precision: opts.time.precision,
                table,
                chips_per_replica: 1,
                shard: None,
                busy_power_w: busy,
                tdp_w: tdp,
                unit_price_usd: rec.price_usd,
                price_source: rec.price_note.to_string(),
                chip_points: Vec::new(),
                peer_points: points,
            })
        }
    }
}
