//! Lowering of single ONNX nodes to IR ops (and folding of constant ones).

use std::rc::Rc;

use seedchip_ir::init::{Distribution, Procedural};
use seedchip_ir::{
    Activation, BinaryOp, DType, Dim, FileFormat, Init, Op, ReduceKind, TensorType, UnaryOp,
    ValueId,
};

use super::fold::{self, Arith};
use super::patterns::Fused;
use super::{Fail, LResult, Session, Status, Val};
use crate::proto::{DataType, NodeProto, is_default_domain};
use crate::tensor::{self, Const, Data, Sym};

/// Default-domain ops the importer lowers, with the first opset whose semantics it implements
/// (all of 13–21 unless noted).
pub(crate) const SUPPORTED: &[(&str, i64)] = &[
    ("Add", 13),
    ("Cast", 13),
    ("Concat", 13),
    ("Constant", 13),
    ("Div", 13),
    ("Dropout", 13),
    ("Flatten", 13),
    ("Gather", 13),
    ("Gelu", 20),
    ("Gemm", 13),
    ("Identity", 13),
    ("LayerNormalization", 17),
    ("MatMul", 13),
    ("Mul", 13),
    ("Neg", 13),
    ("Exp", 13),
    ("Range", 13),
    ("ReduceMax", 13),
    ("ReduceMean", 13),
    ("ReduceSum", 13),
    ("Relu", 13),
    ("Reshape", 13),
    ("Shape", 13),
    ("Sigmoid", 13),
    ("Size", 13),
    ("Slice", 13),
    ("Softmax", 13),
    ("Split", 13),
    ("Squeeze", 13),
    ("Sub", 13),
    ("Tanh", 13),
    ("Transpose", 13),
    ("Unsqueeze", 13),
];

/// Whether a node's op type is lowerable at all (independently of its operands).
pub(crate) fn static_support(node: &NodeProto, opset: i64) -> Result<(), String> {
    if !is_default_domain(&node.domain) {
        return Err(format!(
            "domain {} is not supported (only the default ONNX domain is)",
            node.domain
        ));
    }
    match SUPPORTED.iter().find(|(op, _)| *op == node.op_type) {
        Some((_, since)) if opset >= *since => Ok(()),
        Some((op, since)) => Err(format!("{op} exists from opset {since}")),
        None if node.op_type == "Erf" => {
            Err("Erf has no IR op; it is imported only inside the erf form of GELU".into())
        }
        None => Err(format!("{} has no lowering to the IR", node.op_type)),
    }
}

/// The value of a `Constant` node.
pub(crate) fn constant_value(n: &NodeProto) -> Result<Const, String> {
    let a = n.attribute.first().ok_or("Constant without a value")?;
    Ok(match a.name.as_str() {
        "value" => {
            let t = a.t.as_ref().ok_or("Constant value is not a tensor")?;
            if tensor::is_external(t) {
                return Err("a Constant with external data is not supported".into());
            }
            tensor::decode(t, None).map_err(|e| e.to_string())?
        }
        "value_float" => Const::f32(vec![], vec![a.f]),
        "value_floats" => Const::f32(vec![a.floats.len()], a.floats.clone()),
        "value_int" => Const::ints(vec![], &[a.i]),
        "value_ints" => Const::ints(vec![a.ints.len()], &a.ints),
        other => return Err(format!("Constant attribute {other} is not supported")),
    })
}

/// The `seedchip:init=` annotation the exporter writes on initializers whose values come from
/// an IR initializer, so import can restore it (after checking the values agree).
pub(crate) const INIT_MARK: &str = "seedchip:init=";

pub(crate) fn parse_init_annotation(doc: &str) -> Option<Init> {
    let text = doc.lines().find_map(|l| l.trim().strip_prefix(INIT_MARK))?;
    if let Some(rest) = text.strip_prefix("uniform(seed=") {
        let (seed, rest) = rest.split_once(", bound=")?;
        let bound = rest.strip_suffix(')')?;
        return Some(Init::uniform(seed.parse().ok()?, bound.parse().ok()?));
    }
    let v = text.strip_prefix("fill(")?.strip_suffix(')')?;
    Some(Init::Fill {
        value: v.parse().ok()?,
    })
}

pub(crate) fn init_annotation(init: &Init) -> Option<String> {
    match init {
        Init::Procedural {
            seed,
            dist: Distribution::Uniform { bound },
        } => Some(format!("{INIT_MARK}uniform(seed={seed}, bound={bound:?})")),
        Init::Fill { value } => Some(format!("{INIT_MARK}fill({value:?})")),
        _ => None,
    }
}

/// Whether `values` (elements `idx` of the parameter) are exactly what `init` produces.
fn init_matches(init: &Init, name: &str, values: impl Iterator<Item = (u64, f32)>) -> bool {
    match init {
        Init::Procedural { seed, dist } => {
            let Distribution::Uniform { bound } = dist;
            if !bound.is_finite() || *bound < 0.0 {
                return false;
            }
            let p = Procedural::new(*seed, name, *dist);
            values
                .into_iter()
                .all(|(i, v)| p.value(i).to_bits() == v.to_bits())
        }
        Init::Fill { value } => values
            .into_iter()
            .all(|(_, v)| v.to_bits() == value.to_bits()),
        _ => false,
    }
}

/// Up to 4096 evenly spaced f32 elements of an external tensor, with their indices: enough to
/// tell a procedural table from real weights without reading gigabytes.
fn sample_external(path: &std::path::Path, offset: u64, numel: u64) -> Option<Vec<(u64, f32)>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    let samples = numel.min(4096);
    let mut out = Vec::with_capacity(samples as usize);
    for k in 0..samples {
        let i = if samples <= 1 {
            0
        } else {
            k * (numel - 1) / (samples - 1)
        };
        f.seek(SeekFrom::Start(offset + i * 4)).ok()?;
        let mut b = [0u8; 4];
        f.read_exact(&mut b).ok()?;
        out.push((i, f32::from_le_bytes(b)));
    }
    Some(out)
}

fn float_op(op: &str) -> Option<UnaryOp> {
    Some(match op {
        "Relu" => UnaryOp::Relu,
        "Sigmoid" => UnaryOp::Sigmoid,
        "Tanh" => UnaryOp::Tanh,
        "Neg" => UnaryOp::Neg,
        "Exp" => UnaryOp::Exp,
        _ => return None,
    })
}

fn dims_to_syms(t: &TensorType) -> Vec<Sym> {
    t.shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => Sym::Known(*n as i64),
            Dim::Batch => Sym::Batch,
            Dim::Dyn => Sym::Dyn,
        })
        .collect()
}

