//! The sweep file (`sweep.toml`): what to vary, on which base chip, what to run, which designs
//! are allowed and what "better" means. Parsed with unknown keys refused; every problem names
//! the file, line, column and key (docs/sweep.md lists every key).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::Error;
use crate::space::{Domain, Level, Param};

/// A parsed, checked sweep.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    /// The file it came from, for messages.
    pub origin: String,
    pub base: Base,
    pub search: Search,
    pub params: Vec<Param>,
    pub models: Vec<ModelSpec>,
    pub evaluation: Evaluation,
    pub constraints: Constraints,
    pub objectives: Vec<Objective>,
}

/// The chip every point starts from, as a TOML document with `unset` keys removed and `set`
/// keys applied.
#[derive(Debug, Clone)]
pub struct Base {
    /// What the user wrote: a preset name or a path.
    pub chip: String,
    pub doc: toml::Table,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every combination of every parameter's levels.
    Grid,
    /// `points` distinct points drawn with `seed`.
    Random,
    /// Rounds of neighbours of the best designs so far, toward `objective`.
    Guided,
}

#[derive(Debug, Clone)]
pub struct Search {
    pub mode: Mode,
    /// Random: points to draw. Guided: evaluation budget.
    pub points: u64,
    pub seed: u64,
    /// Guided: the objective searched toward (default: the first objective).
    pub objective: Objective,
    /// Guided: random points of the first round.
    pub initial: u64,
    /// Guided: best designs whose neighbours each later round evaluates.
    pub beam: u64,
}

/// One model and the batch sizes to run it at.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    pub batches: Vec<u32>,
    pub rows_cap: Option<u64>,
    /// A batch counts only if its latency is at most this (µs): the largest-throughput batch
    /// that meets it is the model's figure.
    pub sla_latency_us: Option<f64>,
    /// Requests per second offered to one chip in the serving simulation (MLPerf candidates
    /// per request, dynamic batching over the timed batch sizes): gives the `p99_ms` figure.
    pub serve_qps: Option<f64>,
    /// The serving p99 must be at most this (ms) at `serve_qps`, or the point is infeasible.
    pub sla_p99_ms: Option<f64>,
}

/// How each (model, batch) is measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub memory: String,
    pub precision: String,
    pub seed: u64,
    pub alpha: f64,
    pub profile_samples: Option<u32>,
    pub calibration_samples: Option<u32>,
}

/// Limits a design must meet; points that miss one are recorded as infeasible with the reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    pub tdp_w_max: Option<f64>,
    pub area_mm2_max: Option<f64>,
    pub unit_cost_usd_max: Option<f64>,
    /// The simulated average power of every chosen run at most this.
    pub average_power_w_max: Option<f64>,
    /// The simulated average power of every chosen run within the chip's own TDP.
    pub power_within_tdp: bool,
}

/// What the report ranks designs by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Objective {
    /// Samples per second per watt (simulated average power), geometric mean over models.
    PerfPerW,
    /// USD per million samples (unit cost amortized + energy), geometric mean over models.
    UsdPerMillionSamples,
    /// Samples per second, geometric mean over models.
    Throughput,
    /// Latency of the chosen batch, µs, geometric mean over models.
    LatencyUs,
    UnitCostUsd,
    AreaMm2,
    /// Serving p99 latency (ms) at each model's `serve_qps` on one chip, geometric mean.
    P99Ms,
}

pub const OBJECTIVES: [Objective; 7] = [
    Objective::PerfPerW,
    Objective::UsdPerMillionSamples,
    Objective::Throughput,
    Objective::LatencyUs,
    Objective::UnitCostUsd,
    Objective::AreaMm2,
    Objective::P99Ms,
];

