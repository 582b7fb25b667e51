//! The program container (`.scp`): everything a simulator needs to run a compiled model on one
//! chip, in one self-checking file.
//!
//! ```text
//! header    "SCP1" | u16 container version | u16 ISA version | u32 flags (0)
//! sections  tag[4] | u64 payload length | payload       (in this order, each exactly once
//!           TRGT, CODE × cores (ascending), DATA, TABL, BIND, SYMS   except CODE)
//! trailer   u64 FNV-1a 64 of every byte before it
//! ```
//!
//! Payloads (little-endian; `str` = u32 length + UTF-8):
//!
//! ```text
//! TRGT  str chip | u64 fingerprint | str precision | u32 batch
//! CODE  u32 core | instructions back to back (the PC is the offset from here)
//! DATA  u32 n | n × (str label | u64 hbm | u64 len | len bytes)
//! TABL  u32 n | n × (str name | u64 hbm | u64 rows | u32 dim | u8 dtype | u8 source |
//!                    source 0: u64 len | len bytes
//!                    source 1: u64 seed | str param | u8 dist (0 uniform) | f32 bound)
//! BIND  u32 n | n × (u8 direction (0 in, 1 out) | str name | u8 dtype | u32 rank |
//!                    rank × u64 | u8 space | u64 address)
//! SYMS  u32 n | n × (u32 core | u32 index | str node), strictly increasing (core, index)
//! ```
//!
//! The layout is canonical (fixed section order, zero flags and padding, sorted symbols), so a
//! file that decodes re-encodes to the same bytes. Sections are framed with tag and length
//! even though their order is fixed, so a truncated or foreign file is named as such before any
//! content is interpreted, and the checksum is checked before contents are decoded.

use std::collections::{BTreeMap, BTreeSet};

use seedchip_chip::Precision;

use crate::code::{decode_stream_at, encode_stream};
use crate::hash::fnv1a64;
use crate::text::Code;
use crate::{Addr, DType, Error, F32Imm, Space};

pub const MAGIC: [u8; 4] = *b"SCP1";
/// Layout version of the container itself.
pub const CONTAINER_VERSION: u16 = 1;
/// Version of the instruction set the code sections use (docs/isa.md title).
pub const ISA_VERSION: u16 = 1;

const HEADER_BYTES: usize = 12;
const FRAME_BYTES: usize = 12;
const CHECKSUM_BYTES: usize = 8;

/// A compiled program for one chip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub target: Target,
    /// Core index → that core's stream. A core without an entry is idle.
    pub code: BTreeMap<u32, Code>,
    /// Bytes preloaded into HBM before the program starts (dense weights, quantization
    /// parameters, constants).
    pub data: Vec<DataSegment>,
    /// Embedding tables in HBM.
    pub tables: Vec<Table>,
    /// Where the host puts model inputs and finds outputs.
    pub bindings: Vec<Binding>,
}

/// What the program was compiled for; loading checks the chip fingerprint against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub chip: String,
    /// [`chip_fingerprint`](crate::chip_fingerprint) of the resolved chip.
    pub fingerprint: u64,
    pub precision: Precision,
    pub batch: u32,
}

/// A block of initialized HBM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSegment {
    /// What it holds (listings, diagnostics): usually the IR parameter name.
    pub label: String,
    pub hbm: u64,
    pub bytes: Vec<u8>,
}

/// An embedding table: `rows` rows of `dim` elements in `dtype`'s row layout, starting at
/// `hbm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub hbm: u64,
    pub rows: u64,
    pub dim: u32,
    /// `f32`, `f16`, `bf16` or `emb8`.
    pub dtype: DType,
    pub source: TableSource,
}

impl Table {
    /// Bytes per row (`dim + 8` for `emb8`).
    pub fn row_bytes(&self) -> Option<u64> {
        self.dtype.row_bytes(u64::from(self.dim))
    }

    /// Bytes of the whole table.
    pub fn size_bytes(&self) -> Option<u64> {
        self.row_bytes()?.checked_mul(self.rows)
    }
}

