//! `plan_memory`: the micro-batch size and every SRAM address.
//!
//! Layout, per core:
//!
//! ```text
//! local   [constants (when small)] [workspace arena × 1 or 2] [activations ...]
//! shared  [hot-row cache (chip-wide)] [core 0 region] [core 1 region] ...
//!                                      [constants (when large)] [activations ...]
//! ```
//!
//! * **Workspace**: weight tiles and accumulators of GEMMs (sized by `tile`), row buffers of
//!   vector-pooled gathers, int32 accumulators of int8 batched products. At most half of the
//!   local SRAM; two arenas used alternately by consecutive kernels when both fit, so the next
//!   kernel's first weight tiles load while the current one finishes.
//! * **Activations**: every tensor lives from the first to the last kernel that touches it
//!   (loads from HBM start two kernels early, so they run ahead). Tensors are placed largest
//!   first at the lowest address free over their whole lifetime, in local SRAM, else in the
//!   core's shared region.
//! * **Micro-batch**: a core's samples run through the whole model in micro-batches of `mb`
//!   samples; the planner takes the largest `mb` (halving from all of the core's samples) for
//!   which everything fits. Smaller SRAM means more micro-batches, each streaming the weights
//!   again — the model's HBM-resident parts (weights, tables, inputs, outputs) never move, and
//!   nothing else is ever written to HBM.
//! * **Pipelining**: with two or more micro-batches per core, the tensors the leading load and
//!   gather kernels touch get a second copy (odd micro-batches), both live throughout, so
//!   `schedule` can run micro-batch `i + 1`'s loads and gathers during micro-batch `i`'s
//!   compute; when that does not fit, the same micro-batch runs unpipelined.

use std::collections::BTreeMap;

use seedchip_isa::{DType, Space};

use crate::Error;
use crate::lir::{Base, ConstId, ConstRole, KOp, Lir, MatPrecision, TensorId};
use crate::passes::Target;
use crate::passes::place_embeddings::{COPY_ROWS, EmbeddingPlan};
use crate::passes::tile::{self, align};

/// Kernels before its first use at which a loaded tensor's lifetime starts.
const LOAD_LEAD: usize = 2;

/// Where something lives: local addresses are the same on every core; shared ones are
/// relative to the core's region (`MemPlan::shared_base`) unless said otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub space: Space,
    pub offset: u64,
}

