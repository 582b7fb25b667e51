//! Full-size structure: embedding tables must not be materialized.

use seedchip_ir::*;
use seedchip_ref::{Executor, Options, synthetic_inputs};

const ROWS: [u64; 26] = [
    40_000_000, 39_060, 17_295, 7_424, 20_265, 3, 7_122, 1_543, 63, 40_000_000, 3_067_956, 405_282,
    10, 2_209, 11_938, 155, 4, 976, 14, 40_000_000, 40_000_000, 40_000_000, 590_152, 12_973, 108,
    36,
];
const HOT: [u64; 26] = [
    3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1,
];

fn dlrm_v2() -> Graph {
    let mut b = GraphBuilder::new("dlrm-v2");
    let x = b.dense_input("dense", 13);
    let bot = b
        .named("bot")
        .mlp(x, &[512, 256, 128], Activation::Relu, Activation::Relu);
    let mut feats = vec![bot];
    for (i, (&r, &h)) in ROWS.iter().zip(&HOT).enumerate() {
        feats.push(b.embedding_bag(&format!("cat{i}"), r, 128, Pooling::Sum, h));
    }
    let x0 = b.concat(&feats, 1);
    let c = b.named("cross").cross_net(x0, 3, 512);
    let p = b.named("top").mlp(
        c,
        &[1024, 1024, 512, 256, 1],
        Activation::Relu,
        Activation::Sigmoid,
    );
    b.output("prob", p);
    b.finish().unwrap()
}

#[test]
fn dlrm_v2_full_size_runs_without_materializing_tables() {
    let g = dlrm_v2();
    let ex = Executor::new(&g, &Options::default()).unwrap();
    // Dense weights (16 M floats, 64 MB) plus the tables under 64 MB (~60 MB), not 104 GB.
    assert!(
        ex.materialized_bytes() < 200 << 20,
        "{}",
        ex.materialized_bytes()
    );
    let inputs = synthetic_inputs(&g, 3, 5).unwrap();
    let out = ex.run(&inputs).unwrap();
    let p = out["prob"].as_f32().unwrap();
    assert!(p.iter().all(|v| (0.0..=1.0).contains(v)));
    crate::check_inputs(&g, &inputs);
}
