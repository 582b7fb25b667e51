//! Integer quantization: parameters, calibration, int8 weights, int32 accumulation.
//!
//! The scheme is the one integer-only inference engines use (TFLite/FBGEMM): a real value `r` is
//! stored as `q = clamp(round(r / scale) + zero_point, qmin, qmax)` and read back as
//! `(q - zero_point) · scale`. Choices (all in `docs/numerics.md`):
//! - weights: int8, **symmetric, per output channel**, range `[-127, 127]` (zero point 0, and
//!   -128 unused so that negation is exact and the range is symmetric);
//! - activations: int8 per tensor, either symmetric (`[-127, 127]`, zero point 0) or asymmetric
//!   (`[-128, 127]` with a zero point, range widened to include 0 so that real 0 — padding,
//!   ReLU outputs — is exact);
//! - float → int rounding is **round half to even** (IEEE's default, what `nearbyint`/`lrintf`
//!   do in FBGEMM and PyTorch); division is a multiply by the f32 reciprocal `1/scale`, computed
//!   once and correctly rounded, because that is what a vector unit does;
//! - NaN quantizes to the zero point (real 0) and ±∞ to the range ends: one poisoned activation
//!   must not turn into an arbitrary code;
//! - int32 accumulation is **exact or a fault** (docs/isa.md, `mxu.matmul.i8`): products are
//!   added in increasing `k` order, starting from the bias (or 0), and a partial sum leaving the
//!   int32 range is reported, never wrapped or saturated — a silently wrong logit is worse than a
//!   stopped program. With int8 operands no dot product shorter than 2^31 / 128^2 = 131 072
//!   terms (65 793 with a zero-point-shifted 9-bit activation) can overflow, so real layers never
//!   fault; the check catches corrupt biases and pathological tiling.

use crate::{Error, Result};

/// Smallest scale the helpers here produce: the smallest normal f32, so `1/scale` is finite.
pub const MIN_SCALE: f32 = f32::MIN_POSITIVE;

/// Scale used when the observed range is exactly zero (an all-zero tensor or channel): any
/// positive scale represents it exactly; 1.0 keeps derived requantization multipliers moderate.
pub const ZERO_RANGE_SCALE: f32 = 1.0;

/// Quantized range of symmetric int8 (weights and symmetric activations).
pub const SYMMETRIC_I8: (i32, i32) = (-127, 127);
/// Quantized range of asymmetric int8 activations.
pub const ASYMMETRIC_I8: (i32, i32) = (-128, 127);

/// Per-tensor quantization parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantParams {
    scale: f32,
    inv_scale: f32,
    zero_point: i32,
    qmin: i32,
    qmax: i32,
}

impl QuantParams {
    /// Parameters from explicit values (e.g. read from a model or a program).
    ///
    /// # Errors
    /// [`Error::InvalidScale`] unless `scale` is a finite positive normal f32;
    /// [`Error::InvalidRange`] unless `qmin < qmax` within i8 or u8;
    /// [`Error::ZeroPointOutOfRange`] unless `qmin <= zero_point <= qmax`.
    pub fn new(scale: f32, zero_point: i32, qmin: i32, qmax: i32) -> Result<Self> {
        if !(scale.is_normal() && scale > 0.0) {
            return Err(Error::InvalidScale { scale });
        }
        let fits = (qmin >= -128 && qmax <= 127) || (qmin >= 0 && qmax <= 255);
        if qmin >= qmax || !fits {
            return Err(Error::InvalidRange {
                qmin,
                qmax,
                lo: -128,
                hi: 255,
            });
        }
        if !(qmin..=qmax).contains(&zero_point) {
            return Err(Error::ZeroPointOutOfRange {
                zero_point,
                qmin,
                qmax,
            });
        }
        // scale ≥ 2^-126 ⇒ 1/scale ≤ 2^126: finite.
        let inv_scale = 1.0 / scale;
        Ok(Self {
            scale,
            inv_scale,
            zero_point,
            qmin,
            qmax,
        })
    }

