//! IR peepholes run after lowering, and the final clean-up.
//!
//! Exporters spell one IR op as several ONNX ops (`Gemm` then `Relu`; `Gather` then
//! `ReduceSum`). Lowering maps ops one by one, then these rewrites merge the pieces back, each
//! only when the intermediate value has no other reader, so the result computes exactly what
//! the pieces did. Rewrites replace the *last* node of a group in place, keeping its result
//! name and position; the earlier pieces become dead and [`compact`] drops them.

use std::collections::BTreeMap;

use seedchip_ir::{
    Activation, BinaryOp, Dim, Graph, Node, NodeId, Op, Pooling, ReduceKind, UnaryOp, ValueDef,
    ValueId,
};

/// Nodes reachable backwards from the outputs.
fn live_nodes(g: &Graph) -> Vec<bool> {
    let mut live = vec![false; g.nodes.len()];
    let mut stack: Vec<ValueId> = g.outputs.iter().map(|o| o.value).collect();
    while let Some(v) = stack.pop() {
        if let Some(val) = g.values.get(v.index())
            && let ValueDef::Node(n, _) = val.def
            && !live[n.index()]
        {
            live[n.index()] = true;
            stack.extend(&g.nodes[n.index()].inputs);
        }
    }
    live
}

struct View {
    live: Vec<bool>,
    uses: Vec<usize>,
}

impl View {
    fn new(g: &Graph) -> Self {
        let live = live_nodes(g);
        let mut uses = vec![0; g.values.len()];
        for (n, node) in g.nodes.iter().enumerate() {
            if live[n] {
                for &v in &node.inputs {
                    uses[v.index()] += 1;
                }
            }
        }
        for o in &g.outputs {
            uses[o.value.index()] += 1;
        }
        View { live, uses }
    }
}

/// The live node defining `v` with exactly one reader.
fn single_use_def(g: &Graph, view: &View, v: ValueId) -> Option<NodeId> {
    if view.uses[v.index()] != 1 {
        return None;
    }
    match g.value(v).def {
        ValueDef::Node(n, 0) if view.live[n.index()] => Some(n),
        _ => None,
    }
}

fn node(g: &Graph, n: NodeId) -> &Node {
    g.node(n)
}

fn is_bias_param(g: &Graph, v: ValueId, out: u64) -> bool {
    g.is_param(v) && g.ty(v).shape == [Dim::Fixed(out)]
}

fn act_of(u: UnaryOp) -> Option<Activation> {
    Some(match u {
        UnaryOp::Relu => Activation::Relu,
        UnaryOp::Sigmoid => Activation::Sigmoid,
        UnaryOp::Tanh => Activation::Tanh,
        UnaryOp::Gelu => Activation::Gelu,
        UnaryOp::Silu => Activation::Silu,
        UnaryOp::Neg | UnaryOp::Exp => return None,
    })
}

/// Checks that a rewrite keeps the node's result type (the IR's own inference decides).
fn keeps_type(g: &Graph, n: usize, op: &Op, inputs: &[ValueId]) -> bool {
    let tys: Vec<_> = inputs.iter().map(|&v| g.ty(v)).collect();
    match seedchip_ir::infer::infer(op, &tys) {
        Ok(out) => {
            out.len() == g.nodes[n].outputs.len()
                && out
                    .iter()
                    .zip(&g.nodes[n].outputs)
                    .all(|(t, &o)| *t == *g.ty(o))
        }
        Err(_) => false,
    }
}

