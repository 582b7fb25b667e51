//! `fuse`: folds what follows a GEMM into its epilogue, so the accumulator tile is finished in
//! SRAM while it is hot instead of being stored and re-read.
//!
//! Bias and activation are already on the GEMM (`Linear` carries them). This pass folds the
//! conversions `quantize` put in front of the next matrix product: a GEMM whose only readers
//! convert its result to bf16 (or scale-and-convert to i8/e4m3) writes the converted tensor
//! directly. An int8 GEMM feeding an int8 GEMM with no activation or ReLU takes the
//! fixed-point path: int32 bias, one per-channel `vpu.requant.pc` to the consumer's scale, and
//! ReLU on the int8 codes (docs/numerics.md), never leaving the integer domain.

use crate::Error;
use crate::lir::{Base, KOp, Lir, MatPrecision, OutConv, Requant, TensorId, VOp, View};
use crate::passes::quantize::{requant_params, weight_column_sums};
use seedchip_ir::Activation;

/// Kernels that read tensor `t` (by index).
fn readers(lir: &Lir, t: TensorId) -> Vec<usize> {
    lir.kernels
        .iter()
        .enumerate()
        .filter(|(_, k)| {
            Lir::views(&k.op)
                .0
                .iter()
                .any(|v| v.base == Base::Tensor(t))
        })
        .map(|(i, _)| i)
        .collect()
}

fn writers(lir: &Lir, t: TensorId) -> Vec<usize> {
    lir.kernels
        .iter()
        .enumerate()
        .filter(|(_, k)| {
            Lir::views(&k.op)
                .1
                .iter()
                .any(|v| v.base == Base::Tensor(t))
        })
        .map(|(i, _)| i)
        .collect()
}

fn is_whole(lir: &Lir, v: &View) -> Option<TensorId> {
    let t = v.tensor()?;
    (v.offset == 0 && v.is_contiguous() && v.numel() == lir.tensor(t).per_sample).then_some(t)
}

/// The one kernel after `after` that reads `t`, when every other access to `t` is by the
/// kernel `after` itself or that reader.
fn single_reader(lir: &Lir, t: TensorId, after: usize) -> Option<usize> {
    let rs: Vec<usize> = readers(lir, t)
        .into_iter()
        .filter(|&i| i != after)
        .collect();
    let ws: Vec<usize> = writers(lir, t)
        .into_iter()
        .filter(|&i| i != after && !rs.contains(&i))
        .collect();
    (rs.len() == 1 && rs[0] > after && ws.is_empty()).then(|| rs[0])
}

/// The one kernel that reads `t` other than the kernels `besides`, when it comes after them
/// and nothing else writes `t`.
fn single_reader_besides(lir: &Lir, t: TensorId, besides: &[usize]) -> Option<usize> {
    let rs: Vec<usize> = readers(lir, t)
        .into_iter()
        .filter(|i| !besides.contains(i))
        .collect();
    let ws = writers(lir, t)
        .into_iter()
        .filter(|i| !besides.contains(i) && !rs.contains(i))
        .count();
    let last = besides.iter().copied().max().unwrap_or(0);
    (rs.len() == 1 && rs[0] > last && ws == 0).then(|| rs[0])
}

/// What a GEMM's result turns into.
enum Pattern {
    Bf16 {
        cvt: usize,
        dst: View,
    },
    Quant {
        /// The scale, zero-point add (if any) and conversion kernels.
        kernels: Vec<usize>,
        dst: View,
        inv_scale: f32,
        zero_point: Option<crate::lir::ConstId>,
        to: seedchip_isa::DType,
    },
}

fn pattern(lir: &Lir, gi: usize, x: TensorId) -> Option<Pattern> {
    let rs = readers(lir, x);
    if rs.len() != 1 || writers(lir, x) != [gi] || rs[0] <= gi {
        return None;
    }
    let r = rs[0];
    let KOp::Vpu {
        op,
        dst,
        a,
        b: None,
    } = &lir.kernels[r].op
    else {
        return None;
    };
    is_whole(lir, a)?;
    let dt = is_whole(lir, dst)?;
    if a.shape() != dst.shape() {
        return None;
    }
    match *op {
        VOp::Cvt(seedchip_isa::DType::Bf16) => Some(Pattern::Bf16 {
            cvt: r,
            dst: dst.clone(),
        }),
        VOp::Scale(inv_scale) => {
            // Scale, then optionally add the zero point in place, then convert.
            let mut kernels = vec![r];
            let mut zero_point = None;
            // The zero-point add works in place, so it reads `dt` as the conversion after it
            // does: it must be the first reader after the scale, and the conversion then the
            // only reader besides the two.
            let first = readers(lir, dt).into_iter().find(|&i| i > r)?;
            let next = match &lir.kernels[first].op {
                KOp::Vpu {
                    op: VOp::Add,
                    dst: zd,
                    a: za,
                    b: Some(zb),
                } => {
                    let crate::lir::Base::Const(c) = zb.base else {
                        return None;
                    };
                    if zd != za || zd.tensor() != Some(dt) {
                        return None;
                    }
                    zero_point = Some(c);
                    kernels.push(first);
                    single_reader_besides(lir, dt, &[r, first])?
                }
                _ => single_reader(lir, dt, r)?,
            };
            let KOp::Vpu {
                op: VOp::Cvt(to),
                dst: qdst,
                a: qa,
                b: None,
            } = &lir.kernels[next].op
            else {
                return None;
            };
            is_whole(lir, qa)?;
            is_whole(lir, qdst)?;
            kernels.push(next);
            Some(Pattern::Quant {
                kernels,
                dst: qdst.clone(),
                inv_scale,
                zero_point,
                to: *to,
            })
        }
        _ => None,
    }
}

