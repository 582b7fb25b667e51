//! What `compare` and `evaluate` share: naming a device (a simulated chip or a peer), running a
//! model on it at one batch size (compile + timing simulator for chips, the calibrated analytic
//! model for peers), and the cost figures derived from the result.
//!
//! Cost per million samples (`usd_per_million_samples`) is defined in `docs/evaluate.md` and
//! computed by `seedchip_measure::cost` (shared with the sweep): the unit cost amortized over the
//! service life at the measured throughput, plus the energy per sample times PUE at an
//! electricity price. It is an optimistic, full-utilization figure for comparing devices, not a
//! fleet TCO (`serve`/`plan`).

use std::collections::BTreeMap;

use seedchip_chip::{Chip, Precision};
use seedchip_ir::Graph;
use seedchip_peers::{PeerModel, Prediction, Stack};
use seedchip_serving::chipsim::{TimeOptions, compile_and_time};
use seedchip_timing::energy::EnergyOptions;
use seedchip_timing::mem::{FastMemory, MemConfig};
use seedchip_timing::sim::SimOptions;
use seedchip_timing::sim::perfetto::Trace;
use seedchip_timing::sim::report::SimReport;
use seedchip_timing::units::memctl::MemoryMode;
use serde::Serialize;

use super::chips::load_chip;
use crate::exit::user;

pub use seedchip_measure::cost::CostAssumptions;

/// A device named on the command line.
#[derive(Debug, Clone)]
pub enum Device {
    /// Simulated: compiled and timed.
    Chip {
        chip: Box<Chip>,
        derived: Box<seedchip_chip::Derived>,
    },
    /// A calibrated analytic model.
    Peer {
        model: Box<PeerModel>,
        sheet: Box<seedchip_chip::peers::Peer>,
    },
}

impl Device {
    /// A peer name, a chip preset or a chip TOML file.
    pub fn resolve(name: &str) -> anyhow::Result<Device> {
        if seedchip_peers::device::names().contains(&name) {
            let model = PeerModel::for_device(name).map_err(|e| user(e.to_string(), &[]))?;
            let sheet = seedchip_chip::peers::get(name).expect("every peer model has a datasheet");
            return Ok(Device::Peer {
                model: Box::new(model),
                sheet: Box::new(sheet),
            });
        }
        let looks_like_file = name.ends_with(".toml") || name.contains('/');
        let chip = load_chip(name).map_err(|e| {
            if looks_like_file {
                e
            } else {
                user(
                    format!("unknown device `{name}`"),
                    &[
                        &format!(
                            "simulated chips: {} (or a chip TOML file)",
                            seedchip_chip::presets::names().join(", ")
                        ),
                        &format!("peers: {}", seedchip_peers::device::names().join(", ")),
                    ],
                )
            }
        })?;
        let derived = seedchip_chip::derive(&chip);
        Ok(Device::Chip {
            chip: Box::new(chip),
            derived: Box::new(derived),
        })
    }

