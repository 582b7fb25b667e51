//! The reference GEMM alone on the shapes the DLRM models use, single-threaded: dense GFLOP/s
//! of the fastest of several runs (the fastest run is the one least disturbed on a shared
//! machine), so kernel changes can be compared one shape at a time.
//!
//! `cargo run --release -p seedchip-ref --example gemm_shapes [-- M,K,N ...]`
//! Default shapes: dlrm-v2's cross layer (512 × 3456 → 512 → 3456) and top MLP, dlrm-v1's top
//! MLP at batches 64 and 512.

use std::time::{Duration, Instant};

use seedchip_ir::Activation;
use seedchip_ref::gemm::{PackedB, gemm_wt};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let shapes: Vec<(usize, usize, usize)> = if args.is_empty() {
        vec![
            (512, 3456, 512),
            (512, 512, 3456),
            (512, 3456, 1024),
            (4096, 3456, 512),
            (64, 3456, 512),
            (64, 512, 3456),
            (512, 479, 1024),
            (512, 1024, 1024),
            (64, 1024, 1024),
        ]
    } else {
        args.iter()
            .map(|s| {
                let v: Vec<usize> = s
                    .split(',')
                    .map(|x| x.parse().expect("M,K,N integers"))
                    .collect();
                (v[0], v[1], v[2])
            })
            .collect()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    for (m, k, n) in shapes {
        // Deterministic, non-trivial values (no denormals, no zeros).
        let a: Vec<f32> = (0..m * k)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 104_729) % 997) as f32 / 997.0 - 0.5)
            .collect();
        let bias: Vec<f32> = (0..n).map(|j| j as f32 / n as f32).collect();
        let pb = PackedB::transposed(&w, k, n, k);
        let mut y = vec![0.0f32; m * n];
        let start = Instant::now();
        let mut reps = 0;
        let mut best = Duration::MAX;
        // Alternate runs with and without the weight's stored layout (the small-batch path
        // against the panel kernel), the fastest of each.
        let mut by_path = [Duration::MAX; 2];
        pool.install(|| {
            while reps < 5 || start.elapsed() < Duration::from_millis(1500) {
                let t0 = Instant::now();
                gemm_wt(
                    &a,
                    k,
                    m,
                    &pb,
                    (reps % 2 == 0).then_some(&w[..]),
                    Some(&bias),
                    Activation::Relu,
                    &mut y,
                    None,
                );
                best = best.min(t0.elapsed());
                by_path[reps % 2] = by_path[reps % 2].min(t0.elapsed());
                reps += 1;
            }
        });
        let path_gflops = by_path.map(|d| 2.0 * (m * k * n) as f64 / d.as_secs_f64() / 1e9);
        let checksum: f64 = y.iter().map(|&v| f64::from(v)).sum();
        let gflops = 2.0 * (m * k * n) as f64 / best.as_secs_f64() / 1e9;
        println!(
            "{m:>5} x {k:>5} x {n:>5}: {:>9.3} ms  {gflops:>6.1} GFLOP/s  (with the stored weight {:.1}, packed only {:.1}; {reps} runs, sum {checksum:.6e})",
            best.as_secs_f64() * 1e3,
            path_gflops[0],
            path_gflops[1]
        );
    }
}
