//! Memory-model speed: simulated requests per second, detailed and fast modes.
//!
//! ```text
//! cargo run --release -p seedchip-timing --example mem_bench [REQUESTS]
//! ```
//!
//! Each row simulates REQUESTS requests (default 2,000,000) and reports requests per second of
//! wall time on one thread and on all of rayon's threads, and per second of CPU time on one
//! thread (the figure that does not depend on what else the machine is doing). Prints Markdown.

use std::time::Instant;

use seedchip_timing::mem::{
    self, MemConfig,
    fast::{CalibrationOptions, FastMemory},
    trace::{self, Arrivals, Op, Request},
};

/// CPU seconds used by this process so far (Linux; wall-clock elsewhere).
fn cpu_seconds(wall: &Instant) -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    match (fields.get(11), fields.get(12)) {
        (Some(u), Some(s)) => match (u.parse::<f64>(), s.parse::<f64>()) {
            // Clock ticks; 100 per second on Linux.
            (Ok(u), Ok(s)) => (u + s) / 100.0,
            _ => wall.elapsed().as_secs_f64(),
        },
        _ => wall.elapsed().as_secs_f64(),
    }
}

fn traces(c: &MemConfig, n: u64) -> Vec<(&'static str, Vec<Request>)> {
    let cap = c.capacity_bytes();
    let all = Arrivals::AllAtOnce;
    // Half of what random 64-byte reads sustain (measured below as the saturated run).
    let random = trace::random(n, 64, cap, all, 0.0, 1);
    let sat = mem::simulate(c, &random[..(n as usize).min(200_000)])
        .expect("valid")
        .stats;
    let per_cycle = sat.achieved_gbps * c.tck_ns / 64.0;
    vec![
        ("random 64 B reads", random),
        (
            "random 64 B reads, half load",
            trace::random(n, 64, cap, Arrivals::Every(2.0 / per_cycle), 0.0, 1),
        ),
        (
            "random 64 B, 1/3 writes",
            trace::random(n, 64, cap, all, 1.0 / 3.0, 2),
        ),
        (
            "random 256 B reads",
            trace::random(n, 256, cap, all, 0.0, 3),
        ),
        (
            "sequential 64 B reads",
            trace::sequential(n, 64, 0, all, Op::Read),
        ),
    ]
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let threads = rayon::current_num_threads();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    println!("{n} requests per row; {threads} rayon threads.\n");
    println!(
        "| memory | trace | simulated cycles | M req/s, 1 thread (CPU) | M req/s, 1 thread (wall) \
         | M req/s, {threads} threads (wall) | fast mode M req/s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for preset in ["seedchip-v1", "tpu-v4i", "mtia-v2"] {
        let c = MemConfig::from_preset(preset).expect("preset");
        let fast =
            FastMemory::calibrate(&c, &CalibrationOptions::standard(&c)).expect("calibrates");
        for (name, reqs) in traces(&c, n) {
            let wall = Instant::now();
            let cpu0 = cpu_seconds(&wall);
            let single = one.install(|| mem::simulate(&c, &reqs).expect("runs"));
            let t1 = wall.elapsed().as_secs_f64();
            let cpu1 = cpu_seconds(&wall) - cpu0;
            let wall = Instant::now();
            let multi = mem::simulate(&c, &reqs).expect("runs");
            let tn = wall.elapsed().as_secs_f64();
            assert_eq!(single, multi, "thread count changed the result");
            let wall = Instant::now();
            let f = fast.simulate(&reqs);
            let tf = wall.elapsed().as_secs_f64();
            std::hint::black_box(f);
            let m = |t: f64| n as f64 / t / 1e6;
            println!(
                "| {preset} ({}) | {name} | {} | {:.1} | {:.1} | {:.1} | {:.0} |",
                c.kind,
                single.stats.elapsed_cycles,
                m(cpu1.max(1e-9)),
                m(t1),
                m(tn),
                m(tf)
            );
        }
    }
}
