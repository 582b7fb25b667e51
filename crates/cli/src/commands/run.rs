//! `seedchip run`: compiles a model for a chip and executes the program on the bit-exact
//! functional simulator, optionally checking the outputs against the f32 reference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use seedchip_chip::Precision;
use seedchip_compiler::{CompileOptions, compile};
use seedchip_funcsim::{Error as SimError, Limits, Machine, Options as SimOptions, Stats};
use seedchip_ir::{Graph, Op};
use seedchip_ref::{Executor, Options as RefOptions, Tensor, TensorData};
use serde::Serialize;

use super::chips::load_chip;
use super::inputs::{batch_of, read_inputs, write_npz_atomically};
use super::memory;
use super::models::{DEFAULT_SEED, default_ragged_hints, load_model};
use crate::exit::{print_json, print_text, user};

const SCHEMA_VERSION: u32 = 1;

/// Largest relative L2 error of any output against the f32 reference that `--check` accepts,
/// per precision (docs/isa.md "Running programs"). bf16 keeps 8 significant bits per operand
/// and int8 quantizes every activation, so their errors are of those orders; fp8 e4m3 keeps 4.
fn tolerance(p: Precision) -> f64 {
    match p {
        Precision::Bf16 => 1e-2,
        Precision::Int8 => 5e-2,
        _ => 1e-1,
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// A zoo name, a text-IR (.sir) file or an ONNX (.onnx) file, or a program: a `.scp`
    /// container or a `.s` listing (run as is, inputs by binding name; no --check).
    model: String,
    /// A chip preset or chip TOML file.
    #[arg(long)]
    chip: String,
    /// Operand precision of the matrix units: int8, bf16 or fp8.
    #[arg(long, default_value = "int8")]
    precision: String,
    /// Samples per batch (taken from the inputs when --inputs is given; else 64).
    #[arg(long)]
    batch: Option<usize>,
    /// Seed of procedural weights, calibration and generated inputs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Cap every embedding table at this many rows.
    #[arg(long)]
    rows_cap: Option<u64>,
    /// Inputs as .npz, keyed by the model's input names (instead of generated ones); int8 and
    /// fp8 activations are then calibrated on them.
    #[arg(long)]
    inputs: Option<PathBuf>,
    /// Write the outputs as .npz, keyed by the model's output names.
    #[arg(long)]
    save_outputs: Option<PathBuf>,
    /// Also run the f32 reference and compare: exit 1 if any output's relative L2 error exceeds
    /// the precision's tolerance (bf16 1e-2, int8 5e-2, fp8 1e-1).
    #[arg(long)]
    check: bool,
    /// Verify that the program is well synchronised (slower).
    #[arg(long)]
    check_races: bool,
    /// Bound on executed instructions.
    #[arg(long, default_value_t = seedchip_funcsim::DEFAULT_MAX_STEPS)]
    max_steps: u64,
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
    /// FNV-1a 64 of the little-endian f32 bytes (as `infer` prints it).
    checksum: String,
}

#[derive(Serialize)]
struct OutputError {
    max_abs: f64,
    mean_abs: f64,
    rel_l2: f64,
}

#[derive(Serialize)]
struct CheckDoc {
    tolerance_rel_l2: f64,
    passed: bool,
    outputs: BTreeMap<String, OutputError>,
}

#[derive(Serialize)]
struct ProgramSummary {
    cores: usize,
    instructions: usize,
    bytes: usize,
    /// FNV-1a 64 of the program's `.scp` encoding: equal programs, equal hashes.
    fnv1a64: String,
}

#[derive(Serialize)]
struct Seconds {
    compile: f64,
    funcsim: f64,
    reference: Option<f64>,
}

#[derive(Serialize)]
struct RunDoc {
    schema_version: u32,
    model: String,
    chip: String,
    precision: String,
    batch: usize,
    seed: u64,
    inputs: String,
    program: ProgramSummary,
    outputs: BTreeMap<String, OutputSummary>,
    /// FNV-1a 64 over every output's bytes, in output-name order.
    checksum: String,
    check: Option<CheckDoc>,
    stats: Stats,
    seconds: Seconds,
    samples_per_s: f64,
}

fn f32_values(t: &Tensor) -> Vec<f64> {
    match t.data() {
        TensorData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        TensorData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
    }
}

fn tensor_bytes(t: &Tensor) -> Vec<u8> {
    match t.data() {
        TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        TensorData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
    }
}

fn summarize(t: &Tensor) -> OutputSummary {
    let values = f32_values(t);
    let n = values.len().max(1) as f64;
    OutputSummary {
        shape: t.shape().to_vec(),
        min: values.iter().copied().fold(f64::INFINITY, f64::min),
        max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean: values.iter().sum::<f64>() / n,
        checksum: format!("{:016x}", seedchip_isa::fnv1a64(&tensor_bytes(t))),
    }
}

/// Errors of `got` against the reference `want`; relative L2 is `‖got − want‖₂ / ‖want‖₂`
/// (the absolute L2 error when the reference is all zeros).
fn compare(got: &Tensor, want: &Tensor) -> OutputError {
    let (g, w) = (f32_values(got), f32_values(want));
    let (mut max_abs, mut sum_abs, mut err2, mut ref2) = (0f64, 0f64, 0f64, 0f64);
    for (a, b) in g.iter().zip(&w) {
        let d = (a - b).abs();
        // NaN anywhere makes the comparison fail rather than pass silently.
        max_abs = if d.is_nan() { f64::NAN } else { max_abs.max(d) };
        sum_abs += d;
        err2 += d * d;
        ref2 += b * b;
    }
    let n = g.len().max(1) as f64;
    OutputError {
        max_abs,
        mean_abs: sum_abs / n,
        rel_l2: if ref2 > 0.0 {
            (err2 / ref2).sqrt()
        } else {
            err2.sqrt()
        },
    }
}

fn generated_inputs(
    graph: &Graph,
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
        };
        let tensor = tensor.ok_or_else(|| {
            anyhow::anyhow!(
                "internal error: generated input `{}` disagrees with its shape",
                t.name
            )
        })?;
        out.insert(t.name, tensor);
    }
    Ok(out)
}

