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
use crate::lir::{Base, ConstData, KOp, Lir, MatPrecision, OutConv, Requant, TensorId, VOp, View};
use crate::passes::quantize::requant_params;
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

/// What a GEMM's result turns into.
enum Pattern {
    Bf16 {
        cvt: usize,
        dst: View,
    },
    Quant {
        scale: usize,
        cvt: usize,
        dst: View,
        inv_scale: f32,
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
            let rs2 = readers(lir, dt);
            if rs2.len() != 1 || writers(lir, dt) != [r] {
                return None;
            }
            let c = rs2[0];
            let KOp::Vpu {
                op: VOp::Cvt(to),
                dst: qdst,
                a: qa,
                b: None,
            } = &lir.kernels[c].op
            else {
                return None;
            };
            is_whole(lir, qa)?;
            is_whole(lir, qdst)?;
            Some(Pattern::Quant {
                scale: r,
                cvt: c,
                dst: qdst.clone(),
                inv_scale,
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
                scale,
                cvt,
                dst,
                inv_scale,
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
                    let s_out = lir.tensor(out_t).scale.expect("int8 outputs have a scale");
                    let w = lir.konst(g.w);
                    let s_w = w.channel_scales.clone().expect("int8 weights have scales");
                    let name = w.name.clone();
                    let bias_vals: Option<Vec<f32>> = g
                        .bias
                        .map(|b| lir.konst(b).f32_values().expect("biases are f32").to_vec());
                    let (m, s, b) = requant_params(s_a, &s_w, s_out, bias_vals.as_deref(), &name)?;
                    let multipliers = lir.vector_i32(format!("{name}.requant_m"), m);
                    let shifts = lir.vector_i32(format!("{name}.requant_s"), s);
                    let bias = b.map(|b| lir.vector_i32(format!("{name}.bias_i32"), b));
                    new_epi.requant = Some(Requant {
                        bias,
                        multipliers,
                        shifts,
                        relu: epi.act == Activation::Relu,
                    });
                } else {
                    new_epi.out = OutConv::Quant { to, inv_scale };
                }
                let KOp::Gemm(gm) = &mut lir.kernels[gi].op else {
                    unreachable!()
                };
                gm.dst = dst.reshape(&gm.dst.shape()).unwrap_or(dst);
                gm.epilogue = Some(new_epi);
                remove.push(scale);
                remove.push(cvt);
            }
        }
        remove.sort_unstable();
        for r in remove.into_iter().rev() {
            lir.kernels.remove(r);
            folded += 1;
        }
        gi += 1;
    }
    let _ = ConstData::I32(Vec::new());
    Ok(folded)
}
