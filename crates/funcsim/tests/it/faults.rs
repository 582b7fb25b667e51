//! The documented faults: each program yields its fault (kind, core, PC, instruction and the
//! offending value) and never a panic.

use seedchip_funcsim::{Error, FaultKind, Limits, Machine, Options, Region};
use seedchip_isa::{Addr, Program, fnv1a64};

use crate::support::*;

#[test]
fn out_of_range_dma() {
    let f = fault(&mut machine("fault_dma_oob"));
    let site = f.site.clone().unwrap();
    assert_eq!((site.core, site.pc, site.index), (0, 0, 0));
    assert_eq!(
        f.kind,
        FaultKind::OutOfBounds {
            operand: "src",
            region: Region::Hbm,
            addr: 0xfff000,
            len: 0x2000,
            size: 16 << 20,
        }
    );
    let text = f.to_string();
    assert!(
        text.contains("out of bounds") && text.contains("dma.copy dst=local:0x0"),
        "{text}"
    );
}

#[test]
fn gather_index_beyond_table_names_the_table_and_the_input() {
    let mut m = machine("fault_gather_index");
    m.write_input("ids", &i32s(&[4], vec![1, 2, 10, 3]))
        .unwrap();
    m.write_input("offsets", &i32s(&[3], vec![0, 1, 4]))
        .unwrap();
    let f = fault(&mut m);
    assert_eq!(f.site.as_ref().unwrap().pc, 96);
    match &f.kind {
        FaultKind::IndexOutOfRange {
            table,
            bag,
            position,
            id,
            rows,
            origin,
        } => {
            assert_eq!(
                (table.as_str(), *bag, *position, *id, *rows),
                ("user_table", 1, 1, 10, 10)
            );
            let o = origin.as_ref().expect("traced to the input");
            assert_eq!((o.input.as_str(), o.element), ("ids", 2));
        }
        other => panic!("{other}"),
    }
    let text = f.to_string();
    assert!(
        text.contains("user_table") && text.contains("input `ids` element 2"),
        "{text}"
    );
    // Negative ids are out of range too; fixing the input makes the program run.
    m.write_input("ids", &i32s(&[4], vec![1, -1, 0, 3]))
        .unwrap();
    assert!(matches!(
        kind(&mut m),
        FaultKind::IndexOutOfRange { id: -1, .. }
    ));
    m.write_input("ids", &i32s(&[4], vec![1, 9, 0, 3])).unwrap();
    run(&mut m);
}

#[test]
fn sram_overflow() {
    let f = fault(&mut machine("fault_sram_overflow"));
    assert_eq!(f.site.as_ref().unwrap().core, 1);
    assert_eq!(
        f.kind,
        FaultKind::SramOverflow {
            operand: "a",
            region: Region::Local(1),
            bytes: 128 * 256 * 4,
            capacity: 64 << 10,
        }
    );
}

#[test]
fn deadlock_and_step_limit() {
    assert!(matches!(
        kind(&mut machine("deadlock")),
        FaultKind::Deadlock { .. }
    ));
    let mut p = program("fault_misc");
    let code = p.code.get_mut(&0).unwrap();
    code.insts.drain(..5);
    let mut m = Machine::new(&chip(), &p).unwrap();
    let f = m
        .run(&Limits {
            max_steps: 2,
            check_races: false,
        })
        .unwrap_err();
    assert_eq!(f.kind, FaultKind::StepLimit { limit: 2 });
    assert_eq!(f.site.unwrap().index, 2);
    assert!(
        m.run(&Limits {
            max_steps: 3,
            check_races: false
        })
        .is_ok()
    );
}

/// `fault_misc.s` with only instruction `i` (then `ctl.halt`).
fn only(i: usize) -> Machine {
    let mut p = program("fault_misc");
    let code = p.code.get_mut(&0).unwrap();
    let keep = code.insts[i];
    let halt = *code.insts.last().unwrap();
    code.insts = vec![keep, halt];
    Machine::new(&chip(), &p).unwrap()
}

#[test]
fn misaligned_overlap_offsets_array_and_operands() {
    assert_eq!(
        kind(&mut only(0)),
        FaultKind::Misaligned {
            operand: "a",
            region: Region::Local(0),
            addr: 2,
            align: 4
        }
    );
    assert_eq!(
        kind(&mut only(1)),
        FaultKind::DmaOverlap {
            region: Region::Shared,
            src: 0,
            dst: 0x10
        }
    );
    let mut m = only(2);
    let offsets: Vec<u8> = [0i32, 3, 1].iter().flat_map(|v| v.to_le_bytes()).collect();
    m.write_bytes(0, Addr::local(0x200), &offsets).unwrap();
    assert_eq!(
        kind(&mut m),
        FaultKind::BadOffsets {
            bag: 2,
            offset: 1,
            previous: 3
        }
    );
    match kind(&mut only(3)) {
        FaultKind::BadOperand { operand, message } => {
            assert_eq!(operand, "k");
            assert!(message.contains("16 rows"), "{message}");
        }
        other => panic!("{other}"),
    }
    assert!(
        matches!(kind(&mut only(4)), FaultKind::BadOperand { operand, .. } if operand == "multiplier")
    );
}

