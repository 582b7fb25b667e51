//! The executor: binds inputs, walks the graph in topological order, frees values after their
//! last use.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;

use seedchip_ir::init::ParamValues;
use seedchip_ir::{DType, Dim, Graph, NodeId, Op, ValueDef, ValueId};

use crate::Error;
use crate::gemm::{self, PackedB};
use crate::kernels::{self, Table};
use crate::tensor::{Tensor, TensorData};

#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads; `None` uses rayon's global pool (one per core). Results do not depend
    /// on it.
    pub threads: Option<usize>,
    /// Embedding tables up to this size (fp32 bytes) are materialized for faster lookups;
    /// larger ones stay procedural (or on disk). Other parameters are always materialized.
    pub materialize_table_bytes: u64,
    /// Directory that relative weight-file paths are resolved against.
    pub base_dir: Option<PathBuf>,
    /// Accept NaN/inf in f32 inputs (rejected by default: they are almost always a data bug).
    pub allow_non_finite: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: None,
            materialize_table_bytes: 64 << 20,
            base_dir: None,
            allow_non_finite: false,
        }
    }
}

pub(crate) enum Store {
    Dense(Vec<f32>),
    Rows(ParamValues),
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Store::Dense(d) => write!(f, "Dense({} values)", d.len()),
            Store::Rows(p) => write!(f, "Rows({} x {})", p.rows(), p.row_len()),
        }
    }
}

/// Wall time of each node of one run, in execution order ([`Executor::run_profiled`]).
pub type NodeTimes = Vec<(NodeId, std::time::Duration)>;

/// A prepared graph, reusable across batches.
#[derive(Debug)]
pub struct Executor {
    graph: Graph,
    order: Vec<NodeId>,
    stores: Vec<Store>,
    /// GEMM right-hand operands packed once: (parameter, as its transpose) → panels.
    packed: BTreeMap<(usize, bool), PackedB>,
    last_use: Vec<usize>,
    keep: Vec<bool>,
    pool: Option<rayon::ThreadPool>,
    allow_non_finite: bool,
    /// f32 buffers of values freed in earlier runs (or earlier in this one), reused for new
    /// outputs: a fresh multi-megabyte `vec![0.0; n]` per op and run costs page faults and
    /// kernel page clearing (~15 % of a large-batch run); a reused one only a memset.
    buffers: BufferPool,
}

/// Free f32 buffers, best fit on take; bounded so an executor keeps at most
/// [`BufferPool::MAX`] of them between runs. Reuse changes no result: every taken buffer is
/// zero-filled exactly like a fresh one.
#[derive(Debug, Default)]
struct BufferPool(std::sync::Mutex<Vec<Vec<f32>>>);

impl BufferPool {
    const MAX: usize = 32;

    /// A zeroed buffer of `n` floats.
    fn take(&self, n: usize) -> Vec<f32> {
        let found = {
            let mut free = self.0.lock().unwrap_or_else(|e| e.into_inner());
            free.iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= n)
                .min_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)
                .map(|i| free.swap_remove(i))
        };
        match found {
            Some(mut b) => {
                b.clear();
                b.resize(n, 0.0);
                b
            }
            None => vec![0.0; n],
        }
    }

    /// Returns a value's storage to the pool (f32 tensors the run owns; anything else drops).
    fn give(&self, t: Option<Cow<'_, Tensor>>) {
        if let Some(Cow::Owned(t)) = t
            && let TensorData::F32(b) = t.into_data()
        {
            self.give_vec(b);
        }
    }

    fn give_vec(&self, b: Vec<f32>) {
        if b.capacity() > 0 {
            let mut free = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if free.len() < Self::MAX {
                free.push(b);
            } else if let Some(small) = free.iter_mut().min_by_key(|x| x.capacity())
                && small.capacity() < b.capacity()
            {
                *small = b;
            }
        }
    }
}

/// Inputs checked against the graph: the batch size and each input's tensor.
pub(crate) struct Bound<'a> {
    pub batch: usize,
    pub tensors: Vec<&'a Tensor>,
}

