//! Deferred `mxu.matmul.i8` kernels: one parallel region per batch of independent matmuls.
//!
//! Why: a compiled GEMM issues runs of matmuls with disjoint accumulators (the n-tiles of one
//! row block) between the k-steps that accumulate into them, each only ~4 M multiply-adds.
//! Forking threads per matmul costs more than it gains; batching the kernels of several
//! matmuls (of both cores) into one fork keeps the threads busy.
//!
//! Semantics are unchanged: at step time an int8 matmul does everything that can fault or be
//! observed by the bookkeeping (bounds, packing `a` and `b`, the overflow decision against
//! the current accumulator, statistics, origins, race tracking); only the kernel's writes to
//! its SRAM accumulator are queued. The kernel reads nothing but the packed operands and its
//! own accumulator, so the queue is flushed before any instruction that may read or write a
//! pending accumulator (exact strided footprints for `dma.copy` and `mxu.matmul.i8`; every
//! other instruction that touches memory flushes unconditionally), before a fault or deadlock
//! is returned, and at the end of a run. Pending accumulators are pairwise disjoint, so the
//! order in which queued kernels write cannot matter: the bytes equal sequential execution.

use rayon::prelude::*;
use seedchip_isa::{DType, Inst};

use crate::exec::Tile;
use crate::fault::Region;
use crate::kernels::{MatmulI8, PackedI8};
use crate::machine::{Machine, region};

/// Queued matmul kernels at most (each holds its packed operands, ~100 KiB for a 256×128×128
/// tile).
const MAX_PENDING: usize = 64;
/// Rows beyond which an overlap test gives up and answers "overlaps" (the caller flushes).
const MAX_EXACT_ROWS: u64 = 1 << 16;

/// Bytes of a strided 2-D operand: `rows` rows of `row_bytes` bytes, `stride` bytes apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footprint {
    pub region: Region,
    pub addr: u64,
    pub rows: u64,
    pub row_bytes: u64,
    pub stride: u64,
}

impl Footprint {
    /// One past the last byte; `None` if it overflows.
    fn end(&self) -> Option<u64> {
        if self.rows == 0 || self.row_bytes == 0 {
            return Some(self.addr);
        }
        (self.rows - 1)
            .checked_mul(self.stride)?
            .checked_add(self.row_bytes)?
            .checked_add(self.addr)
    }

    /// Its rows as merged, sorted byte intervals.
    fn intervals(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for r in 0..self.rows {
            let s = self.addr + r * self.stride;
            match out.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(s + self.row_bytes),
                _ => out.push((s, s + self.row_bytes)),
            }
        }
        out
    }

    /// Whether any byte of `self` is a byte of `other` (conservatively `true` when the
    /// footprints are too large to compare exactly or their ends overflow).
    fn overlaps(&self, other: &Footprint) -> bool {
        if self.region != other.region {
            return false;
        }
        let (Some(e1), Some(e2)) = (self.end(), other.end()) else {
            return true;
        };
        if e1 == self.addr || e2 == other.addr || e1 <= other.addr || e2 <= self.addr {
            return false;
        }
        if self.rows > MAX_EXACT_ROWS || other.rows > MAX_EXACT_ROWS {
            return true;
        }
        let (x, y) = (self.intervals(), other.intervals());
        crate::exec::intervals_intersect(&x, &y)
    }
}

/// Checked int8 matmuls into one accumulator whose kernels have not run yet, in program
/// order (each after the first accumulates onto its predecessor's result).
#[derive(Debug)]
struct Pending {
    kernels: Vec<(MatmulI8, bool)>,
    /// The accumulator in SRAM (rows `4n` bytes, `ldc ≥ 4n` apart).
    acc: Footprint,
}

/// The queue of deferred matmul kernels.
#[derive(Debug, Default)]
pub(crate) struct Deferred {
    pending: Vec<Pending>,
    /// Kernels queued in all chains.
    kernels: usize,
}

impl Deferred {
    fn overlaps(&self, f: &Footprint) -> bool {
        self.pending.iter().any(|p| p.acc.overlaps(f))
    }
}

/// The footprint of an operand of `rows × cols` elements of `es` bytes, `ld` elements apart.
fn tile(
    core: u32,
    addr: seedchip_isa::Addr,
    rows: u64,
    cols: u64,
    ld: u64,
    es: u64,
) -> Option<Footprint> {
    Some(Footprint {
        region: region(core, addr),
        addr: addr.offset,
        rows,
        row_bytes: cols.checked_mul(es)?,
        stride: ld.checked_mul(es)?,
    })
}

