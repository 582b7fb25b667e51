//! ONNX → IR import.
//!
//! The pipeline, in order:
//! 1. structure: opsets, initializers, inputs, producers and consumers, a topological order
//!    (ONNX requires one, but files break the rule; a cycle is an error naming a node on it);
//! 2. [`patterns`]: subgraphs that mean one IR op (PyTorch's `EmbeddingBag` loop, erf GELU, the
//!    DLRM dot interaction, seedchip's own attention functions) are claimed before lowering,
//!    because their pieces (a `Loop`, an `Erf`, a gather from an activation) have no IR form;
//! 3. liveness from the graph outputs, so helper nodes a pattern absorbed are never lowered;
//! 4. lowering in topological order ([`lower`]), folding constants and shape arithmetic
//!    ([`fold`]); every failure is recorded and lowering goes on, so one error lists every
//!    unsupported node;
//! 5. IR peepholes ([`fuse`]): linear + bias + activation, `Gather` + `Reduce*` as embedding
//!    bags, SiLU, the DCNv2 cross layer; then dead code is dropped and the graph verified.

pub(crate) mod fold;
mod fuse;
pub(crate) mod lower;
pub(crate) mod patterns;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use seedchip_ir::{DType, Dim, Graph, Op, TensorType, ValueId};

use crate::error::{Error, UnsupportedNode};
use crate::names::Names;
use crate::proto::{
    GraphProto, ModelProto, NodeProto, TensorProto, is_default_domain, tensor_shape_proto,
    type_proto,
};
use crate::tensor::{self, Const};

/// Oldest opset of the default domain the importer accepts.
pub const MIN_OPSET: i64 = 13;
/// Newest opset of the default domain the importer accepts.
pub const MAX_OPSET: i64 = 21;

/// Choices the file itself may not settle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The symbolic input dimension that is the batch. By default the one most inputs start
    /// with (names such as `batch` or `B` win ties).
    pub batch_dim: Option<String>,
    /// Sizes for other symbolic input dimensions (a sequence length, say); the IR keeps only
    /// the batch symbolic.
    pub dims: BTreeMap<String, u64>,
}

/// Imports an `.onnx` file; external data is resolved against its directory.
pub fn import_file(path: &Path, options: &ImportOptions) -> Result<Graph, Error> {
    let (model, base) = read_model(path)?;
    import_model(&model, Some(&base), options)
}

/// Imports a model from bytes; `base_dir` resolves external data.
pub fn import_bytes(
    bytes: &[u8],
    base_dir: Option<&Path>,
    options: &ImportOptions,
) -> Result<Graph, Error> {
    let model = crate::decode(bytes, "<bytes>")?;
    import_model(&model, base_dir, options)
}

/// Imports a decoded model.
pub fn import_model(
    model: &ModelProto,
    base_dir: Option<&Path>,
    options: &ImportOptions,
) -> Result<Graph, Error> {
    let a = analyze(model, base_dir, options)?;
    if !a.unsupported.is_empty() {
        return Err(Error::Unsupported {
            nodes: a.unsupported,
        });
    }
    seedchip_ir::verify(&a.graph)?;
    Ok(a.graph)
}

pub(crate) fn read_model(path: &Path) -> Result<(ModelProto, PathBuf), Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    let model = crate::decode(&bytes, &path.display().to_string())?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let base = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    Ok((model, base))
}

/// What happened to one ONNX node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// Became IR ops (or an alias of an IR value).
    Lowered,
    /// Evaluated at import time (constants, shape arithmetic).
    Folded,
    /// Absorbed into an IR op by the named pattern.
    Pattern(&'static str),
    Unsupported(String),
    /// Not needed by any output.
    Unused,
    /// Supported, but not lowered because an input comes from an unsupported node.
    Blocked,
}

pub(crate) struct Analysis {
    pub graph: Graph,
    /// Per top-level node in file order: its proto and status.
    pub nodes: Vec<(usize, Status)>,
    pub unsupported: Vec<UnsupportedNode>,
    pub opset: i64,
}

