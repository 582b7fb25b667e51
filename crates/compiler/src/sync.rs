//! Synchronisation from memory footprints.
//!
//! Every instruction signals its own queue's semaphore (`s0` dma, `s1` gather, `s2` mxu, `s3`
//! vpu, `s4` ctl). Queues complete in order, so "instruction `i` of queue `q` is done" is
//! exactly `s_q ≥ i + 1`. The emitter computes, from the bytes each instruction reads and
//! writes ([`footprint`]), which earlier instructions of other queues it must follow
//! (read-after-write, write-after-read, write-after-write), drops the ones already implied
//! (vector clocks: what each queue is known to have completed), and encodes the rest as the
//! header wait, or — for two or more queues — as `ctl.wait` joins the instruction then waits
//! on. A program built this way is well synchronised (docs/isa.md) by construction; the
//! verifier re-derives the happens-before relation from the waits alone and checks it.

use std::collections::BTreeMap;

use seedchip_isa::{Addr, Code, DType, Inst, Instruction, Queue, Sem, Space};

/// Queue index: the semaphore number it signals.
pub fn queue_index(q: Queue) -> usize {
    match q {
        Queue::Dma => 0,
        Queue::Gather => 1,
        Queue::Mxu => 2,
        Queue::Vpu => 3,
        Queue::Ctl => 4,
    }
}

pub const QUEUES: usize = 5;

/// An instruction of one core: its queue and position in that queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstRef {
    pub core: u32,
    pub queue: u8,
    pub index: u32,
}

/// A strided byte region: `count` groups `cstride` apart, each of `rows` rows `rstride` apart,
/// each row `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub space: Space,
    pub start: u64,
    pub count: u64,
    pub cstride: u64,
    pub rows: u64,
    pub rstride: u64,
    pub len: u64,
    pub write: bool,
}

impl Region {
    fn new(a: Addr, rows: u64, rstride: u64, len: u64, write: bool) -> Region {
        Region {
            space: a.space,
            start: a.offset,
            count: 1,
            cstride: 0,
            rows,
            rstride,
            len,
            write,
        }
    }

    /// The byte ranges, merged where rows or groups touch.
    pub fn segments(&self) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        if self.len == 0 || self.rows == 0 || self.count == 0 {
            return out;
        }
        let push = |out: &mut Vec<(u64, u64)>, s: u64, e: u64| {
            if let Some(last) = out.last_mut()
                && s <= last.1
                && s >= last.0
            {
                last.1 = last.1.max(e);
                return;
            }
            out.push((s, e));
        };
        let row_span = if self.rstride >= self.len || self.rows == 1 {
            None
        } else {
            // Overlapping rows (stride < len, including broadcast 0): one covering range.
            Some((self.rows - 1) * self.rstride + self.len)
        };
        for c in 0..self.count {
            let base = self.start + c * self.cstride;
            match row_span {
                Some(span) => push(&mut out, base, base + span),
                None => {
                    if self.rstride == self.len {
                        push(&mut out, base, base + self.rows * self.len);
                    } else {
                        for r in 0..self.rows {
                            let s = base + r * self.rstride;
                            push(&mut out, s, s + self.len);
                        }
                    }
                }
            }
        }
        out
    }

    /// One past the last byte.
    pub fn end(&self) -> u64 {
        if self.len == 0 || self.rows == 0 || self.count == 0 {
            return self.start;
        }
        self.start + (self.count - 1) * self.cstride + (self.rows - 1) * self.rstride + self.len
    }
}

/// What an instruction's fields do not say about its footprint (gathers only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatherHint {
    /// Ids the gather reads (`offsets[bags]`).
    pub ids: u64,
    /// Bytes of its cache map, and the shared range of the cache slots it may read.
    pub map_bytes: u64,
    pub slots: (u64, u64),
    /// Bytes per table row.
    pub row_bytes: u64,
}

fn size(d: DType) -> u64 {
    d.size_bytes().unwrap_or(1)
}

