//! A builder that lets model definitions read like the papers they come from.
//!
//! Every method returns the new value directly instead of a `Result`: the first mistake (a shape
//! mismatch, a duplicate name) is remembered, later calls become no-ops on a poison value, and
//! [`GraphBuilder::finish`] reports that first mistake with the node it happened at. Model code
//! stays a straight line of calls while user-facing errors still never panic.
//!
//! Naming: a node takes the name given by [`GraphBuilder::named`] just before it, or
//! `<op>_<n>`. Its parameters are `<node>.w`, `<node>.b`, ...; results of `split` are
//! `<node>.0`, `<node>.1`, .... Names key the procedural weights, so a model keeps its weights
//! as long as its names do.

use std::collections::{BTreeMap, BTreeSet};

use crate::Error;
use crate::graph::{Graph, ValueDef, ValueId};
use crate::infer::infer;
use crate::init::{Init, embedding_bound, linear_bound};
use crate::op::{Activation, AttentionKernel, BinaryOp, Op, Pooling, ReduceKind, UnaryOp};
use crate::types::{DType, Dim, TensorType};
use crate::verify::{is_valid_name, verify};

#[derive(Debug)]
pub struct GraphBuilder {
    g: Graph,
    seed: u64,
    pending: Option<String>,
    counters: BTreeMap<&'static str, u32>,
    names: BTreeSet<String>,
    error: Option<Error>,
    poison: Option<ValueId>,
}

impl GraphBuilder {
    pub fn new(name: impl Into<String>) -> Self {
        GraphBuilder {
            g: Graph::new(name),
            seed: 0,
            pending: None,
            counters: BTreeMap::new(),
            names: BTreeSet::new(),
            error: None,
            poison: None,
        }
    }

    /// Seed of the procedural parameters created from now on.
    pub fn set_seed(&mut self, seed: u64) -> &mut Self {
        self.seed = seed;
        self
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Names the next node (and, through it, its parameters).
    pub fn named(&mut self, name: impl Into<String>) -> &mut Self {
        self.pending = Some(name.into());
        self
    }

    /// The graph so far (for inspection while building).
    pub fn graph(&self) -> &Graph {
        &self.g
    }

    /// Type of a value, or `None` for an id this builder did not create.
    pub fn ty(&self, v: ValueId) -> Option<&TensorType> {
        self.g.values.get(v.index()).map(|x| &x.ty)
    }

    /// Size of the last dimension (feature width), 0 when unknown.
    pub fn width(&self, v: ValueId) -> u64 {
        self.ty(v)
            .and_then(|t| t.last_dim())
            .and_then(Dim::fixed)
            .unwrap_or(0)
    }

    /// The first error recorded so far.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    fn fail(&mut self, location: String, message: String) -> ValueId {
        if self.error.is_none() {
            self.error = Some(Error::Build {
                graph: self.g.name.clone(),
                location,
                message,
            });
        }
        self.poison()
    }

    fn poison(&mut self) -> ValueId {
        // A value outside every list: never printed, never verified, since finish() fails first.
        if let Some(p) = self.poison {
            return p;
        }
        let p = ValueId::from_index(self.g.values.len());
        self.g.values.push(crate::graph::Value {
            name: "<poison>".into(),
            ty: TensorType::new(DType::F32, vec![]),
            def: ValueDef::Input(usize::MAX),
        });
        self.poison = Some(p);
        p
    }

    fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn claim(&mut self, name: &str, location: &str) -> bool {
        if !is_valid_name(name) {
            self.fail(
                location.into(),
                format!("name {name:?} must use only [A-Za-z0-9_./-]"),
            );
            return false;
        }
        if !self.names.insert(name.to_string()) {
            self.fail(location.into(), format!("name {name:?} is already used"));
            return false;
        }
        true
    }

    fn node_name(&mut self, op: &'static str) -> String {
        if let Some(n) = self.pending.take() {
            return n;
        }
        loop {
            let c = self.counters.entry(op).or_insert(0);
            let name = format!("{op}_{c}");
            *c += 1;
            if !self.names.contains(&name) {
                return name;
            }
        }
    }

