//! The shared SRAM: banks, each with its share of the port bandwidth, and bank conflicts.
//!
//! Addresses are interleaved across banks every [`INTERLEAVE_BYTES`] (a 64-byte line: the
//! width a bank's port moves in a few cycles, and the granule at which a strided access either
//! spreads over the banks or piles onto one). Bank `b` holds the granules whose index is
//! `b mod banks`, and serves `bytes_per_cycle / banks` bytes per cycle.
//!
//! Each access (an instruction's operand, a cached embedding row, a DMA chunk) is served as
//! one burst per bank it touches, in the order accesses are made: a bank starts an access's
//! bytes when it has finished the previous accesses' bytes, so bank time is conserved and an
//! access whose bytes all fall in one bank (a row stride that is a multiple of
//! `banks × 64` bytes) takes `banks` times longer than a spread one. The access is complete
//! when its last bank is done, plus [`ACCESS_LATENCY_CYCLES`].

use crate::event::Cycle;

/// Bank interleaving granule.
pub const INTERLEAVE_BYTES: u64 = 64;

/// Cycles from a bank finishing an access's bytes to the data being usable (address decode,
/// sense amplifiers, the return path). A round figure for a large multi-banked SRAM; not a chip
/// key.
pub const ACCESS_LATENCY_CYCLES: u64 = 2;

/// A 2-D access pattern: `rows` rows of `row_bytes` bytes, `stride` bytes apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pattern2d {
    pub addr: u64,
    pub rows: u64,
    pub row_bytes: u64,
    pub stride: u64,
}

impl Pattern2d {
    pub fn linear(addr: u64, bytes: u64) -> Pattern2d {
        Pattern2d {
            addr,
            rows: 1,
            row_bytes: bytes,
            stride: bytes,
        }
    }

    pub fn bytes(&self) -> u64 {
        self.rows * self.row_bytes
    }
}

/// Shared SRAM bank state and counters.
#[derive(Debug, Clone)]
pub struct SharedSram {
    banks: u64,
    bytes_per_cycle: u64,
    free_at: Vec<Cycle>,
    /// Scratch: bytes per bank of the access being served.
    scratch: Vec<u64>,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Bank-cycles spent serving bytes.
    pub bank_busy_cycles: u64,
    /// Cycles accesses waited beyond an ideal, conflict-free spread over all banks.
    pub conflict_cycles: u64,
    pub accesses: u64,
}

impl SharedSram {
    pub fn new(banks: u32, bytes_per_cycle: u64) -> SharedSram {
        let banks = u64::from(banks.max(1));
        SharedSram {
            banks,
            bytes_per_cycle: bytes_per_cycle.max(1),
            free_at: vec![0; banks as usize],
            scratch: vec![0; banks as usize],
            bytes_read: 0,
            bytes_written: 0,
            bank_busy_cycles: 0,
            conflict_cycles: 0,
            accesses: 0,
        }
    }

    pub fn banks(&self) -> u64 {
        self.banks
    }

    /// Cycles one bank needs for `bytes` (its share of the port: `bytes_per_cycle / banks`).
    fn bank_cycles(&self, bytes: u64) -> u64 {
        (bytes * self.banks).div_ceil(self.bytes_per_cycle)
    }

    /// Adds the bytes of `[addr, addr + len)` per bank to `scratch`.
    fn spread(&mut self, addr: u64, len: u64) {
        if len == 0 {
            return;
        }
        let g = INTERLEAVE_BYTES;
        let first = addr / g;
        let last = (addr + len - 1) / g;
        let granules = last - first + 1;
        if granules <= 2 * self.banks {
            for q in first..=last {
                let lo = (q * g).max(addr);
                let hi = ((q + 1) * g).min(addr + len);
                self.scratch[(q % self.banks) as usize] += hi - lo;
            }
            return;
        }
        // Partial first and last granules, then whole rounds and a remainder.
        let head_end = (first + 1) * g;
        self.scratch[(first % self.banks) as usize] += head_end - addr;
        let tail_start = last * g;
        self.scratch[(last % self.banks) as usize] += addr + len - tail_start;
        let whole = last - first - 1;
        let rounds = whole / self.banks;
        let rest = whole % self.banks;
        for b in 0..self.banks {
            self.scratch[b as usize] += rounds * g;
        }
        for i in 0..rest {
            self.scratch[((first + 1 + i) % self.banks) as usize] += g;
        }
    }

    /// Serves an access starting no earlier than `now`; returns the cycle its data is usable.
    pub fn access(&mut self, now: Cycle, p: Pattern2d, write: bool) -> Cycle {
        let bytes = p.bytes();
        if bytes == 0 {
            return now;
        }
        self.accesses += 1;
        if write {
            self.bytes_written += bytes;
        } else {
            self.bytes_read += bytes;
        }
        self.scratch.iter_mut().for_each(|x| *x = 0);
        if p.stride == p.row_bytes || p.rows == 1 {
            self.spread(p.addr, bytes);
        } else {
            for r in 0..p.rows {
                self.spread(p.addr + r * p.stride, p.row_bytes);
            }
        }
        let mut done = now;
        for b in 0..self.banks as usize {
            let n = self.scratch[b];
            if n == 0 {
                continue;
            }
            let c = self.bank_cycles(n);
            let start = self.free_at[b].max(now);
            self.free_at[b] = start + c;
            self.bank_busy_cycles += c;
            done = done.max(start + c);
        }
        let ideal = now + bytes.div_ceil(self.bytes_per_cycle);
        self.conflict_cycles += done.saturating_sub(ideal);
        done + ACCESS_LATENCY_CYCLES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_access_runs_at_the_port_rate() {
        let mut s = SharedSram::new(64, 4096);
        // 64 KiB contiguous: 16 cycles at 4096 B/cycle.
        let done = s.access(100, Pattern2d::linear(0, 65536), false);
        assert_eq!(done, 100 + 16 + ACCESS_LATENCY_CYCLES);
        assert_eq!(s.conflict_cycles, 0);
        assert_eq!(s.bank_busy_cycles, 64 * 16);
    }

    #[test]
    fn same_bank_rows_conflict() {
        let mut s = SharedSram::new(64, 4096);
        // 64 rows of 64 B, stride 64 banks × 64 B: every row in bank 0.
        let p = Pattern2d {
            addr: 0,
            rows: 64,
            row_bytes: 64,
            stride: 64 * 64,
        };
        let done = s.access(0, p, false);
        // One bank serves 64 B/cycle: 4096 B take 64 cycles instead of 1.
        assert_eq!(done, 64 + ACCESS_LATENCY_CYCLES);
        assert_eq!(s.conflict_cycles, 63);
        // Spread rows: stride 64 B + 64 B → consecutive granules hit different banks.
        let mut t = SharedSram::new(64, 4096);
        let q = Pattern2d { stride: 128, ..p };
        assert_eq!(t.access(0, q, false), 2 + ACCESS_LATENCY_CYCLES);
    }

    #[test]
    fn later_accesses_queue_behind_earlier_ones() {
        let mut s = SharedSram::new(4, 256);
        let a = s.access(0, Pattern2d::linear(0, 1024), true);
        let b = s.access(0, Pattern2d::linear(0, 1024), false);
        assert_eq!(a, 4 + ACCESS_LATENCY_CYCLES);
        assert_eq!(b, 8 + ACCESS_LATENCY_CYCLES);
        assert_eq!((s.bytes_written, s.bytes_read), (1024, 1024));
    }
}
