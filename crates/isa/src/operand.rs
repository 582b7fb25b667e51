//! Operand types and their three representations: binary (encoding), text (assembly) and kind
//! name (listings). Each operand type implements [`Operand`] once, so the instruction table only
//! names a Rust type per field and every generated function follows from it.

use std::fmt;

/// An element type as the encoding names it (docs/isa.md "Data types").
///
/// The ISA keeps its own code list rather than reusing `numerics::DType`: the 4-bit codes are a
/// file-format commitment, and `emb8` (a whole embedding row with its scale and bias) is a
/// storage layout the gather unit reads, not an arithmetic type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F32 = 0,
    Bf16 = 1,
    F16 = 2,
    E4m3 = 3,
    E5m2 = 4,
    I8 = 5,
    U8 = 6,
    I32 = 7,
    /// `dim` × u8 codes, then f32 scale and f32 bias (FBGEMM's fused 8-bit row-wise layout).
    Emb8 = 8,
}

impl DType {
    /// Every dtype in code order.
    pub const ALL: [DType; 9] = [
        DType::F32,
        DType::Bf16,
        DType::F16,
        DType::E4m3,
        DType::E5m2,
        DType::I8,
        DType::U8,
        DType::I32,
        DType::Emb8,
    ];

    /// The 4-bit code in the header's dtype nibbles.
    pub const fn code(self) -> u8 {
        self as u8
    }

    pub const fn from_code(code: u8) -> Option<DType> {
        match code {
            0 => Some(DType::F32),
            1 => Some(DType::Bf16),
            2 => Some(DType::F16),
            3 => Some(DType::E4m3),
            4 => Some(DType::E5m2),
            5 => Some(DType::I8),
            6 => Some(DType::U8),
            7 => Some(DType::I32),
            8 => Some(DType::Emb8),
            _ => None,
        }
    }