/// One rewrite of node `n`, if a pattern ends there.
fn rewrite(g: &Graph, view: &View, n: usize) -> Option<(Op, Vec<ValueId>)> {
    let nd = &g.nodes[n];
    match &nd.op {
        // x * sigmoid(x) → silu(x)
        Op::Binary(BinaryOp::Mul) => {
            let (a, b) = (nd.inputs[0], nd.inputs[1]);
            for (x, s) in [(a, b), (b, a)] {
                if let Some(sn) = single_use_def(g, view, s)
                    && node(g, sn).op == Op::Unary(UnaryOp::Sigmoid)
                    && node(g, sn).inputs[0] == x
                {
                    return Some((Op::Unary(UnaryOp::Silu), vec![x]));
                }
            }
            None
        }
        // linear(x, w) + b → linear(x, w, b)
        Op::Binary(BinaryOp::Add) => {
            let (a, b) = (nd.inputs[0], nd.inputs[1]);
            for (l, bias) in [(a, b), (b, a)] {
                if let Some(ln) = single_use_def(g, view, l) {
                    let lin = node(g, ln);
                    if lin.op
                        == (Op::Linear {
                            act: Activation::None,
                        })
                        && lin.inputs.len() == 2
                        && let Some(Dim::Fixed(out)) = g.ty(lin.inputs[1]).shape.first().copied()
                        && is_bias_param(g, bias, out)
                    {
                        return Some((
                            Op::Linear {
                                act: Activation::None,
                            },
                            vec![lin.inputs[0], lin.inputs[1], bias],
                        ));
                    }
                }
            }
            cross_layer(g, view, n)
        }
        // act(linear(...)) → linear(...) act=act
        Op::Unary(u) => {
            let act = act_of(*u)?;
            let ln = single_use_def(g, view, nd.inputs[0])?;
            let lin = node(g, ln);
            (lin.op
                == (Op::Linear {
                    act: Activation::None,
                }))
            .then(|| (Op::Linear { act }, lin.inputs.clone()))
        }
        // matmul(a, transpose(b)) → matmul(a, b) transpose_b
        Op::MatMul { transpose_b } => {
            let tn = single_use_def(g, view, nd.inputs[1])?;
            let Op::Transpose { perm } = &node(g, tn).op else {
                return None;
            };
            let r = perm.len();
            let swaps_last = r >= 2
                && perm[..r - 2].iter().copied().eq(0..r - 2)
                && perm[r - 2] == r - 1
                && perm[r - 1] == r - 2;
            swaps_last.then(|| {
                (
                    Op::MatMul {
                        transpose_b: !transpose_b,
                    },
                    vec![nd.inputs[0], node(g, tn).inputs[0]],
                )
            })
        }
        // reduce(embedding(table, idx[B, h]), axis 1) → embedding_bag
        Op::Reduce { kind, axis: 1 } => {
            let en = single_use_def(g, view, nd.inputs[0])?;
            let emb = node(g, en);
            if emb.op != Op::Embedding || g.ty(emb.inputs[1]).rank() != 2 {
                return None;
            }
            let pooling = match kind {
                ReduceKind::Sum => Pooling::Sum,
                ReduceKind::Mean => Pooling::Mean,
                ReduceKind::Max => Pooling::Max,
            };
            Some((
                Op::EmbeddingBag {
                    pooling,
                    mean_pooling: None,
                },
                emb.inputs.clone(),
            ))
        }
        // dot_interaction(reshape(concat(v1..vn)) to [B, n, d]) → dot_interaction(v1..vn)
        Op::DotInteraction { self_interaction } if nd.inputs.len() == 1 => {
            let rn = single_use_def(g, view, nd.inputs[0])?;
            if !matches!(node(g, rn).op, Op::Reshape { .. }) {
                return None;
            }
            let cn = single_use_def(g, view, node(g, rn).inputs[0])?;
            let cat = node(g, cn);
            if cat.op != (Op::Concat { axis: 1 }) {
                return None;
            }
            let first = g.ty(cat.inputs[0]);
            let stacked = g.ty(nd.inputs[0]);
            let ok = first.rank() == 2
                && cat.inputs.iter().all(|&v| g.ty(v) == first)
                && stacked.shape.len() == 3
                && stacked.shape[0] == first.shape[0]
                && stacked.shape[1] == Dim::Fixed(cat.inputs.len() as u64)
                && stacked.shape[2] == first.shape[1];
            ok.then(|| {
                (
                    Op::DotInteraction {
                        self_interaction: *self_interaction,
                    },
                    cat.inputs.clone(),
                )
            })
        }
        _ => None,
    }
}