/// A tensor's value during lowering.
#[derive(Debug, Clone)]
enum Val {
    Ir(ValueId),
    Const(Rc<Const>),
    /// An initializer, materialized only when used (so tables stay in their files), possibly
    /// seen through a 2-D transpose (`MatMul(x, Transpose(W))` is a linear layer on `W`).
    Init {
        name: String,
        transposed: bool,
    },
    /// Produced by a node that could not be lowered.
    Poison,
}

/// Why a node could not be lowered.
#[derive(Debug)]
enum Fail {
    Unsupported(String),
    /// An input is poisoned: the real problem was reported upstream.
    Poisoned,
    /// A problem with the file itself (a bad tensor): import stops.
    Fatal(Error),
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail::Unsupported(s)
    }
}

impl From<&str> for Fail {
    fn from(s: &str) -> Self {
        Fail::Unsupported(s.to_string())
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Fatal(e)
    }
}

type LResult<T> = Result<T, Fail>;

pub(crate) struct Session<'m> {
    g: &'m GraphProto,
    model: &'m ModelProto,
    base_dir: Option<PathBuf>,
    opsets: BTreeMap<String, i64>,
    /// Top-level nodes in topological order (indices into `g.node`).
    order: Vec<usize>,
    producer: BTreeMap<&'m str, (usize, usize)>,
    /// Consumers of each tensor (node indices; subgraph captures count), plus graph outputs.
    consumers: BTreeMap<&'m str, Vec<usize>>,
    graph_outputs: BTreeSet<&'m str>,
    inits: BTreeMap<&'m str, &'m TensorProto>,
    init_index: BTreeMap<&'m str, usize>,
    /// Implicit inputs (captured outer tensors) of nodes with subgraphs.
    captures: BTreeMap<usize, Vec<String>>,
    vals: BTreeMap<String, Val>,
    decoded: BTreeMap<String, Rc<Const>>,
    params: BTreeMap<(String, bool), ValueId>,
    /// IR parameter name → position of its initializer (for a stable parameter order).
    param_rank: BTreeMap<String, usize>,
    ir: Graph,
    names: Names,
    /// Names minted by `helper_name` and not yet given to a value.
    helpers: BTreeSet<String>,
    options: &'m ImportOptions,
}

impl<'m> Session<'m> {
    fn opset_of(&self, domain: &str) -> i64 {
        if is_default_domain(domain) {
            self.opset()
        } else {
            self.opsets.get(domain).copied().unwrap_or(0)
        }
    }

    fn opset(&self) -> i64 {
        self.opsets.get("").copied().unwrap_or(0)
    }