    /// Symmetric int8 (`[-127, 127]`, zero point 0) covering `[-abs_max, abs_max]`:
    /// `scale = abs_max / 127`.
    ///
    /// # Errors
    /// [`Error::NonFinite`] if `abs_max` is NaN or infinite. A zero `abs_max` gives
    /// [`ZERO_RANGE_SCALE`]; a tiny one is raised to [`MIN_SCALE`].
    pub fn symmetric(abs_max: f32) -> Result<Self> {
        if !abs_max.is_finite() {
            return Err(Error::NonFinite {
                what: "abs_max",
                index: 0,
                value: abs_max,
            });
        }
        let scale = scale_for_range(abs_max.abs(), 127.0);
        Self::new(scale, 0, SYMMETRIC_I8.0, SYMMETRIC_I8.1)
    }

    /// Asymmetric int8 (`[-128, 127]`) covering `[min, max]` widened to include 0:
    /// `scale = (max' - min') / 255`, `zero_point = round_half_even(-128 - min'/scale)` clamped.
    ///
    /// # Errors
    /// [`Error::NonFinite`] if a bound is NaN or infinite; a reversed range (`min > max`) is
    /// [`Error::InvalidRange`]-free: the bounds are simply widened to include 0 first, so
    /// `min > max` can only happen with both on the same side and is treated as the hull.
    pub fn asymmetric(min: f32, max: f32) -> Result<Self> {
        for (i, v) in [min, max].into_iter().enumerate() {
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    what: "range bound",
                    index: i,
                    value: v,
                });
            }
        }
        let lo = min.min(max).min(0.0);
        let hi = max.max(min).max(0.0);
        // The width in f64: hi - lo can exceed f32::MAX.
        let width = f64::from(hi) - f64::from(lo);
        let scale = if width == 0.0 {
            ZERO_RANGE_SCALE
        } else {
            ((width / 255.0) as f32).max(MIN_SCALE)
        };
        let (qmin, qmax) = ASYMMETRIC_I8;
        let zp = (f64::from(qmin) - f64::from(lo) / f64::from(scale)).round_ties_even();
        let zero_point = zp.clamp(f64::from(qmin), f64::from(qmax)) as i32;
        Self::new(scale, zero_point, qmin, qmax)
    }

    /// The scale.
    pub const fn scale(&self) -> f32 {
        self.scale
    }

    /// `1/scale` in f32, the value the chip multiplies by.
    pub const fn inv_scale(&self) -> f32 {
        self.inv_scale
    }

    /// The zero point.
    pub const fn zero_point(&self) -> i32 {
        self.zero_point
    }

    /// The quantized range.
    pub const fn range(&self) -> (i32, i32) {
        (self.qmin, self.qmax)
    }

    /// `clamp(round_half_even(x · inv_scale) + zero_point, qmin, qmax)`; NaN → zero point.
    #[inline]
    pub fn quantize(&self, x: f32) -> i32 {
        quantize_with(x, self.inv_scale, self.zero_point, self.qmin, self.qmax)
    }

    /// `(q - zero_point) · scale` in f32 (`q - zero_point` is exact in f32: |·| ≤ 510).
    #[inline]
    pub fn dequantize(&self, q: i32) -> f32 {
        (q - self.zero_point) as f32 * self.scale
    }

    /// Quantizes a slice into bytes (low byte of each code), as stored on the chip.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if the lengths differ.
    pub fn quantize_to_bytes(&self, xs: &[f32], out: &mut [u8]) -> Result<()> {
        crate::float::check_len("quantized bytes", xs.len(), out.len())?;
        for (x, o) in xs.iter().zip(out.iter_mut()) {
            *o = self.quantize(*x) as u8;
        }
        Ok(())
    }
}

