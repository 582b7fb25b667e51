//! `quantize`: picks each matrix product's operand encoding, encodes the weights, and inserts
//! the conversions of activations into that encoding.
//!
//! * **bf16**: weights and activations rounded to bf16 (nearest even), f32 accumulation.
//! * **int8**: weights symmetric per output channel (`scale_c = max|w_c| / 127`), activations
//!   symmetric per tensor with the range observed on the f32 reference over generated inputs
//!   (MinMax), i32 accumulation, results dequantized per column (`s_a·s_w[c]`) or — when
//!   `fuse` finds an int8 consumer — requantized in fixed point.
//! * **fp8**: as int8 with e4m3 codes (`max|w_c| / 448`, `max|x| / 448`) and f32 accumulation.
//!
//! Products of two activations (the DLRM interaction, attention, MMoE mixing) use bf16 in the
//! int8 and fp8 modes when the chip's matrix units support it: a per-tensor scale shared by
//! features of very different magnitudes (a bottom-MLP output and small embedding sums) would
//! wash out the small ones. Chips without bf16 quantize them like activations.

use std::collections::{BTreeMap, BTreeSet};

use seedchip_chip::Precision;
use seedchip_ir::{Graph, ValueDef};
use seedchip_isa::DType;
use seedchip_numerics::{Overflow, QuantParams, QuantizedMultiplier, f32_to_bf16, f32_to_f8e4m3};
use seedchip_ref::{Executor, Options as RefOptions, Tensor as RefTensor};
use seedchip_zoo::{GraphWorkload, InputOptions, TensorData};

use rayon::prelude::*;

use crate::Error;
use crate::lir::{
    Base, ConstData, ConstRole, Epilogue, KOp, Kernel, Lir, MatPrecision, OutConv, VOp, View,
};
use crate::passes::Target;

/// Largest finite e4m3 value: the top of the fp8 scale.
const E4M3_MAX: f32 = 448.0;

/// Batch index of calibration inputs: far from the batches `seedchip run` generates (index 0),
/// with the same popularity permutation (it depends only on the seed).
pub const CALIBRATION_BATCH_INDEX: u64 = 1 << 40;

/// Smallest and largest value seen per IR value name.
pub type Ranges = BTreeMap<String, (f32, f32)>;

fn observe(ranges: &mut Ranges, name: &str, data: &[f32]) {
    let (lo, hi) = data
        .iter()
        .filter(|x| x.is_finite())
        .fold((0f32, 0f32), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    let e = ranges.entry(name.to_string()).or_insert((0.0, 0.0));
    e.0 = e.0.min(lo);
    e.1 = e.1.max(hi);
}

fn numerics(what: impl Into<String>) -> impl FnOnce(seedchip_numerics::Error) -> Error {
    let what = what.into();
    move |source| Error::Numerics { what, source }
}

/// Encoding of GEMMs with a weight operand for `precision`.
pub fn gemm_precision(precision: Precision) -> Option<MatPrecision> {
    match precision {
        Precision::Bf16 => Some(MatPrecision::Bf16),
        Precision::Int8 => Some(MatPrecision::I8),
        Precision::Fp8 => Some(MatPrecision::E4m3),
        _ => None,
    }
}

/// Encoding of activation × activation products.
pub fn bmm_precision(precision: Precision, target: &Target) -> MatPrecision {
    if target.supports(Precision::Bf16) {
        MatPrecision::Bf16
    } else {
        gemm_precision(precision).unwrap_or(MatPrecision::Bf16)
    }
}

/// IR values whose ranges the quantizer needs.
pub fn needed_ranges(lir: &Lir, precision: Precision, target: &Target) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let gemm_q = gemm_precision(precision).is_some_and(|p| p != MatPrecision::Bf16);
    let bmm_q = bmm_precision(precision, target) != MatPrecision::Bf16;
    for k in &lir.kernels {
        match &k.op {
            KOp::Gemm(g) if gemm_q => {
                names.insert(g.a_value.clone());
            }
            KOp::Bmm(b) if bmm_q => {
                names.extend(b.a_values.iter().cloned());
                names.extend(b.b_values.iter().cloned());
            }
            _ => {}
        }
    }
    names
}

