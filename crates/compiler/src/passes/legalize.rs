//! `legalize`: every IR op becomes something SCISA offers.
//!
//! Two steps. [`decompose`] rewrites the composite ops that have no instruction of their own
//! (DCNv2 cross layers, DIN target attention, HSTU/transformer sequence attention) into plain
//! IR ops, so the f32 reference can still run the result: calibration then sees every value an
//! int8 GEMM consumes, including the ones hidden inside a composite op. [`lower`] then maps the
//! plain graph onto [`Lir`] kernels: Linear/MatMul with a parameter → GEMM, activation ×
//! activation MatMul and the dot interaction → batched matmuls, embedding ops → gathers,
//! LayerNorm/Softmax/Reduce/elementwise → vector sequences, and Concat/Reshape/Flatten/
//! Transpose/Slice/Split → views (producers write straight into concat slices when they can).

use std::collections::{BTreeMap, BTreeSet};

use seedchip_ir::init::ParamValues;
use seedchip_ir::{
    Activation, AttentionKernel, BinaryOp, DType as IrDType, Dim as IrDim, Graph, GraphBuilder,
    Init, NodeId, Op, ReduceKind, TensorType, UnaryOp, ValueDef, ValueId,
};
use seedchip_isa::DType;

use crate::Error;
use crate::lir::{
    Base, Bmm, Const, ConstData, ConstRole, Dim, Gemm, Io, IoLayout, KOp, Kernel, Lir, TableRef,
    TensorId, VOp, View,
};

/// Masked attention scores get this added before the softmax: far below any real score, and
/// finite, so `exp` of it is exactly 0 without infinities in the program's constants.
const MASKED_SCORE: f32 = -1.0e30;

// ---------------------------------------------------------------------------------------------
// Step 1: decomposition into plain ops.

/// `base`, or `base1`, `base2`, ... — the first name not taken yet.
fn fresh(names: &mut BTreeSet<String>, base: &str) -> String {
    let mut name = base.to_string();
    let mut i = 0;
    while names.contains(&name) {
        i += 1;
        name = format!("{base}{i}");
    }
    names.insert(name.clone());
    name
}

