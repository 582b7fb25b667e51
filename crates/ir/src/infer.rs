//! Shape and dtype inference, one rule per op.
//!
//! Used by the builder (to type results as they are created) and by the verifier (to check the
//! declared types of a parsed or rewritten graph). Errors are plain messages; callers attach the
//! node's name.

use crate::op::Op;
use crate::types::{DType, Dim, TensorType};

type R<T> = Result<T, String>;

fn arity(op: &Op, inputs: &[&TensorType], min: usize, max: usize) -> R<()> {
    if inputs.len() < min || inputs.len() > max {
        let want = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(format!(
            "{} takes {want} operands, got {}",
            op.name(),
            inputs.len()
        ));
    }
    Ok(())
}

fn float(what: &str, t: &TensorType) -> R<()> {
    if t.dtype.is_float() {
        Ok(())
    } else {
        Err(format!("{what} must be a float tensor, got {t}"))
    }
}

fn same_dtype(what: &str, a: &TensorType, b: &TensorType) -> R<()> {
    if a.dtype == b.dtype {
        Ok(())
    } else {
        Err(format!(
            "{what}: dtype {} does not match {}",
            b.dtype, a.dtype
        ))
    }
}

fn fixed(what: &str, d: Dim) -> R<u64> {
    d.fixed()
        .ok_or_else(|| format!("{what} must be a fixed dimension, got {d}"))
}

fn expect_shape(what: &str, t: &TensorType, shape: &[u64]) -> R<()> {
    let want = TensorType::fixed(t.dtype, shape);
    if t.shape == want.shape {
        Ok(())
    } else {
        Err(format!("{what} must have shape {}, got {t}", want))
    }
}

fn axis_ok(what: &str, axis: usize, t: &TensorType) -> R<()> {
    if axis < t.rank() {
        Ok(())
    } else {
        Err(format!(
            "{what} {axis} is out of range for {t} (rank {})",
            t.rank()
        ))
    }
}

fn last_fixed(what: &str, t: &TensorType) -> R<u64> {
    match t.last_dim() {
        Some(d) => fixed(&format!("last dimension of {what}"), d),
        None => Err(format!("{what} must have rank >= 1, got {t}")),
    }
}

