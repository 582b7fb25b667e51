//! Evaluating one point: the chip (validated by the chip crate), its derived figures and the
//! constraints on them, then each model at each batch size through compile + the timing model
//! (`seedchip-measure`), the batch each model is judged at, the objectives, and what limits the
//! design. Everything a point's record holds is a function of the sweep and the point alone.

use std::collections::BTreeMap;

use seedchip_chip::Precision;
use seedchip_ir::Graph;
use seedchip_measure::{Caches, CostAssumptions, MeasureOptions, usd_per_million_samples};
use seedchip_timing::units::memctl::MemoryMode;
use serde::{Deserialize, Serialize};

use crate::space::Point;
use crate::spec::{Objective, Spec};
use crate::{Error, SCHEMA_VERSION};

/// One line of a results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub schema_version: u32,
    /// The point's id (hash of its chip keys), 16 hex digits.
    pub id: String,
    /// Hash of what an evaluation depends on besides the point (base chip, models, evaluation
    /// settings, constraints): lines from another sweep are refused on resume and merge.
    pub sweep: String,
    /// Parameter label → value.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Parameter label → level index (parameters with levels).
    pub levels: BTreeMap<String, usize>,
    pub feasible: bool,
    /// Why not: `chip` (the chip crate refused it), `constraints`, `compile`, `timing`, `sla`
    /// or `power`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chip: Option<ChipFigures>,
    #[serde(default)]
    pub runs: Vec<Run>,
    /// Model → the batch it is judged at (the highest-throughput batch within its SLA).
    #[serde(default)]
    pub chosen: BTreeMap<String, u32>,
    /// Model → serving simulation at its `serve_qps` (models with one only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub serving: BTreeMap<String, Serving>,
    /// Objective name → value (geometric means over models); feasible points only.
    #[serde(default)]
    pub objectives: BTreeMap<String, f64>,
    /// What limits the design: `compute`, `vector`, `memory_bandwidth`, `gather`,
    /// `shared_sram_bandwidth`, `sram_capacity` or `latency` (the limiter most chosen runs
    /// share).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub limiter: Option<String>,
}

/// The chip crate's derived figures that constraints and reports use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChipFigures {
    pub area_mm2: f64,
    pub unit_cost_usd: f64,
    pub die_yield: f64,
    pub tdp_w: f64,
    pub peak_tops: f64,
    pub memory_bandwidth_gbps: f64,
    pub sram_total_bytes: u64,
    pub gather_rows_per_s: f64,
}

/// One chip serving a model at a fixed request rate (`seedchip-serving`): Poisson arrivals,
/// MLPerf candidates per request, dynamic batching up to the largest timed batch, service
/// times interpolated between the timed batches with 5 % log-normal jitter (`serve`'s default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Serving {
    pub qps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub utilization: f64,
    pub mean_batch_pairs: f64,
}

/// Requests measured per serving simulation (after a twentieth as warm-up).
pub const SERVE_REQUESTS: u64 = 20_000;
/// Coefficient of variation of a batch's service time (the `serve` command's default).
pub const SERVE_CV: f64 = 0.05;

/// One (model, batch) measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub model: String,
    pub batch: u32,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    #[serde(default)]
    pub latency_us: f64,
    #[serde(default)]
    pub samples_per_s: f64,
    #[serde(default)]
    pub average_power_w: f64,
    #[serde(default)]
    pub energy_per_sample_uj: f64,
    #[serde(default)]
    pub perf_per_w: f64,
    #[serde(default)]
    pub usd_per_million_samples: f64,
    /// The chip's roofline bound for the program (`compute`, `memory` or `gather`) and the
    /// fraction of it reached.
    #[serde(default)]
    pub roofline_bound: String,
    #[serde(default)]
    pub roofline_fraction: f64,
    /// Busy fraction of the run by resource (the simulator's unit activity).
    #[serde(default)]
    pub busy: BTreeMap<String, f64>,
    #[serde(default)]
    pub limiter: String,
    /// Samples per micro-batch the compiler chose (SRAM capacity bounds it) and cores used.
    #[serde(default)]
    pub micro_batch: u64,
    #[serde(default)]
    pub cores_used: u32,
    #[serde(default)]
    pub cache_hit_rate: f64,
}