/// Rewrites cross layers and attention into plain ops (names, inputs, outputs and parameters
/// keep their names, so procedural weights and bindings are unchanged).
pub fn decompose(graph: &Graph) -> Result<Graph, Error> {
    let order = graph
        .topo_order()
        .map_err(|n| Error::unsupported(graph.node_label(n), "the graph has a cycle"))?;
    let mut names: BTreeSet<String> = graph.values.iter().map(|v| v.name.clone()).collect();
    let mut b = GraphBuilder::new(graph.name.clone());
    let mut map: Vec<Option<ValueId>> = vec![None; graph.values.len()];
    for &v in &graph.inputs {
        let val = graph.value(v);
        map[v.index()] = Some(b.input(&val.name, val.ty.clone()));
    }
    for p in &graph.params {
        let val = graph.value(p.value);
        let dims: Vec<u64> = val
            .ty
            .shape
            .iter()
            .map(|d| d.fixed().unwrap_or(0))
            .collect();
        map[p.value.index()] = Some(b.param(&val.name, &dims, p.init.clone()));
    }
    for nid in order {
        let node = graph.node(nid);
        let ins: Vec<ValueId> = node
            .inputs
            .iter()
            .map(|&v| map[v.index()].expect("operands are mapped in topological order"))
            .collect();
        let out_name = graph.value_name(node.outputs[0]).to_string();
        let ty = |v: ValueId| graph.ty(v).clone();
        let result: Vec<ValueId> = match &node.op {
            Op::CrossLayer => {
                let (x0, xl, v, w, bias) = (ins[0], ins[1], ins[2], ins[3], ins[4]);
                let u = b.named(fresh(&mut names, &format!("{out_name}.vx"))).node(
                    Op::Linear {
                        act: Activation::None,
                    },
                    &[xl, v],
                )[0];
                let t = b.named(fresh(&mut names, &format!("{out_name}.wu"))).node(
                    Op::Linear {
                        act: Activation::None,
                    },
                    &[u, w, bias],
                )[0];
                let p = b
                    .named(fresh(&mut names, &format!("{out_name}.gate")))
                    .node(Op::Binary(BinaryOp::Mul), &[x0, t])[0];
                vec![
                    b.named(out_name.clone())
                        .node(Op::Binary(BinaryOp::Add), &[p, xl])[0],
                ]
            }
            Op::TargetAttention { act } => {
                let (q, keys) = (ins[0], ins[1]);
                let kt = ty(node.inputs[1]);
                let (t_len, d) = match (kt.shape.get(1), kt.shape.get(2)) {
                    (Some(IrDim::Fixed(t)), Some(IrDim::Fixed(d))) => (*t, *d),
                    _ => {
                        return Err(Error::unsupported(
                            graph.node_label(nid),
                            format!("keys must be f32[B, T, d], got {kt}"),
                        ));
                    }
                };
                let q3 = b.named(fresh(&mut names, &format!("{out_name}.q"))).node(
                    Op::Reshape {
                        shape: vec![IrDim::Batch, IrDim::Fixed(1), IrDim::Fixed(d)],
                    },
                    &[q],
                )[0];
                let zeros = b.param(
                    &fresh(&mut names, &format!("{out_name}.zeros")),
                    &[t_len, d],
                    Init::Fill { value: 0.0 },
                );
                let qb = b
                    .named(fresh(&mut names, &format!("{out_name}.qb")))
                    .node(Op::Binary(BinaryOp::Add), &[q3, zeros])[0];
                let diff = b
                    .named(fresh(&mut names, &format!("{out_name}.diff")))
                    .node(Op::Binary(BinaryOp::Sub), &[q3, keys])[0];
                let prod = b
                    .named(fresh(&mut names, &format!("{out_name}.prod")))
                    .node(Op::Binary(BinaryOp::Mul), &[q3, keys])[0];
                let mut h = b
                    .named(fresh(&mut names, &format!("{out_name}.unit_in")))
                    .node(Op::Concat { axis: 2 }, &[qb, keys, diff, prod])[0];
                let layers = (ins.len() - 2) / 2;
                for l in 0..layers {
                    let a = if l + 1 == layers {
                        Activation::None
                    } else {
                        *act
                    };
                    h = b
                        .named(fresh(&mut names, &format!("{out_name}.unit{l}")))
                        .node(Op::Linear { act: a }, &[h, ins[2 + 2 * l], ins[3 + 2 * l]])[0];
                }
                let st = b
                    .named(fresh(&mut names, &format!("{out_name}.scores")))
                    .node(
                        Op::Reshape {
                            shape: vec![IrDim::Batch, IrDim::Fixed(1), IrDim::Fixed(t_len)],
                        },
                        &[h],
                    )[0];
                let o = b
                    .named(fresh(&mut names, &format!("{out_name}.pool")))
                    .node(Op::MatMul { transpose_b: false }, &[st, keys])[0];
                vec![
                    b.named(out_name.clone()).node(
                        Op::Reshape {
                            shape: vec![IrDim::Batch, IrDim::Fixed(d)],
                        },
                        &[o],
                    )[0],
                ]
            }
            Op::SeqAttention {
                heads,
                kernel,
                causal,
                scale,
            } => {
                let qt = ty(node.inputs[0]);
                let vt = ty(node.inputs[2]);
                let (n, dq, dv) = match (qt.shape.get(1), qt.shape.get(2), vt.shape.get(2)) {
                    (Some(IrDim::Fixed(n)), Some(IrDim::Fixed(dq)), Some(IrDim::Fixed(dv))) => {
                        (*n, *dq, *dv)
                    }
                    _ => {
                        return Err(Error::unsupported(
                            graph.node_label(nid),
                            format!("q and v must be f32[B, n, h·d], got {qt} and {vt}"),
                        ));
                    }
                };
                let h = *heads;
                if h == 0 || dq % h != 0 || dv % h != 0 {
                    return Err(Error::unsupported(
                        graph.node_label(nid),
                        format!("{h} heads do not divide widths {dq} and {dv}"),
                    ));
                }
                let heads_of = |b: &mut GraphBuilder, x: ValueId, w: u64, tag: &str| {
                    let x4 = b.named(format!("{out_name}.{tag}4")).node(
                        Op::Reshape {
                            shape: vec![
                                IrDim::Batch,
                                IrDim::Fixed(n),
                                IrDim::Fixed(h),
                                IrDim::Fixed(w / h),
                            ],
                        },
                        &[x],
                    )[0];
                    b.named(format!("{out_name}.{tag}h")).node(
                        Op::Transpose {
                            perm: vec![0, 2, 1, 3],
                        },
                        &[x4],
                    )[0]
                };
                for tag in ["q4", "qh", "k4", "kh", "v4", "vh"] {
                    names.insert(format!("{out_name}.{tag}"));
                }
                let qh = heads_of(&mut b, ins[0], dq, "q");
                let kh = heads_of(&mut b, ins[1], dq, "k");
                let vh = heads_of(&mut b, ins[2], dv, "v");
                let s = b
                    .named(fresh(&mut names, &format!("{out_name}.qk")))
                    .node(Op::MatMul { transpose_b: true }, &[qh, kh])[0];
                let sc = b.param(
                    &fresh(&mut names, &format!("{out_name}.scale")),
                    &[1],
                    Init::Fill { value: *scale },
                );
                let s = b
                    .named(fresh(&mut names, &format!("{out_name}.scaled")))
                    .node(Op::Binary(BinaryOp::Mul), &[s, sc])[0];
                let a = match kernel {
                    AttentionKernel::Silu => {
                        let act = b
                            .named(fresh(&mut names, &format!("{out_name}.silu")))
                            .node(Op::Unary(UnaryOp::Silu), &[s])[0];
                        let inv_n = 1.0 / n as f32;
                        let mask = if *causal {
                            let mut m = vec![0.0f32; (n * n) as usize];
                            for i in 0..n {
                                for j in 0..=i {
                                    m[(i * n + j) as usize] = inv_n;
                                }
                            }
                            b.param(
                                &fresh(&mut names, &format!("{out_name}.mask")),
                                &[n, n],
                                Init::Data { values: m },
                            )
                        } else {
                            b.param(
                                &fresh(&mut names, &format!("{out_name}.inv_n")),
                                &[1],
                                Init::Fill { value: inv_n },
                            )
                        };
                        b.named(fresh(&mut names, &format!("{out_name}.weights")))
                            .node(Op::Binary(BinaryOp::Mul), &[act, mask])[0]
                    }
                    AttentionKernel::Softmax => {
                        let s = if *causal {
                            let mut m = vec![0.0f32; (n * n) as usize];
                            for i in 0..n {
                                for j in i + 1..n {
                                    m[(i * n + j) as usize] = MASKED_SCORE;
                                }
                            }
                            let mask = b.param(
                                &fresh(&mut names, &format!("{out_name}.mask")),
                                &[n, n],
                                Init::Data { values: m },
                            );
                            b.named(fresh(&mut names, &format!("{out_name}.masked")))
                                .node(Op::Binary(BinaryOp::Add), &[s, mask])[0]
                        } else {
                            s
                        };
                        b.named(fresh(&mut names, &format!("{out_name}.weights")))
                            .node(Op::Softmax { axis: 3 }, &[s])[0]
                    }
                };
                let o = b
                    .named(fresh(&mut names, &format!("{out_name}.av")))
                    .node(Op::MatMul { transpose_b: false }, &[a, vh])[0];
                let ot = b
                    .named(fresh(&mut names, &format!("{out_name}.heads")))
                    .node(
                        Op::Transpose {
                            perm: vec![0, 2, 1, 3],
                        },
                        &[o],
                    )[0];
                vec![
                    b.named(out_name.clone()).node(
                        Op::Reshape {
                            shape: vec![IrDim::Batch, IrDim::Fixed(n), IrDim::Fixed(dv)],
                        },
                        &[ot],
                    )[0],
                ]
            }
            op => {
                if node.outputs.len() == 1 {
                    b.named(out_name.clone());
                } else if let Some(base) = out_name.strip_suffix(".0") {
                    let base = base.to_string();
                    if (0..node.outputs.len())
                        .all(|k| graph.value_name(node.outputs[k]) == format!("{base}.{k}"))
                    {
                        b.named(base);
                    }
                }
                b.node(op.clone(), &ins)
            }
        };
        for (&o, r) in node.outputs.iter().zip(result) {
            map[o.index()] = Some(r);
        }
    }
    for o in &graph.outputs {
        b.output(&o.name, map[o.value.index()].expect("outputs are mapped"));
    }
    Ok(b.finish()?)
}

// ---------------------------------------------------------------------------------------------
// Step 2: lowering to kernels.