    pub(crate) fn node(&self, i: usize) -> &'m NodeProto {
        &self.g.node[i]
    }

    /// The node producing `t`, if any.
    pub(crate) fn producer(&self, t: &str) -> Option<(usize, &'m NodeProto)> {
        self.producer.get(t).map(|&(n, _)| (n, self.node(n)))
    }

    /// Number of readers of `t`, graph outputs included.
    pub(crate) fn uses(&self, t: &str) -> usize {
        self.consumers.get(t).map_or(0, Vec::len) + usize::from(self.graph_outputs.contains(t))
    }

    pub(crate) fn is_initializer(&self, t: &str) -> bool {
        self.inits.contains_key(t)
    }

    /// The initializer behind `t`.
    pub(crate) fn initializer(&self, t: &str) -> Option<&'m TensorProto> {
        self.inits.get(t).copied()
    }

    /// `t` as a constant when it is an initializer or a `Constant` node's output.
    pub(crate) fn static_const(&mut self, t: &str) -> Option<Rc<Const>> {
        if let Some(init) = self.initializer(t) {
            return self.decode_init(init).ok();
        }
        let (_, n) = self.producer(t)?;
        if n.op_type == "Constant" && is_default_domain(&n.domain) {
            return lower::constant_value(n).ok().map(Rc::new);
        }
        None
    }

    fn decode_init(&mut self, init: &TensorProto) -> Result<Rc<Const>, Error> {
        if let Some(c) = self.decoded.get(&init.name) {
            return Ok(c.clone());
        }
        let c = Rc::new(tensor::decode(init, self.base_dir.as_deref())?);
        self.decoded.insert(init.name.clone(), c.clone());
        Ok(c)
    }

    fn ty(&self, v: ValueId) -> &TensorType {
        self.ir.ty(v)
    }

    fn set(&mut self, t: &str, v: Val) {
        if !t.is_empty() {
            self.vals.insert(t.to_string(), v);
        }
    }

    fn val(&self, t: &str) -> LResult<&Val> {
        self.vals.get(t).ok_or_else(|| {
            Fail::Unsupported(format!(
                "input {t} has no value (produced by a node that was not lowered)"
            ))
        })
    }

    /// Appends an IR node; result types come from the IR's own inference, whose message
    /// becomes the unsupported-node reason when the operands do not fit.
    fn emit(&mut self, op: Op, inputs: Vec<ValueId>, outs: &[&str]) -> LResult<Vec<ValueId>> {
        let types: Vec<&TensorType> = inputs.iter().map(|&v| self.ir.ty(v)).collect();
        let tys = seedchip_ir::infer::infer(&op, &types)
            .map_err(|m| Fail::Unsupported(format!("as IR {}: {m}", op.name())))?;
        let names: Vec<(String, TensorType)> = outs
            .iter()
            .zip(tys)
            .map(|(n, t)| {
                let name = if self.helpers.remove(*n) {
                    n.to_string()
                } else {
                    self.names.claim(n)
                };
                (name, t)
            })
            .collect();
        let nid = self.ir.add_node(op, inputs, names);
        let vs = self.ir.nodes[nid.index()].outputs.clone();
        for (o, &v) in outs.iter().zip(&vs) {
            self.set(o, Val::Ir(v));
        }
        Ok(vs)
    }

    fn emit1(&mut self, op: Op, inputs: Vec<ValueId>, out: &str) -> LResult<ValueId> {
        Ok(self.emit(op, inputs, &[out])?[0])
    }

    /// A name for an IR value that no ONNX tensor has.
    fn helper_name(&mut self, base: &str) -> String {
        let n = self.names.fresh(base);
        self.helpers.insert(n.clone());
        n
    }

    /// Captured outer names of a node's subgraphs (recursively).
    fn subgraph_captures(node: &NodeProto) -> Vec<String> {
        fn walk(g: &GraphProto, outer: &mut BTreeSet<String>) {
            let mut local: BTreeSet<&str> = g.input.iter().map(|i| i.name.as_str()).collect();
            local.extend(g.initializer.iter().map(|i| i.name.as_str()));
            for n in &g.node {
                local.extend(n.output.iter().map(String::as_str));
            }
            for n in &g.node {
                for i in &n.input {
                    if !i.is_empty() && !local.contains(i.as_str()) {
                        outer.insert(i.clone());
                    }
                }
                for a in &n.attribute {
                    let mut inner = BTreeSet::new();
                    for sg in a.g.iter().chain(&a.graphs) {
                        walk(sg, &mut inner);
                    }
                    outer.extend(inner.into_iter().filter(|x| !local.contains(x.as_str())));
                }
            }
        }
        let mut outer = BTreeSet::new();
        for a in &node.attribute {
            for sg in a.g.iter().chain(&a.graphs) {
                walk(sg, &mut outer);
            }
        }
        outer.into_iter().collect()
    }
}

