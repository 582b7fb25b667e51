//! The crate's one error type.

use thiserror::Error;

/// Everything that can go wrong in this crate.
///
/// Every variant is a *user* problem (bad numbers or shapes handed in by a model, a calibration
/// set or a chip/compiler setting): the functions here never panic on such input. Bugs in our
/// own code (broken internal invariants) panic instead.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// User: a quantization scale that is NaN, infinite, zero, negative or subnormal. Scales are
    /// inverted once (`1/scale`) by the chip, so a subnormal scale would overflow to infinity.
    #[error("invalid quantization scale {scale}: a scale must be a finite, positive, normal f32")]
    InvalidScale {
        /// The rejected scale.
        scale: f32,
    },

    /// User: a quantized range `[qmin, qmax]` that is empty or does not fit the storage type.
    #[error("invalid quantized range [{qmin}, {qmax}]: need qmin < qmax within [{lo}, {hi}]")]
    InvalidRange {
        /// Requested lower bound.
        qmin: i32,
        /// Requested upper bound.
        qmax: i32,
        /// Smallest value the storage type holds.
        lo: i32,
        /// Largest value the storage type holds.
        hi: i32,
    },

    /// User: a zero point outside the quantized range, so real 0 would not be representable.
    #[error("zero point {zero_point} is outside the quantized range [{qmin}, {qmax}]")]
    ZeroPointOutOfRange {
        /// The rejected zero point.
        zero_point: i32,
        /// Lower bound of the range.
        qmin: i32,
        /// Upper bound of the range.
        qmax: i32,
    },

    /// User: a real requantization multiplier that the Q31 + shift encoding cannot hold.
    #[error(
        "requantization multiplier {multiplier} is out of range: it must be finite and in [0, 2^31)"
    )]
    MultiplierOutOfRange {
        /// The rejected multiplier.
        multiplier: f64,
    },

    /// User: a hand-built fixed-point multiplier whose fields break the encoding's invariants.
    #[error(
        "invalid fixed-point multiplier (multiplier {multiplier}, right_shift {right_shift}): \
         multiplier must be 0 or in [2^30, 2^31), right_shift in [-31, 62] (0 when multiplier is 0)"
    )]
    InvalidFixedPoint {
        /// The Q31 multiplier field.
        multiplier: i32,
        /// The right-shift field.
        right_shift: i32,
    },

    /// User: a NaN or infinity where only finite numbers make sense (weights, embedding rows,
    /// biases, range bounds).
    #[error("{what}[{index}] = {value} is not finite")]
    NonFinite {
        /// Which input held the value.
        what: &'static str,
        /// Position of the value in that input.
        index: usize,
        /// The value itself.
        value: f32,
    },

    /// User: a calibration asked for parameters before it saw a single finite value.
    #[error("no finite values observed: calibration needs at least one finite sample")]
    NoCalibrationData,

    /// User: a percentile outside `(0, 100]`.
    #[error("percentile {percentile} must be in (0, 100]")]
    InvalidPercentile {
        /// The rejected percentile.
        percentile: f64,
    },

    /// User: inputs whose lengths do not fit together.
    #[error("shape mismatch in {what}: expected {expected}, got {actual}")]
    ShapeMismatch {
        /// What was being checked.
        what: &'static str,
        /// The length that would have been valid.
        expected: usize,
        /// The length that was given.
        actual: usize,
    },

    /// User (data): an int32 accumulation whose exact value leaves the int32 range. The chip
    /// faults instead of wrapping (docs/isa.md, `mxu.matmul.i8`).
    #[error(
        "int32 accumulator overflow at output [{row}, {col}]: the exact sum leaves the int32 range \
         (the chip faults rather than wrapping)"
    )]
    AccumulatorOverflow {
        /// Output row (batch index).
        row: usize,
        /// Output column (channel).
        col: usize,
    },

    /// User: a dtype or row-format name that does not exist.
    #[error("unknown {kind} `{name}`; valid names: {valid}")]
    UnknownName {
        /// `"dtype"` or `"embedding row format"`.
        kind: &'static str,
        /// The name that was given.
        name: String,
        /// Comma-separated list of valid names.
        valid: String,
    },

    /// User: an embedding row whose values, scale or bias exceed what a row format can hold
    /// (the fp16 scale/bias fields of `int8-rowwise-f16`: 65504; values of any int8 row:
    /// 2^125, which keeps `code·scale + bias` finite in f32).
    #[error("embedding row {what} {value} exceeds the {format} limit of {limit}")]
    RowOutOfRange {
        /// `"value"`, `"scale"` or `"bias"`.
        what: &'static str,
        /// The offending magnitude.
        value: f64,
        /// The largest magnitude allowed.
        limit: f64,
        /// The row format's name.
        format: &'static str,
    },
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