/// Runs the f32 reference on generated inputs (or on `given` inputs, when the caller has
/// representative data) and records the range of every named value (always including 0).
pub fn calibrate(
    graph: &Graph,
    names: &BTreeSet<String>,
    seed: u64,
    samples: u32,
    given: Option<&BTreeMap<String, RefTensor>>,
) -> Result<Ranges, Error> {
    let mut ranges = Ranges::new();
    if names.is_empty() {
        return Ok(ranges);
    }
    let mut g = graph.clone();
    let mut probes = Vec::new();
    let mut per_sample_bytes = 0u64;
    for name in names {
        let Some(v) = g.find_value(name) else {
            continue;
        };
        if matches!(g.value(v).def, ValueDef::Param(_)) {
            continue;
        }
        per_sample_bytes += 4 * g.ty(v).fixed_numel();
        let out = format!("__calib_{}", probes.len());
        g.add_output(out.clone(), v);
        probes.push((name.clone(), out));
    }
    let exec = Executor::new(&g, &RefOptions::default())?;
    let observe_all = |ranges: &mut Ranges, feeds: &BTreeMap<String, RefTensor>| {
        let outs = exec.run(feeds)?;
        for (name, out) in &probes {
            let data = outs[out].as_f32().expect("probed values are f32");
            observe(ranges, name, data);
        }
        // Graph inputs feeding GEMMs directly are probed through their feeds.
        for (name, t) in feeds {
            if names.contains(name)
                && let Some(d) = t.as_f32()
            {
                observe(ranges, name, d);
            }
        }
        Ok::<(), Error>(())
    };
    if let Some(feeds) = given {
        observe_all(&mut ranges, feeds)?;
        return Ok(ranges);
    }
    let work = GraphWorkload::new(
        &g,
        &InputOptions {
            seed,
            ..InputOptions::default()
        },
    )?;
    // Keep the probed intermediates of one chunk under ~256 MB.
    let chunk = ((256u64 << 20) / per_sample_bytes.max(1)).clamp(1, 256) as u32;
    let mut done = 0u32;
    let mut index = CALIBRATION_BATCH_INDEX;
    while done < samples.max(1) {
        let n = chunk.min(samples.max(1) - done) as usize;
        let inputs = work.batch(index, n);
        index += 1;
        done += n as u32;
        let mut feeds = BTreeMap::new();
        for t in inputs {
            let shape: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
            let tensor = match t.data {
                TensorData::F32(v) => RefTensor::from_f32(shape, v),
                TensorData::I32(v) => RefTensor::from_i32(shape, v),
                TensorData::I64(v) => RefTensor::from_i64(shape, v),
            }
            .expect("generated inputs match their shapes");
            feeds.insert(t.name, tensor);
        }
        observe_all(&mut ranges, &feeds)?;
    }
    Ok(ranges)
}

/// Range of the union of several values (0 when none was observed).
fn range_of(ranges: &Ranges, names: &[String]) -> (f32, f32) {
    names
        .iter()
        .filter_map(|n| ranges.get(n))
        .fold((0f32, 0f32), |(lo, hi), &(a, b)| (lo.min(a), hi.max(b)))
}

/// Per-tensor scale and zero point of an activation with range `(min, max)` in `to`.
/// Non-negative int8 activations (ReLU outputs, log-count features) are asymmetric with zero
/// point -128, which uses all 256 codes for `[0, max]`: one bit more resolution than the
/// symmetric form; the matrix unit has no zero-point input, so GEMMs fold it into their bias.
pub fn activation_params(range: (f32, f32), to: MatPrecision) -> Result<(f32, i32), Error> {
    let (lo, hi) = range;
    if to == MatPrecision::I8 && lo >= 0.0 {
        let q = QuantParams::asymmetric(0.0, hi).map_err(numerics("activation range"))?;
        return Ok((q.scale(), q.zero_point()));
    }
    Ok((activation_scale(lo.abs().max(hi.abs()), to)?, 0))
}

