//! The graph container.
//!
//! Fields are public so passes and importers can rewrite graphs freely; [`Graph::verify`] is the
//! safety net that catches dangling references, cycles and type errors afterwards.

use std::fmt;

use crate::init::Init;
use crate::op::Op;
use crate::types::TensorType;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident, $prefix:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }

            /// Panics only if a graph grows past 2^32 entries, which no model approaches.
            pub fn from_index(i: usize) -> Self {
                $name(u32::try_from(i).expect(concat!(stringify!($name), " overflow")))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// Index into [`Graph::values`].
    ValueId,
    "v"
);
id_type!(
    /// Index into [`Graph::nodes`].
    NodeId,
    "n"
);
id_type!(
    /// Index into [`Graph::params`].
    ParamId,
    "p"
);

/// Where a value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueDef {
    /// The `i`-th graph input.
    Input(usize),
    Param(ParamId),
    /// Result `index` of a node.
    Node(NodeId, usize),
}

/// A typed SSA value. Names are unique across the graph (inputs, parameters and results share
/// one namespace) so a name alone identifies a value in text, errors and `.npz` files.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub name: String,
    pub ty: TensorType,
    pub def: ValueDef,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

/// A weight tensor. Its values come from `init`, never stored in the graph unless small
/// ([`Init::Data`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub value: ValueId,
    pub init: Init,
}

/// A named model output.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub name: String,
    pub value: ValueId,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Graph {
    pub name: String,
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    /// Graph inputs in declaration order (feeds are matched by value name).
    pub inputs: Vec<ValueId>,
    pub params: Vec<Param>,
    pub outputs: Vec<Output>,
}

impl Graph {
    pub fn new(name: impl Into<String>) -> Self {
        Graph {
            name: name.into(),
            ..Graph::default()
        }
    }

    /// Panics on an id from another graph: ids are only minted by this graph's methods.
    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.index()]
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn param(&self, id: ParamId) -> &Param {
        &self.params[id.index()]
    }

    pub fn value_name(&self, id: ValueId) -> &str {
        self.values
            .get(id.index())
            .map_or("<dangling>", |v| v.name.as_str())
    }

    pub fn ty(&self, id: ValueId) -> &TensorType {
        &self.value(id).ty
    }

    pub fn is_param(&self, id: ValueId) -> bool {
        matches!(
            self.values.get(id.index()).map(|v| v.def),
            Some(ValueDef::Param(_))
        )
    }

    /// The parameter behind a value, if it is one.
    pub fn param_of(&self, id: ValueId) -> Option<&Param> {
        match self.values.get(id.index())?.def {
            ValueDef::Param(p) => self.params.get(p.index()),
            _ => None,
        }
    }

    pub fn param_name(&self, id: ParamId) -> &str {
        self.value_name(self.param(id).value)
    }

    /// Human-readable node label for messages: `%out (op)`.
    pub fn node_label(&self, id: NodeId) -> String {
        match self.nodes.get(id.index()) {
            Some(n) => match n.outputs.first() {
                Some(&o) => format!("%{} ({})", self.value_name(o), n.op.name()),
                None => format!("node {} ({})", id.0, n.op.name()),
            },
            None => format!("node {}", id.0),
        }
    }

    pub fn add_value(&mut self, name: impl Into<String>, ty: TensorType, def: ValueDef) -> ValueId {
        let id = ValueId::from_index(self.values.len());
        self.values.push(Value {
            name: name.into(),
            ty,
            def,
        });
        id
    }

    pub fn add_input(&mut self, name: impl Into<String>, ty: TensorType) -> ValueId {
        let idx = self.inputs.len();
        let v = self.add_value(name, ty, ValueDef::Input(idx));
        self.inputs.push(v);
        v
    }

    pub fn add_param(&mut self, name: impl Into<String>, ty: TensorType, init: Init) -> ValueId {
        let pid = ParamId::from_index(self.params.len());
        let v = self.add_value(name, ty, ValueDef::Param(pid));
        self.params.push(Param { value: v, init });
        v
    }

    /// Appends a node whose results have the given names and types (not checked here).
    pub fn add_node(
        &mut self,
        op: Op,
        inputs: Vec<ValueId>,
        outputs: Vec<(String, TensorType)>,
    ) -> NodeId {
        let nid = NodeId::from_index(self.nodes.len());
        let outs = outputs
            .into_iter()
            .enumerate()
            .map(|(i, (name, ty))| self.add_value(name, ty, ValueDef::Node(nid, i)))
            .collect();
        self.nodes.push(Node {
            op,
            inputs,
            outputs: outs,
        });
        nid
    }

    pub fn add_output(&mut self, name: impl Into<String>, value: ValueId) {
        self.outputs.push(Output {
            name: name.into(),
            value,
        });
    }

    pub fn find_value(&self, name: &str) -> Option<ValueId> {
        self.values
            .iter()
            .position(|v| v.name == name)
            .map(ValueId::from_index)
    }

    pub fn find_param(&self, name: &str) -> Option<ParamId> {
        self.params
            .iter()
            .position(|p| self.value_name(p.value) == name)
            .map(ParamId::from_index)
    }

    /// Nodes ordered so every node comes after the producers of its operands; ties keep the
    /// stored order, so a graph already in order maps to `0..n`. `Err(node)` names a node on a
    /// cycle (or one consuming a dangling value).
    pub fn topo_order(&self) -> Result<Vec<NodeId>, NodeId> {
        let n = self.nodes.len();
        // Kahn's algorithm with a min-queue keeps the result deterministic and stable.
        let mut indegree = vec![0usize; n];
        let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, node) in self.nodes.iter().enumerate() {
            for &v in &node.inputs {
                match self.values.get(v.index()).map(|v| v.def) {
                    Some(ValueDef::Node(p, _)) if p.index() < n => {
                        indegree[i] += 1;
                        users[p.index()].push(i);
                    }
                    Some(ValueDef::Node(..)) | None => return Err(NodeId::from_index(i)),
                    _ => {}
                }
            }
        }
        let mut ready: std::collections::BTreeSet<usize> =
            (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(NodeId::from_index(i));
            for &u in &users[i] {
                indegree[u] -= 1;
                if indegree[u] == 0 {
                    ready.insert(u);
                }
            }
        }
        if order.len() == n {
            Ok(order)
        } else {
            let stuck = (0..n).find(|&i| indegree[i] > 0).unwrap_or(0);
            Err(NodeId::from_index(stuck))
        }
    }

    /// For each value, the nodes that read it (in node order).
    pub fn users(&self) -> Vec<Vec<NodeId>> {
        let mut users = vec![Vec::new(); self.values.len()];
        for (i, node) in self.nodes.iter().enumerate() {
            for &v in &node.inputs {
                if let Some(u) = users.get_mut(v.index()) {
                    u.push(NodeId::from_index(i));
                }
            }
        }
        users
    }

    /// Replaces the seed of every procedural parameter, so one structure can be instantiated
    /// with different weights (the CLI's `--seed`).
    pub fn reseed(&mut self, seed: u64) {
        for p in &mut self.params {
            if let Init::Procedural { seed: s, .. } = &mut p.init {
                *s = seed;
            }
        }
    }
}
