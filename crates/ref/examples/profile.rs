//! Where the reference executor's time goes: wall time per node and per op kind.
//!
//! `cargo run --release -p seedchip-ref --example profile -- MODEL BATCH [ROWS_CAP [THREADS]]`
//! Runs a built-in model (tables capped at ROWS_CAP rows, default 20000, so they are
//! materialized as in the ONNX benchmark) once to warm up, then 3 profiled runs, and prints the
//! median per op kind and the ten slowest nodes, with the process's CPU time and dense
//! GFLOP/s per CPU-second (a figure that stays meaningful on a loaded machine).

use std::collections::BTreeMap;
use std::time::Instant;

use seedchip_ref::{Executor, Options, synthetic_inputs};
use seedchip_zoo::ZooOptions;

/// User + system CPU seconds of this process, all threads (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: profile MODEL BATCH [ROWS_CAP [THREADS]]");
        std::process::exit(2);
    }
    let num = |i: usize, d: usize| args.get(i).map_or(d, |a| a.parse().expect("an integer"));
    let (batch, rows_cap) = (num(1, 64), num(2, 20000));
    let threads = args.get(3).map(|a| a.parse::<usize>().expect("an integer"));
    let g = seedchip_zoo::get(
        &args[0],
        &ZooOptions {
            rows_cap: Some(rows_cap as u64),
            ..ZooOptions::default()
        },
    )
    .unwrap_or_else(|e| {
        eprintln!("{}: {e}", args[0]);
        std::process::exit(2)
    });
    let ex = Executor::new(
        &g,
        &Options {
            threads,
            ..Options::default()
        },
    )
    .expect("executor");
    let inputs = synthetic_inputs(&g, batch, 1).expect("inputs");
    ex.run(&inputs).expect("warm-up");
    let mut runs = Vec::new();
    let cpu0 = cpu_seconds();
    for _ in 0..3 {
        let t0 = Instant::now();
        let (_, times) = ex.run_profiled(&inputs).expect("run");
        runs.push((t0.elapsed(), times));
    }
    let cpu_per_run = (cpu_seconds() - cpu0) / 3.0;
    runs.sort_by_key(|r| r.0);
    let (total, times) = &runs[1];
    let mut by_kind: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for (nid, d) in times {
        let e = by_kind
            .entry(g.node(*nid).op.name().to_string())
            .or_default();
        e.0 += d.as_secs_f64();
        e.1 += 1;
    }
    let total_s = total.as_secs_f64();
    let flop = seedchip_ir::analysis::stats(&g).dense_flops_per_sample as f64 * batch as f64;
    println!(
        "{} batch {batch}: {:.3} ms (median of 3), {:.3} CPU-s per run, {:.1} dense GFLOP/s per CPU-s",
        args[0],
        total_s * 1e3,
        cpu_per_run,
        flop / cpu_per_run.max(1e-9) / 1e9
    );
    let mut kinds: Vec<_> = by_kind.into_iter().collect();
    kinds.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    for (k, (s, n)) in kinds {
        println!(
            "  {k:<18} {n:>4} nodes {:>10.3} ms {:>5.1} %",
            s * 1e3,
            100.0 * s / total_s
        );
    }
    let mut slow: Vec<_> = times.iter().collect();
    slow.sort_by_key(|t| std::cmp::Reverse(t.1));
    println!("  slowest nodes:");
    for (nid, d) in slow.iter().take(10) {
        println!(
            "    {:<30} {:>10.3} ms",
            g.node_label(*nid),
            d.as_secs_f64() * 1e3
        );
    }
}