/// What every evaluation of a sweep shares: models loaded once, the measurement caches.
#[derive(Debug)]
pub struct Evaluator {
    pub spec: Spec,
    pub sweep_hash: String,
    base_name: String,
    graphs: Vec<(String, Graph)>,
    options: MeasureOptions,
    pub caches: Caches,
    pub cost: CostAssumptions,
}

impl Evaluator {
    pub fn new(spec: Spec) -> Result<Evaluator, Error> {
        let mut graphs = Vec::new();
        for m in &spec.models {
            let opts = seedchip_zoo::ZooOptions {
                rows_cap: m.rows_cap,
                seed: spec.evaluation.seed,
            };
            let g = seedchip_zoo::get(&m.name, &opts).map_err(|e| Error::Model {
                model: m.name.clone(),
                message: e.to_string(),
            })?;
            let key = format!(
                "{}?rows_cap={:?}&seed={}",
                m.name, m.rows_cap, spec.evaluation.seed
            );
            graphs.push((key, g));
        }
        let precision = Precision::parse(&spec.evaluation.precision)
            .expect("internal error: the spec checked the precision");
        let mut options = MeasureOptions::new(precision, 1);
        options.seed = spec.evaluation.seed;
        options.alpha = spec.evaluation.alpha;
        options.memory = if spec.evaluation.memory == "detailed" {
            MemoryMode::Detailed
        } else {
            MemoryMode::Fast
        };
        options.profile_samples = spec.evaluation.profile_samples;
        options.calibration_samples = spec.evaluation.calibration_samples;
        let base_name = spec
            .base
            .doc
            .get("name")
            .and_then(|v| v.as_str())
            .unwrap_or("chip")
            .to_string();
        Ok(Evaluator {
            sweep_hash: sweep_hash(&spec),
            spec,
            base_name,
            graphs,
            options,
            caches: Caches::new(),
            cost: CostAssumptions::default(),
        })
    }

    /// The point's chip description as TOML text.
    pub fn chip_text(&self, p: &Point) -> String {
        let mut doc = self.spec.base.doc.clone();
        for (k, v) in &p.keys {
            crate::space::assign(&mut doc, k, v.clone())
                .expect("internal error: the spec checked every key of every level");
        }
        doc.insert(
            "name".into(),
            toml::Value::String(format!("{}-{}", self.base_name, p.id_hex())),
        );
        toml::to_string(&doc).expect("internal error: a TOML table serializes")
    }

    /// The record of a point before evaluation (infeasible, no figures).
    pub fn skeleton(&self, p: &Point) -> Record {
        Record {
            schema_version: SCHEMA_VERSION,
            id: p.id_hex(),
            sweep: self.sweep_hash.clone(),
            params: p.values(&self.spec.params),
            levels: p.levels(&self.spec.params),
            feasible: false,
            stage: None,
            reason: None,
            chip: None,
            runs: Vec::new(),
            chosen: BTreeMap::new(),
            serving: BTreeMap::new(),
            objectives: BTreeMap::new(),
            limiter: None,
        }
    }

