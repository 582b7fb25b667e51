//! Decoding is total and canonical, and the text form is exact, for any input bytes:
//! whatever decodes (as an instruction stream or as a whole `.scp` program) must encode back
//! to the same bytes, decode again to the same value, and survive disassemble → assemble.
//! Arbitrary bytes are also fed to both assemblers, which must never panic, and a `.s` listing
//! that assembles must survive disassemble → assemble and encode → decode.
//!
//! Run: `cargo fuzz run -s none isa_roundtrip` (stable toolchains need `-s none`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use seedchip_isa::{Instruction, Program, assemble_code, decode_stream, encode_stream};

fuzz_target!(|data: &[u8]| {
    if let Ok((inst, len)) = Instruction::decode(data) {
        let bytes = inst.encode().expect("a decoded instruction must encode");
        assert_eq!(bytes, data[..len], "instruction encoding is not canonical");
        let text = inst.to_string();
        let parsed: Instruction = text.parse().expect("disassembly must assemble");
        assert_eq!(parsed, inst, "text round trip changed {text}");
    }

    if let Ok(insts) = decode_stream(data) {
        let bytes = encode_stream(&insts).expect("a decoded stream must encode");
        assert_eq!(bytes, data, "stream encoding is not canonical");
        assert_eq!(decode_stream(&bytes).as_ref(), Ok(&insts));
    }

    // Random bytes almost never carry a valid checksum, so also try them with the checksum
    // fixed up, which lets the fuzzer reach the section decoders.
    let mut fixed = data.to_vec();
    if fixed.len() >= 8 {
        let n = fixed.len();
        let sum = seedchip_isa::fnv1a64(&fixed[..n - 8]);
        fixed[n - 8..].copy_from_slice(&sum.to_le_bytes());
    }
    for candidate in [data, &fixed[..]] {
        if let Ok(p) = Program::decode(candidate) {
            let bytes = p.encode().expect("a decoded program must encode");
            assert_eq!(bytes, candidate, "container encoding is not canonical");
            assert_eq!(Program::decode(&bytes).as_ref(), Ok(&p));
            let listing = p.disassemble();
            assert_eq!(Program::assemble(&listing).as_ref(), Ok(&p), "listing round trip");
        }
    }

    if let Ok(text) = std::str::from_utf8(data) {
        let _ = assemble_code(text);
        // A listing (`run prog.s`) that assembles is the program it lists: it disassembles and
        // assembles to the same program, and its binary form (when it has one) decodes to it.
        if let Ok(p) = Program::assemble(text) {
            let listing = p.disassemble();
            assert_eq!(Program::assemble(&listing).as_ref(), Ok(&p), "assembled listing round trip");
            if let Ok(bytes) = p.encode() {
                assert_eq!(Program::decode(&bytes).as_ref(), Ok(&p), "assembled program encoding");
            }
        }
    }
});