    /// The name used in mnemonics (`mxu.matmul.e4m3`) and listings.
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::Bf16 => "bf16",
            DType::F16 => "f16",
            DType::E4m3 => "e4m3",
            DType::E5m2 => "e5m2",
            DType::I8 => "i8",
            DType::U8 => "u8",
            DType::I32 => "i32",
            DType::Emb8 => "emb8",
        }
    }

    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Bytes per element; `None` for `emb8`, whose size is per row (`dim + 8`).
    pub const fn size_bytes(self) -> Option<u64> {
        match self {
            DType::F32 | DType::I32 => Some(4),
            DType::Bf16 | DType::F16 => Some(2),
            DType::E4m3 | DType::E5m2 | DType::I8 | DType::U8 => Some(1),
            DType::Emb8 => None,
        }
    }

    /// Bytes of one row of `dim` elements (an embedding-table row for `emb8`).
    pub const fn row_bytes(self, dim: u64) -> Option<u64> {
        match self.size_bytes() {
            Some(s) => dim.checked_mul(s),
            None => dim.checked_add(8),
        }
    }

    /// The numerics element type with the same bits, for executing an instruction's
    /// arithmetic; `None` for `emb8`, which is a row layout (see [`DType::row_format`]).
    pub const fn element(self) -> Option<seedchip_numerics::DType> {
        use seedchip_numerics::DType as N;
        match self {
            DType::F32 => Some(N::F32),
            DType::Bf16 => Some(N::Bf16),
            DType::F16 => Some(N::F16),
            DType::E4m3 => Some(N::E4m3),
            DType::E5m2 => Some(N::E5m2),
            DType::I8 => Some(N::I8),
            DType::U8 => Some(N::U8),
            DType::I32 => Some(N::I32),
            DType::Emb8 => None,
        }
    }

    /// How an embedding table stored in this dtype lays out a row (the dtypes `gather.*`
    /// accepts); `None` for the others.
    pub const fn row_format(self) -> Option<seedchip_numerics::RowFormat> {
        use seedchip_numerics::RowFormat as R;
        match self {
            DType::F32 => Some(R::F32),
            DType::F16 => Some(R::F16),
            DType::Bf16 => Some(R::Bf16),
            DType::Emb8 => Some(R::Int8Rowwise),
            _ => None,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An address space (docs/isa.md "Machine model").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Space {
    Hbm = 0,
    Shared = 1,
    /// The issuing core's own SRAM: there is no way to name another core's.
    Local = 2,
}

impl Space {
    pub const ALL: [Space; 3] = [Space::Hbm, Space::Shared, Space::Local];

    pub const fn code(self) -> u8 {
        self as u8
    }

    pub const fn from_code(code: u8) -> Option<Space> {
        match code {
            0 => Some(Space::Hbm),
            1 => Some(Space::Shared),
            2 => Some(Space::Local),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Space::Hbm => "hbm",
            Space::Shared => "shared",
            Space::Local => "local",
        }
    }

    pub fn from_name(name: &str) -> Option<Space> {
        Space::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl fmt::Display for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A byte address in one space, written `space:0xADDR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr {
    pub space: Space,
    pub offset: u64,
}

impl Addr {
    pub const fn new(space: Space, offset: u64) -> Addr {
        Addr { space, offset }
    }
    pub const fn hbm(offset: u64) -> Addr {
        Addr::new(Space::Hbm, offset)
    }
    pub const fn shared(offset: u64) -> Addr {
        Addr::new(Space::Shared, offset)
    }
    pub const fn local(offset: u64) -> Addr {
        Addr::new(Space::Local, offset)
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:#x}", self.space, self.offset)
    }
}

/// Semaphore code of "no semaphore" in a header's wait/signal byte.
pub(crate) const SEM_NONE: u8 = 0xFF;
const CHIP_SEM_BASE: u8 = 0x80;
/// Core semaphores per core (`s0`..`s31`).
pub const CORE_SEMS: u8 = 32;
/// Chip-wide semaphores (`g0`..`g15`).
pub const CHIP_SEMS: u8 = 16;

/// A semaphore: one of a core's 32 (`s0`..`s31`) or one of the chip's 16 (`g0`..`g15`).
///
/// The field is the encoded byte and is private, so a `Sem` is valid by construction and
/// encoding can never produce a byte the decoder rejects.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sem(u8);

impl Sem {
    /// Every core semaphore, indexable: `Sem::CORE[3]` is `s3`.
    pub const CORE: [Sem; CORE_SEMS as usize] = {
        let mut a = [Sem(0); CORE_SEMS as usize];
        let mut i = 0;
        while i < CORE_SEMS {
            a[i as usize] = Sem(i);
            i += 1;
        }
        a
    };
    /// Every chip semaphore: `Sem::CHIP[0]` is `g0`.
    pub const CHIP: [Sem; CHIP_SEMS as usize] = {
        let mut a = [Sem(0); CHIP_SEMS as usize];
        let mut i = 0;
        while i < CHIP_SEMS {
            a[i as usize] = Sem(CHIP_SEM_BASE + i);
            i += 1;
        }
        a
    };

    /// Core semaphore `s{index}`, if `index < 32`.
    pub const fn core(index: u8) -> Option<Sem> {
        if index < CORE_SEMS {
            Some(Sem(index))
        } else {
            None
        }
    }

    /// Chip semaphore `g{index}`, if `index < 16`.
    pub const fn chip(index: u8) -> Option<Sem> {
        if index < CHIP_SEMS {
            Some(Sem(CHIP_SEM_BASE + index))
        } else {
            None
        }
    }

    /// Decodes a semaphore byte (not the "none" code).
    pub const fn from_code(code: u8) -> Option<Sem> {
        if code < CORE_SEMS || (code >= CHIP_SEM_BASE && code < CHIP_SEM_BASE + CHIP_SEMS) {
            Some(Sem(code))
        } else {
            None
        }
    }

    pub const fn code(self) -> u8 {
        self.0
    }

    /// Whether this is a chip-wide semaphore (shared by all cores).
    pub const fn is_chip(self) -> bool {
        self.0 >= CHIP_SEM_BASE
    }

    /// Index within its bank (`3` for both `s3` and `g3`).
    pub const fn index(self) -> u8 {
        if self.is_chip() {
            self.0 - CHIP_SEM_BASE
        } else {
            self.0
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Sem> {
        let (bank, digits) = s.split_at_checked(1)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 2 {
            return None;
        }
        if digits.len() > 1 && digits.starts_with('0') {
            return None;
        }
        let index: u8 = digits.parse().ok()?;
        match bank {
            "s" => Sem::core(index),
            "g" => Sem::chip(index),
            _ => None,
        }
    }
}

impl fmt::Display for Sem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bank = if self.is_chip() { 'g' } else { 's' };
        write!(f, "{bank}{}", self.index())
    }
}

impl fmt::Debug for Sem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A chip-wide semaphore operand (`g0`..`g15`): the only kind a cross-core barrier can count on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChipSem(u8);

impl ChipSem {
    pub const fn new(index: u8) -> Option<ChipSem> {
        if index < CHIP_SEMS {
            Some(ChipSem(index))
        } else {
            None
        }
    }
    pub const fn index(self) -> u8 {
        self.0
    }
    /// The same semaphore as a general [`Sem`], for code that tracks all semaphores alike.
    pub const fn sem(self) -> Sem {
        Sem(CHIP_SEM_BASE + self.0)
    }
}

impl fmt::Display for ChipSem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.sem(), f)
    }
}

/// An f32 immediate kept as its bit pattern, so instructions compare (and round-trip) bit for
/// bit: NaN payloads and the sign of zero are part of the program.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct F32Imm(u32);

impl F32Imm {
    pub const fn from_bits(bits: u32) -> F32Imm {
        F32Imm(bits)
    }
    pub const fn bits(self) -> u32 {
        self.0
    }
    pub fn new(value: f32) -> F32Imm {
        F32Imm(value.to_bits())
    }
    pub fn get(self) -> f32 {
        f32::from_bits(self.0)
    }
}

impl From<f32> for F32Imm {
    fn from(v: f32) -> F32Imm {
        F32Imm::new(v)
    }
}

impl fmt::Display for F32Imm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.get();
        // Shortest round-trip decimal for numbers; raw bits for NaNs, whose payload decimal
        // text cannot carry.
        if v.is_nan() {
            write!(f, "{:#010x}", self.0)
        } else {
            write!(f, "{v:?}")
        }
    }
}

impl fmt::Debug for F32Imm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Cursor over instruction bytes that knows each byte's offset in the enclosing buffer, so a
/// decoding error can say where it is.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8], base: usize) -> Reader<'a> {
        Reader {
            bytes,
            pos: 0,
            base,
        }
    }

    /// Absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Reads one operand. The caller has checked that the whole instruction is present, so a
    /// short buffer here cannot happen; it is still reported rather than trusted.
    pub(crate) fn field<T: Operand>(&mut self) -> Result<T, (usize, String)> {
        let start = self.offset();
        let end = self.pos + T::SIZE;
        let Some(src) = self.bytes.get(self.pos..end) else {
            return Err((start, "instruction truncated".to_string()));
        };
        let mut window = [0u8; 16];
        window[..T::SIZE].copy_from_slice(src);
        self.pos = end;
        T::read(window).map_err(|e| (start + e.at, e.message))
    }

    /// Checks that every byte from here to `len` is zero: padding must be canonical so that
    /// encode(decode(bytes)) == bytes and a stray write cannot hide in it.
    pub(crate) fn padding(&self, len: usize) -> Result<(), usize> {
        match self.bytes.get(self.pos..len) {
            Some(rest) => match rest.iter().position(|&b| b != 0) {
                Some(i) => Err(self.offset() + i),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }
}

/// Why one operand failed to decode or parse; the caller adds field name and location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperandError {
    /// Offset of the offending byte, relative to the operand's first byte (decoding only).
    pub at: usize,
    pub message: String,
}

impl OperandError {
    fn new(at: usize, message: impl Into<String>) -> OperandError {
        OperandError {
            at,
            message: message.into(),
        }
    }
}

/// A type an instruction field can have. The table names one of these per field; the encoder,
/// decoder, assembler, disassembler and the `seedchip isa` listing all go through this trait.
pub trait Operand: Sized + Copy {
    /// Kind name shown in listings and docs/isa.md.
    const KIND: &'static str;
    /// Encoded width in bytes (packed, no alignment).
    const SIZE: usize;
    fn write(&self, out: &mut Vec<u8>);
    /// Reads exactly `SIZE` bytes; the caller guarantees they are present.
    fn read(bytes: [u8; 16]) -> Result<Self, OperandError>;
    fn fmt_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    fn parse_text(s: &str) -> Result<Self, String>;
}

/// Parses an unsigned integer written in decimal or `0x` hex (with optional `_` separators).
pub(crate) fn parse_u64(s: &str) -> Result<u64, String> {
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let r = if let Some(hex) = clean
        .strip_prefix("0x")
        .or_else(|| clean.strip_prefix("0X"))
    {
        if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("`{s}` is not a hexadecimal number"));
        }
        u64::from_str_radix(hex, 16)
    } else {
        if clean.is_empty() || !clean.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{s}` is not a number (decimal or 0x hex)"));
        }
        clean.parse::<u64>()
    };
    r.map_err(|_| format!("`{s}` does not fit in 64 bits"))
}

fn parse_unsigned(s: &str, max: u64, kind: &str) -> Result<u64, String> {
    let v = parse_u64(s)?;
    if v > max {
        return Err(format!("{v} does not fit in {kind} (max {max})"));
    }
    Ok(v)
}

fn first<const N: usize>(b: [u8; 16]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&b[..N]);
    out
}

