//! `run`: compile + bit-exact functional simulation through the CLI, `--check` against the f32
//! reference, determinism across threads, and user errors for bad inputs.

use std::collections::BTreeMap;

use seedchip_ref::npz::{read_npz, write_npz};
use seedchip_ref::{Tensor, TensorData};

use crate::support::*;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("seedchip-run-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn fixture(model: &str) -> std::path::PathBuf {
    repo_root().join("crates/ref/tests/fixtures").join(model)
}

#[test]
fn check_passes_within_the_documented_tolerances() {
    for (chip, precision, tolerance) in [
        ("seedchip-v1", "int8", 5e-2),
        ("seedchip-v1", "bf16", 1e-2),
        ("mtia-v2", "bf16", 1e-2),
        ("tpu-v1", "int8", 5e-2),
    ] {
        let o = seedchip(&[
            "run",
            "dlrm-v1",
            "--chip",
            chip,
            "--precision",
            precision,
            "--batch",
            "16",
            "--rows-cap",
            "1000",
            "--check",
            "--json",
        ]);
        let doc = json(&o);
        assert_eq!(doc["schema_version"], 1);
        assert_eq!(doc["precision"], precision);
        let check = &doc["check"];
        assert_eq!(check["passed"], true, "{chip} {precision}: {check}");
        assert_eq!(check["tolerance_rel_l2"], tolerance);
        let prob = &check["outputs"]["prob"];
        assert!(prob["rel_l2"].as_f64().unwrap() <= tolerance, "{prob}");
        assert!(prob["max_abs"].as_f64().unwrap() >= 0.0);
        let stats = &doc["stats"];
        assert!(stats["instructions"].as_u64().unwrap() > 0);
        for q in ["dma", "gather", "mxu", "vpu", "ctl"] {
            assert!(stats["per_queue"][q].as_u64().unwrap() > 0, "{q}: {stats}");
        }
        assert!(stats["bytes_read"]["hbm"].as_u64().unwrap() > 0);
        assert_eq!(doc["outputs"]["prob"]["shape"], serde_json::json!([16, 1]));
        assert_eq!(doc["checksum"].as_str().unwrap().len(), 16);
    }
}

#[test]
fn outputs_are_identical_across_runs_and_thread_counts() {
    let dir = temp_dir("threads");
    let mut sums = Vec::new();
    for threads in ["1", "2", "2"] {
        let out = dir.join(format!("out-{threads}.npz"));
        let o = seedchip(&[
            "run",
            "dlrm-v1",
            "--chip",
            "seedchip-v1",
            "--batch",
            "8",
            "--rows-cap",
            "500",
            "--threads",
            threads,
            "--save-outputs",
            out.to_str().unwrap(),
            "--json",
        ]);
        let doc = json(&o);
        sums.push(doc["checksum"].as_str().unwrap().to_string());
        let saved = read_npz(&out).unwrap();
        assert_eq!(saved["prob"].shape(), &[8, 1]);
    }
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
}

