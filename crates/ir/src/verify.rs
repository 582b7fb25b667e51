//! The verifier: every rule a well-formed graph obeys, checked in one place.
//!
//! It reports all problems it finds, each tied to the node, value or parameter at fault, so a
//! broken pass or importer can be debugged from the message alone.

use std::collections::BTreeMap;
use std::fmt;

use crate::Error;
use crate::graph::{Graph, NodeId, ValueDef, ValueId};
use crate::infer::infer;
use crate::init::{Distribution, FileFormat, Init};
use crate::op::Op;
use crate::types::{DType, Dim};

/// One verifier finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// What is wrong where: `node %h1 (linear)`, `param @t0`, `input %dense`, `output "p"`, `graph`.
    pub location: String,
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Characters allowed in value and output names, so every name prints without quoting.
pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'/'))
}

struct Ctx<'g> {
    g: &'g Graph,
    issues: Vec<Issue>,
}

impl Ctx<'_> {
    fn push(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.issues.push(Issue {
            location: location.into(),
            message: message.into(),
        });
    }

    fn value_ok(&self, v: ValueId) -> bool {
        v.index() < self.g.values.len()
    }
}

/// All problems with `g`; empty when it is well formed.
pub fn issues(g: &Graph) -> Vec<Issue> {
    let mut cx = Ctx {
        g,
        issues: Vec::new(),
    };
    check_values(&mut cx);
    check_inputs_params(&mut cx);
    let nodes_ok = check_nodes(&mut cx);
    if nodes_ok && let Err(n) = g.topo_order() {
        cx.push(
            g.node_label(n),
            "is part of a cycle (it depends on its own result)",
        );
    }
    check_outputs(&mut cx);
    cx.issues
}

/// `Ok` when `g` is well formed, otherwise an error listing every problem.
pub fn verify(g: &Graph) -> Result<(), Error> {
    let issues = issues(g);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(Error::Verify {
            graph: g.name.clone(),
            issues,
        })
    }
}

fn value_location(g: &Graph, v: ValueId) -> String {
    match g.values.get(v.index()).map(|x| x.def) {
        Some(ValueDef::Param(_)) => format!("param @{}", g.value_name(v)),
        Some(ValueDef::Input(_)) => format!("input %{}", g.value_name(v)),
        Some(ValueDef::Node(n, _)) if n.index() < g.nodes.len() => {
            format!("node {}", g.node_label(n))
        }
        _ => format!("value %{}", g.value_name(v)),
    }
}

fn check_values(cx: &mut Ctx<'_>) {
    let g = cx.g;
    if g.name.is_empty() {
        cx.push("graph", "has an empty name");
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, v) in g.values.iter().enumerate() {
        let id = ValueId::from_index(i);
        let loc = value_location(g, id);
        if !is_valid_name(&v.name) {
            cx.push(
                &loc,
                format!(
                    "name {:?} must be non-empty and use only [A-Za-z0-9_./-]",
                    v.name
                ),
            );
        }
        if let Some(prev) = seen.insert(&v.name, i) {
            cx.push(
                &loc,
                format!(
                    "name is already used by {}",
                    value_location(g, ValueId::from_index(prev))
                ),
            );
        }
        if v.ty.shape.iter().filter(|d| **d == Dim::Batch).count() > 1 {
            cx.push(
                &loc,
                format!("type {} has more than one batch dimension", v.ty),
            );
        }
        let consistent = match v.def {
            ValueDef::Input(k) => g.inputs.get(k) == Some(&id),
            ValueDef::Param(p) => g.params.get(p.index()).is_some_and(|p| p.value == id),
            ValueDef::Node(n, k) => g
                .nodes
                .get(n.index())
                .is_some_and(|n| n.outputs.get(k) == Some(&id)),
        };
        if !consistent {
            cx.push(
                &loc,
                format!("its definition {:?} does not point back to it", v.def),
            );
        }
    }
}

