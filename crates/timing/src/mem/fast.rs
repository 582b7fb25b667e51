//! The fast model: bandwidth and latency curves calibrated by running the detailed model.
//!
//! Calibration runs the detailed model on synthetic traces for a grid of access patterns —
//! sequential or random, request size, write fraction — and measures, per grid cell, the
//! saturation bandwidth (everything offered at once) and the mean latency at offered loads
//! of a few fractions of that bandwidth. A [`FastMemory`] then answers in O(1):
//! [`FastMemory::bandwidth_gbps`] and [`FastMemory::latency_cycles`] for a [`Pattern`]
//! (interpolated: log-linear in size, per byte time linear in the sequential and write
//! fractions), and [`FastMemory::simulate`] replays a trace with a fluid server:
//!
//! - requests are read in arrival order, in windows of [`WINDOW`] requests; a request is
//!   *sequential* if it starts where a recent request ended (a direct-mapped table of 4096
//!   request ends); the window's byte-weighted
//!   sequential and write fractions and its offered rate (bytes over its arrival span) give a
//!   pattern and a load;
//! - each request occupies the server for `bytes / bandwidth(pattern)`; it starts when it has
//!   arrived and the server is free. It completes at the later of (a) its arrival plus a
//!   latency drawn from the calibrated distribution at that pattern and load (a deterministic
//!   low-discrepancy sequence of quantiles; the distribution scaled to the calibrated mean,
//!   which contains the transfer and the controller's own queueing at that load; loads above
//!   the highest calibrated point use that point) and (b) its start plus the *saturated
//!   service* time, the mean latency beyond the fluid queue's wait measured in the
//!   saturation run (a backlog the calibrated loads did not have).
//!
//! What it cannot see: address footprints and hot rows (random means uniformly random over the
//! capacity), bank or channel imbalance of a particular address set, refresh phase. The
//! disagreement with the detailed model on a set of traces is measured by
//! `examples/mem_fast_vs_detailed.rs` and recorded in `docs/memory-model.md`.

use serde::{Deserialize, Serialize};

use super::Error;
use super::config::MemConfig;
use super::detailed::{Outcome, simulate};
use super::stats::{LatencyHistogram, MemStats};
use super::trace::{self, Arrivals, Op, Request};

/// Requests per window of the fast replay.
pub const WINDOW: usize = 64;

/// Entries of the table of recent request ends (a power of two, 2^12).
const STREAM_TABLE: usize = 1 << 12;

/// An access pattern: what the curves are functions of (besides load).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pattern {
    pub request_bytes: u32,
    /// Share of bytes in requests that continue a recent request (0 = random, 1 = streaming).
    pub sequential_fraction: f64,
    /// Share of bytes written.
    pub write_fraction: f64,
}

impl Pattern {
    pub fn sequential_reads(request_bytes: u32) -> Pattern {
        Pattern {
            request_bytes,
            sequential_fraction: 1.0,
            write_fraction: 0.0,
        }
    }

    pub fn random_reads(request_bytes: u32) -> Pattern {
        Pattern {
            request_bytes,
            sequential_fraction: 0.0,
            write_fraction: 0.0,
        }
    }
}

/// What to run when calibrating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationOptions {
    /// Request sizes in bytes (sizes below one burst are raised to one burst).
    pub sizes: Vec<u32>,
    /// Write fractions, ascending, starting at 0.
    pub write_fractions: Vec<f64>,
    /// Offered loads as fractions of the saturation bandwidth, ascending.
    pub loads: Vec<f64>,
    /// Bytes per calibration run (a few refresh intervals' worth by default) ...
    pub bytes_per_run: u64,
    /// ... but no more requests than this.
    pub max_requests_per_run: u64,
    pub seed: u64,
}

