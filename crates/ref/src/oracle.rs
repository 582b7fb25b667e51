//! A naive f64 interpreter: the check on the fast executor.
//!
//! Written for obviousness, not speed: every op is a loop over output elements with explicit
//! index arithmetic, everything accumulates in f64, and nothing is shared with [`crate::kernels`]
//! except input binding and index validation. Agreement between the two is evidence for both.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use seedchip_ir::init::ParamValues;
use seedchip_ir::{
    Activation, AttentionKernel, BinaryOp, Graph, NodeId, Op, ParamId, Pooling, ReduceKind,
    UnaryOp, ValueDef, ValueId,
};

use crate::Error;
use crate::exec::{bag_ranges, bind, check_indices};
use crate::tensor::{Tensor, TensorData};

#[derive(Debug, Clone, PartialEq)]
pub struct F64Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
}

/// Worst disagreement between an f32 result and the f64 oracle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub max_abs: f64,
    /// `|a - e| / max(|e|, rms(e))`: relative error, except that elements much smaller than
    /// the output's typical magnitude (results of cancellation, where f32 rounding of the
    /// large terms dominates) are measured against that magnitude instead.
    pub max_rel: f64,
    pub worst_index: usize,
}

pub fn compare(actual: &Tensor, expected: &F64Tensor) -> Option<Comparison> {
    let a = actual.as_f32()?;
    if actual.shape() != expected.shape.as_slice() {
        return None;
    }
    let n = expected.data.len().max(1) as f64;
    let rms = (expected.data.iter().map(|v| v * v).sum::<f64>() / n).sqrt();
    let floor = rms.max(f64::MIN_POSITIVE);
    let mut c = Comparison {
        max_abs: 0.0,
        max_rel: 0.0,
        worst_index: 0,
    };
    for (i, (&x, &e)) in a.iter().zip(&expected.data).enumerate() {
        let d = (f64::from(x) - e).abs();
        let r = if d == 0.0 {
            0.0
        } else {
            d / e.abs().max(floor)
        };
        if d.is_nan() || r > c.max_rel {
            c.max_rel = if d.is_nan() { f64::INFINITY } else { r };
            c.worst_index = i;
        }
        c.max_abs = c.max_abs.max(d);
    }
    Some(c)
}

fn act(a: Activation, x: f64) -> f64 {
    match a.unary() {
        Some(u) => unary(u, x),
        None => x,
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn unary(u: UnaryOp, x: f64) -> f64 {
    match u {
        UnaryOp::Relu => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        UnaryOp::Sigmoid => sigmoid(x),
        UnaryOp::Tanh => x.tanh(),
        UnaryOp::Gelu => 0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2)),
        UnaryOp::Silu => x * sigmoid(x),
        UnaryOp::Neg => -x,
        UnaryOp::Exp => x.exp(),
    }
}

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d].max(1);
        i /= shape[d].max(1);
    }
    idx
}

fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(strides(shape)).map(|(&i, s)| i * s).sum()
}

struct Oracle<'g> {
    g: &'g Graph,
    params: Vec<ParamValues>,
    dense: BTreeMap<ParamId, Vec<f64>>,
}

impl Oracle<'_> {
    fn param(&mut self, p: ParamId) -> Result<&[f64], Error> {
        if !self.dense.contains_key(&p) {
            let v = self.params[p.index()].materialize()?;
            self.dense.insert(p, v.into_iter().map(f64::from).collect());
        }
        Ok(&self.dense[&p])
    }
}

