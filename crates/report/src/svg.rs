//! SVG charts as strings: [`XyChart`] (lines, points, log or linear axes, point labels),
//! [`BarChart`] (grouped or stacked) and [`Timeline`] (busy intervals per lane).
//!
//! Conventions every chart keeps (the HTML check script and the report tests rely on them):
//! - one root `<svg class="plot" ...>` with a `viewBox`, no external references, no scripts;
//! - every data mark (line, point, bar, interval) has `class="mark"`; a chart with no data draws
//!   none and says "no data" instead;
//! - axis tick labels have `class="tick"` and are formatted by [`fmt_tick`]; every other number
//!   (point tooltips, bar tooltips) is formatted by [`fmt_num`] from the value given;
//! - all text is escaped; coordinates are printed with one decimal, so output is deterministic.
//!
//! Log axes drop non-positive values (they have no place on the axis).

use std::fmt::Write as _;

use crate::escape;
use crate::num::{fmt_num, fmt_tick};

/// Series colors, in order (colour-blind-friendly Tableau 10).
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// The `i`-th palette colour (cycling).
pub fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    /// Base-10 logarithmic; non-positive values are dropped.
    Log10,
}

/// One axis: its label, scale and optional fixed range (otherwise fitted to the data; linear
/// axes then include zero, log axes extend to whole decades).
#[derive(Debug, Clone)]
pub struct Axis {
    pub label: String,
    pub scale: Scale,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

impl Axis {
    pub fn linear(label: &str) -> Axis {
        Axis {
            label: label.into(),
            scale: Scale::Linear,
            min: None,
            max: None,
        }
    }
    pub fn log(label: &str) -> Axis {
        Axis {
            label: label.into(),
            scale: Scale::Log10,
            min: None,
            max: None,
        }
    }
    /// Fixes the axis range instead of fitting it to the data.
    pub fn range(mut self, min: f64, max: f64) -> Axis {
        self.min = Some(min);
        self.max = Some(max);
        self
    }

    fn keeps(&self, v: f64) -> bool {
        v.is_finite() && (self.scale == Scale::Linear || v > 0.0)
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A polyline through the points, in the given order.
    Line,
    /// A dashed polyline (ceilings, reference lines).
    Dashed,
    /// Markers only (with a tooltip each).
    Points,
    /// A polyline and markers.
    LinePoints,
}

/// One named series of (x, y) points.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Empty, or one label per point written next to its marker (e.g. layer names on a
    /// roofline); an empty string leaves a point unlabelled.
    pub labels: Vec<String>,
    /// A CSS colour; `None` takes the palette colour of the series' position.
    pub color: Option<String>,
}

impl Series {
    pub fn new(name: &str, points: Vec<(f64, f64)>, style: Style) -> Series {
        Series {
            name: name.into(),
            points,
            style,
            labels: Vec::new(),
            color: None,
        }
    }
    pub fn line(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series::new(name, points, Style::Line)
    }
    pub fn dashed(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series::new(name, points, Style::Dashed)
    }
    pub fn points(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series::new(name, points, Style::Points)
    }
    pub fn line_points(name: &str, points: Vec<(f64, f64)>) -> Series {
        Series::new(name, points, Style::LinePoints)
    }
    pub fn with_labels(mut self, labels: Vec<String>) -> Series {
        self.labels = labels;
        self
    }
    pub fn with_color(mut self, color: &str) -> Series {
        self.color = Some(color.into());
        self
    }
}

/// Plot geometry shared by the charts: the drawing area inside the margins.
#[derive(Debug, Clone, Copy)]
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

/// A fitted axis: maps values to pixels and lists its ticks.
#[derive(Debug, Clone)]
struct Mapped {
    scale: Scale,
    lo: f64,
    hi: f64,
    p0: f64,
    p1: f64,
}

impl Mapped {
    fn fit(axis: &Axis, values: impl Iterator<Item = f64>, p0: f64, p1: f64) -> Mapped {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| axis.keeps(*v)) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if !lo.is_finite() {
            (lo, hi) = if axis.scale == Scale::Log10 {
                (1.0, 10.0)
            } else {
                (0.0, 1.0)
            };
        }
        match axis.scale {
            Scale::Log10 => {
                lo = 10f64.powf(lo.log10().floor());
                hi = 10f64.powf(hi.log10().ceil());
                if hi <= lo {
                    hi = lo * 10.0;
                }
            }
            Scale::Linear => {
                lo = lo.min(0.0);
                hi = hi.max(0.0);
                if hi <= lo {
                    hi = lo + 1.0;
                }
                let step = nice_step((hi - lo) / 5.0);
                lo = (lo / step).floor() * step;
                hi = (hi / step).ceil() * step;
            }
        }
        if let Some(m) = axis.min.filter(|m| axis.keeps(*m)) {
            lo = m;
        }
        if let Some(m) = axis.max.filter(|m| axis.keeps(*m)) {
            hi = m;
        }
        if hi <= lo {
            hi = if axis.scale == Scale::Log10 {
                lo * 10.0
            } else {
                lo + 1.0
            };
        }
        Mapped {
            scale: axis.scale,
            lo,
            hi,
            p0,
            p1,
        }
    }