impl Objective {
    pub fn name(self) -> &'static str {
        match self {
            Objective::PerfPerW => "perf_per_w",
            Objective::UsdPerMillionSamples => "usd_per_million_samples",
            Objective::Throughput => "samples_per_s",
            Objective::LatencyUs => "latency_us",
            Objective::UnitCostUsd => "unit_cost_usd",
            Objective::AreaMm2 => "area_mm2",
            Objective::P99Ms => "p99_ms",
        }
    }

    pub fn parse(s: &str) -> Option<Objective> {
        OBJECTIVES.into_iter().find(|o| o.name() == s)
    }

    /// True when larger is better.
    pub fn maximize(self) -> bool {
        matches!(self, Objective::PerfPerW | Objective::Throughput)
    }

    pub fn unit(self) -> &'static str {
        match self {
            Objective::PerfPerW => "samples/s/W",
            Objective::UsdPerMillionSamples => "USD/M samples",
            Objective::Throughput => "samples/s",
            Objective::LatencyUs => "µs",
            Objective::UnitCostUsd => "USD",
            Objective::AreaMm2 => "mm²",
            Objective::P99Ms => "ms",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Option<String>,
    base: RawBase,
    search: Option<RawSearch>,
    #[serde(default)]
    param: Vec<Spanned<RawParam>>,
    #[serde(default)]
    model: Vec<Spanned<RawModel>>,
    evaluation: Option<RawEval>,
    constraints: Option<RawConstraints>,
    objectives: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBase {
    chip: Spanned<String>,
    #[serde(default)]
    unset: Vec<Spanned<String>>,
    #[serde(default)]
    set: BTreeMap<String, Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSearch {
    mode: Spanned<String>,
    points: Option<Spanned<u64>>,
    seed: Option<u64>,
    objective: Option<Spanned<String>>,
    initial: Option<Spanned<u64>>,
    beam: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    key: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    values: Option<Spanned<Vec<Spanned<toml::Value>>>>,
    range: Option<Spanned<RawRange>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    from: Spanned<toml::Value>,
    to: Spanned<toml::Value>,
    step: Option<Spanned<toml::Value>>,
    factor: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    name: Spanned<String>,
    batches: Spanned<Vec<u32>>,
    rows_cap: Option<Spanned<u64>>,
    sla_latency_us: Option<Spanned<f64>>,
    serve_qps: Option<Spanned<f64>>,
    sla_p99_ms: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEval {
    memory: Option<Spanned<String>>,
    precision: Option<Spanned<String>>,
    seed: Option<u64>,
    alpha: Option<Spanned<f64>>,
    profile_samples: Option<Spanned<u32>>,
    calibration_samples: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConstraints {
    tdp_w_max: Option<Spanned<f64>>,
    area_mm2_max: Option<Spanned<f64>>,
    unit_cost_usd_max: Option<Spanned<f64>>,
    average_power_w_max: Option<Spanned<f64>>,
    #[serde(default)]
    power_within_tdp: bool,
}

/// Turns spans into located errors.
struct Ctx<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Ctx<'_> {
    fn err(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        message: impl Into<String>,
        hint: Option<&str>,
    ) -> Error {
        let (line, col) = seedchip_chip::load::line_col(self.text, span.start);
        Error::Spec {
            location: format!("{}:{line}:{col}", self.origin),
            key: key.to_string(),
            message: message.into(),
            hint: hint.map(str::to_string),
        }
    }
}

/// Reads and checks a sweep file. A relative `base.chip` path is taken from the file's folder.
pub fn load(path: &Path) -> Result<Spec, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string(), path.parent())
}

/// Parses sweep text; `dir` resolves relative chip paths.
pub fn parse(text: &str, origin: &str, dir: Option<&Path>) -> Result<Spec, Error> {
    let cx = Ctx { text, origin };
    let raw: RawSpec = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().to_string();
        let table = table_path_at(text, span.start);
        let key = match backticked(&message) {
            Some(k) if !table.is_empty() => format!("{table}.{k}"),
            Some(k) => k,
            None if !table.is_empty() => table,
            None => "<document>".to_string(),
        };
        cx.err(
            span,
            &key,
            message,
            Some("docs/sweep.md lists every key of a sweep file"),
        )
    })?;

    let base = load_base(&cx, &raw.base, dir)?;
    let models = models(&cx, &raw.model)?;
    let evaluation = evaluation(&cx, raw.evaluation)?;
    let constraints = constraints(&cx, raw.constraints)?;
    let objectives = match &raw.objectives {
        None => vec![Objective::PerfPerW, Objective::UsdPerMillionSamples],
        Some(list) => {
            let mut out = Vec::new();
            for o in list {
                let obj = objective(&cx, o, "objectives")?;
                if !out.contains(&obj) {
                    out.push(obj);
                }
            }
            if out.is_empty() {
                return Err(cx.err(
                    0..0,
                    "objectives",
                    "lists no objective",
                    Some(&objective_hint()),
                ));
            }
            out
        }
    };
    if objectives.contains(&Objective::P99Ms)
        && let Some(m) = models.iter().find(|m| m.serve_qps.is_none())
    {
        return Err(cx.err(
            raw.objectives
                .as_ref()
                .and_then(|l| l.iter().find(|o| o.get_ref() == "p99_ms"))
                .map_or(0..0, |o| o.span()),
            "objectives",
            format!(
                "the p99_ms objective needs `serve_qps` on every model; `{}` has none",
                m.name
            ),
            Some("add serve_qps = ... (requests per second per chip) to each [[model]]"),
        ));
    }
    let mut params = Vec::new();
    for p in &raw.param {
        params.push(param(&cx, p, &base)?);
    }
    for (i, p) in params.iter().enumerate() {
        if let Some(other) = params[..i].iter().find(|q| q.label == p.label) {
            return Err(cx.err(
                p.span.clone(),
                &p.label,
                format!("parameter `{}` is given twice", other.label),
                None,
            ));
        }
        for k in p.keys() {
            if let Some(other) = params[..i].iter().find(|q| q.keys().contains(&k)) {
                return Err(cx.err(
                    p.span.clone(),
                    &k,
                    format!("key `{k}` is also set by parameter `{}`", other.label),
                    Some("a chip key may be varied by one parameter only"),
                ));
            }
        }
    }
    let search = search(&cx, raw.search, &params, &objectives)?;
    let name = raw.name.unwrap_or_else(|| {
        Path::new(origin)
            .file_stem()
            .map_or("sweep".to_string(), |s| s.to_string_lossy().into_owned())
    });
    Ok(Spec {
        name,
        origin: origin.to_string(),
        base,
        search,
        params,
        models,
        evaluation,
        constraints,
        objectives,
    })
}

