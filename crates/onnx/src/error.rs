use std::fmt;

/// One node the importer cannot lower, with what a user needs to find and fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnsupportedNode {
    /// The node's name (or a description of an unnamed node).
    pub name: String,
    pub op: String,
    /// `""` for the default ONNX domain.
    pub domain: String,
    /// The opset of the node's domain the model imports (0 when the domain is not imported).
    pub opset: i64,
    pub reason: String,
}

impl fmt::Display for UnsupportedNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let domain = if self.domain.is_empty() {
            String::new()
        } else {
            format!("{}::", self.domain)
        };
        write!(
            f,
            "{} ({domain}{}, opset {}): {}",
            self.name, self.op, self.opset, self.reason
        )
    }
}

/// Everything that can go wrong importing or exporting ONNX.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User: the model file (or an external-data file) cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// User: the bytes are not an ONNX model (truncated, corrupt or another format).
    #[error("{path}: not a valid ONNX model ({message})")]
    Decode { path: String, message: String },
    /// User: the model imports an opset of the default domain outside the supported range.
    #[error(
        "the model uses ONNX opset {version}; seedchip imports opsets {min} to {max} (re-export with opset_version in that range)"
    )]
    Opset { version: i64, min: i64, max: i64 },
    /// User: a structural problem of the model: no graph, duplicate or undefined tensors, a
    /// cycle, unsupported input types.
    #[error("{0}")]
    Model(String),
    /// User: an initializer or constant is malformed (bad type, size mismatch, missing or short
    /// external-data file).
    #[error("tensor {name}: {message}")]
    Tensor { name: String, message: String },
    /// User: nodes the importer cannot lower, every one of them listed.
    #[error(
        "{} node(s) cannot be imported:\n{}",
        nodes.len(),
        nodes.iter().map(|n| format!("  {n}")).collect::<Vec<_>>().join("\n")
    )]
    Unsupported { nodes: Vec<UnsupportedNode> },
    /// Internal: the lowered graph fails the IR verifier (a bug in the importer), or, on export,
    /// a parameter's values cannot be produced (user: missing weight file).
    #[error(transparent)]
    Ir(#[from] seedchip_ir::Error),
    /// User: the IR graph uses something ONNX export cannot express.
    #[error("cannot export: {0}")]
    Export(String),
}