    fn t(&self, v: f64) -> f64 {
        match self.scale {
            Scale::Linear => (v - self.lo) / (self.hi - self.lo),
            Scale::Log10 => (v.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10()),
        }
    }

    fn px(&self, v: f64) -> f64 {
        self.p0 + self.t(v) * (self.p1 - self.p0)
    }

    fn ticks(&self) -> Vec<f64> {
        match self.scale {
            Scale::Linear => {
                let step = nice_step((self.hi - self.lo) / 5.0);
                let first = (self.lo / step).ceil() as i64;
                let last = (self.hi / step).floor() as i64;
                (first..=last).map(|i| i as f64 * step).collect()
            }
            Scale::Log10 => {
                let a = self.lo.log10().ceil() as i32;
                let b = self.hi.log10().floor() as i32;
                let decades = (b - a).max(0) as usize;
                if decades <= 1 {
                    // Less than two decades: label 1, 2 and 5 of each.
                    let mut out = Vec::new();
                    for e in (a - 1)..=b {
                        for m in [1.0, 2.0, 5.0] {
                            let v = m * 10f64.powi(e);
                            if v >= self.lo * (1.0 - 1e-9) && v <= self.hi * (1.0 + 1e-9) {
                                out.push(v);
                            }
                        }
                    }
                    out
                } else {
                    let every = decades.div_ceil(8).max(1);
                    (a..=b)
                        .filter(|e| ((e - a) as usize).is_multiple_of(every))
                        .map(|e| 10f64.powi(e))
                        .collect()
                }
            }
        }
    }
}

/// 1, 2 or 5 × 10^k, the smallest not below `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= raw * (1.0 - 1e-9) {
            return m * p;
        }
    }
    10.0 * p
}

fn open_svg(out: &mut String, f: &Frame, title: &str) {
    let _ = write!(
        out,
        "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" \
         width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"{t}\">\
         <text class=\"title\" x=\"{cx:.1}\" y=\"18\" text-anchor=\"middle\">{t}</text>",
        w = f.width,
        h = f.height,
        t = escape(title),
        cx = f.width / 2.0
    );
}

fn axes(out: &mut String, f: &Frame, x: Option<(&Mapped, &str)>, y: (&Mapped, &str)) {
    let (ym, ylabel) = y;
    for t in ym.ticks() {
        let py = ym.px(t);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{:.1}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            f.left,
            f.right,
            f.left - 6.0,
            py + 4.0,
            fmt_tick(t)
        );
    }
    if let Some((xm, xlabel)) = x {
        for t in xm.ticks() {
            let px = xm.px(t);
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"tick\" x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                f.top,
                f.bottom,
                f.bottom + 16.0,
                fmt_tick(t)
            );
        }
        let _ = write!(
            out,
            "<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            (f.left + f.right) / 2.0,
            f.height - 8.0,
            escape(xlabel)
        );
    }
    let _ = write!(
        out,
        "<rect class=\"frame\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>\
         <text class=\"axis-label\" transform=\"translate(16 {:.1}) rotate(-90)\" \
         text-anchor=\"middle\">{}</text>",
        f.left,
        f.top,
        f.right - f.left,
        f.bottom - f.top,
        (f.top + f.bottom) / 2.0,
        escape(ylabel)
    );
}