impl Machine {
    /// Runs the queued kernels first if any of `tiles` (checked) touches a pending
    /// accumulator.
    pub(crate) fn flush_if_touched(&mut self, tiles: &[&Tile]) {
        let touched = tiles.iter().any(|t| {
            !t.is_empty()
                && self.deferred.overlaps(&Footprint {
                    region: t.region,
                    addr: t.addr,
                    rows: t.rows,
                    row_bytes: t.row_span(),
                    stride: t.ld.saturating_mul(t.es),
                })
        });
        if touched {
            self.flush_matmuls();
        }
    }

    /// Queues the kernel of a checked int8 matmul whose SRAM accumulator rows do not overlap
    /// (`ldc ≥ 4n`); the caller has done everything else the instruction does.
    pub(crate) fn defer_matmul(
        &mut self,
        mm: MatmulI8,
        region: Region,
        addr: u64,
        ldc: usize,
        accumulate: bool,
    ) {
        let acc = Footprint {
            region,
            addr,
            rows: mm.m() as u64,
            row_bytes: mm.n() as u64 * 4,
            stride: ldc as u64,
        };
        debug_assert!(!self.deferred.overlaps(&acc));
        self.deferred.pending.push(Pending {
            kernels: vec![(mm, accumulate)],
            acc,
        });
        self.note_queued();
    }

    fn note_queued(&mut self) {
        self.deferred.kernels += 1;
        if self.deferred.kernels >= MAX_PENDING {
            self.flush_matmuls();
        }
    }

