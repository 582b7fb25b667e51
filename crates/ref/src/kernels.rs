//! f32 kernels.
//!
//! Determinism rule: work is cut into tiles whose boundaries depend only on shapes, never on the
//! thread count, and every output element is produced by exactly one tile with a fixed
//! summation order. Rayon then only decides *who* computes a tile, so 1 and N threads give
//! identical bits.

use rayon::prelude::*;
use seedchip_ir::init::{ParamValues, Procedural};
use seedchip_ir::{Activation, AttentionKernel, BinaryOp, Pooling, ReduceKind, UnaryOp};

use crate::gemm::{PackedB, gemm_serial, gemm_wt};

/// Samples per task in per-sample kernels (bags, interactions, attention).
const SAMPLE_TILE: usize = 16;
/// Elements per task in elementwise kernels.
const ELEM_TILE: usize = 1 << 14;

// ---------------------------------------------------------------------------------------------
// Scalar functions. libm (a pure-Rust musl port) instead of the platform's libm, so results do
// not depend on the C library the binary links.

#[inline]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

#[inline]
pub fn unary(op: UnaryOp, x: f32) -> f32 {
    match op {
        // `x < 0` keeps NaN as NaN, as PyTorch does.
        UnaryOp::Relu => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        UnaryOp::Sigmoid => sigmoid(x),
        UnaryOp::Tanh => libm::tanhf(x),
        UnaryOp::Gelu => 0.5 * x * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2)),
        UnaryOp::Silu => x * sigmoid(x),
        UnaryOp::Neg => -x,
        UnaryOp::Exp => libm::expf(x),
    }
}

#[inline]
pub fn activation(act: Activation, x: f32) -> f32 {
    match act.unary() {
        Some(u) => unary(u, x),
        None => x,
    }
}

/// Dot product with 8 independent partial sums combined in a fixed order: vectorizes, and the
/// order never changes.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; 8];
    let chunks = n / 8;
    for c in 0..chunks {
        let (x, y) = (&a[c * 8..c * 8 + 8], &b[c * 8..c * 8 + 8]);
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0f32;
    for i in chunks * 8..n {
        tail += a[i] * b[i];
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

// ---------------------------------------------------------------------------------------------
// GEMM (the kernel itself is in `crate::gemm`)

/// Batched `y[i] = a[i] · b[i]` (or `b[i]ᵀ`), one task per matrix.
#[allow(clippy::too_many_arguments)]
pub fn batched_matmul(
    a: &[f32],
    b: &[f32],
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    transpose_b: bool,
    y: &mut [f32],
) {
    y.par_chunks_mut((m * n).max(1))
        .enumerate()
        .take(batch)
        .for_each(|(i, yc)| {
            let bs = &b[i * k * n..(i + 1) * k * n];
            let pb = if transpose_b {
                PackedB::transposed(bs, k, n, k)
            } else {
                PackedB::row_major(bs, n, k, n)
            };
            gemm_serial(
                &a[i * m * k..(i + 1) * m * k],
                k,
                m,
                &pb,
                None,
                Activation::None,
                yc,
                n,
            );
        });
}

// ---------------------------------------------------------------------------------------------
// Elementwise

pub fn unary_inplace(op: UnaryOp, x: &mut [f32]) {
    x.par_chunks_mut(ELEM_TILE)
        .for_each(|c| c.iter_mut().for_each(|v| *v = unary(op, *v)));
}

#[inline]
fn binary_scalar(op: BinaryOp, a: f32, b: f32) -> f32 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Sub => a - b,
        BinaryOp::Mul => a * b,
        BinaryOp::Div => a / b,
    }
}

/// Row-major strides of `shape` broadcast to `out` (right-aligned; 0 where broadcast).
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let r = out.len();
    let mut strides = vec![0; r];
    let mut s = 1;
    for (i, &d) in shape.iter().enumerate().rev() {
        let o = r - shape.len() + i;
        strides[o] = if d == 1 && out[o] != 1 { 0 } else { s };
        s *= d;
    }
    strides
}

