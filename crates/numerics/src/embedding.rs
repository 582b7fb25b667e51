//! Embedding-table row formats: how one row of `dim` values is laid out in HBM.
//!
//! Recommendation models are dominated by embedding-table bytes (DLRM-v2: 104 GB in f32), so the
//! row format sets HBM capacity and gather bandwidth. The int8 formats follow FBGEMM's "fused
//! 8-bit rowwise" convention (`FloatOrHalfToFused8BitRowwiseQuantizedSBFloat` in
//! `fbgemm/src/QuantUtils.cc`, and the TBE kernels' `kINT8QparamsBytes = 8`): the row's `dim`
//! codes first, then its scale and bias, so a table exported from FBGEMM/TorchRec can be loaded
//! byte for byte.
//!
//! | format | bytes per row | layout (little-endian) | value |
//! |---|---|---|---|
//! | `f32` | `4·dim` | `dim × f32` | as stored |
//! | `f16` | `2·dim` | `dim × binary16` | exact widening |
//! | `bf16` | `2·dim` | `dim × bfloat16` | exact widening |
//! | `int8-rowwise` | `dim + 8` | `dim × u8`, f32 scale, f32 bias | `f32(q)·scale + bias` |
//! | `int8-rowwise-f16` | `dim + 4` | `dim × u8`, f16 scale, f16 bias | `f32(q)·scale + bias` |
//!
//! Int8 rows are *asymmetric, unsigned* (codes 0..=255): `bias = min(row)`,
//! `scale = (max(row) - min(row)) / 255`, `q = clamp(round_half_even((x - bias) / scale), 0, 255)`
//! (quantization runs offline, in f64, on the stored f32/f16 scale and bias). On the chip the
//! gather unit dequantizes with **two separately rounded f32 operations** (a multiply, then an
//! add — not a fused multiply-add): the cheapest datapath, and FBGEMM's reference kernel.
//! Consequences: `q = 0` decodes to exactly `bias`, so each row's minimum is exact (f32 scale/bias
//! variant); the error elsewhere is at most half a step plus f32 rounding (tested).
//! A constant row, or one whose scale rounds to 0, stores scale 0 and all codes 0: it decodes to
//! `bias` everywhere.

use std::fmt;
use std::str::FromStr;

use crate::float::{BF16, F16, FloatFormat, Overflow, check_len};
use crate::{Error, Result};

/// Largest magnitude allowed in an int8 row: keeps `255·scale + bias` finite in f32.
pub const INT8_ROW_VALUE_LIMIT: f32 = 4.253_529_6e37; // 2^125

/// How one embedding row is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowFormat {
    /// Plain f32.
    F32,
    /// IEEE binary16 values (finite overflow saturates to ±65504).
    F16,
    /// bfloat16 values.
    Bf16,
    /// u8 codes + f32 scale + f32 bias (FBGEMM `Fused8BitRowwiseQuantizedSBFloat`).
    Int8Rowwise,
    /// u8 codes + f16 scale + f16 bias (FBGEMM's `FusedNBitRowwiseQuantizedSBHalf` at 8 bits):
    /// 4 bytes less per row, for tables whose values stay within fp16 range.
    Int8RowwiseF16,
}

/// A row's dequantization parameters (int8 formats).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowParams {
    /// Step between adjacent codes.
    pub scale: f32,
    /// Value of code 0 (the row minimum, up to fp16 rounding in the f16 variant).
    pub bias: f32,
}

impl RowFormat {
    /// Every format, in a fixed order.
    pub const ALL: [RowFormat; 5] = [
        RowFormat::F32,
        RowFormat::F16,
        RowFormat::Bf16,
        RowFormat::Int8Rowwise,
        RowFormat::Int8RowwiseF16,
    ];

