//! Compile, run on funcsim and on the f32 reference, compare.

use std::collections::BTreeMap;

use seedchip_chip::{Chip, Precision};
use seedchip_compiler::{CompileOptions, Compiled, compile};
use seedchip_funcsim::{Limits, Machine};
use seedchip_ir::Graph;
use seedchip_ref::{Executor, Options, Tensor};
use seedchip_zoo::{GraphWorkload, InputOptions, TensorData};

pub fn options(p: Precision, batch: u32) -> CompileOptions {
    let mut o = CompileOptions::new(p, batch);
    o.verify = true;
    o.profile_samples = 512;
    o
}

pub fn inputs(g: &Graph, batch: usize, seed: u64) -> BTreeMap<String, Tensor> {
    let w = GraphWorkload::new(
        g,
        &InputOptions {
            seed,
            ..InputOptions::default()
        },
    )
    .unwrap();
    w.batch(0, batch)
        .into_iter()
        .map(|t| {
            let shape: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
            let tensor = match t.data {
                TensorData::F32(v) => Tensor::from_f32(shape, v),
                TensorData::I32(v) => Tensor::from_i32(shape, v),
                TensorData::I64(v) => Tensor::from_i64(shape, v),
            }
            .unwrap();
            (t.name, tensor)
        })
        .collect()
}

/// Outputs of the compiled program on funcsim.
pub fn run_program(
    chip: &Chip,
    c: &Compiled,
    feeds: &BTreeMap<String, Tensor>,
    races: bool,
) -> BTreeMap<String, Vec<f32>> {
    let mut m = Machine::new(chip, &c.program).unwrap();
    let feeds = c.program_inputs(feeds).unwrap();
    for (name, t) in &feeds {
        m.write_input(name, t).unwrap();
    }
    let limits = Limits {
        check_races: races,
        ..Limits::default()
    };
    m.run(&limits).unwrap_or_else(|f| panic!("fault: {f}"));
    c.program
        .bindings
        .iter()
        .filter(|b| b.direction == seedchip_isa::Direction::Output)
        .map(|b| {
            let t = m.read_output(&b.name).unwrap();
            (b.name.clone(), t.as_f32().unwrap().to_vec())
        })
        .collect()
}

pub fn reference(g: &Graph, feeds: &BTreeMap<String, Tensor>) -> BTreeMap<String, Vec<f32>> {
    let e = Executor::new(g, &Options::default()).unwrap();
    e.run(feeds)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.as_f32().unwrap().to_vec()))
        .collect()
}

/// Relative L2 error of every output.
pub fn rel_l2(got: &BTreeMap<String, Vec<f32>>, want: &BTreeMap<String, Vec<f32>>) -> f64 {
    let mut num = 0f64;
    let mut den = 0f64;
    for (k, w) in want {
        let g = &got[k];
        assert_eq!(g.len(), w.len(), "{k}");
        for (a, b) in g.iter().zip(w) {
            num += (f64::from(*a) - f64::from(*b)).powi(2);
            den += f64::from(*b).powi(2);
        }
    }
    (num / den.max(1e-30)).sqrt()
}

/// Compiles and runs `g`; returns the relative L2 error against the reference.
pub fn check(g: &Graph, chip: &Chip, p: Precision, batch: u32, races: bool) -> (f64, Compiled) {
    let c = compile(g, chip, &options(p, batch)).unwrap_or_else(|e| panic!("{}: {e}", g.name));
    let feeds = inputs(g, batch as usize, 0);
    let got = run_program(chip, &c, &feeds, races);
    let want = reference(g, &feeds);
    (rel_l2(&got, &want), c)
}