pub fn binary(
    op: BinaryOp,
    a: &[f32],
    ashape: &[usize],
    b: &[f32],
    bshape: &[usize],
    out_shape: &[usize],
    y: &mut [f32],
) {
    if ashape == bshape {
        y.par_chunks_mut(ELEM_TILE).enumerate().for_each(|(t, c)| {
            let o = t * ELEM_TILE;
            for (i, v) in c.iter_mut().enumerate() {
                *v = binary_scalar(op, a[o + i], b[o + i]);
            }
        });
        return;
    }
    let r = out_shape.len();
    let last = out_shape.last().copied().unwrap_or(1).max(1);
    let sa = broadcast_strides(ashape, out_shape);
    let sb = broadcast_strides(bshape, out_shape);
    let (la, lb) = (
        sa.last().copied().unwrap_or(0),
        sb.last().copied().unwrap_or(0),
    );
    let rows_per_task = (ELEM_TILE / last).max(1);
    y.par_chunks_mut(rows_per_task * last)
        .enumerate()
        .for_each(|(t, chunk)| {
            for (ri, row) in chunk.chunks_mut(last).enumerate() {
                // Decompose the row index into the leading coordinates.
                let mut rem = t * rows_per_task + ri;
                let (mut oa, mut ob) = (0usize, 0usize);
                for d in (0..r.saturating_sub(1)).rev() {
                    let c = rem % out_shape[d];
                    rem /= out_shape[d];
                    oa += c * sa[d];
                    ob += c * sb[d];
                }
                for (j, v) in row.iter_mut().enumerate() {
                    *v = binary_scalar(op, a[oa + j * la], b[ob + j * lb]);
                }
            }
        });
}

// ---------------------------------------------------------------------------------------------
// Data movement

/// `outer × [pieces...]` concatenation: piece `i` contributes `widths[i]` contiguous elements
/// per outer index.
pub fn concat(inputs: &[&[f32]], widths: &[usize], outer: usize, y: &mut [f32]) {
    let total: usize = widths.iter().sum();
    if total == 0 {
        return;
    }
    let rows = (ELEM_TILE / total).max(1);
    y.par_chunks_mut(rows * total)
        .enumerate()
        .for_each(|(t, chunk)| {
            for (ri, row) in chunk.chunks_mut(total).enumerate() {
                let o = t * rows + ri;
                if o >= outer {
                    break;
                }
                let mut at = 0;
                for (x, &w) in inputs.iter().zip(widths) {
                    row[at..at + w].copy_from_slice(&x[o * w..(o + 1) * w]);
                    at += w;
                }
            }
        });
}

/// Copies `[start, start + len)` of a middle axis: input rows of `width` elements, `outer` of
/// them, each row holding `axis_len × inner`.
pub fn slice(
    x: &[f32],
    outer: usize,
    axis_len: usize,
    inner: usize,
    start: usize,
    len: usize,
    y: &mut [f32],
) {
    let w = len * inner;
    if w == 0 {
        return;
    }
    let rows = (ELEM_TILE / w).max(1);
    y.par_chunks_mut(rows * w)
        .enumerate()
        .for_each(|(t, chunk)| {
            for (ri, row) in chunk.chunks_mut(w).enumerate() {
                let o = t * rows + ri;
                if o >= outer {
                    break;
                }
                let src = o * axis_len * inner + start * inner;
                row.copy_from_slice(&x[src..src + w]);
            }
        });
}