/// The shared rounding rule. The product `x · inv_scale` is one correctly rounded f32 multiply;
/// the f32 → integer step is exact (round half to even, then clamp in f32 so that huge values and
/// infinities clamp without an integer overflow).
#[inline]
fn quantize_with(x: f32, inv_scale: f32, zero_point: i32, qmin: i32, qmax: i32) -> i32 {
    if x.is_nan() {
        return zero_point;
    }
    let r = (x * inv_scale).round_ties_even();
    // |zero_point| ≤ 255, so clamping r to ±1024 first keeps the sum exact and in range.
    let r = r.clamp(-1024.0, 1024.0) as i32;
    (r + zero_point).clamp(qmin, qmax)
}

fn scale_for_range(range: f32, levels: f32) -> f32 {
    if range == 0.0 {
        ZERO_RANGE_SCALE
    } else {
        (range / levels).max(MIN_SCALE)
    }
}

/// How a [`Calibrator`] turns observed values into a range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CalibrationMethod {
    /// The observed minimum and maximum: no clipping, but one outlier stretches the scale.
    MinMax,
    /// The `p`-th percentile (nearest rank) of the observed values and its mirror at the low
    /// end (as many values clipped below as above), `p` in `(0, 100]` (e.g. 99.99): clips rare
    /// outliers to keep resolution for the bulk. Keeps every observed value in memory.
    Percentile(f64),
}

/// Accumulates observed activation values and derives per-tensor parameters.
///
/// Non-finite observations are skipped and counted (a calibration set with NaNs is suspicious,
/// but one bad sample should not make every parameter NaN); [`Calibrator::skipped`] reports them.
/// Results do not depend on the order of observations.
#[derive(Debug, Clone)]
pub struct Calibrator {
    method: CalibrationMethod,
    min: f32,
    max: f32,
    seen: u64,
    skipped: u64,
    values: Vec<f32>,
}

impl Calibrator {
    /// A calibrator with nothing observed.
    ///
    /// # Errors
    /// [`Error::InvalidPercentile`] for a percentile outside `(0, 100]` or NaN.
    pub fn new(method: CalibrationMethod) -> Result<Self> {
        if let CalibrationMethod::Percentile(p) = method
            && !(p > 0.0 && p <= 100.0)
        {
            return Err(Error::InvalidPercentile { percentile: p });
        }
        Ok(Self {
            method,
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            seen: 0,
            skipped: 0,
            values: Vec::new(),
        })
    }

    /// Records a batch of observed values.
    pub fn observe(&mut self, xs: &[f32]) {
        let keep = matches!(self.method, CalibrationMethod::Percentile(_));
        for &x in xs {
            if !x.is_finite() {
                self.skipped += 1;
                continue;
            }
            self.seen += 1;
            self.min = self.min.min(x);
            self.max = self.max.max(x);
            if keep {
                self.values.push(x);
            }
        }
    }

    /// Number of finite values observed.
    pub const fn seen(&self) -> u64 {
        self.seen
    }

    /// Number of non-finite values skipped.
    pub const fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The calibrated range `(lo, hi)`.
    ///
    /// # Errors
    /// [`Error::NoCalibrationData`] if no finite value was observed.
    pub fn range(&self) -> Result<(f32, f32)> {
        if self.seen == 0 {
            return Err(Error::NoCalibrationData);
        }
        match self.method {
            CalibrationMethod::MinMax => Ok((self.min, self.max)),
            CalibrationMethod::Percentile(p) => {
                let mut v = self.values.clone();
                let n = v.len();
                let hi_rank = percentile_rank(p, n);
                // Mirror rank: exactly as many values are clipped below as above.
                let lo = *v.select_nth_unstable_by(n - hi_rank, f32::total_cmp).1;
                let hi = *v.select_nth_unstable_by(hi_rank - 1, f32::total_cmp).1;
                Ok((lo, hi))
            }
        }
    }

    /// Symmetric int8 parameters for `max(|lo|, |hi|)`.
    ///
    /// # Errors
    /// As [`Calibrator::range`].
    pub fn symmetric_params(&self) -> Result<QuantParams> {
        let (lo, hi) = self.range()?;
        QuantParams::symmetric(lo.abs().max(hi.abs()))
    }

