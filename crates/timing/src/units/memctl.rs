//! The memory controllers as the event kernel sees them: requests in at core cycles,
//! completions out at core cycles, over either memory model.
//!
//! - **Detailed**: [`crate::mem::DetailedMemory`], bank by bank, driven incrementally.
//! - **Fast**: the calibrated curves of [`crate::mem::FastMemory`], applied request by request
//!   as they arrive (the batch replay in `mem::fast` needs the whole trace up front, which a
//!   closed loop of engines waiting on their own completions cannot give): a fluid server at the
//!   curve's bandwidth for the recent access pattern, and per request a latency drawn from the
//!   calibrated distribution at the recent offered load (a golden-ratio sequence of quantiles),
//!   never earlier than the fluid server's finish plus the unloaded latency.
//!
//! Clocks: the memory model counts DRAM command cycles (tCK), the kernel core cycles. A request
//! made at core cycle `t` arrives at memory cycle `⌊t · r⌋` and a completion at memory cycle
//! `c` is seen at core cycle `⌈c / r⌉`, with `r` (memory cycles per core cycle) held as a
//! fraction over 2^20 so the two conversions are exact inverses in the direction that matters:
//! a completion is never seen before it happens.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use serde::Serialize;

use crate::event::Cycle;
use crate::mem::{DetailedMemory, FastMemory, MemConfig, Op, Pattern, Request};

/// Which memory model serves requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemoryMode {
    Detailed,
    Fast,
}

impl MemoryMode {
    pub fn name(self) -> &'static str {
        match self {
            MemoryMode::Detailed => "detailed",
            MemoryMode::Fast => "fast",
        }
    }
}

const RATIO_BITS: u32 = 20;

/// Requests the fast model's pattern and load are measured over.
const FAST_WINDOW: usize = 64;

/// Quantile knots the fast model caches per pattern: `0, 1/16, …, 1`.
const FAST_KNOTS: usize = 17;

/// Request size and quantised sequential fraction, write fraction and load.
type CurveKey = (u32, u32, u32, u32);

#[derive(Debug)]
struct FastState {
    model: FastMemory,
    /// Lower bound on any request's latency: the unloaded row-hit read of one burst.
    min_latency: f64,
    free: f64,
    frontier: u64,
    ready: BinaryHeap<Reverse<(u64, u32)>>,
    ends: Vec<u64>,
    /// Recent requests: (arrival, bytes, sequential, write).
    window: std::collections::VecDeque<(u64, u32, bool, bool)>,
    sums: (u64, u64, u64),
    curves: BTreeMap<CurveKey, (f64, [f64; FAST_KNOTS])>,
    submitted: u32,
}

