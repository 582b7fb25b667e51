//! The discrete-event core: requests through batching stages onto replicas.
//!
//! Events are batch completions and batching timers, ordered by `(time, seq)` in a binary heap
//! (`seq` grows with every push, so equal times resolve the same way on every run); the next
//! arrival is kept outside the heap and goes first on a tie. Each stage has one FIFO queue of
//! chunks shared by its replicas (a central dispatcher: M/M/c, not c independent M/M/1s), and a
//! batcher that dispatches when a replica is idle and either the queue holds a full batch or
//! its oldest chunk has waited `max_wait_s`. A request larger than the batch is split into
//! chunks when `split_large` is set and finishes a stage when its last chunk does. A request's
//! latency runs from arrival to the end of its last stage.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use seedchip_zoo::CandidateDist;
use serde::Serialize;

use crate::Error;
use crate::arrivals::{ArrivalGen, Arrivals};
use crate::hist::{LatencyHistogram, Percentiles};
use crate::rng::Stream;
use crate::service::ServiceTime;

/// Version of [`ServeReport`]'s JSON form.
pub const SCHEMA_VERSION: u32 = 1;

/// How many user-item pairs a request brings to a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "n", rename_all = "snake_case")]
pub enum PairRule {
    /// All K candidates (ranking).
    All,
    /// A fixed count whatever K (retrieval: one user-tower pass per request).
    Fixed(u32),
    /// min(K, n) (re-ranking of the top n).
    TopN(u32),
}

impl PairRule {
    #[inline]
    pub fn pairs(self, candidates: u32) -> u32 {
        match self {
            PairRule::All => candidates,
            PairRule::Fixed(n) => n,
            PairRule::TopN(n) => candidates.min(n),
        }
    }
}

/// Dynamic batching of one stage.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Batching {
    /// Most user-item pairs in one batch.
    pub max_batch_pairs: u32,
    /// Longest a queued chunk waits for the batch to fill before an idle replica takes it.
    pub max_wait_s: f64,
    /// Split requests larger than `max_batch_pairs` into chunks (otherwise such a request is a
    /// batch of its own).
    pub split_large: bool,
}

impl Default for Batching {
    /// 1024 pairs, 2 ms, splitting on: the CLI's defaults.
    fn default() -> Batching {
        Batching {
            max_batch_pairs: 1024,
            max_wait_s: 0.002,
            split_large: true,
        }
    }
}

/// One stage of the serving pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    pub name: String,
    /// Replicas serving this stage; each takes one batch at a time.
    pub replicas: u32,
    /// Chips per replica (more than one when embedding tables are sharded); reported only.
    pub chips_per_replica: u32,
    pub batching: Batching,
    pub pairs: PairRule,
    pub service: ServiceTime,
}

/// A whole simulation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeConfig {
    pub arrivals: Arrivals,
    /// Candidates per request (ignored for trace lines that carry their own count).
    #[serde(serialize_with = "ser_dist")]
    pub candidates: CandidateDist,
    pub stages: Vec<Stage>,
    /// Requests measured after the warm-up.
    pub requests: u64,
    /// Requests simulated first and left out of the statistics.
    pub warmup_requests: u64,
    pub sla_p99_ms: Option<f64>,
    pub seed: u64,
    /// Keep every latency (exact percentiles) up to this many requests.
    pub exact_limit: usize,
}

impl ServeConfig {
    /// One stage of `replicas` single-chip replicas with default batching, MLPerf candidates,
    /// 20,000 measured requests after 1,000 warm-up ones, seed 0 and no SLA: the quickest way
    /// to a p99 for a service-time model (e.g. from [`crate::chipsim::chip_service_table`]).
    /// Adjust the public fields before calling [`simulate`] or [`crate::search::max_qps`].
    pub fn single_stage(service: ServiceTime, arrivals: Arrivals, replicas: u32) -> ServeConfig {
        ServeConfig {
            arrivals,
            candidates: CandidateDist::Mlperf,
            stages: vec![Stage {
                name: "model".into(),
                replicas,
                chips_per_replica: 1,
                batching: Batching::default(),
                pairs: PairRule::All,
                service,
            }],
            requests: 20_000,
            warmup_requests: 1_000,
            sla_p99_ms: None,
            seed: 0,
            exact_limit: 1 << 20,
        }
    }
}

fn ser_dist<S: serde::Serializer>(d: &CandidateDist, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&describe_dist(d))
}

/// A short text form of a candidate distribution.
pub fn describe_dist(d: &CandidateDist) -> String {
    match d {
        CandidateDist::Mlperf => "mlperf (100-700, mean 270)".into(),
        CandidateDist::Quantiles(q) => format!("quantiles {q:?}"),
        CandidateDist::Fixed(k) => format!("fixed {k}"),
        CandidateDist::Uniform { min, max } => format!("uniform {min}-{max}"),
    }
}

