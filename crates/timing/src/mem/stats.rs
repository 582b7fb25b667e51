//! Statistics of a memory simulation: bytes, bandwidth, row hits, latency percentiles, refresh.

use serde::{Deserialize, Serialize};

/// Latency distribution: exact below [`LatencyHistogram::DIRECT`] cycles, and above it in
/// buckets 1/1024 of their value wide (percentiles there are bucket lower bounds, within 0.1 %).
/// Fixed memory, no sorting.
#[derive(Debug, Clone, Default)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    n: u64,
    sum: u128,
    max: u64,
}

const MANTISSA_BITS: u32 = 10;

impl LatencyHistogram {
    pub const DIRECT: u64 = 1 << 13;

    #[inline]
    fn bucket(v: u64) -> usize {
        if v < Self::DIRECT {
            return v as usize;
        }
        let e = 63 - v.leading_zeros();
        let m = (v >> (e - MANTISSA_BITS)) & ((1 << MANTISSA_BITS) - 1);
        Self::DIRECT as usize + ((e - 13) as usize) * (1 << MANTISSA_BITS) + m as usize
    }

    fn lower_bound(i: usize) -> u64 {
        if i < Self::DIRECT as usize {
            return i as u64;
        }
        let j = i - Self::DIRECT as usize;
        let e = (j >> MANTISSA_BITS) as u32 + 13;
        let m = (j & ((1 << MANTISSA_BITS) - 1)) as u64;
        ((1 << MANTISSA_BITS) + m) << (e - MANTISSA_BITS)
    }

    #[inline]
    pub fn record(&mut self, cycles: u64) {
        let i = Self::bucket(cycles);
        if i >= self.counts.len() {
            self.counts.resize((i + 1).next_power_of_two(), 0);
        }
        self.counts[i] += 1;
        self.n += 1;
        self.sum += u128::from(cycles);
        self.max = self.max.max(cycles);
    }

    /// Adds `o`'s samples (the result does not depend on the order of merging).
    pub fn merge(&mut self, o: &LatencyHistogram) {
        if o.counts.len() > self.counts.len() {
            self.counts.resize(o.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.n += o.n;
        self.sum += o.sum;
        self.max = self.max.max(o.max);
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum as f64 / self.n as f64
        }
    }

    /// Nearest-rank percentile (`p` in 0..=100): the smallest recorded value with at least
    /// p % of the samples at or below it (its bucket's lower bound above `DIRECT`). 0 when
    /// empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((p / 100.0 * self.n as f64).ceil() as u64).clamp(1, self.n);
        if rank == self.n {
            return self.max;
        }
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::lower_bound(i).min(self.max);
            }
        }
        self.max
    }

    pub fn summary(&self, tck_ns: f64) -> LatencySummary {
        LatencySummary {
            count: self.n,
            mean_cycles: self.mean(),
            p50_cycles: self.percentile(50.0),
            p90_cycles: self.percentile(90.0),
            p99_cycles: self.percentile(99.0),
            max_cycles: self.max,
            mean_ns: self.mean() * tck_ns,
            p99_ns: self.percentile(99.0) as f64 * tck_ns,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_cycles: f64,
    pub p50_cycles: u64,
    pub p90_cycles: u64,
    pub p99_cycles: u64,
    pub max_cycles: u64,
    pub mean_ns: f64,
    pub p99_ns: f64,
}

/// Counters one pseudo-channel keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PchCounters {
    pub activates: u64,
    pub precharges: u64,
    pub refreshes: u64,
    /// Bank-cycles from a refresh falling due to its banks being usable again, summed.
    pub refresh_bank_cycles: u64,
    pub chunks: u64,
    pub row_hits: u64,
    pub bursts: u64,
}

impl PchCounters {
    pub fn add(&mut self, o: &PchCounters) {
        self.activates += o.activates;
        self.precharges += o.precharges;
        self.refreshes += o.refreshes;
        self.refresh_bank_cycles += o.refresh_bank_cycles;
        self.chunks += o.chunks;
        self.row_hits += o.row_hits;
        self.bursts += o.bursts;
    }
}

/// Results of a run. Times are in model cycles (tCK) unless the name says ns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemStats {
    pub requests: u64,
    pub reads: u64,
    pub writes: u64,
    /// Bytes requested.
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Bytes moved on the data buses (whole bursts, so at least the bytes requested).
    pub bytes_transferred: u64,
    pub first_arrival_cycle: u64,
    pub last_completion_cycle: u64,
    /// `last_completion − first_arrival`.
    pub elapsed_cycles: u64,
    pub elapsed_ns: f64,
    /// Bytes requested over the elapsed time (GB/s = 10^9 B/s).
    pub achieved_gbps: f64,
    pub peak_gbps: f64,
    /// `achieved_gbps / peak_gbps`.
    pub efficiency: f64,
    /// Row-buffer accesses (a request's part in one row of one bank).
    pub row_accesses: u64,
    /// Row accesses that found their row open and already used since its activation.
    pub row_hits: u64,
    pub row_hit_rate: f64,
    pub activates: u64,
    /// Precharges, including auto-precharges under the closed-page policy.
    pub precharges: u64,
    pub refreshes: u64,
    /// Cycles banks spent refreshing (from the refresh falling due to the bank being usable
    /// again), summed over banks and divided by the banks per pseudo-channel: pseudo-channel
    /// cycles for all-bank refresh, their equivalent for per-bank refresh.
    pub refresh_cycles: u64,
    /// Share of bank time spent refreshing: `refresh_cycles / (elapsed × pseudo-channels)`.
    pub refresh_fraction: f64,
    pub read_latency: LatencySummary,
    pub write_latency: LatencySummary,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut h = LatencyHistogram::default();
        for v in [5u64, 1, 3, 2, 4, 100_000, 7, 6, 9, 8] {
            h.record(v);
        }
        assert_eq!(h.percentile(50.0), 5);
        assert_eq!(h.percentile(90.0), 9);
        assert_eq!(h.percentile(100.0), 100_000);
        let mut big = LatencyHistogram::default();
        for v in [10_000u64, 20_000, 1_000_000_007] {
            big.record(v);
        }
        assert_eq!(big.percentile(34.0), 20_000);
        let top = big.percentile(100.0);
        assert!(top <= 1_000_000_007 && top as f64 > 0.999 * 1_000_000_007.0);
        assert_eq!(h.percentile(0.0), 1);
        assert!((h.mean() - 10_004.5).abs() < 1e-9);
    }
}