    /// Canonical name (used in chip/compiler options and reports).
    pub const fn name(self) -> &'static str {
        match self {
            RowFormat::F32 => "f32",
            RowFormat::F16 => "f16",
            RowFormat::Bf16 => "bf16",
            RowFormat::Int8Rowwise => "int8-rowwise",
            RowFormat::Int8RowwiseF16 => "int8-rowwise-f16",
        }
    }

    /// Bytes one row of `dim` values occupies.
    pub const fn row_bytes(self, dim: usize) -> usize {
        match self {
            RowFormat::F32 => 4 * dim,
            RowFormat::F16 | RowFormat::Bf16 => 2 * dim,
            RowFormat::Int8Rowwise => dim + 8,
            RowFormat::Int8RowwiseF16 => dim + 4,
        }
    }

    const fn half(self) -> Option<&'static FloatFormat> {
        match self {
            RowFormat::F16 | RowFormat::Int8RowwiseF16 => Some(&F16),
            RowFormat::Bf16 => Some(&BF16),
            _ => None,
        }
    }

    /// Encodes one row into `out` (exactly `row_bytes(row.len())` bytes).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for an empty row or a wrong `out` length; [`Error::NonFinite`] for
    /// a NaN/∞ value (a table with NaNs is broken, and no format here could round-trip it);
    /// [`Error::RowOutOfRange`] when an int8 row's values, scale or bias exceed the format.
    pub fn encode_row(self, row: &[f32], out: &mut [u8]) -> Result<()> {
        let dim = row.len();
        if dim == 0 {
            return Err(Error::ShapeMismatch {
                what: "embedding row dimension (at least 1)",
                expected: 1,
                actual: 0,
            });
        }
        check_len(
            "encoded embedding row bytes",
            self.row_bytes(dim),
            out.len(),
        )?;
        if let Some((index, &value)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "embedding value",
                index,
                value,
            });
        }
        match self {
            RowFormat::F32 => {
                for (x, c) in row.iter().zip(out.chunks_exact_mut(4)) {
                    c.copy_from_slice(&x.to_le_bytes());
                }
                Ok(())
            }
            RowFormat::F16 | RowFormat::Bf16 => {
                let f = self.half().expect("16-bit format");
                f.encode_slice(row, Overflow::Saturate, out)
            }
            RowFormat::Int8Rowwise | RowFormat::Int8RowwiseF16 => self.encode_int8(row, out),
        }
    }

    fn encode_int8(self, row: &[f32], out: &mut [u8]) -> Result<()> {
        let dim = row.len();
        let (mut min, mut max) = (row[0], row[0]);
        for &x in row {
            min = min.min(x);
            max = max.max(x);
        }
        let big = if min.abs() > max.abs() { min } else { max };
        if big.abs() > INT8_ROW_VALUE_LIMIT {
            return Err(self.out_of_range("value", big.abs(), INT8_ROW_VALUE_LIMIT));
        }
        let params = match self {
            RowFormat::Int8Rowwise => RowParams {
                scale: ((f64::from(max) - f64::from(min)) / 255.0) as f32,
                bias: min,
            },
            _ => {
                // As FBGEMM: round the bias to fp16 first and derive the scale from the bias
                // actually stored, so codes are relative to what the chip will read back.
                let bias_bits = F16.encode(min, Overflow::NonSaturating);
                let bias = F16.decode(bias_bits);
                if bias.is_infinite() {
                    return Err(self.out_of_range("bias", min.abs(), F16.max_finite()));
                }
                let ideal = ((f64::from(max) - f64::from(bias)).max(0.0) / 255.0) as f32;
                let scale = F16.decode(F16.encode(ideal, Overflow::NonSaturating));
                if scale.is_infinite() {
                    return Err(self.out_of_range("scale", ideal, F16.max_finite()));
                }
                RowParams { scale, bias }
            }
        };
        let (codes, tail) = out.split_at_mut(dim);
        let (s, b) = (f64::from(params.scale), f64::from(params.bias));
        for (x, c) in row.iter().zip(codes.iter_mut()) {
            *c = if params.scale == 0.0 {
                0
            } else {
                ((f64::from(*x) - b) / s)
                    .round_ties_even()
                    .clamp(0.0, 255.0) as u8
            };
        }
        if self == RowFormat::Int8Rowwise {
            tail[..4].copy_from_slice(&params.scale.to_le_bytes());
            tail[4..].copy_from_slice(&params.bias.to_le_bytes());
        } else {
            let s16 = F16.encode(params.scale, Overflow::NonSaturating) as u16;
            let b16 = F16.encode(params.bias, Overflow::NonSaturating) as u16;
            tail[..2].copy_from_slice(&s16.to_le_bytes());
            tail[2..].copy_from_slice(&b16.to_le_bytes());
        }
        Ok(())
    }

    fn out_of_range(self, what: &'static str, value: f32, limit: f32) -> Error {
        Error::RowOutOfRange {
            what,
            value: f64::from(value),
            limit: f64::from(limit),
            format: self.name(),
        }
    }

    /// The scale and bias stored in an int8 row (`None` for float formats).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] if `bytes` is shorter than the scale/bias fields.
    pub fn row_params(self, bytes: &[u8]) -> Result<Option<RowParams>> {
        let tail = match self {
            RowFormat::Int8Rowwise => 8,
            RowFormat::Int8RowwiseF16 => 4,
            _ => return Ok(None),
        };
        if bytes.len() <= tail {
            return Err(Error::ShapeMismatch {
                what: "int8 embedding row bytes (at least dim + scale/bias)",
                expected: tail + 1,
                actual: bytes.len(),
            });
        }
        let t = &bytes[bytes.len() - tail..];
        Ok(Some(if tail == 8 {
            RowParams {
                scale: f32::from_le_bytes([t[0], t[1], t[2], t[3]]),
                bias: f32::from_le_bytes([t[4], t[5], t[6], t[7]]),
            }
        } else {
            RowParams {
                scale: F16.decode(u32::from(u16::from_le_bytes([t[0], t[1]]))),
                bias: F16.decode(u32::from(u16::from_le_bytes([t[2], t[3]]))),
            }
        }))
    }

    /// Decodes one row of `out.len()` values from `bytes` (exactly `row_bytes(out.len())`).
    ///
    /// Decoding never fails on content: a row is whatever bytes HBM holds, and the chip decodes
    /// them deterministically (NaN/∞ scale or bias simply propagate).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for an empty `out` or a wrong `bytes` length.
    pub fn decode_row(self, bytes: &[u8], out: &mut [f32]) -> Result<()> {
        let dim = out.len();
        if dim == 0 {
            return Err(Error::ShapeMismatch {
                what: "embedding row dimension (at least 1)",
                expected: 1,
                actual: 0,
            });
        }
        check_len(
            "encoded embedding row bytes",
            self.row_bytes(dim),
            bytes.len(),
        )?;
        match self {
            RowFormat::F32 => {
                for (y, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *y = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
                Ok(())
            }
            RowFormat::F16 | RowFormat::Bf16 => {
                self.half().expect("16-bit format").decode_slice(bytes, out)
            }
            RowFormat::Int8Rowwise | RowFormat::Int8RowwiseF16 => {
                let p = self.row_params(bytes)?.expect("int8 format");
                for (y, &q) in out.iter_mut().zip(&bytes[..dim]) {
                    *y = dequantize_code(q, p);
                }
                Ok(())
            }
        }
    }
}

