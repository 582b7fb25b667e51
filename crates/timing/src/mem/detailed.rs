//! The detailed (bank-level) model.
//!
//! Each pseudo-channel is an independent controller: an input FIFO, a read queue and a write
//! queue (the scheduler's window), per-bank row buffers and timing state, bank-group and
//! channel-level column/activate constraints, a four-activate window, refresh, and an FR-FCFS
//! scheduler. Requests are split into *row accesses* (the bursts of a request that fall in one
//! interleaving block: one pseudo-channel, one bank, one row); a request completes when its last
//! burst's data has been transferred (plus the configured controller latency).
//!
//! Time advances by events, never by ticking: at each step the controller computes, for every
//! bank with queued work, the earliest cycle its next command (ACT, PRE, READ or WRITE) is legal,
//! and issues the best command at the earliest such cycle. That is exactly what a controller
//! checking every cycle would issue (the first cycle anything is legal is the only cycle where
//! something changes), at a cost proportional to the commands issued, not to the cycles elapsed.
//!
//! Scheduling (FR-FCFS with a starvation cap, per pseudo-channel):
//! 1. Mode: reads are served until the write queue reaches the high watermark (or no read is
//!    queued); writes are then drained down to the low watermark (or until none is left).
//! 2. Per bank, the candidate is: the oldest queued access to the open row (a row hit), unless
//!    `row_hit_cap` hits have been served since the activation and an access to another row
//!    waits, in which case PRE; PRE if only other rows are wanted; ACT for the oldest access if
//!    the bank is precharged.
//! 3. Among candidates: earliest legal cycle first, then column commands (row hits) before row
//!    commands, then the oldest access.
//!
//! Refresh ([`RefreshMode`]), per pseudo-channel, pseudo-channel `i` of `n` offset by
//! `(i + 1) / n` of an interval so refreshes are spread, issued at the due time and never
//! postponed. All-bank: every tREFI, no new command once due, open banks precharged as soon as
//! legal, REF when all are precharged, banks unusable for tRFC. Per-bank: every tREFI / banks,
//! the next bank in turn is precharged and unusable for tRFCpb; the others keep working.
//! Refresh commands do not occupy the command bus.
//!
//! Page policy: open keeps rows open until a conflict or refresh; closed precharges
//! automatically after the last burst of each row access (READ/WRITE with auto-precharge), so
//! every access activates.
//!
//! Determinism: all state is in vectors indexed by pseudo-channel, bank and queue slot; ties are
//! broken by age (admission order); no hash maps.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use rayon::prelude::*;

use seedchip_chip::PagePolicy;
use serde::{Deserialize, Serialize};

use super::Error;
use super::config::{MemConfig, RefreshMode};
use super::mapping::Decoder;
use super::stats::{LatencyHistogram, MemStats, PchCounters};
use super::trace::{Op, Request};

/// Index of a submitted request (submission order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u32);

/// A request whose completion time is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Completion {
    pub cycle: u64,
    pub id: RequestId,
}

const NEVER: u64 = u64::MAX;

/// Cycles the pseudo-channels advance together (see [`DetailedMemory::advance_to`]).
pub const SLICE_CYCLES: u64 = 2048;

/// Row accesses queued in the whole memory above which a slice runs the pseudo-channels on
/// rayon's threads (below it, the threads would cost more than they save).
const PARALLEL_MIN_PENDING: usize = 1024;
const CLOSED: u32 = u32::MAX;
/// Banks per pseudo-channel the scheduler handles (`MemConfig::check` enforces it).
const MAX_BANKS: usize = 64;
const BANK_MASK: usize = MAX_BANKS - 1;

/// Timing constants in the width the scheduler uses.
#[derive(Debug, Clone)]
struct Ctx {
    tcl: u64,
    tcwl: u64,
    trcd: u64,
    trp: u64,
    tras: u64,
    trc: u64,
    trrd_s: u64,
    trrd_l: u64,
    tfaw: u64,
    tccd_s: u64,
    tccd_l: u64,
    tburst: u64,
    trtp: u64,
    rtw: u64,
    wtr_s: u64,
    wtr_l: u64,
    wtp: u64,
    trfc: u64,
    trfc_pb: u64,
    refresh: RefreshMode,
    /// Cycles between refresh commands of one pseudo-channel.
    ref_interval: u64,
    banks: u32,
    read_depth: u32,
    write_depth: u32,
    bank_depth: u32,
    lookahead: usize,
    high: u32,
    low: u32,
    hit_cap: u32,
    closed_page: bool,
    dual_bus: bool,
    ctrl: u64,
}

impl Ctx {
    fn new(cfg: &MemConfig) -> Ctx {
        let t = &cfg.timing;
        let c = |v: u32| u64::from(v);
        let banks = cfg.banks_per_pchannel();
        Ctx {
            tcl: c(t.tcl),
            tcwl: c(t.tcwl),
            trcd: c(t.trcd),
            trp: c(t.trp),
            tras: c(t.tras),
            trc: c(t.trc),
            trrd_s: c(t.trrd_s),
            trrd_l: c(t.trrd_l),
            tfaw: c(t.tfaw),
            tccd_s: c(t.tccd_s),
            tccd_l: c(t.tccd_l),
            tburst: c(t.tburst),
            trtp: c(t.trtp),
            rtw: c(t.read_to_write()),
            wtr_s: c(t.write_to_read(false)),
            wtr_l: c(t.write_to_read(true)),
            wtp: c(t.write_to_precharge()),
            trfc: c(t.trfc),
            trfc_pb: c(t.trfc_pb),
            refresh: cfg.refresh,
            ref_interval: match cfg.refresh {
                RefreshMode::PerBank => (c(t.trefi) / u64::from(banks)).max(1),
                _ => c(t.trefi),
            },
            banks,
            read_depth: cfg.read_queue_depth,
            write_depth: cfg.write_queue_depth,
            bank_depth: cfg.bank_queue_depth,
            lookahead: cfg.admission_lookahead as usize,
            high: cfg.write_high_watermark,
            low: cfg.write_low_watermark,
            hit_cap: cfg.row_hit_cap,
            closed_page: cfg.page_policy == PagePolicy::Closed,
            dual_bus: cfg.dual_command_bus,
            ctrl: c(cfg.controller_latency_cycles),
        }
    }
}

/// A row access waiting in a pseudo-channel.
#[derive(Debug, Clone, Copy)]
struct Txn {
    arrival: u64,
    req: u32,
    /// Admission order within the pseudo-channel (age).
    seq: u64,
    row: u32,
    bursts_left: u32,
    bank: u8,
    write: bool,
    started: bool,
    /// The request is this one row access (no other part to wait for).
    single: bool,
}

/// Where a pseudo-channel records finished requests. The per-request arrays are shared by all
/// pseudo-channels (each running on any thread): a request of one row access belongs to one
/// pseudo-channel, so its completion is a plain store; one of several parts keeps the latest
/// part's cycle with an atomic maximum, and the part that brings its count to zero finishes it.
struct Sink<'a> {
    completion: &'a [AtomicU64],
    parts_left: &'a [AtomicU32],
    /// Finished requests as (cycle, id), when the caller collects them.
    track: Option<&'a mut Vec<(u64, u32)>>,
    lat: &'a mut Latencies,
    /// Completions of single-access requests not stored yet, as (request, cycle): stored in
    /// batches ([`Sink::flush`]), whose scattered stores overlap (one at a time inside the
    /// scheduler loop, each cache miss cost about a tenth of the run time). Owned by the
    /// caller, so that a sink costs no allocation.
    buf: &'a mut Vec<(u32, u64)>,
}

impl Sink<'_> {
    const BATCH: usize = 256;

    fn new<'a>(
        completion: &'a [AtomicU64],
        parts_left: &'a [AtomicU32],
        track: Option<&'a mut Vec<(u64, u32)>>,
        lat: &'a mut Latencies,
        buf: &'a mut Vec<(u32, u64)>,
    ) -> Sink<'a> {
        buf.reserve(Self::BATCH);
        Sink {
            completion,
            parts_left,
            track,
            lat,
            buf,
        }
    }

    /// Stores the buffered completions.
    fn flush(&mut self) {
        for &(r, at) in self.buf.iter() {
            self.completion[r as usize].store(at, Ordering::Relaxed);
        }
        self.buf.clear();
    }
}

impl Drop for Sink<'_> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Latencies and the last completion of the requests one sink finished (merged in
/// `DetailedMemory::stats`; merging does not depend on the order, so threads never share them).
#[derive(Debug, Clone, Default)]
struct Latencies {
    read: LatencyHistogram,
    write: LatencyHistogram,
    last_completion: u64,
}

