//! Fleet sizing and total cost of ownership for a workload (`seedchip plan`).
//!
//! For each device the workload's pipeline is simulated as a *pod*: every stage's replicas
//! behind one load balancer, the largest stage with `pod_replicas` replicas and the others in
//! proportion to their work. The largest Poisson rate the pod serves within the p99 SLA is
//! found by [`crate::search::max_qps`]; the fleet is enough pods to carry the peak rate with
//! `headroom` left free. Power is provisioned at TDP plus host power, times PUE; energy uses
//! the average draw at the average load (idle power plus the busy increment times
//! utilization). Capex is chips × unit price plus hosts; opex is electricity. TCO = capex +
//! years × opex, spread over every request served in those years.
//!
//! The workload file is TOML with unknown keys rejected; every error names the file,
//! line:column and key. The default workload ships in the binary ([`DEFAULT_WORKLOAD`]); its
//! assumptions and sources are in `docs/serving.md`.

use std::collections::BTreeMap;

use seedchip_chip::Precision;
use seedchip_zoo::CandidateDist;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::arrivals::Arrivals;
use crate::chipsim::TimeOptions;
use crate::device::{Device, DeviceOptions, DeviceService, service};
use crate::engine::{Batching, PairRule, ServeConfig, Stage, describe_dist};
use crate::search::max_qps;
use crate::service::{ServiceTime, Variance};
use crate::shard::Strategy;