/// The gather unit's dequantization of one code: f32 multiply, then f32 add (two roundings).
#[inline]
pub fn dequantize_code(q: u8, p: RowParams) -> f32 {
    let prod = f32::from(q) * p.scale;
    prod + p.bias
}

impl fmt::Display for RowFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RowFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        RowFormat::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| Error::UnknownName {
                kind: "embedding row format",
                name: s.to_string(),
                valid: RowFormat::ALL
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_names() {
        assert_eq!(RowFormat::Int8Rowwise.row_bytes(64), 72);
        assert_eq!(RowFormat::Int8RowwiseF16.row_bytes(64), 68);
        assert_eq!(RowFormat::Bf16.row_bytes(64), 128);
        assert_eq!(RowFormat::F32.row_bytes(64), 256);
        for f in RowFormat::ALL {
            assert_eq!(f.name().parse::<RowFormat>().unwrap(), f);
        }
        assert!("int4".parse::<RowFormat>().is_err());
        assert_eq!(INT8_ROW_VALUE_LIMIT, 2f32.powi(125));
    }

    #[test]
    fn int8_row_layout_is_fbgemm_like() {
        let row = [0.0, 1.0, 2.55, -0.45];
        let mut bytes = vec![0u8; RowFormat::Int8Rowwise.row_bytes(4)];
        RowFormat::Int8Rowwise.encode_row(&row, &mut bytes).unwrap();
        let scale = ((2.55f32 as f64 + 0.45f32 as f64) / 255.0) as f32;
        assert_eq!(&bytes[4..8], &scale.to_le_bytes());
        assert_eq!(&bytes[8..12], &(-0.45f32).to_le_bytes());
        assert_eq!(bytes[3], 0);
        assert_eq!(bytes[2], 255);
        let mut back = [0f32; 4];
        RowFormat::Int8Rowwise
            .decode_row(&bytes, &mut back)
            .unwrap();
        assert_eq!(back[3], -0.45);
        for (x, y) in row.iter().zip(back) {
            assert!((x - y).abs() <= scale * 0.5 + 1e-6, "{x} vs {y}");
        }
    }

