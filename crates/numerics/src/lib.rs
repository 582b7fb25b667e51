//! SeedChip's number formats, with exact, documented semantics.
//!
//! Everything the bit-exact functional simulator computes on narrow numbers goes through this
//! crate, so every result here is a chip design decision, fixed in `docs/numerics.md`: the
//! functions are deterministic, platform-independent (integer bit manipulation, or single
//! correctly rounded IEEE operations whose result no platform may change), and never delegate a
//! rounding, saturation or NaN choice to a library. `half` and `float8` appear only as test
//! oracles.
//!
//! Reading order: [`dtype`] (the element types) → [`float`] (bf16/f16/fp8 ⇄ f32) → [`quant`]
//! (int8 parameters, calibration, int32 accumulation) → [`requant`] (fixed-point int32 → int8) →
//! [`embedding`] (table row layouts) → [`math`] (the vector unit's exp/tanh/erf/...).

pub mod dtype;
pub mod embedding;
pub mod error;
pub mod float;
pub mod math;
pub mod quant;
pub mod requant;

pub use dtype::DType;
pub use embedding::{RowFormat, RowParams};
pub use error::{Error, Result};
pub use float::{
    BF16, F8E4M3, F8E5M2, F16, FloatFormat, Overflow, Specials, bf16_to_f32, f8e4m3_to_f32,
    f8e5m2_to_f32, f16_to_f32, f32_to_bf16, f32_to_f8e4m3, f32_to_f8e5m2, f32_to_f16,
};
pub use quant::{
    CalibrationMethod, Calibrator, PerChannelWeights, QuantParams, dot_i8, fold_zero_point,
    matmul_i8, quantize_bias, quantize_weights_per_channel,
};
pub use requant::{QuantizedMultiplier, Requantizer, requantize, rounding_shift_right, srdhm};
