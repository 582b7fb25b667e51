//! Physical-sense validation of a resolved chip. Syntax is serde's job; this catches files that
//! parse but describe nothing buildable: zero-sized arrays, a bandwidth that disagrees with the
//! bus, a clock no chip runs at, a precision no unit serves.

use crate::Problem;
use crate::desc::*;
use crate::node::{known_nodes, node_params};

/// Relative tolerance between a stated bandwidth and the one the organisation implies; 1 %
/// absorbs rounded datasheet figures (614 vs 614.4 GB/s) but not a unit slip.
const BANDWIDTH_TOLERANCE: f64 = 0.01;
/// A narrower operand may be packed into a full-width MAC (int4 in an int8 array), so a unit may
/// advertise up to 4× rows × cols MACs per cycle, but not more.
const MAX_PACKING: u64 = 4;

struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn fail(&mut self, key: impl Into<String>, message: impl Into<String>, hint: Option<&str>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
            hint: hint.map(str::to_string),
            location: None,
        });
    }

    fn positive_u64(&mut self, key: &str, value: u64) {
        if value == 0 {
            self.fail(key, "must be at least 1", None);
        }
    }

    fn range_f64(&mut self, key: &str, value: f64, lo: f64, hi: f64, unit: &str) {
        if !value.is_finite() || value < lo || value > hi {
            self.fail(
                key,
                format!("{value} {unit} is outside the plausible range {lo}..={hi} {unit}"),
                None,
            );
        }
    }
}

impl Chip {
    /// Every problem found, in file order as far as practical. Call after [`Chip::resolve`].
    pub fn validate(&self) -> Vec<Problem> {
        let mut c = Checker {
            problems: Vec::new(),
        };
        if self.name.trim().is_empty() {
            c.fail("name", "must not be empty", None);
        }
        c.range_f64("clock_mhz", self.clock_mhz, 50.0, 5000.0, "MHz");
        self.validate_cores(&mut c);
        self.validate_sram(&mut c);
        self.validate_gather(&mut c);
        c.positive_u64("dma.engines", self.dma.engines.map_or(0, u64::from));
        c.positive_u64("dma.bytes_per_cycle", self.dma.bytes_per_cycle.unwrap_or(0));
        c.positive_u64(
            "dma.max_outstanding",
            self.dma.max_outstanding.map_or(0, u64::from),
        );
        self.memory.validate(&mut c);
        self.validate_links(&mut c);
        self.validate_process(&mut c);
        self.validate_cost(&mut c);
        c.problems
    }

