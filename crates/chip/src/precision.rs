//! Numeric formats that compute units advertise. Kept apart from `numerics` (which owns the
//! arithmetic) because a chip file only needs the names and their storage widths.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A compute precision: the operand format a unit multiplies in.
/// `fp8` covers both e4m3 and e5m2, which every shipping fp8 engine runs at the same rate.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Int4,
    Int8,
    Fp8,
    Bf16,
    Fp16,
    /// TensorFloat-32: fp32 range, 10-bit mantissa; GPUs' default fp32 matmul mode.
    Tf32,
    Fp32,
    Int32,
}

impl Precision {
    pub const ALL: [Precision; 8] = [
        Precision::Int4,
        Precision::Int8,
        Precision::Fp8,
        Precision::Bf16,
        Precision::Fp16,
        Precision::Tf32,
        Precision::Fp32,
        Precision::Int32,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Precision::Int4 => "int4",
            Precision::Int8 => "int8",
            Precision::Fp8 => "fp8",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
            Precision::Tf32 => "tf32",
            Precision::Fp32 => "fp32",
            Precision::Int32 => "int32",
        }
    }

    /// Operand storage width; drives bytes moved per element.
    pub fn bits(self) -> u32 {
        match self {
            Precision::Int4 => 4,
            Precision::Int8 | Precision::Fp8 => 8,
            Precision::Bf16 | Precision::Fp16 => 16,
            Precision::Tf32 | Precision::Fp32 | Precision::Int32 => 32,
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(self, Precision::Int4 | Precision::Int8 | Precision::Int32)
    }

    pub fn parse(s: &str) -> Option<Precision> {
        Precision::ALL.into_iter().find(|p| p.name() == s)
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