fn check_inputs_params(cx: &mut Ctx<'_>) {
    let g = cx.g;
    for (k, &v) in g.inputs.iter().enumerate() {
        if !cx.value_ok(v) {
            cx.push(
                format!("input #{k}"),
                format!("refers to missing value {v}"),
            );
            continue;
        }
        let val = g.value(v);
        let loc = format!("input %{}", val.name);
        if val.def != ValueDef::Input(k) {
            cx.push(&loc, "is listed as an input but not defined as one");
        }
        if val.ty.shape.contains(&Dim::Dyn) && !(val.ty.dtype.is_int() && val.ty.rank() == 1) {
            cx.push(
                &loc,
                format!(
                    "`?` dimensions are only for rank-1 index lists, got {}",
                    val.ty
                ),
            );
        }
        if matches!(val.ty.dtype, DType::F16 | DType::BF16) {
            cx.push(
                &loc,
                format!("inputs are f32 or integer, got {}", val.ty.dtype),
            );
        }
    }
    for (k, p) in g.params.iter().enumerate() {
        if !cx.value_ok(p.value) {
            cx.push(
                format!("param #{k}"),
                format!("refers to missing value {}", p.value),
            );
            continue;
        }
        let val = g.value(p.value);
        let loc = format!("param @{}", val.name);
        if !matches!(val.def, ValueDef::Param(id) if id.index() == k) {
            cx.push(&loc, "is listed as a parameter but not defined as one");
        }
        if val.ty.dtype != DType::F32 {
            cx.push(
                &loc,
                format!("parameters are f32 in the graph, got {}", val.ty.dtype),
            );
        }
        if val.ty.shape.iter().any(|d| d.fixed().is_none()) {
            cx.push(
                &loc,
                format!("parameter shapes must be fixed, got {}", val.ty),
            );
        }
        let numel = val.ty.fixed_numel();
        match &p.init {
            Init::Procedural {
                dist: Distribution::Uniform { bound },
                ..
            } => {
                if !bound.is_finite() || *bound < 0.0 {
                    cx.push(
                        &loc,
                        format!("uniform bound must be finite and >= 0, got {bound}"),
                    );
                }
            }
            Init::Fill { .. } => {}
            Init::Data { values } => {
                if values.len() as u64 != numel {
                    cx.push(
                        &loc,
                        format!(
                            "inline data has {} values, shape {} needs {numel}",
                            values.len(),
                            val.ty
                        ),
                    );
                }
            }
            Init::File {
                path,
                format,
                offset_bytes,
            } => {
                if path.is_empty() {
                    cx.push(&loc, "file path is empty");
                }
                if *format == FileFormat::Npy && *offset_bytes != 0 {
                    cx.push(
                        &loc,
                        "offset_bytes must be 0 for npy files (the header says where data starts)",
                    );
                }
            }
        }
    }
}

/// Returns false when references are broken badly enough that ordering checks would mislead.
fn check_nodes(cx: &mut Ctx<'_>) -> bool {
    let g = cx.g;
    let mut refs_ok = true;
    for (i, node) in g.nodes.iter().enumerate() {
        let nid = NodeId::from_index(i);
        let loc = format!("node {}", g.node_label(nid));
        let mut ok = true;
        for (k, &v) in node.inputs.iter().enumerate() {
            if !cx.value_ok(v) {
                cx.push(&loc, format!("operand {k} refers to missing value {v}"));
                ok = false;
            }
        }
        for (k, &v) in node.outputs.iter().enumerate() {
            if !cx.value_ok(v) {
                cx.push(&loc, format!("result {k} refers to missing value {v}"));
                ok = false;
            } else if g.value(v).def != ValueDef::Node(nid, k) {
                cx.push(
                    &loc,
                    format!("result {k} (%{}) is defined elsewhere", g.value_name(v)),
                );
            }
        }
        refs_ok &= ok;
        if !ok {
            continue;
        }
        if node.outputs.len() != node.op.num_outputs() {
            cx.push(
                &loc,
                format!(
                    "{} produces {} results, node lists {}",
                    node.op.name(),
                    node.op.num_outputs(),
                    node.outputs.len()
                ),
            );
            continue;
        }
        if let Op::EmbeddingBag { .. } | Op::Embedding = node.op
            && let Some(&t) = node.inputs.first()
            && !g.is_param(t)
        {
            cx.push(
                &loc,
                format!(
                    "table operand %{} must be a parameter (rows are looked up, never computed)",
                    g.value_name(t)
                ),
            );
        }
        let in_types: Vec<_> = node.inputs.iter().map(|&v| g.ty(v)).collect();
        match infer(&node.op, &in_types) {
            Ok(out_types) => {
                for (k, (&v, t)) in node.outputs.iter().zip(&out_types).enumerate() {
                    let declared = g.ty(v);
                    if declared != t {
                        cx.push(
                            &loc,
                            format!(
                                "result {k} is declared {declared} but {} produces {t}",
                                node.op.name()
                            ),
                        );
                    }
                }
            }
            Err(m) => cx.push(&loc, m),
        }
    }
    refs_ok
}