macro_rules! unsigned_operand {
    ($t:ty, $kind:literal) => {
        impl Operand for $t {
            const KIND: &'static str = $kind;
            const SIZE: usize = std::mem::size_of::<$t>();
            fn write(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read(bytes: [u8; 16]) -> Result<Self, OperandError> {
                Ok(<$t>::from_le_bytes(first(bytes)))
            }
            fn fmt_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{self}")
            }
            fn parse_text(s: &str) -> Result<Self, String> {
                parse_unsigned(s, <$t>::MAX as u64, $kind).map(|v| v as $t)
            }
        }
    };
}

unsigned_operand!(u8, "u8");
unsigned_operand!(u16, "u16");
unsigned_operand!(u32, "u32");
unsigned_operand!(u64, "u64");

impl Operand for i32 {
    const KIND: &'static str = "i32";
    const SIZE: usize = 4;
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(bytes: [u8; 16]) -> Result<Self, OperandError> {
        Ok(i32::from_le_bytes(first(bytes)))
    }
    fn fmt_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
    fn parse_text(s: &str) -> Result<Self, String> {
        let (neg, mag) = match s.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let m = parse_u64(mag)?;
        let v = if neg { -(m as i128) } else { m as i128 };
        i32::try_from(v).map_err(|_| format!("{s} does not fit in i32"))
    }
}