/// The per-tensor scale of a symmetric activation in `to` (i8 or e4m3).
pub fn activation_scale(abs_max: f32, to: MatPrecision) -> Result<f32, Error> {
    match to {
        MatPrecision::I8 => Ok(QuantParams::symmetric(abs_max)
            .map_err(numerics("activation range"))?
            .scale()),
        MatPrecision::E4m3 => Ok(if abs_max > 0.0 && abs_max.is_finite() {
            (abs_max / E4M3_MAX).max(f32::MIN_POSITIVE)
        } else {
            1.0
        }),
        MatPrecision::Bf16 => Ok(1.0),
    }
}

/// Encodes a `k × n` f32 weight (row-major `[k][n]`) in `p`; returns bytes and per-column
/// scales (for i8/e4m3).
pub fn encode_weight(
    values: &[f32],
    k: usize,
    n: usize,
    p: MatPrecision,
    name: &str,
) -> Result<(Vec<u8>, Option<Vec<f32>>), Error> {
    match p {
        MatPrecision::Bf16 => {
            let mut out = vec![0u8; values.len() * 2];
            out.par_chunks_mut(2 * ENCODE_CHUNK)
                .zip(values.par_chunks(ENCODE_CHUNK))
                .for_each(|(o, v)| {
                    for (o, &x) in o.chunks_exact_mut(2).zip(v) {
                        o.copy_from_slice(&f32_to_bf16(x, Overflow::Saturate).to_le_bytes());
                    }
                });
            Ok((out, None))
        }
        MatPrecision::I8 => {
            // Symmetric per output column, as `quantize_weights_per_channel` does on the
            // transposed `[n][k]` form, computed in place on `[k][n]`: a column's largest
            // magnitude does not depend on the order it is found in, and each code depends
            // only on its value and its column's scale. Non-finite weights take the library
            // path for its error (which names the element).
            if values.len() != k * n || n == 0 || values.iter().any(|v| !v.is_finite()) {
                return encode_i8_transposed(values, k, n, name);
            }
            let mut abs_max = vec![0f32; n];
            for row in values.chunks_exact(n) {
                for (m, &v) in abs_max.iter_mut().zip(row) {
                    *m = m.max(v.abs());
                }
            }
            let params: Vec<QuantParams> = abs_max
                .iter()
                .map(|&m| QuantParams::symmetric(m))
                .collect::<Result<_, _>>()
                .map_err(numerics(format!("weight {name}")))?;
            let mut out = vec![0u8; k * n];
            let rows = (ENCODE_CHUNK / n).max(1) * n;
            out.par_chunks_mut(rows)
                .zip(values.par_chunks(rows))
                .for_each(|(o, v)| {
                    for (o, v) in o.chunks_exact_mut(n).zip(v.chunks_exact(n)) {
                        for ((o, &x), p) in o.iter_mut().zip(v).zip(&params) {
                            *o = p.quantize(x) as i8 as u8;
                        }
                    }
                });
            Ok((out, Some(params.iter().map(QuantParams::scale).collect())))
        }
        MatPrecision::E4m3 => {
            // Column maxima row by row (`max` ignores NaN, so the order does not matter).
            let mut abs_max = vec![0f32; n];
            for row in values.chunks_exact(n.max(1)).take(k) {
                for (m, &v) in abs_max.iter_mut().zip(row) {
                    *m = m.max(v.abs());
                }
            }
            let mut scales = vec![1f32; n];
            for (s, &m) in scales.iter_mut().zip(&abs_max) {
                if !m.is_finite() {
                    return Err(Error::Unsupported {
                        node: format!("weight {name}"),
                        message: "non-finite weights cannot be encoded".into(),
                    });
                }
                if m > 0.0 {
                    *s = (m / E4M3_MAX).max(f32::MIN_POSITIVE);
                }
            }
            let mut out = vec![0u8; k * n];
            for (o, v) in out
                .chunks_exact_mut(n.max(1))
                .zip(values.chunks_exact(n.max(1)))
            {
                for ((o, &x), &s) in o.iter_mut().zip(v).zip(&scales) {
                    *o = f32_to_f8e4m3(x / s, Overflow::Saturate);
                }
            }
            Ok((out, Some(scales)))
        }
    }
}

