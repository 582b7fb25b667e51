//! Exact int8 × int8 → int32 matrix products for `mxu.matmul.i8`.
//!
//! Why native integers: every product of two int8 values and every sum of them is an integer,
//! and integer addition modulo 2^32 is associative, so any blocking, any summation order and any
//! SIMD width give the same 32-bit result — the kernel is bit-exact by construction, with no
//! bound on `k` (the f32 GEMM it replaces was exact only up to 2^24). Whether the exact,
//! unwrapped sum fits in int32 is the caller's question (`kernels::matmul_i8` proves it with a
//! bound, or replays the row step by step and reports the overflow).
//!
//! Layout: the operands are widened to i16 and paired along `k`, so one 32-bit word holds
//! `(x[2p], x[2p + 1])` (low half first). `pmaddwd` multiplies two such words lane by lane and
//! adds the two 32-bit products — exact, since `|2 · 128 · 128| < 2^31` — which is 32
//! multiply-accumulates per AVX-512 instruction (fused with the accumulation into `vpdpwssd`
//! where the CPU has AVX-512 VNNI). `b` is packed once per instruction into column panels of
//! [`NR`] columns; `a` rows are paired on the fly. A portable kernel computes the same sums
//! where AVX-512 is missing (and in tests, against the SIMD one).
//!
//! SIMD without `unsafe`: `pulp` detects the CPU at run time and runs the kernel in a function
//! compiled for the detected features.

/// Columns per packed panel: four 16-lane vectors.
pub(crate) const NR: usize = 64;
/// Rows per microkernel call: 6 rows × 4 vectors = 24 accumulators, which with the 4 `b`
/// vectors and a broadcast fits the 32 AVX-512 registers.
const MR: usize = 6;

/// Two int8 values as one word of two i16 halves (`lo` in bits 0..16).
#[inline(always)]
fn pair(lo: u8, hi: u8) -> i32 {
    let lo = i32::from(lo as i8) & 0xFFFF;
    let hi = i32::from(hi as i8) << 16;
    lo | hi
}

/// `Σ` of the two i16-pair products of `x` and `y`, as `pmaddwd` computes it.
#[inline(always)]
fn madd(x: i32, y: i32) -> i32 {
    let (x0, x1) = (i32::from(x as i16), x >> 16);
    let (y0, y1) = (i32::from(y as i16), y >> 16);
    x0 * y0 + x1 * y1
}

/// The right-hand `k × n` operand, paired along `k` and cut into panels of [`NR`] columns:
/// word `(q, p, c)` at `(q · k2 + p) · NR + c` holds `b[2p, q·NR + c]` and `b[2p + 1, q·NR + c]`
/// (zero past `k` and past `n`).
#[derive(Debug)]
pub(crate) struct PackedB {
    /// `k` rounded up to pairs.
    pub k2: usize,
    pub n: usize,
    words: Vec<i32>,
}

impl PackedB {
    /// Packs `b`, stored `k × n` row-major, or `n × k` row-major when `transpose`. Inlined so
    /// that it vectorizes inside [`with_simd`].
    #[inline(always)]
    pub(crate) fn new(b: &[u8], k: usize, n: usize, transpose: bool) -> PackedB {
        let k2 = k.div_ceil(2);
        let panels = n.div_ceil(NR);
        let mut words = vec![0i32; panels * k2 * NR];
        if transpose {
            // Column j of the product is row j of `b`: its k values are contiguous.
            for j in 0..n {
                let col = &b[j * k..(j + 1) * k];
                let (q, c) = (j / NR, j % NR);
                let panel = &mut words[q * k2 * NR..(q + 1) * k2 * NR];
                let pairs = col.chunks_exact(2);
                let tail = pairs.remainder();
                let full = k / 2;
                for (p2, two) in pairs.enumerate() {
                    panel[p2 * NR + c] = pair(two[0], two[1]);
                }
                if let [last] = tail {
                    panel[full * NR + c] = pair(*last, 0);
                }
            }
        } else {
            let zeros = [0u8; NR];
            for q in 0..panels {
                let (j0, cols) = (q * NR, NR.min(n - q * NR));
                let panel = &mut words[q * k2 * NR..(q + 1) * k2 * NR];
                for (p2, row) in panel.chunks_exact_mut(NR).enumerate() {
                    let (p0, p1) = (2 * p2, 2 * p2 + 1);
                    let lo = &b[p0 * n + j0..p0 * n + j0 + cols];
                    let hi = if p1 < k {
                        &b[p1 * n + j0..p1 * n + j0 + cols]
                    } else {
                        &zeros[..cols]
                    };
                    for ((w, &l), &h) in row[..cols].iter_mut().zip(lo).zip(hi) {
                        *w = pair(l, h);
                    }
                }
            }
        }
        PackedB { k2, n, words }
    }

