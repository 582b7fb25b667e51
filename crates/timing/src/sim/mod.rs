//! The program-level timing simulator: a compiled [`seedchip_isa::Program`] in, cycles, unit
//! activity, memory behaviour, energy and a roofline comparison out.
//!
//! **Kernel.** One [`EventQueue`] in core-clock cycles, `(cycle, seq)` ordered, single
//! threaded (the detailed memory model may use rayon inside a step; its results do not depend
//! on the thread count). Each core's stream is split, in program order, into its five in-order
//! queues (`dma`, `gather`, `mxu`, `vpu`, `ctl`; dispatch itself is free and never blocks). A
//! queue's next instruction starts when (1) its queue admits it — `vpu` and `ctl` run one
//! instruction at a time, `mxu` accepts the next tile as soon as the arrays can overlap it
//! ([`crate::units::mxu`]), `dma` and `gather` hand instructions to the first free engine of the
//! chip-wide pool, so several may be in flight; (2) its header wait (and a `ctl.wait`
//! operand) is satisfied; (3) its unit has room. Instructions of one queue complete in order:
//! one that finishes early retires (signals its semaphore, makes its data visible) when the ones
//! before it have. A signal wakes exactly the queues waiting on that semaphore.
//!
//! **Memory.** Gather and DMA engines issue requests to [`MemCtl`] (detailed or fast model).
//! The kernel never lets the memory model run past a cycle at which a new request could still
//! arrive, and never pops an event while a memory completion at or before it may still be
//! undetermined (see [`Sim::run`]), so engines see completions at the exact cycles the memory
//! model computes.
//!
//! **Index values.** Gathers need their ids; they come from the data-movement shadow
//! ([`crate::shadow`]): integer model inputs, data segments, and byte moves, applied as
//! instructions retire.

mod engines;
pub mod perfetto;
pub mod report;

use std::collections::{BTreeMap, VecDeque};

use seedchip_chip::{Chip, Precision};
use seedchip_isa::{Addr, DType, Direction, Inst, Instruction, Program, Queue, Sem, Space};

use crate::energy::{self, Actions, EnergyOptions, EnergyParams};
use crate::event::{Cycle, EventQueue};
use crate::mem::{FastMemory, MemConfig};
use crate::shadow::{Block, Region, Shadow};
use crate::units::memctl::{MemCtl, MemoryMode};
use crate::units::mxu::{MatmulCost, MatmulError, MatrixGroup, MxuState, matmul_cost};
use crate::units::sram::{Pattern2d, SharedSram};
use crate::units::vpu::{VecWork, VectorRates, vector_cost};
use engines::{Engine, EngineKind, Owner};
use perfetto::{Slice, Trace, Track};
use report::*;

/// Cycles a control instruction takes.
pub const CTL_CYCLES: Cycle = 1;

/// How to simulate.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub memory: MemoryMode,
    /// Calibrated curves for the fast memory mode; calibrated on the spot (seconds) when absent.
    pub fast_memory: Option<FastMemory>,
    /// The memory configuration to use instead of the one derived from the chip (experiments:
    /// refresh off, another mapping or page policy).
    pub memory_config: Option<MemConfig>,
    pub energy: EnergyOptions,
    /// Collect a slice per instruction and engine job for [`Trace`].
    pub trace: bool,
    /// Events processed before the run stops with [`Error::EventLimit`]: a guard against a
    /// runaway simulation (programs have no loops, so a finite program needs finitely many
    /// events; the default is far above what any compiled model needs).
    pub max_events: u64,
}

/// Default [`SimOptions::max_events`]: about 4 × 10^9 events, minutes of simulation.
pub const DEFAULT_MAX_EVENTS: u64 = 1 << 32;

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            memory: MemoryMode::Detailed,
            fast_memory: None,
            memory_config: None,
            energy: EnergyOptions::default(),
            trace: false,
            max_events: DEFAULT_MAX_EVENTS,
        }
    }
}

/// Why a program could not be timed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// User: an instruction the timing model cannot execute as written (a tile larger than the
    /// array, a precision the chip lacks, an address outside its memory, bad gather offsets).
    #[error("core {core}, instruction {index} ({inst}): {message}")]
    Program {
        core: u32,
        index: u32,
        inst: String,
        message: String,
    },
    /// User (unsupported): a gather reads its ids, offsets or cache map from bytes the timing
    /// model cannot know (computed on chip, or a float input).
    #[error(
        "core {core}, instruction {index} ({inst}): its {what} at {space}:{addr:#x} were computed \
         on chip; the timing model only follows ids that come from integer inputs or constants \
         through copies"
    )]
    OpaqueIndices {
        core: u32,
        index: u32,
        inst: String,
        what: &'static str,
        space: String,
        addr: u64,
    },
    /// User: a model input is missing or does not fit its binding.
    #[error("input `{name}`: {message}")]
    Input { name: String, message: String },
    /// User: no queue can make progress (a semaphore never reaches its value).
    #[error("deadlock: {}", .blocked.join("; "))]
    Deadlock { blocked: Vec<String> },
    /// User: the program was compiled for another chip description.
    #[error("{0}")]
    WrongChip(String),
    /// User: the chip's memory cannot be modelled.
    #[error("memory model: {0}")]
    Memory(#[from] crate::mem::Error),
    /// User (limit): the simulation processed [`SimOptions::max_events`] events without
    /// finishing.
    #[error(
        "event limit: {limit} events processed without finishing (simulated time reached \
         cycle {cycle})"
    )]
    EventLimit { limit: u64, cycle: u64 },
}

/// A finished simulation.
#[derive(Debug, Clone)]
pub struct SimOutcome {
    pub report: SimReport,
    pub trace: Option<Trace>,
}

/// Simulates `program` on `chip` with the given integer inputs (by binding name: the ids of
/// embedding bags; float inputs do not change timing and are not needed).
pub fn simulate(
    chip: &Chip,
    program: &Program,
    int_inputs: &BTreeMap<String, Vec<i64>>,
    options: &SimOptions,
) -> Result<SimOutcome, Error> {
    program
        .check_chip(chip)
        .map_err(|e| Error::WrongChip(e.to_string()))?;
    let mut s = Sim::new(chip, program, options)?;
    s.load(int_inputs)?;
    s.run()?;
    Ok(s.into_outcome())
}