/// Elements one parallel encoding task handles.
const ENCODE_CHUNK: usize = 1 << 16;

/// Int8 encoding through `quantize_weights_per_channel` on the transposed weight: the
/// reference form of [`encode_weight`]'s int8 path, and its path for weights it rejects.
fn encode_i8_transposed(
    values: &[f32],
    k: usize,
    n: usize,
    name: &str,
) -> Result<(Vec<u8>, Option<Vec<f32>>), Error> {
    // numerics quantizes [channels, per_channel]: transpose to [n][k] and back.
    let mut t = vec![0f32; k * n];
    for i in 0..k {
        for j in 0..n {
            t[j * k + i] = values[i * n + j];
        }
    }
    let q = seedchip_numerics::quantize_weights_per_channel(&t, n)
        .map_err(numerics(format!("weight {name}")))?;
    let mut out = vec![0u8; k * n];
    for i in 0..k {
        for j in 0..n {
            out[i * n + j] = q.values[j * k + i] as u8;
        }
    }
    Ok((out, Some(q.scales)))
}

/// Encoded GEMM weights by constant index (see [`encode_weights`]).
pub type Encoded = BTreeMap<u32, Result<(Vec<u8>, Option<Vec<f32>>), Error>>;

/// Every GEMM weight of `lir` encoded in `gemm_precision(precision)`: what [`run`] would
/// encode, computed ahead (it needs no activation ranges, so [`crate::passes::run`] does it
/// while calibration runs). Errors are kept per weight and reported where [`run`] meets the
/// weight.
pub fn encode_weights(lir: &Lir, precision: Precision) -> Encoded {
    let mut out = Encoded::new();
    let Some(gp) = gemm_precision(precision) else {
        return out;
    };
    for k in &lir.kernels {
        if let KOp::Gemm(g) = &k.op {
            if out.contains_key(&g.w.0) {
                continue;
            }
            let c = &lir.consts[g.w.index()];
            let (ConstRole::Weight { k: kk, n }, ConstData::F32(values)) = (&c.role, &c.data)
            else {
                continue;
            };
            out.insert(
                g.w.0,
                encode_weight(values, *kk as usize, *n as usize, gp, &c.name),
            );
        }
    }
    out
}

