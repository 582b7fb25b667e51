//! Gather and DMA engines: chip-wide pools that take instructions from every core's `gather`
//! and `dma` queues, one instruction per engine at a time, and talk to the memory request by
//! request.
//!
//! **Gather engine** (SparseCore-like). At start it reads the instruction's offsets, ids and
//! cache map (from the shadow), sorts the ids and merges duplicates: each distinct row of the
//! instruction is fetched once and pooled into every bag that names it (coalescing within the
//! instruction, as FBGEMM's table-batched embeddings and TPU SparseCores deduplicate ids).
//! Distinct rows are issued in row order, `row_requests_per_cycle` per cycle, with at most
//! `max_rows_in_flight` outstanding; a row the program's `cache_map` places in shared SRAM is
//! read from its slot (bank-timed), any other as one memory read of the row's bytes. A returned
//! row frees its slot at once and enters the pooling datapath, which pools
//! `row_requests_per_cycle` row occurrences per cycle (one per bag that uses it; pooling runs in
//! flight, overlapped with the fetches). The instruction completes when the last row is pooled
//! and the bags are written to `dst`. A chip without gather engines runs gathers on its DMA
//! engines the same way, one row request per cycle with the DMA outstanding limit.
//!
//! **DMA engine.** A copy between SRAMs moves `bytes_per_cycle` per cycle (plus shared SRAM
//! bank time and the SRAM latency). A copy to or from off-chip memory is cut into requests of
//! at most [`DMA_REQUEST_BYTES`], aligned on the off-chip address, never crossing a row of the
//! 2-D copy, issued at `bytes_per_cycle` with at most `max_outstanding` in flight; a read's data
//! is written into SRAM when it returns, a write is done when the memory has it.

use seedchip_isa::{Addr, DType, Inst, Instruction, Space};

use super::{Error, Ev, NONE, Sim, region};
use crate::event::Cycle;
use crate::shadow::OpaqueAt;
use crate::sim::perfetto::{Slice, Track};
use crate::units::sram::{ACCESS_LATENCY_CYCLES, Pattern2d};

