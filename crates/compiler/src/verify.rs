//! The compiler's own invariants, checked after every pass when
//! [`crate::CompileOptions::verify`] is on (tests and debug builds).
//!
//! * [`lir`]: views stay inside their tensors and constants, operand types agree, GEMM shapes
//!   match their weights.
//! * [`tiles`]: every weight tile fits the array (`kt ≤ rows`, `nt ≤ cols`).
//! * [`memory`]: placements inside their regions, no two tensors alive at once overlap.
//! * [`program`]: every byte an instruction touches is inside its space, operands are aligned,
//!   matmuls fit the array, every semaphore is signalled from one queue, waits name earlier
//!   instructions, and every pair of conflicting accesses from different queues (or cores) is
//!   ordered by a chain of signal → wait edges, re-derived from the program's own waits.

use std::collections::BTreeMap;

use seedchip_isa::{DType, Inst, Program, Sem, Space};

use crate::lir::{Base, ConstRole, KOp, Lir, VOp, View};
use crate::passes::Target;
use crate::passes::plan_memory::MemPlan;
use crate::passes::tile::align;
use crate::sync::{Clock, GatherHint, InstRef, QUEUES, Shadow, footprint, queue_index};

/// What [`program`] needs beyond the program's bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hints {
    /// (core, instruction index) → the gather's footprint facts.
    pub gathers: BTreeMap<(u32, u32), GatherHint>,
    pub cores: u32,
}

fn view_ok(lir: &Lir, v: &View, what: &str, node: &str, issues: &mut Vec<String>) {
    let limit = match v.base {
        Base::Tensor(t) => match lir.tensors.get(t.index()) {
            Some(t) => t.per_sample,
            None => {
                issues.push(format!("{node}: {what} names a tensor that does not exist"));
                return;
            }
        },
        Base::Const(c) => match lir.consts.get(c.index()) {
            Some(c) => c.numel(),
            None => {
                issues.push(format!(
                    "{node}: {what} names a constant that does not exist"
                ));
                return;
            }
        },
    };
    if v.extent() > limit {
        issues.push(format!(
            "{node}: {what} {v} reaches element {} of a block of {limit}",
            v.extent()
        ));
    }
}