    fn validate_cores(&self, c: &mut Checker) {
        let cores = &self.cores;
        if cores.count == 0 || cores.count > 4096 {
            c.fail(
                "cores.count",
                format!("{} cores: must be 1..=4096", cores.count),
                None,
            );
        }
        c.positive_u64("cores.local_sram_bytes", cores.local_sram_bytes);
        if cores.matrix_units.is_empty() {
            c.fail(
                "cores.matrix_units",
                "a core needs at least one matrix unit",
                Some("add a [[cores.matrix_units]] table with rows, cols, dataflow and macs_per_cycle"),
            );
        }
        for (i, u) in cores.matrix_units.iter().enumerate() {
            let key = format!("cores.matrix_units[{i}]");
            if u.count == Some(0) {
                c.fail(format!("{key}.count"), "must be at least 1", None);
            }
            for (name, dim) in [("rows", u.rows), ("cols", u.cols)] {
                if dim == 0 || dim > 4096 {
                    c.fail(
                        format!("{key}.{name}"),
                        format!("array dimension {dim}: must be 1..=4096"),
                        None,
                    );
                }
            }
            if u.macs_per_cycle.is_empty() {
                c.fail(
                    format!("{key}.macs_per_cycle"),
                    "lists no precision",
                    Some("e.g. macs_per_cycle = { int8 = 16384, bf16 = 8192 }"),
                );
            }
            let pe = u64::from(u.rows) * u64::from(u.cols);
            for (p, &macs) in &u.macs_per_cycle {
                let k = format!("{key}.macs_per_cycle.{p}");
                if macs == 0 {
                    c.fail(k, "must be at least 1", None);
                } else if pe > 0 && macs > pe * MAX_PACKING {
                    c.fail(
                        k,
                        format!(
                            "{macs} MACs/cycle from a {}x{} array ({pe} PEs): at most {} (4 per PE)",
                            u.rows,
                            u.cols,
                            pe * MAX_PACKING
                        ),
                        None,
                    );
                }
            }
        }
        let served: Vec<_> = cores
            .matrix_units
            .iter()
            .flat_map(|u| u.macs_per_cycle.keys().copied())
            .collect();
        for (i, p) in self.precisions.iter().flatten().enumerate() {
            if !served.contains(p) {
                c.fail(
                    format!("precisions[{i}]"),
                    format!("precision {p} is not served by any matrix unit"),
                    Some("add it to some unit's macs_per_cycle, or drop it from `precisions`"),
                );
            }
        }
        let v = &cores.vector;
        if v.lanes == 0 || v.lanes > 65536 {
            c.fail(
                "cores.vector.lanes",
                format!("{} lanes: must be 1..=65536", v.lanes),
                None,
            );
        }
        if v.precisions.as_ref().is_some_and(|p| p.is_empty()) {
            c.fail("cores.vector.precisions", "lists no precision", None);
        }
        c.positive_u64(
            "cores.vector.fma_per_lane_per_cycle",
            v.fma_per_lane_per_cycle.map_or(0, u64::from),
        );
        c.positive_u64(
            "cores.vector.transcendentals_per_cycle",
            v.transcendentals_per_cycle.map_or(0, u64::from),
        );
    }

    fn validate_sram(&self, c: &mut Checker) {
        let s = &self.shared_sram;
        c.positive_u64("shared_sram.capacity_bytes", s.capacity_bytes);
        c.positive_u64("shared_sram.banks", u64::from(s.banks));
        c.positive_u64("shared_sram.bytes_per_cycle", s.bytes_per_cycle);
        if s.banks > 0 && s.capacity_bytes > 0 && s.capacity_bytes < u64::from(s.banks) * 1024 {
            c.fail(
                "shared_sram.banks",
                format!(
                    "{} banks for {} bytes leaves under 1 KiB per bank",
                    s.banks, s.capacity_bytes
                ),
                None,
            );
        }
    }

    fn validate_gather(&self, c: &mut Checker) {
        let g = &self.gather;
        let cache = g.hot_row_cache_bytes.unwrap_or(0);
        if g.engines == 0 {
            if cache > 0 {
                c.fail(
                    "gather.hot_row_cache_bytes",
                    "a hot-row cache needs gather engines (gather.engines is 0)",
                    None,
                );
            }
            return;
        }
        c.positive_u64(
            "gather.row_requests_per_cycle",
            g.row_requests_per_cycle.map_or(0, u64::from),
        );
        c.positive_u64(
            "gather.max_rows_in_flight",
            g.max_rows_in_flight.map_or(0, u64::from),
        );
        if g.pooling.as_ref().is_some_and(|p| p.is_empty()) {
            c.fail("gather.pooling", "lists no pooling mode", None);
        }
        if cache > self.shared_sram.capacity_bytes {
            c.fail(
                "gather.hot_row_cache_bytes",
                format!(
                    "{cache} bytes of cache exceed the shared SRAM it is carved from ({} bytes)",
                    self.shared_sram.capacity_bytes
                ),
                None,
            );
        }
    }