    fn check_ids(&mut self, ids: &[ValueId], location: &str) -> bool {
        for &v in ids {
            if v.index() >= self.g.values.len() {
                self.fail(
                    location.into(),
                    format!("operand {v} was not created by this builder"),
                );
                return false;
            }
        }
        true
    }

    /// Declares a graph input of any type.
    pub fn input(&mut self, name: &str, ty: TensorType) -> ValueId {
        if self.failed() || !self.claim(name, &format!("input %{name}")) {
            return self.poison();
        }
        self.g.add_input(name, ty)
    }

    /// Dense features `f32[B, n]`.
    pub fn dense_input(&mut self, name: &str, n: u64) -> ValueId {
        self.input(name, TensorType::batched(DType::F32, &[n]))
    }

    /// Fixed-pooling sparse feature `i64[B, hotness]`.
    pub fn sparse_input(&mut self, name: &str, hotness: u64) -> ValueId {
        self.input(name, TensorType::batched(DType::I64, &[hotness]))
    }

    /// Ragged sparse feature: `name: i64[?]` indices and `name.offsets: i64[B]`.
    pub fn sparse_input_ragged(&mut self, name: &str) -> (ValueId, ValueId) {
        let idx = self.input(name, TensorType::new(DType::I64, vec![Dim::Dyn]));
        let off = self.input(
            &format!("{name}.offsets"),
            TensorType::new(DType::I64, vec![Dim::Batch]),
        );
        (idx, off)
    }

    /// Declares a parameter with an explicit initializer.
    pub fn param(&mut self, name: &str, dims: &[u64], init: Init) -> ValueId {
        if self.failed() || !self.claim(name, &format!("param @{name}")) {
            return self.poison();
        }
        self.g
            .add_param(name, TensorType::fixed(DType::F32, dims), init)
    }

    fn uniform_param(&mut self, name: &str, dims: &[u64], fan_in: u64) -> ValueId {
        let init = Init::uniform(self.seed, linear_bound(fan_in));
        self.param(name, dims, init)
    }

    /// An embedding table `f32[rows, dim]`, uniform in ±sqrt(1/rows) (torchrec's default).
    pub fn embedding_table(&mut self, name: &str, rows: u64, dim: u64) -> ValueId {
        let init = Init::uniform(self.seed, embedding_bound(rows));
        self.param(name, &[rows, dim], init)
    }

    /// Appends a node; returns its results (poison values after an error).
    pub fn node(&mut self, op: Op, inputs: &[ValueId]) -> Vec<ValueId> {
        let n_out = op.num_outputs();
        let name = self.node_name(op.name());
        if self.failed() {
            return vec![self.poison(); n_out];
        }
        let location = format!("node %{name} ({})", op.name());
        if !self.check_ids(inputs, &location) {
            return vec![self.poison(); n_out];
        }
        let types: Vec<&TensorType> = inputs.iter().map(|&v| self.g.ty(v)).collect();
        let out_types = match infer(&op, &types) {
            Ok(t) => t,
            Err(m) => return vec![self.fail(location, m); n_out],
        };
        let mut outs = Vec::with_capacity(n_out);
        for (k, ty) in out_types.into_iter().enumerate() {
            let vname = if n_out == 1 {
                name.clone()
            } else {
                format!("{name}.{k}")
            };
            if !self.claim(&vname, &location) {
                return vec![self.poison(); n_out];
            }
            outs.push((vname, ty));
        }
        let nid = self.g.add_node(op, inputs.to_vec(), outs);
        self.g.node(nid).outputs.clone()
    }

    fn node1(&mut self, op: Op, inputs: &[ValueId]) -> ValueId {
        self.node(op, inputs)[0]
    }

    /// The name the next node will get, reserving it, so parameters can be named after it
    /// before the node exists.
    fn reserve_node_name(&mut self, op: &'static str) -> String {
        let name = self.node_name(op);
        self.pending = Some(name.clone());
        name
    }

