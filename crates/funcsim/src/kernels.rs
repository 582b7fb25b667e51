//! Matrix-unit arithmetic on dense row-major buffers.
//!
//! * int8: products and their sums are integers, computed exactly by the native integer kernel
//!   in [`crate::igemm`] (wrapping 32-bit sums, which equal the exact sums whenever those fit).
//!   Overflow is decided per partial sum in increasing `k` (docs/isa.md): when a cheap bound
//!   proves no partial sum of a row can leave int32, the row takes the kernel's result;
//!   otherwise it is accumulated step by step and the first overflow (row-major, then column,
//!   then `k`) is reported.
//! * floats: each accumulator gets one f32 product and one f32 addition per `k`, in increasing
//!   `k`. The loop runs `k` outermost per row and vectorizes across `n`, which keeps every
//!   accumulator's order.

use std::borrow::Cow;

use rayon::prelude::*;
use seedchip_isa::DType;

use crate::codec;
use crate::fault::FaultKind;
use crate::igemm::{self, PackedB};
use crate::vnni::{self, QuadB};

/// Rows per parallel GEMM block, at least.
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

/// Rows per parallel block: one block per thread, but not so few rows that packing and task
/// overhead dominate.
fn block_rows(m: usize, work: usize) -> usize {
    if work < PAR_MIN_MACS {
        return m.max(1);
    }
    m.div_ceil(rayon::current_num_threads().max(1))
        .max(BLOCK_ROWS)
}