/// Bytes read and written by `inst`. Table reads in HBM are included (read-only data never
/// orders anything).
pub fn footprint(inst: &Inst, hint: Option<&GatherHint>) -> Vec<Region> {
    let u = u64::from;
    let mut f = Vec::new();
    match *inst {
        Inst::DmaCopy {
            dst,
            src,
            rows,
            row_bytes,
            dst_stride_bytes,
            src_stride_bytes,
        } => {
            f.push(Region::new(
                src,
                u(rows),
                u(src_stride_bytes),
                u(row_bytes),
                false,
            ));
            f.push(Region::new(
                dst,
                u(rows),
                u(dst_stride_bytes),
                u(row_bytes),
                true,
            ));
        }
        Inst::GatherSum {
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
        }
        | Inst::GatherMean {
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
        }
        | Inst::GatherMax {
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
        } => {
            let h = hint.copied().unwrap_or_default();
            let rb = dtype.row_bytes(u(dim)).unwrap_or(0);
            f.push(Region::new(table, 1, 0, u(rows) * rb, false));
            f.push(Region::new(idx, 1, 0, 4 * h.ids, false));
            f.push(Region::new(offsets, 1, 0, 4 * (u(bags) + 1), false));
            if let Some(m) = cache_map {
                f.push(Region::new(m, 1, 0, h.map_bytes, false));
                f.push(Region::new(Addr::shared(h.slots.0), 1, 0, h.slots.1, false));
            }
            f.push(Region::new(dst, u(bags), 4 * u(ldd), 4 * u(dim), true));
        }
        Inst::MxuMatmul {
            dtype,
            acc,
            a,
            b,
            m,
            k,
            n,
            lda,
            ldb,
            ldacc,
            accumulate,
            transpose_b,
        } => {
            matmul(
                &mut f,
                dtype,
                acc,
                a,
                b,
                [m, k, n, lda, ldb, ldacc],
                accumulate,
                transpose_b,
                (1, 0, 0, 0),
            );
        }
        Inst::MxuMatmulBatch {
            dtype,
            acc,
            a,
            b,
            m,
            k,
            n,
            lda,
            ldb,
            ldacc,
            accumulate,
            transpose_b,
            count,
            stride_a,
            stride_b,
            stride_acc,
        } => {
            matmul(
                &mut f,
                dtype,
                acc,
                a,
                b,
                [m, k, n, lda, ldb, ldacc],
                accumulate,
                transpose_b,
                (u(count), u(stride_a), u(stride_b), u(stride_acc)),
            );
        }
        Inst::VpuAdd {
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
        }
        | Inst::VpuSub {
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
        }
        | Inst::VpuMul {
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
        }
        | Inst::VpuMax {
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
        }
        | Inst::VpuMin {
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
        } => {
            let e = size(dtype);
            f.push(Region::new(a, u(rows), u(lda) * e, u(cols) * e, false));
            let b_len = if cols == 0 {
                0
            } else {
                (u(cols) - 1) * u(incb) * e + e
            };
            f.push(Region::new(b, u(rows), u(ldb) * e, b_len, false));
            f.push(Region::new(dst, u(rows), u(ldd) * e, u(cols) * e, true));
        }
        Inst::VpuRelu {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        }
        | Inst::VpuSigmoid {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        }
        | Inst::VpuTanh {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        }
        | Inst::VpuGelu {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        }
        | Inst::VpuSilu {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        }
        | Inst::VpuExp {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        }
        | Inst::VpuRsqrt {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        }
        | Inst::VpuRecip {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        }
        | Inst::VpuNeg {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        }
        | Inst::VpuCopy {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        }
        | Inst::VpuScale {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
            ..
        } => {
            let e = size(dtype);
            f.push(Region::new(a, u(rows), u(lda) * e, u(cols) * e, false));
            f.push(Region::new(dst, u(rows), u(ldd) * e, u(cols) * e, true));
        }
        Inst::VpuCvt {
            from,
            to,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        } => {
            f.push(Region::new(
                a,
                u(rows),
                u(lda) * size(from),
                u(cols) * size(from),
                false,
            ));
            f.push(Region::new(
                dst,
                u(rows),
                u(ldd) * size(to),
                u(cols) * size(to),
                true,
            ));
        }
        Inst::VpuRequant {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
            ..
        } => {
            f.push(Region::new(a, u(rows), u(lda) * 4, u(cols) * 4, false));
            f.push(Region::new(
                dst,
                u(rows),
                u(ldd) * size(dtype),
                u(cols) * size(dtype),
                true,
            ));
        }
        Inst::VpuRequantPc {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
            multipliers,
            shifts,
            ..
        } => {
            f.push(Region::new(a, u(rows), u(lda) * 4, u(cols) * 4, false));
            f.push(Region::new(multipliers, 1, 0, u(cols) * 4, false));
            f.push(Region::new(shifts, 1, 0, u(cols) * 4, false));
            f.push(Region::new(
                dst,
                u(rows),
                u(ldd) * size(dtype),
                u(cols) * size(dtype),
                true,
            ));
        }
        Inst::VpuReduceSum {
            dst,
            a,
            rows,
            cols,
            lda,
            ..
        }
        | Inst::VpuReduceMax {
            dst,
            a,
            rows,
            cols,
            lda,
            ..
        } => {
            f.push(Region::new(a, u(rows), u(lda) * 4, u(cols) * 4, false));
            f.push(Region::new(dst, 1, 0, u(rows) * 4, true));
        }
        Inst::CtlNop {}
        | Inst::CtlHalt {}
        | Inst::CtlBarrier { .. }
        | Inst::CtlSignal { .. }
        | Inst::CtlWait { .. } => {}
    }
    f
}