/// Ragged embedding bags: the program's id lists are sized for these inputs, and a bag without
/// a pooling hint gets the inputs' mean bag size, so that calibration and the access profile
/// (which generate their own inputs) see bags like these.
fn size_ragged_bags(
    graph: &mut Graph,
    inputs: &BTreeMap<String, Tensor>,
    batch: usize,
    options: &mut CompileOptions,
) -> anyhow::Result<()> {
    for node in &mut graph.nodes {
        let Op::EmbeddingBag { mean_pooling, .. } = &mut node.op else {
            continue;
        };
        if node.inputs.len() != 3 {
            continue;
        }
        let name = graph.values[node.inputs[1].index()].name.clone();
        let off_name = &graph.values[node.inputs[2].index()].name;
        let (Some(ids), Some(offsets)) = (inputs.get(&name), inputs.get(off_name)) else {
            continue;
        };
        let n = ids.numel() as u64;
        // Malformed offsets are the user's, reported before anything compiles.
        if let (Some(i), Some(o)) = (ids.indices(), offsets.indices()) {
            seedchip_compiler::pack_ragged(&i, &o, batch as u64, n).map_err(|m| {
                user(
                    format!("input `{off_name}` (offsets of `{name}`): {m}"),
                    &["offsets are PyTorch EmbeddingBag's: bag starts, from 0, non-decreasing"],
                )
            })?;
        }
        let cap = options.ragged_ids.entry(name).or_insert(0);
        *cap = (*cap).max(n).max(1);
        if mean_pooling.is_none() {
            *mean_pooling = Some(n as f64 / batch.max(1) as f64);
        }
    }
    Ok(())
}

fn sim_error(e: SimError) -> anyhow::Error {
    match e {
        SimError::Fault(f) => {
            let hint = if matches!(f.kind, seedchip_funcsim::FaultKind::StepLimit { .. }) {
                "raise --max-steps to let it run longer"
            } else {
                "a fault in a compiled program is a compiler bug unless it names an input"
            };
            user(
                format!("the program faulted on the functional simulator: {f}"),
                &[hint],
            )
        }
        other => user(other.to_string(), &[]),
    }
}

#[derive(Serialize)]
struct ProgramRunDoc {
    schema_version: u32,
    program: String,
    chip: String,
    outputs: BTreeMap<String, OutputSummary>,
    checksum: String,
    stats: Stats,
}

