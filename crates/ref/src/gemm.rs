//! f32 matrix multiplication: `c = act(a · b + bias)` with `b` packed once into column panels.
//!
//! Why our own kernel instead of a BLAS: every GEMM in a recommendation model multiplies
//! activations by a *constant* weight, so the weight is packed into the microkernel's layout
//! once when the executor is built ([`PackedB`]) instead of on every call and every tile;
//! bias and activation are applied while the result is still in registers; and the summation
//! order is ours to fix.
//!
//! Determinism: output element `c[i, j]` is always `act(Σ_p a[i, p]·b[p, j] + bias[j])` with the
//! sum taken in increasing `p` from 0 by one fused multiply-add per term (a multiply and an add
//! where the CPU has no FMA). How rows and columns are cut into tiles, how many threads run
//! them and how large the batch is never change that sequence, so results are bit-identical for
//! any thread count *and* any batch composition (a sample gives the same bits alone or in a
//! batch of 4096). They may differ between CPUs with and without FMA.
//!
//! SIMD without `unsafe` in this crate: `pulp` detects the CPU at run time and runs the generic
//! kernel compiled for AVX-512, AVX2+FMA, or plain SSE2/scalar code.

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;
use seedchip_ir::Activation;

use crate::kernels::activation;

/// Depth of one pass over a panel: a `KC × NR` block of packed `b` (32 KiB with AVX-512) stays
/// in L1 while every row group of the tile streams past it.
const KC: usize = 256;
/// Rows per parallel task when the batch is large: a `TM × KC` block of `a` stays in L2.
const TM: usize = 128;

struct Lanes;
impl WithSimd for Lanes {
    type Output = usize;
    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> usize {
        S::F32_LANES
    }
}

/// Columns per packed panel: two of the widest f32 vectors this CPU has (32 with AVX-512, 16
/// with AVX2, ...). Fixed for the life of the process.
pub fn panel_width() -> usize {
    2 * Arch::new().dispatch(Lanes)
}

/// A `k × n` right-hand operand in column panels of [`panel_width`] columns: panel `q` holds
/// rows `0..k` of columns `q·nr .. q·nr + nr`, each row's `nr` values contiguous, the last
/// panel padded with zeros.
#[derive(Debug, Clone)]
pub struct PackedB {
    k: usize,
    n: usize,
    nr: usize,
    data: Vec<f32>,
}

impl PackedB {
    fn packed_with(k: usize, n: usize, get: impl Fn(usize, usize) -> f32) -> Self {
        let nr = panel_width();
        let panels = n.div_ceil(nr);
        let mut data = vec![0.0f32; panels * k * nr];
        for (q, panel) in data.chunks_mut((k * nr).max(1)).enumerate().take(panels) {
            let cols = nr.min(n - q * nr);
            for (p, row) in panel.chunks_mut(nr).enumerate().take(k) {
                for (c, v) in row[..cols].iter_mut().enumerate() {
                    *v = get(p, q * nr + c);
                }
            }
        }
        PackedB { k, n, nr, data }
    }

    /// `b[p, j] = w[j·ldw + p]`: the transpose of a row-major `n × k` weight (a `linear`'s
    /// `[out, in]`), the layout almost every GEMM here uses.
    pub fn transposed(w: &[f32], ldw: usize, n: usize, k: usize) -> Self {
        Self::packed_with(k, n, |p, j| w[j * ldw + p])
    }