/// The IR shape of an ONNX `Reshape` of `x` to `target`.
pub(crate) fn reshape_target(
    x: &TensorType,
    target: &[Sym],
    allowzero: bool,
) -> Result<Vec<Dim>, String> {
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, s) in target.iter().enumerate() {
        out.push(match *s {
            Sym::Known(-1) if infer.is_none() => {
                infer = Some(i);
                Dim::Fixed(1)
            }
            Sym::Known(0) if !allowzero => *x
                .shape
                .get(i)
                .ok_or_else(|| format!("reshape copies dimension {i}, which {x} lacks"))?,
            Sym::Known(n) if n >= 0 => Dim::Fixed(n as u64),
            Sym::Batch => Dim::Batch,
            _ => return Err(format!("reshape target {target:?} is not supported")),
        });
    }
    let fixed: u64 = out.iter().map(|d| d.fixed().unwrap_or(1)).product();
    let has_batch = out.contains(&Dim::Batch);
    let in_fixed = x.fixed_numel();
    if let Some(i) = infer {
        if fixed == 0 || !in_fixed.is_multiple_of(fixed) {
            return Err(format!("cannot reshape {x} to {target:?}"));
        }
        let rest = in_fixed / fixed;
        out[i] = if x.has_batch() && !has_batch {
            if rest != 1 {
                return Err(format!(
                    "reshape of {x} to {target:?} would fold the batch into another dimension"
                ));
            }
            Dim::Batch
        } else {
            Dim::Fixed(rest)
        };
    }
    if out.contains(&Dim::Batch) != x.has_batch() {
        return Err(format!(
            "reshape of {x} to {target:?} must keep the batch dimension by itself"
        ));
    }
    Ok(out)
}

