//! End-to-end predictions on zoo models: orderings that must hold whatever the fitted values.

use seedchip_chip::Precision;
use seedchip_peers::{AccessPattern, Bound, PeerModel, PredictOptions, Prediction, Stack};
use seedchip_zoo::ZooOptions;

fn model(name: &str) -> seedchip_ir::Graph {
    seedchip_zoo::get(name, &ZooOptions::default()).unwrap()
}

fn predict(dev: &str, g: &seedchip_ir::Graph, batch: u64, p: Precision, s: Stack) -> Prediction {
    PeerModel::for_device(dev)
        .unwrap()
        .predict(g, batch, p, s)
        .unwrap()
}

#[test]
fn every_zoo_model_on_every_device_gives_finite_positive_numbers() {
    let models: Vec<_> = seedchip_zoo::list().iter().map(|m| model(m.name)).collect();
    for dev in seedchip_peers::device::names() {
        let m = PeerModel::for_device(dev).unwrap();
        for g in &models {
            let p = m.predict(g, 64, Precision::Bf16, Stack::Graph).unwrap();
            assert!(
                p.latency_us.is_finite() && p.latency_us > 0.0,
                "{dev} {}",
                g.name
            );
            assert!(p.samples_per_s > 0.0, "{dev} {}", g.name);
            assert!(!p.per_layer.is_empty());
            for l in &p.per_layer {
                assert!(l.us.is_finite() && l.us >= 0.0, "{dev} {} {l:?}", g.name);
            }
            if let Some(e) = p.energy {
                assert!(e.joules_per_sample > 0.0 && e.avg_power_w > 0.0);
                let tdp = m.device().peer.tdp_w.unwrap();
                assert!(e.avg_power_w <= tdp + 1e-9, "{dev} {} {e:?}", g.name);
            }
        }
    }
}

#[test]
fn layers_add_up_to_the_device_time() {
    let g = model("dlrm-v2");
    for stack in Stack::ALL {
        let p = predict("h100-sxm", &g, 512, Precision::Bf16, stack);
        let sum: f64 = p.per_layer.iter().map(|l| l.us).sum();
        let launch = PeerModel::for_device("h100-sxm")
            .unwrap()
            .params()
            .gemm
            .eager_pre_us;
        let expected = if stack == Stack::Eager {
            p.device_us
        } else {
            p.device_us - launch
        };
        assert!(
            (sum - expected).abs() < 1e-6 * expected,
            "{stack}: {sum} vs {expected}"
        );
        assert!(
            (p.latency_us - p.host_to_device_us - p.device_us - p.device_to_host_us).abs() < 1e-9
        );
    }
}

#[test]
fn stacks_order_latency_and_fuse_kernels() {
    let g = model("dlrm-v2");
    for batch in [1, 256, 4096] {
        let e = predict("h100-sxm", &g, batch, Precision::Bf16, Stack::Eager);
        let gr = predict("h100-sxm", &g, batch, Precision::Bf16, Stack::Graph);
        let t = predict("h100-sxm", &g, batch, Precision::Bf16, Stack::Tuned);
        assert!(gr.latency_us < e.latency_us, "batch {batch}");
        assert!(t.latency_us < gr.latency_us, "batch {batch}");
        assert_eq!(e.kernels, gr.kernels);
        assert!(t.kernels < gr.kernels);
    }
    // Tuned: one table-batched gather for all 26 bags.
    let t = predict("h100-sxm", &g, 64, Precision::Bf16, Stack::Tuned);
    let bags: Vec<_> = t
        .per_layer
        .iter()
        .filter(|l| l.op == "embedding_bag")
        .collect();
    assert_eq!(bags.len(), 26);
    assert_eq!(bags.iter().filter(|l| l.fused_into.is_none()).count(), 1);
    assert_eq!(bags.iter().map(|l| l.kernels).sum::<u32>(), 1);
}

#[test]
fn small_eager_batches_are_launch_bound_and_big_ones_are_not() {
    let g = model("dlrm-v2");
    let small = predict("h100-sxm", &g, 1, Precision::Bf16, Stack::Eager);
    assert!(
        small.per_layer.iter().all(|l| l.bound == Bound::Launch),
        "{small:#?}"
    );
    let big = predict("h100-sxm", &g, 51_200, Precision::Bf16, Stack::Tuned);
    let cross = big
        .per_layer
        .iter()
        .find(|l| l.op == "cross_layer")
        .unwrap();
    assert_eq!(cross.bound, Bound::Compute);
    let rm2 = predict(
        "h100-sxm",
        &model("rm2"),
        4096,
        Precision::Bf16,
        Stack::Graph,
    );
    let bag = rm2
        .per_layer
        .iter()
        .find(|l| l.op == "embedding_bag")
        .unwrap();
    assert_eq!(bag.bound, Bound::Gather);
}