/// Structural checks of the lowered program.
pub fn lir(lir: &Lir) -> Vec<String> {
    let mut issues = Vec::new();
    for k in &lir.kernels {
        let node = k.node.as_str();
        let (r, w) = Lir::views(&k.op);
        for v in &r {
            view_ok(lir, v, "operand", node, &mut issues);
        }
        for v in &w {
            view_ok(lir, v, "result", node, &mut issues);
            if matches!(v.base, Base::Const(_)) {
                issues.push(format!("{node}: writes a constant"));
            }
        }
        match &k.op {
            KOp::Vpu { op, dst, a, b } => {
                if dst.shape() != a.shape() || b.as_ref().is_some_and(|b| b.shape() != dst.shape())
                {
                    issues.push(format!("{node}: elementwise operand shapes differ"));
                }
                let (da, dd) = (lir.dtype(a), lir.dtype(dst));
                match op {
                    VOp::Cvt(to) => {
                        if dd != *to {
                            issues.push(format!("{node}: conversion to {to} writes a {dd} tensor"));
                        }
                    }
                    _ => {
                        if da != dd || b.as_ref().is_some_and(|b| lir.dtype(b) != da) {
                            issues.push(format!("{node}: operand dtypes differ ({da} → {dd})"));
                        }
                    }
                }
            }
            KOp::Gemm(g) => {
                let c = lir.konst(g.w);
                match c.role {
                    ConstRole::Weight { k, n } if k == g.k && n == g.n => {}
                    _ => issues.push(format!("{node}: weight {} is not {}×{}", c.name, g.k, g.n)),
                }
                if g.a.dims.last().map(|d| d.size) != Some(g.k) {
                    issues.push(format!(
                        "{node}: GEMM input {} does not end in k = {}",
                        g.a, g.k
                    ));
                }
                if g.cols.0 >= g.cols.1 || g.cols.1 > g.n {
                    issues.push(format!(
                        "{node}: GEMM columns {:?} are not within n = {}",
                        g.cols, g.n
                    ));
                }
                if g.dst.dims.last().map(|d| d.size) != Some(g.width()) {
                    issues.push(format!(
                        "{node}: GEMM result {} does not end in its {} columns",
                        g.dst,
                        g.width()
                    ));
                }
                if g.a.numel() / g.k.max(1) != g.dst.numel() / g.width().max(1) {
                    issues.push(format!("{node}: GEMM rows of input and result differ"));
                }
                if let Some(p) = g.precision
                    && lir.dtype(&g.a) != p.dtype()
                    && lir.dtype(&g.a) != DType::F32
                {
                    issues.push(format!(
                        "{node}: GEMM input is {}, not {}",
                        lir.dtype(&g.a),
                        p.dtype()
                    ));
                }
            }
            KOp::Bmm(b) => {
                let (ra, rb, rd) = (b.a.dims.len(), b.b.dims.len(), b.dst.dims.len());
                if ra < 2 || ra != rb || ra != rd {
                    issues.push(format!("{node}: batched matmul ranks {ra}, {rb}, {rd}"));
                } else {
                    let (m, k) = (b.a.dims[ra - 2].size, b.a.dims[ra - 1].size);
                    let (bk, bn) = if b.transpose_b {
                        (b.b.dims[rb - 1].size, b.b.dims[rb - 2].size)
                    } else {
                        (b.b.dims[rb - 2].size, b.b.dims[rb - 1].size)
                    };
                    if bk != k || b.dst.dims[rd - 2].size != m || b.dst.dims[rd - 1].size != bn {
                        issues.push(format!("{node}: batched matmul shapes do not chain"));
                    }
                }
                if lir.dtype(&b.dst) != DType::F32 {
                    issues.push(format!("{node}: batched matmul result must be f32"));
                }
            }
            KOp::Gather {
                table, idx, dst, ..
            } => {
                if *table >= lir.tables.len() {
                    issues.push(format!("{node}: gather from a missing table"));
                } else if dst.dims.last().map(|d| d.size) != Some(lir.tables[*table].dim) {
                    issues.push(format!(
                        "{node}: gather result rows are not the table's width"
                    ));
                }
                if lir.dtype(idx) != DType::I32 {
                    issues.push(format!("{node}: gather ids must be i32"));
                }
            }
            KOp::GatherRagged {
                table,
                ids,
                offsets,
                dst,
                ..
            } => {
                if *table >= lir.tables.len() {
                    issues.push(format!("{node}: gather from a missing table"));
                } else if dst.dims.last().map(|d| d.size) != Some(lir.tables[*table].dim) {
                    issues.push(format!(
                        "{node}: gather result rows are not the table's width"
                    ));
                }
                let layout = |i: usize| lir.inputs.get(i).map(|io| (io.layout, io.dtype));
                if !matches!(
                    layout(*ids),
                    Some((crate::lir::IoLayout::RaggedIds { .. }, DType::I32))
                ) || layout(*offsets) != Some((crate::lir::IoLayout::Offsets, DType::I32))
                {
                    issues.push(format!(
                        "{node}: ragged gather needs i32 ragged-ids and offsets inputs"
                    ));
                }
            }
            KOp::Reduce { src, dst, .. } => {
                let mut s = src.shape();
                s.pop();
                if s != dst.shape() {
                    issues.push(format!("{node}: reduction result shape"));
                }
            }
            KOp::Load { input, dst } => {
                if lir
                    .inputs
                    .get(*input)
                    .is_none_or(|io| io.shape.iter().product::<u64>() != dst.numel())
                {
                    issues.push(format!("{node}: load does not match its input"));
                }
            }
            KOp::Store { src, output } => {
                if lir
                    .outputs
                    .get(*output)
                    .is_none_or(|io| io.shape.iter().product::<u64>() != src.numel())
                {
                    issues.push(format!("{node}: store does not match its output"));
                }
            }
        }
    }
    issues
}

