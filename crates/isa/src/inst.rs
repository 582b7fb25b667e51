//! Everything generated from the instruction table: [`Opcode`], [`Inst`], [`InstInfo`], and the
//! per-instruction halves of encoding, decoding, printing and parsing. The instruction-
//! independent parts (header, streams, text lines) are in [`crate::code`] and [`crate::text`].

use std::fmt;

use crate::operand::{Operand, Reader, Text};
use crate::text::Arg;
use crate::{DType, Error};

/// The unit queue an instruction is dispatched to; queues run concurrently and complete in order
/// within themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Queue {
    Dma,
    Gather,
    Mxu,
    Vpu,
    Ctl,
}

impl Queue {
    pub const ALL: [Queue; 5] = [
        Queue::Dma,
        Queue::Gather,
        Queue::Mxu,
        Queue::Vpu,
        Queue::Ctl,
    ];

    /// The name used as the mnemonic prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Queue::Dma => "dma",
            Queue::Gather => "gather",
            Queue::Mxu => "mxu",
            Queue::Vpu => "vpu",
            Queue::Ctl => "ctl",
        }
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A dtype slot of an instruction: its field name and the dtypes it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DTypeSlot {
    pub name: &'static str,
    pub allowed: &'static [DType],
}

/// One operand field as laid out in the encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldInfo {
    pub name: &'static str,
    /// Operand kind (`u32`, `addr`, `sem`, ...), see [`Operand::KIND`].
    pub kind: &'static str,
    /// Byte offset within the instruction (the header is bytes 0..8).
    pub offset: usize,
    pub size: usize,
    pub doc: &'static str,
}

/// Static description of one instruction, for listings, docs and tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstInfo {
    pub opcode: Opcode,
    /// Mnemonic without dtype suffixes (`mxu.matmul`).
    pub mnemonic: &'static str,
    pub queue: Queue,
    pub dtypes: &'static [DTypeSlot],
    pub fields: &'static [FieldInfo],
    /// Encoded size in bytes, header and padding included.
    pub size: usize,
    pub doc: &'static str,
}

impl InstInfo {
    /// The mnemonic pattern as docs write it: `vpu.cvt.<from>.<to>`.
    pub fn pattern(&self) -> String {
        let mut s = self.mnemonic.to_string();
        for slot in self.dtypes {
            s.push_str(&format!(".<{}>", slot.name));
        }
        s
    }

    /// First sentence of the documentation, for one-line listings.
    pub fn summary(&self) -> &'static str {
        let d = self.doc;
        match d.find(". ") {
            Some(i) => &d[..=i],
            None => d,
        }
    }
}

/// Every instruction of the table, in table order.
pub fn instructions() -> impl Iterator<Item = &'static InstInfo> {
    Opcode::ALL.iter().map(|op| op.info())
}

/// Rounds an instruction length up to the 8-byte granule.
pub(crate) const fn pad8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

pub(crate) const HEADER_BYTES: usize = 8;