/// Version of [`Plan`]'s JSON form.
pub const SCHEMA_VERSION: u32 = 1;
/// The shipped workload: a short-video feed at the seeds' scale.
pub const DEFAULT_WORKLOAD: &str = include_str!("workloads/feed-1b-dau.toml");
pub const DEFAULT_WORKLOAD_NAME: &str = "<default workload feed-1b-dau>";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadFile {
    pub workload: WorkloadSection,
    #[serde(rename = "stage")]
    pub stages: Vec<StageSection>,
    pub fleet: FleetSection,
    pub cost: CostSection,
    /// Unit prices of peers without a published one (or overriding it), USD.
    #[serde(default)]
    pub prices: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSection {
    pub name: String,
    pub daily_active_users: f64,
    /// Ranking requests per user per day (feed refreshes).
    pub requests_per_user_per_day: f64,
    /// Peak-hour rate over the daily mean.
    pub peak_to_average: f64,
    /// End-to-end p99 bound of a request, ms.
    pub sla_p99_ms: f64,
    /// `mlperf`, `K` or `MIN-MAX`.
    #[serde(default = "default_candidates")]
    pub candidates: String,
}

fn default_candidates() -> String {
    "mlperf".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StageSection {
    pub name: String,
    pub model: String,
    #[serde(default = "default_precision")]
    pub precision: String,
    /// `all`, `fixed:N` or `top:N`.
    #[serde(default = "default_pairs")]
    pub pairs: String,
    #[serde(default = "default_max_batch")]
    pub max_batch_pairs: u32,
    #[serde(default = "default_max_wait")]
    pub max_wait_ms: f64,
    #[serde(default)]
    pub rows_cap: Option<u64>,
}

fn default_precision() -> String {
    "int8".into()
}
fn default_pairs() -> String {
    "all".into()
}
fn default_max_batch() -> u32 {
    1024
}
fn default_max_wait() -> f64 {
    2.0
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSection {
    /// Chip presets or TOML files (simulated) and peer device names.
    pub devices: Vec<String>,
    /// Fraction of capacity kept free (failover, growth, deploys).
    pub headroom: f64,
    pub chips_per_host: u32,
    /// Replicas of the largest stage in one simulated pod.
    #[serde(default = "default_pod_replicas")]
    pub pod_replicas: u32,
    /// Software stack of peers.
    #[serde(default = "default_stack")]
    pub stack: String,
    /// Service-time coefficient of variation.
    #[serde(default = "default_cv")]
    pub service_cv: f64,
    /// Requests per simulation probe.
    #[serde(default = "default_requests")]
    pub requests_per_probe: u64,
    /// Batch sizes timed per stage, as fractions of its max batch (1 pair is always timed).
    #[serde(default = "default_batch_fractions")]
    pub batch_fractions: Vec<f64>,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "default_shard")]
    pub shard: String,
}

fn default_pod_replicas() -> u32 {
    16
}
fn default_stack() -> String {
    "graph".into()
}
fn default_cv() -> f64 {
    0.05
}
fn default_requests() -> u64 {
    20_000
}
fn default_batch_fractions() -> Vec<f64> {
    vec![0.5, 1.0]
}
fn default_shard() -> String {
    "auto".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CostSection {
    pub pue: f64,
    pub electricity_usd_per_kwh: f64,
    pub years: f64,
    /// Host server without accelerators (CPUs, DRAM, NICs, chassis), USD.
    pub host_usd: f64,
    /// Host power without accelerators, W.
    pub host_power_w: f64,
    /// An accelerator's idle power as a fraction of its TDP.
    pub idle_power_fraction: f64,
    /// Card, board and cooling added to a simulated chip's unit cost (peers' prices are cards).
    pub simulated_card_usd: f64,
}

/// `mlperf`, `K` or `MIN-MAX`.
pub fn parse_candidates(s: &str) -> Option<CandidateDist> {
    let d = if s == "mlperf" {
        CandidateDist::Mlperf
    } else if let Some((a, b)) = s.split_once('-') {
        CandidateDist::Uniform {
            min: a.trim().parse().ok()?,
            max: b.trim().parse().ok()?,
        }
    } else {
        CandidateDist::Fixed(s.trim().parse().ok()?)
    };
    d.validate().ok()?;
    Some(d)
}

/// `all`, `fixed:N` or `top:N`.
pub fn parse_pairs(s: &str) -> Option<PairRule> {
    if s == "all" {
        return Some(PairRule::All);
    }
    let (kind, n) = s.split_once(':')?;
    let n: u32 = n.trim().parse().ok().filter(|&n| n >= 1)?;
    match kind.trim() {
        "fixed" => Some(PairRule::Fixed(n)),
        "top" => Some(PairRule::TopN(n)),
        _ => None,
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, text[start..offset].chars().count() + 1)
}

/// Where `key` of the `index`-th `[table]`/`[[table]]` is written (or the table header, or the
/// top of the file), as (line, col).
fn locate(text: &str, table: &str, index: usize, key: Option<&str>) -> (usize, usize) {
    let mut seen = 0usize;
    let mut in_table = false;
    let mut header = None;
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.trim_matches(|c| c == '[' || c == ']').trim();
            let name = name.split(']').next().unwrap_or(name).trim();
            if name == table {
                in_table = seen == index;
                if in_table {
                    header = Some(offset + line.len() - line.trim_start().len());
                }
                seen += 1;
            } else {
                in_table = false;
            }
        } else if in_table
            && let Some(k) = key
            && let Some((lhs, _)) = t.split_once('=')
            && lhs.trim() == k
        {
            return line_col(text, offset + line.len() - line.trim_start().len());
        }
        offset += line.len();
    }
    header.map_or((1, 1), |h| line_col(text, h))
}

/// The `[table]` or `[[table]]` in force at a byte offset (a header line counts as inside its
/// table).
fn table_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let mut current = String::new();
    for line in text[..end].lines() {
        let t = line.trim();
        if t.starts_with('[') {
            current = t
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
        }
    }
    current
}

/// The dotted key written on the line holding a byte offset (empty if none).
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = &text[start..end];
    let table = table_at(text, start.saturating_sub(1));
    match line.split_once('=') {
        Some((k, _)) if !k.trim().is_empty() && !k.trim().starts_with('[') => {
            if table.is_empty() {
                k.trim().to_string()
            } else {
                format!("{table}.{}", k.trim())
            }
        }
        _ => table,
    }
}

/// The key serde names in backticks for unknown and missing fields.
fn backticked(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_string())
}

/// A validated workload with its source text for error locations.
#[derive(Debug, Clone)]
pub struct Workload {
    pub file: WorkloadFile,
    pub origin: String,
    pub candidates: CandidateDist,
    pub pairs: Vec<PairRule>,
    pub precisions: Vec<Precision>,
    pub stack: seedchip_peers::Stack,
    pub shard: Strategy,
}

