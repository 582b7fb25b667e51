//! `seedchip compare`: one model on several devices side by side — simulated chips through the
//! compiler and timing simulator (as `sim` does), peers through their calibrated analytic
//! models — with latency, throughput, energy, perf/W, unit cost and cost per million samples
//! (`docs/evaluate.md` defines the cost figures and their assumptions).

use std::process::ExitCode;

use seedchip_chip::Precision;
use serde::Serialize;

use super::measure::{
    CostAssumptions, Device, Row, SimSettings, chip_row, fast_memory_for, parse_batches,
    parse_devices, parse_memory, parse_prices, parse_stack, peer_row, run_chip, run_peer,
};
use super::models::{DEFAULT_SEED, default_ragged_hints, load_model};
use super::sim::parse_precision;
use crate::exit::{print_json, print_text, user};
use seedchip_report::num::fmt_num;

const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// A zoo name or a model file (.sir, .onnx).
    model: String,
    /// Comma-separated devices: chip presets or chip TOML files (simulated) and peers
    /// (`seedchip chips` lists both).
    #[arg(long)]
    devices: String,
    /// Samples per batch.
    #[arg(long, conflicts_with = "batches")]
    batch: Option<u32>,
    /// Several batch sizes, comma-separated (e.g. 1,64,512).
    #[arg(long)]
    batches: Option<String>,
    /// Precision on every device: int8, bf16 or fp8.
    #[arg(long, default_value = "int8")]
    precision: String,
    /// Software stack of the peers: eager, graph or tuned.
    #[arg(long, default_value = "graph")]
    stack: String,
    /// Seed of procedural weights and generated inputs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Cap every embedding table at this many rows (zoo models).
    #[arg(long)]
    rows_cap: Option<u64>,
    /// Off-chip memory model of simulated chips: detailed or fast.
    #[arg(long, default_value = "detailed")]
    memory: String,
    /// Unit price of a device, USD (DEVICE=USD, repeatable), where none is public or to try
    /// another one.
    #[arg(long)]
    price: Vec<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct CompareDoc<'a> {
    schema_version: u32,
    model: &'a str,
    precision: &'a str,
    stack: &'a str,
    seed: u64,
    memory: &'a str,
    cost_assumptions: CostAssumptions,
    results: Vec<Row>,
}

pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let precision = parse_precision(&args.precision)?;
    let stack = parse_stack(&args.stack)?;
    let memory = parse_memory(&args.memory)?;
    let prices = parse_prices(&args.price)?;
    let batches = match (&args.batch, &args.batches) {
        (Some(0), _) => return Err(user("--batch must be at least 1", &[])),
        (Some(b), _) => vec![*b],
        (None, Some(list)) => parse_batches(list, "--batches")?,
        (None, None) => {
            return Err(user(
                "give --batch N or --batches LIST",
                &["example: --batch 512"],
            ));
        }
    };
    let devices = parse_devices(&args.devices, "--devices")?;
    check_precision(&devices, precision)?;
    let mut graph = load_model(&args.model, args.rows_cap, args.seed)?;
    default_ragged_hints(&mut graph);
    let settings = SimSettings {
        seed: args.seed,
        alpha: seedchip_zoo::InputOptions::default().alpha,
        memory,
        calibration_samples: None,
    };
    let assumptions = CostAssumptions::default();
    let mut results = Vec::new();
    for d in &devices {
        let fast = match (d, memory) {
            (Device::Chip { chip, .. }, seedchip_timing::units::memctl::MemoryMode::Fast) => {
                Some(fast_memory_for(chip)?)
            }
            _ => None,
        };
        for &b in &batches {
            let row = match d {
                Device::Chip { chip, .. } => {
                    let r = run_chip(&graph, chip, b, precision, &settings, fast.as_ref(), false)?;
                    chip_row(d, &r.report, &prices, &assumptions)
                }
                Device::Peer { model, .. } => {
                    let p = run_peer(&graph, model, b, precision, stack)?;
                    peer_row(d, &p, &prices, &assumptions)
                }
            };
            results.push(row);
        }
    }
    let doc = CompareDoc {
        schema_version: SCHEMA_VERSION,
        model: &args.model,
        precision: precision.name(),
        stack: stack.name(),
        seed: args.seed,
        memory: memory.name(),
        cost_assumptions: assumptions,
        results,
    };
    if args.json {
        print_json(&doc)?;
    } else {
        print_text(&text_table(&doc))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Every device must support the precision (checked before any work).
pub(super) fn check_precision(devices: &[Device], p: Precision) -> anyhow::Result<()> {
    for d in devices {
        if d.roofs(p).is_none() {
            return Err(user(
                format!("{} has no {} peak", d.name(), p.name()),
                &["choose a precision every device supports with --precision (int8 is the widest)"],
            ));
        }
    }
    Ok(())
}

fn opt(v: Option<f64>) -> String {
    v.map(fmt_num).unwrap_or_else(|| "n/a".into())
}

/// The comparison as an aligned text table.
pub(super) fn rows_table(rows: &[Row]) -> String {
    let header = [
        "device",
        "batch",
        "latency ms",
        "samples/s",
        "J/sample",
        "samples/s/W",
        "unit USD",
        "USD/M samples",
        "bound",
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                match r.stack {
                    Some(s) => format!("{} ({s})", r.device),
                    None => r.device.clone(),
                },
                r.batch.to_string(),
                fmt_num(r.latency_ms),
                fmt_num(r.samples_per_s),
                opt(r.joules_per_sample),
                opt(r.samples_per_s_per_watt),
                opt(r.unit_cost_usd),
                opt(r.usd_per_million_samples),
                r.bound.clone(),
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            cells
                .iter()
                .map(|c| c[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut s = String::new();
    let line = |s: &mut String, c: Vec<String>| {
        for (i, cell) in c.iter().enumerate() {
            if i == 0 {
                s.push_str(&format!("{cell:<w$}", w = widths[i]));
            } else {
                s.push_str(&format!("  {cell:>w$}", w = widths[i]));
            }
        }
        s.push('\n');
    };
    line(&mut s, header.iter().map(|h| h.to_string()).collect());
    for c in cells {
        line(&mut s, c);
    }
    s
}

fn text_table(d: &CompareDoc<'_>) -> String {
    let mut s = format!(
        "{} at {}, peers on the {} stack, {} memory model for simulated chips\n",
        d.model, d.precision, d.stack, d.memory
    );
    s.push_str(&rows_table(&d.results));
    let a = &d.cost_assumptions;
    s.push_str(&format!(
        "USD/M samples: unit cost over {} years at full use + energy × PUE {} at {} USD/kWh \
         (n/a: no public price; give one with --price DEVICE=USD)\n",
        a.lifetime_years, a.pue, a.usd_per_kwh
    ));
    s
}