/// Every GEMM's tiles fit the array.
pub fn tiles(lir: &Lir, t: &Target) -> Vec<String> {
    let mut issues = Vec::new();
    for k in &lir.kernels {
        if let KOp::Gemm(g) = &k.op {
            match g.tiles {
                None => issues.push(format!("{}: GEMM without tiles", k.node)),
                Some(tl) => {
                    if tl.kt == 0
                        || tl.kt > t.rows
                        || tl.nt == 0
                        || tl.nt > t.cols
                        || tl.mt == 0
                        || tl.w_buffers == 0
                        || tl.acc_cols < tl.nt.min(g.width())
                        || (tl.acc_cols % tl.nt != 0 && tl.acc_cols != g.width())
                        || tl.acc_cols > g.width().max(tl.nt)
                    {
                        issues.push(format!(
                            "{}: tiles {tl:?} do not fit the {}×{} array",
                            k.node, t.rows, t.cols
                        ));
                    }
                }
            }
        }
    }
    issues
}

/// Placements are inside their regions and tensors alive together do not overlap.
pub fn memory(lir: &Lir, mem: &MemPlan, t: &Target) -> Vec<String> {
    let mut issues = Vec::new();
    let mut life: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for (i, k) in lir.kernels.iter().enumerate() {
        let (r, w) = Lir::views(&k.op);
        for v in r.into_iter().chain(w) {
            if let Base::Tensor(tid) = v.base {
                let e = life.entry(tid.index()).or_insert((i, i));
                e.0 = e.0.min(i);
                e.1 = e.1.max(i);
            }
        }
    }
    let mut placed = Vec::new();
    let whole = (0, lir.kernels.len().saturating_sub(1));
    for (&ti, &l) in &life {
        let tt = &lir.tensors[ti];
        let Some(first) = mem.tensors[ti] else {
            issues.push(format!("tensor `{}` is used but not placed", tt.name));
            continue;
        };
        // A double-buffered tensor's two copies are live across the whole micro-batch (the
        // next micro-batch's front kernels fill one while this one computes on the other).
        let second = mem.alt.get(ti).copied().flatten();
        if second.is_some() && !mem.pipelined {
            issues.push(format!(
                "tensor `{}` has a second copy but the plan is not pipelined",
                tt.name
            ));
        }
        let l = if second.is_some() { whole } else { l };
        for loc in std::iter::once(first).chain(second) {
            let size = align(mem.mb * tt.per_sample * tt.dtype.size_bytes().unwrap_or(1));
            let limit = match loc.space {
                Space::Local => t.local_bytes,
                Space::Shared => mem.shared_region_bytes,
                Space::Hbm => 0,
            };
            if loc.offset + size > limit {
                issues.push(format!(
                    "tensor `{}` at {:?}+{:#x} ({size} bytes) passes its region's {limit} bytes",
                    tt.name, loc.space, loc.offset
                ));
            }
            if loc.space == Space::Local
                && mem
                    .arenas
                    .iter()
                    .any(|&(a, s)| loc.offset < a + s && a < loc.offset + size)
            {
                issues.push(format!("tensor `{}` overlaps the workspace", tt.name));
            }
            placed.push((ti, loc, size, l));
        }
    }
    for (i, a) in placed.iter().enumerate() {
        for b in &placed[i + 1..] {
            let alive = a.3.0 <= b.3.1 && b.3.0 <= a.3.1;
            let overlap = a.1.space == b.1.space
                && a.1.offset < b.1.offset + b.2
                && b.1.offset < a.1.offset + a.2;
            if alive && overlap {
                issues.push(format!(
                    "tensors `{}` and `{}` are alive together at overlapping addresses",
                    lir.tensors[a.0].name, lir.tensors[b.0].name
                ));
            }
        }
    }
    for &(a, s) in &mem.arenas {
        if a + s > t.local_bytes {
            issues.push(format!(
                "workspace arena at {a:#x} ({s} bytes) passes local SRAM"
            ));
        }
    }
    issues
}