impl Latencies {
    fn merge(&mut self, o: &Latencies) {
        self.read.merge(&o.read);
        self.write.merge(&o.write);
        self.last_completion = self.last_completion.max(o.last_completion);
    }
}

/// What one pseudo-channel finished under `DetailedMemory::advance_to`.
#[derive(Debug, Clone, Default)]
struct PchOut {
    /// Requests finished in the current slice, as (cycle, id), when tracking.
    tracked: Vec<(u64, u32)>,
    lat: Latencies,
    /// `Sink::buf`, kept between slices.
    buf: Vec<(u32, u64)>,
}

/// Where a pseudo-channel's input comes from while it runs: everything submitted beforehand
/// ([`NoFeed`]), or a trace decoded on demand ([`TraceFeed`]).
trait Feed {
    /// Whether `fill` does anything (so the check before it compiles away when not).
    const ACTIVE: bool;
    /// Tops up `input` of the pseudo-channel with local index `me` to `want` accesses, from
    /// requests arriving before `limit` (or already decoded).
    fn fill(&mut self, me: usize, input: &mut Input, want: usize, limit: u64);
}

struct NoFeed;

impl Feed for NoFeed {
    const ACTIVE: bool = false;
    #[inline(always)]
    fn fill(&mut self, _: usize, _: &mut Input, _: usize, _: u64) {}
}

/// One thread's share of a decoded trace: the trace was decoded in chunks (in parallel), each
/// chunk into one list per pseudo-channel; a pseudo-channel's input is its lists in chunk
/// order, each list becoming its input queue in turn as it runs (handed over, not copied,
/// when the queue is empty; so the queues stay small and in cache, and each list is read
/// once, sequentially).
struct SegFeed {
    /// Per local pseudo-channel: its lists, in chunk order.
    lists: Vec<std::vec::IntoIter<Vec<Txn>>>,
}

impl Feed for SegFeed {
    const ACTIVE: bool = true;
    #[inline]
    fn fill(&mut self, me: usize, input: &mut Input, want: usize, _limit: u64) {
        while input.len() < want {
            let Some(list) = self.lists[me].next() else {
                break;
            };
            input.append_list(list);
        }
    }
}

/// A pseudo-channel's FIFO of arrived (or submitted) accesses not yet admitted: a vector and
/// the index of its front, so a decoded list can become the queue without a copy.
#[derive(Debug, Clone, Default)]
struct Input {
    v: Vec<Txn>,
    head: usize,
}

impl Input {
    #[inline]
    fn len(&self) -> usize {
        self.v.len() - self.head
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.head == self.v.len()
    }

    #[inline]
    fn front(&self) -> Option<&Txn> {
        self.v.get(self.head)
    }

    /// The `i`-th waiting access (0 = the front).
    #[inline]
    fn get(&self, i: usize) -> &Txn {
        &self.v[self.head + i]
    }

    fn iter(&self) -> std::slice::Iter<'_, Txn> {
        self.v[self.head..].iter()
    }

    fn push_back(&mut self, t: Txn) {
        // Drop the consumed prefix once it is most of the vector (amortised O(1)).
        if self.head >= 1024 && self.head * 2 >= self.v.len() {
            self.v.drain(..self.head);
            self.head = 0;
        }
        self.v.push(t);
    }

    /// Appends a list: it becomes the queue when the queue is empty.
    fn append_list(&mut self, list: Vec<Txn>) {
        if self.is_empty() {
            self.v = list;
            self.head = 0;
        } else {
            self.v.extend_from_slice(&list);
        }
    }

    /// Removes and returns the `i`-th waiting access, keeping the others in order.
    #[inline]
    fn take(&mut self, i: usize) -> Txn {
        let at = self.head + i;
        let t = self.v[at];
        if i > 0 {
            // The ones before it move up one place (at most the admission look-ahead).
            self.v.copy_within(self.head..at, self.head + 1);
        }
        self.head += 1;
        t
    }
}

#[derive(Debug, Clone)]
struct Bank {
    open_row: u32,
    bg: u8,
    t_act: u64,
    t_pre: u64,
    t_rd: u64,
    t_wr: u64,
    /// Row accesses started since the last activation.
    served: u32,
    /// The access the row was opened for (closed-page policy: only it may use the row).
    owner: u32,
    /// Queue slots of the waiting reads / writes, oldest first.
    reads: Vec<u32>,
    writes: Vec<u32>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Group {
    t_rd: u64,
    t_wr: u64,
    t_act: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    None,
    /// READ or WRITE (the mode says which) to the open row.
    Col,
    Act,
    Pre,
}

/// A bank's next command in the current mode, with the part of its earliest legal cycle that
/// depends on the bank alone. Recomputed only when the bank changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct BankCand {
    part: u64,
    /// The low half of its order key: the access's age, with bit 63 set for a row command
    /// ([`order_lo`]), so the scans need not build it.
    lo: u64,
    slot: u32,
    kind: Kind,
    bg: u8,
}

const NO_CAND: BankCand = BankCand {
    part: NEVER,
    lo: 0,
    slot: 0,
    kind: Kind::None,
    bg: 0,
};

/// A command with its earliest legal cycle; `kind == Kind::None` (and its time `NEVER`) when
/// there is none.
#[derive(Debug, Clone, Copy)]
struct Cand {
    /// (time, not a column command, age) as one number: the scheduler's order, compared
    /// without branches (ages stay below 2^63).
    key: u128,
    slot: u32,
    bank: u8,
    kind: Kind,
}

/// Indices of [`PChannel::bests`].
const PRE: usize = 0;
const ACT: usize = 1;
const COL: usize = 2;

const NO_CMD: Cand = Cand {
    key: u128::MAX,
    slot: 0,
    // No bank has this number (at most 64).
    bank: u8::MAX,
    kind: Kind::None,
};

/// The low half of a command's order key: not a column command, then its access's age (the
/// scheduler's order is earliest, then column commands, then oldest; [`key_of`]).
#[inline]
fn order_lo(column: bool, seq: u64) -> u64 {
    (u64::from(!column) << 63) | seq
}

/// The scheduler's order of a command of cycle `time` whose low half is `lo`.
#[inline]
fn key_of(time: u64, lo: u64) -> u128 {
    (u128::from(time) << 64) | u128::from(lo)
}

impl Cand {
    /// Its earliest legal cycle (`NEVER` if there is no command).
    #[inline]
    fn time(&self) -> u64 {
        (self.key >> 64) as u64
    }

    /// Earliest first, then column commands (row hits), then the oldest access.
    #[inline]
    fn before(&self, o: &Cand) -> bool {
        self.key < o.key
    }

    #[inline]
    fn is_some(&self) -> bool {
        self.kind != Kind::None
    }

    /// Whether this is a command of bank `b`.
    #[inline]
    fn of_bank(&self, b: usize) -> bool {
        self.bank as usize == b
    }
}

#[derive(Debug, Clone)]
struct PChannel {
    input: Input,
    slots: Vec<Txn>,
    free: Vec<u32>,
    /// The first `Ctx::banks` are used.
    banks: Box<[Bank; MAX_BANKS]>,
    /// Indexed by bank group / bank, at most [`MAX_BANKS`] (fixed size: no bounds checks).
    groups: Box<[Group; MAX_BANKS]>,
    cand: Box<[BankCand; MAX_BANKS]>,
    /// Banks whose candidate is a column command / a PRE / an ACT.
    col_mask: u64,
    pre_mask: u64,
    act_mask: u64,
    /// The cached first PRE, ACT and column command ([`PRE`], [`ACT`], [`COL`]).
    bests: [Cand; 3],
    col_valid: bool,
    pre_valid: bool,
    act_valid: bool,

    n_reads: u32,
    n_writes: u32,
    write_mode: bool,
    /// The queue counts changed since the mode was last updated.
    mode_dirty: bool,
    /// No waiting access could enter the window when last checked, and neither the input
    /// nor the room in the queues has changed since (so the check is skipped).
    blocked: bool,
    next_seq: u64,
    now: u64,
    t_rd: u64,
    t_wr: u64,
    t_act: u64,
    /// Earliest next ACT allowed by each of the last four ACTs (tFAW), ring buffer.
    faw: [u64; 4],
    faw_pos: usize,
    row_bus: u64,
    col_bus: u64,
    ref_due: u64,
    /// Next bank for per-bank refresh.
    ref_bank: u32,
    /// Arrival of the first access this pseudo-channel received (earlier refreshes are not
    /// counted in the statistics).
    first_arrival: u64,
    counters: PchCounters,
}

