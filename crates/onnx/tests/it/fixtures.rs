//! PyTorch exports (committed with their onnxruntime outputs by `gen_fixtures.py`) import to
//! the expected IR ops and compute what onnxruntime computes.

use seedchip_ir::{Activation, Op, Pooling};
use seedchip_onnx::ImportOptions;

use crate::support::*;

fn check(model: &str) -> seedchip_ir::Graph {
    let dir = fixtures().join("pytorch").join(model);
    let g = seedchip_onnx::import_file(&dir.join("model.onnx"), &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{model}: {e}"));
    let got = run_ref(&g, &npz(&dir.join("inputs.npz")));
    assert_close(&got, &npz(&dir.join("expected.npz")), model);
    g
}

#[test]
fn dlrm_v1_style_ragged_bags_and_dot_interaction() {
    let g = check("dlrm-v1-style");
    let ragged = count(&g, |op, n| {
        matches!(
            op,
            Op::EmbeddingBag {
                pooling: Pooling::Sum,
                ..
            }
        ) && n == 3
    });
    assert_eq!(ragged, 8, "{}", seedchip_ir::print(&g));
    // The interaction sees the bottom MLP output and the 8 bags as separate operands.
    assert_eq!(
        count(&g, |op, n| matches!(
            op,
            Op::DotInteraction {
                self_interaction: false
            }
        ) && n == 9),
        1
    );
    assert_eq!(
        count(&g, |op, _| matches!(
            op,
            Op::Linear {
                act: Activation::Relu
            }
        )),
        5
    );
    assert_eq!(
        count(&g, |op, _| matches!(
            op,
            Op::Linear {
                act: Activation::Sigmoid
            }
        )),
        1
    );
}

#[test]
fn dlrm_v2_fixed_bags_and_cross_layers() {
    let g = check("dlrm-v2");
    assert_eq!(
        count(&g, |op, n| matches!(op, Op::EmbeddingBag { .. }) && n == 2),
        26
    );
    assert_eq!(count(&g, |op, _| *op == Op::CrossLayer), 3);
    // Table 20 has 100 lookups per sample: its bag reads a [B, 100] input.
    let t = g.find_value("cat_20").unwrap();
    assert_eq!(g.ty(t).to_string(), "i64[B, 100]");
}

#[test]
fn deepfm_lookups_and_fm_terms() {
    let g = check("deepfm");
    assert_eq!(count(&g, |op, _| *op == Op::Embedding), 52);
    assert_eq!(count(&g, |op, _| matches!(op, Op::Linear { .. })), 5);
}

#[test]
fn two_tower_with_external_data() {
    let g = check("two-tower");
    assert_eq!(
        count(&g, |op, _| matches!(
            op,
            Op::EmbeddingBag {
                pooling: Pooling::Mean,
                ..
            }
        )),
        1
    );
    assert_eq!(count(&g, |op, _| matches!(op, Op::EmbeddingBag { .. })), 4);
    // Large initializers stay in the side file.
    let files = g
        .params
        .iter()
        .filter(|p| matches!(&p.init, seedchip_ir::Init::File { path, .. } if path.ends_with("model.onnx.data")))
        .count();
    assert!(files >= 4, "{files} parameters read from model.onnx.data");
}

/// The remaining ops at opsets 13 (LayerNorm spelled out), 17 and 20 (native GELU).
#[test]
fn op_coverage_fixtures_at_three_opsets() {
    for opset in [13, 17, 20] {
        let g = check(&format!("ops-opset{opset}"));
        assert_eq!(
            count(&g, |op, _| matches!(op, Op::LayerNorm { .. })),
            1,
            "opset {opset}"
        );
        assert_eq!(
            count(&g, |op, _| matches!(
                op,
                Op::Linear {
                    act: Activation::Gelu
                }
            )),
            1,
            "opset {opset}: {}",
            seedchip_ir::print(&g)
        );
        assert_eq!(
            count(&g, |op, _| matches!(
                op,
                Op::Linear {
                    act: Activation::Silu
                }
            )),
            1,
            "opset {opset}"
        );
    }
}

/// Every zoo model, exported by seedchip and run by onnxruntime (`gen_fixtures.py`), agrees
/// with the f32 reference on the zoo graph.
#[test]
fn zoo_exports_agree_with_onnxruntime() {
    for info in seedchip_zoo::list() {
        let dir = fixtures().join("roundtrip").join(info.name);
        let g = seedchip_zoo::get(
            info.name,
            &seedchip_zoo::ZooOptions {
                rows_cap: Some(64),
                seed: 7,
            },
        )
        .unwrap();
        let got = run_ref(&g, &npz(&dir.join("inputs.npz")));
        let want = npz(&dir.join("ort.npz"));
        assert_close(&got, &want, info.name);
    }
}