    /// Pooled lookup into `table` (see [`Op::EmbeddingBag`]).
    pub fn bag(
        &mut self,
        table: ValueId,
        indices: ValueId,
        offsets: Option<ValueId>,
        pooling: Pooling,
    ) -> ValueId {
        let mut ins = vec![table, indices];
        ins.extend(offsets);
        self.node1(
            Op::EmbeddingBag {
                pooling,
                mean_pooling: None,
            },
            &ins,
        )
    }

    /// Ragged bag with an expected pooling factor for analysis.
    pub fn bag_ragged(
        &mut self,
        table: ValueId,
        indices: ValueId,
        offsets: ValueId,
        pooling: Pooling,
        mean_pooling: f64,
    ) -> ValueId {
        self.node1(
            Op::EmbeddingBag {
                pooling,
                mean_pooling: Some(mean_pooling),
            },
            &[table, indices, offsets],
        )
    }

    /// One sparse feature end to end: input `name: i64[B, hotness]`, table `name.table`, and the
    /// pooled result `name.bag: f32[B, dim]`.
    pub fn embedding_bag(
        &mut self,
        name: &str,
        rows: u64,
        dim: u64,
        pooling: Pooling,
        hotness: u64,
    ) -> ValueId {
        let idx = self.sparse_input(name, hotness);
        let table = self.embedding_table(&format!("{name}.table"), rows, dim);
        self.named(format!("{name}.bag"));
        self.bag(table, idx, None, pooling)
    }

    /// Like [`Self::embedding_bag`] with a ragged input (`name`, `name.offsets`).
    pub fn embedding_bag_ragged(
        &mut self,
        name: &str,
        rows: u64,
        dim: u64,
        pooling: Pooling,
        mean_pooling: f64,
    ) -> ValueId {
        let (idx, off) = self.sparse_input_ragged(name);
        let table = self.embedding_table(&format!("{name}.table"), rows, dim);
        self.named(format!("{name}.bag"));
        self.bag_ragged(table, idx, off, pooling, mean_pooling)
    }

    /// Unpooled lookup (see [`Op::Embedding`]).
    pub fn embedding(&mut self, table: ValueId, indices: ValueId) -> ValueId {
        self.node1(Op::Embedding, &[table, indices])
    }

    /// `x·wᵀ + b` then `act`, with PyTorch-style uniform(±1/sqrt(in)) weights and bias.
    pub fn linear(&mut self, x: ValueId, out: u64, act: Activation) -> ValueId {
        self.linear_impl(x, out, act, true)
    }

    pub fn linear_no_bias(&mut self, x: ValueId, out: u64, act: Activation) -> ValueId {
        self.linear_impl(x, out, act, false)
    }

    fn linear_impl(&mut self, x: ValueId, out: u64, act: Activation, bias: bool) -> ValueId {
        let name = self.reserve_node_name("linear");
        let k = self.width(x);
        let w = self.uniform_param(&format!("{name}.w"), &[out, k], k);
        let mut ins = vec![x, w];
        if bias {
            ins.push(self.uniform_param(&format!("{name}.b"), &[out], k));
        }
        self.pending = Some(name);
        self.node1(Op::Linear { act }, &ins)
    }

    /// A stack of linears: `hidden_act` after every layer but the last, `last_act` after it.
    /// Layers are named `<prefix>.<i>` when a name is pending, so towers read as `bot.0`, `bot.1`.
    pub fn mlp(
        &mut self,
        x: ValueId,
        sizes: &[u64],
        hidden_act: Activation,
        last_act: Activation,
    ) -> ValueId {
        let prefix = self.pending.take();
        let mut h = x;
        for (i, &s) in sizes.iter().enumerate() {
            if let Some(p) = &prefix {
                self.pending = Some(format!("{p}.{i}"));
            }
            let act = if i + 1 == sizes.len() {
                last_act
            } else {
                hidden_act
            };
            h = self.linear(h, s, act);
        }
        h
    }

    pub fn matmul(&mut self, a: ValueId, b: ValueId, transpose_b: bool) -> ValueId {
        self.node1(Op::MatMul { transpose_b }, &[a, b])
    }