/// Sets operand encodings, encodes weights (taking those `encoded` already holds), builds
/// epilogues and inserts conversions.
pub fn run(
    lir: &mut Lir,
    precision: Precision,
    target: &Target,
    ranges: &Ranges,
    mut encoded_ahead: Encoded,
) -> Result<(), Error> {
    let gp = gemm_precision(precision).ok_or_else(|| Error::Precision {
        chip: target.name.clone(),
        precision,
        supported: "int8, bf16, fp8 (the compiler's precisions)".into(),
    })?;
    let bp = bmm_precision(precision, target);
    let mut out: Vec<Kernel> = Vec::with_capacity(lir.kernels.len());
    // (view, dtype, scale bits) → converted view, so operands shared by several products are
    // converted once.
    let mut converted: BTreeMap<(String, DType, u32), (Base, View)> = BTreeMap::new();
    let mut encoded: BTreeMap<u32, ()> = BTreeMap::new();
    let kernels = std::mem::take(&mut lir.kernels);
    for mut k in kernels {
        match &mut k.op {
            KOp::Gemm(g) => {
                g.precision = Some(gp);
                // Encode the weight once (a weight may serve several GEMMs only in odd graphs).
                if encoded.insert(g.w.0, ()).is_none() {
                    let c = &lir.consts[g.w.index()];
                    let ConstRole::Weight { k: kk, n } = c.role else {
                        unreachable!("GEMM weights are weight constants")
                    };
                    let ConstData::F32(values) = &c.data else {
                        unreachable!("weights are f32 before quantize")
                    };
                    let (bytes, scales) = match encoded_ahead.remove(&g.w.0) {
                        Some(e) => e?,
                        None => encode_weight(values, kk as usize, n as usize, gp, &c.name)?,
                    };
                    let c = &mut lir.consts[g.w.index()];
                    c.data = ConstData::Bytes(bytes);
                    c.dtype = gp.dtype();
                    c.channel_scales = scales;
                }
                let (s_a, zp_a) = if gp == MatPrecision::Bf16 {
                    (1.0, 0)
                } else {
                    activation_params(range_of(ranges, std::slice::from_ref(&g.a_value)), gp)?
                };
                let a = convert(lir, &mut out, &mut converted, &g.a, gp, s_a, zp_a, &k.node);
                g.a = a;
                let zp_a = g.a.tensor().map_or(0, |t| lir.tensor(t).zero_point);
                let s_a =
                    g.a.tensor()
                        .and_then(|t| lir.tensor(t).scale)
                        .unwrap_or(s_a);
                let wname = lir.consts[g.w.index()].name.clone();
                let mut bias = g.bias;
                let dequant = match lir.consts[g.w.index()].channel_scales.clone() {
                    Some(sw) => {
                        let cols: Vec<f32> = sw.iter().map(|&s| s_a * s).collect();
                        if zp_a != 0 {
                            // Σ_k w·(q - zp) = Σ_k w·q - zp·Σ_k w: the second term is a bias.
                            let sums = weight_column_sums(lir.konst(g.w), g.k, g.n);
                            let old: Vec<f32> = match g.bias {
                                Some(b) => lir.konst(b).f32_values().expect("f32 bias").to_vec(),
                                None => vec![0.0; g.n as usize],
                            };
                            let folded: Vec<f32> = (0..g.n as usize)
                                .map(|c| {
                                    (f64::from(old[c])
                                        - f64::from(zp_a) * f64::from(cols[c]) * sums[c] as f64)
                                        as f32
                                })
                                .collect();
                            bias = Some(lir.vector_f32(format!("{wname}.bias_folded"), folded));
                        }
                        Some(lir.vector_f32(format!("{wname}.dequant"), cols))
                    }
                    None => None,
                };
                g.epilogue = Some(Epilogue {
                    requant: None,
                    dequant,
                    bias,
                    act: g.act,
                    out: OutConv::None,
                });
            }
            KOp::Bmm(b) => {
                b.precision = Some(bp);
                let (sa, sb) = if bp == MatPrecision::Bf16 {
                    (1.0, 1.0)
                } else {
                    (
                        activation_scale(abs(range_of(ranges, &b.a_values)), bp)?,
                        activation_scale(abs(range_of(ranges, &b.b_values)), bp)?,
                    )
                };
                let same = b.a == b.b && sa == sb;
                let a = convert(lir, &mut out, &mut converted, &b.a, bp, sa, 0, &k.node);
                let bv = if same {
                    a.clone()
                } else {
                    convert(lir, &mut out, &mut converted, &b.b, bp, sb, 0, &k.node)
                };
                b.a = a;
                b.b = bv;
                if bp != MatPrecision::Bf16 {
                    b.dequant = Some(sa * sb);
                }
            }
            _ => {}
        }
        // A write makes conversions of the written tensor stale.
        let (_, w) = Lir::views(&k.op);
        let written: Vec<Base> = w.iter().map(|v| v.base).collect();
        converted.retain(|_, (src, _)| !written.contains(src));
        out.push(k);
    }
    lir.kernels = out;
    Ok(())
}