pub fn transpose(x: &[f32], shape: &[usize], perm: &[usize], y: &mut [f32]) {
    let r = shape.len();
    let mut in_strides = vec![1usize; r];
    for i in (0..r.saturating_sub(1)).rev() {
        in_strides[i] = in_strides[i + 1] * shape[i + 1];
    }
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let last = out_shape.last().copied().unwrap_or(1).max(1);
    let ls = strides.last().copied().unwrap_or(1);
    let rows = (ELEM_TILE / last).max(1);
    y.par_chunks_mut(rows * last)
        .enumerate()
        .for_each(|(t, chunk)| {
            for (ri, row) in chunk.chunks_mut(last).enumerate() {
                let mut rem = t * rows + ri;
                let mut base = 0;
                for d in (0..r.saturating_sub(1)).rev() {
                    base += (rem % out_shape[d]) * strides[d];
                    rem /= out_shape[d];
                }
                for (j, v) in row.iter_mut().enumerate() {
                    *v = x[base + j * ls];
                }
            }
        });
}

// ---------------------------------------------------------------------------------------------
// Embeddings

/// Where an embedding table's rows come from.
#[derive(Debug, Clone, Copy)]
pub enum Table<'a> {
    Dense(&'a [f32]),
    Procedural(&'a Procedural),
    /// Rows read from a file on demand.
    Values(&'a ParamValues),
}

impl Table<'_> {
    /// Row `r` into `scratch` (or borrowed directly for dense tables).
    #[inline]
    fn row<'s>(
        &'s self,
        r: u64,
        dim: usize,
        scratch: &'s mut [f32],
    ) -> Result<&'s [f32], seedchip_ir::Error> {
        match self {
            Table::Dense(d) => {
                let s = r as usize * dim;
                Ok(&d[s..s + dim])
            }
            Table::Procedural(p) => {
                p.fill(r * dim as u64, scratch);
                Ok(scratch)
            }
            Table::Values(v) => {
                v.fill_row(r, scratch)?;
                Ok(scratch)
            }
        }
    }
}

/// Pooled bags. `ranges[b]` is the index range of bag `b` in `idx`; indices are validated by the
/// caller.
pub fn embedding_bag(
    table: Table<'_>,
    dim: usize,
    idx: &[i64],
    ranges: &[(usize, usize)],
    pooling: Pooling,
    y: &mut [f32],
) -> Result<(), seedchip_ir::Error> {
    if dim == 0 {
        return Ok(());
    }
    y.par_chunks_mut(SAMPLE_TILE * dim)
        .enumerate()
        .try_for_each(|(t, chunk)| {
            let mut scratch = vec![0.0f32; dim];
            for (si, out) in chunk.chunks_mut(dim).enumerate() {
                let (lo, hi) = ranges[t * SAMPLE_TILE + si];
                if let (Table::Dense(d), Pooling::Sum | Pooling::Mean) = (table, pooling) {
                    crate::gemm::bag_sum(d, dim, &idx[lo..hi], out);
                    if pooling == Pooling::Mean && hi > lo {
                        let c = (hi - lo) as f32;
                        out.iter_mut().for_each(|o| *o /= c);
                    }
                    continue;
                }
                out.fill(0.0);
                for (n, &r) in idx[lo..hi].iter().enumerate() {
                    let row = table.row(r as u64, dim, &mut scratch)?;
                    match pooling {
                        Pooling::Sum | Pooling::Mean => {
                            out.iter_mut().zip(row).for_each(|(o, v)| *o += v)
                        }
                        Pooling::Max if n == 0 => out.copy_from_slice(row),
                        Pooling::Max => out.iter_mut().zip(row).for_each(|(o, &v)| {
                            if v > *o {
                                *o = v
                            }
                        }),
                    }
                }
                if pooling == Pooling::Mean && hi > lo {
                    let c = (hi - lo) as f32;
                    out.iter_mut().for_each(|o| *o /= c);
                }
            }
            Ok(())
        })
}