/// `seedchip run prog.s|prog.scp --chip C`: executes a program as written (a compiled one, or a
/// hand-written one), with inputs from `--inputs` by binding name (unset inputs read as zeros).
/// A fault is reported with its core, PC, instruction and address, exit 2.
fn run_program_file(args: &RunArgs) -> anyhow::Result<ExitCode> {
    if args.check {
        return Err(user(
            format!("--check needs a model; {} is a program", args.model),
            &["run the model (zoo name, .sir or .onnx) to compare with the f32 reference"],
        ));
    }
    if args.threads == Some(0) {
        return Err(user("--threads must be at least 1", &[]));
    }
    let chip = load_chip(&args.chip)?;
    let path = Path::new(&args.model);
    let program = if args.model.ends_with(".s") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| user(format!("cannot read {}: {e}", args.model), &[]))?;
        seedchip_isa::Program::assemble(&text)
            .map_err(|e| user(format!("{}:{e}", args.model), &[]))?
    } else {
        let bytes = std::fs::read(path)
            .map_err(|e| user(format!("cannot read {}: {e}", args.model), &[]))?;
        seedchip_isa::Program::decode(&bytes)
            .map_err(|e| user(format!("{}: {e}", args.model), &[]))?
    };
    let sim_options = SimOptions {
        threads: args.threads,
        ..SimOptions::default()
    };
    let mut machine = Machine::with_options(&chip, &program, &sim_options).map_err(|e| {
        let hint: &[&str] = match e {
            SimError::Program(seedchip_isa::Error::ChipMismatch { .. }) => {
                &["a program runs only on the chip it was compiled for (`--chip`)"]
            }
            _ => &[],
        };
        user(format!("{}: {e}", args.model), hint)
    })?;
    if let Some(p) = &args.inputs {
        let inputs = read_inputs(p, None, args.batch)?;
        for (name, t) in &inputs {
            machine
                .write_input(name, t)
                .map_err(|e| user(format!("{}: {e}", p.display()), &[]))?;
        }
    }
    let limits = Limits {
        max_steps: args.max_steps,
        check_races: args.check_races,
    };
    let stats = machine.run(&limits).map_err(|f| {
        user(
            format!("the program faulted on the functional simulator: {f}"),
            &["docs/isa.md, \"Faults\", lists every fault"],
        )
    })?;
    let mut outputs = BTreeMap::new();
    for b in program
        .bindings
        .iter()
        .filter(|b| b.direction == seedchip_isa::Direction::Output)
    {
        outputs.insert(
            b.name.clone(),
            machine.read_output(&b.name).map_err(sim_error)?,
        );
    }
    if let Some(p) = &args.save_outputs {
        write_npz_atomically(p, &outputs)?;
    }
    let mut all_bytes = Vec::new();
    let mut summaries = BTreeMap::new();
    for (name, t) in &outputs {
        all_bytes.extend(tensor_bytes(t));
        summaries.insert(name.clone(), summarize(t));
    }
    let doc = ProgramRunDoc {
        schema_version: SCHEMA_VERSION,
        program: args.model.clone(),
        chip: chip.name.clone(),
        outputs: summaries,
        checksum: format!("{:016x}", seedchip_isa::fnv1a64(&all_bytes)),
        stats,
    };
    if args.json {
        print_json(&doc)?;
    } else {
        let mut text = format!(
            "{} on {}: {} instructions on the functional simulator\n",
            doc.program, doc.chip, doc.stats.instructions
        );
        for (name, o) in &doc.outputs {
            text.push_str(&format!(
                "  {name} {:?}: min {:.6} max {:.6} mean {:.6} checksum {}\n",
                o.shape, o.min, o.max, o.mean, o.checksum
            ));
        }
        print_text(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Refuses a batch whose tensors would not fit in memory, before generating or compiling.
/// Beyond the reference's figures (its run is needed for `--check`, and the host holds the
/// same inputs and outputs), the functional simulator holds the chip's SRAM and a copy of the
/// inputs and dense weights in simulated HBM.
fn check_memory(
    args: &RunArgs,
    chip: &seedchip_chip::Chip,
    graph: &Graph,
    batch: usize,
) -> anyhow::Result<()> {
    let b = batch as u64;
    let mut e = memory::reference_estimate(graph, b);
    let sram = chip
        .cores
        .local_sram_bytes
        .saturating_mul(u64::from(chip.cores.count))
        .saturating_add(chip.shared_sram.capacity_bytes)
        .min(16 << 30);
    e.add("simulated SRAM", sram);
    e.add(
        "simulated HBM (weights, inputs)",
        memory::materialized_param_bytes(graph, 0).saturating_add(memory::input_bytes(graph, b)),
    );
    memory::check(
        &format!("run {} --batch {batch}", args.model),
        &e,
        &[
            "a smaller --batch needs less memory (run several batches instead)",
            "--rows-cap N caps embedding tables",
        ],
    )
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.model.ends_with(".s") || args.model.ends_with(".scp") {
        return run_program_file(&args);
    }
    let precision = Precision::parse(&args.precision)
        .filter(|p| matches!(p, Precision::Int8 | Precision::Bf16 | Precision::Fp8))
        .ok_or_else(|| {
            user(
                format!("unknown precision `{}`", args.precision),
                &["valid precisions: int8, bf16, fp8"],
            )
        })?;
    if args.threads == Some(0) {
        return Err(user("--threads must be at least 1", &[]));
    }
    let chip = load_chip(&args.chip)?;
    let mut graph = load_model(&args.model, args.rows_cap, args.seed)?;
    if args.inputs.is_none() {
        default_ragged_hints(&mut graph);
    }

    let (inputs, source) = match &args.inputs {
        Some(path) => {
            let inputs = read_inputs(path, Some(&graph), args.batch)?;
            let batch = batch_of(Some(&graph), &inputs).unwrap_or(0);
            check_memory(&args, &chip, &graph, batch)?;
            (
                inputs,
                format!("{} (int8/fp8 calibrated on them)", path.display()),
            )
        }
        None => {
            let batch = args.batch.unwrap_or(64);
            if batch == 0 {
                return Err(user("--batch must be at least 1", &[]));
            }
            check_memory(&args, &chip, &graph, batch)?;
            (
                generated_inputs(&graph, batch, args.seed, args.alpha)?,
                format!("generated (seed {}, zipf alpha {})", args.seed, args.alpha),
            )
        }
    };
    let batch = batch_of(Some(&graph), &inputs).unwrap_or(0);
    if batch == 0 {
        return Err(user("the inputs hold an empty batch", &[]));
    }

    let start = Instant::now();
    let mut options = CompileOptions::new(precision, batch as u32);
    options.seed = args.seed;
    size_ragged_bags(&mut graph, &inputs, batch, &mut options)?;
    // Given inputs are the user's representative data: activations are calibrated on them, as
    // a deployment calibrates on its own traffic (generated inputs may not share their ranges).
    if args.inputs.is_some() {
        options.calibration_inputs = Some(inputs.clone());
    }
    let compiled = compile(&graph, &chip, &options).map_err(|e| user(e.to_string(), &[]))?;
    let compile_s = start.elapsed().as_secs_f64();
    let program = &compiled.program;
    let packed = compiled
        .program_inputs(&inputs)
        .map_err(|e| user(e.to_string(), &[]))?;

    let sim_options = SimOptions {
        threads: args.threads,
        ..SimOptions::default()
    };
    let mut machine = Machine::with_options(&chip, program, &sim_options).map_err(sim_error)?;
    for b in program
        .bindings
        .iter()
        .filter(|b| b.direction == seedchip_isa::Direction::Input)
    {
        let t = packed.get(&b.name).ok_or_else(|| {
            user(
                format!(
                    "the program needs input `{}`, which was not supplied",
                    b.name
                ),
                &[],
            )
        })?;
        machine.write_input(&b.name, t).map_err(sim_error)?;
    }
    let limits = Limits {
        max_steps: args.max_steps,
        check_races: args.check_races,
    };
    let start = Instant::now();
    let stats = machine
        .run(&limits)
        .map_err(|f| sim_error(SimError::Fault(Box::new(f))))?;
    let funcsim_s = start.elapsed().as_secs_f64();

    let mut outputs = BTreeMap::new();
    for o in &graph.outputs {
        let t = machine.read_output(&o.name).map_err(sim_error)?;
        outputs.insert(o.name.clone(), t);
    }
    let mut all_bytes = Vec::new();
    let mut summaries = BTreeMap::new();
    for (name, t) in &outputs {
        all_bytes.extend(tensor_bytes(t));
        summaries.insert(name.clone(), summarize(t));
    }
    if let Some(path) = &args.save_outputs {
        write_npz_atomically(path, &outputs)?;
    }

    let (check, reference_s) = if args.check {
        let ref_options = RefOptions {
            threads: args.threads,
            base_dir: Path::new(&args.model).parent().map(Path::to_path_buf),
            ..RefOptions::default()
        };
        let executor = Executor::new(&graph, &ref_options).map_err(|e| user(e.to_string(), &[]))?;
        let start = Instant::now();
        let reference = executor
            .run(&inputs)
            .map_err(|e| user(e.to_string(), &[]))?;
        let reference_s = start.elapsed().as_secs_f64();
        let tolerance_rel_l2 = tolerance(precision);
        let mut errors = BTreeMap::new();
        for (name, want) in &reference {
            if let Some(got) = outputs.get(name) {
                errors.insert(name.clone(), compare(got, want));
            }
        }
        let passed = errors.len() == reference.len()
            && errors.values().all(|e| e.rel_l2 <= tolerance_rel_l2);
        (
            Some(CheckDoc {
                tolerance_rel_l2,
                passed,
                outputs: errors,
            }),
            Some(reference_s),
        )
    } else {
        (None, None)
    };

    let doc = RunDoc {
        schema_version: SCHEMA_VERSION,
        model: graph.name.clone(),
        chip: chip.name.clone(),
        precision: precision.name().to_string(),
        batch,
        seed: args.seed,
        inputs: source,
        program: ProgramSummary {
            cores: program.code.len(),
            instructions: program.code.values().map(|c| c.insts.len()).sum(),
            bytes: program
                .code
                .values()
                .flat_map(|c| &c.insts)
                .map(|i| i.size())
                .sum(),
            fnv1a64: program
                .encode()
                .map(|b| format!("{:016x}", seedchip_isa::fnv1a64(&b)))
                .unwrap_or_default(),
        },
        outputs: summaries,
        checksum: format!("{:016x}", seedchip_isa::fnv1a64(&all_bytes)),
        check,
        stats,
        seconds: Seconds {
            compile: compile_s,
            funcsim: funcsim_s,
            reference: reference_s,
        },
        samples_per_s: batch as f64 / funcsim_s.max(1e-12),
    };
    let failed = doc.check.as_ref().is_some_and(|c| !c.passed);
    if args.json {
        print_json(&doc)?;
    } else {
        let s = &doc.stats;
        let q = |name: &str| s.per_queue.get(name).copied().unwrap_or(0);
        let mut text = format!(
            "{} on {} ({}, batch {}): {} instructions in {:.3} s on the functional simulator \
             ({:.0} samples/s); dma {}, gather {}, mxu {}, vpu {}, ctl {}\ninputs: {}\n",
            doc.model,
            doc.chip,
            doc.precision,
            doc.batch,
            s.instructions,
            doc.seconds.funcsim,
            doc.samples_per_s,
            q("dma"),
            q("gather"),
            q("mxu"),
            q("vpu"),
            q("ctl"),
            doc.inputs,
        );
        for (name, o) in &doc.outputs {
            text.push_str(&format!(
                "  {name} {:?}: min {:.6} max {:.6} mean {:.6} checksum {}\n",
                o.shape, o.min, o.max, o.mean, o.checksum
            ));
        }
        if let Some(c) = &doc.check {
            for (name, e) in &c.outputs {
                text.push_str(&format!(
                    "  check {name}: max abs {:.3e}, mean abs {:.3e}, relative L2 {:.3e} \
                     (tolerance {:.0e}) {}\n",
                    e.max_abs,
                    e.mean_abs,
                    e.rel_l2,
                    c.tolerance_rel_l2,
                    if e.rel_l2 <= c.tolerance_rel_l2 {
                        "ok"
                    } else {
                        "FAILED"
                    }
                ));
            }
        }
        if let Some(p) = &args.save_outputs {
            text.push_str(&format!("wrote {}\n", p.display()));
        }
        print_text(&text)?;
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