/// Builds the session: everything up to (not including) lowering.
fn prepare<'m>(
    model: &'m ModelProto,
    base_dir: Option<&Path>,
    options: &'m ImportOptions,
) -> Result<Session<'m>, Error> {
    let g = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::Model("the model has no graph".into()))?;
    let mut opsets = BTreeMap::new();
    for o in &model.opset_import {
        let d = if is_default_domain(&o.domain) {
            ""
        } else {
            o.domain.as_str()
        };
        opsets.insert(d.to_string(), o.version);
    }
    let opset = *opsets.get("").ok_or_else(|| {
        Error::Model("the model imports no opset of the default ONNX domain".into())
    })?;
    if !(MIN_OPSET..=MAX_OPSET).contains(&opset) {
        return Err(Error::Opset {
            version: opset,
            min: MIN_OPSET,
            max: MAX_OPSET,
        });
    }
    if !g.sparse_initializer.is_empty() {
        return Err(Error::Model("sparse initializers are not supported".into()));
    }
    let mut inits = BTreeMap::new();
    let mut init_index = BTreeMap::new();
    for (i, t) in g.initializer.iter().enumerate() {
        if t.name.is_empty() {
            return Err(Error::Model(format!("initializer #{i} has no name")));
        }
        if inits.insert(t.name.as_str(), t).is_some() {
            return Err(Error::Model(format!(
                "initializer {} is defined twice",
                t.name
            )));
        }
        init_index.insert(t.name.as_str(), i);
    }
    let mut producer = BTreeMap::new();
    let mut defined: BTreeSet<&str> = inits.keys().copied().collect();
    for i in &g.input {
        if !inits.contains_key(i.name.as_str()) && !defined.insert(i.name.as_str()) {
            return Err(Error::Model(format!(
                "graph input {} is declared twice",
                i.name
            )));
        }
    }
    for (ni, n) in g.node.iter().enumerate() {
        for (k, o) in n.output.iter().enumerate() {
            if o.is_empty() {
                continue;
            }
            if !defined.insert(o.as_str()) || producer.insert(o.as_str(), (ni, k)).is_some() {
                return Err(Error::Model(format!(
                    "tensor {o} is defined more than once (node {})",
                    n.label()
                )));
            }
        }
    }
    let mut captures = BTreeMap::new();
    let mut consumers: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (ni, n) in g.node.iter().enumerate() {
        let caps = Session::subgraph_captures(n);
        for i in n.input.iter().filter(|i| !i.is_empty()) {
            if !defined.contains(i.as_str()) {
                return Err(Error::Model(format!(
                    "node {} reads tensor {i}, which no input, initializer or node defines",
                    n.label()
                )));
            }
            consumers.entry(i.as_str()).or_default().push(ni);
        }
        for c in &caps {
            if let Some(&k) = defined.get(c.as_str()) {
                consumers.entry(k).or_default().push(ni);
            }
        }
        if !caps.is_empty() {
            captures.insert(ni, caps);
        }
    }
    let graph_outputs: BTreeSet<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
    for o in &graph_outputs {
        if !defined.contains(o) {
            return Err(Error::Model(format!(
                "graph output {o} is not produced by any node"
            )));
        }
    }
    // Kahn's algorithm, smallest file index first, so a sorted file keeps its order.
    let n = g.node.len();
    let mut indeg = vec![0usize; n];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (ni, node) in g.node.iter().enumerate() {
        let caps = captures.get(&ni).map(Vec::as_slice).unwrap_or(&[]);
        for i in node
            .input
            .iter()
            .chain(caps)
            .filter(|i| !i.is_empty())
            .collect::<BTreeSet<_>>()
        {
            if let Some(&(p, _)) = producer.get(i.as_str()) {
                indeg[ni] += 1;
                users[p].push(ni);
            }
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &u in &users[i] {
            indeg[u] -= 1;
            if indeg[u] == 0 {
                ready.insert(u);
            }
        }
    }
    if order.len() != n {
        let stuck = (0..n).find(|&i| indeg[i] > 0).unwrap_or(0);
        return Err(Error::Model(format!(
            "the graph has a cycle through node {} ({})",
            g.node[stuck].label(),
            g.node[stuck].op_type
        )));
    }
    let mut names = Names::default();
    names.reserve(
        g.input
            .iter()
            .map(|i| i.name.as_str())
            .chain(inits.keys().copied())
            .chain(producer.keys().copied()),
    );
    Ok(Session {
        g,
        model,
        base_dir: base_dir.map(Path::to_path_buf),
        opsets,
        order,
        producer,
        consumers,
        graph_outputs,
        inits,
        init_index,
        captures,
        vals: BTreeMap::new(),
        decoded: BTreeMap::new(),
        params: BTreeMap::new(),
        param_rank: BTreeMap::new(),
        ir: Graph::new(if g.name.is_empty() {
            "onnx".to_string()
        } else {
            g.name.clone()
        }),
        names,
        helpers: BTreeSet::new(),
        options,
    })
}

