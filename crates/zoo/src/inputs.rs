//! Model inputs generated from a graph's own input declarations.
//!
//! The graph says everything shape-related: dense inputs are `f32[B, ...]`; index inputs feed
//! an `EmbeddingBag` or `Embedding` whose table gives the row count, and are either fixed
//! (`i64[B, hotness]`) or ragged (`name: i64[?]` plus `name.offsets: i64[B]`). What the graph
//! cannot say is how users behave, so that comes from [`InputOptions`] (popularity skew, dense
//! distribution) and from one naming convention: inputs whose name starts with `user_` or
//! `user.` describe the user, and are repeated for every candidate of a request. The same
//! rules therefore apply to zoo models and to imported ONNX graphs.

use seedchip_ir::{DType, Dim, Graph, Op, ValueDef, ValueId};

use crate::dense::{DenseDist, DenseSpec};
use crate::request::Request;
use crate::sparse::{Csr, Pooling, Scope, TableSpec};
use crate::workload::{Batch, Workload, WorkloadSpec};
use crate::{Error, TableSampler};

/// Input-generation settings that the graph does not determine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputOptions {
    /// Seed of every generated value.
    pub seed: u64,
    /// Zipf exponent of row popularity for every table (0 = uniform).
    pub alpha: f64,
    /// Distribution of dense features.
    pub dense: DenseDist,
}

impl Default for InputOptions {
    /// Seed 0; α = 1.0, the classic Zipf law (the reference file has no per-table fit, so no
    /// more specific value can be cited); Criteo-like log-count dense features.
    fn default() -> Self {
        Self {
            seed: 0,
            alpha: 1.0,
            dense: DenseDist::default(),
        }
    }
}

/// Element values of a generated input.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// Dense features.
    F32(Vec<f32>),
    /// Indices or offsets declared `i32`.
    I32(Vec<i32>),
    /// Indices or offsets declared `i64`.
    I64(Vec<i64>),
}

impl TensorData {
    /// Number of elements.
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::I32(v) => v.len(),
            Self::I64(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element type.
    #[must_use]
    pub fn dtype(&self) -> DType {
        match self {
            Self::F32(_) => DType::F32,
            Self::I32(_) => DType::I32,
            Self::I64(_) => DType::I64,
        }
    }
}

/// One named input, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct InputTensor {
    /// The graph input's name.
    pub name: String,
    /// Concrete shape (batch resolved).
    pub shape: Vec<u64>,
    /// The values.
    pub data: TensorData,
}

/// How one graph input is produced from a [`Batch`].
#[derive(Debug, Clone)]
enum Binding {
    Dense {
        input: usize,
        slot: usize,
    },
    Fixed {
        input: usize,
        slot: usize,
    },
    Ragged {
        input: usize,
        offsets: usize,
        slot: usize,
    },
}

/// A [`Workload`] shaped after a graph's inputs.
#[derive(Debug, Clone)]
pub struct GraphWorkload {
    workload: Workload,
    names: Vec<String>,
    types: Vec<(DType, Vec<Dim>)>,
    bindings: Vec<Binding>,
}

fn is_user(name: &str) -> bool {
    name.starts_with("user_") || name.starts_with("user.")
}

fn unsupported(input: &str, reason: impl Into<String>) -> Error {
    Error::UnsupportedInput {
        input: input.to_string(),
        reason: reason.into(),
    }
}

/// Lookups of an index input: the tables it indexes, and the offsets value and mean pooling of
/// a ragged bag.
struct Uses {
    tables: Vec<(String, u64)>,
    offsets: Option<ValueId>,
    mean_pooling: Option<f64>,
}

fn uses_of(graph: &Graph, v: ValueId) -> Uses {
    let mut uses = Uses {
        tables: Vec::new(),
        offsets: None,
        mean_pooling: None,
    };
    for node in &graph.nodes {
        let lookup_mean = match &node.op {
            Op::EmbeddingBag { mean_pooling, .. } => Some(*mean_pooling),
            Op::Embedding => Some(None),
            _ => None,
        };
        let Some(mean) = lookup_mean else { continue };
        if node.inputs.get(1) != Some(&v) {
            continue;
        }
        let table = node.inputs[0];
        let rows = graph
            .ty(table)
            .shape
            .first()
            .and_then(|d| d.fixed())
            .unwrap_or(0);
        uses.tables
            .push((graph.value_name(table).to_string(), rows));
        if let Some(&off) = node.inputs.get(2) {
            uses.offsets = Some(off);
            uses.mean_pooling = mean;
        }
    }
    uses
}

fn is_offsets(graph: &Graph, v: ValueId) -> bool {
    graph
        .nodes
        .iter()
        .any(|n| matches!(n.op, Op::EmbeddingBag { .. }) && n.inputs.len() == 3 && n.inputs[2] == v)
}

