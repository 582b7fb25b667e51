//! `seedchip evaluate`: the main job. For each model, the simulated chip (compile + timing
//! simulator) and each peer (calibrated analytic model) at every batch size; a short comparison
//! table on stdout; `DIR/report.json` (this module's [`EvalDoc`], `schema_version`) and
//! `DIR/index.html` (built from the JSON document only, by [`page`]), both written atomically.
//!
//! Speed: the chip runs are parallel over (model, batch) with order-preserving rayon, so the
//! document does not depend on the thread count; int8/fp8 compiles calibrate on fewer samples
//! (timing does not depend on the scales). `--memory fast` calibrates the fast memory model once
//! per run. Progress goes to stderr. `docs/evaluate.md` describes the report and its timings.

mod page;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use seedchip_chip::Precision;
use seedchip_ir::Graph;
use seedchip_timing::sim::perfetto::{Trace, Track};
use seedchip_timing::units::memctl::MemoryMode;
use serde::Serialize;

use super::compare::{check_precision, rows_table};
use super::measure::{
    ChipRun, CostAssumptions, Device, Row, SimSettings, chip_row, fast_memory_for, parse_batches,
    parse_devices, parse_memory, parse_prices, parse_stack, peer_row, run_chip, run_peer,
};
use super::models::{DEFAULT_SEED, default_ragged_hints, load_model};
use super::sim::parse_precision;
use crate::exit::{print_json, print_text, user};

pub const SCHEMA_VERSION: u32 = 1;

/// Calibration samples of the chip's int8/fp8 compiles (as `serve` and `plan`): timing does not
/// depend on the calibrated scales, and fewer samples compile faster.
const CALIBRATION_SAMPLES: u32 = 64;

/// Batch sizes of a default run, 1 to 8192: powers of four up to 256, where latency barely
/// moves, then every power of two from 512 (the detail batch) to 8192, where it grows. Ten
/// points instead of fourteen keep the default run within its time budget (`docs/evaluate.md`).
pub const DEFAULT_BATCHES: &str = "1,4,16,64,256,512,1024,2048,4096,8192";

#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// Models to evaluate (zoo names, .sir or .onnx files); repeatable. Default: dlrm-v2 and
    /// rm2 (the embedding-bound extreme).
    #[arg(long = "model")]
    models: Vec<String>,
    /// The simulated chip: a preset or a chip TOML file.
    #[arg(long, default_value = "seedchip-v1")]
    chip: String,
    /// Comma-separated peer devices.
    #[arg(long, default_value = "h100-sxm,h20,a100-80g,ascend-910b")]
    peers: String,
    /// Directory for report.json and index.html (created if missing).
    #[arg(long, default_value = "seedchip-report")]
    out: PathBuf,
    /// Comma-separated batch sizes.
    #[arg(long, default_value = DEFAULT_BATCHES)]
    batches: String,
    /// The batch of the detailed views (table, roofline, energy, timeline); must be one of
    /// --batches; default 512, or the largest batch below it, or the smallest.
    #[arg(long)]
    detail_batch: Option<u32>,
    /// Precision on every device: int8, bf16 or fp8.
    #[arg(long, default_value = "int8")]
    precision: String,
    /// Software stack of the peers: eager, graph or tuned.
    #[arg(long, default_value = "graph")]
    stack: String,
    /// Off-chip memory model of the chip: detailed (bank level) or fast (curves calibrated
    /// from the detailed model, about 12 s of CPU per run; pays off only for many more runs
    /// than a default evaluation has, docs/evaluate.md).
    #[arg(long, default_value = "detailed")]
    memory: String,
    /// Seed of procedural weights and generated inputs.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Cap every embedding table at this many rows (zoo models).
    #[arg(long)]
    rows_cap: Option<u64>,
    /// Unit price of a device, USD (DEVICE=USD, repeatable).
    #[arg(long)]
    price: Vec<String>,
    /// Print report.json on stdout instead of the table (progress stays on stderr).
    #[arg(long)]
    json: bool,
}