/// Unpooled lookup: one row per index.
pub fn embedding(
    table: Table<'_>,
    dim: usize,
    idx: &[i64],
    y: &mut [f32],
) -> Result<(), seedchip_ir::Error> {
    if dim == 0 {
        return Ok(());
    }
    y.par_chunks_mut(SAMPLE_TILE * dim)
        .enumerate()
        .try_for_each(|(t, chunk)| {
            let mut scratch = vec![0.0f32; dim];
            for (i, out) in chunk.chunks_mut(dim).enumerate() {
                let row = table.row(idx[t * SAMPLE_TILE + i] as u64, dim, &mut scratch)?;
                out.copy_from_slice(row);
            }
            Ok(())
        })
}

// ---------------------------------------------------------------------------------------------
// Recommendation-specific ops

/// DLRM dot interaction. `feature(s, i)` returns vector `i` of sample `s`.
pub fn dot_interaction<'a>(
    feature: &(dyn Fn(usize, usize) -> &'a [f32] + Sync),
    n: usize,
    self_interaction: bool,
    pairs: usize,
    y: &mut [f32],
) {
    if pairs == 0 {
        return;
    }
    y.par_chunks_mut(SAMPLE_TILE * pairs)
        .enumerate()
        .for_each(|(t, chunk)| {
            crate::gemm::pair_dots(feature, n, self_interaction, t * SAMPLE_TILE, pairs, chunk)
        });
}

/// DCNv2 low-rank cross layer on rows of width `d`: `x0 ⊙ (w·(v·xl) + b) + xl`, as two
/// [`gemm`]s against the packed `vᵀ` (`d × r`) and `wᵀ` (`r × d`), the elementwise tail fused
/// into the second while its rows are in cache.
/// `raw` holds `v` (`[r, d]`) and `w` (`[d, r]`) as stored, when they are parameters.
pub fn cross_layer(
    x0: &[f32],
    xl: &[f32],
    v_t: &PackedB,
    w_t: &PackedB,
    raw: (Option<&[f32]>, Option<&[f32]>),
    b: &[f32],
    y: &mut [f32],
) {
    let (d, r) = (v_t.k(), v_t.n());
    if d == 0 {
        return;
    }
    let m = y.len() / d;
    let mut t = vec![0.0f32; m * r];
    gemm_wt(xl, d, m, v_t, raw.0, None, Activation::None, &mut t, None);
    let tail = |i0: usize, rows: &mut [f32]| {
        let o = i0 * d;
        let (x0, xl) = (&x0[o..o + rows.len()], &xl[o..o + rows.len()]);
        for ((u, &a), &c) in rows.iter_mut().zip(x0).zip(xl) {
            *u = a * *u + c;
        }
    };
    gemm_wt(
        &t,
        r,
        m,
        w_t,
        raw.1,
        Some(b),
        Activation::None,
        y,
        Some(&tail),
    );
}

pub fn layer_norm(x: &[f32], d: usize, gamma: &[f32], beta: &[f32], eps: f32, y: &mut [f32]) {
    if d == 0 {
        return;
    }
    let rows = (ELEM_TILE / d).max(1);
    y.par_chunks_mut(rows * d)
        .enumerate()
        .for_each(|(t, chunk)| {
            for (ri, out) in chunk.chunks_mut(d).enumerate() {
                let row = &x[(t * rows + ri) * d..][..d];
                // Row statistics in f64: cheap, and keeps large-mean rows accurate.
                let mean = row.iter().map(|&v| f64::from(v)).sum::<f64>() / d as f64;
                let var = row
                    .iter()
                    .map(|&v| (f64::from(v) - mean).powi(2))
                    .sum::<f64>()
                    / d as f64;
                let inv = (1.0 / (var + f64::from(eps)).sqrt()) as f32;
                let mean = mean as f32;
                for j in 0..d {
                    out[j] = (row[j] - mean) * inv * gamma[j] + beta[j];
                }
            }
        });
}