    /// `b[p, j] = src[p·ldb + j]`: a row-major `k × n` matrix.
    pub fn row_major(src: &[f32], ldb: usize, k: usize, n: usize) -> Self {
        Self::packed_with(k, n, |p, j| src[p * ldb + j])
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// Bytes of the packed copy.
    pub fn bytes(&self) -> u64 {
        self.data.len() as u64 * 4
    }
}

/// The per-element epilogue: bias, then activation. Scalar on purpose (the same function as
/// every other executor path), and cheap next to the `k` multiply-adds before it.
#[inline(always)]
fn finish(c: &mut [f32], bias: Option<&[f32]>, act: Activation) {
    if let Some(b) = bias {
        c.iter_mut().zip(b).for_each(|(v, &b)| *v += b);
    }
    if act != Activation::None {
        c.iter_mut().for_each(|v| *v = activation(act, *v));
    }
}

/// `MR` rows × `NV` vectors of one panel over `kc` steps of `p`. `a` starts at the first row's
/// element `p0`; rows are `lda` apart. `acc` holds the running sums.
#[inline(always)]
fn micro<S: Simd, const MR: usize, const NV: usize>(
    simd: S,
    a: &[f32],
    lda: usize,
    kc: usize,
    bp: &[S::f32s],
    acc: &mut [[S::f32s; NV]; MR],
) {
    let rows: [&[f32]; MR] = core::array::from_fn(|i| &a[i * lda..i * lda + kc]);
    let bp = &bp[..kc * NV];
    for p in 0..kc {
        let b: [S::f32s; NV] = core::array::from_fn(|v| bp[p * NV + v]);
        for i in 0..MR {
            let x = simd.splat_f32s(rows[i][p]);
            for v in 0..NV {
                acc[i][v] = simd.mul_add_e_f32s(x, b[v], acc[i][v]);
            }
        }
    }
}

/// One `MR`-row group against one panel for all of `k`, then the epilogue into `c`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rows_x_panel<S: Simd, const MR: usize, const NV: usize>(
    simd: S,
    a: &[f32],
    lda: usize,
    b: &PackedB,
    q: usize,
    p0: usize,
    kc: usize,
    c: &mut [f32],
    ldc: usize,
    col0: usize,
    bias: Option<&[f32]>,
    act: Activation,
) {
    let (k, nr) = (b.k, b.nr);
    let j0 = q * nr;
    // Column j of the product lands in column j - col0 of `c`.
    let cj = j0 - col0;
    let cols = nr.min(b.n - j0);
    let lanes = S::F32_LANES;
    let mut acc = [[simd.splat_f32s(0.0); NV]; MR];
    if p0 > 0 {
        for (i, acc_i) in acc.iter_mut().enumerate() {
            let row = &c[i * ldc + cj..i * ldc + cj + cols];
            for (v, a_v) in acc_i.iter_mut().enumerate() {
                if v * lanes < cols {
                    *a_v = simd.partial_load_f32s(&row[v * lanes..cols.min((v + 1) * lanes)]);
                }
            }
        }
    }
    let start = q * k * nr + p0 * nr;
    let (bp, _) = S::as_simd_f32s(&b.data[start..start + kc * nr]);
    micro::<S, MR, NV>(simd, &a[p0..], lda, kc, bp, &mut acc);
    let last = p0 + kc == k;
    for (i, acc_i) in acc.iter().enumerate() {
        let row = &mut c[i * ldc + cj..i * ldc + cj + cols];
        for (v, a_v) in acc_i.iter().enumerate() {
            if v * lanes < cols {
                simd.partial_store_f32s(&mut row[v * lanes..cols.min((v + 1) * lanes)], *a_v);
            }
        }
        if last {
            finish(row, bias.map(|bb| &bb[j0..j0 + cols]), act);
        }
    }
}

struct Serial<'a> {
    a: &'a [f32],
    lda: usize,
    m: usize,
    b: &'a PackedB,
    panels: std::ops::Range<usize>,
    bias: Option<&'a [f32]>,
    act: Activation,
    c: &'a mut [f32],
    ldc: usize,
    /// The first column of `c` is product column `col0` (a task's share of the panels).
    col0: usize,
}

impl WithSimd for Serial<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        // Register blocking: 8 rows × 2 vectors of accumulators with 32 vector registers
        // (AVX-512), 6 × 2 with 16 (AVX2), 4 × 2 otherwise.
        if S::F32_LANES >= 16 {
            serial::<S, 8>(simd, self)
        } else if S::F32_LANES >= 8 {
            serial::<S, 6>(simd, self)
        } else {
            serial::<S, 4>(simd, self)
        }
    }
}

