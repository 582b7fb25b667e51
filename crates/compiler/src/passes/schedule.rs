//! `schedule`: the order kernels run in, and the per-core instruction streams.
//!
//! **Order** ([`order`]): a list schedule over the kernels' data dependencies that starts
//! input loads first and embedding gathers next, so the DMA and gather queues run ahead of the
//! matrix and vector units.
//!
//! **Streams** ([`emit`]): data parallel over the batch — core `c` computes its own slice of
//! samples, in micro-batches (see `plan_memory`), with its own copy of every activation. Each
//! kernel becomes loops of tile instructions:
//!
//! * GEMM: for each chunk of `mt` rows and each `nt`-column block, the weight tiles stream
//!   through rotating local buffers (the DMA of tile `i + 1` is issued before the product of
//!   tile `i`), accumulate in one of two accumulators, and the epilogue (dequantize, bias,
//!   activation, convert or requantize) writes the finished block;
//! * batched products: `mxu.matmul.batch` over the largest loop dimension;
//! * gathers: one instruction per ≤ 512 bags, or row copies plus vector pooling;
//! * elementwise, reductions, copies: 2-D instructions over the best (rows, cols) pair of the
//!   merged loop nest; plain copies go to the DMA engines.
//!
//! Semaphores come from [`crate::sync::Stream`]: every instruction waits exactly for the
//! earlier instructions of other queues whose bytes it touches.

use std::collections::BTreeMap;

use seedchip_ir::{Activation, Pooling, UnaryOp};
use seedchip_isa::{Addr, ChipSem, DType, F32Imm, Inst, Space};

use crate::Error;
use crate::lir::{Base, Bmm, Dim, Gemm, KOp, Lir, MatPrecision, OutConv, TensorId, VOp, View};
use crate::passes::Target;
use crate::passes::emit::HbmLayout;
use crate::passes::place_embeddings::{COPY_ROWS, EmbeddingPlan, GATHER_BAGS, row_bytes};
use crate::passes::plan_memory::{MemPlan, Workspace};
use crate::passes::tile::align;
use crate::sync::{GatherHint, InstRef, Stream};

// ---------------------------------------------------------------------------------------------
// Ordering.

/// Reorders kernels: loads first, gathers next, everything else in its original order, always
/// respecting read/write dependencies on tensors.
pub fn order(lir: &mut Lir) {
    let n = lir.kernels.len();
    // What each kernel reads and writes: the base and the `[first, last + 1)` element range
    // within a sample. Two kernels writing disjoint columns of one tensor (gathers filling
    // their slots of DLRM's feature matrix, the bottom MLP its first columns) are independent,
    // so the gathers can run first.
    type Touch = (Base, u64, u64);
    let touch = |v: &View| (v.base, v.offset, v.extent());
    let touches: Vec<(Vec<Touch>, Vec<Touch>)> = lir
        .kernels
        .iter()
        .map(|k| {
            let (r, w) = Lir::views(&k.op);
            (
                r.iter()
                    .filter(|v| matches!(v.base, Base::Tensor(_)))
                    .map(|v| touch(v))
                    .collect(),
                w.iter().map(|v| touch(v)).collect(),
            )
        })
        .collect();
    let meets = |x: &[Touch], y: &[Touch]| {
        x.iter()
            .any(|a| y.iter().any(|b| a.0 == b.0 && a.1 < b.2 && b.1 < a.2))
    };
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    for j in 0..n {
        for i in 0..j {
            let (ri, wi) = &touches[i];
            let (rj, wj) = &touches[j];
            if meets(wi, rj) || meets(wi, wj) || meets(ri, wj) {
                preds[j].push(i);
            }
        }
    }
    let prio = |k: &KOp| match k {
        KOp::Load { .. } => 0,
        KOp::Gather { .. } | KOp::GatherRagged { .. } => 1,
        _ => 2,
    };
    let mut done = vec![false; n];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let next = (0..n)
            .filter(|&j| !done[j] && preds[j].iter().all(|&p| done[p]))
            .min_by_key(|&j| (prio(&lir.kernels[j].op), j))
            .expect("dependencies follow the original order, so something is ready");
        done[next] = true;
        out.push(next);
    }
    let old = std::mem::take(&mut lir.kernels);
    let mut slots: Vec<Option<crate::lir::Kernel>> = old.into_iter().map(Some).collect();
    lir.kernels = out
        .into_iter()
        .map(|i| slots[i].take().expect("each once"))
        .collect();
}

/// Lookups one gather instruction takes at most. An engine pools about one row per cycle,
/// so a many-hot table (DLRM-v2's 100-hot feature: 51,200 lookups per 512 bags) in one
/// instruction would keep one engine busy for tens of thousands of cycles while the others idle;
/// split, its bags spread over every engine.
pub const GATHER_LOOKUPS: u64 = 4096;

/// Bags per gather instruction for a table read `hotness` times per bag.
fn gather_bags(hotness: u64) -> u64 {
    (GATHER_LOOKUPS / hotness.max(1)).clamp(1, GATHER_BAGS)
}

// ---------------------------------------------------------------------------------------------
// Loop nests over strided operands.

/// One operand of a loop nest: its space, the byte address of element 0 and element strides
/// per loop dimension.
#[derive(Debug, Clone)]
struct Opnd {
    space: Space,
    base: u64,
    elem: u64,
    strides: Vec<u64>,
}

impl Opnd {
    fn at(&self, idx: &[u64]) -> Addr {
        let off: u64 = idx.iter().zip(&self.strides).map(|(i, s)| i * s).sum();
        Addr::new(self.space, self.base + off * self.elem)
    }
}

/// A loop nest: sizes, and each operand's strides.
#[derive(Debug, Clone)]
struct Nest {
    sizes: Vec<u64>,
    ops: Vec<Opnd>,
}

impl Nest {
    /// Drops size-1 dims and merges neighbours contiguous in every operand.
    fn simplify(mut self) -> Nest {
        let keep: Vec<usize> = (0..self.sizes.len())
            .filter(|&i| self.sizes[i] != 1)
            .collect();
        let mut sizes: Vec<u64> = Vec::new();
        let mut strides: Vec<Vec<u64>> = vec![Vec::new(); self.ops.len()];
        for i in keep {
            let merge = !sizes.is_empty()
                && self.ops.iter().enumerate().all(|(o, op)| {
                    let prev = *strides[o].last().expect("non-empty");
                    prev == op.strides[i] * self.sizes[i]
                });
            if merge {
                *sizes.last_mut().expect("non-empty") *= self.sizes[i];
                for (o, op) in self.ops.iter().enumerate() {
                    *strides[o].last_mut().expect("non-empty") = op.strides[i];
                }
            } else {
                sizes.push(self.sizes[i]);
                for (o, op) in self.ops.iter().enumerate() {
                    strides[o].push(op.strides[i]);
                }
            }
        }
        for (o, op) in self.ops.iter_mut().enumerate() {
            op.strides = std::mem::take(&mut strides[o]);
        }
        self.sizes = sizes;
        self
    }

    /// Every index of the dims in `loops` (others 0), outermost first.
    fn indices(&self, loops: &[usize]) -> Vec<Vec<u64>> {
        let mut out = vec![vec![0u64; self.sizes.len()]];
        for &d in loops {
            let mut next = Vec::with_capacity(out.len() * self.sizes[d] as usize);
            for idx in &out {
                for i in 0..self.sizes[d] {
                    let mut x = idx.clone();
                    x[d] = i;
                    next.push(x);
                }
            }
            out = next;
        }
        out
    }
}

/// The (cols, rows) dims of a 2-D instruction over a nest and the remaining loops. `unit`
/// lists the operands that need unit column stride.
fn plan_2d(nest: &Nest, unit: &[usize]) -> (Option<usize>, Option<usize>, Vec<usize>) {
    let nd = nest.sizes.len();
    let fits = |d: usize| {
        nest.sizes[d] <= u64::from(u32::MAX)
            && nest.ops.iter().all(|o| o.strides[d] <= u64::from(u32::MAX))
    };
    let mut cols_opts: Vec<Option<usize>> = vec![None];
    for d in 0..nd {
        if fits(d) && unit.iter().all(|&o| nest.ops[o].strides[d] == 1) {
            cols_opts.push(Some(d));
        }
    }
    type Choice = (u64, u64, u64, Option<usize>, Option<usize>);
    let mut best: Option<Choice> = None;
    for &c in &cols_opts {
        let mut rows_opts: Vec<Option<usize>> = vec![None];
        rows_opts.extend((0..nd).filter(|&d| Some(d) != c && fits(d)).map(Some));
        for r in rows_opts {
            let loops: u64 = (0..nd)
                .filter(|&d| Some(d) != c && Some(d) != r)
                .map(|d| nest.sizes[d])
                .product();
            let cs = c.map_or(1, |d| nest.sizes[d]);
            let rs = r.map_or(1, |d| nest.sizes[d]);
            let key = (loops, u64::MAX - cs, u64::MAX - rs, c, r);
            if best
                .as_ref()
                .is_none_or(|b| (key.0, key.1, key.2) < (b.0, b.1, b.2))
            {
                best = Some(key);
            }
        }
    }
    let (_, _, _, c, r) = best.expect("the virtual 1x1 plan always exists");
    let loops: Vec<usize> = (0..nd).filter(|&d| Some(d) != c && Some(d) != r).collect();
    (c, r, loops)
}

