//! Reference-executor throughput on built-in models at full size (samples/s).
//!
//! `cargo run --release -p seedchip-ref --example bench [-- model,... [batch,...]]`
//! Defaults: dlrm-v2, rm2, dlrm-v1 at batches 1, 64, 512, 4096. Inputs are uniform synthetic
//! ids (`synthetic_inputs`); embedding rows of large tables are procedural, as in `infer`.
//! Prints one line per (model, batch) and the process's peak resident memory.

use std::time::{Duration, Instant};

use seedchip_ref::{Executor, Options, synthetic_inputs};
use seedchip_zoo::ZooOptions;

fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let models: Vec<String> = args.first().map_or_else(
        || {
            ["dlrm-v2", "rm2", "dlrm-v1"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        },
        |a| a.split(',').map(str::to_string).collect(),
    );
    let batches: Vec<usize> = args.get(1).map_or_else(
        || vec![1, 64, 512, 4096],
        |a| {
            a.split(',')
                .map(|b| b.parse().expect("batch sizes are integers"))
                .collect()
        },
    );
    println!("threads: {}", rayon::current_num_threads());
    for name in &models {
        let g = match seedchip_zoo::get(name, &ZooOptions::default()) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("{name}: {e}");
                std::process::exit(2);
            }
        };
        let t0 = Instant::now();
        let ex = Executor::new(&g, &Options::default()).expect("executor");
        println!(
            "{name}: prepared in {:.2} s, {:.0} MiB of parameters materialized",
            t0.elapsed().as_secs_f64(),
            ex.materialized_bytes() as f64 / (1 << 20) as f64
        );
        for &batch in &batches {
            let inputs = synthetic_inputs(&g, batch, 1).expect("inputs");
            ex.run(&inputs).expect("warm-up");
            let (mut reps, start) = (0u32, Instant::now());
            while reps < 3 || start.elapsed() < Duration::from_secs(2) {
                std::hint::black_box(ex.run(&inputs).expect("run"));
                reps += 1;
            }
            let per = start.elapsed().as_secs_f64() / f64::from(reps);
            println!(
                "{name:>10} batch {batch:>5}: {:>10.0} samples/s  {:>9.3} ms/batch  ({reps} runs)",
                batch as f64 / per,
                per * 1e3
            );
        }
    }
    if let Some(m) = peak_rss_mib() {
        println!("peak resident memory: {m:.0} MiB");
    }
}