/// Alignment an operand of this dtype needs.
fn align_of(d: DType) -> u64 {
    match d {
        DType::F32 | DType::I32 => 4,
        DType::Bf16 | DType::F16 => 2,
        _ => 1,
    }
}

/// (address, alignment) of every operand that has one.
fn operand_alignment(inst: &Inst) -> Vec<(seedchip_isa::Addr, u64)> {
    match *inst {
        Inst::GatherSum {
            dst,
            idx,
            offsets,
            cache_map,
            ..
        }
        | Inst::GatherMean {
            dst,
            idx,
            offsets,
            cache_map,
            ..
        }
        | Inst::GatherMax {
            dst,
            idx,
            offsets,
            cache_map,
            ..
        } => {
            let mut v = vec![(dst, 4), (idx, 4), (offsets, 4)];
            v.extend(cache_map.map(|m| (m, 4)));
            v
        }
        Inst::MxuMatmul {
            dtype, acc, a, b, ..
        }
        | Inst::MxuMatmulBatch {
            dtype, acc, a, b, ..
        } => {
            vec![(acc, 4), (a, align_of(dtype)), (b, align_of(dtype))]
        }
        Inst::VpuAdd {
            dtype, dst, a, b, ..
        }
        | Inst::VpuSub {
            dtype, dst, a, b, ..
        }
        | Inst::VpuMul {
            dtype, dst, a, b, ..
        }
        | Inst::VpuMax {
            dtype, dst, a, b, ..
        }
        | Inst::VpuMin {
            dtype, dst, a, b, ..
        } => {
            let x = align_of(dtype);
            vec![(dst, x), (a, x), (b, x)]
        }
        Inst::VpuRelu { dtype, dst, a, .. }
        | Inst::VpuSigmoid { dtype, dst, a, .. }
        | Inst::VpuTanh { dtype, dst, a, .. }
        | Inst::VpuGelu { dtype, dst, a, .. }
        | Inst::VpuSilu { dtype, dst, a, .. }
        | Inst::VpuExp { dtype, dst, a, .. }
        | Inst::VpuRsqrt { dtype, dst, a, .. }
        | Inst::VpuRecip { dtype, dst, a, .. }
        | Inst::VpuNeg { dtype, dst, a, .. }
        | Inst::VpuCopy { dtype, dst, a, .. }
        | Inst::VpuScale { dtype, dst, a, .. } => {
            let x = align_of(dtype);
            vec![(dst, x), (a, x)]
        }
        Inst::VpuCvt {
            from, to, dst, a, ..
        } => vec![(dst, align_of(to)), (a, align_of(from))],
        Inst::VpuRequant { dst, a, .. } => vec![(dst, 1), (a, 4)],
        Inst::VpuRequantPc {
            dst,
            a,
            multipliers,
            shifts,
            ..
        } => {
            vec![(dst, 1), (a, 4), (multipliers, 4), (shifts, 4)]
        }
        Inst::VpuReduceSum { dst, a, .. } | Inst::VpuReduceMax { dst, a, .. } => {
            vec![(dst, 4), (a, 4)]
        }
        _ => Vec::new(),
    }
}

/// A synchronisation fact of one instruction: which instruction a semaphore value stands for.
struct SemTable {
    /// Per core, per semaphore: the instructions that signal it, in the order they complete
    /// (one queue, so program order).
    signalers: BTreeMap<(u32, u8), Vec<InstRef>>,
    queue_of: BTreeMap<(u32, u8), u8>,
}

