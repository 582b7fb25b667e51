//! `seedchip sim`: compiles a model for a chip and runs the program through the timing model
//! (event kernel, units, memory, energy): latency, throughput, unit activity, memory behaviour,
//! energy breakdown and the fraction of the chip's roofline reached.
//!
//! The JSON document holds no wall-clock figures, so the same command prints the same bytes
//! whatever the machine or thread count; `--timings` prints how long each stage took on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use seedchip_chip::Precision;
use seedchip_serving::chipsim::{TimeOptions, compile_and_time};
use seedchip_timing::energy::{EnergyOptions, LogicEnergy};
use seedchip_timing::sim::SimOptions;
use seedchip_timing::sim::report::SimReport;
use seedchip_timing::units::memctl::MemoryMode;
use serde::Serialize;

use super::chips::load_chip;
use super::models::{DEFAULT_SEED, default_ragged_hints, load_model};
use crate::exit::{print_json, print_text, user};

const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// A zoo name, a text-IR (.sir) file or an ONNX (.onnx) file.
    model: String,
    /// A chip preset or chip TOML file.
    #[arg(long)]
    chip: String,
    /// Samples per batch (one program run).
    #[arg(long)]
    batch: u32,
    /// Operand precision of the matrix units: int8, bf16 or fp8.
    #[arg(long, default_value = "int8")]
    precision: String,
    /// Seed of procedural weights, calibration and generated inputs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Cap every embedding table at this many rows.
    #[arg(long)]
    rows_cap: Option<u64>,
    /// Zipf exponent of generated embedding ids (0 = uniform).
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// Off-chip memory model: `detailed` (bank level) or `fast` (curves calibrated from the
    /// detailed model first, which takes seconds).
    #[arg(long, default_value = "detailed")]
    memory: String,
    /// Logic energy scaling: `tpuv4i` (measured 7 nm anchors, default) or `stillmaker-baas`
    /// (optimistic scaling of 45 nm figures).
    #[arg(long, default_value = "tpuv4i")]
    logic_energy: String,
    /// Write a Chrome/Perfetto trace (trace-event JSON, a track per unit) to this file.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Print each stage's wall time on stderr.
    #[arg(long)]
    timings: bool,
    /// Bound on simulation events: a run that needs more stops with an error (a guard against
    /// runaway simulations).
    #[arg(long, default_value_t = seedchip_timing::sim::DEFAULT_MAX_EVENTS)]
    max_events: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ProgramSummary {
    cores: usize,
    instructions: usize,
    gathers: usize,
    matmuls: usize,
    dmas: usize,
}

#[derive(Serialize)]
struct SimDoc<'a> {
    schema_version: u32,
    model: &'a str,
    chip: &'a str,
    precision: &'a str,
    batch: u32,
    seed: u64,
    alpha: f64,
    memory: &'a str,
    latency_us: f64,
    throughput_samples_per_s: f64,
    roofline_fraction: f64,
    average_power_w: f64,
    energy_per_inference_uj: f64,
    inferences_per_s_per_w: f64,
    program: ProgramSummary,
    sim: &'a SimReport,
}

pub(super) fn parse_precision(s: &str) -> anyhow::Result<Precision> {
    Precision::parse(s)
        .filter(|p| matches!(p, Precision::Int8 | Precision::Bf16 | Precision::Fp8))
        .ok_or_else(|| {
            user(
                format!("unknown precision `{s}`"),
                &["valid precisions: int8, bf16, fp8"],
            )
        })
}

