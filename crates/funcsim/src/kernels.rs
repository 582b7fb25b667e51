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
use ndarray::{ArrayView2, ArrayViewMut2};
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
/// `transpose`).
fn dense_b(vals: Vec<f32>, k: usize, n: usize, transpose: bool) -> Vec<f32> {
    if !transpose {
        return vals;
    }
    let mut out = vec![0f32; k * n];
    for j in 0..n {
        for kk in 0..k {
            out[kk * n + j] = vals[j * k + kk];
        }
    }
    out
}

/// Rows per parallel block: one block per thread, but not so few rows that the GEMM's
/// packing overhead dominates.
fn block_rows(m: usize, work: usize) -> usize {
    if work < PAR_MIN_MACS {
        return m.max(1);
    }
    m.div_ceil(rayon::current_num_threads().max(1))
        .max(BLOCK_ROWS)
}

/// `P = A · B` for exact-integer f32 data, rows split across threads.
fn gemm_exact(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut p = vec![0f32; m * n];
    let bv = ArrayView2::from_shape((k, n), b).expect("b is k × n");
    let rows = block_rows(m, m * k * n);
    p.par_chunks_mut(rows * n).enumerate().for_each(|(i, out)| {
        let r = out.len() / n;
        let r0 = i * rows;
        let av =
            ArrayView2::from_shape((r, k), &a[r0 * k..(r0 + r) * k]).expect("a block is rows × k");
        let mut cv = ArrayViewMut2::from_shape((r, n), out).expect("c block is rows × n");
        general_mat_mul(1.0, &av, &bv, 0.0, &mut cv);
    });
    p
}

#[inline]
fn le_i32(b: &[u8]) -> i32 {
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// An integer-valued f32 with `|q| ≤ 2^22` to i32 in two vectorizable operations: adding
/// `1.5 · 2^23` puts `q` in the low mantissa bits (exactly, `q` being an integer).
#[inline]
fn small_int(q: f32) -> i32 {
    (q + 12_582_912.0).to_bits() as i32 - 0x4B40_0000
}

/// Largest `k` for which every `|P[i, j]| ≤ k · 2^14 ≤ 2^22` suits [`small_int`].
const SMALL_INT_K: usize = 256;

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
    let bf = dense_b(codec::to_f32(DType::I8, b), k, n, transpose);
    // Largest |b| per k: with Σ_k |a[i,k]|·max_b[k], a bound on every partial sum of row i.
    let max_b: Vec<u32> = (0..k)
        .map(|kk| {
            bf[kk * n..(kk + 1) * n]
                .iter()
                .fold(0f32, |m, &v| m.max(v.abs())) as u32
        })
        .collect();
    let p = (k <= EXACT_F32_K && k > 0).then(|| gemm_exact(&af, &bf, m, k, n));
    let mut out = vec![0u8; m * n * 4];
    let rows = block_rows(m, m * k * n);
    let block = |(blk, chunk): (usize, &mut [u8])| -> Result<(), FaultKind> {
        for (r, orow) in chunk.chunks_exact_mut(n * 4).enumerate() {
            let i = blk * rows + r;
            let arow = &a[i * k..(i + 1) * k];
            let accrow = acc0.map(|acc| &acc[i * n * 4..(i + 1) * n * 4]);
            let acc_max = accrow.map_or(0u32, |acc| {
                acc.chunks_exact(4)
                    .fold(0u32, |m, c| m.max(le_i32(c).unsigned_abs()))
            });
            // Each term is at most 2^14, so u32 holds the sum up to k = 2^17.
            let products: u64 = if k <= 1 << 17 {
                let s: u32 = arow
                    .iter()
                    .zip(&max_b)
                    .map(|(&x, &mb)| u32::from((x as i8).unsigned_abs()) * mb)
                    .sum();
                u64::from(s)
            } else {
                arow.iter()
                    .zip(&max_b)
                    .map(|(&x, &mb)| u64::from((x as i8).unsigned_abs()) * u64::from(mb))
                    .sum()
            };
            let safe = u64::from(acc_max) + products <= i32::MAX as u64;
            match &p {
                Some(p) if safe && k <= SMALL_INT_K => {
                    let prow = &p[i * n..(i + 1) * n];
                    match accrow {
                        Some(acc) => {
                            for ((o, c), &q) in
                                orow.chunks_exact_mut(4).zip(acc.chunks_exact(4)).zip(prow)
                            {
                                o.copy_from_slice(&(le_i32(c) + small_int(q)).to_le_bytes());
                            }
                        }
                        None => {
                            for (o, &q) in orow.chunks_exact_mut(4).zip(prow) {
                                o.copy_from_slice(&small_int(q).to_le_bytes());
                            }
                        }
                    }
                }
                Some(p) if safe => {
                    let prow = &p[i * n..(i + 1) * n];
                    for (j, (o, &q)) in orow.chunks_exact_mut(4).zip(prow).enumerate() {
                        let c = accrow.map_or(0, |acc| le_i32(&acc[j * 4..]));
                        o.copy_from_slice(&(c + q as i32).to_le_bytes());
                    }
                }
                _ => {
                    for (j, o) in orow.chunks_exact_mut(4).enumerate() {
                        let mut s = accrow.map_or(0i64, |acc| i64::from(le_i32(&acc[j * 4..])));
                        for kk in 0..k {
                            s += i64::from(arow[kk] as i8) * bf[kk * n + j] as i64;
                            if !safe && (s < i64::from(i32::MIN) || s > i64::from(i32::MAX)) {
                                return Err(FaultKind::AccumulatorOverflow {
                                    row: i as u64,
                                    col: j as u64,
                                    k: kk as u64,
                                    value: s,
                                });
                            }
                        }
                        o.copy_from_slice(&(s as i32).to_le_bytes());
                    }
                }
            }
        }
        Ok(())
    };
    let results: Vec<Result<(), FaultKind>> = out
        .par_chunks_mut(rows * n * 4)
        .enumerate()
        .map(block)
        .collect();
    results.into_iter().collect::<Result<(), _>>()?;
    Ok(out)
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
    let bf = dense_b(codec::to_f32(dtype, b), k, n, transpose);
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
    fn every_int8_path_agrees_with_exact_integers() {
        // k = 40 (small-int conversion), 300 (float-to-int cast), 1500 (integer loop).
        for (m, k, n, transpose) in [(7, 40, 9, false), (5, 300, 3, true), (3, 1500, 4, false)] {
            let mut state = 0x1234_5678u32 ^ k as u32;
            let mut next = || {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            };
            let a: Vec<u8> = (0..m * k).map(|_| next()).collect();
            let b: Vec<u8> = (0..k * n).map(|_| next()).collect();
            let acc: Vec<u8> = (0..m * n)
                .flat_map(|i| (i as i32 * 1_000_003 - 9_000_000).to_le_bytes())
                .collect();
            let out = matmul_i8(&a, &b, Some(&acc), m, k, n, transpose).unwrap();
            for i in 0..m {
                for j in 0..n {
                    let bij = |kk: usize| {
                        let at = if transpose { j * k + kk } else { kk * n + j };
                        i64::from(b[at] as i8)
                    };
                    let want = i64::from(le_i32(&acc[(i * n + j) * 4..]))
                        + (0..k)
                            .map(|kk| i64::from(a[i * k + kk] as i8) * bij(kk))
                            .sum::<i64>();
                    assert_eq!(i64::from(le_i32(&out[(i * n + j) * 4..])), want, "k = {k}");
                }
            }
        }
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
