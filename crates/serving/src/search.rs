//! The largest arrival rate that holds a p99 latency SLA, by bisection.
//!
//! Every probe is a full simulation with the same seed (common random numbers), so p99 moves
//! smoothly with the rate and the bisection is stable. The upper end starts at the pipeline's
//! saturation throughput (full batches back to back on every replica of the slowest stage).

use serde::Serialize;

use crate::Error;
use crate::engine::{ServeConfig, ServeReport, simulate};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MaxQps {
    pub sla_p99_ms: f64,
    /// Highest rate found whose p99 holds the SLA (0 when even a trickle misses it).
    pub max_qps: f64,
    /// p99 at `max_qps`.
    pub p99_ms_at_max: f64,
    /// Requests per second with every replica of the slowest stage busy on full batches.
    pub saturation_qps: f64,
    pub probes: u32,
}

/// Requests per second the pipeline completes with every replica busy on full batches.
pub fn saturation_qps(cfg: &ServeConfig) -> f64 {
    let k = cfg.candidates.mean();
    cfg.stages
        .iter()
        .map(|s| {
            let pairs_per_req = match s.pairs {
                crate::PairRule::All => k,
                crate::PairRule::Fixed(n) => f64::from(n),
                // Upper bound of min(K, n) for the mean: exact for fixed K.
                crate::PairRule::TopN(n) => k.min(f64::from(n)),
            };
            let b = s.batching.max_batch_pairs;
            f64::from(s.replicas) * f64::from(b) / s.service.mean_s(b) / pairs_per_req
        })
        .fold(f64::INFINITY, f64::min)
}

/// Bisects on the mean arrival rate until the bracket is within `rel_tol` of its top.
pub fn max_qps(cfg: &ServeConfig, sla_p99_ms: f64, rel_tol: f64) -> Result<MaxQps, Error> {
    if !(sla_p99_ms.is_finite() && sla_p99_ms > 0.0) {
        return Err(Error::invalid("sla_p99_ms", "must be a positive number"));
    }
    let sat = saturation_qps(cfg);
    let probe = |qps: f64| -> Result<ServeReport, Error> {
        let mut c = cfg.clone();
        c.arrivals = cfg.arrivals.with_qps(qps);
        c.sla_p99_ms = Some(sla_p99_ms);
        simulate(&c)
    };
    let mut probes = 0;
    // A trickle: 0.1 % of saturation.
    let mut lo = sat * 1e-3;
    let r = probe(lo)?;
    probes += 1;
    if r.latency.p99_ms > sla_p99_ms {
        return Ok(MaxQps {
            sla_p99_ms,
            max_qps: 0.0,
            p99_ms_at_max: r.latency.p99_ms,
            saturation_qps: sat,
            probes,
        });
    }
    let mut lo_p99 = r.latency.p99_ms;
    let mut hi = sat;
    while (hi - lo) > rel_tol * hi && probes < 40 {
        let mid = 0.5 * (lo + hi);
        let r = probe(mid)?;
        probes += 1;
        if r.latency.p99_ms <= sla_p99_ms {
            lo = mid;
            lo_p99 = r.latency.p99_ms;
        } else {
            hi = mid;
        }
    }
    Ok(MaxQps {
        sla_p99_ms,
        max_qps: lo,
        p99_ms_at_max: lo_p99,
        saturation_qps: sat,
        probes,
    })
}