impl Session<'_> {
    fn inp(&self, n: &NodeProto, i: usize) -> LResult<Option<Val>> {
        match n.input_opt(i) {
            Some(t) => Ok(Some(self.val(t)?.clone())),
            None => Ok(None),
        }
    }

    fn need<'a>(&self, n: &'a NodeProto, i: usize) -> LResult<&'a str> {
        n.input_opt(i)
            .ok_or_else(|| Fail::Unsupported(format!("input {i} is missing")))
    }

    /// The constant value of tensor `t`, `None` when it is computed at run time.
    pub(super) fn konst(&mut self, t: &str) -> LResult<Option<Rc<Const>>> {
        match self.val(t)?.clone() {
            Val::Const(c) => Ok(Some(c)),
            Val::Init { name, transposed } => {
                let init = self
                    .initializer(&name)
                    .expect("Val::Init names an initializer");
                let c = self.decode_init(init)?;
                if transposed {
                    Ok(Some(Rc::new(fold::transpose(&c, &[1, 0])?)))
                } else {
                    Ok(Some(c))
                }
            }
            Val::Ir(_) => Ok(None),
            Val::Poison => Err(Fail::Poisoned),
        }
    }

    fn need_const(&mut self, n: &NodeProto, i: usize, what: &str) -> LResult<Rc<Const>> {
        let t = self.need(n, i)?;
        self.konst(t)?.ok_or_else(|| {
            Fail::Unsupported(format!(
                "{what} (input {i}) must be a constant, it is computed at run time"
            ))
        })
    }

    fn const_ints(&mut self, n: &NodeProto, i: usize, what: &str) -> LResult<Option<Vec<i64>>> {
        if n.input_opt(i).is_none() {
            return Ok(None);
        }
        let c = self.need_const(n, i, what)?;
        Ok(Some(c.known_ints().map_err(|e| format!("{what}: {e}"))?))
    }

    /// `t` as an IR value; constants become parameters.
    pub(super) fn ir_value(&mut self, t: &str) -> LResult<ValueId> {
        match self.val(t)?.clone() {
            Val::Ir(v) => Ok(v),
            Val::Poison => Err(Fail::Poisoned),
            Val::Const(c) => self.const_param(t, &c),
            Val::Init { name, transposed } => self.init_param(&name, transposed),
        }
    }

    fn const_param(&mut self, t: &str, c: &Const) -> LResult<ValueId> {
        if let Some(&v) = self.params.get(&(t.to_string(), false)) {
            return Ok(v);
        }
        let Data::F32(values) = &c.data else {
            return Err(Fail::Unsupported(format!(
                "integer constant {t} would have to be an IR parameter, and parameters are f32"
            )));
        };
        let dims: Vec<u64> = c.dims.iter().map(|&d| d as u64).collect();
        let name = if self.helpers.remove(t) {
            t.to_string()
        } else {
            self.names.claim(t)
        };
        let v = self.ir.add_param(
            name,
            TensorType::fixed(DType::F32, &dims),
            Init::Data {
                values: values.clone(),
            },
        );
        self.params.insert((t.to_string(), false), v);
        Ok(v)
    }

    /// An initializer as a parameter: external f32 data stays in its file, annotated values
    /// get their IR initializer back once the data is checked against it.
    fn init_param(&mut self, name: &str, transposed: bool) -> LResult<ValueId> {
        if let Some(&v) = self.params.get(&(name.to_string(), transposed)) {
            return Ok(v);
        }
        let init = self
            .initializer(name)
            .expect("Val::Init names an initializer");
        if !tensor::is_float_type(init.data_type) {
            return Err(Fail::Unsupported(format!(
                "integer initializer {name} would have to be an IR parameter, and parameters are f32"
            )));
        }
        let (dims, numel) = tensor::dims_of(init)?;
        let mut dims: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
        if transposed {
            dims.reverse();
        }
        let ir_name = self.names.claim(name);
        let annotation = if transposed {
            None
        } else {
            parse_init_annotation(&init.doc_string)
        };
        let ir_init = if tensor::is_external(init) && !transposed {
            let ext = tensor::external_of(init)?;
            let size = tensor::elem_size(init.data_type).unwrap_or(4) as u64;
            let len = numel as u64 * size;
            tensor::check_external(name, &ext, self.base_dir.as_deref(), len)?;
            let path = tensor::external_path(self.base_dir.as_deref(), &ext.location);
            let restored = annotation.filter(|a| {
                init.data_type == DataType::Float as i32
                    && sample_external(&path, ext.offset, numel as u64)
                        .is_some_and(|s| init_matches(a, &ir_name, s.into_iter()))
            });
            match restored {
                Some(a) => a,
                None if init.data_type == DataType::Float as i32 => Init::File {
                    path: path.display().to_string(),
                    format: FileFormat::F32Le,
                    offset_bytes: ext.offset,
                },
                None if init.data_type == DataType::Float16 as i32 => Init::File {
                    path: path.display().to_string(),
                    format: FileFormat::F16Le,
                    offset_bytes: ext.offset,
                },
                None => {
                    let c = self.decode_init(init)?;
                    Init::Data {
                        values: c.to_f32()?,
                    }
                }
            }
        } else {
            let c = self.decode_init(init)?;
            let c = if transposed {
                Rc::new(fold::transpose(&c, &[1, 0])?)
            } else {
                c
            };
            let values = c.to_f32()?;
            match annotation {
                Some(a)
                    if init_matches(
                        &a,
                        &ir_name,
                        values.iter().enumerate().map(|(i, &v)| (i as u64, v)),
                    ) =>
                {
                    a
                }
                _ => Init::Data { values },
            }
        };
        let v = self.ir.add_param(
            ir_name.clone(),
            TensorType::fixed(DType::F32, &dims),
            ir_init,
        );
        if let Some(&r) = self.init_index.get(name) {
            self.param_rank.insert(ir_name, r);
        }
        self.params.insert((name.to_string(), transposed), v);
        Ok(v)
    }

    /// Folds `t` from constants without lowering anything (used by patterns, whose helper
    /// nodes are not lowered); `None` when it depends on run-time values.
    pub(super) fn fold_lazy(&mut self, t: &str, depth: usize) -> Option<Rc<Const>> {
        if depth > 32 {
            return None;
        }
        match self.vals.get(t) {
            Some(Val::Ir(_) | Val::Poison) => return None,
            Some(_) => return self.konst(t).ok().flatten(),
            None => {}
        }
        let (_, n) = self.producer(t)?;
        let k = n.output.iter().position(|o| o == t)?;
        if n.op_type == "Shape"
            && let Some(Val::Ir(v)) = self.vals.get(n.input_opt(0)?)
        {
            let syms = dims_to_syms(self.ty(*v));
            return shape_slice(n, syms).ok().map(Rc::new);
        }
        let mut ins = Vec::new();
        for i in &n.input {
            ins.push(if i.is_empty() {
                None
            } else {
                Some(self.fold_lazy(i, depth + 1)?)
            });
        }
        let out = self.fold(n, &ins).ok()??;
        out.into_iter().nth(k).map(Rc::new)
    }

    /// Folds a node whose inputs are all constant; `Ok(None)` for ops that do not fold.
    fn fold(&self, n: &NodeProto, ins: &[Option<Rc<Const>>]) -> Result<Option<Vec<Const>>, String> {
        let get = |i: usize| -> Result<&Const, String> {
            ins.get(i)
                .and_then(|c| c.as_deref())
                .ok_or_else(|| format!("input {i} is missing"))
        };
        let ints = |i: usize| -> Result<Option<Vec<i64>>, String> {
            match ins.get(i).and_then(|c| c.as_deref()) {
                Some(c) => c.known_ints().map(Some),
                None => Ok(None),
            }
        };
        let opset = self.opset();
        let one = |c: Const| Ok(Some(vec![c]));
        match n.op_type.as_str() {
            "Identity" | "Dropout" => one(get(0)?.clone()),
            "Constant" => one(constant_value(n)?),
            "Cast" => {
                let to = n.attr_int("to").unwrap_or(0) as i32;
                let c = get(0)?;
                if to == DataType::Bool as i32 {
                    let v = c.to_f32()?;
                    let b: Vec<i64> = v.iter().map(|&x| i64::from(x != 0.0)).collect();
                    return one(Const::ints(c.dims.clone(), &b));
                }
                one(fold::cast(c, tensor::is_float_type(to)))
            }
            "Shape" => {
                let c = get(0)?;
                let syms = c.dims.iter().map(|&d| Sym::Known(d as i64)).collect();
                one(shape_slice(n, syms)?)
            }
            "Size" => one(Const::ints(vec![], &[get(0)?.numel() as i64])),
            "Gather" => one(fold::gather(
                get(0)?,
                get(1)?,
                n.attr_int("axis").unwrap_or(0),
            )?),
            "Concat" => {
                let parts: Vec<&Const> = (0..n.input.len()).map(get).collect::<Result<_, _>>()?;
                one(fold::concat(
                    &parts,
                    n.attr_int("axis").ok_or("Concat needs an axis")?,
                )?)
            }
            "Unsqueeze" => one(fold::unsqueeze(
                get(0)?,
                &ints(1)?.ok_or("Unsqueeze needs axes")?,
            )?),
            "Squeeze" => {
                let c = get(0)?;
                let axes = ints(1)?;
                let dims = fold::squeeze_dims(&c.dims, axes.as_deref(), 1)?;
                one(Const {
                    dims,
                    data: c.data.clone(),
                })
            }
            "Reshape" => one(fold::reshape(
                get(0)?,
                &ints(1)?.ok_or("Reshape needs a shape")?,
                n.attr_int("allowzero").unwrap_or(0) != 0,
            )?),
            "Flatten" => {
                let c = get(0)?;
                let ax = n.attr_int("axis").unwrap_or(1);
                let rank = c.dims.len();
                let ax = if ax < 0 { ax + rank as i64 } else { ax };
                if !(0..=rank as i64).contains(&ax) {
                    return Err(format!("Flatten axis {ax} out of range"));
                }
                let lead: usize = c.dims[..ax as usize].iter().product();
                one(Const {
                    dims: vec![lead, c.numel() / lead.max(1)],
                    data: c.data.clone(),
                })
            }
            "Slice" => {
                let c = get(0)?;
                let starts = ints(1)?.ok_or("Slice needs starts")?;
                let ends = ints(2)?.ok_or("Slice needs ends")?;
                let axes = ints(3)?.unwrap_or_else(|| (0..starts.len() as i64).collect());
                let steps = ints(4)?.unwrap_or_else(|| vec![1; starts.len()]);
                if starts.len() != ends.len() || axes.len() != starts.len() {
                    return Err("Slice starts, ends and axes differ in length".into());
                }
                one(fold::slice(c, &starts, &ends, &axes, &steps)?)
            }
            "Transpose" => {
                let c = get(0)?;
                let perm: Vec<usize> = match n.attr_ints("perm") {
                    Some(p) => p.iter().map(|&x| x.max(0) as usize).collect(),
                    None => (0..c.dims.len()).rev().collect(),
                };
                one(fold::transpose(c, &perm)?)
            }
            "Add" | "Sub" | "Mul" | "Div" => {
                let op = match n.op_type.as_str() {
                    "Add" => Arith::Add,
                    "Sub" => Arith::Sub,
                    "Mul" => Arith::Mul,
                    _ => Arith::Div,
                };
                one(fold::arith(op, get(0)?, get(1)?)?)
            }
            "Neg" => {
                let c = get(0)?;
                one(fold::arith(Arith::Mul, c, &Const::ints(vec![], &[-1]))?)
            }
            "Range" => one(fold::range(get(0)?, get(1)?, get(2)?)?),
            "Split" => {
                let c = get(0)?;
                let ax = fold::axis(n.attr_int("axis").unwrap_or(0), c.dims.len())?;
                let sizes = split_sizes(n, ints(1)?, c.dims[ax] as u64, opset)?;
                let mut start = 0i64;
                let mut outs = Vec::new();
                for s in sizes {
                    outs.push(fold::slice(
                        c,
                        &[start],
                        &[start + s as i64],
                        &[ax as i64],
                        &[1],
                    )?);
                    start += s as i64;
                }
                Ok(Some(outs))
            }
            _ => Ok(None),
        }
    }

    /// Lowers (or folds) one node.
    pub(super) fn lower_node(&mut self, i: usize) -> LResult<Status> {
        let n = self.node(i);
        static_support(n, self.opset_of(&n.domain))?;
        let op = n.op_type.as_str();
        // A 2-D transpose of an initializer stays a view: `MatMul(x, Transpose(W))` is a
        // linear layer on `W` itself, keeping its name and annotation.
        if op == "Transpose"
            && let Some(Val::Init { name, transposed }) = self.inp(n, 0)?
        {
            let init = self.initializer(&name).expect("initializer");
            let perm = n.attr_ints("perm").map(<[i64]>::to_vec);
            if init.dims.len() == 2 && perm.as_deref().is_none_or(|p| p == [1, 0]) {
                self.set(
                    &n.output[0],
                    Val::Init {
                        name,
                        transposed: !transposed,
                    },
                );
                return Ok(Status::Folded);
            }
        }
        if matches!(op, "Identity" | "Dropout") {
            if op == "Dropout"
                && n.output
                    .get(1)
                    .is_some_and(|m| !m.is_empty() && self.uses(m) > 0)
            {
                return Err("Dropout's mask output is used".into());
            }
            let v = self.val(self.need(n, 0)?)?.clone();
            if matches!(v, Val::Poison) {
                return Err(Fail::Poisoned);
            }
            self.set(&n.output[0], v);
            return Ok(if matches!(self.vals[&n.output[0]], Val::Ir(_)) {
                Status::Lowered
            } else {
                Status::Folded
            });
        }
        // Fold when every input is a constant.
        let mut consts = Vec::with_capacity(n.input.len());
        let mut all_const = true;
        for t in &n.input {
            if t.is_empty() {
                consts.push(None);
                continue;
            }
            match self.konst(t)? {
                Some(c) => consts.push(Some(c)),
                None => {
                    all_const = false;
                    break;
                }
            }
        }
        if all_const {
            match self.fold(n, &consts) {
                Ok(Some(outs)) => {
                    for (o, c) in n.output.iter().zip(outs) {
                        self.set(o, Val::Const(Rc::new(c)));
                    }
                    return Ok(Status::Folded);
                }
                Ok(None) => {}
                Err(e) if matches!(op, "Range" | "Shape" | "Size") => return Err(e.into()),
                Err(e) => return Err(format!("constant folding failed: {e}").into()),
            }
        }
        let out = n.output.first().map(String::as_str).unwrap_or("");
        match op {
            "Shape" | "Size" => {
                let v = self.ir_value(self.need(n, 0)?)?;
                let syms = dims_to_syms(self.ty(v));
                let c = if op == "Shape" {
                    shape_slice(n, syms)?
                } else {
                    let fixed: i64 = syms.iter().filter_map(|s| s.known()).product();
                    let sym = match syms.iter().filter(|s| s.known().is_none()).count() {
                        0 => Sym::Known(fixed),
                        1 if fixed == 1 && syms.contains(&Sym::Batch) => Sym::Batch,
                        _ => Sym::Dyn,
                    };
                    Const::int(vec![], vec![sym])
                };
                self.set(out, Val::Const(Rc::new(c)));
                Ok(Status::Folded)
            }
            "Range" => Err("Range bounds must be constants".into()),
            "Cast" => {
                let v = self.ir_value(self.need(n, 0)?)?;
                let to = n.attr_int("to").unwrap_or(0) as i32;
                let from_float = self.ty(v).dtype.is_float();
                let to_float = tensor::is_float_type(to);
                let to_int = matches!(
                    DataType::try_from(to),
                    Ok(DataType::Int64 | DataType::Int32)
                );
                if (from_float && to_float) || (!from_float && to_int) {
                    self.set(out, Val::Ir(v));
                    Ok(Status::Lowered)
                } else {
                    Err(format!(
                        "Cast of a run-time {} tensor to {} has no IR op",
                        self.ty(v).dtype,
                        tensor::type_name(to)
                    )
                    .into())
                }
            }
            "Relu" | "Sigmoid" | "Tanh" | "Neg" | "Exp" => {
                let x = self.ir_value(self.need(n, 0)?)?;
                let u = float_op(op).expect("listed");
                self.emit1(Op::Unary(u), vec![x], out)?;
                Ok(Status::Lowered)
            }
            "Gelu" => {
                let approx = n
                    .attr_string("approximate")
                    .unwrap_or_else(|| "none".into());
                if approx != "none" {
                    return Err(format!(
                        "Gelu approximate={approx} (the IR's GELU is the exact erf form)"
                    )
                    .into());
                }
                let x = self.ir_value(self.need(n, 0)?)?;
                self.emit1(Op::Unary(UnaryOp::Gelu), vec![x], out)?;
                Ok(Status::Lowered)
            }
            "Add" | "Sub" | "Mul" | "Div" => {
                let b = match op {
                    "Add" => BinaryOp::Add,
                    "Sub" => BinaryOp::Sub,
                    "Mul" => BinaryOp::Mul,
                    _ => BinaryOp::Div,
                };
                let x = self.ir_value(self.need(n, 0)?)?;
                let y = self.ir_value(self.need(n, 1)?)?;
                self.emit1(Op::Binary(b), vec![x, y], out)?;
                Ok(Status::Lowered)
            }
            "Gemm" => self.lower_gemm(n),
            "MatMul" => self.lower_matmul(n),
            "Concat" => {
                let ax = n.attr_int("axis").ok_or("Concat needs an axis")?;
                let mut xs = Vec::new();
                for t in n.input.iter().filter(|t| !t.is_empty()) {
                    xs.push(self.ir_value(t)?);
                }
                let rank = xs.first().map_or(0, |&v| self.ty(v).rank());
                let axis = fold::axis(ax, rank)?;
                self.emit1(Op::Concat { axis }, xs, out)?;
                Ok(Status::Lowered)
            }
            "Reshape" => {
                let x = self.ir_value(self.need(n, 0)?)?;
                let target = self.need_const(n, 1, "the target shape")?;
                let syms = target.syms()?;
                let shape =
                    reshape_target(self.ty(x), &syms, n.attr_int("allowzero").unwrap_or(0) != 0)?;
                self.reshape_to(x, shape, out)?;
                Ok(Status::Lowered)
            }
            "Flatten" => {
                let x = self.ir_value(self.need(n, 0)?)?;
                let t = self.ty(x).clone();
                let rank = t.rank() as i64;
                let mut ax = n.attr_int("axis").unwrap_or(1);
                if ax < 0 {
                    ax += rank;
                }
                if !(0..=rank).contains(&ax) {
                    return Err(format!("Flatten axis {ax} is out of range for {t}").into());
                }
                let ax = ax as usize;
                if ax == 1 && rank > 2 && !t.shape[1..].contains(&Dim::Batch) {
                    self.emit1(Op::Flatten { axis: 1 }, vec![x], out)?;
                    return Ok(Status::Lowered);
                }
                // Any other axis is a reshape to [prod(lead), prod(rest)].
                let syms = dims_to_syms(&t);
                let prod = |s: &[Sym]| -> Sym {
                    let fixed: i64 = s.iter().filter_map(|x| x.known()).product();
                    match s.iter().filter(|x| x.known().is_none()).count() {
                        0 => Sym::Known(fixed),
                        1 if s.contains(&Sym::Batch) && fixed == 1 => Sym::Batch,
                        _ => Sym::Dyn,
                    }
                };
                let target = [prod(&syms[..ax]), prod(&syms[ax..])];
                let shape = reshape_target(&t, &target, true)?;
                self.reshape_to(x, shape, out)?;
                Ok(Status::Lowered)
            }
            "Transpose" => {
                let x = self.ir_value(self.need(n, 0)?)?;
                let rank = self.ty(x).rank();
                let perm: Vec<usize> = match n.attr_ints("perm") {
                    Some(p) => p
                        .iter()
                        .map(|&a| fold::axis(a, rank))
                        .collect::<Result<_, _>>()?,
                    None => (0..rank).rev().collect(),
                };
                if perm.iter().copied().eq(0..rank) {
                    self.set(out, Val::Ir(x));
                } else {
                    self.emit1(Op::Transpose { perm }, vec![x], out)?;
                }
                Ok(Status::Lowered)
            }
            "Unsqueeze" | "Squeeze" => {
                let x = self.ir_value(self.need(n, 0)?)?;
                let t = self.ty(x).clone();
                let axes = self.const_ints(n, 1, "axes")?;
                let shape = if op == "Unsqueeze" {
                    let axes = axes.ok_or("Unsqueeze needs axes")?;
                    let rank = t.rank() + axes.len();
                    let mut norm: Vec<usize> = axes
                        .iter()
                        .map(|&a| fold::axis(a, rank))
                        .collect::<Result<_, _>>()?;
                    norm.sort_unstable();
                    let mut shape = t.shape.clone();
                    for a in norm {
                        shape.insert(a, Dim::Fixed(1));
                    }
                    shape
                } else {
                    fold::squeeze_dims(&t.shape, axes.as_deref(), Dim::Fixed(1))?
                };
                self.reshape_to(x, shape, out)?;
                Ok(Status::Lowered)
            }
            "ReduceSum" | "ReduceMean" | "ReduceMax" => self.lower_reduce(n),
            "Slice" => self.lower_slice(n),
            "Split" => self.lower_split(n),
            "Gather" => self.lower_gather(n),
            "Softmax" => {
                let x = self.ir_value(self.need(n, 0)?)?;
                let axis = fold::axis(n.attr_int("axis").unwrap_or(-1), self.ty(x).rank())?;
                self.emit1(Op::Softmax { axis }, vec![x], out)?;
                Ok(Status::Lowered)
            }
            "LayerNormalization" => {
                for extra in n.output.iter().skip(1) {
                    if !extra.is_empty() && self.uses(extra) > 0 {
                        return Err(
                            "LayerNormalization's mean / inverse-std outputs are used".into()
                        );
                    }
                }
                let x = self.ir_value(self.need(n, 0)?)?;
                let rank = self.ty(x).rank();
                let axis = fold::axis(n.attr_int("axis").unwrap_or(-1), rank)?;
                if axis + 1 != rank {
                    return Err(format!(
                        "LayerNormalization over axes {axis}.. of a rank-{rank} tensor (the IR normalizes the last axis only)"
                    )
                    .into());
                }
                let eps = n.attr_float("epsilon").unwrap_or(1e-5);
                let gamma = self.ir_value(self.need(n, 1)?)?;
                let beta = match n.input_opt(2) {
                    Some(b) => self.ir_value(b)?,
                    None => {
                        let d = self.ty(gamma).shape.clone();
                        let dims: Vec<u64> = d.iter().filter_map(|x| x.fixed()).collect();
                        let name = self.helper_name(&format!("{out}.beta"));
                        self.helpers.remove(&name);
                        self.ir.add_param(
                            name,
                            TensorType::fixed(DType::F32, &dims),
                            Init::Fill { value: 0.0 },
                        )
                    }
                };
                self.emit1(Op::LayerNorm { eps }, vec![x, gamma, beta], out)?;
                Ok(Status::Lowered)
            }
            other => Err(format!("{other} cannot be lowered with these inputs").into()),
        }
    }

    fn reshape_to(&mut self, x: ValueId, shape: Vec<Dim>, out: &str) -> LResult<ValueId> {
        if self.ty(x).shape == shape {
            self.set(out, Val::Ir(x));
            return Ok(x);
        }
        let v = self.emit1(Op::Reshape { shape }, vec![x], out)?;
        self.set(out, Val::Ir(v));
        Ok(v)
    }

    fn lower_gemm(&mut self, n: &NodeProto) -> LResult<Status> {
        let out = &n.output[0];
        if n.attr_int("transA").unwrap_or(0) != 0 {
            return Err("Gemm with transA=1 on an activation".into());
        }
        let trans_b = n.attr_int("transB").unwrap_or(0) != 0;
        let alpha = n.attr_float("alpha").unwrap_or(1.0);
        let beta = n.attr_float("beta").unwrap_or(1.0);
        let x = self.ir_value(self.need(n, 0)?)?;
        let bt = self.need(n, 1)?;
        let w = match self.val(bt)?.clone() {
            Val::Init { name, transposed } if alpha == 1.0 => {
                // W = B if transB else Bᵀ, where B is the initializer seen through `transposed`.
                self.init_param(&name, if trans_b { transposed } else { !transposed })?
            }
            Val::Ir(_) | Val::Poison => {
                return Err("Gemm with a run-time B matrix has no IR op".into());
            }
            _ => {
                let b = self.konst(bt)?.expect("constant");
                let wt = if trans_b {
                    (*b).clone()
                } else {
                    fold::transpose(&b, &[1, 0])?
                };
                let wt = if alpha == 1.0 {
                    wt
                } else {
                    fold::arith(Arith::Mul, &wt, &Const::f32(vec![], vec![alpha]))?
                };
                let name = if trans_b && alpha == 1.0 {
                    bt.to_string()
                } else {
                    self.helper_name(&format!("{bt}.w"))
                };
                self.set(&name, Val::Const(Rc::new(wt.clone())));
                self.const_param(&name, &wt)?
            }
        };
        let out_dim = match self.ty(w).shape.first() {
            Some(Dim::Fixed(d)) => *d as usize,
            _ => return Err("Gemm B must be a matrix".into()),
        };
        let mut ins = vec![x, w];
        if let Some(ct) = n.input_opt(2) {
            let c = match self.val(ct)?.clone() {
                Val::Init {
                    name,
                    transposed: false,
                } if beta == 1.0
                    && self
                        .initializer(&name)
                        .is_some_and(|i| i.dims == [out_dim as i64]) =>
                {
                    self.init_param(&name, false)?
                }
                Val::Ir(_) | Val::Poison => {
                    return Err("Gemm with a run-time C has no IR op".into());
                }
                _ => {
                    let c = self.konst(ct)?.expect("constant");
                    let v = c.to_f32()?;
                    let bias: Vec<f32> = match v.len() {
                        1 => vec![v[0] * beta; out_dim],
                        l if l == out_dim && c.dims.iter().filter(|&&d| d != 1).count() <= 1 => {
                            v.iter().map(|&x| x * beta).collect()
                        }
                        _ => {
                            return Err(format!(
                                "Gemm C of shape {:?} is not a bias vector",
                                c.dims
                            )
                            .into());
                        }
                    };
                    let name = if beta == 1.0 && c.dims == [out_dim] {
                        ct.to_string()
                    } else {
                        self.helper_name(&format!("{ct}.b"))
                    };
                    let bc = Const::f32(vec![out_dim], bias);
                    self.set(&name, Val::Const(Rc::new(bc.clone())));
                    self.const_param(&name, &bc)?
                }
            };
            ins.push(c);
        }
        if self.ty(x).rank() != 2 {
            return Err(format!("Gemm input must be a matrix, got {}", self.ty(x)).into());
        }
        self.emit1(
            Op::Linear {
                act: Activation::None,
            },
            ins,
            out,
        )?;
        Ok(Status::Lowered)
    }

    fn lower_matmul(&mut self, n: &NodeProto) -> LResult<Status> {
        let out = &n.output[0];
        let at = self.need(n, 0)?;
        let bt = self.need(n, 1)?;
        let x = match self.val(at)?.clone() {
            Val::Ir(v) => v,
            Val::Poison => return Err(Fail::Poisoned),
            _ => return Err("MatMul with a constant left operand and a run-time right one".into()),
        };
        match self.val(bt)?.clone() {
            Val::Ir(b) => {
                self.emit1(Op::MatMul { transpose_b: false }, vec![x, b], out)?;
            }
            Val::Poison => return Err(Fail::Poisoned),
            Val::Init { name, transposed }
                if self.initializer(&name).is_some_and(|i| i.dims.len() == 2) =>
            {
                let w = self.init_param(&name, !transposed)?;
                self.emit1(
                    Op::Linear {
                        act: Activation::None,
                    },
                    vec![x, w],
                    out,
                )?;
            }
            _ => {
                let b = self.konst(bt)?.expect("constant");
                match b.dims.len() {
                    2 => {
                        let wt = fold::transpose(&b, &[1, 0])?;
                        let name = self.helper_name(&format!("{bt}.T"));
                        self.set(&name, Val::Const(Rc::new(wt.clone())));
                        let w = self.const_param(&name, &wt)?;
                        self.emit1(
                            Op::Linear {
                                act: Activation::None,
                            },
                            vec![x, w],
                            out,
                        )?;
                    }
                    1 => {
                        let k = b.dims[0];
                        let wt = Const::f32(vec![1, k], b.to_f32()?);
                        let name = self.helper_name(&format!("{bt}.row"));
                        self.set(&name, Val::Const(Rc::new(wt.clone())));
                        let w = self.const_param(&name, &wt)?;
                        let tmp = self.helper_name(&format!("{out}/linear"));
                        let h = self.emit1(
                            Op::Linear {
                                act: Activation::None,
                            },
                            vec![x, w],
                            &tmp,
                        )?;
                        let mut shape = self.ty(h).shape.clone();
                        shape.pop();
                        self.reshape_to(h, shape, out)?;
                        return Ok(Status::Lowered);
                    }
                    r => return Err(format!("MatMul by a constant of rank {r}").into()),
                }
            }
        }
        Ok(Status::Lowered)
    }

    fn lower_reduce(&mut self, n: &NodeProto) -> LResult<Status> {
        let out = &n.output[0];
        let kind = match n.op_type.as_str() {
            "ReduceSum" => ReduceKind::Sum,
            "ReduceMean" => ReduceKind::Mean,
            _ => ReduceKind::Max,
        };
        let x = self.ir_value(self.need(n, 0)?)?;
        let t = self.ty(x).clone();
        let axes_from_input = n.op_type == "ReduceSum" || self.opset() >= 18;
        let axes = if axes_from_input {
            self.const_ints(n, 1, "axes")?
        } else {
            n.attr_ints("axes").map(<[i64]>::to_vec)
        };
        let keepdims = n.attr_int("keepdims").unwrap_or(1) != 0;
        let noop = n.attr_int("noop_with_empty_axes").unwrap_or(0) != 0;
        let mut axes: Vec<usize> = match axes {
            Some(a) if !a.is_empty() => a
                .iter()
                .map(|&x| fold::axis(x, t.rank()))
                .collect::<Result<_, _>>()?,
            _ if noop => {
                self.set(out, Val::Ir(x));
                return Ok(Status::Lowered);
            }
            _ => (0..t.rank()).collect(),
        };
        axes.sort_unstable();
        axes.dedup();
        if axes.iter().any(|&a| t.shape[a] == Dim::Batch) {
            return Err(format!("{} over the batch axis of {t}", n.op_type).into());
        }
        let mut v = x;
        for (k, &a) in axes.iter().rev().enumerate() {
            let last = k + 1 == axes.len() && !keepdims;
            let name = if last {
                out.to_string()
            } else {
                self.helper_name(&format!("{out}/reduce{a}"))
            };
            v = self.emit1(Op::Reduce { kind, axis: a }, vec![v], &name)?;
        }
        if keepdims {
            let mut shape = t.shape.clone();
            for &a in &axes {
                shape[a] = Dim::Fixed(1);
            }
            self.reshape_to(v, shape, out)?;
        } else {
            self.set(out, Val::Ir(v));
        }
        Ok(Status::Lowered)
    }

    fn lower_slice(&mut self, n: &NodeProto) -> LResult<Status> {
        let out = &n.output[0];
        let x = self.ir_value(self.need(n, 0)?)?;
        let t = self.ty(x).clone();
        let starts = self
            .const_ints(n, 1, "starts")?
            .ok_or("Slice needs starts")?;
        let ends = self.const_ints(n, 2, "ends")?.ok_or("Slice needs ends")?;
        let axes = self
            .const_ints(n, 3, "axes")?
            .unwrap_or_else(|| (0..starts.len() as i64).collect());
        let steps = self
            .const_ints(n, 4, "steps")?
            .unwrap_or_else(|| vec![1; starts.len()]);
        if starts.len() != ends.len() || axes.len() != starts.len() || steps.len() != starts.len() {
            return Err("Slice starts, ends, axes and steps differ in length".into());
        }
        let mut cuts = Vec::new();
        for k in 0..axes.len() {
            let a = fold::axis(axes[k], t.rank())?;
            match t.shape[a] {
                Dim::Fixed(len) => {
                    let (s, e) = fold::slice_bounds(starts[k], ends[k], len as i64);
                    if s == 0 && e == len as i64 {
                        continue;
                    }
                    if steps[k] != 1 {
                        return Err(
                            format!("Slice with step {} on a run-time tensor", steps[k]).into()
                        );
                    }
                    if e <= s {
                        return Err(format!("Slice [{s}, {e}) of axis {a} is empty").into());
                    }
                    cuts.push((a, s as u64, e as u64));
                }
                _ => {
                    // The batch axis may only be "sliced" whole.
                    if starts[k] != 0 || ends[k] < i64::MAX / 2 || steps[k] != 1 {
                        return Err(format!("Slice of the batch axis of {t}").into());
                    }
                }
            }
        }
        let mut v = x;
        for (k, &(axis, start, end)) in cuts.iter().enumerate() {
            let name = if k + 1 == cuts.len() {
                out.to_string()
            } else {
                self.helper_name(&format!("{out}/slice{axis}"))
            };
            v = self.emit1(Op::Slice { axis, start, end }, vec![v], &name)?;
        }
        self.set(out, Val::Ir(v));
        Ok(Status::Lowered)
    }

    fn lower_split(&mut self, n: &NodeProto) -> LResult<Status> {
        let x = self.ir_value(self.need(n, 0)?)?;
        let t = self.ty(x).clone();
        let axis = fold::axis(n.attr_int("axis").unwrap_or(0), t.rank())?;
        let len = t.shape[axis]
            .fixed()
            .ok_or_else(|| format!("Split along axis {axis} of {t}, which is not fixed"))?;
        let split = self.const_ints(n, 1, "split")?;
        let sizes = split_sizes(n, split, len, self.opset())?;
        let outs: Vec<&str> = n.output.iter().map(String::as_str).collect();
        if outs.iter().any(|o| o.is_empty()) {
            return Err("Split with an omitted output".into());
        }
        self.emit(Op::Split { axis, sizes }, vec![x], &outs)?;
        Ok(Status::Lowered)
    }

    fn lower_gather(&mut self, n: &NodeProto) -> LResult<Status> {
        let out = &n.output[0];
        let dt = self.need(n, 0)?;
        let it = self.need(n, 1)?;
        let ax = n.attr_int("axis").unwrap_or(0);
        let data = self.val(dt)?.clone();
        let idx = self.val(it)?.clone();
        if matches!(data, Val::Poison) || matches!(idx, Val::Poison) {
            return Err(Fail::Poisoned);
        }
        match (data, idx) {
            (Val::Ir(x), Val::Init { .. } | Val::Const(_)) => {
                // Constant indices into an activation: slices.
                let c = self.konst(it)?.expect("constant");
                let t = self.ty(x).clone();
                let axis = fold::axis(ax, t.rank())?;
                let len = t.shape[axis]
                    .fixed()
                    .ok_or_else(|| format!("Gather along axis {axis} of {t}, which is not fixed"))?;
                let raw = c.known_ints()?;
                let idx: Vec<u64> = raw
                    .iter()
                    .map(|&i| {
                        let j = if i < 0 { i + len as i64 } else { i };
                        if (0..len as i64).contains(&j) {
                            Ok(j as u64)
                        } else {
                            Err(format!("Gather index {i} is out of range for length {len}"))
                        }
                    })
                    .collect::<Result<_, _>>()?;
                if c.dims.len() > 1 || idx.is_empty() {
                    return Err("Gather from an activation takes a scalar or a non-empty vector of indices".into());
                }
                // Runs of consecutive indices become slices, concatenated if more than one.
                let mut runs: Vec<(u64, u64)> = Vec::new();
                for &i in &idx {
                    match runs.last_mut() {
                        Some((_, e)) if *e == i => *e += 1,
                        _ => runs.push((i, i + 1)),
                    }
                }
                if runs.len() > 64 {
                    return Err(format!("Gather of {} scattered indices from an activation", idx.len()).into());
                }
                let scalar = c.dims.is_empty();
                let mut parts = Vec::new();
                for &(s, e) in &runs {
                    if s == 0 && e == len {
                        parts.push(x);
                        continue;
                    }
                    let name = if runs.len() == 1 && !scalar {
                        out.to_string()
                    } else {
                        self.helper_name(&format!("{out}/slice"))
                    };
                    parts.push(self.emit1(Op::Slice { axis, start: s, end: e }, vec![x], &name)?);
                }
                let v = if parts.len() == 1 {
                    parts[0]
                } else {
                    let name = if scalar {
                        self.helper_name(&format!("{out}/concat"))
                    } else {
                        out.to_string()
                    };
                    self.emit1(Op::Concat { axis }, parts, &name)?
                };
                if scalar {
                    let mut shape = self.ty(v).shape.clone();
                    shape.remove(axis);
                    self.reshape_to(v, shape, out)?;
                } else {
                    self.set(out, Val::Ir(v));
                }
                Ok(Status::Lowered)
            }
            (Val::Init { .. } | Val::Const(_), Val::Ir(i)) => {
                if fold::axis(ax, 2).ok() != Some(0) {
                    return Err("Gather from a table along an axis other than 0".into());
                }
                let table = self.ir_value(dt)?;
                if self.ty(table).rank() != 2 {
                    return Err(format!("Gather from a constant of type {}: only 2-D tables are embedding lookups", self.ty(table)).into());
                }
                self.emit1(Op::Embedding, vec![table, i], out)?;
                Ok(Status::Lowered)
            }
            _ => Err("Gather with run-time data and run-time indices has no IR op (only lookups into constant tables)".into()),
        }
    }

    /// Lowers a node a pattern replaced.
    pub(super) fn lower_fused(&mut self, i: usize, f: &Fused) -> LResult<()> {
        let n = self.node(i);
        let out = n.output[0].as_str();
        match f {
            Fused::Gelu { x } => {
                let x = self.ir_value(x)?;
                self.emit1(Op::Unary(UnaryOp::Gelu), vec![x], out)?;
            }
            Fused::Dot {
                x,
                n: count,
                self_interaction,
            } => {
                let x = self.ir_value(x)?;
                let t = self.ty(x);
                if t.rank() != 3 || t.shape[1] != Dim::Fixed(*count as u64) {
                    return Err(format!(
                        "dot-interaction pattern: features must be [batch, {count}, d], got {t}"
                    )
                    .into());
                }
                self.emit1(
                    Op::DotInteraction {
                        self_interaction: *self_interaction,
                    },
                    vec![x],
                    out,
                )?;
            }
            Fused::Bag(b) => {
                let table = match self.val(&b.table)? {
                    Val::Init { .. } | Val::Const(_) => self.ir_value(&b.table)?,
                    _ => return Err("embedding bag: the table must be an initializer".into()),
                };
                let idx = self.ir_value(&b.indices)?;
                let mut ins = vec![table, idx];
                if let Some(fixed) = &b.fixed {
                    let t = self.ty(idx).clone();
                    let h = match t.shape.as_slice() {
                        [_, Dim::Fixed(h)] => *h as i64,
                        _ => return Err(format!(
                            "embedding bag: fixed-pooling indices must be [batch, hotness], got {t}"
                        )
                        .into()),
                    };
                    let start = self
                        .fold_lazy(&fixed.start, 0)
                        .and_then(|c| c.known_ints().ok());
                    let delta = self
                        .fold_lazy(&fixed.delta, 0)
                        .and_then(|c| c.known_ints().ok());
                    if start.as_deref() != Some(&[0]) || delta.as_deref() != Some(&[h]) {
                        return Err(format!(
                            "embedding bag: offsets are not 0, {h}, 2*{h}, ... for indices {t}"
                        )
                        .into());
                    }
                } else if let Some(o) = &b.offsets {
                    ins.push(self.ir_value(o)?);
                }
                self.emit1(
                    Op::EmbeddingBag {
                        pooling: b.pooling,
                        mean_pooling: if b.offsets.is_some() {
                            b.mean_pooling
                        } else {
                            None
                        },
                    },
                    ins,
                    out,
                )?;
            }
            Fused::LayerNorm {
                x,
                gamma,
                beta,
                eps,
                axes,
            } => {
                let x = self.ir_value(x)?;
                let t = self.ty(x).clone();
                let d = t
                    .last_dim()
                    .and_then(Dim::fixed)
                    .ok_or_else(|| format!("layer-norm pattern on {t}"))?;
                if axes.len() != 1 || fold::axis(axes[0], t.rank()).ok() != Some(t.rank() - 1) {
                    return Err(format!(
                        "layer-norm pattern over axes {axes:?} of {t} (the IR normalizes the last axis only)"
                    )
                    .into());
                }
                let param =
                    |s: &mut Self, t: &Option<String>, fill: f32, what: &str| -> LResult<ValueId> {
                        let Some(t) = t else {
                            let name = s.helper_name(&format!("{out}.{what}"));
                            s.helpers.remove(&name);
                            return Ok(s.ir.add_param(
                                name,
                                TensorType::fixed(DType::F32, &[d]),
                                Init::Fill { value: fill },
                            ));
                        };
                        let c = s.konst(t)?.expect("the pattern checked it is constant");
                        let v = c.to_f32()?;
                        if v.len() == d as usize
                            && s.initializer(t).is_some_and(|i| i.dims == [d as i64])
                        {
                            return s.ir_value(t);
                        }
                        // A scalar or [1, d] constant: broadcast to the [d] the IR wants.
                        let full: Vec<f32> = match v.len() {
                            1 => vec![v[0]; d as usize],
                            n if n == d as usize => v,
                            n => {
                                return Err(format!(
                                    "layer-norm {what} has {n} values for width {d}"
                                )
                                .into());
                            }
                        };
                        let name = s.helper_name(&format!("{out}.{what}"));
                        let c = Const::f32(vec![d as usize], full);
                        s.set(&name, Val::Const(Rc::new(c.clone())));
                        s.const_param(&name, &c)
                    };
                let g = param(self, gamma, 1.0, "gamma")?;
                let b = param(self, beta, 0.0, "beta")?;
                self.emit1(Op::LayerNorm { eps: *eps }, vec![x, g, b], out)?;
            }
            Fused::Seedchip { op, operands } => {
                let mut ins = Vec::new();
                for o in operands {
                    ins.push(self.ir_value(o)?);
                }
                self.emit1(op.clone(), ins, out)?;
            }
        }
        Ok(())
    }
}