impl PChannel {
    fn new(cfg: &MemConfig, k: &Ctx, index: u32) -> PChannel {
        // Room for a full window per bank, so the lists never reallocate while running.
        let per_bank = (cfg.read_queue_depth.max(cfg.write_queue_depth) as usize).min(256);
        let banks = Box::new(std::array::from_fn(|b| {
            let b = b as u32;
            let per_bank = if b < k.banks { per_bank } else { 0 };
            Bank {
                open_row: CLOSED,
                bg: (b / cfg.banks_per_group).min(MAX_BANKS as u32 - 1) as u8,
                t_act: 0,
                t_pre: 0,
                t_rd: 0,
                t_wr: 0,
                served: 0,
                owner: u32::MAX,
                reads: Vec::with_capacity(per_bank),
                writes: Vec::with_capacity(per_bank),
            }
        }));
        let n = u64::from(cfg.total_pchannels());
        PChannel {
            input: Input::default(),
            slots: Vec::new(),
            free: Vec::new(),
            banks,
            groups: Box::new([Group::default(); MAX_BANKS]),
            cand: Box::new([NO_CAND; MAX_BANKS]),
            col_mask: 0,
            pre_mask: 0,
            act_mask: 0,
            bests: [NO_CMD; 3],
            col_valid: true,
            pre_valid: true,
            act_valid: true,

            n_reads: 0,
            n_writes: 0,
            write_mode: false,
            mode_dirty: false,
            blocked: false,
            next_seq: 0,
            now: 0,
            t_rd: 0,
            t_wr: 0,
            t_act: 0,
            faw: [0; 4],
            faw_pos: 0,
            row_bus: 0,
            col_bus: 0,
            // Pseudo-channels' refreshes are spread over one interval.
            ref_due: k.ref_interval * (u64::from(index) + 1) / n,
            ref_bank: 0,
            first_arrival: NEVER,
            counters: PchCounters::default(),
        }
    }

    /// No decision of this pseudo-channel is due before this cycle (NEVER if it has no work).
    fn next_activity(&self) -> u64 {
        if !self.window_empty() {
            self.now
        } else if let Some(t) = self.input.front() {
            t.arrival.max(self.now)
        } else {
            NEVER
        }
    }

    #[inline]
    fn window_empty(&self) -> bool {
        self.n_reads + self.n_writes == 0
    }

    /// Room in the write queue, or in the read queue and the bank's share of it.
    #[inline(always)]
    fn has_room(&self, k: &Ctx, t: &Txn) -> bool {
        if t.write {
            self.n_writes < k.write_depth
        } else {
            self.n_reads < k.read_depth
                && (self.banks[t.bank as usize & BANK_MASK].reads.len() as u32) < k.bank_depth
        }
    }

    /// Position among the first `lookahead` waiting accesses of the first one that can enter
    /// the window (in arrival order), and when.
    #[inline(always)]
    fn admissible(&self, k: &Ctx) -> Option<(usize, u64)> {
        let i = if k.lookahead == 1 {
            // Strict FIFO (the default): only the head.
            let t = self.input.front()?;
            if !self.has_room(k, t) {
                return None;
            }
            0
        } else {
            self.input
                .iter()
                .take(k.lookahead)
                .position(|t| self.has_room(k, t))?
        };
        Some((i, self.input.get(i).arrival.max(self.now)))
    }

