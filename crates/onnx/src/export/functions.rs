//! DIN target attention and HSTU/transformer sequence attention as model-local ONNX functions.
//!
//! Standard ONNX has no op for either, and their decompositions (dozens of reshapes, a mask,
//! an expand) are too loose to pattern-match reliably in other exporters' output. So the
//! exporter writes each as a call to a function in the `ai.seedchip` domain whose body is the
//! exact decomposition — onnxruntime inlines it, Netron shows it as a group — and records the
//! IR op in the function's `doc_string`. Import trusts that record only after regenerating the
//! body from it and finding it identical, so a call means exactly what its body computes.

use seedchip_ir::{Activation, AttentionKernel, Op, TensorType};

use super::{Emitter, node, tensor_f32};
use crate::proto::{
    AttributeProto, DataType, FunctionProto, ModelProto, NodeProto, OperatorSetIdProto,
    TensorProto, is_default_domain,
};

pub const DOMAIN: &str = "ai.seedchip";
const MARK: &str = "seedchip:op=";

/// `target_attention act=relu` / `seq_attention heads=4 kernel=silu causal=true scale=...`.
fn describe(op: &Op) -> Option<String> {
    Some(match op {
        Op::TargetAttention { act } => format!("target_attention act={}", act.name()),
        Op::SeqAttention {
            heads,
            kernel,
            causal,
            scale,
        } => format!(
            "seq_attention heads={heads} kernel={} causal={causal} scale={scale:?}",
            kernel.name()
        ),
        _ => return None,
    })
}

fn parse(text: &str) -> Option<Op> {
    let mut words = text.split_whitespace();
    let name = words.next()?;
    let attrs: Vec<(&str, &str)> = words.map(|w| w.split_once('=')).collect::<Option<_>>()?;
    let get = |k: &str| attrs.iter().find(|(a, _)| *a == k).map(|(_, v)| *v);
    match name {
        "target_attention" if attrs.len() == 1 => Some(Op::TargetAttention {
            act: Activation::from_name(get("act")?)?,
        }),
        "seq_attention" if attrs.len() == 4 => Some(Op::SeqAttention {
            heads: get("heads")?.parse().ok()?,
            kernel: AttentionKernel::from_name(get("kernel")?)?,
            causal: get("causal")?.parse().ok()?,
            scale: get("scale")?.parse().ok()?,
        }),
        _ => None,
    }
}

fn constant(t: TensorProto) -> NodeProto {
    let name = t.name.clone();
    let mut n = node("Constant", &name, &[], &[&name]);
    n.attribute.push(AttributeProto::tensor("value", t));
    n
}