/// Softmax over the middle axis of `outer × len × inner`.
pub fn softmax(x: &[f32], outer: usize, len: usize, inner: usize, y: &mut [f32]) {
    let block = len * inner;
    if block == 0 {
        return;
    }
    y.par_chunks_mut(block)
        .enumerate()
        .take(outer)
        .for_each(|(o, out)| {
            let xin = &x[o * block..(o + 1) * block];
            for i in 0..inner {
                let mut mx = f32::NEG_INFINITY;
                for l in 0..len {
                    mx = mx.max(xin[l * inner + i]);
                }
                let mut sum = 0.0f32;
                for l in 0..len {
                    let e = libm::expf(xin[l * inner + i] - mx);
                    out[l * inner + i] = e;
                    sum += e;
                }
                for l in 0..len {
                    out[l * inner + i] /= sum;
                }
            }
        });
}

pub fn reduce(kind: ReduceKind, x: &[f32], outer: usize, len: usize, inner: usize, y: &mut [f32]) {
    if inner == 0 {
        return;
    }
    y.par_chunks_mut(inner)
        .enumerate()
        .take(outer)
        .for_each(|(o, out)| {
            let xin = &x[o * len * inner..(o + 1) * len * inner];
            for (i, v) in out.iter_mut().enumerate() {
                let mut acc = match kind {
                    ReduceKind::Max => f32::NEG_INFINITY,
                    _ => 0.0,
                };
                for l in 0..len {
                    let e = xin[l * inner + i];
                    match kind {
                        ReduceKind::Max => {
                            if e > acc || e.is_nan() {
                                acc = e
                            }
                        }
                        _ => acc += e,
                    }
                }
                if kind == ReduceKind::Mean {
                    acc /= len as f32;
                }
                *v = acc;
            }
        });
}

/// DIN target attention over `batch` samples (see `seedchip_ir::Op::TargetAttention`).
/// `layers` are `(wᵀ packed, b [out])` with the last of width 1.
pub fn target_attention(
    q: &[f32],
    keys: &[f32],
    t_len: usize,
    d: usize,
    layers: &[(&PackedB, &[f32])],
    act: Activation,
    y: &mut [f32],
) {
    if d == 0 {
        return;
    }
    y.par_chunks_mut(SAMPLE_TILE * d)
        .enumerate()
        .for_each(|(t, chunk)| {
            let samples = chunk.len() / d;
            let s0 = t * SAMPLE_TILE;
            let rows = samples * t_len;
            // Activation-unit input [q, k, q - k, q ⊙ k] for every (sample, behaviour) pair.
            let mut feat = vec![0.0f32; rows * 4 * d];
            for s in 0..samples {
                let qs = &q[(s0 + s) * d..][..d];
                for tt in 0..t_len {
                    let k = &keys[((s0 + s) * t_len + tt) * d..][..d];
                    let f = &mut feat[(s * t_len + tt) * 4 * d..][..4 * d];
                    for j in 0..d {
                        f[j] = qs[j];
                        f[d + j] = k[j];
                        f[2 * d + j] = qs[j] - k[j];
                        f[3 * d + j] = qs[j] * k[j];
                    }
                }
            }
            let mut h = feat;
            let mut width = 4 * d;
            for (li, &(w, b)) in layers.iter().enumerate() {
                let out_w = w.n();
                let mut next = vec![0.0f32; rows * out_w];
                let a_act = if li + 1 == layers.len() {
                    Activation::None
                } else {
                    act
                };
                gemm_serial(&h, width, rows, w, Some(b), a_act, &mut next, out_w);
                h = next;
                width = out_w;
            }
            for (s, out) in chunk.chunks_mut(d).enumerate() {
                out.fill(0.0);
                for tt in 0..t_len {
                    let score = h[s * t_len + tt];
                    let k = &keys[((s0 + s) * t_len + tt) * d..][..d];
                    out.iter_mut().zip(k).for_each(|(o, &kv)| *o += score * kv);
                }
            }
        });
}