    fn admit(&mut self, k: &Ctx, i: usize) {
        let mut t = self.input.take(i);
        t.seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = t;
                s
            }
            None => {
                self.slots.push(t);
                (self.slots.len() - 1) as u32
            }
        };
        let b = t.bank as usize;
        let bank = &mut self.banks[b & BANK_MASK];
        if t.write {
            bank.writes.push(slot);
            self.n_writes += 1;
        } else {
            bank.reads.push(slot);
            self.n_reads += 1;
        }
        self.mode_dirty = true;
        if t.write == self.write_mode {
            // Only a bank with no other access of this kind changes its candidate: a new
            // access is the youngest, so it neither becomes the oldest access nor the oldest
            // row hit of a bank that already had one... unless nothing of the kind was queued.
            let list = if t.write { &bank.writes } else { &bank.reads };
            if list.len() == 1 || self.cand[b & BANK_MASK].kind == Kind::Pre {
                self.update_bank(k, b);
            }
        }
    }

    /// Switches between serving reads and draining writes; true if the mode changed.
    #[inline]
    fn update_mode(&mut self, k: &Ctx) -> bool {
        let next = if self.write_mode {
            !(self.n_writes == 0 || (self.n_reads > 0 && self.n_writes <= k.low))
        } else {
            self.n_writes >= k.high || (self.n_reads == 0 && self.n_writes > 0)
        };
        let changed = next != self.write_mode;
        self.write_mode = next;
        changed
    }

    /// Bank `b`'s next command in the current mode (FR-FCFS with the hit cap).
    #[inline(always)]
    fn bank_candidate(&self, k: &Ctx, b: usize) -> BankCand {
        let bank = &self.banks[b & BANK_MASK];
        let write = self.write_mode;
        let list = if write { &bank.writes } else { &bank.reads };
        let Some(&front) = list.first() else {
            return NO_CAND;
        };
        let first = &self.slots[front as usize];
        if bank.open_row == CLOSED {
            return BankCand {
                part: bank.t_act,
                lo: order_lo(false, first.seq),
                slot: front,
                kind: Kind::Act,
                bg: bank.bg,
            };
        }
        // The oldest access to the open row; row hits may bypass an older access to another
        // row only `hit_cap` times per activation.
        let hit = if k.closed_page {
            list.contains(&bank.owner).then_some(bank.owner)
        } else if first.row == bank.open_row {
            Some(front)
        } else if bank.served <= k.hit_cap {
            list.iter()
                .copied()
                .find(|&s| self.slots[s as usize].row == bank.open_row)
        } else {
            None
        };
        match hit {
            Some(s) => BankCand {
                part: if write { bank.t_wr } else { bank.t_rd },
                lo: order_lo(true, self.slots[s as usize].seq),
                slot: s,
                kind: Kind::Col,
                bg: bank.bg,
            },
            None => BankCand {
                part: bank.t_pre,
                lo: order_lo(false, first.seq),
                slot: front,
                kind: Kind::Pre,
                bg: bank.bg,
            },
        }
    }

    /// Earliest legal cycle of a bank's candidate, given the group and channel state.
    #[inline]
    fn time_of(&self, c: &BankCand) -> u64 {
        let g = &self.groups[c.bg as usize & BANK_MASK];
        match c.kind {
            Kind::Col if self.write_mode => c.part.max(g.t_wr).max(self.t_wr).max(self.col_bus),
            Kind::Col => c.part.max(g.t_rd).max(self.t_rd).max(self.col_bus),
            Kind::Act => c
                .part
                .max(g.t_act)
                .max(self.t_act)
                .max(self.faw[self.faw_pos])
                .max(self.row_bus),
            Kind::Pre => c.part.max(self.row_bus),
            Kind::None => NEVER,
        }
        .max(self.now)
    }

    #[inline]
    fn cand_of(&self, b: usize, c: &BankCand) -> Cand {
        Cand {
            key: key_of(self.time_of(c), c.lo),
            slot: c.slot,
            bank: b as u8,
            kind: c.kind,
        }
    }

    /// Recomputes bank `b`'s candidate and folds it into the cached best commands.
    #[inline(always)]
    fn update_bank(&mut self, k: &Ctx, b: usize) {
        let c = self.bank_candidate(k, b);
        self.set_cand(b, c);
    }

    /// Sets bank `b`'s candidate and folds it into the cached best commands: a cached best of
    /// this bank is stale (rescanned when needed); otherwise the new candidate replaces the
    /// cached best of its kind if it comes first.
    #[inline(always)]
    fn set_cand(&mut self, b: usize, c: BankCand) {
        self.cand[b & BANK_MASK] = c;
        let bit = 1u64 << b;
        self.col_mask &= !bit;
        self.pre_mask &= !bit;
        self.act_mask &= !bit;
        if self.bests[COL].of_bank(b) {
            self.col_valid = false;
        }
        if self.bests[PRE].of_bank(b) {
            self.pre_valid = false;
        }
        if self.bests[ACT].of_bank(b) {
            self.act_valid = false;
        }
        match c.kind {
            Kind::None => {}
            Kind::Col => {
                self.col_mask |= bit;
                if self.col_valid {
                    let new = self.cand_of(b, &c);
                    if new.before(&self.bests[COL]) {
                        self.bests[COL] = new;
                    }
                }
            }
            Kind::Act => {
                self.act_mask |= bit;
                if self.act_valid {
                    let new = self.cand_of(b, &c);
                    if new.before(&self.bests[ACT]) {
                        self.bests[ACT] = new;
                    }
                }
            }
            Kind::Pre => {
                self.pre_mask |= bit;
                if self.pre_valid {
                    let new = self.cand_of(b, &c);
                    if new.before(&self.bests[PRE]) {
                        self.bests[PRE] = new;
                    }
                }
            }
        }
    }

    fn recompute_all(&mut self, k: &Ctx) {
        self.col_mask = 0;
        self.pre_mask = 0;
        self.act_mask = 0;
        for b in 0..k.banks as usize {
            let c = self.bank_candidate(k, b);
            self.cand[b & BANK_MASK] = c;
            match c.kind {
                Kind::Col => self.col_mask |= 1 << b,
                Kind::Act => self.act_mask |= 1 << b,
                Kind::Pre => self.pre_mask |= 1 << b,
                Kind::None => {}
            }
        }
        self.col_valid = false;
        self.pre_valid = false;
        self.act_valid = false;
    }

    /// The best column command among the banks of `col_mask`.
    #[inline]
    fn scan_col(&self) -> Cand {
        let mut mask = self.col_mask;
        if mask == 0 {
            return NO_CMD;
        }
        let write = self.write_mode;
        let chan = if write { self.t_wr } else { self.t_rd }
            .max(self.col_bus)
            .max(self.now);
        // (time, age) as one key, so the comparison needs no branch.
        let (mut best, mut best_bank) = (u128::MAX, 0);
        while mask != 0 {
            let b = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let c = &self.cand[b & BANK_MASK];
            let g = &self.groups[c.bg as usize & BANK_MASK];
            let t = c.part.max(if write { g.t_wr } else { g.t_rd }).max(chan);
            let key = key_of(t, c.lo);
            let lt = key < best;
            best = if lt { key } else { best };
            best_bank = if lt { b } else { best_bank };
        }
        self.cmd_of(best, best_bank)
    }

    /// The command of `bank` for a scan's winning key.
    #[inline]
    fn cmd_of(&self, key: u128, bank: usize) -> Cand {
        let c = &self.cand[bank & BANK_MASK];
        Cand {
            key,
            slot: c.slot,
            bank: bank as u8,
            kind: c.kind,
        }
    }

    /// The channel's limit for any ACT: the row bus, tRRD_S and tFAW.
    #[inline]
    fn act_channel_limit(&self) -> u64 {
        self.row_bus
            .max(self.now)
            .max(self.t_act)
            .max(self.faw[self.faw_pos])
    }

    /// The best PRE among the banks of `pre_mask`.
    #[inline]
    fn scan_pre(&self) -> Cand {
        let mut mask = self.pre_mask;
        if mask == 0 {
            return NO_CMD;
        }
        let pre = self.row_bus.max(self.now);
        let (mut best, mut best_bank) = (u128::MAX, 0);
        while mask != 0 {
            let b = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let c = &self.cand[b & BANK_MASK];
            let key = key_of(c.part.max(pre), c.lo);
            let lt = key < best;
            best = if lt { key } else { best };
            best_bank = if lt { b } else { best_bank };
        }
        self.cmd_of(best, best_bank)
    }

    /// The best ACT among the banks of `act_mask`, given the channel's ACT limit `act`.
    #[inline]
    fn scan_act(&self, act: u64) -> Cand {
        let mut mask = self.act_mask;
        if mask == 0 {
            return NO_CMD;
        }
        let (mut best, mut best_bank) = (u128::MAX, 0);
        while mask != 0 {
            let b = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let c = &self.cand[b & BANK_MASK];
            let g_act = self.groups[c.bg as usize & BANK_MASK].t_act.max(act);
            let key = key_of(c.part.max(g_act), c.lo);
            let lt = key < best;
            best = if lt { key } else { best };
            best_bank = if lt { b } else { best_bank };
        }
        self.cmd_of(best, best_bank)
    }

    #[inline(always)]
    fn best(&mut self) -> Cand {
        if !self.col_valid {
            self.bests[COL] = self.scan_col();
            self.col_valid = true;
        }
        if !self.pre_valid {
            self.bests[PRE] = self.scan_pre();
            self.pre_valid = true;
        }
        if !self.act_valid {
            self.bests[ACT] = self.scan_act(self.act_channel_limit());
            self.act_valid = true;
        }
        // Compared by key and copied once (on ties, which only empty caches have, PRE
        // before ACT, and a column command before a row command).
        let (kp, ka, kc) = (
            self.bests[PRE].key,
            self.bests[ACT].key,
            self.bests[COL].key,
        );
        let act = ka < kp;
        let row = if act { ka } else { kp };
        let i = if row < kc { usize::from(act) } else { COL };
        self.bests[i]
    }

    #[inline(always)]
    fn issue(&mut self, c: Cand, k: &Ctx, out: &mut Sink) {
        let t = c.time();
        self.now = t;
        let b = c.bank as usize;
        if c.kind == Kind::Col {
            self.col_bus = t + 1;
        } else {
            self.row_bus = t + 1;
        }
        if !k.dual_bus {
            self.row_bus = t + 1;
            self.col_bus = t + 1;
        }
        // A command raises channel limits (and, for an ACT, its bank group's). Every other
        // candidate's earliest cycle only rises, so a cached best whose own cycle is not
        // below the new limits of its kind is still the first of its kind (any other one
        // was after it and still is); otherwise it is rescanned. The issued command's bank
        // is updated below, which drops a cached best of that bank.
        match c.kind {
            Kind::Col => self.col_valid = false,
            Kind::Act => self.act_valid = false,
            Kind::Pre => {}
            Kind::None => {}
        }
        if c.kind != Kind::Col || !k.dual_bus {
            if self.pre_valid && self.bests[PRE].time() < self.row_bus.max(self.now) {
                self.pre_valid = false;
            }
            if self.act_valid && self.bests[ACT].time() < self.act_channel_limit() {
                self.act_valid = false;
            }
        }
        if c.kind != Kind::Col && !k.dual_bus {
            let col = if self.write_mode {
                self.t_wr
            } else {
                self.t_rd
            };
            if self.bests[COL].time() < col.max(self.col_bus).max(self.now) {
                self.col_valid = false;
            }
        }
        match c.kind {
            Kind::Act => {
                let row = self.slots[c.slot as usize].row;
                let bank = &mut self.banks[b & BANK_MASK];
                bank.open_row = row;
                bank.owner = c.slot;
                bank.served = 0;
                bank.t_rd = t + k.trcd;
                bank.t_wr = t + k.trcd;
                bank.t_pre = bank.t_pre.max(t + k.tras);
                bank.t_act = t + k.trc;
                self.groups[bank.bg as usize & BANK_MASK].t_act = t + k.trrd_l;
                self.t_act = t + k.trrd_s;
                self.faw[self.faw_pos] = t + k.tfaw;
                self.faw_pos = (self.faw_pos + 1) & 3;
                self.counters.activates += 1;
                // The row was opened for the bank's oldest access (of the mode), which is
                // now its row hit (and, under closed page, the row's owner): what
                // `bank_candidate` would find.
                let old = self.cand[b & BANK_MASK];
                let new = BankCand {
                    part: t + k.trcd,
                    kind: Kind::Col,
                    lo: old.lo & !(1 << 63),
                    ..old
                };
                debug_assert_eq!(new, self.bank_candidate(k, b));
                self.set_cand(b, new);
            }
            Kind::Pre => {
                let bank = &mut self.banks[b & BANK_MASK];
                bank.open_row = CLOSED;
                bank.t_act = bank.t_act.max(t + k.trp);
                self.counters.precharges += 1;
                // The PRE was for the bank's oldest access, which now needs an ACT.
                let part = bank.t_act;
                let old = self.cand[b & BANK_MASK];
                let new = BankCand {
                    part,
                    kind: Kind::Act,
                    ..old
                };
                debug_assert_eq!(new, self.bank_candidate(k, b));
                self.set_cand(b, new);
            }
            Kind::Col => {
                if self.column(c, k, out) {
                    self.update_bank(k, b);
                }
            }
            Kind::None => unreachable!("no command to issue"),
        }
    }

    /// A READ or WRITE burst; false if the bank's candidate is certainly unchanged (the same
    /// access's next burst), so it need not be recomputed.
    #[inline(always)]
    fn column(&mut self, c: Cand, k: &Ctx, out: &mut Sink) -> bool {
        let t = c.time();
        let b = c.bank as usize;
        let s = c.slot as usize;
        let bank = &mut self.banks[b & BANK_MASK];
        let txn = &mut self.slots[s];
        if !txn.started {
            txn.started = true;
            if bank.served > 0 {
                self.counters.row_hits += 1;
            }
            bank.served += 1;
            self.counters.chunks += 1;
        }
        txn.bursts_left -= 1;
        self.counters.bursts += 1;
        let g = &mut self.groups[bank.bg as usize & BANK_MASK];
        let data_end = if txn.write {
            bank.t_pre = bank.t_pre.max(t + k.wtp);
            g.t_wr = g.t_wr.max(t + k.tccd_l);
            g.t_rd = g.t_rd.max(t + k.wtr_l);
            self.t_wr = self.t_wr.max(t + k.tccd_s);
            self.t_rd = self.t_rd.max(t + k.wtr_s);
            t + k.tcwl + k.tburst
        } else {
            bank.t_pre = bank.t_pre.max(t + k.trtp);
            g.t_rd = g.t_rd.max(t + k.tccd_l);
            g.t_wr = g.t_wr.max(t + k.rtw);
            self.t_rd = self.t_rd.max(t + k.tccd_s);
            self.t_wr = self.t_wr.max(t + k.rtw);
            t + k.tcl + k.tburst
        };
        if txn.bursts_left > 0 {
            // The access stays the bank's choice if it is the oldest queued (a row hit needs
            // no cap) or the row's owner (closed page); an access found past an older one
            // may lose its place once the hit cap is reached.
            let list = if txn.write { &bank.writes } else { &bank.reads };
            return !(k.closed_page || list.first() == Some(&c.slot));
        }
        let (req, write, single, arrival) = (txn.req, txn.write, txn.single, txn.arrival);
        let list = if write {
            &mut bank.writes
        } else {
            &mut bank.reads
        };
        let pos = list
            .iter()
            .position(|&x| x == c.slot)
            .expect("served access is queued");
        // The lists are short: an element-wise shift beats `Vec::remove`'s call to memmove.
        for i in pos..list.len() - 1 {
            list[i] = list[i + 1];
        }
        list.pop();
        if write {
            self.n_writes -= 1;
        } else {
            self.n_reads -= 1;
        }
        self.mode_dirty = true;
        // Room for a waiting access.
        self.blocked = false;
        self.free.push(c.slot);
        if k.closed_page {
            // Auto-precharge, internally at the first legal cycle.
            bank.open_row = CLOSED;
            bank.t_act = bank.t_act.max(bank.t_pre + k.trp);
            self.counters.precharges += 1;
        }
        self.finished(out, req, single, arrival, write, data_end + k.ctrl);
        true
    }

    /// A row access of request `req` finished at `at`; the request is done if it was its last.
    #[inline]
    fn finished(&self, out: &mut Sink, req: u32, single: bool, arrival: u64, write: bool, at: u64) {
        let r = req as usize;
        let at = if single {
            if out.buf.len() == Sink::BATCH {
                out.flush();
            }
            out.buf.push((req, at));
            at
        } else {
            out.completion[r].fetch_max(at, Ordering::AcqRel);
            // The part that finishes last sees every other part's maximum (each part's maximum
            // precedes its decrement, and the decrements form one chain).
            if out.parts_left[r].fetch_sub(1, Ordering::AcqRel) != 1 {
                return;
            }
            out.completion[r].load(Ordering::Acquire)
        };
        let lat = at - arrival;
        if write {
            out.lat.write.record(lat);
        } else {
            out.lat.read.record(lat);
        }
        out.lat.last_completion = out.lat.last_completion.max(at);
        if let Some(v) = out.track.as_deref_mut() {
            v.push((at, req));
        }
    }

    /// The refresh due at `self.ref_due`. With an empty window, refreshes due before `until`
    /// whose effect later ones supersede are only counted.
    fn refresh(&mut self, k: &Ctx, until: u64) {
        let due = self.ref_due;
        self.now = self.now.max(due);
        let counted = due >= self.first_arrival;
        let refreshed: std::ops::Range<usize> = match k.refresh {
            RefreshMode::PerBank => {
                let b = self.ref_bank as usize;
                self.ref_bank = (self.ref_bank + 1) % k.banks;
                b..b + 1
            }
            _ => 0..k.banks as usize,
        };
        let per_bank = k.refresh == RefreshMode::PerBank;
        let dur = if per_bank { k.trfc_pb } else { k.trfc };
        let mut t_ref = due;
        for b in refreshed.clone() {
            let bank = &mut self.banks[b & BANK_MASK];
            if bank.open_row != CLOSED {
                let tp = bank.t_pre.max(due);
                bank.open_row = CLOSED;
                bank.t_act = bank.t_act.max(tp + k.trp);
                self.counters.precharges += 1;
            }
            t_ref = t_ref.max(bank.t_act);
        }
        for b in refreshed.clone() {
            self.banks[b & BANK_MASK].t_act = t_ref + dur;
        }
        if counted {
            self.counters.refreshes += 1;
            self.counters.refresh_bank_cycles += (t_ref + dur - due) * refreshed.len() as u64;
        }
        self.ref_due += k.ref_interval;
        if per_bank {
            self.update_bank(k, refreshed.start);
        } else {
            self.recompute_all(k);
        }
        // Idle: of the refreshes due before `until`, the last `keep` (one per bank, or the one
        // all-bank refresh) determine the banks' state; the earlier ones are only counted.
        let keep = if per_bank { u64::from(k.banks) } else { 1 };
        if self.window_empty() && until != NEVER && self.ref_due < until {
            let n = (until - self.ref_due).div_ceil(k.ref_interval);
            let skip = n.saturating_sub(keep);
            if skip > 0 {
                self.ref_due += skip * k.ref_interval;
                self.ref_bank = ((u64::from(self.ref_bank) + skip) % u64::from(k.banks)) as u32;
                if counted {
                    let banks_each = if per_bank { 1 } else { u64::from(k.banks) };
                    self.counters.refreshes += skip;
                    self.counters.refresh_bank_cycles += skip * dur * banks_each;
                }
            }
        }
    }

    /// Makes every decision due before `limit`; finished requests go to `out`. `feed` tops
    /// up the input (this pseudo-channel is number `me` of its feed).
    fn run<F: Feed>(&mut self, k: &Ctx, limit: u64, out: &mut Sink, feed: &mut F, me: usize) {
        loop {
            // Accesses already arrived enter the window first (no command can precede them:
            // every command issues at `now` or later).
            let mut adm = None;
            while self.now < limit {
                if F::ACTIVE && self.input.len() < k.lookahead {
                    let had = self.input.len();
                    feed.fill(me, &mut self.input, k.lookahead, limit);
                    if self.input.len() != had {
                        self.blocked = false;
                    }
                    if let Some(t) = self.input.front() {
                        self.first_arrival = self.first_arrival.min(t.arrival);
                    }
                }
                if self.blocked {
                    debug_assert!(self.admissible(k).is_none());
                    break;
                }
                adm = self.admissible(k);
                match adm {
                    Some((i, t)) if t <= self.now => self.admit(k, i),
                    Some(_) => break,
                    None => {
                        self.blocked = true;
                        break;
                    }
                }
            }
            // The mode depends only on the queue counts (and the mode), so it can only change
            // after they do.
            if self.mode_dirty {
                self.mode_dirty = false;
                if self.update_mode(k) {
                    self.recompute_all(k);
                }
            }
            let cand = self.best();
            let t_cmd = cand.time();
            // Unchanged since the loop above (choosing a command admits nothing); when `now`
            // has reached `limit`, nothing is admitted or issued anyway.
            let t_adm = adm.map_or(NEVER, |a| a.1);
            let busy = !self.window_empty() || !self.input.is_empty();
            let t_ref = if k.refresh != RefreshMode::Off && busy {
                self.ref_due
            } else {
                NEVER
            };
            if t_adm <= t_cmd && t_adm <= t_ref {
                if t_adm >= limit {
                    break;
                }
                self.now = t_adm;
                self.admit(k, adm.expect("admissible").0);
                continue;
            }
            if t_ref <= t_cmd {
                if t_ref >= limit {
                    break;
                }
                self.refresh(k, t_adm.min(limit));
                continue;
            }
            if cand.is_some() && cand.time() < limit {
                self.issue(cand, k, out);
            } else {
                break;
            }
        }
    }
}