/// Runs the pass; returns how many conversions were folded.
pub fn run(lir: &mut Lir) -> Result<usize, Error> {
    let mut folded = 0;
    let mut gi = 0;
    while gi < lir.kernels.len() {
        let KOp::Gemm(g) = &lir.kernels[gi].op else {
            gi += 1;
            continue;
        };
        let Some(x) = is_whole(lir, &g.dst) else {
            gi += 1;
            continue;
        };
        if g.dst.shape().last() != Some(&g.n) {
            gi += 1;
            continue;
        }
        let Some(p) = pattern(lir, gi, x) else {
            gi += 1;
            continue;
        };
        let mut remove = Vec::new();
        match p {
            Pattern::Bf16 { cvt, dst } => {
                let KOp::Gemm(g) = &mut lir.kernels[gi].op else {
                    unreachable!()
                };
                g.dst = dst.reshape(&g.dst.shape()).unwrap_or(dst);
                g.epilogue.as_mut().expect("quantize sets epilogues").out = OutConv::Bf16;
                remove.push(cvt);
            }
            Pattern::Quant {
                kernels,
                dst,
                inv_scale,
                zero_point,
                to,
            } => {
                let KOp::Gemm(g) = &lir.kernels[gi].op else {
                    unreachable!()
                };
                let g = g.clone();
                let epi = g.epilogue.clone().expect("quantize sets epilogues");
                let int_path = g.precision == Some(MatPrecision::I8)
                    && to == seedchip_isa::DType::I8
                    && matches!(epi.act, Activation::None | Activation::Relu);
                let out_t = dst.tensor().expect("conversions write tensors");
                let mut new_epi = epi.clone();
                if int_path {
                    let a_t = g.a.tensor().expect("GEMM inputs are tensors");
                    let s_a = lir.tensor(a_t).scale.expect("int8 inputs have a scale");
                    let zp_a = lir.tensor(a_t).zero_point;
                    let s_out = lir.tensor(out_t).scale.expect("int8 outputs have a scale");
                    let zp_out = lir.tensor(out_t).zero_point;
                    let w = lir.konst(g.w);
                    let s_w = w.channel_scales.clone().expect("int8 weights have scales");
                    let name = w.name.clone();
                    let sums = weight_column_sums(w, g.k, g.n);
                    let bias_vals: Option<Vec<f32>> = g
                        .bias
                        .map(|b| lir.konst(b).f32_values().expect("biases are f32").to_vec());
                    let (m, s, b) = requant_params(s_a, &s_w, s_out, bias_vals.as_deref(), &name)?;
                    // The input's zero point: Σ w·(q - zp) = Σ w·q - zp·Σ w, into the bias.
                    let b = if zp_a != 0 || b.is_some() {
                        let base = b.unwrap_or_else(|| vec![0; g.n as usize]);
                        Some(
                            base.iter()
                                .zip(&sums)
                                .map(|(&x, &sum)| {
                                    let v = i64::from(x) - i64::from(zp_a) * sum;
                                    i32::try_from(v).map_err(|_| {
                                        Error::unsupported(
                                            name.as_str(),
                                            "folded int8 bias beyond int32",
                                        )
                                    })
                                })
                                .collect::<Result<Vec<i32>, Error>>()?,
                        )
                    } else {
                        None
                    };
                    let multipliers = lir.vector_i32(format!("{name}.requant_m"), m);
                    let shifts = lir.vector_i32(format!("{name}.requant_s"), s);
                    let bias = b.map(|b| lir.vector_i32(format!("{name}.bias_i32"), b));
                    new_epi.requant = Some(Requant {
                        bias,
                        multipliers,
                        shifts,
                        zero_point: zp_out,
                        relu: epi.act == Activation::Relu && zp_out > -128,
                    });
                } else {
                    new_epi.out = OutConv::Quant {
                        to,
                        inv_scale,
                        zero_point,
                    };
                }
                let KOp::Gemm(gm) = &mut lir.kernels[gi].op else {
                    unreachable!()
                };
                gm.dst = dst.reshape(&gm.dst.shape()).unwrap_or(dst);
                gm.epilogue = Some(new_epi);
                remove.extend(kernels);
            }
        }
        remove.sort_unstable();
        for r in remove.into_iter().rev() {
            lir.kernels.remove(r);
            folded += 1;
        }
        gi += 1;
    }
    Ok(folded)
}
