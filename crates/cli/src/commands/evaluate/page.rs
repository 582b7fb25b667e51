//! `index.html` of `evaluate`, built from the JSON document alone: every number on the page is
//! `fmt_num` of a number in `report.json` (axis tick labels aside), which the CLI test checks.

use std::collections::BTreeMap;

use seedchip_report::html::{Page, Table};
use seedchip_report::num::fmt_num;
use seedchip_report::svg::{Axis, BarChart, Series, Timeline, XyChart, color};

use super::{EvalDoc, ModelDoc};
use crate::commands::measure::Row;

fn opt(v: Option<f64>) -> String {
    v.map(fmt_num).unwrap_or_else(|| "n/a".into())
}

/// Devices in the order of the results (chip first).
fn devices(m: &ModelDoc) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &m.results {
        if !out.contains(&r.device) {
            out.push(r.device.clone());
        }
    }
    out
}

fn rows_of<'a>(m: &'a ModelDoc, device: &str) -> Vec<&'a Row> {
    m.results.iter().filter(|r| r.device == device).collect()
}

fn row_table(id: &str, rows: &[Row]) -> Table {
    let mut t = Table::new(
        [
            "device",
            "kind",
            "batch",
            "latency (ms)",
            "samples/s",
            "avg power (W)",
            "J/sample",
            "samples/s/W",
            "unit cost (USD)",
            "USD per million samples",
            "bound",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    )
    .with_id(id);
    for r in rows {
        t.row(vec![
            match r.stack {
                Some(s) => format!("{} ({s})", r.device),
                None => r.device.clone(),
            },
            r.kind.to_string(),
            fmt_num(f64::from(r.batch)),
            fmt_num(r.latency_ms),
            fmt_num(r.samples_per_s),
            opt(r.avg_power_w),
            opt(r.joules_per_sample),
            opt(r.samples_per_s_per_watt),
            opt(r.unit_cost_usd),
            opt(r.usd_per_million_samples),
            r.bound.clone(),
        ]);
    }
    t
}

fn model_section(page: &mut Page, doc: &EvalDoc, i: usize, m: &ModelDoc) {
    page.heading(2, &m.model);
    page.paragraph(&format!(
        "Every device at batch {} ({} on every device; peers on the {} stack).",
        fmt_num(f64::from(doc.detail_batch)),
        doc.precision,
        doc.stack
    ));
    page.table(&row_table(&format!("summary-{i}"), &m.summary));
    let devs = devices(m);

    let mut lat = XyChart::new(
        &format!("{}: latency vs batch", m.model),
        Axis::log("batch (samples)"),
        Axis::log("latency of one batch (ms)"),
    );
    for d in &devs {
        let pts = rows_of(m, d)
            .iter()
            .map(|r| (f64::from(r.batch), r.latency_ms))
            .collect();
        lat.series.push(Series::line_points(d, pts));
    }
    page.figure(
        &format!("latency-{i}"),
        "Latency of one batch, end to end, at each batch size (simulated chip: compile + timing \
         simulator; peers: calibrated analytic model).",
        &lat.to_svg(),
    );

    let mut thr = XyChart::new(
        &format!("{}: throughput vs latency", m.model),
        Axis::log("latency of one batch (ms)"),
        Axis::log("samples/s"),
    );
    for d in &devs {
        let pts = rows_of(m, d)
            .iter()
            .map(|r| (r.latency_ms, r.samples_per_s))
            .collect();
        thr.series.push(Series::line_points(d, pts));
    }
    page.figure(
        &format!("throughput-{i}"),
        "Throughput against latency as the batch grows (each point one batch size): up and to \
         the left is better.",
        &thr.to_svg(),
    );

    let rl = &m.roofline;
    let mut roof = XyChart::new(
        &format!(
            "{}: roofline, batch {}",
            m.model,
            fmt_num(f64::from(rl.batch))
        ),
        Axis::log("operational intensity (ops/byte)"),
        Axis::log("attained ops/s"),
    );
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for l in &rl.layers {
        lo = lo.min(l.ops_per_byte);
        hi = hi.max(l.ops_per_byte);
    }
    for r in &rl.roofs {
        lo = lo.min(r.ridge_ops_per_byte);
        hi = hi.max(r.ridge_ops_per_byte);
    }
    let (lo, hi) = if lo.is_finite() && hi > 0.0 {
        (lo / 4.0, hi * 4.0)
    } else {
        (0.1, 1e4)
    };
    let dev_index: BTreeMap<&str, usize> = devs
        .iter()
        .enumerate()
        .map(|(k, d)| (d.as_str(), k))
        .collect();
    for r in &rl.roofs {
        let c = color(dev_index.get(r.device.as_str()).copied().unwrap_or(0));
        let pts = vec![
            (lo, r.bandwidth_bytes_per_s * lo),
            (r.ridge_ops_per_byte, r.peak_ops_per_s),
            (hi, r.peak_ops_per_s),
        ];
        roof.series
            .push(Series::dashed(&format!("{} roof", r.device), pts).with_color(c));
    }
    for d in &devs {
        let layers: Vec<_> = rl.layers.iter().filter(|l| &l.device == d).collect();
        if layers.is_empty() {
            continue;
        }
        // Label the simulated chip's eight longest layers (more would overlap).
        let mut by_time: Vec<(usize, f64)> = layers
            .iter()
            .enumerate()
            .map(|(k, l)| (k, l.busy_us))
            .collect();
        by_time.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let labelled: Vec<usize> = if d == &doc.chip {
            by_time.iter().take(8).map(|x| x.0).collect()
        } else {
            Vec::new()
        };
        let labels = (0..layers.len())
            .map(|k| {
                if labelled.contains(&k) {
                    layers[k].layer.clone()
                } else {
                    String::new()
                }
            })
            .collect();
        let c = color(dev_index.get(d.as_str()).copied().unwrap_or(0));
        roof.series.push(
            Series::points(
                &format!("{d} layers"),
                layers
                    .iter()
                    .map(|l| (l.ops_per_byte, l.attained_ops_per_s))
                    .collect(),
            )
            .with_labels(labels)
            .with_color(c),
        );
    }
    page.figure(
        &format!("roofline-{i}"),
        "Roofline: each device's compute and memory roofs (dashed) and its layers placed at \
         their operational intensity and attained rate. Chip layers: IR work over weight and \
         embedding-row bytes, timed by the union of their instructions' busy intervals in the \
         simulator trace. Peer layers: the analytic model's kernels (fused layers omitted). \
         Layers with no off-chip bytes are not placed.",
        &roof.to_svg(),
    );

    let en = &m.energy;
    let mut comps: Vec<String> = Vec::new();
    for d in &en.devices {
        for k in d.components_j_per_sample.keys() {
            if !comps.contains(k) {
                comps.push(k.clone());
            }
        }
    }
    let mut bars = BarChart::new(
        &format!(
            "{}: energy per sample, batch {}",
            m.model,
            fmt_num(f64::from(en.batch))
        ),
        en.devices.iter().map(|d| d.device.clone()).collect(),
        Axis::linear("J per sample"),
        true,
    );
    for c in &comps {
        bars.push(
            c,
            en.devices
                .iter()
                .map(|d| d.components_j_per_sample.get(c).copied().unwrap_or(0.0))
                .collect(),
        );
    }
    page.figure(
        &format!("energy-{i}"),
        "Energy per sample: the simulated chip by energy-model component (static power \
         included); peers as one activity-scaled TDP figure.",
        &bars.to_svg(),
    );

    let tl = &m.timeline;
    let mut timeline = Timeline::new(
        &format!(
            "{}: {} unit activity, one batch of {}",
            m.model,
            tl.device,
            fmt_num(f64::from(tl.batch))
        ),
        "time from batch start (µs)",
    );
    timeline.x_max = Some(tl.latency_us);
    for l in &tl.lanes {
        timeline.push(
            &l.name,
            l.intervals_us.iter().map(|iv| (iv[0], iv[1])).collect(),
        );
    }
    page.figure(
        &format!("timeline-{i}"),
        "Per-unit busy intervals of one batch from the timing simulator's trace (a lane per \
         core queue and engine).",
        &timeline.to_svg(),
    );

    page.raw("<details><summary>All batch sizes</summary>");
    page.table(&row_table(&format!("results-{i}"), &m.results));
    page.raw("</details>\n");
}

/// The page.
pub fn render(doc: &EvalDoc) -> String {
    let mut page = Page::new(&format!("seedchip evaluate: {}", doc.chip));
    page.heading(1, &format!("{} against {}", doc.chip, doc.peers.join(", ")));
    page.paragraph(&format!(
        "Models: {}. Precision {}; peers on the {} software stack; the chip's off-chip memory \
         model: {}; seed {}. The full data is in report.json next to this page.",
        doc.models
            .iter()
            .map(|m| m.model.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        doc.precision,
        doc.stack,
        doc.memory,
        doc.seed
    ));
    let a = &doc.cost_assumptions;
    page.note(&format!(
        "USD per million samples = unit cost amortized over {} years at the measured throughput \
         and {} utilization, plus energy × PUE {} at {} USD/kWh. Unit cost: the chip's estimated \
         build cost; peers' public prices where known (n/a otherwise). See docs/evaluate.md.",
        fmt_num(a.lifetime_years),
        fmt_num(a.utilization),
        fmt_num(a.pue),
        fmt_num(a.usd_per_kwh)
    ));
    for (i, m) in doc.models.iter().enumerate() {
        model_section(&mut page, doc, i, m);
    }
    page.finish()
}