#[allow(clippy::too_many_arguments)]
fn matmul(
    f: &mut Vec<Region>,
    dtype: DType,
    acc: Addr,
    a: Addr,
    b: Addr,
    [m, k, n, lda, ldb, ldacc]: [u32; 6],
    accumulate: bool,
    transpose_b: bool,
    (count, sa, sb, sacc): (u64, u64, u64, u64),
) {
    let u = u64::from;
    let e = size(dtype);
    // Accumulators are i32 or f32: 4 bytes either way.
    let ae = 4;
    let group = |addr: Addr, rows: u64, rstride: u64, len: u64, cstride: u64, write: bool| Region {
        space: addr.space,
        start: addr.offset,
        count,
        cstride,
        rows,
        rstride,
        len,
        write,
    };
    f.push(group(a, u(m), u(lda) * e, u(k) * e, sa * e, false));
    if transpose_b {
        f.push(group(b, u(n), u(ldb) * e, u(k) * e, sb * e, false));
    } else {
        f.push(group(b, u(k), u(ldb) * e, u(n) * e, sb * e, false));
    }
    let acc_r = group(acc, u(m), u(ldacc) * ae, u(n) * ae, sacc * ae, false);
    if accumulate {
        f.push(acc_r);
    }
    f.push(Region {
        write: true,
        ..acc_r
    });
}

/// Per-byte-range record of the last writer and the readers since.
#[derive(Debug, Clone, Default)]
struct Seg {
    end: u64,
    write: Option<InstRef>,
    /// At most one (the latest) per (core, queue): later reads in a queue follow earlier ones.
    reads: Vec<InstRef>,
}

/// Shadow memory of one address space.
#[derive(Debug, Clone, Default)]
pub struct Shadow {
    segs: BTreeMap<u64, Seg>,
}

/// Entries a walk steps over between two wanted positions before it looks the next one up
/// instead (a lookup costs about this many steps).
const SKIP_LOOKUP: usize = 24;

impl Shadow {
    fn split(&mut self, at: u64) {
        let Some((&s, seg)) = self.segs.range(..at).next_back() else {
            return;
        };
        if seg.end > at {
            let right = seg.clone();
            self.segs.get_mut(&s).expect("present").end = at;
            self.segs.insert(at, right);
        }
    }

    /// Key of the entry that holds `at` or starts after it: where a walk from `at` begins.
    fn walk_from(&self, at: u64) -> u64 {
        match self.segs.range(..=at).next_back() {
            Some((&k, seg)) if seg.end > at => k,
            _ => at,
        }
    }

    /// Records an access to `[start, end)` by `id`; reports each earlier access it conflicts
    /// with (the last write; for a write also the reads since).
    pub fn access(
        &mut self,
        start: u64,
        end: u64,
        write: bool,
        id: InstRef,
        conflict: &mut impl FnMut(InstRef),
    ) {
        self.access_segments(&[(start, end)], write, id, &mut |d, _| conflict(d));
    }