/// The whole report: everything `index.html` shows.
#[derive(Debug, Serialize)]
pub struct EvalDoc {
    pub schema_version: u32,
    pub chip: String,
    pub peers: Vec<String>,
    pub precision: String,
    /// The peers' software stack.
    pub stack: String,
    /// The chip's off-chip memory model.
    pub memory: String,
    pub seed: u64,
    pub batches: Vec<u32>,
    pub detail_batch: u32,
    pub cost_assumptions: CostAssumptions,
    pub models: Vec<ModelDoc>,
}

#[derive(Debug, Serialize)]
pub struct ModelDoc {
    pub model: String,
    /// Every device at every batch (chip first, then peers in the order given).
    pub results: Vec<Row>,
    /// Every device at the detail batch.
    pub summary: Vec<Row>,
    pub roofline: RooflineDoc,
    pub energy: EnergyDoc,
    pub timeline: TimelineDoc,
}

#[derive(Debug, Serialize)]
pub struct Roof {
    pub device: String,
    /// Dense datasheet (peers) or derived (chip) peak at the precision.
    pub peak_ops_per_s: f64,
    pub bandwidth_bytes_per_s: f64,
    /// Where the roofs meet.
    pub ridge_ops_per_byte: f64,
}

/// One layer on one device's roofline.
#[derive(Debug, Serialize)]
pub struct LayerPoint {
    pub device: String,
    pub layer: String,
    pub op: String,
    /// Operations of the layer for one batch (2 per MAC plus vector operations).
    pub ops: f64,
    /// Off-chip bytes of the layer: chip — dense weights at the precision plus embedding rows
    /// read (activations stay on chip); peers — device-memory bytes of its kernels (model).
    pub bytes: f64,
    pub ops_per_byte: f64,
    /// Time the layer's instructions were executing (chip: union of its busy intervals over
    /// all queues) or its kernels' time (peers).
    pub busy_us: f64,
    pub attained_ops_per_s: f64,
}

#[derive(Debug, Serialize)]
pub struct RooflineDoc {
    pub batch: u32,
    pub roofs: Vec<Roof>,
    pub layers: Vec<LayerPoint>,
}

#[derive(Debug, Serialize)]
pub struct EnergyBar {
    pub device: String,
    /// Joules per sample by component: the chip's energy model nodes (static power included),
    /// or a peer's whole-device figure (`device`: activity-scaled TDP).
    pub components_j_per_sample: BTreeMap<String, f64>,
    pub joules_per_sample: f64,
}

#[derive(Debug, Serialize)]
pub struct EnergyDoc {
    pub batch: u32,
    pub devices: Vec<EnergyBar>,
}

#[derive(Debug, Serialize)]
pub struct Lane {
    /// `core N queue` or an engine's name.
    pub name: String,
    pub busy_us: f64,
    /// Busy time over the batch latency.
    pub utilization: f64,
    /// Busy intervals `[start, end)` in µs from the batch start; intervals closer than
    /// `merge_gap_us` are merged.
    pub intervals_us: Vec<[f64; 2]>,
}

#[derive(Debug, Serialize)]
pub struct TimelineDoc {
    pub device: String,
    pub batch: u32,
    pub latency_us: f64,
    pub merge_gap_us: f64,
    pub lanes: Vec<Lane>,
}

/// The first batch of `batches` that is `wanted`, else the largest below 512, else the smallest.
fn pick_detail_batch(batches: &[u32], wanted: Option<u32>) -> anyhow::Result<u32> {
    if let Some(w) = wanted {
        return if batches.contains(&w) {
            Ok(w)
        } else {
            Err(user(
                format!("--detail-batch {w} is not one of --batches"),
                &["add it to --batches"],
            ))
        };
    }
    Ok(batches
        .iter()
        .copied()
        .filter(|&b| b <= 512)
        .max()
        .unwrap_or_else(|| *batches.iter().min().expect("at least one batch")))
}

