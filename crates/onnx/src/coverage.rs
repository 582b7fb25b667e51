//! Porting report: which nodes of a model import, how, and which do not.
//!
//! A team moving a model off CUDA needs the whole list at once, not the first failure, so this
//! runs the importer in its collect-everything mode and classifies every top-level node.

use std::path::Path;

use serde::Serialize;

use crate::Error;
use crate::import::{ImportOptions, Status, analyze, read_model};
use crate::proto::is_default_domain;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum NodeStatus {
    /// Lowered to IR ops one by one (or an alias of an IR value).
    Supported,
    /// Evaluated at import time: constants and shape arithmetic.
    Folded,
    /// Part of a recognised subgraph lowered as one IR op.
    Pattern {
        pattern: String,
    },
    Unsupported {
        reason: String,
    },
    /// Supported, but not lowered because it depends on an unsupported node.
    Blocked,
    /// No output depends on it.
    Unused,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeCoverage {
    pub name: String,
    pub op: String,
    pub domain: String,
    pub opset: i64,
    #[serde(flatten)]
    pub status: NodeStatus,
}

/// Per-node classification plus totals, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub graph: String,
    pub opset: i64,
    pub nodes: Vec<NodeCoverage>,
    /// Text IR of the imported graph when every node imported.
    #[serde(skip)]
    pub ir: Option<String>,
}

impl Coverage {
    pub fn count(&self, f: impl Fn(&NodeStatus) -> bool) -> usize {
        self.nodes.iter().filter(|n| f(&n.status)).count()
    }

    pub fn is_complete(&self) -> bool {
        self.count(|s| matches!(s, NodeStatus::Unsupported { .. })) == 0
    }

    /// A human-readable report: totals, then unsupported nodes, then patterns, then the rest
    /// grouped by op type.
    pub fn render(&self) -> String {
        use std::collections::BTreeMap;
        let supported = self.count(|s| matches!(s, NodeStatus::Supported | NodeStatus::Folded));
        let pattern = self.count(|s| matches!(s, NodeStatus::Pattern { .. }));
        let unsupported = self.count(|s| matches!(s, NodeStatus::Unsupported { .. }));
        let other = self.nodes.len() - supported - pattern - unsupported;
        let mut out = format!(
            "{} (opset {}): {} nodes: {supported} supported, {pattern} lowered by pattern, {unsupported} unsupported, {other} unused or blocked\n",
            self.graph,
            self.opset,
            self.nodes.len()
        );
        if unsupported > 0 {
            out.push_str("\nunsupported:\n");
            for n in &self.nodes {
                if let NodeStatus::Unsupported { reason } = &n.status {
                    let d = if n.domain.is_empty() {
                        String::new()
                    } else {
                        format!("{}::", n.domain)
                    };
                    out.push_str(&format!(
                        "  {} ({d}{}, opset {}): {reason}\n",
                        n.name, n.op, n.opset
                    ));
                }
            }
        }
        let mut by_pattern: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
        let mut by_op: BTreeMap<(&str, &str), BTreeMap<&str, usize>> = BTreeMap::new();
        for n in &self.nodes {
            match &n.status {
                NodeStatus::Pattern { pattern } => {
                    *by_pattern
                        .entry(pattern)
                        .or_default()
                        .entry(&n.op)
                        .or_default() += 1;
                }
                NodeStatus::Unsupported { .. } => {}
                s => {
                    let kind = match s {
                        NodeStatus::Supported => "supported",
                        NodeStatus::Folded => "folded",
                        NodeStatus::Blocked => "blocked",
                        _ => "unused",
                    };
                    *by_op
                        .entry((kind, &n.op))
                        .or_default()
                        .entry(kind)
                        .or_default() += 1;
                }
            }
        }
        if !by_pattern.is_empty() {
            out.push_str("\nlowered by pattern:\n");
            for (p, ops) in &by_pattern {
                let list: Vec<String> = ops.iter().map(|(op, c)| format!("{op} x{c}")).collect();
                out.push_str(&format!("  {p}: {}\n", list.join(", ")));
            }
        }
        if !by_op.is_empty() {
            out.push_str("\nby op:\n");
            for ((kind, op), c) in &by_op {
                out.push_str(&format!(
                    "  {kind:<10} {op} x{}\n",
                    c.values().sum::<usize>()
                ));
            }
        }
        out
    }
}

/// Classifies every node of the model at `path`. Errors only for files that cannot be
/// analysed at all (unreadable, corrupt, bad opset, cyclic); unsupported nodes are part of the
/// report.
pub fn coverage(path: &Path, options: &ImportOptions) -> Result<Coverage, Error> {
    let (model, base) = read_model(path)?;
    let a = analyze(&model, Some(&base), options)?;
    let g = model.graph.as_ref().expect("analyze checked the graph");
    let nodes = a
        .nodes
        .iter()
        .map(|(i, st)| {
            let n = &g.node[*i];
            let domain = if is_default_domain(&n.domain) {
                String::new()
            } else {
                n.domain.clone()
            };
            let opset = model
                .opset_import
                .iter()
                .find(|o| {
                    if domain.is_empty() {
                        is_default_domain(&o.domain)
                    } else {
                        o.domain == domain
                    }
                })
                .map_or(0, |o| o.version);
            NodeCoverage {
                name: n.label(),
                op: n.op_type.clone(),
                domain,
                opset,
                status: match st {
                    Status::Lowered => NodeStatus::Supported,
                    Status::Folded => NodeStatus::Folded,
                    Status::Pattern(p) => NodeStatus::Pattern {
                        pattern: (*p).to_string(),
                    },
                    Status::Unsupported(r) => NodeStatus::Unsupported { reason: r.clone() },
                    Status::Blocked => NodeStatus::Blocked,
                    Status::Unused => NodeStatus::Unused,
                },
            }
        })
        .collect();
    let ir = (a.unsupported.is_empty() && seedchip_ir::verify(&a.graph).is_ok())
        .then(|| seedchip_ir::print(&a.graph));
    Ok(Coverage {
        graph: if g.name.is_empty() {
            "onnx".into()
        } else {
            g.name.clone()
        },
        opset: a.opset,
        nodes,
        ir,
    })
}
