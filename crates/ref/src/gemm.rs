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
/// Rows per task when the batch is large: between `TM` and `TM_MAX`, as many as give every
/// thread a task. A `TM_MAX × KC` block of packed `a` (512 KiB) stays in L2, and the taller the
/// block, the more row groups share each panel block pulled from memory (measured: 512 rather
/// than 128 rows cut dlrm-v2's single-threaded CPU time per batch of 512 by ~10 %).
const TM: usize = 128;
const TM_MAX: usize = 512;
/// Most floats of packed rows for which a pass covers every step (2 MiB, this machine's L2:
/// measured 512 × 512 × 3456 at 131 → 145 GFLOP/s and 512 × 1024 × 1024 at 141 → 151 in one
/// process, one thread).
const WHOLE_K_FLOATS: usize = 1 << 19;

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
#[derive(Debug)]
pub struct PackedB {
    k: usize,
    n: usize,
    nr: usize,
    /// `storage[off..]` starts on a 64-byte boundary: a vector load of the panels then never
    /// straddles two cache lines (a split load costs two).
    storage: Vec<f32>,
    off: usize,
}

impl Clone for PackedB {
    fn clone(&self) -> Self {
        let (mut storage, off) = aligned_zeros(self.data().len());
        storage[off..].copy_from_slice(self.data());
        PackedB {
            storage,
            off,
            ..*self
        }
    }
}

/// `len` zeros starting at a 64-byte boundary: the buffer and where they start in it. The heap
/// buffer never moves while the `Vec` is not resized, so the offset stays valid.
fn aligned_zeros(len: usize) -> (Vec<f32>, usize) {
    let storage = vec![0.0f32; len + 15];
    let off = (64 - storage.as_ptr() as usize % 64) % 64 / 4;
    (storage, off)
}

impl PackedB {
    fn packed_with(k: usize, n: usize, get: impl Fn(usize, usize) -> f32) -> Self {
        let nr = panel_width();
        let panels = n.div_ceil(nr);
        let (mut storage, off) = aligned_zeros(panels * k * nr);
        let data = &mut storage[off..];
        for p0 in (0..k).step_by(KC) {
            let kc = KC.min(k - p0);
            for q in 0..panels {
                let cols = nr.min(n - q * nr);
                let block = &mut data[p0 * panels * nr + q * kc * nr..][..kc * nr];
                for (p, row) in block.chunks_mut(nr).enumerate() {
                    for (c, v) in row[..cols].iter_mut().enumerate() {
                        *v = get(p0 + p, q * nr + c);
                    }
                }
            }
        }
        PackedB {
            k,
            n,
            nr,
            storage,
            off,
        }
    }

    #[inline(always)]
    fn data(&self) -> &[f32] {
        &self.storage[self.off..]
    }