fn legend(out: &mut String, f: &Frame, entries: &[(String, String, bool)]) {
    let x = f.right + 12.0;
    for (i, (name, col, dashed)) in entries.iter().enumerate() {
        let y = f.top + 8.0 + 18.0 * i as f64;
        let dash = if *dashed {
            " stroke-dasharray=\"5 3\""
        } else {
            ""
        };
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{col}\" \
             stroke-width=\"3\"{dash}/><text class=\"legend\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 18.0,
            x + 24.0,
            y + 4.0,
            escape(name)
        );
    }
}

fn no_data(out: &mut String, f: &Frame) {
    let _ = write!(
        out,
        "<text class=\"no-data\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no data</text>",
        (f.left + f.right) / 2.0,
        (f.top + f.bottom) / 2.0
    );
}

/// Lines and/or points on two axes.
#[derive(Debug, Clone)]
pub struct XyChart {
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub series: Vec<Series>,
    pub width: u32,
    pub height: u32,
}

impl XyChart {
    pub fn new(title: &str, x: Axis, y: Axis) -> XyChart {
        XyChart {
            title: title.into(),
            x,
            y,
            series: Vec::new(),
            width: 680,
            height: 400,
        }
    }

    /// The chart as one `<svg>` element.
    pub fn to_svg(&self) -> String {
        let f = Frame {
            width: self.width as f64,
            height: self.height as f64,
            left: 72.0,
            right: self.width as f64 - 170.0,
            top: 32.0,
            bottom: self.height as f64 - 44.0,
        };
        let kept = |s: &Series| -> Vec<(usize, f64, f64)> {
            s.points
                .iter()
                .enumerate()
                .filter(|(_, (x, y))| self.x.keeps(*x) && self.y.keeps(*y))
                .map(|(i, (x, y))| (i, *x, *y))
                .collect()
        };
        let all: Vec<Vec<(usize, f64, f64)>> = self.series.iter().map(kept).collect();
        let xm = Mapped::fit(&self.x, all.iter().flatten().map(|p| p.1), f.left, f.right);
        let ym = Mapped::fit(&self.y, all.iter().flatten().map(|p| p.2), f.bottom, f.top);
        let mut out = String::new();
        open_svg(&mut out, &f, &self.title);
        axes(
            &mut out,
            &f,
            Some((&xm, &self.x.label)),
            (&ym, &self.y.label),
        );
        let inside = |x: f64, y: f64| {
            let (tx, ty) = (xm.t(x), ym.t(y));
            (-1e-9..=1.0 + 1e-9).contains(&tx) && (-1e-9..=1.0 + 1e-9).contains(&ty)
        };
        let mut entries = Vec::new();
        let mut marks = 0usize;
        for (si, (s, pts)) in self.series.iter().zip(&all).enumerate() {
            let col = s.color.clone().unwrap_or_else(|| color(si).to_string());
            entries.push((s.name.clone(), col.clone(), s.style == Style::Dashed));
            if pts.is_empty() {
                continue;
            }
            let _ = write!(
                out,
                "<g class=\"series\" data-series=\"{}\">",
                escape(&s.name)
            );
            if matches!(s.style, Style::Line | Style::Dashed | Style::LinePoints) && pts.len() > 1 {
                let coords: Vec<String> = pts
                    .iter()
                    .map(|p| format!("{:.1},{:.1}", xm.px(p.1), ym.px(p.2)))
                    .collect();
                let dash = if s.style == Style::Dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                };
                let _ = write!(
                    out,
                    "<polyline class=\"mark\" fill=\"none\" stroke=\"{col}\" stroke-width=\"2\"{dash} \
                     points=\"{}\"/>",
                    coords.join(" ")
                );
                marks += 1;
            }
            if matches!(s.style, Style::Points | Style::LinePoints)
                || (pts.len() == 1 && s.style != Style::Dashed)
            {
                for &(i, x, y) in pts.iter().filter(|p| inside(p.1, p.2)) {
                    let label = s.labels.get(i).filter(|l| !l.is_empty());
                    let name = match label {
                        Some(l) => format!("{} {}", s.name, l),
                        None => s.name.clone(),
                    };
                    let _ = write!(
                        out,
                        "<circle class=\"mark\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{col}\">\
                         <title>{}: {}, {}</title></circle>",
                        xm.px(x),
                        ym.px(y),
                        escape(&name),
                        fmt_num(x),
                        fmt_num(y)
                    );
                    marks += 1;
                    if let Some(l) = label {
                        let _ = write!(
                            out,
                            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                            xm.px(x) + 6.0,
                            ym.px(y) - 5.0,
                            escape(l)
                        );
                    }
                }
            }
            out.push_str("</g>");
        }
        if marks == 0 {
            no_data(&mut out, &f);
        }
        legend(&mut out, &f, &entries);
        out.push_str("</svg>");
        out
    }
}

