//! `seedchip-ir`: the model graph every other part of seedchip speaks.
//!
//! A [`Graph`] holds typed SSA values (inputs, parameters, op results) and ops
//! ([`Op`]) tuned to recommendation models: embedding bags, the DLRM dot interaction, DCNv2
//! cross layers, DIN and HSTU attention, plus the usual dense primitives. Shapes carry a
//! symbolic batch `B`.
//!
//! Entry points:
//! * [`GraphBuilder`] to write models, [`verify()`] to check any graph,
//! * [`print()`] / [`parse()`] for the text form (print → parse → print is the identity),
//! * [`init`] for parameter values ([`init::ParamValues::fill_row`] streams embedding rows
//!   without materializing tables),
//! * [`analysis::stats`] for parameter counts, FLOPs, lookups and bytes per sample.

pub mod analysis;
pub mod builder;
pub mod graph;
pub mod infer;
pub mod init;
pub mod npy;
pub mod op;
pub mod text;
pub mod types;
pub mod verify;

pub use builder::GraphBuilder;
pub use graph::{Graph, Node, NodeId, Output, Param, ParamId, Value, ValueDef, ValueId};
pub use init::{Distribution, FileFormat, Init};
pub use op::{Activation, AttentionKernel, BinaryOp, Op, Pooling, ReduceKind, UnaryOp};
pub use text::{parse, print};
pub use types::{DType, Dim, TensorType};
pub use verify::{Issue, verify};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User or internal: the graph breaks an IR rule. Coming from the builder or an importer it
    /// is the model author's mistake; after a compiler pass it is a bug in that pass.
    #[error("graph \"{graph}\" is invalid:\n{}", issues.iter().map(|i| format!("  {i}")).collect::<Vec<_>>().join("\n"))]
    Verify { graph: String, issues: Vec<Issue> },
    /// User: the text form is malformed. Line and column are 1-based.
    #[error("{line}:{col}: {message}")]
    Parse {
        line: usize,
        col: usize,
        message: String,
    },
    /// User: a builder call was invalid (first one only; later calls are skipped).
    #[error("building \"{graph}\": {location}: {message}")]
    Build {
        graph: String,
        location: String,
        message: String,
    },
    /// User: a parameter's values cannot be produced (missing or short weight file, bad data).
    #[error("parameter @{param}: {message}")]
    Init { param: String, message: String },
}