/// Refuses a batch whose ids and weights would not fit in memory, before generating them. The
/// timing model holds the integer inputs (as i64), the dense weights of the program, and a
/// record per embedding row fetched (about 16 bytes per lookup).
fn check_memory(args: &SimArgs, graph: &seedchip_ir::Graph) -> anyhow::Result<()> {
    let batch = u64::from(args.batch);
    let ids: u64 = graph
        .inputs
        .iter()
        .filter(|&&v| graph.ty(v).dtype.is_int())
        .map(|&v| {
            graph.ty(v).shape.iter().fold(8u64, |a, d| {
                a.saturating_mul(d.resolve(batch).unwrap_or(batch))
            })
        })
        .fold(0, u64::saturating_add);
    let mut e = super::memory::Estimate::default();
    e.add("weights", super::memory::materialized_param_bytes(graph, 0));
    e.add("ids", ids);
    e.add("per-lookup records", ids.saturating_mul(2));
    super::memory::check(
        &format!("sim {} --batch {batch}", args.model),
        &e,
        &[
            "a smaller --batch needs less memory",
            "--rows-cap N caps embedding tables",
        ],
    )
}

/// Writes next to the target and renames, so a reader never sees a half-written trace.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let file_name = path
        .file_name()
        .ok_or_else(|| user(format!("--trace {}: not a file path", path.display()), &[]))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let res = std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, path));
    res.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        user(format!("cannot write {}: {e}", path.display()), &[])
    })
}

