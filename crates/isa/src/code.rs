//! Whole instructions (header + operation) and instruction streams in binary form.
//!
//! Header layout (docs/isa.md "Encoding"): byte 0 opcode, byte 1 dtype nibbles, byte 2 wait
//! semaphore, byte 3 signal semaphore (0xFF = none), bytes 4..8 wait value (u32 LE).

use crate::inst::{HEADER_BYTES, Inst, Opcode};
use crate::operand::{Reader, SEM_NONE};
use crate::{Error, Sem};

/// A header wait: the instruction does not start until `sem ≥ value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Wait {
    pub sem: Sem,
    pub value: u32,
}

/// One encoded unit: an operation plus the header's synchronisation, which every instruction
/// carries so that the compiler never needs a separate instruction just to order two queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Instruction {
    pub inst: Inst,
    pub wait: Option<Wait>,
    /// Incremented by one when the instruction completes.
    pub signal: Option<Sem>,
}

impl From<Inst> for Instruction {
    fn from(inst: Inst) -> Instruction {
        Instruction::new(inst)
    }
}

impl Instruction {
    pub const fn new(inst: Inst) -> Instruction {
        Instruction {
            inst,
            wait: None,
            signal: None,
        }
    }

    pub const fn with_wait(mut self, sem: Sem, value: u32) -> Instruction {
        self.wait = Some(Wait { sem, value });
        self
    }

    pub const fn with_signal(mut self, sem: Sem) -> Instruction {
        self.signal = Some(sem);
        self
    }

    /// Encoded size in bytes (a multiple of 8); program counters advance by this.
    pub fn size(&self) -> usize {
        self.inst.info().size
    }

    /// Appends the encoding to `out`.
    ///
    /// # Errors
    /// [`Error::DTypeNotAllowed`] when a dtype slot holds a type the table does not allow for
    /// this instruction (nothing is appended then).
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.inst.validate()?;
        let start = out.len();
        out.extend_from_slice(&[0; HEADER_BYTES]);
        let dtypes = self.inst.write_operands(out);
        out.resize(start + self.size(), 0);
        let (wait_sem, wait_value) = match self.wait {
            Some(w) => (w.sem.code(), w.value),
            None => (SEM_NONE, 0),
        };
        let header = &mut out[start..start + HEADER_BYTES];
        header[0] = self.inst.opcode().code();
        header[1] = dtypes;
        header[2] = wait_sem;
        header[3] = self.signal.map_or(SEM_NONE, Sem::code);
        header[4..8].copy_from_slice(&wait_value.to_le_bytes());
        Ok(())
    }

    pub fn encode(&self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(self.size());
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Decodes the instruction at the start of `bytes`; returns it and its length. Error
    /// offsets count from the start of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<(Instruction, usize), Error> {
        Instruction::decode_at(bytes, 0)
    }

    /// As [`Instruction::decode`], with error offsets shifted by `base` (the position of
    /// `bytes` in an enclosing buffer).
    pub fn decode_at(bytes: &[u8], base: usize) -> Result<(Instruction, usize), Error> {
        let Some(&opcode) = bytes.first() else {
            return Err(Error::Truncated {
                offset: base,
                what: "instruction".into(),
                needed: HEADER_BYTES,
                available: 0,
            });
        };
        let op = Opcode::from_u8(opcode).ok_or(Error::UnknownOpcode {
            offset: base,
            opcode,
        })?;
        let info = op.info();
        if bytes.len() < info.size {
            return Err(Error::Truncated {
                offset: base,
                what: format!("{} instruction", info.mnemonic),
                needed: info.size,
                available: bytes.len(),
            });
        }
        let header_err = |at: usize, message: String| Error::BadHeader {
            offset: base + at,
            mnemonic: info.mnemonic,
            message,
        };
        let wait_value = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let wait = match bytes[2] {
            SEM_NONE if wait_value != 0 => {
                return Err(header_err(
                    4,
                    format!("wait value {wait_value} without a wait semaphore"),
                ));
            }
            SEM_NONE => None,
            code => {
                let sem = Sem::from_code(code).ok_or_else(|| {
                    header_err(2, format!("wait semaphore code {code:#04x} out of range"))
                })?;
                Some(Wait {
                    sem,
                    value: wait_value,
                })
            }
        };
        let signal = match bytes[3] {
            SEM_NONE => None,
            code => Some(Sem::from_code(code).ok_or_else(|| {
                header_err(3, format!("signal semaphore code {code:#04x} out of range"))
            })?),
        };
        let body = &bytes[HEADER_BYTES..info.size];
        let mut reader = Reader::new(body, base + HEADER_BYTES);
        let inst = Inst::read_operands(op, bytes[1], base + 1, &mut reader)?;
        reader
            .padding(body.len())
            .map_err(|offset| Error::NonzeroPadding {
                offset,
                mnemonic: info.mnemonic,
            })?;
        Ok((Instruction { inst, wait, signal }, info.size))
    }
}

/// Encodes a stream of instructions back to back (a code section's body).
///
/// # Errors
/// [`Error::AtInstruction`] wrapping the first instruction that cannot be encoded.
pub fn encode_stream(insts: &[Instruction]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(insts.iter().map(Instruction::size).sum());
    for (index, i) in insts.iter().enumerate() {
        i.encode_into(&mut out).map_err(|e| Error::AtInstruction {
            index,
            source: Box::new(e),
        })?;
    }
    Ok(out)
}

/// Decodes a whole stream; every byte must belong to an instruction.
pub fn decode_stream(bytes: &[u8]) -> Result<Vec<Instruction>, Error> {
    decode_stream_at(bytes, 0)
}

pub(crate) fn decode_stream_at(bytes: &[u8], base: usize) -> Result<Vec<Instruction>, Error> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let (inst, len) = Instruction::decode_at(&bytes[pos..], base + pos)?;
        out.push(inst);
        pos += len;
    }
    Ok(out)
}

/// Program counter (byte offset in the section) of every instruction, plus the end offset, so
/// fault reports (by PC) and listings (by index) can be matched up.
pub fn pcs(insts: &[Instruction]) -> Vec<usize> {
    let mut out = Vec::with_capacity(insts.len() + 1);
    let mut pc = 0;
    out.push(0);
    for i in insts {
        pc += i.size();
        out.push(pc);
    }
    out
}