    /// Asymmetric int8 parameters for `[lo, hi]`.
    ///
    /// # Errors
    /// As [`Calibrator::range`].
    pub fn asymmetric_params(&self) -> Result<QuantParams> {
        let (lo, hi) = self.range()?;
        QuantParams::asymmetric(lo, hi)
    }
}

/// Nearest rank of the `p`-th percentile among `n` values: `ceil(p·n/100)` (f64, computed as
/// `(p·n)/100` so that integral `p·n` is exact), clamped to `[1, n]`. The value at a rank is a
/// unique order statistic, so the selection algorithm cannot change the answer; the low end uses
/// the mirror rank `n + 1 - rank`.
fn percentile_rank(p: f64, n: usize) -> usize {
    ((p * n as f64 / 100.0).ceil() as usize).clamp(1, n)
}

/// Int8 weights quantized symmetrically per output channel.
#[derive(Debug, Clone, PartialEq)]
pub struct PerChannelWeights {
    /// Row-major `[channels, per_channel]` codes in `[-127, 127]`.
    pub values: Vec<i8>,
    /// One scale per output channel.
    pub scales: Vec<f32>,
    /// Number of output channels (rows).
    pub channels: usize,
}

impl PerChannelWeights {
    /// Elements per channel.
    pub fn per_channel(&self) -> usize {
        self.values.len().checked_div(self.channels).unwrap_or(0)
    }

    /// Dequantized weights (`q · scale_c`, one f32 multiply each).
    pub fn dequantize(&self) -> Vec<f32> {
        let k = self.per_channel();
        self.values
            .iter()
            .enumerate()
            .map(|(i, &q)| f32::from(q) * self.scales[i / k])
            .collect()
    }
}

/// Quantizes row-major `[channels, k]` weights (a Linear layer's `[out, in]` layout: output
/// channel first) to int8, symmetric per channel: `scale_c = max_k |w[c,k]| / 127`.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `channels` is 0 or does not divide `w.len()`;
/// [`Error::NonFinite`] naming the first NaN/∞ weight.
pub fn quantize_weights_per_channel(w: &[f32], channels: usize) -> Result<PerChannelWeights> {
    if channels == 0 || !w.len().is_multiple_of(channels) {
        return Err(Error::ShapeMismatch {
            what: "weights (a multiple of the channel count)",
            expected: if channels == 0 {
                0
            } else {
                w.len().div_ceil(channels) * channels
            },
            actual: w.len(),
        });
    }
    if let Some((index, &value)) = w.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            what: "weight",
            index,
            value,
        });
    }
    let k = w.len() / channels;
    let mut values = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(channels);
    for c in 0..channels {
        let row = &w[c * k..(c + 1) * k];
        let abs_max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let p = QuantParams::symmetric(abs_max)?;
        scales.push(p.scale());
        values.extend(row.iter().map(|&x| p.quantize(x) as i8));
    }
    Ok(PerChannelWeights {
        values,
        scales,
        channels,
    })
}

/// Quantizes a bias to int32 at the accumulator's scale `input_scale · weight_scale`, so it can
/// be added to the accumulator before requantization. Computed in f64 (`bias / (s_a·s_w)`, both
/// products correctly rounded) and rounded half to even; saturates to the int32 range.
///
/// # Errors
/// [`Error::NonFinite`] for a NaN/∞ bias; [`Error::InvalidScale`] for a bad scale.
pub fn quantize_bias(bias: f32, input_scale: f32, weight_scale: f32) -> Result<i32> {
    if !bias.is_finite() {
        return Err(Error::NonFinite {
            what: "bias",
            index: 0,
            value: bias,
        });
    }
    for s in [input_scale, weight_scale] {
        if !(s.is_normal() && s > 0.0) {
            return Err(Error::InvalidScale { scale: s });
        }
    }
    let q =
        (f64::from(bias) / (f64::from(input_scale) * f64::from(weight_scale))).round_ties_even();
    Ok(q.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32)
}