fn objective_hint() -> String {
    format!("objectives: {}", OBJECTIVES.map(Objective::name).join(", "))
}

fn objective(cx: &Ctx<'_>, o: &Spanned<String>, key: &str) -> Result<Objective, Error> {
    Objective::parse(o.get_ref()).ok_or_else(|| {
        cx.err(
            o.span(),
            key,
            format!("unknown objective `{}`", o.get_ref()),
            Some(&objective_hint()),
        )
    })
}

/// The `[table]` or `[[array]]` header in force at an offset, as a dotted path.
fn table_path_at(text: &str, offset: usize) -> String {
    let mut current = String::new();
    for line in text[..offset.min(text.len())].lines() {
        let t = line.trim();
        if let Some(inner) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            current = inner.trim().to_string();
        } else if let Some(inner) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            current = inner.trim().to_string();
        }
    }
    current
}

/// serde names the offending field in backticks for unknown and missing fields.
fn backticked(message: &str) -> Option<String> {
    if !(message.starts_with("unknown field") || message.starts_with("missing field")) {
        return None;
    }
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

fn load_base(cx: &Ctx<'_>, raw: &RawBase, dir: Option<&Path>) -> Result<Base, Error> {
    let name = raw.chip.get_ref();
    let text = match seedchip_chip::presets::source(name) {
        Some(t) => t.to_string(),
        None => {
            let path: PathBuf = match dir {
                Some(d) if Path::new(name).is_relative() => d.join(name),
                _ => PathBuf::from(name),
            };
            std::fs::read_to_string(&path).map_err(|e| {
                cx.err(
                    raw.chip.span(),
                    "base.chip",
                    format!(
                        "`{name}` is not a preset, and {} cannot be read: {e}",
                        path.display()
                    ),
                    Some(&format!(
                        "presets: {}; a path is taken relative to the sweep file",
                        seedchip_chip::presets::names().join(", ")
                    )),
                )
            })?
        }
    };
    let mut doc: toml::Table = toml::from_str(&text).map_err(|e| {
        cx.err(
            raw.chip.span(),
            "base.chip",
            format!("the base chip is not valid TOML: {}", e.message().trim()),
            None,
        )
    })?;
    for key in &raw.unset {
        if !crate::space::remove(&mut doc, key.get_ref()) {
            return Err(cx.err(
                key.span(),
                "base.unset",
                format!("the base chip has no key `{}` to unset", key.get_ref()),
                None,
            ));
        }
    }
    for (key, value) in &raw.set {
        crate::space::assign(&mut doc, key, value.get_ref().clone())
            .map_err(|m| cx.err(value.span(), &format!("base.set.{key}"), m, None))?;
    }
    let base_text = toml::to_string(&doc).expect("internal error: a TOML table serializes");
    // A base that only fails physical validation is allowed: parameters may fix it.
    if let Err(seedchip_chip::Error::Format { key, message, .. }) =
        seedchip_chip::from_toml_str(&base_text, "base chip")
    {
        return Err(cx.err(
            raw.chip.span(),
            "base",
            format!("the base chip with `set`/`unset` applied: key `{key}`: {message}"),
            Some("`seedchip chip schema` prints every chip key"),
        ));
    }
    Ok(Base {
        chip: name.clone(),
        doc,
    })
}

fn models(cx: &Ctx<'_>, raw: &[Spanned<RawModel>]) -> Result<Vec<ModelSpec>, Error> {
    if raw.is_empty() {
        return Err(cx.err(
            0..0,
            "model",
            "the sweep names no model",
            Some("add [[model]] tables with name and batches, e.g. name = \"dlrm-v2\", batches = [256]"),
        ));
    }
    let zoo: Vec<&str> = seedchip_zoo::list().iter().map(|m| m.name).collect();
    let mut out: Vec<ModelSpec> = Vec::new();
    for m in raw {
        let m = m.get_ref();
        let name = m.name.get_ref();
        if !zoo.contains(&name.as_str()) {
            return Err(cx.err(
                m.name.span(),
                "model.name",
                format!("unknown model `{name}`"),
                Some(&format!("built-in models: {}", zoo.join(", "))),
            ));
        }
        if out.iter().any(|o| &o.name == name) {
            return Err(cx.err(
                m.name.span(),
                "model.name",
                format!("model `{name}` is listed twice"),
                Some("list every batch size of a model in one [[model]] table"),
            ));
        }
        let batches = m.batches.get_ref();
        if batches.is_empty() || batches.contains(&0) {
            return Err(cx.err(
                m.batches.span(),
                "model.batches",
                "batch sizes must be a non-empty list of positive integers",
                None,
            ));
        }
        let mut sorted = batches.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if let Some(cap) = &m.rows_cap
            && *cap.get_ref() == 0
        {
            return Err(cx.err(cap.span(), "model.rows_cap", "must be at least 1", None));
        }
        if let Some(s) = &m.sla_latency_us
            && !(s.get_ref().is_finite() && *s.get_ref() > 0.0)
        {
            return Err(cx.err(
                s.span(),
                "model.sla_latency_us",
                "must be a positive number of microseconds",
                None,
            ));
        }
        for (key, v) in [("serve_qps", &m.serve_qps), ("sla_p99_ms", &m.sla_p99_ms)] {
            if let Some(v) = v
                && !(v.get_ref().is_finite() && *v.get_ref() > 0.0)
            {
                return Err(cx.err(
                    v.span(),
                    &format!("model.{key}"),
                    format!("{} is not a positive number", v.get_ref()),
                    None,
                ));
            }
        }
        if let (Some(s), None) = (&m.sla_p99_ms, &m.serve_qps) {
            return Err(cx.err(
                s.span(),
                "model.sla_p99_ms",
                "a p99 SLA needs `serve_qps`, the load it must hold at",
                Some("e.g. serve_qps = 2000.0 (requests per second per chip)"),
            ));
        }
        out.push(ModelSpec {
            name: name.clone(),
            batches: sorted,
            rows_cap: m.rows_cap.as_ref().map(|c| *c.get_ref()),
            sla_latency_us: m.sla_latency_us.as_ref().map(|s| *s.get_ref()),
            serve_qps: m.serve_qps.as_ref().map(|s| *s.get_ref()),
            sla_p99_ms: m.sla_p99_ms.as_ref().map(|s| *s.get_ref()),
        });
    }
    Ok(out)
}

fn evaluation(cx: &Ctx<'_>, raw: Option<RawEval>) -> Result<Evaluation, Error> {
    let mut e = Evaluation {
        memory: "fast".into(),
        precision: "int8".into(),
        seed: 0,
        alpha: 1.0,
        profile_samples: None,
        calibration_samples: None,
    };
    let Some(raw) = raw else { return Ok(e) };
    if let Some(m) = raw.memory {
        if !matches!(m.get_ref().as_str(), "fast" | "detailed") {
            return Err(cx.err(
                m.span(),
                "evaluation.memory",
                format!("unknown memory model `{}`", m.get_ref()),
                Some("valid: fast, detailed"),
            ));
        }
        e.memory = m.into_inner();
    }
    if let Some(p) = raw.precision {
        if !matches!(p.get_ref().as_str(), "int8" | "bf16" | "fp8") {
            return Err(cx.err(
                p.span(),
                "evaluation.precision",
                format!("unknown precision `{}`", p.get_ref()),
                Some("valid precisions: int8, bf16, fp8"),
            ));
        }
        e.precision = p.into_inner();
    }
    e.seed = raw.seed.unwrap_or(0);
    if let Some(a) = raw.alpha {
        if !(a.get_ref().is_finite() && *a.get_ref() >= 0.0) {
            return Err(cx.err(
                a.span(),
                "evaluation.alpha",
                "the Zipf exponent must be a finite number >= 0",
                None,
            ));
        }
        e.alpha = *a.get_ref();
    }
    for (key, v, slot) in [
        (
            "evaluation.profile_samples",
            raw.profile_samples,
            &mut e.profile_samples,
        ),
        (
            "evaluation.calibration_samples",
            raw.calibration_samples,
            &mut e.calibration_samples,
        ),
    ] {
        if let Some(v) = v {
            if *v.get_ref() == 0 {
                return Err(cx.err(v.span(), key, "must be at least 1", None));
            }
            *slot = Some(*v.get_ref());
        }
    }
    Ok(e)
}

fn constraints(cx: &Ctx<'_>, raw: Option<RawConstraints>) -> Result<Constraints, Error> {
    let Some(raw) = raw else {
        return Ok(Constraints::default());
    };
    let check = |key: &str, v: Option<Spanned<f64>>| -> Result<Option<f64>, Error> {
        match v {
            None => Ok(None),
            Some(v) if v.get_ref().is_finite() && *v.get_ref() > 0.0 => Ok(Some(*v.get_ref())),
            Some(v) => Err(cx.err(
                v.span(),
                &format!("constraints.{key}"),
                format!("{} is not a positive limit", v.get_ref()),
                None,
            )),
        }
    };
    Ok(Constraints {
        tdp_w_max: check("tdp_w_max", raw.tdp_w_max)?,
        area_mm2_max: check("area_mm2_max", raw.area_mm2_max)?,
        unit_cost_usd_max: check("unit_cost_usd_max", raw.unit_cost_usd_max)?,
        average_power_w_max: check("average_power_w_max", raw.average_power_w_max)?,
        power_within_tdp: raw.power_within_tdp,
    })
}

fn search(
    cx: &Ctx<'_>,
    raw: Option<RawSearch>,
    params: &[Param],
    objectives: &[Objective],
) -> Result<Search, Error> {
    let mut s = Search {
        mode: Mode::Grid,
        points: 0,
        seed: 0,
        objective: objectives[0],
        initial: 0,
        beam: 4,
    };
    let Some(raw) = raw else {
        check_discrete(cx, params, "grid")?;
        check_grid_size(cx, params)?;
        return Ok(s);
    };
    s.mode = match raw.mode.get_ref().as_str() {
        "grid" => Mode::Grid,
        "random" => Mode::Random,
        "guided" => Mode::Guided,
        other => {
            return Err(cx.err(
                raw.mode.span(),
                "search.mode",
                format!("unknown search mode `{other}`"),
                Some("valid: grid, random, guided"),
            ));
        }
    };
    s.seed = raw.seed.unwrap_or(0);
    if let Some(o) = &raw.objective {
        s.objective = objective(cx, o, "search.objective")?;
    }
    let need_points = |name: &str| -> Result<u64, Error> {
        match &raw.points {
            Some(p) if *p.get_ref() > MAX_POINTS => Err(cx.err(
                p.span(),
                "search.points",
                format!("{} points: at most {MAX_POINTS}", p.get_ref()),
                Some("split a larger exploration into several sweeps"),
            )),
            Some(p) if *p.get_ref() > 0 => Ok(*p.get_ref()),
            Some(p) => Err(cx.err(p.span(), "search.points", "must be at least 1", None)),
            None => Err(cx.err(
                raw.mode.span(),
                "search.points",
                format!("{name} search needs `points` (how many designs to evaluate)"),
                None,
            )),
        }
    };
    match s.mode {
        Mode::Grid => {
            if let Some(p) = &raw.points {
                return Err(cx.err(
                    p.span(),
                    "search.points",
                    "a grid evaluates every combination; `points` applies to random and guided search",
                    None,
                ));
            }
            check_discrete(cx, params, "grid")?;
            check_grid_size(cx, params)?;
        }
        Mode::Random => s.points = need_points("random")?,
        Mode::Guided => {
            s.points = need_points("guided")?;
            check_discrete(cx, params, "guided")?;
            s.initial = match &raw.initial {
                Some(i) if *i.get_ref() == 0 => {
                    return Err(cx.err(i.span(), "search.initial", "must be at least 1", None));
                }
                Some(i) => *i.get_ref(),
                None => (s.points / 4).max(1),
            };
            if let Some(b) = &raw.beam {
                if *b.get_ref() == 0 {
                    return Err(cx.err(b.span(), "search.beam", "must be at least 1", None));
                }
                s.beam = *b.get_ref();
            }
        }
    }
    Ok(s)
}

/// Most designs one sweep may enumerate (a grid's combinations, or random and guided search's
/// `points`): a million evaluations is already days of compute, and enumerating more would
/// exhaust memory before the first point runs (found by hardening: `points = 10^12` and a
/// three-parameter grid of 7 × 10^14 combinations hung instead of failing).
pub const MAX_POINTS: u64 = 1_000_000;

/// A grid evaluates every combination: their count (the product of the parameters' levels)
/// must stay within [`MAX_POINTS`]; the error points at the parameter that crosses it.
fn check_grid_size(cx: &Ctx<'_>, params: &[Param]) -> Result<(), Error> {
    let mut total: u64 = 1;
    for p in params {
        if let Domain::Levels(levels) = &p.domain {
            total = total.saturating_mul(levels.len() as u64);
            if total > MAX_POINTS {
                return Err(cx.err(
                    p.span.clone(),
                    &p.label,
                    format!(
                        "the grid has more than {MAX_POINTS} combinations (the product of every \
                         parameter's levels) by this parameter"
                    ),
                    Some("fewer levels, or search.mode = \"random\" with `points`"),
                ));
            }
        }
    }
    Ok(())
}

fn check_discrete(cx: &Ctx<'_>, params: &[Param], mode: &str) -> Result<(), Error> {
    for p in params {
        if let Domain::Uniform { .. } = p.domain {
            return Err(cx.err(
                p.span.clone(),
                &p.label,
                format!("a range without `step` or `factor` has no levels for a {mode} search"),
                Some("add step = ... or factor = ..., or use search.mode = \"random\""),
            ));
        }
    }
    Ok(())
}

fn as_f64(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

fn param(cx: &Ctx<'_>, raw: &Spanned<RawParam>, base: &Base) -> Result<Param, Error> {
    let span = raw.span();
    let r = raw.get_ref();
    let (label, key) = match (&r.key, &r.name) {
        (Some(k), None) => (k.get_ref().clone(), Some(k)),
        (None, Some(n)) => (n.get_ref().clone(), None),
        (Some(k), Some(_)) => {
            return Err(cx.err(
                k.span(),
                "param.key",
                "give either `key` (one chip key) or `name` (a bundle of keys per value), not both",
                None,
            ));
        }
        (None, None) => {
            return Err(cx.err(
                span,
                "param",
                "a parameter needs `key` (a dotted chip key) or `name` (values are tables of keys)",
                Some("e.g. key = \"clock_mhz\", values = [1000, 1400]"),
            ));
        }
    };
    // `from_range`: the values are a range's levels, all of one type, so checking the first
    // and last against the chip format is enough (each check loads a whole chip; 10^5 of them
    // took minutes). Duplicates in a list of values are found through a set (a pairwise scan
    // of 10^5 levels hung); a range's levels arrive already deduplicated (they never decrease,
    // so equal ones are neighbours and are merged below), and skipping the set there keeps a
    // file of three 90,000-level ranges from spending over a second on formatted set keys
    // before the grid bound refuses it (found by fuzzing).
    let levels_of = |values: &[(toml::Value, std::ops::Range<usize>)],
                     from_range: bool|
     -> Result<Vec<Level>, Error> {
        let mut out = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, (v, vspan)) in values.iter().enumerate() {
            let level = match key {
                Some(k) => {
                    let mut m = BTreeMap::new();
                    m.insert(k.get_ref().clone(), v.clone());
                    m
                }
                None => match v {
                    toml::Value::Table(t) if !t.is_empty() => {
                        t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
                    }
                    _ => {
                        return Err(cx.err(
                            vspan.clone(),
                            &format!("param.{label}"),
                            "a named parameter's values are tables of dotted chip keys",
                            Some("e.g. values = [{ \"memory.stacks\" = 2, \"memory.capacity_bytes\" = 34359738368 }]"),
                        ));
                    }
                },
            };
            if !from_range || i == 0 || i + 1 == values.len() {
                check_level(
                    cx,
                    base,
                    &label,
                    &level,
                    vspan.clone(),
                    key.map(|k| k.span()),
                )?;
            }
            if !from_range && !seen.insert(format!("{level:?}")) {
                return Err(cx.err(
                    vspan.clone(),
                    &format!("param.{label}"),
                    "this value is listed twice",
                    None,
                ));
            }
            out.push(Level { keys: level });
        }
        Ok(out)
    };
    let domain = match (&r.values, &r.range) {
        (Some(values), None) => {
            if values.get_ref().is_empty() {
                return Err(cx.err(
                    values.span(),
                    &format!("param.{label}.values"),
                    "lists no value",
                    None,
                ));
            }
            let vs: Vec<_> = values
                .get_ref()
                .iter()
                .map(|v| (v.get_ref().clone(), v.span()))
                .collect();
            Domain::Levels(levels_of(&vs, false)?)
        }
        (None, Some(range)) => {
            let Some(k) = key else {
                return Err(cx.err(
                    range.span(),
                    &format!("param.{label}.range"),
                    "a range needs a single `key`; a named parameter lists its values",
                    None,
                ));
            };
            let rr = range.get_ref();
            let num = |v: &Spanned<toml::Value>, what: &str| -> Result<f64, Error> {
                as_f64(v.get_ref()).ok_or_else(|| {
                    cx.err(
                        v.span(),
                        &format!("param.{label}.range.{what}"),
                        format!("`{what}` must be a number"),
                        None,
                    )
                })
            };
            let from = num(&rr.from, "from")?;
            let to = num(&rr.to, "to")?;
            if to < from {
                return Err(cx.err(
                    rr.to.span(),
                    &format!("param.{label}.range.to"),
                    format!("`to` ({to}) is below `from` ({from})"),
                    None,
                ));
            }
            let integer = matches!(rr.from.get_ref(), toml::Value::Integer(_))
                && matches!(rr.to.get_ref(), toml::Value::Integer(_))
                && rr
                    .step
                    .as_ref()
                    .is_none_or(|s| matches!(s.get_ref(), toml::Value::Integer(_)));
            let mk = |x: f64| -> toml::Value {
                if integer {
                    toml::Value::Integer(x.round() as i64)
                } else {
                    toml::Value::Float(x)
                }
            };
            let values: Vec<f64> = match (&rr.step, &rr.factor) {
                (Some(_), Some(f)) => {
                    return Err(cx.err(
                        f.span(),
                        &format!("param.{label}.range"),
                        "give `step` or `factor`, not both",
                        None,
                    ));
                }
                (Some(s), None) => {
                    let step = num(s, "step")?;
                    if step <= 0.0 {
                        return Err(cx.err(
                            s.span(),
                            &format!("param.{label}.range.step"),
                            "must be positive",
                            None,
                        ));
                    }
                    let n = ((to - from) / step + 1e-9).floor() as u64 + 1;
                    if n > 100_000 {
                        return Err(cx.err(
                            s.span(),
                            &format!("param.{label}.range.step"),
                            format!("{n} levels: at most 100000"),
                            None,
                        ));
                    }
                    (0..n).map(|i| from + i as f64 * step).collect()
                }
                (None, Some(f)) => {
                    let factor = num(f, "factor")?;
                    if factor <= 1.0 || from <= 0.0 {
                        return Err(cx.err(
                            f.span(),
                            &format!("param.{label}.range.factor"),
                            "a geometric range needs factor > 1 and from > 0",
                            None,
                        ));
                    }
                    let mut v = Vec::new();
                    let mut x = from;
                    while x <= to * (1.0 + 1e-9) && v.len() < 100_000 {
                        v.push(x);
                        x *= factor;
                    }
                    v
                }
                (None, None) => {
                    check_level(
                        cx,
                        base,
                        &label,
                        &BTreeMap::from([(k.get_ref().clone(), mk(from))]),
                        rr.from.span(),
                        Some(k.span()),
                    )?;
                    check_level(
                        cx,
                        base,
                        &label,
                        &BTreeMap::from([(k.get_ref().clone(), mk(to))]),
                        rr.to.span(),
                        Some(k.span()),
                    )?;
                    return Ok(Param {
                        label,
                        span,
                        domain: Domain::Uniform {
                            key: k.get_ref().clone(),
                            from,
                            to,
                            integer,
                        },
                    });
                }
            };
            // Range levels are monotonic, so values that round to the same integer are adjacent.
            let mut vs: Vec<(toml::Value, std::ops::Range<usize>)> = Vec::new();
            for x in values {
                let v = mk(x);
                if vs.last().is_none_or(|(w, _)| *w != v) {
                    vs.push((v, range.span()));
                }
            }
            Domain::Levels(levels_of(&vs, true)?)
        }
        (Some(v), Some(_)) => {
            return Err(cx.err(
                v.span(),
                &format!("param.{label}"),
                "give `values` or `range`, not both",
                None,
            ));
        }
        (None, None) => {
            return Err(cx.err(
                span,
                &format!("param.{label}"),
                "a parameter needs `values = [...]` or `range = { from, to, step }`",
                None,
            ));
        }
    };
    Ok(Param {
        label,
        span,
        domain,
    })
}

/// A level must name keys the chip format knows, with values of the right type: applied alone
/// to the base, the chip must not fail with a format error (physical problems are fine: they
/// make points infeasible, not the sweep file wrong).
fn check_level(
    cx: &Ctx<'_>,
    base: &Base,
    label: &str,
    level: &BTreeMap<String, toml::Value>,
    span: std::ops::Range<usize>,
    key_span: Option<std::ops::Range<usize>>,
) -> Result<(), Error> {
    let mut doc = base.doc.clone();
    for (k, v) in level {
        crate::space::assign(&mut doc, k, v.clone()).map_err(|m| {
            cx.err(
                key_span.clone().unwrap_or(span.clone()),
                &format!("param.{label}"),
                m,
                None,
            )
        })?;
    }
    let text = toml::to_string(&doc).expect("internal error: a TOML table serializes");
    if let Err(seedchip_chip::Error::Format { key, message, .. }) =
        seedchip_chip::from_toml_str(&text, "point")
    {
        // A key the chip format lacks is the `key = ...` line's fault, not the value's.
        let span = match key_span {
            Some(k) if message.starts_with("unknown field") => k,
            _ => span,
        };
        return Err(cx.err(
            span,
            &format!("param.{label}"),
            format!("chip key `{key}`: {message}"),
            Some("parameters are dotted chip keys (`seedchip chip schema` prints them), e.g. cores.matrix_units[0].rows"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by hardening: `points = 10^12` and a grid of 90,000³ combinations hung (the
    /// second in quadratic duplicate checks and a chip load per range level); both are now
    /// refused at once with the key and the bound.
    #[test]
    fn oversized_sweeps_are_refused_quickly() {
        let head = "[base]\nchip = \"seedchip-v1\"\n[[model]]\nname = \"rm1\"\nbatches = [8]\n";
        let random = format!(
            "{head}[search]\nmode = \"random\"\npoints = 1000000000000\n[[param]]\n\
             key = \"process.tdp_w\"\nrange = {{ from = 100.0, to = 150.0 }}\n"
        );
        let e = parse(&random, "r.toml", None).unwrap_err().to_string();
        assert!(
            e.contains("search.points") && e.contains("at most 1000000"),
            "{e}"
        );
        let grid = format!(
            "{head}[[param]]\nkey = \"process.tdp_w\"\n\
             range = {{ from = 1.0, to = 90000.0, step = 1.0 }}\n[[param]]\nkey = \"clock_mhz\"\n\
             range = {{ from = 1.0, to = 90000.0, step = 1.0 }}\n"
        );
        let e = parse(&grid, "g.toml", None).unwrap_err().to_string();
        assert!(
            e.contains("clock_mhz") && e.contains("more than 1000000"),
            "{e}"
        );
        // Found by fuzzing: three such ranges spent over a second (release build) on the
        // duplicate set before the bound applied; range levels now skip the set, and the error
        // names the parameter that crosses the bound.
        let three = format!(
            "{grid}[[param]]\nkey = \"process.node_nm\"\nrange = {{ from = 1, to = 90000, step = 1 }}\n"
        );
        let e = parse(&three, "t.toml", None).unwrap_err().to_string();
        assert!(
            e.contains("t.toml:") && e.contains("clock_mhz") && e.contains("more than 1000000"),
            "{e}"
        );
        // A large range within the bounds still parses, every level present.
        let big = format!(
            "{head}[[param]]\nkey = \"process.tdp_w\"\n\
             range = {{ from = 1.0, to = 90000.0, step = 1.0 }}\n"
        );
        let spec = parse(&big, "b.toml", None).unwrap();
        assert!(matches!(&spec.params[0].domain, Domain::Levels(l) if l.len() == 90_000));
    }
}
