//! Requests, seeded synthetic traces, and the DRAMsim3 text trace format.

use serde::{Deserialize, Serialize};

use super::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Op {
    Read,
    Write,
}

/// One memory request. `arrival` is in model cycles (tCK of the memory configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub arrival: u64,
    pub addr: u64,
    pub bytes: u32,
    pub op: Op,
}

impl Request {
    pub fn read(arrival: u64, addr: u64, bytes: u32) -> Request {
        Request {
            arrival,
            addr,
            bytes,
            op: Op::Read,
        }
    }

    pub fn write(arrival: u64, addr: u64, bytes: u32) -> Request {
        Request {
            arrival,
            addr,
            bytes,
            op: Op::Write,
        }
    }
}

/// SplitMix64: a tiny, well-mixed, seeded generator; enough for synthetic traces, and its output
/// is fixed by the algorithm (no dependence on a crate's version).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0), by 128-bit multiply (bias below 2^-64 · n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How requests are spaced in time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Arrivals {
    /// Everything at cycle 0: a saturating load (the controller queues apply back-pressure).
    AllAtOnce,
    /// One request every `gap` cycles (fractional gaps accumulate).
    Every(f64),
}

impl Arrivals {
    fn at(self, i: u64) -> u64 {
        match self {
            Arrivals::AllAtOnce => 0,
            Arrivals::Every(gap) => (i as f64 * gap).floor() as u64,
        }
    }

    /// Arrivals that offer `gbps` of requests of `bytes` bytes at `tck_ns` per cycle.
    pub fn for_rate(gbps: f64, bytes: u32, tck_ns: f64) -> Arrivals {
        let per_cycle = gbps * tck_ns / f64::from(bytes);
        Arrivals::Every(1.0 / per_cycle)
    }
}

/// A sequential stream: `n` requests of `bytes`, back to back from `base`.
pub fn sequential(n: u64, bytes: u32, base: u64, arrivals: Arrivals, op: Op) -> Vec<Request> {
    (0..n)
        .map(|i| Request {
            arrival: arrivals.at(i),
            addr: base + i * u64::from(bytes),
            bytes,
            op,
        })
        .collect()
}

/// Uniformly random `bytes`-aligned requests in `0..footprint`; each is a write with
/// probability `write_fraction`.
pub fn random(
    n: u64,
    bytes: u32,
    footprint: u64,
    arrivals: Arrivals,
    write_fraction: f64,
    seed: u64,
) -> Vec<Request> {
    let mut rng = SplitMix64::new(seed);
    let slots = (footprint / u64::from(bytes)).max(1);
    (0..n)
        .map(|i| {
            let addr = rng.below(slots) * u64::from(bytes);
            let op = if rng.unit() < write_fraction {
                Op::Write
            } else {
                Op::Read
            };
            Request {
                arrival: arrivals.at(i),
                addr,
                bytes,
                op,
            }
        })
        .collect()
}

/// `streams` sequential streams in disjoint regions, interleaved request by request (what
/// several DMA engines reading different tensors look like).
pub fn interleaved_streams(
    n: u64,
    bytes: u32,
    streams: u32,
    region_bytes: u64,
    arrivals: Arrivals,
) -> Vec<Request> {
    let s = u64::from(streams.max(1));
    (0..n)
        .map(|i| Request {
            arrival: arrivals.at(i),
            addr: (i % s) * region_bytes + (i / s) * u64::from(bytes),
            bytes,
            op: Op::Read,
        })
        .collect()
}

/// Writes a trace in DRAMsim3's text format (`0xADDR READ|WRITE cycle`), one line per
/// `burst_bytes` piece (DRAMsim3 transactions are one burst each).
pub fn to_dramsim3(reqs: &[Request], burst_bytes: u32) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for r in reqs {
        let first = r.addr / u64::from(burst_bytes);
        let last = (r.addr + u64::from(r.bytes.max(1)) - 1) / u64::from(burst_bytes);
        for b in first..=last {
            let op = match r.op {
                Op::Read => "READ",
                Op::Write => "WRITE",
            };
            writeln!(s, "0x{:X} {op} {}", b * u64::from(burst_bytes), r.arrival)
                .expect("writing to a String");
        }
    }
    s
}

/// Reads DRAMsim3's text format; every line is one request of `bytes` bytes.
pub fn parse_dramsim3(text: &str, bytes: u32) -> Result<Vec<Request>, Error> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |what: &str| Error::Trace {
            line: i + 1,
            message: format!("{what} in `{line}` (expected `0xADDR READ|WRITE cycle`)"),
        };
        let mut it = line.split_whitespace();
        let addr = it.next().ok_or_else(|| bad("missing address"))?;
        let addr = addr
            .strip_prefix("0x")
            .or_else(|| addr.strip_prefix("0X"))
            .ok_or_else(|| bad("address without 0x"))?;
        let addr = u64::from_str_radix(addr, 16).map_err(|_| bad("bad address"))?;
        let op = match it.next() {
            Some("READ") | Some("read") => Op::Read,
            Some("WRITE") | Some("write") => Op::Write,
            _ => return Err(bad("bad operation")),
        };
        let arrival = it
            .next()
            .and_then(|c| c.parse::<u64>().ok())
            .ok_or_else(|| bad("bad cycle"))?;
        out.push(Request {
            arrival,
            addr,
            bytes,
            op,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dramsim3_text_round_trip() {
        let reqs = random(50, 64, 1 << 30, Arrivals::Every(2.5), 0.3, 7);
        let text = to_dramsim3(&reqs, 64);
        assert_eq!(parse_dramsim3(&text, 64).unwrap(), reqs);
        assert!(parse_dramsim3("12 READ 3", 64).is_err());
        assert!(matches!(
            parse_dramsim3("0x40 READ 1\n0x80 FETCH 2", 64),
            Err(Error::Trace { line: 2, .. })
        ));
    }

    #[test]
    fn seeded_generators_repeat() {
        let a = random(100, 64, 1 << 20, Arrivals::AllAtOnce, 0.5, 1);
        let b = random(100, 64, 1 << 20, Arrivals::AllAtOnce, 0.5, 1);
        let c = random(100, 64, 1 << 20, Arrivals::AllAtOnce, 0.5, 2);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().all(|r| r.addr % 64 == 0 && r.addr < 1 << 20));
        let w = a.iter().filter(|r| r.op == Op::Write).count();
        assert!((30..=70).contains(&w), "{w} writes of 100");
    }
}