/// `Σ a[i]·b[i]` accumulated in int32 in increasing `i`; `None` if a partial sum overflows.
///
/// # Panics
/// If the lengths differ: operand shapes are fixed by the compiler, so a mismatch is our bug.
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> Option<i32> {
    assert_eq!(a.len(), b.len(), "dot_i8 operands differ in length");
    a.iter().zip(b).try_fold(0i32, |acc, (&x, &y)| {
        acc.checked_add(i32::from(x) * i32::from(y))
    })
}

/// Reference int8 GEMM: `acc[i, j] = bias[j] + Σ_k (a[i, k] - a_zero_point) · w[j, k]`, summed
/// from the bias in increasing `k`, every partial sum checked. `a` is `[m, k]` row-major
/// activations, `w` is `[n, k]` row-major per-channel weights (as from
/// [`quantize_weights_per_channel`]), the result `[m, n]`.
///
/// The matrix unit itself has no zero-point input: the compiler folds the zero point into the
/// bias with [`fold_zero_point`], which gives the same result whenever neither form overflows.
///
/// # Errors
/// [`Error::ShapeMismatch`] if a length disagrees with `m`, `k`, `n`;
/// [`Error::AccumulatorOverflow`] naming the first output (row-major) whose sum overflows.
pub fn matmul_i8(
    a: &[i8],
    a_zero_point: i32,
    w: &[i8],
    bias: Option<&[i32]>,
    m: usize,
    k: usize,
    n: usize,
) -> Result<Vec<i32>> {
    crate::float::check_len("matmul activations (m·k)", m * k, a.len())?;
    crate::float::check_len("matmul weights (n·k)", n * k, w.len())?;
    if let Some(b) = bias {
        crate::float::check_len("matmul bias (n)", n, b.len())?;
    }
    // Activations are int8 and zero points at most 9-bit, so each product fits easily.
    let za = i64::from(a_zero_point);
    let mut out = Vec::with_capacity(m * n);
    for i in 0..m {
        let row = &a[i * k..(i + 1) * k];
        for j in 0..n {
            let col = &w[j * k..(j + 1) * k];
            let init = bias.map_or(0, |b| b[j]);
            let acc = row.iter().zip(col).try_fold(init, |acc, (&x, &y)| {
                let p = (i64::from(x) - za) * i64::from(y);
                i32::try_from(i64::from(acc) + p).ok()
            });
            out.push(acc.ok_or(Error::AccumulatorOverflow { row: i, col: j })?);
        }
    }
    Ok(out)
}

