use seedchip_ir::*;
use seedchip_ref::{Executor, Options, synthetic_inputs};

/// A model touching every parallel kernel with enough rows for several tiles.
fn model() -> Graph {
    let mut b = GraphBuilder::new("det");
    let x = b.dense_input("x", 13);
    let h = b.mlp(x, &[300, 64], Activation::Relu, Activation::Relu);
    let e0 = b.embedding_bag("a", 1000, 64, Pooling::Sum, 5);
    let e1 = b.embedding_bag_ragged("b", 5000, 64, Pooling::Mean, 3.0);
    let z = b.dot_interaction(&[h, e0, e1], false);
    let cat = b.concat(&[h, e0, e1], 1);
    let c = b.cross_net(cat, 2, 16);
    let ln = b.layer_norm(c, 1e-5);
    let items = b.embedding_table("items", 300, 64);
    let beh = b.sparse_input("beh", 6);
    let keys = b.embedding(items, beh);
    let ta = b.target_attention(h, keys, &[8], Activation::Sigmoid);
    let q = b.linear_no_bias(keys, 64, Activation::Silu);
    let sa = b.seq_attention([q, q, keys], 4, AttentionKernel::Silu, true, 0.125);
    let saf = b.flatten(sa, 1);
    let top = b.concat(&[ln, z, ta, saf], 1);
    let p = b.mlp(top, &[512, 1], Activation::Relu, Activation::Sigmoid);
    b.output("p", p);
    b.output("ln", ln);
    b.finish().unwrap()
}

#[test]
fn identical_bits_for_any_thread_count() {
    let g = model();
    let inputs = synthetic_inputs(&g, 600, 42).unwrap();
    let run = |threads| {
        let ex = Executor::new(
            &g,
            &Options {
                threads: Some(threads),
                materialize_table_bytes: 0,
                ..Options::default()
            },
        )
        .unwrap();
        ex.run(&inputs).unwrap()
    };
    let one = run(1);
    for threads in [2, 3, 7] {
        let many = run(threads);
        for (k, t) in &one {
            assert_eq!(
                t.checksum(),
                many[k].checksum(),
                "output {k} differs with {threads} threads"
            );
        }
    }
    // Materialized and procedural tables give the same bits.
    let ex = Executor::new(
        &g,
        &Options {
            threads: Some(2),
            ..Options::default()
        },
    )
    .unwrap();
    assert!(ex.materialized_bytes() > 0);
    let mat = ex.run(&inputs).unwrap();
    for (k, t) in &one {
        assert_eq!(
            t.checksum(),
            mat[k].checksum(),
            "output {k}: materialized vs procedural"
        );
    }
}

#[test]
fn synthetic_inputs_are_reproducible() {
    let g = model();
    let a = synthetic_inputs(&g, 10, 7).unwrap();
    let b = synthetic_inputs(&g, 10, 7).unwrap();
    let c = synthetic_inputs(&g, 10, 8).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    // Ragged lengths follow the hint (mean 3 → lengths in 0..=6).
    let off = a["b.offsets"].indices().unwrap().into_owned();
    let n = a["b"].numel() as i64;
    let mut lens: Vec<i64> = off.windows(2).map(|w| w[1] - w[0]).collect();
    lens.push(n - off[off.len() - 1]);
    assert!(lens.iter().all(|&l| (0..=6).contains(&l)), "{lens:?}");
}

/// Sample `s` of a batch as a batch of one (rows of batched inputs; its own ragged bag).
fn one_sample(
    inputs: &std::collections::BTreeMap<String, seedchip_ref::Tensor>,
    s: usize,
) -> std::collections::BTreeMap<String, seedchip_ref::Tensor> {
    use seedchip_ref::{Tensor, TensorData};
    let mut out = std::collections::BTreeMap::new();
    let off = inputs["b.offsets"].indices().unwrap().into_owned();
    let n = inputs["b"].numel() as i64;
    for (name, t) in inputs {
        let t = match name.as_str() {
            "b" => {
                let hi = off.get(s + 1).copied().unwrap_or(n) as usize;
                let ids = t.indices().unwrap()[off[s] as usize..hi].to_vec();
                Tensor::from_i64(vec![ids.len()], ids).unwrap()
            }
            "b.offsets" => Tensor::from_i64(vec![1], vec![0]).unwrap(),
            _ => {
                let per = t.numel() / t.shape()[0];
                let mut shape = t.shape().to_vec();
                shape[0] = 1;
                let data = match t.data() {
                    TensorData::F32(v) => TensorData::F32(v[s * per..(s + 1) * per].to_vec()),
                    TensorData::I64(v) => TensorData::I64(v[s * per..(s + 1) * per].to_vec()),
                    TensorData::I32(v) => TensorData::I32(v[s * per..(s + 1) * per].to_vec()),
                };
                Tensor::new(shape, data).unwrap()
            }
        };
        out.insert(name.clone(), t);
    }
    out
}

/// Every kernel computes a sample's values in an order that does not depend on the rest of the
/// batch (the GEMM sums each dot product in the same order whatever the tiling), so a sample run
/// alone gives the bits it gets inside a batch of 600.
#[test]
fn identical_bits_for_a_sample_alone_or_in_a_batch() {
    let g = model();
    let inputs = synthetic_inputs(&g, 600, 42).unwrap();
    let ex = Executor::new(&g, &Options::default()).unwrap();
    let all = ex.run(&inputs).unwrap();
    for s in [0, 17, 599] {
        let alone = ex.run(&one_sample(&inputs, s)).unwrap();
        for (k, t) in &alone {
            let per = t.numel();
            let want = &all[k].as_f32().unwrap()[s * per..(s + 1) * per];
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(t.as_f32().unwrap()),
                bits(want),
                "output {k} of sample {s}"
            );
        }
    }
}

/// The executor reuses freed f32 buffers across runs: a run after others (larger, smaller,
/// different inputs) gives the bits a fresh executor gives.
#[test]
fn reused_buffers_change_no_bits() {
    let g = model();
    let big = synthetic_inputs(&g, 600, 42).unwrap();
    let small = synthetic_inputs(&g, 37, 9).unwrap();
    let fresh = |inputs| {
        Executor::new(&g, &Options::default())
            .unwrap()
            .run(inputs)
            .unwrap()
    };
    let (want_big, want_small) = (fresh(&big), fresh(&small));
    let ex = Executor::new(&g, &Options::default()).unwrap();
    for (inputs, want) in [
        (&big, &want_big),
        (&small, &want_small),
        (&big, &want_big),
        (&big, &want_big),
        (&small, &want_small),
    ] {
        let got = ex.run(inputs).unwrap();
        for (k, t) in want {
            assert_eq!(t.checksum(), got[k].checksum(), "output {k}");
        }
    }
}