impl CalibrationOptions {
    /// The grid used for sweeps and the documented disagreement.
    pub fn standard(cfg: &MemConfig) -> CalibrationOptions {
        // About 3 tREFI of traffic at peak, at least 512 KiB.
        let refresh_window = 3.0 * f64::from(cfg.timing.trefi) * cfg.peak_bytes_per_cycle();
        CalibrationOptions {
            sizes: vec![32, 64, 128, 256, 512, 1024, 4096],
            write_fractions: vec![0.0, 0.5, 1.0],
            loads: vec![0.05, 0.25, 0.5, 0.75, 0.9],
            bytes_per_run: (refresh_window as u64).max(512 << 10),
            // Enough per pseudo-channel that their random imbalance does not count.
            max_requests_per_run: 2_500 * u64::from(cfg.total_pchannels()),
            seed: 0x5EED_C41B,
        }
    }

    /// A small grid for tests in debug builds.
    pub fn quick() -> CalibrationOptions {
        CalibrationOptions {
            sizes: vec![64, 512],
            write_fractions: vec![0.0],
            loads: vec![0.1, 0.5, 0.9],
            bytes_per_run: 128 << 10,
            max_requests_per_run: 4_000,
            seed: 0x5EED_C41B,
        }
    }
}

/// One grid cell: a pattern's saturation bandwidth and latency-versus-load curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub request_bytes: u32,
    pub sequential: bool,
    pub write_fraction: f64,
    pub bytes_per_cycle: f64,
    /// Mean latency (cycles) at each of [`Calibration::loads`].
    pub latency_cycles: Vec<f64>,
    /// Latency (cycles) at each of [`QUANTILES`], per load.
    pub latency_quantiles: Vec<Vec<f64>>,
    /// Mean latency beyond the fluid queue's wait in the saturation run: what a request that
    /// found the memory backlogged spends after its turn comes.
    pub saturated_service_cycles: f64,
}

/// Points of the latency distribution kept per load.
pub const QUANTILES: [f64; 9] = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0];

/// Calibrated curves for one memory configuration (serializable, so callers can cache them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub tck_ns: f64,
    pub peak_bytes_per_cycle: f64,
    pub sizes: Vec<u32>,
    pub write_fractions: Vec<f64>,
    pub loads: Vec<f64>,
    /// Indexed `[(sequential × wf_count + wf) × size_count + size]`, random first.
    pub cells: Vec<Cell>,
}

impl Calibration {
    fn cell(&self, sequential: bool, wf: usize, size: usize) -> &Cell {
        let nw = self.write_fractions.len();
        let ns = self.sizes.len();
        &self.cells[(usize::from(sequential) * nw + wf) * ns + size]
    }
}

/// Position of `x` between grid points: (lower index, upper index, weight of upper).
fn bracket(grid: &[f64], x: f64) -> (usize, usize, f64) {
    let n = grid.len();
    if n == 1 || x <= grid[0] {
        return (0, 0, 0.0);
    }
    if x >= grid[n - 1] {
        return (n - 1, n - 1, 0.0);
    }
    let hi = grid
        .iter()
        .position(|&g| g >= x)
        .expect("x below the last point");
    let lo = hi - 1;
    (lo, hi, (x - grid[lo]) / (grid[hi] - grid[lo]))
}

/// The fast model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FastMemory {
    cal: Calibration,
    log_sizes: Vec<f64>,
}

