//! How far the fast (calibrated-curve) memory model is from the detailed one.
//!
//! ```text
//! cargo run --release -p seedchip-timing --example mem_fast_vs_detailed [REQUESTS]
//! ```
//!
//! Calibrates the fast model of three chips' memories with the standard grid, then runs both
//! models on the same traces — none of which is a calibration trace — and prints, per trace,
//! achieved bandwidth and mean/p99 read latency of each and the relative differences
//! (fast − detailed) / detailed, in Markdown.

use std::time::Instant;

use seedchip_timing::mem::{
    self, MemConfig, MemStats,
    fast::{CalibrationOptions, FastMemory},
    trace::{self, Arrivals, Op, Request, SplitMix64},
};

/// Bursts of `burst` random requests every `period` cycles (phases of a layer-by-layer run).
fn bursty(n: u64, bytes: u32, cap: u64, burst: u64, period: u64, seed: u64) -> Vec<Request> {
    let mut v = trace::random(n, bytes, cap, Arrivals::AllAtOnce, 0.0, seed);
    for (i, r) in v.iter_mut().enumerate() {
        r.arrival = (i as u64 / burst) * period;
    }
    v
}

/// `streams` sequential 64-byte streams starting at random 64-byte-aligned places,
/// interleaved request by request.
fn unaligned_streams(n: u64, streams: u64, seed: u64) -> Vec<Request> {
    let mut rng = SplitMix64::new(seed);
    let bases: Vec<u64> = (0..streams).map(|_| rng.below(1 << 28) * 64).collect();
    (0..n)
        .map(|i| Request::read(0, bases[(i % streams) as usize] + (i / streams) * 64, 64))
        .collect()
}

/// Half the requests stream, half are random rows, interleaved one by one.
fn stream_plus_random(n: u64, cap: u64, gap: f64, seed: u64) -> Vec<Request> {
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|i| Request {
            arrival: (i as f64 * gap) as u64,
            addr: if i % 2 == 0 {
                (1 << 30) + (i / 2) * 128
            } else {
                rng.below(cap / 128) * 128
            },
            bytes: 128,
            op: Op::Read,
        })
        .collect()
}

fn row(name: &str, d: &MemStats, f: &MemStats) -> (String, [f64; 3]) {
    let rel = |a: f64, b: f64| if b == 0.0 { 0.0 } else { (a - b) / b };
    let bw = rel(f.achieved_gbps, d.achieved_gbps);
    let lat = rel(f.read_latency.mean_ns, d.read_latency.mean_ns);
    let p99 = rel(f.read_latency.p99_ns, d.read_latency.p99_ns);
    (
        format!(
            "| {name} | {:.0} | {:.0} | {:+.1} % | {:.0} | {:.0} | {:+.1} % | {:.0} | {:.0} | {:+.1} % |",
            d.achieved_gbps,
            f.achieved_gbps,
            100.0 * bw,
            d.read_latency.mean_ns,
            f.read_latency.mean_ns,
            100.0 * lat,
            d.read_latency.p99_ns,
            f.read_latency.p99_ns,
            100.0 * p99
        ),
        [bw.abs(), lat.abs(), p99.abs()],
    )
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    // |Δ| of bandwidth, mean latency and p99 latency per run, and whether the run aliases.
    let mut errors: Vec<([f64; 3], bool)> = Vec::new();
    for preset in ["seedchip-v1", "tpu-v4i", "mtia-v2"] {
        let c = MemConfig::from_preset(preset).expect("preset");
        let start = Instant::now();
        let fast =
            FastMemory::calibrate(&c, &CalibrationOptions::standard(&c)).expect("calibrates");
        let cal_s = start.elapsed().as_secs_f64();
        let cap = c.capacity_bytes();
        let all = Arrivals::AllAtOnce;
        // Loads relative to what random 64-byte reads sustain on this memory.
        let sat = mem::simulate(&c, &trace::random(n.min(100_000), 64, cap, all, 0.0, 99))
            .expect("runs")
            .stats;
        let per_cycle = sat.achieved_gbps * c.tck_ns / 64.0;
        let at = |load: f64| Arrivals::Every(1.0 / (load * per_cycle));
        let streams = u64::from(c.total_pchannels()) * 4;
        let traces: Vec<(String, Vec<Request>)> = vec![
            (
                "stream 64 B".into(),
                trace::sequential(n, 64, 0, all, Op::Read),
            ),
            (
                "stream 2 KB".into(),
                trace::sequential(n / 8, 2048, 0, all, Op::Read),
            ),
            ("random 64 B".into(), trace::random(n, 64, cap, all, 0.0, 1)),
            (
                "random 128 B".into(),
                trace::random(n, 128, cap, all, 0.0, 2),
            ),
            (
                "random 384 B".into(),
                trace::random(n / 2, 384, cap, all, 0.0, 3),
            ),
            (
                "random 64 B at 30 % load".into(),
                trace::random(n, 64, cap, at(0.3), 0.0, 4),
            ),
            (
                "random 64 B at 60 % load".into(),
                trace::random(n, 64, cap, at(0.6), 0.0, 5),
            ),
            (
                "random 64 B at 85 % load".into(),
                trace::random(n, 64, cap, at(0.85), 0.0, 6),
            ),
            (
                "random 64 B, 25 % writes".into(),
                trace::random(n, 64, cap, all, 0.25, 7),
            ),
            (
                format!("{streams} streams, unaligned"),
                unaligned_streams(n, streams, 10),
            ),
            (
                format!("{streams} streams, 64 MiB-aligned (bank aliasing)"),
                trace::interleaved_streams(n, 64, streams as u32, 1 << 26, all),
            ),
            (
                "stream + random 128 B, 50 % load".into(),
                stream_plus_random(n, cap, 2.0 * 128.0 / (64.0 * per_cycle), 8),
            ),
            (
                "bursts of 4096 random 64 B".into(),
                bursty(n, 64, cap, 4096, (4096.0 / per_cycle * 2.0) as u64, 9),
            ),
        ];
        println!(
            "\n**{preset}** ({}, {:.0} GB/s peak; calibration {cal_s:.1} s)\n",
            c.kind,
            c.peak_gbps()
        );
        println!(
            "| trace | detailed GB/s | fast GB/s | Δ | detailed mean ns | fast mean ns | Δ \
             | detailed p99 ns | fast p99 ns | Δ |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (name, reqs) in &traces {
            let d = mem::simulate(&c, reqs).expect("runs").stats;
            let f = fast.simulate(reqs).stats;
            let (line, e) = row(name, &d, &f);
            println!("{line}");
            errors.push((e, name.contains("aliasing")));
        }
    }
    for (label, keep) in [
        ("all runs", None),
        ("runs without bank aliasing", Some(false)),
    ] {
        let sel: Vec<[f64; 3]> = errors
            .iter()
            .filter(|(_, a)| keep.is_none_or(|k| k == *a))
            .map(|(e, _)| *e)
            .collect();
        let stat = |i: usize| {
            let mean = sel.iter().map(|e| e[i]).sum::<f64>() / sel.len() as f64;
            let max = sel.iter().map(|e| e[i]).fold(0.0, f64::max);
            (100.0 * mean, 100.0 * max)
        };
        let ((b, bm), (l, lm), (p, pm)) = (stat(0), stat(1), stat(2));
        println!(
            "\n{label} ({}): |Δ| bandwidth mean {b:.1} % max {bm:.1} %; mean latency mean {l:.1} % \
             max {lm:.1} %; p99 latency mean {p:.1} % max {pm:.1} %.",
            sel.len()
        );
    }
}
