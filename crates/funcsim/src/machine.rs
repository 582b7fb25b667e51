//! The machine: loading a program onto a chip, the host's view of its bindings, and the
//! dispatch loop (queues, semaphores, round-robin cores, deadlock and step-limit detection).

use std::collections::BTreeMap;

use seedchip_chip::Chip;
use seedchip_isa::{
    Addr, Binding, DType, Direction, Inst, Instruction, Program, Queue, Sem, Space,
};
use seedchip_ref::{Tensor, TensorData};
use serde::Serialize;

use crate::codec;
use crate::error::Error;
use crate::fault::{Blocked, Fault, FaultKind, Region, Site};
use crate::mem::{Hbm, Memory};
use crate::origin::Origins;
use crate::races::Races;

/// Default bound on executed instructions (docs/isa.md "Faults").
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000_000;

/// Most SRAM (shared plus the local SRAM of every core with code) a machine simulates.
const MAX_SRAM_BYTES: u64 = 16 << 30;

/// How to build a machine.
#[derive(Debug, Clone)]
pub struct Options {
    /// Worker threads for the kernels; `None` uses rayon's global pool. Results are identical
    /// for every value (parallel work never splits a float reduction).
    pub threads: Option<usize>,
    /// Bytes of decoded procedural-table rows kept between lookups (speed only).
    pub row_cache_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threads: None,
            row_cache_bytes: 1 << 30,
        }
    }
}

/// Bounds and checks for one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Instructions executed before a `step limit` fault.
    pub max_steps: u64,
    /// Check that the program is well synchronised (docs/isa.md "Semaphores"); slower.
    pub check_races: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: DEFAULT_MAX_STEPS,
            check_races: false,
        }
    }
}

/// Bytes moved per memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SpaceBytes {
    pub hbm: u64,
    pub shared: u64,
    pub local: u64,
}

impl SpaceBytes {
    pub(crate) fn add(&mut self, region: Region, bytes: u64) {
        match region {
            Region::Hbm => self.hbm += bytes,
            Region::Shared => self.shared += bytes,
            Region::Local(_) => self.local += bytes,
        }
    }
}

/// What one run did: instruction counts and data movement, for reports and the timing model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Instructions executed (all cores).
    pub instructions: u64,
    /// Per queue (`dma`, `gather`, `mxu`, `vpu`, `ctl`).
    pub per_queue: BTreeMap<String, u64>,
    /// Per mnemonic with dtype suffixes (`mxu.matmul.i8`).
    pub per_mnemonic: BTreeMap<String, u64>,
    pub bytes_read: SpaceBytes,
    pub bytes_written: SpaceBytes,
    /// Embedding rows pooled by gathers, and how many came from the hot-row cache.
    pub gather_rows: u64,
    pub gather_cached_rows: u64,
    /// Multiply-accumulates issued to the matrix units.
    pub macs: u64,
    /// Scheduling rounds in which some core was blocked on a semaphore.
    pub blocked_rounds: u64,
}

impl Stats {
    pub(crate) fn count(&mut self, inst: &Inst) {
        self.instructions += 1;
        *self
            .per_queue
            .entry(inst.queue().name().to_string())
            .or_insert(0) += 1;
        let mut name = inst.info().mnemonic.to_string();
        for d in inst.dtypes() {
            name.push('.');
            name.push_str(d.name());
        }
        *self.per_mnemonic.entry(name).or_insert(0) += 1;
    }
}

#[derive(Debug)]
pub(crate) struct Core {
    pub id: u32,
    pub insts: Vec<Instruction>,
    /// Byte offset of each instruction.
    pub pcs: Vec<u64>,
    pub next: usize,
    pub halted: bool,
    /// At a `ctl.barrier` whose increment is done.
    pub arrived: bool,
    pub sems: [u32; 32],
}