impl FastMemory {
    /// Runs the detailed model over the grid of `opts` (deterministic).
    pub fn calibrate(cfg: &MemConfig, opts: &CalibrationOptions) -> Result<FastMemory, Error> {
        cfg.check()?;
        let burst = cfg.burst_bytes();
        let mut sizes: Vec<u32> = opts.sizes.iter().map(|&s| s.max(burst)).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let bad = |m: &str| Err(Error::Unsupported(format!("calibration options: {m}")));
        if sizes.is_empty() || opts.loads.is_empty() || opts.write_fractions.is_empty() {
            return bad("sizes, loads and write fractions must be non-empty");
        }
        if opts.loads.windows(2).any(|w| w[0] >= w[1])
            || opts.loads.iter().any(|&l| !(l > 0.0 && l < 1.0))
        {
            return bad("loads must be ascending, in (0, 1)");
        }
        if opts.write_fractions.windows(2).any(|w| w[0] >= w[1])
            || opts
                .write_fractions
                .iter()
                .any(|&w| !(0.0..=1.0).contains(&w))
        {
            return bad("write fractions must be ascending, in [0, 1]");
        }
        let footprint = cfg.capacity_bytes();
        let mut cells = Vec::new();
        for sequential in [false, true] {
            for (wi, &wf) in opts.write_fractions.iter().enumerate() {
                for (si, &size) in sizes.iter().enumerate() {
                    let n =
                        (opts.bytes_per_run / u64::from(size)).clamp(64, opts.max_requests_per_run);
                    let seed = opts.seed ^ ((si as u64) << 8) ^ ((wi as u64) << 16);
                    let make = |arr: Arrivals| -> Vec<Request> {
                        if sequential {
                            let mut v = trace::sequential(n, size, 0, arr, Op::Read);
                            mark_writes(&mut v, wf, seed);
                            v
                        } else {
                            trace::random(n, size, footprint, arr, wf, seed)
                        }
                    };
                    let sat_reqs = make(Arrivals::AllAtOnce);
                    let sat = simulate(cfg, &sat_reqs)?;
                    let bpc = steady_bytes_per_cycle(&sat, size);
                    let service = saturated_service(&sat_reqs, &sat, bpc);
                    let mut lat = Vec::with_capacity(opts.loads.len());
                    let mut quantiles = Vec::with_capacity(opts.loads.len());
                    for &load in &opts.loads {
                        let gap = f64::from(size) / (load * bpc);
                        let reqs = make(Arrivals::Every(gap));
                        let out = simulate(cfg, &reqs)?;
                        lat.push(mean_latency(&out.stats));
                        quantiles.push(latency_quantiles(&reqs, &out));
                    }
                    cells.push(Cell {
                        request_bytes: size,
                        sequential,
                        write_fraction: wf,
                        bytes_per_cycle: bpc,
                        latency_cycles: lat,
                        latency_quantiles: quantiles,
                        saturated_service_cycles: service,
                    });
                }
            }
        }
        Ok(FastMemory::from_calibration(Calibration {
            tck_ns: cfg.tck_ns,
            peak_bytes_per_cycle: cfg.peak_bytes_per_cycle(),
            sizes,
            write_fractions: opts.write_fractions.clone(),
            loads: opts.loads.clone(),
            cells,
        }))
    }

    pub fn from_calibration(cal: Calibration) -> FastMemory {
        let log_sizes = cal.sizes.iter().map(|&s| f64::from(s).log2()).collect();
        FastMemory { cal, log_sizes }
    }

    pub fn calibration(&self) -> &Calibration {
        &self.cal
    }

    /// Interpolates `f(cell)` over size (log-linear), sequential fraction and write fraction
    /// (linear).
    fn interp(&self, p: &Pattern, f: impl Fn(&Cell) -> f64) -> f64 {
        let (s0, s1, ws) = bracket(&self.log_sizes, f64::from(p.request_bytes.max(1)).log2());
        let (w0, w1, ww) = bracket(&self.cal.write_fractions, p.write_fraction);
        let seq = p.sequential_fraction.clamp(0.0, 1.0);
        let mut acc = 0.0;
        for (sq, wsq) in [(false, 1.0 - seq), (true, seq)] {
            if wsq == 0.0 {
                continue;
            }
            for (wi, wwi) in [(w0, 1.0 - ww), (w1, ww)] {
                for (si, wsi) in [(s0, 1.0 - ws), (s1, ws)] {
                    let w = wsq * wwi * wsi;
                    if w != 0.0 {
                        acc += w * f(self.cal.cell(sq, wi, si));
                    }
                }
            }
        }
        acc
    }

