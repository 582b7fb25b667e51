//! Shared helpers: fixture paths, running the reference, comparing outputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use seedchip_ir::{Graph, Op};
use seedchip_ref::npz::read_npz;
use seedchip_ref::{Executor, Options, Tensor};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn run_ref(g: &Graph, inputs: &BTreeMap<String, Tensor>) -> BTreeMap<String, Tensor> {
    let exec = Executor::new(g, &Options::default()).unwrap();
    exec.run(inputs).unwrap()
}

pub fn npz(path: &Path) -> BTreeMap<String, Tensor> {
    read_npz(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every output within 1e-5 relative of the expected one (1e-8 absolute near zero).
pub fn assert_close(got: &BTreeMap<String, Tensor>, want: &BTreeMap<String, Tensor>, what: &str) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: output names"
    );
    for (name, w) in want {
        let g = &got[name];
        assert_eq!(g.shape(), w.shape(), "{what}/{name}: shape");
        let (gv, wv) = (g.as_f32().unwrap(), w.as_f32().unwrap());
        for (i, (a, b)) in gv.iter().zip(wv).enumerate() {
            let tol = 1e-5 * b.abs().max(1e-3);
            assert!(
                (a - b).abs() <= tol,
                "{what}/{name}[{i}]: {a} vs expected {b} (|diff| {} > {tol})",
                (a - b).abs()
            );
        }
    }
}

/// How many nodes run `pred`.
pub fn count(g: &Graph, pred: impl Fn(&Op, usize) -> bool) -> usize {
    g.nodes
        .iter()
        .filter(|n| pred(&n.op, n.inputs.len()))
        .count()
}