#[inline]
fn le_i32(b: &[u8]) -> i32 {
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The weight operand packed for the best kernel this CPU has.
#[derive(Debug)]
enum Weights {
    /// `vpdpbusd` quads ([`vnni`]), where the CPU has AVX-512 VNNI.
    Quads(QuadB),
    /// i16 pairs ([`igemm`]) elsewhere.
    Pairs(PackedB),
}

impl Weights {
    /// Packs `b` (`k × n`, or `n × k` when `transpose`); inlined so that it vectorizes inside
    /// [`igemm::with_simd`].
    #[inline(always)]
    fn new(b: &[u8], k: usize, n: usize, transpose: bool) -> Weights {
        if vnni::available() {
            Weights::Quads(QuadB::new(b, k, n, transpose))
        } else {
            Weights::Pairs(PackedB::new(b, k, n, transpose))
        }
    }

    /// `rows` rows of `a` (`k` apart) in this kernel's layout.
    #[inline(always)]
    fn pack_a(&self, a: &[u8], rows: usize, k: usize) -> Vec<i32> {
        match self {
            Weights::Quads(b) => vnni::pack_a(a, rows, k, k, b.k4),
            Weights::Pairs(b) => igemm::pack_a(a, rows, k, k, b.k2),
        }
    }

    /// `c (+)= a · b` for `rows` packed rows of `a` (see [`igemm::gemm`]).
    fn gemm(&self, a: &[i32], rows: usize, c: &mut [&mut [u8]], accumulate: bool) {
        match self {
            Weights::Quads(b) => vnni::gemm(a, rows, b, c, accumulate),
            Weights::Pairs(b) => igemm::gemm(a, rows, b, c, accumulate),
        }
    }
}

/// The largest `|x · y|` of two int8 values, `(-128) · (-128)`.
const MAX_PRODUCT: u64 = 1 << 14;

/// An `mxu.matmul.i8` with its operands captured and its overflow question settled: running
/// it cannot fault. The operands are copied as stored when the instruction executes and packed
/// for the kernel only when it runs ([`MatmulI8::pack`]): deferred kernels pack in the parallel
/// flush (crate::defer), off the thread that steps the program.
#[derive(Debug)]
pub(crate) struct MatmulI8 {
    /// `m × k`, row-major.
    a: Vec<u8>,
    /// `k × n` row-major, or `n × k` when `transpose`.
    b: Vec<u8>,
    transpose: bool,
    /// Rows per block of the kernel (and per parallel task).
    rows: usize,
    m: usize,
    k: usize,
    n: usize,
    /// Per row, a bound on `|c|` after this matmul (every partial sum is within it too).
    bound: Vec<u64>,
}

/// A [`MatmulI8`] with its operands in the kernel's layout.
#[derive(Debug)]
pub(crate) struct PackedI8 {
    pb: Weights,
    /// `a` in the kernel's layout, one vector per block of `rows` rows.
    pa: Vec<Vec<i32>>,
    rows: usize,
    m: usize,
}

/// `Σ_p |x[p]| · max_j |b[p, j]|`: bounds how far one row's products can move a sum.
#[inline(always)]
fn products_bound(arow: &[u8], max_abs: &[u32]) -> u64 {
    // Each term is at most 2^14: u32 sums of 2^16 terms cannot wrap.
    arow.chunks(1 << 16)
        .zip(max_abs.chunks(1 << 16))
        .map(|(xs, mbs)| {
            let s: u32 = xs
                .iter()
                .zip(mbs)
                .map(|(&x, &mb)| u32::from((x as i8).unsigned_abs()) * mb)
                .sum();
            u64::from(s)
        })
        .sum()
}

/// Largest `|b[p, j]|` over `j`, per `p`, of `b` stored `k × n` (or `n × k` when `transpose`).
fn b_max_abs(b: &[u8], k: usize, n: usize, transpose: bool) -> Vec<u32> {
    let abs = |x: u8| u32::from((x as i8).unsigned_abs());
    let mut max_abs = vec![0u32; k];
    if transpose {
        for col in b.chunks_exact(k.max(1)).take(n) {
            for (m, &x) in max_abs.iter_mut().zip(col) {
                *m = (*m).max(abs(x));
            }
        }
    } else {
        for (p, m) in max_abs.iter_mut().enumerate() {
            *m = b[p * n..(p + 1) * n]
                .iter()
                .fold(0, |acc, &x| acc.max(abs(x)));
        }
    }
    max_abs
}

impl MatmulI8 {
    /// Captures `a` (`m × k`) and `b` (`k × n`, or `n × k` when `transpose`), both row-major,
    /// and decides overflow against the previous accumulator `acc0` (little-endian i32 rows,
    /// `ld` bytes apart) before anything is written.
    ///
    /// A row's partial sums stay within `max |acc0 row| + k · 2^14` (no product exceeds
    /// `2^14`); only rows where that can pass `i32::MAX` (k ≥ 2^17, or a large `acc0`) look at
    /// the data: first a tighter bound from `|a|` and each `b` row's largest `|b|`, then, if
    /// even that fails, a step-by-step replay.
    ///
    /// # Errors
    /// The first [`FaultKind::AccumulatorOverflow`] in row, column, then `k` order.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        a: Cow<'_, [u8]>,
        b: Cow<'_, [u8]>,
        acc0: Option<(&[u8], usize)>,
        m: usize,
        k: usize,
        n: usize,
        transpose: bool,
    ) -> Result<MatmulI8, FaultKind> {
        let step = k as u64 * MAX_PRODUCT;
        let mut max_abs: Option<Vec<u32>> = None;
        let mut bound = Vec::with_capacity(m);
        for i in 0..m {
            let accrow = acc0.map(|(acc, ld)| &acc[i * ld..i * ld + n * 4]);
            let acc_max = u64::from(accrow.map_or(0u32, |acc| {
                acc.chunks_exact(4)
                    .fold(0u32, |m, c| m.max(le_i32(c).unsigned_abs()))
            }));
            let mut bd = acc_max + step;
            if bd > i32::MAX as u64 {
                let arow = &a[i * k..(i + 1) * k];
                let ma = max_abs.get_or_insert_with(|| b_max_abs(&b, k, n, transpose));
                bd = acc_max + products_bound(arow, ma);
                if bd > i32::MAX as u64 {
                    // The bounds cannot clear the row: replay it step by step. Without an
                    // overflow the exact sums fit in int32, so the kernel's wrapping sums
                    // equal them.
                    for j in 0..n {
                        let mut s = accrow.map_or(0i64, |acc| i64::from(le_i32(&acc[j * 4..])));
                        for (kk, &x) in arow.iter().enumerate() {
                            let at = if transpose { j * k + kk } else { kk * n + j };
                            s += i64::from(x as i8) * i64::from(b[at] as i8);
                            if s < i64::from(i32::MIN) || s > i64::from(i32::MAX) {
                                return Err(FaultKind::AccumulatorOverflow {
                                    row: i as u64,
                                    col: j as u64,
                                    k: kk as u64,
                                    value: s,
                                });
                            }
                        }
                    }
                }
            }
            bound.push(bd);
        }
        Ok(MatmulI8 {
            a: a.into_owned(),
            b: b.into_owned(),
            transpose,
            rows: block_rows(m, m * k * n),
            m,
            k,
            n,
            bound,
        })
    }

    /// A matmul accumulating onto `prev`'s result (not computed yet), when the row bounds
    /// prove that no partial sum can leave int32 — then it cannot fault, whatever `prev`
    /// computes. `None` when the bound cannot decide (the caller runs `prev` first and asks
    /// [`MatmulI8::new`]) or the row blocks differ from `prev`'s.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn after(
        prev: &MatmulI8,
        a: Cow<'_, [u8]>,
        b: Cow<'_, [u8]>,
        m: usize,
        k: usize,
        n: usize,
        transpose: bool,
    ) -> Option<MatmulI8> {
        let rows = block_rows(m, m * k * n);
        if m != prev.m || n != prev.n || rows != prev.rows {
            return None;
        }
        let step = k as u64 * MAX_PRODUCT;
        let mut max_abs: Option<Vec<u32>> = None;
        let mut bound = Vec::with_capacity(m);
        for (i, &before) in prev.bound.iter().enumerate() {
            let mut bd = before + step;
            if bd > i32::MAX as u64 {
                let ma = max_abs.get_or_insert_with(|| b_max_abs(&b, k, n, transpose));
                bd = before + products_bound(&a[i * k..(i + 1) * k], ma);
                if bd > i32::MAX as u64 {
                    return None;
                }
            }
            bound.push(bd);
        }
        Some(MatmulI8 {
            a: a.into_owned(),
            b: b.into_owned(),
            transpose,
            rows,
            m,
            k,
            n,
            bound,
        })
    }

    /// The operands in the kernel's layout.
    pub(crate) fn pack(&self) -> PackedI8 {
        let (m, k, rows) = (self.m, self.k, self.rows);
        igemm::with_simd(
            #[inline(always)]
            || {
                let pb = Weights::new(&self.b, k, self.n, self.transpose);
                let pa = (0..m.div_ceil(rows))
                    .map(|blk| {
                        let (r0, r) = (blk * rows, rows.min(m - blk * rows));
                        pb.pack_a(&self.a[r0 * k..(r0 + r) * k], r, k)
                    })
                    .collect();
                PackedI8 { pb, pa, rows, m }
            },
        )
    }

    /// Packs and writes the accumulator into `c` (see [`PackedI8::run`]).
    pub(crate) fn run(&self, c: &mut [u8], ldc: usize, accumulate: bool) {
        self.pack().run(c, ldc, accumulate);
    }

    /// Rows of the accumulator.
    pub(crate) fn m(&self) -> usize {
        self.m
    }

    /// Columns of the accumulator.
    pub(crate) fn n(&self) -> usize {
        self.n
    }
}

