//! Request arrivals: Poisson, a diurnal profile, bursts, or a recorded trace.
//!
//! Time-varying rates are sampled by thinning (Lewis and Shedler 1979): candidate arrivals come
//! from a Poisson process at the profile's peak rate and each is kept with probability
//! λ(t)/λ_max, which gives an exact non-homogeneous Poisson process for any bounded λ(t).

use std::path::Path;

use serde::Serialize;

use crate::Error;
use crate::rng::Stream;

/// A daily (or any-period) rate profile around the mean rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diurnal {
    pub period_s: f64,
    /// Peak rate over mean rate, in [1, 2]: the rate is `mean·(1 + (r−1)·sin(2πt/period))`
    /// unless `slots` is given.
    pub peak_to_average: f64,
    /// Optional piecewise-constant multipliers over equal slices of the period (e.g. 24
    /// hours), normalised here to mean 1.
    pub slots: Vec<f64>,
}

/// Periodic bursts: for `duration_s` of every `every_s` (starting half a period in) the rate is
/// multiplied by `multiplier`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Burst {
    pub every_s: f64,
    pub duration_s: f64,
    pub multiplier: f64,
}

/// How requests arrive.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Arrivals {
    /// Homogeneous Poisson at `qps` requests per second.
    Poisson { qps: f64 },
    /// Non-homogeneous Poisson: mean `qps` shaped by a diurnal profile and/or bursts.
    Modulated {
        qps: f64,
        diurnal: Option<Diurnal>,
        burst: Option<Burst>,
    },
    /// Recorded arrival times (seconds, non-decreasing) with optional candidate counts.
    Trace {
        times_s: Vec<f64>,
        candidates: Vec<Option<u32>>,
    },
}

impl Arrivals {
    /// Checks rates, periods and multipliers.
    pub fn validate(&self) -> Result<(), Error> {
        let pos = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(
                    name,
                    format!("must be a positive number, got {v}"),
                ))
            }
        };
        match self {
            Arrivals::Poisson { qps } => pos("qps", *qps),
            Arrivals::Modulated {
                qps,
                diurnal,
                burst,
            } => {
                pos("qps", *qps)?;
                if let Some(d) = diurnal {
                    pos("diurnal.period_s", d.period_s)?;
                    if d.slots.is_empty() && !(1.0..=2.0).contains(&d.peak_to_average) {
                        return Err(Error::invalid(
                            "diurnal.peak_to_average",
                            format!(
                                "a sinusoidal profile needs a ratio in [1, 2], got {}",
                                d.peak_to_average
                            ),
                        ));
                    }
                    if d.slots.iter().any(|&m| !(m.is_finite() && m >= 0.0))
                        || (!d.slots.is_empty() && d.slots.iter().sum::<f64>() <= 0.0)
                    {
                        return Err(Error::invalid(
                            "diurnal.slots",
                            "multipliers must be non-negative and not all zero",
                        ));
                    }
                }
                if let Some(b) = burst {
                    pos("burst.every_s", b.every_s)?;
                    pos("burst.duration_s", b.duration_s)?;
                    pos("burst.multiplier", b.multiplier)?;
                    if b.duration_s > b.every_s {
                        return Err(Error::invalid(
                            "burst.duration_s",
                            "a burst cannot last longer than its period",
                        ));
                    }
                }
                Ok(())
            }
            Arrivals::Trace { times_s, .. } => {
                if times_s.is_empty() {
                    return Err(Error::invalid("trace", "no arrivals"));
                }
                Ok(())
            }
        }
    }

    /// Long-run mean rate, requests per second.
    pub fn mean_qps(&self) -> f64 {
        match self {
            Arrivals::Poisson { qps } => *qps,
            Arrivals::Modulated { qps, burst, .. } => {
                qps * burst.map_or(1.0, |b| {
                    1.0 + (b.multiplier - 1.0) * b.duration_s / b.every_s
                })
            }
            Arrivals::Trace { times_s, .. } => {
                let span = times_s.last().unwrap_or(&0.0) - times_s.first().unwrap_or(&0.0);
                if span > 0.0 {
                    (times_s.len() - 1) as f64 / span
                } else {
                    0.0
                }
            }
        }
    }

    /// The same process at another mean rate (traces are time-scaled).
    pub fn with_qps(&self, new_qps: f64) -> Arrivals {
        match self {
            Arrivals::Poisson { .. } => Arrivals::Poisson { qps: new_qps },
            Arrivals::Modulated { diurnal, burst, .. } => Arrivals::Modulated {
                qps: new_qps,
                diurnal: diurnal.clone(),
                burst: *burst,
            },
            Arrivals::Trace {
                times_s,
                candidates,
            } => {
                let f = self.mean_qps() / new_qps;
                Arrivals::Trace {
                    times_s: times_s.iter().map(|t| t * f).collect(),
                    candidates: candidates.clone(),
                }
            }
        }
    }

    /// Reads a trace: one arrival per line, `time_s [candidates]`, `#` starts a comment.
    pub fn read_trace(path: &Path) -> Result<Arrivals, Error> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: p.clone(),
            source,
        })?;
        Arrivals::parse_trace(&text, &p)
    }

    /// Parses trace text (see [`Arrivals::read_trace`]); `origin` names it in messages. Kept
    /// apart from the file read so the parser can be fuzzed in memory.
    pub fn parse_trace(text: &str, origin: &str) -> Result<Arrivals, Error> {
        let p = origin.to_string();
        let mut times_s = Vec::new();
        let mut candidates = Vec::new();
        let mut last = f64::NEG_INFINITY;
        let mut last_line = 0;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let err = |reason: String| Error::Trace {
                path: p.clone(),
                line: i + 1,
                reason,
            };
            let mut parts = line.split_whitespace();
            let t: f64 = parts
                .next()
                .unwrap_or("")
                .parse()
                .map_err(|_| err(format!("`{line}`: expected `time_s [candidates]`")))?;
            if !t.is_finite() || t < 0.0 {
                return Err(err(format!("arrival time {t} must be finite and ≥ 0")));
            }
            if t < last {
                return Err(err(format!(
                    "arrival time {t} is before the previous one ({last}); times must not decrease"
                )));
            }
            last = t;
            let k = match parts.next() {
                None => None,
                Some(s) => match s.parse::<u32>() {
                    Ok(k) if k >= 1 => Some(k),
                    _ => return Err(err(format!("`{s}`: candidates must be an integer ≥ 1"))),
                },
            };
            if let Some(extra) = parts.next() {
                return Err(err(format!(
                    "unexpected `{extra}` after the candidate count"
                )));
            }
            times_s.push(t);
            candidates.push(k);
            last_line = i + 1;
        }
        if times_s.is_empty() {
            return Err(Error::Trace {
                path: p,
                line: text.lines().count(),
                reason: "the trace has no arrivals".into(),
            });
        }
        // Rescaling to `--qps` divides by the mean rate: arrivals a subnormal time apart
        // (`0` then `5e-324`) gave an infinite rate, NaN arrival times and a nonsense report
        // (found by fuzzing).
        let span = last - times_s[0];
        if span > 0.0 && !((times_s.len() - 1) as f64 / span).is_finite() {
            return Err(Error::Trace {
                path: p,
                line: last_line,
                reason: format!(
                    "the arrivals span {span} s, too short a time for a finite request rate"
                ),
            });
        }
        Ok(Arrivals::Trace {
            times_s,
            candidates,
        })
    }
}