/// `x0 ⊙ linear(linear(xl, v), w, b) + xl` → the DCNv2 cross layer.
fn cross_layer(g: &Graph, view: &View, n: usize) -> Option<(Op, Vec<ValueId>)> {
    let nd = &g.nodes[n];
    let (a, b) = (nd.inputs[0], nd.inputs[1]);
    for (m, xl) in [(a, b), (b, a)] {
        let Some(mn) = single_use_def(g, view, m) else {
            continue;
        };
        let mul = node(g, mn);
        if mul.op != Op::Binary(BinaryOp::Mul) {
            continue;
        }
        for (x0, l2) in [
            (mul.inputs[0], mul.inputs[1]),
            (mul.inputs[1], mul.inputs[0]),
        ] {
            let Some(l2n) = single_use_def(g, view, l2) else {
                continue;
            };
            let lin2 = node(g, l2n);
            if lin2.op
                != (Op::Linear {
                    act: Activation::None,
                })
                || lin2.inputs.len() != 3
            {
                continue;
            }
            let Some(l1n) = single_use_def(g, view, lin2.inputs[0]) else {
                continue;
            };
            let lin1 = node(g, l1n);
            if lin1.op
                != (Op::Linear {
                    act: Activation::None,
                })
                || lin1.inputs.len() != 2
                || lin1.inputs[0] != xl
            {
                continue;
            }
            return Some((
                Op::CrossLayer,
                vec![x0, xl, lin1.inputs[1], lin2.inputs[1], lin2.inputs[2]],
            ));
        }
    }
    None
}

/// Applies the rewrites until none matches.
pub(crate) fn peephole(g: &mut Graph) {
    loop {
        let view = View::new(g);
        let mut changed = false;
        for n in 0..g.nodes.len() {
            if !view.live[n] {
                continue;
            }
            if let Some((op, inputs)) = rewrite(g, &view, n)
                && keeps_type(g, n, &op, &inputs)
            {
                g.nodes[n].op = op;
                g.nodes[n].inputs = inputs;
                changed = true;
                // Use counts are stale now; start over with a fresh view.
                break;
            }
        }
        if !changed {
            return;
        }
    }
}

/// A copy of `g` without dead nodes and unused parameters. Parameters are ordered by
/// `rank` (their initializer's position in the file), then by first use.
pub(crate) fn compact(g: &Graph, rank: &BTreeMap<String, usize>) -> Graph {
    let live = live_nodes(g);
    let mut used = vec![false; g.values.len()];
    for (n, node) in g.nodes.iter().enumerate() {
        if live[n] {
            for &v in &node.inputs {
                used[v.index()] = true;
            }
        }
    }
    for o in &g.outputs {
        used[o.value.index()] = true;
    }
    let mut out = Graph::new(g.name.clone());
    let mut map: BTreeMap<ValueId, ValueId> = BTreeMap::new();
    for &v in &g.inputs {
        let val = g.value(v);
        map.insert(v, out.add_input(val.name.clone(), val.ty.clone()));
    }
    let mut params: Vec<(usize, usize)> = g
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| used[p.value.index()])
        .map(|(i, p)| {
            (
                rank.get(g.value_name(p.value))
                    .copied()
                    .unwrap_or(usize::MAX),
                i,
            )
        })
        .collect();
    params.sort();
    for (_, i) in params {
        let p = &g.params[i];
        let val = g.value(p.value);
        map.insert(
            p.value,
            out.add_param(val.name.clone(), val.ty.clone(), p.init.clone()),
        );
    }
    for (n, node) in g.nodes.iter().enumerate() {
        if !live[n] {
            continue;
        }
        let inputs = node.inputs.iter().map(|v| map[v]).collect();
        let outs = node
            .outputs
            .iter()
            .map(|&o| (g.value_name(o).to_string(), g.ty(o).clone()))
            .collect();
        let nid = out.add_node(node.op.clone(), inputs, outs);
        for (&o, &no) in node.outputs.iter().zip(&out.nodes[nid.index()].outputs) {
            map.insert(o, no);
        }
    }
    for o in &g.outputs {
        out.add_output(o.name.clone(), map[&o.value]);
    }
    out
}