// ---------------------------------------------------------------------------------------------
// Emission.

struct Em<'a> {
    lir: &'a Lir,
    t: &'a Target,
    emb: &'a EmbeddingPlan,
    mem: &'a MemPlan,
    hbm: &'a HbmLayout,
    core: usize,
    s: Stream,
    /// First sample of the current part (absolute), its first sample within the micro-batch's
    /// tensors, and its size.
    s0: u64,
    sub0: u64,
    n: u64,
    wslot: u64,
    /// Accumulators started so far in each workspace arena (each arena has two).
    accslot: [u64; 2],
    /// Copy of the double-buffered tensors the current micro-batch uses (see
    /// `MemPlan::pipelined`).
    parity: usize,
    /// Whether gathers may read the hot-row cache: not while it is still being filled.
    cache: bool,
    /// This core's hot-row fills not yet emitted (indices into `EmbeddingPlan::fills`), pushed
    /// a few after each weight-tile DMA of the first micro-batch, and the ones emitted.
    fills: std::collections::VecDeque<usize>,
    filled: Vec<InstRef>,
    interleave_fills: bool,
}

/// Hot-row fills emitted after each weight-tile DMA while the first micro-batch computes. A
/// fill is one short row copy, bound by memory latency rather than by the engine's port, so a
/// few of them share the DMA engines with the weight stream without starving it.
const FILLS_PER_TILE: usize = 2;

fn u32_of(x: u64, what: &str) -> Result<u32, Error> {
    u32::try_from(x).map_err(|_| Error::Unsupported {
        node: what.to_string(),
        message: format!("{x} does not fit a 32-bit instruction field"),
    })
}

