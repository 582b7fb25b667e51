//! Memory-model speed: simulated requests per second, detailed and fast modes.
//!
//! ```text
//! cargo xtask bench mem [REQUESTS]          # what to run (adds the DRAMsim3 comparison)
//! cargo run --release -p seedchip-timing --example mem_bench [REQUESTS] [ONLY]
//! ```
//!
//! ONLY (optional) keeps the rows whose "memory: trace" contains it, e.g. `"v1 (hbm3): random 64"`.
//!
//! Each row simulates REQUESTS requests (default 2,000,000) with `mem::simulate` and reports
//! requests per second: on one thread, per second of CPU time (the figure that does not depend
//! on what else the machine is doing) and of wall time; on all of rayon's threads, of wall
//! time and per second of CPU time of all threads together (equal to the one-thread CPU figure
//! when parallelism costs nothing, so that N otherwise idle cores reach N times it); and for
//! the fast model's trace replay (wall). It checks that one thread and all
//! threads give the same result. Prints Markdown and the load average before and after.
//!
//! Memories: seedchip-v1 (HBM3, 2 stacks), two HBM2E stacks (the kind's defaults), tpu-v4i
//! (HBM2, 2 stacks), mtia-v2 (LPDDR5, 16 channels). Traces: random 64-byte reads (saturating:
//! everything arrives at cycle 0), the same at half the load they sustain, random 64-byte
//! accesses with a third writes, random 256-byte reads, sequential 64-byte reads (a stream).

use std::time::Instant;

use seedchip_chip::MemoryKind;
use seedchip_timing::mem::{
    self, MemConfig, default_memory,
    fast::{CalibrationOptions, FastMemory},
    trace::{self, Arrivals, Op, Request},
};

/// CPU seconds used by this process so far, all threads (Linux: the scheduler's nanosecond
/// counters; `/proc/self/stat`'s 10 ms ticks otherwise; wall-clock elsewhere).
fn cpu_seconds(wall: &Instant) -> f64 {
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        let mut ns = 0u64;
        let mut any = false;
        for t in dir.flatten() {
            let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
            if let Some(v) = s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
            {
                ns += v;
                any = true;
            }
        }
        if any {
            return ns as f64 / 1e9;
        }
    }
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

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn traces(c: &MemConfig, n: u64) -> Vec<(&'static str, Vec<Request>)> {
    let cap = c.capacity_bytes();
    let all = Arrivals::AllAtOnce;
    // Half of what random 64-byte reads sustain (measured here as a saturated run).
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

fn memories() -> Vec<(String, MemConfig)> {
    let mut v: Vec<(String, MemConfig)> = Vec::new();
    let preset = |name: &str| {
        let c = MemConfig::from_preset(name).expect("preset");
        (format!("{name} ({})", c.kind), c)
    };
    v.push(preset("seedchip-v1"));
    let hbm2e = MemConfig::from_chip(&default_memory(MemoryKind::Hbm2e, 2)).expect("hbm2e");
    v.push(("2 × HBM2E stacks (defaults)".into(), hbm2e));
    v.push(preset("tpu-v4i"));
    v.push(preset("mtia-v2"));
    v
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let only = std::env::args().nth(2).unwrap_or_default();
    let threads = rayon::current_num_threads();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool");
    println!(
        "{n} requests per row; {threads} rayon threads; load average before: {}.\n",
        load_average()
    );
    println!(
        "| memory | trace | simulated cycles | M req/s, 1 thread (CPU) | M req/s, 1 thread (wall) \
         | M req/s, {threads} threads (wall) | M req/s per CPU second, {threads} threads \
         | fast mode M req/s (wall) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut single_cpu = Vec::new();
    for (name, c) in memories() {
        if !only.is_empty()
            && !traces(&c, 1)
                .iter()
                .any(|(t, _)| format!("{name}: {t}").contains(&only))
        {
            continue;
        }
        let fast =
            FastMemory::calibrate(&c, &CalibrationOptions::standard(&c)).expect("calibrates");
        for (trace_name, reqs) in traces(&c, n) {
            if !format!("{name}: {trace_name}").contains(&only) {
                continue;
            }
            let wall = Instant::now();
            let cpu0 = cpu_seconds(&wall);
            let single = one.install(|| mem::simulate(&c, &reqs).expect("runs"));
            let t1 = wall.elapsed().as_secs_f64();
            let cpu1 = cpu_seconds(&wall) - cpu0;
            let wall = Instant::now();
            let cpu0 = cpu_seconds(&wall);
            let multi = mem::simulate(&c, &reqs).expect("runs");
            let tn = wall.elapsed().as_secs_f64();
            let cpun = cpu_seconds(&wall) - cpu0;
            assert_eq!(single, multi, "thread count changed the result");
            let wall = Instant::now();
            let f = fast.simulate(&reqs);
            let tf = wall.elapsed().as_secs_f64();
            std::hint::black_box(f);
            let m = |t: f64| n as f64 / t.max(1e-9) / 1e6;
            single_cpu.push(m(cpu1));
            println!(
                "| {name} | {trace_name} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
                single.stats.elapsed_cycles,
                m(cpu1),
                m(t1),
                m(tn),
                m(cpun),
                m(tf)
            );
        }
    }
    single_cpu.sort_by(f64::total_cmp);
    println!(
        "\nDetailed model, one thread, CPU time: {:.1} to {:.1} M requests/s (median {:.1}); \
         load average after: {}.",
        single_cpu[0],
        single_cpu[single_cpu.len() - 1],
        single_cpu[single_cpu.len() / 2],
        load_average()
    );
}
