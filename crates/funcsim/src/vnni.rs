//! `mxu.matmul.i8` on AVX-512 VNNI's `vpdpbusd`: 64 int8 multiply-accumulates per instruction,
//! twice the `vpdpwssd` of [`crate::igemm`].
//!
//! Why it is exact: `vpdpbusd` multiplies *unsigned* bytes by signed bytes, so the activations
//! are offset to `a + 128` (`a ^ 0x80`, in `0..=255`) and the product corrected by
//! `-128 · Σ_k b[k, j]` per column: `Σ a·b = Σ (a + 128)·b − 128 · Σ b`. Each lane adds four
//! products of at most `255 · 128` to its 32-bit accumulator without saturation, so every
//! step is an exact integer operation modulo 2^32 and the result equals the wrapping sum the
//! portable kernel computes, for any `k` (the caller decides overflow as for [`crate::igemm`]).
//!
//! Layout: four consecutive `k` values share a 32-bit word (lowest `k` in the low byte); `b` is
//! cut into panels of [`NR`] columns, word `(q, p, c)` at `(q · k4 + p) · NR + c`; padding past
//! `k` is 0 in `b` (so its products vanish whatever the padded `a` holds).
//!
//! `unsafe` policy (ARCHITECTURE.md): the only `unsafe` here is the call of the
//! `#[target_feature]` kernel after `is_x86_feature_detected!` said the CPU has its features;
//! the intrinsics it uses take no pointers (vectors are built from arrays with `pulp::cast`).
//! [`gemm_portable`] computes the same words in plain code, and the tests compare the two.
#![allow(unsafe_code)]

/// Columns per packed panel: four 16-lane vectors.
const NR: usize = 64;
/// Rows per microkernel call (24 accumulators, 4 `b` vectors and a broadcast in 32 registers).
const MR: usize = 6;

/// Whether this CPU can run the VNNI kernel.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The right-hand `k × n` operand in byte quads along `k`, cut into panels of [`NR`] columns,
/// with each column's correction `-128 · Σ_k b[k, j]`.
#[derive(Debug)]
pub(crate) struct QuadB {
    /// `k` rounded up to quads, in quads.
    pub k4: usize,
    pub n: usize,
    words: Vec<i32>,
    /// Per column, padded to whole panels (0 past `n`).
    corr: Vec<i32>,
}

impl QuadB {
    /// Packs `b`, stored `k × n` row-major, or `n × k` row-major when `transpose`. Inlined so
    /// that it vectorizes inside [`crate::igemm::with_simd`].
    #[inline(always)]
    pub(crate) fn new(b: &[u8], k: usize, n: usize, transpose: bool) -> QuadB {
        let k4 = k.div_ceil(4);
        let panels = n.div_ceil(NR);
        let mut words = vec![0i32; panels * k4 * NR];
        let mut sums = vec![0i32; panels * NR];
        if transpose {
            // Column j of the product is row j of `b`: its k values are contiguous.
            for j in 0..n {
                let col = &b[j * k..(j + 1) * k];
                sums[j] = col.iter().map(|&x| i32::from(x as i8)).sum();
                let (q, c) = (j / NR, j % NR);
                let panel = &mut words[q * k4 * NR..(q + 1) * k4 * NR];
                let quads = col.chunks_exact(4);
                let tail = quads.remainder();
                for (p4, q) in quads.enumerate() {
                    panel[p4 * NR + c] = i32::from_le_bytes([q[0], q[1], q[2], q[3]]);
                }
                if !tail.is_empty() {
                    let mut w = [0u8; 4];
                    w[..tail.len()].copy_from_slice(tail);
                    panel[(k / 4) * NR + c] = i32::from_le_bytes(w);
                }
            }
        } else {
            for p in 0..k {
                let row = &b[p * n..(p + 1) * n];
                for (s, &x) in sums.iter_mut().zip(row) {
                    *s += i32::from(x as i8);
                }
            }
            for q in 0..panels {
                let (j0, cols) = (q * NR, NR.min(n - q * NR));
                let panel = &mut words[q * k4 * NR..(q + 1) * k4 * NR];
                for (p4, row) in panel.chunks_exact_mut(NR).enumerate() {
                    for t in 0..4 {
                        let p = 4 * p4 + t;
                        if p >= k {
                            break;
                        }
                        let src = &b[p * n + j0..p * n + j0 + cols];
                        for (w, &x) in row[..cols].iter_mut().zip(src) {
                            *w |= i32::from(x) << (8 * t);
                        }
                    }
                }
            }
        }
        let corr = sums.iter().map(|&s| s.wrapping_mul(-128)).collect();
        QuadB { k4, n, words, corr }
    }

    fn panel(&self, q: usize) -> &[i32] {
        &self.words[q * self.k4 * NR..(q + 1) * self.k4 * NR]
    }

    fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }
}