/// One named series of bar values, one per category.
#[derive(Debug, Clone)]
pub struct BarSeries {
    pub name: String,
    pub values: Vec<f64>,
}

/// Bars per category: side by side (grouped) or on top of each other (stacked).
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub categories: Vec<String>,
    pub series: Vec<BarSeries>,
    /// The value axis. Stacked charts are always linear (a log stack has no meaning).
    pub y: Axis,
    pub stacked: bool,
    pub width: u32,
    pub height: u32,
}

impl BarChart {
    pub fn new(title: &str, categories: Vec<String>, y: Axis, stacked: bool) -> BarChart {
        BarChart {
            title: title.into(),
            categories,
            series: Vec::new(),
            y,
            stacked,
            width: 680,
            height: 400,
        }
    }

    pub fn push(&mut self, name: &str, values: Vec<f64>) {
        self.series.push(BarSeries {
            name: name.into(),
            values,
        });
    }

    /// The chart as one `<svg>` element; each bar (segment) has a tooltip
    /// `category · series: value`.
    pub fn to_svg(&self) -> String {
        let rotate = self.categories.len() > 6;
        let f = Frame {
            width: self.width as f64,
            height: self.height as f64,
            left: 72.0,
            right: self.width as f64 - 170.0,
            top: 32.0,
            bottom: self.height as f64 - if rotate { 90.0 } else { 44.0 },
        };
        let mut y = self.y.clone();
        if self.stacked {
            y.scale = Scale::Linear;
        }
        let value = |s: &BarSeries, c: usize| s.values.get(c).copied().unwrap_or(0.0);
        let extent: Vec<f64> = if self.stacked {
            (0..self.categories.len())
                .map(|c| {
                    self.series
                        .iter()
                        .map(|s| value(s, c))
                        .filter(|v| v.is_finite() && *v > 0.0)
                        .sum()
                })
                .collect()
        } else {
            self.series
                .iter()
                .flat_map(|s| s.values.iter().copied())
                .collect()
        };
        let ym = Mapped::fit(&y, extent.into_iter(), f.bottom, f.top);
        let mut out = String::new();
        open_svg(&mut out, &f, &self.title);
        axes(&mut out, &f, None, (&ym, &y.label));
        let n = self.categories.len().max(1) as f64;
        let slot = (f.right - f.left) / n;
        let base = if y.scale == Scale::Log10 {
            f.bottom
        } else {
            ym.px(0.0)
        };
        let mut marks = 0usize;
        for (c, cat) in self.categories.iter().enumerate() {
            let cx = f.left + slot * (c as f64 + 0.5);
            let (tx, ty) = (cx, f.bottom + 16.0);
            if rotate {
                let _ = write!(
                    out,
                    "<text class=\"category\" transform=\"translate({tx:.1} {ty:.1}) rotate(-35)\" \
                     text-anchor=\"end\">{}</text>",
                    escape(cat)
                );
            } else {
                let _ = write!(
                    out,
                    "<text class=\"category\" x=\"{tx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{}</text>",
                    escape(cat)
                );
            }
            let mut top = base;
            let groups = if self.stacked {
                1.0
            } else {
                self.series.len().max(1) as f64
            };
            let bw = slot * 0.8 / groups;
            for (si, s) in self.series.iter().enumerate() {
                let v = value(s, c);
                if !y.keeps(v) || v <= 0.0 && self.stacked {
                    continue;
                }
                let (x, y0, y1) = if self.stacked {
                    let h = ym.px(0.0) - ym.px(v);
                    let y1 = top - h;
                    let r = (cx - bw / 2.0, y1, top);
                    top = y1;
                    r
                } else {
                    let x = cx - slot * 0.4 + bw * si as f64;
                    let py = ym.px(v).clamp(f.top, f.bottom);
                    (x, py.min(base), py.max(base))
                };
                let _ = write!(
                    out,
                    "<rect class=\"mark\" x=\"{x:.1}\" y=\"{y0:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" \
                     fill=\"{}\"><title>{} · {}: {}</title></rect>",
                    (y1 - y0).max(0.0),
                    color(si),
                    escape(cat),
                    escape(&s.name),
                    fmt_num(v)
                );
                marks += 1;
            }
        }
        if marks == 0 {
            no_data(&mut out, &f);
        }
        let entries: Vec<(String, String, bool)> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), color(i).to_string(), false))
            .collect();
        legend(&mut out, &f, &entries);
        out.push_str("</svg>");
        out
    }
}