/// Largest memory request a DMA engine makes.
pub const DMA_REQUEST_BYTES: u64 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EngineKind {
    Dma,
    Gather,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Owner {
    Row { engine: u32, row: u32 },
    DmaRead { engine: u32, dst: u64, bytes: u32 },
    DmaWrite { engine: u32 },
}

#[derive(Debug, Clone, Copy)]
struct RowReq {
    addr: u64,
    bytes: u32,
    cached: bool,
    occ: u32,
}

#[derive(Debug)]
struct GatherJob {
    rows: Vec<RowReq>,
    next: usize,
    returned: usize,
    /// The pooling datapath's free time, in 1/rate cycles.
    pool_units: u64,
    issued_cycle: Cycle,
    issued_in_cycle: u32,
    dst: Addr,
    dst_pattern: Pattern2d,
}

#[derive(Debug)]
struct DmaJob {
    src: Addr,
    dst: Addr,
    rows: u64,
    row_bytes: u64,
    src_stride: u64,
    dst_stride: u64,
    row: u64,
    off: u64,
    /// The engine's data port's free time, in bytes (cycle × bytes_per_cycle).
    port_units: u64,
}

impl DmaJob {
    fn has_next(&self) -> bool {
        self.row < self.rows && self.row_bytes > 0
    }

    fn next_chunk(&mut self) -> Option<(u64, u64, u64)> {
        if !self.has_next() {
            return None;
        }
        let s = self.src.offset + self.row * self.src_stride + self.off;
        let d = self.dst.offset + self.row * self.dst_stride + self.off;
        let hbm = if self.src.space == Space::Hbm { s } else { d };
        let n = (DMA_REQUEST_BYTES - hbm % DMA_REQUEST_BYTES).min(self.row_bytes - self.off);
        self.off += n;
        if self.off == self.row_bytes {
            self.row += 1;
            self.off = 0;
        }
        Some((s, d, n))
    }
}

#[derive(Debug)]
enum Work {
    Gather(GatherJob),
    Dma(DmaJob),
}

#[derive(Debug)]
pub(super) struct Job {
    core: usize,
    queue: usize,
    slot: usize,
    index: u32,
    name: String,
    start: Cycle,
    in_flight: u32,
    /// Latest completion of a finished part (an SRAM write after a read returned).
    done_at: Cycle,
    issue_at: Cycle,
    work: Work,
}

#[derive(Debug)]
pub(super) struct Engine {
    pub name: String,
    pub kind: EngineKind,
    rate: u32,
    max_in_flight: u32,
    bytes_per_cycle: u64,
    job: Option<Job>,
    serial: u64,
    pub jobs: u64,
    pub busy_cycles: u64,
    pub rows: u64,
    pub bytes: u64,
}

impl Engine {
    pub fn new(
        name: String,
        kind: EngineKind,
        rate: u32,
        max_in_flight: u32,
        bytes_per_cycle: u64,
    ) -> Engine {
        Engine {
            name,
            kind,
            rate,
            max_in_flight,
            bytes_per_cycle,
            job: None,
            serial: 0,
            jobs: 0,
            busy_cycles: 0,
            rows: 0,
            bytes: 0,
        }
    }

    pub fn idle(&self) -> bool {
        self.job.is_none()
    }

    /// Row requests per cycle.
    pub fn rate(&self) -> u64 {
        u64::from(self.rate)
    }
}

fn le_i32(b: &[u8]) -> Vec<i32> {
    b.chunks_exact(4)
        .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Sim<'_> {
    fn opaque_err(&self, c: usize, idx: u32, what: &'static str, o: OpaqueAt) -> Error {
        let core = &self.cores[c];
        let space = match o.region {
            crate::shadow::Region::Hbm => "hbm".to_string(),
            crate::shadow::Region::Shared => "shared".to_string(),
            crate::shadow::Region::Local(_) => "local".to_string(),
        };
        Error::OpaqueIndices {
            core: core.id,
            index: idx,
            inst: core.insts[idx as usize].to_string(),
            what,
            space,
            addr: o.addr,
        }
    }

    /// An SRAM access by an engine (bank-timed in shared SRAM); counts its bytes.
    fn touch(&mut self, space: Space, p: Pattern2d, write: bool, now: Cycle) -> Cycle {
        match space {
            Space::Shared => {
                self.actions.shared_sram_bytes += p.bytes();
                self.sram.access(now, p, write)
            }
            Space::Local => {
                self.actions.local_sram_bytes += p.bytes();
                now + ACCESS_LATENCY_CYCLES
            }
            Space::Hbm => now,
        }
    }

    fn begin_job(&mut self, e: usize, job: Job) {
        let eng = &mut self.engines[e];
        eng.serial += 1;
        eng.job = Some(job);
    }

    fn schedule_engine_done(&mut self, e: usize, at: Cycle) {
        let serial = self.engines[e].serial;
        self.events.schedule(
            at,
            Ev::EngineDone {
                engine: e as u32,
                serial,
            },
        );
    }

    pub(super) fn start_gather(
        &mut self,
        c: usize,
        slot: usize,
        idx: u32,
        ins: &Instruction,
        e: usize,
        now: Cycle,
    ) -> Result<(), Error> {
        let (dtype, dst, table, rows, dim, ids_at, offsets_at, bags, ldd, map_at) = match ins.inst {
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
            } => (
                dtype, dst, table, rows, dim, idx, offsets, bags, ldd, cache_map,
            ),
            _ => unreachable!("only gathers reach the gather queue"),
        };
        let core = self.cores[c].id;
        let bags64 = u64::from(bags);
        let dim64 = u64::from(dim);
        self.check_2d(c, idx, "offsets", offsets_at, (1, (bags64 + 1) * 4, 0))?;
        let offsets = self
            .shadow
            .read(
                region(core, offsets_at),
                offsets_at.offset,
                (bags64 + 1) * 4,
            )
            .map_err(|o| self.opaque_err(c, idx, "offsets", o))?;
        let offsets = le_i32(&offsets);
        if offsets[0] < 0 || offsets.windows(2).any(|w| w[1] < w[0]) {
            return Err(self.inst_error(
                c,
                idx,
                format!(
                    "offsets must be non-negative and non-decreasing (first {}, last {})",
                    offsets[0], offsets[bags as usize]
                ),
            ));
        }
        let first = offsets[0] as u64;
        let n_ids = (offsets[bags as usize] - offsets[0]) as u64;
        let ids_addr = Addr::new(ids_at.space, ids_at.offset + first * 4);
        self.check_2d(c, idx, "ids", ids_addr, (1, n_ids * 4, 0))?;
        let ids = self
            .shadow
            .read(region(core, ids_addr), ids_addr.offset, n_ids * 4)
            .map_err(|o| self.opaque_err(c, idx, "ids", o))?;
        let mut ids = le_i32(&ids);
        if let Some(pos) = ids
            .iter()
            .position(|&v| v < 0 || v as u64 >= u64::from(rows))
        {
            let abs = first as usize + pos;
            let bag = offsets
                .partition_point(|&o| (o as usize) <= abs)
                .saturating_sub(1);
            return Err(self.inst_error(
                c,
                idx,
                format!(
                    "index out of range: bag {bag}, position {}, id {} (table rows {rows})",
                    abs - offsets[bag] as usize,
                    ids[pos]
                ),
            ));
        }
        // The cache map: u32 n, n sorted row ids, n shared slot offsets.
        let (map_ids, map_slots) = match map_at {
            None => (Vec::new(), Vec::new()),
            Some(m) => {
                let head = self
                    .shadow
                    .read(region(core, m), m.offset, 4)
                    .map_err(|o| self.opaque_err(c, idx, "cache map", o))?;
                let n = u64::from(u32::from_le_bytes([head[0], head[1], head[2], head[3]]));
                self.check_2d(c, idx, "cache map", m, (1, 4 + 8 * n, 0))?;
                let body = self
                    .shadow
                    .read(region(core, m), m.offset + 4, 8 * n)
                    .map_err(|o| self.opaque_err(c, idx, "cache map", o))?;
                let (a, b) = body.split_at(4 * n as usize);
                let slots: Vec<u64> = b
                    .chunks_exact(4)
                    .map(|x| u64::from(u32::from_le_bytes([x[0], x[1], x[2], x[3]])))
                    .collect();
                (le_i32(a), slots)
            }
        };
        let row_bytes = dtype
            .row_bytes(dim64)
            .expect("gather dtypes have a row layout");
        // Coalesce: distinct rows with their occurrence counts, in row order.
        ids.sort_unstable();
        let mut reqs: Vec<RowReq> = Vec::new();
        let mut cached_lookups = 0u64;
        let mut i = 0;
        while i < ids.len() {
            let id = ids[i];
            let mut j = i + 1;
            while j < ids.len() && ids[j] == id {
                j += 1;
            }
            let occ = (j - i) as u32;
            let (addr, cached) = match map_ids.binary_search(&id) {
                Ok(k) => (map_slots[k], true),
                Err(_) => (table.offset + id as u64 * row_bytes, false),
            };
            if cached {
                cached_lookups += u64::from(occ);
            }
            reqs.push(RowReq {
                addr,
                bytes: row_bytes as u32,
                cached,
                occ,
            });
            self.counters.touched.push((table.offset, id as u32));
            i = j;
        }
        // Index traffic: ids, offsets, a binary search of the map per distinct row.
        let probes = (map_ids.len() as u64 + 1)
            .next_power_of_two()
            .trailing_zeros() as u64;
        let index_bytes = n_ids * 4 + (bags64 + 1) * 4;
        for (space, bytes) in [
            (ids_at.space, index_bytes),
            (
                map_at.map_or(Space::Local, |m| m.space),
                reqs.len() as u64 * probes * 4,
            ),
        ] {
            match space {
                Space::Shared => self.actions.shared_sram_bytes += bytes,
                _ => self.actions.local_sram_bytes += bytes,
            }
        }
        let k = &mut self.counters;
        k.gathers += 1;
        k.bags += bags64;
        k.lookups += n_ids;
        k.rows_fetched += reqs.len() as u64;
        k.cache_hits += reqs.iter().filter(|r| r.cached).count() as u64;
        k.cached_lookups += cached_lookups;
        self.actions.pooled_elements += n_ids * dim64;
        if dtype == DType::Emb8 {
            self.actions.dequantized_elements += n_ids * dim64;
        }
        self.check_2d(c, idx, "dst", dst, (bags64, dim64 * 4, u64::from(ldd) * 4))?;
        let n_rows = reqs.len();
        self.engines[e].rows += n_rows as u64;
        let job = Job {
            core: c,
            queue: super::GATHER,
            slot,
            index: idx,
            name: super::mnemonic(&ins.inst),
            start: now,
            in_flight: 0,
            done_at: now,
            issue_at: NONE,
            work: Work::Gather(GatherJob {
                rows: reqs,
                next: 0,
                returned: 0,
                pool_units: 0,
                issued_cycle: NONE,
                issued_in_cycle: 0,
                dst,
                dst_pattern: Pattern2d {
                    addr: dst.offset,
                    rows: bags64,
                    row_bytes: dim64 * 4,
                    stride: (u64::from(ldd) * 4).max(dim64 * 4),
                },
            }),
        };
        self.begin_job(e, job);
        if n_rows == 0 {
            let done = self.gather_write_back(e, now);
            self.schedule_engine_done(e, done);
        } else {
            self.engine_issue_now(e, now);
        }
        Ok(())
    }

    /// Writes the pooled bags; returns when they are in `dst`.
    fn gather_write_back(&mut self, e: usize, at: Cycle) -> Cycle {
        let (dst, p) = match &self.engines[e].job.as_ref().expect("busy engine").work {
            Work::Gather(g) => (g.dst, g.dst_pattern),
            Work::Dma(_) => unreachable!("gather write-back of a DMA job"),
        };
        self.actions.noc_bytes += p.bytes();
        self.touch(dst.space, p, true, at)
    }

    pub(super) fn start_dma(
        &mut self,
        c: usize,
        slot: usize,
        idx: u32,
        ins: &Instruction,
        e: usize,
        now: Cycle,
    ) -> Result<(), Error> {
        let Inst::DmaCopy {
            dst,
            src,
            rows,
            row_bytes,
            dst_stride_bytes,
            src_stride_bytes,
        } = ins.inst
        else {
            unreachable!("only dma.copy reaches the dma queue")
        };
        let (rows, row_bytes) = (u64::from(rows), u64::from(row_bytes));
        let (ss, ds) = (u64::from(src_stride_bytes), u64::from(dst_stride_bytes));
        self.check_2d(c, idx, "src", src, (rows, row_bytes, ss))?;
        self.check_2d(c, idx, "dst", dst, (rows, row_bytes, ds))?;
        let bytes = rows * row_bytes;
        self.counters.dmas += 1;
        *self
            .counters
            .dma_bytes
            .entry(format!("{}->{}", src.space, dst.space))
            .or_default() += bytes;
        if src.space != dst.space || src.space == Space::Hbm {
            self.actions.noc_bytes += bytes;
        }
        self.engines[e].bytes += bytes;
        let job = Job {
            core: c,
            queue: super::DMA,
            slot,
            index: idx,
            name: super::mnemonic(&ins.inst),
            start: now,
            in_flight: 0,
            done_at: now,
            issue_at: NONE,
            work: Work::Dma(DmaJob {
                src,
                dst,
                rows,
                row_bytes,
                src_stride: ss,
                dst_stride: ds,
                row: 0,
                off: 0,
                port_units: 0,
            }),
        };
        self.begin_job(e, job);
        if src.space != Space::Hbm && dst.space != Space::Hbm {
            // SRAM to SRAM: the engine's port rate and the banks.
            let bpc = self.engines[e].bytes_per_cycle;
            let mut done = now + bytes.div_ceil(bpc) + ACCESS_LATENCY_CYCLES;
            let ps = Pattern2d {
                addr: src.offset,
                rows,
                row_bytes,
                stride: ss.max(row_bytes),
            };
            let pd = Pattern2d {
                addr: dst.offset,
                rows,
                row_bytes,
                stride: ds.max(row_bytes),
            };
            done = done.max(self.touch(src.space, ps, false, now));
            done = done.max(self.touch(dst.space, pd, true, now));
            self.schedule_engine_done(e, done);
        } else if bytes == 0 {
            self.schedule_engine_done(e, now + ACCESS_LATENCY_CYCLES);
        } else {
            self.engine_issue_now(e, now);
        }
        Ok(())
    }

    /// An `Issue` event: valid only for the job it was scheduled for.
    pub(super) fn engine_issue(&mut self, e: usize, serial: u64, now: Cycle) {
        let eng = &mut self.engines[e];
        if eng.serial != serial {
            return;
        }
        let Some(job) = eng.job.as_mut() else { return };
        if job.issue_at == now {
            job.issue_at = NONE;
        }
        self.engine_issue_now(e, now);
    }

    fn schedule_issue(&mut self, e: usize, at: Cycle) {
        let eng = &mut self.engines[e];
        let job = eng.job.as_mut().expect("busy engine");
        if job.issue_at != NONE && job.issue_at <= at {
            return;
        }
        job.issue_at = at;
        let serial = eng.serial;
        self.events.schedule(
            at,
            Ev::Issue {
                engine: e as u32,
                serial,
            },
        );
    }

    /// Issues what the engine may issue at `now`, and schedules its next chance.
    fn engine_issue_now(&mut self, e: usize, now: Cycle) {
        let is_gather = matches!(
            self.engines[e].job.as_ref().expect("busy engine").work,
            Work::Gather(_)
        );
        if is_gather {
            self.gather_issue(e, now);
        } else {
            self.dma_issue(e, now);
        }
    }

    fn gather_issue(&mut self, e: usize, now: Cycle) {
        loop {
            let eng = &mut self.engines[e];
            let (rate, max) = (eng.rate, eng.max_in_flight);
            let job = eng.job.as_mut().expect("busy engine");
            let Work::Gather(g) = &mut job.work else {
                unreachable!()
            };
            if g.issued_cycle != now {
                g.issued_cycle = now;
                g.issued_in_cycle = 0;
            }
            if g.next >= g.rows.len() || job.in_flight >= max {
                return;
            }
            if g.issued_in_cycle >= rate {
                self.schedule_issue(e, now + 1);
                return;
            }
            let ri = g.next;
            let r = g.rows[ri];
            g.next += 1;
            g.issued_in_cycle += 1;
            job.in_flight += 1;
            self.actions.noc_bytes += u64::from(r.bytes);
            if r.cached {
                let done = self.touch(
                    Space::Shared,
                    Pattern2d::linear(r.addr, u64::from(r.bytes)),
                    false,
                    now,
                );
                self.events.schedule(
                    done,
                    Ev::RowBack {
                        engine: e as u32,
                        row: ri as u32,
                    },
                );
            } else {
                self.counters.rows_from_memory += 1;
                self.counters.bytes_from_memory += u64::from(r.bytes);
                let id = self.mem.submit(now, r.addr, r.bytes, false);
                assert_eq!(id as usize, self.owners.len(), "memory ids are dense");
                self.owners.push(Owner::Row {
                    engine: e as u32,
                    row: ri as u32,
                });
            }
        }
    }

    pub(super) fn row_back(&mut self, e: usize, row: u32, now: Cycle) {
        let eng = &mut self.engines[e];
        let rate = u64::from(eng.rate);
        let job = eng.job.as_mut().expect("a row returns to a busy engine");
        let Work::Gather(g) = &mut job.work else {
            unreachable!("rows return to gather jobs")
        };
        job.in_flight -= 1;
        g.returned += 1;
        let occ = u64::from(g.rows[row as usize].occ);
        g.pool_units = g.pool_units.max(now * rate) + occ;
        if g.returned == g.rows.len() {
            let pooled = g.pool_units.div_ceil(rate).max(now);
            let done = self.gather_write_back(e, pooled);
            self.schedule_engine_done(e, done);
        } else if g.next < g.rows.len() && job.issue_at == NONE {
            self.gather_issue(e, now);
        }
    }

    fn dma_issue(&mut self, e: usize, now: Cycle) {
        loop {
            let eng = &mut self.engines[e];
            let (bpc, max) = (eng.bytes_per_cycle, eng.max_in_flight);
            let job = eng.job.as_mut().expect("busy engine");
            let Work::Dma(d) = &mut job.work else {
                unreachable!()
            };
            if !d.has_next() || job.in_flight >= max {
                return;
            }
            if d.port_units > now * bpc {
                let at = d.port_units.div_ceil(bpc).max(now + 1);
                self.schedule_issue(e, at);
                return;
            }
            let (s, t, n) = d.next_chunk().expect("has_next");
            d.port_units = d.port_units.max(now * bpc) + n;
            job.in_flight += 1;
            let (src_space, dst_space) = (d.src.space, d.dst.space);
            if src_space == Space::Hbm {
                let id = self.mem.submit(now, s, n as u32, false);
                assert_eq!(id as usize, self.owners.len(), "memory ids are dense");
                self.owners.push(Owner::DmaRead {
                    engine: e as u32,
                    dst: t,
                    bytes: n as u32,
                });
            } else {
                let r = self.touch(src_space, Pattern2d::linear(s, n), false, now);
                let job = self.engines[e].job.as_mut().expect("busy engine");
                job.done_at = job.done_at.max(r);
                let id = self.mem.submit(now, t, n as u32, true);
                assert_eq!(id as usize, self.owners.len(), "memory ids are dense");
                self.owners.push(Owner::DmaWrite { engine: e as u32 });
                let _ = dst_space;
            }
        }
    }

    /// A memory request completed.
    pub(super) fn mem_done(&mut self, id: u32, now: Cycle) {
        match self.owners[id as usize] {
            Owner::Row { engine, row } => self.row_back(engine as usize, row, now),
            Owner::DmaRead { engine, dst, bytes } => {
                let e = engine as usize;
                let dst_space = match &self.engines[e].job.as_ref().expect("busy").work {
                    Work::Dma(d) => d.dst.space,
                    Work::Gather(_) => unreachable!("DMA reads return to DMA jobs"),
                };
                if dst_space == Space::Hbm {
                    let id2 = self.mem.submit(now, dst, bytes, true);
                    assert_eq!(id2 as usize, self.owners.len(), "memory ids are dense");
                    self.owners.push(Owner::DmaWrite { engine });
                    return;
                }
                let w = self.touch(
                    dst_space,
                    Pattern2d::linear(dst, u64::from(bytes)),
                    true,
                    now,
                );
                self.chunk_done(e, w, now);
            }
            Owner::DmaWrite { engine } => self.chunk_done(engine as usize, now, now),
        }
    }

    fn chunk_done(&mut self, e: usize, done: Cycle, now: Cycle) {
        let job = self.engines[e].job.as_mut().expect("busy engine");
        job.in_flight -= 1;
        job.done_at = job.done_at.max(done);
        let Work::Dma(d) = &job.work else {
            unreachable!("chunks belong to DMA jobs")
        };
        if !d.has_next() {
            if job.in_flight == 0 {
                let at = job.done_at.max(now);
                self.schedule_engine_done(e, at);
            }
        } else if job.issue_at == NONE {
            self.dma_issue(e, now);
        }
    }

    /// An engine finished its job: free it, complete the instruction, wake waiting queues.
    pub(super) fn engine_done(&mut self, e: usize, serial: u64, now: Cycle) -> Result<(), Error> {
        if self.engines[e].serial != serial {
            return Ok(());
        }
        let job = self.engines[e]
            .job
            .take()
            .expect("a finishing engine is busy");
        let eng = &mut self.engines[e];
        eng.jobs += 1;
        eng.busy_cycles += now - job.start;
        if let Some(tr) = &mut self.trace {
            tr.slices.push(Slice {
                track: Track::Engine { engine: e as u32 },
                name: job.name.clone(),
                start: job.start,
                end: now,
                index: job.index,
            });
        }
        // The freed engine goes to the queues already waiting for the pool, in the order they
        // asked, before the finishing queue may take it again (round robin): otherwise a core
        // whose queue keeps the pool busy would hold every engine while another core's ready
        // instructions wait.
        let in_gather_pool = e >= self.gather_pool.0 && e < self.gather_pool.1;
        let w = usize::from(in_gather_pool && self.gather_pool != self.dma_pool);
        let pool = if w == 1 {
            self.gather_pool
        } else {
            self.dma_pool
        };
        while (pool.0..pool.1).any(|x| self.engines[x].idle()) {
            let Some((c, q)) = self.pool_waiters[w].pop_front() else {
                break;
            };
            // A queue that takes the engine and still has work queues up again behind the
            // others.
            self.cores[c as usize].queues[q as usize].registered = false;
            self.try_start(c as usize, q as usize, now)?;
        }
        self.finish(job.core, job.queue, job.slot, now)?;
        Ok(())
    }
}