    pub fn unary(&mut self, op: UnaryOp, x: ValueId) -> ValueId {
        self.node1(Op::Unary(op), &[x])
    }

    /// Applies an activation; `Activation::None` returns `x` unchanged (no node).
    pub fn activation(&mut self, x: ValueId, act: Activation) -> ValueId {
        match act.unary() {
            Some(u) => self.unary(u, x),
            None => x,
        }
    }

    pub fn relu(&mut self, x: ValueId) -> ValueId {
        self.unary(UnaryOp::Relu, x)
    }

    pub fn sigmoid(&mut self, x: ValueId) -> ValueId {
        self.unary(UnaryOp::Sigmoid, x)
    }

    pub fn binary(&mut self, op: BinaryOp, a: ValueId, b: ValueId) -> ValueId {
        self.node1(Op::Binary(op), &[a, b])
    }

    pub fn add(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.binary(BinaryOp::Add, a, b)
    }

    pub fn sub(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.binary(BinaryOp::Sub, a, b)
    }

    pub fn mul(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.binary(BinaryOp::Mul, a, b)
    }

    pub fn div(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.binary(BinaryOp::Div, a, b)
    }

    pub fn concat(&mut self, xs: &[ValueId], axis: usize) -> ValueId {
        self.node1(Op::Concat { axis }, xs)
    }

    pub fn reshape(&mut self, x: ValueId, shape: Vec<Dim>) -> ValueId {
        self.node1(Op::Reshape { shape }, &[x])
    }

    pub fn flatten(&mut self, x: ValueId, axis: usize) -> ValueId {
        self.node1(Op::Flatten { axis }, &[x])
    }

    pub fn transpose(&mut self, x: ValueId, perm: Vec<usize>) -> ValueId {
        self.node1(Op::Transpose { perm }, &[x])
    }

    pub fn slice(&mut self, x: ValueId, axis: usize, start: u64, end: u64) -> ValueId {
        self.node1(Op::Slice { axis, start, end }, &[x])
    }

    pub fn split(&mut self, x: ValueId, axis: usize, sizes: &[u64]) -> Vec<ValueId> {
        self.node(
            Op::Split {
                axis,
                sizes: sizes.to_vec(),
            },
            &[x],
        )
    }

    /// DLRM pairwise dot interaction over feature vectors `[B, d]`.
    pub fn dot_interaction(&mut self, features: &[ValueId], self_interaction: bool) -> ValueId {
        self.node1(Op::DotInteraction { self_interaction }, features)
    }

    /// One DCNv2 low-rank cross layer with fresh `v: [rank, d]`, `w: [d, rank]`, `b: [d]`.
    pub fn cross_layer(&mut self, x0: ValueId, xl: ValueId, rank: u64) -> ValueId {
        let name = self.reserve_node_name("cross_layer");
        let d = self.width(x0);
        let v = self.uniform_param(&format!("{name}.v"), &[rank, d], d);
        let w = self.uniform_param(&format!("{name}.w"), &[d, rank], rank);
        let b = self.uniform_param(&format!("{name}.b"), &[d], rank);
        self.pending = Some(name);
        self.node1(Op::CrossLayer, &[x0, xl, v, w, b])
    }

    /// `layers` cross layers starting from `x0` (torchrec `LowRankCrossNet`).
    pub fn cross_net(&mut self, x0: ValueId, layers: usize, rank: u64) -> ValueId {
        let prefix = self.pending.take();
        let mut x = x0;
        for i in 0..layers {
            if let Some(p) = &prefix {
                self.pending = Some(format!("{p}.{i}"));
            }
            x = self.cross_layer(x0, x, rank);
        }
        x
    }

    /// LayerNorm over the last axis with gamma = 1, beta = 0.
    pub fn layer_norm(&mut self, x: ValueId, eps: f32) -> ValueId {
        let name = self.reserve_node_name("layer_norm");
        let d = self.width(x);
        let gamma = self.param(&format!("{name}.gamma"), &[d], Init::Fill { value: 1.0 });
        let beta = self.param(&format!("{name}.beta"), &[d], Init::Fill { value: 0.0 });
        self.pending = Some(name);
        self.node1(Op::LayerNorm { eps }, &[x, gamma, beta])
    }

