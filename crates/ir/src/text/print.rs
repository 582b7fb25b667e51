use std::fmt::Write;

use crate::graph::{Graph, ValueDef, ValueId};
use crate::init::{Distribution, Init};
use crate::op::Op;
use crate::types::Dim;

/// Renders a graph in the text form. Never fails: broken references print as `%<dangling>`.
pub fn print(g: &Graph) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "graph {} {{", quote(&g.name));
    let section = |s: &mut String, nonempty: bool| {
        if nonempty && !s.ends_with("{\n") {
            s.push('\n');
        }
    };
    section(&mut s, !g.inputs.is_empty());
    for &v in &g.inputs {
        let _ = writeln!(s, "  input {}: {}", vref(g, v), vty(g, v));
    }
    section(&mut s, !g.params.is_empty());
    for p in &g.params {
        let _ = writeln!(
            s,
            "  param {}: {} = {}",
            vref(g, p.value),
            vty(g, p.value),
            init_text(&p.init)
        );
    }
    section(&mut s, !g.nodes.is_empty());
    for node in &g.nodes {
        s.push_str("  ");
        for (i, &o) in node.outputs.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let _ = write!(s, "{}: {}", vref(g, o), vty(g, o));
        }
        let _ = write!(s, " = {}(", node.op.name());
        for (i, &v) in node.inputs.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(&vref(g, v));
        }
        s.push(')');
        for (k, v) in attrs(&node.op) {
            let _ = write!(s, " {k}={v}");
        }
        s.push('\n');
    }
    section(&mut s, !g.outputs.is_empty());
    for o in &g.outputs {
        let _ = writeln!(s, "  output {} = {}", quote(&o.name), vref(g, o.value));
    }
    s.push_str("}\n");
    s
}

fn vref(g: &Graph, v: ValueId) -> String {
    match g.values.get(v.index()) {
        Some(val) if matches!(val.def, ValueDef::Param(_)) => format!("@{}", val.name),
        Some(val) => format!("%{}", val.name),
        None => "%<dangling>".into(),
    }
}

fn vty(g: &Graph, v: ValueId) -> String {
    g.values
        .get(v.index())
        .map_or_else(|| "?".into(), |x| x.ty.to_string())
}

/// Shortest text that parses back to the same f32 (`{:?}` guarantees the round trip).
pub(crate) fn float(x: f32) -> String {
    format!("{x:?}")
}

fn float64(x: f64) -> String {
    format!("{x:?}")
}

pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn init_text(init: &Init) -> String {
    match init {
        Init::Procedural {
            seed,
            dist: Distribution::Uniform { bound },
        } => {
            format!("uniform(seed={seed}, bound={})", float(*bound))
        }
        Init::Fill { value } => format!("fill({})", float(*value)),
        Init::Data { values } => {
            let items: Vec<String> = values.iter().map(|&v| float(v)).collect();
            format!("data([{}])", items.join(", "))
        }
        Init::File {
            path,
            format,
            offset_bytes,
        } => {
            format!(
                "file({}, format={}, offset={offset_bytes})",
                quote(path),
                format.name()
            )
        }
    }
}

fn list<T: ToString>(xs: &[T]) -> String {
    format!(
        "[{}]",
        xs.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn attrs(op: &Op) -> Vec<(&'static str, String)> {
    match op {
        Op::EmbeddingBag {
            pooling,
            mean_pooling,
        } => {
            let mut a = vec![("pooling", pooling.name().to_string())];
            if let Some(m) = mean_pooling {
                a.push(("mean_pooling", float64(*m)));
            }
            a
        }
        Op::Linear { act } => vec![("act", act.name().into())],
        Op::MatMul { transpose_b } => vec![("transpose_b", transpose_b.to_string())],
        Op::Concat { axis } | Op::Flatten { axis } | Op::Softmax { axis } => {
            vec![("axis", axis.to_string())]
        }
        Op::Reshape { shape } => vec![("shape", list::<Dim>(shape))],
        Op::Transpose { perm } => vec![("perm", list(perm))],
        Op::Slice { axis, start, end } => {
            vec![
                ("axis", axis.to_string()),
                ("start", start.to_string()),
                ("end", end.to_string()),
            ]
        }
        Op::Split { axis, sizes } => vec![("axis", axis.to_string()), ("sizes", list(sizes))],
        Op::DotInteraction { self_interaction } => {
            vec![("self_interaction", self_interaction.to_string())]
        }
        Op::LayerNorm { eps } => vec![("eps", float(*eps))],
        Op::Reduce { kind, axis } => vec![("kind", kind.name().into()), ("axis", axis.to_string())],
        Op::TargetAttention { act } => vec![("act", act.name().into())],
        Op::SeqAttention {
            heads,
            kernel,
            causal,
            scale,
        } => vec![
            ("heads", heads.to_string()),
            ("kernel", kernel.name().into()),
            ("causal", causal.to_string()),
            ("scale", float(*scale)),
        ],
        Op::Embedding | Op::Unary(_) | Op::Binary(_) | Op::CrossLayer => vec![],
    }
}
