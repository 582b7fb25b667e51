//! Built-in models against the reference file (`shared/reference/hardware-and-workloads.md`,
//! section B). Every cost below comes from `seedchip_ir::analysis` on the built graph; the
//! expected values are the reference file's, with tolerances set by the precision it prints.

use seedchip_ir::analysis::{ModelStats, stats};
use seedchip_ir::{DType, Graph, Op};
use seedchip_zoo::{GraphWorkload, InputOptions, TensorData, ZooOptions, get, list};

fn model(name: &str) -> Graph {
    get(name, &ZooOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn capped(name: &str) -> Graph {
    let opts = ZooOptions {
        rows_cap: Some(1000),
        seed: 3,
    };
    get(name, &opts).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn mflop(s: &ModelStats) -> f64 {
    s.dense_flops_per_sample as f64 / 1e6
}

/// `got` equals a value printed as `printed` with `decimals` decimals (half a unit in the last
/// place).
fn matches_printed(got: f64, printed: f64, decimals: i32) -> bool {
    (got - printed).abs() <= 0.5 * 10f64.powi(-decimals) + 1e-12
}

#[test]
fn every_model_builds_full_size_and_capped() {
    for m in list() {
        let full = model(m.name);
        assert_eq!(full.name, m.name);
        assert!(!m.source.is_empty() && m.source.contains("reference file B."));
        let small = capped(m.name);
        let s = stats(&small);
        assert!(s.tables.iter().all(|t| t.rows <= 1000), "{}", m.name);
        // Costs per sample do not depend on the cap.
        let f = stats(&full);
        assert_eq!(
            f.dense_flops_per_sample, s.dense_flops_per_sample,
            "{}",
            m.name
        );
        assert_eq!(f.lookups_per_sample, s.lookups_per_sample, "{}", m.name);
    }
}

#[test]
fn dlrm_v2_matches_mlperf() {
    // B.1: 26 tables, 204,184,588 rows, 214 lookups per pair, 32.1 MFLOP per pair.
    let s = stats(&model("dlrm-v2"));
    assert_eq!(s.tables.len(), 26);
    assert!(s.tables.iter().all(|t| t.dim == 128));
    assert_eq!(s.embedding_rows, 204_184_588);
    assert_eq!(s.lookups_per_sample, Some(214.0));
    let rel = (mflop(&s) - 32.1).abs() / 32.1;
    assert!(rel <= 0.005, "{} MFLOP", mflop(&s));
    // B.1: 109.6 KB fp32 / 27.4 KB int8 gathered per pair; dense parameters 16.04 M.
    let g = s.gathered_bytes_per_sample.unwrap();
    assert!(matches_printed(g.fp32 / 1e3, 109.6, 1), "{}", g.fp32);
    assert!(matches_printed(g.int8 / 1e3, 27.4, 1), "{}", g.int8);
    assert!(
        matches_printed(s.dense_params as f64 / 1e6, 16.04, 2),
        "{}",
        s.dense_params
    );
    // 149 of the 214 lookups land in the five 40 M-row tables.
    let big: f64 = s
        .tables
        .iter()
        .filter(|t| t.rows == 40_000_000)
        .filter_map(|t| t.lookups_per_sample)
        .sum();
    assert_eq!(big, 149.0);
}

#[test]
fn dlrm_v1_matches_mlperf() {
    // B.2: 4.82 MFLOP and 26 lookups per pair, 187,767,399 rows, 3.3 KB int8 gathered.
    let s = stats(&model("dlrm-v1"));
    assert!(matches_printed(mflop(&s), 4.82, 2), "{} MFLOP", mflop(&s));
    assert_eq!(s.lookups_per_sample, Some(26.0));
    assert_eq!(s.embedding_rows, 187_767_399);
    let g = s.gathered_bytes_per_sample.unwrap();
    assert!(matches_printed(g.int8 / 1e3, 3.3, 1), "{}", g.int8);
}

#[test]
fn dlrm_paper_matches_benchmark_config() {
    // B.3: 800 lookups, 204.8 KB fp32 gathered, 5.0 MFLOP per sample, 2.05 GB of tables.
    let s = stats(&model("dlrm-paper"));
    assert_eq!(s.lookups_per_sample, Some(800.0));
    let g = s.gathered_bytes_per_sample.unwrap();
    assert!(matches_printed(g.fp32 / 1e3, 204.8, 1), "{}", g.fp32);
    assert!(matches_printed(mflop(&s), 5.0, 1), "{} MFLOP", mflop(&s));
    assert!(matches_printed(s.embedding_bytes.fp32 / 1e9, 2.05, 2));
}

#[test]
fn deeprecsys_models_match_reference_table() {
    // B.4 columns: MFLOP/sample (2 decimals), gathered B/sample fp32 (KB, 1 decimal),
    // lookups/sample, embedding size fp32 (GB).
    let rows: [(&str, f64, f64, f64, f64, i32); 4] = [
        ("rm1", 0.20, 81.9, 640.0, 4.1, 1),
        ("rm2", 0.64, 983.0, 3840.0, 4.1, 1),
        ("rm3", 6.41, 25.6, 200.0, 2.56, 2),
        ("wide-and-deep", 4.13, 3.5, 27.0, 3.46, 2),
    ];
    for (name, mf, kb, lookups, gb, gb_decimals) in rows {
        let s = stats(&model(name));
        assert!(
            matches_printed(mflop(&s), mf, 2),
            "{name}: {} MFLOP",
            mflop(&s)
        );
        let g = s.gathered_bytes_per_sample.unwrap();
        // rm2's 983 KB is printed without decimals.
        let kb_decimals = if kb >= 100.0 { 0 } else { 1 };
        assert!(
            matches_printed(g.fp32 / 1e3, kb, kb_decimals),
            "{name}: {} B",
            g.fp32
        );
        assert_eq!(s.lookups_per_sample, Some(lookups), "{name}");
        assert!(
            matches_printed(s.embedding_bytes.fp32 / 1e9, gb, gb_decimals),
            "{name}: {} B of tables",
            s.embedding_bytes.fp32
        );
    }
}

#[test]
fn deepfm_matches_b6_estimate() {
    // B.6: ≈ 390·400 + 2·400·400 + 400 ≈ 0.48 M MACs ≈ 1 MFLOP; the FM terms add a few
    // hundred MACs, so "≈" is taken as within 1 %.
    let s = stats(&model("deepfm"));
    let macs = s.dense_macs_per_sample as f64;
    assert!((macs - 476_400.0).abs() / 476_400.0 < 0.01, "{macs}");
    assert_eq!(s.tables.iter().filter(|t| t.dim == 10).count(), 26);
}

#[test]
fn hstu_layer_costs_match_b7() {
    // B.7 per token and layer: UVQK projection 1.05 M MACs, output projection 0.26 M MACs
    // (d = 512, h = 4, d_qk = d_l = 128).
    let g = model("hstu-small");
    let s = stats(&g);
    let tokens = 256.0;
    for (suffix, per_token_m) in [(".uvqk", 1.05), (".out", 0.26)] {
        let ops: Vec<_> = s.ops.iter().filter(|o| o.name.ends_with(suffix)).collect();
        assert_eq!(ops.len(), 5, "{suffix}");
        for o in ops {
            let per_token = o.macs_per_sample as f64 / tokens / 1e6;
            assert!(
                matches_printed(per_token, per_token_m, 2),
                "{}: {per_token}",
                o.name
            );
        }
    }
    // Attention: h·n·(d_qk + d_l) = 1,024·n MACs per token over all keys, about half with
    // the causal mask: n(n+1)/2 pairs × 1,024.
    let attn: Vec<_> = s.ops.iter().filter(|o| o.op == "seq_attention").collect();
    assert_eq!(attn.len(), 5);
    assert!(
        attn.iter()
            .all(|o| o.macs_per_sample == 256 * 257 / 2 * 1024)
    );
    assert_eq!(s.tables[0].rows, 1_000_000_000);
    assert_eq!(s.tables[0].dim, 512);
}

#[test]
fn generated_inputs_match_every_models_inputs() {
    for m in list() {
        let g = capped(m.name);
        let w = GraphWorkload::new(&g, &InputOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", m.name));
        let batch = 5u64;
        let tensors = w.batch(0, batch as usize);
        assert_eq!(tensors.len(), g.inputs.len(), "{}", m.name);
        let mut lookups = 0usize;
        for (t, &v) in tensors.iter().zip(&g.inputs) {
            let value = g.value(v);
            assert_eq!(t.name, value.name, "{}", m.name);
            assert_eq!(t.data.dtype(), value.ty.dtype, "{}: {}", m.name, t.name);
            let want = value
                .ty
                .resolve(batch)
                .expect("zoo inputs have no `?` dims");
            assert_eq!(t.shape, want, "{}: {}", m.name, t.name);
            assert_eq!(
                t.data.len() as u64,
                want.iter().product::<u64>(),
                "{}: {}",
                m.name,
                t.name
            );
            match &t.data {
                TensorData::I64(ids) => {
                    // Each id is one row read per table it indexes (DeepFM reads two).
                    let tables = g
                        .nodes
                        .iter()
                        .filter(|n| {
                            matches!(n.op, Op::EmbeddingBag { .. } | Op::Embedding)
                                && n.inputs[1] == v
                        })
                        .count();
                    lookups += ids.len() * tables;
                    let rows = w.sampler(&t.name).unwrap().spec().rows as i64;
                    assert!(ids.iter().all(|&i| (0..rows).contains(&i)), "{}", t.name);
                }
                TensorData::F32(x) => assert!(x.iter().all(|v| v.is_finite())),
                TensorData::I32(_) => panic!("zoo models declare i64 indices"),
            }
            if value.ty.dtype == DType::I64 {
                assert!(w.sampler(&t.name).is_some());
            }
        }
        // The generator's row reads agree with the analysis (zoo inputs are fixed-size).
        let per_sample = stats(&g).lookups_per_sample.unwrap();
        assert_eq!(lookups as f64, per_sample * batch as f64, "{}", m.name);
    }
}

#[test]
fn user_inputs_repeat_within_a_request() {
    use seedchip_zoo::{CandidateDist, RequestGen};
    for name in ["din", "two-tower", "hstu-small"] {
        let g = capped(name);
        let w = GraphWorkload::new(&g, &InputOptions::default()).unwrap();
        let req = RequestGen::new(1, CandidateDist::Fixed(4), 100)
            .unwrap()
            .request(0);
        let tensors = w.request(&req);
        let mut saw_user = false;
        for t in &tensors {
            let TensorData::I64(ids) = &t.data else {
                continue;
            };
            let per = ids.len() / 4;
            let rows: Vec<&[i64]> = ids.chunks(per).collect();
            let all_same = rows.iter().all(|r| *r == rows[0]);
            if t.name.starts_with("user_") {
                saw_user = true;
                assert!(all_same, "{name}: {} should repeat", t.name);
            }
        }
        assert!(saw_user, "{name} has user inputs");
    }
}
