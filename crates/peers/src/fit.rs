//! Fitting the H100 model to the calibration rows set aside for fitting.
//!
//! Nine numbers are fitted, four for GEMMs and five for gathers; everything else is a datasheet
//! figure, a measured ceiling or a documented assumption. The fit minimizes the sum of absolute
//! log errors (robust to the few outlying rows, symmetric in over- and under-prediction) with a
//! deterministic Nelder–Mead search from fixed starting points, so the same data always gives
//! the same parameters. It runs once per process (a few milliseconds in release builds).

use std::sync::OnceLock;

use seedchip_chip::Precision;
use serde::Serialize;

use crate::calibration::{Calibration, EmbeddingRow, GemmRow, Role, Split};
use crate::device::Device;
use crate::kernels::{self, CACHE_USABLE_FRACTION, GatherTable, GemmShape};
use crate::skew::{CacheStream, lru_hit_rates};

/// Measured ceilings, as fractions of the H100 datasheet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ceiling {
    /// 8192³ bf16 GEMM over the dense bf16 peak: the clock the tensor cores sustain under the
    /// power cap. Applied to every non-tf32 precision and carried to every device.
    pub sustained_tensor: f64,
    /// The same for tf32.
    pub sustained_tf32: f64,
    /// Device copy bandwidth over the datasheet bandwidth: streaming efficiency of HBM.
    pub stream_efficiency: f64,
}

/// GEMM parameters (fitted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GemmParams {
    /// Eager framework call: host time before the kernel starts, µs.
    pub eager_pre_us: f64,
    /// Eager framework call: host time after the launch; a kernel shorter than this hides
    /// behind it, µs.
    pub eager_post_us: f64,
    /// Fixed time per wave of CTAs (prologue, pipeline fill, epilogue), µs.
    pub wave_fill_us: f64,
    /// Fraction of the shorter of compute and memory time hidden behind the longer.
    pub overlap: f64,
}

/// Embedding-gather parameters (fitted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GatherParams {
    /// Eager `embedding_bag` call: host time before its kernels start, µs.
    pub eager_pre_us: f64,
    /// Eager `embedding_bag` call: host time after the launch, µs.
    pub eager_post_us: f64,
    /// Lookups in flight per SM in a framework's embedding-bag kernel.
    pub in_flight_per_sm: f64,
    /// Bytes-equivalent cost of a random row miss beyond the row itself.
    pub miss_overhead_bytes: f64,
    /// Latency of a cache hit relative to a miss, as the loaded gather kernel sees it.
    pub hit_latency_ratio: f64,
}

/// Everything calibrated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Params {
    pub ceiling: Ceiling,
    pub gemm: GemmParams,
    pub gather: GatherParams,
}

impl Params {
    /// The parameters fitted to the embedded H100 data (fitted on first use).
    pub fn h100() -> &'static Params {
        static FITTED: OnceLock<Params> = OnceLock::new();
        FITTED.get_or_init(|| fit(&Calibration::h100(), &Split::DOCUMENTED))
    }
}

/// Eager time of one framework call whose kernels take `kernel_us`: the host spends `pre`
/// before the GPU starts and `post` after the launch; CUDA events around the call see the
/// later of the two ends.
pub fn eager_call_us(pre_us: f64, post_us: f64, kernel_us: f64) -> f64 {
    pre_us + post_us.max(kernel_us)
}

fn ceiling(cal: &Calibration) -> Ceiling {
    let h = crate::device::h100();
    let peak = |p: Precision| {
        *h.peak_tops
            .get(&p)
            .expect("the H100 record lists bf16 and tf32 peaks")
    };
    Ceiling {
        sustained_tensor: cal.ceilings.gemm_bf16_tflops / peak(Precision::Bf16),
        sustained_tf32: cal.ceilings.gemm_tf32_tflops / peak(Precision::Tf32),
        stream_efficiency: cal.ceilings.device_copy_gbps / h.memory_bandwidth_gbps,
    }
}

/// Placeholder gather parameters while the GEMM part is fitted (the GEMM model never reads them).
const GATHER_START: GatherParams = GatherParams {
    eager_pre_us: 10.0,
    eager_post_us: 30.0,
    in_flight_per_sm: 16.0,
    miss_overhead_bytes: 128.0,
    hit_latency_ratio: 0.5,
};