    /// Where the `kc × nr` block of panel `q` for steps `p0 .. p0 + kc` starts in `data`.
    #[inline(always)]
    fn block_start(&self, q: usize, p0: usize, kc: usize) -> usize {
        p0 * self.n.div_ceil(self.nr) * self.nr + q * kc * self.nr
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
        self.storage.len() as u64 * 4
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

/// `R` rows × `NV` vectors of one panel over `kc` steps of `p`. `ap` is the rows' packed
/// block (`ap[p·R + i]` = row `i`, step `p`), so the broadcasts read one sequential stream.
/// The accumulators go in and out by value, which keeps them in registers.
#[inline(always)]
fn micro<S: Simd, const R: usize, const NV: usize>(
    simd: S,
    ap: &[f32],
    kc: usize,
    bp: &[S::f32s],
    mut acc: [[S::f32s; NV]; R],
) -> [[S::f32s; NV]; R] {
    let ap = &ap[..kc * R];
    let bp = &bp[..kc * NV];
    for (a, b) in ap.chunks_exact(R).zip(bp.chunks_exact(NV)) {
        acc = step::<S, R, NV>(simd, a, b, acc);
    }
    acc
}

#[inline(always)]
fn step<S: Simd, const R: usize, const NV: usize>(
    simd: S,
    a: &[f32],
    b: &[S::f32s],
    mut acc: [[S::f32s; NV]; R],
) -> [[S::f32s; NV]; R] {
    let b: [S::f32s; NV] = core::array::from_fn(|v| b[v]);
    for i in 0..R {
        let x = simd.splat_f32s(a[i]);
        for v in 0..NV {
            acc[i][v] = simd.mul_add_e_f32s(x, b[v], acc[i][v]);
        }
    }
    acc
}

/// `row` (one vector's width or less) as a vector: a plain load when the vector is whole, a
/// masked one at a ragged panel edge.
#[inline(always)]
pub(crate) fn load<S: Simd>(simd: S, row: &[f32]) -> S::f32s {
    if row.len() == S::F32_LANES {
        S::as_simd_f32s(row).0[0]
    } else {
        simd.partial_load_f32s(row)
    }
}

#[inline(always)]
pub(crate) fn store<S: Simd>(simd: S, row: &mut [f32], v: S::f32s) {
    if row.len() == S::F32_LANES {
        S::as_mut_simd_f32s(row).0[0] = v;
    } else {
        simd.partial_store_f32s(row, v)
    }
}

/// One `R`-row group (rows `i ..` of the `m` packed in `ap`, see [`serial`]) against one panel
/// for `steps` (whole blocks of `KC`), then the epilogue into `c` after the last step.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rows_x_panel<S: Simd, const R: usize, const NV: usize>(
    simd: S,
    ap: &[f32],
    m: usize,
    i: usize,
    b: &PackedB,
    q: usize,
    steps: std::ops::Range<usize>,
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
    let mut acc = [[simd.splat_f32s(0.0); NV]; R];
    if steps.start > 0 {
        for (i, acc_i) in acc.iter_mut().enumerate() {
            let row = &c[i * ldc + cj..i * ldc + cj + cols];
            for (v, a_v) in acc_i.iter_mut().enumerate() {
                if v * lanes < cols {
                    *a_v = load(simd, &row[v * lanes..cols.min((v + 1) * lanes)]);
                }
            }
        }
    }
    // The accumulators stay in registers across every `KC` block of `steps`.
    let mut p0 = steps.start;
    while p0 < steps.end {
        let kc = KC.min(k - p0);
        let start = b.block_start(q, p0, kc);
        let (bp, _) = S::as_simd_f32s(&b.data()[start..start + kc * nr]);
        let a0 = (p0 - steps.start) * m + i * kc;
        acc = micro::<S, R, NV>(simd, &ap[a0..], kc, bp, acc);
        p0 += kc;
    }
    let last = steps.end == k;
    // Bias and ReLU on the registers (the same operations, so the same bits, as `finish`);
    // other activations go through the scalar `finish`.
    let in_regs = last && matches!(act, Activation::None | Activation::Relu);
    let zero = simd.splat_f32s(0.0);
    let bias_v: [S::f32s; NV] = core::array::from_fn(|v| match bias {
        Some(bb) if in_regs && v * lanes < cols => {
            load(simd, &bb[j0 + v * lanes..j0 + cols.min((v + 1) * lanes)])
        }
        _ => zero,
    });
    for (i, acc_i) in acc.iter().enumerate() {
        let row = &mut c[i * ldc + cj..i * ldc + cj + cols];
        for (v, &a_v) in acc_i.iter().enumerate() {
            if v * lanes < cols {
                let mut x = a_v;
                if in_regs {
                    if bias.is_some() {
                        x = simd.add_f32s(x, bias_v[v]);
                    }
                    if act == Activation::Relu {
                        x = simd.select_f32s(simd.less_than_f32s(x, zero), zero, x);
                    }
                }
                store(simd, &mut row[v * lanes..cols.min((v + 1) * lanes)], x);
            }
        }
        if last && !in_regs {
            finish(row, bias.map(|bb| &bb[j0..j0 + cols]), act);
        }
    }
}

/// Rows per register tile with 32 vector registers.
const MR_WIDE: usize = 12;

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
        // Register blocking: 12 rows × 2 vectors of accumulators with 32 vector registers
        // (AVX-512), 6 × 2 with 16 (AVX2), 4 × 2 otherwise.
        if S::F32_LANES >= 16 {
            serial::<S, MR_WIDE>(simd, self)
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
    // Taken out of the thread-local rather than used in a closure: a closure would be compiled
    // without the SIMD target features the caller was dispatched with.
    let mut ap = APACK.take();
    // Steps per pass: all of `k` when the packed rows fit in L2 (the accumulators then stay
    // in registers from the first step to the last, and `c` is written once instead of being
    // stored and reloaded at every block of `KC` steps), otherwise one block.
    let pass = if m * k <= WHOLE_K_FLOATS { k } else { KC };
    let mut s0 = 0;
    while s0 < k {
        let s1 = (s0 + pass).min(k);
        // Steps `s0 .. s1` of every row of `a`: block by block of `KC` steps (block `p0` at
        // `(p0 - s0)·m`), in each block groups of MR rows (the last group may be shorter),
        // each group step-major: `ap[(p0 - s0)·m + i·kc + p·r + ii]`. Every entry is written,
        // so the buffer is only grown, never cleared.
        if ap.len() < m * (s1 - s0) {
            ap.resize(m * (s1 - s0), 0.0);
        }
        let mut p0 = s0;
        while p0 < s1 {
            let kc = KC.min(k - p0);
            let blk = &mut ap[(p0 - s0) * m..(p0 - s0 + kc) * m];
            let mut i = 0;
            while i < m {
                let r = MR.min(m - i);
                let g = &mut blk[i * kc..(i + r) * kc];
                if r == MR {
                    pack_group::<MR>(&a[i * lda + p0..], lda, kc, g);
                } else {
                    let rows: [&[f32]; MR] = core::array::from_fn(|ii| {
                        let ii = ii.min(r - 1);
                        &a[(i + ii) * lda + p0..(i + ii) * lda + p0 + kc]
                    });
                    for (p, step) in g.chunks_exact_mut(r).enumerate() {
                        for (ii, x) in step.iter_mut().enumerate() {
                            *x = rows[ii][p];
                        }
                    }
                }
                i += r;
            }
            p0 += kc;
        }
        // With one block per pass, each `KC × nr` block of a panel stays in L1 while every
        // row group passes it.
        for q in panels.clone() {
            let mut i = 0;
            while i < m {
                let r = MR.min(m - i);
                let ci = &mut c[i * ldc..];
                macro_rules! go {
                    ($r:literal) => {
                        rows_x_panel::<S, $r, NV>(
                            simd,
                            &ap,
                            m,
                            i,
                            b,
                            q,
                            s0..s1,
                            ci,
                            ldc,
                            col0,
                            bias,
                            act,
                        )
                    };
                }
                match r {
                    12 => go!(12),
                    11 => go!(11),
                    10 => go!(10),
                    9 => go!(9),
                    8 => go!(8),
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
        s0 = s1;
    }
    APACK.set(ap);
}

/// Rows `0..R` of `a` (row stride `lda`), steps `0..kc`, into `g` step-major (`g[p·R + ii]`).
/// Fixed-size blocks of 16 steps, so the loads and stores carry no per-element bounds checks.
#[inline(always)]
fn pack_group<const R: usize>(a: &[f32], lda: usize, kc: usize, g: &mut [f32]) {
    const B: usize = 16;
    let rows: [&[f32]; R] = core::array::from_fn(|ii| &a[ii * lda..ii * lda + kc]);
    let g = &mut g[..R * kc];
    let full = kc / B * B;
    for (blk, out) in g[..full * R].chunks_exact_mut(B * R).enumerate() {
        let p = blk * B;
        let v: [[f32; B]; R] = core::array::from_fn(|ii| {
            let mut x = [0.0f32; B];
            x.copy_from_slice(&rows[ii][p..p + B]);
            x
        });
        for (s, o) in out.chunks_exact_mut(R).take(B).enumerate() {
            let o: &mut [f32; R] = o.try_into().expect("one step of R rows");
            for ii in 0..R {
                o[ii] = v[ii][s & (B - 1)];
            }
        }
    }
    for p in full..kc {
        for ii in 0..R {
            g[p * R + ii] = rows[ii][p];
        }
    }
}

thread_local! {
    /// The packed block of `a`, one per worker thread, reused across calls.
    static APACK: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
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

/// At most this many vectors of rows (64 rows with AVX-512) take the small-batch path...
const SMALL_NV: usize = 4;
/// ... and only when the product is this deep: at smaller depths the panel kernel's
/// whole-depth pass is faster (one thread, fastest of several runs in one process, load 13:
/// 64 × 1024 × 1024 147 vs 125 GFLOP/s, 64 × 479 × 1024 163 vs 109, 64 × 512 × 256 161 vs
/// 100; 64 × 2048 × 512 a tie at 130; 64 × 3456 × 512 99 vs 128 for the small path).
const SMALL_MIN_K: usize = 2048;

/// Small batches: the weight is the broadcast operand, read once in its own row-major
/// `[n, k]` layout (`wt`, `ldw = k`) by a few sequential streams, while the batch, packed
/// step-major (`xt[p·mp + i]`, rows padded to whole vectors), is the vector operand. The
/// weight then streams from memory once, at an even rate, instead of in bursts per block of
/// panels. Each output is the same sequence of fused multiply-adds in `p` order as in the
/// panel kernel, so the bits do not depend on the path.
struct Small<'a> {
    a: &'a [f32],
    lda: usize,
    m: usize,
    k: usize,
    wt: &'a [f32],
    bias: Option<&'a [f32]>,
    act: Activation,
    y: &'a mut [f32],
    n: usize,
}

impl WithSimd for Small<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        match self.m.div_ceil(S::F32_LANES) {
            1 => small::<S, 12, 1>(simd, self),
            2 => small::<S, 12, 2>(simd, self),
            3 => small::<S, 8, 3>(simd, self),
            _ => small::<S, 6, 4>(simd, self),
        }
    }
}

#[inline(always)]
fn small<S: Simd, const R: usize, const NV: usize>(_simd: S, t: Small<'_>) {
    let Small {
        a,
        lda,
        m,
        k,
        wt,
        bias,
        act,
        y,
        n,
    } = t;
    let lanes = S::F32_LANES;
    let mp = NV * lanes;
    let mut xt = vec![0.0f32; k * mp];
    for (p, row) in xt.chunks_exact_mut(mp).enumerate() {
        for (i, v) in row[..m].iter_mut().enumerate() {
            *v = a[i * lda + p];
        }
    }
    // Outputs feature-major, one whole-vector column of `mp` per feature (`yt[j·mp + i]`), so
    // that a task owns a contiguous range of features and the accumulators move as vectors.
    let mut yt = vec![0.0f32; n * mp];
    let per = R * n.div_ceil(R * 4 * rayon::current_num_threads()).max(1);
    yt.par_chunks_mut(per * mp)
        .enumerate()
        .for_each(|(task, out)| {
            Arch::new().dispatch(SmallTask::<R, NV> {
                xt: &xt,
                m,
                k,
                wt,
                j0: task * per,
                bias,
                act,
                out,
            })
        });
    let rows = (SCATTER_TILE / n).max(1);
    y.par_chunks_mut(rows * n).enumerate().for_each(|(t, yr)| {
        for (ii, row) in yr.chunks_exact_mut(n).enumerate() {
            let i = t * rows + ii;
            for (j, v) in row.iter_mut().enumerate() {
                *v = yt[j * mp + i];
            }
        }
    });
}

/// Output elements per task when the small-batch path scatters its results.
const SCATTER_TILE: usize = 1 << 14;

struct SmallTask<'a, const R: usize, const NV: usize> {
    xt: &'a [f32],
    /// Rows of the batch (the first `m` of each `mp`-wide column are real).
    m: usize,
    k: usize,
    wt: &'a [f32],
    j0: usize,
    bias: Option<&'a [f32]>,
    act: Activation,
    out: &'a mut [f32],
}

impl<const R: usize, const NV: usize> WithSimd for SmallTask<'_, R, NV> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let SmallTask {
            xt,
            m,
            k,
            wt,
            j0,
            bias,
            act,
            out,
        } = self;
        let (xv, _) = S::as_simd_f32s(xt);
        let xv = &xv[..k * NV];
        let mp = NV * S::F32_LANES;
        let feats = out.len() / mp;
        // Every step at once for each group of `R` features: the weight rows then stream
        // from memory as `R` long sequential runs (blocking the steps so that the batch stays
        // in L1 cuts them into short runs and was measured slower).
        for (g, og) in out.chunks_mut(R * mp).enumerate() {
            let rows = og.len() / mp;
            let j = j0 + g * R;
            let w: [&[f32]; R] = core::array::from_fn(|r| {
                let jj = j + r.min(rows - 1);
                &wt[jj * k..jj * k + k]
            });
            let mut acc = [[simd.splat_f32s(0.0); NV]; R];
            for (p, xs) in xv.chunks_exact(NV).enumerate() {
                let xs: [S::f32s; NV] = core::array::from_fn(|v| xs[v]);
                for r in 0..R {
                    let b = simd.splat_f32s(w[r][p]);
                    for v in 0..NV {
                        acc[r][v] = simd.mul_add_e_f32s(b, xs[v], acc[r][v]);
                    }
                }
            }
            let (ov, _) = S::as_mut_simd_f32s(og);
            for r in 0..rows {
                for v in 0..NV {
                    ov[r * NV + v] = acc[r][v];
                }
            }
        }
        // The epilogue of `finish`, per element: bias, then activation.
        for (jj, col) in out.chunks_exact_mut(mp).enumerate().take(feats) {
            for o in &mut col[..m] {
                if let Some(b) = bias {
                    *o += b[j0 + jj];
                }
                if act != Activation::None {
                    *o = activation(act, *o);
                }
            }
        }
    }
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
    gemm_wt(a, lda, m, b, None, bias, act, y, post)
}

