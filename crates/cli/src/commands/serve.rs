//! `seedchip serve`: a recommendation serving simulation of one model on one device (a
//! simulated chip or a peer): arrivals, dynamic batching, replicas, p50–p99.9 latency,
//! utilization and late requests; with `--sla-p99-ms`, the largest rate that holds the SLA.
//!
//! Exit 1 when an SLA is given and the p99 at `--qps` misses it.

use std::path::PathBuf;
use std::process::ExitCode;

use seedchip_chip::Precision;
use seedchip_serving::chipsim::{TimeOptions, default_batch_points};
use seedchip_serving::device::{Device, DeviceOptions, DeviceService, service};
use seedchip_serving::engine::{Batching, PairRule, ServeConfig, Stage, describe_dist, simulate};
use seedchip_serving::search::{MaxQps, max_qps};
use seedchip_serving::shard::Strategy;
use seedchip_serving::{Arrivals, Burst, Diurnal, ServeReport, ServiceTime, Variance};
use seedchip_zoo::CandidateDist;
use serde::Serialize;

use super::models::{DEFAULT_SEED, default_ragged_hints, load_model};
use crate::exit::{print_json, print_text, user};

const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A zoo name or a model file (.sir, .onnx).
    model: String,
    /// A chip preset or TOML file (simulated), or a peer device (`seedchip chips`).
    #[arg(long)]
    chip: String,
    /// Mean arrival rate, requests per second (a request is one user with K candidates).
    #[arg(long)]
    qps: f64,
    /// p99 latency bound: reports late requests, searches the largest rate that holds it, and
    /// exits 1 if the p99 at --qps misses it.
    #[arg(long)]
    sla_p99_ms: Option<f64>,
    /// Operand precision: int8, bf16 or fp8.
    #[arg(long, default_value = "int8")]
    precision: String,
    /// Seed of weights, inputs, arrivals, candidate counts and service jitter.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Cap every embedding table at this many rows.
    #[arg(long)]
    rows_cap: Option<u64>,
    /// Replicas behind one queue (each a chip, or a group of chips when tables are sharded).
    #[arg(long, default_value_t = 1)]
    replicas: u32,
    /// Most user-item pairs per batch.
    #[arg(long, default_value_t = 1024)]
    max_batch: u32,
    /// Longest a request waits for its batch to fill, ms.
    #[arg(long, default_value_t = 2.0)]
    max_wait_ms: f64,
    /// Do not split requests larger than --max-batch.
    #[arg(long)]
    no_split: bool,
    /// Candidates per request: `mlperf` (100-700, mean 270), `K`, or `MIN-MAX` (uniform).
    #[arg(long, default_value = "mlperf")]
    candidates: String,
    /// Arrival process: poisson, diurnal (sinusoid, --period-s, --peak-to-average) or bursty
    /// (--burst-every-s, --burst-s, --burst-x).
    #[arg(long, default_value = "poisson")]
    arrivals: String,
    #[arg(long, default_value_t = 60.0)]
    period_s: f64,
    #[arg(long, default_value_t = 1.5)]
    peak_to_average: f64,
    #[arg(long, default_value_t = 10.0)]
    burst_every_s: f64,
    #[arg(long, default_value_t = 1.0)]
    burst_s: f64,
    #[arg(long, default_value_t = 3.0)]
    burst_x: f64,
    /// Arrival trace: one `time_s [candidates]` per line (replaces --arrivals; --qps rescales
    /// it to that mean rate).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// Requests measured (after the warm-up).
    #[arg(long, default_value_t = 100_000)]
    requests: u64,
    /// Requests simulated first and not measured (default: a twentieth of --requests).
    #[arg(long)]
    warmup: Option<u64>,
    /// Coefficient of variation of a batch's service time (log-normal jitter).
    #[arg(long, default_value_t = 0.05)]
    cv: f64,
    /// Batch sizes to time, comma-separated (default: 1, a quarter, a half and all of
    /// --max-batch).
    #[arg(long, value_delimiter = ',')]
    batch_points: Vec<u32>,
    /// Embedding sharding when tables exceed one chip: auto, table or row.
    #[arg(long, default_value = "auto")]
    shard: String,
    /// Software stack of peer devices: eager, graph or tuned.
    #[arg(long, default_value = "graph")]
    stack: String,
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ServiceDoc<'a> {
    source: &'a str,
    variance_cv: f64,
    points: Vec<PointDoc>,
    busy_power_w: f64,
    shard: Option<&'a seedchip_serving::shard::ShardPlan>,
}

#[derive(Serialize)]
struct PointDoc {
    batch_pairs: u32,
    latency_us: f64,
}

