//! Hand-built graphs shared by the tests.

use seedchip_ir::*;

/// Every op at least once, with small shapes.
pub fn all_ops() -> Graph {
    let mut b = GraphBuilder::new("all-ops");
    b.set_seed(11);
    let x = b.dense_input("dense", 6);
    let h = b
        .named("bot")
        .mlp(x, &[8, 4], Activation::Relu, Activation::Gelu);
    let e0 = b.embedding_bag("t0", 20, 4, Pooling::Sum, 3);
    let e1 = b.embedding_bag("t1", 7, 4, Pooling::Max, 1);
    let e2 = b.embedding_bag_ragged("t2", 9, 4, Pooling::Mean, 2.5);
    let z = b.named("inter").dot_interaction(&[h, e0, e1, e2], false);
    let zs = b.dot_interaction(&[h, e0], true);
    let cat = b.concat(&[h, e0, e1, e2], 1);
    let c = b.named("cross").cross_net(cat, 2, 3);
    let ln = b.layer_norm(c, 1e-5);
    let st = b.reshape(cat, vec![Dim::Batch, Dim::Fixed(4), Dim::Fixed(4)]);
    let z3 = b.dot_interaction(&[st], false);
    let tr = b.transpose(st, vec![0, 2, 1]);
    let fl = b.flatten(tr, 1);
    let sl = b.slice(fl, 1, 2, 10);
    let parts = b.split(sl, 1, &[3, 5]);
    let sm = b.softmax(parts[0], 1);
    let red = b.reduce(st, ReduceKind::Mean, 1);
    let mm = b.matmul(st, tr, false);
    let mmt = b.matmul(st, st, true);
    let w = b.param(
        "proj",
        &[4, 4],
        Init::Data {
            values: (0..16).map(|i| i as f32 * 0.125 - 1.0).collect(),
        },
    );
    let mm2 = b.matmul(red, w, false);
    let s1 = b.sub(mm2, red);
    let d1 = b.div(s1, e1);
    let m1 = b.mul(d1, e0);
    let a1 = b.add(m1, h);
    let th = b.unary(UnaryOp::Tanh, a1);
    let si = b.unary(UnaryOp::Silu, th);
    let ng = b.unary(UnaryOp::Neg, si);
    let ex = b.unary(UnaryOp::Exp, ng);
    let sg = b.sigmoid(ex);
    let beh = b.sparse_input("behaviours", 5);
    let tab = b.embedding_table("items", 30, 4);
    let cand_idx = b.sparse_input("candidate", 1);
    let cand = b.bag(tab, cand_idx, None, Pooling::Sum);
    let keys = b.embedding(tab, beh);
    let ta = b.target_attention(cand, keys, &[6], Activation::Sigmoid);
    let q = b.linear_no_bias(keys, 8, Activation::Silu);
    let k = b.linear_no_bias(keys, 8, Activation::Silu);
    let v = b.linear_no_bias(keys, 4, Activation::None);
    let att = b.seq_attention([q, k, v], 2, AttentionKernel::Silu, true, 0.5);
    let att2 = b.seq_attention([q, k, v], 2, AttentionKernel::Softmax, false, 0.35355338);
    let bias = b.param("one", &[], Init::Fill { value: 1.0 });
    let shifted = b.add(att2, bias);
    for (name, v) in [
        ("z", z),
        ("zs", zs),
        ("ln", ln),
        ("z3", z3),
        ("sm", sm),
        ("tail", parts[1]),
        ("mm", mm),
        ("mmt", mmt),
        ("sg", sg),
        ("ta", ta),
        ("att", att),
        ("shifted", shifted),
    ] {
        b.output(name, v);
    }
    b.finish().unwrap()
}

/// MLPerf DLRM-v2 (DCNv2) at full size, as in reference/hardware-and-workloads.md B.1.
pub const DLRM_V2_ROWS: [u64; 26] = [
    40_000_000, 39_060, 17_295, 7_424, 20_265, 3, 7_122, 1_543, 63, 40_000_000, 3_067_956, 405_282,
    10, 2_209, 11_938, 155, 4, 976, 14, 40_000_000, 40_000_000, 40_000_000, 590_152, 12_973, 108,
    36,
];
pub const DLRM_V2_HOTNESS: [u64; 26] = [
    3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1,
];

pub fn dlrm_v2() -> Graph {
    let mut b = GraphBuilder::new("dlrm-v2");
    let x = b.dense_input("dense", 13);
    let bot = b
        .named("bot")
        .mlp(x, &[512, 256, 128], Activation::Relu, Activation::Relu);
    let mut feats = vec![bot];
    for (i, (&rows, &hot)) in DLRM_V2_ROWS.iter().zip(&DLRM_V2_HOTNESS).enumerate() {
        feats.push(b.embedding_bag(&format!("cat{i}"), rows, 128, Pooling::Sum, hot));
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

/// MLPerf DLRM (v1, Criteo Terabyte, dot interaction), B.2.
pub fn dlrm_v1() -> Graph {
    let rows: [u64; 26] = [
        39_884_406, 39_043, 17_289, 7_420, 20_263, 3, 7_120, 1_543, 63, 38_532_951, 2_953_546,
        403_346, 10, 2_208, 11_938, 155, 4, 976, 14, 39_979_771, 25_641_295, 39_664_984, 585_935,
        12_972, 108, 36,
    ];
    let mut b = GraphBuilder::new("dlrm-v1");
    let x = b.dense_input("dense", 13);
    let bot = b
        .named("bot")
        .mlp(x, &[512, 256, 128], Activation::Relu, Activation::Relu);
    let mut feats = vec![bot];
    for (i, &r) in rows.iter().enumerate() {
        feats.push(b.embedding_bag(&format!("cat{i}"), r, 128, Pooling::Sum, 1));
    }
    let z = b.dot_interaction(&feats, false);
    let t = b.concat(&[bot, z], 1);
    let p = b.named("top").mlp(
        t,
        &[1024, 1024, 512, 256, 1],
        Activation::Relu,
        Activation::Sigmoid,
    );
    b.output("prob", p);
    b.finish().unwrap()
}