/// A kernel's scratch space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workspace {
    None,
    Gemm {
        arena: usize,
    },
    /// Vector-pooled gather: rows of `chunk` samples at a time.
    RowCopy {
        arena: usize,
        chunk: u64,
    },
    /// int32 accumulators of an int8 batched product: `count` problems of `rows` rows.
    BmmI8 {
        arena: usize,
        count: u64,
        rows: u64,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemPlan {
    pub cores: u32,
    /// (first sample, samples) per core.
    pub samples: Vec<(u64, u64)>,
    pub mb: u64,
    /// Row blocks each micro-batch is emitted in (see `schedule`).
    pub parts: u64,
    /// Leading kernels (input loads and gathers) that `schedule` runs one micro-batch ahead
    /// when `pipelined`: micro-batch `i + 1`'s ids load and its bags gather while micro-batch
    /// `i` computes, so every tensor they touch has a second copy (`alt`) for odd micro-batches.
    pub front: usize,
    pub pipelined: bool,
    /// The odd micro-batches' copy of each tensor the front kernels touch.
    pub alt: Vec<Option<Loc>>,
    /// Start of each core's shared region.
    pub shared_base: Vec<u64>,
    pub shared_region_bytes: u64,
    pub tensors: Vec<Option<Loc>>,
    /// Vector constants: where the block is and each constant's offset in it.
    pub consts_at: Loc,
    pub const_offset: BTreeMap<ConstId, u64>,
    pub consts_bytes: u64,
    /// Local address and size of each workspace arena.
    pub arenas: Vec<(u64, u64)>,
    pub workspace: Vec<Workspace>,
    /// High-water marks per core, for the report.
    pub local_used: u64,
    pub shared_used: u64,
}

impl MemPlan {
    /// Absolute address of a tensor's block for `core` in a micro-batch of `parity` (0 for
    /// even, 1 for odd; only double-buffered tensors differ).
    pub fn tensor_addr(&self, t: TensorId, core: usize, parity: usize) -> Option<(Space, u64)> {
        let l = match (parity % 2, self.alt.get(t.index()).copied().flatten()) {
            (1, Some(a)) => a,
            _ => self.tensors[t.index()]?,
        };
        Some(self.absolute(l, core))
    }

    pub fn absolute(&self, l: Loc, core: usize) -> (Space, u64) {
        match l.space {
            Space::Shared => (Space::Shared, self.shared_base[core] + l.offset),
            s => (s, l.offset),
        }
    }

    pub fn const_addr(&self, c: ConstId, core: usize) -> (Space, u64) {
        let (s, base) = self.absolute(self.consts_at, core);
        (s, base + self.const_offset[&c])
    }
}

fn elem(d: DType) -> u64 {
    d.size_bytes().unwrap_or(1)
}

/// Per-kernel workspace for micro-batch `mb` within `budget` bytes, or `None`.
fn workspaces(
    lir: &mut Lir,
    t: &Target,
    mb: u64,
    budget: u64,
    cores: u32,
) -> Option<(Vec<Workspace>, u64)> {
    let mut need = tile::assign(lir, t, mb.div_ceil(parts(t, mb)), budget, cores)?;
    let mut ws = Vec::with_capacity(lir.kernels.len());
    for k in &lir.kernels {
        let w = match &k.op {
            KOp::Gemm(_) => Workspace::Gemm { arena: 0 },
            KOp::Gather {
                engine: false,
                pooling: Some(_),
                hotness,
                table,
                ..
            } => {
                let per = hotness * lir.tables[*table].dim * 4;
                let chunk = (budget / per.max(1))
                    .min(mb)
                    .min((COPY_ROWS / hotness.max(&1)).max(1));
                if chunk == 0 {
                    return None;
                }
                need = need.max(align(chunk * per));
                Workspace::RowCopy { arena: 0, chunk }
            }
            KOp::Bmm(b) if b.precision == Some(MatPrecision::I8) => {
                let shape = b.dst.shape();
                let r = shape.len();
                let (m, n) = (shape[r - 2], shape[r - 1]);
                let nt = n.min(t.cols);
                let rows = m.min(budget / (nt * 4).max(1));
                if rows == 0 {
                    return None;
                }
                let count = (budget / (rows * nt * 4)).clamp(1, mb);
                need = need.max(align(count * rows * nt * 4));
                Workspace::BmmI8 {
                    arena: 0,
                    count,
                    rows,
                }
            }
            _ => Workspace::None,
        };
        ws.push(w);
    }
    Some((ws, need))
}

/// Row blocks of a micro-batch: two when each still fills every array of a core (so the
/// products stay efficient), else one.
pub fn parts(t: &Target, mb: u64) -> u64 {
    if mb >= 2 * t.units * t.rows { 2 } else { 1 }
}

/// Lifetimes (first, last kernel) of the tensors the kernels touch.
fn lifetimes(lir: &Lir) -> BTreeMap<TensorId, (usize, usize)> {
    let mut life: BTreeMap<TensorId, (usize, usize)> = BTreeMap::new();
    for (i, k) in lir.kernels.iter().enumerate() {
        let (r, w) = Lir::views(&k.op);
        for v in r.into_iter().chain(w) {
            if let Base::Tensor(id) = v.base {
                let lead = if matches!(k.op, KOp::Load { .. }) {
                    LOAD_LEAD
                } else {
                    0
                };
                let e = life.entry(id).or_insert((i.saturating_sub(lead), i));
                e.0 = e.0.min(i.saturating_sub(lead));
                e.1 = e.1.max(i);
            }
        }
    }
    // A gather runs on its own engines for a long time after it is issued: its ids stay live
    // until the first kernel that reads what the gather writes, so nothing issued in between
    // (DLRM's bottom MLP) reuses their bytes and has to wait for the gather to finish.
    for (i, k) in lir.kernels.iter().enumerate() {
        let KOp::Gather { idx, dst, .. } = &k.op else {
            continue;
        };
        let (Some(ids), Some(out)) = (idx.tensor(), dst.tensor()) else {
            continue;
        };
        let reader = lir.kernels[i + 1..]
            .iter()
            .position(|k2| {
                Lir::views(&k2.op)
                    .0
                    .iter()
                    .any(|v| v.base == Base::Tensor(out))
            })
            .map(|p| i + 1 + p);
        if let (Some(j), Some(e)) = (reader, life.get_mut(&ids)) {
            e.1 = e.1.max(j);
        }
    }
    life
}

/// Leading kernels that only stage inputs and gather bags (see `MemPlan::front`).
pub fn front_kernels(lir: &Lir) -> usize {
    lir.kernels
        .iter()
        .position(|k| {
            !matches!(
                k.op,
                KOp::Load { .. } | KOp::Gather { .. } | KOp::GatherRagged { .. }
            )
        })
        .unwrap_or(lir.kernels.len())
}

/// Tensors the front kernels touch: double-buffered when pipelined.
fn front_tensors(lir: &Lir, front: usize) -> Vec<TensorId> {
    let mut out: Vec<TensorId> = lir.kernels[..front]
        .iter()
        .flat_map(|k| {
            let (r, w) = Lir::views(&k.op);
            r.into_iter()
                .chain(w)
                .filter_map(|v| v.tensor())
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// A tensor copy to place (tensor, copy 0 or 1), its bytes and lifetime in kernels.
type Item = ((TensorId, u8), u64, (usize, usize));

/// Placed tensors (key: tensor and copy) and the high-water mark per space.
type Placement = (BTreeMap<(TensorId, u8), Loc>, BTreeMap<Space, u64>);

/// First-fit over lifetimes; returns the placements or the first tensor that did not fit.
fn place(items: &[Item], regions: &[(Space, u64, u64)]) -> Result<Placement, TensorId> {
    let mut placed: Vec<(Space, u64, u64, (usize, usize))> = Vec::new();
    let mut out = BTreeMap::new();
    let mut high: BTreeMap<Space, u64> = BTreeMap::new();
    for &(t, size, life) in items {
        let mut done = false;
        for &(space, lo, hi) in regions {
            let mut busy: Vec<(u64, u64)> = placed
                .iter()
                .filter(|p| p.0 == space && p.3.0 <= life.1 && life.0 <= p.3.1)
                .map(|p| (p.1, p.2))
                .collect();
            busy.sort_unstable();
            let mut at = lo;
            for (s, e) in busy {
                if s >= at + size {
                    break;
                }
                at = at.max(e);
            }
            if at + size <= hi {
                placed.push((space, at, at + size, life));
                out.insert(t, Loc { space, offset: at });
                let h = high.entry(space).or_insert(0);
                *h = (*h).max(at + size);
                done = true;
                break;
            }
        }
        if !done {
            return Err(t.0);
        }
    }
    Ok((out, high))
}

/// Plans memory for `cores` cores sharing `batch` samples. `compute_bound`: the model's
/// gathers take well under its matrix work (see `passes::gathers_hidden`), so hiding them
/// behind compute matters more than streaming the weights fewer times.
pub fn run(
    lir: &mut Lir,
    t: &Target,
    emb: &EmbeddingPlan,
    cores: u32,
    batch: u64,
    compute_bound: bool,
) -> Result<MemPlan, Error> {
    let bc = batch.div_ceil(u64::from(cores.max(1)));
    let used_cores = batch.div_ceil(bc) as u32;
    let samples: Vec<(u64, u64)> = (0..u64::from(used_cores))
        .map(|c| (c * bc, bc.min(batch - c * bc)))
        .collect();
    // Shared: the hot rows the placement chose, then one region per core. The cache is
    // software managed (gathers find rows through their cache maps), so the part of the chip's
    // hot-row budget the placement left empty is ordinary shared SRAM.
    let cache = align(emb.cache_bytes);
    let region = (t.shared_bytes.saturating_sub(cache) / u64::from(used_cores)) / 64 * 64;
    let shared_base: Vec<u64> = (0..u64::from(used_cores))
        .map(|c| cache + c * region)
        .collect();

    // Constants.
    let mut const_offset = BTreeMap::new();
    let mut consts_bytes = 0u64;
    for (i, c) in lir.consts.iter().enumerate() {
        if c.role == ConstRole::Vector {
            const_offset.insert(ConstId(i as u32), consts_bytes);
            consts_bytes += align(c.size_bytes());
        }
    }
    let consts_local = consts_bytes <= t.local_bytes / 4;
    let consts_at = if consts_local {
        Loc {
            space: Space::Local,
            offset: 0,
        }
    } else {
        Loc {
            space: Space::Shared,
            offset: 0,
        }
    };
    let local_base = if consts_local { consts_bytes } else { 0 };
    let shared_lo = if consts_local { 0 } else { consts_bytes };
    if shared_lo > region || local_base > t.local_bytes {
        return Err(Error::DoesNotFit {
            chip: t.name.clone(),
            what: "the model's constants (biases, scales, masks, gather maps)".into(),
            detail: format!("{consts_bytes} bytes; a core's shared region has {region}"),
        });
    }
    let budget = (t.local_bytes - local_base) / 2 / 64 * 64;
    let life = lifetimes(lir);

    let front = front_kernels(lir);
    let gathers_in_front = lir.kernels[..front]
        .iter()
        .any(|k| matches!(k.op, KOp::Gather { .. } | KOp::GatherRagged { .. }));
    let doubled = front_tensors(lir, front);
    let whole = (0, lir.kernels.len().saturating_sub(1));

    let mut mb = bc;
    let mut last_failure = String::new();
    loop {
        if let Some((mut ws, need)) = workspaces(lir, t, mb, budget, used_cores) {
            let arenas_n = if 2 * need <= budget { 2 } else { 1 };
            let arenas: Vec<(u64, u64)> = (0..arenas_n)
                .map(|i| (local_base + i as u64 * need, need))
                .collect();
            let mut next = 0;
            for w in &mut ws {
                match w {
                    Workspace::Gemm { arena }
                    | Workspace::RowCopy { arena, .. }
                    | Workspace::BmmI8 { arena, .. } => {
                        *arena = next % arenas_n;
                        next += 1;
                    }
                    Workspace::None => {}
                }
            }
            let act_lo = align(local_base + arenas_n as u64 * need);
            // Pipelining pays only with two or more micro-batches and compute after the
            // front; its second copies may not fit, then the same micro-batch runs unpipelined
            // (a smaller one would stream every weight once more).
            let can_pipeline = mb < bc && front > 0 && front < lir.kernels.len();
            // A compute-bound model with gathers takes the halves of a micro-batch when they
            // still fill every array's rows, instead of one micro-batch per core (which
            // cannot hide its gathers behind compute: DLRM-v2 at batch 2048 would wait ~50 k
            // cycles for the gathers of all 1,024 samples before the first cross layer) or
            // one emitted as two row blocks (`parts`: both blocks reach the vector unit's
            // elementwise work at the same time, which DCN-v2's cross layers cannot overlap
            // with products; DLRM-v2 at batch 4096: 744 k cycles at 1,024, 635 k at 512).
            let halve = compute_bound
                && gathers_in_front
                && front < lir.kernels.len()
                && mb / 2 >= t.units * t.rows
                && (mb == bc || parts(t, mb) > 1);
            for pipelined in [true, false] {
                if halve || pipelined && !can_pipeline {
                    continue;
                }
                let mut items: Vec<Item> = life
                    .iter()
                    .map(|(&tid, &l)| {
                        let tt = lir.tensor(tid);
                        let size = align(mb * tt.per_sample * elem(tt.dtype));
                        // Both copies of a pipelined tensor are live across the whole
                        // micro-batch: the next one's loads and gathers fill the other copy
                        // while this one computes.
                        let l = if pipelined && doubled.binary_search(&tid).is_ok() {
                            whole
                        } else {
                            l
                        };
                        ((tid, 0u8), size, l)
                    })
                    .collect();
                if pipelined {
                    for &tid in &doubled {
                        let tt = lir.tensor(tid);
                        items.push(((tid, 1), align(mb * tt.per_sample * elem(tt.dtype)), whole));
                    }
                }
                items.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let regions = [
                    (Space::Local, act_lo, t.local_bytes),
                    (Space::Shared, shared_lo, region),
                ];
                match place(&items, &regions) {
                    Ok((locs, high)) => {
                        let mut tensors = vec![None; lir.tensors.len()];
                        let mut alt = vec![None; lir.tensors.len()];
                        for ((tid, copy), l) in locs {
                            if copy == 0 {
                                tensors[tid.index()] = Some(l);
                            } else {
                                alt[tid.index()] = Some(l);
                            }
                        }
                        return Ok(MemPlan {
                            cores: used_cores,
                            samples,
                            mb,
                            parts: parts(t, mb),
                            front,
                            pipelined,
                            alt,
                            shared_base,
                            shared_region_bytes: region,
                            tensors,
                            consts_at,
                            const_offset,
                            consts_bytes,
                            arenas,
                            workspace: ws,
                            local_used: high
                                .get(&Space::Local)
                                .copied()
                                .unwrap_or(act_lo)
                                .max(act_lo),
                            shared_used: cache
                                + u64::from(used_cores)
                                    * high.get(&Space::Shared).copied().unwrap_or(shared_lo),
                        });
                    }
                    Err(tid) => {
                        let tt = lir.tensor(tid);
                        last_failure = format!(
                            "tensor `{}` ({} bytes per sample) has no room at micro-batch {mb}",
                            tt.name,
                            tt.per_sample * elem(tt.dtype)
                        );
                    }
                }
            }
        } else {
            last_failure =
                format!("a kernel's workspace exceeds {budget} bytes at micro-batch {mb}");
        }
        if mb == 1 {
            return Err(Error::DoesNotFit {
                chip: t.name.clone(),
                what: format!("model `{}`", lir.name),
                detail: format!(
                    "one sample's activations do not fit the SRAM ({} local per core, {} of \
                     shared per core): {last_failure}",
                    t.local_bytes, region
                ),
            });
        }
        mb = mb.div_ceil(2);
    }
}