fn check_outputs(cx: &mut Ctx<'_>) {
    let g = cx.g;
    if g.outputs.is_empty() {
        cx.push("graph", "has no outputs");
    }
    let mut seen = BTreeMap::new();
    for o in &g.outputs {
        let loc = format!("output \"{}\"", o.name);
        if !is_valid_name(&o.name) {
            cx.push(&loc, "name must be non-empty and use only [A-Za-z0-9_./-]");
        }
        if seen.insert(o.name.as_str(), ()).is_some() {
            cx.push(&loc, "name is used twice");
        }
        if !cx.value_ok(o.value) {
            cx.push(&loc, format!("refers to missing value {}", o.value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Activation;
    use crate::types::TensorType;

    fn tiny() -> Graph {
        let mut g = Graph::new("tiny");
        let x = g.add_input("x", TensorType::batched(DType::F32, &[4]));
        let w = g.add_param(
            "w",
            TensorType::fixed(DType::F32, &[2, 4]),
            Init::uniform(0, 0.5),
        );
        let n = g.add_node(
            Op::Linear {
                act: Activation::Relu,
            },
            vec![x, w],
            vec![("h".into(), TensorType::batched(DType::F32, &[2]))],
        );
        let h = g.node(n).outputs[0];
        g.add_output("y", h);
        g
    }

    #[test]
    fn accepts_valid() {
        assert_eq!(issues(&tiny()), vec![]);
    }

    #[test]
    fn names_the_node_with_a_wrong_type() {
        let mut g = tiny();
        let h = g.nodes[0].outputs[0];
        g.values[h.index()].ty = TensorType::batched(DType::F32, &[3]);
        let err = verify(&g).unwrap_err().to_string();
        assert!(err.contains("node %h (linear)"), "{err}");
        assert!(err.contains("declared f32[B, 3]"), "{err}");
    }

    #[test]
    fn reports_dangling_and_cycles() {
        let mut g = tiny();
        g.nodes[0].inputs[0] = ValueId(99);
        assert!(
            verify(&g)
                .unwrap_err()
                .to_string()
                .contains("missing value v99")
        );

        let mut g = tiny();
        // Feed the linear its own result, through a relu that reads the linear.
        let h = g.nodes[0].outputs[0];
        let r = g.add_node(
            Op::Unary(crate::op::UnaryOp::Relu),
            vec![h],
            vec![("r".into(), TensorType::batched(DType::F32, &[2]))],
        );
        let rv = g.node(r).outputs[0];
        g.values[rv.index()].ty = TensorType::batched(DType::F32, &[4]);
        g.nodes[0].inputs[0] = rv;
        let err = verify(&g).unwrap_err().to_string();
        assert!(err.contains("cycle"), "{err}");
    }

    #[test]
    fn duplicate_names_and_missing_outputs() {
        let mut g = tiny();
        g.values[1].name = "x".into();
        g.outputs.clear();
        let all = issues(&g);
        assert!(
            all.iter().any(|i| i.message.contains("already used")),
            "{all:?}"
        );
        assert!(
            all.iter().any(|i| i.message.contains("no outputs")),
            "{all:?}"
        );
    }
}