/// Where a table's rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableSource {
    /// The rows, stored (small tables, or real trained weights).
    Bytes(Vec<u8>),
    /// Rows computed on demand, so a 100 GB table costs nothing to ship: element `j` of row `r`
    /// is value `r·dim + j` of the IR's procedural contract (`ir::init`) for `(seed, param,
    /// dist)`, and each row is converted to `dtype` by the numerics row format (`emb8` =
    /// int8-rowwise, f16/bf16 round to nearest even).
    Procedural {
        seed: u64,
        param: String,
        dist: Distribution,
    },
}

/// Distribution of a procedural table (mirrors `ir::init::Distribution`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distribution {
    /// Uniform on `[-bound, bound)`.
    Uniform { bound: F32Imm },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Input,
    Output,
}

impl Direction {
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Input => "input",
            Direction::Output => "output",
        }
    }
}

/// A model input or output: the host writes inputs there before the run and reads outputs
/// after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub direction: Direction,
    pub name: String,
    pub dtype: DType,
    /// Row-major, in elements.
    pub shape: Vec<u64>,
    /// In `hbm` or `shared` (the host cannot reach a core's local SRAM).
    pub addr: Addr,
}

impl Binding {
    pub fn size_bytes(&self) -> Option<u64> {
        let elems = self
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))?;
        elems.checked_mul(self.dtype.size_bytes()?)
    }
}

fn invalid(message: String) -> Error {
    Error::Invalid { message }
}

impl Program {
    /// A program with no code, data, tables or bindings.
    pub fn new(target: Target) -> Program {
        Program {
            target,
            code: BTreeMap::new(),
            data: Vec::new(),
            tables: Vec::new(),
            bindings: Vec::new(),
        }
    }

    /// Checks everything the encoding cannot express by construction: dtypes allowed per
    /// instruction, symbols pointing at instructions, table and binding shapes, and that no two
    /// HBM contents overlap. Encoding, decoding and assembling all run it, so every program
    /// that exists as a file satisfies it.
    pub fn validate(&self) -> Result<(), Error> {
        for (&core, code) in &self.code {
            for (index, i) in code.insts.iter().enumerate() {
                i.inst.validate().map_err(|e| Error::InCode {
                    core,
                    source: Box::new(Error::AtInstruction {
                        index,
                        source: Box::new(e),
                    }),
                })?;
            }
            if let Some((&index, _)) = code.symbols.range(code.insts.len() as u32..).next() {
                return Err(invalid(format!(
                    "core {core}: symbol for instruction {index}, but the stream has {}",
                    code.insts.len()
                )));
            }
        }

        // (start, end, what) of everything initialized in HBM.
        let mut extents: Vec<(u64, u64, String)> = Vec::new();
        for seg in &self.data {
            let end = seg
                .hbm
                .checked_add(seg.bytes.len() as u64)
                .ok_or_else(|| invalid(format!("data `{}`: ends beyond 2^64", seg.label)))?;
            extents.push((seg.hbm, end, format!("data `{}`", seg.label)));
        }
        let mut names = BTreeSet::new();
        for t in &self.tables {
            if !names.insert(t.name.as_str()) {
                return Err(invalid(format!("two tables named `{}`", t.name)));
            }
            if !matches!(t.dtype, DType::F32 | DType::F16 | DType::Bf16 | DType::Emb8) {
                return Err(invalid(format!(
                    "table `{}`: dtype {} (valid: f32, f16, bf16, emb8)",
                    t.name, t.dtype
                )));
            }
            if t.dim == 0 {
                return Err(invalid(format!("table `{}`: dim is 0", t.name)));
            }
            let size = t
                .size_bytes()
                .ok_or_else(|| invalid(format!("table `{}`: size overflows 64 bits", t.name)))?;
            match &t.source {
                TableSource::Bytes(b) if b.len() as u64 != size => {
                    return Err(invalid(format!(
                        "table `{}`: {} bytes stored, {} rows × {} bytes expected",
                        t.name,
                        b.len(),
                        t.rows,
                        t.row_bytes().unwrap_or(0)
                    )));
                }
                TableSource::Procedural {
                    dist: Distribution::Uniform { bound },
                    ..
                } if !(bound.get().is_finite() && bound.get() >= 0.0) => {
                    return Err(invalid(format!(
                        "table `{}`: uniform bound {bound} must be finite and ≥ 0",
                        t.name
                    )));
                }
                _ => {}
            }
            let end = t
                .hbm
                .checked_add(size)
                .ok_or_else(|| invalid(format!("table `{}`: ends beyond 2^64", t.name)))?;
            extents.push((t.hbm, end, format!("table `{}`", t.name)));
        }
        extents.retain(|e| e.0 < e.1);
        extents.sort();
        for w in extents.windows(2) {
            if w[1].0 < w[0].1 {
                return Err(invalid(format!(
                    "{} (hbm {:#x}..{:#x}) overlaps {} (hbm {:#x}..{:#x})",
                    w[0].2, w[0].0, w[0].1, w[1].2, w[1].0, w[1].1
                )));
            }
        }

        let mut bound = BTreeSet::new();
        for b in &self.bindings {
            if !bound.insert((b.direction, b.name.as_str())) {
                return Err(invalid(format!(
                    "two {} bindings named `{}`",
                    b.direction.name(),
                    b.name
                )));
            }
            if b.addr.space == Space::Local {
                return Err(invalid(format!(
                    "binding `{}` is in local SRAM, which the host cannot reach (use hbm or \
                     shared)",
                    b.name
                )));
            }
            let size = b.size_bytes().ok_or_else(|| {
                invalid(format!(
                    "binding `{}`: dtype {} has no element size or the size overflows",
                    b.name, b.dtype
                ))
            })?;
            if b.addr.offset.checked_add(size).is_none() {
                return Err(invalid(format!("binding `{}`: ends beyond 2^64", b.name)));
            }
        }
        Ok(())
    }