/// Checks a finished program.
pub fn program(p: &Program, t: &Target, hints: &Hints) -> Vec<String> {
    let mut issues = Vec::new();
    let space_size = |s: Space| match s {
        Space::Hbm => t.hbm_bytes,
        Space::Shared => t.shared_bytes,
        Space::Local => t.local_bytes,
    };
    // Pass 1: per-core queue positions and semaphore signalers.
    let mut sems = SemTable {
        signalers: BTreeMap::new(),
        queue_of: BTreeMap::new(),
    };
    let mut refs: BTreeMap<u32, Vec<InstRef>> = BTreeMap::new();
    for (&core, code) in &p.code {
        let mut counts = [0u32; QUEUES];
        let mut v = Vec::with_capacity(code.insts.len());
        for (ii, ins) in code.insts.iter().enumerate() {
            let q = queue_index(ins.inst.queue());
            let r = InstRef {
                core,
                queue: q as u8,
                index: counts[q],
            };
            counts[q] += 1;
            v.push(r);
            let mut signal = |s: Sem, issues: &mut Vec<String>| {
                if s.is_chip() {
                    issues.push(format!(
                        "core {core} instruction {ii}: signals chip semaphore {s}"
                    ));
                    return;
                }
                let key = (core, s.index());
                let qq = *sems.queue_of.entry(key).or_insert(q as u8);
                if qq != q as u8 {
                    issues.push(format!(
                        "core {core} instruction {ii}: {s} is signalled from two queues, so its \
                         values do not name one instruction"
                    ));
                }
                sems.signalers.entry(key).or_default().push(r);
            };
            if let Some(s) = ins.signal {
                signal(s, &mut issues);
            }
            if let Inst::CtlSignal { sem } = ins.inst {
                signal(sem, &mut issues);
            }
        }
        refs.insert(core, v);
    }
    // Pass 2: clocks from waits, bounds, alignment, array limits, races.
    let mut clocks: BTreeMap<(u32, u8), Vec<Clock>> = BTreeMap::new();
    let mut starts: BTreeMap<u32, Vec<Clock>> = BTreeMap::new();
    let mut barriers: BTreeMap<u32, Vec<InstRef>> = BTreeMap::new();
    let mut local: BTreeMap<u32, Shadow> = BTreeMap::new();
    let mut global: BTreeMap<Space, Shadow> = BTreeMap::new();
    let mut deferred: Vec<(InstRef, InstRef)> = Vec::new();
    for (&core, code) in &p.code {
        let mut head = [[0u32; QUEUES]; QUEUES];
        let mut core_starts = Vec::with_capacity(code.insts.len());
        for (ii, ins) in code.insts.iter().enumerate() {
            let me = refs[&core][ii];
            let q = me.queue as usize;
            let mut start = head[q];
            let mut waits = Vec::new();
            if let Some(w) = ins.wait {
                waits.push((w.sem, w.value));
            }
            if let Inst::CtlWait { sem, value } = ins.inst {
                waits.push((sem, value));
            }
            for (sem, value) in waits {
                if sem.is_chip() {
                    issues.push(format!(
                        "core {core} instruction {ii}: waits on a chip semaphore outside a barrier"
                    ));
                    continue;
                }
                let list = sems.signalers.get(&(core, sem.index()));
                let Some(r) = list.and_then(|l| l.get(value as usize - 1)) else {
                    issues.push(format!("core {core} instruction {ii}: waits for {sem} ≥ {value}, which is never reached"));
                    continue;
                };
                let done = clocks
                    .get(&(core, r.queue))
                    .and_then(|c| c.get(r.index as usize));
                match done {
                    Some(c) => {
                        for (x, y) in start.iter_mut().zip(c) {
                            *x = (*x).max(*y);
                        }
                    }
                    None => issues.push(format!(
                        "core {core} instruction {ii}: waits for an instruction later in its stream (deadlock in program order)"
                    )),
                }
            }
            core_starts.push(start);
            let mut done = start;
            done[q] = done[q].max(me.index + 1);
            clocks.entry((core, me.queue)).or_default().push(done);
            head[q] = done;
            if let Inst::CtlBarrier { sem, count } = ins.inst {
                barriers.entry(core).or_default().push(me);
                let k = barriers[&core].len() as u32;
                if count != k * hints.cores.max(1) || sem.index() != 0 {
                    issues.push(format!(
                        "core {core} instruction {ii}: barrier count {count} for {} cores",
                        hints.cores
                    ));
                }
            }
            // Array limits.
            if let Inst::MxuMatmul { k, n, .. } | Inst::MxuMatmulBatch { k, n, .. } = ins.inst
                && (u64::from(k) > t.rows || u64::from(n) > t.cols)
            {
                issues.push(format!(
                    "core {core} instruction {ii}: matmul k={k} n={n} on a {}×{} array",
                    t.rows, t.cols
                ));
            }
            for (a, al) in operand_alignment(&ins.inst) {
                if a.offset % al != 0 {
                    issues.push(format!(
                        "core {core} instruction {ii}: `{}` operand {a} not {al}-byte aligned",
                        ins.inst.info().mnemonic
                    ));
                }
            }
            let hint = hints.gathers.get(&(core, ii as u32));
            let mut regions = footprint(&ins.inst, hint);
            regions.sort_by_key(|r| r.write);
            for r in regions {
                if r.end() > space_size(r.space) {
                    issues.push(format!(
                        "core {core} instruction {ii}: `{}` touches {}:{:#x}..{:#x}, beyond the {} bytes of {}",
                        ins.inst.info().mnemonic,
                        r.space.name(),
                        r.start,
                        r.end(),
                        space_size(r.space),
                        r.space.name()
                    ));
                    continue;
                }
                let shadow = match r.space {
                    Space::Local => local.entry(core).or_default(),
                    s => global.entry(s).or_default(),
                };
                shadow.access_segments(&r.segments(), r.write, me, &mut |prev: InstRef, s: u64| {
                        if prev.core != core {
                            deferred.push((prev, me));
                        } else if prev.queue != me.queue && start[prev.queue as usize] < prev.index + 1 {
                            issues.push(format!(
                                "core {core} instruction {ii} (`{}`): unordered with {} instruction {} of the same core on {}:{:#x}",
                                ins.inst.info().mnemonic,
                                ["dma", "gather", "mxu", "vpu", "ctl"][prev.queue as usize],
                                prev.index,
                                r.space.name(),
                                s
                            ));
                        }
                    });
            }
        }
        starts.insert(core, core_starts);
    }
    // Cross-core pairs: ordered when the first is before some barrier on its core and the
    // second after the same barrier on its own.
    let pos = |r: &InstRef| -> usize {
        refs[&r.core]
            .iter()
            .position(|x| x == r)
            .expect("known instruction")
    };
    let gens = barriers.values().map(Vec::len).min().unwrap_or(0);
    // `first` completes before barrier `g` of its core starts, and `then` starts after barrier
    // `g` of its core completes.
    let through = |first: &InstRef, then: &InstRef, g: usize| {
        let bf = barriers[&first.core][g];
        let bt = barriers[&then.core][g];
        let before = starts[&first.core][pos(&bf)][first.queue as usize] > first.index
            || (bf.queue == first.queue && bf.index > first.index);
        let after = starts[&then.core][pos(then)][bt.queue as usize] > bt.index;
        before && after
    };
    for (x, y) in deferred {
        let ordered = (0..gens).any(|g| through(&x, &y, g) || through(&y, &x, g));
        if !ordered {
            issues.push(format!(
                "core {} instruction {:?} and core {} instruction {:?} touch the same bytes without a barrier between them",
                x.core, x, y.core, y
            ));
        }
    }
    issues.truncate(50);
    issues
}
