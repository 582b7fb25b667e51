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

/// Hand-written faulty programs (docs/isa.md "Faults"): an out-of-range DMA, a gather id beyond
/// its table (from user input), and an SRAM overflow each report the documented fault with
/// core, PC and instruction, exit 2, and never panic; the same gather with valid ids runs.
#[test]
fn hand_written_faulty_programs_report_their_fault() {
    let chip = seedchip_chip::presets::get("seedchip-v1").unwrap();
    let head = |batch: u32| {
        format!(
            ".scp container=1 isa=1\n.target chip=\"seedchip-v1\" fingerprint={:#x} \
             precision=int8 batch={batch}\n\n",
            seedchip_isa::chip_fingerprint(&chip)
        )
    };
    let dir = temp_dir("faults");
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let dma = write(
        "dma.s",
        head(1)
            + ".core 0\n    dma.copy dst=local:0x0 src=hbm:0xfffffffff000 rows=1 \
               row_bytes=0x2000 dst_stride_bytes=0x2000 src_stride_bytes=0x2000\n    ctl.halt\n",
    );
    let sram = write(
        "sram.s",
        head(1)
            + ".core 1\n    vpu.copy.f32 dst=local:0x0 a=local:0x0 rows=4096 cols=4096 \
               ldd=4096 lda=4096\n    ctl.halt\n",
    );
    let gather = write(
        "gather.s",
        head(2)
            + ".binding input \"ids\" dtype=i32 shape=[4] at=hbm:0x0\n\
               .binding input \"offsets\" dtype=i32 shape=[3] at=hbm:0x100\n\
               .binding output \"pooled\" dtype=f32 shape=[2,8] at=shared:0x0\n\n\
               .table \"user_table\" at=hbm:0x10000 rows=10 dim=8 dtype=bf16 source=procedural \
               seed=1 param=\"user.weight\" dist=uniform bound=0.1\n\n\
               .core 0\n    gather.sum.bf16 dst=shared:0x0 table=hbm:0x10000 rows=10 dim=8 \
               idx=hbm:0x0 offsets=hbm:0x100 bags=2 ldd=8 cache_map=none\n    ctl.halt\n",
    );
    let ids = |v: Vec<i32>, name: &str| {
        let p = dir.join(name);
        let mut m = BTreeMap::new();
        m.insert("ids".to_string(), Tensor::from_i32(vec![4], v).unwrap());
        m.insert(
            "offsets".to_string(),
            Tensor::from_i32(vec![3], vec![0, 1, 4]).unwrap(),
        );
        write_npz(&p, &m).unwrap();
        p
    };
    let (bad, good) = (
        ids(vec![1, 2, 10, 3], "bad.npz"),
        ids(vec![1, 2, 9, 3], "good.npz"),
    );
    let run = |prog: &std::path::Path, inputs: Option<&std::path::Path>| {
        let mut a = vec![
            "run".to_string(),
            prog.to_str().unwrap().to_string(),
            "--chip".into(),
            "seedchip-v1".into(),
        ];
        if let Some(i) = inputs {
            a.extend(["--inputs".to_string(), i.to_str().unwrap().to_string()]);
        }
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        seedchip(&a)
    };
    for (prog, inputs, want) in [
        (
            &dma,
            None,
            "out of bounds: operand `src` accesses hbm 0xfffffffff000",
        ),
        (
            &sram,
            None,
            "sram overflow: operand `a` spans 67108864 bytes",
        ),
        (
            &gather,
            Some(bad.as_path()),
            "id 10 (bag 1, position 1) is outside table `user_table` (rows 0..10); it comes \
             from input `ids` element 2",
        ),
    ] {
        let o = run(prog, inputs);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(want) && err.contains("pc 0x0"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let o = run(&gather, Some(good.as_path()));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("pooled [2, 8]"));
}
