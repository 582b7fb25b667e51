//! The f32 reference executor's run time on an ONNX model, measured the way
//! `bench/ref_vs_onnxruntime.py` measures onnxruntime: one prepared executor, 2 warm-up runs,
//! then the median of 5 timed runs (so neither side pays first-run costs the other does not).
//!
//! `cargo run --release -p seedchip-onnx --example ref_timing -- MODEL.onnx INPUTS.npz THREADS`
//! prints `{"median_s": .., "best_s": .., "runs": 5}`.

use std::path::Path;
use std::time::Instant;

use seedchip_ref::{Executor, Options};

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
    println!(
        "{{\"median_s\": {}, \"best_s\": {}, \"runs\": {}}}",
        times[times.len() / 2],
        times[0],
        times.len()
    );
}
