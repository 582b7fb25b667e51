//! End to end: compiled programs on funcsim against the f32 reference.

use seedchip_chip::{Precision, presets};
use seedchip_ir::{Activation, GraphBuilder, Pooling};

use crate::support::check;

fn mini_dlrm() -> seedchip_ir::Graph {
    let mut b = GraphBuilder::new("mini");
    b.set_seed(3);
    let x = b.dense_input("dense", 13);
    let bot = b
        .named("bot")
        .mlp(x, &[64, 16], Activation::Relu, Activation::Relu);
    let e0 = b.embedding_bag("t0", 100, 16, Pooling::Sum, 3);
    let e1 = b.embedding_bag("t1", 50, 16, Pooling::Sum, 1);
    let z = b.named("inter").dot_interaction(&[bot, e0, e1], false);
    let cat = b.concat(&[bot, z], 1);
    let p = b
        .named("top")
        .mlp(cat, &[32, 1], Activation::Relu, Activation::Sigmoid);
    b.output("prob", p);
    b.finish().unwrap()
}

#[test]
fn mini_dlrm_bf16_and_int8() {
    let chip = presets::get("seedchip-v1").unwrap();
    let g = mini_dlrm();
    let (e, _) = check(&g, &chip, Precision::Bf16, 8, true);
    eprintln!("bf16 rel-L2 {e:.3e}");
    assert!(e < 1e-2, "bf16 {e}");
    let (e, _) = check(&g, &chip, Precision::Int8, 8, true);
    eprintln!("int8 rel-L2 {e:.3e}");
    assert!(e < 5e-2, "int8 {e}");
}

/// DLRM-v1-style ragged bags (PyTorch `EmbeddingBag` with offsets): sum, mean and max, with
/// empty bags, across micro-batches and cores, with and without the hot-row cache.
fn ragged_dlrm() -> seedchip_ir::Graph {
    let mut b = GraphBuilder::new("ragged");
    b.set_seed(5);
    let x = b.dense_input("dense", 13);
    let bot = b
        .named("bot")
        .mlp(x, &[32, 16], Activation::Relu, Activation::Relu);
    let e0 = b.embedding_bag_ragged("r0", 300, 16, Pooling::Sum, 2.0);
    let e1 = b.embedding_bag_ragged("r1", 50, 16, Pooling::Mean, 3.0);
    let e2 = b.embedding_bag_ragged("r2", 80, 16, Pooling::Max, 0.5);
    let e3 = b.embedding_bag("f3", 40, 16, Pooling::Sum, 2);
    let z = b
        .named("inter")
        .dot_interaction(&[bot, e0, e1, e2, e3], false);
    let cat = b.concat(&[bot, z], 1);
    let p = b
        .named("top")
        .mlp(cat, &[16, 1], Activation::Relu, Activation::Sigmoid);
    b.output("prob", p);
    b.finish().unwrap()
}

#[test]
fn ragged_bags_match_the_reference() {
    let g = ragged_dlrm();
    for cache in [true, false] {
        let mut chip = presets::get("seedchip-v1").unwrap();
        if !cache {
            // Small SRAM: several micro-batches per core, so offsets are read mid-batch.
            chip.gather.hot_row_cache_bytes = Some(0);
            chip.cores.local_sram_bytes = 16 << 10;
            chip.shared_sram.capacity_bytes = 8 << 10;
        }
        for (p, tol) in [(Precision::Bf16, 1e-2), (Precision::Int8, 5e-2)] {
            let (e, c) = check(&g, &chip, p, 40, true);
            eprintln!(
                "cache {cache} {p} rel-L2 {e:.3e} ({} cores, mb {})",
                c.report.cores, c.report.micro_batch
            );
            assert!(e < tol, "cache {cache} {p}: {e}");
            assert_eq!(c.ragged().len(), 3);
            // The listing of a program with HBM-resident ids reassembles to it.
            let text = c.program.disassemble();
            assert_eq!(seedchip_isa::assemble(&text).unwrap(), c.program);
        }
    }
}

#[test]
fn ragged_bags_need_gather_engines_and_capacity() {
    let g = ragged_dlrm();
    let mut chip = presets::get("seedchip-v1").unwrap();
    chip.gather.engines = 0;
    chip.gather.hot_row_cache_bytes = Some(0);
    let e = seedchip_compiler::compile(&g, &chip, &crate::support::options(Precision::Bf16, 4))
        .unwrap_err();
    assert!(e.to_string().contains("gather engines"), "{e}");
    // Inputs beyond the compiled capacity are an error naming the input.
    let chip = presets::get("seedchip-v1").unwrap();
    let mut o = crate::support::options(Precision::Bf16, 4);
    o.ragged_ids.insert("r0".into(), 3);
    let c = seedchip_compiler::compile(&g, &chip, &o).unwrap();
    let mut feeds = crate::support::inputs(&g, 4, 0);
    feeds.insert(
        "r0".into(),
        seedchip_ref::Tensor::from_i64(vec![4], vec![1, 2, 3, 4]).unwrap(),
    );
    let e = c.program_inputs(&feeds).unwrap_err().to_string();
    assert!(e.contains("r0") && e.contains("4 ids"), "{e}");
}

/// The acceptance table: every zoo model, bf16 and int8, batch `SEEDCHIP_E2E_BATCH` (64), on
/// the presets in `SEEDCHIP_E2E_CHIPS`. Slow in debug builds; run with `--release --ignored`.
#[test]
#[ignore = "minutes in release; the acceptance table"]
fn zoo_table() {
    let batch: u32 = std::env::var("SEEDCHIP_E2E_BATCH")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let chips = std::env::var("SEEDCHIP_E2E_CHIPS").unwrap_or_else(|_| "seedchip-v1".into());
    let models = std::env::var("SEEDCHIP_E2E_MODELS").ok();
    let mut failures = Vec::new();
    for chip_name in chips.split(',') {
        let chip = presets::get(chip_name).unwrap();
        for m in seedchip_zoo::list() {
            if models
                .as_ref()
                .is_some_and(|ms| !ms.split(',').any(|x| x == m.name))
            {
                continue;
            }
            let g = seedchip_zoo::get(
                m.name,
                &seedchip_zoo::ZooOptions {
                    rows_cap: Some(10_000),
                    seed: 1,
                },
            )
            .unwrap();
            for (p, tol) in [(Precision::Bf16, 1e-2), (Precision::Int8, 5e-2)] {
                if !chip
                    .cores
                    .matrix_units
                    .iter()
                    .any(|u| u.macs_per_cycle.contains_key(&p))
                {
                    continue;
                }
                let t = std::time::Instant::now();
                let (e, c) = check(&g, &chip, p, batch, false);
                eprintln!(
                    "{chip_name:12} {:14} {p:5} rel-L2 {e:.3e}  ({} cores, mb {}, {} insts, {:.1}s)",
                    m.name,
                    c.report.cores,
                    c.report.micro_batch,
                    c.report.instructions_total,
                    t.elapsed().as_secs_f64()
                );
                if e > tol || e.is_nan() {
                    failures.push(format!("{chip_name} {} {p}: {e}", m.name));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
