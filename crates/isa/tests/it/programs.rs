//! The `.scp` container and program listings.

use proptest::prelude::*;
use seedchip_chip::Precision;
use seedchip_isa::{
    Addr, Binding, ChipSem, Code, DType, DataMode, DataSegment, Direction, Distribution, Error,
    F32Imm, Inst, Instruction, Program, Sem, Table, TableSource, Target, chip_fingerprint, fnv1a64,
};

use crate::r#gen::arb_program;

/// A small program using every part of the container.
fn sample() -> Program {
    let chip = seedchip_chip::presets::get("seedchip-v1").unwrap();
    let mut p = Program::new(Target {
        chip: chip.name.clone(),
        fingerprint: chip_fingerprint(&chip),
        precision: Precision::Int8,
        batch: 64,
    });
    let mut c0 = Code::default();
    c0.push(
        Instruction::new(Inst::DmaCopy {
            dst: Addr::local(0),
            src: Addr::hbm(0x1_0000),
            rows: 1,
            row_bytes: 4,
            dst_stride_bytes: 4,
            src_stride_bytes: 4,
        })
        .with_signal(Sem::CORE[0]),
        Some("fc1"),
    );
    c0.push(
        Instruction::new(Inst::GatherSum {
            dtype: DType::Emb8,
            dst: Addr::local(0x100),
            table: Addr::hbm(0x2_0000),
            rows: 1000,
            dim: 64,
            idx: Addr::shared(0),
            offsets: Addr::shared(0x400),
            bags: 64,
            ldd: 64,
            cache_map: None,
        })
        .with_wait(Sem::CORE[0], 1),
        Some("emb \"0\""),
    );
    c0.push(
        Inst::CtlBarrier {
            sem: ChipSem::new(0).unwrap(),
            count: 2,
        },
        None,
    );
    c0.push(Inst::CtlHalt {}, None);
    p.code.insert(0, c0);
    let mut c1 = Code::default();
    c1.push(
        Inst::CtlBarrier {
            sem: ChipSem::new(0).unwrap(),
            count: 2,
        },
        None,
    );
    c1.push(Inst::CtlHalt {}, Some("end"));
    p.code.insert(3, c1);
    p.data.push(DataSegment {
        label: "fc1.weight".into(),
        hbm: 0x1_0000,
        bytes: (0..100u8).collect(),
    });
    p.tables.push(Table {
        name: "emb_0".into(),
        hbm: 0x2_0000,
        rows: 1000,
        dim: 64,
        dtype: DType::Emb8,
        source: TableSource::Procedural {
            seed: 42,
            param: "emb_0.weight".into(),
            dist: Distribution::Uniform {
                bound: F32Imm::new(0.031_622_775),
            },
        },
    });
    p.tables.push(Table {
        name: "small".into(),
        hbm: 0x8_0000,
        rows: 2,
        dim: 1,
        dtype: DType::F32,
        source: TableSource::Bytes(vec![0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]),
    });
    p.bindings.push(Binding {
        direction: Direction::Input,
        name: "dense".into(),
        dtype: DType::F32,
        shape: vec![64, 13],
        addr: Addr::hbm(0x9_0000),
    });
    p.bindings.push(Binding {
        direction: Direction::Output,
        name: "prob".into(),
        dtype: DType::F32,
        shape: vec![64, 1],
        addr: Addr::shared(0x8000),
    });
    p
}

#[test]
fn container_round_trips() {
    let p = sample();
    let bytes = p.encode().unwrap();
    assert_eq!(&bytes[..4], b"SCP1");
    let back = Program::decode(&bytes).unwrap();
    assert_eq!(back, p);
    assert_eq!(back.encode().unwrap(), bytes);
}

