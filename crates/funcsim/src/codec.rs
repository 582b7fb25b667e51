//! Element conversions between memory bytes and the f32/i32 values the units compute on.
//!
//! The rounding, saturation and NaN rules are the chip's (docs/isa.md "Data types",
//! docs/numerics.md) and live in `seedchip_numerics`; this module only picks, per destination
//! type, which rule applies:
//! * float → bf16/f16: round to nearest even, IEEE overflow (±∞); → e4m3/e5m2: round to nearest
//!   even, saturating to ±max (the ISA's fp8 conversions saturate);
//! * float → f32: NaN results are stored as the canonical NaN `0x7fc00000`, because the host's
//!   NaN payloads after arithmetic are unspecified and outputs must be bit-exact;
//! * float → i8/u8/i32: round half to even, clamp to the type's range, NaN → 0 (the quantizer's
//!   rule with scale 1 and zero point 0);
//! * i32 → i8/u8: clamp; integer → float: exact, except i32 → f32 (round to nearest even), and
//!   i32 → bf16/f16/fp8, which goes through that f32.

use seedchip_isa::DType;
use seedchip_numerics::Overflow;
use seedchip_numerics::float::{BF16, F8E4M3, F8E5M2, F16, F32_CANONICAL_NAN_BITS, FloatFormat};

/// Canonical quiet NaN of f32.
pub(crate) const CANONICAL_NAN: f32 = f32::from_bits(F32_CANONICAL_NAN_BITS);

#[inline]
pub(crate) fn canon(x: f32) -> f32 {
    if x.is_nan() { CANONICAL_NAN } else { x }
}

fn narrow_format(dtype: DType) -> Option<(&'static FloatFormat, Overflow)> {
    match dtype {
        DType::Bf16 => Some((&BF16, Overflow::NonSaturating)),
        DType::F16 => Some((&F16, Overflow::NonSaturating)),
        DType::E4m3 => Some((&F8E4M3, Overflow::Saturate)),
        DType::E5m2 => Some((&F8E5M2, Overflow::Saturate)),
        _ => None,
    }
}

/// bf16 → f32: the upper half of the f32 bits (exact), NaN canonical. The same as
/// `numerics::BF16.decode` (tested on every code), without its generic format logic.
#[inline]
fn bf16_decode(h: u16) -> f32 {
    if h & 0x7fff > 0x7f80 {
        CANONICAL_NAN
    } else {
        f32::from_bits(u32::from(h) << 16)
    }
}

/// f32 → bf16, round to nearest even, overflow to ±∞, NaN canonical: the same as
/// `numerics::BF16.encode(x, NonSaturating)` (tested), in three integer operations. Adding
/// `0x7fff` plus the kept part's lowest bit rounds the discarded half to nearest, ties to even;
/// a carry into the exponent is the correct next binade (or ∞ past the largest finite value).
#[inline]
fn bf16_encode(x: f32) -> u16 {
    let b = x.to_bits();
    if b & 0x7fff_ffff > 0x7f80_0000 {
        0x7fc0
    } else {
        ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
    }
}

/// Whether values of this type are computed on as f32.
pub(crate) fn is_float(dtype: DType) -> bool {
    matches!(
        dtype,
        DType::F32 | DType::Bf16 | DType::F16 | DType::E4m3 | DType::E5m2
    )
}

/// Bytes per element (`emb8` has none: it is a row layout).
pub(crate) fn elem_bytes(dtype: DType) -> u64 {
    dtype.size_bytes().unwrap_or(1)
}