/// The function computing `op` on `n_inputs` operands, or `None` for other ops.
fn body(op: &Op, n_inputs: usize, opset: i64) -> Option<FunctionProto> {
    let inputs: Vec<String> = match op {
        Op::TargetAttention { .. } => {
            if n_inputs < 4 || !n_inputs.is_multiple_of(2) {
                return None;
            }
            let mut v = vec!["query".to_string(), "keys".to_string()];
            for i in 0..(n_inputs - 2) / 2 {
                v.push(format!("w{i}"));
                v.push(format!("b{i}"));
            }
            v
        }
        Op::SeqAttention { .. } if n_inputs == 3 => vec!["q".into(), "k".into(), "v".into()],
        _ => return None,
    };
    let mut e = Emitter::new(inputs.iter().cloned().chain(["y".to_string()]).collect());
    let attr = |e: &mut Emitter, a: AttributeProto| {
        e.nodes.last_mut().expect("pushed").attribute.push(a);
    };
    let name = match op {
        Op::TargetAttention { act } => {
            let ax = e.const_i64("y", "axis1", &[1], &[1]);
            let q3 = e.op_tmp("Unsqueeze", &["query", &ax], "y", "query3");
            let ks = e.op_tmp("Shape", &["keys"], "y", "keys_shape");
            let qe = e.op_tmp("Expand", &[&q3, &ks], "y", "query_tiled");
            let diff = e.op_tmp("Sub", &[&qe, "keys"], "y", "diff");
            let prod = e.op_tmp("Mul", &[&qe, "keys"], "y", "prod");
            let f = e.op_tmp("Concat", &[&qe, "keys", &diff, &prod], "y", "unit_in");
            attr(&mut e, AttributeProto::int("axis", -1));
            let layers = (n_inputs - 2) / 2;
            let mut h = f;
            for i in 0..layers {
                let (w, b) = (format!("w{i}"), format!("b{i}"));
                let lin = e.tmp("y", &format!("layer{i}"));
                e.linear(&h, 3, &w, Some(&b), &lin);
                h = if i + 1 < layers && *act != Activation::None {
                    let a = e.tmp("y", &format!("act{i}"));
                    e.act(*act, &lin, &a);
                    a
                } else {
                    lin
                };
            }
            let weighted = e.op_tmp("Mul", &["keys", &h], "y", "weighted");
            let axes = e.const_i64("y", "axes", &[1], &[1]);
            e.op("ReduceSum", &[&weighted, &axes], "y")
                .attribute
                .push(AttributeProto::int("keepdims", 0));
            "TargetAttention"
        }
        Op::SeqAttention {
            heads,
            kernel,
            causal,
            scale,
        } => {
            let hs = e.const_i64("y", "heads_shape", &[4], &[0, 0, *heads as i64, -1]);
            let split = |e: &mut Emitter, x: &str, perm: Vec<i64>| {
                let r = e.op_tmp("Reshape", &[x, &hs], "y", &format!("{x}_heads"));
                let t = e.op_tmp("Transpose", &[&r], "y", &format!("{x}_t"));
                attr(e, AttributeProto::ints("perm", perm));
                t
            };
            let qh = split(&mut e, "q", vec![0, 2, 1, 3]);
            let kt = split(&mut e, "k", vec![0, 2, 3, 1]);
            let vh = split(&mut e, "v", vec![0, 2, 1, 3]);
            let s = e.op_tmp("MatMul", &[&qh, &kt], "y", "scores");
            let sc = e.const_f32("y", "scale", *scale);
            let s = e.op_tmp("Mul", &[&s, &sc], "y", "scaled");
            let tri = causal.then(|| {
                let sh = e.op_tmp("Shape", &[&s], "y", "scores_shape");
                let lo = e.const_i64("y", "two", &[1], &[2]);
                let hi = e.const_i64("y", "four", &[1], &[4]);
                let nn = e.op_tmp("Slice", &[&sh, &lo, &hi], "y", "nn");
                let ones = e.op_tmp("ConstantOfShape", &[&nn], "y", "ones");
                attr(
                    &mut e,
                    AttributeProto::tensor("value", tensor_f32("one", &[1], &[1.0])),
                );
                let tri = e.op_tmp("Trilu", &[&ones], "y", "causal");
                attr(&mut e, AttributeProto::int("upper", 0));
                tri
            });
            let a = match kernel {
                AttentionKernel::Softmax => {
                    let s = match &tri {
                        Some(tri) => {
                            let c = e.op_tmp("Cast", &[tri], "y", "keep");
                            attr(
                                &mut e,
                                AttributeProto::int("to", i64::from(DataType::Bool as i32)),
                            );
                            let neg = e.const_f32("y", "neg_inf", f32::NEG_INFINITY);
                            e.op_tmp("Where", &[&c, &s, &neg], "y", "masked")
                        }
                        None => s,
                    };
                    let a = e.op_tmp("Softmax", &[&s], "y", "weights");
                    attr(&mut e, AttributeProto::int("axis", -1));
                    a
                }
                AttentionKernel::Silu => {
                    let sg = e.op_tmp("Sigmoid", &[&s], "y", "gate");
                    let a = e.op_tmp("Mul", &[&s, &sg], "y", "silu");
                    let qs = e.op_tmp("Shape", &["q"], "y", "q_shape");
                    let one = e.const_i64("y", "seq_axis", &[], &[1]);
                    let n = e.op_tmp("Gather", &[&qs, &one], "y", "seq_len");
                    let nf = e.op_tmp("Cast", &[&n], "y", "seq_len_f");
                    attr(
                        &mut e,
                        AttributeProto::int("to", i64::from(DataType::Float as i32)),
                    );
                    let a = e.op_tmp("Div", &[&a, &nf], "y", "normalized");
                    match &tri {
                        Some(tri) => e.op_tmp("Mul", &[&a, tri], "y", "weights"),
                        None => a,
                    }
                }
            };
            let o = e.op_tmp("MatMul", &[&a, &vh], "y", "heads_out");
            let ot = e.op_tmp("Transpose", &[&o], "y", "merged");
            attr(&mut e, AttributeProto::ints("perm", vec![0, 2, 1, 3]));
            let shape = e.const_i64("y", "out_shape", &[3], &[0, 0, -1]);
            e.op("Reshape", &[&ot, &shape], "y");
            "SeqAttention"
        }
        _ => return None,
    };
    let mut nodes: Vec<NodeProto> = e.inits.drain(..).map(constant).collect();
    nodes.append(&mut e.nodes);
    Some(FunctionProto {
        name: name.into(),
        domain: DOMAIN.into(),
        input: inputs,
        output: vec!["y".into()],
        node: nodes,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        doc_string: format!("{MARK}{}", describe(op)?),
        ..Default::default()
    })
}

