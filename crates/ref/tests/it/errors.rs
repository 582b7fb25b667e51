use std::collections::BTreeMap;

use seedchip_ir::*;
use seedchip_ref::{Error, Executor, Options, Tensor, synthetic_inputs};

fn model() -> Graph {
    let mut b = GraphBuilder::new("err");
    let x = b.dense_input("x", 3);
    let e = b.embedding_bag("t", 10, 3, Pooling::Sum, 2);
    let r = b.embedding_bag_ragged("r", 10, 3, Pooling::Sum, 1.0);
    let s = b.add(x, e);
    let s = b.add(s, r);
    b.output("y", s);
    b.finish().unwrap()
}

fn run(inputs: &BTreeMap<String, Tensor>) -> Error {
    let g = model();
    Executor::new(&g, &Options::default())
        .unwrap()
        .run(inputs)
        .unwrap_err()
}

fn good() -> BTreeMap<String, Tensor> {
    let mut m = BTreeMap::new();
    m.insert(
        "x".into(),
        Tensor::from_f32(vec![2, 3], vec![0.5; 6]).unwrap(),
    );
    m.insert(
        "t".into(),
        Tensor::from_i64(vec![2, 2], vec![0, 9, 3, 3]).unwrap(),
    );
    m.insert(
        "r".into(),
        Tensor::from_i32(vec![3], vec![1, 2, 3]).unwrap(),
    );
    m.insert(
        "r.offsets".into(),
        Tensor::from_i64(vec![2], vec![0, 1]).unwrap(),
    );
    m
}

#[test]
fn good_inputs_run() {
    let g = model();
    let out = Executor::new(&g, &Options::default())
        .unwrap()
        .run(&good())
        .unwrap();
    assert_eq!(out["y"].shape(), &[2, 3]);
    assert_eq!(
        crate::check_inputs(&g, &good()),
        crate::check_inputs(&g, &good())
    );
}

#[test]
fn wrong_shapes_and_dtypes() {
    let mut m = good();
    m.insert(
        "x".into(),
        Tensor::from_f32(vec![2, 4], vec![0.5; 8]).unwrap(),
    );
    let e = run(&m).to_string();
    assert!(e.contains("'x' is f32[2, 4], expected f32[B, 3]"), "{e}");

    let mut m = good();
    m.insert(
        "t".into(),
        Tensor::from_f32(vec![2, 2], vec![0.0; 4]).unwrap(),
    );
    assert!(matches!(run(&m), Error::InputType { .. }));

    let mut m = good();
    m.insert(
        "t".into(),
        Tensor::from_i64(vec![3, 2], vec![0; 6]).unwrap(),
    );
    let e = run(&m).to_string();
    assert!(e.contains("batch 3") && e.contains("batch 2"), "{e}");

    let mut m = good();
    m.remove("r.offsets");
    assert!(
        run(&m)
            .to_string()
            .contains("missing input 'r.offsets' (expected i64[B])")
    );

    let mut m = good();
    m.insert("typo".into(), Tensor::from_i64(vec![1], vec![0]).unwrap());
    assert!(run(&m).to_string().contains("unknown input 'typo'"));

    let mut m = good();
    m.insert("x".into(), Tensor::from_f32(vec![0, 3], vec![]).unwrap());
    m.insert("t".into(), Tensor::from_i64(vec![0, 2], vec![]).unwrap());
    m.insert(
        "r.offsets".into(),
        Tensor::from_i64(vec![0], vec![]).unwrap(),
    );
    assert!(matches!(run(&m), Error::EmptyBatch));
}

#[test]
fn bad_values() {
    let mut m = good();
    m.insert(
        "x".into(),
        Tensor::from_f32(vec![2, 3], vec![0.0, 1.0, f32::NAN, 0.0, 0.0, 0.0]).unwrap(),
    );
    let e = run(&m).to_string();
    assert!(e.contains("non-finite") && e.contains("index 2"), "{e}");

    let mut m = good();
    m.insert(
        "t".into(),
        Tensor::from_i64(vec![2, 2], vec![0, 1, 10, 0]).unwrap(),
    );
    let e = run(&m).to_string();
    assert!(
        e.contains("%t.bag (embedding_bag)")
            && e.contains("index 10 at position 2")
            && e.contains("sample 1")
            && e.contains("10 rows"),
        "{e}"
    );

    let mut m = good();
    m.insert(
        "r".into(),
        Tensor::from_i32(vec![3], vec![1, -1, 3]).unwrap(),
    );
    assert!(matches!(run(&m), Error::IndexOutOfRange { index: -1, .. }));

    for bad in [vec![1, 1], vec![0, 5], vec![0, -1]] {
        let mut m = good();
        m.insert(
            "r.offsets".into(),
            Tensor::from_i64(vec![2], bad.clone()).unwrap(),
        );
        assert!(matches!(run(&m), Error::BadOffsets { .. }), "{bad:?}");
    }
    let mut m = good();
    m.insert(
        "r.offsets".into(),
        Tensor::from_i64(vec![2], vec![0, 3]).unwrap(),
    );
    let g = model();
    // A trailing empty bag is fine.
    Executor::new(&g, &Options::default())
        .unwrap()
        .run(&m)
        .unwrap();
}

#[test]
fn non_finite_allowed_on_request() {
    let g = model();
    let mut m = synthetic_inputs(&g, 2, 0).unwrap();
    m.insert(
        "x".into(),
        Tensor::from_f32(vec![2, 3], vec![f32::INFINITY; 6]).unwrap(),
    );
    let ex = Executor::new(
        &g,
        &Options {
            allow_non_finite: true,
            ..Options::default()
        },
    )
    .unwrap();
    let y = ex.run(&m).unwrap();
    assert!(y["y"].as_f32().unwrap().iter().all(|v| v.is_infinite()));
}

#[test]
fn unusable_graphs_are_refused() {
    let mut g = model();
    let pid = g.find_param("t.table").unwrap();
    g.params[pid.index()].init = Init::File {
        path: "/nonexistent/t.npy".into(),
        format: FileFormat::Npy,
        offset_bytes: 0,
    };
    let e = Executor::new(&g, &Options::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("@t.table") && e.contains("cannot open"), "{e}");

    let mut g = model();
    g.outputs.clear();
    assert!(matches!(
        Executor::new(&g, &Options::default()),
        Err(Error::Ir(_))
    ));
}