/// The sizes of ONNX `Split` outputs.
fn split_sizes(
    n: &NodeProto,
    split: Option<Vec<i64>>,
    len: u64,
    opset: i64,
) -> Result<Vec<u64>, String> {
    let outs = n.output.len() as u64;
    let sizes: Vec<u64> = match split {
        Some(s) => s
            .iter()
            .map(|&x| u64::try_from(x).map_err(|_| format!("negative split size {x}")))
            .collect::<Result<_, _>>()?,
        None => {
            let parts = match n.attr_int("num_outputs") {
                Some(k) if opset >= 18 => u64::try_from(k).map_err(|_| "negative num_outputs")?,
                _ => outs,
            };
            if parts == 0 || parts != outs {
                return Err(format!("Split into {parts} parts with {outs} outputs"));
            }
            let chunk = len.div_ceil(parts);
            (0..parts)
                .map(|k| chunk.min(len.saturating_sub(k * chunk)))
                .collect()
        }
    };
    if sizes.len() as u64 != outs || sizes.iter().sum::<u64>() != len || sizes.contains(&0) {
        return Err(format!(
            "Split sizes {sizes:?} must be positive, one per output ({outs}) and sum to {len}"
        ));
    }
    Ok(sizes)
}

/// `Shape` with its opset-15 `start` / `end` attributes.
fn shape_slice(n: &NodeProto, syms: Vec<Sym>) -> Result<Const, String> {
    let r = syms.len() as i64;
    let start = n.attr_int("start").unwrap_or(0);
    let end = n.attr_int("end").unwrap_or(r);
    let (s, e) = fold::slice_bounds(start, end, r);
    let v: Vec<Sym> = if e > s {
        syms[s as usize..e as usize].to_vec()
    } else {
        Vec::new()
    };
    Ok(Const::int(vec![v.len()], v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_round_trip() {
        for init in [Init::uniform(7, 0.125), Init::Fill { value: -0.5 }] {
            let text = init_annotation(&init).unwrap();
            assert_eq!(parse_init_annotation(&text), Some(init));
        }
        assert_eq!(parse_init_annotation("hello"), None);
        assert_eq!(
            parse_init_annotation("seedchip:init=uniform(seed=x, bound=1)"),
            None
        );
    }

    #[test]
    fn reshape_targets() {
        let x = TensorType::batched(DType::F32, &[27, 128]);
        let t = reshape_target(&x, &[Sym::Known(-1), Sym::Known(3456)], false).unwrap();
        assert_eq!(t, vec![Dim::Batch, Dim::Fixed(3456)]);
        let t = reshape_target(&x, &[Sym::Batch, Sym::Known(-1)], false).unwrap();
        assert_eq!(t, vec![Dim::Batch, Dim::Fixed(3456)]);
        let t =
            reshape_target(&x, &[Sym::Known(0), Sym::Known(-1), Sym::Known(64)], false).unwrap();
        assert_eq!(t, vec![Dim::Batch, Dim::Fixed(54), Dim::Fixed(64)]);
        assert!(reshape_target(&x, &[Sym::Known(-1), Sym::Known(128)], false).is_err());
        assert!(reshape_target(&x, &[Sym::Known(3456)], false).is_err());
    }
}