/// Generates arrival times (and trace candidate counts) in order.
#[derive(Debug)]
pub struct ArrivalGen<'a> {
    arrivals: &'a Arrivals,
    rng: Stream,
    t: f64,
    next_index: usize,
    /// Peak rate for thinning.
    lambda_max: f64,
    /// Normalised diurnal slots.
    slots: Vec<f64>,
}

impl<'a> ArrivalGen<'a> {
    pub fn new(arrivals: &'a Arrivals, seed: u64) -> ArrivalGen<'a> {
        let mut slots = Vec::new();
        let mut lambda_max = 0.0;
        if let Arrivals::Modulated {
            qps,
            diurnal,
            burst,
        } = arrivals
        {
            let peak = match diurnal {
                Some(d) if !d.slots.is_empty() => {
                    let mean = d.slots.iter().sum::<f64>() / d.slots.len() as f64;
                    slots = d.slots.iter().map(|m| m / mean).collect();
                    slots.iter().copied().fold(0.0, f64::max)
                }
                Some(d) => d.peak_to_average,
                None => 1.0,
            };
            lambda_max = qps * peak * burst.map_or(1.0, |b| b.multiplier.max(1.0));
        }
        ArrivalGen {
            arrivals,
            rng: Stream::new(seed, "arrivals"),
            t: 0.0,
            next_index: 0,
            lambda_max,
            slots,
        }
    }

    /// The instantaneous rate of a modulated process.
    fn rate(&self, t: f64) -> f64 {
        let Arrivals::Modulated {
            qps,
            diurnal,
            burst,
        } = self.arrivals
        else {
            return 0.0;
        };
        let mut r = *qps;
        if let Some(d) = diurnal {
            let phase = (t / d.period_s).fract();
            if self.slots.is_empty() {
                r *= 1.0 + (d.peak_to_average - 1.0) * (std::f64::consts::TAU * phase).sin();
            } else {
                let i = ((phase * self.slots.len() as f64) as usize).min(self.slots.len() - 1);
                r *= self.slots[i];
            }
        }
        if let Some(b) = burst {
            let within = (t + b.every_s / 2.0) % b.every_s;
            if within < b.duration_s {
                r *= b.multiplier;
            }
        }
        r
    }

    /// The next arrival: time in seconds and, for traces, the recorded candidate count.
    #[inline]
    pub fn next_arrival(&mut self) -> Option<(f64, Option<u32>)> {
        match self.arrivals {
            Arrivals::Poisson { qps } => {
                self.t += self.rng.exponential(1.0 / qps);
                Some((self.t, None))
            }
            Arrivals::Modulated { .. } => loop {
                self.t += self.rng.exponential(1.0 / self.lambda_max);
                if self.rng.uniform() * self.lambda_max <= self.rate(self.t) {
                    return Some((self.t, None));
                }
            },
            Arrivals::Trace {
                times_s,
                candidates,
            } => {
                let i = self.next_index;
                self.next_index += 1;
                Some((*times_s.get(i)?, candidates[i]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (`serve_trace`): two arrivals 5e-324 s apart had an infinite mean
    /// rate, so `--qps` rescaling made NaN arrival times; the trace is now refused at its last
    /// arrival, and a short but representable span still rescales to finite times.
    #[test]
    fn a_trace_too_short_for_a_finite_rate_is_refused() {
        let e = Arrivals::parse_trace("0\n# comment\n5e-324\n", "t.trace").unwrap_err();
        assert!(e.to_string().contains("t.trace:3"), "{e}");
        assert!(e.to_string().contains("finite request rate"), "{e}");
        let a = Arrivals::parse_trace("0\n1e-300\n", "t.trace").unwrap();
        let scaled = a.with_qps(5.0);
        let mut g = ArrivalGen::new(&scaled, 1);
        while let Some((t, _)) = g.next_arrival() {
            assert!(t.is_finite(), "arrival at {t}");
        }
    }

    fn count_in(a: &Arrivals, until: f64, seed: u64) -> Vec<f64> {
        let mut g = ArrivalGen::new(a, seed);
        let mut out = Vec::new();
        while let Some((t, _)) = g.next_arrival() {
            if t > until {
                break;
            }
            out.push(t);
        }
        out
    }

    #[test]
    fn poisson_rate() {
        let n = count_in(&Arrivals::Poisson { qps: 1000.0 }, 100.0, 1).len();
        assert!((n as f64 - 100_000.0).abs() < 1500.0, "{n}");
    }

    #[test]
    fn diurnal_peak_and_trough() {
        let a = Arrivals::Modulated {
            qps: 1000.0,
            diurnal: Some(Diurnal {
                period_s: 100.0,
                peak_to_average: 1.8,
                slots: vec![],
            }),
            burst: None,
        };
        a.validate().unwrap();
        let t = count_in(&a, 100.0, 2);
        assert!((t.len() as f64 - 100_000.0).abs() < 2000.0, "{}", t.len());
        // Around the peak (t = 25) the rate is 1.8x, around the trough (t = 75) 0.2x.
        let near = |c: f64| t.iter().filter(|&&x| (x - c).abs() < 2.5).count() as f64 / 5.0;
        assert!((near(25.0) / 1000.0 - 1.8).abs() < 0.1, "{}", near(25.0));
        assert!((near(75.0) / 1000.0 - 0.2).abs() < 0.05, "{}", near(75.0));
    }

    #[test]
    fn bursts_raise_the_rate_in_their_window() {
        let a = Arrivals::Modulated {
            qps: 1000.0,
            diurnal: None,
            burst: Some(Burst {
                every_s: 10.0,
                duration_s: 1.0,
                multiplier: 5.0,
            }),
        };
        let t = count_in(&a, 100.0, 3);
        let expect = a.mean_qps() * 100.0;
        assert!((t.len() as f64 - expect).abs() < 0.03 * expect);
        // Bursts sit at [5, 6) mod 10.
        let inside = t
            .iter()
            .filter(|&&x| x % 10.0 >= 5.0 && x % 10.0 < 6.0)
            .count();
        assert!(
            (inside as f64 / 10.0 / 5000.0 - 1.0).abs() < 0.05,
            "{inside}"
        );
    }

    #[test]
    fn trace_parsing_and_errors() {
        let dir = std::env::temp_dir().join(format!("serving-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.txt");
        std::fs::write(&good, "# t k\n0.0 100\n0.5\n1.0 300\n").unwrap();
        let a = Arrivals::read_trace(&good).unwrap();
        let mut g = ArrivalGen::new(&a, 0);
        assert_eq!(g.next_arrival(), Some((0.0, Some(100))));
        assert_eq!(g.next_arrival(), Some((0.5, None)));
        assert_eq!(g.next_arrival(), Some((1.0, Some(300))));
        assert_eq!(g.next_arrival(), None);
        assert_eq!(a.mean_qps(), 2.0);
        let bad = dir.join("bad.txt");
        std::fs::write(&bad, "1.0\n0.5\n").unwrap();
        let e = Arrivals::read_trace(&bad).unwrap_err().to_string();
        assert!(
            e.contains("bad.txt:2:") && e.contains("must not decrease"),
            "{e}"
        );
        std::fs::write(&bad, "1.0 0\n").unwrap();
        let e = Arrivals::read_trace(&bad).unwrap_err().to_string();
        assert!(e.contains(":1:") && e.contains("candidates"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
