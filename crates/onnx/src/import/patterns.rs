//! Subgraphs that mean one IR op, recognised on the ONNX graph before lowering.
//!
//! Only patterns whose pieces have no IR form live here: PyTorch's `nn.EmbeddingBag` export (a
//! `Loop` slicing the indices by offsets), the erf form of GELU (`Erf`), the DLRM dot
//! interaction (a `Gather` of a flattened `X·Xᵀ` by a constant lower-triangle index list) and
//! seedchip's own functions. Patterns over lowerable ops (linear + activation, `Gather` +
//! `ReduceSum`, SiLU, the cross layer) are IR peepholes in `fuse`, where types are known.
//!
//! A matcher claims nodes only when every intermediate it absorbs has no other reader, so a
//! match never changes what the rest of the graph sees.

use std::collections::{BTreeMap, BTreeSet};

use seedchip_ir::{Op, Pooling};

use super::Session;
use super::lower::constant_value;
use crate::proto::{GraphProto, NodeProto, is_default_domain};
use crate::tensor::Const;

/// What a fixed-pooling bag must satisfy at lowering time: PyTorch writes the offsets of a
/// `[B, h]` input as `Range(start, numel, delta)`, which is `0, h, 2h, ...` exactly when these
/// fold to 0 and `h`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FixedCheck {
    pub start: String,
    pub delta: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bag {
    pub table: String,
    pub indices: String,
    pub offsets: Option<String>,
    pub fixed: Option<FixedCheck>,
    pub pooling: Pooling,
    pub mean_pooling: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fused {
    Gelu {
        x: String,
    },
    Dot {
        x: String,
        n: usize,
        self_interaction: bool,
    },
    Bag(Bag),
    /// LayerNorm spelled out, as exporters write it before opset 17.
    LayerNorm {
        x: String,
        gamma: Option<String>,
        beta: Option<String>,
        eps: f32,
        axes: Vec<i64>,
    },
    /// A seedchip function call whose body was checked against the exporter's.
    Seedchip {
        op: Op,
        operands: Vec<String>,
    },
}

impl Fused {
    pub(crate) fn operands(&self) -> Vec<&str> {
        match self {
            Fused::Gelu { x } | Fused::Dot { x, .. } => vec![x.as_str()],
            Fused::Bag(b) => {
                let mut v = vec![b.table.as_str(), b.indices.as_str()];
                v.extend(b.offsets.as_deref());
                if let Some(f) = &b.fixed {
                    v.extend([f.start.as_str(), f.delta.as_str()]);
                }
                v
            }
            Fused::Seedchip { operands, .. } => operands.iter().map(String::as_str).collect(),
            Fused::LayerNorm { x, gamma, beta, .. } => std::iter::once(x.as_str())
                .chain(gamma.as_deref())
                .chain(beta.as_deref())
                .collect(),
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            Fused::Gelu { .. } => "gelu-erf",
            Fused::Dot { .. } => "dot-interaction",
            Fused::Bag(_) => "embedding-bag-loop",
            Fused::Seedchip { .. } => "seedchip-function",
            Fused::LayerNorm { .. } => "layer-norm",
        }
    }
}

/// The mean-pooling hint the exporter writes on a ragged bag's `Loop`.
pub(crate) const MEAN_POOLING_MARK: &str = "seedchip:mean_pooling=";

type Found = (BTreeMap<usize, Fused>, BTreeMap<usize, &'static str>);

pub(crate) fn find(s: &mut Session<'_>) -> Found {
    let mut fused = BTreeMap::new();
    let mut claimed: BTreeMap<usize, &'static str> = BTreeMap::new();
    for k in 0..s.order.len() {
        let i = s.order[k];
        if claimed.contains_key(&i) {
            continue;
        }
        let n = s.node(i);
        let found = if !is_default_domain(&n.domain) {
            crate::export::functions::recognise(s.model, n)
                .map(|(op, operands)| (Fused::Seedchip { op, operands }, vec![i]))
        } else {
            match n.op_type.as_str() {
                "Erf" => gelu(s, i),
                "Gather" => dot(s, i),
                "Loop" => bag(s, i),
                "Sqrt" => layer_norm(s, i),
                _ => None,
            }
        };
        if let Some((f, nodes)) = found {
            // The root is the last node of the match; the pattern is keyed by it.
            let root = *nodes.last().expect("a match has nodes");
            if claimed.contains_key(&root) || fused.contains_key(&root) {
                continue;
            }
            for x in nodes {
                claimed.entry(x).or_insert(f.name());
            }
            fused.insert(root, f);
        }
    }
    (fused, claimed)
}

impl<'m> Session<'m> {
    /// The node reading `t`, when it is the only reader (graph outputs count as readers).
    fn sole_consumer(&self, t: &str) -> Option<(usize, &'m NodeProto)> {
        if self.uses(t) != 1 {
            return None;
        }
        let &c = self.consumers.get(t)?.first()?;
        Some((c, self.node(c)))
    }

    /// A default-domain producer of `t` with the given op type.
    fn producer_op(&self, t: &str, op: &str) -> Option<(usize, &'m NodeProto)> {
        self.producer(t)
            .filter(|(_, n)| n.op_type == op && is_default_domain(&n.domain))
    }

    fn scalar(&mut self, t: &str) -> Option<f32> {
        let c = self.static_const(t)?;
        if c.numel() != 1 {
            return None;
        }
        c.to_f32().ok()?.first().copied()
    }

    /// For a binary node with a scalar constant operand: (the other operand, the constant).
    fn with_scalar(&mut self, n: &NodeProto) -> Option<(String, f32)> {
        let (a, b) = (n.input_opt(0)?, n.input_opt(1)?);
        if let Some(c) = self.scalar(b) {
            return Some((a.to_string(), c));
        }
        if n.op_type != "Div"
            && let Some(c) = self.scalar(a)
        {
            return Some((b.to_string(), c));
        }
        None
    }
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-3 * b.abs().max(1.0)
}

/// `x · ½ · (1 + erf(x / √2))` in the orders PyTorch and hand-written models use.
fn gelu<'m>(s: &mut Session<'m>, erf: usize) -> Option<(Fused, Vec<usize>)> {
    let e = s.node(erf);
    let d = e.input_opt(0)?;
    let (pd, scale) = s.producer(d)?;
    if s.uses(d) != 1 {
        return None;
    }
    let (x, c) = s.with_scalar(scale)?;
    let ok = match scale.op_type.as_str() {
        "Div" => close(c, std::f32::consts::SQRT_2),
        "Mul" => close(c, std::f32::consts::FRAC_1_SQRT_2),
        _ => false,
    };
    if !ok {
        return None;
    }
    let (ia, add) = s.sole_consumer(&e.output[0])?;
    if add.op_type != "Add" || s.with_scalar(add).map(|(_, c)| close(c, 1.0)) != Some(true) {
        return None;
    }
    let (im1, m1) = s.sole_consumer(&add.output[0])?;
    if m1.op_type != "Mul" {
        return None;
    }
    let other = if m1.input_opt(0)? == add.output[0] {
        m1.input_opt(1)?
    } else {
        m1.input_opt(0)?
    };
    // (a) Mul(x, 1 + erf) then Mul(·, 0.5).
    if other == x {
        let (im2, m2) = s.sole_consumer(&m1.output[0])?;
        if m2.op_type == "Mul" && s.with_scalar(m2).map(|(_, c)| close(c, 0.5)) == Some(true) {
            return Some((Fused::Gelu { x }, vec![pd, erf, ia, im1, im2]));
        }
        return None;
    }
    // (b) Mul(Mul(x, 0.5), 1 + erf).
    if let Some((ih, h)) = s.producer_op(other, "Mul")
        && s.uses(other) == 1
        && let Some((hx, c)) = s.with_scalar(h)
        && hx == x
        && close(c, 0.5)
    {
        return Some((Fused::Gelu { x }, vec![pd, erf, ia, ih, im1]));
    }
    // (c) Mul(x, Mul(1 + erf, 0.5)).
    if s.scalar(other).is_some_and(|c| close(c, 0.5)) {
        let (im2, m2) = s.sole_consumer(&m1.output[0])?;
        if m2.op_type == "Mul" {
            let y = if m2.input_opt(0)? == m1.output[0] {
                m2.input_opt(1)?
            } else {
                m2.input_opt(0)?
            };
            if y == x {
                return Some((Fused::Gelu { x }, vec![pd, erf, ia, im1, im2]));
            }
        }
    }
    None
}

/// `ReduceMean` axes (attribute before opset 18, input from 18) when it keeps dims.
fn mean_axes(s: &mut Session<'_>, n: &NodeProto) -> Option<Vec<i64>> {
    if n.op_type != "ReduceMean" || n.attr_int("keepdims").unwrap_or(1) != 1 {
        return None;
    }
    match n.input_opt(1) {
        Some(a) => s.static_const(a)?.known_ints().ok(),
        None => n.attr_ints("axes").map(<[i64]>::to_vec),
    }
}

/// `(x - mean(x)) / sqrt(mean((x - mean(x))²) + eps) * gamma + beta` over the last axis.
fn layer_norm<'m>(s: &mut Session<'m>, sq: usize) -> Option<(Fused, Vec<usize>)> {
    let sqrt = s.node(sq);
    let (ia, add) = s.producer_op(sqrt.input_opt(0)?, "Add")?;
    if s.uses(&add.output[0]) != 1 {
        return None;
    }
    let (var, eps) = s.with_scalar(add)?;
    let (iv, vm) = s.producer(&var)?;
    let axes = mean_axes(s, vm)?;
    if s.uses(&var) != 1 {
        return None;
    }
    let sqd = vm.input_opt(0)?;
    let (ip, pw) = s.producer(sqd)?;
    if s.uses(sqd) != 1 {
        return None;
    }
    let d = match pw.op_type.as_str() {
        "Pow" if s.scalar(pw.input_opt(1)?) == Some(2.0) => pw.input_opt(0)?,
        "Mul" if pw.input_opt(0) == pw.input_opt(1) => pw.input_opt(0)?,
        _ => return None,
    };
    let (isub, sub) = s.producer_op(d, "Sub")?;
    let x = sub.input_opt(0)?;
    let (im, mean) = s.producer(sub.input_opt(1)?)?;
    if mean.input_opt(0)? != x || mean_axes(s, mean)? != axes || s.uses(&mean.output[0]) != 1 {
        return None;
    }
    // d feeds the square and the division only.
    let (idiv, div) = s.sole_consumer(&sqrt.output[0])?;
    if div.op_type != "Div" || div.input_opt(0)? != d || s.uses(d) != 2 {
        return None;
    }
    let mut nodes = vec![im, isub, ip, iv, ia, sq, idiv];
    let mut out = div.output[0].as_str();
    let affine = |s: &mut Session<'m>, op: &str, nodes: &mut Vec<usize>, out: &mut &'m str| {
        let (i, n) = s.sole_consumer(out)?;
        if n.op_type != op {
            return None;
        }
        let other = if n.input_opt(0)? == *out {
            n.input_opt(1)?
        } else {
            n.input_opt(0)?
        };
        s.static_const(other)?;
        nodes.push(i);
        *out = n.output[0].as_str();
        Some(other.to_string())
    };
    let gamma = affine(s, "Mul", &mut nodes, &mut out);
    let beta = if gamma.is_some() {
        affine(s, "Add", &mut nodes, &mut out)
    } else {
        None
    };
    Some((
        Fused::LayerNorm {
            x: x.to_string(),
            gamma,
            beta,
            eps,
            axes,
        },
        nodes,
    ))
}