impl Core {
    fn site(&self, index: usize) -> Site {
        Site {
            core: self.id,
            pc: self.pcs.get(index).copied().unwrap_or(0),
            index,
            inst: self
                .insts
                .get(index)
                .map_or_else(|| "<end of stream>".to_string(), |i| i.to_string()),
        }
    }
}

/// A program loaded on a chip, ready to take inputs and run.
#[derive(Debug)]
pub struct Machine {
    pub(crate) chip_name: String,
    /// The matrix unit's array (rows, cols): `k` and `n` limits of `mxu.matmul`.
    pub(crate) array: (u32, u32),
    pub(crate) cores: Vec<Core>,
    pub(crate) chip_sems: [u32; 16],
    pub(crate) mem: Memory,
    bindings: Vec<Binding>,
    /// Binding names by index (origins refer to bindings by index).
    pub(crate) binding_names: Vec<String>,
    /// Every program table: (hbm base, name, rows).
    pub(crate) tables: Vec<(u64, String, u64)>,
    initial_origins: Origins,
    pub(crate) origins: Origins,
    pub(crate) stats: Stats,
    pub(crate) races: Option<Races>,
    pool: Option<rayon::ThreadPool>,
    /// Int8 matmul kernels queued to run together (empty between runs).
    pub(crate) deferred: crate::defer::Deferred,
    /// Reused output buffer of vector instructions (speed only; contents meaningless).
    pub(crate) scratch: Vec<u8>,
}

/// The region an address names, for an instruction of `core`.
pub(crate) fn region(core: u32, addr: Addr) -> Region {
    match addr.space {
        Space::Hbm => Region::Hbm,
        Space::Shared => Region::Shared,
        Space::Local => Region::Local(core),
    }
}

fn load_err(chip: &Chip, message: String) -> Error {
    Error::Load {
        chip: chip.name.clone(),
        message,
    }
}

impl Machine {
    /// Loads `program` onto `chip` with default options.
    ///
    /// # Errors
    /// [`Error::Program`] if the program was compiled for another chip or is inconsistent;
    /// [`Error::Load`] if it does not fit this chip (cores, HBM capacity, binding placement).
    pub fn new(chip: &Chip, program: &Program) -> Result<Machine, Error> {
        Machine::with_options(chip, program, &Options::default())
    }

    /// Loads a `.scp` file. Code that does not decode is reported as a fault at its core and
    /// PC (bad opcode, bad operand), like any other program fault.
    pub fn from_scp(chip: &Chip, bytes: &[u8], options: &Options) -> Result<Machine, Error> {
        match Program::decode(bytes) {
            Ok(p) => Machine::with_options(chip, &p, options),
            Err(e) => match crate::decode::code_fault(bytes, &e) {
                Some(fault) => Err(Error::Fault(Box::new(fault))),
                None => Err(Error::Program(e)),
            },
        }
    }