    pub fn name(&self) -> String {
        match self {
            Device::Chip { chip, .. } => chip.name.clone(),
            Device::Peer { model, .. } => model.device().name().to_string(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Device::Chip { .. } => "simulated",
            Device::Peer { .. } => "peer",
        }
    }

    /// Unit cost and where it comes from; `None` when nothing public is known.
    pub fn unit_cost(&self, overrides: &BTreeMap<String, f64>) -> (Option<f64>, String) {
        if let Some(v) = overrides.get(&self.name()) {
            return (Some(*v), "given with --price".into());
        }
        match self {
            Device::Chip { derived, .. } => (
                Some(derived.unit_cost_usd),
                "estimated build cost: good die + memory + package + NRE per unit (chip cost model)"
                    .into(),
            ),
            Device::Peer { sheet, .. } => (sheet.price_usd, sheet.price_note.to_string()),
        }
    }

    /// Dense peak ops/s and off-chip bytes/s at `p` (the roofline's two roofs).
    pub fn roofs(&self, p: Precision) -> Option<(f64, f64)> {
        match self {
            Device::Chip { derived, .. } => Some((
                *derived.peak_ops_per_s.get(&p)?,
                derived.memory_bandwidth_gbps * 1e9,
            )),
            Device::Peer { sheet, .. } => Some((
                *sheet.peak_tops.get(&p)? * 1e12,
                sheet.memory_bandwidth_gbps * 1e9,
            )),
        }
    }
}

/// How chips are simulated.
#[derive(Debug, Clone)]
pub struct SimSettings {
    pub seed: u64,
    pub alpha: f64,
    pub memory: MemoryMode,
    /// Calibration samples of int8/fp8 compiles; `None` keeps the compiler's default.
    pub calibration_samples: Option<u32>,
}

/// Calibrates the fast memory model once per chip (it otherwise calibrates on every run).
pub fn fast_memory_for(chip: &Chip) -> anyhow::Result<FastMemory> {
    let cfg = MemConfig::from_chip(&chip.memory)
        .map_err(|e| user(format!("{}: memory model: {e}", chip.name), &[]))?;
    FastMemory::calibrate(
        &cfg,
        &seedchip_timing::mem::fast::CalibrationOptions::standard(&cfg),
    )
    .map_err(|e| user(format!("{}: memory model: {e}", chip.name), &[]))
}

/// One chip run.
#[derive(Debug)]
pub struct ChipRun {
    pub report: SimReport,
    pub trace: Option<Trace>,
    /// Instruction index → IR node, per core (for placing layers).
    pub symbols: BTreeMap<u32, BTreeMap<u32, String>>,
}

/// Compiles `graph` for `chip` at `batch` and times it, through the library path behind
/// `seedchip sim` (`seedchip_serving::chipsim::compile_and_time`). `calibration_samples`
/// overrides the compiler's int8/fp8 calibration sample count (timing does not depend on the
/// calibrated scales; fewer samples compile faster).
#[allow(clippy::too_many_arguments)]
pub fn run_chip(
    graph: &Graph,
    chip: &Chip,
    batch: u32,
    precision: Precision,
    settings: &SimSettings,
    fast: Option<&FastMemory>,
    trace: bool,
) -> anyhow::Result<ChipRun> {
    let mut options = TimeOptions::new(precision, settings.seed);
    options.alpha = settings.alpha;
    options.calibration_samples = settings.calibration_samples;
    options.sim = SimOptions {
        memory: settings.memory,
        fast_memory: fast.cloned(),
        energy: EnergyOptions::default(),
        trace,
        ..SimOptions::default()
    };
    let timed = compile_and_time(graph, chip, batch, &options).map_err(|e| {
        let hint: &[&str] = match e {
            seedchip_serving::Error::Timing(_) => {
                &["a compiled program that cannot be timed is a compiler or timing-model bug"]
            }
            _ => &[],
        };
        user(format!("{} at batch {batch}: {e}", chip.name), hint)
    })?;
    let symbols = timed
        .compiled
        .program
        .code
        .iter()
        .map(|(core, code)| (*core, code.symbols.clone()))
        .collect();
    Ok(ChipRun {
        report: timed.outcome.report,
        trace: timed.outcome.trace,
        symbols,
    })
}

/// Predicts `graph` on a peer.
pub fn run_peer(
    graph: &Graph,
    model: &PeerModel,
    batch: u32,
    precision: Precision,
    stack: Stack,
) -> anyhow::Result<Prediction> {
    model
        .predict(graph, u64::from(batch), precision, stack)
        .map_err(|e| user(format!("{}: {e}", model.device().name()), &[]))
}

/// One device at one batch size: the figures `compare` prints and `evaluate` plots.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub device: String,
    /// `simulated` or `peer`.
    pub kind: &'static str,
    pub batch: u32,
    /// The peer's software stack; `null` for simulated chips.
    pub stack: Option<&'static str>,
    /// One batch, end to end.
    pub latency_ms: f64,
    pub samples_per_s: f64,
    pub avg_power_w: Option<f64>,
    pub joules_per_sample: Option<f64>,
    pub samples_per_s_per_watt: Option<f64>,
    pub unit_cost_usd: Option<f64>,
    pub unit_cost_source: String,
    /// Amortized unit cost + energy (see [`CostAssumptions`]); `null` without a unit cost or
    /// energy figure.
    pub usd_per_million_samples: Option<f64>,
    /// The energy part alone (always known when energy is).
    pub energy_usd_per_million_samples: Option<f64>,
    /// What limits the run: the chip's roofline bound (`compute`, `memory`, `gather`) or, for a
    /// peer, the bound of the layer taking the most time.
    pub bound: String,
    /// Simulated throughput over the chip's roofline bound (chips only).
    pub roofline_fraction: Option<f64>,
}

fn costs(
    row: &mut Row,
    device: &Device,
    prices: &BTreeMap<String, f64>,
    assumptions: &CostAssumptions,
) {
    let (unit, source) = device.unit_cost(prices);
    row.unit_cost_usd = unit;
    row.unit_cost_source = source;
    row.energy_usd_per_million_samples = row
        .joules_per_sample
        .map(|j| assumptions.energy_usd_per_million(j));
    row.usd_per_million_samples = match (unit, row.energy_usd_per_million_samples) {
        (Some(u), Some(e)) if row.samples_per_s > 0.0 => {
            Some(assumptions.capex_usd_per_million(u, row.samples_per_s) + e)
        }
        _ => None,
    };
}