    /// Evaluates a point. Never fails: a design that cannot be built or run is a record with
    /// `feasible = false` and the reason.
    pub fn evaluate(&self, p: &Point) -> Record {
        let mut rec = self.skeleton(p);
        let infeasible = |mut rec: Record, stage: &str, reason: String| {
            rec.feasible = false;
            rec.stage = Some(stage.to_string());
            rec.reason = Some(reason);
            rec
        };
        let text = self.chip_text(p);
        let chip = match seedchip_chip::from_toml_str(&text, "point") {
            Ok(c) => c,
            Err(seedchip_chip::Error::Invalid { problems, .. }) => {
                let reason = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.key, p.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                return infeasible(rec, "chip", reason);
            }
            Err(e) => return infeasible(rec, "chip", e.to_string()),
        };
        let d = seedchip_chip::derive(&chip);
        let precision = self.options.precision;
        let figures = ChipFigures {
            area_mm2: d.area_mm2,
            unit_cost_usd: d.unit_cost_usd,
            die_yield: d.die_yield,
            tdp_w: d.tdp_w,
            peak_tops: d.peak_tops.get(&precision).copied().unwrap_or(0.0),
            memory_bandwidth_gbps: d.memory_bandwidth_gbps,
            sram_total_bytes: d.sram_total_bytes,
            gather_rows_per_s: d.gather_rows_per_s,
        };
        rec.chip = Some(figures.clone());
        let c = &self.spec.constraints;
        let mut missed = Vec::new();
        let mut limit = |name: &str, value: f64, max: Option<f64>, unit: &str| {
            if let Some(m) = max
                && value > m
            {
                missed.push(format!("{name} {value:.1} {unit} > {m} {unit}"));
            }
        };
        limit("TDP", figures.tdp_w, c.tdp_w_max, "W");
        limit("area", figures.area_mm2, c.area_mm2_max, "mm²");
        limit(
            "unit cost",
            figures.unit_cost_usd,
            c.unit_cost_usd_max,
            "USD",
        );
        if !missed.is_empty() {
            return infeasible(rec, "constraints", missed.join("; "));
        }

        let mut first_error: Option<(String, String)> = None;
        for (m, (key, graph)) in self.spec.models.iter().zip(&self.graphs) {
            let mut best: Option<usize> = None;
            for &batch in &m.batches {
                let mut opts = self.options.clone();
                opts.batch = batch;
                let run = match seedchip_measure::measure(&self.caches, key, graph, &chip, &opts) {
                    Ok(meas) => self.run_figures(&m.name, batch, &meas, figures.unit_cost_usd),
                    Err(e) => {
                        let stage = match e {
                            seedchip_measure::Error::Compile(_) => "compile",
                            _ => "timing",
                        };
                        first_error.get_or_insert((
                            stage.to_string(),
                            format!("{} at batch {batch}: {e}", m.name),
                        ));
                        rec.runs.push(Run::failed(&m.name, batch, e.to_string()));
                        continue;
                    }
                };
                let within_sla = m.sla_latency_us.is_none_or(|s| run.latency_us <= s);
                rec.runs.push(run);
                let i = rec.runs.len() - 1;
                if !within_sla {
                    // Larger batches only take longer.
                    break;
                }
                if best.is_none_or(|b| rec.runs[i].samples_per_s > rec.runs[b].samples_per_s) {
                    best = Some(i);
                }
            }
            match best {
                Some(i) => {
                    rec.chosen.insert(m.name.clone(), rec.runs[i].batch);
                    if let Some(qps) = m.serve_qps {
                        let points: Vec<(u32, f64)> = rec
                            .runs
                            .iter()
                            .filter(|r| r.model == m.name && r.error.is_none())
                            .map(|r| (r.batch, r.latency_us * 1e-6))
                            .collect();
                        let sv = match serve(&m.name, &points, qps, self.spec.evaluation.seed) {
                            Ok(sv) => sv,
                            Err(e) => {
                                return infeasible(rec, "serving", format!("{}: {e}", m.name));
                            }
                        };
                        let late = m.sla_p99_ms.filter(|&s| sv.p99_ms > s);
                        rec.serving.insert(m.name.clone(), sv.clone());
                        if let Some(s) = late {
                            return infeasible(
                                rec,
                                "sla",
                                format!(
                                    "{}: serving p99 {:.3} ms at {qps} requests/s > SLA {s} ms",
                                    m.name, sv.p99_ms
                                ),
                            );
                        }
                    }
                }
                None => {
                    let (stage, reason) = match (&first_error, m.sla_latency_us) {
                        (_, Some(s))
                            if rec
                                .runs
                                .iter()
                                .any(|r| r.model == m.name && r.error.is_none()) =>
                        {
                            (
                                "sla".to_string(),
                                format!("{}: no batch meets the {s} µs latency SLA", m.name),
                            )
                        }
                        (Some(e), _) => e.clone(),
                        (None, _) => ("timing".to_string(), format!("{}: no run", m.name)),
                    };
                    return infeasible(rec, &stage, reason);
                }
            }
        }
        let chosen: Vec<&Run> = rec
            .chosen
            .iter()
            .filter_map(|(m, b)| rec.runs.iter().find(|r| &r.model == m && r.batch == *b))
            .collect();
        let mut over = Vec::new();
        for r in &chosen {
            if c.power_within_tdp && r.average_power_w > figures.tdp_w {
                over.push(format!(
                    "{} at batch {}: {:.1} W average > TDP {} W",
                    r.model, r.batch, r.average_power_w, figures.tdp_w
                ));
            }
            if let Some(m) = c.average_power_w_max
                && r.average_power_w > m
            {
                over.push(format!(
                    "{} at batch {}: {:.1} W average > {m} W",
                    r.model, r.batch, r.average_power_w
                ));
            }
        }
        let mut objectives = objectives(&chosen, &figures);
        if !rec.serving.is_empty() {
            objectives.insert(
                Objective::P99Ms.name().to_string(),
                geomean(rec.serving.values().map(|s| s.p99_ms)),
            );
        }
        let limiter = design_limiter(&chosen);
        rec.limiter = Some(limiter);
        if !over.is_empty() {
            return infeasible(rec, "power", over.join("; "));
        }
        rec.objectives = objectives;
        rec.feasible = true;
        rec
    }