#[test]
fn throughput_grows_with_batch_and_latency_never_shrinks() {
    let g = model("dlrm-v2");
    let mut last: Option<Prediction> = None;
    for batch in [1, 16, 256, 4096, 65_536] {
        let p = predict("h100-sxm", &g, batch, Precision::Bf16, Stack::Graph);
        if let Some(l) = &last {
            assert!(p.latency_us >= l.latency_us, "batch {batch}");
            assert!(p.samples_per_s > l.samples_per_s, "batch {batch}");
            let (a, b) = (p.energy.unwrap(), l.energy.unwrap());
            assert!(a.joules_per_sample < b.joules_per_sample, "batch {batch}");
        }
        last = Some(p);
    }
}

#[test]
fn devices_rank_as_their_datasheets_say() {
    // Compute-bound at a large batch: the H20's 148 TF lose to the H100's 989 TF.
    let g = model("dlrm-v2");
    let h100 = predict("h100-sxm", &g, 16_384, Precision::Bf16, Stack::Tuned);
    let h20 = predict("h20", &g, 16_384, Precision::Bf16, Stack::Tuned);
    assert!(h20.samples_per_s < 0.5 * h100.samples_per_s);
    // Gather-bound on the device: the H200's 4.8 TB/s beat the H100's 3.35 TB/s ...
    let rm2 = model("rm2");
    let h100 = predict("h100-sxm", &rm2, 16_384, Precision::Bf16, Stack::Tuned);
    let h200 = predict("h200", &rm2, 16_384, Precision::Bf16, Stack::Tuned);
    assert!(
        h200.device_us * 1.1 < h100.device_us,
        "{} {}",
        h200.device_us,
        h100.device_us
    );
    // ... but RM2's 3,840 indices per sample (15 KB) make PCIe the limit of both.
    assert_eq!(h200.samples_per_s, h100.samples_per_s);
    assert!(h100.host_to_device_us > h100.device_us);
}

#[test]
fn skew_helps_gather_bound_models() {
    let g = model("rm2");
    let m = PeerModel::for_device("h100-sxm").unwrap();
    let at = |access| {
        let mut o = PredictOptions::new(8192, Precision::Bf16, Stack::Graph);
        o.access = access;
        m.predict_with(&g, &o).unwrap().latency_us
    };
    let uniform = at(AccessPattern::Uniform);
    let skewed = at(AccessPattern::zipf(1.2).unwrap());
    assert!(skewed < uniform, "{skewed} {uniform}");
}

#[test]
fn tables_larger_than_the_device_spill_to_host() {
    let g = model("dlrm-v2");
    let l4 = predict("l4", &g, 1024, Precision::Int8, Stack::Tuned);
    assert!(l4.tables_on_host_fraction > 0.0);
    assert!(
        l4.notes.iter().any(|n| n.contains("host memory")),
        "{:?}",
        l4.notes
    );
    let h100 = predict("h100-sxm", &g, 1024, Precision::Int8, Stack::Tuned);
    assert_eq!(h100.tables_on_host_fraction, 0.0);
    assert!(h100.notes.is_empty());
}

#[test]
fn energy_is_absent_without_a_tdp() {
    let g = model("rm1");
    assert!(
        predict("inferentia2", &g, 64, Precision::Bf16, Stack::Graph)
            .energy
            .is_none()
    );
}

#[test]
fn bad_requests_are_user_errors() {
    let g = model("rm1");
    let e = PeerModel::for_device("gtx1080").unwrap_err().to_string();
    assert!(e.contains("gtx1080") && e.contains("h100-sxm"), "{e}");
    let a100 = PeerModel::for_device("a100-80g").unwrap();
    let e = a100
        .predict(&g, 64, Precision::Fp8, Stack::Tuned)
        .unwrap_err()
        .to_string();
    assert!(e.contains("fp8"), "{e}");
    let e = a100
        .predict(&g, 0, Precision::Bf16, Stack::Graph)
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch"), "{e}");
}

#[test]
fn ragged_bags_without_a_pooling_hint_are_rejected() {
    let mut b = seedchip_ir::GraphBuilder::new("ragged");
    let x = b.embedding_bag_ragged("ids", 1000, 16, seedchip_ir::Pooling::Sum, 5.0);
    b.output("y", x);
    let mut g = b.finish().unwrap();
    let m = PeerModel::for_device("h100-sxm").unwrap();
    let with_hint = m.predict(&g, 8, Precision::Bf16, Stack::Graph).unwrap();
    assert_eq!(with_hint.lookups, 40.0);
    for n in &mut g.nodes {
        if let seedchip_ir::Op::EmbeddingBag { mean_pooling, .. } = &mut n.op {
            *mean_pooling = None;
        }
    }
    let e = PeerModel::for_device("h100-sxm")
        .unwrap()
        .predict(&g, 8, Precision::Bf16, Stack::Graph)
        .unwrap_err()
        .to_string();
    assert!(e.contains("mean_pooling"), "{e}");
}