const DMA: usize = 0;
const GATHER: usize = 1;
const MXU: usize = 2;
const VPU: usize = 3;
const CTL: usize = 4;

fn queue_index(q: Queue) -> usize {
    match q {
        Queue::Dma => DMA,
        Queue::Gather => GATHER,
        Queue::Mxu => MXU,
        Queue::Vpu => VPU,
        Queue::Ctl => CTL,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stall {
    Sem,
    Unit,
}

const NONE: Cycle = Cycle::MAX;

#[derive(Debug, Default)]
struct QueueSim {
    list: Vec<u32>,
    starts: Vec<Cycle>,
    ends: Vec<Cycle>,
    head: usize,
    retire: usize,
    in_flight: u32,
    blocked: Option<(Cycle, Stall)>,
    /// Registered in a semaphore's or an engine pool's waiter list.
    registered: bool,
    try_at: Cycle,
    /// A started `ctl.barrier` waiting for its count: (slot, chip semaphore, count).
    barrier: Option<(usize, u8, u32)>,
    busy_end: Cycle,
    busy: u64,
    stall_sem: u64,
    stall_unit: u64,
}

#[derive(Debug)]
struct CoreSim {
    id: u32,
    insts: Vec<Instruction>,
    queues: [QueueSim; 5],
    sems: [u32; 32],
    waiters: Vec<Vec<u8>>,
    mxu: MxuState,
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    Try { core: u32, queue: u8 },
    Done { core: u32, queue: u8, slot: u32 },
    Issue { engine: u32, serial: u64 },
    RowBack { engine: u32, row: u32 },
    EngineDone { engine: u32, serial: u64 },
    Mem { id: u32 },
}

#[derive(Debug, Default)]
struct Counters {
    matmuls: u64,
    vector_insts: u64,
    vector_elements: u64,
    vector_lane_ops: u64,
    gathers: u64,
    bags: u64,
    lookups: u64,
    rows_fetched: u64,
    cache_hits: u64,
    cached_lookups: u64,
    rows_from_memory: u64,
    bytes_from_memory: u64,
    dmas: u64,
    dma_bytes: BTreeMap<String, u64>,
    /// (table base, row) of every fetched row, for the distinct-row count.
    touched: Vec<(u64, u32)>,
}

/// The simulator's state. Built by [`simulate`].
#[derive(Debug)]
pub struct Sim<'a> {
    chip: &'a Chip,
    program: &'a Program,
    cores: Vec<CoreSim>,
    chip_sems: [u32; 16],
    chip_waiters: Vec<Vec<(u32, u8)>>,
    events: EventQueue<Ev>,
    /// [`SimOptions::max_events`].
    max_events: u64,
    mem: MemCtl,
    owners: Vec<Owner>,
    sram: SharedSram,
    shadow: Shadow,
    engines: Vec<Engine>,
    gather_pool: (usize, usize),
    dma_pool: (usize, usize),
    pool_waiters: [VecDeque<(u32, u8)>; 2],
    group: MatrixGroup,
    vrates: VectorRates,
    actions: Actions,
    counters: Counters,
    trace: Option<Trace>,
    end_cycle: Cycle,
    hbm_bytes: u64,
    shared_bytes: u64,
    local_bytes: u64,
    energy: EnergyParams,
    macs_per_cycle_chip: BTreeMap<Precision, u64>,
}

fn region(core: u32, a: Addr) -> Region {
    match a.space {
        Space::Hbm => Region::Hbm,
        Space::Shared => Region::Shared,
        Space::Local => Region::Local(core),
    }
}

fn precision_of(d: DType) -> Option<Precision> {
    match d {
        DType::I8 => Some(Precision::Int8),
        DType::Bf16 => Some(Precision::Bf16),
        DType::F16 => Some(Precision::Fp16),
        DType::E4m3 | DType::E5m2 => Some(Precision::Fp8),
        _ => None,
    }
}

fn elem(d: DType) -> u64 {
    d.size_bytes().unwrap_or(1)
}

impl<'a> Sim<'a> {
    pub fn new(chip: &'a Chip, program: &'a Program, opts: &SimOptions) -> Result<Sim<'a>, Error> {
        let cfg = match &opts.memory_config {
            Some(c) => c.clone(),
            None => MemConfig::from_chip(&chip.memory)?,
        };
        let mem = MemCtl::new(cfg, chip.clock_mhz, opts.memory, opts.fast_memory.clone())?;
        let unit = chip
            .cores
            .matrix_units
            .first()
            .expect("a validated chip has a matrix unit");
        let group = MatrixGroup::from_unit(unit);
        let v = &chip.cores.vector;
        let vrates = VectorRates {
            lanes: u64::from(v.lanes.max(1)),
            fma_per_lane: u64::from(v.fma_per_lane_per_cycle.unwrap_or(1).max(1)),
            transcendentals_per_cycle: u64::from(
                v.transcendentals_per_cycle.unwrap_or((v.lanes / 4).max(1)),
            ),
        };
        let mut engines = Vec::new();
        let dma_n = chip.dma.engines.unwrap_or(2).max(1);
        let dma_bpc = chip.dma.bytes_per_cycle.unwrap_or(64).max(1);
        let dma_out = chip.dma.max_outstanding.unwrap_or(64).max(1);
        for i in 0..dma_n {
            engines.push(Engine::new(
                format!("dma{i}"),
                EngineKind::Dma,
                1,
                dma_out,
                dma_bpc,
            ));
        }
        let dma_pool = (0, engines.len());
        let g = &chip.gather;
        let gather_pool = if g.engines == 0 {
            dma_pool
        } else {
            let start = engines.len();
            for i in 0..g.engines {
                engines.push(Engine::new(
                    format!("gather{i}"),
                    EngineKind::Gather,
                    g.row_requests_per_cycle.unwrap_or(1).max(1),
                    g.max_rows_in_flight.unwrap_or(64).max(1),
                    dma_bpc,
                ));
            }
            (start, engines.len())
        };
        let mut cores = Vec::new();
        for (&id, code) in &program.code {
            let mut queues: [QueueSim; 5] = Default::default();
            for (i, ins) in code.insts.iter().enumerate() {
                let q = &mut queues[queue_index(ins.inst.queue())];
                q.list.push(i as u32);
            }
            for q in &mut queues {
                q.starts = vec![NONE; q.list.len()];
                q.ends = vec![NONE; q.list.len()];
                q.try_at = NONE;
            }
            cores.push(CoreSim {
                id,
                insts: code.insts.clone(),
                queues,
                sems: [0; 32],
                waiters: vec![Vec::new(); 32],
                mxu: MxuState::default(),
            });
        }
        let trace = opts.trace.then(|| Trace {
            clock_mhz: chip.clock_mhz,
            slices: Vec::new(),
            engine_names: engines.iter().map(|e| e.name.clone()).collect(),
            queue_names: Queue::ALL.iter().map(|q| q.name()).collect(),
        });
        let d = seedchip_chip::derive(chip);
        Ok(Sim {
            chip,
            program,
            cores,
            chip_sems: [0; 16],
            chip_waiters: vec![Vec::new(); 16],
            events: EventQueue::new(),
            max_events: opts.max_events,
            mem,
            owners: Vec::new(),
            sram: SharedSram::new(chip.shared_sram.banks, chip.shared_sram.bytes_per_cycle),
            shadow: Shadow::new(),
            engines,
            gather_pool,
            dma_pool,
            pool_waiters: Default::default(),
            group,
            vrates,
            actions: Actions::default(),
            counters: Counters::default(),
            trace,
            end_cycle: 0,
            hbm_bytes: chip.memory.capacity_bytes,
            shared_bytes: chip.shared_sram.capacity_bytes,
            local_bytes: chip.cores.local_sram_bytes,
            energy: EnergyParams::for_chip(chip, &opts.energy),
            macs_per_cycle_chip: d.macs_per_cycle,
        })
    }

    /// Fills the shadow: data segments known, tables and float inputs opaque, integer inputs
    /// from `int_inputs`.
    pub fn load(&mut self, int_inputs: &BTreeMap<String, Vec<i64>>) -> Result<(), Error> {
        for seg in &self.program.data {
            self.shadow.write(Region::Hbm, seg.hbm, &seg.bytes);
        }
        for t in &self.program.tables {
            if let Some(size) = t.size_bytes() {
                self.shadow.mark_opaque(Region::Hbm, t.hbm, size);
            }
        }
        for b in &self.program.bindings {
            if b.direction != Direction::Input {
                continue;
            }
            let r = region(0, b.addr);
            let size = b.size_bytes().unwrap_or(0);
            let range = |lo: i64, hi: i64| (lo, hi);
            let (lo, hi, width) = match b.dtype {
                DType::I32 => {
                    let (lo, hi) = range(i64::from(i32::MIN), i64::from(i32::MAX));
                    (lo, hi, 4)
                }
                DType::I8 => (-128, 127, 1),
                DType::U8 => (0, 255, 1),
                _ => {
                    self.shadow.mark_opaque(r, b.addr.offset, size);
                    continue;
                }
            };
            let Some(vals) = int_inputs.get(&b.name) else {
                return Err(Error::Input {
                    name: b.name.clone(),
                    message: format!(
                        "integer input ({}) not given; the timing model needs the ids",
                        b.dtype
                    ),
                });
            };
            let n: u64 = b.shape.iter().product();
            if vals.len() as u64 != n {
                return Err(Error::Input {
                    name: b.name.clone(),
                    message: format!(
                        "{} values for shape {:?} ({n} elements)",
                        vals.len(),
                        b.shape
                    ),
                });
            }
            let mut bytes = Vec::with_capacity(vals.len() * width);
            for (i, &v) in vals.iter().enumerate() {
                if v < lo || v > hi {
                    return Err(Error::Input {
                        name: b.name.clone(),
                        message: format!("element {i} is {v}, outside {} ({lo}..={hi})", b.dtype),
                    });
                }
                if width == 4 {
                    bytes.extend_from_slice(&(v as i32).to_le_bytes());
                } else {
                    bytes.push(v as u8);
                }
            }
            self.shadow.write(r, b.addr.offset, &bytes);
        }
        Ok(())
    }

    fn inst_error(&self, c: usize, idx: u32, message: impl Into<String>) -> Error {
        let core = &self.cores[c];
        Error::Program {
            core: core.id,
            index: idx,
            inst: core.insts[idx as usize].to_string(),
            message: message.into(),
        }
    }

    fn space_size(&self, s: Space) -> u64 {
        match s {
            Space::Hbm => self.hbm_bytes,
            Space::Shared => self.shared_bytes,
            Space::Local => self.local_bytes,
        }
    }

    /// Checks that a 2-D operand lies inside its memory.
    fn check_2d(
        &self,
        c: usize,
        idx: u32,
        what: &str,
        a: Addr,
        (rows, row_bytes, stride): (u64, u64, u64),
    ) -> Result<(), Error> {
        if rows == 0 || row_bytes == 0 {
            return Ok(());
        }
        let end = (rows - 1)
            .checked_mul(stride)
            .and_then(|x| x.checked_add(row_bytes))
            .and_then(|x| x.checked_add(a.offset));
        let size = self.space_size(a.space);
        match end {
            Some(e) if e <= size => Ok(()),
            _ => Err(self.inst_error(
                c,
                idx,
                format!(
                    "{what} {a}: {rows} rows of {row_bytes} bytes every {stride} bytes end past \
                     the {} bytes of {}",
                    size, a.space
                ),
            )),
        }
    }

    // ----- the kernel loop -----

    /// Runs to completion.
    ///
    /// Memory synchronisation: before an event at cycle `t` is popped, the memory model must
    /// have reported every completion at or before `t`. Its lower bound on the cycle of any
    /// completion not yet reported, `lb`, decides: if `lb > t`, pop; otherwise advance the
    /// memory to `min(lb, t)` (safe: no request can arrive earlier, since nothing happens
    /// before the next event or the next completion) and collect what it reports as events.
    /// Each such step moves the memory at least its minimum latency forward.
    pub fn run(&mut self) -> Result<(), Error> {
        for c in 0..self.cores.len() {
            for q in 0..5 {
                self.schedule_try(c, q, 0);
            }
        }
        let mut done = Vec::new();
        loop {
            let next = self.events.peek_cycle().unwrap_or(NONE);
            if self.mem.busy() {
                let lb = self.mem.lower_bound();
                if lb <= next {
                    self.mem.advance(lb.min(next));
                    done.clear();
                    self.mem.drain(&mut done);
                    for &(cyc, id) in &done {
                        self.events.schedule(cyc, Ev::Mem { id });
                    }
                    continue;
                }
            }
            if next != NONE && self.events.processed() >= self.max_events {
                return Err(Error::EventLimit {
                    limit: self.max_events,
                    cycle: next,
                });
            }
            let Some((now, ev)) = self.events.pop() else {
                break;
            };
            self.handle(now, ev)?;
        }
        self.check_finished()
    }

    fn handle(&mut self, now: Cycle, ev: Ev) -> Result<(), Error> {
        match ev {
            Ev::Try { core, queue } => {
                let q = &mut self.cores[core as usize].queues[queue as usize];
                if q.try_at == now {
                    q.try_at = NONE;
                }
                self.try_start(core as usize, queue as usize, now)
            }
            Ev::Done { core, queue, slot } => {
                self.finish(core as usize, queue as usize, slot as usize, now)
            }
            Ev::Issue { engine, serial } => {
                self.engine_issue(engine as usize, serial, now);
                Ok(())
            }
            Ev::RowBack { engine, row } => {
                self.row_back(engine as usize, row, now);
                Ok(())
            }
            Ev::EngineDone { engine, serial } => self.engine_done(engine as usize, serial, now),
            Ev::Mem { id } => {
                self.mem_done(id, now);
                Ok(())
            }
        }
    }

    fn check_finished(&self) -> Result<(), Error> {
        let mut blocked = Vec::new();
        for core in &self.cores {
            for (qi, q) in core.queues.iter().enumerate() {
                if q.retire < q.list.len() {
                    let idx = q.list[q.retire.min(q.head.min(q.list.len() - 1))];
                    let ins = &core.insts[idx as usize];
                    let why = match (q.barrier, ins.wait) {
                        (Some((_, g, count)), _) => {
                            format!("barrier g{g} at {} of {count}", self.chip_sems[g as usize])
                        }
                        (None, Some(w)) => {
                            format!(
                                "waits {}>={} (is {})",
                                w.sem,
                                w.value,
                                self.sem_value(core, w.sem)
                            )
                        }
                        _ => "blocked".to_string(),
                    };
                    blocked.push(format!(
                        "core {} {} instruction {idx} `{ins}`: {why}",
                        core.id,
                        Queue::ALL[qi].name()
                    ));
                }
            }
        }
        if blocked.is_empty() {
            Ok(())
        } else {
            Err(Error::Deadlock { blocked })
        }
    }

    fn schedule_try(&mut self, c: usize, q: usize, at: Cycle) {
        let qs = &mut self.cores[c].queues[q];
        if qs.try_at == at {
            return;
        }
        qs.try_at = at;
        self.events.schedule(
            at,
            Ev::Try {
                core: c as u32,
                queue: q as u8,
            },
        );
    }

    // ----- semaphores -----

    fn sem_value(&self, core: &CoreSim, s: Sem) -> u32 {
        if s.is_chip() {
            self.chip_sems[s.index() as usize]
        } else {
            core.sems[s.index() as usize]
        }
    }

    fn wait_on(&mut self, c: usize, q: usize, s: Sem) {
        let qs = &mut self.cores[c].queues[q];
        if qs.registered {
            return;
        }
        qs.registered = true;
        if s.is_chip() {
            self.chip_waiters[s.index() as usize].push((c as u32, q as u8));
        } else {
            self.cores[c].waiters[s.index() as usize].push(q as u8);
        }
    }

    fn signal(&mut self, c: usize, s: Sem, now: Cycle) {
        let woken: Vec<(u32, u8)> = if s.is_chip() {
            let i = s.index() as usize;
            self.chip_sems[i] = self.chip_sems[i].wrapping_add(1);
            std::mem::take(&mut self.chip_waiters[i])
        } else {
            let i = s.index() as usize;
            let core = &mut self.cores[c];
            core.sems[i] = core.sems[i].wrapping_add(1);
            std::mem::take(&mut core.waiters[i])
                .into_iter()
                .map(|q| (c as u32, q))
                .collect()
        };
        for (wc, wq) in woken {
            self.cores[wc as usize].queues[wq as usize].registered = false;
            self.schedule_try(wc as usize, wq as usize, now);
        }
    }

    /// The queue's next instruction cannot start. Stall time runs only while nothing of the
    /// queue executes, so busy and stalled cycles never overlap.
    fn block(&mut self, c: usize, q: usize, now: Cycle, why: Stall) {
        let qs = &mut self.cores[c].queues[q];
        if qs.in_flight > 0 {
            return;
        }
        match qs.blocked {
            Some((_, w)) if w == why => {}
            _ => {
                Self::book_stall(qs, now);
                qs.blocked = Some((now, why));
            }
        }
    }

    fn book_stall(qs: &mut QueueSim, now: Cycle) {
        if let Some((t, why)) = qs.blocked.take() {
            let d = now.saturating_sub(t);
            match why {
                Stall::Sem => qs.stall_sem += d,
                Stall::Unit => qs.stall_unit += d,
            }
        }
    }

    // ----- starting instructions -----

    fn try_start(&mut self, c: usize, qi: usize, now: Cycle) -> Result<(), Error> {
        loop {
            // A barrier that has started waits for its count.
            if let Some((slot, g, count)) = self.cores[c].queues[qi].barrier {
                if self.chip_sems[g as usize] >= count {
                    self.cores[c].queues[qi].barrier = None;
                    self.events.schedule(
                        now + CTL_CYCLES,
                        Ev::Done {
                            core: c as u32,
                            queue: qi as u8,
                            slot: slot as u32,
                        },
                    );
                } else {
                    self.wait_on(c, qi, Sem::CHIP[g as usize]);
                }
                return Ok(());
            }
            let q = &self.cores[c].queues[qi];
            if q.head >= q.list.len() {
                return Ok(());
            }
            if (qi == VPU || qi == CTL) && q.in_flight > 0 {
                return Ok(());
            }
            let slot = q.head;
            let idx = q.list[slot];
            let ins = self.cores[c].insts[idx as usize];
            let core = &self.cores[c];
            let mut unmet = None;
            if let Some(w) = ins.wait
                && self.sem_value(core, w.sem) < w.value
            {
                unmet = Some(w.sem);
            }
            if let Inst::CtlWait { sem, value } = ins.inst
                && self.sem_value(core, sem) < value
            {
                unmet = unmet.or(Some(sem));
            }
            if let Some(s) = unmet {
                self.block(c, qi, now, Stall::Sem);
                self.wait_on(c, qi, s);
                return Ok(());
            }
            let started = match qi {
                MXU => self.start_mxu(c, slot, idx, &ins, now)?,
                VPU => self.start_vpu(c, slot, idx, &ins, now)?,
                CTL => self.start_ctl(c, slot, &ins, now),
                _ => {
                    let pool = if qi == DMA {
                        self.dma_pool
                    } else {
                        self.gather_pool
                    };
                    match (pool.0..pool.1).find(|&e| self.engines[e].idle()) {
                        Some(e) => {
                            if qi == DMA {
                                self.start_dma(c, slot, idx, &ins, e, now)?;
                            } else {
                                self.start_gather(c, slot, idx, &ins, e, now)?;
                            }
                            true
                        }
                        None => {
                            self.block(c, qi, now, Stall::Unit);
                            let qs = &mut self.cores[c].queues[qi];
                            if !qs.registered {
                                qs.registered = true;
                                let w = usize::from(qi == GATHER && pool != self.dma_pool);
                                self.pool_waiters[w].push_back((c as u32, qi as u8));
                            }
                            false
                        }
                    }
                }
            };
            if !started {
                return Ok(());
            }
            let qs = &mut self.cores[c].queues[qi];
            Self::book_stall(qs, now);
            qs.registered = false;
            qs.starts[slot] = now;
            qs.head += 1;
            qs.in_flight += 1;
        }
    }

    fn start_ctl(&mut self, c: usize, slot: usize, ins: &Instruction, now: Cycle) -> bool {
        if let Inst::CtlBarrier { sem, count } = ins.inst {
            let g = sem.index();
            self.signal(c, sem.sem(), now);
            if self.chip_sems[g as usize] < count {
                let qs = &mut self.cores[c].queues[CTL];
                qs.barrier = Some((slot, g, count));
                self.wait_on(c, CTL, sem.sem());
                return true;
            }
        }
        self.events.schedule(
            now + CTL_CYCLES,
            Ev::Done {
                core: c as u32,
                queue: CTL as u8,
                slot: slot as u32,
            },
        );
        true
    }

    /// Shared-SRAM time of an operand (local operands are not bandwidth-limited); counts bytes
    /// for energy. Returns when the access is done.
    fn operand(&mut self, c: usize, a: Addr, p: Pattern2d, write: bool, now: Cycle) -> Cycle {
        let _ = c;
        match a.space {
            Space::Shared => {
                self.actions.shared_sram_bytes += p.bytes();
                self.actions.noc_bytes += p.bytes();
                self.sram.access(
                    now,
                    Pattern2d {
                        addr: a.offset,
                        ..p
                    },
                    write,
                )
            }
            Space::Local => {
                self.actions.local_sram_bytes += p.bytes();
                now
            }
            Space::Hbm => now,
        }
    }

    fn start_mxu(
        &mut self,
        c: usize,
        slot: usize,
        idx: u32,
        ins: &Instruction,
        now: Cycle,
    ) -> Result<bool, Error> {
        let (dtype, acc, a, b, m, k, n, lda, ldb, ldacc, accumulate, tb, count, strides) =
            match ins.inst {
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
                } => (
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
                    1u32,
                    (0, 0, 0),
                ),
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
                } => (
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
                    (stride_a, stride_b, stride_acc),
                ),
                _ => unreachable!("only mxu instructions reach the mxu queue"),
            };
        let prec = precision_of(dtype).expect("mxu dtypes are matrix precisions");
        let (m, k, n) = (u64::from(m), u64::from(k), u64::from(n));
        let cost = match matmul_cost(&self.group, prec, m, k, n, u64::from(count)) {
            Ok(c) => c,
            Err(MatmulError::NoPrecision(p)) => {
                return Err(self.inst_error(
                    c,
                    idx,
                    format!(
                        "the chip's matrix units have no {p} rate (macs_per_cycle lists {})",
                        self.group
                            .macs_per_cycle
                            .keys()
                            .map(|p| p.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            Err(MatmulError::TooLarge { k, n, rows, cols }) => {
                return Err(self.inst_error(
                    c,
                    idx,
                    format!("k = {k}, n = {n} exceed the {rows}x{cols} array (k ≤ rows, n ≤ cols)"),
                ));
            }
            Err(MatmulError::Zero) => MatmulCost {
                // An empty product: one cycle, no MACs.
                busy_cycles: 1,
                drain_cycles: 0,
                load_cycles: 0,
                stream_cycles: 0,
                macs: 0,
            },
        };
        let ready = self.cores[c].mxu.ready_at(&cost).max(now);
        if ready > now {
            self.block(c, MXU, now, Stall::Unit);
            self.schedule_try(c, MXU, ready);
            return Ok(false);
        }
        let es = elem(dtype);
        let mut done = self.cores[c].mxu.start(now, cost);
        for p in 0..u64::from(count) {
            let (sa, sb, sc) = (
                u64::from(strides.0) * p,
                u64::from(strides.1) * p,
                u64::from(strides.2) * p,
            );
            let pa = Pattern2d {
                addr: 0,
                rows: m,
                row_bytes: k * es,
                stride: u64::from(lda) * es,
            };
            let pb = if tb {
                Pattern2d {
                    addr: 0,
                    rows: n,
                    row_bytes: k * es,
                    stride: u64::from(ldb) * es,
                }
            } else {
                Pattern2d {
                    addr: 0,
                    rows: k,
                    row_bytes: n * es,
                    stride: u64::from(ldb) * es,
                }
            };
            let pc = Pattern2d {
                addr: 0,
                rows: m,
                row_bytes: n * 4,
                stride: u64::from(ldacc) * 4,
            };
            let a_at = Addr::new(a.space, a.offset + sa * es);
            let b_at = Addr::new(b.space, b.offset + sb * es);
            let c_at = Addr::new(acc.space, acc.offset + sc * 4);
            done = done.max(self.operand(c, a_at, pa, false, now));
            done = done.max(self.operand(c, b_at, pb, false, now));
            if accumulate {
                done = done.max(self.operand(c, c_at, pc, false, now));
            }
            done = done.max(self.operand(c, c_at, pc, true, now));
        }
        *self.actions.macs.entry(prec).or_default() += cost.macs;
        self.counters.matmuls += 1;
        self.events.schedule(
            done,
            Ev::Done {
                core: c as u32,
                queue: MXU as u8,
                slot: slot as u32,
            },
        );
        Ok(true)
    }

    fn start_vpu(
        &mut self,
        c: usize,
        slot: usize,
        idx: u32,
        ins: &Instruction,
        now: Cycle,
    ) -> Result<bool, Error> {
        let v = vpu_shape(&ins.inst);
        // Broadcast operands are read once into registers; they do not break contiguity.
        let contiguous = v
            .operands
            .iter()
            .filter(|o| !o.broadcast_rows && !o.broadcast_cols)
            .all(|o| o.ld == v.cols || v.rows == 1);
        let cost = vector_cost(&self.vrates, v.work, v.rows, v.cols, contiguous);
        let _ = idx;
        let mut done = now + cost.cycles;
        for o in &v.operands {
            let rows = if o.broadcast_rows { 1 } else { v.rows };
            let cols = if o.broadcast_cols { 1 } else { o.cols };
            let p = Pattern2d {
                addr: 0,
                rows,
                row_bytes: cols * o.elem,
                stride: (o.ld * o.elem).max(cols * o.elem),
            };
            done = done.max(self.operand(c, o.addr, p, o.write, now));
        }
        self.counters.vector_insts += 1;
        self.counters.vector_elements += cost.elements;
        self.counters.vector_lane_ops += cost.lane_ops;
        if v.float {
            self.actions.vector_float_ops += cost.lane_ops;
        } else {
            self.actions.vector_int_ops += cost.lane_ops;
        }
        self.actions.transcendentals += cost.transcendentals;
        self.events.schedule(
            done,
            Ev::Done {
                core: c as u32,
                queue: VPU as u8,
                slot: slot as u32,
            },
        );
        Ok(true)
    }

    // ----- completion and retirement -----

    fn finish(&mut self, c: usize, qi: usize, slot: usize, now: Cycle) -> Result<(), Error> {
        {
            let qs = &mut self.cores[c].queues[qi];
            qs.ends[slot] = now;
            qs.in_flight -= 1;
        }
        loop {
            let qs = &self.cores[c].queues[qi];
            if qs.retire >= qs.head || qs.ends[qs.retire] == NONE {
                break;
            }
            let r = qs.retire;
            self.retire(c, qi, r, now);
            self.cores[c].queues[qi].retire += 1;
        }
        self.try_start(c, qi, now)
    }

    fn retire(&mut self, c: usize, qi: usize, slot: usize, now: Cycle) {
        let (start, end, idx) = {
            let qs = &mut self.cores[c].queues[qi];
            let (s, e) = (qs.starts[slot], qs.ends[slot]);
            let from = s.max(qs.busy_end);
            if e > from {
                qs.busy += e - from;
            }
            qs.busy_end = qs.busy_end.max(e);
            (s, e, qs.list[slot])
        };
        self.end_cycle = self.end_cycle.max(now);
        let ins = self.cores[c].insts[idx as usize];
        self.apply_effects(c, &ins.inst);
        if let Some(tr) = &mut self.trace {
            tr.slices.push(Slice {
                track: Track::Queue {
                    core: self.cores[c].id,
                    queue: qi as u8,
                },
                name: mnemonic(&ins.inst),
                start,
                end,
                index: idx,
            });
        }
        if let Inst::CtlSignal { sem } = ins.inst {
            self.signal(c, sem, now);
        }
        if let Some(s) = ins.signal {
            self.signal(c, s, now);
        }
    }

    /// What an instruction does to the shadow once it has completed.
    fn apply_effects(&mut self, c: usize, inst: &Inst) {
        let core = self.cores[c].id;
        match *inst {
            Inst::DmaCopy {
                dst,
                src,
                rows,
                row_bytes,
                dst_stride_bytes,
                src_stride_bytes,
            } => {
                let block = |a: Addr, stride: u32| Block {
                    region: region(core, a),
                    addr: a.offset,
                    stride: u64::from(stride),
                };
                self.shadow.copy_2d(
                    block(dst, dst_stride_bytes),
                    block(src, src_stride_bytes),
                    u64::from(rows),
                    u64::from(row_bytes),
                );
            }
            Inst::VpuCopy {
                dtype,
                dst,
                a,
                rows,
                cols,
                ldd,
                lda,
            } => {
                let es = elem(dtype);
                for r in 0..u64::from(rows) {
                    self.shadow.copy(
                        region(core, dst),
                        dst.offset + r * u64::from(ldd) * es,
                        region(core, a),
                        a.offset + r * u64::from(lda) * es,
                        u64::from(cols) * es,
                    );
                }
            }
            _ => {
                for w in written(inst) {
                    self.mark_opaque_2d(core, w);
                }
            }
        }
    }

    /// Marks a computed 2-D output opaque: exactly for contiguous or short outputs, else its
    /// bounding range (conservative: bytes between strided rows become unknown too).
    fn mark_opaque_2d(&mut self, core: u32, w: Written) {
        let r = region(core, w.addr);
        if w.rows == 0 || w.row_bytes == 0 {
            return;
        }
        if w.stride == w.row_bytes || w.rows <= 16 {
            for i in 0..w.rows {
                self.shadow
                    .mark_opaque(r, w.addr.offset + i * w.stride, w.row_bytes);
            }
        } else {
            let len = (w.rows - 1) * w.stride + w.row_bytes;
            self.shadow.mark_opaque(r, w.addr.offset, len);
        }
    }

    // ----- the end -----

    pub fn into_outcome(self) -> SimOutcome {
        let cycles = self.end_cycle;
        let clock_hz = self.chip.clock_mhz * 1e6;
        let seconds = cycles as f64 / clock_hz;
        let batch = self.program.target.batch;
        let mut queues = Vec::new();
        for core in &self.cores {
            for (qi, q) in core.queues.iter().enumerate() {
                let stalls = q.stall_sem + q.stall_unit;
                queues.push(QueueReport {
                    core: core.id,
                    queue: Queue::ALL[qi].name().to_string(),
                    instructions: q.list.len() as u64,
                    busy_cycles: q.busy,
                    stall_semaphore_cycles: q.stall_sem,
                    stall_unit_cycles: q.stall_unit,
                    idle_cycles: cycles.saturating_sub(q.busy + stalls),
                    utilization: ratio(q.busy, cycles),
                });
            }
        }
        let engines: Vec<EngineReport> = self
            .engines
            .iter()
            .map(|e| EngineReport {
                name: e.name.clone(),
                kind: match e.kind {
                    EngineKind::Dma => "dma",
                    EngineKind::Gather => "gather",
                }
                .to_string(),
                jobs: e.jobs,
                busy_cycles: e.busy_cycles,
                utilization: ratio(e.busy_cycles, cycles),
                rows: e.rows,
                bytes: e.bytes,
            })
            .collect();
        let mem_summary = self.mem.summary();
        let mut actions = self.actions.clone();
        actions.dram_bytes = mem_summary.bytes_transferred;
        let energy = energy::energy(&self.energy, &actions, seconds, u64::from(batch));
        let peak: BTreeMap<String, u64> = self
            .macs_per_cycle_chip
            .iter()
            .map(|(p, &m)| (p.name().to_string(), m))
            .collect();
        let mut compute_cycles = 0.0;
        for (p, &n) in &actions.macs {
            let rate = self.macs_per_cycle_chip.get(p).copied().unwrap_or(1).max(1);
            compute_cycles += n as f64 / rate as f64;
        }
        let matrix = MatrixReport {
            instructions: self.counters.matmuls,
            macs: actions
                .macs
                .iter()
                .map(|(p, &n)| (p.name().to_string(), n))
                .collect(),
            peak_macs_per_cycle: peak,
            utilization: if cycles > 0 {
                compute_cycles / cycles as f64
            } else {
                0.0
            },
        };
        // Roofline.
        let mut touched = self.counters.touched.clone();
        touched.sort_unstable();
        touched.dedup();
        let mut row_bytes_by_table: BTreeMap<u64, u64> = BTreeMap::new();
        for t in &self.program.tables {
            row_bytes_by_table.insert(t.hbm, t.row_bytes().unwrap_or(0));
        }
        let rows_bytes: u64 = touched
            .iter()
            .map(|(t, _)| row_bytes_by_table.get(t).copied().unwrap_or(0))
            .sum();
        let data_bytes: u64 = self.program.data.iter().map(|d| d.bytes.len() as u64).sum();
        let io_bytes: u64 = self
            .program
            .bindings
            .iter()
            .filter(|b| b.addr.space == Space::Hbm)
            .map(|b| b.size_bytes().unwrap_or(0))
            .sum();
        let min_bytes = rows_bytes + data_bytes + io_bytes;
        let mem_bpc = self.chip.memory.bandwidth_gbps.unwrap_or(0.0) * 1e9 / clock_hz;
        let memory_cycles = if mem_bpc > 0.0 {
            min_bytes as f64 / mem_bpc
        } else {
            0.0
        };
        let (g0, g1) = self.gather_pool;
        let gather_rate: u64 = self.engines[g0..g1].iter().map(|e| e.rate()).sum();
        let gather_cycles = self.counters.lookups as f64 / gather_rate.max(1) as f64;
        let (bound, bound_cycles) = [
            ("compute", compute_cycles),
            ("memory", memory_cycles),
            ("gather", gather_cycles),
        ]
        .into_iter()
        .fold(
            ("compute", 0.0f64),
            |acc, x| if x.1 > acc.1 { x } else { acc },
        );
        let offchip = mem_summary.bytes_read + mem_summary.bytes_written;
        let roofline = Roofline {
            compute_cycles,
            min_offchip_bytes: min_bytes,
            memory_cycles,
            lookups: self.counters.lookups,
            gather_cycles,
            bound_cycles,
            bound: bound.to_string(),
            roofline_fraction: if cycles > 0 {
                bound_cycles / cycles as f64
            } else {
                0.0
            },
            offchip_bytes: offchip,
        };
        let k = &self.counters;
        let gather = GatherReport {
            instructions: k.gathers,
            bags: k.bags,
            lookups: k.lookups,
            rows_fetched: k.rows_fetched,
            coalesced: k.lookups - k.rows_fetched,
            cache_hits: k.cache_hits,
            cache_hit_rate: ratio(k.cache_hits, k.rows_fetched),
            cached_lookups: k.cached_lookups,
            cache_hit_rate_lookups: ratio(k.cached_lookups, k.lookups),
            rows_from_memory: k.rows_from_memory,
            bytes_from_memory: k.bytes_from_memory,
            distinct_rows: touched.len() as u64,
            engines: (g1 - g0) as u32,
            on_dma_engines: self.chip.gather.engines == 0,
        };
        let memory = MemoryReport {
            achieved_gbps: if seconds > 0.0 {
                offchip as f64 / seconds / 1e9
            } else {
                0.0
            },
            utilization: if seconds > 0.0 && mem_summary.peak_gbps > 0.0 {
                offchip as f64 / seconds / 1e9 / mem_summary.peak_gbps
            } else {
                0.0
            },
            summary: mem_summary,
        };
        let shared_sram = SramReport {
            banks: self.sram.banks(),
            bytes_read: self.sram.bytes_read,
            bytes_written: self.sram.bytes_written,
            utilization: ratio(self.sram.bank_busy_cycles, cycles * self.sram.banks()),
            conflict_cycles: self.sram.conflict_cycles,
            local_bytes: actions.local_sram_bytes,
        };
        let report = SimReport {
            schema_version: SCHEMA_VERSION,
            chip: self.chip.name.clone(),
            clock_mhz: self.chip.clock_mhz,
            precision: self.program.target.precision.name().to_string(),
            batch,
            cycles,
            latency_us: seconds * 1e6,
            throughput_samples_per_s: if seconds > 0.0 {
                f64::from(batch) / seconds
            } else {
                0.0
            },
            instructions: self.cores.iter().map(|c| c.insts.len() as u64).sum(),
            events: self.events.processed(),
            queues,
            engines,
            matrix,
            vector: VectorReport {
                instructions: k.vector_insts,
                elements: k.vector_elements,
                lane_ops: k.vector_lane_ops,
                transcendentals: actions.transcendentals,
            },
            gather,
            dma: DmaReport {
                instructions: k.dmas,
                bytes: k.dma_bytes.clone(),
            },
            shared_sram,
            memory,
            energy,
            roofline,
        };
        SimOutcome {
            report,
            trace: self.trace,
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn mnemonic(inst: &Inst) -> String {
    let mut s = inst.info().mnemonic.to_string();
    for d in inst.dtypes() {
        s.push('.');
        s.push_str(d.name());
    }
    s
}

/// An output region of a computing instruction.
#[derive(Debug, Clone, Copy)]
struct Written {
    addr: Addr,
    rows: u64,
    row_bytes: u64,
    stride: u64,
}

/// The regions a computing instruction writes (copies are handled as copies).
fn written(inst: &Inst) -> Vec<Written> {
    let w = |addr: Addr, rows: u32, cols: u32, ld: u32, es: u64| Written {
        addr,
        rows: u64::from(rows),
        row_bytes: u64::from(cols) * es,
        stride: u64::from(ld) * es,
    };
    match *inst {
        Inst::MxuMatmul {
            acc, m, n, ldacc, ..
        } => vec![w(acc, m, n, ldacc, 4)],
        Inst::MxuMatmulBatch {
            acc,
            m,
            n,
            ldacc,
            count,
            stride_acc,
            ..
        } => (0..u64::from(count))
            .map(|p| {
                let a = Addr::new(acc.space, acc.offset + p * u64::from(stride_acc) * 4);
                w(a, m, n, ldacc, 4)
            })
            .collect(),
        Inst::GatherSum {
            dst,
            dim,
            bags,
            ldd,
            ..
        }
        | Inst::GatherMean {
            dst,
            dim,
            bags,
            ldd,
            ..
        }
        | Inst::GatherMax {
            dst,
            dim,
            bags,
            ldd,
            ..
        } => vec![w(dst, bags, dim, ldd, 4)],
        Inst::VpuReduceSum { dst, rows, .. } | Inst::VpuReduceMax { dst, rows, .. } => {
            vec![w(dst, 1, rows, rows, 4)]
        }
        _ => {
            let v = vpu_shape(inst);
            v.operands
                .iter()
                .filter(|o| o.write)
                .map(|o| Written {
                    addr: o.addr,
                    rows: v.rows,
                    row_bytes: o.cols * o.elem,
                    stride: (o.ld * o.elem).max(o.cols * o.elem),
                })
                .collect()
        }
    }
}

/// One operand of a vector instruction.
#[derive(Debug, Clone, Copy)]
struct VecOperand {
    addr: Addr,
    cols: u64,
    ld: u64,
    elem: u64,
    write: bool,
    broadcast_rows: bool,
    broadcast_cols: bool,
}

#[derive(Debug, Clone)]
struct VecShape {
    rows: u64,
    cols: u64,
    work: VecWork,
    float: bool,
    operands: Vec<VecOperand>,
}

fn is_float(d: DType) -> bool {
    matches!(
        d,
        DType::F32 | DType::Bf16 | DType::F16 | DType::E4m3 | DType::E5m2
    )
}

/// The shape, work and operands of a `vpu` instruction (empty for other classes).
fn vpu_shape(inst: &Inst) -> VecShape {
    let op = |addr: Addr, cols: u32, ld: u32, d: DType, write: bool| VecOperand {
        addr,
        cols: u64::from(cols),
        ld: u64::from(ld),
        elem: elem(d),
        write,
        broadcast_rows: false,
        broadcast_cols: false,
    };
    let shape = |rows: u32, cols: u32, work, float, operands| VecShape {
        rows: u64::from(rows),
        cols: u64::from(cols),
        work,
        float,
        operands,
    };
    match *inst {
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
            let mut bo = op(b, cols, ldb.max(incb * cols), dtype, false);
            bo.broadcast_rows = ldb == 0;
            bo.broadcast_cols = incb == 0;
            if incb > 1 {
                bo.cols = u64::from(cols) * u64::from(incb);
            }
            shape(
                rows,
                cols,
                VecWork::Lane(1),
                is_float(dtype),
                vec![
                    op(dst, cols, ldd, dtype, true),
                    op(a, cols, lda, dtype, false),
                    bo,
                ],
            )
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
        } => shape(
            rows,
            cols,
            VecWork::Lane(1),
            is_float(dtype),
            vec![
                op(dst, cols, ldd, dtype, true),
                op(a, cols, lda, dtype, false),
            ],
        ),
        Inst::VpuSigmoid {
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
        } => shape(
            rows,
            cols,
            VecWork::Transcendental,
            true,
            vec![
                op(dst, cols, ldd, dtype, true),
                op(a, cols, lda, dtype, false),
            ],
        ),
        Inst::VpuCvt {
            from,
            to,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
        } => shape(
            rows,
            cols,
            VecWork::Lane(1),
            is_float(from) || is_float(to),
            vec![op(dst, cols, ldd, to, true), op(a, cols, lda, from, false)],
        ),
        Inst::VpuRequant {
            dtype,
            dst,
            a,
            rows,
            cols,
            ldd,
            lda,
            ..
        } => shape(
            rows,
            cols,
            VecWork::Lane(2),
            false,
            vec![
                op(dst, cols, ldd, dtype, true),
                op(a, cols, lda, DType::I32, false),
            ],
        ),
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
            let mut m = op(multipliers, cols, cols, DType::I32, false);
            m.broadcast_rows = true;
            let mut s = op(shifts, cols, cols, DType::I32, false);
            s.broadcast_rows = true;
            shape(
                rows,
                cols,
                VecWork::Lane(2),
                false,
                vec![
                    op(dst, cols, ldd, dtype, true),
                    op(a, cols, lda, DType::I32, false),
                    m,
                    s,
                ],
            )
        }
        Inst::VpuReduceSum {
            dtype,
            dst,
            a,
            rows,
            cols,
            lda,
        }
        | Inst::VpuReduceMax {
            dtype,
            dst,
            a,
            rows,
            cols,
            lda,
        } => {
            let mut d = op(dst, 1, 1, dtype, true);
            d.ld = 1;
            shape(
                rows,
                cols,
                VecWork::Lane(1),
                true,
                vec![op(a, cols, lda, dtype, false), d],
            )
        }
        _ => VecShape {
            rows: 0,
            cols: 0,
            work: VecWork::Lane(1),
            float: false,
            operands: Vec::new(),
        },
    }
}