const GEMM_START: GemmParams = GemmParams {
    eager_pre_us: 15.0,
    eager_post_us: 20.0,
    wave_fill_us: 1.0,
    overlap: 0.5,
};

/// Predicted eager time of a calibration GEMM row.
pub fn predict_gemm_row(dev: &Device, params: &Params, r: &GemmRow) -> f64 {
    eager_call_us(
        params.gemm.eager_pre_us,
        params.gemm.eager_post_us,
        gemm_row_kernel_us(dev, params, r),
    )
}

/// Device time of a calibration GEMM row's kernel alone.
pub fn gemm_row_kernel_us(dev: &Device, params: &Params, r: &GemmRow) -> f64 {
    kernels::gemm(
        dev,
        params,
        GemmShape::single(r.m, r.k, r.n),
        Precision::Bf16,
    )
    .expect("the device has a bf16 peak")
    .total_us
}

/// Cache hit rate of a calibration embedding row on `dev` (independent of fitted values).
pub fn embedding_row_hit(dev: &Device, r: &EmbeddingRow) -> f64 {
    let stream = CacheStream {
        rows: r.rows,
        row_bytes: r.row_bytes().expect("validated on load") as f64,
        lookups: 1.0,
        pattern: r.pattern().expect("validated on load"),
    };
    lru_hit_rates(&[stream], dev.cache_bytes * CACHE_USABLE_FRACTION)[0]
}

/// Predicted eager time of a calibration embedding row with a known hit rate.
pub fn predict_embedding_row(dev: &Device, params: &Params, r: &EmbeddingRow, hit: f64) -> f64 {
    eager_call_us(
        params.gather.eager_pre_us,
        params.gather.eager_post_us,
        embedding_row_kernel_us(dev, params, r, hit),
    )
}

/// Device time of a calibration embedding row's kernel alone.
pub fn embedding_row_kernel_us(dev: &Device, params: &Params, r: &EmbeddingRow, hit: f64) -> f64 {
    let row_bytes = r.row_bytes().expect("validated on load") as f64;
    let lookups = r.lookups() as f64;
    // int64 indices and offsets in, one pooled row per bag out.
    let stream_bytes = 8.0 * (lookups + r.batch as f64) + r.batch as f64 * row_bytes;
    let table = GatherTable {
        lookups,
        row_bytes,
        cache_hit: hit,
        host_fraction: 0.0,
    };
    kernels::gather(dev, params, &[table], stream_bytes, 1.0).total_us
}