/// `DetailedMemory::completion` of a request not completed yet.
const PENDING: u64 = u64::MAX;

/// Splits request `r` (number `id`) into row accesses, handing each to `push` with its
/// pseudo-channel; returns how many there are.
#[inline]
fn split(dec: &Decoder, r: &Request, id: u32, mut push: impl FnMut(usize, Txn)) -> u32 {
    if r.bytes == 0 {
        return 0;
    }
    let write = r.op == Op::Write;
    let shift = dec.burst_shift();
    let per_block = u64::from(dec.bursts_per_block());
    // Blocks are a power of two bursts in practice: shift rather than divide.
    let pow2 = per_block.is_power_of_two();
    let block_shift = per_block.trailing_zeros();
    let block = |x: u64| {
        if pow2 {
            x >> block_shift
        } else {
            x / per_block
        }
    };
    let mut b = r.addr >> shift;
    let last = (r.addr + u64::from(r.bytes) - 1) >> shift;
    let single = block(b) == block(last);
    if single {
        // The common case: one row access.
        let (pch, bank, row) = dec.pch_bank_row(b);
        push(
            pch as usize,
            Txn {
                arrival: r.arrival,
                req: id,
                seq: 0,
                row,
                bursts_left: (last - b + 1) as u32,
                bank: bank as u8,
                write,
                started: false,
                single,
            },
        );
        return 1;
    }
    let mut parts = 0;
    while b <= last {
        let end = last.min((block(b) + 1) * per_block - 1);
        let (pch, bank, row) = dec.pch_bank_row(b);
        push(
            pch as usize,
            Txn {
                arrival: r.arrival,
                req: id,
                seq: 0,
                row,
                bursts_left: (end - b + 1) as u32,
                bank: bank as u8,
                write,
                started: false,
                single,
            },
        );
        parts += 1;
        b = end + 1;
    }
    parts
}