    fn run_figures(
        &self,
        model: &str,
        batch: u32,
        m: &seedchip_measure::Measurement,
        unit_cost_usd: f64,
    ) -> Run {
        let r = m.report();
        let cycles = r.cycles.max(1) as f64;
        let queue_busy = |q: &str| -> f64 {
            r.queues
                .iter()
                .filter(|x| x.queue == q)
                .map(|x| x.busy_cycles as f64 / cycles)
                .fold(0.0, f64::max)
        };
        let gather_engines: Vec<f64> = r
            .engines
            .iter()
            .filter(|e| e.kind == "gather")
            .map(|e| e.utilization)
            .collect();
        let gather = if gather_engines.is_empty() {
            0.0
        } else {
            gather_engines.iter().sum::<f64>() / gather_engines.len() as f64
        };
        let mut busy = BTreeMap::new();
        busy.insert("compute".to_string(), queue_busy("mxu"));
        busy.insert("vector".to_string(), queue_busy("vpu"));
        busy.insert("memory_bandwidth".to_string(), r.memory.utilization);
        busy.insert("gather".to_string(), gather);
        busy.insert(
            "shared_sram_bandwidth".to_string(),
            r.shared_sram.utilization,
        );
        for v in busy.values_mut() {
            *v = round6(*v);
        }
        let report = &m.compiled.report;
        let cores = report.cores.max(1);
        let limiter = run_limiter(&busy, report.micro_batch, u64::from(batch), cores);
        let joules = r.energy.energy_per_inference_uj * 1e-6;
        Run {
            model: model.to_string(),
            batch,
            error: None,
            latency_us: r.latency_us,
            samples_per_s: r.throughput_samples_per_s,
            average_power_w: r.energy.average_power_w,
            energy_per_sample_uj: r.energy.energy_per_inference_uj,
            perf_per_w: r.energy.inferences_per_s_per_w,
            usd_per_million_samples: usd_per_million_samples(
                &self.cost,
                unit_cost_usd,
                r.throughput_samples_per_s,
                joules,
            ),
            roofline_bound: r.roofline.bound.clone(),
            roofline_fraction: r.roofline.roofline_fraction,
            busy,
            limiter,
            micro_batch: report.micro_batch,
            cores_used: report.cores,
            cache_hit_rate: r.gather.cache_hit_rate,
        }
    }
}