/// Rows of `a` (`rows × k` int8, row-major, `lda` apart) offset by 128 to unsigned bytes, in
/// quads: `k4` words per row (padding bytes are 0x80, i.e. `a = 0`).
#[inline(always)]
pub(crate) fn pack_a(a: &[u8], rows: usize, k: usize, lda: usize, k4: usize) -> Vec<i32> {
    let mut out = vec![0i32; rows * k4];
    for (i, dst) in out.chunks_exact_mut(k4.max(1)).enumerate().take(rows) {
        let row = &a[i * lda..i * lda + k];
        // Whole quads in a loop that vectorizes; a short tail (k not a multiple of 4) apart.
        let quads = row.chunks_exact(4);
        let tail = quads.remainder();
        for (w, q) in dst.iter_mut().zip(quads) {
            *w = (u32::from_le_bytes([q[0], q[1], q[2], q[3]]) ^ 0x8080_8080) as i32;
        }
        if !tail.is_empty() {
            let mut q = [0u8; 4];
            q[..tail.len()].copy_from_slice(tail);
            dst[k / 4] = (u32::from_le_bytes(q) ^ 0x8080_8080) as i32;
        }
    }
    out
}

/// `c[i, j] (+)= Σ_p a[i, p] · b[p, j]` in wrapping 32-bit arithmetic, for the `rows` rows of
/// the offset `a` (`b.k4` words per row). `c` holds one little-endian i32 row per row of `a`
/// (`b.n` values at the start of each slice, as [`crate::igemm::gemm`]); with `accumulate` the
/// sums are added to its values, else they replace them. Uses `vpdpbusd` where [`available`],
/// else [`gemm_portable`].
pub(crate) fn gemm(a: &[i32], rows: usize, b: &QuadB, c: &mut [&mut [u8]], accumulate: bool) {
    #[cfg(target_arch = "x86_64")]
    if available() {
        // SAFETY: `available()` just checked that this CPU has every feature `x86::gemm` is
        // compiled for (avx512f, avx512bw, avx512vnni); it takes no pointers.
        unsafe { x86::gemm(a, rows, b, c, accumulate) };
        return;
    }
    gemm_portable(a, rows, b, c, accumulate);
}

