//! Per-batch service time: how long a replica takes for a batch of `pairs` user-item pairs.
//!
//! Device-backed service times are a [`ServiceTable`]: a few batch sizes are timed (by the
//! cycle-level simulator or a peer model: seconds each, so never per batch), the rest are
//! linearly interpolated and memoized per batch size, and a [`Variance`] model adds run-to-run
//! jitter the deterministic simulators do not have (clock, memory refresh, host interference).
//! Closed forms (deterministic, exponential) exist to validate the queueing core against theory.

use serde::Serialize;

use crate::Error;
use crate::rng::Stream;

/// Run-to-run variation of a batch's service time around the table's value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Variance {
    None,
    /// Multiplicative log-normal factor with mean 1 and this coefficient of variation.
    LogNormal {
        cv: f64,
    },
}

/// Timed batch sizes, interpolated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceTable {
    /// (pairs, seconds), strictly increasing in pairs.
    pub points: Vec<(u32, f64)>,
    /// What produced the points (e.g. `timing simulator: dlrm-v2 on seedchip-v1, int8`).
    pub source: String,
    #[serde(skip)]
    memo: Vec<f64>,
}

impl ServiceTable {
    /// Points must have distinct batch sizes ≥ 1 and positive finite times.
    pub fn new(
        mut points: Vec<(u32, f64)>,
        source: impl Into<String>,
    ) -> Result<ServiceTable, Error> {
        points.sort_by_key(|p| p.0);
        if points.is_empty() {
            return Err(Error::invalid("service table", "no timed batch sizes"));
        }
        for w in points.windows(2) {
            if w[0].0 == w[1].0 {
                return Err(Error::invalid(
                    "service table",
                    format!("batch size {} timed twice", w[0].0),
                ));
            }
        }
        if let Some(p) = points
            .iter()
            .find(|p| p.0 == 0 || !(p.1.is_finite() && p.1 > 0.0))
        {
            return Err(Error::invalid(
                "service table",
                format!("bad point: batch {} takes {} s", p.0, p.1),
            ));
        }
        let last = points.last().map_or(0, |p| p.0) as usize;
        let mut t = ServiceTable {
            points,
            source: source.into(),
            memo: Vec::new(),
        };
        t.memo = (0..=last.min(1 << 16))
            .map(|b| t.interpolate(b as u32))
            .collect();
        Ok(t)
    }

    /// Times `batches` with `time_s` (in parallel: each call may take seconds) and builds the
    /// table; the first error wins, in batch order.
    pub fn from_fn<F>(
        batches: &[u32],
        source: impl Into<String>,
        time_s: F,
    ) -> Result<ServiceTable, Error>
    where
        F: Fn(u32) -> Result<f64, Error> + Sync,
    {
        use rayon::prelude::*;
        let mut b: Vec<u32> = batches.to_vec();
        b.sort_unstable();
        b.dedup();
        let times: Vec<Result<f64, Error>> = b.par_iter().map(|&x| time_s(x)).collect();
        let mut points = Vec::with_capacity(b.len());
        for (x, t) in b.into_iter().zip(times) {
            points.push((x, t?));
        }
        ServiceTable::new(points, source)
    }

    /// Adds `extra(pairs)` seconds at every point (e.g. chip-to-chip transfers); exact for
    /// extras affine in the batch size, since the table interpolates linearly.
    pub fn with_added(
        &self,
        extra: impl Fn(u32) -> f64,
        note: &str,
    ) -> Result<ServiceTable, Error> {
        ServiceTable::new(
            self.points
                .iter()
                .map(|&(b, t)| (b, t + extra(b)))
                .collect(),
            format!("{}; {note}", self.source),
        )
    }

    /// Linear between timed sizes; below the smallest, the smallest's time (a smaller batch is
    /// not assumed faster than the smallest one timed); above the largest, the last segment's
    /// slope (or proportional to the batch for a single point).
    pub fn interpolate(&self, pairs: u32) -> f64 {
        let p = &self.points;
        let b = f64::from(pairs);
        if pairs <= p[0].0 {
            return p[0].1;
        }
        if let Some(i) = p.iter().position(|q| q.0 >= pairs) {
            let (b0, t0) = p[i - 1];
            let (b1, t1) = p[i];
            return t0 + (t1 - t0) * (b - f64::from(b0)) / f64::from(b1 - b0);
        }
        let n = p.len();
        if n == 1 {
            return p[0].1 * b / f64::from(p[0].0);
        }
        let (b0, t0) = p[n - 2];
        let (b1, t1) = p[n - 1];
        let slope = ((t1 - t0) / f64::from(b1 - b0)).max(0.0);
        t1 + slope * (b - f64::from(b1))
    }