pub(crate) const fn layout<const N: usize>(
    names: [&'static str; N],
    kinds: [&'static str; N],
    sizes: [usize; N],
    docs: [&'static str; N],
) -> [FieldInfo; N] {
    let mut out = [FieldInfo {
        name: "",
        kind: "",
        offset: 0,
        size: 0,
        doc: "",
    }; N];
    let mut offset = HEADER_BYTES;
    let mut i = 0;
    while i < N {
        out[i] = FieldInfo {
            name: names[i],
            kind: kinds[i],
            offset,
            size: sizes[i],
            doc: docs[i],
        };
        offset += sizes[i];
        i += 1;
    }
    out
}

/// Hands out the header's dtype nibbles to the slots in order and insists the unused ones are
/// zero, so every instruction has exactly one encoding.
pub(crate) struct Nibbles {
    byte: u8,
    used: u32,
    offset: usize,
}

impl Nibbles {
    pub(crate) fn new(byte: u8, offset: usize) -> Nibbles {
        Nibbles {
            byte,
            used: 0,
            offset,
        }
    }

    pub(crate) fn next(
        &mut self,
        mnemonic: &'static str,
        slot: &'static str,
        allowed: &[DType],
    ) -> Result<DType, Error> {
        let code = (self.byte >> (4 * self.used)) & 0xF;
        self.used += 1;
        let bad = |message: String| Error::BadHeader {
            offset: self.offset,
            mnemonic,
            message,
        };
        let dtype = DType::from_code(code)
            .ok_or_else(|| bad(format!("{slot}: unknown dtype code {code}")))?;
        if !allowed.contains(&dtype) {
            return Err(bad(format!(
                "{slot}: dtype {dtype} not allowed (valid: {})",
                dtype_list(allowed)
            )));
        }
        Ok(dtype)
    }

    pub(crate) fn finish(self, mnemonic: &'static str) -> Result<(), Error> {
        let rest = u32::from(self.byte).checked_shr(4 * self.used).unwrap_or(0);
        if rest != 0 {
            return Err(Error::BadHeader {
                offset: self.offset,
                mnemonic,
                message: format!(
                    "dtype byte {:#04x}: unused nibble must be zero ({} dtype slot(s))",
                    self.byte, self.used
                ),
            });
        }
        Ok(())
    }
}

pub(crate) fn dtype_list(allowed: &[DType]) -> String {
    allowed
        .iter()
        .map(|d| d.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn pack_nibbles(codes: &[u8]) -> u8 {
    codes
        .iter()
        .enumerate()
        .fold(0u8, |acc, (i, c)| acc | (c << (4 * i)))
}

/// Parse errors inside one instruction: a message and the column it points at. The caller
/// adds the line.
#[derive(Debug)]
pub(crate) struct TextError {
    pub col: usize,
    pub message: String,
}

macro_rules! define_insts {
    ( $(
        $(#[doc = $doc:literal])*
        $op:literal $name:ident $mnem:literal $queue:ident
        [ $( $slot:ident : $( $dtv:ident )|+ ),* ]
        { $( $(#[doc = $fdoc:literal])* $field:ident : $fty:ty ),* $(,)? }
    )* ) => {
        /// Instruction opcodes (byte 0 of every instruction).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum Opcode {
            $( $(#[doc = $doc])* $name = $op, )*
        }

        /// Static descriptions, one per instruction; statics so [`Opcode::info`] can hand out
        /// `&'static` references.
        #[allow(non_upper_case_globals)]
        mod info {
            use super::*;
            $(
                pub(super) static $name: InstInfo = InstInfo {
                    opcode: Opcode::$name,
                    mnemonic: $mnem,
                    queue: Queue::$queue,
                    dtypes: &[ $( DTypeSlot {
                        name: stringify!($slot),
                        allowed: &[ $( DType::$dtv ),+ ],
                    } ),* ],
                    fields: &layout(
                        [ $( stringify!($field) ),* ],
                        [ $( <$fty as Operand>::KIND ),* ],
                        [ $( <$fty as Operand>::SIZE ),* ],
                        [ $( concat!( $( $fdoc ),* ) ),* ],
                    ),
                    size: pad8(HEADER_BYTES $( + <$fty as Operand>::SIZE )*),
                    doc: concat!( $( $doc ),* ),
                };
            )*
        }

        impl Opcode {
            /// Every opcode, in table order.
            pub const ALL: &'static [Opcode] = &[ $( Opcode::$name ),* ];

            pub const fn from_u8(byte: u8) -> Option<Opcode> {
                match byte {
                    $( $op => Some(Opcode::$name), )*
                    _ => None,
                }
            }

            pub const fn code(self) -> u8 {
                self as u8
            }

            pub fn info(self) -> &'static InstInfo {
                match self {
                    $( Opcode::$name => &info::$name, )*
                }
            }

            pub fn mnemonic(self) -> &'static str {
                self.info().mnemonic
            }

            pub fn queue(self) -> Queue {
                self.info().queue
            }
        }

        /// One operation with typed operands: the surface funcsim and timing `match` on. The
        /// header's wait/signal are in [`Instruction`](crate::Instruction), which wraps this.
        ///
        /// Field meanings: see each variant's doc and docs/isa.md; `seedchip isa` lists the
        /// fields with their kinds and byte offsets.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Inst {
            $(
                $(#[doc = $doc])*
                $name {
                    $( $slot: DType, )*
                    $( $(#[doc = $fdoc])* $field: $fty, )*
                },
            )*
        }

        impl Inst {
            pub const fn opcode(&self) -> Opcode {
                match self {
                    $( Inst::$name { .. } => Opcode::$name, )*
                }
            }

            /// The table entry of this instruction.
            pub fn info(&self) -> &'static InstInfo {
                self.opcode().info()
            }

            /// The queue this instruction is dispatched to.
            pub fn queue(&self) -> Queue {
                self.info().queue
            }

            /// The dtypes of this instruction's slots, in slot order.
            pub fn dtypes(&self) -> Vec<DType> {
                match self {
                    $( Inst::$name { $( $slot, )* .. } => vec![ $( *$slot ),* ], )*
                }
            }

            /// Checks the dtype slots against the table: the only way an `Inst` value can be
            /// unencodable, because every other field type is valid by construction.
            pub fn validate(&self) -> Result<(), Error> {
                match self {
                    $( Inst::$name { $( $slot, )* .. } => {
                        $(
                            let allowed: &[DType] = &[ $( DType::$dtv ),+ ];
                            if !allowed.contains($slot) {
                                return Err(Error::DTypeNotAllowed {
                                    mnemonic: $mnem,
                                    slot: stringify!($slot),
                                    dtype: *$slot,
                                    valid: dtype_list(allowed),
                                });
                            }
                        )*
                        Ok(())
                    } )*
                }
            }

            /// Appends the operand fields (not the header, not the padding) and returns the
            /// header's dtype byte.
            pub(crate) fn write_operands(&self, out: &mut Vec<u8>) -> u8 {
                match self {
                    $( Inst::$name { $( $slot, )* $( $field, )* } => {
                        let codes: &[u8] = &[ $( $slot.code() ),* ];
                        $( Operand::write($field, out); )*
                        pack_nibbles(codes)
                    } )*
                }
            }

            /// Decodes the operands of an instruction whose opcode is known and whose full
            /// length is present in `r`.
            pub(crate) fn read_operands(
                op: Opcode,
                dtype_byte: u8,
                dtype_offset: usize,
                r: &mut Reader<'_>,
            ) -> Result<Inst, Error> {
                match op {
                    $( Opcode::$name => {
                        #[allow(unused_mut)]
                        let mut nibbles = Nibbles::new(dtype_byte, dtype_offset);
                        $( let $slot = nibbles.next(
                            $mnem,
                            stringify!($slot),
                            &[ $( DType::$dtv ),+ ],
                        )?; )*
                        nibbles.finish($mnem)?;
                        $( let $field = r.field::<$fty>().map_err(|(offset, message)| {
                            Error::BadOperand {
                                offset,
                                mnemonic: $mnem,
                                field: stringify!($field),
                                message,
                            }
                        })?; )*
                        Ok(Inst::$name { $( $slot, )* $( $field, )* })
                    } )*
                }
            }

            /// Builds an instruction from its parsed mnemonic dtypes and `key=value` operands.
            #[allow(clippy::never_loop)]
            pub(crate) fn from_text(
                op: Opcode,
                dtypes: &[DType],
                args: &[Arg<'_>],
                mnemonic_col: usize,
            ) -> Result<Inst, TextError> {
                match op {
                    $( Opcode::$name => {
                        #[allow(unused_mut, unused_variables)]
                        let mut slots = dtypes.iter().copied();
                        $( let $slot = slots.next().ok_or_else(|| TextError {
                            col: mnemonic_col,
                            message: format!("{} needs a .<{}> suffix", $mnem, stringify!($slot)),
                        })?; )*
                        $( let mut $field: Option<$fty> = None; )*
                        for arg in args {
                            $(
                                if arg.key == stringify!($field) {
                                    if $field.is_some() {
                                        return Err(TextError {
                                            col: arg.key_col,
                                            message: format!(
                                                "operand `{}` given twice", arg.key
                                            ),
                                        });
                                    }
                                    $field = Some(<$fty as Operand>::parse_text(&arg.value)
                                        .map_err(|m| TextError {
                                            col: arg.value_col,
                                            message: format!("operand `{}`: {m}", arg.key),
                                        })?);
                                    continue;
                                }
                            )*
                            let valid: &[&str] = &[ $( stringify!($field) ),* ];
                            return Err(TextError {
                                col: arg.key_col,
                                message: if valid.is_empty() {
                                    format!("{} takes no operands, found `{}`", $mnem, arg.key)
                                } else {
                                    format!(
                                        "{} has no operand `{}` (operands: {})",
                                        $mnem, arg.key, valid.join(", ")
                                    )
                                },
                            });
                        }
                        $( let $field = $field.ok_or_else(|| TextError {
                            col: mnemonic_col,
                            message: format!(
                                "{}: missing operand `{}` ({})",
                                $mnem, stringify!($field), <$fty as Operand>::KIND
                            ),
                        })?; )*
                        Ok(Inst::$name { $( $slot, )* $( $field, )* })
                    } )*
                }
            }

            /// Writes `class.op[.dtype..] key=value ...` (no header clauses).
            pub(crate) fn fmt_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Inst::$name { $( $slot, )* $( $field, )* } => {
                        f.write_str($mnem)?;
                        $( write!(f, ".{}", $slot)?; )*
                        $( write!(f, " {}={}", stringify!($field), Text($field))?; )*
                        Ok(())
                    } )*
                }
            }
        }
    };
}

crate::for_each_inst!(define_insts);

/// The instruction table as Markdown, as embedded in docs/isa.md (a test keeps the two equal,
/// so the document cannot drift from the encoding).
pub fn markdown_table() -> String {
    let mut s = String::from(
        "| opcode | instruction | queue | dtypes | operands (`name:kind@byte`) | bytes |\n\
         |---|---|---|---|---|---|\n",
    );
    for info in instructions() {
        let dtypes = if info.dtypes.is_empty() {
            "—".to_string()
        } else {
            info.dtypes
                .iter()
                .map(|d| format!("{} ∈ {{{}}}", d.name, dtype_list(d.allowed)))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let fields = if info.fields.is_empty() {
            "—".to_string()
        } else {
            info.fields
                .iter()
                .map(|f| format!("`{}:{}@{}`", f.name, f.kind, f.offset))
                .collect::<Vec<_>>()
                .join(" ")
        };
        s.push_str(&format!(
            "| {:#04x} | `{}` | {} | {} | {} | {} |\n",
            info.opcode.code(),
            info.pattern(),
            info.queue,
            dtypes,
            fields,
            info.size
        ));
    }
    s
}

impl fmt::Display for Inst {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_text(f)
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mnemonic())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::BTreeSet::new();
        for info in instructions() {
            assert_ne!(info.opcode.code(), 0, "opcode 0 is reserved");
            assert!(seen.insert(info.mnemonic), "duplicate {}", info.mnemonic);
            assert_eq!(Opcode::from_u8(info.opcode.code()), Some(info.opcode));
            assert!(
                info.mnemonic
                    .starts_with(&format!("{}.", info.queue.name())),
                "{} is not in queue {}",
                info.mnemonic,
                info.queue
            );
            assert!(
                info.dtypes.len() <= 2,
                "{}: two nibbles only",
                info.mnemonic
            );
            assert_eq!(info.size % 8, 0);
            let end = info
                .fields
                .last()
                .map_or(HEADER_BYTES, |f| f.offset + f.size);
            assert!(end <= info.size && info.size - end < 8, "{}", info.mnemonic);
            assert!(
                !info.doc.trim().is_empty(),
                "{} undocumented",
                info.mnemonic
            );
            for slot in info.dtypes {
                assert!(!slot.allowed.is_empty());
            }
        }
        assert_eq!(seen.len(), Opcode::ALL.len());
    }

    #[test]
    fn matmul_layout_is_as_documented() {
        let info = Opcode::MxuMatmul.info();
        let names: Vec<_> = info.fields.iter().map(|f| (f.name, f.offset)).collect();
        assert_eq!(&names[..3], &[("acc", 8), ("a", 17), ("b", 26)]);
        assert_eq!(info.size, 64);
        assert_eq!(info.pattern(), "mxu.matmul.<dtype>");
        assert_eq!(Opcode::VpuCvt.info().pattern(), "vpu.cvt.<from>.<to>");
    }
}
