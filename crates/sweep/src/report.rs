//! `sweep report`: from a results file, the Pareto set over the chosen objectives, 2-D fronts,
//! the best design per objective and what limits it (the simulator's busy figures and roofline
//! bound per model), sensitivities (each parameter's levels against each objective), and the
//! reasons points were infeasible; as JSON and as a self-contained HTML page.

use std::collections::BTreeMap;

use seedchip_report::html::{Page, Table};
use seedchip_report::num::fmt_num;
use seedchip_report::svg::{Axis, Series, XyChart};
use serde::Serialize;

use crate::SCHEMA_VERSION;
use crate::eval::{ChipFigures, Record};
use crate::spec::Objective;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub sweep: String,
    pub points: usize,
    pub feasible: usize,
    /// Infeasible points by the stage that rejected them.
    pub infeasible: BTreeMap<String, usize>,
    /// One example reason per stage.
    pub infeasible_examples: BTreeMap<String, String>,
    pub objectives: Vec<ObjectiveInfo>,
    /// Designs no other design beats on every objective, best first by the first objective.
    pub pareto: Vec<Design>,
    /// Best design per objective.
    pub best: BTreeMap<String, Design>,
    /// Limiter → how many Pareto designs it limits.
    pub pareto_limiters: BTreeMap<String, usize>,
    /// Sentences naming what limits the best designs.
    pub findings: Vec<String>,
    pub sensitivity: Vec<Sensitivity>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectiveInfo {
    pub name: String,
    pub maximize: bool,
    pub unit: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Design {
    pub id: String,
    pub params: BTreeMap<String, serde_json::Value>,
    pub objectives: BTreeMap<String, f64>,
    pub limiter: String,
    pub chip: Option<ChipFigures>,
    /// Per model: the batch it is judged at and what limits that run.
    pub models: BTreeMap<String, ModelLimit>,
    /// Per model with a `serve_qps`: the serving simulation's latency figures.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub serving: BTreeMap<String, crate::eval::Serving>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelLimit {
    pub batch: u32,
    pub limiter: String,
    pub roofline_bound: String,
    pub roofline_fraction: f64,
    pub busy: BTreeMap<String, f64>,
    pub micro_batch: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sensitivity {
    pub param: String,
    pub levels: Vec<LevelStat>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LevelStat {
    pub value: serde_json::Value,
    pub points: usize,
    pub feasible: usize,
    /// Objective → best value among feasible points at this level.
    pub best: BTreeMap<String, f64>,
    /// Objective → median among feasible points at this level.
    pub median: BTreeMap<String, f64>,
}

fn better(o: Objective, a: f64, b: f64) -> bool {
    if o.maximize() { a > b } else { a < b }
}

fn value(r: &Record, o: Objective) -> f64 {
    r.objectives.get(o.name()).copied().unwrap_or(f64::NAN)
}

/// Whether `a` dominates `b`: no worse on every objective, better on one.
fn dominates(a: &Record, b: &Record, objs: &[Objective]) -> bool {
    let mut strictly = false;
    for &o in objs {
        let (x, y) = (value(a, o), value(b, o));
        if better(o, y, x) {
            return false;
        }
        if better(o, x, y) {
            strictly = true;
        }
    }
    strictly
}

/// Indices of the non-dominated records.
pub fn pareto(records: &[&Record], objs: &[Objective]) -> Vec<usize> {
    (0..records.len())
        .filter(|&i| {
            !records
                .iter()
                .enumerate()
                .any(|(j, r)| j != i && dominates(r, records[i], objs))
        })
        .collect()
}

fn design(r: &Record) -> Design {
    let mut models = BTreeMap::new();
    for (m, b) in &r.chosen {
        if let Some(run) = r.runs.iter().find(|x| &x.model == m && x.batch == *b) {
            models.insert(
                m.clone(),
                ModelLimit {
                    batch: *b,
                    limiter: run.limiter.clone(),
                    roofline_bound: run.roofline_bound.clone(),
                    roofline_fraction: run.roofline_fraction,
                    busy: run.busy.clone(),
                    micro_batch: run.micro_batch,
                },
            );
        }
    }
    Design {
        id: r.id.clone(),
        params: r.params.clone(),
        objectives: r.objectives.clone(),
        limiter: r.limiter.clone().unwrap_or_default(),
        chip: r.chip.clone(),
        models,
        serving: r.serving.clone(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

fn limiter_phrase(l: &str) -> &'static str {
    match l {
        "compute" => "compute (the matrix units are the busiest resource)",
        "vector" => "the vector units",
        "memory_bandwidth" => "off-chip memory bandwidth",
        "gather" => "the gather engines (embedding lookups)",
        "shared_sram_bandwidth" => "shared-SRAM bandwidth",
        "sram_capacity" => {
            "SRAM capacity (the batch is split into micro-batches and no unit is saturated)"
        }
        "latency" => "latency (no resource is a quarter busy: too small a batch to fill the chip)",
        _ => "an unclassified resource",
    }
}

/// Builds the report from the records of one sweep.
pub fn build(records: &[Record], objectives: &[Objective]) -> Report {
    let feasible: Vec<&Record> = records.iter().filter(|r| r.feasible).collect();
    let mut infeasible = BTreeMap::new();
    let mut examples = BTreeMap::new();
    for r in records.iter().filter(|r| !r.feasible) {
        let stage = r.stage.clone().unwrap_or_else(|| "unknown".into());
        *infeasible.entry(stage.clone()).or_insert(0) += 1;
        examples
            .entry(stage)
            .or_insert_with(|| format!("{}: {}", r.id, r.reason.clone().unwrap_or_default()));
    }
    let first = objectives[0];
    let mut front: Vec<&Record> = pareto(&feasible, objectives)
        .into_iter()
        .map(|i| feasible[i])
        .collect();
    front.sort_by(|a, b| {
        let (x, y) = (value(a, first), value(b, first));
        let ord = if first.maximize() {
            y.total_cmp(&x)
        } else {
            x.total_cmp(&y)
        };
        ord.then(a.id.cmp(&b.id))
    });
    let mut best = BTreeMap::new();
    for &o in objectives {
        let b = feasible
            .iter()
            .copied()
            .fold(None::<&Record>, |acc, r| match acc {
                Some(a) if !better(o, value(r, o), value(a, o)) => Some(a),
                _ => Some(r),
            });
        if let Some(b) = b {
            best.insert(o.name().to_string(), design(b));
        }
    }
    let mut pareto_limiters = BTreeMap::new();
    for r in &front {
        *pareto_limiters
            .entry(r.limiter.clone().unwrap_or_default())
            .or_insert(0) += 1;
    }
    let mut findings = Vec::new();
    for &o in objectives {
        if let Some(d) = best.get(o.name()) {
            let per_model: Vec<String> = d
                .models
                .iter()
                .map(|(m, l)| {
                    format!(
                        "{m} at batch {} is limited by {} ({}-bound roofline, {:.0}% of it reached)",
                        l.batch,
                        limiter_phrase(&l.limiter),
                        l.roofline_bound,
                        100.0 * l.roofline_fraction
                    )
                })
                .collect();
            findings.push(format!(
                "Best {} ({} {}): design {} is limited by {}; {}.",
                o.name(),
                fmt_num(value_of(d, o)),
                o.unit(),
                d.id,
                limiter_phrase(&d.limiter),
                per_model.join("; ")
            ));
        }
    }
    if !front.is_empty() {
        let parts: Vec<String> = pareto_limiters
            .iter()
            .map(|(l, n)| format!("{n} by {}", limiter_phrase(l)))
            .collect();
        findings.push(format!(
            "Of the {} Pareto-optimal designs, {}.",
            front.len(),
            parts.join(", ")
        ));
    }
    let sensitivity = sensitivity(records, objectives);
    Report {
        schema_version: SCHEMA_VERSION,
        sweep: records.first().map(|r| r.sweep.clone()).unwrap_or_default(),
        points: records.len(),
        feasible: feasible.len(),
        infeasible,
        infeasible_examples: examples,
        objectives: objectives
            .iter()
            .map(|o| ObjectiveInfo {
                name: o.name().into(),
                maximize: o.maximize(),
                unit: o.unit().into(),
            })
            .collect(),
        pareto: front.into_iter().map(design).collect(),
        best,
        pareto_limiters,
        findings,
        sensitivity,
    }
}

fn value_of(d: &Design, o: Objective) -> f64 {
    d.objectives.get(o.name()).copied().unwrap_or(f64::NAN)
}

fn sensitivity(records: &[Record], objectives: &[Objective]) -> Vec<Sensitivity> {
    let mut params: Vec<String> = records
        .iter()
        .flat_map(|r| r.params.keys().cloned())
        .collect();
    params.sort();
    params.dedup();
    let mut out = Vec::new();
    for p in params {
        // Level key: the level index when known, else the value's JSON text.
        let mut groups: BTreeMap<(usize, String), (serde_json::Value, Vec<&Record>)> =
            BTreeMap::new();
        for r in records {
            let Some(v) = r.params.get(&p) else { continue };
            let key = (
                r.levels.get(&p).copied().unwrap_or(usize::MAX),
                if r.levels.contains_key(&p) {
                    String::new()
                } else {
                    v.to_string()
                },
            );
            groups
                .entry(key)
                .or_insert_with(|| (v.clone(), Vec::new()))
                .1
                .push(r);
        }
        let levels = groups
            .into_values()
            .map(|(value, rs)| {
                let feas: Vec<&&Record> = rs.iter().filter(|r| r.feasible).collect();
                let mut best = BTreeMap::new();
                let mut med = BTreeMap::new();
                for &o in objectives {
                    let vals: Vec<f64> = feas.iter().map(|r| value_of_r(r, o)).collect();
                    if vals.is_empty() {
                        continue;
                    }
                    let b = vals
                        .iter()
                        .copied()
                        .fold(vals[0], |a, x| if better(o, x, a) { x } else { a });
                    best.insert(o.name().to_string(), b);
                    med.insert(o.name().to_string(), median(vals));
                }
                LevelStat {
                    value,
                    points: rs.len(),
                    feasible: feas.len(),
                    best,
                    median: med,
                }
            })
            .collect();
        out.push(Sensitivity { param: p, levels });
    }
    out
}

fn value_of_r(r: &Record, o: Objective) -> f64 {
    value(r, o)
}

fn short(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), fmt_num),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn params_text(p: &BTreeMap<String, serde_json::Value>) -> String {
    p.iter()
        .map(|(k, v)| format!("{k}={}", short(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The HTML page of a report (self-contained: inline CSS and SVG).
pub fn html(report: &Report, records: &[Record]) -> String {
    let mut page = Page::new(&format!("Sweep report ({})", report.sweep));
    page.heading(1, "Design-space sweep");
    page.paragraph(&format!(
        "{} points, {} feasible. Objectives: {}.",
        report.points,
        report.feasible,
        report
            .objectives
            .iter()
            .map(|o| format!(
                "{} ({}, {})",
                o.name,
                if o.maximize { "max" } else { "min" },
                o.unit
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    page.heading(2, "What limits the best designs");
    for f in &report.findings {
        page.paragraph(f);
    }
    page.heading(2, "Best design per objective");
    let mut t = Table::new(vec![
        "objective".into(),
        "value".into(),
        "design".into(),
        "limited by".into(),
        "parameters".into(),
    ]);
    for (name, d) in &report.best {
        t.row(vec![
            name.clone(),
            fmt_num(d.objectives.get(name).copied().unwrap_or(f64::NAN)),
            d.id.clone(),
            d.limiter.clone(),
            params_text(&d.params),
        ]);
    }
    page.table(&t);

    let objs: Vec<Objective> = report
        .objectives
        .iter()
        .filter_map(|o| Objective::parse(&o.name))
        .collect();
    let feasible: Vec<&Record> = records.iter().filter(|r| r.feasible).collect();
    for (i, &x) in objs.iter().enumerate() {
        for &y in &objs[i + 1..] {
            let all: Vec<(f64, f64)> = feasible
                .iter()
                .map(|r| (value(r, x), value(r, y)))
                .collect();
            let front_idx = pareto(&feasible, &[x, y]);
            let mut front: Vec<(f64, f64)> = front_idx.iter().map(|&k| all[k]).collect();
            front.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut chart = XyChart::new(
                &format!("{} vs {}", y.name(), x.name()),
                Axis::log(&format!("{} ({})", x.name(), x.unit())),
                Axis::log(&format!("{} ({})", y.name(), y.unit())),
            );
            chart.series.push(Series::points("feasible designs", all));
            chart
                .series
                .push(Series::line_points("Pareto front", front));
            page.figure(
                &format!("front-{}-{}", x.name(), y.name()),
                &format!("Pareto front of {} against {}.", y.name(), x.name()),
                &chart.to_svg(),
            );
        }
    }
    page.heading(2, "Pareto-optimal designs");
    let mut header = vec!["design".to_string()];
    header.extend(objs.iter().map(|o| o.name().to_string()));
    header.push("limited by".into());
    header.push("parameters".into());
    let mut t = Table::new(header);
    for d in &report.pareto {
        let mut row = vec![d.id.clone()];
        row.extend(objs.iter().map(|o| fmt_num(value_of(d, *o))));
        row.push(d.limiter.clone());
        row.push(params_text(&d.params));
        t.row(row);
    }
    page.table(&t);

    page.heading(2, "Sensitivity");
    page.note("Best and median of the first objective among feasible designs at each level of a parameter.");
    let first = objs[0];
    for s in &report.sensitivity {
        let numeric = s.levels.iter().all(|l| l.value.is_number());
        let pts = |f: &dyn Fn(&LevelStat) -> Option<f64>| -> Vec<(f64, f64)> {
            s.levels
                .iter()
                .enumerate()
                .filter_map(|(i, l)| {
                    let x = if numeric { l.value.as_f64()? } else { i as f64 };
                    Some((x, f(l)?))
                })
                .collect()
        };
        let best = pts(&|l| l.best.get(first.name()).copied());
        let med = pts(&|l| l.median.get(first.name()).copied());
        if best.is_empty() {
            continue;
        }
        let x_label = if numeric {
            s.param.clone()
        } else {
            format!("{} (level)", s.param)
        };
        let mut chart = XyChart::new(
            &format!("{} by {}", first.name(), s.param),
            Axis::linear(&x_label),
            Axis::linear(&format!("{} ({})", first.name(), first.unit())),
        );
        chart.series.push(Series::line_points("best", best));
        chart.series.push(Series::line_points("median", med));
        page.figure(
            &format!("sensitivity-{}", s.param.replace(['.', '[', ']'], "-")),
            &format!("{} by level of {}.", first.name(), s.param),
            &chart.to_svg(),
        );
    }
    if !report.infeasible.is_empty() {
        page.heading(2, "Infeasible points");
        let mut t = Table::new(vec!["stage".into(), "points".into(), "example".into()]);
        for (stage, n) in &report.infeasible {
            t.row(vec![
                stage.clone(),
                n.to_string(),
                report
                    .infeasible_examples
                    .get(stage)
                    .cloned()
                    .unwrap_or_default(),
            ]);
        }
        page.table(&t);
    }
    page.finish()
}