impl Operand for bool {
    const KIND: &'static str = "bool";
    const SIZE: usize = 1;
    fn write(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn read(bytes: [u8; 16]) -> Result<Self, OperandError> {
        match bytes[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(OperandError::new(
                0,
                format!("flag byte {b:#04x} is not 0 or 1"),
            )),
        }
    }
    fn fmt_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", u8::from(*self))
    }
    fn parse_text(s: &str) -> Result<Self, String> {
        match s {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(format!("`{s}` is not a flag (0 or 1)")),
        }
    }
}

impl Operand for F32Imm {
    const KIND: &'static str = "f32";
    const SIZE: usize = 4;
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0.to_le_bytes());
    }
    fn read(bytes: [u8; 16]) -> Result<Self, OperandError> {
        Ok(F32Imm(u32::from_le_bytes(first(bytes))))
    }
    fn fmt_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
    fn parse_text(s: &str) -> Result<Self, String> {
        if s.starts_with("0x") || s.starts_with("0X") {
            let bits = parse_unsigned(s, u32::MAX as u64, "f32 bits")?;
            return Ok(F32Imm(bits as u32));
        }
        if s.to_ascii_lowercase().contains("nan") {
            return Err(format!(
                "`{s}`: write a NaN as its bit pattern (0x7fc00000) so its payload is explicit"
            ));
        }
        s.parse::<f32>()
            .map(F32Imm::new)
            .map_err(|_| format!("`{s}` is not an f32 (decimal, inf, or 0x bits)"))
    }
}