/// Checks names, dtypes, shapes and values of `inputs` against the graph's declared inputs.
pub(crate) fn bind<'a>(
    g: &Graph,
    inputs: &'a BTreeMap<String, Tensor>,
    allow_non_finite: bool,
) -> Result<Bound<'a>, Error> {
    let names: Vec<&str> = g.inputs.iter().map(|&v| g.value_name(v)).collect();
    for k in inputs.keys() {
        if !names.contains(&k.as_str()) {
            return Err(Error::UnknownInput {
                name: k.clone(),
                expected: names.join(", "),
            });
        }
    }
    let mut batch: Option<(usize, &str)> = None;
    let mut tensors = Vec::with_capacity(names.len());
    for &v in &g.inputs {
        let name = g.value_name(v);
        let ty = g.ty(v);
        let t = inputs.get(name).ok_or_else(|| Error::MissingInput {
            name: name.to_string(),
            ty: ty.to_string(),
        })?;
        let type_err = || Error::InputType {
            name: name.to_string(),
            expected: ty.to_string(),
            got: format!("{}{}", t.dtype(), t.shape_text()),
        };
        let dtype_ok = match ty.dtype {
            DType::F32 => t.dtype() == DType::F32,
            // Both index widths are accepted for either declared width: widening is lossless
            // and numpy users pick either.
            DType::I32 | DType::I64 => matches!(t.dtype(), DType::I32 | DType::I64),
            DType::F16 | DType::BF16 => false,
        };
        if !dtype_ok || t.shape().len() != ty.rank() {
            return Err(type_err());
        }
        for (d, &n) in ty.shape.iter().zip(t.shape()) {
            match *d {
                Dim::Fixed(f) if f != n as u64 => return Err(type_err()),
                Dim::Batch => match batch {
                    None => batch = Some((n, name)),
                    Some((b, first)) if b != n => {
                        return Err(Error::BatchMismatch {
                            name: name.to_string(),
                            got: n,
                            expected: b,
                            first: first.to_string(),
                        });
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        if !allow_non_finite
            && let Some(data) = t.as_f32()
            && let Some(i) = data.iter().position(|x| !x.is_finite())
        {
            return Err(Error::NonFinite {
                name: name.to_string(),
                index: i,
                value: data[i],
            });
        }
        tensors.push(t);
    }
    let batch = batch.map_or(1, |(b, _)| b);
    if batch == 0 {
        return Err(Error::EmptyBatch);
    }
    Ok(Bound { batch, tensors })
}

/// Bags as index ranges, after checking offsets (ragged) and that every index hits the table.
pub(crate) fn bag_ranges(
    g: &Graph,
    node: NodeId,
    idx: &[i64],
    idx_shape: &[usize],
    offsets: Option<&[i64]>,
    rows: u64,
) -> Result<Vec<(usize, usize)>, Error> {
    let n = g.node(node);
    let ranges: Vec<(usize, usize)> = match offsets {
        None => {
            let hot = idx_shape.get(1).copied().unwrap_or(1);
            (0..idx_shape.first().copied().unwrap_or(0))
                .map(|b| (b * hot, (b + 1) * hot))
                .collect()
        }
        Some(off) => {
            let bad = |message: String| Error::BadOffsets {
                node: g.node_label(node),
                input: g.value_name(n.inputs[2]).to_string(),
                message,
            };
            if off.first().is_some_and(|&o| o != 0) {
                return Err(bad(format!("offsets[0] must be 0, got {}", off[0])));
            }
            let mut out = Vec::with_capacity(off.len());
            for (b, &o) in off.iter().enumerate() {
                let hi = off.get(b + 1).copied().unwrap_or(idx.len() as i64);
                if o < 0 || hi < o || hi > idx.len() as i64 {
                    return Err(bad(format!(
                        "bag {b} spans [{o}, {hi}), which is not a non-decreasing range within the {} indices",
                        idx.len()
                    )));
                }
                out.push((o as usize, hi as usize));
            }
            out
        }
    };
    check_indices(g, node, idx, &ranges, rows)?;
    Ok(ranges)
}

pub(crate) fn check_indices(
    g: &Graph,
    node: NodeId,
    idx: &[i64],
    ranges: &[(usize, usize)],
    rows: u64,
) -> Result<(), Error> {
    for (b, &(lo, hi)) in ranges.iter().enumerate() {
        for (p, &i) in idx[lo..hi].iter().enumerate() {
            if i < 0 || i as u64 >= rows {
                let n = g.node(node);
                return Err(Error::IndexOutOfRange {
                    node: g.node_label(node),
                    input: g.value_name(n.inputs[1]).to_string(),
                    sample: b,
                    position: lo + p,
                    index: i,
                    rows,
                });
            }
        }
    }
    Ok(())
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Executor {
    /// Verifies the graph, prepares parameters (materializing all but large embedding tables)
    /// and builds the thread pool.
    pub fn new(graph: &Graph, opts: &Options) -> Result<Self, Error> {
        seedchip_ir::verify(graph)?;
        for (i, n) in graph.nodes.iter().enumerate() {
            for &o in &n.outputs {
                if matches!(graph.ty(o).dtype, DType::F16 | DType::BF16) {
                    return Err(Error::Unsupported {
                        node: graph.node_label(NodeId::from_index(i)),
                        message: format!(
                            "the reference executor computes in f32; this node produces {}",
                            graph.ty(o)
                        ),
                    });
                }
            }
        }
        let order = graph.topo_order().map_err(|n| {
            Error::Internal(format!(
                "verified graph has a cycle at {}",
                graph.node_label(n)
            ))
        })?;
        let users = graph.users();
        let mut stores = Vec::with_capacity(graph.params.len());
        for (pi, p) in graph.params.iter().enumerate() {
            let values = ParamValues::open(
                graph,
                seedchip_ir::ParamId::from_index(pi),
                opts.base_dir.as_deref(),
            )?;
            let u = &users[p.value.index()];
            let table_only = !u.is_empty()
                && u.iter().all(|&nid| {
                    let n = graph.node(nid);
                    matches!(n.op, Op::EmbeddingBag { .. } | Op::Embedding)
                        && n.inputs.iter().skip(1).all(|&v| v != p.value)
                });
            let bytes = values.numel().saturating_mul(4);
            if table_only && bytes > opts.materialize_table_bytes {
                stores.push(Store::Rows(values));
            } else {
                stores.push(Store::Dense(values.materialize()?));
            }
        }
        // Constant GEMM operands, packed for the microkernel now rather than on every run:
        // `linear` weights and the cross layer's and attention unit's (`[out, in]`, used
        // transposed), and constant right-hand sides of 2-D `matmul`s.
        let mut packed = BTreeMap::new();
        for n in &graph.nodes {
            let uses: Vec<(ValueId, bool)> = match &n.op {
                Op::Linear { .. } => vec![(n.inputs[1], true)],
                Op::CrossLayer => vec![(n.inputs[2], true), (n.inputs[3], true)],
                Op::TargetAttention { .. } => n.inputs[2..]
                    .iter()
                    .step_by(2)
                    .map(|&w| (w, true))
                    .collect(),
                Op::MatMul { transpose_b } if graph.ty(n.inputs[1]).rank() == 2 => {
                    vec![(n.inputs[1], *transpose_b)]
                }
                _ => vec![],
            };
            for (v, transposed) in uses {
                let ValueDef::Param(p) = graph.value(v).def else {
                    continue;
                };
                let Store::Dense(d) = &stores[p.index()] else {
                    continue;
                };
                let dims: Vec<usize> = graph
                    .ty(v)
                    .shape
                    .iter()
                    .map(|d| d.fixed().unwrap_or(0) as usize)
                    .collect();
                let &[r, c] = dims.as_slice() else {
                    continue;
                };
                packed.entry((p.index(), transposed)).or_insert_with(|| {
                    if transposed {
                        PackedB::transposed(d, c, r, c)
                    } else {
                        PackedB::row_major(d, c, r, c)
                    }
                });
            }
        }
        let mut last_use = vec![0usize; graph.values.len()];
        for (step, &nid) in order.iter().enumerate() {
            for &v in &graph.node(nid).inputs {
                last_use[v.index()] = step;
            }
        }
        let mut keep = vec![false; graph.values.len()];
        for o in &graph.outputs {
            keep[o.value.index()] = true;
        }
        let pool = match opts.threads {
            Some(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n.max(1))
                    .build()
                    .map_err(|e| Error::Internal(format!("cannot start {n} threads: {e}")))?,
            ),
            None => None,
        };
        Ok(Executor {
            graph: graph.clone(),
            order,
            stores,
            packed,
            last_use,
            keep,
            pool,
            allow_non_finite: opts.allow_non_finite,
            buffers: BufferPool::default(),
        })
    }

    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Bytes held by materialized parameters (and their packed GEMM copies).
    pub fn materialized_bytes(&self) -> u64 {
        let dense: u64 = self
            .stores
            .iter()
            .map(|s| {
                if let Store::Dense(d) = s {
                    d.len() as u64 * 4
                } else {
                    0
                }
            })
            .sum();
        dense + self.packed.values().map(PackedB::bytes).sum::<u64>()
    }

    /// The packed form of 2-D operand `v` (`k × n` as read, or the transpose of its `[n, k]`
    /// when `transposed`): prepacked for parameters, packed now for run-time values.
    fn packed_operand<'s>(
        &'s self,
        env: &'s [Option<Cow<'_, Tensor>>],
        v: ValueId,
        transposed: bool,
        batch: usize,
    ) -> Cow<'s, PackedB> {
        if let ValueDef::Param(p) = self.graph.value(v).def
            && let Some(pb) = self.packed.get(&(p.index(), transposed))
        {
            return Cow::Borrowed(pb);
        }
        let (d, s) = self.f32_arg(env, v, batch);
        let (r, c) = (s[0], s[1]);
        Cow::Owned(if transposed {
            PackedB::transposed(d, c, r, c)
        } else {
            PackedB::row_major(d, c, r, c)
        })
    }

    /// The values of a materialized parameter (`None` for other values): GEMM weights in their
    /// stored layout, for the small-batch path.
    fn dense_param(&self, v: ValueId) -> Option<&[f32]> {
        match self.graph.value(v).def {
            ValueDef::Param(p) => match &self.stores[p.index()] {
                Store::Dense(d) => Some(d.as_slice()),
                Store::Rows(_) => None,
            },
            _ => None,
        }
    }

    /// Runs one batch. Inputs are keyed by the graph's input names; outputs by its output names.
    pub fn run(
        &self,
        inputs: &BTreeMap<String, Tensor>,
    ) -> Result<BTreeMap<String, Tensor>, Error> {
        match &self.pool {
            Some(p) => p.install(|| self.run_inner(inputs, None)),
            None => self.run_inner(inputs, None),
        }
    }

    /// [`Executor::run`] that also reports each node's wall time, in execution order: the
    /// profile that points optimisation work at the ops that matter.
    pub fn run_profiled(
        &self,
        inputs: &BTreeMap<String, Tensor>,
    ) -> Result<(BTreeMap<String, Tensor>, NodeTimes), Error> {
        let mut times = Vec::with_capacity(self.order.len());
        let out = match &self.pool {
            Some(p) => p.install(|| self.run_inner(inputs, Some(&mut times))),
            None => self.run_inner(inputs, Some(&mut times)),
        }?;
        Ok((out, times))
    }

    fn run_inner(
        &self,
        inputs: &BTreeMap<String, Tensor>,
        mut times: Option<&mut NodeTimes>,
    ) -> Result<BTreeMap<String, Tensor>, Error> {
        let g = &self.graph;
        let bound = bind(g, inputs, self.allow_non_finite)?;
        let batch = bound.batch;
        let mut env: Vec<Option<Cow<'_, Tensor>>> = vec![None; g.values.len()];
        for (&v, t) in g.inputs.iter().zip(&bound.tensors) {
            env[v.index()] = Some(Cow::Borrowed(*t));
        }
        for (step, &nid) in self.order.iter().enumerate() {
            let t0 = times.is_some().then(std::time::Instant::now);
            let outs = self.exec_node(nid, &env, batch)?;
            if let (Some(t), Some(t0)) = (times.as_deref_mut(), t0) {
                t.push((nid, t0.elapsed()));
            }
            let node = g.node(nid);
            for (&o, t) in node.outputs.iter().zip(outs) {
                env[o.index()] = Some(Cow::Owned(t));
            }
            for &v in &node.inputs {
                if self.last_use[v.index()] == step && !self.keep[v.index()] {
                    self.buffers.give(env[v.index()].take());
                }
            }
        }
        let mut out = BTreeMap::new();
        for o in &g.outputs {
            let t = match g.value(o.value).def {
                ValueDef::Param(p) => match &self.stores[p.index()] {
                    Store::Dense(d) => Tensor::from_f32(self.shape(o.value, batch)?, d.clone())
                        .ok_or_else(|| {
                            Error::Internal(format!(
                                "parameter {} has the wrong size",
                                g.value_name(o.value)
                            ))
                        })?,
                    Store::Rows(_) => {
                        unreachable!("tables exposed as outputs are materialized (not table-only)")
                    }
                },
                _ => env[o.value.index()].as_deref().cloned().ok_or_else(|| {
                    Error::Internal(format!("output {} was never computed", o.name))
                })?,
            };
            out.insert(o.name.clone(), t);
        }
        for t in env {
            self.buffers.give(t);
        }
        Ok(out)
    }

    fn shape(&self, v: ValueId, batch: usize) -> Result<Vec<usize>, Error> {
        let ty = self.graph.ty(v);
        let dims = ty.resolve(batch as u64).ok_or_else(|| {
            Error::Internal(format!(
                "%{} has an unresolved dimension",
                self.graph.value_name(v)
            ))
        })?;
        let shape: Vec<usize> = dims.iter().map(|&d| d as usize).collect();
        shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::TooLarge {
                value: self.graph.value_name(v).to_string(),
                shape: format!("{shape:?}"),
            })?;
        Ok(shape)
    }

    /// f32 data and concrete shape of an operand.
    fn f32_arg<'s>(
        &'s self,
        env: &'s [Option<Cow<'_, Tensor>>],
        v: ValueId,
        batch: usize,
    ) -> (&'s [f32], Vec<usize>) {
        let g = &self.graph;
        match g.value(v).def {
            ValueDef::Param(p) => match &self.stores[p.index()] {
                Store::Dense(d) => (
                    d.as_slice(),
                    g.ty(v)
                        .resolve(batch as u64)
                        .unwrap_or_default()
                        .iter()
                        .map(|&d| d as usize)
                        .collect(),
                ),
                Store::Rows(_) => panic!(
                    "parameter {} is only materialized for table lookups but is read densely",
                    g.value_name(v)
                ),
            },
            _ => {
                let t = env[v.index()]
                    .as_deref()
                    .unwrap_or_else(|| panic!("%{} read before it was computed", g.value_name(v)));
                let d = t.as_f32().unwrap_or_else(|| {
                    panic!(
                        "%{} is not f32 (the verifier should have refused)",
                        g.value_name(v)
                    )
                });
                (d, t.shape().to_vec())
            }
        }
    }

    fn int_arg<'s>(
        &'s self,
        env: &'s [Option<Cow<'_, Tensor>>],
        v: ValueId,
    ) -> (Cow<'s, [i64]>, Vec<usize>) {
        let g = &self.graph;
        let t = env[v.index()]
            .as_deref()
            .unwrap_or_else(|| panic!("%{} read before it was computed", g.value_name(v)));
        let d = t
            .indices()
            .unwrap_or_else(|| panic!("%{} is not an index tensor", g.value_name(v)));
        (d, t.shape().to_vec())
    }

    fn table(&self, v: ValueId) -> (Table<'_>, u64, usize) {
        let g = &self.graph;
        let ValueDef::Param(p) = g.value(v).def else {
            panic!("table %{} is not a parameter (verifier)", g.value_name(v))
        };
        let shape = &g.ty(v).shape;
        let (rows, dim) = (
            shape[0].fixed().unwrap_or(0),
            shape[1].fixed().unwrap_or(0) as usize,
        );
        let t = match &self.stores[p.index()] {
            Store::Dense(d) => Table::Dense(d),
            Store::Rows(pv) => pv.procedural().map_or(Table::Values(pv), Table::Procedural),
        };
        (t, rows, dim)
    }

    fn exec_node(
        &self,
        nid: NodeId,
        env: &[Option<Cow<'_, Tensor>>],
        batch: usize,
    ) -> Result<Vec<Tensor>, Error> {
        let g = &self.graph;
        let node = g.node(nid);
        let out_shape = self.shape(node.outputs[0], batch)?;
        let mut y = self.buffers.take(numel(&out_shape));
        let ins = &node.inputs;
        match &node.op {
            Op::EmbeddingBag { pooling, .. } => {
                let (table, rows, dim) = self.table(ins[0]);
                let (idx, ishape) = self.int_arg(env, ins[1]);
                let off = ins.get(2).map(|&o| self.int_arg(env, o).0);
                let ranges = bag_ranges(g, nid, &idx, &ishape, off.as_deref(), rows)?;
                kernels::embedding_bag(table, dim, &idx, &ranges, *pooling, &mut y)?;
            }
            Op::Embedding => {
                let (table, rows, dim) = self.table(ins[0]);
                let (idx, ishape) = self.int_arg(env, ins[1]);
                let per = numel(&ishape[1..]).max(1);
                let ranges: Vec<(usize, usize)> =
                    (0..ishape[0]).map(|b| (b * per, (b + 1) * per)).collect();
                check_indices(g, nid, &idx, &ranges, rows)?;
                kernels::embedding(table, dim, &idx, &mut y)?;
            }
            Op::Linear { act } => {
                let (x, xs) = self.f32_arg(env, ins[0], batch);
                let w = self.packed_operand(env, ins[1], true, batch);
                let bias = ins.get(2).map(|&b| self.f32_arg(env, b, batch).0);
                let k = w.k();
                // Rows: from the input, or from the output when the inner dimension is empty.
                let m = numel(&xs)
                    .checked_div(k)
                    .unwrap_or(numel(&out_shape) / w.n().max(1));
                let wt = self.dense_param(ins[1]);
                gemm::gemm_wt(x, k, m, &w, wt, bias, *act, &mut y, None);
            }
            Op::MatMul { transpose_b } => {
                let (a, as_) = self.f32_arg(env, ins[0], batch);
                let (b, bs) = self.f32_arg(env, ins[1], batch);
                let r = as_.len();
                let (m, k) = (as_[r - 2], as_[r - 1]);
                let n = *out_shape.last().unwrap_or(&0);
                if bs.len() == 2 {
                    let pb = self.packed_operand(env, ins[1], *transpose_b, batch);
                    let rows = numel(&out_shape) / n.max(1);
                    gemm::gemm(
                        a,
                        k,
                        rows,
                        &pb,
                        None,
                        seedchip_ir::Activation::None,
                        &mut y,
                        None,
                    );
                } else {
                    let nb = numel(&as_[..r - 2]);
                    kernels::batched_matmul(a, b, nb, m, k, n, *transpose_b, &mut y);
                }
            }
            Op::Unary(u) => {
                let (x, _) = self.f32_arg(env, ins[0], batch);
                y.copy_from_slice(x);
                kernels::unary_inplace(*u, &mut y);
            }
            Op::Binary(b) => {
                let (a, as_) = self.f32_arg(env, ins[0], batch);
                let (bb, bs) = self.f32_arg(env, ins[1], batch);
                kernels::binary(*b, a, &as_, bb, &bs, &out_shape, &mut y);
            }
            Op::Concat { axis } => {
                let outer = numel(&out_shape[..*axis]);
                let mut parts = Vec::with_capacity(ins.len());
                let mut widths = Vec::with_capacity(ins.len());
                for &v in ins {
                    let (x, s) = self.f32_arg(env, v, batch);
                    widths.push(numel(&s[*axis..]));
                    parts.push(x);
                }
                kernels::concat(&parts, &widths, outer, &mut y);
            }
            Op::Reshape { .. } | Op::Flatten { .. } => {
                y.copy_from_slice(self.f32_arg(env, ins[0], batch).0);
            }
            Op::Transpose { perm } => {
                let (x, s) = self.f32_arg(env, ins[0], batch);
                kernels::transpose(x, &s, perm, &mut y);
            }
            Op::Slice { axis, start, .. } => {
                let (x, s) = self.f32_arg(env, ins[0], batch);
                let (outer, inner) = (numel(&s[..*axis]), numel(&s[*axis + 1..]));
                kernels::slice(
                    x,
                    outer,
                    s[*axis],
                    inner,
                    *start as usize,
                    out_shape[*axis],
                    &mut y,
                );
            }
            Op::Split { axis, sizes } => {
                let (x, s) = self.f32_arg(env, ins[0], batch);
                let (outer, inner) = (numel(&s[..*axis]), numel(&s[*axis + 1..]));
                let mut outs = Vec::with_capacity(sizes.len());
                let mut start = 0usize;
                for (k, &len) in sizes.iter().enumerate() {
                    let shape = self.shape(node.outputs[k], batch)?;
                    let mut part = self.buffers.take(numel(&shape));
                    kernels::slice(x, outer, s[*axis], inner, start, len as usize, &mut part);
                    start += len as usize;
                    outs.push(Tensor::from_f32(shape, part).expect("split part size"));
                }
                self.buffers.give_vec(y);
                return Ok(outs);
            }
            Op::DotInteraction { self_interaction } => {
                let pairs = *out_shape.last().unwrap_or(&0);
                let first = self.f32_arg(env, ins[0], batch);
                if ins.len() == 1 && first.1.len() == 3 {
                    let (x, s) = first;
                    let (n, d) = (s[1], s[2]);
                    let f =
                        move |smp: usize, i: usize| &x[(smp * n + i) * d..(smp * n + i + 1) * d];
                    kernels::dot_interaction(&f, n, *self_interaction, pairs, &mut y);
                } else {
                    let d = first.1[1];
                    let xs: Vec<&[f32]> =
                        ins.iter().map(|&v| self.f32_arg(env, v, batch).0).collect();
                    let f = move |smp: usize, i: usize| &xs[i][smp * d..(smp + 1) * d];
                    kernels::dot_interaction(&f, ins.len(), *self_interaction, pairs, &mut y);
                }
            }
            Op::CrossLayer => {
                let (x0, s) = self.f32_arg(env, ins[0], batch);
                let (xl, _) = self.f32_arg(env, ins[1], batch);
                let v_t = self.packed_operand(env, ins[2], true, batch);
                let w_t = self.packed_operand(env, ins[3], true, batch);
                let (b, _) = self.f32_arg(env, ins[4], batch);
                debug_assert_eq!(v_t.k(), *s.last().unwrap_or(&0));
                let raw = (self.dense_param(ins[2]), self.dense_param(ins[3]));
                kernels::cross_layer(x0, xl, &v_t, &w_t, raw, b, &mut y);
            }
            Op::LayerNorm { eps } => {
                let (x, s) = self.f32_arg(env, ins[0], batch);
                let (gm, _) = self.f32_arg(env, ins[1], batch);
                let (bt, _) = self.f32_arg(env, ins[2], batch);
                kernels::layer_norm(x, *s.last().unwrap_or(&0), gm, bt, *eps, &mut y);
            }
            Op::Softmax { axis } => {
                let (x, s) = self.f32_arg(env, ins[0], batch);
                kernels::softmax(
                    x,
                    numel(&s[..*axis]),
                    s[*axis],
                    numel(&s[*axis + 1..]),
                    &mut y,
                );
            }
            Op::Reduce { kind, axis } => {
                let (x, s) = self.f32_arg(env, ins[0], batch);
                kernels::reduce(
                    *kind,
                    x,
                    numel(&s[..*axis]),
                    s[*axis],
                    numel(&s[*axis + 1..]),
                    &mut y,
                );
            }
            Op::TargetAttention { act } => {
                let (q, _) = self.f32_arg(env, ins[0], batch);
                let (k, ks) = self.f32_arg(env, ins[1], batch);
                let packed: Vec<Cow<'_, PackedB>> = ins[2..]
                    .chunks(2)
                    .map(|p| self.packed_operand(env, p[0], true, batch))
                    .collect();
                let layers: Vec<(&PackedB, &[f32])> = ins[2..]
                    .chunks(2)
                    .zip(&packed)
                    .map(|(p, w)| (w.as_ref(), self.f32_arg(env, p[1], batch).0))
                    .collect();
                kernels::target_attention(q, k, ks[1], ks[2], &layers, *act, &mut y);
            }
            Op::SeqAttention {
                heads,
                kernel,
                causal,
                scale,
            } => {
                let (q, qs) = self.f32_arg(env, ins[0], batch);
                let (k, _) = self.f32_arg(env, ins[1], batch);
                let (v, vs) = self.f32_arg(env, ins[2], batch);
                kernels::seq_attention(
                    q,
                    k,
                    v,
                    qs[1],
                    *heads as usize,
                    qs[2],
                    vs[2],
                    *kernel,
                    *causal,
                    *scale,
                    &mut y,
                );
            }
        }
        Ok(vec![
            Tensor::new(out_shape, TensorData::F32(y)).expect("output buffer matches its shape"),
        ])
    }
}
