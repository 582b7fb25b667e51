//! Property tests: random decodable programs never panic, stay within the step bound, and
//! give identical results across runs and thread counts.

use proptest::prelude::*;
use seedchip_chip::Precision;
use seedchip_funcsim::{Error, Limits, Machine, Options};
use seedchip_isa::{
    Addr, Code, DType, Distribution, F32Imm, Instruction, Program, Table, TableSource, Target,
    chip_fingerprint, fnv1a64, instructions,
};

use crate::support::{Rng, chip};

/// One random instruction, built field by field from the instruction table (so every
/// instruction, present and future, is covered), with small operands that mostly fit the test
/// chip and sometimes do not.
fn random_inst(rng: &mut Rng) -> Instruction {
    let infos: Vec<_> = instructions().collect();
    let info = infos[rng.int(0, infos.len() as i64 - 1) as usize];
    let mut b = vec![0u8; info.size];
    b[0] = info.opcode.code();
    for (i, slot) in info.dtypes.iter().enumerate() {
        let d = slot.allowed[rng.int(0, slot.allowed.len() as i64 - 1) as usize];
        b[1] |= d.code() << (4 * i);
    }
    let sem = |rng: &mut Rng| -> u8 {
        if rng.int(0, 1) == 0 {
            rng.int(0, 3) as u8
        } else {
            0x80 + rng.int(0, 3) as u8
        }
    };
    if rng.int(0, 7) == 0 {
        b[2] = sem(rng);
        b[4..8].copy_from_slice(&(rng.int(0, 2) as u32).to_le_bytes());
    } else {
        b[2] = 0xFF;
    }
    b[3] = if rng.int(0, 2) == 0 { sem(rng) } else { 0xFF };
    for f in info.fields {
        let at = f.offset;
        match f.kind {
            "addr" | "addr?" => {
                if f.kind == "addr?" && rng.int(0, 2) != 0 {
                    b[at] = 0xFF;
                    continue;
                }
                b[at] = rng.int(0, 2) as u8;
                let mut off = rng.int(0, 0x3000) as u64;
                if rng.int(0, 15) != 0 {
                    off &= !3;
                }
                if rng.int(0, 63) == 0 {
                    off = u64::MAX - rng.int(0, 64) as u64;
                }
                b[at + 1..at + 9].copy_from_slice(&off.to_le_bytes());
            }
            "u32" => {
                let v = match rng.int(0, 63) {
                    0 => u32::MAX - rng.int(0, 3) as u32,
                    1 => rng.int(0, 100_000) as u32,
                    _ => rng.int(0, 9) as u32,
                };
                b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            "i32" => {
                let v = match rng.int(0, 3) {
                    0 => rng.int(1 << 30, i64::from(i32::MAX)) as i32,
                    1 => rng.int(-31, 62) as i32,
                    _ => rng.next_u64() as i32,
                };
                b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            "bool" => b[at] = rng.int(0, 1) as u8,
            "f32" => {
                let v = [0.5f32, -2.0, f32::NAN, f32::INFINITY, 1e30, 0.0][rng.int(0, 5) as usize];
                b[at..at + 4].copy_from_slice(&v.to_bits().to_le_bytes());
            }
            "sem" => b[at] = sem(rng),
            "gsem" => b[at] = rng.int(0, 15) as u8,
            _ => {
                for x in &mut b[at..at + f.size] {
                    *x = rng.next_u64() as u8;
                }
            }
        }
    }
    let (inst, len) = Instruction::decode(&b).unwrap_or_else(|e| panic!("generator bug: {e}"));
    assert_eq!(len, b.len());
    inst
}

fn random_program(seed: u64, len: usize, cores: u32) -> Program {
    let c = chip();
    let mut rng = Rng::new(seed);
    let mut p = Program::new(Target {
        chip: c.name.clone(),
        fingerprint: chip_fingerprint(&c),
        precision: Precision::Int8,
        batch: 1,
    });
    for core in 0..cores {
        let mut code = Code::default();
        for _ in 0..len {
            code.push(random_inst(&mut rng), None);
        }
        p.code.insert(core, code);
    }
    p.tables.push(Table {
        name: "t".into(),
        hbm: 0x800,
        rows: 64,
        dim: 4,
        dtype: DType::Emb8,
        source: TableSource::Procedural {
            seed: 3,
            param: "t.weight".into(),
            dist: Distribution::Uniform {
                bound: F32Imm::new(0.5),
            },
        },
    });
    p
}

/// Everything observable after a run: the outcome and the contents of every memory touched.
fn observe(m: &mut Machine, limits: &Limits) -> (String, u64) {
    let outcome = match m.run(limits) {
        Ok(stats) => {
            assert!(stats.instructions <= limits.max_steps);
            format!("{stats:?}")
        }
        Err(f) => f.to_string(),
    };
    let mut h = Vec::new();
    h.extend(m.read_bytes(0, Addr::shared(0), 256 << 10).unwrap());
    h.extend(m.read_bytes(0, Addr::local(0), 64 << 10).unwrap());
    h.extend(m.read_bytes(0, Addr::hbm(0), 0x4000).unwrap());
    (outcome, fnv1a64(&h))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_programs_never_panic_and_are_deterministic(
        seed in any::<u64>(),
        len in 1usize..24,
        two_cores in any::<bool>(),
        check_races in any::<bool>(),
    ) {
        let p = random_program(seed, len, if two_cores { 2 } else { 1 });
        let limits = Limits { max_steps: 64, check_races };
        let mut one = Machine::with_options(&chip(), &p, &Options { threads: Some(1), ..Options::default() }).unwrap();
        let mut two = Machine::with_options(&chip(), &p, &Options { threads: Some(2), ..Options::default() }).unwrap();
        let a = observe(&mut one, &limits);
        let b = observe(&mut two, &limits);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn corrupted_code_bytes_never_panic(seed in any::<u64>(), flips in 1usize..8) {
        let p = random_program(seed, 6, 1);
        let mut bytes = p.encode().unwrap();
        let start = bytes.windows(4).position(|w| w == b"CODE").unwrap() + 16;
        let code_len: usize = p.code[&0].insts.iter().map(Instruction::size).sum();
        let mut rng = Rng::new(seed ^ 0xF00D);
        for _ in 0..flips {
            let at = start + rng.int(0, code_len as i64 - 1) as usize;
            bytes[at] = rng.next_u64() as u8;
        }
        let end = bytes.len() - 8;
        let sum = fnv1a64(&bytes[..end]);
        bytes[end..].copy_from_slice(&sum.to_le_bytes());
        match Machine::from_scp(&chip(), &bytes, &Options::default()) {
            Ok(mut m) => {
                let _ = m.run(&Limits { max_steps: 64, check_races: false });
            }
            Err(Error::Fault(f)) => prop_assert!(f.site.is_some()),
            Err(e) => prop_assert!(false, "undecodable code must be a fault, got {e}"),
        }
    }
}
