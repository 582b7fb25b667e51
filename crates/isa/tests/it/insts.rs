//! Instruction-level properties: binary and text round trips, total and canonical decoding,
//! and the errors a corrupt stream produces.

use proptest::prelude::*;
use seedchip_isa::{
    Addr, DType, Error, Inst, Instruction, Opcode, Sem, assemble_code, decode_stream,
    encode_stream, pcs,
};

use crate::r#gen::{arb_inst, arb_instruction};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn encode_decode_is_identity(i in arb_instruction()) {
        let bytes = i.encode().unwrap();
        prop_assert_eq!(bytes.len(), i.size());
        prop_assert_eq!(bytes.len() % 8, 0);
        prop_assert_eq!(Instruction::decode(&bytes), Ok((i, bytes.len())));
    }

    #[test]
    fn disassemble_assemble_is_identity(i in arb_instruction()) {
        let text = i.to_string();
        prop_assert!(!text.contains('\n'));
        prop_assert_eq!(text.parse::<Instruction>(), Ok(i), "{}", text);
    }

    #[test]
    fn queue_matches_mnemonic_prefix(i in arb_inst()) {
        let prefix = format!("{}.", i.queue().name());
        prop_assert!(i.to_string().starts_with(&prefix));
    }

    #[test]
    fn streams_round_trip(insts in prop::collection::vec(arb_instruction(), 0..24)) {
        let bytes = encode_stream(&insts).unwrap();
        prop_assert_eq!(decode_stream(&bytes), Ok(insts.clone()));
        let pcs = pcs(&insts);
        prop_assert_eq!(*pcs.last().unwrap(), bytes.len());
    }

    /// Decoding arbitrary bytes never panics, and whatever it accepts is the canonical
    /// encoding: re-encoding gives back exactly the bytes consumed.
    #[test]
    fn decode_is_total_and_canonical(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        if let Ok((i, len)) = Instruction::decode(&bytes) {
            prop_assert_eq!(i.encode().unwrap(), bytes[..len].to_vec());
        }
        let _ = decode_stream(&bytes);
    }

    /// Random bytes rarely start with a valid opcode; corrupting valid encodings exercises the
    /// operand checks instead.
    #[test]
    fn corrupted_encodings_decode_canonically_or_fail(
        i in arb_instruction(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = i.encode().unwrap();
        for (at, v) in flips {
            let k = at.index(bytes.len());
            bytes[k] = v;
        }
        if let Ok((d, len)) = Instruction::decode(&bytes) {
            prop_assert_eq!(d.encode().unwrap(), bytes[..len].to_vec());
        }
    }

    #[test]
    fn assembler_never_panics(text in "[ -~\n]{0,200}") {
        let _ = assemble_code(&text);
    }
}

fn matmul() -> Instruction {
    Instruction::new(Inst::MxuMatmul {
        dtype: DType::I8,
        acc: Addr::local(0x4000),
        a: Addr::local(0),
        b: Addr::local(0x2000),
        m: 64,
        k: 128,
        n: 128,
        lda: 128,
        ldb: 128,
        ldacc: 128,
        accumulate: true,
        transpose_b: false,
    })
    .with_wait(Sem::CORE[3], 2)
    .with_signal(Sem::CORE[4])
}

#[test]
fn matmul_encoding_is_pinned() {
    // The layout is a file format: a change here must be deliberate (and bump ISA_VERSION).
    let bytes = matmul().encode().unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "20050304020000000200400000000000000200000000000000000200200000000000004000000080\
         000000800000008000000080000000800000000100000000"
    );
}

#[test]
fn every_opcode_round_trips_through_text_and_binary() {
    // A deterministic sweep so a table entry is never left to chance.
    for (n, &op) in Opcode::ALL.iter().enumerate() {
        for seed in 0..64u64 {
            let words = (0..48)
                .map(|k| seed.wrapping_mul(0x9E37_79B9) ^ k ^ n as u64)
                .collect();
            let inst = crate::r#gen::inst_from_words(op, &mut crate::r#gen::Words::new(words));
            let i = Instruction::new(inst).with_signal(Sem::CHIP[15]);
            assert_eq!(i.inst.opcode(), op);
            let bytes = i.encode().unwrap();
            assert_eq!(bytes[0], op.code());
            assert_eq!(Instruction::decode(&bytes).unwrap().0, i);
            assert_eq!(i.to_string().parse::<Instruction>().unwrap(), i);
        }
    }
}