#[inline(always)]
fn serial<S: Simd, const MR: usize>(simd: S, t: Serial<'_>) {
    let Serial {
        a,
        lda,
        m,
        b,
        panels,
        bias,
        act,
        c,
        ldc,
        col0,
    } = t;
    let k = b.k;
    if m == 0 {
        return;
    }
    if k == 0 {
        let (j0, j1) = (panels.start * b.nr, (panels.end * b.nr).min(b.n));
        for i in 0..m {
            let row = &mut c[i * ldc + j0 - col0..i * ldc + j1 - col0];
            row.fill(0.0);
            finish(row, bias.map(|bb| &bb[j0..j1]), act);
        }
        return;
    }
    // The panel width is two vectors for every instruction set.
    const NV: usize = 2;
    let mut p0 = 0;
    while p0 < k {
        let kc = KC.min(k - p0);
        for q in panels.clone() {
            let mut i = 0;
            while i < m {
                let (ai, ci) = (&a[i * lda..], &mut c[i * ldc..]);
                macro_rules! go {
                    ($r:literal) => {
                        rows_x_panel::<S, $r, NV>(
                            simd, ai, lda, b, q, p0, kc, ci, ldc, col0, bias, act,
                        )
                    };
                }
                let r = MR.min(m - i);
                match r {
                    r if r == MR => match MR {
                        8 => go!(8),
                        6 => go!(6),
                        _ => go!(4),
                    },
                    7 => go!(7),
                    6 => go!(6),
                    5 => go!(5),
                    4 => go!(4),
                    3 => go!(3),
                    2 => go!(2),
                    _ => go!(1),
                }
                i += r;
            }
        }
        p0 += kc;
    }
}

/// Single-threaded `c[i·ldc + j] = act(Σ_p a[i·lda + p]·b[p, j] + bias[j])` for `i < m`,
/// `j < b.n()`. Used inside per-sample kernels that are already parallel.
#[allow(clippy::too_many_arguments)]
pub fn gemm_serial(
    a: &[f32],
    lda: usize,
    m: usize,
    b: &PackedB,
    bias: Option<&[f32]>,
    act: Activation,
    c: &mut [f32],
    ldc: usize,
) {
    let panels = 0..b.n.div_ceil(b.nr);
    Arch::new().dispatch(Serial {
        a,
        lda,
        m,
        b,
        panels,
        bias,
        act,
        c,
        ldc,
        col0: 0,
    });
}

/// Work applied to a finished block of output rows (first row, the rows' `n`-wide values),
/// while they are still in cache: fused elementwise tails such as the cross layer's.
pub type RowsPost<'a> = &'a (dyn Fn(usize, &mut [f32]) + Sync);

/// Parallel `y = act(a · b + bias)` into a contiguous `m × n` buffer, then `post` on every
/// block of rows. Large batches are cut into blocks of rows; small ones into groups of column
/// panels (so one sample still uses every core). The cut never changes the result bits.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    a: &[f32],
    lda: usize,
    m: usize,
    b: &PackedB,
    bias: Option<&[f32]>,
    act: Activation,
    y: &mut [f32],
    post: Option<RowsPost<'_>>,
) {
    let n = b.n;
    if m == 0 || n == 0 {
        return;
    }
    let panels = n.div_ceil(b.nr);
    let threads = rayon::current_num_threads();
    if m >= 2 * TM || panels < 2 || threads == 1 {
        // Blocks of TM rows even on one thread: a block of `a` must stay in L2 while every
        // panel of `b` passes it.
        let tm = TM.min(m);
        y[..m * n]
            .par_chunks_mut(tm * n)
            .enumerate()
            .for_each(|(t, rows)| {
                let i0 = t * tm;
                let mt = rows.len() / n;
                gemm_serial(&a[i0 * lda..], lda, mt, b, bias, act, rows, n);
                if let Some(f) = post {
                    f(i0, rows);
                }
            });
        return;
    }
    // Few rows: every task takes a group of panels for all rows into its own buffer.
    let per = panels.div_ceil(2 * threads).max(1);
    let groups: Vec<(usize, Vec<f32>)> = (0..panels.div_ceil(per))
        .into_par_iter()
        .map(|g| {
            let qs = g * per..((g + 1) * per).min(panels);
            let (j0, j1) = (qs.start * b.nr, (qs.end * b.nr).min(n));
            let w = j1 - j0;
            let mut buf = vec![0.0f32; m * w];
            Arch::new().dispatch(Serial {
                a,
                lda,
                m,
                b,
                panels: qs,
                bias,
                act,
                c: &mut buf,
                ldc: w,
                col0: j0,
            });
            (j0, buf)
        })
        .collect();
    for (j0, buf) in groups {
        let w = buf.len() / m;
        for (i, row) in buf.chunks(w).enumerate() {
            y[i * n + j0..i * n + j0 + w].copy_from_slice(row);
        }
    }
    if let Some(f) = post {
        f(0, &mut y[..m * n]);
    }
}

