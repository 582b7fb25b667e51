//! Shared helpers: a small test chip, loading `tests/programs/*.s`, tensors.

use std::path::PathBuf;

use seedchip_chip::Chip;
use seedchip_funcsim::{Fault, FaultKind, Limits, Machine, Stats};
use seedchip_isa::{Program, chip_fingerprint};
use seedchip_ref::Tensor;

/// A two-core chip with small memories (64 KiB local, 256 KiB shared, 16 MiB HBM) and a 16×16
/// array, so bounds and size faults are cheap to provoke.
pub fn chip() -> Chip {
    let mut c = seedchip_chip::presets::get("seedchip-v1").expect("preset");
    c.name = "funcsim-test".into();
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

/// Assembles `tests/programs/<name>.s` for [`chip`] (listings carry `fingerprint=0x0`; the
/// real one is filled in here).
pub fn program(name: &str) -> Program {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs")
        .join(format!("{name}.s"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut p = Program::assemble(&text).unwrap_or_else(|e| panic!("{name}.s: {e}"));
    p.target.fingerprint = chip_fingerprint(&chip());
    p
}

pub fn machine(name: &str) -> Machine {
    Machine::new(&chip(), &program(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

pub fn run(m: &mut Machine) -> Stats {
    m.run(&Limits::default()).unwrap_or_else(|f| panic!("{f}"))
}

pub fn fault(m: &mut Machine) -> Fault {
    match m.run(&Limits::default()) {
        Ok(_) => panic!("the program ran without a fault"),
        Err(f) => f,
    }
}

pub fn kind(m: &mut Machine) -> FaultKind {
    fault(m).kind
}

pub fn f32s(shape: &[usize], data: Vec<f32>) -> Tensor {
    Tensor::from_f32(shape.to_vec(), data).expect("shape matches data")
}

pub fn i32s(shape: &[usize], data: Vec<i32>) -> Tensor {
    Tensor::from_i32(shape.to_vec(), data).expect("shape matches data")
}

pub fn out_f32(m: &Machine, name: &str) -> Vec<f32> {
    m.read_output(name)
        .unwrap_or_else(|e| panic!("{e}"))
        .as_f32()
        .expect("f32 output")
        .to_vec()
}

pub fn out_i32(m: &Machine, name: &str) -> Vec<i32> {
    match m
        .read_output(name)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_data()
    {
        seedchip_ref::TensorData::I32(v) => v,
        other => panic!("expected i32 output, got {other:?}"),
    }
}

/// Deterministic pseudo-random values (SplitMix64), so tests need no RNG crate.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi]`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
    /// Uniform in `[-1, 1)`.
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}