/// Runs `g` in f64 on `inputs` (same naming and checks as [`crate::Executor::run`]).
pub fn run(
    g: &Graph,
    inputs: &BTreeMap<String, Tensor>,
    base_dir: Option<&Path>,
) -> Result<BTreeMap<String, F64Tensor>, Error> {
    seedchip_ir::verify(g)?;
    let bound = bind(g, inputs, false)?;
    let batch = bound.batch;
    let params = (0..g.params.len())
        .map(|i| ParamValues::open(g, ParamId::from_index(i), base_dir))
        .collect::<Result<Vec<_>, _>>()?;
    let mut o = Oracle {
        g,
        params,
        dense: BTreeMap::new(),
    };
    let mut env: Vec<Option<F64Tensor>> = vec![None; g.values.len()];
    let mut ints: BTreeMap<ValueId, (Vec<i64>, Vec<usize>)> = BTreeMap::new();
    for (&v, t) in g.inputs.iter().zip(&bound.tensors) {
        match t.data() {
            TensorData::F32(d) => {
                env[v.index()] = Some(F64Tensor {
                    shape: t.shape().to_vec(),
                    data: d.iter().map(|&x| f64::from(x)).collect(),
                })
            }
            _ => {
                let idx = t.indices().map(Cow::into_owned).unwrap_or_default();
                ints.insert(v, (idx, t.shape().to_vec()));
            }
        }
    }
    let order = g
        .topo_order()
        .map_err(|n| Error::Internal(format!("cycle at {}", g.node_label(n))))?;
    for nid in order {
        let outs = o.node(nid, &env, &ints, batch)?;
        for (&v, t) in g.node(nid).outputs.iter().zip(outs) {
            env[v.index()] = Some(t);
        }
    }
    let mut out = BTreeMap::new();
    for output in &g.outputs {
        let t = match g.value(output.value).def {
            ValueDef::Param(p) => F64Tensor {
                shape: fixed_shape(g, output.value, batch),
                data: o.param(p)?.to_vec(),
            },
            _ => env[output.value.index()]
                .clone()
                .ok_or_else(|| Error::Internal(format!("output {} not computed", output.name)))?,
        };
        out.insert(output.name.clone(), t);
    }
    Ok(out)
}

fn fixed_shape(g: &Graph, v: ValueId, batch: usize) -> Vec<usize> {
    g.ty(v)
        .resolve(batch as u64)
        .unwrap_or_default()
        .into_iter()
        .map(|d| d as usize)
        .collect()
}

