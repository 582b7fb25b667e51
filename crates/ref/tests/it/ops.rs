//! One small graph per op (and per mode of an op), executor vs oracle.

use proptest::prelude::*;
use seedchip_ir::*;

use crate::check_against_oracle;

fn finish(mut b: GraphBuilder, outs: &[ValueId]) -> Graph {
    for (i, &o) in outs.iter().enumerate() {
        b.output(&format!("out{i}"), o);
    }
    b.finish().unwrap()
}

#[test]
fn linear_all_activations_and_shapes() {
    for (i, act) in Activation::ALL.into_iter().enumerate() {
        let mut b = GraphBuilder::new("lin");
        b.set_seed(i as u64);
        let x = b.dense_input("x", 37);
        let h = b.linear(x, 300, act);
        let h2 = b.linear_no_bias(h, 3, act);
        let g = finish(b, &[h, h2]);
        for batch in [1, 5, 300] {
            check_against_oracle(&g, batch, 3);
        }
    }
}

#[test]
fn linear_on_rank3() {
    let mut b = GraphBuilder::new("lin3");
    let x = b.input("x", TensorType::batched(DType::F32, &[4, 6]));
    let h = b.linear(x, 5, Activation::Tanh);
    check_against_oracle(&finish(b, &[h]), 3, 1);
}

#[test]
fn embedding_bags_every_pooling_and_mode() {
    for pooling in Pooling::ALL {
        let mut b = GraphBuilder::new("bags");
        let e = b.embedding_bag("t", 50, 9, pooling, 4);
        let r = b.embedding_bag_ragged("r", 70, 5, pooling, 2.0);
        let one = b.embedding_bag("one", 3, 2, pooling, 1);
        let g = finish(b, &[e, r, one]);
        for batch in [1, 17, 40] {
            check_against_oracle(&g, batch, 9);
        }
    }
}

#[test]
fn large_tables_stay_procedural_and_agree() {
    let mut b = GraphBuilder::new("big");
    let e = b.embedding_bag("t", 5_000_000, 16, Pooling::Sum, 3);
    let g = finish(b, &[e]);
    let opts = seedchip_ref::Options {
        materialize_table_bytes: 1 << 20,
        ..Default::default()
    };
    let ex = seedchip_ref::Executor::new(&g, &opts).unwrap();
    assert_eq!(ex.materialized_bytes(), 0);
    let inputs = seedchip_ref::synthetic_inputs(&g, 8, 1).unwrap();
    let got = ex.run(&inputs).unwrap();
    let want = seedchip_ref::oracle::run(&g, &inputs, None).unwrap();
    let c = seedchip_ref::oracle::compare(&got["out0"], &want["out0"]).unwrap();
    assert!(c.max_rel < 1e-6, "{c:?}");
}

#[test]
fn interactions_and_cross() {
    let mut b = GraphBuilder::new("inter");
    let x = b.dense_input("x", 8);
    let h = b.linear(x, 6, Activation::Relu);
    let e0 = b.embedding_bag("a", 20, 6, Pooling::Sum, 2);
    let e1 = b.embedding_bag("b", 20, 6, Pooling::Mean, 3);
    let z = b.dot_interaction(&[h, e0, e1], false);
    let zs = b.dot_interaction(&[h, e0, e1], true);
    let cat = b.concat(&[h, e0, e1], 1);
    let st = b.reshape(cat, vec![Dim::Batch, Dim::Fixed(3), Dim::Fixed(6)]);
    let z3 = b.dot_interaction(&[st], false);
    let c = b.cross_net(cat, 3, 4);
    let g = finish(b, &[z, zs, z3, c]);
    for batch in [1, 70] {
        check_against_oracle(&g, batch, 4);
    }
}

#[test]
fn elementwise_broadcasting() {
    let mut b = GraphBuilder::new("bcast");
    let x = b.input("x", TensorType::batched(DType::F32, &[3, 4]));
    let y = b.input("y", TensorType::batched(DType::F32, &[1, 4]));
    let row = b.param("row", &[4], Init::uniform(1, 2.0));
    let col = b.param(
        "col",
        &[3, 1],
        Init::Data {
            values: vec![0.5, -1.0, 2.0],
        },
    );
    let s = b.param("s", &[], Init::Fill { value: 3.0 });
    let pos = b.param(
        "pos",
        &[3, 4],
        Init::Data {
            values: (1..=12).map(|i| i as f32).collect(),
        },
    );
    let mut outs = vec![];
    for (op, rhs) in [
        (BinaryOp::Add, y),
        (BinaryOp::Sub, row),
        (BinaryOp::Mul, col),
        (BinaryOp::Div, s),
        (BinaryOp::Div, pos),
    ] {
        outs.push(b.binary(op, x, rhs));
    }
    // Broadcast on the left operand too.
    outs.push(b.binary(BinaryOp::Sub, row, x));
    for u in UnaryOp::ALL {
        outs.push(b.unary(u, x));
    }
    let g = finish(b, &outs);
    for batch in [1, 9] {
        check_against_oracle(&g, batch, 5);
    }
}

