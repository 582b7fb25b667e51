//! The acceptance bounds, and the freshness of the committed `docs/validation.md`.

use seedchip_peers::validate::{self, EMBEDDING_MEDIAN_BOUND, GEMM_MEDIAN_BOUND};

#[test]
fn held_out_errors_and_mlperf_ratios_are_within_bounds() {
    let r = validate::run().unwrap();
    assert!(
        r.gemm_check_median <= GEMM_MEDIAN_BOUND,
        "GEMM held-out median {}",
        r.gemm_check_median
    );
    assert!(
        r.embedding_check_median <= EMBEDDING_MEDIAN_BOUND,
        "embedding held-out median {}",
        r.embedding_check_median
    );
    let h100 = r
        .mlperf
        .iter()
        .find(|m| m.result.device == "h100-sxm" && m.result.accelerators == 8)
        .unwrap();
    assert!((1.0 / 1.5..=1.5).contains(&h100.ratio), "{h100:?}");
    for m in &r.mlperf {
        if let Some(b) = m.result.bound {
            assert!(m.ratio >= b.min && m.ratio <= b.max, "{m:?}");
        }
    }
    assert!(r.passed(), "{:#?}", r.checks);
}

#[test]
fn committed_validation_doc_is_fresh() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/validation.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let fresh = validate::run().unwrap().to_markdown();
    assert!(
        committed == fresh,
        "docs/validation.md is stale: run `cargo run -p seedchip-cli -- validate --write-docs`"
    );
}

#[test]
fn markdown_is_deterministic_and_lists_every_row() {
    let a = validate::run().unwrap();
    let b = validate::run().unwrap();
    assert_eq!(a.to_markdown(), b.to_markdown());
    let md = a.to_markdown();
    for r in a.gemm_rows.iter().chain(&a.embedding_rows) {
        assert!(md.contains(&r.label), "{}", r.label);
    }
    assert!(md.contains("v4.0 8×h100-sxm 99 Offline"));
}
