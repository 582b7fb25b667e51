//! Export then import gives the same graph back, for every zoo model.

use seedchip_onnx::{ExportOptions, ImportOptions};
use seedchip_zoo::ZooOptions;

fn zoo(name: &str) -> seedchip_ir::Graph {
    seedchip_zoo::get(
        name,
        &ZooOptions {
            rows_cap: Some(16),
            seed: 7,
        },
    )
    .unwrap()
}

#[test]
fn every_zoo_model_round_trips_as_text() {
    for info in seedchip_zoo::list() {
        let g = zoo(info.name);
        let model = seedchip_onnx::export(&g, &ExportOptions::default()).unwrap();
        let back = seedchip_onnx::import_model(&model, None, &ImportOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", info.name));
        let (want, got) = (seedchip_ir::print(&g), seedchip_ir::print(&back));
        if want != got {
            let diff: Vec<String> = want
                .lines()
                .zip(got.lines())
                .filter(|(a, b)| a != b)
                .take(5)
                .map(|(a, b)| format!("-{a}\n+{b}"))
                .collect();
            panic!("{}: text differs:\n{}", info.name, diff.join("\n"));
        }
    }
}

/// Ragged bags (no zoo model has them) go out as PyTorch's `Loop` and come back with their
/// pooling and mean-pooling hint; the other ops no zoo model uses round-trip too. (A transpose
/// whose only reader is a matmul's right operand would come back folded into `transpose_b`,
/// as a standalone activation after a linear comes back fused: same computation, other text.)
#[test]
fn ragged_bags_and_remaining_ops_round_trip() {
    use seedchip_ir::{Activation, Dim, GraphBuilder, Pooling, ReduceKind};
    let mut b = GraphBuilder::new("misc");
    b.set_seed(3);
    let x = b.dense_input("dense", 8);
    let sum = b.embedding_bag_ragged("clicks", 50, 8, Pooling::Sum, 2.5);
    let mean = b.embedding_bag_ragged("views", 40, 8, Pooling::Mean, 4.0);
    let max = b.embedding_bag("tags", 30, 8, Pooling::Max, 3);
    let h = b.named("h").linear(x, 8, Activation::Tanh);
    let g = b.named("g").linear(h, 8, Activation::Gelu);
    let s = b.named("s").linear(g, 8, Activation::Silu);
    let n = b.unary(seedchip_ir::UnaryOp::Neg, s);
    let e = b.unary(seedchip_ir::UnaryOp::Exp, n);
    let d = b.div(e, sum);
    let z = b.dot_interaction(&[d, mean, max], true);
    let st = b.concat(&[d, mean, max], 1);
    let st = b.reshape(st, vec![Dim::Batch, Dim::Fixed(3), Dim::Fixed(8)]);
    let tr = b.transpose(st, vec![0, 2, 1]);
    let mm = b.matmul(tr, st, false);
    let mt = b.matmul(tr, tr, true);
    let both = b.sub(mt, mm);
    let r = b.reduce(both, ReduceKind::Max, 2);
    let sm = b.softmax(r, 1);
    let out = b.concat(&[sm, z], 1);
    b.output("out", out);
    let g = b.finish().unwrap();
    let model = seedchip_onnx::export(&g, &ExportOptions::default()).unwrap();
    let back = seedchip_onnx::import_model(&model, None, &ImportOptions::default()).unwrap();
    assert_eq!(seedchip_ir::print(&back), seedchip_ir::print(&g));
}
