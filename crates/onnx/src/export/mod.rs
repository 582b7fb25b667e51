//! IR → ONNX export.
//!
//! The file must be ordinary ONNX (onnxruntime runs it, Netron draws it) and importing it must
//! give back the same graph, text for text. So every IR op is written as the standard ops its
//! import patterns recognise: an embedding bag as `Gather` + `ReduceSum` (or PyTorch's `Loop`
//! for ragged bags), a linear layer as `Gemm` (+ activation), the dot interaction as DLRM's
//! `X·Xᵀ` + triangle `Gather`, the cross layer as two `Gemm`s, `Mul` and `Add`. Only the two
//! attention ops, which have no standard spelling worth matching, become model-local functions
//! in the `ai.seedchip` domain (see [`functions`]); onnxruntime inlines them.
//!
//! Weights are written as initializers under their IR names. Procedural and constant-fill
//! initializers carry a `seedchip:init=` note in their `doc_string`, which import restores after
//! checking the values, so a zoo model's weights survive the round trip by name.

pub mod functions;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use seedchip_ir::init::ParamValues;
use seedchip_ir::{
    Activation, BinaryOp, DType, Dim, Graph, Op, ParamId, Pooling, ReduceKind, TensorType, UnaryOp,
    ValueId,
};

use crate::Error;
use crate::import::lower::init_annotation;
use crate::import::patterns::{MEAN_POOLING_MARK, triangle};
use crate::proto::{
    AttributeProto, DataLocation, DataType, FunctionProto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto, tensor_shape_proto, type_proto,
};

/// The opset exports target: supported by every onnxruntime of the last years, and it has
/// `LayerNormalization`.
pub const EXPORT_OPSET: i64 = 17;
/// IR version matching opset 17 (model-local functions need 8 or later).
const IR_VERSION: i64 = 8;

/// When weights go to a side file instead of the `.onnx` itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExternalData {
    /// Only when the weights would push the file past protobuf's 2 GiB limit.
    #[default]
    Auto,
    Never,
    /// Every initializer of at least 1 KiB.
    Always,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportOptions {
    pub external_data: ExternalData,
    /// Resolves relative weight-file paths of `File` parameters.
    pub base_dir: Option<PathBuf>,
}

/// Weights above this total go to external data under [`ExternalData::Auto`].
const AUTO_EXTERNAL_BYTES: u64 = 1 << 30;
const EXTERNAL_MIN_BYTES: u64 = 1024;
const EXTERNAL_ALIGN: u64 = 4096;

fn dtype_code(d: DType) -> i32 {
    (match d {
        DType::F32 => DataType::Float,
        DType::F16 => DataType::Float16,
        DType::BF16 => DataType::Bfloat16,
        DType::I32 => DataType::Int32,
        DType::I64 => DataType::Int64,
    }) as i32
}