#[test]
fn bad_opcode_in_raw_bytes_is_a_fault_at_its_pc() {
    let p = program("fault_misc");
    let mut bytes = p.encode().unwrap();
    // Find core 0's code: the first instruction is vpu.relu (opcode 0x40); the sixth (pc
    // 0x40 + 0x30 + 0x48 + 0x40 + 0x38 = ...) is a ctl.nop (0xe0). Corrupt that nop.
    let pcs = seedchip_isa::pcs(&p.code[&0].insts);
    let code_start = bytes.windows(4).position(|w| w == b"CODE").unwrap() + 4 + 8 + 4;
    let at = code_start + pcs[5];
    assert_eq!(bytes[at], 0xe0);
    bytes[at] = 0x7f;
    let end = bytes.len() - 8;
    let sum = fnv1a64(&bytes[..end]);
    bytes[end..].copy_from_slice(&sum.to_le_bytes());
    let err = Machine::from_scp(&chip(), &bytes, &Options::default()).unwrap_err();
    let Error::Fault(f) = err else {
        panic!("{err}")
    };
    let site = f.site.clone().unwrap();
    assert_eq!((site.core, site.pc as usize, site.index), (0, pcs[5], 5));
    assert_eq!(f.kind, FaultKind::BadOpcode { opcode: 0x7f });
    assert!(site.inst.contains("7f"), "{}", site.inst);
    // A bad operand field (space code 9 in the relu's `dst`) is reported the same way.
    let mut bytes = p.encode().unwrap();
    bytes[code_start + 8] = 9;
    let end = bytes.len() - 8;
    let sum = fnv1a64(&bytes[..end]);
    bytes[end..].copy_from_slice(&sum.to_le_bytes());
    let Error::Fault(f) = Machine::from_scp(&chip(), &bytes, &Options::default()).unwrap_err()
    else {
        panic!()
    };
    assert_eq!(f.site.as_ref().unwrap().pc, 0);
    assert!(matches!(f.kind, FaultKind::BadOperand { ref operand, .. } if operand == "dst"));
}

#[test]
fn programs_that_do_not_fit_the_chip_are_load_errors() {
    let mut p = program("fault_sram_overflow");
    let code = p.code.remove(&1).unwrap();
    p.code.insert(5, code);
    assert!(matches!(Machine::new(&chip(), &p), Err(Error::Load { .. })));
    let mut p: Program = program("dma");
    p.target.fingerprint ^= 1;
    assert!(matches!(Machine::new(&chip(), &p), Err(Error::Program(_))));
}

/// A broadcast operand (row stride 0) of 2^32 rows fits any SRAM; simulating it would exhaust
/// the host, so it is refused as a fault rather than attempted.
#[test]
fn operands_beyond_the_simulator_bound_are_faults() {
    let mut p = program("fault_misc");
    let code = seedchip_isa::assemble_code(
        "vpu.cvt.i8.i32 dst=shared:0x20a0 a=hbm:0x2140 rows=4294967292 cols=1 ldd=0 lda=0\n\
         ctl.halt\n",
    )
    .unwrap();
    p.code.insert(0, code);
    let mut m = Machine::new(&chip(), &p).unwrap();
    match kind(&mut m) {
        FaultKind::BadOperand { operand, message } => {
            assert_eq!(operand, "a");
            assert!(message.contains("at most"), "{message}");
        }
        other => panic!("{other}"),
    }
}

/// Found by the `funcsim_random` fuzz target: `mxu.matmul.batch` with empty problems
/// (`m = k = 0`) and `count = 2^32 - 1` moved no bytes, so it passed the size bound and then
/// looped four billion times. Each problem now counts against the bound, so it is a fault at
/// once; a modest count of empty problems still runs.
#[test]
fn a_huge_count_of_empty_matmuls_is_a_fault_not_a_hang() {
    let mut p = program("fault_misc");
    let code = seedchip_isa::assemble_code(
        "mxu.matmul.batch.i8 acc=hbm:0xdcd8 a=hbm:0xc9d8 b=shared:0xcbc8 m=0 k=0 n=4 lda=0 \
         ldb=0 ldacc=0 accumulate=0 transpose_b=0 count=4294967295 stride_a=0 stride_b=0 \
         stride_acc=0\n\
         ctl.halt\n",
    )
    .unwrap();
    p.code.insert(0, code);
    let mut m = Machine::new(&chip(), &p).unwrap();
    match kind(&mut m) {
        FaultKind::BadOperand { operand, message } => {
            assert_eq!(operand, "count");
            assert!(message.contains("at most"), "{message}");
        }
        other => panic!("{other}"),
    }

    let mut p = program("fault_misc");
    let code = seedchip_isa::assemble_code(
        "mxu.matmul.batch.i8 acc=hbm:0x0 a=hbm:0x0 b=hbm:0x0 m=0 k=0 n=4 lda=0 ldb=0 ldacc=0 \
         accumulate=0 transpose_b=0 count=1000 stride_a=0 stride_b=0 stride_acc=0\n\
         ctl.halt\n",
    )
    .unwrap();
    p.code.insert(0, code);
    let mut m = Machine::new(&chip(), &p).unwrap();
    m.run(&Limits::default()).unwrap();
}