/// Multi-head attention core for `batch` samples of `n` tokens.
#[allow(clippy::too_many_arguments)]
pub fn seq_attention(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    n: usize,
    heads: usize,
    dq: usize,
    dv: usize,
    kernel: AttentionKernel,
    causal: bool,
    scale: f32,
    y: &mut [f32],
) {
    let (hq, hv) = (dq / heads, dv / heads);
    if n * dv == 0 {
        return;
    }
    y.par_chunks_mut(n * dv).enumerate().for_each(|(s, out)| {
        let qs = &q[s * n * dq..(s + 1) * n * dq];
        let ks = &k[s * n * dq..(s + 1) * n * dq];
        let vs = &v[s * n * dv..(s + 1) * n * dv];
        let mut scores = vec![0.0f32; n * n];
        for h in 0..heads {
            // scores = q_h · k_hᵀ (head h is columns h·hq.. of every token's row).
            let kh_t = PackedB::transposed(&ks[h * hq..], dq, n, hq);
            gemm_serial(
                &qs[h * hq..],
                dq,
                n,
                &kh_t,
                None,
                Activation::None,
                &mut scores,
                n,
            );
            for i in 0..n {
                let row = &mut scores[i * n..(i + 1) * n];
                let valid = if causal { i + 1 } else { n };
                match kernel {
                    AttentionKernel::Softmax => {
                        let mut mx = f32::NEG_INFINITY;
                        for x in &mut row[..valid] {
                            *x *= scale;
                            mx = mx.max(*x);
                        }
                        let mut sum = 0.0f32;
                        for x in &mut row[..valid] {
                            *x = libm::expf(*x - mx);
                            sum += *x;
                        }
                        for x in &mut row[..valid] {
                            *x /= sum;
                        }
                    }
                    AttentionKernel::Silu => {
                        let inv_n = 1.0 / n as f32;
                        for x in &mut row[..valid] {
                            let z = *x * scale;
                            *x = z * sigmoid(z) * inv_n;
                        }
                    }
                }
                row[valid..].fill(0.0);
            }
            // out_h = scores · v_h, written into columns h·hv.. of every token's row.
            let vh = PackedB::row_major(&vs[h * hv..], dv, n, hv);
            gemm_serial(
                &scores,
                n,
                n,
                &vh,
                None,
                Activation::None,
                &mut out[h * hv..],
                dv,
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::gemm;

    #[test]
    fn dot_matches_naive() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos()).collect();
        let naive: f64 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        assert!((f64::from(dot(&a, &b)) - naive).abs() < 1e-5);
    }

    #[test]
    fn unary_edge_cases() {
        assert!(unary(UnaryOp::Relu, f32::NAN).is_nan());
        assert_eq!(unary(UnaryOp::Relu, -0.5), 0.0);
        assert_eq!(unary(UnaryOp::Sigmoid, -1000.0), 0.0);
        assert_eq!(unary(UnaryOp::Sigmoid, 1000.0), 1.0);
        assert!((unary(UnaryOp::Gelu, 1.0) - 0.841_344_7).abs() < 1e-6);
    }

    #[test]
    fn gemm_tiles_cover_everything() {
        for &(m, k, n) in &[
            (1, 3, 300),
            (5, 0, 4),
            (300, 7, 5),
            (513, 2, 3),
            (9, 700, 33),
        ] {
            let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 - 3.0).collect();
            let w: Vec<f32> = (0..n * k).map(|i| (i % 5) as f32 * 0.5).collect();
            let bias: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let mut y = vec![f32::NAN; m * n];
            let pw = PackedB::transposed(&w, k, n, k);
            gemm(&a, k, m, &pw, Some(&bias), Activation::Relu, &mut y, None);
            for i in 0..m {
                for j in 0..n {
                    // Small integers and halves: every order of summation is exact.
                    let mut s = 0.0f32;
                    for l in 0..k {
                        s += a[i * k + l] * w[j * k + l];
                    }
                    assert_eq!(
                        y[i * n + j],
                        (s + bias[j]).max(0.0),
                        "({m},{k},{n}) at {i},{j}"
                    );
                }
            }
        }
    }
}