fn abs_log_error(predicted: f64, measured: f64) -> f64 {
    if predicted.is_finite() && predicted > 0.0 {
        (predicted / measured).ln().abs()
    } else {
        f64::INFINITY
    }
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn gemm_from(x: &[f64]) -> GemmParams {
    GemmParams {
        eager_pre_us: x[0].exp(),
        eager_post_us: x[1].exp(),
        wave_fill_us: x[2].exp(),
        overlap: sigmoid(x[3]),
    }
}

fn gather_from(x: &[f64]) -> GatherParams {
    GatherParams {
        eager_pre_us: x[0].exp(),
        eager_post_us: x[1].exp(),
        in_flight_per_sm: x[2].exp(),
        miss_overhead_bytes: x[3].exp(),
        hit_latency_ratio: sigmoid(x[4]),
    }
}

/// Fits the model to the rows of `cal` that `split` gives the role [`Role::Fit`].
pub fn fit(cal: &Calibration, split: &Split) -> Params {
    let dev = Device::get("h100-sxm").expect("h100-sxm is a known device");
    let ceiling = ceiling(cal);
    let gemm_rows = cal.gemm_rows(split, Role::Fit);
    let gemm_loss = |x: &[f64]| {
        let params = Params {
            ceiling,
            gemm: gemm_from(x),
            gather: GATHER_START,
        };
        gemm_rows
            .iter()
            .map(|r| abs_log_error(predict_gemm_row(&dev, &params, r), r.us))
            .sum::<f64>()
    };
    let g0 = GEMM_START;
    let x0 = [
        g0.eager_pre_us.ln(),
        g0.eager_post_us.ln(),
        g0.wave_fill_us.ln(),
        logit(g0.overlap),
    ];
    let gemm = gemm_from(&minimize(gemm_loss, &x0));

    let emb_rows = cal.embedding_rows(split, Role::Fit);
    let hits: Vec<f64> = emb_rows
        .iter()
        .map(|r| embedding_row_hit(&dev, r))
        .collect();
    let gather_loss = |x: &[f64]| {
        let params = Params {
            ceiling,
            gemm,
            gather: gather_from(x),
        };
        emb_rows
            .iter()
            .zip(&hits)
            .map(|(r, &h)| abs_log_error(predict_embedding_row(&dev, &params, r, h), r.us()))
            .sum::<f64>()
    };
    let s = GATHER_START;
    let x0 = [
        s.eager_pre_us.ln(),
        s.eager_post_us.ln(),
        s.in_flight_per_sm.ln(),
        s.miss_overhead_bytes.ln(),
        logit(s.hit_latency_ratio),
    ];
    let gather = gather_from(&minimize(gather_loss, &x0));
    Params {
        ceiling,
        gemm,
        gather,
    }
}

/// Nelder–Mead from `x0` with restarts around the best point found, until a restart no longer
/// improves. Deterministic: no randomness anywhere.
fn minimize(f: impl Fn(&[f64]) -> f64, x0: &[f64]) -> Vec<f64> {
    let mut best = x0.to_vec();
    let mut best_f = f(&best);
    for _ in 0..8 {
        let (x, fx) = nelder_mead(&f, &best, 0.5, 3000);
        let improved = fx < best_f - 1e-9;
        if fx <= best_f {
            best = x;
            best_f = fx;
        }
        if !improved {
            break;
        }
    }
    best
}

fn nelder_mead(
    f: &impl Fn(&[f64]) -> f64,
    x0: &[f64],
    step: f64,
    max_iter: usize,
) -> (Vec<f64>, f64) {
    let n = x0.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = (0..=n)
        .map(|i| {
            let mut x = x0.to_vec();
            if i > 0 {
                x[i - 1] += step;
            }
            let fx = f(&x);
            (x, fx)
        })
        .collect();
    let combine = |a: &[f64], b: &[f64], t: f64| -> Vec<f64> {
        a.iter().zip(b).map(|(a, b)| a + t * (b - a)).collect()
    };
    for _ in 0..max_iter {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let spread = simplex[n].1 - simplex[0].1;
        if spread.abs() < 1e-12 {
            break;
        }
        let centroid: Vec<f64> = (0..n)
            .map(|j| simplex[..n].iter().map(|(x, _)| x[j]).sum::<f64>() / n as f64)
            .collect();
        let worst = simplex[n].0.clone();
        let reflected = combine(&centroid, &worst, -1.0);
        let fr = f(&reflected);
        if fr < simplex[0].1 {
            let expanded = combine(&centroid, &worst, -2.0);
            let fe = f(&expanded);
            simplex[n] = if fe < fr {
                (expanded, fe)
            } else {
                (reflected, fr)
            };
        } else if fr < simplex[n - 1].1 {
            simplex[n] = (reflected, fr);
        } else {
            let contracted = combine(&centroid, &worst, 0.5);
            let fc = f(&contracted);
            if fc < simplex[n].1 {
                simplex[n] = (contracted, fc);
            } else {
                let best = simplex[0].0.clone();
                for entry in simplex.iter_mut().skip(1) {
                    let x = combine(&best, &entry.0, 0.5);
                    let fx = f(&x);
                    *entry = (x, fx);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    simplex.swap_remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nelder_mead_finds_a_quadratic_minimum() {
        let f = |x: &[f64]| (x[0] - 3.0).powi(2) + 10.0 * (x[1] + 1.0).powi(2) + 2.0;
        let x = minimize(f, &[0.0, 0.0]);
        assert!(
            (x[0] - 3.0).abs() < 1e-4 && (x[1] + 1.0).abs() < 1e-4,
            "{x:?}"
        );
    }

    #[test]
    fn eager_call_hides_short_kernels() {
        assert_eq!(eager_call_us(20.0, 15.0, 5.0), 35.0);
        assert_eq!(eager_call_us(20.0, 15.0, 100.0), 120.0);
    }
}