/// The function for one IR node (named generically; the exporter makes names unique).
pub(crate) fn function(op: &Op, inputs: &[&TensorType], opset: i64) -> Option<FunctionProto> {
    body(op, inputs.len(), opset)
}

/// A call to a seedchip function whose body is exactly what the exporter writes for the op
/// its `doc_string` names: that op and the call's operands.
pub(crate) fn recognise(model: &ModelProto, n: &NodeProto) -> Option<(Op, Vec<String>)> {
    if n.domain != DOMAIN || n.output.len() != 1 || n.input.iter().any(String::is_empty) {
        return None;
    }
    let f = model
        .functions
        .iter()
        .find(|f| f.domain == DOMAIN && f.name == n.op_type)?;
    let op = parse(f.doc_string.strip_prefix(MARK)?)?;
    let opset = f
        .opset_import
        .iter()
        .find(|o| is_default_domain(&o.domain))?
        .version;
    let mut want = body(&op, n.input.len(), opset)?;
    want.name = f.name.clone();
    (want == *f).then(|| (op, n.input.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_parse_back() {
        for op in [
            Op::TargetAttention {
                act: Activation::Relu,
            },
            Op::SeqAttention {
                heads: 4,
                kernel: AttentionKernel::Silu,
                causal: true,
                scale: 0.088_388_35,
            },
        ] {
            assert_eq!(parse(&describe(&op).unwrap()), Some(op));
        }
        assert_eq!(parse("seq_attention heads=4"), None);
    }

    #[test]
    fn tampered_bodies_are_not_recognised() {
        let op = Op::SeqAttention {
            heads: 2,
            kernel: AttentionKernel::Softmax,
            causal: false,
            scale: 0.5,
        };
        let mut f = body(&op, 3, 17).unwrap();
        f.name = "SeqAttention_0".into();
        let mut model = ModelProto {
            functions: vec![f],
            ..Default::default()
        };
        let mut call = node("SeqAttention_0", "att", &["a", "b", "c"], &["out"]);
        call.domain = DOMAIN.into();
        assert_eq!(recognise(&model, &call).map(|x| x.0), Some(op));
        model.functions[0].doc_string =
            format!("{MARK}seq_attention heads=4 kernel=softmax causal=false scale=0.5");
        assert_eq!(recognise(&model, &call), None);
    }
}