impl PackedI8 {
    /// Writes the accumulator into `c` (little-endian i32 rows, `ldc ≥ 4n` bytes apart),
    /// adding to its values when `accumulate`. Rows are split across threads.
    pub(crate) fn run(&self, c: &mut [u8], ldc: usize, accumulate: bool) {
        let (m, rows) = (self.m, self.rows);
        let block = |(blk, chunk): (usize, &mut [u8])| {
            let mut rows: Vec<&mut [u8]> = chunk.chunks_mut(ldc).collect();
            self.run_block(blk, &mut rows, accumulate);
        };
        if rows >= m {
            block((0, c));
        } else {
            c.par_chunks_mut(rows * ldc).enumerate().for_each(block);
        }
    }

    /// Rows per block of [`PackedI8::run_block`].
    pub(crate) fn block_rows(&self) -> usize {
        self.rows
    }

    /// Block `blk` (rows `blk · block_rows() ..`): `c` holds its accumulator rows, one slice
    /// each (at least `4n` bytes).
    pub(crate) fn run_block(&self, blk: usize, c: &mut [&mut [u8]], accumulate: bool) {
        let r = self.rows.min(self.m - blk * self.rows);
        debug_assert!(c.len() >= r);
        self.pb.gemm(&self.pa[blk], r, &mut c[..r], accumulate);
    }
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

