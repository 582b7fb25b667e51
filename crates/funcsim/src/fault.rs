//! Program faults: what went wrong, where, and with which value.
//!
//! A fault is the simulator's answer to a broken program (docs/isa.md "Faults"), so it carries
//! everything needed to find the bug without re-running: the core, the program counter (byte
//! offset in that core's code section), the disassembled instruction and the offending address
//! or value. Funcsim never panics on a program; every check a program can fail ends here.

use std::fmt;

use seedchip_isa::Sem;

/// A memory a program can address: HBM, the shared SRAM, or one core's local SRAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    Hbm,
    Shared,
    /// The local SRAM of this core.
    Local(u32),
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Region::Hbm => f.write_str("hbm"),
            Region::Shared => f.write_str("shared"),
            Region::Local(c) => write!(f, "local (core {c})"),
        }
    }
}

/// The instruction a fault happened at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub core: u32,
    /// Byte offset of the instruction in the core's code section.
    pub pc: u64,
    /// Position of the instruction in the core's stream.
    pub index: usize,
    /// The instruction as assembly text (header clauses included), or the raw bytes when it
    /// could not be decoded.
    pub inst: String,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "core {} pc {:#x} (instruction {}): {}",
            self.core, self.pc, self.index, self.inst
        )
    }
}

/// Where an index that a gather read came from, when it was copied out of an input binding
/// (tracked through DMA copies), so a bad id in user data is reported as such.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexOrigin {
    /// The input binding's name.
    pub input: String,
    /// Flat element index within that input.
    pub element: u64,
}

/// A core that could not proceed when the machine deadlocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub site: Site,
    pub sem: Sem,
    /// The value the instruction waits for (`sem ≥ value`).
    pub needs: u32,
    /// The semaphore's value when no core could move.
    pub has: u32,
}

/// What went wrong. Field names say which operand and value; see docs/isa.md "Faults".
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// An access beyond the end of its space (or an address computation beyond 2^64).
    OutOfBounds {
        operand: &'static str,
        region: Region,
        addr: u64,
        len: u64,
        size: u64,
    },
    /// An `f32`/`i32` operand not 4-byte aligned.
    Misaligned {
        operand: &'static str,
        region: Region,
        addr: u64,
        align: u64,
    },
    /// A tile larger than the SRAM it is placed in.
    SramOverflow {
        operand: &'static str,
        region: Region,
        bytes: u64,
        capacity: u64,
    },
    /// `dma.copy` whose source and destination bytes overlap.
    DmaOverlap { region: Region, src: u64, dst: u64 },
    /// An opcode no instruction has (from the decoder).
    BadOpcode { opcode: u8 },
    /// An operand value the instruction cannot execute: undecodable fields, a matmul larger than
    /// the array, an invalid requantization multiplier, an unsorted cache map.
    BadOperand { operand: String, message: String },
    /// A gather id outside `0..rows`.
    IndexOutOfRange {
        table: String,
        bag: u64,
        /// Position within the bag.
        position: u64,
        id: i64,
        rows: u64,
        origin: Option<Box<IndexOrigin>>,
    },
    /// Gather offsets that are negative or decrease.
    BadOffsets {
        bag: u64,
        offset: i64,
        previous: i64,
    },
    /// An int8 matmul partial sum left int32 (exact accumulation or a fault, never a wrap).
    AccumulatorOverflow {
        row: u64,
        col: u64,
        k: u64,
        value: i64,
    },
    /// Integer vector arithmetic left its type's range.
    IntegerOverflow {
        op: &'static str,
        row: u64,
        col: u64,
        value: i64,
    },
    /// A semaphore counter would pass 2^32 - 1.
    SemaphoreOverflow { sem: Sem },
    /// No core can proceed: every unfinished core waits on a semaphore nobody will signal.
    Deadlock { blocked: Vec<Blocked> },
    /// The bound on executed instructions was reached.
    StepLimit { limit: u64 },
    /// `--check-races`: two accesses to the same bytes, at least one a write, not ordered by
    /// a chain of signal→wait edges.
    Race {
        region: Region,
        addr: u64,
        /// The earlier, unordered access.
        first: Box<Site>,
        first_writes: bool,
        second_writes: bool,
    },
}