/// `Σ a[i]·b[i]` as 16 running sums (element `i` into sum `i mod 16`, one fused multiply-add
/// each, in order), then those 16 added in a fixed tree. The same sequence whether the CPU
/// holds the 16 sums in one AVX-512 register, two AVX2 registers or scalars, so the bits do
/// not depend on the vector width (only on whether the CPU has FMA, as for [`gemm`]).
#[inline(always)]
fn simd_dot<S: Simd>(simd: S, a: &[f32], b: &[f32]) -> f32 {
    const {
        assert!(S::F32_LANES <= 16 && 16 % S::F32_LANES == 0);
    }
    let n = a.len().min(b.len());
    let mut acc16 = [0.0f32; 16];
    {
        let (acc, _) = S::as_mut_simd_f32s(&mut acc16);
        let mut step = |x: &[f32], y: &[f32]| {
            let (xv, _) = S::as_simd_f32s(x);
            let (yv, _) = S::as_simd_f32s(y);
            for ((s, &x), &y) in acc.iter_mut().zip(xv).zip(yv) {
                *s = simd.mul_add_e_f32s(x, y, *s);
            }
        };
        let (ac, bc) = (a[..n].chunks_exact(16), b[..n].chunks_exact(16));
        let (ar, br) = (ac.remainder(), bc.remainder());
        for (x, y) in ac.zip(bc) {
            step(x, y);
        }
        if !ar.is_empty() {
            let (mut x, mut y) = ([0.0f32; 16], [0.0f32; 16]);
            x[..ar.len()].copy_from_slice(ar);
            y[..br.len()].copy_from_slice(br);
            step(&x, &y);
        }
    }
    let s = &acc16;
    let h8: [f32; 8] = core::array::from_fn(|l| s[l] + s[l + 8]);
    let h4: [f32; 4] = core::array::from_fn(|l| h8[l] + h8[l + 4]);
    (h4[0] + h4[2]) + (h4[1] + h4[3])
}

/// Pairwise dot products of `n` feature vectors per sample, lower triangle row by row
/// (`(1,0), (2,0), (2,1), …`, with `(i,i)` when `self_interaction`): `feature(s, i)` is vector
/// `i` of sample `s0 + s`, and `out` holds `pairs` values per sample.
pub fn pair_dots<'a>(
    feature: &(dyn Fn(usize, usize) -> &'a [f32] + Sync),
    n: usize,
    self_interaction: bool,
    s0: usize,
    pairs: usize,
    out: &mut [f32],
) {
    struct Pairs<'f, 'a, 'o> {
        feature: &'f (dyn Fn(usize, usize) -> &'a [f32] + Sync),
        n: usize,
        self_interaction: bool,
        s0: usize,
        pairs: usize,
        out: &'o mut [f32],
    }
    impl WithSimd for Pairs<'_, '_, '_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let mut fs: Vec<&[f32]> = Vec::with_capacity(self.n);
            for (s, out) in self.out.chunks_mut(self.pairs).enumerate() {
                fs.clear();
                fs.extend((0..self.n).map(|i| (self.feature)(self.s0 + s, i)));
                let mut p = 0;
                for i in 0..self.n {
                    let jmax = if self.self_interaction { i + 1 } else { i };
                    for j in 0..jmax {
                        out[p] = simd_dot(simd, fs[i], fs[j]);
                        p += 1;
                    }
                }
            }
        }
    }
    if pairs == 0 {
        return;
    }
    Arch::new().dispatch(Pairs {
        feature,
        n,
        self_interaction,
        s0,
        pairs,
        out,
    });
}