impl Operand for Addr {
    const KIND: &'static str = "addr";
    const SIZE: usize = 9;
    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.space.code());
        out.extend_from_slice(&self.offset.to_le_bytes());
    }
    fn read(bytes: [u8; 16]) -> Result<Self, OperandError> {
        let space = Space::from_code(bytes[0])
            .ok_or_else(|| OperandError::new(0, format!("unknown space code {:#04x}", bytes[0])))?;
        let mut off = [0u8; 8];
        off.copy_from_slice(&bytes[1..9]);
        Ok(Addr::new(space, u64::from_le_bytes(off)))
    }
    fn fmt_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
    fn parse_text(s: &str) -> Result<Self, String> {
        let (space, off) = s
            .split_once(':')
            .ok_or_else(|| format!("`{s}` is not an address (space:offset, e.g. hbm:0x1000)"))?;
        let space = Space::from_name(space)
            .ok_or_else(|| format!("unknown space `{space}` (valid: hbm, shared, local)"))?;
        Ok(Addr::new(space, parse_u64(off)?))
    }
}

/// Space code of an absent optional address.
const SPACE_NONE: u8 = 0xFF;

impl Operand for Option<Addr> {
    const KIND: &'static str = "addr?";
    const SIZE: usize = 9;
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Some(a) => a.write(out),
            None => {
                out.push(SPACE_NONE);
                out.extend_from_slice(&[0; 8]);
            }
        }
    }
    fn read(bytes: [u8; 16]) -> Result<Self, OperandError> {
        if bytes[0] == SPACE_NONE {
            return match bytes[1..9].iter().position(|&b| b != 0) {
                None => Ok(None),
                Some(i) => Err(OperandError::new(
                    1 + i,
                    "absent address (space 0xff) with a nonzero offset",
                )),
            };
        }
        Addr::read(bytes).map(Some)
    }
    fn fmt_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Some(a) => write!(f, "{a}"),
            None => f.write_str("none"),
        }
    }
    fn parse_text(s: &str) -> Result<Self, String> {
        if s == "none" {
            Ok(None)
        } else {
            Addr::parse_text(s).map(Some)
        }
    }
}

impl Operand for Sem {
    const KIND: &'static str = "sem";
    const SIZE: usize = 1;
    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.0);
    }
    fn read(bytes: [u8; 16]) -> Result<Self, OperandError> {
        Sem::from_code(bytes[0]).ok_or_else(|| {
            OperandError::new(0, format!("semaphore code {:#04x} out of range", bytes[0]))
        })
    }
    fn fmt_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
    fn parse_text(s: &str) -> Result<Self, String> {
        Sem::parse(s).ok_or_else(|| format!("`{s}` is not a semaphore (s0..s31, g0..g15)"))
    }
}