    /// Sustained bytes per cycle for a pattern (time per byte is what mixes linearly).
    pub fn bytes_per_cycle(&self, p: &Pattern) -> f64 {
        1.0 / self.interp(p, |c| 1.0 / c.bytes_per_cycle)
    }

    pub fn bandwidth_gbps(&self, p: &Pattern) -> f64 {
        self.bytes_per_cycle(p) / self.cal.tck_ns
    }

    /// Mean latency in cycles at `load` (offered bytes over sustained bytes; clamped to the
    /// calibrated range).
    pub fn latency_cycles(&self, p: &Pattern, load: f64) -> f64 {
        let (l0, l1, wl) = bracket(&self.cal.loads, load);
        self.interp(p, |c| {
            (1.0 - wl) * c.latency_cycles[l0] + wl * c.latency_cycles[l1]
        })
    }

    /// Latency in cycles at quantile `q` (0..=1) of the distribution at `load`, scaled so the
    /// distribution's mean is [`Self::latency_cycles`].
    pub fn latency_quantile_cycles(&self, p: &Pattern, load: f64, q: f64) -> f64 {
        let (l0, l1, wl) = bracket(&self.cal.loads, load);
        let (q0, q1, wq) = bracket(&QUANTILES, q.clamp(0.0, 1.0));
        let at = |c: &Cell, l: usize| {
            let v = &c.latency_quantiles[l];
            (1.0 - wq) * v[q0] + wq * v[q1]
        };
        let raw = self.interp(p, |c| (1.0 - wl) * at(c, l0) + wl * at(c, l1));
        let shape_mean = self.interp(p, |c| {
            (1.0 - wl) * quantile_mean(&c.latency_quantiles[l0])
                + wl * quantile_mean(&c.latency_quantiles[l1])
        });
        if shape_mean > 0.0 {
            raw * self.latency_cycles(p, load) / shape_mean
        } else {
            raw
        }
    }

    /// Cycles to move `bytes` with pattern `p` when the memory is kept busy.
    pub fn transfer_cycles(&self, bytes: u64, p: &Pattern) -> f64 {
        bytes as f64 / self.bytes_per_cycle(p) + self.latency_cycles(p, 1.0)
    }