#[test]
fn given_inputs_run_and_match_the_reference() {
    let f = fixture("dlrm-v1");
    let o = seedchip(&[
        "run",
        f.join("model.sir").to_str().unwrap(),
        "--chip",
        "seedchip-v1",
        "--inputs",
        f.join("inputs.npz").to_str().unwrap(),
        "--check",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("check prob") && text.contains(" ok"),
        "{text}"
    );
}

#[test]
fn an_out_of_range_index_names_the_table_and_the_index() {
    let f = fixture("dlrm-v1");
    let mut inputs: BTreeMap<String, Tensor> = read_npz(&f.join("inputs.npz")).unwrap();
    let cat = inputs.remove("cat_3").unwrap();
    let mut ids = match cat.data() {
        TensorData::I64(v) => v.clone(),
        other => panic!("{other:?}"),
    };
    ids[2] = 1000;
    inputs.insert(
        "cat_3".into(),
        Tensor::from_i64(cat.shape().to_vec(), ids).unwrap(),
    );
    let dir = temp_dir("bad-index");
    let path = dir.join("inputs.npz");
    write_npz(&path, &inputs).unwrap();
    let o = seedchip(&[
        "run",
        f.join("model.sir").to_str().unwrap(),
        "--chip",
        "seedchip-v1",
        "--inputs",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("cat_3.table") && err.contains("1000") && err.contains("cat_3"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let o = seedchip(&[
        "run",
        "dlrm-v1",
        "--chip",
        "seedchip-v1",
        "--precision",
        "int4",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("int4"));
    let o = seedchip(&["run", "dlrm-v1", "--chip", "no-such-chip", "--batch", "4"]);
    assert_eq!(o.status.code(), Some(2));
    let o = seedchip(&["run", "dlrm-v1", "--chip", "seedchip-v1", "--batch", "0"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Output checksums of three (model, chip, precision) programs are committed: a change to the
/// compiler, funcsim, numerics or the weight contract that alters any output bit shows up here.
/// After an intended change, `SEEDCHIP_BLESS=1 cargo test -p seedchip-cli --test it golden`
/// rewrites `run_goldens.txt`.
#[test]
fn golden_output_checksums() {
    let path = repo_root().join("crates/cli/tests/it/run_goldens.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let bless = std::env::var("SEEDCHIP_BLESS").is_ok_and(|v| v == "1");
    let mut out = String::new();
    let mut mismatches = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if line.starts_with('#') || fields.is_empty() {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let [model, chip, precision, batch, rows_cap, want] = fields[..] else {
            panic!("bad golden line: {line}");
        };
        let o = seedchip(&[
            "run",
            model,
            "--chip",
            chip,
            "--precision",
            precision,
            "--batch",
            batch,
            "--rows-cap",
            rows_cap,
            "--json",
        ]);
        let got = json(&o)["checksum"].as_str().unwrap().to_string();
        if got != want {
            mismatches.push(format!(
                "{model} {chip} {precision}: {got} (committed {want})"
            ));
        }
        out.push_str(&format!(
            "{model} {chip} {precision} {batch} {rows_cap} {got}\n"
        ));
    }
    if bless {
        std::fs::write(&path, out).unwrap();
    } else {
        assert!(
            mismatches.is_empty(),
            "outputs changed (SEEDCHIP_BLESS=1 accepts): {mismatches:#?}"
        );
    }
}

/// The PyTorch-exported ONNX fixtures (crates/onnx/tests/fixtures/pytorch) compile and run
/// within tolerance on their own inputs — DLRM-v1-style has ragged `EmbeddingBag`s with
/// offsets, one bag empty — and, for the ragged model, on generated inputs too.
#[test]
fn pytorch_onnx_fixtures_run_and_check() {
    let root = repo_root().join("crates/onnx/tests/fixtures/pytorch");
    for (model, precision) in [
        ("dlrm-v1-style", "int8"),
        ("dlrm-v1-style", "bf16"),
        ("dlrm-v2", "int8"),
        ("deepfm", "int8"),
        ("two-tower", "int8"),
    ] {
        let f = root.join(model);
        let o = seedchip(&[
            "run",
            f.join("model.onnx").to_str().unwrap(),
            "--chip",
            "seedchip-v1",
            "--precision",
            precision,
            "--inputs",
            f.join("inputs.npz").to_str().unwrap(),
            "--check",
            "--json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{model}: {}", stderr(&o));
        let doc = json(&o);
        assert_eq!(doc["check"]["passed"], true, "{model} {precision}: {doc}");
    }
    let f = root.join("dlrm-v1-style");
    let o = seedchip(&[
        "run",
        f.join("model.onnx").to_str().unwrap(),
        "--chip",
        "seedchip-v1",
        "--batch",
        "8",
        "--check",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["check"]["passed"], true);
}

/// Malformed ragged offsets in user inputs are a user error naming the input, not a fault.
#[test]
fn bad_ragged_offsets_are_user_errors() {
    let f = repo_root().join("crates/onnx/tests/fixtures/pytorch/dlrm-v1-style");
    let mut inputs: BTreeMap<String, Tensor> = read_npz(&f.join("inputs.npz")).unwrap();
    inputs.insert(
        "sparse_1_offsets".into(),
        Tensor::from_i64(vec![4], vec![0, 3, 2, 5]).unwrap(),
    );
    let dir = temp_dir("bad-offsets");
    let path = dir.join("inputs.npz");
    write_npz(&path, &inputs).unwrap();
    let o = seedchip(&[
        "run",
        f.join("model.onnx").to_str().unwrap(),
        "--chip",
        "seedchip-v1",
        "--inputs",
        path.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("sparse_1_offsets"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
