//! Undecodable code as a fault at its core and PC.
//!
//! The container decoder reports positions as file offsets; a program author needs the core
//! and the PC of the instruction (what listings and every other fault show). So the code
//! sections are located in the file and the failing stream is decoded again, instruction by
//! instruction, to find the PC where decoding stops.

use seedchip_isa::{Error as IsaError, Instruction};

use crate::fault::{Fault, FaultKind, Site};

/// `(core, section body)` of every CODE section of a well-framed `.scp` file.
fn code_sections(bytes: &[u8]) -> Vec<(u32, &[u8])> {
    let mut out = Vec::new();
    let mut pos = 12usize;
    let end = bytes.len().saturating_sub(8);
    while pos + 12 <= end {
        let tag = &bytes[pos..pos + 4];
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[pos + 4..pos + 12]);
        let Ok(len) = usize::try_from(u64::from_le_bytes(len)) else {
            break;
        };
        let body = pos + 12;
        let Some(stop) = body.checked_add(len).filter(|&s| s <= end) else {
            break;
        };
        if tag == b"CODE" && len >= 4 {
            let core = u32::from_le_bytes([
                bytes[body],
                bytes[body + 1],
                bytes[body + 2],
                bytes[body + 3],
            ]);
            out.push((core, &bytes[body + 4..stop]));
        }
        pos = stop;
    }
    out
}

fn kind_of(e: &IsaError) -> FaultKind {
    match e {
        IsaError::UnknownOpcode { opcode, .. } => FaultKind::BadOpcode { opcode: *opcode },
        IsaError::BadOperand { field, message, .. } => FaultKind::BadOperand {
            operand: (*field).to_string(),
            message: message.clone(),
        },
        IsaError::BadHeader { message, .. } => FaultKind::BadOperand {
            operand: "header".into(),
            message: message.clone(),
        },
        IsaError::NonzeroPadding { .. } => FaultKind::BadOperand {
            operand: "padding".into(),
            message: "nonzero padding byte".into(),
        },
        other => FaultKind::BadOperand {
            operand: "instruction".into(),
            message: other.to_string(),
        },
    }
}

/// The fault for a decoding error inside a code section of `bytes`, if that is what `e` is.
pub(crate) fn code_fault(bytes: &[u8], e: &IsaError) -> Option<Fault> {
    let IsaError::InCode { core, .. } = e else {
        return None;
    };
    let (_, code) = code_sections(bytes).into_iter().find(|(c, _)| c == core)?;
    let mut pc = 0usize;
    let mut index = 0usize;
    while pc < code.len() {
        match Instruction::decode_at(&code[pc..], pc) {
            Ok((_, len)) => {
                pc += len;
                index += 1;
            }
            Err(err) => {
                let raw = &code[pc..code.len().min(pc + 8)];
                let hex: Vec<String> = raw.iter().map(|b| format!("{b:02x}")).collect();
                return Some(Fault::new(
                    Some(Site {
                        core: *core,
                        pc: pc as u64,
                        index,
                        inst: format!("<undecodable: {}>", hex.join(" ")),
                    }),
                    kind_of(&err),
                ));
            }
        }
    }
    None
}
