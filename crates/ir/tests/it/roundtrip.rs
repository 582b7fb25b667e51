use proptest::prelude::*;
use seedchip_ir::*;

use crate::graphs;

fn round_trip(g: &Graph) {
    let text = print(g);
    let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(print(&parsed), text);
    assert_eq!(parsed.nodes.len(), g.nodes.len());
    assert_eq!(parsed.params, {
        // Param value ids may be renumbered; compare initializers in order.
        let mut p = g.params.clone();
        for (a, b) in p.iter_mut().zip(&parsed.params) {
            a.value = b.value;
        }
        p
    });
}

#[test]
fn all_ops_round_trip() {
    let g = graphs::all_ops();
    let text = print(&g);
    for needle in [
        "= embedding_bag(@t2.table, %t2, %t2.offsets) pooling=mean mean_pooling=2.5",
        "= cross_layer(%concat_",
        "seq_attention(%linear_",
        "kernel=silu causal=true scale=0.5",
        "param @proj: f32[4, 4] = data([-1.0, -0.875,",
        "param @one: f32[] = fill(1.0)",
        "input %t2: i64[?]",
        "transpose(%reshape_0) perm=[0, 2, 1]",
        "output \"z\" = %inter",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    round_trip(&g);
}

#[test]
fn full_size_models_round_trip() {
    round_trip(&graphs::dlrm_v2());
    round_trip(&graphs::dlrm_v1());
}

#[test]
fn odd_names_floats_and_files_round_trip() {
    let mut g = Graph::new("we\"ird \\ name\n\u{1}é");
    let x = g.add_input("in/put-1.a_b", TensorType::batched(DType::F32, &[3]));
    let p = g.add_param(
        "w",
        TensorType::fixed(DType::F32, &[3]),
        Init::Data {
            values: vec![
                f32::MIN_POSITIVE,
                -0.0,
                1e-30,
                3.4e38,
                f32::INFINITY,
                f32::NEG_INFINITY,
            ][..3]
                .to_vec(),
        },
    );
    let f = g.add_param(
        "table",
        TensorType::fixed(DType::F32, &[4, 3]),
        Init::File {
            path: "dir with space/\"t\".npy".into(),
            format: FileFormat::Npy,
            offset_bytes: 0,
        },
    );
    let n = g.add_node(
        Op::Binary(BinaryOp::Mul),
        vec![x, p],
        vec![("y".into(), TensorType::batched(DType::F32, &[3]))],
    );
    let y = g.node(n).outputs[0];
    let idx = g.add_input("idx", TensorType::batched(DType::I32, &[2]));
    let n2 = g.add_node(
        Op::EmbeddingBag {
            pooling: Pooling::Sum,
            mean_pooling: None,
        },
        vec![f, idx],
        vec![("e".into(), TensorType::batched(DType::F32, &[3]))],
    );
    let e = g.node(n2).outputs[0];
    g.add_output("y", y);
    g.add_output("e", e);
    verify(&g).unwrap();
    round_trip(&g);
    let text = print(&g);
    assert!(
        text.starts_with("graph \"we\\\"ird \\\\ name\\n\\u{1}é\" {"),
        "{text}"
    );
}

#[test]
fn forward_references_parse() {
    let src = r#"
graph "fwd" {
  input %x: f32[B, 2]
  %z: f32[B, 2] = relu(%y)   # uses %y before its definition
  %y: f32[B, 2] = neg(%x)
  output "z" = %z
}
"#;
    let g = parse(src).unwrap();
    assert_eq!(g.topo_order().unwrap(), vec![NodeId(1), NodeId(0)]);
    let again = parse(&print(&g)).unwrap();
    assert_eq!(print(&again), print(&g));
}

#[test]
fn parse_rejects_type_mismatch_with_node_name() {
    let src = r#"graph "g" {
  input %x: f32[B, 2]
  %y: f32[B, 3] = relu(%x)
  output "y" = %y
}"#;
    let e = parse(src).unwrap_err().to_string();
    assert!(e.contains("node %y (relu)"), "{e}");
}

#[test]
fn parse_reports_sigil_misuse() {
    let src = r#"graph "g" {
  input %x: f32[B, 2]
  param @w: f32[2, 2] = uniform(seed=1, bound=0.5)
  %y: f32[B, 2] = linear(%x, %w) act=none
  output "y" = %y
}"#;
    let e = parse(src).unwrap_err().to_string();
    assert!(e.starts_with("4:30:"), "{e}");
    assert!(e.contains("write @w"), "{e}");
}

/// Random MLP / DLRM-like graphs built through the builder.
fn arb_graph() -> impl Strategy<Value = Graph> {
    (
        1u64..20,
        prop::collection::vec(1u64..33, 1..4),
        prop::collection::vec((1u64..1000, 1u64..5, 0usize..3), 0..4),
        any::<u64>(),
        0usize..6,
        any::<bool>(),
        -1e3f32..1e3,
    )
        .prop_map(|(dense, mlp, tables, seed, act, interact, eps)| {
            let mut b = GraphBuilder::new(format!("rand-{seed}"));
            b.set_seed(seed);
            let x = b.dense_input("x", dense);
            let act = Activation::ALL[act];
            let h = b.mlp(x, &mlp, act, Activation::Relu);
            let mut feats = vec![h];
            for (i, &(rows, hot, pool)) in tables.iter().enumerate() {
                let w = *mlp.last().unwrap();
                feats.push(b.embedding_bag(&format!("t{i}"), rows, w, Pooling::ALL[pool], hot));
            }
            let y = if interact && feats.len() > 1 {
                b.dot_interaction(&feats, false)
            } else {
                let c = b.concat(&feats, 1);
                b.layer_norm(c, eps.abs().max(1e-12))
            };
            let w = b.param(
                "c",
                &[2],
                Init::Data {
                    values: vec![eps, -eps / 3.0],
                },
            );
            let p = b.linear_no_bias(y, 2, Activation::Sigmoid);
            let o = b.mul(p, w);
            b.output("out", o);
            b.finish().unwrap()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn print_parse_print_is_identity(g in arb_graph()) {
        let text = print(&g);
        let parsed = parse(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(print(&parsed), text);
    }

    #[test]
    fn parser_never_panics(s in "[ -~\n]{0,200}") {
        let _ = parse(&s);
    }

    #[test]
    fn mutated_text_never_panics(g in arb_graph(), pos in any::<prop::sample::Index>(), c in "[ -~]") {
        let mut text = print(&g);
        let i = pos.index(text.len());
        text.replace_range(i..=i, &c);
        let _ = parse(&text);
    }
}