impl FaultKind {
    /// Short name of the fault class, as docs/isa.md lists them.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::OutOfBounds { .. } => "out of bounds",
            FaultKind::Misaligned { .. } => "misaligned",
            FaultKind::SramOverflow { .. } => "sram overflow",
            FaultKind::DmaOverlap { .. } => "dma overlap",
            FaultKind::BadOpcode { .. } => "bad opcode",
            FaultKind::BadOperand { .. } => "bad operand",
            FaultKind::IndexOutOfRange { .. } => "index out of range",
            FaultKind::BadOffsets { .. } => "bad offsets",
            FaultKind::AccumulatorOverflow { .. } => "accumulator overflow",
            FaultKind::IntegerOverflow { .. } => "integer overflow",
            FaultKind::SemaphoreOverflow { .. } => "semaphore overflow",
            FaultKind::Deadlock { .. } => "deadlock",
            FaultKind::StepLimit { .. } => "step limit",
            FaultKind::Race { .. } => "race",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.name())?;
        match self {
            FaultKind::OutOfBounds {
                operand,
                region,
                addr,
                len,
                size,
            } => write!(
                f,
                "operand `{operand}` accesses {region} {addr:#x}..+{len:#x}, beyond the \
                 space's {size:#x} bytes"
            ),
            FaultKind::Misaligned {
                operand,
                region,
                addr,
                align,
            } => write!(
                f,
                "operand `{operand}` at {region} {addr:#x} is not {align}-byte aligned"
            ),
            FaultKind::SramOverflow {
                operand,
                region,
                bytes,
                capacity,
            } => write!(
                f,
                "operand `{operand}` spans {bytes} bytes, more than {region}'s {capacity}"
            ),
            FaultKind::DmaOverlap { region, src, dst } => write!(
                f,
                "source {src:#x} and destination {dst:#x} overlap in {region}"
            ),
            FaultKind::BadOpcode { opcode } => {
                write!(f, "opcode {opcode:#04x} is not an instruction")
            }
            FaultKind::BadOperand { operand, message } => {
                write!(f, "operand `{operand}`: {message}")
            }
            FaultKind::IndexOutOfRange {
                table,
                bag,
                position,
                id,
                rows,
                origin,
            } => {
                write!(
                    f,
                    "id {id} (bag {bag}, position {position}) is outside table `{table}` \
                     (rows 0..{rows})"
                )?;
                if let Some(o) = origin {
                    write!(
                        f,
                        "; it comes from input `{}` element {}",
                        o.input, o.element
                    )?;
                }
                Ok(())
            }
            FaultKind::BadOffsets {
                bag,
                offset,
                previous,
            } => write!(
                f,
                "offsets[{bag}] = {offset} after {previous} (offsets must be non-negative and \
                 non-decreasing)"
            ),
            FaultKind::AccumulatorOverflow { row, col, k, value } => write!(
                f,
                "acc[{row}, {col}] reaches {value} after k = {k}, outside int32"
            ),
            FaultKind::IntegerOverflow {
                op,
                row,
                col,
                value,
            } => write!(
                f,
                "{op} at [{row}, {col}] gives {value}, outside the destination type"
            ),
            FaultKind::SemaphoreOverflow { sem } => {
                write!(f, "semaphore {sem} would pass 2^32 - 1")
            }
            FaultKind::Deadlock { blocked } => {
                write!(f, "no core can proceed")?;
                for b in blocked {
                    write!(
                        f,
                        "\n  {} waits for {} >= {} (it is {})",
                        b.site, b.sem, b.needs, b.has
                    )?;
                }
                Ok(())
            }
            FaultKind::StepLimit { limit } => {
                write!(f, "{limit} instructions executed without finishing")
            }
            FaultKind::Race {
                region,
                addr,
                first,
                first_writes,
                second_writes,
            } => {
                let verb = |w: bool| if w { "writes" } else { "reads" };
                write!(
                    f,
                    "this instruction {} {region} {addr:#x}, which {first} {} without a \
                     signal→wait chain ordering the two",
                    verb(*second_writes),
                    verb(*first_writes)
                )
            }
        }
    }
}

/// A fault: the kind, and the instruction it happened at (`None` only for faults that belong
/// to no single instruction).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub site: Option<Site>,
    pub kind: FaultKind,
}

impl Fault {
    pub fn new(site: Option<Site>, kind: FaultKind) -> Fault {
        Fault { site, kind }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.site {
            Some(s) => write!(f, "fault at {s}\n  {}", self.kind),
            None => write!(f, "fault: {}", self.kind),
        }
    }
}

impl std::error::Error for Fault {}
