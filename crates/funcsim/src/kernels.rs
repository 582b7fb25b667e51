//! Matrix-unit arithmetic on dense row-major buffers.
//!
//! * int8: products and their sums are integers. Every partial sum of `k ≤ 1024` products of
//!   two int8 values is at most `1024 · 128 · 128 = 2^24` in magnitude, so an f32 GEMM (any
//!   blocking, any summation order, with or without fused multiply-add) computes them exactly;
//!   that lets the int8 path use the host's fastest f32 GEMM and stay bit-exact. Adding the
//!   int32 accumulator is then done in 64 bits. Overflow is decided per partial sum in
//!   increasing `k` (docs/isa.md): when a cheap bound proves no partial sum of a row can leave
//!   int32, the row takes the fast path; otherwise it is accumulated step by step and the first
//!   overflow (row-major, then `k`) is reported.
//! * floats: each accumulator gets one f32 product and one f32 addition per `k`, in increasing
//!   `k`. The loop runs `k` outermost per row and vectorizes across `n`, which keeps every
//!   accumulator's order.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use seedchip_isa::DType;

use crate::codec;
use crate::fault::FaultKind;

/// Largest `k` for which the f32 GEMM is exact on int8 data.
const EXACT_F32_K: usize = 1024;
/// Rows per parallel GEMM block.
const BLOCK_ROWS: usize = 64;
/// Multiply-adds below which a matmul stays on the calling thread.
const PAR_MIN_MACS: usize = 1 << 16;

/// `b` as a dense `k × n` f32 matrix from its stored layout (`k × n`, or `n × k` when
/// `transpose`), plus each row's largest magnitude (for the overflow bound).
fn dense_b(vals: &[f32], k: usize, n: usize, transpose: bool) -> Vec<f32> {
    if !transpose {
        return vals.to_vec();
    }
    let mut out = vec![0f32; k * n];
    for j in 0..n {
        for kk in 0..k {
            out[kk * n + j] = vals[j * k + kk];
        }
    }
    out
}

/// `P = A · B` for exact-integer f32 data, rows split across threads.
fn gemm_exact(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut p = vec![0f32; m * n];
    let bv = ArrayView2::from_shape((k, n), b).expect("b is k × n");
    let block = |(i, out): (usize, &mut [f32])| {
        let rows = out.len() / n;
        let r0 = i * BLOCK_ROWS;
        let av = ArrayView2::from_shape((rows, k), &a[r0 * k..(r0 + rows) * k])
            .expect("a block is rows × k");
        let mut c = Array2::<f32>::zeros((rows, n));
        general_mat_mul(1.0, &av, &bv, 0.0, &mut c);
        out.copy_from_slice(c.as_slice().expect("standard layout"));
    };
    if m * k * n >= PAR_MIN_MACS {
        p.par_chunks_mut(BLOCK_ROWS * n).enumerate().for_each(block);
    } else {
        p.chunks_mut(BLOCK_ROWS * n).enumerate().for_each(block);
    }
    p
}