impl Workload {
    /// Parses and validates; errors carry `origin:line:col` and the key.
    pub fn parse(text: &str, origin: &str) -> Result<Workload, Error> {
        let file: WorkloadFile = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_string();
            let offset = e.span().map(|s| s.start);
            let (line, col) = offset.map_or((1, 1), |o| line_col(text, o));
            let field = backticked(&message).filter(|_| {
                message.starts_with("unknown field") || message.starts_with("missing field")
            });
            let table = offset.map(|o| table_at(text, o)).unwrap_or_default();
            let key = match field {
                Some(k) if table.is_empty() => Some(k),
                Some(k) => Some(format!("{table}.{k}")),
                None => offset.map(|o| key_at(text, o)).filter(|k| !k.is_empty()),
            };
            Error::Workload {
                path: origin.to_string(),
                line,
                col,
                reason: match key {
                    Some(k) => format!("key `{k}`: {message}"),
                    None => message,
                },
            }
        })?;
        let err = |table: &str, index: usize, key: &str, reason: String| {
            let (line, col) = locate(text, table, index, Some(key));
            let path = if table == "stage" {
                format!("stage[{index}].{key}")
            } else {
                format!("{table}.{key}")
            };
            Error::Workload {
                path: origin.to_string(),
                line,
                col,
                reason: format!("key `{path}`: {reason}"),
            }
        };
        let positive = |table: &str, key: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(err(
                    table,
                    0,
                    key,
                    format!("must be a positive number, got {v}"),
                ))
            }
        };
        let w = &file.workload;
        positive("workload", "daily_active_users", w.daily_active_users)?;
        positive(
            "workload",
            "requests_per_user_per_day",
            w.requests_per_user_per_day,
        )?;
        positive("workload", "sla_p99_ms", w.sla_p99_ms)?;
        if !(w.peak_to_average.is_finite() && w.peak_to_average >= 1.0) {
            return Err(err(
                "workload",
                0,
                "peak_to_average",
                format!(
                    "the peak cannot be below the average: got {}",
                    w.peak_to_average
                ),
            ));
        }
        let candidates = parse_candidates(&w.candidates).ok_or_else(|| {
            err(
                "workload",
                0,
                "candidates",
                format!(
                    "`{}` is not a candidate distribution; valid: \"mlperf\", a count such as \"200\", a range such as \"100-700\"",
                    w.candidates
                ),
            )
        })?;
        if file.stages.is_empty() {
            return Err(Error::Workload {
                path: origin.to_string(),
                line: 1,
                col: 1,
                reason: "key `stage`: at least one [[stage]] is needed".into(),
            });
        }
        let mut pairs = Vec::new();
        let mut precisions = Vec::new();
        for (i, s) in file.stages.iter().enumerate() {
            pairs.push(parse_pairs(&s.pairs).ok_or_else(|| {
                err(
                    "stage",
                    i,
                    "pairs",
                    format!(
                        "`{}`: valid are \"all\", \"fixed:N\", \"top:N\" (N ≥ 1)",
                        s.pairs
                    ),
                )
            })?);
            precisions.push(
                Precision::parse(&s.precision)
                    .filter(|p| matches!(p, Precision::Int8 | Precision::Bf16 | Precision::Fp8))
                    .ok_or_else(|| {
                        err(
                            "stage",
                            i,
                            "precision",
                            format!("`{}`: valid are int8, bf16, fp8", s.precision),
                        )
                    })?,
            );
            if s.max_batch_pairs == 0 {
                return Err(err(
                    "stage",
                    i,
                    "max_batch_pairs",
                    "must be at least 1".into(),
                ));
            }
            if !(s.max_wait_ms.is_finite() && s.max_wait_ms >= 0.0) {
                return Err(err("stage", i, "max_wait_ms", "must be ≥ 0".into()));
            }
            let zoo: Vec<&str> = seedchip_zoo::list().iter().map(|m| m.name).collect();
            if !zoo.contains(&s.model.as_str()) {
                return Err(err(
                    "stage",
                    i,
                    "model",
                    format!(
                        "unknown zoo model `{}`; models: {}",
                        s.model,
                        zoo.join(", ")
                    ),
                ));
            }
        }
        let f = &file.fleet;
        if f.devices.is_empty() {
            return Err(err(
                "fleet",
                0,
                "devices",
                "list at least one device".into(),
            ));
        }
        for d in &f.devices {
            let dev = Device::resolve(d).map_err(|e| {
                err(
                    "fleet",
                    0,
                    "devices",
                    format!(
                        "`{d}`: {e}; peers: {}",
                        seedchip_peers::device::names().join(", ")
                    ),
                )
            })?;
            let unpriced = matches!(dev, Device::Peer(_))
                && seedchip_chip::peers::get(d).is_some_and(|p| p.price_usd.is_none());
            if unpriced && !file.prices.contains_key(d) {
                return Err(err(
                    "fleet",
                    0,
                    "devices",
                    format!("`{d}` has no published price; add `{d} = USD` under [prices]"),
                ));
            }
        }
        if !(f.headroom.is_finite() && (0.0..0.95).contains(&f.headroom)) {
            return Err(err(
                "fleet",
                0,
                "headroom",
                format!("must be in [0, 0.95), got {}", f.headroom),
            ));
        }
        if f.chips_per_host == 0 {
            return Err(err(
                "fleet",
                0,
                "chips_per_host",
                "must be at least 1".into(),
            ));
        }
        if f.pod_replicas == 0 || f.pod_replicas > 4096 {
            return Err(err(
                "fleet",
                0,
                "pod_replicas",
                "must be in 1..=4096".into(),
            ));
        }
        if f.requests_per_probe < 100 {
            return Err(err(
                "fleet",
                0,
                "requests_per_probe",
                "must be at least 100".into(),
            ));
        }
        if !(f.service_cv.is_finite() && (0.0..=2.0).contains(&f.service_cv)) {
            return Err(err("fleet", 0, "service_cv", "must be in [0, 2]".into()));
        }
        if f.batch_fractions.is_empty()
            || f.batch_fractions
                .iter()
                .any(|x| !(x.is_finite() && *x > 0.0 && *x <= 1.0))
        {
            return Err(err(
                "fleet",
                0,
                "batch_fractions",
                "fractions in (0, 1], at least one".into(),
            ));
        }
        let stack = seedchip_peers::Stack::parse(&f.stack).ok_or_else(|| {
            err(
                "fleet",
                0,
                "stack",
                format!("`{}`: valid are eager, graph, tuned", f.stack),
            )
        })?;
        let shard = Strategy::parse(&f.shard).ok_or_else(|| {
            err(
                "fleet",
                0,
                "shard",
                format!("`{}`: valid are auto, table, row", f.shard),
            )
        })?;
        let c = &file.cost;
        if !(c.pue.is_finite() && c.pue >= 1.0) {
            return Err(err(
                "cost",
                0,
                "pue",
                format!("a PUE is at least 1, got {}", c.pue),
            ));
        }
        for (k, v) in [
            ("electricity_usd_per_kwh", c.electricity_usd_per_kwh),
            ("host_usd", c.host_usd),
            ("host_power_w", c.host_power_w),
            ("simulated_card_usd", c.simulated_card_usd),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(err("cost", 0, k, format!("must be ≥ 0, got {v}")));
            }
        }
        positive("cost", "years", c.years)?;
        if !(c.idle_power_fraction.is_finite() && (0.0..=1.0).contains(&c.idle_power_fraction)) {
            return Err(err(
                "cost",
                0,
                "idle_power_fraction",
                "must be in [0, 1]".into(),
            ));
        }
        for (name, &usd) in &file.prices {
            if !(usd.is_finite() && usd > 0.0) {
                let (line, col) = locate(text, "prices", 0, Some(name));
                return Err(Error::Workload {
                    path: origin.to_string(),
                    line,
                    col,
                    reason: format!("key `prices.{name}`: a price must be positive, got {usd}"),
                });
            }
        }
        Ok(Workload {
            file,
            origin: origin.to_string(),
            candidates,
            pairs,
            precisions,
            stack,
            shard,
        })
    }

    pub fn average_qps(&self) -> f64 {
        let w = &self.file.workload;
        w.daily_active_users * w.requests_per_user_per_day / 86_400.0
    }

    pub fn peak_qps(&self) -> f64 {
        self.average_qps() * self.file.workload.peak_to_average
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StagePlan {
    pub name: String,
    pub model: String,
    pub precision: Precision,
    pub replicas_per_pod: u32,
    pub chips_per_replica: u32,
    pub service_source: String,
    /// (pairs, µs) timed.
    pub service_points_us: Vec<(u32, f64)>,
    pub busy_power_w: f64,
    pub shard_layout: Option<String>,
    /// Utilization of this stage's replicas at the pod's max rate.
    pub utilization_at_max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DevicePlan {
    pub device: String,
    pub kind: &'static str,
    pub stages: Vec<StagePlan>,
    pub chips_per_pod: u32,
    pub max_qps_per_pod: f64,
    pub p99_ms_at_max: f64,
    pub pods: u64,
    pub chips: u64,
    pub hosts: u64,
    /// Provisioned: chips at TDP and hosts at their power, times PUE.
    pub megawatts: f64,
    /// Average draw at the average load, times PUE.
    pub average_megawatts: f64,
    pub unit_price_usd: f64,
    pub price_source: String,
    pub capex_usd: f64,
    pub opex_usd_per_year: f64,
    pub tco_usd: f64,
    pub usd_per_million_requests: f64,
    pub requests_per_s_per_chip: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub schema_version: u32,
    pub workload: String,
    pub origin: String,
    pub daily_active_users: f64,
    pub requests_per_day: f64,
    pub average_qps: f64,
    pub peak_qps: f64,
    pub sla_p99_ms: f64,
    pub candidates: String,
    pub headroom: f64,
    pub pue: f64,
    pub electricity_usd_per_kwh: f64,
    pub years: f64,
    pub devices: Vec<DevicePlan>,
}

/// Sizes and prices a fleet for every device of the workload.
pub fn plan(w: &Workload) -> Result<Plan, Error> {
    let f = &w.file;
    let mut graphs = Vec::new();
    for s in &f.stages {
        let g = seedchip_zoo::get(
            &s.model,
            &seedchip_zoo::ZooOptions {
                rows_cap: s.rows_cap,
                seed: f.fleet.seed,
            },
        )
        .map_err(|e| Error::invalid(format!("stage `{}`", s.name), e.to_string()))?;
        graphs.push(g);
    }
    let devices = f
        .fleet
        .devices
        .iter()
        .map(|d| plan_device(w, &graphs, d))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Plan {
        schema_version: SCHEMA_VERSION,
        workload: f.workload.name.clone(),
        origin: w.origin.clone(),
        daily_active_users: f.workload.daily_active_users,
        requests_per_day: f.workload.daily_active_users * f.workload.requests_per_user_per_day,
        average_qps: w.average_qps(),
        peak_qps: w.peak_qps(),
        sla_p99_ms: f.workload.sla_p99_ms,
        candidates: describe_dist(&w.candidates),
        headroom: f.fleet.headroom,
        pue: f.cost.pue,
        electricity_usd_per_kwh: f.cost.electricity_usd_per_kwh,
        years: f.cost.years,
        devices,
    })
}

fn mean_pairs(rule: PairRule, d: &CandidateDist) -> f64 {
    match rule {
        PairRule::All => d.mean(),
        PairRule::Fixed(n) => f64::from(n),
        PairRule::TopN(n) => d.mean().min(f64::from(n)),
    }
}

fn plan_device(
    w: &Workload,
    graphs: &[seedchip_ir::Graph],
    name: &str,
) -> Result<DevicePlan, Error> {
    let f = &w.file;
    let device =
        Device::resolve(name).map_err(|e| Error::invalid("fleet.devices", e.to_string()))?;
    let mut services: Vec<DeviceService> = Vec::new();
    for (i, (s, g)) in f.stages.iter().zip(graphs).enumerate() {
        let mut time = TimeOptions::new(w.precisions[i], f.fleet.seed);
        time.calibration_samples = Some(64);
        let mut points: Vec<u32> = f
            .fleet
            .batch_fractions
            .iter()
            .map(|x| ((x * f64::from(s.max_batch_pairs)).round() as u32).max(1))
            .collect();
        points.push(1);
        let svc = service(
            g,
            &device,
            &DeviceOptions {
                time,
                batch_points: points,
                shard: w.shard,
                stack: w.stack,
            },
        )?;
        services.push(svc);
    }
    // Replicas per stage in proportion to the work a request brings to it.
    let work: Vec<f64> = f
        .stages
        .iter()
        .zip(&services)
        .zip(&w.pairs)
        .map(|((s, svc), &rule)| {
            let b = s.max_batch_pairs;
            mean_pairs(rule, &w.candidates) * svc.table.at(b) / f64::from(b)
                * f64::from(svc.chips_per_replica)
        })
        .collect();
    let top = work.iter().copied().fold(0.0, f64::max);
    let replicas: Vec<u32> = work
        .iter()
        .map(|x| ((f64::from(f.fleet.pod_replicas) * x / top).round() as u32).max(1))
        .collect();
    let stages: Vec<Stage> = f
        .stages
        .iter()
        .zip(&services)
        .enumerate()
        .map(|(i, (s, svc))| Stage {
            name: s.name.clone(),
            replicas: replicas[i],
            chips_per_replica: svc.chips_per_replica,
            batching: Batching {
                max_batch_pairs: s.max_batch_pairs,
                max_wait_s: s.max_wait_ms / 1e3,
                split_large: true,
            },
            pairs: w.pairs[i],
            service: ServiceTime::Table {
                table: svc.table.clone(),
                variance: Variance::LogNormal {
                    cv: f.fleet.service_cv,
                },
            },
        })
        .collect();
    let cfg = ServeConfig {
        arrivals: Arrivals::Poisson { qps: 1.0 },
        candidates: w.candidates.clone(),
        stages,
        requests: f.fleet.requests_per_probe,
        warmup_requests: f.fleet.requests_per_probe / 20,
        sla_p99_ms: Some(f.workload.sla_p99_ms),
        seed: f.fleet.seed,
        exact_limit: 1 << 20,
    };
    let m = max_qps(&cfg, f.workload.sla_p99_ms, 0.005)?;
    if m.max_qps <= 0.0 {
        return Err(Error::invalid(
            format!("device `{name}`"),
            format!(
                "cannot hold p99 ≤ {} ms even at a trickle (p99 {:.2} ms); raise sla_p99_ms or lower max_wait_ms/max_batch_pairs",
                f.workload.sla_p99_ms, m.p99_ms_at_max
            ),
        ));
    }
    let mut at_max = cfg.clone();
    at_max.arrivals = Arrivals::Poisson { qps: m.max_qps };
    let r = crate::engine::simulate(&at_max)?;
    let chips_per_pod: u32 = cfg
        .stages
        .iter()
        .map(|s| s.replicas * s.chips_per_replica)
        .sum();
    let usable = m.max_qps * (1.0 - f.fleet.headroom);
    let pods = (w.peak_qps() / usable).ceil().max(1.0) as u64;
    let chips = pods * u64::from(chips_per_pod);
    let hosts = chips.div_ceil(u64::from(f.fleet.chips_per_host));
    let c = &f.cost;
    // Power: provisioned at TDP; average at the average load.
    let load = w.average_qps() / (pods as f64 * m.max_qps);
    let mut chip_w_provisioned = 0.0;
    let mut chip_w_average = 0.0;
    for ((svc, st), rep) in services.iter().zip(&cfg.stages).zip(&r.stages) {
        let n = (pods * u64::from(st.replicas * st.chips_per_replica)) as f64;
        let idle = c.idle_power_fraction * svc.tdp_w;
        let busy = svc.busy_power_w.max(idle);
        let u = (rep.utilization * load).clamp(0.0, 1.0);
        chip_w_provisioned += n * svc.tdp_w;
        chip_w_average += n * (idle + (busy - idle) * u);
    }
    let host_w = hosts as f64 * c.host_power_w;
    let megawatts = (chip_w_provisioned + host_w) * c.pue / 1e6;
    let average_megawatts = (chip_w_average + host_w) * c.pue / 1e6;
    let svc0 = &services[0];
    let (unit_price, price_source) = match (f.prices.get(name), svc0.kind) {
        (Some(&p), _) => (p, format!("workload [prices] {name}")),
        (None, "simulated") => (
            svc0.unit_price_usd.unwrap_or(0.0) + c.simulated_card_usd,
            format!("{} + card ${:.0}", svc0.price_source, c.simulated_card_usd),
        ),
        (None, _) => match svc0.unit_price_usd {
            Some(p) => (p, svc0.price_source.clone()),
            None => {
                return Err(Error::invalid(
                    format!("device `{name}`"),
                    format!(
                        "no published price; add `{name} = USD` under [prices] in the workload"
                    ),
                ));
            }
        },
    };
    let capex_usd = chips as f64 * unit_price + hosts as f64 * c.host_usd;
    let opex_usd_per_year = average_megawatts * 1e3 * 8_760.0 * c.electricity_usd_per_kwh;
    let tco_usd = capex_usd + c.years * opex_usd_per_year;
    let requests =
        f.workload.daily_active_users * f.workload.requests_per_user_per_day * 365.0 * c.years;
    let stage_plans = f
        .stages
        .iter()
        .zip(&services)
        .zip(&cfg.stages)
        .zip(&r.stages)
        .map(|(((s, svc), st), rep)| StagePlan {
            name: s.name.clone(),
            model: s.model.clone(),
            precision: svc.precision,
            replicas_per_pod: st.replicas,
            chips_per_replica: svc.chips_per_replica,
            service_source: svc.table.source.clone(),
            service_points_us: svc
                .table
                .points
                .iter()
                .map(|&(b, t)| (b, t * 1e6))
                .collect(),
            busy_power_w: svc.busy_power_w,
            shard_layout: svc
                .shard
                .as_ref()
                .map(|p| format!("{} over {} chips", p.layout, p.chips)),
            utilization_at_max: rep.utilization,
        })
        .collect();
    Ok(DevicePlan {
        device: name.to_string(),
        kind: svc0.kind,
        stages: stage_plans,
        chips_per_pod,
        max_qps_per_pod: m.max_qps,
        p99_ms_at_max: m.p99_ms_at_max,
        pods,
        chips,
        hosts,
        megawatts,
        average_megawatts,
        unit_price_usd: unit_price,
        price_source,
        capex_usd,
        opex_usd_per_year,
        tco_usd,
        usd_per_million_requests: tco_usd / requests * 1e6,
        requests_per_s_per_chip: m.max_qps / f64::from(chips_per_pod),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_workload_parses() {
        let w = Workload::parse(DEFAULT_WORKLOAD, DEFAULT_WORKLOAD_NAME).unwrap();
        assert_eq!(w.file.workload.daily_active_users, 1e9);
        assert!(w.peak_qps() > w.average_qps());
        assert!(w.file.fleet.devices.iter().any(|d| d == "seedchip-v1"));
    }

    #[test]
    fn errors_name_line_col_and_key() {
        let bad = DEFAULT_WORKLOAD.replace("pue = ", "pue_x = ");
        let e = Workload::parse(&bad, "w.toml").unwrap_err().to_string();
        assert!(e.starts_with("w.toml:") && e.contains("pue_x"), "{e}");
        let bad = DEFAULT_WORKLOAD.replace("headroom = 0.25", "headroom = 1.5");
        let e = Workload::parse(&bad, "w.toml").unwrap_err().to_string();
        let line = DEFAULT_WORKLOAD
            .lines()
            .position(|l| l.starts_with("headroom"))
            .unwrap()
            + 1;
        assert!(
            e.starts_with(&format!("w.toml:{line}:1:")) && e.contains("fleet.headroom"),
            "{e}"
        );
    }

    #[test]
    fn pairs_and_candidates_parse() {
        assert_eq!(parse_pairs("all"), Some(PairRule::All));
        assert_eq!(parse_pairs("top:50"), Some(PairRule::TopN(50)));
        assert_eq!(parse_pairs("fixed:1"), Some(PairRule::Fixed(1)));
        assert_eq!(parse_pairs("top:0"), None);
        assert_eq!(
            parse_candidates("100-700"),
            Some(CandidateDist::Uniform { min: 100, max: 700 })
        );
        assert_eq!(parse_candidates("0"), None);
    }
}
