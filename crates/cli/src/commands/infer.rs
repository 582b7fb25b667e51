//! `seedchip infer`: runs a model on the f32 reference executor (the numerical oracle).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use seedchip_ref::{Executor, Options, Tensor, TensorData};
use serde::Serialize;

use super::inputs::{batch_of, read_inputs, write_npz_atomically};
use super::memory;
use super::models::{DEFAULT_SEED, apply_weight_files, default_ragged_hints, load_model};
use crate::exit::{print_json, print_text, user};

const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, clap::Args)]
pub struct InferArgs {
    /// A zoo name, a text-IR (.sir) file or an ONNX (.onnx) file.
    model: String,
    /// Samples per batch (taken from the inputs when --inputs is given).
    #[arg(long)]
    batch: Option<usize>,
    /// Seed of procedural weights and generated inputs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Cap every embedding table at this many rows.
    #[arg(long)]
    rows_cap: Option<u64>,
    /// Inputs as .npz, keyed by the model's input names (instead of generated ones).
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Write the outputs as .npz, keyed by the model's output names.
    #[arg(long)]
    save_outputs: Option<PathBuf>,
    /// Real weights for a parameter, `PARAM=FILE` (.npy f32/f16, .f16 raw, else raw f32 LE);
    /// repeatable. Other parameters stay procedural.
    #[arg(long = "weights", value_name = "PARAM=FILE")]
    weights: Vec<String>,
    /// Worker threads (results are identical for any count).
    #[arg(long)]
    threads: Option<usize>,
    /// Zipf exponent of generated embedding ids (0 = uniform).
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct OutputSummary {
    shape: Vec<usize>,
    min: f64,
    max: f64,
    mean: f64,
    /// FNV-1a 64 of the little-endian f32 bytes.
    checksum: String,
}

#[derive(Serialize)]
struct InferDoc {
    schema_version: u32,
    model: String,
    batch: usize,
    seed: u64,
    inputs: String,
    outputs: BTreeMap<String, OutputSummary>,
    /// FNV-1a 64 over every output's bytes, in output-name order.
    checksum: String,
    seconds: f64,
    samples_per_s: f64,
    materialized_bytes: u64,
    /// Peak resident memory of this process (Linux; absent elsewhere).
    peak_rss_bytes: Option<u64>,
}

/// The kernel's high-water mark of resident memory, so users see what a full-size run costs.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn tensor_bytes(t: &Tensor) -> Vec<u8> {
    match t.data() {
        TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

fn summarize(t: &Tensor) -> OutputSummary {
    let values: Vec<f64> = match t.data() {
        TensorData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        TensorData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
    };
    let h = seedchip_isa::fnv1a64(&tensor_bytes(t));
    let n = values.len().max(1) as f64;
    OutputSummary {
        shape: t.shape().to_vec(),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean: values.iter().sum::<f64>() / n,
        checksum: format!("{h:016x}"),
    }
}

fn generated_inputs(
    graph: &seedchip_ir::Graph,
    batch: usize,
    seed: u64,
    alpha: f64,
) -> anyhow::Result<BTreeMap<String, Tensor>> {
    let options = seedchip_zoo::InputOptions {
        seed,
        alpha,
        ..Default::default()
    };
    let workload = seedchip_zoo::GraphWorkload::new(graph, &options).map_err(|e| {
        user(
            format!("cannot generate inputs: {e}"),
            &["pass --inputs FILE.npz"],
        )
    })?;
    let mut out = BTreeMap::new();
    for t in workload.batch(0, batch) {
        let shape: Vec<usize> = t.shape.iter().map(|&d| d as usize).collect();
        let tensor = match t.data {
            seedchip_zoo::TensorData::F32(v) => Tensor::from_f32(shape, v),
            seedchip_zoo::TensorData::I32(v) => Tensor::from_i32(shape, v),
            seedchip_zoo::TensorData::I64(v) => Tensor::from_i64(shape, v),
        }
        .unwrap_or_else(|| {
            panic!(
                "generator produced a tensor whose shape disagrees with its data: {}",
                t.name
            )
        });
        out.insert(t.name, tensor);
    }
    Ok(out)
}

/// Refuses a batch whose tensors would not fit in memory, before generating or running it.
fn check_memory(args: &InferArgs, graph: &seedchip_ir::Graph, batch: usize) -> anyhow::Result<()> {
    memory::check(
        &format!("infer {} --batch {batch}", args.model),
        &memory::reference_estimate(graph, batch as u64),
        &[
            "a smaller --batch needs less memory (run several batches instead)",
            "--rows-cap N caps embedding tables",
        ],
    )
}

pub fn run(args: InferArgs) -> anyhow::Result<ExitCode> {
    if args.threads == Some(0) {
        return Err(user("--threads must be at least 1", &[]));
    }
    let mut graph = load_model(&args.model, args.rows_cap, args.seed)?;
    apply_weight_files(&mut graph, &args.weights)?;
    if args.inputs.is_none() {
        default_ragged_hints(&mut graph);
    }
    let (inputs, source) = match &args.inputs {
        Some(path) => (
            read_inputs(path, Some(&graph), args.batch)?,
            path.display().to_string(),
        ),
        None => {
            let batch = args.batch.ok_or_else(|| {
                user(
                    "--batch is required unless --inputs is given",
                    &["e.g. --batch 512"],
                )
            })?;
            if batch == 0 {
                return Err(user("--batch must be at least 1", &[]));
            }
            check_memory(&args, &graph, batch)?;
            (
                generated_inputs(&graph, batch, args.seed, args.alpha)?,
                format!("generated (seed {}, zipf alpha {})", args.seed, args.alpha),
            )
        }
    };
    let batch = batch_of(Some(&graph), &inputs).unwrap_or(0);
    if args.inputs.is_some() {
        check_memory(&args, &graph, batch)?;
    }
    let base_dir = Path::new(&args.model).parent().map(Path::to_path_buf);
    let options = Options {
        threads: args.threads,
        base_dir,
        ..Options::default()
    };
    let executor = Executor::new(&graph, &options).map_err(|e| user(e.to_string(), &[]))?;
    let start = Instant::now();
    let outputs = executor
        .run(&inputs)
        .map_err(|e| user(e.to_string(), &[]))?;
    let seconds = start.elapsed().as_secs_f64();
    let mut all_bytes = Vec::new();
    let mut summaries = BTreeMap::new();
    for (name, t) in &outputs {
        all_bytes.extend(tensor_bytes(t));
        summaries.insert(name.clone(), summarize(t));
    }
    let all = seedchip_isa::fnv1a64(&all_bytes);
    if let Some(path) = &args.save_outputs {
        write_npz_atomically(path, &outputs)?;
    }
    let doc = InferDoc {
        schema_version: SCHEMA_VERSION,
        model: graph.name.clone(),
        batch,
        seed: args.seed,
        inputs: source,
        outputs: summaries,
        checksum: format!("{all:016x}"),
        seconds,
        samples_per_s: batch as f64 / seconds.max(1e-12),
        materialized_bytes: executor.materialized_bytes(),
        peak_rss_bytes: peak_rss_bytes(),
    };
    if args.json {
        print_json(&doc)?;
    } else {
        let mut s = format!(
            "{} batch {} on the f32 reference: {:.3} ms, {:.0} samples/s\ninputs: {}\n",
            doc.model,
            doc.batch,
            doc.seconds * 1e3,
            doc.samples_per_s,
            doc.inputs
        );
        for (name, o) in &doc.outputs {
            s.push_str(&format!(
                "  {name} {:?}: min {:.6} max {:.6} mean {:.6} checksum {}\n",
                o.shape, o.min, o.max, o.mean, o.checksum
            ));
        }
        s.push_str(&format!("checksum {}\n", doc.checksum));
        print_text(&s)?;
    }
    Ok(ExitCode::SUCCESS)
}
