//! The functional simulator on random programs: whatever a decodable program does — operands
//! out of bounds, tiles larger than the array, NaN immediates, semaphores that never arrive —
//! the machine loads it or refuses it with an error, and a run ends in a typed fault or a result
//! within the step bound. Never a panic, never a hang, never an allocation beyond the chip.
//!
//! The input bytes drive a generator built from the instruction table (opcode, dtypes, then
//! each field by kind, biased towards small in-range values), so almost every input is a
//! program and all instructions, present and future, are covered. When the first byte is odd,
//! the remaining bytes are instead decoded as a raw instruction stream.
//!
//! Run: `cargo fuzz run -s none funcsim_random` (stable toolchains need `-s none`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use seedchip_chip::{Chip, Precision};
use seedchip_funcsim::{Limits, Machine, Options};
use seedchip_isa::{
    Code, DType, DataSegment, Distribution, F32Imm, Instruction, Program, Table, TableSource,
    Target, chip_fingerprint, decode_stream, instructions,
};

/// Instructions executed before the step-limit fault.
const MAX_STEPS: u64 = 256;

/// A two-core chip with small memories (64 KiB local, 256 KiB shared, 16 MiB HBM) and a 16×16
/// array, so every size fault is cheap to provoke (the funcsim test chip).
fn chip() -> Chip {
    let mut c = seedchip_chip::presets::get("seedchip-v1").expect("preset");
    c.name = "funcsim-fuzz".into();
    c.cores.count = 2;
    c.cores.local_sram_bytes = 64 << 10;
    c.shared_sram.capacity_bytes = 256 << 10;
    c.memory.capacity_bytes = 16 << 20;
    for u in &mut c.cores.matrix_units {
        u.rows = 16;
        u.cols = 16;
    }
    c
}

/// The fuzzer's bytes as a source of choices; zeros once exhausted.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn below(&mut self, n: usize) -> usize {
        usize::from(self.u8()) % n.max(1)
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn sem(b: &mut Bytes) -> u8 {
    let s = b.u8();
    if s & 0x40 == 0 { s & 3 } else { 0x80 | (s & 3) }
}

/// One instruction chosen by the bytes, field by field from the instruction table.
fn instruction(b: &mut Bytes) -> Option<Instruction> {
    let infos: Vec<_> = instructions().collect();
    let info = infos[b.below(infos.len())];
    let mut e = vec![0u8; info.size];
    e[0] = info.opcode.code();
    for (i, slot) in info.dtypes.iter().enumerate() {
        e[1] |= slot.allowed[b.below(slot.allowed.len())].code() << (4 * i);
    }
    let flags = b.u8();
    if flags & 7 == 0 {
        e[2] = sem(b);
        e[4..8].copy_from_slice(&u32::from(b.u8() % 3).to_le_bytes());
    } else {
        e[2] = 0xFF;
    }
    e[3] = if flags & 0x18 == 0 { sem(b) } else { 0xFF };
    for f in info.fields {
        let at = f.offset;
        match f.kind {
            "addr" | "addr?" => {
                let k = b.u8();
                if f.kind == "addr?" && k & 3 == 3 {
                    e[at] = 0xFF;
                    continue;
                }
                e[at] = k % 3;
                let off = match b.u8() {
                    0 => u64::MAX - u64::from(b.u8()),
                    1 => b.u64(),
                    x => u64::from(u16::from_le_bytes([x, b.u8()])) & !3,
                };
                e[at + 1..at + 9].copy_from_slice(&off.to_le_bytes());
            }
            "u32" => {
                let v = match b.u8() {
                    0 => u32::MAX - u32::from(b.u8()),
                    1 => b.u32(),
                    2 => u32::from(u16::from_le_bytes([b.u8(), b.u8()])),
                    x => u32::from(x % 20),
                };
                e[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            "i32" => {
                let v = match b.u8() {
                    0 => b.u32() as i32,
                    x => i32::from(x as i8) % 63,
                };
                e[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            "bool" => e[at] = b.u8() & 1,
            "f32" => {
                let v = [0.5f32, -2.0, f32::NAN, f32::INFINITY, 1e30, 0.0, -0.0, 1e-40]
                    [b.below(8)];
                e[at..at + 4].copy_from_slice(&v.to_bits().to_le_bytes());
            }
            "sem" => e[at] = sem(b),
            "gsem" => e[at] = b.u8() % 16,
            _ => {
                for x in &mut e[at..at + f.size] {
                    *x = b.u8();
                }
            }
        }
    }
    // The generator only writes encodable fields, but whatever does not decode is skipped:
    // the raw mode covers undecodable bytes.
    Instruction::decode(&e).ok().map(|(i, _)| i)
}

fn program(chip: &Chip, code: Vec<Vec<Instruction>>) -> Program {
    let mut p = Program::new(Target {
        chip: chip.name.clone(),
        fingerprint: chip_fingerprint(chip),
        precision: Precision::Int8,
        batch: 1,
    });
    for (core, insts) in code.into_iter().enumerate() {
        let mut c = Code::default();
        for i in insts {
            c.push(i, None);
        }
        p.code.insert(core as u32, c);
    }
    // Ids 0..15 and a few large ones, as i32, for gathers to read.
    let mut ids: Vec<u8> = (0..16i32).flat_map(|v| v.to_le_bytes()).collect();
    ids.extend([-1i32, 63, 64, i32::MAX].iter().flat_map(|v| v.to_le_bytes()));
    p.data.push(DataSegment {
        label: "ids".into(),
        hbm: 0x4000,
        bytes: ids,
    });
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

fuzz_target!(|data: &[u8]| {
    let chip = chip();
    let mut b = Bytes(data);
    let mode = b.u8();
    let check_races = mode & 2 != 0;
    let cores = 1 + usize::from(mode & 4 != 0);
    let code = if mode & 1 == 1 {
        // Raw: split the rest between the cores and decode each part as a stream.
        let rest = b.0;
        let half = rest.len() / cores;
        let mut code = Vec::new();
        for c in 0..cores {
            let part = if c + 1 == cores { &rest[c * half..] } else { &rest[c * half..(c + 1) * half] };
            match decode_stream(part) {
                Ok(insts) => code.push(insts),
                Err(_) => return,
            }
        }
        code
    } else {
        let mut code = vec![Vec::new(); cores];
        let mut core = 0;
        while !b.is_empty() && code.iter().map(Vec::len).sum::<usize>() < 64 {
            if let Some(i) = instruction(&mut b) {
                code[core].push(i);
            }
            core = (core + 1) % cores;
        }
        code
    };
    let p = program(&chip, code);
    let Ok(mut m) = Machine::with_options(&chip, &p, &Options { threads: Some(1), ..Options::default() }) else {
        return;
    };
    let limits = Limits { max_steps: MAX_STEPS, check_races };
    if let Ok(stats) = m.run(&limits) {
        assert!(stats.instructions <= MAX_STEPS, "ran {} steps", stats.instructions);
    }
});
