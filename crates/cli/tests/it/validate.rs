//! `seedchip validate`: the acceptance bounds from the command line, and `--write-docs`
//! reproducing the committed docs/validation.md.

use crate::support::{json, repo_root, seedchip, stdout};

#[test]
fn validate_json_meets_the_acceptance_bounds() {
    let out = seedchip(&["validate", "--json"]);
    let v = json(&out);
    assert_eq!(v["passed"], true);
    assert_eq!(v["schema_version"], 1);
    assert!(v["gemm_check_median"].as_f64().unwrap() <= 0.15, "{v}");
    assert!(v["embedding_check_median"].as_f64().unwrap() <= 0.20, "{v}");
    let mlperf = v["mlperf"].as_array().unwrap();
    let h100 = mlperf
        .iter()
        .find(|m| m["result"]["device"] == "h100-sxm" && m["result"]["accelerators"] == 8)
        .expect("the 8×H100 MLPerf row");
    let ratio = h100["ratio"].as_f64().unwrap();
    assert!((1.0 / 1.5..=1.5).contains(&ratio), "{ratio}");
    assert!(v["gemm_rows"].as_array().unwrap().len() >= 30);
}

#[test]
fn validate_text_names_each_reference_and_exits_zero() {
    let out = seedchip(&["validate"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for needle in [
        "bf16 GEMMs",
        "embedding bags",
        "8×h100-sxm 99 Offline",
        "checks pass",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn write_docs_reproduces_the_committed_document() {
    let dir = std::env::temp_dir().join(format!("seedchip-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("validation.md");
    let out = seedchip(&["validate", "--write-docs", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let written = std::fs::read_to_string(&path).unwrap();
    let committed = std::fs::read_to_string(repo_root().join("docs/validation.md")).unwrap();
    assert_eq!(written, committed, "docs/validation.md is stale");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_docs_into_a_missing_directory_is_a_user_error() {
    let out = seedchip(&["validate", "--write-docs", "no/such/dir/validation.md"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(crate::support::stderr(&out).contains("does not exist"));
}
