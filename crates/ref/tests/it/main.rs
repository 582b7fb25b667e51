//! Integration tests of `seedchip-ref`: every op against the f64 oracle, determinism across
//! thread counts, input validation, npz I/O and full-size memory behaviour.

mod determinism;
mod errors;
mod fixtures;
mod models;
mod npz_io;
mod ops;
mod zoo_models;

use std::collections::BTreeMap;

use seedchip_ref::oracle::{self, compare};
use seedchip_ref::{Executor, Options, Tensor, synthetic_inputs};

/// Runs `g` on synthetic inputs with the executor and the oracle; returns the worst relative
/// error over all outputs.
pub fn check_against_oracle(g: &seedchip_ir::Graph, batch: usize, seed: u64) -> f64 {
    let inputs = synthetic_inputs(g, batch, seed).unwrap();
    check_inputs(g, &inputs)
}

pub fn check_inputs(g: &seedchip_ir::Graph, inputs: &BTreeMap<String, Tensor>) -> f64 {
    let ex = Executor::new(
        g,
        &Options {
            threads: Some(2),
            ..Options::default()
        },
    )
    .unwrap();
    let got = ex.run(inputs).unwrap();
    let want = oracle::run(g, inputs, None).unwrap();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    let mut worst = 0.0f64;
    for (name, t) in &got {
        let c = compare(t, &want[name]).unwrap_or_else(|| {
            panic!(
                "output {name}: shape {:?} vs {:?}",
                t.shape(),
                want[name].shape
            )
        });
        assert!(
            c.max_rel <= 1e-5,
            "output {name}: {c:?} in graph\n{}",
            seedchip_ir::print(g)
        );
        worst = worst.max(c.max_rel);
    }
    worst
}