#[derive(Serialize)]
struct ServeDoc<'a> {
    schema_version: u32,
    model: &'a str,
    device: &'a str,
    kind: &'a str,
    precision: &'a str,
    seed: u64,
    qps: f64,
    arrivals: &'a str,
    candidates: String,
    replicas: u32,
    chips_per_replica: u32,
    chips: u32,
    batching: Batching,
    service: ServiceDoc<'a>,
    report: &'a ServeReport,
    max_qps: Option<MaxQps>,
}

/// `mlperf`, `K` or `MIN-MAX`.
pub fn parse_candidates(s: &str) -> anyhow::Result<CandidateDist> {
    let bad = || {
        user(
            format!("--candidates `{s}` is not a candidate distribution"),
            &["valid: mlperf (100-700, mean 270), a count such as 200, or a range such as 100-700"],
        )
    };
    let d = if s == "mlperf" {
        CandidateDist::Mlperf
    } else if let Some((a, b)) = s.split_once('-') {
        CandidateDist::Uniform {
            min: a.trim().parse().map_err(|_| bad())?,
            max: b.trim().parse().map_err(|_| bad())?,
        }
    } else {
        CandidateDist::Fixed(s.trim().parse().map_err(|_| bad())?)
    };
    d.validate()
        .map_err(|e| user(format!("--candidates `{s}`: {e}"), &[]))?;
    Ok(d)
}

pub fn parse_serving_precision(s: &str) -> anyhow::Result<Precision> {
    Precision::parse(s)
        .filter(|p| matches!(p, Precision::Int8 | Precision::Bf16 | Precision::Fp8))
        .ok_or_else(|| {
            user(
                format!("unknown precision `{s}`"),
                &["valid precisions: int8, bf16, fp8"],
            )
        })
}

pub fn resolve_device(name: &str) -> anyhow::Result<Device> {
    Device::resolve(name).map_err(|e| {
        let mut hints = e.hints();
        hints.push(format!(
            "peer devices: {}",
            seedchip_peers::device::names().join(", ")
        ));
        let refs: Vec<&str> = hints.iter().map(String::as_str).collect();
        user(e.to_string(), &refs)
    })
}

fn serving_error(e: seedchip_serving::Error) -> anyhow::Error {
    match e {
        seedchip_serving::Error::Timing(_) => user(
            e.to_string(),
            &["a compiled program that cannot be timed is a compiler or timing-model bug"],
        ),
        _ => user(e.to_string(), &[]),
    }
}

