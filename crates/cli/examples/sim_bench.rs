//! Speed of the timing model on a compiled model: compiles once, then times `simulate` alone
//! (best and median of N runs) in the detailed and the fast memory mode, and checks that
//! repeated runs give identical reports.
//!
//! ```text
//! cargo run --release -p seedchip-cli --example sim_bench -- [MODEL] [BATCH] [CHIP] [RUNS] [MODES]
//! ```
//! Defaults: dlrm-v2, 2048, seedchip-v1, 5, `detailed,fast` (the design target: ≤ 1 s for DLRM-v2 at batch
//! 2048, about 440 k embedding-row reads, on a 2-core machine).

use std::collections::BTreeMap;
use std::time::Instant;

use seedchip_chip::Precision;
use seedchip_compiler::{CompileOptions, compile};
use seedchip_timing::mem::MemConfig;
use seedchip_timing::mem::fast::{CalibrationOptions, FastMemory};
use seedchip_timing::sim::{SimOptions, simulate};
use seedchip_timing::units::memctl::MemoryMode;

/// CPU seconds this thread has run (Linux `schedstat`), so figures mean something on a shared,
/// loaded machine where wall time does not.
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns * 1e-9)
}

/// CPU seconds of the whole process, all threads (`/proc/self/stat` utime + stime, in ticks
/// of 10 ms).
fn process_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = args.first().map_or("dlrm-v2", String::as_str);
    let batch: u32 = args.get(1).map_or(2048, |s| s.parse().expect("BATCH"));
    let chip_name = args.get(2).map_or("seedchip-v1", String::as_str);
    let runs: usize = args.get(3).map_or(5, |s| s.parse().expect("RUNS"));
    let modes: Vec<MemoryMode> = args
        .get(4)
        .map_or("detailed,fast", String::as_str)
        .split(',')
        .map(|m| match m {
            "detailed" => MemoryMode::Detailed,
            "fast" => MemoryMode::Fast,
            _ => panic!("MODES: detailed and/or fast"),
        })
        .collect();
    let chip = seedchip_chip::presets::get(chip_name).expect("a chip preset");
    let graph = seedchip_zoo::get(
        model,
        &seedchip_zoo::ZooOptions {
            rows_cap: None,
            seed: 0x5eed,
        },
    )
    .expect("a zoo model");
    let workload = seedchip_zoo::GraphWorkload::new(
        &graph,
        &seedchip_zoo::InputOptions {
            seed: 0x5eed,
            alpha: 1.0,
            ..Default::default()
        },
    )
    .expect("inputs");
    let mut ids = BTreeMap::new();
    for t in workload.batch(0, batch as usize) {
        let v: Vec<i64> = match t.data {
            seedchip_zoo::TensorData::F32(_) => continue,
            seedchip_zoo::TensorData::I32(v) => v.into_iter().map(i64::from).collect(),
            seedchip_zoo::TensorData::I64(v) => v,
        };
        ids.insert(t.name, v);
    }
    let t = Instant::now();
    let mut options = CompileOptions::new(Precision::Int8, batch);
    options.seed = 0x5eed;
    options.verify = false;
    let program = compile(&graph, &chip, &options).expect("compiles").program;
    println!(
        "{model} batch {batch} on {chip_name}: compiled in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let fast = modes.contains(&MemoryMode::Fast).then(|| {
        let t = Instant::now();
        let cfg = MemConfig::from_chip(&chip.memory).expect("memory");
        let f =
            FastMemory::calibrate(&cfg, &CalibrationOptions::standard(&cfg)).expect("calibrates");
        println!(
            "fast-memory calibration (once per memory, cacheable): {:.2} s",
            t.elapsed().as_secs_f64()
        );
        f
    });
    for mode in modes {
        let opts = SimOptions {
            memory: mode,
            fast_memory: fast.clone(),
            ..SimOptions::default()
        };
        let mut times = Vec::new();
        let mut cpu = Vec::new();
        let mut proc_cpu = Vec::new();
        let mut first = None;
        for _ in 0..runs {
            let (t, c, pc) = (Instant::now(), thread_cpu_s(), process_cpu_s());
            let out = simulate(&chip, &program, &ids, &opts).expect("simulates");
            times.push(t.elapsed().as_secs_f64());
            cpu.push(thread_cpu_s() - c);
            proc_cpu.push(process_cpu_s() - pc);
            let json = serde_json::to_string(&out.report).expect("serializes");
            match &first {
                None => first = Some((json, out.report)),
                Some((j, _)) => assert_eq!(j, &json, "runs differ"),
            }
        }
        times.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        proc_cpu.sort_by(f64::total_cmp);
        let r = &first.expect("at least one run").1;
        println!(
            "{:>8}: wall best {:.3} s, median {:.3} s; CPU (this thread) best {:.3} s, median \
             {:.3} s; CPU (all threads) median {:.2} s\n          {} events, {} memory requests, {} row lookups \
             ({} fetched); {} cycles = {:.1} µs simulated, roofline {:.3}, {:.1} W",
            mode.name(),
            times[0],
            times[times.len() / 2],
            cpu[0],
            cpu[cpu.len() / 2],
            proc_cpu[proc_cpu.len() / 2],
            r.events,
            r.memory.summary.requests,
            r.gather.lookups,
            r.gather.rows_fetched,
            r.cycles,
            r.latency_us,
            r.roofline.roofline_fraction,
            r.energy.average_power_w
        );
    }
}