    /// [`Shadow::access`] for each of `segs` (ascending, disjoint, as [`Region::segments`]
    /// gives them), reporting each conflict with the start of the segment that met it.
    ///
    /// One ordered walk over the map per region instead of three lookups per segment: a
    /// column slice of a row-major matrix is one segment per row, and those lookups were most
    /// of the compile time. Entries that already have a segment's exact bounds (the same slice
    /// accessed again) are updated in place. Entries, conflicts and their order are exactly
    /// those of accessing the segments one by one (tested against that).
    pub fn access_segments(
        &mut self,
        segs: &[(u64, u64)],
        write: bool,
        id: InstRef,
        conflict: &mut impl FnMut(InstRef, u64),
    ) {
        self.walk(segs, write, id, conflict, SKIP_LOOKUP);
    }

    fn walk(
        &mut self,
        segs: &[(u64, u64)],
        write: bool,
        id: InstRef,
        conflict: &mut impl FnMut(InstRef, u64),
        skip_lookup: usize,
    ) {
        let segs: Vec<(u64, u64)> = segs.iter().copied().filter(|&(s, e)| s < e).collect();
        let (Some(&(first, _)), Some(&(_, last))) = (segs.first(), segs.last()) else {
            return;
        };
        debug_assert!(
            segs.windows(2).all(|w| w[0].1 < w[1].0),
            "ascending, disjoint"
        );
        // Pass 1: which segment bounds fall strictly inside an entry.
        let mut cuts: Vec<u64> = Vec::new();
        {
            let mut it = self.segs.range(self.walk_from(first)..last).peekable();
            for b in segs.iter().flat_map(|&(s, e)| [s, e]) {
                let mut skipped = 0;
                while let Some((_, seg)) = it.peek() {
                    if seg.end > b {
                        break;
                    }
                    it.next();
                    skipped += 1;
                    if skipped == skip_lookup {
                        it = self.segs.range(self.walk_from(b)..last).peekable();
                    }
                }
                if let Some(&(&k, seg)) = it.peek()
                    && k < b
                    && b < seg.end
                {
                    cuts.push(b);
                }
            }
        }
        for b in cuts {
            self.split(b);
        }
        // Pass 2: now every entry lies inside one segment or outside all of them.
        let mut gaps: Vec<(u64, u64)> = Vec::new();
        let mut replaced: Vec<u64> = Vec::new();
        {
            let mut it = self.segs.range_mut(first..last).peekable();
            for &(s, e) in &segs {
                let mut skipped = 0;
                while let Some(&k) = it.peek().map(|(k, _)| *k) {
                    if k >= s {
                        break;
                    }
                    it.next();
                    skipped += 1;
                    if skipped == skip_lookup {
                        drop(it);
                        it = self.segs.range_mut(s..last).peekable();
                        break;
                    }
                }
                let mut cursor = s;
                // Entries of this segment go to `replaced` unless the only one has its bounds.
                let first_replaced = replaced.len();
                let mut exact = false;
                while let Some(&k) = it.peek().map(|(k, _)| *k) {
                    if k >= e {
                        break;
                    }
                    let (&k, seg) = it.next().expect("peeked");
                    if let Some(w) = seg.write
                        && w != id
                    {
                        conflict(w, s);
                    }
                    if write {
                        for &r in &seg.reads {
                            if r != id {
                                conflict(r, s);
                            }
                        }
                        replaced.push(k);
                        if (k, seg.end) == (s, e) {
                            exact = true;
                            // The same bounds again: the entry becomes the new record.
                            seg.write = Some(id);
                            seg.reads.clear();
                        }
                    } else {
                        if k > cursor {
                            gaps.push((cursor, k));
                        }
                        cursor = seg.end;
                        seg.reads
                            .retain(|r| (r.core, r.queue) != (id.core, id.queue));
                        seg.reads.push(id);
                    }
                }
                if write {
                    if exact {
                        replaced.truncate(first_replaced);
                    } else {
                        gaps.push((s, e));
                    }
                } else if cursor < e {
                    gaps.push((cursor, e));
                }
            }
        }
        for k in replaced {
            self.segs.remove(&k);
        }
        for (s, e) in gaps {
            self.segs.insert(
                s,
                Seg {
                    end: e,
                    write: write.then_some(id),
                    reads: if write { Vec::new() } else { vec![id] },
                },
            );
        }
    }
}