impl FastState {
    fn submit(&mut self, arrival: u64, addr: u64, bytes: u32, write: bool, id: u32) -> u64 {
        let slot =
            |a: u64| (a.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize % self.ends.len();
        let sequential = self.ends[slot(addr)] == addr;
        let end = addr + u64::from(bytes);
        let s = slot(end);
        self.ends[s] = end;
        let b = u64::from(bytes);
        self.window.push_back((arrival, bytes, sequential, write));
        self.sums.0 += b;
        if sequential {
            self.sums.1 += b;
        }
        if write {
            self.sums.2 += b;
        }
        if self.window.len() > FAST_WINDOW {
            let (_, ob, os, ow) = self.window.pop_front().expect("non-empty");
            let ob = u64::from(ob);
            self.sums.0 -= ob;
            if os {
                self.sums.1 -= ob;
            }
            if ow {
                self.sums.2 -= ob;
            }
        }
        let total = self.sums.0.max(1) as f64;
        let (sf, wf) = (self.sums.1 as f64 / total, self.sums.2 as f64 / total);
        let quant = |x: f64| (x * 16.0).round() as u32;
        let span = arrival - self.window.front().expect("non-empty").0;
        let pattern = Pattern {
            request_bytes: bytes.max(1),
            sequential_fraction: f64::from(quant(sf)) / 16.0,
            write_fraction: f64::from(quant(wf)) / 16.0,
        };
        let bpc_pattern = self.model.bytes_per_cycle(&pattern);
        let n = self.window.len() as f64;
        let load = if span == 0 {
            1.0
        } else {
            (total * n / (n - 1.0).max(1.0) / span as f64 / bpc_pattern).min(1.0)
        };
        let lq = (load * 32.0).round() as u32;
        let key = (bytes.max(1), quant(sf), quant(wf), lq);
        let model = &self.model;
        let (bpc, knots) = *self.curves.entry(key).or_insert_with(|| {
            let l = f64::from(lq) / 32.0;
            let mut k = [0.0; FAST_KNOTS];
            for (j, v) in k.iter_mut().enumerate() {
                *v = model.latency_quantile_cycles(&pattern, l, j as f64 / 16.0);
            }
            (bpc_pattern, k)
        });
        let q = (0.5 + f64::from(id) * 0.618_033_988_749_894_9).fract();
        let pos = q * 16.0;
        let j = (pos.floor() as usize).min(FAST_KNOTS - 2);
        let lat = knots[j] + (knots[j + 1] - knots[j]) * (pos - j as f64);
        let start = self.free.max(arrival as f64);
        self.free = start + b as f64 / bpc;
        let done = (arrival as f64 + lat.max(self.min_latency)).max(self.free + self.min_latency);
        let done = done.ceil() as u64;
        self.ready.push(Reverse((done, id)));
        self.submitted += 1;
        done
    }
}

#[derive(Debug)]
enum Backend {
    Detailed(Box<DetailedMemory>),
    Fast(Box<FastState>),
}

/// What the memory did, for reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MemorySummary {
    pub mode: String,
    pub kind: String,
    pub requests: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Bytes moved on the DRAM data buses (whole bursts; the detailed model only, else the
    /// bytes requested).
    pub bytes_transferred: u64,
    pub peak_gbps: f64,
    /// Row-buffer hit rate (detailed model only).
    pub row_hit_rate: Option<f64>,
    pub activates: Option<u64>,
    pub refreshes: Option<u64>,
    pub mean_read_latency_ns: Option<f64>,
    pub p99_read_latency_ns: Option<f64>,
}

/// The memory system behind the kernel.
#[derive(Debug)]
pub struct MemCtl {
    cfg: MemConfig,
    backend: Backend,
    /// Memory cycles per core cycle, × 2^20.
    ratio: u64,
    outstanding: u64,
    /// Writes submitted and not yet drained; ids of writes (bit per request id).
    outstanding_writes: u64,
    is_write: Vec<bool>,
    /// The memory cycle the model has been advanced to.
    frontier: u64,
    /// Cycles from a READ command to the end of its data, plus the controller latency: no
    /// read whose last READ has not issued can complete sooner after the frontier.
    read_floor: u64,
    /// The same for any request (writes have a short write latency).
    any_floor: u64,
    requests: u64,
    bytes_read: u64,
    bytes_written: u64,
    lat_sum_mem: f64,
    lat_n: u64,
}

impl MemCtl {
    /// `fast`: the calibrated curves for [`MemoryMode::Fast`] (ignored in detailed mode).
    pub fn new(
        cfg: MemConfig,
        clock_mhz: f64,
        mode: MemoryMode,
        fast: Option<FastMemory>,
    ) -> Result<MemCtl, crate::mem::Error> {
        let core_ns = 1000.0 / clock_mhz;
        let ratio = (core_ns / cfg.tck_ns * f64::from(1u32 << RATIO_BITS)).round() as u64;
        let t = &cfg.timing;
        let read_floor = u64::from(t.tcl + t.tburst + cfg.controller_latency_cycles);
        let any_floor = u64::from(t.tcl.min(t.tcwl) + t.tburst + cfg.controller_latency_cycles);
        let backend = match mode {
            MemoryMode::Detailed => Backend::Detailed(Box::new(DetailedMemory::new(cfg.clone())?)),
            MemoryMode::Fast => {
                let model = match fast {
                    Some(m) => m,
                    None => FastMemory::calibrate(
                        &cfg,
                        &crate::mem::fast::CalibrationOptions::standard(&cfg),
                    )?,
                };
                Backend::Fast(Box::new(FastState {
                    model,
                    min_latency: f64::from(cfg.unloaded_read_latency(1, true)),
                    free: 0.0,
                    frontier: 0,
                    ready: BinaryHeap::new(),
                    ends: vec![u64::MAX; 1 << 12],
                    window: Default::default(),
                    sums: (0, 0, 0),
                    curves: BTreeMap::new(),
                    submitted: 0,
                }))
            }
        };
        Ok(MemCtl {
            cfg,
            backend,
            ratio: ratio.max(1),
            outstanding: 0,
            outstanding_writes: 0,
            is_write: Vec::new(),
            frontier: 0,
            read_floor,
            any_floor,
            requests: 0,
            bytes_read: 0,
            bytes_written: 0,
            lat_sum_mem: 0.0,
            lat_n: 0,
        })
    }