#[test]
fn listing_round_trips_and_reads_well() {
    let p = sample();
    let text = p.disassemble();
    assert_eq!(Program::assemble(&text).unwrap(), p, "{text}");
    assert!(text.starts_with(".scp container=1 isa=1\n.target chip=\"seedchip-v1\""));
    assert!(text.contains(
        "    dma.copy dst=local:0x0 src=hbm:0x10000 rows=1 row_bytes=4 dst_stride_bytes=4 \
         src_stride_bytes=4 ; signal s0 ; node \"fc1\"  # 0x0\n"
    ));
    assert!(
        text.contains("; wait s0>=1 ; node \"emb \\\"0\\\"\"  # 0x30\n"),
        "{text}"
    );
    assert!(text.contains(".core 3  # 2 instructions, 24 bytes\n"));
    assert!(text.contains(".hex 0000803f00000040\n"));
    assert!(text.contains(
        ".table \"emb_0\" at=hbm:0x20000 rows=1000 dim=64 dtype=emb8 source=procedural seed=42 \
         param=\"emb_0.weight\" dist=uniform bound=0.031622775\n"
    ));
}

#[test]
fn digest_listing_is_short_and_refuses_to_assemble() {
    let mut p = sample();
    p.data[0].bytes = vec![7; 100_000];
    let text = p.disassemble_with(DataMode::Digest);
    assert!(text.len() < 4000, "{}", text.len());
    assert!(text.contains(&format!("digest={:#018x}", fnv1a64(&[7; 100_000]))));
    match Program::assemble(&text) {
        Err(Error::Parse { message, .. }) => assert!(message.contains("full listing"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn checksum_detects_any_changed_byte() {
    let bytes = sample().encode().unwrap();
    // Every byte after the header: flipping one must be caught (by framing or checksum).
    for k in 12..bytes.len() {
        let mut b = bytes.clone();
        b[k] ^= 0x01;
        let e = Program::decode(&b).unwrap_err();
        if k < bytes.len() - 8 {
            // Inside the body, framing may notice first (a length or tag byte); otherwise the
            // checksum must.
            assert!(
                matches!(
                    e,
                    Error::Checksum { .. } | Error::Truncated { .. } | Error::Container { .. }
                ),
                "byte {k}: {e}"
            );
        } else {
            assert!(matches!(e, Error::Checksum { .. }), "byte {k}: {e}");
        }
    }
    let mut b = bytes.clone();
    let n = b.len();
    b[n - 20] ^= 0x80; // a SYMS byte: only the checksum can tell
    assert!(matches!(Program::decode(&b), Err(Error::Checksum { .. })));
}

#[test]
fn truncated_files_are_rejected_as_truncated() {
    let bytes = sample().encode().unwrap();
    for len in 0..bytes.len() {
        match Program::decode(&bytes[..len]) {
            Err(Error::Truncated { .. }) => {}
            other => panic!("prefix of {len} bytes: {other:?}"),
        }
    }
    let e = Program::decode(&bytes[..bytes.len() - 3]).unwrap_err();
    assert!(e.to_string().contains("truncated checksum"), "{e}");
}

#[test]
fn header_problems_are_named() {
    let mut bytes = sample().encode().unwrap();
    assert!(matches!(
        Program::decode(b"\x7fELF"),
        Err(Error::BadMagic { .. })
    ));
    bytes[6] = 2;
    assert!(matches!(
        Program::decode(&bytes),
        Err(Error::Version {
            what: "ISA",
            found: 2,
            supported: 1
        })
    ));
    let mut long = sample().encode().unwrap();
    let sum = long.split_off(long.len() - 8);
    long.push(0);
    long.extend_from_slice(&sum);
    let e = Program::decode(&long).unwrap_err();
    assert!(matches!(e, Error::Container { .. }), "{e}");
}

#[test]
fn bad_instructions_inside_a_file_name_core_and_byte() {
    let p = sample();
    let mut bytes = p.encode().unwrap();
    // First CODE payload starts after header (12), TRGT frame, CODE frame (12) and core (4).
    let trgt_len = u64::from_le_bytes(bytes[16..24].try_into().unwrap()) as usize;
    let code_start = 12 + 12 + trgt_len + 12 + 4;
    bytes[code_start] = 0xEE;
    let n = bytes.len();
    let sum = fnv1a64(&bytes[..n - 8]);
    bytes[n - 8..].copy_from_slice(&sum.to_le_bytes());
    let e = Program::decode(&bytes).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "core 0 code: byte {code_start}: unknown opcode 0xee (`seedchip isa` lists the opcodes)"
        )
    );
}

#[test]
fn validation_catches_inconsistent_programs() {
    let mut p = sample();
    p.data.push(DataSegment {
        label: "clash".into(),
        hbm: 0x2_0010,
        bytes: vec![1],
    });
    let e = p.encode().unwrap_err();
    assert!(e.to_string().contains("overlaps"), "{e}");

    let mut p = sample();
    p.bindings[0].addr = Addr::local(0);
    assert!(p.encode().unwrap_err().to_string().contains("local SRAM"));

    let mut p = sample();
    p.code
        .get_mut(&3)
        .unwrap()
        .symbols
        .insert(9, "dangling".into());
    assert!(
        p.encode()
            .unwrap_err()
            .to_string()
            .contains("symbol for instruction 9")
    );

    let mut p = sample();
    if let TableSource::Bytes(b) = &mut p.tables[1].source {
        b.pop();
    }
    assert!(
        p.encode()
            .unwrap_err()
            .to_string()
            .contains("7 bytes stored")
    );
}

#[test]
fn chip_fingerprint_tells_chips_apart() {
    let presets = seedchip_chip::presets::all();
    let prints: std::collections::BTreeSet<u64> = presets.iter().map(chip_fingerprint).collect();
    assert_eq!(prints.len(), presets.len());
    let chip = seedchip_chip::presets::get("seedchip-v1").unwrap();
    assert_eq!(chip_fingerprint(&chip), chip_fingerprint(&chip.clone()));
    let mut other = chip.clone();
    other.clock_mhz += 1.0;
    assert_ne!(chip_fingerprint(&chip), chip_fingerprint(&other));

    let p = sample();
    p.check_chip(&chip).unwrap();
    let e = p.check_chip(&other).unwrap_err();
    assert!(matches!(e, Error::ChipMismatch { .. }), "{e}");
}

#[test]
fn listing_errors_have_line_and_column() {
    let text = sample().disassemble();
    let broken = text.replacen(
        "rows=1000 dim=64 dtype=emb8",
        "rows=1000 dim=64 dtype=emb9",
        1,
    );
    let line = broken.lines().position(|l| l.contains("emb9")).unwrap() + 1;
    match Program::assemble(&broken) {
        Err(Error::Parse {
            line: l,
            col,
            message,
        }) => {
            assert_eq!(l, line);
            assert_eq!(
                &broken.lines().nth(l - 1).unwrap()[col - 1..col + 3],
                "emb9"
            );
            assert!(message.contains("not a dtype"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let short = text.replacen(".hex 0000803f00000040", ".hex 0000803f", 1);
    let e = Program::assemble(&short).unwrap_err();
    assert!(e.to_string().contains("has 4 of its 8 bytes"), "{e}");
    let e = Program::assemble("ctl.nop").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("1:1: a program listing starts with"),
        "{e}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_programs_round_trip(p in arb_program()) {
        let bytes = p.encode().unwrap();
        let back = Program::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(back.encode().unwrap(), bytes);
        let text = p.disassemble();
        prop_assert_eq!(Program::assemble(&text), Ok(p), "{}", text);
    }

    #[test]
    fn container_decode_is_total(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Program::decode(&bytes);
    }

    /// Corrupting a valid file with a fixed-up checksum exercises the content decoders.
    #[test]
    fn corrupted_containers_fail_cleanly_or_reencode_identically(
        p in arb_program(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = p.encode().unwrap();
        let n = bytes.len();
        for (at, v) in flips {
            let k = at.index(n - 8);
            bytes[k] = v;
        }
        let sum = fnv1a64(&bytes[..n - 8]);
        bytes[n - 8..].copy_from_slice(&sum.to_le_bytes());
        if let Ok(d) = Program::decode(&bytes) {
            prop_assert_eq!(d.encode().unwrap(), bytes);
        }
    }

    #[test]
    fn program_assembler_never_panics(text in "[ -~\n]{0,300}") {
        let _ = Program::assemble(&format!(".scp container=1 isa=1\n{text}"));
    }
}