    fn panel(&self, q: usize) -> &[i32] {
        &self.words[q * self.k2 * NR..(q + 1) * self.k2 * NR]
    }

    fn panels(&self) -> usize {
        self.n.div_ceil(NR)
    }
}

/// Rows of `a` (`rows × k` int8, row-major, `lda` apart) as i16 pairs, `k2` words per row.
#[inline(always)]
pub(crate) fn pack_a(a: &[u8], rows: usize, k: usize, lda: usize, k2: usize) -> Vec<i32> {
    let mut out = vec![0i32; rows * k2];
    for (i, dst) in out.chunks_exact_mut(k2.max(1)).enumerate().take(rows) {
        let row = &a[i * lda..i * lda + k];
        let pairs = row.chunks_exact(2);
        let tail = pairs.remainder();
        for (w, two) in dst.iter_mut().zip(pairs) {
            *w = pair(two[0], two[1]);
        }
        if let [last] = tail {
            dst[k / 2] = pair(*last, 0);
        }
    }
    out
}

/// Runs `f` compiled for the best SIMD level this CPU has (AVX-512 with VNNI, AVX-512, or
/// the baseline): loops in `f`, and in the `#[inline(always)]` functions it calls, vectorize
/// for it. What `f` computes must not depend on the level (integer code, or float code whose
/// operation order is fixed).
#[inline(always)]
pub(crate) fn with_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(simd) = x86::V4Vnni::try_new() {
            return simd.vectorize(f);
        }
        if let Some(simd) = pulp::x86::V4::try_new() {
            return simd.vectorize(f);
        }
    }
    f()
}

/// `c[i, j] (+)= Σ_p a[i, p] · b[p, j]` in wrapping 32-bit arithmetic, for the `rows` rows of
/// the paired `a` (`b.k2` words per row). `c` holds one little-endian i32 row per row of `a`
/// (`b.n` values each, at the start of each slice; rows are separate slices so that the
/// accumulators of several matmuls interleaved in one SRAM can be updated at once); with
/// `accumulate` the sums are added to its values, else they replace them.
pub(crate) fn gemm(a: &[i32], rows: usize, b: &PackedB, c: &mut [&mut [u8]], accumulate: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        if let Some(simd) = x86::V4Vnni::try_new() {
            return simd
                .vectorize(|| x86::gemm(simd.avx512f, simd.avx512bw, a, rows, b, c, accumulate));
        }
        if let Some(simd) = pulp::x86::V4::try_new() {
            return simd
                .vectorize(|| x86::gemm(simd.avx512f, simd.avx512bw, a, rows, b, c, accumulate));
        }
    }
    gemm_portable(a, rows, b, c, accumulate);
}