/// Known completions per queue (a vector clock of one core).
pub type Clock = [u32; QUEUES];

fn join(a: &mut Clock, b: &Clock) {
    for (x, y) in a.iter_mut().zip(b) {
        *x = (*x).max(*y);
    }
}

/// One core's instruction stream under construction.
#[derive(Debug, Clone)]
pub struct Stream {
    pub core: u32,
    pub code: Code,
    counts: Clock,
    /// Per queue: what the next instruction in that queue is known to follow.
    head: [Clock; QUEUES],
    /// Per queue, per instruction: what its completion implies.
    done: [Vec<Clock>; QUEUES],
    shadows: BTreeMap<Space, Shadow>,
    /// Gather hints by instruction index in `code`.
    pub hints: BTreeMap<u32, GatherHint>,
}

impl Stream {
    pub fn new(core: u32) -> Stream {
        Stream {
            core,
            code: Code::default(),
            counts: [0; QUEUES],
            head: [[0; QUEUES]; QUEUES],
            done: Default::default(),
            shadows: BTreeMap::new(),
            hints: BTreeMap::new(),
        }
    }

    fn sem(q: usize) -> Sem {
        Sem::CORE[q]
    }

    /// Appends `inst` (serving IR node `node`), with the waits its footprint requires and any
    /// `extra` dependencies.
    pub fn push(
        &mut self,
        inst: Inst,
        node: &str,
        hint: Option<GatherHint>,
        extra: &[InstRef],
    ) -> InstRef {
        let q = queue_index(inst.queue());
        let id = InstRef {
            core: self.core,
            queue: q as u8,
            index: self.counts[q],
        };
        // What the instruction must follow, as a clock of this core's other queues (a write
        // over a column slice meets thousands of earlier accesses; only the latest per queue
        // matters).
        let core = self.core;
        let mut need: Clock = [0; QUEUES];
        let mut follow = |d: InstRef| {
            if d.core == core && d.queue as usize != q {
                let qq = d.queue as usize;
                need[qq] = need[qq].max(d.index + 1);
            }
        };
        for &d in extra {
            follow(d);
        }
        let regions = footprint(&inst, hint.as_ref());
        // Reads first, so an in-place update reads before it writes.
        for write in [false, true] {
            for r in regions.iter().filter(|r| r.write == write) {
                let shadow = self.shadows.entry(r.space).or_default();
                shadow.access_segments(&r.segments(), write, id, &mut |d, _| follow(d));
            }
        }
        self.emit(inst, node, hint, need, id)
    }

    /// Marks `[start, start+len)` in `space` as written by `by` (a barrier standing for other
    /// cores' writes), so later readers wait for it.
    pub fn mark_written(&mut self, space: Space, start: u64, len: u64, by: InstRef) {
        let shadow = self.shadows.entry(space).or_default();
        shadow.access(start, start + len, true, by, &mut |_| {});
    }