fn abs((lo, hi): (f32, f32)) -> f32 {
    lo.abs().max(hi.abs())
}

/// Σ_k of the int8 codes of each weight column (row by row: exact integer sums).
pub fn weight_column_sums(w: &crate::lir::Const, k: u64, n: u64) -> Vec<i64> {
    let bytes = w.bytes();
    let mut sums = vec![0i64; n as usize];
    if n == 0 {
        return sums;
    }
    for row in bytes.chunks_exact(n as usize).take(k as usize) {
        for (s, &b) in sums.iter_mut().zip(row) {
            *s += i64::from(b as i8);
        }
    }
    sums
}

/// A view of `src` in encoding `p` (scale `s` and zero point `zp` for quantized ones),
/// inserting the conversion kernels before the current one.
#[allow(clippy::too_many_arguments)]
fn convert(
    lir: &mut Lir,
    out: &mut Vec<Kernel>,
    cache: &mut BTreeMap<(String, DType, u32), (Base, View)>,
    src: &View,
    p: MatPrecision,
    s: f32,
    zp: i32,
    node: &str,
) -> View {
    let to = p.dtype();
    if lir.dtype(src) == to {
        return src.clone();
    }
    let key = (format!("{src}@{zp}"), to, s.to_bits());
    if let Some((_, v)) = cache.get(&key) {
        return v.clone();
    }
    let shape = src.shape();
    let numel: u64 = shape.iter().product::<u64>().max(1);
    let src_name = match src.base {
        Base::Tensor(t) => lir.tensor(t).name.clone(),
        Base::Const(c) => lir.konst(c).name.clone(),
    };
    let t = lir.add_tensor(format!("{src_name}.{to}"), numel, to);
    let sources = match src.base {
        Base::Tensor(st) => lir.tensor(st).sources.clone(),
        Base::Const(_) => Vec::new(),
    };
    lir.tensors[t.index()].sources = sources;
    let dst = View::dense(Base::Tensor(t), &shape);
    if p == MatPrecision::Bf16 {
        out.push(Kernel {
            op: KOp::Vpu {
                op: VOp::Cvt(to),
                dst: dst.clone(),
                a: src.clone(),
                b: None,
            },
            node: node.to_string(),
        });
    } else {
        lir.tensors[t.index()].scale = Some(s);
        lir.tensors[t.index()].zero_point = zp;
        let tmp = lir.add_tensor(format!("{src_name}.scaled"), numel, DType::F32);
        let tv = View::dense(Base::Tensor(tmp), &shape);
        out.push(Kernel {
            op: KOp::Vpu {
                op: VOp::Scale(1.0 / s),
                dst: tv.clone(),
                a: src.clone(),
                b: None,
            },
            node: node.to_string(),
        });
        if zp != 0 {
            let c = lir.vector_f32(format!("{src_name}.zero_point"), vec![zp as f32]);
            let zv = View {
                base: Base::Const(c),
                offset: 0,
                dims: shape.iter().map(|&d| crate::lir::Dim::new(d, 0)).collect(),
            };
            out.push(Kernel {
                op: KOp::Vpu {
                    op: VOp::Add,
                    dst: tv.clone(),
                    a: tv.clone(),
                    b: Some(zv),
                },
                node: node.to_string(),
            });
        }
        out.push(Kernel {
            op: KOp::Vpu {
                op: VOp::Cvt(to),
                dst: dst.clone(),
                a: tv,
                b: None,
            },
            node: node.to_string(),
        });
    }
    cache.insert(key, (src.base, dst.clone()));
    dst
}

/// Q31 multipliers, right shifts and int32 biases, one per output column.
pub type RequantParams = (Vec<i32>, Vec<i32>, Option<Vec<i32>>);

