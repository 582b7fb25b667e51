//! `infer`: the f32 reference through the CLI, against committed numpy fixtures.

use std::collections::BTreeMap;

use seedchip_ref::npz::read_npz;
use seedchip_ref::{Tensor, TensorData};

use crate::support::*;

fn f32s(t: &Tensor) -> &[f32] {
    match t.data() {
        TensorData::F32(v) => v,
        other => panic!("expected f32 output, got {other:?}"),
    }
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("seedchip-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `--inputs` with the committed fixtures reproduces the numpy outputs to 1e-5 relative.
#[test]
fn infer_reproduces_numpy_fixtures() {
    let dir = temp_dir("infer-fixtures");
    for model in ["dlrm-v2", "dlrm-v1", "rm2", "deepfm", "din", "two-tower"] {
        let fixture = repo_root().join("crates/ref/tests/fixtures").join(model);
        let out = dir.join(format!("{model}.npz"));
        let o = seedchip(&[
            "infer",
            fixture.join("model.sir").to_str().unwrap(),
            "--inputs",
            fixture.join("inputs.npz").to_str().unwrap(),
            "--save-outputs",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{model}: {}", stderr(&o));
        let got: BTreeMap<String, Tensor> = read_npz(&out).unwrap();
        // expected.npz also carries the numpy-regenerated weights (`param:*`) for the weight
        // contract; the outputs are the rest.
        let expected: BTreeMap<String, Tensor> = read_npz(&fixture.join("expected.npz"))
            .unwrap()
            .into_iter()
            .filter(|(k, _)| !k.starts_with("param:"))
            .collect();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (name, want) in &expected {
            let (g, w) = (f32s(&got[name]), f32s(want));
            assert_eq!(got[name].shape(), want.shape(), "{model}/{name}");
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                let tol = 1e-5 * b.abs().max(1e-3);
                assert!((a - b).abs() <= tol, "{model}/{name}[{i}]: {a} vs {b}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn infer_is_identical_across_thread_counts_and_runs() {
    let run = |threads: &str| {
        let doc = json(&seedchip(&[
            "infer",
            "dlrm-v2",
            "--batch",
            "64",
            "--rows-cap",
            "5000",
            "--threads",
            threads,
            "--json",
        ]));
        doc["checksum"].as_str().unwrap().to_string()
    };
    let one = run("1");
    assert_eq!(one, run("2"));
    assert_eq!(one, run("1"));
}

/// The full-size model (204 M rows, 104 GB in f32) runs in well under 2 GB: rows are procedural.
#[test]
fn full_size_dlrm_v2_fits_in_2_gb() {
    let doc = json(&seedchip(&["infer", "dlrm-v2", "--batch", "512", "--json"]));
    assert_eq!(doc["batch"], 512);
    assert_eq!(doc["outputs"]["prob"]["shape"], serde_json::json!([512, 1]));
    if let Some(rss) = doc["peak_rss_bytes"].as_u64() {
        assert!(rss < 2 << 30, "peak RSS {rss} bytes");
    }
    assert!(doc["samples_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn infer_errors_are_usage_errors_and_leave_no_file() {
    let o = seedchip(&["infer", "rm1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--batch is required"), "{}", stderr(&o));

    let dir = temp_dir("infer-errors");
    // An index beyond its table, in user inputs: the error names the table input and the index.
    let fixture = repo_root().join("crates/ref/tests/fixtures/rm1");
    let mut inputs = read_npz(&fixture.join("inputs.npz")).unwrap();
    let bad = inputs.get_mut("cat_3").unwrap();
    let shape = bad.shape().to_vec();
    let mut ids = match bad.data() {
        TensorData::I64(v) => v.clone(),
        other => panic!("{other:?}"),
    };
    ids[5] = 1_000_000;
    *bad = Tensor::from_i64(shape, ids).unwrap();
    let bad_path = dir.join("bad.npz");
    seedchip_ref::npz::write_npz(&bad_path, &inputs).unwrap();
    let out = dir.join("out.npz");
    let o = seedchip(&[
        "infer",
        fixture.join("model.sir").to_str().unwrap(),
        "--inputs",
        bad_path.to_str().unwrap(),
        "--save-outputs",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cat_3") && err.contains("1000000") && !err.contains("panicked"),
        "{err}"
    );
    assert!(!out.exists(), "a failed run left {}", out.display());

    // An unwritable output path: exit 2, nothing left behind.
    let nowhere = dir.join("missing-dir/out.npz");
    let o = seedchip(&[
        "infer",
        "rm1",
        "--rows-cap",
        "100",
        "--batch",
        "2",
        "--save-outputs",
        nowhere.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!dir.join("missing-dir").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A real table replaces the procedural one: all-zero embeddings change the output, and a file
/// of the wrong size is a clear error naming the parameter.
#[test]
fn infer_loads_real_table_weights() {
    let dir = temp_dir("infer-weights");
    let base = [
        "infer",
        "rm1",
        "--rows-cap",
        "100",
        "--batch",
        "4",
        "--json",
    ];
    let procedural = json(&seedchip(&base))["checksum"]
        .as_str()
        .unwrap()
        .to_string();
    let zeros = Tensor::from_f32(vec![100, 32], vec![0.0; 3200]).unwrap();
    let npy = dir.join("zeros.npy");
    std::fs::write(&npy, seedchip_ref::npz::npy_bytes(&zeros)).unwrap();
    let spec = format!("cat_0.table={}", npy.display());
    let mut args = base.to_vec();
    args.extend(["--weights", &spec]);
    let real = json(&seedchip(&args))["checksum"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(procedural, real);

    let short = dir.join("short.bin");
    std::fs::write(&short, [0u8; 64]).unwrap();
    let spec = format!("cat_1.table={}", short.display());
    let mut args = base.to_vec();
    args.extend(["--weights", &spec]);
    let o = seedchip(&args);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cat_1.table"), "{}", stderr(&o));

    let o = seedchip(&[
        "infer",
        "rm1",
        "--batch",
        "1",
        "--weights",
        "nope.table=x.npy",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no parameter `nope.table`"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
