//! Time of one kernel on one device: dense GEMMs, embedding gathers and streaming
//! (elementwise, copy) kernels.
//!
//! Every function here is the *device* side only; how kernels are launched (eager host path,
//! captured graph) is `stack`'s business. Parameters come in two kinds: the few fitted to the
//! H100 measurements ([`Params`]) and the fixed assumptions below, each with its reason.

use seedchip_chip::Precision;
use serde::Serialize;

use crate::device::Device;
use crate::{Error, Params};

/// Loaded DRAM latency a gather waits for, ns. Only its ratio to the fitted in-flight lookups
/// matters on the H100; it is what carries the latency-bound regime to other devices.
pub const DRAM_LATENCY_NS: f64 = 600.0;
/// Share of the L2 that embedding rows get; the rest holds weights, activations and indices.
pub const CACHE_USABLE_FRACTION: f64 = 0.75;
/// Exponent of the smooth maximum between a gather's latency-bound and bandwidth-bound times
/// (a hard maximum overstates the corner where both limits are close).
pub const GATHER_SMOOTH_MAX_EXPONENT: f64 = 2.0;
/// Extra bytes per row of an int8/fp8 table: FBGEMM-style row-wise scale and bias in fp32.
pub const QUANTIZED_ROW_EXTRA_BYTES: f64 = 8.0;
/// Usable fraction of the host link's raw rate for bulk copies (PCIe protocol overhead).
pub const HOST_LINK_EFFICIENCY: f64 = 0.8;
/// Of that, what scattered row reads from host memory get (small TLPs, zero-copy access).
pub const HOST_GATHER_EFFICIENCY: f64 = 0.5;
/// Fixed cost of one host↔device copy, µs (DMA setup and completion).
pub const HOST_COPY_SETUP_US: f64 = 2.0;
/// Share of device memory kept free for weights, activations and the runtime; tables beyond
/// the rest spill to host memory.
pub const MEMORY_RESERVE_FRACTION: f64 = 0.1;

/// Where a kernel's time goes, µs.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct KernelTime {
    pub total_us: f64,
    /// Tensor-core (or matrix-unit) time, wave quantization and per-wave fill included.
    pub compute_us: f64,
    /// Streaming HBM time at the device's copy efficiency.
    pub memory_us: f64,
    /// Random-row gather time (latency- or bandwidth-bound).
    pub gather_us: f64,
    pub flops: f64,
    /// Bytes moved to and from device memory.
    pub bytes: f64,
}

/// A GEMM `[m, k] × [k, n]`, `batch` times (a batched matmul); `shared_b` when every batch
/// reads the same `b` (weights).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GemmShape {
    pub batch: u64,
    pub m: u64,
    pub k: u64,
    pub n: u64,
    pub shared_b: bool,
}

impl GemmShape {
    pub fn single(m: u64, k: u64, n: u64) -> GemmShape {
        GemmShape {
            batch: 1,
            m,
            k,
            n,
            shared_b: true,
        }
    }

    pub fn flops(&self) -> f64 {
        2.0 * self.batch as f64 * self.m as f64 * self.k as f64 * self.n as f64
    }
}

/// Output tiles a GEMM library chooses among (rows × cols per CTA on Hopper-class tensor cores).
const TILES: [(u64, u64); 5] = [(128, 256), (128, 128), (64, 256), (64, 128), (64, 64)];
/// Split-K factors tried when the output has too few tiles to fill the device.
const SPLITS: [u64; 8] = [1, 2, 3, 4, 6, 8, 12, 16];
/// K advances in steps of this many elements (the main loop's K tile).
const K_STEP: u64 = 64;

/// Operand reuse of an output tile: multiply-adds per element loaded. Smaller tiles reload
/// operands more often; their throughput relative to the largest tile scales with this.
fn tile_intensity(tm: u64, tn: u64) -> f64 {
    (tm * tn) as f64 / (tm + tn) as f64
}

/// Sustained fraction of the datasheet peak at a precision (measured on the H100).
fn sustained(params: &Params, p: Precision) -> f64 {
    match p {
        Precision::Tf32 => params.ceiling.sustained_tf32,
        _ => params.ceiling.sustained_tensor,
    }
}

/// Bytes per element of activations and weights at a precision.
pub fn element_bytes(p: Precision) -> f64 {
    f64::from(p.bits()) / 8.0
}

