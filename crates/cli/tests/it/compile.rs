//! `compile`: the program and listing it writes, its report, and its user errors.

use crate::support::*;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("seedchip-compile-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn writes_a_program_and_a_listing_that_assembles_back() {
    let dir = temp_dir("ok");
    let scp = dir.join("rm1.scp");
    let asm = dir.join("rm1.s");
    let o = seedchip(&[
        "compile",
        "rm1",
        "--chip",
        "seedchip-v1",
        "--precision",
        "int8",
        "--batch",
        "8",
        "--rows-cap",
        "500",
        "-o",
        scp.to_str().unwrap(),
        "--asm",
        asm.to_str().unwrap(),
        "--json",
    ]);
    let doc = json(&o);
    assert_eq!(doc["schema_version"], 1);
    let r = &doc["report"];
    assert_eq!(r["model"], "rm1");
    assert_eq!(r["chip"], "seedchip-v1");
    assert_eq!(r["batch"], 8);
    assert!(r["gemms"].as_array().unwrap().len() == 5, "{r}");
    assert!(r["instructions"]["gather"].as_u64().unwrap() >= 8, "{r}");
    let bytes = std::fs::read(&scp).unwrap();
    assert_eq!(doc["program_bytes"].as_u64().unwrap(), bytes.len() as u64);
    let program = seedchip_isa::Program::decode(&bytes).unwrap();
    let text = std::fs::read_to_string(&asm).unwrap();
    assert_eq!(seedchip_isa::assemble(&text).unwrap(), program);
    // The listing says which IR node each instruction serves.
    assert!(
        text.contains("node \"%top.0 (linear)\""),
        "{}",
        &text[..2000.min(text.len())]
    );
    assert!(text.contains("gather.sum.emb8"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let dir = temp_dir("det");
    let mut files = Vec::new();
    for i in 0..2 {
        let scp = dir.join(format!("p{i}.scp"));
        let o = seedchip(&[
            "compile",
            "din",
            "--chip",
            "mtia-v2",
            "--precision",
            "bf16",
            "--batch",
            "4",
            "--rows-cap",
            "300",
            "-o",
            scp.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        assert!(
            stdout(&o).contains("compiled din for mtia-v2"),
            "{}",
            stdout(&o)
        );
        files.push(std::fs::read(&scp).unwrap());
    }
    assert_eq!(files[0], files[1]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn user_errors_exit_2_and_leave_no_files() {
    let dir = temp_dir("bad");
    let scp = dir.join("x.scp");
    let s = scp.to_str().unwrap();
    for (args, needle) in [
        (
            vec![
                "compile",
                "rm1",
                "--chip",
                "tpu-v1",
                "--precision",
                "bf16",
                "-o",
                s,
            ],
            "int8",
        ),
        (
            vec![
                "compile",
                "rm1",
                "--chip",
                "seedchip-v1",
                "--precision",
                "int4",
                "-o",
                s,
            ],
            "valid precisions",
        ),
        (
            vec!["compile", "rm9", "--chip", "seedchip-v1", "-o", s],
            "seedchip models",
        ),
        (
            vec![
                "compile", "dlrm-v2", "--chip", "tpu-v4i", "--batch", "2", "-o", s,
            ],
            "off-chip memory",
        ),
        (
            vec![
                "compile",
                "rm1",
                "--chip",
                "seedchip-v1",
                "--batch",
                "0",
                "-o",
                s,
            ],
            "--batch",
        ),
    ] {
        let o = seedchip(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(!scp.exists(), "{args:?} left a file");
    }
    // An unwritable destination is an error too, without a partial file.
    let o = seedchip(&[
        "compile",
        "rm1",
        "--chip",
        "seedchip-v1",
        "--rows-cap",
        "100",
        "--batch",
        "2",
        "-o",
        dir.join("missing/x.scp").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(std::fs::read_dir(&dir).unwrap().next().is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A ragged (PyTorch offsets-style) model binds its id lists at the capacity `--ragged-ids`
/// asks for, and its offsets as batch + 1 entries; a model without ragged bags refuses it.
#[test]
fn ragged_id_capacity() {
    let dir = temp_dir("ragged");
    let model = repo_root().join("crates/onnx/tests/fixtures/pytorch/dlrm-v1-style/model.onnx");
    let asm = dir.join("r.s");
    let o = seedchip(&[
        "compile",
        model.to_str().unwrap(),
        "--chip",
        "seedchip-v1",
        "--batch",
        "8",
        "--ragged-ids",
        "100",
        "-o",
        dir.join("r.scp").to_str().unwrap(),
        "--asm",
        asm.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&asm).unwrap();
    assert!(
        text.contains(".binding input \"sparse_0\" dtype=i32 shape=[100]")
            && text.contains(".binding input \"sparse_0_offsets\" dtype=i32 shape=[9]"),
        "{text}"
    );
    let o = seedchip(&[
        "compile",
        "rm1",
        "--chip",
        "seedchip-v1",
        "--rows-cap",
        "500",
        "--ragged-ids",
        "100",
        "-o",
        dir.join("x.scp").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.join("x.scp").exists());
}