/// `gather.{sum,mean,max}` for `pooling`.
#[allow(clippy::too_many_arguments)]
fn pooled_gather(
    pooling: Pooling,
    dtype: DType,
    dst: Addr,
    table: Addr,
    rows: u32,
    dim: u32,
    idx: Addr,
    offsets: Addr,
    bags: u32,
    ldd: u32,
    cache_map: Option<Addr>,
) -> Inst {
    match pooling {
        Pooling::Sum => Inst::GatherSum {
            dtype,
            dst,
            table,
            rows,
            dim,
            idx,
            offsets,
            bags,
            ldd,
            cache_map,
        },
        Pooling::Mean => Inst::GatherMean {
            dtype,
            dst,
            table,
            rows,
            dim,
            idx,
            offsets,
            bags,
            ldd,
            cache_map,
        },
        Pooling::Max => Inst::GatherMax {
            dtype,
            dst,
            table,
            rows,
            dim,
            idx,
            offsets,
            bags,
            ldd,
            cache_map,
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn unary_inst(
    op: UnaryOp,
    dtype: DType,
    dst: Addr,
    a: Addr,
    rows: u32,
    cols: u32,
    ldd: u32,
    lda: u32,
) -> Inst {
    match op {
        UnaryOp::Relu => Inst::VpuRelu {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        },
        UnaryOp::Sigmoid => Inst::VpuSigmoid {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        },
        UnaryOp::Tanh => Inst::VpuTanh {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        },
        UnaryOp::Gelu => Inst::VpuGelu {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        },
        UnaryOp::Silu => Inst::VpuSilu {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        },
        UnaryOp::Neg => Inst::VpuNeg {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        },
        UnaryOp::Exp => Inst::VpuExp {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn vpu_inst(
    op: VOp,
    dtype: DType,
    to: DType,
    dst: Addr,
    a: Addr,
    b: Addr,
    rows: u32,
    cols: u32,
    ldd: u32,
    lda: u32,
    ldb: u32,
    incb: u32,
) -> Inst {
    match op {
        VOp::Add => Inst::VpuAdd {
            dtype,
            dst,
            a,
            b,
            rows,
            cols,
            ldd,
            lda,
            ldb,
            incb,
        },
        VOp::Sub => Inst::VpuSub {
            dtype,
            dst,
            a,
            b,
            rows,
            cols,
            ldd,
            lda,
            ldb,
            incb,
        },
        VOp::Mul => Inst::VpuMul {
            dtype,
            dst,
            a,
            b,
            rows,
            cols,
            ldd,
            lda,
            ldb,
            incb,
        },
        VOp::Max => Inst::VpuMax {
            dtype,
            dst,
            a,
            b,
            rows,
            cols,
            ldd,
            lda,
            ldb,
            incb,
        },
        VOp::Min => Inst::VpuMin {
            dtype,
            dst,
            a,
            b,
            rows,
            cols,
            ldd,
            lda,
            ldb,
            incb,
        },
        VOp::Unary(u) => unary_inst(u, dtype, dst, a, rows, cols, ldd, lda),
        VOp::Rsqrt => Inst::VpuRsqrt {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        },
        VOp::Recip => Inst::VpuRecip {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        },
        VOp::Copy => Inst::VpuCopy {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        },
        VOp::Scale(s) => Inst::VpuScale {
            dtype,
            dst,
            a,
            scale: F32Imm::new(s),
            rows,
            cols,
            ldd,
            lda,
        },
        VOp::Cvt(_) => Inst::VpuCvt {
            from: dtype,
            to,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        },
    }
}

fn act_op(a: Activation) -> Option<UnaryOp> {
    a.unary()
}

impl<'a> Em<'a> {
    fn elem(&self, b: Base) -> u64 {
        self.lir
            .dtype(&View {
                base: b,
                offset: 0,
                dims: vec![],
            })
            .size_bytes()
            .unwrap_or(1)
    }

    /// An operand over [batch, view dims...] for the current micro-batch.
    fn opnd(&self, v: &View) -> Opnd {
        let (space, base) = match v.base {
            Base::Tensor(t) => self
                .mem
                .tensor_addr(t, self.core, self.parity)
                .expect("every used tensor is placed"),
            Base::Const(c) => self.mem.const_addr(c, self.core),
        };
        let elem = self.elem(v.base);
        let bs = self.lir.batch_stride(v);
        let mut strides = vec![bs];
        strides.extend(v.dims.iter().map(|d| d.stride));
        Opnd {
            space,
            base: base + (self.sub0 * bs + v.offset) * elem,
            elem,
            strides,
        }
    }

    fn sizes(&self, v: &View) -> Vec<u64> {
        let mut s = vec![self.n];
        s.extend(v.dims.iter().map(|d| d.size));
        s
    }

    fn push(&mut self, inst: Inst, node: &str) -> InstRef {
        self.s.push(inst, node, None, &[])
    }

    // ----- elementwise -----

    fn elementwise(
        &mut self,
        op: VOp,
        dst: &View,
        a: &View,
        b: Option<&View>,
        node: &str,
    ) -> Result<(), Error> {
        let dtype = self.lir.dtype(a);
        let to = self.lir.dtype(dst);
        let mut ops = vec![self.opnd(dst), self.opnd(a)];
        if let Some(b) = b {
            ops.push(self.opnd(b));
        }
        let nest = Nest {
            sizes: self.sizes(dst),
            ops,
        }
        .simplify();
        if op == VOp::Copy && dtype == to && self.copy_dma(&nest, node)? {
            return Ok(());
        }
        // Commutative ops may swap operands for a better plan.
        let mut best = plan_2d(&nest, &[0, 1]);
        let mut nest = nest;
        if b.is_some() && op.commutes() {
            let mut swapped = nest.clone();
            swapped.ops.swap(1, 2);
            let alt = plan_2d(&swapped, &[0, 1]);
            if alt.2.iter().map(|&d| swapped.sizes[d]).product::<u64>()
                < best.2.iter().map(|&d| nest.sizes[d]).product::<u64>()
            {
                nest = swapped;
                best = alt;
            }
        }
        let (c, r, loops) = best;
        for idx in nest.indices(&loops) {
            let addr = |o: usize| nest.ops[o].at(&idx);
            let cols = c.map_or(1, |d| nest.sizes[d]);
            let rows = r.map_or(1, |d| nest.sizes[d]);
            let ld = |o: usize| r.map_or(0, |d| nest.ops[o].strides[d]);
            let (bb, ldb, incb) = if nest.ops.len() > 2 {
                (addr(2), ld(2), c.map_or(0, |d| nest.ops[2].strides[d]))
            } else {
                (Addr::local(0), 0, 0)
            };
            let inst = vpu_inst(
                op,
                dtype,
                to,
                addr(0),
                addr(1),
                bb,
                u32_of(rows, node)?,
                u32_of(cols, node)?,
                u32_of(ld(0), node)?,
                u32_of(ld(1), node)?,
                u32_of(ldb, node)?,
                u32_of(incb, node)?,
            );
            self.push(inst, node);
        }
        Ok(())
    }

    /// A plain copy on the DMA engines when rows are contiguous in both operands.
    fn copy_dma(&mut self, nest: &Nest, node: &str) -> Result<bool, Error> {
        let (c, r, loops) = plan_2d(nest, &[0, 1]);
        let Some(c) = c else { return Ok(false) };
        if r.is_some_and(|d| nest.ops[1].strides[d] == 0) {
            return Ok(false);
        }
        let (d, s) = (&nest.ops[0], &nest.ops[1]);
        for idx in nest.indices(&loops) {
            let row_bytes = nest.sizes[c] * s.elem;
            let rows = r.map_or(1, |rd| nest.sizes[rd]);
            let dst_stride = r.map_or(row_bytes, |rd| d.strides[rd] * d.elem);
            let src_stride = r.map_or(row_bytes, |rd| s.strides[rd] * s.elem);
            let inst = Inst::DmaCopy {
                dst: d.at(&idx),
                src: s.at(&idx),
                rows: u32_of(rows, node)?,
                row_bytes: u32_of(row_bytes, node)?,
                dst_stride_bytes: u32_of(dst_stride, node)?,
                src_stride_bytes: u32_of(src_stride, node)?,
            };
            self.push(inst, node);
        }
        Ok(true)
    }

    /// DMA between a view and a dense HBM block of `per_sample` elements per sample.
    fn transfer(&mut self, view: &View, hbm: u64, load: bool, node: &str) -> Result<(), Error> {
        let v = self.opnd(view);
        let per = view.numel();
        let shape = view.shape();
        let dense = crate::lir::dense_dims(&shape);
        let mut hs = vec![per];
        hs.extend(dense.iter().map(|d| d.stride));
        let h = Opnd {
            space: Space::Hbm,
            base: hbm + self.s0 * per * v.elem,
            elem: v.elem,
            strides: hs,
        };
        let ops = if load { vec![v, h] } else { vec![h, v] };
        let nest = Nest {
            sizes: self.sizes(view),
            ops,
        }
        .simplify();
        if !self.copy_dma(&nest, node)? {
            // No contiguous dim: element by element rows.
            let (d, s) = (nest.ops[0].clone(), nest.ops[1].clone());
            let all: Vec<usize> = (0..nest.sizes.len()).collect();
            for idx in nest.indices(&all) {
                let inst = Inst::DmaCopy {
                    dst: d.at(&idx),
                    src: s.at(&idx),
                    rows: 1,
                    row_bytes: u32_of(d.elem, node)?,
                    dst_stride_bytes: u32_of(d.elem, node)?,
                    src_stride_bytes: u32_of(d.elem, node)?,
                };
                self.push(inst, node);
            }
        }
        Ok(())
    }

    // ----- reductions -----

    fn reduce(&mut self, max: bool, src: &View, dst: &View, node: &str) -> Result<(), Error> {
        let l = src
            .dims
            .last()
            .copied()
            .unwrap_or(crate::lir::Dim::new(1, 1));
        if !src.inner_contiguous() {
            return Err(Error::unsupported(
                node,
                "reduction over a strided last axis",
            ));
        }
        let mut lead = src.clone();
        lead.dims.pop();
        let s = self.opnd(&lead);
        let d = self.opnd(dst);
        let nest = Nest {
            sizes: self.sizes(dst),
            ops: vec![d, s],
        }
        .simplify();
        // Rows must be contiguous in dst (vpu.reduce writes dst[0..rows]).
        let nd = nest.sizes.len();
        let rows_dim = (0..nd)
            .filter(|&k| nest.ops[0].strides[k] == 1)
            .max_by_key(|&k| nest.sizes[k]);
        let loops: Vec<usize> = (0..nd).filter(|&k| Some(k) != rows_dim).collect();
        for idx in nest.indices(&loops) {
            let rows = rows_dim.map_or(1, |k| nest.sizes[k]);
            let lda = rows_dim.map_or(0, |k| nest.ops[1].strides[k]);
            let (dd, aa) = (nest.ops[0].at(&idx), nest.ops[1].at(&idx));
            let (rows, cols, lda) = (
                u32_of(rows, node)?,
                u32_of(l.size, node)?,
                u32_of(lda, node)?,
            );
            let inst = if max {
                Inst::VpuReduceMax {
                    dtype: DType::F32,
                    dst: dd,
                    a: aa,
                    rows,
                    cols,
                    lda,
                }
            } else {
                Inst::VpuReduceSum {
                    dtype: DType::F32,
                    dst: dd,
                    a: aa,
                    rows,
                    cols,
                    lda,
                }
            };
            self.push(inst, node);
        }
        Ok(())
    }

    // ----- gathers -----

    #[allow(clippy::too_many_arguments)]
    fn gather(
        &mut self,
        table: usize,
        idx: &View,
        hotness: u64,
        pooling: Option<Pooling>,
        dst: &View,
        engine: bool,
        ws: Workspace,
        node: &str,
    ) -> Result<(), Error> {
        let tb = &self.lir.tables[table];
        let dtype = tb.dtype;
        let taddr = Addr::hbm(self.hbm.table_at[table]);
        let rows = u32_of(tb.rows, node)?;
        let dim = tb.dim;
        let rb = row_bytes(dtype, dim);
        let cache_map = self
            .emb
            .cache_maps
            .get(&table)
            .filter(|_| self.cache)
            .map(|&c| {
                let (s, a) = self.mem.const_addr(c, self.core);
                (Addr::new(s, a), self.lir.konst(c).size_bytes())
            });
        let slots = match (cache_map, self.emb.cache_base.get(&table)) {
            (Some(_), Some(&b)) => (b, tb.hot_rows.len() as u64 * rb),
            _ => (0, 0),
        };
        let iv = self.opnd(idx);
        if !idx.is_contiguous() || iv.strides[0] != hotness {
            return Err(Error::unsupported(
                node,
                "embedding ids must be a dense [B, hotness] input",
            ));
        }
        let hint = |ids: u64| GatherHint {
            ids,
            map_bytes: cache_map.map_or(0, |m| m.1),
            slots,
            row_bytes: rb,
        };
        let mk = |p: Pooling,
                  dst: Addr,
                  idx: Addr,
                  offsets: Addr,
                  bags: u32,
                  ldd: u32,
                  map: Option<Addr>| match p {
            Pooling::Sum => Inst::GatherSum {
                dtype,
                dst,
                table: taddr,
                rows,
                dim: dim as u32,
                idx,
                offsets,
                bags,
                ldd,
                cache_map: map,
            },
            Pooling::Mean => Inst::GatherMean {
                dtype,
                dst,
                table: taddr,
                rows,
                dim: dim as u32,
                idx,
                offsets,
                bags,
                ldd,
                cache_map: map,
            },
            Pooling::Max => Inst::GatherMax {
                dtype,
                dst,
                table: taddr,
                rows,
                dim: dim as u32,
                idx,
                offsets,
                bags,
                ldd,
                cache_map: map,
            },
        };
        let map = cache_map.map(|m| m.0);
        let offsets = |step: u64| {
            let c = self.emb.offsets[&step];
            let (s, a) = self.mem.const_addr(c, self.core);
            Addr::new(s, a)
        };
        match (pooling, engine) {
            (Some(p), true) => {
                let d = self.opnd(dst);
                if !dst.inner_contiguous() {
                    return Err(Error::unsupported(node, "gather rows must be contiguous"));
                }
                let off = offsets(hotness);
                let mut b0 = 0;
                while b0 < self.n {
                    let bags = (self.n - b0).min(gather_bags(hotness));
                    let inst = mk(
                        p,
                        d.at(&[b0]),
                        iv.at(&[b0]),
                        off,
                        u32_of(bags, node)?,
                        u32_of(d.strides[0], node)?,
                        map,
                    );
                    self.s.push(inst, node, Some(hint(bags * hotness)), &[]);
                    b0 += bags;
                }
            }
            (None, _) => {
                // One row per id: dst [B, ids..., dim]; bags run over (sample, id).
                let mut lead = dst.clone();
                lead.dims.pop();
                let d = self.opnd(&lead);
                let i1 = Opnd {
                    strides: {
                        let mut s = vec![hotness];
                        s.extend(
                            crate::lir::dense_dims(&lead.shape())
                                .iter()
                                .map(|x| x.stride),
                        );
                        s
                    },
                    ..iv.clone()
                };
                let nest = Nest {
                    sizes: self.sizes(&lead),
                    ops: vec![d, i1],
                }
                .simplify();
                // The innermost merged dim with unit id stride carries the bags.
                let nd = nest.sizes.len();
                let bag_dim = (0..nd).rev().find(|&k| nest.ops[1].strides[k] == 1);
                let loops: Vec<usize> = (0..nd).filter(|&k| Some(k) != bag_dim).collect();
                let off = offsets(1);
                for ix in nest.indices(&loops) {
                    let total = bag_dim.map_or(1, |k| nest.sizes[k]);
                    let ldd = bag_dim.map_or(dim, |k| nest.ops[0].strides[k]);
                    let mut b0 = 0;
                    while b0 < total {
                        let bags = (total - b0).min(COPY_ROWS);
                        let mut at = ix.clone();
                        if let Some(k) = bag_dim {
                            at[k] = b0;
                        }
                        let inst = mk(
                            Pooling::Sum,
                            nest.ops[0].at(&at),
                            nest.ops[1].at(&at),
                            off,
                            u32_of(bags, node)?,
                            u32_of(ldd, node)?,
                            map,
                        );
                        self.s.push(inst, node, Some(hint(bags)), &[]);
                        b0 += bags;
                    }
                }
            }
            (Some(p), false) => {
                // Row copies into the workspace, pooled on the vector unit.
                let Workspace::RowCopy { arena, chunk } = ws else {
                    unreachable!("vector-pooled gathers get a row-copy workspace")
                };
                let buf = self.mem.arenas[arena].0;
                let d = self.opnd(dst);
                let off = offsets(1);
                let mut s0 = 0;
                while s0 < self.n {
                    let cnt = (self.n - s0).min(chunk);
                    let ids = cnt * hotness;
                    let inst = mk(
                        Pooling::Sum,
                        Addr::local(buf),
                        iv.at(&[s0]),
                        off,
                        u32_of(ids, node)?,
                        u32_of(dim, node)?,
                        map,
                    );
                    self.s.push(inst, node, Some(hint(ids)), &[]);
                    let out = d.at(&[s0]);
                    let ldd = u32_of(d.strides[0], node)?;
                    let lda = u32_of(hotness * dim, node)?;
                    let (r, c) = (u32_of(cnt, node)?, u32_of(dim, node)?);
                    self.push(
                        Inst::VpuCopy {
                            dtype: DType::F32,
                            dst: out,
                            a: Addr::local(buf),
                            rows: r,
                            cols: c,
                            ldd,
                            lda,
                        },
                        node,
                    );
                    for j in 1..hotness {
                        let a = Addr::local(buf + j * dim * 4);
                        let inst = if p == Pooling::Max {
                            Inst::VpuMax {
                                dtype: DType::F32,
                                dst: out,
                                a: out,
                                b: a,
                                rows: r,
                                cols: c,
                                ldd,
                                lda: ldd,
                                ldb: lda,
                                incb: 1,
                            }
                        } else {
                            Inst::VpuAdd {
                                dtype: DType::F32,
                                dst: out,
                                a: out,
                                b: a,
                                rows: r,
                                cols: c,
                                ldd,
                                lda: ldd,
                                ldb: lda,
                                incb: 1,
                            }
                        };
                        self.push(inst, node);
                    }
                    if p == Pooling::Mean && hotness > 0 {
                        self.push(
                            Inst::VpuScale {
                                dtype: DType::F32,
                                dst: out,
                                a: out,
                                scale: F32Imm::new(1.0 / hotness as f32),
                                rows: r,
                                cols: c,
                                ldd,
                                lda: ldd,
                            },
                            node,
                        );
                    }
                    s0 += cnt;
                }
            }
        }
        Ok(())
    }

    // ----- GEMMs -----

    fn gemm(&mut self, g: &Gemm, ws: Workspace, node: &str) -> Result<(), Error> {
        let p = g.precision.unwrap_or(MatPrecision::Bf16);
        let tiles = g.tiles.expect("tile sets every GEMM");
        let Workspace::Gemm { arena } = ws else {
            unreachable!("GEMMs get a GEMM workspace")
        };
        let (wbase, _) = self.mem.arenas[arena];
        let e = p.dtype().size_bytes().unwrap_or(1);
        let acc_bytes = align(tiles.mt * tiles.acc_cols * 4);
        let wtile_bytes = align(tiles.kt * tiles.nt * e);
        let acc_at = |slot: u64| wbase + slot * acc_bytes;
        let w_at = |slot: u64| wbase + 2 * acc_bytes + slot * wtile_bytes;
        if !g.a.inner_contiguous() || !g.dst.inner_contiguous() {
            return Err(Error::unsupported(
                node,
                "GEMM operands need contiguous rows",
            ));
        }
        // Row groups: the leading dims of a and dst, merged.
        let mut la = g.a.clone();
        la.dims.pop();
        let mut ld = g.dst.clone();
        ld.dims.pop();
        let nest = Nest {
            sizes: self.sizes(&la),
            ops: vec![self.opnd(&la), self.opnd(&ld)],
        }
        .simplify();
        let nd = nest.sizes.len();
        let rows_dim = if nd == 0 { None } else { Some(nd - 1) };
        let loops: Vec<usize> = (0..nd).filter(|&k| Some(k) != rows_dim).collect();
        let (k, n) = (g.k, g.n);
        let k_tiles = k.div_ceil(tiles.kt);
        // Column blocks `[j_lo, j_hi)` of the weight: this kernel's columns (a slice of a split
        // GEMM starts on a block boundary).
        let (j_lo, j_hi) = (g.cols.0 / tiles.nt, g.cols.1.div_ceil(tiles.nt));
        // Column blocks per accumulator: blocks `j` with the same `(j - j_lo) / per_acc` accumulate side
        // by side and share one epilogue.
        let per_acc = (tiles.acc_cols / tiles.nt).max(1);
        let acc_group = |j: u64| -> (u64, u64) {
            let j0 = j_lo + (j - j_lo) / per_acc * per_acc;
            let cols = (g.cols.1 - j0 * tiles.nt).min(per_acc * tiles.nt);
            (j0, cols)
        };
        let wbase_hbm = self.hbm.weight_at[&g.w];
        let tile_off = |i: u64, j: u64| -> (u64, u64, u64) {
            let ntj = tiles.nt.min(n - j * tiles.nt);
            let kti = tiles.kt.min(k - i * tiles.kt);
            ((j * k * tiles.nt + i * tiles.kt * ntj) * e, kti, ntj)
        };
        // Steps: (group index, m0, rows, j, i).
        // Within one accumulator the reduction is the outer loop: the products of input
        // column block `i` run before those of block `i + 1`, so a GEMM can start on the first
        // columns of its input while the vector unit still produces the last ones.
        let groups = nest.indices(&loops);
        let mut steps = Vec::new();
        for (gi, _) in groups.iter().enumerate() {
            let total = rows_dim.map_or(1, |d| nest.sizes[d]);
            let mut m0 = 0;
            while m0 < total {
                let rows = (total - m0).min(tiles.mt);
                let mut j0 = j_lo;
                while j0 < j_hi {
                    let j1 = (j0 + per_acc).min(j_hi);
                    for i in 0..k_tiles {
                        for j in j0..j1 {
                            steps.push((gi, m0, rows, j, i));
                        }
                    }
                    j0 = j1;
                }
                m0 += rows;
            }
        }
        let load =
            |em: &mut Self, (_, _, _, j, i): (usize, u64, u64, u64, u64)| -> Result<u64, Error> {
                let (off, kti, ntj) = tile_off(i, j);
                let slot = em.wslot % tiles.w_buffers;
                em.wslot += 1;
                let bytes = kti * ntj * e;
                em.push(
                    Inst::DmaCopy {
                        dst: Addr::local(w_at(slot)),
                        src: Addr::hbm(wbase_hbm + off),
                        rows: 1,
                        row_bytes: u32_of(bytes, node)?,
                        dst_stride_bytes: u32_of(bytes, node)?,
                        src_stride_bytes: u32_of(bytes, node)?,
                    },
                    node,
                );
                if em.interleave_fills {
                    em.push_fills(FILLS_PER_TILE)?;
                }
                Ok(slot)
            };
        let mut next_slot = if steps.is_empty() {
            0
        } else {
            load(self, steps[0])?
        };
        let mut acc_slot = 0;
        for (si, &(gi, m0, rows, j, i)) in steps.iter().enumerate() {
            let slot = next_slot;
            if si + 1 < steps.len() {
                next_slot = load(self, steps[si + 1])?;
            }
            let (j0, gcols) = acc_group(j);
            if i == 0 && j == j0 {
                acc_slot = self.accslot[arena % 2] % 2;
                self.accslot[arena % 2] += 1;
            }
            let (_, kti, ntj) = tile_off(i, j);
            let acc_addr = acc_at(acc_slot) + (j - j0) * tiles.nt * 4;
            let mut at = groups[gi].clone();
            if let Some(d) = rows_dim {
                at[d] = m0;
            }
            let lda = rows_dim.map_or(0, |d| nest.ops[0].strides[d]);
            let a_addr = nest.ops[0].at(&at);
            let a_addr = Addr::new(a_addr.space, a_addr.offset + i * tiles.kt * e);
            self.push(
                Inst::MxuMatmul {
                    dtype: p.dtype(),
                    acc: Addr::local(acc_addr),
                    a: a_addr,
                    b: Addr::local(w_at(slot)),
                    m: u32_of(rows, node)?,
                    k: u32_of(kti, node)?,
                    n: u32_of(ntj, node)?,
                    lda: u32_of(lda, node)?,
                    ldb: u32_of(ntj, node)?,
                    ldacc: u32_of(gcols, node)?,
                    accumulate: i > 0,
                    transpose_b: false,
                },
                node,
            );
            let group_done = j + 1 == j_hi || acc_group(j + 1).0 != j0;
            if i + 1 == k_tiles && group_done {
                // The last product of the accumulator's last column block: finish it.
                let ldd = rows_dim.map_or(0, |d| nest.ops[1].strides[d]);
                let d_addr = nest.ops[1].at(&at);
                let d_elem = nest.ops[1].elem;
                let d_addr = Addr::new(
                    d_addr.space,
                    d_addr.offset + (j0 * tiles.nt - g.cols.0) * d_elem,
                );
                self.epilogue(
                    g,
                    p,
                    acc_at(acc_slot),
                    rows,
                    gcols,
                    j0 * tiles.nt,
                    d_addr,
                    ldd,
                    node,
                )?;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn epilogue(
        &mut self,
        g: &Gemm,
        p: MatPrecision,
        acc: u64,
        rows: u64,
        cols: u64,
        n0: u64,
        dst: Addr,
        ldd: u64,
        node: &str,
    ) -> Result<(), Error> {
        let epi = g.epilogue.as_ref().expect("quantize sets epilogues");
        let (r, c) = (u32_of(rows, node)?, u32_of(cols, node)?);
        let ldd = u32_of(ldd, node)?;
        let a = Addr::local(acc);
        let const_at = |em: &Self, cid: crate::lir::ConstId, elem: u64| {
            let (s, x) = em.mem.const_addr(cid, em.core);
            Addr::new(s, x + n0 * elem)
        };
        if let Some(rq) = &epi.requant {
            if let Some(b) = rq.bias {
                let bb = const_at(self, b, 4);
                self.push(
                    Inst::VpuAdd {
                        dtype: DType::I32,
                        dst: a,
                        a,
                        b: bb,
                        rows: r,
                        cols: c,
                        ldd: c,
                        lda: c,
                        ldb: 0,
                        incb: 1,
                    },
                    node,
                );
            }
            let inst = Inst::VpuRequantPc {
                dtype: DType::I8,
                dst,
                a,
                rows: r,
                cols: c,
                ldd,
                lda: c,
                multipliers: const_at(self, rq.multipliers, 4),
                shifts: const_at(self, rq.shifts, 4),
                zero_point: rq.zero_point,
            };
            self.push(inst, node);
            if rq.relu {
                self.push(
                    Inst::VpuRelu {
                        dtype: DType::I8,
                        dst,
                        a: dst,
                        rows: r,
                        cols: c,
                        ldd,
                        lda: ldd,
                    },
                    node,
                );
            }
            return Ok(());
        }
        // Float path: a list of in-place steps on the f32 accumulator; the last one writes dst.
        enum Step {
            CvtI32,
            MulCols(Addr),
            AddCols(Addr),
            AddScalar(Addr),
            Act(UnaryOp),
            Scale(f32),
            Out(DType),
        }
        let mut steps = Vec::new();
        if p == MatPrecision::I8 {
            steps.push(Step::CvtI32);
        }
        if let Some(d) = epi.dequant {
            steps.push(Step::MulCols(const_at(self, d, 4)));
        }
        if let Some(b) = epi.bias {
            steps.push(Step::AddCols(const_at(self, b, 4)));
        }
        if let Some(u) = act_op(epi.act) {
            steps.push(Step::Act(u));
        }
        let out_dtype = match epi.out {
            OutConv::None => DType::F32,
            OutConv::Bf16 => DType::Bf16,
            OutConv::Quant {
                to,
                inv_scale,
                zero_point,
            } => {
                steps.push(Step::Scale(inv_scale));
                if let Some(z) = zero_point {
                    let (s, x) = self.mem.const_addr(z, self.core);
                    steps.push(Step::AddScalar(Addr::new(s, x)));
                }
                to
            }
        };
        if out_dtype != DType::F32 {
            steps.push(Step::Out(out_dtype));
        } else if !matches!(
            steps.last(),
            Some(Step::MulCols(_) | Step::AddCols(_) | Step::Act(_) | Step::Scale(_))
        ) {
            steps.push(Step::Out(DType::F32));
        }
        let count = steps.len();
        for (si, step) in steps.into_iter().enumerate() {
            let last = si + 1 == count;
            let (d, dl) = if last { (dst, ldd) } else { (a, c) };
            let inst = match step {
                Step::CvtI32 => Inst::VpuCvt {
                    from: DType::I32,
                    to: DType::F32,
                    dst: d,
                    a,
                    rows: r,
                    cols: c,
                    ldd: dl,
                    lda: c,
                },
                Step::MulCols(s) => Inst::VpuMul {
                    dtype: DType::F32,
                    dst: d,
                    a,
                    b: s,
                    rows: r,
                    cols: c,
                    ldd: dl,
                    lda: c,
                    ldb: 0,
                    incb: 1,
                },
                Step::AddScalar(b) => Inst::VpuAdd {
                    dtype: DType::F32,
                    dst: d,
                    a,
                    b,
                    rows: r,
                    cols: c,
                    ldd: dl,
                    lda: c,
                    ldb: 0,
                    incb: 0,
                },
                Step::AddCols(b) => Inst::VpuAdd {
                    dtype: DType::F32,
                    dst: d,
                    a,
                    b,
                    rows: r,
                    cols: c,
                    ldd: dl,
                    lda: c,
                    ldb: 0,
                    incb: 1,
                },
                Step::Act(u) => unary_inst(u, DType::F32, d, a, r, c, dl, c),
                Step::Scale(s) => Inst::VpuScale {
                    dtype: DType::F32,
                    dst: d,
                    a,
                    scale: F32Imm::new(s),
                    rows: r,
                    cols: c,
                    ldd: dl,
                    lda: c,
                },
                Step::Out(DType::F32) => Inst::VpuCopy {
                    dtype: DType::F32,
                    dst: d,
                    a,
                    rows: r,
                    cols: c,
                    ldd: dl,
                    lda: c,
                },
                Step::Out(to) => Inst::VpuCvt {
                    from: DType::F32,
                    to,
                    dst: d,
                    a,
                    rows: r,
                    cols: c,
                    ldd: dl,
                    lda: c,
                },
            };
            self.push(inst, node);
        }
        Ok(())
    }

    // ----- batched products -----

    fn bmm(&mut self, b: &Bmm, ws: Workspace, node: &str) -> Result<(), Error> {
        let p = b.precision.unwrap_or(MatPrecision::Bf16);
        let e = p.dtype().size_bytes().unwrap_or(1);
        let ra = b.a.dims.len();
        let (m, k) = (b.a.dims[ra - 2].size, b.a.dims[ra - 1].size);
        let n = b.dst.dims[ra - 1].size;
        let lda = b.a.dims[ra - 2].stride;
        let ldb = b.b.dims[ra - 2].stride;
        let ldd = b.dst.dims[ra - 2].stride;
        if !b.a.inner_contiguous() || !b.b.inner_contiguous() || !b.dst.inner_contiguous() {
            return Err(Error::unsupported(
                node,
                "batched matmul operands need contiguous rows",
            ));
        }
        let lead = |v: &View| {
            let mut l = v.clone();
            l.dims.truncate(ra - 2);
            l
        };
        let (la, lb, ld) = (lead(&b.a), lead(&b.b), lead(&b.dst));
        let nest = Nest {
            sizes: self.sizes(&la),
            ops: vec![self.opnd(&la), self.opnd(&lb), self.opnd(&ld)],
        }
        .simplify();
        let nd = nest.sizes.len();
        let count_dim = (0..nd).max_by_key(|&d| (nest.sizes[d], d));
        let loops: Vec<usize> = (0..nd).filter(|&d| Some(d) != count_dim).collect();
        let kt = self.t.rows.min(k).max(1);
        let nt = self.t.cols.min(n).max(1);
        let ws_acc = match ws {
            Workspace::BmmI8 { arena, count, rows } => {
                Some((self.mem.arenas[arena].0, count, rows))
            }
            _ => None,
        };
        for idx in nest.indices(&loops) {
            let total = count_dim.map_or(1, |d| nest.sizes[d]);
            let stride = |o: usize| count_dim.map_or(0, |d| nest.ops[o].strides[d]);
            let (cc, mc) = match ws_acc {
                Some((_, c, r)) => (c.min(total).max(1), r.min(m).max(1)),
                None => (total, m),
            };
            let mut c0 = 0;
            while c0 < total {
                let cnt = (total - c0).min(cc);
                let mut at = idx.clone();
                if let Some(d) = count_dim {
                    at[d] = c0;
                }
                let (a0, b0, d0) = (
                    nest.ops[0].at(&at),
                    nest.ops[1].at(&at),
                    nest.ops[2].at(&at),
                );
                let mut m0 = 0;
                while m0 < m {
                    let rows = (m - m0).min(mc);
                    let mut n0 = 0;
                    while n0 < n {
                        let cols = (n - n0).min(nt);
                        let (acc, ldacc, sacc) = match ws_acc {
                            Some((base, _, _)) => (Addr::local(base), cols, rows * cols),
                            None => (
                                Addr::new(d0.space, d0.offset + (m0 * ldd + n0) * 4),
                                ldd,
                                stride(2),
                            ),
                        };
                        let mut k0 = 0;
                        while k0 < k {
                            let kk = (k - k0).min(kt);
                            let aa = Addr::new(a0.space, a0.offset + (m0 * lda + k0) * e);
                            let bb = if b.transpose_b {
                                Addr::new(b0.space, b0.offset + (n0 * ldb + k0) * e)
                            } else {
                                Addr::new(b0.space, b0.offset + (k0 * ldb + n0) * e)
                            };
                            let (mu, ku, nu) =
                                (u32_of(rows, node)?, u32_of(kk, node)?, u32_of(cols, node)?);
                            let inst = if cnt == 1 {
                                Inst::MxuMatmul {
                                    dtype: p.dtype(),
                                    acc,
                                    a: aa,
                                    b: bb,
                                    m: mu,
                                    k: ku,
                                    n: nu,
                                    lda: u32_of(lda, node)?,
                                    ldb: u32_of(ldb, node)?,
                                    ldacc: u32_of(ldacc, node)?,
                                    accumulate: k0 > 0,
                                    transpose_b: b.transpose_b,
                                }
                            } else {
                                Inst::MxuMatmulBatch {
                                    dtype: p.dtype(),
                                    acc,
                                    a: aa,
                                    b: bb,
                                    m: mu,
                                    k: ku,
                                    n: nu,
                                    lda: u32_of(lda, node)?,
                                    ldb: u32_of(ldb, node)?,
                                    ldacc: u32_of(ldacc, node)?,
                                    accumulate: k0 > 0,
                                    transpose_b: b.transpose_b,
                                    count: u32_of(cnt, node)?,
                                    stride_a: u32_of(stride(0), node)?,
                                    stride_b: u32_of(stride(1), node)?,
                                    stride_acc: u32_of(sacc, node)?,
                                }
                            };
                            self.push(inst, node);
                            k0 += kk;
                        }
                        if let Some((base, _, _)) = ws_acc {
                            // int32 → f32 in place, then the dequantizing scale into dst.
                            let tile = Addr::local(base);
                            let (rr, cu) = (u32_of(cnt * rows, node)?, u32_of(cols, node)?);
                            self.push(
                                Inst::VpuCvt {
                                    from: DType::I32,
                                    to: DType::F32,
                                    dst: tile,
                                    a: tile,
                                    rows: rr,
                                    cols: cu,
                                    ldd: cu,
                                    lda: cu,
                                },
                                node,
                            );
                            let s = b.dequant.unwrap_or(1.0);
                            for q in 0..cnt {
                                let dq = Addr::new(
                                    d0.space,
                                    d0.offset + (q * stride(2) + m0 * ldd + n0) * 4,
                                );
                                let src = Addr::local(base + q * rows * cols * 4);
                                self.push(
                                    Inst::VpuScale {
                                        dtype: DType::F32,
                                        dst: dq,
                                        a: src,
                                        scale: F32Imm::new(s),
                                        rows: u32_of(rows, node)?,
                                        cols: cu,
                                        ldd: u32_of(ldd, node)?,
                                        lda: cu,
                                    },
                                    node,
                                );
                            }
                        }
                        n0 += cols;
                    }
                    m0 += rows;
                }
                c0 += cnt;
            }
        }
        if ws_acc.is_none()
            && let Some(s) = b.dequant
        {
            self.elementwise(VOp::Scale(s), &b.dst, &b.dst, None, node)?;
        }
        Ok(())
    }

    /// Ragged bags: the engine reads the micro-batch's `bags + 1` offsets and the ids they
    /// select straight from the HBM bindings (offsets are absolute positions in the whole
    /// batch's id list), in chunks of [`GATHER_BAGS`] bags.
    fn gather_ragged(
        &mut self,
        table: usize,
        ids: usize,
        offsets: usize,
        pooling: Pooling,
        dst: &View,
        node: &str,
    ) -> Result<(), Error> {
        if self.t.gather_engines == 0 || !self.t.gather_pooling.contains(&pooling) {
            return Err(Error::unsupported(
                node,
                format!(
                    "ragged embedding bags ({} pooling) need gather engines that pool it; chip \
                     `{}` has {} gather engines{}",
                    pooling.name(),
                    self.t.name,
                    self.t.gather_engines,
                    if self.t.gather_engines > 0 {
                        " without that pooling"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let capacity = match self.lir.inputs[ids].layout {
            crate::lir::IoLayout::RaggedIds { capacity } => capacity,
            _ => panic!("ragged gather ids must be a RaggedIds input"),
        };
        let tb = &self.lir.tables[table];
        let (dtype, dim) = (tb.dtype, tb.dim);
        let rows = u32_of(tb.rows, node)?;
        let rb = row_bytes(dtype, dim);
        let cache_map = self
            .emb
            .cache_maps
            .get(&table)
            .filter(|_| self.cache)
            .map(|&c| {
                let (s, a) = self.mem.const_addr(c, self.core);
                (Addr::new(s, a), self.lir.konst(c).size_bytes())
            });
        let slots = match (cache_map, self.emb.cache_base.get(&table)) {
            (Some(_), Some(&b)) => (b, tb.hot_rows.len() as u64 * rb),
            _ => (0, 0),
        };
        // Which ids a chunk reads is known only at run time: its footprint is the whole list.
        let hint = GatherHint {
            ids: capacity,
            map_bytes: cache_map.map_or(0, |m| m.1),
            slots,
            row_bytes: rb,
        };
        let d = self.opnd(dst);
        if !dst.inner_contiguous() {
            return Err(Error::unsupported(node, "gather rows must be contiguous"));
        }
        let table_at = Addr::hbm(self.hbm.table_at[table]);
        let ids_at = Addr::hbm(self.hbm.input_at[ids]);
        let offsets_at = self.hbm.input_at[offsets];
        let ldd = u32_of(d.strides[0], node)?;
        let dim = u32_of(dim, node)?;
        let mut b0 = 0;
        while b0 < self.n {
            let bags = u32_of((self.n - b0).min(GATHER_BAGS), node)?;
            let inst = pooled_gather(
                pooling,
                dtype,
                d.at(&[b0]),
                table_at,
                rows,
                dim,
                ids_at,
                Addr::hbm(offsets_at + 4 * (self.s0 + b0)),
                bags,
                ldd,
                cache_map.map(|m| m.0),
            );
            self.s.push(inst, node, Some(hint), &[]);
            b0 += u64::from(bags);
        }
        Ok(())
    }

    fn kernel(&mut self, ki: usize) -> Result<(), Error> {
        let k = &self.lir.kernels[ki];
        let node = k.node.as_str();
        let ws = self.mem.workspace[ki];
        match &k.op {
            KOp::Load { input, dst } => {
                let at = self.hbm.input_at[*input];
                self.transfer(dst, at, true, node)
            }
            KOp::Store { src, output } => {
                let at = self.hbm.output_at[*output];
                self.transfer(src, at, false, node)
            }
            KOp::Gather {
                table,
                idx,
                hotness,
                pooling,
                dst,
                engine,
            } => self.gather(*table, idx, *hotness, *pooling, dst, *engine, ws, node),
            KOp::GatherRagged {
                table,
                ids,
                offsets,
                pooling,
                dst,
            } => self.gather_ragged(*table, *ids, *offsets, *pooling, dst, node),
            KOp::Gemm(g) => self.gemm(g, ws, node),
            KOp::Bmm(b) => self.bmm(b, ws, node),
            KOp::Vpu { op, dst, a, b } => self.elementwise(*op, dst, a, b.as_ref(), node),
            KOp::Reduce { max, src, dst } => self.reduce(*max, src, dst, node),
        }
    }

    /// The vector constants' load, and this core's share of the hot-row fills (queued).
    fn prologue(&mut self) -> Result<(), Error> {
        let node = "prologue";
        if self.mem.consts_bytes > 0 {
            let (s, at) = self.mem.absolute(self.mem.consts_at, self.core);
            let bytes = u32_of(self.mem.consts_bytes, node)?;
            self.push(
                Inst::DmaCopy {
                    dst: Addr::new(s, at),
                    src: Addr::hbm(self.hbm.consts_at),
                    rows: 1,
                    row_bytes: bytes,
                    dst_stride_bytes: bytes,
                    src_stride_bytes: bytes,
                },
                node,
            );
        }
        let cores = self.mem.cores as usize;
        self.fills = (0..self.emb.fills.len())
            .filter(|fi| fi % cores == self.core)
            .collect();
        Ok(())
    }

    /// Emits up to `count` queued hot-row fills.
    fn push_fills(&mut self, count: usize) -> Result<(), Error> {
        for _ in 0..count {
            let Some(fi) = self.fills.pop_front() else {
                break;
            };
            let (table, row, rows, at) = self.emb.fills[fi];
            let tb = &self.lir.tables[table];
            let rb = row_bytes(tb.dtype, tb.dim);
            let bytes = u32_of(rows * rb, "hot-row cache")?;
            let r = self.s.push(
                Inst::DmaCopy {
                    dst: Addr::shared(at),
                    src: Addr::hbm(self.hbm.table_at[table] + row * rb),
                    rows: 1,
                    row_bytes: bytes,
                    dst_stride_bytes: bytes,
                    src_stride_bytes: bytes,
                },
                "hot-row cache",
                None,
                &[],
            );
            self.filled.push(r);
        }
        Ok(())
    }

    /// Emits the remaining fills and the barrier after which every core's gathers may read the
    /// cache.
    fn finish_fills(&mut self) -> Result<(), Error> {
        self.interleave_fills = false;
        if self.emb.fills.is_empty() {
            self.cache = true;
            return Ok(());
        }
        let n = self.fills.len();
        self.push_fills(n)?;
        let cores = self.mem.cores as usize;
        if cores > 1 {
            let sem = ChipSem::new(0).expect("g0 exists");
            let mine = std::mem::take(&mut self.filled);
            let b = self.s.push(
                Inst::CtlBarrier {
                    sem,
                    count: u32_of(cores as u64, "hot-row cache")?,
                },
                "hot-row cache",
                None,
                &mine,
            );
            self.s
                .mark_written(Space::Shared, 0, self.emb.cache_bytes, b);
        }
        self.cache = true;
        Ok(())
    }

    /// Kernel `ki` over the micro-batch of `n` samples starting `done` samples into the core's
    /// slice, as `parts` row blocks.
    fn kernel_mb(&mut self, ki: usize, first: u64, done: u64, n: u64) -> Result<(), Error> {
        let part = n.div_ceil(self.mem.parts.max(1));
        let mut sub = 0;
        while sub < n {
            self.n = part.min(n - sub);
            self.sub0 = sub;
            self.s0 = first + done + sub;
            self.kernel(ki)?;
            sub += self.n;
        }
        Ok(())
    }
}

/// Columns of one slice of an elementwise run: a whole vector-unit width (a strided row
/// narrower than the lanes would waste them), in whole array rows so a GEMM's input column
/// blocks never straddle two slices.
/// Most slices a column run is cut into.
const MAX_SLICES: u64 = 16;

fn slice_cols(t: &Target) -> u64 {
    t.lanes.max(1).div_ceil(t.rows.max(1)) * t.rows.max(1)
}

/// The column slice `[c0, c0 + w)` of a view over `width` elements per sample: the contiguous
/// part, or the same broadcast (all strides 0).
fn slice_view(v: &View, c0: u64, w: u64) -> View {
    if v.dims.iter().all(|d| d.stride == 0 || d.size == 1) && v.numel() > 1 {
        View {
            base: v.base,
            offset: v.offset,
            dims: vec![Dim::new(w, 0)],
        }
    } else {
        View {
            base: v.base,
            offset: v.offset + c0,
            dims: vec![Dim::new(w, 1)],
        }
    }
}

/// A run of elementwise kernels from `ki` that can be emitted column slice by column slice:
/// every operand covers the same `width` elements per sample, contiguous (or one broadcast
/// value), and every tensor is seen at one offset, so element `c` of each operand is the same
/// element everywhere in the run and slice-major order computes exactly what kernel-major
/// order does. Returns the end of the run and `width`, when `width` exceeds one slice.
///
/// Run slice by slice ([`slice_runs`]), the slices of a GEMM's input come out one after
/// another: the GEMM (which reduces over its input's column blocks in order) starts on the
/// first slice while the vector unit produces the rest, instead of waiting for whole-tensor
/// instructions (DCN-v2's gate, residual and requantization over 3,456 columns).
fn column_run(lir: &Lir, ki: usize, slice: u64) -> Option<(usize, u64)> {
    let mut width = None;
    let mut offsets: BTreeMap<Base, u64> = BTreeMap::new();
    let mut end = ki;
    'kernels: for k in &lir.kernels[ki..] {
        let KOp::Vpu { dst, a, b, .. } = &k.op else {
            break;
        };
        let w = dst.numel();
        if *width.get_or_insert(w) != w || dst.tensor().is_none() {
            break;
        }
        let mut seen = offsets.clone();
        for v in [Some(dst), Some(a), b.as_ref()].into_iter().flatten() {
            let broadcast = v.dims.iter().all(|d| d.stride == 0 || d.size == 1) && w > 1;
            if v.numel() != w || !(v.is_contiguous() || broadcast) {
                break 'kernels;
            }
            if broadcast && v.tensor().is_some() {
                break 'kernels;
            }
            if !broadcast && *seen.entry(v.base).or_insert(v.offset) != v.offset {
                break 'kernels;
            }
        }
        offsets = seen;
        end += 1;
    }
    // Only a few slices: a run over a whole sequence (HSTU's 256 × 512 values per sample) cut
    // into 512-column pieces would be thousands of instructions of a few rows each.
    let width = width?;
    (end > ki && width > slice && width <= MAX_SLICES * slice).then_some((end, width))
}

/// Rewrites every column run ([`column_run`]) slice-major: the run's kernels for columns
/// `[0, s)`, then for `[s, 2s)`, and so on. A tensor that only the run touches (a temporary
/// such as DCN-v2's gate product or the scaled value before its int8 conversion) becomes one
/// small tensor per slice, so it needs a slice of SRAM rather than the whole tensor, and can
/// stay in local SRAM while the persistent operands sit in the shared SRAM.
pub fn slice_runs(lir: &mut Lir, t: &Target) {
    let slice = slice_cols(t);
    let mut runs = Vec::new();
    let mut ki = 0;
    while ki < lir.kernels.len() {
        match column_run(lir, ki, slice) {
            Some((end, width)) => {
                runs.push((ki, end, width));
                ki = end;
            }
            None => ki += 1,
        }
    }
    if runs.is_empty() {
        return;
    }
    // Which kernels touch each tensor.
    let mut touched: BTreeMap<Base, Vec<usize>> = BTreeMap::new();
    for (i, k) in lir.kernels.iter().enumerate() {
        let (r, w) = Lir::views(&k.op);
        for v in r.into_iter().chain(w) {
            if matches!(v.base, Base::Tensor(_)) {
                touched.entry(v.base).or_default().push(i);
            }
        }
    }
    let old = std::mem::take(&mut lir.kernels);
    let mut out = Vec::with_capacity(old.len());
    let mut next_run = runs.into_iter().peekable();
    let mut ki = 0;
    while ki < old.len() {
        let Some(&(start, end, width)) = next_run.peek().filter(|r| r.0 == ki) else {
            out.push(old[ki].clone());
            ki += 1;
            continue;
        };
        next_run.next();
        // The GEMM right before the run, when only the run reads its result: it is split into
        // one GEMM per column slice (see `split_gemm`), so its result becomes a temporary too.
        let producer = split_gemm(lir, t, &old, &touched, start, end, width);
        if producer.is_some() {
            out.pop();
        }
        // Temporaries: tensors only this run (and a split producer) touch, each exactly
        // `width` per sample, seen from offset 0.
        let mut temps: BTreeMap<Base, ()> = BTreeMap::new();
        for k in &old[start..end] {
            let (r, w) = Lir::views(&k.op);
            for v in r.into_iter().chain(w) {
                let Base::Tensor(id) = v.base else { continue };
                let only_here = touched[&v.base]
                    .iter()
                    .all(|&i| (start..end).contains(&i) || (producer.is_some() && i + 1 == start));
                if only_here && v.offset == 0 && lir.tensors[id.index()].per_sample == width {
                    temps.insert(v.base, ());
                }
            }
        }
        // Slices of the run (and of its split producer), in column order.
        let mut gemm_slices: Vec<crate::lir::Kernel> = Vec::new();
        let mut run_slices: Vec<Vec<crate::lir::Kernel>> = Vec::new();
        let mut c0 = 0;
        while c0 < width {
            let w = slice.min(width - c0);
            let mut renamed: BTreeMap<Base, Base> = BTreeMap::new();
            for &b in temps.keys() {
                let Base::Tensor(id) = b else { continue };
                let mut tt = lir.tensors[id.index()].clone();
                tt.name = format!("{}[{c0}..{}]", tt.name, c0 + w);
                tt.per_sample = w;
                let nid = TensorId(lir.tensors.len() as u32);
                lir.tensors.push(tt);
                renamed.insert(b, Base::Tensor(nid));
            }
            let cut = |v: &View| match renamed.get(&v.base) {
                Some(&nb) => View {
                    base: nb,
                    offset: 0,
                    dims: vec![Dim::new(w, 1)],
                },
                None => slice_view(v, c0, w),
            };
            if let Some(g) = &producer {
                let mut gs = g.clone();
                gs.cols = (c0, c0 + w);
                gs.dst = cut(&g.dst);
                gemm_slices.push(crate::lir::Kernel {
                    op: KOp::Gemm(Box::new(gs)),
                    node: old[start - 1].node.clone(),
                });
            }
            let mut kernels = Vec::new();
            for k in &old[start..end] {
                let KOp::Vpu { op, dst, a, b } = &k.op else {
                    unreachable!("column runs hold elementwise kernels")
                };
                kernels.push(crate::lir::Kernel {
                    op: KOp::Vpu {
                        op: *op,
                        dst: cut(dst),
                        a: cut(a),
                        b: b.as_ref().map(cut),
                    },
                    node: k.node.clone(),
                });
            }
            run_slices.push(kernels);
            c0 += w;
        }
        if gemm_slices.is_empty() {
            out.extend(run_slices.into_iter().flatten());
        } else {
            interleave(t, gemm_slices, run_slices, &mut out);
        }
        ki = end;
    }
    lir.kernels = out;
}

/// The GEMM at `start - 1` when it can be split into the column slices of the run
/// `[start, end)`: its result is a whole tensor of `width` columns per sample (one row per
/// sample), only this GEMM and the run touch it, and the slices fall on the weight's column
/// blocks. Split, the run's slice `j` needs only the GEMM's slice `j` (and its epilogue), so
/// the vector unit works on the run while the matrix unit computes the next slices, and the
/// GEMM's result needs a slice of SRAM at a time instead of the whole tensor (DCN-v2's
/// `wu` product, 3,456 f32 columns, read once by the gate).
fn split_gemm(
    lir: &Lir,
    t: &Target,
    old: &[crate::lir::Kernel],
    touched: &BTreeMap<Base, Vec<usize>>,
    start: usize,
    end: usize,
    width: u64,
) -> Option<Gemm> {
    let slice = slice_cols(t);
    let KOp::Gemm(g) = &old.get(start.checked_sub(1)?)?.op else {
        return None;
    };
    let id = g.dst.tensor()?;
    let nt = g.n.min(t.cols).max(1);
    let whole = g.cols == (0, g.n)
        && g.n == width
        && g.dst.offset == 0
        && g.dst.numel() == width
        && g.dst.is_contiguous()
        && lir.tensor(id).per_sample == width
        && slice.is_multiple_of(nt);
    let only_run = touched[&g.dst.base]
        .iter()
        .all(|&i| i + 1 == start || (start..end).contains(&i));
    (whole && only_run).then(|| (**g).clone())
}

/// Program order of a split GEMM's slices and its run's slices. The queues are in order, so
/// this order is the vector unit's: each GEMM slice's epilogue must come soon after its
/// products (the matrix unit reuses its accumulator two slices later), while the run's
/// slices fill the vector unit's idle time between epilogues; what is left follows the last
/// GEMM slice, where the next GEMM (DCN-v2's next `vx`, which reduces over the run's output
/// slice by slice) starts on the slices already done. A small timing model of both units
/// (per `units × rows` rows: products at the array rate, vector work at the lanes' rate)
/// places a run slice before GEMM slice `j + 1` when it does not delay that slice's epilogue
/// by more than `SLACK` epilogues' time.
/// Accumulators a split GEMM's slices rotate through (two per workspace arena, and
/// consecutive GEMM kernels alternate arenas).
const ACCS: usize = 4;
/// How late (in epilogues) a run slice may make the next GEMM slice's epilogue. With four
/// accumulators the matrix unit has room to run ahead, so delaying epilogues a little to
/// finish run slices early costs it nothing, while every run slice done before the GEMM's
/// last slice is one the next GEMM need not wait for. DLRM-v2 at batch 2048: 1 → 331.8 k
/// cycles, 1.5 and 2 → 316.7 k, 2.5 and 3 → 321.6 k.
const SLACK: f64 = 2.0;

fn interleave(
    t: &Target,
    gemms: Vec<crate::lir::Kernel>,
    runs: Vec<Vec<crate::lir::Kernel>>,
    out: &mut Vec<crate::lir::Kernel>,
) {
    let m = (t.units * t.rows).max(1) as f64;
    let lanes = t.lanes.max(1) as f64;
    let mxu = |k: &crate::lir::Kernel| -> (f64, f64) {
        let KOp::Gemm(g) = &k.op else {
            return (0.0, 0.0);
        };
        let p = g.precision.unwrap_or(MatPrecision::Bf16);
        let stretch = (t.units * t.rows * t.cols) as f64 / t.macs(p).max(1) as f64;
        let tiles = g.k.div_ceil(t.rows.max(1)) * g.width().div_ceil(t.cols.max(1));
        let products = tiles as f64 * (m / t.units.max(1) as f64).max(t.rows as f64) * stretch;
        let epilogue = crate::passes::tile::epilogue_ops(g) as f64 * m * g.width() as f64 / lanes;
        (products, epilogue)
    };
    let vpu = |ks: &[crate::lir::Kernel]| -> f64 {
        ks.iter()
            .map(|k| match &k.op {
                KOp::Vpu { dst, .. } => m * dst.numel() as f64 / lanes + 8.0,
                _ => 0.0,
            })
            .sum()
    };
    let costs: Vec<(f64, f64)> = gemms.iter().map(mxu).collect();
    let mut runs: std::collections::VecDeque<Vec<crate::lir::Kernel>> = runs.into();
    // Finish times: of each GEMM slice's products and of its epilogue.
    let mut mxu_end: Vec<f64> = Vec::new();
    let mut epi_end: Vec<f64> = Vec::new();
    let mut vpu_t = 0.0f64;
    let mut ready_runs = 0usize;
    for (j, g) in gemms.into_iter().enumerate() {
        let (prod, epi) = costs[j];
        // Slice `j` reuses the accumulator of slice `j - ACCS`.
        let start = mxu_end.last().copied().unwrap_or(0.0).max(if j >= ACCS {
            epi_end[j - ACCS]
        } else {
            0.0
        });
        let end = start + prod;
        // Run slices whose GEMM slice is done go first while the vector unit would otherwise
        // wait for this slice's products.
        while ready_runs > 0 && j > 0 {
            let c = vpu(&runs[0]);
            if vpu_t.max(epi_end[j - 1]) + c > end + epi * SLACK {
                break;
            }
            vpu_t = vpu_t.max(epi_end[j - 1]) + c;
            out.extend(runs.pop_front().expect("a ready run slice"));
            ready_runs -= 1;
        }
        out.push(g);
        mxu_end.push(end);
        vpu_t = vpu_t.max(end) + epi;
        epi_end.push(vpu_t);
        ready_runs += 1;
    }
    out.extend(runs.into_iter().flatten());
}

/// Builds every core's instruction stream.
pub fn emit(
    lir: &Lir,
    t: &Target,
    emb: &EmbeddingPlan,
    mem: &MemPlan,
    hbm: &HbmLayout,
) -> Result<Vec<Stream>, Error> {
    // Each core's stream is built from shared read-only inputs and its own shadow, so the
    // cores are emitted in parallel; `collect` keeps core order, and the streams do not depend
    // on which thread built them.
    use rayon::prelude::*;
    (0..mem.cores as usize)
        .into_par_iter()
        .map(|core| emit_core(lir, t, emb, mem, hbm, core))
        .collect()
}

/// One core's instruction stream.
fn emit_core(
    lir: &Lir,
    t: &Target,
    emb: &EmbeddingPlan,
    mem: &MemPlan,
    hbm: &HbmLayout,
    core: usize,
) -> Result<Stream, Error> {
    {
        let (first, count) = mem.samples[core];
        let mut em = Em {
            lir,
            t,
            emb,
            mem,
            hbm,
            core,
            s: Stream::new(core as u32),
            s0: first,
            sub0: 0,
            n: 0,
            wslot: 0,
            accslot: [0; 2],
            parity: 0,
            cache: true,
            fills: std::collections::VecDeque::new(),
            filled: Vec::new(),
            interleave_fills: false,
        };
        em.prologue()?;
        let mbs: Vec<(u64, u64)> = (0..count)
            .step_by(mem.mb.max(1) as usize)
            .map(|d| (d, (count - d).min(mem.mb)))
            .collect();
        let kernels = lir.kernels.len();
        if !mem.pipelined {
            // The micro-batch runs as `parts` row blocks, kernel by kernel: while the vector
            // unit finishes one block's elementwise work, the matrix unit starts the next
            // block's products (in-order queues need the independent work next in line).
            em.finish_fills()?;
            for &(done, n) in &mbs {
                for ki in 0..kernels {
                    em.kernel_mb(ki, first, done, n)?;
                }
            }
        } else {
            // Software pipeline: micro-batch `i + 1`'s loads and gathers (the front kernels,
            // into the other copy of their tensors) are emitted ahead of micro-batch `i`'s
            // compute, so the gather engines work while the arrays do. The first micro-batch's
            // gathers do not wait for the hot-row cache: they read every row from memory while
            // the fills run between its weight tiles, and the barrier that opens the cache
            // precedes the second micro-batch's gathers.
            let front = mem.front;
            em.cache = emb.fills.is_empty();
            em.interleave_fills = !emb.fills.is_empty();

            // Micro-batch `i + 1`'s front goes right before the first kernel of micro-batch
            // `i` that reads gathered bags: its loads then queue behind micro-batch `i`'s first
            // weights, and its gathers start once micro-batch `i`'s own gathers have had the
            // engines (the engine pools serve the cores' queues in order, so launching earlier
            // lets one core's next gathers delay another core's current ones).
            let gathered: Vec<TensorId> = lir.kernels[..front]
                .iter()
                .filter(|k| matches!(k.op, KOp::Gather { .. } | KOp::GatherRagged { .. }))
                .filter_map(|k| Lir::views(&k.op).1.first().and_then(|v| v.tensor()))
                .collect();
            let consumer = (front..kernels)
                .find(|&ki| {
                    Lir::views(&lir.kernels[ki].op)
                        .0
                        .iter()
                        .any(|v| v.tensor().is_some_and(|t| gathered.contains(&t)))
                })
                .unwrap_or(front);
            let mut launched = 0;
            let launch = |em: &mut Em, i: usize| -> Result<(), Error> {
                let (done, n) = mbs[i];
                em.parity = i % 2;
                for ki in 0..front {
                    em.kernel_mb(ki, first, done, n)?;
                }
                Ok(())
            };
            if !mbs.is_empty() {
                launch(&mut em, 0)?;
            }
            for (i, &(done, n)) in mbs.iter().enumerate() {
                for ki in front..kernels {
                    if em.interleave_fills && em.fills.is_empty() {
                        em.finish_fills()?;
                    }
                    if launched == i && i + 1 < mbs.len() && ki >= consumer && em.cache {
                        launch(&mut em, i + 1)?;
                        launched = i + 1;
                    }
                    em.parity = i % 2;
                    em.kernel_mb(ki, first, done, n)?;
                }
                if !em.cache {
                    em.finish_fills()?;
                }
                if launched == i && i + 1 < mbs.len() {
                    launch(&mut em, i + 1)?;
                    launched = i + 1;
                }
            }
            if !em.cache {
                em.finish_fills()?;
            }
        }
        em.s.push(Inst::CtlHalt {}, "end", None, &[]);
        Ok(em.s)
    }
}
