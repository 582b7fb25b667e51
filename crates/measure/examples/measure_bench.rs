//! Wall time of each stage of one measurement (inputs, compile, fast-memory calibration, timing
//! model), and of a second measurement on a chip the compiler sees identically (node changed):
//! `cargo run --release -p seedchip-measure --example measure_bench -- MODEL BATCH [PROFILE]`.

use seedchip_chip::Precision;
use seedchip_measure::{Caches, MeasureOptions, measure};
use seedchip_timing::units::memctl::MemoryMode;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).map_or("dlrm-v2", String::as_str);
    let batch: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(256);
    let profile: Option<u32> = args.get(3).and_then(|s| s.parse().ok());
    let graph = seedchip_zoo::get(model, &Default::default()).expect("zoo model");
    let chip = seedchip_chip::presets::get("seedchip-v1").expect("preset");
    let mut opts = MeasureOptions::new(Precision::Int8, batch);
    opts.memory = MemoryMode::Fast;
    opts.profile_samples = profile;
    let caches = Caches::new();
    let t = std::time::Instant::now();
    let m = measure(&caches, model, &graph, &chip, &opts).expect("measure");
    println!(
        "{model} batch {batch}: {:?}, total {:.3} s; {:.0} samples/s, {:?}-bound",
        m.timings,
        t.elapsed().as_secs_f64(),
        m.report().throughput_samples_per_s,
        m.report().roofline.bound
    );
    let mut other = chip.clone();
    other.process.node_nm = 5;
    other.process.wafer_cost_usd = None;
    other.process.defect_density_per_cm2 = None;
    other.cost.nre_usd = None;
    other.resolve();
    let t = std::time::Instant::now();
    let m2 = measure(&caches, model, &graph, &other, &opts).expect("measure");
    println!(
        "same compile view (node 5): {:?}, total {:.3} s; stats {:?}",
        m2.timings,
        t.elapsed().as_secs_f64(),
        caches.stats()
    );
}