/// Bag sizes for a ragged input with expected size `mean`: uniform on `0..=round(2·mean)`,
/// whose mean is `mean` rounded to a half.
fn ragged_pooling(mean: f64) -> Pooling {
    Pooling::Uniform {
        min: 0,
        max: (2.0 * mean).round() as u32,
    }
}

impl GraphWorkload {
    /// Plans the generation of every input of `graph`.
    pub fn new(graph: &Graph, options: &InputOptions) -> Result<Self, Error> {
        let mut spec = WorkloadSpec::default();
        let mut bindings = Vec::new();
        let mut names = Vec::new();
        let mut types = Vec::new();
        for (i, &v) in graph.inputs.iter().enumerate() {
            let value = graph.value(v);
            let name = value.name.clone();
            let ty = &value.ty;
            names.push(name.clone());
            types.push((ty.dtype, ty.shape.clone()));
            let scope = if is_user(&name) {
                Scope::User
            } else {
                Scope::Pair
            };
            let per_sample = || -> Result<u64, Error> {
                match ty.shape.split_first() {
                    Some((Dim::Batch, rest)) => rest.iter().try_fold(1u64, |acc, d| match d {
                        Dim::Fixed(n) => Ok(acc * n),
                        _ => Err(unsupported(
                            &name,
                            format!("type {ty}: only B may be symbolic"),
                        )),
                    }),
                    _ => Err(unsupported(
                        &name,
                        format!("type {ty}: the first dimension must be the batch B"),
                    )),
                }
            };
            if ty.dtype == DType::F32 {
                let features = per_sample()?;
                let mut d = DenseSpec::new(name.clone(), features as usize, options.dense);
                d.scope = scope;
                spec.dense.push(d);
                bindings.push(Binding::Dense {
                    input: i,
                    slot: spec.dense.len() - 1,
                });
                continue;
            }
            if !ty.dtype.is_int() {
                return Err(unsupported(
                    &name,
                    format!("type {ty}: generated inputs are f32 features or i32/i64 indices"),
                ));
            }
            if is_offsets(graph, v) {
                continue; // Produced together with its indices.
            }
            let uses = uses_of(graph, v);
            let Some((table, _)) = uses.tables.first().cloned() else {
                return Err(unsupported(
                    &name,
                    "integer input that indexes no embedding table; nothing says what its values mean",
                ));
            };
            let rows = uses.tables.iter().map(|t| t.1).min().unwrap_or(0);
            let max_id = if ty.dtype == DType::I32 {
                i32::MAX as u64
            } else {
                i64::MAX as u64
            };
            if rows > max_id + 1 {
                return Err(unsupported(
                    &name,
                    format!("{rows} rows do not fit the {} indices", ty.dtype),
                ));
            }
            let (pooling, binding) = match uses.offsets {
                None => {
                    let n = per_sample()?;
                    let n = u32::try_from(n).map_err(|_| {
                        unsupported(&name, format!("{n} ids per sample is too many"))
                    })?;
                    (
                        Pooling::Fixed(n),
                        Binding::Fixed {
                            input: i,
                            slot: spec.tables.len(),
                        },
                    )
                }
                Some(off) => {
                    let Some(mean) = uses.mean_pooling else {
                        return Err(unsupported(
                            &name,
                            "ragged bag without a mean_pooling hint: its bag sizes are unknown",
                        ));
                    };
                    let offsets = graph
                        .inputs
                        .iter()
                        .position(|&x| x == off)
                        .filter(|_| matches!(graph.value(off).def, ValueDef::Input(_)))
                        .ok_or_else(|| {
                            unsupported(&name, "its offsets are computed, not a graph input")
                        })?;
                    (
                        ragged_pooling(mean),
                        Binding::Ragged {
                            input: i,
                            offsets,
                            slot: spec.tables.len(),
                        },
                    )
                }
            };
            let mut t = TableSpec::new(name.clone(), rows, pooling, options.alpha).on_table(table);
            t.scope = scope;
            spec.tables.push(t);
            bindings.push(binding);
        }
        Ok(Self {
            workload: Workload::new(spec, options.seed)?,
            names,
            types,
            bindings,
        })
    }

    /// The underlying workload (samplers for statistics, dense specs).
    #[must_use]
    pub fn workload(&self) -> &Workload {
        &self.workload
    }

    /// The sampler behind sparse input `name`.
    #[must_use]
    pub fn sampler(&self, name: &str) -> Option<&TableSampler> {
        self.workload
            .tables()
            .iter()
            .find(|t| t.spec().name == name)
    }

    /// Batch number `batch_index` of `batch_size` independent samples, one tensor per graph
    /// input in graph order.
    #[must_use]
    pub fn batch(&self, batch_index: u64, batch_size: usize) -> Vec<InputTensor> {
        self.tensors(&self.workload.batch(batch_index, batch_size))
    }