/// Lowers a decomposed graph (see [`decompose`]).
pub fn lower(graph: &Graph) -> Result<Lir, Error> {
    let mut l = Lowerer::new(graph)?;
    let order = graph
        .topo_order()
        .map_err(|n| Error::unsupported(graph.node_label(n), "the graph has a cycle"))?;
    for nid in order {
        l.node(nid)?;
    }
    for (oi, o) in graph.outputs.iter().enumerate() {
        let v = l.operand(o.value, &o.name)?;
        let v = l.ensure_tensor(v, &o.name, &o.name);
        l.lir.outputs.push(Io {
            name: o.name.clone(),
            shape: per_sample_shape(graph.ty(o.value), &o.name)?,
            dtype: DType::F32,
            layout: IoLayout::PerSample,
        });
        l.push(KOp::Store { src: v, output: oi }, &o.name);
    }
    Ok(l.lir)
}

/// Expected ids per ragged bag when the graph gives no `mean_pooling` hint (the f32 reference's
/// input synthesizer assumes the same).
pub const DEFAULT_MEAN_POOLING: f64 = 1.0;

/// Expected ids per bag of every ragged index input (the largest hint of the bags reading it;
/// [`DEFAULT_MEAN_POOLING`] without one).
pub fn ragged_means(graph: &Graph) -> BTreeMap<ValueId, f64> {
    let mut out: BTreeMap<ValueId, f64> = BTreeMap::new();
    for n in &graph.nodes {
        if let Op::EmbeddingBag { mean_pooling, .. } = n.op
            && n.inputs.len() == 3
        {
            let m = mean_pooling.unwrap_or(DEFAULT_MEAN_POOLING);
            let e = out.entry(n.inputs[1]).or_insert(m);
            *e = e.max(m);
        }
    }
    out
}

/// Fills in the capacity of every ragged index input: `options.ragged_ids[name]` when given,
/// else `batch × max(1, round(2 × mean pooling))`, the most the zoo's generator produces (bag
/// sizes uniform on `0..=round(2·mean)`).
pub fn set_ragged_capacity(
    lir: &mut Lir,
    graph: &Graph,
    options: &crate::CompileOptions,
) -> Result<(), Error> {
    let means = ragged_means(graph);
    let batch = u64::from(options.batch);
    for (&v, &mean) in &means {
        let name = graph.value_name(v);
        let Some(io) = lir.inputs.iter_mut().find(|io| io.name == name) else {
            continue;
        };
        let cap = match options.ragged_ids.get(name) {
            Some(&c) => c,
            None => batch * ((2.0 * mean).round() as u64).max(1),
        };
        if cap == 0 || cap > u64::from(i32::MAX as u32) {
            return Err(Error::Options(format!(
                "ragged ids `{name}`: capacity {cap} must be in 1..=2^31-1"
            )));
        }
        io.layout = IoLayout::RaggedIds { capacity: cap };
    }
    for name in options.ragged_ids.keys() {
        if !means.keys().any(|&v| graph.value_name(v) == name) {
            return Err(Error::Options(format!(
                "ragged_ids names `{name}`, which is not the index list of a ragged embedding bag"
            )));
        }
    }
    Ok(())
}

fn per_sample_shape(ty: &TensorType, what: &str) -> Result<Vec<u64>, Error> {
    match ty.shape.split_first() {
        Some((IrDim::Batch, rest)) => rest
            .iter()
            .map(|d| {
                d.fixed().ok_or_else(|| {
                    Error::unsupported(
                        what,
                        format!("type {ty}: only the leading B may be symbolic"),
                    )
                })
            })
            .collect(),
        _ => Err(Error::unsupported(
            what,
            format!("type {ty}: activations must have the batch B as their first dimension"),
        )),
    }
}

fn fixed_shape(ty: &TensorType) -> Vec<u64> {
    ty.shape.iter().map(|d| d.fixed().unwrap_or(1)).collect()
}

struct Lowerer<'g> {
    g: &'g Graph,
    lir: Lir,
    /// IR value → where its elements are.
    map: Vec<Option<View>>,
    /// IR value → number of reading nodes (plus one per graph output).
    uses: Vec<usize>,
    /// Parameter → constant already made from it (as a vector operand).
    param_consts: BTreeMap<ValueId, crate::lir::ConstId>,
    /// Parameter → table index.
    tables: BTreeMap<ValueId, usize>,
    /// Tensors that hold exactly one IR value (and nothing else writes them).
    owner: BTreeMap<TensorId, ValueId>,
}

impl<'g> Lowerer<'g> {
    fn new(g: &'g Graph) -> Result<Self, Error> {
        let mut uses = vec![0usize; g.values.len()];
        for n in &g.nodes {
            for &v in &n.inputs {
                uses[v.index()] += 1;
            }
        }
        for o in &g.outputs {
            uses[o.value.index()] += 1;
        }
        let mut lir = Lir {
            name: g.name.clone(),
            ..Lir::default()
        };
        for &v in &g.inputs {
            let val = g.value(v);
            let dtype = match val.ty.dtype {
                IrDType::F32 => DType::F32,
                IrDType::I32 | IrDType::I64 => DType::I32,
                other => {
                    return Err(Error::unsupported(
                        format!("input %{}", val.name),
                        format!("inputs are f32 features or i32/i64 ids, not {other}"),
                    ));
                }
            };
            // Ragged bags: the index list `i64[?]` and the offsets `i64[B]` of the same bags.
            let ragged_ids = g.nodes.iter().any(|n| {
                matches!(n.op, Op::EmbeddingBag { .. }) && n.inputs.len() == 3 && n.inputs[1] == v
            });
            let offsets = g.nodes.iter().any(|n| {
                matches!(n.op, Op::EmbeddingBag { .. }) && n.inputs.len() == 3 && n.inputs[2] == v
            });
            let (shape, layout) = if ragged_ids {
                // The capacity depends on the compile options (`set_ragged_capacity`).
                (Vec::new(), IoLayout::RaggedIds { capacity: 0 })
            } else if offsets {
                (Vec::new(), IoLayout::Offsets)
            } else {
                if val.ty.shape.contains(&IrDim::Dyn) {
                    return Err(Error::unsupported(
                        format!("input %{}", val.name),
                        "a `?` dimension is only supported as the index list of ragged \
                         embedding bags",
                    ));
                }
                let shape = per_sample_shape(&val.ty, &format!("input %{}", val.name))?;
                (shape, IoLayout::PerSample)
            };
            lir.inputs.push(Io {
                name: val.name.clone(),
                shape,
                dtype,
                layout,
            });
        }
        Ok(Lowerer {
            g,
            lir,
            map: vec![None; g.values.len()],
            uses,
            param_consts: BTreeMap::new(),
            tables: BTreeMap::new(),
            owner: BTreeMap::new(),
        })
    }

