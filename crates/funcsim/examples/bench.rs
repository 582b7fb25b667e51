//! Functional-simulator throughput next to the f32 reference, in the same process and on the
//! same inputs (samples/s), so the ratio is measured under the same machine load.
//!
//! `cargo run --release -p seedchip-funcsim --features bench --example bench -- [model [precision
//! [batch [chip]]]]`
//! Defaults: dlrm-v2, int8, batch 512, seedchip-v1. Compilation is not timed. Inputs are the
//! zoo's generated batch 0 (Zipf ids, seed 0x5eed); embedding rows are procedural in both
//! executors. Runs alternate (funcsim, reference) for at least 5 rounds and 10 s; the best and
//! median of each are printed, with the funcsim/reference ratio of the medians. Where
//! `/proc/self/stat` is readable, the process CPU time per batch of each is printed too: on a
//! loaded machine it moves far less than wall time (it also counts spinning worker threads).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use seedchip_compiler::{CompileOptions, compile};
use seedchip_funcsim::{Limits, Machine};
use seedchip_ref::{Executor, Options, Tensor};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU seconds (user + system, all threads) this process has used, from `/proc/self/stat`
/// (clock ticks of 1/100 s, the Linux `USER_HZ`); `None` where that file is missing.
fn cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = args.first().map_or("dlrm-v2", String::as_str);
    let precision = args.get(1).map_or("int8", String::as_str);
    let batch: usize = args
        .get(2)
        .map_or(512, |b| b.parse().expect("batch is an integer"));
    let chip_name = args.get(3).map_or("seedchip-v1", String::as_str);

    let seed = 0x5eed;
    let options = seedchip_zoo::ZooOptions {
        seed,
        ..Default::default()
    };
    let graph = seedchip_zoo::get(model, &options).expect("zoo model");
    let chip = seedchip_chip::presets::get(chip_name).expect("chip preset");
    let precision = seedchip_chip::Precision::parse(precision).expect("precision");
    let mut copts = CompileOptions::new(precision, batch as u32);
    copts.seed = seed;
    let t = Instant::now();
    let compiled = compile(&graph, &chip, &copts).expect("compiles");
    println!(
        "{model} {} batch {batch} on {chip_name}: compiled in {:.1} s",
        precision.name(),
        t.elapsed().as_secs_f64()
    );

    let workload = seedchip_zoo::GraphWorkload::new(
        &graph,
        &seedchip_zoo::InputOptions {
            seed,
            ..Default::default()
        },
    )
    .expect("workload");
    let mut inputs = BTreeMap::new();
    for t in workload.batch(0, batch) {
        let shape: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
        let tensor = match t.data {
            seedchip_zoo::TensorData::F32(v) => Tensor::from_f32(shape, v),
            seedchip_zoo::TensorData::I32(v) => Tensor::from_i32(shape, v),
            seedchip_zoo::TensorData::I64(v) => Tensor::from_i64(shape, v),
        };
        inputs.insert(t.name, tensor.expect("shape matches data"));
    }

    let mut machine = Machine::new(&chip, &compiled.program).expect("loads");
    for b in compiled
        .program
        .bindings
        .iter()
        .filter(|b| b.direction == seedchip_isa::Direction::Input)
    {
        machine
            .write_input(&b.name, &inputs[&b.name])
            .expect("input");
    }
    let executor = Executor::new(&graph, &Options::default()).expect("reference");
    let limits = Limits::default();
    // Warm-up: first touches of procedural rows, page faults, thread pools.
    let stats = machine.run(&limits).expect("runs");
    executor.run(&inputs).expect("reference runs");
    println!(
        "threads: {}; program: {} instructions, {} MACs, {} embedding rows",
        rayon::current_num_threads(),
        stats.instructions,
        stats.macs,
        stats.gather_rows
    );

    let (mut sim, mut reference) = (Vec::new(), Vec::new());
    let (mut sim_cpu, mut ref_cpu) = (Some(0.0), Some(0.0));
    let add = |total: &mut Option<f64>, before: Option<f64>| {
        *total = total.zip(before.zip(cpu_s())).map(|(t, (b, a))| t + a - b);
    };
    let start = Instant::now();
    while sim.len() < 5 || start.elapsed() < Duration::from_secs(10) {
        let (t, c) = (Instant::now(), cpu_s());
        std::hint::black_box(machine.run(&limits).expect("runs"));
        sim.push(t.elapsed().as_secs_f64());
        add(&mut sim_cpu, c);
        let (t, c) = (Instant::now(), cpu_s());
        std::hint::black_box(executor.run(&inputs).expect("reference runs"));
        reference.push(t.elapsed().as_secs_f64());
        add(&mut ref_cpu, c);
    }
    let rounds = sim.len();
    let (sim_best, ref_best) = (
        sim.iter().copied().fold(f64::INFINITY, f64::min),
        reference.iter().copied().fold(f64::INFINITY, f64::min),
    );
    let (sim_med, ref_med) = (median(&mut sim), median(&mut reference));
    let sps = |s: f64| batch as f64 / s;
    println!(
        "funcsim   : {:>9.0} samples/s median ({:.0} best), {:.1} ms/batch",
        sps(sim_med),
        sps(sim_best),
        sim_med * 1e3
    );
    println!(
        "reference : {:>9.0} samples/s median ({:.0} best), {:.1} ms/batch",
        sps(ref_med),
        sps(ref_best),
        ref_med * 1e3
    );
    println!(
        "funcsim / reference: {:.2} (medians over {rounds} alternating rounds)",
        ref_med / sim_med
    );
    if let (Some(s), Some(r)) = (sim_cpu, ref_cpu) {
        println!(
            "CPU time per batch (all threads): funcsim {:.1} ms, reference {:.1} ms",
            s * 1e3 / rounds as f64,
            r * 1e3 / rounds as f64
        );
    }
}