    /// Refuses to run a program on a chip it was not compiled for.
    pub fn check_chip(&self, chip: &seedchip_chip::Chip) -> Result<(), Error> {
        let found = crate::chip_fingerprint(chip);
        if found != self.target.fingerprint {
            return Err(Error::ChipMismatch {
                program_chip: self.target.chip.clone(),
                expected: self.target.fingerprint,
                chip: chip.name.clone(),
                found,
            });
        }
        Ok(())
    }

    /// The `.scp` bytes.
    ///
    /// # Errors
    /// [`Program::validate`]'s errors; a string or section longer than its length field.
    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        self.validate()?;
        let mut w = Vec::new();
        w.extend_from_slice(&MAGIC);
        w.extend_from_slice(&CONTAINER_VERSION.to_le_bytes());
        w.extend_from_slice(&ISA_VERSION.to_le_bytes());
        w.extend_from_slice(&0u32.to_le_bytes());

        section(&mut w, b"TRGT", |w| {
            put_str(w, &self.target.chip)?;
            w.extend_from_slice(&self.target.fingerprint.to_le_bytes());
            put_str(w, self.target.precision.name())?;
            w.extend_from_slice(&self.target.batch.to_le_bytes());
            Ok(())
        })?;
        for (&core, code) in &self.code {
            section(&mut w, b"CODE", |w| {
                w.extend_from_slice(&core.to_le_bytes());
                let bytes = encode_stream(&code.insts).map_err(|e| Error::InCode {
                    core,
                    source: Box::new(e),
                })?;
                w.extend_from_slice(&bytes);
                Ok(())
            })?;
        }
        section(&mut w, b"DATA", |w| {
            put_count(w, self.data.len(), "data segments")?;
            for seg in &self.data {
                put_str(w, &seg.label)?;
                w.extend_from_slice(&seg.hbm.to_le_bytes());
                w.extend_from_slice(&(seg.bytes.len() as u64).to_le_bytes());
                w.extend_from_slice(&seg.bytes);
            }
            Ok(())
        })?;
        section(&mut w, b"TABL", |w| {
            put_count(w, self.tables.len(), "tables")?;
            for t in &self.tables {
                put_str(w, &t.name)?;
                w.extend_from_slice(&t.hbm.to_le_bytes());
                w.extend_from_slice(&t.rows.to_le_bytes());
                w.extend_from_slice(&t.dim.to_le_bytes());
                w.push(t.dtype.code());
                match &t.source {
                    TableSource::Bytes(b) => {
                        w.push(0);
                        w.extend_from_slice(&(b.len() as u64).to_le_bytes());
                        w.extend_from_slice(b);
                    }
                    TableSource::Procedural { seed, param, dist } => {
                        w.push(1);
                        w.extend_from_slice(&seed.to_le_bytes());
                        put_str(w, param)?;
                        let Distribution::Uniform { bound } = dist;
                        w.push(0);
                        w.extend_from_slice(&bound.bits().to_le_bytes());
                    }
                }
            }
            Ok(())
        })?;
        section(&mut w, b"BIND", |w| {
            put_count(w, self.bindings.len(), "bindings")?;
            for b in &self.bindings {
                w.push(match b.direction {
                    Direction::Input => 0,
                    Direction::Output => 1,
                });
                put_str(w, &b.name)?;
                w.push(b.dtype.code());
                put_count(w, b.shape.len(), "dimensions")?;
                for d in &b.shape {
                    w.extend_from_slice(&d.to_le_bytes());
                }
                w.push(b.addr.space.code());
                w.extend_from_slice(&b.addr.offset.to_le_bytes());
            }
            Ok(())
        })?;
        section(&mut w, b"SYMS", |w| {
            let n: usize = self.code.values().map(|c| c.symbols.len()).sum();
            put_count(w, n, "symbols")?;
            for (&core, code) in &self.code {
                for (&index, node) in &code.symbols {
                    w.extend_from_slice(&core.to_le_bytes());
                    w.extend_from_slice(&index.to_le_bytes());
                    put_str(w, node)?;
                }
            }
            Ok(())
        })?;
        let sum = fnv1a64(&w);
        w.extend_from_slice(&sum.to_le_bytes());
        Ok(w)
    }

    /// Reads a `.scp` file. Total: any byte string gives a program or an error naming what is
    /// wrong and at which byte, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Program, Error> {
        if bytes.len() < HEADER_BYTES {
            if bytes.len() >= 4 && bytes[..4] != MAGIC {
                return Err(bad_magic(bytes));
            }
            return Err(Error::Truncated {
                offset: 0,
                what: "program header".into(),
                needed: HEADER_BYTES,
                available: bytes.len(),
            });
        }
        if bytes[..4] != MAGIC {
            return Err(bad_magic(bytes));
        }
        let container = u16::from_le_bytes([bytes[4], bytes[5]]);
        if container != CONTAINER_VERSION {
            return Err(Error::Version {
                what: "container",
                found: container,
                supported: CONTAINER_VERSION,
            });
        }
        let isa = u16::from_le_bytes([bytes[6], bytes[7]]);
        if isa != ISA_VERSION {
            return Err(Error::Version {
                what: "ISA",
                found: isa,
                supported: ISA_VERSION,
            });
        }
        let flags = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if flags != 0 {
            return Err(Error::Container {
                offset: 8,
                message: format!("unknown flags {flags:#x} (version 1 defines none)"),
            });
        }

        // Framing first: a truncated file is reported as truncated, not as a bad checksum.
        let frames = frames(bytes)?;
        let body_end = bytes.len() - CHECKSUM_BYTES;
        let mut sum = [0u8; 8];
        sum.copy_from_slice(&bytes[body_end..]);
        let stored = u64::from_le_bytes(sum);
        let computed = fnv1a64(&bytes[..body_end]);
        if stored != computed {
            return Err(Error::Checksum { stored, computed });
        }

        let mut frames = frames.into_iter().peekable();
        let mut c = next(&mut frames, b"TRGT")?;
        let chip = c.str("chip name")?;
        let fingerprint = c.u64("fingerprint")?;
        let precision_at = c.offset();
        let precision_name = c.str("precision")?;
        let precision = Precision::parse(&precision_name).ok_or_else(|| Error::Container {
            offset: precision_at,
            message: format!("section TRGT: unknown precision `{precision_name}`"),
        })?;
        let batch = c.u32("batch")?;
        c.finish()?;
        let target = Target {
            chip,
            fingerprint,
            precision,
            batch,
        };

        let mut code = BTreeMap::new();
        let mut last_core = None;
        while let Some(f) = frames.peek() {
            if &f.tag != b"CODE" {
                break;
            }
            let Some(f) = frames.next() else { break };
            let mut c = f.cur;
            let core_at = c.offset();
            let core = c.u32("core")?;
            if last_core.is_some_and(|l| core <= l) {
                return Err(Error::Container {
                    offset: core_at,
                    message: format!(
                        "section CODE: core {core} after core {} (cores must ascend, each once)",
                        last_core.unwrap_or(0)
                    ),
                });
            }
            last_core = Some(core);
            let (rest, at) = c.rest();
            let insts = decode_stream_at(rest, at).map_err(|e| Error::InCode {
                core,
                source: Box::new(e),
            })?;
            code.insert(
                core,
                Code {
                    insts,
                    symbols: BTreeMap::new(),
                },
            );
        }

        let mut c = next(&mut frames, b"DATA")?;
        let n = c.u32("data segment count")?;
        let mut data = Vec::new();
        for _ in 0..n {
            let label = c.str("data label")?;
            let hbm = c.u64("data address")?;
            let len = c.u64("data length")?;
            let bytes = c.bytes(len, "data bytes")?.to_vec();
            data.push(DataSegment { label, hbm, bytes });
        }
        c.finish()?;

        let mut c = next(&mut frames, b"TABL")?;
        let n = c.u32("table count")?;
        let mut tables = Vec::new();
        for _ in 0..n {
            let name = c.str("table name")?;
            let hbm = c.u64("table address")?;
            let rows = c.u64("table rows")?;
            let dim = c.u32("table dim")?;
            let dtype = c.dtype("table dtype")?;
            let source_at = c.offset();
            let source = match c.u8("table source")? {
                0 => {
                    let len = c.u64("table length")?;
                    TableSource::Bytes(c.bytes(len, "table bytes")?.to_vec())
                }
                1 => {
                    let seed = c.u64("table seed")?;
                    let param = c.str("table parameter")?;
                    let dist_at = c.offset();
                    let dist = match c.u8("table distribution")? {
                        0 => Distribution::Uniform {
                            bound: F32Imm::from_bits(c.u32("uniform bound")?),
                        },
                        d => {
                            return Err(Error::Container {
                                offset: dist_at,
                                message: format!(
                                    "table `{name}`: unknown distribution code {d} (0 uniform)"
                                ),
                            });
                        }
                    };
                    TableSource::Procedural { seed, param, dist }
                }
                s => {
                    return Err(Error::Container {
                        offset: source_at,
                        message: format!(
                            "table `{name}`: unknown source code {s} (0 bytes, 1 procedural)"
                        ),
                    });
                }
            };
            tables.push(Table {
                name,
                hbm,
                rows,
                dim,
                dtype,
                source,
            });
        }
        c.finish()?;

        let mut c = next(&mut frames, b"BIND")?;
        let n = c.u32("binding count")?;
        let mut bindings = Vec::new();
        for _ in 0..n {
            let dir_at = c.offset();
            let direction = match c.u8("binding direction")? {
                0 => Direction::Input,
                1 => Direction::Output,
                d => {
                    return Err(Error::Container {
                        offset: dir_at,
                        message: format!(
                            "section BIND: unknown direction code {d} (0 input, 1 output)"
                        ),
                    });
                }
            };
            let name = c.str("binding name")?;
            let dtype = c.dtype("binding dtype")?;
            let rank = c.u32("binding rank")?;
            let mut shape = Vec::new();
            for _ in 0..rank {
                shape.push(c.u64("binding dimension")?);
            }
            let space_at = c.offset();
            let space =
                Space::from_code(c.u8("binding space")?).ok_or_else(|| Error::Container {
                    offset: space_at,
                    message: format!("binding `{name}`: unknown space code"),
                })?;
            let offset = c.u64("binding address")?;
            bindings.push(Binding {
                direction,
                name,
                dtype,
                shape,
                addr: Addr::new(space, offset),
            });
        }
        c.finish()?;

        let mut c = next(&mut frames, b"SYMS")?;
        let n = c.u32("symbol count")?;
        let mut last: Option<(u32, u32)> = None;
        for _ in 0..n {
            let at = c.offset();
            let core = c.u32("symbol core")?;
            let index = c.u32("symbol index")?;
            let node = c.str("symbol node")?;
            if last.is_some_and(|l| (core, index) <= l) {
                return Err(Error::Container {
                    offset: at,
                    message: format!(
                        "section SYMS: symbol (core {core}, instruction {index}) out of order"
                    ),
                });
            }
            last = Some((core, index));
            let Some(stream) = code.get_mut(&core) else {
                return Err(Error::Container {
                    offset: at,
                    message: format!("section SYMS: symbol for core {core}, which has no code"),
                });
            };
            stream.symbols.insert(index, node);
        }
        c.finish()?;

        let program = Program {
            target,
            code,
            data,
            tables,
            bindings,
        };
        program.validate()?;
        Ok(program)
    }
}