/// Draws a candidate count as the MLPerf harness does (uniform over the quantile list).
#[inline]
pub fn sample_candidates(d: &CandidateDist, rng: &mut Stream) -> u32 {
    use seedchip_zoo::request::MLPERF_DLRM_QUANTILES as Q;
    match d {
        CandidateDist::Mlperf => Q[rng.below(Q.len() as u64) as usize],
        CandidateDist::Quantiles(q) => q[rng.below(q.len() as u64) as usize],
        CandidateDist::Fixed(k) => *k,
        CandidateDist::Uniform { min, max } => min + rng.below(u64::from(max - min) + 1) as u32,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageReport {
    pub name: String,
    pub replicas: u32,
    pub chips_per_replica: u32,
    pub batches: u64,
    pub mean_batch_pairs: f64,
    /// Busy time over replica time from the first arrival to the last completion.
    pub utilization: f64,
    /// Mean time a measured request's chunk waited in this stage's queue.
    pub mean_queue_wait_ms: f64,
    pub mean_service_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeReport {
    pub schema_version: u32,
    pub requests: u64,
    pub warmup_requests: u64,
    pub offered_qps: f64,
    /// Measured requests over the time from the first measured arrival to the last completion.
    pub throughput_qps: f64,
    pub simulated_s: f64,
    pub mean_candidates: f64,
    pub latency: Percentiles,
    pub sla_p99_ms: Option<f64>,
    /// p99 ≤ SLA (absent without an SLA).
    pub sla_met: Option<bool>,
    /// Measured requests slower than the SLA.
    pub late_requests: u64,
    pub late_fraction: f64,
    pub stages: Vec<StageReport>,
}

impl ServeConfig {
    pub fn validate(&self) -> Result<(), Error> {
        self.arrivals.validate()?;
        self.candidates
            .validate()
            .map_err(|e| Error::invalid("candidates", e.to_string()))?;
        if self.stages.is_empty() {
            return Err(Error::invalid("stages", "at least one stage is needed"));
        }
        if self.stages.len() > usize::from(u16::MAX) {
            return Err(Error::invalid("stages", "too many stages"));
        }
        if self.requests == 0 {
            return Err(Error::invalid("requests", "must be at least 1"));
        }
        if let Some(s) = self.sla_p99_ms
            && !(s.is_finite() && s > 0.0)
        {
            return Err(Error::invalid("sla_p99_ms", "must be a positive number"));
        }
        for s in &self.stages {
            let opt = |k: &str| format!("stage `{}`: {k}", s.name);
            if s.replicas == 0 {
                return Err(Error::invalid(opt("replicas"), "must be at least 1"));
            }
            if s.batching.max_batch_pairs == 0 {
                return Err(Error::invalid(opt("max_batch_pairs"), "must be at least 1"));
            }
            if !(s.batching.max_wait_s.is_finite() && s.batching.max_wait_s >= 0.0) {
                return Err(Error::invalid(opt("max_wait"), "must be ≥ 0"));
            }
            if matches!(s.pairs, PairRule::Fixed(0) | PairRule::TopN(0)) {
                return Err(Error::invalid(opt("pairs"), "must be at least 1"));
            }
            s.service.validate()?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
struct Event {
    t: f64,
    seq: u64,
    kind: EventKind,
}

#[derive(Debug, Clone, Copy)]
enum EventKind {
    Done { stage: u16, server: u32 },
    Timer { stage: u16, generation: u64 },
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Event {
    /// Reversed: the heap pops the earliest `(t, seq)`.
    fn cmp(&self, o: &Self) -> Ordering {
        o.t.total_cmp(&self.t).then(o.seq.cmp(&self.seq))
    }
}

#[derive(Debug, Clone, Copy)]
struct Chunk {
    req: u64,
    pairs: u32,
    enqueued: f64,
}

#[derive(Debug, Clone, Copy)]
struct Req {
    arrival: f64,
    candidates: u32,
    stage: u16,
    pending: u32,
    done: bool,
}

#[derive(Debug)]
struct StageRt {
    queue: VecDeque<Chunk>,
    queued_pairs: u64,
    idle: Vec<u32>,
    in_service: Vec<Vec<u64>>,
    timer_at: f64,
    timer_generation: u64,
    rng: Stream,
    busy_s: f64,
    batches: u64,
    batch_pairs: u64,
    measured_chunks: u64,
    measured_wait_s: f64,
    service_s: f64,
}

struct Engine<'a> {
    cfg: &'a ServeConfig,
    stages: Vec<StageRt>,
    heap: BinaryHeap<Event>,
    seq: u64,
    reqs: VecDeque<Req>,
    base: u64,
    hist: LatencyHistogram,
    late: u64,
    sla_s: f64,
    last_done: f64,
    first_measured_arrival: f64,
    scratch: Vec<u64>,
}

impl Engine<'_> {
    fn push(&mut self, t: f64, kind: EventKind) {
        self.seq += 1;
        self.heap.push(Event {
            t,
            seq: self.seq,
            kind,
        });
    }

    fn enqueue(&mut self, s: usize, req: u64, now: f64) {
        let r = &mut self.reqs[(req - self.base) as usize];
        let st = &self.cfg.stages[s];
        let pairs = st.pairs.pairs(r.candidates);
        let max = st.batching.max_batch_pairs;
        let rt = &mut self.stages[s];
        rt.queued_pairs += u64::from(pairs);
        if st.batching.split_large && pairs > max {
            let mut left = pairs;
            r.pending = pairs.div_ceil(max);
            while left > 0 {
                let c = left.min(max);
                rt.queue.push_back(Chunk {
                    req,
                    pairs: c,
                    enqueued: now,
                });
                left -= c;
            }
        } else {
            r.pending = 1;
            rt.queue.push_back(Chunk {
                req,
                pairs,
                enqueued: now,
            });
        }
    }

    fn dispatch(&mut self, s: usize, now: f64) {
        let st = &self.cfg.stages[s];
        let max = u64::from(st.batching.max_batch_pairs);
        let warmup = self.cfg.warmup_requests;
        loop {
            let rt = &mut self.stages[s];
            let Some(front) = rt.queue.front() else {
                return;
            };
            if rt.idle.is_empty() {
                return;
            }
            let deadline = front.enqueued + st.batching.max_wait_s;
            if rt.queued_pairs < max && now < deadline {
                if rt.timer_at != deadline {
                    rt.timer_at = deadline;
                    rt.timer_generation += 1;
                    let generation = rt.timer_generation;
                    self.push(
                        deadline,
                        EventKind::Timer {
                            stage: s as u16,
                            generation,
                        },
                    );
                }
                return;
            }
            let server = rt.idle.pop().expect("checked non-empty");
            let mut batch = std::mem::take(&mut rt.in_service[server as usize]);
            let mut total = 0u64;
            while let Some(c) = rt.queue.front() {
                if !batch.is_empty() && total + u64::from(c.pairs) > max {
                    break;
                }
                total += u64::from(c.pairs);
                if c.req >= warmup {
                    rt.measured_chunks += 1;
                    rt.measured_wait_s += now - c.enqueued;
                }
                batch.push(c.req);
                rt.queue.pop_front();
            }
            rt.queued_pairs -= total;
            let pairs = u32::try_from(total).unwrap_or(u32::MAX);
            let service = st.service.sample(pairs, &mut rt.rng);
            rt.busy_s += service;
            rt.batches += 1;
            rt.batch_pairs += total;
            rt.service_s += service;
            rt.in_service[server as usize] = batch;
            self.push(
                now + service,
                EventKind::Done {
                    stage: s as u16,
                    server,
                },
            );
        }
    }

    fn complete(&mut self, s: usize, server: u32, now: f64) {
        let mut batch = std::mem::take(&mut self.stages[s].in_service[server as usize]);
        let last_stage = s + 1 == self.cfg.stages.len();
        let mut moved = std::mem::take(&mut self.scratch);
        for &req in &batch {
            let r = &mut self.reqs[(req - self.base) as usize];
            r.pending -= 1;
            if r.pending > 0 {
                continue;
            }
            if last_stage {
                r.done = true;
                if req >= self.cfg.warmup_requests {
                    let lat = now - r.arrival;
                    self.hist.record_s(lat);
                    if lat > self.sla_s {
                        self.late += 1;
                    }
                    self.last_done = self.last_done.max(now);
                }
            } else {
                r.stage += 1;
                moved.push(req);
            }
        }
        batch.clear();
        self.stages[s].in_service[server as usize] = batch;
        self.stages[s].idle.push(server);
        if !moved.is_empty() {
            for &req in &moved {
                self.enqueue(s + 1, req, now);
            }
            moved.clear();
            self.dispatch(s + 1, now);
        }
        self.scratch = moved;
        while self.reqs.front().is_some_and(|r| r.done) {
            self.reqs.pop_front();
            self.base += 1;
        }
        self.dispatch(s, now);
    }
}

/// Runs the simulation. Deterministic: the same configuration gives the same report.
pub fn simulate(cfg: &ServeConfig) -> Result<ServeReport, Error> {
    cfg.validate()?;
    let total = match &cfg.arrivals {
        Arrivals::Trace { times_s, .. } => {
            (times_s.len() as u64).min(cfg.warmup_requests + cfg.requests)
        }
        _ => cfg.warmup_requests + cfg.requests,
    };
    if total <= cfg.warmup_requests {
        return Err(Error::invalid(
            "warmup_requests",
            format!("the trace has only {total} arrivals, none left after the warm-up"),
        ));
    }
    let stages = cfg
        .stages
        .iter()
        .map(|s| StageRt {
            queue: VecDeque::new(),
            queued_pairs: 0,
            idle: (0..s.replicas).rev().collect(),
            in_service: vec![Vec::new(); s.replicas as usize],
            timer_at: f64::NAN,
            timer_generation: 0,
            rng: Stream::new(cfg.seed, &format!("service.{}", s.name)),
            busy_s: 0.0,
            batches: 0,
            batch_pairs: 0,
            measured_chunks: 0,
            measured_wait_s: 0.0,
            service_s: 0.0,
        })
        .collect();
    let mut e = Engine {
        cfg,
        stages,
        heap: BinaryHeap::new(),
        seq: 0,
        reqs: VecDeque::new(),
        base: 0,
        hist: LatencyHistogram::new(cfg.exact_limit),
        late: 0,
        sla_s: cfg.sla_p99_ms.map_or(f64::INFINITY, |ms| ms / 1e3),
        last_done: 0.0,
        first_measured_arrival: 0.0,
        scratch: Vec::new(),
    };
    let mut arrivals = ArrivalGen::new(&cfg.arrivals, cfg.seed);
    let mut cand_rng = Stream::new(cfg.seed, "candidates");
    let mut generated = 0u64;
    let mut candidate_sum = 0u64;
    let mut next = arrivals.next_arrival();
    loop {
        let take_arrival = match (&next, e.heap.peek()) {
            (Some(a), Some(ev)) => a.0 <= ev.t,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_arrival {
            let (t, k) = next.take().expect("checked");
            let candidates = k.unwrap_or_else(|| sample_candidates(&cfg.candidates, &mut cand_rng));
            let id = generated;
            if id == cfg.warmup_requests {
                e.first_measured_arrival = t;
            }
            if id >= cfg.warmup_requests {
                candidate_sum += u64::from(candidates);
            }
            e.reqs.push_back(Req {
                arrival: t,
                candidates,
                stage: 0,
                pending: 0,
                done: false,
            });
            e.enqueue(0, id, t);
            e.dispatch(0, t);
            generated += 1;
            if generated < total {
                next = arrivals.next_arrival();
            }
        } else {
            let ev = e.heap.pop().expect("checked");
            match ev.kind {
                EventKind::Done { stage, server } => e.complete(stage as usize, server, ev.t),
                EventKind::Timer { stage, generation } => {
                    let rt = &mut e.stages[stage as usize];
                    if rt.timer_generation == generation {
                        rt.timer_at = f64::NAN;
                        e.dispatch(stage as usize, ev.t);
                    }
                }
            }
        }
    }
    let measured = total - cfg.warmup_requests;
    let latency = e.hist.percentiles();
    let span = (e.last_done - e.first_measured_arrival).max(f64::MIN_POSITIVE);
    let makespan = e.last_done.max(f64::MIN_POSITIVE);
    let stages = cfg
        .stages
        .iter()
        .zip(&e.stages)
        .map(|(s, rt)| StageReport {
            name: s.name.clone(),
            replicas: s.replicas,
            chips_per_replica: s.chips_per_replica,
            batches: rt.batches,
            mean_batch_pairs: rt.batch_pairs as f64 / rt.batches.max(1) as f64,
            utilization: rt.busy_s / (f64::from(s.replicas) * makespan),
            mean_queue_wait_ms: 1e3 * rt.measured_wait_s / rt.measured_chunks.max(1) as f64,
            mean_service_ms: 1e3 * rt.service_s / rt.batches.max(1) as f64,
        })
        .collect();
    Ok(ServeReport {
        schema_version: SCHEMA_VERSION,
        requests: measured,
        warmup_requests: cfg.warmup_requests,
        offered_qps: cfg.arrivals.mean_qps(),
        throughput_qps: measured as f64 / span,
        simulated_s: e.last_done,
        mean_candidates: candidate_sum as f64 / measured as f64,
        sla_met: cfg.sla_p99_ms.map(|s| latency.p99_ms <= s),
        latency,
        sla_p99_ms: cfg.sla_p99_ms,
        late_requests: e.late,
        late_fraction: e.late as f64 / measured as f64,
        stages,
    })
}