/// [`gemm`] in plain integer code: the same sums, for CPUs without AVX-512.
pub(crate) fn gemm_portable(
    a: &[i32],
    rows: usize,
    b: &PackedB,
    c: &mut [&mut [u8]],
    accumulate: bool,
) {
    let (k2, n) = (b.k2, b.n);
    for i in 0..rows {
        let arow = &a[i * k2..(i + 1) * k2];
        for q in 0..b.panels() {
            let cols = NR.min(n - q * NR);
            let crow = &mut c[i][q * NR * 4..(q * NR + cols) * 4];
            let mut acc = [0i32; NR];
            if accumulate {
                for (s, v) in acc.iter_mut().zip(crow.chunks_exact(4)) {
                    *s = i32::from_le_bytes([v[0], v[1], v[2], v[3]]);
                }
            }
            for (&x, bw) in arow.iter().zip(b.panel(q).chunks_exact(NR)) {
                for (s, &y) in acc.iter_mut().zip(bw) {
                    *s = s.wrapping_add(madd(x, y));
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
    use core::arch::x86_64::__m512i;
    use pulp::core_arch::x86::{Avx512bw, Avx512f};

    use super::{MR, NR, PackedB};

    const NV: usize = NR / 16;

    pulp::simd_type! {
        /// AVX-512 with VNNI: the same code as `V4`, compiled where `pmaddwd` + add fuse into
        /// `vpdpwssd`.
        pub struct V4Vnni {
            pub sse: "sse",
            pub sse2: "sse2",
            pub fxsr: "fxsr",
            pub sse3: "sse3",
            pub ssse3: "ssse3",
            pub sse4_1: "sse4.1",
            pub sse4_2: "sse4.2",
            pub popcnt: "popcnt",
            pub avx: "avx",
            pub avx2: "avx2",
            pub bmi1: "bmi1",
            pub bmi2: "bmi2",
            pub fma: "fma",
            pub lzcnt: "lzcnt",
            pub avx512f: "avx512f",
            pub avx512bw: "avx512bw",
            pub avx512cd: "avx512cd",
            pub avx512dq: "avx512dq",
            pub avx512vl: "avx512vl",
            pub avx512vnni: "avx512vnni",
        }
    }

    /// `R` rows (`k2` words apart in `a`) against panel `q` for all of `k`, into bytes
    /// `c0 ..` (columns `q·NR ..`) of the `R` rows of `c`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn micro<const R: usize>(
        f: Avx512f,
        bw: Avx512bw,
        a: &[i32],
        k2: usize,
        panel: &[i32],
        c: &mut [&mut [u8]],
        c0: usize,
        cols: usize,
        accumulate: bool,
    ) {
        // A plain loop, not `array::from_fn` (see `vnni::x86::micro`).
        let mut rows: [&[i32]; R] = [&[]; R];
        for (i, row) in rows.iter_mut().enumerate() {
            *row = &a[i * k2..(i + 1) * k2];
        }
        let mut acc = [[f._mm512_setzero_si512(); NV]; R];
        if accumulate && cols == NR {
            for (i, acc_i) in acc.iter_mut().enumerate() {
                let row: [u8; NR * 4] = c[i][c0..c0 + NR * 4].try_into().expect("a row");
                *acc_i = pulp::cast(row);
            }
        } else if accumulate {
            for (i, acc_i) in acc.iter_mut().enumerate() {
                let row = &c[i][c0..c0 + cols * 4];
                for (v, acc_v) in acc_i.iter_mut().enumerate() {
                    let lo = (v * 64).min(row.len());
                    let hi = (v * 64 + 64).min(row.len());
                    let mut bytes = [0u8; 64];
                    bytes[..hi - lo].copy_from_slice(&row[lo..hi]);
                    *acc_v = pulp::cast(bytes);
                }
            }
        }
        for (p, bp) in panel.chunks_exact(NR).enumerate().take(k2) {
            let bp: [i32; NR] = bp.try_into().expect("a panel row");
            let b: [__m512i; NV] = pulp::cast(bp);
            for i in 0..R {
                let x = f._mm512_set1_epi32(rows[i][p]);
                for v in 0..NV {
                    acc[i][v] = f._mm512_add_epi32(acc[i][v], bw._mm512_madd_epi16(x, b[v]));
                }
            }
        }
        for (i, acc_i) in acc.iter().enumerate() {
            let bytes: [u8; NR * 4] = pulp::cast(*acc_i);
            if cols == NR {
                c[i][c0..c0 + NR * 4].copy_from_slice(&bytes);
            } else {
                c[i][c0..c0 + cols * 4].copy_from_slice(&bytes[..cols * 4]);
            }
        }
    }

    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn gemm(
        f: Avx512f,
        bw: Avx512bw,
        a: &[i32],
        rows: usize,
        b: &PackedB,
        c: &mut [&mut [u8]],
        accumulate: bool,
    ) {
        let (k2, n) = (b.k2, b.n);
        for q in 0..b.panels() {
            let panel = b.panel(q);
            let cols = NR.min(n - q * NR);
            let mut i = 0;
            while i < rows {
                let ai = &a[i * k2..];
                let r = (rows - i).min(MR);
                let ci = &mut c[i..i + r];
                let c0 = q * NR * 4;
                match r {
                    6 => micro::<6>(f, bw, ai, k2, panel, ci, c0, cols, accumulate),
                    5 => micro::<5>(f, bw, ai, k2, panel, ci, c0, cols, accumulate),
                    4 => micro::<4>(f, bw, ai, k2, panel, ci, c0, cols, accumulate),
                    3 => micro::<3>(f, bw, ai, k2, panel, ci, c0, cols, accumulate),
                    2 => micro::<2>(f, bw, ai, k2, panel, ci, c0, cols, accumulate),
                    _ => micro::<1>(f, bw, ai, k2, panel, ci, c0, cols, accumulate),
                }
                i += r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(a: &[u8], b: &[u8], m: usize, k: usize, n: usize, transpose: bool) -> Vec<i64> {
        let mut out = vec![0i64; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k)
                    .map(|p| {
                        let bv = if transpose {
                            b[j * k + p]
                        } else {
                            b[p * n + j]
                        };
                        i64::from(a[i * k + p] as i8) * i64::from(bv as i8)
                    })
                    .sum();
            }
        }
        out
    }

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

    /// The SIMD (where the CPU has it) and portable kernels' results, both written into rows
    /// with a gap (`ldc` > `4n`) over a start value `acc0`, accumulating.
    fn both(a: &[u8], b: &[u8], m: usize, k: usize, n: usize, transpose: bool) -> [Vec<i64>; 2] {
        let pb = PackedB::new(b, k, n, transpose);
        let pa = pack_a(a, m, k, k, pb.k2);
        let ldc = n * 4 + 12;
        let acc0 = |i: usize, j: usize| (i as i32 * 7919 - j as i32 * 104_729) ^ 0x55;
        let start: Vec<u8> = (0..m)
            .flat_map(|i| {
                let mut row: Vec<u8> = (0..n).flat_map(|j| acc0(i, j).to_le_bytes()).collect();
                row.extend([0xEEu8; 12]);
                row
            })
            .collect();
        type Kernel = fn(&[i32], usize, &PackedB, &mut [&mut [u8]], bool);
        let run = |kernel: Kernel| {
            let mut c = start.clone();
            kernel(
                &pa,
                m,
                &pb,
                &mut c.chunks_mut(ldc).collect::<Vec<_>>(),
                true,
            );
            // The gap between rows is untouched.
            for i in 0..m {
                assert!(c[i * ldc + n * 4..(i + 1) * ldc].iter().all(|&x| x == 0xEE));
            }
            let mut sums = Vec::new();
            for i in 0..m {
                for j in 0..n {
                    let at = i * ldc + j * 4;
                    let v = i32::from_le_bytes([c[at], c[at + 1], c[at + 2], c[at + 3]]);
                    sums.push(i64::from(v.wrapping_sub(acc0(i, j))));
                }
            }
            // Without accumulation the same sums replace the old values.
            let mut fresh = start.clone();
            kernel(
                &pa,
                m,
                &pb,
                &mut fresh.chunks_mut(ldc).collect::<Vec<_>>(),
                false,
            );
            for i in 0..m {
                for j in 0..n {
                    let at = i * ldc + j * 4;
                    let v = i32::from_le_bytes([
                        fresh[at],
                        fresh[at + 1],
                        fresh[at + 2],
                        fresh[at + 3],
                    ]);
                    assert_eq!(i64::from(v), sums[i * n + j]);
                }
            }
            sums
        };
        [run(gemm), run(gemm_portable)]
    }

    #[test]
    fn simd_and_portable_kernels_match_the_definition() {
        // Odd m, n and k (not multiples of the pair, the vector or the panel), both layouts.
        for (m, k, n, transpose) in [
            (1, 1, 1, false),
            (7, 3, 5, true),
            (13, 128, 128, false),
            (6, 127, 65, true),
            (11, 256, 64, false),
            (5, 33, 130, true),
        ] {
            let a = random(m * k, 0x9e37 ^ (m * 31 + k) as u32);
            let b = random(k * n, 0x7f4a ^ (n * 17 + k) as u32);
            let want = reference(&a, &b, m, k, n, transpose);
            for got in both(&a, &b, m, k, n, transpose) {
                assert_eq!(got, want, "m {m} k {k} n {n} transpose {transpose}");
            }
        }
    }

    #[test]
    fn extremes_are_exact() {
        // -128 · -128 summed 2048 times is 2^25: beyond the old f32 path's 2^24, and every
        // pair sum (2^15) is pmaddwd's largest.
        let (m, k, n) = (3, 2048, 70);
        let a = vec![0x80u8; m * k];
        let b = vec![0x80u8; k * n];
        for got in both(&a, &b, m, k, n, false) {
            assert!(got.iter().all(|&v| v == 2048 * 128 * 128));
        }
        // Mixed extremes: 127 · -128 and -128 · 127 alternate.
        let a: Vec<u8> = (0..m * k)
            .map(|i| if i % 2 == 0 { 127 } else { 0x80 })
            .collect();
        let want = reference(&a, &b, m, k, n, true);
        for got in both(&a, &b, m, k, n, true) {
            assert_eq!(got, want);
        }
    }
}