    fn push(&mut self, op: KOp, node: &str) {
        self.lir.kernels.push(Kernel {
            op,
            node: node.to_string(),
        });
    }

    /// A fresh dense f32 tensor holding IR value `v` (or a temporary when `v` is `None`).
    fn new_tensor(&mut self, name: &str, shape: &[u64], holds: Option<ValueId>) -> View {
        let t = self
            .lir
            .add_tensor(name, shape.iter().product::<u64>().max(1), DType::F32);
        if let Some(v) = holds {
            self.lir.tensors[t.index()]
                .sources
                .push(self.g.value_name(v).to_string());
            self.owner.insert(t, v);
        }
        View::dense(Base::Tensor(t), shape)
    }

    fn param_values(&self, v: ValueId) -> Result<Vec<f32>, Error> {
        let pid = match self.g.value(v).def {
            ValueDef::Param(p) => p,
            _ => unreachable!("param_values on a non-parameter"),
        };
        Ok(ParamValues::open(self.g, pid, None)?.materialize()?)
    }

    /// Where the elements of IR value `v` are, loading graph inputs on first use and turning
    /// parameters into shared constants.
    fn operand(&mut self, v: ValueId, node: &str) -> Result<View, Error> {
        if let Some(view) = &self.map[v.index()] {
            return Ok(view.clone());
        }
        let val = self.g.value(v);
        let view = match val.def {
            ValueDef::Input(i) => {
                if self.lir.inputs[i].layout != IoLayout::PerSample {
                    return Err(Error::unsupported(
                        node,
                        format!(
                            "input %{} holds ragged ids or offsets; only embedding bags may \
                             read it",
                            val.name
                        ),
                    ));
                }
                let shape = self.lir.inputs[i].shape.clone();
                let dtype = self.lir.inputs[i].dtype;
                let name = val.name.clone();
                let t = self
                    .lir
                    .add_tensor(&name, shape.iter().product::<u64>().max(1), dtype);
                self.lir.tensors[t.index()].sources.push(name.clone());
                self.owner.insert(t, v);
                let view = View::dense(Base::Tensor(t), &shape);
                self.push(
                    KOp::Load {
                        input: i,
                        dst: view.clone(),
                    },
                    &format!("input %{name}"),
                );
                view
            }
            ValueDef::Param(_) => {
                let shape = fixed_shape(&val.ty);
                let c = match self.param_consts.get(&v) {
                    Some(&c) => c,
                    None => {
                        let values = self.param_values(v)?;
                        let c = self.lir.vector_f32(val.name.clone(), values);
                        self.param_consts.insert(v, c);
                        c
                    }
                };
                View::dense(Base::Const(c), &shape)
            }
            ValueDef::Node(..) => {
                return Err(Error::unsupported(
                    node,
                    format!("operand %{} is used before it is computed", val.name),
                ));
            }
        };
        self.map[v.index()] = Some(view.clone());
        Ok(view)
    }

    /// `v` itself if it is a tensor view, else a copy of it (constants as activations).
    fn ensure_tensor(&mut self, v: View, name: &str, node: &str) -> View {
        if v.tensor().is_some() {
            return v;
        }
        let dst = self.new_tensor(name, &v.shape(), None);
        self.push(
            KOp::Vpu {
                op: VOp::Copy,
                dst: dst.clone(),
                a: v,
                b: None,
            },
            node,
        );
        dst
    }

    /// A dense copy of `v` when `v` cannot be seen with `shape` without copying.
    fn reshaped(&mut self, v: View, shape: &[u64], name: &str, node: &str) -> View {
        if let Some(r) = v.reshape(shape) {
            return r;
        }
        let dense = self.new_tensor(name, &v.shape(), None);
        self.push(
            KOp::Vpu {
                op: VOp::Copy,
                dst: dense.clone(),
                a: v,
                b: None,
            },
            node,
        );
        dense.reshape(shape).expect("a dense view reshapes")
    }

    fn set(&mut self, v: ValueId, view: View) {
        self.map[v.index()] = Some(view);
    }

