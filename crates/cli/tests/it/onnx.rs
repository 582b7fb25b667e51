//! ONNX through the CLI: `infer FILE.onnx` against onnxruntime, `onnx coverage`,
//! `model export` and the exit codes of broken files.

use std::collections::BTreeMap;
use std::path::PathBuf;

use seedchip_ref::Tensor;
use seedchip_ref::npz::read_npz;

use crate::support::*;

fn fixture(model: &str) -> PathBuf {
    repo_root()
        .join("crates/onnx/tests/fixtures/pytorch")
        .join(model)
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seedchip-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `seedchip infer FILE.onnx --inputs` reproduces onnxruntime's outputs to 1e-5 relative.
#[test]
fn infer_onnx_matches_onnxruntime() {
    let dir = temp_dir("onnx-infer");
    for model in [
        "dlrm-v1-style",
        "dlrm-v2",
        "deepfm",
        "two-tower",
        "ops-opset13",
    ] {
        let fx = fixture(model);
        let out = dir.join(format!("{model}.npz"));
        let o = seedchip(&[
            "infer",
            fx.join("model.onnx").to_str().unwrap(),
            "--inputs",
            fx.join("inputs.npz").to_str().unwrap(),
            "--save-outputs",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{model}: {}", stderr(&o));
        let got: BTreeMap<String, Tensor> = read_npz(&out).unwrap();
        let want: BTreeMap<String, Tensor> = read_npz(&fx.join("expected.npz")).unwrap();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>()
        );
        for (name, w) in &want {
            let (g, w) = (got[name].as_f32().unwrap(), w.as_f32().unwrap());
            assert_eq!(g.len(), w.len());
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                let tol = 1e-5 * b.abs().max(1e-3);
                assert!((a - b).abs() <= tol, "{model}/{name}[{i}]: {a} vs {b}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn coverage_reports_patterns_and_unsupported_nodes() {
    let f = fixture("dlrm-v1-style").join("model.onnx");
    let doc = json(&seedchip(&[
        "onnx",
        "coverage",
        f.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["counts"]["unsupported"], 0);
    let loops = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["op"] == "Loop" && n["pattern"] == "embedding-bag-loop")
        .count();
    assert_eq!(loops, 8);

    // A model with an op the importer lacks: listed, exit 1.
    let dir = temp_dir("onnx-coverage");
    let text = seedchip(&["onnx", "coverage", f.to_str().unwrap()]);
    assert!(
        stdout(&text).contains("lowered by pattern"),
        "{}",
        stdout(&text)
    );
    let mut m = seedchip_onnx::decode(&std::fs::read(&f).unwrap(), "fixture").unwrap();
    let g = m.graph.as_mut().unwrap();
    let relu = g.node.iter_mut().find(|n| n.op_type == "Relu").unwrap();
    relu.op_type = "Softsign".into();
    let bad = dir.join("bad.onnx");
    std::fs::write(&bad, seedchip_onnx::encode(&m)).unwrap();
    let o = seedchip(&["onnx", "coverage", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("(Softsign, opset 17): Softsign has no lowering"),
        "{}",
        stdout(&o)
    );
    let o = seedchip(&["infer", bad.to_str().unwrap(), "--batch", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("1 node(s) cannot be imported"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("hint: `seedchip onnx coverage FILE`"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `model export` then `model show FILE.onnx --ir` prints the zoo model's text IR.
#[test]
fn export_then_show_is_the_same_ir() {
    let dir = temp_dir("onnx-export");
    for model in ["dlrm-v1", "din"] {
        let path = dir.join(format!("{model}.onnx"));
        let o = seedchip(&[
            "model",
            "export",
            model,
            "-o",
            path.to_str().unwrap(),
            "--rows-cap",
            "40",
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(stdout(&o).starts_with("wrote "), "{}", stdout(&o));
        let a = seedchip(&["model", "show", model, "--rows-cap", "40", "--ir"]);
        let b = seedchip(&["model", "show", path.to_str().unwrap(), "--ir"]);
        assert_eq!(b.status.code(), Some(0), "{}", stderr(&b));
        assert_eq!(stdout(&a), stdout(&b), "{model}");
    }
    // Generated inputs work on an imported model too.
    let path = dir.join("dlrm-v1.onnx");
    let o = seedchip(&["infer", path.to_str().unwrap(), "--batch", "3", "--json"]);
    assert_eq!(json(&o)["batch"], 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn broken_onnx_files_exit_2() {
    let dir = temp_dir("onnx-broken");
    let bytes = std::fs::read(fixture("deepfm").join("model.onnx")).unwrap();
    let cut = dir.join("truncated.onnx");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let o = seedchip(&["model", "show", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a valid ONNX model"),
        "{}",
        stderr(&o)
    );

    // The two-tower fixture without its external-data file.
    let lonely = dir.join("model.onnx");
    std::fs::copy(fixture("two-tower").join("model.onnx"), &lonely).unwrap();
    let o = seedchip(&["infer", lonely.to_str().unwrap(), "--batch", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("model.onnx.data cannot be read"),
        "{}",
        stderr(&o)
    );

    let o = seedchip(&[
        "infer",
        fixture("deepfm").join("model.onnx").to_str().unwrap(),
        "--batch",
        "2",
        "--rows-cap",
        "10",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--rows-cap applies to zoo models"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An ONNX file is a `<model>` for `model show`, `compile` and `sim` (`infer` above; `run
/// --check` on every PyTorch fixture in run.rs).
#[test]
fn onnx_files_flow_through_show_compile_and_sim() {
    let dir = temp_dir("onnx-flow");
    let dlrm = fixture("dlrm-v2").join("model.onnx");
    let dlrm = dlrm.to_str().unwrap();

    let o = seedchip(&["model", "show", dlrm]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("embedding_bag"), "{}", stdout(&o));

    let scp = dir.join("dlrm-v2.scp");
    let doc = json(&seedchip(&[
        "compile",
        dlrm,
        "--chip",
        "seedchip-v1",
        "--batch",
        "8",
        "-o",
        scp.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(doc["report"]["batch"], 8);
    assert!(std::fs::metadata(&scp).unwrap().len() > 0);

    let doc = json(&seedchip(&[
        "sim",
        dlrm,
        "--chip",
        "seedchip-v1",
        "--batch",
        "8",
        "--json",
    ]));
    assert!(
        doc["sim"]["gather"]["lookups"].as_u64().unwrap() > 0,
        "{doc}"
    );

    std::fs::remove_dir_all(&dir).unwrap();
}
