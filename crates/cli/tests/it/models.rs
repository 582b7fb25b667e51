//! `models` and `model show`: the published figures come out of the graph analysis.

use crate::support::*;

#[test]
fn models_lists_the_zoo() {
    let doc = json(&seedchip(&["models", "--json"]));
    let names: Vec<&str> = doc["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    for name in [
        "dlrm-v2",
        "dlrm-v1",
        "dlrm-paper",
        "rm1",
        "rm2",
        "rm3",
        "wide-and-deep",
        "deepfm",
        "din",
        "two-tower",
        "mmoe",
        "hstu-small",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

#[test]
fn dlrm_v2_matches_the_mlperf_definition() {
    let doc = json(&seedchip(&["model", "show", "dlrm-v2", "--json"]));
    let s = &doc["stats"];
    assert_eq!(s["tables"].as_array().unwrap().len(), 26);
    assert_eq!(s["embedding_rows"], 204_184_588u64);
    assert_eq!(s["lookups_per_sample"].as_f64(), Some(214.0));
    let mflop = doc["dense_mflop_per_sample"].as_f64().unwrap();
    assert!((mflop - 32.1).abs() <= 0.005 * 32.1, "{mflop}");
}

#[test]
fn dlrm_v1_flops() {
    let doc = json(&seedchip(&["model", "show", "dlrm-v1", "--json"]));
    let mflop = doc["dense_mflop_per_sample"].as_f64().unwrap();
    assert!((mflop - 4.82).abs() <= 0.005 * 4.82, "{mflop}");
}

#[test]
fn model_show_text_and_ir() {
    let text = stdout(&seedchip(&["model", "show", "rm2"]));
    assert!(text.contains("3840 per sample"), "{text}");
    let ir = seedchip(&["model", "show", "rm1", "--rows-cap", "100", "--ir"]);
    assert_eq!(ir.status.code(), Some(0));
    assert!(stdout(&ir).contains("embedding_bag"), "{}", stdout(&ir));
}

#[test]
fn unknown_model_is_a_usage_error() {
    let o = seedchip(&["model", "show", "dlrm-v9"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("unknown model `dlrm-v9`") && err.contains("dlrm-v2"),
        "{err}"
    );
}