    fn validate_links(&self, c: &mut Checker) {
        let h = &self.host_link;
        if ![1, 2, 4, 8, 16, 32].contains(&h.lanes) {
            c.fail(
                "host_link.lanes",
                format!("{} lanes: PCIe links have 1, 2, 4, 8, 16 or 32", h.lanes),
                None,
            );
        }
        if let Some(bw) = h.bandwidth_gbps {
            let derived = h.derived_bandwidth_gbps();
            if !bw.is_finite() || (bw - derived).abs() > BANDWIDTH_TOLERANCE * derived {
                c.fail(
                    "host_link.bandwidth_gbps",
                    format!(
                        "{bw} GB/s given, but {} lanes of {:?} carry {derived:.2} GB/s",
                        h.lanes, h.kind
                    ),
                    Some("omit host_link.bandwidth_gbps to have it computed"),
                );
            }
        }
        let l = &self.chip_links;
        if l.count > 0 {
            match l.bandwidth_gbps {
                None => c.fail(
                    "chip_links.bandwidth_gbps",
                    "required when chip_links.count > 0",
                    None,
                ),
                Some(bw) => c.range_f64("chip_links.bandwidth_gbps", bw, 0.1, 10_000.0, "GB/s"),
            }
            if let Some(lat) = l.latency_ns {
                c.range_f64("chip_links.latency_ns", lat, 1.0, 1e6, "ns");
            }
        }
    }

    fn validate_process(&self, c: &mut Checker) {
        let p = &self.process;
        if node_params(p.node_nm).is_none() {
            let known: Vec<String> = known_nodes().iter().map(|n| n.to_string()).collect();
            c.fail(
                "process.node_nm",
                format!(
                    "no area/cost parameters for a {} nm node; known: {}",
                    p.node_nm,
                    known.join(", ")
                ),
                Some("pick the nearest node class"),
            );
        }
        c.range_f64("process.tdp_w", p.tdp_w, 0.1, 3000.0, "W");
        if let Some(a) = p.die_area_mm2 {
            // 858 mm² is the lithographic reticle limit (26 mm × 33 mm).
            c.range_f64("process.die_area_mm2", a, 1.0, 858.0, "mm²");
        }
        if let Some(f) = p.area_overhead_fraction {
            c.range_f64("process.area_overhead_fraction", f, 0.0, 2.0, "");
        }
        if let Some(d0) = p.defect_density_per_cm2 {
            c.range_f64("process.defect_density_per_cm2", d0, 0.0, 5.0, "/cm²");
        }
        if let Some(a) = p.yield_cluster_alpha {
            c.range_f64("process.yield_cluster_alpha", a, 0.1, 100.0, "");
        }
        if let Some(w) = p.wafer_cost_usd {
            c.range_f64("process.wafer_cost_usd", w, 100.0, 100_000.0, "USD");
        }
        if let Some(d) = p.wafer_diameter_mm {
            c.range_f64("process.wafer_diameter_mm", d, 100.0, 450.0, "mm");
        }
    }

    fn validate_cost(&self, c: &mut Checker) {
        let k = &self.cost;
        if let Some(v) = k.memory_usd_per_gb {
            c.range_f64("cost.memory_usd_per_gb", v, 0.0, 1000.0, "USD/GB");
        }
        if let Some(v) = k.package_usd {
            c.range_f64("cost.package_usd", v, 0.0, 100_000.0, "USD");
        }
        if let Some(v) = k.nre_usd {
            c.range_f64("cost.nre_usd", v, 0.0, 1e11, "USD");
        }
        if k.volume_units == Some(0) {
            c.fail("cost.volume_units", "must be at least 1", None);
        }
    }
}