    #[test]
    fn constant_rows_decode_exactly() {
        for f in [RowFormat::Int8Rowwise, RowFormat::Int8RowwiseF16] {
            let row = [0.5f32; 7];
            let mut bytes = vec![0xaa; f.row_bytes(7)];
            f.encode_row(&row, &mut bytes).unwrap();
            assert!(bytes[..7].iter().all(|&b| b == 0));
            assert_eq!(f.row_params(&bytes).unwrap().unwrap().scale, 0.0);
            let mut back = [0f32; 7];
            f.decode_row(&bytes, &mut back).unwrap();
            assert_eq!(back, row);
        }
    }

    #[test]
    fn errors() {
        let f = RowFormat::Int8Rowwise;
        assert!(f.encode_row(&[], &mut []).is_err());
        assert!(f.encode_row(&[1.0], &mut [0u8; 8]).is_err());
        assert!(matches!(
            f.encode_row(&[1.0, f32::NAN], &mut [0u8; 10]),
            Err(Error::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            f.encode_row(&[1.0, -1e38], &mut [0u8; 10]),
            Err(Error::RowOutOfRange { what: "value", .. })
        ));
        let h = RowFormat::Int8RowwiseF16;
        assert!(matches!(
            h.encode_row(&[-70000.0, 0.0], &mut [0u8; 6]),
            Err(Error::RowOutOfRange { what: "bias", .. })
        ));
        assert!(matches!(
            h.encode_row(&[-60000.0, 1e9], &mut [0u8; 6]),
            Err(Error::RowOutOfRange { what: "scale", .. })
        ));
        assert!(
            RowFormat::F16
                .encode_row(&[f32::INFINITY], &mut [0u8; 2])
                .is_err()
        );
        assert!(f.decode_row(&[0u8; 9], &mut [0f32; 2]).is_err());
        assert!(f.decode_row(&[], &mut []).is_err());
        assert!(f.row_params(&[0u8; 8]).is_err());
        assert_eq!(RowFormat::Bf16.row_params(&[0u8; 8]).unwrap(), None);
    }

    #[test]
    fn half_tables_saturate_and_round_trip() {
        let row = [1.0, -70000.0, 1.23456];
        let mut bytes = [0u8; 6];
        RowFormat::F16.encode_row(&row, &mut bytes).unwrap();
        let mut back = [0f32; 3];
        RowFormat::F16.decode_row(&bytes, &mut back).unwrap();
        assert_eq!(back[..2], [1.0, -65504.0]);
        assert!((back[2] - 1.23456).abs() < 2e-3);
        RowFormat::Bf16.encode_row(&row, &mut bytes).unwrap();
        RowFormat::Bf16.decode_row(&bytes, &mut back).unwrap();
        assert_eq!(back[1], -70144.0);
    }
}