/// Declares the graph inputs, deciding which symbolic dimension is the batch.
fn declare_inputs(s: &mut Session<'_>) -> Result<(), Error> {
    struct In<'a> {
        name: &'a str,
        dtype: DType,
        dims: Vec<Result<u64, String>>,
    }
    let mut ins = Vec::new();
    for (k, vi) in s.g.input.iter().enumerate() {
        if s.inits.contains_key(vi.name.as_str()) {
            continue;
        }
        let err = |m: String| Error::Model(format!("graph input {}: {m}", vi.name));
        let Some(type_proto::Value::TensorType(tt)) =
            vi.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            return Err(err("only tensor inputs are supported".into()));
        };
        let dtype = match crate::proto::DataType::try_from(tt.elem_type) {
            Ok(crate::proto::DataType::Float) => DType::F32,
            Ok(crate::proto::DataType::Int64) => DType::I64,
            Ok(crate::proto::DataType::Int32) => DType::I32,
            _ => {
                return Err(err(format!(
                    "element type {} is not supported (float, int64 and int32 are)",
                    tensor::type_name(tt.elem_type)
                )));
            }
        };
        let shape = tt
            .shape
            .as_ref()
            .ok_or_else(|| err("the input has no shape (rank unknown)".into()))?;
        let dims = shape
            .dim
            .iter()
            .enumerate()
            .map(|(i, d)| match &d.value {
                Some(tensor_shape_proto::dimension::Value::DimValue(v)) if *v >= 0 => Ok(*v as u64),
                Some(tensor_shape_proto::dimension::Value::DimParam(p)) if !p.is_empty() => {
                    Err(p.clone())
                }
                _ => Err(format!("?{k}.{i}")),
            })
            .collect();
        ins.push(In {
            name: vi.name.as_str(),
            dtype,
            dims,
        });
    }
    let batch = match &s.options.batch_dim {
        Some(b) => Some(b.clone()),
        None => {
            // Score each symbol by how many inputs start with it; conventional names break ties.
            let mut score: BTreeMap<&str, (usize, bool, usize)> = BTreeMap::new();
            for (k, i) in ins.iter().enumerate() {
                if let Some(Err(p)) = i.dims.first() {
                    let lower = p.to_lowercase();
                    let named = lower.contains("batch") || lower == "b" || lower == "bs";
                    let e = score
                        .entry(p.as_str())
                        .or_insert((0, named, usize::MAX - k));
                    e.0 += 1;
                }
            }
            score
                .iter()
                .max_by_key(|(_, v)| **v)
                .map(|(k, _)| k.to_string())
        }
    };
    for i in ins {
        let mut shape = Vec::with_capacity(i.dims.len());
        for (axis, d) in i.dims.iter().enumerate() {
            shape.push(match d {
                Ok(v) => Dim::Fixed(*v),
                Err(p) if Some(p) == batch.as_ref() => Dim::Batch,
                Err(p) => match s.options.dims.get(p) {
                    Some(&v) => Dim::Fixed(v),
                    None if i.dims.len() == 1 && i.dtype.is_int() => Dim::Dyn,
                    None => {
                        return Err(Error::Model(format!(
                            "graph input {}: dimension {axis} is symbolic ({p}) and not the batch{}; give its size (ImportOptions::dims)",
                            i.name,
                            batch.as_ref().map(|b| format!(" ({b})")).unwrap_or_default()
                        )));
                    }
                },
            });
        }
        if shape.iter().filter(|d| **d == Dim::Batch).count() > 1 {
            return Err(Error::Model(format!(
                "graph input {} has the batch dimension more than once",
                i.name
            )));
        }
        let name = s.names.claim(i.name);
        let v = s.ir.add_input(name, TensorType::new(i.dtype, shape));
        s.set(i.name, Val::Ir(v));
    }
    Ok(())
}

