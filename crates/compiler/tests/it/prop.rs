//! Property: random small graphs (chains of Linear, ReLU, EmbeddingBag — fixed-hotness and
//! ragged — and Concat with random shapes) compile for random chip shapes and compute what the
//! f32 reference computes.

use proptest::prelude::*;
use seedchip_chip::{Chip, Precision, presets};
use seedchip_ir::{Activation, Graph, GraphBuilder, Pooling};

use crate::support::check;

#[derive(Debug, Clone)]
enum Step {
    Linear {
        out: u64,
        relu: bool,
    },
    Relu,
    /// Concatenates a fresh embedding bag.
    Bag {
        rows: u64,
        dim: u64,
        hotness: u64,
        pooling: u8,
        /// Ids and offsets inputs (PyTorch `EmbeddingBag` with offsets), mean bag size
        /// `hotness / 2` (so some bags are empty).
        ragged: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1u64..70, any::<bool>()).prop_map(|(out, relu)| Step::Linear { out, relu }),
        1 => Just(Step::Relu),
        2 => (2u64..300, 1u64..40, 1u64..6, 0u8..3, any::<bool>())
            .prop_map(|(rows, dim, hotness, pooling, ragged)| Step::Bag {
                rows, dim, hotness, pooling, ragged
            }),
    ]
}

fn graph(dense: u64, steps: &[Step], out: u64, seed: u64) -> Graph {
    let mut b = GraphBuilder::new("random");
    b.set_seed(seed);
    let mut x = b.dense_input("dense", dense);
    for (i, s) in steps.iter().enumerate() {
        x = match *s {
            Step::Linear { out, relu } => {
                let act = if relu {
                    Activation::Relu
                } else {
                    Activation::None
                };
                b.named(format!("fc{i}")).linear(x, out, act)
            }
            Step::Relu => b.relu(x),
            Step::Bag {
                rows,
                dim,
                hotness,
                pooling,
                ragged,
            } => {
                let p = [Pooling::Sum, Pooling::Mean, Pooling::Max][pooling as usize];
                let e = if ragged {
                    b.embedding_bag_ragged(&format!("t{i}"), rows, dim, p, hotness as f64 / 2.0)
                } else {
                    b.embedding_bag(&format!("t{i}"), rows, dim, p, hotness)
                };
                b.concat(&[x, e], 1)
            }
        };
    }
    let y = b.named("head").linear(x, out, Activation::None);
    b.output("y", y);
    b.finish().unwrap()
}

#[derive(Debug, Clone)]
struct Shape {
    rows: u32,
    cols: u32,
    cores: u32,
    local_kib: u64,
    engines: u32,
    cache_kib: u64,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        prop::sample::select(vec![4u32, 8, 16, 32, 128]),
        prop::sample::select(vec![4u32, 8, 16, 32, 128]),
        1u32..5,
        prop::sample::select(vec![96u64, 256, 4096]),
        prop::sample::select(vec![0u32, 2]),
        prop::sample::select(vec![0u64, 64]),
    )
        .prop_map(|(rows, cols, cores, local_kib, engines, cache_kib)| Shape {
            rows,
            cols,
            cores,
            local_kib,
            engines,
            cache_kib,
        })
}

fn chip(s: &Shape) -> Chip {
    let mut c = presets::get("seedchip-v1").unwrap();
    c.name = "random".into();
    c.cores.count = s.cores;
    c.cores.local_sram_bytes = s.local_kib << 10;
    let u = &mut c.cores.matrix_units[0];
    u.rows = s.rows;
    u.cols = s.cols;
    u.count = Some(1);
    for m in u.macs_per_cycle.values_mut() {
        *m = u64::from(s.rows * s.cols);
    }
    c.shared_sram.capacity_bytes = 8 << 20;
    c.gather.engines = s.engines;
    c.gather.hot_row_cache_bytes = Some(if s.engines > 0 { s.cache_kib << 10 } else { 0 });
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_chains_match_the_reference(
        dense in 1u64..40,
        steps in prop::collection::vec(step(), 1..5),
        out in 4u64..12,
        shape in shape(),
        batch in 2u32..12,
        int8 in any::<bool>(),
        seed in 0u64..1000,
    ) {
        let g = graph(dense, &steps, out, seed);
        let c = chip(&shape);
        // Twice the zoo's acceptance bounds: random chains of up to five unnormalised layers
        // with a handful of outputs accumulate rounding and cancel more than real models. A
        // wrong program is off by O(1).
        let (p, tol) = if int8 { (Precision::Int8, 1e-1) } else { (Precision::Bf16, 2e-2) };
        let ragged = steps.iter().any(|s| matches!(s, Step::Bag { ragged: true, .. }));
        if ragged && shape.engines == 0 {
            // Ragged bags pool in gather engines: without them, a clear refusal.
            let e = seedchip_compiler::compile(&g, &c, &crate::support::options(p, batch))
                .unwrap_err();
            prop_assert!(e.to_string().contains("gather engines"), "{e}");
            return Ok(());
        }
        let (err, _) = check(&g, &c, p, batch, true);
        eprintln!("prop {p} rel-L2 {err:.3e}");
        prop_assert!(err <= tol, "rel-L2 {err} > {tol} for {p}");
    }
}