/// One lane of a timeline: a name and its busy intervals `[start, end)`.
#[derive(Debug, Clone)]
pub struct Lane {
    pub name: String,
    pub intervals: Vec<(f64, f64)>,
}

/// Busy intervals per lane against a linear time axis (a utilization timeline). Intervals closer
/// than half a pixel are merged when drawn, so the SVG stays small whatever the trace size.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub title: String,
    pub x_label: String,
    pub lanes: Vec<Lane>,
    /// End of the time axis; `None` takes the last interval's end.
    pub x_max: Option<f64>,
    pub width: u32,
}

impl Timeline {
    pub fn new(title: &str, x_label: &str) -> Timeline {
        Timeline {
            title: title.into(),
            x_label: x_label.into(),
            lanes: Vec::new(),
            x_max: None,
            width: 900,
        }
    }

    pub fn push(&mut self, name: &str, intervals: Vec<(f64, f64)>) {
        self.lanes.push(Lane {
            name: name.into(),
            intervals,
        });
    }

    pub fn to_svg(&self) -> String {
        let lane_h = 18.0;
        let left = 150.0;
        let f = Frame {
            width: self.width as f64,
            height: 32.0 + lane_h * self.lanes.len().max(1) as f64 + 44.0,
            left,
            right: self.width as f64 - 20.0,
            top: 32.0,
            bottom: 32.0 + lane_h * self.lanes.len().max(1) as f64,
        };
        let end = self.x_max.unwrap_or_else(|| {
            self.lanes
                .iter()
                .flat_map(|l| l.intervals.iter().map(|i| i.1))
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max)
        });
        let xm = Mapped::fit(
            &Axis::linear(&self.x_label).range(0.0, if end > 0.0 { end } else { 1.0 }),
            std::iter::empty(),
            f.left,
            f.right,
        );
        let mut out = String::new();
        open_svg(&mut out, &f, &self.title);
        for t in xm.ticks() {
            let px = xm.px(t);
            let _ = write!(
                out,
                "<line class=\"grid\" x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\"/>\
                 <text class=\"tick\" x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                f.top,
                f.bottom,
                f.bottom + 16.0,
                fmt_tick(t)
            );
        }
        let _ = write!(
            out,
            "<text class=\"axis-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            (f.left + f.right) / 2.0,
            f.height - 8.0,
            escape(&self.x_label)
        );
        let mut marks = 0usize;
        for (li, lane) in self.lanes.iter().enumerate() {
            let y = f.top + lane_h * li as f64;
            let _ = write!(
                out,
                "<text class=\"lane\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                f.left - 6.0,
                y + lane_h * 0.7,
                escape(&lane.name)
            );
            let mut iv: Vec<(f64, f64)> = lane
                .intervals
                .iter()
                .filter(|(a, b)| a.is_finite() && b.is_finite() && b > a)
                .map(|&(a, b)| (xm.px(a.max(0.0)), xm.px(b.min(end.max(a)))))
                .collect();
            iv.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut merged: Vec<(f64, f64)> = Vec::new();
            for (a, b) in iv {
                match merged.last_mut() {
                    Some(last) if a - last.1 < 0.5 => last.1 = last.1.max(b),
                    _ => merged.push((a, b)),
                }
            }
            let col = color(li);
            for (a, b) in merged {
                let _ = write!(
                    out,
                    "<rect class=\"mark\" x=\"{a:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" \
                     fill=\"{col}\"/>",
                    y + 2.0,
                    (b - a).max(0.5),
                    lane_h - 4.0
                );
                marks += 1;
            }
        }
        let _ = write!(
            out,
            "<rect class=\"frame\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\"/>",
            f.left,
            f.top,
            f.right - f.left,
            f.bottom - f.top
        );
        if marks == 0 {
            no_data(&mut out, &f);
        }
        out.push_str("</svg>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::numbers_in_text;

    fn marks(svg: &str) -> usize {
        svg.matches("class=\"mark\"").count()
    }

    #[test]
    fn log_chart_draws_lines_points_and_decade_ticks() {
        let mut c = XyChart::new("t", Axis::log("batch"), Axis::log("ms"));
        c.series.push(Series::line_points(
            "a<b",
            vec![(1.0, 0.5), (8.0, 2.0), (64.0, 9.0), (0.0, 1.0)],
        ));
        let s = c.to_svg();
        assert_eq!(marks(&s), 1 + 3, "one polyline, three points (x=0 dropped)");
        assert!(s.contains("a&lt;b"));
        for t in ["1", "10", "100"] {
            assert!(s.contains(&format!(">{t}</text>")), "tick {t}");
        }
        assert!(s.contains("<title>a&lt;b: 8, 2</title>"));
        assert_eq!(s, c.to_svg(), "deterministic");
    }

    #[test]
    fn empty_chart_says_no_data() {
        let c = XyChart::new("t", Axis::linear("x"), Axis::linear("y"));
        let s = c.to_svg();
        assert_eq!(marks(&s), 0);
        assert!(s.contains("no data"));
        let b = BarChart::new("b", vec![], Axis::linear("y"), true);
        assert!(b.to_svg().contains("no data"));
        assert!(Timeline::new("t", "us").to_svg().contains("no data"));
    }

    #[test]
    fn labelled_points_and_fixed_ranges() {
        let mut c = XyChart::new(
            "roof",
            Axis::log("op/B"),
            Axis::log("op/s").range(1e9, 1e15),
        );
        c.series
            .push(Series::dashed("roof", vec![(0.1, 1e10), (100.0, 1e14)]));
        c.series.push(
            Series::points("layers", vec![(2.0, 3e11), (50.0, 2e13)])
                .with_labels(vec!["fc1".into(), String::new()]),
        );
        let s = c.to_svg();
        assert_eq!(marks(&s), 3);
        assert!(s.contains(">fc1</text>"));
        assert!(s.contains("stroke-dasharray"));
    }

    #[test]
    fn stacked_bars_stack_and_tooltips_carry_values() {
        let mut b = BarChart::new(
            "energy",
            vec!["chip".into(), "gpu".into()],
            Axis::linear("uJ"),
            true,
        );
        b.push("mxu", vec![1.5, 3.0]);
        b.push("hbm", vec![2.5, 0.0]);
        let s = b.to_svg();
        assert_eq!(marks(&s), 3, "zero segment skipped");
        assert!(s.contains("chip · hbm: 2.5"));
        let mut g = BarChart::new("g", vec!["a".into()], Axis::log("x"), false);
        g.push("s1", vec![10.0]);
        g.push("s2", vec![1000.0]);
        assert_eq!(marks(&g.to_svg()), 2);
    }

    #[test]
    fn timeline_merges_subpixel_intervals() {
        let mut t = Timeline::new("busy", "µs");
        let many: Vec<(f64, f64)> = (0..10_000)
            .map(|i| (i as f64 * 0.01, i as f64 * 0.01 + 0.009))
            .collect();
        t.push("mxu", many);
        t.push("dma", vec![(10.0, 20.0), (50.0, 60.0)]);
        t.x_max = Some(100.0);
        let s = t.to_svg();
        let n = marks(&s);
        assert!(n < 100, "{n} rectangles");
        assert!(n >= 3);
        // Only tick labels carry numbers in a timeline.
        let without_ticks: String = s
            .split("<text class=\"tick\"")
            .map(|p| p.split_once("</text>").map_or(p, |x| x.1))
            .collect();
        let visible: String = without_ticks
            .split('<')
            .filter_map(|p| p.split_once('>').map(|x| x.1))
            .collect();
        assert!(numbers_in_text(&visible).is_empty(), "{visible}");
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(7.0), 10.0);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(1.2), 2.0);
    }
}
