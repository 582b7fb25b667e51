use seedchip_ir::analysis::stats;

use crate::graphs;

#[test]
fn dlrm_v2_matches_published_figures() {
    let s = stats(&graphs::dlrm_v2());
    assert_eq!(s.tables.len(), 26);
    assert_eq!(s.embedding_rows, 204_184_588);
    assert_eq!(s.lookups_per_sample, Some(214.0));
    // Bottom 170,496 + cross 10,616,832 + top 5,243,136 MACs (reference B.1).
    assert_eq!(s.dense_macs_per_sample, 170_496 + 10_616_832 + 5_243_136);
    let mflop = s.dense_flops_per_sample as f64 / 1e6;
    assert!((mflop - 32.1).abs() / 32.1 < 0.005, "{mflop}");
    let g = s.gathered_bytes_per_sample.unwrap();
    assert_eq!((g.int8, g.fp16, g.fp32), (27_392.0, 54_784.0, 109_568.0));
    assert!((s.embedding_bytes.fp32 / 1e9 - 104.5).abs() < 0.1);
    assert!(
        (s.dense_params as f64 / 1e6 - 16.04).abs() < 0.05,
        "{}",
        s.dense_params
    );
    assert_eq!(s.op_counts["cross_layer"], 3);
}

#[test]
fn dlrm_v1_flops() {
    let s = stats(&graphs::dlrm_v1());
    assert_eq!(s.dense_macs_per_sample, 2_410_112);
    assert_eq!(s.lookups_per_sample, Some(26.0));
    assert_eq!(s.embedding_rows, 187_767_399);
}

#[test]
fn ragged_hints_and_per_op_listing() {
    let s = stats(&graphs::all_ops());
    let t2 = s.tables.iter().find(|t| t.name == "t2.table").unwrap();
    assert_eq!(t2.lookups_per_sample, Some(2.5));
    // The items table serves a 1-hot bag and a 5-long unpooled sequence.
    let items = s.tables.iter().find(|t| t.name == "items").unwrap();
    assert_eq!(items.lookups_per_sample, Some(6.0));
    let bot0 = s.ops.iter().find(|o| o.name == "bot.0").unwrap();
    assert_eq!(
        (bot0.op, bot0.macs_per_sample, bot0.params),
        ("linear", 6 * 8, 6 * 8 + 8)
    );
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(
        json["dense_flops_per_sample"],
        serde_json::json!(2 * s.dense_macs_per_sample)
    );
    assert_eq!(json["tables"][0]["name"], "t0.table");
}