    fn emit(
        &mut self,
        inst: Inst,
        node: &str,
        hint: Option<GatherHint>,
        need: Clock,
        id: InstRef,
    ) -> InstRef {
        let q = id.queue as usize;
        let mut start = self.head[q];
        let mut waits: Vec<(usize, u32)> = Vec::new();
        for (qq, &v) in need.iter().enumerate() {
            if v > start[qq] {
                waits.push((qq, v));
            }
        }
        let mut instr = Instruction::new(inst);
        match waits.len() {
            0 => {}
            1 => {
                let (qq, v) = waits[0];
                instr = instr.with_wait(Self::sem(qq), v);
                join(&mut start, &self.done[qq][v as usize - 1]);
            }
            _ => {
                // ctl.wait joins, two queues each; the instruction waits for the last join.
                let ctl = queue_index(Queue::Ctl);
                let mut last = None;
                for pair in waits.chunks(2) {
                    let (q1, v1) = pair[0];
                    let mut j = Instruction::new(Inst::CtlWait {
                        sem: Self::sem(q1),
                        value: v1,
                    });
                    let mut jclock = self.head[ctl];
                    join(&mut jclock, &self.done[q1][v1 as usize - 1]);
                    if let Some(&(q2, v2)) = pair.get(1) {
                        j = j.with_wait(Self::sem(q2), v2);
                        join(&mut jclock, &self.done[q2][v2 as usize - 1]);
                    }
                    j = j.with_signal(Self::sem(ctl));
                    let ji = self.counts[ctl];
                    jclock[ctl] = jclock[ctl].max(ji + 1);
                    self.code.push(j, Some(node));
                    self.counts[ctl] += 1;
                    self.done[ctl].push(jclock);
                    self.head[ctl] = jclock;
                    last = Some(ji);
                }
                let ji = last.expect("at least one join");
                if q != ctl {
                    instr = instr.with_wait(Self::sem(ctl), ji + 1);
                }
                join(&mut start, &self.done[ctl][ji as usize]);
            }
        }
        let index = self.counts[q];
        debug_assert_eq!(index, id.index);
        if !matches!(inst, Inst::CtlHalt {}) {
            instr = instr.with_signal(Self::sem(q));
        }
        let mut done = start;
        done[q] = done[q].max(index + 1);
        if let Some(h) = hint {
            self.hints.insert(self.code.insts.len() as u32, h);
        }
        self.code.push(instr, Some(node));
        self.counts[q] += 1;
        self.done[q].push(done);
        self.head[q] = done;
        InstRef {
            core: self.core,
            queue: q as u8,
            index,
        }
    }