    pub fn config(&self) -> &MemConfig {
        &self.cfg
    }

    pub fn mode(&self) -> MemoryMode {
        match self.backend {
            Backend::Detailed(_) => MemoryMode::Detailed,
            Backend::Fast(_) => MemoryMode::Fast,
        }
    }

    /// Core cycle → memory cycle (rounding down).
    pub fn to_mem(&self, t: Cycle) -> u64 {
        ((u128::from(t) * u128::from(self.ratio)) >> RATIO_BITS).min(u128::from(u64::MAX)) as u64
    }

    /// Memory cycle → the first core cycle at or after it.
    pub fn to_core(&self, c: u64) -> Cycle {
        ((u128::from(c) << RATIO_BITS).div_ceil(u128::from(self.ratio))).min(u128::from(u64::MAX))
            as u64
    }

    /// Core cycles of the unloaded latency of one row-missing read of `bytes`.
    pub fn unloaded_read_cycles(&self, bytes: u64) -> Cycle {
        let bursts = bytes.div_ceil(u64::from(self.cfg.burst_bytes())).max(1) as u32;
        self.to_core(u64::from(self.cfg.unloaded_read_latency(bursts, false)))
    }

    /// Bytes per core cycle at the configured peak.
    pub fn peak_bytes_per_core_cycle(&self) -> f64 {
        self.cfg.peak_bytes_per_cycle() * self.ratio as f64 / f64::from(1u32 << RATIO_BITS)
    }

    /// Adds a request made at core cycle `now` (non-decreasing across calls); returns its id.
    pub fn submit(&mut self, now: Cycle, addr: u64, bytes: u32, write: bool) -> u32 {
        // An idle model catches up first (everything before `now` is decided), so the kernel
        // never steps it forward from a stale frontier; a busy one is kept within its minimum
        // latency of the kernel by `Sim::run`, and advancing it here on every request would
        // cost a pass over all its pseudo-channels each time.
        if !self.busy() {
            self.advance(now);
        }
        let arrival = self.to_mem(now);
        self.outstanding += 1;
        self.requests += 1;
        self.is_write.push(write);
        if write {
            self.outstanding_writes += 1;
        }
        if write {
            self.bytes_written += u64::from(bytes);
        } else {
            self.bytes_read += u64::from(bytes);
        }
        match &mut self.backend {
            Backend::Detailed(m) => {
                let op = if write { Op::Write } else { Op::Read };
                m.submit(Request {
                    arrival,
                    addr,
                    bytes,
                    op,
                })
                .0
            }
            Backend::Fast(f) => {
                let id = f.submitted;
                let done = f.submit(arrival, addr, bytes, write, id);
                if !write {
                    self.lat_sum_mem += (done - arrival) as f64;
                    self.lat_n += 1;
                }
                id
            }
        }
    }