    /// The inputs of one request (user-scoped inputs repeated for every candidate).
    #[must_use]
    pub fn request(&self, request: &Request) -> Vec<InputTensor> {
        self.tensors(&self.workload.request_batch(request))
    }

    /// Converts a generated batch into named tensors in graph-input order.
    #[must_use]
    pub fn tensors(&self, batch: &Batch) -> Vec<InputTensor> {
        let b = batch.batch_size as u64;
        let mut out: Vec<Option<InputTensor>> = vec![None; self.names.len()];
        let resolve = |input: usize| -> Vec<u64> {
            self.types[input]
                .1
                .iter()
                .map(|d| d.resolve(b).unwrap_or(0))
                .collect()
        };
        for binding in &self.bindings {
            match *binding {
                Binding::Dense { input, slot } => {
                    out[input] = Some(InputTensor {
                        name: self.names[input].clone(),
                        shape: resolve(input),
                        data: TensorData::F32(batch.dense[slot].clone()),
                    });
                }
                Binding::Fixed { input, slot } => {
                    let csr = &batch.sparse[slot];
                    out[input] = Some(InputTensor {
                        name: self.names[input].clone(),
                        shape: resolve(input),
                        data: ints(self.types[input].0, &csr.indices),
                    });
                }
                Binding::Ragged {
                    input,
                    offsets,
                    slot,
                } => {
                    let csr: &Csr = &batch.sparse[slot];
                    out[input] = Some(InputTensor {
                        name: self.names[input].clone(),
                        shape: vec![csr.indices.len() as u64],
                        data: ints(self.types[input].0, &csr.indices),
                    });
                    // Bag starts only (PyTorch EmbeddingBag without include_last_offset).
                    out[offsets] = Some(InputTensor {
                        name: self.names[offsets].clone(),
                        shape: vec![b],
                        data: ints(self.types[offsets].0, &csr.offsets[..batch.batch_size]),
                    });
                }
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(i, t)| {
                t.unwrap_or_else(|| panic!("graph input {} was not generated", self.names[i]))
            })
            .collect()
    }
}

/// Indices are below the table's rows, checked against the dtype in [`GraphWorkload::new`].
fn ints(dtype: DType, v: &[u64]) -> TensorData {
    if dtype == DType::I32 {
        TensorData::I32(v.iter().map(|&x| x as i32).collect())
    } else {
        TensorData::I64(v.iter().map(|&x| x as i64).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedchip_ir::{GraphBuilder, Pooling as Pool, TensorType};

    #[test]
    fn ragged_inputs_get_offsets_and_mean() {
        let mut b = GraphBuilder::new("ragged");
        let e = b.embedding_bag_ragged("user_hist", 1000, 4, Pool::Sum, 3.0);
        b.output("y", e);
        let g = b.finish().unwrap();
        let w = GraphWorkload::new(&g, &InputOptions::default()).unwrap();
        let t = w.batch(0, 2000);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].name, "user_hist");
        assert_eq!(t[1].name, "user_hist.offsets");
        assert_eq!(t[1].shape, vec![2000]);
        let TensorData::I64(off) = &t[1].data else {
            panic!("i64 offsets")
        };
        assert_eq!(off[0], 0);
        assert!(off.windows(2).all(|w| w[0] <= w[1]));
        // Uniform on 0..=6 has mean 3 and σ = 2; 5σ/√2000 ≈ 0.22.
        let mean = t[0].data.len() as f64 / 2000.0;
        assert!((mean - 3.0).abs() < 0.22, "{mean}");
        assert_eq!(w.workload().tables()[0].spec().scope, Scope::User);
    }

    #[test]
    fn unexplained_integer_inputs_are_errors() {
        let mut b = GraphBuilder::new("odd");
        let x = b.input("mystery", TensorType::batched(DType::I64, &[3]));
        let _ = x;
        let d = b.dense_input("d", 2);
        b.output("y", d);
        let g = b.finish().unwrap();
        let err = GraphWorkload::new(&g, &InputOptions::default()).unwrap_err();
        assert!(err.to_string().contains("mystery"), "{err}");
    }

    #[test]
    fn i32_indices_stay_i32() {
        let mut b = GraphBuilder::new("i32");
        let idx = b.input("ids", TensorType::batched(DType::I32, &[2]));
        let table = b.embedding_table("t", 77, 4);
        let y = b.bag(table, idx, None, Pool::Sum);
        b.output("y", y);
        let g = b.finish().unwrap();
        let w = GraphWorkload::new(&g, &InputOptions::default()).unwrap();
        let t = w.batch(0, 5);
        assert_eq!(t[0].shape, vec![5, 2]);
        let TensorData::I32(v) = &t[0].data else {
            panic!("i32 ids")
        };
        assert!(v.iter().all(|&i| (0..77).contains(&i)));
    }
}