/// Decodes packed elements to f32 (exact for every type but i32, which rounds to nearest even).
pub(crate) fn to_f32(dtype: DType, bytes: &[u8]) -> Vec<f32> {
    match dtype {
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::Bf16 => bytes
            .chunks_exact(2)
            .map(|c| bf16_decode(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        DType::F16 => bytes
            .chunks_exact(2)
            .map(|c| F16.decode(u32::from(u16::from_le_bytes([c[0], c[1]]))))
            .collect(),
        DType::E4m3 | DType::E5m2 => {
            let (f, _) = narrow_format(dtype).expect("8-bit float");
            // 256 codes: decode through a table.
            let lut: Vec<f32> = (0..256u32).map(|c| f.decode(c)).collect();
            bytes.iter().map(|&b| lut[b as usize]).collect()
        }
        DType::I8 => bytes.iter().map(|&b| f32::from(b as i8)).collect(),
        DType::U8 | DType::Emb8 => bytes.iter().map(|&b| f32::from(b)).collect(),
        DType::I32 => bytes
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
    }
}

/// Round to nearest integer, ties to even, for `|x| < 2^23` (larger magnitudes are integers
/// already and pass through). One IEEE addition and subtraction: adding `±2^23` leaves no
/// fraction bits, so the hardware's round-to-nearest-even does the rounding. Inlined, unlike
/// `f32::round_ties_even`, which is a libm call on baseline x86-64.
#[inline]
pub(crate) fn round_even(x: f32) -> f32 {
    const TWO23: f32 = 8_388_608.0;
    if x.abs() < TWO23 {
        let c = TWO23.copysign(x);
        (x + c) - c
    } else {
        x
    }
}

/// Float → integer in `[lo, hi]` (a range inside ±2^23): round half to even, clamp, NaN → 0.
#[inline]
fn f32_to_int(x: f32, lo: i32, hi: i32) -> i32 {
    if x.is_nan() {
        return 0;
    }
    round_even(x.clamp(lo as f32, hi as f32)) as i32
}

/// Converts one row of packed `from` elements into packed `to` elements when the pair has a
/// loop that vectorizes (the conversions a quantized layer runs between its matmuls: i32
/// accumulators to f32, f32 to i8/u8); `false` leaves `dst` untouched for the general path.
/// Same values as [`to_f32`] then [`from_f32`].
pub(crate) fn convert_row_fast(from: DType, to: DType, src: &[u8], dst: &mut [u8]) -> bool {
    match (from, to) {
        (DType::I32, DType::F32) => crate::igemm::with_simd(
            #[inline(always)]
            || {
                // Integers are never NaN: no canonicalization needed.
                for (o, c) in dst.chunks_exact_mut(4).zip(src.chunks_exact(4)) {
                    let v = i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32;
                    o.copy_from_slice(&v.to_le_bytes());
                }
            },
        ),
        (DType::F32, DType::I8) => f32_row_to_int(src, dst, -128, 127),
        (DType::F32, DType::U8 | DType::Emb8) => f32_row_to_int(src, dst, 0, 255),
        _ => return false,
    }
    true
}

/// [`f32_to_int`] over a row of f32 into bytes, for a byte-sized `lo..=hi`: after the clamp
/// `|x| ≤ 255 < 2^23`, so [`round_even`]'s add-and-subtract always applies and the loop has
/// no branches.
fn f32_row_to_int(src: &[u8], dst: &mut [u8], lo: i32, hi: i32) {
    const TWO23: f32 = 8_388_608.0;
    let (lo, hi) = (lo as f32, hi as f32);
    crate::igemm::with_simd(
        #[inline(always)]
        || {
            for (o, c) in dst.iter_mut().zip(src.chunks_exact(4)) {
                let x = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                let y = x.max(lo).min(hi);
                let t = TWO23.copysign(y);
                let r = ((y + t) - t) as i32;
                *o = if x.is_nan() { 0 } else { r as u8 };
            }
        },
    );
}

#[inline]
pub(crate) fn le_f32(b: &[u8]) -> f32 {
    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Elements below which conversions stay on the calling thread.
const PAR_MIN: usize = 1 << 15;

/// `f` over packed f32 bytes into packed f32 bytes (NaN results canonical), in one pass.
pub(crate) fn map_f32_bytes<F: Fn(f32) -> f32 + Sync>(x: &[u8], f: F) -> Vec<u8> {
    use rayon::prelude::*;
    let mut out = vec![0u8; x.len()];
    let run = |(o, a): (&mut [u8], &[u8])| {
        for (o, a) in o.chunks_exact_mut(4).zip(a.chunks_exact(4)) {
            o.copy_from_slice(&canon(f(le_f32(a))).to_le_bytes());
        }
    };
    if x.len() / 4 >= PAR_MIN {
        out.par_chunks_mut(16384)
            .zip(x.par_chunks(16384))
            .for_each(run);
    } else {
        run((&mut out, x));
    }
    out
}

/// `f` over two packed f32 operands into packed f32 bytes (NaN results canonical).
pub(crate) fn zip_f32_bytes<F: Fn(f32, f32) -> f32 + Sync>(x: &[u8], y: &[u8], f: F) -> Vec<u8> {
    use rayon::prelude::*;
    let mut out = vec![0u8; x.len()];
    let run = |((o, a), b): ((&mut [u8], &[u8]), &[u8])| {
        for ((o, a), b) in o
            .chunks_exact_mut(4)
            .zip(a.chunks_exact(4))
            .zip(b.chunks_exact(4))
        {
            o.copy_from_slice(&canon(f(le_f32(a), le_f32(b))).to_le_bytes());
        }
    };
    if x.len() / 4 >= PAR_MIN {
        out.par_chunks_mut(16384)
            .zip(x.par_chunks(16384))
            .zip(y.par_chunks(16384))
            .for_each(run);
    } else {
        run(((&mut out, x), y));
    }
    out
}

/// Encodes f32 values into packed elements of `dtype` with one rounding.
pub(crate) fn from_f32(dtype: DType, vals: &[f32]) -> Vec<u8> {
    match dtype {
        DType::F32 => {
            let mut out = vec![0u8; vals.len() * 4];
            for (o, &v) in out.chunks_exact_mut(4).zip(vals) {
                o.copy_from_slice(&canon(v).to_le_bytes());
            }
            out
        }
        DType::Bf16 => {
            let mut out = vec![0u8; vals.len() * 2];
            for (o, &v) in out.chunks_exact_mut(2).zip(vals) {
                o.copy_from_slice(&bf16_encode(v).to_le_bytes());
            }
            out
        }
        DType::F16 => {
            let mut out = vec![0u8; vals.len() * 2];
            for (o, &v) in out.chunks_exact_mut(2).zip(vals) {
                o.copy_from_slice(&(F16.encode(v, Overflow::NonSaturating) as u16).to_le_bytes());
            }
            out
        }
        DType::E4m3 | DType::E5m2 => {
            let (f, o) = narrow_format(dtype).expect("8-bit float");
            vals.iter().map(|&v| f.encode(v, o) as u8).collect()
        }
        DType::I8 => vals
            .iter()
            .map(|&v| f32_to_int(v, -128, 127) as i8 as u8)
            .collect(),
        DType::U8 | DType::Emb8 => vals.iter().map(|&v| f32_to_int(v, 0, 255) as u8).collect(),
        DType::I32 => {
            let mut out = Vec::with_capacity(vals.len() * 4);
            for &v in vals {
                // 2^31 is the first f32 above i32::MAX; clamp there.
                let i = if v.is_nan() {
                    0
                } else {
                    let r = round_even(v);
                    if r >= 2_147_483_648.0 {
                        i32::MAX
                    } else if r <= -2_147_483_648.0 {
                        i32::MIN
                    } else {
                        r as i32
                    }
                };
                out.extend_from_slice(&i.to_le_bytes());
            }
            out
        }
    }
}

/// Decodes packed integer elements (`i8`, `u8`, `i32`) exactly.
pub(crate) fn to_i32(dtype: DType, bytes: &[u8]) -> Vec<i32> {
    match dtype {
        DType::I8 => bytes.iter().map(|&b| i32::from(b as i8)).collect(),
        DType::I32 => bytes
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        _ => bytes.iter().map(|&b| i32::from(b)).collect(),
    }
}

/// The value range of an integer type.
pub(crate) fn int_range(dtype: DType) -> (i64, i64) {
    match dtype {
        DType::I8 => (-128, 127),
        DType::U8 => (0, 255),
        _ => (i64::from(i32::MIN), i64::from(i32::MAX)),
    }
}

/// Encodes integers into `dtype`, clamping to its range (integer → integer conversions
/// saturate).
pub(crate) fn from_i64_saturating(dtype: DType, vals: &[i64]) -> Vec<u8> {
    let (lo, hi) = int_range(dtype);
    match dtype {
        DType::I32 => {
            let mut out = Vec::with_capacity(vals.len() * 4);
            for &v in vals {
                out.extend_from_slice(&(v.clamp(lo, hi) as i32).to_le_bytes());
            }
            out
        }
        _ => vals.iter().map(|&v| v.clamp(lo, hi) as u8).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorized row conversions give the general path's bytes: every f32 bit pattern
    /// with its low 12 bits fixed (all exponents, signs, NaNs, infinities, zeros), the halves
    /// and byte edges, and i32 values across the range.
    #[test]
    fn fast_row_conversions_match_the_general_path() {
        let mut floats: Vec<f32> = (0..1u32 << 20)
            .map(|i| f32::from_bits(i << 12 | 0x5a5))
            .collect();
        for i in -600..600 {
            floats.push(i as f32 * 0.5);
            floats.push(i as f32 * 0.5 + f32::EPSILON * 4.0);
        }
        floats.extend([
            0.0,
            -0.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
        ]);
        let fbytes = from_f32(DType::F32, &floats);
        // Bit patterns straight from memory, NaN payloads included.
        let raw: Vec<u8> = (0..1u32 << 18)
            .flat_map(|i| (i.wrapping_mul(0x9e37_79b9)).to_le_bytes())
            .collect();
        for src in [&fbytes, &raw] {
            for to in [DType::I8, DType::U8, DType::Emb8] {
                let want = from_f32(to, &to_f32(DType::F32, src));
                let mut got = vec![0xeeu8; src.len() / 4];
                assert!(convert_row_fast(DType::F32, to, src, &mut got));
                assert!(got == want, "f32 -> {to}");
            }
        }
        let ints: Vec<u8> = [i32::MIN, i32::MAX, 0, -1, 1, 16_777_217, -16_777_217]
            .into_iter()
            .chain((0..1 << 16).map(|i: i32| i.wrapping_mul(0x2f0f_1e3d)))
            .flat_map(i32::to_le_bytes)
            .collect();
        let want = from_f32(DType::F32, &to_f32(DType::I32, &ints));
        let mut got = vec![0u8; ints.len()];
        assert!(convert_row_fast(DType::I32, DType::F32, &ints, &mut got));
        assert!(got == want, "i32 -> f32");
        assert!(!convert_row_fast(
            DType::F32,
            DType::Bf16,
            &fbytes,
            &mut got
        ));
    }

    #[test]
    fn float_to_int_rounds_half_even_and_clamps() {
        let v = [
            0.5f32,
            1.5,
            -2.5,
            300.0,
            -300.0,
            f32::NAN,
            f32::INFINITY,
            -0.4,
        ];
        assert_eq!(
            to_i32(DType::I8, &from_f32(DType::I8, &v)),
            vec![0, 2, -2, 127, -128, 0, 127, 0]
        );
        assert_eq!(
            to_i32(DType::U8, &from_f32(DType::U8, &v)),
            vec![0, 2, 0, 255, 0, 0, 255, 0]
        );
        let big = [3e9f32, -3e9, 2_147_483_520.0];
        assert_eq!(
            to_i32(DType::I32, &from_f32(DType::I32, &big)),
            vec![i32::MAX, i32::MIN, 2_147_483_520]
        );
    }

    #[test]
    fn bf16_fast_paths_equal_the_numerics_conversions() {
        for h in 0..=u16::MAX {
            assert_eq!(
                bf16_decode(h).to_bits(),
                BF16.decode(u32::from(h)).to_bits(),
                "{h:#06x}"
            );
        }
        // Every f32 exponent and sign with varied mantissas, plus the edges.
        let mut bits: Vec<u32> = (0..=u32::MAX).step_by(4093).collect();
        bits.extend([
            0,
            0x8000_0000,
            0x7f7f_ffff,
            0x7f7f_8000,
            0x7f7f_7fff,
            0x7f80_0000,
            1,
            0x8000_8000,
            0x0000_8000,
            0x0001_8000,
        ]);
        for b in bits {
            let x = f32::from_bits(b);
            assert_eq!(
                u32::from(bf16_encode(x)),
                BF16.encode(x, Overflow::NonSaturating),
                "{b:#010x}"
            );
        }
    }

    #[test]
    fn fp8_saturates_and_16_bit_overflows_to_infinity() {
        assert_eq!(
            to_f32(DType::E4m3, &from_f32(DType::E4m3, &[1e6]))[0],
            448.0
        );
        assert_eq!(
            to_f32(DType::E5m2, &from_f32(DType::E5m2, &[-1e9]))[0],
            -57344.0
        );
        assert_eq!(
            to_f32(DType::F16, &from_f32(DType::F16, &[1e6]))[0],
            f32::INFINITY
        );
        let nan = from_f32(DType::F32, &[f32::from_bits(0xffc0_1234)]);
        assert_eq!(nan, 0x7fc0_0000u32.to_le_bytes());
    }
}