    /// Whether a submitted request has not yet been handed out by [`Self::drain`].
    pub fn busy(&self) -> bool {
        self.outstanding > 0
    }

    /// No request not yet drained completes before this core cycle.
    ///
    /// The detailed model's own bound allows for a write issued at its frontier (write latency
    /// is a few cycles); with no write outstanding, a read's READ-to-data time bounds it, which
    /// lets the kernel advance the memory in steps several times longer.
    pub fn lower_bound(&self) -> Cycle {
        let mem = match &self.backend {
            Backend::Detailed(m) => {
                let own = m.completion_lower_bound();
                // Below the frontier's bound, the model holds a determined completion: use it.
                // At the frontier's bound, only undetermined requests remain, and with no
                // write among them the read bound holds.
                let undetermined = self.frontier.saturating_add(self.any_floor);
                if self.outstanding_writes == 0 && own >= undetermined {
                    own.max(self.frontier.saturating_add(self.read_floor))
                } else {
                    own
                }
            }
            Backend::Fast(f) => {
                let pending = f.ready.peek().map_or(u64::MAX, |r| r.0.0);
                pending.min(f.frontier.saturating_add(f.min_latency as u64))
            }
        };
        self.to_core(mem)
    }

    /// Makes every memory decision before core cycle `t` (no request may later arrive before
    /// it).
    pub fn advance(&mut self, t: Cycle) {
        let m = self.to_mem(t);
        self.frontier = self.frontier.max(m);
        match &mut self.backend {
            Backend::Detailed(d) => d.advance_to(m),
            Backend::Fast(f) => f.frontier = f.frontier.max(m),
        }
    }

    /// Appends every known completion as `(core cycle, id)`, in (cycle, id) order.
    pub fn drain(&mut self, out: &mut Vec<(Cycle, u32)>) {
        let before = out.len();
        match &mut self.backend {
            Backend::Detailed(d) => {
                for c in d.completions_until(u64::MAX) {
                    out.push((c.cycle, c.id.0));
                }
            }
            Backend::Fast(f) => {
                // Completions are final at submission: hand them all out.
                while let Some(Reverse((c, id))) = f.ready.pop() {
                    out.push((c, id));
                }
            }
        }
        for e in &mut out[before..] {
            e.0 = ((u128::from(e.0) << RATIO_BITS).div_ceil(u128::from(self.ratio))) as u64;
        }
        self.outstanding -= (out.len() - before) as u64;
        for e in &out[before..] {
            if self.is_write[e.1 as usize] {
                self.outstanding_writes -= 1;
            }
        }
    }

    pub fn summary(&self) -> MemorySummary {
        let mut s = MemorySummary {
            mode: self.mode().name().to_string(),
            kind: format!("{:?}", self.cfg.kind).to_lowercase(),
            requests: self.requests,
            bytes_read: self.bytes_read,
            bytes_written: self.bytes_written,
            bytes_transferred: self.bytes_read + self.bytes_written,
            peak_gbps: self.cfg.peak_gbps(),
            ..Default::default()
        };
        match &self.backend {
            Backend::Detailed(d) => {
                let st = d.stats();
                s.bytes_transferred = st.bytes_transferred;
                s.row_hit_rate = Some(st.row_hit_rate);
                s.activates = Some(st.activates);
                s.refreshes = Some(st.refreshes);
                if st.read_latency.count > 0 {
                    s.mean_read_latency_ns = Some(st.read_latency.mean_ns);
                    s.p99_read_latency_ns = Some(st.read_latency.p99_ns);
                }
            }
            Backend::Fast(_) => {
                if self.lat_n > 0 {
                    s.mean_read_latency_ns =
                        Some(self.lat_sum_mem / self.lat_n as f64 * self.cfg.tck_ns);
                }
            }
        }
        s
    }
}