/// Row accesses of request `r` (what [`split`] makes of it).
#[inline]
fn parts_of(dec: &Decoder, r: &Request) -> u32 {
    if r.bytes == 0 {
        return 0;
    }
    let shift = dec.burst_shift();
    let per_block = u64::from(dec.bursts_per_block());
    let first = (r.addr >> shift) / per_block;
    let last = ((r.addr + u64::from(r.bytes) - 1) >> shift) / per_block;
    (last - first + 1) as u32
}

/// A request's (completion, parts_left) when submitted with `parts` row accesses.
#[inline]
fn initial_state(parts: u32, arrival: u64, ctrl: u64) -> (u64, u32) {
    match parts {
        // Finished at once by the caller (nothing to move).
        0 => (PENDING, 0),
        1 => (PENDING, 0),
        // The latest part's completion, never earlier than the controller latency.
        _ => (arrival + ctrl, parts),
    }
}

/// The detailed memory system.
///
/// Batch use: [`simulate`]. Incremental use (an event kernel): [`DetailedMemory::submit`]
/// requests in non-decreasing arrival order, [`DetailedMemory::advance_to`] a cycle `t` (every
/// decision before `t` is made; requests arriving at `t` or later may still be submitted), then
/// take [`DetailedMemory::completions_until`]. Completions are final once reported; no request
/// that is not yet reported can complete before [`DetailedMemory::completion_lower_bound`], so a
/// kernel can advance the memory to `min(its next event, that bound)` without missing one.
#[derive(Debug)]
pub struct DetailedMemory {
    cfg: MemConfig,
    ctx: Ctx,
    dec: Decoder,
    pchs: Vec<PChannel>,
    /// Per request: its completion cycle once known (`PENDING` before; for a request of
    /// several row accesses, the latest of its finished parts while `parts_left > 0`).
    /// Atomic so that pseudo-channels on different threads can finish requests in place
    /// (a relaxed store is a plain store).
    completion: Vec<AtomicU64>,
    /// Per request: row accesses not finished, for requests of more than one (0 otherwise).
    parts_left: Vec<AtomicU32>,
    writes: u64,
    ready: BinaryHeap<Reverse<(u64, u32)>>,
    track: bool,
    frontier: u64,
    last_arrival: u64,
    /// Per pseudo-channel, what it finished under `advance_to`.
    outs: Vec<PchOut>,
    /// Latencies of the requests finished otherwise (no bytes to move, or a whole-trace run).
    lat: Latencies,
    first_arrival: u64,
    bytes_read: u64,
    bytes_written: u64,
}

impl DetailedMemory {
    pub fn new(cfg: MemConfig) -> Result<DetailedMemory, Error> {
        cfg.check()?;
        let ctx = Ctx::new(&cfg);
        let n_pch = cfg.total_pchannels() as usize;
        let pchs = (0..cfg.total_pchannels())
            .map(|i| PChannel::new(&cfg, &ctx, i))
            .collect();
        Ok(DetailedMemory {
            ctx,
            dec: Decoder::new(&cfg),
            pchs,
            cfg,
            completion: Vec::new(),
            parts_left: Vec::new(),
            writes: 0,
            ready: BinaryHeap::new(),
            track: true,
            frontier: 0,
            last_arrival: 0,
            outs: vec![PchOut::default(); n_pch],
            lat: Latencies::default(),
            first_arrival: NEVER,
            bytes_read: 0,
            bytes_written: 0,
        })
    }

    pub fn config(&self) -> &MemConfig {
        &self.cfg
    }

    /// Adds a request. Panics if it arrives before an earlier submission or before the cycle
    /// the model was advanced to (both are bugs in the caller).
    pub fn submit(&mut self, r: Request) -> RequestId {
        assert!(
            r.arrival >= self.last_arrival && r.arrival >= self.frontier,
            "memory request arriving at cycle {} submitted after one arriving at {} / after \
             advancing to {}",
            r.arrival,
            self.last_arrival,
            self.frontier
        );
        let id = u32::try_from(self.completion.len()).expect("more than 2^32 memory requests");
        self.last_arrival = r.arrival;
        self.first_arrival = self.first_arrival.min(r.arrival);
        let write = r.op == Op::Write;
        if write {
            self.bytes_written += u64::from(r.bytes);
            self.writes += 1;
        } else {
            self.bytes_read += u64::from(r.bytes);
        }
        let pchs = &mut self.pchs;
        let parts = split(&self.dec, &r, id, |i, t| {
            let pch = &mut pchs[i];
            pch.first_arrival = pch.first_arrival.min(t.arrival);
            pch.input.push_back(t);
            pch.blocked = false;
        });
        let (c, p) = initial_state(parts, r.arrival, self.ctx.ctrl);
        self.completion.push(AtomicU64::new(c));
        self.parts_left.push(AtomicU32::new(p));
        if parts == 0 {
            // Nothing to move: done after the controller latency.
            self.complete(id, r.arrival, r.arrival + self.ctx.ctrl, write);
        }
        RequestId(id)
    }

    /// Simulates a whole trace of `n` requests to completion, the `i`-th being `get(i)` (in
    /// non-decreasing arrival order), on a model nothing was submitted to: what submitting
    /// them all and [`Self::finish`] do, with the work spread over rayon's threads.
    ///
    /// The trace is decoded in parallel chunks into one list per chunk and pseudo-channel;
    /// each of the T threads then owns every T-th pseudo-channel (and its lists, handed over
    /// as input queues in turn) and runs them in slices of
    /// [`SLICE_CYCLES`] without waiting for the other threads: pseudo-channels share nothing,
    /// so the result is the same for any T. Requests finish in place (`Sink`).
    fn run_trace<G: Fn(usize) -> Request + Sync>(&mut self, n: usize, get: G) {
        assert!(
            self.completion.is_empty() && self.frontier == 0,
            "run_trace needs a fresh model"
        );
        assert!(u32::try_from(n).is_ok(), "more than 2^32 memory requests");
        let (dec, ctrl) = (&self.dec, self.ctx.ctrl);
        let parts = |r: &Request| parts_of(dec, r);
        // Pending; the decoding below sets the requests of no or several row accesses (done
        // after the controller latency, or the latest part's completion, never earlier).
        self.completion
            .par_extend((0..n).into_par_iter().map(|_| AtomicU64::new(PENDING)));
        let completion = &self.completion[..];
        // Decoded in chunks, in parallel: per chunk, one list per pseudo-channel, and totals.
        #[derive(Default)]
        struct Chunk {
            per_pch: Vec<Vec<Txn>>,
            bytes_read: u64,
            bytes_written: u64,
            writes: u64,
            multi: u64,
            empty_reads: u64,
            empty_writes: u64,
            empty_last: u64,
        }
        const CHUNK: usize = 1 << 14;
        let n_pch = self.pchs.len();
        let decoded: Vec<Chunk> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|ci| {
                let (start, end) = (ci * CHUNK, ((ci + 1) * CHUNK).min(n));
                // Room for an even share and then some, so the lists rarely grow.
                let share = (end - start) / n_pch + (end - start) / (4 * n_pch) + 8;
                let mut c = Chunk {
                    per_pch: (0..n_pch).map(|_| Vec::with_capacity(share)).collect(),
                    ..Chunk::default()
                };
                for (i, done) in completion.iter().enumerate().take(end).skip(start) {
                    let r = get(i);
                    let write = r.op == Op::Write;
                    if write {
                        c.bytes_written += u64::from(r.bytes);
                        c.writes += 1;
                    } else {
                        c.bytes_read += u64::from(r.bytes);
                    }
                    let per_pch = &mut c.per_pch;
                    let p = split(dec, &r, i as u32, |pch, t| per_pch[pch].push(t));
                    if p != 1 {
                        done.store(r.arrival + ctrl, Ordering::Relaxed);
                    }
                    c.multi += u64::from(p > 1);
                    if p == 0 {
                        if write {
                            c.empty_writes += 1;
                        } else {
                            c.empty_reads += 1;
                        }
                        c.empty_last = c.empty_last.max(r.arrival + ctrl);
                    }
                }
                c
            })
            .collect();
        let mut multi = 0;
        for c in &decoded {
            self.bytes_read += c.bytes_read;
            self.bytes_written += c.bytes_written;
            self.writes += c.writes;
            multi += c.multi;
            // Nothing to move: done after the controller latency.
            for _ in 0..c.empty_reads {
                self.lat.read.record(ctrl);
            }
            for _ in 0..c.empty_writes {
                self.lat.write.record(ctrl);
            }
            self.lat.last_completion = self.lat.last_completion.max(c.empty_last);
        }
        // Per pseudo-channel, its lists in chunk order.
        let mut lists: Vec<Vec<Vec<Txn>>> = (0..n_pch)
            .map(|_| Vec::with_capacity(decoded.len()))
            .collect();
        for c in decoded {
            for (l, v) in lists.iter_mut().zip(c.per_pch) {
                l.push(v);
            }
        }
        if n > 0 {
            self.first_arrival = get(0).arrival;
            self.last_arrival = get(n - 1).arrival;
        }
        if multi > 0 {
            // Only requests of several row accesses need a count (otherwise never read).
            self.parts_left.par_extend((0..n).into_par_iter().map(|i| {
                let p = parts(&get(i));
                AtomicU32::new(if p > 1 { p } else { 0 })
            }));
        }