/// One GEMM: the fastest of the tilings and split-K factors a library would choose among, each
/// costed as waves of CTAs (wave quantization over the SMs, a fixed fill per wave, operand
/// intensity of the tile) against the HBM traffic of operands and result, with the fitted
/// overlap between the two.
pub fn gemm(
    dev: &Device,
    params: &Params,
    shape: GemmShape,
    p: Precision,
) -> Result<KernelTime, Error> {
    let peak_flops_per_us = dev.peak_tops(p)? * 1e6 * sustained(params, p);
    let per_unit = peak_flops_per_us / f64::from(dev.units);
    let bw = dev.bandwidth_bytes_per_us() * params.ceiling.stream_efficiency;
    let eb = element_bytes(p);
    let GemmShape {
        batch,
        m,
        k,
        n,
        shared_b,
    } = shape;
    let b_elems = if shared_b { k * n } else { batch * k * n };
    let base_bytes = eb * (batch * m * k + b_elems + batch * m * n) as f64;
    let units = u64::from(dev.units);
    let best_intensity = tile_intensity(TILES[0].0, TILES[0].1);
    let mut best: Option<KernelTime> = None;
    for (tm, tn) in TILES {
        let eff = tile_intensity(tm, tn) / best_intensity;
        let tiles = batch * m.div_ceil(tm) * n.div_ceil(tn);
        for s in SPLITS {
            if s > 1 && (tiles * s > 2 * units || k < s * K_STEP) {
                break;
            }
            let k_per = (k.div_ceil(s)).div_ceil(K_STEP) * K_STEP;
            let waves = (tiles * s).div_ceil(units) as f64;
            let wave_us =
                params.gemm.wave_fill_us + 2.0 * (tm * tn * k_per) as f64 / (per_unit * eff);
            let compute = waves * wave_us;
            // Split-K partial sums are written and read back in fp32.
            let partials = if s > 1 {
                8.0 * (batch * m * n * s) as f64
            } else {
                0.0
            };
            let memory = (base_bytes + partials) / bw;
            let total = compute.max(memory) + (1.0 - params.gemm.overlap) * compute.min(memory);
            if best.is_none_or(|b| total < b.total_us) {
                best = Some(KernelTime {
                    total_us: total,
                    compute_us: compute,
                    memory_us: memory,
                    gather_us: 0.0,
                    flops: shape.flops(),
                    bytes: base_bytes + partials,
                });
            }
        }
    }
    Ok(best.expect("the tile list is not empty"))
}

/// One table's share of a gather kernel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GatherTable {
    pub lookups: f64,
    /// Bytes of one stored row.
    pub row_bytes: f64,
    /// Fraction of lookups served by the on-chip cache.
    pub cache_hit: f64,
    /// Fraction of lookups whose row lives in host memory (tables larger than the device).
    pub host_fraction: f64,
}

/// A gather kernel over one or more tables (a fused table-batched kernel when more than one).
///
/// Two limits, combined by a smooth maximum: the *latency* limit (Little's law: lookups in
/// flight over the device's SMs divided into the average latency, where cache hits are
/// `hit_latency_ratio` as slow as misses) and the *bandwidth* limit (missed rows plus a fitted
/// per-row overhead that stands for DRAM page and sector waste of random access). Rows in host
/// memory cross the host link, serially after the device rows. Index reads and the pooled
/// output stream at copy efficiency.
pub fn gather(
    dev: &Device,
    params: &Params,
    tables: &[GatherTable],
    stream_bytes: f64,
    in_flight_gain: f64,
) -> KernelTime {
    let g = &params.gather;
    let in_flight = g.in_flight_per_sm * dev.gather_units() * in_flight_gain;
    let latency_us = DRAM_LATENCY_NS * 1e-3;
    let bw = dev.bandwidth_bytes_per_us();
    let (mut t_lat, mut t_bw, mut t_host, mut bytes) = (0.0, 0.0, 0.0, stream_bytes);
    for t in tables {
        let on_device = t.lookups * (1.0 - t.host_fraction);
        let lat = latency_us * (1.0 - t.cache_hit * (1.0 - g.hit_latency_ratio));
        t_lat += on_device * lat / in_flight;
        t_bw += on_device * (1.0 - t.cache_hit) * (t.row_bytes + g.miss_overhead_bytes) / bw;
        t_host += t.lookups * t.host_fraction * t.row_bytes
            / (dev.host_link_bytes_per_us() * HOST_LINK_EFFICIENCY * HOST_GATHER_EFFICIENCY);
        bytes += on_device * (1.0 - t.cache_hit) * t.row_bytes;
    }
    let e = GATHER_SMOOTH_MAX_EXPONENT;
    let core = (t_lat.powf(e) + t_bw.powf(e)).powf(1.0 / e);
    let stream = stream_bytes / (bw * params.ceiling.stream_efficiency);
    let gather_us = core + t_host;
    KernelTime {
        total_us: params.gemm.wave_fill_us + gather_us + stream,
        compute_us: 0.0,
        memory_us: stream,
        gather_us,
        flops: 0.0,
        bytes,
    }
}

/// A streaming kernel (elementwise, copy, reduction) moving `bytes` and doing `flops` vector
/// operations: one fill, one memory round trip, then the bytes at copy efficiency. Vector
/// arithmetic is never the limit on these devices for recommendation models' elementwise ops.
pub fn stream(dev: &Device, params: &Params, bytes: f64, flops: f64) -> KernelTime {
    let bw = dev.bandwidth_bytes_per_us() * params.ceiling.stream_efficiency;
    let memory = bytes / bw;
    KernelTime {
        total_us: params.gemm.wave_fill_us + DRAM_LATENCY_NS * 1e-3 + memory,
        compute_us: 0.0,
        memory_us: memory,
        gather_us: 0.0,
        flops,
        bytes,
    }
}

/// One host↔device copy of `bytes`, µs.
pub fn host_copy_us(dev: &Device, bytes: f64) -> f64 {
    if bytes <= 0.0 {
        return 0.0;
    }
    HOST_COPY_SETUP_US + bytes / (dev.host_link_bytes_per_us() * HOST_LINK_EFFICIENCY)
}
