//! Fills every default in place, so a resolved chip states everything it assumes.

use crate::desc::*;
use crate::node::node_params;
use crate::precision::Precision;

/// Organic substrate, assembly and test (ttm-cas: $20 package + $1 assembly).
pub const ORGANIC_PACKAGE_USD: f64 = 21.0;
/// Added per HBM stack for the 2.5-D interposer and its assembly. An assumption (U): no public
/// price exists; CoWoS-class interposers are commonly estimated at tens of dollars per stack site.
pub const INTERPOSER_USD_PER_HBM_STACK: f64 = 50.0;
pub const DEFAULT_AREA_OVERHEAD_FRACTION: f64 = 0.30;
pub const DEFAULT_YIELD_CLUSTER_ALPHA: f64 = 3.0;
pub const DEFAULT_WAFER_DIAMETER_MM: f64 = 300.0;
pub const DEFAULT_VOLUME_UNITS: u64 = 100_000;
pub const DEFAULT_CHIP_LINK_LATENCY_NS: f64 = 500.0;

impl Chip {
    /// Fills defaults. Idempotent: resolving a resolved chip changes nothing.
    pub fn resolve(&mut self) {
        for unit in &mut self.cores.matrix_units {
            unit.count.get_or_insert(1);
        }
        if self.precisions.is_none() {
            let mut all: Vec<Precision> = self
                .cores
                .matrix_units
                .iter()
                .flat_map(|u| u.macs_per_cycle.keys().copied())
                .collect();
            all.sort();
            all.dedup();
            self.precisions = Some(all);
        }
        let v = &mut self.cores.vector;
        v.precisions
            .get_or_insert_with(|| vec![Precision::Bf16, Precision::Fp32, Precision::Int32]);
        v.fma_per_lane_per_cycle.get_or_insert(1);
        let lanes = v.lanes;
        v.transcendentals_per_cycle
            .get_or_insert((lanes / 4).max(1));

        let g = &mut self.gather;
        g.row_requests_per_cycle.get_or_insert(1);
        g.max_rows_in_flight.get_or_insert(64);
        g.pooling
            .get_or_insert_with(|| vec![Pooling::Sum, Pooling::Mean, Pooling::Max]);
        g.hot_row_cache_bytes.get_or_insert(0);

        self.dma.engines.get_or_insert(2);
        self.dma.bytes_per_cycle.get_or_insert(64);
        self.dma.max_outstanding.get_or_insert(64);

        self.memory.resolve();

        if self.host_link.bandwidth_gbps.is_none() {
            self.host_link.bandwidth_gbps = Some(self.host_link.derived_bandwidth_gbps());
        }
        if self.chip_links.count > 0 {
            self.chip_links
                .latency_ns
                .get_or_insert(DEFAULT_CHIP_LINK_LATENCY_NS);
        }

        let p = &mut self.process;
        p.area_overhead_fraction
            .get_or_insert(DEFAULT_AREA_OVERHEAD_FRACTION);
        p.yield_cluster_alpha
            .get_or_insert(DEFAULT_YIELD_CLUSTER_ALPHA);
        p.wafer_diameter_mm.get_or_insert(DEFAULT_WAFER_DIAMETER_MM);
        let node = node_params(p.node_nm);
        if let Some(n) = node {
            p.defect_density_per_cm2
                .get_or_insert(n.defect_density_per_cm2);
            p.wafer_cost_usd.get_or_insert(n.wafer_cost_usd);
        }

        let kind = self.memory.kind;
        let stacks = self.memory.stacks.unwrap_or(0);
        let c = &mut self.cost;
        c.memory_usd_per_gb
            .get_or_insert(kind.defaults().usd_per_gb);
        c.package_usd.get_or_insert(if kind.is_hbm() {
            ORGANIC_PACKAGE_USD + INTERPOSER_USD_PER_HBM_STACK * f64::from(stacks)
        } else {
            ORGANIC_PACKAGE_USD
        });
        if let Some(n) = node {
            c.nre_usd.get_or_insert(n.mask_set_usd + n.ip_usd);
        }
        c.volume_units.get_or_insert(DEFAULT_VOLUME_UNITS);
    }
}

impl Memory {
    fn resolve(&mut self) {
        let d = self.kind.defaults();
        if self.kind.is_hbm() {
            self.channels.get_or_insert(d.channels_per_stack);
        }
        self.channel_width_bits.get_or_insert(d.channel_width_bits);
        self.pseudo_channels.get_or_insert(d.pseudo_channels);
        self.data_rate_mtps.get_or_insert(d.data_rate_mtps);
        self.bank_groups.get_or_insert(d.bank_groups);
        self.banks_per_group.get_or_insert(d.banks_per_group);
        self.page_policy.get_or_insert(PagePolicy::Open);
        let t = &mut self.timing;
        let dt = d.timing;
        t.trcd_ns.get_or_insert(dt.trcd_ns);
        t.trp_ns.get_or_insert(dt.trp_ns);
        t.tcl_ns.get_or_insert(dt.tcl_ns);
        t.tras_ns.get_or_insert(dt.tras_ns);
        t.trrd_ns.get_or_insert(dt.trrd_ns);
        t.tfaw_ns.get_or_insert(dt.tfaw_ns);
        t.tccd_ns.get_or_insert(dt.tccd_ns);
        t.trfc_ns.get_or_insert(dt.trfc_ns);
        t.trefi_ns.get_or_insert(dt.trefi_ns);
        t.burst_length.get_or_insert(dt.burst_length);
        if self.bandwidth_gbps.is_none() {
            self.bandwidth_gbps = self.derived_bandwidth_gbps();
        }
    }

    /// Independent channels across the whole package (stacks × channels for HBM).
    pub fn total_channels(&self) -> Option<u64> {
        let ch = u64::from(self.channels?);
        Some(if self.kind.is_hbm() {
            ch * u64::from(self.stacks?)
        } else {
            ch
        })
    }

    /// Total data-bus width in bits.
    pub fn bus_width_bits(&self) -> Option<u64> {
        Some(self.total_channels()? * u64::from(self.channel_width_bits?))
    }

    /// Peak GB/s from the organisation: channels × width × data rate.
    pub fn derived_bandwidth_gbps(&self) -> Option<f64> {
        let bits = self.bus_width_bits()? as f64;
        Some(bits * self.data_rate_mtps? * 1e6 / 8.0 / 1e9)
    }
}

impl HostLink {
    pub fn derived_bandwidth_gbps(&self) -> f64 {
        self.kind.gbps_per_lane() * f64::from(self.lanes)
    }
}
