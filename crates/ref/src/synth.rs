//! Uniform synthetic inputs for any graph.
//!
//! Enough to exercise a model (tests, benchmarks, `infer` without `--inputs`): dense features
//! uniform in [0, 1), indices uniform over the rows of the table they address, ragged bag
//! lengths uniform in `[0, 2·mean_pooling]`. Realistic popularity skew (Zipf) and candidate
//! counts are the zoo's workload generators' job. Values are a pure function of
//! `(seed, input name, element)`, like the weights.

use std::collections::BTreeMap;

use seedchip_ir::init::{fnv1a64, mix64};
use seedchip_ir::{DType, Dim, Graph, Op, ValueId};

use crate::Error;
use crate::tensor::Tensor;

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

struct Stream(u64);

impl Stream {
    fn new(seed: u64, name: &str) -> Self {
        Stream(mix64(seed ^ mix64(fnv1a64(name))))
    }

    fn at(&self, i: u64) -> u64 {
        mix64(self.0.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA)))
    }

    fn unit(&self, i: u64) -> f32 {
        (self.at(i) >> 40) as f32 * (1.0 / 16_777_216.0)
    }
}

fn table_rows(g: &Graph, table: ValueId) -> u64 {
    g.ty(table)
        .shape
        .first()
        .and_then(|d| d.fixed())
        .unwrap_or(1)
}

pub fn synthetic_inputs(
    g: &Graph,
    batch: usize,
    seed: u64,
) -> Result<BTreeMap<String, Tensor>, Error> {
    if batch == 0 {
        return Err(Error::EmptyBatch);
    }
    // Rows addressable by each index input (the smallest table it indexes), and ragged pairs.
    let mut rows: BTreeMap<ValueId, u64> = BTreeMap::new();
    let mut ragged: BTreeMap<ValueId, (ValueId, f64)> = BTreeMap::new(); // offsets -> (indices, mean)
    for n in &g.nodes {
        match &n.op {
            Op::EmbeddingBag { .. } | Op::Embedding if n.inputs.len() >= 2 => {
                let r = table_rows(g, n.inputs[0]);
                let e = rows.entry(n.inputs[1]).or_insert(r);
                *e = (*e).min(r);
                if let (Op::EmbeddingBag { mean_pooling, .. }, Some(&off)) =
                    (&n.op, n.inputs.get(2))
                {
                    ragged
                        .entry(off)
                        .or_insert((n.inputs[1], mean_pooling.unwrap_or(1.0)));
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    let mut ragged_len: BTreeMap<ValueId, usize> = BTreeMap::new();
    // Offsets first, so their index lists know their lengths.
    for (&off, &(idx, mean)) in &ragged {
        let name = g.value_name(off);
        let s = Stream::new(seed, name);
        let mut offsets = Vec::with_capacity(batch);
        let mut total = 0i64;
        for b in 0..batch {
            offsets.push(total);
            total += (s.unit(b as u64) * (2.0 * mean as f32 + 1.0)) as i64;
        }
        ragged_len.entry(idx).or_insert(total as usize);
        out.insert(
            name.to_string(),
            index_tensor(g.ty(off).dtype, vec![batch], offsets),
        );
    }
    for &v in &g.inputs {
        let name = g.value_name(v);
        if out.contains_key(name) {
            continue;
        }
        let ty = g.ty(v);
        let mut shape = Vec::with_capacity(ty.rank());
        for d in &ty.shape {
            shape.push(match d {
                Dim::Batch => batch,
                Dim::Fixed(n) => *n as usize,
                Dim::Dyn => *ragged_len.get(&v).ok_or_else(|| Error::Unsupported {
                    node: format!("input %{name}"),
                    message: "cannot synthesize a `?` dimension that is not the index list of a ragged embedding bag".into(),
                })?,
            });
        }
        let n: usize = shape.iter().product();
        let s = Stream::new(seed, name);
        let t = match ty.dtype {
            DType::F32 => Tensor::from_f32(shape, (0..n as u64).map(|i| s.unit(i)).collect()),
            DType::I32 | DType::I64 => {
                let mut r = rows.get(&v).copied().unwrap_or(1).max(1);
                if ty.dtype == DType::I32 {
                    r = r.min(i32::MAX as u64);
                }
                Some(index_tensor(
                    ty.dtype,
                    shape,
                    (0..n as u64).map(|i| (s.at(i) % r) as i64).collect(),
                ))
            }
            other => {
                return Err(Error::Unsupported {
                    node: format!("input %{name}"),
                    message: format!("cannot synthesize {other} inputs"),
                });
            }
        };
        out.insert(
            name.to_string(),
            t.ok_or_else(|| Error::Internal(format!("synthetic input {name} has the wrong size")))?,
        );
    }
    Ok(out)
}

fn index_tensor(dtype: DType, shape: Vec<usize>, v: Vec<i64>) -> Tensor {
    let t = if dtype == DType::I32 {
        Tensor::from_i32(shape, v.into_iter().map(|x| x as i32).collect())
    } else {
        Tensor::from_i64(shape, v)
    };
    t.expect("index tensor length matches its shape")
}