impl Memory {
    fn validate(&self, c: &mut Checker) {
        let d = self.kind.defaults();
        if self.kind.is_hbm() {
            match self.stacks {
                None => c.fail(
                    "memory.stacks",
                    format!("required for {} memory", self.kind),
                    Some("HBM capacity and bandwidth scale with stacks; e.g. stacks = 2"),
                ),
                Some(s) if s == 0 || s > 16 => {
                    c.fail("memory.stacks", format!("{s} stacks: must be 1..=16"), None)
                }
                Some(_) => {}
            }
        } else if self.stacks.is_some() {
            c.fail(
                "memory.stacks",
                format!("{} has channels, not stacks", self.kind),
                Some("use memory.channels for the DDR family"),
            );
        }
        match self.channels {
            None => c.fail(
                "memory.channels",
                format!("required for {} memory (channels in total)", self.kind),
                None,
            ),
            Some(0) => c.fail("memory.channels", "must be at least 1", None),
            Some(_) => {}
        }
        if let Some(w) = self.channel_width_bits
            && (w == 0 || !w.is_power_of_two() || w > 1024)
        {
            c.fail(
                "memory.channel_width_bits",
                format!("{w} bits: must be a power of two up to 1024"),
                None,
            );
        }
        if self.pseudo_channels.is_some_and(|p| p == 0 || p > 4) {
            c.fail("memory.pseudo_channels", "must be 1..=4", None);
        }
        if let Some(rate) = self.data_rate_mtps {
            let (lo, hi) = d.data_rate_range_mtps;
            if !rate.is_finite() || rate < lo || rate > hi {
                c.fail(
                    "memory.data_rate_mtps",
                    format!(
                        "{rate} MT/s is outside {lo}..={hi} MT/s, the range of {} parts",
                        self.kind
                    ),
                    Some("check the memory kind, or give the data rate per pin in MT/s"),
                );
            }
        }
        if self.capacity_bytes == 0 {
            c.fail("memory.capacity_bytes", "must be at least 1", None);
        }
        if let (Some(given), Some(derived)) = (self.bandwidth_gbps, self.derived_bandwidth_gbps())
            && (!given.is_finite() || (given - derived).abs() > BANDWIDTH_TOLERANCE * derived)
        {
            let org = if self.kind.is_hbm() {
                format!(
                    "{} stacks x {} channels",
                    self.stacks.unwrap_or(0),
                    self.channels.unwrap_or(0)
                )
            } else {
                format!("{} channels", self.channels.unwrap_or(0))
            };
            c.fail(
                "memory.bandwidth_gbps",
                format!(
                    "{given} GB/s given, but {org} x {} bits x {} MT/s = {derived:.1} GB/s",
                    self.channel_width_bits.unwrap_or(0),
                    self.data_rate_mtps.unwrap_or(0.0)
                ),
                Some("bandwidth_gbps is in gigabytes per second; omit it to have it computed"),
            );
        }
        for (key, v) in [
            ("memory.bank_groups", self.bank_groups),
            ("memory.banks_per_group", self.banks_per_group),
        ] {
            if v.is_some_and(|v| v == 0 || v > 64) {
                c.fail(key, "must be 1..=64", None);
            }
        }
        let t = &self.timing;
        let named = [
            ("trcd_ns", t.trcd_ns),
            ("trp_ns", t.trp_ns),
            ("tcl_ns", t.tcl_ns),
            ("tras_ns", t.tras_ns),
            ("trrd_ns", t.trrd_ns),
            ("tfaw_ns", t.tfaw_ns),
            ("tccd_ns", t.tccd_ns),
            ("trfc_ns", t.trfc_ns),
            ("trefi_ns", t.trefi_ns),
        ];
        for (name, v) in named {
            if let Some(v) = v
                && (!v.is_finite() || v <= 0.0 || v > 100_000.0)
            {
                c.fail(
                    format!("memory.timing.{name}"),
                    format!("{v} ns: must be a positive time under 100 us"),
                    None,
                );
            }
        }
        if let (Some(ras), Some(rcd)) = (t.tras_ns, t.trcd_ns)
            && ras < rcd
        {
            c.fail(
                "memory.timing.tras_ns",
                format!(
                    "tRAS {ras} ns is shorter than tRCD {rcd} ns: a row closes before it opens"
                ),
                None,
            );
        }
        if let (Some(refi), Some(rfc)) = (t.trefi_ns, t.trfc_ns)
            && refi <= rfc
        {
            c.fail(
                "memory.timing.trefi_ns",
                format!("tREFI {refi} ns is not longer than tRFC {rfc} ns: the memory would only refresh"),
                None,
            );
        }
        if let (Some(faw), Some(rrd)) = (t.tfaw_ns, t.trrd_ns)
            && faw < rrd
        {
            c.fail(
                "memory.timing.tfaw_ns",
                format!("tFAW {faw} ns is shorter than tRRD {rrd} ns"),
                None,
            );
        }
        if let Some(bl) = t.burst_length
            && ![2, 4, 8, 16, 32].contains(&bl)
        {
            c.fail(
                "memory.timing.burst_length",
                format!("{bl} beats: must be 2, 4, 8, 16 or 32"),
                None,
            );
        }
    }
}