/// [`gemm`] that may also read `b` in its transposed, row-major form `wt` (`[n, k]`, as a
/// `linear` stores its weight): small batches then take the path that streams the weight once.
#[allow(clippy::too_many_arguments)]
pub fn gemm_wt(
    a: &[f32],
    lda: usize,
    m: usize,
    b: &PackedB,
    wt: Option<&[f32]>,
    bias: Option<&[f32]>,
    act: Activation,
    y: &mut [f32],
    post: Option<RowsPost<'_>>,
) {
    let n = b.n;
    if m == 0 || n == 0 {
        return;
    }
    if let Some(wt) =
        wt.filter(|w| b.k >= SMALL_MIN_K && w.len() == n * b.k && m <= SMALL_NV * b.nr / 2)
    {
        Arch::new().dispatch(Small {
            a,
            lda,
            m,
            k: b.k,
            wt,
            bias,
            act,
            y: &mut y[..m * n],
            n,
        });
        if let Some(f) = post {
            f(0, &mut y[..m * n]);
        }
        return;
    }
    let panels = n.div_ceil(b.nr);
    let threads = rayon::current_num_threads();
    if m >= 2 * TM || panels < 2 || threads == 1 {
        // Blocks of `tm` rows even on one thread: a block of `a` must stay in L2 while every
        // panel of `b` passes it.
        let tm = m.div_ceil(threads).clamp(TM, TM_MAX).min(m);
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

/// `out[c] = Σ_r table[r·dim + c]` over the rows `idx` of a dense table, added in `idx` order
/// (the order of the scalar loop, so the same bits), up to 8 vectors of columns at a time held
/// in registers across the whole bag: no store and reload of `out` per row, and the row loads
/// of many rows in flight at once.
pub(crate) fn bag_sum(table: &[f32], dim: usize, idx: &[i64], out: &mut [f32]) {
    struct BagSum<'a> {
        table: &'a [f32],
        dim: usize,
        idx: &'a [i64],
        out: &'a mut [f32],
    }
    impl WithSimd for BagSum<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let lanes = S::F32_LANES;
            let mut c0 = 0;
            while c0 < self.dim {
                let w = (8 * lanes).min(self.dim - c0);
                let o = &mut self.out[c0..c0 + w];
                match w.div_ceil(lanes) {
                    8 => bag_cols::<S, 8>(simd, self.table, self.dim, c0, self.idx, o),
                    7 => bag_cols::<S, 7>(simd, self.table, self.dim, c0, self.idx, o),
                    6 => bag_cols::<S, 6>(simd, self.table, self.dim, c0, self.idx, o),
                    5 => bag_cols::<S, 5>(simd, self.table, self.dim, c0, self.idx, o),
                    4 => bag_cols::<S, 4>(simd, self.table, self.dim, c0, self.idx, o),
                    3 => bag_cols::<S, 3>(simd, self.table, self.dim, c0, self.idx, o),
                    2 => bag_cols::<S, 2>(simd, self.table, self.dim, c0, self.idx, o),
                    _ => bag_cols::<S, 1>(simd, self.table, self.dim, c0, self.idx, o),
                }
                c0 += w;
            }
        }
    }
    Arch::new().dispatch(BagSum {
        table,
        dim,
        idx,
        out,
    });
}

