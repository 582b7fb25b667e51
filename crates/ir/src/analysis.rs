//! Per-sample cost figures for `seedchip model show` and for roofline estimates.
//!
//! "Per sample" means the batch dimension set to 1 (one user-item pair for DLRM models).
//!
//! What counts as dense work (`dense_macs`, FLOPs = 2 × MACs), following the MLPerf and
//! DeepRecSys convention so published numbers can be checked:
//! * linear and matmul: every multiply-accumulate (bias and activation excluded);
//! * dot interaction: `pairs × d`;
//! * DCNv2 cross layer: the two low-rank products, `2 × d × r` per row;
//! * DIN target attention: the activation-unit MLP per (candidate, behaviour) pair plus the
//!   weighted sum (`T × d`);
//! * sequence attention: `q·k` and `score·v` per head for every attended pair (`n(n+1)/2` pairs
//!   when causal, `n²` otherwise).
//!
//! Embedding pooling adds, elementwise ops, bias adds, norms and softmaxes are *vector* work,
//! counted separately (`vector_ops`, one per element per elementwise step) because accelerators
//! run them on different units.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::graph::{Graph, ParamId, ValueDef};
use crate::op::{Activation, AttentionKernel, Op};
use crate::types::{Dim, TensorType};

/// A quantity at the three storage precisions seedchip models.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PerPrecision {
    pub fp32: f64,
    pub fp16: f64,
    pub int8: f64,
}