fn bad_magic(bytes: &[u8]) -> Error {
    let mut found = [0u8; 4];
    found.copy_from_slice(&bytes[..4]);
    Error::BadMagic { found }
}

fn tag_name(tag: &[u8; 4]) -> String {
    tag.iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

/// Writes a framed section, patching in the payload length afterwards.
fn section(
    w: &mut Vec<u8>,
    tag: &[u8; 4],
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), Error>,
) -> Result<(), Error> {
    w.extend_from_slice(tag);
    let len_at = w.len();
    w.extend_from_slice(&0u64.to_le_bytes());
    body(w)?;
    let len = (w.len() - len_at - 8) as u64;
    w[len_at..len_at + 8].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn put_count(w: &mut Vec<u8>, n: usize, what: &str) -> Result<(), Error> {
    let n = u32::try_from(n)
        .map_err(|_| invalid(format!("{n} {what}: more than a u32 count can hold")))?;
    w.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

fn put_str(w: &mut Vec<u8>, s: &str) -> Result<(), Error> {
    let n = u32::try_from(s.len()).map_err(|_| {
        invalid(format!(
            "a {}-byte string is too long for the container",
            s.len()
        ))
    })?;
    w.extend_from_slice(&n.to_le_bytes());
    w.extend_from_slice(s.as_bytes());
    Ok(())
}

struct Frame<'a> {
    tag: [u8; 4],
    cur: Cur<'a>,
}

/// Splits the body into sections, checking tags, order and lengths, and that exactly the
/// checksum follows the last one.
fn frames(bytes: &[u8]) -> Result<Vec<Frame<'_>>, Error> {
    const ORDER: [&[u8; 4]; 5] = [b"TRGT", b"DATA", b"TABL", b"BIND", b"SYMS"];
    let mut out = Vec::new();
    let mut pos = HEADER_BYTES;
    let mut expect = 0usize; // index into ORDER of the next required section
    loop {
        let left = bytes.len() - pos;
        if expect == ORDER.len() {
            return match left.cmp(&CHECKSUM_BYTES) {
                std::cmp::Ordering::Equal => Ok(out),
                std::cmp::Ordering::Less => Err(Error::Truncated {
                    offset: pos,
                    what: "checksum".into(),
                    needed: CHECKSUM_BYTES,
                    available: left,
                }),
                std::cmp::Ordering::Greater => Err(Error::Container {
                    offset: pos,
                    message: format!(
                        "{} bytes after section SYMS where only the 8-byte checksum belongs",
                        left
                    ),
                }),
            };
        }
        let wanted = ORDER[expect];
        if left < FRAME_BYTES {
            return Err(Error::Truncated {
                offset: pos,
                what: format!("section {} header", tag_name(wanted)),
                needed: FRAME_BYTES,
                available: left,
            });
        }
        let mut tag = [0u8; 4];
        tag.copy_from_slice(&bytes[pos..pos + 4]);
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[pos + 4..pos + 12]);
        let len = u64::from_le_bytes(len);
        let ok = &tag == wanted || (&tag == b"CODE" && expect == 1);
        if !ok {
            let allowed = if expect == 1 {
                format!("CODE or {}", tag_name(wanted))
            } else {
                tag_name(wanted)
            };
            return Err(Error::Container {
                offset: pos,
                message: format!("expected section {allowed}, found `{}`", tag_name(&tag)),
            });
        }
        let start = pos + FRAME_BYTES;
        let available = bytes.len() - start;
        if len > available as u64 {
            return Err(Error::Truncated {
                offset: start,
                what: format!("section {}", tag_name(&tag)),
                needed: usize::try_from(len).unwrap_or(usize::MAX),
                available,
            });
        }
        let end = start + len as usize;
        if &tag != b"CODE" {
            expect += 1;
        }
        out.push(Frame {
            tag,
            cur: Cur {
                bytes: &bytes[start..end],
                pos: 0,
                base: start,
                section: tag,
            },
        });
        pos = end;
    }
}