    pub fn softmax(&mut self, x: ValueId, axis: usize) -> ValueId {
        self.node1(Op::Softmax { axis }, &[x])
    }

    pub fn reduce(&mut self, x: ValueId, kind: ReduceKind, axis: usize) -> ValueId {
        self.node1(Op::Reduce { kind, axis }, &[x])
    }

    /// DIN target attention with an activation unit of the given hidden widths (a final width-1
    /// score layer is added).
    pub fn target_attention(
        &mut self,
        query: ValueId,
        keys: ValueId,
        hidden: &[u64],
        act: Activation,
    ) -> ValueId {
        let name = self.reserve_node_name("target_attention");
        let mut width = 4 * self.width(query);
        let mut ins = vec![query, keys];
        for (i, &h) in hidden.iter().chain(&[1]).enumerate() {
            ins.push(self.uniform_param(&format!("{name}.w{i}"), &[h, width], width));
            ins.push(self.uniform_param(&format!("{name}.b{i}"), &[h], width));
            width = h;
        }
        self.pending = Some(name);
        self.node1(Op::TargetAttention { act }, &ins)
    }

    /// Multi-head attention core over `q, k, v: [B, n, h·d]`.
    pub fn seq_attention(
        &mut self,
        [q, k, v]: [ValueId; 3],
        heads: u64,
        kernel: AttentionKernel,
        causal: bool,
        scale: f32,
    ) -> ValueId {
        self.node1(
            Op::SeqAttention {
                heads,
                kernel,
                causal,
                scale,
            },
            &[q, k, v],
        )
    }

    /// Exposes `v` as output `name`.
    pub fn output(&mut self, name: &str, v: ValueId) {
        if self.failed() {
            return;
        }
        if !is_valid_name(name) || self.g.outputs.iter().any(|o| o.name == name) {
            self.fail(
                format!("output \"{name}\""),
                "name is invalid or already used".into(),
            );
            return;
        }
        if !self.check_ids(&[v], &format!("output \"{name}\"")) {
            return;
        }
        self.g.add_output(name, v);
    }

    /// The verified graph, or the first error.
    pub fn finish(self) -> Result<Graph, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        verify(&self.g)?;
        Ok(self.g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_small_dlrm() {
        let mut b = GraphBuilder::new("mini");
        let x = b.dense_input("dense", 13);
        let bot = b
            .named("bot")
            .mlp(x, &[16, 8], Activation::Relu, Activation::Relu);
        let e0 = b.embedding_bag("t0", 100, 8, Pooling::Sum, 3);
        let e1 = b.embedding_bag("t1", 50, 8, Pooling::Mean, 1);
        let z = b.dot_interaction(&[bot, e0, e1], false);
        let cat = b.concat(&[bot, z], 1);
        let p = b
            .named("top")
            .mlp(cat, &[4, 1], Activation::Relu, Activation::Sigmoid);
        b.output("prob", p);
        let g = b.finish().unwrap();
        assert_eq!(g.ty(p).to_string(), "f32[B, 1]");
        assert!(g.find_param("bot.0.w").is_some());
        assert!(g.find_param("t1.table").is_some());
        assert_eq!(g.inputs.len(), 3);
    }

    #[test]
    fn first_error_names_the_node() {
        let mut b = GraphBuilder::new("bad");
        let x = b.dense_input("x", 4);
        let y = b.dense_input("y", 5);
        let s = b.named("sum").add(x, y);
        let _ = b.relu(s);
        let err = b.finish().unwrap_err().to_string();
        assert!(err.contains("node %sum (add)"), "{err}");
        assert!(err.contains("do not broadcast"), "{err}");
    }

    #[test]
    fn duplicate_names_are_errors() {
        let mut b = GraphBuilder::new("dup");
        let _ = b.dense_input("x", 4);
        let _ = b.dense_input("x", 4);
        assert!(b.finish().unwrap_err().to_string().contains("already used"));
    }
}