pub(crate) fn analyze(
    model: &ModelProto,
    base_dir: Option<&Path>,
    options: &ImportOptions,
) -> Result<Analysis, Error> {
    let mut s = prepare(model, base_dir, options)?;
    declare_inputs(&mut s)?;
    for (&name, _) in s.inits.clone().iter() {
        s.set(
            name,
            Val::Init {
                name: name.to_string(),
                transposed: false,
            },
        );
    }
    let (fused, claimed) = patterns::find(&mut s);

    // Liveness from the outputs, through pattern operands instead of pattern internals.
    let mut live = vec![false; s.g.node.len()];
    let mut stack: Vec<&str> = s.g.output.iter().map(|o| o.name.as_str()).collect();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while let Some(t) = stack.pop() {
        if !seen.insert(t.to_string()) {
            continue;
        }
        let Some(&(p, _)) = s.producer.get(t) else {
            continue;
        };
        if live[p] {
            continue;
        }
        live[p] = true;
        let node = s.node(p);
        match fused.get(&p) {
            Some(f) => {
                for o in f.operands() {
                    if let Some((k, _)) = s.producer.get_key_value(o) {
                        stack.push(k);
                    }
                }
            }
            None => {
                for i in node.input.iter().filter(|i| !i.is_empty()) {
                    stack.push(i.as_str());
                }
                for c in s.captures.get(&p).into_iter().flatten() {
                    if let Some((k, _)) = s.producer.get_key_value(c.as_str()) {
                        stack.push(k);
                    }
                }
            }
        }
    }

    let mut status: BTreeMap<usize, Status> = BTreeMap::new();
    let mut unsupported = Vec::new();
    for k in 0..s.order.len() {
        let i = s.order[k];
        let node = s.node(i);
        if !live[i] {
            status.insert(
                i,
                match claimed.get(&i) {
                    Some(p) => Status::Pattern(p),
                    None => Status::Unused,
                },
            );
            continue;
        }
        let result = match fused.get(&i) {
            Some(f) => s.lower_fused(i, f).map(|()| Status::Pattern(f.name())),
            None => s.lower_node(i),
        };
        let st = match result {
            Ok(st) => st,
            Err(Fail::Fatal(e)) => return Err(e),
            Err(Fail::Poisoned) if fused.contains_key(&i) => Status::Blocked,
            Err(Fail::Poisoned) => match lower::static_support(node, s.opset_of(&node.domain)) {
                Ok(()) => Status::Blocked,
                Err(reason) => Status::Unsupported(reason),
            },
            Err(Fail::Unsupported(reason)) => Status::Unsupported(reason),
        };
        if !matches!(st, Status::Lowered | Status::Folded | Status::Pattern(_)) {
            for o in &node.output {
                s.set(o, Val::Poison);
            }
        }
        if let Status::Unsupported(reason) = &st {
            unsupported.push(UnsupportedNode {
                name: node.label(),
                op: node.op_type.clone(),
                domain: if is_default_domain(&node.domain) {
                    String::new()
                } else {
                    node.domain.clone()
                },
                opset: s.opset_of(&node.domain),
                reason: reason.clone(),
            });
        }
        status.insert(i, st);
    }

    // A helper only patterns read (a constant feeding the absorbed nodes) belongs to them.
    for &i in s.order.iter().rev() {
        if status.get(&i) != Some(&Status::Unused) {
            continue;
        }
        let mut owner = None;
        let all = s.node(i).output.iter().filter(|o| !o.is_empty()).all(|o| {
            s.consumers.get(o.as_str()).is_some_and(|cs| {
                !cs.is_empty()
                    && cs.iter().all(|c| match status.get(c) {
                        Some(Status::Pattern(p)) => {
                            owner = Some(*p);
                            true
                        }
                        _ => false,
                    })
            })
        });
        if all && let Some(p) = owner {
            status.insert(i, Status::Pattern(p));
        }
    }

    for o in &s.g.output {
        match s.vals.get(&o.name) {
            Some(Val::Ir(v)) => {
                let name = crate::names::sanitize(&o.name);
                s.ir.add_output(name, *v);
            }
            Some(Val::Poison) => {}
            Some(_) => {
                let (name, op) = s
                    .producer(&o.name)
                    .map(|(_, n)| (n.label(), n.op_type.clone()))
                    .unwrap_or_else(|| (o.name.clone(), "<initializer>".into()));
                unsupported.push(UnsupportedNode {
                    name,
                    op,
                    domain: String::new(),
                    opset: s.opset(),
                    reason: format!(
                        "graph output {} is a constant; the IR needs computed outputs",
                        o.name
                    ),
                });
            }
            None => {}
        }
    }

    let mut graph = std::mem::take(&mut s.ir);
    if unsupported.is_empty() {
        fuse::peephole(&mut graph);
        graph = fuse::compact(&graph, &s.param_rank);
    }
    let mut nodes: Vec<(usize, Status)> = status.into_iter().collect();
    nodes.sort_by_key(|(i, _)| *i);
    let opset = s.opset();
    Ok(Analysis {
        graph,
        nodes,
        unsupported,
        opset,
    })
}