impl Oracle<'_> {
    fn arg(
        &mut self,
        env: &[Option<F64Tensor>],
        v: ValueId,
        batch: usize,
    ) -> Result<F64Tensor, Error> {
        match self.g.value(v).def {
            ValueDef::Param(p) => Ok(F64Tensor {
                shape: fixed_shape(self.g, v, batch),
                data: self.param(p)?.to_vec(),
            }),
            _ => env[v.index()].clone().ok_or_else(|| {
                Error::Internal(format!("%{} used before computed", self.g.value_name(v)))
            }),
        }
    }

    fn row(&self, table: ValueId, r: u64, dim: usize) -> Result<Vec<f64>, Error> {
        let ValueDef::Param(p) = self.g.value(table).def else {
            return Err(Error::Internal("table is not a parameter".into()));
        };
        let mut buf = vec![0.0f32; dim];
        self.params[p.index()].fill_row(r, &mut buf)?;
        Ok(buf.into_iter().map(f64::from).collect())
    }

    fn node(
        &mut self,
        nid: NodeId,
        env: &[Option<F64Tensor>],
        ints: &BTreeMap<ValueId, (Vec<i64>, Vec<usize>)>,
        batch: usize,
    ) -> Result<Vec<F64Tensor>, Error> {
        let g = self.g;
        let node = g.node(nid);
        let ins = &node.inputs;
        let out_shape = fixed_shape(g, node.outputs[0], batch);
        let n_out: usize = out_shape.iter().product();
        let mut y = vec![0.0f64; n_out];
        let int = |v: ValueId| {
            ints.get(&v).ok_or_else(|| {
                Error::Internal(format!("%{} is not an index input", g.value_name(v)))
            })
        };
        match &node.op {
            Op::EmbeddingBag { pooling, .. } => {
                let (rows, dim) = table_dims(g, ins[0]);
                let (idx, ishape) = int(ins[1])?;
                let off = match ins.get(2) {
                    Some(&v) => Some(int(v)?.0.as_slice()),
                    None => None,
                };
                let ranges = bag_ranges(g, nid, idx, ishape, off, rows)?;
                for (b, &(lo, hi)) in ranges.iter().enumerate() {
                    for (n, &r) in idx[lo..hi].iter().enumerate() {
                        let row = self.row(ins[0], r as u64, dim)?;
                        for j in 0..dim {
                            let o = &mut y[b * dim + j];
                            *o = match pooling {
                                Pooling::Sum | Pooling::Mean => *o + row[j],
                                Pooling::Max => {
                                    if n == 0 {
                                        row[j]
                                    } else {
                                        o.max(row[j])
                                    }
                                }
                            };
                        }
                    }
                    if *pooling == Pooling::Mean && hi > lo {
                        for j in 0..dim {
                            y[b * dim + j] /= (hi - lo) as f64;
                        }
                    }
                }
            }
            Op::Embedding => {
                let (rows, dim) = table_dims(g, ins[0]);
                let (idx, ishape) = int(ins[1])?;
                let per: usize = ishape[1..].iter().product();
                let ranges: Vec<_> = (0..ishape[0]).map(|b| (b * per, (b + 1) * per)).collect();
                check_indices(g, nid, idx, &ranges, rows)?;
                for (i, &r) in idx.iter().enumerate() {
                    let row = self.row(ins[0], r as u64, dim)?;
                    y[i * dim..(i + 1) * dim].copy_from_slice(&row);
                }
            }
            Op::Linear { act: a } => {
                let x = self.arg(env, ins[0], batch)?;
                let w = self.arg(env, ins[1], batch)?;
                let b = match ins.get(2) {
                    Some(&v) => Some(self.arg(env, v, batch)?),
                    None => None,
                };
                let (n, k) = (w.shape[0], w.shape[1]);
                for r in 0..n_out / n.max(1) {
                    for j in 0..n {
                        let mut s = b.as_ref().map_or(0.0, |b| b.data[j]);
                        for l in 0..k {
                            s += x.data[r * k + l] * w.data[j * k + l];
                        }
                        y[r * n + j] = act(*a, s);
                    }
                }
            }
            Op::MatMul { transpose_b } => {
                let a = self.arg(env, ins[0], batch)?;
                let b = self.arg(env, ins[1], batch)?;
                let ra = a.shape.len();
                let (m, k) = (a.shape[ra - 2], a.shape[ra - 1]);
                let n = out_shape[out_shape.len() - 1];
                for (o, v) in y.iter_mut().enumerate() {
                    let (bi, rem) = (o / (m * n), o % (m * n));
                    let (i, j) = (rem / n, rem % n);
                    let boff = if b.shape.len() == 2 { 0 } else { bi * k * n };
                    let mut s = 0.0;
                    for l in 0..k {
                        let bv = if *transpose_b {
                            b.data[boff + j * k + l]
                        } else {
                            b.data[boff + l * n + j]
                        };
                        s += a.data[bi * m * k + i * k + l] * bv;
                    }
                    *v = s;
                }
            }
            Op::Unary(u) => {
                let x = self.arg(env, ins[0], batch)?;
                for (o, &v) in y.iter_mut().zip(&x.data) {
                    *o = unary(*u, v);
                }
            }
            Op::Binary(op) => {
                let a = self.arg(env, ins[0], batch)?;
                let b = self.arg(env, ins[1], batch)?;
                let r = out_shape.len();
                let pick = |t: &F64Tensor, idx: &[usize]| {
                    let off = r - t.shape.len();
                    let sub: Vec<usize> = t
                        .shape
                        .iter()
                        .enumerate()
                        .map(|(d, &n)| if n == 1 { 0 } else { idx[off + d] })
                        .collect();
                    t.data[ravel(&sub, &t.shape)]
                };
                for (o, v) in y.iter_mut().enumerate() {
                    let idx = unravel(o, &out_shape);
                    let (x1, x2) = (pick(&a, &idx), pick(&b, &idx));
                    *v = match op {
                        BinaryOp::Add => x1 + x2,
                        BinaryOp::Sub => x1 - x2,
                        BinaryOp::Mul => x1 * x2,
                        BinaryOp::Div => x1 / x2,
                    };
                }
            }
            Op::Concat { axis } => {
                let parts = ins
                    .iter()
                    .map(|&v| self.arg(env, v, batch))
                    .collect::<Result<Vec<_>, _>>()?;
                for (o, v) in y.iter_mut().enumerate() {
                    let mut idx = unravel(o, &out_shape);
                    let mut which = 0;
                    while idx[*axis] >= parts[which].shape[*axis] {
                        idx[*axis] -= parts[which].shape[*axis];
                        which += 1;
                    }
                    *v = parts[which].data[ravel(&idx, &parts[which].shape)];
                }
            }
            Op::Reshape { .. } | Op::Flatten { .. } => y = self.arg(env, ins[0], batch)?.data,
            Op::Transpose { perm } => {
                let x = self.arg(env, ins[0], batch)?;
                for (o, v) in y.iter_mut().enumerate() {
                    let oi = unravel(o, &out_shape);
                    let mut ii = vec![0; oi.len()];
                    for (d, &p) in perm.iter().enumerate() {
                        ii[p] = oi[d];
                    }
                    *v = x.data[ravel(&ii, &x.shape)];
                }
            }
            Op::Slice { axis, start, .. } => {
                let x = self.arg(env, ins[0], batch)?;
                for (o, v) in y.iter_mut().enumerate() {
                    let mut idx = unravel(o, &out_shape);
                    idx[*axis] += *start as usize;
                    *v = x.data[ravel(&idx, &x.shape)];
                }
            }
            Op::Split { axis, sizes } => {
                let x = self.arg(env, ins[0], batch)?;
                let mut outs = Vec::new();
                let mut start = 0;
                for (k, &len) in sizes.iter().enumerate() {
                    let shape = fixed_shape(g, node.outputs[k], batch);
                    let n: usize = shape.iter().product();
                    let data = (0..n)
                        .map(|o| {
                            let mut idx = unravel(o, &shape);
                            idx[*axis] += start;
                            x.data[ravel(&idx, &x.shape)]
                        })
                        .collect();
                    outs.push(F64Tensor { shape, data });
                    start += len as usize;
                }
                return Ok(outs);
            }
            Op::DotInteraction { self_interaction } => {
                let parts = ins
                    .iter()
                    .map(|&v| self.arg(env, v, batch))
                    .collect::<Result<Vec<_>, _>>()?;
                let (n, d) = if parts.len() == 1 && parts[0].shape.len() == 3 {
                    (parts[0].shape[1], parts[0].shape[2])
                } else {
                    (parts.len(), parts[0].shape[1])
                };
                let vec_at = |s: usize, i: usize| -> &[f64] {
                    if parts.len() == 1 && parts[0].shape.len() == 3 {
                        &parts[0].data[(s * n + i) * d..(s * n + i + 1) * d]
                    } else {
                        &parts[i].data[s * d..(s + 1) * d]
                    }
                };
                let pairs = out_shape[1];
                for s in 0..out_shape[0] {
                    let mut p = 0;
                    for i in 0..n {
                        for j in 0..i + usize::from(*self_interaction) {
                            y[s * pairs + p] = vec_at(s, i)
                                .iter()
                                .zip(vec_at(s, j))
                                .map(|(a, b)| a * b)
                                .sum();
                            p += 1;
                        }
                    }
                }
            }
            Op::CrossLayer => {
                let x0 = self.arg(env, ins[0], batch)?;
                let xl = self.arg(env, ins[1], batch)?;
                let v = self.arg(env, ins[2], batch)?;
                let w = self.arg(env, ins[3], batch)?;
                let b = self.arg(env, ins[4], batch)?;
                let (r, d) = (v.shape[0], v.shape[1]);
                for row in 0..n_out / d.max(1) {
                    let xr = &xl.data[row * d..(row + 1) * d];
                    let t: Vec<f64> = (0..r)
                        .map(|q| (0..d).map(|j| v.data[q * d + j] * xr[j]).sum())
                        .collect();
                    for i in 0..d {
                        let u: f64 =
                            b.data[i] + (0..r).map(|q| w.data[i * r + q] * t[q]).sum::<f64>();
                        y[row * d + i] = x0.data[row * d + i] * u + xr[i];
                    }
                }
            }
            Op::LayerNorm { eps } => {
                let x = self.arg(env, ins[0], batch)?;
                let gm = self.arg(env, ins[1], batch)?;
                let bt = self.arg(env, ins[2], batch)?;
                let d = gm.data.len();
                for row in 0..n_out / d.max(1) {
                    let xr = &x.data[row * d..(row + 1) * d];
                    let mean = xr.iter().sum::<f64>() / d as f64;
                    let var = xr.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / d as f64;
                    for j in 0..d {
                        y[row * d + j] = (xr[j] - mean) / (var + f64::from(*eps)).sqrt()
                            * gm.data[j]
                            + bt.data[j];
                    }
                }
            }
            Op::Softmax { axis } => {
                let x = self.arg(env, ins[0], batch)?;
                let st = strides(&out_shape)[*axis];
                for (o, v) in y.iter_mut().enumerate() {
                    let idx = unravel(o, &out_shape);
                    let base = o - idx[*axis] * st;
                    let vals: Vec<f64> = (0..out_shape[*axis])
                        .map(|l| x.data[base + l * st])
                        .collect();
                    let mx = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let sum: f64 = vals.iter().map(|&z| (z - mx).exp()).sum();
                    *v = (x.data[o] - mx).exp() / sum;
                }
            }
            Op::Reduce { kind, axis } => {
                let x = self.arg(env, ins[0], batch)?;
                let len = x.shape[*axis];
                for (o, v) in y.iter_mut().enumerate() {
                    let oi = unravel(o, &out_shape);
                    let vals = (0..len).map(|l| {
                        let mut ii = oi.clone();
                        ii.insert(*axis, l);
                        x.data[ravel(&ii, &x.shape)]
                    });
                    *v = match kind {
                        ReduceKind::Sum => vals.sum(),
                        ReduceKind::Mean => vals.sum::<f64>() / len as f64,
                        ReduceKind::Max => vals.fold(f64::NEG_INFINITY, f64::max),
                    };
                }
            }
            Op::TargetAttention { act: a } => {
                let q = self.arg(env, ins[0], batch)?;
                let k = self.arg(env, ins[1], batch)?;
                let layers = ins[2..]
                    .chunks(2)
                    .map(|p| Ok((self.arg(env, p[0], batch)?, self.arg(env, p[1], batch)?)))
                    .collect::<Result<Vec<_>, Error>>()?;
                let (t_len, d) = (k.shape[1], k.shape[2]);
                for s in 0..out_shape[0] {
                    let qs = &q.data[s * d..(s + 1) * d];
                    for t in 0..t_len {
                        let ks = &k.data[(s * t_len + t) * d..(s * t_len + t + 1) * d];
                        let mut h: Vec<f64> = qs
                            .iter()
                            .copied()
                            .chain(ks.iter().copied())
                            .chain(qs.iter().zip(ks).map(|(a, b)| a - b))
                            .chain(qs.iter().zip(ks).map(|(a, b)| a * b))
                            .collect();
                        for (li, (w, b)) in layers.iter().enumerate() {
                            let (n, kin) = (w.shape[0], w.shape[1]);
                            let last = li + 1 == layers.len();
                            h = (0..n)
                                .map(|j| {
                                    let z = b.data[j]
                                        + (0..kin).map(|l| w.data[j * kin + l] * h[l]).sum::<f64>();
                                    if last { z } else { act(*a, z) }
                                })
                                .collect();
                        }
                        for j in 0..d {
                            y[s * d + j] += h[0] * ks[j];
                        }
                    }
                }
            }
            Op::SeqAttention {
                heads,
                kernel,
                causal,
                scale,
            } => {
                let q = self.arg(env, ins[0], batch)?;
                let k = self.arg(env, ins[1], batch)?;
                let v = self.arg(env, ins[2], batch)?;
                let (n, dq, dv) = (q.shape[1], q.shape[2], v.shape[2]);
                let h = *heads as usize;
                let (hq, hv) = (dq / h, dv / h);
                for s in 0..q.shape[0] {
                    for hh in 0..h {
                        for i in 0..n {
                            let valid = if *causal { i + 1 } else { n };
                            let scores: Vec<f64> = (0..valid)
                                .map(|j| {
                                    f64::from(*scale)
                                        * (0..hq)
                                            .map(|c| {
                                                q.data[(s * n + i) * dq + hh * hq + c]
                                                    * k.data[(s * n + j) * dq + hh * hq + c]
                                            })
                                            .sum::<f64>()
                                })
                                .collect();
                            let p: Vec<f64> = match kernel {
                                AttentionKernel::Softmax => {
                                    let mx =
                                        scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                                    let sum: f64 = scores.iter().map(|z| (z - mx).exp()).sum();
                                    scores.iter().map(|z| (z - mx).exp() / sum).collect()
                                }
                                AttentionKernel::Silu => {
                                    scores.iter().map(|&z| z * sigmoid(z) / n as f64).collect()
                                }
                            };
                            for c in 0..hv {
                                y[(s * n + i) * dv + hh * hv + c] = (0..valid)
                                    .map(|j| p[j] * v.data[(s * n + j) * dv + hh * hv + c])
                                    .sum();
                            }
                        }
                    }
                }
            }
        }
        Ok(vec![F64Tensor {
            shape: out_shape,
            data: y,
        }])
    }
}

fn table_dims(g: &Graph, t: ValueId) -> (u64, usize) {
    let s = &g.ty(t).shape;
    (
        s[0].fixed().unwrap_or(0),
        s[1].fixed().unwrap_or(0) as usize,
    )
}