impl Run {
    fn failed(model: &str, batch: u32, error: String) -> Run {
        Run {
            model: model.to_string(),
            batch,
            error: Some(error),
            latency_us: 0.0,
            samples_per_s: 0.0,
            average_power_w: 0.0,
            energy_per_sample_uj: 0.0,
            perf_per_w: 0.0,
            usd_per_million_samples: 0.0,
            roofline_bound: String::new(),
            roofline_fraction: 0.0,
            busy: BTreeMap::new(),
            limiter: String::new(),
            micro_batch: 0,
            cores_used: 0,
            cache_hit_rate: 0.0,
        }
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// A busy fraction at or above this means the resource is saturated enough to be the limit
/// even when the batch was split for SRAM.
const SATURATED: f64 = 0.5;
/// Below this busy fraction for every resource, nothing is a throughput limit: the run is a
/// chain of dependent steps (too small a batch to fill the chip).
const IDLE: f64 = 0.25;

/// The busiest resource; `latency` when no resource is even a quarter busy; but when the compiler had to split the batch into micro-batches
/// (the working set did not fit SRAM) and nothing is saturated, SRAM capacity: the run is a
/// chain of small, poorly overlapped steps.
pub fn run_limiter(
    busy: &BTreeMap<String, f64>,
    micro_batch: u64,
    batch: u64,
    cores: u32,
) -> String {
    let (name, top) = busy.iter().fold(("compute", -1.0), |acc, (k, &v)| {
        if v > acc.1 { (k.as_str(), v) } else { acc }
    });
    let per_core = batch.div_ceil(u64::from(cores.max(1)));
    if micro_batch > 0 && micro_batch < per_core && top < SATURATED {
        return "sram_capacity".to_string();
    }
    if top < IDLE {
        return "latency".to_string();
    }
    name.to_string()
}

/// The limiter most chosen runs share (ties: the first model's).
fn design_limiter(chosen: &[&Run]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in chosen {
        *counts.entry(r.limiter.as_str()).or_default() += 1;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    chosen
        .iter()
        .find(|r| counts[r.limiter.as_str()] == top)
        .map_or_else(|| "compute".to_string(), |r| r.limiter.clone())
}

/// p99 of one chip serving `model` at `qps` with the timed batches as its service table.
fn serve(model: &str, points: &[(u32, f64)], qps: f64, seed: u64) -> Result<Serving, String> {
    use seedchip_serving::{Arrivals, ServeConfig, ServiceTable, ServiceTime, Variance};
    let table = ServiceTable::new(points.to_vec(), format!("timing simulator: {model}"))
        .map_err(|e| e.to_string())?;
    let largest = points.iter().map(|p| p.0).max().unwrap_or(1);
    let mut cfg = ServeConfig::single_stage(
        ServiceTime::Table {
            table,
            variance: Variance::LogNormal { cv: SERVE_CV },
        },
        Arrivals::Poisson { qps },
        1,
    );
    cfg.stages[0].batching.max_batch_pairs = largest;
    cfg.requests = SERVE_REQUESTS;
    cfg.warmup_requests = SERVE_REQUESTS / 20;
    cfg.seed = seed;
    let r = seedchip_serving::simulate(&cfg).map_err(|e| e.to_string())?;
    let st = r.stages.first();
    Ok(Serving {
        qps,
        p50_ms: r.latency.p50_ms,
        p99_ms: r.latency.p99_ms,
        utilization: st.map_or(0.0, |s| s.utilization),
        mean_batch_pairs: st.map_or(0.0, |s| s.mean_batch_pairs),
    })
}

fn geomean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x.max(1e-300).ln(), n + 1));
    if n == 0 { 0.0 } else { (sum / n as f64).exp() }
}

fn objectives(chosen: &[&Run], chip: &ChipFigures) -> BTreeMap<String, f64> {
    let mut o = BTreeMap::new();
    for obj in crate::spec::OBJECTIVES {
        let v = match obj {
            Objective::P99Ms => continue,
            Objective::PerfPerW => geomean(chosen.iter().map(|r| r.perf_per_w)),
            Objective::UsdPerMillionSamples => {
                geomean(chosen.iter().map(|r| r.usd_per_million_samples))
            }
            Objective::Throughput => geomean(chosen.iter().map(|r| r.samples_per_s)),
            Objective::LatencyUs => geomean(chosen.iter().map(|r| r.latency_us)),
            Objective::UnitCostUsd => chip.unit_cost_usd,
            Objective::AreaMm2 => chip.area_mm2,
        };
        o.insert(obj.name().to_string(), v);
    }
    o
}

/// FNV-1a of what every evaluation depends on besides the point.
pub fn sweep_hash(spec: &Spec) -> String {
    let models: Vec<serde_json::Value> = spec
        .models
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m.name, "batches": m.batches, "rows_cap": m.rows_cap,
                "sla_latency_us": m.sla_latency_us,
                "serve_qps": m.serve_qps, "sla_p99_ms": m.sla_p99_ms,
                "serve": { "requests": SERVE_REQUESTS, "cv": SERVE_CV },
            })
        })
        .collect();
    let e = &spec.evaluation;
    let c = &spec.constraints;
    let doc = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "base": serde_json::to_value(&spec.base.doc).expect("TOML converts to JSON"),
        "models": models,
        "evaluation": {
            "memory": e.memory, "precision": e.precision, "seed": e.seed, "alpha": e.alpha,
            "profile_samples": e.profile_samples, "calibration_samples": e.calibration_samples,
        },
        "constraints": {
            "tdp_w_max": c.tdp_w_max, "area_mm2_max": c.area_mm2_max,
            "unit_cost_usd_max": c.unit_cost_usd_max,
            "average_power_w_max": c.average_power_w_max,
            "power_within_tdp": c.power_within_tdp,
        },
    });
    crate::space::id_hex(seedchip_isa::fnv1a64(
        &serde_json::to_vec(&doc).expect("JSON serializes"),
    ))
}