/// The row-major lower triangle `i * n + j` for `j < i` (or `j <= i`), DLRM's pair order.
pub(crate) fn triangle(n: usize, self_interaction: bool) -> Vec<i64> {
    let mut v = Vec::new();
    for i in 0..n {
        let end = if self_interaction { i + 1 } else { i };
        for j in 0..end {
            v.push((i * n + j) as i64);
        }
    }
    v
}

/// `Gather(Flatten(MatMul(X, Transpose(X))), lower-triangle indices, axis=1)`.
fn dot<'m>(s: &mut Session<'m>, g: usize) -> Option<(Fused, Vec<usize>)> {
    let gn = s.node(g);
    if gn.attr_int("axis").unwrap_or(0) != 1 {
        return None;
    }
    let idx = s.static_const(gn.input_opt(1)?)?;
    if idx.dims.len() != 1 {
        return None;
    }
    let idx = idx.known_ints().ok()?;
    let p = idx.len();
    let (n, self_interaction) = (1..=4096usize).find_map(|n| {
        if n * (n - 1) / 2 == p && triangle(n, false) == idx {
            Some((n, false))
        } else if n * (n + 1) / 2 == p && triangle(n, true) == idx {
            Some((n, true))
        } else {
            None
        }
    })?;
    let flat = gn.input_opt(0)?;
    let (fi, f) = s.producer(flat)?;
    if s.uses(flat) != 1 {
        return None;
    }
    let flat_ok = match f.op_type.as_str() {
        "Flatten" => f.attr_int("axis").unwrap_or(1) == 1,
        "Reshape" => s
            .static_const(f.input_opt(1)?)
            .and_then(|c| c.known_ints().ok())
            .is_some_and(|t| t.len() == 2 && matches!(t[0], 0 | -1) && t[1] == (n * n) as i64),
        _ => false,
    };
    if !flat_ok {
        return None;
    }
    let z = f.input_opt(0)?;
    let (mi, mm) = s.producer_op(z, "MatMul")?;
    if s.uses(z) != 1 {
        return None;
    }
    let x = mm.input_opt(0)?;
    let xt = mm.input_opt(1)?;
    let (ti, t) = s.producer_op(xt, "Transpose")?;
    if s.uses(xt) != 1 || t.input_opt(0)? != x || t.attr_ints("perm")? != [0, 2, 1] {
        return None;
    }
    Some((
        Fused::Dot {
            x: x.to_string(),
            n,
            self_interaction,
        },
        vec![ti, mi, fi, g],
    ))
}