/// `mxu.matmul.i8`: returns the `m × n` int32 accumulator as little-endian bytes.
pub(crate) fn matmul_i8(
    a: &[u8],
    b: &[u8],
    acc0: Option<&[u8]>,
    m: usize,
    k: usize,
    n: usize,
    transpose: bool,
) -> Result<Vec<u8>, FaultKind> {
    let af: Vec<f32> = a.iter().map(|&x| f32::from(x as i8)).collect();
    let bf = dense_b(&codec::to_f32(DType::I8, b), k, n, transpose);
    let max_b: Vec<i64> = (0..k)
        .map(|kk| {
            bf[kk * n..(kk + 1) * n]
                .iter()
                .fold(0i64, |m, &v| m.max((v as i64).abs()))
        })
        .collect();
    let acc: Vec<i32> = match acc0 {
        Some(bytes) => codec::to_i32(DType::I32, bytes),
        None => vec![0; m * n],
    };
    let p = (k <= EXACT_F32_K && k > 0).then(|| gemm_exact(&af, &bf, m, k, n));
    let row = |(i, out): (usize, &mut [i32])| -> Result<(), FaultKind> {
        let arow = &af[i * k..(i + 1) * k];
        let accrow = &acc[i * n..(i + 1) * n];
        let bound = accrow.iter().fold(0i64, |m, &v| m.max(i64::from(v).abs()))
            + arow
                .iter()
                .zip(&max_b)
                .map(|(&x, &mb)| (x as i64).abs() * mb)
                .sum::<i64>();
        match &p {
            Some(p) if bound <= i64::from(i32::MAX) => {
                for ((o, &c), &q) in out.iter_mut().zip(accrow).zip(&p[i * n..(i + 1) * n]) {
                    *o = c + q as i32;
                }
            }
            None if bound <= i64::from(i32::MAX) => {
                for (j, (o, &c)) in out.iter_mut().zip(accrow).enumerate() {
                    let s: i64 = (0..k)
                        .map(|kk| arow[kk] as i64 * bf[kk * n + j] as i64)
                        .sum();
                    *o = (i64::from(c) + s) as i32;
                }
            }
            _ => {
                for (j, (o, &c)) in out.iter_mut().zip(accrow).enumerate() {
                    let mut s = i64::from(c);
                    for kk in 0..k {
                        s += arow[kk] as i64 * bf[kk * n + j] as i64;
                        if s < i64::from(i32::MIN) || s > i64::from(i32::MAX) {
                            return Err(FaultKind::AccumulatorOverflow {
                                row: i as u64,
                                col: j as u64,
                                k: kk as u64,
                                value: s,
                            });
                        }
                    }
                    *o = s as i32;
                }
            }
        }
        Ok(())
    };
    let mut out = vec![0i32; m * n];
    let results: Vec<Result<(), FaultKind>> = if m * k * n >= PAR_MIN_MACS {
        out.par_chunks_mut(n).enumerate().map(row).collect()
    } else {
        out.chunks_mut(n).enumerate().map(row).collect()
    };
    results.into_iter().collect::<Result<(), _>>()?;
    let mut bytes = Vec::with_capacity(out.len() * 4);
    for v in out {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    Ok(bytes)
}

/// `mxu.matmul.<bf16|f16|e4m3|e5m2>`: returns the `m × n` f32 accumulator as bytes.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_float(
    dtype: DType,
    a: &[u8],
    b: &[u8],
    acc0: Option<&[u8]>,
    m: usize,
    k: usize,
    n: usize,
    transpose: bool,
) -> Vec<u8> {
    let af = codec::to_f32(dtype, a);
    let bf = dense_b(&codec::to_f32(dtype, b), k, n, transpose);
    let mut acc = match acc0 {
        Some(bytes) => codec::to_f32(DType::F32, bytes),
        None => vec![0f32; m * n],
    };
    let row = |(i, out): (usize, &mut [f32])| {
        for (kk, &av) in af[i * k..(i + 1) * k].iter().enumerate() {
            let brow = &bf[kk * n..(kk + 1) * n];
            for (o, &bv) in out.iter_mut().zip(brow) {
                *o += av * bv;
            }
        }
    };
    if m * k * n >= PAR_MIN_MACS {
        acc.par_chunks_mut(n).enumerate().for_each(row);
    } else {
        acc.chunks_mut(n).enumerate().for_each(row);
    }
    codec::from_f32(DType::F32, &acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_gemm_is_exact_at_the_extremes() {
        let (m, k, n) = (3, 1024, 5);
        let a = vec![0x80u8; m * k]; // -128
        let b = vec![0x80u8; k * n];
        let out = matmul_i8(&a, &b, None, m, k, n, false).unwrap();
        let v = i32::from_le_bytes([out[0], out[1], out[2], out[3]]);
        assert_eq!(v, 1024 * 128 * 128);
    }

    #[test]
    fn int8_overflow_is_found_at_its_k() {
        let (m, k, n) = (1, 4, 1);
        let a = vec![127u8; 4];
        let b = vec![127u8; 4];
        let start = (i32::MAX - 2 * 127 * 127 + 1).to_le_bytes();
        let err = matmul_i8(&a, &b, Some(&start), m, k, n, false).unwrap_err();
        assert_eq!(
            err,
            FaultKind::AccumulatorOverflow {
                row: 0,
                col: 0,
                k: 1,
                value: i64::from(i32::MAX) + 1,
            }
        );
        // A partial sum that returns to range still faults.
        let a = [127u8, 127, 0x81, 0x81]; // 127, 127, -127, -127
        let err = matmul_i8(&a, &b, Some(&start), m, k, n, false).unwrap_err();
        assert!(matches!(err, FaultKind::AccumulatorOverflow { k: 1, .. }));
    }
}
