//! `cargo xtask bench serve [REQUESTS]`: simulated requests per second of wall time on three
//! configurations, against the 5 M requests/s target. Run in release; note the machine load
//! next to any figure you record.

use std::time::Instant;

use seedchip_serving::engine::{Batching, PairRule, ServeConfig, Stage, simulate};
use seedchip_serving::service::{ServiceTable, ServiceTime, Variance};
use seedchip_serving::{Arrivals, search};
use seedchip_zoo::CandidateDist;

const TARGET_PER_S: f64 = 5e6;

/// CPU time this thread has run, seconds (Linux `schedstat`; `None` elsewhere). On a loaded
/// machine wall time counts other processes' turns; CPU time does not.
fn thread_cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn stage(
    name: &str,
    replicas: u32,
    max: u32,
    wait_ms: f64,
    pairs: PairRule,
    service: ServiceTime,
) -> Stage {
    Stage {
        name: name.into(),
        replicas,
        chips_per_replica: 1,
        batching: Batching {
            max_batch_pairs: max,
            max_wait_s: wait_ms / 1e3,
            split_large: true,
        },
        pairs,
        service,
    }
}

fn table(points: &[(u32, f64)]) -> ServiceTime {
    ServiceTime::Table {
        table: ServiceTable::new(points.to_vec(), "bench").unwrap(),
        variance: Variance::LogNormal { cv: 0.05 },
    }
}

fn config(stages: Vec<Stage>, candidates: CandidateDist, requests: u64) -> ServeConfig {
    ServeConfig {
        arrivals: Arrivals::Poisson { qps: 1.0 },
        candidates,
        stages,
        requests,
        warmup_requests: requests / 20,
        sla_p99_ms: Some(60.0),
        seed: 1,
        exact_limit: 1 << 20,
    }
}

fn main() {
    let requests: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().expect("REQUESTS is a count"))
        .unwrap_or(5_000_000);
    // Service tables shaped like DLRM-v2 on seedchip-v1 (216 µs at 1 pair, 359 µs at 1024).
    let ranking = table(&[(1, 216e-6), (512, 280e-6), (1024, 359e-6), (2048, 560e-6)]);
    let cases = vec![
        (
            "M/M/1, batch 1, rho 0.8",
            config(
                vec![stage(
                    "s",
                    1,
                    1,
                    0.0,
                    PairRule::All,
                    ServiceTime::Exponential { mean_s: 1e-3 },
                )],
                CandidateDist::Fixed(1),
                requests,
            ),
            0.8,
        ),
        (
            "ranking: 16 replicas, batches <= 2048 pairs, 2 ms wait, MLPerf candidates, rho 0.8",
            config(
                vec![stage(
                    "ranking",
                    16,
                    2048,
                    2.0,
                    PairRule::All,
                    ranking.clone(),
                )],
                CandidateDist::Mlperf,
                requests,
            ),
            0.8,
        ),
        (
            "pipeline: retrieval -> ranking -> re-ranking top 50, rho 0.7",
            config(
                vec![
                    stage(
                        "retrieval",
                        2,
                        64,
                        1.0,
                        PairRule::Fixed(1),
                        table(&[(1, 80e-6), (64, 120e-6)]),
                    ),
                    stage("ranking", 16, 2048, 2.0, PairRule::All, ranking),
                    stage(
                        "rerank",
                        4,
                        256,
                        1.0,
                        PairRule::TopN(50),
                        table(&[(1, 100e-6), (256, 200e-6)]),
                    ),
                ],
                CandidateDist::Mlperf,
                requests,
            ),
            0.7,
        ),
    ];
    println!("serving simulator: {requests} measured requests per case (release build)");
    let mut worst = f64::INFINITY;
    for (name, mut cfg, rho) in cases {
        let qps = rho * search::saturation_qps(&cfg);
        cfg.arrivals = Arrivals::Poisson { qps };
        let cpu0 = thread_cpu_s();
        let t = Instant::now();
        let r = simulate(&cfg).unwrap();
        let wall = t.elapsed().as_secs_f64();
        let cpu = cpu0.and_then(|c0| thread_cpu_s().map(|c1| c1 - c0));
        let simulated = (r.requests + r.warmup_requests) as f64;
        let rate = simulated / wall;
        worst = worst.min(rate);
        println!(
            "  {name}\n    {:.0} req/s offered, p99 {:.3} ms, utilization {:.2}; {simulated:.0} requests in {wall:.3} s wall = {:.2} M simulated requests/s ({:.2}x the 5 M/s target){}",
            qps,
            r.latency.p99_ms,
            r.stages.iter().map(|s| s.utilization).fold(0.0, f64::max),
            rate / 1e6,
            rate / TARGET_PER_S,
            cpu.map_or(String::new(), |c| format!(
                "; {c:.3} s on CPU = {:.2} M/s per CPU-second",
                simulated / c / 1e6
            ))
        );
    }
    println!(
        "slowest case: {:.2} M simulated requests/s ({:.2}x target)",
        worst / 1e6,
        worst / TARGET_PER_S
    );
}