/// The row of a chip run.
pub fn chip_row(
    device: &Device,
    r: &SimReport,
    prices: &BTreeMap<String, f64>,
    assumptions: &CostAssumptions,
) -> Row {
    let e = &r.energy;
    let mut row = Row {
        device: device.name(),
        kind: device.kind(),
        batch: r.batch,
        stack: None,
        latency_ms: r.latency_us / 1e3,
        samples_per_s: r.throughput_samples_per_s,
        avg_power_w: Some(e.average_power_w),
        joules_per_sample: Some(e.energy_per_inference_uj * 1e-6),
        samples_per_s_per_watt: Some(e.inferences_per_s_per_w),
        unit_cost_usd: None,
        unit_cost_source: String::new(),
        usd_per_million_samples: None,
        energy_usd_per_million_samples: None,
        bound: r.roofline.bound.clone(),
        roofline_fraction: Some(r.roofline.roofline_fraction),
    };
    costs(&mut row, device, prices, assumptions);
    row
}

/// The row of a peer prediction.
pub fn peer_row(
    device: &Device,
    p: &Prediction,
    prices: &BTreeMap<String, f64>,
    assumptions: &CostAssumptions,
) -> Row {
    let bound = p
        .per_layer
        .iter()
        .max_by(|a, b| a.us.total_cmp(&b.us))
        .map(|l| {
            serde_json::to_value(l.bound)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let mut row = Row {
        device: device.name(),
        kind: device.kind(),
        batch: p.batch as u32,
        stack: Some(p.stack.name()),
        latency_ms: p.latency_us / 1e3,
        samples_per_s: p.samples_per_s,
        avg_power_w: p.energy.map(|e| e.avg_power_w),
        joules_per_sample: p.energy.map(|e| e.joules_per_sample),
        samples_per_s_per_watt: p.energy.map(|e| e.samples_per_s_per_watt),
        unit_cost_usd: None,
        unit_cost_source: String::new(),
        usd_per_million_samples: None,
        energy_usd_per_million_samples: None,
        bound,
        roofline_fraction: None,
    };
    costs(&mut row, device, prices, assumptions);
    row
}

/// Parses `--price NAME=USD` options.
pub fn parse_prices(specs: &[String]) -> anyhow::Result<BTreeMap<String, f64>> {
    let mut out = BTreeMap::new();
    for s in specs {
        let parsed = s
            .split_once('=')
            .and_then(|(n, v)| v.trim().parse::<f64>().ok().map(|v| (n.trim(), v)));
        match parsed {
            Some((n, v)) if v.is_finite() && v >= 0.0 && !n.is_empty() => {
                out.insert(n.to_string(), v);
            }
            _ => {
                return Err(user(
                    format!("--price `{s}`: expected DEVICE=USD with a non-negative number"),
                    &["example: --price h20=12000"],
                ));
            }
        }
    }
    Ok(out)
}

/// Parses `--stack`.
pub fn parse_stack(s: &str) -> anyhow::Result<Stack> {
    Stack::parse(s).ok_or_else(|| {
        user(
            format!("unknown stack `{s}`"),
            &["valid stacks: eager, graph, tuned"],
        )
    })
}

/// Parses `--memory`.
pub fn parse_memory(s: &str) -> anyhow::Result<MemoryMode> {
    match s {
        "detailed" => Ok(MemoryMode::Detailed),
        "fast" => Ok(MemoryMode::Fast),
        other => Err(user(
            format!("unknown memory model `{other}`"),
            &["valid: detailed, fast"],
        )),
    }
}

/// Parses a comma-separated batch list (`1,8,512`); every entry at least 1, no repeats.
pub fn parse_batches(s: &str, flag: &str) -> anyhow::Result<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let v: u32 = part.trim().parse().map_err(|_| {
            user(
                format!("{flag} `{s}`: `{part}` is not a batch size"),
                &["give positive integers separated by commas, e.g. 1,8,512"],
            )
        })?;
        if v == 0 {
            return Err(user(format!("{flag} `{s}`: batch sizes start at 1"), &[]));
        }
        if out.contains(&v) {
            return Err(user(format!("{flag} `{s}`: {v} appears twice"), &[]));
        }
        out.push(v);
    }
    Ok(out)
}

/// Parses a comma-separated device list.
pub fn parse_devices(s: &str, flag: &str) -> anyhow::Result<Vec<Device>> {
    let mut names: Vec<&str> = Vec::new();
    for n in s.split(',').map(str::trim) {
        if n.is_empty() {
            return Err(user(format!("{flag} `{s}`: empty device name"), &[]));
        }
        if names.contains(&n) {
            return Err(user(format!("{flag} `{s}`: `{n}` appears twice"), &[]));
        }
        names.push(n);
    }
    names.into_iter().map(Device::resolve).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parsing_rejects_bad_input() {
        assert_eq!(
            parse_batches("1, 8,512", "--batches").unwrap(),
            vec![1, 8, 512]
        );
        assert!(parse_batches("1,0", "--batches").is_err());
        assert!(parse_batches("1,x", "--batches").is_err());
        assert!(parse_batches("8,8", "--batches").is_err());
        assert!(parse_prices(&["h20=12000".into()]).unwrap()["h20"] == 12000.0);
        assert!(parse_prices(&["h20".into()]).is_err());
        assert!(parse_prices(&["h20=-1".into()]).is_err());
    }
}