/// Cursor over one section's payload; errors carry absolute file offsets.
struct Cur<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
    section: [u8; 4],
}

impl<'a> Cur<'a> {
    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn bytes(&mut self, len: u64, what: &str) -> Result<&'a [u8], Error> {
        let available = self.bytes.len() - self.pos;
        if len > available as u64 {
            return Err(Error::Truncated {
                offset: self.offset(),
                what: format!("section {}: {what}", tag_name(&self.section)),
                needed: usize::try_from(len).unwrap_or(usize::MAX),
                available,
            });
        }
        let s = &self.bytes[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Error> {
        let s = self.bytes(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self, what: &str) -> Result<u8, Error> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn str(&mut self, what: &str) -> Result<String, Error> {
        let len = self.u32(what)?;
        let at = self.offset();
        let s = self.bytes(u64::from(len), what)?;
        String::from_utf8(s.to_vec()).map_err(|e| Error::Container {
            offset: at + e.utf8_error().valid_up_to(),
            message: format!("section {}: {what} is not UTF-8", tag_name(&self.section)),
        })
    }

    fn dtype(&mut self, what: &str) -> Result<DType, Error> {
        let at = self.offset();
        let code = self.u8(what)?;
        DType::from_code(code).ok_or_else(|| Error::Container {
            offset: at,
            message: format!(
                "section {}: {what}: unknown dtype code {code}",
                tag_name(&self.section)
            ),
        })
    }

    /// The unread remainder and its absolute offset.
    fn rest(&mut self) -> (&'a [u8], usize) {
        let at = self.offset();
        let r = &self.bytes[self.pos..];
        self.pos = self.bytes.len();
        (r, at)
    }

    fn finish(&self) -> Result<(), Error> {
        if self.pos != self.bytes.len() {
            return Err(Error::Container {
                offset: self.offset(),
                message: format!(
                    "section {}: {} unexpected bytes at its end",
                    tag_name(&self.section),
                    self.bytes.len() - self.pos
                ),
            });
        }
        Ok(())
    }
}

/// The next frame, which must have `tag`; [`frames`] already checked the order, so this only
/// fails if the two disagree.
fn next<'a>(
    frames: &mut std::iter::Peekable<std::vec::IntoIter<Frame<'a>>>,
    tag: &'static [u8; 4],
) -> Result<Cur<'a>, Error> {
    match frames.next() {
        Some(f) if &f.tag == tag => Ok(f.cur),
        _ => Err(Error::Container {
            offset: HEADER_BYTES,
            message: format!("missing section {}", tag_name(tag)),
        }),
    }
}