/// [`gemm`] in plain integer code: the same words.
pub(crate) fn gemm_portable(
    a: &[i32],
    rows: usize,
    b: &QuadB,
    c: &mut [&mut [u8]],
    accumulate: bool,
) {
    let (k4, n) = (b.k4, b.n);
    for i in 0..rows {
        let arow = &a[i * k4..(i + 1) * k4];
        for q in 0..b.panels() {
            let cols = NR.min(n - q * NR);
            let crow = &mut c[i][q * NR * 4..(q * NR + cols) * 4];
            let mut acc: [i32; NR] = b.corr[q * NR..(q + 1) * NR].try_into().expect("a panel");
            if accumulate {
                for (s, v) in acc.iter_mut().zip(crow.chunks_exact(4)) {
                    *s = s.wrapping_add(i32::from_le_bytes([v[0], v[1], v[2], v[3]]));
                }
            }
            for (&x, bw) in arow.iter().zip(b.panel(q).chunks_exact(NR)) {
                let xs = (x as u32).to_le_bytes();
                for (s, &y) in acc.iter_mut().zip(bw) {
                    let ys = y.to_le_bytes();
                    let dot: i32 = (0..4)
                        .map(|t| i32::from(xs[t]) * i32::from(ys[t] as i8))
                        .sum();
                    *s = s.wrapping_add(dot);
                }
            }
            for (v, s) in crow.chunks_exact_mut(4).zip(acc) {
                v.copy_from_slice(&s.to_le_bytes());
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{__m512i, _mm512_add_epi32, _mm512_dpbusd_epi32, _mm512_set1_epi32};

    use super::{MR, NR, QuadB};

    const NV: usize = NR / 16;

    /// `R` rows (`k4` words apart in `a`) against panel `q` for all of `k`, into bytes
    /// `c0 ..` (columns `q·NR ..`) of the `R` rows of `c`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn micro<const R: usize>(
        a: &[i32],
        k4: usize,
        panel: &[i32],
        corr: &[i32],
        c: &mut [&mut [u8]],
        c0: usize,
        cols: usize,
        accumulate: bool,
    ) {
        // A plain loop, not `array::from_fn`: its closure was not inlined here, and the
        // call per micro-kernel (with a store-forwarding stall on the result) cost ~5 % of
        // the int8 matmul time.
        let mut rows: [&[i32]; R] = [&[]; R];
        for (i, row) in rows.iter_mut().enumerate() {
            *row = &a[i * k4..(i + 1) * k4];
        }
        let corr: [i32; NR] = corr.try_into().expect("a panel's corrections");
        let corr: [__m512i; NV] = pulp::cast(corr);
        let mut acc = [corr; R];
        if accumulate {
            for (i, acc_i) in acc.iter_mut().enumerate() {
                let row = &c[i][c0..c0 + cols * 4];
                let mut bytes = [0u8; NR * 4];
                bytes[..cols * 4].copy_from_slice(row);
                let old: [__m512i; NV] = pulp::cast(bytes);
                for (v, o) in acc_i.iter_mut().zip(old) {
                    *v = _mm512_add_epi32(*v, o);
                }
            }
        }
        for (p, bp) in panel.chunks_exact(NR).enumerate().take(k4) {
            let bp: [i32; NR] = bp.try_into().expect("a panel row");
            let b: [__m512i; NV] = pulp::cast(bp);
            for i in 0..R {
                let x = _mm512_set1_epi32(rows[i][p]);
                for v in 0..NV {
                    acc[i][v] = _mm512_dpbusd_epi32(acc[i][v], x, b[v]);
                }
            }
        }
        for (i, acc_i) in acc.iter().enumerate() {
            let bytes: [u8; NR * 4] = pulp::cast(*acc_i);
            c[i][c0..c0 + cols * 4].copy_from_slice(&bytes[..cols * 4]);
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) fn gemm(a: &[i32], rows: usize, b: &QuadB, c: &mut [&mut [u8]], accumulate: bool) {
        let (k4, n) = (b.k4, b.n);
        for q in 0..b.panels() {
            let panel = b.panel(q);
            let corr = &b.corr[q * NR..(q + 1) * NR];
            let cols = NR.min(n - q * NR);
            let mut i = 0;
            while i < rows {
                let ai = &a[i * k4..];
                let r = (rows - i).min(MR);
                let ci = &mut c[i..i + r];
                let c0 = q * NR * 4;
                match r {
                    6 => micro::<6>(ai, k4, panel, corr, ci, c0, cols, accumulate),
                    5 => micro::<5>(ai, k4, panel, corr, ci, c0, cols, accumulate),
                    4 => micro::<4>(ai, k4, panel, corr, ci, c0, cols, accumulate),
                    3 => micro::<3>(ai, k4, panel, corr, ci, c0, cols, accumulate),
                    2 => micro::<2>(ai, k4, panel, corr, ci, c0, cols, accumulate),
                    _ => micro::<1>(ai, k4, panel, corr, ci, c0, cols, accumulate),
                }
                i += r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Kernel = fn(&[i32], usize, &QuadB, &mut [&mut [u8]], bool);

    fn random(len: usize, seed: u32) -> Vec<u8> {
        let mut s = seed | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s as u8
            })
            .collect()
    }

    #[test]
    fn vnni_and_portable_kernels_match_the_definition() {
        for (m, k, n, transpose) in [
            (1, 1, 1, false),
            (7, 3, 5, true),
            (13, 128, 128, false),
            (6, 127, 65, true),
            (11, 258, 64, false),
            (5, 33, 130, true),
            (3, 2048, 70, false),
        ] {
            let mut a = random(m * k, 0x9e37 ^ (m * 31 + k) as u32);
            let mut b = random(k * n, 0x7f4a ^ (n * 17 + k) as u32);
            if k == 2048 {
                // Extremes: -128 · -128 throughout.
                a.fill(0x80);
                b.fill(0x80);
            }
            let ldc = n * 4 + 12;
            let acc0 = |i: usize, j: usize| (i as i32 * 7919 - j as i32 * 104_729) ^ 0x55;
            let mut start = vec![0xEEu8; m * ldc];
            for i in 0..m {
                for j in 0..n {
                    start[i * ldc + j * 4..i * ldc + j * 4 + 4]
                        .copy_from_slice(&acc0(i, j).to_le_bytes());
                }
            }
            let pb = QuadB::new(&b, k, n, transpose);
            let pa = pack_a(&a, m, k, k, pb.k4);
            let kernels: [Kernel; 2] = [gemm, gemm_portable];
            for kernel in kernels {
                for accumulate in [true, false] {
                    let mut c = start.clone();
                    let mut rows: Vec<&mut [u8]> = c.chunks_mut(ldc).collect();
                    kernel(&pa, m, &pb, &mut rows, accumulate);
                    for i in 0..m {
                        assert!(c[i * ldc + n * 4..(i + 1) * ldc].iter().all(|&x| x == 0xEE));
                        for j in 0..n {
                            let want: i64 = (0..k)
                                .map(|p| {
                                    let bv = if transpose {
                                        b[j * k + p]
                                    } else {
                                        b[p * n + j]
                                    };
                                    i64::from(a[i * k + p] as i8) * i64::from(bv as i8)
                                })
                                .sum();
                            let want = if accumulate {
                                (want as i32).wrapping_add(acc0(i, j))
                            } else {
                                want as i32
                            };
                            let at = i * ldc + j * 4;
                            let got = i32::from_le_bytes(c[at..at + 4].try_into().unwrap());
                            assert_eq!(got, want, "m {m} k {k} n {n} {transpose} {accumulate}");
                        }
                    }
                }
            }
        }
    }
}