    #[inline]
    pub fn at(&self, pairs: u32) -> f64 {
        match self.memo.get(pairs as usize) {
            Some(&t) => t,
            None => self.interpolate(pairs),
        }
    }

    pub fn largest_timed(&self) -> u32 {
        self.points.last().map_or(1, |p| p.0)
    }
}

/// A stage's service-time model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ServiceTime {
    /// Every batch takes `seconds`, whatever its size (M/D/c validation).
    Deterministic { seconds: f64 },
    /// Exponentially distributed with this mean, whatever the size (M/M/c validation).
    Exponential { mean_s: f64 },
    /// A timed table with jitter.
    Table {
        table: ServiceTable,
        variance: Variance,
    },
}

impl ServiceTime {
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |v: f64| !(v.is_finite() && v > 0.0);
        match self {
            ServiceTime::Deterministic { seconds } if bad(*seconds) => {
                Err(Error::invalid("service time", "must be positive"))
            }
            ServiceTime::Exponential { mean_s } if bad(*mean_s) => {
                Err(Error::invalid("service mean", "must be positive"))
            }
            ServiceTime::Table {
                variance: Variance::LogNormal { cv },
                ..
            } if !(cv.is_finite() && (0.0..=2.0).contains(cv)) => Err(Error::invalid(
                "service cv",
                format!("coefficient of variation must be in [0, 2], got {cv}"),
            )),
            _ => Ok(()),
        }
    }

    /// Expected seconds for a batch of `pairs`.
    pub fn mean_s(&self, pairs: u32) -> f64 {
        match self {
            ServiceTime::Deterministic { seconds } => *seconds,
            ServiceTime::Exponential { mean_s } => *mean_s,
            ServiceTime::Table { table, .. } => table.at(pairs),
        }
    }

    /// One batch's service time.
    #[inline]
    pub fn sample(&self, pairs: u32, rng: &mut Stream) -> f64 {
        match self {
            ServiceTime::Deterministic { seconds } => *seconds,
            ServiceTime::Exponential { mean_s } => rng.exponential(*mean_s),
            ServiceTime::Table { table, variance } => {
                let t = table.at(pairs);
                match variance {
                    Variance::None => t,
                    Variance::LogNormal { cv } => {
                        if *cv == 0.0 {
                            return t;
                        }
                        let s2 = (1.0 + cv * cv).ln();
                        t * (s2.sqrt() * rng.normal() - s2 / 2.0).exp()
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_and_extrapolation() {
        let t = ServiceTable::new(vec![(256, 3e-4), (1, 2e-4), (1024, 6e-4)], "test").unwrap();
        assert_eq!(t.at(1), 2e-4);
        assert!((t.at(256) - 3e-4).abs() < 1e-15);
        assert!((t.at(640) - 4.5e-4).abs() < 1e-12);
        assert!((t.at(2048) - (6e-4 + 1024.0 * 3e-4 / 768.0)).abs() < 1e-12);
        assert_eq!(t.at(1), t.interpolate(1));
        let one = ServiceTable::new(vec![(100, 1e-3)], "x").unwrap();
        assert!((one.at(200) - 2e-3).abs() < 1e-15);
        assert!(ServiceTable::new(vec![(0, 1.0)], "x").is_err());
        assert!(ServiceTable::new(vec![(4, 1.0), (4, 2.0)], "x").is_err());
        let plus = t.with_added(|b| 1e-6 * f64::from(b), "comm").unwrap();
        assert!((plus.at(640) - t.at(640) - 640e-6).abs() < 1e-12);
    }

    #[test]
    fn lognormal_jitter_has_mean_one_and_the_cv() {
        let s = ServiceTime::Table {
            table: ServiceTable::new(vec![(1, 1.0)], "x").unwrap(),
            variance: Variance::LogNormal { cv: 0.1 },
        };
        let mut r = Stream::new(5, "svc");
        let n = 200_000;
        let v: Vec<f64> = (0..n).map(|_| s.sample(1, &mut r)).collect();
        let m = v.iter().sum::<f64>() / n as f64;
        let sd = (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64).sqrt();
        assert!((m - 1.0).abs() < 0.002, "{m}");
        assert!((sd - 0.1).abs() < 0.003, "{sd}");
    }
}