    /// Replays a trace (see the module documentation). Statistics the curves cannot know (row
    /// hits, activations, refreshes) are left at zero.
    pub fn simulate(&self, reqs: &[Request]) -> Outcome {
        let mut order: Vec<usize> = (0..reqs.len()).collect();
        if !reqs.windows(2).all(|w| w[0].arrival <= w[1].arrival) {
            order.sort_by_key(|&i| reqs[i].arrival);
        }
        // Sequential classification: the request starts where a recent one ended (a
        // direct-mapped table of request ends, so thousands of interleaved streams are seen).
        let mut ends = vec![u64::MAX; STREAM_TABLE];
        let slot = |a: u64| (a.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize % STREAM_TABLE;
        let seq: Vec<bool> = order
            .iter()
            .map(|&i| {
                let r = &reqs[i];
                let s = ends[slot(r.addr)] == r.addr;
                let end = r.addr + u64::from(r.bytes);
                ends[slot(end)] = end;
                s
            })
            .collect();
        let mut completions = vec![0u64; reqs.len()];
        // Curves of the previous window's pattern and load, per request size: uniform traces
        // compute them once.
        type Curves = (Pattern, u64, u32, f64, [f64; QUANTILES.len()], f64);
        let mut curves: Option<Curves> = None;
        let (mut read_lat, mut write_lat) =
            (LatencyHistogram::default(), LatencyHistogram::default());
        let mut free = 0.0f64;
        let (mut bytes_read, mut bytes_written) = (0u64, 0u64);
        for (w, chunk) in order.chunks(WINDOW).enumerate() {
            let flags = &seq[w * WINDOW..w * WINDOW + chunk.len()];
            let (mut b, mut bs, mut bw) = (0.0, 0.0, 0.0);
            for (&i, &s) in chunk.iter().zip(flags) {
                let r = &reqs[i];
                let x = f64::from(r.bytes);
                b += x;
                if s {
                    bs += x;
                }
                if r.op == Op::Write {
                    bw += x;
                }
            }
            let (sf, wf) = if b > 0.0 {
                (bs / b, bw / b)
            } else {
                (0.0, 0.0)
            };
            let mean = Pattern {
                request_bytes: (b / chunk.len() as f64).round().max(1.0) as u32,
                sequential_fraction: sf,
                write_fraction: wf,
            };
            let span = reqs[*chunk.last().expect("non-empty")].arrival - reqs[chunk[0]].arrival;
            let load = if span == 0 {
                f64::INFINITY
            } else {
                // The window's rate, counting its last request's own share of the span.
                b * chunk.len() as f64
                    / (chunk.len() - 1).max(1) as f64
                    / span as f64
                    / self.bytes_per_cycle(&mean)
            };
            // Curves at this window's pattern and load, per request size: the bandwidth, the
            // latency distribution as values at the quantile knots, the saturated service.
            for (j, &i) in chunk.iter().enumerate() {
                let r = &reqs[i];
                let (bpc, knots, service) = match curves {
                    Some((p, l, size, bpc, knots, service))
                        if size == r.bytes && p == mean && l == load.to_bits() =>
                    {
                        (bpc, knots, service)
                    }
                    _ => {
                        let p = Pattern {
                            request_bytes: r.bytes.max(1),
                            ..mean
                        };
                        let knots = QUANTILES.map(|q| self.latency_quantile_cycles(&p, load, q));
                        let bpc = self.bytes_per_cycle(&p);
                        let service = self.interp(&p, |c| c.saturated_service_cycles);
                        curves = Some((mean, load.to_bits(), r.bytes, bpc, knots, service));
                        (bpc, knots, service)
                    }
                };
                let start = free.max(r.arrival as f64);
                // A quantile from a low-discrepancy sequence, so the latencies of any run of
                // requests follow the calibrated distribution.
                let u = weyl((w * WINDOW + j) as u64);
                let (q0, q1, wq) = bracket(&QUANTILES, u);
                let loaded = (1.0 - wq) * knots[q0] + wq * knots[q1];
                free = start + f64::from(r.bytes) / bpc;
                // The loaded latency, unless the fluid queue's wait plus the saturated service
                // is longer (a backlog the calibrated loads did not have).
                let done = (r.arrival as f64 + loaded).max(start + service).round() as u64;
                let done = done.max(r.arrival);
                completions[i] = done;
                if r.op == Op::Write {
                    write_lat.record(done - r.arrival);
                    bytes_written += u64::from(r.bytes);
                } else {
                    read_lat.record(done - r.arrival);
                    bytes_read += u64::from(r.bytes);
                }
            }
        }
        let first = order.first().map_or(0, |&i| reqs[i].arrival);
        let last = completions.iter().copied().max().unwrap_or(0);
        let elapsed = last.saturating_sub(first);
        let elapsed_ns = elapsed as f64 * self.cal.tck_ns;
        let peak_gbps = self.cal.peak_bytes_per_cycle / self.cal.tck_ns;
        let achieved = if elapsed > 0 {
            (bytes_read + bytes_written) as f64 / elapsed_ns
        } else {
            0.0
        };
        let writes = reqs.iter().filter(|r| r.op == Op::Write).count() as u64;
        Outcome {
            completions,
            stats: MemStats {
                requests: reqs.len() as u64,
                reads: reqs.len() as u64 - writes,
                writes,
                bytes_read,
                bytes_written,
                first_arrival_cycle: first,
                last_completion_cycle: last,
                elapsed_cycles: elapsed,
                elapsed_ns,
                achieved_gbps: achieved,
                peak_gbps,
                efficiency: achieved / peak_gbps,
                read_latency: read_lat.summary(self.cal.tck_ns),
                write_latency: write_lat.summary(self.cal.tck_ns),
                ..MemStats::default()
            },
        }
    }
}

/// Throughput of a saturating run without the pipeline fill: bytes after the first completion
/// over the time from the first completion to the last.
fn steady_bytes_per_cycle(out: &Outcome, size: u32) -> f64 {
    let first = out.completions.iter().copied().min().unwrap_or(0);
    let last = out.stats.last_completion_cycle;
    let bytes = (out.stats.bytes_read + out.stats.bytes_written).saturating_sub(u64::from(size));
    bytes as f64 / (last.saturating_sub(first)).max(1) as f64
}

/// The `k`-th point of the golden-ratio Weyl sequence `frac((k + 1/2) / φ)` in [0, 1), in
/// integer arithmetic (evenly spread quantiles for consecutive requests).
fn weyl(k: u64) -> f64 {
    const STEP: u64 = 0x9E37_79B9_7F4A_7C15; // 2^64 / φ
    let x = k.wrapping_mul(STEP).wrapping_add(STEP >> 1);
    (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Mean of `completion − fluid start` over a saturating run, where the fluid server starts
/// request `i` when the bytes before it have been served at `bpc`.
fn saturated_service(reqs: &[Request], out: &Outcome, bpc: f64) -> f64 {
    let mut served = 0.0;
    let mut sum = 0.0;
    for (r, &done) in reqs.iter().zip(&out.completions) {
        let start = (served / bpc).max(r.arrival as f64);
        served += f64::from(r.bytes);
        sum += (done as f64 - start).max(0.0);
    }
    sum / reqs.len().max(1) as f64
}

/// Latencies of a run at [`QUANTILES`] (nearest rank).
fn latency_quantiles(reqs: &[Request], out: &Outcome) -> Vec<f64> {
    let mut lat: Vec<u64> = out
        .completions
        .iter()
        .zip(reqs)
        .map(|(d, r)| d - r.arrival)
        .collect();
    lat.sort_unstable();
    QUANTILES
        .iter()
        .map(|&q| {
            let rank = ((q * lat.len() as f64).ceil() as usize).clamp(1, lat.len().max(1));
            lat.get(rank - 1).copied().unwrap_or(0) as f64
        })
        .collect()
}

/// Mean of the piecewise-linear quantile function through the knots.
fn quantile_mean(v: &[f64]) -> f64 {
    QUANTILES
        .windows(2)
        .zip(v.windows(2))
        .map(|(q, x)| (q[1] - q[0]) * (x[0] + x[1]) / 2.0)
        .sum()
}

/// Mean latency over reads and writes together.
fn mean_latency(s: &MemStats) -> f64 {
    let (r, w) = (&s.read_latency, &s.write_latency);
    let n = r.count + w.count;
    if n == 0 {
        0.0
    } else {
        (r.mean_cycles * r.count as f64 + w.mean_cycles * w.count as f64) / n as f64
    }
}

/// Turns a seeded share of a trace's requests into writes.
fn mark_writes(reqs: &mut [Request], fraction: f64, seed: u64) {
    if fraction <= 0.0 {
        return;
    }
    let mut rng = trace::SplitMix64::new(seed ^ 0xA5A5);
    for r in reqs {
        if rng.unit() < fraction {
            r.op = Op::Write;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weyl_points_spread_evenly() {
        let n = 10_000;
        let mut below = [0u32; 10];
        for k in 0..n {
            let u = weyl(k);
            assert!((0.0..1.0).contains(&u));
            below[(u * 10.0) as usize] += 1;
        }
        assert!(below.iter().all(|&c| c.abs_diff(1000) <= 2), "{below:?}");
    }

    #[test]
    fn bracket_clamps_and_interpolates() {
        let g = [1.0, 2.0, 4.0];
        assert_eq!(bracket(&g, 0.5), (0, 0, 0.0));
        assert_eq!(bracket(&g, 5.0), (2, 2, 0.0));
        assert_eq!(bracket(&g, 3.0), (1, 2, 0.5));
        assert_eq!(bracket(&g, 2.0), (0, 1, 1.0));
    }
}
