//! Random instructions and programs, generated from the instruction table itself so that a new
//! instruction is covered without touching the tests.

use proptest::prelude::*;
use seedchip_isa::{
    Addr, ChipSem, Code, DType, DataSegment, Direction, Distribution, F32Imm, Inst, Instruction,
    Opcode, Program, Sem, Space, Table, TableSource, Target,
};

/// Turns random words into one operand value, with edge values (0, MAX, every code) reachable
/// and small values likely after shrinking.
pub trait Gen: Sized {
    fn generate(words: &mut Words) -> Self;
}

pub struct Words {
    words: Vec<u64>,
    pos: usize,
}

impl Words {
    pub fn new(words: Vec<u64>) -> Words {
        Words { words, pos: 0 }
    }
    pub fn next(&mut self) -> u64 {
        let w = self.words.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        // Fold a few special values in: the top bits choose between the raw word and extremes.
        match w >> 60 {
            0 => 0,
            1 => u64::MAX,
            2 => w & 0xFF,
            _ => w,
        }
    }
}

macro_rules! gen_uint {
    ($($t:ty),*) => {$(
        impl Gen for $t {
            fn generate(w: &mut Words) -> Self {
                w.next() as $t
            }
        }
    )*};
}
gen_uint!(u8, u16, u32, u64, i32);

impl Gen for bool {
    fn generate(w: &mut Words) -> Self {
        w.next() & 1 == 1
    }
}

impl Gen for F32Imm {
    fn generate(w: &mut Words) -> Self {
        F32Imm::from_bits(w.next() as u32)
    }
}

impl Gen for Addr {
    fn generate(w: &mut Words) -> Self {
        let space = Space::ALL[(w.next() % 3) as usize];
        Addr::new(space, w.next())
    }
}

impl Gen for Option<Addr> {
    fn generate(w: &mut Words) -> Self {
        if w.next() & 1 == 0 {
            None
        } else {
            Some(Addr::generate(w))
        }
    }
}

impl Gen for Sem {
    fn generate(w: &mut Words) -> Self {
        let i = (w.next() % 48) as u8;
        if i < 32 {
            Sem::CORE[i as usize]
        } else {
            Sem::CHIP[(i - 32) as usize]
        }
    }
}

impl Gen for ChipSem {
    fn generate(w: &mut Words) -> Self {
        ChipSem::new((w.next() % 16) as u8).unwrap()
    }
}

macro_rules! gen_insts {
    ( $(
        $(#[doc = $doc:literal])*
        $op:literal $name:ident $mnem:literal $queue:ident
        [ $( $slot:ident : $( $dtv:ident )|+ ),* ]
        { $( $(#[doc = $fdoc:literal])* $field:ident : $fty:ty ),* $(,)? }
    )* ) => {
        /// An instruction of opcode `op` built from random words; dtypes drawn from the allowed
        /// ones.
        pub fn inst_from_words(op: Opcode, w: &mut Words) -> Inst {
            match op {
                $( Opcode::$name => {
                    $( let $slot = {
                        let allowed = [ $( DType::$dtv ),+ ];
                        allowed[(w.next() % allowed.len() as u64) as usize]
                    }; )*
                    $( let $field = <$fty as Gen>::generate(w); )*
                    Inst::$name { $( $slot, )* $( $field, )* }
                } )*
            }
        }
    };
}
seedchip_isa::for_each_inst!(gen_insts);

pub fn arb_inst() -> impl Strategy<Value = Inst> {
    (
        0..Opcode::ALL.len(),
        prop::collection::vec(any::<u64>(), 48),
    )
        .prop_map(|(i, words)| inst_from_words(Opcode::ALL[i], &mut Words::new(words)))
}

pub fn arb_sem() -> impl Strategy<Value = Sem> {
    any::<u64>().prop_map(|w| Sem::generate(&mut Words::new(vec![w])))
}

pub fn arb_instruction() -> impl Strategy<Value = Instruction> {
    (
        arb_inst(),
        prop::option::of((arb_sem(), any::<u32>())),
        prop::option::of(arb_sem()),
    )
        .prop_map(|(inst, wait, signal)| {
            let mut i = Instruction::new(inst);
            if let Some((sem, value)) = wait {
                i = i.with_wait(sem, value);
            }
            if let Some(s) = signal {
                i = i.with_signal(s);
            }
            i
        })
}

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_.0-9]{0,12}",
        any::<String>(),
        Just("quote \" back\\slash # ; node\n".to_string()),
    ]
}

fn arb_code() -> impl Strategy<Value = Code> {
    prop::collection::vec((arb_instruction(), prop::option::of(arb_string())), 0..12).prop_map(
        |items| {
            let mut code = Code::default();
            for (i, node) in items {
                code.push(i, node.as_deref());
            }
            code
        },
    )
}

/// Random valid programs: HBM contents laid out back to back so they never overlap.
pub fn arb_program() -> impl Strategy<Value = Program> {
    let target = (arb_string(), any::<u64>(), 0..8usize, any::<u32>()).prop_map(
        |(chip, fingerprint, p, batch)| Target {
            chip,
            fingerprint,
            precision: seedchip_chip::Precision::ALL[p],
            batch,
        },
    );
    let code = prop::collection::btree_map(0u32..64, arb_code(), 0..4);
    let data = prop::collection::vec(
        (arb_string(), prop::collection::vec(any::<u8>(), 0..80)),
        0..4,
    );
    let tables = prop::collection::vec(
        (
            0..4usize,
            1u32..6,
            0u64..5,
            any::<bool>(),
            any::<u64>(),
            arb_string(),
            0.0f32..1.0,
            any::<u8>(),
        ),
        0..4,
    );
    let bindings = prop::collection::vec(
        (
            any::<bool>(),
            arb_string(),
            0..8usize,
            prop::collection::vec(0u64..100, 0..4),
            any::<bool>(),
            0u64..1 << 40,
        ),
        0..4,
    );
    (target, code, data, tables, bindings).prop_map(|(target, code, data, tables, bindings)| {
        let mut next_hbm = 0x1000u64;
        let mut p = Program::new(target);
        p.code = code;
        for (label, bytes) in data {
            let hbm = next_hbm;
            next_hbm += bytes.len() as u64 + 64;
            p.data.push(DataSegment { label, hbm, bytes });
        }
        for (i, (dt, dim, rows, stored, seed, param, bound, fill)) in tables.into_iter().enumerate()
        {
            let dtype = [DType::F32, DType::F16, DType::Bf16, DType::Emb8][dt];
            let size = dtype.row_bytes(u64::from(dim)).unwrap() * rows;
            let source = if stored {
                TableSource::Bytes(vec![fill; size as usize])
            } else {
                TableSource::Procedural {
                    seed,
                    param,
                    dist: Distribution::Uniform {
                        bound: F32Imm::new(bound),
                    },
                }
            };
            let hbm = next_hbm;
            next_hbm += size + 8;
            p.tables.push(Table {
                name: format!("t{i}"),
                hbm,
                rows,
                dim,
                dtype,
                source,
            });
        }
        for (i, (input, name, dt, shape, shared, offset)) in bindings.into_iter().enumerate() {
            let dtype = DType::ALL[dt];
            p.bindings.push(seedchip_isa::Binding {
                direction: if input {
                    Direction::Input
                } else {
                    Direction::Output
                },
                name: format!("{name}{i}"),
                dtype,
                shape,
                addr: Addr::new(if shared { Space::Shared } else { Space::Hbm }, offset),
            });
        }
        p
    })
}