#[inline(always)]
fn bag_cols<S: Simd, const NV: usize>(
    simd: S,
    table: &[f32],
    dim: usize,
    c0: usize,
    idx: &[i64],
    out: &mut [f32],
) {
    let lanes = S::F32_LANES;
    let w = out.len();
    let mut acc = [simd.splat_f32s(0.0); NV];
    for &r in idx {
        let row = &table[r as usize * dim + c0..r as usize * dim + c0 + w];
        for (v, a) in acc.iter_mut().enumerate() {
            *a = simd.add_f32s(*a, load(simd, &row[v * lanes..w.min((v + 1) * lanes)]));
        }
    }
    for (v, a) in acc.iter().enumerate() {
        store(simd, &mut out[v * lanes..w.min((v + 1) * lanes)], *a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every output is `act(Σ_p a·b + bias)` summed by one fused multiply-add per step in `p`
    /// order: checked bit for bit against scalar `mul_add`, for shapes that take the
    /// whole-depth pass (`m·k` within [`WHOLE_K_FLOATS`]), the block-by-block pass, ragged
    /// row groups and panels, and the small-batch path.
    #[test]
    fn bits_match_sequential_fused_multiply_adds() {
        if !std::arch::is_x86_feature_detected!("fma") {
            return;
        }
        for &(m, k, n) in &[
            (30, 600, 70),
            (700, 600, 40),
            (1100, 700, 33),
            (64, 300, 50),
            (64, 2100, 40),
            (13, 257, 65),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7919) % 1013) as f32 / 1013.0 - 0.5)
                .collect();
            let w: Vec<f32> = (0..n * k)
                .map(|i| ((i * 104_729) % 997) as f32 / 997.0 - 0.5)
                .collect();
            let bias: Vec<f32> = (0..n).map(|j| j as f32 / 17.0 - 1.0).collect();
            let pb = PackedB::transposed(&w, k, n, k);
            let mut y = vec![0.0f32; m * n];
            gemm_wt(
                &a,
                k,
                m,
                &pb,
                Some(&w),
                Some(&bias),
                Activation::Relu,
                &mut y,
                None,
            );
            for i in 0..m {
                for j in 0..n {
                    let mut s = 0.0f32;
                    for p in 0..k {
                        s = a[i * k + p].mul_add(w[j * k + p], s);
                    }
                    let want = (s + bias[j]).max(0.0);
                    assert_eq!(
                        y[i * n + j].to_bits(),
                        want.to_bits(),
                        "{m}x{k}x{n} at ({i}, {j})"
                    );
                }
            }
        }
    }
}