    /// Queues an accumulating int8 matmul (checked tiles, `a` and `b` packed row-major) onto
    /// the pending chain of exactly its accumulator, when its operands touch no pending
    /// accumulator and the chain's bounds prove it cannot overflow. Returns whether it did;
    /// the caller does the instruction's bookkeeping either way.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn chain_matmul(
        &mut self,
        ta: &Tile,
        tb: &Tile,
        tc: &Tile,
        m: usize,
        k: usize,
        n: usize,
        transpose: bool,
    ) -> bool {
        let fp = |t: &Tile| Footprint {
            region: t.region,
            addr: t.addr,
            rows: t.rows,
            row_bytes: t.row_span(),
            stride: t.ld.saturating_mul(t.es),
        };
        let acc = fp(tc);
        let Some(pi) = self.deferred.pending.iter().position(|p| p.acc == acc) else {
            return false;
        };
        if self.deferred.overlaps(&fp(ta)) || self.deferred.overlaps(&fp(tb)) {
            return false;
        }
        let mm = {
            let (a, b) = (self.view(ta), self.view(tb));
            let prev = &self.deferred.pending[pi].kernels.last().expect("a chain").0;
            MatmulI8::after(prev, a, b, m, k, n, transpose)
        };
        let Some(mm) = mm else {
            return false;
        };
        self.deferred.pending[pi].kernels.push((mm, true));
        self.note_queued();
        true
    }

    /// Runs the queued kernels before `inst` of `core` executes, if it may touch a pending
    /// accumulator.
    pub(crate) fn flush_before(&mut self, core: u32, inst: &Inst) {
        if self.deferred.pending.is_empty() {
            return;
        }
        let touches = |fs: &[Option<Footprint>]| {
            fs.iter()
                .any(|f| f.as_ref().is_none_or(|f| self.deferred.overlaps(f)))
        };
        let flush = match *inst {
            Inst::CtlNop {}
            | Inst::CtlHalt {}
            | Inst::CtlBarrier { .. }
            | Inst::CtlSignal { .. }
            | Inst::CtlWait { .. } => false,
            Inst::DmaCopy {
                dst,
                src,
                rows,
                row_bytes,
                dst_stride_bytes,
                src_stride_bytes,
            } => touches(&[
                tile(
                    core,
                    src,
                    rows.into(),
                    row_bytes.into(),
                    src_stride_bytes.into(),
                    1,
                ),
                tile(
                    core,
                    dst,
                    rows.into(),
                    row_bytes.into(),
                    dst_stride_bytes.into(),
                    1,
                ),
            ]),
            // Checked per problem, against its tiles, in `Machine::matmul_i8`.
            Inst::MxuMatmul {
                dtype: DType::I8, ..
            }
            | Inst::MxuMatmulBatch {
                dtype: DType::I8, ..
            } => false,
            _ => true,
        };
        if flush {
            self.flush_matmuls();
        }
    }

    /// Runs every queued kernel, in parallel over (matmul, row block), writing each
    /// accumulator row in place.
    pub(crate) fn flush_matmuls(&mut self) {
        if self.deferred.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.deferred.pending);
        self.deferred.kernels = 0;
        // Every accumulator row, by region, in address order.
        let mut segs: Vec<(Region, u64, usize)> = Vec::new();
        for (pi, p) in pending.iter().enumerate() {
            for r in 0..p.acc.rows {
                segs.push((p.acc.region, p.acc.addr + r * p.acc.stride, pi));
            }
        }
        segs.sort_unstable();
        let disjoint = segs
            .windows(2)
            .all(|w| w[0].0 != w[1].0 || w[0].1 + pending[w[0].2].acc.row_bytes <= w[1].1);
        debug_assert!(disjoint, "pending accumulators overlap");
        if !disjoint {
            // Unreachable by construction (overlapping matmuls flush first); stay correct.
            for p in &pending {
                let extent = p.acc.end().expect("checked") - p.acc.addr;
                let c = self
                    .mem
                    .sram_span_mut(p.acc.region, p.acc.addr, extent)
                    .expect("an SRAM tile");
                for (mm, accumulate) in &p.kernels {
                    mm.run(c, p.acc.stride as usize, *accumulate);
                }
            }
            return;
        }
        let mut rows: Vec<Vec<&mut [u8]>> = pending
            .iter()
            .map(|p| Vec::with_capacity(p.acc.rows as usize))
            .collect();
        let mem = &mut self.mem;
        let srams = std::iter::once((Region::Shared, mem.shared.as_mut_slice())).chain(
            mem.locals
                .iter_mut()
                .enumerate()
                .map(|(c, l)| (Region::Local(c as u32), l.as_mut_slice())),
        );
        for (reg, buf) in srams {
            let lo = segs.partition_point(|s| s.0 < reg);
            let hi = segs.partition_point(|s| s.0 <= reg);
            let mut rest = buf;
            let mut at = 0u64;
            for &(_, start, pi) in &segs[lo..hi] {
                let len = pending[pi].acc.row_bytes as usize;
                let tail = std::mem::take(&mut rest);
                let (_, tail) = tail.split_at_mut((start - at) as usize);
                let (seg, tail) = tail.split_at_mut(len);
                rows[pi].push(seg);
                rest = tail;
                at = start + len as u64;
            }
        }
        let parallel = rayon::current_num_threads() > 1;
        // Packing the operands is as much work as the kernels at these sizes; it happens here,
        // spread over the threads, rather than when each matmul executes.
        let all: Vec<&MatmulI8> = pending
            .iter()
            .flat_map(|p| p.kernels.iter().map(|(mm, _)| mm))
            .collect();
        let all: Vec<PackedI8> = if parallel && all.len() > 1 {
            all.into_par_iter().map(MatmulI8::pack).collect()
        } else {
            all.into_iter().map(MatmulI8::pack).collect()
        };
        let mut all = all.into_iter();
        let packed: Vec<Vec<PackedI8>> = pending
            .iter()
            .map(|p| all.by_ref().take(p.kernels.len()).collect())
            .collect();
        // Rows of one accumulator arrive in address order, which is row order (ldc > 0).
        let mut tasks: Vec<(usize, usize, &mut [&mut [u8]])> = Vec::new();
        for (pi, r) in rows.iter_mut().enumerate() {
            let br = packed[pi][0].block_rows().max(1);
            for (blk, c) in r.chunks_mut(br).enumerate() {
                tasks.push((pi, blk, c));
            }
        }
        let run = |(pi, blk, c): (usize, usize, &mut [&mut [u8]])| {
            // A block's rows stay in cache through the chain's k-steps.
            for (mm, (_, accumulate)) in packed[pi].iter().zip(&pending[pi].kernels) {
                mm.run_block(blk, c, *accumulate);
            }
        };
        if tasks.len() > 1 && parallel {
            tasks.into_par_iter().for_each(run);
        } else {
            tasks.into_iter().for_each(run);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(addr: u64, rows: u64, row_bytes: u64, stride: u64) -> Footprint {
        Footprint {
            region: Region::Local(0),
            addr,
            rows,
            row_bytes,
            stride,
        }
    }

    #[test]
    fn interleaved_tiles_do_not_overlap_but_shared_bytes_do() {
        // Two accumulators in alternate 512-byte column blocks of 2048-byte rows.
        let x = fp(0, 256, 512, 2048);
        let y = fp(512, 256, 512, 2048);
        assert!(!x.overlaps(&y) && !y.overlaps(&x));
        // One byte of row 3 of x.
        assert!(x.overlaps(&fp(3 * 2048 + 511, 1, 1, 0)));
        assert!(!x.overlaps(&fp(3 * 2048 + 512, 1, 1512, 0)));
        // Another region never overlaps.
        let mut z = x;
        z.region = Region::Shared;
        assert!(!x.overlaps(&z));
        // Rows that overlap each other (stride < row bytes) are merged.
        assert!(fp(100, 3, 50, 10).overlaps(&fp(145, 1, 1, 0)));
        assert!(!fp(100, 3, 50, 10).overlaps(&fp(170, 1, 1, 0)));
        // Empty footprints touch nothing.
        assert!(!x.overlaps(&fp(0, 0, 512, 0)));
        // Overflowing ends are answered conservatively.
        assert!(x.overlaps(&fp(u64::MAX - 1, 2, 8, 8)));
    }
}