    /// Makes `src` (IR value) appear at `slot` (a view into another tensor): by redirecting
    /// every kernel that touched `src`'s own tensor there, when `src` has no other reader, or
    /// with a copy.
    fn place_into(&mut self, src: ValueId, slot: &View, node: &str) -> Result<(), Error> {
        let view = self.operand(src, node)?;
        let movable = match view.base {
            Base::Tensor(t) => {
                self.uses[src.index()] == 1
                    && self.owner.get(&t) == Some(&src)
                    && view.offset == 0
                    && view.is_contiguous()
                    && view.numel() == self.lir.tensor(t).per_sample
                    && !matches!(self.g.value(src).def, ValueDef::Input(_))
            }
            Base::Const(_) => false,
        };
        if movable {
            let t = view.tensor().expect("movable views are tensors");
            let shape = view.shape();
            let mut rewritten = Vec::new();
            let mut ok = true;
            'k: for (ki, k) in self.lir.kernels.iter().enumerate() {
                let (r, w) = Lir::views(&k.op);
                for v in r.into_iter().chain(w) {
                    if v.base == Base::Tensor(t) {
                        match v.compose(&shape, slot) {
                            Some(_) => rewritten.push(ki),
                            None => {
                                ok = false;
                                break 'k;
                            }
                        }
                    }
                }
            }
            if ok {
                rewritten.dedup();
                for ki in rewritten {
                    for v in Lir::views_mut(&mut self.lir.kernels[ki].op) {
                        if v.base == Base::Tensor(t) {
                            *v = v.compose(&shape, slot).expect("checked above");
                        }
                    }
                }
                if let Base::Tensor(into) = slot.base {
                    let srcs = self.lir.tensors[t.index()].sources.clone();
                    self.lir.tensors[into.index()].sources.extend(srcs);
                }
                self.owner.remove(&t);
                self.set(src, slot.clone());
                return Ok(());
            }
        }
        self.push(
            KOp::Vpu {
                op: VOp::Copy,
                dst: slot.clone(),
                a: view,
                b: None,
            },
            node,
        );
        if let Base::Tensor(into) = slot.base {
            let name = self.g.value_name(src).to_string();
            self.lir.tensors[into.index()].sources.push(name);
        }
        Ok(())
    }

    fn table(&mut self, v: ValueId, node: &str) -> Result<usize, Error> {
        if let Some(&t) = self.tables.get(&v) {
            return Ok(t);
        }
        let val = self.g.value(v);
        let ValueDef::Param(pid) = val.def else {
            return Err(Error::unsupported(
                node,
                "embedding tables must be parameters",
            ));
        };
        let shape = fixed_shape(&val.ty);
        if shape.len() != 2 {
            return Err(Error::unsupported(
                node,
                format!("table {} must be f32[rows, dim]", val.ty),
            ));
        }
        self.lir.tables.push(TableRef {
            name: val.name.clone(),
            param: pid,
            rows: shape[0],
            dim: shape[1],
            dtype: DType::F32,
            hot_rows: Vec::new(),
        });
        let t = self.lir.tables.len() - 1;
        self.tables.insert(v, t);
        Ok(t)
    }

    /// A `k × n` GEMM weight from a parameter stored `[n, k]` (`transposed`) or `[k, n]`.
    fn weight(&mut self, v: ValueId, transposed: bool) -> Result<crate::lir::ConstId, Error> {
        let val = self.g.value(v);
        let shape = fixed_shape(&val.ty);
        let pid = match val.def {
            ValueDef::Param(p) => p,
            _ => unreachable!("weight of a non-parameter"),
        };
        let params = ParamValues::open(self.g, pid, None)?;
        let (k, n) = if transposed {
            (shape[1], shape[0])
        } else {
            (shape[0], shape[1])
        };
        let data = weight_matrix(&params, k as usize, n as usize, transposed)?;
        Ok(self.lir.add_const(Const {
            name: val.name.clone(),
            dtype: DType::F32,
            data: ConstData::F32(data),
            role: ConstRole::Weight { k, n },
            channel_scales: None,
        }))
    }

    fn out_shape(&self, v: ValueId, node: &str) -> Result<Vec<u64>, Error> {
        per_sample_shape(self.g.ty(v), node)
    }

    /// Broadcasts an operand (an IR value) to the per-sample shape `out`.
    fn broadcast(&mut self, v: ValueId, out: &[u64], node: &str) -> Result<View, Error> {
        let view = self.operand(v, node)?;
        let batched = self.g.ty(v).has_batch();
        let dims = if batched {
            view.dims.clone()
        } else {
            // A parameter: its shape aligns right against [B, out...]; a leading 1 may stand for B.
            let mut d = view.dims.clone();
            while d.len() > out.len() {
                if d[0].size != 1 {
                    return Err(Error::unsupported(
                        node,
                        format!(
                            "constant operand %{} varies along the batch dimension",
                            self.g.value_name(v)
                        ),
                    ));
                }
                d.remove(0);
            }
            d
        };
        let pad = out.len() - dims.len();
        let mut full = vec![Dim::new(1, 0); pad];
        full.extend(dims);
        for (d, &o) in full.iter_mut().zip(out) {
            if d.size != o {
                if d.size != 1 {
                    return Err(Error::unsupported(node, "operands do not broadcast"));
                }
                *d = Dim::new(o, 0);
            }
        }
        Ok(View {
            base: view.base,
            offset: view.offset,
            dims: full,
        })
    }

    fn vpu(&mut self, op: VOp, dst: &View, a: View, b: Option<View>, node: &str) {
        self.push(
            KOp::Vpu {
                op,
                dst: dst.clone(),
                a,
                b,
            },
            node,
        );
    }

    fn scalar(&mut self, name: String, value: f32) -> View {
        let c = self.lir.vector_f32(name, vec![value]);
        View {
            base: Base::Const(c),
            offset: 0,
            dims: vec![Dim::new(1, 0)],
        }
    }

    fn node(&mut self, nid: NodeId) -> Result<(), Error> {
        let g = self.g;
        let node = g.node(nid);
        let label = g.node_label(nid);
        let out = node.outputs[0];
        let oname = g.value_name(out).to_string();
        match &node.op {
            Op::EmbeddingBag { pooling, .. } => {
                if node.inputs.len() == 3 {
                    let table = self.table(node.inputs[0], &label)?;
                    let input = |v: ValueId| match g.value(v).def {
                        ValueDef::Input(i) => Ok(i),
                        _ => Err(Error::unsupported(
                            &label,
                            format!(
                                "ragged ids and offsets must be model inputs; %{} is computed",
                                g.value_name(v)
                            ),
                        )),
                    };
                    let (ids, offsets) = (input(node.inputs[1])?, input(node.inputs[2])?);
                    let dim = self.lir.tables[table].dim;
                    let dst = self.new_tensor(&oname, &[dim], Some(out));
                    self.push(
                        KOp::GatherRagged {
                            table,
                            ids,
                            offsets,
                            pooling: *pooling,
                            dst: dst.clone(),
                        },
                        &label,
                    );
                    self.set(out, dst);
                    return Ok(());
                }
                let table = self.table(node.inputs[0], &label)?;
                let idx = self.operand(node.inputs[1], &label)?;
                let hot = idx.numel();
                let dim = self.lir.tables[table].dim;
                let dst = self.new_tensor(&oname, &[dim], Some(out));
                self.push(
                    KOp::Gather {
                        table,
                        idx,
                        hotness: hot,
                        pooling: Some(*pooling),
                        dst: dst.clone(),
                        engine: true,
                    },
                    &label,
                );
                self.set(out, dst);
            }
            Op::Embedding => {
                let table = self.table(node.inputs[0], &label)?;
                let idx = self.operand(node.inputs[1], &label)?;
                let shape = self.out_shape(out, &label)?;
                let dst = self.new_tensor(&oname, &shape, Some(out));
                self.push(
                    KOp::Gather {
                        table,
                        idx: idx.clone(),
                        hotness: idx.numel(),
                        pooling: None,
                        dst: dst.clone(),
                        engine: true,
                    },
                    &label,
                );
                self.set(out, dst);
            }
            Op::Linear { act } => {
                let a = self.operand(node.inputs[0], &label)?;
                let a = self.ensure_tensor(a, &format!("{oname}.in"), &label);
                let w = self.weight(node.inputs[1], true)?;
                let (k, n) = match self.lir.konst(w).role {
                    ConstRole::Weight { k, n } => (k, n),
                    ConstRole::Vector => unreachable!(),
                };
                let bias = match node.inputs.get(2) {
                    Some(&b) => {
                        let values = self.param_values(b)?;
                        Some(self.lir.vector_f32(g.value_name(b).to_string(), values))
                    }
                    None => None,
                };
                let shape = self.out_shape(out, &label)?;
                let dst = self.new_tensor(&oname, &shape, Some(out));
                self.push(
                    KOp::Gemm(Box::new(Gemm {
                        a,
                        a_value: g.value_name(node.inputs[0]).to_string(),
                        w,
                        k,
                        n,
                        cols: (0, n),
                        bias,
                        act: *act,
                        dst: dst.clone(),
                        precision: None,
                        epilogue: None,
                        tiles: None,
                    })),
                    &label,
                );
                self.set(out, dst);
            }
            Op::MatMul { transpose_b } => {
                let (av, bv) = (node.inputs[0], node.inputs[1]);
                let shape = self.out_shape(out, &label)?;
                let a = self.operand(av, &label)?;
                let a = self.ensure_tensor(a, &format!("{oname}.a"), &label);
                let dst = self.new_tensor(&oname, &shape, Some(out));
                if g.is_param(bv) {
                    if g.ty(bv).rank() != 2 {
                        return Err(Error::unsupported(
                            label,
                            "a parameter right-hand side must be a matrix",
                        ));
                    }
                    let w = self.weight(bv, *transpose_b)?;
                    let (k, n) = match self.lir.konst(w).role {
                        ConstRole::Weight { k, n } => (k, n),
                        ConstRole::Vector => unreachable!(),
                    };
                    self.push(
                        KOp::Gemm(Box::new(Gemm {
                            a,
                            a_value: g.value_name(av).to_string(),
                            w,
                            k,
                            n,
                            cols: (0, n),
                            bias: None,
                            act: Activation::None,
                            dst: dst.clone(),
                            precision: None,
                            epilogue: None,
                            tiles: None,
                        })),
                        &label,
                    );
                } else {
                    let b = self.operand(bv, &label)?;
                    if !g.ty(bv).has_batch() {
                        return Err(Error::unsupported(label, "unbatched right-hand side"));
                    }
                    if a.dims.len() != b.dims.len() {
                        return Err(Error::unsupported(
                            label,
                            "batched matmul operands must have the same rank",
                        ));
                    }
                    self.push(
                        KOp::Bmm(Box::new(Bmm {
                            a,
                            b,
                            a_values: vec![g.value_name(av).to_string()],
                            b_values: vec![g.value_name(bv).to_string()],
                            transpose_b: *transpose_b,
                            dst: dst.clone(),
                            precision: None,
                            dequant: None,
                        })),
                        &label,
                    );
                }
                self.set(out, dst);
            }
            Op::Unary(u) => {
                let shape = self.out_shape(out, &label)?;
                let a = self.operand(node.inputs[0], &label)?;
                let dst = self.new_tensor(&oname, &shape, Some(out));
                self.vpu(VOp::Unary(*u), &dst, a, None, &label);
                self.set(out, dst);
            }
            Op::Binary(op) => {
                let shape = self.out_shape(out, &label)?;
                let a = self.broadcast(node.inputs[0], &shape, &label)?;
                let b = self.broadcast(node.inputs[1], &shape, &label)?;
                let dst = self.new_tensor(&oname, &shape, Some(out));
                match op {
                    BinaryOp::Add => self.vpu(VOp::Add, &dst, a, Some(b), &label),
                    BinaryOp::Sub => self.vpu(VOp::Sub, &dst, a, Some(b), &label),
                    BinaryOp::Mul => self.vpu(VOp::Mul, &dst, a, Some(b), &label),
                    BinaryOp::Div => {
                        // No divide instruction: a · (1/b), one more rounding than a division.
                        let r = self.new_tensor(&format!("{oname}.recip"), &b.shape(), None);
                        let dense_b = View {
                            dims: b.dims.clone(),
                            ..b.clone()
                        };
                        self.vpu(VOp::Recip, &r, dense_b, None, &label);
                        let mut rv = r.clone();
                        for (d, bd) in rv.dims.iter_mut().zip(&b.dims) {
                            if bd.stride == 0 {
                                d.stride = 0;
                            }
                        }
                        self.vpu(VOp::Mul, &dst, a, Some(rv), &label);
                    }
                }
                self.set(out, dst);
            }
            Op::Concat { axis } => {
                let shape = self.out_shape(out, &label)?;
                let ax = axis - 1;
                let dst = self.new_tensor(&oname, &shape, Some(out));
                let mut start = 0;
                for &i in &node.inputs {
                    let w = self.out_shape(i, &label)?[ax];
                    let slot = dst.slice(ax, start, start + w);
                    self.place_into(i, &slot, &label)?;
                    start += w;
                }
                self.set(out, dst);
            }
            Op::Reshape { .. } | Op::Flatten { .. } => {
                let shape = self.out_shape(out, &label)?;
                let a = self.operand(node.inputs[0], &label)?;
                let r = self.reshaped(a, &shape, &oname, &label);
                self.set(out, r);
            }
            Op::Transpose { perm } => {
                if perm.first() != Some(&0) {
                    return Err(Error::unsupported(
                        label,
                        "transposes must keep the batch dimension first",
                    ));
                }
                let a = self.operand(node.inputs[0], &label)?;
                let p: Vec<usize> = perm[1..].iter().map(|&x| x - 1).collect();
                self.set(out, a.permute(&p));
            }
            Op::Slice { axis, start, end } => {
                let a = self.operand(node.inputs[0], &label)?;
                self.set(out, a.slice(axis - 1, *start, *end));
            }
            Op::Split { axis, sizes } => {
                let a = self.operand(node.inputs[0], &label)?;
                let mut s = 0;
                for (k, &o) in node.outputs.iter().enumerate() {
                    self.set(o, a.slice(axis - 1, s, s + sizes[k]));
                    s += sizes[k];
                }
            }
            Op::DotInteraction { self_interaction } => {
                self.interaction(nid, *self_interaction)?;
            }
            Op::LayerNorm { eps } => {
                let shape = self.out_shape(out, &label)?;
                let x = self.operand(node.inputs[0], &label)?;
                let gamma = self.operand(node.inputs[1], &label)?;
                let beta = self.operand(node.inputs[2], &label)?;
                let d = *shape.last().unwrap_or(&1);
                let rows: Vec<u64> = shape[..shape.len() - 1].to_vec();
                let dst = self.new_tensor(&oname, &shape, Some(out));
                let stat =
                    |l: &mut Self, tag: &str| l.new_tensor(&format!("{oname}.{tag}"), &rows, None);
                let row_bcast = |v: &View| -> View {
                    let mut dims = v.dims.clone();
                    dims.push(Dim::new(d, 0));
                    View { dims, ..v.clone() }
                };
                let mean = stat(self, "mean");
                self.push(
                    KOp::Reduce {
                        max: false,
                        src: x.clone(),
                        dst: mean.clone(),
                    },
                    &label,
                );
                self.vpu(
                    VOp::Scale(1.0 / d as f32),
                    &mean,
                    mean.clone(),
                    None,
                    &label,
                );
                // dst = x - mean, then var = mean((x - mean)^2).
                self.vpu(VOp::Sub, &dst, x, Some(row_bcast(&mean)), &label);
                let sq = self.new_tensor(&format!("{oname}.sq"), &shape, None);
                self.vpu(VOp::Mul, &sq, dst.clone(), Some(dst.clone()), &label);
                let var = stat(self, "var");
                self.push(
                    KOp::Reduce {
                        max: false,
                        src: sq,
                        dst: var.clone(),
                    },
                    &label,
                );
                self.vpu(VOp::Scale(1.0 / d as f32), &var, var.clone(), None, &label);
                let mut e = self.scalar(format!("{oname}.eps"), *eps);
                e.dims = var.dims.iter().map(|x| Dim::new(x.size, 0)).collect();
                self.vpu(VOp::Add, &var, var.clone(), Some(e), &label);
                self.vpu(VOp::Rsqrt, &var, var.clone(), None, &label);
                self.vpu(VOp::Mul, &dst, dst.clone(), Some(row_bcast(&var)), &label);
                let gb = self.broadcast(node.inputs[1], &shape, &label)?;
                let bb = self.broadcast(node.inputs[2], &shape, &label)?;
                let _ = (gamma, beta);
                self.vpu(VOp::Mul, &dst, dst.clone(), Some(gb), &label);
                self.vpu(VOp::Add, &dst, dst.clone(), Some(bb), &label);
                self.set(out, dst);
            }
            Op::Softmax { axis } => {
                let shape = self.out_shape(out, &label)?;
                if *axis != shape.len() {
                    return Err(Error::unsupported(
                        label,
                        format!(
                            "softmax over axis {axis} of rank {}: only the last axis is supported",
                            shape.len() + 1
                        ),
                    ));
                }
                let x = self.operand(node.inputs[0], &label)?;
                let d = *shape.last().unwrap_or(&1);
                let rows: Vec<u64> = shape[..shape.len() - 1].to_vec();
                let dst = self.new_tensor(&oname, &shape, Some(out));
                let row_bcast = |v: &View| -> View {
                    let mut dims = v.dims.clone();
                    dims.push(Dim::new(d, 0));
                    View { dims, ..v.clone() }
                };
                let mx = self.new_tensor(&format!("{oname}.max"), &rows, None);
                self.push(
                    KOp::Reduce {
                        max: true,
                        src: x.clone(),
                        dst: mx.clone(),
                    },
                    &label,
                );
                self.vpu(VOp::Sub, &dst, x, Some(row_bcast(&mx)), &label);
                self.vpu(VOp::Unary(UnaryOp::Exp), &dst, dst.clone(), None, &label);
                let sum = self.new_tensor(&format!("{oname}.sum"), &rows, None);
                self.push(
                    KOp::Reduce {
                        max: false,
                        src: dst.clone(),
                        dst: sum.clone(),
                    },
                    &label,
                );
                self.vpu(VOp::Recip, &sum, sum.clone(), None, &label);
                self.vpu(VOp::Mul, &dst, dst.clone(), Some(row_bcast(&sum)), &label);
                self.set(out, dst);
            }
            Op::Reduce { kind, axis } => {
                let in_shape = self.out_shape(node.inputs[0], &label)?;
                let shape = self.out_shape(out, &label)?;
                let x = self.operand(node.inputs[0], &label)?;
                let ax = axis - 1;
                let len = in_shape[ax];
                let dst = self.new_tensor(&oname, &shape, Some(out));
                let max = *kind == ReduceKind::Max;
                if ax + 1 == in_shape.len() {
                    self.push(
                        KOp::Reduce {
                            max,
                            src: x,
                            dst: dst.clone(),
                        },
                        &label,
                    );
                } else {
                    // Over a middle axis: a chain of elementwise ops, in index order.
                    let slice = |i: u64| {
                        let mut s = x.slice(ax, i, i + 1);
                        s.dims.remove(ax);
                        s
                    };
                    self.vpu(VOp::Copy, &dst, slice(0), None, &label);
                    for i in 1..len {
                        let op = if max { VOp::Max } else { VOp::Add };
                        self.vpu(op, &dst, dst.clone(), Some(slice(i)), &label);
                    }
                }
                if *kind == ReduceKind::Mean {
                    self.vpu(
                        VOp::Scale(1.0 / len as f32),
                        &dst,
                        dst.clone(),
                        None,
                        &label,
                    );
                }
                self.set(out, dst);
            }
            Op::CrossLayer | Op::TargetAttention { .. } | Op::SeqAttention { .. } => {
                return Err(Error::unsupported(
                    label,
                    "composite op reached lowering (legalize::decompose must run first)",
                ));
            }
        }
        Ok(())
    }

    /// DLRM dot interaction: stack the features `[n, d]`, one batched `T·Tᵀ` per sample, then
    /// copy the strictly lower triangle row by row (row `i` holds `i` contiguous pairs).
    fn interaction(&mut self, nid: NodeId, self_interaction: bool) -> Result<(), Error> {
        let g = self.g;
        let node = g.node(nid);
        let label = g.node_label(nid);
        let out = node.outputs[0];
        let oname = g.value_name(out).to_string();
        let (stack, n, d, values) = if node.inputs.len() == 1 {
            let s = self.out_shape(node.inputs[0], &label)?;
            let v = self.operand(node.inputs[0], &label)?;
            (
                v,
                s[0],
                s[1],
                vec![g.value_name(node.inputs[0]).to_string()],
            )
        } else {
            let n = node.inputs.len() as u64;
            let d = self.out_shape(node.inputs[0], &label)?[0];
            let stack = self.new_tensor(&format!("{oname}.features"), &[n, d], None);
            let mut values = Vec::new();
            for (i, &f) in node.inputs.iter().enumerate() {
                let slot = stack
                    .slice(0, i as u64, i as u64 + 1)
                    .reshape(&[d])
                    .expect("a row");
                self.place_into(f, &slot, &label)?;
                values.push(g.value_name(f).to_string());
            }
            (stack, n, d, values)
        };
        let z = self.new_tensor(&format!("{oname}.gram"), &[n, n], None);
        self.push(
            KOp::Bmm(Box::new(Bmm {
                a: stack.clone(),
                b: stack,
                a_values: values.clone(),
                b_values: values,
                transpose_b: true,
                dst: z.clone(),
                precision: None,
                dequant: None,
            })),
            &label,
        );
        let _ = d;
        let shape = self.out_shape(out, &label)?;
        let dst = self.new_tensor(&oname, &shape, Some(out));
        let mut p = 0;
        for i in 0..n {
            let len = if self_interaction { i + 1 } else { i };
            if len == 0 {
                continue;
            }
            let src = z
                .slice(0, i, i + 1)
                .slice(1, 0, len)
                .reshape(&[len])
                .expect("a row");
            self.vpu(VOp::Copy, &dst.slice(0, p, p + len), src, None, &label);
            p += len;
        }
        self.set(out, dst);
        Ok(())
    }
}