/// Result types of `op` applied to operands of the given types.
pub fn infer(op: &Op, inputs: &[&TensorType]) -> R<Vec<TensorType>> {
    // `?` dims exist only so ragged index lists can be typed; no other op reads them.
    let dyn_ok = matches!(op, Op::EmbeddingBag { .. });
    for (i, t) in inputs.iter().enumerate() {
        if !dyn_ok && t.shape.contains(&Dim::Dyn) {
            return Err(format!(
                "operand {i} has a `?` dimension ({t}); only embedding_bag indices may"
            ));
        }
        if t.shape.iter().filter(|d| **d == Dim::Batch).count() > 1 {
            return Err(format!(
                "operand {i} has more than one batch dimension ({t})"
            ));
        }
    }
    let one = |t: TensorType| Ok(vec![t]);
    match op {
        Op::EmbeddingBag { mean_pooling, .. } => {
            arity(op, inputs, 2, 3)?;
            let table = inputs[0];
            if table.dtype != DType::F32 || table.rank() != 2 {
                return Err(format!("table must be f32[rows, dim], got {table}"));
            }
            fixed("table rows", table.shape[0])?;
            let dim = fixed("table dim", table.shape[1])?;
            let idx = inputs[1];
            if !idx.dtype.is_int() {
                return Err(format!("indices must be i32 or i64, got {idx}"));
            }
            let batch = if inputs.len() == 2 {
                if idx.rank() != 2 {
                    return Err(format!(
                        "fixed-pooling indices must be [batch, hotness], got {idx} (pass offsets for ragged bags)"
                    ));
                }
                fixed("hotness", idx.shape[1])?;
                if mean_pooling.is_some() {
                    return Err("mean_pooling only applies to ragged (offsets) bags; fixed bags take hotness from the shape".into());
                }
                idx.shape[0]
            } else {
                if idx.rank() != 1 {
                    return Err(format!("ragged indices must be rank 1, got {idx}"));
                }
                let off = inputs[2];
                if !off.dtype.is_int() || off.rank() != 1 || off.shape[0] == Dim::Dyn {
                    return Err(format!("offsets must be i32|i64[batch], got {off}"));
                }
                if let Some(m) = mean_pooling
                    && (!m.is_finite() || *m < 0.0)
                {
                    return Err(format!("mean_pooling must be finite and >= 0, got {m}"));
                }
                off.shape[0]
            };
            if batch == Dim::Dyn {
                return Err("the bag count cannot be `?`".into());
            }
            one(TensorType::new(DType::F32, vec![batch, Dim::Fixed(dim)]))
        }
        Op::Embedding => {
            arity(op, inputs, 2, 2)?;
            let table = inputs[0];
            if table.dtype != DType::F32 || table.rank() != 2 {
                return Err(format!("table must be f32[rows, dim], got {table}"));
            }
            fixed("table rows", table.shape[0])?;
            let dim = fixed("table dim", table.shape[1])?;
            let idx = inputs[1];
            if !idx.dtype.is_int() || idx.rank() == 0 || idx.shape.contains(&Dim::Dyn) {
                return Err(format!(
                    "indices must be i32|i64 of rank >= 1 without `?`, got {idx}"
                ));
            }
            let mut shape = idx.shape.clone();
            shape.push(Dim::Fixed(dim));
            one(TensorType::new(DType::F32, shape))
        }
        Op::Linear { .. } => {
            arity(op, inputs, 2, 3)?;
            let (x, w) = (inputs[0], inputs[1]);
            float("input", x)?;
            same_dtype("weight", x, w)?;
            let k = last_fixed("input", x)?;
            if w.rank() != 2 {
                return Err(format!("weight must be [out, in], got {w}"));
            }
            let n = fixed("weight rows", w.shape[0])?;
            expect_shape("weight", w, &[n, k])?;
            if let Some(b) = inputs.get(2) {
                same_dtype("bias", x, b)?;
                expect_shape("bias", b, &[n])?;
            }
            let mut shape = x.shape.clone();
            let last = shape.len() - 1;
            shape[last] = Dim::Fixed(n);
            one(TensorType::new(x.dtype, shape))
        }
        Op::MatMul { transpose_b } => {
            arity(op, inputs, 2, 2)?;
            let (a, b) = (inputs[0], inputs[1]);
            float("a", a)?;
            same_dtype("b", a, b)?;
            if a.rank() < 2 || b.rank() < 2 {
                return Err(format!(
                    "matmul operands must have rank >= 2, got {a} and {b}"
                ));
            }
            let m = a.shape[a.rank() - 2];
            let k = a.shape[a.rank() - 1];
            let (kb, n) = if *transpose_b {
                (b.shape[b.rank() - 1], b.shape[b.rank() - 2])
            } else {
                (b.shape[b.rank() - 2], b.shape[b.rank() - 1])
            };
            let k = fixed("contraction dimension", k)?;
            if kb != Dim::Fixed(k) {
                return Err(format!(
                    "contraction dimensions differ: {a} vs {b} (transpose_b={transpose_b})"
                ));
            }
            fixed("n", n)?;
            if b.rank() != 2 && b.shape[..b.rank() - 2] != a.shape[..a.rank() - 2] {
                return Err(format!(
                    "leading dimensions differ: {a} vs {b} (b may also be rank 2)"
                ));
            }
            let mut shape = a.shape[..a.rank() - 2].to_vec();
            shape.extend([m, n]);
            one(TensorType::new(a.dtype, shape))
        }
        Op::Unary(_) => {
            arity(op, inputs, 1, 1)?;
            float("operand", inputs[0])?;
            one(inputs[0].clone())
        }
        Op::Binary(_) => {
            arity(op, inputs, 2, 2)?;
            let (a, b) = (inputs[0], inputs[1]);
            float("lhs", a)?;
            same_dtype("rhs", a, b)?;
            let rank = a.rank().max(b.rank());
            let mut shape = vec![Dim::Fixed(1); rank];
            for (i, out) in shape.iter_mut().enumerate() {
                let da = if i + a.rank() >= rank {
                    a.shape[i + a.rank() - rank]
                } else {
                    Dim::Fixed(1)
                };
                let db = if i + b.rank() >= rank {
                    b.shape[i + b.rank() - rank]
                } else {
                    Dim::Fixed(1)
                };
                *out = match (da, db) {
                    (x, y) if x == y => x,
                    (Dim::Fixed(1), y) => y,
                    (x, Dim::Fixed(1)) => x,
                    _ => return Err(format!("shapes {a} and {b} do not broadcast")),
                };
            }
            one(TensorType::new(a.dtype, shape))
        }
        Op::Concat { axis } => {
            arity(op, inputs, 1, usize::MAX)?;
            let first = inputs[0];
            axis_ok("axis", *axis, first)?;
            let mut total = 0u64;
            for (i, t) in inputs.iter().enumerate() {
                same_dtype(&format!("operand {i}"), first, t)?;
                if t.rank() != first.rank() {
                    return Err(format!(
                        "operand {i} has rank {}, operand 0 has {}",
                        t.rank(),
                        first.rank()
                    ));
                }
                for (d, (x, y)) in first.shape.iter().zip(&t.shape).enumerate() {
                    if d != *axis && x != y {
                        return Err(format!(
                            "operand {i} ({t}) differs from operand 0 ({first}) outside axis {axis}"
                        ));
                    }
                }
                total += fixed(&format!("concat axis of operand {i}"), t.shape[*axis])?;
            }
            let mut shape = first.shape.clone();
            shape[*axis] = Dim::Fixed(total);
            one(TensorType::new(first.dtype, shape))
        }
        Op::Reshape { shape } => {
            arity(op, inputs, 1, 1)?;
            let x = inputs[0];
            let bt = shape.iter().filter(|d| **d == Dim::Batch).count();
            if shape.contains(&Dim::Dyn) || bt > 1 {
                return Err("reshape target may hold `B` at most once and no `?`".into());
            }
            if (bt == 1) != x.has_batch() {
                return Err(format!(
                    "reshape must keep the batch dimension: input {x}, target {}",
                    TensorType::new(x.dtype, shape.clone())
                ));
            }
            let target = TensorType::new(x.dtype, shape.clone());
            if target.fixed_numel() != x.fixed_numel() {
                return Err(format!(
                    "cannot reshape {x} to {target}: element counts differ"
                ));
            }
            one(target)
        }
        Op::Flatten { axis } => {
            arity(op, inputs, 1, 1)?;
            let x = inputs[0];
            axis_ok("axis", *axis, x)?;
            let tail = &x.shape[*axis..];
            let merged = if tail == [Dim::Batch] {
                Dim::Batch
            } else if tail.contains(&Dim::Batch) {
                return Err(format!(
                    "flatten from axis {axis} would merge the batch dimension of {x}"
                ));
            } else {
                Dim::Fixed(tail.iter().map(|d| d.fixed().unwrap_or(1)).product())
            };
            let mut shape = x.shape[..*axis].to_vec();
            shape.push(merged);
            one(TensorType::new(x.dtype, shape))
        }
        Op::Transpose { perm } => {
            arity(op, inputs, 1, 1)?;
            let x = inputs[0];
            let mut seen = vec![false; x.rank()];
            if perm.len() != x.rank() {
                return Err(format!(
                    "perm {perm:?} has {} entries for rank {}",
                    perm.len(),
                    x.rank()
                ));
            }
            for &p in perm {
                if p >= x.rank() || std::mem::replace(&mut seen[p], true) {
                    return Err(format!(
                        "perm {perm:?} is not a permutation of 0..{}",
                        x.rank()
                    ));
                }
            }
            one(TensorType::new(
                x.dtype,
                perm.iter().map(|&p| x.shape[p]).collect(),
            ))
        }
        Op::Slice { axis, start, end } => {
            arity(op, inputs, 1, 1)?;
            let x = inputs[0];
            axis_ok("axis", *axis, x)?;
            let n = fixed(&format!("sliced axis {axis}"), x.shape[*axis])?;
            if start >= end || *end > n {
                return Err(format!(
                    "slice [{start}, {end}) is empty or exceeds the axis length {n}"
                ));
            }
            let mut shape = x.shape.clone();
            shape[*axis] = Dim::Fixed(end - start);
            one(TensorType::new(x.dtype, shape))
        }
        Op::Split { axis, sizes } => {
            arity(op, inputs, 1, 1)?;
            let x = inputs[0];
            axis_ok("axis", *axis, x)?;
            let n = fixed(&format!("split axis {axis}"), x.shape[*axis])?;
            if sizes.is_empty() || sizes.contains(&0) || sizes.iter().sum::<u64>() != n {
                return Err(format!(
                    "split sizes {sizes:?} must be positive and sum to {n}"
                ));
            }
            Ok(sizes
                .iter()
                .map(|&s| {
                    let mut shape = x.shape.clone();
                    shape[*axis] = Dim::Fixed(s);
                    TensorType::new(x.dtype, shape)
                })
                .collect())
        }
        Op::DotInteraction { self_interaction } => {
            arity(op, inputs, 1, usize::MAX)?;
            let first = inputs[0];
            float("feature", first)?;
            let (lead, n) = if inputs.len() == 1 && first.rank() == 3 {
                (first.shape[0], fixed("feature count", first.shape[1])?)
            } else {
                for (i, t) in inputs.iter().enumerate() {
                    if t.rank() != 2 || t.shape != first.shape || t.dtype != first.dtype {
                        return Err(format!(
                            "features must all be [batch, d] like operand 0 ({first}); operand {i} is {t}"
                        ));
                    }
                }
                (first.shape[0], inputs.len() as u64)
            };
            last_fixed("feature", first)?;
            let pairs = if *self_interaction {
                n * (n + 1) / 2
            } else {
                n * n.saturating_sub(1) / 2
            };
            if pairs == 0 {
                return Err(format!("{n} feature(s) give no pairs"));
            }
            one(TensorType::new(first.dtype, vec![lead, Dim::Fixed(pairs)]))
        }
        Op::CrossLayer => {
            arity(op, inputs, 5, 5)?;
            let (x0, xl, v, w, b) = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4]);
            float("x0", x0)?;
            if xl != x0 {
                return Err(format!("xl ({xl}) must have x0's type ({x0})"));
            }
            let d = last_fixed("x0", x0)?;
            if v.rank() != 2 {
                return Err(format!("v must be [rank, {d}], got {v}"));
            }
            let r = fixed("low rank", v.shape[0])?;
            for (what, t, s) in [
                ("v", v, [r, d].as_slice()),
                ("w", w, &[d, r]),
                ("b", b, &[d]),
            ] {
                same_dtype(what, x0, t)?;
                expect_shape(what, t, s)?;
            }
            one(x0.clone())
        }
        Op::LayerNorm { eps } => {
            arity(op, inputs, 3, 3)?;
            let x = inputs[0];
            float("input", x)?;
            let d = last_fixed("input", x)?;
            for (what, t) in [("gamma", inputs[1]), ("beta", inputs[2])] {
                same_dtype(what, x, t)?;
                expect_shape(what, t, &[d])?;
            }
            if !eps.is_finite() || *eps <= 0.0 {
                return Err(format!("eps must be finite and > 0, got {eps}"));
            }
            one(x.clone())
        }
        Op::Softmax { axis } => {
            arity(op, inputs, 1, 1)?;
            float("operand", inputs[0])?;
            axis_ok("axis", *axis, inputs[0])?;
            fixed(&format!("softmax axis {axis}"), inputs[0].shape[*axis])?;
            one(inputs[0].clone())
        }
        Op::Reduce { axis, .. } => {
            arity(op, inputs, 1, 1)?;
            let x = inputs[0];
            float("operand", x)?;
            axis_ok("axis", *axis, x)?;
            fixed(&format!("reduced axis {axis}"), x.shape[*axis])?;
            let mut shape = x.shape.clone();
            shape.remove(*axis);
            one(TensorType::new(x.dtype, shape))
        }
        Op::TargetAttention { .. } => {
            arity(op, inputs, 4, usize::MAX)?;
            let (q, k) = (inputs[0], inputs[1]);
            float("query", q)?;
            if q.rank() != 2
                || k.rank() != 3
                || k.shape[0] != q.shape[0]
                || k.shape[2] != q.shape[1]
            {
                return Err(format!(
                    "need query [batch, d] and keys [batch, T, d], got {q} and {k}"
                ));
            }
            same_dtype("keys", q, k)?;
            let d = fixed("feature dim", q.shape[1])?;
            fixed("sequence length", k.shape[1])?;
            let layers = &inputs[2..];
            if !layers.len().is_multiple_of(2) {
                return Err("activation-unit weights must come in (w, b) pairs".into());
            }
            let mut width = 4 * d;
            for (i, pair) in layers.chunks(2).enumerate() {
                let (w, b) = (pair[0], pair[1]);
                if w.rank() != 2 {
                    return Err(format!("layer {i} weight must be [out, {width}], got {w}"));
                }
                let out = fixed(&format!("layer {i} width"), w.shape[0])?;
                same_dtype(&format!("layer {i} weight"), q, w)?;
                same_dtype(&format!("layer {i} bias"), q, b)?;
                expect_shape(&format!("layer {i} weight"), w, &[out, width])?;
                expect_shape(&format!("layer {i} bias"), b, &[out])?;
                width = out;
            }
            if width != 1 {
                return Err(format!(
                    "the activation unit must end in width 1 (a score), ends in {width}"
                ));
            }
            one(q.clone())
        }
        Op::SeqAttention { heads, scale, .. } => {
            arity(op, inputs, 3, 3)?;
            let (q, k, v) = (inputs[0], inputs[1], inputs[2]);
            float("q", q)?;
            if q.rank() != 3 || k != q || v.rank() != 3 || v.shape[..2] != q.shape[..2] {
                return Err(format!(
                    "need q, k [batch, n, h*dk] and v [batch, n, h*dv], got {q}, {k}, {v}"
                ));
            }
            same_dtype("v", q, v)?;
            fixed("sequence length", q.shape[1])?;
            let dq = fixed("q width", q.shape[2])?;
            let dv = fixed("v width", v.shape[2])?;
            if *heads == 0 || dq % heads != 0 || dv % heads != 0 {
                return Err(format!(
                    "heads = {heads} must divide q width {dq} and v width {dv}"
                ));
            }
            if !scale.is_finite() {
                return Err(format!("scale must be finite, got {scale}"));
            }
            one(v.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::*;

    fn b(d: &[u64]) -> TensorType {
        TensorType::batched(DType::F32, d)
    }
    fn f(d: &[u64]) -> TensorType {
        TensorType::fixed(DType::F32, d)
    }

    #[test]
    fn linear_and_broadcast() {
        let x = b(&[13]);
        let w = f(&[512, 13]);
        let bias = f(&[512]);
        let out = infer(
            &Op::Linear {
                act: Activation::Relu,
            },
            &[&x, &w, &bias],
        )
        .unwrap();
        assert_eq!(out, vec![b(&[512])]);
        assert!(
            infer(
                &Op::Linear {
                    act: Activation::None
                },
                &[&x, &f(&[512, 12])]
            )
            .is_err()
        );
        let out = infer(&Op::Binary(BinaryOp::Add), &[&b(&[4, 8]), &f(&[8])]).unwrap();
        assert_eq!(out, vec![b(&[4, 8])]);
        assert!(infer(&Op::Binary(BinaryOp::Add), &[&b(&[4, 8]), &f(&[3, 8])]).is_err());
    }

    #[test]
    fn interaction_counts_pairs() {
        let v = b(&[128]);
        let ins: Vec<&TensorType> = std::iter::repeat_n(&v, 27).collect();
        let out = infer(
            &Op::DotInteraction {
                self_interaction: false,
            },
            &ins,
        )
        .unwrap();
        assert_eq!(out, vec![b(&[351])]);
        let stacked = b(&[9, 64]);
        let out = infer(
            &Op::DotInteraction {
                self_interaction: true,
            },
            &[&stacked],
        )
        .unwrap();
        assert_eq!(out, vec![b(&[45])]);
    }

    #[test]
    fn reshape_keeps_batch() {
        let x = b(&[6, 4]);
        let ok = infer(
            &Op::Reshape {
                shape: vec![Dim::Batch, Dim::Fixed(24)],
            },
            &[&x],
        )
        .unwrap();
        assert_eq!(ok, vec![b(&[24])]);
        assert!(
            infer(
                &Op::Reshape {
                    shape: vec![Dim::Fixed(24)]
                },
                &[&x]
            )
            .is_err()
        );
        assert!(
            infer(
                &Op::Reshape {
                    shape: vec![Dim::Batch, Dim::Fixed(23)]
                },
                &[&x]
            )
            .is_err()
        );
    }

    #[test]
    fn embedding_modes() {
        let table = f(&[100, 16]);
        let idx = TensorType::batched(DType::I64, &[3]);
        let op = Op::EmbeddingBag {
            pooling: Pooling::Sum,
            mean_pooling: None,
        };
        assert_eq!(infer(&op, &[&table, &idx]).unwrap(), vec![b(&[16])]);
        let ragged = TensorType::new(DType::I32, vec![Dim::Dyn]);
        let off = TensorType::new(DType::I32, vec![Dim::Batch]);
        assert_eq!(
            infer(&op, &[&table, &ragged, &off]).unwrap(),
            vec![b(&[16])]
        );
        assert!(infer(&op, &[&table, &ragged]).is_err());
        assert!(infer(&Op::Unary(UnaryOp::Relu), &[&ragged]).is_err());
    }
}