        // Each thread's share of the pseudo-channels: every T-th.
        let threads = rayon::current_num_threads().clamp(1, n_pch);
        let mut shares: Vec<(Vec<(usize, PChannel)>, SegFeed)> = (0..threads)
            .map(|_| (Vec::new(), SegFeed { lists: Vec::new() }))
            .collect();
        for (i, (p, l)) in std::mem::take(&mut self.pchs)
            .into_iter()
            .zip(lists)
            .enumerate()
        {
            shares[i % threads].0.push((i, p));
            shares[i % threads].1.lists.push(l.into_iter());
        }
        let (ctx, completion, parts_left) = (&self.ctx, &self.completion[..], &self.parts_left[..]);
        let done: Vec<(Vec<(usize, PChannel)>, Latencies)> = shares
            .into_par_iter()
            .map(|(mut share, mut feed)| {
                let mut lat = Latencies::default();
                let mut buf = Vec::new();
                let mut cur = 0u64;
                loop {
                    let mut next = NEVER;
                    for (j, (_, p)) in share.iter_mut().enumerate() {
                        if p.input.is_empty() {
                            feed.fill(j, &mut p.input, 1, NEVER);
                            if let Some(t) = p.input.front() {
                                p.first_arrival = p.first_arrival.min(t.arrival);
                            }
                        }
                        next = next.min(p.next_activity());
                    }
                    if next == NEVER {
                        break;
                    }
                    let end = next.max(cur).saturating_add(SLICE_CYCLES);
                    let mut out = Sink::new(completion, parts_left, None, &mut lat, &mut buf);
                    for (j, (_, p)) in share.iter_mut().enumerate() {
                        p.run(ctx, end, &mut out, &mut feed, j);
                    }
                    cur = end;
                }
                (share, lat)
            })
            .collect();
        let mut back: Vec<Option<PChannel>> = (0..n_pch).map(|_| None).collect();
        for (share, lat) in done {
            self.lat.merge(&lat);
            for (i, p) in share {
                back[i] = Some(p);
            }
        }
        self.pchs = back
            .into_iter()
            .map(|p| p.expect("every pseudo-channel"))
            .collect();
        // Everything is decided: nothing may be submitted any more.
        self.frontier = NEVER;
    }

    fn complete(&mut self, id: u32, arrival: u64, at: u64, write: bool) {
        *self.completion[id as usize].get_mut() = at;
        let lat = at - arrival;
        if write {
            self.lat.write.record(lat);
        } else {
            self.lat.read.record(lat);
        }
        self.lat.last_completion = self.lat.last_completion.max(at);
        if self.track {
            self.ready.push(Reverse((at, id)));
        }
    }

    /// Makes every scheduling decision before cycle `t`.
    ///
    /// The pseudo-channels are independent, so each could run to `t` alone; they are advanced
    /// together in slices of [`SLICE_CYCLES`] instead, so the requests completing in a slice are
    /// close together in memory (a large speed-up on random traffic). Each slice runs the
    /// pseudo-channels on rayon's threads when enough work is queued; they finish requests in
    /// place. Idle stretches are skipped.
    pub fn advance_to(&mut self, t: u64) {
        let mut cur = self.frontier;
        while cur < t {
            let next = self
                .pchs
                .iter()
                .map(PChannel::next_activity)
                .min()
                .unwrap_or(NEVER);
            if next == NEVER {
                break;
            }
            let end = next.max(cur).saturating_add(SLICE_CYCLES).min(t);
            self.run_all(end);
            cur = end;
        }
        self.frontier = self.frontier.max(t);
    }

    fn run_all(&mut self, limit: u64) {
        let ctx = &self.ctx;
        let pending: usize = self
            .pchs
            .iter()
            .map(|p| p.input.len() + (p.n_reads + p.n_writes) as usize)
            .sum();
        let (completion, parts_left, track) =
            (&self.completion[..], &self.parts_left[..], self.track);
        let go = |(p, o): (&mut PChannel, &mut PchOut)| {
            let mut out = Sink::new(
                completion,
                parts_left,
                track.then_some(&mut o.tracked),
                &mut o.lat,
                &mut o.buf,
            );
            p.run(ctx, limit, &mut out, &mut NoFeed, 0);
        };
        if self.pchs.len() > 1 && pending >= PARALLEL_MIN_PENDING {
            self.pchs
                .par_iter_mut()
                .zip(self.outs.par_iter_mut())
                .for_each(go);
        } else {
            self.pchs.iter_mut().zip(self.outs.iter_mut()).for_each(go);
        }
        if self.track {
            // The heap orders them by (cycle, id): the same whatever the thread count.
            for o in &mut self.outs {
                self.ready.extend(o.tracked.drain(..).map(Reverse));
            }
        }
    }

    /// Runs until every submitted request has completed.
    pub fn finish(&mut self) {
        self.advance_to(NEVER);
    }

    /// Reported completions at or before cycle `t`, in (cycle, id) order.
    pub fn completions_until(&mut self, t: u64) -> Vec<Completion> {
        let mut out = Vec::new();
        while let Some(&Reverse((c, id))) = self.ready.peek() {
            if c > t {
                break;
            }
            self.ready.pop();
            out.push(Completion {
                cycle: c,
                id: RequestId(id),
            });
        }
        out
    }

    /// No request not yet returned by [`Self::completions_until`] completes before this cycle.
    pub fn completion_lower_bound(&self) -> u64 {
        let pending = self.ready.peek().map_or(NEVER, |r| r.0.0);
        let undetermined = self
            .frontier
            .saturating_add(self.ctx.tcl.min(self.ctx.tcwl) + self.ctx.tburst + self.ctx.ctrl);
        pending.min(undetermined)
    }

    /// Completion cycle of a request, once known.
    pub fn completion(&self, id: RequestId) -> Option<u64> {
        let i = id.0 as usize;
        let c = self.completion[i].load(Ordering::Relaxed);
        let parts = self
            .parts_left
            .get(i)
            .map_or(0, |p| p.load(Ordering::Relaxed));
        (parts == 0 && c != PENDING).then_some(c)
    }

    pub fn stats(&self) -> MemStats {
        let mut c = PchCounters::default();
        let mut lat = self.lat.clone();
        for p in &self.pchs {
            c.add(&p.counters);
        }
        for o in &self.outs {
            lat.merge(&o.lat);
        }
        let last_completion = lat.last_completion;
        let cfg = &self.cfg;
        let n = self.completion.len() as u64;
        let writes = self.writes;
        let first = if self.first_arrival == NEVER {
            0
        } else {
            self.first_arrival
        };
        let elapsed = last_completion.saturating_sub(first);
        let elapsed_ns = cfg.cycles_to_ns(elapsed);
        let bytes = self.bytes_read + self.bytes_written;
        let achieved = if elapsed > 0 {
            bytes as f64 / elapsed_ns
        } else {
            0.0
        };
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        MemStats {
            requests: n,
            reads: n - writes,
            writes,
            bytes_read: self.bytes_read,
            bytes_written: self.bytes_written,
            bytes_transferred: c.bursts * u64::from(cfg.burst_bytes()),
            first_arrival_cycle: first,
            last_completion_cycle: last_completion,
            elapsed_cycles: elapsed,
            elapsed_ns,
            achieved_gbps: achieved,
            peak_gbps: cfg.peak_gbps(),
            efficiency: achieved / cfg.peak_gbps(),
            row_accesses: c.chunks,
            row_hits: c.row_hits,
            row_hit_rate: ratio(c.row_hits, c.chunks),
            activates: c.activates,
            precharges: c.precharges,
            refreshes: c.refreshes,
            refresh_cycles: c.refresh_bank_cycles / u64::from(cfg.banks_per_pchannel()),
            refresh_fraction: ratio(
                c.refresh_bank_cycles,
                elapsed * u64::from(cfg.total_pchannels()) * u64::from(cfg.banks_per_pchannel()),
            ),
            read_latency: lat.read.summary(cfg.tck_ns),
            write_latency: lat.write.summary(cfg.tck_ns),
        }
    }
}