/// Rows of `k × n` weights one parallel task fills (a few hundred KiB of f32).
const WEIGHT_ROWS_PER_TASK: usize = 64;

/// The `k × n` row-major values of a parameter stored `[k, n]`, or `[n, k]` when
/// `transposed`. Procedural parameters are evaluated element by element in the target order
/// (each value is a pure function of its stored index), so no transpose pass over a
/// materialized copy is needed; other sources are materialized and transposed in blocks. Row
/// blocks are filled in parallel; every element is computed the same way on any thread.
pub fn weight_matrix(
    params: &ParamValues,
    k: usize,
    n: usize,
    transposed: bool,
) -> Result<Vec<f32>, Error> {
    use rayon::prelude::*;
    let mut out = vec![0f32; k * n];
    if k == 0 || n == 0 {
        return Ok(out);
    }
    let chunk = n * WEIGHT_ROWS_PER_TASK;
    match (params.procedural(), transposed) {
        (Some(p), true) => {
            out.par_chunks_mut(chunk).enumerate().for_each(|(c, rows)| {
                for (r, row) in rows.chunks_mut(n).enumerate() {
                    let i = (c * WEIGHT_ROWS_PER_TASK + r) as u64;
                    for (j, o) in row.iter_mut().enumerate() {
                        *o = p.value(j as u64 * k as u64 + i);
                    }
                }
            });
        }
        (Some(p), false) => {
            out.par_chunks_mut(chunk).enumerate().for_each(|(c, rows)| {
                p.fill((c * chunk) as u64, rows);
            });
        }
        (None, false) => params.fill_range(0, &mut out)?,
        (None, true) => {
            let values = params.materialize()?;
            // Stored [n][k]: 32 × 32 blocks keep both sides in cache.
            const B: usize = 32;
            out.par_chunks_mut(n * B).enumerate().for_each(|(c, rows)| {
                let i0 = c * B;
                let bi = rows.len() / n;
                for j0 in (0..n).step_by(B) {
                    for j in j0..(j0 + B).min(n) {
                        for r in 0..bi {
                            rows[r * n + j] = values[j * k + i0 + r];
                        }
                    }
                }
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use seedchip_ir::Pooling;

    fn small_dlrm() -> Graph {
        let mut b = GraphBuilder::new("mini");
        let x = b.dense_input("dense", 13);
        let bot = b
            .named("bot")
            .mlp(x, &[16, 8], Activation::Relu, Activation::Relu);
        let e0 = b.embedding_bag("t0", 100, 8, Pooling::Sum, 3);
        let e1 = b.embedding_bag("t1", 50, 8, Pooling::Sum, 1);
        let z = b.named("inter").dot_interaction(&[bot, e0, e1], false);
        let cat = b.concat(&[bot, z], 1);
        let p = b
            .named("top")
            .mlp(cat, &[4, 1], Activation::Relu, Activation::Sigmoid);
        b.output("prob", p);
        b.finish().unwrap()
    }

    #[test]
    fn weight_matrix_equals_the_materialized_transpose() {
        // Odd sizes spanning several parallel row blocks, from procedural and inline values.
        for (r, c) in [(1, 1), (3, 70), (130, 33), (65, 129)] {
            let mut b = GraphBuilder::new("w");
            let x = b.dense_input("x", c);
            let y = b.named("l").linear(x, r, Activation::None);
            b.output("y", y);
            let mut g = b.finish().unwrap();
            for data in [false, true] {
                let pid = g
                    .params
                    .iter()
                    .position(|p| g.values[p.value.index()].ty.rank() == 2)
                    .unwrap();
                if data {
                    let values = (0..r * c).map(|i| (i as f32).sin()).collect();
                    g.params[pid].init = seedchip_ir::init::Init::Data { values };
                }
                let pv = ParamValues::open(&g, seedchip_ir::ParamId(pid as u32), None).unwrap();
                let stored = pv.materialize().unwrap();
                let (r, c) = (r as usize, c as usize);
                // Stored [r][c]: as k × n directly, and transposed (k = c, n = r).
                assert_eq!(weight_matrix(&pv, r, c, false).unwrap(), stored);
                let t = weight_matrix(&pv, c, r, true).unwrap();
                for i in 0..c {
                    for j in 0..r {
                        assert_eq!(t[i * r + j].to_bits(), stored[j * c + i].to_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn gathers_write_into_the_interaction_stack() {
        let g = decompose(&small_dlrm()).unwrap();
        let lir = lower(&g).unwrap();
        let gathers: Vec<&View> = lir
            .kernels
            .iter()
            .filter_map(|k| match &k.op {
                KOp::Gather { dst, .. } => Some(dst),
                _ => None,
            })
            .collect();
        assert_eq!(gathers.len(), 2);
        // Rows 1 and 2 of the [3, 8] stack.
        assert_eq!(gathers[0].offset, 8);
        assert_eq!(gathers[1].offset, 16);
        assert_eq!(gathers[0].base, gathers[1].base);
        // The bottom MLP output has two readers, so it is copied into row 0.
        let copies = lir
            .kernels
            .iter()
            .filter(|k| matches!(k.op, KOp::Vpu { op: VOp::Copy, .. }))
            .count();
        // 1 (bottom → stack) + 2 (triangle rows 1, 2) + 1 (bottom → top concat).
        assert_eq!(copies, 4);
    }

    #[test]
    fn decomposition_keeps_names_and_parameters() {
        let mut b = GraphBuilder::new("cross");
        let x = b.dense_input("x", 6);
        let y = b.named("cross").cross_net(x, 2, 3);
        b.output("y", y);
        let g = b.finish().unwrap();
        let d = decompose(&g).unwrap();
        for p in &g.params {
            assert!(d.find_param(g.value_name(p.value)).is_some());
        }
        assert!(d.find_value("cross.1").is_some());
        assert!(d.nodes.iter().all(|n| !matches!(n.op, Op::CrossLayer)));
        assert_eq!(d.outputs[0].name, "y");
    }
}