    /// Loads `program` onto `chip`.
    pub fn with_options(
        chip: &Chip,
        program: &Program,
        options: &Options,
    ) -> Result<Machine, Error> {
        program.check_chip(chip)?;
        program.validate()?;
        let core_count = chip.cores.count;
        let mut cores = Vec::new();
        for (&id, code) in &program.code {
            if id >= core_count {
                return Err(load_err(
                    chip,
                    format!(
                        "the program has code for core {id}, but the chip has {core_count} cores"
                    ),
                ));
            }
            let mut pcs = Vec::with_capacity(code.insts.len());
            let mut pc = 0u64;
            for i in &code.insts {
                pcs.push(pc);
                pc += i.size() as u64;
            }
            cores.push(Core {
                id,
                insts: code.insts.clone(),
                pcs,
                next: 0,
                halted: false,
                arrived: false,
                sems: [0; 32],
            });
        }
        let rows = chip
            .cores
            .matrix_units
            .iter()
            .map(|u| u.rows)
            .max()
            .unwrap_or(0);
        let cols = chip
            .cores
            .matrix_units
            .iter()
            .map(|u| u.cols)
            .max()
            .unwrap_or(0);

        // SRAMs are simulated as flat byte arrays; refuse sizes the host cannot hold rather
        // than abort on allocation.
        let sram_total = chip
            .cores
            .local_sram_bytes
            .saturating_mul(program.code.len() as u64)
            .saturating_add(chip.shared_sram.capacity_bytes);
        if sram_total > MAX_SRAM_BYTES {
            return Err(load_err(
                chip,
                format!(
                    "{sram_total} bytes of SRAM to simulate; funcsim holds at most \
                     {MAX_SRAM_BYTES}"
                ),
            ));
        }
        let capacity = chip.memory.capacity_bytes;
        let cache_floats = usize::try_from(options.row_cache_bytes / 4).unwrap_or(usize::MAX);
        let mut hbm = Hbm::new(capacity, cache_floats);
        let fits = |start: u64, len: u64| start.checked_add(len).is_some_and(|e| e <= capacity);
        for seg in &program.data {
            if !fits(seg.hbm, seg.bytes.len() as u64) {
                return Err(load_err(
                    chip,
                    format!(
                        "data `{}` (hbm {:#x}, {} bytes) ends beyond HBM's {capacity} bytes",
                        seg.label,
                        seg.hbm,
                        seg.bytes.len()
                    ),
                ));
            }
            hbm.write(seg.hbm, &seg.bytes);
        }
        let mut tables = Vec::new();
        for t in &program.tables {
            let size = t.size_bytes().unwrap_or(u64::MAX);
            if !fits(t.hbm, size) {
                return Err(load_err(
                    chip,
                    format!(
                        "table `{}` (hbm {:#x}, {size} bytes) ends beyond HBM's {capacity} bytes",
                        t.name, t.hbm
                    ),
                ));
            }
            hbm.add_table(t).map_err(|m| load_err(chip, m))?;
            tables.push((t.hbm, t.name.clone(), t.rows));
        }
        tables.sort();

        let mem = Memory {
            hbm,
            shared: vec![0; usize::try_from(chip.shared_sram.capacity_bytes).unwrap_or(0)],
            locals: (0..core_count)
                .map(|c| {
                    if program.code.contains_key(&c) {
                        vec![0; usize::try_from(chip.cores.local_sram_bytes).unwrap_or(0)]
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
            local_bytes: chip.cores.local_sram_bytes,
        };

        let mut origins = Origins::default();
        for (i, b) in program.bindings.iter().enumerate() {
            let size = b.size_bytes().unwrap_or(u64::MAX);
            let region = region(0, b.addr);
            if mem
                .check("binding", region, b.addr.offset, Some(size), 1)
                .is_err()
            {
                return Err(load_err(
                    chip,
                    format!(
                        "{} binding `{}` ({size} bytes at {}) does not fit in {}",
                        b.direction.name(),
                        b.name,
                        b.addr,
                        region
                    ),
                ));
            }
            if b.direction == Direction::Input && matches!(b.dtype, DType::I32) {
                origins.add_binding(region, b.addr.offset, size, i);
            }
        }

        let pool = match options.threads {
            Some(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| load_err(chip, format!("thread pool: {e}")))?,
            ),
            None => None,
        };

        Ok(Machine {
            chip_name: chip.name.clone(),
            array: (rows, cols),
            cores,
            chip_sems: [0; 16],
            mem,
            binding_names: program.bindings.iter().map(|b| b.name.clone()).collect(),
            bindings: program.bindings.clone(),
            tables,
            initial_origins: origins.clone(),
            origins,
            stats: Stats::default(),
            races: None,
            pool,
            deferred: Default::default(),
            scratch: Vec::new(),
        })
    }

    /// The program's bindings (inputs and outputs).
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    fn binding(&self, direction: Direction, name: &str) -> Result<&Binding, Error> {
        self.bindings
            .iter()
            .find(|b| b.direction == direction && b.name == name)
            .ok_or_else(|| Error::UnknownBinding {
                direction: direction.name(),
                name: name.to_string(),
                available: self
                    .bindings
                    .iter()
                    .filter(|b| b.direction == direction)
                    .map(|b| b.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Writes a model input into its binding: f32 tensors into float bindings (rounded to the
    /// bound dtype as the chip rounds), integer tensors into integer bindings with a range check
    /// (an index that does not fit the bound type is an error naming the element).
    ///
    /// # Errors
    /// [`Error::UnknownBinding`]; [`Error::Input`] for a shape or dtype mismatch or a value out
    /// of the bound type's range.
    pub fn write_input(&mut self, name: &str, tensor: &Tensor) -> Result<(), Error> {
        let b = self.binding(Direction::Input, name)?.clone();
        let input_err = |message: String| Error::Input {
            name: name.to_string(),
            message,
        };
        let want: Vec<usize> = b.shape.iter().map(|&d| d as usize).collect();
        if tensor.shape() != want.as_slice() || b.shape.iter().any(|&d| d > usize::MAX as u64) {
            return Err(input_err(format!(
                "shape {:?} does not match the program's {:?}",
                tensor.shape(),
                b.shape
            )));
        }
        let bytes = match (tensor.data(), codec::is_float(b.dtype)) {
            (TensorData::F32(v), true) => codec::from_f32(b.dtype, v),
            (TensorData::I32(_) | TensorData::I64(_), false) => {
                let vals = tensor.indices().expect("integer tensor");
                let (lo, hi) = codec::int_range(b.dtype);
                if let Some((i, &v)) = vals.iter().enumerate().find(|(_, v)| **v < lo || **v > hi) {
                    return Err(input_err(format!(
                        "element {i} is {v}, outside the bound type {} ({lo}..={hi})",
                        b.dtype
                    )));
                }
                codec::from_i64_saturating(b.dtype, &vals)
            }
            (data, _) => {
                let got = match data {
                    TensorData::F32(_) => "f32",
                    TensorData::I32(_) => "i32",
                    TensorData::I64(_) => "i64",
                };
                return Err(input_err(format!(
                    "a {got} tensor cannot be written to a {} binding ({} bindings take {})",
                    b.dtype,
                    b.dtype,
                    if codec::is_float(b.dtype) {
                        "f32 tensors"
                    } else {
                        "i32 or i64 tensors"
                    }
                )));
            }
        };
        self.mem.write(region(0, b.addr), b.addr.offset, &bytes);
        Ok(())
    }

    /// Reads a model output: float bindings as f32 tensors (exact widening), integer bindings
    /// as i32 tensors.
    pub fn read_output(&self, name: &str) -> Result<Tensor, Error> {
        let b = self.binding(Direction::Output, name)?;
        let size = b.size_bytes().expect("validated at load");
        let mut bytes = vec![0u8; size as usize];
        self.mem.read(region(0, b.addr), b.addr.offset, &mut bytes);
        let shape: Vec<usize> = b.shape.iter().map(|&d| d as usize).collect();
        let t = if codec::is_float(b.dtype) {
            Tensor::from_f32(shape, codec::to_f32(b.dtype, &bytes))
        } else {
            Tensor::from_i32(shape, codec::to_i32(b.dtype, &bytes))
        };
        Ok(t.expect("binding size matches its shape"))
    }

    /// Raw bytes of any memory, as seen by `core` (for tests and debugging).
    pub fn read_bytes(&self, core: u32, addr: Addr, len: u64) -> Result<Vec<u8>, Error> {
        let r = self.host_region(core, addr)?;
        self.mem
            .check("host read", r, addr.offset, Some(len), 1)
            .map_err(|k| Error::Fault(Box::new(Fault::new(None, k))))?;
        let mut out = vec![0u8; len as usize];
        self.mem.read(r, addr.offset, &mut out);
        Ok(out)
    }

    /// Writes raw bytes into any memory, as seen by `core` (for tests and debugging).
    pub fn write_bytes(&mut self, core: u32, addr: Addr, data: &[u8]) -> Result<(), Error> {
        let r = self.host_region(core, addr)?;
        self.mem
            .check("host write", r, addr.offset, Some(data.len() as u64), 1)
            .map_err(|k| Error::Fault(Box::new(Fault::new(None, k))))?;
        self.mem.write(r, addr.offset, data);
        Ok(())
    }

    fn host_region(&self, core: u32, addr: Addr) -> Result<Region, Error> {
        let r = region(core, addr);
        if let Region::Local(c) = r
            && self.mem.locals.get(c as usize).is_none_or(|l| l.is_empty())
        {
            return Err(Error::Load {
                chip: self.chip_name.clone(),
                message: format!("core {c} has no code, so its local SRAM is not simulated"),
            });
        }
        Ok(r)
    }

    /// Runs the program from its first instruction to every core's `ctl.halt` (or the end of
    /// its stream). Memory keeps its contents between runs; semaphores start at 0.
    ///
    /// # Errors
    /// The first [`Fault`].
    pub fn run(&mut self, limits: &Limits) -> Result<Stats, Fault> {
        match self.pool.take() {
            Some(pool) => {
                let r = pool.install(|| self.run_inner(limits));
                self.pool = Some(pool);
                r
            }
            None => self.run_inner(limits),
        }
    }

    fn run_inner(&mut self, limits: &Limits) -> Result<Stats, Fault> {
        for c in &mut self.cores {
            c.next = 0;
            c.halted = false;
            c.arrived = false;
            c.sems = [0; 32];
        }
        self.chip_sems = [0; 16];
        self.stats = Stats::default();
        self.origins = self.initial_origins.clone();
        self.races = limits
            .check_races
            .then(|| Races::new(self.cores.iter().map(|c| c.id)));
        loop {
            let mut active = false;
            let mut progressed = false;
            let mut blocked = false;
            for ci in 0..self.cores.len() {
                if self.cores[ci].halted {
                    continue;
                }
                active = true;
                if self.cores[ci].next >= self.cores[ci].insts.len() {
                    self.cores[ci].halted = true;
                    progressed = true;
                    continue;
                }
                match self.step(ci, limits) {
                    Ok(Step::Done | Step::Arrived) => progressed = true,
                    Ok(Step::Blocked) => blocked = true,
                    Err(f) => {
                        // Memory after a fault is what sequential execution left.
                        self.flush_matmuls();
                        return Err(f);
                    }
                }
            }
            if !active {
                break;
            }
            if blocked {
                self.stats.blocked_rounds += 1;
            }
            if !progressed {
                self.flush_matmuls();
                return Err(self.deadlock());
            }
        }
        self.flush_matmuls();
        Ok(std::mem::take(&mut self.stats))
    }

    pub(crate) fn sem_value(&self, ci: usize, sem: Sem) -> u32 {
        if sem.is_chip() {
            self.chip_sems[sem.index() as usize]
        } else {
            self.cores[ci].sems[sem.index() as usize]
        }
    }

    fn signal(&mut self, ci: usize, sem: Sem) -> Result<(), FaultKind> {
        let core = self.cores[ci].id;
        let slot = if sem.is_chip() {
            &mut self.chip_sems[sem.index() as usize]
        } else {
            &mut self.cores[ci].sems[sem.index() as usize]
        };
        *slot = slot
            .checked_add(1)
            .ok_or(FaultKind::SemaphoreOverflow { sem })?;
        let value = *slot;
        if let Some(r) = &mut self.races {
            r.signal(core, sem, value);
        }
        Ok(())
    }

    fn deadlock(&self) -> Fault {
        let mut blocked = Vec::new();
        for (ci, c) in self.cores.iter().enumerate() {
            if c.halted || c.next >= c.insts.len() {
                continue;
            }
            let i = &c.insts[c.next];
            let (sem, needs) = match (i.wait, i.inst) {
                (Some(w), _) if self.sem_value(ci, w.sem) < w.value && !c.arrived => {
                    (w.sem, w.value)
                }
                (_, Inst::CtlWait { sem, value }) => (sem, value),
                (_, Inst::CtlBarrier { sem, count }) => (sem.sem(), count),
                (Some(w), _) => (w.sem, w.value),
                (None, _) => continue,
            };
            blocked.push(Blocked {
                site: c.site(c.next),
                sem,
                needs,
                has: self.sem_value(ci, sem),
            });
        }
        let site = blocked.first().map(|b| b.site.clone());
        Fault::new(site, FaultKind::Deadlock { blocked })
    }

    fn step(&mut self, ci: usize, limits: &Limits) -> Result<Step, Fault> {
        let index = self.cores[ci].next;
        let instruction = self.cores[ci].insts[index];
        let core = self.cores[ci].id;
        let fault = |m: &Machine, kind: FaultKind| Fault::new(Some(m.cores[ci].site(index)), kind);
        if !self.cores[ci].arrived
            && let Some(w) = instruction.wait
            && self.sem_value(ci, w.sem) < w.value
        {
            return Ok(Step::Blocked);
        }
        match instruction.inst {
            Inst::CtlWait { sem, value } if self.sem_value(ci, sem) < value => {
                return Ok(Step::Blocked);
            }
            Inst::CtlBarrier { sem, count } => {
                if !self.cores[ci].arrived {
                    if self.stats.instructions >= limits.max_steps {
                        return Err(fault(
                            self,
                            FaultKind::StepLimit {
                                limit: limits.max_steps,
                            },
                        ));
                    }
                    if let Some(r) = &mut self.races {
                        r.begin(core, Queue::Ctl, instruction.wait, &[]);
                    }
                    self.signal(ci, sem.sem()).map_err(|k| fault(self, k))?;
                    self.cores[ci].arrived = true;
                    if self.sem_value(ci, sem.sem()) < count {
                        return Ok(Step::Arrived);
                    }
                } else if self.sem_value(ci, sem.sem()) < count {
                    return Ok(Step::Blocked);
                }
            }
            _ => {}
        }
        if self.stats.instructions >= limits.max_steps {
            return Err(fault(
                self,
                FaultKind::StepLimit {
                    limit: limits.max_steps,
                },
            ));
        }
        let queue = instruction.inst.queue();
        if let Some(r) = &mut self.races {
            let extra: Vec<(Sem, u32)> = match instruction.inst {
                Inst::CtlWait { sem, value } => vec![(sem, value)],
                Inst::CtlBarrier { sem, count } => vec![(sem.sem(), count)],
                _ => Vec::new(),
            };
            let was_arrived = self.cores[ci].arrived;
            if was_arrived {
                r.join_waits(core, queue, &extra);
            } else {
                r.begin(core, queue, instruction.wait, &extra);
            }
            r.set_site(self.cores[ci].site(index));
        }
        self.flush_before(core, &instruction.inst);
        self.exec(core, &instruction.inst)
            .map_err(|k| fault(self, k))?;
        if let Some(r) = &self.races
            && let Some(kind) = r.take_fault()
        {
            return Err(fault(self, kind));
        }
        if let Inst::CtlSignal { sem } = instruction.inst {
            self.signal(ci, sem).map_err(|k| fault(self, k))?;
        }
        if let Some(sem) = instruction.signal {
            self.signal(ci, sem).map_err(|k| fault(self, k))?;
        }
        self.stats.count(&instruction.inst);
        let c = &mut self.cores[ci];
        c.arrived = false;
        c.next += 1;
        if matches!(instruction.inst, Inst::CtlHalt {}) {
            c.halted = true;
        }
        Ok(Step::Done)
    }
}

enum Step {
    Done,
    /// A barrier's increment happened; it now waits.
    Arrived,
    Blocked,
}
