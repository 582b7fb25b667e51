//! The element types the chip stores and computes in.

use std::fmt;
use std::str::FromStr;

use crate::float::{BF16, F8E4M3, F8E5M2, F16, FloatFormat};
use crate::{Error, Result};

/// An element type. The names (`Display`/`FromStr`) are the ones ISA mnemonics
/// (`mxu.matmul.e4m3`, docs/isa.md), program listings and reports use, so they are part of the
/// file formats: never rename one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// IEEE 754 binary32: the reference precision and the float accumulator.
    F32,
    /// bfloat16 (see [`crate::float::BF16`]).
    Bf16,
    /// IEEE 754 binary16 (see [`crate::float::F16`]).
    F16,
    /// OCP FP8 E4M3 "fn" (see [`crate::float::F8E4M3`]).
    E4m3,
    /// OCP FP8 E5M2 (see [`crate::float::F8E5M2`]).
    E5m2,
    /// Signed 8-bit integer: quantized weights and activations.
    I8,
    /// Unsigned 8-bit integer: row-wise quantized embedding values.
    U8,
    /// Signed 32-bit integer: the integer accumulator, quantized biases, gather indices.
    I32,
    /// Signed 64-bit integer: large-table indices and offsets.
    I64,
}

impl DType {
    /// Every dtype, in a fixed order (for listings and exhaustive tests).
    pub const ALL: [DType; 9] = [
        DType::F32,
        DType::Bf16,
        DType::F16,
        DType::E4m3,
        DType::E5m2,
        DType::I8,
        DType::U8,
        DType::I32,
        DType::I64,
    ];

    /// Canonical name.
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::Bf16 => "bf16",
            DType::F16 => "f16",
            DType::E4m3 => "e4m3",
            DType::E5m2 => "e5m2",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I32 => "i32",
            DType::I64 => "i64",
        }
    }

    /// Bytes per element in memory.
    pub const fn size_bytes(self) -> usize {
        match self {
            DType::E4m3 | DType::E5m2 | DType::I8 | DType::U8 => 1,
            DType::Bf16 | DType::F16 => 2,
            DType::F32 | DType::I32 => 4,
            DType::I64 => 8,
        }
    }

    /// Whether this is a floating-point type.
    pub const fn is_float(self) -> bool {
        matches!(
            self,
            DType::F32 | DType::Bf16 | DType::F16 | DType::E4m3 | DType::E5m2
        )
    }

    /// Whether this is an integer type.
    pub const fn is_integer(self) -> bool {
        !self.is_float()
    }

    /// The narrow float format behind this dtype, if it is one (f32 is not: it is the
    /// conversion hub, not a converted-to format).
    pub const fn float_format(self) -> Option<&'static FloatFormat> {
        match self {
            DType::Bf16 => Some(&BF16),
            DType::F16 => Some(&F16),
            DType::E4m3 => Some(&F8E4M3),
            DType::E5m2 => Some(&F8E5M2),
            _ => None,
        }
    }

    /// Inclusive value range of an integer dtype.
    pub const fn int_range(self) -> Option<(i64, i64)> {
        match self {
            DType::I8 => Some((i8::MIN as i64, i8::MAX as i64)),
            DType::U8 => Some((0, u8::MAX as i64)),
            DType::I32 => Some((i32::MIN as i64, i32::MAX as i64)),
            DType::I64 => Some((i64::MIN, i64::MAX)),
            _ => None,
        }
    }

    fn valid_names() -> String {
        DType::ALL
            .iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = Error;

    /// Parses a canonical name only: one spelling per type keeps program files and reports
    /// greppable.
    fn from_str(s: &str) -> Result<Self> {
        DType::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| Error::UnknownName {
                kind: "dtype",
                name: s.to_string(),
                valid: DType::valid_names(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sizes_match_formats() {
        for d in DType::ALL {
            assert_eq!(d.name().parse::<DType>().unwrap(), d);
            assert_eq!(d.to_string(), d.name());
            if let Some(f) = d.float_format() {
                assert_eq!(f.size_bytes(), d.size_bytes());
                assert_eq!(f.name(), d.name());
            }
            assert_eq!(d.is_integer(), d.int_range().is_some());
        }
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let err = "fp8".parse::<DType>().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`fp8`") && msg.contains("e4m3, e5m2"), "{msg}");
    }
}