pub fn run(args: EvaluateArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let precision = parse_precision(&args.precision)?;
    let stack = parse_stack(&args.stack)?;
    let memory = parse_memory(&args.memory)?;
    let prices = parse_prices(&args.price)?;
    let batches = parse_batches(&args.batches, "--batches")?;
    let detail_batch = pick_detail_batch(&batches, args.detail_batch)?;
    let chip_dev = Device::resolve(&args.chip)?;
    let chip = match &chip_dev {
        Device::Chip { chip, .. } => chip.as_ref().clone(),
        Device::Peer { .. } => {
            return Err(user(
                format!("--chip {}: a peer is not simulated", args.chip),
                &[
                    "give a chip preset or TOML file with --chip and peers with --peers",
                    &format!("presets: {}", seedchip_chip::presets::names().join(", ")),
                ],
            ));
        }
    };
    let peers = if args.peers.trim().is_empty() {
        Vec::new()
    } else {
        parse_devices(&args.peers, "--peers")?
    };
    if let Some(p) = peers.iter().find(|d| matches!(d, Device::Chip { .. })) {
        return Err(user(
            format!("--peers: `{}` is a simulated chip, not a peer", p.name()),
            &[&format!(
                "peers: {}",
                seedchip_peers::device::names().join(", ")
            )],
        ));
    }
    let mut all = vec![chip_dev.clone()];
    all.extend(peers.iter().cloned());
    check_precision(&all, precision)?;
    let model_names = if args.models.is_empty() {
        vec!["dlrm-v2".to_string(), "rm2".to_string()]
    } else {
        args.models.clone()
    };
    let graphs: Vec<Graph> = model_names
        .iter()
        .map(|m| {
            let mut g = load_model(m, args.rows_cap, args.seed)?;
            default_ragged_hints(&mut g);
            Ok(g)
        })
        .collect::<anyhow::Result<_>>()?;
    let settings = SimSettings {
        seed: args.seed,
        alpha: seedchip_zoo::InputOptions::default().alpha,
        memory,
        calibration_samples: Some(CALIBRATION_SAMPLES),
    };
    let fast = match memory {
        MemoryMode::Fast => {
            eprintln!(
                "evaluate: calibrating the fast memory model of {}",
                chip.name
            );
            Some(fast_memory_for(&chip)?)
        }
        MemoryMode::Detailed => None,
    };

    // Chip runs: every (model, batch), in parallel, results in job order.
    let jobs: Vec<(usize, u32)> = (0..graphs.len())
        .flat_map(|m| batches.iter().map(move |&b| (m, b)))
        .collect();
    let done = AtomicUsize::new(0);
    let total = jobs.len();
    let runs: Vec<ChipRun> = jobs
        .par_iter()
        .map(|&(m, b)| {
            let t = Instant::now();
            let r = run_chip(
                &graphs[m],
                &chip,
                b,
                precision,
                &settings,
                fast.as_ref(),
                b == detail_batch,
            )?;
            let k = done.fetch_add(1, Ordering::Relaxed) + 1;
            eprintln!(
                "evaluate: [{k}/{total}] {} on {}, batch {b}: {:.3} ms simulated ({:.1} s)",
                model_names[m],
                chip.name,
                r.report.latency_us / 1e3,
                t.elapsed().as_secs_f64()
            );
            Ok(r)
        })
        .collect::<anyhow::Result<_>>()?;

    let assumptions = CostAssumptions::default();
    let mut models = Vec::new();
    let mut runs = runs.into_iter();
    for (m, graph) in graphs.iter().enumerate() {
        eprintln!("evaluate: peers on {}", model_names[m]);
        let mut results = Vec::new();
        let mut detail: Option<ChipRun> = None;
        for &b in &batches {
            let r = runs.next().expect("one run per job");
            results.push(chip_row(&chip_dev, &r.report, &prices, &assumptions));
            if b == detail_batch {
                detail = Some(r);
            }
        }
        let detail = detail.expect("the detail batch is one of the batches");
        let mut peer_detail = Vec::new();
        for d in &peers {
            let Device::Peer { model, .. } = d else {
                unreachable!("checked above")
            };
            for &b in &batches {
                let p = run_peer(graph, model, b, precision, stack)?;
                results.push(peer_row(d, &p, &prices, &assumptions));
                if b == detail_batch {
                    peer_detail.push((d, p));
                }
            }
        }
        let summary: Vec<Row> = results
            .iter()
            .filter(|r| r.batch == detail_batch)
            .cloned()
            .collect();
        let roofline = roofline(
            graph,
            &chip_dev,
            &detail,
            &peer_detail,
            precision,
            detail_batch,
        );
        let energy = energy(&chip_dev, &detail, &peer_detail, detail_batch);
        let timeline = timeline(&chip.name, &detail, detail_batch);
        models.push(ModelDoc {
            model: model_names[m].clone(),
            results,
            summary,
            roofline,
            energy,
            timeline,
        });
    }
    let doc = EvalDoc {
        schema_version: SCHEMA_VERSION,
        chip: chip.name.clone(),
        peers: peers.iter().map(Device::name).collect(),
        precision: precision.name().to_string(),
        stack: stack.name().to_string(),
        memory: memory.name().to_string(),
        seed: args.seed,
        batches,
        detail_batch,
        cost_assumptions: assumptions,
        models,
    };
    let json = serde_json::to_string_pretty(&doc)?;
    let html = page::render(&doc);
    let out = &args.out;
    let write = |name: &str, bytes: &[u8]| {
        seedchip_report::write_atomically(&out.join(name), bytes)
            .map_err(|e| user(e.to_string(), &["choose another directory with --out DIR"]))
    };
    write("report.json", format!("{json}\n").as_bytes())?;
    write("index.html", html.as_bytes())?;
    eprintln!(
        "evaluate: wrote {} and {} in {:.1} s",
        out.join("report.json").display(),
        out.join("index.html").display(),
        started.elapsed().as_secs_f64()
    );
    if args.json {
        print_json(&doc)?;
    } else {
        let mut s = String::new();
        for m in &doc.models {
            s.push_str(&format!(
                "{} at {} (batch {}, peers on the {} stack)\n",
                m.model, doc.precision, doc.detail_batch, doc.stack
            ));
            s.push_str(&rows_table(&m.summary));
            s.push('\n');
        }
        s.push_str(&format!("report: {}\n", out.join("index.html").display()));
        print_text(&s)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `%bot.0 (linear)` (a listing symbol) → `bot.0` (the IR node's first result).
fn layer_of_symbol(sym: &str) -> &str {
    let s = sym.strip_prefix('%').unwrap_or(sym);
    match s.rfind(" (") {
        Some(i) if s.ends_with(')') => &s[..i],
        _ => s,
    }
}

/// The IR node a compiler node belongs to: itself, or the nearest dotted prefix that is an IR
/// node (legalization splits `cross.0` into `cross.0.vx`, `cross.0.wu`, `cross.0.gate`).
fn ir_layer<'a>(name: &'a str, ir: &std::collections::BTreeSet<&str>) -> Option<&'a str> {
    let mut n = name;
    loop {
        if ir.contains(n) {
            return Some(n);
        }
        n = &n[..n.rfind('.')?];
    }
}

/// Total length of the union of `[a, b)` intervals.
fn union_len(mut iv: Vec<(u64, u64)>) -> u64 {
    iv.sort_unstable();
    let mut total = 0;
    let mut cur: Option<(u64, u64)> = None;
    for (a, b) in iv {
        match cur {
            Some((ca, cb)) if a <= cb => cur = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                cur = Some((a, b));
            }
            None => cur = Some((a, b)),
        }
    }
    total + cur.map_or(0, |(a, b)| b - a)
}