/// Completion cycles (indexed like the input) and statistics of a batch run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub completions: Vec<u64>,
    pub stats: MemStats,
}

/// Simulates `reqs` (any order; they are stably sorted by arrival) to completion.
///
/// The same result as submitting them all and [`DetailedMemory::finish`], faster on several
/// threads: the trace is split per pseudo-channel up front and each thread runs its share of
/// the pseudo-channels to the end with no synchronisation (`DetailedMemory::run_trace`).
pub fn simulate(cfg: &MemConfig, reqs: &[Request]) -> Result<Outcome, Error> {
    let mut m = DetailedMemory::new(cfg.clone())?;
    m.track = false;
    assert!(
        u32::try_from(reqs.len()).is_ok(),
        "more than 2^32 memory requests"
    );
    let sorted = reqs.windows(2).all(|w| w[0].arrival <= w[1].arrival);
    let order: Vec<u32> = if sorted {
        Vec::new()
    } else {
        let mut o: Vec<u32> = (0..reqs.len() as u32).collect();
        o.sort_by_key(|&i| reqs[i as usize].arrival);
        o
    };
    if sorted {
        m.run_trace(reqs.len(), |i| reqs[i]);
    } else {
        m.run_trace(reqs.len(), |i| reqs[order[i] as usize]);
    }
    let stats = m.stats();
    let done = std::mem::take(&mut m.completion);
    let completions = if sorted {
        done.into_iter().map(AtomicU64::into_inner).collect()
    } else {
        let mut c = vec![0; reqs.len()];
        for (k, &i) in order.iter().enumerate() {
            c[i as usize] = done[k].load(Ordering::Relaxed);
        }
        c
    };
    Ok(Outcome { completions, stats })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mem::config::default_memory;
    use crate::mem::mapping::AddressMapping;
    use crate::mem::reference;
    use crate::mem::trace::{self, Arrivals};
    use seedchip_chip::MemoryKind;

    /// A small memory of `kind` (one channel: two pseudo-channels for HBM).
    fn small(kind: MemoryKind) -> MemConfig {
        let mut m = default_memory(kind, 1);
        m.channels = Some(if kind.is_hbm() { 1 } else { 2 });
        m.bandwidth_gbps = m.derived_bandwidth_gbps();
        MemConfig::from_chip(&m).expect("valid")
    }

    /// Traces that exercise row hits and the hit cap (a small footprint), conflicts, writes and
    /// drains, multi-block and unaligned requests, idle gaps with refresh, and bank aliasing.
    fn traces(c: &MemConfig, n: u64, seed: u64) -> Vec<Vec<Request>> {
        let cap = c.capacity_bytes();
        let all = Arrivals::AllAtOnce;
        let mut mixed = trace::random(n, 64, cap, Arrivals::Every(0.7), 0.3, seed);
        mixed.extend(trace::sequential(
            n / 2,
            256,
            1 << 22,
            Arrivals::Every(1.3),
            Op::Read,
        ));
        mixed.sort_by_key(|r| r.arrival);
        let mut unaligned = trace::random(n, 100, 1 << 20, Arrivals::Every(3.0), 0.5, seed + 1);
        for (i, r) in unaligned.iter_mut().enumerate() {
            r.addr += (i as u64 * 37) % 64;
            r.bytes = 1 + (i as u32 * 97) % 700;
        }
        let mut sparse = trace::random(n / 4, 64, cap, Arrivals::Every(150.0), 0.2, seed + 2);
        sparse.extend(trace::random(
            n / 4,
            32,
            1 << 16,
            Arrivals::Every(40.0),
            0.4,
            seed + 3,
        ));
        sparse.sort_by_key(|r| r.arrival);
        vec![
            trace::random(n, 64, cap, all, 0.0, seed),
            trace::random(n, 64, 1 << 18, all, 0.35, seed + 4),
            trace::random(n, 256, cap, Arrivals::Every(2.0), 0.1, seed + 5),
            trace::sequential(n, 64, 0, all, Op::Read),
            trace::interleaved_streams(n, 128, 8, 64 << 20, all),
            mixed,
            unaligned,
            sparse,
        ]
    }

    fn check(c: &MemConfig, what: &str) {
        for (i, reqs) in traces(c, 1500, 11).iter().enumerate() {
            let want = reference::simulate(c, reqs).expect("reference runs");
            let got = simulate(c, reqs).expect("runs");
            if let Some(j) = (0..reqs.len()).find(|&j| got.completions[j] != want.completions[j]) {
                panic!(
                    "{what}, trace {i}: request {j} ({:?}) completes at {}, the reference at {}",
                    reqs[j], got.completions[j], want.completions[j]
                );
            }
            assert_eq!(got.stats, want.stats, "{what}, trace {i}: statistics");
            // Another number of threads (so another split of the pseudo-channels between
            // them) changes nothing.
            let three = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .expect("a thread pool");
            let got3 = three.install(|| simulate(c, reqs).expect("runs"));
            assert_eq!(got3, got, "{what}, trace {i}: three threads");
            // The incremental path (submitting one by one, advancing in steps, collecting
            // completions) makes the same decisions.
            let inc = incremental(c, reqs, 97 + 131 * i as u64);
            assert_eq!(
                inc.completions, want.completions,
                "{what}, trace {i}: incremental"
            );
            assert_eq!(
                inc.stats, want.stats,
                "{what}, trace {i}: incremental statistics"
            );
        }
    }

    /// `reqs` (sorted by arrival) through `submit`, `advance_to` in steps of `step` cycles and
    /// `completions_until`, then `finish`.
    fn incremental(c: &MemConfig, reqs: &[Request], step: u64) -> Outcome {
        let mut m = DetailedMemory::new(c.clone()).expect("valid");
        let mut got = vec![u64::MAX; reqs.len()];
        let (mut next, mut t) = (0, 0);
        while next < reqs.len() {
            while next < reqs.len() && reqs[next].arrival < t + step {
                m.submit(reqs[next]);
                next += 1;
            }
            t += step;
            m.advance_to(t);
            for d in m.completions_until(t) {
                got[d.id.0 as usize] = d.cycle;
            }
        }
        m.finish();
        for d in m.completions_until(NEVER) {
            got[d.id.0 as usize] = d.cycle;
        }
        Outcome {
            completions: got,
            stats: m.stats(),
        }
    }

    /// The optimised scheduler makes exactly the decisions of the straightforward one it
    /// replaced, on every kind and controller option.
    #[test]
    fn identical_to_the_reference_model() {
        for kind in MemoryKind::ALL {
            let base = small(kind);
            check(&base, &format!("{kind:?}"));
            let mut c = base.clone();
            c.page_policy = seedchip_chip::PagePolicy::Closed;
            c.controller_latency_cycles = 3;
            check(&c, &format!("{kind:?} closed page"));
            let mut c = base.clone();
            c.refresh = match base.refresh {
                RefreshMode::PerBank => RefreshMode::AllBank,
                _ => RefreshMode::PerBank,
            };
            c.dual_command_bus = !base.dual_command_bus;
            c.row_hit_cap = 2;
            check(&c, &format!("{kind:?} other refresh, bus and cap"));
        }
        // DRAMsim3-like controller: deep window, per-bank caps, look-ahead admission.
        let mut c = small(MemoryKind::Hbm2);
        c.read_queue_depth = 128;
        c.bank_queue_depth = 8;
        c.admission_lookahead = 32;
        c.row_hit_cap = 4;
        c.write_high_watermark = 32;
        c.write_low_watermark = 0;
        c.refresh = RefreshMode::AllBank;
        c.mapping = AddressMapping::parse("ro-bg-ba-co-ch-pc", c.page_bytes).expect("mapping");
        check(&c, "dramsim3-like");
        let mut c = small(MemoryKind::Hbm3);
        c.refresh = RefreshMode::Off;
        c.read_queue_depth = 4;
        c.write_queue_depth = 6;
        c.write_high_watermark = 5;
        c.write_low_watermark = 1;
        check(&c, "shallow queues, no refresh");
    }
}