fn decode_err(bytes: &[u8]) -> Error {
    Instruction::decode(bytes).unwrap_err()
}

#[test]
fn decode_errors_say_what_and_where() {
    let good = matmul().encode().unwrap();

    assert!(matches!(
        decode_err(&[0x00; 8]),
        Error::UnknownOpcode {
            offset: 0,
            opcode: 0
        }
    ));
    assert!(matches!(
        decode_err(&[]),
        Error::Truncated {
            offset: 0,
            needed: 8,
            available: 0,
            ..
        }
    ));
    match decode_err(&good[..63]) {
        Error::Truncated {
            needed: 64,
            available: 63,
            what,
            ..
        } => {
            assert!(what.contains("mxu.matmul"), "{what}")
        }
        e => panic!("{e}"),
    }

    let mut b = good.clone();
    b[1] = 0x00; // f32: not a matmul operand type
    let e = decode_err(&b);
    assert!(matches!(e, Error::BadHeader { offset: 1, .. }), "{e}");
    assert!(e.to_string().contains("i8, bf16, f16, e4m3, e5m2"), "{e}");

    b = good.clone();
    b[1] = 0x0F; // unknown dtype code
    assert!(matches!(decode_err(&b), Error::BadHeader { offset: 1, .. }));

    b = good.clone();
    b[1] = 0x15; // i8 plus a stray second nibble on a one-slot instruction
    let e = decode_err(&b);
    assert!(e.to_string().contains("unused nibble"), "{e}");

    b = good.clone();
    b[2] = 32; // s32 does not exist
    assert!(matches!(decode_err(&b), Error::BadHeader { offset: 2, .. }));
    b = good.clone();
    b[3] = 0x90; // g16 does not exist
    assert!(matches!(decode_err(&b), Error::BadHeader { offset: 3, .. }));
    b = good.clone();
    b[2] = 0xFF; // no wait semaphore, but a wait value
    assert!(matches!(decode_err(&b), Error::BadHeader { offset: 4, .. }));

    b = good.clone();
    b[17] = 7; // operand `a`: unknown space
    match decode_err(&b) {
        Error::BadOperand {
            offset: 17,
            field: "a",
            ..
        } => {}
        e => panic!("{e}"),
    }
    b = good.clone();
    b[59] = 2; // accumulate flag must be 0 or 1
    match decode_err(&b) {
        Error::BadOperand {
            offset: 59,
            field: "accumulate",
            ..
        } => {}
        e => panic!("{e}"),
    }
    b = good.clone();
    b[62] = 1; // padding
    assert!(matches!(
        decode_err(&b),
        Error::NonzeroPadding { offset: 62, .. }
    ));

    // In a stream, offsets count from the stream's start.
    let mut stream = good.clone();
    stream.extend_from_slice(&good);
    stream[64 + 62] = 1;
    assert!(matches!(
        decode_stream(&stream).unwrap_err(),
        Error::NonzeroPadding { offset: 126, .. }
    ));
}

#[test]
fn encoder_refuses_a_dtype_the_table_does_not_allow() {
    let i = Instruction::new(Inst::VpuExp {
        dtype: DType::I32,
        dst: Addr::local(0),
        a: Addr::local(0),
        rows: 1,
        cols: 1,
        ldd: 1,
        lda: 1,
    });
    let e = i.encode().unwrap_err();
    assert!(
        matches!(
            e,
            Error::DTypeNotAllowed {
                slot: "dtype",
                dtype: DType::I32,
                ..
            }
        ),
        "{e}"
    );
    let e = encode_stream(&[Instruction::new(Inst::CtlNop {}), i]).unwrap_err();
    assert!(e.to_string().starts_with("instruction 1: vpu.exp"), "{e}");
}

#[test]
fn f32_immediates_keep_nan_payloads_and_signed_zero() {
    for bits in [0x7fc0_0001u32, 0x8000_0000, 0xff80_0000] {
        let i = Instruction::new(Inst::VpuScale {
            dtype: DType::F32,
            dst: Addr::shared(8),
            a: Addr::shared(0),
            scale: seedchip_isa::F32Imm::from_bits(bits),
            rows: 1,
            cols: 2,
            ldd: 2,
            lda: 2,
        });
        let text = i.to_string();
        assert_eq!(text.parse::<Instruction>().unwrap(), i, "{text}");
    }
}