/// Folds an activation zero point into the bias: `bias'[j] = bias[j] - a_zero_point · Σ_k w[j, k]`,
/// so the matrix unit can multiply raw int8 codes. `w` is `[n, k]` row-major.
///
/// # Errors
/// [`Error::ShapeMismatch`] if `bias.len() · k != w.len()`; [`Error::AccumulatorOverflow`]
/// (row 0, the channel as `col`) if a folded bias leaves int32.
pub fn fold_zero_point(bias: &[i32], a_zero_point: i32, w: &[i8], k: usize) -> Result<Vec<i32>> {
    crate::float::check_len("weights (bias.len()·k)", bias.len() * k, w.len())?;
    bias.iter()
        .enumerate()
        .map(|(j, &b)| {
            let sw: i64 = w[j * k..(j + 1) * k].iter().map(|&v| i64::from(v)).sum();
            i32::try_from(i64::from(b) - i64::from(a_zero_point) * sw)
                .map_err(|_| Error::AccumulatorOverflow { row: 0, col: j })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_validation() {
        for bad in [0.0, -1.0, f32::NAN, f32::INFINITY, 1e-40] {
            assert!(matches!(
                QuantParams::new(bad, 0, -128, 127),
                Err(Error::InvalidScale { .. })
            ));
        }
        assert!(QuantParams::new(1.0, 0, 0, 256).is_err());
        assert!(QuantParams::new(1.0, 0, 3, 3).is_err());
        assert!(QuantParams::new(1.0, -129, -128, 127).is_err());
        assert!(QuantParams::new(1.0, 0, 0, 255).is_ok());
    }

    #[test]
    fn quantize_rounds_half_even_and_handles_specials() {
        let p = QuantParams::new(0.5, 0, -128, 127).unwrap();
        assert_eq!(p.quantize(0.25), 0); // 0.5 → 0
        assert_eq!(p.quantize(0.75), 2); // 1.5 → 2
        assert_eq!(p.quantize(-0.25), 0);
        assert_eq!(p.quantize(-0.75), -2);
        assert_eq!(p.quantize(f32::NAN), 0);
        assert_eq!(p.quantize(f32::INFINITY), 127);
        assert_eq!(p.quantize(f32::NEG_INFINITY), -128);
        assert_eq!(p.quantize(1e30), 127);
        let a = QuantParams::new(0.5, 100, 0, 255).unwrap();
        assert_eq!(a.quantize(f32::NAN), 100);
        assert_eq!(a.quantize(-1e30), 0);
        assert_eq!(a.dequantize(100), 0.0);
        assert_eq!(a.dequantize(101), 0.5);
    }

    #[test]
    fn symmetric_and_asymmetric_constructors() {
        let s = QuantParams::symmetric(12.7).unwrap();
        assert_eq!(s.zero_point(), 0);
        assert_eq!(s.range(), (-127, 127));
        assert_eq!(s.quantize(12.7), 127);
        assert_eq!(s.quantize(-12.7), -127);
        assert_eq!(
            QuantParams::symmetric(0.0).unwrap().scale(),
            ZERO_RANGE_SCALE
        );
        assert_eq!(QuantParams::symmetric(1e-40).unwrap().scale(), MIN_SCALE);
        assert!(QuantParams::symmetric(f32::NAN).is_err());

        // [0, 2.55]: scale 0.01, zero point -128 (real 0 is the lowest code).
        let a = QuantParams::asymmetric(0.0, 2.55).unwrap();
        assert_eq!(a.zero_point(), -128);
        assert_eq!(a.quantize(0.0), -128);
        assert_eq!(a.quantize(2.55), 127);
        // [1, 2] is widened to [0, 2].
        let w = QuantParams::asymmetric(1.0, 2.0).unwrap();
        assert_eq!(w.quantize(0.0), w.zero_point());
        assert_eq!(w.scale(), (2.0f64 / 255.0) as f32);
        // [-1, 1]: zero point ≈ -128 + 127.5, i.e. 0 or -1 depending on the f32 scale's
        // rounding; either way both ends stay in range and 0 is exact.
        let m = QuantParams::asymmetric(-1.0, 1.0).unwrap();
        assert!([0, -1].contains(&m.zero_point()));
        assert_eq!(m.quantize(0.0), m.zero_point());
        assert!((m.dequantize(m.quantize(1.0)) - 1.0).abs() <= m.scale());
        assert!((m.dequantize(m.quantize(-1.0)) + 1.0).abs() <= m.scale());
        // Range wider than f32::MAX.
        let huge = QuantParams::asymmetric(-f32::MAX, f32::MAX).unwrap();
        assert!(huge.scale().is_finite());
        assert_eq!(QuantParams::asymmetric(0.0, 0.0).unwrap().scale(), 1.0);
        assert!(QuantParams::asymmetric(f32::NEG_INFINITY, 1.0).is_err());
    }

    #[test]
    fn calibrator_minmax_and_percentile() {
        let mut c = Calibrator::new(CalibrationMethod::MinMax).unwrap();
        assert_eq!(c.range(), Err(Error::NoCalibrationData));
        c.observe(&[1.0, -3.0, f32::NAN, 2.0, f32::INFINITY]);
        assert_eq!(c.range().unwrap(), (-3.0, 2.0));
        assert_eq!((c.seen(), c.skipped()), (3, 2));

        let mut p = Calibrator::new(CalibrationMethod::Percentile(99.0)).unwrap();
        let xs: Vec<f32> = (1..=1000).map(|i| i as f32).collect();
        p.observe(&xs[500..]);
        p.observe(&xs[..500]);
        // Rank ceil(0.99·1000) = 990 and its mirror 1000 + 1 - 990 = 11: ten values clipped
        // at each end.
        assert_eq!(p.range().unwrap(), (11.0, 990.0));
        let s = p.symmetric_params().unwrap();
        assert_eq!(s.scale(), 990.0 / 127.0);
        let full = Calibrator::new(CalibrationMethod::Percentile(100.0)).unwrap();
        assert!(full.range().is_err());
        for bad in [0.0, -1.0, 100.5, f64::NAN] {
            assert!(Calibrator::new(CalibrationMethod::Percentile(bad)).is_err());
        }
    }

    #[test]
    fn per_channel_weights() {
        let w = [1.0, -0.5, 0.25, 0.0, 0.0, 0.0, 254.0, -127.0, 1.0];
        let q = quantize_weights_per_channel(&w, 3).unwrap();
        assert_eq!(q.per_channel(), 3);
        assert_eq!(q.scales, vec![1.0 / 127.0, 1.0, 2.0]);
        assert_eq!(q.values, vec![127, -64, 32, 0, 0, 0, 127, -64, 0]);
        // -63.5 → -64 and 31.75 → 32 (not ties); 0.5 → 0 is a tie to even.
        assert!(quantize_weights_per_channel(&w, 2).is_err());
        assert!(quantize_weights_per_channel(&w, 0).is_err());
        let bad = [1.0, f32::NAN];
        assert!(matches!(
            quantize_weights_per_channel(&bad, 1),
            Err(Error::NonFinite {
                what: "weight",
                index: 1,
                ..
            })
        ));
    }

    #[test]
    fn bias_and_dot() {
        assert_eq!(quantize_bias(1.0, 0.5, 0.25).unwrap(), 8);
        assert_eq!(quantize_bias(-1e30, 1e-10, 1e-10).unwrap(), i32::MIN);
        assert!(quantize_bias(f32::NAN, 1.0, 1.0).is_err());
        assert!(quantize_bias(1.0, 0.0, 1.0).is_err());
        assert_eq!(dot_i8(&[1, -2, 3], &[4, 5, -6]), Some(4 - 10 - 18));
        assert_eq!(dot_i8(&[-128; 4], &[-128; 4]), Some(4 * 16384));
        assert_eq!(dot_i8(&[], &[]), Some(0));
    }

    #[test]
    fn matmul_shapes_and_values() {
        // a = [[1, 2], [3, 4]] with zero point 1; w = [[1, 0], [0, 1], [1, 1]].
        let out = matmul_i8(
            &[1, 2, 3, 4],
            1,
            &[1, 0, 0, 1, 1, 1],
            Some(&[10, 20, 30]),
            2,
            2,
            3,
        )
        .unwrap();
        assert_eq!(out, vec![10, 21, 31, 12, 23, 35]);
        assert!(matmul_i8(&[1, 2, 3], 0, &[1, 0], None, 2, 2, 1).is_err());
        // A bias next to i32::MAX overflows on the first positive product: a fault, not a wrap.
        assert_eq!(
            matmul_i8(&[0, 1, 1, 1], 0, &[1, 1], Some(&[i32::MAX]), 2, 2, 1),
            Err(Error::AccumulatorOverflow { row: 0, col: 0 })
        );
        // Row 0 sums to i32::MAX exactly (no fault); row 1 then overflows.
        assert_eq!(
            matmul_i8(&[1, 0, 1, 1], 0, &[1, 1], Some(&[i32::MAX - 1]), 2, 2, 1),
            Err(Error::AccumulatorOverflow { row: 1, col: 0 })
        );
        assert_eq!(
            fold_zero_point(&[5, 6], 2, &[1, 2, -3, 4], 2).unwrap(),
            vec![-1, 4]
        );
        assert!(fold_zero_point(&[i32::MIN], 1, &[1], 1).is_err());
        assert!(fold_zero_point(&[0], 1, &[1, 2], 1).is_err());
        assert!(matmul_i8(&[1, 2], 0, &[1, 0], Some(&[]), 1, 2, 1).is_err());
    }
}