/// Constants visible inside a loop body: body `Constant`s and initializers, then the outer
/// graph's (a body may read outer constants directly).
fn body_const(s: &mut Session<'_>, body: &GraphProto, t: &str) -> Option<Const> {
    if let Some(init) = body.initializer.iter().find(|i| i.name == t) {
        return crate::tensor::decode(init, None).ok();
    }
    match body.node.iter().find(|n| n.output.iter().any(|o| o == t)) {
        Some(n) if n.op_type == "Constant" => constant_value(n).ok(),
        Some(_) => None,
        None => s.static_const(t).map(|c| (*c).clone()),
    }
}

/// Follows `Cast` and `Identity` nodes back to the tensor they copy.
fn through_casts<'a>(s: &Session<'a>, mut t: &'a str, visited: &mut Vec<usize>) -> &'a str {
    while let Some((i, n)) = s.producer(t) {
        if matches!(n.op_type.as_str(), "Cast" | "Identity") && n.input_opt(0).is_some() {
            visited.push(i);
            t = n.input_opt(0).expect("checked");
        } else {
            break;
        }
    }
    t
}

/// `Unsqueeze(Gather(Shape(x), 0), [0])` (or without the Unsqueeze): the length of `x`.
fn length_of<'a>(s: &mut Session<'a>, t: &'a str, visited: &mut Vec<usize>) -> Option<&'a str> {
    let mut t = through_casts(s, t, visited);
    if let Some((i, u)) = s.producer_op(t, "Unsqueeze") {
        visited.push(i);
        t = through_casts(s, u.input_opt(0)?, visited);
    }
    let (gi, g) = s.producer_op(t, "Gather")?;
    let k = s.static_const(g.input_opt(1)?)?.known_ints().ok()?;
    if k != [0] && k.len() != 1 {
        return None;
    }
    if k[0] != 0 {
        return None;
    }
    let (si, sh) = s.producer_op(g.input_opt(0)?, "Shape")?;
    if sh.attr_int("start").unwrap_or(0) != 0 {
        return None;
    }
    visited.extend([gi, si]);
    sh.input_opt(0)
}

