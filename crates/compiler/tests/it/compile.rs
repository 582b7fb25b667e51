//! Compilation of the zoo across presets and precisions.

use seedchip_chip::{Precision, presets};
use seedchip_compiler::{CompileOptions, compile};
use seedchip_zoo::ZooOptions;

fn zoo(name: &str, rows_cap: u64) -> seedchip_ir::Graph {
    seedchip_zoo::get(
        name,
        &ZooOptions {
            rows_cap: Some(rows_cap),
            seed: 7,
        },
    )
    .unwrap()
}

fn options(p: Precision, batch: u32) -> CompileOptions {
    let mut o = CompileOptions::new(p, batch);
    o.verify = true;
    o.calibration_samples = 4;
    o.profile_samples = 64;
    o
}

#[test]
fn zoo_compiles_on_seedchip_v1() {
    let chip = presets::get("seedchip-v1").unwrap();
    for m in seedchip_zoo::list() {
        for p in [Precision::Bf16, Precision::Int8] {
            let g = zoo(m.name, 1000);
            let c = compile(&g, &chip, &options(p, 16))
                .unwrap_or_else(|e| panic!("{} {p}: {e}", m.name));
            eprintln!(
                "{} {p}: {} instructions, {} cores, mb {}",
                m.name, c.report.instructions_total, c.report.cores, c.report.micro_batch
            );
        }
    }
}