impl Operand for ChipSem {
    const KIND: &'static str = "gsem";
    const SIZE: usize = 1;
    fn write(&self, out: &mut Vec<u8>) {
        out.push(self.0);
    }
    fn read(bytes: [u8; 16]) -> Result<Self, OperandError> {
        ChipSem::new(bytes[0]).ok_or_else(|| {
            OperandError::new(
                0,
                format!("chip semaphore index {} out of range (0..16)", bytes[0]),
            )
        })
    }
    fn fmt_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
    fn parse_text(s: &str) -> Result<Self, String> {
        match Sem::parse(s) {
            Some(sem) if sem.is_chip() => Ok(ChipSem(sem.index())),
            _ => Err(format!("`{s}` is not a chip semaphore (g0..g15)")),
        }
    }
}

/// Adapter so generated code can print any operand with `{}`.
pub(crate) struct Text<'a, T: Operand>(pub &'a T);

impl<T: Operand> fmt::Display for Text<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_text(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtypes_agree_with_numerics() {
        for d in DType::ALL {
            match (d.element(), d.size_bytes()) {
                (Some(e), Some(s)) => {
                    assert_eq!(e.size_bytes() as u64, s, "{d}");
                    assert_eq!(e.name(), d.name(), "one spelling per type across crates");
                }
                (None, None) => assert_eq!(d, DType::Emb8),
                other => panic!("{d}: {other:?}"),
            }
            if let Some(f) = d.row_format() {
                for dim in [1u64, 7, 128] {
                    assert_eq!(
                        Some(f.row_bytes(dim as usize) as u64),
                        d.row_bytes(dim),
                        "{d}"
                    );
                }
            }
        }
    }

    #[test]
    fn sem_codes_and_names() {
        assert_eq!(Sem::CORE[31].code(), 31);
        assert_eq!(Sem::CHIP[15].code(), 0x8F);
        assert_eq!(Sem::from_code(32), None);
        assert_eq!(Sem::from_code(0x90), None);
        assert_eq!(Sem::from_code(0xFF), None);
        assert_eq!(Sem::parse("g15"), Sem::chip(15));
        assert_eq!(Sem::parse("s32"), None);
        assert_eq!(Sem::parse("s03"), None);
        assert_eq!(Sem::parse("x1"), None);
        assert_eq!(Sem::parse(""), None);
        assert_eq!(Sem::CHIP[7].to_string(), "g7");
    }

    #[test]
    fn numbers_parse_strictly() {
        assert_eq!(u8::parse_text("255"), Ok(255));
        assert!(u8::parse_text("256").is_err());
        assert_eq!(u32::parse_text("0x1_000"), Ok(4096));
        assert!(u32::parse_text("-1").is_err());
        assert!(u32::parse_text("0x").is_err());
        assert!(u64::parse_text("18446744073709551616").is_err());
        assert_eq!(i32::parse_text("-2147483648"), Ok(i32::MIN));
        assert!(i32::parse_text("2147483648").is_err());
        assert_eq!(i32::parse_text("-0x10"), Ok(-16));
    }

    #[test]
    fn f32_text_keeps_every_bit_pattern() {
        for bits in [
            0u32,
            0x8000_0000,
            0x7f80_0000,
            0xff80_0000,
            0x7fc0_0000,
            0x7fc0_0001,
            0xffff_ffff,
            1,
            0x3e00_0000,
        ] {
            let imm = F32Imm::from_bits(bits);
            let text = imm.to_string();
            assert_eq!(F32Imm::parse_text(&text), Ok(imm), "{text}");
        }
        assert!(F32Imm::parse_text("nan").is_err());
        assert!(F32Imm::parse_text("1.0x").is_err());
    }

    #[test]
    fn optional_address_rejects_junk_offset() {
        let mut b = [0u8; 16];
        b[0] = 0xFF;
        assert_eq!(<Option<Addr>>::read(b), Ok(None));
        b[5] = 1;
        assert_eq!(<Option<Addr>>::read(b).unwrap_err().at, 5);
        b[0] = 3;
        assert!(<Option<Addr>>::read(b).is_err());
    }
}
