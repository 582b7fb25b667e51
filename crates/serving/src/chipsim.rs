//! Service times of simulated chips: compile a model for a batch size and run the program
//! through the cycle-level timing model. This is the library path behind `seedchip sim`
//! ([`compile_and_time`]), shared by `serve`, `plan` and the sweep, so every figure comes from
//! one code path.

use std::collections::BTreeMap;
use std::time::Instant;

use seedchip_chip::{Chip, Precision};
use seedchip_compiler::{CompileOptions, Compiled, compile};
use seedchip_ir::Graph;
use seedchip_timing::sim::{SimOptions, SimOutcome, simulate};
use serde::Serialize;

use crate::Error;
use crate::service::ServiceTable;

/// What to compile and how to time it.
#[derive(Debug, Clone)]
pub struct TimeOptions {
    pub precision: Precision,
    /// Seed of procedural weights, calibration and generated inputs.
    pub seed: u64,
    /// Zipf exponent of generated embedding ids.
    pub alpha: f64,
    pub sim: SimOptions,
    /// Samples through the f32 reference for int8/fp8 calibration; `None` keeps the
    /// compiler's default. Timing does not depend on the calibrated scales, so serving uses
    /// fewer to compile faster.
    pub calibration_samples: Option<u32>,
}

impl TimeOptions {
    pub fn new(precision: Precision, seed: u64) -> TimeOptions {
        TimeOptions {
            precision,
            seed,
            alpha: seedchip_zoo::InputOptions::default().alpha,
            sim: SimOptions::default(),
            calibration_samples: None,
        }
    }
}

/// A compiled and timed program, with each stage's wall time (never in JSON outputs).
#[derive(Debug)]
pub struct Timed {
    pub compiled: Compiled,
    pub outcome: SimOutcome,
    pub inputs_s: f64,
    pub compile_s: f64,
    pub timing_s: f64,
}

/// The integer inputs (embedding ids) the timing model needs, generated as `run` generates
/// them.
pub fn generated_ids(
    graph: &Graph,
    batch: u32,
    seed: u64,
    alpha: f64,
) -> Result<BTreeMap<String, Vec<i64>>, Error> {
    let options = seedchip_zoo::InputOptions {
        seed,
        alpha,
        ..Default::default()
    };
    let workload = seedchip_zoo::GraphWorkload::new(graph, &options)
        .map_err(|e| Error::Inputs(e.to_string()))?;
    let mut out = BTreeMap::new();
    for t in workload.batch(0, batch as usize) {
        let v: Vec<i64> = match t.data {
            seedchip_zoo::TensorData::F32(_) => continue,
            seedchip_zoo::TensorData::I32(v) => v.into_iter().map(i64::from).collect(),
            seedchip_zoo::TensorData::I64(v) => v,
        };
        out.insert(t.name, v);
    }
    Ok(out)
}

/// Compiles `graph` for `chip` at `batch` samples and times one run of the program.
pub fn compile_and_time(
    graph: &Graph,
    chip: &Chip,
    batch: u32,
    opts: &TimeOptions,
) -> Result<Timed, Error> {
    if batch == 0 {
        return Err(Error::invalid("batch", "must be at least 1"));
    }
    let t0 = Instant::now();
    let ids = generated_ids(graph, batch, opts.seed, opts.alpha)?;
    let t1 = Instant::now();
    let mut options = CompileOptions::new(opts.precision, batch);
    options.seed = opts.seed;
    if let Some(n) = opts.calibration_samples {
        options.calibration_samples = n;
    }
    let compiled = compile(graph, chip, &options).map_err(|e| Error::Compile(e.to_string()))?;
    // Ragged id lists and offsets in the program's fixed-size form.
    let ids = compiled
        .program_int_inputs(&ids)
        .map_err(|e| Error::Compile(e.to_string()))?;
    let t2 = Instant::now();
    let outcome = simulate(chip, &compiled.program, &ids, &opts.sim)
        .map_err(|e| Error::Timing(e.to_string()))?;
    let t3 = Instant::now();
    Ok(Timed {
        compiled,
        outcome,
        inputs_s: (t1 - t0).as_secs_f64(),
        compile_s: (t2 - t1).as_secs_f64(),
        timing_s: (t3 - t2).as_secs_f64(),
    })
}

/// One timed batch size of a simulated chip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChipPoint {
    pub batch: u32,
    pub latency_us: f64,
    pub average_power_w: f64,
    pub roofline_fraction: f64,
}

/// Times `batches` (in parallel) and returns the service table with each point's power.
pub fn chip_service_table(
    graph: &Graph,
    chip: &Chip,
    batches: &[u32],
    opts: &TimeOptions,
) -> Result<(ServiceTable, Vec<ChipPoint>), Error> {
    use rayon::prelude::*;
    let mut b: Vec<u32> = batches.to_vec();
    b.sort_unstable();
    b.dedup();
    let timed: Vec<Result<ChipPoint, Error>> = b
        .par_iter()
        .map(|&batch| {
            let t = compile_and_time(graph, chip, batch, opts)?;
            let r = &t.outcome.report;
            Ok(ChipPoint {
                batch,
                latency_us: r.latency_us,
                average_power_w: r.energy.average_power_w,
                roofline_fraction: r.roofline.roofline_fraction,
            })
        })
        .collect();
    let points: Vec<ChipPoint> = timed.into_iter().collect::<Result<_, _>>()?;
    let table = ServiceTable::new(
        points
            .iter()
            .map(|p| (p.batch, p.latency_us * 1e-6))
            .collect(),
        format!(
            "timing simulator: {} on {} ({})",
            graph.name, chip.name, opts.precision
        ),
    )?;
    Ok((table, points))
}

/// One predicted batch size of a peer device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerPoint {
    pub batch: u32,
    pub latency_us: f64,
    pub average_power_w: Option<f64>,
    pub tables_on_host_fraction: f64,
}

/// Service table of a peer device from its calibrated model (microseconds per call).
pub fn peer_service_table(
    graph: &Graph,
    device: &str,
    batches: &[u32],
    precision: Precision,
    stack: seedchip_peers::Stack,
) -> Result<(ServiceTable, Vec<PeerPoint>), Error> {
    let model = seedchip_peers::PeerModel::for_device(device)?;
    let mut b: Vec<u32> = batches.to_vec();
    b.sort_unstable();
    b.dedup();
    let mut points = Vec::with_capacity(b.len());
    for batch in b {
        let p = model.predict(graph, u64::from(batch), precision, stack)?;
        points.push(PeerPoint {
            batch,
            latency_us: p.latency_us,
            average_power_w: p.energy.map(|e| e.avg_power_w),
            tables_on_host_fraction: p.tables_on_host_fraction,
        });
    }
    let table = ServiceTable::new(
        points
            .iter()
            .map(|p| (p.batch, p.latency_us * 1e-6))
            .collect(),
        format!(
            "peer model: {} on {device} ({precision}, {} stack)",
            graph.name,
            stack.name()
        ),
    )?;
    Ok((table, points))
}

/// Batch sizes to time for a stage batching up to `max_batch` pairs: 1, a quarter, a half
/// and the full batch (service time is close to affine in the batch on every device timed so
/// far, and linear interpolation between four points keeps the error small).
pub fn default_batch_points(max_batch: u32) -> Vec<u32> {
    let mut v = vec![
        1,
        (max_batch / 4).max(1),
        (max_batch / 2).max(1),
        max_batch.max(1),
    ];
    v.sort_unstable();
    v.dedup();
    v
}