fn roofline(
    graph: &Graph,
    chip_dev: &Device,
    detail: &ChipRun,
    peers: &[(&Device, seedchip_peers::Prediction)],
    precision: Precision,
    batch: u32,
) -> RooflineDoc {
    let mut roofs = Vec::new();
    let mut push_roof = |d: &Device| {
        if let Some((peak, bw)) = d.roofs(precision) {
            roofs.push(Roof {
                device: d.name(),
                peak_ops_per_s: peak,
                bandwidth_bytes_per_s: bw,
                ridge_ops_per_byte: peak / bw,
            });
        }
    };
    push_roof(chip_dev);
    for (d, _) in peers {
        push_roof(d);
    }
    let mut layers = Vec::new();
    // The chip: IR-level work and off-chip bytes, time from the trace.
    let stats = seedchip_ir::analysis::stats(graph);
    let eb = f64::from(precision.bits()) / 8.0;
    let names: std::collections::BTreeSet<&str> =
        stats.ops.iter().map(|o| o.name.as_str()).collect();
    let mut busy: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    if let Some(tr) = &detail.trace {
        for s in &tr.slices {
            if let Track::Queue { core, .. } = s.track
                && let Some(sym) = detail.symbols.get(&core).and_then(|m| m.get(&s.index))
                && let Some(layer) = ir_layer(layer_of_symbol(sym), &names)
            {
                busy.entry(layer.to_string())
                    .or_default()
                    .push((s.start, s.end));
            }
        }
    }
    let clock_mhz = detail.report.clock_mhz;
    let b = f64::from(batch);
    for op in &stats.ops {
        let ops = b * (2.0 * op.macs_per_sample as f64 + op.vector_ops_per_sample as f64);
        let dim = op
            .output
            .rsplit(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(0.0);
        let rows = op.lookups_per_sample.unwrap_or(0.0) * b;
        let bytes = op.params as f64 * eb + rows * dim * eb;
        let Some(iv) = busy.remove(&op.name) else {
            continue;
        };
        let busy_us = union_len(iv) as f64 / clock_mhz;
        if ops <= 0.0 || bytes <= 0.0 || busy_us <= 0.0 {
            continue;
        }
        layers.push(LayerPoint {
            device: chip_dev.name(),
            layer: op.name.clone(),
            op: op.op.to_string(),
            ops,
            bytes,
            ops_per_byte: ops / bytes,
            busy_us,
            attained_ops_per_s: ops / (busy_us * 1e-6),
        });
    }
    for (d, p) in peers {
        for l in &p.per_layer {
            if l.fused_into.is_some() || l.us <= 0.0 || l.flops <= 0.0 || l.bytes <= 0.0 {
                continue;
            }
            layers.push(LayerPoint {
                device: d.name(),
                layer: l.name.clone(),
                op: l.op.to_string(),
                ops: l.flops,
                bytes: l.bytes,
                ops_per_byte: l.flops / l.bytes,
                busy_us: l.us,
                attained_ops_per_s: l.flops / (l.us * 1e-6),
            });
        }
    }
    RooflineDoc {
        batch,
        roofs,
        layers,
    }
}

fn energy(
    chip_dev: &Device,
    detail: &ChipRun,
    peers: &[(&Device, seedchip_peers::Prediction)],
    batch: u32,
) -> EnergyDoc {
    let e = &detail.report.energy;
    let b = f64::from(batch);
    let components: BTreeMap<String, f64> = e
        .breakdown_pj
        .iter()
        .filter(|(_, v)| **v > 0.0)
        .map(|(k, v)| (k.clone(), v * 1e-12 / b))
        .collect();
    let mut devices = vec![EnergyBar {
        device: chip_dev.name(),
        joules_per_sample: e.energy_per_inference_uj * 1e-6,
        components_j_per_sample: components,
    }];
    for (d, p) in peers {
        if let Some(en) = p.energy {
            devices.push(EnergyBar {
                device: d.name(),
                components_j_per_sample: BTreeMap::from([(
                    "device".to_string(),
                    en.joules_per_sample,
                )]),
                joules_per_sample: en.joules_per_sample,
            });
        }
    }
    EnergyDoc { batch, devices }
}

fn timeline(chip: &str, detail: &ChipRun, batch: u32) -> TimelineDoc {
    let latency_us = detail.report.latency_us;
    let merge_gap_us = latency_us / 2000.0;
    let Some(tr) = &detail.trace else {
        return TimelineDoc {
            device: chip.to_string(),
            batch,
            latency_us,
            merge_gap_us,
            lanes: Vec::new(),
        };
    };
    let mut by_track: BTreeMap<Track, Vec<(u64, u64)>> = BTreeMap::new();
    for s in &tr.slices {
        by_track.entry(s.track).or_default().push((s.start, s.end));
    }
    let lanes = by_track
        .into_iter()
        .map(|(t, iv)| {
            let busy = union_len(iv.clone()) as f64 / tr.clock_mhz;
            lane(tr, t, iv, busy, latency_us, merge_gap_us)
        })
        .collect();
    TimelineDoc {
        device: chip.to_string(),
        batch,
        latency_us,
        merge_gap_us,
        lanes,
    }
}

fn lane(
    tr: &Trace,
    t: Track,
    mut iv: Vec<(u64, u64)>,
    busy_us: f64,
    latency_us: f64,
    gap: f64,
) -> Lane {
    let name = match t {
        Track::Queue { core, queue } => format!(
            "core {core} {}",
            tr.queue_names
                .get(usize::from(queue))
                .copied()
                .unwrap_or("?")
        ),
        Track::Engine { engine } => tr
            .engine_names
            .get(engine as usize)
            .cloned()
            .unwrap_or_else(|| format!("engine {engine}")),
    };
    iv.sort_unstable();
    let mut merged: Vec<[f64; 2]> = Vec::new();
    for (a, b) in iv {
        let (a, b) = (a as f64 / tr.clock_mhz, b as f64 / tr.clock_mhz);
        match merged.last_mut() {
            Some(last) if a - last[1] <= gap => last[1] = last[1].max(b),
            _ => merged.push([a, b]),
        }
    }
    Lane {
        name,
        busy_us,
        utilization: if latency_us > 0.0 {
            busy_us / latency_us
        } else {
            0.0
        },
        intervals_us: merged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_name_layers() {
        assert_eq!(layer_of_symbol("%bot.0 (linear)"), "bot.0");
        assert_eq!(layer_of_symbol("%cat_3.bag (embedding_bag)"), "cat_3.bag");
        assert_eq!(layer_of_symbol("plain"), "plain");
        let ir = std::collections::BTreeSet::from(["cross.0", "top.0"]);
        assert_eq!(ir_layer("cross.0.vx", &ir), Some("cross.0"));
        assert_eq!(ir_layer("top.0", &ir), Some("top.0"));
        assert_eq!(ir_layer("prologue", &ir), None);
    }

    #[test]
    fn unions() {
        assert_eq!(union_len(vec![(0, 10), (5, 15), (20, 25)]), 20);
        assert_eq!(union_len(vec![]), 0);
    }

    #[test]
    fn detail_batch_choice() {
        assert_eq!(pick_detail_batch(&[1, 8, 4096], None).unwrap(), 8);
        assert_eq!(pick_detail_batch(&[1024, 2048], None).unwrap(), 1024);
        assert_eq!(pick_detail_batch(&[1, 512, 8192], None).unwrap(), 512);
        assert!(pick_detail_batch(&[1, 8], Some(4)).is_err());
    }
}