pub(crate) fn value_info(name: &str, ty: &TensorType, dyn_name: &str) -> ValueInfoProto {
    let dims = ty
        .shape
        .iter()
        .map(|d| tensor_shape_proto::Dimension {
            value: Some(match d {
                Dim::Fixed(n) => tensor_shape_proto::dimension::Value::DimValue(*n as i64),
                Dim::Batch => tensor_shape_proto::dimension::Value::DimParam("B".into()),
                Dim::Dyn => tensor_shape_proto::dimension::Value::DimParam(dyn_name.into()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: dtype_code(ty.dtype),
                shape: Some(TensorShapeProto { dim: dims }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn tensor_i64(name: &str, dims: &[i64], v: &[i64]) -> TensorProto {
    TensorProto {
        name: name.into(),
        data_type: DataType::Int64 as i32,
        dims: dims.to_vec(),
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub(crate) fn tensor_f32(name: &str, dims: &[i64], v: &[f32]) -> TensorProto {
    TensorProto {
        name: name.into(),
        data_type: DataType::Float as i32,
        dims: dims.to_vec(),
        raw_data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub(crate) fn node(op: &str, name: &str, inputs: &[&str], outputs: &[&str]) -> NodeProto {
    NodeProto {
        op_type: op.into(),
        name: name.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

/// Emits ONNX nodes into a graph under construction, minting unique tensor names.
pub(crate) struct Emitter {
    pub nodes: Vec<NodeProto>,
    pub inits: Vec<TensorProto>,
    taken: BTreeSet<String>,
}

impl Emitter {
    pub(crate) fn new(taken: BTreeSet<String>) -> Self {
        Emitter {
            nodes: Vec::new(),
            inits: Vec::new(),
            taken,
        }
    }

    /// A tensor name `base/suffix` no IR value uses.
    pub(crate) fn tmp(&mut self, base: &str, suffix: &str) -> String {
        let want = format!("{base}/{suffix}");
        let mut name = want.clone();
        let mut k = 1;
        while !self.taken.insert(name.clone()) {
            name = format!("{want}_{k}");
            k += 1;
        }
        name
    }

    pub(crate) fn op(&mut self, op: &str, inputs: &[&str], out: &str) -> &mut NodeProto {
        self.nodes.push(node(op, out, inputs, &[out]));
        self.nodes.last_mut().expect("just pushed")
    }

    /// `op(inputs)` into a fresh tensor named after `base`.
    pub(crate) fn op_tmp(&mut self, op: &str, inputs: &[&str], base: &str, suffix: &str) -> String {
        let out = self.tmp(base, suffix);
        self.op(op, inputs, &out);
        out
    }

    pub(crate) fn const_i64(
        &mut self,
        base: &str,
        suffix: &str,
        dims: &[i64],
        v: &[i64],
    ) -> String {
        let name = self.tmp(base, suffix);
        self.inits.push(tensor_i64(&name, dims, v));
        name
    }

    pub(crate) fn const_f32(&mut self, base: &str, suffix: &str, v: f32) -> String {
        let name = self.tmp(base, suffix);
        self.inits.push(tensor_f32(&name, &[], &[v]));
        name
    }

    /// `x · W (+ b)` for a weight `W[out, in]` in PyTorch layout: `Gemm` on matrices, else
    /// `MatMul(x, Transpose(W))` plus `Add`.
    pub(crate) fn linear(&mut self, x: &str, x_rank: usize, w: &str, b: Option<&str>, out: &str) {
        if x_rank == 2 {
            let mut ins = vec![x, w];
            ins.extend(b);
            self.op("Gemm", &ins, out)
                .attribute
                .push(AttributeProto::int("transB", 1));
            return;
        }
        let wt = self.op_tmp("Transpose", &[w], out, "wT");
        self.nodes
            .last_mut()
            .expect("just pushed")
            .attribute
            .push(AttributeProto::ints("perm", vec![1, 0]));
        match b {
            Some(b) => {
                let mm = self.op_tmp("MatMul", &[x, &wt], out, "matmul");
                self.op("Add", &[&mm, b], out);
            }
            None => {
                self.op("MatMul", &[x, &wt], out);
            }
        }
    }

    /// Applies a unary op in the spelling import recognises (erf GELU, `x·σ(x)` SiLU).
    pub(crate) fn unary(&mut self, u: UnaryOp, x: &str, out: &str) {
        match u {
            UnaryOp::Relu => {
                self.op("Relu", &[x], out);
            }
            UnaryOp::Sigmoid => {
                self.op("Sigmoid", &[x], out);
            }
            UnaryOp::Tanh => {
                self.op("Tanh", &[x], out);
            }
            UnaryOp::Neg => {
                self.op("Neg", &[x], out);
            }
            UnaryOp::Exp => {
                self.op("Exp", &[x], out);
            }
            UnaryOp::Silu => {
                let s = self.op_tmp("Sigmoid", &[x], out, "sigmoid");
                self.op("Mul", &[x, &s], out);
            }
            UnaryOp::Gelu => {
                let r2 = self.const_f32(out, "sqrt2", std::f32::consts::SQRT_2);
                let one = self.const_f32(out, "one", 1.0);
                let half = self.const_f32(out, "half", 0.5);
                let d = self.op_tmp("Div", &[x, &r2], out, "div");
                let e = self.op_tmp("Erf", &[&d], out, "erf");
                let a = self.op_tmp("Add", &[&e, &one], out, "add");
                let m = self.op_tmp("Mul", &[x, &a], out, "mul");
                self.op("Mul", &[&m, &half], out);
            }
        }
    }

    pub(crate) fn act(&mut self, act: Activation, x: &str, out: &str) {
        match act.unary() {
            Some(u) => self.unary(u, x, out),
            None => {
                self.op("Identity", &[x], out);
            }
        }
    }
}

struct Exporter<'g> {
    g: &'g Graph,
    e: Emitter,
    functions: Vec<FunctionProto>,
}

impl Exporter<'_> {
    fn name(&self, v: ValueId) -> &str {
        self.g.value_name(v)
    }

    fn rank(&self, v: ValueId) -> usize {
        self.g.ty(v).rank()
    }

    fn reduce(&mut self, kind: ReduceKind, x: &str, axis: i64, out: &str) {
        let op = match kind {
            ReduceKind::Sum => "ReduceSum",
            ReduceKind::Mean => "ReduceMean",
            ReduceKind::Max => "ReduceMax",
        };
        // ReduceSum takes axes as an input from opset 13, the others from 18.
        if kind == ReduceKind::Sum {
            let axes = self.e.const_i64(out, "axes", &[1], &[axis]);
            self.e.op(op, &[x, &axes], out)
        } else {
            self.e
                .op(op, &[x], out)
                .attribute
                .push(AttributeProto::ints("axes", vec![axis]));
            self.e.nodes.last_mut().expect("pushed")
        }
        .attribute
        .push(AttributeProto::int("keepdims", 0));
    }

    /// The ragged bag as PyTorch's TorchScript exporter writes `nn.EmbeddingBag`.
    fn ragged_bag(&mut self, ins: &[ValueId], pooling: Pooling, mean: Option<f64>, out: &str) {
        let table = self.name(ins[0]).to_string();
        let idx = self.name(ins[1]).to_string();
        let mut off = self.name(ins[2]).to_string();
        let e = &mut self.e;
        if self.g.ty(ins[2]).dtype != DType::I64 {
            let c = e.op_tmp("Cast", &[&off], out, "offsets64");
            e.nodes
                .last_mut()
                .expect("pushed")
                .attribute
                .push(AttributeProto::int("to", i64::from(DataType::Int64 as i32)));
            off = c;
        }
        let zero_s = e.const_i64(out, "zero", &[], &[0]);
        let zero_v = e.const_i64(out, "axes0", &[1], &[0]);
        let one_v = e.const_i64(out, "one", &[1], &[1]);
        let big = e.const_i64(out, "end", &[1], &[i64::MAX]);
        let shape = e.op_tmp("Shape", &[&idx], out, "shape");
        let len = e.op_tmp("Gather", &[&shape, &zero_s], out, "len");
        let len1 = e.op_tmp("Unsqueeze", &[&len, &zero_v], out, "len1");
        let starts = e.op_tmp("Concat", &[&off, &len1], out, "starts");
        e.nodes
            .last_mut()
            .expect("pushed")
            .attribute
            .push(AttributeProto::int("axis", 0));
        let ends = e.op_tmp(
            "Slice",
            &[&starts, &one_v, &big, &zero_v, &one_v],
            out,
            "ends",
        );
        let eshape = e.op_tmp("Shape", &[&ends], out, "ends_shape");
        let trips = e.op_tmp("Gather", &[&eshape, &zero_s], out, "bags");
        let cond = self.e.tmp(out, "true");
        self.e.inits.push(TensorProto {
            name: cond.clone(),
            data_type: DataType::Bool as i32,
            dims: vec![],
            raw_data: vec![1],
            ..Default::default()
        });
        let b = |s: &str| format!("{out}/body/{s}");
        let (it, c_in, c_out, r) = (b("i"), b("cond"), b("cond_out"), b("pooled"));
        let bc = |name: &str, v: &[i64], dims: &[i64]| {
            let mut n = node("Constant", name, &[], &[name]);
            n.attribute
                .push(AttributeProto::tensor("value", tensor_i64(name, dims, v)));
            n
        };
        let reduce = match pooling {
            Pooling::Sum => "ReduceSum",
            Pooling::Mean => "ReduceMean",
            Pooling::Max => "ReduceMax",
        };
        let mut red = node(reduce, &r, &[&b("rows")], &[&r]);
        if pooling == Pooling::Sum {
            red.input.push(b("axes"));
        } else {
            red.attribute.push(AttributeProto::ints("axes", vec![0]));
        }
        red.attribute.push(AttributeProto::int("keepdims", 0));
        let mut body_nodes = vec![
            node("Gather", &b("start"), &[&starts, &it], &[&b("start")]),
            node("Gather", &b("stop"), &[&ends, &it], &[&b("stop")]),
            bc(&b("zero"), &[0], &[1]),
            node(
                "Unsqueeze",
                &b("start1"),
                &[&b("start"), &b("zero")],
                &[&b("start1")],
            ),
            node(
                "Unsqueeze",
                &b("stop1"),
                &[&b("stop"), &b("zero")],
                &[&b("stop1")],
            ),
            node(
                "Slice",
                &b("ids"),
                &[&idx, &b("start1"), &b("stop1"), &b("zero")],
                &[&b("ids")],
            ),
            node("Gather", &b("rows"), &[&table, &b("ids")], &[&b("rows")]),
        ];
        if pooling == Pooling::Sum {
            body_nodes.push(bc(&b("axes"), &[0], &[1]));
        }
        body_nodes.push(red);
        body_nodes.push(node("Identity", &c_out, &[&c_in], &[&c_out]));
        let scalar = |name: &str, dt: DataType| ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: dt as i32,
                    shape: Some(TensorShapeProto { dim: vec![] }),
                })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let dim = self.g.ty(ins[0]).shape[1].fixed().unwrap_or(0);
        let body = GraphProto {
            name: format!("{out}/body"),
            node: body_nodes,
            input: vec![scalar(&it, DataType::Int64), scalar(&c_in, DataType::Bool)],
            output: vec![
                scalar(&c_out, DataType::Bool),
                value_info(&r, &TensorType::fixed(DType::F32, &[dim]), ""),
            ],
            ..Default::default()
        };
        let l = self.e.op("Loop", &[&trips, &cond], out);
        l.attribute.push(AttributeProto::graph("body", body));
        if let Some(m) = mean {
            l.doc_string = format!("{MEAN_POOLING_MARK}{m:?}");
        }
    }

    fn emit(&mut self, op: &Op, ins: &[ValueId], outs: &[ValueId]) -> Result<(), Error> {
        let out = self.name(outs[0]).to_string();
        let n = |s: &Self, i: usize| s.name(ins[i]).to_string();
        match op {
            Op::EmbeddingBag {
                pooling,
                mean_pooling,
            } => {
                if ins.len() == 3 {
                    self.ragged_bag(ins, *pooling, *mean_pooling, &out);
                } else {
                    let (t, i) = (n(self, 0), n(self, 1));
                    let rows = self.e.op_tmp("Gather", &[&t, &i], &out, "rows");
                    let kind = match pooling {
                        Pooling::Sum => ReduceKind::Sum,
                        Pooling::Mean => ReduceKind::Mean,
                        Pooling::Max => ReduceKind::Max,
                    };
                    self.reduce(kind, &rows, 1, &out);
                }
            }
            Op::Embedding => {
                let (t, i) = (n(self, 0), n(self, 1));
                self.e.op("Gather", &[&t, &i], &out);
            }
            Op::Linear { act } => {
                let x = n(self, 0);
                let w = n(self, 1);
                let b = (ins.len() == 3).then(|| n(self, 2));
                let rank = self.rank(ins[0]);
                if *act == Activation::None {
                    self.e.linear(&x, rank, &w, b.as_deref(), &out);
                } else {
                    let pre = self.e.tmp(&out, "linear");
                    self.e.linear(&x, rank, &w, b.as_deref(), &pre);
                    self.e.act(*act, &pre, &out);
                }
            }
            Op::MatMul { transpose_b } => {
                let (a, mut b) = (n(self, 0), n(self, 1));
                if *transpose_b {
                    let r = self.rank(ins[1]) as i64;
                    let mut perm: Vec<i64> = (0..r).collect();
                    perm.swap((r - 2) as usize, (r - 1) as usize);
                    b = self.e.op_tmp("Transpose", &[&b], &out, "bT");
                    self.e
                        .nodes
                        .last_mut()
                        .expect("pushed")
                        .attribute
                        .push(AttributeProto::ints("perm", perm));
                }
                self.e.op("MatMul", &[&a, &b], &out);
            }
            Op::Unary(u) => {
                let x = n(self, 0);
                self.e.unary(*u, &x, &out);
            }
            Op::Binary(b) => {
                let opn = match b {
                    BinaryOp::Add => "Add",
                    BinaryOp::Sub => "Sub",
                    BinaryOp::Mul => "Mul",
                    BinaryOp::Div => "Div",
                };
                let (x, y) = (n(self, 0), n(self, 1));
                self.e.op(opn, &[&x, &y], &out);
            }
            Op::Concat { axis } => {
                let xs: Vec<String> = (0..ins.len()).map(|i| n(self, i)).collect();
                let refs: Vec<&str> = xs.iter().map(String::as_str).collect();
                self.e
                    .op("Concat", &refs, &out)
                    .attribute
                    .push(AttributeProto::int("axis", *axis as i64));
            }
            Op::Reshape { .. } => {
                let x = n(self, 0);
                self.reshape_to(&x, outs[0], &out);
            }
            Op::Flatten { axis } => {
                let x = n(self, 0);
                if *axis == 1 {
                    self.e
                        .op("Flatten", &[&x], &out)
                        .attribute
                        .push(AttributeProto::int("axis", 1));
                } else {
                    self.reshape_to(&x, outs[0], &out);
                }
            }
            Op::Transpose { perm } => {
                let x = n(self, 0);
                self.e
                    .op("Transpose", &[&x], &out)
                    .attribute
                    .push(AttributeProto::ints(
                        "perm",
                        perm.iter().map(|&p| p as i64).collect(),
                    ));
            }
            Op::Slice { axis, start, end } => {
                let x = n(self, 0);
                let s = self.e.const_i64(&out, "starts", &[1], &[*start as i64]);
                let t = self.e.const_i64(&out, "ends", &[1], &[*end as i64]);
                let a = self.e.const_i64(&out, "axes", &[1], &[*axis as i64]);
                self.e.op("Slice", &[&x, &s, &t, &a], &out);
            }
            Op::Split { axis, sizes } => {
                let x = n(self, 0);
                let sz: Vec<i64> = sizes.iter().map(|&s| s as i64).collect();
                let s = self.e.const_i64(&out, "split", &[sz.len() as i64], &sz);
                let names: Vec<String> = outs.iter().map(|&o| self.name(o).to_string()).collect();
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                let mut nd = node("Split", &out, &[&x, &s], &refs);
                nd.attribute.push(AttributeProto::int("axis", *axis as i64));
                self.e.nodes.push(nd);
            }
            Op::DotInteraction { self_interaction } => {
                let (x, count) = if ins.len() == 1 {
                    let t = self.g.ty(ins[0]);
                    (n(self, 0), t.shape[1].fixed().unwrap_or(0))
                } else {
                    let d = self.g.ty(ins[0]).shape[1].fixed().unwrap_or(0) as i64;
                    let xs: Vec<String> = (0..ins.len()).map(|i| n(self, i)).collect();
                    let refs: Vec<&str> = xs.iter().map(String::as_str).collect();
                    let cat = self.e.tmp(&out, "features");
                    self.e
                        .op("Concat", &refs, &cat)
                        .attribute
                        .push(AttributeProto::int("axis", 1));
                    let shape =
                        self.e
                            .const_i64(&out, "stack_shape", &[3], &[-1, ins.len() as i64, d]);
                    let st = self.e.op_tmp("Reshape", &[&cat, &shape], &out, "stacked");
                    (st, ins.len() as u64)
                };
                let xt = self.e.op_tmp("Transpose", &[&x], &out, "transposed");
                self.e
                    .nodes
                    .last_mut()
                    .expect("pushed")
                    .attribute
                    .push(AttributeProto::ints("perm", vec![0, 2, 1]));
                let z = self.e.op_tmp("MatMul", &[&x, &xt], &out, "dots");
                let zf = self.e.op_tmp("Flatten", &[&z], &out, "dots_flat");
                self.e
                    .nodes
                    .last_mut()
                    .expect("pushed")
                    .attribute
                    .push(AttributeProto::int("axis", 1));
                let tri = triangle(count as usize, *self_interaction);
                let idx = self.e.const_i64(&out, "pairs", &[tri.len() as i64], &tri);
                self.e
                    .op("Gather", &[&zf, &idx], &out)
                    .attribute
                    .push(AttributeProto::int("axis", 1));
            }
            Op::CrossLayer => {
                let (x0, xl, v, w, b) =
                    (n(self, 0), n(self, 1), n(self, 2), n(self, 3), n(self, 4));
                let rank = self.rank(ins[0]);
                let xv = self.e.tmp(&out, "xv");
                self.e.linear(&xl, rank, &v, None, &xv);
                let xw = self.e.tmp(&out, "xw");
                self.e.linear(&xv, rank, &w, Some(&b), &xw);
                let m = self.e.op_tmp("Mul", &[&x0, &xw], &out, "gated");
                self.e.op("Add", &[&m, &xl], &out);
            }
            Op::LayerNorm { eps } => {
                let (x, g, b) = (n(self, 0), n(self, 1), n(self, 2));
                let nd = self.e.op("LayerNormalization", &[&x, &g, &b], &out);
                nd.attribute.push(AttributeProto::int("axis", -1));
                nd.attribute.push(AttributeProto::float("epsilon", *eps));
            }
            Op::Softmax { axis } => {
                let x = n(self, 0);
                self.e
                    .op("Softmax", &[&x], &out)
                    .attribute
                    .push(AttributeProto::int("axis", *axis as i64));
            }
            Op::Reduce { kind, axis } => {
                let x = n(self, 0);
                self.reduce(*kind, &x, *axis as i64, &out);
            }
            Op::TargetAttention { .. } | Op::SeqAttention { .. } => {
                let tys: Vec<&TensorType> = ins.iter().map(|&v| self.g.ty(v)).collect();
                let f = functions::function(op, &tys, EXPORT_OPSET).ok_or_else(|| {
                    Error::Export(format!("{out}: {} cannot be written as ONNX", op.name()))
                })?;
                let fname = match self.functions.iter().find(|x| same_body(x, &f)) {
                    Some(x) => x.name.clone(),
                    None => {
                        let mut f = f;
                        f.name = format!("{}_{}", f.name, self.functions.len());
                        let name = f.name.clone();
                        self.functions.push(f);
                        name
                    }
                };
                let xs: Vec<String> = (0..ins.len()).map(|i| n(self, i)).collect();
                let refs: Vec<&str> = xs.iter().map(String::as_str).collect();
                let nd = self.e.op(&fname, &refs, &out);
                nd.domain = functions::DOMAIN.into();
            }
        }
        Ok(())
    }

    fn reshape_to(&mut self, x: &str, out_v: ValueId, out: &str) {
        let target: Vec<i64> = self
            .g
            .ty(out_v)
            .shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => *n as i64,
                _ => -1,
            })
            .collect();
        let s = self
            .e
            .const_i64(out, "shape", &[target.len() as i64], &target);
        self.e.op("Reshape", &[x, &s], out);
    }
}

/// Two functions compute the same thing when they differ at most in name.
fn same_body(a: &FunctionProto, b: &FunctionProto) -> bool {
    let mut b = b.clone();
    b.name = a.name.clone();
    *a == b
}

fn param_bytes(g: &Graph, p: ParamId) -> u64 {
    g.ty(g.param(p).value).fixed_numel() * 4
}

/// Builds the model; parameters are placed by `placement` (inline ones are materialized).
fn build(
    g: &Graph,
    options: &ExportOptions,
    placement: &dyn Fn(ParamId) -> Option<(String, u64)>,
) -> Result<ModelProto, Error> {
    seedchip_ir::verify(g)?;
    let taken: BTreeSet<String> = g.values.iter().map(|v| v.name.clone()).collect();
    let mut ex = Exporter {
        g,
        e: Emitter::new(taken),
        functions: Vec::new(),
    };
    for node in &g.nodes {
        ex.emit(&node.op, &node.inputs, &node.outputs)?;
    }
    let mut outputs = Vec::new();
    for o in &g.outputs {
        let vname = g.value_name(o.value);
        if o.name != vname {
            if g.find_value(&o.name).is_some()
                || outputs.iter().any(|x: &ValueInfoProto| x.name == o.name)
            {
                return Err(Error::Export(format!(
                    "output \"{}\" is named like another value; ONNX names outputs by tensor",
                    o.name
                )));
            }
            ex.e.op("Identity", &[vname], &o.name);
        }
        outputs.push(value_info(&o.name, g.ty(o.value), ""));
    }
    let mut initializer = Vec::new();
    for (i, p) in g.params.iter().enumerate() {
        let pid = ParamId::from_index(i);
        let val = g.value(p.value);
        let dims: Vec<i64> = val
            .ty
            .shape
            .iter()
            .map(|d| d.fixed().map_or(-1, |x| x as i64))
            .collect();
        let mut t = TensorProto {
            name: val.name.clone(),
            data_type: DataType::Float as i32,
            dims,
            doc_string: init_annotation(&p.init).unwrap_or_default(),
            ..Default::default()
        };
        match placement(pid) {
            Some((location, offset)) => {
                t.data_location = DataLocation::External as i32;
                t.external_data = vec![
                    kv("location", &location),
                    kv("offset", &offset.to_string()),
                    kv("length", &param_bytes(g, pid).to_string()),
                ];
            }
            None => {
                let pv = ParamValues::open(g, pid, options.base_dir.as_deref())?;
                t.raw_data = pv
                    .materialize()?
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect();
            }
        }
        initializer.push(t);
    }
    initializer.append(&mut ex.e.inits);
    let inputs = g
        .inputs
        .iter()
        .map(|&v| {
            let name = g.value_name(v);
            value_info(name, g.ty(v), &format!("{name}_len"))
        })
        .collect();
    let mut opset_import = vec![OperatorSetIdProto {
        domain: String::new(),
        version: EXPORT_OPSET,
    }];
    if !ex.functions.is_empty() {
        opset_import.push(OperatorSetIdProto {
            domain: functions::DOMAIN.into(),
            version: 1,
        });
    }
    Ok(ModelProto {
        ir_version: IR_VERSION,
        opset_import,
        producer_name: "seedchip".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        graph: Some(GraphProto {
            name: g.name.clone(),
            node: ex.e.nodes,
            initializer,
            input: inputs,
            output: outputs,
            ..Default::default()
        }),
        functions: ex.functions,
        ..Default::default()
    })
}

fn kv(k: &str, v: &str) -> StringStringEntryProto {
    StringStringEntryProto {
        key: k.into(),
        value: v.into(),
    }
}

/// Exports with every weight inline.
pub fn export(g: &Graph, options: &ExportOptions) -> Result<ModelProto, Error> {
    build(g, options, &|_| None)
}

/// Writes `g` to `path`, with large weights in `<file>.data` beside it when
/// [`ExportOptions::external_data`] says so (its path is returned). Weights going there are
/// streamed, never held whole.
pub fn export_to_file(
    g: &Graph,
    path: &Path,
    options: &ExportOptions,
) -> Result<Option<PathBuf>, Error> {
    use prost::Message;
    let total: u64 = (0..g.params.len())
        .map(|i| param_bytes(g, ParamId::from_index(i)))
        .sum();
    let external = match options.external_data {
        ExternalData::Never => false,
        ExternalData::Always => true,
        ExternalData::Auto => total > AUTO_EXTERNAL_BYTES,
    };
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| Error::Io {
            path: p.clone(),
            source,
        }
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| Error::Export(format!("{} is not a file path", path.display())))?
        .to_string_lossy()
        .into_owned();
    let mut places: Vec<Option<(String, u64)>> = vec![None; g.params.len()];
    let mut written = None;
    if external {
        let data_name = format!("{file_name}.data");
        let data_path = path.with_file_name(&data_name);
        let f = File::create(&data_path).map_err(io(&data_path))?;
        let mut w = BufWriter::new(f);
        let mut offset = 0u64;
        for (i, place) in places.iter_mut().enumerate() {
            let pid = ParamId::from_index(i);
            let bytes = param_bytes(g, pid);
            if bytes < EXTERNAL_MIN_BYTES {
                continue;
            }
            let pad = offset.next_multiple_of(EXTERNAL_ALIGN) - offset;
            w.write_all(&vec![0u8; pad as usize])
                .map_err(io(&data_path))?;
            offset += pad;
            let pv = ParamValues::open(g, pid, options.base_dir.as_deref())?;
            let mut buf = vec![0f32; 1 << 16];
            let mut start = 0u64;
            while start < pv.numel() {
                let n = ((pv.numel() - start) as usize).min(buf.len());
                pv.fill_range(start, &mut buf[..n])?;
                let raw: Vec<u8> = buf[..n].iter().flat_map(|x| x.to_le_bytes()).collect();
                w.write_all(&raw).map_err(io(&data_path))?;
                start += n as u64;
            }
            *place = Some((data_name.clone(), offset));
            offset += bytes;
        }
        w.flush().map_err(io(&data_path))?;
        written = Some(data_path);
    }
    let model = build(g, options, &|p| places[p.index()].clone())?;
    let bytes = model.encode_to_vec();
    std::fs::write(path, bytes).map_err(io(path))?;
    Ok(written)
}
