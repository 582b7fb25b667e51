//! The compiler's one error type.

use seedchip_chip::Precision;

/// Everything that can stop a compilation. Each variant is documented as a *user* problem
/// (model, chip or options the compiler cannot serve, with what would be valid) or an
/// *internal* bug (an invariant of the compiler's own output broke).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// User: an IR node the compiler cannot lower, naming the node and what is supported.
    #[error("{node}: {message}")]
    Unsupported { node: String, message: String },
    /// User: the chip's matrix units do not compute in the requested precision.
    #[error(
        "chip `{chip}` cannot compute in {precision}: its matrix units support {supported}; \
         pick one of those with --precision"
    )]
    Precision {
        chip: String,
        precision: Precision,
        supported: String,
    },
    /// User: compile options out of range (batch 0, a zero rows cap, ...).
    #[error("invalid option: {0}")]
    Options(String),
    /// User: the model does not fit the chip (HBM capacity, SRAM for one sample, ...).
    #[error("{what} does not fit on chip `{chip}`: {detail}")]
    DoesNotFit {
        chip: String,
        what: String,
        detail: String,
    },
    /// User: a model input the program cannot take (ragged ids beyond the compiled capacity,
    /// malformed offsets, a missing input).
    #[error("input `{name}`: {message}")]
    Input { name: String, message: String },
    /// User: the graph is invalid, or a parameter's values cannot be produced.
    #[error(transparent)]
    Ir(#[from] seedchip_ir::Error),
    /// User: the input generator cannot produce calibration inputs for this graph.
    #[error("generating calibration inputs: {0}")]
    Inputs(#[from] seedchip_zoo::Error),
    /// User: the f32 reference could not run the graph for calibration.
    #[error("calibration run on the f32 reference: {0}")]
    Reference(#[from] seedchip_ref::Error),
    /// User: values the quantizer cannot represent (NaN weights, degenerate ranges).
    #[error("quantizing {what}: {source}")]
    Numerics {
        what: String,
        #[source]
        source: seedchip_numerics::Error,
    },
    /// Internal: the program the compiler built is rejected by the ISA encoder.
    #[error("internal compiler error: the emitted program is invalid: {0}")]
    Isa(#[from] seedchip_isa::Error),
    /// Internal: the compiler's own verifier found a broken invariant after a pass.
    #[error("internal compiler error after pass `{pass}`:\n{}", issues.join("\n"))]
    Verify {
        pass: &'static str,
        issues: Vec<String>,
    },
}

impl Error {
    pub(crate) fn unsupported(node: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Unsupported {
            node: node.into(),
            message: message.into(),
        }
    }
}