/// PyTorch's TorchScript export of `nn.EmbeddingBag` (and `F.embedding_bag`): a `Loop` over
/// bags whose body slices the indices between consecutive offsets, gathers the rows and
/// reduces them.
fn bag<'m>(s: &mut Session<'m>, li: usize) -> Option<(Fused, Vec<usize>)> {
    let l = s.node(li);
    if l.input.len() != 2 || l.output.len() != 1 {
        return None;
    }
    let body = l.attr("body")?.g.as_ref()?;
    if body.input.len() != 2 || body.output.len() != 2 {
        return None;
    }
    let iter = body.input[0].name.as_str();
    let bp = |t: &str| {
        body.node
            .iter()
            .position(|n| n.output.iter().any(|o| o == t))
    };
    let bnode = |i: usize| &body.node[i];
    let mut used = BTreeSet::new();

    let ri = bp(&body.output[1].name)?;
    let red = bnode(ri);
    let pooling = match red.op_type.as_str() {
        "ReduceSum" => Pooling::Sum,
        "ReduceMean" => Pooling::Mean,
        "ReduceMax" => Pooling::Max,
        _ => return None,
    };
    if red.attr_int("keepdims").unwrap_or(1) != 0 {
        return None;
    }
    let axes = match red.input_opt(1) {
        Some(a) => body_const(s, body, a)?.known_ints().ok()?,
        None => red.attr_ints("axes")?.to_vec(),
    };
    if axes != [0] {
        return None;
    }
    used.insert(ri);
    let gi = bp(red.input_opt(0)?)?;
    let gat = bnode(gi);
    if gat.op_type != "Gather" || gat.attr_int("axis").unwrap_or(0) != 0 {
        return None;
    }
    used.insert(gi);
    let table = gat.input_opt(0)?;
    if bp(table).is_some() || !s.is_initializer(table) {
        return None;
    }
    let si = bp(gat.input_opt(1)?)?;
    let sl = bnode(si);
    if sl.op_type != "Slice" {
        return None;
    }
    used.insert(si);
    for (k, want) in [(3, 0i64), (4, 1)] {
        if let Some(t) = sl.input_opt(k)
            && body_const(s, body, t)?.known_ints().ok()? != [want]
        {
            return None;
        }
    }
    let indices = sl.input_opt(0)?;
    if bp(indices).is_some() {
        return None;
    }
    // Bag bounds: Unsqueeze(Gather(outer, iter)).
    let mut bound = |t: &str| -> Option<String> {
        let ui = bp(t)?;
        let u = bnode(ui);
        let src = if u.op_type == "Unsqueeze" {
            used.insert(ui);
            u.input_opt(0)?
        } else {
            t
        };
        let gi = bp(src)?;
        let g = bnode(gi);
        if g.op_type != "Gather" || g.input_opt(1)? != iter || g.attr_int("axis").unwrap_or(0) != 0
        {
            return None;
        }
        used.insert(gi);
        let outer = g.input_opt(0)?;
        if bp(outer).is_some() {
            return None;
        }
        Some(outer.to_string())
    };
    let starts = bound(sl.input_opt(1)?)?;
    let ends = bound(sl.input_opt(2)?)?;
    // Nothing else may compute in the body: constants and the loop condition only.
    let cond = bp(&body.output[0].name);
    for (k, n) in body.node.iter().enumerate() {
        if !used.contains(&k) && n.op_type != "Constant" && Some(k) != cond {
            return None;
        }
    }
    if let Some(c) = cond
        && !matches!(bnode(c).op_type.as_str(), "Cast" | "Identity")
    {
        return None;
    }

    // Outside: starts = Concat(offsets, [len(indices)]), ends = starts[1:], trips = len(ends).
    let mut visited = vec![li];
    let (ci, cat) = s.producer_op(&starts, "Concat")?;
    if cat.input.len() != 2 || cat.attr_int("axis") != Some(0) {
        return None;
    }
    visited.push(ci);
    let offsets = cat.input_opt(0)?;
    if length_of(s, cat.input_opt(1)?, &mut visited)? != indices {
        return None;
    }
    let (ei, e) = s.producer_op(&ends, "Slice")?;
    visited.push(ei);
    if e.input_opt(0)? != starts {
        return None;
    }
    let ints = |s: &mut Session<'_>, t: Option<&str>| -> Option<Vec<i64>> {
        s.static_const(t?)?.known_ints().ok()
    };
    if ints(s, e.input_opt(1))? != [1] || ints(s, e.input_opt(2))?.first()? < &(i64::MAX / 2) {
        return None;
    }
    if e.input_opt(3).is_some() && ints(s, e.input_opt(3))? != [0] {
        return None;
    }
    if e.input_opt(4).is_some() && ints(s, e.input_opt(4))? != [1] {
        return None;
    }
    let trips = length_of(s, l.input_opt(0)?, &mut visited)?;
    if trips != ends && trips != offsets {
        return None;
    }
    if let Some(c) = l.input_opt(1)
        && s.static_const(c).and_then(|c| c.known_ints().ok()) != Some(vec![1])
    {
        return None;
    }
    let mean_pooling = l
        .doc_string
        .lines()
        .find_map(|x| x.trim().strip_prefix(MEAN_POOLING_MARK))
        .and_then(|v| v.parse::<f64>().ok());

    // A 2-D input becomes offsets = Range(0, numel, h) over indices = Reshape(x, [-1]).
    let mut fixed = None;
    let mut idx = indices.to_string();
    let mut offs = Some(offsets.to_string());
    let off_src = through_casts(s, offsets, &mut visited);
    if let Some((ri, range)) = s.producer_op(off_src, "Range")
        && let Some((pi, resh)) = s.producer_op(indices, "Reshape")
        && ints(s, resh.input_opt(1)) == Some(vec![-1])
    {
        let x2 = resh.input_opt(0)?;
        let mut v2 = vec![ri, pi];
        let limit = through_casts(s, range.input_opt(1)?, &mut v2);
        let limit_ok = match s.producer(limit) {
            Some((ki, k)) if k.op_type == "ReduceProd" => {
                v2.push(ki);
                s.producer_op(k.input_opt(0)?, "Shape")
                    .filter(|(_, sh)| sh.input_opt(0) == Some(x2) && sh.attr("start").is_none())
                    .map(|(si, _)| v2.push(si))
                    .is_some()
            }
            Some((ki, k)) if k.op_type == "Size" && k.input_opt(0) == Some(x2) => {
                v2.push(ki);
                true
            }
            _ => false,
        };
        if limit_ok {
            let start = through_casts(s, range.input_opt(0)?, &mut v2).to_string();
            let delta = through_casts(s, range.input_opt(2)?, &mut v2).to_string();
            visited.extend(v2);
            fixed = Some(FixedCheck { start, delta });
            idx = x2.to_string();
            offs = None;
        }
    }
    visited.sort_unstable();
    visited.dedup();
    visited.retain(|&x| x != li);
    visited.push(li);
    Some((
        Fused::Bag(Bag {
            table: table.to_string(),
            indices: idx,
            offsets: offs,
            fixed,
            pooling,
            mean_pooling,
        }),
        visited,
    ))
}