/// Fixed-point multipliers `s_a·s_w[c] / s_out` and int32 biases for a fused requantization.
pub fn requant_params(
    s_a: f32,
    s_w: &[f32],
    s_out: f32,
    bias: Option<&[f32]>,
    name: &str,
) -> Result<RequantParams, Error> {
    let mut mults = Vec::with_capacity(s_w.len());
    let mut shifts = Vec::with_capacity(s_w.len());
    for &sw in s_w {
        let m = f64::from(s_a) * f64::from(sw) / f64::from(s_out);
        let q = QuantizedMultiplier::from_real(m)
            .map_err(numerics(format!("{name} requantization")))?;
        mults.push(q.multiplier());
        shifts.push(q.right_shift());
    }
    let bias = match bias {
        Some(b) => Some(
            b.iter()
                .zip(s_w)
                .map(|(&x, &sw)| seedchip_numerics::quantize_bias(x, s_a, sw))
                .collect::<Result<Vec<i32>, _>>()
                .map_err(numerics(format!("{name} bias")))?,
        ),
        None => None,
    };
    Ok((mults, shifts, bias))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_weights_are_per_column() {
        // k = 2, n = 3: column j scaled by its own max.
        let w = [1.0, -0.5, 0.25, -1.0, 0.25, 0.125];
        let (bytes, scales) = encode_weight(&w, 2, 3, MatPrecision::I8, "w").unwrap();
        let scales = scales.unwrap();
        assert_eq!(scales, vec![1.0 / 127.0, 0.5 / 127.0, 0.25 / 127.0]);
        assert_eq!(bytes[0] as i8, 127);
        assert_eq!(bytes[3] as i8, -127);
        assert_eq!(bytes[1] as i8, -127);
        assert_eq!(bytes[5] as i8, 64); // 0.125 / (0.25/127) = 63.5 → 64 (half to even)
    }

    #[test]
    fn int8_encoding_matches_the_per_channel_library_form() {
        // Odd shapes, several parallel chunks, zero columns and ties.
        for (k, n) in [(1, 1), (3, 5), (300, 7), (129, 513), (2, 70_000)] {
            let w: Vec<f32> = (0..k * n)
                .map(|i| {
                    let c = i % n;
                    if c % 11 == 3 {
                        0.0
                    } else {
                        ((i * 7919 % 1013) as f32 - 506.0) * 0.01 * (1 + c % 5) as f32
                    }
                })
                .collect();
            let fast = encode_weight(&w, k, n, MatPrecision::I8, "w").unwrap();
            let slow = encode_i8_transposed(&w, k, n, "w").unwrap();
            assert_eq!(fast, slow, "k={k} n={n}");
        }
        let w = [1.0, f32::NAN];
        assert!(encode_weight(&w, 1, 2, MatPrecision::I8, "w").is_err());
    }

    #[test]
    fn e4m3_weights_saturate_at_their_scale() {
        let w = [448.0 * 3.0, -1.0];
        let (bytes, scales) = encode_weight(&w, 2, 1, MatPrecision::E4m3, "w").unwrap();
        assert_eq!(scales.unwrap(), vec![3.0]);
        assert_eq!(seedchip_numerics::f8e4m3_to_f32(bytes[0]), 448.0);
    }

    #[test]
    fn requant_matches_the_real_multiplier() {
        let (m, s, b) = requant_params(0.02, &[0.01, 0.5], 0.1, Some(&[0.3, -1.0]), "x").unwrap();
        for (i, sw) in [0.01f32, 0.5].into_iter().enumerate() {
            let q = QuantizedMultiplier::new(m[i], s[i]).unwrap();
            let real = f64::from(0.02f32) * f64::from(sw) / f64::from(0.1f32);
            assert!((q.to_f64() - real).abs() <= real * 2f64.powi(-30));
        }
        let b = b.unwrap();
        assert_eq!(b[0], (0.3f64 / (0.02f64 * 0.01)).round() as i32);
    }
}