fn arrivals(args: &ServeArgs) -> anyhow::Result<(Arrivals, String)> {
    if let Some(path) = &args.trace {
        let a = Arrivals::read_trace(path).map_err(serving_error)?;
        let scaled = a.with_qps(args.qps);
        return Ok((scaled, format!("trace {}", path.display())));
    }
    let a = match args.arrivals.as_str() {
        "poisson" => Arrivals::Poisson { qps: args.qps },
        "diurnal" => Arrivals::Modulated {
            qps: args.qps,
            diurnal: Some(Diurnal {
                period_s: args.period_s,
                peak_to_average: args.peak_to_average,
                slots: Vec::new(),
            }),
            burst: None,
        },
        "bursty" => Arrivals::Modulated {
            qps: args.qps,
            diurnal: None,
            burst: Some(Burst {
                every_s: args.burst_every_s,
                duration_s: args.burst_s,
                multiplier: args.burst_x,
            }),
        },
        other => {
            return Err(user(
                format!("unknown arrival process `{other}`"),
                &["valid: poisson, diurnal, bursty (or --trace FILE)"],
            ));
        }
    };
    a.validate().map_err(serving_error)?;
    Ok((a, args.arrivals.clone()))
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if !(args.qps.is_finite() && args.qps > 0.0) {
        return Err(user(
            format!("--qps {} must be a positive number", args.qps),
            &[],
        ));
    }
    if args.max_batch == 0 || args.replicas == 0 {
        return Err(user("--max-batch and --replicas must be at least 1", &[]));
    }
    let precision = parse_serving_precision(&args.precision)?;
    let candidates = parse_candidates(&args.candidates)?;
    let shard = Strategy::parse(&args.shard).ok_or_else(|| {
        user(
            format!("unknown sharding `{}`", args.shard),
            &["valid: auto, table, row"],
        )
    })?;
    let stack = seedchip_peers::Stack::parse(&args.stack).ok_or_else(|| {
        user(
            format!("unknown stack `{}`", args.stack),
            &["valid: eager, graph, tuned"],
        )
    })?;
    let (arrivals, arrivals_name) = arrivals(&args)?;
    let device = resolve_device(&args.chip)?;
    let mut graph = load_model(&args.model, args.rows_cap, args.seed)?;
    default_ragged_hints(&mut graph);
    let mut time = TimeOptions::new(precision, args.seed);
    time.calibration_samples = Some(64);
    let batch_points = if args.batch_points.is_empty() {
        default_batch_points(args.max_batch)
    } else {
        args.batch_points.clone()
    };
    if batch_points.contains(&0) {
        return Err(user("--batch-points must be at least 1", &[]));
    }
    let svc: DeviceService = service(
        &graph,
        &device,
        &DeviceOptions {
            time,
            batch_points,
            shard,
            stack,
        },
    )
    .map_err(serving_error)?;
    let batching = Batching {
        max_batch_pairs: args.max_batch,
        max_wait_s: args.max_wait_ms / 1e3,
        split_large: !args.no_split,
    };
    let cfg = ServeConfig {
        arrivals,
        candidates: candidates.clone(),
        stages: vec![Stage {
            name: graph.name.clone(),
            replicas: args.replicas,
            chips_per_replica: svc.chips_per_replica,
            batching,
            pairs: PairRule::All,
            service: ServiceTime::Table {
                table: svc.table.clone(),
                variance: Variance::LogNormal { cv: args.cv },
            },
        }],
        requests: args.requests,
        warmup_requests: args.warmup.unwrap_or(args.requests / 20),
        sla_p99_ms: args.sla_p99_ms,
        seed: args.seed,
        exact_limit: 1 << 20,
    };
    let report = simulate(&cfg).map_err(serving_error)?;
    let max = match args.sla_p99_ms {
        Some(sla) => Some(max_qps(&cfg, sla, 0.005).map_err(serving_error)?),
        None => None,
    };
    let doc = ServeDoc {
        schema_version: SCHEMA_VERSION,
        model: &args.model,
        device: &svc.device,
        kind: svc.kind,
        precision: precision.name(),
        seed: args.seed,
        qps: args.qps,
        arrivals: &arrivals_name,
        candidates: describe_dist(&candidates),
        replicas: args.replicas,
        chips_per_replica: svc.chips_per_replica,
        chips: args.replicas * svc.chips_per_replica,
        batching,
        service: ServiceDoc {
            source: &svc.table.source,
            variance_cv: args.cv,
            points: svc
                .table
                .points
                .iter()
                .map(|&(b, s)| PointDoc {
                    batch_pairs: b,
                    latency_us: s * 1e6,
                })
                .collect(),
            busy_power_w: svc.busy_power_w,
            shard: svc.shard.as_ref(),
        },
        report: &report,
        max_qps: max,
    };
    if args.json {
        print_json(&doc)?;
    } else {
        print_text(&text_report(&doc))?;
    }
    Ok(if report.sla_met == Some(false) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn text_report(d: &ServeDoc<'_>) -> String {
    let r = d.report;
    let l = &r.latency;
    let mut s = format!(
        "{} on {} ({}, {}): {} replica(s) x {} chip(s), {} arrivals at {:.0} req/s, candidates {}\n",
        d.model,
        d.device,
        d.kind,
        d.precision,
        d.replicas,
        d.chips_per_replica,
        d.arrivals,
        d.qps,
        d.candidates
    );
    s.push_str(&format!(
        "  service        {}\n",
        d.service
            .points
            .iter()
            .map(|p| format!("{} pairs {:.1} µs", p.batch_pairs, p.latency_us))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if let Some(sh) = d.service.shard {
        s.push_str(&format!(
            "  sharding       {} over {} chips ({:.1} GB of tables), {:.0} B/sample over the {}\n",
            sh.layout,
            sh.chips,
            sh.table_bytes / 1e9,
            sh.remote_bytes_per_sample,
            sh.link
        ));
    }
    s.push_str(&format!(
        "  latency        p50 {:.3} ms  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3} ({})\n",
        l.p50_ms,
        l.p90_ms,
        l.p99_ms,
        l.p999_ms,
        l.max_ms,
        if l.exact { "exact" } else { "histogram" }
    ));
    let st = &r.stages[0];
    s.push_str(&format!(
        "  throughput     {:.0} req/s over {} requests; utilization {:.1} %, mean batch {:.0} pairs, queue wait {:.3} ms\n",
        r.throughput_qps,
        r.requests,
        100.0 * st.utilization,
        st.mean_batch_pairs,
        st.mean_queue_wait_ms
    ));
    if let Some(sla) = r.sla_p99_ms {
        s.push_str(&format!(
            "  SLA p99 {:.1} ms {}; {} late requests ({:.3} %)\n",
            sla,
            if r.sla_met == Some(true) {
                "met"
            } else {
                "MISSED"
            },
            r.late_requests,
            100.0 * r.late_fraction
        ));
    }
    if let Some(m) = &d.max_qps {
        s.push_str(&format!(
            "  max QPS        {:.0} req/s hold p99 ≤ {:.1} ms (p99 {:.3} ms there; saturation {:.0} req/s)\n",
            m.max_qps, m.sla_p99_ms, m.p99_ms_at_max, m.saturation_qps
        ));
    }
    s
}