    fn mm(
        a: &[u8],
        b: &[u8],
        acc0: Option<&[u8]>,
        m: usize,
        k: usize,
        n: usize,
        transpose: bool,
    ) -> Result<Vec<u8>, FaultKind> {
        let mm = MatmulI8::new(
            Cow::Borrowed(a),
            Cow::Borrowed(b),
            acc0.map(|c| (c, n * 4)),
            m,
            k,
            n,
            transpose,
        )?;
        let mut out = acc0.map_or_else(|| vec![0u8; m * n * 4], <[u8]>::to_vec);
        mm.run(&mut out, n * 4, acc0.is_some());
        Ok(out)
    }

    #[test]
    fn int8_gemm_is_exact_at_the_extremes() {
        let (m, k, n) = (3, 1024, 5);
        let a = vec![0x80u8; m * k]; // -128
        let b = vec![0x80u8; k * n];
        let out = mm(&a, &b, None, m, k, n, false).unwrap();
        let v = i32::from_le_bytes([out[0], out[1], out[2], out[3]]);
        assert_eq!(v, 1024 * 128 * 128);
    }

    #[test]
    fn every_int8_path_agrees_with_exact_integers() {
        // Even and odd k, both layouts, k beyond the SIMD widths; m > 64 splits into blocks.
        for (m, k, n, transpose) in [
            (7, 40, 9, false),
            (5, 301, 3, true),
            (3, 1500, 4, false),
            (150, 128, 128, true),
        ] {
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
                .flat_map(|i| ((i % 2000) as i32 * 1_000_003 - 9_000_000).to_le_bytes())
                .collect();
            let out = mm(&a, &b, Some(&acc), m, k, n, transpose).unwrap();
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
        let err = mm(&a, &b, Some(&start), m, k, n, false).unwrap_err();
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
        let err = mm(&a, &b, Some(&start), m, k, n, false).unwrap_err();
        assert!(matches!(err, FaultKind::AccumulatorOverflow { k: 1, .. }));
    }

    #[test]
    fn rows_the_bound_cannot_clear_still_get_exact_sums() {
        // Accumulators near the int32 edge fail the bound test, but the products here are
        // small or cancel, so no partial sum overflows: the step-by-step path must give the
        // same bytes as exact arithmetic, next to rows that take the kernel's result.
        let (m, k, n) = (4, 6, 3);
        let a: Vec<u8> = [1i8, -1, 2, -2, 3, -3]
            .iter()
            .cycle()
            .take(m * k)
            .map(|&v| v as u8)
            .collect();
        let b: Vec<u8> = (0..k * n).map(|i| (i as i8 - 9) as u8).collect();
        let acc: Vec<i32> = (0..m * n)
            .map(|i| {
                if i / n % 2 == 0 {
                    i32::MAX - 200
                } else {
                    17 * i as i32
                }
            })
            .collect();
        let acc_bytes: Vec<u8> = acc.iter().flat_map(|v| v.to_le_bytes()).collect();
        let out = mm(&a, &b, Some(&acc_bytes), m, k, n, false).unwrap();
        for i in 0..m {
            for j in 0..n {
                let want = i64::from(acc[i * n + j])
                    + (0..k)
                        .map(|kk| i64::from(a[i * k + kk] as i8) * i64::from(b[kk * n + j] as i8))
                        .sum::<i64>();
                assert_eq!(i64::from(le_i32(&out[(i * n + j) * 4..])), want);
            }
        }
    }
}
