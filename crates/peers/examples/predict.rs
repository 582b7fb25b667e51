//! Prints predictions for a zoo model across devices, stacks and batches:
//! `cargo run --release -p seedchip-peers --example predict -- dlrm-v2 bf16`.
use seedchip_chip::Precision;
use seedchip_peers::{PeerModel, Stack};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).map_or("dlrm-v2", String::as_str);
    let precision = args
        .get(2)
        .and_then(|p| Precision::parse(p))
        .unwrap_or(Precision::Bf16);
    let graph = seedchip_zoo::get(model, &seedchip_zoo::ZooOptions::default()).expect("zoo model");
    println!("device       stack  batch   latency_ms  samples/s     J/sample   util  kernels");
    for dev in seedchip_peers::device::names() {
        let m = PeerModel::for_device(dev).expect("device");
        for stack in Stack::ALL {
            for batch in [1u64, 64, 512, 4096, 51200] {
                match m.predict(&graph, batch, precision, stack) {
                    Ok(p) => println!(
                        "{dev:12} {stack:6} {batch:6} {:10.3} {:12.0} {:10.3e} {:5.2} {}",
                        p.latency_us / 1e3,
                        p.samples_per_s,
                        p.energy.map_or(f64::NAN, |e| e.joules_per_sample),
                        p.peak_utilization,
                        p.kernels
                    ),
                    Err(e) => println!("{dev:12} {stack:6} {batch:6} error: {e}"),
                }
            }
        }
    }
}