    /// Instructions emitted per queue.
    pub fn counts(&self) -> Clock {
        self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(dst: Addr, src: Addr, bytes: u32) -> Inst {
        Inst::DmaCopy {
            dst,
            src,
            rows: 1,
            row_bytes: bytes,
            dst_stride_bytes: bytes,
            src_stride_bytes: bytes,
        }
    }

    fn relu(dst: Addr, a: Addr, cols: u32) -> Inst {
        Inst::VpuRelu {
            dtype: DType::F32,
            dst,
            a,
            rows: 1,
            cols,
            ldd: cols,
            lda: cols,
        }
    }

    #[test]
    fn raw_war_and_joins() {
        let mut s = Stream::new(0);
        s.push(copy(Addr::local(0), Addr::hbm(0), 64), "a", None, &[]);
        // Reads what the DMA wrote: waits s0 >= 1.
        s.push(relu(Addr::local(64), Addr::local(0), 16), "b", None, &[]);
        assert_eq!(s.code.insts[1].wait.unwrap().sem, Sem::CORE[0]);
        assert_eq!(s.code.insts[1].wait.unwrap().value, 1);
        // Overwrites what the relu read (WAR) and reads what it wrote (RAW): one wait on vpu.
        s.push(copy(Addr::local(0), Addr::local(64), 64), "c", None, &[]);
        let w = s.code.insts[2].wait.unwrap();
        assert_eq!((w.sem, w.value), (Sem::CORE[3], 1));
        // A second DMA and a relu on fresh data; then an instruction needing both queues.
        s.push(copy(Addr::local(256), Addr::hbm(64), 64), "d", None, &[]);
        s.push(relu(Addr::local(512), Addr::local(128), 16), "e", None, &[]);
        s.push(
            Inst::VpuAdd {
                dtype: DType::F32,
                dst: Addr::local(1024),
                a: Addr::local(256),
                b: Addr::local(512),
                rows: 1,
                cols: 16,
                ldd: 16,
                lda: 16,
                ldb: 16,
                incb: 1,
            },
            "f",
            None,
            &[],
        );
        // The add is in the vpu queue after relu "e": only the DMA must be joined — no join.
        let last = s.code.insts.last().unwrap();
        assert_eq!(last.wait.unwrap().sem, Sem::CORE[0]);
    }

    #[test]
    fn shadow_splits_and_reports() {
        let mut sh = Shadow::default();
        let a = InstRef {
            core: 0,
            queue: 0,
            index: 0,
        };
        let b = InstRef {
            core: 0,
            queue: 3,
            index: 0,
        };
        let c = InstRef {
            core: 0,
            queue: 2,
            index: 0,
        };
        sh.access(0, 100, true, a, &mut |_| panic!("nothing before"));
        let mut seen = Vec::new();
        sh.access(50, 150, false, b, &mut |d| seen.push(d));
        assert_eq!(seen, vec![a]);
        seen.clear();
        sh.access(120, 130, true, c, &mut |d| seen.push(d));
        assert_eq!(seen, vec![b]);
        seen.clear();
        sh.access(0, 10, true, c, &mut |d| seen.push(d));
        assert_eq!(seen, vec![a]);
    }

    /// The per-segment shadow as it was before [`Shadow::access_segments`]: the oracle.
    fn reference_access(
        segs: &mut BTreeMap<u64, Seg>,
        start: u64,
        end: u64,
        write: bool,
        id: InstRef,
        conflict: &mut impl FnMut(InstRef),
    ) {
        if start >= end {
            return;
        }
        for at in [start, end] {
            if let Some((&s, seg)) = segs.range(..at).next_back()
                && seg.end > at
            {
                let right = seg.clone();
                segs.get_mut(&s).expect("present").end = at;
                segs.insert(at, right);
            }
        }
        let keys: Vec<u64> = segs.range(start..end).map(|(&k, _)| k).collect();
        let mut cursor = start;
        let mut gaps = Vec::new();
        for k in &keys {
            let seg = segs.get_mut(k).expect("present");
            if let Some(w) = seg.write
                && w != id
            {
                conflict(w);
            }
            if write {
                for &r in &seg.reads {
                    if r != id {
                        conflict(r);
                    }
                }
            } else {
                if *k > cursor {
                    gaps.push((cursor, *k));
                }
                cursor = seg.end;
                seg.reads
                    .retain(|r| (r.core, r.queue) != (id.core, id.queue));
                seg.reads.push(id);
            }
        }
        if write {
            for k in keys {
                segs.remove(&k);
            }
            gaps = vec![(start, end)];
        } else if cursor < end {
            gaps.push((cursor, end));
        }
        for (s, e) in gaps {
            segs.insert(
                s,
                Seg {
                    end: e,
                    write: write.then_some(id),
                    reads: if write { Vec::new() } else { vec![id] },
                },
            );
        }
    }

    fn entries(segs: &BTreeMap<u64, Seg>) -> Vec<(u64, u64, Option<InstRef>, Vec<InstRef>)> {
        segs.iter()
            .map(|(&k, s)| (k, s.end, s.write, s.reads.clone()))
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Strided regions (a few segments or many, clustered or spread, overlapping earlier
        /// ones anywhere) give the same conflicts in the same order and the same entries as
        /// accessing their segments one by one.
        #[test]
        fn region_walk_matches_segment_by_segment(
            ops in proptest::collection::vec(
                (0u64..1500, 1u64..80, 1u64..64, 0u64..160, proptest::bool::ANY, 0u8..5),
                1..60,
            ),
            skip_lookup in 1usize..30,
        ) {
            let mut fast = Shadow::default();
            let mut slow: BTreeMap<u64, Seg> = BTreeMap::new();
            for (n, &(start, rows, len, extra, write, queue)) in ops.iter().enumerate() {
                let region = Region {
                    space: Space::Local,
                    start,
                    count: 1,
                    cstride: 0,
                    rows,
                    rstride: len + extra,
                    len,
                    write,
                };
                let id = InstRef { core: 0, queue, index: n as u32 };
                let segs = region.segments();
                let mut got = Vec::new();
                fast.walk(&segs, write, id, &mut |d, s| got.push((d, s)), skip_lookup);
                let mut want = Vec::new();
                for &(s, e) in &segs {
                    reference_access(&mut slow, s, e, write, id, &mut |d| want.push((d, s)));
                }
                proptest::prop_assert_eq!(&got, &want);
                proptest::prop_assert_eq!(entries(&fast.segs), entries(&slow));
            }
        }
    }

    #[test]
    fn strided_segments_merge() {
        let r = Region {
            space: Space::Local,
            start: 0,
            count: 2,
            cstride: 1000,
            rows: 3,
            rstride: 16,
            len: 16,
            write: false,
        };
        assert_eq!(r.segments(), vec![(0, 48), (1000, 1048)]);
        let r = Region {
            rstride: 32,
            count: 1,
            ..r
        };
        assert_eq!(r.segments(), vec![(0, 16), (32, 48), (64, 80)]);
    }
}