#[test]
fn data_movement() {
    let mut b = GraphBuilder::new("move");
    let x = b.input("x", TensorType::batched(DType::F32, &[2, 3, 4]));
    let t = b.transpose(x, vec![0, 3, 1, 2]);
    let t2 = b.transpose(x, vec![2, 0, 3, 1]);
    let f = b.flatten(x, 2);
    let r = b.reshape(x, vec![Dim::Fixed(2), Dim::Batch, Dim::Fixed(12)]);
    let sl = b.slice(x, 2, 1, 3);
    let parts = b.split(x, 3, &[1, 3]);
    let c = b.concat(&[x, x], 2);
    let c0 = b.concat(&[f, f], 2);
    let g = finish(b, &[t, t2, f, r, sl, parts[0], parts[1], c, c0]);
    for batch in [1, 4] {
        check_against_oracle(&g, batch, 6);
    }
}

#[test]
fn norms_softmax_reduce_matmul() {
    let mut b = GraphBuilder::new("misc");
    let x = b.input("x", TensorType::batched(DType::F32, &[3, 5]));
    let ln = b.layer_norm(x, 1e-5);
    let sm1 = b.softmax(x, 1);
    let sm2 = b.softmax(x, 2);
    let mut outs = vec![ln, sm1, sm2];
    for k in ReduceKind::ALL {
        outs.push(b.reduce(x, k, 1));
        outs.push(b.reduce(x, k, 2));
    }
    let y = b.input("y", TensorType::batched(DType::F32, &[5, 2]));
    outs.push(b.matmul(x, y, false));
    outs.push(b.matmul(x, x, true));
    let w = b.param("w", &[5, 7], Init::uniform(3, 0.5));
    outs.push(b.matmul(x, w, false));
    let wt = b.param("wt", &[7, 5], Init::uniform(4, 0.5));
    outs.push(b.matmul(x, wt, true));
    let g = finish(b, &outs);
    for batch in [1, 6] {
        check_against_oracle(&g, batch, 7);
    }
}

#[test]
fn attention_ops() {
    let mut b = GraphBuilder::new("attn");
    let items = b.embedding_table("items", 100, 8);
    let cand_idx = b.sparse_input("cand", 1);
    let beh_idx = b.sparse_input("beh", 7);
    let cand = b.bag(items, cand_idx, None, Pooling::Sum);
    let keys = b.embedding(items, beh_idx);
    let mut outs = vec![keys];
    for act in [Activation::Sigmoid, Activation::Relu] {
        outs.push(b.target_attention(cand, keys, &[12, 5], act));
    }
    let q = b.linear_no_bias(keys, 8, Activation::None);
    let k = b.linear_no_bias(keys, 8, Activation::None);
    let v = b.linear_no_bias(keys, 6, Activation::None);
    for kernel in AttentionKernel::ALL {
        for causal in [false, true] {
            outs.push(b.seq_attention([q, k, v], 2, kernel, causal, 0.7));
        }
    }
    let g = finish(b, &outs);
    for batch in [1, 20] {
        check_against_oracle(&g, batch, 8);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Random small DLRM-shaped models agree with the oracle.
    #[test]
    fn random_dlrms_agree(
        dense in 1u64..16,
        mlp in prop::collection::vec(1u64..40, 1..3),
        tables in prop::collection::vec((1u64..500, 1u64..6, 0usize..3), 1..4),
        batch in 1usize..40,
        seed in any::<u64>(),
        interact in any::<bool>(),
    ) {
        let mut b = GraphBuilder::new("rand");
        b.set_seed(seed);
        let x = b.dense_input("x", dense);
        let h = b.mlp(x, &mlp, Activation::Relu, Activation::Relu);
        let d = *mlp.last().unwrap();
        let mut feats = vec![h];
        for (i, &(rows, hot, p)) in tables.iter().enumerate() {
            feats.push(b.embedding_bag(&format!("t{i}"), rows, d, Pooling::ALL[p], hot));
        }
        let top_in = if interact {
            let z = b.dot_interaction(&feats, false);
            b.concat(&[h, z], 1)
        } else {
            let c = b.concat(&feats, 1);
            b.cross_layer(c, c, 3)
        };
        let p = b.mlp(top_in, &[7, 1], Activation::Relu, Activation::Sigmoid);
        b.output("p", p);
        let g = b.finish().unwrap();
        check_against_oracle(&g, batch, seed ^ 1);
    }
}