pub fn run(args: SimArgs) -> anyhow::Result<ExitCode> {
    let precision = parse_precision(&args.precision)?;
    if args.batch == 0 {
        return Err(user("--batch must be at least 1", &[]));
    }
    let memory = match args.memory.as_str() {
        "detailed" => MemoryMode::Detailed,
        "fast" => MemoryMode::Fast,
        other => {
            return Err(user(
                format!("unknown memory model `{other}`"),
                &["valid: detailed, fast"],
            ));
        }
    };
    let logic = LogicEnergy::parse(&args.logic_energy).ok_or_else(|| {
        user(
            format!("unknown logic energy scaling `{}`", args.logic_energy),
            &["valid: tpuv4i, stillmaker-baas"],
        )
    })?;
    let chip = load_chip(&args.chip)?;
    let t0 = Instant::now();
    let mut graph = load_model(&args.model, args.rows_cap, args.seed)?;
    default_ragged_hints(&mut graph);
    check_memory(&args, &graph)?;
    let model_s = t0.elapsed().as_secs_f64();
    let mut options = TimeOptions::new(precision, args.seed);
    options.alpha = args.alpha;
    options.sim = SimOptions {
        memory,
        energy: EnergyOptions {
            logic,
            ..EnergyOptions::default()
        },
        trace: args.trace.is_some(),
        max_events: args.max_events,
        ..SimOptions::default()
    };
    let timed = compile_and_time(&graph, &chip, args.batch, &options).map_err(|e| match e {
        // The serving layer carries timing errors as text.
        seedchip_serving::Error::Timing(ref m) if m.starts_with("event limit") => {
            user(e.to_string(), &["raise --max-events to go on"])
        }
        seedchip_serving::Error::Timing(_) => user(
            e.to_string(),
            &["a compiled program that cannot be timed is a compiler or timing-model bug"],
        ),
        _ => user(e.to_string(), &[]),
    })?;
    let program = &timed.compiled.program;
    let out = &timed.outcome;
    if let (Some(path), Some(trace)) = (&args.trace, &out.trace) {
        write_atomically(path, &trace.to_json())?;
    }
    if args.timings {
        eprintln!(
            "model {:.3} s, inputs {:.3} s, compile {:.3} s, timing model {:.3} s ({} events)",
            model_s, timed.inputs_s, timed.compile_s, timed.timing_s, out.report.events
        );
    }
    let r = &out.report;
    let count = |q: seedchip_isa::Queue| -> usize {
        program
            .code
            .values()
            .flat_map(|c| c.insts.iter())
            .filter(|i| i.inst.queue() == q)
            .count()
    };
    let doc = SimDoc {
        schema_version: SCHEMA_VERSION,
        model: &args.model,
        chip: &chip.name,
        precision: precision.name(),
        batch: args.batch,
        seed: args.seed,
        alpha: args.alpha,
        memory: memory.name(),
        latency_us: r.latency_us,
        throughput_samples_per_s: r.throughput_samples_per_s,
        roofline_fraction: r.roofline.roofline_fraction,
        average_power_w: r.energy.average_power_w,
        energy_per_inference_uj: r.energy.energy_per_inference_uj,
        inferences_per_s_per_w: r.energy.inferences_per_s_per_w,
        program: ProgramSummary {
            cores: program.code.len(),
            instructions: program.code.values().map(|c| c.insts.len()).sum(),
            gathers: count(seedchip_isa::Queue::Gather),
            matmuls: count(seedchip_isa::Queue::Mxu),
            dmas: count(seedchip_isa::Queue::Dma),
        },
        sim: r,
    };
    if args.json {
        print_json(&doc)?;
    } else {
        print_text(&text_report(&doc))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn text_report(d: &SimDoc<'_>) -> String {
    let r = d.sim;
    let mut s = String::new();
    let mut line = |l: String| {
        s.push_str(&l);
        s.push('\n');
    };
    line(format!(
        "{} on {} ({}, batch {}, {} memory model)",
        d.model, d.chip, d.precision, d.batch, d.memory
    ));
    line(format!(
        "  latency        {:.2} µs ({} cycles at {} MHz)",
        r.latency_us, r.cycles, r.clock_mhz
    ));
    line(format!(
        "  throughput     {:.0} samples/s",
        r.throughput_samples_per_s
    ));
    line(format!(
        "  roofline       {:.3} of the chip's bound ({}-bound: {:.0} cycles)",
        r.roofline.roofline_fraction, r.roofline.bound, r.roofline.bound_cycles
    ));
    line(format!(
        "  energy         {:.2} µJ per inference, {:.1} W average, {:.0} inferences/s/W",
        r.energy.energy_per_inference_uj, r.energy.average_power_w, r.energy.inferences_per_s_per_w
    ));
    let total = r.energy.total_pj.max(f64::MIN_POSITIVE);
    let parts: Vec<String> = r
        .energy
        .breakdown_pj
        .iter()
        .filter(|(_, v)| **v > 0.0)
        .map(|(k, v)| format!("{k} {:.0}%", 100.0 * v / total))
        .collect();
    line(format!("                 {}", parts.join(", ")));
    let m = &r.memory;
    line(format!(
        "  memory         {:.1} GB/s of {:.1} ({:.0}%), {} requests{}",
        m.achieved_gbps,
        m.summary.peak_gbps,
        100.0 * m.utilization,
        m.summary.requests,
        m.summary
            .row_hit_rate
            .map(|h| format!(", row hits {:.0}%", 100.0 * h))
            .unwrap_or_default()
    ));
    let g = &r.gather;
    if g.lookups > 0 {
        line(format!(
            "  gathers        {} lookups, {} rows fetched ({} coalesced), cache hits {:.0}% of rows",
            g.lookups,
            g.rows_fetched,
            g.coalesced,
            100.0 * g.cache_hit_rate
        ));
    }
    line(format!(
        "  program        {} instructions on {} cores ({} matmuls, {} gathers, {} DMAs)",
        d.program.instructions,
        d.program.cores,
        d.program.matmuls,
        d.program.gathers,
        d.program.dmas
    ));
    line("  unit                 busy%  stall-sem%  stall-unit%".to_string());
    for q in r.queues.iter().filter(|q| q.instructions > 0) {
        let pct = |x: u64| 100.0 * x as f64 / r.cycles.max(1) as f64;
        line(format!(
            "  core {:<3} {:<8} {:>8.1} {:>11.1} {:>12.1}",
            q.core,
            q.queue,
            pct(q.busy_cycles),
            pct(q.stall_semaphore_cycles),
            pct(q.stall_unit_cycles)
        ));
    }
    for e in r.engines.iter().filter(|e| e.jobs > 0) {
        line(format!("  {:<17} {:>8.1}", e.name, 100.0 * e.utilization));
    }
    s
}
