//! SCISA, the seedchip instruction set, defined once.
//!
//! The compiler emits it, funcsim executes it bit for bit and the timing model charges it, so
//! all three must agree on every field of every instruction. That agreement is structural
//! here: [`for_each_inst!`] is the single table, and the [`Inst`] enum, opcodes, binary
//! encoding, decoding, assembly text and the `seedchip isa` listing are all generated from it.
//! The semantics (rounding, saturation, faults) are in `docs/isa.md`.
//!
//! Reading order: [`table`] (the instructions) → [`operand`] (field types) → [`inst`] (what
//! the table generates) → [`code`] (headers and streams) → [`text`] (assembly) →
//! [`program`] (the `.scp` container) → [`listing`] (whole programs as text).
//!
//! ```
//! use seedchip_isa::{Addr, DType, Inst, Instruction, Sem};
//!
//! let i = Instruction::new(Inst::VpuRelu {
//!     dtype: DType::Bf16,
//!     dst: Addr::local(0x100),
//!     a: Addr::local(0),
//!     rows: 4,
//!     cols: 64,
//!     ldd: 64,
//!     lda: 64,
//! })
//! .with_wait(Sem::CORE[1], 1)
//! .with_signal(Sem::CORE[2]);
//! let text = i.to_string();
//! assert_eq!(
//!     text,
//!     "vpu.relu.bf16 dst=local:0x100 a=local:0x0 rows=4 cols=64 ldd=64 lda=64 ; wait s1>=1 ; signal s2"
//! );
//! assert_eq!(text.parse::<Instruction>().unwrap(), i);
//! let bytes = i.encode().unwrap();
//! assert_eq!(Instruction::decode(&bytes).unwrap(), (i, bytes.len()));
//! ```

pub mod code;
pub mod hash;
pub mod inst;
pub mod listing;
pub mod operand;
pub mod program;
pub mod table;
pub mod text;

pub use code::{Instruction, Wait, decode_stream, encode_stream, pcs};
pub use hash::{chip_fingerprint, fnv1a64};
pub use inst::{DTypeSlot, FieldInfo, Inst, InstInfo, Opcode, Queue, instructions, markdown_table};
pub use listing::{DataMode, assemble};
pub use operand::{Addr, ChipSem, DType, F32Imm, Operand, Sem, Space};
pub use program::{
    Binding, CONTAINER_VERSION, DataSegment, Direction, Distribution, ISA_VERSION, MAGIC, Program,
    Table, TableSource, Target,
};
pub use text::{Code, assemble_code};

/// Everything that can go wrong reading or writing SCISA. Every variant is a *user* problem
/// (a corrupt, truncated or foreign file; a bad listing; an inconsistent program handed to
/// the encoder) and says where: a byte offset for binary input, `line:col` for text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The input ends inside an item.
    #[error("byte {offset}: truncated {what}: needs {needed} bytes, {available} left")]
    Truncated {
        offset: usize,
        what: String,
        needed: usize,
        available: usize,
    },
    /// No instruction has this opcode.
    #[error("byte {offset}: unknown opcode {opcode:#04x} (`seedchip isa` lists the opcodes)")]
    UnknownOpcode { offset: usize, opcode: u8 },
    /// A header byte (dtype nibbles, semaphores, wait value) is invalid.
    #[error("byte {offset}: {mnemonic}: {message}")]
    BadHeader {
        offset: usize,
        mnemonic: &'static str,
        message: String,
    },
    /// An operand field holds a value its kind cannot have (space code, semaphore, flag).
    #[error("byte {offset}: {mnemonic}: operand `{field}`: {message}")]
    BadOperand {
        offset: usize,
        mnemonic: &'static str,
        field: &'static str,
        message: String,
    },
    /// Padding after the last operand is not zero.
    #[error("byte {offset}: {mnemonic}: nonzero padding byte")]
    NonzeroPadding {
        offset: usize,
        mnemonic: &'static str,
    },
    /// An instruction value uses a dtype its table entry does not allow (encoding side).
    #[error("{mnemonic}: {slot} {dtype} is not allowed (valid: {valid})")]
    DTypeNotAllowed {
        mnemonic: &'static str,
        slot: &'static str,
        dtype: DType,
        valid: String,
    },
    /// Context: which instruction of a stream.
    #[error("instruction {index}: {source}")]
    AtInstruction { index: usize, source: Box<Error> },
    /// Context: which core's code section.
    #[error("core {core} code: {source}")]
    InCode { core: u32, source: Box<Error> },
    /// Assembly text that does not parse (1-based line and column).
    #[error("{line}:{col}: {message}")]
    Parse {
        line: usize,
        col: usize,
        message: String,
    },
    /// Not a program file at all.
    #[error("not a seedchip program: starts with {found:02x?}, expected \"SCP1\"")]
    BadMagic { found: [u8; 4] },
    /// A program from a different (newer or older) format.
    #[error("unsupported {what} version {found} (this build reads version {supported})")]
    Version {
        what: &'static str,
        found: u16,
        supported: u16,
    },
    /// Container structure: section order, unknown codes, trailing bytes.
    #[error("byte {offset}: {message}")]
    Container { offset: usize, message: String },
    /// The file was corrupted or edited after it was written.
    #[error(
        "checksum mismatch: stored {stored:#018x}, computed {computed:#018x} (file corrupt or \
         modified)"
    )]
    Checksum { stored: u64, computed: u64 },
    /// A program inconsistent in itself (overlapping HBM contents, table sizes, dangling
    /// symbols).
    #[error("invalid program: {message}")]
    Invalid { message: String },
    /// The program was compiled for another chip description.
    #[error(
        "program was compiled for chip `{program_chip}` (fingerprint {expected:#018x}), but \
         this is `{chip}` (fingerprint {found:#018x}); recompile for this chip"
    )]
    ChipMismatch {
        program_chip: String,
        expected: u64,
        chip: String,
        found: u64,
    },
}