impl PerPrecision {
    fn from_elems(n: f64) -> Self {
        PerPrecision {
            fp32: 4.0 * n,
            fp16: 2.0 * n,
            int8: n,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableStats {
    pub name: String,
    pub rows: u64,
    pub dim: u64,
    /// Rows read per sample across every op using this table; `None` when a ragged bag has no
    /// `mean_pooling` hint.
    pub lookups_per_sample: Option<f64>,
    /// Bytes at fp32.
    pub bytes_fp32: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpStats {
    /// Name of the (first) result.
    pub name: String,
    pub op: &'static str,
    /// Result type, e.g. `f32[B, 512]`.
    pub output: String,
    /// Elements of dense parameters this op reads (embedding tables excluded).
    pub params: u64,
    pub macs_per_sample: u64,
    pub vector_ops_per_sample: u64,
    pub lookups_per_sample: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStats {
    pub name: String,
    pub nodes: usize,
    pub op_counts: BTreeMap<&'static str, usize>,
    pub inputs: Vec<(String, String)>,
    pub outputs: Vec<(String, String)>,
    /// Parameters that are not embedding tables.
    pub dense_params: u64,
    pub embedding_params: u64,
    pub tables: Vec<TableStats>,
    pub embedding_rows: u64,
    pub embedding_bytes: PerPrecision,
    /// `None` when some ragged bag lacks a pooling hint.
    pub lookups_per_sample: Option<f64>,
    pub gathered_bytes_per_sample: Option<PerPrecision>,
    pub dense_macs_per_sample: u64,
    pub dense_flops_per_sample: u64,
    pub vector_ops_per_sample: u64,
    pub ops: Vec<OpStats>,
}

fn per_sample(t: &TensorType) -> u64 {
    t.shape
        .iter()
        .map(|d| if let Dim::Fixed(n) = d { *n } else { 1 })
        .product()
}

fn last(t: &TensorType) -> u64 {
    t.last_dim().and_then(Dim::fixed).unwrap_or(1)
}

/// Statistics of a verified graph (on an unverified one the numbers may be meaningless but
/// nothing panics).
pub fn stats(g: &Graph) -> ModelStats {
    let mut table_params: BTreeMap<ParamId, Option<f64>> = BTreeMap::new();
    let mut ops = Vec::with_capacity(g.nodes.len());
    let mut op_counts = BTreeMap::new();
    let ty = |v: crate::ValueId| {
        g.values
            .get(v.index())
            .map(|x| x.ty.clone())
            .unwrap_or(TensorType::new(crate::DType::F32, vec![]))
    };
    for node in &g.nodes {
        *op_counts.entry(node.op.name()).or_insert(0usize) += 1;
        let out = node
            .outputs
            .first()
            .map(|&o| ty(o))
            .unwrap_or(TensorType::new(crate::DType::F32, vec![]));
        let out_n = per_sample(&out);
        let ins: Vec<TensorType> = node.inputs.iter().map(|&v| ty(v)).collect();
        let mut lookups = None;
        let (macs, vec_ops) = match &node.op {
            Op::EmbeddingBag { mean_pooling, .. } => {
                let l = if node.inputs.len() == 2 {
                    ins.get(1).map(|t| last(t) as f64)
                } else {
                    *mean_pooling
                };
                lookups = l;
                (0, l.map_or(0, |l| (l * last(&out) as f64) as u64))
            }
            Op::Embedding => {
                lookups = ins.get(1).map(|t| per_sample(t) as f64);
                (0, 0)
            }
            Op::Linear { act } => {
                let k = ins.first().map_or(0, last);
                let extra = u64::from(node.inputs.len() == 3) + u64::from(*act != Activation::None);
                (out_n * k, out_n * extra)
            }
            Op::MatMul { .. } => (out_n * ins.first().map_or(0, last), 0),
            Op::DotInteraction { .. } => {
                let d = ins.first().map_or(0, last);
                (out_n * d, 0)
            }
            Op::CrossLayer => {
                let x0 = ins.first().cloned().unwrap_or(out.clone());
                let r = ins
                    .get(2)
                    .and_then(|v| v.shape.first().copied())
                    .and_then(Dim::fixed)
                    .unwrap_or(0);
                let d = last(&x0);
                let rows = per_sample(&x0) / d.max(1);
                (rows * 2 * d * r, 3 * out_n)
            }
            Op::TargetAttention { .. } => {
                let (d, t) = match ins.get(1) {
                    Some(k) if k.rank() == 3 => (last(k), k.shape[1].fixed().unwrap_or(0)),
                    _ => (0, 0),
                };
                let mlp: u64 = ins[2.min(ins.len())..]
                    .chunks(2)
                    .map(|p| p.first().map_or(0, per_sample))
                    .sum();
                let hidden_out: u64 = ins[2.min(ins.len())..]
                    .chunks(2)
                    .map(|p| {
                        p.first()
                            .and_then(|w| w.shape.first().copied())
                            .and_then(Dim::fixed)
                            .unwrap_or(0)
                    })
                    .sum();
                (t * mlp + t * d, t * (2 * d + 2 * hidden_out))
            }
            Op::SeqAttention {
                heads,
                kernel,
                causal,
                ..
            } => {
                let (n, dq, dv) = match (ins.first(), ins.get(2)) {
                    (Some(q), Some(v)) if q.rank() == 3 && v.rank() == 3 => {
                        (q.shape[1].fixed().unwrap_or(0), last(q), last(v))
                    }
                    _ => (0, 0, 0),
                };
                let pairs = if *causal { n * (n + 1) / 2 } else { n * n };
                let _ = heads; // dq and dv already span all heads
                let per_score = match kernel {
                    AttentionKernel::Softmax => 4,
                    AttentionKernel::Silu => 3,
                };
                (pairs * (dq + dv), pairs * heads * per_score)
            }
            Op::LayerNorm { .. } => (0, 5 * out_n),
            Op::Softmax { .. } => (0, 3 * out_n),
            Op::Unary(_) | Op::Binary(_) => (0, out_n),
            Op::Reduce { .. } => (0, ins.first().map_or(0, per_sample)),
            Op::Concat { .. }
            | Op::Reshape { .. }
            | Op::Flatten { .. }
            | Op::Transpose { .. }
            | Op::Slice { .. }
            | Op::Split { .. } => (0, 0),
        };
        let is_lookup = matches!(node.op, Op::EmbeddingBag { .. } | Op::Embedding);
        let mut params = 0;
        for (k, &v) in node.inputs.iter().enumerate() {
            if let Some(ValueDef::Param(pid)) = g.values.get(v.index()).map(|x| x.def) {
                if is_lookup && k == 0 {
                    let e = table_params.entry(pid).or_insert(Some(0.0));
                    *e = match (*e, lookups) {
                        (Some(a), Some(b)) => Some(a + b),
                        _ => None,
                    };
                } else {
                    params += per_sample(&ty(v));
                }
            }
        }
        ops.push(OpStats {
            name: node
                .outputs
                .first()
                .map_or("", |&o| g.value_name(o))
                .to_string(),
            op: node.op.name(),
            output: out.to_string(),
            params,
            macs_per_sample: macs,
            vector_ops_per_sample: vec_ops,
            lookups_per_sample: lookups,
        });
    }
    let mut tables = Vec::new();
    for (&pid, &l) in &table_params {
        let Some(p) = g.params.get(pid.index()) else {
            continue;
        };
        let t = ty(p.value);
        let (rows, dim) = match t.shape.as_slice() {
            [Dim::Fixed(r), Dim::Fixed(d)] => (*r, *d),
            _ => (0, 0),
        };
        tables.push(TableStats {
            name: g.value_name(p.value).to_string(),
            rows,
            dim,
            lookups_per_sample: l,
            bytes_fp32: rows * dim * 4,
        });
    }
    // Tables in declaration order (param order), which is the model's feature order.
    tables.sort_by_key(|t| g.find_param(&t.name).map_or(usize::MAX, |p| p.index()));
    let total_params: u64 = g.params.iter().map(|p| per_sample(&ty(p.value))).sum();
    let embedding_params: u64 = tables.iter().map(|t| t.rows * t.dim).sum();
    let lookups_per_sample = tables
        .iter()
        .map(|t| t.lookups_per_sample)
        .sum::<Option<f64>>();
    let gathered = tables
        .iter()
        .map(|t| t.lookups_per_sample.map(|l| l * t.dim as f64))
        .sum::<Option<f64>>()
        .map(PerPrecision::from_elems);
    let dense_macs: u64 = ops.iter().map(|o| o.macs_per_sample).sum();
    ModelStats {
        name: g.name.clone(),
        nodes: g.nodes.len(),
        op_counts,
        inputs: g
            .inputs
            .iter()
            .map(|&v| (g.value_name(v).to_string(), ty(v).to_string()))
            .collect(),
        outputs: g
            .outputs
            .iter()
            .map(|o| (o.name.clone(), ty(o.value).to_string()))
            .collect(),
        dense_params: total_params.saturating_sub(embedding_params),
        embedding_params,
        embedding_rows: tables.iter().map(|t| t.rows).sum(),
        embedding_bytes: PerPrecision::from_elems(embedding_params as f64),
        tables,
        lookups_per_sample,
        gathered_bytes_per_sample: gathered,
        dense_macs_per_sample: dense_macs,
        dense_flops_per_sample: 2 * dense_macs,
        vector_ops_per_sample: ops.iter().map(|o| o.vector_ops_per_sample).sum(),
        ops,
    }
}
