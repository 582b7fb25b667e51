//! The f32 reference executor's run time on an ONNX model, measured the way
//! `bench/ref_vs_onnxruntime.py` measures onnxruntime: one prepared executor, 2 warm-up runs,
//! then the median of 5 timed runs (so neither side pays first-run costs the other does not).
//!
//! Also the process's CPU time per run (user + system, all threads) over at least 5 runs and
//! 1 CPU-second, a figure that a loaded machine disturbs far less than wall time.
//!
//! `cargo run --release -p seedchip-onnx --example ref_timing -- MODEL.onnx INPUTS.npz THREADS`
//! prints `{"median_s": .., "best_s": .., "runs": 5, "cpu_s": .., "cpu_runs": N}`.

use std::path::Path;
use std::time::Instant;

use seedchip_ref::{Executor, Options};

/// User + system CPU seconds of this process, all threads (Linux `/proc`, 10 ms ticks).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // utime and stime are fields 14 and 15, the 12th and 13th after the command name.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    rest.split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse::<f64>().ok())
        .sum::<f64>()
        / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, inputs, threads] = args.as_slice() else {
        eprintln!("usage: ref_timing MODEL.onnx INPUTS.npz THREADS");
        std::process::exit(2);
    };
    let fail = |what: String| -> ! {
        eprintln!("{what}");
        std::process::exit(2)
    };
    let path = Path::new(model);
    let g = seedchip_onnx::import_file(path, &Default::default())
        .unwrap_or_else(|e| fail(format!("{model}: {e}")));
    let threads: usize = threads
        .parse()
        .unwrap_or_else(|_| fail(format!("THREADS must be an integer, got {threads}")));
    let ex = Executor::new(
        &g,
        &Options {
            threads: Some(threads),
            base_dir: path.parent().map(Path::to_path_buf),
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| fail(format!("{model}: {e}")));
    let inputs = seedchip_ref::npz::read_npz(Path::new(inputs))
        .unwrap_or_else(|e| fail(format!("{inputs}: {e}")));
    for _ in 0..2 {
        ex.run(&inputs).unwrap_or_else(|e| fail(e.to_string()));
    }
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            std::hint::black_box(ex.run(&inputs).unwrap_or_else(|e| fail(e.to_string())));
            t0.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let (cpu0, mut cpu_runs) = (cpu_seconds(), 0u32);
    while cpu_runs < 5 || cpu_seconds() - cpu0 < 1.0 {
        std::hint::black_box(ex.run(&inputs).unwrap_or_else(|e| fail(e.to_string())));
        cpu_runs += 1;
    }
    let cpu_s = (cpu_seconds() - cpu0) / f64::from(cpu_runs);
    println!(
        "{{\"median_s\": {}, \"best_s\": {}, \"runs\": {}, \"cpu_s\": {cpu_s}, \"cpu_runs\": {cpu_runs}}}",
        times[times.len() / 2],
        times[0],
        times.len()
    );
}
